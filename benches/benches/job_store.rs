//! Job creations per second and claims per second on SQLite (file, WAL) and PostgreSQL.
//!
//! ```text
//! eval "$(scripts/pg-server.sh)"   # optional: without EXPORT_CORE_PG_URL PostgreSQL is skipped
//! cargo bench -p export-core-benches --bench job_store
//! JOB_STORE_BENCH_JOBS=20000 cargo bench -p export-core-benches --bench job_store
//! ```
//!
//! Target (TARGETS.md): at least 1,000 creations per second on each store.

use std::time::Instant;

use chrono::{Duration, Utc};
use export_core::job::{JobStore, NewJob, Owner, SqliteJobStore};
use export_core::request::{Audience, ExportRequest, Format};

fn request() -> ExportRequest {
    let mut r = ExportRequest::new("trip", Format::Xlsx);
    r.audience = Some(Audience::Operator);
    r
}

fn run(name: &str, store: &dyn JobStore, jobs: usize) {
    let started = Instant::now();
    for i in 0..jobs {
        let owner = Owner::in_organisation(format!("user-{}", i % 100), "op-7");
        let new = NewJob::new(owner, request()).retention(Duration::days(7));
        store.create(new).expect("create");
    }
    let create_secs = started.elapsed().as_secs_f64();

    let now = Utc::now() + Duration::seconds(1);
    let started = Instant::now();
    let mut claimed = 0;
    while store
        .claim("bench-worker", Duration::seconds(60), now)
        .expect("claim")
        .is_some()
    {
        claimed += 1;
    }
    let claim_secs = started.elapsed().as_secs_f64();
    assert_eq!(claimed, jobs, "every job claimed once");
    let creations = jobs as f64 / create_secs;
    println!(
        "{name:<10} {jobs} jobs: {creations:>9.0} creations/s  {:>9.0} claims/s  (target >= 1000 creations/s: {})",
        claimed as f64 / claim_secs,
        if creations >= 1000.0 { "met" } else { "MISSED" }
    );
}

fn main() {
    let jobs: usize = std::env::var("JOB_STORE_BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this with fewer jobs.
    let jobs = if std::env::args().any(|a| a == "--bench") {
        jobs
    } else {
        100
    };

    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteJobStore::open(dir.path().join("jobs.db")).expect("sqlite store");
    run("sqlite", &store, jobs);

    match std::env::var("EXPORT_CORE_PG_URL") {
        Ok(url) => {
            // A schema of its own, so that claims take only this run's jobs.
            let schema = format!("bench_job_store_{}", std::process::id());
            let options = export_core::db::PgOptions::default().schema(schema);
            let store =
                export_core::job::PgJobStore::connect_with(&url, options).expect("pg store");
            run("postgres", &store, jobs);
        }
        Err(_) => println!("postgres   SKIPPED: EXPORT_CORE_PG_URL is not set"),
    }
}
