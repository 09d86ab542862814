//! `ScheduleManager` permissions: scopes, ownership (user, organisation), the administrator
//! scope for acting for others, platform ownership (system platforms), and the access policy on
//! schedule requests.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use export_core::ExportError;
use export_core::audit::MemoryAuditLog;
use export_core::clock::{Clock, ManualClock};
use export_core::job::Owner;
use export_core::platform::Platform;
use export_core::registry::SchemaRegistry;
use export_core::request::{Audience, ExportRequest, Format, SchemaVersion};
use export_core::schedule::{
    MemoryScheduleStore, NewSchedule, PeriodRule, ScheduleChanges, ScheduleManager, ScheduleQuery,
    ScheduleTarget, Trigger,
};
use export_core::service::{Principal, Scope};
use serde_json::json;

fn manager() -> (ScheduleManager, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap(),
    ));
    let store = Arc::new(MemoryScheduleStore::new());
    let manager = ScheduleManager::new(
        store.clone(),
        store,
        Arc::new(MemoryAuditLog::new()),
        Arc::new(SchemaRegistry::new()),
        clock.clone(),
    );
    (manager, clock)
}

fn request(audience: Audience) -> ExportRequest {
    let mut r = ExportRequest::new("trip", Format::Xlsx);
    r.version = Some(SchemaVersion::V3);
    r.audience = Some(audience);
    r
}

fn alice() -> Principal {
    Principal::new("alice", Some("org1")).with_all_scopes()
}

fn admin() -> Principal {
    Principal::new("root", Some("registry"))
        .with_all_scopes()
        .with_scope(Scope::Admin)
}

fn trigger() -> Trigger {
    Trigger::cron("0 2 * * *", "Europe/Paris").unwrap()
}

fn new_schedule(id: &str, owner: Owner, target: ScheduleTarget) -> NewSchedule {
    NewSchedule::new(id, owner, target, trigger()).period(PeriodRule::PreviousMonth)
}

/// alice@org1's platform `alice-od` and her schedule `nightly` on it.
fn with_alice_schedule() -> (ScheduleManager, DateTime<Utc>) {
    let (m, clock) = manager();
    let now = clock.now();
    let platform = m
        .create_platform(
            &alice(),
            Platform::new("alice-od", request(Audience::Opendata), now),
        )
        .unwrap();
    assert_eq!(
        platform.owner,
        Some(alice().owner()),
        "a user's platform is theirs"
    );
    m.create_schedule(
        &alice(),
        new_schedule(
            "nightly",
            alice().owner(),
            ScheduleTarget::platform("alice-od"),
        ),
    )
    .unwrap();
    (m, now)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    Done,
    NotFound,
    Forbidden,
}

fn outcome<T>(result: Result<T, ExportError>) -> Outcome {
    match result {
        Ok(_) => Outcome::Done,
        Err(ExportError::NotFound { .. }) => Outcome::NotFound,
        Err(ExportError::Forbidden { .. }) => Outcome::Forbidden,
        Err(other) => panic!("unexpected error: {other}"),
    }
}

type Op = fn(&ScheduleManager, &Principal, DateTime<Utc>) -> Outcome;

#[test]
fn permission_matrix_of_schedules_and_platforms() {
    let ops: Vec<(&str, Scope, Op)> = vec![
        ("list schedules", Scope::List, |m, p, _| {
            match m.list_schedules(p, &ScheduleQuery::default()) {
                Ok(list) if list.iter().any(|s| s.id == "nightly") => Outcome::Done,
                // Not listed: the list equivalent of not found.
                Ok(_) => Outcome::NotFound,
                Err(e) => outcome::<()>(Err(e)),
            }
        }),
        ("show schedule", Scope::Read, |m, p, _| {
            outcome(m.get_schedule(p, "nightly"))
        }),
        ("schedule runs", Scope::Read, |m, p, _| {
            outcome(m.schedule_runs(p, "nightly", 10))
        }),
        ("update schedule", Scope::Create, |m, p, _| {
            let changes = ScheduleChanges {
                name: Some("renamed".into()),
                ..ScheduleChanges::default()
            };
            outcome(m.update_schedule(p, "nightly", &changes))
        }),
        ("disable schedule", Scope::Create, |m, p, _| {
            outcome(m.set_enabled(p, "nightly", false))
        }),
        ("toggle schedule", Scope::Create, |m, p, _| {
            outcome(m.toggle(p, "nightly"))
        }),
        ("delete schedule", Scope::Delete, |m, p, _| {
            outcome(m.delete_schedule(p, "nightly"))
        }),
        ("list platforms", Scope::List, |m, p, _| {
            match m.list_platforms(p) {
                Ok(list) if list.iter().any(|x| x.name == "alice-od") => Outcome::Done,
                Ok(_) => Outcome::NotFound,
                Err(e) => outcome::<()>(Err(e)),
            }
        }),
        ("show platform", Scope::Read, |m, p, _| {
            outcome(m.get_platform(p, "alice-od"))
        }),
        ("replace platform", Scope::Create, |m, p, now| {
            let replaced =
                Platform::new("alice-od", request(Audience::Opendata), now).description("replaced");
            outcome(m.update_platform(p, replaced))
        }),
        ("delete platform", Scope::Delete, |m, p, _| {
            // Its schedule goes first (as the owner or the admin), so only permissions decide.
            m.delete_schedule(&admin(), "nightly").unwrap();
            outcome(m.delete_platform(p, "alice-od"))
        }),
        ("schedule on the platform", Scope::Create, |m, p, _| {
            outcome(m.create_schedule(
                p,
                new_schedule("mine", p.owner(), ScheduleTarget::platform("alice-od")),
            ))
        }),
    ];
    for (name, scope, op) in ops {
        let missing_scope = {
            let mut p = alice();
            p.scopes.remove(&scope);
            p
        };
        let actors = [
            ("owner", alice(), Outcome::Done),
            (
                "other user, same organisation",
                Principal::new("bob", Some("org1")).with_all_scopes(),
                Outcome::NotFound,
            ),
            (
                "same user, other organisation",
                Principal::new("alice", Some("org2")).with_all_scopes(),
                Outcome::NotFound,
            ),
            ("admin", admin(), Outcome::Done),
            ("missing scope", missing_scope, Outcome::Forbidden),
        ];
        for (who, principal, expected) in actors {
            let (m, now) = with_alice_schedule();
            let got = op(&m, &principal, now);
            assert_eq!(got, expected, "{name} by {who}");
            // A refused change changed nothing.
            if expected != Outcome::Done && name != "delete platform" {
                let schedule = m.get_schedule(&alice(), "nightly").unwrap();
                assert!(
                    schedule.enabled && schedule.name == "nightly",
                    "{name} by {who}"
                );
                let platform = m.get_platform(&alice(), "alice-od").unwrap();
                assert_eq!(platform.description, "", "{name} by {who}");
            }
        }
    }
}

#[test]
fn acting_for_another_owner_needs_the_admin_scope() {
    let (m, _) = manager();
    let bob = Principal::new("bob", Some("org2")).with_all_scopes();
    let for_alice = || {
        new_schedule(
            "for-alice",
            alice().owner(),
            ScheduleTarget::request(request(Audience::Opendata)),
        )
    };
    let err = m.create_schedule(&bob, for_alice()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "forbidden: user `bob` may not create a schedule for another owner (`alice`); scope `export.admin` is required"
    );
    // alice@org2 is not alice@org1 either.
    let alice2 = Principal::new("alice", Some("org2")).with_all_scopes();
    assert_eq!(
        m.create_schedule(&alice2, for_alice()).unwrap_err().code(),
        "FORBIDDEN"
    );
    assert!(
        m.schedules()
            .list(&ScheduleQuery::default())
            .unwrap()
            .is_empty()
    );
    let created = m.create_schedule(&admin(), for_alice()).unwrap();
    assert_eq!(created.owner, alice().owner());
    // The owner now sees and changes it; bob still does not see it.
    assert_eq!(
        m.list_schedules(&alice(), &ScheduleQuery::default())
            .unwrap()
            .len(),
        1
    );
    assert!(
        m.list_schedules(&bob, &ScheduleQuery::default())
            .unwrap()
            .is_empty()
    );
    // Asking for someone else's schedules by owner gives nothing without the admin scope.
    assert!(
        m.list_schedules(&bob, &ScheduleQuery::default().owner("alice"))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        m.list_schedules(&admin(), &ScheduleQuery::default().owner("alice"))
            .unwrap()
            .len(),
        1
    );

    // Platforms for another owner, likewise.
    let now = Utc::now();
    let err = m
        .create_platform(
            &bob,
            Platform::new("p", request(Audience::Opendata), now).owned_by(alice().owner()),
        )
        .unwrap_err();
    assert_eq!(err.code(), "FORBIDDEN", "{err}");
}

#[test]
fn system_platforms_are_readable_by_all_and_changed_by_admins_only() {
    let (m, clock) = manager();
    let bob = Principal::new("bob", Some("org2")).with_all_scopes();
    // install-opendata is an administrator's operation.
    let err = m.install_monthly_opendata(&bob).unwrap_err();
    assert_eq!(
        err.to_string(),
        "forbidden: scope `export.admin` is required"
    );
    m.install_monthly_opendata(&admin()).unwrap();
    let name = "opendata-monthly-csv";
    let system = m.get_platform(&bob, name).unwrap();
    assert!(system.is_system());
    assert!(
        m.list_platforms(&bob)
            .unwrap()
            .iter()
            .any(|p| p.name == name)
    );
    // Anyone may schedule on it, for themselves.
    m.create_schedule(
        &bob,
        new_schedule("bobs", bob.owner(), ScheduleTarget::platform(name)),
    )
    .unwrap();
    // Nobody but an administrator changes it.
    let replaced = Platform::new(name, system.request.clone(), clock.now()).description("mine");
    let err = m.update_platform(&bob, replaced.clone()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "forbidden: platform `{name}` is a system platform; only administrators change it; scope `export.admin` is required"
        )
    );
    assert_eq!(
        m.delete_platform(&bob, name).unwrap_err().code(),
        "FORBIDDEN"
    );
    let saved = m.update_platform(&admin(), replaced).unwrap();
    assert!(saved.is_system(), "the owner stays the existing platform's");
    // The administrator's own schedules are not bob's.
    let bobs: Vec<_> = m
        .list_schedules(&bob, &ScheduleQuery::default())
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(bobs, ["bobs"]);
}

#[test]
fn schedule_requests_pass_the_access_policy() {
    let (m, clock) = manager();
    let olga = Principal::new("olga", Some("op-123"))
        .operator(123)
        .with_all_scopes();
    // No operator filter: saved narrowed to her operator (inline request).
    let s = m
        .create_schedule(
            &olga,
            new_schedule(
                "ops",
                olga.owner(),
                ScheduleTarget::request(request(Audience::Operator)),
            ),
        )
        .unwrap();
    let ScheduleTarget::Request { request: saved } = &s.target else {
        panic!("{s:?}")
    };
    assert_eq!(saved.filters.operators, [123]);

    // On her own operator platform without a filter: the narrowing goes into the overrides.
    m.create_platform(
        &olga,
        Platform::new("op-csv", request(Audience::Operator), clock.now()),
    )
    .unwrap();
    let s = m
        .create_schedule(
            &olga,
            new_schedule("ops2", olga.owner(), ScheduleTarget::platform("op-csv")),
        )
        .unwrap();
    let ScheduleTarget::Platform { overrides, .. } = &s.target else {
        panic!("{s:?}")
    };
    assert_eq!(overrides["filters"]["operators"], json!([123]));

    // Another operator's trips, or a territory's, are refused.
    let mut other = request(Audience::Operator);
    other.filters.operators = vec![456];
    let err = m
        .create_schedule(
            &olga,
            new_schedule("theirs", olga.owner(), ScheduleTarget::request(other)),
        )
        .unwrap_err();
    assert!(err.to_string().contains("operator 456"), "{err}");
    let err = m
        .update_schedule(
            &olga,
            "ops",
            &ScheduleChanges {
                target: Some(ScheduleTarget::request(request(Audience::Territory))),
                ..ScheduleChanges::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.code(), "FORBIDDEN", "{err}");
    // Overrides widening her platform to another operator are refused too.
    let err = m
        .update_schedule(
            &olga,
            "ops2",
            &ScheduleChanges {
                target: Some(ScheduleTarget::Platform {
                    platform: "op-csv".into(),
                    overrides: json!({"filters": {"operators": [456]}}),
                }),
                ..ScheduleChanges::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.code(), "FORBIDDEN", "{err}");
}

#[test]
fn a_schedule_override_with_an_unknown_key_is_refused() {
    let (m, _) = with_alice_schedule();
    let err = m
        .create_schedule(
            &alice(),
            new_schedule(
                "typo",
                alice().owner(),
                ScheduleTarget::Platform {
                    platform: "alice-od".into(),
                    overrides: json!({"options": {"bogus": true}}),
                },
            ),
        )
        .unwrap_err();
    assert_eq!(err.code(), "INVALID_REQUEST");
    assert!(err.to_string().contains("unknown field `bogus`"), "{err}");
}

#[test]
fn stored_platforms_without_an_owner_load_as_system_platforms_and_unknown_keys_are_store_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("schedules.db");
    let store = Arc::new(export_core::schedule::SqliteScheduleStore::open(&db).unwrap());
    let m = ScheduleManager::new(
        store.clone(),
        store,
        Arc::new(MemoryAuditLog::new()),
        Arc::new(SchemaRegistry::new()),
        Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap(),
        )),
    );
    m.create_platform(
        &alice(),
        Platform::new("old", request(Audience::Opendata), Utc::now()),
    )
    .unwrap();
    // The body a version before platform owners wrote: no `owner` key.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let body: String = conn
        .query_row(
            "SELECT body FROM export_platforms WHERE name = 'old'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut old: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(old["owner"]["user_id"], "alice");
    old.as_object_mut().unwrap().remove("owner");
    let set = |body: &serde_json::Value| {
        conn.execute(
            "UPDATE export_platforms SET body = ?1 WHERE name = 'old'",
            [body.to_string()],
        )
        .unwrap();
    };
    set(&old);
    let bob = Principal::new("bob", Some("org2")).with_all_scopes();
    let loaded = m.get_platform(&bob, "old").unwrap();
    assert!(loaded.is_system(), "{loaded:?}");
    assert_eq!(
        m.delete_platform(&bob, "old").unwrap_err().code(),
        "FORBIDDEN"
    );
    // A stored body with a key no version wrote is refused, naming it, not silently read.
    old["descripton"] = json!("typo");
    set(&old);
    let err = m.get_platform(&admin(), "old").unwrap_err();
    assert_eq!(err.code(), "STORE");
    assert!(
        err.to_string().contains("unknown field `descripton`"),
        "{err}"
    );
}
