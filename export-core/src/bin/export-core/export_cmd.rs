//! `export-core export`: one export to a file, with a progress bar on a terminal.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use export_core::Result;
use export_core::export::Exporter;
use export_core::request::{Compression, ExportRequest, Format, Period};
use export_core::schema::FieldSelection;
use export_core::schema::trip;
use export_core::source::Source;
use export_core::source::csv_file::CsvFileSource;
use export_core::source::ipc::IpcSource;
use export_core::source::sample::{SampleConfig, SampleTrips};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Args)]
pub struct ExportArgs {
    /// Schema: `trip`.
    #[arg(long, default_value = "trip")]
    schema: String,
    /// Trip schema version: v2 (CSV) or v3 (XLSX).
    #[arg(long, default_value = "v3")]
    version: String,
    /// Audience: opendata, operator or territory.
    #[arg(long)]
    audience: String,
    /// Output format: csv, xlsx, json or jsonl.
    #[arg(long)]
    format: String,
    /// Period start (YYYY-MM-DD or RFC 3339); default: the previous calendar month.
    #[arg(long, requires = "end")]
    start: Option<String>,
    /// Period end, excluded.
    #[arg(long, requires = "start")]
    end: Option<String>,
    /// Time zone of the period and of local times in the file.
    #[arg(long, default_value = "Europe/Paris")]
    tz: String,
    /// Number of sample trips to generate (when no --input is given).
    #[arg(long, default_value_t = 100_000)]
    rows: u64,
    /// Seed of the sample-trip generator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Read trips from an Arrow IPC (.arrow, .ipc, .feather) or CSV (.csv) file instead.
    #[arg(long)]
    input: Option<PathBuf>,
    /// Output file; it appears only once complete.
    #[arg(long)]
    out: PathBuf,
    /// Keep only these fields (comma-separated).
    #[arg(long, value_delimiter = ',')]
    fields: Vec<String>,
    /// Drop these fields (comma-separated).
    #[arg(long, value_delimiter = ',')]
    exclude: Vec<String>,
    /// Start CSV files with a UTF-8 byte-order mark.
    #[arg(long)]
    bom: bool,
    /// Data rows per XLSX sheet before continuing on a new sheet.
    #[arg(long)]
    sheet_rows: Option<u32>,
    /// Write JSON Lines (with --format json).
    #[arg(long)]
    json_lines: bool,
    /// Pretty-print JSON.
    #[arg(long)]
    pretty: bool,
    /// Wrap the file: none, gzip or zip.
    #[arg(long, default_value = "none")]
    compression: String,
    /// Do not neutralise formula-like cells.
    #[arg(long)]
    no_formula_guard: bool,
    /// No progress bar, only the final line.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: ExportArgs) -> Result<()> {
    let mut format: Format = args.format.parse()?;
    if args.json_lines && format == Format::Json {
        format = Format::JsonLines;
    }
    let mut request = ExportRequest::new(args.schema.clone(), format);
    request.version = Some(args.version.parse()?);
    request.audience = Some(args.audience.parse()?);
    if let (Some(start), Some(end)) = (&args.start, &args.end) {
        request.period = Some(Period::parse(start, end, Some(&args.tz))?);
    } else {
        let tz = export_core::temporal::parse_time_zone(&args.tz)?;
        request.period = Some(Period::previous_month(chrono::Utc::now(), tz));
    }
    request.fields = FieldSelection {
        include: args.fields.clone(),
        exclude: args.exclude.clone(),
        ..Default::default()
    };
    request.options.bom = args.bom;
    request.options.sheet_rows = args.sheet_rows;
    request.options.pretty = args.pretty;
    request.options.formula_guard = !args.no_formula_guard;
    request.options.compression = args.compression.parse::<Compression>()?;

    let bar = progress_bar(args.quiet);
    let mut builder = Exporter::builder(request);
    if let Some(bar) = &bar {
        let bar = bar.clone();
        builder = builder.progress(Arc::new(move |p| {
            if let Some(total) = p.rows_expected {
                bar.set_length(total);
            }
            bar.set_position(p.rows_read);
        }));
    }
    let exporter = builder.build()?;
    let period = *exporter.period().expect("trip exports have a period");

    let mut source: Box<dyn Source> = match &args.input {
        Some(path) => open_input(path)?,
        None => Box::new(SampleTrips::new(SampleConfig {
            rows: args.rows,
            seed: args.seed,
            start: period.start,
            end: period.end,
            ..Default::default()
        })?),
    };
    let started = Instant::now();
    let report = exporter.run_to_path(source.as_mut(), &args.out)?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}: {} rows written ({} read, {:.1} MB) in {:.2}s",
        args.out.display(),
        report.rows_written,
        report.rows_read,
        report.bytes as f64 / 1e6,
        secs
    );
    if let Some(p) = report.privacy {
        println!(
            "opendata privacy: {} trips exposed, {} removed as rare zones (fewer than {} trips)",
            p.exposed, p.removed_rare_zones, p.threshold
        );
    }
    Ok(())
}

fn open_input(path: &std::path::Path) -> Result<Box<dyn Source>> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "csv" => Ok(Box::new(CsvFileSource::open(path, trip::input_schema())?)),
        _ => Ok(Box::new(IpcSource::open(path)?)),
    }
}

fn progress_bar(quiet: bool) -> Option<ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} rows ({per_sec}, {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}
