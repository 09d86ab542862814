//! The audit log: who created, downloaded, cancelled or deleted which export, with what
//! filters, how many rows, and at which risk level.
//!
//! | log | for |
//! |---|---|
//! | [`MemoryAuditLog`] | tests, single-process tools |
//! | [`SqliteAuditLog`] | beside the SQLite job store (may share its file) |
//! | `PgAuditLog` (feature `postgres`) | beside the PostgreSQL job store |
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

mod jsonl;
#[cfg(feature = "postgres")]
mod postgres;
mod sqlite;

pub use jsonl::JsonlAuditLog;
#[cfg(feature = "postgres")]
pub use postgres::PgAuditLog;
pub use sqlite::SqliteAuditLog;

/// The component name of the audit log's migrations in `schema_migrations`.
pub(crate) const COMPONENT: &str = "audit";

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
    match request.audience {
        Some(audience) if request.schema == crate::registry::TRIP_SCHEMA => {
            if audience.is_personal() {
                RiskLevel::Medium
            } else {
                RiskLevel::Low
            }
        }
        _ => RiskLevel::Medium,
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
    /// [`ExportError::Conflict`] when an event with the same id exists.
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
    ExportError::Conflict(format!("audit event `{id}` already recorded"))
}

/// The migrations of the SQLite audit table, oldest first.
pub(crate) const SQLITE_MIGRATIONS: &[crate::job::migrate::Migration] = &[
    crate::job::migrate::Migration {
        version: 1,
        name: "create_audit_events",
        sql: include_str!("migrations/sqlite/0001_create_audit_events.sql"),
    },
    crate::job::migrate::Migration {
        version: 2,
        name: "add_audit_detail",
        sql: include_str!("migrations/sqlite/0002_add_audit_detail.sql"),
    },
];

/// The migrations of the PostgreSQL audit table, oldest first.
#[cfg(feature = "postgres")]
pub(crate) const POSTGRES_MIGRATIONS: &[crate::job::migrate::Migration] = &[
    crate::job::migrate::Migration {
        version: 1,
        name: "create_audit_events",
        sql: include_str!("migrations/postgres/0001_create_audit_events.sql"),
    },
    crate::job::migrate::Migration {
        version: 2,
        name: "add_audit_detail",
        sql: include_str!("migrations/postgres/0002_add_audit_detail.sql"),
    },
];

/// Parses a stored text column into `T`, as a store error naming the event.
pub(crate) fn parse_stored<T: FromStr>(
    backend: &'static str,
    id: &str,
    column: &str,
    text: &str,
) -> Result<T> {
    text.parse().map_err(|_| ExportError::Store {
        backend,
        reason: format!("audit event `{id}` has an unreadable {column}: `{text}`"),
    })
}
