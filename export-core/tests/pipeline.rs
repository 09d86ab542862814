//! End-to-end tests of the export pipeline: request → source → sink → file, read back with
//! independent parsers, and every kind of bad input ending in a typed error with no file left.

use std::io::Cursor;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow_array::builder::{ListBuilder, StringBuilder, StructBuilder};
use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Fields, SchemaRef};
use calamine::{Data, Reader, Xlsx};
use chrono::{DateTime, Utc};
use export_core::ExportError;
use export_core::export::Exporter;
use export_core::request::{Audience, ExportRequest, Format, Period, SchemaVersion};
use export_core::schema::trip;
use export_core::schema::{Column, ExportSchema, FieldSelection, Sheet};
use export_core::source::IterSource;
use export_core::source::Source;
use export_core::source::{SampleConfig, SampleTrips};

fn now() -> DateTime<Utc> {
    "2026-11-23T12:00:00Z".parse().unwrap()
}

fn october() -> Period {
    Period::parse("2026-10-01", "2026-11-01", Some("Europe/Paris")).unwrap()
}

fn trip_request(version: SchemaVersion, audience: Audience, format: Format) -> ExportRequest {
    let mut r = ExportRequest::new("trip", format);
    r.version = Some(version);
    r.audience = Some(audience);
    r.period = Some(october());
    r
}

fn sample(rows: u64) -> SampleTrips {
    let p = october();
    SampleTrips::new(SampleConfig {
        rows,
        seed: 7,
        start: p.start,
        end: p.end,
        ..Default::default()
    })
    .unwrap()
}

fn assert_no_files(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

#[test]
fn v3_opendata_xlsx_reads_back_with_data_and_help_sheets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trips.xlsx");
    let exporter = Exporter::builder(trip_request(
        SchemaVersion::V3,
        Audience::Opendata,
        Format::Xlsx,
    ))
    .now(now())
    .hash_key(b"k".to_vec())
    .build()
    .unwrap();
    let report = exporter.run_to_path(&mut sample(3_000), &path).unwrap();
    assert_eq!(report.file_name, "trips-v3-opendata-2026-10.xlsx");
    let privacy = report.privacy.expect("opendata reports privacy figures");
    assert_eq!(privacy.exposed, report.rows_written);
    assert!(report.rows_written > 0 && report.rows_written <= 3_000);

    let mut book: Xlsx<_> = calamine::open_workbook(&path).unwrap();
    assert_eq!(
        book.sheet_names(),
        vec!["Trajets".to_string(), "Aide".to_string()]
    );
    let range = book.worksheet_range("Trajets").unwrap();
    let header: Vec<String> = range
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let expected = trip::schema(SchemaVersion::V3, Audience::Opendata);
    assert_eq!(header, expected.column_names());
    assert_eq!(header.len(), 57);
    assert_eq!(range.height() as u64 - 1, report.rows_written);
    // Typed cells: start_datetime is an Excel date, journey_id a number.
    let first = range.rows().nth(1).unwrap();
    assert!(
        matches!(first[0], Data::Float(_) | Data::Int(_)),
        "journey_id: {:?}",
        first[0]
    );
    let col = header.iter().position(|h| h == "start_datetime").unwrap();
    assert!(
        matches!(first[col], Data::DateTime(_)),
        "start_datetime: {:?}",
        first[col]
    );
    // No identifier column reaches opendata.
    for banned in [
        "operator",
        "operator_trip_id",
        "operator_passenger_id",
        "driver_identity_key",
    ] {
        assert!(
            !header.iter().any(|h| h == banned),
            "{banned} leaked into opendata"
        );
    }
    let help = book.worksheet_range("Aide").unwrap();
    assert!(help.height() > 57, "the help sheet describes every column");
}

#[test]
fn v2_operator_csv_uses_the_registry_dialect() {
    let exporter = Exporter::builder(trip_request(
        SchemaVersion::V2,
        Audience::Operator,
        Format::Csv,
    ))
    .now(now())
    .build()
    .unwrap();
    let (report, out) = exporter
        .run(&mut sample(500), Cursor::new(Vec::new()))
        .unwrap();
    let bytes = out.into_inner();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.starts_with("\"journey_id\";\"trip_id\";\"journey_start_datetime\";"));
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(bytes.as_slice());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(headers.len(), 79);
    let mut rows = 0;
    for record in reader.records() {
        let record = record.unwrap();
        rows += 1;
        let card = &record[headers.iter().position(|h| h == "driver_card").unwrap()];
        assert!(
            card == "OUI" || card == "NON" || card.is_empty(),
            "driver_card {card:?}"
        );
        let dt = &record[2];
        assert!(
            dt.ends_with("+02:00") || dt.ends_with("+01:00"),
            "local offset expected: {dt}"
        );
    }
    assert_eq!(rows, report.rows_written);
    // Every field quoted, empty ones too: a line never has `;;`.
    assert!(!text.contains(";;"));
}

#[test]
fn generic_json_with_nested_relation_and_filter() {
    let supplier = Fields::from(vec![Field::new("name", DataType::Utf8, true)]);
    let schema = ExportSchema::new(
        "products",
        vec![
            Column::new("sku", DataType::Utf8),
            Column::new("price", DataType::Float64),
            Column::new(
                "categories",
                DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            ),
            Column::new("supplier", DataType::Struct(supplier.clone())),
        ],
    );
    let mut cats = ListBuilder::new(StringBuilder::new());
    cats.values().append_value("garden");
    cats.append(true);
    cats.values().append_value("tools");
    cats.values().append_value("sale");
    cats.append(true);
    let mut sup = StructBuilder::from_fields(supplier, 2);
    sup.field_builder::<StringBuilder>(0)
        .unwrap()
        .append_value("ACME");
    sup.append(true);
    sup.field_builder::<StringBuilder>(0).unwrap().append_null();
    sup.append(false);
    let batch = RecordBatch::try_from_iter([
        (
            "sku",
            Arc::new(StringArray::from(vec!["A-1", "B-2"])) as ArrayRef,
        ),
        (
            "price",
            Arc::new(Float64Array::from(vec![9.5, 120.0])) as ArrayRef,
        ),
        ("categories", Arc::new(cats.finish()) as ArrayRef),
        ("supplier", Arc::new(sup.finish()) as ArrayRef),
    ])
    .unwrap();
    let mut request = ExportRequest::new("products", Format::Json);
    request.filters.predicates =
        vec![serde_json::from_str(r#"{"op":"range","column":"price","min":10}"#).unwrap()];
    let exporter = Exporter::builder(request).schema(schema).build().unwrap();
    let mut source = IterSource::from_batches(vec![batch]).unwrap();
    let (report, out) = exporter.run(&mut source, Cursor::new(Vec::new())).unwrap();
    assert_eq!(report.rows_written, 1);
    let value: serde_json::Value = serde_json::from_slice(&out.into_inner()).unwrap();
    assert_eq!(
        value,
        serde_json::json!([{"sku":"B-2","price":120.0,"categories":["tools","sale"],"supplier":null}])
    );
}

fn catalogue() -> (ExportSchema, Vec<RecordBatch>) {
    let products = Sheet::new(
        "products",
        vec![
            Column::new("sku", DataType::Utf8),
            Column::new("stock", DataType::Int64),
        ],
    );
    let suppliers = Sheet::new("suppliers", vec![Column::new("name", DataType::Utf8)]);
    let schema = ExportSchema::with_sheets("catalogue", vec![products, suppliers]).unwrap();
    let p = RecordBatch::try_from_iter([
        (
            "sku",
            Arc::new(StringArray::from(vec!["A", "B", "C"])) as ArrayRef,
        ),
        (
            "stock",
            Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef,
        ),
    ])
    .unwrap();
    let s = RecordBatch::try_from_iter([(
        "name",
        Arc::new(StringArray::from(vec!["ACME", "Globex"])) as ArrayRef,
    )])
    .unwrap();
    (schema, vec![p, s])
}

#[test]
fn multi_sheet_catalogue_workbook() {
    let (schema, batches) = catalogue();
    let exporter = Exporter::builder(ExportRequest::new("catalogue", Format::Xlsx))
        .schema(schema)
        .build()
        .unwrap();
    let mut products = IterSource::from_batches(vec![batches[0].clone()]).unwrap();
    let mut suppliers = IterSource::from_batches(vec![batches[1].clone()]).unwrap();
    let (report, out) = exporter
        .run_sheets(vec![&mut products, &mut suppliers], Cursor::new(Vec::new()))
        .unwrap();
    assert_eq!(report.sheets, vec!["products", "suppliers"]);
    let mut book = Xlsx::new(Cursor::new(out.into_inner())).unwrap();
    let range = book.worksheet_range("suppliers").unwrap();
    assert_eq!(range.get((2, 0)), Some(&Data::String("Globex".into())));
    // A multi-sheet schema cannot go to CSV.
    let (schema, _) = catalogue();
    let err = Exporter::builder(ExportRequest::new("catalogue", Format::Csv))
        .schema(schema)
        .build()
        .err()
        .unwrap();
    assert_eq!(err.code(), "INVALID_REQUEST");
}

/// A source that counts the batches taken from it.
struct Counted<S> {
    inner: S,
    taken: Arc<AtomicUsize>,
}

impl<S: Source> Source for Counted<S> {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn next_batch(&mut self) -> export_core::Result<Option<RecordBatch>> {
        let batch = self.inner.next_batch()?;
        if batch.is_some() {
            self.taken.fetch_add(1, Ordering::SeqCst);
        }
        Ok(batch)
    }

    fn rows_hint(&self) -> Option<u64> {
        self.inner.rows_hint()
    }
}

#[test]
fn progress_is_reported_per_batch_and_cancel_stops_within_one_batch() {
    let dir = tempfile::tempdir().unwrap();
    let taken = Arc::new(AtomicUsize::new(0));
    // (rows read, batches taken from the source) at each progress report.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let cancelled_at = Arc::new(Mutex::new(None));
    let cancel = Arc::new(AtomicBool::new(false));
    let (seen2, cancel2, taken2, cancelled_at2) = (
        seen.clone(),
        cancel.clone(),
        taken.clone(),
        cancelled_at.clone(),
    );
    let exporter = Exporter::builder(trip_request(
        SchemaVersion::V3,
        Audience::Operator,
        Format::Csv,
    ))
    .now(now())
    .progress(Arc::new(move |p| {
        let batches = taken2.load(Ordering::SeqCst);
        seen2.lock().unwrap().push((p.rows_read, batches));
        if p.rows_read >= 20_000 && !cancel2.swap(true, Ordering::SeqCst) {
            *cancelled_at2.lock().unwrap() = Some(batches);
        }
    }))
    .cancel_flag(cancel)
    .build()
    .unwrap();
    let path = dir.path().join("trips.csv");
    let mut source = Counted {
        inner: sample(1_000_000),
        taken: taken.clone(),
    };
    let err = exporter.run_to_path(&mut source, &path).unwrap_err();
    assert!(matches!(err, ExportError::Cancelled), "{err}");
    let seen = seen.lock().unwrap();
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "progress grows");
    assert!(seen.iter().all(|(rows, _)| rows % 8192 == 0), "{seen:?}");
    // The cancel came during the 3rd batch of 8,192 rows (24,576 read): that batch is the last
    // one taken from the source and reported; not one more is read.
    let cancelled_at = cancelled_at.lock().unwrap().expect("the cancel was set");
    assert_eq!(cancelled_at, 3);
    assert_eq!(*seen.last().unwrap(), (24_576, 3), "{seen:?}");
    assert_eq!(
        taken.load(Ordering::SeqCst),
        3,
        "batches read after the cancel"
    );
    assert_no_files(dir.path());
}

#[test]
fn unknown_field_is_rejected_before_any_row_with_the_valid_names() {
    let mut request = trip_request(SchemaVersion::V3, Audience::Operator, Format::Xlsx);
    request.fields = FieldSelection {
        include: vec!["journey_id".into(), "colour".into()],
        ..Default::default()
    };
    let err = Exporter::builder(request).now(now()).build().err().unwrap();
    let text = err.to_string();
    assert!(text.starts_with("unknown field `colour` in schema `trip`; valid fields are: journey_id, operator_trip_id"), "{text}");
}

#[test]
fn wrong_column_type_names_column_and_types_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let schema = ExportSchema::new("products", vec![Column::new("price", DataType::Float64)]);
    let batch = RecordBatch::try_from_iter([(
        "price",
        Arc::new(StringArray::from(vec!["9.99"])) as ArrayRef,
    )])
    .unwrap();
    let exporter = Exporter::builder(ExportRequest::new("products", Format::Csv))
        .schema(schema)
        .build()
        .unwrap();
    let mut source = IterSource::from_batches(vec![batch]).unwrap();
    let err = exporter
        .run_to_path(&mut source, dir.path().join("p.csv"))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "column `price` has type Utf8, expected Float64"
    );
    assert_no_files(dir.path());
}

#[test]
fn trip_input_missing_a_required_column_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let batch = RecordBatch::try_from_iter([(
        "journey_id",
        Arc::new(Int64Array::from(vec![1])) as ArrayRef,
    )])
    .unwrap();
    let exporter = Exporter::builder(trip_request(
        SchemaVersion::V3,
        Audience::Operator,
        Format::Xlsx,
    ))
    .now(now())
    .build()
    .unwrap();
    let mut source = IterSource::from_batches(vec![batch]).unwrap();
    let err = exporter
        .run_to_path(&mut source, dir.path().join("t.xlsx"))
        .unwrap_err();
    assert_eq!(err.code(), "MISSING_COLUMN", "{err}");
    assert_no_files(dir.path());
}

#[test]
fn bad_periods_versions_audiences_and_formats() {
    assert_eq!(
        Period::parse("2026-10-31", "2026-10-01", None)
            .unwrap_err()
            .code(),
        "INVALID_PERIOD"
    );
    // Longer than the trip schema allows.
    let mut r = trip_request(SchemaVersion::V3, Audience::Operator, Format::Xlsx);
    r.period = Some(Period::parse("2025-01-01", "2026-06-01", None).unwrap());
    assert_eq!(
        Exporter::builder(r)
            .now(now())
            .build()
            .err()
            .unwrap()
            .code(),
        "INVALID_PERIOD"
    );
    // Ends less than 5 days ago: the exporter runs it (the consolidation rule is the API's,
    // checked by ExportService::create; see tests/service.rs).
    let mut r = trip_request(SchemaVersion::V3, Audience::Operator, Format::Xlsx);
    r.period = Some(Period::parse("2026-11-01", "2026-11-22", None).unwrap());
    assert!(Exporter::builder(r).now(now()).build().is_ok());

    assert_eq!(
        "v9".parse::<SchemaVersion>().unwrap_err().to_string(),
        "invalid `version`: unknown version `v9`; expected one of: v2, v3"
    );
    assert_eq!(
        "public".parse::<Audience>().unwrap_err().to_string(),
        "invalid `audience`: unknown audience `public`; expected one of: opendata, operator, territory"
    );
    let err = serde_json::from_str::<ExportRequest>(
        r#"{"schema":"trip","format":"xlsx","audience":"public"}"#,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("unknown variant `public`"),
        "{err}"
    );
    // V2 is a CSV schema.
    let r = trip_request(SchemaVersion::V2, Audience::Operator, Format::Xlsx);
    assert_eq!(
        Exporter::builder(r)
            .now(now())
            .build()
            .err()
            .unwrap()
            .code(),
        "INVALID_REQUEST"
    );
    // Missing audience.
    let mut r = trip_request(SchemaVersion::V3, Audience::Operator, Format::Xlsx);
    r.audience = None;
    let err = Exporter::builder(r).now(now()).build().err().unwrap();
    assert!(err.to_string().contains("audience"), "{err}");
}

#[test]
fn unwritable_output_path_is_an_io_error_naming_it() {
    let exporter = Exporter::builder(trip_request(
        SchemaVersion::V3,
        Audience::Operator,
        Format::Xlsx,
    ))
    .now(now())
    .build()
    .unwrap();
    let err = exporter
        .run_to_path(&mut sample(10), "/nonexistent-dir/trips.xlsx")
        .unwrap_err();
    assert_eq!(err.code(), "IO");
    assert!(
        err.to_string().contains("/nonexistent-dir/trips.xlsx"),
        "{err}"
    );
}

#[test]
fn non_utf8_csv_input_is_invalid_input_and_leaves_no_file() {
    use export_core::source::CsvFileSource;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let path = input.join("trips.csv");
    let mut text = b"journey_id,operator_journey_id,start_at,end_at\n".to_vec();
    text.extend_from_slice(b"1,j1,2026-10-03T06:11:00Z,2026-10-03T06:41:00Z\n");
    text.extend_from_slice(b"2,j\xff2,2026-10-04T06:11:00Z,2026-10-04T06:41:00Z\n");
    std::fs::write(&path, text).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let exporter = Exporter::builder(trip_request(
        SchemaVersion::V3,
        Audience::Operator,
        Format::Csv,
    ))
    .now(now())
    .build()
    .unwrap();
    let result = CsvFileSource::open(&path, trip::input_schema())
        .and_then(|mut source| exporter.run_to_path(&mut source, out.join("trips.csv")));
    let err = result.unwrap_err();
    assert_eq!(err.code(), "INVALID_INPUT", "{err}");
    assert_no_files(&out);
}

#[test]
fn gzip_and_zip_wrapping_for_json_lines_and_csv() {
    use std::io::Read;
    let mut r = trip_request(SchemaVersion::V3, Audience::Operator, Format::JsonLines);
    r.options.compression = export_core::request::Compression::Gzip;
    let exporter = Exporter::builder(r).now(now()).build().unwrap();
    assert_eq!(exporter.file_name(), "trips-v3-operator-2026-10.jsonl.gz");
    let (report, out) = exporter
        .run(&mut sample(200), Cursor::new(Vec::new()))
        .unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(out.into_inner().as_slice())
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text.lines().count() as u64, report.rows_written);
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v.get("journey_id").is_some());
    }

    // The zip entry holds exactly the CSV the same export writes uncompressed.
    let run = |compression| {
        let mut r = trip_request(SchemaVersion::V2, Audience::Territory, Format::Csv);
        r.options.compression = compression;
        let exporter = Exporter::builder(r)
            .now(now())
            .hash_key(b"k".to_vec())
            .build()
            .unwrap();
        let (report, out) = exporter
            .run(&mut sample(200), Cursor::new(Vec::new()))
            .unwrap();
        (report, out.into_inner())
    };
    let (plain_report, plain) = run(export_core::request::Compression::None);
    let (zip_report, zipped) = run(export_core::request::Compression::Zip);
    assert_eq!(zip_report.rows_written, plain_report.rows_written);
    assert!(plain_report.rows_written > 0);
    assert_ne!(zipped, plain);
    let mut archive = zip::ZipArchive::new(Cursor::new(zipped)).unwrap();
    assert_eq!(archive.len(), 1);
    let mut entry = archive.by_index(0).unwrap();
    assert_eq!(entry.name().unwrap(), "trips-v2-territory-2026-10.csv");
    let mut content = Vec::new();
    entry.read_to_end(&mut content).unwrap();
    assert_eq!(
        String::from_utf8(content).unwrap(),
        String::from_utf8(plain).unwrap()
    );
}

#[test]
fn field_selection_and_rename_reach_the_file() {
    let mut r = trip_request(SchemaVersion::V3, Audience::Territory, Format::Csv);
    r.fields.include = vec!["journey_id".into(), "distance".into(), "start_insee".into()];
    r.fields
        .rename
        .insert("distance".into(), "distance_km".into());
    let exporter = Exporter::builder(r).now(now()).build().unwrap();
    let (_, out) = exporter
        .run(&mut sample(50), Cursor::new(Vec::new()))
        .unwrap();
    let text = String::from_utf8(out.into_inner()).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        "journey_id,distance_km,start_insee"
    );
}

#[test]
fn same_seed_same_bytes() {
    let run = || {
        let exporter = Exporter::builder(trip_request(
            SchemaVersion::V2,
            Audience::Opendata,
            Format::Csv,
        ))
        .now(now())
        .hash_key(b"fixed".to_vec())
        .build()
        .unwrap();
        exporter
            .run(&mut sample(2_000), Cursor::new(Vec::new()))
            .unwrap()
            .1
            .into_inner()
    };
    assert_eq!(run(), run());
}

#[test]
fn an_opendata_export_reports_progress_and_sees_a_cancel_while_it_reads() {
    // The rare-zone rule reads the whole input before writing: progress (which drives a
    // worker's heartbeats, which carry a cancel request) must come during that pass too.
    let cancel = Arc::new(AtomicBool::new(false));
    let reads_before_writing = Arc::new(AtomicUsize::new(0));
    let (flag, reads) = (cancel.clone(), reads_before_writing.clone());
    let exporter = Exporter::builder(trip_request(
        SchemaVersion::V2,
        Audience::Opendata,
        Format::Csv,
    ))
    .now(now())
    .cancel_flag(cancel)
    .progress(Arc::new(move |p| {
        if p.rows_written == 0 && p.rows_read > 0 {
            reads.fetch_add(1, Ordering::SeqCst);
            if p.rows_read >= 20_000 {
                flag.store(true, Ordering::SeqCst);
            }
        }
    }))
    .build()
    .unwrap();
    let err = exporter
        .run(&mut sample(200_000), Cursor::new(Vec::new()))
        .unwrap_err();
    assert!(matches!(err, ExportError::Cancelled), "{err}");
    assert!(reads_before_writing.load(Ordering::SeqCst) >= 2);
}
