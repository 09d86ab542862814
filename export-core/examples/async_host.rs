//! An async host (a tokio `main` on a current-thread runtime, like a small axum or napi
//! service) running the whole job lifecycle through the engine's async API, while a 10 ms
//! timer on the same thread measures how long the host is ever kept from running.
//!
//! ```sh
//! cargo run --release -p export-core --example async_host -- 1000000
//! ```
//!
//! Prints the job's rows and the timer's worst lag. The engine runs the export on its own
//! runtime's blocking pool, so the host's only thread stays free: the worst lag is scheduling
//! noise, not the export's duration.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use export_core::engine::{Engine, EngineConfig};
use export_core::job::ListQuery;
use export_core::request::{Audience, ExportRequest, Format};
use export_core::service::Principal;
use futures::StreamExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let mut config = EngineConfig::default();
    config.job_store.url = format!("sqlite://{}", dir.path().join("jobs.db").display());
    config.storage.url = format!("file://{}", dir.path().join("files").display());
    config.sources.sample_rows = rows;
    let engine = Engine::open(config)?;

    // The host's own work: a timer that should fire every 10 ms.
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let timer = tokio::spawn(async move {
        let mut worst = Duration::ZERO;
        while !flag.load(Ordering::SeqCst) {
            let due = Instant::now() + Duration::from_millis(10);
            tokio::time::sleep_until(due.into()).await;
            worst = worst.max(Instant::now().saturating_duration_since(due));
        }
        worst
    });

    let user = Principal::new("alice", Some("1"))
        .operator(1)
        .with_all_scopes();
    let mut request = ExportRequest::new("trip", Format::Xlsx);
    request.audience = Some(Audience::Operator);
    // No period: the service fills the trip schema's default (the last complete month old
    // enough to export) in the engine's time zone.
    let job = engine.create_job(user.clone(), request).await?;
    let started = Instant::now();
    let outcome = engine.work_once().await?.ok_or("no pending job")?;
    let took = started.elapsed();
    let status = engine.job_status(user.clone(), job.id).await?;
    let listed = engine.list_jobs(user.clone(), ListQuery::default()).await?;

    // Stream the file back without blocking the host.
    let download = engine.download(user.clone(), job.id).await?;
    let mut stream = download.reader.into_async_stream();
    let mut bytes = 0;
    while let Some(chunk) = stream.next().await {
        bytes += chunk?.len();
    }
    engine.delete_job(user, job.id).await?;

    stop.store(true, Ordering::SeqCst);
    let worst = timer.await?;
    println!(
        "job {}: {} ({} rows, {} bytes, listed {}) in {:.2}s; host timer worst lag {:.1} ms",
        job.id,
        status.status,
        outcome.rows,
        bytes,
        listed.jobs.len(),
        took.as_secs_f64(),
        worst.as_secs_f64() * 1e3
    );
    Ok(())
}
