//! Input bounds: a CSV record longer than the limit is refused with its line number before it
//! fills memory, whatever the input (a huge line, a stream that never ends), and error messages
//! quote only a short excerpt of the input.

use std::io::{self, Read};
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef};
use export_core::ExportError;
use export_core::source::Source;
use export_core::source::{CsvFileSource, DEFAULT_MAX_RECORD_BYTES};

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
    ]))
}

/// Reads every batch; the first error.
fn drain(source: &mut CsvFileSource) -> Result<usize, ExportError> {
    let mut rows = 0;
    while let Some(batch) = source.next_batch()? {
        rows += batch.num_rows();
    }
    Ok(rows)
}

fn assert_too_long(err: &ExportError, line: u64, limit: usize) {
    match err {
        ExportError::InvalidInput {
            line: Some(l),
            reason,
            ..
        } => {
            assert_eq!(*l, line, "{err}");
            assert_eq!(
                reason,
                &format!("record longer than {limit} bytes (the max_record_bytes limit)")
            );
        }
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[test]
fn a_ten_mebibyte_line_is_refused_with_its_line_number_and_a_short_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    let mut text = String::from("id,name\n1,a\n2,b\n3,");
    text.push_str(&"x".repeat(10 << 20));
    text.push_str("\n4,d\n");
    std::fs::write(&path, text).unwrap();
    let mut source = CsvFileSource::open(&path, schema()).unwrap();
    let err = drain(&mut source).unwrap_err();
    assert_too_long(&err, 4, DEFAULT_MAX_RECORD_BYTES);
    let message = err.to_string();
    assert!(message.len() < 300, "{} bytes: {message}", message.len());
    assert!(message.contains("big.csv at line 4"), "{message}");
}

#[test]
fn the_limit_is_configurable_and_counts_a_quoted_multi_line_record_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quoted.csv");
    // Record 2 holds two line ends inside quotes: 12 bytes in all.
    std::fs::write(&path, "id,name\n1,\"ab\ncd\nef\"\n2,short\n").unwrap();
    let open = |limit| {
        CsvFileSource::builder(schema())
            .max_record_bytes(limit)
            .open(&path)
            .unwrap()
    };
    assert_eq!(drain(&mut open(12)).unwrap(), 2);
    assert_too_long(&drain(&mut open(11)).unwrap_err(), 2, 11);
}

#[test]
fn a_header_longer_than_the_limit_is_refused_at_line_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("header.csv");
    std::fs::write(&path, format!("id,name{}\n1,a\n", " ".repeat(100))).unwrap();
    let err = CsvFileSource::builder(schema())
        .max_record_bytes(64)
        .open(&path)
        .unwrap_err();
    assert_too_long(&err, 1, 64);
}

/// A reader yielding `a` forever, counting what was taken from it.
struct Endless {
    taken: Arc<std::sync::atomic::AtomicUsize>,
}

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        buf.fill(b'a');
        self.taken
            .fetch_add(buf.len(), std::sync::atomic::Ordering::Relaxed);
        Ok(buf.len())
    }
}

#[test]
fn a_reader_that_never_ends_stops_with_the_error() {
    let taken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // In the header...
    let err = CsvFileSource::builder(schema())
        .from_reader(
            "endless",
            Endless {
                taken: taken.clone(),
            },
        )
        .unwrap_err();
    assert_too_long(&err, 1, DEFAULT_MAX_RECORD_BYTES);
    let read = taken.load(std::sync::atomic::Ordering::Relaxed);
    assert!(read <= 2 * DEFAULT_MAX_RECORD_BYTES, "read {read} bytes");

    // ...and in the data, after a valid header and row.
    let data = io::Cursor::new(b"id,name\n1,a\n".to_vec()).chain(Endless {
        taken: Arc::new(Default::default()),
    });
    let mut source = CsvFileSource::builder(schema())
        .max_record_bytes(4096)
        .from_reader("stream", data)
        .unwrap();
    assert_too_long(&drain(&mut source).unwrap_err(), 3, 4096);
}

#[test]
fn parse_errors_quote_a_short_excerpt_of_the_value_and_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    let long = "9".repeat(500) + "x";
    std::fs::write(&path, format!("id,name\n1,a\n{long},{}\n", "n".repeat(500))).unwrap();
    let mut source = CsvFileSource::open(&path, schema()).unwrap();
    let err = drain(&mut source).unwrap_err();
    let ExportError::InvalidInput { line, reason, .. } = &err else {
        panic!("expected InvalidInput, got {err:?}");
    };
    assert_eq!(*line, Some(3), "{err}");
    assert!(
        reason.starts_with("column `id`: cannot parse '999"),
        "{reason}"
    );
    assert!(reason.contains("as Int64"), "{reason}");
    assert_eq!(reason.matches('…').count(), 2, "{reason}");
    assert!(
        reason.chars().count() < 250,
        "{} chars: {reason}",
        reason.len()
    );
}
