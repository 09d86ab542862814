//! Shared helpers for the export-core benchmarks: deterministic data builders.
//!
//! - [`ten_columns`]: the shape of `TARGETS.md` (4 `Int64`, 3 `Float64`, 2 short `Utf8`,
//!   1 `Timestamp(ms, UTC)`), the same values on every run;
//! - [`TenColumns`]: the same rows, generated batch by batch (constant memory);
//! - [`sample_trip_batches`]: pre-generated sample trips, so sink and pipeline benches do not
//!   time the generator.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use export_core::source::Source;
use export_core::source::{SampleConfig, SampleTrips};

/// Cells per row of the 10-column data.
pub const COLUMNS: usize = 10;

/// Rows per batch used by the benches unless told otherwise (the sample generator's default).
pub const BATCH_SIZE: usize = 8192;

/// 2026-10-01T00:00:00Z in milliseconds: the first timestamp of the 10-column data.
pub const START_MS: i64 = 1_790_812_800_000;

/// Short strings of the two text columns (city names and statuses).
pub const CITIES: [&str; 8] = [
    "Paris",
    "Lyon",
    "Marseille",
    "Lille",
    "Nantes",
    "Rennes",
    "Bordeaux",
    "Toulouse",
];
/// Values of the status column.
pub const STATUSES: [&str; 4] = ["ok", "pending", "cancelled", "refunded"];

/// The schema of the 10-column data.
pub fn ten_columns_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("customer_id", DataType::Int64, false),
        Field::new("quantity", DataType::Int64, false),
        Field::new("balance", DataType::Int64, false),
        Field::new("amount", DataType::Float64, false),
        Field::new("latitude", DataType::Float64, false),
        Field::new("score", DataType::Float64, false),
        Field::new("city", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        Field::new(
            "created_at",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
    ]))
}

/// SplitMix64: a tiny deterministic generator (the values depend only on the row number).
#[inline]
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One row of the 10-column data, as plain values (for peers that take rows).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Row {
    /// Sequential identifier, from 1.
    pub id: i64,
    /// Random identifier below 10^6.
    pub customer_id: i64,
    /// Small count, 1..=20.
    pub quantity: i64,
    /// Signed amount in cents, may be negative.
    pub balance: i64,
    /// Money with two decimals (`1234.56`).
    pub amount: f64,
    /// A coordinate with six decimals (`48.856613`).
    pub latitude: f64,
    /// A full-precision value in [0, 1).
    pub score: f64,
    /// A city name (short text).
    pub city: &'static str,
    /// A status (short text).
    pub status: &'static str,
    /// Milliseconds since the Unix epoch, UTC.
    pub created_at: i64,
}

/// The row at index `i` (0-based): the same on every run.
#[inline]
pub fn row(i: u64) -> Row {
    let a = mix(i);
    let b = mix(a);
    let c = mix(b);
    Row {
        id: i as i64 + 1,
        customer_id: (a % 1_000_000) as i64,
        quantity: (a >> 40) as i64 % 20 + 1,
        balance: (b % 2_000_000) as i64 - 1_000_000,
        amount: ((b >> 32) % 1_000_000) as f64 / 100.0,
        latitude: 42.0 + ((c % 9_000_000) as f64) / 1_000_000.0,
        score: (c >> 11) as f64 / (1u64 << 53) as f64,
        city: CITIES[(a >> 8) as usize % CITIES.len()],
        status: STATUSES[(b >> 8) as usize % STATUSES.len()],
        created_at: START_MS + i as i64 * 2_600 + (c % 1_000) as i64,
    }
}

/// The batch of rows `first..first + len`.
pub fn ten_columns_batch(schema: &SchemaRef, first: u64, len: usize) -> RecordBatch {
    let rows: Vec<Row> = (first..first + len as u64).map(row).collect();
    let ints =
        |f: fn(&Row) -> i64| Arc::new(rows.iter().map(f).collect::<Int64Array>()) as ArrayRef;
    let floats =
        |f: fn(&Row) -> f64| Arc::new(rows.iter().map(f).collect::<Float64Array>()) as ArrayRef;
    let texts = |f: fn(&Row) -> &'static str| {
        Arc::new(rows.iter().map(|r| Some(f(r))).collect::<StringArray>()) as ArrayRef
    };
    let stamps = TimestampMillisecondArray::from_iter_values(rows.iter().map(|r| r.created_at))
        .with_timezone("UTC");
    RecordBatch::try_new(
        schema.clone(),
        vec![
            ints(|r| r.id),
            ints(|r| r.customer_id),
            ints(|r| r.quantity),
            ints(|r| r.balance),
            floats(|r| r.amount),
            floats(|r| r.latitude),
            floats(|r| r.score),
            texts(|r| r.city),
            texts(|r| r.status),
            Arc::new(stamps),
        ],
    )
    .expect("the 10-column batch matches its schema")
}

/// `rows` rows of the 10-column data in batches of `batch_size`, all in memory.
pub fn ten_columns(rows: usize, batch_size: usize) -> Vec<RecordBatch> {
    TenColumns::new(rows as u64, batch_size).collect()
}

/// The 10-column data generated batch by batch: memory does not grow with `rows`.
/// Also a [`Source`], to feed the export pipeline.
#[derive(Debug, Clone)]
pub struct TenColumns {
    schema: SchemaRef,
    rows: u64,
    next: u64,
    batch_size: usize,
}

impl TenColumns {
    /// A generator of `rows` rows in batches of `batch_size`.
    pub fn new(rows: u64, batch_size: usize) -> TenColumns {
        TenColumns {
            schema: ten_columns_schema(),
            rows,
            next: 0,
            batch_size: batch_size.max(1),
        }
    }
}

impl Iterator for TenColumns {
    type Item = RecordBatch;
    fn next(&mut self) -> Option<RecordBatch> {
        if self.next >= self.rows {
            return None;
        }
        let len = (self.rows - self.next).min(self.batch_size as u64) as usize;
        let batch = ten_columns_batch(&self.schema, self.next, len);
        self.next += len as u64;
        Some(batch)
    }
}

impl Source for TenColumns {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
    fn next_batch(&mut self) -> export_core::Result<Option<RecordBatch>> {
        Ok(self.next())
    }
    fn rows_hint(&self) -> Option<u64> {
        Some(self.rows)
    }
}

/// The sample generator's configuration for `rows` trips in October 2026 (seed 7).
pub fn sample_config(rows: u64) -> SampleConfig {
    SampleConfig {
        rows,
        seed: 7,
        start: chrono::DateTime::from_timestamp(1_790_812_800, 0).unwrap_or_default(),
        end: chrono::DateTime::from_timestamp(1_793_491_200, 0).unwrap_or_default(),
        ..Default::default()
    }
}

/// `rows` sample trips, generated up front (so the generator is not timed).
pub fn sample_trip_batches(rows: u64) -> Vec<RecordBatch> {
    let mut trips = SampleTrips::new(sample_config(rows)).expect("valid sample configuration");
    let mut out = Vec::new();
    while let Some(batch) = trips.next_batch().expect("sample trips") {
        out.push(batch);
    }
    out
}

/// Bytes of all buffers of `batches` (the in-memory Arrow size).
pub fn arrow_bytes(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::get_array_memory_size).sum()
}

/// A writer that throws bytes away and counts them.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counter(pub u64);

impl std::io::Write for Counter {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A seekable writer that throws bytes away and counts them (for XLSX, which needs `Seek`).
#[derive(Debug, Default, Clone)]
pub struct SeekCounter {
    len: u64,
    pos: u64,
}

impl SeekCounter {
    /// Size of the output: the furthest byte written.
    pub fn len(&self) -> u64 {
        self.len
    }
    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl std::io::Write for SeekCounter {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pos += buf.len() as u64;
        self.len = self.len.max(self.pos);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl std::io::Seek for SeekCounter {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.pos = match pos {
            std::io::SeekFrom::Start(p) => p,
            std::io::SeekFrom::End(d) => self.len.saturating_add_signed(d),
            std::io::SeekFrom::Current(d) => self.pos.saturating_add_signed(d),
        };
        Ok(self.pos)
    }
}

/// Rows to use: `--rows N` on the command line, else `EXPORT_CORE_BENCH_ROWS`, else `default`.
pub fn rows_option(default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--rows")
        && let Some(n) = args
            .get(i + 1)
            .and_then(|v| v.replace('_', "").parse().ok())
    {
        return n;
    }
    std::env::var("EXPORT_CORE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// The value after `--name` on the command line.
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let flag = format!("--{name}");
    args.iter()
        .position(|a| *a == flag)
        .and_then(|i| args.get(i + 1).cloned())
}

/// Peak resident memory of this process in KiB (`VmHWM` of `/proc/self/status`), if known.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
