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
//! | [`Scope::Admin`](crate::service::Scope::Admin) | allowed | allowed as asked | allowed as asked |
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
use crate::principal::Principal;
use crate::request::ExportRequest;
use crate::schema::builtin::builtin_or_plain;

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
/// [`Scope::Admin`](crate::service::Scope::Admin) as the scope that would allow it.
///
/// # Examples
///
/// ```
/// let err = export_core::access::forbidden("no access to operator 9");
/// assert_eq!(err.to_string(), "forbidden: no access to operator 9; scope `export.admin` is required");
/// ```
pub fn forbidden(reason: impl Into<String>) -> ExportError {
    crate::principal::forbidden(reason)
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
/// [module documentation](self) for the table. The rules live with the trip schema
/// ([`TripRules`](crate::schema::trip::TripRules)); to apply registered schemas' own rules
/// too, use the [`SchemaRegistry`](crate::registry::SchemaRegistry) as the policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct RegistryAccessPolicy;

impl AccessPolicy for RegistryAccessPolicy {
    /// The built-in schema's [`SchemaRules::authorize`](crate::schema::rules::SchemaRules::authorize)
    /// (the trip schema's table); every other schema allowed as asked.
    fn authorize(&self, principal: &Principal, request: ExportRequest) -> Result<ExportRequest> {
        builtin_or_plain(&request.schema).authorize(principal, request)
    }
}
