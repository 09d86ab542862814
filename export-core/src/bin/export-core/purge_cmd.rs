//! `export-core purge`: delete the files of jobs whose retention has passed and anonymise them.

use std::sync::Arc;

use clap::Args;
use export_core::Result;
use export_core::clock::SystemClock;
use export_core::retention::Purger;

use crate::backend::BackendArgs;

#[derive(Args)]
pub struct PurgeArgs {
    #[command(flatten)]
    backend: BackendArgs,
    /// List what is due without changing anything.
    #[arg(long)]
    dry_run: bool,
    /// Hours an upload may go without a write before its leftovers (from a killed worker) are
    /// removed.
    #[arg(long, value_name = "HOURS", default_value_t = 24)]
    abandoned_after: u32,
}

pub fn run(mut args: PurgeArgs) -> Result<()> {
    // A purge only changes existing jobs: a mistyped --db must not look like "nothing due".
    args.backend.must_exist = true;
    let b = &args.backend;
    let purger = Purger::new(
        b.open_store()?,
        b.open_storage()?,
        b.open_audit()?,
        Arc::new(SystemClock),
    )
    .with_abandoned_after(chrono::Duration::hours(i64::from(args.abandoned_after)));
    if args.dry_run {
        let due = purger.due()?;
        for job in &due {
            let expires = job.expires_at.map(|t| t.to_rfc3339()).unwrap_or_default();
            let key = job
                .result
                .as_ref()
                .map(|r| r.storage_key.as_str())
                .unwrap_or("-");
            println!("{}  {}  expired {}  {}", job.id, job.status, expires, key);
        }
        println!("{} job(s) due (dry run: nothing changed)", due.len());
    } else {
        let report = purger.purge()?;
        println!(
            "{} job(s) expired and anonymised; {} file(s) deleted, {} already gone; \
             {} abandoned upload(s) removed",
            report.jobs.len(),
            report.files_deleted,
            report.files_missing,
            report.abandoned_uploads
        );
    }
    Ok(())
}
