//! The rules of every store operation, as pure functions on an [`ExportJob`] in memory.
//!
//! Each store loads the job (under its lock or in its transaction), applies one of these, and
//! writes it back, so all stores behave the same and every status change goes through
//! [`transition`].

use chrono::{DateTime, Duration, Utc};

use super::status::{JobEvent, JobStatus, check_transition, transition};
use super::store::{HeartbeatAck, ListQuery, MAX_LIST_LIMIT};
use super::{ExportJob, JobError, JobResult, MAX_ATTEMPTS, NewJob, Progress};
use crate::error::{ExportError, Result};

/// `t` truncated to whole microseconds: the precision of every store (PostgreSQL's
/// `timestamptz`, SQLite's integer column), so a job reads back equal to what was written.
pub(crate) fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// Adds `d` to `t`.
fn add(t: DateTime<Utc>, d: Duration, field: &str) -> Result<DateTime<Utc>> {
    t.checked_add_signed(d)
        .map(micros)
        .ok_or_else(|| ExportError::request(field, format!("{d} is out of range")))
}

fn positive(d: Duration, field: &str) -> Result<()> {
    if d <= Duration::zero() {
        return Err(ExportError::request(
            field,
            format!("must be positive, got {d}"),
        ));
    }
    Ok(())
}

/// Checks an owner's user id given to `create` or `list`.
pub(crate) fn check_owner(user_id: &str) -> Result<()> {
    if user_id.trim().is_empty() {
        return Err(ExportError::request("owner.user_id", "must not be empty"));
    }
    Ok(())
}

fn check_worker(worker_id: &str) -> Result<()> {
    if worker_id.trim().is_empty() {
        return Err(ExportError::request("worker_id", "must not be empty"));
    }
    Ok(())
}

/// Checks a list query's limit.
pub(crate) fn check_query(query: &ListQuery) -> Result<()> {
    check_limit(query.limit)
}

/// Checks a page size.
pub(crate) fn check_limit(limit: u32) -> Result<()> {
    if limit == 0 || limit > MAX_LIST_LIMIT {
        return Err(ExportError::request(
            "limit",
            format!("{limit} is outside 1..={MAX_LIST_LIMIT}"),
        ));
    }
    Ok(())
}

/// Encodes a keyset position (creation instant, insertion sequence) as an opaque cursor.
pub(crate) fn encode_cursor(created_at: DateTime<Utc>, seq: i64) -> String {
    format!("{}.{}", created_at.timestamp_micros(), seq)
}

/// A page from up to `limit + 1` rows (insertion sequence, job), newest first, as the SQL stores
/// fetch them: the extra row only says that another page follows.
pub(crate) fn page(mut rows: Vec<(i64, ExportJob)>, limit: u32) -> crate::job::Page {
    let limit = limit as usize;
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last()
            .map(|(seq, job)| encode_cursor(job.created_at, *seq))
    } else {
        None
    };
    crate::job::Page {
        jobs: rows.into_iter().map(|(_, job)| job).collect(),
        next_cursor,
    }
}

/// Decodes a cursor made by [`encode_cursor`].
pub(crate) fn decode_cursor(cursor: &str) -> Result<(i64, i64)> {
    let bad = || {
        ExportError::request(
            "cursor",
            format!("`{cursor}` is not a cursor of this store"),
        )
    };
    let (micros, seq) = cursor.split_once('.').ok_or_else(bad)?;
    Ok((
        micros.parse().map_err(|_| bad())?,
        seq.parse().map_err(|_| bad())?,
    ))
}

/// The pending job `new` describes, checked and normalised.
pub(crate) fn new_job(new: NewJob) -> Result<ExportJob> {
    check_owner(&new.owner.user_id)?;
    if new.max_attempts == 0 || new.max_attempts > MAX_ATTEMPTS {
        return Err(ExportError::request(
            "max_attempts",
            format!("{} is outside 1..={MAX_ATTEMPTS}", new.max_attempts),
        ));
    }
    let retention = match new.retention {
        Some(d) if d < Duration::zero() => {
            return Err(ExportError::request(
                "retention",
                format!("must not be negative, got {d}"),
            ));
        }
        Some(d) => Some(Duration::seconds(d.num_seconds())),
        None => None,
    };
    Ok(ExportJob {
        id: new.id,
        owner: new.owner,
        request: new.request,
        status: JobStatus::Pending,
        progress: Progress::default(),
        created_at: micros(new.created_at),
        started_at: None,
        heartbeat_at: None,
        finished_at: None,
        expires_at: None,
        not_before: new.not_before.map(micros),
        attempts: 0,
        max_attempts: new.max_attempts,
        retention,
        lease: None,
        cancel_requested: false,
        result: None,
        error: None,
        schedule_id: new.schedule_id,
    })
}

/// True when `job` may be claimed at `now`.
pub(crate) fn is_claimable(job: &ExportJob, now: DateTime<Utc>) -> bool {
    job.status == JobStatus::Pending && job.not_before.is_none_or(|t| t <= now)
}

/// True when `job` is running on a lease that has run out at `now`.
pub(crate) fn lease_expired(job: &ExportJob, now: DateTime<Utc>) -> bool {
    job.status == JobStatus::Running && job.lease.as_ref().is_none_or(|l| l.until <= now)
}

/// Checks the claim arguments before any store work.
pub(crate) fn check_claim(worker_id: &str, lease: Duration) -> Result<()> {
    check_worker(worker_id)?;
    positive(lease, "lease")
}

/// What a claim writes, whichever job it takes: the new status, the start instant and the lease's
/// end. Stores that claim in one SQL statement use this; [`claim`] applies it to a loaded job.
pub(crate) struct ClaimFields {
    pub status: JobStatus,
    pub now: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// The fields a claim by `worker_id` at `now` writes on job `id` (pending, by the claim query).
pub(crate) fn claim_fields(
    id: uuid::Uuid,
    worker_id: &str,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<ClaimFields> {
    check_claim(worker_id, lease)?;
    let now = micros(now);
    Ok(ClaimFields {
        status: transition(id, JobStatus::Pending, JobEvent::Claim)?,
        now,
        until: add(now, lease, "lease")?,
    })
}

/// Claims `job` for `worker_id`: running, leased until `now + lease`, one more attempt, progress
/// reset.
pub(crate) fn claim(
    job: &mut ExportJob,
    worker_id: &str,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<()> {
    let ClaimFields { status, now, until } = claim_fields(job.id, worker_id, lease, now)?;
    check_transition(job.id, job.status, status)?;
    job.status = status;
    job.attempts = job.attempts.saturating_add(1);
    job.started_at = Some(now);
    job.heartbeat_at = Some(now);
    job.progress = Progress::default();
    job.lease = Some(super::Lease {
        worker_id: worker_id.to_string(),
        until,
    });
    Ok(())
}

/// Checks that `worker_id` holds `job`'s lease.
fn check_holder(job: &ExportJob, worker_id: &str) -> Result<()> {
    if job.is_leased_to(worker_id) {
        return Ok(());
    }
    Err(ExportError::lease_lost(job.id.to_string(), worker_id))
}

/// Records a heartbeat: progress, and the lease extended to `now + lease`.
pub(crate) fn heartbeat(
    job: &mut ExportJob,
    worker_id: &str,
    progress: Progress,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<HeartbeatAck> {
    positive(lease, "lease")?;
    check_holder(job, worker_id)?;
    let now = micros(now);
    let until = add(now, lease, "lease")?;
    job.progress = progress;
    job.heartbeat_at = Some(now);
    job.lease = Some(super::Lease {
        worker_id: worker_id.to_string(),
        until,
    });
    Ok(HeartbeatAck {
        cancel_requested: job.cancel_requested,
        lease_until: until,
    })
}

/// Moves `job` to a finished status: finish time, expiry, lease released.
fn finish(
    job: &mut ExportJob,
    event: JobEvent,
    now: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
) -> Result<()> {
    let status = transition(job.id, job.status, event)?;
    let now = micros(now);
    let expires_at = match (expires_at, job.retention) {
        (Some(t), _) => Some(micros(t)),
        (None, Some(keep)) => Some(add(now, keep, "retention")?),
        (None, None) => None,
    };
    job.status = status;
    job.finished_at = Some(now);
    job.expires_at = expires_at;
    job.lease = None;
    Ok(())
}

/// The worker published the file.
pub(crate) fn complete(
    job: &mut ExportJob,
    worker_id: &str,
    result: JobResult,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<()> {
    check_holder(job, worker_id)?;
    finish(job, JobEvent::Succeed, now, expires_at)?;
    job.progress = Progress::new(result.rows, Some(result.rows));
    job.result = Some(result);
    job.error = None;
    job.cancel_requested = false;
    Ok(())
}

/// Puts a running job back in the queue for another attempt at `not_before`, or finishes it
/// (cancelled when a cancel was asked, else failed) when no attempt is left or none is wanted.
fn retry_or_finish(
    job: &mut ExportJob,
    error: JobError,
    retry_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<()> {
    job.error = Some(error);
    match retry_at {
        _ if job.cancel_requested => finish(job, JobEvent::Cancel, now, None),
        Some(at) if job.attempts < job.max_attempts => {
            job.status = transition(job.id, job.status, JobEvent::Retry)?;
            job.not_before = Some(micros(at));
            job.lease = None;
            Ok(())
        }
        _ => finish(job, JobEvent::Fail, now, None),
    }
}

/// The worker's attempt failed.
pub(crate) fn fail(
    job: &mut ExportJob,
    worker_id: &str,
    error: JobError,
    retry_delay: Option<Duration>,
    now: DateTime<Utc>,
) -> Result<()> {
    check_holder(job, worker_id)?;
    let retry_at = match retry_delay {
        Some(d) if d < Duration::zero() => {
            return Err(ExportError::request(
                "retry_delay",
                format!("must not be negative, got {d}"),
            ));
        }
        Some(d) => Some(add(micros(now), d, "retry_delay")?),
        None => None,
    };
    retry_or_finish(job, error, retry_at, now)
}

/// A cancel request: a pending job is cancelled at once (returns `true`), a running one is
/// flagged for its worker (returns `true` the first time), a cancelled one is left as is
/// (returns `false`).
pub(crate) fn request_cancel(job: &mut ExportJob, now: DateTime<Utc>) -> Result<bool> {
    match job.status {
        JobStatus::Pending => {
            finish(job, JobEvent::Cancel, now, None)?;
            Ok(true)
        }
        JobStatus::Running => {
            let changed = !job.cancel_requested;
            job.cancel_requested = true;
            Ok(changed)
        }
        JobStatus::Cancelled => Ok(false),
        from => {
            transition(job.id, from, JobEvent::Cancel)?;
            Ok(false)
        }
    }
}

/// The worker stopped a running job.
pub(crate) fn mark_cancelled(
    job: &mut ExportJob,
    worker_id: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    check_holder(job, worker_id)?;
    finish(job, JobEvent::Cancel, now, None)
}

/// The worker hands a running job back before its end (it is shutting down): pending again,
/// claimable at once, lease gone and the attempt given back (it did not fail). A job whose
/// owner asked to cancel it is cancelled instead of queued again.
pub(crate) fn release(job: &mut ExportJob, worker_id: &str, now: DateTime<Utc>) -> Result<()> {
    check_holder(job, worker_id)?;
    if job.cancel_requested {
        return finish(job, JobEvent::Cancel, now, None);
    }
    job.status = transition(job.id, job.status, JobEvent::Retry)?;
    job.attempts = job.attempts.saturating_sub(1);
    job.not_before = None;
    job.lease = None;
    Ok(())
}

/// Retention is over: expired, and, when asked, anonymised (owner ids, recipients and the error
/// message blanked).
pub(crate) fn expire(job: &mut ExportJob, now: DateTime<Utc>, anonymise: bool) -> Result<()> {
    job.status = transition(job.id, job.status, JobEvent::Expire)?;
    if job.expires_at.is_none_or(|t| t > now) {
        job.expires_at = Some(micros(now));
    }
    if anonymise {
        job.owner.user_id.clear();
        job.owner.organisation_id = None;
        job.request.recipients.clear();
        if let Some(error) = job.error.as_mut() {
            error.message.clear();
        }
    }
    Ok(())
}

/// A finished job without expiry gets the retention `keep`, counted from when it finished.
pub(crate) fn assign_retention(job: &mut ExportJob, keep: Duration) -> Result<()> {
    if keep < Duration::zero() {
        return Err(ExportError::request(
            "retention",
            format!("must not be negative, got {keep}"),
        ));
    }
    let finished = match job.finished_at {
        Some(t) if job.status.is_expirable() => t,
        _ => {
            return Err(ExportError::invalid_state(
                "job",
                job.id.to_string(),
                job.status.as_str(),
                "assign a retention",
            ));
        }
    };
    if let Some(at) = job.expires_at {
        return Err(ExportError::invalid_state(
            "job",
            job.id.to_string(),
            format!("{} and expiring at {}", job.status, at.to_rfc3339()),
            "assign a retention",
        ));
    }
    job.retention = Some(keep);
    job.expires_at = Some(add(finished, keep, "retention")?);
    Ok(())
}

/// A running job whose lease ran out: another attempt at once, or finished when its attempts are
/// used up (cancelled when a cancel was asked).
pub(crate) fn reclaim(job: &mut ExportJob, now: DateTime<Utc>) -> Result<()> {
    let worker = job
        .lease
        .as_ref()
        .map(|l| l.worker_id.as_str())
        .unwrap_or("?");
    let error = JobError::new(
        JobError::LEASE_EXPIRED,
        format!(
            "worker `{worker}` stopped renewing its lease (last heartbeat {})",
            job.heartbeat_at
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "never".into())
        ),
    );
    retry_or_finish(job, error, Some(micros(now)), now)
}

/// The store operations that load one job, apply one of the rules above and write it back are
/// the same in every store; each store provides only its transactional
/// `update(id, |job| ...) -> Result<(T, ExportJob)>`, and this writes the trait methods.
macro_rules! delegate_updates {
    () => {
        fn heartbeat(
            &self,
            id: Uuid,
            worker_id: &str,
            progress: Progress,
            lease: Duration,
            now: DateTime<Utc>,
        ) -> Result<HeartbeatAck> {
            self.update(id, |job| {
                ops::heartbeat(job, worker_id, progress, lease, now)
            })
            .map(|(ack, _)| ack)
        }

        fn complete(
            &self,
            id: Uuid,
            worker_id: &str,
            result: JobResult,
            expires_at: Option<DateTime<Utc>>,
            now: DateTime<Utc>,
        ) -> Result<ExportJob> {
            self.update(id, |job| {
                ops::complete(job, worker_id, result, expires_at, now)
            })
            .map(|(_, job)| job)
        }

        fn fail(
            &self,
            id: Uuid,
            worker_id: &str,
            error: JobError,
            retry_delay: Option<Duration>,
            now: DateTime<Utc>,
        ) -> Result<ExportJob> {
            self.update(id, |job| ops::fail(job, worker_id, error, retry_delay, now))
                .map(|(_, job)| job)
        }

        fn request_cancel(&self, id: Uuid, now: DateTime<Utc>) -> Result<ExportJob> {
            self.update(id, |job| ops::request_cancel(job, now))
                .map(|(_, job)| job)
        }

        fn mark_cancelled(
            &self,
            id: Uuid,
            worker_id: &str,
            now: DateTime<Utc>,
        ) -> Result<ExportJob> {
            self.update(id, |job| ops::mark_cancelled(job, worker_id, now))
                .map(|(_, job)| job)
        }

        fn release(&self, id: Uuid, worker_id: &str, now: DateTime<Utc>) -> Result<ExportJob> {
            self.update(id, |job| ops::release(job, worker_id, now))
                .map(|(_, job)| job)
        }

        fn assign_retention(&self, id: Uuid, keep: Duration) -> Result<ExportJob> {
            self.update(id, |job| ops::assign_retention(job, keep))
                .map(|(_, job)| job)
        }
    };
}
pub(crate) use delegate_updates;
