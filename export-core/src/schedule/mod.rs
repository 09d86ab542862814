//! Schedules: when a recurring export fires.
//!
//! This module holds the pure logic: [`Trigger`]s (a cron expression in a time zone, or a fixed
//! interval), their fire times ([`Trigger::next_after`], [`Trigger::upcoming`]) and the misfire
//! policy ([`due_fire`]). It touches no store and no clock.
//!
//! # Triggers
//!
//! ```json
//! {"kind": "cron", "expression": "0 2 * * *", "time_zone": "Europe/Paris"}
//! {"kind": "interval", "every_seconds": 900, "anchor": "2026-01-01T00:00:00Z"}
//! ```
//!
//! - **cron**: a cron expression evaluated on local wall-clock time in an IANA time zone
//!   (`time_zone`, default `Europe/Paris`; an unknown zone such as `Mars/Olympus` is an error).
//! - **interval**: fires at `anchor`, `anchor + every`, `anchor + 2 × every`, ... (never before
//!   the anchor). `every` is a whole number of seconds, at least 1; `every_minutes` is accepted
//!   on input instead of `every_seconds`. The anchor defaults to 1970-01-01T00:00:00Z, so
//!   `every_minutes: 15` fires at :00, :15, :30, :45 UTC. Intervals are absolute durations: a
//!   90-minute interval stays 90 minutes apart across DST changes.
//!
//! # Cron syntax
//!
//! The 5-field form written in crontab, Celery beat and BullMQ, or 6 fields with seconds first
//! (as in BullMQ / node-cron / Quartz):
//!
//! ```text
//! ┌──────────── second        0-59          (6-field form only)
//! │ ┌────────── minute        0-59
//! │ │ ┌──────── hour          0-23
//! │ │ │ ┌────── day of month  1-31, L (last day of the month)
//! │ │ │ │ ┌──── month         1-12 or JAN-DEC
//! │ │ │ │ │ ┌── day of week   0-7 or SUN-SAT (0 and 7 are both Sunday)
//! * * * * * *
//! ```
//!
//! Each field is a comma-separated list of elements:
//!
//! | element | meaning |
//! |---|---|
//! | `*` | every value (`?` is accepted as a synonym in the two day fields) |
//! | `5` | one value |
//! | `1-5`, `MON-FRI` | an inclusive range; in day of week a range may end on Sunday (`FRI-SUN`, `5-7`, `5-0`) |
//! | `*/15`, `0-30/10` | every 15th value of the field, every 10th value of the range |
//! | `5/20` | from 5 to the end of the field, every 20 (`5,25,45` for minutes) |
//! | `L` | day of month only: the last day of each month (28, 29, 30 or 31) |
//!
//! Names (`JAN`-`DEC`, `SUN`-`SAT`) are three English letters, in any case. Shortcuts:
//! `@yearly` = `@annually` = `0 0 1 1 *`, `@monthly` = `0 0 1 * *`, `@weekly` = `0 0 * * 0`,
//! `@daily` = `@midnight` = `0 0 * * *`, `@hourly` = `0 * * * *`.
//!
//! Not supported, each refused with a clear error: `@reboot`, `W` (nearest weekday), `#` (nth
//! weekday of the month), `L` in day of week, a year field (7 fields). Every error is an
//! [`ExportError::InvalidRequest`](crate::ExportError::InvalidRequest) on field `expression`
//! that quotes the offending field, for example
//! ``invalid `expression`: minute field "61": 61 is out of range 0-59``.
//!
//! An expression that can never fire (`0 0 30 2 *`, `0 0 31 4 *`) is refused at construction
//! ("never fires"), so every accepted trigger has a next fire time: `next_after` returns
//! `Ok(None)` only beyond the last date chrono can represent. `0 0 29 2 *` is accepted: it fires
//! on 29 February of leap years.
//!
//! ## Day of month and day of week together
//!
//! When **both** day fields are restricted, a day matches if **either** matches:
//! `0 9 1 * MON` fires at 09:00 on the 1st of each month *and* on every Monday. When one of them
//! starts with `*` (or `?`), only the other restricts the day (`0 9 * * MON`: Mondays only;
//! `0 0 */2 * MON`: Mondays that are odd days of the month). This is what POSIX crontab
//! specifies, what Vixie cron and cronie do (a field "restricts" unless its text starts with
//! `*`, so `*/2` does not), and what BullMQ's cron-parser does; it is what people who write
//! crontab lines expect, and what crontab.guru shows. Note that Celery beat's `crontab` ANDs the
//! two fields (celery/celery#4307): a Celery schedule that sets both day fields must be split in
//! two (or rewritten) when moved here. Quartz forbids setting both, and the `cron` crate ANDs
//! them, which is one reason this module does not use it (see below).
//!
//! # Time zones and DST
//!
//! The expression is matched against local wall-clock time in the trigger's zone, then each
//! matching local time becomes an instant:
//!
//! - **Spring forward** (a gap): a local time that does not exist fires once, at the first valid
//!   instant after the gap. In `Europe/Paris` on 2026-03-29, clocks jump from 02:00 to 03:00, so
//!   a daily `30 2 * * *` fires at 03:00 local (01:00 UTC) that day.
//! - **Fall back** (an overlap): a local time that occurs twice fires once, at its first
//!   occurrence. On 2026-10-25, 02:30 happens at 00:30 UTC and again at 01:30 UTC; `30 2 * * *`
//!   fires at 00:30 UTC only.
//! - **Expressions whose hour field is every hour** (`*`, `*/1`, `0-23`; for example
//!   `0 * * * *`, `*/15 * * * *`, `* * * * * *`) instead follow real instants: they fire in both
//!   occurrences of a repeated hour and skip local times that do not exist. `0 * * * *` fires
//!   every real hour on both change days, with no duplicate instant and no gap beyond the
//!   missing local hour: on 2026-03-29 at 00:00, 01:00, 02:00 UTC (01:00 CET, 03:00 CEST,
//!   04:00 CEST); on 2026-10-25 at 00:00, 01:00, 02:00 UTC (02:00 CEST, 02:00 CET, 03:00 CET).
//!   Moving a missing 02:00 to 03:00 would make it collide with the real 03:00, and a
//!   repeated 02:00 is a genuine new hour for an hourly job. This is also how Vixie cron treats
//!   "wildcard" jobs across DST changes, while jobs at a fixed hour run once.
//!
//! Several local times in one gap all resolve to the same instant, which fires once (a
//! `*/15 2 * * *` schedule fires once at 03:00 on the spring-forward day).
//!
//! ## Why not the `cron` crate
//!
//! The `cron` crate (0.15–0.17) wants 6 or 7 fields with Sunday = 1, requires day of month
//! **and** day of week to match, and simply skips local times that fall in a DST gap (a daily
//! 02:30 job would not run at all on the spring-forward day). Translating crontab syntax to it
//! would still leave those two semantics wrong, so [`CronExpr`] parses crontab syntax itself into
//! bit sets and matches local calendar fields directly; [`CronTrigger`] applies the DST rules
//! above using chrono-tz's exact gap boundaries. The matcher is small (a field-by-field
//! "next match" search), has no allocation per call, and is fuzzed (`fuzz/fuzz_targets/cron_parse.rs`).
//!
//! # Misfires
//!
//! [`due_fire`] decides what a scheduler tick does with a schedule whose `next_run` has come:
//! run it once if it is at most [`MisfirePolicy::grace`] late, otherwise skip it and record a
//! misfire. In both cases the new `next_run` is the first fire time after *now*: a scheduler
//! that was stopped for a day runs nothing in a burst.
//!
//! # Examples
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use export_core::schedule::Trigger;
//!
//! let t = Trigger::cron("0 2 * * *", "Europe/Paris").unwrap();
//! let after = Utc.with_ymd_and_hms(2026, 3, 27, 12, 0, 0).unwrap();
//! let next: Vec<String> = t.upcoming(after, 3).iter().map(|t| t.to_rfc3339()).collect();
//! assert_eq!(next, [
//!     "2026-03-28T01:00:00+00:00", // 02:00 CET
//!     "2026-03-29T01:00:00+00:00", // 02:00 does not exist: 03:00 CEST
//!     "2026-03-30T00:00:00+00:00", // 02:00 CEST
//! ]);
//! ```

pub(crate) mod builtin;
pub(crate) mod cron_expr;
pub(crate) mod manager;
pub(crate) mod memory;
pub(crate) mod misfire;
pub(crate) mod model;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
pub(crate) mod scheduler;
pub(crate) mod sqlite;
pub(crate) mod store;
pub(crate) mod trigger;

pub use builtin::{
    MONTHLY_OPENDATA, MONTHLY_OPENDATA_CRON, MONTHLY_OPENDATA_ZONE, monthly_opendata_platforms,
    monthly_opendata_schedules,
};
pub use cron_expr::CronExpr;
pub use manager::{ScheduleChanges, ScheduleManager};
pub use memory::MemoryScheduleStore;
pub use misfire::{Decision, MisfirePolicy, due_fire};
pub use model::{
    MAX_ID_LEN, NewSchedule, PeriodRule, RetryPolicy, RunStatus, Schedule, ScheduleRun,
    ScheduleSpec, ScheduleStats, ScheduleTarget, check_id,
};
#[cfg(feature = "postgres")]
pub use postgres::PgScheduleStore;
pub use scheduler::{FinishedRun, FiredJob, Scheduler, SchedulerConfig, TickReport};
pub use sqlite::SqliteScheduleStore;
pub use store::{MAX_RUNS_LIMIT, RunQuery, ScheduleQuery, ScheduleStore};
pub use trigger::{CronTrigger, IntervalTrigger, Trigger};
