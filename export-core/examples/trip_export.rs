//! A V3 XLSX trip export for an audience, from sample trips, with a progress line.
//!
//! Run: `cargo run --release -p export-core --example trip_export -- operator 100000 trips.xlsx`

use std::sync::Arc;

use export_core::export::Exporter;
use export_core::request::{Audience, ExportRequest, Format, Period, SchemaVersion};
use export_core::source::{SampleConfig, SampleTrips};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let audience: Audience = args.next().unwrap_or_else(|| "operator".into()).parse()?;
    let rows: u64 = args.next().unwrap_or_else(|| "100000".into()).parse()?;
    let out = args.next().unwrap_or_else(|| "trips.xlsx".into());

    let mut request = ExportRequest::new("trip", Format::Xlsx);
    request.version = Some(SchemaVersion::V3);
    request.audience = Some(audience);
    let period = Period::parse("2026-10-01", "2026-11-01", Some("Europe/Paris"))?;
    request.period = Some(period);
    let exporter = Exporter::builder(request)
        .now("2026-11-23T00:00:00Z".parse()?)
        .progress(Arc::new(|p| {
            if p.rows_read % 100_000 < 8_192 {
                eprintln!(
                    "{} rows read, {:.0}%",
                    p.rows_read,
                    p.percent().unwrap_or(0.0)
                );
            }
        }))
        .build()?;
    let config = SampleConfig {
        rows,
        seed: 42,
        start: period.start,
        end: period.end,
        ..Default::default()
    };
    let report = exporter.run_to_path(&mut SampleTrips::new(config)?, &out)?;
    println!(
        "{out}: {} rows ({}), {} bytes",
        report.rows_written, report.file_name, report.bytes
    );
    Ok(())
}
