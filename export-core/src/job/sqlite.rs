//! [`SqliteJobStore`]: the embedded default, one SQLite file (bundled SQLite, no server).

use std::path::Path;
use std::sync::MutexGuard;

use chrono::{DateTime, Duration, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior};
use uuid::Uuid;

use super::row::RawJob;
use super::store::{HeartbeatAck, JobStore, ListQuery, Page};
use super::{ExportJob, JobError, JobResult, NewJob, Owner, Progress, ops};
use crate::db::error::sqlite as store_error;
use crate::db::{SqliteDatabase, checkpoint};
use crate::error::{ExportError, Result};

const BACKEND: &str = "sqlite";

const COLUMNS: &str = "seq, id, owner_user_id, owner_organisation_id, request, status, \
    rows_done, rows_expected, created_at, started_at, heartbeat_at, finished_at, expires_at, \
    not_before, attempts, max_attempts, retention_seconds, lease_worker_id, lease_until, \
    cancel_requested, result_storage_key, result_size_bytes, result_rows, result_sha256, \
    result_file_name, result_content_type, error_kind, error_message, schedule_id";

/// A [`JobStore`] in a SQLite file.
///
/// The store works on a [`SqliteDatabase`]: its one connection, behind a mutex, shared with the
/// other stores built from the same handle. Migrations are applied when the database is opened.
///
/// # Examples
///
/// ```
/// use chrono::{Duration, Utc};
/// use export_core::job::{JobStatus, JobStore, NewJob, Owner, SqliteJobStore};
/// use export_core::request::{ExportRequest, Format};
///
/// let store = SqliteJobStore::open_in_memory()?;
/// let job = store.create(NewJob::new(Owner::user("u-1"), ExportRequest::new("trip", Format::Csv)))?;
/// let claimed = store.claim("w-1", Duration::seconds(30), Utc::now())?.expect("one job");
/// assert_eq!(claimed.id, job.id);
/// assert_eq!(store.get(job.id)?.status, JobStatus::Running);
/// # Ok::<(), export_core::ExportError>(())
/// ```
///
/// The file is opened in WAL mode with a busy timeout, so several processes (and several stores
/// in one process) can share it: every change runs in a `BEGIN IMMEDIATE` transaction, which
/// takes SQLite's write lock before reading, so a claim reads and updates its job atomically and
/// no two claimers get the same job.
#[derive(Debug)]
pub struct SqliteJobStore {
    db: SqliteDatabase,
}

fn corrupt(id: &str, what: impl std::fmt::Display) -> ExportError {
    ExportError::store(BACKEND, format!("job `{id}` has an unreadable row: {what}"))
}

fn not_found(id: Uuid) -> ExportError {
    ExportError::NotFound {
        kind: "job",
        id: id.to_string(),
    }
}

impl SqliteJobStore {
    /// The job store of `db` (migrated when `db` was opened).
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::db::SqliteDatabase;
    /// use export_core::job::{JobStore, SqliteJobStore};
    /// let jobs = SqliteJobStore::new(SqliteDatabase::open_in_memory()?);
    /// assert_eq!(jobs.backend(), "sqlite");
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn new(db: SqliteDatabase) -> SqliteJobStore {
        SqliteJobStore { db }
    }

    /// The database this store works on.
    pub fn database(&self) -> &SqliteDatabase {
        &self.db
    }

    /// Opens (creating if needed) the store in the SQLite file at `path`, in WAL mode with a busy
    /// timeout of [`DEFAULT_BUSY_TIMEOUT`](crate::db::DEFAULT_BUSY_TIMEOUT), and applies pending migrations.
    ///
    /// # Errors
    ///
    /// [`ExportError::Store`] when the file cannot be opened or migrated (for example a database
    /// migrated by a newer export-core).
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::job::{JobStore, NewJob, Owner, SqliteJobStore};
    /// use export_core::request::{ExportRequest, Format};
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("jobs.db");
    /// let id = {
    ///     let store = SqliteJobStore::open(&path)?;
    ///     store.create(NewJob::new(Owner::user("u-1"), ExportRequest::new("trip", Format::Csv)))?.id
    /// };
    /// let reopened = SqliteJobStore::open(&path)?;
    /// assert_eq!(reopened.get(id)?.owner.user_id, "u-1");
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteJobStore> {
        SqliteDatabase::open(path).map(SqliteJobStore::new)
    }

    /// Opens the store in the SQLite file at `path`, which must exist: for commands that only
    /// read, so that a mistyped path is an error rather than a new empty database. Pending
    /// migrations are applied as by [`SqliteJobStore::open`].
    ///
    /// # Errors
    ///
    /// [`ExportError::NotFound`] with kind `database` naming `path` when there is no file
    /// there (nothing is created); otherwise as [`SqliteJobStore::open`].
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::job::SqliteJobStore;
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("typo.db");
    /// let err = SqliteJobStore::open_existing(&path).unwrap_err();
    /// assert_eq!(err.code(), "NOT_FOUND");
    /// assert!(!path.exists());
    /// SqliteJobStore::open(&path)?;
    /// assert!(SqliteJobStore::open_existing(&path).is_ok());
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn open_existing(path: impl AsRef<Path>) -> Result<SqliteJobStore> {
        SqliteDatabase::open_existing(path).map(SqliteJobStore::new)
    }

    /// A store in a private in-memory database (gone when the store is dropped).
    ///
    /// # Errors
    ///
    /// [`ExportError::Store`] when SQLite cannot create it.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::job::{JobStore, SqliteJobStore};
    /// let store = SqliteJobStore::open_in_memory()?;
    /// assert_eq!(store.backend(), "sqlite");
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn open_in_memory() -> Result<SqliteJobStore> {
        SqliteDatabase::open_in_memory().map(SqliteJobStore::new)
    }

    /// The file of this store; `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.db.path()
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>> {
        Ok(self.db.lock())
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction, committed when `f` succeeds.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(store_error)?;
        let out = f(&tx)?;
        tx.commit().map_err(store_error)?;
        Ok(out)
    }

    /// Loads job `id`, applies `f` and saves it, in one write transaction.
    fn update<T>(
        &self,
        id: Uuid,
        f: impl FnOnce(&mut ExportJob) -> Result<T>,
    ) -> Result<(T, ExportJob)> {
        self.write(|tx| {
            let mut job = select_one(tx, id)?.ok_or_else(|| not_found(id))?;
            let out = f(&mut job)?;
            save(tx, &job)?;
            Ok((out, job))
        })
    }
}

fn select_one(conn: &Connection, id: Uuid) -> Result<Option<ExportJob>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM export_jobs WHERE id = ?1"),
        [id.to_string()],
        read_row,
    )
    .optional()
    .map_err(store_error)?
    .transpose()
    .map(|found| found.map(|(_, job)| job))
}

fn select_many(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<(i64, ExportJob)>> {
    let mut stmt = conn.prepare_cached(sql).map_err(store_error)?;
    let rows = stmt.query_map(params, read_row).map_err(store_error)?;
    let mut jobs = Vec::new();
    for row in rows {
        jobs.push(row.map_err(store_error)??);
    }
    Ok(jobs)
}

/// Microseconds since the epoch, the stored form of an instant.
fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// Reads a row selected with [`COLUMNS`]: driver errors outside, decoding errors inside.
fn read_row(row: &Row<'_>) -> rusqlite::Result<Result<(i64, ExportJob)>> {
    let id: String = row.get("id")?;
    let instant = |name: &str| -> rusqlite::Result<Result<Option<DateTime<Utc>>>> {
        let micros: Option<i64> = row.get(name)?;
        Ok(micros
            .map(|m| {
                DateTime::from_timestamp_micros(m)
                    .ok_or_else(|| corrupt(&id, format!("{name} {m} is out of range")))
            })
            .transpose())
    };
    let unsigned = |name: &str| -> rusqlite::Result<Result<Option<u64>>> {
        let v: Option<i64> = row.get(name)?;
        Ok(
            v.map(|v| u64::try_from(v).map_err(|_| corrupt(&id, format!("{name} is {v}"))))
                .transpose(),
        )
    };

    let seq: i64 = row.get("seq")?;
    let owner_user_id: String = row.get("owner_user_id")?;
    let owner_organisation_id: Option<String> = row.get("owner_organisation_id")?;
    let request: String = row.get("request")?;
    let status: String = row.get("status")?;
    let rows_done = unsigned("rows_done")?;
    let rows_expected = unsigned("rows_expected")?;
    let created_at = instant("created_at")?;
    let started_at = instant("started_at")?;
    let heartbeat_at = instant("heartbeat_at")?;
    let finished_at = instant("finished_at")?;
    let expires_at = instant("expires_at")?;
    let not_before = instant("not_before")?;
    let attempts: i64 = row.get("attempts")?;
    let max_attempts: i64 = row.get("max_attempts")?;
    let retention_seconds: Option<i64> = row.get("retention_seconds")?;
    let lease_worker_id: Option<String> = row.get("lease_worker_id")?;
    let lease_until = instant("lease_until")?;
    let cancel_requested: bool = row.get("cancel_requested")?;
    let storage_key: Option<String> = row.get("result_storage_key")?;
    let size_bytes = unsigned("result_size_bytes")?;
    let result_rows = unsigned("result_rows")?;
    let sha256: Option<String> = row.get("result_sha256")?;
    let file_name: Option<String> = row.get("result_file_name")?;
    let content_type: Option<String> = row.get("result_content_type")?;
    let error_kind: Option<String> = row.get("error_kind")?;
    let error_message: Option<String> = row.get("error_message")?;
    let schedule_id: Option<String> = row.get("schedule_id")?;

    let decode = || -> Result<(i64, ExportJob)> {
        let job = RawJob {
            id: &id,
            owner: Owner {
                user_id: owner_user_id,
                organisation_id: owner_organisation_id,
            },
            request: &request,
            status: &status,
            rows_done: rows_done?.unwrap_or(0),
            rows_expected: rows_expected?,
            created_at: created_at?,
            started_at: started_at?,
            heartbeat_at: heartbeat_at?,
            finished_at: finished_at?,
            expires_at: expires_at?,
            not_before: not_before?,
            attempts,
            max_attempts,
            retention_seconds,
            lease: (lease_worker_id, lease_until?),
            cancel_requested,
            result: (
                storage_key,
                size_bytes?,
                result_rows?,
                sha256,
                file_name,
                content_type,
            ),
            error: (error_kind, error_message),
            schedule_id,
        }
        .decode(BACKEND)?;
        Ok((seq, job))
    };
    Ok(decode())
}

fn int(v: u64, field: &str) -> Result<Value> {
    i64::try_from(v)
        .map(Value::Integer)
        .map_err(|_| ExportError::request(field, format!("{v} is too large to store")))
}

fn opt_int(v: Option<u64>, field: &str) -> Result<Value> {
    v.map_or(Ok(Value::Null), |v| int(v, field))
}

fn opt_text(v: Option<&str>) -> Value {
    v.map_or(Value::Null, |s| Value::Text(s.to_string()))
}

fn opt_ts(v: Option<DateTime<Utc>>) -> Value {
    v.map_or(Value::Null, |t| Value::Integer(ts(t)))
}

/// Every stored column of `job` (but `seq`), `id` first.
fn fields(job: &ExportJob) -> Result<Vec<(&'static str, Value)>> {
    let request = serde_json::to_string(&job.request).map_err(|e| {
        ExportError::store(
            BACKEND,
            format!("cannot encode the request of job `{}`: {e}", job.id),
        )
    })?;
    let result = job.result.as_ref();
    let error = job.error.as_ref();
    Ok(vec![
        ("id", Value::Text(job.id.to_string())),
        ("owner_user_id", Value::Text(job.owner.user_id.clone())),
        (
            "owner_organisation_id",
            opt_text(job.owner.organisation_id.as_deref()),
        ),
        ("request", Value::Text(request)),
        ("status", Value::Text(job.status.as_str().into())),
        (
            "rows_done",
            int(job.progress.rows_done, "progress.rows_done")?,
        ),
        (
            "rows_expected",
            opt_int(job.progress.rows_expected, "progress.rows_expected")?,
        ),
        ("created_at", Value::Integer(ts(job.created_at))),
        ("started_at", opt_ts(job.started_at)),
        ("heartbeat_at", opt_ts(job.heartbeat_at)),
        ("finished_at", opt_ts(job.finished_at)),
        ("expires_at", opt_ts(job.expires_at)),
        ("not_before", opt_ts(job.not_before)),
        ("attempts", Value::Integer(job.attempts.into())),
        ("max_attempts", Value::Integer(job.max_attempts.into())),
        (
            "retention_seconds",
            job.retention
                .map_or(Value::Null, |d| Value::Integer(d.num_seconds())),
        ),
        (
            "lease_worker_id",
            opt_text(job.lease.as_ref().map(|l| l.worker_id.as_str())),
        ),
        ("lease_until", opt_ts(job.lease.as_ref().map(|l| l.until))),
        (
            "cancel_requested",
            Value::Integer(job.cancel_requested.into()),
        ),
        (
            "result_storage_key",
            opt_text(result.map(|r| r.storage_key.as_str())),
        ),
        (
            "result_size_bytes",
            opt_int(result.map(|r| r.size_bytes), "result.size_bytes")?,
        ),
        (
            "result_rows",
            opt_int(result.map(|r| r.rows), "result.rows")?,
        ),
        ("result_sha256", opt_text(result.map(|r| r.sha256.as_str()))),
        (
            "result_file_name",
            opt_text(result.map(|r| r.file_name.as_str())),
        ),
        (
            "result_content_type",
            opt_text(result.map(|r| r.content_type.as_str())),
        ),
        ("error_kind", opt_text(error.map(|e| e.kind.as_str()))),
        ("error_message", opt_text(error.map(|e| e.message.as_str()))),
        ("schedule_id", opt_text(job.schedule_id.as_deref())),
    ])
}

fn insert(conn: &Connection, job: &ExportJob) -> Result<()> {
    let fields = fields(job)?;
    let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
    let marks: Vec<String> = (1..=fields.len()).map(|i| format!("?{i}")).collect();
    let sql = format!(
        "INSERT INTO export_jobs ({}) VALUES ({})",
        names.join(", "),
        marks.join(", ")
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(store_error)?;
    match stmt.execute(rusqlite::params_from_iter(
        fields.into_iter().map(|(_, v)| v),
    )) {
        Ok(_) => Ok(()),
        Err(e) => Err(crate::db::error::sqlite_insert(
            e,
            "job",
            &job.id.to_string(),
        )),
    }
}

/// Writes every column of `job` back to its row.
fn save(conn: &Connection, job: &ExportJob) -> Result<()> {
    let fields = fields(job)?;
    let sets: Vec<String> = fields
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, (name, _))| format!("{name} = ?{}", i + 1))
        .collect();
    let sql = format!("UPDATE export_jobs SET {} WHERE id = ?1", sets.join(", "));
    let mut stmt = conn.prepare_cached(&sql).map_err(store_error)?;
    let changed = stmt
        .execute(rusqlite::params_from_iter(
            fields.into_iter().map(|(_, v)| v),
        ))
        .map_err(store_error)?;
    if changed == 1 {
        Ok(())
    } else {
        Err(not_found(job.id))
    }
}

impl JobStore for SqliteJobStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn create(&self, new: NewJob) -> Result<ExportJob> {
        let job = ops::new_job(new)?;
        let conn = self.lock()?;
        insert(&conn, &job)?;
        Ok(job)
    }

    fn get(&self, id: Uuid) -> Result<ExportJob> {
        let conn = self.lock()?;
        select_one(&conn, id)?.ok_or_else(|| not_found(id))
    }

    fn list(&self, owner: &Owner, query: &ListQuery) -> Result<Page> {
        ops::check_owner(&owner.user_id)?;
        ops::check_query(query)?;
        let after = query
            .cursor
            .as_deref()
            .map(ops::decode_cursor)
            .transpose()?;
        // `IS` compares NULL organisations as equal; the owner index still narrows by user.
        let mut sql = format!(
            "SELECT {COLUMNS} FROM export_jobs WHERE owner_user_id = ?1 AND owner_organisation_id IS ?2"
        );
        let mut params = vec![
            Value::Text(owner.user_id.clone()),
            opt_text(owner.organisation_id.as_deref()),
        ];
        if let Some(status) = query.status {
            params.push(Value::Text(status.as_str().into()));
            sql.push_str(&format!(" AND status = ?{}", params.len()));
        }
        if let Some((micros, seq)) = after {
            params.push(Value::Integer(micros));
            params.push(Value::Integer(seq));
            sql.push_str(&format!(
                " AND (created_at, seq) < (?{}, ?{})",
                params.len() - 1,
                params.len()
            ));
        }
        params.push(Value::Integer(i64::from(query.limit) + 1));
        sql.push_str(&format!(
            " ORDER BY created_at DESC, seq DESC LIMIT ?{}",
            params.len()
        ));
        let conn = self.lock()?;
        let rows = select_many(&conn, &sql, rusqlite::params_from_iter(params))?;
        Ok(ops::page(rows, query.limit))
    }

    fn claim(
        &self,
        worker_id: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<ExportJob>> {
        ops::check_claim(worker_id, lease)?;
        let sql = format!(
            "SELECT {COLUMNS} FROM export_jobs \
             WHERE status = 'pending' AND (not_before IS NULL OR not_before <= ?1) \
             ORDER BY created_at, seq LIMIT 1"
        );
        self.write(|tx| {
            let Some((_, mut job)) = select_many(tx, &sql, [ts(now)])?.pop() else {
                return Ok(None);
            };
            ops::claim(&mut job, worker_id, lease, now)?;
            save(tx, &job)?;
            Ok(Some(job))
        })
    }

    fn claim_job(
        &self,
        id: Uuid,
        worker_id: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<ExportJob>> {
        ops::check_claim(worker_id, lease)?;
        let sql = format!("SELECT {COLUMNS} FROM export_jobs WHERE id = ?1");
        self.write(|tx| {
            let Some((_, mut job)) = select_many(tx, &sql, [id.to_string()])?.pop() else {
                return Err(not_found(id));
            };
            if !ops::is_claimable(&job, now) {
                return Ok(None);
            }
            ops::claim(&mut job, worker_id, lease, now)?;
            save(tx, &job)?;
            Ok(Some(job))
        })
    }

    ops::delegate_updates!();

    fn delete(&self, id: Uuid) -> Result<()> {
        let conn = self.lock()?;
        let deleted = conn
            .execute("DELETE FROM export_jobs WHERE id = ?1", [id.to_string()])
            .map_err(store_error)?;
        if deleted == 0 {
            return Err(not_found(id));
        }
        Ok(())
    }

    fn list_expired(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<ExportJob>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let sql = format!(
            "SELECT {COLUMNS} FROM export_jobs \
             WHERE status IN ('succeeded', 'failed', 'cancelled') AND expires_at <= ?1 \
             ORDER BY expires_at, seq LIMIT ?2"
        );
        let conn = self.lock()?;
        Ok(select_many(&conn, &sql, [ts(now), limit])?
            .into_iter()
            .map(|(_, job)| job)
            .collect())
    }

    fn expire(&self, id: Uuid, now: DateTime<Utc>, anonymise: bool) -> Result<ExportJob> {
        self.update(id, |job| ops::expire(job, now, anonymise))
            .map(|(_, job)| job)
    }

    fn list_unexpiring(&self, cursor: Option<&str>, limit: u32) -> Result<Page> {
        ops::check_limit(limit)?;
        let (micros, seq) = cursor
            .map(ops::decode_cursor)
            .transpose()?
            .unwrap_or((i64::MIN, i64::MIN));
        let sql = format!(
            "SELECT {COLUMNS} FROM export_jobs \
             WHERE status IN ('succeeded', 'failed', 'cancelled') AND expires_at IS NULL \
               AND (created_at, seq) > (?1, ?2) \
             ORDER BY created_at, seq LIMIT ?3"
        );
        let conn = self.lock()?;
        let rows = select_many(&conn, &sql, [micros, seq, i64::from(limit) + 1])?;
        Ok(ops::page(rows, limit))
    }

    fn scrub(&self) -> Result<()> {
        let conn = self.lock()?;
        checkpoint(&conn)
    }

    fn reclaim_expired_leases(&self, now: DateTime<Utc>) -> Result<Vec<Uuid>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM export_jobs \
             WHERE status = 'running' AND (lease_until IS NULL OR lease_until <= ?1) \
             ORDER BY created_at, seq"
        );
        self.write(|tx| {
            let mut reclaimed = Vec::new();
            for (_, mut job) in select_many(tx, &sql, [ts(now)])? {
                ops::reclaim(&mut job, now)?;
                save(tx, &job)?;
                reclaimed.push(job.id);
            }
            Ok(reclaimed)
        })
    }
}
