//! [`MemoryJobStore`]: jobs in a mutex-guarded map, for tests and single-process tools.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::store::{HeartbeatAck, JobStore, ListQuery, Page};
use super::{ExportJob, JobError, JobResult, NewJob, Owner, Progress, ops};
use crate::error::{ExportError, Result};

const BACKEND: &str = "memory";

#[derive(Debug, Default)]
struct State {
    /// Job and its insertion sequence (the tie-breaker of equal creation instants).
    jobs: HashMap<Uuid, (i64, ExportJob)>,
    next_seq: i64,
}

/// A [`JobStore`] in memory: one process, lost on exit. Operations are atomic under one mutex.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use export_core::job::{JobStore, MemoryJobStore, NewJob, Owner};
/// use export_core::request::{ExportRequest, Format};
///
/// let store: Arc<dyn JobStore> = Arc::new(MemoryJobStore::new());
/// let job = store.create(NewJob::new(Owner::user("u-1"), ExportRequest::new("trip", Format::Json)))?;
/// assert_eq!(store.get(job.id)?, job);
/// # Ok::<(), export_core::ExportError>(())
/// ```
#[derive(Debug, Default)]
pub struct MemoryJobStore {
    state: Mutex<State>,
}

impl MemoryJobStore {
    /// An empty store.
    pub fn new() -> MemoryJobStore {
        MemoryJobStore::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>> {
        self.state.lock().map_err(|_| {
            ExportError::store(
                BACKEND,
                "the store's lock is poisoned (a thread panicked while holding it)",
            )
        })
    }

    /// Applies `f` to job `id` under the lock; the job is written back only when `f` succeeds.
    fn update<T>(
        &self,
        id: Uuid,
        f: impl FnOnce(&mut ExportJob) -> Result<T>,
    ) -> Result<(T, ExportJob)> {
        let mut state = self.lock()?;
        let (_, stored) = state.jobs.get_mut(&id).ok_or_else(|| not_found(id))?;
        let mut job = stored.clone();
        let out = f(&mut job)?;
        *stored = job.clone();
        Ok((out, job))
    }
}

fn not_found(id: Uuid) -> ExportError {
    ExportError::NotFound {
        kind: "job",
        id: id.to_string(),
    }
}

impl JobStore for MemoryJobStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn create(&self, new: NewJob) -> Result<ExportJob> {
        let job = ops::new_job(new)?;
        let mut state = self.lock()?;
        if state.jobs.contains_key(&job.id) {
            return Err(ExportError::already_exists("job", job.id.to_string()));
        }
        state.next_seq += 1;
        let seq = state.next_seq;
        state.jobs.insert(job.id, (seq, job.clone()));
        Ok(job)
    }

    fn get(&self, id: Uuid) -> Result<ExportJob> {
        let state = self.lock()?;
        state
            .jobs
            .get(&id)
            .map(|(_, job)| job.clone())
            .ok_or_else(|| not_found(id))
    }

    fn list(&self, owner: &Owner, query: &ListQuery) -> Result<Page> {
        ops::check_owner(&owner.user_id)?;
        ops::check_query(query)?;
        let after = query
            .cursor
            .as_deref()
            .map(ops::decode_cursor)
            .transpose()?;
        let state = self.lock()?;
        let mut rows: Vec<(i64, i64, &ExportJob)> = state
            .jobs
            .values()
            .filter(|(_, job)| job.owner == *owner)
            .filter(|(_, job)| query.status.is_none_or(|s| job.status == s))
            .map(|(seq, job)| (job.created_at.timestamp_micros(), *seq, job))
            .filter(|(t, seq, _)| after.is_none_or(|a| (*t, *seq) < a))
            .collect();
        rows.sort_by_key(|r| std::cmp::Reverse((r.0, r.1)));
        let limit = query.limit as usize;
        let next_cursor = if rows.len() > limit {
            let (_, seq, job) = rows[limit - 1];
            Some(ops::encode_cursor(job.created_at, seq))
        } else {
            None
        };
        let jobs = rows
            .into_iter()
            .take(limit)
            .map(|(_, _, job)| job.clone())
            .collect();
        Ok(Page { jobs, next_cursor })
    }

    fn claim(
        &self,
        worker_id: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<ExportJob>> {
        ops::check_claim(worker_id, lease)?;
        let now = ops::micros(now);
        let mut state = self.lock()?;
        let next = state
            .jobs
            .iter()
            .filter(|(_, (_, job))| ops::is_claimable(job, now))
            .min_by_key(|(_, (seq, job))| (job.created_at, *seq))
            .map(|(id, _)| *id);
        let Some(id) = next else { return Ok(None) };
        let (_, stored) = state.jobs.get_mut(&id).ok_or_else(|| not_found(id))?;
        let mut job = stored.clone();
        ops::claim(&mut job, worker_id, lease, now)?;
        *stored = job.clone();
        Ok(Some(job))
    }

    fn claim_job(
        &self,
        id: Uuid,
        worker_id: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<ExportJob>> {
        ops::check_claim(worker_id, lease)?;
        let now = ops::micros(now);
        let mut state = self.lock()?;
        let (_, stored) = state.jobs.get_mut(&id).ok_or_else(|| not_found(id))?;
        if !ops::is_claimable(stored, now) {
            return Ok(None);
        }
        let mut job = stored.clone();
        ops::claim(&mut job, worker_id, lease, now)?;
        *stored = job.clone();
        Ok(Some(job))
    }

    ops::delegate_updates!();

    fn delete(&self, id: Uuid) -> Result<()> {
        let mut state = self.lock()?;
        state
            .jobs
            .remove(&id)
            .map(|_| ())
            .ok_or_else(|| not_found(id))
    }

    fn list_expired(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<ExportJob>> {
        let now = ops::micros(now);
        let state = self.lock()?;
        let mut due: Vec<(DateTime<Utc>, i64, &ExportJob)> = state
            .jobs
            .values()
            .filter(|(_, job)| job.status.is_expirable())
            .filter_map(|(seq, job)| job.expires_at.filter(|t| *t <= now).map(|t| (t, *seq, job)))
            .collect();
        due.sort_by_key(|(t, seq, _)| (*t, *seq));
        Ok(due
            .into_iter()
            .take(limit)
            .map(|(_, _, job)| job.clone())
            .collect())
    }

    fn expire(&self, id: Uuid, now: DateTime<Utc>, anonymise: bool) -> Result<ExportJob> {
        self.update(id, |job| ops::expire(job, now, anonymise))
            .map(|(_, job)| job)
    }

    fn list_unexpiring(&self, cursor: Option<&str>, limit: u32) -> Result<Page> {
        ops::check_limit(limit)?;
        let after = cursor.map(ops::decode_cursor).transpose()?;
        let state = self.lock()?;
        let mut rows: Vec<(i64, ExportJob)> = state
            .jobs
            .values()
            .filter(|(_, job)| job.status.is_expirable() && job.expires_at.is_none())
            .filter(|(seq, job)| {
                after.is_none_or(|a| (job.created_at.timestamp_micros(), *seq) > a)
            })
            .map(|(seq, job)| (*seq, job.clone()))
            .collect();
        rows.sort_by_key(|(seq, job)| (job.created_at, *seq));
        rows.truncate(limit as usize + 1);
        Ok(ops::page(rows, limit))
    }

    fn reclaim_expired_leases(&self, now: DateTime<Utc>) -> Result<Vec<Uuid>> {
        let now = ops::micros(now);
        let mut state = self.lock()?;
        let mut due: Vec<(DateTime<Utc>, i64, Uuid)> = state
            .jobs
            .values()
            .filter(|(_, job)| ops::lease_expired(job, now))
            .map(|(seq, job)| (job.created_at, *seq, job.id))
            .collect();
        due.sort();
        let mut reclaimed = Vec::with_capacity(due.len());
        for (_, _, id) in due {
            if let Some((_, stored)) = state.jobs.get_mut(&id) {
                let mut job = stored.clone();
                ops::reclaim(&mut job, now)?;
                *stored = job;
                reclaimed.push(id);
            }
        }
        Ok(reclaimed)
    }
}
