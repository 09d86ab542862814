//! Every export is audited with its user, format, filters, row count and risk level: jobs the
//! scheduler creates, worker runs (finished and failed), and direct `Exporter` runs.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use export_core::audit::{
    AuditAction, AuditEvent, AuditLog, AuditQuery, ExportAudit, MemoryAuditLog, Pseudonymiser,
    RiskLevel,
};
use export_core::clock::{Clock, ManualClock};
use export_core::export::Exporter;
use export_core::filter::Filters;
use export_core::job::{JobStatus, JobStore, MemoryJobStore, NewJob, Owner};
use export_core::registry::SchemaRegistry;
use export_core::request::{Audience, ExportRequest, Format, Period, SchemaVersion};
use export_core::schedule::{
    MemoryScheduleStore, NewSchedule, Schedule, ScheduleStore, ScheduleTarget, Scheduler,
    SchedulerConfig, Trigger,
};
use export_core::source::{SampleConfig, SampleTrips};
use export_core::storage::{MemoryStorage, Storage};
use export_core::worker::{SampleTripsProvider, Worker, WorkerConfig};
use export_core::{ExportError, Result};
use uuid::Uuid;

fn now() -> DateTime<Utc> {
    "2026-11-23T10:00:00Z".parse().unwrap()
}

fn request(audience: Audience) -> ExportRequest {
    let mut r = ExportRequest::new("trip", Format::Csv);
    r.version = Some(SchemaVersion::V3);
    r.audience = Some(audience);
    r.period = Some(Period::parse("2026-10-01", "2026-10-02", None).unwrap());
    r.filters = Filters {
        operators: vec![7],
        ..Filters::default()
    };
    r
}

/// An audit log that refuses every event.
struct BrokenLog;

impl AuditLog for BrokenLog {
    fn record(&self, _: &AuditEvent) -> Result<()> {
        Err(ExportError::store("broken", "the audit log is down"))
    }
    fn list(&self, _: &AuditQuery) -> Result<Vec<AuditEvent>> {
        Ok(Vec::new())
    }
    fn pseudonymise_jobs(&self, _: &[Uuid], _: &Pseudonymiser) -> Result<u64> {
        Ok(0)
    }
    fn delete_before(&self, _: DateTime<Utc>) -> Result<u64> {
        Ok(0)
    }
}

/// One scheduler over `schedule` (in memory), auditing into `audit`, ticked a minute later.
fn tick_once(
    schedule: &Schedule,
    audit: Arc<dyn AuditLog>,
) -> (Arc<MemoryJobStore>, export_core::schedule::TickReport) {
    let clock = Arc::new(ManualClock::new(now()));
    let schedules = Arc::new(MemoryScheduleStore::new());
    schedules.insert(schedule).unwrap();
    let jobs = Arc::new(MemoryJobStore::new());
    let scheduler = Scheduler::new(
        SchedulerConfig::default(),
        schedules.clone(),
        schedules,
        jobs.clone(),
        clock.clone(),
    )
    .with_audit(audit);
    clock.advance(Duration::minutes(1));
    let report = scheduler.tick(clock.now()).unwrap();
    (jobs, report)
}

#[test]
fn the_scheduler_records_a_create_event_by_the_schedules_owner() {
    let audit = Arc::new(MemoryAuditLog::new());
    let schedule = NewSchedule::new(
        "minutely",
        Owner::in_organisation("ada", "op-7"),
        ScheduleTarget::request(request(Audience::Operator)),
        Trigger::every_minutes(1, now()).unwrap(),
    )
    .build(now())
    .unwrap();
    let (jobs, report) = tick_once(&schedule, audit.clone());
    let job_id = report.fired[0].job_id;
    assert!(jobs.get(job_id).is_ok());

    let events = audit.list(&AuditQuery::default().job(job_id)).unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e.action, AuditAction::Create);
    assert_eq!(
        (e.actor_user_id.as_str(), e.actor_organisation_id.as_deref()),
        ("ada", Some("op-7"))
    );
    assert_eq!(e.format, Some(Format::Csv));
    assert_eq!(e.filters["operators"], serde_json::json!([7]));
    assert_eq!(e.risk, RiskLevel::Medium);
    let detail = e.detail.as_deref().unwrap();
    assert!(detail.starts_with("schedule minutely"), "{detail}");

    // An audit log that refuses the event: no job is created, the run is tried again.
    let (jobs, report) = tick_once(&schedule, Arc::new(BrokenLog));
    assert!(
        report.fired.is_empty() && !report.errors.is_empty(),
        "{report:?}"
    );
    assert!(jobs.get(job_id).is_err(), "no unaudited job");
}

fn worker(store: Arc<dyn JobStore>, storage: Arc<dyn Storage>, audit: Arc<dyn AuditLog>) -> Worker {
    Worker::new(
        WorkerConfig {
            id: "w-1".into(),
            ..WorkerConfig::default()
        },
        store,
        storage,
        Arc::new(SampleTripsProvider { rows: 200, seed: 9 }),
        Arc::new(SchemaRegistry::new()),
        Arc::new(ManualClock::new(now())),
    )
    .with_audit(audit)
}

#[test]
fn a_worker_records_an_export_event_with_the_row_count() {
    let store = Arc::new(MemoryJobStore::new());
    let storage = Arc::new(MemoryStorage::new().unwrap());
    let audit = Arc::new(MemoryAuditLog::new());
    let job = store
        .create(NewJob::new(
            Owner::in_organisation("ada", "op-7"),
            request(Audience::Operator),
        ))
        .unwrap();
    let outcome = worker(store.clone(), storage, audit.clone())
        .run_once()
        .unwrap()
        .unwrap();
    assert_eq!(outcome.status, JobStatus::Succeeded);
    let rows = store.get(job.id).unwrap().result.unwrap().rows;
    assert!(rows > 0);

    let events = audit.list(&AuditQuery::default().job(job.id)).unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e.action, AuditAction::Export);
    assert_eq!(e.row_count, Some(rows));
    assert_eq!(e.actor_user_id, "ada");
    assert_eq!(e.actor_organisation_id.as_deref(), Some("op-7"));
    assert_eq!(e.risk, RiskLevel::Medium);
    assert_eq!(e.filters["operators"], serde_json::json!([7]));
    assert_eq!(e.detail.as_deref(), Some("worker w-1, attempt 1"));
}

#[test]
fn a_worker_whose_audit_log_fails_publishes_nothing_and_retries() {
    let store = Arc::new(MemoryJobStore::new());
    let storage = Arc::new(MemoryStorage::new().unwrap());
    let job = store
        .create(NewJob::new(Owner::user("ada"), request(Audience::Operator)))
        .unwrap();
    // The run's failure is recorded on the job; that its `fail` event could not be recorded
    // either is the error of the call.
    let err = worker(store.clone(), storage.clone(), Arc::new(BrokenLog))
        .run_once()
        .unwrap_err();
    assert_eq!(err.code(), "STORE");
    let stored = store.get(job.id).unwrap();
    assert_eq!(stored.status, JobStatus::Pending, "retried: {stored:?}");
    assert!(stored.result.is_none());
    assert!(
        storage.list("exports").unwrap().is_empty(),
        "nothing published"
    );
}

#[test]
fn a_worker_records_a_fail_event_for_a_failed_run() {
    let store = Arc::new(MemoryJobStore::new());
    let audit = Arc::new(MemoryAuditLog::new());
    // A schema the registry does not know: the run fails, without retry.
    let job = store
        .create(NewJob::new(
            Owner::user("ada"),
            ExportRequest::new("products", Format::Csv),
        ))
        .unwrap();
    let outcome = worker(
        store.clone(),
        Arc::new(MemoryStorage::new().unwrap()),
        audit.clone(),
    )
    .run_once()
    .unwrap()
    .unwrap();
    assert_eq!(outcome.status, JobStatus::Failed);
    let events = audit.list(&AuditQuery::default().job(job.id)).unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].action, AuditAction::Fail);
    assert_eq!(events[0].actor_user_id, "ada");
    let detail = events[0].detail.as_deref().unwrap();
    assert!(
        detail.starts_with("worker w-1, attempt 1: ") && detail.ends_with("(not retried)"),
        "{detail}"
    );
}

fn sample(request: &ExportRequest) -> SampleTrips {
    let period = request.period.unwrap();
    SampleTrips::new(SampleConfig {
        rows: 300,
        seed: 4,
        start: period.start,
        end: period.end,
        ..SampleConfig::default()
    })
    .unwrap()
}

#[test]
fn a_direct_export_with_the_audit_hook_records_rows_and_risk() {
    let dir = tempfile::tempdir().unwrap();
    let audit = Arc::new(MemoryAuditLog::new());
    for (audience, risk) in [
        (Audience::Operator, RiskLevel::Medium),
        (Audience::Opendata, RiskLevel::Low),
    ] {
        let request = request(audience);
        let hook = ExportAudit::new(audit.clone(), Owner::in_organisation("ada", "op-7"))
            .clock(Arc::new(ManualClock::new(now())))
            .detail("cli export");
        let exporter = Exporter::builder(request.clone())
            .now(now())
            .audit(hook)
            .build()
            .unwrap();
        let out = dir.path().join(format!("{audience}.csv"));
        let report = exporter.run_to_path(&mut sample(&request), &out).unwrap();
        let events = audit.list(&AuditQuery::default().actor("ada")).unwrap();
        let e = events.last().unwrap();
        assert_eq!(e.action, AuditAction::Export);
        assert_eq!(e.row_count, Some(report.rows_written));
        assert_eq!(e.risk, risk);
        assert_eq!(e.audience, Some(audience));
        assert_eq!(e.format, Some(Format::Csv));
        assert_eq!(e.filters["operators"], serde_json::json!([7]));
        assert_eq!(e.actor_organisation_id.as_deref(), Some("op-7"));
        assert_eq!((e.at, e.job_id), (now(), None));
    }
    assert_eq!(audit.events().len(), 2);
}

#[test]
fn a_direct_export_whose_audit_fails_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let request = request(Audience::Operator);
    let exporter = Exporter::builder(request.clone())
        .now(now())
        .audit(ExportAudit::new(Arc::new(BrokenLog), Owner::user("ada")))
        .build()
        .unwrap();
    let out = dir.path().join("trips.csv");
    let err = exporter
        .run_to_path(&mut sample(&request), &out)
        .unwrap_err();
    assert_eq!(err.code(), "STORE");
    assert!(!out.exists(), "no unaudited file");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
