//! Sinks turn Arrow record batches into file bytes: [`csv`], [`xlsx`] and [`json`].
//!
//! Every sink implements [`Sink`], shaped like arrow-rs's `RecordBatchWriter`: `write` a batch at
//! a time, then `finish` once. Each is built by a builder of options and writes to any
//! `io::Write` (XLSX needs `Seek` too), so the same sink serves a local file, an object-store
//! upload or an HTTP response body.
//!
//! Sinks read presentation hints from the batch's Arrow schema (see [`crate::schema`]): header
//! labels are field names, Excel number formats and widths are field metadata, and the XLSX sheet
//! name is schema metadata.

pub mod compress;
pub mod csv;
pub mod json;
mod parallel;
pub mod xlsx;

pub use parallel::default_threads;

/// The name of Arrow's canonical JSON extension type (field metadata
/// `ARROW:extension:name`): a UTF-8 column whose values are JSON texts. The JSON sinks write
/// them as nested values (checked to be JSON); CSV and XLSX write the text. Columns of nested
/// dicts and lists from [`RowBatcher`](crate::source::RowBatcher) carry it, and so do pyarrow's
/// `pa.json_()` columns.
pub const JSON_EXTENSION: &str = "arrow.json";

/// True when `field` is a JSON text column ([`JSON_EXTENSION`]).
pub fn is_json_text(field: &arrow_schema::Field) -> bool {
    field
        .metadata()
        .get(arrow_schema::extension::EXTENSION_TYPE_NAME_KEY)
        .is_some_and(|name| name == JSON_EXTENSION)
        && matches!(
            field.data_type(),
            arrow_schema::DataType::Utf8
                | arrow_schema::DataType::LargeUtf8
                | arrow_schema::DataType::Utf8View
        )
}

use std::borrow::Cow;
use std::io::{self, Write};

use arrow_array::RecordBatch;

use crate::error::Result;

/// Most data rows an XLSX sheet holds below its header row (Excel's limit is 1,048,576 rows).
pub const XLSX_MAX_DATA_ROWS: u32 = 1_048_575;

/// What a finished sink wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Data rows written (header rows not counted).
    pub rows: u64,
    /// Bytes written to the underlying writer (after compression).
    pub bytes: u64,
    /// XLSX sheet names, in order (empty for other formats).
    pub sheets: Vec<String>,
}

/// A writer of record batches to a file format.
///
/// Call [`Sink::write`] for each batch, then [`Sink::finish`] once; a sink that is dropped
/// without `finish` may leave its output incomplete, which is why outputs are written to a
/// temporary name and published only after `finish` succeeds.
pub trait Sink: Send {
    /// Writes one batch.
    ///
    /// # Errors
    ///
    /// [`crate::ExportError::Io`] when the writer fails, [`crate::ExportError::Encode`] when the
    /// format cannot hold a value, [`crate::ExportError::SinkFinished`] after `finish`.
    fn write(&mut self, batch: &RecordBatch) -> Result<()>;

    /// Completes the file (footer, closing bracket, zip directory), flushes, and reports.
    ///
    /// # Errors
    ///
    /// As [`Sink::write`]; [`crate::ExportError::SinkFinished`] when called twice.
    fn finish(&mut self) -> Result<Summary>;
}

impl<S: Sink + ?Sized> Sink for Box<S> {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        (**self).write(batch)
    }
    fn finish(&mut self) -> Result<Summary> {
        (**self).finish()
    }
}

/// True when a spreadsheet would read `text` as a formula: it starts with `=`, `+`, `-`, `@`,
/// a tab or a carriage return (OWASP's CSV-injection list).
///
/// # Examples
///
/// ```
/// use export_core::sink::is_formula_like;
/// assert!(is_formula_like("=HYPERLINK(\"http://x\")"));
/// assert!(is_formula_like("-12"));
/// assert!(!is_formula_like("12"));
/// ```
pub fn is_formula_like(text: &str) -> bool {
    matches!(
        text.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}

/// Neutralises a formula-like text by prefixing a single quote, which spreadsheets show as text.
///
/// # Examples
///
/// ```
/// use export_core::sink::neutralise_formula;
/// assert_eq!(neutralise_formula("=1+1"), "'=1+1");
/// assert_eq!(neutralise_formula("plain"), "plain");
/// ```
pub fn neutralise_formula(text: &str) -> Cow<'_, str> {
    if is_formula_like(text) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// A writer that counts the bytes passing through it.
#[derive(Debug)]
pub struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W: Write> CountingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        CountingWriter { inner, count: 0 }
    }
    /// Bytes written so far.
    pub fn count(&self) -> u64 {
        self.count
    }
    /// The wrapped writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }
    /// The wrapped writer, mutably.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }
    /// Unwraps the writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: io::Seek> io::Seek for CountingWriter<W> {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}
