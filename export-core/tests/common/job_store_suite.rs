//! One behavioural suite for every `JobStore` implementation.
//!
//! A backend provides a [`Harness`] (a fresh, empty store, plus a way to open more handles on the
//! same data) and instantiates [`job_store_suite!`], which makes one `#[test]` per case.

#![allow(dead_code)]

use std::collections::HashSet;
use std::sync::{Arc, Barrier};

use chrono::{DateTime, Duration, TimeZone, Utc};
use export_core::ExportError;
use export_core::job::{
    ExportJob, JobError, JobResult, JobStatus, JobStore, ListQuery, NewJob, Owner, Progress,
};
use export_core::request::{Audience, ExportRequest, Format};
use uuid::Uuid;

/// A fresh store and a way to open more handles (connections) on the same data.
pub struct Harness {
    pub store: Arc<dyn JobStore>,
    open_more: Box<dyn Fn() -> Arc<dyn JobStore>>,
    cleanup: Option<Box<dyn FnOnce()>>,
}

impl Harness {
    pub fn new(
        store: Arc<dyn JobStore>,
        open_more: impl Fn() -> Arc<dyn JobStore> + 'static,
        cleanup: impl FnOnce() + 'static,
    ) -> Harness {
        Harness {
            store,
            open_more: Box::new(open_more),
            cleanup: Some(Box::new(cleanup)),
        }
    }

    /// Another handle on the same data (another connection for the SQL stores).
    pub fn open_more(&self) -> Arc<dyn JobStore> {
        (self.open_more)()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(cleanup) = self.cleanup.take() {
            cleanup();
        }
    }
}

/// Makes one `#[test]` per suite case, each on a fresh harness from `$harness` (an expression of
/// type `Option<Harness>`; `None` skips).
macro_rules! job_store_suite {
    ($harness:expr) => {
        job_store_suite!(@cases $harness;
            create_and_get, create_rejects_bad_input, claim_empty_queue, claim_sets_lease,
            claim_oldest_first, claim_respects_not_before, claim_job_takes_that_job_only, heartbeat_extends_lease,
            heartbeat_after_reclaim_conflicts, complete_records_result, fail_retries_with_backoff,
            fail_exhausts_attempts, fail_without_retry, cancel_pending, cancel_running,
            list_pages_newest_first, list_filters_status_and_owner, list_rejects_bad_query,
            delete_removes, reclaim_expired_leases, expire_and_anonymise, concurrent_claims,
            unexpiring_jobs_get_a_retention, release_requeues_at_once, release_of_a_cancel_request);
    };
    (@cases $harness:expr; $($case:ident),+) => {
        $(
            #[test]
            fn $case() {
                if let Some(harness) = $harness {
                    job_store_suite::$case(&harness);
                }
            }
        )+
    };
}

const LEASE: Duration = Duration::seconds(30);

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap()
}

fn secs(n: i64) -> Duration {
    Duration::seconds(n)
}

fn request() -> ExportRequest {
    let mut request = ExportRequest::new("trip", Format::Csv);
    request.audience = Some(Audience::Operator);
    request.recipients = vec!["Ada <ada@example.org>".into(), "bob@example.org".into()];
    request
}

fn new_job(user: &str, created_at: DateTime<Utc>) -> NewJob {
    NewJob::new(Owner::user(user), request()).created_at(created_at)
}

fn result(rows: u64) -> JobResult {
    JobResult {
        storage_key: "exports/2026/03/file.csv".into(),
        size_bytes: 4096,
        rows,
        sha256: "ab".repeat(32),
        file_name: "rpc-2026-03-01-operator.csv".into(),
        content_type: "text/csv; charset=utf-8".into(),
    }
}

fn code<T: std::fmt::Debug>(r: Result<T, ExportError>) -> &'static str {
    r.expect_err("expected an error").code()
}

fn claim(store: &dyn JobStore, worker: &str, now: DateTime<Utc>) -> ExportJob {
    store
        .claim(worker, LEASE, now)
        .expect("claim")
        .expect("a claimable job")
}

pub fn create_and_get(h: &Harness) {
    let s = &*h.store;
    let new = NewJob::new(Owner::in_organisation("u-1", "op-7"), request())
        .created_at(t0())
        .max_attempts(5)
        .not_before(t0() + secs(5))
        .retention(Duration::days(7))
        .schedule_id("monthly");
    let created = s.create(new.clone()).unwrap();
    assert_eq!(created.id, new.id);
    assert_eq!(created.status, JobStatus::Pending);
    assert_eq!(created.owner, Owner::in_organisation("u-1", "op-7"));
    assert_eq!(created.request, request());
    assert_eq!(created.created_at, t0());
    assert_eq!(created.not_before, Some(t0() + secs(5)));
    assert_eq!((created.attempts, created.max_attempts), (0, 5));
    assert_eq!(created.retention, Some(Duration::days(7)));
    assert_eq!(created.schedule_id.as_deref(), Some("monthly"));
    assert_eq!(created.progress, Progress::default());
    assert!(created.lease.is_none() && created.result.is_none() && created.error.is_none());
    assert!(!created.cancel_requested);
    assert_eq!(s.get(created.id).unwrap(), created);

    // Sub-microsecond precision is dropped, the same way in every store.
    let precise = t0() + Duration::nanoseconds(1_234_567);
    let job = s.create(new_job("u-1", precise)).unwrap();
    assert_eq!(job.created_at, t0() + Duration::microseconds(1234));
    assert_eq!(s.get(job.id).unwrap(), job);

    assert_eq!(code(s.create(new)), "ALREADY_EXISTS");
    match s.get(Uuid::new_v4()) {
        Err(ExportError::NotFound { kind: "job", .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

pub fn create_rejects_bad_input(h: &Harness) {
    let s = &*h.store;
    assert_eq!(code(s.create(new_job("", t0()))), "INVALID_REQUEST");
    assert_eq!(code(s.create(new_job(" ", t0()))), "INVALID_REQUEST");
    assert_eq!(
        code(s.create(new_job("u", t0()).max_attempts(0))),
        "INVALID_REQUEST"
    );
    assert_eq!(
        code(s.create(new_job("u", t0()).max_attempts(1001))),
        "INVALID_REQUEST"
    );
    assert_eq!(
        code(s.create(new_job("u", t0()).retention(secs(-1)))),
        "INVALID_REQUEST"
    );
    assert!(
        s.list(&Owner::user("u"), &ListQuery::default())
            .unwrap()
            .jobs
            .is_empty()
    );
}

pub fn claim_empty_queue(h: &Harness) {
    let s = &*h.store;
    assert!(s.claim("w-1", LEASE, t0()).unwrap().is_none());
    assert!(s.reclaim_expired_leases(t0()).unwrap().is_empty());
    assert!(s.list_expired(t0(), 10).unwrap().is_empty());
    assert_eq!(code(s.claim("", LEASE, t0())), "INVALID_REQUEST");
    assert_eq!(code(s.claim("w-1", secs(0), t0())), "INVALID_REQUEST");
    assert_eq!(code(s.claim("w-1", secs(-5), t0())), "INVALID_REQUEST");
}

pub fn claim_sets_lease(h: &Harness) {
    let s = &*h.store;
    let job = s.create(new_job("u-1", t0())).unwrap();
    let now = t0() + secs(3);
    let claimed = claim(s, "w-1", now);
    assert_eq!(claimed.id, job.id);
    assert_eq!(claimed.status, JobStatus::Running);
    assert_eq!(claimed.attempts, 1);
    assert_eq!(claimed.started_at, Some(now));
    assert_eq!(claimed.heartbeat_at, Some(now));
    let lease = claimed.lease.clone().unwrap();
    assert_eq!(
        (lease.worker_id.as_str(), lease.until),
        ("w-1", now + LEASE)
    );
    assert!(claimed.is_leased_to("w-1") && !claimed.is_leased_to("w-2"));
    assert_eq!(s.get(job.id).unwrap(), claimed);
    // Claimed once only.
    assert!(s.claim("w-2", LEASE, now).unwrap().is_none());
}

pub fn claim_job_takes_that_job_only(h: &Harness) {
    let s = &*h.store;
    let older = s.create(new_job("u-1", t0())).unwrap();
    let named = s.create(new_job("u-1", t0() + secs(1))).unwrap();
    let now = t0() + secs(10);
    let claimed = s.claim_job(named.id, "w-1", LEASE, now).unwrap().unwrap();
    assert_eq!(claimed.id, named.id);
    assert_eq!(claimed.status, JobStatus::Running);
    assert_eq!(claimed.attempts, 1);
    assert_eq!(claimed.lease.as_ref().unwrap().worker_id, "w-1");
    // Running now: another worker gets nothing, and the older job is still pending.
    assert!(s.claim_job(named.id, "w-2", LEASE, now).unwrap().is_none());
    assert_eq!(s.get(older.id).unwrap().status, JobStatus::Pending);
    assert_eq!(claim(s, "w-2", now).id, older.id);
    // A cancelled job is not claimable; an unknown one is not found.
    let cancelled = s.create(new_job("u-1", t0() + secs(2))).unwrap();
    s.request_cancel(cancelled.id, now).unwrap();
    assert!(
        s.claim_job(cancelled.id, "w-1", LEASE, now)
            .unwrap()
            .is_none()
    );
    let err = s.claim_job(Uuid::new_v4(), "w-1", LEASE, now).unwrap_err();
    assert!(matches!(err, ExportError::NotFound { .. }), "{err}");
    // A bad worker id is refused before any store work.
    assert!(s.claim_job(older.id, "", LEASE, now).is_err());
}

pub fn claim_oldest_first(h: &Harness) {
    let s = &*h.store;
    let c = s.create(new_job("u-1", t0() + secs(2))).unwrap();
    let a = s.create(new_job("u-2", t0())).unwrap();
    let b1 = s.create(new_job("u-1", t0() + secs(1))).unwrap();
    // Same instant: creation order breaks the tie.
    let b2 = s.create(new_job("u-3", t0() + secs(1))).unwrap();
    let b3 = s.create(new_job("u-1", t0() + secs(1))).unwrap();
    let now = t0() + secs(10);
    let order: Vec<Uuid> = (0..5).map(|_| claim(s, "w", now).id).collect();
    assert_eq!(order, vec![a.id, b1.id, b2.id, b3.id, c.id]);
    assert!(s.claim("w", LEASE, now).unwrap().is_none());
}

pub fn claim_respects_not_before(h: &Harness) {
    let s = &*h.store;
    let later = s
        .create(new_job("u-1", t0()).not_before(t0() + secs(60)))
        .unwrap();
    let now_job = s.create(new_job("u-1", t0() + secs(1))).unwrap();
    assert_eq!(claim(s, "w", t0() + secs(2)).id, now_job.id);
    assert!(s.claim("w", LEASE, t0() + secs(59)).unwrap().is_none());
    assert_eq!(claim(s, "w", t0() + secs(60)).id, later.id);
}

pub fn heartbeat_extends_lease(h: &Harness) {
    let s = &*h.store;
    let job = s.create(new_job("u-1", t0())).unwrap();
    claim(s, "w-1", t0());
    let now = t0() + secs(20);
    let ack = s
        .heartbeat(job.id, "w-1", Progress::new(40, Some(100)), secs(60), now)
        .unwrap();
    assert!(!ack.cancel_requested);
    assert_eq!(ack.lease_until, now + secs(60));
    let stored = s.get(job.id).unwrap();
    assert_eq!(stored.progress, Progress::new(40, Some(100)));
    assert_eq!(stored.progress.percent(), Some(40.0));
    assert_eq!(stored.heartbeat_at, Some(now));
    assert_eq!(stored.lease.unwrap().until, now + secs(60));
    // The extended lease holds past the first one's end.
    assert!(
        s.reclaim_expired_leases(t0() + secs(61))
            .unwrap()
            .is_empty()
    );

    // A lease that ran out but was not reclaimed can still be renewed.
    let late = now + secs(90);
    s.heartbeat(job.id, "w-1", Progress::new(50, Some(100)), LEASE, late)
        .unwrap();

    assert_eq!(
        code(s.heartbeat(job.id, "w-2", Progress::default(), LEASE, late)),
        "LEASE_LOST"
    );
    assert_eq!(
        code(s.heartbeat(job.id, "w-1", Progress::default(), secs(0), late)),
        "INVALID_REQUEST"
    );
    assert_eq!(
        code(s.heartbeat(Uuid::new_v4(), "w-1", Progress::default(), LEASE, late)),
        "NOT_FOUND"
    );
    // Nothing changed by the refused heartbeats.
    assert_eq!(
        s.get(job.id).unwrap().progress,
        Progress::new(50, Some(100))
    );

    // A pending job has no lease to renew.
    let pending = s.create(new_job("u-1", t0() + secs(1))).unwrap();
    assert_eq!(
        code(s.heartbeat(pending.id, "w-1", Progress::default(), LEASE, late)),
        "LEASE_LOST"
    );
}

pub fn heartbeat_after_reclaim_conflicts(h: &Harness) {
    let s = &*h.store;
    let job = s.create(new_job("u-1", t0())).unwrap();
    claim(s, "w-1", t0());
    let expired_at = t0() + LEASE;
    assert_eq!(s.reclaim_expired_leases(expired_at).unwrap(), vec![job.id]);
    let reclaimed = s.get(job.id).unwrap();
    assert_eq!(reclaimed.status, JobStatus::Pending);
    assert!(reclaimed.lease.is_none());
    assert_eq!(
        reclaimed.error.as_ref().unwrap().kind,
        JobError::LEASE_EXPIRED
    );

    let now = expired_at + secs(1);
    for result in [
        s.heartbeat(job.id, "w-1", Progress::default(), LEASE, now)
            .map(|_| ()),
        s.complete(job.id, "w-1", result(1), None, now).map(|_| ()),
        s.fail(job.id, "w-1", JobError::new("IO", "x"), None, now)
            .map(|_| ()),
        s.mark_cancelled(job.id, "w-1", now).map(|_| ()),
    ] {
        assert_eq!(code(result), "LEASE_LOST");
    }

    // Another worker takes it over; the first still cannot touch it.
    let second = claim(s, "w-2", now);
    assert_eq!((second.id, second.attempts), (job.id, 2));
    assert_eq!(
        code(s.heartbeat(job.id, "w-1", Progress::default(), LEASE, now)),
        "LEASE_LOST"
    );
    assert_eq!(
        code(s.complete(job.id, "w-1", result(1), None, now)),
        "LEASE_LOST"
    );
    s.heartbeat(job.id, "w-2", Progress::new(1, None), LEASE, now)
        .unwrap();
    let done = s.complete(job.id, "w-2", result(1), None, now).unwrap();
    assert_eq!(done.status, JobStatus::Succeeded);
    assert!(done.error.is_none());
}

pub fn complete_records_result(h: &Harness) {
    let s = &*h.store;
    let job = s.create(new_job("u-1", t0())).unwrap();
    claim(s, "w-1", t0());
    let now = t0() + secs(5);
    let expires = now + Duration::days(7);
    let done = s
        .complete(job.id, "w-1", result(1234), Some(expires), now)
        .unwrap();
    assert_eq!(done.status, JobStatus::Succeeded);
    assert_eq!(done.result, Some(result(1234)));
    assert_eq!(done.finished_at, Some(now));
    assert_eq!(done.expires_at, Some(expires));
    assert_eq!(done.progress, Progress::new(1234, Some(1234)));
    assert!(done.lease.is_none());
    assert_eq!(s.get(job.id).unwrap(), done);
    // Finished: no second completion, no cancel.
    assert_eq!(
        code(s.complete(job.id, "w-1", result(1), None, now)),
        "LEASE_LOST"
    );
    assert_eq!(code(s.request_cancel(job.id, now)), "INVALID_STATE");

    // Without an explicit expiry, the job's retention decides.
    let kept = s
        .create(new_job("u-1", t0() + secs(1)).retention(Duration::days(2)))
        .unwrap();
    claim(s, "w-1", now);
    let done = s.complete(kept.id, "w-1", result(1), None, now).unwrap();
    assert_eq!(done.expires_at, Some(now + Duration::days(2)));
    // Neither: kept until expired explicitly.
    let forever = s.create(new_job("u-1", t0() + secs(2))).unwrap();
    claim(s, "w-1", now);
    let done = s.complete(forever.id, "w-1", result(1), None, now).unwrap();
    assert_eq!(done.expires_at, None);
}

pub fn fail_retries_with_backoff(h: &Harness) {
    let s = &*h.store;
    let job = s.create(new_job("u-1", t0()).max_attempts(3)).unwrap();
    claim(s, "w-1", t0());
    let now = t0() + secs(10);
    let error = JobError::new("STORAGE", "bucket unreachable");
    let retried = s
        .fail(job.id, "w-1", error.clone(), Some(secs(60)), now)
        .unwrap();
    assert_eq!(retried.status, JobStatus::Pending);
    assert_eq!(retried.not_before, Some(now + secs(60)));
    assert_eq!(retried.error, Some(error.clone()));
    assert_eq!(retried.attempts, 1);
    assert!(retried.lease.is_none() && retried.finished_at.is_none());
    assert_eq!(s.get(job.id).unwrap(), retried);

    assert!(s.claim("w-2", LEASE, now + secs(59)).unwrap().is_none());
    let again = claim(s, "w-2", now + secs(60));
    assert_eq!((again.id, again.attempts), (job.id, 2));
    assert_eq!(again.progress, Progress::default());
    assert_eq!(
        code(s.fail(job.id, "w-2", error.clone(), Some(secs(-1)), now)),
        "INVALID_REQUEST"
    );
    // A zero delay retries at once.
    let retried = s
        .fail(job.id, "w-2", error, Some(Duration::zero()), now + secs(61))
        .unwrap();
    assert_eq!(retried.status, JobStatus::Pending);
    assert_eq!(claim(s, "w-3", now + secs(61)).attempts, 3);
}

pub fn fail_exhausts_attempts(h: &Harness) {
    let s = &*h.store;
    let job = s
        .create(
            new_job("u-1", t0())
                .max_attempts(2)
                .retention(Duration::days(1)),
        )
        .unwrap();
    let error = JobError::new("IO", "disk full");
    claim(s, "w-1", t0());
    s.fail(job.id, "w-1", error.clone(), Some(secs(1)), t0())
        .unwrap();
    claim(s, "w-1", t0() + secs(1));
    let now = t0() + secs(2);
    let failed = s
        .fail(job.id, "w-1", error.clone(), Some(secs(1)), now)
        .unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.attempts, 2);
    assert_eq!(failed.finished_at, Some(now));
    assert_eq!(failed.expires_at, Some(now + Duration::days(1)));
    assert_eq!(failed.error, Some(error));
    assert!(failed.lease.is_none());
    assert_eq!(s.get(job.id).unwrap(), failed);
    assert!(s.claim("w-1", LEASE, now + secs(10)).unwrap().is_none());
}

pub fn fail_without_retry(h: &Harness) {
    let s = &*h.store;
    let job = s.create(new_job("u-1", t0()).max_attempts(5)).unwrap();
    claim(s, "w-1", t0());
    let err = ExportError::request("fields.include", "unknown field `x`");
    let failed = s
        .fail(job.id, "w-1", JobError::from(&err), None, t0())
        .unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.error.unwrap().kind, "INVALID_REQUEST");
    assert_eq!(
        code(s.fail(job.id, "w-1", JobError::new("IO", "x"), None, t0())),
        "LEASE_LOST"
    );
}

pub fn cancel_pending(h: &Harness) {
    let s = &*h.store;
    let job = s
        .create(new_job("u-1", t0()).retention(Duration::hours(1)))
        .unwrap();
    let now = t0() + secs(1);
    let cancelled = s.request_cancel(job.id, now).unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    assert_eq!(cancelled.finished_at, Some(now));
    assert_eq!(cancelled.expires_at, Some(now + Duration::hours(1)));
    assert_eq!(s.get(job.id).unwrap(), cancelled);
    assert!(s.claim("w-1", LEASE, now).unwrap().is_none());
    // Idempotent.
    assert_eq!(s.request_cancel(job.id, now + secs(5)).unwrap(), cancelled);
    assert_eq!(code(s.request_cancel(Uuid::new_v4(), now)), "NOT_FOUND");
}

pub fn cancel_running(h: &Harness) {
    let s = &*h.store;
    let job = s.create(new_job("u-1", t0())).unwrap();
    claim(s, "w-1", t0());
    let now = t0() + secs(1);
    let flagged = s.request_cancel(job.id, now).unwrap();
    assert_eq!(flagged.status, JobStatus::Running);
    assert!(flagged.cancel_requested);
    assert_eq!(s.request_cancel(job.id, now).unwrap(), flagged);
    let ack = s
        .heartbeat(job.id, "w-1", Progress::new(5, None), LEASE, now)
        .unwrap();
    assert!(ack.cancel_requested);
    assert_eq!(code(s.mark_cancelled(job.id, "w-2", now)), "LEASE_LOST");
    let cancelled = s.mark_cancelled(job.id, "w-1", now + secs(1)).unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    assert_eq!(cancelled.finished_at, Some(now + secs(1)));
    assert!(cancelled.lease.is_none());
    assert_eq!(s.get(job.id).unwrap(), cancelled);
    assert_eq!(code(s.mark_cancelled(job.id, "w-1", now)), "LEASE_LOST");

    // A failure after a cancel request ends cancelled, not retried.
    let other = s.create(new_job("u-1", t0() + secs(1))).unwrap();
    claim(s, "w-1", now);
    s.request_cancel(other.id, now).unwrap();
    let ended = s
        .fail(
            other.id,
            "w-1",
            JobError::new("IO", "x"),
            Some(secs(1)),
            now,
        )
        .unwrap();
    assert_eq!(ended.status, JobStatus::Cancelled);
    assert_eq!(ended.error.unwrap().kind, "IO");

    // Finished jobs cannot be cancelled.
    let done = s.create(new_job("u-1", t0() + secs(2))).unwrap();
    claim(s, "w-1", now);
    s.complete(done.id, "w-1", result(1), None, now).unwrap();
    match s.request_cancel(done.id, now) {
        Err(ExportError::InvalidState {
            kind, state, event, ..
        }) => {
            assert_eq!(
                (kind, state.as_str(), event.as_str()),
                ("job", "succeeded", "cancel")
            );
        }
        other => panic!("expected InvalidState, got {other:?}"),
    }
}

pub fn list_pages_newest_first(h: &Harness) {
    let s = &*h.store;
    let mut ids = Vec::new();
    for i in 0..7 {
        // Two jobs share each instant but the last: ties are ordered by creation too.
        let job = s.create(new_job("u-1", t0() + secs(i / 2))).unwrap();
        ids.push(job.id);
    }
    ids.reverse(); // newest first
    let mut seen = Vec::new();
    let mut query = ListQuery::default().limit(3);
    let mut pages = 0;
    loop {
        let page = s.list(&Owner::user("u-1"), &query).unwrap();
        pages += 1;
        assert!(page.jobs.len() <= 3);
        seen.extend(page.jobs.iter().map(|j| j.id));
        match page.next_cursor {
            Some(cursor) => query = query.clone().after(cursor),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids);

    // An exact multiple of the page size ends without an empty page.
    let all = s
        .list(&Owner::user("u-1"), &ListQuery::default().limit(7))
        .unwrap();
    assert_eq!(all.jobs.len(), 7);
    assert_eq!(all.next_cursor, None);

    // Jobs created after the first page was read do not shift the following pages.
    let first = s
        .list(&Owner::user("u-1"), &ListQuery::default().limit(3))
        .unwrap();
    s.create(new_job("u-1", t0() + secs(100))).unwrap();
    let second = s
        .list(
            &Owner::user("u-1"),
            &ListQuery::default()
                .limit(3)
                .after(first.next_cursor.unwrap()),
        )
        .unwrap();
    assert_eq!(
        second.jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
        ids[3..6].to_vec()
    );
}

pub fn list_filters_status_and_owner(h: &Harness) {
    let s = &*h.store;
    let a = s.create(new_job("u-1", t0())).unwrap();
    let b = s.create(new_job("u-1", t0() + secs(1))).unwrap();
    let c = s.create(new_job("u-1", t0() + secs(2))).unwrap();
    let other = s.create(new_job("u-2", t0() + secs(3))).unwrap();
    claim(s, "w", t0() + secs(5)); // a
    s.request_cancel(b.id, t0() + secs(5)).unwrap();

    let ids = |user: &str, query: ListQuery| -> Vec<Uuid> {
        s.list(&Owner::user(user), &query)
            .unwrap()
            .jobs
            .into_iter()
            .map(|j| j.id)
            .collect()
    };
    assert_eq!(ids("u-1", ListQuery::default()), vec![c.id, b.id, a.id]);
    assert_eq!(
        ids("u-1", ListQuery::default().status(JobStatus::Running)),
        vec![a.id]
    );
    assert_eq!(
        ids("u-1", ListQuery::default().status(JobStatus::Pending)),
        vec![c.id]
    );
    assert_eq!(
        ids("u-1", ListQuery::default().status(JobStatus::Cancelled)),
        vec![b.id]
    );
    assert!(ids("u-1", ListQuery::default().status(JobStatus::Failed)).is_empty());
    assert_eq!(ids("u-2", ListQuery::default()), vec![other.id]);
    assert!(ids("u-3", ListQuery::default()).is_empty());
    // Owner ids are compared exactly.
    assert!(ids("U-1", ListQuery::default()).is_empty());

    // The owner is the pair (user, organisation): the same user id in an organisation, or in
    // another one, is another owner.
    let org1 = s
        .create(
            NewJob::new(Owner::in_organisation("u-1", "org1"), request())
                .created_at(t0() + secs(4)),
        )
        .unwrap();
    let pair = |owner: Owner| -> Vec<Uuid> {
        s.list(&owner, &ListQuery::default())
            .unwrap()
            .jobs
            .into_iter()
            .map(|j| j.id)
            .collect()
    };
    assert_eq!(pair(Owner::in_organisation("u-1", "org1")), vec![org1.id]);
    assert!(pair(Owner::in_organisation("u-1", "org2")).is_empty());
    assert_eq!(ids("u-1", ListQuery::default()), vec![c.id, b.id, a.id]);

    // Status filter and pages together.
    let page = s
        .list(
            &Owner::user("u-1"),
            &ListQuery::default().status(JobStatus::Pending).limit(1),
        )
        .unwrap();
    assert_eq!(page.jobs.len(), 1);
    assert_eq!(page.next_cursor, None);
}

pub fn list_rejects_bad_query(h: &Harness) {
    let s = &*h.store;
    assert_eq!(
        code(s.list(&Owner::user(""), &ListQuery::default())),
        "INVALID_REQUEST"
    );
    assert_eq!(
        code(s.list(&Owner::user("u"), &ListQuery::default().limit(0))),
        "INVALID_REQUEST"
    );
    assert_eq!(
        code(s.list(&Owner::user("u"), &ListQuery::default().limit(1001))),
        "INVALID_REQUEST"
    );
    for cursor in ["", "x", "12", "1.x", "x.1"] {
        match s.list(&Owner::user("u"), &ListQuery::default().after(cursor)) {
            Err(ExportError::InvalidRequest { field, .. }) => assert_eq!(field, "cursor"),
            other => panic!("cursor {cursor:?}: expected InvalidRequest, got {other:?}"),
        }
    }
}

pub fn delete_removes(h: &Harness) {
    let s = &*h.store;
    let job = s.create(new_job("u-1", t0())).unwrap();
    let keep = s.create(new_job("u-1", t0() + secs(1))).unwrap();
    claim(s, "w-1", t0());
    s.delete(job.id).unwrap();
    assert_eq!(code(s.get(job.id)), "NOT_FOUND");
    assert_eq!(code(s.delete(job.id)), "NOT_FOUND");
    assert_eq!(
        code(s.heartbeat(job.id, "w-1", Progress::default(), LEASE, t0())),
        "NOT_FOUND"
    );
    assert_eq!(
        code(s.complete(job.id, "w-1", result(1), None, t0())),
        "NOT_FOUND"
    );
    let listed = s.list(&Owner::user("u-1"), &ListQuery::default()).unwrap();
    assert_eq!(listed.jobs.len(), 1);
    assert_eq!(listed.jobs[0].id, keep.id);
}

pub fn reclaim_expired_leases(h: &Harness) {
    let s = &*h.store;
    let live = s.create(new_job("u-1", t0())).unwrap();
    let dead = s.create(new_job("u-1", t0() + secs(1))).unwrap();
    let last_try = s
        .create(new_job("u-1", t0() + secs(2)).max_attempts(1))
        .unwrap();
    let cancelling = s.create(new_job("u-1", t0() + secs(3))).unwrap();
    let pending = s.create(new_job("u-1", t0() + secs(4))).unwrap();
    for _ in 0..4 {
        claim(s, "w-1", t0());
    }
    s.request_cancel(cancelling.id, t0()).unwrap();
    s.heartbeat(live.id, "w-1", Progress::default(), LEASE, t0() + secs(20))
        .unwrap();

    // Nothing before the leases run out.
    assert!(
        s.reclaim_expired_leases(t0() + secs(29))
            .unwrap()
            .is_empty()
    );
    let now = t0() + LEASE;
    let mut reclaimed = s.reclaim_expired_leases(now).unwrap();
    reclaimed.sort();
    let mut expected = vec![dead.id, last_try.id, cancelling.id];
    expected.sort();
    assert_eq!(reclaimed, expected);

    assert_eq!(s.get(live.id).unwrap().status, JobStatus::Running);
    let dead = s.get(dead.id).unwrap();
    assert_eq!(dead.status, JobStatus::Pending);
    assert!(dead.lease.is_none());
    assert_eq!(dead.error.as_ref().unwrap().kind, JobError::LEASE_EXPIRED);
    let last_try = s.get(last_try.id).unwrap();
    assert_eq!(last_try.status, JobStatus::Failed);
    assert_eq!(last_try.finished_at, Some(now));
    assert_eq!(last_try.error.unwrap().kind, JobError::LEASE_EXPIRED);
    assert_eq!(s.get(cancelling.id).unwrap().status, JobStatus::Cancelled);
    assert_eq!(s.get(pending.id).unwrap().status, JobStatus::Pending);

    // The reclaimed job is claimable at once, before younger pending jobs.
    let again = claim(s, "w-2", now);
    assert_eq!((again.id, again.attempts), (dead.id, 2));
    assert!(s.reclaim_expired_leases(now).unwrap().is_empty());
}

pub fn expire_and_anonymise(h: &Harness) {
    let s = &*h.store;
    let day = Duration::days(1);
    let done = s.create(new_job("u-1", t0()).retention(day)).unwrap();
    let failed = s
        .create(
            new_job("u-1", t0() + secs(1))
                .max_attempts(1)
                .retention(day * 2),
        )
        .unwrap();
    let cancelled = s
        .create(new_job("u-2", t0() + secs(2)).retention(day * 3))
        .unwrap();
    let running = s
        .create(new_job("u-1", t0() + secs(3)).retention(day))
        .unwrap();
    let keep_forever = s.create(new_job("u-1", t0() + secs(4))).unwrap();

    claim(s, "w", t0());
    s.complete(done.id, "w", result(10), None, t0()).unwrap();
    claim(s, "w", t0());
    s.fail(
        failed.id,
        "w",
        JobError::new("INVALID_REQUEST", "bad recipient ada@example.org"),
        None,
        t0(),
    )
    .unwrap();
    s.request_cancel(cancelled.id, t0()).unwrap();
    claim(s, "w", t0()); // running
    claim(s, "w", t0());
    s.complete(keep_forever.id, "w", result(1), None, t0())
        .unwrap();
    s.heartbeat(running.id, "w", Progress::default(), day * 10, t0())
        .unwrap();

    let due = |at: DateTime<Utc>, limit: usize| -> Vec<Uuid> {
        s.list_expired(at, limit)
            .unwrap()
            .into_iter()
            .map(|j| j.id)
            .collect()
    };
    assert!(due(t0() + day - secs(1), 10).is_empty());
    assert_eq!(due(t0() + day, 10), vec![done.id]);
    assert_eq!(
        due(t0() + day * 5, 10),
        vec![done.id, failed.id, cancelled.id]
    );
    assert_eq!(due(t0() + day * 5, 2), vec![done.id, failed.id]);

    let now = t0() + day * 5;
    let kept = s.expire(done.id, now, false).unwrap();
    assert_eq!(kept.status, JobStatus::Expired);
    assert_eq!(kept.owner.user_id, "u-1");
    assert_eq!(kept.request, request());
    assert_eq!(kept.expires_at, Some(t0() + day));
    assert_eq!(kept.result, Some(result(10)));
    assert_eq!(s.get(done.id).unwrap(), kept);

    let anon = s.expire(failed.id, now, true).unwrap();
    assert_eq!(anon.status, JobStatus::Expired);
    assert_eq!(anon.owner, Owner::user(""));
    assert!(anon.request.recipients.is_empty());
    assert_eq!(anon.request.schema, "trip");
    let error = anon.error.clone().unwrap();
    assert_eq!(
        (error.kind.as_str(), error.message.as_str()),
        ("INVALID_REQUEST", "")
    );
    assert_eq!(s.get(failed.id).unwrap(), anon);
    assert_eq!(due(now, 10), vec![cancelled.id]);

    // Anonymised jobs no longer appear in their former owner's list.
    let listed: Vec<Uuid> = s
        .list(&Owner::user("u-1"), &ListQuery::default())
        .unwrap()
        .jobs
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert!(!listed.contains(&failed.id) && listed.contains(&done.id));

    // Expired early: the expiry becomes the actual one.
    let early = s.expire(keep_forever.id, now, true).unwrap();
    assert_eq!(early.expires_at, Some(now));

    assert_eq!(code(s.expire(done.id, now, true)), "INVALID_STATE");
    assert_eq!(code(s.expire(running.id, now, true)), "INVALID_STATE");
    let pending = s.create(new_job("u-1", t0() + secs(9))).unwrap();
    assert_eq!(code(s.expire(pending.id, now, true)), "INVALID_STATE");
    assert_eq!(code(s.expire(Uuid::new_v4(), now, true)), "NOT_FOUND");
    assert_eq!(s.get(running.id).unwrap().status, JobStatus::Running);
}

/// Four threads, each on its own handle, drain 200 jobs: each is claimed exactly once.
pub fn concurrent_claims(h: &Harness) {
    const JOBS: usize = 200;
    const WORKERS: usize = 4;
    for i in 0..JOBS {
        h.store
            .create(new_job(
                &format!("u-{}", i % 7),
                t0() + Duration::milliseconds(i as i64),
            ))
            .unwrap();
    }
    let handles: Vec<Arc<dyn JobStore>> = (0..WORKERS).map(|_| h.open_more()).collect();
    let barrier = Arc::new(Barrier::new(WORKERS));
    let now = t0() + secs(1);
    let threads: Vec<_> = handles
        .into_iter()
        .enumerate()
        .map(|(w, store)| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let worker = format!("w-{w}");
                barrier.wait();
                let mut mine = Vec::new();
                while let Some(job) = store.claim(&worker, LEASE, now).expect("claim") {
                    assert_eq!(job.attempts, 1, "claimed twice: {}", job.id);
                    store
                        .complete(job.id, &worker, result(1), None, now)
                        .expect("complete");
                    mine.push(job.id);
                }
                mine
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in threads {
        all.extend(t.join().expect("worker thread"));
    }
    assert_eq!(all.len(), JOBS);
    let unique: HashSet<Uuid> = all.iter().copied().collect();
    assert_eq!(unique.len(), JOBS, "a job was claimed more than once");
    assert!(h.store.claim("w-x", LEASE, now).unwrap().is_none());
    for id in unique {
        assert_eq!(h.store.get(id).unwrap().status, JobStatus::Succeeded);
    }
}

/// Finished jobs without expiry are listed oldest first, a page at a time, and
/// `assign_retention` counts their retention from `finished_at`.
pub fn unexpiring_jobs_get_a_retention(h: &Harness) {
    let s = &*h.store;
    let day = Duration::days(1);
    let mut finished = Vec::new();
    for i in 0..3 {
        let job = s.create(new_job("u-1", t0() + secs(i))).unwrap();
        s.request_cancel(job.id, t0() + secs(10 + i)).unwrap();
        finished.push(job.id);
    }
    let pending = s.create(new_job("u-1", t0() + secs(5))).unwrap();
    let with_retention = s
        .create(new_job("u-1", t0() + secs(6)).retention(day))
        .unwrap();
    s.request_cancel(with_retention.id, t0()).unwrap();

    let first = s.list_unexpiring(None, 2).unwrap();
    let ids: Vec<Uuid> = first.jobs.iter().map(|j| j.id).collect();
    assert_eq!(ids, finished[..2]);
    let cursor = first.next_cursor.expect("a second page");
    let second = s.list_unexpiring(Some(&cursor), 2).unwrap();
    let ids: Vec<Uuid> = second.jobs.iter().map(|j| j.id).collect();
    assert_eq!(ids, finished[2..]);
    assert_eq!(second.next_cursor, None);
    assert_eq!(code(s.list_unexpiring(None, 0)), "INVALID_REQUEST");
    assert_eq!(code(s.list_unexpiring(Some("nope"), 10)), "INVALID_REQUEST");

    let job = s.assign_retention(finished[0], day * 7).unwrap();
    assert_eq!(job.retention, Some(day * 7));
    assert_eq!(job.expires_at, Some(t0() + secs(10) + day * 7));
    assert_eq!(s.get(finished[0]).unwrap(), job);
    assert_eq!(s.list_unexpiring(None, 10).unwrap().jobs.len(), 2);
    assert_eq!(code(s.assign_retention(finished[0], day)), "INVALID_STATE");
    assert_eq!(code(s.assign_retention(pending.id, day)), "INVALID_STATE");
    assert_eq!(
        code(s.assign_retention(finished[1], -day)),
        "INVALID_REQUEST"
    );
    assert_eq!(code(s.assign_retention(Uuid::new_v4(), day)), "NOT_FOUND");
    // Already past: the retention work list has it at once.
    let due = s.list_expired(t0() + day * 8, 10).unwrap();
    assert!(due.iter().any(|j| j.id == finished[0]));
    s.scrub().unwrap();
}

/// A released job is pending at once, claimable by another worker well before its lease would
/// have run out, with its attempt given back; the releasing worker has no lease left.
pub fn release_requeues_at_once(h: &Harness) {
    let s = &*h.store;
    let job = s.create(new_job("u-1", t0()).max_attempts(2)).unwrap();
    claim(s, "w-1", t0());
    s.heartbeat(
        job.id,
        "w-1",
        Progress::new(7, Some(10)),
        LEASE,
        t0() + secs(1),
    )
    .unwrap();
    assert_eq!(code(s.release(job.id, "w-2", t0() + secs(2))), "LEASE_LOST");
    let released = s.release(job.id, "w-1", t0() + secs(2)).unwrap();
    assert_eq!(released.status, JobStatus::Pending);
    assert_eq!(released.attempts, 0, "the attempt is given back");
    assert!(released.lease.is_none());
    assert_eq!(released.not_before, None);
    assert!(released.finished_at.is_none());
    assert_eq!(s.get(job.id).unwrap(), released);
    // Nothing left to reclaim, and another worker claims it long before t0 + LEASE.
    assert!(s.reclaim_expired_leases(t0() + secs(2)).unwrap().is_empty());
    let again = claim(s, "w-2", t0() + secs(2));
    assert_eq!((again.id, again.attempts), (job.id, 1));
    for result in [
        s.release(job.id, "w-1", t0() + secs(3)).map(|_| ()),
        s.heartbeat(job.id, "w-1", Progress::default(), LEASE, t0() + secs(3))
            .map(|_| ()),
        s.complete(job.id, "w-1", result(1), None, t0() + secs(3))
            .map(|_| ()),
    ] {
        assert_eq!(code(result), "LEASE_LOST");
    }
    // Not running: nothing to release.
    let pending = s.create(new_job("u-1", t0() + secs(5))).unwrap();
    assert_eq!(
        code(s.release(pending.id, "w-1", t0() + secs(6))),
        "LEASE_LOST"
    );
    assert_eq!(code(s.release(Uuid::new_v4(), "w-1", t0())), "NOT_FOUND");
}

/// A job whose owner asked to cancel it is cancelled by a release, not queued again.
pub fn release_of_a_cancel_request(h: &Harness) {
    let s = &*h.store;
    let job = s.create(new_job("u-1", t0())).unwrap();
    claim(s, "w-1", t0());
    s.request_cancel(job.id, t0() + secs(1)).unwrap();
    let released = s.release(job.id, "w-1", t0() + secs(2)).unwrap();
    assert_eq!(released.status, JobStatus::Cancelled);
    assert_eq!(released.finished_at, Some(t0() + secs(2)));
    assert!(released.lease.is_none());
    assert!(s.claim("w-2", LEASE, t0() + secs(3)).unwrap().is_none());
}
