//! Retention: personal-data files are deleted 7 days after success and their jobs anonymised;
//! the purge is idempotent and finishes an interrupted run.

use std::io::Write;
use std::sync::Arc;

use chrono::Duration;
use export_core::ExportError;
use export_core::audit::{AuditAction, AuditLog, AuditQuery, MemoryAuditLog};
use export_core::clock::{Clock, ManualClock};
use export_core::job::{JobResult, JobStatus, JobStore, NewJob, Owner, SqliteJobStore};
use export_core::registry::SchemaRegistry;
use export_core::request::{Audience, ExportRequest, Format, SchemaVersion};
use export_core::retention::{DefaultRetention, Purger, RetentionPolicy};
use export_core::service::{ExportService, Principal};
use export_core::storage::{LocalStorage, Storage, StorageKey};
use uuid::Uuid;

struct World {
    _dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    store: Arc<dyn JobStore>,
    storage: Arc<dyn Storage>,
    audit: Arc<MemoryAuditLog>,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteJobStore::open(dir.path().join("jobs.db")).unwrap());
    let storage = Arc::new(LocalStorage::new(dir.path().join("files")).unwrap());
    World {
        clock: Arc::new(ManualClock::new("2026-11-02T08:00:00Z".parse().unwrap())),
        store,
        storage,
        audit: Arc::new(MemoryAuditLog::new()),
        _dir: dir,
    }
}

fn operator_request() -> ExportRequest {
    let mut r = ExportRequest::new("trip", Format::Xlsx);
    r.version = Some(SchemaVersion::V3);
    r.audience = Some(Audience::Operator);
    r.recipients = vec!["Ada Lovelace <ada@example.org>".into()];
    r
}

/// A succeeded job with a real file, finished at the clock's time.
fn finished_job(w: &World, request: ExportRequest) -> (Uuid, StorageKey) {
    let retention = DefaultRetention::default().retention(&request);
    let mut new =
        NewJob::new(Owner::in_organisation("ada", "org-1"), request).created_at(w.clock.now());
    if let Some(r) = retention {
        new = new.retention(r);
    }
    succeed(w, new, 42)
}

/// Creates `new`, runs it and publishes a file of `rows` rows, at the clock's time.
fn succeed(w: &World, new: NewJob, rows: u64) -> (Uuid, StorageKey) {
    let job = w.store.create(new).unwrap();
    w.store
        .claim("w1", Duration::minutes(5), w.clock.now())
        .unwrap()
        .unwrap();
    let key = StorageKey::for_export(job.id, job.created_at, "trips.xlsx").unwrap();
    let mut upload = w.storage.create(&key, "application/octet-stream").unwrap();
    upload.write_all(b"not really a workbook").unwrap();
    let stored = upload.commit().unwrap();
    let result = JobResult {
        storage_key: key.to_string(),
        size_bytes: stored.size,
        rows,
        sha256: stored.sha256,
        file_name: "trips.xlsx".into(),
        content_type: "application/octet-stream".into(),
    };
    w.store
        .complete(job.id, "w1", result, None, w.clock.now())
        .unwrap();
    (job.id, key)
}

fn purger(w: &World) -> Purger {
    Purger::new(
        w.store.clone(),
        w.storage.clone(),
        w.audit.clone(),
        w.clock.clone(),
    )
}

#[test]
fn kept_six_days_purged_after_seven_days_and_anonymised() {
    let w = world();
    let (id, key) = finished_job(&w, operator_request());
    let purger = purger(&w);

    w.clock.advance(Duration::days(6));
    assert!(purger.purge().unwrap().jobs.is_empty(), "6 days old: kept");
    assert!(w.storage.head(&key).unwrap().is_some());

    w.clock.advance(Duration::days(1) + Duration::seconds(1));
    let report = purger.purge().unwrap();
    assert_eq!(report.jobs, vec![id]);
    assert_eq!((report.files_deleted, report.files_missing), (1, 0));
    assert!(w.storage.head(&key).unwrap().is_none(), "file deleted");

    let job = w.store.get(id).unwrap();
    assert_eq!(job.status, JobStatus::Expired);
    let text = serde_json::to_string(&job).unwrap();
    for personal in ["\"ada\"", "org-1", "ada@example.org", "Lovelace"] {
        assert!(
            !text.contains(personal),
            "{personal} survived anonymisation: {text}"
        );
    }
    // Statistics survive.
    assert_eq!(job.result.as_ref().unwrap().rows, 42);
    assert_eq!(job.request.format, Format::Xlsx);

    let events = w
        .audit
        .list(&AuditQuery {
            job_id: Some(id),
            ..Default::default()
        })
        .unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.action == AuditAction::Expire && e.row_count == Some(42))
    );

    // A second purge changes nothing.
    let again = purger.purge().unwrap();
    assert!(again.jobs.is_empty());
    assert_eq!(w.store.get(id).unwrap(), job);
}

#[test]
fn opendata_is_kept_and_dry_run_changes_nothing() {
    let w = world();
    let mut request = operator_request();
    request.audience = Some(Audience::Opendata);
    request.recipients.clear();
    let (open_id, _) = finished_job(&w, request);
    let (personal_id, key) = finished_job(&w, operator_request());
    w.clock.advance(Duration::days(30));
    let purger = purger(&w);
    let dry = purger.dry_run().unwrap();
    assert!(dry.dry_run);
    assert_eq!(dry.jobs, vec![personal_id]);
    assert!(
        w.storage.head(&key).unwrap().is_some(),
        "dry run deletes nothing"
    );
    assert_eq!(
        w.store.get(personal_id).unwrap().status,
        JobStatus::Succeeded
    );
    purger.purge().unwrap();
    assert_eq!(
        w.store.get(open_id).unwrap().status,
        JobStatus::Succeeded,
        "opendata kept"
    );
}

#[test]
fn a_purge_interrupted_after_the_deletion_finishes_next_time() {
    let w = world();
    let (id, key) = finished_job(&w, operator_request());
    w.clock.advance(Duration::days(8));
    // The first run died right after deleting the file.
    assert!(w.storage.delete(&key).unwrap());
    assert_eq!(w.store.get(id).unwrap().status, JobStatus::Succeeded);
    let report = purger(&w).purge().unwrap();
    assert_eq!(report.jobs, vec![id]);
    assert_eq!((report.files_deleted, report.files_missing), (0, 1));
    assert_eq!(w.store.get(id).unwrap().status, JobStatus::Expired);
}

#[test]
fn download_of_an_expired_job_is_gone() {
    let w = world();
    let service = ExportService::new(
        w.store.clone(),
        w.storage.clone(),
        w.audit.clone(),
        Arc::new(SchemaRegistry::new()),
        w.clock.clone(),
    );
    let principal = Principal::new("ada", Some("org-1"))
        .with_scopes("READ_EXPORTS")
        .unwrap();
    let (id, _) = finished_job(&w, operator_request());
    assert!(service.download(&principal, id).is_ok());
    w.clock.advance(Duration::days(7) + Duration::seconds(1));
    purger(&w).purge().unwrap();
    let err = service.download(&principal, id).err().unwrap();
    assert!(matches!(err, ExportError::Gone { .. }), "{err}");
    assert_eq!(err.code(), "GONE");
}

/// The hidden temporary files of uploads below `dir`.
fn partial_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(partial_files(&path));
        } else if entry.file_name().to_string_lossy().starts_with('.') {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Starts an upload and loses it as a killed process would: no abort, no drop.
fn abandon_upload(w: &World, key: &str, last_write: chrono::DateTime<chrono::Utc>) {
    let before = partial_files(&w._dir.path().join("files"));
    let mut upload = w
        .storage
        .create(&StorageKey::parse(key).unwrap(), "text/csv")
        .unwrap();
    upload.write_all(b"journey_id\n1\n").unwrap();
    upload.flush().unwrap();
    std::mem::forget(upload);
    let after = partial_files(&w._dir.path().join("files"));
    let new: Vec<_> = after.iter().filter(|p| !before.contains(p)).collect();
    assert_eq!(new.len(), 1, "{after:?}");
    std::fs::File::options()
        .write(true)
        .open(new[0])
        .unwrap()
        .set_modified(last_write.into())
        .unwrap();
}

#[test]
fn a_purge_sweeps_uploads_abandoned_for_a_day_and_nothing_else() {
    let w = world();
    let files = w._dir.path().join("files");
    let (_, kept) = finished_job(&w, operator_request());
    let now = w.clock.now();
    abandon_upload(&w, "exports/2026/11/a/trips.csv", now - Duration::days(3));
    abandon_upload(&w, "exports/2026/11/b/trips.csv", now - Duration::hours(2));
    assert_eq!(partial_files(&files).len(), 2);

    let dry = purger(&w).dry_run().unwrap();
    assert_eq!(dry.abandoned_uploads, 0);
    assert_eq!(partial_files(&files).len(), 2, "a dry run removes nothing");

    let report = purger(&w).purge().unwrap();
    assert_eq!(report.abandoned_uploads, 1);
    let left = partial_files(&files);
    assert_eq!(left.len(), 1);
    assert!(
        left[0].starts_with(files.join("exports/2026/11/b")),
        "{left:?}"
    );
    assert!(
        !files.join("exports/2026/11/a").exists(),
        "its emptied directory goes too"
    );
    assert!(
        w.storage.head(&kept).unwrap().is_some(),
        "finished files stay"
    );

    // A shorter setting sweeps the two-hour-old one as well.
    let report = purger(&w)
        .with_abandoned_after(Duration::hours(1))
        .purge()
        .unwrap();
    assert_eq!(report.abandoned_uploads, 1);
    assert!(partial_files(&files).is_empty());
    assert!(w.storage.head(&kept).unwrap().is_some());
}

// --- Retention on every creation path -------------------------------------------------------

use export_core::platform::{Platform, PlatformStore};
use export_core::retention::job_retention;
use export_core::schedule::{
    MemoryScheduleStore, NewSchedule, PeriodRule, ScheduleStore, ScheduleTarget, Scheduler,
    SchedulerConfig, Trigger,
};
use export_core::worker::{SampleTripsProvider, Worker, WorkerConfig};

/// A platform of `audience` and a schedule on it firing every minute (with its own
/// `retention`, if any); the scheduler's first job.
fn scheduled_job(w: &World, audience: Audience, retention: Option<Duration>) -> Uuid {
    let schedules = Arc::new(MemoryScheduleStore::new());
    let mut request = operator_request();
    request.format = Format::Csv;
    request.audience = Some(audience);
    request.recipients.clear();
    schedules
        .insert_platform(&Platform::new("op-csv", request, w.clock.now()))
        .unwrap();
    let trigger = Trigger::every_minutes(1, w.clock.now()).unwrap();
    let mut new = NewSchedule::new(
        "minutely",
        Owner::in_organisation("ada", "org-1"),
        ScheduleTarget::platform("op-csv"),
        trigger,
    )
    .period(PeriodRule::PreviousDay);
    if let Some(r) = retention {
        new = new.retention(r);
    }
    schedules
        .insert(&new.build(w.clock.now()).unwrap())
        .unwrap();
    let scheduler = Scheduler::new(
        SchedulerConfig::default(),
        schedules.clone(),
        schedules,
        w.store.clone(),
        w.clock.clone(),
    );
    w.clock.advance(Duration::minutes(1));
    let report = scheduler.tick(w.clock.now()).unwrap();
    assert_eq!(report.fired.len(), 1, "{report:?}");
    report.fired[0].job_id
}

fn run_worker(w: &World) {
    let worker = Worker::new(
        WorkerConfig::default(),
        w.store.clone(),
        w.storage.clone(),
        Arc::new(SampleTripsProvider { rows: 50, seed: 3 }),
        Arc::new(SchemaRegistry::new()),
        w.clock.clone(),
    );
    let outcome = worker.run_once().unwrap().expect("the scheduled job");
    assert_eq!(outcome.status, JobStatus::Succeeded, "{outcome:?}");
}

#[test]
fn a_scheduled_operator_export_expires_seven_days_after_it_finished_and_is_purged() {
    let w = world();
    let id = scheduled_job(&w, Audience::Operator, None);
    w.clock.advance(Duration::minutes(3));
    run_worker(&w);
    let job = w.store.get(id).unwrap();
    assert_eq!(job.retention, Some(Duration::days(7)));
    let finished = job.finished_at.unwrap();
    assert_eq!(job.expires_at, Some(finished + Duration::days(7)));
    let key = StorageKey::parse(&job.result.unwrap().storage_key).unwrap();
    assert!(w.storage.head(&key).unwrap().is_some());

    w.clock.advance(Duration::days(7) - Duration::seconds(1));
    assert!(purger(&w).purge().unwrap().jobs.is_empty(), "not due yet");
    w.clock.advance(Duration::seconds(2));
    let report = purger(&w).purge().unwrap();
    assert_eq!(report.jobs, vec![id]);
    assert!(w.storage.head(&key).unwrap().is_none(), "file deleted");
    let job = w.store.get(id).unwrap();
    assert_eq!(job.status, JobStatus::Expired);
    assert_eq!(job.owner.user_id, "");
}

#[test]
fn a_schedule_retention_shortens_the_policy_never_lengthens_it() {
    let cases = [
        (
            Audience::Operator,
            Some(Duration::days(30)),
            Some(Duration::days(7)),
        ),
        (
            Audience::Operator,
            Some(Duration::days(1)),
            Some(Duration::days(1)),
        ),
        (Audience::Territory, None, Some(Duration::days(7))),
        // Data the policy keeps forever: the schedule's retention applies as given.
        (
            Audience::Opendata,
            Some(Duration::days(30)),
            Some(Duration::days(30)),
        ),
        (Audience::Opendata, None, None),
    ];
    for (audience, asked, expected) in cases {
        let w = world();
        let id = scheduled_job(&w, audience, asked);
        assert_eq!(
            w.store.get(id).unwrap().retention,
            expected,
            "{audience:?} with schedule retention {asked:?}"
        );
    }
    // The rule itself, for other creation paths.
    let mut request = operator_request();
    let policy = DefaultRetention::default();
    assert_eq!(
        job_retention(&policy, &request, Some(Duration::days(30))),
        Some(Duration::days(7))
    );
    request.audience = Some(Audience::Opendata);
    assert_eq!(job_retention(&policy, &request, None), None);
}

#[test]
fn a_scheduler_with_another_policy_uses_it() {
    struct ThreeDays;
    impl RetentionPolicy for ThreeDays {
        fn retention(&self, _: &ExportRequest) -> Option<Duration> {
            Some(Duration::days(3))
        }
    }
    let w = world();
    let schedules = Arc::new(MemoryScheduleStore::new());
    let new = NewSchedule::new(
        "minutely",
        Owner::user("ada"),
        ScheduleTarget::request(operator_request()),
        Trigger::every_minutes(1, w.clock.now()).unwrap(),
    )
    .retention(Duration::days(5));
    schedules
        .insert(&new.build(w.clock.now()).unwrap())
        .unwrap();
    let scheduler = Scheduler::new(
        SchedulerConfig::default(),
        schedules.clone(),
        schedules,
        w.store.clone(),
        w.clock.clone(),
    )
    .with_retention_policy(Arc::new(ThreeDays));
    w.clock.advance(Duration::minutes(1));
    let fired = scheduler.tick(w.clock.now()).unwrap().fired;
    assert_eq!(
        w.store.get(fired[0].job_id).unwrap().retention,
        Some(Duration::days(3))
    );
}

/// A job created straight in the store without retention (as scheduled jobs were), finished at
/// the clock's time.
fn legacy_job(w: &World, request: ExportRequest) -> Uuid {
    let new =
        NewJob::new(Owner::in_organisation("ada", "org-1"), request).created_at(w.clock.now());
    let (id, _) = succeed(w, new, 3);
    assert_eq!(
        w.store.get(id).unwrap().expires_at,
        None,
        "kept forever as stored"
    );
    id
}

#[test]
fn a_finished_job_stored_without_retention_is_purged_from_its_finished_at() {
    let w = world();
    let old = legacy_job(&w, operator_request());
    let mut open = operator_request();
    open.audience = Some(Audience::Opendata);
    open.recipients.clear();
    let kept = legacy_job(&w, open);
    w.clock.advance(Duration::days(2));
    let recent = legacy_job(&w, operator_request());
    let recent_finished = w.store.get(recent).unwrap().finished_at.unwrap();
    w.clock.advance(Duration::days(6)); // `old` finished 8 days ago, `recent` 6

    let dry = purger(&w).dry_run().unwrap();
    assert_eq!(dry.jobs, vec![old]);
    assert_eq!(
        w.store.get(old).unwrap().expires_at,
        None,
        "a dry run changes nothing"
    );

    let report = purger(&w).purge().unwrap();
    assert_eq!(report.jobs, vec![old]);
    assert_eq!(report.retention_assigned, 2);
    assert_eq!(report.files_deleted, 1);
    assert_eq!(w.store.get(old).unwrap().status, JobStatus::Expired);
    let recent_job = w.store.get(recent).unwrap();
    assert_eq!(recent_job.status, JobStatus::Succeeded);
    assert_eq!(
        recent_job.expires_at,
        Some(recent_finished + Duration::days(7))
    );
    let kept_job = w.store.get(kept).unwrap();
    assert_eq!(
        (kept_job.status, kept_job.expires_at),
        (JobStatus::Succeeded, None)
    );

    // The next purge has nothing new to assign; the recent one goes once its 7 days are over.
    w.clock.advance(Duration::days(1) + Duration::seconds(1));
    let report = purger(&w).purge().unwrap();
    assert_eq!((report.jobs, report.retention_assigned), (vec![recent], 0));
    assert_eq!(w.store.get(kept).unwrap().status, JobStatus::Succeeded);
}
