//! `export-core export`: one export to a file (or standard output), with a progress bar on a
//! terminal, audited (an `export` event naming `--as`, with the row count) in the backend's
//! audit log before the file appears.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use export_core::export::{ExportReport, Exporter};
use export_core::job::Owner;
use export_core::output::{AtomicFile, check_not_input};
use export_core::request::Period;
use export_core::schema::trip;
use export_core::source::IpcSource;
use export_core::source::Source;
use export_core::source::{CsvFileSource, DEFAULT_MAX_RECORD_BYTES};
use export_core::{ExportError, Result};
use indicatif::{ProgressBar, ProgressStyle};

use crate::backend::BackendArgs;
use crate::request_args::RequestArgs;

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    request: RequestArgs,
    /// Where the export is audited: the job database (--db, --pg-url) or --audit-log.
    #[command(flatten)]
    backend: BackendArgs,
    /// The user the export is audited for (default: $USER).
    #[arg(long = "as", value_name = "USER", env = "USER", default_value = "cli")]
    as_user: String,
    /// The user's organisation.
    #[arg(long)]
    org: Option<String>,
    /// Number of sample trips to generate (when no --input is given and the configuration
    /// has no `[datasets.trip]`).
    #[arg(long, default_value_t = 100_000)]
    rows: u64,
    /// Seed of the sample-trip generator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Read trips from an Arrow IPC (.arrow, .ipc, .feather) or CSV (.csv) file instead.
    #[arg(long)]
    input: Option<PathBuf>,
    /// Most bytes of one CSV input record; a longer one is refused with its line number.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_RECORD_BYTES)]
    max_record_bytes: usize,
    /// Output file, which appears only once complete and replaces only a regular file; `-`
    /// streams to standard output (no temporary file; the summary goes to standard error).
    #[arg(long, value_name = "FILE|-")]
    out: PathBuf,
    /// No progress bar, only the final line.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: ExportArgs) -> Result<()> {
    let trip = args.request.is_trip();
    let request = args
        .request
        .to_request(trip.then_some(Period::previous_month as _))?;
    if args.input.is_some() && !trip {
        return Err(ExportError::request(
            "input",
            "--input reads trips; other datasets read the source their configuration gives",
        ));
    }

    let bar = progress_bar(args.quiet);
    let actor = Owner {
        user_id: args.as_user.clone(),
        organisation_id: args.org.clone(),
    };
    let (rows, seed) = (args.rows, args.seed);
    let engine = args.backend.open_with(|config| {
        // The sample trips, when no `[datasets.trip]` replaces them.
        config.sources.sample_rows = rows;
        config.sources.sample_seed = seed;
    })?;
    let mut builder = engine
        .exporter(actor, request)?
        .audit_detail(format!("cli export to {}", args.out.display()));
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

    let to_stdout = args.out.as_os_str() == "-";
    if let Some(input) = &args.input
        && !to_stdout
    {
        // Before anything is written: publishing over the input destroys it.
        check_not_input(input, &args.out)?;
    }
    let mut sources: Vec<Box<dyn Source>> = match &args.input {
        Some(path) => vec![open_input(path, args.max_record_bytes)?],
        None => {
            let name = &exporter.request().schema;
            let dataset = engine.datasets().get(name).ok_or_else(|| {
                ExportError::request(
                    "schema",
                    format!(
                        "no dataset `{name}`; the configuration has {}",
                        engine.datasets().names().join(", ")
                    ),
                )
            })?;
            let mut resolved = exporter.request().clone();
            resolved.period = exporter.period().copied().or(resolved.period);
            dataset.open(&resolved)?
        }
    };
    let started = Instant::now();
    let report = if to_stdout {
        to_standard_output(&exporter, &mut sources)?
    } else if let [source] = sources.as_mut_slice() {
        exporter.run_to_path(source.as_mut(), &args.out)?
    } else {
        // One source per sheet (a multi-sheet dataset): the same all-or-nothing file.
        let file = AtomicFile::create(&args.out)?;
        let (report, file) = exporter.run_sheets(sheet_refs(&mut sources), file)?;
        file.commit()?;
        report
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let secs = started.elapsed().as_secs_f64();
    let summary = format!(
        "{}: {} rows written ({} read, {:.1} MB) in {:.2}s",
        if to_stdout {
            "standard output".to_string()
        } else {
            args.out.display().to_string()
        },
        report.rows_written,
        report.rows_read,
        report.bytes as f64 / 1e6,
        secs
    );
    let privacy = report.privacy.map(|p| {
        format!(
            "opendata privacy: {} trips exposed, {} removed as rare zones (fewer than {} trips)",
            p.exposed, p.removed_rare_zones, p.threshold
        )
    });
    for line in std::iter::once(summary).chain(privacy) {
        // Standard output holds the file itself.
        if to_stdout {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
    Ok(())
}

/// Streams the export to standard output: every format is written in order, XLSX included, so
/// no temporary file is needed.
fn to_standard_output(
    exporter: &Exporter,
    sources: &mut [Box<dyn Source>],
) -> Result<ExportReport> {
    let out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout());
    let (report, mut out) = exporter.run_sheets(sheet_refs(sources), out)?;
    out.flush().map_err(ExportError::from)?;
    Ok(report)
}

fn sheet_refs(sources: &mut [Box<dyn Source>]) -> Vec<&mut dyn Source> {
    sources
        .iter_mut()
        .map(|s| s.as_mut() as &mut dyn Source)
        .collect()
}

fn open_input(path: &Path, max_record_bytes: usize) -> Result<Box<dyn Source>> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "csv" => Ok(Box::new(
            CsvFileSource::builder(trip::input_schema())
                .max_record_bytes(max_record_bytes)
                .open(path)?,
        )),
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
