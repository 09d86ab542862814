//! Table tests of schedule triggers against hand-computed fire times (UTC instants).
//!
//! Europe/Paris in 2026: CET (UTC+1) until 2026-03-29 01:00 UTC, CEST (UTC+2) until
//! 2026-10-25 01:00 UTC, then CET. 2026-01-01 is a Thursday.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use export_core::ExportError;
use export_core::schedule::{CronExpr, Trigger};

fn z(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

/// Parses `"2026-03-29T01:00:00Z"`-style instants, to keep tables short.
fn iso(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .with_timezone(&Utc)
}

/// `expression`, zone, after, the next fire times (UTC).
type Case = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
);

const CASES: &[Case] = &[
    // Nightly at 02:00.
    (
        "0 2 * * *",
        "UTC",
        "2026-01-10T12:00:00Z",
        &["2026-01-11T02:00:00Z", "2026-01-12T02:00:00Z"],
    ),
    (
        "0 2 * * *",
        "Europe/Paris",
        "2026-01-10T12:00:00Z",
        &["2026-01-11T01:00:00Z", "2026-01-12T01:00:00Z"],
    ),
    (
        "0 2 * * *",
        "Europe/Paris",
        "2026-07-10T12:00:00Z",
        &["2026-07-11T00:00:00Z"],
    ),
    // Exactly on a fire time: strictly after.
    (
        "0 2 * * *",
        "UTC",
        "2026-01-11T02:00:00Z",
        &["2026-01-12T02:00:00Z"],
    ),
    // Sub-second after a fire time.
    (
        "0 2 * * *",
        "UTC",
        "2026-01-11T01:59:59.999Z",
        &["2026-01-11T02:00:00Z"],
    ),
    // Every 15 minutes.
    (
        "*/15 * * * *",
        "UTC",
        "2026-01-01T00:07:30Z",
        &[
            "2026-01-01T00:15:00Z",
            "2026-01-01T00:30:00Z",
            "2026-01-01T00:45:00Z",
            "2026-01-01T01:00:00Z",
        ],
    ),
    (
        "*/15 * * * *",
        "Europe/Paris",
        "2026-12-31T22:59:00Z",
        &["2026-12-31T23:00:00Z", "2026-12-31T23:15:00Z"],
    ),
    // Weekdays at 06:30: Friday 2026-01-09 after 06:30 → Monday 12th, Tuesday 13th.
    (
        "30 6 * * 1-5",
        "Europe/Paris",
        "2026-01-09T06:00:00Z",
        &["2026-01-12T05:30:00Z", "2026-01-13T05:30:00Z"],
    ),
    (
        "30 6 * * MON-FRI",
        "Europe/Paris",
        "2026-07-03T12:00:00Z",
        &["2026-07-06T04:30:00Z"],
    ),
    (
        "30 6 * * 1-5",
        "UTC",
        "2026-01-09T06:00:00Z",
        &["2026-01-09T06:30:00Z", "2026-01-12T06:30:00Z"],
    ),
    // 29 February: leap years only; 2100 is not one.
    (
        "0 0 29 2 *",
        "UTC",
        "2026-01-01T00:00:00Z",
        &["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"],
    ),
    (
        "0 0 29 2 *",
        "Europe/Paris",
        "2026-01-01T00:00:00Z",
        &["2028-02-28T23:00:00Z"],
    ),
    (
        "0 0 29 FEB *",
        "UTC",
        "2096-03-01T00:00:00Z",
        &["2104-02-29T00:00:00Z"],
    ),
    // The 31st: short months are skipped.
    (
        "0 0 31 * *",
        "UTC",
        "2026-01-31T00:00:00Z",
        &[
            "2026-03-31T00:00:00Z",
            "2026-05-31T00:00:00Z",
            "2026-07-31T00:00:00Z",
            "2026-08-31T00:00:00Z",
            "2026-10-31T00:00:00Z",
            "2026-12-31T00:00:00Z",
        ],
    ),
    // L: the last day of each month.
    (
        "0 0 L * *",
        "UTC",
        "2026-01-31T00:00:00Z",
        &[
            "2026-02-28T00:00:00Z",
            "2026-03-31T00:00:00Z",
            "2026-04-30T00:00:00Z",
        ],
    ),
    (
        "0 0 L 2 *",
        "UTC",
        "2027-03-01T00:00:00Z",
        &["2028-02-29T00:00:00Z", "2029-02-28T00:00:00Z"],
    ),
    (
        "0 0 1,L * *",
        "UTC",
        "2026-01-15T00:00:00Z",
        &["2026-01-31T00:00:00Z", "2026-02-01T00:00:00Z"],
    ),
    // Both day fields restricted: either matches (the 1st, and every Monday).
    (
        "0 9 1 * MON",
        "Europe/Paris",
        "2026-05-31T12:00:00Z",
        &[
            "2026-06-01T07:00:00Z", // Monday and the 1st: once
            "2026-06-08T07:00:00Z",
            "2026-06-15T07:00:00Z",
            "2026-06-22T07:00:00Z",
            "2026-06-29T07:00:00Z",
            "2026-07-01T07:00:00Z", // Wednesday the 1st
            "2026-07-06T07:00:00Z",
        ],
    ),
    // Day of month `*`-prefixed: only the day of week restricts (AND), Vixie style.
    (
        "0 0 */2 * MON",
        "UTC",
        "2026-01-01T00:00:00Z",
        &["2026-01-05T00:00:00Z", "2026-01-19T00:00:00Z"],
    ),
    // Sunday as 0, 7, SUN.
    (
        "0 0 * * 0",
        "UTC",
        "2026-01-01T00:00:00Z",
        &["2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"],
    ),
    (
        "0 0 * * 7",
        "UTC",
        "2026-01-01T00:00:00Z",
        &["2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"],
    ),
    (
        "0 0 * * SUN",
        "UTC",
        "2026-01-01T00:00:00Z",
        &["2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"],
    ),
    (
        "0 0 * * sat-sun",
        "UTC",
        "2026-01-01T00:00:00Z",
        &[
            "2026-01-03T00:00:00Z",
            "2026-01-04T00:00:00Z",
            "2026-01-10T00:00:00Z",
        ],
    ),
    // Month names.
    (
        "0 0 1 JAN,DEC *",
        "UTC",
        "2026-01-01T00:00:00Z",
        &[
            "2026-12-01T00:00:00Z",
            "2027-01-01T00:00:00Z",
            "2027-12-01T00:00:00Z",
        ],
    ),
    (
        "0 12 25 dec *",
        "Europe/Paris",
        "2026-01-01T00:00:00Z",
        &["2026-12-25T11:00:00Z"],
    ),
    // Shortcuts.
    (
        "@monthly",
        "Europe/Paris",
        "2026-03-15T00:00:00Z",
        &["2026-03-31T22:00:00Z", "2026-04-30T22:00:00Z"],
    ),
    (
        "@yearly",
        "UTC",
        "2026-03-15T00:00:00Z",
        &["2027-01-01T00:00:00Z"],
    ),
    (
        "@annually",
        "Europe/Paris",
        "2026-03-15T00:00:00Z",
        &["2026-12-31T23:00:00Z"],
    ),
    (
        "@weekly",
        "UTC",
        "2026-01-01T00:00:00Z",
        &["2026-01-04T00:00:00Z"],
    ),
    (
        "@daily",
        "UTC",
        "2026-01-01T00:00:00Z",
        &["2026-01-02T00:00:00Z"],
    ),
    (
        "@midnight",
        "UTC",
        "2026-01-01T00:00:00Z",
        &["2026-01-02T00:00:00Z"],
    ),
    (
        "@hourly",
        "UTC",
        "2026-01-01T00:00:00Z",
        &["2026-01-01T01:00:00Z"],
    ),
    // 6 fields, seconds first.
    (
        "0 30 2 * * *",
        "Europe/Paris",
        "2026-01-10T12:00:00Z",
        &["2026-01-11T01:30:00Z", "2026-01-12T01:30:00Z"],
    ),
    (
        "0 30 2 * * *",
        "UTC",
        "2026-01-10T12:00:00Z",
        &["2026-01-11T02:30:00Z"],
    ),
    (
        "*/20 * * * * *",
        "UTC",
        "2026-01-01T00:00:05Z",
        &[
            "2026-01-01T00:00:20Z",
            "2026-01-01T00:00:40Z",
            "2026-01-01T00:01:00Z",
        ],
    ),
    (
        "30 59 23 31 12 *",
        "UTC",
        "2026-01-01T00:00:00Z",
        &["2026-12-31T23:59:30Z"],
    ),
    // DST, spring forward 2026-03-29 (02:00 CET → 03:00 CEST at 01:00 UTC).
    (
        "30 2 * * *",
        "Europe/Paris",
        "2026-03-27T12:00:00Z",
        &[
            "2026-03-28T01:30:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-30T00:30:00Z",
        ],
    ),
    (
        "0 2 * * *",
        "Europe/Paris",
        "2026-03-27T12:00:00Z",
        &[
            "2026-03-28T01:00:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-30T00:00:00Z",
        ],
    ),
    // A local time with seconds in the gap fires at the first valid instant, 03:00:00.
    (
        "15 30 2 * * *",
        "Europe/Paris",
        "2026-03-28T12:00:00Z",
        &["2026-03-29T01:00:00Z", "2026-03-30T00:30:15Z"],
    ),
    // Several times in the gap fire once.
    (
        "*/15 2 * * *",
        "Europe/Paris",
        "2026-03-28T12:00:00Z",
        &["2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"],
    ),
    // A gap time and the first time after the gap are one fire time.
    (
        "30 2,3 * * *",
        "Europe/Paris",
        "2026-03-28T12:00:00Z",
        &[
            "2026-03-29T01:00:00Z",
            "2026-03-29T01:30:00Z",
            "2026-03-30T00:30:00Z",
        ],
    ),
    // Hourly follows real instants: 00:00 CET, 01:00 CET, 03:00 CEST, 04:00 CEST.
    (
        "0 * * * *",
        "Europe/Paris",
        "2026-03-28T22:30:00Z",
        &[
            "2026-03-28T23:00:00Z",
            "2026-03-29T00:00:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-29T02:00:00Z",
        ],
    ),
    (
        "30 * * * *",
        "Europe/Paris",
        "2026-03-29T00:00:00Z",
        &["2026-03-29T00:30:00Z", "2026-03-29T01:30:00Z"],
    ),
    // DST, fall back 2026-10-25 (03:00 CEST → 02:00 CET at 01:00 UTC).
    (
        "30 2 * * *",
        "Europe/Paris",
        "2026-10-23T12:00:00Z",
        &[
            "2026-10-24T00:30:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-26T01:30:00Z",
        ],
    ),
    // After the first 02:30, the second one does not fire.
    (
        "30 2 * * *",
        "Europe/Paris",
        "2026-10-25T00:30:00Z",
        &["2026-10-26T01:30:00Z"],
    ),
    (
        "30 2 * * *",
        "Europe/Paris",
        "2026-10-25T01:10:00Z",
        &["2026-10-26T01:30:00Z"],
    ),
    (
        "*/15 2 * * *",
        "Europe/Paris",
        "2026-10-24T12:00:00Z",
        &[
            "2026-10-25T00:00:00Z",
            "2026-10-25T00:15:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-25T00:45:00Z",
            "2026-10-26T01:00:00Z",
        ],
    ),
    // Hourly: 01:00 CEST, 02:00 CEST, 02:00 CET, 03:00 CET.
    (
        "0 * * * *",
        "Europe/Paris",
        "2026-10-24T22:30:00Z",
        &[
            "2026-10-24T23:00:00Z",
            "2026-10-25T00:00:00Z",
            "2026-10-25T01:00:00Z",
            "2026-10-25T02:00:00Z",
        ],
    ),
    // Starting inside the repeated hour.
    (
        "0 * * * *",
        "Europe/Paris",
        "2026-10-25T00:30:00Z",
        &["2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"],
    ),
    (
        "0 * * * *",
        "Europe/Paris",
        "2026-10-25T01:30:00Z",
        &["2026-10-25T02:00:00Z"],
    ),
    (
        "*/30 * * * *",
        "Europe/Paris",
        "2026-10-24T23:59:00Z",
        &[
            "2026-10-25T00:00:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-25T01:00:00Z",
            "2026-10-25T01:30:00Z",
            "2026-10-25T02:00:00Z",
        ],
    ),
    // Every hour on the fall-back day only (restricted day, every hour).
    (
        "0 * 25 10 *",
        "Europe/Paris",
        "2026-10-25T00:30:00Z",
        &["2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"],
    ),
    (
        "0 * 25 10 *",
        "Europe/Paris",
        "2026-10-25T22:30:00Z",
        &["2027-10-24T22:00:00Z"],
    ),
    // New York: spring forward 2026-03-08 02:00 EST → 03:00 EDT, fall back 2026-11-01 02:00 EDT → 01:00 EST.
    (
        "30 2 * * *",
        "America/New_York",
        "2026-03-07T12:00:00Z",
        &["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"],
    ),
    (
        "30 1 * * *",
        "America/New_York",
        "2026-10-31T12:00:00Z",
        &["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"],
    ),
];

#[test]
fn table_of_fire_times() {
    let mut failures = Vec::new();
    for &(expression, zone, after, expected) in CASES {
        let trigger = Trigger::cron(expression, zone)
            .unwrap_or_else(|e| panic!("{expression} in {zone}: {e}"));
        let got = trigger.upcoming(iso(after), expected.len());
        let want: Vec<DateTime<Utc>> = expected.iter().map(|t| iso(t)).collect();
        if got != want {
            failures.push(format!(
                "{expression:?} in {zone} after {after}:\n  want {want:?}\n  got  {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn sunday_spellings_are_equal() {
    let after = z(2026, 1, 1, 0, 0, 0);
    let reference = Trigger::cron("0 0 * * 0", "UTC")
        .unwrap()
        .upcoming(after, 10);
    for expr in [
        "0 0 * * 7",
        "0 0 * * SUN",
        "0 0 * * Sun",
        "@weekly",
        "0 0 0 * * 7",
    ] {
        assert_eq!(
            Trigger::cron(expr, "UTC").unwrap().upcoming(after, 10),
            reference,
            "{expr}"
        );
    }
}

#[test]
fn dst_days_fire_exactly_once() {
    for (expr, day) in [
        ("30 2 * * *", z(2026, 3, 29, 0, 0, 0)),
        ("30 2 * * *", z(2026, 10, 25, 0, 0, 0)),
        ("0 2 * * *", z(2026, 3, 29, 0, 0, 0)),
        ("0 2 * * *", z(2026, 10, 25, 0, 0, 0)),
        ("0 0 2 * * *", z(2026, 10, 25, 0, 0, 0)),
    ] {
        let t = Trigger::cron(expr, "Europe/Paris").unwrap();
        // Local day in Paris, as UTC instants: [day - 1h, day + 23h) roughly; use a 24 h window
        // starting at local midnight.
        let start = day - Duration::hours(2);
        let fires: Vec<_> = t
            .upcoming(start, 5)
            .into_iter()
            .filter(|f| *f < start + Duration::hours(24))
            .collect();
        assert_eq!(fires.len(), 1, "{expr} on {day}: {fires:?}");
    }
}

#[test]
fn hourly_follows_real_instants_across_both_changes() {
    let t = Trigger::cron("0 * * * *", "Europe/Paris").unwrap();
    for start in [z(2026, 3, 28, 12, 0, 0), z(2026, 10, 24, 12, 0, 0)] {
        let fires = t.upcoming(start, 48);
        for (i, f) in fires.iter().enumerate() {
            assert_eq!(*f, start + Duration::hours(i as i64 + 1), "{fires:?}");
        }
    }
    let t = Trigger::cron("* * * * * *", "Europe/Paris").unwrap();
    let start = z(2026, 10, 25, 0, 59, 58);
    let fires = t.upcoming(start, 4);
    assert_eq!(
        fires,
        (1..=4)
            .map(|s| start + Duration::seconds(s))
            .collect::<Vec<_>>()
    );
}

/// The reference model of the DST rules, by brute force over every local minute.
fn reference_fires(
    expr: &CronExpr,
    tz: Tz,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> BTreeSet<DateTime<Utc>> {
    let mut out = BTreeSet::new();
    let mut local = from;
    while local < to {
        if expr.matches(local) {
            match tz.from_local_datetime(&local) {
                chrono::LocalResult::Single(t) => {
                    out.insert(t.with_timezone(&Utc));
                }
                chrono::LocalResult::Ambiguous(early, late) => {
                    out.insert(early.with_timezone(&Utc));
                    if expr.fires_every_hour() {
                        out.insert(late.with_timezone(&Utc));
                    }
                }
                chrono::LocalResult::None => {
                    if !expr.fires_every_hour() {
                        let mut probe = local;
                        let end = loop {
                            probe += Duration::minutes(1);
                            if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                                break t;
                            }
                        };
                        out.insert(end.with_timezone(&Utc));
                    }
                }
            }
        }
        local += Duration::minutes(1);
    }
    out
}

#[test]
fn matches_a_brute_force_model_around_dst_changes() {
    let expressions = [
        "0 2 * * *",
        "30 2 * * *",
        "*/15 * * * *",
        "0 * * * *",
        "45 * * * *",
        "*/7 1-3 * * *",
        "0 0 * * *",
        "15 1 * * SUN",
        "0 2 25 10 *",
        "0,30 * 25,29 3,10 *",
        "0 */2 * * *",
        "20 2-3 * * *",
    ];
    // (zone, a local time two days before a change, 2026).
    let windows = [
        ("Europe/Paris", "2026-03-27T00:00:00"),
        ("Europe/Paris", "2026-10-23T00:00:00"),
        ("America/New_York", "2026-03-06T00:00:00"),
        ("America/New_York", "2026-10-30T00:00:00"),
        // 30-minute DST: 2026-04-05 02:00 → 01:30, 2026-10-04 02:00 → 02:30.
        ("Australia/Lord_Howe", "2026-04-03T00:00:00"),
        ("Australia/Lord_Howe", "2026-10-02T00:00:00"),
        // Change at midnight: 2026-09-06 00:00 → 01:00, 2026-04-05 00:00 → 2026-04-04 23:00.
        ("America/Santiago", "2026-09-04T00:00:00"),
        ("America/Santiago", "2026-04-03T00:00:00"),
        ("UTC", "2026-02-27T00:00:00"),
    ];
    for (zone, start) in windows {
        let tz: Tz = zone.parse().unwrap();
        let from = NaiveDateTime::parse_from_str(start, "%Y-%m-%dT%H:%M:%S").unwrap();
        let to = from + Duration::days(5);
        // Each window (but UTC's) holds a change of offset, or the test would prove little.
        let offset = |local: NaiveDateTime| {
            tz.from_local_datetime(&local)
                .earliest()
                .unwrap()
                .offset()
                .fix()
                .local_minus_utc()
        };
        assert_eq!(
            zone == "UTC",
            offset(from) == offset(to),
            "{zone} from {start}"
        );
        for text in expressions {
            let expr = CronExpr::parse(text).unwrap();
            let reference = reference_fires(&expr, tz, from, to);
            let trigger = Trigger::cron(text, zone).unwrap();
            // Start the walk a little inside the window, the end with some margin.
            let first = tz
                .from_local_datetime(&(from + Duration::hours(6)))
                .earliest()
                .unwrap();
            let last = tz
                .from_local_datetime(&(to - Duration::hours(6)))
                .earliest()
                .unwrap();
            let want: Vec<_> = reference
                .iter()
                .copied()
                .filter(|t| *t > first.with_timezone(&Utc) && *t < last.with_timezone(&Utc))
                .collect();
            let got: Vec<_> = trigger
                .upcoming(first.with_timezone(&Utc), want.len() + 1)
                .into_iter()
                .filter(|t| *t < last.with_timezone(&Utc))
                .collect();
            assert_eq!(got, want, "{text} in {zone} from {start}");
            // Starting from any reference fire time gives the next one.
            for pair in want.windows(2) {
                assert_eq!(
                    trigger.next_after(pair[0]).unwrap(),
                    Some(pair[1]),
                    "{text} in {zone} after {}",
                    pair[0]
                );
            }
        }
    }
}

#[test]
fn intervals() {
    let anchor = z(2026, 1, 1, 0, 5, 0);
    let t = Trigger::interval(Duration::minutes(15), anchor).unwrap();
    assert_eq!(t.next_after(z(2025, 12, 1, 0, 0, 0)).unwrap(), Some(anchor));
    assert_eq!(t.next_after(anchor).unwrap(), Some(z(2026, 1, 1, 0, 20, 0)));
    assert_eq!(
        t.next_after(z(2026, 1, 1, 0, 21, 0)).unwrap(),
        Some(z(2026, 1, 1, 0, 35, 0))
    );
    assert_eq!(
        t.upcoming(z(2026, 1, 1, 0, 34, 59), 3),
        [
            z(2026, 1, 1, 0, 35, 0),
            z(2026, 1, 1, 0, 50, 0),
            z(2026, 1, 1, 1, 5, 0)
        ]
    );
    // Intervals are absolute durations: across both DST changes, exactly one hour apart.
    for anchor in [z(2026, 3, 28, 23, 0, 0), z(2026, 10, 24, 23, 0, 0)] {
        let hourly = Trigger::interval(Duration::hours(1), anchor).unwrap();
        let fires = hourly.upcoming(anchor, 4);
        assert_eq!(
            fires,
            (1..=4)
                .map(|h| anchor + Duration::hours(h))
                .collect::<Vec<_>>()
        );
    }
    // A day is 24 hours, not "same local time tomorrow".
    let daily = Trigger::interval(Duration::days(1), z(2026, 3, 28, 1, 0, 0)).unwrap();
    assert_eq!(
        daily.upcoming(z(2026, 3, 28, 1, 0, 0), 2),
        [z(2026, 3, 29, 1, 0, 0), z(2026, 3, 30, 1, 0, 0)]
    );
    // every_minutes.
    assert_eq!(Trigger::every_minutes(15, anchor).unwrap(), t);
}

#[test]
fn serde_round_trips_and_defaults() {
    let cron = Trigger::cron("0 2 * * *", "Europe/Paris").unwrap();
    let json = serde_json::to_value(&cron).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"kind": "cron", "expression": "0 2 * * *", "time_zone": "Europe/Paris"})
    );
    assert_eq!(serde_json::from_value::<Trigger>(json).unwrap(), cron);
    let defaulted: Trigger =
        serde_json::from_str(r#"{"kind":"cron","expression":"0 2 * * *"}"#).unwrap();
    assert_eq!(defaulted, cron);

    let interval = Trigger::interval(Duration::seconds(900), z(2026, 1, 1, 0, 0, 0)).unwrap();
    let json = serde_json::to_value(&interval).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"kind": "interval", "every_seconds": 900, "anchor": "2026-01-01T00:00:00Z"})
    );
    assert_eq!(serde_json::from_value::<Trigger>(json).unwrap(), interval);
    let minutes: Trigger = serde_json::from_str(
        r#"{"kind":"interval","every_minutes":15,"anchor":"2026-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    assert_eq!(minutes, interval);
    let epoch: Trigger = serde_json::from_str(r#"{"kind":"interval","every_minutes":15}"#).unwrap();
    assert_eq!(
        epoch.next_after(z(2026, 1, 1, 0, 1, 0)).unwrap(),
        Some(z(2026, 1, 1, 0, 15, 0))
    );

    for bad in [
        r#"{"kind":"cron","expression":"61 * * * *"}"#,
        r#"{"kind":"cron","expression":"0 2 * * *","time_zone":"Mars/Olympus"}"#,
        r#"{"kind":"interval","every_seconds":0}"#,
        r#"{"kind":"interval","every_minutes":0}"#,
        r#"{"kind":"interval"}"#,
        r#"{"kind":"interval","every_seconds":60,"every_minutes":1}"#,
        r#"{"kind":"sometimes"}"#,
    ] {
        assert!(serde_json::from_str::<Trigger>(bad).is_err(), "{bad}");
    }
    let err = serde_json::from_str::<Trigger>(r#"{"kind":"cron","expression":"61 * * * *"}"#)
        .unwrap_err();
    assert!(err.to_string().contains(r#"minute field "61""#), "{err}");
}

fn request_error(result: Result<Trigger, ExportError>) -> (String, String) {
    match result {
        Err(ExportError::InvalidRequest { field, reason }) => (field, reason),
        other => panic!("expected an invalid request, got {other:?}"),
    }
}

#[test]
fn errors_name_the_field() {
    let cases: &[(&str, &str, &str, &str)] = &[
        ("* * * *", "UTC", "expression", "expected 5 fields"),
        ("0 0 1 1 * 2026 *", "UTC", "expression", "found 7"),
        (
            "61 * * * *",
            "UTC",
            "expression",
            r#"minute field "61": 61 is out of range 0-59"#,
        ),
        (
            "0 0,25 * * *",
            "UTC",
            "expression",
            r#"hour field "0,25": 25 is out of range 0-23"#,
        ),
        ("60 * * * * *", "UTC", "expression", r#"second field "60""#),
        (
            "0 0 32 * *",
            "UTC",
            "expression",
            r#"day-of-month field "32""#,
        ),
        ("0 0 1 13 *", "UTC", "expression", r#"month field "13""#),
        ("0 0 * * 8", "UTC", "expression", r#"day-of-week field "8""#),
        (
            "0 0 * JNA *",
            "UTC",
            "expression",
            r#"month field "JNA": unknown name "JNA""#,
        ),
        (
            "0 0 * * MON-FRY",
            "UTC",
            "expression",
            r#"unknown name "FRY""#,
        ),
        ("0 0 * * 1#2", "UTC", "expression", "not supported"),
        ("0 0 LW * *", "UTC", "expression", "not supported"),
        ("0 0 30 2 *", "UTC", "expression", "never fires"),
        ("0 0 31 4,6,9,11 *", "UTC", "expression", "never fires"),
        ("@reboot", "UTC", "expression", "unknown shortcut"),
        ("0 2 * * *", "Mars/Olympus", "time_zone", "Mars/Olympus"),
    ];
    for &(expr, zone, field, needle) in cases {
        let (got_field, reason) = request_error(Trigger::cron(expr, zone));
        assert_eq!(got_field, field, "{expr}: {reason}");
        assert!(reason.contains(needle), "{expr}: {reason}");
    }
    let anchor = z(2026, 1, 1, 0, 0, 0);
    let (field, reason) = request_error(Trigger::interval(Duration::zero(), anchor));
    assert_eq!(field, "every");
    assert!(reason.contains("at least 1 second"), "{reason}");
    assert!(Trigger::interval(Duration::seconds(-5), anchor).is_err());
    assert!(Trigger::interval(Duration::milliseconds(500), anchor).is_err());
    assert!(Trigger::every_minutes(0, anchor).is_err());
    assert!(Trigger::every_minutes(u64::MAX, anchor).is_err());
}

#[test]
fn far_future_and_end_of_time() {
    let t = Trigger::cron("0 0 1 1 *", "UTC").unwrap();
    assert_eq!(
        t.next_after(z(2999, 6, 1, 0, 0, 0)).unwrap(),
        Some(z(3000, 1, 1, 0, 0, 0))
    );
    assert_eq!(t.next_after(DateTime::<Utc>::MAX_UTC).unwrap(), None);
    let i = Trigger::interval(Duration::days(365), z(2026, 1, 1, 0, 0, 0)).unwrap();
    assert_eq!(i.next_after(DateTime::<Utc>::MAX_UTC).unwrap(), None);
}

/// A stable-toolchain stand-in for the fuzz target: random expressions from cron's alphabet.
/// Every accepted expression has a next fire time after each probe, later than the probe.
#[test]
fn random_expressions_keep_the_invariant() {
    let zones = [
        "Europe/Paris",
        "UTC",
        "Australia/Lord_Howe",
        "America/Santiago",
        "Pacific/Apia",
    ];
    let probes = [
        z(2026, 1, 1, 0, 0, 0),
        z(2026, 3, 29, 0, 59, 59),
        z(2026, 10, 25, 1, 30, 0) + Duration::milliseconds(500),
        z(2011, 12, 29, 12, 0, 0), // Samoa skipped 2011-12-30
        z(2100, 2, 28, 23, 59, 59),
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut accepted, mut tried) = (0, 0);
    const NAMES: &[&str] = &[
        "MON", "sun", "FRI", "Sat", "JAN", "feb", "DEC", "L", "W", "5#2", "LW", "x",
    ];
    while tried < 4000 {
        let mut pick = |n: u64| next() % n;
        let element = |pick: &mut dyn FnMut(u64) -> u64| -> String {
            let num = |pick: &mut dyn FnMut(u64) -> u64| -> String {
                if pick(8) == 0 {
                    NAMES[pick(NAMES.len() as u64) as usize].to_string()
                } else {
                    pick(63).to_string()
                }
            };
            match pick(8) {
                0 => "*".into(),
                1 => format!("*/{}", pick(40)),
                2 => format!("{}-{}", num(pick), num(pick)),
                3 => format!("{}-{}/{}", num(pick), num(pick), pick(40)),
                4 => format!("{}/{}", num(pick), pick(40)),
                5 => "?".into(),
                _ => num(pick),
            }
        };
        let text = match pick(20) {
            0 => [
                "@daily", "@hourly", "@monthly", "@weekly", "@yearly", "@reboot",
            ][pick(6) as usize]
                .to_string(),
            _ => {
                let count = [5, 5, 5, 6, 6, 4, 7][pick(7) as usize];
                (0..count)
                    .map(|_| {
                        (0..1 + pick(3))
                            .map(|_| element(&mut pick))
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        };
        tried += 1;
        let zone = zones[(next() % zones.len() as u64) as usize];
        let Ok(trigger) = Trigger::cron(&text, zone) else {
            continue;
        };
        accepted += 1;
        for after in probes {
            let first = trigger
                .next_after(after)
                .unwrap()
                .unwrap_or_else(|| panic!("{text:?} in {zone} after {after}"));
            assert!(first > after, "{text:?} in {zone}: {first} <= {after}");
            let second = trigger
                .next_after(first)
                .unwrap()
                .unwrap_or_else(|| panic!("{text:?} in {zone} after {first}"));
            assert!(second > first, "{text:?} in {zone}: {second} <= {first}");
        }
    }
    assert!(
        accepted > 100,
        "only {accepted} of {tried} random expressions parsed"
    );
}
