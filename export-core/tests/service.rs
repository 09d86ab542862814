//! ExportService: permission matrix, validation before a job exists, downloads, retention,
//! audit events and the rate limit.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use export_core::ExportError;
use export_core::audit::{AuditAction, AuditLog, AuditQuery, MemoryAuditLog, RiskLevel};
use export_core::clock::ManualClock;
use export_core::job::{JobResult, JobStatus, JobStore, ListQuery, MemoryJobStore, Owner};
use export_core::registry::SchemaRegistry;
use export_core::request::{Audience, ExportRequest, Format, Period, SchemaVersion};
use export_core::service::{ExportService, Principal, Scope, ServiceConfig};
use export_core::storage::{MemoryStorage, Storage, StorageKey};
use sha2::{Digest, Sha256};
use uuid::Uuid;

struct Env {
    service: ExportService,
    store: Arc<MemoryJobStore>,
    storage: Arc<MemoryStorage>,
    audit: Arc<MemoryAuditLog>,
    clock: Arc<ManualClock>,
}

fn now() -> DateTime<Utc> {
    "2026-11-20T10:00:00Z".parse().unwrap()
}

fn env_with(config: ServiceConfig) -> Env {
    let store = Arc::new(MemoryJobStore::new());
    let storage = Arc::new(MemoryStorage::new().unwrap());
    let audit = Arc::new(MemoryAuditLog::new());
    let clock = Arc::new(ManualClock::new(now()));
    let service = ExportService::new(
        store.clone(),
        storage.clone(),
        audit.clone(),
        Arc::new(SchemaRegistry::new()),
        clock.clone(),
    )
    .with_config(config);
    Env {
        service,
        store,
        storage,
        audit,
        clock,
    }
}

fn env() -> Env {
    env_with(ServiceConfig::default())
}

fn request(audience: Audience) -> ExportRequest {
    let mut r = ExportRequest::new("trip", Format::Xlsx);
    r.version = Some(SchemaVersion::V3);
    r.audience = Some(audience);
    r.period = Some(Period::parse("2026-10-01", "2026-11-01", None).unwrap());
    r
}

fn owner() -> Principal {
    Principal::new("alice", Some("op-7"))
        .operator(7)
        .with_all_scopes()
}

fn colleague() -> Principal {
    Principal::new("bob", Some("op-7"))
        .operator(7)
        .with_all_scopes()
}

/// The owner's user id in another organisation: another owner.
fn same_user_other_org() -> Principal {
    Principal::new("alice", Some("op-9"))
        .operator(9)
        .with_all_scopes()
}

fn stranger() -> Principal {
    Principal::new("carol", Some("op-9"))
        .operator(9)
        .with_all_scopes()
}

/// Simulates a worker: claims the job, writes `content` to storage, completes it.
fn complete(env: &Env, id: Uuid, content: &[u8]) -> String {
    let now = env.clock_now();
    let claimed = env
        .store
        .claim("w-1", Duration::seconds(30), now)
        .unwrap()
        .expect("a pending job");
    assert_eq!(claimed.id, id);
    let key = StorageKey::parse(&format!("exports/{id}.xlsx")).unwrap();
    let mut upload = env
        .storage
        .create(&key, Format::Xlsx.content_type())
        .unwrap();
    upload.write_all(content).unwrap();
    let stored = upload.commit().unwrap();
    env.store
        .complete(
            id,
            "w-1",
            JobResult {
                storage_key: key.as_str().into(),
                size_bytes: stored.size,
                rows: 42,
                sha256: stored.sha256.clone(),
                file_name: format!("{id}.xlsx"),
                content_type: stored.content_type,
            },
            None,
            now,
        )
        .unwrap();
    stored.sha256
}

impl Env {
    fn clock_now(&self) -> DateTime<Utc> {
        use export_core::clock::Clock;
        self.clock.now()
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    Ok,
    NotFound,
    Forbidden,
}

fn outcome<T>(result: Result<T, ExportError>) -> Outcome {
    match result {
        Ok(_) => Outcome::Ok,
        Err(ExportError::NotFound { .. }) => Outcome::NotFound,
        Err(ExportError::Forbidden { .. }) => Outcome::Forbidden,
        Err(other) => panic!("unexpected error: {other}"),
    }
}

type Op = fn(&ExportService, &Principal, Uuid) -> Outcome;

#[test]
fn permission_matrix() {
    let ops: Vec<(&str, Scope, bool, Op)> = vec![
        ("get", Scope::Read, false, |s, p, id| outcome(s.get(p, id))),
        ("status", Scope::Status, false, |s, p, id| {
            outcome(s.status(p, id))
        }),
        ("cancel", Scope::Cancel, false, |s, p, id| {
            outcome(s.cancel(p, id))
        }),
        ("download", Scope::Download, true, |s, p, id| {
            outcome(s.download(p, id))
        }),
        ("download_url", Scope::Download, true, |s, p, id| {
            outcome(s.download_url(p, id, None))
        }),
        ("delete", Scope::Delete, true, |s, p, id| {
            outcome(s.delete(p, id))
        }),
        ("list", Scope::List, false, |s, p, id| {
            match s.list(p, &ListQuery::default()) {
                Ok(page) if page.jobs.iter().any(|j| j.id == id) => Outcome::Ok,
                // Not listed: the list equivalent of not found.
                Ok(_) => Outcome::NotFound,
                Err(e) => outcome::<()>(Err(e)),
            }
        }),
    ];
    for (name, scope, completed, op) in ops {
        let missing_scope = {
            let mut p = owner();
            p.scopes.remove(&scope);
            p
        };
        let actors = [
            ("owner", owner(), Outcome::Ok),
            ("same organisation", colleague(), Outcome::NotFound),
            ("other user", stranger(), Outcome::NotFound),
            (
                "same user, other organisation",
                same_user_other_org(),
                Outcome::NotFound,
            ),
            ("missing scope", missing_scope, Outcome::Forbidden),
        ];
        for (who, principal, expected) in actors {
            let env = env();
            let job = env
                .service
                .create(&owner(), request(Audience::Operator))
                .unwrap();
            if completed {
                complete(&env, job.id, b"content");
            }
            let got = op(&env.service, &principal, job.id);
            assert_eq!(got, expected, "{name} by {who}");
        }
    }

    // create: anyone with the scope, Forbidden without.
    let env = env();
    for p in [owner(), colleague(), stranger()] {
        env.service.create(&p, request(Audience::Opendata)).unwrap();
    }
    let mut no_create = owner();
    no_create.scopes.remove(&Scope::Create);
    let err = env
        .service
        .create(&no_create, request(Audience::Opendata))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "forbidden: scope `export.create` is required"
    );
}

#[test]
fn someone_elses_job_is_indistinguishable_from_a_missing_one() {
    let env = env();
    let job = env
        .service
        .create(&owner(), request(Audience::Operator))
        .unwrap();
    let foreign = env.service.get(&colleague(), job.id).unwrap_err();
    let foreign_status = env.service.status(&colleague(), job.id).unwrap_err();
    env.service.delete(&owner(), job.id).unwrap();
    let missing = env.service.get(&owner(), job.id).unwrap_err();
    assert_eq!(foreign.to_string(), missing.to_string());
    assert_eq!(foreign_status.to_string(), missing.to_string());
    assert_eq!(foreign.code(), "NOT_FOUND");
}

#[test]
fn read_and_write_exports_map_onto_scopes() {
    let read = Principal::new("u", None)
        .with_scopes("READ_EXPORTS")
        .unwrap();
    for s in [Scope::List, Scope::Read, Scope::Status, Scope::Download] {
        assert!(read.has(s), "{s}");
    }
    for s in [Scope::Create, Scope::Cancel, Scope::Delete] {
        assert!(!read.has(s), "{s}");
    }
    let write = Principal::new("u", None)
        .with_scopes("WRITE_EXPORTS")
        .unwrap();
    for s in [Scope::Create, Scope::Cancel, Scope::Delete] {
        assert!(write.has(s), "{s}");
    }
    assert!(!write.has(Scope::Download));
    let mixed = Principal::new("u", None)
        .with_scopes("export.create, export.status")
        .unwrap();
    assert_eq!(mixed.scopes.len(), 2);
    let err = Principal::new("u", None)
        .with_scopes("export.create,ADMIN")
        .unwrap_err();
    assert_eq!(err.code(), "INVALID_REQUEST");
    assert!(err.to_string().contains("`ADMIN`"), "{err}");

    // Through the service.
    let env = env();
    let writer = Principal::new("alice", None)
        .with_scopes("WRITE_EXPORTS")
        .unwrap();
    let reader = Principal::new("alice", None)
        .with_scopes("READ_EXPORTS")
        .unwrap();
    let job = env
        .service
        .create(&writer, request(Audience::Opendata))
        .unwrap();
    assert_eq!(env.service.get(&reader, job.id).unwrap().id, job.id);
    assert_eq!(
        env.service.get(&writer, job.id).unwrap_err().code(),
        "FORBIDDEN"
    );
    assert_eq!(
        env.service.cancel(&reader, job.id).unwrap_err().code(),
        "FORBIDDEN"
    );
    env.service.cancel(&writer, job.id).unwrap();
}

#[test]
fn requests_are_validated_before_a_job_exists() {
    let env = env();
    let p = owner();

    let mut unknown_field = request(Audience::Operator);
    unknown_field.fields.include = vec!["no_such_field".into()];
    let err = env.service.create(&p, unknown_field).unwrap_err();
    assert_eq!(err.code(), "UNKNOWN_FIELD", "{err}");

    let mut backwards = request(Audience::Operator);
    let period = backwards.period.unwrap();
    backwards.period = Some(Period {
        start: period.end,
        end: period.start,
        time_zone: period.time_zone,
    });
    let err = env.service.create(&p, backwards).unwrap_err();
    assert_eq!(err.code(), "INVALID_PERIOD", "{err}");

    let mut too_long = request(Audience::Operator);
    too_long.period = Some(Period::parse("2024-10-01", "2026-11-01", None).unwrap());
    let err = env.service.create(&p, too_long).unwrap_err();
    assert_eq!(err.code(), "INVALID_PERIOD", "{err}");

    // The API's consolidation rule: a period must end at least 5 days before now.
    let mut too_recent = request(Audience::Operator);
    too_recent.period = Some(Period {
        start: now() - chrono::Duration::days(10),
        end: now() - chrono::Duration::days(4),
        time_zone: chrono_tz::Europe::Paris,
    });
    let err = env.service.create(&p, too_recent).unwrap_err();
    assert!(err.to_string().contains("days ago"), "{err}");

    let mut v2_xlsx = request(Audience::Operator);
    v2_xlsx.version = Some(SchemaVersion::V2);
    let err = env.service.create(&p, v2_xlsx).unwrap_err();
    assert_eq!(err.code(), "INVALID_REQUEST", "{err}");

    let err = env
        .service
        .create(&p, ExportRequest::new("orders", Format::Csv))
        .unwrap_err();
    assert!(err.to_string().contains("unknown schema"), "{err}");

    assert!(
        env.store
            .list(
                &Owner::in_organisation("alice", "op-7"),
                &ListQuery::default()
            )
            .unwrap()
            .jobs
            .is_empty()
    );
    assert!(env.audit.events().is_empty());
}

#[test]
fn missing_period_and_version_are_fixed_at_creation() {
    let env = env();
    let mut r = request(Audience::Opendata);
    r.period = None;
    r.version = None;
    let job = env.service.create(&owner(), r).unwrap();
    let period = job.request.period.expect("period filled in");
    assert_eq!(
        period,
        Period::parse("2026-10-01", "2026-11-01", Some("Europe/Paris")).unwrap()
    );
    assert_eq!(job.request.version, Some(SchemaVersion::V3));
}

#[test]
fn the_default_period_is_never_one_the_service_refuses() {
    let env = env();
    let create_without_period = |at: &str| {
        env.clock.set(at.parse().unwrap());
        let mut r = request(Audience::Operator);
        r.period = None;
        env.service.create(&owner(), r).map(|job| {
            let p = job.request.period.expect("period filled in");
            (p.start.to_rfc3339(), p.end.to_rfc3339())
        })
    };
    // 1 December, 09:00 Paris: November is still receiving trips, so October.
    assert_eq!(
        create_without_period("2026-12-01T08:00:00Z").unwrap(),
        (
            "2026-09-30T22:00:00+00:00".to_string(),
            "2026-10-31T23:00:00+00:00".to_string()
        )
    );
    // 5 December, 23:59 Paris: still October (November ended 4 days and 23:59 ago).
    assert_eq!(
        create_without_period("2026-12-05T22:59:00Z").unwrap().1,
        "2026-10-31T23:00:00+00:00"
    );
    // 6 December, 00:00 Paris: November.
    assert_eq!(
        create_without_period("2026-12-05T23:00:00Z").unwrap(),
        (
            "2026-10-31T23:00:00+00:00".to_string(),
            "2026-11-30T23:00:00+00:00".to_string()
        )
    );
    // A period the user names is still held to the 5-day rule.
    env.clock.set("2026-12-03T08:00:00Z".parse().unwrap());
    let mut r = request(Audience::Operator);
    r.period = Some(Period::parse("2026-11-01", "2026-12-01", None).unwrap());
    let err = env.service.create(&owner(), r).unwrap_err();
    assert_eq!(err.code(), "INVALID_PERIOD", "{err}");
}

#[test]
fn download_streams_the_file_with_its_checksum() {
    let env = env();
    let job = env
        .service
        .create(&owner(), request(Audience::Opendata))
        .unwrap();

    let err = env.service.download(&owner(), job.id).unwrap_err();
    match &err {
        ExportError::InvalidState {
            kind, state, event, ..
        } => assert_eq!(
            (*kind, state.as_str(), event.as_str()),
            ("job", "pending", "download")
        ),
        other => panic!("expected InvalidState, got {other:?}"),
    }
    assert!(!err.is_retryable());

    let content = b"PK\x03\x04 pretend this is a workbook".repeat(100);
    let sha = complete(&env, job.id, &content);
    let mut download = env.service.download(&owner(), job.id).unwrap();
    assert_eq!(download.file_name, "trips-v3-opendata-2026-10.xlsx");
    assert_eq!(download.size, content.len() as u64);
    assert_eq!(download.sha256, sha);
    assert_eq!(download.rows, 42);
    assert_eq!(download.content_type, Format::Xlsx.content_type());
    let mut read = Vec::new();
    download.reader.read_to_end(&mut read).unwrap();
    assert_eq!(read, content);
    assert_eq!(hex::encode(Sha256::digest(&read)), download.sha256);

    // Or verified by the storage's reader.
    let again = env.service.download(&owner(), job.id).unwrap();
    let sha = again.sha256.clone();
    assert_eq!(again.reader.verify(&sha).unwrap(), content.len() as u64);

    // Memory storage cannot sign links.
    assert_eq!(
        env.service.download_url(&owner(), job.id, None).unwrap(),
        None
    );
}

#[test]
fn expired_exports_are_gone() {
    let env = env();
    let job = env
        .service
        .create(&owner(), request(Audience::Operator))
        .unwrap();
    complete(&env, job.id, b"data");
    let later = env.clock_now() + Duration::days(7);
    // Retention ended but not yet run: gone already.
    env.clock.set(later);
    assert_eq!(
        env.service.download(&owner(), job.id).unwrap_err().code(),
        "GONE"
    );
    env.store.expire(job.id, later, false).unwrap();
    let err = env.service.download(&owner(), job.id).unwrap_err();
    assert_eq!(err.code(), "GONE", "{err}");
    assert!(err.to_string().contains("expired"), "{err}");
    assert_eq!(
        env.service
            .download_url(&owner(), job.id, None)
            .unwrap_err()
            .code(),
        "GONE"
    );
}

#[test]
fn retention_follows_the_audience() {
    let env = env();
    let personal = env
        .service
        .create(
            &Principal::new("tess", Some("aom-1"))
                .territory("217500016")
                .with_all_scopes(),
            request(Audience::Territory),
        )
        .unwrap();
    assert_eq!(personal.retention, Some(Duration::days(7)));
    let open = env
        .service
        .create(&owner(), request(Audience::Opendata))
        .unwrap();
    assert_eq!(open.retention, None);

    let env = env_with(ServiceConfig {
        opendata_retention: Some(Duration::days(90)),
        ..ServiceConfig::default()
    });
    let open = env
        .service
        .create(&owner(), request(Audience::Opendata))
        .unwrap();
    assert_eq!(open.retention, Some(Duration::days(90)));
}

#[test]
fn cancel_and_delete() {
    let env = env();
    let job = env
        .service
        .create(&owner(), request(Audience::Operator))
        .unwrap();
    let cancelled = env.service.cancel(&owner(), job.id).unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    // Idempotent.
    env.service.cancel(&owner(), job.id).unwrap();

    // A running job: cancel requested, then deleted.
    let running = env
        .service
        .create(&owner(), request(Audience::Operator))
        .unwrap();
    env.store
        .claim("w-1", Duration::seconds(30), env.clock_now())
        .unwrap()
        .unwrap();
    env.service.delete(&owner(), running.id).unwrap();
    assert_eq!(env.store.get(running.id).unwrap_err().code(), "NOT_FOUND");

    // A succeeded job: its file goes too.
    let done = env
        .service
        .create(&owner(), request(Audience::Operator))
        .unwrap();
    complete(&env, done.id, b"data");
    let key = StorageKey::parse(&format!("exports/{}.xlsx", done.id)).unwrap();
    assert!(env.storage.head(&key).unwrap().is_some());
    env.service.delete(&owner(), done.id).unwrap();
    assert!(env.storage.head(&key).unwrap().is_none());

    // Succeeded jobs cannot be cancelled.
    let finished = env
        .service
        .create(&owner(), request(Audience::Operator))
        .unwrap();
    complete(&env, finished.id, b"data");
    assert_eq!(
        env.service
            .cancel(&owner(), finished.id)
            .unwrap_err()
            .code(),
        "INVALID_STATE"
    );
    // A missing file is fine on delete.
    env.storage
        .delete(&StorageKey::parse(&format!("exports/{}.xlsx", finished.id)).unwrap())
        .unwrap();
    env.service.delete(&owner(), finished.id).unwrap();
}

#[test]
fn audit_events_are_recorded_with_their_risk() {
    let env = env();
    let personal = env
        .service
        .create(&owner(), request(Audience::Operator))
        .unwrap();
    complete(&env, personal.id, b"rows");
    env.service.download(&owner(), personal.id).unwrap();
    env.service.delete(&owner(), personal.id).unwrap();

    let open = env
        .service
        .create(&owner(), request(Audience::Opendata))
        .unwrap();
    env.service.cancel(&owner(), open.id).unwrap();

    let events = env
        .audit
        .list(&AuditQuery::default().job(personal.id))
        .unwrap();
    let actions: Vec<AuditAction> = events.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        vec![
            AuditAction::Create,
            AuditAction::Download,
            AuditAction::Delete
        ]
    );
    for e in &events {
        assert_eq!(e.risk, RiskLevel::Medium);
        assert_eq!(e.actor_user_id, "alice");
        assert_eq!(e.actor_organisation_id.as_deref(), Some("op-7"));
        assert_eq!(e.format, Some(Format::Xlsx));
        assert_eq!(e.audience, Some(Audience::Operator));
        assert_eq!(e.schema.as_deref(), Some("trip"));
    }
    assert_eq!(events[0].row_count, None);
    assert_eq!(events[1].row_count, Some(42));

    let events = env.audit.list(&AuditQuery::default().job(open.id)).unwrap();
    let actions: Vec<AuditAction> = events.iter().map(|e| e.action).collect();
    assert_eq!(actions, vec![AuditAction::Create, AuditAction::Cancel]);
    assert!(events.iter().all(|e| e.risk == RiskLevel::Low));

    // Refused operations are not audited: another user's job answers like a missing one.
    let before = env.audit.events().len();
    let refused = env.service.get(&colleague(), open.id).unwrap_err();
    assert_eq!(refused.code(), "NOT_FOUND", "{refused}");
    let refused = env.service.delete(&colleague(), open.id).unwrap_err();
    assert_eq!(refused.code(), "NOT_FOUND", "{refused}");
    assert_eq!(env.audit.events().len(), before);
    // The job is still there for its owner.
    assert_eq!(env.service.get(&owner(), open.id).unwrap().id, open.id);
}

#[test]
fn creations_are_rate_limited_per_user() {
    let env = env_with(ServiceConfig {
        create_rate_limit: Some((3, Duration::minutes(1))),
        ..ServiceConfig::default()
    });
    for _ in 0..3 {
        env.service
            .create(&owner(), request(Audience::Opendata))
            .unwrap();
    }
    let err = env
        .service
        .create(&owner(), request(Audience::Opendata))
        .unwrap_err();
    assert_eq!(err.code(), "RATE_LIMITED");
    assert!(err.is_retryable());
    // The three creations happened at once: the window frees a slot a full minute later.
    assert_eq!(err.retry_after(), Some(StdDuration::from_secs(60)), "{err}");
    assert!(matches!(err, ExportError::RateLimited { .. }));
    env.clock.advance(Duration::seconds(20));
    let later = env
        .service
        .create(&owner(), request(Audience::Opendata))
        .unwrap_err();
    assert_eq!(
        later.retry_after(),
        Some(StdDuration::from_secs(40)),
        "{later}"
    );
    // Other users are not affected.
    env.service
        .create(&stranger(), request(Audience::Opendata))
        .unwrap();
    // Rejected requests do not count.
    let mut bad = request(Audience::Opendata);
    bad.version = Some(SchemaVersion::V2);
    for _ in 0..5 {
        assert_ne!(
            env.service
                .create(&stranger(), bad.clone())
                .unwrap_err()
                .code(),
            "RATE_LIMITED"
        );
    }
    env.clock.advance(Duration::minutes(1));
    env.service
        .create(&owner(), request(Audience::Opendata))
        .unwrap();
}

#[test]
fn status_view() {
    let env = env();
    let job = env
        .service
        .create(&owner(), request(Audience::Opendata))
        .unwrap();
    let view = env.service.status(&owner(), job.id).unwrap();
    assert_eq!(view.status, JobStatus::Pending);
    assert_eq!(view.percent, None);
    assert_eq!(view.created_at, now());
    let json = serde_json::to_value(&view).unwrap();
    assert_eq!(json["status"], "pending");
}
