//! The admin CLI run as a real process: exit codes, one-line errors, files and output.

#[path = "common/periods.rs"]
mod periods;

use std::process::Command;

use calamine::{Reader, Xlsx};
use export_core::request::{Audience, SchemaVersion};

fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_export-core"))
}

#[test]
fn export_writes_the_file_and_prints_path_and_rows() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("trips.xlsx");
    // A month the age limit accepts today, whatever today is.
    let month = periods::recent_month();
    let output = cli()
        .current_dir(dir.path())
        .args([
            "export",
            "--audience",
            "operator",
            "--format",
            "xlsx",
            "--rows",
            "1500",
            "--quiet",
        ])
        .args(["--start", &periods::local_date(month.start)])
        .args(["--end", &periods::local_date(month.end), "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let rows: u64 = stdout
        .strip_prefix(&format!("{}: ", out.display()))
        .and_then(|rest| rest.split_once(" rows written"))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("not `PATH: N rows written ...`: {stdout}"));
    assert!(rows > 0 && rows <= 1500, "{stdout}");

    // The workbook reads back: the data sheet and its dictionary, the operator V3 header, one
    // line per row announced.
    let mut book: Xlsx<_> = calamine::open_workbook(&out).unwrap();
    assert_eq!(book.sheet_names(), ["Trajets", "Aide"]);
    let range = book.worksheet_range("Trajets").unwrap();
    let header: Vec<String> = range
        .rows()
        .next()
        .expect("a header row")
        .iter()
        .map(|c| c.to_string())
        .collect();
    let schema = export_core::schema::trip::schema(SchemaVersion::V3, Audience::Operator);
    assert_eq!(header, schema.column_names());
    assert_eq!(range.height() as u64, rows + 1, "header + {rows} rows");
    let first = range.rows().nth(1).expect("a data row");
    assert!(
        first.iter().any(|c| *c != calamine::Data::Empty),
        "the first data row is empty"
    );
}

#[test]
fn bad_input_exits_non_zero_with_one_line_and_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("trips.csv");
    let cases: Vec<Vec<&str>> = vec![
        vec!["--audience", "public", "--format", "csv"],
        vec!["--audience", "operator", "--format", "pdf"],
        vec![
            "--audience",
            "operator",
            "--format",
            "csv",
            "--version",
            "v9",
        ],
        vec![
            "--audience",
            "operator",
            "--format",
            "csv",
            "--fields",
            "journey_id,colour",
        ],
        vec![
            "--audience",
            "operator",
            "--format",
            "csv",
            "--start",
            "2026-10-31",
            "--end",
            "2026-10-01",
        ],
        vec![
            "--audience",
            "operator",
            "--format",
            "csv",
            "--tz",
            "Mars/Olympus",
        ],
    ];
    for args in cases {
        let output = cli()
            .current_dir(dir.path())
            .arg("export")
            .args(&args)
            .args(["--rows", "10", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(!out.exists(), "{args:?} left a file");
    }
}

#[test]
fn unwritable_output_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let output = cli()
        .current_dir(dir.path())
        .args([
            "export",
            "--audience",
            "operator",
            "--format",
            "csv",
            "--rows",
            "10",
            "--out",
            "/nonexistent-dir/x.csv",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("/nonexistent-dir/x.csv")
    );
}

#[test]
fn schema_prints_the_columns_in_order() {
    let output = cli()
        .args(["schema", "--version", "v2", "--audience", "operator"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let names: Vec<&str> = text.lines().collect();
    assert_eq!(names.len(), 79);
    assert_eq!(
        &names[..3],
        ["journey_id", "trip_id", "journey_start_datetime"]
    );
    let md = cli()
        .args([
            "schema",
            "--version",
            "v3",
            "--audience",
            "opendata",
            "--markdown",
        ])
        .output()
        .unwrap();
    let md = String::from_utf8(md.stdout).unwrap();
    assert!(md.starts_with("| # | column |"));
    assert_eq!(md.lines().count(), 2 + 57);
}

#[test]
fn export_is_audited_in_the_backends_log_with_user_rows_and_risk() {
    use export_core::audit::{AuditAction, AuditLog, AuditQuery, JsonlAuditLog, RiskLevel};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("trips.csv");
    let log = dir.path().join("audit.jsonl");
    let output = cli()
        .current_dir(dir.path())
        .args(["export", "--audience", "operator", "--format", "csv"])
        .args(["--rows", "200", "--quiet", "--as", "ada", "--org", "op-7"])
        .args(["--start", "2026-10-01", "--end", "2026-10-02", "--out"])
        .arg(&out)
        .arg("--audit-log")
        .arg(&log)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events = JsonlAuditLog::open(&log)
        .unwrap()
        .list(&AuditQuery::default())
        .unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e.action, AuditAction::Export);
    assert_eq!(e.actor_user_id, "ada");
    assert_eq!(e.actor_organisation_id.as_deref(), Some("op-7"));
    assert_eq!(e.risk, RiskLevel::Medium);
    let data_rows = std::fs::read_to_string(&out).unwrap().lines().count() as u64 - 1;
    assert_eq!(e.row_count, Some(data_rows));
}
