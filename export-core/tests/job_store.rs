//! The job-store suite run against every store, plus store-specific checks.
//!
//! PostgreSQL tests need a server: `eval "$(scripts/pg-server.sh)"` exports `EXPORT_CORE_PG_URL`;
//! without it they print a SKIPPED line and pass. Each PostgreSQL test works in its own schema.

#[cfg(feature = "postgres")]
#[path = "common/pg_admin.rs"]
mod pg_admin;
#[path = "common/services.rs"]
mod services;

#[macro_use]
#[path = "common/job_store_suite.rs"]
mod job_store_suite;

use std::sync::Arc;

use export_core::job::{JobStore, MemoryJobStore, SqliteJobStore};
use job_store_suite::Harness;

mod memory {
    use super::*;

    fn harness() -> Option<Harness> {
        let store: Arc<dyn JobStore> = Arc::new(MemoryJobStore::new());
        let shared = Arc::clone(&store);
        Some(Harness::new(store, move || Arc::clone(&shared), || {}))
    }

    job_store_suite!(harness());
}

mod sqlite_file {
    use super::*;

    fn harness() -> Option<Harness> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("jobs.db");
        let store: Arc<dyn JobStore> = Arc::new(SqliteJobStore::open(&path).expect("open"));
        // More handles are more connections on the same file, as separate processes would be.
        Some(Harness::new(
            store,
            move || Arc::new(SqliteJobStore::open(&path).expect("open again")),
            move || drop(dir),
        ))
    }

    job_store_suite!(harness());
}

mod sqlite_in_memory {
    use super::*;

    fn harness() -> Option<Harness> {
        let store: Arc<dyn JobStore> =
            Arc::new(SqliteJobStore::open_in_memory().expect("open in memory"));
        let shared = Arc::clone(&store);
        Some(Harness::new(store, move || Arc::clone(&shared), || {}))
    }

    job_store_suite!(harness());
}

mod sqlite_specific {
    use export_core::job::{NewJob, Owner};
    use export_core::request::{ExportRequest, Format};

    use super::*;

    #[test]
    fn migrations_are_recorded_once_and_wal_is_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.db");
        let id = {
            let store = SqliteJobStore::open(&path).unwrap();
            assert_eq!(store.path(), Some(path.as_path()));
            store
                .create(NewJob::new(
                    Owner::user("u"),
                    ExportRequest::new("trip", Format::Csv),
                ))
                .unwrap()
                .id
        };
        let _again = SqliteJobStore::open(&path).unwrap();
        let reopened = SqliteJobStore::open(&path).unwrap();
        assert_eq!(reopened.get(id).unwrap().owner.user_id, "u");

        let conn = rusqlite::Connection::open(&path).unwrap();
        let versions: Vec<(String, i64)> = conn
            .prepare("SELECT component, version FROM schema_migrations ORDER BY component, version")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        // One migration runner: every table of the file, each version once.
        assert_eq!(
            versions,
            vec![
                ("audit".to_string(), 1),
                ("audit".to_string(), 2),
                ("jobs".to_string(), 1),
                ("schedules".to_string(), 1)
            ]
        );
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.db");
        drop(SqliteJobStore::open(&path).unwrap());
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO schema_migrations (component, version, name) VALUES ('jobs', 999, 'future')",
            [],
        )
        .unwrap();
        drop(conn);
        let err = SqliteJobStore::open(&path).unwrap_err();
        assert_eq!(err.code(), "STORE");
        assert!(err.to_string().contains("999"), "{err}");
    }

    #[test]
    fn an_unopenable_path_is_a_store_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = SqliteJobStore::open(dir.path().join("missing/dir/jobs.db")).unwrap_err();
        assert_eq!(err.code(), "STORE");
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use export_core::db::PgOptions;
    use export_core::job::PgJobStore;
    use uuid::Uuid;

    use super::*;

    /// The server URL, or `None` (after saying so) when the tests must be skipped.
    fn url() -> Option<String> {
        crate::services::pg_url()
    }

    fn drop_schema(url: &str, schema: &str) {
        if let Ok(mut client) = crate::pg_admin::Client::connect(url) {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }

    /// A fresh store in its own schema, dropped afterwards.
    fn harness() -> Option<Harness> {
        let url = url()?;
        let schema = format!("test_{}", Uuid::new_v4().simple());
        let store: Arc<dyn JobStore> = Arc::new(
            PgJobStore::connect_with(&url, PgOptions::default().schema(schema.clone()))
                .expect("connect to EXPORT_CORE_PG_URL"),
        );
        let (more_url, more_schema) = (url.clone(), schema.clone());
        Some(Harness::new(
            store,
            move || {
                Arc::new(
                    PgJobStore::connect_with(
                        &more_url,
                        PgOptions::default()
                            .schema(more_schema.clone())
                            .pool_size(1),
                    )
                    .expect("connect again"),
                )
            },
            move || drop_schema(&url, &schema),
        ))
    }

    job_store_suite!(harness());

    #[test]
    fn concurrent_connects_migrate_once() {
        let Some(url) = url() else { return };
        let schema = format!("test_{}", Uuid::new_v4().simple());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (url, schema) = (url.clone(), schema.clone());
                std::thread::spawn(move || {
                    PgJobStore::connect_with(&url, PgOptions::default().schema(schema)).map(|_| ())
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap().expect("connect");
        }
        let mut client = crate::pg_admin::Client::connect(&url).unwrap();
        let n: i64 = client
            .query_one(
                &format!(
                    "SELECT count(*) FROM {schema}.schema_migrations WHERE component = 'jobs'"
                ),
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(n, 1);
        drop_schema(&url, &schema);
    }

    #[test]
    fn a_bad_url_or_schema_is_refused() {
        assert_eq!(
            PgJobStore::connect("definitely not a url")
                .unwrap_err()
                .code(),
            "INVALID_REQUEST"
        );
        for bad in ["", "1abc", "Upper", "a-b", "a;drop"] {
            let err = PgJobStore::connect_with(
                "postgres://127.0.0.1/x",
                PgOptions::default().schema(bad),
            )
            .unwrap_err();
            assert_eq!(err.code(), "INVALID_REQUEST", "{bad}");
        }
        let err =
            PgJobStore::connect_with("postgres://127.0.0.1/x", PgOptions::default().pool_size(0))
                .unwrap_err();
        assert_eq!(err.code(), "INVALID_REQUEST");
    }

    #[test]
    fn an_unreachable_server_is_a_store_error() {
        // Port 1 on localhost: nothing listens there.
        let err = PgJobStore::connect_with(
            "postgres://nobody@127.0.0.1:1/x",
            PgOptions::default().connect_timeout(std::time::Duration::from_secs(2)),
        )
        .unwrap_err();
        assert_eq!(err.code(), "STORE");
    }
}
