//! Row filters: operators, territories, a geographic selector, and column predicates.
//!
//! Trip exports use [`Filters::apply_trip`] on batches in the canonical trip input schema
//! ([`crate::schema::trip::input_schema`]): period, operators, territories, geo selector and the
//! audience's status rule. Generic schemas (products, suppliers, ...) use
//! [`Filters::apply_predicates`]. The two kinds do not mix: [`Filters::validate_for_trip`] and
//! [`Filters::validate_for_generic`] reject the other kind.

use std::collections::{BTreeMap, HashSet};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampMillisecondType};
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray};
use arrow_buffer::{BooleanBuffer, BooleanBufferBuilder};
use arrow_schema::{DataType, TimeUnit};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{ExportError, Result};
use crate::schema::coerce;
use crate::temporal::column_time_zone;

/// Most operator ids one request may name.
pub const MAX_OPERATORS: usize = 128;
/// Most territory ids one request may name.
pub const MAX_TERRITORIES: usize = 1024;

/// A level of the French geography a [`Filters::geo`] selector matches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GeoLevel {
    /// Municipal arrondissement (INSEE code).
    Arr,
    /// Commune (INSEE code).
    Com,
    /// Intercommunality (EPCI).
    Epci,
    /// Mobility authority (AOM).
    Aom,
    /// Region.
    Reg,
    /// Département.
    Dep,
    /// Transport network.
    Reseau,
    /// Country.
    Country,
}

/// A predicate on one column of a generic schema (the catalogue's filters).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
pub enum Predicate {
    /// `column == value`.
    Eq {
        /// Column name.
        column: String,
        /// The value (string, number or boolean).
        value: serde_json::Value,
    },
    /// `column` is one of `values`.
    In {
        /// Column name.
        column: String,
        /// Accepted values.
        values: Vec<serde_json::Value>,
    },
    /// `min <= column <= max` (either bound optional).
    Range {
        /// Column name.
        column: String,
        /// Lower bound, inclusive.
        #[serde(default)]
        min: Option<serde_json::Value>,
        /// Upper bound, inclusive.
        #[serde(default)]
        max: Option<serde_json::Value>,
    },
}

impl Predicate {
    /// Parses the compact text form of a query parameter: `column:eq:value`,
    /// `column:in:a|b|c`, `column:range:min..max` (either bound may be empty). A value that
    /// reads as a JSON number or boolean is one; anything else is a string.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] on field `filter` quoting the text.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::filter::Predicate;
    /// use serde_json::json;
    /// assert_eq!(Predicate::parse("category:eq:books")?, Predicate::Eq { column: "category".into(), value: json!("books") });
    /// assert_eq!(Predicate::parse("stock:in:1|2")?, Predicate::In { column: "stock".into(), values: vec![json!(1), json!(2)] });
    /// assert_eq!(Predicate::parse("price:range:10..")?, Predicate::Range { column: "price".into(), min: Some(json!(10)), max: None });
    /// assert!(Predicate::parse("price:between:1").is_err());
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn parse(text: &str) -> Result<Predicate> {
        let bad = |why: &str| {
            ExportError::request(
                "filter",
                format!(
                    "`{text}`: {why}; expected `column:eq:value`, `column:in:a|b` or `column:range:min..max`"
                ),
            )
        };
        let mut parts = text.splitn(3, ':');
        let (Some(column), Some(op), Some(rest)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("three parts are needed"));
        };
        if column.is_empty() {
            return Err(bad("the column is empty"));
        }
        let value = |v: &str| match serde_json::from_str::<serde_json::Value>(v) {
            Ok(n @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => n,
            _ => serde_json::Value::String(v.to_string()),
        };
        let column = column.to_string();
        Ok(match op {
            "eq" => Predicate::Eq {
                column,
                value: value(rest),
            },
            "in" => Predicate::In {
                column,
                values: rest.split('|').map(value).collect(),
            },
            "range" => {
                let (min, max) = rest
                    .split_once("..")
                    .ok_or_else(|| bad("a range is `min..max`"))?;
                let bound = |b: &str| (!b.is_empty()).then(|| value(b));
                Predicate::Range {
                    column,
                    min: bound(min),
                    max: bound(max),
                }
            }
            other => return Err(bad(&format!("unknown operator `{other}`"))),
        })
    }

    /// The column the predicate reads.
    pub fn column(&self) -> &str {
        match self {
            Predicate::Eq { column, .. }
            | Predicate::In { column, .. }
            | Predicate::Range { column, .. } => column,
        }
    }
}

/// Which rows an export keeps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Filters {
    /// Trip schema: keep trips of these operator ids (empty: all).
    pub operators: Vec<i64>,
    /// Trip schema: keep trips touching these territories (empty: all).
    pub territories: Vec<String>,
    /// Trip schema: keep trips whose start **or** end lies in one of the codes of a level.
    pub geo: BTreeMap<GeoLevel, Vec<String>>,
    /// Generic schemas: every predicate must hold.
    pub predicates: Vec<Predicate>,
}

impl Filters {
    /// True when the filters keep every row.
    pub fn is_empty(&self) -> bool {
        self.operators.is_empty()
            && self.territories.is_empty()
            && self.geo.is_empty()
            && self.predicates.is_empty()
    }

    /// Checks the limits that do not depend on a schema.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] on `filters.operators` or `filters.territories` when too many are given.
    pub fn validate_basic(&self) -> Result<()> {
        if self.operators.len() > MAX_OPERATORS {
            return Err(ExportError::request(
                "filters.operators",
                format!(
                    "{} operators given, at most {MAX_OPERATORS} allowed",
                    self.operators.len()
                ),
            ));
        }
        if self.territories.len() > MAX_TERRITORIES {
            return Err(ExportError::request(
                "filters.territories",
                format!(
                    "{} territories given, at most {MAX_TERRITORIES} allowed",
                    self.territories.len()
                ),
            ));
        }
        Ok(())
    }
}

impl GeoLevel {
    /// The lower-case name used in requests (`com`, `epci`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            GeoLevel::Arr => "arr",
            GeoLevel::Com => "com",
            GeoLevel::Epci => "epci",
            GeoLevel::Aom => "aom",
            GeoLevel::Reg => "reg",
            GeoLevel::Dep => "dep",
            GeoLevel::Reseau => "reseau",
            GeoLevel::Country => "country",
        }
    }

    /// The suffix of the trip input fields this level matches (`start_<suffix>`,
    /// `end_<suffix>`): `com` and `arr` → `insee`, `epci`, `aom`, `dep` → `departement`,
    /// `reg` → `region`, `country` → `pays`; `None` for `reseau` (no input field carries it).
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::filter::GeoLevel;
    /// assert_eq!(GeoLevel::Com.trip_field(), Some("insee"));
    /// assert_eq!(GeoLevel::Reseau.trip_field(), None);
    /// ```
    pub fn trip_field(self) -> Option<&'static str> {
        match self {
            GeoLevel::Arr | GeoLevel::Com => Some("insee"),
            GeoLevel::Epci => Some("epci"),
            GeoLevel::Aom => Some("aom"),
            GeoLevel::Dep => Some("departement"),
            GeoLevel::Reg => Some("region"),
            GeoLevel::Country => Some("pays"),
            GeoLevel::Reseau => None,
        }
    }
}

/// Input fields (start and end) a territory id is compared with in [`Filters::apply_trip`].
pub const TERRITORY_FIELDS: [&str; 5] = ["aom", "epci", "insee", "departement", "region"];

impl Filters {
    /// Checks that the filters suit the trip schema: no predicates (trip exports filter with
    /// operators, territories and geo), no `reseau` geo level (no input field carries it), at
    /// most [`MAX_TERRITORIES`] codes per geo level, plus [`Filters::validate_basic`].
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] on `filters.predicates`, `filters.geo` or as
    /// [`Filters::validate_basic`].
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::filter::{Filters, GeoLevel};
    /// let mut f = Filters::default();
    /// f.geo.insert(GeoLevel::Reseau, vec!["42".into()]);
    /// assert_eq!(f.validate_for_trip().unwrap_err().code(), "INVALID_REQUEST");
    /// ```
    pub fn validate_for_trip(&self) -> Result<()> {
        self.validate_basic()?;
        if !self.predicates.is_empty() {
            return Err(ExportError::request(
                "filters.predicates",
                "column predicates apply to generic schemas; trip exports filter with `operators`, `territories` and `geo`",
            ));
        }
        for (level, codes) in &self.geo {
            if level.trip_field().is_none() {
                return Err(reseau_error());
            }
            if codes.len() > MAX_TERRITORIES {
                return Err(ExportError::request(
                    "filters.geo",
                    format!(
                        "{} codes given for `{}`, at most {MAX_TERRITORIES} allowed",
                        codes.len(),
                        level.as_str()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Checks that the filters suit a generic schema: only predicates.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] on `filters.operators`, `filters.territories` or
    /// `filters.geo` when one is given.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::filter::Filters;
    /// let f = Filters { operators: vec![1], ..Default::default() };
    /// assert!(f.validate_for_generic().is_err());
    /// assert!(Filters::default().validate_for_generic().is_ok());
    /// ```
    pub fn validate_for_generic(&self) -> Result<()> {
        let trip_only = [
            ("filters.operators", self.operators.is_empty()),
            ("filters.territories", self.territories.is_empty()),
            ("filters.geo", self.geo.is_empty()),
        ];
        for (name, empty) in trip_only {
            if !empty {
                return Err(ExportError::request(
                    name,
                    "this filter applies to the trip schema only; use `predicates`",
                ));
            }
        }
        Ok(())
    }

    /// Keeps the rows of a batch for which every predicate holds (a batch of any schema).
    ///
    /// Values are JSON: numbers for integer and float columns (an integer column needs an
    /// integral number), strings for text columns, booleans for boolean columns, ISO strings for
    /// dates (`2026-10-03`) and timestamps (RFC 3339, or a local `2026-10-03T08:00:00` or date
    /// read in the column's zone, UTC when it has none). A JSON `null` in `eq` or `in` matches
    /// null cells; otherwise null cells never match. `range` bounds are inclusive.
    ///
    /// # Errors
    ///
    /// [`ExportError::UnknownField`] listing the batch's columns when a predicate names another;
    /// [`ExportError::InvalidRequest`] on `filters.predicates` naming the column when a value is
    /// of the wrong kind or the column's type cannot be filtered;
    /// [`ExportError::Arrow`] if filtering fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_array::{Float64Array, RecordBatch, StringArray};
    /// use export_core::filter::{Filters, Predicate};
    /// use serde_json::json;
    ///
    /// let batch = RecordBatch::try_from_iter([
    ///     ("sku", Arc::new(StringArray::from(vec!["a", "b", "c"])) as _),
    ///     ("price", Arc::new(Float64Array::from(vec![1.0, 5.0, 9.5])) as _),
    /// ]).unwrap();
    /// let filters = Filters {
    ///     predicates: vec![
    ///         Predicate::Range { column: "price".into(), min: Some(json!(2)), max: None },
    ///         Predicate::In { column: "sku".into(), values: vec![json!("b"), json!("c")] },
    ///     ],
    ///     ..Default::default()
    /// };
    /// assert_eq!(filters.apply_predicates(&batch).unwrap().num_rows(), 2);
    ///
    /// let bad = Filters {
    ///     predicates: vec![Predicate::Eq { column: "price".into(), value: json!("cheap") }],
    ///     ..Default::default()
    /// };
    /// assert_eq!(bad.apply_predicates(&batch).unwrap_err().code(), "INVALID_REQUEST");
    /// ```
    pub fn apply_predicates(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        if self.predicates.is_empty() {
            return Ok(batch.clone());
        }
        let mut mask = BooleanBuffer::new_set(batch.num_rows());
        for predicate in &self.predicates {
            let m = predicate_mask(batch, predicate)?;
            mask = &mask & &m;
        }
        if mask.count_set_bits() == batch.num_rows() {
            return Ok(batch.clone());
        }
        Ok(arrow_select::filter::filter_record_batch(
            batch,
            &BooleanArray::new(mask, None),
        )?)
    }
}

pub(crate) fn reseau_error() -> ExportError {
    ExportError::request(
        "filters.geo",
        "level `reseau` (transport network) cannot be filtered: no trip input field carries a network",
    )
}

pub(crate) fn build(rows: usize, f: impl Fn(usize) -> bool) -> BooleanBuffer {
    let mut b = BooleanBufferBuilder::new(rows);
    for i in 0..rows {
        b.append(f(i));
    }
    b.finish()
}

pub(crate) fn input_column(
    batch: &RecordBatch,
    name: &str,
    expected: &DataType,
) -> Result<ArrayRef> {
    let array = batch
        .column_by_name(name)
        .ok_or_else(|| ExportError::MissingColumn {
            column: name.to_string(),
            expected: expected.to_string(),
        })?;
    coerce(name, array, expected)
}

pub(crate) fn string_in(
    batch: &RecordBatch,
    name: &str,
    wanted: &HashSet<&str>,
) -> Result<BooleanBuffer> {
    let col = input_column(batch, name, &DataType::Utf8)?;
    let s: &StringArray = col.as_string::<i32>();
    Ok(build(batch.num_rows(), |i| {
        s.is_valid(i) && wanted.contains(s.value(i))
    }))
}

/// One predicate's test on typed values.
enum Test<T> {
    Eq(Option<T>),
    In(Vec<T>, bool),
    Range(Option<T>, Option<T>),
}

impl<T: PartialOrd> Test<T> {
    fn parse(
        predicate: &Predicate,
        parse: impl Fn(&serde_json::Value) -> Option<T>,
        bad: impl Fn(&serde_json::Value) -> ExportError,
    ) -> Result<Test<T>> {
        let one = |v: &serde_json::Value| parse(v).ok_or_else(|| bad(v));
        Ok(match predicate {
            Predicate::Eq { value, .. } if value.is_null() => Test::Eq(None),
            Predicate::Eq { value, .. } => Test::Eq(Some(one(value)?)),
            Predicate::In { values, .. } => {
                let nulls = values.iter().any(serde_json::Value::is_null);
                let values = values
                    .iter()
                    .filter(|v| !v.is_null())
                    .map(one)
                    .collect::<Result<Vec<T>>>()?;
                Test::In(values, nulls)
            }
            Predicate::Range { min, max, .. } => {
                let bound = |b: &Option<serde_json::Value>| -> Result<Option<T>> {
                    match b {
                        None | Some(serde_json::Value::Null) => Ok(None),
                        Some(v) => one(v).map(Some),
                    }
                };
                Test::Range(bound(min)?, bound(max)?)
            }
        })
    }

    fn mask(&self, rows: usize, value: impl Fn(usize) -> Option<T>) -> BooleanBuffer {
        build(rows, |i| match (self, value(i)) {
            (Test::Eq(None), v) => v.is_none(),
            (Test::Eq(Some(x)), Some(v)) => v == *x,
            (Test::In(_, nulls), None) => *nulls,
            (Test::In(xs, _), Some(v)) => xs.contains(&v),
            (Test::Range(lo, hi), Some(v)) => {
                lo.as_ref().is_none_or(|lo| v >= *lo) && hi.as_ref().is_none_or(|hi| v <= *hi)
            }
            (_, None) => false,
        })
    }
}

fn predicate_mask(batch: &RecordBatch, predicate: &Predicate) -> Result<BooleanBuffer> {
    let name = predicate.column();
    let array = batch
        .column_by_name(name)
        .ok_or_else(|| ExportError::UnknownField {
            field: name.to_string(),
            schema: "input".to_string(),
            valid: batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect(),
        })?;
    let rows = batch.num_rows();
    let kind = |what: &str| {
        let what = what.to_string();
        let name = name.to_string();
        move |v: &serde_json::Value| {
            ExportError::request(
                "filters.predicates",
                format!("column `{name}` needs {what}, got `{v}`"),
            )
        }
    };
    use DataType::*;
    match array.data_type() {
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 => {
            let a = arrow_cast::cast(array, &Int64)?;
            let a = a.as_primitive::<Int64Type>();
            let test = Test::parse(predicate, json_i64, kind("an integer"))?;
            Ok(test.mask(rows, |i| a.is_valid(i).then(|| a.value(i))))
        }
        UInt64 | Float16 | Float32 | Float64 => {
            let a = arrow_cast::cast(array, &Float64)?;
            let a = a.as_primitive::<Float64Type>();
            let test = Test::parse(predicate, serde_json::Value::as_f64, kind("a number"))?;
            Ok(test.mask(rows, |i| a.is_valid(i).then(|| a.value(i))))
        }
        Boolean => {
            let a = array.as_boolean();
            let test = Test::parse(predicate, serde_json::Value::as_bool, kind("a boolean"))?;
            Ok(test.mask(rows, |i| a.is_valid(i).then(|| a.value(i))))
        }
        t if matches!(t, Utf8 | LargeUtf8 | Utf8View | Dictionary(_, _)) => {
            let a = coerce(name, array, &Utf8).map_err(|_| {
                ExportError::request(
                    "filters.predicates",
                    format!("column `{name}` of type {t} cannot be filtered"),
                )
            })?;
            let a = a.as_string::<i32>();
            let test = Test::parse(
                predicate,
                |v| v.as_str().map(str::to_string),
                kind("a string"),
            )?;
            Ok(test.mask(rows, |i| a.is_valid(i).then(|| a.value(i).to_string())))
        }
        Date32 | Date64 => {
            let a = arrow_cast::cast(array, &Date32)?;
            let a = a.as_primitive::<arrow_array::types::Date32Type>();
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
            let parse = |v: &serde_json::Value| {
                let d = NaiveDate::parse_from_str(v.as_str()?.trim(), "%Y-%m-%d").ok()?;
                i32::try_from((d - epoch).num_days()).ok()
            };
            let test = Test::parse(predicate, parse, kind("an ISO date (YYYY-MM-DD)"))?;
            Ok(test.mask(rows, |i| a.is_valid(i).then(|| a.value(i))))
        }
        Timestamp(_, tz) => {
            let zone = column_time_zone(tz.as_deref())?;
            let a = arrow_cast::cast(array, &Timestamp(TimeUnit::Millisecond, tz.clone()))?;
            let a = a.as_primitive::<TimestampMillisecondType>();
            let parse = |v: &serde_json::Value| parse_instant(v.as_str()?, zone);
            let test = Test::parse(
                predicate,
                parse,
                kind("an ISO instant (RFC 3339, YYYY-MM-DDTHH:MM:SS or YYYY-MM-DD)"),
            )?;
            Ok(test.mask(rows, |i| a.is_valid(i).then(|| a.value(i))))
        }
        other => Err(ExportError::request(
            "filters.predicates",
            format!("column `{name}` of type {other} cannot be filtered"),
        )),
    }
}

fn json_i64(v: &serde_json::Value) -> Option<i64> {
    if let Some(i) = v.as_i64() {
        return Some(i);
    }
    let f = v.as_f64()?;
    (f.fract() == 0.0 && f.abs() < 9.2e18).then_some(f as i64)
}

/// Epoch milliseconds of an RFC 3339 instant, or of a local date-time or date in `zone`.
fn parse_instant(text: &str, zone: chrono_tz::Tz) -> Option<i64> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    let instant: DateTime<Utc> = crate::temporal::resolve_local(naive, zone);
    Some(instant.timestamp_millis())
}
