//! Fuzzes export requests read from JSON, as the CLI, the bindings and the job stores read them.
//!
//! Input: arbitrary bytes given to `serde_json::from_slice::<ExportRequest>`.
//! Invariants: parsing and validation never panic (`validate_basic`, then the exporter build a
//! service runs before creating a job: trip schema or a registered `products` schema, at a fixed
//! instant so the period limits do not depend on the day of the run); a request that parses
//! serialises and parses back equal, and serialises again to the same text (a stored job's
//! request does not drift); an accepted request still builds after the round trip, with the same
//! file name.
//!
//! Run from `fuzz/` (see its README):
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run request_json -- -dict=dict/request.dict`.

#![no_main]

use std::sync::OnceLock;

use arrow_schema::DataType;
use chrono::{DateTime, TimeZone, Utc};
use export_core::registry::SchemaRegistry;
use export_core::request::ExportRequest;
use export_core::schema::{Column, ExportSchema};
use libfuzzer_sys::fuzz_target;

fn registry() -> &'static SchemaRegistry {
    static REGISTRY: OnceLock<SchemaRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut registry = SchemaRegistry::new();
        registry
            .register(ExportSchema::new(
                "products",
                vec![
                    Column::new("sku", DataType::Utf8).required(),
                    Column::new("name", DataType::Utf8),
                    Column::new("price", DataType::Float64),
                    Column::new("stock", DataType::Int64),
                ],
            ))
            .expect("a new schema");
        registry
    })
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 15, 12, 0, 0)
        .single()
        .expect("valid instant")
}

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<ExportRequest>(data) else {
        return;
    };
    let text = serde_json::to_string(&request).expect("a parsed request serialises");
    let back: ExportRequest =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text} does not parse back: {e}"));
    assert_eq!(back, request, "round trip of {text}");
    assert_eq!(
        serde_json::to_string(&back).expect("serialises"),
        text,
        "second serialisation"
    );

    let basic = request.validate_basic();
    // The hash key is fixed so that two builds of one request are comparable.
    let built = registry()
        .builder(request.clone(), now())
        .and_then(|b| b.hash_key(b"fuzz".to_vec()).build());
    if built.is_ok() {
        assert!(
            basic.is_ok(),
            "built although validate_basic refused: {basic:?}"
        );
    }
    let Ok(exporter) = built else { return };
    let rebuilt = registry()
        .builder(back, now())
        .and_then(|b| b.hash_key(b"fuzz".to_vec()).build())
        .unwrap_or_else(|e| panic!("{text}: accepted, but not after the round trip: {e}"));
    assert_eq!(rebuilt.file_name(), exporter.file_name());
    assert_eq!(rebuilt.content_type(), exporter.content_type());
});
