//! export-core against its peers, in one process, on the same pre-built batches.
//!
//! ```text
//! cargo run --release -p export-core-benches --bin compare -- --rows 1000000
//! ```
//!
//! Options: `--rows N` (10-column rows, default 1,000,000), `--trip-rows N` (sample trips for
//! the pipeline rows, default 200,000), `--python-rows N` (rows handed to the Python peers,
//! default 200,000; 0 skips them), `--only csv,json,xlsx,trips,python` (default: all),
//! `--reps N` (default 3; the best run is kept).

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::process::Command;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampMillisecondType};
use chrono::{DateTime, Utc};
use export_core::export::Exporter;
use export_core::request::{Audience, ExportRequest, Format, Period, SchemaVersion};
use export_core::sink::Sink;
use export_core::sink::csv::CsvSink;
use export_core::sink::json::{JsonFormat, JsonSinkBuilder};
use export_core::sink::xlsx::XlsxSinkBuilder;
use export_core::source::iter::IterSource;
use export_core_benches::{COLUMNS, Counter, SeekCounter, arg, rows_option, ten_columns};
use rust_xlsxwriter::{ExcelDateTime, Format as XlsxFormat, Workbook};

/// One timed line of the table.
struct Line {
    name: String,
    rows: u64,
    cells_per_row: usize,
    bytes: u64,
    time: Duration,
    /// Group whose first line is export-core (the ratio is export-core's speed / this line's).
    group: &'static str,
}

impl Line {
    fn rows_per_s(&self) -> f64 {
        self.rows as f64 / self.time.as_secs_f64()
    }
}

/// Runs `f` `reps` times and keeps the fastest; `f` returns (rows, bytes written).
fn best(reps: usize, mut f: impl FnMut() -> (u64, u64)) -> (u64, u64, Duration) {
    let mut fastest = Duration::MAX;
    let mut out = (0, 0);
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        out = f();
        fastest = fastest.min(start.elapsed());
    }
    (out.0, out.1, fastest)
}

/// The 10-column row as an idiomatic serde peer sees it.
#[derive(serde::Serialize)]
struct PeerRow<'a> {
    id: i64,
    customer_id: i64,
    quantity: i64,
    balance: i64,
    amount: f64,
    latitude: f64,
    score: f64,
    city: &'a str,
    status: &'a str,
    created_at: DateTime<Utc>,
}

/// Calls `f` with every row of `batches`, read from the Arrow columns.
fn for_each_row(batches: &[RecordBatch], mut f: impl FnMut(&PeerRow<'_>)) {
    for batch in batches {
        let i = |c: usize| batch.column(c).as_primitive::<Int64Type>().values();
        let fl = |c: usize| batch.column(c).as_primitive::<Float64Type>().values();
        let (c0, c1, c2, c3) = (i(0), i(1), i(2), i(3));
        let (f4, f5, f6) = (fl(4), fl(5), fl(6));
        let s7 = batch.column(7).as_string::<i32>();
        let s8 = batch.column(8).as_string::<i32>();
        let t9 = batch
            .column(9)
            .as_primitive::<TimestampMillisecondType>()
            .values();
        for r in 0..batch.num_rows() {
            f(&PeerRow {
                id: c0[r],
                customer_id: c1[r],
                quantity: c2[r],
                balance: c3[r],
                amount: f4[r],
                latitude: f5[r],
                score: f6[r],
                city: s7.value(r),
                status: s8.value(r),
                created_at: DateTime::from_timestamp_millis(t9[r]).unwrap_or_default(),
            });
        }
    }
}

fn sink_rows(mut sink: impl Sink, batches: &[RecordBatch]) -> (u64, u64) {
    for b in batches {
        sink.write(b).expect("sink write");
    }
    let s = sink.finish().expect("sink finish");
    (s.rows, s.bytes)
}

fn export_core_csv(batches: &[RecordBatch]) -> (u64, u64) {
    sink_rows(CsvSink::new(Counter::default()), batches)
}

fn serde_csv(batches: &[RecordBatch]) -> (u64, u64) {
    let mut w = csv::Writer::from_writer(Counter::default());
    let mut rows = 0;
    for_each_row(batches, |r| {
        w.serialize(r).expect("csv serialize");
        rows += 1;
    });
    w.flush().expect("flush");
    let counter = w.into_inner().map_err(|e| e.into_error()).expect("csv");
    (rows, counter.0)
}

fn export_core_json(batches: &[RecordBatch], format: JsonFormat) -> (u64, u64) {
    sink_rows(
        JsonSinkBuilder::new()
            .format(format)
            .build(Counter::default()),
        batches,
    )
}

fn serde_jsonl(batches: &[RecordBatch]) -> (u64, u64) {
    let mut w = BufWriter::with_capacity(64 * 1024, Counter::default());
    let mut rows = 0;
    for_each_row(batches, |r| {
        serde_json::to_writer(&mut w, r).expect("serde_json");
        w.write_all(b"\n").expect("write");
        rows += 1;
    });
    let counter = w.into_inner().expect("flush");
    (rows, counter.0)
}

fn export_core_xlsx(batches: &[RecordBatch]) -> (u64, u64) {
    let mut sink = XlsxSinkBuilder::new().build(SeekCounter::default());
    for b in batches {
        sink.write(b).expect("xlsx write");
    }
    let s = sink.finish().expect("xlsx finish");
    (s.rows, s.bytes)
}

/// Raw rust_xlsxwriter, constant-memory mode, the same cells (header, numbers, strings,
/// date-times with a number format).
fn raw_xlsxwriter(batches: &[RecordBatch]) -> (u64, u64) {
    let mut workbook = Workbook::new();
    let date = XlsxFormat::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let mut out = SeekCounter::default();
    let mut rows = 0u32;
    {
        let ws = workbook
            .add_worksheet_with_constant_memory()
            .expect("constant-memory worksheet");
        let schema = batches[0].schema();
        for (c, f) in schema.fields().iter().enumerate() {
            ws.write_string(0, c as u16, f.name()).expect("header");
        }
        for batch in batches {
            let ints: Vec<_> = (0..4)
                .map(|c| batch.column(c).as_primitive::<Int64Type>().values())
                .collect();
            let floats: Vec<_> = (4..7)
                .map(|c| batch.column(c).as_primitive::<Float64Type>().values())
                .collect();
            let s7 = batch.column(7).as_string::<i32>();
            let s8 = batch.column(8).as_string::<i32>();
            let t9 = batch
                .column(9)
                .as_primitive::<TimestampMillisecondType>()
                .values();
            for r in 0..batch.num_rows() {
                rows += 1;
                let row = rows;
                for (c, v) in ints.iter().enumerate() {
                    ws.write_number(row, c as u16, v[r] as f64).expect("int");
                }
                for (c, v) in floats.iter().enumerate() {
                    ws.write_number(row, 4 + c as u16, v[r]).expect("float");
                }
                ws.write_string(row, 7, s7.value(r)).expect("str");
                ws.write_string(row, 8, s8.value(r)).expect("str");
                let serial = t9[r] as f64 / 86_400_000.0 + 25_569.0;
                let dt = ExcelDateTime::from_serial_datetime(serial).expect("date");
                ws.write_datetime_with_format(row, 9, dt, &date)
                    .expect("datetime");
            }
        }
    }
    workbook.save_to_writer(&mut out).expect("save");
    (u64::from(rows), out.len())
}

fn trip_request(version: SchemaVersion, format: Format) -> ExportRequest {
    let mut r = ExportRequest::new("trip", format);
    r.version = Some(version);
    r.audience = Some(Audience::Operator);
    r.period =
        Some(Period::parse("2026-10-01", "2026-11-01", Some("Europe/Paris")).expect("period"));
    r
}

fn trip_pipeline(batches: &[RecordBatch], version: SchemaVersion, format: Format) -> (u64, u64) {
    let exporter = Exporter::builder(trip_request(version, format))
        .now("2026-11-23T12:00:00Z".parse().expect("now"))
        .hash_key(b"bench".to_vec())
        .build()
        .expect("exporter");
    let mut source = IterSource::from_batches(batches.to_vec()).expect("source");
    let (report, out) = exporter
        .run(&mut source, Counter::default())
        .expect("export");
    (report.rows_written, out.0)
}

const PYTHON_PEERS: &str = r#"
import csv, io, sys, time, datetime, os
path, reps, xlsx_rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
utc = datetime.timezone.utc
rows = []
with open(path, newline="") as f:
    r = csv.reader(f)
    next(r)
    for t in r:
        rows.append((int(t[0]), int(t[1]), int(t[2]), int(t[3]), float(t[4]), float(t[5]),
                     float(t[6]), t[7], t[8], datetime.datetime.fromisoformat(t[9].replace("Z", "+00:00"))))
header = ["id","customer_id","quantity","balance","amount","latitude","score","city","status","created_at"]
best = None
for _ in range(reps):
    out = open(os.devnull, "w", newline="")
    t0 = time.perf_counter()
    w = csv.writer(out)
    w.writerow(header)
    w.writerows(rows)
    out.close()
    dt = time.perf_counter() - t0
    best = dt if best is None else min(best, dt)
print(f"python-csv {len(rows)} {best}")
try:
    import xlsxwriter
except ImportError:
    print("python-xlsxwriter-missing")
    sys.exit(0)
xrows = rows[:xlsx_rows]
naive = [r[:9] + (r[9].replace(tzinfo=None),) for r in xrows]
target = path + ".xlsx"
t0 = time.perf_counter()
wb = xlsxwriter.Workbook(target, {"constant_memory": True})
ws = wb.add_worksheet()
fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
ws.write_row(0, 0, header)
for i, r in enumerate(naive, 1):
    for c in range(7):
        ws.write_number(i, c, r[c])
    ws.write_string(i, 7, r[7])
    ws.write_string(i, 8, r[8])
    ws.write_datetime(i, 9, r[9], fmt)
wb.close()
dt = time.perf_counter() - t0
print(f"python-xlsxwriter {len(naive)} {dt} {os.path.getsize(target)}")
os.remove(target)
"#;

/// Runs the Python peers on the first `rows` rows (written as CSV by export-core, parsed into
/// tuples before timing). Returns (name, rows, seconds, bytes).
fn python_peers(batches: &[RecordBatch], rows: usize, reps: usize) -> Vec<(String, u64, f64, u64)> {
    let dir = std::env::temp_dir().join(format!("export-core-compare-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let data = dir.join("ten_columns.csv");
    let script = dir.join("peers.py");
    std::fs::write(&script, PYTHON_PEERS).expect("script");
    {
        let file = std::fs::File::create(&data).expect("data file");
        let mut sink = CsvSink::new(file);
        let mut left = rows;
        for b in batches {
            if left == 0 {
                break;
            }
            let n = left.min(b.num_rows());
            sink.write(&b.slice(0, n)).expect("csv");
            left -= n;
        }
        sink.finish().expect("csv");
    }
    let xlsx_rows = rows.min(200_000);
    let output = Command::new("python3")
        .arg(&script)
        .arg(&data)
        .arg(reps.to_string())
        .arg(xlsx_rows.to_string())
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    let output = match output {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            println!(
                "note: Python peers skipped: {}",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            );
            return Vec::new();
        }
        Err(e) => {
            println!("note: Python peers skipped: python3 not runnable ({e})");
            return Vec::new();
        }
    };
    let mut found = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            ["python-xlsxwriter-missing"] => {
                println!("note: Python XlsxWriter not installed (pip install xlsxwriter): skipped")
            }
            [name, n, secs, rest @ ..] => {
                let bytes = rest.first().and_then(|b| b.parse().ok()).unwrap_or(0);
                if let (Ok(n), Ok(secs)) = (n.parse(), secs.parse()) {
                    found.push((name.to_string(), n, secs, bytes));
                }
            }
            _ => {}
        }
    }
    found
}

fn main() {
    let rows = rows_option(1_000_000);
    let reps: usize = arg("reps").and_then(|v| v.parse().ok()).unwrap_or(3);
    let trip_rows: u64 = arg("trip-rows")
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(200_000);
    let python_rows: usize = arg("python-rows")
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(200_000.min(rows));
    let only = arg("only").unwrap_or_else(|| "csv,json,xlsx,trips,python".into());
    let want = |what: &str| only.split(',').any(|w| w == what);

    let batches = ten_columns(rows, export_core_benches::BATCH_SIZE);
    println!(
        "10-column data: {rows} rows x {COLUMNS} columns, {} batches, {:.1} MB in Arrow; best of {reps}",
        batches.len(),
        export_core_benches::arrow_bytes(&batches) as f64 / 1e6
    );

    let mut lines: Vec<Line> = Vec::new();
    let mut add = |group: &'static str, name: &str, cells: usize, (rows, bytes, time)| {
        let line = Line {
            name: name.to_string(),
            rows,
            cells_per_row: cells,
            bytes,
            time,
            group,
        };
        eprintln!("  {:<40} {:>8.3} s", line.name, time.as_secs_f64());
        lines.push(line);
    };

    if want("csv") {
        add(
            "CSV",
            "export-core CSV",
            COLUMNS,
            best(reps, || export_core_csv(&batches)),
        );
        add(
            "CSV",
            "csv + serde (Writer::serialize)",
            COLUMNS,
            best(reps, || serde_csv(&batches)),
        );
    }
    if want("json") {
        add(
            "JSON Lines",
            "export-core JSON Lines",
            COLUMNS,
            best(reps, || export_core_json(&batches, JsonFormat::Lines)),
        );
        add(
            "JSON Lines",
            "serde_json per-row struct",
            COLUMNS,
            best(reps, || serde_jsonl(&batches)),
        );
        add(
            "JSON array",
            "export-core JSON array",
            COLUMNS,
            best(reps, || export_core_json(&batches, JsonFormat::Array)),
        );
    }
    if want("xlsx") {
        add(
            "XLSX",
            "export-core XLSX",
            COLUMNS,
            best(reps, || export_core_xlsx(&batches)),
        );
        add(
            "XLSX",
            "rust_xlsxwriter constant-memory",
            COLUMNS,
            best(reps, || raw_xlsxwriter(&batches)),
        );
    }
    if want("trips") {
        let trips = export_core_benches::sample_trip_batches(trip_rows);
        let cols = trips[0].num_columns();
        add(
            "trips",
            "trip pipeline V3 XLSX (operator)",
            cols,
            best(reps, || {
                trip_pipeline(&trips, SchemaVersion::V3, Format::Xlsx)
            }),
        );
        add(
            "trips",
            "trip pipeline V2 CSV (operator)",
            cols,
            best(reps, || {
                trip_pipeline(&trips, SchemaVersion::V2, Format::Csv)
            }),
        );
    }

    let mut python = Vec::new();
    if want("python") && python_rows > 0 {
        python = python_peers(&batches, python_rows, reps);
    }
    for (name, n, secs, bytes) in &python {
        let (group, label) = match name.as_str() {
            "python-csv" => ("CSV", "Python csv.writer"),
            _ => ("XLSX", "Python XlsxWriter constant_memory"),
        };
        lines.push(Line {
            name: label.to_string(),
            rows: *n,
            cells_per_row: COLUMNS,
            bytes: *bytes,
            time: Duration::from_secs_f64(*secs),
            group,
        });
    }
    print_table(&lines);
}

fn print_table(lines: &[Line]) {
    let mut reference: BTreeMap<&str, f64> = BTreeMap::new();
    for l in lines {
        if l.name.starts_with("export-core") {
            reference.entry(l.group).or_insert(l.rows_per_s());
        }
    }
    println!();
    println!(
        "| {:<36} | {:>9} | {:>8} | {:>10} | {:>9} | {:>7} | {:>20} |",
        "work", "rows", "time s", "rows/s", "cells/s", "MB/s", "export-core / this"
    );
    println!(
        "|{:-<38}|{:->11}|{:->10}|{:->12}|{:->11}|{:->9}|{:->22}|",
        "", "", "", "", "", "", ""
    );
    for l in lines {
        let rps = l.rows_per_s();
        let ratio = match reference.get(l.group) {
            Some(r) if !l.name.starts_with("export-core") && l.group != "trips" => {
                format!("{:.2}x", r / rps)
            }
            _ => "-".to_string(),
        };
        let mbs = if l.bytes > 0 {
            format!("{:.1}", l.bytes as f64 / l.time.as_secs_f64() / 1e6)
        } else {
            "-".into()
        };
        println!(
            "| {:<36} | {:>9} | {:>8.3} | {:>9.3}M | {:>8.2}M | {:>7} | {:>20} |",
            l.name,
            l.rows,
            l.time.as_secs_f64(),
            rps / 1e6,
            rps * l.cells_per_row as f64 / 1e6,
            mbs,
            ratio
        );
    }
}
