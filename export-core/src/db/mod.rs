//! The database layer shared by the job, schedule, platform and audit stores: one handle per
//! database, one migration runner, one mapping of driver errors.
//!
//! | backend | handle | stores built from it |
//! |---|---|---|
//! | SQLite (embedded default, bundled) | [`SqliteDatabase`] | [`SqliteJobStore::new`](crate::job::SqliteJobStore::new), [`SqliteScheduleStore::new`](crate::schedule::SqliteScheduleStore::new), [`SqliteAuditLog::new`](crate::audit::SqliteAuditLog::new) |
//! | PostgreSQL (feature `postgres`) | `PgDatabase` | `PgJobStore::new`, `PgScheduleStore::new`, `PgAuditLog::new` |
//!
//! Opening a handle applies every pending migration (`schema_migrations`, one row per component
//! and version). A PostgreSQL handle is one connection pool (deadpool-postgres over
//! tokio-postgres, TLS through rustls, a wait timeout and a maximum connection lifetime) driven
//! by an [`IoRuntime`](crate::runtime::IoRuntime), in one schema: the stores built from it share
//! both. SQLite stays synchronous.
//!
//! Driver errors become [`ExportError::Store`](crate::ExportError::Store) keeping the driver's
//! error as `source()`; a duplicate key on an insert becomes
//! [`ExportError::AlreadyExists`](crate::ExportError::AlreadyExists).

pub(crate) mod error;
pub(crate) mod migrate;
#[cfg(feature = "postgres")]
mod pg;
mod sqlite;
#[cfg(feature = "postgres")]
mod tls;

#[cfg(feature = "postgres")]
pub(crate) use pg::{PgClient, PgTransaction, client_config as pg_client_config};
#[cfg(feature = "postgres")]
pub use pg::{PgConnection, PgDatabase, PgOptions, PgRoots, PgSslMode};
pub(crate) use sqlite::checkpoint;
pub use sqlite::{DEFAULT_BUSY_TIMEOUT, SqliteDatabase};
