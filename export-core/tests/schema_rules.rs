//! The schema's rules decide: a registered schema's [`SchemaRules`] hooks (defaults, validation,
//! personal data, access, pipeline) are what the service and the exporter apply, and the trip
//! schema is one such schema among others.

use std::io::Cursor;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::DataType;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use export_core::ExportError;
use export_core::access::forbidden;
use export_core::audit::MemoryAuditLog;
use export_core::clock::ManualClock;
use export_core::job::{JobStore, ListQuery, MemoryJobStore};
use export_core::registry::SchemaRegistry;
use export_core::request::{Audience, ExportRequest, Format, Period};
use export_core::retention::{DefaultRetention, RetentionPolicy};
use export_core::schema::rules::{PlainRules, RunSettings, SchemaPlan, SchemaRules};
use export_core::schema::trip::{self, TripRules};
use export_core::schema::{Column, ExportSchema};
use export_core::service::{ExportService, Principal, ServiceConfig};
use export_core::source::IterSource;
use export_core::storage::MemoryStorage;

fn now() -> DateTime<Utc> {
    "2026-11-20T10:00:00Z".parse().unwrap()
}

fn columns(name: &str) -> ExportSchema {
    ExportSchema::new(
        name,
        vec![
            Column::new("sku", DataType::Utf8),
            Column::new("price", DataType::Float64),
        ],
    )
}

/// A catalogue whose exports hold personal data or not, as told.
#[derive(Debug)]
struct Catalogue {
    personal: bool,
}

impl SchemaRules for Catalogue {
    fn holds_personal_data(&self, _request: &ExportRequest) -> bool {
        self.personal
    }
}

/// Requests without period get the previous month; without a field selection, `sku` only.
#[derive(Debug)]
struct MonthlySkus;

impl SchemaRules for MonthlySkus {
    fn fill_defaults(&self, request: &mut ExportRequest, now: DateTime<Utc>, tz: Tz) {
        if request.period.is_none() {
            request.period = Some(Period::previous_month(now, tz));
        }
        if request.fields.include.is_empty() {
            request.fields.include = vec!["sku".to_string()];
        }
    }
}

/// Users may export it as JSON only.
#[derive(Debug)]
struct JsonOnly;

impl SchemaRules for JsonOnly {
    fn validate(&self, request: &ExportRequest, _now: DateTime<Utc>) -> Result<(), ExportError> {
        if request.format != Format::Json {
            return Err(ExportError::request(
                "format",
                "users export it as json only",
            ));
        }
        Ok(())
    }
}

/// Only the `catalogue` organisation may export it.
#[derive(Debug)]
struct CatalogueTeamOnly;

impl SchemaRules for CatalogueTeamOnly {
    fn authorize(
        &self,
        principal: &Principal,
        request: ExportRequest,
    ) -> Result<ExportRequest, ExportError> {
        if principal.organisation_id.as_deref() == Some("catalogue") {
            Ok(request)
        } else {
            Err(forbidden(format!(
                "`{}` is the catalogue team's",
                request.schema
            )))
        }
    }
}

fn registry() -> SchemaRegistry {
    let mut registry = SchemaRegistry::new();
    registry.register(columns("plain")).unwrap();
    registry
        .register_with_rules(columns("personal"), Arc::new(Catalogue { personal: true }))
        .unwrap();
    registry
        .register_with_rules(columns("public"), Arc::new(Catalogue { personal: false }))
        .unwrap();
    registry
        .register_with_rules(columns("monthly"), Arc::new(MonthlySkus))
        .unwrap();
    registry
        .register_with_rules(columns("json_only"), Arc::new(JsonOnly))
        .unwrap();
    registry
        .register_with_rules(columns("restricted"), Arc::new(CatalogueTeamOnly))
        .unwrap();
    registry
}

fn service_with(config: ServiceConfig) -> (ExportService, Arc<MemoryJobStore>) {
    let store = Arc::new(MemoryJobStore::new());
    let service = ExportService::new(
        store.clone(),
        Arc::new(MemoryStorage::new().unwrap()),
        Arc::new(MemoryAuditLog::new()),
        Arc::new(registry()),
        Arc::new(ManualClock::new(now())),
    )
    .with_config(config);
    (service, store)
}

fn service() -> (ExportService, Arc<MemoryJobStore>) {
    service_with(ServiceConfig::default())
}

fn alice() -> Principal {
    Principal::new("alice", Some("op-7"))
        .operator(7)
        .with_all_scopes()
}

#[test]
fn retention_follows_the_schemas_personal_data_rule() {
    let (service, _) = service_with(ServiceConfig {
        opendata_retention: Some(Duration::days(30)),
        ..ServiceConfig::default()
    });
    let create = |schema: &str| {
        service
            .create(&alice(), ExportRequest::new(schema, Format::Csv))
            .unwrap()
            .retention
    };
    // Declares personal data, or brings no rule (the library cannot judge): personal retention.
    assert_eq!(create("personal"), Some(Duration::days(7)));
    assert_eq!(create("plain"), Some(Duration::days(7)));
    // Declares none: the retention of data without personal content.
    assert_eq!(create("public"), Some(Duration::days(30)));

    // The same through the policy, given the rules.
    let policy = DefaultRetention::default();
    let request = ExportRequest::new("public", Format::Csv);
    let public = Catalogue { personal: false };
    assert_eq!(policy.retention_under(&request, &public), None);
    assert_eq!(
        policy.retention_under(&request, &PlainRules),
        Some(Duration::days(7))
    );
    // Without rules, a schema that is not built in is judged to hold personal data.
    assert_eq!(policy.retention(&request), Some(Duration::days(7)));
}

#[test]
fn the_service_applies_a_schemas_own_defaults() {
    let (service, store) = service();
    let job = service
        .create(&alice(), ExportRequest::new("monthly", Format::Csv))
        .unwrap();
    let october = Period::previous_month(now(), chrono_tz::Europe::Paris);
    assert_eq!(job.request.period, Some(october));
    assert_eq!(job.request.fields.include, ["sku"]);
    // Stored as filled, so the worker runs what was checked.
    assert_eq!(store.get(job.id).unwrap().request, job.request);

    // What the request gives is kept.
    let mut request = ExportRequest::new("monthly", Format::Csv);
    request.fields.include = vec!["price".to_string()];
    let job = service.create(&alice(), request).unwrap();
    assert_eq!(job.request.fields.include, ["price"]);

    // A schema without the rule gets no defaults.
    let job = service
        .create(&alice(), ExportRequest::new("plain", Format::Csv))
        .unwrap();
    assert_eq!(job.request.period, None);
    assert!(job.request.fields.include.is_empty());
}

#[test]
fn the_service_applies_a_schemas_own_validation_before_a_job_exists() {
    let (service, store) = service();
    let err = service
        .create(&alice(), ExportRequest::new("json_only", Format::Csv))
        .unwrap_err();
    assert_eq!(err.code(), "INVALID_REQUEST");
    assert!(err.to_string().contains("json only"), "{err}");
    assert!(
        store
            .list(&alice().owner(), &ListQuery::default())
            .unwrap()
            .jobs
            .is_empty()
    );
    service
        .create(&alice(), ExportRequest::new("json_only", Format::Json))
        .unwrap();
    // The rule is the user's, not the run's: the exporter alone accepts csv.
    registry()
        .exporter(ExportRequest::new("json_only", Format::Csv), now())
        .unwrap();
}

#[test]
fn the_service_applies_a_schemas_own_access_rule() {
    let (service, store) = service();
    let err = service
        .create(&alice(), ExportRequest::new("restricted", Format::Csv))
        .unwrap_err();
    assert_eq!(err.code(), "FORBIDDEN");
    assert!(err.to_string().contains("catalogue team"), "{err}");
    assert!(
        store
            .list(&alice().owner(), &ListQuery::default())
            .unwrap()
            .jobs
            .is_empty()
    );

    let team = Principal::new("carol", Some("catalogue")).with_all_scopes();
    service
        .create(&team, ExportRequest::new("restricted", Format::Csv))
        .unwrap();
    // Schemas without the rule stay open to all.
    service
        .create(&alice(), ExportRequest::new("plain", Format::Csv))
        .unwrap();
}

/// Writes `sku` upper-cased, drops rows without price, and names files `<schema>-upper`.
#[derive(Debug)]
struct UpperSkus;

struct UpperPlan {
    name: String,
}

impl SchemaRules for UpperSkus {
    fn plan(
        &self,
        request: &ExportRequest,
        _run: &RunSettings,
    ) -> Result<Option<Box<dyn SchemaPlan>>, ExportError> {
        Ok(Some(Box::new(UpperPlan {
            name: request.schema.clone(),
        })))
    }
}

impl SchemaPlan for UpperPlan {
    fn schema(&self) -> ExportSchema {
        ExportSchema::new(&self.name, vec![Column::new("sku", DataType::Utf8)])
    }
    fn period(&self) -> Option<&Period> {
        None
    }
    fn file_stem(&self) -> String {
        format!("{}-upper", self.name)
    }
    fn filter(
        &self,
        _request: &ExportRequest,
        batch: &RecordBatch,
    ) -> Result<RecordBatch, ExportError> {
        let price = batch.column_by_name("price").unwrap();
        let keep = arrow_array::BooleanArray::from(
            (0..batch.num_rows())
                .map(|i| price.is_valid(i))
                .collect::<Vec<_>>(),
        );
        Ok(arrow_select::filter::filter_record_batch(batch, &keep)?)
    }
    fn derive(&self, batch: &RecordBatch) -> Result<RecordBatch, ExportError> {
        let sku = batch.column_by_name("sku").unwrap().as_string::<i32>();
        let upper: StringArray = sku.iter().map(|s| s.map(str::to_uppercase)).collect();
        Ok(RecordBatch::try_from_iter([(
            "sku",
            Arc::new(upper) as ArrayRef,
        )])?)
    }
}

#[test]
fn the_exporter_runs_a_schemas_own_pipeline() {
    let mut registry = SchemaRegistry::new();
    registry
        .register_with_rules(columns("products"), Arc::new(UpperSkus))
        .unwrap();
    let exporter = registry
        .exporter(ExportRequest::new("products", Format::Csv), now())
        .unwrap();
    assert_eq!(exporter.file_name(), "products-upper.csv");
    assert_eq!(exporter.schema().columns().len(), 1);
    let batch = RecordBatch::try_from_iter([
        (
            "sku",
            Arc::new(StringArray::from(vec!["a-1", "b-2", "c-3"])) as ArrayRef,
        ),
        (
            "price",
            Arc::new(arrow_array::Float64Array::from(vec![
                Some(1.0),
                None,
                Some(3.0),
            ])) as ArrayRef,
        ),
    ])
    .unwrap();
    let mut source = IterSource::from_batches(vec![batch]).unwrap();
    let (report, out) = exporter.run(&mut source, Cursor::new(Vec::new())).unwrap();
    assert_eq!(report.rows_read, 3);
    assert_eq!(report.rows_written, 2);
    let text = String::from_utf8(out.into_inner()).unwrap();
    assert_eq!(text.lines().collect::<Vec<_>>(), ["sku", "A-1", "C-3"]);

    // The same schema with plain rules writes its columns as read.
    let mut plain = SchemaRegistry::new();
    plain.register(columns("products")).unwrap();
    let exporter = plain
        .exporter(ExportRequest::new("products", Format::Csv), now())
        .unwrap();
    assert_eq!(exporter.file_name(), "products.csv");
    assert_eq!(exporter.schema().columns().len(), 2);
}

#[test]
fn the_trip_schema_is_a_built_in_schema_with_rules() {
    let registry = SchemaRegistry::new();
    assert_eq!(registry.names(), [trip::NAME]);
    let rules = registry.rules(trip::NAME).unwrap();
    assert_eq!(rules.input_schema(), Some(trip::input_schema()));
    assert!(registry.rules("products").is_none());
    // The built-in name cannot be taken.
    let mut taken = SchemaRegistry::new();
    let err = taken
        .register_with_rules(columns(trip::NAME), Arc::new(PlainRules))
        .unwrap_err();
    assert!(err.to_string().contains("already registered"), "{err}");

    let mut request = ExportRequest::new(trip::NAME, Format::Csv);
    for (audience, personal) in [
        (None, true),
        (Some(Audience::Operator), true),
        (Some(Audience::Territory), true),
        (Some(Audience::Opendata), false),
    ] {
        request.audience = audience;
        assert_eq!(
            rules.holds_personal_data(&request),
            personal,
            "{audience:?}"
        );
        assert_eq!(TripRules.holds_personal_data(&request), personal);
    }
    // A run exports the previous month, a user the last one that ended 5 days ago.
    let on_the_3rd: DateTime<Utc> = "2026-12-03T12:00:00Z".parse().unwrap();
    let mut request = ExportRequest::new(trip::NAME, Format::Csv);
    request.audience = Some(Audience::Operator);
    rules.fill_defaults(&mut request, on_the_3rd, chrono_tz::Europe::Paris);
    assert_eq!(
        request.period,
        Some(trip::default_period(on_the_3rd, chrono_tz::Europe::Paris))
    );
    assert!(rules.validate(&request, on_the_3rd).is_ok());
    let mut november = request.clone();
    november.period = Some(Period::parse("2026-11-01", "2026-12-01", None).unwrap());
    assert_eq!(
        rules.validate(&november, on_the_3rd).unwrap_err().code(),
        "INVALID_PERIOD"
    );
    registry.exporter(november, on_the_3rd).unwrap();
}
