//! `export-core purge`: delete the files of jobs whose retention has passed and anonymise them
//! (and pseudonymise their audit events).
//!
//! The audit secret keying the pseudonyms comes from `--audit-secret` or the
//! `EXPORT_CORE_AUDIT_SECRET` environment variable (the variable is the safer: flags show in
//! process listings). Without one, each run uses a random secret it does not keep, so
//! pseudonyms of different runs cannot be linked (not even for one person).

use std::time::Duration;

use clap::Args;
use export_core::Result;

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
    #[arg(long, value_name = "HOURS")]
    abandoned_after: Option<u32>,
    /// Secret keying the pseudonyms of purged jobs' actors in the audit log (at least 16
    /// bytes); without it, a random one per run, not kept.
    #[arg(long, env = "EXPORT_CORE_AUDIT_SECRET", hide_env_values = true)]
    audit_secret: Option<String>,
    /// Also delete audit events older than this many days.
    #[arg(long, value_name = "DAYS")]
    audit_retention_days: Option<u32>,
}

pub fn run(mut args: PurgeArgs) -> Result<()> {
    // A purge only changes existing jobs: a mistyped --db must not look like "nothing due".
    args.backend.must_exist = true;
    let engine = args.backend.open_with(|config| {
        if let Some(hours) = args.abandoned_after {
            config.retention.abandoned_uploads = Duration::from_secs(u64::from(hours) * 3600);
        }
        if let Some(secret) = &args.audit_secret {
            config.audit.secret = Some(secret.clone());
        }
        if let Some(days) = args.audit_retention_days {
            config.audit.keep_for = Some(Duration::from_secs(u64::from(days) * 86_400));
        }
    })?;
    let purger = engine.purger()?;
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
             {} abandoned upload(s) removed; {} job(s) without expiry given the policy's \
             retention; {} audit event(s) pseudonymised, {} deleted",
            report.jobs.len(),
            report.files_deleted,
            report.files_missing,
            report.abandoned_uploads,
            report.retention_assigned,
            report.audit_pseudonymised,
            report.audit_deleted
        );
    }
    Ok(())
}
