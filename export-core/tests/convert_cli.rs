//! `export-core convert` run as a real process: Arrow IPC, Parquet and CSV inputs to every format.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use calamine::{Reader, open_workbook_auto};

fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_export-core"))
}

fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn convert(input: &Path, out: &Path, extra: &[&str]) -> Output {
    cli()
        .arg("convert")
        .arg("--input")
        .arg(input)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

/// `n` rows of ints, floats, text, booleans, nulls and UTC timestamps, in batches of 7,000.
fn batches(n: i64) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    let mut first = 0;
    while first < n {
        let len = (n - first).min(7_000);
        let ids: Vec<i64> = (first..first + len).collect();
        let batch = RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from(ids.clone())) as ArrayRef),
            (
                "price",
                Arc::new(Float64Array::from_iter(
                    ids.iter().map(|i| (i % 10 != 0).then_some(*i as f64 / 8.0)),
                )) as ArrayRef,
            ),
            (
                "name",
                Arc::new(StringArray::from_iter(ids.iter().map(|i| {
                    (i % 7 != 0).then(|| ["Lyon", "a,b", "say \"x\"", "Zoé"][(*i % 4) as usize])
                }))) as ArrayRef,
            ),
            (
                "active",
                Arc::new(BooleanArray::from_iter(
                    ids.iter().map(|i| Some(i % 3 == 0)),
                )) as ArrayRef,
            ),
            (
                "at",
                Arc::new(
                    TimestampMillisecondArray::from_iter_values(
                        ids.iter().map(|i| 1_790_812_800_000 + i * 1_000),
                    )
                    .with_timezone("UTC"),
                ) as ArrayRef,
            ),
        ])
        .unwrap();
        out.push(batch);
        first += len;
    }
    out
}

fn write_ipc(path: &Path, batches: &[RecordBatch]) {
    let file = std::fs::File::create(path).unwrap();
    let mut w = arrow_ipc::writer::FileWriter::try_new(file, &batches[0].schema()).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.finish().unwrap();
}

fn write_parquet(path: &Path, batches: &[RecordBatch]) {
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(5_000))
        .set_compression(parquet::basic::Compression::SNAPPY)
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(file, batches[0].schema(), Some(props)).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
}

#[test]
fn parquet_to_csv_equals_ipc_to_csv() {
    let dir = tempfile::tempdir().unwrap();
    let data = batches(20_000);
    let (ipc, pq) = (dir.path().join("d.arrow"), dir.path().join("d.parquet"));
    write_ipc(&ipc, &data);
    write_parquet(&pq, &data);
    let (from_ipc, from_pq) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    let stdout = ok(convert(&ipc, &from_ipc, &["--format", "csv"]));
    assert!(stdout.contains("20000 rows written"), "{stdout}");
    ok(convert(&pq, &from_pq, &["--format", "csv"]));
    let (a, b) = (
        std::fs::read(&from_ipc).unwrap(),
        std::fs::read(&from_pq).unwrap(),
    );
    assert!(a == b, "Parquet and IPC inputs gave different CSV");
    let text = String::from_utf8(a).unwrap();
    assert!(text.starts_with("id,price,name,active,at\n0,,,true,2026-10-01T00:00:00+00:00\n"));
    assert_eq!(text.lines().count(), 20_001);
}

#[test]
fn csv_round_trips_through_convert() {
    let dir = tempfile::tempdir().unwrap();
    let ipc = dir.path().join("d.arrow");
    write_ipc(&ipc, &batches(12_345));
    let first = dir.path().join("first.csv");
    ok(convert(&ipc, &first, &["--format", "csv"]));
    let second = dir.path().join("second.csv");
    ok(convert(&first, &second, &["--format", "csv"]));
    let (a, b) = (
        std::fs::read_to_string(&first).unwrap(),
        std::fs::read_to_string(&second).unwrap(),
    );
    assert_eq!(a.lines().count(), 12_346);
    assert!(a == b, "CSV -> convert -> CSV changed the file");
}

#[test]
fn fields_rename_and_dialect_options_apply() {
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("d.parquet");
    write_parquet(&pq, &batches(3));
    let out = dir.path().join("out.csv");
    ok(convert(
        &pq,
        &out,
        &[
            "--format",
            "csv",
            "--fields",
            "name,id",
            "--rename",
            "id=ID",
            "--delimiter",
            ";",
            "--quote-style",
            "always",
            "--null",
            "NULL",
        ],
    ));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "\"name\";\"ID\"\n\"NULL\";\"0\"\n\"a,b\";\"1\"\n\"say \"\"x\"\"\";\"2\"\n"
    );
}

#[test]
fn jsonl_json_and_xlsx_outputs_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("d.parquet");
    write_parquet(&pq, &batches(9_000));
    let jsonl = dir.path().join("out.jsonl");
    ok(convert(&pq, &jsonl, &["--format", "jsonl", "--no-nulls"]));
    let text = std::fs::read_to_string(&jsonl).unwrap();
    assert_eq!(text.lines().count(), 9_000);
    assert_eq!(
        text.lines().next().unwrap(),
        r#"{"id":0,"active":true,"at":"2026-10-01T00:00:00Z"}"#
    );
    let json = dir.path().join("out.json");
    ok(convert(&pq, &json, &["--format", "json", "--threads", "3"]));
    let value: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(value.as_array().unwrap().len(), 9_000);
    let xlsx = dir.path().join("out.xlsx");
    ok(convert(
        &pq,
        &xlsx,
        &["--format", "xlsx", "--fields", "id,name"],
    ));
    let mut book = open_workbook_auto(&xlsx).unwrap();
    let sheet = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&sheet).unwrap();
    assert_eq!(range.height(), 9_001);
    assert_eq!(range.width(), 2);
}

#[test]
fn bad_inputs_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("d.parquet");
    write_parquet(&pq, &batches(3));
    let out = dir.path().join("out.csv");
    let output = convert(&pq, &out, &["--format", "csv", "--fields", "id,nope"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no column `nope`"), "{stderr}");
    let output = convert(&pq, &out, &["--format", "csv", "--rename", "ghost=x"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("`ghost`"));
    let text = dir.path().join("d.txt");
    std::fs::write(&text, "not parquet").unwrap();
    let output = convert(
        &text,
        &out,
        &["--format", "csv", "--input-format", "parquet"],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a readable Parquet file"));
    assert!(!out.exists(), "no output file after a failure");
}

#[test]
fn csv_input_types_can_be_given() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(&input, "code,qty\n007,3\n010,4\n").unwrap();
    let out = dir.path().join("out.jsonl");
    // Inferred, `code` would be a number and lose its zeros.
    ok(convert(
        &input,
        &out,
        &["--format", "jsonl", "--csv-type", "code=Utf8"],
    ));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "{\"code\":\"007\",\"qty\":3}\n{\"code\":\"010\",\"qty\":4}\n"
    );
}

#[test]
fn the_output_may_not_be_the_input_and_csv_records_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("d.csv");
    std::fs::write(&csv, "id,name\n1,a\n").unwrap();
    let output = convert(&csv, &csv, &["--format", "csv"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        std::fs::read(&csv).unwrap(),
        b"id,name\n1,a\n",
        "input kept"
    );

    let long = dir.path().join("long.csv");
    std::fs::write(&long, format!("id,name\n1,{}\n", "x".repeat(300))).unwrap();
    let out = dir.path().join("out.csv");
    let output = convert(
        &long,
        &out,
        &["--format", "csv", "--max-record-bytes", "100"],
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 2"), "{stderr}");
    assert!(!out.exists(), "no output file after a failure");
}
