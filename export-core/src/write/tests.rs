use std::io::{Cursor, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arrow_array::{Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use calamine::{Data, Reader, Xlsx};

use super::*;
use crate::source::IterSource;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("sku", DataType::Utf8, false),
        Field::new("price", DataType::Float64, true),
        Field::new("stock", DataType::Int64, true),
    ]))
}

/// `batches` batches of 2 rows each.
fn products(batches: usize) -> IterSource<crate::source::BatchesIter> {
    let schema = schema();
    let all = (0..batches)
        .map(|b| {
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from(vec![format!("A-{b}"), format!("=B-{b}")])),
                    Arc::new(Float64Array::from(vec![Some(1.5), None])),
                    Arc::new(Int64Array::from(vec![Some(b as i64), Some(7)])),
                ],
            )
            .unwrap()
        })
        .collect();
    source(schema, all)
}

fn source(schema: SchemaRef, batches: Vec<RecordBatch>) -> IterSource<crate::source::BatchesIter> {
    let ok: fn(RecordBatch) -> Result<RecordBatch> = Ok;
    IterSource::new(schema, batches.into_iter().map(ok))
}

fn options(json: serde_json::Value) -> WriteOptions {
    WriteOptions::from_json(json).expect("options")
}

fn csv(options: &WriteOptions, source: IterSource<crate::source::BatchesIter>) -> Result<String> {
    let (_, out) = write_to(
        Format::Csv,
        vec![Sheet::new(source)],
        options,
        &Control::default(),
        Vec::new(),
    )?;
    Ok(String::from_utf8(out).unwrap())
}

#[test]
fn fields_exclude_and_rename_shape_the_columns_in_that_order() {
    let text = csv(
        &options(serde_json::json!({
            "fields": ["stock", "sku", "price"],
            "exclude": ["price"],
            "rename": {"stock": "qty"},
        })),
        products(1),
    )
    .unwrap();
    // The formula guard is on by default: `=B-0` is written as text.
    assert_eq!(text, "qty,sku\n0,A-0\n7,'=B-0\n");
}

#[test]
fn csv_dialect_options_reach_the_sink() {
    let text = csv(
        &options(serde_json::json!({
            "bom": true, "delimiter": ";", "null": "NA", "header": false,
            "formula_guard": false, "decimal_separator": ",", "crlf": true,
        })),
        products(1),
    )
    .unwrap();
    assert_eq!(text, "\u{feff}A-0;1,5;0\r\n=B-0;NA;7\r\n");
}

#[test]
fn an_unknown_column_or_option_is_refused_naming_it() {
    let err = csv(
        &options(serde_json::json!({"fields": ["skuu"]})),
        products(1),
    )
    .unwrap_err();
    assert_eq!(err.code(), "INVALID_REQUEST");
    let text = err.to_string();
    assert!(
        text.contains("fields") && text.contains("skuu") && text.contains("sku, price, stock"),
        "{text}"
    );
    let err = csv(
        &options(serde_json::json!({"rename": {"nope": "x"}})),
        products(1),
    )
    .unwrap_err();
    assert!(err.to_string().contains("`nope`"), "{err}");
    let err = WriteOptions::from_json(serde_json::json!({"delimiter": 7})).unwrap_err();
    assert!(err.to_string().contains("delimiter"), "{err}");
    let err = WriteOptions::from_json(serde_json::json!({"header_style": {"bg": "#000000"}}))
        .unwrap_err();
    assert!(err.to_string().contains("bg"), "{err}");
    let err = csv(
        &options(serde_json::json!({"quote_style": "sometimes"})),
        products(1),
    )
    .unwrap_err();
    assert!(err.to_string().contains("sometimes"), "{err}");
    let err = csv(&options(serde_json::json!({"delimiter": "é"})), products(1)).unwrap_err();
    assert!(err.to_string().contains("ASCII"), "{err}");
}

#[test]
fn a_refused_write_to_a_path_leaves_no_file_and_keeps_an_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.csv");
    let bad = options(serde_json::json!({"fields": ["nope"]}));
    let err = write_path(
        Format::Csv,
        vec![Sheet::new(products(1))],
        &bad,
        &Control::default(),
        &path,
    )
    .unwrap_err();
    assert_eq!(err.code(), "INVALID_REQUEST");
    assert!(!path.exists());
    std::fs::write(&path, "old").unwrap();
    // Interrupted after the first batch.
    let calls = Arc::new(AtomicU64::new(0));
    let seen = calls.clone();
    let control = Control {
        check: Some(Box::new(move || {
            if seen.fetch_add(1, Ordering::SeqCst) >= 1 {
                Err(ExportError::Cancelled)
            } else {
                Ok(())
            }
        })),
        ..Control::default()
    };
    let err = write_path(
        Format::Csv,
        vec![Sheet::new(products(5))],
        &WriteOptions::default(),
        &control,
        &path,
    )
    .unwrap_err();
    assert!(matches!(err, ExportError::Cancelled), "{err}");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "no partial file left: {names:?}");
}

#[test]
fn progress_reports_the_rows_after_each_batch() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let control = Control {
        progress: Some(Box::new(move |rows| sink.lock().unwrap().push(rows))),
        ..Control::default()
    };
    let (summary, _) = write_to(
        Format::JsonLines,
        vec![Sheet::new(products(3))],
        &WriteOptions::default(),
        &control,
        Vec::new(),
    )
    .unwrap();
    assert_eq!(summary.rows, 6);
    assert_eq!(*seen.lock().unwrap(), [2, 4, 6]);
}

#[test]
fn json_pretty_and_without_nulls() {
    let (summary, out) = write_to(
        Format::Json,
        vec![Sheet::new(products(1))],
        &options(serde_json::json!({"pretty": true, "explicit_nulls": false, "fields": ["sku", "price"]})),
        &Control::default(),
        Vec::new(),
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(summary.bytes, text.len() as u64);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        value,
        serde_json::json!([{"sku": "A-0", "price": 1.5}, {"sku": "=B-0"}])
    );
    assert!(text.contains("\n  "), "indented: {text}");
}

#[test]
fn gzip_csv_reads_back() {
    let (summary, out) = write_to(
        Format::Csv,
        vec![Sheet::new(products(2))],
        &options(serde_json::json!({"compression": "gzip"})),
        &Control::default(),
        Vec::new(),
    )
    .unwrap();
    assert_eq!(summary.bytes, out.len() as u64);
    let mut text = String::new();
    flate2::read::GzDecoder::new(&out[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text.lines().count(), 5);
}

#[test]
fn several_sheets_need_xlsx() {
    let err = write_to(
        Format::Csv,
        vec![Sheet::new(products(1)), Sheet::new(products(1))],
        &WriteOptions::default(),
        &Control::default(),
        Vec::new(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("XLSX"), "{err}");
    let err = write_to(
        Format::Xlsx,
        vec![Sheet::new(products(1))],
        &options(serde_json::json!({"compression": "zip"})),
        &Control::default(),
        Vec::new(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("compression"), "{err}");
}

/// The XML of a part of an XLSX file.
fn part(bytes: &[u8], name: &str) -> String {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut text = String::new();
    zip.by_name(name)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text
}

#[test]
fn xlsx_sheets_widths_and_header_style() {
    let empty = source(schema(), Vec::new());
    let (summary, out) = write_to(
        Format::Xlsx,
        vec![
            Sheet::named("products", products(2)),
            Sheet::named("suppliers", empty),
        ],
        &options(serde_json::json!({
            "column_widths": {"label": 33.5},
            "rename": {"sku": "label"},
            "header_style": {"background": "#006100", "font_color": null, "bold": true},
        })),
        &Control::default(),
        Cursor::new(Vec::new()),
    )
    .unwrap();
    assert_eq!(summary.sheets, ["products", "suppliers"]);
    assert_eq!(summary.rows, 4);
    let bytes = out.into_inner();
    let mut book = Xlsx::new(Cursor::new(bytes.clone())).unwrap();
    let sheet = book.worksheet_range("products").unwrap();
    assert_eq!(sheet.get((0, 0)), Some(&Data::String("label".into())));
    assert_eq!(sheet.get((3, 2)), Some(&Data::Float(1.0)));
    assert_eq!(sheet.height(), 5);
    // The empty table still has its sheet and header.
    let suppliers = book.worksheet_range("suppliers").unwrap();
    assert_eq!(suppliers.height(), 1);
    assert!(part(&bytes, "xl/worksheets/sheet1.xml").contains("width=\"34.2"));
    let styles = part(&bytes, "xl/styles.xml");
    assert!(styles.contains("FF006100"), "{styles}");
    let err = write_to(
        Format::Xlsx,
        vec![Sheet::new(products(1))],
        &options(serde_json::json!({"header_style": {"background": "green"}})),
        &Control::default(),
        Cursor::new(Vec::new()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("header_style.background"), "{err}");
    let err = write_to(
        Format::Xlsx,
        vec![Sheet::new(products(1))],
        &options(serde_json::json!({"column_widths": {"sku": -1.0}})),
        &Control::default(),
        Cursor::new(Vec::new()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("column_widths"), "{err}");
}

#[test]
fn an_empty_csv_still_has_its_header() {
    let empty = source(schema(), Vec::new());
    assert_eq!(
        csv(&WriteOptions::default(), empty).unwrap(),
        "sku,price,stock\n"
    );
}

/// Rows with a nested `supplier` (a dict in Python, an object in JS), batched by RowBatcher.
fn nested_rows() -> IterSource<crate::source::BatchesIter> {
    use crate::source::{RowBatcher, Value};
    let mut rows = RowBatcher::new(16);
    for (sku, supplier) in [
        ("A-1", serde_json::json!({"id": 7, "name": "acme"})),
        ("B-2", serde_json::json!(["x", null])),
    ] {
        rows.push_named([
            ("sku", Value::Text(sku.into())),
            ("supplier", Value::Json(supplier)),
        ])
        .unwrap();
    }
    rows.push_named([
        ("sku", Value::Text("C-3".into())),
        ("supplier", Value::Null),
    ])
    .unwrap();
    let batch = rows.flush().unwrap().unwrap();
    IterSource::from_batches(vec![batch]).unwrap()
}

#[test]
fn nested_values_are_nested_in_json_and_text_elsewhere() {
    let opts = WriteOptions::default();
    let (_, json) = write_to(
        Format::JsonLines,
        vec![Sheet::new(nested_rows())],
        &opts,
        &Control::default(),
        Vec::new(),
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(json).unwrap(),
        "{\"sku\":\"A-1\",\"supplier\":{\"id\":7,\"name\":\"acme\"}}\n\
         {\"sku\":\"B-2\",\"supplier\":[\"x\",null]}\n\
         {\"sku\":\"C-3\",\"supplier\":null}\n"
    );
    let (_, csv) = write_to(
        Format::Csv,
        vec![Sheet::new(nested_rows())],
        &opts,
        &Control::default(),
        Vec::new(),
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(csv).unwrap(),
        "sku,supplier\nA-1,\"{\"\"id\"\":7,\"\"name\"\":\"\"acme\"\"}\"\nB-2,\"[\"\"x\"\",null]\"\nC-3,\n"
    );
    // Renamed, the column is still JSON.
    let renamed =
        WriteOptions::from_json(serde_json::json!({"rename": {"supplier": "vendor"}})).unwrap();
    let (_, json) = write_to(
        Format::Json,
        vec![Sheet::new(nested_rows())],
        &renamed,
        &Control::default(),
        Vec::new(),
    )
    .unwrap();
    assert!(
        String::from_utf8(json)
            .unwrap()
            .contains("\"vendor\":{\"id\":7")
    );
}

#[test]
fn a_json_text_column_holding_no_json_is_refused() {
    let field =
        Field::new("meta", DataType::Utf8, true).with_metadata(std::collections::HashMap::from([
            (
                arrow_schema::extension::EXTENSION_TYPE_NAME_KEY.to_string(),
                crate::sink::JSON_EXTENSION.to_string(),
            ),
        ]));
    let schema = Arc::new(Schema::new(vec![field]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(StringArray::from(vec!["{\"a\":1}", "{not json"]))],
    )
    .unwrap();
    let err = write_to(
        Format::JsonLines,
        vec![Sheet::new(source(schema, vec![batch]))],
        &WriteOptions::default(),
        &Control::default(),
        Vec::new(),
    )
    .unwrap_err();
    assert_eq!(err.code(), "INVALID_VALUE", "{err}");
    assert!(
        err.to_string().contains("meta") && err.to_string().contains("{not json"),
        "{err}"
    );
}

#[test]
fn options_apply_to_the_sheets_that_have_the_column() {
    let suppliers = || {
        let schema = Arc::new(Schema::new(vec![Field::new("name", DataType::Utf8, false)]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(StringArray::from(vec!["acme"]))],
        )
        .unwrap();
        source(schema, vec![batch])
    };
    let options = WriteOptions::from_json(serde_json::json!({
        "fields": ["sku", "stock"],
        "rename": {"name": "supplier"},
        "column_widths": {"sku": 20, "supplier": 30},
    }))
    .unwrap();
    let sheets = vec![
        Sheet::named("products", products(1)),
        Sheet::named("suppliers", suppliers()),
    ];
    let (summary, bytes) = write_to(
        Format::Xlsx,
        sheets,
        &options,
        &Control::default(),
        Vec::new(),
    )
    .unwrap();
    assert_eq!(summary.sheets, ["products", "suppliers"]);
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    let products_range = book.worksheet_range("products").unwrap();
    assert_eq!(
        products_range.rows().next().unwrap(),
        [Data::String("sku".into()), Data::String("stock".into())]
    );
    let suppliers_range = book.worksheet_range("suppliers").unwrap();
    assert_eq!(
        suppliers_range.rows().next().unwrap(),
        [Data::String("supplier".into())]
    );

    // A name that is in no sheet is still an error, naming it.
    let typo = WriteOptions::from_json(serde_json::json!({"column_widths": {"skuu": 20}})).unwrap();
    let sheets = vec![
        Sheet::named("products", products(1)),
        Sheet::named("suppliers", suppliers()),
    ];
    let err = write_to(Format::Xlsx, sheets, &typo, &Control::default(), Vec::new()).unwrap_err();
    assert!(
        err.to_string().contains("`skuu`") && err.to_string().contains("column_widths"),
        "{err}"
    );
    let typo = WriteOptions::from_json(serde_json::json!({"exclude": ["stok"]})).unwrap();
    let sheets = vec![
        Sheet::named("products", products(1)),
        Sheet::named("suppliers", suppliers()),
    ];
    let err = write_to(Format::Xlsx, sheets, &typo, &Control::default(), Vec::new()).unwrap_err();
    assert!(
        err.to_string().contains("`stok`") && err.to_string().contains("exclude"),
        "{err}"
    );
}
