//! The [`ScheduleStore`] trait: where schedules and their runs live.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::model::{RunStatus, Schedule, ScheduleRun};
use crate::error::{ExportError, Result};

/// The largest page of [`ScheduleStore::runs`].
pub const MAX_RUNS_LIMIT: u32 = 1000;

/// Which schedules [`ScheduleStore::list`] returns.
///
/// # Examples
///
/// ```
/// use export_core::schedule::ScheduleQuery;
/// let q = ScheduleQuery::default().owner("u-1").platform("opendata-monthly-xlsx");
/// assert_eq!(q.owner_user_id.as_deref(), Some("u-1"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleQuery {
    /// Only schedules of this owner.
    pub owner_user_id: Option<String>,
    /// Only schedules on this platform.
    pub platform: Option<String>,
    /// Only enabled (or only disabled) schedules.
    pub enabled: Option<bool>,
}

impl ScheduleQuery {
    /// Keeps the schedules of `user_id`.
    pub fn owner(mut self, user_id: impl Into<String>) -> ScheduleQuery {
        self.owner_user_id = Some(user_id.into());
        self
    }

    /// Keeps the schedules on platform `name`.
    pub fn platform(mut self, name: impl Into<String>) -> ScheduleQuery {
        self.platform = Some(name.into());
        self
    }

    /// Keeps enabled (`true`) or disabled (`false`) schedules.
    pub fn enabled(mut self, enabled: bool) -> ScheduleQuery {
        self.enabled = Some(enabled);
        self
    }

    /// True when `schedule` passes the query.
    pub fn matches(&self, schedule: &Schedule) -> bool {
        self.owner_user_id
            .as_ref()
            .is_none_or(|o| *o == schedule.owner.user_id)
            && self
                .platform
                .as_ref()
                .is_none_or(|p| schedule.target.platform_name() == Some(p.as_str()))
            && self.enabled.is_none_or(|e| e == schedule.enabled)
    }
}

/// Which runs [`ScheduleStore::runs`] returns.
///
/// # Examples
///
/// ```
/// use export_core::schedule::RunQuery;
/// let q = RunQuery::open().limit(10);
/// assert!(q.open_only);
/// assert!(RunQuery::history("nightly").limit(5).schedule_id.is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunQuery {
    /// Only runs of this schedule.
    pub schedule_id: Option<String>,
    /// Only open runs (`starting`, `started`), oldest fire time first; otherwise newest first.
    pub open_only: bool,
    /// Most runs returned, `1..=`[`MAX_RUNS_LIMIT`].
    pub limit: u32,
}

impl Default for RunQuery {
    fn default() -> Self {
        RunQuery {
            schedule_id: None,
            open_only: false,
            limit: 50,
        }
    }
}

impl RunQuery {
    /// The open runs of every schedule, oldest first (what the scheduler follows).
    pub fn open() -> RunQuery {
        RunQuery {
            open_only: true,
            limit: 100,
            ..RunQuery::default()
        }
    }

    /// The runs of schedule `id`, newest first.
    pub fn history(id: impl Into<String>) -> RunQuery {
        RunQuery {
            schedule_id: Some(id.into()),
            ..RunQuery::default()
        }
    }

    /// Sets the page size.
    pub fn limit(mut self, limit: u32) -> RunQuery {
        self.limit = limit;
        self
    }

    /// Checks the limit.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] on `limit`.
    pub fn check(&self) -> Result<()> {
        if (1..=MAX_RUNS_LIMIT).contains(&self.limit) {
            Ok(())
        } else {
            Err(ExportError::request(
                "limit",
                format!("{} is outside 1..={MAX_RUNS_LIMIT}", self.limit),
            ))
        }
    }
}

/// Where schedules and their runs live.
///
/// Implementations: [`MemoryScheduleStore`](super::MemoryScheduleStore),
/// [`SqliteScheduleStore`](super::SqliteScheduleStore) and `PgScheduleStore` (feature
/// `postgres`). Each also implements [`PlatformStore`](crate::platform::PlatformStore), so one
/// database holds schedules and the platforms they refer to.
///
/// The store enforces the one rule that makes schedules safe with several schedulers: a fire
/// time is claimed once. [`claim_fire`](ScheduleStore::claim_fire) succeeds for one caller only
/// (compare-and-set on `next_run`, plus a unique key on schedule id and fire time), and
/// [`update_run`](ScheduleStore::update_run) succeeds only from the state the caller saw.
///
/// Like the [job stores](crate::job::JobStore), the trait is synchronous and every operation is
/// one short transaction; call it from `spawn_blocking` in async code.
pub trait ScheduleStore: Send + Sync {
    /// The backend's name (`memory`, `sqlite`, `postgres`).
    fn backend(&self) -> &'static str;

    /// Saves a new schedule.
    ///
    /// # Errors
    ///
    /// [`ExportError::AlreadyExists`] when a schedule with the same id exists;
    /// [`ExportError::Store`].
    fn insert(&self, schedule: &Schedule) -> Result<()>;

    /// Schedule `id`.
    ///
    /// # Errors
    ///
    /// [`ExportError::NotFound`] (kind `schedule`); [`ExportError::Store`].
    fn get(&self, id: &str) -> Result<Schedule>;

    /// The schedules passing `query`, by id.
    ///
    /// # Errors
    ///
    /// [`ExportError::Store`].
    fn list(&self, query: &ScheduleQuery) -> Result<Vec<Schedule>>;

    /// Loads schedule `id`, applies `f` and saves it, in one transaction; returns the saved
    /// schedule. Nothing is saved when `f` fails.
    ///
    /// # Errors
    ///
    /// [`ExportError::NotFound`]; the error of `f`; [`ExportError::Store`].
    fn update(&self, id: &str, f: &mut dyn FnMut(&mut Schedule) -> Result<()>) -> Result<Schedule>;

    /// Deletes schedule `id` and its runs (the jobs it created stay); returns it.
    ///
    /// # Errors
    ///
    /// [`ExportError::NotFound`]; [`ExportError::Store`].
    fn delete(&self, id: &str) -> Result<Schedule>;

    /// Enabled schedules whose `next_run` is at or before `now`, earliest first, at most `limit`.
    ///
    /// # Errors
    ///
    /// [`ExportError::Store`].
    fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Schedule>>;

    /// The earliest `next_run` of the enabled schedules, to know how long to sleep.
    ///
    /// # Errors
    ///
    /// [`ExportError::Store`].
    fn next_due(&self) -> Result<Option<DateTime<Utc>>>;

    /// Claims `run.fire_time` of schedule `run.schedule_id`: in one transaction, when the
    /// schedule is enabled, its `next_run` is still `expected_next_run` and no run exists for
    /// that fire time, applies `f` to the schedule (new `next_run`, statistics), saves it and
    /// inserts `run`. Returns `false`, changing nothing, when another scheduler got there first
    /// or the schedule changed meanwhile.
    ///
    /// # Errors
    ///
    /// [`ExportError::NotFound`] when the schedule is gone; [`ExportError::Store`].
    fn claim_fire(
        &self,
        run: &ScheduleRun,
        expected_next_run: DateTime<Utc>,
        f: &mut dyn FnMut(&mut Schedule),
    ) -> Result<bool>;

    /// The runs passing `query`.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] on a bad limit; [`ExportError::Store`].
    fn runs(&self, query: &RunQuery) -> Result<Vec<ScheduleRun>>;

    /// Changes the run of `schedule_id` at `fire_time` and its schedule in one transaction,
    /// when the run is still at attempt `expected.0` in status `expected.1`: applies `f` to both
    /// and saves them. Returns `false`, changing nothing, when the run moved on (another
    /// scheduler handled it) or no longer exists (its schedule was deleted).
    ///
    /// # Errors
    ///
    /// [`ExportError::Store`].
    fn update_run(
        &self,
        schedule_id: &str,
        fire_time: DateTime<Utc>,
        expected: (u32, RunStatus),
        f: &mut dyn FnMut(&mut ScheduleRun, &mut Schedule),
    ) -> Result<bool>;
}

/// The error for a missing schedule.
pub(crate) fn schedule_not_found(id: &str) -> ExportError {
    ExportError::NotFound {
        kind: "schedule",
        id: id.to_string(),
    }
}

/// The error for a duplicate schedule id.
pub(crate) fn duplicate_schedule(id: &str) -> ExportError {
    ExportError::already_exists("schedule", id)
}

/// The rule of [`ScheduleStore::claim_fire`] once the schedule is loaded: may the caller claim?
pub(crate) fn may_claim(schedule: &Schedule, expected_next_run: DateTime<Utc>) -> bool {
    schedule.enabled && schedule.next_run == Some(expected_next_run)
}

/// The rule of [`ScheduleStore::update_run`] once the run is loaded.
pub(crate) fn may_update(run: &ScheduleRun, expected: (u32, RunStatus)) -> bool {
    run.attempt == expected.0 && run.status == expected.1
}
