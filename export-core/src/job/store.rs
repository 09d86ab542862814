//! The [`JobStore`] trait: where jobs live, and the only way they change.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::status::JobStatus;
use super::{ExportJob, JobError, JobResult, NewJob, Owner, Progress};
use crate::error::Result;

/// The largest page [`JobStore::list`] returns.
pub const MAX_LIST_LIMIT: u32 = 1000;

/// The page size of [`ListQuery::default`].
pub const DEFAULT_LIST_LIMIT: u32 = 50;

/// What [`JobStore::list`] returns: a filter, a page size and where to continue.
///
/// # Examples
///
/// ```
/// use export_core::job::{JobStatus, ListQuery};
/// let query = ListQuery::default().status(JobStatus::Succeeded).limit(20);
/// assert_eq!(query.limit, 20);
/// assert_eq!(query.cursor, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListQuery {
    /// Only jobs in this status.
    pub status: Option<JobStatus>,
    /// Most jobs on the page, `1..=`[`MAX_LIST_LIMIT`].
    pub limit: u32,
    /// Continue after this position: the [`Page::next_cursor`] of the previous page.
    pub cursor: Option<String>,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            status: None,
            limit: DEFAULT_LIST_LIMIT,
            cursor: None,
        }
    }
}

impl ListQuery {
    /// Keeps only jobs in `status`.
    pub fn status(mut self, status: JobStatus) -> ListQuery {
        self.status = Some(status);
        self
    }

    /// Sets the page size.
    pub fn limit(mut self, limit: u32) -> ListQuery {
        self.limit = limit;
        self
    }

    /// Continues after `cursor` (a [`Page::next_cursor`]).
    pub fn after(mut self, cursor: impl Into<String>) -> ListQuery {
        self.cursor = Some(cursor.into());
        self
    }
}

/// One page of [`JobStore::list`], newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    /// The jobs, newest first.
    pub jobs: Vec<ExportJob>,
    /// Where the next page starts; `None` on the last page. Opaque, valid for the same store.
    pub next_cursor: Option<String>,
}

/// What the store answers a worker's [`JobStore::heartbeat`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatAck {
    /// The owner asked to cancel: stop at the next batch and call [`JobStore::mark_cancelled`].
    pub cancel_requested: bool,
    /// The lease now runs until this instant.
    pub lease_until: DateTime<Utc>,
}

/// Where export jobs live: creation, queries, the worker protocol (claim, heartbeat, complete,
/// fail, cancel) and retention (expire, delete).
///
/// Implementations are [`MemoryJobStore`](super::MemoryJobStore),
/// [`SqliteJobStore`](super::SqliteJobStore) and `PgJobStore` (feature `postgres`); share one as
/// `Arc<dyn JobStore>`. Every status change goes through [`transition`](super::transition), and
/// every operation is atomic: two workers never both claim a job, and a worker that lost its lease
/// cannot overwrite the job (it gets [`ExportError::LeaseLost`]).
///
/// The trait is synchronous; see *Why synchronous* below for why and for use from async code.
///
/// # Worker protocol
///
/// 1. [`claim`](JobStore::claim) the oldest pending job, with a lease;
/// 2. [`heartbeat`](JobStore::heartbeat) well within the lease (a third of it is usual), reporting
///    progress; stop when the answer says `cancel_requested` and call
///    [`mark_cancelled`](JobStore::mark_cancelled);
/// 3. end with [`complete`](JobStore::complete) or [`fail`](JobStore::fail). On
///    [`ExportError::LeaseLost`] the job was taken away (lease reclaimed or released): drop the
///    work and publish nothing. On [`ExportError::NotFound`] it was deleted.
///
/// Someone (each worker, or a janitor) calls [`reclaim_expired_leases`](JobStore::reclaim_expired_leases)
/// periodically.
///
/// A worker that stops before the end (it is shutting down) hands the job back with
/// [`release`](JobStore::release), so that another worker can claim it at once.
///
/// [`ExportError::LeaseLost`]: crate::ExportError::LeaseLost
/// [`ExportError::NotFound`]: crate::ExportError::NotFound
///
/// # Why synchronous
///
/// Every operation is one short transaction, and the callers (workers, the scheduler, the CLI,
/// the bindings) are plain threads. The SQLite store calls `rusqlite` directly; the PostgreSQL
/// store waits on its async pool through the engine's [`IoRuntime`](crate::runtime::IoRuntime),
/// which never panics inside a Tokio runtime but does block the calling thread. Async hosts
/// therefore use the [`Engine`](crate::engine::Engine)'s async API, which runs store calls on
/// blocking threads, or `tokio::task::spawn_blocking` themselves.
///
/// # Time
///
/// Operations that depend on the clock take `now` from the caller, so workers, tests and
/// simulations control time. Stores keep instants to the microsecond.
pub trait JobStore: Send + Sync {
    /// The backend's name (`memory`, `sqlite`, `postgres`), as in [`ExportError::Store`].
    ///
    /// [`ExportError::Store`]: crate::ExportError::Store
    fn backend(&self) -> &'static str;

    /// Creates a pending job.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] for an empty owner user id (`owner.user_id`),
    /// `max_attempts` outside `1..=`[`MAX_ATTEMPTS`](super::MAX_ATTEMPTS) or a negative `retention`; [`ExportError::AlreadyExists`] (kind
    /// `job`) when a job with the same id exists; [`ExportError::Store`] when the backend fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::job::{JobStatus, JobStore, MemoryJobStore, NewJob, Owner};
    /// use export_core::request::{ExportRequest, Format};
    /// let store = MemoryJobStore::new();
    /// let new = NewJob::new(Owner::user("u-1"), ExportRequest::new("trip", Format::Csv));
    /// let id = new.id;
    /// let job = store.create(new.clone())?;
    /// assert_eq!((job.id, job.status, job.attempts), (id, JobStatus::Pending, 0));
    /// assert_eq!(store.create(new).unwrap_err().code(), "ALREADY_EXISTS");
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    ///
    /// [`ExportError::InvalidRequest`]: crate::ExportError::InvalidRequest
    /// [`ExportError::AlreadyExists`]: crate::ExportError::AlreadyExists
    /// [`ExportError::Store`]: crate::ExportError::Store
    fn create(&self, job: NewJob) -> Result<ExportJob>;

    /// The job `id`, whoever owns it (ownership is checked by the service).
    ///
    /// # Errors
    ///
    /// [`ExportError::NotFound`] (kind `job`) when there is none; [`ExportError::Store`].
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::job::{JobStore, MemoryJobStore};
    /// let store = MemoryJobStore::new();
    /// assert_eq!(store.get(uuid::Uuid::new_v4()).unwrap_err().code(), "NOT_FOUND");
    /// ```
    ///
    /// [`ExportError::NotFound`]: crate::ExportError::NotFound
    /// [`ExportError::Store`]: crate::ExportError::Store
    fn get(&self, id: Uuid) -> Result<ExportJob>;

    /// The jobs of `owner`, newest first (by creation instant), one page at a time.
    ///
    /// The owner is the pair (user, organisation): a job matches when both its user id and its
    /// organisation id (`None` only matches `None`) equal the owner's, so the same user in
    /// another organisation sees none of them.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] for an empty owner (`owner.user_id`), a limit outside
    /// `1..=`[`MAX_LIST_LIMIT`] (`limit`) or a cursor this store did not make (`cursor`);
    /// [`ExportError::Store`].
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::job::{JobStore, ListQuery, MemoryJobStore, NewJob, Owner};
    /// use export_core::request::{ExportRequest, Format};
    /// let store = MemoryJobStore::new();
    /// for _ in 0..3 {
    ///     store.create(NewJob::new(Owner::user("u-1"), ExportRequest::new("trip", Format::Csv)))?;
    /// }
    /// let first = store.list(&Owner::user("u-1"), &ListQuery::default().limit(2))?;
    /// assert_eq!(first.jobs.len(), 2);
    /// let cursor = first.next_cursor.expect("more");
    /// let second = store.list(&Owner::user("u-1"), &ListQuery::default().limit(2).after(cursor))?;
    /// assert_eq!(second.jobs.len(), 1);
    /// assert_eq!(second.next_cursor, None);
    /// assert!(store.list(&Owner::user("u-2"), &ListQuery::default())?.jobs.is_empty());
    /// assert!(store.list(&Owner::in_organisation("u-1", "org2"), &ListQuery::default())?.jobs.is_empty());
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    ///
    /// [`ExportError::InvalidRequest`]: crate::ExportError::InvalidRequest
    /// [`ExportError::Store`]: crate::ExportError::Store
    fn list(&self, owner: &Owner, query: &ListQuery) -> Result<Page>;

    /// Claims for `worker_id` the oldest pending job (by creation instant) whose `not_before` has
    /// passed at `now`: it becomes running, leased until `now + lease`, with `started_at = now`,
    /// one more attempt and its progress reset. `None` when no job is ready.
    ///
    /// Atomic: among workers claiming at once, each job goes to exactly one.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] for an empty `worker_id` or a lease that is not positive;
    /// [`ExportError::Store`].
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{Duration, Utc};
    /// use export_core::job::{JobStatus, JobStore, MemoryJobStore, NewJob, Owner};
    /// use export_core::request::{ExportRequest, Format};
    /// let store = MemoryJobStore::new();
    /// let now = Utc::now();
    /// assert!(store.claim("w-1", Duration::seconds(30), now)?.is_none());
    /// store.create(NewJob::new(Owner::user("u-1"), ExportRequest::new("trip", Format::Csv)))?;
    /// let job = store.claim("w-1", Duration::seconds(30), now)?.expect("one job");
    /// assert_eq!((job.status, job.attempts), (JobStatus::Running, 1));
    /// assert_eq!(job.lease.unwrap().worker_id, "w-1");
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    ///
    /// [`ExportError::InvalidRequest`]: crate::ExportError::InvalidRequest
    /// [`ExportError::Store`]: crate::ExportError::Store
    fn claim(
        &self,
        worker_id: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<ExportJob>>;

    /// Claims job `id` for `worker_id` as [`JobStore::claim`] would, when it is pending and
    /// due: for hosts whose own queue names the job to run (a Celery task, a queue message).
    /// `None` when it is not claimable now (running elsewhere, finished, cancelled, or retried
    /// later).
    ///
    /// # Errors
    ///
    /// [`ExportError::NotFound`] when there is no job `id`; as [`JobStore::claim`] otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{Duration, Utc};
    /// use export_core::job::{JobStore, MemoryJobStore, NewJob, Owner};
    /// use export_core::request::{ExportRequest, Format};
    /// let store = MemoryJobStore::new();
    /// let first = store.create(NewJob::new(Owner::user("u-1"), ExportRequest::new("trip", Format::Csv)))?;
    /// let second = store.create(NewJob::new(Owner::user("u-1"), ExportRequest::new("trip", Format::Csv)))?;
    /// let claimed = store.claim_job(second.id, "w-1", Duration::seconds(30), Utc::now())?.unwrap();
    /// assert_eq!(claimed.id, second.id); // not the oldest
    /// assert!(store.claim_job(second.id, "w-2", Duration::seconds(30), Utc::now())?.is_none());
    /// # let _ = first;
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    ///
    /// [`ExportError::NotFound`]: crate::ExportError::NotFound
    fn claim_job(
        &self,
        id: Uuid,
        worker_id: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<ExportJob>>;

    /// Renews `worker_id`'s lease on job `id` until `now + lease` and records its progress.
    /// A lease that ran out is still renewed as long as it has not been reclaimed.
    ///
    /// # Errors
    ///
    /// [`ExportError::LeaseLost`] when `worker_id` no longer holds the lease (reclaimed,
    /// released, finished, cancelled); [`ExportError::NotFound`] when the job was deleted;
    /// [`ExportError::InvalidRequest`] for a lease that is not positive; [`ExportError::Store`].
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{Duration, Utc};
    /// use export_core::job::{JobStore, MemoryJobStore, NewJob, Owner, Progress};
    /// use export_core::request::{ExportRequest, Format};
    /// let store = MemoryJobStore::new();
    /// let now = Utc::now();
    /// let job = store.create(NewJob::new(Owner::user("u-1"), ExportRequest::new("trip", Format::Csv)))?;
    /// store.claim("w-1", Duration::seconds(30), now)?;
    /// let ack = store.heartbeat(job.id, "w-1", Progress::new(10, Some(100)), Duration::seconds(30), now)?;
    /// assert!(!ack.cancel_requested);
    /// let err = store.heartbeat(job.id, "w-2", Progress::default(), Duration::seconds(30), now).unwrap_err();
    /// assert_eq!(err.code(), "LEASE_LOST");
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    ///
    /// [`ExportError::LeaseLost`]: crate::ExportError::LeaseLost
    /// [`ExportError::NotFound`]: crate::ExportError::NotFound
    /// [`ExportError::InvalidRequest`]: crate::ExportError::InvalidRequest
    /// [`ExportError::Store`]: crate::ExportError::Store
    fn heartbeat(
        &self,
        id: Uuid,
        worker_id: &str,
        progress: Progress,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<HeartbeatAck>;

    /// Records that `worker_id` published the file of job `id`: succeeded, with `result`, finished
    /// at `now`, expiring at `expires_at` (or `now + retention` when `None` and the job has a
    /// retention). The lease is released and the progress set to the result's row count.
    ///
    /// # Errors
    ///
    /// [`ExportError::LeaseLost`] when `worker_id` does not hold the lease;
    /// [`ExportError::NotFound`]; [`ExportError::Store`].
    ///
    /// # Examples
    ///
    /// See the [module example](super).
    ///
    /// [`ExportError::LeaseLost`]: crate::ExportError::LeaseLost
    /// [`ExportError::NotFound`]: crate::ExportError::NotFound
    /// [`ExportError::Store`]: crate::ExportError::Store
    fn complete(
        &self,
        id: Uuid,
        worker_id: &str,
        result: JobResult,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<ExportJob>;

    /// Records that `worker_id`'s attempt at job `id` failed with `error`.
    ///
    /// With `retry_delay = Some(d)` and attempts left (`attempts < max_attempts`), the job goes
    /// back to pending, claimable from `now + d`. With `retry_delay = None` (an error that will
    /// not go away, such as an invalid request) or no attempt left, it fails for good, finished at
    /// `now`. When a cancel was requested meanwhile, it is cancelled instead of retried or failed.
    /// The error is kept on the job in every case.
    ///
    /// # Errors
    ///
    /// [`ExportError::LeaseLost`] when `worker_id` does not hold the lease;
    /// [`ExportError::InvalidRequest`] for a negative `retry_delay`; [`ExportError::NotFound`];
    /// [`ExportError::Store`].
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{Duration, Utc};
    /// use export_core::job::{JobError, JobStatus, JobStore, MemoryJobStore, NewJob, Owner};
    /// use export_core::request::{ExportRequest, Format};
    /// let store = MemoryJobStore::new();
    /// let now = Utc::now();
    /// let job = store.create(NewJob::new(Owner::user("u-1"), ExportRequest::new("trip", Format::Csv)).max_attempts(2))?;
    /// store.claim("w-1", Duration::seconds(30), now)?;
    /// let err = JobError::new("STORAGE", "bucket unreachable");
    /// let job = store.fail(job.id, "w-1", err.clone(), Some(Duration::minutes(1)), now)?;
    /// assert_eq!(job.status, JobStatus::Pending);
    /// assert!(store.claim("w-1", Duration::seconds(30), now)?.is_none()); // backing off
    /// let later = now + Duration::minutes(1);
    /// store.claim("w-1", Duration::seconds(30), later)?.expect("retried");
    /// let job = store.fail(job.id, "w-1", err, Some(Duration::minutes(1)), later)?;
    /// assert_eq!(job.status, JobStatus::Failed); // 2 attempts of 2
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    ///
    /// [`ExportError::LeaseLost`]: crate::ExportError::LeaseLost
    /// [`ExportError::NotFound`]: crate::ExportError::NotFound
    /// [`ExportError::InvalidRequest`]: crate::ExportError::InvalidRequest
    /// [`ExportError::Store`]: crate::ExportError::Store
    fn fail(
        &self,
        id: Uuid,
        worker_id: &str,
        error: JobError,
        retry_delay: Option<Duration>,
        now: DateTime<Utc>,
    ) -> Result<ExportJob>;

    /// Asks to cancel job `id`: a pending job is cancelled at once (finished at `now`); a running
    /// job gets `cancel_requested`, which its worker sees in its next heartbeat answer before
    /// calling [`mark_cancelled`](JobStore::mark_cancelled). Idempotent on a job already
    /// cancelled or with a cancel requested.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidState`] (event `cancel`) for a succeeded, failed or expired job;
    /// [`ExportError::NotFound`]; [`ExportError::Store`].
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::Utc;
    /// use export_core::job::{JobStatus, JobStore, MemoryJobStore, NewJob, Owner};
    /// use export_core::request::{ExportRequest, Format};
    /// let store = MemoryJobStore::new();
    /// let job = store.create(NewJob::new(Owner::user("u-1"), ExportRequest::new("trip", Format::Csv)))?;
    /// let job = store.request_cancel(job.id, Utc::now())?;
    /// assert_eq!(job.status, JobStatus::Cancelled);
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    ///
    /// [`ExportError::InvalidState`]: crate::ExportError::InvalidState
    /// [`ExportError::NotFound`]: crate::ExportError::NotFound
    /// [`ExportError::Store`]: crate::ExportError::Store
    fn request_cancel(&self, id: Uuid, now: DateTime<Utc>) -> Result<ExportJob>;

    /// Records that `worker_id` stopped running job `id` (after a cancel request): cancelled,
    /// finished at `now`, lease released.
    ///
    /// # Errors
    ///
    /// [`ExportError::LeaseLost`] when `worker_id` does not hold the lease;
    /// [`ExportError::NotFound`]; [`ExportError::Store`].
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{Duration, Utc};
    /// use export_core::job::{JobStatus, JobStore, MemoryJobStore, NewJob, Owner, Progress};
    /// use export_core::request::{ExportRequest, Format};
    /// let store = MemoryJobStore::new();
    /// let now = Utc::now();
    /// let job = store.create(NewJob::new(Owner::user("u-1"), ExportRequest::new("trip", Format::Csv)))?;
    /// store.claim("w-1", Duration::seconds(30), now)?;
    /// assert!(store.request_cancel(job.id, now)?.cancel_requested);
    /// let ack = store.heartbeat(job.id, "w-1", Progress::default(), Duration::seconds(30), now)?;
    /// assert!(ack.cancel_requested);
    /// assert_eq!(store.mark_cancelled(job.id, "w-1", now)?.status, JobStatus::Cancelled);
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    ///
    /// [`ExportError::LeaseLost`]: crate::ExportError::LeaseLost
    /// [`ExportError::NotFound`]: crate::ExportError::NotFound
    /// [`ExportError::Store`]: crate::ExportError::Store
    fn mark_cancelled(&self, id: Uuid, worker_id: &str, now: DateTime<Utc>) -> Result<ExportJob>;

    /// Hands job `id` back from `worker_id`, which stops before the end (it is shutting down):
    /// the job is pending again and claimable at once (not only once the lease would have run
    /// out), its lease is gone and the attempt is given back (`attempts` one less: the run did
    /// not fail). When a cancel was requested meanwhile, the job is cancelled instead (finished
    /// at `now`). The worker must not publish anything afterwards: its lease is gone.
    ///
    /// # Errors
    ///
    /// [`ExportError::LeaseLost`] when `worker_id` does not hold the lease;
    /// [`ExportError::NotFound`]; [`ExportError::Store`].
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{Duration, Utc};
    /// use export_core::job::{JobStatus, JobStore, MemoryJobStore, NewJob, Owner};
    /// use export_core::request::{ExportRequest, Format};
    /// let store = MemoryJobStore::new();
    /// let now = Utc::now();
    /// let job = store.create(NewJob::new(Owner::user("u-1"), ExportRequest::new("trip", Format::Csv)))?;
    /// store.claim("w-1", Duration::minutes(5), now)?;
    /// let released = store.release(job.id, "w-1", now)?;
    /// assert_eq!((released.status, released.attempts, released.lease), (JobStatus::Pending, 0, None));
    /// // Another worker takes it straight away, long before the 5 minutes are over.
    /// assert_eq!(store.claim("w-2", Duration::minutes(5), now)?.map(|j| j.id), Some(job.id));
    /// assert_eq!(store.release(job.id, "w-1", now).unwrap_err().code(), "LEASE_LOST");
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    ///
    /// [`ExportError::LeaseLost`]: crate::ExportError::LeaseLost
    /// [`ExportError::NotFound`]: crate::ExportError::NotFound
    /// [`ExportError::Store`]: crate::ExportError::Store
    fn release(&self, id: Uuid, worker_id: &str, now: DateTime<Utc>) -> Result<ExportJob>;

    /// Deletes job `id` whatever its status (the service cancels first). A worker still running
    /// it gets [`ExportError::NotFound`] at its next heartbeat.
    ///
    /// # Errors
    ///
    /// [`ExportError::NotFound`]; [`ExportError::Store`].
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::job::{JobStore, MemoryJobStore, NewJob, Owner};
    /// use export_core::request::{ExportRequest, Format};
    /// let store = MemoryJobStore::new();
    /// let job = store.create(NewJob::new(Owner::user("u-1"), ExportRequest::new("trip", Format::Csv)))?;
    /// store.delete(job.id)?;
    /// assert_eq!(store.delete(job.id).unwrap_err().code(), "NOT_FOUND");
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    ///
    /// [`ExportError::NotFound`]: crate::ExportError::NotFound
    /// [`ExportError::Store`]: crate::ExportError::Store
    fn delete(&self, id: Uuid) -> Result<()>;

    /// Up to `limit` succeeded, failed or cancelled jobs whose `expires_at` is at or before `now`,
    /// soonest expiry first: the work list of retention.
    ///
    /// # Errors
    ///
    /// [`ExportError::Store`].
    ///
    /// # Examples
    ///
    /// See [`expire`](JobStore::expire).
    ///
    /// [`ExportError::Store`]: crate::ExportError::Store
    fn list_expired(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<ExportJob>>;

    /// Expires job `id` (succeeded, failed or cancelled → expired); its `expires_at` becomes `now`
    /// if it was later or unset. With `anonymise`, the owner's user and organisation ids, the
    /// request's recipients and the error message are blanked (the request's other fields, the
    /// status, the timestamps and the result's metadata stay, for statistics).
    ///
    /// Deleting the file is the caller's business (retention), before or after.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidState`] (event `expire`) for a pending, running or already expired job;
    /// [`ExportError::NotFound`]; [`ExportError::Store`].
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{Duration, Utc};
    /// use export_core::job::{JobStatus, JobStore, MemoryJobStore, NewJob, Owner};
    /// use export_core::request::{ExportRequest, Format};
    /// let store = MemoryJobStore::new();
    /// let now = Utc::now();
    /// let new = NewJob::new(Owner::user("u-1"), ExportRequest::new("trip", Format::Csv))
    ///     .retention(Duration::days(7));
    /// let job = store.create(new)?;
    /// store.request_cancel(job.id, now)?; // expires in 7 days
    /// assert!(store.list_expired(now, 100)?.is_empty());
    /// let later = now + Duration::days(7);
    /// let due = store.list_expired(later, 100)?;
    /// assert_eq!(due.len(), 1);
    /// let expired = store.expire(job.id, later, true)?;
    /// assert_eq!(expired.status, JobStatus::Expired);
    /// assert_eq!(expired.owner.user_id, "");
    /// assert!(store.list_expired(later, 100)?.is_empty());
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    ///
    /// [`ExportError::InvalidState`]: crate::ExportError::InvalidState
    /// [`ExportError::NotFound`]: crate::ExportError::NotFound
    /// [`ExportError::Store`]: crate::ExportError::Store
    fn expire(&self, id: Uuid, now: DateTime<Utc>, anonymise: bool) -> Result<ExportJob>;

    /// Takes back running jobs whose lease ran out at `now` (`lease.until <= now`): each goes back
    /// to pending, claimable at once, with a [`JobError::LEASE_EXPIRED`] error, or, when its
    /// attempts are used up, fails (is cancelled when a cancel was requested). Returns their ids.
    ///
    /// # Errors
    ///
    /// [`ExportError::Store`].
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{Duration, Utc};
    /// use export_core::job::{JobStatus, JobStore, MemoryJobStore, NewJob, Owner};
    /// use export_core::request::{ExportRequest, Format};
    /// let store = MemoryJobStore::new();
    /// let now = Utc::now();
    /// let job = store.create(NewJob::new(Owner::user("u-1"), ExportRequest::new("trip", Format::Csv)))?;
    /// store.claim("w-1", Duration::seconds(30), now)?;
    /// assert!(store.reclaim_expired_leases(now)?.is_empty());
    /// assert_eq!(store.reclaim_expired_leases(now + Duration::seconds(30))?, vec![job.id]);
    /// assert_eq!(store.get(job.id)?.status, JobStatus::Pending);
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    ///
    /// [`ExportError::Store`]: crate::ExportError::Store
    fn reclaim_expired_leases(&self, now: DateTime<Utc>) -> Result<Vec<Uuid>>;

    /// Up to `limit` succeeded, failed or cancelled jobs that have no `expires_at`, oldest
    /// first, continuing after `cursor` (the [`Page::next_cursor`] of the previous call): the
    /// jobs no retention was decided for when they were created (jobs stored before every
    /// creation path asked the retention policy, or kept on purpose). The purge gives them the
    /// policy's retention with [`assign_retention`](JobStore::assign_retention).
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] for a limit outside `1..=`[`MAX_LIST_LIMIT`] or a
    /// cursor of another store; [`ExportError::Store`].
    ///
    /// # Examples
    ///
    /// See [`assign_retention`](JobStore::assign_retention).
    ///
    /// [`ExportError::InvalidRequest`]: crate::ExportError::InvalidRequest
    /// [`ExportError::Store`]: crate::ExportError::Store
    fn list_unexpiring(&self, cursor: Option<&str>, limit: u32) -> Result<Page>;

    /// Gives finished job `id`, which has no `expires_at`, the retention `keep`: stored on the
    /// job, and `expires_at` becomes `finished_at + keep` (possibly already past: the next
    /// [`list_expired`](JobStore::list_expired) lists it).
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] on field `retention` for a negative `keep`;
    /// [`ExportError::InvalidState`] (event `assign a retention`) when the job is not finished
    /// or already has an expiry;
    /// [`ExportError::NotFound`]; [`ExportError::Store`].
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{Duration, Utc};
    /// use export_core::job::{JobStore, MemoryJobStore, NewJob, Owner};
    /// use export_core::request::{ExportRequest, Format};
    /// let store = MemoryJobStore::new();
    /// let now = Utc::now();
    /// // Created without retention, then cancelled: kept forever so far.
    /// let job = store.create(NewJob::new(Owner::user("u-1"), ExportRequest::new("trip", Format::Csv)))?;
    /// store.request_cancel(job.id, now)?;
    /// let page = store.list_unexpiring(None, 100)?;
    /// assert_eq!(page.jobs.len(), 1);
    /// let kept = store.assign_retention(job.id, Duration::days(7))?;
    /// assert_eq!(kept.expires_at, kept.finished_at.map(|t| t + Duration::days(7)));
    /// assert!(store.list_unexpiring(None, 100)?.jobs.is_empty());
    /// assert_eq!(store.assign_retention(job.id, Duration::days(1)).unwrap_err().code(), "INVALID_STATE");
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    ///
    /// [`ExportError::InvalidRequest`]: crate::ExportError::InvalidRequest
    /// [`ExportError::InvalidState`]: crate::ExportError::InvalidState
    /// [`ExportError::NotFound`]: crate::ExportError::NotFound
    /// [`ExportError::Store`]: crate::ExportError::Store
    fn assign_retention(&self, id: Uuid, keep: Duration) -> Result<ExportJob>;

    /// Removes from the backend's files the old bytes of rows changed or deleted so far, so that
    /// an anonymised job leaves no copy of its owner behind: SQLite checkpoints and truncates
    /// its write-ahead log (freed space is zeroed as it is freed, `secure_delete`), PostgreSQL
    /// rewrites the table (`VACUUM FULL`, which locks it while it runs). Memory stores have
    /// nothing to do (the default). The purge calls it after it changed jobs.
    ///
    /// # Errors
    ///
    /// [`ExportError::Store`], also when another connection keeps SQLite from checkpointing.
    ///
    /// [`ExportError::Store`]: crate::ExportError::Store
    fn scrub(&self) -> Result<()> {
        Ok(())
    }
}
