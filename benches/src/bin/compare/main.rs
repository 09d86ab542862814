//! export-core against its peers, in one run, on the same data.
//!
//! ```text
//! cargo run --release -p export-core-benches --bin compare -- --rows 1000000
//! ```
//!
//! The 10-column data of `TARGETS.md` is made once, outside any timing, and written to a work
//! directory as Arrow IPC, Parquet and CSV. Every line then runs in its own process (so its peak
//! RSS is its own): it loads the data into memory before its clock starts, writes its output to
//! a file in the work directory `--reps` times, and reports the fastest run. Each output is then
//! read back (row count) and deleted.
//!
//! Peers: the `csv` crate, `serde_json`, raw `rust_xlsxwriter` (Rust, in this binary); polars
//! `write_csv` / `write_ndjson` / `write_excel`, pandas `to_csv` / `to_excel`, Python `csv`,
//! XlsxWriter and openpyxl write-only (a virtualenv); exceljs and csv-stringify (Node). The
//! Python and Node peers are installed by `benches/peers/setup.sh` (run by this command) into
//! `$HOME/.cache/export-core/bench-venv` and `$HOME/.cache/export-core/bench-node`.
//!
//! Options: `--rows N` (default 1,000,000); `--slow-rows N` (rows for the peers that write
//! under ~0.2M cells/s: Python and Node XLSX, Python and Node CSV; default 100,000); `--reps N`
//! (default 3; slow peers run once); `--threads N` (export-core's and polars' threads, default
//! every core); `--only csv,json,xlsx,python,node` (default all); `--dir DIR` (work directory,
//! default a new one under `/dev/shm`, else the temp directory); `--no-install` (skip the
//! setup script, use what is installed).

mod check;
mod rust_lines;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use export_core::sink::Sink;
use export_core::sink::csv::CsvSinkBuilder;
use export_core_benches::{COLUMNS, arg, rows_option, ten_columns};

/// One timed line of the table.
struct Line {
    group: &'static str,
    name: String,
    rows: u64,
    secs: f64,
    bytes: u64,
    rss_kib: u64,
    check: String,
}

impl Line {
    fn rows_per_s(&self) -> f64 {
        self.rows as f64 / self.secs
    }
}

/// A line to run: the command, the group, the label, the output file name, rows, reps.
struct Plan {
    group: &'static str,
    name: String,
    command: Command,
    out: PathBuf,
    rows: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let get = |flag: &str| arg(flag).unwrap_or_else(|| panic!("--child needs --{flag}"));
        rust_lines::child(
            &args[i + 1],
            Path::new(&get("data")),
            Path::new(&get("out")),
            get("rows").parse().expect("--rows"),
            get("reps").parse().expect("--reps"),
            get("threads").parse().expect("--threads"),
        );
        return;
    }
    let rows = rows_option(1_000_000);
    let reps: usize = arg("reps").and_then(|v| v.parse().ok()).unwrap_or(3);
    let slow_rows: usize = arg("slow-rows")
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(100_000)
        .min(rows);
    let threads: usize = arg("threads")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(export_core::sink::default_threads);
    let only = arg("only").unwrap_or_else(|| "csv,json,xlsx,python,node".into());
    let want = |what: &str| only.split(',').any(|w| w == what);
    let dir = work_dir();

    // The data, once, outside every timing.
    let (ipc, parquet, csv) = write_data(&dir, rows);
    println!(
        "10-column data: {rows} rows x {COLUMNS} columns; Arrow IPC {:.1} MB, Parquet {:.1} MB, CSV {:.1} MB in {}",
        size(&ipc) as f64 / 1e6,
        size(&parquet) as f64 / 1e6,
        size(&csv) as f64 / 1e6,
        dir.display()
    );
    println!(
        "{} cores, {threads} threads for export-core and polars; best of {reps} (slow peers: 1 run on {slow_rows} rows)",
        export_core::sink::default_threads()
    );

    let mut plans = Vec::new();
    let exe = std::env::current_exe().expect("current exe");
    for (child, group, label) in rust_lines::RUST_LINES {
        let wanted = match *group {
            "CSV" => want("csv"),
            "JSON Lines" => want("json"),
            _ => want("xlsx"),
        };
        if !wanted {
            continue;
        }
        let out = dir.join(format!("{child}.{}", extension(group)));
        let mut command = Command::new(&exe);
        command
            .args(["--child", child, "--data"])
            .arg(&ipc)
            .arg("--out")
            .arg(&out)
            .args(["--rows", &rows.to_string(), "--reps", &reps.to_string()])
            .args(["--threads", &threads.to_string()]);
        plans.push(Plan {
            group,
            name: label.to_string(),
            command,
            out,
            rows,
        });
    }

    let peers = if want("python") || want("node") {
        install_peers(args.iter().any(|a| a == "--no-install"))
    } else {
        Peers::default()
    };
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers");
    if want("python")
        && let Some(python) = &peers.python
    {
        for (peer, group, label, slow) in [
            ("polars-csv", "CSV", "polars write_csv", false),
            ("pandas-csv", "CSV", "pandas to_csv", true),
            ("python-csv", "CSV", "Python csv.writer", true),
            ("polars-ndjson", "JSON Lines", "polars write_ndjson", false),
            ("polars-xlsx", "XLSX", "polars write_excel", true),
            ("pandas-xlsx", "XLSX", "pandas to_excel (xlsxwriter)", true),
            (
                "xlsxwriter",
                "XLSX",
                "Python XlsxWriter constant_memory",
                true,
            ),
            ("openpyxl", "XLSX", "openpyxl write-only", true),
        ] {
            if !(want(match group {
                "CSV" => "csv",
                "JSON Lines" => "json",
                _ => "xlsx",
            })) {
                continue;
            }
            let n = if slow { slow_rows } else { rows };
            let out = dir.join(format!("{peer}.{}", extension(group)));
            let mut command = Command::new(python);
            command
                .arg(scripts.join("peers.py"))
                .arg(peer)
                .arg(&ipc)
                .arg(&out)
                .arg(n.to_string())
                .arg(if slow { "1".into() } else { reps.to_string() })
                .env("POLARS_MAX_THREADS", threads.to_string());
            plans.push(Plan {
                group,
                name: label.to_string(),
                command,
                out,
                rows: n,
            });
        }
    }
    if want("node")
        && let Some(modules) = &peers.node_modules
    {
        for (peer, group, label) in [
            ("csv-stringify", "CSV", "Node csv-stringify"),
            ("exceljs", "XLSX", "Node exceljs streaming writer"),
        ] {
            let out = dir.join(format!("{peer}.{}", extension(group)));
            let mut command = Command::new("node");
            command
                .arg(scripts.join("peers.mjs"))
                .arg(peer)
                .arg(&ipc)
                .arg(&out)
                .arg(slow_rows.to_string())
                .arg("1")
                .env("NODE_PATH", modules);
            plans.push(Plan {
                group,
                name: label.to_string(),
                command,
                out,
                rows: slow_rows,
            });
        }
    }

    let mut lines = Vec::new();
    for mut plan in plans {
        eprint!("  {:<40}", plan.name);
        match run_line(&mut plan) {
            Ok(line) => {
                eprintln!(" {:>8.3} s  {}", line.secs, line.check);
                lines.push(line);
            }
            Err(why) => eprintln!(" skipped: {why}"),
        }
        let _ = std::fs::remove_file(&plan.out);
    }
    print_table(&lines);
    if arg("dir").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn extension(group: &str) -> &'static str {
    match group {
        "CSV" => "csv",
        "JSON Lines" => "jsonl",
        _ => "xlsx",
    }
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

fn work_dir() -> PathBuf {
    let dir = match arg("dir") {
        Some(d) => PathBuf::from(d),
        None => {
            let shm = Path::new("/dev/shm");
            let base = if shm.is_dir() {
                shm.to_path_buf()
            } else {
                std::env::temp_dir()
            };
            base.join(format!("export-core-compare-{}", std::process::id()))
        }
    };
    std::fs::create_dir_all(&dir).expect("work directory");
    dir
}

/// Writes the data as Arrow IPC (file format), Parquet (snappy) and CSV.
fn write_data(dir: &Path, rows: usize) -> (PathBuf, PathBuf, PathBuf) {
    let batches = ten_columns(rows, export_core_benches::BATCH_SIZE);
    let schema = batches[0].schema();
    let ipc = dir.join("data.arrow");
    let mut w = arrow_ipc::writer::FileWriter::try_new(
        std::io::BufWriter::new(std::fs::File::create(&ipc).expect("ipc")),
        &schema,
    )
    .expect("ipc writer");
    for b in &batches {
        w.write(b).expect("ipc write");
    }
    w.finish().expect("ipc finish");
    let parquet = dir.join("data.parquet");
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .build();
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&parquet).expect("parquet"),
        schema.clone(),
        Some(props),
    )
    .expect("parquet writer");
    for b in &batches {
        w.write(b).expect("parquet write");
    }
    w.close().expect("parquet close");
    let csv = dir.join("data.csv");
    let mut sink = CsvSinkBuilder::new().build(std::fs::File::create(&csv).expect("csv"));
    for b in &batches {
        sink.write(b).expect("csv write");
    }
    sink.finish().expect("csv finish");
    (ipc, parquet, csv)
}

#[derive(Default)]
struct Peers {
    python: Option<PathBuf>,
    node_modules: Option<PathBuf>,
}

/// Runs `benches/peers/setup.sh` (or, with `no_install`, only looks for what it would make).
fn install_peers(no_install: bool) -> Peers {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/setup.sh");
    let mut command = Command::new("bash");
    command.arg(&script);
    if no_install {
        command.env("EXPORT_CORE_BENCH_NO_INSTALL", "1");
    }
    eprintln!("installing the Python and Node peers (benches/peers/setup.sh)...");
    let mut peers = Peers::default();
    match command.output() {
        Ok(out) => {
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                if let Some(p) = line.strip_prefix("python=") {
                    peers.python = Some(PathBuf::from(p));
                } else if let Some(p) = line.strip_prefix("node_modules=") {
                    peers.node_modules = Some(PathBuf::from(p));
                }
            }
            let notes = String::from_utf8_lossy(&out.stderr);
            for note in notes.lines().filter(|l| l.starts_with("note:")) {
                println!("{note}");
            }
        }
        Err(e) => println!("note: peers not installed: {e}"),
    }
    if peers.python.is_none() {
        println!("note: no Python peers (virtualenv not available)");
    }
    if peers.node_modules.is_none() {
        println!("note: no Node peers (node or npm not available)");
    }
    peers
}

/// Runs one line's process, parses its `RESULT`, and reads its output back.
fn run_line(plan: &mut Plan) -> Result<Line, String> {
    let out = plan.command.output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let Some(result) = stdout.lines().find_map(|l| l.strip_prefix("RESULT ")) else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(stderr
            .lines()
            .last()
            .unwrap_or("no RESULT line")
            .to_string());
    };
    let parts: Vec<&str> = result.split_whitespace().collect();
    let field = |i: usize| parts.get(i).copied().unwrap_or("0");
    let rows: u64 = field(0).parse().map_err(|_| "bad rows".to_string())?;
    let secs: f64 = field(1).parse().map_err(|_| "bad seconds".to_string())?;
    let bytes: u64 = field(2).parse().unwrap_or(0);
    let rss_kib: u64 = field(3).parse().unwrap_or(0);
    let check = match check::rows_in(&plan.out, plan.group) {
        Ok(n) if n == plan.rows as u64 && n == rows => format!("{n} rows read back"),
        Ok(n) => format!("MISMATCH: {n} rows read back, {} expected", plan.rows),
        Err(e) => format!("UNREADABLE: {e}"),
    };
    Ok(Line {
        group: plan.group,
        name: plan.name.clone(),
        rows,
        secs,
        bytes: bytes.max(size(&plan.out)),
        rss_kib,
        check,
    })
}

fn print_table(lines: &[Line]) {
    let order = |g: &str| ["CSV", "JSON Lines", "XLSX"].iter().position(|x| *x == g);
    let mut lines: Vec<&Line> = lines.iter().collect();
    lines.sort_by_key(|l| order(l.group));
    let mut reference: BTreeMap<&str, f64> = BTreeMap::new();
    for l in &lines {
        if l.name.starts_with("export-core") {
            reference.entry(l.group).or_insert(l.rows_per_s());
        }
    }
    println!();
    println!(
        "| work | rows | time s | rows/s | cells/s | output MB | peak RSS MB | read back | export-core / this |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---|---:|");
    for l in lines {
        let rps = l.rows_per_s();
        let ratio = match reference.get(l.group) {
            Some(r) if !l.name.starts_with("export-core") || l.name.contains("1 thread") => {
                format!("**{:.2}x**", r / rps)
            }
            _ => "-".to_string(),
        };
        println!(
            "| {} | {} | {:.3} | {:.3}M | {:.2}M | {:.1} | {:.0} | {} | {} |",
            l.name,
            l.rows,
            l.secs,
            rps / 1e6,
            rps * COLUMNS as f64 / 1e6,
            l.bytes as f64 / 1e6,
            l.rss_kib as f64 / 1024.0,
            l.check,
            ratio
        );
    }
}
