//! The access policy applied by `ExportService::create` before a job exists: the registry's
//! rules for trips (operators their operator, territories their territory, opendata for all,
//! anything else with `export.admin`), a pluggable policy, and other schemas allowed.

use std::sync::Arc;

use arrow_schema::DataType;
use chrono::{DateTime, Utc};
use export_core::ExportError;
use export_core::access::{AccessPolicy, forbidden};
use export_core::audit::MemoryAuditLog;
use export_core::clock::ManualClock;
use export_core::job::{JobStore, ListQuery, MemoryJobStore};
use export_core::registry::SchemaRegistry;
use export_core::request::{Audience, ExportRequest, Format, Period, SchemaVersion};
use export_core::schema::{Column, ExportSchema};
use export_core::service::{ExportService, Principal, Scope};
use export_core::storage::MemoryStorage;

const OWN_OPERATOR: i64 = 123;
const OTHER_OPERATOR: i64 = 456;
const OWN_TERRITORY: &str = "217500016";
const OTHER_TERRITORY: &str = "200046977";

fn now() -> DateTime<Utc> {
    "2026-11-20T10:00:00Z".parse().unwrap()
}

fn service_with(registry: SchemaRegistry) -> (ExportService, Arc<MemoryJobStore>) {
    let store = Arc::new(MemoryJobStore::new());
    let service = ExportService::new(
        store.clone(),
        Arc::new(MemoryStorage::new().unwrap()),
        Arc::new(MemoryAuditLog::new()),
        Arc::new(registry),
        Arc::new(ManualClock::new(now())),
    );
    (service, store)
}

fn trip(audience: Audience) -> ExportRequest {
    let mut r = ExportRequest::new("trip", Format::Csv);
    r.version = Some(SchemaVersion::V3);
    r.format = Format::Xlsx;
    r.audience = Some(audience);
    r.period = Some(Period::parse("2026-10-01", "2026-11-01", None).unwrap());
    r
}

fn operator_user() -> Principal {
    Principal::new("olga", Some("op-123"))
        .operator(OWN_OPERATOR)
        .with_all_scopes()
}

fn territory_user() -> Principal {
    Principal::new("theo", Some("aom-idf"))
        .territory(OWN_TERRITORY)
        .with_all_scopes()
}

fn no_organisation() -> Principal {
    Principal::new("nina", None).with_all_scopes()
}

fn admin() -> Principal {
    Principal::new("root", Some("registry"))
        .with_all_scopes()
        .with_scope(Scope::Admin)
}

#[derive(Debug, PartialEq)]
enum Expect {
    /// Created as asked.
    Allow,
    /// Created with this operator or territory filter filled in.
    Narrow(Vec<i64>, Vec<String>),
    /// Forbidden, the message containing this text.
    Refuse(&'static str),
}

#[test]
fn permission_matrix_of_the_registry_policy() {
    use Expect::*;
    let requests: Vec<(&str, ExportRequest)> = vec![
        ("opendata", trip(Audience::Opendata)),
        ("operator own", {
            let mut r = trip(Audience::Operator);
            r.filters.operators = vec![OWN_OPERATOR];
            r
        }),
        ("operator other", {
            let mut r = trip(Audience::Operator);
            r.filters.operators = vec![OWN_OPERATOR, OTHER_OPERATOR];
            r
        }),
        ("territory own", {
            let mut r = trip(Audience::Territory);
            r.filters.territories = vec![OWN_TERRITORY.into()];
            r
        }),
        ("territory other", {
            let mut r = trip(Audience::Territory);
            r.filters.territories = vec![OTHER_TERRITORY.into()];
            r
        }),
        ("operator, no filter", trip(Audience::Operator)),
        ("territory, no filter", trip(Audience::Territory)),
    ];
    let own_op = || Narrow(vec![OWN_OPERATOR], vec![]);
    let own_ter = || Narrow(vec![], vec![OWN_TERRITORY.to_string()]);
    let principals: Vec<(&str, Principal, [Expect; 7])> = vec![
        (
            "operator user",
            operator_user(),
            [
                Allow,
                Allow,
                Refuse("may not export the trips of operator 456"),
                Refuse("audience `territory` is not allowed for user `olga` (operator 123)"),
                Refuse("audience `territory` is not allowed"),
                own_op(),
                Refuse("audience `territory` is not allowed"),
            ],
        ),
        (
            "territory user",
            territory_user(),
            [
                Allow,
                Refuse(
                    "audience `operator` is not allowed for user `theo` (territory `217500016`)",
                ),
                Refuse("audience `operator` is not allowed"),
                Allow,
                Refuse("may not export the trips of territory `200046977`"),
                Refuse("audience `operator` is not allowed"),
                own_ter(),
            ],
        ),
        (
            "user without organisation",
            no_organisation(),
            [
                Allow,
                Refuse(
                    "audience `operator` is not allowed for user `nina` (no operator or territory)",
                ),
                Refuse("audience `operator` is not allowed"),
                Refuse("audience `territory` is not allowed"),
                Refuse("audience `territory` is not allowed"),
                Refuse("audience `operator` is not allowed"),
                Refuse("audience `territory` is not allowed"),
            ],
        ),
        (
            "admin",
            admin(),
            [Allow, Allow, Allow, Allow, Allow, Allow, Allow],
        ),
    ];
    for (who, principal, expected) in principals {
        for ((what, request), expect) in requests.iter().zip(expected) {
            let (service, store) = service_with(SchemaRegistry::new());
            let got = service.create(&principal, request.clone());
            match (&expect, got) {
                (Allow, Ok(job)) => {
                    assert_eq!(job.request.filters, request.filters, "{who} / {what}")
                }
                (Narrow(operators, territories), Ok(job)) => {
                    assert_eq!(&job.request.filters.operators, operators, "{who} / {what}");
                    assert_eq!(
                        &job.request.filters.territories, territories,
                        "{who} / {what}"
                    );
                    // What is stored is what runs: the narrowed request.
                    assert_eq!(store.get(job.id).unwrap().request, job.request);
                }
                (Refuse(text), Err(err @ ExportError::Forbidden { .. })) => {
                    let message = err.to_string();
                    assert!(message.contains(text), "{who} / {what}: {message}");
                    assert!(
                        message.ends_with("scope `export.admin` is required"),
                        "{message}"
                    );
                    // Nothing was created.
                    assert!(
                        store
                            .list(&principal.owner(), &ListQuery::default())
                            .unwrap()
                            .jobs
                            .is_empty(),
                        "{who} / {what}"
                    );
                }
                (expect, got) => panic!("{who} / {what}: expected {expect:?}, got {got:?}"),
            }
        }
    }
}

#[test]
fn the_policy_runs_before_validation_and_the_scope_check_before_it() {
    let (service, _) = service_with(SchemaRegistry::new());
    // A refused request with a bad field: refused for access, not for the field, so the
    // principal learns nothing about the data it may not see.
    let mut r = trip(Audience::Territory);
    r.fields.include = vec!["nope".into()];
    let err = service.create(&operator_user(), r).unwrap_err();
    assert_eq!(err.code(), "FORBIDDEN", "{err}");
    // Without export.create, the missing scope is the answer.
    let mut p = operator_user();
    p.scopes.remove(&Scope::Create);
    let err = service.create(&p, trip(Audience::Territory)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "forbidden: scope `export.create` is required"
    );
}

#[test]
fn admin_is_not_part_of_read_or_write_exports() {
    let p = Principal::new("u", None)
        .with_scopes("READ_EXPORTS,WRITE_EXPORTS")
        .unwrap();
    assert!(!p.is_admin());
    assert!(!Principal::new("u", None).with_all_scopes().is_admin());
    let p = Principal::new("u", None)
        .with_scopes("export.admin")
        .unwrap();
    assert!(p.is_admin() && p.has(Scope::Admin));
    assert!(!Scope::EXPORTS.contains(&Scope::Admin));
    assert_eq!(Scope::EXPORTS.len() + 1, Scope::ALL.len());
    assert_eq!("export.admin".parse::<Scope>().unwrap(), Scope::Admin);
}

/// A catalogue deployment's own policy: only its `products` schema, for the `catalogue` org.
struct CatalogueOnly;

impl AccessPolicy for CatalogueOnly {
    fn authorize(
        &self,
        principal: &Principal,
        request: ExportRequest,
    ) -> export_core::Result<ExportRequest> {
        if principal.organisation_id.as_deref() == Some("catalogue") {
            Ok(request)
        } else {
            Err(forbidden(format!(
                "schema `{}` is for the catalogue team",
                request.schema
            )))
        }
    }
}

#[test]
fn other_schemas_are_allowed_by_default_and_a_deployment_plugs_its_own_policy() {
    let registry = || {
        let mut registry = SchemaRegistry::new();
        registry
            .register(ExportSchema::new(
                "products",
                vec![Column::new("sku", DataType::Utf8)],
            ))
            .unwrap();
        registry
    };
    let products = ExportRequest::new("products", Format::Csv);
    let (service, _) = service_with(registry());
    service
        .create(&no_organisation(), products.clone())
        .unwrap();

    let (service, _) = service_with(registry());
    let service = service.with_access_policy(Arc::new(CatalogueOnly));
    let err = service
        .create(&no_organisation(), products.clone())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "forbidden: schema `products` is for the catalogue team; scope `export.admin` is required"
    );
    let team = Principal::new("cat", Some("catalogue")).with_all_scopes();
    service.create(&team, products).unwrap();
}
