//! Versioned schema migrations for the SQL job stores.
//!
//! Migrations live in `job/migrations/<backend>/NNNN_name.sql`, compiled into the crate, and are
//! applied in order when a store opens. Applied versions are recorded in a `schema_migrations`
//! table keyed by component (`jobs` here, so that other stores can keep their own versions in
//! the same table). A database migrated by a newer build is refused rather than misread.

use crate::error::{ExportError, Result};

/// The component name of the job store's migrations in `schema_migrations`.
pub(crate) const COMPONENT: &str = "jobs";

/// One migration: a version, a name and the SQL that applies it.
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// The SQLite migrations, oldest first.
pub(crate) const SQLITE: &[Migration] = &[Migration {
    version: 1,
    name: "create_export_jobs",
    sql: include_str!("migrations/sqlite/0001_create_export_jobs.sql"),
}];

/// The PostgreSQL migrations, oldest first.
#[cfg(feature = "postgres")]
pub(crate) const POSTGRES: &[Migration] = &[Migration {
    version: 1,
    name: "create_export_jobs",
    sql: include_str!("migrations/postgres/0001_create_export_jobs.sql"),
}];

fn latest(migrations: &[Migration]) -> i64 {
    migrations.last().map_or(0, |m| m.version)
}

fn too_new(backend: &'static str, component: &str, found: i64, known: i64) -> ExportError {
    ExportError::Store {
        backend,
        reason: format!(
            "the database's `{component}` schema is at version {found}, newer than the {known} this build knows; upgrade export-core"
        ),
    }
}

/// Applies the pending SQLite migrations in one `BEGIN IMMEDIATE` transaction, so processes
/// opening the same file at once apply them exactly once.
pub(crate) fn sqlite(conn: &mut rusqlite::Connection) -> Result<()> {
    sqlite_component(conn, COMPONENT, SQLITE)
}

/// Applies `migrations` of `component` (another store sharing the file, such as the audit log)
/// like [`sqlite`] does for the jobs.
pub(crate) fn sqlite_component(
    conn: &mut rusqlite::Connection,
    component: &str,
    migrations: &[Migration],
) -> Result<()> {
    let err = |e: rusqlite::Error| super::sqlite::store_error(e);
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(err)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             component  TEXT    NOT NULL,
             version    INTEGER NOT NULL,
             name       TEXT    NOT NULL,
             applied_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
             PRIMARY KEY (component, version)
         )",
    )
    .map_err(err)?;
    let current: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = ?1",
            [component],
            |row| row.get(0),
        )
        .map_err(err)?;
    if current > latest(migrations) {
        return Err(too_new("sqlite", component, current, latest(migrations)));
    }
    for m in migrations.iter().filter(|m| m.version > current) {
        tx.execute_batch(m.sql).map_err(err)?;
        tx.execute(
            "INSERT INTO schema_migrations (component, version, name) VALUES (?1, ?2, ?3)",
            rusqlite::params![component, m.version, m.name],
        )
        .map_err(err)?;
    }
    tx.commit().map_err(err)
}

/// Applies the pending PostgreSQL migrations in one transaction under an advisory lock, so
/// stores connecting at once apply them exactly once.
#[cfg(feature = "postgres")]
pub(crate) fn postgres(client: &mut ::postgres::Client) -> Result<()> {
    postgres_component(client, COMPONENT, POSTGRES)
}

/// Applies `migrations` of `component` like [`postgres`] does for the jobs.
#[cfg(feature = "postgres")]
pub(crate) fn postgres_component(
    client: &mut ::postgres::Client,
    component: &str,
    migrations: &[Migration],
) -> Result<()> {
    let err = |e: ::postgres::Error| super::postgres::store_error(e);
    let mut tx = client.transaction().map_err(err)?;
    // One lock for all export-core migrations in this database (schema-qualified by the
    // search path's first schema, so separate schemas migrate independently).
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('export-core:' || current_schema() || ':migrations'))",
        &[],
    )
    .map_err(err)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             component  TEXT        NOT NULL,
             version    BIGINT      NOT NULL,
             name       TEXT        NOT NULL,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
             PRIMARY KEY (component, version)
         )",
    )
    .map_err(err)?;
    let current: i64 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations WHERE component = $1",
            &[&component],
        )
        .map_err(err)?
        .try_get(0)
        .map_err(err)?;
    if current > latest(migrations) {
        return Err(too_new("postgres", component, current, latest(migrations)));
    }
    for m in migrations.iter().filter(|m| m.version > current) {
        tx.batch_execute(m.sql).map_err(err)?;
        tx.execute(
            "INSERT INTO schema_migrations (component, version, name) VALUES ($1, $2, $3)",
            &[&component, &m.version, &m.name],
        )
        .map_err(err)?;
    }
    tx.commit().map_err(err)
}
