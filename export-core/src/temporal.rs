//! Time helpers shared by the sinks, filters and schedules.
//!
//! Instants are stored in UTC; a request's time zone (default [`DEFAULT_TIME_ZONE`]) decides the
//! local dates and times written to files. Excel has no time zones, so XLSX cells hold local
//! times as Excel serial numbers.

use arrow_schema::TimeUnit;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::error::{ExportError, Result};

/// The time zone used when a request names none.
pub const DEFAULT_TIME_ZONE: Tz = chrono_tz::Europe::Paris;

/// Parses an IANA time-zone name (`Europe/Paris`, `UTC`).
///
/// # Errors
///
/// [`ExportError::InvalidRequest`] on field `time_zone` when the name is unknown.
///
/// # Examples
///
/// ```
/// let tz = export_core::temporal::parse_time_zone("Europe/Paris").unwrap();
/// assert_eq!(tz.name(), "Europe/Paris");
/// assert!(export_core::temporal::parse_time_zone("Mars/Olympus").is_err());
/// ```
pub fn parse_time_zone(name: &str) -> Result<Tz> {
    name.parse::<Tz>().map_err(|_| {
        ExportError::request(
            "time_zone",
            format!("unknown time zone `{name}` (use an IANA name such as Europe/Paris)"),
        )
    })
}

/// Converts an Arrow timestamp value in `unit` to a UTC instant; `None` when out of range.
pub fn timestamp_to_utc(value: i64, unit: TimeUnit) -> Option<DateTime<Utc>> {
    match unit {
        TimeUnit::Second => DateTime::from_timestamp(value, 0),
        TimeUnit::Millisecond => DateTime::from_timestamp_millis(value),
        TimeUnit::Microsecond => DateTime::from_timestamp_micros(value),
        TimeUnit::Nanosecond => Some(DateTime::from_timestamp_nanos(value)),
    }
}

/// The zone an Arrow `Timestamp` column's values are shown in: its own zone when it has one,
/// else UTC (a timestamp without zone is taken as UTC, as Arrow's spec suggests for instants).
///
/// # Errors
///
/// [`ExportError::InvalidRequest`] when the column's zone is neither an IANA name nor `UTC`/`+00:00`.
pub fn column_time_zone(tz: Option<&str>) -> Result<Tz> {
    match tz {
        None => Ok(chrono_tz::UTC),
        Some("+00:00") | Some("Z") => Ok(chrono_tz::UTC),
        Some(name) => parse_time_zone(name),
    }
}

/// Local date-time of a UTC instant in `tz`.
pub fn to_local(instant: DateTime<Utc>, tz: Tz) -> DateTime<Tz> {
    tz.from_utc_datetime(&instant.naive_utc())
}

/// Days from 1970-01-01 of an Arrow `Date32` value to a calendar date.
pub fn date32_to_naive(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(chrono::Duration::days(days as i64))
}

/// A time of day from a count of `unit`s since midnight.
pub fn time_to_naive(value: i64, unit: TimeUnit) -> Option<NaiveTime> {
    let nanos: i128 = match unit {
        TimeUnit::Second => value as i128 * 1_000_000_000,
        TimeUnit::Millisecond => value as i128 * 1_000_000,
        TimeUnit::Microsecond => value as i128 * 1_000,
        TimeUnit::Nanosecond => value as i128,
    };
    if !(0..86_400 * 1_000_000_000i128).contains(&nanos) {
        return None;
    }
    let secs = (nanos / 1_000_000_000) as u32;
    NaiveTime::from_num_seconds_from_midnight_opt(secs, (nanos % 1_000_000_000) as u32)
}

/// The Excel serial number (days since 1899-12-30, fraction for the time) of a local date-time,
/// as Excel shows it with a date number format.
///
/// # Examples
///
/// ```
/// use chrono::NaiveDate;
/// let dt = NaiveDate::from_ymd_opt(2026, 10, 3).unwrap().and_hms_opt(12, 0, 0).unwrap();
/// assert_eq!(export_core::temporal::excel_serial(dt), 46298.5);
/// ```
pub fn excel_serial(local: NaiveDateTime) -> f64 {
    let epoch = NaiveDate::from_ymd_opt(1899, 12, 30)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("1899-12-30 is a valid date");
    let delta = local - epoch;
    let secs = delta.num_seconds() as f64;
    let sub = delta.subsec_nanos() as f64 / 1e9;
    (secs + sub) / 86_400.0
}

/// A local date-time in `tz` as an instant; in a DST gap, the first valid instant after it; in
/// an overlap, the earlier one.
pub(crate) fn resolve_local(naive: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
        chrono::LocalResult::None => {
            // Skip forward minute by minute through the gap (gaps last at most a few hours).
            let mut probe = naive;
            for _ in 0..(24 * 60) {
                probe += chrono::Duration::minutes(1);
                if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                    return t.with_timezone(&Utc);
                }
            }
            Utc.from_utc_datetime(&naive)
        }
    }
}
