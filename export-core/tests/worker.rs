//! The worker on threads: success, failures with and without retry, cancel, lost leases,
//! panics, and four workers draining one store.
//!
//! PostgreSQL tests need a server: `eval "$(scripts/pg-server.sh)"` exports `EXPORT_CORE_PG_URL`;
//! without it they print SKIPPED and pass.

#[path = "common/periods.rs"]
mod periods;
#[cfg(feature = "postgres")]
#[path = "common/pg_admin.rs"]
mod pg_admin;
#[path = "common/services.rs"]
mod services;
#[path = "common/stealing.rs"]
mod stealing;

use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};
use stealing::StealingProvider;

use chrono::{DateTime, Duration, Utc};
use export_core::clock::{Clock, ManualClock, SystemClock};
use export_core::job::{
    ExportJob, JobStatus, JobStore, MemoryJobStore, NewJob, Owner, SqliteJobStore,
};
use export_core::registry::SchemaRegistry;
use export_core::request::{Audience, ExportRequest, Format, SchemaVersion};
use export_core::source::Source;
use export_core::storage::{LocalStorage, MemoryStorage, ObjectInfo, Storage, StorageKey, Upload};
use export_core::worker::{INTERNAL, SampleTripsProvider, SourceProvider, Worker, WorkerConfig};
use export_core::{ExportError, Result};

/// The start of the manual clocks: 3 weeks after the month of [`request`] ended. Some tests run
/// on the system clock instead, so the periods come from the real clock ([`periods`]), never
/// from a fixed date that the age limit would one day refuse.
fn now() -> DateTime<Utc> {
    periods::recent_month().end + Duration::days(22) + Duration::hours(10)
}

fn request(format: Format) -> ExportRequest {
    let mut request = ExportRequest::new("trip", format);
    request.version = Some(SchemaVersion::V3);
    request.audience = Some(Audience::Operator);
    request.period = Some(periods::recent_day());
    request
}

fn config(id: &str) -> WorkerConfig {
    WorkerConfig {
        id: id.to_string(),
        poll_interval: StdDuration::from_millis(20),
        ..WorkerConfig::default()
    }
}

fn worker(
    config: WorkerConfig,
    store: Arc<dyn JobStore>,
    storage: Arc<dyn Storage>,
    sources: Arc<dyn SourceProvider>,
    clock: Arc<dyn Clock>,
) -> Worker {
    Worker::new(
        config,
        store,
        storage,
        sources,
        Arc::new(SchemaRegistry::new()),
        clock,
    )
}

fn sample(rows: u64) -> Arc<dyn SourceProvider> {
    Arc::new(SampleTripsProvider { rows, seed: 7 })
}

fn exports(storage: &dyn Storage) -> Vec<ObjectInfo> {
    storage.list("exports").expect("list")
}

/// Reads the published file back and checks it against the job's result.
fn check_published(store: &dyn JobStore, storage: &dyn Storage, job: &ExportJob) -> String {
    let done = store.get(job.id).expect("get");
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.error);
    let result = done.result.expect("a result");
    let key = StorageKey::parse(&result.storage_key).expect("a key");
    let info = storage
        .head(&key)
        .expect("head")
        .expect("the file is visible");
    assert_eq!(info.size, result.size_bytes);
    let size = storage
        .open(&key)
        .expect("open")
        .verify(&result.sha256)
        .expect("sha256 matches");
    assert_eq!(size, result.size_bytes);
    let mut text = String::new();
    storage
        .open(&key)
        .expect("open")
        .read_to_string(&mut text)
        .expect("utf-8 csv");
    assert_eq!(
        text.lines().count() as u64,
        result.rows + 1,
        "header + rows"
    );
    assert!(result.rows > 0);
    assert_eq!(result.file_name, key.file_name());
    text
}

#[test]
fn a_job_runs_to_succeeded_on_memory() {
    let store = Arc::new(MemoryJobStore::new());
    let storage = Arc::new(MemoryStorage::new().expect("storage"));
    let job = store
        .create(NewJob::new(Owner::user("u-1"), request(Format::Csv)))
        .expect("create");
    let w = worker(
        config("w-1"),
        store.clone(),
        storage.clone(),
        sample(2_000),
        Arc::new(ManualClock::new(now())),
    );
    let outcome = w.run_once().expect("run").expect("a job");
    assert_eq!(outcome.job_id, job.id);
    assert_eq!(outcome.status, JobStatus::Succeeded);
    assert!(outcome.error.is_none() && !outcome.lease_lost);
    check_published(store.as_ref(), storage.as_ref(), &job);
    let done = store.get(job.id).expect("get");
    assert_eq!(done.attempts, 1);
    assert_eq!(done.result.expect("result").rows, outcome.rows);
    assert!(w.run_once().expect("run").is_none());
}

#[test]
fn xlsx_streams_into_local_storage_with_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SqliteJobStore::open(dir.path().join("jobs.db")).expect("sqlite"));
    let storage = Arc::new(LocalStorage::new(dir.path().join("files")).expect("local"));
    let job = store
        .create(NewJob::new(Owner::user("u-1"), request(Format::Xlsx)))
        .expect("create");
    let w = worker(
        config("w-1"),
        store.clone(),
        storage.clone(),
        sample(1_000),
        Arc::new(SystemClock),
    );
    let outcome = w.run_once().expect("run").expect("a job");
    assert_eq!(outcome.status, JobStatus::Succeeded, "{:?}", outcome.error);
    let result = store.get(job.id).expect("get").result.expect("result");
    assert!(result.file_name.ends_with(".xlsx"));
    let key = StorageKey::parse(&result.storage_key).expect("key");
    let size = storage
        .open(&key)
        .expect("open")
        .verify(&result.sha256)
        .expect("sha");
    assert_eq!(size, result.size_bytes);
    assert_eq!(
        result.content_type,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
}

#[test]
fn an_invalid_request_fails_without_retry() {
    let store = Arc::new(MemoryJobStore::new());
    let storage = Arc::new(MemoryStorage::new().expect("storage"));
    let mut bad = request(Format::Csv);
    bad.audience = None;
    let job = store
        .create(NewJob::new(Owner::user("u-1"), bad))
        .expect("create");
    let w = worker(
        config("w-1"),
        store.clone(),
        storage.clone(),
        sample(100),
        Arc::new(ManualClock::new(now())),
    );
    let outcome = w.run_once().expect("run").expect("a job");
    assert_eq!(outcome.status, JobStatus::Failed);
    assert_eq!(outcome.error.expect("error").kind, "INVALID_REQUEST");
    let done = store.get(job.id).expect("get");
    assert_eq!(done.status, JobStatus::Failed);
    assert_eq!(done.attempts, 1);
    assert!(exports(storage.as_ref()).is_empty());
    assert!(w.run_once().expect("run").is_none(), "no retry");
}

/// A storage whose first `create` fails.
#[derive(Debug)]
struct FlakyStorage {
    inner: MemoryStorage,
    failures_left: AtomicUsize,
}

impl Storage for FlakyStorage {
    fn url(&self) -> String {
        self.inner.url()
    }
    fn create(&self, key: &StorageKey, content_type: &str) -> Result<Box<dyn Upload>> {
        if self
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(ExportError::Storage("service unavailable".into()));
        }
        self.inner.create(key, content_type)
    }
    fn open(&self, key: &StorageKey) -> Result<export_core::storage::Download> {
        self.inner.open(key)
    }
    fn head(&self, key: &StorageKey) -> Result<Option<ObjectInfo>> {
        self.inner.head(key)
    }
    fn delete(&self, key: &StorageKey) -> Result<bool> {
        self.inner.delete(key)
    }
    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        self.inner.list(prefix)
    }
    fn signed_url(&self, key: &StorageKey, expires_in: StdDuration) -> Result<Option<String>> {
        self.inner.signed_url(key, expires_in)
    }
}

#[test]
fn a_transient_error_is_retried_after_the_delay() {
    let store = Arc::new(MemoryJobStore::new());
    let storage = Arc::new(FlakyStorage {
        inner: MemoryStorage::new().expect("storage"),
        failures_left: AtomicUsize::new(1),
    });
    let clock = Arc::new(ManualClock::new(now()));
    let job = store
        .create(NewJob::new(Owner::user("u-1"), request(Format::Csv)))
        .expect("create");
    let w = worker(
        config("w-1"),
        store.clone(),
        storage.clone(),
        sample(500),
        clock.clone(),
    );
    let first = w.run_once().expect("run").expect("a job");
    assert_eq!(first.status, JobStatus::Pending, "retried later");
    assert_eq!(first.error.expect("error").kind, "STORAGE");
    assert!(w.run_once().expect("run").is_none(), "not before the delay");
    clock.advance(Duration::seconds(31));
    let second = w.run_once().expect("run").expect("the retry");
    assert_eq!(second.status, JobStatus::Succeeded);
    assert_eq!(store.get(job.id).expect("get").attempts, 2);
    check_published(store.as_ref(), storage.as_ref(), &job);
}

/// Heartbeats run on their own thread: the pipeline goes on while one is in flight, and the
/// progress a heartbeat stored may lag the pipeline by a batch, so the export stops a few
/// batches (8192 rows each) after the cancel request, not always at the very next one.
const SLACK: u64 = 8 * 8192;

#[test]
fn cancel_stops_a_million_row_export_within_a_few_batches() {
    let store = Arc::new(MemoryJobStore::new());
    let storage = Arc::new(MemoryStorage::new().expect("storage"));
    let mut big = request(Format::Csv);
    big.period = Some(periods::recent_month());
    let job = store
        .create(NewJob::new(Owner::user("u-1"), big))
        .expect("create");
    let w = worker(
        config("w-1"),
        store.clone(),
        storage.clone(),
        sample(1_000_000),
        Arc::new(SystemClock),
    );
    let at_request = std::thread::scope(|s| {
        let running = s.spawn(|| w.run_once());
        let deadline = Instant::now() + StdDuration::from_secs(120);
        let at_request = loop {
            let current = store.get(job.id).expect("get");
            if current.progress.rows_done > 0 {
                let requested = store.request_cancel(job.id, Utc::now()).expect("cancel");
                break requested.progress.rows_done;
            }
            assert!(Instant::now() < deadline, "no progress");
            std::thread::sleep(StdDuration::from_millis(1));
        };
        let outcome = running
            .join()
            .expect("no panic")
            .expect("run")
            .expect("a job");
        assert_eq!(outcome.status, JobStatus::Cancelled);
        assert!(
            outcome.rows <= at_request + SLACK,
            "{} vs {at_request}",
            outcome.rows
        );
        at_request
    });
    let done = store.get(job.id).expect("get");
    assert_eq!(done.status, JobStatus::Cancelled);
    assert!(
        done.progress.rows_done <= at_request + SLACK,
        "stopped at {} rows, cancel requested at {at_request}",
        done.progress.rows_done
    );
    assert!(
        done.progress.rows_done < 500_000,
        "stopped long before the end"
    );
    assert!(done.result.is_none());
    assert!(
        exports(storage.as_ref()).is_empty(),
        "nothing under the key"
    );
}

#[test]
fn a_lost_lease_publishes_nothing() {
    let store: Arc<dyn JobStore> = Arc::new(MemoryJobStore::new());
    let storage = Arc::new(MemoryStorage::new().expect("storage"));
    let clock = Arc::new(ManualClock::new(now()));
    let job = store
        .create(NewJob::new(Owner::user("u-1"), request(Format::Csv)))
        .expect("create");
    let provider = Arc::new(StealingProvider {
        store: store.clone(),
        clock: clock.clone(),
    });
    let w = worker(
        config("w-1"),
        store.clone(),
        storage.clone(),
        provider,
        clock.clone(),
    );
    let outcome = w.run_once().expect("run").expect("a job");
    assert!(outcome.lease_lost);
    assert_eq!(outcome.status, JobStatus::Running);
    let current = store.get(job.id).expect("get");
    assert!(
        current.is_leased_to("thief"),
        "the thief's job is left alone"
    );
    assert!(exports(storage.as_ref()).is_empty());
}

struct PanickingProvider;

impl SourceProvider for PanickingProvider {
    fn open(&self, _job: &ExportJob) -> Result<Vec<Box<dyn Source>>> {
        panic!("provider bug");
    }
}

#[test]
fn a_panic_fails_the_job_as_internal_and_the_worker_lives_on() {
    let store = Arc::new(MemoryJobStore::new());
    let storage = Arc::new(MemoryStorage::new().expect("storage"));
    let job = store
        .create(NewJob::new(Owner::user("u-1"), request(Format::Csv)))
        .expect("create");
    let w = worker(
        config("w-1"),
        store.clone(),
        storage.clone(),
        Arc::new(PanickingProvider),
        Arc::new(ManualClock::new(now())),
    );
    let outcome = w.run_once().expect("run").expect("a job");
    assert_eq!(outcome.status, JobStatus::Failed);
    let error = store.get(job.id).expect("get").error.expect("error");
    assert_eq!(error.kind, INTERNAL);
    assert!(error.message.contains("provider bug"));
    assert!(w.run_once().expect("run").is_none());
}

#[test]
fn run_forever_stops_gracefully() {
    let store = Arc::new(MemoryJobStore::new());
    let storage = Arc::new(MemoryStorage::new().expect("storage"));
    for _ in 0..3 {
        store
            .create(NewJob::new(Owner::user("u-1"), request(Format::JsonLines)))
            .expect("create");
    }
    let w = worker(
        config("w-1"),
        store.clone(),
        storage.clone(),
        sample(100),
        Arc::new(SystemClock),
    );
    let shutdown = AtomicBool::new(false);
    let jobs = std::thread::scope(|s| {
        let running = s.spawn(|| w.run_forever(&shutdown));
        let deadline = Instant::now() + StdDuration::from_secs(60);
        while exports(storage.as_ref()).len() < 3 {
            assert!(Instant::now() < deadline, "jobs not drained");
            std::thread::sleep(StdDuration::from_millis(10));
        }
        shutdown.store(true, Ordering::SeqCst);
        let stopped = Instant::now();
        let jobs = running.join().expect("no panic");
        assert!(
            stopped.elapsed() < StdDuration::from_secs(1),
            "prompt shutdown"
        );
        jobs
    });
    assert_eq!(jobs, 3);
}

/// Four worker threads, each with its own store connection, drain 200 jobs.
fn drain_200(connect: &(dyn Fn() -> Arc<dyn JobStore> + Sync)) {
    let dir = tempfile::tempdir().expect("tempdir");
    let storage: Arc<dyn Storage> =
        Arc::new(LocalStorage::new(dir.path().join("files")).expect("local"));
    let store = connect();
    let ids: Vec<_> = (0..200)
        .map(|_| {
            store
                .create(NewJob::new(Owner::user("u-1"), request(Format::Csv)))
                .expect("create")
                .id
        })
        .collect();
    let runs = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for n in 0..4 {
            let (runs, storage) = (&runs, storage.clone());
            s.spawn(move || {
                let w = worker(
                    config(&format!("w-{n}")),
                    connect(),
                    storage,
                    sample(50),
                    Arc::new(SystemClock),
                );
                let outcomes = w.run_until_idle().expect("drain");
                runs.lock().expect("lock").extend(outcomes);
            });
        }
    });
    let runs = runs.into_inner().expect("lock");
    assert_eq!(runs.len(), 200, "each job ran exactly once");
    let mut ran: Vec<_> = runs.iter().map(|o| o.job_id).collect();
    ran.sort();
    ran.dedup();
    assert_eq!(ran.len(), 200);
    for id in &ids {
        let job = store.get(*id).expect("get");
        assert_eq!(job.status, JobStatus::Succeeded, "{:?}", job.error);
        assert_eq!(job.attempts, 1);
    }
    assert_eq!(exports(storage.as_ref()).len(), 200, "exactly 200 files");
}

#[test]
fn four_threads_drain_200_jobs_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("jobs.db");
    drain_200(&|| Arc::new(SqliteJobStore::open(&path).expect("sqlite")) as Arc<dyn JobStore>);
}

#[cfg(feature = "postgres")]
#[test]
fn four_threads_drain_200_jobs_on_postgres() {
    use export_core::db::PgOptions;
    use export_core::job::PgJobStore;
    let Some(url) = services::pg_url() else {
        return;
    };
    let schema = format!("worker_{}", uuid::Uuid::new_v4().simple());
    drain_200(&|| {
        Arc::new(
            PgJobStore::connect_with(
                &url,
                PgOptions::default().schema(schema.clone()).pool_size(1),
            )
            .expect("postgres"),
        ) as Arc<dyn JobStore>
    });
    if let Ok(mut client) = crate::pg_admin::Client::connect(&url) {
        let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    }
}
