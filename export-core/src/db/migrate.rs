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

/// Where migrations are applied: one backend's open transaction, which also holds the
/// `schema_migrations` table.
pub(crate) trait Applier {
    /// The newest applied version of `component` (0 when none).
    fn current_version(&self, component: &str) -> Result<i64>;
    /// Runs `migration` of `component` and records it.
    fn apply(&self, component: &str, migration: &Migration) -> Result<()>;
}

/// Applies the pending migrations of every component, oldest first, through `target`; refuses a
/// component that a newer build migrated.
pub(crate) fn apply_pending(
    backend: &'static str,
    components: &[Component],
    target: &impl Applier,
) -> Result<()> {
    for component in components {
        let current = target.current_version(component.name)?;
        let known = latest(component.migrations);
        if current > known {
            return Err(too_new(backend, component.name, current, known));
        }
        for m in component.migrations.iter().filter(|m| m.version > current) {
            target.apply(component.name, m)?;
        }
    }
    Ok(())
}
