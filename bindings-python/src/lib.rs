//! `export_core._native`: the Python binding of export-core.
//!
//! Thin by design: each function converts its arguments, calls the core with the GIL released,
//! and converts the result or the error. The Python package (`python/export_core`) gives the
//! public, typed API over these functions.

mod convert;
mod engine;
mod errors;
mod input;
mod output;
mod sample;
mod summary;
mod writers;

use pyo3::prelude::*;

/// Panics inside the binding, for the test that no panic reaches Python as anything but an
/// `ExportError` (`InternalError`).
#[pyfunction]
fn _panic_for_tests(py: Python<'_>, message: String) -> PyResult<()> {
    let host = errors::HostError::default();
    errors::detached(py, &host, move || -> export_core::Result<()> {
        panic!("{message}")
    })
}

/// The exception class name of each engine error code.
#[pyfunction]
fn _error_class(code: &str) -> &'static str {
    errors::class_for(code)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(writers::write, m)?)?;
    m.add_function(wrap_pyfunction!(writers::export_trips, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    m.add_function(wrap_pyfunction!(_error_class, m)?)?;
    m.add_class::<summary::Summary>()?;
    m.add_class::<output::ChunkIterator>()?;
    m.add_class::<engine::PyEngine>()?;
    m.add_class::<engine::PyPrincipal>()?;
    m.add_class::<engine::PyDownload>()?;
    m.add_class::<sample::PySampleTrips>()?;
    Ok(())
}
