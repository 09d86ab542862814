//! The scheduler: firing once per fire time, retries, statistics, misfires, crash recovery,
//! several schedulers on one store over a simulated month, and the monthly opendata export run
//! end to end with a fake clock.
//!
//! PostgreSQL tests need `EXPORT_CORE_PG_URL` (`eval "$(scripts/pg-server.sh start)"`); without
//! it they print a SKIPPED line and pass.

#[cfg(feature = "postgres")]
#[path = "common/pg_admin.rs"]
mod pg_admin;
#[path = "common/services.rs"]
mod services;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use export_core::clock::{Clock, ManualClock};
use export_core::job::{
    JobError, JobResult, JobStatus, JobStore, MemoryJobStore, Owner, SqliteJobStore,
};
use export_core::platform::PlatformStore;
use export_core::request::{Audience, ExportRequest, Format, SchemaVersion};
use export_core::schedule::{
    MemoryScheduleStore, MisfirePolicy, NewSchedule, PeriodRule, RetryPolicy, RunQuery, RunStatus,
    Schedule, ScheduleStore, ScheduleTarget, Scheduler, SchedulerConfig, SqliteScheduleStore,
    Trigger,
};

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn trip_request() -> ExportRequest {
    let mut r = ExportRequest::new("trip", Format::Csv);
    r.version = Some(SchemaVersion::V2);
    r.audience = Some(Audience::Opendata);
    r
}

/// One scheduler over memory stores, with its clock.
struct Rig {
    clock: Arc<ManualClock>,
    schedules: Arc<MemoryScheduleStore>,
    jobs: Arc<MemoryJobStore>,
    scheduler: Scheduler,
}

impl Rig {
    fn new(start: DateTime<Utc>) -> Rig {
        let clock = Arc::new(ManualClock::new(start));
        let schedules = Arc::new(MemoryScheduleStore::new());
        let jobs = Arc::new(MemoryJobStore::new());
        let scheduler = Scheduler::new(
            SchedulerConfig::default(),
            schedules.clone(),
            schedules.clone(),
            jobs.clone(),
            clock.clone(),
        );
        Rig {
            clock,
            schedules,
            jobs,
            scheduler,
        }
    }

    fn add(&self, new: NewSchedule) -> Schedule {
        let s = new.build(self.clock.now()).unwrap();
        self.schedules.insert(&s).unwrap();
        s
    }

    fn tick(&self) -> export_core::schedule::TickReport {
        self.scheduler.tick(self.clock.now()).unwrap()
    }

    /// Claims the next claimable job, as a worker would.
    fn claim(&self) -> Option<export_core::job::ExportJob> {
        self.jobs
            .claim("w", Duration::minutes(5), self.clock.now())
            .unwrap()
    }

    fn succeed(&self, id: uuid::Uuid) {
        self.jobs
            .complete(id, "w", result(), None, self.clock.now())
            .unwrap();
    }

    fn fail(&self, id: uuid::Uuid, kind: &str) {
        self.jobs
            .fail(
                id,
                "w",
                JobError::new(kind, format!("{kind} went wrong")),
                None,
                self.clock.now(),
            )
            .unwrap();
    }
}

fn result() -> JobResult {
    JobResult {
        storage_key: "exports/x.csv".into(),
        size_bytes: 1,
        rows: 1,
        sha256: "00".repeat(32),
        file_name: "x.csv".into(),
        content_type: "text/csv".into(),
    }
}

fn nightly(retry: RetryPolicy) -> NewSchedule {
    NewSchedule::new(
        "nightly",
        Owner::user("u-1"),
        ScheduleTarget::request(trip_request()),
        Trigger::cron("0 2 * * *", "UTC").unwrap(),
    )
    .retry(retry)
}

#[test]
fn a_due_schedule_creates_one_job_with_its_settings() {
    let rig = Rig::new(utc(2026, 11, 1, 12, 0));
    rig.add(
        nightly(RetryPolicy::default())
            .period(PeriodRule::PreviousDay)
            .retention(Duration::days(7)),
    );
    rig.clock.set(utc(2026, 11, 2, 2, 0));
    let report = rig.tick();
    assert_eq!(report.fired.len(), 1, "{report:?}");
    let fired = &report.fired[0];
    assert_eq!(
        (fired.fire_time, fired.attempt),
        (utc(2026, 11, 2, 2, 0), 1)
    );
    let job = rig.jobs.get(fired.job_id).unwrap();
    assert_eq!(job.owner, Owner::user("u-1"));
    assert_eq!(job.schedule_id.as_deref(), Some("nightly"));
    assert_eq!(job.max_attempts, 1, "retries belong to the schedule");
    assert_eq!(job.retention, Some(Duration::days(7)));
    let period = job.request.period.unwrap();
    assert_eq!(
        (period.start, period.end),
        (utc(2026, 11, 1, 0, 0), utc(2026, 11, 2, 0, 0))
    );
    let s = rig.schedules.get("nightly").unwrap();
    assert_eq!(s.next_run, Some(utc(2026, 11, 3, 2, 0)));
    assert_eq!(s.stats.runs, 1);
    assert_eq!(s.stats.last_status, Some(RunStatus::Started));
    // The same instant again, and a minute later: nothing new.
    assert!(rig.tick().fired.is_empty());
    rig.clock.advance(Duration::minutes(1));
    assert!(rig.tick().fired.is_empty());
    assert_eq!(
        rig.jobs
            .list(&Owner::user("u-1"), &Default::default())
            .unwrap()
            .jobs
            .len(),
        1
    );
}

#[test]
fn disabled_schedules_do_not_fire() {
    let rig = Rig::new(utc(2026, 11, 1, 12, 0));
    rig.add(nightly(RetryPolicy::default()).enabled(false));
    rig.clock.set(utc(2026, 11, 5, 2, 0));
    assert!(rig.tick().is_empty());
}

#[test]
fn a_succeeded_job_counts_a_success() {
    let rig = Rig::new(utc(2026, 11, 1, 12, 0));
    rig.add(nightly(RetryPolicy::default()));
    rig.clock.set(utc(2026, 11, 2, 2, 0));
    rig.tick();
    let job = rig.claim().unwrap();
    // Running: the run stays open.
    assert!(rig.tick().finished.is_empty());
    rig.succeed(job.id);
    let report = rig.tick();
    assert_eq!(report.finished.len(), 1);
    assert_eq!(report.finished[0].status, RunStatus::Succeeded);
    let s = rig.schedules.get("nightly").unwrap();
    assert_eq!(
        (s.stats.runs, s.stats.successes, s.stats.failures),
        (1, 1, 0)
    );
    assert_eq!(s.stats.last_status, Some(RunStatus::Succeeded));
    // Counted once, however often it is looked at.
    rig.tick();
    assert_eq!(rig.schedules.get("nightly").unwrap().stats.successes, 1);
}

#[test]
fn a_transient_failure_is_retried_after_the_delay_with_backoff() {
    let rig = Rig::new(utc(2026, 11, 1, 12, 0));
    rig.add(nightly(RetryPolicy {
        max_attempts: 3,
        delay: Duration::minutes(10),
        backoff: Some(2.0),
        max_delay: Duration::hours(1),
    }));
    rig.clock.set(utc(2026, 11, 2, 2, 0));
    rig.tick();
    let first = rig.claim().unwrap();
    rig.fail(first.id, "STORAGE");

    let report = rig.tick();
    assert_eq!(report.fired.len(), 1, "{report:?}");
    assert_eq!(report.fired[0].attempt, 2);
    let second = rig.jobs.get(report.fired[0].job_id).unwrap();
    assert_ne!(second.id, first.id);
    assert_eq!(
        second.not_before,
        Some(rig.clock.now() + Duration::minutes(10))
    );
    assert!(rig.claim().is_none(), "not before the retry delay");

    rig.clock.advance(Duration::minutes(10));
    let second = rig.claim().unwrap();
    rig.fail(second.id, "IO");
    let report = rig.tick();
    assert_eq!(report.fired[0].attempt, 3);
    let third = rig.jobs.get(report.fired[0].job_id).unwrap();
    assert_eq!(
        third.not_before,
        Some(rig.clock.now() + Duration::minutes(20)),
        "the delay doubles"
    );

    rig.clock.advance(Duration::minutes(20));
    let third = rig.claim().unwrap();
    rig.fail(third.id, JobError::LEASE_EXPIRED);
    let report = rig.tick();
    assert!(report.fired.is_empty(), "3 attempts used: {report:?}");
    assert_eq!(report.finished[0].status, RunStatus::Failed);

    let s = rig.schedules.get("nightly").unwrap();
    assert_eq!(
        (s.stats.runs, s.stats.successes, s.stats.failures),
        (1, 0, 1)
    );
    assert_eq!(
        s.stats.last_error.as_deref(),
        Some("LEASE_EXPIRED went wrong")
    );
    let runs = rig.schedules.runs(&RunQuery::history("nightly")).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].attempt, runs[0].status), (3, RunStatus::Failed));
}

#[test]
fn a_failure_of_the_request_is_not_retried() {
    let rig = Rig::new(utc(2026, 11, 1, 12, 0));
    rig.add(nightly(RetryPolicy::default()));
    rig.clock.set(utc(2026, 11, 2, 2, 0));
    rig.tick();
    let job = rig.claim().unwrap();
    rig.fail(job.id, "UNKNOWN_FIELD");
    let report = rig.tick();
    assert!(report.fired.is_empty());
    assert_eq!(report.finished[0].status, RunStatus::Failed);
    let s = rig.schedules.get("nightly").unwrap();
    assert_eq!(
        (s.stats.failures, s.stats.last_status),
        (1, Some(RunStatus::Failed))
    );
}

#[test]
fn cancelled_and_deleted_jobs_end_their_runs() {
    let rig = Rig::new(utc(2026, 11, 1, 12, 0));
    rig.add(nightly(RetryPolicy::default()));
    rig.clock.set(utc(2026, 11, 2, 2, 0));
    let first = rig.tick().fired[0].job_id;
    rig.jobs.request_cancel(first, rig.clock.now()).unwrap();
    rig.clock.set(utc(2026, 11, 3, 2, 0));
    let report = rig.tick();
    let second = report.fired[0].job_id;
    assert_eq!(report.finished[0].status, RunStatus::Cancelled);
    rig.jobs.delete(second).unwrap();
    let report = rig.tick();
    assert_eq!(report.finished[0].status, RunStatus::Cancelled);
    let s = rig.schedules.get("nightly").unwrap();
    assert_eq!((s.stats.runs, s.stats.failures), (2, 2));
    assert_eq!(
        s.stats.last_error.as_deref(),
        Some("its job was deleted before it finished")
    );
}

#[test]
fn a_scheduler_down_for_days_records_one_misfire_and_no_burst() {
    let rig = Rig::new(utc(2026, 11, 1, 12, 0));
    rig.add(nightly(RetryPolicy::default()));
    rig.clock.set(utc(2026, 11, 5, 9, 0));
    let report = rig.tick();
    assert!(report.fired.is_empty(), "{report:?}");
    assert_eq!(
        report.missed,
        [("nightly".to_string(), utc(2026, 11, 2, 2, 0))]
    );
    let s = rig.schedules.get("nightly").unwrap();
    assert_eq!(s.next_run, Some(utc(2026, 11, 6, 2, 0)));
    assert_eq!((s.stats.runs, s.stats.misfires), (0, 1));
    assert_eq!(s.stats.last_status, Some(RunStatus::Missed));
    assert!(rig.tick().is_empty());
}

#[test]
fn late_within_the_grace_still_runs_once() {
    let rig = Rig::new(utc(2026, 11, 1, 12, 0));
    rig.add(nightly(RetryPolicy::default()).misfire(MisfirePolicy {
        grace: Duration::minutes(30),
    }));
    rig.clock.set(utc(2026, 11, 2, 2, 29));
    let report = rig.tick();
    assert_eq!(report.fired.len(), 1, "{report:?}");
    assert_eq!(report.fired[0].fire_time, utc(2026, 11, 2, 2, 0));
    assert!(report.missed.is_empty(), "{report:?}");
    // Once: a second tick at the same instant, and one later still within the grace, fire
    // nothing, and the schedule waits for the next night.
    assert!(rig.tick().is_empty());
    rig.clock.set(utc(2026, 11, 2, 2, 30));
    assert!(rig.tick().is_empty());
    let s = rig.schedules.get("nightly").unwrap();
    assert_eq!(s.next_run, Some(utc(2026, 11, 3, 2, 0)));
    assert_eq!((s.stats.runs, s.stats.misfires), (1, 0));
}

/// The first run of `s` at `fire`, claimed but not started: what a scheduler that died right
/// after its claim leaves.
fn starting_run(s: &Schedule, fire: DateTime<Utc>) -> export_core::schedule::ScheduleRun {
    export_core::schedule::ScheduleRun {
        schedule_id: s.id.clone(),
        fire_time: fire,
        attempt: 1,
        job_id: Some(s.job_id(fire, 1)),
        status: RunStatus::Starting,
        not_before: None,
        error: None,
        created_at: fire,
        finished_at: None,
    }
}

#[test]
fn a_claimed_fire_time_whose_job_was_never_created_is_started_by_the_next_tick() {
    let rig = Rig::new(utc(2026, 11, 1, 12, 0));
    let s = rig.add(nightly(RetryPolicy::default()));
    let fire = utc(2026, 11, 2, 2, 0);
    // A scheduler claimed the fire time, then died before creating the job.
    let run = starting_run(&s, fire);
    assert!(
        rig.schedules
            .claim_fire(&run, fire, &mut |s| {
                s.next_run = Some(utc(2026, 11, 3, 2, 0));
                s.stats.runs += 1;
            })
            .unwrap()
    );
    rig.clock.set(utc(2026, 11, 2, 2, 1));
    let report = rig.tick();
    assert_eq!(report.fired.len(), 1);
    assert_eq!(report.fired[0].job_id, s.job_id(fire, 1));
    assert!(rig.jobs.get(s.job_id(fire, 1)).is_ok());
}

#[test]
fn a_job_created_before_a_crash_is_not_created_twice() {
    let rig = Rig::new(utc(2026, 11, 1, 12, 0));
    let s = rig.add(nightly(RetryPolicy::default()));
    let fire = utc(2026, 11, 2, 2, 0);
    let run = starting_run(&s, fire);
    rig.schedules
        .claim_fire(&run, fire, &mut |s| {
            s.next_run = Some(utc(2026, 11, 3, 2, 0))
        })
        .unwrap();
    // The job made it into the job store; marking the run `started` did not.
    rig.jobs
        .create(
            export_core::job::NewJob::new(Owner::user("u-1"), trip_request())
                .id(s.job_id(fire, 1))
                .schedule_id("nightly"),
        )
        .unwrap();
    let report = rig.tick();
    assert_eq!(report.fired.len(), 1);
    assert_eq!(
        rig.jobs
            .list(&Owner::user("u-1"), &Default::default())
            .unwrap()
            .jobs
            .len(),
        1
    );
    let runs = rig.schedules.runs(&RunQuery::history("nightly")).unwrap();
    assert_eq!(runs[0].status, RunStatus::Started);
}

#[test]
fn a_platform_deleted_under_a_schedule_fails_its_run_without_retry() {
    let rig = Rig::new(utc(2026, 11, 1, 12, 0));
    rig.add(NewSchedule::new(
        "on-platform",
        Owner::user("u-1"),
        ScheduleTarget::platform("gone"),
        Trigger::cron("0 2 * * *", "UTC").unwrap(),
    ));
    rig.clock.set(utc(2026, 11, 2, 2, 0));
    let report = rig.tick();
    assert!(report.fired.is_empty());
    assert_eq!(report.finished[0].status, RunStatus::Failed);
    let s = rig.schedules.get("on-platform").unwrap();
    assert!(
        s.stats.last_error.as_deref().unwrap().contains("platform"),
        "{:?}",
        s.stats.last_error
    );
}

// ---------------------------------------------------------------------------------------------
// Several schedulers on one store, over a simulated month.

/// The schedules of the simulation: hourly and daily at 02:30 in Paris (both change behaviour
/// across DST), monthly, and a 55-minute interval whose fire times fall between ticks.
fn simulation_schedules(start: DateTime<Utc>) -> Vec<Schedule> {
    let owner = Owner::user("sim");
    let target = || ScheduleTarget::request(trip_request());
    let grace = MisfirePolicy {
        grace: Duration::minutes(15),
    };
    [
        (
            "hourly",
            Trigger::cron("0 * * * *", "Europe/Paris").unwrap(),
        ),
        (
            "daily-0230",
            Trigger::cron("30 2 * * *", "Europe/Paris").unwrap(),
        ),
        (
            "monthly",
            Trigger::cron("0 5 1 * *", "Europe/Paris").unwrap(),
        ),
        (
            "every-55-min",
            Trigger::interval(Duration::minutes(55), start).unwrap(),
        ),
    ]
    .into_iter()
    .map(|(id, trigger)| {
        NewSchedule::new(id, owner.clone(), target(), trigger)
            .misfire(grace)
            .build(start)
            .unwrap()
    })
    .collect()
}

/// One scheduler's view of the shared database: schedules, platforms, jobs.
type Handles = (
    Arc<dyn ScheduleStore>,
    Arc<dyn PlatformStore>,
    Arc<dyn JobStore>,
);

/// Runs `schedulers` (each with its own store handles on one database) in threads from `start`
/// to `end` in 15-minute steps, with a worker completing the jobs, then checks that every fire
/// time of every schedule has exactly one job.
fn simulate(stores: Vec<Handles>, start: DateTime<Utc>, end: DateTime<Utc>) {
    let clock = Arc::new(ManualClock::new(start));
    let schedules = simulation_schedules(start);
    for s in &schedules {
        stores[0].0.insert(s).unwrap();
    }
    let schedulers: Vec<Scheduler> = stores
        .iter()
        .enumerate()
        .map(|(i, (s, p, j))| {
            Scheduler::new(
                SchedulerConfig {
                    id: format!("sched-{i}"),
                    ..SchedulerConfig::default()
                },
                s.clone(),
                p.clone(),
                j.clone(),
                clock.clone(),
            )
        })
        .collect();
    let jobs = stores[0].2.clone();
    let mut fired_total = 0;
    while clock.now() <= end {
        let now = clock.now();
        let reports: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = schedulers
                .iter()
                .map(|sch| scope.spawn(move || sch.tick(now).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for r in &reports {
            assert!(r.errors.is_empty(), "{:?}", r.errors);
            assert!(
                r.missed.is_empty(),
                "no misfire with 15-minute ticks: {r:?}"
            );
            fired_total += r.fired.len();
        }
        while let Some(job) = jobs.claim("worker", Duration::minutes(5), now).unwrap() {
            jobs.complete(job.id, "worker", result(), None, now)
                .unwrap();
        }
        clock.advance(Duration::minutes(15));
    }
    // Follow the last runs (a tick at `end` fires nothing new).
    for sch in &schedulers {
        sch.tick(end).unwrap();
    }
    // Count what the stores hold, not what the schedulers said.
    let store = &stores[0].0;
    let mut expected_total = 0;
    for s in &schedules {
        let expected: Vec<DateTime<Utc>> = s
            .trigger
            .upcoming(start, 10_000)
            .into_iter()
            .take_while(|t| *t <= end)
            .collect();
        let runs = store
            .runs(&RunQuery::history(s.id.clone()).limit(1000))
            .unwrap();
        let mut fires: Vec<DateTime<Utc>> = runs.iter().map(|r| r.fire_time).collect();
        fires.sort();
        assert!(
            expected.len() < 1000,
            "the history query returns at most 1000 runs"
        );
        if fires != expected {
            let first = fires.iter().zip(&expected).position(|(a, b)| a != b);
            panic!(
                "fire times of `{}`: {} runs for {} fire times; first difference at {first:?}",
                s.id,
                fires.len(),
                expected.len()
            );
        }
        let job_ids: BTreeSet<uuid::Uuid> = runs.iter().filter_map(|r| r.job_id).collect();
        assert_eq!(
            job_ids.len(),
            expected.len(),
            "one job per fire time of `{}`",
            s.id
        );
        for id in &job_ids {
            let job = jobs.get(*id).unwrap();
            assert_eq!(job.schedule_id.as_deref(), Some(s.id.as_str()));
            assert_eq!(job.status, JobStatus::Succeeded);
        }
        let stats = store.get(&s.id).unwrap().stats;
        assert_eq!(stats.runs as usize, expected.len(), "runs of `{}`", s.id);
        assert_eq!(
            stats.successes as usize,
            expected.len(),
            "successes of `{}`",
            s.id
        );
        assert_eq!((stats.failures, stats.misfires), (0, 0));
        expected_total += expected.len();
    }
    // And the job store holds no other job.
    let mut in_store = 0;
    let mut query = export_core::job::ListQuery::default().limit(1000);
    loop {
        let page = jobs.list(&Owner::user("sim"), &query).unwrap();
        in_store += page.jobs.len();
        match page.next_cursor {
            Some(c) => query = query.after(c),
            None => break,
        }
    }
    assert_eq!(in_store, expected_total);
    assert_eq!(fired_total, expected_total);
}

/// What the simulated month must contain around the DST changes.
fn fires_by_day(
    trigger: &Trigger,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> BTreeMap<String, usize> {
    let mut days = BTreeMap::new();
    for t in trigger
        .upcoming(from, 2000)
        .into_iter()
        .take_while(|t| *t < to)
    {
        *days
            .entry(
                t.with_timezone(&chrono_tz::Europe::Paris)
                    .date_naive()
                    .to_string(),
            )
            .or_insert(0) += 1;
    }
    days
}

#[test]
fn the_simulation_covers_both_dst_changes() {
    // Hourly fires 23 times on the spring day and 25 on the autumn day; 02:30 once on each.
    let hourly = Trigger::cron("0 * * * *", "Europe/Paris").unwrap();
    let daily = Trigger::cron("30 2 * * *", "Europe/Paris").unwrap();
    let spring = fires_by_day(&hourly, utc(2026, 3, 28, 12, 0), utc(2026, 3, 30, 12, 0));
    assert_eq!(spring["2026-03-29"], 23);
    let autumn = fires_by_day(&hourly, utc(2026, 10, 24, 12, 0), utc(2026, 10, 26, 12, 0));
    assert_eq!(autumn["2026-10-25"], 25);
    assert_eq!(
        fires_by_day(&daily, utc(2026, 10, 24, 12, 0), utc(2026, 10, 26, 12, 0))["2026-10-25"],
        1
    );
    assert_eq!(
        fires_by_day(&daily, utc(2026, 3, 28, 12, 0), utc(2026, 3, 30, 12, 0))["2026-03-29"],
        1
    );
}

#[test]
fn three_schedulers_on_one_sqlite_file_fire_once_per_fire_time_for_a_month() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exports.db");
    let stores = (0..3)
        .map(|_| {
            let s = Arc::new(SqliteScheduleStore::open(&path).unwrap());
            let j: Arc<dyn JobStore> = Arc::new(SqliteJobStore::open(&path).unwrap());
            (
                s.clone() as Arc<dyn ScheduleStore>,
                s as Arc<dyn PlatformStore>,
                j,
            )
        })
        .collect();
    // October 2026: the autumn change on the 25th.
    simulate(stores, utc(2026, 9, 30, 21, 0), utc(2026, 10, 31, 23, 0));
}

#[test]
fn three_schedulers_on_memory_stores_fire_once_across_the_spring_change() {
    let s = Arc::new(MemoryScheduleStore::new());
    let j: Arc<dyn JobStore> = Arc::new(MemoryJobStore::new());
    let stores = (0..3)
        .map(|_| {
            (
                s.clone() as Arc<dyn ScheduleStore>,
                s.clone() as Arc<dyn PlatformStore>,
                j.clone(),
            )
        })
        .collect();
    simulate(stores, utc(2026, 3, 15, 0, 0), utc(2026, 4, 15, 0, 0));
}

#[cfg(feature = "postgres")]
#[test]
fn three_schedulers_on_one_postgres_schema_fire_once_per_fire_time_for_a_month() {
    use export_core::db::PgOptions;
    use export_core::job::PgJobStore;
    use export_core::schedule::PgScheduleStore;
    let Some(url) = services::pg_url() else {
        return;
    };
    let schema = format!("test_{}", uuid::Uuid::new_v4().simple());
    let options = || PgOptions::default().schema(schema.clone()).pool_size(2);
    let stores = (0..3)
        .map(|_| {
            let s = Arc::new(PgScheduleStore::connect_with(&url, options()).unwrap());
            let j: Arc<dyn JobStore> = Arc::new(PgJobStore::connect_with(&url, options()).unwrap());
            (
                s.clone() as Arc<dyn ScheduleStore>,
                s as Arc<dyn PlatformStore>,
                j,
            )
        })
        .collect();
    // March 2026: the spring change on the 29th.
    simulate(stores, utc(2026, 3, 1, 0, 0), utc(2026, 3, 31, 22, 0));
    if let Ok(mut client) = crate::pg_admin::Client::connect(&url) {
        let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    }
}

#[test]
fn run_forever_sleeps_until_the_next_fire_time_not_the_poll_interval() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration as StdDuration, Instant};

    let schedules = Arc::new(MemoryScheduleStore::new());
    let jobs = Arc::new(MemoryJobStore::new());
    let clock = Arc::new(export_core::clock::SystemClock);
    let every_two_seconds = NewSchedule::new(
        "often",
        Owner::user("u-1"),
        ScheduleTarget::request(trip_request()),
        Trigger::interval(Duration::seconds(2), DateTime::UNIX_EPOCH).unwrap(),
    )
    .build(clock.now())
    .unwrap();
    schedules.insert(&every_two_seconds).unwrap();
    // A poll interval far longer than the test: only sleeping until the next fire time can
    // create more than the first job.
    let config = SchedulerConfig {
        poll_interval: Duration::minutes(10),
        ..SchedulerConfig::default()
    };
    let scheduler = Scheduler::new(config, schedules.clone(), schedules, jobs.clone(), clock);
    let shutdown = AtomicBool::new(false);
    let started = Instant::now();
    let count = || {
        jobs.list(&Owner::user("u-1"), &export_core::job::ListQuery::default())
            .unwrap()
            .jobs
            .len()
    };
    std::thread::scope(|s| {
        let running = s.spawn(|| scheduler.run_forever(&shutdown));
        while count() < 3 && started.elapsed() < StdDuration::from_secs(30) {
            std::thread::sleep(StdDuration::from_millis(50));
        }
        shutdown.store(true, Ordering::SeqCst);
        let stopping = Instant::now();
        let created = running.join().unwrap();
        assert!(
            stopping.elapsed() < StdDuration::from_secs(5),
            "shutdown took {:?}",
            stopping.elapsed()
        );
        assert!(created >= 3, "{created} jobs in {:?}", started.elapsed());
        assert_eq!(created as usize, count());
    });
}
