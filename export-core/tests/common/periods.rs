//! Trip export periods built from the real clock, for the tests that run on it (the CLI, workers
//! on `SystemClock`, services): a fixed month would pass the 1,096-day age limit one day and
//! every test on it would start failing.

#![allow(dead_code)]

use chrono::{DateTime, Duration, Utc};
use export_core::request::Period;
use export_core::schema::trip::default_period;
use export_core::temporal::DEFAULT_TIME_ZONE;

/// The last calendar month in Europe/Paris that ended at least 5 days ago: every trip export
/// accepts it today (the user rule included), whatever today is.
pub fn recent_month() -> Period {
    default_period(Utc::now(), DEFAULT_TIME_ZONE)
}

/// The first day of [`recent_month`] (no month changes its clocks on the 1st in Europe/Paris,
/// so the day is 24 hours).
pub fn recent_day() -> Period {
    let month = recent_month();
    Period::new(
        month.start,
        month.start + Duration::days(1),
        month.time_zone,
    )
    .expect("a day")
}

/// The local date (`YYYY-MM-DD`, Europe/Paris) of `instant`, as the CLI's `--start`/`--end` take.
pub fn local_date(instant: DateTime<Utc>) -> String {
    instant
        .with_timezone(&DEFAULT_TIME_ZONE)
        .format("%Y-%m-%d")
        .to_string()
}

/// `YYYY-MM` of the month [`recent_month`] starts in, as file names show it.
pub fn month_label(period: &Period) -> String {
    period
        .start
        .with_timezone(&period.time_zone)
        .format("%Y-%m")
        .to_string()
}
