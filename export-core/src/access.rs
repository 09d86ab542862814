//! Access policies: what data a [`Principal`] may request, decided before a job exists.
//!
//! [`ExportService::create`](crate::service::ExportService::create) hands every request to its
//! [`AccessPolicy`] first. The policy returns the request to run (possibly narrowed, for example
//! to the principal's own operator) or refuses it with [`ExportError::Forbidden`] saying what is
//! not allowed. Being a trait, a deployment plugs its own (`Arc<dyn AccessPolicy>`, see
//! [`ExportService::with_access_policy`](crate::service::ExportService::with_access_policy)).
//!
//! # The registry's rules ([`RegistryAccessPolicy`], the default)
//!
//! For the trip schema:
//!
//! | principal | `opendata` | `operator` | `territory` |
//! |---|---|---|---|
//! | operator `N` | allowed | only operator `N`: `filters.operators` empty is narrowed to `[N]`, any other id is refused | refused |
//! | territory `T` | allowed | refused | only territory `T`: `filters.territories` empty is narrowed to `[T]`, any other id is refused |
//! | no operator or territory | allowed | refused | refused |
//! | [`Scope::Admin`] | allowed | allowed as asked | allowed as asked |
//!
//! Other filters (`geo`, period, fields) only narrow further and are left as they are. Every
//! other schema (a catalogue's `products`, ...) is **allowed** as asked: the library cannot
//! judge their content, so a catalogue deployment that needs rules plugs its own policy.
//!
//! # Examples
//!
//! ```
//! use export_core::access::{AccessPolicy, RegistryAccessPolicy};
//! use export_core::request::{Audience, ExportRequest, Format};
//! use export_core::service::Principal;
//!
//! let mut request = ExportRequest::new("trip", Format::Csv);
//! request.audience = Some(Audience::Operator);
//! let operator = Principal::new("alice", Some("org-1")).operator(123);
//! let narrowed = RegistryAccessPolicy.authorize(&operator, request.clone())?;
//! assert_eq!(narrowed.filters.operators, [123]);
//!
//! request.filters.operators = vec![456];
//! let err = RegistryAccessPolicy.authorize(&operator, request).unwrap_err();
//! assert_eq!(err.code(), "FORBIDDEN");
//! assert!(err.to_string().contains("operator 456"), "{err}");
//! # Ok::<(), export_core::ExportError>(())
//! ```

use crate::error::{ExportError, Result};
use crate::registry::TRIP_SCHEMA;
use crate::request::{Audience, ExportRequest};
use crate::service::{Organisation, Principal, Scope};

/// Decides what data a principal may export.
///
/// Called by [`ExportService::create`](crate::service::ExportService::create) after the scope
/// check and before validation, so a narrowed request is validated and stored as narrowed.
pub trait AccessPolicy: Send + Sync {
    /// The request `principal` may run in place of `request`: the same, narrowed, or refused.
    ///
    /// # Errors
    ///
    /// [`ExportError::Forbidden`] naming what is not allowed (use [`forbidden`]).
    fn authorize(&self, principal: &Principal, request: ExportRequest) -> Result<ExportRequest>;
}

/// The refusal of an access policy: [`ExportError::Forbidden`] with `reason`, naming
/// [`Scope::Admin`] as the scope that would allow it.
///
/// # Examples
///
/// ```
/// let err = export_core::access::forbidden("no access to operator 9");
/// assert_eq!(err.to_string(), "forbidden: no access to operator 9; scope `export.admin` is required");
/// ```
pub fn forbidden(reason: impl Into<String>) -> ExportError {
    ExportError::Forbidden {
        scope: Scope::Admin.as_str().to_string(),
        reason: Some(reason.into()),
    }
}

/// Allows every request as asked (a deployment whose front end already scopes the data).
///
/// # Examples
///
/// ```
/// use export_core::access::{AccessPolicy, AllowAll};
/// use export_core::request::{ExportRequest, Format};
/// use export_core::service::Principal;
/// let request = ExportRequest::new("products", Format::Csv);
/// assert_eq!(AllowAll.authorize(&Principal::new("u", None), request.clone())?, request);
/// # Ok::<(), export_core::ExportError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl AccessPolicy for AllowAll {
    fn authorize(&self, _principal: &Principal, request: ExportRequest) -> Result<ExportRequest> {
        Ok(request)
    }
}

/// The registry's rules for the trip schema; every other schema allowed. See the
/// [module documentation](self) for the table.
#[derive(Debug, Clone, Copy, Default)]
pub struct RegistryAccessPolicy;

impl AccessPolicy for RegistryAccessPolicy {
    fn authorize(&self, principal: &Principal, request: ExportRequest) -> Result<ExportRequest> {
        if request.schema != TRIP_SCHEMA || principal.is_admin() {
            return Ok(request);
        }
        // A missing audience is left to validation, which refuses it.
        let Some(audience) = request.audience else {
            return Ok(request);
        };
        let mut request = request;
        match (audience, &principal.organisation) {
            (Audience::Opendata, _) => {}
            (Audience::Operator, Organisation::Operator(own)) => {
                let filter = &mut request.filters.operators;
                if let Some(other) = filter.iter().find(|id| *id != own) {
                    return Err(forbidden(format!(
                        "user `{}` of operator {own} may not export the trips of operator {other}",
                        principal.user_id
                    )));
                }
                if filter.is_empty() {
                    filter.push(*own);
                }
            }
            (Audience::Territory, Organisation::Territory(own)) => {
                let filter = &mut request.filters.territories;
                if let Some(other) = filter.iter().find(|id| *id != own) {
                    return Err(forbidden(format!(
                        "user `{}` of territory `{own}` may not export the trips of territory `{other}`",
                        principal.user_id
                    )));
                }
                if filter.is_empty() {
                    filter.push(own.clone());
                }
            }
            (audience, organisation) => {
                return Err(forbidden(format!(
                    "audience `{audience}` is not allowed for user `{}` ({organisation}): \
                     operators export their operator's trips, territories their territory's, \
                     opendata is for everyone",
                    principal.user_id
                )));
            }
        }
        Ok(request)
    }
}
