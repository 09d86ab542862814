//! Differential fuzzing of the CSV sink against the `csv` crate's reader.
//!
//! Input: bytes read through `arbitrary::Unstructured` into a dialect (delimiter, quote style,
//! header on/off, `\n` or `\r\n`, BOM, null text, formula guard) and 1 to 4 batches of 1 to 5
//! columns of text, 64-bit integers, floats or booleans with nulls.
//! Invariant: the sink's output, parsed by `csv::ReaderBuilder` with the same delimiter, gives
//! back exactly the header and the cells: text as given (prefixed with `'` when the formula
//! guard is on and the text is formula-like), integers and booleans as their text, floats that
//! parse back to the same value, nulls as the null text. [`QuoteStyle::Never`] cannot quote, so
//! it is only compared when no cell holds a byte that would need quoting.
//!
//! Run from `fuzz/` (see its README): `RUSTC_BOOTSTRAP=1 cargo fuzz run csv_roundtrip`.

#![no_main]

use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use export_core::sink::Sink;
use export_core::sink::csv::{CsvSinkBuilder, QuoteStyle};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Clone, Copy)]
enum Kind {
    Text,
    Int,
    Float,
    Bool,
}

#[derive(Debug, Clone)]
enum Value {
    Null,
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

#[derive(Debug)]
struct Case {
    delimiter: u8,
    style: QuoteStyle,
    header: bool,
    crlf: bool,
    bom: bool,
    guard: bool,
    null: String,
    names: Vec<String>,
    kinds: Vec<Kind>,
    /// Batches of rows of cells.
    batches: Vec<Vec<Vec<Value>>>,
}

/// Short text, biased towards the bytes that matter to CSV.
fn text(u: &mut Unstructured<'_>) -> Result<String> {
    const PIECES: &[&str] = &[
        "", ",", ";", "\"", "\"\"", "\n", "\r", "\r\n", "'", "=", "+", "-", "@", "\t", " ", "a",
        "é", "NULL", "1", "#", "|",
    ];
    let mut s = String::new();
    for _ in 0..u.int_in_range(0..=4)? {
        if u.ratio(1, 3)? {
            for _ in 0..u.int_in_range(0..=6)? {
                s.push(u.arbitrary::<char>()?);
            }
        } else {
            s.push_str(u.choose(PIECES)?);
        }
    }
    Ok(s)
}

fn case(u: &mut Unstructured<'_>) -> Result<Case> {
    let delimiter = loop {
        let d = if u.ratio(3, 4)? {
            *u.choose(b",;\t|' #a1-.")?
        } else {
            u.arbitrary::<u8>()?
        };
        // The sink refuses these (tested elsewhere); pick again.
        if !matches!(d, b'"' | b'\n' | b'\r') {
            break d;
        }
    };
    let style = *u.choose(&[
        QuoteStyle::Necessary,
        QuoteStyle::Always,
        QuoteStyle::NonNumeric,
        QuoteStyle::Never,
    ])?;
    let columns = u.int_in_range(1..=5)?;
    let mut names = Vec::with_capacity(columns);
    let mut kinds = Vec::with_capacity(columns);
    for _ in 0..columns {
        names.push(text(u)?);
        kinds.push(*u.choose(&[Kind::Text, Kind::Int, Kind::Float, Kind::Bool])?);
    }
    let mut case = Case {
        delimiter,
        style,
        header: u.arbitrary()?,
        crlf: u.arbitrary()?,
        bom: u.arbitrary()?,
        guard: u.ratio(1, 4)?,
        null: if u.ratio(1, 2)? {
            String::new()
        } else {
            text(u)?
        },
        names,
        kinds,
        batches: Vec::new(),
    };
    for _ in 0..u.int_in_range(1..=4)? {
        let mut rows = Vec::new();
        for _ in 0..u.int_in_range(0..=6)? {
            let mut row = Vec::with_capacity(columns);
            for kind in &case.kinds {
                row.push(if u.ratio(1, 5)? {
                    Value::Null
                } else {
                    match kind {
                        Kind::Text => Value::Text(text(u)?),
                        Kind::Int => Value::Int(u.arbitrary()?),
                        Kind::Float => Value::Float(f64::from_bits(u.arbitrary()?)),
                        Kind::Bool => Value::Bool(u.arbitrary()?),
                    }
                });
            }
            rows.push(row);
        }
        case.batches.push(rows);
    }
    Ok(case)
}

fn column(kind: Kind, rows: &[Vec<Value>], index: usize) -> ArrayRef {
    let cells = rows.iter().map(|r| &r[index]);
    match kind {
        Kind::Text => Arc::new(
            cells
                .map(|v| match v {
                    Value::Text(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect::<StringArray>(),
        ),
        Kind::Int => Arc::new(
            cells
                .map(|v| match v {
                    Value::Int(n) => Some(*n),
                    _ => None,
                })
                .collect::<Int64Array>(),
        ),
        Kind::Float => Arc::new(
            cells
                .map(|v| match v {
                    Value::Float(x) => Some(*x),
                    _ => None,
                })
                .collect::<Float64Array>(),
        ),
        Kind::Bool => Arc::new(
            cells
                .map(|v| match v {
                    Value::Bool(b) => Some(*b),
                    _ => None,
                })
                .collect::<BooleanArray>(),
        ),
    }
}

/// What the reader must give back for a text cell or header label.
fn expected_text(case: &Case, text: &str) -> Vec<u8> {
    if case.guard && export_core::sink::is_formula_like(text) {
        format!("'{text}").into_bytes()
    } else {
        text.as_bytes().to_vec()
    }
}

/// True when `QuoteStyle::Never` can write `cells` of one row readably.
fn unquoted_readable(case: &Case, cells: &[Vec<u8>]) -> bool {
    let plain = |c: &Vec<u8>| {
        !c.iter()
            .any(|b| matches!(*b, b'"' | b'\n' | b'\r') || *b == case.delimiter)
    };
    // A lone empty field is an empty line, which readers skip.
    cells.iter().all(plain) && !(cells.len() == 1 && cells[0].is_empty())
}

fuzz_target!(|data: &[u8]| {
    let Ok(case) = case(&mut Unstructured::new(data)) else {
        return;
    };
    let fields: Vec<Field> = case
        .names
        .iter()
        .zip(&case.kinds)
        .map(|(name, kind)| {
            let t = match kind {
                Kind::Text => DataType::Utf8,
                Kind::Int => DataType::Int64,
                Kind::Float => DataType::Float64,
                Kind::Bool => DataType::Boolean,
            };
            Field::new(name, t, true)
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let mut sink = CsvSinkBuilder::new()
        .delimiter(case.delimiter)
        .quote_style(case.style)
        .has_headers(case.header)
        .crlf(case.crlf)
        .bom(case.bom)
        .formula_guard(case.guard)
        .null_value(case.null.clone())
        .build(Vec::new());
    for rows in &case.batches {
        let columns = (0..case.kinds.len())
            .map(|i| column(case.kinds[i], rows, i))
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), columns).expect("valid batch");
        sink.write(&batch).expect("the sink writes every batch");
    }
    let summary = sink.finish().expect("the sink finishes");
    let total: usize = case.batches.iter().map(Vec::len).sum();
    assert_eq!(summary.rows, total as u64, "row count");
    let bytes = sink.into_inner().expect("the output");
    assert_eq!(summary.bytes, bytes.len() as u64, "byte count");
    let body = if case.bom {
        bytes
            .strip_prefix(b"\xEF\xBB\xBF")
            .expect("the output starts with the BOM")
    } else {
        &bytes[..]
    };

    let mut expected: Vec<Vec<Vec<u8>>> = Vec::new();
    if case.header {
        expected.push(case.names.iter().map(|n| expected_text(&case, n)).collect());
    }
    for row in case.batches.iter().flatten() {
        expected.push(
            row.iter()
                .map(|v| match v {
                    Value::Null => case.null.as_bytes().to_vec(),
                    Value::Text(s) => expected_text(&case, s),
                    Value::Int(n) => n.to_string().into_bytes(),
                    // Compared by value below; the sink's shortest text is its own business.
                    Value::Float(_) => Vec::new(),
                    Value::Bool(b) => b.to_string().into_bytes(),
                })
                .collect(),
        );
    }
    // Float texts are not known in advance (compared by value): under `Never`, a delimiter that
    // a float's text may hold makes the output ambiguous too.
    let float_clash = case.kinds.iter().any(|k| matches!(k, Kind::Float))
        && b"0123456789+-.eEinfNa".contains(&case.delimiter);
    // And a first field starting with U+FEFF reads as a byte-order mark, which `Never` cannot
    // quote away.
    let leading_mark = !case.bom
        && expected
            .first()
            .is_some_and(|r| r[0].starts_with("\u{feff}".as_bytes()));
    if case.style == QuoteStyle::Never
        && (float_clash || leading_mark || !expected.iter().all(|r| unquoted_readable(&case, r)))
    {
        return;
    }

    let mut reader = csv::ReaderBuilder::new()
        .delimiter(case.delimiter)
        .has_headers(false)
        .from_reader(body);
    let records: Vec<csv::ByteRecord> = reader
        .byte_records()
        .collect::<std::result::Result<_, _>>()
        .unwrap_or_else(|e| {
            panic!(
                "csv cannot read {:?} of {case:?}: {e}",
                String::from_utf8_lossy(body)
            )
        });
    assert_eq!(
        records.len(),
        expected.len(),
        "record count of {:?}",
        String::from_utf8_lossy(body)
    );
    let data_rows: Vec<&Vec<Value>> = case.batches.iter().flatten().collect();
    let offset = usize::from(case.header);
    for (i, (record, want)) in records.iter().zip(&expected).enumerate() {
        let got: Vec<&[u8]> = record.iter().collect();
        assert_eq!(
            got.len(),
            want.len(),
            "field count of record {i} of {:?} for {case:?}",
            String::from_utf8_lossy(body)
        );
        for (j, (g, w)) in got.iter().zip(want).enumerate() {
            let value = i.checked_sub(offset).map(|r| &data_rows[r][j]);
            if let Some(Value::Float(x)) = value {
                let text = std::str::from_utf8(g).expect("a float is ASCII");
                let back: f64 = text
                    .parse()
                    .unwrap_or_else(|_| panic!("float text {text:?}"));
                assert!(
                    back == *x && back.is_sign_negative() == x.is_sign_negative()
                        || back.is_nan() && x.is_nan(),
                    "record {i} field {j}: {x:?} read back as {text:?}"
                );
            } else {
                assert_eq!(
                    String::from_utf8_lossy(g),
                    String::from_utf8_lossy(w),
                    "record {i} field {j} of {:?} for {case:?}",
                    String::from_utf8_lossy(body)
                );
            }
        }
    }
});
