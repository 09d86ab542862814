//! `export-core scheduler`: the scheduler loop over the SQLite default database or PostgreSQL.

use std::sync::Arc;

use clap::Args;
use export_core::Result;
use export_core::clock::{Clock, SystemClock};
use export_core::schedule::{Scheduler, SchedulerConfig};

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
    /// Longest sleep between ticks, in seconds.
    #[arg(long, default_value_t = 10)]
    poll_seconds: u32,
    /// Run one tick, print what it did as JSON, and exit.
    #[arg(long)]
    once: bool,
}

pub fn run(args: SchedulerArgs) -> Result<()> {
    let (schedules, platforms) = args.backend.open_schedules()?;
    let mut config = SchedulerConfig {
        poll_interval: chrono::Duration::seconds(i64::from(args.poll_seconds.max(1))),
        ..SchedulerConfig::default()
    };
    if let Some(id) = &args.id {
        config.id = id.clone();
    }
    let clock = Arc::new(SystemClock);
    let scheduler = Scheduler::new(
        config,
        schedules,
        platforms,
        args.backend.open_store()?,
        clock.clone(),
    )
    .with_audit(args.backend.open_audit()?);
    if args.once {
        return print_json(&scheduler.tick(clock.now())?);
    }
    install_signal_handlers();
    let jobs = scheduler.run_forever(&SHUTDOWN);
    println!("scheduler stopped after creating {jobs} job(s)");
    Ok(())
}
