//! CSV sink: Arrow record batches to delimited text, streaming, in any dialect.
//!
//! A [`CsvSinkBuilder`] holds the dialect (delimiter, quoting, header, BOM, null text, boolean
//! words, decimal separator, temporal formats, formula guard, compression), modelled on
//! `csv::WriterBuilder`; [`CsvSinkBuilder::build`] makes a [`CsvSink`] over any [`io::Write`].
//!
//! Each batch's columns are downcast once into typed accessors and each cell is formatted into a
//! reused buffer (integers with `itoa`, floats with `ryu`'s shortest round-trip text, dates by
//! hand), so memory stays flat whatever the number of rows.
//!
//! # Values
//!
//! | Arrow type | written as |
//! |---|---|
//! | Boolean | [`CsvSinkBuilder::bool_values`] (`true`/`false`) |
//! | integers | decimal digits |
//! | Float16/32/64 | shortest round-trip text (`0.1`, `1e300`, `-0.0`), `NaN`, `inf`, `-inf`; the decimal separator applies |
//! | Decimal32/64/128/256 | scaled, all `scale` digits kept (`12.50`); the decimal separator applies |
//! | Utf8, LargeUtf8, Utf8View | the text (formula guard applies) |
//! | Dictionary | its value, as that value's type |
//! | Date32, Date64 | `%Y-%m-%d` |
//! | Time32, Time64 | `%H:%M:%S`, with fractional seconds when not whole |
//! | Timestamp with zone | RFC 3339 in the column's zone: `2026-10-03T08:20:00+02:00` |
//! | Timestamp without zone | `%Y-%m-%dT%H:%M:%S`, with fractional seconds when not whole |
//! | Duration | `H:MM:SS` (hours unbounded, `-` when negative, fractional seconds when not whole) |
//! | Binary, LargeBinary, BinaryView, FixedSizeBinary | lower-case hex |
//! | Null | the null text |
//! | Struct, List, LargeList, FixedSizeList, Map | compact JSON (`{"a":1,"b":["x"]}`) |
//!
//! Other types (unions, intervals, run-end encoded arrays) are refused with
//! [`ExportError::Encode`] naming the column.

mod column;
mod text;

use std::io::{self, Write};

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};

use self::column::{Cell, CellFormat, Encoder, Formats};
use super::compress::CompressedWriter;
use super::parallel::default_threads;
use super::parallel::{MIN_PARALLEL_ROWS, OrderedPool, offset_row};
use super::{CountingWriter, Sink, Summary, is_formula_like};
use crate::error::{ExportError, Result};
use crate::request::Compression;

/// Bytes gathered before they are handed to the compressor or the output.
const FLUSH_AT: usize = 64 * 1024;

/// The UTF-8 byte-order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// When fields are put between double quotes. Inside quotes, a `"` is doubled.
///
/// # Examples
///
/// ```
/// use arrow_array::{Int64Array, RecordBatch, StringArray};
/// use export_core::sink::Sink;
/// use export_core::sink::csv::{CsvSinkBuilder, QuoteStyle};
/// use std::sync::Arc;
///
/// let batch = RecordBatch::try_from_iter([
///     ("n", Arc::new(Int64Array::from(vec![Some(1), None])) as _),
///     ("s", Arc::new(StringArray::from(vec!["a", ""])) as _),
/// ])?;
/// let write = |style| -> export_core::Result<String> {
///     let mut sink = CsvSinkBuilder::new().quote_style(style).build(Vec::new());
///     sink.write(&batch)?;
///     Ok(String::from_utf8(sink.into_inner()?).unwrap())
/// };
/// assert_eq!(write(QuoteStyle::Necessary)?, "n,s\n1,a\n,\n");
/// assert_eq!(write(QuoteStyle::Always)?, "\"n\",\"s\"\n\"1\",\"a\"\n\"\",\"\"\n");
/// assert_eq!(write(QuoteStyle::NonNumeric)?, "\"n\",\"s\"\n1,\"a\"\n,\"\"\n");
/// assert_eq!(write(QuoteStyle::Never)?, "n,s\n1,a\n,\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QuoteStyle {
    /// Quote a field only when it holds the delimiter, a `"`, a line feed or a carriage return
    /// (and the lone empty field of a one-column row, which would otherwise read as an empty
    /// line). The default.
    #[default]
    Necessary,
    /// Quote every field, empty ones and nulls included (the trip V2 dialect).
    Always,
    /// Quote every field that is not a number (text, booleans, dates, headers); nulls are left
    /// unquoted, so a null and an empty string stay distinguishable. Numbers are still quoted
    /// when they hold the delimiter (a `,` decimal separator with a `,` delimiter).
    NonNumeric,
    /// Never quote nor escape: the output is only readable back if no field holds the
    /// delimiter, a quote or a line break.
    Never,
}

/// Options of a [`CsvSink`], modelled on `csv::WriterBuilder`.
///
/// # Examples
///
/// The defaults: `,`, quotes when necessary, a header, `\n` line ends, `true`/`false`, `.`
/// decimals, ISO 8601 dates, formula guard on, no compression.
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
/// use export_core::sink::Sink;
/// use export_core::sink::csv::CsvSinkBuilder;
///
/// let batch = RecordBatch::try_from_iter([
///     ("id", Arc::new(Int64Array::from(vec![1, 2])) as _),
///     ("name", Arc::new(StringArray::from(vec![Some("Zoé, \"Z\""), None])) as _),
///     ("ok", Arc::new(BooleanArray::from(vec![true, false])) as _),
///     ("km", Arc::new(Float64Array::from(vec![12.5, 0.1])) as _),
/// ])?;
/// let mut sink = CsvSinkBuilder::new().build(Vec::new());
/// sink.write(&batch)?;
/// let summary = sink.finish()?;
/// assert_eq!(summary.rows, 2);
/// assert_eq!(
///     String::from_utf8(sink.into_inner()?)?,
///     "id,name,ok,km\n1,\"Zoé, \"\"Z\"\"\",true,12.5\n2,,false,0.1\n"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// The trip V2 dialect: `;`, every field quoted, `OUI`/`NON`, comma decimals.
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{BooleanArray, Float64Array, RecordBatch, StringArray};
/// use export_core::sink::Sink;
/// use export_core::sink::csv::{CsvSinkBuilder, QuoteStyle};
///
/// let batch = RecordBatch::try_from_iter([
///     ("journey_start_town", Arc::new(StringArray::from(vec![Some("Lyon"), None])) as _),
///     ("journey_start_lon", Arc::new(Float64Array::from(vec![4.835, -0.5])) as _),
///     ("driver_card", Arc::new(BooleanArray::from(vec![true, false])) as _),
/// ])?;
/// let mut sink = CsvSinkBuilder::new()
///     .delimiter(b';')
///     .quote_style(QuoteStyle::Always)
///     .bool_values("OUI", "NON")
///     .decimal_separator(b',')
///     .build(Vec::new());
/// sink.write(&batch)?;
/// assert_eq!(
///     String::from_utf8(sink.into_inner()?)?,
///     "\"journey_start_town\";\"journey_start_lon\";\"driver_card\"\n\
///      \"Lyon\";\"4,835\";\"OUI\"\n\
///      \"\";\"-0,5\";\"NON\"\n"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct CsvSinkBuilder {
    delimiter: u8,
    quote_style: QuoteStyle,
    has_headers: bool,
    bom: bool,
    crlf: bool,
    null_value: String,
    true_text: String,
    false_text: String,
    decimal_separator: u8,
    timestamp_format: Option<String>,
    date_format: Option<String>,
    time_format: Option<String>,
    formula_guard: bool,
    compression: Compression,
    archive_entry_name: String,
    zip64: bool,
    threads: usize,
}

impl Default for CsvSinkBuilder {
    fn default() -> Self {
        CsvSinkBuilder::new()
    }
}

impl CsvSinkBuilder {
    /// A builder with the default dialect (see the type's documentation).
    pub fn new() -> CsvSinkBuilder {
        CsvSinkBuilder {
            delimiter: b',',
            quote_style: QuoteStyle::Necessary,
            has_headers: true,
            bom: false,
            crlf: false,
            null_value: String::new(),
            true_text: "true".into(),
            false_text: "false".into(),
            decimal_separator: b'.',
            timestamp_format: None,
            date_format: None,
            time_format: None,
            formula_guard: true,
            compression: Compression::None,
            archive_entry_name: "export.csv".into(),
            zip64: false,
            threads: default_threads(),
        }
    }

    /// The field delimiter. Default `b','`.
    ///
    /// A delimiter of `"`, `\n` or `\r` makes [`CsvSink::write`] fail with
    /// [`ExportError::InvalidRequest`] on field `delimiter`.
    pub fn delimiter(&mut self, delimiter: u8) -> &mut Self {
        self.delimiter = delimiter;
        self
    }

    /// When fields are quoted. Default [`QuoteStyle::Necessary`].
    pub fn quote_style(&mut self, style: QuoteStyle) -> &mut Self {
        self.quote_style = style;
        self
    }

    /// Whether a header row of the batch's Arrow field names is written. Default `true`.
    pub fn has_headers(&mut self, yes: bool) -> &mut Self {
        self.has_headers = yes;
        self
    }

    /// Whether a UTF-8 byte-order mark starts the output (Excel needs it to read UTF-8).
    /// Default `false`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_array::{RecordBatch, StringArray};
    /// use export_core::sink::Sink;
    /// use export_core::sink::csv::CsvSinkBuilder;
    ///
    /// let batch = RecordBatch::try_from_iter([
    ///     ("ville", Arc::new(StringArray::from(vec!["Besançon"])) as _),
    /// ])?;
    /// let mut sink = CsvSinkBuilder::new().bom(true).build(Vec::new());
    /// sink.write(&batch)?;
    /// let bytes = sink.into_inner()?;
    /// assert_eq!(bytes, "\u{feff}ville\nBesançon\n".as_bytes());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bom(&mut self, yes: bool) -> &mut Self {
        self.bom = yes;
        self
    }

    /// Whether rows end with `\r\n` (RFC 4180) instead of `\n`. Default `false` (`\n`).
    pub fn crlf(&mut self, yes: bool) -> &mut Self {
        self.crlf = yes;
        self
    }

    /// The text written for nulls. Default empty.
    pub fn null_value(&mut self, text: impl Into<String>) -> &mut Self {
        self.null_value = text.into();
        self
    }

    /// The texts written for booleans. Default `true` and `false` (trip V2 uses `OUI`/`NON`).
    pub fn bool_values(
        &mut self,
        true_text: impl Into<String>,
        false_text: impl Into<String>,
    ) -> &mut Self {
        self.true_text = true_text.into();
        self.false_text = false_text.into();
        self
    }

    /// The decimal separator of floats and decimals. Default `b'.'` (trip V2 uses `b','`; with
    /// a `,` delimiter such numbers are quoted unless the style is [`QuoteStyle::Never`]).
    /// Nested JSON text always uses `.`.
    pub fn decimal_separator(&mut self, separator: u8) -> &mut Self {
        self.decimal_separator = separator;
        self
    }

    /// A strftime format for timestamps, or `None` for the default: RFC 3339 in the column's
    /// own zone (`2026-10-03T08:20:00+02:00`) when the column has a zone, else
    /// `%Y-%m-%dT%H:%M:%S`; fractional seconds only when not whole. Default `None`.
    ///
    /// An invalid format, or a zone field (`%z`, `%Z`) on a column without zone, makes
    /// [`CsvSink::write`] fail with [`ExportError::InvalidRequest`] on field `timestamp_format`.
    pub fn timestamp_format(&mut self, format: Option<String>) -> &mut Self {
        self.timestamp_format = format;
        self
    }

    /// A strftime format for Date32/Date64, or `None` for `%Y-%m-%d`. Default `None`.
    pub fn date_format(&mut self, format: Option<String>) -> &mut Self {
        self.date_format = format;
        self
    }

    /// A strftime format for Time32/Time64, or `None` for `%H:%M:%S` (fractional seconds only
    /// when not whole). Default `None`.
    pub fn time_format(&mut self, format: Option<String>) -> &mut Self {
        self.time_format = format;
        self
    }

    /// Whether text cells (strings and header labels) that a spreadsheet would run as a formula
    /// (starting with `=`, `+`, `-`, `@`, tab or carriage return) are prefixed with `'`.
    /// Numbers, dates and other typed values are never touched. Default `true`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_array::{Int64Array, RecordBatch, StringArray};
    /// use export_core::sink::Sink;
    /// use export_core::sink::csv::CsvSinkBuilder;
    ///
    /// let batch = RecordBatch::try_from_iter([
    ///     ("note", Arc::new(StringArray::from(vec!["=1+1", "-x", "ok"])) as _),
    ///     ("n", Arc::new(Int64Array::from(vec![-1, 2, 3])) as _),
    /// ])?;
    /// let mut guarded = CsvSinkBuilder::new().build(Vec::new());
    /// guarded.write(&batch)?;
    /// assert_eq!(String::from_utf8(guarded.into_inner()?)?, "note,n\n'=1+1,-1\n'-x,2\nok,3\n");
    ///
    /// let mut raw = CsvSinkBuilder::new().formula_guard(false).build(Vec::new());
    /// raw.write(&batch)?;
    /// assert_eq!(String::from_utf8(raw.into_inner()?)?, "note,n\n=1+1,-1\n-x,2\nok,3\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn formula_guard(&mut self, yes: bool) -> &mut Self {
        self.formula_guard = yes;
        self
    }

    /// Compression around the CSV text: none, gzip, or a zip archive with one entry named by
    /// [`CsvSinkBuilder::archive_entry_name`]. Default [`Compression::None`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use std::sync::Arc;
    /// use arrow_array::{Int32Array, RecordBatch};
    /// use export_core::request::Compression;
    /// use export_core::sink::Sink;
    /// use export_core::sink::csv::CsvSinkBuilder;
    ///
    /// let batch = RecordBatch::try_from_iter([("n", Arc::new(Int32Array::from(vec![7])) as _)])?;
    /// let mut sink = CsvSinkBuilder::new().compression(Compression::Gzip).build(Vec::new());
    /// sink.write(&batch)?;
    /// let summary = sink.finish()?;
    /// let gz = sink.into_inner()?;
    /// assert_eq!(summary.bytes, gz.len() as u64);
    ///
    /// let mut text = String::new();
    /// flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut text)?;
    /// assert_eq!(text, "n\n7\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn compression(&mut self, compression: Compression) -> &mut Self {
        self.compression = compression;
        self
    }

    /// The name of the file inside a zip archive (and in the gzip header). Default
    /// `export.csv`. An empty name makes the first write fail with [`ExportError::Io`] for zip.
    pub fn archive_entry_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.archive_entry_name = name.into();
        self
    }

    /// Whether a zip entry is written with zip64 sizes, so it may exceed 4 GiB (every current
    /// unzip tool reads zip64). Default `false`: a zip entry past 4 GiB fails with
    /// [`ExportError::Io`].
    pub fn zip64(&mut self, yes: bool) -> &mut Self {
        self.zip64 = yes;
        self
    }

    /// Threads that format rows: batches of a few thousand rows or more are cut into row
    /// ranges formatted on this many worker threads, and written in order, so the output is
    /// byte for byte the same whatever the count. `1` formats on the caller's thread only.
    /// Default: every core ([`crate::sink::default_threads`]); `0` counts as 1.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_array::{Int64Array, RecordBatch};
    /// use export_core::sink::Sink;
    /// use export_core::sink::csv::CsvSinkBuilder;
    ///
    /// let batch = RecordBatch::try_from_iter([
    ///     ("n", Arc::new(Int64Array::from_iter_values(0..100_000)) as _),
    /// ])?;
    /// let write = |threads| -> export_core::Result<Vec<u8>> {
    ///     let mut sink = CsvSinkBuilder::new().threads(threads).build(Vec::new());
    ///     sink.write(&batch)?;
    ///     sink.into_inner()
    /// };
    /// assert_eq!(write(1)?, write(4)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn threads(&mut self, threads: usize) -> &mut Self {
        self.threads = threads.max(1);
        self
    }

    /// Makes a sink writing to `writer`. Nothing is written until the first
    /// [`CsvSink::write`], [`CsvSink::write_header`] or [`Sink::finish`]; buffering is internal
    /// (64 KiB), so `writer` need not be buffered.
    ///
    /// Option errors (an invalid delimiter or strftime format) are reported by the first
    /// write or finish, as [`ExportError::InvalidRequest`].
    pub fn build<W: Write + Send>(&self, writer: W) -> CsvSink<W> {
        let mut config_error = None;
        if matches!(self.delimiter, b'"' | b'\n' | b'\r') {
            config_error = Some((
                "delimiter",
                format!("{:?} cannot be a delimiter", self.delimiter as char),
            ));
        }
        let mut parse = |field: &'static str, format: &Option<String>| {
            format.as_deref().and_then(|f| match text::parse_format(f) {
                Ok(items) => Some(items),
                Err(reason) => {
                    config_error.get_or_insert((field, reason));
                    None
                }
            })
        };
        let timestamp = parse("timestamp_format", &self.timestamp_format);
        let date = parse("date_format", &self.date_format);
        let time = parse("time_format", &self.time_format);
        let formats = Formats::new(CellFormat {
            true_text: self.true_text.clone(),
            false_text: self.false_text.clone(),
            decimal: self.decimal_separator,
            timestamp,
            date,
            time,
        });
        let mut needs_quote = [false; 256];
        for b in [self.delimiter, b'"', b'\n', b'\r'] {
            needs_quote[b as usize] = true;
        }
        // Bytes a formatted number can hold: digits, sign, exponent, `NaN`, `inf` and the
        // decimal separator. When none needs quoting, numbers skip the scan.
        let plain_numbers = !b"0123456789+-.eENaninf"
            .iter()
            .chain([&self.decimal_separator])
            .any(|b| needs_quote[*b as usize]);
        let plain_datetimes = matches!(self.quote_style, QuoteStyle::Necessary | QuoteStyle::Never)
            && !b"0123456789-:T+.".iter().any(|b| needs_quote[*b as usize]);
        CsvSink {
            dialect: Dialect {
                delimiter: self.delimiter,
                style: self.quote_style,
                terminator: if self.crlf { b"\r\n" } else { b"\n" },
                null: self.null_value.clone().into_bytes(),
                guard: self.formula_guard,
                needs_quote,
                plain_numbers,
                plain_datetimes,
            },
            formats,
            has_headers: self.has_headers,
            bom: self.bom,
            compression: self.compression,
            entry_name: self.archive_entry_name.clone(),
            zip64: self.zip64,
            threads: self.threads,
            pool: None,
            config_error,
            state: State::Pending(writer),
            schema: None,
            header_done: false,
            leading: !self.bom,
            rows: 0,
            buf: Vec::with_capacity(FLUSH_AT + 4096),
            scratch: Vec::with_capacity(256),
            summary: None,
        }
    }
}

/// The quoting-related part of the dialect.
#[derive(Clone)]
struct Dialect {
    delimiter: u8,
    style: QuoteStyle,
    terminator: &'static [u8],
    null: Vec<u8>,
    guard: bool,
    needs_quote: [bool; 256],
    /// True when no byte of a formatted number needs quoting (the delimiter is not a digit,
    /// sign, dot, letter of `NaN`/`inf`/`e`, or the decimal separator).
    plain_numbers: bool,
    /// True when default-format date-times (`2026-10-03T08:20:00.5+02:00`) are never quoted:
    /// quoting only when necessary (or never), and none of their bytes is special.
    plain_datetimes: bool,
}

impl Dialect {
    #[inline]
    fn special(&self, bytes: &[u8]) -> bool {
        bytes.iter().any(|b| self.needs_quote[*b as usize])
    }

    /// Appends one field. `lone` is true when the field is the only one of its row.
    #[inline]
    fn field(&self, out: &mut Vec<u8>, cell: Cell<'_>, scratch: &[u8], lone: bool) {
        if matches!(cell, Cell::Number) && self.plain_numbers && self.style != QuoteStyle::Always {
            // Never empty, never special: the common case, without the scan.
            out.extend_from_slice(scratch);
            return;
        }
        let (bytes, numeric, prefix): (&[u8], bool, bool) = match cell {
            Cell::Null => (&self.null, true, false),
            Cell::Number => (scratch, true, false),
            Cell::Bool | Cell::Formatted => (scratch, false, false),
            Cell::Text(text) => (text.as_bytes(), false, self.guard && is_formula_like(text)),
        };
        let quote = match self.style {
            QuoteStyle::Always => true,
            QuoteStyle::Never => false,
            QuoteStyle::NonNumeric if !numeric => true,
            QuoteStyle::NonNumeric | QuoteStyle::Necessary => {
                // The guard's `'` is part of the field: with `'` as the delimiter it must be
                // quoted too (found by the `csv_roundtrip` fuzz target).
                self.special(bytes)
                    || (prefix && self.needs_quote[b'\'' as usize])
                    || (lone && bytes.is_empty() && !prefix)
            }
        };
        if !quote {
            if prefix {
                out.push(b'\'');
            }
            out.extend_from_slice(bytes);
            return;
        }
        out.push(b'"');
        if prefix {
            out.push(b'\'');
        }
        let mut rest = bytes;
        while let Some(i) = rest.iter().position(|b| *b == b'"') {
            out.extend_from_slice(&rest[..=i]);
            out.push(b'"');
            rest = &rest[i + 1..];
        }
        out.extend_from_slice(rest);
        out.push(b'"');
    }
}

enum State<W: Write> {
    /// Nothing written yet.
    Pending(W),
    /// The output is open (BOM written).
    Open(CompressedWriter<CountingWriter<W>>),
    /// Finished: the output is complete.
    Finished(W),
    /// The writer was lost to an error while opening or finishing.
    Broken,
}

/// A [`Sink`] writing CSV to `W`. Made by [`CsvSinkBuilder::build`].
///
/// The header row (the first batch's Arrow field names) is written with the first batch, even
/// an empty one. With no batch at all, [`Sink::finish`] writes only the BOM (when asked for) and
/// nothing else, since the columns are unknown; call [`CsvSink::write_header`] first to get a
/// header-only file. Every later batch must have the first one's column names and types.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Int64Array, RecordBatch};
/// use export_core::sink::Sink;
/// use export_core::sink::csv::CsvSink;
///
/// let batch = RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from(vec![1, 2])) as _)])?;
/// let mut sink = CsvSink::new(Vec::new());
/// sink.write(&batch)?;
/// sink.write(&batch.slice(1, 1))?;
/// assert_eq!(String::from_utf8(sink.into_inner()?)?, "n\n1\n2\n2\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct CsvSink<W: Write> {
    dialect: Dialect,
    formats: Formats,
    has_headers: bool,
    bom: bool,
    compression: Compression,
    entry_name: String,
    zip64: bool,
    threads: usize,
    /// The formatting threads, started by the first batch large enough to share.
    pool: Option<OrderedPool>,
    config_error: Option<(&'static str, String)>,
    state: State<W>,
    schema: Option<SchemaRef>,
    header_done: bool,
    /// True until the first field of the output is written, when no BOM precedes it.
    leading: bool,
    rows: u64,
    buf: Vec<u8>,
    scratch: Vec<u8>,
    summary: Option<Summary>,
}

impl<W: Write> std::fmt::Debug for CsvSink<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvSink")
            .field("delimiter", &(self.dialect.delimiter as char))
            .field("quote_style", &self.dialect.style)
            .field("compression", &self.compression)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl<W: Write + Send> CsvSink<W> {
    /// A sink with the default dialect ([`CsvSinkBuilder::new`]).
    pub fn new(writer: W) -> CsvSink<W> {
        CsvSinkBuilder::new().build(writer)
    }

    /// Finishes the output if not done yet, and returns the writer (after the gzip trailer or
    /// zip directory).
    ///
    /// # Errors
    ///
    /// As [`Sink::finish`]; [`ExportError::Encode`] when an earlier failure while opening or
    /// finishing the output lost the writer.
    pub fn into_inner(mut self) -> Result<W> {
        if !matches!(self.state, State::Finished(_) | State::Broken) {
            self.finish()?;
        }
        match std::mem::replace(&mut self.state, State::Broken) {
            State::Finished(w) => Ok(w),
            _ => Err(ExportError::Encode {
                format: "csv",
                reason: "the output writer was lost after an earlier error".into(),
            }),
        }
    }
}

impl<W: Write> CsvSink<W> {
    /// Data rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Fixes the columns and writes the header row now (unless
    /// [`CsvSinkBuilder::has_headers`] is off), so that an export with no batch still has a
    /// header. Calling it again, or writing batches after it, requires the same columns; the
    /// header is written only once.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] or [`ExportError::ColumnType`] when `schema` differs from
    /// the columns already fixed; [`ExportError::Io`] when writing fails;
    /// [`ExportError::SinkFinished`] after finish.
    ///
    /// # Examples
    ///
    /// ```
    /// use arrow_schema::{DataType, Field, Schema};
    /// use export_core::sink::Sink;
    /// use export_core::sink::csv::CsvSink;
    ///
    /// let schema = Schema::new(vec![
    ///     Field::new("journey_id", DataType::Int64, false),
    ///     Field::new("trip_id", DataType::Utf8, true),
    /// ]);
    /// let mut sink = CsvSink::new(Vec::new());
    /// sink.write_header(&schema)?;
    /// assert_eq!(sink.finish()?.rows, 0);
    /// assert_eq!(String::from_utf8(sink.into_inner()?)?, "journey_id,trip_id\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_header(&mut self, schema: &Schema) -> Result<()> {
        self.check_usable()?;
        self.check_schema(schema)?;
        if self.schema.is_none() {
            self.schema = Some(std::sync::Arc::new(schema.clone()));
        }
        self.open()?;
        self.header(schema)?;
        self.flush_if_full()
    }

    fn check_usable(&self) -> Result<()> {
        if self.summary.is_some() || matches!(self.state, State::Finished(_)) {
            return Err(ExportError::SinkFinished);
        }
        if let Some((field, reason)) = &self.config_error {
            return Err(ExportError::request(*field, reason.clone()));
        }
        Ok(())
    }

    /// Checks `schema` against the first batch's (or the one given to `write_header`).
    fn check_schema(&self, schema: &Schema) -> Result<()> {
        let Some(expected) = &self.schema else {
            return Ok(());
        };
        let (want, got) = (expected.fields(), schema.fields());
        for (i, (w, g)) in want.iter().zip(got.iter()).enumerate() {
            if w.name() != g.name() {
                return Err(ExportError::request(
                    "batch",
                    format!(
                        "column {} is `{}`, but the first batch had `{}` there",
                        i + 1,
                        g.name(),
                        w.name()
                    ),
                ));
            }
            if w.data_type() != g.data_type() {
                return Err(ExportError::ColumnType {
                    column: g.name().clone(),
                    expected: w.data_type().to_string(),
                    actual: g.data_type().to_string(),
                });
            }
        }
        if want.len() != got.len() {
            let names = |fs: &arrow_schema::Fields, from: usize| {
                fs.iter()
                    .skip(from)
                    .map(|f| format!("`{}`", f.name()))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let reason = if got.len() > want.len() {
                format!(
                    "the batch has extra columns {} that the first batch did not have",
                    names(got, want.len())
                )
            } else {
                format!(
                    "the batch lacks columns {} of the first batch",
                    names(want, got.len())
                )
            };
            return Err(ExportError::request("batch", reason));
        }
        Ok(())
    }

    /// Opens the output on first use: compression, then the BOM.
    fn open(&mut self) -> Result<()> {
        if let State::Pending(_) = self.state {
            let State::Pending(w) = std::mem::replace(&mut self.state, State::Broken) else {
                return Ok(());
            };
            let counting = CountingWriter::new(w);
            let opened = match self.compression {
                Compression::Zip => CompressedWriter::zip(counting, &self.entry_name, self.zip64),
                other => CompressedWriter::new(counting, other, &self.entry_name),
            };
            let writer = opened.map_err(|e| match e.kind() {
                io::ErrorKind::InvalidInput => {
                    ExportError::request("archive_entry_name", e.to_string())
                }
                _ => ExportError::from(e),
            })?;
            self.state = State::Open(writer);
            if self.bom {
                self.buf.extend_from_slice(BOM);
            }
        }
        Ok(())
    }

    fn header(&mut self, schema: &Schema) -> Result<()> {
        if self.header_done {
            return Ok(());
        }
        self.header_done = true;
        if !self.has_headers {
            return Ok(());
        }
        let lone = schema.fields().len() == 1;
        for (i, field) in schema.fields().iter().enumerate() {
            if i > 0 {
                self.buf.push(self.dialect.delimiter);
            }
            self.dialect
                .field(&mut self.buf, Cell::Text(field.name()), &[], lone);
        }
        self.buf.extend_from_slice(self.dialect.terminator);
        self.quote_leading_bom(0);
        Ok(())
    }

    /// Quotes the output's first field when it starts with U+FEFF: readers (the `csv` crate,
    /// Excel) take those bytes at the start of a file for a byte-order mark and drop them (found
    /// by the `csv_roundtrip` fuzz target). An unquoted field holds no quote, delimiter or line
    /// break, so putting it between quotes needs no escaping. `start` is where the row begins in
    /// the buffer.
    fn quote_leading_bom(&mut self, start: usize) {
        if !std::mem::take(&mut self.leading) || self.dialect.style == QuoteStyle::Never {
            return;
        }
        let row = &self.buf[start..];
        if !row.starts_with(BOM) {
            return;
        }
        let end = start
            + row
                .iter()
                .position(|b| *b == self.dialect.delimiter || self.dialect.terminator[0] == *b)
                .unwrap_or(row.len());
        self.buf.insert(end, b'"');
        self.buf.insert(start, b'"');
    }

    fn flush_buf(&mut self) -> Result<()> {
        if let State::Open(w) = &mut self.state {
            w.write_all(&self.buf)?;
        }
        self.buf.clear();
        Ok(())
    }

    #[inline]
    fn flush_if_full(&mut self) -> Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.flush_buf()?;
        }
        Ok(())
    }

    /// Writes the batch's rows through `encoders`. A cell that fails leaves no partial row: the
    /// rows before it are written, the failing row and the rest are not.
    fn rows_of(&mut self, batch: &RecordBatch, encoders: &[Encoder<'_>]) -> Result<()> {
        let lone = encoders.len() == 1;
        for row in 0..batch.num_rows() {
            let row_start = self.buf.len();
            if let Err(err) = self.row(row, encoders, lone) {
                self.buf.truncate(row_start);
                return Err(err);
            }
            if self.leading {
                self.quote_leading_bom(row_start);
            }
            self.rows += 1;
            if self.buf.len() >= FLUSH_AT {
                self.flush_buf()?;
            }
        }
        Ok(())
    }

    #[inline]
    fn row(&mut self, row: usize, encoders: &[Encoder<'_>], lone: bool) -> Result<()> {
        let (buf, scratch) = (&mut self.buf, &mut self.scratch);
        write_row(
            &self.dialect,
            &self.formats,
            encoders,
            row,
            lone,
            buf,
            scratch,
        )
    }

    /// Writes the batch's rows on the formatting threads, in order.
    fn rows_parallel(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut pool = match self.pool.take() {
            Some(pool) => pool,
            None => {
                let (dialect, formats) = (self.dialect.clone(), self.formats.clone());
                let format = move |slice: &RecordBatch, first: usize, buf: &mut Vec<u8>| {
                    format_slice(&dialect, &formats, slice, first, buf)
                };
                OrderedPool::new(self.threads, std::sync::Arc::new(format))
            }
        };
        // The header and BOM go first.
        let flushed = self.flush_buf();
        let (rows, result) = match flushed {
            Ok(()) => {
                let state = &mut self.state;
                pool.run(batch, |bytes| match state {
                    State::Open(w) => Ok(w.write_all(bytes)?),
                    _ => Ok(()),
                })
            }
            Err(e) => (0, Err(e)),
        };
        self.pool = Some(pool);
        self.rows += rows;
        result
    }
}

/// Appends one row (without flushing).
#[inline]
fn write_row(
    dialect: &Dialect,
    formats: &Formats,
    encoders: &[Encoder<'_>],
    row: usize,
    lone: bool,
    buf: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
) -> Result<()> {
    let direct = dialect.plain_numbers && dialect.style != QuoteStyle::Always;
    for (i, enc) in encoders.iter().enumerate() {
        if i > 0 {
            buf.push(dialect.delimiter);
        }
        if direct && enc.push_number(row, formats.csv.decimal, buf) {
            continue;
        }
        if dialect.plain_datetimes && enc.push_plain_timestamp(row, &formats.csv, buf) {
            continue;
        }
        let cell = enc.cell(row, formats, false, scratch)?;
        dialect.field(buf, cell, scratch, lone);
    }
    buf.extend_from_slice(dialect.terminator);
    Ok(())
}

/// Formats every row of `slice` (rows `first..` of the caller's batch) on a worker thread.
fn format_slice(
    dialect: &Dialect,
    formats: &Formats,
    slice: &RecordBatch,
    first: usize,
    buf: &mut Vec<u8>,
) -> (usize, Result<()>) {
    let schema = slice.schema();
    let encoders = match slice
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| Encoder::new(c.as_ref(), f.name()))
        .collect::<Result<Vec<_>>>()
    {
        Ok(encoders) => encoders,
        Err(e) => return (0, Err(e)),
    };
    let lone = encoders.len() == 1;
    let mut scratch = Vec::with_capacity(256);
    for row in 0..slice.num_rows() {
        let start = buf.len();
        if let Err(err) = write_row(dialect, formats, &encoders, row, lone, buf, &mut scratch) {
            buf.truncate(start);
            return (row, Err(offset_row(err, first)));
        }
    }
    (slice.num_rows(), Ok(()))
}

impl<W: Write + Send> Sink for CsvSink<W> {
    /// Writes the batch's rows (and the header before the first batch).
    ///
    /// A batch refused for its schema or a column type writes nothing. A value that fails
    /// (a date out of range) stops the batch at that row: earlier rows are written.
    ///
    /// # Errors
    ///
    /// - [`ExportError::SinkFinished`] after [`Sink::finish`].
    /// - [`ExportError::InvalidRequest`] for an invalid builder option (delimiter, strftime
    ///   format), or when the batch's column names differ from the first batch's.
    /// - [`ExportError::ColumnType`] when a column's type differs from the first batch's.
    /// - [`ExportError::Encode`] naming the column when its type cannot be written.
    /// - [`ExportError::InvalidValue`] for a date or time outside chrono's range.
    /// - [`ExportError::Io`] when the writer fails.
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.check_usable()?;
        let schema = batch.schema();
        self.check_schema(&schema)?;
        // Downcast every column before writing anything, so an unsupported type writes nothing.
        let encoders = batch
            .columns()
            .iter()
            .zip(schema.fields())
            .map(|(c, f)| Encoder::new(c.as_ref(), f.name()))
            .collect::<Result<Vec<_>>>()?;
        self.open()?;
        self.header(&schema)?;
        if self.schema.is_none() {
            self.schema = Some(schema.clone());
        }
        if self.threads > 1 && batch.num_rows() >= MIN_PARALLEL_ROWS {
            drop(encoders);
            return self.rows_parallel(batch);
        }
        self.rows_of(batch, &encoders)?;
        self.flush_if_full()
    }

    /// Flushes, completes the compression, and reports rows and bytes written (after
    /// compression). With no batch and no [`CsvSink::write_header`], only the BOM is written.
    ///
    /// # Errors
    ///
    /// [`ExportError::SinkFinished`] when called twice; [`ExportError::Io`] when the writer
    /// fails; [`ExportError::InvalidRequest`] for an invalid builder option.
    fn finish(&mut self) -> Result<Summary> {
        self.check_usable()?;
        self.open()?;
        self.flush_buf()?;
        let State::Open(w) = std::mem::replace(&mut self.state, State::Broken) else {
            return Err(ExportError::SinkFinished);
        };
        let counting = w.finish()?;
        let bytes = counting.count();
        self.state = State::Finished(counting.into_inner());
        let summary = Summary {
            rows: self.rows,
            bytes,
            sheets: Vec::new(),
        };
        self.summary = Some(summary.clone());
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Int32Array, StringArray};
    use std::sync::Arc;

    fn one_col(values: Vec<Option<&str>>) -> RecordBatch {
        RecordBatch::try_from_iter([("c", Arc::new(StringArray::from(values)) as ArrayRef)])
            .unwrap()
    }

    #[test]
    fn lone_empty_field_is_quoted() {
        let mut sink = CsvSink::new(Vec::new());
        sink.write(&one_col(vec![Some(""), None, Some("x")]))
            .unwrap();
        let out = String::from_utf8(sink.into_inner().unwrap()).unwrap();
        assert_eq!(out, "c\n\"\"\n\"\"\nx\n");
    }

    #[test]
    fn invalid_options_are_reported() {
        let mut sink = CsvSinkBuilder::new().delimiter(b'"').build(Vec::new());
        let err = sink.write(&one_col(vec![Some("a")])).unwrap_err();
        assert_eq!(err.code(), "INVALID_REQUEST");
        let mut sink = CsvSinkBuilder::new()
            .date_format(Some("%Q".into()))
            .build(Vec::new());
        let err = sink.finish().unwrap_err();
        assert!(err.to_string().contains("date_format"), "{err}");
    }

    #[test]
    fn crlf_and_null_text() {
        let batch = RecordBatch::try_from_iter([
            (
                "a",
                Arc::new(Int32Array::from(vec![Some(1), None])) as ArrayRef,
            ),
            (
                "b",
                Arc::new(StringArray::from(vec![Some("x"), None])) as ArrayRef,
            ),
        ])
        .unwrap();
        let mut sink = CsvSinkBuilder::new()
            .crlf(true)
            .null_value("NULL")
            .build(Vec::new());
        sink.write(&batch).unwrap();
        let out = String::from_utf8(sink.into_inner().unwrap()).unwrap();
        assert_eq!(out, "a,b\r\n1,x\r\nNULL,NULL\r\n");
    }

    #[test]
    fn big_output_is_flushed_in_chunks() {
        let values: Vec<Option<&str>> = (0..50_000).map(|_| Some("abcdefgh")).collect();
        let mut sink = CsvSink::new(Vec::new());
        sink.write(&one_col(values)).unwrap();
        let summary = sink.finish().unwrap();
        assert_eq!(summary.rows, 50_000);
        assert_eq!(summary.bytes, 2 + 50_000 * 9);
    }
}
