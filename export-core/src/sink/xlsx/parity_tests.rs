//! The stitched workbook reads back cell for cell (value, type, number format) as the workbook
//! rust_xlsxwriter writes when it is given every cell (`XlsxSinkBuilder::direct`), for every
//! type of the module's table and every option, through calamine.

use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::sync::Arc;

use arrow_array::builder::{Int64Builder, ListBuilder};
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, DictionaryArray, DurationSecondArray,
    Float32Array, Float64Array, Int64Array, LargeStringArray, NullArray, RecordBatch, StringArray,
    Time32SecondArray, TimestampMillisecondArray, UInt64Array,
};
use arrow_schema::{Field, Schema};
use calamine::{Reader, Xlsx};

use super::XlsxSinkBuilder;
use crate::schema::{META_NUM_FORMAT, META_SHEET, META_WIDTH};
use crate::sink::Sink;

/// `n` rows of every type, with nulls, edge values and awkward texts; sheet `sheet`.
fn every_type(sheet: &str, n: usize, offset: i64) -> RecordBatch {
    let k = |i: usize| i as i64 + offset;
    let texts = [
        "",
        "=1+1",
        "a<b&c>",
        "_x0041_",
        " lead",
        "bell\u{7}",
        "é",
        "plain",
    ];
    let mut list = ListBuilder::new(Int64Builder::new());
    for i in 0..n {
        if i % 5 == 0 {
            list.append_null();
        } else {
            list.values().append_value(k(i));
            list.append(true);
        }
    }
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "int",
            Arc::new(Int64Array::from_iter((0..n).map(|i| match i % 7 {
                0 => None,
                1 => Some(i64::MAX),
                2 => Some(-(1 << 53)),
                _ => Some(k(i) * 1_000_003),
            }))),
        ),
        (
            "uint",
            Arc::new(UInt64Array::from_iter_values(
                (0..n).map(|i| if i % 3 == 0 { u64::MAX } else { i as u64 }),
            )),
        ),
        (
            "f32",
            Arc::new(Float32Array::from_iter_values(
                (0..n).map(|i| i as f32 * 0.1),
            )),
        ),
        (
            "f64",
            Arc::new(Float64Array::from_iter((0..n).map(|i| match i % 8 {
                0 => None,
                1 => Some(f64::NAN),
                2 => Some(f64::NEG_INFINITY),
                3 => Some(-0.0),
                4 => Some(1e-7),
                5 => Some(1e300),
                _ => Some(k(i) as f64 / 7.0),
            }))),
        ),
        (
            "dec",
            Arc::new(
                Decimal128Array::from_iter_values((0..n).map(|i| k(i) as i128 * 12_345 - 99))
                    .with_precision_and_scale(20, 2)
                    .unwrap(),
            ),
        ),
        (
            "bool",
            Arc::new(BooleanArray::from_iter(
                (0..n).map(|i| (i % 3 != 0).then_some(i % 2 == 0)),
            )),
        ),
        (
            "text",
            Arc::new(StringArray::from_iter(
                (0..n).map(|i| (i % 9 != 0).then(|| texts[i % texts.len()])),
            )),
        ),
        (
            "large",
            Arc::new(LargeStringArray::from_iter_values(
                (0..n).map(|i| format!("row {}", k(i))),
            )),
        ),
        (
            "dict",
            Arc::new(DictionaryArray::<Int32Type>::from_iter(
                (0..n).map(|i| ["x", "y", ""][i % 3]),
            )),
        ),
        (
            "date",
            Arc::new(Date32Array::from_iter((0..n).map(|i| match i % 4 {
                0 => None,
                1 => Some(-43_800), // 1850: ISO text
                _ => Some(20_000 + k(i) as i32),
            }))),
        ),
        (
            "ts",
            Arc::new(
                TimestampMillisecondArray::from_iter_values(
                    (0..n).map(|i| 1_700_000_000_000 + k(i) * 3_600_123),
                )
                .with_timezone("Europe/Paris"),
            ),
        ),
        (
            "time",
            Arc::new(Time32SecondArray::from_iter_values(
                (0..n).map(|i| (i as i32 * 37) % 86_400),
            )),
        ),
        (
            "dur",
            Arc::new(DurationSecondArray::from_iter_values(
                (0..n).map(|i| k(i) * 61 - 100),
            )),
        ),
        ("list", Arc::new(list.finish())),
        ("null", Arc::new(NullArray::new(n))),
    ];
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, a)| {
            let f = Field::new(*name, a.data_type().clone(), true);
            match *name {
                "f64" => f.with_metadata(HashMap::from([(
                    META_NUM_FORMAT.to_string(),
                    "0.000".to_string(),
                )])),
                "large" => {
                    f.with_metadata(HashMap::from([(META_WIDTH.to_string(), "33".to_string())]))
                }
                _ => f,
            }
        })
        .collect();
    let schema = Schema::new_with_metadata(
        fields,
        HashMap::from([(META_SHEET.to_string(), sheet.to_string())]),
    );
    RecordBatch::try_new(
        Arc::new(schema),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap()
}

fn export(builder: &XlsxSinkBuilder, batches: &[RecordBatch]) -> (Vec<String>, Vec<u8>) {
    let mut sink = builder.build(Cursor::new(Vec::new()));
    for b in batches {
        sink.write(b).unwrap();
    }
    let summary = sink.finish().unwrap();
    (summary.sheets, sink.into_inner().unwrap().into_inner())
}

/// Every sheet's cells, with each cell's number format, as calamine reads them.
fn read_back(bytes: &[u8]) -> Vec<(String, String)> {
    let mut book = Xlsx::new(Cursor::new(bytes.to_vec())).unwrap();
    let mut out = Vec::new();
    for name in book.sheet_names() {
        let range = book.worksheet_range(&name).unwrap();
        let styles = book.worksheet_style(&name).unwrap();
        let mut cells = String::new();
        for (r, row) in range.rows().enumerate() {
            for (c, v) in row.iter().enumerate() {
                let format = styles
                    .get((r as u32, c as u32))
                    .and_then(|s| s.number_format.as_ref())
                    .map(|f| f.format_code.clone());
                cells.push_str(&format!("{r},{c}={v:?}[{format:?}] "));
            }
            cells.push('\n');
        }
        out.push((name, cells));
    }
    out
}

/// The zip's part names, each read through (so its CRC is checked).
fn parts(bytes: &[u8]) -> Vec<String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes.to_vec())).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut f = zip.by_index(i).unwrap();
            let mut text = String::new();
            f.read_to_string(&mut text).unwrap();
            f.name().unwrap().to_string()
        })
        .collect()
}

fn assert_same(builder: XlsxSinkBuilder, batches: &[RecordBatch]) {
    let (sheets, reference) = export(&builder.clone().direct(), batches);
    let expected = read_back(&reference);
    assert!(expected.iter().any(|(_, cells)| cells.len() > 100));
    for threads in [1, 2, 5] {
        let (names, bytes) = export(&builder.clone().threads(threads), batches);
        assert_eq!(names, sheets);
        let got = read_back(&bytes);
        for ((n1, c1), (n2, c2)) in got.iter().zip(&expected) {
            assert_eq!(n1, n2);
            for (l1, l2) in c1.lines().zip(c2.lines()) {
                assert_eq!(l1, l2, "sheet {n1}, {threads} threads");
            }
            assert_eq!(c1, c2, "sheet {n1}, {threads} threads");
        }
        assert_eq!(got.len(), expected.len());
        // The same parts (styles.xml lists the number formats in another order: by first use
        // in a column rather than by first non-blank cell).
        assert_eq!(parts(&bytes), parts(&reference), "{threads} threads");
    }
}

#[test]
fn every_type_reads_back_as_the_direct_workbook() {
    assert_same(
        XlsxSinkBuilder::new(),
        &[every_type("all", 500, 0), every_type("all", 300, 500)],
    );
}

#[test]
fn sheets_continuations_and_options_read_back_as_the_direct_workbook() {
    let batches = [
        every_type("a", 250, 0),
        every_type("b", 40, 7),
        every_type("b", 300, 99),
    ];
    assert_same(XlsxSinkBuilder::new().sheet_rows(120), &batches);
    assert_same(
        XlsxSinkBuilder::new()
            .header_bold(false)
            .header_background(None)
            .header_font_color(None)
            .freeze_header(false)
            .autofilter(false)
            .default_width(7.5),
        &batches,
    );
}

#[test]
fn many_chunks_read_back_as_the_direct_workbook() {
    // About 6 MiB of row XML: several chunks per sheet, deflated out of order on 5 threads.
    let batches: Vec<RecordBatch> = (0..4)
        .map(|k| every_type("big", 6_000, k * 6_000))
        .collect();
    assert_same(XlsxSinkBuilder::new(), &batches);
}

#[test]
fn an_empty_workbook_reads_back_as_the_direct_workbook() {
    let (_, reference) = export(&XlsxSinkBuilder::new().direct(), &[]);
    let (_, bytes) = export(&XlsxSinkBuilder::new(), &[]);
    assert_eq!(read_back(&bytes), read_back(&reference));
    let empty = every_type("headers only", 0, 0);
    let (_, reference) = export(
        &XlsxSinkBuilder::new().direct(),
        std::slice::from_ref(&empty),
    );
    let (_, bytes) = export(&XlsxSinkBuilder::new(), &[empty]);
    assert_eq!(read_back(&bytes), read_back(&reference));
    assert_eq!(parts(&bytes), parts(&reference));
}
