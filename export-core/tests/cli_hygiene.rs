//! The CLI as a Unix tool: `--out -` streams to standard output, a closed pipe ends quietly,
//! the output is never the input nor a special file, endless input lines are refused, read-only
//! commands never create a database, and exit statuses say who is at fault (2: the input).
//!
//! Periods are the default one (the previous month, computed from the clock), so these tests
//! hold whatever today is.

use std::io::{BufRead, BufReader, Cursor};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// The binary, run in a scratch directory: `export` audits into `./export-core.db` by default,
/// which must not land in the source tree.
fn cli() -> Command {
    static SCRATCH: OnceLock<tempfile::TempDir> = OnceLock::new();
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let scratch = SCRATCH.get_or_init(|| tempfile::tempdir().unwrap());
    // One directory per command, so parallel tests never share an audit database.
    let dir = scratch
        .path()
        .join(NEXT.fetch_add(1, Ordering::Relaxed).to_string());
    std::fs::create_dir(&dir).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_export-core"));
    cmd.current_dir(dir);
    cmd
}

fn export(format: &str, rows: &str) -> Command {
    let mut cmd = cli();
    cmd.args(["export", "--audience", "operator", "--quiet", "--seed", "7"])
        .args(["--format", format, "--rows", rows]);
    if format == "csv" {
        cmd.args(["--version", "v2"]);
    }
    cmd
}

/// A CSV export of `input` to `out`, with `extra` flags.
fn export_input(input: &Path, out: &Path, extra: &[&str]) -> Output {
    export("csv", "1")
        .arg("--input")
        .arg(input)
        .args(extra)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ok(out: &Output) -> Vec<u8> {
    assert!(out.status.success(), "stderr: {}", stderr(out));
    out.stdout.clone()
}

/// Asserts exit status 2 and one `error: ...` line containing `needle`.
fn bad_input(out: &Output, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: ") && err.contains(needle), "{err}");
}

#[test]
fn out_dash_streams_the_same_bytes_as_a_file_export() {
    let dir = tempfile::tempdir().unwrap();
    for format in ["csv", "json"] {
        let file = dir.path().join(format!("trips.{format}"));
        ok(&export(format, "800")
            .arg("--out")
            .arg(&file)
            .output()
            .unwrap());
        let out = export(format, "800").args(["--out", "-"]).output().unwrap();
        let streamed = ok(&out);
        assert_eq!(streamed, std::fs::read(&file).unwrap(), "{format}");
        assert!(
            streamed.len() > 10_000,
            "{format}: {} bytes",
            streamed.len()
        );
        // The summary goes to standard error, out of the file's way.
        assert!(
            stderr(&out).contains("standard output: "),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "no temporary file"
    );
}

#[test]
fn out_dash_streams_an_xlsx_workbook() {
    use calamine::{Reader, Xlsx};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trips.xlsx");
    ok(&export("xlsx", "300")
        .arg("--out")
        .arg(&file)
        .output()
        .unwrap());
    let streamed = ok(&export("xlsx", "300").args(["--out", "-"]).output().unwrap());
    // Workbooks carry their creation time: compare the data, not the bytes.
    let rows = |bytes: Vec<u8>| {
        let mut book = Xlsx::new(Cursor::new(bytes)).unwrap();
        let first = book.sheet_names()[0].clone();
        let range = book.worksheet_range(&first).unwrap();
        range.rows().map(|r| r.to_vec()).collect::<Vec<_>>()
    };
    let from_file = rows(std::fs::read(&file).unwrap());
    assert!(from_file.len() > 100);
    assert_eq!(rows(streamed), from_file);
}

#[test]
fn a_zero_row_csv_export_is_its_header_line() {
    let header = ok(&export("csv", "0").args(["--out", "-"]).output().unwrap());
    let full = ok(&export("csv", "50").args(["--out", "-"]).output().unwrap());
    let first_line = full.split_inclusive(|&b| b == b'\n').next().unwrap();
    assert!(first_line.starts_with(b"\"journey_id\";\"trip_id\";"));
    assert_eq!(header, first_line);
}

#[test]
fn out_equal_to_input_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("trips.csv");
    std::fs::write(&input, "journey_id\n1\n").unwrap();
    let same_paths = [input.clone(), dir.path().join(".").join("trips.csv"), {
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink(&input, &link).unwrap();
        link
    }];
    for out in &same_paths {
        let run = export_input(&input, out, &[]);
        bad_input(&run, "is the input file");
        assert_eq!(std::fs::read(&input).unwrap(), b"journey_id\n1\n");
    }
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["link.csv", "trips.csv"]);
}

#[test]
fn a_fifo_or_directory_as_out_is_refused_and_kept() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("out.csv");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let run = export("csv", "10")
        .arg("--out")
        .arg(&fifo)
        .output()
        .unwrap();
    bad_input(&run, "it is a FIFO, not a regular file");
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    let run = export("csv", "10")
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    bad_input(&run, "it is a directory, not a regular file");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn an_endless_input_line_exits_2_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("x.csv");
    std::os::unix::fs::symlink("/dev/zero", &input).unwrap();
    let started = Instant::now();
    let out = dir.path().join("out.csv");
    let run = export_input(&input, &out, &[]);
    bad_input(&run, "x.csv at line 1: record longer than 1048576 bytes");
    assert!(stderr(&run).len() < 300, "{}", stderr(&run));
    assert!(started.elapsed() < Duration::from_secs(30));
    let small = export_input(&input, &out, &["--max-record-bytes", "100"]);
    bad_input(&small, "record longer than 100 bytes");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "only the link: {names:?}");
}

#[test]
fn a_missing_input_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["absent.csv", "absent.arrow"] {
        let input = dir.path().join(name);
        let run = export_input(&input, &dir.path().join("out.csv"), &[]);
        bad_input(
            &run,
            &format!("invalid input {}: no such file", input.display()),
        );
    }
}

#[test]
fn an_export_removes_its_stale_partials_beside_out() {
    let dir = tempfile::tempdir().unwrap();
    let stale = dir.path().join(".trips.csv.Ab12Cd.partial");
    let fresh = dir.path().join(".trips.csv.Ef34Gh.partial");
    for path in [&stale, &fresh] {
        std::fs::write(path, "personal data").unwrap();
    }
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(25 * 3600))
        .unwrap();
    let out = dir.path().join("trips.csv");
    ok(&export("csv", "10").arg("--out").arg(&out).output().unwrap());
    assert!(!stale.exists(), "older than a day: removed");
    assert!(fresh.exists(), "maybe another export still writing: kept");
    assert!(out.exists());
}

/// Runs `cmd` with standard output a pipe whose reader is already gone, as `| head` leaves it.
fn with_closed_stdout(cmd: &mut Command) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    cmd.stdout(writer).stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    // Drop the parent's copies of the pipe before waiting.
    cmd.stdout(Stdio::null());
    child.wait_with_output().unwrap()
}

fn quiet_exit(out: &Output, what: &str) {
    let err = stderr(out);
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert_eq!(err, "", "{what}: nothing said");
    assert_eq!(out.status.code(), Some(0), "{what}: {err}");
}

fn jobs(db: &Path, args: &[&str]) -> Command {
    let mut cmd = cli();
    cmd.current_dir(db.parent().unwrap())
        .args(["jobs", "--as", "alice", "--db"])
        .arg(db)
        .args(args);
    cmd
}

#[test]
fn a_closed_standard_output_ends_quietly_with_status_0() {
    quiet_exit(
        &with_closed_stdout(cli().args(["schema", "--audience", "operator", "--markdown"])),
        "schema --markdown",
    );
    quiet_exit(
        &with_closed_stdout(export("csv", "2000").args(["--out", "-"])),
        "export --out -",
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("jobs.db");
    let create = jobs(
        &db,
        &["create", "--audience", "opendata", "--format", "csv"],
    )
    .output()
    .unwrap();
    let id = String::from_utf8(ok(&create)).unwrap().trim().to_string();
    quiet_exit(&with_closed_stdout(&mut jobs(&db, &["list"])), "jobs list");
    quiet_exit(
        &with_closed_stdout(&mut jobs(&db, &["show", &id])),
        "jobs show",
    );
}

#[test]
fn a_pipe_closed_after_one_line_ends_the_export_quietly() {
    let mut child = export("csv", "200000")
        .args(["--out", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    lines.read_line(&mut first).unwrap();
    assert!(first.starts_with("\"journey_id\""), "{first}");
    drop(lines);
    let out = child.wait_with_output().unwrap();
    quiet_exit(&out, "export --out - | head -1");
}

#[test]
fn read_only_commands_refuse_a_missing_database_and_create_none() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("typo.db");
    let needle = format!("database `{}` not found", db.display());
    let id = "00000000-0000-4000-8000-000000000000";
    for args in [
        vec!["jobs", "--as", "alice", "list"],
        vec!["jobs", "--as", "alice", "show", id],
        vec!["purge", "--dry-run"],
        vec!["purge"],
        vec!["schedules", "list"],
        vec!["schedules", "show", "nightly"],
        vec!["platforms", "list"],
    ] {
        let run = cli()
            .current_dir(dir.path())
            .args(&args)
            .arg("--db")
            .arg(&db)
            .output()
            .unwrap();
        bad_input(&run, &needle);
        assert!(!db.exists(), "{args:?} created {}", db.display());
    }
    // Creating a job may start the database.
    let create = jobs(
        &db,
        &["create", "--audience", "opendata", "--format", "csv"],
    )
    .output()
    .unwrap();
    ok(&create);
    assert!(db.exists());
    ok(&jobs(&db, &["list"]).output().unwrap());
}
