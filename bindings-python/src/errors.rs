//! Errors across the boundary: every [`ExportError`] becomes the exception class of its code
//! (defined in `export_core/exceptions.py`), and an exception raised by the caller's own code
//! (its iterator, file object, progress callback, or a signal handler) is kept aside while
//! Rust unwinds and raised again unchanged.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use export_core::ExportError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

/// The exception class for each error code; a code missing here (a variant added to the
/// `#[non_exhaustive]` enum later) falls back to the base `ExportError`.
const CLASSES: &[(&str, &str)] = &[
    ("UNKNOWN_FIELD", "ValidationError"),
    ("MISSING_COLUMN", "ValidationError"),
    ("COLUMN_TYPE", "ValidationError"),
    ("INVALID_VALUE", "ValidationError"),
    ("INVALID_PERIOD", "ValidationError"),
    ("INVALID_REQUEST", "ValidationError"),
    ("INVALID_INPUT", "ValidationError"),
    ("ENCODE", "ValidationError"),
    ("CONFIG", "ConfigError"),
    ("FORBIDDEN", "Forbidden"),
    ("NOT_FOUND", "NotFound"),
    ("GONE", "Gone"),
    ("ALREADY_EXISTS", "Conflict"),
    ("INVALID_STATE", "Conflict"),
    ("LEASE_LOST", "Conflict"),
    ("RATE_LIMITED", "RateLimited"),
    ("CANCELLED", "Cancelled"),
    ("IO", "StorageError"),
    ("NOT_A_REGULAR_FILE", "StorageError"),
    ("STORAGE", "StorageError"),
    ("STORE", "StoreError"),
    ("ARROW", "InternalError"),
    ("SINK_FINISHED", "InternalError"),
    ("INTERNAL", "InternalError"),
];

/// The exception class name for an error code (also used by the tests of the mapping).
pub fn class_for(code: &str) -> &'static str {
    CLASSES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, class)| *class)
        .unwrap_or("ExportError")
}

/// The Python exception for `code` with `message`.
pub fn exception(py: Python<'_>, code: &str, message: String) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let module = py.import("export_core.exceptions")?;
        let class = module.getattr(class_for(code))?;
        let args = PyTuple::new(py, [message.clone(), code.to_string()])?;
        Ok(PyErr::from_value(class.call1(args)?))
    };
    build().unwrap_or_else(|e| e)
}

/// Converts an engine error.
pub fn to_py(py: Python<'_>, err: ExportError) -> PyErr {
    exception(py, err.code(), err.to_string())
}

/// An exception of the host's own code, kept while Rust unwinds to the binding's entry point.
/// The first one wins: later errors are consequences of it.
#[derive(Clone, Default)]
pub struct HostError(Arc<Mutex<Option<PyErr>>>, Arc<AtomicBool>);

impl HostError {
    /// Asks the work to stop at its next batch (the consumer of a chunk iterator left).
    pub fn cancel(&self) {
        self.1.store(true, Ordering::SeqCst);
    }

    /// Whether the work must stop: cancelled, or an exception is kept.
    pub fn should_stop(&self) -> bool {
        self.1.load(Ordering::SeqCst) || self.is_set()
    }

    /// Keeps `err` (unless one is kept already) and returns the engine error that stops the
    /// work: the host's exception replaces it at the boundary.
    pub fn keep(&self, err: PyErr) -> ExportError {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(err);
        }
        ExportError::Cancelled
    }

    /// Whether an exception is kept.
    pub fn is_set(&self) -> bool {
        self.0.lock().map(|s| s.is_some()).unwrap_or(true)
    }

    /// The kept exception, if any.
    pub fn take(&self) -> Option<PyErr> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// The error to raise for `err`: the host's own exception when one was kept, else the
    /// engine's error mapped to its class.
    pub fn resolve(&self, py: Python<'_>, err: ExportError) -> PyErr {
        self.take().unwrap_or_else(|| to_py(py, err))
    }
}

/// Runs `work` without the GIL, turning a panic into `InternalError` and an engine error into
/// its exception (or the host's kept exception).
pub fn detached<T, F>(py: Python<'_>, host: &HostError, work: F) -> PyResult<T>
where
    F: FnOnce() -> export_core::Result<T> + Send,
    T: Send,
{
    let outcome = py.detach(|| catch_unwind(AssertUnwindSafe(work)));
    settle(py, host, outcome)
}

/// As [`detached`], keeping the GIL (for short calls).
pub fn attached<T>(
    py: Python<'_>,
    host: &HostError,
    work: impl FnOnce() -> export_core::Result<T>,
) -> PyResult<T> {
    settle(py, host, catch_unwind(AssertUnwindSafe(work)))
}

/// The Python outcome of a run: the value, the host's kept exception, the engine's error or a
/// panic, in that order of precedence.
pub fn settle<T>(
    py: Python<'_>,
    host: &HostError,
    outcome: std::thread::Result<export_core::Result<T>>,
) -> PyResult<T> {
    match outcome {
        Ok(Ok(value)) => match host.take() {
            // A progress callback that raised on the last batch still fails the call.
            Some(err) => Err(err),
            None => Ok(value),
        },
        Ok(Err(err)) => Err(host.resolve(py, err)),
        Err(panic) => Err(panic_error(py, panic)),
    }
}

/// A Rust panic as `InternalError`, never as a `pyo3_runtime.PanicException`.
pub fn panic_error(py: Python<'_>, panic: Box<dyn std::any::Any + Send>) -> PyErr {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    exception(
        py,
        "INTERNAL",
        format!("internal error in export-core (a bug; please report it): {what}"),
    )
}
