//! The trip schema (V2 CSV, V3 XLSX) per audience.
//!
//! Sources hand the engine trips in the canonical [`input_schema`]; V2 and V3 columns are
//! derived from it. See `shared/spec/trip-schema.md` for every column.
//!
//! - [`schema`] / [`schema_in_zone`]: the ordered output columns per version and audience;
//! - [`derive()`] (with a [`TripContext`]): input batch → batch of output columns, named by
//!   [`crate::schema::Column::name`];
//! - [`dictionary_batch`]: the V3 help sheet `Aide`;
//! - [`PERIOD_LIMITS`] and [`validate_period`]: the periods the registry accepts;
//! - [`TripRules`]: all of the above as the schema's [`SchemaRules`](crate::schema::rules::SchemaRules),
//!   which is how the engine applies them.
//!
//! A trip export runs, per batch: [`crate::filter::Filters::apply_trip`] on the input, then for
//! opendata [`crate::privacy::RareZoneFilter::apply`] (after a counting pass, see
//! [`crate::privacy`]), then [`derive()`], then [`crate::schema::ExportSchema::project`] of the
//! user's selection.

mod columns;
mod derive;
mod dictionary;
pub mod field;
mod filter;
mod rules;

pub use columns::{EURO_FORMAT, HELP_SHEET, V2_SHEET, V3_SHEET, schema, schema_in_zone};
pub use derive::{TripContext, conform_input, derive};
pub use dictionary::{DictionaryParams, dictionary_batch, dictionary_schema};
pub use rules::TripRules;

use std::sync::{Arc, OnceLock};

use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, TimeDelta, Utc};

use crate::error::{ExportError, Result};
use crate::request::{Period, PeriodLimits};

/// The name requests give the trip schema (`"schema": "trip"`).
pub const NAME: &str = "trip";

/// The periods the registry accepts for trip exports: start at most 3 years back (1,096 days),
/// end at least 5 days ago, at most 366 days long.
pub const PERIOD_LIMITS: PeriodLimits = PeriodLimits {
    max_length: Some(TimeDelta::days(366)),
    max_age: Some(TimeDelta::days(3 * 365 + 1)),
    min_end_age: Some(TimeDelta::days(5)),
};

/// Checks a trip export period at time `now` against [`PERIOD_LIMITS`] (and that it is not
/// empty, for periods built field by field).
///
/// # Errors
///
/// [`ExportError::InvalidPeriod`] saying which limit was passed.
///
/// # Examples
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use export_core::request::Period;
/// use export_core::schema::trip::validate_period;
///
/// let now = Utc.with_ymd_and_hms(2026, 11, 10, 0, 0, 0).unwrap();
/// let october = Period::parse("2026-10-01", "2026-11-01", None).unwrap();
/// assert!(validate_period(&october, now).is_ok());
/// let recent = Period::parse("2026-11-01", "2026-11-08", None).unwrap();
/// assert_eq!(validate_period(&recent, now).unwrap_err().code(), "INVALID_PERIOD");
/// ```
pub fn validate_period(period: &Period, now: DateTime<Utc>) -> Result<()> {
    check_not_empty(period)?;
    period.check(&PERIOD_LIMITS, now)
}

/// The limits every trip export is held to, whoever asks: [`PERIOD_LIMITS`] without the
/// 5-day consolidation rule (`min_end_age`).
///
/// The consolidation rule is a rule of the API: periods that *users* choose
/// ([`ExportService::create`](crate::service::ExportService::create), schedules with a fixed
/// period) must end at least 5 days ago, because operators may still send trips for recent
/// days. Periods computed by a schedule (the monthly opendata export fires on the 1st and
/// exports the previous month) and admin exports from the command line are held to these
/// limits only.
pub const RUN_LIMITS: PeriodLimits = PeriodLimits {
    min_end_age: None,
    ..PERIOD_LIMITS
};

/// Checks a trip export period at time `now` against [`RUN_LIMITS`] (and that it is not
/// empty): what the exporter checks before it reads a row.
///
/// # Errors
///
/// [`ExportError::InvalidPeriod`] saying which limit was passed.
///
/// # Examples
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use export_core::request::Period;
/// use export_core::schema::trip::{validate_period, validate_run_period};
///
/// // On 1 November at 05:00, October ended 5 hours ago: a run may export it, a user may not yet.
/// let now = Utc.with_ymd_and_hms(2026, 11, 1, 4, 0, 0).unwrap();
/// let october = Period::parse("2026-10-01", "2026-11-01", None).unwrap();
/// assert!(validate_run_period(&october, now).is_ok());
/// assert!(validate_period(&october, now).is_err());
/// ```
pub fn validate_run_period(period: &Period, now: DateTime<Utc>) -> Result<()> {
    check_not_empty(period)?;
    period.check(&RUN_LIMITS, now)
}

/// The period of a user's trip export that names none: the last calendar month, in `tz`, that
/// ended at least 5 days before `now` ([`PERIOD_LIMITS`]' `min_end_age`).
///
/// Usually the previous month; during the first 5 days of a month, the one before it, since
/// the previous month may still receive trips and [`validate_period`] would refuse it. The
/// result always passes [`validate_period`] at `now`.
///
/// # Examples
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use export_core::schema::trip::{default_period, validate_period};
/// use export_core::temporal::DEFAULT_TIME_ZONE;
///
/// let on = |d, h| Utc.with_ymd_and_hms(2026, 12, d, h, 0, 0).unwrap();
/// // On 3 December, November is too recent: October.
/// let p = default_period(on(3, 12), DEFAULT_TIME_ZONE);
/// assert_eq!(p.start.to_rfc3339(), "2026-09-30T22:00:00+00:00"); // 1 October, Paris
/// assert_eq!(p.end.to_rfc3339(), "2026-10-31T23:00:00+00:00");
/// assert!(validate_period(&p, on(3, 12)).is_ok());
/// // From 6 December (Paris), November.
/// let p = default_period(on(6, 12), DEFAULT_TIME_ZONE);
/// assert_eq!(p.end.to_rfc3339(), "2026-11-30T23:00:00+00:00");
/// assert!(validate_period(&p, on(6, 12)).is_ok());
/// ```
pub fn default_period(now: DateTime<Utc>, tz: chrono_tz::Tz) -> Period {
    Period::previous_month(now - PERIOD_LIMITS.min_end_age.unwrap_or_default(), tz)
}

fn check_not_empty(period: &Period) -> Result<()> {
    if period.end <= period.start {
        return Err(ExportError::InvalidPeriod(format!(
            "end {} is not after start {}",
            period.end.to_rfc3339(),
            period.start.to_rfc3339()
        )));
    }
    Ok(())
}

/// The struct of one operator-paid incentive: `siret`, `name`, `amount_cents`, `beneficiary`
/// (`passenger` or `driver`).
pub fn incentive_struct() -> Fields {
    Fields::from(vec![
        Field::new("siret", DataType::Utf8, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("amount_cents", DataType::Int64, true),
        Field::new("beneficiary", DataType::Utf8, true),
    ])
}

/// The struct of one registry (RPC) incentive: `campaign_id`, `campaign_name`, `siret`, `name`,
/// `amount_cents`, `beneficiary`, `status` (`validated` counts for `has_incentive`).
pub fn rpc_incentive_struct() -> Fields {
    Fields::from(vec![
        Field::new("campaign_id", DataType::Int64, true),
        Field::new("campaign_name", DataType::Utf8, true),
        Field::new("siret", DataType::Utf8, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("amount_cents", DataType::Int64, true),
        Field::new("beneficiary", DataType::Utf8, true),
        Field::new("status", DataType::Utf8, true),
    ])
}

/// The canonical Arrow schema of input trips (one row per journey).
///
/// Instants are `Timestamp(Millisecond, "UTC")`; other timestamp units and zone labels are
/// accepted and converted. `incentive_type` (`normal` or `booster`, null meaning `normal`) is
/// an addition to the registry's list: V3 needs it and nothing else carries it.
///
/// # Examples
///
/// ```
/// let schema = export_core::schema::trip::input_schema();
/// assert_eq!(schema.field(0).name(), "journey_id");
/// assert!(!schema.field_with_name("start_at").unwrap().is_nullable());
/// ```
pub fn input_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            use field::*;
            let utf8 = |n: &str| Field::new(n, DataType::Utf8, true);
            let i64f = |n: &str| Field::new(n, DataType::Int64, true);
            let f64f = |n: &str| Field::new(n, DataType::Float64, true);
            let boolf = |n: &str| Field::new(n, DataType::Boolean, true);
            let ts = |n: &str| {
                Field::new(
                    n,
                    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                    false,
                )
            };
            let list = |n: &str, f: Fields| {
                Field::new(
                    n,
                    DataType::List(Arc::new(Field::new("item", DataType::Struct(f), true))),
                    true,
                )
            };
            let mut fields = vec![
                Field::new(JOURNEY_ID, DataType::Int64, false),
                utf8(OPERATOR_TRIP_ID),
                Field::new(OPERATOR_JOURNEY_ID, DataType::Utf8, false),
                utf8(TRIP_ID),
                i64f(OPERATOR_ID),
                utf8(OPERATOR),
                utf8(OPERATOR_CLASS),
                utf8(STATUS),
                ts(START_AT),
                ts(END_AT),
                f64f(START_LAT),
                f64f(START_LON),
                f64f(END_LAT),
                f64f(END_LON),
            ];
            for n in [
                START_INSEE,
                START_COMMUNE,
                START_DEPARTEMENT,
                START_EPCI,
                START_AOM,
                START_REGION,
                START_PAYS,
            ] {
                fields.push(utf8(n));
            }
            fields.push(f64f(START_DENSITY));
            for n in [
                END_INSEE,
                END_COMMUNE,
                END_DEPARTEMENT,
                END_EPCI,
                END_AOM,
                END_REGION,
                END_PAYS,
            ] {
                fields.push(utf8(n));
            }
            fields.push(f64f(END_DENSITY));
            for n in [
                DISTANCE_M,
                DISTANCE_ANNOUNCED_M,
                DISTANCE_CALCULATED_M,
                DURATION_S,
                DURATION_ANNOUNCED_S,
                DURATION_CALCULATED_S,
            ] {
                fields.push(i64f(n));
            }
            fields.push(Field::new(PASSENGER_SEATS, DataType::Int32, true));
            for n in [PASSENGER_OVER_18, DRIVER_CARD, PASSENGER_CARD] {
                fields.push(boolf(n));
            }
            for n in [
                OPERATOR_PASSENGER_ID,
                OPERATOR_DRIVER_ID,
                PASSENGER_IDENTITY_KEY,
                DRIVER_IDENTITY_KEY,
                PASSENGER_ID,
                DRIVER_ID,
            ] {
                fields.push(utf8(n));
            }
            fields.push(i64f(PASSENGER_CONTRIBUTION_CENTS));
            fields.push(i64f(DRIVER_REVENUE_CENTS));
            fields.push(boolf(CEE_APPLICATION));
            fields.push(utf8(INCENTIVE_TYPE));
            fields.push(list(INCENTIVES, incentive_struct()));
            fields.push(list(RPC_INCENTIVES, rpc_incentive_struct()));
            Arc::new(Schema::new(fields))
        })
        .clone()
}
