//! The audit log: who created, ran, downloaded, cancelled or deleted which export, with what
//! filters, how many rows, and at which risk level.
//!
//! # What is audited
//!
//! Every export is traced with its user (and organisation), format, filters, row count (once
//! known) and risk level:
//!
//! - [`ExportService`](crate::service::ExportService): create, download (and download links),
//!   cancel, delete, each recorded before it takes effect;
//! - the [`Scheduler`](crate::schedule::Scheduler) (with
//!   [`with_audit`](crate::schedule::Scheduler::with_audit)): a `create` event for each job it
//!   makes, by the schedule's owner, its detail naming the schedule;
//! - the [`Worker`](crate::worker::Worker) (with
//!   [`with_audit`](crate::worker::Worker::with_audit)): an `export` event with the row count
//!   before a job's file is published (a run whose event cannot be written publishes nothing
//!   and is retried), and a `fail` event for each failed run;
//! - a direct [`Exporter`](crate::export::Exporter) run given an [`ExportAudit`]: an `export`
//!   event when it finishes, before [`run_to_path`](crate::export::Exporter::run_to_path)
//!   publishes the file;
//! - schedule and platform changes, and the purge (`expire`, by
//!   [`RETENTION_ACTOR`](crate::retention::RETENTION_ACTOR)).
//!
//! # What survives a purge
//!
//! When [`Purger::purge`](crate::retention::Purger::purge) anonymises a job, the actor of every
//! event about it becomes a keyed pseudonym ([`Pseudonymiser`]: `pseud:` + HMAC-SHA256 under
//! the deployment's audit secret). The action, time, job id, format, schema, audience, filters,
//! row count and risk stay, so counts and accountability remain without identity. The SQLite
//! and PostgreSQL logs then [`scrub`](AuditLog::scrub) their files and the JSON Lines log is
//! rewritten whole, so no old copy of the ids stays in them. An audit retention
//! ([`Purger::with_audit_retention`](crate::retention::Purger::with_audit_retention)) deletes
//! events older than it.
//!
//! | log | for |
//! |---|---|
//! | [`MemoryAuditLog`] | tests, single-process tools |
//! | [`SqliteAuditLog`] | beside the SQLite job store (may share its file) |
//! | `PgAuditLog` (feature `postgres`) | beside the PostgreSQL job store, in its pool and schema |
//! | [`JsonlAuditLog`] | an append-only JSON Lines file, for log shippers |
//!
//! Risk levels follow the catalogue seed: exports of personal data (the trip schema's
//! `operator` and `territory` audiences, and every generic schema, whose content the library
//! cannot judge) are [`RiskLevel::Medium`]; opendata exports are [`RiskLevel::Low`].
//!
//! # Examples
//!
//! ```
//! use chrono::Utc;
//! use export_core::audit::{AuditAction, AuditEvent, AuditLog, AuditQuery, MemoryAuditLog, RiskLevel};
//! use export_core::request::{Audience, ExportRequest, Format};
//!
//! let log = MemoryAuditLog::new();
//! let mut request = ExportRequest::new("trip", Format::Xlsx);
//! request.audience = Some(Audience::Operator);
//! let event = AuditEvent::new(AuditAction::Create, "u-1", Some("op-7".into()), Utc::now())
//!     .with_request(&request);
//! assert_eq!(event.risk, RiskLevel::Medium);
//! log.record(&event)?;
//! let found = log.list(&AuditQuery::default().actor("u-1"))?;
//! assert_eq!(found, vec![event]);
//! # Ok::<(), export_core::ExportError>(())
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{ExportError, Result};
use crate::job::ExportJob;
use crate::request::{Audience, ExportRequest, Format};

mod hook;
mod jsonl;
#[cfg(feature = "postgres")]
mod postgres;
mod pseudonym;
mod sqlite;

pub use hook::ExportAudit;
pub use jsonl::JsonlAuditLog;
#[cfg(feature = "postgres")]
pub use postgres::PgAuditLog;
pub use pseudonym::{MIN_SECRET_LEN, PSEUDONYM_PREFIX, Pseudonymiser, is_pseudonym};
pub use sqlite::SqliteAuditLog;

/// Emits the `tracing` error event of an audit event that could not be recorded (the caller
/// still returns the error: what the event guards does not happen unaudited). Names the action
/// and the job, never the actor.
pub(crate) fn trace_failure(event: &AuditEvent, error: &ExportError) {
    tracing::error!(
        action = %event.action,
        audit_event_id = %event.id,
        job_id = event.job_id.map(tracing::field::display),
        error = %error,
        "audit event not recorded"
    );
}

/// Events [`AuditQuery::default`] returns at most.
pub const DEFAULT_AUDIT_LIMIT: u32 = 100;

/// Most events one [`AuditQuery`] may return.
pub const MAX_AUDIT_LIMIT: u32 = 10_000;

/// What was done.
///
/// # Examples
///
/// ```
/// use export_core::audit::AuditAction;
/// assert_eq!(AuditAction::ScheduleChange.to_string(), "schedule_change");
/// assert_eq!("download".parse::<AuditAction>()?, AuditAction::Download);
/// # Ok::<(), export_core::ExportError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditAction {
    /// An export job was created.
    Create,
    /// An export's file was downloaded (or a download link handed out).
    Download,
    /// An export was cancelled.
    Cancel,
    /// An export was deleted by its owner.
    Delete,
    /// Retention expired an export (file deleted, job anonymised).
    Expire,
    /// A schedule was created, changed, enabled, disabled or removed.
    ScheduleChange,
    /// An export platform (preset) was created, changed or removed.
    PlatformChange,
    /// An export ran to its end and its file was written (row count set): a job's run by a
    /// worker (before the file is published), or a direct [`Exporter`](crate::export::Exporter)
    /// run with an [`ExportAudit`].
    Export,
    /// A job's run failed (the detail says why, and whether it is retried).
    Fail,
}

impl AuditAction {
    /// Every action, in declaration order.
    pub const ALL: &'static [AuditAction] = &[
        AuditAction::Create,
        AuditAction::Download,
        AuditAction::Cancel,
        AuditAction::Delete,
        AuditAction::Expire,
        AuditAction::ScheduleChange,
        AuditAction::PlatformChange,
        AuditAction::Export,
        AuditAction::Fail,
    ];

    /// The snake-case name stored in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Create => "create",
            AuditAction::Download => "download",
            AuditAction::Cancel => "cancel",
            AuditAction::Delete => "delete",
            AuditAction::Expire => "expire",
            AuditAction::ScheduleChange => "schedule_change",
            AuditAction::PlatformChange => "platform_change",
            AuditAction::Export => "export",
            AuditAction::Fail => "fail",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditAction {
    type Err = ExportError;

    fn from_str(s: &str) -> Result<AuditAction> {
        AuditAction::ALL
            .iter()
            .copied()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| ExportError::request("action", format!("unknown audit action `{s}`")))
    }
}

/// How sensitive the exported data is.
///
/// # Examples
///
/// ```
/// use export_core::audit::RiskLevel;
/// assert_eq!("medium".parse::<RiskLevel>()?, RiskLevel::Medium);
/// assert!(RiskLevel::High > RiskLevel::Low);
/// # Ok::<(), export_core::ExportError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RiskLevel {
    /// Public data (opendata).
    Low,
    /// Personal data (operator, territory audiences; generic schemas).
    Medium,
    /// Reserved for exports a deployment flags as highly sensitive.
    High,
}

impl RiskLevel {
    /// The lower-case name stored in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
        }
    }
}

impl fmt::Display for RiskLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RiskLevel {
    type Err = ExportError;

    fn from_str(s: &str) -> Result<RiskLevel> {
        match s {
            "low" => Ok(RiskLevel::Low),
            "medium" => Ok(RiskLevel::Medium),
            "high" => Ok(RiskLevel::High),
            _ => Err(ExportError::request(
                "risk",
                format!("unknown risk level `{s}`; expected one of: low, medium, high"),
            )),
        }
    }
}

/// The risk level of an export: [`RiskLevel::Low`] for the opendata audience,
/// [`RiskLevel::Medium`] for personal-data audiences and for generic schemas (whose content
/// the library cannot judge), and for a trip request without audience.
///
/// # Examples
///
/// ```
/// use export_core::audit::{risk_for, RiskLevel};
/// use export_core::request::{Audience, ExportRequest, Format};
/// let mut request = ExportRequest::new("trip", Format::Csv);
/// request.audience = Some(Audience::Opendata);
/// assert_eq!(risk_for(&request), RiskLevel::Low);
/// request.audience = Some(Audience::Territory);
/// assert_eq!(risk_for(&request), RiskLevel::Medium);
/// assert_eq!(risk_for(&ExportRequest::new("products", Format::Csv)), RiskLevel::Medium);
/// ```
pub fn risk_for(request: &ExportRequest) -> RiskLevel {
    // Whether the export holds personal data is the schema's rule (built-in schemas; any
    // other is judged to).
    let rules = crate::schema::builtin::builtin_or_plain(&request.schema);
    if rules.holds_personal_data(request) {
        RiskLevel::Medium
    } else {
        RiskLevel::Low
    }
}

/// One audited action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Identifier (v4).
    pub id: Uuid,
    /// When it happened (stored to the microsecond).
    pub at: DateTime<Utc>,
    /// The user who acted.
    pub actor_user_id: String,
    /// The user's organisation, when there is one.
    #[serde(default)]
    pub actor_organisation_id: Option<String>,
    /// What was done.
    pub action: AuditAction,
    /// The job concerned.
    #[serde(default)]
    pub job_id: Option<Uuid>,
    /// The export's format.
    #[serde(default)]
    pub format: Option<Format>,
    /// The export's schema.
    #[serde(default)]
    pub schema: Option<String>,
    /// The export's audience (trip schema).
    #[serde(default)]
    pub audience: Option<Audience>,
    /// The export's filters, as JSON (`null` when none apply).
    #[serde(default)]
    pub filters: serde_json::Value,
    /// Rows exported (downloads, and other actions on a finished job).
    #[serde(default)]
    pub row_count: Option<u64>,
    /// How sensitive the data is.
    pub risk: RiskLevel,
    /// What was done, for actions not about one job (`schedule nightly: disabled`).
    #[serde(default)]
    pub detail: Option<String>,
}

impl AuditEvent {
    /// An event of `action` by a user at `at`, about no job yet, at [`RiskLevel::Low`]; fill it
    /// with [`with_request`](AuditEvent::with_request) or [`with_job`](AuditEvent::with_job).
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::Utc;
    /// use export_core::audit::{AuditAction, AuditEvent, RiskLevel};
    /// let event = AuditEvent::new(AuditAction::ScheduleChange, "admin", None, Utc::now());
    /// assert_eq!((event.job_id, event.risk), (None, RiskLevel::Low));
    /// ```
    pub fn new(
        action: AuditAction,
        actor_user_id: impl Into<String>,
        actor_organisation_id: Option<String>,
        at: DateTime<Utc>,
    ) -> AuditEvent {
        AuditEvent {
            id: Uuid::new_v4(),
            at,
            actor_user_id: actor_user_id.into(),
            actor_organisation_id,
            action,
            job_id: None,
            format: None,
            schema: None,
            audience: None,
            filters: serde_json::Value::Null,
            row_count: None,
            risk: RiskLevel::Low,
            detail: None,
        }
    }

    /// Fills format, schema, audience, filters and risk from `request`.
    pub fn with_request(mut self, request: &ExportRequest) -> AuditEvent {
        self.format = Some(request.format);
        self.schema = Some(request.schema.clone());
        self.audience = request.audience;
        self.filters = if request.filters.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::to_value(&request.filters).unwrap_or(serde_json::Value::Null)
        };
        self.risk = risk_for(request);
        self
    }

    /// Fills the job id, the request's details and, once the job succeeded, the row count.
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::Utc;
    /// use export_core::audit::{AuditAction, AuditEvent};
    /// use export_core::job::{JobStore, MemoryJobStore, NewJob, Owner};
    /// use export_core::request::{ExportRequest, Format};
    /// let store = MemoryJobStore::new();
    /// let job = store.create(NewJob::new(Owner::user("u-1"), ExportRequest::new("trip", Format::Csv)))?;
    /// let event = AuditEvent::new(AuditAction::Cancel, "u-1", None, Utc::now()).with_job(&job);
    /// assert_eq!(event.job_id, Some(job.id));
    /// assert_eq!(event.row_count, None);
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn with_job(mut self, job: &ExportJob) -> AuditEvent {
        self = self.with_request(&job.request);
        self.job_id = Some(job.id);
        self.row_count = job.result.as_ref().map(|r| r.rows);
        self
    }

    /// Sets the row count.
    pub fn with_row_count(mut self, rows: u64) -> AuditEvent {
        self.row_count = Some(rows);
        self
    }

    /// Replaces the actor's user and organisation ids by their pseudonyms (see
    /// [`Pseudonymiser`]); true when something changed (false when they already were).
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::Utc;
    /// use export_core::audit::{AuditAction, AuditEvent, Pseudonymiser, is_pseudonym};
    /// let mut event = AuditEvent::new(AuditAction::Download, "alice", Some("op-7".into()), Utc::now());
    /// let p = Pseudonymiser::random();
    /// assert!(event.pseudonymise(&p));
    /// assert!(is_pseudonym(&event.actor_user_id));
    /// assert!(is_pseudonym(event.actor_organisation_id.as_deref().unwrap()));
    /// assert!(!event.pseudonymise(&p));
    /// ```
    pub fn pseudonymise(&mut self, pseudonymiser: &Pseudonymiser) -> bool {
        let organisation = self.actor_organisation_id.as_deref();
        match pseudonymiser.actor(&self.actor_user_id, organisation) {
            Some((user, organisation)) => {
                self.actor_user_id = user;
                self.actor_organisation_id = organisation;
                true
            }
            None => false,
        }
    }

    /// Sets the detail: what was done, for actions not about one job.
    ///
    /// ```
    /// use chrono::Utc;
    /// use export_core::audit::{AuditAction, AuditEvent};
    /// let event = AuditEvent::new(AuditAction::ScheduleChange, "admin", None, Utc::now())
    ///     .with_detail("schedule nightly: disabled");
    /// assert_eq!(event.detail.as_deref(), Some("schedule nightly: disabled"));
    /// ```
    pub fn with_detail(mut self, detail: impl Into<String>) -> AuditEvent {
        self.detail = Some(detail.into());
        self
    }
}

/// Which events [`AuditLog::list`] returns: all conditions must hold; oldest first.
///
/// # Examples
///
/// ```
/// use export_core::audit::AuditQuery;
/// let query = AuditQuery::default().actor("u-1").limit(10);
/// assert_eq!(query.limit, 10);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only events about this job.
    pub job_id: Option<Uuid>,
    /// Only events by this user.
    pub actor: Option<String>,
    /// Only events at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// At most this many events, `1..=`[`MAX_AUDIT_LIMIT`] (default [`DEFAULT_AUDIT_LIMIT`]).
    pub limit: u32,
}

impl Default for AuditQuery {
    fn default() -> AuditQuery {
        AuditQuery {
            job_id: None,
            actor: None,
            since: None,
            limit: DEFAULT_AUDIT_LIMIT,
        }
    }
}

impl AuditQuery {
    /// Only events about job `id`.
    pub fn job(mut self, id: Uuid) -> AuditQuery {
        self.job_id = Some(id);
        self
    }

    /// Only events by user `actor`.
    pub fn actor(mut self, actor: impl Into<String>) -> AuditQuery {
        self.actor = Some(actor.into());
        self
    }

    /// Only events at or after `since`.
    pub fn since(mut self, since: DateTime<Utc>) -> AuditQuery {
        self.since = Some(since);
        self
    }

    /// At most `limit` events.
    pub fn limit(mut self, limit: u32) -> AuditQuery {
        self.limit = limit;
        self
    }

    /// True when `event` meets the conditions (not the limit).
    pub fn matches(&self, event: &AuditEvent) -> bool {
        self.job_id.is_none_or(|id| event.job_id == Some(id))
            && self
                .actor
                .as_deref()
                .is_none_or(|a| event.actor_user_id == a)
            && self.since.is_none_or(|s| event.at >= s)
    }

    /// Checks the limit.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] on field `limit` outside `1..=`[`MAX_AUDIT_LIMIT`].
    pub fn check(&self) -> Result<()> {
        if self.limit == 0 || self.limit > MAX_AUDIT_LIMIT {
            return Err(ExportError::request(
                "limit",
                format!(
                    "must be between 1 and {MAX_AUDIT_LIMIT}, got {}",
                    self.limit
                ),
            ));
        }
        Ok(())
    }
}

/// Where audit events go. Implementations are safe to share between threads.
pub trait AuditLog: Send + Sync {
    /// Records `event` durably (as far as the backend goes) before returning.
    ///
    /// # Errors
    ///
    /// [`ExportError::Store`] (or [`ExportError::Io`] for files) when it cannot be written;
    /// [`ExportError::AlreadyExists`] (kind `audit event`) when an event with the same id exists.
    ///
    /// # Examples
    ///
    /// See the [module example](self).
    fn record(&self, event: &AuditEvent) -> Result<()>;

    /// The events matching `query`, oldest first (by instant, then recording order).
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] for a bad limit; [`ExportError::Store`] /
    /// [`ExportError::Io`] when reading fails or a stored event is unreadable.
    ///
    /// # Examples
    ///
    /// See the [module example](self).
    fn list(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>>;

    /// Replaces the actor's user and organisation ids, in every event about one of `jobs`, by
    /// their pseudonyms ([`AuditEvent::pseudonymise`]); returns how many events changed. The
    /// purge calls it for the jobs it anonymises, so that no event pairs a purged job with the
    /// person who asked for it. Events already pseudonymised are left as they are.
    ///
    /// # Errors
    ///
    /// [`ExportError::Store`] / [`ExportError::Io`] when the log cannot be read or rewritten.
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::Utc;
    /// use export_core::audit::{AuditAction, AuditEvent, AuditLog, AuditQuery, MemoryAuditLog, Pseudonymiser};
    /// let log = MemoryAuditLog::new();
    /// let job = uuid::Uuid::new_v4();
    /// let mut event = AuditEvent::new(AuditAction::Create, "alice", Some("op-7".into()), Utc::now());
    /// event.job_id = Some(job);
    /// log.record(&event)?;
    /// let p = Pseudonymiser::random();
    /// assert_eq!(log.pseudonymise_jobs(&[job], &p)?, 1);
    /// assert_eq!(log.pseudonymise_jobs(&[job], &p)?, 0);
    /// let stored = &log.list(&AuditQuery::default().job(job))?[0];
    /// assert_eq!(stored.actor_user_id, p.user("alice"));
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    fn pseudonymise_jobs(&self, jobs: &[Uuid], pseudonymiser: &Pseudonymiser) -> Result<u64>;

    /// Deletes every event recorded before `before` (the audit retention); returns how many.
    ///
    /// # Errors
    ///
    /// [`ExportError::Store`] / [`ExportError::Io`] when the log cannot be rewritten.
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{Duration, Utc};
    /// use export_core::audit::{AuditAction, AuditEvent, AuditLog, AuditQuery, MemoryAuditLog};
    /// let log = MemoryAuditLog::new();
    /// let now = Utc::now();
    /// log.record(&AuditEvent::new(AuditAction::Create, "u", None, now - Duration::days(400)))?;
    /// log.record(&AuditEvent::new(AuditAction::Create, "u", None, now))?;
    /// assert_eq!(log.delete_before(now - Duration::days(365))?, 1);
    /// assert_eq!(log.list(&AuditQuery::default())?.len(), 1);
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    fn delete_before(&self, before: DateTime<Utc>) -> Result<u64>;

    /// Removes from the backend's files the old bytes of events changed or deleted so far (as
    /// [`JobStore::scrub`](crate::job::JobStore::scrub)): SQLite checkpoints its write-ahead
    /// log, PostgreSQL rewrites the table. The JSON Lines log is rewritten whole by the changes
    /// themselves, and memory keeps nothing: nothing to do (the default).
    ///
    /// # Errors
    ///
    /// [`ExportError::Store`].
    fn scrub(&self) -> Result<()> {
        Ok(())
    }
}

/// An [`AuditLog`] in memory.
///
/// # Examples
///
/// See the [module example](self).
#[derive(Debug, Default)]
pub struct MemoryAuditLog {
    events: Mutex<Vec<AuditEvent>>,
}

impl MemoryAuditLog {
    /// An empty log.
    pub fn new() -> MemoryAuditLog {
        MemoryAuditLog::default()
    }

    /// Every event recorded, in recording order.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl AuditLog for MemoryAuditLog {
    fn record(&self, event: &AuditEvent) -> Result<()> {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        if events.iter().any(|e| e.id == event.id) {
            return Err(duplicate(event.id));
        }
        events.push(event.clone());
        Ok(())
    }

    fn list(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        query.check()?;
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        Ok(select(events.iter().cloned(), query))
    }

    fn pseudonymise_jobs(&self, jobs: &[Uuid], pseudonymiser: &Pseudonymiser) -> Result<u64> {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        Ok(pseudonymise_all(events.iter_mut(), jobs, pseudonymiser))
    }

    fn delete_before(&self, before: DateTime<Utc>) -> Result<u64> {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let len = events.len();
        events.retain(|e| e.at >= before);
        Ok((len - events.len()) as u64)
    }
}

/// Pseudonymises the events about one of `jobs`; returns how many changed.
pub(crate) fn pseudonymise_all<'a>(
    events: impl Iterator<Item = &'a mut AuditEvent>,
    jobs: &[Uuid],
    pseudonymiser: &Pseudonymiser,
) -> u64 {
    let mut changed = 0;
    for event in events {
        if event.job_id.is_some_and(|id| jobs.contains(&id)) && event.pseudonymise(pseudonymiser) {
            changed += 1;
        }
    }
    changed
}

/// Filters, sorts (stable: recording order breaks ties) and limits.
pub(crate) fn select(
    events: impl Iterator<Item = AuditEvent>,
    query: &AuditQuery,
) -> Vec<AuditEvent> {
    let mut out: Vec<AuditEvent> = events.filter(|e| query.matches(e)).collect();
    out.sort_by_key(|e| e.at);
    out.truncate(query.limit as usize);
    out
}

pub(crate) fn duplicate(id: Uuid) -> ExportError {
    ExportError::already_exists("audit event", id.to_string())
}

/// Parses a stored text column into `T`, as a store error naming the event.
pub(crate) fn parse_stored<T: FromStr>(
    backend: &'static str,
    id: &str,
    column: &str,
    text: &str,
) -> Result<T> {
    text.parse().map_err(|_| {
        ExportError::store(
            backend,
            format!("audit event `{id}` has an unreadable {column}: `{text}`"),
        )
    })
}
