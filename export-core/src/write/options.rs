//! [`WriteOptions`]: every option of the plain writers, as a front end receives them, and the
//! sinks they build.

use std::collections::BTreeMap;
use std::io::Write;

use arrow_array::RecordBatch;
use serde::{Deserialize, Serialize};

use crate::error::{ExportError, Result};
use crate::request::{Compression, Format};
use crate::sink::compress::CompressedWriter;
use crate::sink::csv::{CsvSink, CsvSinkBuilder, QuoteStyle};
use crate::sink::json::{JsonFormat, JsonSink, JsonSinkBuilder};
use crate::sink::xlsx::{XlsxSink, XlsxSinkBuilder};
use crate::sink::{CountingWriter, Sink, Summary};

/// Every option of [`write_to`](super::write_to) and [`write_path`](super::write_path): the
/// columns (`fields`, `exclude`, `rename`), then the options of each sink. Options that do not
/// concern the chosen format are ignored (a front end may pass one set for several formats).
///
/// Deserialised with strict keys: an unknown key is an error naming it, so a typo in a keyword
/// argument (Python) or an options object (Node) is refused rather than silently ignored.
///
/// # Examples
///
/// ```
/// use export_core::write::WriteOptions;
///
/// let options = WriteOptions::from_json(serde_json::json!({
///     "fields": ["sku", "name", "price"],
///     "rename": {"price": "price_eur"},
///     "bom": true,
/// }))?;
/// assert_eq!(options.fields, ["sku", "name", "price"]);
/// assert!(options.bom);
///
/// let typo = WriteOptions::from_json(serde_json::json!({"bomm": true})).unwrap_err();
/// assert_eq!(typo.code(), "INVALID_REQUEST");
/// assert!(typo.to_string().contains("bomm"), "{typo}");
/// # Ok::<(), export_core::ExportError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WriteOptions {
    /// Keep only these columns, in this order (default: every column).
    ///
    /// With several XLSX sheets, `fields`, `exclude`, `rename` and `column_widths` apply to
    /// each sheet that has the column; each name must be in some sheet, and a sheet with none
    /// of `fields` is written whole.
    pub fields: Vec<String>,
    /// Leave these columns out (after `fields`).
    pub exclude: Vec<String>,
    /// Rename columns, old name to new name (after `fields` and `exclude`).
    pub rename: BTreeMap<String, String>,
    /// CSV: start with a UTF-8 byte-order mark (for Excel).
    pub bom: bool,
    /// CSV: the field delimiter (default `,`), one ASCII character.
    pub delimiter: Option<char>,
    /// CSV: `necessary` (default), `always`, `non-numeric` or `never`.
    pub quote_style: Option<String>,
    /// CSV: whether a header row is written (default `true`).
    pub header: Option<bool>,
    /// CSV: end lines with CRLF.
    pub crlf: bool,
    /// CSV: the text of nulls (default empty).
    pub null: Option<String>,
    /// CSV: the texts of true and false (default `true`, `false`).
    pub bool_values: Option<(String, String)>,
    /// CSV: the decimal separator of floats (default `.`).
    pub decimal_separator: Option<char>,
    /// CSV: strftime format of timestamps (default RFC 3339).
    pub timestamp_format: Option<String>,
    /// CSV: strftime format of dates (default `%Y-%m-%d`).
    pub date_format: Option<String>,
    /// CSV: strftime format of times of day (default `%H:%M:%S`).
    pub time_format: Option<String>,
    /// CSV and XLSX: neutralise formula-like text cells (default `true`).
    pub formula_guard: Option<bool>,
    /// JSON: indent the array.
    pub pretty: bool,
    /// JSON and JSON Lines: write null members (default `true`).
    pub explicit_nulls: Option<bool>,
    /// XLSX: the sheet of data without a sheet of its own (default `Sheet1`).
    pub sheet_name: Option<String>,
    /// XLSX: data rows per sheet before continuing on `name (2)`.
    pub sheet_rows: Option<u32>,
    /// XLSX: the header row's look.
    pub header_style: Option<HeaderStyle>,
    /// XLSX: the width of columns, by output name (Excel character units).
    pub column_widths: BTreeMap<String, f64>,
    /// XLSX: the width of every other column (default: fitted to the header and the type).
    pub default_width: Option<f64>,
    /// XLSX: freeze the header row (default `true`).
    pub freeze_header: Option<bool>,
    /// XLSX: an autofilter on the header row (default `true`).
    pub autofilter: Option<bool>,
    /// CSV and JSON: `none` (default), `gzip` or `zip`.
    pub compression: Option<Compression>,
    /// CSV and JSON: threads formatting rows (default: every core).
    pub threads: Option<usize>,
}

/// The XLSX header row's look; colours are `#RRGGBB`, `null` for none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeaderStyle {
    /// Bold labels (default `true`).
    pub bold: Option<bool>,
    /// Fill colour (default `#1F4E78`); `null` for no fill.
    #[serde(deserialize_with = "some_or_null")]
    pub background: Option<Option<String>>,
    /// Font colour (default `#FFFFFF`); `null` for the theme's.
    #[serde(deserialize_with = "some_or_null")]
    pub font_color: Option<Option<String>>,
}

/// A present key is `Some`, even when its value is `null` (which means "none").
fn some_or_null<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl WriteOptions {
    /// Reads options from a JSON value (the keyword arguments of a binding).
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] naming the key for an unknown key or a value of the
    /// wrong type.
    pub fn from_json(value: serde_json::Value) -> Result<WriteOptions> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." || path.is_empty() {
                "options".to_string()
            } else {
                path
            };
            ExportError::request(field, e.into_inner().to_string())
        })
    }

    /// Checks the options' values against `format` (a delimiter that is one ASCII character,
    /// a known quote style, options the format takes), before any data is at hand; the columns
    /// are checked by [`validate`](super::validate) once the data's schema is known.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] naming the option.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::request::Format;
    /// use export_core::write::WriteOptions;
    ///
    /// let options = WriteOptions::from_json(serde_json::json!({"quote_style": "sometimes"}))?;
    /// let err = options.check(Format::Csv).unwrap_err();
    /// assert!(err.to_string().starts_with("invalid `quote_style`"), "{err}");
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn check(&self, format: Format) -> Result<()> {
        self.sink(format, "check", std::io::sink()).map(drop)
    }

    /// Checks the options against `format` and builds its sink over `out`.
    pub(super) fn sink<W: Write + Send>(
        &self,
        format: Format,
        file_name: &str,
        out: W,
    ) -> Result<AnySink<W>> {
        let compression = self.compression.unwrap_or_default();
        let entry = file_name
            .strip_suffix(".zip")
            .or_else(|| file_name.strip_suffix(".gz"))
            .unwrap_or(file_name)
            .to_string();
        match format {
            Format::Csv => {
                let mut b = CsvSinkBuilder::new();
                b.has_headers(self.header.unwrap_or(true))
                    .bom(self.bom)
                    .crlf(self.crlf)
                    .formula_guard(self.formula_guard.unwrap_or(true))
                    .compression(compression)
                    .archive_entry_name(entry)
                    .timestamp_format(self.timestamp_format.clone())
                    .date_format(self.date_format.clone())
                    .time_format(self.time_format.clone());
                if let Some(c) = self.delimiter {
                    b.delimiter(ascii("delimiter", c)?);
                }
                if let Some(style) = &self.quote_style {
                    b.quote_style(quote_style(style)?);
                }
                if let Some(null) = &self.null {
                    b.null_value(null.clone());
                }
                if let Some((t, f)) = &self.bool_values {
                    b.bool_values(t.clone(), f.clone());
                }
                if let Some(c) = self.decimal_separator {
                    b.decimal_separator(ascii("decimal_separator", c)?);
                }
                if let Some(threads) = self.threads {
                    b.threads(threads);
                }
                Ok(AnySink::Csv(b.build(out)))
            }
            Format::Json | Format::JsonLines => {
                let layout = if format == Format::Json {
                    JsonFormat::Array
                } else {
                    JsonFormat::Lines
                };
                let writer = CompressedWriter::new(CountingWriter::new(out), compression, &entry)
                    .map_err(|e| ExportError::Io {
                    path: None,
                    source: e,
                })?;
                let mut b = JsonSinkBuilder::new()
                    .format(layout)
                    .pretty(self.pretty)
                    .explicit_nulls(self.explicit_nulls.unwrap_or(true));
                if let Some(threads) = self.threads {
                    b = b.threads(threads);
                }
                Ok(AnySink::Json(b.build(writer)))
            }
            Format::Xlsx => {
                if compression != Compression::None {
                    return Err(ExportError::request(
                        "compression",
                        "an XLSX file is already compressed; use `none`",
                    ));
                }
                let mut b = XlsxSinkBuilder::new();
                if let Some(name) = &self.sheet_name {
                    b = b.sheet_name(name.clone());
                }
                if let Some(rows) = self.sheet_rows {
                    b = b.sheet_rows(rows);
                }
                if let Some(width) = self.default_width {
                    b = b.default_width(width);
                }
                if let Some(freeze) = self.freeze_header {
                    b = b.freeze_header(freeze);
                }
                if let Some(filter) = self.autofilter {
                    b = b.autofilter(filter);
                }
                if let Some(style) = &self.header_style {
                    if let Some(bold) = style.bold {
                        b = b.header_bold(bold);
                    }
                    if let Some(fill) = &style.background {
                        b = b.header_background(color("header_style.background", fill)?);
                    }
                    if let Some(font) = &style.font_color {
                        b = b.header_font_color(color("header_style.font_color", font)?);
                    }
                }
                Ok(AnySink::Xlsx(b.build(out)))
            }
        }
    }
}

/// `#RRGGBB` (or `RRGGBB`) as a number; `None` stays none.
fn color(field: &str, text: &Option<String>) -> Result<Option<u32>> {
    let Some(text) = text else { return Ok(None) };
    let hex = text.strip_prefix('#').unwrap_or(text);
    if hex.len() != 6 {
        return Err(ExportError::request(
            field,
            format!("`{text}` is not a colour `#RRGGBB`"),
        ));
    }
    u32::from_str_radix(hex, 16)
        .map(Some)
        .map_err(|_| ExportError::request(field, format!("`{text}` is not a colour `#RRGGBB`")))
}

fn ascii(field: &'static str, c: char) -> Result<u8> {
    u8::try_from(c)
        .ok()
        .filter(u8::is_ascii)
        .ok_or_else(|| ExportError::request(field, format!("`{c}` is not an ASCII character")))
}

fn quote_style(text: &str) -> Result<QuoteStyle> {
    match text.to_ascii_lowercase().as_str() {
        "necessary" => Ok(QuoteStyle::Necessary),
        "always" => Ok(QuoteStyle::Always),
        "non-numeric" | "non_numeric" | "nonnumeric" => Ok(QuoteStyle::NonNumeric),
        "never" => Ok(QuoteStyle::Never),
        other => Err(ExportError::request(
            "quote_style",
            format!(
                "unknown quote style `{other}`; expected one of: necessary, always, non-numeric, never"
            ),
        )),
    }
}

/// The three sinks over one writer, so the writer can be taken back after `finish`.
#[allow(clippy::large_enum_variant)]
pub(super) enum AnySink<W: Write + Send> {
    Csv(CsvSink<W>),
    Json(JsonSink<CompressedWriter<CountingWriter<W>>>),
    Xlsx(XlsxSink<W>),
}

impl<W: Write + Send> AnySink<W> {
    /// Fixes the columns of a CSV file now, so a file without rows still has its header.
    pub(super) fn header(&mut self, schema: &arrow_schema::Schema) -> Result<()> {
        match self {
            AnySink::Csv(s) => s.write_header(schema),
            _ => Ok(()),
        }
    }

    pub(super) fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match self {
            AnySink::Csv(s) => s.write(batch),
            AnySink::Json(s) => s.write(batch),
            AnySink::Xlsx(s) => s.write(batch),
        }
    }

    pub(super) fn finish(self) -> Result<(Summary, W)> {
        match self {
            AnySink::Csv(mut s) => {
                let summary = s.finish()?;
                Ok((summary, s.into_inner()?))
            }
            AnySink::Json(mut s) => {
                let mut summary = s.finish()?;
                let counted = s.into_inner()?.finish().map_err(|e| ExportError::Io {
                    path: None,
                    source: e,
                })?;
                summary.bytes = counted.count();
                Ok((summary, counted.into_inner()))
            }
            AnySink::Xlsx(mut s) => {
                let summary = s.finish()?;
                Ok((summary, s.into_inner()?))
            }
        }
    }
}
