//! [`Scheduler`]: turns due schedules into jobs, exactly once per fire time, and follows them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::misfire::{Decision, due_fire};
use super::model::{RunStatus, Schedule, ScheduleRun};
use super::store::{RunQuery, ScheduleStore};
use crate::audit::{AuditAction, AuditEvent, AuditLog};
use crate::clock::Clock;
use crate::error::{ExportError, Result};
use crate::job::{JobStatus, JobStore, NewJob};
use crate::platform::PlatformStore;
use crate::retention::{DefaultRetention, RetentionPolicy, job_retention};

/// Settings of a [`Scheduler`].
///
/// # Examples
///
/// ```
/// use chrono::Duration;
/// use export_core::schedule::SchedulerConfig;
/// let config = SchedulerConfig { id: "host-a".into(), ..SchedulerConfig::default() };
/// assert_eq!(config.poll_interval, Duration::seconds(10));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// A name for this scheduler in messages (default `scheduler-<pid>`).
    pub id: String,
    /// Most due schedules fired, and most open runs followed, per tick (default 100).
    pub batch: usize,
    /// Longest sleep of [`Scheduler::run_forever`] between ticks (default 10 s): how soon a
    /// finished job is counted and a retry started.
    pub poll_interval: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            id: format!("scheduler-{}", std::process::id()),
            batch: 100,
            poll_interval: Duration::seconds(10),
        }
    }
}

/// A job a tick created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FiredJob {
    /// The schedule.
    pub schedule_id: String,
    /// The fire time the job stands for.
    pub fire_time: DateTime<Utc>,
    /// The attempt (2 and more are retries).
    pub attempt: u32,
    /// The job.
    pub job_id: Uuid,
}

/// A run a tick finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FinishedRun {
    /// The schedule.
    pub schedule_id: String,
    /// The fire time.
    pub fire_time: DateTime<Utc>,
    /// How it ended.
    pub status: RunStatus,
}

/// What one [`Scheduler::tick`] did (only what this scheduler won; another scheduler's work is
/// not reported here).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TickReport {
    /// Jobs created: first attempts of fire times, and retries.
    pub fired: Vec<FiredJob>,
    /// Fire times skipped as misfires: (schedule id, fire time).
    pub missed: Vec<(String, DateTime<Utc>)>,
    /// Runs that reached their final status.
    pub finished: Vec<FinishedRun>,
    /// Problems with single schedules that did not stop the tick (a store or job-store error
    /// while starting or following a run; the run is picked up again next tick).
    pub errors: Vec<String>,
}

impl TickReport {
    /// True when the tick did nothing.
    pub fn is_empty(&self) -> bool {
        self.fired.is_empty()
            && self.missed.is_empty()
            && self.finished.is_empty()
            && self.errors.is_empty()
    }
}

/// Creates the jobs of due schedules and follows them. Run one or several (on several hosts)
/// over one schedule store and one job store; how it fires and follows runs is described below.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use chrono::{Duration, TimeZone, Utc};
/// use export_core::clock::ManualClock;
/// use export_core::job::{JobStore, MemoryJobStore, Owner};
/// use export_core::request::{ExportRequest, Format};
/// use export_core::schedule::{MemoryScheduleStore, NewSchedule, ScheduleStore, ScheduleTarget, Scheduler, SchedulerConfig, Trigger};
///
/// let start = Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap();
/// let clock = Arc::new(ManualClock::new(start));
/// let schedules = Arc::new(MemoryScheduleStore::new());
/// let jobs = Arc::new(MemoryJobStore::new());
/// let target = ScheduleTarget::request(ExportRequest::new("trip", Format::Csv));
/// schedules.insert(&NewSchedule::new("nightly", Owner::user("u-1"), target, Trigger::cron("0 2 * * *", "UTC")?).build(start)?)?;
///
/// let scheduler = Scheduler::new(SchedulerConfig::default(), schedules.clone(), schedules.clone(), jobs.clone(), clock.clone());
/// assert!(scheduler.tick(clock.now())?.fired.is_empty()); // 00:00, not due
/// clock.advance(Duration::hours(2));
/// let report = scheduler.tick(clock.now())?;
/// assert_eq!(report.fired.len(), 1);
/// assert_eq!(jobs.get(report.fired[0].job_id)?.schedule_id.as_deref(), Some("nightly"));
/// assert!(scheduler.tick(clock.now())?.fired.is_empty()); // once per fire time
/// # use export_core::clock::Clock;
/// # Ok::<(), export_core::ExportError>(())
/// ```
///
/// # One tick
///
/// 1. **Fire.** For each enabled schedule whose `next_run` has come, [`due_fire`] decides: run
///    now (on time, or late within the misfire grace) or skip (a misfire). The scheduler then
///    *claims* the fire time in the schedule store ([`ScheduleStore::claim_fire`]): a
///    compare-and-set on `next_run` plus a unique key on (schedule id, fire time). Only the
///    scheduler whose claim succeeds goes on, so several schedulers on one store never create
///    two runs for one fire time.
/// 2. **Start.** The claimed run's job is created with a deterministic id
///    ([`Schedule::job_id`]): if this scheduler dies between the claim and the creation, the
///    next tick (of any scheduler) finds the run still `starting` and creates the job, and the
///    job store's unique id makes a second creation a harmless [`ExportError::AlreadyExists`].
/// 3. **Follow.** Open runs are matched with their jobs: a succeeded job counts a success; a
///    failed one is retried per the schedule's [`RetryPolicy`](super::RetryPolicy) (a new job
///    for the same fire time, after the delay) when its error is transient, else counts a
///    failure; a cancelled or deleted one counts a failure. Each of these changes is a
///    compare-and-set on the run ([`ScheduleStore::update_run`]), so statistics are counted
///    once.
///
/// Scheduled jobs get one attempt each ([`NewJob::max_attempts`] 1): retries belong to the
/// schedule, with its delay, and each is a job of its own that users can see.
///
/// # Retention and audit
///
/// Each job's retention comes from the scheduler's [`RetentionPolicy`] (a [`DefaultRetention`]
/// unless [`Scheduler::with_retention_policy`] sets the one the service uses) through
/// [`job_retention`]: a schedule's own retention may shorten it, never lengthen it past the
/// policy (7 days for personal data by default); for data the policy keeps forever it applies
/// as given.
///
/// With an audit log ([`Scheduler::with_audit`]) each job is recorded, before it is created,
/// as a `create` event by the schedule's owner, with the request and a detail naming the
/// schedule and the fire time. The event's id is derived from the job's, so the tick that
/// finishes the start of a run an earlier tick died in does not record it twice (logs that
/// refuse duplicate ids).
pub struct Scheduler {
    config: SchedulerConfig,
    schedules: Arc<dyn ScheduleStore>,
    platforms: Arc<dyn PlatformStore>,
    jobs: Arc<dyn JobStore>,
    clock: Arc<dyn Clock>,
    retention: Arc<dyn RetentionPolicy>,
    audit: Option<Arc<dyn AuditLog>>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("config", &self.config)
            .field("schedules", &self.schedules.backend())
            .field("jobs", &self.jobs.backend())
            .finish_non_exhaustive()
    }
}

/// How long [`Scheduler::run_forever`] sleeps at most before looking at the shutdown flag.
const SHUTDOWN_STEP: StdDuration = StdDuration::from_millis(50);

impl Scheduler {
    /// A scheduler over `schedules` (with the `platforms` they refer to, usually the same
    /// store), creating jobs in `jobs`, reading time from `clock` in
    /// [`run_forever`](Scheduler::run_forever).
    pub fn new(
        config: SchedulerConfig,
        schedules: Arc<dyn ScheduleStore>,
        platforms: Arc<dyn PlatformStore>,
        jobs: Arc<dyn JobStore>,
        clock: Arc<dyn Clock>,
    ) -> Scheduler {
        Scheduler {
            config,
            schedules,
            platforms,
            jobs,
            clock,
            retention: Arc::new(DefaultRetention::default()),
            audit: None,
        }
    }

    /// Replaces the retention policy of the jobs it creates (default [`DefaultRetention`]);
    /// give it the service's, so that every creation path keeps data equally long.
    pub fn with_retention_policy(mut self, policy: Arc<dyn RetentionPolicy>) -> Scheduler {
        self.retention = policy;
        self
    }

    /// Records a `create` event for each job it creates; see [`Scheduler`]'s *Retention and audit*.
    pub fn with_audit(mut self, audit: Arc<dyn AuditLog>) -> Scheduler {
        self.audit = Some(audit);
        self
    }

    /// Fires the schedules due at `now` and follows the open runs; see [`Scheduler`].
    ///
    /// # Errors
    ///
    /// [`ExportError::Store`] when the schedule store cannot list due schedules or open runs.
    /// Errors about one schedule are collected in [`TickReport::errors`] instead, so one bad
    /// schedule does not hold up the others.
    pub fn tick(&self, now: DateTime<Utc>) -> Result<TickReport> {
        let mut report = TickReport::default();
        for schedule in self.schedules.due(now, self.config.batch)? {
            let _schedule = tracing::info_span!("schedule", schedule_id = %schedule.id).entered();
            if let Err(e) = self.fire(&schedule, now, &mut report) {
                tracing::warn!(error = %e, "schedule not fired");
                report
                    .errors
                    .push(format!("schedule `{}`: {e}", schedule.id));
            }
        }
        let open = self
            .schedules
            .runs(&RunQuery::open().limit(self.config.batch.clamp(1, 1000) as u32))?;
        for run in open {
            let _run = tracing::info_span!(
                "schedule_run",
                schedule_id = %run.schedule_id,
                fire_time = %run.fire_time.to_rfc3339(),
                attempt = run.attempt
            )
            .entered();
            if let Err(e) = self.follow(run.clone(), now, &mut report) {
                tracing::warn!(error = %e, "schedule run not followed");
                report.errors.push(format!(
                    "schedule `{}` run {}: {e}",
                    run.schedule_id,
                    run.fire_time.to_rfc3339()
                ));
            }
        }
        Ok(report)
    }

    /// Ticks until `shutdown` is set, sleeping until the next due schedule, at most
    /// [`SchedulerConfig::poll_interval`]. Returns the number of jobs created.
    ///
    /// Errors do not stop the loop: they are emitted as `tracing` events (the CLI writes them
    /// to standard error) and the tick is tried again after a poll interval. The flag is
    /// noticed within 50 ms.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::sync::atomic::AtomicBool;
    /// # use export_core::{clock::SystemClock, job::MemoryJobStore};
    /// # use export_core::schedule::{MemoryScheduleStore, Scheduler, SchedulerConfig};
    /// let store = Arc::new(MemoryScheduleStore::new());
    /// let scheduler = Scheduler::new(SchedulerConfig::default(), store.clone(), store,
    ///     Arc::new(MemoryJobStore::new()), Arc::new(SystemClock));
    /// let shutdown = AtomicBool::new(true); // already asked to stop
    /// assert_eq!(scheduler.run_forever(&shutdown), 0);
    /// ```
    pub fn run_forever(&self, shutdown: &AtomicBool) -> u64 {
        let _scheduler = tracing::info_span!("scheduler", scheduler_id = %self.config.id).entered();
        let mut created = 0;
        while !shutdown.load(Ordering::SeqCst) {
            let now = self.clock.now();
            match self.tick(now) {
                Ok(report) => {
                    created += report.fired.len() as u64;
                    if !report.fired.is_empty() || !report.finished.is_empty() {
                        tracing::debug!(
                            fired = report.fired.len(),
                            finished = report.finished.len(),
                            missed = report.missed.len(),
                            errors = report.errors.len(),
                            "tick"
                        );
                    }
                }
                Err(e) => tracing::error!(
                    error = %e,
                    "scheduler: schedule store error; trying again after the poll interval"
                ),
            }
            let wait = self.sleep_for(now);
            let until = Instant::now() + wait;
            while !shutdown.load(Ordering::SeqCst) {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                std::thread::sleep(left.min(SHUTDOWN_STEP));
            }
        }
        created
    }

    /// Until the next due schedule, at most a poll interval, at least 10 ms.
    fn sleep_for(&self, now: DateTime<Utc>) -> StdDuration {
        let poll = self.config.poll_interval;
        let wait = match self.schedules.next_due() {
            Ok(Some(next)) => (next - now).clamp(Duration::zero(), poll),
            _ => poll,
        };
        wait.to_std()
            .unwrap_or_default()
            .max(StdDuration::from_millis(10))
    }

    /// Decides on one due schedule and claims its fire time.
    fn fire(&self, schedule: &Schedule, now: DateTime<Utc>, report: &mut TickReport) -> Result<()> {
        let Some(expected) = schedule.next_run else {
            return Ok(());
        };
        match due_fire(&schedule.trigger, expected, now, schedule.misfire)? {
            Decision::Wait => Ok(()),
            Decision::RunNow {
                fire_time,
                next_run,
            } => {
                let run = ScheduleRun {
                    schedule_id: schedule.id.clone(),
                    fire_time,
                    attempt: 1,
                    job_id: Some(schedule.job_id(fire_time, 1)),
                    status: RunStatus::Starting,
                    not_before: None,
                    error: None,
                    created_at: now,
                    finished_at: None,
                };
                let won = self.schedules.claim_fire(&run, expected, &mut |s| {
                    s.next_run = next_run;
                    s.stats.runs += 1;
                    s.stats.last_run = Some(fire_time);
                    s.stats.last_status = Some(RunStatus::Starting);
                })?;
                if won {
                    self.start(run, now, report)?;
                }
                Ok(())
            }
            Decision::Skip { missed, next_run } => {
                let run = ScheduleRun {
                    schedule_id: schedule.id.clone(),
                    fire_time: missed,
                    attempt: 0,
                    job_id: None,
                    status: RunStatus::Missed,
                    not_before: None,
                    error: Some(format!(
                        "missed by {} s, more than the {} s grace",
                        (now - missed).num_seconds(),
                        schedule.misfire.grace.num_seconds()
                    )),
                    created_at: now,
                    finished_at: Some(now),
                };
                let won = self.schedules.claim_fire(&run, expected, &mut |s| {
                    s.next_run = next_run;
                    s.stats.misfires += 1;
                    s.stats.last_run = Some(missed);
                    s.stats.last_status = Some(RunStatus::Missed);
                })?;
                if won {
                    tracing::info!(
                        fire_time = %missed.to_rfc3339(),
                        grace_s = schedule.misfire.grace.num_seconds(),
                        "fire time missed: skipped"
                    );
                    report.missed.push((schedule.id.clone(), missed));
                }
                Ok(())
            }
        }
    }

    /// Creates the job of a `starting` run (idempotently) and marks the run `started`.
    fn start(&self, run: ScheduleRun, now: DateTime<Utc>, report: &mut TickReport) -> Result<()> {
        let schedule = match self.schedules.get(&run.schedule_id) {
            Ok(s) => s,
            Err(ExportError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        let Some(job_id) = run.job_id else {
            return Ok(());
        };
        let request = match schedule.resolve_request(self.platforms.as_ref(), run.fire_time) {
            Ok(r) => r,
            // The target cannot be built (platform deleted, overrides invalid): retrying will
            // not help, the run fails.
            Err(e) if !matches!(e, ExportError::Store { .. }) => {
                return self.finish(&run, RunStatus::Failed, Some(e.to_string()), now, report);
            }
            Err(e) => return Err(e),
        };
        let mut new = NewJob::new(schedule.owner.clone(), request)
            .id(job_id)
            .created_at(now)
            .max_attempts(1)
            .schedule_id(schedule.id.clone());
        if let Some(at) = run.not_before {
            new = new.not_before(at);
        }
        if let Some(retention) =
            job_retention(self.retention.as_ref(), &new.request, schedule.retention)
        {
            new = new.retention(retention);
        }
        if let Some(audit) = &self.audit {
            let mut event = AuditEvent::new(
                AuditAction::Create,
                schedule.owner.user_id.clone(),
                schedule.owner.organisation_id.clone(),
                now,
            )
            .with_request(&new.request)
            .with_detail(format!(
                "schedule {} ({}): run of {}, attempt {}",
                schedule.id,
                schedule.name,
                run.fire_time.to_rfc3339(),
                run.attempt
            ));
            event.id = Uuid::new_v5(&job_id, b"create");
            event.job_id = Some(job_id);
            match audit.record(&event) {
                // Recorded by an earlier tick that died before creating the job.
                Ok(()) | Err(ExportError::AlreadyExists { .. }) => {}
                Err(e) => {
                    crate::audit::trace_failure(&event, &e);
                    return Err(e);
                }
            }
        }
        match self.jobs.create(new) {
            // This run's job exists already (an earlier tick died after creating it).
            Ok(_) | Err(ExportError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
        let fire_time = run.fire_time;
        let won = self.schedules.update_run(
            &run.schedule_id,
            fire_time,
            (run.attempt, RunStatus::Starting),
            &mut |r, s| {
                r.status = RunStatus::Started;
                if s.stats.last_run == Some(fire_time) {
                    s.stats.last_status = Some(RunStatus::Started);
                }
            },
        )?;
        if won {
            tracing::info!(
                %job_id,
                fire_time = %fire_time.to_rfc3339(),
                attempt = run.attempt,
                "schedule fired: job enqueued"
            );
            report.fired.push(FiredJob {
                schedule_id: run.schedule_id,
                fire_time,
                attempt: run.attempt,
                job_id,
            });
        }
        Ok(())
    }

    /// Moves an open run on according to its job.
    fn follow(&self, run: ScheduleRun, now: DateTime<Utc>, report: &mut TickReport) -> Result<()> {
        if run.status == RunStatus::Starting {
            return self.start(run, now, report);
        }
        let Some(job_id) = run.job_id else {
            return Ok(());
        };
        let job = match self.jobs.get(job_id) {
            Ok(job) => job,
            Err(ExportError::NotFound { .. }) => {
                let why = "its job was deleted before it finished".to_string();
                return self.finish(&run, RunStatus::Cancelled, Some(why), now, report);
            }
            Err(e) => return Err(e),
        };
        match job.status {
            JobStatus::Pending | JobStatus::Running => Ok(()),
            JobStatus::Succeeded | JobStatus::Expired => {
                self.finish(&run, RunStatus::Succeeded, None, now, report)
            }
            JobStatus::Cancelled => {
                let why = "its job was cancelled".to_string();
                self.finish(&run, RunStatus::Cancelled, Some(why), now, report)
            }
            JobStatus::Failed => {
                let error = job.error.clone();
                let message = error
                    .as_ref()
                    .map_or_else(|| "the job failed".to_string(), |e| e.message.clone());
                let transient = error.as_ref().is_some_and(|e| e.is_transient());
                let schedule = self.schedules.get(&run.schedule_id)?;
                if transient && run.attempt < schedule.retry.max_attempts {
                    self.retry(&run, &message, now, report)
                } else {
                    self.finish(&run, RunStatus::Failed, Some(message), now, report)
                }
            }
        }
    }

    /// Moves a run whose job failed to its next attempt, then starts it.
    fn retry(
        &self,
        run: &ScheduleRun,
        message: &str,
        now: DateTime<Utc>,
        report: &mut TickReport,
    ) -> Result<()> {
        let mut next = None;
        let won = self.schedules.update_run(
            &run.schedule_id,
            run.fire_time,
            (run.attempt, run.status),
            &mut |r, s| {
                r.attempt += 1;
                r.job_id = Some(s.job_id(r.fire_time, r.attempt));
                r.status = RunStatus::Starting;
                r.not_before = Some(now + s.retry.delay_before(r.attempt));
                r.error = Some(message.to_string());
                next = Some(r.clone());
            },
        )?;
        match next {
            Some(next) if won => {
                tracing::info!(
                    failed_job_id = run.job_id.map(tracing::field::display),
                    next_attempt = next.attempt,
                    not_before = next
                        .not_before
                        .map(|t| tracing::field::display(t.to_rfc3339())),
                    "schedule run's job failed: retry scheduled"
                );
                self.start(next, now, report)
            }
            _ => Ok(()),
        }
    }

    /// Records the final status of a run and counts it in its schedule's statistics.
    fn finish(
        &self,
        run: &ScheduleRun,
        status: RunStatus,
        error: Option<String>,
        now: DateTime<Utc>,
        report: &mut TickReport,
    ) -> Result<()> {
        let won = self.schedules.update_run(
            &run.schedule_id,
            run.fire_time,
            (run.attempt, run.status),
            &mut |r, s| {
                r.status = status;
                r.error.clone_from(&error);
                r.finished_at = Some(now);
                if status == RunStatus::Succeeded {
                    s.stats.successes += 1;
                } else {
                    s.stats.failures += 1;
                    s.stats.last_error.clone_from(&error);
                }
                if s.stats.last_run == Some(r.fire_time) {
                    s.stats.last_status = Some(status);
                }
            },
        )?;
        if won {
            tracing::info!(
                job_id = run.job_id.map(tracing::field::display),
                status = %status.as_str(),
                error = error.as_deref().map(tracing::field::display),
                "schedule run finished"
            );
            report.finished.push(FinishedRun {
                schedule_id: run.schedule_id.clone(),
                fire_time: run.fire_time,
                status,
            });
        }
        Ok(())
    }
}
