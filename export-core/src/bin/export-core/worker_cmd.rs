//! `export-core worker`: runs background export jobs from a SQLite file or a PostgreSQL store.
//!
//! SIGTERM and Ctrl-C (SIGINT) stop the worker gracefully: the job being run is finished and
//! recorded first.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Args;
use export_core::clock::SystemClock;
use export_core::job::{JobStore, SqliteJobStore};
use export_core::registry::SchemaRegistry;
use export_core::storage::{Storage, open_storage};
use export_core::worker::{JobOutcome, SampleTripsProvider, Worker, WorkerConfig};
use export_core::{ExportError, Result};

#[derive(Args)]
pub struct WorkerArgs {
    /// SQLite job store (the embedded default), created if missing.
    #[arg(long, default_value = "./export-core.db")]
    #[cfg_attr(feature = "postgres", arg(conflicts_with = "pg_url"))]
    db: PathBuf,
    /// PostgreSQL job store, for example postgres://user@host/db.
    #[cfg(feature = "postgres")]
    #[arg(long)]
    pg_url: Option<String>,
    /// PostgreSQL schema holding the job tables (default: the connection's search path).
    #[cfg(feature = "postgres")]
    #[arg(long, requires = "pg_url")]
    pg_schema: Option<String>,
    /// Where finished files go: file:///path (or a plain path), s3://bucket/prefix, memory://.
    #[arg(long, default_value = "file://./exports")]
    storage: String,
    /// Lease of a claimed job, in seconds; a worker silent this long loses its job.
    #[arg(long, default_value_t = 60)]
    lease: u32,
    /// Sleep when the queue is empty, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    poll_ms: u64,
    /// First retry delay of a transiently failed job, in seconds (doubled per attempt).
    #[arg(long, default_value_t = 30)]
    retry_delay: u32,
    /// Worker identifier (default: hostname-pid-random).
    #[arg(long)]
    id: Option<String>,
    /// Run at most one job, then exit.
    #[arg(long, conflicts_with = "exit_when_idle")]
    once: bool,
    /// Exit once no job is pending instead of polling.
    #[arg(long)]
    exit_when_idle: bool,
    /// Sample trips generated per job.
    #[arg(long, default_value_t = 100_000)]
    sample_rows: u64,
    /// Seed of the sample-trip generator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Print nothing per job.
    #[arg(long, short)]
    quiet: bool,
}

/// Set by SIGTERM / SIGINT.
static SHUTDOWN: AtomicBool = AtomicBool::new(false);

pub fn run(args: WorkerArgs) -> Result<()> {
    let store = open_store(&args)?;
    let storage = open_output(&args.storage)?;
    let mut config = WorkerConfig {
        lease: chrono::Duration::seconds(i64::from(args.lease.max(1))),
        poll_interval: std::time::Duration::from_millis(args.poll_ms),
        retry_delay: chrono::Duration::seconds(i64::from(args.retry_delay.max(1))),
        ..WorkerConfig::default()
    };
    if let Some(id) = &args.id {
        config.id = id.clone();
    }
    let worker = Worker::new(
        config,
        store,
        storage,
        Arc::new(SampleTripsProvider {
            rows: args.sample_rows,
            seed: args.seed,
        }),
        Arc::new(SchemaRegistry::new()),
        Arc::new(SystemClock),
    );
    install_signal_handlers();
    let report = |outcome: &JobOutcome| {
        if !args.quiet {
            let error = outcome
                .error
                .as_ref()
                .map(|e| format!(": {} {}", e.kind, e.message))
                .unwrap_or_default();
            let lost = if outcome.lease_lost {
                " (lease lost)"
            } else {
                ""
            };
            println!(
                "job {}: {}{lost}, {} rows{error}",
                outcome.job_id, outcome.status, outcome.rows
            );
        }
    };
    if args.once {
        if let Some(outcome) = worker.run_once()? {
            report(&outcome);
        }
        return Ok(());
    }
    if args.exit_when_idle {
        while !SHUTDOWN.load(Ordering::SeqCst) {
            match worker.run_once()? {
                Some(outcome) => report(&outcome),
                None => break,
            }
        }
        return Ok(());
    }
    let jobs = worker.run_forever(&SHUTDOWN);
    if !args.quiet {
        println!("worker {}: stopped after {jobs} job(s)", worker.config().id);
    }
    Ok(())
}

fn open_store(args: &WorkerArgs) -> Result<Arc<dyn JobStore>> {
    #[cfg(feature = "postgres")]
    if let Some(url) = &args.pg_url {
        let mut options = export_core::job::PgOptions::default().pool_size(2);
        if let Some(schema) = &args.pg_schema {
            options = options.schema(schema.clone());
        }
        return Ok(Arc::new(export_core::job::PgJobStore::connect_with(
            url, options,
        )?));
    }
    Ok(Arc::new(SqliteJobStore::open(&args.db)?))
}

/// `file://./exports` and `file://exports` name directories relative to the current one.
fn open_output(url: &str) -> Result<Arc<dyn Storage>> {
    match url.strip_prefix("file://") {
        Some(rest) if !rest.starts_with('/') => {
            if rest.is_empty() {
                return Err(ExportError::request("storage_url", "file:// names no path"));
            }
            open_storage(rest, [("", ""); 0])
        }
        _ => open_storage(url, [("", ""); 0]),
    }
}

#[cfg(unix)]
fn install_signal_handlers() {
    use std::os::raw::c_int;

    const SIGINT: c_int = 2;
    const SIGTERM: c_int = 15;

    unsafe extern "C" {
        fn signal(signum: c_int, handler: extern "C" fn(c_int)) -> usize;
    }

    extern "C" fn on_signal(_: c_int) {
        // Only an atomic store: async-signal-safe.
        SHUTDOWN.store(true, Ordering::SeqCst);
    }

    // SAFETY: `signal` is the C library's, and the handler only stores to an atomic.
    unsafe {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
    }
}

#[cfg(not(unix))]
fn install_signal_handlers() {}
