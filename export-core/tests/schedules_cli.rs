//! `export-core schedules|platforms|scheduler` on a temporary SQLite database.

use std::path::Path;
use std::process::{Command, Output};

use export_core::audit::{AuditAction, AuditLog, AuditQuery, SqliteAuditLog};

fn cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_export-core"))
        .current_dir(dir)
        .args(args)
        .arg("--db")
        .arg(dir.join("exports.db"))
        .output()
        .expect("the binary runs")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn fails(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    String::from_utf8(out.stderr.clone()).unwrap()
}

#[test]
fn next_prints_fire_times_across_the_spring_change() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(&cli(
        dir.path(),
        &[
            "schedules",
            "next",
            "--cron",
            "30 2 * * *",
            "--tz",
            "Europe/Paris",
            "--after",
            "2026-03-27T12:00:00Z",
            "-n",
            "3",
        ],
    ));
    assert_eq!(
        out,
        "2026-03-28T01:30:00Z  (2026-03-28 02:30:00 CET Europe/Paris)\n\
         2026-03-29T01:00:00Z  (2026-03-29 03:00:00 CEST Europe/Paris)\n\
         2026-03-30T00:30:00Z  (2026-03-30 02:30:00 CEST Europe/Paris)\n"
    );
    let err = fails(&cli(
        dir.path(),
        &["schedules", "next", "--cron", "0 0 30 2 *"],
    ));
    assert!(err.contains("never fires"), "{err}");
    let err = fails(&cli(
        dir.path(),
        &[
            "schedules",
            "next",
            "--cron",
            "0 2 * * *",
            "--tz",
            "Mars/Olympus",
        ],
    ));
    assert!(err.contains("Mars/Olympus"), "{err}");
}

#[test]
fn platforms_and_schedules_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A preset naming a field its schema lacks is refused when saved.
    let err = fails(&cli(
        d,
        &[
            "platforms",
            "create",
            "op-csv",
            "--audience",
            "operator",
            "--format",
            "csv",
            "--fields",
            "journey_id,nope",
        ],
    ));
    assert!(err.contains("unknown field `nope`"), "{err}");
    ok(&cli(
        d,
        &[
            "platforms",
            "create",
            "op-csv",
            "--audience",
            "operator",
            "--format",
            "csv",
            "--fields",
            "journey_id,operator_class",
            "--description",
            "operator CSV",
        ],
    ));
    let list = ok(&cli(d, &["platforms", "list"]));
    assert!(
        list.contains("op-csv") && list.contains("operator CSV"),
        "{list}"
    );

    let out = ok(&cli(
        d,
        &[
            "schedules",
            "create",
            "nightly",
            "--as",
            "ops",
            "--operator",
            "7",
            "--cron",
            "0 2 * * *",
            "--platform",
            "op-csv",
            "--overrides",
            r#"{"options":{"bom":true}}"#,
            "--period",
            "previous-day",
        ],
    ));
    assert!(out.starts_with("nightly next run "), "{out}");
    let err = fails(&cli(
        d,
        &[
            "schedules",
            "create",
            "nightly",
            "--cron",
            "0 2 * * *",
            "--platform",
            "op-csv",
        ],
    ));
    assert!(err.contains("already exists"), "{err}");
    let err = fails(&cli(d, &["platforms", "delete", "op-csv"]));
    assert!(err.contains("used by schedule(s) nightly"), "{err}");
    let show: serde_json::Value =
        serde_json::from_str(&ok(&cli(d, &["platforms", "show", "op-csv"]))).unwrap();
    assert_eq!(show["schedules"], serde_json::json!(["nightly"]));
    assert_eq!(show["platform"]["description"], "operator CSV");
    let list = ok(&cli(d, &["platforms", "list"]));
    let row = list.lines().find(|l| l.starts_with("op-csv")).unwrap();
    assert!(row.contains("  1  operator CSV"), "{row}");

    // Update: only the flags given change; a bad value changes nothing.
    let out = ok(&cli(
        d,
        &[
            "schedules",
            "update",
            "nightly",
            "--cron",
            "30 3 * * *",
            "--max-attempts",
            "5",
        ],
    ));
    assert!(
        out.starts_with("nightly updated (trigger, retry), next run "),
        "{out}"
    );
    let err = fails(&cli(
        d,
        &["schedules", "update", "nightly", "--cron", "61 * * * *"],
    ));
    assert!(err.contains(r#"minute field "61""#), "{err}");
    let err = fails(&cli(d, &["schedules", "update", "nightly"]));
    assert!(err.contains("nothing to change"), "{err}");
    ok(&cli(
        d,
        &["schedules", "update", "nightly", "--tz", "America/New_York"],
    ));
    let show: serde_json::Value =
        serde_json::from_str(&ok(&cli(d, &["schedules", "show", "nightly"]))).unwrap();
    let schedule = &show["schedule"];
    assert_eq!(schedule["trigger"]["expression"], "30 3 * * *");
    assert_eq!(schedule["trigger"]["time_zone"], "America/New_York");
    assert_eq!(schedule["retry"]["max_attempts"], 5);
    assert_eq!(schedule["retry"]["delay_seconds"], 300);
    assert_eq!(schedule["target"]["overrides"]["options"]["bom"], true);

    // --overrides alone keeps the platform; --no-backoff and --grace change their parts only.
    ok(&cli(
        d,
        &[
            "schedules",
            "update",
            "nightly",
            "--overrides",
            r#"{"options":{"bom":true,"pretty":true}}"#,
            "--no-backoff",
            "--grace",
            "60",
            "--name",
            "Nightly CSV",
        ],
    ));
    let show: serde_json::Value =
        serde_json::from_str(&ok(&cli(d, &["schedules", "show", "nightly"]))).unwrap();
    let schedule = &show["schedule"];
    assert_eq!(schedule["target"]["platform"], "op-csv");
    assert_eq!(
        schedule["target"]["overrides"],
        serde_json::json!({"options": {"bom": true, "pretty": true}})
    );
    assert_eq!(schedule["retry"]["backoff"], serde_json::Value::Null);
    assert_eq!(schedule["retry"]["max_attempts"], 5);
    assert_eq!(schedule["misfire"]["grace_seconds"], 60);
    assert_eq!(schedule["name"], "Nightly CSV");

    let out = ok(&cli(d, &["schedules", "toggle", "nightly", "--off"]));
    assert_eq!(out, "nightly disabled, next run -\n");
    let list = ok(&cli(d, &["schedules", "list"]));
    let row = list.lines().find(|l| l.starts_with("nightly")).unwrap();
    assert!(
        row.contains(" no ") && row.contains("30 3 * * * America/New_York"),
        "{row}"
    );

    let show = ok(&cli(d, &["schedules", "show", "nightly"]));
    let json: serde_json::Value = serde_json::from_str(&show).unwrap();
    assert_eq!(
        json["schedule"]["target"]["overrides"]["options"]["bom"],
        true
    );
    assert_eq!(json["schedule"]["owner"]["user_id"], "ops");
    assert_eq!(json["schedule"]["owner"]["organisation_id"], "operator-7");

    let out = ok(&cli(d, &["schedules", "install-opendata"]));
    assert!(out.contains("opendata-monthly-xlsx next run"), "{out}");
    let out = ok(&cli(d, &["schedules", "install-opendata"]));
    assert_eq!(out, "monthly opendata export already installed\n");

    // Nothing is due now: one tick does nothing, and says so.
    let tick: serde_json::Value =
        serde_json::from_str(&ok(&cli(d, &["scheduler", "--once"]))).unwrap();
    assert_eq!(tick["fired"], serde_json::json!([]));

    // The owner is (ops, operator-7): ops without the organisation is someone else.
    let err = fails(&cli(d, &["schedules", "delete", "nightly", "--as", "ops"]));
    assert_eq!(err, "error: schedule `nightly` not found\n");
    ok(&cli(
        d,
        &[
            "schedules",
            "delete",
            "nightly",
            "--as",
            "ops",
            "--operator",
            "7",
        ],
    ));
    ok(&cli(d, &["platforms", "delete", "op-csv"]));
    let err = fails(&cli(d, &["schedules", "show", "nightly"]));
    assert_eq!(err, "error: schedule `nightly` not found\n");

    // Every change is in the audit log, in the same database.
    let audit = SqliteAuditLog::open(d.join("exports.db")).unwrap();
    let details: Vec<String> = audit
        .list(&AuditQuery::default())
        .unwrap()
        .into_iter()
        .filter(|e| {
            matches!(
                e.action,
                AuditAction::ScheduleChange | AuditAction::PlatformChange
            )
        })
        .map(|e| format!("{} {}", e.actor_user_id, e.detail.unwrap_or_default()))
        .collect();
    assert_eq!(
        details,
        [
            "admin platform op-csv: created",
            "ops schedule nightly: created",
            "admin schedule nightly: updated (trigger, retry)",
            "admin schedule nightly: updated (trigger)",
            "admin schedule nightly: updated (name, target, retry, misfire)",
            "admin schedule nightly: disabled",
            "admin platform opendata-monthly-xlsx: created",
            "admin platform opendata-monthly-csv: created",
            "admin schedule opendata-monthly-xlsx: created",
            "admin schedule opendata-monthly-csv: created",
            "ops schedule nightly: deleted",
            "admin platform op-csv: deleted",
        ]
    );
}

/// The files below `dir`, recursively.
fn files_below(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(files_below(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

#[test]
fn a_scheduled_operator_export_gets_the_retention_policy_and_is_purged() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = d.join("exports.db");
    ok(&cli(
        d,
        &[
            "platforms",
            "create",
            "op-csv",
            "--audience",
            "operator",
            "--format",
            "csv",
        ],
    ));
    ok(&cli(
        d,
        &[
            "schedules",
            "create",
            "minutely",
            "--owner",
            "ops",
            "--owner-org",
            "op-7",
            "--every-minutes",
            "1",
            "--grace",
            "3600",
            "--platform",
            "op-csv",
            "--period",
            "previous-day",
        ],
    ));
    // Two minutes late (within the grace) rather than waiting for the next minute.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let body: String = conn
        .query_row(
            "SELECT body FROM export_schedules WHERE id = 'minutely'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut schedule: serde_json::Value = serde_json::from_str(&body).unwrap();
    let next: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(schedule["next_run"].clone()).unwrap();
    let earlier = next - chrono::Duration::minutes(2);
    schedule["next_run"] = serde_json::to_value(earlier).unwrap();
    conn.execute(
        "UPDATE export_schedules SET body = ?1, next_run_micros = ?2 WHERE id = 'minutely'",
        rusqlite::params![schedule.to_string(), earlier.timestamp_micros()],
    )
    .unwrap();

    let tick: serde_json::Value =
        serde_json::from_str(&ok(&cli(d, &["scheduler", "--once"]))).unwrap();
    let id = tick["fired"][0]["job_id"].as_str().unwrap().to_string();
    ok(&cli(
        d,
        &[
            "worker",
            "--exit-when-idle",
            "--sample-rows",
            "50",
            "--quiet",
        ],
    ));
    let show: serde_json::Value = serde_json::from_str(&ok(&cli(
        d,
        &["jobs", "--as", "ops", "--org", "op-7", "show", &id],
    )))
    .unwrap();
    assert_eq!(show["status"], "succeeded", "{show}");
    assert_eq!(show["retention"], 7 * 24 * 3600, "{show}");
    let instant = |key: &str| -> chrono::DateTime<chrono::Utc> {
        serde_json::from_value(show[key].clone()).unwrap()
    };
    assert_eq!(
        instant("expires_at"),
        instant("finished_at") + chrono::Duration::days(7)
    );
    assert_eq!(files_below(&d.join("exports")).len(), 1);

    // The scheduler and the worker audited it, in the owner's name.
    let audit = SqliteAuditLog::open(&db).unwrap();
    let uuid: uuid::Uuid = id.parse().unwrap();
    let events = audit.list(&AuditQuery::default().job(uuid)).unwrap();
    let actions: Vec<AuditAction> = events.iter().map(|e| e.action).collect();
    assert_eq!(actions, [AuditAction::Create, AuditAction::Export]);
    assert!(events.iter().all(|e| e.actor_user_id == "ops"));
    assert!(
        events[0]
            .detail
            .as_deref()
            .unwrap()
            .starts_with("schedule minutely")
    );
    assert_eq!(
        events[1].row_count,
        show["result"]["rows"].as_u64(),
        "{events:?}"
    );

    // Finished 30 days ago: the purge expires it and deletes the file.
    let month = chrono::Duration::days(30).num_microseconds().unwrap();
    conn.execute(
        "UPDATE export_jobs SET finished_at = finished_at - ?1, expires_at = expires_at - ?1",
        [month],
    )
    .unwrap();
    drop(conn);
    let out = ok(&cli(d, &["purge"]));
    assert!(out.starts_with("1 job(s) expired"), "{out}");
    assert!(files_below(&d.join("exports")).is_empty(), "file deleted");
    let gone = cli(d, &["jobs", "--as", "ops", "--org", "op-7", "show", &id]);
    assert_eq!(gone.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("expired"),
        "{gone:?}"
    );
    // Its events no longer name the owner.
    let events = audit.list(&AuditQuery::default().job(uuid)).unwrap();
    assert!(
        events
            .iter()
            .all(|e| e.actor_user_id != "ops" && e.actor_organisation_id.as_deref() != Some("op-7")),
        "{events:?}"
    );
}

#[test]
fn another_user_cannot_touch_someone_elses_schedules_and_platforms() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let alice = ["--as", "alice", "--org", "org1"];
    let bob = ["--as", "bob", "--org", "org2"];
    let with = |who: &[&str], args: &[&str]| -> Vec<String> {
        args.iter().chain(who).map(|s| s.to_string()).collect()
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(d, &args)
    };
    ok(&run(with(
        &alice,
        &[
            "platforms",
            "create",
            "alice-od",
            "--audience",
            "opendata",
            "--format",
            "xlsx",
        ],
    )));
    ok(&run(with(
        &alice,
        &[
            "schedules",
            "create",
            "nightly",
            "--cron",
            "0 2 * * *",
            "--platform",
            "alice-od",
        ],
    )));

    // bob@org2 neither sees nor changes them; what he gets is "not found".
    for args in [
        vec!["schedules", "show", "nightly"],
        vec!["schedules", "update", "nightly", "--cron", "0 3 * * *"],
        vec!["schedules", "toggle", "nightly", "--off"],
        vec!["schedules", "delete", "nightly"],
    ] {
        let err = fails(&run(with(&bob, &args)));
        assert_eq!(err, "error: schedule `nightly` not found\n", "{args:?}");
    }
    let err = fails(&run(with(
        &bob,
        &[
            "platforms",
            "create",
            "alice-od",
            "--replace",
            "--audience",
            "opendata",
            "--format",
            "xlsx",
            "--description",
            "bob's",
        ],
    )));
    assert_eq!(err, "error: platform `alice-od` not found\n");
    let err = fails(&run(with(&bob, &["platforms", "delete", "alice-od"])));
    assert_eq!(err, "error: platform `alice-od` not found\n");
    let list = ok(&run(with(&bob, &["schedules", "list"])));
    assert!(!list.contains("nightly"), "{list}");
    let list = ok(&run(with(&bob, &["platforms", "list"])));
    assert!(!list.contains("alice-od"), "{list}");
    // Creating for alice needs the administrator scope.
    let err = fails(&run(with(
        &bob,
        &[
            "schedules",
            "create",
            "for-alice",
            "--owner",
            "alice",
            "--owner-org",
            "org1",
            "--cron",
            "0 2 * * *",
            "--audience",
            "opendata",
            "--format",
            "xlsx",
        ],
    )));
    assert!(
        err.contains("may not create a schedule for another owner") && err.contains("export.admin"),
        "{err}"
    );
    // install-opendata is for administrators.
    let err = fails(&run(with(&bob, &["schedules", "install-opendata"])));
    assert_eq!(err, "error: forbidden: scope `export.admin` is required\n");

    // Alice's schedule is untouched; an administrator (--admin) may act on it.
    let show: serde_json::Value =
        serde_json::from_str(&ok(&run(with(&alice, &["schedules", "show", "nightly"])))).unwrap();
    assert_eq!(show["schedule"]["enabled"], true);
    assert_eq!(show["schedule"]["trigger"]["expression"], "0 2 * * *");
    let mut admin = with(&bob, &["schedules", "toggle", "nightly", "--off"]);
    admin.push("--admin".into());
    assert!(ok(&run(admin)).contains("disabled"));
}

#[test]
fn an_override_with_an_unknown_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&cli(
        d,
        &[
            "platforms",
            "create",
            "od",
            "--audience",
            "opendata",
            "--format",
            "xlsx",
        ],
    ));
    let out = cli(
        d,
        &[
            "schedules",
            "create",
            "typo",
            "--cron",
            "0 2 * * *",
            "--platform",
            "od",
            "--overrides",
            r#"{"options":{"bogus":true}}"#,
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown field `bogus`, expected one of `bom`"),
        "{err}"
    );
    let list = ok(&cli(d, &["schedules", "list"]));
    assert!(!list.contains("typo"), "{list}");
}
