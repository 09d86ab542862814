//! `export-core worker`: runs background export jobs from a SQLite file or a PostgreSQL store.
//!
//! SIGTERM and Ctrl-C (SIGINT) stop the worker promptly: the job being run stops before its next
//! batch and is released (pending again at once, for another worker).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Args;
use export_core::Result;
use export_core::worker::JobOutcome;

use crate::backend::BackendArgs;

#[derive(Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    backend: BackendArgs,
    /// Lease of a claimed job, in seconds; a worker silent this long loses its job [default: 60].
    #[arg(long)]
    lease: Option<u32>,
    /// Sleep when the queue is empty, in milliseconds [default: 1000].
    #[arg(long)]
    poll_ms: Option<u64>,
    /// First retry delay of a transiently failed job, in seconds (doubled per attempt)
    /// [default: 30].
    #[arg(long)]
    retry_delay: Option<u32>,
    /// Worker identifier (default: hostname-pid-random).
    #[arg(long)]
    id: Option<String>,
    /// Run at most one job, then exit.
    #[arg(long, conflicts_with = "exit_when_idle")]
    once: bool,
    /// Exit once no job is pending instead of polling.
    #[arg(long)]
    exit_when_idle: bool,
    /// Sample trips generated per job [default: 100000].
    #[arg(long)]
    sample_rows: Option<u64>,
    /// Seed of the sample-trip generator [default: 42].
    #[arg(long)]
    seed: Option<u64>,
    /// Print nothing per job.
    #[arg(long, short)]
    quiet: bool,
}

/// Set by SIGTERM / SIGINT.
pub(crate) static SHUTDOWN: AtomicBool = AtomicBool::new(false);

pub fn run(args: WorkerArgs) -> Result<()> {
    let engine = args.backend.open_with(|config| {
        let w = &mut config.worker;
        if let Some(lease) = args.lease {
            w.lease = Duration::from_secs(u64::from(lease.max(1)));
        }
        if let Some(ms) = args.poll_ms {
            w.poll_interval = Duration::from_millis(ms);
        }
        if let Some(delay) = args.retry_delay {
            w.retry_delay = Duration::from_secs(u64::from(delay.max(1)));
        }
        if let Some(id) = &args.id {
            w.id = Some(id.clone());
        }
        if let Some(rows) = args.sample_rows {
            config.sources.sample_rows = rows;
        }
        if let Some(seed) = args.seed {
            config.sources.sample_seed = seed;
        }
    })?;
    let worker = engine.worker();
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
