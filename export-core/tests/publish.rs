//! Publishing an export: only a missing path or a regular file is ever replaced, the output is
//! never the input, stale temporary files of killed exports are swept, and an export with no row
//! still has its header (CSV, XLSX) or is `[]` (JSON).

use std::fs;
use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema};
use calamine::{Data, Reader, Xlsx};
use export_core::ExportError;
use export_core::export::Exporter;
use export_core::output::{AtomicFile, check_destination, check_not_input};
use export_core::request::{Audience, ExportRequest, Format, Period, SchemaVersion};
use export_core::schema::{Column, ExportSchema};
use export_core::source::IterSource;
use export_core::source::{SampleConfig, SampleTrips};

fn products() -> ExportSchema {
    ExportSchema::new(
        "products",
        vec![
            Column::new("sku", DataType::Utf8),
            Column::new("price", DataType::Float64),
        ],
    )
}

/// A source of the products' input columns that yields no batch at all.
fn no_rows() -> IterSource<std::iter::Empty<export_core::Result<RecordBatch>>> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("sku", DataType::Utf8, true),
        Field::new("price", DataType::Float64, true),
    ]));
    IterSource::new(schema, std::iter::empty())
}

fn products_exporter(format: Format) -> Exporter {
    Exporter::builder(ExportRequest::new("products", format))
        .schema(products())
        .build()
        .unwrap()
}

/// Every entry of `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
}

fn assert_refused(err: ExportError, path: &Path, kind: &str) {
    match &err {
        ExportError::NotARegularFile { path: p, kind: k } => {
            assert_eq!(p, path);
            assert_eq!(*k, kind);
        }
        other => panic!("expected NotARegularFile, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        format!(
            "refusing to replace {}: it is a {kind}, not a regular file",
            path.display()
        )
    );
    assert_eq!(err.code(), "NOT_A_REGULAR_FILE");
}

#[cfg(unix)]
#[test]
fn an_export_to_a_fifo_is_refused_and_the_fifo_stays() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("out.csv");
    mkfifo(&fifo);
    let err = products_exporter(Format::Csv)
        .run_to_path(&mut no_rows(), &fifo)
        .unwrap_err();
    assert_refused(err, &fifo, "FIFO");
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    assert_eq!(entries(dir.path()), ["out.csv"], "no temporary file left");
}

#[test]
fn an_export_to_a_directory_is_refused_and_its_content_stays() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.csv");
    fs::create_dir(&target).unwrap();
    fs::write(target.join("keep.txt"), "mine").unwrap();
    let err = products_exporter(Format::Json)
        .run_to_path(&mut no_rows(), &target)
        .unwrap_err();
    assert_refused(err, &target, "directory");
    assert_eq!(fs::read(target.join("keep.txt")).unwrap(), b"mine");
    assert_eq!(entries(dir.path()), ["out.csv"]);
}

#[cfg(unix)]
#[test]
fn a_socket_and_a_link_to_a_device_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("out.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    assert_refused(AtomicFile::create(&socket).unwrap_err(), &socket, "socket");
    // /dev/null is only examined, never opened for writing.
    let link = dir.path().join("null.csv");
    std::os::unix::fs::symlink("/dev/null", &link).unwrap();
    assert_refused(
        check_destination(&link).unwrap_err(),
        &link,
        "symbolic link to a character device",
    );
    let dangling = dir.path().join("dangling.csv");
    std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
    assert_refused(
        check_destination(&dangling).unwrap_err(),
        &dangling,
        "dangling symbolic link",
    );
}

#[cfg(unix)]
#[test]
fn a_link_to_a_regular_file_is_replaced_and_its_target_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("elsewhere.csv");
    fs::write(&target, "original").unwrap();
    let link = dir.path().join("out.csv");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    products_exporter(Format::Csv)
        .run_to_path(&mut no_rows(), &link)
        .unwrap();
    assert!(
        !fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read(&link).unwrap(), b"sku,price\n");
    assert_eq!(fs::read(&target).unwrap(), b"original");
}

#[cfg(unix)]
#[test]
fn a_fifo_appearing_during_the_export_is_not_replaced() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out.csv");
    let mut file = AtomicFile::create(&dest).unwrap();
    std::io::Write::write_all(&mut file, b"x\n").unwrap();
    mkfifo(&dest);
    assert_refused(file.commit().unwrap_err(), &dest, "FIFO");
    assert!(fs::symlink_metadata(&dest).unwrap().file_type().is_fifo());
    assert_eq!(entries(dir.path()), ["out.csv"]);
}

#[test]
fn the_output_may_not_be_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("trips.csv");
    fs::write(&input, "a\n").unwrap();
    fs::create_dir(dir.path().join("sub")).unwrap();
    let same = dir.path().join("sub").join("..").join("trips.csv");
    let err = check_not_input(&input, &same).unwrap_err();
    assert_eq!(err.code(), "INVALID_REQUEST");
    assert!(err.to_string().contains("is the input file"), "{err}");
    #[cfg(unix)]
    {
        let hard = dir.path().join("hard.csv");
        fs::hard_link(&input, &hard).unwrap();
        assert!(check_not_input(&input, &hard).is_err(), "same inode");
        let soft = dir.path().join("soft.csv");
        std::os::unix::fs::symlink(&input, &soft).unwrap();
        assert!(check_not_input(&soft, &input).is_err(), "link to the input");
    }
    let other = dir.path().join("other.csv");
    fs::write(&other, "a\n").unwrap();
    check_not_input(&input, &other).unwrap();
    check_not_input(&input, dir.path().join("new.csv")).unwrap();
    assert_eq!(fs::read(&input).unwrap(), b"a\n");
}

fn age(path: &Path, hours: u64) {
    let when = SystemTime::now() - Duration::from_secs(hours * 3600);
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

#[test]
fn an_export_sweeps_its_own_stale_partials_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let stale = d.join(".out.csv.a1B2c3.partial");
    let fresh = d.join(".out.csv.d4E5f6.partial");
    let other_name = d.join(".other.csv.g7H8i9.partial");
    let longer_name = d.join(".out.csv.gz.j0K1l2.partial");
    let not_partial = d.join(".out.csv.m3N4o5");
    for path in [&stale, &fresh, &other_name, &longer_name, &not_partial] {
        fs::write(path, "personal data").unwrap();
    }
    age(&stale, 25);
    age(&other_name, 25);
    age(&longer_name, 25);
    age(&not_partial, 25);
    products_exporter(Format::Csv)
        .run_to_path(&mut no_rows(), d.join("out.csv"))
        .unwrap();
    assert_eq!(
        entries(d),
        [
            ".other.csv.g7H8i9.partial",
            ".out.csv.d4E5f6.partial",
            ".out.csv.gz.j0K1l2.partial",
            ".out.csv.m3N4o5",
            "out.csv",
        ],
        "only the stale partial of out.csv is removed"
    );
}

/// The products exported from a source with no batch, in memory.
fn empty_export(format: Format) -> (export_core::export::ExportReport, Vec<u8>) {
    let (report, out) = products_exporter(format)
        .run(&mut no_rows(), Cursor::new(Vec::new()))
        .unwrap();
    (report, out.into_inner())
}

#[test]
fn a_csv_export_without_rows_has_its_header() {
    let (report, out) = empty_export(Format::Csv);
    assert_eq!(out, b"sku,price\n");
    assert_eq!(report.rows_written, 0);
    assert_eq!(report.bytes, 10);
}

#[test]
fn a_json_export_without_rows_is_an_empty_array() {
    assert_eq!(empty_export(Format::Json).1, b"[]");
    assert_eq!(empty_export(Format::JsonLines).1, b"");
}

#[test]
fn an_xlsx_export_without_rows_has_its_sheet_and_header_row() {
    let (report, out) = empty_export(Format::Xlsx);
    assert_eq!(report.sheets, ["products"]);
    let mut book = Xlsx::new(Cursor::new(out)).unwrap();
    assert_eq!(book.sheet_names(), ["products"]);
    let range = book.worksheet_range("products").unwrap();
    let rows: Vec<Vec<Data>> = range.rows().map(|r| r.to_vec()).collect();
    assert_eq!(
        rows,
        [vec![
            Data::String("sku".into()),
            Data::String("price".into())
        ]]
    );
}

#[test]
fn a_trip_csv_export_without_rows_is_its_header_line() {
    let period = Period::parse("2026-10-01", "2026-11-01", Some("Europe/Paris")).unwrap();
    let mut request = ExportRequest::new("trip", Format::Csv);
    request.version = Some(SchemaVersion::V2);
    request.audience = Some(Audience::Operator);
    request.period = Some(period);
    let exporter = Exporter::builder(request)
        .now("2026-11-23T12:00:00Z".parse().unwrap())
        .build()
        .unwrap();
    let mut source = SampleTrips::new(SampleConfig {
        rows: 0,
        seed: 1,
        start: period.start,
        end: period.end,
        ..Default::default()
    })
    .unwrap();
    let (_, out) = exporter.run(&mut source, Cursor::new(Vec::new())).unwrap();
    let expected: Vec<String> = exporter
        .schema()
        .columns()
        .iter()
        .map(|c| format!("\"{}\"", c.output_field().name()))
        .collect();
    assert_eq!(
        String::from_utf8(out.into_inner()).unwrap(),
        format!("{}\n", expected.join(";"))
    );
}
