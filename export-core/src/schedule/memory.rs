//! [`MemoryScheduleStore`]: schedules, runs and platforms in memory.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use super::model::{RunStatus, Schedule, ScheduleRun};
use super::store::{
    RunQuery, ScheduleQuery, ScheduleStore, duplicate_schedule, may_claim, may_update,
    schedule_not_found,
};
use crate::error::{ExportError, Result};
use crate::platform::{
    Platform, PlatformStore, duplicate_platform, platform_in_use, platform_not_found,
};

const BACKEND: &str = "memory";

#[derive(Debug, Default)]
struct State {
    schedules: BTreeMap<String, Schedule>,
    runs: BTreeMap<(String, DateTime<Utc>), ScheduleRun>,
    platforms: BTreeMap<String, Platform>,
}

/// A [`ScheduleStore`] and [`PlatformStore`] in memory: one process, lost on exit. Every
/// operation is atomic under one mutex.
///
/// # Examples
///
/// ```
/// use chrono::Utc;
/// use export_core::job::Owner;
/// use export_core::request::{ExportRequest, Format};
/// use export_core::schedule::{MemoryScheduleStore, NewSchedule, ScheduleStore, ScheduleTarget, Trigger};
///
/// let store = MemoryScheduleStore::new();
/// let target = ScheduleTarget::request(ExportRequest::new("trip", Format::Csv));
/// let schedule = NewSchedule::new("nightly", Owner::user("u-1"), target, Trigger::cron("0 2 * * *", "UTC")?)
///     .build(Utc::now())?;
/// store.insert(&schedule)?;
/// assert_eq!(store.get("nightly")?, schedule);
/// assert_eq!(store.insert(&schedule).unwrap_err().code(), "ALREADY_EXISTS");
/// # Ok::<(), export_core::ExportError>(())
/// ```
#[derive(Debug, Default)]
pub struct MemoryScheduleStore {
    state: Mutex<State>,
}

impl MemoryScheduleStore {
    /// An empty store.
    pub fn new() -> MemoryScheduleStore {
        MemoryScheduleStore::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>> {
        self.state.lock().map_err(|_| {
            ExportError::store(
                BACKEND,
                "the store's lock is poisoned (a thread panicked while holding it)",
            )
        })
    }
}

impl ScheduleStore for MemoryScheduleStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn insert(&self, schedule: &Schedule) -> Result<()> {
        let mut state = self.lock()?;
        if state.schedules.contains_key(&schedule.id) {
            return Err(duplicate_schedule(&schedule.id));
        }
        state
            .schedules
            .insert(schedule.id.clone(), schedule.clone());
        Ok(())
    }

    fn get(&self, id: &str) -> Result<Schedule> {
        self.lock()?
            .schedules
            .get(id)
            .cloned()
            .ok_or_else(|| schedule_not_found(id))
    }

    fn list(&self, query: &ScheduleQuery) -> Result<Vec<Schedule>> {
        Ok(self
            .lock()?
            .schedules
            .values()
            .filter(|s| query.matches(s))
            .cloned()
            .collect())
    }

    fn update(&self, id: &str, f: &mut dyn FnMut(&mut Schedule) -> Result<()>) -> Result<Schedule> {
        let mut state = self.lock()?;
        let current = state
            .schedules
            .get(id)
            .ok_or_else(|| schedule_not_found(id))?;
        let mut changed = current.clone();
        f(&mut changed)?;
        state.schedules.insert(id.to_string(), changed.clone());
        Ok(changed)
    }

    fn delete(&self, id: &str) -> Result<Schedule> {
        let mut state = self.lock()?;
        let removed = state
            .schedules
            .remove(id)
            .ok_or_else(|| schedule_not_found(id))?;
        state.runs.retain(|(sid, _), _| sid != id);
        Ok(removed)
    }

    fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Schedule>> {
        let state = self.lock()?;
        let mut due: Vec<Schedule> = state
            .schedules
            .values()
            .filter(|s| s.enabled && s.next_run.is_some_and(|t| t <= now))
            .cloned()
            .collect();
        due.sort_by(|a, b| (a.next_run, &a.id).cmp(&(b.next_run, &b.id)));
        due.truncate(limit);
        Ok(due)
    }

    fn next_due(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(self
            .lock()?
            .schedules
            .values()
            .filter(|s| s.enabled)
            .filter_map(|s| s.next_run)
            .min())
    }

    fn claim_fire(
        &self,
        run: &ScheduleRun,
        expected_next_run: DateTime<Utc>,
        f: &mut dyn FnMut(&mut Schedule),
    ) -> Result<bool> {
        let mut state = self.lock()?;
        let key = (run.schedule_id.clone(), run.fire_time);
        if state.runs.contains_key(&key) {
            return Ok(false);
        }
        let schedule = state
            .schedules
            .get_mut(&run.schedule_id)
            .ok_or_else(|| schedule_not_found(&run.schedule_id))?;
        if !may_claim(schedule, expected_next_run) {
            return Ok(false);
        }
        f(schedule);
        state.runs.insert(key, run.clone());
        Ok(true)
    }

    fn runs(&self, query: &RunQuery) -> Result<Vec<ScheduleRun>> {
        query.check()?;
        let state = self.lock()?;
        let mut runs: Vec<ScheduleRun> = state
            .runs
            .values()
            .filter(|r| {
                query
                    .schedule_id
                    .as_ref()
                    .is_none_or(|id| *id == r.schedule_id)
            })
            .filter(|r| !query.open_only || r.status.is_open())
            .cloned()
            .collect();
        if query.open_only {
            runs.sort_by(|a, b| (a.fire_time, &a.schedule_id).cmp(&(b.fire_time, &b.schedule_id)));
        } else {
            runs.sort_by(|a, b| (b.fire_time, &b.schedule_id).cmp(&(a.fire_time, &a.schedule_id)));
        }
        runs.truncate(query.limit as usize);
        Ok(runs)
    }

    fn update_run(
        &self,
        schedule_id: &str,
        fire_time: DateTime<Utc>,
        expected: (u32, RunStatus),
        f: &mut dyn FnMut(&mut ScheduleRun, &mut Schedule),
    ) -> Result<bool> {
        let mut state = self.lock()?;
        let state = &mut *state;
        let Some(run) = state.runs.get_mut(&(schedule_id.to_string(), fire_time)) else {
            return Ok(false);
        };
        let Some(schedule) = state.schedules.get_mut(schedule_id) else {
            return Ok(false);
        };
        if !may_update(run, expected) {
            return Ok(false);
        }
        f(run, schedule);
        Ok(true)
    }
}

impl PlatformStore for MemoryScheduleStore {
    fn insert_platform(&self, platform: &Platform) -> Result<()> {
        let mut state = self.lock()?;
        if state.platforms.contains_key(&platform.name) {
            return Err(duplicate_platform(&platform.name));
        }
        state
            .platforms
            .insert(platform.name.clone(), platform.clone());
        Ok(())
    }

    fn get_platform(&self, name: &str) -> Result<Platform> {
        self.lock()?
            .platforms
            .get(name)
            .cloned()
            .ok_or_else(|| platform_not_found(name))
    }

    fn list_platforms(&self) -> Result<Vec<Platform>> {
        Ok(self.lock()?.platforms.values().cloned().collect())
    }

    fn replace_platform(&self, platform: &Platform) -> Result<()> {
        let mut state = self.lock()?;
        match state.platforms.get_mut(&platform.name) {
            Some(slot) => {
                *slot = platform.clone();
                Ok(())
            }
            None => Err(platform_not_found(&platform.name)),
        }
    }

    fn delete_platform(&self, name: &str) -> Result<Platform> {
        let mut state = self.lock()?;
        if !state.platforms.contains_key(name) {
            return Err(platform_not_found(name));
        }
        let users: Vec<String> = state
            .schedules
            .values()
            .filter(|s| s.target.platform_name() == Some(name))
            .map(|s| s.id.clone())
            .collect();
        if !users.is_empty() {
            return Err(platform_in_use(name, &users));
        }
        state
            .platforms
            .remove(name)
            .ok_or_else(|| platform_not_found(name))
    }
}
