//! Administration of schedules and platforms (validation at save, audit of every change), and
//! the monthly opendata export run end to end from the scheduler with a fake clock: scheduler →
//! job → worker → file in storage → statistics.

use std::io::Read;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use export_core::audit::{AuditAction, AuditLog, AuditQuery, MemoryAuditLog, SqliteAuditLog};
use export_core::clock::{Clock, ManualClock};
use export_core::job::{JobStatus, JobStore, Owner, SqliteJobStore};
use export_core::platform::{Platform, PlatformStore};
use export_core::registry::SchemaRegistry;
use export_core::request::{Audience, ExportRequest, Format, SchemaVersion};
use export_core::schedule::MONTHLY_OPENDATA;
use export_core::schedule::{
    MemoryScheduleStore, NewSchedule, PeriodRule, RunQuery, RunStatus, ScheduleChanges,
    ScheduleManager, ScheduleStore, ScheduleTarget, Scheduler, SchedulerConfig,
    SqliteScheduleStore, Trigger,
};
use export_core::service::{Principal, Scope};
use export_core::storage::{MemoryStorage, Storage, StorageKey};
use export_core::worker::{SampleTripsProvider, Worker, WorkerConfig};
use serde_json::json;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

struct Admin {
    clock: Arc<ManualClock>,
    store: Arc<MemoryScheduleStore>,
    audit: Arc<MemoryAuditLog>,
    manager: ScheduleManager,
}

fn admin() -> Admin {
    let clock = Arc::new(ManualClock::new(utc(2026, 11, 23, 10, 0)));
    let store = Arc::new(MemoryScheduleStore::new());
    let audit = Arc::new(MemoryAuditLog::new());
    let manager = ScheduleManager::new(
        store.clone(),
        store.clone(),
        audit.clone(),
        Arc::new(SchemaRegistry::new()),
        clock.clone(),
    );
    Admin {
        clock,
        store,
        audit,
        manager,
    }
}

fn operator_csv() -> ExportRequest {
    let mut r = ExportRequest::new("trip", Format::Csv);
    r.version = Some(SchemaVersion::V3);
    r.audience = Some(Audience::Operator);
    r.fields.include = vec!["journey_id".into(), "operator_class".into()];
    r
}

/// The registry's administrator: acts for any owner.
fn actor() -> Principal {
    Principal::new("admin-1", Some("registry"))
        .with_all_scopes()
        .with_scope(Scope::Admin)
}

fn registry_bot() -> Principal {
    Principal::new("registry-bot", None)
        .with_all_scopes()
        .with_scope(Scope::Admin)
}

fn details(audit: &MemoryAuditLog) -> Vec<(AuditAction, String)> {
    audit
        .list(&AuditQuery::default())
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.detail.unwrap_or_default()))
        .collect()
}

#[test]
fn a_platform_naming_a_missing_field_is_rejected_when_saved() {
    let a = admin();
    let mut request = operator_csv();
    request.fields.include.push("no_such_field".into());
    let err = a
        .manager
        .create_platform(&actor(), Platform::new("op", request, a.clock.now()))
        .unwrap_err();
    assert_eq!(err.code(), "UNKNOWN_FIELD", "{err}");
    assert!(a.store.list_platforms().unwrap().is_empty());
    assert!(
        details(&a.audit).is_empty(),
        "nothing saved, nothing audited"
    );

    let err = a
        .manager
        .create_platform(
            &actor(),
            Platform::new("Bad Name", operator_csv(), a.clock.now()),
        )
        .unwrap_err();
    assert!(err.to_string().contains("`Bad Name`"), "{err}");
}

#[test]
fn schedules_are_validated_against_their_platform_and_overrides() {
    let a = admin();
    a.manager
        .create_platform(&actor(), Platform::new("op", operator_csv(), a.clock.now()))
        .unwrap();
    let trigger = Trigger::cron("0 2 * * *", "Europe/Paris").unwrap();
    let on = |overrides: serde_json::Value| {
        NewSchedule::new(
            "nightly",
            Owner::user("u-1"),
            ScheduleTarget::Platform {
                platform: "op".into(),
                overrides,
            },
            trigger.clone(),
        )
        .period(PeriodRule::PreviousDay)
    };
    // An override naming a missing field, or changing the export type, is refused.
    let err = a
        .manager
        .create_schedule(&actor(), on(json!({"fields": {"include": ["nope"]}})))
        .unwrap_err();
    assert_eq!(err.code(), "UNKNOWN_FIELD", "{err}");
    let err = a
        .manager
        .create_schedule(&actor(), on(json!({"audience": "opendata"})))
        .unwrap_err();
    assert!(err.to_string().contains("overrides.audience"), "{err}");
    // A missing platform is named.
    let missing = NewSchedule::new(
        "x",
        Owner::user("u-1"),
        ScheduleTarget::platform("ghost"),
        trigger.clone(),
    );
    let err = a.manager.create_schedule(&actor(), missing).unwrap_err();
    assert_eq!(err.to_string(), "platform `ghost` not found");

    let s = a
        .manager
        .create_schedule(&actor(), on(json!({"options": {"bom": true}})))
        .unwrap();
    assert_eq!(s.next_run, Some(utc(2026, 11, 24, 1, 0)));
    let request = s
        .resolve_request(a.store.as_ref(), s.next_run.unwrap())
        .unwrap();
    assert!(request.options.bom);
    assert_eq!(request.audience, Some(Audience::Operator));
    assert_eq!(
        request.period.unwrap().start,
        utc(2026, 11, 22, 23, 0),
        "the previous day in Paris"
    );
}

#[test]
fn updates_toggles_and_deletes_are_audited_and_recompute_the_next_run() {
    let a = admin();
    a.manager
        .create_schedule(
            &actor(),
            NewSchedule::new(
                "nightly",
                Owner::user("u-1"),
                ScheduleTarget::request(operator_csv()),
                Trigger::cron("0 2 * * *", "Europe/Paris").unwrap(),
            ),
        )
        .unwrap();

    let changes = ScheduleChanges {
        trigger: Some(Trigger::cron("0 6 * * MON", "Europe/Paris").unwrap()),
        name: Some("Weekly".into()),
        ..ScheduleChanges::default()
    };
    let s = a
        .manager
        .update_schedule(&actor(), "nightly", &changes)
        .unwrap();
    assert_eq!(s.name, "Weekly");
    assert_eq!(
        s.next_run,
        Some(utc(2026, 11, 30, 5, 0)),
        "next Monday 06:00"
    );

    // A bad change saves nothing.
    let bad = ScheduleChanges {
        target: Some(ScheduleTarget::platform("ghost")),
        ..ScheduleChanges::default()
    };
    assert!(
        a.manager
            .update_schedule(&actor(), "nightly", &bad)
            .is_err()
    );
    assert_eq!(a.store.get("nightly").unwrap().name, "Weekly");

    let s = a.manager.toggle(&actor(), "nightly").unwrap();
    assert!(!s.enabled);
    assert_eq!(s.next_run, None);
    // Re-enabled two weeks later: the next run comes from now, no catch-up.
    a.clock.advance(Duration::days(14));
    let s = a.manager.set_enabled(&actor(), "nightly", true).unwrap();
    assert_eq!(s.next_run, Some(utc(2026, 12, 14, 5, 0)));
    // Enabling an enabled schedule changes and records nothing.
    a.manager.set_enabled(&actor(), "nightly", true).unwrap();
    a.manager.delete_schedule(&actor(), "nightly").unwrap();
    assert_eq!(a.store.get("nightly").unwrap_err().code(), "NOT_FOUND");

    let events = a.audit.list(&AuditQuery::default()).unwrap();
    assert!(
        events.iter().all(|e| e.actor_user_id == "admin-1"
            && e.actor_organisation_id.as_deref() == Some("registry"))
    );
    assert!(
        events
            .iter()
            .all(|e| e.audience == Some(Audience::Operator))
    );
    assert_eq!(
        details(&a.audit),
        [
            (
                AuditAction::ScheduleChange,
                "schedule nightly: created".into()
            ),
            (
                AuditAction::ScheduleChange,
                "schedule nightly: updated (name, trigger)".into()
            ),
            (
                AuditAction::ScheduleChange,
                "schedule nightly: disabled".into()
            ),
            (
                AuditAction::ScheduleChange,
                "schedule nightly: enabled".into()
            ),
            (
                AuditAction::ScheduleChange,
                "schedule nightly: deleted".into()
            ),
        ]
    );
}

/// Platform `op` (operator CSV) and schedule `nightly` on it with `overrides`.
fn admin_with_linked_schedule(overrides: serde_json::Value) -> Admin {
    let a = admin();
    a.manager
        .create_platform(&actor(), Platform::new("op", operator_csv(), a.clock.now()))
        .unwrap();
    let target = ScheduleTarget::Platform {
        platform: "op".into(),
        overrides,
    };
    let trigger = Trigger::cron("0 2 * * *", "UTC").unwrap();
    a.manager
        .create_schedule(
            &actor(),
            NewSchedule::new("nightly", Owner::user("u-1"), target, trigger),
        )
        .unwrap();
    a
}

#[test]
fn platforms_in_use_cannot_be_deleted_or_broken() {
    let a = admin_with_linked_schedule(json!({"fields": {"include": ["operator_class"]}}));
    let err = a.manager.delete_platform(&actor(), "op").unwrap_err();
    assert_eq!(err.code(), "INVALID_STATE");
    assert!(err.to_string().contains("nightly"), "{err}");

    // Moving the platform to V2 is accepted: the schedule's override (`operator_class`) is a
    // V2 field too.
    let mut v2 = operator_csv();
    v2.version = Some(SchemaVersion::V2);
    v2.fields.include = vec!["journey_id".into()];
    a.manager
        .update_platform(&actor(), Platform::new("op", v2, a.clock.now()))
        .unwrap();
    // A platform whose own fields do not exist is refused.
    let mut worse = operator_csv();
    worse.fields.include = vec!["gone".into()];
    assert!(
        a.manager
            .update_platform(&actor(), Platform::new("op", worse, a.clock.now()))
            .is_err()
    );

    a.manager.delete_schedule(&actor(), "nightly").unwrap();
    a.manager.delete_platform(&actor(), "op").unwrap();
    let platform_events: Vec<String> = details(&a.audit)
        .into_iter()
        .filter(|(action, _)| *action == AuditAction::PlatformChange)
        .map(|(_, d)| d)
        .collect();
    assert_eq!(
        platform_events,
        [
            "platform op: created",
            "platform op: updated",
            "platform op: deleted"
        ]
    );
}

#[test]
fn a_platform_change_that_breaks_a_linked_schedule_is_refused() {
    // `start_datetime` is a V3-only field.
    let a = admin_with_linked_schedule(json!({"fields": {"include": ["start_datetime"]}}));
    let mut v2 = operator_csv();
    v2.version = Some(SchemaVersion::V2);
    v2.fields.include = vec!["journey_id".into()];
    let err = a
        .manager
        .update_platform(&actor(), Platform::new("op", v2, a.clock.now()))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("schedule `nightly` would no longer run"),
        "{err}"
    );
    assert_eq!(
        a.store.get_platform("op").unwrap().request.version,
        Some(SchemaVersion::V3),
        "unchanged"
    );
}

#[test]
fn the_monthly_opendata_export_runs_from_the_scheduler_with_a_fake_clock() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("exports.db");
    // 31 October 2026, noon in Paris.
    let clock = Arc::new(ManualClock::new(utc(2026, 10, 31, 11, 0)));
    let schedules = Arc::new(SqliteScheduleStore::open(&db).unwrap());
    let jobs: Arc<dyn JobStore> = Arc::new(SqliteJobStore::open(&db).unwrap());
    let audit = Arc::new(SqliteAuditLog::open(&db).unwrap());
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new().unwrap());
    let registry = Arc::new(SchemaRegistry::new());
    let manager = ScheduleManager::new(
        schedules.clone(),
        schedules.clone(),
        audit.clone(),
        registry.clone(),
        clock.clone(),
    );
    let installed = manager.install_monthly_opendata(&registry_bot()).unwrap();
    assert_eq!(installed.len(), 2);
    // 1 November 05:00 CET = 04:00 UTC.
    for s in &installed {
        assert_eq!(s.next_run, Some(utc(2026, 11, 1, 4, 0)), "{}", s.id);
    }
    assert!(
        manager
            .install_monthly_opendata(&registry_bot())
            .unwrap()
            .is_empty(),
        "installing twice changes nothing"
    );

    let scheduler = Scheduler::new(
        SchedulerConfig::default(),
        schedules.clone(),
        schedules.clone(),
        jobs.clone(),
        clock.clone(),
    );
    let worker = Worker::new(
        WorkerConfig::default(),
        jobs.clone(),
        storage.clone(),
        Arc::new(SampleTripsProvider {
            rows: 2_000,
            seed: 7,
        }),
        registry,
        clock.clone(),
    );

    assert!(scheduler.tick(clock.now()).unwrap().fired.is_empty());
    clock.set(utc(2026, 11, 1, 4, 0));
    let report = scheduler.tick(clock.now()).unwrap();
    assert_eq!(report.fired.len(), 2, "{report:?}");

    // Each job exports October in Paris time, opendata, V3 XLSX and V2 CSV.
    let mut formats = Vec::new();
    for fired in &report.fired {
        let job = jobs.get(fired.job_id).unwrap();
        let period = job.request.period.unwrap();
        assert_eq!(period.start, utc(2026, 9, 30, 22, 0), "1 Oct 00:00 CEST");
        assert_eq!(period.end, utc(2026, 10, 31, 23, 0), "1 Nov 00:00 CET");
        assert_eq!(period.time_zone, chrono_tz::Europe::Paris);
        assert_eq!(job.request.audience, Some(Audience::Opendata));
        formats.push((job.request.version.unwrap(), job.request.format));
    }
    formats.sort_by_key(|(v, _)| v.to_string());
    assert_eq!(
        formats,
        [
            (SchemaVersion::V2, Format::Csv),
            (SchemaVersion::V3, Format::Xlsx)
        ]
    );

    // The worker runs both; the next tick counts two successes.
    let outcomes = worker.run_until_idle().unwrap();
    assert_eq!(outcomes.len(), 2);
    assert!(
        outcomes.iter().all(|o| o.status == JobStatus::Succeeded),
        "{outcomes:?}"
    );
    clock.advance(Duration::minutes(1));
    let report = scheduler.tick(clock.now()).unwrap();
    assert_eq!(report.finished.len(), 2);
    for name in MONTHLY_OPENDATA {
        let s = schedules.get(name).unwrap();
        assert_eq!((s.stats.runs, s.stats.successes), (1, 1), "{name}");
        assert_eq!(s.stats.last_status, Some(RunStatus::Succeeded));
        assert_eq!(
            s.next_run,
            Some(utc(2026, 12, 1, 4, 0)),
            "next: 1 Dec 05:00 CET"
        );
        let runs = schedules.runs(&RunQuery::history(name)).unwrap();
        let job = jobs.get(runs[0].job_id.unwrap()).unwrap();
        let result = job.result.unwrap();
        let mut bytes = Vec::new();
        storage
            .open(&StorageKey::parse(&result.storage_key).unwrap())
            .unwrap()
            .read_to_end(&mut bytes)
            .unwrap();
        assert_eq!(bytes.len() as u64, result.size_bytes);
        if name.ends_with("csv") {
            let text = String::from_utf8(bytes).unwrap();
            assert!(text.starts_with("\"journey_id\";"), "{}", &text[..80]);
            assert!(text.lines().count() > 1, "the file has rows");
        } else {
            assert_eq!(&bytes[..2], b"PK", "an XLSX (zip) file");
        }
    }
    // Installing was audited in the job database.
    let events = audit.list(&AuditQuery::default()).unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == AuditAction::ScheduleChange)
            .count(),
        2
    );
}
