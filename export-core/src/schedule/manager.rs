//! [`ScheduleManager`]: create, change and delete schedules and platforms, with permission
//! checks, validation and an audit event for every change.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::misfire::MisfirePolicy;
use super::model::{NewSchedule, PeriodRule, RetryPolicy, Schedule, ScheduleTarget};
use super::store::ScheduleStore;
use super::trigger::Trigger;
use crate::access::{AccessPolicy, RegistryAccessPolicy};
use crate::audit::{AuditAction, AuditEvent, AuditLog};
use crate::clock::Clock;
use crate::error::{ExportError, Result};
use crate::platform::{Platform, PlatformStore, platform_not_found};
use crate::registry::SchemaRegistry;
use crate::request::ExportRequest;
use crate::service::{Principal, Scope};

use super::model::ScheduleRun;
use super::store::{RunQuery, ScheduleQuery, schedule_not_found};

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

/// [`ScheduleChanges`] as JSON gives them (an HTTP `PUT`, a binding): every key optional,
/// unknown keys refused, `retention_seconds: null` leaving retention to the policy.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangesWire {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    target: Option<ScheduleTarget>,
    #[serde(default)]
    period: Option<PeriodRule>,
    #[serde(default)]
    trigger: Option<Trigger>,
    #[serde(default)]
    retry: Option<RetryPolicy>,
    #[serde(default)]
    misfire: Option<MisfirePolicy>,
    #[serde(default, deserialize_with = "present")]
    retention_seconds: Option<Option<u64>>,
}

/// A key given (even as `null`) is `Some`: tells "leave it" from "clear it".
fn present<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<u64>>, D::Error> {
    use serde::Deserialize;
    Ok(Some(Option::<u64>::deserialize(d)?))
}

impl ScheduleChanges {
    /// Parses changes from a JSON object (keys `name`, `target`, `period`, `trigger`, `retry`,
    /// `misfire`, `retention_seconds`, each optional).
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] on `what` for a value that is not such an object, an
    /// unknown key (named, with the valid ones) or a bad value.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::schedule::ScheduleChanges;
    /// let changes = ScheduleChanges::from_json("changes", serde_json::json!({"name": "Nightly", "retention_seconds": null}))?;
    /// assert_eq!(changes.changed_fields(), ["name", "retention"]);
    /// let typo = ScheduleChanges::from_json("changes", serde_json::json!({"nmae": "x"})).unwrap_err();
    /// assert!(typo.to_string().contains("unknown field `nmae`"), "{typo}");
    /// let huge = ScheduleChanges::from_json("changes", serde_json::json!({"retention_seconds": 9223372036854776u64})).unwrap_err();
    /// assert!(huge.to_string().contains("out of range"), "{huge}");
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn from_json(what: &str, value: serde_json::Value) -> Result<ScheduleChanges> {
        if !value.is_object() {
            return Err(ExportError::request(what, "expected a JSON object"));
        }
        let wire: ChangesWire = crate::error::from_json_value(what, value)?;
        let retention = match wire.retention_seconds {
            Some(Some(secs)) => Some(Some(
                i64::try_from(secs)
                    .ok()
                    .and_then(Duration::try_seconds)
                    .ok_or_else(|| {
                        ExportError::request(
                            format!("{what}.retention_seconds"),
                            format!("{secs} seconds is out of range"),
                        )
                    })?,
            )),
            Some(None) => Some(None),
            None => None,
        };
        Ok(ScheduleChanges {
            name: wire.name,
            target: wire.target,
            period: wire.period,
            trigger: wire.trigger,
            retry: wire.retry,
            misfire: wire.misfire,
            retention,
        })
    }
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

/// The administration of schedules and platforms: every operation is checked against the
/// acting principal's scopes and ownership (see *Permissions* below), every change
/// is validated (a schedule's request must be buildable and valid for its schema, a platform's
/// fields must exist) before it is saved, and recorded in the audit log
/// ([`AuditAction::ScheduleChange`], [`AuditAction::PlatformChange`]) with the actor and what
/// changed.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use export_core::audit::{AuditAction, AuditLog, AuditQuery, MemoryAuditLog};
/// use export_core::clock::SystemClock;
/// use export_core::registry::SchemaRegistry;
/// use export_core::schedule::{MemoryScheduleStore, ScheduleManager, ScheduleQuery};
/// use export_core::service::{Principal, Scope};
///
/// let store = Arc::new(MemoryScheduleStore::new());
/// let audit = Arc::new(MemoryAuditLog::new());
/// let manager = ScheduleManager::new(store.clone(), store, audit.clone(),
///     Arc::new(SchemaRegistry::new()), Arc::new(SystemClock));
/// let admin = Principal::new("admin", None).with_all_scopes().with_scope(Scope::Admin);
/// let created = manager.install_monthly_opendata(&admin)?;
/// assert_eq!(created.len(), 2);
/// manager.set_enabled(&admin, "opendata-monthly-csv", false)?;
/// let events = audit.list(&AuditQuery::default())?;
/// assert!(events.iter().any(|e| e.action == AuditAction::ScheduleChange
///     && e.detail.as_deref() == Some("schedule opendata-monthly-csv: disabled")));
///
/// // Another user sees none of the administrator's schedules, and cannot touch them.
/// let bob = Principal::new("bob", Some("org2")).with_all_scopes();
/// assert!(manager.list_schedules(&bob, &ScheduleQuery::default())?.is_empty());
/// assert_eq!(manager.delete_schedule(&bob, "opendata-monthly-csv").unwrap_err().code(), "NOT_FOUND");
/// # Ok::<(), export_core::ExportError>(())
/// ```
///
/// # Permissions
///
/// Every operation takes the acting [`Principal`] and needs one [`Scope`] (checked first,
/// [`ExportError::Forbidden`] without it):
///
/// | operation | scope |
/// |---|---|
/// | [`list_schedules`](ScheduleManager::list_schedules), [`list_platforms`](ScheduleManager::list_platforms) | `export.list` (`READ_EXPORTS`) |
/// | [`get_schedule`](ScheduleManager::get_schedule), [`schedule_runs`](ScheduleManager::schedule_runs), [`get_platform`](ScheduleManager::get_platform) | `export.read` (`READ_EXPORTS`) |
/// | create, update, enable/disable/toggle a schedule; create, update a platform | `export.create` (`WRITE_EXPORTS`) |
/// | delete a schedule or a platform | `export.delete` (`WRITE_EXPORTS`) |
/// | [`install_monthly_opendata`](ScheduleManager::install_monthly_opendata) | `export.admin` |
///
/// Ownership is the pair (user, organisation), as for jobs:
///
/// - A schedule is seen and changed by its owner only. Someone else's schedule is
///   [`ExportError::NotFound`], exactly like a missing id, and is left out of lists.
/// - Creating a schedule for another owner, or seeing and changing someone else's, needs
///   [`Scope::Admin`] (without it, creating for another owner is [`ExportError::Forbidden`]).
/// - Platforms: a platform created by a user is theirs (seen, used by their schedules and
///   changed by them only; others get `NotFound`). System platforms (no owner: the built-in
///   opendata ones) are readable and usable by everyone and changed by administrators only
///   (others get `Forbidden`). A platform an administrator creates without an owner is a
///   system platform.
/// - The request a schedule exports passes the [access policy](crate::access::AccessPolicy)
///   of the acting principal when it is created or changed, as
///   [`ExportService::create`](crate::service::ExportService::create) does; a narrowed
///   request (the principal's operator filled in) is saved narrowed.
///
/// The [`Scheduler`](super::Scheduler) is the system: it reads the store directly and runs
/// every enabled schedule.
pub struct ScheduleManager {
    schedules: Arc<dyn ScheduleStore>,
    platforms: Arc<dyn PlatformStore>,
    audit: Arc<dyn AuditLog>,
    registry: Arc<SchemaRegistry>,
    clock: Arc<dyn Clock>,
    access: Arc<dyn AccessPolicy>,
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
    /// `registry`, auditing to `audit`, reading time from `clock`, with the
    /// [`RegistryAccessPolicy`].
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
            access: Arc::new(RegistryAccessPolicy),
        }
    }

    /// Replaces the access policy schedule requests are checked with (use the service's).
    pub fn with_access_policy(mut self, policy: Arc<dyn AccessPolicy>) -> ScheduleManager {
        self.access = policy;
        self
    }

    /// The schedule store, unchecked: for the scheduler (the system) and administration
    /// tools; users go through the checked operations.
    pub fn schedules(&self) -> &Arc<dyn ScheduleStore> {
        &self.schedules
    }

    /// The platform store, unchecked (see [`schedules`](ScheduleManager::schedules)).
    pub fn platforms(&self) -> &Arc<dyn PlatformStore> {
        &self.platforms
    }

    /// The schedules `principal` may see that pass `query`: its own, or every one for an
    /// administrator.
    ///
    /// # Errors
    ///
    /// [`ExportError::Forbidden`] without `export.list`; [`ExportError::Store`].
    pub fn list_schedules(
        &self,
        principal: &Principal,
        query: &ScheduleQuery,
    ) -> Result<Vec<Schedule>> {
        principal.require(Scope::List)?;
        let mut query = query.clone();
        if !principal.is_admin() {
            match &query.owner_user_id {
                Some(user) if *user != principal.user_id => return Ok(Vec::new()),
                _ => query.owner_user_id = Some(principal.user_id.clone()),
            }
        }
        let mut list = self.schedules.list(&query)?;
        list.retain(|s| principal.is_admin() || s.owner == principal.owner());
        Ok(list)
    }

    /// Schedule `id`, when `principal` may see it.
    ///
    /// # Errors
    ///
    /// [`ExportError::Forbidden`] without `export.read`; [`ExportError::NotFound`] for a
    /// missing id or someone else's schedule; [`ExportError::Store`].
    pub fn get_schedule(&self, principal: &Principal, id: &str) -> Result<Schedule> {
        principal.require(Scope::Read)?;
        self.own_schedule(principal, id)
    }

    /// The runs of schedule `id`, newest first, at most `limit`.
    ///
    /// # Errors
    ///
    /// As [`get_schedule`](ScheduleManager::get_schedule); [`ExportError::InvalidRequest`]
    /// for a bad limit.
    pub fn schedule_runs(
        &self,
        principal: &Principal,
        id: &str,
        limit: u32,
    ) -> Result<Vec<ScheduleRun>> {
        let schedule = self.get_schedule(principal, id)?;
        self.schedules
            .runs(&RunQuery::history(schedule.id).limit(limit))
    }

    /// Creates a schedule; its next run is the first fire time after now. Its owner must be
    /// the principal's (user, organisation) unless the principal is an administrator.
    ///
    /// # Errors
    ///
    /// [`ExportError::Forbidden`] without `export.create`, for another owner without
    /// `export.admin`, or when the access policy refuses its request;
    /// [`ExportError::InvalidRequest`] for a bad id, name or policy; [`ExportError::NotFound`]
    /// when its platform does not exist or is someone else's; any validation error of its
    /// request (for example [`ExportError::UnknownField`]); [`ExportError::AlreadyExists`] when the
    /// id is taken; [`ExportError::Store`].
    pub fn create_schedule(&self, principal: &Principal, new: NewSchedule) -> Result<Schedule> {
        principal.require(Scope::Create)?;
        if new.owner != principal.owner() && !principal.is_admin() {
            return Err(crate::access::forbidden(format!(
                "user `{}` may not create a schedule for another owner (`{}`)",
                principal.user_id, new.owner.user_id
            )));
        }
        let now = self.clock.now();
        let mut schedule = new.build(now)?;
        self.authorize(principal, &mut schedule, now)?;
        self.validate(&schedule, now)?;
        self.schedules.insert(&schedule)?;
        self.record_schedule(principal, &schedule, "created", now)?;
        Ok(schedule)
    }

    /// Applies `changes` to schedule `id`. A new trigger recomputes the next run from now.
    ///
    /// # Errors
    ///
    /// As [`create_schedule`](ScheduleManager::create_schedule), and
    /// [`ExportError::NotFound`] when the schedule does not exist or is someone else's.
    /// Nothing is saved on error.
    pub fn update_schedule(
        &self,
        principal: &Principal,
        id: &str,
        changes: &ScheduleChanges,
    ) -> Result<Schedule> {
        principal.require(Scope::Create)?;
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
        let mut preview = self.own_schedule(principal, id)?;
        apply(&mut preview)?;
        self.authorize(principal, &mut preview, now)?;
        self.validate(&preview, now)?;
        let target = preview.target.clone();
        let schedule = self.schedules.update(id, &mut |s| {
            apply(s)?;
            s.target = target.clone();
            Ok(())
        })?;
        let what = format!("updated ({})", changes.changed_fields().join(", "));
        self.record_schedule(principal, &schedule, &what, now)?;
        Ok(schedule)
    }

    /// Enables or disables schedule `id`. Enabling computes the next run from now, so a
    /// schedule that was off for a month does not fire for the fire times it slept through;
    /// disabling clears it. Setting the state it already has changes nothing (and records
    /// nothing).
    ///
    /// # Errors
    ///
    /// [`ExportError::Forbidden`] without `export.create`; [`ExportError::NotFound`] (also
    /// for someone else's schedule); [`ExportError::Store`].
    pub fn set_enabled(&self, principal: &Principal, id: &str, enabled: bool) -> Result<Schedule> {
        principal.require(Scope::Create)?;
        self.own_schedule(principal, id)?;
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
            self.record_schedule(principal, &schedule, what, now)?;
        }
        Ok(schedule)
    }

    /// Flips schedule `id` between enabled and disabled (see
    /// [`set_enabled`](ScheduleManager::set_enabled)).
    ///
    /// # Errors
    ///
    /// As [`set_enabled`](ScheduleManager::set_enabled).
    pub fn toggle(&self, principal: &Principal, id: &str) -> Result<Schedule> {
        principal.require(Scope::Create)?;
        let enabled = self.own_schedule(principal, id)?.enabled;
        self.set_enabled(principal, id, !enabled)
    }

    /// Deletes schedule `id` and its run history; the jobs it created stay.
    ///
    /// # Errors
    ///
    /// [`ExportError::Forbidden`] without `export.delete`; [`ExportError::NotFound`] (also
    /// for someone else's schedule); [`ExportError::Store`].
    pub fn delete_schedule(&self, principal: &Principal, id: &str) -> Result<Schedule> {
        principal.require(Scope::Delete)?;
        self.own_schedule(principal, id)?;
        let now = self.clock.now();
        let schedule = self.schedules.delete(id)?;
        self.record_schedule(principal, &schedule, "deleted", now)?;
        Ok(schedule)
    }

    /// The platforms `principal` may see (system ones and its own; all for an
    /// administrator), by name.
    ///
    /// # Errors
    ///
    /// [`ExportError::Forbidden`] without `export.list`; [`ExportError::Store`].
    pub fn list_platforms(&self, principal: &Principal) -> Result<Vec<Platform>> {
        principal.require(Scope::List)?;
        let mut list = self.platforms.list_platforms()?;
        list.retain(|p| p.visible_to(principal));
        Ok(list)
    }

    /// Platform `name`, when `principal` may see it.
    ///
    /// # Errors
    ///
    /// [`ExportError::Forbidden`] without `export.read`; [`ExportError::NotFound`] for a
    /// missing name or someone else's platform; [`ExportError::Store`].
    pub fn get_platform(&self, principal: &Principal, name: &str) -> Result<Platform> {
        principal.require(Scope::Read)?;
        self.visible_platform(principal, name)
    }

    /// Saves a new platform after [validating](Platform::validate) it. A user's platform is
    /// theirs (its `owner` is set to the principal's); an administrator may save one for
    /// another owner, or a system platform (no owner).
    ///
    /// # Errors
    ///
    /// [`ExportError::Forbidden`] without `export.create`, or for another owner without
    /// `export.admin`; the errors of [`Platform::validate`]; [`ExportError::AlreadyExists`] when
    /// the name is taken; [`ExportError::Store`].
    pub fn create_platform(&self, principal: &Principal, platform: Platform) -> Result<Platform> {
        principal.require(Scope::Create)?;
        let owner = match platform.owner {
            None if principal.is_admin() => None,
            Some(owner) if principal.is_admin() => Some(owner),
            None => Some(principal.owner()),
            Some(owner) if owner == principal.owner() => Some(owner),
            Some(owner) => {
                return Err(crate::access::forbidden(format!(
                    "user `{}` may not create a platform for another owner (`{}`)",
                    principal.user_id, owner.user_id
                )));
            }
        };
        let now = self.clock.now();
        let platform = Platform {
            created_at: now,
            updated_at: now,
            owner,
            ..platform
        };
        platform.validate(&self.registry, now)?;
        self.platforms.insert_platform(&platform)?;
        self.record_platform(principal, &platform, "created", now)?;
        Ok(platform)
    }

    /// Replaces platform `platform.name` after validating it and every schedule linked to it
    /// (their overrides must still apply). The owner stays the existing platform's.
    ///
    /// # Errors
    ///
    /// [`ExportError::Forbidden`] without `export.create`, or for a system platform without
    /// `export.admin`; [`ExportError::NotFound`] for a missing or someone else's platform; as
    /// [`create_platform`](ScheduleManager::create_platform); a linked schedule's validation
    /// error, prefixed with its id.
    pub fn update_platform(&self, principal: &Principal, platform: Platform) -> Result<Platform> {
        principal.require(Scope::Create)?;
        let existing = self.changeable_platform(principal, &platform.name)?;
        let now = self.clock.now();
        let platform = Platform {
            created_at: existing.created_at,
            updated_at: now,
            owner: existing.owner,
            ..platform
        };
        platform.validate(&self.registry, now)?;
        let linked = self
            .schedules
            .list(&ScheduleQuery::default().platform(platform.name.clone()))?;
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
        self.record_platform(principal, &platform, "updated", now)?;
        Ok(platform)
    }

    /// Deletes platform `name`.
    ///
    /// # Errors
    ///
    /// [`ExportError::Forbidden`] without `export.delete`, or for a system platform without
    /// `export.admin`; [`ExportError::InvalidState`] (event `delete`) while schedules use it;
    /// [`ExportError::NotFound`] (also for someone else's platform); [`ExportError::Store`].
    pub fn delete_platform(&self, principal: &Principal, name: &str) -> Result<Platform> {
        principal.require(Scope::Delete)?;
        self.changeable_platform(principal, name)?;
        let now = self.clock.now();
        let platform = self.platforms.delete_platform(name)?;
        self.record_platform(principal, &platform, "deleted", now)?;
        Ok(platform)
    }

    /// Installs the built-in monthly opendata export: the system platforms and the schedules
    /// of [`monthly_opendata_schedules`](super::monthly_opendata_schedules), the schedules owned by `principal`. Idempotent:
    /// existing platforms and schedules of those names are left as they are. Returns the
    /// schedules created now.
    ///
    /// # Errors
    ///
    /// [`ExportError::Forbidden`] without `export.admin`; those of
    /// [`create_platform`](ScheduleManager::create_platform) and
    /// [`create_schedule`](ScheduleManager::create_schedule).
    pub fn install_monthly_opendata(&self, principal: &Principal) -> Result<Vec<Schedule>> {
        principal.require(Scope::Admin)?;
        let now = self.clock.now();
        for platform in super::builtin::monthly_opendata_platforms(now) {
            match self.create_platform(principal, platform) {
                Ok(_) | Err(ExportError::AlreadyExists { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let mut created = Vec::new();
        for new in super::builtin::monthly_opendata_schedules(principal.owner())? {
            match self.create_schedule(principal, new) {
                Ok(s) => created.push(s),
                Err(ExportError::AlreadyExists { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(created)
    }

    /// Schedule `id` if `principal` owns it (or is an administrator), else the error of a
    /// missing id.
    fn own_schedule(&self, principal: &Principal, id: &str) -> Result<Schedule> {
        let schedule = self.schedules.get(id)?;
        if principal.is_admin() || schedule.owner == principal.owner() {
            Ok(schedule)
        } else {
            Err(schedule_not_found(id))
        }
    }

    /// Platform `name` if `principal` may see it, else the error of a missing name.
    fn visible_platform(&self, principal: &Principal, name: &str) -> Result<Platform> {
        let platform = self.platforms.get_platform(name)?;
        if platform.visible_to(principal) {
            Ok(platform)
        } else {
            Err(platform_not_found(name))
        }
    }

    /// Platform `name` if `principal` may change it: its own, or any for an administrator.
    fn changeable_platform(&self, principal: &Principal, name: &str) -> Result<Platform> {
        let platform = self.visible_platform(principal, name)?;
        if platform.is_system() && !principal.is_admin() {
            return Err(crate::access::forbidden(format!(
                "platform `{name}` is a system platform; only administrators change it"
            )));
        }
        Ok(platform)
    }

    /// Checks the schedule's platform is one the principal may use and its request passes the
    /// access policy; a narrowed request is written back into the target.
    fn authorize(
        &self,
        principal: &Principal,
        schedule: &mut Schedule,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if let Some(name) = schedule.target.platform_name() {
            self.visible_platform(principal, name)?;
        }
        let request = schedule.resolve_request(self.platforms.as_ref(), now)?;
        let allowed = self.access.authorize(principal, request.clone())?;
        if allowed != request {
            narrow_target(&mut schedule.target, &allowed)?;
        }
        Ok(())
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
        principal: &Principal,
        schedule: &Schedule,
        what: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut event = AuditEvent::new(
            AuditAction::ScheduleChange,
            principal.user_id.clone(),
            principal.organisation_id.clone(),
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
        principal: &Principal,
        platform: &Platform,
        what: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let event = AuditEvent::new(
            AuditAction::PlatformChange,
            principal.user_id.clone(),
            principal.organisation_id.clone(),
            now,
        )
        .with_request(&platform.request)
        .with_detail(format!("platform {}: {what}", platform.name));
        self.audit.record(&event)
    }
}

/// Writes the filters an access policy narrowed into a schedule's target: into the inline
/// request, or into the overrides of a platform target (so the platform stays shared).
fn narrow_target(target: &mut ScheduleTarget, allowed: &ExportRequest) -> Result<()> {
    match target {
        ScheduleTarget::Request { request } => {
            request.filters = allowed.filters.clone();
        }
        ScheduleTarget::Platform { overrides, .. } => {
            let filters = serde_json::to_value(&allowed.filters)
                .map_err(|e| ExportError::request("filters", e.to_string()))?;
            if !overrides.is_object() {
                *overrides = serde_json::Value::Object(serde_json::Map::new());
            }
            if let serde_json::Value::Object(map) = overrides {
                map.insert("filters".to_string(), filters);
            }
        }
    }
    Ok(())
}
