//! `export-core scheduler`: the scheduler loop over the SQLite default database or PostgreSQL.

use std::time::Duration;

use clap::Args;
use export_core::Result;

use crate::backend::BackendArgs;
use crate::jobs_cmd::print_json;
use crate::worker_cmd::{SHUTDOWN, install_signal_handlers};

#[derive(Args)]
pub struct SchedulerArgs {
    #[command(flatten)]
    backend: BackendArgs,
    /// This scheduler's name in messages (default scheduler-<pid>).
    #[arg(long)]
    id: Option<String>,
    /// Longest sleep between ticks, in seconds [default: 10].
    #[arg(long)]
    poll_seconds: Option<u32>,
    /// Run one tick, print what it did as JSON, and exit.
    #[arg(long)]
    once: bool,
}

pub fn run(args: SchedulerArgs) -> Result<()> {
    let engine = args.backend.open_with(|config| {
        if let Some(secs) = args.poll_seconds {
            config.scheduler.poll_interval = Duration::from_secs(u64::from(secs.max(1)));
        }
        if let Some(id) = &args.id {
            config.scheduler.id = Some(id.clone());
        }
    })?;
    let scheduler = engine.scheduler();
    if args.once {
        return print_json(&scheduler.tick(engine.clock().now())?);
    }
    install_signal_handlers();
    let jobs = scheduler.run_forever(&SHUTDOWN);
    println!("scheduler stopped after creating {jobs} job(s)");
    Ok(())
}
