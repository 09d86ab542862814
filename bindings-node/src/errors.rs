//! Errors across the boundary: every [`ExportError`] rejects the promise with an `Error` whose
//! `code` is `EXPORT_` and the core's code and whose message is the core's; a panic in the
//! work becomes `EXPORT_INTERNAL`, never a crash of the process.

use std::panic::{AssertUnwindSafe, catch_unwind};

use export_core::ExportError;
use napi::{Env, JsError};

/// An error on its way to JS: the core's code (without the `EXPORT_` prefix) and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `INVALID_REQUEST`, `INVALID_INPUT`, `INTERNAL`, ...
    pub code: String,
    /// The core's message.
    pub message: String,
}

impl Failure {
    /// A failure of `code` with `message`.
    pub fn new(code: &str, message: impl Into<String>) -> Failure {
        Failure {
            code: code.to_string(),
            message: message.into(),
        }
    }

    /// An invalid argument of the binding's own (`data`, `out`), as the core names requests.
    pub fn argument(what: &str, reason: impl Into<String>) -> Failure {
        ExportError::request(what, reason).into()
    }
}

impl From<ExportError> for Failure {
    fn from(err: ExportError) -> Failure {
        Failure::new(err.code(), err.to_string())
    }
}

impl From<std::io::Error> for Failure {
    fn from(err: std::io::Error) -> Failure {
        ExportError::from(err).into()
    }
}

impl From<napi::Error> for Failure {
    fn from(err: napi::Error) -> Failure {
        Failure::new("INVALID_REQUEST", err.reason)
    }
}

/// Runs `work`, turning a panic into `INTERNAL`.
pub fn guarded<T>(work: impl FnOnce() -> Result<T, Failure>) -> Result<T, Failure> {
    catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(Failure::new(
            "INTERNAL",
            format!("internal error in export-core (a bug; please report it): {what}"),
        ))
    })
}

/// The JS `Error` of `failure` (its `code` set), as the `napi::Error` that rejects with it.
pub fn to_js(env: &Env, failure: Failure) -> napi::Error {
    let error = napi::Error::new(format!("EXPORT_{}", failure.code), failure.message);
    // An error that holds a JS value rejects with that value: the code survives.
    napi::Error::from(JsError::from(error).into_unknown(*env))
}
