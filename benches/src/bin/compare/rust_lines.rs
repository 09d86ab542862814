//! The Rust lines of `compare`, run in a child process each (`compare --child NAME`): the
//! batches are read from the Arrow IPC data file before the clock starts, the output goes to a
//! file, and the child prints `RESULT rows best_seconds bytes peak_rss_kib`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampMillisecondType};
use chrono::{DateTime, Utc};
use export_core::sink::Sink;
use export_core::sink::csv::CsvSinkBuilder;
use export_core::sink::json::{JsonFormat, JsonSinkBuilder};
use export_core::sink::xlsx::XlsxSinkBuilder;
use export_core::source::IpcSource;
use export_core::source::Source;
use export_core_benches::peak_rss_kib;
use rust_xlsxwriter::{ExcelDateTime, Format as XlsxFormat, Workbook};

/// The Rust lines: (child name, group, label).
pub const RUST_LINES: &[(&str, &str, &str)] = &[
    ("ec-csv", "CSV", "export-core CSV"),
    ("ec-csv-1", "CSV", "export-core CSV, 1 thread"),
    ("csv-serde", "CSV", "csv crate + serde (Writer::serialize)"),
    ("ec-jsonl", "JSON Lines", "export-core JSON Lines"),
    (
        "ec-jsonl-1",
        "JSON Lines",
        "export-core JSON Lines, 1 thread",
    ),
    ("serde-jsonl", "JSON Lines", "serde_json per-row struct"),
    ("ec-xlsx", "XLSX", "export-core XLSX"),
    ("ec-xlsx-1", "XLSX", "export-core XLSX, 1 thread"),
    ("raw-xlsxwriter", "XLSX", "rust_xlsxwriter constant-memory"),
];

/// Runs line `name` on the first `rows` rows of `data`, `reps` times, writing `out`; prints the
/// `RESULT` line.
pub fn child(name: &str, data: &Path, out: &Path, rows: usize, reps: usize, threads: usize) {
    let mut source = IpcSource::open(data).expect("data file");
    let mut batches = Vec::new();
    let mut left = rows;
    while left > 0
        && let Some(b) = source.next_batch().expect("data batch")
    {
        let n = left.min(b.num_rows());
        batches.push(b.slice(0, n));
        left -= n;
    }
    let run = || -> (u64, u64) {
        let file = || BufWriter::with_capacity(256 * 1024, File::create(out).expect("output"));
        match name {
            "ec-csv" | "ec-csv-1" => {
                let t = if name == "ec-csv" { threads } else { 1 };
                sink_rows(
                    CsvSinkBuilder::new()
                        .threads(t)
                        .build(File::create(out).expect("output")),
                    &batches,
                )
            }
            "csv-serde" => serde_csv(&batches, file()),
            "ec-jsonl" | "ec-jsonl-1" => {
                let t = if name == "ec-jsonl" { threads } else { 1 };
                let sink = JsonSinkBuilder::new()
                    .format(JsonFormat::Lines)
                    .threads(t)
                    .build(File::create(out).expect("output"));
                sink_rows(sink, &batches)
            }
            "serde-jsonl" => serde_jsonl(&batches, file()),
            "ec-xlsx" | "ec-xlsx-1" => {
                let t = if name == "ec-xlsx" { threads } else { 1 };
                sink_rows(XlsxSinkBuilder::new().threads(t).build(file()), &batches)
            }
            "raw-xlsxwriter" => raw_xlsxwriter(&batches, file()),
            other => panic!("unknown line {other}"),
        }
    };
    let (rows, bytes, time) = best(reps, run);
    println!(
        "RESULT {rows} {} {bytes} {}",
        time.as_secs_f64(),
        peak_rss_kib().unwrap_or(0)
    );
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

fn serde_csv(batches: &[RecordBatch], out: impl Write) -> (u64, u64) {
    let mut w = csv::Writer::from_writer(Counting::new(out));
    let mut rows = 0;
    for_each_row(batches, |r| {
        w.serialize(r).expect("csv serialize");
        rows += 1;
    });
    w.flush().expect("flush");
    let counter = w.into_inner().map_err(|e| e.into_error()).expect("csv");
    (rows, counter.finish())
}

fn serde_jsonl(batches: &[RecordBatch], out: impl Write) -> (u64, u64) {
    let mut w = BufWriter::with_capacity(64 * 1024, Counting::new(out));
    let mut rows = 0;
    for_each_row(batches, |r| {
        serde_json::to_writer(&mut w, r).expect("serde_json");
        w.write_all(b"\n").expect("write");
        rows += 1;
    });
    let counter = w.into_inner().map_err(|e| e.into_error()).expect("flush");
    (rows, counter.finish())
}

/// Raw rust_xlsxwriter, constant-memory mode, the same cells (header, numbers, strings,
/// date-times with a number format).
fn raw_xlsxwriter(batches: &[RecordBatch], mut out: BufWriter<File>) -> (u64, u64) {
    let mut workbook = Workbook::new();
    let date = XlsxFormat::new().set_num_format("yyyy-mm-dd hh:mm:ss");
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
    let file = out.into_inner().map_err(|e| e.into_error()).expect("flush");
    (u64::from(rows), file.metadata().expect("size").len())
}

/// A writer that counts the bytes it passes on.
struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Counting<W> {
    fn new(inner: W) -> Self {
        Counting { inner, bytes: 0 }
    }
    fn finish(mut self) -> u64 {
        self.inner.flush().expect("flush");
        self.bytes
    }
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
