//! One export of N generated rows in one format, then the process's peak RSS.
//!
//! ```text
//! cargo run --release -p export-core-benches --bin rss -- --format xlsx --rows 1000000
//! ```
//!
//! Batches of the 10-column data are generated on the fly (nothing is kept), and the output is
//! written to a file in the temporary directory (deleted afterwards; `--keep PATH` keeps it at
//! PATH), so the figure is the engine's own memory. Formats: `csv`, `xlsx`, `json`, `jsonl`.
//! Each format goes through its sink; XLSX starts a new sheet every 1,048,575 rows.

use std::time::Instant;

use export_core::sink::Sink;
use export_core::sink::csv::CsvSink;
use export_core::sink::json::{JsonFormat, JsonSinkBuilder};
use export_core::sink::xlsx::XlsxSinkBuilder;
use export_core_benches::{BATCH_SIZE, TenColumns, arg, peak_rss_kib, rows_option};

fn run(mut sink: impl Sink, rows: u64) -> export_core::sink::Summary {
    for batch in TenColumns::new(rows, BATCH_SIZE) {
        sink.write(&batch).expect("write");
    }
    sink.finish().expect("finish")
}

fn main() {
    let rows = rows_option(1_000_000) as u64;
    let format = arg("format").unwrap_or_else(|| "csv".into());
    let keep = arg("keep");
    let path = keep
        .clone()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("export-core-rss-{}.{format}", std::process::id()))
        });
    let before = peak_rss_kib().unwrap_or(0);
    let start = Instant::now();
    let file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create output"));
    let summary = match format.as_str() {
        "csv" => run(CsvSink::new(file), rows),
        "json" => run(JsonSinkBuilder::new().build(file), rows),
        "jsonl" => run(
            JsonSinkBuilder::new().format(JsonFormat::Lines).build(file),
            rows,
        ),
        "xlsx" => run(XlsxSinkBuilder::new().build(file), rows),
        other => panic!("unknown format {other}: csv, xlsx, json or jsonl"),
    };
    let secs = start.elapsed().as_secs_f64();
    let peak = peak_rss_kib().unwrap_or(0);
    if keep.is_none() {
        let _ = std::fs::remove_file(&path);
    }
    println!(
        "format={format} rows={} bytes={} sheets={} seconds={secs:.2} rows_per_s={:.0} peak_rss_mb={:.1} rss_before_mb={:.1}",
        summary.rows,
        summary.bytes,
        summary.sheets.len(),
        summary.rows as f64 / secs,
        peak as f64 / 1024.0,
        before as f64 / 1024.0,
    );
}
