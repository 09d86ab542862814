//! One suite for every AuditLog: memory, SQLite, JSON Lines and PostgreSQL
//! (`EXPORT_CORE_PG_URL`, else SKIPPED).

#[cfg(feature = "postgres")]
#[path = "common/pg_admin.rs"]
mod pg_admin;
#[path = "common/services.rs"]
mod services;

use chrono::{DateTime, Duration, Utc};
use export_core::audit::{
    AuditAction, AuditEvent, AuditLog, AuditQuery, JsonlAuditLog, MemoryAuditLog, Pseudonymiser,
    RiskLevel, SqliteAuditLog,
};
use export_core::filter::Filters;
use export_core::job::{JobStore, NewJob, Owner, SqliteJobStore};
use export_core::request::{Audience, ExportRequest, Format};
use uuid::Uuid;

fn t0() -> DateTime<Utc> {
    "2026-11-03T08:00:00.123456Z".parse().unwrap()
}

fn request(audience: Audience) -> ExportRequest {
    let mut r = ExportRequest::new("trip", Format::Csv);
    r.audience = Some(audience);
    r.filters = Filters {
        operators: vec![7, 9],
        ..Filters::default()
    };
    r
}

/// The suite: `actor` is unique per run so a shared database does not disturb it.
fn suite(log: &dyn AuditLog, actor: &str) {
    let job = Uuid::new_v4();
    let other_job = Uuid::new_v4();
    let mut create = AuditEvent::new(AuditAction::Create, actor, Some("op-7".into()), t0())
        .with_request(&request(Audience::Operator));
    create.job_id = Some(job);
    let mut download = AuditEvent::new(
        AuditAction::Download,
        actor,
        Some("op-7".into()),
        t0() + Duration::minutes(5),
    )
    .with_request(&request(Audience::Operator))
    .with_row_count(12_345);
    download.job_id = Some(job);
    let mut open = AuditEvent::new(
        AuditAction::Cancel,
        actor,
        None,
        t0() + Duration::minutes(1),
    )
    .with_request(&request(Audience::Opendata));
    open.job_id = Some(other_job);
    let schedule = AuditEvent::new(
        AuditAction::ScheduleChange,
        actor,
        None,
        t0() + Duration::hours(1),
    )
    .with_detail("schedule nightly: disabled");

    for e in [&create, &download, &open, &schedule] {
        log.record(e).unwrap();
    }
    assert_eq!(create.risk, RiskLevel::Medium);
    assert_eq!(open.risk, RiskLevel::Low);
    assert_eq!(create.filters["operators"], serde_json::json!([7, 9]));

    // Everything by the actor, oldest first, read back identically.
    let all = log.list(&AuditQuery::default().actor(actor)).unwrap();
    assert_eq!(
        all,
        vec![
            create.clone(),
            open.clone(),
            download.clone(),
            schedule.clone()
        ]
    );
    // By job.
    assert_eq!(
        log.list(&AuditQuery::default().job(job)).unwrap(),
        vec![create.clone(), download.clone()]
    );
    // Since (inclusive) and limit.
    let since = log
        .list(
            &AuditQuery::default()
                .actor(actor)
                .since(t0() + Duration::minutes(1)),
        )
        .unwrap();
    assert_eq!(
        since,
        vec![open.clone(), download.clone(), schedule.clone()]
    );
    let limited = log
        .list(&AuditQuery::default().actor(actor).limit(2))
        .unwrap();
    assert_eq!(limited, vec![create.clone(), open.clone()]);
    // Nothing for someone else.
    assert!(
        log.list(&AuditQuery::default().actor(format!("{actor}-nobody")))
            .unwrap()
            .is_empty()
    );
    // Bad limits.
    assert_eq!(
        log.list(&AuditQuery::default().limit(0))
            .unwrap_err()
            .code(),
        "INVALID_REQUEST"
    );

    // Pseudonymising a job's events: its two events change, once; the others stay.
    let p = Pseudonymiser::new(b"0123456789abcdef").unwrap();
    assert_eq!(log.pseudonymise_jobs(&[job], &p).unwrap(), 2);
    assert_eq!(log.pseudonymise_jobs(&[job], &p).unwrap(), 0);
    let events = log.list(&AuditQuery::default().job(job)).unwrap();
    assert_eq!(events.len(), 2);
    for (e, before) in events.iter().zip([&create, &download]) {
        assert_eq!(e.actor_user_id, p.user(actor));
        assert_eq!(e.actor_organisation_id, Some(p.organisation("op-7")));
        let mut expected = (*before).clone();
        expected.actor_user_id = e.actor_user_id.clone();
        expected.actor_organisation_id = e.actor_organisation_id.clone();
        assert_eq!(e, &expected, "only the actor changes");
    }
    let left = log.list(&AuditQuery::default().actor(actor)).unwrap();
    assert_eq!(left, vec![open.clone(), schedule.clone()]);
    log.scrub().unwrap();

    // Audit retention: events before the cut-off go (this run's, and any older ones).
    let deleted = log.delete_before(t0() + Duration::minutes(2)).unwrap();
    assert!(deleted >= 2, "{deleted}");
    assert_eq!(
        log.list(&AuditQuery::default().actor(actor)).unwrap(),
        vec![schedule.clone()]
    );
    assert_eq!(
        log.list(&AuditQuery::default().job(job)).unwrap().len(),
        1,
        "the download, 5 minutes in, stays"
    );
    log.scrub().unwrap();
}

fn actor() -> String {
    format!("user-{}", Uuid::new_v4())
}

#[test]
fn memory() {
    let log = MemoryAuditLog::new();
    suite(&log, &actor());
    let e = AuditEvent::new(AuditAction::Create, "u", None, t0());
    log.record(&e).unwrap();
    assert_eq!(log.record(&e).unwrap_err().code(), "ALREADY_EXISTS");
}

#[test]
fn sqlite_in_the_job_store_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export-core.db");
    let store = SqliteJobStore::open(&path).unwrap();
    let log = SqliteAuditLog::open(&path).unwrap();
    suite(&log, &actor());
    let e = AuditEvent::new(AuditAction::Create, "u", None, t0());
    log.record(&e).unwrap();
    assert_eq!(log.record(&e).unwrap_err().code(), "ALREADY_EXISTS");
    // The job store still works beside it, and both reopen (migrations recorded once each).
    store
        .create(NewJob::new(
            Owner::user("u"),
            ExportRequest::new("trip", Format::Csv),
        ))
        .unwrap();
    drop(log);
    drop(store);
    let log = SqliteAuditLog::open(&path).unwrap();
    SqliteJobStore::open(&path).unwrap();
    assert_eq!(log.list(&AuditQuery::default()).unwrap().len(), 3);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let components: Vec<String> = conn
        .prepare("SELECT DISTINCT component FROM schema_migrations ORDER BY component")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // One migration runner: opening any store of the file migrates every table.
    assert_eq!(components, vec!["audit", "jobs", "schedules"]);
}

#[test]
fn sqlite_in_memory() {
    suite(&SqliteAuditLog::open_in_memory().unwrap(), &actor());
}

#[test]
fn jsonl() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = JsonlAuditLog::open(&path).unwrap();
    suite(&log, &actor());
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text.lines().count(),
        2,
        "rewritten without the deleted events"
    );
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(value["action"].is_string() && value["risk"].is_string());
    }
    // Reopened: appends, reads everything back; a torn last line is ignored.
    drop(log);
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(b"{\"id\":\"torn").unwrap();
    let log = JsonlAuditLog::open(&path).unwrap();
    assert_eq!(log.list(&AuditQuery::default()).unwrap().len(), 2);
}

#[test]
fn jsonl_appenders_follow_a_rewrite_by_another_handle() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    // Two handles, as two processes would hold.
    let purge = JsonlAuditLog::open(&path).unwrap();
    let worker = JsonlAuditLog::open(&path).unwrap();
    let job = Uuid::new_v4();
    let mut event = AuditEvent::new(AuditAction::Create, "alice", Some("op-7".into()), t0());
    event.job_id = Some(job);
    worker.record(&event).unwrap();
    let p = Pseudonymiser::random();
    assert_eq!(purge.pseudonymise_jobs(&[job], &p).unwrap(), 1);
    // The other handle's next append goes into the new file, not the replaced one.
    let later = AuditEvent::new(
        AuditAction::Download,
        "bob",
        None,
        t0() + Duration::hours(1),
    );
    worker.record(&later).unwrap();
    let all = JsonlAuditLog::open(&path)
        .unwrap()
        .list(&AuditQuery::default())
        .unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[0].actor_user_id, p.user("alice"));
    assert_eq!(all[1], later);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("alice") && !text.contains("op-7"), "{text}");
}

#[cfg(feature = "postgres")]
#[test]
fn postgres() {
    let Some(url) = services::pg_url() else {
        return;
    };
    // Its own schema: the suite's audit retention deletes every event before its cut-off.
    let schema = format!("test_{}", Uuid::new_v4().simple());
    let options = export_core::db::PgOptions::default().schema(schema.clone());
    let log = export_core::audit::PgAuditLog::connect_with(&url, options.clone()).unwrap();
    suite(&log, &actor());
    let e = AuditEvent::new(AuditAction::Create, actor(), None, t0());
    log.record(&e).unwrap();
    assert_eq!(log.record(&e).unwrap_err().code(), "ALREADY_EXISTS");
    // A second connection migrates nothing and sees the events.
    let again = export_core::audit::PgAuditLog::connect_with(&url, options).unwrap();
    assert_eq!(
        again
            .list(&AuditQuery::default().actor(e.actor_user_id.clone()))
            .unwrap(),
        vec![e]
    );
    if let Ok(mut client) = crate::pg_admin::Client::connect(&url) {
        let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    }
}
