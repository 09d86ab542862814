//! How long export files are kept, and the purge that deletes them and anonymises their jobs.
//!
//! The registry keeps personal-data exports 7 days: then the file is deleted and the job
//! anonymised (owner and recipients erased; counts, format and dates kept for statistics).
//!
//! - A [`RetentionPolicy`] decides, per request, how long a finished job's file is kept. The
//!   service stores that duration on the job when it is created; the job store turns it into
//!   `expires_at` when the job finishes.
//! - [`Purger::purge`] expires every job whose `expires_at` has passed: it deletes the file
//!   first, then anonymises the job and sets it `expired`, then writes an audit event.
//!
//! # Crash safety and idempotence
//!
//! The two steps are ordered so that a purge killed between them is finished by the next run:
//! the job is still due (not yet expired), its file is already gone, and deleting a missing file
//! is not an error (`Storage::delete` answers `false`). An expired job is never listed again, so a
//! second purge changes nothing. Downloads of an expired job answer
//! [`ExportError::Gone`](crate::ExportError::Gone) (see [`crate::service`]).

use std::sync::Arc;

use chrono::Duration;
use uuid::Uuid;

use crate::audit::{AuditAction, AuditEvent, AuditLog};
use crate::clock::Clock;
use crate::error::Result;
use crate::job::{ExportJob, JobStore};
use crate::registry::TRIP_SCHEMA;
use crate::request::{Audience, ExportRequest};
use crate::storage::{Storage, StorageKey};

/// The actor named in audit events written by the purge.
pub const RETENTION_ACTOR: &str = "retention";

/// How long the registry keeps personal-data exports.
pub const PERSONAL_DATA_RETENTION_DAYS: i64 = 7;

/// Decides how long a finished job's file is kept.
pub trait RetentionPolicy: Send + Sync {
    /// The time a finished job of `request` is kept; `None` keeps it until deleted by hand.
    fn retention(&self, request: &ExportRequest) -> Option<Duration>;
}

/// The registry's policy: personal-data exports (trip `operator` and `territory` audiences, and
/// any non-trip schema, whose content the library cannot judge) are kept `personal`; trip
/// `opendata` exports are kept `opendata` (forever by default).
///
/// # Examples
///
/// ```
/// use chrono::Duration;
/// use export_core::request::{Audience, ExportRequest, Format};
/// use export_core::retention::{DefaultRetention, RetentionPolicy};
///
/// let policy = DefaultRetention::default();
/// let mut request = ExportRequest::new("trip", Format::Xlsx);
/// request.audience = Some(Audience::Operator);
/// assert_eq!(policy.retention(&request), Some(Duration::days(7)));
/// request.audience = Some(Audience::Opendata);
/// assert_eq!(policy.retention(&request), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultRetention {
    /// Retention of personal-data exports.
    pub personal: Duration,
    /// Retention of opendata exports (`None`: kept).
    pub opendata: Option<Duration>,
}

impl Default for DefaultRetention {
    fn default() -> Self {
        DefaultRetention {
            personal: Duration::days(PERSONAL_DATA_RETENTION_DAYS),
            opendata: None,
        }
    }
}

impl RetentionPolicy for DefaultRetention {
    fn retention(&self, request: &ExportRequest) -> Option<Duration> {
        if request.schema == TRIP_SCHEMA && request.audience == Some(Audience::Opendata) {
            self.opendata
        } else {
            Some(self.personal)
        }
    }
}

/// What a purge did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Jobs expired (or due, in a dry run), in the order handled.
    pub jobs: Vec<Uuid>,
    /// Files deleted from storage.
    pub files_deleted: u64,
    /// Files that were already gone (a purge interrupted after the deletion, or a manual removal).
    pub files_missing: u64,
    /// Leftovers of uploads abandoned by killed processes, removed by
    /// [`Storage::sweep_abandoned`] (not looked for in a dry run).
    pub abandoned_uploads: u64,
    /// True when nothing was changed.
    pub dry_run: bool,
}

/// Expires jobs whose retention has passed: deletes their files, anonymises them, audits it.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use chrono::Duration;
/// use export_core::audit::MemoryAuditLog;
/// use export_core::clock::{Clock, ManualClock};
/// use export_core::job::{JobResult, JobStore, MemoryJobStore, NewJob, Owner};
/// use export_core::request::{ExportRequest, Format};
/// use export_core::retention::Purger;
/// use export_core::storage::MemoryStorage;
///
/// let clock = Arc::new(ManualClock::new("2026-11-01T00:00:00Z".parse().unwrap()));
/// let store = Arc::new(MemoryJobStore::new());
/// let new = NewJob::new(Owner::user("ada"), ExportRequest::new("products", Format::Csv))
///     .retention(Duration::days(7))
///     .created_at(clock.now());
/// let job = store.create(new).unwrap();
/// store.claim("w", Duration::minutes(1), clock.now()).unwrap();
/// let result = JobResult {
///     storage_key: "exports/2026/11/x/products.csv".into(), size_bytes: 0, rows: 0,
///     sha256: String::new(), file_name: "products.csv".into(), content_type: "text/csv".into(),
/// };
/// store.complete(job.id, "w", result, None, clock.now()).unwrap();
///
/// let purger = Purger::new(store.clone(), Arc::new(MemoryStorage::new().unwrap()),
///     Arc::new(MemoryAuditLog::new()), clock.clone());
/// assert!(purger.purge().unwrap().jobs.is_empty()); // not due yet
/// clock.advance(Duration::days(7) + Duration::seconds(1));
/// assert_eq!(purger.purge().unwrap().jobs, vec![job.id]);
/// assert_eq!(store.get(job.id).unwrap().owner.user_id, "");
/// ```
pub struct Purger {
    store: Arc<dyn JobStore>,
    storage: Arc<dyn Storage>,
    audit: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
    batch: usize,
    abandoned_after: Duration,
}

/// How long an upload may go without a write before a purge sweeps it as abandoned: a day.
pub const DEFAULT_ABANDONED_AFTER: Duration = Duration::hours(24);

impl Purger {
    /// A purger over a job store, the storage holding the files, an audit log and a clock.
    pub fn new(
        store: Arc<dyn JobStore>,
        storage: Arc<dyn Storage>,
        audit: Arc<dyn AuditLog>,
        clock: Arc<dyn Clock>,
    ) -> Purger {
        Purger {
            store,
            storage,
            audit,
            clock,
            batch: 500,
            abandoned_after: DEFAULT_ABANDONED_AFTER,
        }
    }

    /// Sets how long an upload may go without a write before [`Purger::purge`] removes it as
    /// abandoned (default [`DEFAULT_ABANDONED_AFTER`]). Keep it well above the longest pause
    /// of a running export between two batches.
    pub fn with_abandoned_after(mut self, after: Duration) -> Purger {
        self.abandoned_after = after;
        self
    }

    /// The jobs due now, without changing anything.
    ///
    /// # Errors
    ///
    /// [`crate::ExportError::Store`] when the store cannot be read.
    pub fn due(&self) -> Result<Vec<ExportJob>> {
        self.store.list_expired(self.clock.now(), usize::MAX)
    }

    /// Reports what [`Purger::purge`] would do.
    ///
    /// # Errors
    ///
    /// As [`Purger::due`].
    pub fn dry_run(&self) -> Result<PurgeReport> {
        let jobs = self.due()?;
        Ok(PurgeReport {
            jobs: jobs.iter().map(|j| j.id).collect(),
            dry_run: true,
            ..PurgeReport::default()
        })
    }

    /// Expires every due job: deletes the file, then anonymises the job and sets it expired,
    /// then records an [`AuditAction::Expire`] event. Then removes the leftovers of uploads
    /// abandoned for longer than [`with_abandoned_after`](Purger::with_abandoned_after)
    /// ([`Storage::sweep_abandoned`]).
    ///
    /// # Errors
    ///
    /// [`crate::ExportError::Store`] or [`crate::ExportError::Storage`] from the first job that
    /// could not be purged; jobs purged before it stay purged, and a later run resumes.
    /// [`crate::ExportError::Io`] when a leftover upload cannot be removed.
    pub fn purge(&self) -> Result<PurgeReport> {
        let mut report = self.expire_due()?;
        report.abandoned_uploads = self
            .storage
            .sweep_abandoned(self.clock.now() - self.abandoned_after)?;
        Ok(report)
    }

    fn expire_due(&self) -> Result<PurgeReport> {
        let mut report = PurgeReport::default();
        loop {
            let now = self.clock.now();
            let due = self.store.list_expired(now, self.batch)?;
            if due.is_empty() {
                return Ok(report);
            }
            let before = report.jobs.len();
            for job in due {
                if report.jobs.contains(&job.id) {
                    continue;
                }
                self.purge_one(&job, &mut report)?;
            }
            if report.jobs.len() == before {
                // Nothing new could be expired in this round: stop rather than spin.
                return Ok(report);
            }
        }
    }

    fn purge_one(&self, job: &ExportJob, report: &mut PurgeReport) -> Result<()> {
        if let Some(result) = &job.result {
            // A key that does not parse was never written by the library: nothing to delete.
            if let Ok(key) = StorageKey::parse(&result.storage_key) {
                if self.storage.delete(&key)? {
                    report.files_deleted += 1;
                } else {
                    report.files_missing += 1;
                }
            }
        }
        let now = self.clock.now();
        let expired = self.store.expire(job.id, now, true)?;
        let mut event = AuditEvent::new(AuditAction::Expire, RETENTION_ACTOR, None, now)
            .with_request(&job.request);
        event.job_id = Some(job.id);
        event.row_count = expired.result.as_ref().map(|r| r.rows);
        self.audit.record(&event)?;
        report.jobs.push(job.id);
        Ok(())
    }
}
