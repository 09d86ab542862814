//! The JSON sink: every output is read back with `serde_json` and compared with the input.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use arrow_array::builder::{Int32Builder, ListBuilder, MapBuilder, StringBuilder, StructBuilder};
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Date64Array, Decimal128Array,
    DictionaryArray, DurationMillisecondArray, FixedSizeBinaryArray, FixedSizeListArray,
    Float32Array, Float64Array, Int8Array, Int32Array, Int64Array, IntervalYearMonthArray,
    LargeStringArray, ListArray, NullArray, RecordBatch, StringArray, StringViewArray, StructArray,
    Time32MillisecondArray, Time64NanosecondArray, TimestampMicrosecondArray,
    TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray, UInt64Array,
};
use arrow_schema::{DataType, Field, Fields, Schema};
use chrono::{DateTime, TimeZone, Utc};
use export_core::ExportError;
use export_core::sink::json::{JsonFormat, JsonSink, JsonSinkBuilder};
use export_core::sink::{Sink, Summary};
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter(columns).expect("valid test batch")
}

fn export(
    builder: &JsonSinkBuilder,
    batches: &[RecordBatch],
) -> export_core::Result<(String, Summary)> {
    let mut sink = builder.build(Vec::new());
    for b in batches {
        sink.write(b)?;
    }
    let summary = sink.finish()?;
    let bytes = sink.into_inner()?;
    assert_eq!(
        summary.bytes,
        bytes.len() as u64,
        "summary counts every byte"
    );
    Ok((
        String::from_utf8(bytes).expect("JSON output is UTF-8"),
        summary,
    ))
}

fn array_of(batches: &[RecordBatch]) -> Value {
    let (text, _) = export(&JsonSinkBuilder::new(), batches).expect("export succeeds");
    serde_json::from_str(&text).expect("output parses")
}

fn lines_of(builder: JsonSinkBuilder, batches: &[RecordBatch]) -> Vec<Value> {
    let (text, summary) =
        export(&builder.format(JsonFormat::Lines), batches).expect("export succeeds");
    assert!(text.is_empty() || text.ends_with('\n'));
    let rows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line parses"))
        .collect();
    assert_eq!(rows.len() as u64, summary.rows);
    rows
}

#[test]
fn nulls_explicit_and_omitted() -> TestResult {
    let nested = StructArray::from(vec![(
        Arc::new(Field::new("x", DataType::Int32, true)),
        Arc::new(Int32Array::from(vec![None, Some(5)])) as ArrayRef,
    )]);
    let list = ListArray::from_iter_primitive::<Int32Type, _, _>([Some(vec![Some(1), None]), None]);
    let b = batch(vec![
        ("id", Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef),
        (
            "name",
            Arc::new(StringArray::from(vec![None, Some("b")])) as ArrayRef,
        ),
        ("nothing", Arc::new(NullArray::new(2)) as ArrayRef),
        ("nested", Arc::new(nested) as ArrayRef),
        ("list", Arc::new(list) as ArrayRef),
        (
            "nan",
            Arc::new(Float64Array::from(vec![f64::NAN, f64::INFINITY])) as ArrayRef,
        ),
    ]);

    assert_eq!(
        array_of(std::slice::from_ref(&b)),
        json!([
            {"id": 1, "name": null, "nothing": null, "nested": {"x": null}, "list": [1, null], "nan": null},
            {"id": 2, "name": "b", "nothing": null, "nested": {"x": 5}, "list": null, "nan": null},
        ])
    );
    let (text, _) = export(
        &JsonSinkBuilder::new().explicit_nulls(false),
        std::slice::from_ref(&b),
    )?;
    assert_eq!(
        text,
        r#"[{"id":1,"nested":{},"list":[1,null]},{"id":2,"name":"b","nested":{"x":5}}]"#
    );
    assert_eq!(
        lines_of(JsonSinkBuilder::new().explicit_nulls(false), &[b]),
        vec![
            json!({"id": 1, "nested": {}, "list": [1, null]}),
            json!({"id": 2, "name": "b", "nested": {"x": 5}}),
        ]
    );
    Ok(())
}

#[test]
fn strings_unicode_and_escaping_round_trip() -> TestResult {
    let all_controls: String = (0u8..0x20).map(char::from).collect();
    let values = vec![
        String::new(),
        "plain".to_string(),
        "quote \" and backslash \\ and slash /".to_string(),
        "line\nbreak\r\ntab\t".to_string(),
        all_controls,
        "js \u{2028} separators \u{2029}".to_string(),
        "Ünïcödé 日本語 🎉 €".to_string(),
        "\u{7f}\u{80}\u{ffff}\u{10ffff}".to_string(),
    ];
    let b = batch(vec![
        (
            "utf8",
            Arc::new(StringArray::from(values.clone())) as ArrayRef,
        ),
        (
            "large",
            Arc::new(LargeStringArray::from(values.clone())) as ArrayRef,
        ),
        (
            "view",
            Arc::new(StringViewArray::from(values.clone())) as ArrayRef,
        ),
        (
            "weird \"key\"\n\u{2028}",
            Arc::new(StringArray::from(values.clone())) as ArrayRef,
        ),
    ]);
    let (text, _) = export(&JsonSinkBuilder::new(), std::slice::from_ref(&b))?;
    assert!(!text.contains('\u{2028}') && !text.contains('\u{2029}'));
    assert!(text.contains("\\u2028") && text.contains("\\u2029"));
    assert!(
        text.contains("Ünïcödé 日本語 🎉 €"),
        "non-ASCII is not escaped"
    );
    assert!(text.contains(r#""line\nbreak\r\ntab\t""#));
    assert!(text.contains(r#""\u0000\u0001"#));
    let parsed: Value = serde_json::from_str(&text)?;
    for (row, expected) in values.iter().enumerate() {
        for key in ["utf8", "large", "view", "weird \"key\"\n\u{2028}"] {
            assert_eq!(
                parsed[row][key].as_str(),
                Some(expected.as_str()),
                "{key} row {row}"
            );
        }
    }
    Ok(())
}

#[test]
fn extreme_numbers_round_trip() -> TestResult {
    let floats = vec![
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
        5e-324,
        -0.0,
        0.1,
        1.0,
        123_456_789.123_456_78,
        1e21,
        f64::EPSILON,
    ];
    let f32s = vec![
        f32::MAX,
        f32::MIN_POSITIVE,
        0.1,
        -0.0,
        1e-45,
        3.4028235e38,
        16_777_217.0,
        1.0,
        2.5,
        -7.25,
    ];
    let b = batch(vec![
        (
            "i64",
            Arc::new(Int64Array::from(vec![
                i64::MIN,
                i64::MAX,
                0,
                -1,
                1,
                42,
                -42,
                7,
                8,
                9,
            ])) as ArrayRef,
        ),
        (
            "u64",
            Arc::new(UInt64Array::from(vec![
                u64::MAX,
                0,
                1,
                2,
                3,
                4,
                5,
                6,
                7,
                u64::MAX - 1,
            ])) as ArrayRef,
        ),
        (
            "i8",
            Arc::new(Int8Array::from(vec![
                i8::MIN,
                i8::MAX,
                0,
                1,
                2,
                3,
                4,
                5,
                6,
                7,
            ])) as ArrayRef,
        ),
        (
            "f64",
            Arc::new(Float64Array::from(floats.clone())) as ArrayRef,
        ),
        (
            "f32",
            Arc::new(Float32Array::from(f32s.clone())) as ArrayRef,
        ),
    ]);
    let (text, _) = export(&JsonSinkBuilder::new(), std::slice::from_ref(&b))?;
    assert!(
        text.starts_with(r#"[{"i64":-9223372036854775808,"u64":18446744073709551615,"i8":-128,"#)
    );
    assert!(text.contains(r#""f64":-0.0,"f32":1e-45"#));
    let parsed: Value = serde_json::from_str(&text)?;
    let rows = parsed.as_array().ok_or("array")?;
    assert_eq!(rows[0]["i64"].as_i64(), Some(i64::MIN));
    assert_eq!(rows[1]["i64"].as_i64(), Some(i64::MAX));
    assert_eq!(rows[0]["u64"].as_u64(), Some(u64::MAX));
    assert_eq!(rows[9]["u64"].as_u64(), Some(u64::MAX - 1));
    assert_eq!(rows[0]["i8"].as_i64(), Some(-128));
    for (row, (f, g)) in floats.iter().zip(&f32s).enumerate() {
        // Rust's own parser is correctly rounded: the text must read back bit for bit.
        let text_f64 = rows[row]["f64"].to_string();
        let back: f64 = text_f64.parse()?;
        assert_eq!(back.to_bits(), f.to_bits(), "f64 row {row}: {text_f64}");
        let back = rows[row]["f64"].as_f64().ok_or("f64")?;
        assert!(
            (back - f).abs() <= f.abs() * 1e-15,
            "serde_json reads {back} for {f}"
        );
        let back32 = rows[row]["f32"].as_f64().ok_or("f32")? as f32;
        assert_eq!(back32.to_bits(), g.to_bits(), "f32 row {row}");
    }
    Ok(())
}

#[test]
fn decimals_are_exact() -> TestResult {
    let prices = Decimal128Array::from(vec![
        Some(1250),
        Some(-5),
        Some(0),
        None,
        Some(i128::MAX / 1000),
    ])
    .with_precision_and_scale(38, 2)?;
    let big = Decimal128Array::from(vec![Some(12), Some(-3), Some(0), Some(1), Some(99)])
        .with_precision_and_scale(10, -3)?;
    let b = batch(vec![
        ("price", Arc::new(prices) as ArrayRef),
        ("thousands", Arc::new(big) as ArrayRef),
    ]);
    let rows = lines_of(JsonSinkBuilder::new(), std::slice::from_ref(&b));
    assert_eq!(rows[0]["price"], json!(12.5));
    let (text, _) = export(&JsonSinkBuilder::new().format(JsonFormat::Lines), &[b])?;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], r#"{"price":12.50,"thousands":12000}"#);
    assert_eq!(lines[1], r#"{"price":-0.05,"thousands":-3000}"#);
    assert_eq!(lines[2], r#"{"price":0.00,"thousands":0}"#);
    assert_eq!(lines[3], r#"{"price":null,"thousands":1000}"#);
    assert_eq!(
        lines[4],
        r#"{"price":1701411834604692317316873037158841.05,"thousands":99000}"#
    );
    Ok(())
}

#[test]
fn dates_times_durations_and_binary() -> TestResult {
    let b = batch(vec![
        (
            "d32",
            Arc::new(Date32Array::from(vec![0, 20_544, -1])) as ArrayRef,
        ),
        (
            "d64",
            Arc::new(Date64Array::from(vec![0, 1_775_001_600_000, -1])) as ArrayRef,
        ),
        (
            "t32",
            Arc::new(Time32MillisecondArray::from(vec![
                0, 45_296_789, 86_399_000,
            ])) as ArrayRef,
        ),
        (
            "t64",
            Arc::new(Time64NanosecondArray::from(vec![
                1,
                45_296_000_001_000,
                3_600_000_000_000,
            ])) as ArrayRef,
        ),
        (
            "dur",
            Arc::new(DurationMillisecondArray::from(vec![90_000, 1_500, -1])) as ArrayRef,
        ),
        (
            "bin",
            Arc::new(BinaryArray::from_vec(vec![b"", b"foobar", &[0xff, 0x00]])) as ArrayRef,
        ),
        (
            "fixed",
            Arc::new(FixedSizeBinaryArray::try_from_iter(
                [[1u8, 2], [3, 4], [5, 6]].into_iter(),
            )?) as ArrayRef,
        ),
    ]);
    let rows = lines_of(JsonSinkBuilder::new(), &[b]);
    assert_eq!(
        rows,
        vec![
            json!({"d32": "1970-01-01", "d64": "1970-01-01", "t32": "00:00:00", "t64": "00:00:00.000000001", "dur": 90, "bin": "", "fixed": "AQI="}),
            json!({"d32": "2026-04-01", "d64": "2026-04-01", "t32": "12:34:56.789", "t64": "12:34:56.000001", "dur": 1.5, "bin": "Zm9vYmFy", "fixed": "AwQ="}),
            json!({"d32": "1969-12-31", "d64": "1969-12-31", "t32": "23:59:59", "t64": "01:00:00", "dur": -0.001, "bin": "/wA=", "fixed": "BQY="}),
        ]
    );
    Ok(())
}

#[test]
fn timestamps_in_paris_across_dst() -> TestResult {
    // Around the spring-forward (2026-03-29 01:00 UTC) and fall-back (2026-10-25 01:00 UTC).
    let instants: Vec<DateTime<Utc>> = [
        (2026, 3, 29, 0, 30, 0),
        (2026, 3, 29, 0, 59, 59),
        (2026, 3, 29, 1, 0, 0),
        (2026, 10, 25, 0, 30, 0),
        (2026, 10, 25, 1, 30, 0),
        (1969, 12, 31, 23, 59, 59),
    ]
    .iter()
    .map(|&(y, mo, d, h, mi, s)| {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("valid")
    })
    .collect();
    let millis: Vec<i64> = instants
        .iter()
        .map(|t| t.timestamp_millis() + 250)
        .collect();
    let secs: Vec<i64> = instants.iter().map(|t| t.timestamp()).collect();
    let b = batch(vec![
        (
            "paris",
            Arc::new(TimestampMillisecondArray::from(millis.clone()).with_timezone("Europe/Paris"))
                as ArrayRef,
        ),
        (
            "naive",
            Arc::new(TimestampSecondArray::from(secs.clone())) as ArrayRef,
        ),
        (
            "utc",
            Arc::new(
                TimestampMicrosecondArray::from(
                    secs.iter().map(|s| s * 1_000_000).collect::<Vec<_>>(),
                )
                .with_timezone("UTC"),
            ) as ArrayRef,
        ),
        (
            "kolkata",
            Arc::new(
                TimestampNanosecondArray::from(
                    secs.iter()
                        .map(|s| s * 1_000_000_000 + 1)
                        .collect::<Vec<_>>(),
                )
                .with_timezone("+05:30"),
            ) as ArrayRef,
        ),
    ]);
    let rows = lines_of(JsonSinkBuilder::new(), &[b]);
    let paris: Vec<&str> = rows.iter().filter_map(|r| r["paris"].as_str()).collect();
    assert_eq!(
        paris,
        vec![
            "2026-03-29T01:30:00.250+01:00",
            "2026-03-29T01:59:59.250+01:00",
            "2026-03-29T03:00:00.250+02:00",
            "2026-10-25T02:30:00.250+02:00",
            "2026-10-25T02:30:00.250+01:00",
            "1970-01-01T00:59:59.250+01:00",
        ]
    );
    for (row, instant) in instants.iter().enumerate() {
        let read = DateTime::parse_from_rfc3339(rows[row]["paris"].as_str().ok_or("str")?)?;
        assert_eq!(read.timestamp_millis(), millis[row]);
        let read = DateTime::parse_from_rfc3339(rows[row]["utc"].as_str().ok_or("str")?)?;
        assert_eq!(read.with_timezone(&Utc), *instant);
        let kolkata = rows[row]["kolkata"].as_str().ok_or("str")?;
        assert!(kolkata.ends_with(".000000001+05:30"), "{kolkata}");
        let read = DateTime::parse_from_rfc3339(kolkata)?;
        assert_eq!(read.timestamp(), instant.timestamp());
        assert_eq!(
            rows[row]["naive"].as_str(),
            Some(instant.format("%Y-%m-%dT%H:%M:%S").to_string().as_str())
        );
    }
    assert_eq!(rows[0]["utc"], json!("2026-03-29T00:30:00Z"));
    Ok(())
}

/// Supplier name, contacts (name, email), categories and attributes of one product.
type ProductRow = (
    &'static str,
    &'static [(&'static str, Option<&'static str>)],
    &'static [&'static str],
    &'static [(&'static str, Option<i32>)],
);

/// Products with a supplier whose contacts are a list of structs, and categories.
fn products() -> RecordBatch {
    let contact_fields = Fields::from(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("email", DataType::Utf8, true),
    ]);
    let contacts_builder = ListBuilder::new(StructBuilder::from_fields(contact_fields.clone(), 0));
    let supplier_fields = Fields::from(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new(
            "contacts",
            DataType::List(Arc::new(Field::new_list_field(
                DataType::Struct(contact_fields),
                true,
            ))),
            true,
        ),
    ]);
    let mut supplier = StructBuilder::new(
        supplier_fields,
        vec![Box::new(StringBuilder::new()), Box::new(contacts_builder)],
    );
    let mut categories = ListBuilder::new(StringBuilder::new());
    let mut attributes = MapBuilder::new(None, StringBuilder::new(), Int32Builder::new());

    let rows: [ProductRow; 3] = [
        (
            "Acme",
            &[("Ann", Some("ann@acme.test")), ("Bob", None)],
            &["tools", "garden"],
            &[("weight", Some(3))],
        ),
        ("Globex", &[], &[], &[]),
        (
            "Initech",
            &[("Cy \"the boss\"", Some("cy@initech.test"))],
            &["office"],
            &[("stock", None), ("shelf", Some(-1))],
        ),
    ];
    for (name, contacts, cats, attrs) in rows {
        supplier
            .field_builder::<StringBuilder>(0)
            .expect("name builder")
            .append_value(name);
        let list = supplier
            .field_builder::<ListBuilder<StructBuilder>>(1)
            .expect("contacts builder");
        for (contact, email) in contacts {
            let item = list.values();
            item.field_builder::<StringBuilder>(0)
                .expect("contact name")
                .append_value(contact);
            item.field_builder::<StringBuilder>(1)
                .expect("email")
                .append_option(*email);
            item.append(true);
        }
        list.append(true);
        supplier.append(true);
        for c in cats {
            categories.values().append_value(c);
        }
        categories.append(true);
        for (k, v) in attrs {
            attributes.keys().append_value(k);
            attributes.values().append_option(*v);
        }
        attributes.append(true).expect("map entry");
    }
    batch(vec![
        ("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
        ("supplier", Arc::new(supplier.finish()) as ArrayRef),
        ("categories", Arc::new(categories.finish()) as ArrayRef),
        ("attributes", Arc::new(attributes.finish()) as ArrayRef),
    ])
}

#[test]
fn nested_struct_of_list_of_struct() -> TestResult {
    let expected = json!([
        {
            "id": 1,
            "supplier": {"name": "Acme", "contacts": [
                {"name": "Ann", "email": "ann@acme.test"},
                {"name": "Bob", "email": null},
            ]},
            "categories": ["tools", "garden"],
            "attributes": {"weight": 3},
        },
        {"id": 2, "supplier": {"name": "Globex", "contacts": []}, "categories": [], "attributes": {}},
        {
            "id": 3,
            "supplier": {"name": "Initech", "contacts": [{"name": "Cy \"the boss\"", "email": "cy@initech.test"}]},
            "categories": ["office"],
            "attributes": {"stock": null, "shelf": -1},
        },
    ]);
    let b = products();
    assert_eq!(array_of(std::slice::from_ref(&b)), expected);

    // A slice keeps nested offsets right.
    let sliced = b.slice(1, 2);
    assert_eq!(array_of(&[sliced]), json!([expected[1], expected[2]]));

    // Omitted nulls also apply inside nested structs and maps.
    let (text, _) = export(
        &JsonSinkBuilder::new()
            .explicit_nulls(false)
            .format(JsonFormat::Lines),
        &[b.slice(0, 1)],
    )?;
    assert_eq!(
        text,
        "{\"id\":1,\"supplier\":{\"name\":\"Acme\",\"contacts\":[{\"name\":\"Ann\",\"email\":\"ann@acme.test\"},{\"name\":\"Bob\"}]},\"categories\":[\"tools\",\"garden\"],\"attributes\":{\"weight\":3}}\n"
    );
    Ok(())
}

#[test]
fn fixed_size_lists_and_dictionaries() -> TestResult {
    let points = FixedSizeListArray::from_iter_primitive::<Int32Type, _, _>(
        [
            Some(vec![Some(1), Some(2)]),
            None,
            Some(vec![None, Some(4)]),
        ],
        2,
    );
    let dict: DictionaryArray<Int32Type> = vec![Some("a"), None, Some("a")].into_iter().collect();
    let flags = BooleanArray::from(vec![Some(true), Some(false), None]);
    let b = batch(vec![
        ("point", Arc::new(points) as ArrayRef),
        ("tag", Arc::new(dict) as ArrayRef),
        ("flag", Arc::new(flags) as ArrayRef),
    ]);
    assert_eq!(
        array_of(std::slice::from_ref(&b)),
        json!([
            {"point": [1, 2], "tag": "a", "flag": true},
            {"point": null, "tag": null, "flag": false},
            {"point": [null, 4], "tag": "a", "flag": null},
        ])
    );
    assert_eq!(
        array_of(&[b.slice(2, 1)]),
        json!([{"point": [null, 4], "tag": "a", "flag": null}])
    );
    Ok(())
}

#[test]
fn multiple_and_empty_batches() -> TestResult {
    let one = |values: Vec<i32>| batch(vec![("n", Arc::new(Int32Array::from(values)) as ArrayRef)]);
    let batches = [one(vec![]), one(vec![1, 2]), one(vec![]), one(vec![3])];
    let (text, summary) = export(&JsonSinkBuilder::new(), &batches)?;
    assert_eq!(text, r#"[{"n":1},{"n":2},{"n":3}]"#);
    assert_eq!(summary.rows, 3);
    let (text, _) = export(&JsonSinkBuilder::new().format(JsonFormat::Lines), &batches)?;
    assert_eq!(text, "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n");

    // No rows at all.
    for builder in [JsonSinkBuilder::new(), JsonSinkBuilder::new().pretty(true)] {
        let (text, summary) = export(&builder, &[one(vec![])])?;
        assert_eq!((text.as_str(), summary.rows, summary.bytes), ("[]", 0, 2));
        let (text, _) = export(&builder, &[])?;
        assert_eq!(text, "[]");
        assert_eq!(serde_json::from_str::<Value>(&text)?, json!([]));
    }
    let (text, summary) = export(
        &JsonSinkBuilder::new().format(JsonFormat::Lines),
        &[one(vec![])],
    )?;
    assert_eq!((text.as_str(), summary.bytes), ("", 0));

    // Zero columns: empty objects.
    let empty = RecordBatch::try_new_with_options(
        Arc::new(Schema::empty()),
        vec![],
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(2)),
    )?;
    assert_eq!(export(&JsonSinkBuilder::new(), &[empty])?.0, "[{},{}]");
    Ok(())
}

#[test]
fn pretty_output_is_exact_and_matches_serde_json() -> TestResult {
    // Keys in alphabetical order so serde_json's (sorted) map prints the same document.
    let inner = StructArray::from(vec![
        (
            Arc::new(Field::new("a", DataType::Int32, true)),
            Arc::new(Int32Array::from(vec![Some(1), None])) as ArrayRef,
        ),
        (
            Arc::new(Field::new("b", DataType::Utf8, true)),
            Arc::new(StringArray::from(vec!["x\"y", "é"])) as ArrayRef,
        ),
    ]);
    let list = ListArray::from_iter_primitive::<Int32Type, _, _>([
        Some(vec![Some(1), None]),
        Some(vec![]),
    ]);
    let b = batch(vec![
        ("id", Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef),
        ("inner", Arc::new(inner) as ArrayRef),
        ("list", Arc::new(list) as ArrayRef),
    ]);
    let (text, _) = export(
        &JsonSinkBuilder::new().pretty(true),
        std::slice::from_ref(&b),
    )?;
    let expected = r#"[
  {
    "id": 1,
    "inner": {
      "a": 1,
      "b": "x\"y"
    },
    "list": [
      1,
      null
    ]
  },
  {
    "id": 2,
    "inner": {
      "a": null,
      "b": "é"
    },
    "list": []
  }
]"#;
    assert_eq!(text, expected);
    let value: Value = serde_json::from_str(&text)?;
    assert_eq!(serde_json::to_string_pretty(&value)?, expected);

    // Omitted nulls can leave an object empty: `{}` as serde_json writes it.
    let (text, _) = export(
        &JsonSinkBuilder::new().pretty(true).explicit_nulls(false),
        &[b.slice(1, 1)],
    )?;
    assert_eq!(
        text,
        "[\n  {\n    \"id\": 2,\n    \"inner\": {\n      \"b\": \"é\"\n    },\n    \"list\": []\n  }\n]"
    );

    // The products document, pretty, reads back to the compact one.
    let products = products();
    let (pretty, _) = export(
        &JsonSinkBuilder::new().pretty(true),
        std::slice::from_ref(&products),
    )?;
    assert_eq!(
        serde_json::from_str::<Value>(&pretty)?,
        array_of(&[products])
    );

    // Pretty is ignored by JSON Lines.
    let (text, _) = export(
        &JsonSinkBuilder::new()
            .pretty(true)
            .format(JsonFormat::Lines),
        &[b.slice(0, 1)],
    )?;
    assert_eq!(
        text,
        "{\"id\":1,\"inner\":{\"a\":1,\"b\":\"x\\\"y\"},\"list\":[1,null]}\n"
    );
    Ok(())
}

#[test]
fn write_after_finish_is_an_error() -> TestResult {
    let b = batch(vec![("n", Arc::new(Int32Array::from(vec![1])) as ArrayRef)]);
    let mut sink = JsonSinkBuilder::new().build(Vec::new());
    sink.write(&b)?;
    sink.finish()?;
    assert!(matches!(sink.write(&b), Err(ExportError::SinkFinished)));
    assert!(matches!(sink.finish(), Err(ExportError::SinkFinished)));
    assert_eq!(sink.into_inner()?, br#"[{"n":1}]"#);
    Ok(())
}

#[test]
fn batches_must_keep_the_first_schema() -> TestResult {
    let first = batch(vec![
        ("id", Arc::new(Int32Array::from(vec![1])) as ArrayRef),
        ("name", Arc::new(StringArray::from(vec!["a"])) as ArrayRef),
    ]);
    let retyped = batch(vec![
        ("id", Arc::new(Int32Array::from(vec![1])) as ArrayRef),
        ("name", Arc::new(Int32Array::from(vec![1])) as ArrayRef),
    ]);
    let renamed = batch(vec![
        ("id", Arc::new(Int32Array::from(vec![1])) as ArrayRef),
        ("label", Arc::new(StringArray::from(vec!["a"])) as ArrayRef),
    ]);
    let extra = batch(vec![
        ("id", Arc::new(Int32Array::from(vec![1])) as ArrayRef),
        ("name", Arc::new(StringArray::from(vec!["a"])) as ArrayRef),
        ("more", Arc::new(StringArray::from(vec!["a"])) as ArrayRef),
    ]);
    let mut sink = JsonSinkBuilder::new().build(Vec::new());
    sink.write(&first)?;
    match sink.write(&retyped) {
        Err(ExportError::ColumnType { column, .. }) => assert_eq!(column, "name"),
        other => panic!("expected ColumnType, got {other:?}"),
    }
    match sink.write(&renamed) {
        Err(ExportError::MissingColumn { column, .. }) => assert_eq!(column, "name"),
        other => panic!("expected MissingColumn, got {other:?}"),
    }
    match sink.write(&extra) {
        Err(err @ ExportError::Encode { .. }) => assert!(err.to_string().contains("`more`")),
        other => panic!("expected Encode, got {other:?}"),
    }
    // The same schema in another Arc is fine, and the sink is still usable.
    sink.write(&batch(vec![
        ("id", Arc::new(Int32Array::from(vec![2])) as ArrayRef),
        (
            "name",
            Arc::new(StringArray::from(vec![None::<&str>])) as ArrayRef,
        ),
    ]))?;
    sink.finish()?;
    assert_eq!(
        sink.into_inner()?,
        br#"[{"id":1,"name":"a"},{"id":2,"name":null}]"#
    );
    Ok(())
}

#[test]
fn unsupported_and_invalid_values_name_the_column() -> TestResult {
    let b = batch(vec![(
        "period",
        Arc::new(IntervalYearMonthArray::from(vec![1])) as ArrayRef,
    )]);
    let mut sink = JsonSinkBuilder::new().build(Vec::new());
    match sink.write(&b) {
        Err(err @ ExportError::Encode { .. }) => {
            assert!(err.to_string().contains("`period`"), "{err}")
        }
        other => panic!("expected Encode, got {other:?}"),
    }

    let nested = StructArray::from(vec![(
        Arc::new(Field::new(
            "when",
            DataType::Time32(arrow_schema::TimeUnit::Millisecond),
            false,
        )),
        Arc::new(Time32MillisecondArray::from(vec![0, 86_400_000])) as ArrayRef,
    )]);
    let b = batch(vec![("at", Arc::new(nested) as ArrayRef)]);
    let mut sink = JsonSinkBuilder::new().build(Vec::new());
    match sink.write(&b) {
        Err(ExportError::InvalidValue { column, row, .. }) => {
            assert_eq!((column.as_str(), row), ("at.when", 1));
        }
        other => panic!("expected InvalidValue, got {other:?}"),
    }
    // The row before the bad one is kept and the document stays well formed.
    sink.finish()?;
    assert_eq!(sink.into_inner()?, br#"[{"at":{"when":"00:00:00"}}]"#);

    let b = batch(vec![(
        "far",
        Arc::new(TimestampSecondArray::from(vec![i64::MAX]).with_timezone("Europe/Paris"))
            as ArrayRef,
    )]);
    let mut sink = JsonSinkBuilder::new().build(Vec::new());
    assert!(
        matches!(sink.write(&b), Err(ExportError::InvalidValue { ref column, .. }) if column == "far")
    );

    let b = batch(vec![(
        "zoned",
        Arc::new(TimestampSecondArray::from(vec![0]).with_timezone("Mars/Olympus")) as ArrayRef,
    )]);
    let mut sink = JsonSinkBuilder::new().build(Vec::new());
    match sink.write(&b) {
        Err(err @ ExportError::Encode { .. }) => assert!(err.to_string().contains("`zoned`")),
        other => panic!("expected Encode, got {other:?}"),
    }
    Ok(())
}

/// A writer that fails once more than `limit` bytes have been written.
struct FailingWriter {
    written: usize,
    limit: usize,
}

impl Write for FailingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written + buf.len() > self.limit {
            return Err(io::Error::other("disk full"));
        }
        self.written += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn failing_writer_gives_io_errors() {
    let small = batch(vec![(
        "n",
        Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef,
    )]);
    // Small output: the failure surfaces at finish.
    let mut sink = JsonSinkBuilder::new().build(FailingWriter {
        written: 0,
        limit: 0,
    });
    sink.write(&small).expect("buffered");
    assert!(matches!(sink.finish(), Err(ExportError::Io { .. })));

    // Large output: the failure surfaces during write.
    let big = batch(vec![(
        "n",
        Arc::new(Int64Array::from((0..100_000).collect::<Vec<i64>>())) as ArrayRef,
    )]);
    let mut sink = JsonSinkBuilder::new().build(FailingWriter {
        written: 0,
        limit: 100_000,
    });
    assert!(matches!(sink.write(&big), Err(ExportError::Io { .. })));

    let sink: JsonSink<FailingWriter> = JsonSinkBuilder::new().build(FailingWriter {
        written: 0,
        limit: 0,
    });
    let mut sink = sink;
    sink.write(&small).expect("buffered");
    assert!(matches!(sink.into_inner(), Err(ExportError::Io { .. })));
}

/// A writer that records the size of each write it receives.
#[derive(Clone, Default)]
struct RecordingWriter(Arc<Mutex<Vec<usize>>>);

impl Write for RecordingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("lock").push(buf.len());
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn output_is_streamed_in_bounded_chunks() -> TestResult {
    let rows = 200_000;
    let b = batch(vec![
        (
            "id",
            Arc::new(Int64Array::from((0..rows).collect::<Vec<i64>>())) as ArrayRef,
        ),
        (
            "name",
            Arc::new(StringArray::from_iter_values(
                (0..rows).map(|i| format!("product {i}")),
            )) as ArrayRef,
        ),
    ]);
    let writer = RecordingWriter::default();
    let mut sink = JsonSinkBuilder::new()
        .format(JsonFormat::Lines)
        .build(writer.clone());
    sink.write(&b)?;
    {
        let writes = writer.0.lock().map_err(|_| "lock")?;
        assert!(writes.len() > 10, "bytes reach the writer before finish");
        assert!(
            writes.iter().all(|&n| n <= 64 * 1024 + 1024),
            "chunks stay bounded"
        );
    }
    let summary = sink.finish()?;
    assert_eq!(summary.rows, rows as u64);
    let total: usize = writer.0.lock().map_err(|_| "lock")?.iter().sum();
    assert_eq!(summary.bytes, total as u64);
    Ok(())
}

#[test]
fn sink_is_object_safe_and_send() -> TestResult {
    fn assert_send<T: Send>(_: &T) {}
    let mut sink: Box<dyn Sink> = Box::new(JsonSinkBuilder::new().build(Vec::new()));
    assert_send(&sink);
    sink.write(&batch(vec![(
        "n",
        Arc::new(Int32Array::from(vec![1])) as ArrayRef,
    )]))?;
    assert_eq!(sink.finish()?.rows, 1);
    Ok(())
}

/// Throughput on the targets' shape (1M rows: 4 integers, 3 floats, 2 short strings, 1 zoned
/// date-time), JSON Lines to `io::sink()`. Run with
/// `cargo test --release -p export-core --test json_sink -- --ignored --nocapture`.
#[test]
#[ignore = "throughput measurement; run in release"]
fn json_lines_throughput() -> TestResult {
    let rows = 1_000_000usize;
    let batch_rows = 8_192;
    let start_ms = 1_767_225_600_000i64;
    let batches: Vec<RecordBatch> = (0..rows)
        .step_by(batch_rows)
        .map(|first| {
            let r = first..(first + batch_rows).min(rows);
            batch(vec![
                (
                    "id",
                    Arc::new(Int64Array::from_iter_values(r.clone().map(|i| i as i64))) as ArrayRef,
                ),
                (
                    "a",
                    Arc::new(Int32Array::from_iter_values(
                        r.clone().map(|i| (i % 1000) as i32),
                    )) as ArrayRef,
                ),
                (
                    "b",
                    Arc::new(Int64Array::from_iter_values(
                        r.clone().map(|i| (i as i64) * 7919 - 5_000_000),
                    )) as ArrayRef,
                ),
                (
                    "c",
                    Arc::new(UInt64Array::from_iter_values(
                        r.clone().map(|i| (i as u64) % 97),
                    )) as ArrayRef,
                ),
                (
                    "x",
                    Arc::new(Float64Array::from_iter_values(
                        r.clone().map(|i| i as f64 * 0.37),
                    )) as ArrayRef,
                ),
                (
                    "y",
                    Arc::new(Float64Array::from_iter_values(
                        r.clone().map(|i| 48.85 + i as f64 * 1e-6),
                    )) as ArrayRef,
                ),
                (
                    "z",
                    Arc::new(Float64Array::from_iter_values(
                        r.clone().map(|i| (i % 5000) as f64 / 100.0),
                    )) as ArrayRef,
                ),
                (
                    "s",
                    Arc::new(StringArray::from_iter_values(
                        r.clone().map(|i| format!("zone-{}", i % 300)),
                    )) as ArrayRef,
                ),
                (
                    "t",
                    Arc::new(StringArray::from_iter_values(
                        r.clone().map(|i| ["bus", "tram", "metro"][i % 3]),
                    )) as ArrayRef,
                ),
                (
                    "at",
                    Arc::new(
                        TimestampMillisecondArray::from_iter_values(
                            r.map(|i| start_ms + i as i64 * 1_000),
                        )
                        .with_timezone("Europe/Paris"),
                    ) as ArrayRef,
                ),
            ])
        })
        .collect();

    let started = std::time::Instant::now();
    let mut sink = JsonSinkBuilder::new()
        .format(JsonFormat::Lines)
        .build(io::sink());
    for b in &batches {
        sink.write(b)?;
    }
    let summary = sink.finish()?;
    let ours = started.elapsed().as_secs_f64();

    // serde_json on the same rows, as structs (its best case).
    #[derive(serde::Serialize)]
    struct Row<'a> {
        id: i64,
        a: i32,
        b: i64,
        c: u64,
        x: f64,
        y: f64,
        z: f64,
        s: &'a str,
        t: &'a str,
        at: String,
    }
    let strings: Vec<String> = (0..300).map(|i| format!("zone-{i}")).collect();
    let started = std::time::Instant::now();
    let mut out = io::BufWriter::with_capacity(64 * 1024, io::sink());
    for i in 0..rows {
        let row = Row {
            id: i as i64,
            a: (i % 1000) as i32,
            b: (i as i64) * 7919 - 5_000_000,
            c: (i as u64) % 97,
            x: i as f64 * 0.37,
            y: 48.85 + i as f64 * 1e-6,
            z: (i % 5000) as f64 / 100.0,
            s: &strings[i % 300],
            t: ["bus", "tram", "metro"][i % 3],
            at: chrono::DateTime::from_timestamp_millis(start_ms + i as i64 * 1_000)
                .ok_or("range")?
                .with_timezone(&chrono_tz::Europe::Paris)
                .to_rfc3339(),
        };
        serde_json::to_writer(&mut out, &row)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    let serde = started.elapsed().as_secs_f64();

    println!(
        "json lines: {:.2}M rows/s ({:.0} MB/s); serde_json structs: {:.2}M rows/s; ratio {:.2}x",
        rows as f64 / ours / 1e6,
        summary.bytes as f64 / ours / 1e6,
        rows as f64 / serde / 1e6,
        serde / ours
    );
    Ok(())
}
