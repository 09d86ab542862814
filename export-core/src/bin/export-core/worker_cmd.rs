//! `export-core worker`: runs background export jobs from a SQLite file or a PostgreSQL store.
//!
//! SIGTERM and Ctrl-C (SIGINT) stop the worker promptly: the job being run stops before its next
//! batch and is released (pending again at once, for another worker).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Args;
use export_core::Result;
use export_core::clock::SystemClock;
use export_core::registry::SchemaRegistry;
use export_core::worker::{JobOutcome, SampleTripsProvider, Worker, WorkerConfig};

use crate::backend::BackendArgs;

#[derive(Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    backend: BackendArgs,
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
pub(crate) static SHUTDOWN: AtomicBool = AtomicBool::new(false);

pub fn run(args: WorkerArgs) -> Result<()> {
    let store = args.backend.open_store()?;
    let storage = args.backend.open_storage()?;
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
    )
    .with_audit(args.backend.open_audit()?);
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
            } else if outcome.released {
                " (released at shutdown)"
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
        if let Some(outcome) = worker.run_once_until_shutdown(&SHUTDOWN)? {
            report(&outcome);
        }
        return Ok(());
    }
    if args.exit_when_idle {
        while !SHUTDOWN.load(Ordering::SeqCst) {
            match worker.run_once_until_shutdown(&SHUTDOWN)? {
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

#[cfg(unix)]
pub(crate) fn install_signal_handlers() {
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
pub(crate) fn install_signal_handlers() {}
