//! What an export asks for: schema, version, audience, format, period, filters, fields, options.
//!
//! An [`ExportRequest`] is plain data (serde), so it can be stored on a job, sent from Python or
//! Node as JSON, and kept in a preset. [`ExportRequest::validate_basic`] and the pipeline's builder check it before any job exists.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Months, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::error::{ExportError, Result};
use crate::filter::Filters;
use crate::schema::FieldSelection;
pub(crate) use crate::temporal::resolve_local;
use crate::temporal::{DEFAULT_TIME_ZONE, parse_time_zone};

macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident, $field:literal, { $($(#[$vm:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The lower-case name used in requests, file names and the CLI.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
        impl FromStr for $name {
            type Err = ExportError;
            fn from_str(s: &str) -> Result<Self> {
                let lower = s.to_ascii_lowercase();
                $(if lower == $text { return Ok($name::$variant); })+
                let valid: Vec<&str> = vec![$($text),+];
                Err(ExportError::request($field, format!("unknown {} `{s}`; expected one of: {}", $field, valid.join(", "))))
            }
        }
    };
}

named_enum!(
    /// The file format of an export.
    Format, "format", {
        /// Comma (or other delimiter) separated values.
        Csv => "csv",
        /// Excel workbook (Office Open XML).
        Xlsx => "xlsx",
        /// One JSON array of objects.
        Json => "json",
        /// JSON Lines: one object per line (`jsonlines` in JSON, `jsonl` also accepted).
        #[serde(alias = "jsonl")]
        JsonLines => "jsonl",
    }
);

impl Format {
    /// The file extension (without compression suffix).
    pub fn extension(self) -> &'static str {
        self.as_str()
    }
    /// The MIME type of an uncompressed file of this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Json => "application/json",
            Format::JsonLines => "application/x-ndjson",
        }
    }
}

named_enum!(
    /// Who a trip export is for; decides columns and privacy rules.
    Audience, "audience", {
        /// Everyone: privacy rules apply, no identifiers.
        Opendata => "opendata",
        /// A carpool operator, for its own trips.
        Operator => "operator",
        /// A territory (local authority), for trips touching it.
        Territory => "territory",
    }
);

impl Audience {
    /// True when the export holds personal data (kept 7 days, audited at `medium` risk).
    pub fn is_personal(self) -> bool {
        !matches!(self, Audience::Opendata)
    }
}

named_enum!(
    /// The version of the trip schema.
    SchemaVersion, "version", {
        /// V2: semicolon CSV.
        V2 => "v2",
        /// V3: XLSX workbook with a data dictionary.
        V3 => "v3",
    }
);

named_enum!(
    /// Compression wrapped around the output file.
    Compression, "compression", {
        /// Plain file.
        None => "none",
        /// gzip stream (`.gz`).
        Gzip => "gzip",
        /// A zip archive holding the one file (`.zip`), as the registry ships CSV.
        Zip => "zip",
    }
);

#[allow(clippy::derivable_impls)] // the enum comes from a macro that cannot take `#[default]`
impl Default for Compression {
    fn default() -> Self {
        Compression::None
    }
}

/// A half-open period `[start, end)` of instants, with the zone that decides local dates.
///
/// # Examples
///
/// ```
/// use export_core::request::Period;
/// let p = Period::parse("2026-10-01", "2026-11-01", Some("Europe/Paris")).unwrap();
/// assert_eq!(p.start.to_rfc3339(), "2026-09-30T22:00:00+00:00");
/// assert_eq!(p.end.to_rfc3339(), "2026-10-31T23:00:00+00:00");
///
/// let err = Period::parse("2026-11-01", "2026-10-01", None).unwrap_err();
/// assert_eq!(err.code(), "INVALID_PERIOD");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "PeriodText")]
pub struct Period {
    /// First instant included.
    pub start: DateTime<Utc>,
    /// First instant excluded.
    pub end: DateTime<Utc>,
    /// Zone of local dates (IANA name in JSON).
    #[serde(serialize_with = "tz_name")]
    pub time_zone: Tz,
}

/// A period as JSON gives it: each bound a date (`2026-10-01`, midnight in the zone), a local
/// date-time or an RFC 3339 instant, as [`Period::parse`] reads them; checked (end after
/// start) like every other period.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PeriodText {
    start: String,
    end: String,
    #[serde(default)]
    time_zone: Option<String>,
}

impl TryFrom<PeriodText> for Period {
    type Error = ExportError;

    fn try_from(text: PeriodText) -> Result<Period> {
        Period::parse(&text.start, &text.end, text.time_zone.as_deref())
    }
}

fn tz_name<S: serde::Serializer>(tz: &Tz, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

/// Limits a schema puts on periods. `None` disables a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodLimits {
    /// Longest period allowed.
    pub max_length: Option<chrono::Duration>,
    /// How far back the start may be (from now).
    pub max_age: Option<chrono::Duration>,
    /// How recent the end may be: it must be at least this long before now.
    pub min_end_age: Option<chrono::Duration>,
}

impl PeriodLimits {
    /// No limit at all.
    pub const NONE: PeriodLimits = PeriodLimits {
        max_length: None,
        max_age: None,
        min_end_age: None,
    };
}

impl Period {
    /// A period from two instants.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidPeriod`] when `end` is not after `start`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>, time_zone: Tz) -> Result<Period> {
        if end <= start {
            return Err(ExportError::InvalidPeriod(format!(
                "end {} is not after start {}",
                end.to_rfc3339(),
                start.to_rfc3339()
            )));
        }
        Ok(Period {
            start,
            end,
            time_zone,
        })
    }

    /// Parses start and end, each a date (`2026-10-01`, midnight in the zone), a local date-time
    /// (`2026-10-01T08:00:00`) or an RFC 3339 instant; the zone defaults to `Europe/Paris`.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidPeriod`] naming the unparsable value or an end not after start;
    /// [`ExportError::InvalidRequest`] for an unknown zone.
    pub fn parse(start: &str, end: &str, time_zone: Option<&str>) -> Result<Period> {
        let tz = match time_zone {
            Some(name) => parse_time_zone(name)?,
            None => DEFAULT_TIME_ZONE,
        };
        Period::new(
            parse_instant("start", start, tz)?,
            parse_instant("end", end, tz)?,
            tz,
        )
    }

    /// The calendar month before the one holding `now`, in `tz` (the default period).
    pub fn previous_month(now: DateTime<Utc>, tz: Tz) -> Period {
        let local = now.with_timezone(&tz).date_naive();
        let this_month =
            NaiveDate::from_ymd_opt(local.year(), local.month(), 1).expect("day 1 exists");
        let prev = this_month - Months::new(1);
        Period {
            start: local_midnight(prev, tz),
            end: local_midnight(this_month, tz),
            time_zone: tz,
        }
    }

    /// Checks the period against a schema's limits at time `now`.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidPeriod`] saying which limit was passed and by what.
    pub fn check(&self, limits: &PeriodLimits, now: DateTime<Utc>) -> Result<()> {
        if let Some(max) = limits.max_length
            && self.end - self.start > max
        {
            return Err(ExportError::InvalidPeriod(format!(
                "period of {} days is longer than the {} days allowed",
                (self.end - self.start).num_days(),
                max.num_days()
            )));
        }
        if let Some(age) = limits.max_age
            && self.start < now - age
        {
            return Err(ExportError::InvalidPeriod(format!(
                "start {} is more than {} days back",
                self.start.to_rfc3339(),
                age.num_days()
            )));
        }
        if let Some(age) = limits.min_end_age
            && self.end > now - age
        {
            return Err(ExportError::InvalidPeriod(format!(
                "end {} is later than {} days ago",
                self.end.to_rfc3339(),
                age.num_days()
            )));
        }
        Ok(())
    }

    /// True when `instant` lies in `[start, end)`.
    pub fn contains(&self, instant: DateTime<Utc>) -> bool {
        self.start <= instant && instant < self.end
    }
}

pub(crate) fn local_midnight(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let naive = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    resolve_local(naive, tz)
}

fn parse_instant(which: &str, text: &str, tz: Tz) -> Result<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(naive) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S") {
        return Ok(resolve_local(naive, tz));
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(local_midnight(date, tz));
    }
    Err(ExportError::InvalidPeriod(format!(
        "{which} `{text}` is not a date (YYYY-MM-DD), a local date-time (YYYY-MM-DDTHH:MM:SS) or an RFC 3339 instant"
    )))
}

/// Options of the output file, common to all formats (each sink uses the ones that apply).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputOptions {
    /// Write a UTF-8 byte-order mark first (CSV; Excel needs it to read UTF-8). Off by default.
    pub bom: bool,
    /// CSV field delimiter; the schema's default when `None` (`,`, or `;` for trip V2).
    pub delimiter: Option<char>,
    /// Write a header row (CSV). On by default.
    pub header: bool,
    /// Neutralise formula-like cells (`=`, `+`, `-`, `@`, tab, CR). On by default.
    pub formula_guard: bool,
    /// Compression wrapped around the file.
    pub compression: Compression,
    /// Pretty-print JSON.
    pub pretty: bool,
    /// Rows per XLSX sheet before continuing on a new one (at most 1,048,575 data rows).
    pub sheet_rows: Option<u32>,
    /// Text written for nulls in CSV (empty by default).
    pub null: String,
}

impl Default for OutputOptions {
    fn default() -> Self {
        OutputOptions {
            bom: false,
            delimiter: None,
            header: true,
            formula_guard: true,
            compression: Compression::None,
            pretty: false,
            sheet_rows: None,
            null: String::new(),
        }
    }
}

/// An export request: everything needed to produce one file.
///
/// # Examples
///
/// ```
/// use export_core::request::{Audience, ExportRequest, Format, SchemaVersion};
/// let json = r#"{"schema":"trip","version":"v3","audience":"opendata","format":"xlsx",
///                "period":{"start":"2026-10-01T00:00:00+02:00","end":"2026-11-01T00:00:00+01:00"}}"#;
/// let request: ExportRequest = serde_json::from_str(json).unwrap();
/// assert_eq!(request.audience, Some(Audience::Opendata));
/// assert_eq!(request.version, Some(SchemaVersion::V3));
/// assert_eq!(request.format, Format::Xlsx);
/// assert_eq!(request.period.unwrap().time_zone.name(), "Europe/Paris");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// Schema name: `trip`, or a user-registered one such as `products`.
    pub schema: String,
    /// Trip schema version.
    #[serde(default)]
    pub version: Option<SchemaVersion>,
    /// Trip audience.
    #[serde(default)]
    pub audience: Option<Audience>,
    /// Output format.
    pub format: Format,
    /// Period on the start instant; the previous calendar month when absent (trip schema).
    #[serde(default)]
    pub period: Option<Period>,
    /// Row filters.
    #[serde(default)]
    pub filters: Filters,
    /// Field selection and renames.
    #[serde(default)]
    pub fields: FieldSelection,
    /// File options.
    #[serde(default)]
    pub options: OutputOptions,
    /// People to notify (`Name <email>` or `email`), at most 24.
    #[serde(default)]
    pub recipients: Vec<String>,
}

/// Most recipients one request may name.
pub const MAX_RECIPIENTS: usize = 24;

impl ExportRequest {
    /// A request for `schema` in `format`, everything else default.
    pub fn new(schema: impl Into<String>, format: Format) -> ExportRequest {
        ExportRequest {
            schema: schema.into(),
            version: None,
            audience: None,
            format,
            period: None,
            filters: Filters::default(),
            fields: FieldSelection::default(),
            options: OutputOptions::default(),
            recipients: Vec::new(),
        }
    }

    /// Checks what can be checked without a schema: recipients and option ranges.
    /// Schema-dependent checks (fields, period limits, formats) are done by the pipeline's plan.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] naming the field.
    pub fn validate_basic(&self) -> Result<()> {
        if self.recipients.len() > MAX_RECIPIENTS {
            return Err(ExportError::request(
                "recipients",
                format!(
                    "{} recipients given, at most {MAX_RECIPIENTS} allowed",
                    self.recipients.len()
                ),
            ));
        }
        for r in &self.recipients {
            parse_recipient(r)?;
        }
        if let Some(rows) = self.options.sheet_rows
            && (rows == 0 || rows > crate::sink::XLSX_MAX_DATA_ROWS)
        {
            return Err(ExportError::request(
                "options.sheet_rows",
                format!("{rows} is outside 1..={}", crate::sink::XLSX_MAX_DATA_ROWS),
            ));
        }
        if let Some(d) = self.options.delimiter
            && (!d.is_ascii() || d == '"' || d == '\n' || d == '\r')
        {
            return Err(ExportError::request(
                "options.delimiter",
                format!("`{d}` cannot be a delimiter"),
            ));
        }
        self.filters.validate_basic()?;
        Ok(())
    }
}

/// Splits `Name <email>` or `email` into an optional name and the address.
///
/// # Errors
///
/// [`ExportError::InvalidRequest`] on field `recipients` quoting the bad entry.
///
/// # Examples
///
/// ```
/// use export_core::request::parse_recipient;
/// assert_eq!(parse_recipient("Ada <ada@example.org>").unwrap(), (Some("Ada".into()), "ada@example.org".into()));
/// assert_eq!(parse_recipient("ada@example.org").unwrap(), (None, "ada@example.org".into()));
/// assert!(parse_recipient("not an address").is_err());
/// ```
pub fn parse_recipient(text: &str) -> Result<(Option<String>, String)> {
    let bad = || {
        ExportError::request(
            "recipients",
            format!("`{text}` is not `Name <email>` or `email`"),
        )
    };
    let text = text.trim();
    let (name, addr) = match (text.find('<'), text.ends_with('>')) {
        (Some(i), true) => {
            let name = text[..i].trim();
            (
                if name.is_empty() {
                    None
                } else {
                    Some(name.to_string())
                },
                text[i + 1..text.len() - 1].trim(),
            )
        }
        (None, false) => (None, text),
        _ => return Err(bad()),
    };
    let ok = match addr.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !addr
                    .chars()
                    .any(|c| c.is_whitespace() || c == '<' || c == '>')
        }
        None => false,
    };
    if !ok {
        return Err(bad());
    }
    Ok((name, addr.to_string()))
}
