//! [`SqliteScheduleStore`]: schedules, their runs and export platforms in a SQLite file (which
//! may be the [job store](crate::job::SqliteJobStore)'s).

use std::fmt::Display;
use std::path::Path;
use std::sync::MutexGuard;

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::model::{RunStatus, Schedule, ScheduleRun};
use super::store::{
    RunQuery, ScheduleQuery, ScheduleStore, may_claim, may_update, schedule_not_found,
};
use crate::db::SqliteDatabase;
use crate::db::error::{sqlite as store_error, sqlite_insert};
use crate::error::{ExportError, Result};
use crate::platform::{Platform, PlatformStore, platform_in_use, platform_not_found};

const BACKEND: &str = "sqlite";

// ---------------------------------------------------------------------------------------------
// Shared with the PostgreSQL store: the stored form of schedules, runs and platforms.

/// Microseconds since the epoch, the stored form of an instant.
pub(super) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The JSON body of `value` (`what` names it in the error).
pub(super) fn encode<T: Serialize>(
    backend: &'static str,
    what: impl Display,
    value: &T,
) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| ExportError::store(backend, format!("cannot encode {what}: {e}")))
}

/// Reads a JSON body; an unreadable one is a store error naming `what`.
pub(super) fn decode<T: DeserializeOwned>(
    backend: &'static str,
    what: impl Display,
    body: &str,
) -> Result<T> {
    serde_json::from_str(body)
        .map_err(|e| ExportError::store(backend, format!("{what} has an unreadable body: {e}")))
}

/// How the stored rows of schedule `id`, platform `name` and run (`schedule_id`, fire time)
/// are named in errors.
pub(super) fn schedule_label(id: &str) -> String {
    format!("schedule `{id}`")
}

pub(super) fn platform_label(name: &str) -> String {
    format!("platform `{name}`")
}

pub(super) fn run_label(schedule_id: &str, fire_time_micros: i64) -> String {
    match DateTime::from_timestamp_micros(fire_time_micros) {
        Some(t) => format!("the run of schedule `{schedule_id}` at {}", t.to_rfc3339()),
        None => format!("the run of schedule `{schedule_id}` at {fire_time_micros} µs"),
    }
}

/// The statuses of open runs, as stored.
pub(super) fn open_statuses() -> Vec<&'static str> {
    [
        RunStatus::Starting,
        RunStatus::Started,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Cancelled,
        RunStatus::Missed,
    ]
    .into_iter()
    .filter(|s| s.is_open())
    .map(RunStatus::as_str)
    .collect()
}

/// The ordering of [`ScheduleStore::runs`]: open runs oldest first, history newest first.
pub(super) fn runs_order(open_only: bool) -> &'static str {
    if open_only {
        "ORDER BY fire_time_micros, schedule_id"
    } else {
        "ORDER BY fire_time_micros DESC, schedule_id DESC"
    }
}

/// [`ScheduleStore::due`]'s condition on the loaded schedule, exact to the nanosecond (the
/// query selects by the stored microsecond).
pub(super) fn is_due(schedule: &Schedule, now: DateTime<Utc>) -> bool {
    schedule.enabled && schedule.next_run.is_some_and(|t| t <= now)
}

// ---------------------------------------------------------------------------------------------

/// A [`ScheduleStore`] and [`PlatformStore`] in a SQLite file.
///
/// One store holds one connection behind a mutex; open one store per process (or several, on the
/// same file, for more concurrency). The file may be the job store's: each store migrates its own
/// tables. Migrations are applied at open.
///
/// # Examples
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use export_core::job::Owner;
/// use export_core::request::{ExportRequest, Format};
/// use export_core::schedule::{
///     NewSchedule, RunStatus, ScheduleRun, ScheduleStore, ScheduleTarget, SqliteScheduleStore, Trigger,
/// };
///
/// let store = SqliteScheduleStore::open_in_memory()?;
/// let now = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
/// let target = ScheduleTarget::request(ExportRequest::new("trip", Format::Csv));
/// let schedule = NewSchedule::new("hourly", Owner::user("u-1"), target, Trigger::interval(Duration::hours(1), now)?)
///     .build(now)?;
/// store.insert(&schedule)?;
///
/// // The first claim of a fire time wins; another scheduler's claim of it gets `false`.
/// let fire = schedule.next_run.expect("enabled");
/// let run = ScheduleRun {
///     schedule_id: "hourly".into(), fire_time: fire, attempt: 1, job_id: None,
///     status: RunStatus::Starting, not_before: None, error: None, created_at: fire, finished_at: None,
/// };
/// let advance = &mut |s: &mut export_core::schedule::Schedule| {
///     s.next_run = Some(fire + Duration::hours(1));
///     s.stats.runs += 1;
/// };
/// assert!(store.claim_fire(&run, fire, advance)?);
/// assert!(!store.claim_fire(&run, fire, advance)?);
/// assert_eq!(store.get("hourly")?.stats.runs, 1);
/// # Ok::<(), export_core::ExportError>(())
/// ```
///
/// Tables `export_schedules`, `export_schedule_runs` and `export_platforms`, migrated under
/// component `schedules` of the shared `schema_migrations` table. Each row holds the JSON of its
/// struct (`body`) beside copies of the fields the queries filter and sort on; instants are
/// stored to the microsecond. The primary key of `export_schedule_runs` is (schedule id, fire
/// time): it is what makes a fire time run once.
///
/// The file is opened in WAL mode with a busy timeout, so several processes (and several stores
/// in one process) can share it. Every change runs in a `BEGIN IMMEDIATE` transaction, which
/// takes SQLite's write lock before reading: a claim reads the schedule, checks it and writes it
/// back with nobody in between.
#[derive(Debug)]
pub struct SqliteScheduleStore {
    db: SqliteDatabase,
}

impl SqliteScheduleStore {
    /// The schedule and platform store of `db` (migrated when `db` was opened).
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::db::SqliteDatabase;
    /// use export_core::schedule::{ScheduleStore, SqliteScheduleStore};
    /// let schedules = SqliteScheduleStore::new(SqliteDatabase::open_in_memory()?);
    /// assert_eq!(schedules.backend(), "sqlite");
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn new(db: SqliteDatabase) -> SqliteScheduleStore {
        SqliteScheduleStore { db }
    }

    /// The database this store works on.
    pub fn database(&self) -> &SqliteDatabase {
        &self.db
    }

    /// Opens (creating if needed) the store in the SQLite file at `path`, in WAL mode with a busy
    /// timeout of [`DEFAULT_BUSY_TIMEOUT`](crate::db::DEFAULT_BUSY_TIMEOUT) and `synchronous = NORMAL`, and applies pending
    /// migrations. The file may be shared with a [`SqliteJobStore`](crate::job::SqliteJobStore).
    ///
    /// # Errors
    ///
    /// [`ExportError::Store`] when the file cannot be opened or migrated (for example a database
    /// migrated by a newer export-core).
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::job::SqliteJobStore;
    /// use export_core::schedule::{ScheduleQuery, ScheduleStore, SqliteScheduleStore};
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("exports.db");
    /// let jobs = SqliteJobStore::open(&path)?;
    /// let schedules = SqliteScheduleStore::open(&path)?;
    /// assert_eq!(schedules.path(), Some(path.as_path()));
    /// assert!(schedules.list(&ScheduleQuery::default())?.is_empty());
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteScheduleStore> {
        SqliteDatabase::open(path).map(SqliteScheduleStore::new)
    }

    /// Opens the store in the SQLite file at `path`, which must exist (see
    /// [`SqliteJobStore::open_existing`](crate::job::SqliteJobStore::open_existing)).
    ///
    /// # Errors
    ///
    /// [`ExportError::NotFound`] with kind `database` naming `path` when there is no file
    /// there (nothing is created); otherwise as [`SqliteScheduleStore::open`].
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::schedule::SqliteScheduleStore;
    /// let dir = tempfile::tempdir().unwrap();
    /// let err = SqliteScheduleStore::open_existing(dir.path().join("typo.db")).unwrap_err();
    /// assert_eq!(err.code(), "NOT_FOUND");
    /// ```
    pub fn open_existing(path: impl AsRef<Path>) -> Result<SqliteScheduleStore> {
        SqliteDatabase::open_existing(path).map(SqliteScheduleStore::new)
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
    /// use export_core::schedule::{ScheduleStore, SqliteScheduleStore};
    /// let store = SqliteScheduleStore::open_in_memory()?;
    /// assert_eq!(store.backend(), "sqlite");
    /// assert_eq!(store.path(), None);
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn open_in_memory() -> Result<SqliteScheduleStore> {
        SqliteDatabase::open_in_memory().map(SqliteScheduleStore::new)
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

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction, committed only when `f` returns `Ok(true)`:
    /// a refused claim or update changes nothing.
    fn write_if(&self, f: impl FnOnce(&Transaction<'_>) -> Result<bool>) -> Result<bool> {
        let mut conn = self.lock()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(store_error)?;
        if f(&tx)? {
            tx.commit().map_err(store_error)?;
            Ok(true)
        } else {
            tx.rollback().map_err(store_error)?;
            Ok(false)
        }
    }
}

/// Runs a query whose rows are (key, body) and decodes the bodies.
fn select_bodies<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    label: impl Fn(&str) -> String,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(store_error)?;
    let rows = stmt
        .query_map(params, |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .map_err(store_error)?;
    let mut out = Vec::new();
    for row in rows {
        let (key, body) = row.map_err(store_error)?;
        out.push(decode(BACKEND, label(&key), &body)?);
    }
    Ok(out)
}

fn select_schedule(conn: &Connection, id: &str) -> Result<Option<Schedule>> {
    let body: Option<String> = conn
        .query_row(
            "SELECT body FROM export_schedules WHERE id = ?1",
            [id],
            |row| row.get(0),
        )
        .optional()
        .map_err(store_error)?;
    body.map(|body| decode(BACKEND, schedule_label(id), &body))
        .transpose()
}

/// The indexed columns of `schedule`, then its body.
fn schedule_values(schedule: &Schedule) -> Result<[Value; 5]> {
    let body = encode(BACKEND, schedule_label(&schedule.id), schedule)?;
    Ok([
        Value::Text(schedule.owner.user_id.clone()),
        schedule
            .target
            .platform_name()
            .map_or(Value::Null, |p| Value::Text(p.to_string())),
        Value::Integer(schedule.enabled.into()),
        schedule
            .next_run
            .map_or(Value::Null, |t| Value::Integer(micros(t))),
        Value::Text(body),
    ])
}

/// Writes `schedule` to the row of `id`.
fn save_schedule(conn: &Connection, id: &str, schedule: &Schedule) -> Result<()> {
    let [owner, platform, enabled, next_run, body] = schedule_values(schedule)?;
    let changed = conn
        .prepare_cached(
            "UPDATE export_schedules SET owner_user_id = ?2, platform = ?3, enabled = ?4, \
             next_run_micros = ?5, body = ?6 WHERE id = ?1",
        )
        .map_err(store_error)?
        .execute(rusqlite::params![
            id, owner, platform, enabled, next_run, body
        ])
        .map_err(store_error)?;
    if changed == 1 {
        Ok(())
    } else {
        Err(schedule_not_found(id))
    }
}

fn select_run(conn: &Connection, schedule_id: &str, fire_time: i64) -> Result<Option<ScheduleRun>> {
    let body: Option<String> = conn
        .query_row(
            "SELECT body FROM export_schedule_runs WHERE schedule_id = ?1 AND fire_time_micros = ?2",
            rusqlite::params![schedule_id, fire_time],
            |row| row.get(0),
        )
        .optional()
        .map_err(store_error)?;
    body.map(|body| decode(BACKEND, run_label(schedule_id, fire_time), &body))
        .transpose()
}

fn select_platform(conn: &Connection, name: &str) -> Result<Option<Platform>> {
    let body: Option<String> = conn
        .query_row(
            "SELECT body FROM export_platforms WHERE name = ?1",
            [name],
            |row| row.get(0),
        )
        .optional()
        .map_err(store_error)?;
    body.map(|body| decode(BACKEND, platform_label(name), &body))
        .transpose()
}

impl ScheduleStore for SqliteScheduleStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn insert(&self, schedule: &Schedule) -> Result<()> {
        let [owner, platform, enabled, next_run, body] = schedule_values(schedule)?;
        self.write(|tx| {
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO export_schedules \
                     (id, owner_user_id, platform, enabled, next_run_micros, body) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(store_error)?
                .execute(rusqlite::params![
                    schedule.id,
                    owner,
                    platform,
                    enabled,
                    next_run,
                    body
                ]);
            match inserted {
                Ok(_) => Ok(()),
                Err(e) => Err(sqlite_insert(e, "schedule", &schedule.id)),
            }
        })
    }

    fn get(&self, id: &str) -> Result<Schedule> {
        let conn = self.lock()?;
        select_schedule(&conn, id)?.ok_or_else(|| schedule_not_found(id))
    }

    fn list(&self, query: &ScheduleQuery) -> Result<Vec<Schedule>> {
        let mut sql = String::from("SELECT id, body FROM export_schedules WHERE 1 = 1");
        let mut params: Vec<Value> = Vec::new();
        if let Some(owner) = &query.owner_user_id {
            params.push(Value::Text(owner.clone()));
            sql.push_str(&format!(" AND owner_user_id = ?{}", params.len()));
        }
        if let Some(platform) = &query.platform {
            params.push(Value::Text(platform.clone()));
            sql.push_str(&format!(" AND platform = ?{}", params.len()));
        }
        if let Some(enabled) = query.enabled {
            params.push(Value::Integer(enabled.into()));
            sql.push_str(&format!(" AND enabled = ?{}", params.len()));
        }
        sql.push_str(" ORDER BY id");
        let conn = self.lock()?;
        select_bodies(
            &conn,
            &sql,
            rusqlite::params_from_iter(params),
            schedule_label,
        )
    }

    fn update(&self, id: &str, f: &mut dyn FnMut(&mut Schedule) -> Result<()>) -> Result<Schedule> {
        self.write(|tx| {
            let mut schedule = select_schedule(tx, id)?.ok_or_else(|| schedule_not_found(id))?;
            f(&mut schedule)?;
            save_schedule(tx, id, &schedule)?;
            Ok(schedule)
        })
    }

    fn delete(&self, id: &str) -> Result<Schedule> {
        self.write(|tx| {
            let schedule = select_schedule(tx, id)?.ok_or_else(|| schedule_not_found(id))?;
            tx.execute(
                "DELETE FROM export_schedule_runs WHERE schedule_id = ?1",
                [id],
            )
            .map_err(store_error)?;
            tx.execute("DELETE FROM export_schedules WHERE id = ?1", [id])
                .map_err(store_error)?;
            Ok(schedule)
        })
    }

    fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Schedule>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let conn = self.lock()?;
        let due: Vec<Schedule> = select_bodies(
            &conn,
            "SELECT id, body FROM export_schedules \
             WHERE enabled = 1 AND next_run_micros <= ?1 \
             ORDER BY next_run_micros, id LIMIT ?2",
            [micros(now), limit],
            schedule_label,
        )?;
        Ok(due.into_iter().filter(|s| is_due(s, now)).collect())
    }

    fn next_due(&self) -> Result<Option<DateTime<Utc>>> {
        let conn = self.lock()?;
        let first: Vec<Schedule> = select_bodies(
            &conn,
            "SELECT id, body FROM export_schedules \
             WHERE enabled = 1 AND next_run_micros IS NOT NULL \
             ORDER BY next_run_micros, id LIMIT 1",
            [],
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
            let mut schedule = select_schedule(tx, id)?.ok_or_else(|| schedule_not_found(id))?;
            if !may_claim(&schedule, expected_next_run) {
                return Ok(false);
            }
            f(&mut schedule);
            save_schedule(tx, id, &schedule)?;
            // The unique key on (schedule, fire time): a run already there means the fire time
            // was claimed; the transaction is rolled back, schedule change included.
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO export_schedule_runs (schedule_id, fire_time_micros, status, body) \
                     VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (schedule_id, fire_time_micros) DO NOTHING",
                )
                .map_err(store_error)?
                .execute(rusqlite::params![id, fire_time, run.status.as_str(), body])
                .map_err(store_error)?;
            Ok(inserted == 1)
        })
    }

    fn runs(&self, query: &RunQuery) -> Result<Vec<ScheduleRun>> {
        query.check()?;
        let mut sql =
            String::from("SELECT schedule_id, fire_time_micros, body FROM export_schedule_runs");
        let mut conditions = Vec::new();
        let mut params: Vec<Value> = Vec::new();
        if let Some(id) = &query.schedule_id {
            params.push(Value::Text(id.clone()));
            conditions.push(format!("schedule_id = ?{}", params.len()));
        }
        if query.open_only {
            let marks: Vec<String> = open_statuses()
                .into_iter()
                .map(|status| {
                    params.push(Value::Text(status.to_string()));
                    format!("?{}", params.len())
                })
                .collect();
            conditions.push(format!("status IN ({})", marks.join(", ")));
        }
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        params.push(Value::Integer(query.limit.into()));
        sql.push_str(&format!(
            " {} LIMIT ?{}",
            runs_order(query.open_only),
            params.len()
        ));
        let conn = self.lock()?;
        let mut stmt = conn.prepare_cached(&sql).map_err(store_error)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params), |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })
            .map_err(store_error)?;
        let mut runs = Vec::new();
        for row in rows {
            let (id, fire_time, body) = row.map_err(store_error)?;
            runs.push(decode(BACKEND, run_label(&id, fire_time), &body)?);
        }
        Ok(runs)
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
            let Some(mut run) = select_run(tx, schedule_id, fire_time)? else {
                return Ok(false);
            };
            let Some(mut schedule) = select_schedule(tx, schedule_id)? else {
                return Ok(false);
            };
            if !may_update(&run, expected) {
                return Ok(false);
            }
            f(&mut run, &mut schedule);
            let body = encode(BACKEND, run_label(schedule_id, fire_time), &run)?;
            tx.prepare_cached(
                "UPDATE export_schedule_runs SET status = ?3, body = ?4 \
                 WHERE schedule_id = ?1 AND fire_time_micros = ?2",
            )
            .map_err(store_error)?
            .execute(rusqlite::params![
                schedule_id,
                fire_time,
                run.status.as_str(),
                body
            ])
            .map_err(store_error)?;
            save_schedule(tx, schedule_id, &schedule)?;
            Ok(true)
        })
    }
}

impl PlatformStore for SqliteScheduleStore {
    fn insert_platform(&self, platform: &Platform) -> Result<()> {
        let body = encode(BACKEND, platform_label(&platform.name), platform)?;
        self.write(|tx| {
            let inserted = tx.execute(
                "INSERT INTO export_platforms (name, body) VALUES (?1, ?2)",
                rusqlite::params![platform.name, body],
            );
            match inserted {
                Ok(_) => Ok(()),
                Err(e) => Err(sqlite_insert(e, "platform", &platform.name)),
            }
        })
    }

    fn get_platform(&self, name: &str) -> Result<Platform> {
        let conn = self.lock()?;
        select_platform(&conn, name)?.ok_or_else(|| platform_not_found(name))
    }

    fn list_platforms(&self) -> Result<Vec<Platform>> {
        let conn = self.lock()?;
        select_bodies(
            &conn,
            "SELECT name, body FROM export_platforms ORDER BY name",
            [],
            platform_label,
        )
    }

    fn replace_platform(&self, platform: &Platform) -> Result<()> {
        let body = encode(BACKEND, platform_label(&platform.name), platform)?;
        self.write(|tx| {
            let changed = tx
                .execute(
                    "UPDATE export_platforms SET body = ?2 WHERE name = ?1",
                    rusqlite::params![platform.name, body],
                )
                .map_err(store_error)?;
            if changed == 1 {
                Ok(())
            } else {
                Err(platform_not_found(&platform.name))
            }
        })
    }

    fn delete_platform(&self, name: &str) -> Result<Platform> {
        self.write(|tx| {
            let platform = select_platform(tx, name)?.ok_or_else(|| platform_not_found(name))?;
            let users = {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT id FROM export_schedules WHERE platform = ?1 ORDER BY id",
                    )
                    .map_err(store_error)?;
                let ids = stmt
                    .query_map([name], |row| row.get::<_, String>(0))
                    .map_err(store_error)?;
                ids.collect::<rusqlite::Result<Vec<String>>>()
                    .map_err(store_error)?
            };
            if !users.is_empty() {
                return Err(platform_in_use(name, &users));
            }
            tx.execute("DELETE FROM export_platforms WHERE name = ?1", [name])
                .map_err(store_error)?;
            Ok(platform)
        })
    }
}
