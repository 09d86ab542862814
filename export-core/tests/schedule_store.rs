//! The schedule-store suite run against every store, plus store-specific checks.
//!
//! PostgreSQL tests need a server: `eval "$(scripts/pg-server.sh)"` exports `EXPORT_CORE_PG_URL`;
//! without it they print a SKIPPED line and pass. Each PostgreSQL test works in its own schema.

#[cfg(feature = "postgres")]
#[path = "common/pg_admin.rs"]
mod pg_admin;
#[path = "common/services.rs"]
mod services;

#[macro_use]
#[path = "common/schedule_store_suite.rs"]
mod schedule_store_suite;

use std::sync::Arc;

use export_core::schedule::{MemoryScheduleStore, SqliteScheduleStore};
use schedule_store_suite::{Harness, Store};

mod memory {
    use super::*;

    fn harness() -> Option<Harness> {
        let store: Arc<dyn Store> = Arc::new(MemoryScheduleStore::new());
        let shared = Arc::clone(&store);
        Some(Harness::new(store, move || Arc::clone(&shared), || {}))
    }

    schedule_store_suite!(harness());
}

mod sqlite_file {
    use super::*;

    fn harness() -> Option<Harness> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("schedules.db");
        let store: Arc<dyn Store> = Arc::new(SqliteScheduleStore::open(&path).expect("open"));
        // More handles are more connections on the same file, as separate processes would be.
        Some(Harness::new(
            store,
            move || Arc::new(SqliteScheduleStore::open(&path).expect("open again")),
            move || drop(dir),
        ))
    }

    schedule_store_suite!(harness());
}

mod sqlite_in_memory {
    use super::*;

    fn harness() -> Option<Harness> {
        let store: Arc<dyn Store> =
            Arc::new(SqliteScheduleStore::open_in_memory().expect("open in memory"));
        let shared = Arc::clone(&store);
        Some(Harness::new(store, move || Arc::clone(&shared), || {}))
    }

    schedule_store_suite!(harness());
}

mod sqlite_specific {
    use std::path::Path;

    use export_core::job::{JobStore, NewJob, Owner, SqliteJobStore};
    use export_core::request::{ExportRequest, Format};
    use export_core::schedule::{ScheduleQuery, ScheduleStore};

    use super::schedule_store_suite::{schedule, t0};
    use super::*;

    /// Every component's migrations, which opening any store of a file applies.
    const ALL_COMPONENTS: [(&str, i64); 4] =
        [("audit", 1), ("audit", 2), ("jobs", 1), ("schedules", 1)];

    fn components(path: &Path) -> Vec<(String, i64)> {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.prepare("SELECT component, version FROM schema_migrations ORDER BY component, version")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn target() -> export_core::schedule::ScheduleTarget {
        export_core::schedule::ScheduleTarget::request(ExportRequest::new("trip", Format::Csv))
    }

    /// Opens the two stores on one file in the given order and uses both.
    fn share_a_file(schedules_first: bool) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exports.db");
        let (schedules, jobs) = if schedules_first {
            let s = SqliteScheduleStore::open(&path).unwrap();
            (s, SqliteJobStore::open(&path).unwrap())
        } else {
            let j = SqliteJobStore::open(&path).unwrap();
            (SqliteScheduleStore::open(&path).unwrap(), j)
        };
        schedules
            .insert(&schedule("nightly", "u-1", target(), t0()))
            .unwrap();
        let job = jobs
            .create(
                NewJob::new(Owner::user("u-1"), ExportRequest::new("trip", Format::Csv))
                    .schedule_id("nightly"),
            )
            .unwrap();
        drop((schedules, jobs));

        // Reopening either, in any order, migrates nothing more and finds the data.
        let jobs = SqliteJobStore::open(&path).unwrap();
        let schedules = SqliteScheduleStore::open(&path).unwrap();
        assert_eq!(
            jobs.get(job.id).unwrap().schedule_id.as_deref(),
            Some("nightly")
        );
        assert_eq!(schedules.get("nightly").unwrap().owner.user_id, "u-1");
        // One migration runner: every table of the file, each version once.
        assert_eq!(
            components(&path),
            ALL_COMPONENTS.map(|(c, v)| (c.to_string(), v))
        );
    }

    #[test]
    fn shares_a_file_with_the_job_store_opened_first() {
        share_a_file(false);
    }

    #[test]
    fn shares_a_file_with_the_job_store_opened_after() {
        share_a_file(true);
    }

    #[test]
    fn reopening_keeps_data_and_wal_is_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("schedules.db");
        {
            let store = SqliteScheduleStore::open(&path).unwrap();
            assert_eq!(store.path(), Some(path.as_path()));
            assert_eq!(store.backend(), "sqlite");
            store.insert(&schedule("s", "u", target(), t0())).unwrap();
        }
        let reopened = SqliteScheduleStore::open(&path).unwrap();
        assert_eq!(reopened.list(&ScheduleQuery::default()).unwrap().len(), 1);
        assert_eq!(
            components(&path),
            ALL_COMPONENTS.map(|(c, v)| (c.to_string(), v))
        );
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("schedules.db");
        drop(SqliteScheduleStore::open(&path).unwrap());
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO schema_migrations (component, version, name) VALUES ('schedules', 999, 'future')",
            [],
        )
        .unwrap();
        drop(conn);
        let err = SqliteScheduleStore::open(&path).unwrap_err();
        assert_eq!(err.code(), "STORE");
        assert!(err.to_string().contains("999"), "{err}");
        assert!(err.to_string().contains("`schedules`"), "{err}");
        // One database, one migration runner: the job store in that file is refused too.
        let err = SqliteJobStore::open(&path).unwrap_err();
        assert!(err.to_string().contains("999"), "{err}");
    }

    #[test]
    fn an_unreadable_body_is_a_store_error_naming_the_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("schedules.db");
        let store = SqliteScheduleStore::open(&path).unwrap();
        store
            .insert(&schedule("broken", "u", target(), t0()))
            .unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE export_schedules SET body = '{\"id\": 1' WHERE id = 'broken'",
            [],
        )
        .unwrap();
        for err in [
            store.get("broken").unwrap_err(),
            store.list(&ScheduleQuery::default()).unwrap_err(),
            store.due(t0(), 10).unwrap_err(),
        ] {
            assert_eq!(err.code(), "STORE");
            assert!(
                err.to_string()
                    .starts_with("store (sqlite): schedule `broken` has an unreadable body"),
                "{err}"
            );
        }
    }

    #[test]
    fn an_unopenable_path_is_a_store_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = SqliteScheduleStore::open(dir.path().join("missing/dir/s.db")).unwrap_err();
        assert_eq!(err.code(), "STORE");
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use export_core::db::PgOptions;
    use export_core::job::{JobStore, NewJob, Owner, PgJobStore};
    use export_core::request::{ExportRequest, Format};
    use export_core::schedule::{PgScheduleStore, ScheduleStore};
    use uuid::Uuid;

    use super::schedule_store_suite::{schedule, t0};
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

    fn fresh_schema() -> String {
        format!("test_{}", Uuid::new_v4().simple())
    }

    /// A fresh store in its own schema, dropped afterwards.
    fn harness() -> Option<Harness> {
        let url = url()?;
        let schema = fresh_schema();
        let store: Arc<dyn Store> = Arc::new(
            PgScheduleStore::connect_with(&url, PgOptions::default().schema(schema.clone()))
                .expect("connect to EXPORT_CORE_PG_URL"),
        );
        let (more_url, more_schema) = (url.clone(), schema.clone());
        Some(Harness::new(
            store,
            move || {
                Arc::new(
                    PgScheduleStore::connect_with(
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

    schedule_store_suite!(harness());

    fn target() -> export_core::schedule::ScheduleTarget {
        export_core::schedule::ScheduleTarget::request(ExportRequest::new("trip", Format::Csv))
    }

    #[test]
    fn shares_a_schema_with_the_job_store_and_migrates_once() {
        let Some(url) = url() else { return };
        let schema = fresh_schema();
        let options = PgOptions::default().schema(schema.clone());
        // Both stores connecting at once, twice: each component is migrated once.
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let (url, options) = (url.clone(), options.clone());
                std::thread::spawn(move || {
                    if i % 2 == 0 {
                        PgScheduleStore::connect_with(&url, options).map(drop)
                    } else {
                        PgJobStore::connect_with(&url, options).map(drop)
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap().expect("connect");
        }
        let schedules = PgScheduleStore::connect_with(&url, options.clone()).unwrap();
        let jobs = PgJobStore::connect_with(&url, options).unwrap();
        schedules
            .insert(&schedule("nightly", "u-1", target(), t0()))
            .unwrap();
        let job = jobs
            .create(
                NewJob::new(Owner::user("u-1"), ExportRequest::new("trip", Format::Csv))
                    .schedule_id("nightly"),
            )
            .unwrap();
        assert_eq!(
            jobs.get(job.id).unwrap().schedule_id.as_deref(),
            Some("nightly")
        );
        assert_eq!(schedules.get("nightly").unwrap().owner.user_id, "u-1");

        let mut client = crate::pg_admin::Client::connect(&url).unwrap();
        let rows: Vec<(String, i64)> = client
            .query(
                &format!(
                    "SELECT component, version FROM {schema}.schema_migrations \
                     WHERE component IN ('jobs', 'schedules') ORDER BY component, version"
                ),
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(
            rows,
            vec![("jobs".to_string(), 1), ("schedules".to_string(), 1)]
        );
        drop_schema(&url, &schema);
    }

    #[test]
    fn an_unreadable_body_is_a_store_error_naming_the_row() {
        let Some(url) = url() else { return };
        let schema = fresh_schema();
        let store =
            PgScheduleStore::connect_with(&url, PgOptions::default().schema(schema.clone()))
                .unwrap();
        store
            .insert(&schedule("broken", "u", target(), t0()))
            .unwrap();
        let mut client = crate::pg_admin::Client::connect(&url).unwrap();
        client
            .batch_execute(&format!(
                "UPDATE {schema}.export_schedules SET body = 'not json' WHERE id = 'broken'"
            ))
            .unwrap();
        let err = store.get("broken").unwrap_err();
        assert_eq!(err.code(), "STORE");
        assert!(
            err.to_string()
                .starts_with("store (postgres): schedule `broken` has an unreadable body"),
            "{err}"
        );
        drop_schema(&url, &schema);
    }

    #[test]
    fn a_bad_url_schema_or_pool_size_is_refused() {
        assert_eq!(
            PgScheduleStore::connect("definitely not a url")
                .unwrap_err()
                .code(),
            "INVALID_REQUEST"
        );
        for bad in ["", "1abc", "Upper", "a-b", "a;drop"] {
            let err = PgScheduleStore::connect_with(
                "postgres://127.0.0.1/x",
                PgOptions::default().schema(bad),
            )
            .unwrap_err();
            assert_eq!(err.code(), "INVALID_REQUEST", "{bad}");
        }
        let err = PgScheduleStore::connect_with(
            "postgres://127.0.0.1/x",
            PgOptions::default().pool_size(0),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "invalid `pool_size`: must be at least 1");
    }

    #[test]
    fn an_unreachable_server_is_a_store_error() {
        // Port 1 on localhost: nothing listens there.
        let err = PgScheduleStore::connect_with(
            "postgres://nobody@127.0.0.1:1/x",
            PgOptions::default().connect_timeout(std::time::Duration::from_secs(2)),
        )
        .unwrap_err();
        assert_eq!(err.code(), "STORE");
        assert!(err.to_string().starts_with("store (postgres): "), "{err}");
    }
}
