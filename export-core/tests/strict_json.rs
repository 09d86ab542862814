//! Every structure read from JSON refuses unknown keys, naming the key and the valid ones, so a
//! typo (`feilds`, `operator` for `operators`) never silently widens an export.

use chrono::Utc;
use export_core::error::{from_json, from_json_value};
use export_core::filter::{Filters, Predicate};
use export_core::job::{ListQuery, Owner};
use export_core::platform::Platform;
use export_core::request::{ExportRequest, Format, OutputOptions, Period};
use export_core::schedule::{
    MisfirePolicy, RetryPolicy, RunQuery, Schedule, ScheduleQuery, ScheduleTarget, Trigger,
};
use export_core::schema::{Column, ExportSchema, FieldSelection, Sheet};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Parses `value` as `T` and checks the refusal names `key` and lists the valid keys.
fn refused<T: DeserializeOwned + std::fmt::Debug>(value: Value, key: &str) {
    let err = from_json_value::<T>("input", value.clone()).unwrap_err();
    assert_eq!(err.code(), "INVALID_REQUEST", "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("unknown field `{key}`")) && text.contains("expected"),
        "{} with {value}: {text}",
        std::any::type_name::<T>()
    );
}

/// The valid form parses, so the refusal above is about the key only.
fn accepted<T: DeserializeOwned>(value: Value) -> T {
    from_json_value::<T>("input", value.clone())
        .unwrap_or_else(|e| panic!("{} refused {value}: {e}", std::any::type_name::<T>()))
}

fn request() -> Value {
    json!({"schema": "trip", "audience": "operator", "format": "csv"})
}

#[test]
fn the_issue_request_with_feilds_and_operator_is_refused() {
    let text = r#"{"schema":"trip","audience":"operator","format":"csv","filters":{"operator":[123]},"feilds":{"include":["journey_id"]}}"#;
    let err = from_json::<ExportRequest>("request", text).unwrap_err();
    assert_eq!(err.code(), "INVALID_REQUEST");
    // serde stops at the first unknown key, the misspelt filter.
    assert!(
        err.to_string()
            .contains("unknown field `operator`, expected one of `operators`"),
        "{err}"
    );
    let text = r#"{"schema":"trip","audience":"operator","format":"csv","filters":{"operators":[123]},"feilds":{"include":["journey_id"]}}"#;
    let err = from_json::<ExportRequest>("request", text).unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown field `feilds`, expected one of `schema`"),
        "{err}"
    );
}

#[test]
fn request_and_everything_under_it_refuse_unknown_keys() {
    accepted::<ExportRequest>(request());
    let mut typo = request();
    typo["feilds"] = json!({});
    refused::<ExportRequest>(typo, "feilds");

    accepted::<Filters>(json!({"operators": [1], "territories": ["75056"]}));
    refused::<Filters>(json!({"operator": [1]}), "operator");
    accepted::<Predicate>(json!({"op": "eq", "column": "sku", "value": "a"}));
    refused::<Predicate>(
        json!({"op": "eq", "column": "sku", "value": "a", "colour": 1}),
        "colour",
    );
    refused::<Predicate>(json!({"op": "range", "column": "price", "mni": 1}), "mni");
    accepted::<FieldSelection>(json!({"include": ["journey_id"]}));
    refused::<FieldSelection>(json!({"includes": ["journey_id"]}), "includes");
    accepted::<OutputOptions>(json!({"bom": true}));
    refused::<OutputOptions>(json!({"bogus": true}), "bogus");
    let period = json!({"start": "2026-10-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"});
    accepted::<Period>(period.clone());
    let mut typo = period;
    typo["timezone"] = json!("Europe/Paris");
    refused::<Period>(typo, "timezone");

    // Nested: the typo deep inside a request is refused through the request too.
    let mut nested = request();
    nested["options"] = json!({"bogus": true});
    refused::<ExportRequest>(nested, "bogus");
}

#[test]
fn platform_presets_and_overrides_after_merging_refuse_unknown_keys() {
    let platform = json!({"name": "op-csv", "request": request(),
        "created_at": "2026-11-01T00:00:00Z", "updated_at": "2026-11-01T00:00:00Z"});
    let parsed: Platform = accepted(platform.clone());
    let mut typo = platform;
    typo["descripton"] = json!("typo");
    refused::<Platform>(typo, "descripton");

    // Overrides are a free merge patch; the merged request is checked against the real struct.
    let err = parsed
        .request_with(&json!({"options": {"bogus": true}}))
        .unwrap_err();
    assert_eq!(err.code(), "INVALID_REQUEST");
    assert!(err.to_string().contains("unknown field `bogus`"), "{err}");
    let err = parsed
        .request_with(&json!({"filters": {"operator": [1]}}))
        .unwrap_err();
    assert!(
        err.to_string().contains("unknown field `operator`"),
        "{err}"
    );
    let err = parsed.request_with(&json!({"feilds": {}})).unwrap_err();
    assert!(err.to_string().contains("unknown field `feilds`"), "{err}");
    assert!(
        parsed
            .request_with(&json!({"options": {"bom": true}}))
            .is_ok()
    );
}

#[test]
fn schedules_triggers_and_policies_refuse_unknown_keys() {
    accepted::<Trigger>(json!({"kind": "cron", "expression": "0 2 * * *"}));
    refused::<Trigger>(
        json!({"kind": "cron", "expression": "0 2 * * *", "timezone": "UTC"}),
        "timezone",
    );
    refused::<Trigger>(
        json!({"kind": "interval", "every_minutes": 5, "every_hours": 1}),
        "every_hours",
    );
    accepted::<RetryPolicy>(json!({"max_attempts": 2}));
    refused::<RetryPolicy>(json!({"max_attempts": 2, "delay": 60}), "delay");
    accepted::<MisfirePolicy>(json!({"grace_seconds": 60}));
    refused::<MisfirePolicy>(json!({"grace": 60}), "grace");
    accepted::<ScheduleTarget>(json!({"kind": "platform", "platform": "p"}));
    refused::<ScheduleTarget>(
        json!({"kind": "platform", "platform": "p", "overides": {}}),
        "overides",
    );
    refused::<ScheduleTarget>(
        json!({"kind": "request", "request": request(), "extra": 1}),
        "extra",
    );

    // A whole schedule, as the stores keep it: its own form loads, a typo does not.
    let schedule = export_core::schedule::NewSchedule::new(
        "nightly",
        Owner::in_organisation("alice", "org1"),
        ScheduleTarget::platform("p"),
        Trigger::cron("0 2 * * *", "Europe/Paris").unwrap(),
    )
    .build(Utc::now())
    .unwrap();
    let mut value = serde_json::to_value(&schedule).unwrap();
    let back: Schedule = accepted(value.clone());
    assert_eq!(back, schedule);
    value["retry"]["max_atempts"] = json!(1);
    refused::<Schedule>(value.clone(), "max_atempts");
    value["retry"] = json!({});
    value["enabeld"] = json!(false);
    refused::<Schedule>(value, "enabeld");
}

#[test]
fn queries_owners_and_schemas_refuse_unknown_keys() {
    accepted::<ListQuery>(json!({"limit": 5}));
    refused::<ListQuery>(json!({"limt": 5}), "limt");
    accepted::<ScheduleQuery>(json!({"enabled": true}));
    refused::<ScheduleQuery>(json!({"owner": "alice"}), "owner");
    accepted::<RunQuery>(json!({"limit": 5}));
    refused::<RunQuery>(json!({"open": true}), "open");
    accepted::<Owner>(json!({"user_id": "alice", "organisation_id": "org1"}));
    refused::<Owner>(
        json!({"user_id": "alice", "organization_id": "org1"}),
        "organization_id",
    );

    let schema = ExportSchema::new(
        "products",
        vec![Column::new("sku", arrow_schema::DataType::Utf8)],
    );
    let mut value = serde_json::to_value(&schema).unwrap();
    let _: ExportSchema = accepted(value.clone());
    let mut column = value["sheets"][0]["columns"][0].clone();
    let _: Column = accepted(column.clone());
    column["heading"] = json!("SKU");
    refused::<Column>(column, "heading");
    let mut sheet = value["sheets"][0].clone();
    let _: Sheet = accepted(sheet.clone());
    sheet["title"] = json!("x");
    refused::<Sheet>(sheet, "title");
    value["sheet"] = json!([]);
    refused::<ExportSchema>(value, "sheet");
}

#[test]
fn a_request_without_typos_is_unchanged_by_a_round_trip() {
    let mut request = ExportRequest::new("trip", Format::Csv);
    request.filters.operators = vec![123];
    request.fields.include = vec!["journey_id".into()];
    let text = serde_json::to_string(&request).unwrap();
    assert_eq!(
        from_json::<ExportRequest>("request", &text).unwrap(),
        request
    );
}

#[test]
fn a_period_takes_dates_local_times_or_instants_and_errors_name_the_path() {
    let period: Period = from_json_value(
        "period",
        json!({"start": "2026-10-01", "end": "2026-10-02T06:00:00", "time_zone": "Europe/Paris"}),
    )
    .unwrap();
    assert_eq!(period.start.to_rfc3339(), "2026-09-30T22:00:00+00:00");
    assert_eq!(period.end.to_rfc3339(), "2026-10-02T04:00:00+00:00");
    // Serialised as instants, read back the same.
    let again: Period = from_json_value("period", serde_json::to_value(period).unwrap()).unwrap();
    assert_eq!(again, period);

    let err = from_json::<ExportRequest>(
        "request",
        r#"{"schema":"trip","format":"csv","period":{"start":"2026-10-02","end":"2026-10-01"}}"#,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("period") && err.to_string().contains("after"),
        "{err}"
    );
    let err = from_json::<ExportRequest>(
        "request",
        r#"{"schema":"trip","format":"csv","period":{"start":"yesterday","end":"2026-10-01"}}"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("yesterday"), "{err}");
    let err = from_json::<ExportRequest>(
        "request",
        r#"{"schema":"trip","format":"csv","options":{"bom":"yes"}}"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("options.bom"), "{err}");
}
