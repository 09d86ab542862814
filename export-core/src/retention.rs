//! How long export files are kept, and the purge that deletes them and anonymises their jobs.
//!
//! The registry keeps personal-data exports 7 days: then the file is deleted and the job
//! anonymised (owner and recipients erased; counts, format and dates kept for statistics).
//!
//! # Rules
//!
//! - **One policy decides.** A [`RetentionPolicy`] decides, per request, how long a finished
//!   job's file is kept. Every path that creates a job asks it through [`job_retention`]: the
//!   [`ExportService`](crate::service::ExportService) and the
//!   [`Scheduler`](crate::schedule::Scheduler) (both [`DefaultRetention`] unless given
//!   another policy), and so the CLI, bindings and HTTP layers built on them. The duration is
//!   stored on the job; the job store turns it into `expires_at` when the job finishes.
//! - **A schedule may shorten, never lengthen.** A schedule's own retention applies when it is
//!   shorter than the policy's; for data the policy keeps forever (opendata by default) the
//!   schedule's applies as given.
//! - **Jobs stored without retention get it.** Jobs finished (succeeded, failed, cancelled)
//!   without `expires_at`, such as scheduled jobs created before the scheduler asked the
//!   policy, are given the policy's retention by the purge, counted from `finished_at`
//!   ([`JobStore::assign_retention`]): a personal-data job that finished 30 days ago is
//!   purged at once. No migration is needed: the purge is the migration, and it runs again
//!   for jobs a store imported later.
//! - [`Purger::purge`] expires every job whose `expires_at` has passed: it deletes the file,
//!   pseudonymises the job's audit events ([`AuditLog::pseudonymise_jobs`]), anonymises the
//!   job and sets it `expired`, writes an `expire` audit event, deletes audit events older
//!   than the audit retention when one is set, then [scrubs](JobStore::scrub) the stores'
//!   files so that no old copy of the owner stays in free pages, write-ahead logs or dead
//!   tuples.
//!
//! # What survives a purge
//!
//! Of the job: its id, status `expired`, schema, format, audience, version, period, filters,
//! field selection, options, schedule id, dates (created, started, finished, expired) and
//! result metadata (rows, bytes, checksum, file name, type). Its owner's user and organisation
//! ids, recipients and error message are erased. Of its audit events: the action, time, job
//! id, format, schema, audience, filters, row count and risk level, with the actor replaced by
//! a keyed pseudonym ([`Pseudonymiser`]: HMAC-SHA256 under the audit secret,
//! [`Purger::with_audit_secret`]; without one, a random secret that is not kept, so
//! pseudonyms cannot be linked across purges).
//!
//! # Crash safety and idempotence
//!
//! The steps are ordered so that a purge killed between them is finished by the next run: the
//! job is still due (not yet expired) until its audit events are pseudonymised, its file is
//! already gone, and deleting a missing file is not an error (`Storage::delete` answers
//! `false`); events already pseudonymised are left alone. The events are pseudonymised once
//! more after the job expired, for one recorded in between. An expired job is never listed
//! again, so a second purge changes nothing. Downloads of an expired job answer
//! [`ExportError::Gone`](crate::ExportError::Gone) (see [`crate::service`]).

use std::sync::Arc;

use chrono::Duration;
use uuid::Uuid;

use crate::audit::{AuditAction, AuditEvent, AuditLog, Pseudonymiser};
use crate::clock::Clock;
use crate::error::Result;
use crate::job::{ExportJob, JobStore};
use crate::request::ExportRequest;
use crate::schema::builtin::builtin_or_plain;
use crate::schema::rules::SchemaRules;
use crate::storage::{Storage, StorageKey};

/// The actor named in audit events written by the purge.
pub const RETENTION_ACTOR: &str = "retention";

/// How long the registry keeps personal-data exports.
pub const PERSONAL_DATA_RETENTION_DAYS: i64 = 7;

/// Decides how long a finished job's file is kept.
pub trait RetentionPolicy: Send + Sync {
    /// The time a finished job of `request` is kept; `None` keeps it until deleted by hand.
    fn retention(&self, request: &ExportRequest) -> Option<Duration>;

    /// The same, for a request whose schema follows `rules` (what a
    /// [`SchemaRegistry`](crate::registry::SchemaRegistry) holds for it): callers that know
    /// the schema's rules ask this. Default: [`RetentionPolicy::retention`].
    fn retention_under(
        &self,
        request: &ExportRequest,
        rules: &dyn SchemaRules,
    ) -> Option<Duration> {
        let _ = rules;
        self.retention(request)
    }
}

/// The registry's policy: personal-data exports are kept `personal`, the others `opendata`
/// (forever by default). Whether an export holds personal data is its schema's
/// [`SchemaRules::holds_personal_data`]: trip `operator` and `territory` audiences do, trip
/// `opendata` does not, and a registered schema does unless its rules say otherwise (the
/// library cannot judge its content). [`RetentionPolicy::retention`] knows the built-in
/// schemas' rules only; [`RetentionPolicy::retention_under`] asks the rules it is given.
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
        self.retention_under(request, builtin_or_plain(&request.schema).as_ref())
    }

    fn retention_under(
        &self,
        request: &ExportRequest,
        rules: &dyn SchemaRules,
    ) -> Option<Duration> {
        if rules.holds_personal_data(request) {
            Some(self.personal)
        } else {
            self.opendata
        }
    }
}

/// The retention of a new job of `request`: the policy's, shortened by `requested` (a
/// schedule's retention) when that is shorter. For data the policy keeps forever (`None`),
/// `requested` applies as given. Every creation path calls this, so none can keep personal
/// data longer than the policy.
///
/// # Examples
///
/// ```
/// use chrono::Duration;
/// use export_core::request::{Audience, ExportRequest, Format};
/// use export_core::retention::{DefaultRetention, job_retention};
///
/// let policy = DefaultRetention::default();
/// let mut request = ExportRequest::new("trip", Format::Csv);
/// request.audience = Some(Audience::Operator);
/// assert_eq!(job_retention(&policy, &request, None), Some(Duration::days(7)));
/// assert_eq!(job_retention(&policy, &request, Some(Duration::days(30))), Some(Duration::days(7)));
/// assert_eq!(job_retention(&policy, &request, Some(Duration::days(1))), Some(Duration::days(1)));
/// request.audience = Some(Audience::Opendata);
/// assert_eq!(job_retention(&policy, &request, None), None);
/// assert_eq!(job_retention(&policy, &request, Some(Duration::days(30))), Some(Duration::days(30)));
/// ```
pub fn job_retention(
    policy: &dyn RetentionPolicy,
    request: &ExportRequest,
    requested: Option<Duration>,
) -> Option<Duration> {
    shorten(policy.retention(request), requested)
}

/// [`job_retention`] for a request whose schema follows `rules`
/// ([`RetentionPolicy::retention_under`]): what the service calls, since its registry knows
/// every schema's rules.
///
/// # Examples
///
/// ```
/// use chrono::Duration;
/// use export_core::request::{ExportRequest, Format};
/// use export_core::retention::{DefaultRetention, job_retention_under};
/// use export_core::schema::rules::{PlainRules, SchemaRules};
///
/// #[derive(Debug)]
/// struct NoPersonalData;
/// impl SchemaRules for NoPersonalData {
///     fn holds_personal_data(&self, _request: &ExportRequest) -> bool {
///         false
///     }
/// }
///
/// let policy = DefaultRetention::default();
/// let request = ExportRequest::new("products", Format::Csv);
/// assert_eq!(job_retention_under(&policy, &PlainRules, &request, None), Some(Duration::days(7)));
/// assert_eq!(job_retention_under(&policy, &NoPersonalData, &request, None), None);
/// ```
pub fn job_retention_under(
    policy: &dyn RetentionPolicy,
    rules: &dyn SchemaRules,
    request: &ExportRequest,
    requested: Option<Duration>,
) -> Option<Duration> {
    shorten(policy.retention_under(request, rules), requested)
}

fn shorten(limit: Option<Duration>, requested: Option<Duration>) -> Option<Duration> {
    match (limit, requested) {
        (Some(limit), Some(asked)) => Some(limit.min(asked)),
        (limit, asked) => limit.or(asked),
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
    /// Finished jobs stored without expiry that were given the policy's retention.
    pub retention_assigned: u64,
    /// Audit events whose actor was replaced by a pseudonym.
    pub audit_pseudonymised: u64,
    /// Audit events deleted as older than the audit retention.
    pub audit_deleted: u64,
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
    policy: Arc<dyn RetentionPolicy>,
    pseudonymiser: Pseudonymiser,
    audit_retention: Option<Duration>,
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
            policy: Arc::new(DefaultRetention::default()),
            pseudonymiser: Pseudonymiser::random(),
            audit_retention: None,
        }
    }

    /// The policy giving finished jobs stored without expiry their retention (default
    /// [`DefaultRetention`]); use the one the service and the scheduler use.
    pub fn with_retention_policy(mut self, policy: Arc<dyn RetentionPolicy>) -> Purger {
        self.policy = policy;
        self
    }

    /// The deployment's audit secret, keying the pseudonyms that replace a purged job's actor
    /// in its audit events: the same secret gives the same pseudonym for one person across
    /// purges (so their events can still be counted together). Without it the purger uses a
    /// random secret that is not kept, and pseudonyms cannot be linked at all.
    ///
    /// # Errors
    ///
    /// [`crate::ExportError::InvalidRequest`] on field `audit_secret` for a secret shorter than
    /// [`MIN_SECRET_LEN`](crate::audit::MIN_SECRET_LEN) bytes.
    pub fn with_audit_secret(mut self, secret: impl AsRef<[u8]>) -> Result<Purger> {
        self.pseudonymiser = Pseudonymiser::new(secret)?;
        Ok(self)
    }

    /// Deletes, at each purge, audit events older than `retention` (default: kept).
    pub fn with_audit_retention(mut self, retention: Duration) -> Purger {
        self.audit_retention = Some(retention);
        self
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
        let now = self.clock.now();
        let mut due = self.store.list_expired(now, usize::MAX)?;
        self.for_unexpiring(|job, keep| {
            if job.finished_at.is_some_and(|t| t + keep <= now) {
                due.push(job);
            }
            Ok(())
        })?;
        Ok(due)
    }

    /// Calls `f` with every finished job stored without expiry that the policy gives a
    /// retention, and that retention.
    fn for_unexpiring(&self, mut f: impl FnMut(ExportJob, Duration) -> Result<()>) -> Result<()> {
        let mut cursor = None;
        loop {
            let page = self
                .store
                .list_unexpiring(cursor.as_deref(), self.batch as u32)?;
            for job in page.jobs {
                if let Some(keep) = self.policy.retention(&job.request) {
                    f(job, keep)?;
                }
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// Reports what [`Purger::purge`] would do.
    ///
    /// # Errors
    ///
    /// As [`Purger::due`].
    pub fn dry_run(&self) -> Result<PurgeReport> {
        let _purge = tracing::info_span!("purge", dry_run = true).entered();
        let jobs = self.due()?;
        tracing::info!(due = jobs.len(), "purge dry run: jobs due");
        Ok(PurgeReport {
            jobs: jobs.iter().map(|j| j.id).collect(),
            dry_run: true,
            ..PurgeReport::default()
        })
    }

    /// Purges: gives finished jobs stored without expiry the policy's retention (from their
    /// `finished_at`); expires every due job (deletes the file, pseudonymises its audit
    /// events, anonymises the job and sets it expired, records an [`AuditAction::Expire`]
    /// event); deletes audit events older than the
    /// [audit retention](Purger::with_audit_retention); scrubs the job store's and the audit
    /// log's files ([`JobStore::scrub`], [`AuditLog::scrub`]) when something changed. Then
    /// removes the leftovers of uploads abandoned for longer than
    /// [`with_abandoned_after`](Purger::with_abandoned_after) ([`Storage::sweep_abandoned`]).
    ///
    /// # Errors
    ///
    /// [`crate::ExportError::Store`] or [`crate::ExportError::Storage`] from the first job that
    /// could not be purged; jobs purged before it stay purged, and a later run resumes.
    /// [`crate::ExportError::Io`] when a leftover upload cannot be removed or the JSON Lines
    /// audit log cannot be rewritten.
    pub fn purge(&self) -> Result<PurgeReport> {
        let _purge = tracing::info_span!("purge", dry_run = false).entered();
        let mut report = PurgeReport::default();
        self.assign_missing_retention(&mut report)?;
        self.expire_due(&mut report)?;
        if let Some(keep) = self.audit_retention {
            report.audit_deleted = self.audit.delete_before(self.clock.now() - keep)?;
        }
        if !report.jobs.is_empty() {
            self.store.scrub()?;
        }
        if report.audit_pseudonymised > 0 || report.audit_deleted > 0 {
            self.audit.scrub()?;
        }
        report.abandoned_uploads = self
            .storage
            .sweep_abandoned(self.clock.now() - self.abandoned_after)?;
        tracing::info!(
            jobs_expired = report.jobs.len(),
            files_deleted = report.files_deleted,
            files_missing = report.files_missing,
            retention_assigned = report.retention_assigned,
            audit_pseudonymised = report.audit_pseudonymised,
            audit_deleted = report.audit_deleted,
            abandoned_uploads = report.abandoned_uploads,
            "purge done"
        );
        Ok(report)
    }

    fn assign_missing_retention(&self, report: &mut PurgeReport) -> Result<()> {
        self.for_unexpiring(|job, keep| {
            match self.store.assign_retention(job.id, keep) {
                Ok(_) => report.retention_assigned += 1,
                // Deleted, or given an expiry meanwhile: nothing left to decide.
                Err(
                    crate::ExportError::InvalidState { .. } | crate::ExportError::NotFound { .. },
                ) => {}
                Err(e) => return Err(e),
            }
            Ok(())
        })
    }

    fn expire_due(&self, report: &mut PurgeReport) -> Result<()> {
        loop {
            let now = self.clock.now();
            let due: Vec<ExportJob> = self
                .store
                .list_expired(now, self.batch)?
                .into_iter()
                .filter(|job| !report.jobs.contains(&job.id))
                .collect();
            if due.is_empty() {
                // Nothing new could be expired in this round: stop rather than spin.
                return Ok(());
            }
            self.purge_batch(&due, report)?;
        }
    }

    fn purge_batch(&self, due: &[ExportJob], report: &mut PurgeReport) -> Result<()> {
        for job in due {
            self.delete_file(job, report)?;
        }
        // Before the jobs expire, so that a purge killed here still finds them due.
        let ids: Vec<Uuid> = due.iter().map(|j| j.id).collect();
        report.audit_pseudonymised += self.audit.pseudonymise_jobs(&ids, &self.pseudonymiser)?;
        let mut expired = Vec::with_capacity(due.len());
        for job in due {
            let now = self.clock.now();
            let done = self.store.expire(job.id, now, true)?;
            expired.push((done, now));
        }
        // Again, for an event recorded between the first pass and the expiry.
        report.audit_pseudonymised += self.audit.pseudonymise_jobs(&ids, &self.pseudonymiser)?;
        for (job, now) in expired {
            let event =
                AuditEvent::new(AuditAction::Expire, RETENTION_ACTOR, None, now).with_job(&job);
            self.audit
                .record(&event)
                .inspect_err(|e| crate::audit::trace_failure(&event, e))?;
            tracing::debug!(job_id = %job.id, "job expired: file deleted, job anonymised");
            report.jobs.push(job.id);
        }
        Ok(())
    }

    fn delete_file(&self, job: &ExportJob, report: &mut PurgeReport) -> Result<()> {
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
        Ok(())
    }
}
