//! The one migration runner: versioned schema migrations of every table (jobs, schedules and
//! platforms, audit), per backend.
//!
//! Migrations live in `db/migrations/<backend>/<component>/NNNN_name.sql`, compiled into the
//! crate, and are applied in order when a database is opened
//! ([`SqliteDatabase::open`](super::SqliteDatabase::open),
//! [`PgDatabase::connect`](super::PgDatabase::connect)). Applied versions are recorded in one
//! `schema_migrations` table keyed by component (`jobs`, `schedules`, `audit`), each component
//! numbered on its own. A database migrated by a newer build is refused rather than misread.

use crate::error::{ExportError, Result};

/// One migration: a version, a name and the SQL that applies it.
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// The migrations of one component, oldest first.
pub(crate) struct Component {
    pub name: &'static str,
    pub migrations: &'static [Migration],
}

macro_rules! migration {
    ($backend:literal, $component:literal, $version:literal, $file:literal, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!(
                "migrations/",
                $backend,
                "/",
                $component,
                "/",
                $file,
                "_",
                $name,
                ".sql"
            )),
        }
    };
}

/// Every component's SQLite migrations, in the order they are applied.
pub(crate) const SQLITE: &[Component] = &[
    Component {
        name: "jobs",
        migrations: &[migration!(
            "sqlite",
            "jobs",
            1,
            "0001",
            "create_export_jobs"
        )],
    },
    Component {
        name: "schedules",
        migrations: &[migration!(
            "sqlite",
            "schedules",
            1,
            "0001",
            "create_schedules"
        )],
    },
    Component {
        name: "audit",
        migrations: &[
            migration!("sqlite", "audit", 1, "0001", "create_audit_events"),
            migration!("sqlite", "audit", 2, "0002", "add_audit_detail"),
        ],
    },
];

/// Every component's PostgreSQL migrations, in the order they are applied.
#[cfg(feature = "postgres")]
pub(crate) const POSTGRES: &[Component] = &[
    Component {
        name: "jobs",
        migrations: &[migration!(
            "postgres",
            "jobs",
            1,
            "0001",
            "create_export_jobs"
        )],
    },
    Component {
        name: "schedules",
        migrations: &[migration!(
            "postgres",
            "schedules",
            1,
            "0001",
            "create_schedules"
        )],
    },
    Component {
        name: "audit",
        migrations: &[
            migration!("postgres", "audit", 1, "0001", "create_audit_events"),
            migration!("postgres", "audit", 2, "0002", "add_audit_detail"),
        ],
    },
];

fn latest(migrations: &[Migration]) -> i64 {
    migrations.last().map_or(0, |m| m.version)
}

fn too_new(backend: &'static str, component: &str, found: i64, known: i64) -> ExportError {
    ExportError::store(
        backend,
        format!(
            "the database's `{component}` schema is at version {found}, newer than the {known} this build knows; upgrade export-core"
        ),
    )
}

/// Applies the pending SQLite migrations of every component in one `BEGIN IMMEDIATE`
/// transaction, so processes opening the same file at once apply them exactly once.
pub(crate) fn sqlite(conn: &mut rusqlite::Connection) -> Result<()> {
    let err = super::error::sqlite;
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
    for component in SQLITE {
        let current: i64 = tx
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = ?1",
                [component.name],
                |row| row.get(0),
            )
            .map_err(err)?;
        let known = latest(component.migrations);
        if current > known {
            return Err(too_new("sqlite", component.name, current, known));
        }
        for m in component.migrations.iter().filter(|m| m.version > current) {
            tx.execute_batch(m.sql).map_err(err)?;
            tx.execute(
                "INSERT INTO schema_migrations (component, version, name) VALUES (?1, ?2, ?3)",
                rusqlite::params![component.name, m.version, m.name],
            )
            .map_err(err)?;
        }
    }
    tx.commit().map_err(err)
}

/// Applies the pending PostgreSQL migrations of every component in one transaction under an
/// advisory lock (per schema), so databases connecting at once apply them exactly once.
#[cfg(feature = "postgres")]
pub(crate) fn postgres(conn: &mut super::pg::PgConnection) -> Result<()> {
    use super::pg::PgClient;
    let err = super::error::postgres;
    let tx = conn.transaction().map_err(err)?;
    // One lock for all export-core migrations in this database, qualified by the search
    // path's first schema, so separate schemas migrate independently.
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
    for component in POSTGRES {
        let current: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations WHERE component = $1",
                &[&component.name],
            )
            .map_err(err)?
            .try_get(0)
            .map_err(err)?;
        let known = latest(component.migrations);
        if current > known {
            return Err(too_new("postgres", component.name, current, known));
        }
        for m in component.migrations.iter().filter(|m| m.version > current) {
            tx.batch_execute(m.sql).map_err(err)?;
            tx.execute(
                "INSERT INTO schema_migrations (component, version, name) VALUES ($1, $2, $3)",
                &[&component.name, &m.version, &m.name],
            )
            .map_err(err)?;
        }
    }
    tx.commit().map_err(err)
}
