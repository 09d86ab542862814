//! Leases follow the export, not its progress: the worker's heartbeat thread keeps the lease of
//! an export whose sink blocks for longer than the lease, sees a cancel request while a write
//! blocks, and a worker shut down mid-export releases its job so another worker claims it at
//! once. On SQLite and on the PostgreSQL of `scripts/pg-server.sh` (`EXPORT_CORE_PG_URL`).

#[path = "common/periods.rs"]
mod periods;
#[path = "common/services.rs"]
mod services;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use chrono::{DateTime, Duration, Utc};
use export_core::Result;
use export_core::clock::SystemClock;
use export_core::job::{
    ExportJob, HeartbeatAck, JobError, JobResult, JobStatus, JobStore, ListQuery, NewJob, Owner,
    Page, Progress, SqliteJobStore,
};
use export_core::registry::SchemaRegistry;
use export_core::request::{Audience, ExportRequest, Format, SchemaVersion};
use export_core::source::Source;
use export_core::storage::{
    Download, MemoryStorage, ObjectInfo, Storage, StorageKey, StoredObject, Upload,
};
use export_core::worker::{SampleTripsProvider, SourceProvider, Worker, WorkerConfig};
use uuid::Uuid;

type Connect<'a> = &'a (dyn Fn() -> Arc<dyn JobStore> + Sync);

fn request() -> ExportRequest {
    let mut request = ExportRequest::new("trip", Format::Csv);
    request.version = Some(SchemaVersion::V3);
    request.audience = Some(Audience::Operator);
    request.period = Some(periods::recent_month());
    request
}

fn worker(
    id: &str,
    lease: Duration,
    store: Arc<dyn JobStore>,
    storage: Arc<dyn Storage>,
    sources: Arc<dyn SourceProvider>,
) -> Worker {
    Worker::new(
        WorkerConfig {
            id: id.to_string(),
            lease,
            poll_interval: StdDuration::from_millis(20),
            ..WorkerConfig::default()
        },
        store,
        storage,
        sources,
        Arc::new(SchemaRegistry::new()),
        Arc::new(SystemClock),
    )
}

fn sample(rows: u64) -> Arc<dyn SourceProvider> {
    Arc::new(SampleTripsProvider { rows, seed: 3 })
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + StdDuration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(StdDuration::from_millis(5));
    }
}

fn sqlite() -> (tempfile::TempDir, impl Fn() -> Arc<dyn JobStore> + Sync) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("jobs.db");
    (dir, move || {
        Arc::new(SqliteJobStore::open(&path).expect("sqlite")) as Arc<dyn JobStore>
    })
}

#[cfg(feature = "postgres")]
fn postgres() -> Option<impl Fn() -> Arc<dyn JobStore> + Sync> {
    use export_core::db::PgOptions;
    use export_core::job::PgJobStore;
    let url = services::pg_url()?;
    let schema = format!("leases_{}", Uuid::new_v4().simple());
    Some(move || {
        Arc::new(
            PgJobStore::connect_with(
                &url,
                PgOptions::default().schema(schema.clone()).pool_size(2),
            )
            .expect("postgres"),
        ) as Arc<dyn JobStore>
    })
}

/// A memory storage whose uploads block in their first `write` for `delay` (the first upload
/// only), as an upload waiting for capacity would; `blocked` is set meanwhile.
#[derive(Debug)]
struct SlowStorage {
    inner: MemoryStorage,
    delay: StdDuration,
    slowed: AtomicBool,
    blocked: Arc<AtomicBool>,
}

impl SlowStorage {
    fn new(delay: StdDuration) -> SlowStorage {
        SlowStorage {
            inner: MemoryStorage::new().expect("storage"),
            delay,
            slowed: AtomicBool::new(false),
            blocked: Arc::new(AtomicBool::new(false)),
        }
    }

    fn blocked(&self) -> bool {
        self.blocked.load(Ordering::SeqCst)
    }
}

struct SlowUpload {
    inner: Box<dyn Upload>,
    delay: Option<StdDuration>,
    blocked: Arc<AtomicBool>,
}

impl Write for SlowUpload {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(delay) = self.delay.take() {
            self.blocked.store(true, Ordering::SeqCst);
            std::thread::sleep(delay);
            self.blocked.store(false, Ordering::SeqCst);
        }
        self.inner.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl Upload for SlowUpload {
    fn key(&self) -> &StorageKey {
        self.inner.key()
    }
    fn bytes_written(&self) -> u64 {
        self.inner.bytes_written()
    }
    fn commit(self: Box<Self>) -> Result<StoredObject> {
        self.inner.commit()
    }
    fn abort(self: Box<Self>) -> Result<()> {
        self.inner.abort()
    }
}

impl Storage for SlowStorage {
    fn url(&self) -> String {
        self.inner.url()
    }
    fn create(&self, key: &StorageKey, content_type: &str) -> Result<Box<dyn Upload>> {
        let first = !self.slowed.swap(true, Ordering::SeqCst);
        Ok(Box::new(SlowUpload {
            inner: self.inner.create(key, content_type)?,
            delay: first.then_some(self.delay),
            blocked: Arc::clone(&self.blocked),
        }))
    }
    fn open(&self, key: &StorageKey) -> Result<Download> {
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

fn exports(storage: &dyn Storage) -> Vec<ObjectInfo> {
    storage.list("exports").expect("list")
}

/// An export whose sink blocks for three leases inside one write keeps its lease (the
/// heartbeat thread renews it meanwhile) and completes; another worker probing all along
/// never reclaims nor claims it.
fn a_blocked_sink_keeps_its_lease(connect: Connect<'_>) {
    let store = connect();
    let job = store
        .create(NewJob::new(Owner::user("u-1"), request()))
        .expect("create");
    let lease = Duration::seconds(2);
    let storage = Arc::new(SlowStorage::new(StdDuration::from_secs(6)));
    let w = worker("w-1", lease, connect(), storage.clone(), sample(20_000));
    let thief = connect();
    let finished = AtomicBool::new(false);
    let (outcome, probes_while_blocked) = std::thread::scope(|s| {
        let run = s.spawn(|| {
            let outcome = w.run_once();
            finished.store(true, Ordering::SeqCst);
            outcome
        });
        // Probe only once the worker holds the job (before, claiming it is fair game).
        wait_until("the claim", || {
            store.get(job.id).expect("get").is_leased_to("w-1")
        });
        let mut probes_while_blocked = 0;
        while !finished.load(Ordering::SeqCst) {
            let blocked = storage.blocked();
            let now = Utc::now();
            let reclaimed = thief.reclaim_expired_leases(now).expect("reclaim");
            assert!(
                reclaimed.is_empty(),
                "the lease ran out under a live export"
            );
            let stolen = thief
                .claim("thief", Duration::seconds(60), now)
                .expect("claim");
            assert!(
                stolen.is_none(),
                "another worker claimed a job being exported"
            );
            probes_while_blocked += u32::from(blocked && storage.blocked());
            std::thread::sleep(StdDuration::from_millis(50));
        }
        let outcome = run.join().expect("no panic").expect("run").expect("a job");
        (outcome, probes_while_blocked)
    });
    assert!(storage.slowed.load(Ordering::SeqCst), "the write blocked");
    assert!(
        probes_while_blocked >= 10,
        "the thief probed during the blocked write ({probes_while_blocked} times)"
    );
    assert_eq!(outcome.status, JobStatus::Succeeded, "{:?}", outcome.error);
    assert!(!outcome.lease_lost && !outcome.released);
    let done = store.get(job.id).expect("get");
    assert_eq!(done.status, JobStatus::Succeeded);
    assert_eq!(done.attempts, 1, "never reclaimed");
    let result = done.result.expect("a result");
    assert_eq!(result.rows, 20_000);
    assert_eq!(exports(storage.as_ref()).len(), 1);
}

#[test]
fn a_sink_blocked_for_three_leases_keeps_its_lease_on_sqlite() {
    let (_dir, connect) = sqlite();
    a_blocked_sink_keeps_its_lease(&connect);
}

#[cfg(feature = "postgres")]
#[test]
fn a_sink_blocked_for_three_leases_keeps_its_lease_on_postgres() {
    let Some(connect) = postgres() else { return };
    a_blocked_sink_keeps_its_lease(&connect);
}

/// Sample trips that pause before each batch: a long export of many batches.
struct SlowProvider {
    rows: u64,
    pause: StdDuration,
}

struct SlowSource {
    inner: Box<dyn Source>,
    pause: StdDuration,
}

impl SourceProvider for SlowProvider {
    fn open(&self, job: &ExportJob) -> Result<Vec<Box<dyn Source>>> {
        let sources = SampleTripsProvider {
            rows: self.rows,
            seed: 5,
        }
        .open(job)?;
        Ok(sources
            .into_iter()
            .map(|inner| {
                Box::new(SlowSource {
                    inner,
                    pause: self.pause,
                }) as Box<dyn Source>
            })
            .collect())
    }
}

impl Source for SlowSource {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }
    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        std::thread::sleep(self.pause);
        self.inner.next_batch()
    }
    fn rows_hint(&self) -> Option<u64> {
        self.inner.rows_hint()
    }
}

/// A worker shut down mid-export releases its job: pending at once with no lease and its
/// attempt given back, nothing published; another worker claims and finishes it straight
/// away although the first worker's lease (60 s) would still run.
fn shutdown_releases_the_job(connect: Connect<'_>) {
    let store = connect();
    let job = store
        .create(NewJob::new(Owner::user("u-1"), request()))
        .expect("create");
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new().expect("storage"));
    let lease = Duration::seconds(60);
    let slow = Arc::new(SlowProvider {
        rows: 1_000_000,
        pause: StdDuration::from_millis(20),
    });
    let w1 = worker("w-1", lease, connect(), storage.clone(), slow);
    let shutdown = AtomicBool::new(false);
    let (jobs, stopping) = std::thread::scope(|s| {
        let run = s.spawn(|| w1.run_forever(&shutdown));
        wait_until("progress", || {
            store.get(job.id).expect("get").progress.rows_done > 0
        });
        shutdown.store(true, Ordering::SeqCst);
        let stopped = Instant::now();
        let jobs = run.join().expect("no panic");
        (jobs, stopped.elapsed())
    });
    assert!(
        stopping < StdDuration::from_secs(3),
        "shutdown took {stopping:?}"
    );
    assert_eq!(jobs, 0, "a released job is not counted as run");
    let released = store.get(job.id).expect("get");
    assert_eq!(released.status, JobStatus::Pending, "pending at once");
    assert!(released.lease.is_none());
    assert_eq!(released.attempts, 0);
    assert!(released.result.is_none() && released.error.is_none());
    assert!(exports(storage.as_ref()).is_empty(), "nothing published");

    let claimed_at = Instant::now();
    let w2 = worker("w-2", lease, connect(), storage.clone(), sample(1_000));
    let outcome = w2
        .run_once()
        .expect("run")
        .expect("claimed without waiting for the lease");
    assert!(claimed_at.elapsed() < StdDuration::from_secs(30));
    assert_eq!(outcome.job_id, job.id);
    assert_eq!(outcome.status, JobStatus::Succeeded, "{:?}", outcome.error);
    let done = store.get(job.id).expect("get");
    assert_eq!(done.attempts, 1);
    assert_eq!(exports(storage.as_ref()).len(), 1);
}

#[test]
fn a_worker_shut_down_mid_export_releases_its_job_on_sqlite() {
    let (_dir, connect) = sqlite();
    shutdown_releases_the_job(&connect);
}

#[cfg(feature = "postgres")]
#[test]
fn a_worker_shut_down_mid_export_releases_its_job_on_postgres() {
    let Some(connect) = postgres() else { return };
    shutdown_releases_the_job(&connect);
}

#[test]
fn run_once_until_shutdown_reports_the_release() {
    let (_dir, connect) = sqlite();
    let store = connect();
    let job = store
        .create(NewJob::new(Owner::user("u-1"), request()))
        .expect("create");
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new().expect("storage"));
    let slow = Arc::new(SlowProvider {
        rows: 1_000_000,
        pause: StdDuration::from_millis(20),
    });
    let w = worker(
        "w-1",
        Duration::seconds(60),
        connect(),
        storage.clone(),
        slow,
    );
    let shutdown = AtomicBool::new(false);
    let outcome = std::thread::scope(|s| {
        let run = s.spawn(|| w.run_once_until_shutdown(&shutdown));
        wait_until("progress", || {
            store.get(job.id).expect("get").progress.rows_done > 0
        });
        shutdown.store(true, Ordering::SeqCst);
        run.join().expect("no panic").expect("run").expect("a job")
    });
    assert!(outcome.released && !outcome.lease_lost);
    assert_eq!(outcome.status, JobStatus::Pending);
    assert!(outcome.rows > 0 && outcome.rows < 1_000_000);
    assert!(outcome.error.is_none());
    assert!(exports(storage.as_ref()).is_empty());
    // Already set: the next run stops at once too, and hands the job back again.
    let again = w
        .run_once_until_shutdown(&shutdown)
        .expect("run")
        .expect("a job");
    assert!(again.released);
    assert_eq!(store.get(job.id).expect("get").attempts, 0);
}

/// A real store that records when each heartbeat answered and whether it reported a cancel.
struct RecordingStore {
    inner: Arc<dyn JobStore>,
    acks: Mutex<Vec<(Instant, bool)>>,
}

impl JobStore for RecordingStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    fn create(&self, job: NewJob) -> Result<ExportJob> {
        self.inner.create(job)
    }
    fn get(&self, id: Uuid) -> Result<ExportJob> {
        self.inner.get(id)
    }
    fn list(&self, owner: &Owner, query: &ListQuery) -> Result<Page> {
        self.inner.list(owner, query)
    }
    fn claim(
        &self,
        worker_id: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<ExportJob>> {
        self.inner.claim(worker_id, lease, now)
    }
    fn claim_job(
        &self,
        id: Uuid,
        worker_id: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<ExportJob>> {
        self.inner.claim_job(id, worker_id, lease, now)
    }
    fn heartbeat(
        &self,
        id: Uuid,
        worker_id: &str,
        progress: Progress,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<HeartbeatAck> {
        let ack = self.inner.heartbeat(id, worker_id, progress, lease, now)?;
        let mut acks = self.acks.lock().expect("lock");
        acks.push((Instant::now(), ack.cancel_requested));
        Ok(ack)
    }
    fn complete(
        &self,
        id: Uuid,
        worker_id: &str,
        result: JobResult,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<ExportJob> {
        self.inner.complete(id, worker_id, result, expires_at, now)
    }
    fn fail(
        &self,
        id: Uuid,
        worker_id: &str,
        error: JobError,
        retry_delay: Option<Duration>,
        now: DateTime<Utc>,
    ) -> Result<ExportJob> {
        self.inner.fail(id, worker_id, error, retry_delay, now)
    }
    fn request_cancel(&self, id: Uuid, now: DateTime<Utc>) -> Result<ExportJob> {
        self.inner.request_cancel(id, now)
    }
    fn mark_cancelled(&self, id: Uuid, worker_id: &str, now: DateTime<Utc>) -> Result<ExportJob> {
        self.inner.mark_cancelled(id, worker_id, now)
    }
    fn release(&self, id: Uuid, worker_id: &str, now: DateTime<Utc>) -> Result<ExportJob> {
        self.inner.release(id, worker_id, now)
    }
    fn delete(&self, id: Uuid) -> Result<()> {
        self.inner.delete(id)
    }
    fn list_expired(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<ExportJob>> {
        self.inner.list_expired(now, limit)
    }
    fn expire(&self, id: Uuid, now: DateTime<Utc>, anonymise: bool) -> Result<ExportJob> {
        self.inner.expire(id, now, anonymise)
    }
    fn reclaim_expired_leases(&self, now: DateTime<Utc>) -> Result<Vec<Uuid>> {
        self.inner.reclaim_expired_leases(now)
    }
    fn list_unexpiring(&self, cursor: Option<&str>, limit: u32) -> Result<Page> {
        self.inner.list_unexpiring(cursor, limit)
    }
    fn assign_retention(&self, id: Uuid, keep: Duration) -> Result<ExportJob> {
        self.inner.assign_retention(id, keep)
    }
    fn scrub(&self) -> Result<()> {
        self.inner.scrub()
    }
}

/// A cancel requested while the sink blocks in one long write is seen by the heartbeat thread
/// within about one heartbeat interval, before the write returns; the export then stops
/// before its next batch and publishes nothing.
fn cancel_is_seen_during_a_long_write(connect: Connect<'_>) {
    let store = connect();
    let job = store
        .create(NewJob::new(Owner::user("u-1"), request()))
        .expect("create");
    let recording = Arc::new(RecordingStore {
        inner: connect(),
        acks: Mutex::new(Vec::new()),
    });
    let storage = Arc::new(SlowStorage::new(StdDuration::from_secs(4)));
    let interval = StdDuration::from_millis(100);
    let w = Worker::new(
        WorkerConfig {
            id: "w-1".into(),
            lease: Duration::seconds(30),
            heartbeat_interval: Some(interval),
            ..WorkerConfig::default()
        },
        recording.clone(),
        storage.clone(),
        sample(200_000),
        Arc::new(SchemaRegistry::new()),
        Arc::new(SystemClock),
    );
    let (outcome, requested_at, seen_at, blocked_when_seen) = std::thread::scope(|s| {
        let run = s.spawn(|| w.run_once());
        wait_until("the blocking write", || storage.blocked());
        std::thread::sleep(StdDuration::from_millis(300));
        let during = recording.acks.lock().expect("lock").len();
        let requested_at = Instant::now();
        store.request_cancel(job.id, Utc::now()).expect("cancel");
        let mut blocked_when_seen = false;
        wait_until("a heartbeat that sees the cancel", || {
            let acks = recording.acks.lock().expect("lock");
            let seen = acks.iter().any(|(_, cancel)| *cancel);
            blocked_when_seen = seen && storage.blocked();
            seen
        });
        assert!(
            during >= 2,
            "heartbeats went on during the blocked write ({during})"
        );
        let seen_at = recording
            .acks
            .lock()
            .expect("lock")
            .iter()
            .find(|(_, cancel)| *cancel)
            .map(|(t, _)| *t)
            .expect("seen");
        let outcome = run.join().expect("no panic").expect("run").expect("a job");
        (outcome, requested_at, seen_at, blocked_when_seen)
    });
    let latency = seen_at.saturating_duration_since(requested_at);
    assert!(
        latency < interval * 10,
        "cancel seen {latency:?} after the request, heartbeat interval {interval:?}"
    );
    assert!(blocked_when_seen, "seen while the write still blocked");
    assert_eq!(outcome.status, JobStatus::Cancelled);
    assert!(
        outcome.rows <= 2 * 8192,
        "stopped before the next batch: {}",
        outcome.rows
    );
    let done = store.get(job.id).expect("get");
    assert_eq!(done.status, JobStatus::Cancelled);
    assert!(done.result.is_none());
    assert!(exports(storage.as_ref()).is_empty());
}

#[test]
fn cancel_is_seen_within_a_heartbeat_during_a_long_write_on_sqlite() {
    let (_dir, connect) = sqlite();
    cancel_is_seen_during_a_long_write(&connect);
}

#[cfg(feature = "postgres")]
#[test]
fn cancel_is_seen_within_a_heartbeat_during_a_long_write_on_postgres() {
    let Some(connect) = postgres() else { return };
    cancel_is_seen_during_a_long_write(&connect);
}
