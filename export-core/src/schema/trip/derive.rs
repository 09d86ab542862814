//! Derivation of V2 and V3 columns from canonical input trips.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampMillisecondType};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, DurationSecondArray, Float64Array, Int64Array,
    ListArray, RecordBatch, RecordBatchOptions, StringArray, StructArray, Time32SecondArray,
    TimestampSecondArray, UInt32Array, new_null_array,
};
use arrow_schema::{DataType, Field, Schema};
use chrono::{Offset, TimeZone};
use chrono_tz::Tz;

use super::columns::schema_in_zone;
use super::{field, input_schema};
use crate::error::{ExportError, Result};
use crate::privacy::{TripIdHasher, ceil_millis_to_10_minutes, truncate_coordinate};
use crate::request::{Audience, SchemaVersion};
use crate::schema::{ExportSchema, coerce};
use crate::temporal::DEFAULT_TIME_ZONE;

/// What a trip derivation needs to know: version, audience, time zone and the opendata key.
///
/// # Examples
///
/// ```
/// use export_core::request::{Audience, SchemaVersion};
/// use export_core::schema::trip::TripContext;
///
/// let ctx = TripContext::new(SchemaVersion::V2, Audience::Opendata)
///     .with_time_zone(chrono_tz::Europe::Paris)
///     .with_hash_key(b"secret opendata key".to_vec());
/// assert_eq!(ctx.schema().columns().len(), 27);
/// // The key is never printed.
/// assert!(!format!("{ctx:?}").contains("secret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TripContext {
    /// Schema version (V2 CSV, V3 XLSX).
    pub version: SchemaVersion,
    /// Who the export is for.
    pub audience: Audience,
    /// Zone of local dates and times (default `Europe/Paris`).
    pub time_zone: Tz,
    /// Secret key of the opendata `trip_id` HMAC; required (non-empty) for V2 opendata.
    pub hash_key: Vec<u8>,
    /// When true, every field of [`super::input_schema`] must be present in input batches; when
    /// false (the default) absent nullable fields are read as all-null.
    pub strict_input: bool,
}

impl fmt::Debug for TripContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TripContext")
            .field("version", &self.version)
            .field("audience", &self.audience)
            .field("time_zone", &self.time_zone)
            .field("hash_key", &format_args!("<{} bytes>", self.hash_key.len()))
            .field("strict_input", &self.strict_input)
            .finish()
    }
}

impl TripContext {
    /// A context in `Europe/Paris`, with an empty key and lenient input.
    pub fn new(version: SchemaVersion, audience: Audience) -> TripContext {
        TripContext {
            version,
            audience,
            time_zone: DEFAULT_TIME_ZONE,
            hash_key: Vec::new(),
            strict_input: false,
        }
    }

    /// Sets the zone of local dates and times.
    pub fn with_time_zone(mut self, time_zone: Tz) -> TripContext {
        self.time_zone = time_zone;
        self
    }

    /// Sets the opendata `trip_id` key.
    pub fn with_hash_key(mut self, key: impl Into<Vec<u8>>) -> TripContext {
        self.hash_key = key.into();
        self
    }

    /// Requires every input field to be present (see [`TripContext::strict_input`]).
    pub fn with_strict_input(mut self, strict: bool) -> TripContext {
        self.strict_input = strict;
        self
    }

    /// The output schema of this context ([`super::schema_in_zone`]).
    pub fn schema(&self) -> ExportSchema {
        schema_in_zone(self.version, self.audience, self.time_zone)
    }

    /// True when instants are rounded up to 10 minutes: always in V3, opendata in V2.
    pub fn rounds_times(&self) -> bool {
        self.version == SchemaVersion::V3 || self.audience == Audience::Opendata
    }

    /// True when positions are truncated by density: always in V3, opendata in V2.
    pub fn truncates_positions(&self) -> bool {
        self.rounds_times()
    }
}

/// Conforms a batch to [`super::input_schema`]: columns in canonical order and types.
///
/// Each present column is coerced losslessly (narrower integers, other string encodings, other
/// timestamp units or zones; a timestamp without zone is taken as UTC). List columns of another
/// but castable type (another item name, nullability) are cast. Absent nullable columns are
/// all-null unless `strict`; absent required ones (`journey_id`, `operator_journey_id`,
/// `start_at`, `end_at`) are always an error, and so are nulls in them. Extra columns are dropped.
///
/// # Errors
///
/// [`ExportError::MissingColumn`] for an absent column; [`ExportError::ColumnType`] for a column
/// of another type; [`ExportError::InvalidValue`] for a null in a required column.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Int32Array, RecordBatch, StringArray};
/// use export_core::schema::trip::{conform_input, input_schema};
///
/// let batch = RecordBatch::try_from_iter([
///     ("journey_id", Arc::new(Int32Array::from(vec![1])) as _),
///     ("operator_journey_id", Arc::new(StringArray::from(vec!["j1"])) as _),
/// ]).unwrap();
/// // start_at and end_at are required.
/// let err = conform_input(&batch, false).unwrap_err();
/// assert_eq!(err.to_string(), "input is missing column `start_at` (expected type Timestamp(ms, \"UTC\"))");
/// ```
pub fn conform_input(input: &RecordBatch, strict: bool) -> Result<RecordBatch> {
    let schema = input_schema();
    let rows = input.num_rows();
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for f in schema.fields() {
        let name = f.name();
        let array = match input.column_by_name(name) {
            Some(a) => conform_column(name, a, f.data_type())?,
            None if f.is_nullable() && !strict => new_null_array(f.data_type(), rows),
            None => {
                return Err(ExportError::MissingColumn {
                    column: name.clone(),
                    expected: f.data_type().to_string(),
                });
            }
        };
        if !f.is_nullable() && array.null_count() > 0 {
            let row = (0..rows).find(|i| array.is_null(*i)).unwrap_or(0);
            return Err(ExportError::InvalidValue {
                column: name.clone(),
                row,
                reason: "null in a required column".into(),
            });
        }
        arrays.push(array);
    }
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    Ok(RecordBatch::try_new_with_options(schema, arrays, &options)?)
}

fn conform_column(name: &str, array: &ArrayRef, expected: &DataType) -> Result<ArrayRef> {
    if let (DataType::Timestamp(_, _), DataType::Timestamp(_, _)) = (array.data_type(), expected) {
        return utc_millis(name, array);
    }
    let list_like = |t: &DataType| matches!(t, DataType::List(_) | DataType::LargeList(_));
    if list_like(expected) && list_like(array.data_type()) && array.data_type() != expected {
        let type_error = || ExportError::ColumnType {
            column: name.to_string(),
            expected: expected.to_string(),
            actual: array.data_type().to_string(),
        };
        if !arrow_cast::can_cast_types(array.data_type(), expected) {
            return Err(type_error());
        }
        return arrow_cast::cast(array, expected).map_err(|_| type_error());
    }
    coerce(name, array, expected)
}

/// A timestamp column of any unit and zone label as `Timestamp(Millisecond, "UTC")`: the
/// values are instants, so only the unit changes (a column without zone is taken as UTC).
/// Unlike `arrow_cast`, needs no time-zone database to relabel.
pub(crate) fn utc_millis(name: &str, array: &ArrayRef) -> Result<ArrayRef> {
    let expected = DataType::Timestamp(arrow_schema::TimeUnit::Millisecond, Some("UTC".into()));
    coerce(name, array, &expected)
}

/// Derives the columns of `ctx.schema()` from a batch of input trips.
///
/// The input is first conformed with [`conform_input`] (`ctx.strict_input`). The result has one
/// column per column of the schema, named by [`crate::schema::Column::name`] and typed as the
/// column says, in schema order; the pipeline then applies the field selection and
/// [`ExportSchema::project`].
///
/// What is derived (see `trip-schema.md`):
/// - V2: `*_datetime` Timestamp(Second, zone), `*_date` Date32 and `*_time` Time32(Second) in the
///   zone; distances in metres, durations in whole minutes (rounded half up); money in euros, a
///   missing incentive amount being `0`; incentive slots 1..4 per beneficiary, in list order;
///   `towngroup` is the EPCI. Opendata: instants rounded up to 10 minutes, positions truncated,
///   `trip_id` the keyed HMAC-SHA256 of `operator_trip_id`, `has_incentive` true when an RPC
///   incentive is `validated`.
/// - V3 (all audiences): instants rounded up to 10 minutes, positions truncated; `duration`
///   Duration(Second), `distance` km; money in euros; empty incentive slots are null;
///   `incentive_type` null read as `normal`.
///
/// # Errors
///
/// As [`conform_input`]; [`ExportError::InvalidRequest`] on `hash_key` when V2 opendata has an
/// empty key; [`ExportError::InvalidValue`] for an instant whose local date is out of range.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Int64Array, RecordBatch, StringArray, TimestampMillisecondArray};
/// use arrow_array::cast::AsArray;
/// use arrow_array::types::Time32SecondType;
/// use export_core::request::{Audience, SchemaVersion};
/// use export_core::schema::trip::{TripContext, derive};
///
/// let ts = |ms: i64| Arc::new(TimestampMillisecondArray::from(vec![ms]).with_timezone("UTC")) as _;
/// let input = RecordBatch::try_from_iter([
///     ("journey_id", Arc::new(Int64Array::from(vec![1])) as _),
///     ("operator_journey_id", Arc::new(StringArray::from(vec!["j1"])) as _),
///     ("start_at", ts(1_791_007_860_000)), // 2026-10-03T06:11:00Z
///     ("end_at", ts(1_791_009_600_000)),
/// ]).unwrap();
/// let ctx = TripContext::new(SchemaVersion::V3, Audience::Operator);
/// let out = derive(&ctx, &input).unwrap();
/// let time = out.column_by_name("start_time").unwrap().as_primitive::<Time32SecondType>();
/// assert_eq!(time.value(0), 8 * 3600 + 20 * 60); // 08:20:00 in Paris, rounded up
/// ```
pub fn derive(ctx: &TripContext, input: &RecordBatch) -> Result<RecordBatch> {
    let batch = conform_input(input, ctx.strict_input)?;
    let schema = ctx.schema();
    if ctx.version == SchemaVersion::V2
        && ctx.audience == Audience::Opendata
        && ctx.hash_key.is_empty()
    {
        return Err(ExportError::request(
            "hash_key",
            "the opendata trip_id is a keyed hash: give a non-empty secret key",
        ));
    }
    let d = Deriver {
        ctx,
        batch: &batch,
        slots: RefCell::new(Vec::new()),
    };
    let columns = schema.columns();
    let mut fields = Vec::with_capacity(columns.len());
    let mut arrays = Vec::with_capacity(columns.len());
    for c in columns {
        let array = d.column(&c.name)?;
        if array.data_type() != &c.data_type {
            // Only a bug in this module can get here; say so rather than panic.
            return Err(ExportError::ColumnType {
                column: c.name.clone(),
                expected: c.data_type.to_string(),
                actual: array.data_type().to_string(),
            });
        }
        fields.push(Field::new(&c.name, c.data_type.clone(), true));
        arrays.push(array);
    }
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        arrays,
        &options,
    )?)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Start,
    End,
}

impl Side {
    fn parse(s: &str) -> Option<Side> {
        match s {
            "start" => Some(Side::Start),
            "end" => Some(Side::End),
            _ => None,
        }
    }
    fn field(self, rest: &str) -> String {
        match self {
            Side::Start => format!("start_{rest}"),
            Side::End => format!("end_{rest}"),
        }
    }
}

type SlotKey = (&'static str, Option<&'static str>);

struct Deriver<'a> {
    ctx: &'a TripContext,
    batch: &'a RecordBatch,
    /// Take indices of incentive slots, per (list column, beneficiary).
    slots: RefCell<Vec<(SlotKey, Rc<Vec<UInt32Array>>)>>,
}

impl Deriver<'_> {
    fn input(&self, name: &str) -> &ArrayRef {
        // The batch is conformed: every canonical field is present with its canonical type.
        let index = input_schema()
            .index_of(name)
            .unwrap_or_else(|_| unreachable!("`{name}` is a canonical input field"));
        self.batch.column(index)
    }

    fn i64s(&self, name: &str) -> &Int64Array {
        self.input(name).as_primitive::<Int64Type>()
    }

    fn strings(&self, name: &str) -> &StringArray {
        self.input(name).as_string::<i32>()
    }

    fn column(&self, name: &str) -> Result<ArrayRef> {
        match self.ctx.version {
            SchemaVersion::V2 => self.v2(name),
            SchemaVersion::V3 => self.v3(name),
        }
    }

    fn v2(&self, name: &str) -> Result<ArrayRef> {
        if let Some(rest) = name.strip_prefix("journey_") {
            if let Some((side, what)) = rest.split_once('_')
                && let Some(side) = Side::parse(side)
            {
                return match what {
                    "datetime" | "date" | "time" => self.instant(side, what),
                    "lon" | "lat" => Ok(self.position(side, what)),
                    "insee" => Ok(self.input(&side.field("insee")).clone()),
                    "department" => Ok(self.input(&side.field("departement")).clone()),
                    "town" => Ok(self.input(&side.field("commune")).clone()),
                    "towngroup" => Ok(self.input(&side.field("epci")).clone()),
                    "country" => Ok(self.input(&side.field("pays")).clone()),
                    _ => Err(self.unknown(name)),
                };
            }
            return match rest {
                "distance" => Ok(self.input(field::DISTANCE_M).clone()),
                "distance_anounced" => Ok(self.input(field::DISTANCE_ANNOUNCED_M).clone()),
                "distance_calculated" => Ok(self.input(field::DISTANCE_CALCULATED_M).clone()),
                "duration" => Ok(self.minutes(field::DURATION_S)),
                "duration_anounced" => Ok(self.minutes(field::DURATION_ANNOUNCED_S)),
                "duration_calculated" => Ok(self.minutes(field::DURATION_CALCULATED_S)),
                "id" => Ok(self.input(field::JOURNEY_ID).clone()),
                _ => Err(self.unknown(name)),
            };
        }
        match name {
            "trip_id" if self.ctx.audience == Audience::Opendata => Ok(self.hashed_trip_id()),
            "has_incentive" => Ok(self.has_incentive()),
            "passenger_contribution" => {
                Ok(euros(self.i64s(field::PASSENGER_CONTRIBUTION_CENTS), false))
            }
            "driver_revenue" => Ok(euros(self.i64s(field::DRIVER_REVENUE_CENTS), false)),
            _ => {
                let parts: Vec<&str> = name.split('_').collect();
                match parts.as_slice() {
                    [who @ ("passenger" | "driver"), "incentive", "rpc", n, what] => {
                        self.v2_slot(field::RPC_INCENTIVES, who, n, what, name)
                    }
                    [who @ ("passenger" | "driver"), "incentive", n, what] => {
                        self.v2_slot(field::INCENTIVES, who, n, what, name)
                    }
                    _ => self.copy(name),
                }
            }
        }
    }

    fn v2_slot(
        &self,
        list: &'static str,
        who: &str,
        n: &str,
        what: &str,
        name: &str,
    ) -> Result<ArrayRef> {
        let who: &'static str = if who == "passenger" {
            "passenger"
        } else {
            "driver"
        };
        let slot = n
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .ok_or_else(|| self.unknown(name))?;
        self.slot_field(list, Some(who), 4, slot, what, true)
    }

    fn v3(&self, name: &str) -> Result<ArrayRef> {
        if let Some((side, what)) = name.split_once('_')
            && let Some(side) = Side::parse(side)
        {
            return match what {
                "datetime" | "date" | "time" => self.instant(side, what),
                "lon" | "lat" => Ok(self.position(side, what)),
                _ => self.copy(name),
            };
        }
        match name {
            "duration" => {
                let s = self.i64s(field::DURATION_S);
                Ok(Arc::new(DurationSecondArray::new(
                    s.values().clone(),
                    s.nulls().cloned(),
                )))
            }
            "distance" => Ok(Arc::new(
                self.i64s(field::DISTANCE_M)
                    .unary::<_, Float64Type>(|m| m as f64 / 1000.0),
            )),
            "passenger_contribution" => {
                Ok(euros(self.i64s(field::PASSENGER_CONTRIBUTION_CENTS), false))
            }
            "driver_revenue" => Ok(euros(self.i64s(field::DRIVER_REVENUE_CENTS), false)),
            "incentive_type" => Ok(Arc::new(
                self.strings(field::INCENTIVE_TYPE)
                    .iter()
                    .map(|v| Some(v.unwrap_or("normal")))
                    .collect::<StringArray>(),
            )),
            "has_incentive" => Ok(self.has_incentive()),
            _ => {
                let parts: Vec<&str> = name.split('_').collect();
                let slot = |n: &str| n.parse::<usize>().map_err(|_| self.unknown(name));
                match parts.as_slice() {
                    ["incentive", "rpc", n, "campaign", what] => {
                        let what = if *what == "id" {
                            "campaign_id"
                        } else {
                            "campaign_name"
                        };
                        self.slot_field(field::RPC_INCENTIVES, None, 3, slot(n)?, what, false)
                    }
                    ["incentive", "rpc", n, what] => {
                        self.slot_field(field::RPC_INCENTIVES, None, 3, slot(n)?, what, false)
                    }
                    ["incentive", n, what] => {
                        self.slot_field(field::INCENTIVES, None, 3, slot(n)?, what, false)
                    }
                    _ => self.copy(name),
                }
            }
        }
    }

    fn unknown(&self, name: &str) -> ExportError {
        ExportError::UnknownField {
            field: name.to_string(),
            schema: "trip input".to_string(),
            valid: input_schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect(),
        }
    }

    fn copy(&self, name: &str) -> Result<ArrayRef> {
        match input_schema().index_of(name) {
            Ok(i) => Ok(self.batch.column(i).clone()),
            Err(_) => Err(self.unknown(name)),
        }
    }

    /// `*_datetime`, `*_date` or `*_time` of one side.
    fn instant(&self, side: Side, what: &str) -> Result<ArrayRef> {
        let name = match side {
            Side::Start => field::START_AT,
            Side::End => field::END_AT,
        };
        let millis = self.input(name).as_primitive::<TimestampMillisecondType>();
        let round = self.ctx.rounds_times();
        let utc = millis.values().iter().map(|ms| {
            if round {
                ceil_millis_to_10_minutes(*ms)
            } else {
                ms.div_euclid(1000)
            }
        });
        let tz = self.ctx.time_zone;
        if what == "datetime" {
            let values: Vec<i64> = utc.collect();
            return Ok(Arc::new(
                TimestampSecondArray::from(values).with_timezone(tz.name()),
            ));
        }
        let mut out: Vec<i32> = Vec::with_capacity(millis.len());
        for (row, secs) in utc.enumerate() {
            let local = local_seconds(secs, tz).ok_or_else(|| ExportError::InvalidValue {
                column: name.to_string(),
                row,
                reason: "instant out of the supported date range".into(),
            })?;
            let v = if what == "date" {
                i32::try_from(local.div_euclid(86_400)).ok()
            } else {
                i32::try_from(local.rem_euclid(86_400)).ok()
            };
            out.push(v.ok_or_else(|| ExportError::InvalidValue {
                column: name.to_string(),
                row,
                reason: "instant out of the supported date range".into(),
            })?);
        }
        Ok(if what == "date" {
            Arc::new(Date32Array::from(out))
        } else {
            Arc::new(Time32SecondArray::from(out))
        })
    }

    fn position(&self, side: Side, what: &str) -> ArrayRef {
        let values = self.input(&side.field(what));
        if !self.ctx.truncates_positions() {
            return values.clone();
        }
        let values = values.as_primitive::<Float64Type>();
        let density = self
            .input(&side.field("density"))
            .as_primitive::<Float64Type>();
        let out: Float64Array = values
            .iter()
            .zip(density.iter())
            .map(|(v, d)| v.map(|v| truncate_coordinate(v, d)))
            .collect();
        Arc::new(out)
    }

    fn minutes(&self, name: &str) -> ArrayRef {
        Arc::new(
            self.i64s(name)
                .unary::<_, Int64Type>(|s| s.saturating_add(30).div_euclid(60)),
        )
    }

    fn hashed_trip_id(&self) -> ArrayRef {
        let ids = self.strings(field::OPERATOR_TRIP_ID);
        let hasher = TripIdHasher::new(&self.ctx.hash_key);
        let mut out = arrow_array::builder::StringBuilder::with_capacity(ids.len(), ids.len() * 64);
        let mut buf = [0u8; 64];
        for id in ids.iter() {
            match id {
                Some(id) => out.append_value(hasher.hash_into(id, &mut buf)),
                None => out.append_null(),
            }
        }
        Arc::new(out.finish())
    }

    fn has_incentive(&self) -> ArrayRef {
        let list = self.input(field::RPC_INCENTIVES).as_list::<i32>();
        let items = list.values().as_struct();
        let status = child_strings(items, "status");
        let offsets = list.value_offsets();
        let out: BooleanArray = (0..list.len())
            .map(|row| {
                let validated = list.is_valid(row)
                    && (offsets[row] as usize..offsets[row + 1] as usize).any(|j| {
                        items.is_valid(j)
                            && status.is_some_and(|s| s.is_valid(j) && s.value(j) == "validated")
                    });
                Some(validated)
            })
            .collect();
        Arc::new(out)
    }

    /// Take indices of `n` slots of a list column, keeping only items of `beneficiary`.
    fn slot_indices(
        &self,
        list_name: &'static str,
        beneficiary: Option<&'static str>,
        n: usize,
    ) -> Rc<Vec<UInt32Array>> {
        let key = (list_name, beneficiary);
        if let Some((_, found)) = self.slots.borrow().iter().find(|(k, _)| *k == key) {
            return found.clone();
        }
        let list: &ListArray = self.input(list_name).as_list::<i32>();
        let items = list.values().as_struct();
        let who = child_strings(items, "beneficiary");
        let offsets = list.value_offsets();
        let mut slots: Vec<Vec<Option<u32>>> = vec![Vec::with_capacity(list.len()); n];
        for row in 0..list.len() {
            let mut k = 0;
            if list.is_valid(row) {
                for j in offsets[row] as usize..offsets[row + 1] as usize {
                    if k == n {
                        break;
                    }
                    let wanted = items.is_valid(j)
                        && match beneficiary {
                            None => true,
                            Some(b) => who.is_some_and(|w| w.is_valid(j) && w.value(j) == b),
                        };
                    if wanted {
                        slots[k].push(u32::try_from(j).ok());
                        k += 1;
                    }
                }
            }
            for slot in slots.iter_mut().skip(k) {
                slot.push(None);
            }
        }
        let built: Rc<Vec<UInt32Array>> =
            Rc::new(slots.into_iter().map(UInt32Array::from).collect());
        self.slots.borrow_mut().push((key, built.clone()));
        built
    }

    /// One field (`siret`, `name`, `amount`, `campaign_id`, `campaign_name`) of one slot.
    fn slot_field(
        &self,
        list_name: &'static str,
        beneficiary: Option<&'static str>,
        n: usize,
        slot: usize,
        what: &str,
        zero_amount: bool,
    ) -> Result<ArrayRef> {
        let slots = self.slot_indices(list_name, beneficiary, n);
        let indices = slots
            .get(slot)
            .ok_or_else(|| self.unknown(&format!("{list_name} slot {slot}")))?;
        let items = self.input(list_name).as_list::<i32>().values().as_struct();
        let child = if what == "amount" {
            "amount_cents"
        } else {
            what
        };
        let values = items
            .column_by_name(child)
            .ok_or_else(|| self.unknown(&format!("{list_name}.{child}")))?;
        let taken = arrow_select::take::take(values.as_ref(), indices, None)?;
        if what == "amount" {
            return Ok(euros(taken.as_primitive::<Int64Type>(), zero_amount));
        }
        Ok(taken)
    }
}

fn child_strings<'a>(items: &'a StructArray, name: &str) -> Option<&'a StringArray> {
    items
        .column_by_name(name)
        .and_then(|c| c.as_string_opt::<i32>())
}

/// Euro cents to euros; nulls become 0 when `zero_nulls`.
fn euros(cents: &Int64Array, zero_nulls: bool) -> ArrayRef {
    if zero_nulls {
        let out: Float64Array = cents
            .iter()
            .map(|c| Some(c.map_or(0.0, |c| c as f64 / 100.0)))
            .collect();
        return Arc::new(out);
    }
    Arc::new(cents.unary::<_, Float64Type>(|c| c as f64 / 100.0))
}

/// Seconds since the epoch of the local wall time of a UTC instant (in seconds).
fn local_seconds(utc_seconds: i64, tz: Tz) -> Option<i64> {
    let instant = chrono::DateTime::from_timestamp(utc_seconds, 0)?;
    let offset = tz
        .offset_from_utc_datetime(&instant.naive_utc())
        .fix()
        .local_minus_utc();
    utc_seconds.checked_add(i64::from(offset))
}
