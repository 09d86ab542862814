//! `export-core convert`: any Arrow IPC, Parquet or CSV file to CSV, XLSX, JSON or JSON Lines,
//! streamed batch by batch (constant memory), with field selection, renames and the sink options.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use arrow_schema::{DataType, Field, Schema, SchemaRef};
use clap::Args;
use export_core::output::check_not_input;
use export_core::request::{Compression, Format};
use export_core::source::IpcSource;
use export_core::source::ParquetSource;
use export_core::source::Source;
use export_core::source::{CsvFileSource, DEFAULT_MAX_RECORD_BYTES};
use export_core::write::{Control, Sheet, WriteOptions, write_path};
use export_core::{ExportError, Result};

#[derive(Args)]
pub struct ConvertArgs {
    /// Input file: Arrow IPC (file or stream), Parquet or CSV.
    #[arg(long)]
    input: PathBuf,
    /// Input kind: ipc, parquet or csv; default from the extension (.parquet/.pq, .csv/.tsv,
    /// else Arrow IPC).
    #[arg(long)]
    input_format: Option<String>,
    /// Output format: csv, xlsx, json or jsonl.
    #[arg(long)]
    format: String,
    /// Output file; it appears only once complete.
    #[arg(long)]
    out: PathBuf,
    /// Keep only these columns, in this order (comma-separated). Parquet reads only these.
    #[arg(long, value_delimiter = ',')]
    fields: Vec<String>,
    /// Rename columns: OLD=NEW (comma-separated or repeated), applied after --fields.
    #[arg(long, value_delimiter = ',')]
    rename: Vec<String>,
    /// CSV input: field delimiter (default `,`; `\t` for .tsv).
    #[arg(long)]
    input_delimiter: Option<char>,
    /// CSV input: the type of a column, NAME=TYPE in Arrow's notation (Int64, Float64, Utf8,
    /// Boolean, Date32, `Timestamp(ms, "UTC")`); repeat for several. Other columns are inferred
    /// from the first 1,000 rows.
    #[arg(long = "csv-type")]
    csv_types: Vec<String>,
    /// Rows per batch read from the input.
    #[arg(long, default_value_t = 8192)]
    batch_size: usize,
    /// Most bytes of one CSV input record; a longer one is refused with its line number.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_RECORD_BYTES)]
    max_record_bytes: usize,
    /// Threads formatting CSV and JSON (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// CSV output: field delimiter.
    #[arg(long, default_value_t = ',')]
    delimiter: char,
    /// CSV output: quoting: necessary, always, non-numeric or never.
    #[arg(long, default_value = "necessary")]
    quote_style: String,
    /// CSV output: no header row.
    #[arg(long)]
    no_header: bool,
    /// CSV output: start with a UTF-8 byte-order mark.
    #[arg(long)]
    bom: bool,
    /// CSV output: end lines with CRLF.
    #[arg(long)]
    crlf: bool,
    /// CSV output: text written for nulls.
    #[arg(long, default_value = "")]
    null: String,
    /// CSV output: texts of true and false, TRUE,FALSE.
    #[arg(long)]
    bool_values: Option<String>,
    /// CSV output: decimal separator of floats.
    #[arg(long, default_value_t = '.')]
    decimal_separator: char,
    /// CSV output: strftime format of timestamps (default RFC 3339).
    #[arg(long)]
    timestamp_format: Option<String>,
    /// CSV output: strftime format of dates (default %Y-%m-%d).
    #[arg(long)]
    date_format: Option<String>,
    /// CSV output: strftime format of times of day (default %H:%M:%S).
    #[arg(long)]
    time_format: Option<String>,
    /// CSV and XLSX: do not neutralise formula-like cells.
    #[arg(long)]
    no_formula_guard: bool,
    /// JSON: indent the array.
    #[arg(long)]
    pretty: bool,
    /// JSON: leave null members out of objects.
    #[arg(long)]
    no_nulls: bool,
    /// XLSX: data rows per sheet before continuing on a new sheet.
    #[arg(long)]
    sheet_rows: Option<u32>,
    /// CSV and JSON: none, gzip or zip.
    #[arg(long, default_value = "none")]
    compression: String,
    /// No summary line.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: ConvertArgs) -> Result<()> {
    let format: Format = args.format.parse()?;
    // Before anything is written: publishing over the input destroys it.
    check_not_input(&args.input, &args.out)?;
    let options = write_options(&args)?;
    let source = open_input(&args)?;
    let started = Instant::now();
    let summary = write_path(
        format,
        vec![Sheet { name: None, source }],
        &options,
        &Control::default(),
        &args.out,
    )?;
    if !args.quiet {
        println!(
            "{}: {} rows written ({:.1} MB) in {:.2}s",
            args.out.display(),
            summary.rows,
            summary.bytes as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// The flags as the plain writer's options (the same names as the bindings' keywords).
fn write_options(args: &ConvertArgs) -> Result<WriteOptions> {
    let mut rename = BTreeMap::new();
    for spec in &args.rename {
        let (old, new) = spec
            .split_once('=')
            .ok_or_else(|| ExportError::request("rename", format!("`{spec}` is not OLD=NEW")))?;
        rename.insert(old.to_string(), new.to_string());
    }
    let bool_values = match &args.bool_values {
        Some(words) => {
            let (t, f) = words.split_once(',').ok_or_else(|| {
                ExportError::request("bool_values", format!("`{words}` is not TRUE,FALSE"))
            })?;
            Some((t.to_string(), f.to_string()))
        }
        None => None,
    };
    Ok(WriteOptions {
        fields: args.fields.clone(),
        rename,
        bom: args.bom,
        delimiter: Some(args.delimiter),
        quote_style: Some(args.quote_style.clone()),
        header: Some(!args.no_header),
        crlf: args.crlf,
        null: Some(args.null.clone()),
        bool_values,
        decimal_separator: Some(args.decimal_separator),
        timestamp_format: args.timestamp_format.clone(),
        date_format: args.date_format.clone(),
        time_format: args.time_format.clone(),
        formula_guard: Some(!args.no_formula_guard),
        pretty: args.pretty,
        explicit_nulls: Some(!args.no_nulls),
        sheet_rows: args.sheet_rows,
        compression: Some(args.compression.parse::<Compression>()?),
        threads: args.threads,
        ..WriteOptions::default()
    })
}

fn open_input(args: &ConvertArgs) -> Result<Box<dyn Source>> {
    let ext = args
        .input
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let kind = match &args.input_format {
        Some(kind) => kind.to_ascii_lowercase(),
        None => match ext.as_str() {
            "parquet" | "pq" => "parquet".into(),
            "csv" | "tsv" => "csv".into(),
            _ => "ipc".into(),
        },
    };
    match kind.as_str() {
        "ipc" | "arrow" => Ok(Box::new(IpcSource::open(&args.input)?)),
        "parquet" => {
            let mut builder = ParquetSource::builder().batch_size(args.batch_size);
            if !args.fields.is_empty() {
                builder = builder.columns(args.fields.iter().cloned());
            }
            Ok(Box::new(builder.open(&args.input)?))
        }
        "csv" => {
            let delimiter = args
                .input_delimiter
                .unwrap_or(if ext == "tsv" { '\t' } else { ',' });
            let delimiter = ascii("input_delimiter", delimiter)?;
            let schema = csv_schema(&args.input, delimiter, &args.csv_types)?;
            Ok(Box::new(
                CsvFileSource::builder(schema)
                    .delimiter(delimiter)
                    .batch_size(args.batch_size)
                    .max_record_bytes(args.max_record_bytes)
                    .open(&args.input)?,
            ))
        }
        other => Err(ExportError::request(
            "input_format",
            format!("unknown input format `{other}`; expected one of: ipc, parquet, csv"),
        )),
    }
}

/// The CSV file's columns: inferred from its first 1,000 rows, then `NAME=TYPE` overrides.
fn csv_schema(path: &Path, delimiter: u8, types: &[String]) -> Result<SchemaRef> {
    let file = std::fs::File::open(path).map_err(|e| ExportError::io(path, e))?;
    let (inferred, _) = arrow_csv::reader::Format::default()
        .with_header(true)
        .with_delimiter(delimiter)
        .infer_schema(std::io::BufReader::new(file), Some(1000))
        .map_err(|e| ExportError::InvalidInput {
            source_name: path.display().to_string(),
            line: None,
            reason: format!("cannot infer the CSV columns: {e}"),
        })?;
    let mut fields: Vec<Field> = inferred
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    // arrow-csv infers zone-less timestamps even for `...+02:00` or `...Z` texts: read those as
    // instants (written back in UTC) rather than dropping their offset.
    let zoned = zoned_columns(path, delimiter)?;
    for (field, zoned) in fields.iter_mut().zip(zoned) {
        if let (DataType::Timestamp(unit, None), true) = (field.data_type(), zoned) {
            let data_type = DataType::Timestamp(*unit, Some("UTC".into()));
            *field = field.clone().with_data_type(data_type);
        }
    }
    for spec in types {
        let (name, ty) = spec.split_once('=').ok_or_else(|| {
            ExportError::request("csv_type", format!("`{spec}` is not NAME=TYPE"))
        })?;
        let data_type = DataType::from_str(ty.trim()).map_err(|e| {
            ExportError::request("csv_type", format!("`{ty}` is not an Arrow type: {e}"))
        })?;
        let field = fields
            .iter_mut()
            .find(|f| f.name() == name)
            .ok_or_else(|| {
                ExportError::request("csv_type", format!("the CSV file has no column `{name}`"))
            })?;
        *field = field.clone().with_data_type(data_type);
    }
    Ok(Arc::new(Schema::new(fields)))
}

/// For each column of the CSV file: whether its first non-empty value among the first 1,000
/// rows ends with a UTC offset (`Z`, `+02:00`, `-0530`).
fn zoned_columns(path: &Path, delimiter: u8) -> Result<Vec<bool>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_path(path)
        .map_err(|e| ExportError::InvalidInput {
            source_name: path.display().to_string(),
            line: None,
            reason: e.to_string(),
        })?;
    let mut seen: Vec<Option<bool>> = Vec::new();
    for record in reader.byte_records().take(1000) {
        let Ok(record) = record else { break };
        seen.resize(seen.len().max(record.len()), None);
        for (slot, value) in seen.iter_mut().zip(record.iter()) {
            if slot.is_none() && !value.is_empty() {
                *slot = Some(has_offset(value));
            }
        }
    }
    Ok(seen.into_iter().map(|s| s.unwrap_or(false)).collect())
}

fn has_offset(text: &[u8]) -> bool {
    if text.ends_with(b"Z") || text.ends_with(b"z") {
        return true;
    }
    let n = text.len();
    let sign_at = |i: usize| n > i && matches!(text[n - i - 1], b'+' | b'-');
    // `+HH:MM`, `+HHMM`, `+HH` after a time of day.
    (sign_at(5) && text[n - 3] == b':')
        || sign_at(4)
        || (sign_at(2) && text[..n - 3].contains(&b':'))
}

fn ascii(field: &'static str, c: char) -> Result<u8> {
    u8::try_from(c)
        .ok()
        .filter(u8::is_ascii)
        .ok_or_else(|| ExportError::request(field, format!("`{c}` is not an ASCII character")))
}
