//! Opening what an [`EngineConfig`] names: the database holding jobs, schedules, platforms and
//! audit events, and the storage of finished files.

use std::sync::Arc;

use super::config::{EngineConfig, StorageConfig, StoreLocation};
use crate::audit::{AuditLog, JsonlAuditLog, SqliteAuditLog};
use crate::error::{ExportError, Result};
use crate::job::{JobStore, SqliteJobStore};
use crate::platform::PlatformStore;
use crate::runtime::IoRuntime;
use crate::schedule::{ScheduleStore, SqliteScheduleStore};
use crate::storage::Storage;

/// The stores of one database.
pub(super) struct Backend {
    pub(super) jobs: Arc<dyn JobStore>,
    pub(super) schedules: Arc<dyn ScheduleStore>,
    pub(super) platforms: Arc<dyn PlatformStore>,
    pub(super) audit: Arc<dyn AuditLog>,
}

pub(super) fn open_backend(config: &EngineConfig, io: &IoRuntime) -> Result<Backend> {
    let c = &config.job_store;
    let jsonl = |path: &std::path::Path| -> Result<Arc<dyn AuditLog>> {
        Ok(Arc::new(JsonlAuditLog::open(path)?))
    };
    match c.location()? {
        StoreLocation::Sqlite(path) => {
            let _ = io;
            let memory = path.as_os_str() == ":memory:";
            let (jobs, schedules) = if memory {
                (
                    SqliteJobStore::open_in_memory()?,
                    SqliteScheduleStore::open_in_memory()?,
                )
            } else if c.must_exist {
                (
                    SqliteJobStore::open_existing(&path)?,
                    SqliteScheduleStore::open_existing(&path)?,
                )
            } else {
                (
                    SqliteJobStore::open(&path)?,
                    SqliteScheduleStore::open(&path)?,
                )
            };
            let audit: Arc<dyn AuditLog> = match &config.audit.jsonl {
                Some(file) => jsonl(file)?,
                None if memory => Arc::new(SqliteAuditLog::open_in_memory()?),
                None if c.must_exist => Arc::new(SqliteAuditLog::open_existing(&path)?),
                None => Arc::new(SqliteAuditLog::open(&path)?),
            };
            let schedules = Arc::new(schedules);
            Ok(Backend {
                jobs: Arc::new(jobs),
                schedules: schedules.clone(),
                platforms: schedules,
                audit,
            })
        }
        #[cfg(feature = "postgres")]
        StoreLocation::Postgres(url) => {
            let mut options = crate::job::PgOptions::default().pool_size(c.pool_size.max(1));
            if let Some(schema) = &c.schema {
                options = options.schema(schema.clone());
            }
            let schedules = Arc::new(crate::schedule::PgScheduleStore::connect_with(
                &url,
                options.clone(),
            )?);
            let audit: Arc<dyn AuditLog> = match &config.audit.jsonl {
                Some(file) => jsonl(file)?,
                None => Arc::new(crate::audit::PgAuditLog::connect_with(
                    &url,
                    options.clone(),
                )?),
            };
            Ok(Backend {
                jobs: Arc::new(crate::job::PgJobStore::connect_with(&url, options)?),
                schedules: schedules.clone(),
                platforms: schedules,
                audit,
            })
        }
        #[cfg(not(feature = "postgres"))]
        StoreLocation::Postgres(_) => Err(ExportError::config(
            "job_store.url",
            "this build has no PostgreSQL support (enable the `postgres` feature)",
        )),
    }
}

/// `file://./exports` and `file://exports` name directories relative to the current one,
/// which file URLs cannot say.
pub(super) fn open_storage(config: &StorageConfig, io: &IoRuntime) -> Result<Arc<dyn Storage>> {
    let url = config.url.trim();
    let opened = match url.strip_prefix("file://") {
        Some(rest) if !rest.starts_with('/') => {
            if rest.is_empty() {
                return Err(ExportError::config("storage.url", "file:// names no path"));
            }
            crate::storage::open_storage_with(rest, &config.options, io)
        }
        _ => crate::storage::open_storage_with(url, &config.options, io),
    };
    opened.map_err(|e| match e {
        ExportError::InvalidRequest { field, reason } => {
            let field = match field.as_str() {
                "storage_url" => "storage.url".to_string(),
                other => format!("storage.options.{other}"),
            };
            ExportError::config(field, reason)
        }
        e => e,
    })
}
