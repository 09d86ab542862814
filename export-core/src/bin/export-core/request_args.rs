//! The request flags shared by `export` and `jobs create`, and the request they build.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use clap::Args;
use export_core::request::{Compression, ExportRequest, Format, Period};
use export_core::schema::FieldSelection;
use export_core::{ExportError, Result};

/// How a command chooses the period of a request whose flags give none.
pub type DefaultPeriod = fn(DateTime<Utc>, Tz) -> Period;

#[derive(Args, Clone)]
pub struct RequestArgs {
    /// The dataset (schema) exported: `trip`, or a dataset of the configuration
    /// (`export-core datasets list`).
    #[arg(
        long,
        visible_alias = "dataset",
        value_name = "NAME",
        default_value = "trip"
    )]
    pub schema: String,
    /// Trip schema version: v2 (CSV) or v3 (XLSX) (default v3).
    #[arg(long)]
    pub version: Option<String>,
    /// Audience: opendata, operator or territory (required for trips).
    #[arg(long)]
    pub audience: Option<String>,
    /// Output format: csv, xlsx, json or jsonl (required).
    #[arg(long)]
    pub format: Option<String>,
    /// Period start (YYYY-MM-DD or RFC 3339); default: the previous calendar month (for
    /// `jobs create`, the last one that ended at least 5 days ago).
    #[arg(long, requires = "end")]
    pub start: Option<String>,
    /// Period end, excluded.
    #[arg(long, requires = "start")]
    pub end: Option<String>,
    /// Time zone of the period and of local times in the file.
    #[arg(long, default_value = "Europe/Paris")]
    pub tz: String,
    /// Keep only these fields (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub fields: Vec<String>,
    /// Drop these fields (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// Start CSV files with a UTF-8 byte-order mark.
    #[arg(long)]
    pub bom: bool,
    /// Data rows per XLSX sheet before continuing on a new sheet.
    #[arg(long)]
    pub sheet_rows: Option<u32>,
    /// Write JSON Lines (with --format json).
    #[arg(long)]
    pub json_lines: bool,
    /// Pretty-print JSON.
    #[arg(long)]
    pub pretty: bool,
    /// Wrap the file: none, gzip or zip.
    #[arg(long, default_value = "none")]
    pub compression: String,
    /// Do not neutralise formula-like cells.
    #[arg(long)]
    pub no_formula_guard: bool,
}

impl RequestArgs {
    /// True when the request is for the built-in trip schema.
    pub fn is_trip(&self) -> bool {
        self.schema == "trip"
    }

    /// The request these flags describe. Its period is the given one, else `default_period`
    /// of now in the `--tz` zone (`None` leaves it to whoever runs the request).
    pub fn to_request(&self, default_period: Option<DefaultPeriod>) -> Result<ExportRequest> {
        // Checked here rather than by clap, so that `jobs create --request-json` can do without.
        let required = |value: &Option<String>, flag: &str, field: &str| {
            value
                .clone()
                .ok_or_else(|| ExportError::request(field, format!("missing; give --{flag}")))
        };
        let mut format: Format = required(&self.format, "format", "format")?.parse()?;
        if self.json_lines && format == Format::Json {
            format = Format::JsonLines;
        }
        let mut request = ExportRequest::new(self.schema.clone(), format);
        if self.is_trip() {
            request.version = Some(self.version.as_deref().unwrap_or("v3").parse()?);
            request.audience = Some(required(&self.audience, "audience", "audience")?.parse()?);
        } else {
            // Other datasets have neither; given anyway, the schema refuses them by name.
            request.version = self.version.as_deref().map(str::parse).transpose()?;
            request.audience = self.audience.as_deref().map(str::parse).transpose()?;
        }
        let tz = export_core::temporal::parse_time_zone(&self.tz)?;
        request.period = match (&self.start, &self.end) {
            (Some(start), Some(end)) => Some(Period::parse(start, end, Some(&self.tz))?),
            _ => default_period.map(|default| default(chrono::Utc::now(), tz)),
        };
        request.fields = FieldSelection {
            include: self.fields.clone(),
            exclude: self.exclude.clone(),
            ..Default::default()
        };
        request.options.bom = self.bom;
        request.options.sheet_rows = self.sheet_rows;
        request.options.pretty = self.pretty;
        request.options.formula_guard = !self.no_formula_guard;
        request.options.compression = self.compression.parse::<Compression>()?;
        Ok(request)
    }
}
