//! Fuzzes the cron expression parser and the fire-time search.
//!
//! Input: UTF-8 text `EXPRESSION` or `EXPRESSION|TIME_ZONE` (default zone Europe/Paris).
//! Invariants: parsing never panics; an accepted expression has a next fire time strictly after
//! each probe instant (some on DST change days), and the one after that is later still.
//!
//! Run from `fuzz/` (see its README): `RUSTC_BOOTSTRAP=1 cargo fuzz run cron_parse -- -dict=dict/cron.dict`.

#![no_main]

use chrono::{DateTime, Duration, TimeZone, Utc};
use export_core::schedule::{CronExpr, Trigger};
use libfuzzer_sys::fuzz_target;

fn probes() -> [DateTime<Utc>; 7] {
    let at = |y, mo, d, h, mi, s| {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("valid probe instant")
    };
    [
        DateTime::UNIX_EPOCH,
        at(2026, 1, 1, 0, 0, 0),
        at(2026, 3, 29, 0, 59, 59),
        at(2026, 3, 29, 1, 0, 0),
        at(2026, 10, 25, 0, 30, 0),
        at(2026, 10, 25, 1, 30, 0) + Duration::milliseconds(500),
        at(2100, 2, 28, 23, 59, 59),
    ]
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (expression, zone) = text.split_once('|').unwrap_or((text, "Europe/Paris"));
    let parsed = CronExpr::parse(expression);
    let Ok(trigger) = Trigger::cron(expression, zone) else {
        return;
    };
    assert!(
        parsed.is_ok(),
        "{expression:?}: the trigger accepted what the parser refused"
    );
    for after in probes() {
        let next = match trigger.next_after(after) {
            Ok(Some(next)) => next,
            other => panic!("{expression:?} in {zone}: next_after({after}) = {other:?}"),
        };
        assert!(
            next > after,
            "{expression:?} in {zone}: {next} is not after {after}"
        );
        match trigger.next_after(next) {
            Ok(Some(then)) => assert!(then > next, "{expression:?} in {zone}: {then} <= {next}"),
            other => panic!("{expression:?} in {zone}: next_after({next}) = {other:?}"),
        }
    }
});
