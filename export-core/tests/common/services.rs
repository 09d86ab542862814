//! The one gate of every test that needs a service: PostgreSQL (`EXPORT_CORE_PG_URL`) or an
//! S3-compatible server (`EXPORT_CORE_S3_ENDPOINT`).
//!
//! Without the variable a test skips (prints SKIPPED and passes), which is right on a laptop
//! and wrong under `scripts/test`: there `EXPORT_CORE_REQUIRE_SERVICES=1` turns a missing
//! variable into a panic, so a service that did not start fails the run instead of passing it
//! silently. With `EXPORT_CORE_SERVICE_LOG` naming a file, each test that found its service
//! appends `SERVICE<TAB>TEST` to it, and `scripts/test` counts them.

#![allow(dead_code)]

use std::io::Write;

/// A service some tests need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// PostgreSQL, at `EXPORT_CORE_PG_URL`.
    Postgres,
    /// An S3-compatible server, at `EXPORT_CORE_S3_ENDPOINT`.
    S3,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Postgres => "postgres",
            Service::S3 => "s3",
        }
    }

    fn variable(self) -> &'static str {
        match self {
            Service::Postgres => "EXPORT_CORE_PG_URL",
            Service::S3 => "EXPORT_CORE_S3_ENDPOINT",
        }
    }
}

/// True when the environment says services are required (`EXPORT_CORE_REQUIRE_SERVICES=1`).
pub fn required() -> bool {
    std::env::var("EXPORT_CORE_REQUIRE_SERVICES").is_ok_and(|v| v.trim() == "1")
}

/// The address of `service` for the running test, or `None` after a SKIPPED line.
///
/// # Panics
///
/// When the variable is unset or empty and [`required`] is true.
pub fn url(service: Service) -> Option<String> {
    let test = std::thread::current()
        .name()
        .unwrap_or("unnamed test")
        .to_owned();
    match std::env::var(service.variable()) {
        Ok(url) if !url.trim().is_empty() => {
            record(service, &test);
            Some(url.trim().to_owned())
        }
        _ if required() => panic!(
            "test `{test}` needs {}: {} is unset, and EXPORT_CORE_REQUIRE_SERVICES=1 forbids skipping",
            service.name(),
            service.variable()
        ),
        _ => {
            eprintln!(
                "SKIPPED test `{test}`: {} is unset (set it, or see scripts/test)",
                service.variable()
            );
            None
        }
    }
}

/// The PostgreSQL URL, as [`url`].
pub fn pg_url() -> Option<String> {
    url(Service::Postgres)
}

/// The S3 endpoint without a trailing `/`, as [`url`].
pub fn s3_endpoint() -> Option<String> {
    url(Service::S3).map(|e| e.trim_end_matches('/').to_owned())
}

/// Appends `SERVICE<TAB>TEST` to `EXPORT_CORE_SERVICE_LOG` when it is set. One short
/// `O_APPEND` write per line, so tests running at once in several processes do not mix lines.
fn record(service: Service, test: &str) {
    let Ok(path) = std::env::var("EXPORT_CORE_SERVICE_LOG") else {
        return;
    };
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    // Test binaries are named `NAME-HASH`.
    let binary = binary.rsplit_once('-').map_or(binary.as_str(), |(n, _)| n);
    let line = format!("{}\t{binary}::{test}\n", service.name());
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open EXPORT_CORE_SERVICE_LOG {path}: {e}"));
    file.write_all(line.as_bytes())
        .unwrap_or_else(|e| panic!("cannot write EXPORT_CORE_SERVICE_LOG {path}: {e}"));
}
