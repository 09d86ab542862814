//! [`ExportService`]: the export API of the seeds (create, list own, read, status, cancel,
//! download, delete) over a [`Principal`], enforcing scopes and ownership and writing the
//! audit log.
//!
//! # Rules
//!
//! - Every operation needs one [`Scope`]; without it the answer is [`ExportError::Forbidden`],
//!   checked before the job is looked up.
//! - The owner of a job is the pair (user, organisation). A principal sees only its own jobs.
//!   Someone else's job, also one of a colleague in the same organisation or of the same user
//!   id in another organisation, is [`ExportError::NotFound`] with exactly the message of an
//!   id that does not exist, so that existence never leaks; lists hold only the pair's jobs.
//! - What a principal may export is decided by an [`AccessPolicy`] before anything else about
//!   the request is checked and before a job exists (by default the schema's own
//!   [`SchemaRules::authorize`]: for the trip schema the registry's rules, as
//!   [`RegistryAccessPolicy`](crate::access::RegistryAccessPolicy): operators their operator's trips, territories their
//!   territory's, opendata for everyone, anything else with [`Scope::Admin`]; registered
//!   schemas are allowed unless their rules say otherwise).
//! - A request is validated by the [`SchemaRegistry`] before a job exists; its errors are
//!   returned as they are and nothing is stored. A trip request without period or version gets
//!   the defaults it was validated with (the last calendar month that ended at least 5 days
//!   ago, see [`default_period`](crate::schema::trip::default_period); V3), so the worker runs
//!   what was checked. Defaults and user-only rules are the schema's
//!   ([`SchemaRules::fill_defaults`], [`SchemaRules::validate`]).
//! - Retention: personal-data exports ([`SchemaRules::holds_personal_data`]: trip
//!   `operator`/`territory`, and every registered schema unless its rules say otherwise,
//!   since the library cannot judge their content) are kept [`ServiceConfig::personal_retention`]
//!   (7 days); trip `opendata` exports [`ServiceConfig::opendata_retention`] (kept by default).
//! - Creations are rate limited per user ([`ServiceConfig::create_rate_limit`], 100 per
//!   5 minutes by default, counted in this process): beyond it, [`ExportError::RateLimited`]
//!   whose `retry_after` says when the oldest creation in the window leaves it.
//! - Audit: create, download (and download links), cancel and delete each record an
//!   [`AuditEvent`] *before* the operation takes effect or its result is handed out; when the
//!   audit log fails, the operation fails, so nothing is exported unaudited.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use export_core::audit::{AuditLog, AuditQuery, MemoryAuditLog};
//! use export_core::clock::SystemClock;
//! use export_core::job::{JobStatus, ListQuery, MemoryJobStore};
//! use export_core::registry::SchemaRegistry;
//! use export_core::request::{Audience, ExportRequest, Format};
//! use export_core::service::{ExportService, Principal};
//! use export_core::storage::MemoryStorage;
//!
//! let audit = Arc::new(MemoryAuditLog::new());
//! let service = ExportService::new(
//!     Arc::new(MemoryJobStore::new()),
//!     Arc::new(MemoryStorage::new()?),
//!     audit.clone(),
//!     Arc::new(SchemaRegistry::new()),
//!     Arc::new(SystemClock),
//! );
//! let alice = Principal::new("alice", Some("op-7"))
//!     .operator(7)
//!     .with_scopes("READ_EXPORTS,WRITE_EXPORTS")?;
//! let mut request = ExportRequest::new("trip", Format::Xlsx);
//! request.audience = Some(Audience::Operator);
//! let job = service.create(&alice, request)?;
//! // No operator filter: the access policy narrowed it to alice's operator.
//! assert_eq!(job.request.filters.operators, [7]);
//! assert_eq!(service.status(&alice, job.id)?.status, JobStatus::Pending);
//! assert_eq!(service.list(&alice, &ListQuery::default())?.jobs.len(), 1);
//!
//! let bob = Principal::new("bob", Some("op-7")).with_scopes("READ_EXPORTS")?;
//! assert_eq!(service.get(&bob, job.id).unwrap_err().code(), "NOT_FOUND");
//! assert_eq!(service.cancel(&bob, job.id).unwrap_err().code(), "FORBIDDEN");
//!
//! service.cancel(&alice, job.id)?;
//! assert_eq!(audit.list(&AuditQuery::default().job(job.id))?.len(), 2);
//! # Ok::<(), export_core::ExportError>(())
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::access::AccessPolicy;
use crate::audit::{AuditAction, AuditEvent, AuditLog};
use crate::clock::Clock;
use crate::error::{ExportError, Result};
use crate::job::{
    DEFAULT_MAX_ATTEMPTS, ExportJob, JobError, JobStatus, JobStore, ListQuery, NewJob, Page,
    Progress,
};
use crate::registry::SchemaRegistry;
use crate::request::ExportRequest;
use crate::retention::{DefaultRetention, RetentionPolicy, job_retention_under};
use crate::schema::rules::{PlainRules, SchemaRules};
use crate::storage::{Download, Storage, StorageKey, clamp_expiry};
use crate::temporal::DEFAULT_TIME_ZONE;

pub use crate::principal::{Organisation, Principal, Scope};

/// Settings of an [`ExportService`].
///
/// # Examples
///
/// ```
/// use chrono::Duration;
/// use export_core::service::ServiceConfig;
/// let config = ServiceConfig::default();
/// assert_eq!(config.personal_retention, Duration::days(7));
/// assert_eq!(config.opendata_retention, None);
/// assert_eq!(config.create_rate_limit, Some((100, Duration::minutes(5))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConfig {
    /// How long personal-data exports are kept once finished (default 7 days).
    pub personal_retention: Duration,
    /// How long opendata exports are kept once finished (default `None`: until removed).
    pub opendata_retention: Option<Duration>,
    /// Attempts each job gets (default [`DEFAULT_MAX_ATTEMPTS`]).
    pub max_attempts: u32,
    /// At most this many creations per user within this window (default 100 per 5 minutes);
    /// `None` for no limit.
    pub create_rate_limit: Option<(u32, Duration)>,
    /// The zone of default periods for requests that name none (default
    /// [`DEFAULT_TIME_ZONE`], `Europe/Paris`).
    pub time_zone: chrono_tz::Tz,
}

impl Default for ServiceConfig {
    fn default() -> ServiceConfig {
        ServiceConfig {
            personal_retention: Duration::days(7),
            opendata_retention: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            create_rate_limit: Some((100, Duration::minutes(5))),
            time_zone: DEFAULT_TIME_ZONE,
        }
    }
}

/// What [`ExportService::status`] tells about a job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobStatusView {
    /// The job.
    pub id: Uuid,
    /// Where it is in its lifecycle.
    pub status: JobStatus,
    /// Rows written so far.
    pub progress: Progress,
    /// Percentage done, when the expected row count is known.
    pub percent: Option<f64>,
    /// A cancel was asked while it ran.
    pub cancel_requested: bool,
    /// Why the last attempt failed.
    pub error: Option<JobError>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When the current or last attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// When retention removes it.
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<&ExportJob> for JobStatusView {
    fn from(job: &ExportJob) -> JobStatusView {
        JobStatusView {
            id: job.id,
            status: job.status,
            progress: job.progress,
            percent: job.progress.percent(),
            cancel_requested: job.cancel_requested,
            error: job.error.clone(),
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
            expires_at: job.expires_at,
        }
    }
}

/// What [`ExportService::withdraw`] did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Withdrawn {
    /// The job was pending or running: it is cancelled (a running one stops at its next batch).
    Cancelled(Box<ExportJob>),
    /// The job had finished: it and its file are deleted.
    Deleted,
}

/// A finished export's file, streamed from storage.
pub struct ExportDownload {
    /// The name to offer (`trips-v3-opendata-2026-10.xlsx`).
    pub file_name: String,
    /// Its MIME type.
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256 recorded at publication, lower-case hex ([`Download::verify`] checks it).
    pub sha256: String,
    /// Data rows in the file.
    pub rows: u64,
    /// The content.
    pub reader: Download,
}

impl fmt::Debug for ExportDownload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportDownload")
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .field("size", &self.size)
            .field("sha256", &self.sha256)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

/// The export API over a job store, a storage, an audit log and a schema registry.
///
/// See the [module documentation](self) for the rules and an example.
pub struct ExportService {
    store: Arc<dyn JobStore>,
    storage: Arc<dyn Storage>,
    audit: Arc<dyn AuditLog>,
    registry: Arc<SchemaRegistry>,
    clock: Arc<dyn Clock>,
    config: ServiceConfig,
    retention: Option<Arc<dyn RetentionPolicy>>,
    access: Arc<dyn AccessPolicy>,
    recent_creates: Mutex<HashMap<String, VecDeque<DateTime<Utc>>>>,
}

impl fmt::Debug for ExportService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportService")
            .field("storage", &self.storage)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn not_found(id: Uuid) -> ExportError {
    ExportError::NotFound {
        kind: "job",
        id: id.to_string(),
    }
}

/// Parses a job id given as text; text that is no id is [`ExportError::NotFound`], like an id
/// that does not exist.
///
/// # Errors
///
/// [`ExportError::NotFound`].
///
/// # Examples
///
/// ```
/// use export_core::service::parse_job_id;
/// assert!(parse_job_id("67e55044-10b1-426f-9247-bb680e5fe0c8").is_ok());
/// assert_eq!(parse_job_id("nope").unwrap_err().to_string(), "job `nope` not found");
/// ```
pub fn parse_job_id(text: &str) -> Result<Uuid> {
    Uuid::parse_str(text.trim()).map_err(|_| ExportError::NotFound {
        kind: "job",
        id: text.to_string(),
    })
}

impl ExportService {
    /// A service with the default [`ServiceConfig`].
    pub fn new(
        store: Arc<dyn JobStore>,
        storage: Arc<dyn Storage>,
        audit: Arc<dyn AuditLog>,
        registry: Arc<SchemaRegistry>,
        clock: Arc<dyn Clock>,
    ) -> ExportService {
        ExportService {
            store,
            storage,
            audit,
            access: registry.clone(),
            registry,
            clock,
            config: ServiceConfig::default(),
            retention: None,
            recent_creates: Mutex::new(HashMap::new()),
        }
    }

    /// Replaces the configuration.
    pub fn with_config(mut self, config: ServiceConfig) -> ExportService {
        self.config = config;
        self
    }

    /// Replaces the retention of new jobs (by default a [`DefaultRetention`] built from the
    /// config's `personal_retention` and `opendata_retention`).
    pub fn with_retention_policy(mut self, policy: Arc<dyn RetentionPolicy>) -> ExportService {
        self.retention = Some(policy);
        self
    }

    /// Replaces the access policy deciding what each principal may export (by default the
    /// [`SchemaRegistry`]: each schema's [`SchemaRules::authorize`], so the registry's rules for
    /// the trip schema as [`RegistryAccessPolicy`](crate::access::RegistryAccessPolicy) applies them, and registered schemas allowed
    /// unless their rules say otherwise).
    pub fn with_access_policy(mut self, policy: Arc<dyn AccessPolicy>) -> ExportService {
        self.access = policy;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// The job store.
    pub fn store(&self) -> &Arc<dyn JobStore> {
        &self.store
    }

    /// Applies the [access policy](ExportService::with_access_policy) (which may narrow the
    /// request, for example to the principal's own operator), validates the request and
    /// creates a pending job owned by `principal`, with the retention of its audience, after
    /// recording an `create` audit event.
    ///
    /// # Errors
    ///
    /// [`ExportError::Forbidden`] without `export.create`, or when the access policy refuses
    /// the request (the message says what is not allowed); the validation errors of
    /// [`SchemaRegistry::exporter`] ([`ExportError::UnknownField`],
    /// [`ExportError::InvalidPeriod`], [`ExportError::InvalidRequest`], ...), with no job
    /// created; [`ExportError::RateLimited`] (with its `retry_after`) beyond the rate limit; errors of
    /// the audit log and the store.
    ///
    /// # Examples
    ///
    /// See the [module example](self).
    pub fn create(&self, principal: &Principal, request: ExportRequest) -> Result<ExportJob> {
        let span = tracing::info_span!("create", job_id = tracing::field::Empty).entered();
        principal.require(Scope::Create)?;
        let now = self.clock.now();
        let (request, rules) = self.authorized(principal, request, now)?;
        let retention = match &self.retention {
            Some(policy) => job_retention_under(policy.as_ref(), rules.as_ref(), &request, None),
            None => {
                let policy = DefaultRetention {
                    personal: self.config.personal_retention,
                    opendata: self.config.opendata_retention,
                };
                job_retention_under(&policy, rules.as_ref(), &request, None)
            }
        };
        self.take_rate_slot(&principal.user_id, now)?;
        let mut new = NewJob::new(principal.owner(), request)
            .created_at(now)
            .max_attempts(self.config.max_attempts);
        if let Some(retention) = retention {
            new = new.retention(retention);
        }
        span.record("job_id", tracing::field::display(new.id));
        let mut event = self
            .event(AuditAction::Create, principal)
            .with_request(&new.request);
        event.job_id = Some(new.id);
        let created = self
            .audit
            .record(&event)
            .inspect_err(|e| crate::audit::trace_failure(&event, e))
            .and_then(|()| self.store.create(new));
        match &created {
            Ok(job) => tracing::info!(
                schema = %job.request.schema,
                format = %job.request.format.extension(),
                "export job created"
            ),
            Err(_) => self.release_rate_slot(&principal.user_id, now),
        }
        created
    }

    /// `request` as `principal` may run it at `now`: narrowed or refused by the access policy,
    /// completed by the schema's defaults, validated against the registry and the schema's
    /// rules. What a job and a direct export both go through before any data is read.
    pub(crate) fn authorized(
        &self,
        principal: &Principal,
        request: ExportRequest,
        now: DateTime<Utc>,
    ) -> Result<(ExportRequest, Arc<dyn SchemaRules>)> {
        // Before anything else is checked or stored: what may this principal export at all?
        let mut request = self.access.authorize(principal, request)?;
        // The schema's rules fill what the request leaves out (trip: last month, V3) and hold
        // users to more than a run (trip: days operators still send trips for).
        let rules: Arc<dyn SchemaRules> = self
            .registry
            .rules(&request.schema)
            .unwrap_or_else(|| Arc::new(PlainRules));
        rules.fill_defaults(&mut request, now, self.config.time_zone);
        self.registry.exporter(request.clone(), now)?;
        rules.validate(&request, now)?;
        Ok((request, rules))
    }

    /// The principal's own jobs, newest first, a page at a time.
    ///
    /// # Errors
    ///
    /// [`ExportError::Forbidden`] without `export.list`; [`ExportError::InvalidRequest`] for a
    /// bad limit or cursor; [`ExportError::Store`].
    pub fn list(&self, principal: &Principal, query: &ListQuery) -> Result<Page> {
        principal.require(Scope::List)?;
        self.store.list(&principal.owner(), query)
    }

    /// One of the principal's jobs.
    ///
    /// # Errors
    ///
    /// [`ExportError::Forbidden`] without `export.read`; [`ExportError::NotFound`] for an
    /// unknown id or someone else's job; [`ExportError::Store`].
    pub fn get(&self, principal: &Principal, id: Uuid) -> Result<ExportJob> {
        principal.require(Scope::Read)?;
        self.owned(principal, id)
    }

    /// The status, progress, error and timestamps of one of the principal's jobs.
    ///
    /// # Errors
    ///
    /// [`ExportError::Forbidden`] without `export.status`; [`ExportError::NotFound`];
    /// [`ExportError::Store`].
    pub fn status(&self, principal: &Principal, id: Uuid) -> Result<JobStatusView> {
        principal.require(Scope::Status)?;
        Ok(JobStatusView::from(&self.owned(principal, id)?))
    }

    /// Cancels one of the principal's jobs (pending: at once; running: its worker stops at the
    /// next batch) after recording a `cancel` audit event. Cancelling a cancelled job is a no-op
    /// that is still audited.
    ///
    /// # Errors
    ///
    /// [`ExportError::Forbidden`] without `export.cancel`; [`ExportError::NotFound`];
    /// [`ExportError::InvalidState`] (event `cancel`) for a succeeded, failed or expired job; audit and
    /// store errors.
    pub fn cancel(&self, principal: &Principal, id: Uuid) -> Result<ExportJob> {
        let _span = tracing::info_span!("cancel", job_id = %id).entered();
        principal.require(Scope::Cancel)?;
        let job = self.owned(principal, id)?;
        if job.status != JobStatus::Cancelled {
            crate::job::check_transition(id, job.status, JobStatus::Cancelled)?;
        }
        self.record(&self.event(AuditAction::Cancel, principal).with_job(&job))?;
        let cancelled = self.store.request_cancel(id, self.clock.now())?;
        tracing::info!(status = %cancelled.status, "cancel requested");
        Ok(cancelled)
    }

    /// What `DELETE` on a job means in both seeds' APIs: a pending or running job is cancelled
    /// (needs `export.cancel`), any other is deleted with its file (needs `export.delete`).
    /// A job that finishes between the look and the cancel is deleted instead.
    ///
    /// # Errors
    ///
    /// [`ExportError::Forbidden`] naming the scope the job's state calls for (and without
    /// either scope, before the job is looked up); otherwise as [`cancel`](Self::cancel) and
    /// [`delete`](Self::delete).
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::engine::{Engine, EngineConfig};
    /// use export_core::request::{Audience, ExportRequest, Format, Period};
    /// use export_core::service::{Principal, Withdrawn};
    ///
    /// let mut config = EngineConfig::default();
    /// config.job_store.url = "sqlite://:memory:".into();
    /// config.storage.url = "memory://".into();
    /// let engine = Engine::open(config)?;
    /// let alice = Principal::new("alice", None).with_all_scopes();
    /// let mut request = ExportRequest::new("trip", Format::Csv);
    /// request.audience = Some(Audience::Opendata);
    /// request.period = Some(Period::parse("2026-10-01", "2026-10-02", None)?);
    /// let job = engine.service().create(&alice, request)?;
    /// // Pending: cancelled, and kept.
    /// assert!(matches!(engine.service().withdraw(&alice, job.id)?, Withdrawn::Cancelled(_)));
    /// // Cancelled: deleted.
    /// assert!(matches!(engine.service().withdraw(&alice, job.id)?, Withdrawn::Deleted));
    /// assert_eq!(engine.service().get(&alice, job.id).unwrap_err().code(), "NOT_FOUND");
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn withdraw(&self, principal: &Principal, id: Uuid) -> Result<Withdrawn> {
        if !principal.has(Scope::Cancel) && !principal.has(Scope::Delete) {
            return Err(ExportError::Forbidden {
                scope: format!("{}` or `{}", Scope::Cancel.as_str(), Scope::Delete.as_str()),
                reason: None,
            });
        }
        for attempt in 0..2 {
            let job = self.owned(principal, id)?;
            if matches!(job.status, JobStatus::Pending | JobStatus::Running) {
                match self.cancel(principal, id) {
                    Ok(job) => return Ok(Withdrawn::Cancelled(Box::new(job))),
                    // It finished meanwhile: delete it instead, once.
                    Err(ExportError::InvalidState { .. }) if attempt == 0 => continue,
                    Err(e) => return Err(e),
                }
            }
            self.delete(principal, id)?;
            return Ok(Withdrawn::Deleted);
        }
        unreachable!("the second round always returns")
    }

    /// Opens the file of one of the principal's succeeded jobs, streamed, after recording a
    /// `download` audit event with its row count.
    ///
    /// # Errors
    ///
    /// [`ExportError::Forbidden`] without `export.download`; [`ExportError::NotFound`];
    /// [`ExportError::Gone`] once the job expired (or its retention ended, or its file is
    /// missing); [`ExportError::InvalidState`] (event `download`) for a pending, running, failed
    /// or cancelled job; storage, audit and store errors.
    pub fn download(&self, principal: &Principal, id: Uuid) -> Result<ExportDownload> {
        let _span = tracing::info_span!("download", job_id = %id).entered();
        principal.require(Scope::Download)?;
        let job = self.owned(principal, id)?;
        let now = self.clock.now();
        let (key, result) = self.ready_file(&job, now)?;
        let reader = self.storage.open(&key).map_err(|e| match e {
            ExportError::NotFound { .. } => gone(id, "its file is missing"),
            other => other,
        })?;
        self.record(&self.event(AuditAction::Download, principal).with_job(&job))?;
        tracing::info!(rows = result.rows, bytes = reader.size, "download opened");
        Ok(ExportDownload {
            file_name: self.file_name(&job),
            content_type: result.content_type.clone(),
            size: reader.size,
            sha256: result.sha256.clone(),
            rows: result.rows,
            reader,
        })
    }

    /// A signed link to the file of one of the principal's succeeded jobs, valid for
    /// `expires_in` (default one hour, at most 7 days) and never beyond the job's expiry;
    /// `None` when the storage cannot sign links (local directory): use
    /// [`download`](ExportService::download). A link handed out is audited as a download.
    ///
    /// # Errors
    ///
    /// As [`download`](ExportService::download); [`ExportError::Gone`] when less than a second
    /// of retention is left.
    pub fn download_url(
        &self,
        principal: &Principal,
        id: Uuid,
        expires_in: Option<std::time::Duration>,
    ) -> Result<Option<String>> {
        let _span = tracing::info_span!("download_url", job_id = %id).entered();
        principal.require(Scope::Download)?;
        let job = self.owned(principal, id)?;
        let now = self.clock.now();
        let (key, _) = self.ready_file(&job, now)?;
        let expiry = clamp_expiry(expires_in, job.expires_at, now)
            .ok_or_else(|| gone(id, "its retention has ended"))?;
        let url = self.storage.signed_url(&key, expiry)?;
        if url.is_some() {
            self.record(&self.event(AuditAction::Download, principal).with_job(&job))?;
            tracing::info!(expires_in_s = expiry.as_secs(), "download link signed");
        }
        Ok(url)
    }

    /// Deletes one of the principal's jobs and its file (a file already gone is fine), after
    /// recording a `delete` audit event. A running job is asked to cancel first, so its
    /// worker stops.
    ///
    /// # Errors
    ///
    /// [`ExportError::Forbidden`] without `export.delete`; [`ExportError::NotFound`]; storage,
    /// audit and store errors (the job stays when its file could not be deleted).
    pub fn delete(&self, principal: &Principal, id: Uuid) -> Result<()> {
        let _span = tracing::info_span!("delete", job_id = %id).entered();
        principal.require(Scope::Delete)?;
        let job = self.owned(principal, id)?;
        self.record(&self.event(AuditAction::Delete, principal).with_job(&job))?;
        if job.status == JobStatus::Running && !job.cancel_requested {
            self.store.request_cancel(id, self.clock.now())?;
        }
        if let Some(result) = &job.result {
            let key = StorageKey::parse(&result.storage_key)?;
            self.storage.delete(&key)?;
        }
        self.store.delete(id)?;
        tracing::info!(status = %job.status, "export job deleted");
        Ok(())
    }

    /// Records an audit event; a failure is also emitted as a `tracing` error event.
    fn record(&self, event: &AuditEvent) -> Result<()> {
        self.audit
            .record(event)
            .inspect_err(|e| crate::audit::trace_failure(event, e))
    }

    /// The job if it belongs to `principal`, else the same error as a missing id.
    fn owned(&self, principal: &Principal, id: Uuid) -> Result<ExportJob> {
        let job = self.store.get(id)?;
        // Retention erased the owner: nobody can be checked any more, and the file is gone.
        // Answering `Gone` tells whoever holds this random id only that it expired.
        if job.owner.user_id.is_empty() && job.status == JobStatus::Expired {
            return Err(gone(
                id,
                "expired; its file was deleted and the job anonymised",
            ));
        }
        // The owner is the pair (user, organisation): alice of another organisation is a
        // stranger to alice@org1's jobs.
        if job.owner.user_id.is_empty() || job.owner != principal.owner() {
            return Err(not_found(id));
        }
        Ok(job)
    }

    fn ready_file<'a>(
        &self,
        job: &'a ExportJob,
        now: DateTime<Utc>,
    ) -> Result<(StorageKey, &'a crate::job::JobResult)> {
        match (job.status, &job.result) {
            (JobStatus::Expired, _) => Err(gone(
                job.id,
                &format!(
                    "expired on {}",
                    job.expires_at.map(|t| t.to_rfc3339()).unwrap_or_default()
                ),
            )),
            (JobStatus::Succeeded, Some(result)) => {
                if job.expires_at.is_some_and(|t| t <= now) {
                    return Err(gone(job.id, "its retention has ended"));
                }
                Ok((StorageKey::parse(&result.storage_key)?, result))
            }
            (status, _) => Err(ExportError::invalid_state(
                "job",
                job.id.to_string(),
                status.as_str(),
                "download",
            )),
        }
    }

    /// `trips-v3-opendata-2026-10.xlsx`, as the exporter names it; the worker's name otherwise.
    fn file_name(&self, job: &ExportJob) -> String {
        match self.registry.exporter(job.request.clone(), job.created_at) {
            Ok(exporter) => exporter.file_name(),
            Err(_) => job
                .result
                .as_ref()
                .map(|r| r.file_name.clone())
                .unwrap_or_else(|| format!("{}.{}", job.id, job.request.format.extension())),
        }
    }

    fn event(&self, action: AuditAction, principal: &Principal) -> AuditEvent {
        AuditEvent::new(
            action,
            principal.user_id.clone(),
            principal.organisation_id.clone(),
            self.clock.now(),
        )
    }

    fn take_rate_slot(&self, user: &str, now: DateTime<Utc>) -> Result<()> {
        let Some((max, window)) = self.config.create_rate_limit else {
            return Ok(());
        };
        let mut recent = self
            .recent_creates
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let times = recent.entry(user.to_string()).or_default();
        while times.front().is_some_and(|t| *t + window <= now) {
            times.pop_front();
        }
        if times.len() >= max as usize {
            // The oldest creation in the window leaves it at `retry`: one slot frees then.
            let retry = times.front().map(|t| *t + window).unwrap_or(now);
            tracing::debug!(
                max,
                window_s = window.num_seconds(),
                retry_after = %retry.to_rfc3339(),
                "create refused: rate limit"
            );
            return Err(ExportError::RateLimited {
                reason: format!(
                    "at most {max} exports per {} s for user `{user}`",
                    window.num_seconds()
                ),
                retry_after: Some((retry - now).to_std().unwrap_or_default()),
            });
        }
        times.push_back(now);
        Ok(())
    }

    fn release_rate_slot(&self, user: &str, at: DateTime<Utc>) {
        if self.config.create_rate_limit.is_none() {
            return;
        }
        let mut recent = self
            .recent_creates
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(times) = recent.get_mut(user)
            && let Some(pos) = times.iter().rposition(|t| *t == at)
        {
            times.remove(pos);
        }
    }
}

fn gone(id: Uuid, reason: &str) -> ExportError {
    ExportError::Gone {
        kind: "job",
        id: id.to_string(),
        reason: reason.to_string(),
    }
}
