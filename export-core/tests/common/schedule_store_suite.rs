//! One behavioural suite for every `ScheduleStore` + `PlatformStore` implementation.
//!
//! A backend provides a [`Harness`] (a fresh, empty store, plus a way to open more handles on the
//! same data) and instantiates [`schedule_store_suite!`], which makes one `#[test]` per case.

#![allow(dead_code)]

use std::sync::{Arc, Barrier};

use chrono::{DateTime, Duration, TimeZone, Utc};
use export_core::ExportError;
use export_core::job::Owner;
use export_core::platform::{Platform, PlatformStore};
use export_core::request::{ExportRequest, Format};
use export_core::schedule::{
    MAX_RUNS_LIMIT, NewSchedule, PeriodRule, RetryPolicy, RunQuery, RunStatus, Schedule,
    ScheduleQuery, ScheduleRun, ScheduleStats, ScheduleStore, ScheduleTarget, Trigger,
};
use uuid::Uuid;

/// What every schedule store is: schedules and platforms in one database.
pub trait Store: ScheduleStore + PlatformStore {}

impl<T: ScheduleStore + PlatformStore + ?Sized> Store for T {}

/// A fresh store and a way to open more handles (connections, processes) on the same data.
pub struct Harness {
    pub store: Arc<dyn Store>,
    open_more: Box<dyn Fn() -> Arc<dyn Store>>,
    cleanup: Option<Box<dyn FnOnce()>>,
}

impl Harness {
    pub fn new(
        store: Arc<dyn Store>,
        open_more: impl Fn() -> Arc<dyn Store> + 'static,
        cleanup: impl FnOnce() + 'static,
    ) -> Harness {
        Harness {
            store,
            open_more: Box::new(open_more),
            cleanup: Some(Box::new(cleanup)),
        }
    }

    /// Another handle on the same data (another connection for the SQL stores).
    pub fn open_more(&self) -> Arc<dyn Store> {
        (self.open_more)()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(cleanup) = self.cleanup.take() {
            cleanup();
        }
    }
}

/// Makes one `#[test]` per suite case, each on a fresh harness from `$harness` (an expression of
/// type `Option<Harness>`; `None` skips).
macro_rules! schedule_store_suite {
    ($harness:expr) => {
        schedule_store_suite!(@cases $harness;
            insert_get_and_duplicate, round_trip_keeps_every_field, list_filters_and_orders_by_id,
            update_applies_and_persists, failing_update_saves_nothing, delete_removes_runs,
            due_orders_limits_and_excludes, next_due_is_earliest_enabled, claim_fire_once,
            claim_fire_relies_on_the_run_key, claim_fire_refuses_stale_or_disabled,
            concurrent_claims_one_winner, update_run_compare_and_set, update_run_after_delete,
            runs_open_history_and_limit, platforms_crud, delete_platform_refused_while_linked,
            handles_see_each_other);
    };
    (@cases $harness:expr; $($case:ident),+) => {
        $(
            #[test]
            fn $case() {
                if let Some(harness) = $harness {
                    schedule_store_suite::$case(&harness);
                }
            }
        )+
    };
}

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap()
}

fn mins(n: i64) -> Duration {
    Duration::minutes(n)
}

fn request_target() -> ScheduleTarget {
    ScheduleTarget::request(ExportRequest::new("trip", Format::Csv))
}

fn platform_target(name: &str) -> ScheduleTarget {
    ScheduleTarget::Platform {
        platform: name.into(),
        overrides: serde_json::json!({"options": {"bom": true}}),
    }
}

/// An hourly schedule of `owner` on `target`, enabled, whose `next_run` is `next_run`.
pub fn schedule(
    id: &str,
    owner: &str,
    target: ScheduleTarget,
    next_run: DateTime<Utc>,
) -> Schedule {
    let mut s = NewSchedule::new(
        id,
        Owner::user(owner),
        target,
        Trigger::interval(Duration::hours(1), t0()).unwrap(),
    )
    .build(t0() - Duration::days(1))
    .unwrap();
    s.next_run = Some(next_run);
    s
}

fn disabled(mut s: Schedule) -> Schedule {
    s.enabled = false;
    s
}

pub fn run(id: &str, fire_time: DateTime<Utc>) -> ScheduleRun {
    ScheduleRun {
        schedule_id: id.into(),
        fire_time,
        attempt: 1,
        job_id: None,
        status: RunStatus::Starting,
        not_before: None,
        error: None,
        created_at: fire_time,
        finished_at: None,
    }
}

/// What a scheduler does when it claims `fire`: next run an hour later, one more run.
fn advance(fire: DateTime<Utc>) -> impl FnMut(&mut Schedule) {
    move |s: &mut Schedule| {
        s.next_run = Some(fire + Duration::hours(1));
        s.stats.runs += 1;
        s.stats.last_run = Some(fire);
        s.stats.last_status = Some(RunStatus::Starting);
    }
}

/// Claims fire time `fire` of schedule `id`, expecting `next_run == fire`.
fn claim(store: &dyn Store, id: &str, fire: DateTime<Utc>) -> bool {
    store
        .claim_fire(&run(id, fire), fire, &mut advance(fire))
        .expect("claim_fire")
}

fn code<T: std::fmt::Debug>(r: Result<T, ExportError>) -> &'static str {
    r.expect_err("expected an error").code()
}

fn assert_not_found<T: std::fmt::Debug>(r: Result<T, ExportError>, kind: &str, id: &str) {
    match r {
        Err(ExportError::NotFound { kind: k, id: i }) => {
            assert_eq!((k, i.as_str()), (kind, id));
        }
        other => panic!("expected {kind} `{id}` not found, got {other:?}"),
    }
}

fn ids(schedules: &[Schedule]) -> Vec<&str> {
    schedules.iter().map(|s| s.id.as_str()).collect()
}

fn run_keys(runs: &[ScheduleRun]) -> Vec<(&str, DateTime<Utc>)> {
    runs.iter()
        .map(|r| (r.schedule_id.as_str(), r.fire_time))
        .collect()
}

fn platform(name: &str) -> Platform {
    Platform::new(name, ExportRequest::new("trip", Format::Csv), t0())
        .description(format!("the {name} preset"))
}

// ---------------------------------------------------------------------------------------------

pub fn insert_get_and_duplicate(h: &Harness) {
    let s = schedule("nightly", "u-1", request_target(), t0());
    h.store.insert(&s).unwrap();
    assert_eq!(h.store.get("nightly").unwrap(), s);

    let mut again = s.clone();
    again.name = "another".into();
    let err = h.store.insert(&again).unwrap_err();
    assert_eq!(err.code(), "ALREADY_EXISTS");
    assert_eq!(err.to_string(), "schedule `nightly` already exists");
    assert_eq!(h.store.get("nightly").unwrap(), s, "the first one stays");
    assert_not_found(h.store.get("missing"), "schedule", "missing");
}

pub fn round_trip_keeps_every_field(h: &Harness) {
    let mut s = NewSchedule::new(
        "rich.one_2",
        Owner::in_organisation("u-9", "op-7"),
        platform_target("opendata-csv"),
        Trigger::cron("30 2 * * MON-FRI", "Europe/Paris").unwrap(),
    )
    .name("Rich — schedule with “unicode”")
    .period(PeriodRule::PreviousMonth)
    .retry(RetryPolicy {
        max_attempts: 5,
        delay: mins(2),
        backoff: Some(2.5),
        max_delay: mins(30),
    })
    .retention(Duration::days(7))
    .build(t0())
    .unwrap();
    s.stats = ScheduleStats {
        runs: 12,
        successes: 10,
        failures: 1,
        misfires: 1,
        last_run: Some(t0() - mins(5)),
        last_status: Some(RunStatus::Failed),
        last_error: Some("storage: bucket unreachable".into()),
    };
    // Sub-second instants survive (the indexed columns keep microseconds, the body all).
    s.next_run = Some(t0() + Duration::microseconds(123_456));
    s.updated_at = t0() + Duration::nanoseconds(987_654_321);
    h.store.insert(&s).unwrap();
    assert_eq!(h.store.get(&s.id).unwrap(), s);

    let off = disabled(schedule("off", "u-1", request_target(), t0()));
    let off = Schedule {
        next_run: None,
        ..off
    };
    h.store.insert(&off).unwrap();
    assert_eq!(h.store.get("off").unwrap(), off);

    let mut r = run(&s.id, s.next_run.unwrap());
    r.job_id = Some(Uuid::new_v4());
    r.not_before = Some(t0() + mins(3));
    r.error = Some("IO: disk full".into());
    assert!(
        h.store
            .claim_fire(&r, s.next_run.unwrap(), &mut |_| {})
            .unwrap()
    );
    assert_eq!(h.store.runs(&RunQuery::history(&s.id)).unwrap(), vec![r]);
}

pub fn list_filters_and_orders_by_id(h: &Harness) {
    let all = [
        schedule("m-2", "u-1", platform_target("p1"), t0()),
        disabled(schedule("a_1", "u-2", platform_target("p1"), t0())),
        schedule("z", "u-1", request_target(), t0()),
        schedule("a-1", "u-2", platform_target("p2"), t0()),
        disabled(schedule("a.1", "u-1", request_target(), t0())),
        schedule("0", "u-3", platform_target("p1"), t0()),
    ];
    for s in &all {
        h.store.insert(s).unwrap();
    }
    let list = |q: ScheduleQuery| -> Vec<String> {
        h.store
            .list(&q)
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect()
    };
    // Byte order: digits, then `-`, `.`, `_`, then letters.
    assert_eq!(
        list(ScheduleQuery::default()),
        ["0", "a-1", "a.1", "a_1", "m-2", "z"]
    );
    assert_eq!(
        list(ScheduleQuery::default().owner("u-1")),
        ["a.1", "m-2", "z"]
    );
    assert_eq!(
        list(ScheduleQuery::default().platform("p1")),
        ["0", "a_1", "m-2"]
    );
    assert_eq!(
        list(ScheduleQuery::default().enabled(false)),
        ["a.1", "a_1"]
    );
    assert_eq!(
        list(ScheduleQuery::default().enabled(true)),
        ["0", "a-1", "m-2", "z"]
    );
    assert_eq!(
        list(ScheduleQuery::default().owner("u-2").platform("p1")),
        ["a_1"]
    );
    assert_eq!(
        list(
            ScheduleQuery::default()
                .owner("u-2")
                .platform("p1")
                .enabled(true)
        ),
        Vec::<String>::new()
    );
    assert!(list(ScheduleQuery::default().owner("nobody")).is_empty());
    // Whole schedules come back, not just ids.
    let first = h
        .store
        .list(&ScheduleQuery::default().owner("u-3"))
        .unwrap();
    assert_eq!(first, vec![all[5].clone()]);
}

pub fn update_applies_and_persists(h: &Harness) {
    h.store
        .insert(&schedule("s", "u-1", platform_target("p1"), t0()))
        .unwrap();
    let updated = h
        .store
        .update("s", &mut |s| {
            s.name = "renamed".into();
            s.enabled = false;
            s.next_run = None;
            s.owner = Owner::user("u-2");
            s.target = platform_target("p2");
            s.updated_at = t0() + mins(1);
            Ok(())
        })
        .unwrap();
    assert_eq!(updated.name, "renamed");
    assert_eq!(h.store.get("s").unwrap(), updated);
    // The indexed columns follow the body.
    let list = |q: ScheduleQuery| ids(&h.store.list(&q).unwrap()).len();
    assert_eq!(list(ScheduleQuery::default().enabled(false)), 1);
    assert_eq!(list(ScheduleQuery::default().enabled(true)), 0);
    assert_eq!(list(ScheduleQuery::default().owner("u-2")), 1);
    assert_eq!(list(ScheduleQuery::default().owner("u-1")), 0);
    assert_eq!(list(ScheduleQuery::default().platform("p2")), 1);
    assert_eq!(list(ScheduleQuery::default().platform("p1")), 0);
    assert!(
        h.store
            .due(t0() + Duration::days(1), 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(h.store.next_due().unwrap(), None);

    // Re-enabled with a new next run: due again.
    h.store
        .update("s", &mut |s| {
            s.enabled = true;
            s.next_run = Some(t0() + mins(10));
            Ok(())
        })
        .unwrap();
    assert_eq!(ids(&h.store.due(t0() + mins(10), 10).unwrap()), ["s"]);
    assert_eq!(h.store.next_due().unwrap(), Some(t0() + mins(10)));

    assert_not_found(
        h.store.update("missing", &mut |_| Ok(())),
        "schedule",
        "missing",
    );
}

pub fn failing_update_saves_nothing(h: &Harness) {
    let s = schedule("s", "u-1", request_target(), t0());
    h.store.insert(&s).unwrap();
    let err = h
        .store
        .update("s", &mut |s| {
            s.name = "half-done".into();
            s.enabled = false;
            Err(ExportError::request("name", "refused"))
        })
        .unwrap_err();
    assert_eq!(err.to_string(), "invalid `name`: refused");
    assert_eq!(h.store.get("s").unwrap(), s);
    assert_eq!(ids(&h.store.due(t0(), 10).unwrap()), ["s"]);
}

pub fn delete_removes_runs(h: &Harness) {
    h.store
        .insert(&schedule("gone", "u-1", request_target(), t0()))
        .unwrap();
    h.store
        .insert(&schedule("kept", "u-1", request_target(), t0()))
        .unwrap();
    assert!(claim(&*h.store, "gone", t0()));
    assert!(claim(&*h.store, "gone", t0() + Duration::hours(1)));
    assert!(claim(&*h.store, "kept", t0()));

    let removed = h.store.delete("gone").unwrap();
    assert_eq!(removed.id, "gone");
    assert_eq!(removed.stats.runs, 2);
    assert_not_found(h.store.get("gone"), "schedule", "gone");
    assert_not_found(h.store.delete("gone"), "schedule", "gone");
    assert!(h.store.runs(&RunQuery::history("gone")).unwrap().is_empty());
    assert_eq!(
        run_keys(&h.store.runs(&RunQuery::default()).unwrap()),
        [("kept", t0())]
    );

    // A new schedule with the same id starts without history, and may claim the same fire time.
    h.store
        .insert(&schedule("gone", "u-1", request_target(), t0()))
        .unwrap();
    assert!(h.store.runs(&RunQuery::history("gone")).unwrap().is_empty());
    assert!(claim(&*h.store, "gone", t0()));
}

pub fn due_orders_limits_and_excludes(h: &Harness) {
    let now = t0();
    for s in [
        schedule("later", "u", request_target(), now + Duration::seconds(1)),
        schedule("b", "u", request_target(), now - mins(5)),
        schedule("exactly-now", "u", request_target(), now),
        schedule("a", "u", request_target(), now - mins(5)),
        schedule("oldest", "u", request_target(), now - Duration::hours(3)),
        disabled(schedule(
            "off",
            "u",
            request_target(),
            now - Duration::hours(9),
        )),
        Schedule {
            next_run: None,
            ..schedule("never", "u", request_target(), now)
        },
    ] {
        h.store.insert(&s).unwrap();
    }
    let due = |limit| ids(&h.store.due(now, limit).unwrap()).join(" ");
    assert_eq!(due(100), "oldest a b exactly-now");
    assert_eq!(due(2), "oldest a");
    assert_eq!(due(0), "");
    assert_eq!(
        ids(&h.store.due(now - Duration::days(1), 10).unwrap()),
        Vec::<&str>::new()
    );
    assert_eq!(
        ids(&h.store.due(now + Duration::seconds(1), usize::MAX).unwrap()),
        ["oldest", "a", "b", "exactly-now", "later"]
    );
    // Whole schedules come back.
    assert_eq!(
        h.store.due(now, 1).unwrap(),
        vec![h.store.get("oldest").unwrap()]
    );
}

pub fn next_due_is_earliest_enabled(h: &Harness) {
    assert_eq!(h.store.next_due().unwrap(), None);
    h.store
        .insert(&disabled(schedule(
            "off",
            "u",
            request_target(),
            t0() - Duration::days(2),
        )))
        .unwrap();
    h.store
        .insert(&Schedule {
            next_run: None,
            ..schedule("never", "u", request_target(), t0())
        })
        .unwrap();
    assert_eq!(h.store.next_due().unwrap(), None);
    h.store
        .insert(&schedule("b", "u", request_target(), t0() + mins(30)))
        .unwrap();
    let precise = t0() + mins(10) + Duration::microseconds(7);
    h.store
        .insert(&schedule("a", "u", request_target(), precise))
        .unwrap();
    assert_eq!(h.store.next_due().unwrap(), Some(precise));
}

pub fn claim_fire_once(h: &Harness) {
    let fire = t0();
    h.store
        .insert(&schedule("s", "u", request_target(), fire))
        .unwrap();
    assert!(claim(&*h.store, "s", fire));
    let after = h.store.get("s").unwrap();
    assert_eq!(after.next_run, Some(fire + Duration::hours(1)));
    assert_eq!(after.stats.runs, 1);
    assert_eq!(after.stats.last_run, Some(fire));
    assert_eq!(
        h.store.runs(&RunQuery::history("s")).unwrap(),
        vec![run("s", fire)]
    );

    // A second scheduler claiming the same fire time with what it saw: refused, nothing changes.
    let mut called = false;
    let second = h
        .store
        .claim_fire(&run("s", fire), fire, &mut |_| called = true)
        .unwrap();
    assert!(!second);
    assert!(!called, "the closure runs only for a successful claim");
    assert_eq!(h.store.get("s").unwrap(), after);
    assert_eq!(h.store.runs(&RunQuery::history("s")).unwrap().len(), 1);

    // The next fire time is claimable.
    assert!(claim(&*h.store, "s", fire + Duration::hours(1)));
    assert_eq!(h.store.get("s").unwrap().stats.runs, 2);

    assert_not_found(
        h.store.claim_fire(&run("missing", fire), fire, &mut |_| {}),
        "schedule",
        "missing",
    );
}

pub fn claim_fire_relies_on_the_run_key(h: &Harness) {
    let fire = t0();
    h.store
        .insert(&schedule("s", "u", request_target(), fire))
        .unwrap();
    assert!(claim(&*h.store, "s", fire));
    // Someone puts next_run back on the claimed fire time: the compare-and-set would pass, the
    // unique (schedule, fire time) key still refuses, and the schedule change is rolled back.
    let reset = h
        .store
        .update("s", &mut |s| {
            s.next_run = Some(fire);
            Ok(())
        })
        .unwrap();
    let mut other = run("s", fire);
    other.job_id = Some(Uuid::new_v4());
    let claimed = h
        .store
        .claim_fire(&other, fire, &mut |s| {
            s.next_run = Some(fire + Duration::days(1));
            s.stats.runs += 100;
        })
        .unwrap();
    assert!(!claimed);
    assert_eq!(h.store.get("s").unwrap(), reset);
    assert_eq!(
        h.store.runs(&RunQuery::history("s")).unwrap(),
        vec![run("s", fire)],
        "the first run stays as it was"
    );
}

pub fn claim_fire_refuses_stale_or_disabled(h: &Harness) {
    let fire = t0();
    let s = schedule("s", "u", request_target(), fire);
    h.store.insert(&s).unwrap();
    // A stale expectation (the scheduler read the schedule before someone changed it).
    let stale = h
        .store
        .claim_fire(&run("s", fire - mins(1)), fire - mins(1), &mut |s| {
            s.stats.runs += 1
        })
        .unwrap();
    assert!(!stale);
    assert_eq!(h.store.get("s").unwrap(), s);
    assert!(h.store.runs(&RunQuery::default()).unwrap().is_empty());

    // Disabled while keeping its next run: refused too.
    let off = h
        .store
        .update("s", &mut |s| {
            s.enabled = false;
            Ok(())
        })
        .unwrap();
    assert!(
        !h.store
            .claim_fire(&run("s", fire), fire, &mut |s| s.stats.runs += 1)
            .unwrap()
    );
    assert_eq!(h.store.get("s").unwrap(), off);
    assert!(h.store.runs(&RunQuery::default()).unwrap().is_empty());
}

pub fn concurrent_claims_one_winner(h: &Harness) {
    const THREADS: usize = 8;
    const ROUNDS: usize = 3;
    h.store
        .insert(&schedule("race", "u", request_target(), t0()))
        .unwrap();
    let handles: Vec<Arc<dyn Store>> = (0..THREADS).map(|_| h.open_more()).collect();
    for round in 0..ROUNDS {
        let fire = t0() + Duration::hours(round as i64);
        let barrier = Arc::new(Barrier::new(THREADS));
        let threads: Vec<_> = handles
            .iter()
            .cloned()
            .map(|store| {
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    barrier.wait();
                    store
                        .claim_fire(&run("race", fire), fire, &mut advance(fire))
                        .expect("claim_fire")
                })
            })
            .collect();
        let wins = threads
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .filter(|won| *won)
            .count();
        assert_eq!(wins, 1, "round {round}: exactly one claim wins");
        let s = h.store.get("race").unwrap();
        assert_eq!(s.stats.runs, round as u64 + 1);
        assert_eq!(s.next_run, Some(fire + Duration::hours(1)));
    }
    assert_eq!(
        h.store.runs(&RunQuery::history("race")).unwrap().len(),
        ROUNDS
    );
}

pub fn update_run_compare_and_set(h: &Harness) {
    let fire = t0();
    h.store
        .insert(&schedule("s", "u", request_target(), fire))
        .unwrap();
    assert!(claim(&*h.store, "s", fire));
    let job = Uuid::new_v4();
    let mut start = |r: &mut ScheduleRun, s: &mut Schedule| {
        r.status = RunStatus::Started;
        r.job_id = Some(job);
        s.stats.last_status = Some(RunStatus::Started);
    };
    // Wrong attempt, wrong status: refused, nothing changes.
    assert!(
        !h.store
            .update_run("s", fire, (2, RunStatus::Starting), &mut start)
            .unwrap()
    );
    assert!(
        !h.store
            .update_run("s", fire, (1, RunStatus::Started), &mut start)
            .unwrap()
    );
    assert!(
        !h.store
            .update_run("s", fire + mins(1), (1, RunStatus::Starting), &mut start)
            .unwrap(),
        "no run at that fire time"
    );
    assert_eq!(
        h.store.runs(&RunQuery::history("s")).unwrap(),
        vec![run("s", fire)]
    );
    let before = h.store.get("s").unwrap();

    assert!(
        h.store
            .update_run("s", fire, (1, RunStatus::Starting), &mut start)
            .unwrap()
    );
    let runs = h.store.runs(&RunQuery::history("s")).unwrap();
    assert_eq!(runs[0].status, RunStatus::Started);
    assert_eq!(runs[0].job_id, Some(job));
    assert_eq!(
        h.store.get("s").unwrap(),
        Schedule {
            stats: ScheduleStats {
                last_status: Some(RunStatus::Started),
                ..before.stats.clone()
            },
            ..before.clone()
        }
    );
    // The same expectation again (another scheduler, late): refused.
    assert!(
        !h.store
            .update_run("s", fire, (1, RunStatus::Starting), &mut start)
            .unwrap()
    );
    assert_eq!(
        run_keys(&h.store.runs(&RunQuery::open()).unwrap()),
        [("s", fire)]
    );

    // Finishing it: the run leaves the open runs, the schedule's statistics follow.
    let finished = h
        .store
        .update_run("s", fire, (1, RunStatus::Started), &mut |r, s| {
            r.status = RunStatus::Succeeded;
            r.finished_at = Some(fire + mins(3));
            s.stats.successes += 1;
            s.stats.last_status = Some(RunStatus::Succeeded);
        })
        .unwrap();
    assert!(finished);
    assert!(h.store.runs(&RunQuery::open()).unwrap().is_empty());
    let s = h.store.get("s").unwrap();
    assert_eq!(s.stats.successes, 1);
    assert_eq!(s.stats.last_status, Some(RunStatus::Succeeded));
    let r = &h.store.runs(&RunQuery::history("s")).unwrap()[0];
    assert_eq!(
        (r.status, r.finished_at),
        (RunStatus::Succeeded, Some(fire + mins(3)))
    );
}

pub fn update_run_after_delete(h: &Harness) {
    h.store
        .insert(&schedule("s", "u", request_target(), t0()))
        .unwrap();
    assert!(claim(&*h.store, "s", t0()));
    h.store.delete("s").unwrap();
    let mut called = false;
    assert!(
        !h.store
            .update_run("s", t0(), (1, RunStatus::Starting), &mut |_, _| called =
                true)
            .unwrap()
    );
    assert!(!called);
}

pub fn runs_open_history_and_limit(h: &Harness) {
    // Two schedules, three fire times each; a's first run finished.
    for id in ["a", "b"] {
        h.store
            .insert(&schedule(id, "u", request_target(), t0()))
            .unwrap();
        for k in 0..3 {
            assert!(claim(&*h.store, id, t0() + Duration::hours(k)));
        }
    }
    assert!(
        h.store
            .update_run("a", t0(), (1, RunStatus::Starting), &mut |r, _| r.status =
                RunStatus::Failed)
            .unwrap()
    );
    assert!(
        h.store
            .update_run(
                "b",
                t0() + Duration::hours(1),
                (1, RunStatus::Starting),
                &mut |r, _| r.status = RunStatus::Started
            )
            .unwrap()
    );
    let h0 = t0();
    let h1 = t0() + Duration::hours(1);
    let h2 = t0() + Duration::hours(2);

    // Open runs, oldest first (ties by schedule id).
    assert_eq!(
        run_keys(&h.store.runs(&RunQuery::open()).unwrap()),
        [("b", h0), ("a", h1), ("b", h1), ("a", h2), ("b", h2)]
    );
    assert_eq!(
        run_keys(&h.store.runs(&RunQuery::open().limit(2)).unwrap()),
        [("b", h0), ("a", h1)]
    );
    let open_a = RunQuery {
        schedule_id: Some("a".into()),
        ..RunQuery::open()
    };
    assert_eq!(
        run_keys(&h.store.runs(&open_a).unwrap()),
        [("a", h1), ("a", h2)]
    );

    // History, newest first.
    assert_eq!(
        run_keys(&h.store.runs(&RunQuery::history("a")).unwrap()),
        [("a", h2), ("a", h1), ("a", h0)]
    );
    assert_eq!(
        run_keys(&h.store.runs(&RunQuery::history("b").limit(1)).unwrap()),
        [("b", h2)]
    );
    assert_eq!(
        run_keys(&h.store.runs(&RunQuery::default()).unwrap()),
        [
            ("b", h2),
            ("a", h2),
            ("b", h1),
            ("a", h1),
            ("b", h0),
            ("a", h0)
        ]
    );
    assert!(
        h.store
            .runs(&RunQuery::history("nobody"))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        h.store.runs(&RunQuery::history("a")).unwrap()[2].status,
        RunStatus::Failed
    );

    // Limits outside 1..=MAX_RUNS_LIMIT.
    for bad in [0, MAX_RUNS_LIMIT + 1] {
        match h.store.runs(&RunQuery::default().limit(bad)) {
            Err(ExportError::InvalidRequest { field, .. }) => assert_eq!(field, "limit"),
            other => panic!("limit {bad}: {other:?}"),
        }
    }
    assert_eq!(
        h.store
            .runs(&RunQuery::default().limit(MAX_RUNS_LIMIT))
            .unwrap()
            .len(),
        6
    );
}

pub fn platforms_crud(h: &Harness) {
    assert!(h.store.list_platforms().unwrap().is_empty());
    let b = platform("b-csv");
    let a = platform("a-xlsx");
    h.store.insert_platform(&b).unwrap();
    h.store.insert_platform(&a).unwrap();
    assert_eq!(h.store.get_platform("b-csv").unwrap(), b);
    assert_eq!(
        h.store.list_platforms().unwrap(),
        vec![a.clone(), b.clone()]
    );

    let err = h.store.insert_platform(&platform("a-xlsx")).unwrap_err();
    assert_eq!(err.code(), "ALREADY_EXISTS");
    assert_eq!(err.to_string(), "platform `a-xlsx` already exists");

    let mut changed = a.clone();
    changed.description = "changed".into();
    changed.request.options.bom = true;
    changed.updated_at = t0() + mins(1);
    h.store.replace_platform(&changed).unwrap();
    assert_eq!(h.store.get_platform("a-xlsx").unwrap(), changed);
    assert_not_found(
        h.store.replace_platform(&platform("missing")),
        "platform",
        "missing",
    );
    assert_not_found(h.store.get_platform("missing"), "platform", "missing");
    assert!(h.store.get_platform("missing").is_err());

    assert_eq!(h.store.delete_platform("b-csv").unwrap(), b);
    assert_not_found(h.store.get_platform("b-csv"), "platform", "b-csv");
    assert_not_found(h.store.delete_platform("b-csv"), "platform", "b-csv");
    assert_eq!(h.store.list_platforms().unwrap(), vec![changed]);
}

pub fn delete_platform_refused_while_linked(h: &Harness) {
    let p = platform("shared");
    h.store.insert_platform(&p).unwrap();
    h.store.insert_platform(&platform("other")).unwrap();
    h.store
        .insert(&schedule("z-user", "u", platform_target("shared"), t0()))
        .unwrap();
    h.store
        .insert(&disabled(schedule(
            "a-user",
            "u",
            platform_target("shared"),
            t0(),
        )))
        .unwrap();
    h.store
        .insert(&schedule("elsewhere", "u", platform_target("other"), t0()))
        .unwrap();

    let err = h.store.delete_platform("shared").unwrap_err();
    assert_eq!(err.code(), "INVALID_STATE");
    assert_eq!(
        err.to_string(),
        "platform `shared` is used by schedule(s) a-user, z-user: cannot delete"
    );
    assert_eq!(h.store.get_platform("shared").unwrap(), p, "still there");

    // One moves to an inline request, the other is deleted: the platform may go.
    h.store
        .update("z-user", &mut |s| {
            s.target = request_target();
            Ok(())
        })
        .unwrap();
    assert_eq!(
        code(h.store.delete_platform("shared")),
        "INVALID_STATE",
        "a-user still uses it"
    );
    h.store.delete("a-user").unwrap();
    assert_eq!(h.store.delete_platform("shared").unwrap(), p);
    assert_not_found(h.store.get_platform("shared"), "platform", "shared");
    assert_eq!(code(h.store.delete_platform("other")), "INVALID_STATE");
}

pub fn handles_see_each_other(h: &Harness) {
    let other = h.open_more();
    h.store
        .insert(&schedule("s", "u", request_target(), t0()))
        .unwrap();
    h.store.insert_platform(&platform("p")).unwrap();
    assert_eq!(other.get("s").unwrap(), h.store.get("s").unwrap());
    assert_eq!(other.get_platform("p").unwrap(), platform("p"));
    assert_eq!(
        code(other.insert(&h.store.get("s").unwrap())),
        "ALREADY_EXISTS"
    );

    assert!(claim(&*other, "s", t0()));
    assert!(!claim(&*h.store, "s", t0()), "the other handle claimed it");
    assert_eq!(h.store.get("s").unwrap().stats.runs, 1);
    assert_eq!(h.store.runs(&RunQuery::open()).unwrap().len(), 1);
    assert!(
        h.store
            .update_run("s", t0(), (1, RunStatus::Starting), &mut |r, _| r.status =
                RunStatus::Missed)
            .unwrap()
    );
    assert!(other.runs(&RunQuery::open()).unwrap().is_empty());
    other.delete("s").unwrap();
    assert_not_found(h.store.get("s"), "schedule", "s");
}
