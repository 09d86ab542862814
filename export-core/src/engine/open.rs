//! Opening what an [`EngineConfig`] names: the database holding jobs, schedules, platforms and
//! audit events, and the storage of finished files.

use std::sync::Arc;

use super::config::{EngineConfig, StorageConfig, StoreLocation};
use crate::audit::{AuditLog, JsonlAuditLog, SqliteAuditLog};
use crate::db::SqliteDatabase;
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
            // One database: one connection shared by the jobs, the schedules and the audit log.
            let db = if path.as_os_str() == ":memory:" {
                SqliteDatabase::open_in_memory()?
            } else if c.must_exist {
                SqliteDatabase::open_existing(&path)?
            } else {
                SqliteDatabase::open(&path)?
            };
            let audit: Arc<dyn AuditLog> = match &config.audit.jsonl {
                Some(file) => jsonl(file)?,
                None => Arc::new(SqliteAuditLog::new(db.clone())),
            };
            let schedules = Arc::new(SqliteScheduleStore::new(db.clone()));
            Ok(Backend {
                jobs: Arc::new(SqliteJobStore::new(db)),
                schedules: schedules.clone(),
                platforms: schedules,
                audit,
            })
        }
        #[cfg(feature = "postgres")]
        StoreLocation::Postgres(url) => {
            let ssl_mode: crate::db::PgSslMode = c
                .tls
                .parse()
                .map_err(|_| ExportError::config("job_store.tls", format!("unknown TLS mode `{}`; expected disable, prefer, require, verify-ca or verify-full", c.tls)))?;
            let mut options = crate::db::PgOptions::default()
                .pool_size(c.pool_size.max(1))
                .wait_timeout(c.wait_timeout)
                .max_lifetime(c.max_lifetime)
                .ssl_mode(ssl_mode);
            if let Some(schema) = &c.schema {
                options = options.schema(schema.clone());
            }
            if let Some(ca) = &c.ca_file {
                options = options.ca_file(ca.clone());
            }
            // One pool on the engine's runtime, one schema, for every store and the audit log.
            let db = crate::db::PgDatabase::connect(&url, options, io)?;
            let schedules = Arc::new(crate::schedule::PgScheduleStore::new(db.clone()));
            let audit: Arc<dyn AuditLog> = match &config.audit.jsonl {
                Some(file) => jsonl(file)?,
                None => Arc::new(crate::audit::PgAuditLog::new(db.clone())),
            };
            Ok(Backend {
                jobs: Arc::new(crate::job::PgJobStore::new(db)),
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
