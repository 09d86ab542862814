//! Export platforms: named, reusable export presets that jobs and schedules refer to.
//!
//! A [`Platform`] fixes an **export type** (schema, trip version, audience, format) and holds a
//! **default configuration** (fields, filters, file options, recipients, period). A user of the
//! platform may override the configuration, never the export type, with a JSON merge patch
//! ([`Platform::request_with`]). Platforms are validated against the
//! [`SchemaRegistry`] when saved ([`Platform::validate`]): a
//! preset naming a field its schema does not have is rejected then, not when a schedule fires
//! at 3 a.m.
//!
//! They are stored by a [`PlatformStore`] (every schedule store is one) and managed, with
//! validation and audit, by [`ScheduleManager`](crate::schedule::ScheduleManager).
//!
//! # Examples
//!
//! ```
//! use chrono::Utc;
//! use export_core::platform::Platform;
//! use export_core::registry::SchemaRegistry;
//! use export_core::request::{Audience, ExportRequest, Format, SchemaVersion};
//!
//! let mut request = ExportRequest::new("trip", Format::Csv);
//! request.version = Some(SchemaVersion::V2);
//! request.audience = Some(Audience::Opendata);
//! let platform = Platform::new("opendata-csv", request, Utc::now());
//! platform.validate(&SchemaRegistry::new(), Utc::now())?;
//!
//! // A user asks for a byte-order mark; the export type stays.
//! let run = platform.request_with(&serde_json::json!({"options": {"bom": true}}))?;
//! assert!(run.options.bom);
//! assert_eq!(run.audience, Some(Audience::Opendata));
//!
//! // Changing the audience is not an override but another platform.
//! let err = platform.request_with(&serde_json::json!({"audience": "operator"})).unwrap_err();
//! assert_eq!(err.to_string(), "invalid `overrides.audience`: the platform `opendata-csv` fixes the export type (schema, version, audience, format)");
//! # Ok::<(), export_core::ExportError>(())
//! ```

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{ExportError, Result};
use crate::job::Owner;
use crate::registry::SchemaRegistry;
use crate::request::ExportRequest;
use crate::schedule::check_id;
use crate::service::Principal;

/// Request fields a platform fixes: its export type.
pub const FIXED_FIELDS: [&str; 4] = ["schema", "version", "audience", "format"];

/// A named export preset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Platform {
    /// Identifier (see [`check_id`]).
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// The export type and default configuration.
    pub request: ExportRequest,
    /// Who owns it: `None` for a system platform (the built-in opendata ones, and every
    /// platform saved before platforms had owners), which everyone may read and only
    /// administrators change; otherwise the (user, organisation) that alone (with
    /// administrators) sees, uses and changes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

impl Platform {
    /// A platform `name` exporting `request`, created at `now`.
    pub fn new(name: impl Into<String>, request: ExportRequest, now: DateTime<Utc>) -> Platform {
        Platform {
            name: name.into(),
            description: String::new(),
            request,
            owner: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Sets the owner (see [`Platform::owner`]).
    pub fn owned_by(mut self, owner: Owner) -> Platform {
        self.owner = Some(owner);
        self
    }

    /// True for a system platform (no owner).
    pub fn is_system(&self) -> bool {
        self.owner.is_none()
    }

    /// True when `principal` may see and use it: a system platform, its own, or an
    /// administrator.
    pub fn visible_to(&self, principal: &Principal) -> bool {
        principal.is_admin()
            || self
                .owner
                .as_ref()
                .is_none_or(|owner| *owner == principal.owner())
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Platform {
        self.description = description.into();
        self
    }

    /// Checks the name and that the request can run: the schema exists, the fields and
    /// filters exist in it, the format suits it, the options are in range (as at `now`).
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] on `name`; the error of
    /// [`SchemaRegistry::exporter`] (for example [`ExportError::UnknownField`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::Utc;
    /// use export_core::platform::Platform;
    /// use export_core::registry::SchemaRegistry;
    /// use export_core::request::{Audience, ExportRequest, Format};
    ///
    /// let mut request = ExportRequest::new("trip", Format::Csv);
    /// request.audience = Some(Audience::Operator);
    /// request.fields.include = vec!["journey_id".into(), "no_such_field".into()];
    /// let err = Platform::new("p", request, Utc::now()).validate(&SchemaRegistry::new(), Utc::now()).unwrap_err();
    /// assert_eq!(err.code(), "UNKNOWN_FIELD");
    /// assert!(err.to_string().contains("no_such_field"), "{err}");
    /// ```
    pub fn validate(&self, registry: &SchemaRegistry, now: DateTime<Utc>) -> Result<()> {
        check_id("name", &self.name)?;
        if self.description.len() > 2000 {
            return Err(ExportError::request(
                "description",
                "longer than 2000 bytes",
            ));
        }
        self.request.validate_basic()?;
        registry.exporter(self.request.clone(), now).map(drop)
    }

    /// The platform's request with `overrides` applied: a JSON merge patch (RFC 7396) on the
    /// request's JSON form. Objects merge key by key, `null` removes a key (back to its
    /// default), anything else replaces. `null` or `{}` changes nothing.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] on `overrides` when it is not an object, on
    /// `overrides.<field>` when it changes a [fixed field](FIXED_FIELDS), and on `overrides`
    /// when the patched request is not a valid request (the message says why).
    pub fn request_with(&self, overrides: &serde_json::Value) -> Result<ExportRequest> {
        let patch = match overrides {
            serde_json::Value::Null => return Ok(self.request.clone()),
            serde_json::Value::Object(map) => map,
            other => {
                return Err(ExportError::request(
                    "overrides",
                    format!("must be a JSON object, not `{other}`"),
                ));
            }
        };
        let mut base = serde_json::to_value(&self.request)
            .map_err(|e| ExportError::request("overrides", e.to_string()))?;
        for field in FIXED_FIELDS {
            if let Some(value) = patch.get(field)
                && base.get(field) != Some(value)
            {
                return Err(ExportError::request(
                    format!("overrides.{field}"),
                    format!(
                        "the platform `{}` fixes the export type (schema, version, audience, format)",
                        self.name
                    ),
                ));
            }
        }
        merge_patch(&mut base, overrides);
        serde_json::from_value(base).map_err(|e| {
            ExportError::request(
                "overrides",
                format!("not a valid request once applied: {e}"),
            )
        })
    }
}

/// RFC 7396 JSON merge patch.
fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    let serde_json::Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = serde_json::Value::Object(serde_json::Map::new());
    }
    let serde_json::Value::Object(map) = target else {
        return;
    };
    for (key, value) in patch {
        if value.is_null() {
            map.remove(key);
        } else {
            merge_patch(
                map.entry(key.clone()).or_insert(serde_json::Value::Null),
                value,
            );
        }
    }
}

/// Where platforms live. Every [`ScheduleStore`](crate::schedule::ScheduleStore)
/// implementation is also a `PlatformStore`, over the same database, so deleting a platform can
/// check for the schedules linked to it in the same transaction.
pub trait PlatformStore: Send + Sync {
    /// Saves a new platform.
    ///
    /// # Errors
    ///
    /// [`ExportError::AlreadyExists`] when the name is taken; [`ExportError::Store`].
    fn insert_platform(&self, platform: &Platform) -> Result<()>;

    /// Platform `name`.
    ///
    /// # Errors
    ///
    /// [`ExportError::NotFound`] (kind `platform`); [`ExportError::Store`].
    fn get_platform(&self, name: &str) -> Result<Platform>;

    /// Every platform, by name.
    ///
    /// # Errors
    ///
    /// [`ExportError::Store`].
    fn list_platforms(&self) -> Result<Vec<Platform>>;

    /// Replaces the platform of the same name.
    ///
    /// # Errors
    ///
    /// [`ExportError::NotFound`]; [`ExportError::Store`].
    fn replace_platform(&self, platform: &Platform) -> Result<()>;

    /// Deletes platform `name` and returns it.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidState`] (event `delete`) naming the schedules still linked to it;
    /// [`ExportError::NotFound`]; [`ExportError::Store`].
    fn delete_platform(&self, name: &str) -> Result<Platform>;
}

/// The error for a missing platform.
pub(crate) fn platform_not_found(name: &str) -> ExportError {
    ExportError::NotFound {
        kind: "platform",
        id: name.to_string(),
    }
}

/// The error for a taken platform name.
pub(crate) fn duplicate_platform(name: &str) -> ExportError {
    ExportError::already_exists("platform", name)
}

/// The error for deleting a platform that schedules still use.
pub(crate) fn platform_in_use(name: &str, schedules: &[String]) -> ExportError {
    ExportError::invalid_state(
        "platform",
        name,
        format!("used by schedule(s) {}", schedules.join(", ")),
        "delete",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Format;
    use serde_json::json;

    fn platform() -> Platform {
        let mut request = ExportRequest::new("trip", Format::Csv);
        request.fields.include = vec!["journey_id".into()];
        request.options.bom = true;
        Platform::new("p", request, Utc::now())
    }

    #[test]
    fn merge_patch_merges_objects_and_null_removes() {
        let p = platform();
        let r = p
            .request_with(&json!({"options": {"pretty": true, "bom": null}}))
            .unwrap();
        assert!(r.options.pretty);
        assert!(!r.options.bom, "null restores the default");
        assert_eq!(r.fields.include, ["journey_id"]);
        let r = p
            .request_with(&json!({"fields": {"include": ["operator_id"]}}))
            .unwrap();
        assert_eq!(r.fields.include, ["operator_id"]);
    }

    #[test]
    fn an_override_repeating_the_fixed_value_is_accepted() {
        let r = platform().request_with(&json!({"format": "csv"})).unwrap();
        assert_eq!(r.format, Format::Csv);
        let err = platform()
            .request_with(&json!({"format": "json"}))
            .unwrap_err();
        assert!(err.to_string().contains("overrides.format"), "{err}");
    }

    #[test]
    fn overrides_must_be_an_object_and_yield_a_valid_request() {
        let err = platform().request_with(&json!([1])).unwrap_err();
        assert!(err.to_string().contains("JSON object"), "{err}");
        let err = platform()
            .request_with(&json!({"options": {"bom": "yes"}}))
            .unwrap_err();
        assert!(err.to_string().contains("not a valid request"), "{err}");
    }
}
