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
        "create",
        "--audience",
        "operator",
        "--format",
        "xlsx",
    ];
    let id = ok(&jobs(d, &create)).trim().to_string();
    assert_eq!(id.len(), 36, "{id}");

    let list = ok(&jobs(d, &["--as", "alice", "list"]));
    assert!(list.contains(&id) && list.contains("pending"), "{list}");
    let other = ok(&jobs(d, &["--as", "bob", "--org", "op-7", "list"]));
    assert!(!other.contains(&id), "{other}");

    let show: serde_json::Value =
        serde_json::from_str(&ok(&jobs(d, &["--as", "alice", "show", &id]))).unwrap();
    assert_eq!(show["owner"]["user_id"], "alice");
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

    let status: serde_json::Value =
        serde_json::from_str(&ok(&jobs(d, &["--as", "alice", "status", &id]))).unwrap();
    assert_eq!(status["status"], "pending");

    // Someone else's job: not found, exit 2.
    let foreign = jobs(d, &["--as", "bob", "--org", "op-7", "show", &id]);
    assert_eq!(foreign.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&foreign.stderr).trim(),
        format!("error: job `{id}` not found")
    );

    let cancel = ok(&jobs(d, &["--as", "alice", "cancel", &id]));
    assert!(cancel.contains("cancelled"), "{cancel}");

    // Not ready for download.
    let out = d.join("file.xlsx");
    let download = jobs(
        d,
        &[
            "--as",
            "alice",
            "download",
            &id,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(download.status.code(), Some(2));
    assert!(!out.exists());

    ok(&jobs(d, &["--as", "alice", "delete", &id]));
    let gone = jobs(d, &["--as", "alice", "show", &id]);
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
