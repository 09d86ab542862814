//! Plain writers: any [`Source`] (or several, one per XLSX sheet) to CSV, XLSX, JSON or JSON
//! Lines, with column selection, renames and every sink option, in constant memory.
//!
//! This is what the bindings' `write_csv`, `write_xlsx` and `write_json` and the CLI's
//! `convert` run: no schema, no request, no job; the data's own columns, shaped by
//! [`WriteOptions`]. (Exports of a registered schema, such as the trip schema, go through
//! [`Exporter`](crate::export::Exporter).)
//!
//! - [`write_path`] writes a file that appears only once complete: after an error, an
//!   interruption or a panic, nothing is left at the path.
//! - [`write_to`] writes to any [`Write`]: a host's file object, an HTTP body, a channel feeding
//!   a chunk iterator.
//!
//! Between batches the writer reports progress and calls [`Control::check`], where a host checks
//! its own signals (Python's `KeyboardInterrupt`, a Node `AbortSignal`) and stops the write.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use arrow_array::{Int64Array, RecordBatch, StringArray};
//! use arrow_schema::{DataType, Field, Schema};
//! use export_core::request::Format;
//! use export_core::source::IterSource;
//! use export_core::write::{Control, Sheet, WriteOptions, write_to};
//!
//! let schema = Arc::new(Schema::new(vec![
//!     Field::new("sku", DataType::Utf8, false),
//!     Field::new("stock", DataType::Int64, true),
//!     Field::new("supplier", DataType::Utf8, true),
//! ]));
//! let batch = RecordBatch::try_new(schema.clone(), vec![
//!     Arc::new(StringArray::from(vec!["A-1", "B-2"])),
//!     Arc::new(Int64Array::from(vec![Some(3), None])),
//!     Arc::new(StringArray::from(vec!["acme", "umbrella"])),
//! ])?;
//! let source = IterSource::from_batches(vec![batch])?;
//! let options = WriteOptions::from_json(serde_json::json!({
//!     "exclude": ["supplier"],
//!     "rename": {"stock": "in_stock"},
//! }))?;
//! let (summary, bytes) = write_to(
//!     Format::Csv,
//!     vec![Sheet::new(source)],
//!     &options,
//!     &Control::default(),
//!     Vec::new(),
//! )?;
//! assert_eq!(summary.rows, 2);
//! assert_eq!(String::from_utf8(bytes).unwrap(), "sku,in_stock\nA-1,3\nB-2,\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod options;
mod shape;

use std::fmt;
use std::io::Write;
use std::path::Path;

use arrow_array::RecordBatch;

pub use options::{HeaderStyle, WriteOptions};

use crate::error::{ExportError, Result};
use crate::output::AtomicFile;
use crate::request::Format;
use crate::source::Source;
use shape::Shape;

/// One table to write: a source and, for XLSX, the name of its sheet.
pub struct Sheet {
    /// The sheet's name (XLSX); `None` for [`WriteOptions::sheet_name`].
    pub name: Option<String>,
    /// Its data.
    pub source: Box<dyn Source>,
}

impl Sheet {
    /// A sheet of `source`, named by the options.
    pub fn new(source: impl Source + 'static) -> Sheet {
        Sheet {
            name: None,
            source: Box::new(source),
        }
    }

    /// A sheet named `name`.
    pub fn named(name: impl Into<String>, source: impl Source + 'static) -> Sheet {
        Sheet {
            name: Some(name.into()),
            source: Box::new(source),
        }
    }
}

impl fmt::Debug for Sheet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sheet")
            .field("name", &self.name)
            .field("schema", &self.source.schema())
            .finish()
    }
}

/// What a writer is told between batches.
#[derive(Default)]
pub struct Control {
    /// Called after each batch with the rows written so far (over every sheet).
    pub progress: Option<Box<dyn Fn(u64) + Send + Sync>>,
    /// Called before each batch is read; an error stops the write with that error (a host
    /// returns [`ExportError::Cancelled`] when its user interrupts).
    pub check: Option<Box<dyn Fn() -> Result<()> + Send + Sync>>,
}

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Control")
            .field("progress", &self.progress.is_some())
            .field("check", &self.check.is_some())
            .finish()
    }
}

/// What a write produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteSummary {
    /// Data rows written.
    pub rows: u64,
    /// Bytes written (after compression).
    pub bytes: u64,
    /// Sheet names, in order (XLSX; empty otherwise).
    pub sheets: Vec<String>,
    /// The file's name, when written to a path.
    pub file_name: Option<String>,
}

/// Writes `sheets` as `format` to `out`, and hands `out` back.
///
/// CSV and JSON take one sheet; XLSX one or more, each on its own sheet. On error `out` may hold
/// part of a file: discard it (or use [`write_path`]).
///
/// # Errors
///
/// [`ExportError::InvalidRequest`] naming the option for a bad option or an unknown column (before
/// anything is written); the source's errors; the sink's; whatever [`Control::check`] returns.
///
/// # Examples
///
/// Two sheets in one workbook:
///
/// ```
/// use std::io::Cursor;
/// use std::sync::Arc;
/// use arrow_array::{Int64Array, RecordBatch};
/// use arrow_schema::{DataType, Field, Schema};
/// use export_core::request::Format;
/// use export_core::source::IterSource;
/// use export_core::write::{Control, Sheet, WriteOptions, write_to};
///
/// let table = |name: &str, n: i64| {
///     let schema = Arc::new(Schema::new(vec![Field::new(name, DataType::Int64, false)]));
///     let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from_iter_values(0..n))]);
///     IterSource::from_batches(vec![batch.unwrap()]).unwrap()
/// };
/// let sheets = vec![Sheet::named("products", table("id", 3)), Sheet::named("suppliers", table("id", 2))];
/// let (summary, _) = write_to(Format::Xlsx, sheets, &WriteOptions::default(), &Control::default(), Cursor::new(Vec::new()))?;
/// assert_eq!(summary.rows, 5);
/// assert_eq!(summary.sheets, ["products", "suppliers"]);
/// # Ok::<(), export_core::ExportError>(())
/// ```
pub fn write_to<W: Write + Send>(
    format: Format,
    sheets: Vec<Sheet>,
    options: &WriteOptions,
    control: &Control,
    out: W,
) -> Result<(WriteSummary, W)> {
    write_named(format, sheets, options, control, "export", out)
}

/// Writes `sheets` as `format` to a file at `path` that appears only once complete; on any
/// error (or a panic) nothing is left there and an existing file is untouched.
///
/// # Errors
///
/// As [`write_to`]; [`ExportError::Io`] when the file cannot be created or published.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Int64Array, RecordBatch};
/// use arrow_schema::{DataType, Field, Schema};
/// use export_core::request::Format;
/// use export_core::source::IterSource;
/// use export_core::write::{Control, Sheet, WriteOptions, write_path};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("stock.jsonl");
/// let schema = Arc::new(Schema::new(vec![Field::new("stock", DataType::Int64, false)]));
/// let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1, 2]))])?;
/// let summary = write_path(
///     Format::JsonLines,
///     vec![Sheet::new(IterSource::from_batches(vec![batch])?)],
///     &WriteOptions::default(),
///     &Control::default(),
///     &path,
/// )?;
/// assert_eq!(summary.file_name.as_deref(), Some("stock.jsonl"));
/// assert_eq!(std::fs::read_to_string(&path)?, "{\"stock\":1}\n{\"stock\":2}\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_path(
    format: Format,
    sheets: Vec<Sheet>,
    options: &WriteOptions,
    control: &Control,
    path: &Path,
) -> Result<WriteSummary> {
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("export")
        .to_string();
    let file = AtomicFile::create(path)?;
    let (mut summary, file) = write_named(format, sheets, options, control, &file_name, file)?;
    // An interruption that arrived while the sink finished still leaves no file.
    if let Some(check) = &control.check {
        check()?;
    }
    file.commit()?;
    summary.file_name = Some(file_name);
    Ok(summary)
}

/// Checks `options` against `sheets` as a write would, before anything is read or written:
/// for hosts that must answer a bad request before they start a response (a streaming HTTP
/// route runs the write itself on another thread).
///
/// # Errors
///
/// As [`write_to`] before its first byte: [`ExportError::InvalidRequest`] naming the option
/// or the unknown column; several sheets for a format other than XLSX.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Int64Array, RecordBatch};
/// use arrow_schema::{DataType, Field, Schema};
/// use export_core::request::Format;
/// use export_core::source::IterSource;
/// use export_core::write::{Sheet, WriteOptions, validate};
///
/// let schema = Arc::new(Schema::new(vec![Field::new("stock", DataType::Int64, false)]));
/// let batch = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1]))])?;
/// let sheets = [Sheet::new(IterSource::from_batches(vec![batch])?)];
/// let typo = WriteOptions::from_json(serde_json::json!({"fields": ["stok"]}))?;
/// let err = validate(Format::Csv, &sheets, &typo).unwrap_err();
/// assert!(err.to_string().contains("no column `stok`"), "{err}");
/// assert!(validate(Format::Csv, &sheets, &WriteOptions::default()).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn validate(format: Format, sheets: &[Sheet], options: &WriteOptions) -> Result<()> {
    shapes(format, sheets, options).map(drop)
}

fn shapes(format: Format, sheets: &[Sheet], options: &WriteOptions) -> Result<Vec<Shape>> {
    if sheets.is_empty() {
        return Err(ExportError::request("sheets", "no data to write"));
    }
    if sheets.len() > 1 && format != Format::Xlsx {
        return Err(ExportError::request(
            "sheets",
            format!(
                "a {} file holds one table; several sheets need XLSX",
                format.extension()
            ),
        ));
    }
    let several = sheets.len() > 1;
    let inputs: Vec<_> = sheets.iter().map(|s| s.source.schema()).collect();
    let shapes = sheets
        .iter()
        .zip(&inputs)
        .map(|(s, input)| Shape::new(input, options, s.name.as_deref(), several))
        .collect::<Result<Vec<_>>>()?;
    if several {
        Shape::check_names(options, &inputs, &shapes)?;
    }
    Ok(shapes)
}

fn write_named<W: Write + Send>(
    format: Format,
    mut sheets: Vec<Sheet>,
    options: &WriteOptions,
    control: &Control,
    file_name: &str,
    out: W,
) -> Result<(WriteSummary, W)> {
    // Every option and column name is checked before the first byte.
    let shapes = shapes(format, &sheets, options)?;
    let mut sink = options.sink(format, file_name, out)?;
    sink.header(shapes[0].schema())?;
    let mut rows = 0u64;
    for (sheet, shape) in sheets.iter_mut().zip(&shapes) {
        let mut any = false;
        loop {
            if let Some(check) = &control.check {
                check()?;
            }
            let Some(batch) = sheet.source.next_batch()? else {
                break;
            };
            any = true;
            sink.write(&shape.apply(&batch)?)?;
            rows += batch.num_rows() as u64;
            if let Some(progress) = &control.progress {
                progress(rows);
            }
        }
        if !any {
            // An empty table still gets its sheet (XLSX) with its header row.
            sink.write(&RecordBatch::new_empty(shape.schema().clone()))?;
        }
    }
    let (summary, out) = sink.finish()?;
    Ok((
        WriteSummary {
            rows: summary.rows,
            bytes: summary.bytes,
            sheets: summary.sheets,
            file_name: None,
        },
        out,
    ))
}

#[cfg(test)]
mod tests;
