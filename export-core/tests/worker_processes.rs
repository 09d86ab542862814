//! `export-core worker` as real processes: four processes drain one store, and a worker killed
//! with SIGKILL mid-export leaves nothing visible and its job is reclaimed and retried, and one
//! sent SIGTERM releases its job for the next worker at once.
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

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::Utc;
use export_core::job::{JobStatus, JobStore, NewJob, Owner, SqliteJobStore};
use export_core::registry::SchemaRegistry;
use export_core::request::{Audience, ExportRequest, Format, Period, SchemaVersion};
use export_core::storage::{LocalStorage, Storage, StorageKey};

const BIN: &str = env!("CARGO_BIN_EXE_export-core");

/// A trip request for `period`: the workers run on the system clock, so the periods come from it
/// ([`periods`]) and stay within the age limit whatever today is.
fn request(period: Period) -> ExportRequest {
    let mut request = ExportRequest::new("trip", Format::Csv);
    request.version = Some(SchemaVersion::V3);
    request.audience = Some(Audience::Operator);
    request.period = Some(period);
    request
}

/// `export-core worker` on a store (`--db PATH` or `--pg-url URL --pg-schema S`).
fn worker(store_args: &[String], files: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("worker")
        .args(store_args)
        .arg("--storage")
        .arg(format!("file://{}", files.display()))
        .args(extra)
        .env_remove("EXPORT_CORE_PG_URL")
        .stdin(Stdio::null());
    cmd
}

/// Files under `dir` whose name does not start with a dot (visible outputs).
fn visible_files(dir: &Path) -> Vec<PathBuf> {
    files_below(dir, false)
}

/// The hidden files below `dir`: temporary files of uploads.
fn hidden_files(dir: &Path) -> Vec<PathBuf> {
    files_below(dir, true)
}

fn files_below(dir: &Path, hidden: bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_below(&path, hidden));
        } else if entry.file_name().to_string_lossy().starts_with('.') == hidden {
            out.push(path);
        }
    }
    out
}

/// Four worker processes drain 200 jobs; each job runs exactly once.
fn drain_200(store: Arc<dyn JobStore>, store_args: &[String]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = dir.path().join("files");
    let ids: BTreeSet<_> = (0..200)
        .map(|_| {
            store
                .create(NewJob::new(
                    Owner::user("u-1"),
                    request(periods::recent_day()),
                ))
                .expect("create")
                .id
        })
        .collect();
    let children: Vec<Child> = (0..4)
        .map(|n| {
            worker(
                store_args,
                &files,
                &[
                    "--exit-when-idle",
                    "--sample-rows",
                    "50",
                    "--id",
                    &format!("proc-{n}"),
                ],
            )
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn export-core worker")
        })
        .collect();
    let mut ran = Vec::new();
    for child in children {
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "worker failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            assert!(line.contains(": succeeded"), "{line}");
            let id = line
                .strip_prefix("job ")
                .and_then(|l| l.split(':').next())
                .expect("a job line");
            ran.push(id.parse::<uuid::Uuid>().expect("a job id"));
        }
    }
    assert_eq!(ran.len(), 200, "200 runs in all");
    let distinct: BTreeSet<_> = ran.into_iter().collect();
    assert_eq!(distinct, ids, "each job exactly once");
    for id in &ids {
        let job = store.get(*id).expect("get");
        assert_eq!(job.status, JobStatus::Succeeded, "{:?}", job.error);
        assert_eq!(job.attempts, 1);
    }
    assert_eq!(visible_files(&files).len(), 200, "exactly 200 files");
}

#[test]
fn four_processes_drain_200_jobs_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("jobs.db");
    let store = Arc::new(SqliteJobStore::open(&db).expect("sqlite"));
    drain_200(store, &["--db".into(), db.display().to_string()]);
}

#[cfg(feature = "postgres")]
#[test]
fn four_processes_drain_200_jobs_on_postgres() {
    use export_core::db::PgOptions;
    use export_core::job::PgJobStore;
    let Some(url) = services::pg_url() else {
        return;
    };
    let schema = format!("worker_{}", uuid::Uuid::new_v4().simple());
    let store = Arc::new(
        PgJobStore::connect_with(&url, PgOptions::default().schema(schema.clone()))
            .expect("postgres"),
    );
    drain_200(
        store,
        &[
            "--pg-url".into(),
            url.clone(),
            "--pg-schema".into(),
            schema.clone(),
        ],
    );
    if let Ok(mut client) = crate::pg_admin::Client::connect(&url) {
        let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    }
}

#[cfg(unix)]
#[test]
fn a_killed_worker_leaves_nothing_and_its_job_is_reclaimed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("jobs.db");
    let files = dir.path().join("files");
    let store = SqliteJobStore::open(&db).expect("sqlite");
    let request = request(periods::recent_month());
    let file_name = SchemaRegistry::new()
        .exporter(request.clone(), Utc::now())
        .expect("a valid request")
        .file_name();
    let job = store
        .create(NewJob::new(Owner::user("u-1"), request))
        .expect("create");
    let key = StorageKey::for_export(job.id, job.created_at, &file_name).expect("key");
    let store_args = ["--db".to_string(), db.display().to_string()];

    let mut victim = worker(
        &store_args,
        &files,
        &["--once", "--lease", "2", "--sample-rows", "3000000", "-q"],
    )
    .spawn()
    .expect("spawn");
    let deadline = Instant::now() + StdDuration::from_secs(120);
    loop {
        let current = store.get(job.id).expect("get");
        if current.progress.rows_done > 0 {
            assert_eq!(current.status, JobStatus::Running);
            break;
        }
        assert!(
            victim.try_wait().expect("try_wait").is_none(),
            "the worker ended early"
        );
        assert!(Instant::now() < deadline, "no progress");
        std::thread::sleep(StdDuration::from_millis(5));
    }
    victim.kill().expect("SIGKILL"); // Child::kill sends SIGKILL on unix
    victim.wait().expect("reap");

    let storage = LocalStorage::new(&files).expect("local");
    assert!(
        storage.head(&key).expect("head").is_none(),
        "no file under the key"
    );
    assert!(visible_files(&files).is_empty(), "no visible partial file");
    let abandoned = hidden_files(&files);
    assert_eq!(abandoned.len(), 1, "the killed upload's temporary file");
    let killed = store.get(job.id).expect("get");
    assert_eq!(
        killed.status,
        JobStatus::Running,
        "still leased to the dead worker"
    );
    assert_eq!(killed.attempts, 1);

    // After the lease (2 s) the next worker reclaims the job and runs it again.
    std::thread::sleep(StdDuration::from_millis(2500));
    let out = worker(
        &store_args,
        &files,
        &["--exit-when-idle", "--sample-rows", "20000"],
    )
    .output()
    .expect("run the second worker");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done = store.get(job.id).expect("get");
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.error);
    assert_eq!(done.attempts, 2);
    let result = done.result.expect("result");
    assert_eq!(result.storage_key, key.as_str());
    let size = storage
        .open(&key)
        .expect("open")
        .verify(&result.sha256)
        .expect("sha256");
    assert_eq!(size, result.size_bytes);
    assert_eq!(visible_files(&files).len(), 1);

    // The killed upload's temporary file stays until a sweep finds it old enough.
    assert_eq!(hidden_files(&files), abandoned);
    let recent = Utc::now() - chrono::Duration::hours(1);
    assert_eq!(storage.sweep_abandoned(recent).expect("sweep"), 0);
    let any_age = Utc::now() + chrono::Duration::seconds(1);
    assert_eq!(storage.sweep_abandoned(any_age).expect("sweep"), 1);
    assert!(hidden_files(&files).is_empty());
    assert_eq!(visible_files(&files).len(), 1, "the finished file stays");
    storage
        .open(&key)
        .expect("open")
        .verify(&result.sha256)
        .expect("sha256");
}

/// SIGTERM mid-export: the worker stops before its next batch, aborts its upload and releases
/// the job, which is pending at once; the next worker runs it without waiting for the 60 s lease.
#[cfg(unix)]
#[test]
fn a_worker_sent_sigterm_releases_its_job_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("jobs.db");
    let files = dir.path().join("files");
    let store = SqliteJobStore::open(&db).expect("sqlite");
    let job = store
        .create(NewJob::new(
            Owner::user("u-1"),
            request(periods::recent_month()),
        ))
        .expect("create");
    let store_args = ["--db".to_string(), db.display().to_string()];

    let mut stopped = worker(
        &store_args,
        &files,
        &["--lease", "60", "--sample-rows", "3000000", "-q"],
    )
    .spawn()
    .expect("spawn");
    let deadline = Instant::now() + StdDuration::from_secs(120);
    while store.get(job.id).expect("get").progress.rows_done == 0 {
        assert!(
            stopped.try_wait().expect("try_wait").is_none(),
            "the worker ended early"
        );
        assert!(Instant::now() < deadline, "no progress");
        std::thread::sleep(StdDuration::from_millis(5));
    }
    let sent = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &stopped.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let status = stopped.wait().expect("reap");
    assert!(status.success(), "{status:?}");
    assert!(sent.elapsed() < StdDuration::from_secs(10), "prompt stop");

    let released = store.get(job.id).expect("get");
    assert_eq!(released.status, JobStatus::Pending, "pending at once");
    assert!(released.lease.is_none());
    assert_eq!(released.attempts, 0);
    assert!(visible_files(&files).is_empty(), "nothing published");
    assert!(hidden_files(&files).is_empty(), "the upload was aborted");

    let started = Instant::now();
    let out = worker(
        &store_args,
        &files,
        &["--exit-when-idle", "--sample-rows", "20000"],
    )
    .output()
    .expect("run the second worker");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        started.elapsed() < StdDuration::from_secs(50),
        "no wait for the lease"
    );
    let done = store.get(job.id).expect("get");
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.error);
    assert_eq!(done.attempts, 1);
    assert_eq!(visible_files(&files).len(), 1);
}
