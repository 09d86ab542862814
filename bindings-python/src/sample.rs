//! `sample_trips`: the core's deterministic trip generator as an Arrow stream (the PyCapsule
//! interface), for demos and tests: `pyarrow.table(...)`, `polars.from_arrow(...)`, or the
//! `source` of `export_trips`.

use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, SchemaRef};
use export_core::request::Period;
use export_core::source::{SampleConfig, SampleTrips, Source};
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

use crate::errors::{HostError, attached};

/// Sample trips over a period: an object with `__arrow_c_stream__`, each call a fresh stream
/// of the same rows.
#[pyclass(module = "export_core._native", name = "SampleTrips", frozen)]
pub struct PySampleTrips {
    config: SampleConfig,
}

#[pymethods]
impl PySampleTrips {
    #[new]
    #[pyo3(signature = (start, end, tz="Europe/Paris", rows=10_000, seed=42))]
    fn new(
        py: Python<'_>,
        start: &str,
        end: &str,
        tz: &str,
        rows: u64,
        seed: u64,
    ) -> PyResult<Self> {
        let host = HostError::default();
        let config = attached(py, &host, || {
            let period = Period::parse(start, end, Some(tz))?;
            let config = SampleConfig {
                rows,
                seed,
                start: period.start,
                end: period.end,
                ..Default::default()
            };
            // Checked now rather than at the first read.
            SampleTrips::new(config)?;
            Ok(config)
        })?;
        Ok(PySampleTrips { config })
    }

    /// Rows the stream yields.
    #[getter]
    fn rows(&self) -> u64 {
        self.config.rows
    }

    /// The Arrow PyCapsule stream interface; `requested_schema` is ignored (the trip input
    /// schema is the only one offered).
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let host = HostError::default();
        let source = attached(py, &host, || SampleTrips::new(self.config))?;
        let reader = SourceReader {
            schema: source.schema(),
            source: Box::new(source),
        };
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        // The consumer moves the stream out; the capsule drops whatever is left.
        PyCapsule::new_with_value(py, stream, c"arrow_array_stream")
    }

    fn __repr__(&self) -> String {
        format!(
            "SampleTrips(rows={}, seed={}, start={}, end={})",
            self.config.rows,
            self.config.seed,
            self.config.start.to_rfc3339(),
            self.config.end.to_rfc3339()
        )
    }
}

/// A [`Source`] as Arrow's [`RecordBatchReader`].
struct SourceReader {
    schema: SchemaRef,
    source: Box<dyn Source>,
}

impl Iterator for SourceReader {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.source
            .next_batch()
            .map_err(|e| ArrowError::ExternalError(Box::new(e)))
            .transpose()
    }
}

impl RecordBatchReader for SourceReader {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}
