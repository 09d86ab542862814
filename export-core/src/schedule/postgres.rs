//! [`PgScheduleStore`]: schedules, their runs and export platforms in PostgreSQL (feature
//! `postgres`), for several schedulers on several hosts.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use tokio_postgres::types::ToSql;

use super::model::{RunStatus, Schedule, ScheduleRun};
use super::sqlite::{
    decode, encode, is_due, micros, open_statuses, platform_label, run_label, runs_order,
    schedule_label,
};
use super::store::{
    RunQuery, ScheduleQuery, ScheduleStore, may_claim, may_update, schedule_not_found,
};
use crate::db::error::{postgres as store_error, postgres_insert};
use crate::db::{PgClient, PgDatabase, PgOptions, PgTransaction};
use crate::error::Result;
use crate::platform::{Platform, PlatformStore, platform_in_use, platform_not_found};

const BACKEND: &str = "postgres";

/// A [`ScheduleStore`] and [`PlatformStore`] in PostgreSQL.
///
/// Safe with several processes: a fire time is claimed by one of them only (row lock on the
/// schedule, compare-and-set on its `next_run`, unique key on the run). Its calls block
/// the calling thread (see [`JobStore`](crate::job::JobStore)'s *Why synchronous*).
///
/// # Examples
///
/// ```no_run
/// use chrono::Utc;
/// use export_core::job::Owner;
/// use export_core::db::PgOptions;
/// use export_core::request::{ExportRequest, Format};
/// use export_core::schedule::{NewSchedule, PgScheduleStore, ScheduleStore, ScheduleTarget, Trigger};
///
/// let store = PgScheduleStore::connect_with(
///     "postgres://exports@127.0.0.1:5432/exports",
///     PgOptions::default().schema("exports"),
/// )?;
/// let target = ScheduleTarget::request(ExportRequest::new("trip", Format::Csv));
/// let schedule = NewSchedule::new("nightly", Owner::user("u-1"), target, Trigger::cron("0 2 * * *", "Europe/Paris")?)
///     .build(Utc::now())?;
/// store.insert(&schedule)?;
/// assert_eq!(store.get("nightly")?, schedule);
/// # Ok::<(), export_core::ExportError>(())
/// ```
///
/// The tables are those of the [SQLite store](super::SqliteScheduleStore) (`export_schedules`,
/// `export_schedule_runs`, `export_platforms`, migrated under component `schedules` of the shared
/// `schema_migrations` table), in the same database and schema as the
/// [`PgJobStore`](crate::job::PgJobStore) when given the same URL and [`PgOptions`].
///
/// Read-modify-write operations lock their rows (`SELECT ... FOR UPDATE`, the schedule before
/// its run), apply the shared rules and write back in one transaction. A claim inserts its run
/// with `ON CONFLICT DO NOTHING` on the (schedule id, fire time) primary key: when another
/// process got there first the transaction is rolled back and the claim returns `false`.
///
/// # Connections
///
/// The store works on a [`PgDatabase`]: the pool and schema shared with the job store and the
/// audit log built from the same handle. Its calls wait on the database's
/// [`IoRuntime`](crate::runtime::IoRuntime) and may be made from any thread.
pub struct PgScheduleStore {
    db: PgDatabase,
}

impl std::fmt::Debug for PgScheduleStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgScheduleStore")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl PgScheduleStore {
    /// The schedule and platform store of `db`, in its pool and schema (migrated when `db` was
    /// opened).
    pub fn new(db: PgDatabase) -> PgScheduleStore {
        PgScheduleStore { db }
    }

    /// The database this store works on.
    pub fn database(&self) -> &PgDatabase {
        &self.db
    }

    /// Connects to the database at `url` (`postgres://user:password@host:port/database`, or a
    /// `key=value` connection string) with the default [`PgOptions`] on the shared
    /// [`IoRuntime`](crate::runtime::IoRuntime), and applies pending migrations: a store with a
    /// pool of its own. An engine opens one [`PgDatabase`] and uses [`PgScheduleStore::new`].
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`](crate::ExportError::InvalidRequest) on field `url` when it
    /// cannot be parsed; [`ExportError::Store`](crate::ExportError::Store) when the server cannot
    /// be reached or the schema cannot be migrated.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::schedule::PgScheduleStore;
    /// let err = PgScheduleStore::connect("not a url").unwrap_err();
    /// assert_eq!(err.code(), "INVALID_REQUEST");
    /// ```
    pub fn connect(url: &str) -> Result<PgScheduleStore> {
        PgScheduleStore::connect_with(url, PgOptions::default())
    }

    /// Connects like [`PgScheduleStore::connect`] with `options`: the tables go into
    /// `options.schema` (created if missing), and up to `options.pool_size` connections are used.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`](crate::ExportError::InvalidRequest) on field `url`,
    /// `schema` or `pool_size`; [`ExportError::Store`](crate::ExportError::Store) as for
    /// [`PgScheduleStore::connect`].
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::db::PgOptions;
    /// use export_core::schedule::PgScheduleStore;
    /// let err = PgScheduleStore::connect_with("postgres://127.0.0.1/db", PgOptions::default().pool_size(0)).unwrap_err();
    /// assert_eq!(err.to_string(), "invalid `pool_size`: must be at least 1");
    /// ```
    pub fn connect_with(url: &str, options: PgOptions) -> Result<PgScheduleStore> {
        PgDatabase::connect_shared(url, options).map(PgScheduleStore::new)
    }

    /// Runs `f` in a transaction, committed when `f` succeeds (rolled back otherwise).
    fn write<T>(&self, f: impl FnOnce(&PgTransaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.db.connection()?;
        let tx = conn.transaction().map_err(store_error)?;
        let out = f(&tx)?;
        tx.commit().map_err(store_error)?;
        Ok(out)
    }

    /// Runs `f` in a transaction, committed only when `f` returns `Ok(true)`: a refused claim or
    /// update changes nothing.
    fn write_if(&self, f: impl FnOnce(&PgTransaction<'_>) -> Result<bool>) -> Result<bool> {
        let mut conn = self.db.connection()?;
        let tx = conn.transaction().map_err(store_error)?;
        if f(&tx)? {
            tx.commit().map_err(store_error)?;
            Ok(true)
        } else {
            tx.rollback().map_err(store_error)?;
            Ok(false)
        }
    }

    /// Runs a read-only query whose rows are (key, body) and decodes the bodies.
    fn read<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        label: impl Fn(&str) -> String,
    ) -> Result<Vec<T>> {
        let conn = self.db.connection()?;
        select_bodies(&conn, sql, params, label)
    }
}

fn select_bodies<T: DeserializeOwned>(
    client: &impl PgClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    label: impl Fn(&str) -> String,
) -> Result<Vec<T>> {
    let rows = client.query(sql, params).map_err(store_error)?;
    rows.iter()
        .map(|row| {
            let key: String = row.try_get(0).map_err(store_error)?;
            let body: String = row.try_get(1).map_err(store_error)?;
            decode(BACKEND, label(&key), &body)
        })
        .collect()
}

/// Schedule `id`, locked for update when `lock`.
fn select_schedule(client: &impl PgClient, id: &str, lock: bool) -> Result<Option<Schedule>> {
    let sql = if lock {
        "SELECT body FROM export_schedules WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT body FROM export_schedules WHERE id = $1"
    };
    let row = client.query_opt(sql, &[&id]).map_err(store_error)?;
    row.map(|row| {
        let body: String = row.try_get(0).map_err(store_error)?;
        decode(BACKEND, schedule_label(id), &body)
    })
    .transpose()
}

/// Platform `name`, locked for update when `lock`.
fn select_platform(client: &impl PgClient, name: &str, lock: bool) -> Result<Option<Platform>> {
    let sql = if lock {
        "SELECT body FROM export_platforms WHERE name = $1 FOR UPDATE"
    } else {
        "SELECT body FROM export_platforms WHERE name = $1"
    };
    let row = client.query_opt(sql, &[&name]).map_err(store_error)?;
    row.map(|row| {
        let body: String = row.try_get(0).map_err(store_error)?;
        decode(BACKEND, platform_label(name), &body)
    })
    .transpose()
}

/// When a schedule is saved on platform `new` (and was not on it before), takes a share lock on
/// the platform's row: a concurrent [`PlatformStore::delete_platform`] either waits for this
/// transaction and then sees the schedule, or deleted the platform first.
fn hold_platform(client: &impl PgClient, new: Option<&str>, old: Option<&str>) -> Result<()> {
    match new {
        Some(name) if new != old => client
            .execute(
                "SELECT 1 FROM export_platforms WHERE name = $1 FOR SHARE",
                &[&name],
            )
            .map(drop)
            .map_err(store_error),
        _ => Ok(()),
    }
}

/// The indexed columns of `schedule` and its body.
struct ScheduleRow {
    owner: String,
    platform: Option<String>,
    enabled: bool,
    next_run: Option<i64>,
    body: String,
}

impl ScheduleRow {
    fn of(schedule: &Schedule) -> Result<ScheduleRow> {
        Ok(ScheduleRow {
            owner: schedule.owner.user_id.clone(),
            platform: schedule.target.platform_name().map(str::to_string),
            enabled: schedule.enabled,
            next_run: schedule.next_run.map(micros),
            body: encode(BACKEND, schedule_label(&schedule.id), schedule)?,
        })
    }
}

/// Writes `schedule` (loaded as `old`) to the row of `id`.
fn save_schedule(
    client: &impl PgClient,
    id: &str,
    old: &Schedule,
    schedule: &Schedule,
) -> Result<()> {
    let row = ScheduleRow::of(schedule)?;
    hold_platform(client, row.platform.as_deref(), old.target.platform_name())?;
    let changed = client
        .execute(
            "UPDATE export_schedules SET owner_user_id = $2, platform = $3, enabled = $4, \
             next_run_micros = $5, body = $6 WHERE id = $1",
            &[
                &id,
                &row.owner,
                &row.platform,
                &row.enabled,
                &row.next_run,
                &row.body,
            ],
        )
        .map_err(store_error)?;
    if changed == 1 {
        Ok(())
    } else {
        Err(schedule_not_found(id))
    }
}

impl ScheduleStore for PgScheduleStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn insert(&self, schedule: &Schedule) -> Result<()> {
        let row = ScheduleRow::of(schedule)?;
        self.write(|tx| {
            hold_platform(tx, row.platform.as_deref(), None)?;
            let inserted = tx.execute(
                "INSERT INTO export_schedules \
                 (id, owner_user_id, platform, enabled, next_run_micros, body) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &schedule.id,
                    &row.owner,
                    &row.platform,
                    &row.enabled,
                    &row.next_run,
                    &row.body,
                ],
            );
            match inserted {
                Ok(_) => Ok(()),
                Err(e) => Err(postgres_insert(e, "schedule", &schedule.id)),
            }
        })
    }

    fn get(&self, id: &str) -> Result<Schedule> {
        let conn = self.db.connection()?;
        select_schedule(&conn, id, false)?.ok_or_else(|| schedule_not_found(id))
    }

    fn list(&self, query: &ScheduleQuery) -> Result<Vec<Schedule>> {
        let mut sql = String::from("SELECT id, body FROM export_schedules WHERE TRUE");
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
        if let Some(owner) = &query.owner_user_id {
            params.push(owner);
            sql.push_str(&format!(" AND owner_user_id = ${}", params.len()));
        }
        if let Some(platform) = &query.platform {
            params.push(platform);
            sql.push_str(&format!(" AND platform = ${}", params.len()));
        }
        if let Some(enabled) = &query.enabled {
            params.push(enabled);
            sql.push_str(&format!(" AND enabled = ${}", params.len()));
        }
        sql.push_str(" ORDER BY id");
        self.read(&sql, &params, schedule_label)
    }

    fn update(&self, id: &str, f: &mut dyn FnMut(&mut Schedule) -> Result<()>) -> Result<Schedule> {
        self.write(|tx| {
            let old = select_schedule(tx, id, true)?.ok_or_else(|| schedule_not_found(id))?;
            let mut schedule = old.clone();
            f(&mut schedule)?;
            save_schedule(tx, id, &old, &schedule)?;
            Ok(schedule)
        })
    }

    fn delete(&self, id: &str) -> Result<Schedule> {
        self.write(|tx| {
            let schedule = select_schedule(tx, id, true)?.ok_or_else(|| schedule_not_found(id))?;
            tx.execute(
                "DELETE FROM export_schedule_runs WHERE schedule_id = $1",
                &[&id],
            )
            .map_err(store_error)?;
            tx.execute("DELETE FROM export_schedules WHERE id = $1", &[&id])
                .map_err(store_error)?;
            Ok(schedule)
        })
    }

    fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Schedule>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let due: Vec<Schedule> = self.read(
            "SELECT id, body FROM export_schedules \
             WHERE enabled AND next_run_micros <= $1 \
             ORDER BY next_run_micros, id LIMIT $2",
            &[&micros(now), &limit],
            schedule_label,
        )?;
        Ok(due.into_iter().filter(|s| is_due(s, now)).collect())
    }

    fn next_due(&self) -> Result<Option<DateTime<Utc>>> {
        let first: Vec<Schedule> = self.read(
            "SELECT id, body FROM export_schedules \
             WHERE enabled AND next_run_micros IS NOT NULL \
             ORDER BY next_run_micros, id LIMIT 1",
            &[],
            schedule_label,
        )?;
        Ok(first.into_iter().next().and_then(|s| s.next_run))
    }

    fn claim_fire(
        &self,
        run: &ScheduleRun,
        expected_next_run: DateTime<Utc>,
        f: &mut dyn FnMut(&mut Schedule),
    ) -> Result<bool> {
        let id = run.schedule_id.as_str();
        let fire_time = micros(run.fire_time);
        let body = encode(BACKEND, run_label(id, fire_time), run)?;
        self.write_if(|tx| {
            // Concurrent claimers queue on the schedule's row lock; the next one in sees the new
            // `next_run` and stops at the compare-and-set.
            let old = select_schedule(tx, id, true)?.ok_or_else(|| schedule_not_found(id))?;
            if !may_claim(&old, expected_next_run) {
                return Ok(false);
            }
            let mut schedule = old.clone();
            f(&mut schedule);
            save_schedule(tx, id, &old, &schedule)?;
            // The unique key on (schedule, fire time): a run already there means the fire time
            // was claimed; the transaction is rolled back, schedule change included.
            let inserted = tx
                .execute(
                    "INSERT INTO export_schedule_runs (schedule_id, fire_time_micros, status, body) \
                     VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (schedule_id, fire_time_micros) DO NOTHING",
                    &[&id, &fire_time, &run.status.as_str(), &body],
                )
                .map_err(store_error)?;
            Ok(inserted == 1)
        })
    }

    fn runs(&self, query: &RunQuery) -> Result<Vec<ScheduleRun>> {
        query.check()?;
        let open = open_statuses();
        let limit = i64::from(query.limit);
        let mut sql =
            String::from("SELECT schedule_id, fire_time_micros, body FROM export_schedule_runs");
        let mut conditions = Vec::new();
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
        if let Some(id) = &query.schedule_id {
            params.push(id);
            conditions.push(format!("schedule_id = ${}", params.len()));
        }
        if query.open_only {
            params.push(&open);
            conditions.push(format!("status = ANY(${})", params.len()));
        }
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        params.push(&limit);
        sql.push_str(&format!(
            " {} LIMIT ${}",
            runs_order(query.open_only),
            params.len()
        ));
        let conn = self.db.connection()?;
        let rows = conn.query(&sql, &params).map_err(store_error)?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get(0).map_err(store_error)?;
                let fire_time: i64 = row.try_get(1).map_err(store_error)?;
                let body: String = row.try_get(2).map_err(store_error)?;
                decode(BACKEND, run_label(&id, fire_time), &body)
            })
            .collect()
    }

    fn update_run(
        &self,
        schedule_id: &str,
        fire_time: DateTime<Utc>,
        expected: (u32, RunStatus),
        f: &mut dyn FnMut(&mut ScheduleRun, &mut Schedule),
    ) -> Result<bool> {
        let fire_time = micros(fire_time);
        self.write_if(|tx| {
            // The schedule first, then its run: the order of `claim_fire`, so no deadlock.
            let Some(old) = select_schedule(tx, schedule_id, true)? else {
                return Ok(false);
            };
            let row = tx
                .query_opt(
                    "SELECT body FROM export_schedule_runs \
                     WHERE schedule_id = $1 AND fire_time_micros = $2 FOR UPDATE",
                    &[&schedule_id, &fire_time],
                )
                .map_err(store_error)?;
            let Some(row) = row else {
                return Ok(false);
            };
            let body: String = row.try_get(0).map_err(store_error)?;
            let mut run: ScheduleRun = decode(BACKEND, run_label(schedule_id, fire_time), &body)?;
            if !may_update(&run, expected) {
                return Ok(false);
            }
            let mut schedule = old.clone();
            f(&mut run, &mut schedule);
            let body = encode(BACKEND, run_label(schedule_id, fire_time), &run)?;
            tx.execute(
                "UPDATE export_schedule_runs SET status = $3, body = $4 \
                 WHERE schedule_id = $1 AND fire_time_micros = $2",
                &[&schedule_id, &fire_time, &run.status.as_str(), &body],
            )
            .map_err(store_error)?;
            save_schedule(tx, schedule_id, &old, &schedule)?;
            Ok(true)
        })
    }
}

impl PlatformStore for PgScheduleStore {
    fn insert_platform(&self, platform: &Platform) -> Result<()> {
        let body = encode(BACKEND, platform_label(&platform.name), platform)?;
        let conn = self.db.connection()?;
        let inserted = conn.execute(
            "INSERT INTO export_platforms (name, body) VALUES ($1, $2)",
            &[&platform.name, &body],
        );
        match inserted {
            Ok(_) => Ok(()),
            Err(e) => Err(postgres_insert(e, "platform", &platform.name)),
        }
    }

    fn get_platform(&self, name: &str) -> Result<Platform> {
        let conn = self.db.connection()?;
        select_platform(&conn, name, false)?.ok_or_else(|| platform_not_found(name))
    }

    fn list_platforms(&self) -> Result<Vec<Platform>> {
        self.read(
            "SELECT name, body FROM export_platforms ORDER BY name",
            &[],
            platform_label,
        )
    }

    fn replace_platform(&self, platform: &Platform) -> Result<()> {
        let body = encode(BACKEND, platform_label(&platform.name), platform)?;
        let conn = self.db.connection()?;
        let changed = conn
            .execute(
                "UPDATE export_platforms SET body = $2 WHERE name = $1",
                &[&platform.name, &body],
            )
            .map_err(store_error)?;
        if changed == 1 {
            Ok(())
        } else {
            Err(platform_not_found(&platform.name))
        }
    }

    fn delete_platform(&self, name: &str) -> Result<Platform> {
        self.write(|tx| {
            // The row lock waits for transactions saving a schedule on this platform (they hold
            // a share lock on it), so the check below sees their schedules.
            let platform =
                select_platform(tx, name, true)?.ok_or_else(|| platform_not_found(name))?;
            let users: Vec<String> = tx
                .query(
                    "SELECT id FROM export_schedules WHERE platform = $1 ORDER BY id",
                    &[&name],
                )
                .map_err(store_error)?
                .iter()
                .map(|row| row.try_get(0).map_err(store_error))
                .collect::<Result<_>>()?;
            if !users.is_empty() {
                return Err(platform_in_use(name, &users));
            }
            tx.execute("DELETE FROM export_platforms WHERE name = $1", &[&name])
                .map_err(store_error)?;
            Ok(platform)
        })
    }
}
