//! [`ScheduleManager`]: create, change and delete schedules and platforms, with validation and
//! an audit event for every change.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::misfire::MisfirePolicy;
use super::model::{NewSchedule, PeriodRule, RetryPolicy, Schedule, ScheduleTarget};
use super::store::ScheduleStore;
use super::trigger::Trigger;
use crate::audit::{AuditAction, AuditEvent, AuditLog};
use crate::clock::Clock;
use crate::error::{ExportError, Result};
use crate::job::Owner;
use crate::platform::{Platform, PlatformStore};
use crate::registry::SchemaRegistry;

/// Changes to a schedule: each `Some` field replaces the schedule's value.
///
/// # Examples
///
/// ```
/// use export_core::schedule::{RetryPolicy, ScheduleChanges};
/// let changes = ScheduleChanges { retry: Some(RetryPolicy::none()), ..ScheduleChanges::default() };
/// assert_eq!(changes.changed_fields(), ["retry"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScheduleChanges {
    /// New display name.
    pub name: Option<String>,
    /// New target.
    pub target: Option<ScheduleTarget>,
    /// New period rule.
    pub period: Option<PeriodRule>,
    /// New trigger (the next run is recomputed from now).
    pub trigger: Option<Trigger>,
    /// New retry policy.
    pub retry: Option<RetryPolicy>,
    /// New misfire policy.
    pub misfire: Option<MisfirePolicy>,
    /// New job retention (`Some(None)` leaves it to the retention policy).
    pub retention: Option<Option<Duration>>,
}

impl ScheduleChanges {
    /// The names of the fields these changes set, for the audit log.
    pub fn changed_fields(&self) -> Vec<&'static str> {
        [
            ("name", self.name.is_some()),
            ("target", self.target.is_some()),
            ("period", self.period.is_some()),
            ("trigger", self.trigger.is_some()),
            ("retry", self.retry.is_some()),
            ("misfire", self.misfire.is_some()),
            ("retention", self.retention.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }

    fn apply(&self, s: &mut Schedule) {
        if let Some(name) = &self.name {
            s.name.clone_from(name);
        }
        if let Some(target) = &self.target {
            s.target = target.clone();
        }
        if let Some(period) = self.period {
            s.period = period;
        }
        if let Some(trigger) = &self.trigger {
            s.trigger = trigger.clone();
        }
        if let Some(retry) = self.retry {
            s.retry = retry;
        }
        if let Some(misfire) = self.misfire {
            s.misfire = misfire;
        }
        if let Some(retention) = self.retention {
            s.retention = retention;
        }
    }
}

/// The administration of schedules and platforms: every change is validated (a schedule's
/// request must be buildable and valid for its schema, a platform's fields must exist) before
/// it is saved, and recorded in the audit log ([`AuditAction::ScheduleChange`],
/// [`AuditAction::PlatformChange`]) with the actor and what changed.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use export_core::audit::{AuditAction, AuditLog, AuditQuery, MemoryAuditLog};
/// use export_core::clock::SystemClock;
/// use export_core::job::Owner;
/// use export_core::registry::SchemaRegistry;
/// use export_core::schedule::{MemoryScheduleStore, ScheduleManager};
///
/// let store = Arc::new(MemoryScheduleStore::new());
/// let audit = Arc::new(MemoryAuditLog::new());
/// let manager = ScheduleManager::new(store.clone(), store, audit.clone(),
///     Arc::new(SchemaRegistry::new()), Arc::new(SystemClock));
/// let admin = Owner::user("admin");
/// let created = manager.install_monthly_opendata(&admin)?;
/// assert_eq!(created.len(), 2);
/// manager.set_enabled(&admin, "opendata-monthly-csv", false)?;
/// let events = audit.list(&AuditQuery::default())?;
/// assert!(events.iter().any(|e| e.action == AuditAction::ScheduleChange
///     && e.detail.as_deref() == Some("schedule opendata-monthly-csv: disabled")));
/// # Ok::<(), export_core::ExportError>(())
/// ```
pub struct ScheduleManager {
    schedules: Arc<dyn ScheduleStore>,
    platforms: Arc<dyn PlatformStore>,
    audit: Arc<dyn AuditLog>,
    registry: Arc<SchemaRegistry>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ScheduleManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScheduleManager")
            .field("schedules", &self.schedules.backend())
            .finish_non_exhaustive()
    }
}

impl ScheduleManager {
    /// A manager over `schedules` and `platforms` (usually the same store), validating with
    /// `registry`, auditing to `audit`, reading time from `clock`.
    pub fn new(
        schedules: Arc<dyn ScheduleStore>,
        platforms: Arc<dyn PlatformStore>,
        audit: Arc<dyn AuditLog>,
        registry: Arc<SchemaRegistry>,
        clock: Arc<dyn Clock>,
    ) -> ScheduleManager {
        ScheduleManager {
            schedules,
            platforms,
            audit,
            registry,
            clock,
        }
    }

    /// The schedule store.
    pub fn schedules(&self) -> &Arc<dyn ScheduleStore> {
        &self.schedules
    }

    /// The platform store.
    pub fn platforms(&self) -> &Arc<dyn PlatformStore> {
        &self.platforms
    }

    /// Creates a schedule; its next run is the first fire time after now.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] for a bad id, name or policy; [`ExportError::NotFound`]
    /// when its platform does not exist; any validation error of its request (for example
    /// [`ExportError::UnknownField`]); [`ExportError::Conflict`] when the id is taken;
    /// [`ExportError::Store`].
    pub fn create_schedule(&self, actor: &Owner, new: NewSchedule) -> Result<Schedule> {
        let now = self.clock.now();
        let schedule = new.build(now)?;
        self.validate(&schedule, now)?;
        self.schedules.insert(&schedule)?;
        self.record_schedule(actor, &schedule, "created", now)?;
        Ok(schedule)
    }

    /// Applies `changes` to schedule `id`. A new trigger recomputes the next run from now.
    ///
    /// # Errors
    ///
    /// As [`create_schedule`](ScheduleManager::create_schedule), and
    /// [`ExportError::NotFound`] when the schedule does not exist. Nothing is saved on error.
    pub fn update_schedule(
        &self,
        actor: &Owner,
        id: &str,
        changes: &ScheduleChanges,
    ) -> Result<Schedule> {
        let now = self.clock.now();
        let apply = |s: &mut Schedule| -> Result<()> {
            changes.apply(s);
            if changes.trigger.is_some() && s.enabled {
                s.next_run = s.trigger.next_after(now)?;
            }
            s.updated_at = now;
            s.check()
        };
        // Validate on a copy first: validation reads platforms, possibly from the same
        // database, which must not happen inside the store's transaction.
        let mut preview = self.schedules.get(id)?;
        apply(&mut preview)?;
        self.validate(&preview, now)?;
        let schedule = self.schedules.update(id, &mut |s| apply(s))?;
        let what = format!("updated ({})", changes.changed_fields().join(", "));
        self.record_schedule(actor, &schedule, &what, now)?;
        Ok(schedule)
    }

    /// Enables or disables schedule `id`. Enabling computes the next run from now, so a
    /// schedule that was off for a month does not fire for the fire times it slept through;
    /// disabling clears it. Setting the state it already has changes nothing (and records
    /// nothing).
    ///
    /// # Errors
    ///
    /// [`ExportError::NotFound`]; [`ExportError::Store`].
    pub fn set_enabled(&self, actor: &Owner, id: &str, enabled: bool) -> Result<Schedule> {
        let now = self.clock.now();
        let mut changed = false;
        let schedule = self.schedules.update(id, &mut |s| {
            changed = s.enabled != enabled;
            if changed {
                s.enabled = enabled;
                s.next_run = if enabled {
                    s.trigger.next_after(now)?
                } else {
                    None
                };
                s.updated_at = now;
            }
            Ok(())
        })?;
        if changed {
            let what = if enabled { "enabled" } else { "disabled" };
            self.record_schedule(actor, &schedule, what, now)?;
        }
        Ok(schedule)
    }

    /// Flips schedule `id` between enabled and disabled (see
    /// [`set_enabled`](ScheduleManager::set_enabled)).
    ///
    /// # Errors
    ///
    /// As [`set_enabled`](ScheduleManager::set_enabled).
    pub fn toggle(&self, actor: &Owner, id: &str) -> Result<Schedule> {
        let enabled = self.schedules.get(id)?.enabled;
        self.set_enabled(actor, id, !enabled)
    }

    /// Deletes schedule `id` and its run history; the jobs it created stay.
    ///
    /// # Errors
    ///
    /// [`ExportError::NotFound`]; [`ExportError::Store`].
    pub fn delete_schedule(&self, actor: &Owner, id: &str) -> Result<Schedule> {
        let now = self.clock.now();
        let schedule = self.schedules.delete(id)?;
        self.record_schedule(actor, &schedule, "deleted", now)?;
        Ok(schedule)
    }

    /// Saves a new platform after [validating](Platform::validate) it.
    ///
    /// # Errors
    ///
    /// The errors of [`Platform::validate`]; [`ExportError::Conflict`] when the name is taken;
    /// [`ExportError::Store`].
    pub fn create_platform(&self, actor: &Owner, platform: Platform) -> Result<Platform> {
        let now = self.clock.now();
        let platform = Platform {
            created_at: now,
            updated_at: now,
            ..platform
        };
        platform.validate(&self.registry, now)?;
        self.platforms.insert_platform(&platform)?;
        self.record_platform(actor, &platform, "created", now)?;
        Ok(platform)
    }

    /// Replaces platform `platform.name` after validating it and every schedule linked to it
    /// (their overrides must still apply).
    ///
    /// # Errors
    ///
    /// As [`create_platform`](ScheduleManager::create_platform); a linked schedule's
    /// validation error, prefixed with its id; [`ExportError::NotFound`].
    pub fn update_platform(&self, actor: &Owner, platform: Platform) -> Result<Platform> {
        let now = self.clock.now();
        let existing = self.platforms.get_platform(&platform.name)?;
        let platform = Platform {
            created_at: existing.created_at,
            updated_at: now,
            ..platform
        };
        platform.validate(&self.registry, now)?;
        let linked = self
            .schedules
            .list(&super::store::ScheduleQuery::default().platform(platform.name.clone()))?;
        for schedule in &linked {
            let ScheduleTarget::Platform { overrides, .. } = &schedule.target else {
                continue;
            };
            let at = schedule.next_run.unwrap_or(now);
            let mut request = platform.request_with(overrides)?;
            if let Some(period) = schedule.period.period(at, schedule.time_zone()) {
                request.period = Some(period);
            }
            self.registry.exporter(request, at).map_err(|e| {
                ExportError::request(
                    "platform",
                    format!("schedule `{}` would no longer run: {e}", schedule.id),
                )
            })?;
        }
        self.platforms.replace_platform(&platform)?;
        self.record_platform(actor, &platform, "updated", now)?;
        Ok(platform)
    }

    /// Deletes platform `name`.
    ///
    /// # Errors
    ///
    /// [`ExportError::Conflict`] while schedules use it; [`ExportError::NotFound`];
    /// [`ExportError::Store`].
    pub fn delete_platform(&self, actor: &Owner, name: &str) -> Result<Platform> {
        let now = self.clock.now();
        let platform = self.platforms.delete_platform(name)?;
        self.record_platform(actor, &platform, "deleted", now)?;
        Ok(platform)
    }

    /// Installs the built-in monthly opendata export: the platforms and schedules of
    /// [`builtin`](super::builtin), owned by `actor`. Idempotent: existing platforms and
    /// schedules of those names are left as they are. Returns the schedules created now.
    ///
    /// # Errors
    ///
    /// Those of [`create_platform`](ScheduleManager::create_platform) and
    /// [`create_schedule`](ScheduleManager::create_schedule).
    pub fn install_monthly_opendata(&self, actor: &Owner) -> Result<Vec<Schedule>> {
        let now = self.clock.now();
        for platform in super::builtin::monthly_opendata_platforms(now) {
            match self.create_platform(actor, platform) {
                Ok(_) | Err(ExportError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let mut created = Vec::new();
        for new in super::builtin::monthly_opendata_schedules(actor.clone())? {
            match self.create_schedule(actor, new) {
                Ok(s) => created.push(s),
                Err(ExportError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(created)
    }

    /// Checks that the schedule's request can be built and is valid for its schema, as of its
    /// next run.
    fn validate(&self, schedule: &Schedule, now: DateTime<Utc>) -> Result<()> {
        let at = schedule.next_run.unwrap_or(now);
        let request = schedule.resolve_request(self.platforms.as_ref(), at)?;
        request.validate_basic()?;
        self.registry.exporter(request, at).map(drop)
    }

    fn record_schedule(
        &self,
        actor: &Owner,
        schedule: &Schedule,
        what: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut event = AuditEvent::new(
            AuditAction::ScheduleChange,
            actor.user_id.clone(),
            actor.organisation_id.clone(),
            now,
        )
        .with_detail(format!("schedule {}: {what}", schedule.id));
        // The request, when it can still be built, tells what the schedule exports.
        if let Ok(request) = schedule.resolve_request(self.platforms.as_ref(), now) {
            event = event.with_request(&request);
        }
        self.audit.record(&event)
    }

    fn record_platform(
        &self,
        actor: &Owner,
        platform: &Platform,
        what: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let event = AuditEvent::new(
            AuditAction::PlatformChange,
            actor.user_id.clone(),
            actor.organisation_id.clone(),
            now,
        )
        .with_request(&platform.request)
        .with_detail(format!("platform {}: {what}", platform.name));
        self.audit.record(&event)
    }
}
