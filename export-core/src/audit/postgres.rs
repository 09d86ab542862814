//! [`PgAuditLog`]: audit events in PostgreSQL, beside the job store: in the pool and the schema
//! of the [`PgDatabase`] it is built from.

use chrono::{DateTime, Utc};
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::{AuditEvent, AuditLog, AuditQuery, Pseudonymiser, parse_stored};
use crate::db::error::{postgres as store_error, postgres_insert};
use crate::db::{PgClient, PgConnection, PgDatabase, PgOptions};
use crate::error::Result;

const BACKEND: &str = "postgres";

/// An [`AuditLog`] in PostgreSQL (table `audit_events`, migrated under component `audit` of the
/// shared `schema_migrations` table), over the connection pool of a [`PgDatabase`] and in its
/// schema ([`PgOptions::schema`]): built with [`PgAuditLog::new`] from the job store's database,
/// the events land beside the jobs.
///
/// # Examples
///
/// ```
/// use export_core::audit::PgAuditLog;
/// let err = PgAuditLog::connect("not a url").unwrap_err();
/// assert_eq!(err.code(), "INVALID_REQUEST");
/// ```
pub struct PgAuditLog {
    db: PgDatabase,
}

impl std::fmt::Debug for PgAuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgAuditLog")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl PgAuditLog {
    /// The audit log of `db`, in its pool and schema (migrated when `db` was opened).
    pub fn new(db: PgDatabase) -> PgAuditLog {
        PgAuditLog { db }
    }

    /// The database this log works on.
    pub fn database(&self) -> &PgDatabase {
        &self.db
    }

    /// Connects to the database at `url` (two pooled connections, the connection's default
    /// schema, the shared [`IoRuntime`](crate::runtime::IoRuntime)) and applies pending
    /// migrations: a log with a pool of its own. An engine uses [`PgAuditLog::new`] on the job
    /// store's [`PgDatabase`].
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`](crate::ExportError::InvalidRequest) on field `url` when it cannot be parsed;
    /// [`ExportError::Store`](crate::ExportError::Store) when the server cannot be reached or migrated.
    pub fn connect(url: &str) -> Result<PgAuditLog> {
        PgAuditLog::connect_with(url, PgOptions::default().pool_size(2))
    }

    /// Connects with `options`: the table goes into `options.schema` (created if missing),
    /// beside the job store's when both are given the same options.
    ///
    /// # Errors
    ///
    /// As [`PgAuditLog::connect`]; [`ExportError::InvalidRequest`](crate::ExportError::InvalidRequest) on field `schema` or
    /// `pool_size`.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::audit::PgAuditLog;
    /// use export_core::db::PgOptions;
    /// let err = PgAuditLog::connect_with("postgres://127.0.0.1/db", PgOptions::default().schema("Bad-Name")).unwrap_err();
    /// assert_eq!(err.code(), "INVALID_REQUEST");
    /// ```
    pub fn connect_with(url: &str, options: PgOptions) -> Result<PgAuditLog> {
        PgDatabase::connect_shared(url, options).map(PgAuditLog::new)
    }

    fn with_client<T>(&self, f: impl FnOnce(&mut PgConnection) -> Result<T>) -> Result<T> {
        let mut conn = self.db.connection()?;
        f(&mut conn)
    }
}

const COLUMNS: &str = "id, at, actor_user_id, actor_organisation_id, action, job_id, \
                       format, schema_name, audience, filters, row_count, risk, detail";

impl AuditLog for PgAuditLog {
    fn record(&self, e: &AuditEvent) -> Result<()> {
        let row_count = e.row_count.map(|r| i64::try_from(r).unwrap_or(i64::MAX));
        let format = e.format.map(|f| f.as_str());
        let audience = e.audience.map(|a| a.as_str());
        let action = e.action.as_str();
        let risk = e.risk.as_str();
        self.with_client(|client| {
            let inserted = client.execute(
                &format!(
                    "INSERT INTO audit_events ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                ),
                &[
                    &e.id,
                    &e.at,
                    &e.actor_user_id,
                    &e.actor_organisation_id,
                    &action,
                    &e.job_id,
                    &format,
                    &e.schema,
                    &audience,
                    &e.filters,
                    &row_count,
                    &risk,
                    &e.detail,
                ],
            );
            match inserted {
                Ok(_) => Ok(()),
                Err(err) => Err(postgres_insert(err, "audit event", &e.id.to_string())),
            }
        })
    }

    fn list(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        query.check()?;
        let mut sql = format!("SELECT {COLUMNS} FROM audit_events WHERE TRUE");
        let mut params: Vec<Box<dyn ToSql + Sync>> = Vec::new();
        if let Some(job) = query.job_id {
            params.push(Box::new(job));
            sql.push_str(&format!(" AND job_id = ${}", params.len()));
        }
        if let Some(actor) = &query.actor {
            params.push(Box::new(actor.clone()));
            sql.push_str(&format!(" AND actor_user_id = ${}", params.len()));
        }
        if let Some(since) = query.since {
            params.push(Box::new(since));
            sql.push_str(&format!(" AND at >= ${}", params.len()));
        }
        params.push(Box::new(i64::from(query.limit)));
        sql.push_str(&format!(" ORDER BY at, seq LIMIT ${}", params.len()));
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
        let rows = self.with_client(|client| client.query(&sql, &refs).map_err(store_error))?;
        rows.iter().map(decode).collect()
    }

    fn pseudonymise_jobs(&self, jobs: &[Uuid], pseudonymiser: &Pseudonymiser) -> Result<u64> {
        self.with_client(|client| {
            let tx = client.transaction().map_err(store_error)?;
            let rows = tx
                .query(
                    "SELECT id, actor_user_id, actor_organisation_id FROM audit_events \
                     WHERE job_id = ANY($1) FOR UPDATE",
                    &[&jobs],
                )
                .map_err(store_error)?;
            let mut changed = 0;
            for row in rows {
                let id: Uuid = row.try_get(0).map_err(store_error)?;
                let user: String = row.try_get(1).map_err(store_error)?;
                let organisation: Option<String> = row.try_get(2).map_err(store_error)?;
                if let Some((user, organisation)) =
                    pseudonymiser.actor(&user, organisation.as_deref())
                {
                    tx.execute(
                        "UPDATE audit_events SET actor_user_id = $2, actor_organisation_id = $3 \
                         WHERE id = $1",
                        &[&id, &user, &organisation],
                    )
                    .map_err(store_error)?;
                    changed += 1;
                }
            }
            tx.commit().map_err(store_error)?;
            Ok(changed)
        })
    }

    fn delete_before(&self, before: DateTime<Utc>) -> Result<u64> {
        self.with_client(|client| {
            client
                .execute("DELETE FROM audit_events WHERE at < $1", &[&before])
                .map_err(store_error)
        })
    }

    fn scrub(&self) -> Result<()> {
        // As the job store's: only a rewrite leaves no old tuple bytes in the table's files.
        self.with_client(|client| {
            client
                .batch_execute("VACUUM FULL audit_events")
                .map_err(store_error)
        })
    }
}

fn decode(row: &tokio_postgres::Row) -> Result<AuditEvent> {
    let id: Uuid = row.try_get(0).map_err(store_error)?;
    let ids = id.to_string();
    let text = |i: usize| -> Result<Option<String>> { row.try_get(i).map_err(store_error) };
    let action: String = row.try_get(4).map_err(store_error)?;
    let risk: String = row.try_get(11).map_err(store_error)?;
    let row_count: Option<i64> = row.try_get(10).map_err(store_error)?;
    Ok(AuditEvent {
        id,
        at: row.try_get(1).map_err(store_error)?,
        actor_user_id: row.try_get(2).map_err(store_error)?,
        actor_organisation_id: text(3)?,
        action: parse_stored(BACKEND, &ids, "action", &action)?,
        job_id: row.try_get(5).map_err(store_error)?,
        format: text(6)?
            .map(|f| parse_stored(BACKEND, &ids, "format", &f))
            .transpose()?,
        schema: text(7)?,
        audience: text(8)?
            .map(|a| parse_stored(BACKEND, &ids, "audience", &a))
            .transpose()?,
        filters: row.try_get(9).map_err(store_error)?,
        row_count: row_count.map(|r| u64::try_from(r).unwrap_or(0)),
        risk: parse_stored(BACKEND, &ids, "risk", &risk)?,
        detail: text(12)?,
    })
}
