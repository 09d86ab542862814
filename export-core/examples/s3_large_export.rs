//! A large export streamed straight into S3-compatible storage, with the peak memory it took.
//!
//! Every format streams into a multipart upload (parts of 8 MiB, at most 3 in flight), so memory
//! stays flat whatever the file size. Run against the loopback server `scripts/s3-server.sh`
//! starts (issue figure: a ~2 GB file):
//!
//! ```sh
//! eval "$(scripts/s3-server.sh start)"
//! cargo run --release -p export-core --features s3 --example s3_large_export -- 3000000
//! ```

use std::sync::Arc;
use std::time::Instant;

use export_core::export::Exporter;
use export_core::request::{Audience, ExportRequest, Format, Period, SchemaVersion};
use export_core::runtime::IoRuntime;
use export_core::source::{SampleConfig, SampleTrips};
use export_core::storage::{S3Options, S3Storage, Storage, StorageKey};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: u64 = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "3000000".into())
        .parse()?;
    let endpoint = std::env::var("EXPORT_CORE_S3_ENDPOINT")
        .map_err(|_| "set EXPORT_CORE_S3_ENDPOINT (eval \"$(scripts/s3-server.sh start)\")")?;
    let bucket = format!("large-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    ureq::put(&format!("{endpoint}/{bucket}")).send_empty()?;

    let mut options = S3Options::new(bucket);
    options.endpoint = Some(endpoint);
    options.allow_http = true;
    options.region = Some("us-east-1".into());
    options.access_key_id =
        Some(std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "testing".into()));
    options.secret_access_key =
        Some(std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "testing".into()));
    // The storage's requests (parts in flight included) run on this runtime's two I/O threads;
    // the export itself formats on the calling thread. `S3Storage::new` would use
    // `IoRuntime::shared()` instead.
    let io = IoRuntime::new(2)?;
    let storage: Arc<dyn Storage> = Arc::new(S3Storage::with_runtime(options, &io)?);

    // V2 operator: the widest trip file (79 quoted columns, ~700 bytes a row).
    let mut request = ExportRequest::new("trip", Format::Csv);
    request.version = Some(SchemaVersion::V2);
    request.audience = Some(Audience::Operator);
    let period = Period::parse("2026-10-01", "2026-11-01", Some("Europe/Paris"))?;
    request.period = Some(period);
    let exporter = Exporter::builder(request)
        .now("2026-11-23T00:00:00Z".parse()?)
        .build()?;
    let config = SampleConfig {
        rows,
        seed: 3,
        start: period.start,
        end: period.end,
        ..Default::default()
    };

    let key = StorageKey::parse(&format!("exports/large/{}", exporter.file_name()))?;
    let started = Instant::now();
    let upload = storage.create(&key, exporter.content_type())?;
    let (report, upload) = exporter.run(&mut SampleTrips::new(config)?, upload)?;
    let stored = upload.commit()?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{} rows, {:.2} GB to s3 in {:.1}s ({:.0} MB/s); sha256 {}; peak RSS {} MB",
        report.rows_written,
        stored.size as f64 / 1e9,
        secs,
        stored.size as f64 / 1e6 / secs,
        &stored.sha256[..16],
        peak_rss_mb()
    );
    Ok(())
}

/// Peak resident set size of this process (`VmHWM`), in MB.
fn peak_rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<u64>().ok())
            })
        })
        .map(|kb| kb / 1024)
        .unwrap_or(0)
}
