//! XLSX sink: Arrow batches to an Excel workbook, in constant memory.
//!
//! Built on `rust_xlsxwriter`'s constant-memory worksheets: each row goes to a temporary file as
//! soon as the next row starts, so memory stays flat whatever the row count; the workbook is
//! zipped into the writer by [`Sink::finish`].
//!
//! # Sheets
//!
//! Sheets are driven by batches. A batch's schema metadata [`META_SHEET`] (`export:sheet`) names
//! its sheet (batches without it go to [`XlsxSinkBuilder::sheet_name`]); when the name changes a
//! new sheet starts, so a products/suppliers/categories workbook is three runs of batches. Coming
//! back to an earlier sheet is an error. A sheet holding [`XlsxSinkBuilder::sheet_rows`] data rows
//! continues on `name (2)`, `name (3)`, ..., each repeating the header, formats, widths, frozen
//! header row and autofilter.
//!
//! # Cells
//!
//! | Arrow type | cell |
//! |---|---|
//! | integers | number; text when \|v\| > 2^53, beyond which Excel's doubles are not exact |
//! | floats | number; `NaN`, `Infinity`, `-Infinity` as text (Excel has none). `Float32` is written as its shortest decimal (`0.1`, not `0.100000001`) |
//! | decimals | number with format `0`, `0.0`, `0.00`, ... by scale; text (exact digits) when the unscaled value exceeds 2^53 |
//! | booleans | Excel boolean |
//! | strings (any encoding, dictionaries) | string, always: formula-like text such as `=1+1` stays text. Longer than 32,767 UTF-16 characters: [`ExportError::Encode`] naming column, row and cell |
//! | `Date32`, `Date64` | date serial, format `yyyy-mm-dd` |
//! | `Timestamp` | local wall time in the column's own zone (Arrow tz label; none = UTC) as a date serial, format `yyyy-mm-dd hh:mm:ss`. Excel has no time zones: say which zone in the header or the data dictionary |
//! | `Time32`, `Time64` | fraction of a day, format `hh:mm:ss` |
//! | `Duration` | fraction of a day, format `[h]:mm:ss` (negative durations are written too, but Excel shows them as `####`) |
//! | struct, list, map | compact JSON text |
//! | null (and the empty string) | empty cell |
//! | binary, interval, union, ... | [`ExportError::Encode`] naming the column |
//!
//! Dates and timestamps outside what Excel can show (before 1900-01-01 or after 9999-12-31) are
//! written as ISO 8601 text (`1850-06-01`, `1850-06-01 12:00:00`) rather than rejected: the value
//! survives, and sorts correctly among other texts. Serials before 1900-03-01 follow Excel's
//! phantom 1900-02-29, so such dates read back as written.
//!
//! A field's metadata [`META_NUM_FORMAT`] overrides the default number format and [`META_WIDTH`]
//! the column width.
//!
//! # Examples
//!
//! ```
//! use std::collections::HashMap;
//! use std::io::Cursor;
//! use std::sync::Arc;
//!
//! use arrow_array::{Float64Array, RecordBatch, StringArray};
//! use arrow_schema::{DataType, Field, Schema};
//! use calamine::{Data, Reader, Xlsx};
//! use export_core::schema::META_SHEET;
//! use export_core::sink::Sink;
//! use export_core::sink::xlsx::XlsxSinkBuilder;
//!
//! let schema = Arc::new(Schema::new_with_metadata(
//!     vec![Field::new("sku", DataType::Utf8, false), Field::new("price", DataType::Float64, true)],
//!     HashMap::from([(META_SHEET.to_string(), "products".to_string())]),
//! ));
//! let batch = RecordBatch::try_new(schema, vec![
//!     Arc::new(StringArray::from(vec!["A-1", "=1+1"])),
//!     Arc::new(Float64Array::from(vec![Some(9.5), None])),
//! ])?;
//!
//! let mut sink = XlsxSinkBuilder::new().build(Cursor::new(Vec::new()));
//! sink.write(&batch)?;
//! let summary = sink.finish()?;
//! assert_eq!(summary.rows, 2);
//! assert_eq!(summary.sheets, ["products"]);
//!
//! let mut book = Xlsx::new(sink.into_inner()?)?;
//! let range = book.worksheet_range("products")?;
//! assert_eq!(range.get_value((0, 1)), Some(&Data::String("price".into())));
//! assert_eq!(range.get_value((1, 1)), Some(&Data::Float(9.5)));
//! assert_eq!(range.get_value((2, 0)), Some(&Data::String("=1+1".into())));
//! assert_eq!(range.get_value((2, 1)), Some(&Data::Empty));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cells;
mod deflate;
mod json_text;
mod package;
#[cfg(test)]
mod parity_tests;
mod rows;
mod spool;
mod stitched;
mod zip_out;

use std::fmt;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Schema};
use rust_xlsxwriter::{Color, Format, Workbook, Worksheet, XlsxError};

use self::cells::{ColumnCells, Kind, MAX_CELL_CHARS, normalise};
use self::stitched::StitchedBook;
use crate::error::{ExportError, Result};
use crate::schema::{META_NUM_FORMAT, META_SHEET, META_WIDTH};
use crate::sink::{CountingWriter, Sink, Summary, XLSX_MAX_DATA_ROWS, default_threads};

/// Most characters in an Excel sheet name.
const MAX_SHEET_NAME_CHARS: usize = 31;
/// Most columns in an Excel sheet.
const MAX_COLUMNS: usize = 16_384;
/// Widest column Excel allows, in character units.
const MAX_WIDTH: f64 = 255.0;
/// Default header fill: dark blue.
const DEFAULT_HEADER_BACKGROUND: u32 = 0x1F4E78;
/// Default header font colour: white.
const DEFAULT_HEADER_FONT: u32 = 0xFFFFFF;

/// Options of an [`XlsxSink`]; [`XlsxSinkBuilder::build`] makes the sink.
///
/// # Examples
///
/// ```
/// use std::io::Cursor;
/// use export_core::sink::Sink;
/// use export_core::sink::xlsx::XlsxSinkBuilder;
///
/// let mut sink = XlsxSinkBuilder::new()
///     .sheet_name("Trajets")
///     .sheet_rows(500_000)
///     .header_background(Some(0x006100))
///     .freeze_header(true)
///     .autofilter(false)
///     .build(Cursor::new(Vec::new()));
/// // No batch: a valid workbook with one empty sheet.
/// assert_eq!(sink.finish()?.sheets, ["Trajets"]);
/// # Ok::<(), export_core::ExportError>(())
/// ```
#[derive(Debug, Clone)]
pub struct XlsxSinkBuilder {
    sheet_name: String,
    sheet_rows: u32,
    header_bold: bool,
    header_background: Option<u32>,
    header_font_color: Option<u32>,
    freeze_header: bool,
    autofilter: bool,
    default_width: Option<f64>,
    tempdir: Option<PathBuf>,
    threads: usize,
    created: Option<chrono::DateTime<chrono::Utc>>,
    /// rust_xlsxwriter writes every cell (the path before the stitched writer): the reference
    /// the stitched workbook is compared with in tests.
    #[cfg(test)]
    direct: bool,
}

impl Default for XlsxSinkBuilder {
    fn default() -> Self {
        XlsxSinkBuilder {
            sheet_name: "Sheet1".into(),
            sheet_rows: XLSX_MAX_DATA_ROWS,
            header_bold: true,
            header_background: Some(DEFAULT_HEADER_BACKGROUND),
            header_font_color: Some(DEFAULT_HEADER_FONT),
            freeze_header: true,
            autofilter: true,
            default_width: None,
            tempdir: None,
            threads: default_threads(),
            created: None,
            #[cfg(test)]
            direct: false,
        }
    }
}

impl XlsxSinkBuilder {
    /// Options with every default (see each setter).
    pub fn new() -> XlsxSinkBuilder {
        XlsxSinkBuilder::default()
    }

    /// The sheet of batches whose schema has no [`META_SHEET`] metadata, and the one empty sheet
    /// of an export without batches. Default `Sheet1`.
    ///
    /// The name is checked when its sheet starts: at most 31 characters, none of `[]:*?/\`, not
    /// starting or ending with `'` ([`ExportError::InvalidRequest`] otherwise).
    pub fn sheet_name(mut self, name: impl Into<String>) -> XlsxSinkBuilder {
        self.sheet_name = name.into();
        self
    }

    /// Data rows per sheet (below the header row) before the rows continue on a new sheet named
    /// `name (2)`, `name (3)`, ... (the name shortened to keep Excel's 31-character limit).
    /// Default and maximum [`XLSX_MAX_DATA_ROWS`] (Excel's 1,048,576 rows less the header); values
    /// are clamped to `1..=XLSX_MAX_DATA_ROWS`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Cursor;
    /// use std::sync::Arc;
    /// use arrow_array::{Int64Array, RecordBatch};
    /// use export_core::sink::Sink;
    /// use export_core::sink::xlsx::XlsxSinkBuilder;
    ///
    /// let batch = RecordBatch::try_from_iter([
    ///     ("id", Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5])) as _),
    /// ])?;
    /// let mut sink = XlsxSinkBuilder::new().sheet_name("trips").sheet_rows(2)
    ///     .build(Cursor::new(Vec::new()));
    /// sink.write(&batch)?;
    /// assert_eq!(sink.finish()?.sheets, ["trips", "trips (2)", "trips (3)"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sheet_rows(mut self, rows: u32) -> XlsxSinkBuilder {
        self.sheet_rows = rows.clamp(1, XLSX_MAX_DATA_ROWS);
        self
    }

    /// Whether header cells are bold. Default `true`.
    pub fn header_bold(mut self, bold: bool) -> XlsxSinkBuilder {
        self.header_bold = bold;
        self
    }

    /// Header fill colour as `0xRRGGBB`, `None` for no fill. Default `Some(0x1F4E78)` (dark blue).
    pub fn header_background(mut self, rgb: Option<u32>) -> XlsxSinkBuilder {
        self.header_background = rgb;
        self
    }

    /// Header font colour as `0xRRGGBB`, `None` for Excel's automatic colour.
    /// Default `Some(0xFFFFFF)` (white).
    pub fn header_font_color(mut self, rgb: Option<u32>) -> XlsxSinkBuilder {
        self.header_font_color = rgb;
        self
    }

    /// Whether the header row stays visible when scrolling (frozen pane). Default `true`.
    pub fn freeze_header(mut self, freeze: bool) -> XlsxSinkBuilder {
        self.freeze_header = freeze;
        self
    }

    /// Whether each sheet gets an autofilter over its header and rows. Default `true`.
    pub fn autofilter(mut self, autofilter: bool) -> XlsxSinkBuilder {
        self.autofilter = autofilter;
        self
    }

    /// Width, in Excel character units, of columns whose field has no [`META_WIDTH`] metadata.
    /// Clamped to `0..=255`.
    ///
    /// Default: a width per column, the larger of its header's length plus 3 (room for the
    /// autofilter button) and a width fitting its type (20 for timestamps, 12 for dates, 16 for
    /// text, 10 otherwise), at most 60.
    pub fn default_width(mut self, width: f64) -> XlsxSinkBuilder {
        self.default_width = Some(width.clamp(0.0, MAX_WIDTH));
        self
    }

    /// Directory for the temporary files of constant-memory sheets (one per sheet, about the
    /// size of its uncompressed XML). Default: the system temporary directory.
    ///
    /// The directory is checked when the first sheet starts: [`ExportError::Io`] naming it when
    /// it cannot be written.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Cursor;
    /// use std::sync::Arc;
    /// use arrow_array::{Int64Array, RecordBatch};
    /// use export_core::ExportError;
    /// use export_core::sink::Sink;
    /// use export_core::sink::xlsx::XlsxSinkBuilder;
    ///
    /// let batch = RecordBatch::try_from_iter([("id", Arc::new(Int64Array::from(vec![1])) as _)])?;
    /// let mut sink = XlsxSinkBuilder::new().tempdir("/no/such/dir").build(Cursor::new(Vec::new()));
    /// assert!(matches!(sink.write(&batch), Err(ExportError::Io { path: Some(_), .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tempdir(mut self, dir: impl Into<PathBuf>) -> XlsxSinkBuilder {
        self.tempdir = Some(dir.into());
        self
    }

    /// The creation time the workbook's properties record (`docProps/core.xml`; default: the
    /// time the file is written). A fixed time makes the same rows give the same bytes: the
    /// exporter passes its clock's reading.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Cursor, Read};
    /// use export_core::sink::xlsx::XlsxSinkBuilder;
    ///
    /// let at = "2026-11-01T06:00:00Z".parse().unwrap();
    /// let book = || XlsxSinkBuilder::new().created(at).build(Cursor::new(Vec::new())).into_inner();
    /// let first = book()?.into_inner();
    /// std::thread::sleep(std::time::Duration::from_millis(1100)); // past the next second
    /// assert_eq!(first, book()?.into_inner());
    ///
    /// let mut zip = zip::ZipArchive::new(Cursor::new(first))?;
    /// let mut core = String::new();
    /// zip.by_name("docProps/core.xml")?.read_to_string(&mut core)?;
    /// assert!(core.contains(">2026-11-01T06:00:00Z</dcterms:created>"), "{core}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn created(mut self, at: chrono::DateTime<chrono::Utc>) -> XlsxSinkBuilder {
        self.created = Some(at);
        self
    }

    /// Threads that deflate the sheets' rows (in ~1 MiB chunks, stitched into one deflate stream
    /// per sheet), beside the caller's thread, which writes the rows' XML. Default
    /// [`default_threads`] (every core); 1 deflates on the caller's thread; 0 counts as 1. The
    /// workbook's bytes do not depend on it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Cursor;
    /// use std::sync::Arc;
    /// use arrow_array::{Int64Array, RecordBatch};
    /// use calamine::{Data, Reader, Xlsx};
    /// use export_core::sink::Sink;
    /// use export_core::sink::xlsx::XlsxSinkBuilder;
    ///
    /// let batch = RecordBatch::try_from_iter([
    ///     ("id", Arc::new(Int64Array::from_iter_values(0..100_000)) as _),
    /// ])?;
    /// let mut files = Vec::new();
    /// for threads in [1, 3] {
    ///     let mut sink = XlsxSinkBuilder::new().threads(threads).build(Cursor::new(Vec::new()));
    ///     sink.write(&batch)?;
    ///     sink.finish()?;
    ///     files.push(sink.into_inner()?.into_inner());
    /// }
    /// assert_eq!(files[0], files[1]);
    /// let mut book = Xlsx::new(Cursor::new(files.remove(0)))?;
    /// let range = book.worksheet_range("Sheet1")?;
    /// assert_eq!(range.get_value((100_000, 0)), Some(&Data::Float(99_999.0)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn threads(mut self, threads: usize) -> XlsxSinkBuilder {
        self.threads = threads.max(1);
        self
    }

    /// The reference path: rust_xlsxwriter writes every cell.
    #[cfg(test)]
    pub(crate) fn direct(mut self) -> XlsxSinkBuilder {
        self.direct = true;
        self
    }

    /// Makes a sink writing to `writer`. Nothing is written before [`Sink::finish`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Cursor;
    /// use export_core::sink::xlsx::XlsxSinkBuilder;
    ///
    /// let sink = XlsxSinkBuilder::new().build(Cursor::new(Vec::new()));
    /// let bytes = sink.into_inner()?.into_inner(); // finishes the workbook
    /// assert_eq!(&bytes[..2], b"PK"); // a zip container
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn build<W: Write + Send>(&self, writer: W) -> XlsxSink<W> {
        let mut header_format = Format::new();
        if self.header_bold {
            header_format = header_format.set_bold();
        }
        if let Some(rgb) = self.header_background {
            header_format = header_format.set_background_color(Color::RGB(rgb));
        }
        if let Some(rgb) = self.header_font_color {
            header_format = header_format.set_font_color(Color::RGB(rgb));
        }
        #[cfg(test)]
        let direct = self.direct;
        #[cfg(not(test))]
        let direct = false;
        let book = if direct {
            Book::Direct {
                workbook: Box::new(Workbook::new()),
                header_format,
                tempdir_applied: false,
            }
        } else {
            Book::Stitched(Box::new(StitchedBook::new(self, header_format)))
        };
        XlsxSink {
            options: self.clone(),
            book,
            writer,
            run: None,
            finished_runs: Vec::new(),
            sheets: Vec::new(),
            rows: 0,
            finished: false,
            scratch: String::new(),
        }
    }
}

/// An XLSX [`Sink`]: writes each batch's rows to its sheet, then the workbook on
/// [`Sink::finish`]. See the [module documentation](self) for how values become cells.
///
/// Made by [`XlsxSinkBuilder::build`]. After an error the workbook is incomplete: discard the
/// output (files are published only after a successful `finish`).
pub struct XlsxSink<W> {
    options: XlsxSinkBuilder,
    book: Book,
    writer: W,
    /// The sheet receiving batches now.
    run: Option<SheetRun>,
    /// Base names of sheets already closed, lower-cased (Excel names ignore case).
    finished_runs: Vec<String>,
    /// Every worksheet name, in order.
    sheets: Vec<String>,
    rows: u64,
    finished: bool,
    /// Reused buffer for texts built per cell (JSON, big integers, old dates).
    scratch: String,
}

impl<W> fmt::Debug for XlsxSink<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XlsxSink")
            .field("options", &self.options)
            .field("sheets", &self.sheets)
            .field("rows", &self.rows)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

/// Where the rows go.
enum Book {
    /// rust_xlsxwriter writes every cell to its constant-memory worksheets.
    Direct {
        workbook: Box<Workbook>,
        header_format: Format,
        tempdir_applied: bool,
    },
    /// Rows written and deflated here, packaged with rust_xlsxwriter's parts at `finish`.
    Stitched(Box<StitchedBook>),
}

/// A run of batches for one sheet name, possibly over several worksheets.
struct SheetRun {
    /// The sheet name from the batches.
    base: String,
    /// 1 for the first worksheet, 2 for `base (2)`, ...
    part: u32,
    /// Index of the current worksheet in the workbook.
    index: usize,
    /// Name of the current worksheet.
    name: String,
    /// Data rows in the current worksheet.
    rows_in_sheet: u32,
    columns: Arc<[ColumnSpec]>,
}

/// One column of a sheet: decided from the first batch's field, shared by continuation sheets.
struct ColumnSpec {
    name: String,
    data_type: DataType,
    kind: Kind,
    format: Option<Format>,
    width: f64,
}

impl<W: Write + Send> XlsxSink<W> {
    /// Returns the underlying writer, first finishing the workbook if [`Sink::finish`] was not
    /// called.
    ///
    /// # Errors
    ///
    /// As [`Sink::finish`] when the workbook still had to be finished.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Cursor;
    /// use calamine::{Reader, Xlsx};
    /// use export_core::sink::xlsx::XlsxSinkBuilder;
    ///
    /// let sink = XlsxSinkBuilder::new().sheet_name("Empty").build(Cursor::new(Vec::new()));
    /// let book = Xlsx::new(sink.into_inner()?)?;
    /// assert_eq!(book.sheet_names(), ["Empty"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_inner(mut self) -> Result<W> {
        if !self.finished {
            self.finish()?;
        }
        Ok(self.writer)
    }

    /// The underlying writer (complete only after [`Sink::finish`]).
    pub fn get_ref(&self) -> &W {
        &self.writer
    }

    /// Starts a run of batches for sheet `base`, laid out after `schema`.
    fn start_run(&mut self, base: &str, schema: &Schema) -> Result<()> {
        let lower = base.to_lowercase();
        if self.finished_runs.contains(&lower) {
            return Err(ExportError::request(
                META_SHEET,
                format!(
                    "sheet `{base}` was already written; batches of one sheet must be consecutive"
                ),
            ));
        }
        if schema.fields().len() > MAX_COLUMNS {
            return Err(ExportError::Encode {
                format: "xlsx",
                reason: format!(
                    "sheet `{base}` has {} columns; Excel allows {MAX_COLUMNS}",
                    schema.fields().len()
                ),
            });
        }
        let mut columns = Vec::with_capacity(schema.fields().len());
        for field in schema.fields() {
            let name = field.name();
            let kind = Kind::of(name, field.data_type())?;
            let num_format = field
                .metadata()
                .get(META_NUM_FORMAT)
                .cloned()
                .or_else(|| kind.default_num_format());
            let width = match field.metadata().get(META_WIDTH) {
                Some(text) => match text.trim().parse::<f64>() {
                    Ok(w) if w.is_finite() && w >= 0.0 => w.min(MAX_WIDTH),
                    _ => {
                        return Err(ExportError::request(
                            format!("{META_WIDTH} of column `{name}`"),
                            format!("`{text}` is not a width (a number of characters)"),
                        ));
                    }
                },
                None => self.options.default_width.unwrap_or_else(|| {
                    let header = (name.chars().count() + 3) as f64;
                    header.max(kind.natural_width()).min(60.0)
                }),
            };
            columns.push(ColumnSpec {
                name: name.clone(),
                data_type: field.data_type().clone(),
                kind,
                format: num_format.map(|f| Format::new().set_num_format(f)),
                width,
            });
        }
        let columns: Arc<[ColumnSpec]> = columns.into();
        let index = self.add_sheet(base, &columns)?;
        self.run = Some(SheetRun {
            base: base.to_string(),
            part: 1,
            index,
            name: base.to_string(),
            rows_in_sheet: 0,
            columns,
        });
        Ok(())
    }

    /// Adds a constant-memory worksheet named `name` with its header row, widths and frozen
    /// pane; returns its index.
    fn add_sheet(&mut self, name: &str, columns: &Arc<[ColumnSpec]>) -> Result<usize> {
        check_sheet_name(name)?;
        let lower = name.to_lowercase();
        if self.sheets.iter().any(|s| s.to_lowercase() == lower) {
            return Err(ExportError::request(
                META_SHEET,
                format!("sheet name `{name}` is already used in this workbook"),
            ));
        }
        for (c, column) in columns.iter().enumerate() {
            // Byte length bounds UTF-16 length from above: count only long names.
            if column.name.len() > MAX_CELL_CHARS
                && column.name.encode_utf16().count() > MAX_CELL_CHARS
            {
                let e = XlsxError::MaxStringLengthExceeded;
                return Err(cell_error(e, name, &column.name, 0, c as u16));
            }
        }
        let index = self.sheets.len();
        match &mut self.book {
            Book::Stitched(book) => book.add_sheet(name, columns)?,
            Book::Direct {
                workbook,
                header_format,
                tempdir_applied,
            } => {
                if !*tempdir_applied {
                    if let Some(dir) = &self.options.tempdir {
                        workbook.set_tempdir(dir).map_err(xlsx_error)?;
                    }
                    *tempdir_applied = true;
                }
                let ws = workbook
                    .add_worksheet_with_constant_memory()
                    .map_err(xlsx_error)?;
                ws.set_name(name).map_err(xlsx_error)?;
                for (c, column) in columns.iter().enumerate() {
                    let c = c as u16; // at most MAX_COLUMNS, checked in start_run
                    ws.write_string_with_format(0, c, column.name.as_str(), header_format)
                        .map_err(|e| cell_error(e, name, &column.name, 0, c))?;
                    ws.set_column_width(c, column.width).map_err(xlsx_error)?;
                }
                if self.options.freeze_header {
                    ws.set_freeze_panes(1, 0).map_err(xlsx_error)?;
                }
            }
        }
        self.sheets.push(name.to_string());
        Ok(index)
    }

    /// Completes the current worksheet (its autofilter needs the final row count).
    fn close_sheet(&mut self) -> Result<()> {
        let Some(run) = &self.run else {
            return Ok(());
        };
        match &mut self.book {
            // The skeleton sets the autofilter from the rows counted by the book.
            Book::Stitched(book) => book.close_sheet()?,
            Book::Direct { workbook, .. } => {
                if self.options.autofilter && !run.columns.is_empty() {
                    let last_col = (run.columns.len() - 1) as u16;
                    workbook
                        .worksheet_from_index(run.index)
                        .map_err(xlsx_error)?
                        .autofilter(0, 0, run.rows_in_sheet, last_col)
                        .map_err(xlsx_error)?;
                }
            }
        }
        Ok(())
    }

    /// Completes the current run of batches.
    fn close_run(&mut self) -> Result<()> {
        self.close_sheet()?;
        if let Some(run) = self.run.take() {
            self.finished_runs.push(run.base.to_lowercase());
        }
        Ok(())
    }

    /// Starts the next continuation worksheet of the current run.
    fn roll_over(&mut self) -> Result<()> {
        self.close_sheet()?;
        let Some(mut run) = self.run.take() else {
            return Ok(());
        };
        run.part += 1;
        run.name = continuation_name(&run.base, run.part);
        let added = self.add_sheet(&run.name, &run.columns);
        match added {
            Ok(index) => {
                run.index = index;
                run.rows_in_sheet = 0;
                self.run = Some(run);
                Ok(())
            }
            Err(e) => {
                self.run = Some(run);
                Err(e)
            }
        }
    }

    /// Checks that a batch for the current run has the run's columns.
    fn check_columns(run: &SheetRun, schema: &Schema) -> Result<()> {
        let fields = schema.fields();
        let same_names = fields.len() == run.columns.len()
            && fields
                .iter()
                .zip(run.columns.iter())
                .all(|(f, c)| f.name() == &c.name);
        if !same_names {
            let names = |it: Vec<&str>| it.join(", ");
            return Err(ExportError::request(
                META_SHEET,
                format!(
                    "a batch for sheet `{}` has columns [{}], but the sheet was started with [{}]",
                    run.base,
                    names(fields.iter().map(|f| f.name().as_str()).collect()),
                    names(run.columns.iter().map(|c| c.name.as_str()).collect()),
                ),
            ));
        }
        for (field, column) in fields.iter().zip(run.columns.iter()) {
            if field.data_type() != &column.data_type {
                return Err(ExportError::ColumnType {
                    column: column.name.clone(),
                    expected: column.data_type.to_string(),
                    actual: field.data_type().to_string(),
                });
            }
        }
        Ok(())
    }

    /// Writes rows `range` of the batch (already bound to `cells`) to the current worksheet.
    fn write_rows(&mut self, cells: &[ColumnCells<'_>], start: usize, count: u32) -> Result<()> {
        let Some(run) = &mut self.run else {
            return Ok(());
        };
        let scratch = &mut self.scratch;
        let rows_before = self.rows;
        let value_error = |c: usize, k: u32, reason: String| ExportError::Encode {
            format: "xlsx",
            reason: format!(
                "column `{}`, row {} of the export (sheet `{}`, cell {}): {reason}",
                run.columns[c].name,
                rows_before + u64::from(k) + 1,
                run.name,
                rust_xlsxwriter::utility::row_col_to_cell(run.rows_in_sheet + 1 + k, c as u16),
            ),
        };
        match &mut self.book {
            Book::Stitched(book) => {
                book.write_rows(cells, start, count, run.rows_in_sheet, scratch, value_error)?;
            }
            Book::Direct { workbook, .. } => {
                let ws: &mut Worksheet = workbook
                    .worksheet_from_index(run.index)
                    .map_err(xlsx_error)?;
                for k in 0..count {
                    let i = start + k as usize;
                    let row = run.rows_in_sheet + 1 + k;
                    for (c, (column, values)) in run.columns.iter().zip(cells).enumerate() {
                        let cell = values
                            .cell(i, scratch)
                            .map_err(|reason| value_error(c, k, reason))?;
                        let c = c as u16;
                        cells::put(ws, row, c, cell, column.format.as_ref())
                            .map_err(|e| cell_error(e, &run.name, &column.name, row, c))?;
                    }
                }
            }
        }
        run.rows_in_sheet += count;
        self.rows += u64::from(count);
        Ok(())
    }
}

impl<W: Write + Send> Sink for XlsxSink<W> {
    /// Writes the batch's rows to the sheet named by its schema metadata [`META_SHEET`] (or
    /// [`XlsxSinkBuilder::sheet_name`]), starting that sheet (header row) when the name changes
    /// and continuing on a new sheet past [`XlsxSinkBuilder::sheet_rows`] rows. An empty batch
    /// still starts its sheet.
    ///
    /// # Errors
    ///
    /// - [`ExportError::SinkFinished`] after [`Sink::finish`].
    /// - [`ExportError::InvalidRequest`] when the batch returns to an earlier sheet, when its sheet
    ///   name is not a valid Excel name, when its columns differ from those the sheet started
    ///   with, or when a field's [`META_WIDTH`] is not a number.
    /// - [`ExportError::ColumnType`] when a column's type differs from the sheet's first batch.
    /// - [`ExportError::Encode`] naming the column for a type XLSX cannot hold, and naming column,
    ///   row and cell for a text longer than 32,767 characters.
    /// - [`ExportError::Io`] when the temporary directory cannot be written.
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if self.finished {
            return Err(ExportError::SinkFinished);
        }
        let schema = batch.schema();
        let base = schema
            .metadata()
            .get(META_SHEET)
            .map(String::as_str)
            .unwrap_or(self.options.sheet_name.as_str());
        match &self.run {
            Some(run) if run.base == base => Self::check_columns(run, &schema)?,
            _ => {
                let base = base.to_string();
                self.close_run()?;
                self.start_run(&base, &schema)?;
            }
        }

        let kinds: Vec<Kind> = match &self.run {
            Some(run) => run.columns.iter().map(|c| c.kind).collect(),
            None => return Ok(()),
        };
        let arrays: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .map(normalise)
            .collect::<Result<_>>()?;
        let mut cells = Vec::with_capacity(arrays.len());
        for ((array, kind), field) in arrays.iter().zip(&kinds).zip(schema.fields()) {
            let bound = ColumnCells::bind(array, *kind).ok_or_else(|| ExportError::Encode {
                format: "xlsx",
                reason: format!(
                    "column `{}` of type {} could not be read",
                    field.name(),
                    array.data_type()
                ),
            })?;
            cells.push(bound);
        }

        let total = batch.num_rows();
        let mut start = 0;
        while start < total {
            let rows_in_sheet = self.run.as_ref().map_or(0, |r| r.rows_in_sheet);
            if rows_in_sheet >= self.options.sheet_rows {
                self.roll_over()?;
                continue;
            }
            let room = (self.options.sheet_rows - rows_in_sheet) as usize;
            let count = room.min(total - start);
            // count <= sheet_rows <= XLSX_MAX_DATA_ROWS, so it fits in u32.
            self.write_rows(&cells, start, count as u32)?;
            start += count;
        }
        Ok(())
    }

    /// Closes the last sheet, zips the workbook into the writer and reports rows, bytes and sheet
    /// names. Without any batch the workbook has one empty sheet named
    /// [`XlsxSinkBuilder::sheet_name`].
    ///
    /// # Errors
    ///
    /// - [`ExportError::SinkFinished`] when called twice.
    /// - [`ExportError::Io`] when the writer or a temporary file fails.
    /// - [`ExportError::InvalidRequest`] when the empty sheet's name is not a valid Excel name.
    fn finish(&mut self) -> Result<Summary> {
        if self.finished {
            return Err(ExportError::SinkFinished);
        }
        self.finished = true;
        self.close_run()?;
        let empty = self.sheets.is_empty();
        if empty {
            let name = self.options.sheet_name.clone();
            check_sheet_name(&name)?;
            self.sheets.push(name);
        }
        let mut counter = CountingWriter::new(&mut self.writer);
        match &mut self.book {
            Book::Stitched(book) => {
                if empty {
                    book.add_empty_sheet(&self.sheets[0]);
                }
                book.finish(&mut counter)?;
            }
            Book::Direct { workbook, .. } => {
                if empty {
                    workbook
                        .add_worksheet()
                        .set_name(self.sheets[0].as_str())
                        .map_err(xlsx_error)?;
                }
                workbook.save_to_writer(&mut counter).map_err(xlsx_error)?;
            }
        }
        counter.flush()?;
        Ok(Summary {
            rows: self.rows,
            bytes: counter.count(),
            sheets: self.sheets.clone(),
        })
    }
}

/// The name of continuation sheet `part` of `base`: `base (part)`, with `base` shortened so the
/// whole fits Excel's 31 characters.
fn continuation_name(base: &str, part: u32) -> String {
    let suffix = format!(" ({part})");
    let keep = MAX_SHEET_NAME_CHARS.saturating_sub(suffix.chars().count());
    let head: String = base.chars().take(keep).collect();
    head + &suffix
}

/// Checks Excel's rules for sheet names before a worksheet is added.
fn check_sheet_name(name: &str) -> Result<()> {
    let bad = |reason: &str| {
        Err(ExportError::request(
            META_SHEET,
            format!("sheet name `{name}` {reason}"),
        ))
    };
    if name.is_empty() {
        return bad("is empty");
    }
    if name.chars().count() > MAX_SHEET_NAME_CHARS {
        return bad("is longer than Excel's 31 characters");
    }
    if let Some(c) = name.chars().find(|c| "[]:*?/\\".contains(*c)) {
        return bad(&format!(
            "contains `{c}`, which Excel forbids in sheet names"
        ));
    }
    if name.starts_with('\'') || name.ends_with('\'') {
        return bad("starts or ends with an apostrophe, which Excel forbids");
    }
    Ok(())
}

/// Maps a `rust_xlsxwriter` error to ours, finding the I/O error inside when there is one.
fn xlsx_error(error: XlsxError) -> ExportError {
    match error {
        XlsxError::IoError(source) => ExportError::Io { path: None, source },
        XlsxError::TempFileError(path, source) => ExportError::Io {
            path: Some(path),
            source,
        },
        XlsxError::SheetnameCannotBeBlank(_)
        | XlsxError::SheetnameLengthExceeded(_)
        | XlsxError::SheetnameReused(_)
        | XlsxError::SheetnameContainsInvalidCharacter(_)
        | XlsxError::SheetnameStartsOrEndsWithApostrophe(_) => {
            ExportError::request(META_SHEET, error.to_string())
        }
        other => {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&other);
            while let Some(e) = source {
                if let Some(io) = e.downcast_ref::<io::Error>() {
                    return ExportError::Io {
                        path: None,
                        source: io::Error::new(io.kind(), other.to_string()),
                    };
                }
                source = e.source();
            }
            ExportError::Encode {
                format: "xlsx",
                reason: other.to_string(),
            }
        }
    }
}

/// Maps an error writing one cell, naming sheet, column and cell.
fn cell_error(error: XlsxError, sheet: &str, column: &str, row: u32, col: u16) -> ExportError {
    match error {
        XlsxError::MaxStringLengthExceeded | XlsxError::RowColumnLimitError => {
            ExportError::Encode {
                format: "xlsx",
                reason: format!(
                    "column `{column}` (sheet `{sheet}`, cell {}): {error}",
                    rust_xlsxwriter::utility::row_col_to_cell(row, col)
                ),
            }
        }
        other => xlsx_error(other),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::io::Cursor;
    use std::sync::Arc;

    use arrow_array::Int64Array;
    use arrow_schema::Field;
    use calamine::{Data, Reader, Xlsx};

    use super::*;

    fn trips(values: &[i64]) -> RecordBatch {
        let schema = Schema::new_with_metadata(
            vec![Field::new("journey_id", DataType::Int64, false)],
            HashMap::from([(META_SHEET.to_string(), "trips".to_string())]),
        );
        RecordBatch::try_new(
            Arc::new(schema),
            vec![Arc::new(Int64Array::from(values.to_vec()))],
        )
        .unwrap()
    }

    #[test]
    fn continuation_names_fit_31_characters() {
        assert_eq!(continuation_name("trips", 2), "trips (2)");
        let long = "a".repeat(31);
        let name = continuation_name(&long, 12);
        assert_eq!(name.chars().count(), 31);
        assert!(name.ends_with(" (12)"));
    }

    #[test]
    fn rolls_over_every_three_rows_across_batch_boundaries() {
        let mut sink = XlsxSinkBuilder::new()
            .sheet_rows(3)
            .build(Cursor::new(Vec::new()));
        sink.write(&trips(&[1, 2])).unwrap();
        sink.write(&trips(&[3, 4, 5, 6, 7])).unwrap(); // spans two boundaries
        let summary = sink.finish().unwrap();
        assert_eq!(summary.rows, 7);
        assert_eq!(summary.sheets, ["trips", "trips (2)", "trips (3)"]);

        let mut book = Xlsx::new(sink.into_inner().unwrap()).unwrap();
        let expect = [
            ("trips", vec![1.0, 2.0, 3.0]),
            ("trips (2)", vec![4.0, 5.0, 6.0]),
            ("trips (3)", vec![7.0]),
        ];
        for (name, values) in expect {
            let range = book.worksheet_range(name).unwrap();
            let rows: Vec<&[Data]> = range.rows().collect();
            assert_eq!(rows[0], [Data::String("journey_id".into())], "{name}");
            let got: Vec<f64> = rows[1..]
                .iter()
                .map(|r| match r[0] {
                    Data::Float(v) => v,
                    ref other => panic!("{other:?}"),
                })
                .collect();
            assert_eq!(got, values, "{name}");
        }
    }

    #[test]
    fn a_batch_filling_a_sheet_exactly_adds_no_empty_sheet() {
        let mut sink = XlsxSinkBuilder::new()
            .sheet_rows(3)
            .build(Cursor::new(Vec::new()));
        sink.write(&trips(&[1, 2, 3])).unwrap();
        assert_eq!(sink.finish().unwrap().sheets, ["trips"]);
    }

    #[test]
    fn sheet_rows_are_clamped() {
        assert_eq!(XlsxSinkBuilder::new().sheet_rows(0).sheet_rows, 1);
        assert_eq!(
            XlsxSinkBuilder::new().sheet_rows(u32::MAX).sheet_rows,
            XLSX_MAX_DATA_ROWS
        );
    }
}
