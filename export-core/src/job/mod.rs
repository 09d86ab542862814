//! Background export jobs: the [`ExportJob`] model, its [`JobStatus`] state machine, and the
//! [`JobStore`] trait with three implementations.
//!
//! | store | for |
//! |---|---|
//! | [`MemoryJobStore`] | tests, single-process tools |
//! | [`SqliteJobStore`] | the embedded default: one host, one or several processes sharing a file |
//! | `PgJobStore` (feature `postgres`) | many workers on many hosts |
//!
//! The SQL stores are built from a database handle of [`crate::db`] (`SqliteJobStore::new`,
//! `PgJobStore::new`), shared with the schedule store and the audit log of the same database.
//!
//! A job is created `pending`; a worker [claims](JobStore::claim) it, which gives the worker a
//! lease it must renew with [heartbeats](JobStore::heartbeat). A worker that dies stops renewing,
//! and [`JobStore::reclaim_expired_leases`] puts its job back in the queue (or fails it when its
//! attempts are used up), so a job is never run by two workers at once and never lost.
//!
//! # Examples
//!
//! ```
//! use chrono::{Duration, Utc};
//! use export_core::job::{JobResult, JobStatus, JobStore, MemoryJobStore, NewJob, Owner, Progress};
//! use export_core::request::{ExportRequest, Format};
//!
//! let store = MemoryJobStore::new();
//! let job = store.create(NewJob::new(Owner::user("u-1"), ExportRequest::new("trip", Format::Csv)))?;
//! assert_eq!(job.status, JobStatus::Pending);
//!
//! let now = Utc::now();
//! let claimed = store.claim("worker-a", Duration::seconds(30), now)?.expect("a pending job");
//! assert_eq!(claimed.id, job.id);
//!
//! let ack = store.heartbeat(job.id, "worker-a", Progress::new(500, Some(1000)), Duration::seconds(30), now)?;
//! assert!(!ack.cancel_requested);
//!
//! let result = JobResult {
//!     storage_key: "exports/a.csv".into(),
//!     size_bytes: 12_345,
//!     rows: 1000,
//!     sha256: "00".repeat(32),
//!     file_name: "a.csv".into(),
//!     content_type: "text/csv; charset=utf-8".into(),
//! };
//! let done = store.complete(job.id, "worker-a", result, Some(now + Duration::days(7)), now)?;
//! assert_eq!(done.status, JobStatus::Succeeded);
//! # Ok::<(), export_core::ExportError>(())
//! ```

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ExportError;
use crate::request::ExportRequest;

pub(crate) mod memory;
pub(crate) mod ops;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
mod row;
pub(crate) mod sqlite;
pub(crate) mod status;
pub(crate) mod store;

pub use memory::MemoryJobStore;
#[cfg(feature = "postgres")]
pub use postgres::PgJobStore;
pub use sqlite::SqliteJobStore;
pub use status::{JobEvent, JobStatus, check_transition, transition};
pub use store::{DEFAULT_LIST_LIMIT, HeartbeatAck, JobStore, ListQuery, MAX_LIST_LIMIT, Page};

/// Attempts a job gets when [`NewJob::max_attempts`] is not called.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// The most attempts a job may be given.
pub const MAX_ATTEMPTS: u32 = 1000;

/// Who a job belongs to. Users list and read only their own jobs.
///
/// # Examples
///
/// ```
/// use export_core::job::Owner;
/// let owner = Owner::in_organisation("u-1", "op-7");
/// assert_eq!(owner.organisation_id.as_deref(), Some("op-7"));
/// assert_eq!(Owner::user("u-1").organisation_id, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Owner {
    /// The user who created the job; empty once the job is anonymised.
    pub user_id: String,
    /// The user's organisation (operator, territory), when there is one.
    #[serde(default)]
    pub organisation_id: Option<String>,
}

impl Owner {
    /// An owner without organisation.
    pub fn user(user_id: impl Into<String>) -> Owner {
        Owner {
            user_id: user_id.into(),
            organisation_id: None,
        }
    }

    /// An owner in an organisation.
    pub fn in_organisation(
        user_id: impl Into<String>,
        organisation_id: impl Into<String>,
    ) -> Owner {
        Owner {
            user_id: user_id.into(),
            organisation_id: Some(organisation_id.into()),
        }
    }
}

/// How far a running job has got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Progress {
    /// Rows written so far.
    pub rows_done: u64,
    /// Rows the source announced, when it knows.
    #[serde(default)]
    pub rows_expected: Option<u64>,
}

impl Progress {
    /// Progress of `rows_done` out of `rows_expected`.
    pub fn new(rows_done: u64, rows_expected: Option<u64>) -> Progress {
        Progress {
            rows_done,
            rows_expected,
        }
    }

    /// Percentage done in `0.0..=100.0`, or `None` when the expected count is unknown.
    /// An expected count of zero is 100 %; a count past the estimate is capped at 100 %.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::job::Progress;
    /// assert_eq!(Progress::new(250, Some(1000)).percent(), Some(25.0));
    /// assert_eq!(Progress::new(1200, Some(1000)).percent(), Some(100.0));
    /// assert_eq!(Progress::new(0, Some(0)).percent(), Some(100.0));
    /// assert_eq!(Progress::new(10, None).percent(), None);
    /// ```
    pub fn percent(&self) -> Option<f64> {
        let expected = self.rows_expected?;
        if expected == 0 {
            return Some(100.0);
        }
        Some((self.rows_done as f64 / expected as f64 * 100.0).min(100.0))
    }
}

/// The right of one worker to run a job until an instant; renewed by heartbeats.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Lease {
    /// The worker holding the job.
    pub worker_id: String,
    /// When the lease runs out unless renewed.
    pub until: DateTime<Utc>,
}

/// The file a succeeded job produced.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct JobResult {
    /// Where the file is in storage.
    pub storage_key: String,
    /// Its size in bytes.
    pub size_bytes: u64,
    /// Data rows written.
    pub rows: u64,
    /// SHA-256 of the file, lower-case hex.
    pub sha256: String,
    /// The name offered on download (`rpc-2026-10-01-opendata-<uuid>.csv`).
    pub file_name: String,
    /// The MIME type served on download.
    pub content_type: String,
}

/// Why the last attempt of a job failed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct JobError {
    /// A stable code: an [`ExportError::code`] (`IO`, `STORAGE`, ...) or
    /// [`JobError::LEASE_EXPIRED`].
    pub kind: String,
    /// A human-readable message (cleared when the job is anonymised).
    pub message: String,
}

impl JobError {
    /// The kind recorded when a worker stopped renewing its lease (crashed, hung, partitioned).
    pub const LEASE_EXPIRED: &'static str = "LEASE_EXPIRED";

    /// True when the failure came from the environment (I/O, storage, store, a lost worker),
    /// so running the same request again may succeed; false when the request itself is at
    /// fault.
    ///
    /// ```
    /// use export_core::job::JobError;
    /// assert!(JobError::new("STORAGE", "bucket unreachable").is_transient());
    /// assert!(JobError::new(JobError::LEASE_EXPIRED, "worker lost").is_transient());
    /// assert!(!JobError::new("UNKNOWN_FIELD", "no such field").is_transient());
    /// ```
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "IO" | "STORAGE" | "STORE" | JobError::LEASE_EXPIRED
        )
    }

    /// An error of `kind` with `message`.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> JobError {
        JobError {
            kind: kind.into(),
            message: message.into(),
        }
    }
}

impl From<&ExportError> for JobError {
    /// Records an [`ExportError`] by its [code](ExportError::code) and message.
    ///
    /// ```
    /// use export_core::{ExportError, job::JobError};
    /// let err = ExportError::Storage("bucket unreachable".into());
    /// let recorded = JobError::from(&err);
    /// assert_eq!(recorded.kind, "STORAGE");
    /// assert_eq!(recorded.message, "storage: bucket unreachable");
    /// ```
    fn from(err: &ExportError) -> JobError {
        JobError::new(err.code(), err.to_string())
    }
}

/// A background export: what was asked, by whom, and how far it got.
///
/// Jobs are created with [`NewJob`] through a [`JobStore`] and changed only by the store's
/// operations, each of which goes through [`transition`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportJob {
    /// Identifier.
    pub id: Uuid,
    /// Who created it.
    pub owner: Owner,
    /// What to export.
    pub request: ExportRequest,
    /// Where it is in its lifecycle.
    pub status: JobStatus,
    /// Rows written by the current or last attempt.
    pub progress: Progress,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When the current or last attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// The last heartbeat of the current or last attempt.
    pub heartbeat_at: Option<DateTime<Utc>>,
    /// When it reached succeeded, failed or cancelled.
    pub finished_at: Option<DateTime<Utc>>,
    /// When retention may expire it (file deleted, job anonymised).
    pub expires_at: Option<DateTime<Utc>>,
    /// No worker claims it before this instant (retry back-off, delayed start).
    pub not_before: Option<DateTime<Utc>>,
    /// Attempts started so far (claims).
    pub attempts: u32,
    /// Most attempts allowed, `1..=`[`MAX_ATTEMPTS`].
    pub max_attempts: u32,
    /// How long a finished job is kept: `expires_at` becomes `finished_at + retention` when it
    /// fails or is cancelled, and when it succeeds without an explicit expiry.
    #[serde(default, with = "optional_seconds")]
    pub retention: Option<Duration>,
    /// The worker running it, while running.
    pub lease: Option<Lease>,
    /// A cancel was asked while it ran; the worker stops at the next batch.
    pub cancel_requested: bool,
    /// The file, once succeeded.
    pub result: Option<JobResult>,
    /// Why the last attempt failed.
    pub error: Option<JobError>,
    /// The schedule that created it, if any.
    pub schedule_id: Option<String>,
}

impl ExportJob {
    /// True when `worker_id` holds this job's lease (whether or not the lease has run out).
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{Duration, Utc};
    /// use export_core::job::{JobStore, MemoryJobStore, NewJob, Owner};
    /// use export_core::request::{ExportRequest, Format};
    /// let store = MemoryJobStore::new();
    /// store.create(NewJob::new(Owner::user("u-1"), ExportRequest::new("trip", Format::Csv)))?;
    /// let job = store.claim("w-1", Duration::seconds(30), Utc::now())?.expect("a job");
    /// assert!(job.is_leased_to("w-1"));
    /// assert!(!job.is_leased_to("w-2"));
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn is_leased_to(&self, worker_id: &str) -> bool {
        self.status == JobStatus::Running
            && self
                .lease
                .as_ref()
                .is_some_and(|lease| lease.worker_id == worker_id)
    }
}

/// A job to create: owner and request, plus optional settings with defaults.
///
/// # Examples
///
/// ```
/// use chrono::Duration;
/// use export_core::job::{NewJob, Owner};
/// use export_core::request::{ExportRequest, Format};
///
/// let new = NewJob::new(Owner::in_organisation("u-1", "op-7"), ExportRequest::new("trip", Format::Xlsx))
///     .max_attempts(5)
///     .retention(Duration::days(7))
///     .schedule_id("monthly-opendata");
/// assert_eq!(new.max_attempts, 5);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// Identifier; a fresh random (v4) one by default. Give a deterministic one to make creation
    /// idempotent: a second create with the same id fails with
    /// [`ExportError::AlreadyExists`].
    pub id: Uuid,
    /// Who creates it.
    pub owner: Owner,
    /// What to export.
    pub request: ExportRequest,
    /// Most attempts (default [`DEFAULT_MAX_ATTEMPTS`]).
    pub max_attempts: u32,
    /// Creation instant (default: now). Claims take the oldest first.
    pub created_at: DateTime<Utc>,
    /// Earliest claim (default: none, claimable at once).
    pub not_before: Option<DateTime<Utc>>,
    /// How long to keep it once finished (default: until expired explicitly).
    pub retention: Option<Duration>,
    /// The schedule creating it.
    pub schedule_id: Option<String>,
}

impl NewJob {
    /// A job for `owner` running `request`, with the defaults.
    pub fn new(owner: Owner, request: ExportRequest) -> NewJob {
        NewJob {
            id: Uuid::new_v4(),
            owner,
            request,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            created_at: Utc::now(),
            not_before: None,
            retention: None,
            schedule_id: None,
        }
    }

    /// Sets the identifier.
    pub fn id(mut self, id: Uuid) -> NewJob {
        self.id = id;
        self
    }

    /// Sets the most attempts, `1..=`[`MAX_ATTEMPTS`].
    pub fn max_attempts(mut self, max_attempts: u32) -> NewJob {
        self.max_attempts = max_attempts;
        self
    }

    /// Sets the creation instant.
    pub fn created_at(mut self, created_at: DateTime<Utc>) -> NewJob {
        self.created_at = created_at;
        self
    }

    /// Sets the earliest claim.
    pub fn not_before(mut self, not_before: DateTime<Utc>) -> NewJob {
        self.not_before = Some(not_before);
        self
    }

    /// Sets how long the job is kept once finished.
    pub fn retention(mut self, retention: Duration) -> NewJob {
        self.retention = Some(retention);
        self
    }

    /// Sets the schedule creating it.
    pub fn schedule_id(mut self, schedule_id: impl Into<String>) -> NewJob {
        self.schedule_id = Some(schedule_id.into());
        self
    }
}

/// Serde for `Option<Duration>` as whole seconds.
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
                    .ok_or_else(|| serde::de::Error::custom("retention out of range"))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Format;

    #[test]
    fn job_serialises_to_json_and_back() {
        let mut job = ops::new_job(
            NewJob::new(Owner::user("u"), ExportRequest::new("trip", Format::Csv))
                .retention(Duration::days(7)),
        )
        .unwrap();
        job.error = Some(JobError::new("IO", "disk full"));
        let json = serde_json::to_string(&job).unwrap();
        assert!(json.contains("\"retention\":604800"), "{json}");
        assert!(json.contains("\"status\":\"pending\""), "{json}");
        let back: ExportJob = serde_json::from_str(&json).unwrap();
        assert_eq!(back, job);
    }
}
