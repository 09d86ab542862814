//! `write` (behind `write_csv`, `write_xlsx`, `write_json`) and `export_trips`: the arguments
//! converted, the work done by the core without the GIL.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use export_core::ExportError;
use export_core::export::Progress;
use export_core::registry::SchemaRegistry;
use export_core::request::{ExportRequest, Format, Period};
use export_core::source::{SampleConfig, SampleTrips, Source};
use export_core::write::{Control, Sheet, WriteOptions, write_path, write_to};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::convert::{to_json, type_name};
use crate::errors::{HostError, attached, detached};
use crate::input::{RowOptions, source};
use crate::output::{CHUNK_BYTES, ChunkIterator, PyFileWriter};
use crate::summary::Summary;

/// Where the file goes.
pub enum Out {
    /// A file that appears only once complete.
    Path(PathBuf),
    /// A binary file object.
    File(Py<PyAny>),
    /// An iterator of chunks, returned to the caller.
    Chunks,
}

impl Out {
    /// Reads `out`: `None`, a `str` or `os.PathLike`, or an object with `write`.
    pub fn from_py(out: Option<&Bound<'_, PyAny>>) -> PyResult<Out> {
        let Some(out) = out.filter(|o| !o.is_none()) else {
            return Ok(Out::Chunks);
        };
        let py = out.py();
        let path_like = py.import("os")?.getattr("PathLike")?;
        if out.is_instance_of::<PyString>() || out.is_instance(&path_like)? {
            let path: PathBuf = py
                .import("os")?
                .call_method1("fspath", (out,))?
                .extract()
                .map_err(|_| {
                    PyTypeError::new_err("out: a bytes path is not supported; give a str")
                })?;
            return Ok(Out::Path(path));
        }
        if out.hasattr("write")? {
            return Ok(Out::File(out.clone().unbind()));
        }
        Err(PyTypeError::new_err(format!(
            "out must be a path, a binary file object or None, got a {}",
            type_name(out)
        )))
    }
}

/// The progress and interruption hooks: `on_progress(rows)` after each batch; signals
/// (KeyboardInterrupt, Celery's soft time limit) checked before each batch.
pub fn control(on_progress: Option<Py<PyAny>>, host: &HostError) -> Control {
    let progress_host = host.clone();
    let check_host = host.clone();
    Control {
        progress: on_progress.map(|callback| -> Box<dyn Fn(u64) + Send + Sync> {
            Box::new(move |rows| {
                Python::attach(|py| {
                    if let Err(err) = callback.call1(py, (rows,)) {
                        progress_host.keep(err);
                    }
                })
            })
        }),
        check: Some(Box::new(move || {
            Python::attach(|py| {
                if check_host.should_stop() {
                    return Err(ExportError::Cancelled);
                }
                py.check_signals().map_err(|err| check_host.keep(err))
            })
        })),
    }
}

/// `export_core._native.write`: `sheets` is a list of `(name or None, data)`.
#[pyfunction]
#[pyo3(signature = (format, sheets, out, options, on_progress=None, columns=None, batch_rows=None))]
#[allow(clippy::too_many_arguments)]
pub fn write(
    py: Python<'_>,
    format: &str,
    sheets: Vec<(Option<String>, Bound<'_, PyAny>)>,
    out: Option<Bound<'_, PyAny>>,
    options: &Bound<'_, PyDict>,
    on_progress: Option<Py<PyAny>>,
    columns: Option<Vec<String>>,
    batch_rows: Option<usize>,
) -> PyResult<Py<PyAny>> {
    let host = HostError::default();
    let out = Out::from_py(out.as_ref())?;
    let json = to_json(options.as_any(), "options")?;
    let (format, options) = attached(py, &host, || {
        Ok((Format::from_str(format)?, WriteOptions::from_json(json)?))
    })?;
    let rows = RowOptions {
        columns,
        batch_rows,
    };
    let mut tables = Vec::with_capacity(sheets.len());
    for (name, data) in &sheets {
        tables.push(Sheet {
            name: name.clone(),
            source: source(data, &rows, &host)?,
        });
    }
    // Before any thread starts or byte is written: a bad column name is the caller's error
    // now, not in the middle of a streamed response.
    attached(py, &host, || {
        export_core::write::validate(format, &tables, &options)
    })?;
    let control = control(on_progress, &host);
    match out {
        Out::Path(path) => {
            let summary = detached(py, &host, move || {
                write_path(format, tables, &options, &control, &path)
            })?;
            Ok(Py::new(py, Summary::from(summary))?.into_any())
        }
        Out::File(file) => {
            let writer =
                BufWriter::with_capacity(CHUNK_BYTES, PyFileWriter::new(file, host.clone()));
            let summary = detached(py, &host, move || {
                let (summary, mut writer) = write_to(format, tables, &options, &control, writer)?;
                writer.flush()?;
                Ok(summary)
            })?;
            Ok(Py::new(py, Summary::from(summary))?.into_any())
        }
        Out::Chunks => {
            let chunks = ChunkIterator::start(host, move |writer| {
                let (summary, mut writer) = write_to(format, tables, &options, &control, writer)?;
                writer.flush()?;
                Ok(summary)
            });
            Ok(Py::new(py, chunks)?.into_any())
        }
    }
}

/// `export_core._native.export_trips`: the trip schema's export of `request` (a dict with no
/// period) over `[start, end)` in `tz`, from `data` or the sample generator.
#[pyfunction]
#[pyo3(signature = (out, request, start, end, tz, data=None, rows=100_000, seed=42, on_progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn export_trips(
    py: Python<'_>,
    out: Option<Bound<'_, PyAny>>,
    request: &Bound<'_, PyDict>,
    start: &str,
    end: &str,
    tz: &str,
    data: Option<Bound<'_, PyAny>>,
    rows: u64,
    seed: u64,
    on_progress: Option<Py<PyAny>>,
) -> PyResult<Py<PyAny>> {
    let host = HostError::default();
    let out = Out::from_py(out.as_ref())?;
    let json = to_json(request.as_any(), "request")?;
    let cancel = Arc::new(AtomicBool::new(false));
    let progress = trip_progress(on_progress, &host, &cancel);
    let exporter = attached(py, &host, || {
        let mut request: ExportRequest = export_core::error::from_json_value("request", json)?;
        request.period = Some(Period::parse(start, end, Some(tz))?);
        SchemaRegistry::new()
            .builder(request, chrono::Utc::now())?
            .progress(progress)
            .cancel_flag(cancel.clone())
            .build()
    })?;
    let period = *exporter.period().expect("trip exports have a period");
    let mut input: Box<dyn Source> = match &data {
        Some(data) if !data.is_none() => source(data, &RowOptions::default(), &host)?,
        _ => attached(py, &host, || {
            Ok(Box::new(SampleTrips::new(SampleConfig {
                rows,
                seed,
                start: period.start,
                end: period.end,
                ..Default::default()
            })?) as Box<dyn Source>)
        })?,
    };
    let report = match out {
        Out::Path(path) => detached(py, &host, move || {
            exporter.run_to_path(input.as_mut(), &path)
        })?,
        Out::File(file) => {
            let writer =
                BufWriter::with_capacity(CHUNK_BYTES, PyFileWriter::new(file, host.clone()));
            detached(py, &host, move || {
                let (report, mut writer) = exporter.run(input.as_mut(), writer)?;
                writer.flush()?;
                Ok(report)
            })?
        }
        Out::Chunks => {
            let chunks = ChunkIterator::start(host, move |writer| {
                let (report, mut writer) = exporter.run(input.as_mut(), writer)?;
                writer.flush()?;
                Ok(export_core::write::WriteSummary {
                    rows: report.rows_written,
                    bytes: report.bytes,
                    sheets: report.sheets,
                    file_name: Some(report.file_name),
                })
            });
            return Ok(Py::new(py, chunks)?.into_any());
        }
    };
    Ok(Py::new(py, Summary::from(report))?.into_any())
}

/// The exporter's progress hook, which also checks signals: an exception raised by a handler
/// (or by `on_progress`) is kept and stops the export through its cancel flag.
pub fn trip_progress(
    on_progress: Option<Py<PyAny>>,
    host: &HostError,
    cancel: &Arc<AtomicBool>,
) -> export_core::export::ProgressFn {
    let host = host.clone();
    let cancel = cancel.clone();
    Arc::new(move |p: &Progress| {
        if host.should_stop() {
            cancel.store(true, Ordering::SeqCst);
            return;
        }
        Python::attach(|py| {
            let outcome = match &on_progress {
                Some(callback) => callback.call1(py, (p.rows_read,)).map(drop),
                None => Ok(()),
            }
            .and_then(|()| py.check_signals());
            if let Err(err) = outcome {
                host.keep(err);
                cancel.store(true, Ordering::SeqCst);
            }
        })
    })
}
