//! The CSV and JSON sinks format large batches on several threads: the output must be byte for
//! byte the single-thread output, for every dialect option, and errors must stop at the same row.

use std::io::Read;
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, DictionaryArray, Float64Array,
    Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use export_core::ExportError;
use export_core::request::Compression;
use export_core::sink::Sink;
use export_core::sink::csv::{CsvSinkBuilder, QuoteStyle};
use export_core::sink::json::{JsonFormat, JsonSinkBuilder};

const TEXTS: [&str; 8] = [
    "Paris",
    "a,b",
    "say \"hi\"",
    "two\nlines",
    "=SUM(A1)",
    "",
    "Zoé; ☃",
    "tab\there",
];

/// `n` rows of every common type, with nulls, NaN, infinities and awkward text.
fn batch(first: i64, n: usize) -> RecordBatch {
    let ids = (first..first + n as i64).collect::<Vec<_>>();
    let int = Int64Array::from_iter(
        ids.iter()
            .map(|i| (i % 7 != 3).then_some(i * 7919 - 50_000)),
    );
    let float = Float64Array::from_iter(ids.iter().map(|i| match i % 11 {
        0 => None,
        1 => Some(f64::NAN),
        2 => Some(f64::INFINITY),
        3 => Some(-0.0),
        4 => Some(1e300),
        _ => Some(*i as f64 / 7.0 - 1000.0),
    }));
    let text = StringArray::from_iter(
        ids.iter()
            .map(|i| (i % 13 != 5).then(|| TEXTS[(*i as usize) % TEXTS.len()])),
    );
    let flag = BooleanArray::from_iter(ids.iter().map(|i| (i % 5 != 0).then_some(i % 2 == 0)));
    let date = Date32Array::from_iter(ids.iter().map(|i| Some(20_000 + (*i % 1000) as i32)));
    let ts = TimestampMillisecondArray::from_iter(
        ids.iter()
            .map(|i| (i % 17 != 0).then_some(1_790_812_800_000 + i * 61_001)),
    )
    .with_timezone("Europe/Paris");
    let instants = TimestampMillisecondArray::from_iter(
        ids.iter()
            .map(|i| (i % 19 != 0).then_some(i * 86_400_123 - 5_000_000_000_000)),
    );
    let dec = Decimal128Array::from_iter(ids.iter().map(|i| Some(i128::from(*i) * 37 - 9_999)))
        .with_precision_and_scale(20, 2)
        .unwrap();
    let dict: DictionaryArray<Int32Type> = ids
        .iter()
        .map(|i| TEXTS[(*i as usize * 3) % TEXTS.len()])
        .collect();
    let mut tags = ListBuilder::new(StringBuilder::new());
    for i in &ids {
        if i % 9 == 0 {
            tags.append_null();
        } else {
            for k in 0..(i % 3) {
                tags.values().append_value(format!("t{k}"));
            }
            tags.append(true);
        }
    }
    RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from(ids.clone())) as ArrayRef),
        ("int", Arc::new(int) as ArrayRef),
        ("float", Arc::new(float) as ArrayRef),
        ("text", Arc::new(text) as ArrayRef),
        ("flag", Arc::new(flag) as ArrayRef),
        ("date", Arc::new(date) as ArrayRef),
        ("ts", Arc::new(ts) as ArrayRef),
        (
            "utc",
            Arc::new(instants.clone().with_timezone("UTC")) as ArrayRef,
        ),
        (
            "fixed",
            Arc::new(instants.with_timezone("+05:30")) as ArrayRef,
        ),
        ("dec", Arc::new(dec) as ArrayRef),
        ("dict", Arc::new(dict) as ArrayRef),
        ("tags", Arc::new(tags.finish()) as ArrayRef),
    ])
    .unwrap()
}

/// Batches of uneven sizes: some below the parallel threshold, some of several ranges.
fn batches() -> Vec<RecordBatch> {
    let mut out = Vec::new();
    let mut first = 0;
    for n in [9_000, 1, 25_003, 100, 4_096, 17_777] {
        out.push(batch(first, n));
        first += n as i64;
    }
    out
}

fn csv_with(options: &CsvSinkBuilder, threads: usize, batches: &[RecordBatch]) -> Vec<u8> {
    let mut builder = options.clone();
    let mut sink = builder.threads(threads).build(Vec::new());
    for b in batches {
        sink.write(b).unwrap();
    }
    let summary = sink.finish().unwrap();
    assert_eq!(
        summary.rows,
        batches.iter().map(|b| b.num_rows() as u64).sum::<u64>()
    );
    sink.into_inner().unwrap()
}

fn dialects() -> Vec<(&'static str, CsvSinkBuilder)> {
    let mut out = vec![("default", CsvSinkBuilder::new())];
    for style in [
        QuoteStyle::Necessary,
        QuoteStyle::Always,
        QuoteStyle::NonNumeric,
        QuoteStyle::Never,
    ] {
        let mut b = CsvSinkBuilder::new();
        b.quote_style(style);
        out.push(("quote style", b));
    }
    let mut v2 = CsvSinkBuilder::new();
    v2.delimiter(b';')
        .quote_style(QuoteStyle::Always)
        .bool_values("OUI", "NON")
        .decimal_separator(b',')
        .bom(true)
        .crlf(true);
    out.push(("trip V2", v2));
    let mut other = CsvSinkBuilder::new();
    other
        .delimiter(b'\t')
        .has_headers(false)
        .null_value("NULL")
        .formula_guard(false)
        .decimal_separator(b',')
        .timestamp_format(Some("%d/%m/%Y %H:%M:%S %z".into()))
        .date_format(Some("%d.%m.%Y".into()))
        .time_format(Some("%H.%M".into()));
    out.push(("tab, custom formats", other));
    out
}

#[test]
fn csv_output_is_the_same_on_one_and_many_threads_for_every_dialect() {
    let batches = batches();
    for (name, options) in dialects() {
        let one = csv_with(&options, 1, &batches);
        for threads in [2, 3, 8] {
            let many = csv_with(&options, threads, &batches);
            assert!(
                one == many,
                "{name}: {threads} threads differ from 1 ({} vs {} bytes)",
                many.len(),
                one.len()
            );
        }
    }
}

#[test]
fn gzip_csv_reads_back_the_same_on_many_threads() {
    let batches = batches();
    let mut options = CsvSinkBuilder::new();
    options.compression(Compression::Gzip);
    let gunzip = |bytes: Vec<u8>| {
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut text)
            .unwrap();
        text
    };
    let one = gunzip(csv_with(&options, 1, &batches));
    let many = gunzip(csv_with(&options, 4, &batches));
    assert!(one == many && !one.is_empty());
}

fn json_with(builder: JsonSinkBuilder, threads: usize, batches: &[RecordBatch]) -> Vec<u8> {
    let mut sink = builder.threads(threads).build(Vec::new());
    for b in batches {
        sink.write(b).unwrap();
    }
    sink.finish().unwrap();
    sink.into_inner().unwrap()
}

#[test]
fn json_output_is_the_same_on_one_and_many_threads() {
    let batches = batches();
    for format in [JsonFormat::Lines, JsonFormat::Array] {
        for pretty in [false, true] {
            for explicit_nulls in [true, false] {
                let builder = || {
                    JsonSinkBuilder::new()
                        .format(format)
                        .pretty(pretty)
                        .explicit_nulls(explicit_nulls)
                };
                let one = json_with(builder(), 1, &batches);
                for threads in [2, 5] {
                    let many = json_with(builder(), threads, &batches);
                    assert!(
                        one == many,
                        "{format:?} pretty={pretty} nulls={explicit_nulls}: {threads} threads differ"
                    );
                }
            }
        }
    }
    // The array is valid JSON with every row.
    let array = json_with(JsonSinkBuilder::new(), 2, &batches);
    let parsed: serde_json::Value = serde_json::from_slice(&array).unwrap();
    assert_eq!(parsed.as_array().unwrap().len(), 55_977);
}

/// A batch whose date at row `bad` is out of chrono's range.
fn with_bad_date(n: usize, bad: usize) -> RecordBatch {
    let dates =
        Date32Array::from_iter((0..n).map(|i| Some(if i == bad { i32::MAX } else { 19_000 })));
    let ids = Int64Array::from_iter_values(0..n as i64);
    RecordBatch::try_from_iter([
        ("id", Arc::new(ids) as ArrayRef),
        ("day", Arc::new(dates) as ArrayRef),
    ])
    .unwrap()
}

#[test]
fn a_bad_value_stops_at_the_same_row_on_many_threads() {
    let bad = with_bad_date(30_000, 21_345);
    let run = |threads| {
        let mut sink = CsvSinkBuilder::new().threads(threads).build(Vec::new());
        let err = sink.write(&bad).unwrap_err();
        let rows = sink.rows();
        (
            err.to_string(),
            rows,
            String::from_utf8(sink.into_inner().unwrap()).unwrap(),
        )
    };
    let (err1, rows1, out1) = run(1);
    let (err4, rows4, out4) = run(4);
    assert!(err1.contains("row 21345"), "{err1}");
    assert_eq!((err4, rows4), (err1, rows1));
    assert_eq!(rows1, 21_345);
    assert!(out1 == out4);
    assert_eq!(out4.lines().count(), 1 + 21_345);
}

#[test]
fn json_bad_value_names_the_row_of_the_batch() {
    // A time of day past 24 h cannot be written.
    let times = arrow_array::Time64MicrosecondArray::from_iter(
        (0..20_000i64).map(|i| Some(if i == 15_000 { 90_000_000_000 } else { i })),
    );
    let batch = RecordBatch::try_from_iter([("t", Arc::new(times) as ArrayRef)]).unwrap();
    for threads in [1, 2] {
        let mut sink = JsonSinkBuilder::new()
            .format(JsonFormat::Lines)
            .threads(threads)
            .build(Vec::new());
        match sink.write(&batch) {
            Err(ExportError::InvalidValue { row, .. }) => assert_eq!(row, 15_000, "{threads}"),
            other => panic!("{threads} threads: {other:?}"),
        }
        assert_eq!(sink.rows(), 15_000);
        let out = sink.into_inner().unwrap();
        assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 15_000);
    }
}

#[test]
fn fast_utc_and_fixed_offset_timestamps_match_chrono() {
    // Instants from 1811 to 2000, before and after the epoch.
    let only: Vec<RecordBatch> = [batch(0, 9_000), batch(60_000, 9_000)]
        .iter()
        .map(|b| {
            let schema = b.schema();
            b.project(&[
                schema.index_of("utc").unwrap(),
                schema.index_of("fixed").unwrap(),
            ])
            .unwrap()
        })
        .collect();
    let mut chrono_path = CsvSinkBuilder::new();
    chrono_path.timestamp_format(Some("%Y-%m-%dT%H:%M:%S%.f%:z".into()));
    for threads in [1, 2] {
        let fast = csv_with(&CsvSinkBuilder::new(), threads, &only);
        let slow = csv_with(&chrono_path, threads, &only);
        assert!(fast == slow, "{threads} threads");
    }
}
