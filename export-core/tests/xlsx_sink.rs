//! The XLSX sink, read back with calamine (values, types, formats) and, for what calamine does not
//! expose (widths, frozen panes, autofilters), from the sheet XML in the zip container.

use std::collections::HashMap;
use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};
use std::sync::Arc;

use arrow_array::builder::{Int64Builder, ListBuilder, StringBuilder, StructBuilder};
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, DictionaryArray,
    DurationSecondArray, Float32Array, Float64Array, Int32Array, Int64Array, NullArray,
    RecordBatch, StringArray, Time32SecondArray, TimestampSecondArray, UInt64Array,
};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};
use calamine::{Data, Reader, Xlsx};
use chrono::{NaiveDate, TimeZone, Utc};
use export_core::ExportError;
use export_core::schema::{META_NUM_FORMAT, META_SHEET, META_WIDTH};
use export_core::sink::Sink;
use export_core::sink::xlsx::XlsxSinkBuilder;

type Book = Xlsx<Cursor<Vec<u8>>>;

fn schema(sheet: Option<&str>, fields: Vec<Field>) -> SchemaRef {
    let meta = sheet
        .map(|s| HashMap::from([(META_SHEET.to_string(), s.to_string())]))
        .unwrap_or_default();
    Arc::new(Schema::new_with_metadata(fields, meta))
}

fn batch(sheet: Option<&str>, columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields = columns
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let arrays = columns.into_iter().map(|(_, a)| a).collect();
    RecordBatch::try_new(schema(sheet, fields), arrays).unwrap()
}

fn export(
    builder: &XlsxSinkBuilder,
    batches: &[RecordBatch],
) -> (export_core::sink::Summary, Vec<u8>) {
    let mut sink = builder.build(Cursor::new(Vec::new()));
    for b in batches {
        sink.write(b).unwrap();
    }
    let summary = sink.finish().unwrap();
    (summary, sink.into_inner().unwrap().into_inner())
}

fn open(bytes: &[u8]) -> Book {
    Xlsx::new(Cursor::new(bytes.to_vec())).unwrap()
}

fn cell(book: &mut Book, sheet: &str, row: u32, col: u32) -> Data {
    let range = book.worksheet_range(sheet).unwrap();
    range.get_value((row, col)).cloned().unwrap_or(Data::Empty)
}

/// (y, m, d, h, min, s) of a date-formatted cell, checking calamine saw a date format.
fn datetime(data: &Data) -> (u16, u8, u8, u8, u8, u8) {
    match data {
        Data::DateTime(dt) => {
            assert!(dt.is_datetime(), "{data:?}");
            let (y, m, d, h, min, s, _) = dt.to_ymd_hms_milli();
            (y, m, d, h, min, s)
        }
        other => panic!("expected a date cell, got {other:?}"),
    }
}

fn sheet_xml(bytes: &[u8], n: usize) -> String {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut xml = String::new();
    zip.by_name(&format!("xl/worksheets/sheet{n}.xml"))
        .unwrap()
        .read_to_string(&mut xml)
        .unwrap();
    xml
}

/// The `width` attributes of a sheet's `<col>` elements.
fn column_widths(xml: &str) -> Vec<f64> {
    xml.split("<col ")
        .skip(1)
        .filter_map(|c| c.split("width=\"").nth(1)?.split('"').next()?.parse().ok())
        .collect()
}

fn number_format(book: &mut Book, sheet: &str, row: u32, col: u32) -> String {
    let styles = book.worksheet_style(sheet).unwrap();
    styles
        .get((row, col))
        .and_then(|s| s.number_format.as_ref())
        .map(|f| f.format_code.clone())
        .unwrap_or_else(|| "General".into())
}

#[test]
fn numbers_booleans_and_nulls() {
    let b = batch(
        None,
        vec![
            (
                "int",
                Arc::new(Int64Array::from(vec![
                    Some(42),
                    Some(-(1i64 << 53)),
                    Some(i64::MAX),
                    Some(i64::MIN),
                    Some((1i64 << 53) + 1),
                    None,
                ])) as ArrayRef,
            ),
            (
                "float",
                Arc::new(Float64Array::from(vec![
                    Some(f64::MAX),
                    Some(f64::MIN_POSITIVE),
                    Some(-0.5),
                    Some(f64::NAN),
                    Some(f64::NEG_INFINITY),
                    None,
                ])),
            ),
            (
                "bool",
                Arc::new(BooleanArray::from(vec![
                    Some(true),
                    Some(false),
                    None,
                    None,
                    None,
                    None,
                ])),
            ),
            (
                "u64",
                Arc::new(UInt64Array::from(vec![
                    Some(7),
                    Some(u64::MAX),
                    None,
                    None,
                    None,
                    None,
                ])),
            ),
            (
                "f32",
                Arc::new(Float32Array::from(vec![
                    Some(0.1),
                    Some(f32::INFINITY),
                    None,
                    None,
                    None,
                    None,
                ])),
            ),
            (
                "i32",
                Arc::new(Int32Array::from(vec![
                    Some(i32::MIN),
                    None,
                    None,
                    None,
                    None,
                    None,
                ])),
            ),
            ("null", Arc::new(NullArray::new(6))),
        ],
    );
    let (summary, bytes) = export(&XlsxSinkBuilder::new(), &[b]);
    assert_eq!(summary.rows, 6);
    assert_eq!(summary.sheets, ["Sheet1"]);
    assert_eq!(summary.bytes, bytes.len() as u64);

    let mut book = open(&bytes);
    let range = book.worksheet_range("Sheet1").unwrap();
    // The last row is all nulls: no cell, so the range stops at row 6.
    assert_eq!((range.height(), range.width()), (6, 7));
    let header: Vec<&Data> = range.rows().next().unwrap().iter().collect();
    let names = ["int", "float", "bool", "u64", "f32", "i32", "null"];
    assert_eq!(
        header,
        names
            .map(|n| Data::String(n.into()))
            .iter()
            .collect::<Vec<_>>()
    );

    let at = |r: u32, c: u32| range.get_value((r, c)).cloned().unwrap_or(Data::Empty);
    // Integers: exact numbers up to 2^53, text beyond.
    assert_eq!(at(1, 0), Data::Float(42.0));
    assert_eq!(at(2, 0), Data::Float(-9_007_199_254_740_992.0));
    assert_eq!(at(3, 0), Data::String(i64::MAX.to_string()));
    assert_eq!(at(4, 0), Data::String(i64::MIN.to_string()));
    assert_eq!(at(5, 0), Data::String("9007199254740993".into()));
    assert_eq!(at(6, 0), Data::Empty);
    // Floats: extremes survive, non-finite values are text.
    assert_eq!(at(1, 1), Data::Float(f64::MAX));
    assert_eq!(at(2, 1), Data::Float(f64::MIN_POSITIVE));
    assert_eq!(at(3, 1), Data::Float(-0.5));
    assert_eq!(at(4, 1), Data::String("NaN".into()));
    assert_eq!(at(5, 1), Data::String("-Infinity".into()));
    assert_eq!(at(6, 1), Data::Empty);
    assert_eq!(at(1, 2), Data::Bool(true));
    assert_eq!(at(2, 2), Data::Bool(false));
    assert_eq!(at(3, 2), Data::Empty);
    assert_eq!(at(1, 3), Data::Float(7.0));
    assert_eq!(at(2, 3), Data::String(u64::MAX.to_string()));
    assert_eq!(at(1, 4), Data::Float(0.1)); // shortest decimal of the f32
    assert_eq!(at(2, 4), Data::String("Infinity".into()));
    assert_eq!(at(1, 5), Data::Float(f64::from(i32::MIN)));
}

#[test]
fn strings_stay_strings() {
    let texts = vec![
        Some("=1+1"),
        Some("+33 6 12 34 56 78"),
        Some("-12"),
        Some("@SUM(A1)"),
        Some("héllo wörld — 日本語 🚗"),
        Some("tab\tand\nnewline & <xml> \"quotes\""),
        Some("0012"),
        None,
    ];
    let dict: DictionaryArray<Int32Type> = texts.iter().copied().collect();
    let b = batch(
        Some("texts"),
        vec![
            (
                "plain",
                Arc::new(StringArray::from(texts.clone())) as ArrayRef,
            ),
            ("dict", Arc::new(dict)),
        ],
    );
    let (_, bytes) = export(&XlsxSinkBuilder::new(), &[b]);
    let mut book = open(&bytes);
    let range = book.worksheet_range("texts").unwrap();
    for (i, t) in texts.iter().enumerate() {
        let expected = t.map_or(Data::Empty, |t| Data::String(t.into()));
        for c in 0..2 {
            let got = range
                .get_value((i as u32 + 1, c))
                .cloned()
                .unwrap_or(Data::Empty);
            assert_eq!(got, expected, "row {i} col {c}");
        }
    }
    // No formula anywhere.
    let formulas = book.worksheet_formula("texts").unwrap();
    assert!(formulas.used_cells().all(|(_, _, f)| f.is_empty()));
}

#[test]
fn dates_times_durations_and_decimals_have_formats() {
    let date = |y, m, d| {
        (NaiveDate::from_ymd_opt(y, m, d).unwrap() - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
            .num_days() as i32
    };
    let b = batch(
        Some("typed"),
        vec![
            (
                "date",
                Arc::new(Date32Array::from(vec![
                    Some(date(2026, 10, 3)),
                    Some(date(1900, 1, 1)),
                    Some(date(1850, 6, 1)),
                    None,
                ])) as ArrayRef,
            ),
            (
                "time",
                Arc::new(Time32SecondArray::from(vec![
                    Some(8 * 3600 + 20 * 60 + 5),
                    Some(0),
                    None,
                    None,
                ])),
            ),
            (
                "duration",
                Arc::new(DurationSecondArray::from(vec![
                    Some(27 * 3600 + 30 * 60),
                    Some(90),
                    None,
                    None,
                ])),
            ),
            (
                "amount",
                Arc::new(
                    Decimal128Array::from(vec![Some(12345), Some(-5), Some(i128::MAX / 7), None])
                        .with_precision_and_scale(38, 2)
                        .unwrap(),
                ),
            ),
        ],
    );
    let (_, bytes) = export(&XlsxSinkBuilder::new(), &[b]);
    let mut book = open(&bytes);

    assert_eq!(
        datetime(&cell(&mut book, "typed", 1, 0)),
        (2026, 10, 3, 0, 0, 0)
    );
    assert_eq!(
        datetime(&cell(&mut book, "typed", 2, 0)),
        (1900, 1, 1, 0, 0, 0)
    );
    // Excel cannot show dates before 1900: ISO text.
    assert_eq!(
        cell(&mut book, "typed", 3, 0),
        Data::String("1850-06-01".into())
    );
    assert_eq!(cell(&mut book, "typed", 4, 0), Data::Empty);
    assert_eq!(number_format(&mut book, "typed", 1, 0), "yyyy-mm-dd");

    match cell(&mut book, "typed", 1, 1) {
        Data::DateTime(t) => {
            assert!((t.as_f64() - (8.0 * 3600.0 + 20.0 * 60.0 + 5.0) / 86_400.0).abs() < 1e-12);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(number_format(&mut book, "typed", 1, 1), "hh:mm:ss");

    match cell(&mut book, "typed", 1, 2) {
        Data::DateTime(d) => {
            assert!(d.is_duration(), "{d:?}");
            assert!((d.as_f64() - 27.5 / 24.0).abs() < 1e-12);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(number_format(&mut book, "typed", 1, 2), "[h]:mm:ss");

    assert_eq!(cell(&mut book, "typed", 1, 3), Data::Float(123.45));
    assert_eq!(cell(&mut book, "typed", 2, 3), Data::Float(-0.05));
    // Beyond 2^53 the exact digits are kept as text.
    let big = Decimal128Array::from(vec![i128::MAX / 7])
        .with_precision_and_scale(38, 2)
        .unwrap()
        .value_as_string(0);
    assert_eq!(cell(&mut book, "typed", 3, 3), Data::String(big));
    assert_eq!(number_format(&mut book, "typed", 1, 3), "0.00");
}

#[test]
fn timestamps_are_local_wall_time_in_the_column_zone_across_dst() {
    let instants = [
        Utc.with_ymd_and_hms(2026, 3, 29, 0, 30, 0).unwrap(), // CET: 01:30
        Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap(), // CEST: 03:30
        Utc.with_ymd_and_hms(2026, 10, 25, 0, 30, 0).unwrap(), // CEST: 02:30
        Utc.with_ymd_and_hms(2026, 10, 25, 1, 30, 0).unwrap(), // CET: 02:30 again
    ];
    let secs: Vec<i64> = instants.iter().map(|t| t.timestamp()).collect();
    let paris = TimestampSecondArray::from(secs.clone()).with_timezone("Europe/Paris");
    let utc = TimestampSecondArray::from(secs);
    let b = batch(
        None,
        vec![
            ("paris", Arc::new(paris) as ArrayRef),
            ("utc", Arc::new(utc)),
        ],
    );
    let (_, bytes) = export(&XlsxSinkBuilder::new().sheet_name("Trajets"), &[b]);
    let mut book = open(&bytes);
    let expect_paris = [
        (2026, 3, 29, 1, 30, 0),
        (2026, 3, 29, 3, 30, 0),
        (2026, 10, 25, 2, 30, 0),
        (2026, 10, 25, 2, 30, 0),
    ];
    let expect_utc = [
        (2026, 3, 29, 0, 30, 0),
        (2026, 3, 29, 1, 30, 0),
        (2026, 10, 25, 0, 30, 0),
        (2026, 10, 25, 1, 30, 0),
    ];
    for i in 0..4 {
        assert_eq!(
            datetime(&cell(&mut book, "Trajets", i + 1, 0)),
            expect_paris[i as usize]
        );
        assert_eq!(
            datetime(&cell(&mut book, "Trajets", i + 1, 1)),
            expect_utc[i as usize]
        );
    }
    assert_eq!(
        number_format(&mut book, "Trajets", 1, 0),
        "yyyy-mm-dd hh:mm:ss"
    );
}

#[test]
fn nested_values_are_compact_json_text() {
    let mut list = ListBuilder::new(Int64Builder::new());
    list.append_value([Some(1), None]);
    list.append_null();
    let fields = Fields::from(vec![
        Field::new("siret", DataType::Utf8, true),
        Field::new("amount_cents", DataType::Int64, true),
    ]);
    let mut st = StructBuilder::from_fields(fields, 2);
    st.field_builder::<StringBuilder>(0)
        .unwrap()
        .append_value("123");
    st.field_builder::<Int64Builder>(1)
        .unwrap()
        .append_value(150);
    st.append(true);
    st.field_builder::<StringBuilder>(0).unwrap().append_null();
    st.field_builder::<Int64Builder>(1).unwrap().append_null();
    st.append(false);
    let b = batch(
        None,
        vec![
            ("list", Arc::new(list.finish()) as ArrayRef),
            ("incentive", Arc::new(st.finish())),
        ],
    );
    let (_, bytes) = export(&XlsxSinkBuilder::new(), &[b]);
    let mut book = open(&bytes);
    assert_eq!(
        cell(&mut book, "Sheet1", 1, 0),
        Data::String("[1,null]".into())
    );
    assert_eq!(cell(&mut book, "Sheet1", 2, 0), Data::Empty);
    assert_eq!(
        cell(&mut book, "Sheet1", 1, 1),
        Data::String(r#"{"siret":"123","amount_cents":150}"#.into())
    );
    assert_eq!(cell(&mut book, "Sheet1", 2, 1), Data::Empty);
}

#[test]
fn field_metadata_sets_formats_and_widths_and_header_is_styled() {
    let price = Field::new("price", DataType::Float64, true).with_metadata(HashMap::from([
        (META_NUM_FORMAT.to_string(), "#,##0.00 [$€-40C]".to_string()),
        (META_WIDTH.to_string(), "14.5".to_string()),
    ]));
    let s = schema(Some("products"), vec![price]);
    let b = RecordBatch::try_new(s, vec![Arc::new(Float64Array::from(vec![1234.5]))]).unwrap();
    let (_, bytes) = export(&XlsxSinkBuilder::new(), &[b]);
    let mut book = open(&bytes);
    assert_eq!(
        number_format(&mut book, "products", 1, 0),
        "#,##0.00 [$€-40C]"
    );
    assert_eq!(cell(&mut book, "products", 1, 0), Data::Float(1234.5));

    let styles = book.worksheet_style("products").unwrap();
    let header = styles.get((0, 0)).unwrap();
    assert!(header.font.as_ref().unwrap().is_bold());
    let fill = header.fill.as_ref().unwrap().get_color().unwrap();
    assert_eq!(fill.to_argb() & 0xFF_FFFF, 0x1F4E78);

    // 14.5 characters, rounded by Excel's pixel arithmetic.
    let widths = column_widths(&sheet_xml(&bytes, 1));
    assert_eq!(widths.len(), 1);
    assert!((14.5..15.5).contains(&widths[0]), "{widths:?}");
}

#[test]
fn three_schemas_make_three_sheets() {
    let products = batch(
        Some("products"),
        vec![(
            "sku",
            Arc::new(StringArray::from(vec!["A", "B"])) as ArrayRef,
        )],
    );
    let suppliers = batch(
        Some("suppliers"),
        vec![
            ("id", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
            ("name", Arc::new(StringArray::from(vec!["ACME"]))),
        ],
    );
    let categories = batch(
        Some("categories"),
        vec![(
            "label",
            Arc::new(StringArray::from(vec!["x", "y", "z"])) as ArrayRef,
        )],
    );
    let (summary, bytes) = export(
        &XlsxSinkBuilder::new(),
        &[products.clone(), products, suppliers, categories],
    );
    assert_eq!(summary.sheets, ["products", "suppliers", "categories"]);
    assert_eq!(summary.rows, 8);
    let mut book = open(&bytes);
    assert_eq!(book.sheet_names(), ["products", "suppliers", "categories"]);
    assert_eq!(book.worksheet_range("products").unwrap().height(), 5);
    assert_eq!(book.worksheet_range("suppliers").unwrap().height(), 2);
    assert_eq!(
        cell(&mut book, "suppliers", 0, 1),
        Data::String("name".into())
    );
    assert_eq!(
        cell(&mut book, "categories", 3, 0),
        Data::String("z".into())
    );
}

#[test]
fn returning_to_an_earlier_sheet_is_an_error() {
    let a = batch(
        Some("a"),
        vec![("x", Arc::new(Int64Array::from(vec![1])) as ArrayRef)],
    );
    let b = batch(
        Some("b"),
        vec![("x", Arc::new(Int64Array::from(vec![1])) as ArrayRef)],
    );
    let mut sink = XlsxSinkBuilder::new().build(Cursor::new(Vec::new()));
    sink.write(&a).unwrap();
    sink.write(&b).unwrap();
    let err = sink.write(&a).unwrap_err();
    assert!(matches!(err, ExportError::InvalidRequest { .. }), "{err}");
    assert!(err.to_string().contains("`a`"), "{err}");
}

#[test]
fn a_sheet_cannot_change_its_columns() {
    let a = batch(
        Some("a"),
        vec![("x", Arc::new(Int64Array::from(vec![1])) as ArrayRef)],
    );
    let renamed = batch(
        Some("a"),
        vec![("y", Arc::new(Int64Array::from(vec![1])) as ArrayRef)],
    );
    let retyped = batch(
        Some("a"),
        vec![("x", Arc::new(StringArray::from(vec!["1"])) as ArrayRef)],
    );
    let mut sink = XlsxSinkBuilder::new().build(Cursor::new(Vec::new()));
    sink.write(&a).unwrap();
    let err = sink.write(&renamed).unwrap_err();
    assert!(matches!(err, ExportError::InvalidRequest { .. }), "{err}");
    let err = sink.write(&retyped).unwrap_err();
    assert!(matches!(err, ExportError::ColumnType { .. }), "{err}");
}

#[test]
fn rollover_repeats_header_formats_widths_freeze_and_autofilter() {
    let ts = |h: u32| {
        Utc.with_ymd_and_hms(2026, 1, 1, h, 0, 0)
            .unwrap()
            .timestamp()
    };
    let make = |ids: Vec<i64>| {
        let hours: Vec<i64> = ids.iter().map(|&i| ts(i as u32)).collect();
        batch(
            Some("trips"),
            vec![
                ("journey_id", Arc::new(Int64Array::from(ids)) as ArrayRef),
                (
                    "start_datetime",
                    Arc::new(TimestampSecondArray::from(hours).with_timezone("UTC")),
                ),
            ],
        )
    };
    let builder = XlsxSinkBuilder::new().sheet_rows(3);
    // Batches of 2, 5 and 1 rows: the second spans two boundaries.
    let (summary, bytes) = export(
        &builder,
        &[make(vec![1, 2]), make(vec![3, 4, 5, 6, 7]), make(vec![8])],
    );
    assert_eq!(summary.rows, 8);
    assert_eq!(summary.sheets, ["trips", "trips (2)", "trips (3)"]);

    let mut book = open(&bytes);
    assert_eq!(book.sheet_names(), ["trips", "trips (2)", "trips (3)"]);
    let mut next = 1.0;
    for (n, (name, rows)) in [("trips", 3), ("trips (2)", 3), ("trips (3)", 2)]
        .iter()
        .enumerate()
    {
        let range = book.worksheet_range(name).unwrap();
        assert_eq!(range.height(), rows + 1, "{name}");
        assert_eq!(
            range.get_value((0, 0)),
            Some(&Data::String("journey_id".into()))
        );
        assert_eq!(
            range.get_value((0, 1)),
            Some(&Data::String("start_datetime".into()))
        );
        for r in 1..=*rows as u32 {
            assert_eq!(
                range.get_value((r, 0)),
                Some(&Data::Float(next)),
                "{name} row {r}"
            );
            let (_, _, _, h, _, _) = datetime(range.get_value((r, 1)).unwrap());
            assert_eq!(f64::from(h), next, "{name} row {r}");
            next += 1.0;
        }
        assert_eq!(number_format(&mut book, name, 1, 1), "yyyy-mm-dd hh:mm:ss");
        let styles = book.worksheet_style(name).unwrap();
        assert!(
            styles.get((0, 0)).unwrap().font.as_ref().unwrap().is_bold(),
            "{name}"
        );

        let xml = sheet_xml(&bytes, n + 1);
        assert!(
            xml.contains(
                r#"<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>"#
            ),
            "{name}: {xml}"
        );
        assert!(
            xml.contains(&format!(r#"<autoFilter ref="A1:B{}"/>"#, rows + 1)),
            "{name}: {xml}"
        );
        let widths = column_widths(&xml);
        assert_eq!(widths.len(), 2, "{name}: widths");
        assert!(
            widths[1] >= 19.0,
            "{name}: a timestamp column is wide enough: {widths:?}"
        );
        assert_eq!(
            widths,
            column_widths(&sheet_xml(&bytes, 1)),
            "{name}: same widths"
        );
    }
}

#[test]
fn freeze_and_autofilter_can_be_turned_off() {
    let b = batch(
        None,
        vec![("x", Arc::new(Int64Array::from(vec![1])) as ArrayRef)],
    );
    let builder = XlsxSinkBuilder::new()
        .freeze_header(false)
        .autofilter(false)
        .default_width(30.0);
    let (_, bytes) = export(&builder, &[b]);
    let xml = sheet_xml(&bytes, 1);
    assert!(!xml.contains("<pane"), "{xml}");
    assert!(!xml.contains("<autoFilter"), "{xml}");
    let widths = column_widths(&xml);
    assert!((30.0..31.0).contains(&widths[0]), "{widths:?}");
}

#[test]
fn long_continuation_names_are_truncated_to_31_characters() {
    let base = "a_very_long_sheet_name_of_31_ch";
    assert_eq!(base.chars().count(), 31);
    let b = batch(
        Some(base),
        vec![("x", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef)],
    );
    let (summary, bytes) = export(&XlsxSinkBuilder::new().sheet_rows(1), &[b]);
    assert_eq!(
        summary.sheets,
        [
            base.to_string(),
            "a_very_long_sheet_name_of_3 (2)".to_string()
        ]
    );
    assert_eq!(open(&bytes).sheet_names().len(), 2);
}

#[test]
fn empty_export_is_a_valid_workbook_with_one_empty_sheet() {
    let (summary, bytes) = export(&XlsxSinkBuilder::new(), &[]);
    assert_eq!(summary.rows, 0);
    assert_eq!(summary.sheets, ["Sheet1"]);
    let mut book = open(&bytes);
    assert_eq!(book.sheet_names(), ["Sheet1"]);
    assert!(book.worksheet_range("Sheet1").unwrap().is_empty());
}

#[test]
fn an_empty_batch_still_writes_its_header() {
    let b = batch(
        Some("Aide"),
        vec![(
            "colonne",
            Arc::new(StringArray::from(Vec::<&str>::new())) as ArrayRef,
        )],
    );
    let (summary, bytes) = export(&XlsxSinkBuilder::new(), &[b]);
    assert_eq!(summary.rows, 0);
    let mut book = open(&bytes);
    assert_eq!(
        cell(&mut book, "Aide", 0, 0),
        Data::String("colonne".into())
    );
}

#[test]
fn write_and_finish_after_finish_are_errors() {
    let b = batch(
        None,
        vec![("x", Arc::new(Int64Array::from(vec![1])) as ArrayRef)],
    );
    let mut sink = XlsxSinkBuilder::new().build(Cursor::new(Vec::new()));
    sink.write(&b).unwrap();
    sink.finish().unwrap();
    assert!(matches!(sink.write(&b), Err(ExportError::SinkFinished)));
    assert!(matches!(sink.finish(), Err(ExportError::SinkFinished)));
}

/// A writer that always fails, like a full disk or a closed socket.
struct Unwritable;

impl Write for Unwritable {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(io::ErrorKind::PermissionDenied, "read-only"))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for Unwritable {
    fn seek(&mut self, _: SeekFrom) -> io::Result<u64> {
        Ok(0)
    }
}

#[test]
fn unwritable_output_is_an_io_error() {
    let b = batch(
        None,
        vec![("x", Arc::new(Int64Array::from(vec![1])) as ArrayRef)],
    );
    let mut sink = XlsxSinkBuilder::new().build(Unwritable);
    sink.write(&b).unwrap();
    let err = sink.finish().unwrap_err();
    assert!(matches!(err, ExportError::Io { .. }), "{err:?}");
}

#[test]
fn unwritable_tempdir_is_an_io_error_naming_it() {
    let b = batch(
        None,
        vec![("x", Arc::new(Int64Array::from(vec![1])) as ArrayRef)],
    );
    let missing = std::env::temp_dir().join("export-core-no-such-dir/nested");
    let mut sink = XlsxSinkBuilder::new()
        .tempdir(&missing)
        .build(Cursor::new(Vec::new()));
    let err = sink.write(&b).unwrap_err();
    match err {
        ExportError::Io { path: Some(p), .. } => assert_eq!(p, missing),
        other => panic!("{other:?}"),
    }
}

/// Files this process holds open below `dir`, as `/proc/self/fd` names them. The sink's
/// temporary files are unlinked at once (they never show in a listing), but stay open.
#[cfg(target_os = "linux")]
fn open_files_below(dir: &std::path::Path) -> usize {
    let dir = dir.canonicalize().unwrap();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.starts_with(&dir))
        .count()
}

#[cfg(target_os = "linux")]
#[test]
fn a_custom_tempdir_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let b = batch(
        None,
        vec![("x", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef)],
    );
    assert_eq!(open_files_below(dir.path()), 0);
    let mut sink = XlsxSinkBuilder::new()
        .tempdir(dir.path())
        .build(Cursor::new(Vec::new()));
    sink.write(&b).unwrap();
    // The worksheet is spooled to a temporary file in the directory given, during the write.
    assert!(
        open_files_below(dir.path()) >= 1,
        "no temporary file in {}",
        dir.path().display()
    );
    let summary = sink.finish().unwrap();
    assert_eq!(summary.rows, 2);
    let bytes = sink.into_inner().unwrap().into_inner();
    assert_eq!(open_files_below(dir.path()), 0, "temporary files closed");
    let mut book = open(&bytes);
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    assert_eq!(range.height(), 3);

    // Without the option, nothing goes there.
    let mut sink = XlsxSinkBuilder::new().build(Cursor::new(Vec::new()));
    sink.write(&b).unwrap();
    assert_eq!(open_files_below(dir.path()), 0);
    sink.finish().unwrap();
}

#[test]
fn text_beyond_excel_cell_limit_is_an_encode_error_naming_column_and_row() {
    let long = "é".repeat(32_768);
    let b = batch(
        None,
        vec![(
            "comment",
            Arc::new(StringArray::from(vec!["ok", long.as_str()])) as ArrayRef,
        )],
    );
    let mut sink = XlsxSinkBuilder::new().build(Cursor::new(Vec::new()));
    let err = sink.write(&b).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, ExportError::Encode { format: "xlsx", .. }),
        "{text}"
    );
    assert!(
        text.contains("`comment`") && text.contains("row 2") && text.contains("A3"),
        "{text}"
    );

    // Exactly at the limit is fine.
    let max = "é".repeat(32_767);
    let b = batch(
        None,
        vec![(
            "comment",
            Arc::new(StringArray::from(vec![max.as_str()])) as ArrayRef,
        )],
    );
    let (_, bytes) = export(&XlsxSinkBuilder::new(), &[b]);
    assert_eq!(cell(&mut open(&bytes), "Sheet1", 1, 0), Data::String(max));
}

#[test]
fn unsupported_types_are_encode_errors_naming_the_column() {
    let b = batch(
        None,
        vec![(
            "blob",
            Arc::new(BinaryArray::from(vec![&b"x"[..]])) as ArrayRef,
        )],
    );
    let mut sink = XlsxSinkBuilder::new().build(Cursor::new(Vec::new()));
    let err = sink.write(&b).unwrap_err();
    assert!(matches!(err, ExportError::Encode { .. }), "{err}");
    assert!(err.to_string().contains("`blob`"), "{err}");
}

#[test]
fn invalid_sheet_names_are_request_errors() {
    for name in ["a/b", "", "'quoted'", "x".repeat(32).as_str()] {
        let b = batch(
            Some(name),
            vec![("x", Arc::new(Int64Array::from(vec![1])) as ArrayRef)],
        );
        let mut sink = XlsxSinkBuilder::new().build(Cursor::new(Vec::new()));
        let err = sink.write(&b).unwrap_err();
        assert!(
            matches!(err, ExportError::InvalidRequest { .. }),
            "{name}: {err}"
        );
    }
}

#[test]
fn sheet_names_are_case_insensitive() {
    let a = batch(
        Some("Data"),
        vec![("x", Arc::new(Int64Array::from(vec![1])) as ArrayRef)],
    );
    let b = batch(
        Some("data"),
        vec![("x", Arc::new(Int64Array::from(vec![1])) as ArrayRef)],
    );
    let mut sink = XlsxSinkBuilder::new().build(Cursor::new(Vec::new()));
    sink.write(&a).unwrap();
    assert!(matches!(
        sink.write(&b),
        Err(ExportError::InvalidRequest { .. })
    ));
}
