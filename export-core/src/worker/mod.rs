//! The [`Worker`]: claims export jobs from a [`JobStore`], runs them, publishes their files.
//!
//! One job run goes:
//!
//! 1. [`JobStore::reclaim_expired_leases`] (jobs of dead workers go back to the queue), then
//!    [`JobStore::claim`] with a lease of [`WorkerConfig::lease`].
//! 2. The [`Exporter`] is built from the job's request through the [`SchemaRegistry`], the data
//!    comes from the host's [`SourceProvider`] (one source per sheet).
//! 3. The file streams (every format, XLSX included) into a [`Storage`] upload under
//!    [`StorageKey::for_export`]; nothing is visible under the key until the upload commits.
//! 4. While the job runs, a heartbeat thread of its own renews the lease: at least every
//!    [`WorkerConfig::heartbeat_interval`] (a third of the lease by default), whatever the
//!    pipeline is doing (a batch that takes long, an upload waiting for capacity), and after a
//!    batch when [`WorkerConfig::heartbeat_every`] has passed. Each heartbeat reports the rows
//!    done so far (the pipeline's progress callback only stores them; it never waits for the
//!    store). A heartbeat that reports a cancel request stops the export before the next
//!    batch: the upload is aborted and the job marked cancelled. A heartbeat refused with
//!    [`ExportError::LeaseLost`] (or [`ExportError::NotFound`]: the job was deleted) means the
//!    job is no longer this worker's: the export stops before the next batch and nothing is
//!    published. One more heartbeat, made by the run itself, checks the lease just before the
//!    upload commits.
//! 5. On success the upload commits and the job completes with a [`JobResult`]; on failure the
//!    upload is aborted and the job fails, with a retry (after [`WorkerConfig::retry_delay`],
//!    doubled per attempt) for transient errors ([`ExportError::Io`], [`ExportError::Storage`],
//!    [`ExportError::Store`]) and without one for errors of the request or its data. A panic
//!    in the pipeline fails the job with kind [`INTERNAL`] and does not take the worker down.
//!
//! With an audit log ([`Worker::with_audit`]) every run is traced, in the name of the job's
//! owner: an [`AuditAction::Export`] event with the row
//! count once the file is written and *before* it is published (when the event cannot be
//! recorded the upload is aborted and the job retried, so no file is published unaudited), and
//! an [`AuditAction::Fail`] event for each failed run (its
//! detail gives the error kind and whether the job is retried; not the message, which may
//! quote personal data).
//!
//! A worker told to shut down ([`Worker::run_forever`]'s flag, or
//! [`Worker::run_once_until_shutdown`]'s) stops its export before the next batch, aborts the
//! upload and [releases](JobStore::release) the job: it is pending again at once and the next
//! worker claims it without waiting for the lease to run out. Heartbeats go on until the
//! release, so the lease never lapses under a run that is stopping.
//!
//! A worker killed mid-job leaves only its temporary output (a hidden file for
//! [`LocalStorage`](crate::storage::LocalStorage), an uncompleted multipart upload on an object
//! store); its lease expires and the next worker's [`Worker::run_once`] reclaims the job and
//! runs it again.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use export_core::clock::ManualClock;
//! use export_core::job::{JobStatus, JobStore, MemoryJobStore, NewJob, Owner};
//! use export_core::registry::SchemaRegistry;
//! use export_core::request::{Audience, ExportRequest, Format, Period, SchemaVersion};
//! use export_core::storage::{MemoryStorage, Storage, StorageKey};
//! use export_core::worker::{SampleTripsProvider, Worker, WorkerConfig};
//!
//! let store = Arc::new(MemoryJobStore::new());
//! let storage = Arc::new(MemoryStorage::new()?);
//! let mut request = ExportRequest::new("trip", Format::Csv);
//! request.version = Some(SchemaVersion::V3);
//! request.audience = Some(Audience::Operator);
//! request.period = Some(Period::parse("2026-10-01", "2026-10-02", None)?);
//! let job = store.create(NewJob::new(Owner::user("u-1"), request))?;
//!
//! let worker = Worker::new(
//!     WorkerConfig::default(),
//!     store.clone(),
//!     storage.clone(),
//!     Arc::new(SampleTripsProvider { rows: 1_000, seed: 7 }),
//!     Arc::new(SchemaRegistry::new()),
//!     // A fixed clock for a fixed period: on the system clock, October 2026 would one day be
//!     // older than the trip schema allows.
//!     Arc::new(ManualClock::new("2026-11-23T10:00:00Z".parse().expect("an instant"))),
//! );
//! let outcome = worker.run_once()?.expect("one pending job");
//! assert_eq!(outcome.job_id, job.id);
//! assert_eq!(outcome.status, JobStatus::Succeeded);
//!
//! let done = store.get(job.id)?;
//! let result = done.result.expect("a result");
//! let key = StorageKey::parse(&result.storage_key)?;
//! assert_eq!(storage.head(&key)?.map(|info| info.size), Some(result.size_bytes));
//! assert!(worker.run_once()?.is_none()); // the queue is empty
//! # Ok::<(), export_core::ExportError>(())
//! ```

mod progress;

pub use progress::{JobProgressFn, ProgressSources};

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use chrono::Duration;
use uuid::Uuid;

use crate::audit::{AuditAction, AuditEvent, AuditLog, ExportAudit};
use crate::clock::Clock;
use crate::error::{ExportError, Result};
use crate::export::{ExportReport, Exporter};
use crate::job::{ExportJob, JobError, JobResult, JobStatus, JobStore, Progress};
use crate::registry::SchemaRegistry;
use crate::source::Source;
use crate::source::sample::{SampleConfig, SampleTrips};
use crate::storage::{Storage, StorageKey, Upload};

/// The [`JobError::kind`] of a job whose pipeline panicked.
pub const INTERNAL: &str = "INTERNAL";

/// The longest sleep between two checks of the shutdown flag in [`Worker::run_forever`].
const SHUTDOWN_STEP: std::time::Duration = std::time::Duration::from_millis(50);

/// The data of a job: the host's answer to "which rows does this request cover?".
///
/// The worker calls [`SourceProvider::open`] once per run, after the request was validated.
/// When the request has no period, `job.request.period` holds the period the exporter resolved
/// (the previous month), so the provider and the exporter agree.
pub trait SourceProvider: Send + Sync {
    /// Opens the sources of `job`: one per sheet of its schema (one for the trip schema).
    ///
    /// # Errors
    ///
    /// Whatever opening the data fails with; [`ExportError::InvalidRequest`] for a request the
    /// provider cannot serve (fails the job without retry), [`ExportError::Io`] or
    /// [`ExportError::Store`] for a transient problem (retried).
    fn open(&self, job: &ExportJob) -> Result<Vec<Box<dyn Source>>>;
}

/// Sample trips ([`SampleTrips`]) over the request's period: the CLI's default data, and the
/// tests'.
///
/// # Examples
///
/// ```
/// use export_core::job::{JobStore, MemoryJobStore, NewJob, Owner};
/// use export_core::request::{ExportRequest, Format, Period};
/// use export_core::worker::{SampleTripsProvider, SourceProvider};
///
/// let mut request = ExportRequest::new("trip", Format::Csv);
/// request.period = Some(Period::parse("2026-10-01", "2026-10-02", None)?);
/// let job = MemoryJobStore::new().create(NewJob::new(Owner::user("u-1"), request))?;
/// let sources = SampleTripsProvider { rows: 10, seed: 1 }.open(&job)?;
/// assert_eq!(sources.len(), 1);
/// assert_eq!(sources[0].rows_hint(), Some(10));
/// # Ok::<(), export_core::ExportError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleTripsProvider {
    /// Trips generated per job.
    pub rows: u64,
    /// The generator's seed: the same seed gives the same trips.
    pub seed: u64,
}

impl SourceProvider for SampleTripsProvider {
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] (field `schema`) for a schema other than `trip`, and
    /// (field `period`) when the request has no period.
    fn open(&self, job: &ExportJob) -> Result<Vec<Box<dyn Source>>> {
        crate::dataset::DatasetSource::open(self, &job.request)
    }
}

impl crate::dataset::DatasetSource for SampleTripsProvider {
    fn open(&self, request: &crate::request::ExportRequest) -> Result<Vec<Box<dyn Source>>> {
        // Sample trips are in the trip input schema: they serve the schemas that read it.
        let reads_trips = crate::schema::builtin::builtin_or_plain(&request.schema)
            .input_schema()
            .is_some_and(|input| input == crate::schema::trip::input_schema());
        if !reads_trips {
            return Err(ExportError::request(
                "schema",
                format!(
                    "sample trips serve the trip schema only, not `{}`",
                    request.schema
                ),
            ));
        }
        let period = request
            .period
            .ok_or_else(|| ExportError::request("period", "sample trips need a period"))?;
        let trips = SampleTrips::new(SampleConfig {
            rows: self.rows,
            seed: self.seed,
            start: period.start,
            end: period.end,
            ..SampleConfig::default()
        })?;
        Ok(vec![Box::new(trips)])
    }
}

/// Settings of a [`Worker`].
///
/// # Examples
///
/// ```
/// use export_core::worker::WorkerConfig;
/// let config = WorkerConfig { lease: chrono::Duration::seconds(10), ..WorkerConfig::default() };
/// assert_eq!(config.lease.num_seconds(), 10);
/// assert!(config.heartbeat_every.is_zero()); // a heartbeat after every batch
/// assert_eq!(config.heartbeat_period(), std::time::Duration::from_secs(10) / 3); // and lease / 3
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerConfig {
    /// The worker's identifier, recorded in the leases it holds (default
    /// `<hostname>-<pid>-<random>`). Two live workers must not share one.
    pub id: String,
    /// How long a claim or heartbeat holds the job (default 60 s). A worker that stops
    /// heartbeating for this long loses its job to another worker.
    pub lease: Duration,
    /// Sleep of [`Worker::run_forever`] when the queue is empty (default 1 s).
    pub poll_interval: std::time::Duration,
    /// Delay before the first retry of a job that failed with a transient error (default
    /// 30 s); doubled on each further attempt, up to [`WorkerConfig::max_retry_delay`].
    pub retry_delay: Duration,
    /// The longest retry delay (default 1 h).
    pub max_retry_delay: Duration,
    /// Least time between two heartbeats triggered by the pipeline's progress (default zero:
    /// one after every batch). These heartbeats run on the heartbeat thread: the pipeline never
    /// waits for the store. Cancel requests are seen at heartbeats, so a longer interval makes
    /// cancellation slower.
    pub heartbeat_every: std::time::Duration,
    /// Longest time between two heartbeats, whatever the pipeline is doing (default `None`: a
    /// third of [`WorkerConfig::lease`]; see [`WorkerConfig::heartbeat_period`]). Keep it well
    /// below the lease: the lease is lost when no heartbeat lands within it.
    pub heartbeat_interval: Option<std::time::Duration>,
}

impl WorkerConfig {
    /// The longest time between two heartbeats: [`WorkerConfig::heartbeat_interval`], or a
    /// third of the lease; at least one millisecond.
    pub fn heartbeat_period(&self) -> std::time::Duration {
        let period = self.heartbeat_interval.unwrap_or_else(|| {
            (self.lease / 3)
                .to_std()
                .unwrap_or(std::time::Duration::ZERO)
        });
        period.max(std::time::Duration::from_millis(1))
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            id: default_worker_id(),
            lease: Duration::seconds(60),
            poll_interval: std::time::Duration::from_secs(1),
            retry_delay: Duration::seconds(30),
            max_retry_delay: Duration::hours(1),
            heartbeat_every: std::time::Duration::ZERO,
            heartbeat_interval: None,
        }
    }
}

/// `<hostname>-<pid>-<8 random hex digits>`.
fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_string());
    let random = Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &random[..8])
}

/// What one job run ended with, returned by [`Worker::run_once`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOutcome {
    /// The job.
    pub job_id: Uuid,
    /// Its status after the run: `Succeeded`, `Cancelled`, `Failed`, or `Pending` when it will
    /// be retried or was released. When the lease was lost, whatever the store says now.
    pub status: JobStatus,
    /// Rows written (on success) or read so far (otherwise).
    pub rows: u64,
    /// Why the run did not succeed.
    pub error: Option<JobError>,
    /// The worker lost its lease mid-run (another worker owns the job): nothing was published
    /// and the job was left alone.
    pub lease_lost: bool,
    /// The worker was told to shut down mid-run and [released](JobStore::release) the job: it
    /// is pending again (cancelled when a cancel was requested meanwhile) and nothing was
    /// published.
    pub released: bool,
}

/// Runs export jobs: claims, exports, heartbeats, publishes, records.
///
/// A `Worker` is `Send + Sync`; run several on threads (each with its own
/// [`WorkerConfig::id`]) or in several processes on one store. See the [module](self) for the
/// life of a job run and an example.
pub struct Worker {
    config: WorkerConfig,
    store: Arc<dyn JobStore>,
    storage: Arc<dyn Storage>,
    sources: Arc<dyn SourceProvider>,
    registry: Arc<SchemaRegistry>,
    clock: Arc<dyn Clock>,
    audit: Option<Arc<dyn AuditLog>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("config", &self.config)
            .field("store", &self.store.backend())
            .field("storage", &self.storage.url())
            .finish_non_exhaustive()
    }
}

/// How a job run ended inside [`Worker::execute`], before it is recorded.
enum RunEnd {
    Published(ExportReport, crate::storage::StoredObject, StorageKey),
    Cancelled(u64),
    LeaseLost(u64),
    Released(u64),
    Failed(ExportError, u64),
}

/// `Beat::expected` when the source does not announce its row count.
const UNKNOWN: u64 = u64::MAX;

/// State shared between the run, its progress callback and its heartbeat thread.
struct Beat {
    /// The exporter's cancel flag: set for a cancel request, a lost lease or a shutdown.
    cancel: Arc<AtomicBool>,
    /// A heartbeat said the owner asked to cancel.
    cancel_requested: AtomicBool,
    /// A heartbeat was refused: the job is no longer ours.
    lost: AtomicBool,
    /// The worker was told to shut down during the run.
    stopping: AtomicBool,
    /// Rows read so far, and rows expected ([`UNKNOWN`] when the source does not say).
    rows: AtomicU64,
    expected: AtomicU64,
    /// When the progress callback last asked for a heartbeat.
    last_nudge: Mutex<Option<Instant>>,
    signal: Mutex<Signal>,
    wake: Condvar,
}

/// What the heartbeat thread waits for.
#[derive(Default)]
struct Signal {
    /// The pipeline made progress worth a heartbeat.
    nudged: bool,
    /// The run is over: stop heartbeating.
    done: bool,
}

impl Beat {
    fn new() -> Beat {
        Beat {
            cancel: Arc::new(AtomicBool::new(false)),
            cancel_requested: AtomicBool::new(false),
            lost: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            rows: AtomicU64::new(0),
            expected: AtomicU64::new(UNKNOWN),
            last_nudge: Mutex::new(None),
            signal: Mutex::new(Signal::default()),
            wake: Condvar::new(),
        }
    }

    fn signal(&self) -> MutexGuard<'_, Signal> {
        self.signal.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }

    fn progress(&self) -> Progress {
        let expected = self.expected.load(Ordering::Relaxed);
        Progress::new(self.rows(), (expected != UNKNOWN).then_some(expected))
    }

    /// Asks the heartbeat thread for a heartbeat now.
    fn nudge(&self) {
        self.signal().nudged = true;
        self.wake.notify_one();
    }

    /// Ends the heartbeat thread.
    fn finish(&self) {
        self.signal().done = true;
        self.wake.notify_one();
    }
}

impl Worker {
    /// A worker over a job store, a storage for the files, the host's data and schemas, and
    /// a clock (use [`SystemClock`](crate::clock::SystemClock) outside tests).
    pub fn new(
        config: WorkerConfig,
        store: Arc<dyn JobStore>,
        storage: Arc<dyn Storage>,
        sources: Arc<dyn SourceProvider>,
        registry: Arc<SchemaRegistry>,
        clock: Arc<dyn Clock>,
    ) -> Worker {
        Worker {
            config,
            store,
            storage,
            sources,
            registry,
            clock,
            audit: None,
        }
    }

    /// Records an `export` event for each run that wrote its file (before publishing it) and
    /// a `fail` event for each failed run; see the [module documentation](self). When a `fail`
    /// event cannot be recorded, [`run_once`](Worker::run_once) returns the audit log's error
    /// (the failure itself is recorded on the job).
    pub fn with_audit(mut self, audit: Arc<dyn AuditLog>) -> Worker {
        self.audit = Some(audit);
        self
    }

    /// The worker's settings.
    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }

    /// Runs at most one job: reclaims expired leases, claims the next pending job and runs it
    /// to its end. Returns `None` when no job was pending. Hosts that bring their own queue
    /// (Celery, a Node job runner) call this once per message.
    ///
    /// Failures of the job itself (a bad request, a storage error, a panic) are recorded on
    /// the job and reported in the [`JobOutcome`], not returned as errors.
    ///
    /// # Errors
    ///
    /// [`ExportError::Store`] when the store fails to reclaim, claim or record the outcome
    /// (the job's lease then expires and it is retried); [`ExportError::InvalidRequest`] for
    /// an empty worker id or a non-positive lease; the audit log's error when the `fail` event
    /// of a failed run cannot be recorded ([`Worker::with_audit`]); [`ExportError::Io`] when
    /// the heartbeat thread cannot be started (the job is released first).
    pub fn run_once(&self) -> Result<Option<JobOutcome>> {
        self.run_next(None, None)
    }

    /// Runs job `id` (when it is pending and due) to its end, as [`run_once`](Worker::run_once)
    /// runs the next one: for hosts whose queue message names the job (a Celery task per job).
    /// `None` when the job is not claimable now (another worker runs it, it is finished or
    /// cancelled, or its retry is not due); a `shutdown` flag stops it as in
    /// [`run_once_until_shutdown`](Worker::run_once_until_shutdown).
    ///
    /// # Errors
    ///
    /// [`ExportError::NotFound`] when there is no job `id`; as [`run_once`](Worker::run_once).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use export_core::{clock::SystemClock, job::{JobStore, MemoryJobStore, NewJob, Owner}};
    /// # use export_core::registry::SchemaRegistry;
    /// # use export_core::request::{ExportRequest, Format, Period};
    /// # use export_core::storage::MemoryStorage;
    /// # use export_core::worker::{SampleTripsProvider, Worker, WorkerConfig};
    /// let store = Arc::new(MemoryJobStore::new());
    /// let mut request = ExportRequest::new("trip", Format::Csv);
    /// request.period = Some(Period::parse("2026-10-01", "2026-10-02", None)?);
    /// let first = store.create(NewJob::new(Owner::user("u-1"), request.clone()))?;
    /// let second = store.create(NewJob::new(Owner::user("u-1"), request))?;
    /// let worker = Worker::new(
    ///     WorkerConfig::default(),
    ///     store.clone(),
    ///     Arc::new(MemoryStorage::new()?),
    ///     Arc::new(SampleTripsProvider { rows: 10, seed: 1 }),
    ///     Arc::new(SchemaRegistry::new()),
    ///     Arc::new(SystemClock),
    /// );
    /// let outcome = worker.run_job(second.id, None)?.expect("pending, so run");
    /// assert_eq!(outcome.job_id, second.id);
    /// assert!(worker.run_job(second.id, None)?.is_none()); // finished now
    /// assert_eq!(store.get(first.id)?.status.as_str(), "pending");
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn run_job(&self, id: Uuid, shutdown: Option<&AtomicBool>) -> Result<Option<JobOutcome>> {
        self.run_next(shutdown, Some(id))
    }

    /// As [`run_once`](Worker::run_once), but a run stops before its next batch once
    /// `shutdown` is set: the upload is aborted, the job [released](JobStore::release) (pending
    /// again, claimable at once by another worker) and the outcome says
    /// [`released`](JobOutcome::released). The flag is looked at every 50 ms at most. A run
    /// whose file is already written when the flag is set is published as usual.
    ///
    /// # Errors
    ///
    /// As [`run_once`](Worker::run_once).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::sync::atomic::AtomicBool;
    /// # use export_core::{clock::SystemClock, job::MemoryJobStore, registry::SchemaRegistry};
    /// # use export_core::storage::MemoryStorage;
    /// # use export_core::worker::{SampleTripsProvider, Worker, WorkerConfig};
    /// let worker = Worker::new(
    ///     WorkerConfig::default(),
    ///     Arc::new(MemoryJobStore::new()),
    ///     Arc::new(MemoryStorage::new()?),
    ///     Arc::new(SampleTripsProvider { rows: 10, seed: 1 }),
    ///     Arc::new(SchemaRegistry::new()),
    ///     Arc::new(SystemClock),
    /// );
    /// let shutdown = AtomicBool::new(false);
    /// assert!(worker.run_once_until_shutdown(&shutdown)?.is_none()); // nothing pending
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn run_once_until_shutdown(&self, shutdown: &AtomicBool) -> Result<Option<JobOutcome>> {
        self.run_next(Some(shutdown), None)
    }

    fn run_next(
        &self,
        shutdown: Option<&AtomicBool>,
        only: Option<Uuid>,
    ) -> Result<Option<JobOutcome>> {
        let _worker = tracing::info_span!("worker", worker_id = %self.config.id).entered();
        let now = self.clock.now();
        let reclaimed = self.store.reclaim_expired_leases(now)?;
        if !reclaimed.is_empty() {
            tracing::info!(
                jobs = reclaimed.len(),
                "expired leases reclaimed: jobs back to pending"
            );
        }
        let claimed = match only {
            Some(id) => self
                .store
                .claim_job(id, &self.config.id, self.config.lease, now)?,
            None => self.store.claim(&self.config.id, self.config.lease, now)?,
        };
        let Some(job) = claimed else {
            tracing::trace!("no pending job");
            return Ok(None);
        };
        let _job = tracing::info_span!("job", job_id = %job.id, attempt = job.attempts).entered();
        let started = Instant::now();
        tracing::info!(
            schema = %job.request.schema,
            format = %job.request.format.extension(),
            "job claimed"
        );
        let beat = Arc::new(Beat::new());
        // The heartbeat thread's events belong to this run, and go to this thread's
        // subscriber (which may be a scoped default, not the global one).
        let span = tracing::Span::current();
        let dispatch = tracing::dispatcher::get_default(|d| d.clone());
        let ran = std::thread::scope(|s| {
            let heartbeats = std::thread::Builder::new()
                .name(format!("heartbeat-{}", job.id))
                .spawn_scoped(s, || {
                    tracing::dispatcher::with_default(&dispatch, || {
                        let _run = span.enter();
                        self.heartbeat_loop(job.id, &beat, shutdown)
                    })
                })?;
            let end = catch_unwind(AssertUnwindSafe(|| self.execute(&job, &beat)));
            beat.finish();
            // The loop never panics; a panic there would only mean no more heartbeats.
            let _ = heartbeats.join();
            Ok::<_, std::io::Error>(end)
        });
        let ran = match ran {
            Ok(ran) => ran,
            Err(e) => {
                // No heartbeat thread, no run: hand the job back rather than hold it unrenewed.
                let _ = self
                    .store
                    .release(job.id, &self.config.id, self.clock.now());
                return Err(ExportError::Io {
                    path: None,
                    source: e,
                });
            }
        };
        let end = match ran {
            Ok(end) => end,
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_string());
                let rows = beat.rows();
                if beat.lost.load(Ordering::Relaxed) {
                    RunEnd::LeaseLost(rows)
                } else {
                    let error = JobError::new(INTERNAL, format!("the export panicked: {message}"));
                    let done = self.store.fail(
                        job.id,
                        &self.config.id,
                        error.clone(),
                        None,
                        self.clock.now(),
                    );
                    tracing::error!(%message, rows, "the export panicked");
                    self.audit_failure(&job, &error, &done)?;
                    let outcome = self.recorded(job.id, done, rows, Some(error));
                    trace_outcome(&outcome, started);
                    return outcome.map(Some);
                }
            }
        };
        let outcome = self.record(&job, end);
        trace_outcome(&outcome, started);
        outcome.map(Some)
    }

    /// Records how a run ended on the job.
    fn record(&self, job: &ExportJob, end: RunEnd) -> Result<JobOutcome> {
        let now = self.clock.now();
        match end {
            RunEnd::Published(report, stored, key) => {
                let result = JobResult {
                    storage_key: key.as_str().to_string(),
                    size_bytes: stored.size,
                    rows: report.rows_written,
                    sha256: stored.sha256,
                    file_name: report.file_name,
                    content_type: stored.content_type,
                };
                match self
                    .store
                    .complete(job.id, &self.config.id, result, None, now)
                {
                    Ok(done) => Ok(JobOutcome {
                        job_id: job.id,
                        status: done.status,
                        rows: report.rows_written,
                        error: None,
                        lease_lost: false,
                        released: false,
                    }),
                    Err(ExportError::LeaseLost { .. } | ExportError::NotFound { .. }) => {
                        // The lease was lost between the last heartbeat and completion: take
                        // the file back unless the new owner already published it.
                        let current = self.store.get(job.id).ok();
                        let published_by_other = current
                            .as_ref()
                            .is_some_and(|j| j.status == JobStatus::Succeeded);
                        if !published_by_other {
                            let _ = self.storage.delete(&key);
                        }
                        Ok(self.lost(job.id, current, report.rows_written))
                    }
                    Err(e) => Err(e),
                }
            }
            RunEnd::Cancelled(rows) => {
                let done = self.store.mark_cancelled(job.id, &self.config.id, now);
                if let Err(ExportError::LeaseLost { .. } | ExportError::NotFound { .. }) = done {
                    return Ok(self.lost(job.id, self.store.get(job.id).ok(), rows));
                }
                self.recorded(job.id, done, rows, None)
            }
            RunEnd::Released(rows) => match self.store.release(job.id, &self.config.id, now) {
                Ok(done) => Ok(JobOutcome {
                    job_id: job.id,
                    status: done.status,
                    rows,
                    error: None,
                    lease_lost: false,
                    released: true,
                }),
                Err(ExportError::LeaseLost { .. } | ExportError::NotFound { .. }) => {
                    Ok(self.lost(job.id, self.store.get(job.id).ok(), rows))
                }
                Err(e) => Err(e),
            },
            RunEnd::LeaseLost(rows) => Ok(self.lost(job.id, self.store.get(job.id).ok(), rows)),
            RunEnd::Failed(err, rows) => {
                let error = JobError::from(&err);
                let retry = is_transient(&err).then(|| self.retry_delay(job.attempts));
                let done = self
                    .store
                    .fail(job.id, &self.config.id, error.clone(), retry, now);
                if let Err(ExportError::LeaseLost { .. } | ExportError::NotFound { .. }) = done {
                    return Ok(self.lost(job.id, self.store.get(job.id).ok(), rows));
                }
                if let (Some(delay), Ok(done)) = (retry, &done)
                    && done.status == JobStatus::Pending
                {
                    tracing::info!(
                        kind = %error.kind,
                        retry_in_ms = delay.num_milliseconds(),
                        next_attempt = job.attempts + 1,
                        "retry scheduled"
                    );
                }
                self.audit_failure(job, &error, &done)?;
                self.recorded(job.id, done, rows, Some(error))
            }
        }
    }

    /// Records a `fail` event for a run whose failure was recorded on the job.
    fn audit_failure(
        &self,
        job: &ExportJob,
        error: &JobError,
        done: &Result<ExportJob>,
    ) -> Result<()> {
        let (Some(audit), Ok(done)) = (&self.audit, done) else {
            return Ok(());
        };
        let next = if done.status == JobStatus::Pending {
            "retried"
        } else {
            "not retried"
        };
        let event = AuditEvent::new(
            AuditAction::Fail,
            job.owner.user_id.clone(),
            job.owner.organisation_id.clone(),
            self.clock.now(),
        )
        .with_job(done)
        .with_detail(format!(
            "worker {}, attempt {}: {} ({next})",
            self.config.id, job.attempts, error.kind
        ));
        audit
            .record(&event)
            .inspect_err(|e| crate::audit::trace_failure(&event, e))
    }

    fn recorded(
        &self,
        job_id: Uuid,
        done: Result<ExportJob>,
        rows: u64,
        error: Option<JobError>,
    ) -> Result<JobOutcome> {
        let done = done?;
        Ok(JobOutcome {
            job_id,
            status: done.status,
            rows,
            error: error.or(done.error),
            lease_lost: false,
            released: false,
        })
    }

    fn lost(&self, job_id: Uuid, current: Option<ExportJob>, rows: u64) -> JobOutcome {
        JobOutcome {
            job_id,
            status: current.map_or(JobStatus::Running, |j| j.status),
            rows,
            error: None,
            lease_lost: true,
            released: false,
        }
    }

    /// The heartbeat thread of one run: renews the lease at least every
    /// [`WorkerConfig::heartbeat_period`] and whenever the pipeline nudges it, until the run
    /// is over or a heartbeat is refused; watches `shutdown`.
    fn heartbeat_loop(&self, job_id: Uuid, beat: &Beat, shutdown: Option<&AtomicBool>) {
        let period = self.config.heartbeat_period();
        // The claim just renewed the lease.
        let mut last = Instant::now();
        loop {
            {
                let mut signal = beat.signal();
                loop {
                    if signal.done {
                        return;
                    }
                    if shutdown.is_some_and(|f| f.load(Ordering::SeqCst))
                        && !beat.stopping.swap(true, Ordering::SeqCst)
                    {
                        beat.cancel.store(true, Ordering::SeqCst);
                    }
                    let due = last + period;
                    let now = Instant::now();
                    if signal.nudged || now >= due {
                        signal.nudged = false;
                        break;
                    }
                    let mut wait = due - now;
                    if shutdown.is_some() && !beat.stopping.load(Ordering::SeqCst) {
                        wait = wait.min(SHUTDOWN_STEP);
                    }
                    signal = beat
                        .wake
                        .wait_timeout(signal, wait)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
            last = Instant::now();
            let beaten = self.store.heartbeat(
                job_id,
                &self.config.id,
                beat.progress(),
                self.config.lease,
                self.clock.now(),
            );
            match beaten {
                Ok(ack) if ack.cancel_requested => {
                    if !beat.cancel_requested.swap(true, Ordering::SeqCst) {
                        tracing::info!(rows = beat.rows(), "cancel requested: stopping");
                    }
                    beat.cancel.store(true, Ordering::SeqCst);
                }
                Ok(_) => tracing::trace!(rows = beat.rows(), "heartbeat"),
                Err(e @ (ExportError::LeaseLost { .. } | ExportError::NotFound { .. })) => {
                    tracing::warn!(error = %e, rows = beat.rows(), "heartbeat refused: lease lost");
                    beat.lost.store(true, Ordering::SeqCst);
                    beat.cancel.store(true, Ordering::SeqCst);
                    return;
                }
                // A transient store error: keep going, the next heartbeat renews the lease.
                Err(e) => tracing::warn!(error = %e, "heartbeat failed; trying again"),
            }
        }
    }

    /// `retry_delay * 2^(attempts - 1)`, at most `max_retry_delay`.
    fn retry_delay(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(30);
        let factor = 1i32 << doublings;
        self.config
            .retry_delay
            .checked_mul(factor)
            .map_or(self.config.max_retry_delay, |d| {
                d.min(self.config.max_retry_delay)
            })
            .max(Duration::milliseconds(1))
    }

    /// Runs the pipeline of a claimed job; never touches the job's status.
    fn execute(&self, job: &ExportJob, beat: &Arc<Beat>) -> RunEnd {
        let rows = || beat.rows();
        let now = self.clock.now();
        let builder = match self.registry.builder(job.request.clone(), now) {
            Ok(b) => b,
            Err(e) => return RunEnd::Failed(e, 0),
        };
        // The progress callback only publishes the rows and wakes the heartbeat thread: the
        // pipeline never waits for the store.
        let progress = {
            let beat = Arc::clone(beat);
            let every = self.config.heartbeat_every;
            Arc::new(move |p: &crate::export::Progress| {
                beat.rows.store(p.rows_read, Ordering::Relaxed);
                beat.expected
                    .store(p.rows_expected.unwrap_or(UNKNOWN), Ordering::Relaxed);
                {
                    let mut last = beat.last_nudge.lock().unwrap_or_else(|e| e.into_inner());
                    if !every.is_zero() && last.is_some_and(|t| t.elapsed() < every) {
                        return;
                    }
                    *last = Some(Instant::now());
                }
                beat.nudge();
            })
        };
        let mut builder = builder
            .progress(progress)
            .cancel_flag(Arc::clone(&beat.cancel));
        if let Some(log) = &self.audit {
            let audit = ExportAudit::new(Arc::clone(log), job.owner.clone())
                .job(job.id)
                .detail(format!(
                    "worker {}, attempt {}",
                    self.config.id, job.attempts
                ))
                .clock(Arc::clone(&self.clock));
            builder = builder.audit(audit);
        }
        let exporter = match builder.build() {
            Ok(e) => e,
            Err(e) => return RunEnd::Failed(e, 0),
        };
        let mut resolved;
        let data_job = match (job.request.period, exporter.period()) {
            (None, Some(period)) => {
                resolved = job.clone();
                resolved.request.period = Some(*period);
                &resolved
            }
            _ => job,
        };
        let mut sources = match self.sources.open(data_job) {
            Ok(s) => s,
            Err(e) => return RunEnd::Failed(e, 0),
        };
        let key = match StorageKey::for_export(job.id, job.created_at, &exporter.file_name()) {
            Ok(k) => k,
            Err(e) => return RunEnd::Failed(e, 0),
        };
        let mut upload = match self.storage.create(&key, exporter.content_type()) {
            Ok(u) => u,
            Err(e) => return RunEnd::Failed(e, 0),
        };
        let ran = run_exporter(&exporter, &mut sources, &mut upload);
        let lost = beat.lost.load(Ordering::SeqCst);
        let report = match ran {
            Ok(report) if !lost => report,
            Ok(_) => {
                let _ = upload.abort();
                return RunEnd::LeaseLost(rows());
            }
            Err(e) => {
                let _ = upload.abort();
                let requested = beat.cancel_requested.load(Ordering::SeqCst);
                return match e {
                    _ if lost => RunEnd::LeaseLost(rows()),
                    ExportError::Cancelled if requested => RunEnd::Cancelled(rows()),
                    ExportError::Cancelled if beat.stopping.load(Ordering::SeqCst) => {
                        RunEnd::Released(rows())
                    }
                    ExportError::Cancelled => RunEnd::Cancelled(rows()),
                    e => RunEnd::Failed(e, rows()),
                };
            }
        };
        // Make sure the lease is still ours (and the job not cancelled) before publishing.
        let last = Progress::new(report.rows_read, Some(report.rows_read));
        match self.store.heartbeat(
            job.id,
            &self.config.id,
            last,
            self.config.lease,
            self.clock.now(),
        ) {
            Ok(ack) if ack.cancel_requested => {
                let _ = upload.abort();
                return RunEnd::Cancelled(report.rows_read);
            }
            Ok(_) => {}
            Err(ExportError::LeaseLost { .. } | ExportError::NotFound { .. }) => {
                let _ = upload.abort();
                return RunEnd::LeaseLost(report.rows_read);
            }
            Err(e) => {
                let _ = upload.abort();
                return RunEnd::Failed(e, report.rows_read);
            }
        }
        match upload.commit() {
            Ok(stored) => RunEnd::Published(report, stored, key),
            Err(e) => RunEnd::Failed(e, report.rows_read),
        }
    }

    /// Runs jobs until the queue is empty and returns their outcomes, in order.
    ///
    /// # Errors
    ///
    /// As [`Worker::run_once`]; the outcomes gathered so far are lost.
    pub fn run_until_idle(&self) -> Result<Vec<JobOutcome>> {
        let mut outcomes = Vec::new();
        while let Some(outcome) = self.run_once()? {
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }

    /// Runs jobs until `shutdown` is set, sleeping [`WorkerConfig::poll_interval`] when the
    /// queue is empty. Shutdown is prompt and loses nothing: a job being run stops before its
    /// next batch and is [released](JobStore::release), pending again for another worker at
    /// once (see [`run_once_until_shutdown`](Worker::run_once_until_shutdown)); an idle worker
    /// notices the flag within 50 ms. Returns the number of jobs run to their end (released
    /// ones not counted).
    ///
    /// Store errors do not stop the loop: they are emitted as `tracing` error events (the
    /// CLI writes them to standard error) and the worker tries again after a poll interval.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::sync::atomic::{AtomicBool, Ordering};
    /// # use export_core::{clock::SystemClock, job::MemoryJobStore, registry::SchemaRegistry};
    /// # use export_core::storage::MemoryStorage;
    /// # use export_core::worker::{SampleTripsProvider, Worker, WorkerConfig};
    /// let worker = Worker::new(
    ///     WorkerConfig::default(),
    ///     Arc::new(MemoryJobStore::new()),
    ///     Arc::new(MemoryStorage::new()?),
    ///     Arc::new(SampleTripsProvider { rows: 10, seed: 1 }),
    ///     Arc::new(SchemaRegistry::new()),
    ///     Arc::new(SystemClock),
    /// );
    /// let shutdown = AtomicBool::new(true); // already asked to stop
    /// assert_eq!(worker.run_forever(&shutdown), 0);
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn run_forever(&self, shutdown: &AtomicBool) -> u64 {
        let mut jobs = 0;
        while !shutdown.load(Ordering::SeqCst) {
            match self.run_next(Some(shutdown), None) {
                Ok(Some(outcome)) => {
                    jobs += u64::from(!outcome.released);
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::error!(
                    worker_id = %self.config.id,
                    error = %e,
                    "worker: job store error; trying again after the poll interval"
                ),
            }
            let until = Instant::now() + self.config.poll_interval;
            while !shutdown.load(Ordering::SeqCst) {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                std::thread::sleep(left.min(SHUTDOWN_STEP));
            }
        }
        jobs
    }
}

/// Emits the event that ends a job run: completed, cancelled, failed or lease lost, with the
/// rows and the duration of the run.
fn trace_outcome(outcome: &Result<JobOutcome>, started: Instant) {
    let duration_ms = started.elapsed().as_millis() as u64;
    match outcome {
        Ok(o) if o.lease_lost => tracing::warn!(
            rows = o.rows,
            duration_ms,
            "lease lost: another worker owns the job; nothing published"
        ),
        Ok(o) => match (&o.error, o.status) {
            (None, JobStatus::Succeeded) => {
                tracing::info!(rows = o.rows, duration_ms, "job completed")
            }
            (None, status) => tracing::info!(rows = o.rows, duration_ms, %status, "job ended"),
            // A lifecycle event like the others (a request can fail for good); the worker's
            // own trouble (lease lost, store errors) is at `warn` and `error`.
            (Some(error), status) => tracing::info!(
                rows = o.rows,
                duration_ms,
                %status,
                kind = %error.kind,
                error = %error.message,
                "job failed"
            ),
        },
        Err(e) => tracing::error!(duration_ms, error = %e, "job run not recorded"),
    }
}

/// Runs the exporter over the job's sources into the upload (kept by the caller, which
/// commits or aborts it).
fn run_exporter(
    exporter: &Exporter,
    sources: &mut [Box<dyn Source>],
    upload: &mut Box<dyn Upload>,
) -> Result<ExportReport> {
    if let [source] = sources {
        return exporter.run(source.as_mut(), upload).map(|(r, _)| r);
    }
    let sources: Vec<&mut dyn Source> = sources.iter_mut().map(|s| s.as_mut() as _).collect();
    exporter.run_sheets(sources, upload).map(|(r, _)| r)
}

/// Errors worth retrying: the environment failed, not the request.
fn is_transient(err: &ExportError) -> bool {
    err.is_retryable()
}
