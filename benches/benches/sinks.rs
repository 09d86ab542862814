//! Criterion benches of the sinks on the 10-column data of `TARGETS.md`.
//!
//! ```text
//! cargo bench -p export-core-benches --bench sinks
//! EXPORT_CORE_BENCH_ROWS=1000000 cargo bench -p export-core-benches --bench sinks
//! ```
//!
//! 100,000 rows by default (a short run); the batches are built once, outside the timing, and
//! the output goes to a counting writer. Throughput is reported in rows and in output bytes per second.

use std::hint::black_box;

use arrow_array::RecordBatch;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use export_core::sink::Sink;
use export_core::sink::csv::CsvSink;
use export_core::sink::json::{JsonFormat, JsonSinkBuilder};
use export_core::sink::xlsx::XlsxSinkBuilder;
use export_core_benches::{BATCH_SIZE, Counter, SeekCounter, ten_columns};

fn write_all(mut sink: impl Sink, batches: &[RecordBatch]) -> u64 {
    for b in batches {
        sink.write(b).expect("write");
    }
    sink.finish().expect("finish").bytes
}

fn run(format: &str, batches: &[RecordBatch]) -> u64 {
    match format {
        "csv" => write_all(CsvSink::new(Counter::default()), batches),
        "json_array" => write_all(JsonSinkBuilder::new().build(Counter::default()), batches),
        "json_lines" => write_all(
            JsonSinkBuilder::new()
                .format(JsonFormat::Lines)
                .build(Counter::default()),
            batches,
        ),
        "xlsx" => write_all(
            XlsxSinkBuilder::new().build(SeekCounter::default()),
            batches,
        ),
        other => unreachable!("{other}"),
    }
}

fn rows() -> usize {
    std::env::var("EXPORT_CORE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(100_000)
}

fn sinks(c: &mut Criterion) {
    let rows = rows();
    let batches = ten_columns(rows, BATCH_SIZE);
    for format in ["csv", "json_lines", "json_array", "xlsx"] {
        let bytes = run(format, &batches);
        let mut group = c.benchmark_group(format!("sink_{format}"));
        group.sample_size(10);
        group.throughput(Throughput::ElementsAndBytes {
            elements: rows as u64,
            bytes,
        });
        group.bench_with_input(BenchmarkId::from_parameter(rows), &batches, |b, batches| {
            b.iter(|| black_box(run(format, batches)))
        });
        group.finish();
    }
}

criterion_group!(benches, sinks);
criterion_main!(benches);
