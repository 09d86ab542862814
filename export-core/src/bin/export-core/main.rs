//! `export-core`: the admin command line of the export engine.
//!
//! Every failure prints one line, `error: ...`, and exits non-zero: 2 for bad input (a request,
//! a field, a period, an input file), 1 for everything else.
//!
//! Diagnostics (the library's `tracing` events: jobs claimed, completed and failed, leases lost,
//! schedules fired, purge counts, ...) go to standard error: warnings and errors only by default,
//! so the normal output is unchanged; `-v` adds `info`, `-vv` `debug`, `-vvv` `trace` (of every
//! crate); `RUST_LOG` (`RUST_LOG=export_core::worker=debug`), when set, overrides the flag.
//!
//! When standard output is a pipe closed by its reader (`export-core jobs list | head -1`), the
//! command stops quietly with status 0, as `head`'s writer would want: no panic, no message.

/// `println!` for the whole binary, shadowing the standard one (this macro is defined before the
/// modules, so they all use it): the standard one panics with exit status 101 when standard
/// output is a closed pipe; this one ends the process quietly with status 0 instead.
macro_rules! println {
    () => {
        $crate::print_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::print_line(format_args!($($arg)*))
    };
}

mod backend;
mod convert_cmd;
mod datasets_cmd;
mod export_cmd;
mod jobs_cmd;
mod platforms_cmd;
mod purge_cmd;
mod request_args;
mod scheduler_cmd;
mod schedules_cmd;
mod schema_cmd;
mod serve_cmd;
mod worker_cmd;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use export_core::ExportError;

#[derive(Parser)]
#[command(
    name = "export-core",
    version,
    about = "Streaming CSV, XLSX and JSON exports"
)]
struct Cli {
    /// More diagnostics on standard error: -v info, -vv debug, -vvv trace (RUST_LOG, when set,
    /// overrides this).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one export to a file: a dataset (`--dataset`; default the trips, sample ones unless the
    /// configuration gives them), or an Arrow IPC / CSV input of trips.
    Export(Box<export_cmd::ExportArgs>),
    /// Convert an Arrow IPC, Parquet or CSV file to CSV, XLSX, JSON or JSON Lines.
    Convert(Box<convert_cmd::ConvertArgs>),
    /// The datasets the configuration exports.
    Datasets(Box<datasets_cmd::DatasetsArgs>),
    /// Print the columns of a trip schema version and audience.
    Schema(schema_cmd::SchemaArgs),
    /// Run background export jobs from a SQLite file (--db) or PostgreSQL (--pg-url).
    Worker(Box<worker_cmd::WorkerArgs>),
    /// Export jobs as a user: create, list, show, status, cancel, download, delete.
    Jobs(Box<jobs_cmd::JobsArgs>),
    /// Delete files whose retention has passed and anonymise their jobs (--dry-run to list).
    Purge(Box<purge_cmd::PurgeArgs>),
    /// Recurring exports: create, list, show, toggle, delete, next fire times, the monthly opendata export.
    Schedules(Box<schedules_cmd::SchedulesArgs>),
    /// Run the scheduler: turn due schedules into jobs and follow them.
    Scheduler(Box<scheduler_cmd::SchedulerArgs>),
    /// Export platforms (named presets): create, list, show, delete.
    Platforms(Box<platforms_cmd::PlatformsArgs>),
    /// Serve both seeds' HTTP APIs, with a worker, the scheduler and the purge beside them.
    Serve(Box<serve_cmd::ServeArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let result = match cli.command {
        Command::Export(args) => export_cmd::run(*args),
        Command::Convert(args) => convert_cmd::run(*args),
        Command::Datasets(args) => datasets_cmd::run(*args),
        Command::Schema(args) => schema_cmd::run(args),
        Command::Worker(args) => worker_cmd::run(*args),
        Command::Jobs(args) => jobs_cmd::run(*args),
        Command::Purge(args) => purge_cmd::run(*args),
        Command::Schedules(args) => schedules_cmd::run(*args),
        Command::Scheduler(args) => scheduler_cmd::run(*args),
        Command::Platforms(args) => platforms_cmd::run(*args),
        Command::Serve(args) => serve_cmd::run(*args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of standard output left (`| head`): nothing more to say to anyone.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(exit_code(&err))
        }
    }
}

/// The filter of the diagnostics for `-v` given `verbose` times: the library's events from
/// `info` (one `-v`) or `debug` (two) on, other crates' from `warn`; everything at three.
fn default_filter(verbose: u8) -> &'static str {
    match verbose {
        0 => "warn",
        1 => "warn,export_core=info",
        2 => "warn,export_core=debug",
        _ => "trace",
    }
}

/// Installs the subscriber writing `tracing` events to standard error, filtered by `RUST_LOG`
/// when it is set (an invalid one is reported and the `-v` level used), else by `-v`.
fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(&spec).unwrap_or_else(|e| {
            eprintln!("warning: ignoring RUST_LOG `{spec}`: {e}");
            EnvFilter::new(default_filter(verbose))
        }),
        _ => EnvFilter::new(default_filter(verbose)),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Writes one line to standard output; a closed pipe ends the process quietly (status 0), any
/// other write error with one line and status 1.
fn print_line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let written = out
        .write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("error: cannot write to standard output: {e}");
            std::process::exit(1);
        }
    }
}

/// True when `err` comes from writing to a pipe whose reader is gone.
fn is_broken_pipe(err: &ExportError) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::BrokenPipe
        {
            return true;
        }
        source = e.source();
    }
    false
}

/// 2 for input the user can fix, 1 for the rest.
fn exit_code(err: &ExportError) -> u8 {
    match err {
        ExportError::Io { .. }
        | ExportError::Store { .. }
        | ExportError::Storage(_)
        | ExportError::Encode { .. } => 1,
        _ => 2,
    }
}
