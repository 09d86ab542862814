//! What a write returns to Python.

use export_core::export::ExportReport;
use export_core::write::WriteSummary;
use pyo3::prelude::*;

/// What a write produced: `rows`, `bytes`, `sheets`, `file_name`.
#[pyclass(module = "export_core._native", name = "Summary", frozen, get_all)]
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Data rows written.
    pub rows: u64,
    /// Bytes of the file (after compression).
    pub bytes: u64,
    /// XLSX sheet names, in order (empty for other formats).
    pub sheets: Vec<String>,
    /// The file's name: the path's for a path, the export's suggested name for trip exports.
    pub file_name: Option<String>,
    /// Rows read from the source (trip exports drop some: rare zones, out-of-period trips).
    pub rows_read: u64,
}

impl From<WriteSummary> for Summary {
    fn from(s: WriteSummary) -> Summary {
        Summary {
            rows: s.rows,
            bytes: s.bytes,
            sheets: s.sheets,
            file_name: s.file_name,
            rows_read: s.rows,
        }
    }
}

impl From<ExportReport> for Summary {
    fn from(r: ExportReport) -> Summary {
        Summary {
            rows: r.rows_written,
            bytes: r.bytes,
            sheets: r.sheets,
            file_name: Some(r.file_name),
            rows_read: r.rows_read,
        }
    }
}

#[pymethods]
impl Summary {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        // Python's own reprs of the list and the name, quotes and escapes included.
        let this = slf.get();
        let sheets = slf.getattr("sheets")?.repr()?;
        let name = slf.getattr("file_name")?.repr()?;
        Ok(format!(
            "Summary(rows={}, bytes={}, sheets={sheets}, file_name={name})",
            this.rows, this.bytes
        ))
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Summary>().is_ok_and(|o| *o.get() == *self)
    }
}
