//! [`SqliteAuditLog`]: audit events in a SQLite file, possibly the job store's.

use std::path::Path;
use std::sync::MutexGuard;

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, TransactionBehavior};
use uuid::Uuid;

use super::{AuditEvent, AuditLog, AuditQuery, Pseudonymiser, parse_stored};
use crate::db::error::{sqlite as store_error, sqlite_insert};
use crate::db::{SqliteDatabase, checkpoint};
use crate::error::{ExportError, Result};

const BACKEND: &str = "sqlite";

/// An [`AuditLog`] in a SQLite database (table `audit_events`, migrated under component
/// `audit` of the shared `schema_migrations` table), so it can live in the job store's file.
///
/// # Examples
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use export_core::audit::{AuditAction, AuditEvent, AuditLog, AuditQuery, SqliteAuditLog};
/// let dir = tempfile::tempdir().unwrap();
/// let log = SqliteAuditLog::open(dir.path().join("jobs.db"))?;
/// let at = Utc.with_ymd_and_hms(2026, 11, 3, 8, 0, 0).unwrap();
/// let event = AuditEvent::new(AuditAction::Create, "u-1", None, at);
/// log.record(&event)?;
/// assert_eq!(log.list(&AuditQuery::default())?, vec![event]);
/// # Ok::<(), export_core::ExportError>(())
/// ```
#[derive(Debug)]
pub struct SqliteAuditLog {
    db: SqliteDatabase,
}

impl SqliteAuditLog {
    /// The audit log of `db`, beside its jobs and schedules (migrated when `db` was opened).
    pub fn new(db: SqliteDatabase) -> SqliteAuditLog {
        SqliteAuditLog { db }
    }

    /// The database this log works on.
    pub fn database(&self) -> &SqliteDatabase {
        &self.db
    }

    /// Opens (creating if needed) the log in the SQLite file at `path`, as the job store opens
    /// it (WAL mode, busy timeout, `secure_delete`), and applies pending migrations.
    ///
    /// # Errors
    ///
    /// [`ExportError::Store`] when the file cannot be opened or migrated.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteAuditLog> {
        SqliteDatabase::open(path).map(SqliteAuditLog::new)
    }

    /// Opens the log in the SQLite file at `path`, which must exist (see
    /// [`SqliteJobStore::open_existing`](crate::job::SqliteJobStore::open_existing)).
    ///
    /// # Errors
    ///
    /// [`ExportError::NotFound`] with kind `database` naming `path` when there is no file
    /// there (nothing is created); otherwise as [`SqliteAuditLog::open`].
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::audit::SqliteAuditLog;
    /// let dir = tempfile::tempdir().unwrap();
    /// let err = SqliteAuditLog::open_existing(dir.path().join("typo.db")).unwrap_err();
    /// assert_eq!(err.code(), "NOT_FOUND");
    /// ```
    pub fn open_existing(path: impl AsRef<Path>) -> Result<SqliteAuditLog> {
        SqliteDatabase::open_existing(path).map(SqliteAuditLog::new)
    }

    /// A log in a private in-memory database.
    ///
    /// # Errors
    ///
    /// [`ExportError::Store`] when SQLite cannot create it.
    pub fn open_in_memory() -> Result<SqliteAuditLog> {
        SqliteDatabase::open_in_memory().map(SqliteAuditLog::new)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.db.lock()
    }
}

const COLUMNS: &str = "id, at_micros, actor_user_id, actor_organisation_id, action, job_id, \
                       format, schema_name, audience, filters, row_count, risk, detail";

impl AuditLog for SqliteAuditLog {
    fn record(&self, e: &AuditEvent) -> Result<()> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&format!(
                "INSERT INTO audit_events ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
            ))
            .map_err(store_error)?;
        let row_count = e.row_count.map(|r| i64::try_from(r).unwrap_or(i64::MAX));
        let inserted = stmt.execute(rusqlite::params![
            e.id.to_string(),
            e.at.timestamp_micros(),
            e.actor_user_id,
            e.actor_organisation_id,
            e.action.as_str(),
            e.job_id.map(|id| id.to_string()),
            e.format.map(|f| f.as_str()),
            e.schema,
            e.audience.map(|a| a.as_str()),
            e.filters.to_string(),
            row_count,
            e.risk.as_str(),
            e.detail,
        ]);
        match inserted {
            Ok(_) => Ok(()),
            Err(err) => Err(sqlite_insert(err, "audit event", &e.id.to_string())),
        }
    }

    fn list(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        query.check()?;
        let mut sql = format!("SELECT {COLUMNS} FROM audit_events WHERE 1 = 1");
        let mut params: Vec<Value> = Vec::new();
        if let Some(job) = query.job_id {
            params.push(Value::Text(job.to_string()));
            sql.push_str(&format!(" AND job_id = ?{}", params.len()));
        }
        if let Some(actor) = &query.actor {
            params.push(Value::Text(actor.clone()));
            sql.push_str(&format!(" AND actor_user_id = ?{}", params.len()));
        }
        if let Some(since) = query.since {
            params.push(Value::Integer(since.timestamp_micros()));
            sql.push_str(&format!(" AND at_micros >= ?{}", params.len()));
        }
        params.push(Value::Integer(i64::from(query.limit)));
        sql.push_str(&format!(" ORDER BY at_micros, seq LIMIT ?{}", params.len()));
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&sql).map_err(store_error)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params), |row| {
                Ok(RawRow {
                    id: row.get(0)?,
                    at_micros: row.get(1)?,
                    actor_user_id: row.get(2)?,
                    actor_organisation_id: row.get(3)?,
                    action: row.get(4)?,
                    job_id: row.get(5)?,
                    format: row.get(6)?,
                    schema: row.get(7)?,
                    audience: row.get(8)?,
                    filters: row.get(9)?,
                    row_count: row.get(10)?,
                    risk: row.get(11)?,
                    detail: row.get(12)?,
                })
            })
            .map_err(store_error)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row.map_err(store_error)?.decode()?);
        }
        Ok(out)
    }

    fn pseudonymise_jobs(&self, jobs: &[Uuid], pseudonymiser: &Pseudonymiser) -> Result<u64> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(store_error)?;
        let mut changed = 0;
        {
            let mut select = tx
                .prepare_cached(
                    "SELECT id, actor_user_id, actor_organisation_id FROM audit_events \
                     WHERE job_id = ?1",
                )
                .map_err(store_error)?;
            let mut update = tx
                .prepare_cached(
                    "UPDATE audit_events SET actor_user_id = ?2, actor_organisation_id = ?3 \
                     WHERE id = ?1",
                )
                .map_err(store_error)?;
            for job in jobs {
                let rows: Vec<(String, String, Option<String>)> = select
                    .query_map([job.to_string()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .map_err(store_error)?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(store_error)?;
                for (id, user, organisation) in rows {
                    if let Some((user, organisation)) =
                        pseudonymiser.actor(&user, organisation.as_deref())
                    {
                        update
                            .execute(rusqlite::params![id, user, organisation])
                            .map_err(store_error)?;
                        changed += 1;
                    }
                }
            }
        }
        tx.commit().map_err(store_error)?;
        Ok(changed)
    }

    fn delete_before(&self, before: DateTime<Utc>) -> Result<u64> {
        let conn = self.lock();
        let deleted = conn
            .execute(
                "DELETE FROM audit_events WHERE at_micros < ?1",
                [before.timestamp_micros()],
            )
            .map_err(store_error)?;
        Ok(deleted as u64)
    }

    fn scrub(&self) -> Result<()> {
        checkpoint(&self.lock())
    }
}

struct RawRow {
    id: String,
    at_micros: i64,
    actor_user_id: String,
    actor_organisation_id: Option<String>,
    action: String,
    job_id: Option<String>,
    format: Option<String>,
    schema: Option<String>,
    audience: Option<String>,
    filters: String,
    row_count: Option<i64>,
    risk: String,
    detail: Option<String>,
}

impl RawRow {
    fn decode(self) -> Result<AuditEvent> {
        let id = &self.id;
        let at = DateTime::<Utc>::from_timestamp_micros(self.at_micros).ok_or_else(|| {
            ExportError::store(
                BACKEND,
                format!("audit event `{id}` has an out-of-range instant"),
            )
        })?;
        Ok(AuditEvent {
            id: parse_stored::<Uuid>(BACKEND, id, "id", id)?,
            at,
            actor_user_id: self.actor_user_id,
            actor_organisation_id: self.actor_organisation_id,
            action: parse_stored(BACKEND, id, "action", &self.action)?,
            job_id: self
                .job_id
                .as_deref()
                .map(|j| parse_stored(BACKEND, id, "job_id", j))
                .transpose()?,
            format: self
                .format
                .as_deref()
                .map(|f| parse_stored(BACKEND, id, "format", f))
                .transpose()?,
            schema: self.schema,
            audience: self
                .audience
                .as_deref()
                .map(|a| parse_stored(BACKEND, id, "audience", a))
                .transpose()?,
            filters: serde_json::from_str(&self.filters).map_err(|e| {
                ExportError::store(
                    BACKEND,
                    format!("audit event `{id}` has unreadable filters: {e}"),
                )
            })?,
            row_count: self.row_count.map(|r| u64::try_from(r).unwrap_or(0)),
            risk: parse_stored(BACKEND, id, "risk", &self.risk)?,
            detail: self.detail,
        })
    }
}
