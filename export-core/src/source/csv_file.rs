//! CSV file input, parsed into a given Arrow schema by `arrow-csv`.

use std::io::{self, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchOptions, new_null_array};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono_tz::Tz;

use crate::error::{ExportError, Result};
use crate::source::bounded::{RecordLimit, RecordTooLong, Recording, excerpt};
use crate::source::{Source, open_input_file};

/// Default most bytes of one CSV record: 1 MiB, far above any real row of an export's input.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 1 << 20;

/// The reader every CSV source parses from: a file, standard input, any stream.
type Input = Box<dyn Read + Send>;

/// Where each column of the target schema comes from.
#[derive(Debug, Clone, Copy)]
enum Origin {
    /// The column at this index of the file, converted so.
    File(usize, Conversion),
    /// Not in the file (a nested field): all nulls.
    Null,
}

/// How a parsed file column becomes the schema's column.
#[derive(Debug, Clone, Copy)]
enum Conversion {
    /// Parsed in the schema's type.
    None,
    /// A timestamp labelled with an offset (`+00:00`) for parsing, relabelled with the schema's
    /// UTC zone name (arrow-csv parses named zones only with a feature we do not need).
    Relabel,
    /// A timestamp of a named zone other than UTC, read as text and parsed here: values
    /// without an offset are local times of that zone.
    Zone(Tz),
}

/// How a schema field is read from the file: its type in the file and the conversion.
fn file_type(field: &Field) -> (DataType, Conversion) {
    match field.data_type() {
        DataType::Timestamp(unit, Some(tz)) => {
            let tz: &str = tz;
            if matches!(
                tz,
                "UTC" | "Etc/UTC" | "utc" | "Z" | "+00:00" | "+00" | "+0000"
            ) {
                (
                    DataType::Timestamp(*unit, Some("+00:00".into())),
                    Conversion::Relabel,
                )
            } else if tz.starts_with('+') || tz.starts_with('-') {
                (field.data_type().clone(), Conversion::None)
            } else {
                match tz.parse::<Tz>() {
                    Ok(zone) => (DataType::Utf8, Conversion::Zone(zone)),
                    // An unknown zone name: arrow-csv reports it when opening.
                    Err(_) => (field.data_type().clone(), Conversion::None),
                }
            }
        }
        other => (other.clone(), Conversion::None),
    }
}

/// Options of a [`CsvFileSource`]; made by [`CsvFileSource::builder`].
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_schema::{DataType, Field, Schema};
/// use export_core::source::{Source, CsvFileSource};
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("products.csv");
/// std::fs::write(&path, "name;price\nchair;49.5\ntable;120\n").unwrap();
///
/// let schema = Arc::new(Schema::new(vec![
///     Field::new("price", DataType::Float64, true),
///     Field::new("name", DataType::Utf8, false),
/// ]));
/// let mut source = CsvFileSource::builder(schema.clone())
///     .delimiter(b';')
///     .batch_size(1)
///     .open(&path)
///     .unwrap();
/// let first = source.next_batch().unwrap().unwrap();
/// assert_eq!(first.schema(), schema); // columns in schema order, whatever the file's order
/// assert_eq!(first.num_rows(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct CsvFileSourceBuilder {
    schema: SchemaRef,
    delimiter: u8,
    quote: u8,
    has_header: bool,
    batch_size: usize,
    max_record_bytes: usize,
}

impl CsvFileSourceBuilder {
    /// The field delimiter; default `,`.
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// The quote character; default `"`.
    pub fn quote(mut self, quote: u8) -> Self {
        self.quote = quote;
        self
    }

    /// Whether the first line names the columns; default `true`. Without a header, the
    /// file's columns are the schema's flat (non-nested) fields in schema order.
    pub fn has_header(mut self, has_header: bool) -> Self {
        self.has_header = has_header;
        self
    }

    /// Rows per batch; default 8192 (0 is taken as 1).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Most bytes of one record (line ends excluded); default [`DEFAULT_MAX_RECORD_BYTES`]
    /// (0 is taken as 1). A longer record fails with [`ExportError::InvalidInput`] naming its
    /// line, so memory stays bounded whatever the input.
    pub fn max_record_bytes(mut self, bytes: usize) -> Self {
        self.max_record_bytes = bytes.max(1);
        self
    }

    /// Opens the file, reads and checks its header.
    ///
    /// # Errors
    ///
    /// - [`ExportError::InvalidInput`] naming the file, without line, when there is no file at
    ///   `path`;
    /// - [`ExportError::InvalidInput`] naming the file and the line when a record is longer
    ///   than [`CsvFileSourceBuilder::max_record_bytes`];
    /// - [`ExportError::Io`] with the path when the file cannot be opened or read;
    /// - [`ExportError::InvalidInput`] naming the file, line 1, when the header is not UTF-8,
    ///   names a column the schema lacks, repeats a column, names a nested column, or lacks a
    ///   flat column of the schema (the message lists the expected names), or when the file is
    ///   empty;
    /// - [`ExportError::InvalidInput`] without line when a nested field of the schema is
    ///   required (it cannot come from CSV).
    pub fn open(self, path: impl AsRef<Path>) -> Result<CsvFileSource> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let file = open_input_file(path)?;
        self.build(name, Some(path.to_path_buf()), Box::new(file))
    }

    /// Reads CSV from any stream (standard input, a socket, a decompressor), `name` naming it
    /// in errors. Same checks and errors as [`CsvFileSourceBuilder::open`], [`ExportError::Io`]
    /// then having no path.
    ///
    /// # Errors
    ///
    /// As [`CsvFileSourceBuilder::open`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_schema::{DataType, Field, Schema};
    /// use export_core::source::{Source, CsvFileSource};
    ///
    /// let schema = Arc::new(Schema::new(vec![Field::new("name", DataType::Utf8, false)]));
    /// let endless = std::io::repeat(b'a'); // one line that never ends
    /// let err = CsvFileSource::builder(schema)
    ///     .max_record_bytes(1000)
    ///     .from_reader("stdin", endless)
    ///     .unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "invalid input stdin at line 1: record longer than 1000 bytes (the max_record_bytes limit)"
    /// );
    /// ```
    pub fn from_reader(
        self,
        name: impl Into<String>,
        reader: impl Read + Send + 'static,
    ) -> Result<CsvFileSource> {
        self.build(name.into(), None, Box::new(reader))
    }

    fn build(self, name: String, path: Option<PathBuf>, input: Input) -> Result<CsvFileSource> {
        let mut limited =
            RecordLimit::new(input, self.max_record_bytes, self.delimiter, self.quote);
        let invalid = |line: Option<u64>, reason: String| ExportError::InvalidInput {
            source_name: name.clone(),
            line,
            reason,
        };

        let flat: Vec<&Field> = self
            .schema
            .fields()
            .iter()
            .map(|f| f.as_ref())
            .filter(|f| !is_nested(f.data_type()))
            .collect();
        if let Some(required) = self
            .schema
            .fields()
            .iter()
            .find(|f| is_nested(f.data_type()) && !f.is_nullable())
        {
            return Err(invalid(
                None,
                format!(
                    "field `{}` is a required nested field ({}), which CSV cannot hold",
                    required.name(),
                    required.data_type()
                ),
            ));
        }
        let expected = || {
            flat.iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };

        // The file's columns, in file order.
        // The bytes the header reader took, replayed to the record reader after it.
        let mut seen = Vec::new();
        let file_fields: Vec<Field> = if self.has_header {
            let mut recording = Recording {
                inner: &mut limited,
                seen: Vec::new(),
            };
            let header = self.read_header(&mut recording, path.as_deref(), &name)?;
            seen = recording.seen;
            let mut seen = std::collections::HashSet::new();
            let mut fields = Vec::with_capacity(header.len());
            for column in &header {
                let Ok(field) = self.schema.field_with_name(column) else {
                    return Err(invalid(
                        Some(1),
                        format!(
                            "unknown column `{column}` in header; expected: {}",
                            expected()
                        ),
                    ));
                };
                if is_nested(field.data_type()) {
                    return Err(invalid(
                        Some(1),
                        format!(
                            "column `{column}` is nested ({}) and cannot be read from CSV; \
                             remove it (it is filled with nulls)",
                            field.data_type()
                        ),
                    ));
                }
                if !seen.insert(column.as_str()) {
                    return Err(invalid(
                        Some(1),
                        format!("column `{column}` appears twice in header"),
                    ));
                }
                // Columns may be nullable in the file even when the schema requires them:
                // a missing value is then reported by the batch check below.
                let (data_type, _) = file_type(field);
                fields.push(Field::new(field.name(), data_type, true));
            }
            let missing: Vec<&str> = flat
                .iter()
                .map(|f| f.name().as_str())
                .filter(|n| !seen.contains(n))
                .collect();
            if !missing.is_empty() {
                return Err(invalid(
                    Some(1),
                    format!(
                        "header lacks column(s) {}; expected: {}",
                        missing.join(", "),
                        expected()
                    ),
                ));
            }
            fields
        } else {
            flat.iter()
                .map(|f| Field::new(f.name(), file_type(f).0, true))
                .collect()
        };
        let file_schema = Arc::new(Schema::new(file_fields));
        let origins = self
            .schema
            .fields()
            .iter()
            .map(|f| match file_schema.index_of(f.name()) {
                Ok(i) => Origin::File(i, file_type(f).1),
                Err(_) => Origin::Null,
            })
            .collect();

        let input: Input = Box::new(Cursor::new(seen).chain(limited));
        let reader = arrow_csv::ReaderBuilder::new(file_schema)
            .with_header(self.has_header)
            .with_delimiter(self.delimiter)
            .with_quote(self.quote)
            .with_batch_size(self.batch_size)
            .build_buffered(BufReader::with_capacity(1 << 16, input))
            .map_err(|e| csv_error(&name, path.as_deref(), e))?;
        Ok(CsvFileSource {
            name,
            path,
            schema: self.schema,
            origins,
            reader,
            done: false,
            next_line: if self.has_header { 2 } else { 1 },
        })
    }

    /// Reads the header record with the `csv` crate (which also drops a UTF-8 byte-order mark).
    fn read_header(
        &self,
        input: impl Read,
        path: Option<&Path>,
        name: &str,
    ) -> Result<Vec<String>> {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .quote(self.quote)
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        let mut record = csv::ByteRecord::new();
        let invalid = |reason: String| ExportError::InvalidInput {
            source_name: name.to_string(),
            line: Some(1),
            reason,
        };
        let found = reader.read_byte_record(&mut record).map_err(|e| {
            let text = e.to_string();
            match e.into_kind() {
                csv::ErrorKind::Io(io) => io_error(name, path, io),
                _ => invalid(format!("unreadable header: {}", excerpt(&text))),
            }
        })?;
        if !found {
            return Err(invalid("empty file, expected a header line".into()));
        }
        record
            .iter()
            .enumerate()
            .map(|(i, bytes)| {
                std::str::from_utf8(bytes)
                    .map(|s| s.trim().to_string())
                    .map_err(|_| invalid(format!("header field {} is not valid UTF-8", i + 1)))
            })
            .collect()
    }
}

/// A [`Source`] reading a CSV file into a given schema, one batch of rows at a time.
///
/// How columns are matched and how nested fields are handled is described below.
///
/// # Examples
///
/// ```
/// use export_core::schema::trip::input_schema;
/// use export_core::source::{Source, CsvFileSource};
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("trips.csv");
/// std::fs::write(&path, "journey_id,operator_journey_id,start_at,end_at\n\
///                        1,op-1,2026-10-03T08:20:00+02:00,2026-10-03T08:45:00+02:00\n").unwrap();
/// // Only some fields of the trip schema? Project the schema first.
/// let schema = std::sync::Arc::new(input_schema().project(&[0, 2, 8, 9]).unwrap());
/// let mut source = CsvFileSource::open(&path, schema).unwrap();
/// let batch = source.next_batch().unwrap().unwrap();
/// assert_eq!(batch.num_rows(), 1);
/// ```
///
/// The usual target is the trip input schema ([`crate::schema::trip::input_schema`]): instants
/// as RFC 3339 text (`2026-10-03T08:20:00+02:00` or `2026-10-03T06:20:00Z`), booleans as
/// `true`/`false`, numbers with a dot as decimal separator, empty fields as nulls.
///
/// # Columns
///
/// With a header (the default) columns are matched **by name** and may come in any order; every
/// header name must be a field of the schema and every flat field of the schema must be in the
/// header, otherwise opening fails with an error listing the expected names.
///
/// Nested fields (lists, structs, maps, such as the trip schema's `incentives` and
/// `rpc_incentives`) cannot be written in CSV: they must be absent from the header and are
/// filled with nulls when nullable (opening fails when such a field is required, or when the
/// header names it). Without a header the file's columns are the schema's flat fields, in
/// schema order.
///
/// # Line numbers
///
/// Errors carry the 1-based line of the offending record, the header being line 1. A quoted
/// field spanning several lines counts as one line, so after such a field the number is that
/// of the record, not of the physical line.
///
/// # Bounds
///
/// A record (a line, or several for a quoted field holding line ends) longer than
/// [`CsvFileSourceBuilder::max_record_bytes`] (default [`DEFAULT_MAX_RECORD_BYTES`], 1 MiB) is
/// refused with [`ExportError::InvalidInput`] naming its line, before it is held in memory: an
/// endless line (a link to `/dev/zero` named `.csv`) fails at once instead of filling memory.
/// Error messages quote at most 80 characters of a value or a row, followed by `…`.
pub struct CsvFileSource {
    name: String,
    path: Option<PathBuf>,
    schema: SchemaRef,
    origins: Vec<Origin>,
    reader: arrow_csv::reader::BufReader<BufReader<Input>>,
    done: bool,
    /// The line of the next data record.
    next_line: u64,
}

impl std::fmt::Debug for CsvFileSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvFileSource")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl CsvFileSource {
    /// Opens `path` with the default options (`,` delimiter, header, 8192 rows per batch).
    ///
    /// # Errors
    ///
    /// As [`CsvFileSourceBuilder::open`].
    pub fn open(path: impl AsRef<Path>, schema: SchemaRef) -> Result<CsvFileSource> {
        CsvFileSource::builder(schema).open(path)
    }

    /// A builder to set the delimiter, quote, header and batch size before opening.
    pub fn builder(schema: SchemaRef) -> CsvFileSourceBuilder {
        CsvFileSourceBuilder {
            schema,
            delimiter: b',',
            quote: b'"',
            has_header: true,
            batch_size: 8192,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        }
    }
}

impl Source for CsvFileSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// # Errors
    ///
    /// - [`ExportError::InvalidInput`] naming the file and the 1-based line when a line is not
    ///   UTF-8, has the wrong number of fields, or holds a value that does not parse as its
    ///   column's type (the reason names the column);
    /// - [`ExportError::InvalidInput`] naming the file and the line when a record is longer
    ///   than [`CsvFileSourceBuilder::max_record_bytes`];
    /// - [`ExportError::InvalidValue`] when a required column is empty;
    /// - [`ExportError::Io`] with the path when reading fails.
    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        if self.done {
            return Ok(None);
        }
        let batch = match self.reader.next() {
            None => {
                self.done = true;
                return Ok(None);
            }
            Some(Err(e)) => {
                self.done = true;
                return Err(self.map_error(e));
            }
            Some(Ok(batch)) => batch,
        };
        let rows = batch.num_rows();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.origins.len());
        for (field, origin) in self.schema.fields().iter().zip(&self.origins) {
            let column = match *origin {
                Origin::File(i, Conversion::None) => batch.column(i).clone(),
                Origin::File(i, Conversion::Relabel) => {
                    arrow_cast::cast(batch.column(i), field.data_type())?
                }
                Origin::File(i, Conversion::Zone(tz)) => {
                    self.parse_zoned(batch.column(i), field, tz)?
                }
                Origin::Null => new_null_array(field.data_type(), rows),
            };
            if !field.is_nullable() && column.null_count() > 0 {
                let row = (0..rows).find(|&r| column.is_null(r)).unwrap_or(0);
                return Err(ExportError::InvalidValue {
                    column: field.name().clone(),
                    row,
                    reason: format!("empty value in a required column of {}", self.name),
                });
            }
            columns.push(column);
        }
        self.next_line += rows as u64;
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(Some(RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &options,
        )?))
    }
}

impl CsvFileSource {
    /// Parses a text column into the timestamps of `field`, local times being in `tz`.
    fn parse_zoned(&self, column: &ArrayRef, field: &Field, tz: Tz) -> Result<ArrayRef> {
        let DataType::Timestamp(unit, _) = field.data_type() else {
            return Ok(column.clone());
        };
        let text = column.as_string::<i32>();
        let mut values = Vec::with_capacity(text.len());
        for (row, value) in text.iter().enumerate() {
            let Some(value) = value else {
                values.push(None);
                continue;
            };
            let instant = arrow_cast::parse::string_to_datetime(&tz, value)
                .ok()
                .and_then(|t| match unit {
                    TimeUnit::Second => Some(t.timestamp()),
                    TimeUnit::Millisecond => Some(t.timestamp_millis()),
                    TimeUnit::Microsecond => Some(t.timestamp_micros()),
                    TimeUnit::Nanosecond => t.timestamp_nanos_opt(),
                })
                .ok_or_else(|| ExportError::InvalidInput {
                    source_name: self.name.clone(),
                    line: Some(self.next_line + row as u64),
                    reason: format!(
                        "column `{}`: `{}` is not a date-time (RFC 3339 expected)",
                        field.name(),
                        excerpt(value)
                    ),
                })?;
            values.push(Some(instant));
        }
        let array = arrow_array::Int64Array::from(values);
        Ok(arrow_cast::cast(&array, field.data_type())?)
    }

    fn map_error(&self, error: ArrowError) -> ExportError {
        let file_schema = self.reader.schema();
        let column_name = |index: usize| {
            file_schema
                .fields()
                .get(index)
                .map(|f| f.name().clone())
                .unwrap_or_else(|| format!("#{}", index + 1))
        };
        match error {
            ArrowError::IoError(_, source) => io_error(&self.name, self.path.as_deref(), source),
            ArrowError::CsvError(message) => {
                // Record-level errors count records from 1, the header included.
                let line = number_after(&message, "line ");
                let reason = if message.contains("invalid UTF-8") {
                    match number_after(&message, "field ") {
                        Some(field) => format!(
                            "invalid UTF-8 in column `{}`; the file must be UTF-8 encoded",
                            column_name((field as usize).saturating_sub(1))
                        ),
                        None => "invalid UTF-8; the file must be UTF-8 encoded".to_string(),
                    }
                } else {
                    excerpt(&message)
                };
                ExportError::InvalidInput {
                    source_name: self.name.clone(),
                    line,
                    reason,
                }
            }
            ArrowError::ParseError(message) => {
                // Value-level errors count data rows from 0 after the header (that is, the
                // 0-based line): shift to 1-based lines.
                let line = number_after(&message, "at line ").map(|l| l + 1);
                let column = number_after(&message, "column ").map(|c| column_name(c as usize));
                let message = shorten_parse_error(&message);
                let reason = match column {
                    Some(c) => format!("column `{c}`: {message}"),
                    None => message,
                };
                ExportError::InvalidInput {
                    source_name: self.name.clone(),
                    line,
                    reason,
                }
            }
            other => csv_error(&self.name, self.path.as_deref(), other),
        }
    }
}

fn csv_error(name: &str, path: Option<&Path>, error: ArrowError) -> ExportError {
    match error {
        ArrowError::IoError(_, source) => io_error(name, path, source),
        other => ExportError::InvalidInput {
            source_name: name.to_string(),
            line: None,
            reason: excerpt(&other.to_string()),
        },
    }
}

/// A read error: the record limit's becomes [`ExportError::InvalidInput`] at its line.
fn io_error(name: &str, path: Option<&Path>, error: io::Error) -> ExportError {
    match RecordTooLong::of(&error) {
        Some(too_long) => ExportError::InvalidInput {
            source_name: name.to_string(),
            line: Some(too_long.line),
            reason: too_long.to_string(),
        },
        None => ExportError::Io {
            path: path.map(Path::to_path_buf),
            source: error,
        },
    }
}

/// arrow-csv's `Error while parsing value '<value>' as type '<type>' for column <c> at line
/// <l>. Row data: '<row>'` quotes the whole value and row, which may be a megabyte: keep short
/// excerpts of both.
fn shorten_parse_error(message: &str) -> String {
    const VALUE: &str = "Error while parsing value '";
    const ROW: &str = ". Row data: '";
    let parts = message.strip_prefix(VALUE).and_then(|rest| {
        let (value, rest) = rest.split_once("' as type '")?;
        let (kind, rest) = rest.split_once('\'')?;
        let row = rest.split_once(ROW)?.1.strip_suffix('\'')?;
        Some((value, kind, row))
    });
    match parts {
        Some((value, kind, row)) => format!(
            "cannot parse '{}' as {kind} (row: '{}')",
            excerpt(value),
            excerpt(row)
        ),
        None => excerpt(message),
    }
}

/// The number right after the first `prefix` in `message`.
fn number_after(message: &str, prefix: &str) -> Option<u64> {
    let start = message.find(prefix)? + prefix.len();
    let digits: &str = &message[start..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

fn is_nested(data_type: &DataType) -> bool {
    data_type.is_nested()
}

#[cfg(test)]
mod tests {
    use super::number_after;

    #[test]
    fn numbers_in_arrow_messages() {
        let m = "Encountered invalid UTF-8 data for line 3 and field 2";
        assert_eq!(number_after(m, "line "), Some(3));
        assert_eq!(number_after(m, "field "), Some(2));
        let p =
            "Error while parsing value 'x' as type 'Int64' for column 0 at line 4. Row data: '[x]'";
        assert_eq!(number_after(p, "at line "), Some(4));
        assert_eq!(number_after(p, "column "), Some(0));
        assert_eq!(number_after("nothing", "line "), None);
    }
}
