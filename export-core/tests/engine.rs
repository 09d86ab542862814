//! The `Engine` from the three places a host calls it: a plain thread (blocking API), a
//! multi-thread tokio runtime and a current-thread one (async API, and the blocking API on a
//! runtime thread), on the embedded defaults (SQLite, local files) and on PostgreSQL with S3.
//! Every service, worker, scheduler, storage and purge operation runs in each, without a panic.

#[path = "common/periods.rs"]
mod periods;
#[path = "common/services.rs"]
mod services;

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use export_core::clock::{Clock, ManualClock};
use export_core::engine::{Engine, EngineConfig};
use export_core::job::{JobStatus, ListQuery, Owner};
use export_core::request::{Audience, ExportRequest, Format};
use export_core::schedule::{NewSchedule, ScheduleTarget, Trigger};
use export_core::service::{Principal, Scope};
use sha2::{Digest, Sha256};

use periods::recent_day;

/// A scratch directory, the engine's configuration on it, and the engine's clock.
struct Setup {
    config: EngineConfig,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

impl Setup {
    fn open(&self) -> Engine {
        self.builder().open().unwrap()
    }

    fn builder(&self) -> export_core::engine::EngineBuilder {
        Engine::builder(self.config.clone()).clock(self.clock.clone())
    }
}

fn sqlite_setup(rows: u64) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::default();
    config.job_store.url = format!("sqlite://{}", dir.path().join("jobs.db").display());
    config.storage.url = format!("file://{}", dir.path().join("files").display());
    config.sources.sample_rows = rows;
    config.limits.creates_per_user = None;
    Setup {
        config,
        clock: Arc::new(ManualClock::new(Utc::now())),
        _dir: dir,
    }
}

/// PostgreSQL in a fresh schema and a fresh S3 bucket; `None` (after a SKIPPED line) when the
/// services are not configured and not required.
fn pg_s3_setup(rows: u64) -> Option<Setup> {
    let pg = services::pg_url()?;
    let endpoint = services::s3_endpoint()?;
    let bucket = format!(
        "ec-engine-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    );
    ureq::put(&format!("{endpoint}/{bucket}"))
        .send_empty()
        .unwrap_or_else(|e| panic!("cannot create bucket {bucket}: {e}"));
    let mut setup = sqlite_setup(rows);
    setup.config.job_store.url = pg;
    setup.config.job_store.schema = Some(format!(
        "engine_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    ));
    setup.config.storage.url = format!("s3://{bucket}/exports");
    let env = |name: &str| std::env::var(name).unwrap_or_else(|_| "testing".into());
    for (k, v) in [
        ("endpoint", endpoint),
        ("allow_http", "true".into()),
        ("region", "us-east-1".into()),
        ("access_key_id", env("AWS_ACCESS_KEY_ID")),
        ("secret_access_key", env("AWS_SECRET_ACCESS_KEY")),
    ] {
        setup.config.storage.options.insert(k.into(), v);
    }
    Some(setup)
}

fn alice() -> Principal {
    Principal::new("alice", Some("1"))
        .operator(1)
        .with_all_scopes()
}

fn admin() -> Principal {
    Principal::new("admin", None)
        .with_all_scopes()
        .with_scope(Scope::Admin)
}

fn request() -> ExportRequest {
    let mut request = ExportRequest::new("trip", Format::Csv);
    request.audience = Some(Audience::Operator);
    request.period = Some(recent_day());
    request
}

fn schedule(tag: &str, clock: &ManualClock) -> NewSchedule {
    let anchor = clock.now() - chrono::Duration::hours(1);
    NewSchedule::new(
        format!("engine-{tag}"),
        Owner::user("admin"),
        ScheduleTarget::request(request()),
        Trigger::every_minutes(30, anchor).unwrap(),
    )
}

/// Every operation through the blocking API, checking each result.
fn lifecycle_blocking(engine: &Engine, clock: &ManualClock, tag: &str) {
    let service = engine.service();
    let job = service.create(&alice(), request()).unwrap();
    assert_eq!(
        service.get(&alice(), job.id).unwrap().status,
        JobStatus::Pending
    );
    let page = service.list(&alice(), &ListQuery::default()).unwrap();
    assert!(page.jobs.iter().any(|j| j.id == job.id));
    // Another user sees nothing of it.
    let bob = Principal::new("bob", Some("1"))
        .operator(1)
        .with_all_scopes();
    assert_eq!(service.get(&bob, job.id).unwrap_err().code(), "NOT_FOUND");

    let outcome = engine.worker().run_once().unwrap().expect("a pending job");
    assert_eq!(
        (outcome.job_id, outcome.status),
        (job.id, JobStatus::Succeeded)
    );
    let status = service.status(&alice(), job.id).unwrap();
    assert_eq!(status.status, JobStatus::Succeeded);
    let mut download = service.download(&alice(), job.id).unwrap();
    let mut bytes = Vec::new();
    download.reader.read_to_end(&mut bytes).unwrap();
    assert_eq!(hex::encode(Sha256::digest(&bytes)), download.sha256);
    assert!(
        bytes.starts_with(b"journey_id") || bytes.len() > 100,
        "{}",
        bytes.len()
    );

    let second = service.create(&alice(), request()).unwrap();
    assert_eq!(
        service.cancel(&alice(), second.id).unwrap().status,
        JobStatus::Cancelled
    );

    engine
        .schedules()
        .create_schedule(&admin(), schedule(tag, clock))
        .unwrap();
    clock.advance(chrono::Duration::minutes(31));
    let tick = engine.scheduler().tick(clock.now()).unwrap();
    assert_eq!(tick.fired.len(), 1, "{tick:?}");

    let report = engine.purger().unwrap().purge().unwrap();
    assert!(report.jobs.is_empty(), "{report:?}");
    service.delete(&alice(), job.id).unwrap();
    assert_eq!(
        service.get(&alice(), job.id).unwrap_err().code(),
        "NOT_FOUND"
    );
    assert!(
        engine.storage().list("").unwrap().is_empty(),
        "the deleted job's file is gone"
    );
}

/// The same through the async API.
async fn lifecycle_async(engine: &Engine, clock: &ManualClock, tag: &str) {
    let job = engine.create_job(alice(), request()).await.unwrap();
    let page = engine
        .list_jobs(alice(), ListQuery::default())
        .await
        .unwrap();
    assert!(page.jobs.iter().any(|j| j.id == job.id));
    let outcome = engine.work_once().await.unwrap().expect("a pending job");
    assert_eq!(
        (outcome.job_id, outcome.status),
        (job.id, JobStatus::Succeeded)
    );
    let status = engine.job_status(alice(), job.id).await.unwrap();
    assert_eq!(status.status, JobStatus::Succeeded);
    let download = engine.download(alice(), job.id).await.unwrap();
    let expected = download.sha256.clone();
    let mut stream = download.reader.into_async_stream();
    let mut hasher = Sha256::new();
    while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
        hasher.update(chunk.unwrap());
    }
    assert_eq!(hex::encode(hasher.finalize()), expected);

    let second = engine.create_job(alice(), request()).await.unwrap();
    let cancelled = engine.cancel_job(alice(), second.id).await.unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);

    let new = schedule(tag, clock);
    engine
        .run_blocking(move |e| e.schedules().create_schedule(&admin(), new))
        .await
        .unwrap();
    clock.advance(chrono::Duration::minutes(31));
    let tick = engine.tick_scheduler().await.unwrap();
    assert_eq!(tick.fired.len(), 1, "{tick:?}");
    engine.purge().await.unwrap();
    engine.delete_job(alice(), job.id).await.unwrap();
    let gone = engine.get_job(alice(), job.id).await.unwrap_err();
    assert_eq!(gone.code(), "NOT_FOUND");
}

fn setups(rows: u64) -> Vec<(&'static str, Setup)> {
    let mut out = vec![("sqlite", sqlite_setup(rows))];
    if let Some(s) = pg_s3_setup(rows) {
        out.push(("pg-s3", s));
    }
    out
}

#[test]
fn blocking_api_from_a_plain_thread() {
    for (name, setup) in setups(200) {
        let engine = setup.open();
        lifecycle_blocking(&engine, &setup.clock, &format!("{name}-plain"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_api_from_a_multi_thread_runtime() {
    for (name, setup) in setups(200) {
        let engine = setup.open();
        lifecycle_async(&engine, &setup.clock, &format!("{name}-mt")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_api_on_a_multi_thread_runtime_worker() {
    for (name, setup) in setups(200) {
        // Opened and used on a runtime worker thread: the stores wait in place.
        let engine = setup.open();
        lifecycle_blocking(&engine, &setup.clock, &format!("{name}-mt-sync"));
        drop(engine);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_on_the_hosts_runtime() {
    for (name, setup) in setups(200) {
        let engine = setup
            .builder()
            .runtime(tokio::runtime::Handle::current())
            .open()
            .unwrap();
        assert!(!engine.io().is_owned());
        lifecycle_async(&engine, &setup.clock, &format!("{name}-host")).await;
    }
}

#[test]
fn async_api_from_a_current_thread_runtime() {
    let host = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (name, setup) in setups(200) {
        let engine = setup.open();
        host.block_on(lifecycle_async(
            &engine,
            &setup.clock,
            &format!("{name}-ct"),
        ));
        // Dropping the engine inside the host's context must not panic either.
        host.block_on(async move { drop(engine) });
    }
}

#[test]
fn blocking_api_on_a_current_thread_runtime() {
    let host = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (name, setup) in setups(200) {
        host.block_on(async {
            let engine = setup.open();
            lifecycle_blocking(&engine, &setup.clock, &format!("{name}-ct-sync"));
        });
    }
}

#[test]
fn a_current_thread_host_keeps_its_timers_while_an_export_runs() {
    let setup = sqlite_setup(200_000);
    let engine = setup.open();
    let host = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (worst, ticks, export_time) = host.block_on(async {
        let job = engine.create_job(alice(), request()).await.unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let ticker = tokio::spawn(async move {
            let period = Duration::from_millis(10);
            let mut worst = Duration::ZERO;
            let mut ticks = 0u32;
            let mut expected = Instant::now() + period;
            while !flag.load(std::sync::atomic::Ordering::SeqCst) {
                tokio::time::sleep_until(expected.into()).await;
                worst = worst.max(Instant::now().saturating_duration_since(expected));
                ticks += 1;
                expected = Instant::now() + period;
            }
            (worst, ticks)
        });
        let started = Instant::now();
        let outcome = engine.work_once().await.unwrap().unwrap();
        let export_time = started.elapsed();
        assert_eq!(outcome.job_id, job.id);
        assert_eq!(outcome.status, JobStatus::Succeeded, "{outcome:?}");
        assert!(outcome.rows > 50_000, "{outcome:?}");
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let (worst, ticks) = ticker.await.unwrap();
        (worst, ticks, export_time)
    });
    eprintln!(
        "current-thread timer: worst lag {worst:?} over {ticks} ticks during a {export_time:?} export"
    );
    // A blocked host would see one lag as long as the export; a free one only scheduling noise.
    assert!(
        worst < export_time / 4,
        "worst lag {worst:?} during a {export_time:?} export"
    );
    assert!(
        u128::from(ticks) * 10 * 3 > export_time.as_millis(),
        "{ticks} ticks of 10 ms in {export_time:?}"
    );
}

#[test]
fn a_worker_handle_runs_jobs_in_the_background_and_stops() {
    let setup = sqlite_setup(100);
    let mut config = setup.config.clone();
    config.worker.poll_interval = Duration::from_millis(20);
    let engine = Engine::open(config).unwrap();
    let handle = engine.start_worker().unwrap();
    let job = engine.service().create(&alice(), request()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = engine.service().status(&alice(), job.id).unwrap().status;
        if status == JobStatus::Succeeded {
            break;
        }
        assert!(Instant::now() < deadline, "job still {status}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(handle.stop(), 1);
}

#[test]
fn bad_configuration_is_a_config_error_naming_the_setting() {
    let config = EngineConfig {
        time_zone: "Mars/Olympus".into(),
        ..EngineConfig::default()
    };
    let err = Engine::open(config).unwrap_err();
    assert_eq!(err.code(), "CONFIG");
    assert!(err.to_string().contains("`time_zone`"), "{err}");

    let setup = sqlite_setup(1);
    let mut config = setup.config.clone();
    config.storage.url = "ftp://example.org/x".into();
    let err = Engine::open(config).unwrap_err();
    assert_eq!(err.code(), "CONFIG");
    assert!(err.to_string().contains("storage.url"), "{err}");

    let mut config = setup.config.clone();
    config.job_store.url = "mysql://db".into();
    let err = Engine::open(config).unwrap_err();
    assert!(err.to_string().contains("job_store.url"), "{err}");

    let mut config = setup.config.clone();
    config.audit.secret = Some("short".into());
    let engine = Engine::open(config).unwrap();
    let err = engine.purger().err().expect("a short secret is refused");
    assert_eq!(err.code(), "CONFIG");
    assert!(err.to_string().contains("audit.secret"), "{err}");

    let mut config = setup.config.clone();
    config.privacy.trip_id_key = Some("short".into());
    let err = Engine::open(config).unwrap_err();
    assert_eq!(err.code(), "CONFIG");
    assert!(err.to_string().contains("privacy.trip_id_key"), "{err}");

    let host = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let err = Engine::builder(setup.config.clone())
        .runtime(host.handle().clone())
        .open()
        .unwrap_err();
    assert!(err.to_string().contains("`runtime`"), "{err}");
}

/// The opendata V2 file's `trip_id` column of one export.
fn opendata_trip_ids(engine: &Engine) -> Vec<String> {
    let mut request = request();
    request.audience = Some(Audience::Opendata);
    request.version = Some(export_core::request::SchemaVersion::V2);
    let (_, bytes) = engine
        .direct_export(&admin(), request, None)
        .unwrap()
        .run(Vec::new())
        .unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(';').collect();
    let column = header
        .iter()
        .position(|h| h.trim_matches('"') == "trip_id")
        .expect("a trip_id column");
    lines
        .map(|l| l.split(';').nth(column).unwrap().to_string())
        .collect()
}

#[test]
fn a_configured_trip_id_key_gives_the_same_opendata_ids_in_every_export() {
    let setup = sqlite_setup(300);
    let random = setup.open();
    let first = opendata_trip_ids(&random);
    assert!(!first.is_empty());
    assert_ne!(
        first,
        opendata_trip_ids(&random),
        "without a key, each export draws one"
    );

    let mut config = setup.config.clone();
    config.privacy.trip_id_key = Some("the registry's stable opendata key".into());
    let keyed = Engine::builder(config.clone())
        .clock(setup.clock.clone())
        .open()
        .unwrap();
    let again = Engine::builder(config)
        .clock(setup.clock.clone())
        .open()
        .unwrap();
    assert_eq!(opendata_trip_ids(&keyed), opendata_trip_ids(&again));
}

#[test]
fn a_host_dataset_is_exported_with_the_hosts_rows_and_refused_without_them() {
    use arrow_array::{Int64Array, RecordBatch};
    use export_core::job::ExportJob;
    use export_core::source::{IterSource, Source};
    use export_core::worker::SourceProvider;

    struct Counter;
    impl SourceProvider for Counter {
        fn open(&self, job: &ExportJob) -> export_core::Result<Vec<Box<dyn Source>>> {
            assert_eq!(job.request.schema, "counts");
            let batch = RecordBatch::try_from_iter([(
                "n",
                Arc::new(Int64Array::from(vec![1, 2, 3])) as arrow_array::ArrayRef,
            )])?;
            Ok(vec![Box::new(IterSource::new(
                batch.schema(),
                vec![Ok(batch)].into_iter(),
            ))])
        }
    }

    let setup = sqlite_setup(1);
    let mut config = setup.config.clone();
    config.datasets.insert(
        "counts".into(),
        EngineConfig::from_toml_str("[datasets.counts]\nhost = [\"n:Int64\"]")
            .unwrap()
            .datasets
            .remove("counts")
            .unwrap(),
    );
    let engine = Engine::builder(config)
        .clock(setup.clock.clone())
        .open()
        .unwrap();
    let request = ExportRequest::new("counts", Format::Csv);
    let job = engine.service().create(&alice(), request.clone()).unwrap();
    let outcome = engine
        .worker_with_sources(Arc::new(Counter))
        .run_once()
        .unwrap()
        .unwrap();
    assert_eq!(
        (outcome.job_id, outcome.status),
        (job.id, JobStatus::Succeeded)
    );
    let mut body = String::new();
    engine
        .service()
        .download(&alice(), job.id)
        .unwrap()
        .reader
        .read_to_string(&mut body)
        .unwrap();
    assert_eq!(body, "n\n1\n2\n3\n");

    // The engine's own worker has no rows for it: the job fails for good, naming the dataset.
    let job = engine.service().create(&alice(), request.clone()).unwrap();
    let outcome = engine.worker().run_once().unwrap().unwrap();
    assert_eq!(
        (outcome.job_id, outcome.status),
        (job.id, JobStatus::Failed)
    );
    let status = engine.service().status(&alice(), job.id).unwrap();
    assert!(
        status
            .error
            .unwrap()
            .message
            .contains("dataset `counts` takes its rows from the host"),
    );
    let err = engine.direct_export(&admin(), request, None).unwrap_err();
    assert_eq!(err.code(), "INVALID_REQUEST", "{err}");

    let err = EngineConfig::from_toml_str("[datasets.c]\nhost = [\"n:Integer\"]")
        .and_then(|mut c| {
            c.job_store = setup.config.job_store.clone();
            c.storage = setup.config.storage.clone();
            Engine::open(c)
        })
        .unwrap_err();
    assert!(err.to_string().contains("datasets.c.host"), "{err}");
}

#[test]
fn clones_share_one_service_and_its_rate_limit() {
    let setup = sqlite_setup(1);
    let mut config = setup.config.clone();
    config.limits.creates_per_user = Some(2);
    let engine = Engine::open(config).unwrap();
    let clone = engine.clone();
    engine.service().create(&alice(), request()).unwrap();
    clone.service().create(&alice(), request()).unwrap();
    let err = engine.service().create(&alice(), request()).unwrap_err();
    assert_eq!(err.code(), "RATE_LIMITED");
    assert!(err.retry_after().is_some());
}

#[test]
fn the_configured_time_zone_gives_default_periods() {
    let setup = sqlite_setup(1);
    let mut config = setup.config.clone();
    config.time_zone = "America/New_York".into();
    let engine = Engine::builder(config)
        .clock(setup.clock.clone())
        .open()
        .unwrap();
    let mut undated = request();
    undated.period = None;
    let job = engine.service().create(&alice(), undated.clone()).unwrap();
    let period = job.request.period.expect("a default period");
    assert_eq!(period.time_zone, chrono_tz::America::New_York);
    // A default engine's zone is Paris.
    let job = setup.open().service().create(&alice(), undated).unwrap();
    assert_eq!(
        job.request.period.unwrap().time_zone,
        chrono_tz::Europe::Paris
    );
}

/// A host's data: refuses every job, recording which it was asked for.
struct RefusingHost(std::sync::Mutex<Vec<uuid::Uuid>>);

impl export_core::worker::SourceProvider for RefusingHost {
    fn open(
        &self,
        job: &export_core::job::ExportJob,
    ) -> export_core::Result<Vec<Box<dyn export_core::source::Source>>> {
        self.0.lock().unwrap().push(job.id);
        Err(export_core::ExportError::request(
            "data",
            "the host has no trips for this period",
        ))
    }
}

#[test]
fn a_worker_with_the_hosts_sources_exports_what_the_host_opens() {
    let setup = sqlite_setup(50);
    let engine = setup.open();
    let host = Arc::new(RefusingHost(std::sync::Mutex::new(Vec::new())));
    let job = engine.service().create(&alice(), request()).unwrap();
    let outcome = engine
        .worker_with_sources(host.clone())
        .run_once()
        .unwrap()
        .expect("a pending job");
    assert_eq!(*host.0.lock().unwrap(), [job.id]);
    // A request the host cannot serve fails the job at once, with the host's reason.
    assert_eq!(outcome.status, JobStatus::Failed);
    let error = outcome.error.expect("an error");
    assert!(
        error.message.contains("no trips for this period"),
        "{error:?}"
    );
    // The engine's own worker still exports its sample trips.
    let job = engine.service().create(&alice(), request()).unwrap();
    let outcome = engine.worker().run_once().unwrap().expect("a pending job");
    assert_eq!(
        (outcome.job_id, outcome.status),
        (job.id, JobStatus::Succeeded)
    );
}
