//! Where the CLI's jobs, schedules, files and audit events live: flags shared by `jobs`,
//! `worker`, `purge`, `schedules`, `platforms` and `scheduler`, and the one place that opens
//! them.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use export_core::audit::{AuditLog, JsonlAuditLog, SqliteAuditLog};
use export_core::job::{JobStore, SqliteJobStore};
use export_core::platform::PlatformStore;
use export_core::schedule::{ScheduleStore, SqliteScheduleStore};
use export_core::storage::{Storage, open_storage};
use export_core::{ExportError, Result};

#[derive(Args, Clone)]
pub struct BackendArgs {
    /// SQLite job store (also holds the audit log unless --audit-log is given).
    #[arg(long, global = true, default_value = "./export-core.db")]
    pub db: PathBuf,
    /// PostgreSQL job store instead of SQLite (postgres://user@host:port/db).
    #[arg(long, global = true)]
    pub pg_url: Option<String>,
    /// PostgreSQL schema holding the tables (default: the connection's search path).
    #[arg(long, global = true, requires = "pg_url")]
    pub pg_schema: Option<String>,
    /// Where finished files are: file://DIR (relative: file://./exports), memory:// or s3://bucket/prefix.
    #[arg(long, global = true, default_value = "file://./exports")]
    pub storage: String,
    /// Write the audit log to this JSON Lines file instead of the job database.
    #[arg(long, global = true, value_name = "PATH.jsonl")]
    pub audit_log: Option<PathBuf>,
    /// Set by commands that only read: a missing SQLite --db is then an error (exit 2), not a
    /// new empty database.
    #[arg(skip)]
    pub must_exist: bool,
}

impl BackendArgs {
    /// The PostgreSQL options every store of the CLI uses: two connections, `--pg-schema`.
    #[cfg(feature = "postgres")]
    fn pg_options(&self) -> export_core::job::PgOptions {
        let mut options = export_core::job::PgOptions::default().pool_size(2);
        if let Some(schema) = &self.pg_schema {
            options = options.schema(schema.clone());
        }
        options
    }

    pub fn open_store(&self) -> Result<Arc<dyn JobStore>> {
        match &self.pg_url {
            #[cfg(feature = "postgres")]
            Some(url) => Ok(Arc::new(export_core::job::PgJobStore::connect_with(
                url,
                self.pg_options(),
            )?)),
            #[cfg(not(feature = "postgres"))]
            Some(_) => Err(no_postgres()),
            None if self.must_exist => Ok(Arc::new(SqliteJobStore::open_existing(&self.db)?)),
            None => Ok(Arc::new(SqliteJobStore::open(&self.db)?)),
        }
    }

    /// The schedule store, which is also the platform store, beside the jobs.
    pub fn open_schedules(&self) -> Result<(Arc<dyn ScheduleStore>, Arc<dyn PlatformStore>)> {
        match &self.pg_url {
            #[cfg(feature = "postgres")]
            Some(url) => {
                let store = Arc::new(export_core::schedule::PgScheduleStore::connect_with(
                    url,
                    self.pg_options(),
                )?);
                Ok((store.clone(), store))
            }
            #[cfg(not(feature = "postgres"))]
            Some(_) => Err(no_postgres()),
            None => {
                let store = Arc::new(if self.must_exist {
                    SqliteScheduleStore::open_existing(&self.db)?
                } else {
                    SqliteScheduleStore::open(&self.db)?
                });
                Ok((store.clone(), store))
            }
        }
    }

    pub fn open_audit(&self) -> Result<Arc<dyn AuditLog>> {
        if let Some(path) = &self.audit_log {
            return Ok(Arc::new(JsonlAuditLog::open(path)?));
        }
        match &self.pg_url {
            #[cfg(feature = "postgres")]
            // Beside the jobs, in the same schema.
            Some(url) => Ok(Arc::new(export_core::audit::PgAuditLog::connect_with(
                url,
                self.pg_options(),
            )?)),
            #[cfg(not(feature = "postgres"))]
            Some(_) => Err(no_postgres()),
            None if self.must_exist => Ok(Arc::new(SqliteAuditLog::open_existing(&self.db)?)),
            None => Ok(Arc::new(SqliteAuditLog::open(&self.db)?)),
        }
    }

    /// `file://./exports` and `file://exports` name directories relative to the current one,
    /// which file URLs cannot say.
    pub fn open_storage(&self) -> Result<Arc<dyn Storage>> {
        let url = self.storage.as_str();
        match url.strip_prefix("file://") {
            Some(rest) if !rest.starts_with('/') => {
                if rest.is_empty() {
                    return Err(ExportError::request("storage", "file:// names no path"));
                }
                open_storage(rest, [("", ""); 0])
            }
            _ => open_storage(url, [("", ""); 0]),
        }
    }
}

#[cfg(not(feature = "postgres"))]
fn no_postgres() -> ExportError {
    ExportError::request(
        "pg-url",
        "this build has no PostgreSQL support (feature `postgres`)",
    )
}
