//! The database layer (`export_core::db`): one handle per database shared by the job, schedule,
//! platform and audit stores; against the real PostgreSQL, the pool's wait timeout, maximum
//! lifetime, TLS modes, the audit log's schema, and calls from every kind of thread.

#[cfg(feature = "postgres")]
#[path = "common/pg_admin.rs"]
mod pg_admin;
#[path = "common/services.rs"]
mod services;

use chrono::{Duration, Utc};
use export_core::ExportError;
use export_core::audit::{AuditAction, AuditEvent, AuditLog, AuditQuery, SqliteAuditLog};
use export_core::db::SqliteDatabase;
use export_core::job::{JobStatus, JobStore, ListQuery, NewJob, Owner, Progress, SqliteJobStore};
use export_core::platform::{Platform, PlatformStore};
use export_core::request::{ExportRequest, Format};
use export_core::schedule::{
    NewSchedule, ScheduleStore, ScheduleTarget, SqliteScheduleStore, Trigger,
};

fn request() -> ExportRequest {
    ExportRequest::new("trip", Format::Csv)
}

/// Every kind of store operation once, on stores built from one database: jobs (create, get,
/// list, claim, heartbeat), schedules, platforms and the audit log.
fn exercise(
    jobs: &dyn JobStore,
    schedules: &dyn ScheduleStore,
    platforms: &dyn PlatformStore,
    audit: &dyn AuditLog,
    tag: &str,
) {
    let now = Utc::now();
    let owner = Owner::user(format!("u-{tag}"));
    let job = jobs.create(NewJob::new(owner.clone(), request())).unwrap();
    assert_eq!(jobs.get(job.id).unwrap().status, JobStatus::Pending);
    let page = jobs.list(&owner, &ListQuery::default()).unwrap();
    assert_eq!(page.jobs.len(), 1);
    // Other tests' jobs may be pending in the same schema: claim until ours comes.
    let worker = format!("w-{tag}");
    while let Some(claimed) = jobs.claim(&worker, Duration::seconds(30), now).unwrap() {
        if claimed.id == job.id {
            break;
        }
    }
    let ack = jobs
        .heartbeat(
            job.id,
            &worker,
            Progress::new(5, Some(10)),
            Duration::seconds(30),
            now,
        )
        .unwrap();
    assert!(!ack.cancel_requested);

    let id = format!("s-{tag}");
    let schedule = NewSchedule::new(
        id.clone(),
        owner.clone(),
        ScheduleTarget::request(request()),
        Trigger::cron("0 2 * * *", "Europe/Paris").unwrap(),
    )
    .build(now)
    .unwrap();
    schedules.insert(&schedule).unwrap();
    assert_eq!(schedules.get(&id).unwrap(), schedule);
    let err = schedules.insert(&schedule).unwrap_err();
    assert!(
        matches!(&err, ExportError::AlreadyExists { kind: "schedule", id: dup } if *dup == id),
        "{err:?}"
    );

    let platform = Platform::new(format!("p-{tag}"), request(), now);
    platforms.insert_platform(&platform).unwrap();
    assert_eq!(platforms.get_platform(&platform.name).unwrap(), platform);

    let event =
        AuditEvent::new(AuditAction::Create, owner.user_id.clone(), None, now).with_job(&job);
    audit.record(&event).unwrap();
    let listed = audit
        .list(&AuditQuery::default().actor(owner.user_id.clone()))
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, event.id);
}

fn exercise_sqlite(db: &SqliteDatabase, tag: &str) {
    let schedules = SqliteScheduleStore::new(db.clone());
    exercise(
        &SqliteJobStore::new(db.clone()),
        &schedules,
        &schedules,
        &SqliteAuditLog::new(db.clone()),
        tag,
    );
}

/// Runs `work` on a plain thread, on a multi-thread runtime's worker, and on a current-thread
/// runtime's thread; none of them may panic.
fn from_every_kind_of_thread(work: impl Fn(&str) + Send + Sync + Clone + 'static) {
    let plain = work.clone();
    std::thread::spawn(move || plain("plain")).join().unwrap();

    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let on_worker = work.clone();
    multi
        .block_on(async move { tokio::spawn(async move { on_worker("multi") }).await })
        .unwrap();

    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    current.block_on(async move { work("current") });
}

#[test]
fn sqlite_stores_share_one_database_and_work_from_every_kind_of_thread() {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDatabase::open(dir.path().join("exports.db")).unwrap();
    from_every_kind_of_thread(move |tag| exercise_sqlite(&db, tag));
}

#[test]
fn an_in_memory_database_is_shared_by_its_stores() {
    let db = SqliteDatabase::open_in_memory().unwrap();
    let jobs = SqliteJobStore::new(db.clone());
    let audit = SqliteAuditLog::new(db.clone());
    let job = jobs
        .create(NewJob::new(Owner::user("u"), request()))
        .unwrap();
    // The same connection: a second store sees the first one's rows.
    assert_eq!(SqliteJobStore::new(db).get(job.id).unwrap().id, job.id);
    assert!(audit.list(&AuditQuery::default()).unwrap().is_empty());
}

#[test]
fn sqlite_driver_errors_are_kept_as_source() {
    let dir = tempfile::tempdir().unwrap();
    let err = SqliteDatabase::open(dir.path().join("missing/dir/x.db")).unwrap_err();
    assert_eq!(err.code(), "STORE");
    let source = std::error::Error::source(&err).expect("the driver's error");
    assert!(
        source.downcast_ref::<rusqlite::Error>().is_some(),
        "{source:?}"
    );
}

#[cfg(feature = "postgres")]
mod postgres {
    use std::time::{Duration as StdDuration, Instant};

    use export_core::audit::PgAuditLog;
    use export_core::db::{PgDatabase, PgOptions, PgSslMode};
    use export_core::job::PgJobStore;
    use export_core::runtime::IoRuntime;
    use export_core::schedule::PgScheduleStore;
    use uuid::Uuid;

    use super::*;

    fn url() -> Option<String> {
        crate::services::pg_url()
    }

    fn fresh_schema() -> String {
        format!("test_{}", Uuid::new_v4().simple())
    }

    fn drop_schema(url: &str, schema: &str) {
        if let Ok(mut client) = crate::pg_admin::Client::connect(url) {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }

    /// Drops the schema when the test ends, passed or not.
    struct Schema {
        url: String,
        name: String,
    }

    impl Drop for Schema {
        fn drop(&mut self) {
            drop_schema(&self.url, &self.name);
        }
    }

    fn schema(url: &str) -> Schema {
        Schema {
            url: url.to_owned(),
            name: fresh_schema(),
        }
    }

    /// `url` with one more query parameter.
    fn with_param(url: &str, param: &str) -> String {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}{param}")
    }

    #[test]
    fn the_audit_log_lives_in_the_database_schema_not_public() {
        let Some(url) = url() else { return };
        let schema = schema(&url);
        let db = PgDatabase::connect(
            &url,
            PgOptions::default().schema(schema.name.clone()),
            &IoRuntime::shared(),
        )
        .unwrap();
        assert_eq!(db.schema(), Some(schema.name.as_str()));
        let jobs = PgJobStore::new(db.clone());
        let audit = PgAuditLog::new(db.clone());
        let job = jobs
            .create(NewJob::new(Owner::user("u"), request()))
            .unwrap();
        let event = AuditEvent::new(AuditAction::Create, "u", None, Utc::now()).with_job(&job);
        audit.record(&event).unwrap();
        // The old way of opening the log, with the same options, lands there too.
        let legacy =
            PgAuditLog::connect_with(&url, PgOptions::default().schema(schema.name.clone()))
                .unwrap();
        let second = AuditEvent::new(AuditAction::Download, "u", None, Utc::now()).with_job(&job);
        legacy.record(&second).unwrap();

        let mut admin = crate::pg_admin::Client::connect(&url).unwrap();
        let tables: Vec<String> = admin
            .query(
                "SELECT table_schema::text FROM information_schema.tables \
                 WHERE table_name = 'audit_events' AND table_schema IN ($1, 'public') \
                 ORDER BY 1",
                &[&schema.name],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(tables.contains(&schema.name), "{tables:?}");
        let count = |admin: &mut crate::pg_admin::Client, table: &str| -> i64 {
            admin
                .query_one(
                    &format!("SELECT count(*) FROM {table} WHERE job_id = $1"),
                    &[&job.id],
                )
                .unwrap()
                .get(0)
        };
        assert_eq!(
            count(&mut admin, &format!("{}.audit_events", schema.name)),
            2
        );
        // `public` holds none of these events (and, on a fresh server, no audit table at all).
        if tables.iter().any(|t| t == "public") {
            assert_eq!(count(&mut admin, "public.audit_events"), 0);
        }
        let jobs_there: i64 = admin
            .query_one(
                &format!(
                    "SELECT count(*) FROM {}.export_jobs WHERE id = $1",
                    schema.name
                ),
                &[&job.id],
            )
            .unwrap()
            .get(0);
        assert_eq!(jobs_there, 1, "the job is in the same schema");
    }

    #[test]
    fn one_database_is_one_pool_for_every_store() {
        let Some(url) = url() else { return };
        let schema = schema(&url);
        let db = PgDatabase::connect(
            &url,
            PgOptions::default()
                .schema(schema.name.clone())
                .pool_size(1),
            &IoRuntime::shared(),
        )
        .unwrap();
        let held = db.connection().unwrap();
        let pid = held.backend_pid().unwrap();
        drop(held);
        let schedules = PgScheduleStore::new(db.clone());
        exercise(
            &PgJobStore::new(db.clone()),
            &schedules,
            &schedules,
            &PgAuditLog::new(db.clone()),
            "one-pool",
        );
        // A pool of one: every store used the same server backend.
        assert_eq!(db.connection().unwrap().backend_pid().unwrap(), pid);
        let mut admin = crate::pg_admin::Client::connect(&url).unwrap();
        let migrated: Vec<(String, i64)> = admin
            .query(
                &format!(
                    "SELECT component, version FROM {}.schema_migrations ORDER BY 1, 2",
                    schema.name
                ),
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(
            migrated,
            vec![
                ("audit".to_string(), 1),
                ("audit".to_string(), 2),
                ("jobs".to_string(), 1),
                ("schedules".to_string(), 1)
            ]
        );
    }

    #[test]
    fn a_full_pool_fails_with_a_typed_error_after_the_wait_timeout() {
        let Some(url) = url() else { return };
        let schema = schema(&url);
        let wait = StdDuration::from_millis(400);
        let db = PgDatabase::connect(
            &url,
            PgOptions::default()
                .schema(schema.name.clone())
                .pool_size(1)
                .wait_timeout(wait),
            &IoRuntime::shared(),
        )
        .unwrap();
        let jobs = PgJobStore::new(db.clone());
        let held = db.connection().unwrap();

        let started = Instant::now();
        let err = db.connection().unwrap_err();
        let waited = started.elapsed();
        assert!(
            matches!(
                err,
                ExportError::Store {
                    backend: "postgres",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("wait timeout of 400ms"), "{err}");
        assert!(waited >= wait, "gave up after {waited:?}");
        assert!(
            waited < wait + StdDuration::from_secs(3),
            "waited {waited:?}"
        );
        // A store operation meets the same limit rather than waiting forever.
        let err = jobs.get(Uuid::new_v4()).unwrap_err();
        assert!(err.to_string().contains("wait timeout"), "{err}");

        drop(held);
        assert_eq!(jobs.get(Uuid::new_v4()).unwrap_err().code(), "NOT_FOUND");
    }

    #[test]
    fn a_connection_older_than_the_maximum_lifetime_is_replaced() {
        let Some(url) = url() else { return };
        let schema = schema(&url);
        let lifetime = StdDuration::from_millis(600);
        let db = PgDatabase::connect(
            &url,
            PgOptions::default()
                .schema(schema.name.clone())
                .pool_size(1)
                .max_lifetime(Some(lifetime)),
            &IoRuntime::shared(),
        )
        .unwrap();
        let first = db.connection().unwrap().backend_pid().unwrap();
        // Young enough: the pool hands the same connection out again.
        assert_eq!(db.connection().unwrap().backend_pid().unwrap(), first);
        std::thread::sleep(lifetime + StdDuration::from_millis(200));
        let second = db.connection().unwrap().backend_pid().unwrap();
        assert_ne!(second, first, "the old connection was recycled");
        // And the store keeps working on the new one.
        PgJobStore::new(db.clone())
            .create(NewJob::new(Owner::user("u"), request()))
            .unwrap();
        assert_eq!(db.connection().unwrap().backend_pid().unwrap(), second);

        // Without a lifetime, the same connection stays.
        let forever = PgDatabase::connect(
            &url,
            PgOptions::default()
                .schema(schema.name.clone())
                .pool_size(1)
                .max_lifetime(None),
            &IoRuntime::shared(),
        )
        .unwrap();
        let pid = forever.connection().unwrap().backend_pid().unwrap();
        std::thread::sleep(lifetime + StdDuration::from_millis(200));
        assert_eq!(forever.connection().unwrap().backend_pid().unwrap(), pid);
    }

    /// A server that answers PostgreSQL's TLS request with `N`, as a server without TLS does,
    /// and closes: its address.
    fn server_without_tls() -> String {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(16) {
                let Ok(mut stream) = stream else { continue };
                let mut request = [0u8; 8];
                if stream.read_exact(&mut request).is_ok() {
                    // 80877103: the SSLRequest code.
                    assert_eq!(&request[4..], &80_877_103_i32.to_be_bytes());
                    let _ = stream.write_all(b"N");
                }
            }
        });
        format!("postgres://export_core@127.0.0.1:{port}/export_core")
    }

    #[test]
    fn tls_modes_that_require_tls_refuse_a_server_without_it() {
        let url = server_without_tls();
        let io = IoRuntime::shared();
        for (how, target, options) in [
            (
                "url",
                with_param(&url, "sslmode=require"),
                PgOptions::default(),
            ),
            (
                "url",
                with_param(&url, "sslmode=verify-full"),
                PgOptions::default(),
            ),
            (
                "url",
                with_param(&url, "sslmode=verify-ca"),
                PgOptions::default(),
            ),
            (
                "options",
                url.clone(),
                PgOptions::default().ssl_mode(PgSslMode::Require),
            ),
        ] {
            let err = PgDatabase::connect(
                &target,
                options.connect_timeout(StdDuration::from_secs(5)),
                &io,
            )
            .unwrap_err();
            assert_eq!(err.code(), "STORE", "{how} {target}: {err}");
            assert!(
                err.to_string().contains("server does not support TLS"),
                "{how} {target}: the error should say TLS was refused: {err}"
            );
            let source = std::error::Error::source(&err).expect("the driver's error");
            assert!(
                source.downcast_ref::<tokio_postgres::Error>().is_some(),
                "{source:?}"
            );
        }
        // A bad mode is a request error before any connection.
        let err = PgDatabase::connect(
            &with_param(&url, "sslmode=sometimes"),
            PgOptions::default(),
            &io,
        )
        .unwrap_err();
        assert_eq!(err.code(), "INVALID_REQUEST");
    }

    /// The CA of the test server's certificate: `EXPORT_CORE_PG_CA`, else the `ca.pem` beside
    /// the server's certificate file (scripts/pg-server.sh makes both).
    fn server_ca(url: &str) -> std::path::PathBuf {
        if let Ok(path) = std::env::var("EXPORT_CORE_PG_CA")
            && !path.trim().is_empty()
        {
            return path.trim().into();
        }
        let mut admin = crate::pg_admin::Client::connect(url).unwrap();
        let ssl: String = admin.query_one("SHOW ssl", &[]).unwrap().get(0);
        assert_eq!(
            ssl, "on",
            "the test server serves no TLS: start it with scripts/pg-server.sh, which switches it on"
        );
        let cert: String = admin.query_one("SHOW ssl_cert_file", &[]).unwrap().get(0);
        std::path::Path::new(&cert).with_file_name("ca.pem")
    }

    /// Whether the server sees connection `pid` as encrypted.
    fn encrypted(url: &str, pid: i32) -> bool {
        let mut admin = crate::pg_admin::Client::connect(url).unwrap();
        admin
            .query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = $1", &[&pid])
            .unwrap()
            .get(0)
    }

    /// `url` with its host replaced.
    fn with_host(url: &str, host: &str) -> String {
        url.replacen("@127.0.0.1:", &format!("@{host}:"), 1)
    }

    #[test]
    fn tls_against_the_test_server_verifies_as_the_mode_says() {
        let Some(url) = url() else { return };
        let ca = server_ca(&url);
        let io = IoRuntime::shared();
        let connect = |target: &str, options: PgOptions| {
            PgDatabase::connect(
                target,
                options.connect_timeout(StdDuration::from_secs(5)),
                &io,
            )
        };
        let pid_of = |db: &PgDatabase| db.connection().unwrap().backend_pid().unwrap();

        // verify-full with the server's CA: the chain and the address (IP 127.0.0.1) match.
        let db = connect(
            &url,
            PgOptions::default()
                .ssl_mode(PgSslMode::VerifyFull)
                .ca_file(&ca),
        )
        .unwrap();
        let held = db.connection().unwrap();
        assert!(
            encrypted(&url, held.backend_pid().unwrap()),
            "verify-full is encrypted"
        );
        drop(held);
        // The same from the URL's parameters.
        let from_url = with_param(
            &url,
            &format!("sslmode=verify-full&sslrootcert={}", ca.display()),
        );
        let db = connect(&from_url, PgOptions::default()).unwrap();
        assert_eq!(db.ssl_mode(), PgSslMode::VerifyFull);
        assert!(encrypted(&url, pid_of(&db)));

        // Mozilla's roots do not know the test CA: verify-full and verify-ca refuse the server.
        for mode in [PgSslMode::VerifyFull, PgSslMode::VerifyCa] {
            let err = connect(
                &url,
                PgOptions::default()
                    .ssl_mode(mode)
                    .roots(export_core::db::PgRoots::Webpki),
            )
            .unwrap_err();
            assert_eq!(err.code(), "STORE");
            assert!(err.to_string().contains("UnknownIssuer"), "{mode:?}: {err}");
        }

        // By the name `localhost`, which the certificate does not carry: verify-full refuses,
        // verify-ca (chain only) accepts.
        let by_name = with_host(&url, "localhost");
        let err = connect(
            &by_name,
            PgOptions::default()
                .ssl_mode(PgSslMode::VerifyFull)
                .ca_file(&ca),
        )
        .unwrap_err();
        assert!(err.to_string().contains("not valid for name"), "{err}");
        let db = connect(
            &by_name,
            PgOptions::default()
                .ssl_mode(PgSslMode::VerifyCa)
                .ca_file(&ca),
        )
        .unwrap();
        assert!(encrypted(&url, pid_of(&db)));

        // require and prefer encrypt without verifying; disable does not encrypt.
        for (mode, tls) in [
            (PgSslMode::Require, true),
            (PgSslMode::Prefer, true),
            (PgSslMode::Disable, false),
        ] {
            let db = connect(&url, PgOptions::default().ssl_mode(mode)).unwrap();
            assert_eq!(encrypted(&url, pid_of(&db)), tls, "{mode:?}");
        }
        // The options win over the URL.
        let db = connect(
            &with_param(&url, "sslmode=require"),
            PgOptions::default().ssl_mode(PgSslMode::Disable),
        )
        .unwrap();
        assert_eq!(db.ssl_mode(), PgSslMode::Disable);
        assert!(!encrypted(&url, pid_of(&db)));
    }

    #[test]
    fn an_engine_puts_every_store_and_the_audit_log_in_its_database_schema() {
        use export_core::engine::{Engine, EngineConfig};
        let Some(url) = url() else { return };
        let schema = schema(&url);
        let mut config = EngineConfig::default();
        config.job_store.url = url.clone();
        config.job_store.schema = Some(schema.name.clone());
        config.job_store.pool_size = 1;
        let engine = Engine::open(config.clone()).unwrap();
        let job = engine
            .job_store()
            .create(NewJob::new(Owner::user("u"), request()))
            .unwrap();
        let event = AuditEvent::new(AuditAction::Create, "u", None, Utc::now()).with_job(&job);
        engine.audit_log().record(&event).unwrap();
        let mut admin = crate::pg_admin::Client::connect(&url).unwrap();
        let n: i64 = admin
            .query_one(
                &format!(
                    "SELECT count(*) FROM {}.audit_events WHERE id = $1",
                    schema.name
                ),
                &[&event.id],
            )
            .unwrap()
            .get(0);
        assert_eq!(n, 1, "the engine's audit log is in the jobs' schema");

        config.job_store.tls = "sometimes".into();
        let err = Engine::open(config).unwrap_err();
        assert_eq!(err.code(), "CONFIG");
        assert!(err.to_string().contains("job_store.tls"), "{err}");
    }

    #[test]
    fn an_unreachable_server_is_a_store_error_with_the_driver_error_as_source() {
        let err = PgDatabase::connect(
            "postgres://nobody@127.0.0.1:1/none",
            PgOptions::default().connect_timeout(StdDuration::from_secs(2)),
            &IoRuntime::shared(),
        )
        .unwrap_err();
        assert_eq!(err.code(), "STORE");
        let source = std::error::Error::source(&err).expect("the driver's error");
        assert!(
            source.downcast_ref::<tokio_postgres::Error>().is_some(),
            "{source:?}"
        );
    }

    #[test]
    fn every_store_works_from_every_kind_of_thread() {
        let Some(url) = url() else { return };
        let schema = schema(&url);
        let name = schema.name.clone();
        from_every_kind_of_thread(move |tag| {
            // Connecting from there too, on the shared runtime and on an engine's own.
            for (i, io) in [IoRuntime::shared(), IoRuntime::new(1).unwrap()]
                .iter()
                .enumerate()
            {
                let db = PgDatabase::connect(&url, PgOptions::default().schema(name.clone()), io)
                    .unwrap();
                let schedules = PgScheduleStore::new(db.clone());
                exercise(
                    &PgJobStore::new(db.clone()),
                    &schedules,
                    &schedules,
                    &PgAuditLog::new(db),
                    &format!("{tag}-{i}"),
                );
            }
        });
    }
}
