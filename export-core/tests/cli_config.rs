//! The CLI on an engine configuration: `--config FILE`, then `EXPORT_CORE__*` variables, then
//! flags. A typo in a file key or a variable name is an error naming it, never a silent default.

use std::path::Path;
use std::process::{Command, Output};

fn cli(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_export-core"));
    command.current_dir(dir).args(args);
    // Only this test's variables.
    for (name, _) in std::env::vars() {
        if name.starts_with("EXPORT_CORE_") {
            command.env_remove(name);
        }
    }
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("the binary runs")
}

const CREATE: &[&str] = &[
    "--as",
    "ada",
    "--org",
    "op-1",
    "--operator",
    "1",
    "create",
    "--audience",
    "operator",
    "--format",
    "csv",
];

fn args<'a>(head: &[&'a str], tail: &[&'a str]) -> Vec<&'a str> {
    head.iter().chain(tail).copied().collect()
}

#[test]
fn a_config_file_names_the_stores_and_flags_override_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("engine.toml"),
        "[job_store]\nurl = \"sqlite://from-file.db\"\n[storage]\nurl = \"file://./files\"\n",
    )
    .unwrap();
    let out = cli(d, &args(&["jobs", "--config", "engine.toml"], CREATE), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(d.join("from-file.db").is_file(), "the file's database");
    assert!(!d.join("export-core.db").exists(), "not the default one");

    // A variable overrides the file, a flag overrides both.
    let env = [("EXPORT_CORE__JOB_STORE__URL", "sqlite://from-env.db")];
    let out = cli(d, &args(&["jobs", "--config", "engine.toml"], CREATE), &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(d.join("from-env.db").is_file());
    let out = cli(
        d,
        &args(
            &["jobs", "--config", "engine.toml", "--db", "from-flag.db"],
            CREATE,
        ),
        &env,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(d.join("from-flag.db").is_file());

    // The job created through the file's database is listed through it, and by no other.
    let list = cli(
        d,
        &[
            "jobs",
            "--config",
            "engine.toml",
            "--as",
            "ada",
            "--org",
            "op-1",
            "list",
        ],
        &[],
    );
    let text = String::from_utf8_lossy(&list.stdout);
    assert_eq!(text.matches("pending").count(), 1, "{text}");
}

#[test]
fn typos_in_the_file_or_a_variable_are_named_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("bad.toml"),
        "[job_store]\nurll = \"sqlite://x.db\"\n",
    )
    .unwrap();
    let out = cli(d, &args(&["jobs", "--config", "bad.toml"], CREATE), &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown field `urll`") && err.contains("bad.toml"),
        "{err}"
    );
    assert!(!d.join("x.db").exists() && !d.join("export-core.db").exists());

    let env = [("EXPORT_CORE__JOB_STOR__URL", "sqlite://y.db")];
    let out = cli(d, &args(&["jobs"], CREATE), &env);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("EXPORT_CORE__JOB_STOR__URL"), "{err}");
    assert!(
        !d.join("export-core.db").exists(),
        "nothing created on a bad configuration"
    );
}
