//! The library's `tracing` events and spans, collected by a small registry layer installed
//! for one test at a time (`tracing::subscriber::with_default`): a worker run emits its events
//! inside a `job` span (`job_id`) inside a `worker` span (`worker_id`); the scheduler's inside a
//! `schedule` span (`schedule_id`); the service's inside a span carrying the job id; the purge
//! reports its counts; an audit write that fails is an error event naming the job.

#[path = "common/periods.rs"]
mod periods;
#[path = "common/stealing.rs"]
mod stealing;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use stealing::StealingProvider;

use chrono::{DateTime, Duration, Utc};
use export_core::audit::{JsonlAuditLog, MemoryAuditLog};
use export_core::clock::{Clock, ManualClock, SystemClock};
use export_core::job::{ExportJob, JobStatus, JobStore, MemoryJobStore, NewJob, Owner};
use export_core::registry::SchemaRegistry;
use export_core::request::{Audience, ExportRequest, Format, SchemaVersion};
use export_core::retention::Purger;
use export_core::schedule::{
    MemoryScheduleStore, NewSchedule, ScheduleStore, ScheduleTarget, Scheduler, SchedulerConfig,
    Trigger,
};
use export_core::service::{ExportService, Principal};
use export_core::source::Source;
use export_core::storage::MemoryStorage;
use export_core::worker::{SampleTripsProvider, SourceProvider, Worker, WorkerConfig};
use export_core::{ExportError, Result};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// The fields of a span or an event, as text (`%` values as displayed, strings unquoted).
#[derive(Debug, Clone, Default, PartialEq)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl Fields {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// One event with the spans it happened in, outermost first.
#[derive(Debug, Clone)]
struct Captured {
    level: Level,
    target: String,
    fields: Fields,
    spans: Vec<(String, Fields)>,
}

impl Captured {
    fn message(&self) -> &str {
        self.fields.get("message").unwrap_or("")
    }

    /// The value of `field` on the innermost span of the event's scope that has it.
    fn span_field(&self, field: &str) -> Option<&str> {
        self.spans.iter().rev().find_map(|(_, f)| f.get(field))
    }

    fn span_names(&self) -> Vec<&str> {
        self.spans.iter().map(|(name, _)| name.as_str()).collect()
    }
}

struct Collector(Arc<Mutex<Vec<Captured>>>);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Collector {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<Fields>()
        {
            values.record(fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let spans = ctx
            .event_scope(event)
            .map(|scope| {
                scope
                    .from_root()
                    .map(|span| {
                        let fields = span.extensions().get::<Fields>().cloned();
                        (span.name().to_string(), fields.unwrap_or_default())
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.0.lock().unwrap().push(Captured {
            level: *event.metadata().level(),
            target: event.metadata().target().to_string(),
            fields,
            spans,
        });
    }
}

/// Runs `f` with the collector as this thread's subscriber; returns its result and the
/// events of the library (`export_core::*`) it emitted.
fn capture<T>(f: impl FnOnce() -> T) -> (T, Vec<Captured>) {
    // `tracing` caches each callsite's interest process-wide, computed from whichever thread
    // reaches it first: a parallel test without a subscriber could cache "never" for the
    // `job` span. A global registry (no filter) keeps every callsite enabled; the scoped
    // default below still receives everything this test emits.
    static GLOBAL: std::sync::Once = std::sync::Once::new();
    GLOBAL.call_once(|| {
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
        tracing::callsite::rebuild_interest_cache();
    });
    let events = Arc::new(Mutex::new(Vec::new()));
    let subscriber = tracing_subscriber::registry().with(Collector(events.clone()));
    let out = tracing::subscriber::with_default(subscriber, f);
    let events = events.lock().unwrap().clone();
    let ours = events
        .into_iter()
        .filter(|e| e.target.starts_with("export_core"))
        .collect();
    (out, ours)
}

fn find<'a>(events: &'a [Captured], message: &str) -> &'a Captured {
    events
        .iter()
        .find(|e| e.message() == message)
        .unwrap_or_else(|| panic!("no event `{message}` in {events:#?}"))
}

fn now() -> DateTime<Utc> {
    periods::recent_month().end + Duration::days(22) + Duration::hours(10)
}

fn request() -> ExportRequest {
    let mut request = ExportRequest::new("trip", Format::Csv);
    request.version = Some(SchemaVersion::V3);
    request.audience = Some(Audience::Operator);
    request.period = Some(periods::recent_day());
    request
}

fn worker(id: &str, store: Arc<dyn JobStore>, sources: Arc<dyn SourceProvider>) -> Worker {
    Worker::new(
        WorkerConfig {
            id: id.to_string(),
            ..WorkerConfig::default()
        },
        store,
        Arc::new(MemoryStorage::new().expect("storage")),
        sources,
        Arc::new(SchemaRegistry::new()),
        Arc::new(ManualClock::new(now())),
    )
}

#[test]
fn a_worker_run_emits_its_events_inside_job_and_worker_spans() {
    let store: Arc<dyn JobStore> = Arc::new(MemoryJobStore::new());
    let job = store
        .create(NewJob::new(Owner::user("u-1"), request()))
        .expect("create");
    let w = worker(
        "w-trace",
        store.clone(),
        Arc::new(SampleTripsProvider {
            rows: 1_500,
            seed: 7,
        }),
    );
    let (outcome, events) = capture(|| w.run_once());
    let outcome = outcome.expect("run").expect("a job");
    assert_eq!(outcome.status, JobStatus::Succeeded);

    let id = job.id.to_string();
    for message in ["job claimed", "job completed"] {
        let event = find(&events, message);
        assert_eq!(event.level, Level::INFO, "{event:?}");
        assert_eq!(event.target, "export_core::worker");
        assert_eq!(event.span_names(), ["worker", "job"], "{event:?}");
        assert_eq!(event.span_field("job_id"), Some(id.as_str()), "{event:?}");
        assert_eq!(event.span_field("worker_id"), Some("w-trace"), "{event:?}");
        assert_eq!(event.span_field("attempt"), Some("1"), "{event:?}");
    }
    let claimed = find(&events, "job claimed");
    assert_eq!(claimed.fields.get("schema"), Some("trip"));
    assert_eq!(claimed.fields.get("format"), Some("csv"));
    let completed = find(&events, "job completed");
    assert_eq!(
        completed.fields.get("rows"),
        Some(outcome.rows.to_string().as_str())
    );
    assert!(
        completed
            .fields
            .get("duration_ms")
            .is_some_and(|ms| ms.parse::<u64>().is_ok()),
        "{completed:?}"
    );
    // Every event of the run is inside the worker span.
    assert!(
        events
            .iter()
            .all(|e| e.span_field("worker_id") == Some("w-trace")),
        "{events:#?}"
    );

    // An empty queue: no job span, no job event.
    let (none, events) = capture(|| w.run_once());
    assert!(none.expect("run").is_none());
    assert!(events.iter().all(|e| e.span_field("job_id").is_none()));
}

/// Sample trips that cannot be opened this time: the disk went away (a transient error).
struct UnavailableData;

impl SourceProvider for UnavailableData {
    fn open(&self, _: &ExportJob) -> Result<Vec<Box<dyn Source>>> {
        Err(ExportError::io(
            "/data/trips",
            std::io::Error::other("device not ready"),
        ))
    }
}

#[test]
fn a_transient_failure_emits_job_failed_and_retry_scheduled() {
    let store: Arc<dyn JobStore> = Arc::new(MemoryJobStore::new());
    let job = store
        .create(NewJob::new(Owner::user("u-1"), request()).max_attempts(3))
        .expect("create");
    let w = worker("w-retry", store.clone(), Arc::new(UnavailableData));
    let (outcome, events) = capture(|| w.run_once());
    let outcome = outcome.expect("run").expect("a job");
    assert_eq!(outcome.status, JobStatus::Pending, "retried");

    let retry = find(&events, "retry scheduled");
    assert_eq!(
        retry.span_field("job_id"),
        Some(job.id.to_string().as_str())
    );
    assert_eq!(retry.span_field("worker_id"), Some("w-retry"));
    assert_eq!(retry.fields.get("next_attempt"), Some("2"));
    // The default first delay: 30 s.
    assert_eq!(retry.fields.get("retry_in_ms"), Some("30000"));
    let failed = find(&events, "job failed");
    assert_eq!(failed.fields.get("kind"), Some("IO"), "{failed:?}");
    assert_eq!(failed.fields.get("status"), Some("pending"));
    assert!(
        failed
            .fields
            .get("error")
            .is_some_and(|e| e.contains("device not ready")),
        "{failed:?}"
    );
}

#[test]
fn a_refused_heartbeat_is_a_warning_in_the_job_span() {
    let store: Arc<dyn JobStore> = Arc::new(MemoryJobStore::new());
    let clock = Arc::new(ManualClock::new(now()));
    let job = store
        .create(NewJob::new(Owner::user("u-1"), request()))
        .expect("create");
    let w = Worker::new(
        WorkerConfig {
            id: "w-lost".into(),
            ..WorkerConfig::default()
        },
        store.clone(),
        Arc::new(MemoryStorage::new().expect("storage")),
        Arc::new(StealingProvider {
            store: store.clone(),
            clock: clock.clone(),
        }),
        Arc::new(SchemaRegistry::new()),
        clock,
    );
    let (outcome, events) = capture(|| w.run_once());
    assert!(outcome.expect("run").expect("a job").lease_lost);

    let refused: Vec<_> = events
        .iter()
        .filter(|e| e.message() == "heartbeat refused: lease lost")
        .collect();
    assert_eq!(refused.len(), 1, "once per run: {events:#?}");
    assert_eq!(refused[0].level, Level::WARN);
    assert_eq!(
        refused[0].span_field("job_id"),
        Some(job.id.to_string().as_str())
    );
    assert_eq!(refused[0].span_field("worker_id"), Some("w-lost"));
    let lost = find(
        &events,
        "lease lost: another worker owns the job; nothing published",
    );
    assert_eq!(lost.level, Level::WARN);
    assert!(events.iter().all(|e| e.message() != "job completed"));
}

#[test]
fn a_scheduler_fire_emits_job_enqueued_inside_the_schedule_span() {
    let start = now();
    let clock = Arc::new(ManualClock::new(start));
    let schedules = Arc::new(MemoryScheduleStore::new());
    let jobs: Arc<dyn JobStore> = Arc::new(MemoryJobStore::new());
    let target = ScheduleTarget::request(ExportRequest::new("trip", Format::Csv));
    let trigger = Trigger::cron("0 * * * *", "UTC").expect("cron");
    let schedule = NewSchedule::new("hourly", Owner::user("u-1"), target, trigger)
        .build(start)
        .expect("schedule");
    schedules.insert(&schedule).expect("insert");
    let scheduler = Scheduler::new(
        SchedulerConfig::default(),
        schedules.clone(),
        schedules,
        jobs.clone(),
        clock.clone(),
    );
    clock.advance(Duration::hours(1));
    let (report, events) = capture(|| scheduler.tick(clock.now()));
    let report = report.expect("tick");
    assert_eq!(report.fired.len(), 1);

    let fired = find(&events, "schedule fired: job enqueued");
    assert_eq!(fired.level, Level::INFO);
    assert_eq!(fired.target, "export_core::schedule::scheduler");
    assert_eq!(fired.span_names(), ["schedule"]);
    assert_eq!(fired.span_field("schedule_id"), Some("hourly"));
    let job_id = report.fired[0].job_id.to_string();
    assert_eq!(fired.fields.get("job_id"), Some(job_id.as_str()));
    assert_eq!(fired.fields.get("attempt"), Some("1"));
    assert!(jobs.get(report.fired[0].job_id).is_ok());
}

fn service(audit: Arc<dyn export_core::audit::AuditLog>) -> ExportService {
    ExportService::new(
        Arc::new(MemoryJobStore::new()),
        Arc::new(MemoryStorage::new().expect("storage")),
        audit,
        Arc::new(SchemaRegistry::new()),
        Arc::new(SystemClock),
    )
}

fn alice() -> Principal {
    Principal::new("alice", Some("op-7"))
        .operator(7)
        .with_scopes("READ_EXPORTS,WRITE_EXPORTS")
        .expect("scopes")
}

fn operator_request() -> ExportRequest {
    let mut request = ExportRequest::new("trip", Format::Xlsx);
    request.audience = Some(Audience::Operator);
    request
}

#[test]
fn service_operations_carry_the_job_id() {
    let service = service(Arc::new(MemoryAuditLog::new()));
    let (job, events) = capture(|| service.create(&alice(), operator_request()));
    let job = job.expect("create");
    let id = job.id.to_string();
    let created = find(&events, "export job created");
    assert_eq!(created.span_names(), ["create"]);
    assert_eq!(created.span_field("job_id"), Some(id.as_str()));
    assert_eq!(created.fields.get("format"), Some("xlsx"));

    let (cancelled, events) = capture(|| service.cancel(&alice(), job.id));
    assert_eq!(cancelled.expect("cancel").status, JobStatus::Cancelled);
    let cancel = find(&events, "cancel requested");
    assert_eq!(cancel.span_names(), ["cancel"]);
    assert_eq!(cancel.span_field("job_id"), Some(id.as_str()));
    assert_eq!(cancel.fields.get("status"), Some("cancelled"));

    let (deleted, events) = capture(|| service.delete(&alice(), job.id));
    deleted.expect("delete");
    let delete = find(&events, "export job deleted");
    assert_eq!(delete.span_field("job_id"), Some(id.as_str()));
    // Events never name the actor: user ids are personal data the purge erases.
    assert!(
        events
            .iter()
            .chain([created, cancel])
            .all(|e| !format!("{:?}", e.fields).contains("alice")),
        "{events:#?}"
    );
}

#[test]
fn an_audit_write_that_fails_is_an_error_event_naming_the_job() {
    // A real audit log on a device that is always full: every write fails (ENOSPC).
    let log = JsonlAuditLog::open("/dev/full").expect("/dev/full opens");
    let service = service(Arc::new(log));
    let (created, events) = capture(|| service.create(&alice(), operator_request()));
    let err = created.expect_err("nothing is created unaudited");
    let failure = find(&events, "audit event not recorded");
    assert_eq!(failure.level, Level::ERROR);
    assert_eq!(failure.target, "export_core::audit");
    assert_eq!(failure.fields.get("action"), Some("create"));
    let job_id = failure.fields.get("job_id").expect("the job's id");
    assert_eq!(failure.span_field("job_id"), Some(job_id));
    assert_eq!(failure.fields.get("error"), Some(err.to_string().as_str()));
    assert!(events.iter().all(|e| e.message() != "export job created"));
}

#[test]
fn a_purge_reports_its_counts() {
    let clock = Arc::new(ManualClock::new(now()));
    let store: Arc<dyn JobStore> = Arc::new(MemoryJobStore::new());
    let storage = Arc::new(MemoryStorage::new().expect("storage"));
    let job = store
        .create(
            NewJob::new(Owner::user("ada"), request())
                .retention(Duration::days(7))
                .created_at(clock.now()),
        )
        .expect("create");
    let w = Worker::new(
        WorkerConfig::default(),
        store.clone(),
        storage.clone(),
        Arc::new(SampleTripsProvider { rows: 10, seed: 1 }),
        Arc::new(SchemaRegistry::new()),
        clock.clone(),
    );
    assert_eq!(
        w.run_once().expect("run").expect("a job").status,
        JobStatus::Succeeded
    );
    clock.advance(Duration::days(7) + Duration::seconds(1));
    let purger = Purger::new(
        store,
        storage,
        Arc::new(MemoryAuditLog::new()),
        clock.clone(),
    );
    let (report, events) = capture(|| purger.purge());
    assert_eq!(report.expect("purge").jobs, [job.id]);

    let done = find(&events, "purge done");
    assert_eq!(done.span_names(), ["purge"]);
    assert_eq!(done.span_field("dry_run"), Some("false"));
    assert_eq!(done.fields.get("jobs_expired"), Some("1"));
    assert_eq!(done.fields.get("files_deleted"), Some("1"));
    assert_eq!(done.fields.get("files_missing"), Some("0"));
    let expired = find(&events, "job expired: file deleted, job anonymised");
    assert_eq!(expired.level, Level::DEBUG);
    assert_eq!(
        expired.fields.get("job_id"),
        Some(job.id.to_string().as_str())
    );
}
