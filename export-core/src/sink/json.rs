//! JSON sink: a JSON array of objects, or JSON Lines (one object per line), streamed.
//!
//! Each row of a batch becomes one JSON object whose keys are the batch's Arrow field names, in
//! field order. The document is never held in memory: rows are encoded into a reused buffer
//! that is handed to the writer every 64 KiB, so memory does not grow with the number of rows.
//!
//! # Value mapping
//!
//! | Arrow type | JSON |
//! |---|---|
//! | `Null` | `null` |
//! | `Boolean` | `true` / `false` |
//! | `Int*`, `UInt*` | number, all digits (`-9223372036854775808`, `18446744073709551615`) |
//! | `Float16/32/64` | number, shortest text that reads back to the same value (`0.1`, `1e300`, `-0.0`); **NaN and ±infinity are written as `null`**, which JSON has no other way to say |
//! | `Decimal32/64/128/256` | number with exactly the column's scale (`12.50`, `-0.005`; negative scales append zeros) |
//! | `Utf8`, `LargeUtf8`, `Utf8View` | string (escaping below) |
//! | `Binary`, `LargeBinary`, `BinaryView`, `FixedSizeBinary` | string, standard base64 with padding (RFC 4648 §4) |
//! | `Date32`, `Date64` | `"YYYY-MM-DD"` (`Date64` is floored to its day) |
//! | `Time32`, `Time64` | `"HH:MM:SS"`, plus `.fff`, `.ffffff` or `.fffffffff` when the fraction is not zero (the fewest digits that hold it) |
//! | `Timestamp` without zone | `"YYYY-MM-DDTHH:MM:SS[.fff]"`: naive, no offset |
//! | `Timestamp` with zone | RFC 3339 in the column's zone: `"2026-03-29T03:30:00+02:00"` for `Europe/Paris`; `Z` for `UTC`; fixed-offset labels (`+05:30`) are honoured |
//! | `Duration` | number of seconds, exact, with a fraction only when needed (`90`, `1.5`, `-0.000001`) |
//! | `Struct` | nested object |
//! | `List`, `LargeList`, `FixedSizeList` | array (null items are `null`) |
//! | `Map` | object; string keys as they are, numeric and boolean keys as their text (`"1"`) |
//! | `Dictionary` | the value its key points to |
//!
//! Other types (intervals, unions, run-end encoded arrays, list views) are refused with
//! [`ExportError::Encode`] naming the column. Years outside 0000–9999 use ISO 8601's expanded
//! form (`+10000-01-01`). Historical zone offsets with seconds are written `+00:09:21`.
//!
//! Strings escape `"`, `\` and control characters (`\n`, `\r`, `\t`, `\b`, `\f`, else
//! `\u00XX`), and U+2028/U+2029 as `\u2028`/`\u2029` so the output is also safe to embed in
//! JavaScript. All other text, including non-ASCII, is written as UTF-8 without escapes.
//!
//! With [`JsonSinkBuilder::explicit_nulls`] off, null members are left out of objects (top-level
//! rows, structs and maps); list items stay `null`, since arrays have no way to leave one out.
//!
//! # Examples
//!
//! A catalogue export with nested relations, as JSON Lines:
//!
//! ```
//! use std::sync::Arc;
//! use arrow_array::builder::{ListBuilder, StringBuilder};
//! use arrow_array::{ArrayRef, Decimal128Array, Int64Array, RecordBatch, StringArray, StructArray};
//! use arrow_schema::{DataType, Field};
//! use export_core::sink::Sink;
//! use export_core::sink::json::{JsonFormat, JsonSinkBuilder};
//!
//! let supplier = StructArray::from(vec![
//!     (
//!         Arc::new(Field::new("name", DataType::Utf8, false)),
//!         Arc::new(StringArray::from(vec!["Acme", "Globex"])) as ArrayRef,
//!     ),
//!     (
//!         Arc::new(Field::new("country", DataType::Utf8, true)),
//!         Arc::new(StringArray::from(vec![Some("FR"), None])) as ArrayRef,
//!     ),
//! ]);
//! let mut categories = ListBuilder::new(StringBuilder::new());
//! categories.values().append_value("tools");
//! categories.values().append_value("garden");
//! categories.append(true);
//! categories.append(true); // an empty list
//! let price = Decimal128Array::from(vec![1250, 999]).with_precision_and_scale(10, 2)?;
//!
//! let batch = RecordBatch::try_from_iter([
//!     ("id", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
//!     ("price", Arc::new(price) as ArrayRef),
//!     ("supplier", Arc::new(supplier) as ArrayRef),
//!     ("categories", Arc::new(categories.finish()) as ArrayRef),
//! ])?;
//!
//! let mut sink = JsonSinkBuilder::new()
//!     .format(JsonFormat::Lines)
//!     .build(Vec::new());
//! sink.write(&batch)?;
//! sink.finish()?;
//! assert_eq!(
//!     String::from_utf8(sink.into_inner()?)?,
//!     concat!(
//!         r#"{"id":1,"price":12.50,"supplier":{"name":"Acme","country":"FR"},"categories":["tools","garden"]}"#,
//!         "\n",
//!         r#"{"id":2,"price":9.99,"supplier":{"name":"Globex","country":null},"categories":[]}"#,
//!         "\n",
//!     )
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod encode;
mod text;

pub(crate) use self::text::{civil_from_days, push_shortest};

use std::io::Write;

use arrow_array::{Array, RecordBatch};
use arrow_schema::SchemaRef;

use self::encode::{Style, members, same_shape, write_object};
use crate::error::{ExportError, Result};
use crate::sink::parallel::{MIN_PARALLEL_ROWS, OrderedPool, default_threads, offset_row};
use crate::sink::{CountingWriter, Sink, Summary};

/// Bytes buffered before they are handed to the writer.
const FLUSH_AT: usize = 64 * 1024;

/// The layout of a JSON export.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum JsonFormat {
    /// One JSON array of objects: `[{...},{...}]`. An export without rows is `[]`.
    #[default]
    Array,
    /// JSON Lines (<https://jsonlines.org>): one object per line, each ending in `\n`. An export
    /// without rows is empty.
    Lines,
}

/// Options of a [`JsonSink`]; [`JsonSinkBuilder::build`] makes the sink.
///
/// # Examples
///
/// ```
/// use export_core::sink::json::{JsonFormat, JsonSinkBuilder};
/// let sink = JsonSinkBuilder::new()
///     .format(JsonFormat::Lines)
///     .explicit_nulls(false)
///     .build(std::io::sink());
/// # drop(sink);
/// ```
#[derive(Debug, Clone)]
pub struct JsonSinkBuilder {
    format: JsonFormat,
    pretty: bool,
    explicit_nulls: bool,
    threads: usize,
}

impl Default for JsonSinkBuilder {
    fn default() -> Self {
        JsonSinkBuilder::new()
    }
}

impl JsonSinkBuilder {
    /// A builder with the defaults: [`JsonFormat::Array`], compact, nulls written as `null`.
    pub fn new() -> JsonSinkBuilder {
        JsonSinkBuilder {
            format: JsonFormat::Array,
            pretty: false,
            explicit_nulls: true,
            threads: default_threads(),
        }
    }

    /// Sets the layout: one array of objects or JSON Lines.
    ///
    /// Default: [`JsonFormat::Array`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_array::{ArrayRef, Int32Array, RecordBatch};
    /// use export_core::sink::Sink;
    /// use export_core::sink::json::{JsonFormat, JsonSinkBuilder};
    ///
    /// let batch = RecordBatch::try_from_iter([
    ///     ("n", Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef),
    /// ])?;
    /// let mut sink = JsonSinkBuilder::new().format(JsonFormat::Lines).build(Vec::new());
    /// sink.write(&batch)?;
    /// sink.finish()?;
    /// assert_eq!(sink.into_inner()?, b"{\"n\":1}\n{\"n\":2}\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn format(mut self, format: JsonFormat) -> JsonSinkBuilder {
        self.format = format;
        self
    }

    /// Indents [`JsonFormat::Array`] output with two spaces per level, one member or item per
    /// line, `": "` after keys: the layout of `serde_json::to_writer_pretty`.
    ///
    /// Default: `false` (compact, no whitespace). Ignored for [`JsonFormat::Lines`], whose
    /// objects must each stay on one line.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_array::{ArrayRef, Int32Array, ListArray, RecordBatch, StringArray};
    /// use arrow_array::types::Int32Type;
    /// use export_core::sink::Sink;
    /// use export_core::sink::json::JsonSinkBuilder;
    ///
    /// let tags = ListArray::from_iter_primitive::<Int32Type, _, _>([
    ///     Some(vec![Some(7), Some(8)]),
    ///     Some(vec![]),
    /// ]);
    /// let batch = RecordBatch::try_from_iter([
    ///     ("name", Arc::new(StringArray::from(vec!["a", "b"])) as ArrayRef),
    ///     ("tags", Arc::new(tags) as ArrayRef),
    /// ])?;
    /// let mut sink = JsonSinkBuilder::new().pretty(true).build(Vec::new());
    /// sink.write(&batch)?;
    /// sink.finish()?;
    /// assert_eq!(
    ///     String::from_utf8(sink.into_inner()?)?,
    ///     r#"[
    ///   {
    ///     "name": "a",
    ///     "tags": [
    ///       7,
    ///       8
    ///     ]
    ///   },
    ///   {
    ///     "name": "b",
    ///     "tags": []
    ///   }
    /// ]"#
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pretty(mut self, pretty: bool) -> JsonSinkBuilder {
        self.pretty = pretty;
        self
    }

    /// Writes null members as `"key":null` (true) or leaves them out of their object (false).
    /// Applies to rows, structs and maps; list items are always written, `null` included.
    /// NaN and infinite floats count as null.
    ///
    /// Default: `true`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_array::{ArrayRef, Float64Array, Int32Array, RecordBatch};
    /// use export_core::sink::Sink;
    /// use export_core::sink::json::JsonSinkBuilder;
    ///
    /// let batch = RecordBatch::try_from_iter([
    ///     ("id", Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef),
    ///     ("score", Arc::new(Float64Array::from(vec![None, Some(f64::NAN)])) as ArrayRef),
    /// ])?;
    ///
    /// let mut sink = JsonSinkBuilder::new().build(Vec::new());
    /// sink.write(&batch)?;
    /// sink.finish()?;
    /// assert_eq!(sink.into_inner()?, br#"[{"id":1,"score":null},{"id":2,"score":null}]"#);
    ///
    /// let mut sink = JsonSinkBuilder::new().explicit_nulls(false).build(Vec::new());
    /// sink.write(&batch)?;
    /// sink.finish()?;
    /// assert_eq!(sink.into_inner()?, br#"[{"id":1},{"id":2}]"#);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn explicit_nulls(mut self, explicit_nulls: bool) -> JsonSinkBuilder {
        self.explicit_nulls = explicit_nulls;
        self
    }

    /// Threads that encode rows: batches of a few thousand rows or more are cut into row
    /// ranges encoded on this many worker threads, and written in order, so the output is byte
    /// for byte the same whatever the count. `1` encodes on the caller's thread only.
    ///
    /// Default: every core ([`crate::sink::default_threads`]); `0` counts as 1.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_array::{ArrayRef, Int64Array, RecordBatch};
    /// use export_core::sink::Sink;
    /// use export_core::sink::json::JsonSinkBuilder;
    ///
    /// let batch = RecordBatch::try_from_iter([
    ///     ("n", Arc::new(Int64Array::from_iter_values(0..100_000)) as ArrayRef),
    /// ])?;
    /// let write = |threads| -> export_core::Result<Vec<u8>> {
    ///     let mut sink = JsonSinkBuilder::new().threads(threads).build(Vec::new());
    ///     sink.write(&batch)?;
    ///     sink.finish()?;
    ///     sink.into_inner()
    /// };
    /// assert_eq!(write(1)?, write(3)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn threads(mut self, threads: usize) -> JsonSinkBuilder {
        self.threads = threads.max(1);
        self
    }

    /// Makes a sink writing to `writer`. Nothing is written until the first row or `finish`.
    ///
    /// The sink buffers up to 64 KiB itself, so `writer` needs no `BufWriter`.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::sink::Sink;
    /// use export_core::sink::json::JsonSinkBuilder;
    ///
    /// let mut sink = JsonSinkBuilder::new().build(Vec::new());
    /// let summary = sink.finish()?;
    /// assert_eq!((summary.rows, summary.bytes), (0, 2));
    /// assert_eq!(sink.into_inner()?, b"[]");
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn build<W: Write + Send>(&self, writer: W) -> JsonSink<W> {
        JsonSink {
            writer: CountingWriter::new(writer),
            buffer: Vec::with_capacity(FLUSH_AT + FLUSH_AT / 4),
            format: self.format,
            pretty: self.pretty && self.format == JsonFormat::Array,
            style: Style {
                explicit_nulls: self.explicit_nulls,
            },
            schema: None,
            rows: 0,
            finished: false,
            threads: self.threads,
            pool: None,
        }
    }
}

/// A [`Sink`] writing JSON or JSON Lines to any `io::Write`; made by [`JsonSinkBuilder`].
///
/// Write batches with [`Sink::write`], then call [`Sink::finish`] once, which closes the array
/// and flushes; [`JsonSink::into_inner`] gives the writer back.
///
/// Every batch must have the field names and types of the first one. If a write fails half-way
/// (an invalid value, an I/O error), the rows of that batch before the failing one may already
/// be written: discard the output, as the export pipeline does by publishing only finished files.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{ArrayRef, BooleanArray, RecordBatch, StringArray};
/// use export_core::sink::Sink;
/// use export_core::sink::json::JsonSinkBuilder;
///
/// let batch = RecordBatch::try_from_iter([
///     ("name", Arc::new(StringArray::from(vec!["Café \"Nuit\"\n", "x"])) as ArrayRef),
///     ("active", Arc::new(BooleanArray::from(vec![Some(true), None])) as ArrayRef),
/// ])?;
/// let mut sink = JsonSinkBuilder::new().build(Vec::new());
/// sink.write(&batch)?;
/// sink.write(&batch.slice(1, 1))?;
/// let summary = sink.finish()?;
/// assert_eq!(summary.rows, 3);
/// let json = String::from_utf8(sink.into_inner()?)?;
/// assert_eq!(
///     json,
///     r#"[{"name":"Café \"Nuit\"\n","active":true},{"name":"x","active":null},{"name":"x","active":null}]"#
/// );
/// assert_eq!(summary.bytes, json.len() as u64);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct JsonSink<W: Write> {
    writer: CountingWriter<W>,
    buffer: Vec<u8>,
    format: JsonFormat,
    pretty: bool,
    style: Style,
    schema: Option<SchemaRef>,
    rows: u64,
    finished: bool,
    threads: usize,
    /// The encoding threads, started by the first batch large enough to share.
    pool: Option<OrderedPool>,
}

impl<W: Write> JsonSink<W> {
    /// The writer, as it is: bytes still in the sink's buffer have not reached it yet.
    pub fn get_ref(&self) -> &W {
        self.writer.get_ref()
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Hands the buffered bytes to the writer, flushes it, and returns it.
    ///
    /// This does not close the document: call [`Sink::finish`] first, or a
    /// [`JsonFormat::Array`] output lacks its closing `]`.
    ///
    /// # Errors
    ///
    /// [`ExportError::Io`] when writing or flushing fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::sink::Sink;
    /// use export_core::sink::json::{JsonFormat, JsonSinkBuilder};
    ///
    /// let mut sink = JsonSinkBuilder::new().format(JsonFormat::Lines).build(Vec::new());
    /// sink.finish()?;
    /// assert!(sink.into_inner()?.is_empty());
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn into_inner(mut self) -> Result<W> {
        self.flush_buffer()?;
        self.writer.flush()?;
        Ok(self.writer.into_inner())
    }

    fn flush_buffer(&mut self) -> Result<()> {
        if !self.buffer.is_empty() {
            self.writer.write_all(&self.buffer)?;
            self.buffer.clear();
        }
        Ok(())
    }

    /// Checks `batch` against the first batch's schema (and remembers the first one).
    fn check_schema(&mut self, batch: &RecordBatch) -> Result<()> {
        let Some(first) = &self.schema else {
            self.schema = Some(batch.schema());
            return Ok(());
        };
        let schema = batch.schema_ref();
        if std::sync::Arc::ptr_eq(first, schema) {
            return Ok(());
        }
        for (index, expected) in first.fields().iter().enumerate() {
            match schema.fields().get(index) {
                Some(actual) if actual.name() == expected.name() => {
                    if !same_shape(expected.data_type(), actual.data_type()) {
                        return Err(ExportError::ColumnType {
                            column: expected.name().clone(),
                            expected: expected.data_type().to_string(),
                            actual: actual.data_type().to_string(),
                        });
                    }
                }
                _ => {
                    return Err(ExportError::MissingColumn {
                        column: expected.name().clone(),
                        expected: expected.data_type().to_string(),
                    });
                }
            }
        }
        if let Some(extra) = schema.fields().get(first.fields().len()) {
            return Err(ExportError::Encode {
                format: "json",
                reason: format!(
                    "column `{}` is not in the first batch's schema; every batch must have the same columns",
                    extra.name()
                ),
            });
        }
        Ok(())
    }

    fn write_rows<const PRETTY: bool>(&mut self, batch: &RecordBatch) -> Result<()> {
        let fields = batch.schema_ref().fields();
        let members = members(
            fields,
            batch.columns().iter().map(|c| c as &dyn Array),
            None,
        )?;
        let lines = self.format == JsonFormat::Lines;
        for row in 0..batch.num_rows() {
            let first = self.rows == 0;
            write_row::<PRETTY>(&members, row, lines, first, self.style, &mut self.buffer)?;
            self.rows += 1;
            if self.buffer.len() >= FLUSH_AT {
                self.flush_buffer()?;
            }
        }
        Ok(())
    }

    /// Writes the batch's rows on the encoding threads, in order.
    fn write_parallel(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut pool = match self.pool.take() {
            Some(pool) => pool,
            None => {
                let (lines, pretty, style) =
                    (self.format == JsonFormat::Lines, self.pretty, self.style);
                let format = move |slice: &RecordBatch, first: usize, buf: &mut Vec<u8>| {
                    if pretty {
                        encode_slice::<true>(lines, style, slice, first, buf)
                    } else {
                        encode_slice::<false>(lines, style, slice, first, buf)
                    }
                };
                OrderedPool::new(self.threads, std::sync::Arc::new(format))
            }
        };
        let flushed = self.flush_buffer();
        let (rows, result) = match flushed {
            Ok(()) => {
                let (writer, mut opening) = (&mut self.writer, self.rows == 0);
                pool.run(batch, |bytes| {
                    if opening {
                        // Workers start every array element with `,`: the first opens the array.
                        if let Some(b @ b',') = bytes.first_mut() {
                            *b = b'[';
                        }
                        opening = false;
                    }
                    // Writes stay at most 64 KiB, as on one thread.
                    for piece in bytes.chunks(FLUSH_AT) {
                        writer.write_all(piece)?;
                    }
                    Ok(())
                })
            }
            Err(e) => (0, Err(e)),
        };
        self.pool = Some(pool);
        self.rows += rows;
        result
    }
}

/// Appends one row: its array separator (`[` before the output's first row, else `,`) or its
/// line end, and the object. On error the buffer is left as it was, and the error names `row`.
#[inline]
fn write_row<const PRETTY: bool>(
    members: &[encode::Member<'_>],
    row: usize,
    lines: bool,
    first: bool,
    style: Style,
    buffer: &mut Vec<u8>,
) -> Result<()> {
    let start = buffer.len();
    if !lines {
        buffer.push(if first { b'[' } else { b',' });
        if PRETTY {
            buffer.extend_from_slice(b"\n  ");
        }
    }
    let depth = usize::from(PRETTY);
    if let Err(err) = write_object::<PRETTY>(members, row, depth, style, buffer) {
        buffer.truncate(start);
        return Err(match err {
            ExportError::InvalidValue { column, reason, .. } => ExportError::InvalidValue {
                column,
                row,
                reason,
            },
            other => other,
        });
    }
    if lines {
        buffer.push(b'\n');
    }
    Ok(())
}

/// Encodes every row of `slice` (rows `first..` of the caller's batch) on a worker thread;
/// array elements all start with `,` (the sink turns the output's first into `[`).
fn encode_slice<const PRETTY: bool>(
    lines: bool,
    style: Style,
    slice: &RecordBatch,
    first: usize,
    buffer: &mut Vec<u8>,
) -> (usize, Result<()>) {
    let members = match members(
        slice.schema_ref().fields(),
        slice.columns().iter().map(|c| c as &dyn Array),
        None,
    ) {
        Ok(members) => members,
        Err(e) => return (0, Err(e)),
    };
    for row in 0..slice.num_rows() {
        if let Err(err) = write_row::<PRETTY>(&members, row, lines, false, style, buffer) {
            return (row, Err(offset_row(err, first)));
        }
    }
    (slice.num_rows(), Ok(()))
}

impl<W: Write + Send> Sink for JsonSink<W> {
    /// Appends the rows of `batch`.
    ///
    /// # Errors
    ///
    /// - [`ExportError::SinkFinished`] after [`Sink::finish`];
    /// - [`ExportError::MissingColumn`] or [`ExportError::ColumnType`] naming the column when
    ///   the batch's fields differ from the first batch's ([`ExportError::Encode`] for an extra
    ///   column);
    /// - [`ExportError::Encode`] naming the column when its type has no JSON form;
    /// - [`ExportError::InvalidValue`] for a time or zoned timestamp out of range;
    /// - [`ExportError::Io`] when the writer fails.
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if self.finished {
            return Err(ExportError::SinkFinished);
        }
        self.check_schema(batch)?;
        if self.threads > 1 && batch.num_rows() >= MIN_PARALLEL_ROWS {
            return self.write_parallel(batch);
        }
        if self.pretty {
            self.write_rows::<true>(batch)
        } else {
            self.write_rows::<false>(batch)
        }
    }

    /// Closes the array (`]`, or `[]` when no row was written), writes the buffered bytes and
    /// flushes the writer. `bytes` in the summary counts everything the writer received.
    ///
    /// # Errors
    ///
    /// [`ExportError::SinkFinished`] when called twice; [`ExportError::Io`] when the writer
    /// fails.
    fn finish(&mut self) -> Result<Summary> {
        if self.finished {
            return Err(ExportError::SinkFinished);
        }
        self.finished = true;
        if self.format == JsonFormat::Array {
            let end: &[u8] = match (self.rows, self.pretty) {
                (0, _) => b"[]",
                (_, true) => b"\n]",
                (_, false) => b"]",
            };
            self.buffer.extend_from_slice(end);
        }
        self.flush_buffer()?;
        self.writer.flush()?;
        Ok(Summary {
            rows: self.rows,
            bytes: self.writer.count(),
            sheets: Vec::new(),
        })
    }
}
