//! [`PgDatabase`]: one PostgreSQL connection pool (deadpool-postgres over tokio-postgres, TLS
//! through rustls) driven by the engine's [`IoRuntime`], shared by the job, schedule, platform
//! and audit stores.
//!
//! The stores' traits are synchronous; each of their calls waits for the async client through
//! [`IoRuntime::block_on`], which works from a plain thread, a multi-thread runtime's worker and
//! a current-thread runtime's thread alike (see [`crate::runtime`]). The connections' I/O tasks
//! run on that runtime; nothing else starts one.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{
    Hook, HookError, Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
    TimeoutType,
};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, Row};

use super::error::postgres as store_error;
use super::migrate;
pub use super::tls::{PgRoots, PgSslMode};
use crate::error::{ExportError, Result};
use crate::runtime::IoRuntime;

const BACKEND: &str = "postgres";

/// Settings of [`PgDatabase::connect`] (and of the stores' `connect_with`).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use export_core::db::{PgOptions, PgSslMode};
/// let options = PgOptions::default()
///     .schema("exports")
///     .pool_size(8)
///     .wait_timeout(Duration::from_secs(5))
///     .max_lifetime(Some(Duration::from_secs(600)))
///     .ssl_mode(PgSslMode::VerifyFull);
/// assert_eq!(options.schema.as_deref(), Some("exports"));
/// assert_eq!(options.ssl_mode, Some(PgSslMode::VerifyFull));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PgOptions {
    /// The schema holding every table (jobs, schedules, platforms, audit), created if missing
    /// and put first on each connection's search path; `None` uses the connection's default
    /// (usually `public`). A lower-case SQL identifier: `[a-z_][a-z0-9_]*`, at most 63
    /// characters.
    pub schema: Option<String>,
    /// Most connections open at once (default 4, at least 1).
    pub pool_size: usize,
    /// How long opening a connection may take when the URL sets no `connect_timeout`
    /// (default 10 s).
    pub connect_timeout: Duration,
    /// How long an operation waits for a free connection when all `pool_size` are in use
    /// before failing with [`ExportError::Store`] (default 30 s).
    pub wait_timeout: Duration,
    /// Connections older than this are closed and replaced when next taken from the pool
    /// (default 30 min); `None` keeps them for as long as they work.
    pub max_lifetime: Option<Duration>,
    /// TLS mode; `None` takes the URL's `sslmode`, else [`PgSslMode::Prefer`].
    ///
    /// | mode | TLS | server certificate |
    /// |---|---|---|
    /// | `disable` | never | - |
    /// | `prefer` | when the server offers it | not verified (encryption only) |
    /// | `require` | always | not verified, or as `verify-ca` with a CA file |
    /// | `verify-ca` | always | chain verified, host name not checked |
    /// | `verify-full` | always | chain and host name verified |
    pub ssl_mode: Option<PgSslMode>,
    /// The roots that verify the server when no CA file is given (default the system's).
    pub roots: PgRoots,
    /// A PEM file of CA certificates that verify the server instead of the roots; `None` takes
    /// the URL's `sslrootcert`.
    pub ca_file: Option<PathBuf>,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            schema: None,
            pool_size: 4,
            connect_timeout: Duration::from_secs(10),
            wait_timeout: Duration::from_secs(30),
            max_lifetime: Some(Duration::from_secs(30 * 60)),
            ssl_mode: None,
            roots: PgRoots::System,
            ca_file: None,
        }
    }
}

impl PgOptions {
    /// Sets the schema.
    pub fn schema(mut self, schema: impl Into<String>) -> PgOptions {
        self.schema = Some(schema.into());
        self
    }

    /// Sets the pool size.
    pub fn pool_size(mut self, pool_size: usize) -> PgOptions {
        self.pool_size = pool_size;
        self
    }

    /// Sets the connection timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> PgOptions {
        self.connect_timeout = timeout;
        self
    }

    /// Sets how long an operation waits for a free connection.
    pub fn wait_timeout(mut self, timeout: Duration) -> PgOptions {
        self.wait_timeout = timeout;
        self
    }

    /// Sets the maximum lifetime of a connection (`None`: unlimited).
    pub fn max_lifetime(mut self, lifetime: Option<Duration>) -> PgOptions {
        self.max_lifetime = lifetime;
        self
    }

    /// Sets the TLS mode.
    pub fn ssl_mode(mut self, mode: PgSslMode) -> PgOptions {
        self.ssl_mode = Some(mode);
        self
    }

    /// Sets the roots used when no CA file is given.
    pub fn roots(mut self, roots: PgRoots) -> PgOptions {
        self.roots = roots;
        self
    }

    /// Sets the PEM file of CA certificates that verify the server.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> PgOptions {
        self.ca_file = Some(path.into());
        self
    }
}

/// Checks that `schema` is a lower-case SQL identifier, safe to splice into SQL.
fn check_schema(schema: &str) -> Result<()> {
    let mut chars = schema.chars();
    let ok = schema.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ExportError::request(
            "schema",
            format!(
                "`{schema}` is not a lower-case SQL identifier ([a-z_][a-z0-9_]*, at most 63 characters)"
            ),
        ))
    }
}

/// One PostgreSQL database: a connection pool with every table migrated, from which
/// [`PgJobStore`](crate::job::PgJobStore),
/// [`PgScheduleStore`](crate::schedule::PgScheduleStore) (also the platform store) and
/// [`PgAuditLog`](crate::audit::PgAuditLog) are built, so that they share one pool and one
/// schema. A clone is the same pool.
///
/// # Examples
///
/// ```no_run
/// use export_core::audit::PgAuditLog;
/// use export_core::db::{PgDatabase, PgOptions};
/// use export_core::job::PgJobStore;
/// use export_core::runtime::IoRuntime;
/// use export_core::schedule::PgScheduleStore;
///
/// let io = IoRuntime::new(2)?;
/// let db = PgDatabase::connect(
///     "postgres://exports@127.0.0.1:5432/exports?sslmode=verify-full",
///     PgOptions::default().schema("exports"),
///     &io,
/// )?;
/// let jobs = PgJobStore::new(db.clone());
/// let schedules = PgScheduleStore::new(db.clone());
/// let audit = PgAuditLog::new(db);
/// # Ok::<(), export_core::ExportError>(())
/// ```
#[derive(Clone)]
pub struct PgDatabase {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    io: IoRuntime,
    options: PgOptions,
    ssl_mode: PgSslMode,
}

impl std::fmt::Debug for PgDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.inner.pool.status();
        f.debug_struct("PgDatabase")
            .field("schema", &self.inner.options.schema)
            .field("pool_size", &status.max_size)
            .field("open", &status.size)
            .field("ssl_mode", &self.inner.ssl_mode)
            .finish_non_exhaustive()
    }
}

impl PgDatabase {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`, or a
    /// `key=value` connection string; `sslmode` may be any of [`PgSslMode`]'s names and
    /// `sslrootcert` names a CA file) with `options`, on the I/O runtime `io`: opens a first
    /// connection, creates `options.schema` if missing and applies every pending migration (jobs,
    /// schedules and platforms, audit).
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] on field `url` (unparsable, unknown `sslmode`), `schema`
    /// or `pool_size`; [`ExportError::Config`] on field `tls.ca_file` or `tls.roots` when the
    /// certificates cannot be loaded; [`ExportError::Store`] when the server cannot be reached
    /// (also when it refuses TLS that the mode requires), or the schema cannot be created or
    /// migrated.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::db::{PgDatabase, PgOptions};
    /// use export_core::runtime::IoRuntime;
    /// let io = IoRuntime::shared();
    /// let err = PgDatabase::connect("not a url", PgOptions::default(), &io).unwrap_err();
    /// assert_eq!(err.code(), "INVALID_REQUEST");
    /// let err = PgDatabase::connect("postgres://h/db", PgOptions::default().pool_size(0), &io).unwrap_err();
    /// assert_eq!(err.to_string(), "invalid `pool_size`: must be at least 1");
    /// ```
    pub fn connect(url: &str, options: PgOptions, io: &IoRuntime) -> Result<PgDatabase> {
        if options.pool_size == 0 {
            return Err(ExportError::request("pool_size", "must be at least 1"));
        }
        let (config, tls, ssl_mode) = client_config(url, &options)?;
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let mut builder = Pool::builder(manager)
            .max_size(options.pool_size)
            .wait_timeout(Some(options.wait_timeout))
            .create_timeout(Some(options.connect_timeout))
            .runtime(Runtime::Tokio1);
        if let Some(lifetime) = options.max_lifetime {
            builder = builder.pre_recycle(Hook::sync_fn(move |_, metrics| {
                if metrics.age() >= lifetime {
                    Err(HookError::message(
                        "the connection is past its maximum lifetime",
                    ))
                } else {
                    Ok(())
                }
            }));
        }
        let pool = builder.build().map_err(|e| {
            ExportError::store_with_source(BACKEND, format!("cannot build the pool: {e}"), e)
        })?;
        let db = PgDatabase {
            inner: Arc::new(Inner {
                pool,
                io: io.clone(),
                options,
                ssl_mode,
            }),
        };
        {
            let mut conn = db.connection()?;
            if let Some(schema) = &db.inner.options.schema {
                // Validated above: a plain identifier, safe to splice.
                match conn.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}")) {
                    Ok(()) => {}
                    // Another process created it at the same moment.
                    Err(e) if super::error::postgres_is_unique_violation(&e) => {}
                    Err(e) => return Err(store_error(e)),
                }
            }
            migrate(&mut conn)?;
        }
        Ok(db)
    }

    /// As [`PgDatabase::connect`] on the process-wide [`IoRuntime::shared`], for callers
    /// without an engine.
    ///
    /// # Errors
    ///
    /// As [`PgDatabase::connect`].
    pub fn connect_shared(url: &str, options: PgOptions) -> Result<PgDatabase> {
        PgDatabase::connect(url, options, &IoRuntime::shared())
    }

    /// The options it was opened with.
    pub fn options(&self) -> &PgOptions {
        &self.inner.options
    }

    /// The schema of the tables, when one was given.
    pub fn schema(&self) -> Option<&str> {
        self.inner.options.schema.as_deref()
    }

    /// The TLS mode in force (from the options, else the URL, else `prefer`).
    pub fn ssl_mode(&self) -> PgSslMode {
        self.inner.ssl_mode
    }

    /// The runtime that drives the connections.
    pub fn io(&self) -> &IoRuntime {
        &self.inner.io
    }

    /// A connection from the pool, returned to it when dropped: an idle one (replaced by a new
    /// one when older than [`PgOptions::max_lifetime`] or closed), a new one while fewer than
    /// [`PgOptions::pool_size`] are open, or the next one returned within
    /// [`PgOptions::wait_timeout`].
    ///
    /// # Errors
    ///
    /// [`ExportError::Store`] naming the wait timeout when no connection came free in time;
    /// [`ExportError::Store`] with the driver's error as source when a new connection failed.
    pub fn connection(&self) -> Result<PgConnection> {
        let pool = &self.inner.pool;
        let object = self
            .inner
            .io
            .block_on(pool.get())
            .map_err(|e| self.pool_error(e))?;
        Ok(PgConnection {
            object,
            io: self.inner.io.clone(),
        })
    }

    fn pool_error(&self, e: PoolError) -> ExportError {
        let options = &self.inner.options;
        match e {
            PoolError::Timeout(TimeoutType::Wait) => ExportError::store(
                BACKEND,
                format!(
                    "no connection came free within the wait timeout of {:?} (all {} of the pool in use)",
                    options.wait_timeout, options.pool_size
                ),
            ),
            PoolError::Timeout(TimeoutType::Create) => ExportError::store(
                BACKEND,
                format!(
                    "connecting took longer than the connect timeout of {:?}",
                    options.connect_timeout
                ),
            ),
            PoolError::Backend(e) => store_error(e),
            other => ExportError::store_with_source(BACKEND, other.to_string(), other),
        }
    }
}

/// The driver's configuration and TLS connector for `url` with `options` (its schema put first
/// on the search path), and the TLS mode in force: shared by the pool and by the query source's
/// own connections.
pub(crate) fn client_config(
    url: &str,
    options: &PgOptions,
) -> Result<(
    tokio_postgres::Config,
    tokio_postgres_rustls::MakeRustlsConnect,
    PgSslMode,
)> {
    let (url, url_tls) = super::tls::split_url(url)?;
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| ExportError::request("url", format!("not a PostgreSQL URL: {e}")))?;
    if let Some(schema) = &options.schema {
        check_schema(schema)?;
        let search_path = format!("-c search_path={schema}");
        let merged = match config.get_options() {
            Some(existing) if !existing.trim().is_empty() => {
                format!("{existing} {search_path}")
            }
            _ => search_path,
        };
        config.options(&merged);
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(options.connect_timeout);
    }
    if config.get_application_name().is_none() {
        config.application_name("export-core");
    }
    let ssl_mode = options.ssl_mode.or(url_tls.mode).unwrap_or_default();
    let ca_file = options.ca_file.clone().or(url_tls.root_cert);
    config.ssl_mode(match ssl_mode {
        PgSslMode::Disable => tokio_postgres::config::SslMode::Disable,
        PgSslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        _ => tokio_postgres::config::SslMode::Require,
    });
    let tls = tokio_postgres_rustls::MakeRustlsConnect::new(super::tls::client_config(
        ssl_mode,
        options.roots,
        ca_file.as_deref(),
    )?);
    Ok((config, tls, ssl_mode))
}

/// Applies the pending migrations of every component in one transaction under an advisory lock
/// (per schema), so databases connecting at once apply them exactly once.
fn migrate(conn: &mut PgConnection) -> Result<()> {
    let tx = conn.transaction().map_err(store_error)?;
    // One lock for all export-core migrations in this database, qualified by the search
    // path's first schema, so separate schemas migrate independently.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('export-core:' || current_schema() || ':migrations'))",
        &[],
    )
    .map_err(store_error)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             component  TEXT        NOT NULL,
             version    BIGINT      NOT NULL,
             name       TEXT        NOT NULL,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
             PRIMARY KEY (component, version)
         )",
    )
    .map_err(store_error)?;
    migrate::apply_pending(BACKEND, migrate::POSTGRES, &PgApplier(&tx))?;
    tx.commit().map_err(store_error)
}

struct PgApplier<'a>(&'a PgTransaction<'a>);

impl migrate::Applier for PgApplier<'_> {
    fn current_version(&self, component: &str) -> Result<i64> {
        self.0
            .query_one(
                "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations WHERE component = $1",
                &[&component],
            )
            .and_then(|row| row.try_get(0))
            .map_err(store_error)
    }

    fn apply(&self, component: &str, m: &migrate::Migration) -> Result<()> {
        self.0.batch_execute(m.sql).map_err(store_error)?;
        self.0
            .execute(
                "INSERT INTO schema_migrations (component, version, name) VALUES ($1, $2, $3)",
                &[&component, &m.version, &m.name],
            )
            .map_err(store_error)?;
        Ok(())
    }
}

/// A connection borrowed from a [`PgDatabase`], returned to the pool when dropped.
pub struct PgConnection {
    object: Object,
    io: IoRuntime,
}

impl std::fmt::Debug for PgConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConnection")
            .field("closed", &self.object.is_closed())
            .finish_non_exhaustive()
    }
}

impl PgConnection {
    /// The process id of this connection's server backend (`pg_backend_pid()`): tells
    /// connections apart.
    ///
    /// # Errors
    ///
    /// [`ExportError::Store`] when the query fails.
    pub fn backend_pid(&self) -> Result<i32> {
        self.query_one("SELECT pg_backend_pid()", &[])
            .and_then(|row| row.try_get(0))
            .map_err(store_error)
    }

    /// Starts a transaction, rolled back when dropped uncommitted.
    pub(crate) fn transaction(&mut self) -> Result<PgTransaction<'_>, Error> {
        let PgConnection { object, io } = self;
        let tx = io.block_on(object.transaction())?;
        Ok(PgTransaction { tx, io })
    }
}

/// A transaction on a [`PgConnection`]; dropping it uncommitted rolls it back.
pub(crate) struct PgTransaction<'a> {
    tx: deadpool_postgres::Transaction<'a>,
    io: &'a IoRuntime,
}

impl PgTransaction<'_> {
    /// Commits.
    pub(crate) fn commit(self) -> Result<(), Error> {
        let PgTransaction { tx, io } = self;
        io.block_on(tx.commit())
    }

    /// Rolls back.
    pub(crate) fn rollback(self) -> Result<(), Error> {
        let PgTransaction { tx, io } = self;
        io.block_on(tx.rollback())
    }
}

/// The blocking calls the stores make on a connection or a transaction (the shape of the sync
/// `postgres` crate's `GenericClient`), each waiting on the I/O runtime.
pub(crate) trait PgClient {
    /// Runs a statement, returning the number of rows it changed.
    fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error>;
    /// Runs a query, returning its rows.
    fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error>;
    /// Runs a query expected to return at most one row.
    fn query_opt(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>, Error>;
    /// Runs a query expected to return exactly one row.
    fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error>;
    /// Runs statements separated by semicolons, without parameters.
    fn batch_execute(&self, sql: &str) -> Result<(), Error>;
}

// Statements are prepared once per connection (its statement cache), so a repeated query costs
// one round trip instead of two.
macro_rules! blocking_client {
    ($ty:ty, $field:ident) => {
        impl PgClient for $ty {
            fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error> {
                self.io.block_on(async {
                    let statement = self.$field.prepare_cached(sql).await?;
                    self.$field.execute(&statement, params).await
                })
            }

            fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error> {
                self.io.block_on(async {
                    let statement = self.$field.prepare_cached(sql).await?;
                    self.$field.query(&statement, params).await
                })
            }

            fn query_opt(
                &self,
                sql: &str,
                params: &[&(dyn ToSql + Sync)],
            ) -> Result<Option<Row>, Error> {
                self.io.block_on(async {
                    let statement = self.$field.prepare_cached(sql).await?;
                    self.$field.query_opt(&statement, params).await
                })
            }

            fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error> {
                self.io.block_on(async {
                    let statement = self.$field.prepare_cached(sql).await?;
                    self.$field.query_one(&statement, params).await
                })
            }

            fn batch_execute(&self, sql: &str) -> Result<(), Error> {
                self.io.block_on(self.$field.batch_execute(sql))
            }
        }
    };
}

blocking_client!(PgConnection, object);
blocking_client!(PgTransaction<'_>, tx);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_names_round_trip() {
        for mode in [
            PgSslMode::Disable,
            PgSslMode::Prefer,
            PgSslMode::Require,
            PgSslMode::VerifyCa,
            PgSslMode::VerifyFull,
        ] {
            assert_eq!(mode.as_str().parse::<PgSslMode>().unwrap(), mode);
        }
        assert_eq!("allow".parse::<PgSslMode>().unwrap(), PgSslMode::Prefer);
        assert_eq!(
            "verify".parse::<PgSslMode>().unwrap_err().code(),
            "INVALID_REQUEST"
        );
    }

    #[test]
    fn bad_schema_names_are_refused_before_connecting() {
        let io = IoRuntime::shared();
        for bad in ["Bad-Name", "1abc", "a;drop", ""] {
            let err = PgDatabase::connect(
                "postgres://127.0.0.1:1/db",
                PgOptions::default().schema(bad),
                &io,
            )
            .unwrap_err();
            assert_eq!(err.code(), "INVALID_REQUEST", "{bad}: {err}");
        }
    }
}
