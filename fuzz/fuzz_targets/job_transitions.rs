//! Fuzzes the job lifecycle: random sequences of store operations on a `MemoryJobStore`.
//!
//! Input: bytes read through `arbitrary::Unstructured` as up to 64 operations (create, claim,
//! heartbeat, complete, fail, request cancel, mark cancelled, reclaim expired leases, list and
//! expire, expire, delete, list, move the manual clock), by three workers on jobs of three users,
//! with bad arguments now and then (empty worker, non-positive lease, unknown job).
//! Invariants, after every operation:
//! - every job created and not deleted is still there; nothing else is;
//! - each job either did not change or made exactly one move the transition table allows;
//! - an operation that fails changes nothing; one that succeeds on a job changes only that job,
//!   and returns what the store now holds; a claim takes the oldest claimable job, or none when
//!   none is claimable; a reclaim takes exactly the running jobs whose lease has run out;
//! - each job is consistent: running exactly when leased; attempts within `1..=max_attempts`
//!   once claimed; finished jobs have a finish time and no lease; only finished jobs have an
//!   expiry; succeeded jobs have a result; a cancel request only survives on running or
//!   cancelled jobs; expired jobs expired at or before the clock, anonymised when asked;
//! - listing a user's jobs page by page gives exactly that user's jobs, newest first.
//!
//! At the end, with the clock moved past every lease and back-off, reclaiming and working the
//! queue finishes every job that was not finished (no job is lost in the queue).
//!
//! Run from `fuzz/` (see its README): `RUSTC_BOOTSTRAP=1 cargo fuzz run job_transitions`.

#![no_main]

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use export_core::clock::{Clock, ManualClock};
use export_core::job::{
    ExportJob, JobError, JobResult, JobStatus, JobStore, ListQuery, MemoryJobStore, NewJob, Owner,
    Progress,
};
use export_core::request::{ExportRequest, Format};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use uuid::Uuid;

const WORKERS: [&str; 4] = ["w0", "w1", "w2", ""];
const USERS: [&str; 3] = ["u0", "u1", "u2"];

#[derive(Debug)]
enum Op {
    Create {
        user: usize,
        org: bool,
        max_attempts: u32,
        retention: Option<Duration>,
        not_before: Option<Duration>,
        reuse_id: bool,
    },
    Claim {
        worker: usize,
        lease: Duration,
    },
    Heartbeat {
        job: usize,
        worker: usize,
        lease: Duration,
        rows: u64,
    },
    Complete {
        job: usize,
        worker: usize,
        expires_in: Option<Duration>,
    },
    Fail {
        job: usize,
        worker: usize,
        retry_delay: Option<Duration>,
    },
    RequestCancel {
        job: usize,
    },
    MarkCancelled {
        job: usize,
        worker: usize,
    },
    Reclaim,
    ExpireDue {
        anonymise: bool,
    },
    Expire {
        job: usize,
        anonymise: bool,
    },
    Delete {
        job: usize,
    },
    Advance(Duration),
}

/// A duration from -1 s to about 2 days, mostly positive, in microseconds.
fn duration(u: &mut Unstructured<'_>) -> Result<Duration> {
    Ok(match u.int_in_range(0..=9)? {
        0 => Duration::zero(),
        1 => Duration::seconds(-1),
        2..=5 => Duration::seconds(u.int_in_range(1..=120)?),
        6..=8 => Duration::microseconds(u.int_in_range(1..=3_600_000_000)?),
        _ => Duration::hours(u.int_in_range(1..=48)?),
    })
}

fn op(u: &mut Unstructured<'_>) -> Result<Op> {
    let job = |u: &mut Unstructured<'_>| u.int_in_range(0..=15usize);
    let worker = |u: &mut Unstructured<'_>| {
        Ok(if u.ratio(1, 16)? {
            3
        } else {
            u.int_in_range(0..=2usize)?
        })
    };
    Ok(match u.int_in_range(0..=11)? {
        0 => Op::Create {
            user: u.int_in_range(0..=2)?,
            org: u.arbitrary()?,
            max_attempts: if u.ratio(1, 16)? {
                *u.choose(&[0, 1001])?
            } else {
                u.int_in_range(1..=3)?
            },
            retention: if u.ratio(1, 2)? {
                Some(duration(u)?)
            } else {
                None
            },
            not_before: if u.ratio(1, 4)? {
                Some(duration(u)?)
            } else {
                None
            },
            reuse_id: u.ratio(1, 16)?,
        },
        1 => Op::Claim {
            worker: worker(u)?,
            lease: duration(u)?,
        },
        2 => Op::Heartbeat {
            job: job(u)?,
            worker: worker(u)?,
            lease: duration(u)?,
            rows: u.arbitrary()?,
        },
        3 => Op::Complete {
            job: job(u)?,
            worker: worker(u)?,
            expires_in: if u.arbitrary()? {
                Some(duration(u)?)
            } else {
                None
            },
        },
        4 => Op::Fail {
            job: job(u)?,
            worker: worker(u)?,
            retry_delay: if u.ratio(2, 3)? {
                Some(duration(u)?)
            } else {
                None
            },
        },
        5 => Op::RequestCancel { job: job(u)? },
        6 => Op::MarkCancelled {
            job: job(u)?,
            worker: worker(u)?,
        },
        7 => Op::Reclaim,
        8 => Op::ExpireDue {
            anonymise: u.arbitrary()?,
        },
        9 => Op::Expire {
            job: job(u)?,
            anonymise: u.arbitrary()?,
        },
        10 => Op::Delete { job: job(u)? },
        _ => Op::Advance(duration(u)?.max(Duration::zero())),
    })
}

struct World {
    store: MemoryJobStore,
    clock: ManualClock,
    /// Every id ever created (deleted ones included), in creation order.
    ids: Vec<Uuid>,
    /// The jobs the store must hold.
    live: BTreeMap<Uuid, ExportJob>,
    /// Jobs expired with anonymisation.
    anonymised: Vec<Uuid>,
    /// Creation order of the live jobs (the store's tie-breaker of equal creation instants).
    seq: BTreeMap<Uuid, usize>,
    created: usize,
}

impl World {
    /// The id an operation names: one ever created, or one never created.
    fn id(&self, index: usize) -> Uuid {
        self.ids
            .get(index)
            .copied()
            .unwrap_or(Uuid::from_u128(u128::MAX))
    }

    fn result(id: Uuid) -> JobResult {
        JobResult {
            storage_key: format!("exports/{id}.csv"),
            size_bytes: 10,
            rows: 1,
            sha256: "00".repeat(32),
            file_name: format!("{id}.csv"),
            content_type: "text/csv; charset=utf-8".into(),
        }
    }

    /// Runs `op`; returns the ids it may have changed (`None`: any job), and whether it
    /// succeeded.
    fn apply(&mut self, op: &Op) -> (Option<Vec<Uuid>>, bool) {
        let now = self.clock.now();
        let before = self.live.clone();
        let single =
            |r: export_core::Result<ExportJob>, id: Uuid, live: &BTreeMap<Uuid, ExportJob>| {
                if let Ok(job) = &r {
                    assert_eq!(job.id, id);
                    assert!(live.contains_key(&id), "{id} changed but does not exist");
                }
                (Some(vec![id]), r.is_ok())
            };
        match *op {
            Op::Create {
                user,
                org,
                max_attempts,
                retention,
                not_before,
                reuse_id,
            } => {
                let id = if reuse_id && !self.ids.is_empty() {
                    self.ids[self.ids.len() - 1]
                } else {
                    Uuid::from_u128(self.ids.len() as u128 + 1)
                };
                let owner = if org {
                    Owner::in_organisation(USERS[user], format!("org{user}"))
                } else {
                    Owner::user(USERS[user])
                };
                let mut new = NewJob::new(owner, ExportRequest::new("trip", Format::Csv))
                    .id(id)
                    .created_at(now)
                    .max_attempts(max_attempts);
                if let Some(r) = retention {
                    new = new.retention(r);
                }
                if let Some(d) = not_before {
                    new = new.not_before(now + d);
                }
                let created = self.store.create(new);
                // An id in use is refused; a deleted job's id may be used again.
                let should = !self.live.contains_key(&id)
                    && (1..=1000).contains(&max_attempts)
                    && retention.is_none_or(|r| r >= Duration::zero());
                assert_eq!(created.is_ok(), should, "create {id}: {created:?}");
                if let Ok(job) = created {
                    assert_eq!(job.status, JobStatus::Pending);
                    assert_eq!(job.attempts, 0);
                    if !self.ids.contains(&id) {
                        self.ids.push(id);
                    }
                    self.anonymised.retain(|a| *a != id);
                    self.created += 1;
                    self.seq.insert(id, self.created);
                    self.live.insert(id, job);
                }
                (Some(vec![id]), should)
            }
            Op::Claim { worker, lease } => {
                let claimed = self.store.claim(WORKERS[worker], lease, now);
                let valid = !WORKERS[worker].is_empty() && lease > Duration::zero();
                assert_eq!(claimed.is_ok(), valid, "claim: {claimed:?}");
                let oldest = before
                    .values()
                    .filter(|j| j.status == JobStatus::Pending)
                    .filter(|j| j.not_before.is_none_or(|t| t <= now))
                    .min_by_key(|j| (j.created_at, self.seq[&j.id]))
                    .map(|j| j.id);
                match claimed {
                    Ok(Some(job)) => {
                        assert_eq!(Some(job.id), oldest, "claim took {} not the oldest", job.id);
                        assert_eq!(job.status, JobStatus::Running);
                        assert!(job.is_leased_to(WORKERS[worker]));
                        (Some(vec![job.id]), true)
                    }
                    Ok(None) => {
                        assert_eq!(oldest, None, "claim found nothing to do");
                        (Some(vec![]), true)
                    }
                    Err(_) => (Some(vec![]), false),
                }
            }
            Op::Heartbeat {
                job,
                worker,
                lease,
                rows,
            } => {
                let id = self.id(job);
                let ack = self.store.heartbeat(
                    id,
                    WORKERS[worker],
                    Progress::new(rows, None),
                    lease,
                    now,
                );
                if ack.is_ok() {
                    let was = &before[&id];
                    assert!(
                        was.is_leased_to(WORKERS[worker]),
                        "heartbeat by a non-holder"
                    );
                }
                (Some(vec![id]), ack.is_ok())
            }
            Op::Complete {
                job,
                worker,
                expires_in,
            } => {
                let id = self.id(job);
                let r = self.store.complete(
                    id,
                    WORKERS[worker],
                    Self::result(id),
                    expires_in.map(|d| now + d),
                    now,
                );
                single(r, id, &self.live)
            }
            Op::Fail {
                job,
                worker,
                retry_delay,
            } => {
                let id = self.id(job);
                let r = self.store.fail(
                    id,
                    WORKERS[worker],
                    JobError::new("IO", "disk full"),
                    retry_delay,
                    now,
                );
                single(r, id, &self.live)
            }
            Op::RequestCancel { job } => {
                let id = self.id(job);
                let r = self.store.request_cancel(id, now);
                single(r, id, &self.live)
            }
            Op::MarkCancelled { job, worker } => {
                let id = self.id(job);
                let r = self.store.mark_cancelled(id, WORKERS[worker], now);
                single(r, id, &self.live)
            }
            Op::Reclaim => {
                let ids = self.store.reclaim_expired_leases(now).expect("reclaim");
                let mut due: Vec<Uuid> = before
                    .values()
                    .filter(|j| j.status == JobStatus::Running)
                    .filter(|j| j.lease.as_ref().is_none_or(|l| l.until <= now))
                    .map(|j| j.id)
                    .collect();
                let mut got = ids.clone();
                due.sort();
                got.sort();
                assert_eq!(got, due, "reclaimed jobs");
                (Some(ids), true)
            }
            Op::ExpireDue { anonymise } => {
                let due = self.store.list_expired(now, 100).expect("list expired");
                for job in &due {
                    assert!(job.status.is_expirable());
                    assert!(job.expires_at.is_some_and(|t| t <= now));
                    self.store
                        .expire(job.id, now, anonymise)
                        .expect("a due job expires");
                    if anonymise {
                        self.anonymised.push(job.id);
                    }
                }
                let want = before
                    .values()
                    .filter(|j| j.status.is_expirable() && j.expires_at.is_some_and(|t| t <= now))
                    .count();
                assert_eq!(due.len(), want, "due jobs");
                (Some(due.iter().map(|j| j.id).collect()), true)
            }
            Op::Expire { job, anonymise } => {
                let id = self.id(job);
                let r = self.store.expire(id, now, anonymise);
                if r.is_ok() && anonymise {
                    self.anonymised.push(id);
                }
                single(r, id, &self.live)
            }
            Op::Delete { job } => {
                let id = self.id(job);
                let r = self.store.delete(id);
                assert_eq!(r.is_ok(), before.contains_key(&id), "delete {id}: {r:?}");
                if r.is_ok() {
                    self.live.remove(&id);
                }
                (Some(vec![id]), r.is_ok())
            }
            Op::Advance(by) => {
                self.clock.advance(by);
                (Some(vec![]), true)
            }
        }
    }

    /// Checks the store against the model after `op`, and takes the new state as the model.
    fn check(
        &mut self,
        op: &Op,
        before: &BTreeMap<Uuid, ExportJob>,
        changed: Option<Vec<Uuid>>,
        ok: bool,
    ) {
        let now = self.clock.now();
        let mut after = BTreeMap::new();
        for id in &self.ids {
            match self.store.get(*id) {
                Ok(job) => {
                    assert!(self.live.contains_key(id), "{id} is back after a delete");
                    after.insert(*id, job);
                }
                Err(e) => {
                    assert_eq!(e.code(), "NOT_FOUND");
                    assert!(!self.live.contains_key(id), "{id} was lost after {op:?}");
                }
            }
        }
        for (id, job) in &after {
            consistent(job, now, self.anonymised.contains(id));
            let Some(was) = before.get(id) else { continue };
            if job == was {
                continue;
            }
            assert!(ok, "{op:?} failed but changed {id}: {was:?} -> {job:?}");
            if let Some(ids) = &changed {
                assert!(
                    ids.contains(id),
                    "{op:?} changed {id}, which it does not name"
                );
            }
            assert!(
                job.status == was.status || was.status.can_become(job.status),
                "{op:?}: {id} moved {} -> {}",
                was.status,
                job.status
            );
        }
        for user in USERS {
            let mut listed = Vec::new();
            let mut query = ListQuery::default().limit(2);
            loop {
                let page = self.store.list(user, &query).expect("list");
                listed.extend(page.jobs.iter().map(|j| j.id));
                match page.next_cursor {
                    Some(cursor) => query = ListQuery::default().limit(2).after(cursor),
                    None => break,
                }
                assert!(listed.len() <= self.ids.len(), "the pages do not end");
            }
            let mut want: Vec<&ExportJob> =
                after.values().filter(|j| j.owner.user_id == user).collect();
            // Newest first; equal creation instants in reverse creation order.
            want.sort_by_key(|j| std::cmp::Reverse((j.created_at, self.seq[&j.id])));
            let want: Vec<Uuid> = want.iter().map(|j| j.id).collect();
            assert_eq!(listed, want, "jobs of {user}");
        }
        self.live = after;
    }
}

/// The invariants of one job at `now`.
fn consistent(job: &ExportJob, now: DateTime<Utc>, anonymised: bool) {
    let s = job.status;
    assert_eq!(
        s == JobStatus::Running,
        job.lease.is_some(),
        "lease of {job:?}"
    );
    assert!(job.attempts <= job.max_attempts, "attempts of {job:?}");
    if s == JobStatus::Running {
        assert!(job.attempts >= 1 && job.started_at.is_some(), "{job:?}");
    }
    if s == JobStatus::Pending {
        assert!(
            job.attempts < job.max_attempts,
            "a pending job with no attempt left: {job:?}"
        );
    }
    assert_eq!(
        s.is_terminal(),
        job.finished_at.is_some(),
        "finish time of {job:?}"
    );
    if job.expires_at.is_some() {
        assert!(s.is_terminal(), "an unfinished job with an expiry: {job:?}");
    }
    if matches!(s, JobStatus::Succeeded) {
        assert!(job.result.is_some() && job.error.is_none(), "{job:?}");
    }
    if job.cancel_requested {
        assert!(
            matches!(
                s,
                JobStatus::Running | JobStatus::Cancelled | JobStatus::Expired
            ),
            "a cancel request on {job:?}"
        );
    }
    if s == JobStatus::Expired {
        assert!(
            job.expires_at.is_some_and(|t| t <= now),
            "expiry of {job:?}"
        );
    }
    if anonymised {
        assert!(
            job.owner.user_id.is_empty() && job.owner.organisation_id.is_none(),
            "{job:?}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let start = Utc
        .with_ymd_and_hms(2026, 12, 1, 0, 0, 0)
        .single()
        .expect("instant");
    let mut world = World {
        store: MemoryJobStore::new(),
        clock: ManualClock::new(start),
        ids: Vec::new(),
        live: BTreeMap::new(),
        anonymised: Vec::new(),
        seq: BTreeMap::new(),
        created: 0,
    };
    // `FUZZ_TRACE=1` prints the operations, to read a crash input.
    let trace = std::env::var_os("FUZZ_TRACE").is_some();
    for _ in 0..64 {
        let Ok(op) = op(&mut u) else { break };
        if trace {
            eprintln!("{:?} at {}", op, world.clock.now());
        }
        let before = world.live.clone();
        let (changed, ok) = world.apply(&op);
        world.check(&op, &before, changed, ok);
    }

    // Drain: every job not finished gets finished by the queue, whatever happened before.
    for _ in 0..world.ids.len() + 2 {
        // Past every lease, back-off and `not_before` the operations can set.
        world.clock.advance(Duration::days(3));
        let now = world.clock.now();
        let before = world.live.clone();
        let reclaimed = world.store.reclaim_expired_leases(now).expect("reclaim");
        world.check(&Op::Reclaim, &before, Some(reclaimed), true);
        let before = world.live.clone();
        let claimed = world
            .store
            .claim("drain", Duration::seconds(30), now)
            .expect("claim");
        let Some(job) = claimed else { break };
        let claim = Op::Claim {
            worker: 0,
            lease: Duration::seconds(30),
        };
        world.check(&claim, &before, Some(vec![job.id]), true);
        let before = world.live.clone();
        world
            .store
            .complete(job.id, "drain", World::result(job.id), None, now)
            .expect("the claimed job completes");
        let complete = Op::Complete {
            job: 0,
            worker: 0,
            expires_in: None,
        };
        world.check(&complete, &before, Some(vec![job.id]), true);
    }
    for job in world.live.values() {
        assert!(job.status.is_terminal(), "left in the queue: {job:?}");
    }
});
