//! The CLI's diagnostics: the library's `tracing` events on standard error, nothing by default
//! (warnings and errors only), `-v` for `info` with the job and worker ids of the spans,
//! `RUST_LOG` overriding the flag.

use std::path::Path;
use std::process::{Command, Output};

fn cli(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_export-core"));
    cmd.current_dir(dir)
        .env_remove("RUST_LOG")
        .args(args)
        .arg("--db")
        .arg(dir.join("jobs.db"))
        .arg("--storage")
        .arg(dir.join("exports"));
    cmd
}

fn run(cmd: &mut Command) -> (String, String) {
    let out: Output = cmd.output().expect("the binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "stderr: {stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
}

/// Creates a pending job as alice of operator 7 and returns its id.
fn create_job(dir: &Path) -> String {
    let args = [
        "jobs",
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
        "csv",
    ];
    let (stdout, stderr) = run(&mut cli(dir, &args));
    assert_eq!(stderr, "", "no diagnostics by default");
    stdout.trim().to_string()
}

fn worker_once(dir: &Path, flags: &[&str]) -> Command {
    let mut args = flags.to_vec();
    args.extend(["worker", "--once", "--id", "w-cli", "--sample-rows", "500"]);
    cli(dir, &args)
}

#[test]
fn dash_v_shows_the_worker_run_with_its_job_and_worker_ids() {
    let dir = tempfile::tempdir().unwrap();
    let id = create_job(dir.path());
    let (stdout, stderr) = run(&mut worker_once(dir.path(), &["-v"]));
    assert!(
        stdout.starts_with(&format!("job {id}: succeeded")),
        "the normal output is unchanged: {stdout}"
    );
    for message in ["job claimed", "job completed"] {
        let line = stderr
            .lines()
            .find(|l| l.contains(message))
            .unwrap_or_else(|| panic!("no `{message}` line in:\n{stderr}"));
        assert!(line.contains(&format!("job_id={id}")), "{line}");
        assert!(line.contains("worker_id=w-cli"), "{line}");
        assert!(line.contains(" INFO "), "{line}");
    }
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("job completed") && l.contains("rows=")),
        "{stderr}"
    );
    // -v is info only: no debug line.
    assert!(!stderr.contains("DEBUG"), "{stderr}");
}

#[test]
fn without_flags_standard_error_stays_empty() {
    let dir = tempfile::tempdir().unwrap();
    let id = create_job(dir.path());
    let (stdout, stderr) = run(&mut worker_once(dir.path(), &[]));
    assert!(
        stdout.starts_with(&format!("job {id}: succeeded")),
        "{stdout}"
    );
    assert_eq!(stderr, "");
}

#[test]
fn the_flag_is_global_and_rust_log_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // After the subcommand, -vv: debug events appear too.
    create_job(d);
    let mut args = vec!["worker", "-vv"];
    args.extend(["--once", "--id", "w-cli", "--sample-rows", "500"]);
    let (_, stderr) = run(&mut cli(d, &args));
    assert!(stderr.contains("job claimed"), "{stderr}");

    // RUST_LOG wins over -vv.
    create_job(d);
    let (stdout, stderr) = run(worker_once(d, &["-vv"]).env("RUST_LOG", "off"));
    assert!(stdout.contains("succeeded"), "{stdout}");
    assert_eq!(stderr, "");

    // And turns events on without the flag.
    let id = create_job(d);
    let (_, stderr) = run(worker_once(d, &[]).env("RUST_LOG", "export_core::worker=info"));
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("job completed") && l.contains(&format!("job_id={id}"))),
        "{stderr}"
    );

    // An invalid one is reported once, and the flag's level is used.
    create_job(d);
    let (_, stderr) = run(worker_once(d, &["-v"]).env("RUST_LOG", "export_core=loudest"));
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("warning: ignoring RUST_LOG `export_core=loudest`"),
        "{stderr}"
    );
    assert!(stderr.contains("job claimed"), "{stderr}");
}
