//! [`SqliteDatabase`]: the embedded default, one SQLite file (bundled SQLite, no server) shared
//! by the job, schedule, platform and audit stores.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::error::sqlite as store_error;
use super::migrate;
use crate::error::{ExportError, Result};

const BACKEND: &str = "sqlite";

/// How long an operation waits for another connection's write lock before failing.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// One SQLite database (a file, or private memory) with every table migrated: the handle from
/// which [`SqliteJobStore`](crate::job::SqliteJobStore),
/// [`SqliteScheduleStore`](crate::schedule::SqliteScheduleStore) (also the platform store) and
/// [`SqliteAuditLog`](crate::audit::SqliteAuditLog) are built.
///
/// A clone is the same connection: the stores built from one database share it (behind a mutex),
/// and an in-memory database is shared by them too. Other processes may open the same file: it is
/// in WAL mode with a busy timeout of [`DEFAULT_BUSY_TIMEOUT`], and every change runs in a
/// `BEGIN IMMEDIATE` transaction.
///
/// # Examples
///
/// ```
/// use export_core::audit::{AuditLog, AuditQuery, SqliteAuditLog};
/// use export_core::db::SqliteDatabase;
/// use export_core::job::{JobStore, NewJob, Owner, SqliteJobStore};
/// use export_core::request::{ExportRequest, Format};
///
/// let db = SqliteDatabase::open_in_memory()?;
/// let jobs = SqliteJobStore::new(db.clone());
/// let audit = SqliteAuditLog::new(db);
/// jobs.create(NewJob::new(Owner::user("u-1"), ExportRequest::new("trip", Format::Csv)))?;
/// assert!(audit.list(&AuditQuery::default())?.is_empty());
/// # Ok::<(), export_core::ExportError>(())
/// ```
#[derive(Clone)]
pub struct SqliteDatabase {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Mutex<Connection>,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for SqliteDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteDatabase")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteDatabase {
    /// Opens (creating if needed) the SQLite file at `path`, in WAL mode with a busy timeout of
    /// [`DEFAULT_BUSY_TIMEOUT`], `synchronous = NORMAL` and `secure_delete`, and applies every
    /// pending migration (jobs, schedules and platforms, audit).
    ///
    /// # Errors
    ///
    /// [`ExportError::Store`] when the file cannot be opened or migrated (for example a database
    /// migrated by a newer export-core).
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::db::SqliteDatabase;
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = SqliteDatabase::open(dir.path().join("exports.db"))?;
    /// assert_eq!(db.path(), Some(dir.path().join("exports.db").as_path()));
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteDatabase> {
        let path = path.as_ref();
        Self::init(connect(Some(path), true)?, Some(path.to_path_buf()))
    }

    /// Opens the SQLite file at `path`, which must exist: for commands that only read, so that a
    /// mistyped path is an error rather than a new empty database. Pending migrations are applied
    /// as by [`SqliteDatabase::open`].
    ///
    /// # Errors
    ///
    /// [`ExportError::NotFound`] with kind `database` naming `path` when there is no file there
    /// (nothing is created); otherwise as [`SqliteDatabase::open`].
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::db::SqliteDatabase;
    /// let dir = tempfile::tempdir().unwrap();
    /// let err = SqliteDatabase::open_existing(dir.path().join("typo.db")).unwrap_err();
    /// assert_eq!(err.code(), "NOT_FOUND");
    /// ```
    pub fn open_existing(path: impl AsRef<Path>) -> Result<SqliteDatabase> {
        let path = path.as_ref();
        Self::init(connect(Some(path), false)?, Some(path.to_path_buf()))
    }

    /// A private in-memory database, migrated, gone when the last clone (and every store built
    /// from it) is dropped.
    ///
    /// # Errors
    ///
    /// [`ExportError::Store`] when SQLite cannot create it.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::db::SqliteDatabase;
    /// let db = SqliteDatabase::open_in_memory()?;
    /// assert_eq!(db.path(), None);
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn open_in_memory() -> Result<SqliteDatabase> {
        Self::init(connect(None, true)?, None)
    }

    fn init(mut conn: Connection, path: Option<PathBuf>) -> Result<SqliteDatabase> {
        migrate(&mut conn)?;
        Ok(SqliteDatabase {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                path,
            }),
        })
    }

    /// The file of this database; `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// The connection, for one operation of a store.
    ///
    /// A poisoned lock (a thread panicked while holding it) is taken over: every change runs in a
    /// transaction, which SQLite rolled back when the panicking thread's guard dropped it.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        self.inner.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Applies the pending migrations of every component in one `BEGIN IMMEDIATE` transaction, so
/// processes opening the same file at once apply them exactly once.
fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(store_error)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             component  TEXT    NOT NULL,
             version    INTEGER NOT NULL,
             name       TEXT    NOT NULL,
             applied_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
             PRIMARY KEY (component, version)
         )",
    )
    .map_err(store_error)?;
    migrate::apply_pending(BACKEND, migrate::SQLITE, &SqliteApplier(&tx))?;
    tx.commit().map_err(store_error)
}

struct SqliteApplier<'a>(&'a rusqlite::Transaction<'a>);

impl migrate::Applier for SqliteApplier<'_> {
    fn current_version(&self, component: &str) -> Result<i64> {
        self.0
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = ?1",
                [component],
                |row| row.get(0),
            )
            .map_err(store_error)
    }

    fn apply(&self, component: &str, m: &migrate::Migration) -> Result<()> {
        self.0.execute_batch(m.sql).map_err(store_error)?;
        self.0
            .execute(
                "INSERT INTO schema_migrations (component, version, name) VALUES (?1, ?2, ?3)",
                rusqlite::params![component, m.version, m.name],
            )
            .map_err(store_error)?;
        Ok(())
    }
}

/// Copies the write-ahead log into the database file and truncates it, so that old versions
/// of changed pages (kept in the log) are gone; with `secure_delete` (set when the database is
/// opened) the space they freed in the file is zeroed.
///
/// # Errors
///
/// [`ExportError::Store`] when another connection's read kept the checkpoint from finishing
/// within the busy timeout.
pub(crate) fn checkpoint(conn: &Connection) -> Result<()> {
    let (busy, _log, _done): (i64, i64, i64) = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .map_err(store_error)?;
    if busy != 0 {
        return Err(ExportError::store(
            BACKEND,
            "another connection is reading: the write-ahead log could not be checkpointed (old \
             row versions stay in it); run again",
        ));
    }
    Ok(())
}

/// Opens the SQLite file at `path` (a private in-memory database for `None`) the way every
/// export-core SQLite store wants it: a busy timeout of [`DEFAULT_BUSY_TIMEOUT`], and for files
/// the WAL journal (readers never block the writer) with `synchronous = NORMAL`. Without
/// `create`, a missing file is [`ExportError::NotFound`] (nothing is created).
fn connect(path: Option<&Path>, create: bool) -> Result<Connection> {
    let conn = match path {
        Some(path) => {
            if !create
                && let Err(e) = std::fs::metadata(path)
                && e.kind() == std::io::ErrorKind::NotFound
            {
                return Err(ExportError::NotFound {
                    kind: "database",
                    id: path.display().to_string(),
                });
            }
            let mut flags = OpenFlags::default();
            if !create {
                // Also when the file vanished since the check above.
                flags.remove(OpenFlags::SQLITE_OPEN_CREATE);
            }
            Connection::open_with_flags(path, flags).map_err(|e| {
                ExportError::store_with_source(
                    BACKEND,
                    format!("cannot open {}: {e}", path.display()),
                    e,
                )
            })?
        }
        None => Connection::open_in_memory().map_err(store_error)?,
    };
    conn.busy_timeout(DEFAULT_BUSY_TIMEOUT)
        .map_err(store_error)?;
    // Deleted and overwritten content is zeroed, not left in free space: an anonymised job
    // or a pseudonymised audit event must not survive in the file's unused bytes.
    conn.execute_batch("PRAGMA secure_delete = ON")
        .map_err(store_error)?;
    if path.is_some() {
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(store_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(ExportError::store(
                BACKEND,
                format!("cannot switch the journal to WAL (got `{mode}`)"),
            ));
        }
        // In WAL mode NORMAL is durable against application crashes; a power loss may
        // lose the last transactions but never corrupts the file.
        conn.execute_batch("PRAGMA synchronous = NORMAL")
            .map_err(store_error)?;
    }
    Ok(conn)
}
