//! `export-core jobs`: create → list → show → status → cancel → delete on a temporary SQLite
//! database, and the errors of a missing scope and a foreign job.

#[path = "common/periods.rs"]
mod periods;

use std::path::Path;
use std::process::{Command, Output};

fn jobs(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_export-core"))
        .current_dir(dir)
        .arg("jobs")
        .arg("--db")
        .arg(dir.join("jobs.db"))
        .arg("--storage")
        .arg(dir.join("exports"))
        .args(args)
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

#[test]
fn create_list_show_cancel_delete() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let create = [
        "--as",
        "alice",
        "--org",
        "op-7",
        "--operator",
        "7",
        "create",
        "--audience",
        "operator",
        "--format",
        "xlsx",
    ];
    let id = ok(&jobs(d, &create)).trim().to_string();
    assert_eq!(id.len(), 36, "{id}");

    let list = ok(&jobs(d, &["--as", "alice", "--org", "op-7", "list"]));
    assert!(list.contains(&id) && list.contains("pending"), "{list}");
    let other = ok(&jobs(d, &["--as", "bob", "--org", "op-7", "list"]));
    assert!(!other.contains(&id), "{other}");

    let show: serde_json::Value = serde_json::from_str(&ok(&jobs(
        d,
        &["--as", "alice", "--org", "op-7", "show", &id],
    )))
    .unwrap();
    assert_eq!(show["owner"]["user_id"], "alice");
    // No operator filter given: the access policy narrowed it to alice's operator.
    assert_eq!(
        show["request"]["filters"]["operators"],
        serde_json::json!([7])
    );
    assert_eq!(show["request"]["audience"], "operator");
    assert_eq!(show["retention"], 7 * 24 * 3600);
    // Without --start/--end, the last calendar month that ended at least 5 days ago, whatever
    // today is (on the 1st to the 5th, the month before the previous one).
    let instant = |key: &str| {
        let text = show["request"]["period"][key].as_str().unwrap();
        chrono::DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    };
    let (start, end) = (instant("start"), instant("end"));
    let five_days_ago = chrono::Utc::now() - chrono::Duration::days(5);
    assert!(
        end <= five_days_ago && end > five_days_ago - chrono::Duration::days(32),
        "{show}"
    );
    assert!((28..=31).contains(&(end - start).num_days()), "{show}");

    let status: serde_json::Value = serde_json::from_str(&ok(&jobs(
        d,
        &["--as", "alice", "--org", "op-7", "status", &id],
    )))
    .unwrap();
    assert_eq!(status["status"], "pending");

    // Someone else's job: not found, exit 2.
    let foreign = jobs(d, &["--as", "bob", "--org", "op-7", "show", &id]);
    assert_eq!(foreign.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&foreign.stderr).trim(),
        format!("error: job `{id}` not found")
    );

    let cancel = ok(&jobs(d, &["--as", "alice", "--org", "op-7", "cancel", &id]));
    assert!(cancel.contains("cancelled"), "{cancel}");

    // Not ready for download.
    let out = d.join("file.xlsx");
    let download = jobs(
        d,
        &[
            "--as",
            "alice",
            "--org",
            "op-7",
            "download",
            &id,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(download.status.code(), Some(2));
    assert!(!out.exists());

    ok(&jobs(d, &["--as", "alice", "--org", "op-7", "delete", &id]));
    let gone = jobs(d, &["--as", "alice", "--org", "op-7", "show", &id]);
    assert_eq!(gone.status.code(), Some(2));

    // The audit log sits in the same database.
    let conn = rusqlite::Connection::open(d.join("jobs.db")).unwrap();
    let actions: Vec<String> = conn
        .prepare("SELECT action FROM audit_events ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(actions, vec!["create", "cancel", "delete"]);
}

#[test]
fn request_json_and_jsonl_audit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A month the age limit accepts today, whatever today is.
    let month = periods::recent_month();
    let request = format!(
        r#"{{"schema":"trip","version":"v2","audience":"opendata","format":"csv",
        "period":{{"start":"{}","end":"{}","time_zone":"Europe/Paris"}}}}"#,
        month.start.to_rfc3339(),
        month.end.to_rfc3339()
    );
    std::fs::write(d.join("request.json"), request).unwrap();
    let audit = d.join("audit.jsonl");
    let id = ok(&jobs(
        d,
        &[
            "--as",
            "alice",
            "--audit-log",
            audit.to_str().unwrap(),
            "create",
            "--request-json",
            "request.json",
        ],
    ));
    let line = std::fs::read_to_string(&audit).unwrap();
    assert!(
        line.contains(id.trim()) && line.contains("\"risk\":\"low\""),
        "{line}"
    );
}

#[test]
fn missing_scope_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = jobs(
        dir.path(),
        &[
            "--as",
            "alice",
            "--scopes",
            "READ_EXPORTS",
            "create",
            "--audience",
            "opendata",
            "--format",
            "csv",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: forbidden: scope `export.create` is required"
    );
    let out = jobs(
        dir.path(),
        &["--as", "alice", "--scopes", "export.fly", "list"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("export.fly"));
    let out = jobs(dir.path(), &["list"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_typo_in_the_request_json_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let refusal = |request: &str| {
        let args = [
            "--as",
            "alice",
            "--operator",
            "123",
            "create",
            "--request-json",
            request,
        ];
        let out = jobs(d, &args);
        assert_eq!(out.status.code(), Some(2));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let request = r#"{"schema":"trip","audience":"operator","format":"csv","filters":{"operators":[123]},"feilds":{"include":["journey_id"]}}"#;
    let err = refusal(request);
    assert!(
        err.contains("unknown field `feilds`, expected one of `schema`"),
        "{err}"
    );
    // The issue's request, with `operator` for `operators`: the filter typo is named.
    let err = refusal(&request.replace("\"operators\"", "\"operator\""));
    assert!(
        err.contains("unknown field `operator`, expected one of `operators`"),
        "{err}"
    );
    let list = ok(&jobs(d, &["--as", "alice", "--operator", "123", "list"]));
    assert_eq!(list.lines().count(), 1, "only the header: {list}");
}

#[test]
fn the_same_user_in_another_organisation_is_a_stranger() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let create = [
        "--as",
        "alice",
        "--org",
        "org1",
        "create",
        "--audience",
        "opendata",
        "--format",
        "xlsx",
    ];
    let id = ok(&jobs(d, &create)).trim().to_string();
    for command in ["show", "status", "cancel", "delete"] {
        let out = jobs(d, &["--as", "alice", "--org", "org2", command, &id]);
        assert_eq!(out.status.code(), Some(2), "{command}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).trim(),
            format!("error: job `{id}` not found"),
            "{command}"
        );
    }
    let list = ok(&jobs(d, &["--as", "alice", "--org", "org2", "list"]));
    assert!(!list.contains(&id), "{list}");
    let list = ok(&jobs(d, &["--as", "alice", "list"]));
    assert!(!list.contains(&id), "without organisation: {list}");
    ok(&jobs(d, &["--as", "alice", "--org", "org1", "show", &id]));
}

#[test]
fn the_access_policy_applies_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let request = r#"{"schema":"trip","version":"v3","audience":"operator","format":"xlsx","filters":{"operators":[456]}}"#;
    let other = [
        "--as",
        "olga",
        "--operator",
        "123",
        "create",
        "--request-json",
        request,
    ];
    let out = jobs(d, &other);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: forbidden: user `olga` of operator 123 may not export the trips of operator 456; scope `export.admin` is required"
    );
    let out = jobs(
        d,
        &[
            "--as",
            "nina",
            "create",
            "--audience",
            "territory",
            "--format",
            "xlsx",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("audience `territory` is not allowed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A territory user gets their territory; an administrator what they ask.
    let id = ok(&jobs(
        d,
        &[
            "--as",
            "theo",
            "--territory",
            "75056",
            "create",
            "--audience",
            "territory",
            "--format",
            "xlsx",
        ],
    ));
    let show: serde_json::Value = serde_json::from_str(&ok(&jobs(
        d,
        &["--as", "theo", "--territory", "75056", "show", id.trim()],
    )))
    .unwrap();
    assert_eq!(
        show["request"]["filters"]["territories"],
        serde_json::json!(["75056"])
    );
    assert_eq!(show["owner"]["organisation_id"], "territory-75056");
    let mut admin = other.to_vec();
    admin.insert(0, "--admin");
    ok(&jobs(d, &admin));
}
