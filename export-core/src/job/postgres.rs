//! [`PgJobStore`]: jobs in PostgreSQL, for many workers on many hosts (feature `postgres`).

use chrono::{DateTime, Duration, Utc};
use tokio_postgres::Row;
use tokio_postgres::types::{Json, ToSql};
use uuid::Uuid;

use super::row::RawJob;
use super::store::{HeartbeatAck, JobStore, ListQuery, Page};
use super::{ExportJob, JobError, JobResult, NewJob, Owner, Progress, ops};
use crate::db::error::postgres as store_error;
use crate::db::{PgClient, PgDatabase, PgOptions, PgTransaction};
use crate::error::{ExportError, Result};

const BACKEND: &str = "postgres";

const COLUMNS: &str = "seq, id, owner_user_id, owner_organisation_id, request::text AS request, \
    status, rows_done, rows_expected, created_at, started_at, heartbeat_at, finished_at, \
    expires_at, not_before, attempts, max_attempts, retention_seconds, lease_worker_id, \
    lease_until, cancel_requested, result_storage_key, result_size_bytes, result_rows, \
    result_sha256, result_file_name, result_content_type, error_kind, error_message, schedule_id";

fn not_found(id: Uuid) -> ExportError {
    ExportError::NotFound {
        kind: "job",
        id: id.to_string(),
    }
}

/// A [`JobStore`] in PostgreSQL.
///
/// # Examples
///
/// ```no_run
/// use chrono::{Duration, Utc};
/// use export_core::job::{JobStore, NewJob, Owner, PgJobStore};
/// use export_core::request::{ExportRequest, Format};
///
/// let store = PgJobStore::connect("postgres://exports@127.0.0.1:5432/exports")?;
/// store.create(NewJob::new(Owner::user("u-1"), ExportRequest::new("trip", Format::Csv)))?;
/// let job = store.claim("host-a/1", Duration::seconds(30), Utc::now())?;
/// assert!(job.is_some());
/// # Ok::<(), export_core::ExportError>(())
/// ```
///
/// Claims use `UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING ...`:
/// concurrent claimers skip each other's rows instead of waiting, and each job goes to exactly
/// one of them. Other changes lock their row (`SELECT ... FOR UPDATE`), apply the shared rules
/// and write it back in one transaction.
///
/// # Connections
///
/// The store works on a [`PgDatabase`]: one pool (shared with the schedule store and the audit
/// log built from the same handle), driven by an [`IoRuntime`](crate::runtime::IoRuntime). Its
/// calls wait through [`IoRuntime::block_on`](crate::runtime::IoRuntime::block_on), so they may be
/// made from a plain thread or from inside a tokio runtime; async hosts should still move them
/// to a blocking thread ([`IoRuntime::spawn_blocking`](crate::runtime::IoRuntime::spawn_blocking))
/// rather than hold up their own.
pub struct PgJobStore {
    db: PgDatabase,
}

impl std::fmt::Debug for PgJobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgJobStore")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl PgJobStore {
    /// The job store of `db`, in its pool and schema (migrated when `db` was opened).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use export_core::db::{PgDatabase, PgOptions};
    /// use export_core::job::PgJobStore;
    /// use export_core::runtime::IoRuntime;
    /// let db = PgDatabase::connect("postgres://exports@127.0.0.1/exports", PgOptions::default(), &IoRuntime::shared())?;
    /// let jobs = PgJobStore::new(db);
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn new(db: PgDatabase) -> PgJobStore {
        PgJobStore { db }
    }

    /// The database this store works on.
    pub fn database(&self) -> &PgDatabase {
        &self.db
    }

    /// Connects to the database at `url` (`postgres://user:password@host:port/database`, or a
    /// `key=value` connection string) with the default [`PgOptions`] on the shared
    /// [`IoRuntime`](crate::runtime::IoRuntime), and applies pending migrations: a store with a
    /// pool of its own. An engine opens one [`PgDatabase`] and uses [`PgJobStore::new`].
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] on field `url` when it cannot be parsed;
    /// [`ExportError::Store`] when the server cannot be reached or the schema cannot be migrated.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::job::PgJobStore;
    /// let err = PgJobStore::connect("not a url").unwrap_err();
    /// assert_eq!(err.code(), "INVALID_REQUEST");
    /// ```
    pub fn connect(url: &str) -> Result<PgJobStore> {
        PgJobStore::connect_with(url, PgOptions::default())
    }

    /// Connects like [`PgJobStore::connect`] with `options`: the tables go into
    /// `options.schema` (created if missing), and up to `options.pool_size` connections are used.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] on field `url`, `schema` or `pool_size`;
    /// [`ExportError::Store`] as for [`PgJobStore::connect`].
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::job::PgJobStore;
    /// use export_core::db::PgOptions;
    /// let err = PgJobStore::connect_with("postgres://127.0.0.1/db", PgOptions::default().schema("Bad-Name")).unwrap_err();
    /// assert_eq!(err.code(), "INVALID_REQUEST");
    /// ```
    pub fn connect_with(url: &str, options: PgOptions) -> Result<PgJobStore> {
        PgDatabase::connect_shared(url, options).map(PgJobStore::new)
    }

    /// Runs `f` in a transaction, committed when `f` succeeds (rolled back otherwise).
    fn write<T>(&self, f: impl FnOnce(&PgTransaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.db.connection()?;
        let tx = conn.transaction().map_err(store_error)?;
        let out = f(&tx)?;
        tx.commit().map_err(store_error)?;
        Ok(out)
    }

    /// Locks job `id`, applies `f` and saves it, in one transaction.
    fn update<T>(
        &self,
        id: Uuid,
        f: impl FnOnce(&mut ExportJob) -> Result<T>,
    ) -> Result<(T, ExportJob)> {
        self.write(|tx| {
            let row = tx
                .query_opt(
                    &format!("SELECT {COLUMNS} FROM export_jobs WHERE id = $1 FOR UPDATE"),
                    &[&id],
                )
                .map_err(store_error)?
                .ok_or_else(|| not_found(id))?;
            let (_, mut job) = read_row(&row)?;
            let out = f(&mut job)?;
            save(tx, &job)?;
            Ok((out, job))
        })
    }
}

fn read_row(row: &Row) -> Result<(i64, ExportJob)> {
    let e = store_error;
    let unsigned = |name: &str| -> Result<Option<u64>> {
        let v: Option<i64> = row.try_get(name).map_err(e)?;
        v.map(|v| {
            u64::try_from(v)
                .map_err(|_| ExportError::store(BACKEND, format!("column {name} holds {v}")))
        })
        .transpose()
    };
    let id: Uuid = row.try_get("id").map_err(e)?;
    let id = id.to_string();
    let request: String = row.try_get("request").map_err(e)?;
    let status: String = row.try_get("status").map_err(e)?;
    let attempts: i32 = row.try_get("attempts").map_err(e)?;
    let max_attempts: i32 = row.try_get("max_attempts").map_err(e)?;
    let job = RawJob {
        id: &id,
        owner: Owner {
            user_id: row.try_get("owner_user_id").map_err(e)?,
            organisation_id: row.try_get("owner_organisation_id").map_err(e)?,
        },
        request: &request,
        status: &status,
        rows_done: unsigned("rows_done")?.unwrap_or(0),
        rows_expected: unsigned("rows_expected")?,
        created_at: row.try_get("created_at").map_err(e)?,
        started_at: row.try_get("started_at").map_err(e)?,
        heartbeat_at: row.try_get("heartbeat_at").map_err(e)?,
        finished_at: row.try_get("finished_at").map_err(e)?,
        expires_at: row.try_get("expires_at").map_err(e)?,
        not_before: row.try_get("not_before").map_err(e)?,
        attempts: attempts.into(),
        max_attempts: max_attempts.into(),
        retention_seconds: row.try_get("retention_seconds").map_err(e)?,
        lease: (
            row.try_get("lease_worker_id").map_err(e)?,
            row.try_get("lease_until").map_err(e)?,
        ),
        cancel_requested: row.try_get("cancel_requested").map_err(e)?,
        result: (
            row.try_get("result_storage_key").map_err(e)?,
            unsigned("result_size_bytes")?,
            unsigned("result_rows")?,
            row.try_get("result_sha256").map_err(e)?,
            row.try_get("result_file_name").map_err(e)?,
            row.try_get("result_content_type").map_err(e)?,
        ),
        error: (
            row.try_get("error_kind").map_err(e)?,
            row.try_get("error_message").map_err(e)?,
        ),
        schedule_id: row.try_get("schedule_id").map_err(e)?,
    }
    .decode(BACKEND)?;
    let seq: i64 = row.try_get("seq").map_err(e)?;
    Ok((seq, job))
}

fn big(v: u64, field: &str) -> Result<i64> {
    i64::try_from(v).map_err(|_| ExportError::request(field, format!("{v} is too large to store")))
}

fn small(v: u32, field: &str) -> Result<i32> {
    i32::try_from(v).map_err(|_| ExportError::request(field, format!("{v} is too large to store")))
}

type Param = Box<dyn ToSql + Sync>;

/// Every stored column of `job` (but `seq`), `id` first.
fn fields(job: &ExportJob) -> Result<Vec<(&'static str, Param)>> {
    let request = serde_json::to_value(&job.request).map_err(|e| {
        ExportError::store(
            BACKEND,
            format!("cannot encode the request of job `{}`: {e}", job.id),
        )
    })?;
    let result = job.result.as_ref();
    let error = job.error.as_ref();
    let opt_big = |v: Option<u64>, field: &str| v.map(|v| big(v, field)).transpose();
    Ok(vec![
        ("id", Box::new(job.id)),
        ("owner_user_id", Box::new(job.owner.user_id.clone())),
        (
            "owner_organisation_id",
            Box::new(job.owner.organisation_id.clone()),
        ),
        ("request", Box::new(Json(request))),
        ("status", Box::new(job.status.as_str())),
        (
            "rows_done",
            Box::new(big(job.progress.rows_done, "progress.rows_done")?),
        ),
        (
            "rows_expected",
            Box::new(opt_big(
                job.progress.rows_expected,
                "progress.rows_expected",
            )?),
        ),
        ("created_at", Box::new(job.created_at)),
        ("started_at", Box::new(job.started_at)),
        ("heartbeat_at", Box::new(job.heartbeat_at)),
        ("finished_at", Box::new(job.finished_at)),
        ("expires_at", Box::new(job.expires_at)),
        ("not_before", Box::new(job.not_before)),
        ("attempts", Box::new(small(job.attempts, "attempts")?)),
        (
            "max_attempts",
            Box::new(small(job.max_attempts, "max_attempts")?),
        ),
        (
            "retention_seconds",
            Box::new(job.retention.map(|d| d.num_seconds())),
        ),
        (
            "lease_worker_id",
            Box::new(job.lease.as_ref().map(|l| l.worker_id.clone())),
        ),
        ("lease_until", Box::new(job.lease.as_ref().map(|l| l.until))),
        ("cancel_requested", Box::new(job.cancel_requested)),
        (
            "result_storage_key",
            Box::new(result.map(|r| r.storage_key.clone())),
        ),
        (
            "result_size_bytes",
            Box::new(opt_big(result.map(|r| r.size_bytes), "result.size_bytes")?),
        ),
        (
            "result_rows",
            Box::new(opt_big(result.map(|r| r.rows), "result.rows")?),
        ),
        ("result_sha256", Box::new(result.map(|r| r.sha256.clone()))),
        (
            "result_file_name",
            Box::new(result.map(|r| r.file_name.clone())),
        ),
        (
            "result_content_type",
            Box::new(result.map(|r| r.content_type.clone())),
        ),
        ("error_kind", Box::new(error.map(|e| e.kind.clone()))),
        ("error_message", Box::new(error.map(|e| e.message.clone()))),
        ("schedule_id", Box::new(job.schedule_id.clone())),
    ])
}

fn params<'a>(fields: &'a [(&'static str, Param)]) -> Vec<&'a (dyn ToSql + Sync)> {
    fields.iter().map(|(_, v)| v.as_ref()).collect()
}

fn insert(client: &impl PgClient, job: &ExportJob) -> Result<()> {
    let fields = fields(job)?;
    let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
    let marks: Vec<String> = (1..=fields.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO export_jobs ({}) VALUES ({})",
        names.join(", "),
        marks.join(", ")
    );
    match client.execute(&sql, &params(&fields)) {
        Ok(_) => Ok(()),
        Err(e) => Err(crate::db::error::postgres_insert(
            e,
            "job",
            &job.id.to_string(),
        )),
    }
}

/// Writes every column of `job` back to its row.
fn save(client: &impl PgClient, job: &ExportJob) -> Result<()> {
    let fields = fields(job)?;
    let sets: Vec<String> = fields
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, (name, _))| format!("{name} = ${}", i + 1))
        .collect();
    let sql = format!("UPDATE export_jobs SET {} WHERE id = $1", sets.join(", "));
    let changed = client
        .execute(&sql, &params(&fields))
        .map_err(store_error)?;
    if changed == 1 {
        Ok(())
    } else {
        Err(not_found(job.id))
    }
}

fn read_rows(rows: &[Row]) -> Result<Vec<(i64, ExportJob)>> {
    rows.iter().map(read_row).collect()
}

/// What a claim sets (`ops::claim`'s rules), from the parameters `$1` status, `$2` now,
/// `$3` worker and `$4` lease end: shared by `claim` and `claim_job`.
const CLAIM_SET: &str = "status = $1, attempts = attempts + 1, started_at = $2, heartbeat_at = $2, \
     rows_done = 0, rows_expected = NULL, lease_worker_id = $3, lease_until = $4";

impl JobStore for PgJobStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn create(&self, new: NewJob) -> Result<ExportJob> {
        let job = ops::new_job(new)?;
        let conn = self.db.connection()?;
        insert(&conn, &job)?;
        Ok(job)
    }

    fn get(&self, id: Uuid) -> Result<ExportJob> {
        let conn = self.db.connection()?;
        let row = conn
            .query_opt(
                &format!("SELECT {COLUMNS} FROM export_jobs WHERE id = $1"),
                &[&id],
            )
            .map_err(store_error)?
            .ok_or_else(|| not_found(id))?;
        read_row(&row).map(|(_, job)| job)
    }

    fn list(&self, owner: &Owner, query: &ListQuery) -> Result<Page> {
        ops::check_owner(&owner.user_id)?;
        ops::check_query(query)?;
        let after = query
            .cursor
            .as_deref()
            .map(ops::decode_cursor)
            .transpose()?;
        // NULL organisations compare equal; the owner index still narrows by user.
        let mut sql = format!(
            "SELECT {COLUMNS} FROM export_jobs WHERE owner_user_id = $1 \
             AND owner_organisation_id IS NOT DISTINCT FROM $2"
        );
        let mut values: Vec<Param> = vec![
            Box::new(owner.user_id.clone()),
            Box::new(owner.organisation_id.clone()),
        ];
        if let Some(status) = query.status {
            values.push(Box::new(status.as_str()));
            sql.push_str(&format!(" AND status = ${}", values.len()));
        }
        if let Some((micros, seq)) = after {
            let at = DateTime::from_timestamp_micros(micros)
                .ok_or_else(|| ExportError::request("cursor", "is not a cursor of this store"))?;
            values.push(Box::new(at));
            values.push(Box::new(seq));
            sql.push_str(&format!(
                " AND (created_at, seq) < (${}, ${})",
                values.len() - 1,
                values.len()
            ));
        }
        values.push(Box::new(i64::from(query.limit) + 1));
        sql.push_str(&format!(
            " ORDER BY created_at DESC, seq DESC LIMIT ${}",
            values.len()
        ));
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
        let conn = self.db.connection()?;
        let rows = conn.query(&sql, &refs).map_err(store_error)?;
        let rows = read_rows(&rows)?;
        Ok(ops::page(rows, query.limit))
    }

    fn claim(
        &self,
        worker_id: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<ExportJob>> {
        // The rules of `ops::claim`, in one statement: the job is not known before it is locked.
        let fields = ops::claim_fields(Uuid::nil(), worker_id, lease, now)?;
        let sql = format!(
            "UPDATE export_jobs SET {CLAIM_SET} \
             WHERE id = ( \
                 SELECT id FROM export_jobs \
                 WHERE status = 'pending' AND (not_before IS NULL OR not_before <= $2) \
                 ORDER BY created_at, seq \
                 FOR UPDATE SKIP LOCKED LIMIT 1) \
               AND status = 'pending' \
             RETURNING {COLUMNS}"
        );
        let conn = self.db.connection()?;
        let row = conn
            .query_opt(
                &sql,
                &[
                    &fields.status.as_str(),
                    &fields.now,
                    &worker_id,
                    &fields.until,
                ],
            )
            .map_err(store_error)?;
        row.map(|row| read_row(&row).map(|(_, job)| job))
            .transpose()
    }

    fn claim_job(
        &self,
        id: Uuid,
        worker_id: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<ExportJob>> {
        // As `claim`, on one row: the row lock makes two claimers of one job take turns, and the
        // second finds it running.
        let fields = ops::claim_fields(id, worker_id, lease, now)?;
        let sql = format!(
            "UPDATE export_jobs SET {CLAIM_SET} \
             WHERE id = $5 AND status = 'pending' AND (not_before IS NULL OR not_before <= $2) \
             RETURNING {COLUMNS}"
        );
        let conn = self.db.connection()?;
        let row = conn
            .query_opt(
                &sql,
                &[
                    &fields.status.as_str(),
                    &fields.now,
                    &worker_id,
                    &fields.until,
                    &id,
                ],
            )
            .map_err(store_error)?;
        match row {
            Some(row) => read_row(&row).map(|(_, job)| Some(job)),
            None => {
                let exists = conn
                    .query_opt("SELECT 1 FROM export_jobs WHERE id = $1", &[&id])
                    .map_err(store_error)?;
                match exists {
                    Some(_) => Ok(None),
                    None => Err(not_found(id)),
                }
            }
        }
    }

    ops::delegate_updates!();

    fn delete(&self, id: Uuid) -> Result<()> {
        let conn = self.db.connection()?;
        let deleted = conn
            .execute("DELETE FROM export_jobs WHERE id = $1", &[&id])
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
             WHERE status IN ('succeeded', 'failed', 'cancelled') AND expires_at <= $1 \
             ORDER BY expires_at, seq LIMIT $2"
        );
        let now = ops::micros(now);
        let conn = self.db.connection()?;
        let rows = conn.query(&sql, &[&now, &limit]).map_err(store_error)?;
        Ok(read_rows(&rows)?.into_iter().map(|(_, job)| job).collect())
    }

    fn expire(&self, id: Uuid, now: DateTime<Utc>, anonymise: bool) -> Result<ExportJob> {
        self.update(id, |job| ops::expire(job, now, anonymise))
            .map(|(_, job)| job)
    }

    fn list_unexpiring(&self, cursor: Option<&str>, limit: u32) -> Result<Page> {
        ops::check_limit(limit)?;
        let after = cursor.map(ops::decode_cursor).transpose()?;
        let mut sql = format!(
            "SELECT {COLUMNS} FROM export_jobs \
             WHERE status IN ('succeeded', 'failed', 'cancelled') AND expires_at IS NULL"
        );
        let mut values: Vec<Param> = Vec::new();
        if let Some((micros, seq)) = after {
            let at = DateTime::from_timestamp_micros(micros)
                .ok_or_else(|| ExportError::request("cursor", "is not a cursor of this store"))?;
            values.push(Box::new(at));
            values.push(Box::new(seq));
            sql.push_str(" AND (created_at, seq) > ($1, $2)");
        }
        values.push(Box::new(i64::from(limit) + 1));
        sql.push_str(&format!(
            " ORDER BY created_at, seq LIMIT ${}",
            values.len()
        ));
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
        let conn = self.db.connection()?;
        let rows = conn.query(&sql, &refs).map_err(store_error)?;
        Ok(ops::page(read_rows(&rows)?, limit))
    }

    fn scrub(&self) -> Result<()> {
        // A plain VACUUM marks dead tuples free but leaves their bytes in the page; VACUUM FULL
        // writes a new file without them (the old one is removed at the next checkpoint).
        let conn = self.db.connection()?;
        conn.batch_execute("VACUUM FULL export_jobs")
            .map_err(store_error)
    }

    fn reclaim_expired_leases(&self, now: DateTime<Utc>) -> Result<Vec<Uuid>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM export_jobs \
             WHERE status = 'running' AND (lease_until IS NULL OR lease_until <= $1) \
             ORDER BY created_at, seq FOR UPDATE SKIP LOCKED"
        );
        let micros_now = ops::micros(now);
        self.write(|tx| {
            let rows = tx.query(&sql, &[&micros_now]).map_err(store_error)?;
            let mut reclaimed = Vec::with_capacity(rows.len());
            for (_, mut job) in read_rows(&rows)? {
                ops::reclaim(&mut job, now)?;
                save(tx, &job)?;
                reclaimed.push(job.id);
            }
            Ok(reclaimed)
        })
    }
}
