//! CSV sink: round trips read back with the `csv` crate, dialects, compression and errors.

use std::io::{self, Cursor, Read, Write};
use std::sync::Arc;

use arrow_array::builder::{Int32Builder, ListBuilder, MapBuilder, StringBuilder};
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Date64Array, Decimal128Array,
    Decimal256Array, DictionaryArray, DurationMillisecondArray, DurationSecondArray, Float32Array,
    Float64Array, Int8Array, Int64Array, IntervalDayTimeArray, LargeStringArray, NullArray,
    RecordBatch, StringArray, StringViewArray, StructArray, Time32SecondArray,
    Time64NanosecondArray, TimestampMillisecondArray, TimestampNanosecondArray,
    TimestampSecondArray, UInt64Array,
};
use arrow_buffer::{IntervalDayTime, i256};
use arrow_schema::{DataType, Field, Schema};
use chrono::{NaiveDate, TimeZone, Utc};
use export_core::ExportError;
use export_core::request::Compression;
use export_core::sink::Sink;
use export_core::sink::csv::{CsvSink, CsvSinkBuilder, QuoteStyle};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter(columns).expect("valid batch")
}

fn col<A: arrow_array::Array + 'static>(a: A) -> ArrayRef {
    Arc::new(a)
}

fn write_all(builder: &CsvSinkBuilder, batches: &[RecordBatch]) -> export_core::Result<Vec<u8>> {
    let mut sink = builder.build(Vec::new());
    for b in batches {
        sink.write(b)?;
    }
    sink.into_inner()
}

fn to_string(builder: &CsvSinkBuilder, batches: &[RecordBatch]) -> String {
    String::from_utf8(write_all(builder, batches).expect("write")).expect("utf-8")
}

/// Reads CSV text back: header, then records.
fn read_back(text: &str, delimiter: u8) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.expect("record").iter().map(String::from).collect())
        .collect();
    (header, rows)
}

#[test]
fn strings_round_trip_with_nulls_unicode_and_special_characters() {
    let values = vec![
        Some("plain"),
        None,
        Some(""),
        Some("é, 漢字 et 🚗"),
        Some("say \"hi\""),
        Some("line\nbreak"),
        Some("carriage\rreturn"),
        Some("crlf\r\nend"),
        Some("semi;colon"),
        Some("comma,inside"),
        Some(" leading and trailing "),
        Some("\"\""),
    ];
    let b = batch(vec![
        ("text", col(StringArray::from(values.clone()))),
        ("large", col(LargeStringArray::from(values.clone()))),
        ("view", col(StringViewArray::from(values.clone()))),
    ]);
    for (delimiter, style) in [
        (b',', QuoteStyle::Necessary),
        (b';', QuoteStyle::Always),
        (b'\t', QuoteStyle::NonNumeric),
    ] {
        let text = to_string(
            CsvSinkBuilder::new()
                .delimiter(delimiter)
                .quote_style(style),
            std::slice::from_ref(&b),
        );
        let (header, rows) = read_back(&text, delimiter);
        assert_eq!(header, ["text", "large", "view"]);
        assert_eq!(rows.len(), values.len());
        for (row, want) in rows.iter().zip(&values) {
            let want = want.unwrap_or("");
            assert_eq!(row, &[want, want, want], "{style:?}");
        }
    }
}

#[test]
fn null_value_text_is_written_for_every_type() {
    let b = batch(vec![
        ("i", col(Int64Array::from(vec![None, Some(1)]))),
        ("s", col(StringArray::from(vec![None, Some("x")]))),
        ("d", col(Date32Array::from(vec![None, Some(0)]))),
        ("n", col(NullArray::new(2))),
    ]);
    let text = to_string(CsvSinkBuilder::new().null_value("NA"), &[b]);
    assert_eq!(text, "i,s,d,n\nNA,NA,NA,NA\n1,x,1970-01-01,NA\n");
}

#[test]
fn extreme_numbers_round_trip() -> TestResult {
    let floats = vec![
        f64::MIN_POSITIVE,
        1e300,
        -0.0,
        0.1,
        -1.5e-7,
        f64::MAX,
        f64::MIN,
        123456789.125,
    ];
    let b = batch(vec![
        (
            "i64",
            col(Int64Array::from(vec![
                i64::MIN,
                i64::MAX,
                0,
                -1,
                1,
                42,
                7,
                8,
            ])),
        ),
        (
            "u64",
            col(UInt64Array::from(vec![u64::MAX, 0, 1, 2, 3, 4, 5, 6])),
        ),
        ("f64", col(Float64Array::from(floats.clone()))),
        (
            "i8",
            col(Int8Array::from(vec![i8::MIN, i8::MAX, 0, 0, 0, 0, 0, 0])),
        ),
    ]);
    let text = to_string(&CsvSinkBuilder::new(), &[b]);
    let (_, rows) = read_back(&text, b',');
    assert_eq!(rows[0][0], i64::MIN.to_string());
    assert_eq!(rows[1][0], i64::MAX.to_string());
    assert_eq!(rows[0][1], u64::MAX.to_string());
    assert_eq!(rows[0][3], "-128");
    for (row, want) in rows.iter().zip(&floats) {
        let got: f64 = row[2].parse()?;
        assert_eq!(got.to_bits(), want.to_bits(), "{}", row[2]);
    }
    assert_eq!(rows[2][2], "-0.0");
    assert_eq!(rows[1][2], "1e300");
    Ok(())
}

#[test]
fn non_finite_floats_and_comma_decimals() {
    let b = batch(vec![
        (
            "f64",
            col(Float64Array::from(vec![
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                12.5,
            ])),
        ),
        (
            "f32",
            col(Float32Array::from(vec![0.1f32, -2.5, 3.0, f32::NAN])),
        ),
    ]);
    let text = to_string(&CsvSinkBuilder::new(), std::slice::from_ref(&b));
    assert_eq!(text, "f64,f32\nNaN,0.1\ninf,-2.5\n-inf,3.0\n12.5,NaN\n");
    // A comma separator with a comma delimiter forces quotes.
    let text = to_string(CsvSinkBuilder::new().decimal_separator(b','), &[b]);
    assert_eq!(
        text,
        "f64,f32\nNaN,\"0,1\"\ninf,\"-2,5\"\n-inf,\"3,0\"\n\"12,5\",NaN\n"
    );
}

#[test]
fn decimals_keep_their_scale() -> TestResult {
    let d128 = Decimal128Array::from(vec![Some(1250), Some(-5), None, Some(i128::MAX)])
        .with_precision_and_scale(38, 2)?;
    let d256 = Decimal256Array::from(vec![
        Some(i256::from_i128(-123456)),
        Some(i256::from_i128(7)),
        None,
        Some(i256::MAX),
    ])
    .with_precision_and_scale(76, 3)?;
    let b = batch(vec![("d128", col(d128)), ("d256", col(d256))]);
    let text = to_string(
        CsvSinkBuilder::new()
            .delimiter(b';')
            .decimal_separator(b','),
        &[b],
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[1], "12,50;-123,456");
    assert_eq!(lines[2], "-0,05;0,007");
    assert_eq!(lines[3], ";");
    assert_eq!(
        lines[4],
        format!(
            "{},{};{},{}",
            &i128::MAX.to_string()[..37],
            &i128::MAX.to_string()[37..],
            &i256::MAX.to_string()[..74],
            &i256::MAX.to_string()[74..]
        )
    );
    Ok(())
}

#[test]
fn dates_and_times_far_from_1970() {
    let days = |y, m, d| {
        (NaiveDate::from_ymd_opt(y, m, d).unwrap() - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
            .num_days() as i32
    };
    let b = batch(vec![
        (
            "date32",
            col(Date32Array::from(vec![
                days(1969, 12, 31),
                days(1900, 2, 28),
                days(2100, 3, 1),
                days(2401, 12, 31),
            ])),
        ),
        (
            "date64",
            col(Date64Array::from(vec![
                -86_400_000,
                i64::from(days(1800, 1, 1)) * 86_400_000,
                i64::from(days(2150, 6, 15)) * 86_400_000,
                0,
            ])),
        ),
        (
            "time",
            col(Time32SecondArray::from(vec![0, 3661, 86_399, 43_200])),
        ),
        (
            "time_ns",
            col(Time64NanosecondArray::from(vec![
                1_500_000_000,
                1,
                0,
                86_399_999_999_999,
            ])),
        ),
    ]);
    let text = to_string(&CsvSinkBuilder::new(), &[b]);
    assert_eq!(
        text,
        "date32,date64,time,time_ns\n\
         1969-12-31,1969-12-31,00:00:00,00:00:01.500\n\
         1900-02-28,1800-01-01,01:01:01,00:00:00.000000001\n\
         2100-03-01,2150-06-15,23:59:59,00:00:00\n\
         2401-12-31,1970-01-01,12:00:00,23:59:59.999999999\n"
    );
}

#[test]
fn paris_timestamps_across_dst() {
    let instants = [
        Utc.with_ymd_and_hms(2026, 3, 29, 0, 59, 59).unwrap(), // 01:59:59+01:00
        Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap(),   // 03:00:00+02:00
        Utc.with_ymd_and_hms(2026, 10, 3, 6, 20, 0).unwrap(),  // 08:20:00+02:00
        Utc.with_ymd_and_hms(2026, 10, 25, 0, 30, 0).unwrap(), // 02:30:00+02:00
        Utc.with_ymd_and_hms(2026, 10, 25, 1, 30, 0).unwrap(), // 02:30:00+01:00
        Utc.with_ymd_and_hms(1950, 7, 14, 10, 0, 0).unwrap(),  // before 1970
        Utc.with_ymd_and_hms(2150, 1, 1, 0, 0, 0).unwrap(),    // after 2100
    ];
    let seconds: Vec<i64> = instants.iter().map(|t| t.timestamp()).collect();
    let millis: Vec<i64> = instants
        .iter()
        .map(|t| t.timestamp_millis() + 250)
        .collect();
    let b = batch(vec![
        (
            "paris",
            col(TimestampSecondArray::from(seconds.clone()).with_timezone("Europe/Paris")),
        ),
        (
            "utc_ms",
            col(TimestampMillisecondArray::from(millis).with_timezone("UTC")),
        ),
        ("naive", col(TimestampSecondArray::from(seconds.clone()))),
        (
            "fixed",
            col(TimestampSecondArray::from(seconds).with_timezone("-05:00")),
        ),
    ]);
    let text = to_string(&CsvSinkBuilder::new(), std::slice::from_ref(&b));
    assert_eq!(
        text,
        "paris,utc_ms,naive,fixed\n\
         2026-03-29T01:59:59+01:00,2026-03-29T00:59:59.250+00:00,2026-03-29T00:59:59,2026-03-28T19:59:59-05:00\n\
         2026-03-29T03:00:00+02:00,2026-03-29T01:00:00.250+00:00,2026-03-29T01:00:00,2026-03-28T20:00:00-05:00\n\
         2026-10-03T08:20:00+02:00,2026-10-03T06:20:00.250+00:00,2026-10-03T06:20:00,2026-10-03T01:20:00-05:00\n\
         2026-10-25T02:30:00+02:00,2026-10-25T00:30:00.250+00:00,2026-10-25T00:30:00,2026-10-24T19:30:00-05:00\n\
         2026-10-25T02:30:00+01:00,2026-10-25T01:30:00.250+00:00,2026-10-25T01:30:00,2026-10-24T20:30:00-05:00\n\
         1950-07-14T11:00:00+01:00,1950-07-14T10:00:00.250+00:00,1950-07-14T10:00:00,1950-07-14T05:00:00-05:00\n\
         2150-01-01T01:00:00+01:00,2150-01-01T00:00:00.250+00:00,2150-01-01T00:00:00,2149-12-31T19:00:00-05:00\n"
    );
    // Every default timestamp parses back as RFC 3339 to the same instant.
    let (_, rows) = read_back(&text, b',');
    for (row, want) in rows.iter().zip(&instants) {
        let got = chrono::DateTime::parse_from_rfc3339(&row[0]).expect("rfc 3339");
        assert_eq!(got.with_timezone(&Utc), *want);
    }

    // Custom formats apply in the column's zone.
    let text = to_string(
        CsvSinkBuilder::new()
            .timestamp_format(Some("%d/%m/%Y %H:%M %Z".into()))
            .has_headers(false),
        &[b.project(&[0]).unwrap().slice(0, 2)],
    );
    assert_eq!(text, "29/03/2026 01:59 CET\n29/03/2026 03:00 CEST\n");
}

#[test]
fn custom_date_and_time_formats() {
    let b = batch(vec![
        ("d", col(Date32Array::from(vec![20_000]))),
        ("t", col(Time32SecondArray::from(vec![3_600 * 13 + 5]))),
        (
            "ns",
            col(TimestampNanosecondArray::from(vec![
                1_700_000_000_123_456_789,
            ])),
        ),
    ]);
    let text = to_string(
        CsvSinkBuilder::new()
            .date_format(Some("%d/%m/%Y".into()))
            .time_format(Some("%Hh%M".into())),
        std::slice::from_ref(&b),
    );
    assert_eq!(
        text,
        "d,t,ns\n04/10/2024,13h00,2023-11-14T22:13:20.123456789\n"
    );

    // A zone field on a timestamp without zone cannot be rendered.
    let err = write_all(
        CsvSinkBuilder::new().timestamp_format(Some("%H:%M %z".into())),
        &[b],
    )
    .unwrap_err();
    assert!(
        matches!(&err, ExportError::InvalidRequest { field, .. } if field == "timestamp_format"),
        "{err}"
    );
}

#[test]
fn durations_binary_dictionaries_and_nested_values() {
    let mut list = ListBuilder::new(Int32Builder::new());
    list.values().append_value(1);
    list.values().append_null();
    list.append(true);
    list.append(false);
    list.append(true);

    let mut map = MapBuilder::new(None, StringBuilder::new(), Int32Builder::new());
    map.keys().append_value("a \"q\"");
    map.values().append_value(1);
    map.append(true).unwrap();
    map.append(false).unwrap();
    map.append(true).unwrap();

    let strukt = StructArray::from(vec![
        (
            Arc::new(Field::new("name", DataType::Utf8, true)),
            col(StringArray::from(vec![Some("x,y"), None, Some("é")])),
        ),
        (
            Arc::new(Field::new("ok", DataType::Boolean, true)),
            col(BooleanArray::from(vec![true, false, true])),
        ),
        (
            Arc::new(Field::new("v", DataType::Float64, true)),
            col(Float64Array::from(vec![1.5, f64::NAN, -0.25])),
        ),
    ]);
    let dict: DictionaryArray<Int32Type> = vec![Some("ville"), None, Some("ville")]
        .into_iter()
        .collect();

    let b = batch(vec![
        (
            "dur",
            col(DurationSecondArray::from(vec![3_723, -1, 360_000])),
        ),
        (
            "dur_ms",
            col(DurationMillisecondArray::from(vec![1_500, 0, -61_001])),
        ),
        (
            "bin",
            col(BinaryArray::from(vec![&b"\x00\xff"[..], b"", b"AZ"])),
        ),
        ("dict", col(dict)),
        ("list", col(list.finish())),
        ("map", col(map.finish())),
        ("struct", col(strukt)),
    ]);
    let text = to_string(
        CsvSinkBuilder::new()
            .delimiter(b';')
            .bool_values("OUI", "NON")
            .decimal_separator(b','),
        &[b],
    );
    let (header, rows) = read_back(&text, b';');
    assert_eq!(
        header,
        ["dur", "dur_ms", "bin", "dict", "list", "map", "struct"]
    );
    assert_eq!(
        rows[0],
        [
            "1:02:03",
            "0:00:01.500",
            "00ff",
            "ville",
            "[1,null]",
            r#"{"a \"q\"":1}"#,
            r#"{"name":"x,y","ok":true,"v":1.5}"#
        ]
    );
    assert_eq!(
        rows[1],
        [
            "-0:00:01",
            "0:00:00",
            "",
            "",
            "",
            "",
            r#"{"name":null,"ok":false,"v":null}"#
        ]
    );
    assert_eq!(
        rows[2],
        [
            "100:00:00",
            "-0:01:01.001",
            "415a",
            "ville",
            "[]",
            "{}",
            r#"{"name":"é","ok":true,"v":-0.25}"#
        ]
    );
}

#[test]
fn unsupported_type_is_an_encode_error_naming_the_column() {
    let b = batch(vec![(
        "interval",
        col(IntervalDayTimeArray::from(vec![IntervalDayTime::new(1, 2)])),
    )]);
    let err = write_all(&CsvSinkBuilder::new(), &[b]).unwrap_err();
    match err {
        ExportError::Encode { format, reason } => {
            assert_eq!(format, "csv");
            assert!(reason.contains("`interval`"), "{reason}");
            assert!(reason.contains("Interval"), "{reason}");
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn refused_batches_write_nothing_and_bad_values_no_partial_row() {
    // An unsupported column on the first batch: not even the header is written.
    let b = batch(vec![
        ("ok", col(Int64Array::from(vec![1]))),
        (
            "interval",
            col(IntervalDayTimeArray::from(vec![IntervalDayTime::new(1, 2)])),
        ),
    ]);
    let mut sink = CsvSink::new(Vec::new());
    assert_eq!(sink.write(&b).unwrap_err().code(), "ENCODE");
    assert_eq!(sink.into_inner().unwrap(), b"");

    // A timestamp out of chrono's range stops the batch at its row.
    let b = batch(vec![
        ("n", col(Int64Array::from(vec![1, 2, 3]))),
        ("t", col(TimestampSecondArray::from(vec![0, i64::MAX, 0]))),
    ]);
    let mut sink = CsvSink::new(Vec::new());
    match sink.write(&b).unwrap_err() {
        ExportError::InvalidValue { column, row, .. } => {
            assert_eq!((column.as_str(), row), ("t", 1))
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!(sink.rows(), 1);
    assert_eq!(
        String::from_utf8(sink.into_inner().unwrap()).unwrap(),
        "n,t\n1,1970-01-01T00:00:00\n"
    );
}

#[test]
fn multiple_batches_and_empty_batches() {
    let b = batch(vec![
        ("id", col(Int64Array::from(vec![1, 2, 3]))),
        ("name", col(StringArray::from(vec!["a", "b", "c"]))),
    ]);
    let empty = b.slice(0, 0);
    let mut sink = CsvSink::new(Vec::new());
    sink.write(&empty).unwrap();
    sink.write(&b.slice(0, 2)).unwrap();
    sink.write(&empty).unwrap();
    sink.write(&b.slice(2, 1)).unwrap();
    assert_eq!(sink.rows(), 3);
    let summary = sink.finish().unwrap();
    assert_eq!(summary.rows, 3);
    let out = sink.into_inner().unwrap();
    assert_eq!(summary.bytes, out.len() as u64);
    assert_eq!(String::from_utf8(out).unwrap(), "id,name\n1,a\n2,b\n3,c\n");

    // Only an empty batch: the header alone.
    assert_eq!(to_string(&CsvSinkBuilder::new(), &[empty]), "id,name\n");
}

#[test]
fn no_batch_writes_nothing_but_the_bom() {
    assert_eq!(write_all(&CsvSinkBuilder::new(), &[]).unwrap(), b"");
    assert_eq!(
        write_all(CsvSinkBuilder::new().bom(true), &[]).unwrap(),
        b"\xEF\xBB\xBF"
    );
    let mut sink = CsvSink::new(Vec::new());
    let summary = sink.finish().unwrap();
    assert_eq!((summary.rows, summary.bytes), (0, 0));
}

#[test]
fn write_header_forces_a_header_and_fixes_the_schema() {
    let schema = Schema::new(vec![
        Field::new("a", DataType::Int64, false),
        Field::new("b", DataType::Utf8, true),
    ]);
    let mut sink = CsvSinkBuilder::new().bom(true).build(Vec::new());
    sink.write_header(&schema).unwrap();
    sink.write_header(&schema).unwrap(); // idempotent
    let wrong = batch(vec![("a", col(Int64Array::from(vec![1])))]);
    let err = sink.write(&wrong).unwrap_err();
    assert_eq!(err.code(), "INVALID_REQUEST");
    assert!(err.to_string().contains("`b`"), "{err}");
    let right = batch(vec![
        ("a", col(Int64Array::from(vec![1]))),
        ("b", col(StringArray::from(vec!["x"]))),
    ]);
    sink.write(&right).unwrap();
    let out = String::from_utf8(sink.into_inner().unwrap()).unwrap();
    assert_eq!(out, "\u{feff}a,b\n1,x\n");
}

#[test]
fn header_off() {
    let b = batch(vec![("a", col(Int64Array::from(vec![1, 2])))]);
    let text = to_string(CsvSinkBuilder::new().has_headers(false), &[b.clone(), b]);
    assert_eq!(text, "1\n2\n1\n2\n");
}

#[test]
fn gzip_reads_back_with_flate2() -> TestResult {
    let b = batch(vec![
        ("id", col(Int64Array::from_iter_values(0..10_000))),
        (
            "text",
            col(StringArray::from_iter_values(
                (0..10_000).map(|i| format!("ligne {i}, é")),
            )),
        ),
    ]);
    let mut sink = CsvSinkBuilder::new()
        .compression(Compression::Gzip)
        .build(Vec::new());
    sink.write(&b)?;
    let summary = sink.finish()?;
    let gz = sink.into_inner()?;
    assert_eq!(summary.rows, 10_000);
    assert_eq!(summary.bytes, gz.len() as u64);
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut text)?;
    let (header, rows) = read_back(&text, b',');
    assert_eq!(header, ["id", "text"]);
    assert_eq!(rows.len(), 10_000);
    assert_eq!(rows[9_999], ["9999", "ligne 9999, é"]);
    assert!(gz.len() < text.len() / 3);
    Ok(())
}

#[test]
fn zip_reads_back_with_the_zip_crate() -> TestResult {
    let b = batch(vec![
        ("journey_id", col(Int64Array::from(vec![1, 2]))),
        ("driver_card", col(BooleanArray::from(vec![true, false]))),
        (
            "journey_start_lon",
            col(Float64Array::from(vec![2.35, -1.5])),
        ),
        (
            "journey_start_town",
            col(StringArray::from(vec![Some("Saint-Étienne"), None])),
        ),
    ]);
    let mut sink = CsvSinkBuilder::new()
        .delimiter(b';')
        .quote_style(QuoteStyle::Always)
        .bool_values("OUI", "NON")
        .decimal_separator(b',')
        .compression(Compression::Zip)
        .archive_entry_name("trips-2026-10.csv")
        .build(Vec::new());
    sink.write(&b)?;
    let summary = sink.finish()?;
    let bytes = sink.into_inner()?;
    assert_eq!(summary.bytes, bytes.len() as u64);

    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))?;
    assert_eq!(archive.len(), 1);
    let mut text = String::new();
    archive
        .by_name("trips-2026-10.csv")?
        .read_to_string(&mut text)?;
    assert_eq!(
        text,
        "\"journey_id\";\"driver_card\";\"journey_start_lon\";\"journey_start_town\"\n\
         \"1\";\"OUI\";\"2,35\";\"Saint-Étienne\"\n\
         \"2\";\"NON\";\"-1,5\";\"\"\n"
    );
    Ok(())
}

#[test]
fn zip_with_empty_entry_name_is_an_invalid_request() {
    let mut sink = CsvSinkBuilder::new()
        .compression(Compression::Zip)
        .archive_entry_name("")
        .build(Vec::new());
    let err = sink.finish().unwrap_err();
    assert_eq!(err.code(), "INVALID_REQUEST");
}

#[test]
fn formula_guard_on_and_off() {
    let cells = vec![
        "=SUM(A1)", "+1", "-2", "@x", "\tTab", "\rCR", "safe", "'quoted",
    ];
    let b = batch(vec![
        ("text", col(StringArray::from(cells.clone()))),
        ("num", col(Int64Array::from(vec![-1, -2, 3, 4, 5, 6, 7, 8]))),
        ("f", col(Float64Array::from(vec![-1.5; 8]))),
    ]);
    let guarded = to_string(&CsvSinkBuilder::new(), std::slice::from_ref(&b));
    let (_, rows) = read_back(&guarded, b',');
    let want = [
        "'=SUM(A1)",
        "'+1",
        "'-2",
        "'@x",
        "'\tTab",
        "'\rCR",
        "safe",
        "'quoted",
    ];
    for (row, want) in rows.iter().zip(want) {
        assert_eq!(row[0], want);
        assert!(!row[1].starts_with('\''), "numbers are never touched");
        assert_eq!(row[2], "-1.5");
    }

    let raw = to_string(CsvSinkBuilder::new().formula_guard(false), &[b]);
    let (_, rows) = read_back(&raw, b',');
    for (row, want) in rows.iter().zip(&cells) {
        assert_eq!(&row[0], want);
    }
}

/// Found by the `csv_roundtrip` fuzz target: with `'` as the delimiter, the guard's `'` prefix
/// split the field in two (`'=` read back as two fields).
#[test]
fn formula_guard_prefix_is_quoted_when_the_delimiter_is_a_single_quote() {
    let b = batch(vec![
        ("=", col(StringArray::from(vec!["=1+1", "ok", "-x"]))),
        ("n", col(Int64Array::from(vec![1, 2, 3]))),
    ]);
    for style in [QuoteStyle::Necessary, QuoteStyle::NonNumeric] {
        let text = to_string(
            CsvSinkBuilder::new().delimiter(b'\'').quote_style(style),
            std::slice::from_ref(&b),
        );
        let (header, rows) = read_back(&text, b'\'');
        assert_eq!(header, ["'=", "n"], "{style:?}: {text:?}");
        assert_eq!(
            rows,
            [["'=1+1", "1"], ["ok", "2"], ["'-x", "3"]],
            "{style:?}: {text:?}"
        );
    }
    // A lone guarded field too.
    let lone = batch(vec![("x", col(StringArray::from(vec!["@a"])))]);
    let text = to_string(CsvSinkBuilder::new().delimiter(b'\''), &[lone]);
    assert_eq!(text, "x\n\"'@a\"\n");
}

/// Found by the `csv_roundtrip` fuzz target: a first cell starting with U+FEFF put a
/// byte-order mark at the start of the file, which readers drop with the mark.
#[test]
fn a_leading_zero_width_no_break_space_survives_the_read_back() {
    let b = batch(vec![
        (
            "\u{feff}name",
            col(StringArray::from(vec!["\u{feff}x", "y"])),
        ),
        ("n", col(Int64Array::from(vec![1, 2]))),
    ]);
    // Header off: the first data cell opens the file.
    let text = to_string(
        CsvSinkBuilder::new().has_headers(false),
        std::slice::from_ref(&b),
    );
    assert_eq!(text, "\"\u{feff}x\",1\ny,2\n");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    let first = reader.records().next().unwrap().unwrap();
    assert_eq!(&first[0], "\u{feff}x");
    // Header on: the header label opens it; data cells further on are left alone.
    let text = to_string(&CsvSinkBuilder::new(), std::slice::from_ref(&b));
    assert_eq!(text, "\"\u{feff}name\",n\n\u{feff}x,1\ny,2\n");
    let (header, rows) = read_back(&text, b',');
    assert_eq!(header, ["\u{feff}name", "n"]);
    assert_eq!(rows[0], ["\u{feff}x", "1"]);
    // After a real BOM, nothing needs quoting: readers drop only the first mark.
    let text = to_string(CsvSinkBuilder::new().bom(true), &[b]);
    assert_eq!(text, "\u{feff}\u{feff}name,n\n\u{feff}x,1\ny,2\n");
    let (header, _) = read_back(&text, b',');
    assert_eq!(header, ["\u{feff}name", "n"]);
}

#[test]
fn always_quotes_empty_fields_and_nulls() {
    let b = batch(vec![
        (
            "a",
            col(StringArray::from(vec![Some(""), None, Some("x\"y")])),
        ),
        ("b", col(Int64Array::from(vec![None, Some(1), Some(2)]))),
    ]);
    let text = to_string(
        CsvSinkBuilder::new()
            .delimiter(b';')
            .quote_style(QuoteStyle::Always),
        &[b],
    );
    assert_eq!(
        text,
        "\"a\";\"b\"\n\"\";\"\"\n\"\";\"1\"\n\"x\"\"y\";\"2\"\n"
    );
}

#[test]
fn non_numeric_leaves_numbers_and_nulls_bare() {
    let b = batch(vec![
        ("s", col(StringArray::from(vec![Some(""), None]))),
        ("n", col(Float64Array::from(vec![Some(1.5), None]))),
        ("d", col(Date32Array::from(vec![Some(0), None]))),
    ]);
    let text = to_string(
        CsvSinkBuilder::new().quote_style(QuoteStyle::NonNumeric),
        &[b],
    );
    assert_eq!(text, "\"s\",\"n\",\"d\"\n\"\",1.5,\"1970-01-01\"\n,,\n");
}

#[test]
fn schema_change_between_batches_is_an_error() {
    let first = batch(vec![
        ("id", col(Int64Array::from(vec![1]))),
        ("name", col(StringArray::from(vec!["a"]))),
    ]);
    let retyped = batch(vec![
        ("id", col(StringArray::from(vec!["1"]))),
        ("name", col(StringArray::from(vec!["a"]))),
    ]);
    let renamed = batch(vec![
        ("id", col(Int64Array::from(vec![1]))),
        ("label", col(StringArray::from(vec!["a"]))),
    ]);
    let longer = batch(vec![
        ("id", col(Int64Array::from(vec![1]))),
        ("name", col(StringArray::from(vec!["a"]))),
        ("extra", col(Int64Array::from(vec![1]))),
    ]);
    let mut sink = CsvSink::new(Vec::new());
    sink.write(&first).unwrap();
    match sink.write(&retyped).unwrap_err() {
        ExportError::ColumnType {
            column,
            expected,
            actual,
        } => {
            assert_eq!(column, "id");
            assert_eq!(expected, "Int64");
            assert_eq!(actual, "Utf8");
        }
        other => panic!("unexpected {other}"),
    }
    let err = sink.write(&renamed).unwrap_err();
    assert!(
        matches!(&err, ExportError::InvalidRequest { reason, .. } if reason.contains("`label`")),
        "{err}"
    );
    let err = sink.write(&longer).unwrap_err();
    assert!(err.to_string().contains("`extra`"), "{err}");
    // The sink still works with the right schema; the bad batches wrote nothing.
    sink.write(&first).unwrap();
    assert_eq!(
        String::from_utf8(sink.into_inner().unwrap()).unwrap(),
        "id,name\n1,a\n1,a\n"
    );
}

#[test]
fn write_after_finish_is_an_error() {
    let b = batch(vec![("a", col(Int64Array::from(vec![1])))]);
    let mut sink = CsvSink::new(Vec::new());
    sink.write(&b).unwrap();
    sink.finish().unwrap();
    assert!(matches!(sink.write(&b), Err(ExportError::SinkFinished)));
    assert!(matches!(sink.finish(), Err(ExportError::SinkFinished)));
    assert!(matches!(
        sink.write_header(&b.schema()),
        Err(ExportError::SinkFinished)
    ));
    assert_eq!(sink.into_inner().unwrap(), b"a\n1\n");
}

/// A writer that accepts `budget` bytes, then fails.
struct FailingWriter {
    budget: usize,
}

impl Write for FailingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.budget == 0 {
            return Err(io::Error::other("disk full"));
        }
        let n = buf.len().min(self.budget);
        self.budget -= n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn failing_writer_is_an_io_error() {
    let b = batch(vec![(
        "text",
        col(StringArray::from_iter_values(
            (0..20_000).map(|i| format!("row {i}")),
        )),
    )]);
    for compression in [Compression::None, Compression::Gzip, Compression::Zip] {
        // Fails mid-stream (large batch) or at finish (small output).
        for budget in [0, 10, 1_000] {
            let mut sink = CsvSinkBuilder::new()
                .compression(compression)
                .build(FailingWriter { budget });
            let result = sink.write(&b).and_then(|()| sink.finish().map(|_| ()));
            match result {
                Err(ExportError::Io { source, .. }) => {
                    assert!(source.to_string().contains("disk full"), "{source}")
                }
                other => panic!("{compression:?}/{budget}: expected Io, got {other:?}"),
            }
        }
    }
}

#[test]
fn sink_is_usable_as_a_boxed_trait_object() {
    let b = batch(vec![("a", col(Int64Array::from(vec![1])))]);
    let mut sink: Box<dyn Sink> = Box::new(CsvSink::new(Vec::new()));
    sink.write(&b).unwrap();
    assert_eq!(sink.finish().unwrap().rows, 1);
}
