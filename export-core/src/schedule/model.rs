//! The [`Schedule`] model: what a recurring export runs, when, how it retries, and how it went.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::misfire::MisfirePolicy;
use super::trigger::Trigger;
use crate::error::{ExportError, Result};
use crate::job::{MAX_ATTEMPTS, Owner};
use crate::platform::PlatformStore;
use crate::request::{ExportRequest, Period, local_midnight};
use crate::temporal::DEFAULT_TIME_ZONE;

/// Longest schedule id and platform name.
pub const MAX_ID_LEN: usize = 64;

/// Checks a schedule id or platform name: 1 to [`MAX_ID_LEN`] characters among `a-z`, `0-9`,
/// `-`, `_` and `.`, starting with a letter or digit. Such names are safe in URLs, file names
/// and command lines.
///
/// # Errors
///
/// [`ExportError::InvalidRequest`] on `field`, quoting the name.
///
/// # Examples
///
/// ```
/// use export_core::schedule::check_id;
/// assert!(check_id("id", "opendata-monthly-xlsx").is_ok());
/// let err = check_id("id", "Bad Name").unwrap_err();
/// assert!(err.to_string().contains("`Bad Name`"), "{err}");
/// ```
pub fn check_id(field: &str, id: &str) -> Result<()> {
    let mut chars = id.chars();
    let ok = id.len() <= MAX_ID_LEN
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ExportError::request(
            field,
            format!(
                "`{id}` is not a valid name: 1 to {MAX_ID_LEN} characters among a-z, 0-9, `-`, `_`, `.`, starting with a letter or digit"
            ),
        ))
    }
}

/// What a schedule exports.
///
/// Serialised with a `kind` tag:
///
/// ```json
/// {"kind": "platform", "platform": "opendata-monthly-xlsx", "overrides": {"options": {"bom": true}}}
/// {"kind": "request", "request": {"schema": "trip", "format": "csv"}}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScheduleTarget {
    /// A saved [export platform](crate::platform::Platform), looked up when the schedule fires
    /// (so editing the platform changes the next runs), with optional overrides: a JSON merge
    /// patch on the platform's request (see
    /// [`Platform::request_with`](crate::platform::Platform::request_with)).
    Platform {
        /// The platform's name.
        platform: String,
        /// A JSON merge patch (RFC 7396) applied to the platform's request; `null` for none.
        #[serde(default)]
        overrides: serde_json::Value,
    },
    /// A request given inline.
    Request {
        /// The request each run exports (its period is replaced per the [`PeriodRule`]).
        request: Box<ExportRequest>,
    },
}

impl ScheduleTarget {
    /// A target on platform `name` without overrides.
    pub fn platform(name: impl Into<String>) -> ScheduleTarget {
        ScheduleTarget::Platform {
            platform: name.into(),
            overrides: serde_json::Value::Null,
        }
    }

    /// A target on an inline request.
    pub fn request(request: ExportRequest) -> ScheduleTarget {
        ScheduleTarget::Request {
            request: Box::new(request),
        }
    }

    /// The platform name, for a platform target.
    pub fn platform_name(&self) -> Option<&str> {
        match self {
            ScheduleTarget::Platform { platform, .. } => Some(platform),
            ScheduleTarget::Request { .. } => None,
        }
    }
}

/// Which period each run of a schedule exports, computed from the fire time in the schedule's
/// time zone (the cron trigger's zone; `Europe/Paris` for interval triggers).
///
/// # Examples
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use export_core::schedule::PeriodRule;
///
/// // Fired at 05:00 Paris time on 1 November 2026: October in Paris time.
/// let fire = Utc.with_ymd_and_hms(2026, 11, 1, 4, 0, 0).unwrap();
/// let period = PeriodRule::PreviousMonth.period(fire, chrono_tz::Europe::Paris).unwrap();
/// assert_eq!(period.start.to_rfc3339(), "2026-09-30T22:00:00+00:00"); // 1 Oct 00:00 CEST
/// assert_eq!(period.end.to_rfc3339(), "2026-10-31T23:00:00+00:00");   // 1 Nov 00:00 CET
/// assert!(PeriodRule::AsRequested.period(fire, chrono_tz::Europe::Paris).is_none());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodRule {
    /// Keep the request's period (or its schema's default when it has none).
    #[default]
    AsRequested,
    /// The calendar day before the fire time's day.
    PreviousDay,
    /// The week (Monday to Sunday) before the fire time's week.
    PreviousWeek,
    /// The calendar month before the fire time's month.
    PreviousMonth,
}

impl PeriodRule {
    /// The period a run fired at `fire_time` exports in zone `tz`; `None` for
    /// [`PeriodRule::AsRequested`].
    pub fn period(self, fire_time: DateTime<Utc>, tz: Tz) -> Option<Period> {
        let today = fire_time.with_timezone(&tz).date_naive();
        let span = |start: NaiveDate, end: NaiveDate| Period {
            start: local_midnight(start, tz),
            end: local_midnight(end, tz),
            time_zone: tz,
        };
        match self {
            PeriodRule::AsRequested => None,
            PeriodRule::PreviousDay => Some(span(today - Duration::days(1), today)),
            PeriodRule::PreviousWeek => {
                let monday =
                    today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
                Some(span(monday - Duration::days(7), monday))
            }
            PeriodRule::PreviousMonth => Some(Period::previous_month(fire_time, tz)),
        }
    }
}

/// How a schedule retries a run whose job failed.
///
/// Each run may take up to `max_attempts` jobs. A job that fails with a transient error (I/O,
/// storage, store, or a worker that stopped renewing its lease) is followed by a new job for
/// the same fire time, `delay` later (multiplied by `backoff` for each further attempt, at most
/// `max_delay`). A job that fails because the request is wrong is not retried. Scheduled jobs
/// get one attempt each: the schedule, not the worker, owns retries.
///
/// # Examples
///
/// ```
/// use chrono::Duration;
/// use export_core::schedule::RetryPolicy;
/// let policy = RetryPolicy { max_attempts: 4, delay: Duration::minutes(5), backoff: Some(2.0), ..RetryPolicy::default() };
/// assert_eq!(policy.delay_before(2), Duration::minutes(5));
/// assert_eq!(policy.delay_before(3), Duration::minutes(10));
/// assert_eq!(policy.delay_before(4), Duration::minutes(20));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Jobs per run, `1..=`[`MAX_ATTEMPTS`] (1: no retry). Default 3.
    pub max_attempts: u32,
    /// Wait before the second attempt (`delay_seconds`). Default 5 minutes.
    #[serde(rename = "delay_seconds", with = "seconds")]
    pub delay: Duration,
    /// Factor applied to the delay for each further attempt (at least 1); `None` keeps it fixed.
    pub backoff: Option<f64>,
    /// Longest wait between attempts (`max_delay_seconds`). Default 1 hour.
    #[serde(rename = "max_delay_seconds", with = "seconds")]
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            delay: Duration::minutes(5),
            backoff: None,
            max_delay: Duration::hours(1),
        }
    }
}

impl RetryPolicy {
    /// No retry: one job per run.
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The wait before attempt `attempt` (2 for the first retry): `delay × backoff^(attempt-2)`,
    /// at most `max_delay`; zero for the first attempt.
    pub fn delay_before(&self, attempt: u32) -> Duration {
        if attempt <= 1 {
            return Duration::zero();
        }
        let factor = self
            .backoff
            .unwrap_or(1.0)
            .powi(i32::try_from(attempt - 2).unwrap_or(i32::MAX));
        let millis = self.delay.num_milliseconds() as f64 * factor;
        let capped = self.max_delay.num_milliseconds() as f64;
        Duration::milliseconds(millis.min(capped) as i64)
    }

    /// Checks the ranges.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] on `retry.max_attempts`, `retry.delay_seconds`,
    /// `retry.backoff` or `retry.max_delay_seconds`.
    pub fn check(&self) -> Result<()> {
        if !(1..=MAX_ATTEMPTS).contains(&self.max_attempts) {
            return Err(ExportError::request(
                "retry.max_attempts",
                format!("{} is outside 1..={MAX_ATTEMPTS}", self.max_attempts),
            ));
        }
        if self.delay < Duration::zero() {
            return Err(ExportError::request(
                "retry.delay_seconds",
                "must not be negative",
            ));
        }
        if self.max_delay < self.delay {
            return Err(ExportError::request(
                "retry.max_delay_seconds",
                "must be at least the delay",
            ));
        }
        if let Some(b) = self.backoff
            && !(b.is_finite() && (1.0..=100.0).contains(&b))
        {
            return Err(ExportError::request(
                "retry.backoff",
                format!("{b} is outside 1..=100"),
            ));
        }
        Ok(())
    }
}

/// How a run ended up, or where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// The fire time is claimed and its job is being created (or waits for its retry delay).
    Starting,
    /// Its job exists and has not finished.
    Started,
    /// Its job succeeded.
    Succeeded,
    /// Its last job failed (attempts used up, or an error not worth retrying).
    Failed,
    /// Its job was cancelled or deleted before it finished.
    Cancelled,
    /// The fire time was missed by more than the misfire grace, and skipped.
    Missed,
}

impl RunStatus {
    /// The stable lower-case name (`started`, `succeeded`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Starting => "starting",
            RunStatus::Started => "started",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Missed => "missed",
        }
    }

    /// True while the run may still change (`starting`, `started`).
    pub fn is_open(self) -> bool {
        matches!(self, RunStatus::Starting | RunStatus::Started)
    }
}

impl std::str::FromStr for RunStatus {
    type Err = ExportError;

    fn from_str(s: &str) -> Result<RunStatus> {
        [
            RunStatus::Starting,
            RunStatus::Started,
            RunStatus::Succeeded,
            RunStatus::Failed,
            RunStatus::Cancelled,
            RunStatus::Missed,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
        .ok_or_else(|| ExportError::request("status", format!("unknown run status `{s}`")))
    }
}

/// Run statistics of a schedule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleStats {
    /// Fire times that started a run (retries are not counted again).
    pub runs: u64,
    /// Runs whose job succeeded.
    pub successes: u64,
    /// Runs that failed or were cancelled.
    pub failures: u64,
    /// Fire times skipped because they were missed by more than the grace.
    pub misfires: u64,
    /// The fire time of the last run (or misfire).
    pub last_run: Option<DateTime<Utc>>,
    /// The status of the last run.
    pub last_status: Option<RunStatus>,
    /// The error of the last failed run.
    pub last_error: Option<String>,
}

/// A recurring export.
///
/// Created with [`NewSchedule`] through a [`ScheduleManager`](super::ScheduleManager) (which
/// validates and audits) or directly in a [`ScheduleStore`](super::ScheduleStore).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Identifier (see [`check_id`]).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Who its jobs belong to.
    pub owner: Owner,
    /// What it exports.
    pub target: ScheduleTarget,
    /// Which period each run exports.
    #[serde(default)]
    pub period: PeriodRule,
    /// When it fires.
    pub trigger: Trigger,
    /// Disabled schedules do not fire.
    pub enabled: bool,
    /// How failed runs are retried.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// What happens to fire times noticed late.
    #[serde(default)]
    pub misfire: MisfirePolicy,
    /// How long its jobs are kept once finished (`retention_seconds`); `None` leaves it to the
    /// retention policy. It may shorten the policy's retention, never lengthen it: the
    /// scheduler keeps the shorter of the two ([`job_retention`](crate::retention::job_retention)).
    #[serde(default, rename = "retention_seconds", with = "optional_seconds")]
    pub retention: Option<Duration>,
    /// Run statistics.
    #[serde(default)]
    pub stats: ScheduleStats,
    /// The next fire time; `None` when disabled.
    pub next_run: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed by a user.
    pub updated_at: DateTime<Utc>,
}

impl Schedule {
    /// The time zone of its periods: the cron trigger's zone, `Europe/Paris` for intervals.
    pub fn time_zone(&self) -> Tz {
        match &self.trigger {
            Trigger::Cron(cron) => cron.time_zone(),
            Trigger::Interval(_) => DEFAULT_TIME_ZONE,
        }
    }

    /// The id of the job of attempt `attempt` for `fire_time`: a UUID v5 of the schedule (id and
    /// creation instant) and the fire time, so every scheduler computes the same id and the job
    /// store's unique key makes the creation happen once.
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use export_core::job::Owner;
    /// use export_core::request::{ExportRequest, Format};
    /// use export_core::schedule::{NewSchedule, ScheduleTarget, Trigger};
    ///
    /// let at = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    /// let s = NewSchedule::new("nightly", Owner::user("u-1"),
    ///         ScheduleTarget::request(ExportRequest::new("trip", Format::Csv)),
    ///         Trigger::cron("0 2 * * *", "Europe/Paris")?)
    ///     .build(at)?;
    /// let fire = Utc.with_ymd_and_hms(2026, 11, 2, 1, 0, 0).unwrap();
    /// assert_eq!(s.job_id(fire, 1), s.job_id(fire, 1));
    /// assert_ne!(s.job_id(fire, 1), s.job_id(fire, 2));
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn job_id(&self, fire_time: DateTime<Utc>, attempt: u32) -> Uuid {
        let name = format!(
            "export-core/schedule\n{}\n{}\n{}\n{attempt}",
            self.id,
            self.created_at.timestamp_micros(),
            fire_time.timestamp_micros()
        );
        Uuid::new_v5(&JOB_NAMESPACE, name.as_bytes())
    }

    /// The request of the run fired at `fire_time`: the target's request (the platform's, with
    /// the overrides applied, looked up in `platforms` now), with the period of the
    /// [`PeriodRule`] in the schedule's [time zone](Schedule::time_zone).
    ///
    /// # Errors
    ///
    /// [`ExportError::NotFound`] when the platform is gone; the errors of
    /// [`Platform::request_with`](crate::platform::Platform::request_with).
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use export_core::job::Owner;
    /// use export_core::request::{ExportRequest, Format};
    /// use export_core::schedule::{MemoryScheduleStore, NewSchedule, PeriodRule, ScheduleTarget, Trigger};
    ///
    /// let now = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
    /// let s = NewSchedule::new("daily", Owner::user("u-1"),
    ///         ScheduleTarget::request(ExportRequest::new("trip", Format::Csv)),
    ///         Trigger::cron("0 6 * * *", "Europe/Paris")?)
    ///     .period(PeriodRule::PreviousDay)
    ///     .build(now)?;
    /// let request = s.resolve_request(&MemoryScheduleStore::new(), s.next_run.unwrap())?;
    /// let period = request.period.unwrap();
    /// assert_eq!(period.start.to_rfc3339(), "2026-11-22T23:00:00+00:00"); // 23 Nov, Paris
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn resolve_request(
        &self,
        platforms: &dyn PlatformStore,
        fire_time: DateTime<Utc>,
    ) -> Result<ExportRequest> {
        let mut request = match &self.target {
            ScheduleTarget::Platform {
                platform,
                overrides,
            } => platforms.get_platform(platform)?.request_with(overrides)?,
            ScheduleTarget::Request { request } => (**request).clone(),
        };
        if let Some(period) = self.period.period(fire_time, self.time_zone()) {
            request.period = Some(period);
        }
        Ok(request)
    }

    /// Checks what can be checked without a store or a registry: id, name, retry policy.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] naming the field.
    pub fn check(&self) -> Result<()> {
        check_id("id", &self.id)?;
        if self.name.trim().is_empty() || self.name.len() > 200 {
            return Err(ExportError::request(
                "name",
                "must be 1 to 200 characters, not blank",
            ));
        }
        if self.owner.user_id.trim().is_empty() {
            return Err(ExportError::request("owner.user_id", "must not be empty"));
        }
        if let ScheduleTarget::Platform { platform, .. } = &self.target {
            check_id("platform", platform)?;
        }
        self.retry.check()?;
        if self.misfire.grace < Duration::zero() {
            return Err(ExportError::request(
                "misfire.grace_seconds",
                "must not be negative",
            ));
        }
        if self.retention.is_some_and(|r| r < Duration::zero()) {
            return Err(ExportError::request(
                "retention_seconds",
                "must not be negative",
            ));
        }
        Ok(())
    }
}

/// The namespace of scheduled job ids (a fixed random UUID).
const JOB_NAMESPACE: Uuid = Uuid::from_u128(0x6d1f_2c4a_8e3b_4f7a_9c21_5b0e_7a3d_91c4);

/// A new schedule as JSON gives it (an HTTP body, a binding's dict): the fields of
/// [`NewSchedule`], with the owner optional (the caller's by default) and every key checked.
///
/// # Examples
///
/// ```
/// use export_core::error::from_json;
/// use export_core::job::Owner;
/// use export_core::schedule::{PeriodRule, ScheduleSpec};
/// let spec: ScheduleSpec = from_json("schedule", r#"{
///     "id": "daily-products",
///     "target": {"kind": "platform", "platform": "products-csv"},
///     "trigger": {"kind": "cron", "expression": "0 6 * * *", "time_zone": "Europe/Paris"},
///     "period": "previous_day",
///     "retry": {"max_attempts": 5}
/// }"#)?;
/// let new = spec.into_new(&Owner::user("u-1"));
/// assert_eq!(new.owner.user_id, "u-1");
/// assert_eq!(new.period, PeriodRule::PreviousDay);
/// assert_eq!(new.retry.max_attempts, 5);
/// assert!(new.enabled);
///
/// let typo = from_json::<ScheduleSpec>("schedule", r#"{"id": "x", "target": {"kind": "platform", "platform": "p"},
///     "trigger": {"kind": "cron", "expresion": "0 6 * * *"}}"#).unwrap_err();
/// assert!(typo.to_string().contains("expresion"), "{typo}");
/// # Ok::<(), export_core::ExportError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// Identifier.
    pub id: String,
    /// Display name (default: the id).
    #[serde(default)]
    pub name: Option<String>,
    /// Who its jobs belong to (default: the caller; another owner needs `export.admin`).
    #[serde(default)]
    pub owner: Option<Owner>,
    /// What it exports.
    pub target: ScheduleTarget,
    /// Which period each run exports.
    #[serde(default)]
    pub period: PeriodRule,
    /// When it fires.
    pub trigger: Trigger,
    /// Whether it starts enabled (default true).
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// Retries.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Misfires.
    #[serde(default)]
    pub misfire: MisfirePolicy,
    /// Retention of its jobs, in whole seconds (default: the retention policy's).
    #[serde(default, rename = "retention_seconds", with = "optional_seconds")]
    pub retention: Option<Duration>,
}

fn enabled_by_default() -> bool {
    true
}

impl ScheduleSpec {
    /// The schedule to create, owned by `caller` unless the spec names an owner.
    pub fn into_new(self, caller: &Owner) -> NewSchedule {
        NewSchedule {
            id: self.id,
            name: self.name,
            owner: self.owner.unwrap_or_else(|| caller.clone()),
            target: self.target,
            period: self.period,
            trigger: self.trigger,
            enabled: self.enabled,
            retry: self.retry,
            misfire: self.misfire,
            retention: self.retention,
        }
    }
}

/// A schedule to create: the required parts, plus optional settings with defaults.
///
/// # Examples
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use export_core::job::Owner;
/// use export_core::schedule::{NewSchedule, PeriodRule, RetryPolicy, ScheduleTarget, Trigger};
///
/// let now = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
/// let schedule = NewSchedule::new("nightly-catalogue", Owner::user("u-1"),
///         ScheduleTarget::platform("catalogue-csv"), Trigger::cron("0 2 * * *", "Europe/Paris")?)
///     .name("Nightly catalogue")
///     .period(PeriodRule::PreviousDay)
///     .retry(RetryPolicy::none())
///     .build(now)?;
/// assert_eq!(schedule.next_run.unwrap().to_rfc3339(), "2026-11-24T01:00:00+00:00");
/// assert!(schedule.enabled);
/// # Ok::<(), export_core::ExportError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct NewSchedule {
    /// Identifier.
    pub id: String,
    /// Display name (default: the id).
    pub name: Option<String>,
    /// Who its jobs belong to.
    pub owner: Owner,
    /// What it exports.
    pub target: ScheduleTarget,
    /// Which period each run exports (default [`PeriodRule::AsRequested`]).
    pub period: PeriodRule,
    /// When it fires.
    pub trigger: Trigger,
    /// Whether it starts enabled (default true).
    pub enabled: bool,
    /// Retries (default [`RetryPolicy::default`]).
    pub retry: RetryPolicy,
    /// Misfires (default [`MisfirePolicy::default`]).
    pub misfire: MisfirePolicy,
    /// Retention of its jobs (default: the retention policy's; never longer than it).
    pub retention: Option<Duration>,
}

impl NewSchedule {
    /// A schedule `id` for `owner` exporting `target` on `trigger`, with the defaults.
    pub fn new(
        id: impl Into<String>,
        owner: Owner,
        target: ScheduleTarget,
        trigger: Trigger,
    ) -> NewSchedule {
        NewSchedule {
            id: id.into(),
            name: None,
            owner,
            target,
            period: PeriodRule::default(),
            trigger,
            enabled: true,
            retry: RetryPolicy::default(),
            misfire: MisfirePolicy::default(),
            retention: None,
        }
    }

    /// Sets the display name.
    pub fn name(mut self, name: impl Into<String>) -> NewSchedule {
        self.name = Some(name.into());
        self
    }

    /// Sets the period rule.
    pub fn period(mut self, period: PeriodRule) -> NewSchedule {
        self.period = period;
        self
    }

    /// Sets whether it starts enabled.
    pub fn enabled(mut self, enabled: bool) -> NewSchedule {
        self.enabled = enabled;
        self
    }

    /// Sets the retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> NewSchedule {
        self.retry = retry;
        self
    }

    /// Sets the misfire policy.
    pub fn misfire(mut self, misfire: MisfirePolicy) -> NewSchedule {
        self.misfire = misfire;
        self
    }

    /// Sets the retention of its jobs (capped by the retention policy's).
    pub fn retention(mut self, retention: Duration) -> NewSchedule {
        self.retention = Some(retention);
        self
    }

    /// The schedule as created at `now`: statistics empty, `next_run` the first fire time after
    /// `now` (none when disabled).
    ///
    /// # Errors
    ///
    /// Those of [`Schedule::check`] and [`Trigger::next_after`].
    pub fn build(self, now: DateTime<Utc>) -> Result<Schedule> {
        let next_run = if self.enabled {
            self.trigger.next_after(now)?
        } else {
            None
        };
        let schedule = Schedule {
            name: self.name.unwrap_or_else(|| self.id.clone()),
            id: self.id,
            owner: self.owner,
            target: self.target,
            period: self.period,
            trigger: self.trigger,
            enabled: self.enabled,
            retry: self.retry,
            misfire: self.misfire,
            retention: self.retention,
            stats: ScheduleStats::default(),
            next_run,
            created_at: now,
            updated_at: now,
        };
        schedule.check()?;
        Ok(schedule)
    }
}

/// One fire time of a schedule and what came of it. The store keeps one per
/// (schedule, fire time): that unique key is what makes a fire time run once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRun {
    /// The schedule.
    pub schedule_id: String,
    /// The fire time it stands for.
    pub fire_time: DateTime<Utc>,
    /// The attempt in progress or last made (1 for the first job).
    pub attempt: u32,
    /// The job of the current attempt; `None` for a missed fire time.
    pub job_id: Option<Uuid>,
    /// Where it is.
    pub status: RunStatus,
    /// The current attempt's job may not start before this instant (retry delay).
    pub not_before: Option<DateTime<Utc>>,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// When the fire time was claimed.
    pub created_at: DateTime<Utc>,
    /// When the run reached its final status.
    pub finished_at: Option<DateTime<Utc>>,
}

/// Serde for a [`Duration`] as whole seconds.
mod seconds {
    use chrono::Duration;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.num_seconds())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = i64::deserialize(d)?;
        Duration::try_seconds(secs).ok_or_else(|| serde::de::Error::custom("duration out of range"))
    }
}

/// Serde for an `Option<Duration>` as whole seconds.
mod optional_seconds {
    use chrono::Duration;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.num_seconds()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<i64>::deserialize(d)?
            .map(|secs| {
                Duration::try_seconds(secs)
                    .ok_or_else(|| serde::de::Error::custom("duration out of range"))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn previous_week_runs_monday_to_monday_in_the_zone() {
        // Wednesday 2026-11-25 10:00 Paris.
        let fire = Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap();
        let p = PeriodRule::PreviousWeek
            .period(fire, chrono_tz::Europe::Paris)
            .unwrap();
        assert_eq!(p.start.to_rfc3339(), "2026-11-15T23:00:00+00:00");
        assert_eq!(p.end.to_rfc3339(), "2026-11-22T23:00:00+00:00");
    }

    #[test]
    fn previous_day_across_the_autumn_change_is_25_hours() {
        let fire = Utc.with_ymd_and_hms(2026, 10, 26, 4, 0, 0).unwrap();
        let p = PeriodRule::PreviousDay
            .period(fire, chrono_tz::Europe::Paris)
            .unwrap();
        assert_eq!(p.end - p.start, Duration::hours(25));
    }

    #[test]
    fn retry_policy_rejects_bad_ranges() {
        let bad = [
            RetryPolicy {
                max_attempts: 0,
                ..RetryPolicy::default()
            },
            RetryPolicy {
                backoff: Some(0.5),
                ..RetryPolicy::default()
            },
            RetryPolicy {
                delay: Duration::hours(2),
                ..RetryPolicy::default()
            },
        ];
        let fields: Vec<String> = bad
            .iter()
            .map(|p| match p.check().unwrap_err() {
                ExportError::InvalidRequest { field, .. } => field,
                other => panic!("{other}"),
            })
            .collect();
        assert_eq!(
            fields,
            [
                "retry.max_attempts",
                "retry.backoff",
                "retry.max_delay_seconds"
            ]
        );
    }

    #[test]
    fn backoff_is_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            delay: Duration::minutes(10),
            backoff: Some(3.0),
            max_delay: Duration::hours(1),
        };
        assert_eq!(p.delay_before(1), Duration::zero());
        assert_eq!(p.delay_before(3), Duration::minutes(30));
        assert_eq!(p.delay_before(4), Duration::hours(1));
    }

    #[test]
    fn schedule_round_trips_through_json() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        let s = NewSchedule::new(
            "a",
            Owner::user("u"),
            ScheduleTarget::platform("p"),
            Trigger::cron("0 2 * * *", "Europe/Paris").unwrap(),
        )
        .retention(Duration::days(7))
        .build(now)
        .unwrap();
        let json = serde_json::to_string(&s).unwrap();
        let back: Schedule = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }
}
