//! The `data` argument as a [`Source`]: anything with the Arrow PyCapsule interface (pyarrow
//! tables, batches and readers, polars frames, ...) read through Arrow's C stream without
//! touching rows, or an iterable of dicts or tuples batched by the core's [`RowBatcher`].

use std::ffi::CStr;

use arrow_array::RecordBatchReader;
use arrow_array::ffi::{FFI_ArrowArray, FFI_ArrowSchema, from_ffi};
use arrow_array::ffi_stream::{FFI_ArrowArrayStream, RecordBatchStreamReader};
use arrow_array::{RecordBatch, StructArray};
use arrow_schema::{Schema, SchemaRef};
use export_core::source::{IterSource, RowBatcher, Source};
use export_core::{ExportError, Result};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict, PyIterator, PyList, PyString, PyTuple};

use crate::convert::{cell, type_name};
use crate::errors::HostError;

/// Rows per batch for dict and tuple input: large enough that per-batch costs vanish, small
/// enough that memory stays flat and signals are checked often.
pub const DEFAULT_BATCH_ROWS: usize = 8192;

/// How to read row input.
#[derive(Clone, Default)]
pub struct RowOptions {
    /// Column names (tuples; for dicts, fixes the columns and their order).
    pub columns: Option<Vec<String>>,
    /// Rows per batch.
    pub batch_rows: Option<usize>,
}

/// The source for `data`.
pub fn source(
    data: &Bound<'_, PyAny>,
    options: &RowOptions,
    host: &HostError,
) -> PyResult<Box<dyn Source>> {
    if data.hasattr("__arrow_c_stream__")? {
        return arrow_stream(data, host);
    }
    if data.hasattr("__arrow_c_array__")? {
        return arrow_array(data);
    }
    if data.is_instance_of::<PyString>() || data.is_instance_of::<PyDict>() {
        return Err(PyTypeError::new_err(format!(
            "data must be an iterable of rows (dicts or tuples) or an Arrow table, got a {}",
            type_name(data)
        )));
    }
    let iter = data.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "data must be an iterable of rows (dicts or tuples) or an Arrow table, got a {}",
            type_name(data)
        ))
    })?;
    Ok(Box::new(RowsSource::new(iter, options, host.clone())?))
}

const STREAM: &CStr = c"arrow_array_stream";
const SCHEMA: &CStr = c"arrow_schema";
const ARRAY: &CStr = c"arrow_array";

fn arrow_stream(data: &Bound<'_, PyAny>, host: &HostError) -> PyResult<Box<dyn Source>> {
    let capsule = data.call_method0("__arrow_c_stream__")?;
    let capsule = capsule.cast::<PyCapsule>()?;
    let pointer = capsule.pointer_checked(Some(STREAM))?;
    // Moves the stream out of the capsule, leaving a released one behind: the capsule's
    // destructor then frees nothing, and the reader owns the stream.
    let stream = unsafe { FFI_ArrowArrayStream::from_raw(pointer.as_ptr().cast()) };
    let reader = RecordBatchStreamReader::try_new(stream).map_err(|e| {
        PyTypeError::new_err(format!("data's Arrow stream has no readable schema: {e}"))
    })?;
    let schema = reader.schema();
    let host = host.clone();
    let batches = reader.map(move |batch| {
        batch.map_err(|e| {
            let reason = e.to_string();
            // A producer running Python (a reader over a generator) reports the exceptions
            // raised in it as text only; Ctrl-C must still be a KeyboardInterrupt.
            if reason.contains("KeyboardInterrupt") {
                return host.keep(pyo3::exceptions::PyKeyboardInterrupt::new_err(()));
            }
            ExportError::InvalidInput {
                source_name: "data".into(),
                line: None,
                reason: format!("the Arrow stream failed: {reason}"),
            }
        })
    });
    Ok(Box::new(IterSource::new(schema, batches)))
}

fn arrow_array(data: &Bound<'_, PyAny>) -> PyResult<Box<dyn Source>> {
    let pair = data.call_method0("__arrow_c_array__")?;
    let (schema, array): (Bound<'_, PyAny>, Bound<'_, PyAny>) = pair.extract()?;
    let schema = schema.cast::<PyCapsule>()?.pointer_checked(Some(SCHEMA))?;
    let array = array.cast::<PyCapsule>()?.pointer_checked(Some(ARRAY))?;
    let batch = unsafe {
        let schema = &*(schema.as_ptr() as *const FFI_ArrowSchema);
        // Moved out like the stream above: the capsule keeps a released array.
        let array = std::ptr::replace(
            array.as_ptr() as *mut FFI_ArrowArray,
            FFI_ArrowArray::empty(),
        );
        from_ffi(array, schema)
    }
    .map_err(|e| PyTypeError::new_err(format!("data's Arrow array cannot be read: {e}")))?;
    if !matches!(batch.data_type(), arrow_schema::DataType::Struct(_)) {
        return Err(PyTypeError::new_err(format!(
            "data is a single Arrow array of {}; give a table or record batch",
            batch.data_type()
        )));
    }
    let batch = RecordBatch::from(StructArray::from(batch));
    let source =
        IterSource::from_batches(vec![batch]).map_err(|e| PyTypeError::new_err(e.to_string()))?;
    Ok(Box::new(source))
}

/// Rows of a Python iterator, converted a batch at a time with the GIL held, and written with
/// it released.
struct RowsSource {
    iter: Py<PyIterator>,
    batcher: RowBatcher,
    schema: SchemaRef,
    /// The first batch, built up front to learn the schema.
    first: Option<RecordBatch>,
    done: bool,
    /// The dict keys of the last row, by identity: rows made by one piece of code share their
    /// key objects, so a row whose keys are these, in order, is pushed by position.
    keys: Vec<Py<PyString>>,
    host: HostError,
}

impl RowsSource {
    fn new(iter: Bound<'_, PyIterator>, options: &RowOptions, host: HostError) -> PyResult<Self> {
        let py = iter.py();
        let batch_rows = options.batch_rows.unwrap_or(DEFAULT_BATCH_ROWS);
        let batcher = match &options.columns {
            Some(columns) => RowBatcher::with_columns(columns.clone(), batch_rows),
            None => RowBatcher::new(batch_rows),
        };
        let mut source = RowsSource {
            iter: iter.unbind(),
            batcher,
            schema: std::sync::Arc::new(Schema::empty()),
            first: None,
            done: false,
            keys: Vec::new(),
            host,
        };
        match source.fill(py) {
            Ok(first) => source.first = first,
            Err(err) => return Err(source.host.resolve(py, err)),
        }
        source.schema = match source.batcher.schema() {
            Some(schema) => schema,
            // No row at all: the given columns, as text, or no column.
            None => std::sync::Arc::new(Schema::new(
                options
                    .columns
                    .iter()
                    .flatten()
                    .map(|c| arrow_schema::Field::new(c, arrow_schema::DataType::Utf8, true))
                    .collect::<Vec<_>>(),
            )),
        };
        Ok(source)
    }

    /// Pulls rows until a batch is full or the iterator ends, and builds the batch.
    fn fill(&mut self, py: Python<'_>) -> Result<Option<RecordBatch>> {
        if self.done {
            return Ok(None);
        }
        let mut iter = self.iter.bind(py).clone();
        while !self.batcher.is_full() {
            match iter.next() {
                None => {
                    self.done = true;
                    break;
                }
                Some(Err(err)) => return Err(self.host.keep(err)),
                Some(Ok(row)) => self.push(&row).map_err(|e| match e {
                    Pushed::Engine(e) => e,
                    Pushed::Host(err) => self.host.keep(err),
                })?,
            }
        }
        self.batcher.flush()
    }

    fn push(&mut self, row: &Bound<'_, PyAny>) -> std::result::Result<(), Pushed> {
        let line = self.batcher.rows() + 1;
        let bad = |reason: String| {
            Pushed::Engine(ExportError::InvalidInput {
                source_name: "data".into(),
                line: Some(line),
                reason,
            })
        };
        if let Ok(dict) = row.cast::<PyDict>() {
            // One pass: the values, and the keys (as objects: a reference count each).
            let mut keys = Vec::with_capacity(dict.len());
            let mut values = Vec::with_capacity(dict.len());
            for (k, v) in dict.iter() {
                values.push(cell(&v)?.map_err(|reason| bad(column_message(&k, reason)))?);
                keys.push(k);
            }
            let same_keys = self.keys.len() == keys.len()
                && self
                    .batcher
                    .columns()
                    .is_some_and(|c| c.len() == keys.len())
                && keys.iter().zip(&self.keys).all(|(k, known)| k.is(known));
            if same_keys {
                return self.batcher.push_positional(values).map_err(Pushed::Engine);
            }
            let mut names = Vec::with_capacity(keys.len());
            for k in &keys {
                let key = k
                    .cast::<PyString>()
                    .map_err(|_| bad(format!("keys must be str, got a {} key", type_name(k))))?;
                names.push(key.to_cow()?.into_owned());
            }
            self.batcher
                .push_named(names.iter().map(String::as_str).zip(values))
                .map_err(Pushed::Engine)?;
            // Remember these keys when they are the columns, in order.
            if self.batcher.columns().is_some_and(|c| {
                c.len() == names.len() && c.iter().zip(&names).all(|(a, b)| a == b)
            }) {
                self.keys = keys
                    .into_iter()
                    .filter_map(|k| k.cast_into::<PyString>().ok().map(Bound::unbind))
                    .collect();
            } else {
                self.keys.clear();
            }
            return Ok(());
        }
        if row.is_instance_of::<PyTuple>() || row.is_instance_of::<PyList>() {
            let mut values = Vec::new();
            for (i, v) in row.try_iter()?.enumerate() {
                let v = v?;
                values.push(cell(&v)?.map_err(|reason| bad(format!("item {i}: {reason}")))?);
            }
            return self.batcher.push_positional(values).map_err(Pushed::Engine);
        }
        Err(bad(format!(
            "a row must be a dict or a tuple, got a {}",
            type_name(row)
        )))
    }
}

fn column_message(key: &Bound<'_, PyAny>, reason: String) -> String {
    format!(
        "column {}: {reason}",
        key.repr().map(|r| r.to_string()).unwrap_or_default()
    )
}

/// Why a row could not be pushed: bad data (the engine's error), or a Python exception raised
/// while reading it.
enum Pushed {
    Engine(ExportError),
    Host(PyErr),
}

impl From<PyErr> for Pushed {
    fn from(err: PyErr) -> Self {
        Pushed::Host(err)
    }
}

impl Source for RowsSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        if let Some(first) = self.first.take() {
            return Ok(Some(first));
        }
        if self.done {
            return Ok(None);
        }
        Python::attach(|py| self.fill(py))
    }
}
