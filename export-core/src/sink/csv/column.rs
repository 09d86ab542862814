//! Column encoders: each Arrow column of a batch is downcast once into a typed accessor, then
//! each cell is formatted into a reused scratch buffer (or borrowed, for strings).

use std::cell::RefCell;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{
    Array, ArrowPrimitiveType, BinaryViewArray, BooleanArray, FixedSizeBinaryArray,
    FixedSizeListArray, GenericBinaryArray, GenericStringArray, StringViewArray,
};
use arrow_buffer::{NullBuffer, i256};
use arrow_schema::{DataType, TimeUnit};
use chrono::format::Item;
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::text;
use crate::error::{ExportError, Result};
use crate::temporal::{column_time_zone, date32_to_naive, time_to_naive, timestamp_to_utc};

/// How cells are rendered: the dialect options that touch values (quoting lives elsewhere).
#[derive(Debug, Clone)]
pub(crate) struct CellFormat {
    pub true_text: String,
    pub false_text: String,
    pub decimal: u8,
    pub timestamp: Option<Vec<Item<'static>>>,
    pub date: Option<Vec<Item<'static>>>,
    pub time: Option<Vec<Item<'static>>>,
}

/// The rendering of top-level cells, and the one used inside nested JSON text.
#[derive(Debug, Clone)]
pub(crate) struct Formats {
    pub csv: CellFormat,
    pub json: CellFormat,
}

impl Formats {
    /// `csv` for top-level cells; inside JSON, booleans are `true`/`false` and the decimal point
    /// is `.`, temporal formats are the same.
    pub fn new(csv: CellFormat) -> Formats {
        let json = CellFormat {
            true_text: "true".into(),
            false_text: "false".into(),
            decimal: b'.',
            ..csv.clone()
        };
        Formats { csv, json }
    }
}

/// What a cell turned out to be; decides quoting (`NonNumeric`) and the formula guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cell<'a> {
    /// A null: the sink writes its null text.
    Null,
    /// A number, in the scratch buffer.
    Number,
    /// A boolean, in the scratch buffer.
    Bool,
    /// User text, borrowed from the array: subject to the formula guard.
    Text(&'a str),
    /// Other non-numeric text (dates, hex, JSON) in the scratch buffer: never guarded.
    Formatted,
}

/// The zone a timestamp column is shown in.
#[derive(Debug, Clone, Copy)]
enum Zone {
    /// No zone: naive wall-clock values.
    Naive,
    Named(Tz),
    Fixed(FixedOffset),
}

impl Zone {
    /// `Some(None)` for naive values, `Some(Some(seconds east))` for UTC and fixed offsets,
    /// `None` for zones whose offset changes.
    #[inline]
    fn constant_offset(self) -> Option<Option<i32>> {
        match self {
            Zone::Naive => Some(None),
            Zone::Named(Tz::UTC | Tz::Etc__UTC) => Some(Some(0)),
            Zone::Fixed(off) => Some(Some(off.local_minus_utc())),
            Zone::Named(_) => None,
        }
    }
}

/// A timestamp as whole seconds since the epoch (floored) and nanoseconds.
#[inline]
fn split_epoch(value: i64, unit: TimeUnit) -> (i64, u32) {
    let per_second: i64 = match unit {
        TimeUnit::Second => return (value, 0),
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    };
    let nanos = value.rem_euclid(per_second) * (1_000_000_000 / per_second);
    (value.div_euclid(per_second), nanos as u32)
}

/// A column downcast once per batch.
pub(crate) struct Encoder<'a> {
    name: &'a str,
    nulls: Option<&'a NullBuffer>,
    kind: Kind<'a>,
}

enum Kind<'a> {
    Null,
    Bool(&'a BooleanArray),
    I8(&'a [i8]),
    I16(&'a [i16]),
    I32(&'a [i32]),
    I64(&'a [i64]),
    U8(&'a [u8]),
    U16(&'a [u16]),
    U32(&'a [u32]),
    U64(&'a [u64]),
    F16(&'a [F16]),
    F32(&'a [f32]),
    F64(&'a [f64]),
    Dec32(&'a [i32], i8),
    Dec64(&'a [i64], i8),
    Dec128(&'a [i128], i8),
    Dec256(&'a [i256], i8),
    Str(&'a GenericStringArray<i32>),
    LargeStr(&'a GenericStringArray<i64>),
    StrView(&'a StringViewArray),
    Bin(&'a GenericBinaryArray<i32>),
    LargeBin(&'a GenericBinaryArray<i64>),
    BinView(&'a BinaryViewArray),
    FixedBin(&'a FixedSizeBinaryArray),
    Date32(&'a [i32]),
    Date64(&'a [i64]),
    Time32(&'a [i32], TimeUnit),
    Time64(&'a [i64], TimeUnit),
    Timestamp(&'a [i64], TimeUnit, Zone),
    Duration(&'a [i64], TimeUnit),
    Dict {
        keys: Vec<usize>,
        values: Box<Encoder<'a>>,
    },
    Nested(Box<Json<'a>>, RefCell<Vec<u8>>),
}

type F16 = <Float16Type as ArrowPrimitiveType>::Native;

fn unsupported(name: &str, data_type: &DataType) -> ExportError {
    ExportError::Encode {
        format: "csv",
        reason: format!("column `{name}` has type {data_type}, which the CSV sink cannot write"),
    }
}

fn prim<'a, T: ArrowPrimitiveType>(array: &'a dyn Array, name: &str) -> Result<&'a [T::Native]> {
    array
        .as_primitive_opt::<T>()
        .map(|a| &**a.values())
        .ok_or_else(|| unsupported(name, array.data_type()))
}

/// Parses a timestamp column's zone label: an IANA name via [`column_time_zone`], or a fixed
/// offset such as `+02:00`, `-0530` or `+02`.
fn parse_zone(label: &str) -> Result<Zone> {
    match column_time_zone(Some(label)) {
        Ok(tz) => Ok(Zone::Named(tz)),
        Err(err) => parse_fixed_offset(label).map(Zone::Fixed).ok_or(err),
    }
}

fn parse_fixed_offset(label: &str) -> Option<FixedOffset> {
    let bytes = label.as_bytes();
    let sign = match bytes.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let rest = &bytes[1..];
    let (hh, mm): (&[u8], &[u8]) = match rest.len() {
        2 => (rest, b"00"),
        4 => (&rest[..2], &rest[2..]),
        5 if rest[2] == b':' => (&rest[..2], &rest[3..]),
        _ => return None,
    };
    if !hh.iter().chain(mm).all(u8::is_ascii_digit) {
        return None;
    }
    let num = |d: &[u8]| d.iter().fold(0i32, |acc, b| acc * 10 + i32::from(b - b'0'));
    let (hours, minutes) = (num(hh), num(mm));
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

fn unit_nanos(unit: TimeUnit) -> i128 {
    match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    }
}

impl<'a> Encoder<'a> {
    /// Downcasts `array` (column `name`).
    ///
    /// # Errors
    ///
    /// [`ExportError::Encode`] naming the column and type when the type is not supported;
    /// [`ExportError::InvalidRequest`] when a timestamp's zone is unknown.
    pub fn new(array: &'a dyn Array, name: &'a str) -> Result<Encoder<'a>> {
        let dt = array.data_type();
        let kind = match dt {
            DataType::Null => Kind::Null,
            DataType::Boolean => Kind::Bool(
                array
                    .as_boolean_opt()
                    .ok_or_else(|| unsupported(name, dt))?,
            ),
            DataType::Int8 => Kind::I8(prim::<Int8Type>(array, name)?),
            DataType::Int16 => Kind::I16(prim::<Int16Type>(array, name)?),
            DataType::Int32 => Kind::I32(prim::<Int32Type>(array, name)?),
            DataType::Int64 => Kind::I64(prim::<Int64Type>(array, name)?),
            DataType::UInt8 => Kind::U8(prim::<UInt8Type>(array, name)?),
            DataType::UInt16 => Kind::U16(prim::<UInt16Type>(array, name)?),
            DataType::UInt32 => Kind::U32(prim::<UInt32Type>(array, name)?),
            DataType::UInt64 => Kind::U64(prim::<UInt64Type>(array, name)?),
            DataType::Float16 => Kind::F16(prim::<Float16Type>(array, name)?),
            DataType::Float32 => Kind::F32(prim::<Float32Type>(array, name)?),
            DataType::Float64 => Kind::F64(prim::<Float64Type>(array, name)?),
            DataType::Decimal32(_, s) => Kind::Dec32(prim::<Decimal32Type>(array, name)?, *s),
            DataType::Decimal64(_, s) => Kind::Dec64(prim::<Decimal64Type>(array, name)?, *s),
            DataType::Decimal128(_, s) => Kind::Dec128(prim::<Decimal128Type>(array, name)?, *s),
            DataType::Decimal256(_, s) => Kind::Dec256(prim::<Decimal256Type>(array, name)?, *s),
            DataType::Utf8 => Kind::Str(
                array
                    .as_string_opt::<i32>()
                    .ok_or_else(|| unsupported(name, dt))?,
            ),
            DataType::LargeUtf8 => Kind::LargeStr(
                array
                    .as_string_opt::<i64>()
                    .ok_or_else(|| unsupported(name, dt))?,
            ),
            DataType::Utf8View => Kind::StrView(
                array
                    .as_string_view_opt()
                    .ok_or_else(|| unsupported(name, dt))?,
            ),
            DataType::Binary => Kind::Bin(
                array
                    .as_binary_opt::<i32>()
                    .ok_or_else(|| unsupported(name, dt))?,
            ),
            DataType::LargeBinary => Kind::LargeBin(
                array
                    .as_binary_opt::<i64>()
                    .ok_or_else(|| unsupported(name, dt))?,
            ),
            DataType::BinaryView => Kind::BinView(
                array
                    .as_binary_view_opt()
                    .ok_or_else(|| unsupported(name, dt))?,
            ),
            DataType::FixedSizeBinary(_) => Kind::FixedBin(
                array
                    .as_fixed_size_binary_opt()
                    .ok_or_else(|| unsupported(name, dt))?,
            ),
            DataType::Date32 => Kind::Date32(prim::<Date32Type>(array, name)?),
            DataType::Date64 => Kind::Date64(prim::<Date64Type>(array, name)?),
            DataType::Time32(TimeUnit::Second) => {
                Kind::Time32(prim::<Time32SecondType>(array, name)?, TimeUnit::Second)
            }
            DataType::Time32(TimeUnit::Millisecond) => Kind::Time32(
                prim::<Time32MillisecondType>(array, name)?,
                TimeUnit::Millisecond,
            ),
            DataType::Time64(TimeUnit::Microsecond) => Kind::Time64(
                prim::<Time64MicrosecondType>(array, name)?,
                TimeUnit::Microsecond,
            ),
            DataType::Time64(TimeUnit::Nanosecond) => Kind::Time64(
                prim::<Time64NanosecondType>(array, name)?,
                TimeUnit::Nanosecond,
            ),
            DataType::Timestamp(unit, tz) => {
                let zone = match tz {
                    None => Zone::Naive,
                    Some(label) => parse_zone(label)?,
                };
                let values = match unit {
                    TimeUnit::Second => prim::<TimestampSecondType>(array, name)?,
                    TimeUnit::Millisecond => prim::<TimestampMillisecondType>(array, name)?,
                    TimeUnit::Microsecond => prim::<TimestampMicrosecondType>(array, name)?,
                    TimeUnit::Nanosecond => prim::<TimestampNanosecondType>(array, name)?,
                };
                Kind::Timestamp(values, *unit, zone)
            }
            DataType::Duration(unit) => {
                let values = match unit {
                    TimeUnit::Second => prim::<DurationSecondType>(array, name)?,
                    TimeUnit::Millisecond => prim::<DurationMillisecondType>(array, name)?,
                    TimeUnit::Microsecond => prim::<DurationMicrosecondType>(array, name)?,
                    TimeUnit::Nanosecond => prim::<DurationNanosecondType>(array, name)?,
                };
                Kind::Duration(values, *unit)
            }
            DataType::Dictionary(_, _) => {
                let dict = array
                    .as_any_dictionary_opt()
                    .ok_or_else(|| unsupported(name, dt))?;
                let values = Encoder::new(dict.values().as_ref(), name)?;
                // With no values every key must be null; avoid `normalized_keys`' panic.
                let keys = if dict.values().is_empty() {
                    vec![0; array.len()]
                } else {
                    dict.normalized_keys()
                };
                Kind::Dict {
                    keys,
                    values: Box::new(values),
                }
            }
            DataType::Struct(_)
            | DataType::List(_)
            | DataType::LargeList(_)
            | DataType::FixedSizeList(_, _)
            | DataType::Map(_, _) => {
                Kind::Nested(Box::new(Json::new(array, name)?), RefCell::default())
            }
            other => return Err(unsupported(name, other)),
        };
        Ok(Encoder {
            name,
            nulls: array.nulls(),
            kind,
        })
    }

    fn out_of_range(&self, row: usize, what: &str) -> ExportError {
        ExportError::InvalidValue {
            column: self.name.to_string(),
            row,
            reason: format!("{what} is out of the representable range"),
        }
    }

    fn bad_format(&self, what: &str) -> ExportError {
        ExportError::InvalidRequest {
            field: format!("{what}_format"),
            reason: format!(
                "the format cannot render column `{}` (a zone field such as %z on a value without zone?)",
                self.name
            ),
        }
    }

    /// Appends a non-null integer or float cell straight to `out` (no scratch copy) and returns
    /// true; returns false, writing nothing, for every other cell. Only for dialects where a
    /// number is written as it is (never quoted).
    #[inline]
    pub fn push_number(&self, row: usize, decimal: u8, out: &mut Vec<u8>) -> bool {
        if let Some(nulls) = self.nulls
            && nulls.is_null(row)
        {
            return false;
        }
        macro_rules! int {
            ($v:expr) => {{
                let mut b = itoa::Buffer::new();
                out.extend_from_slice(b.format($v[row]).as_bytes());
                true
            }};
        }
        match &self.kind {
            Kind::I8(v) => int!(v),
            Kind::I16(v) => int!(v),
            Kind::I32(v) => int!(v),
            Kind::I64(v) => int!(v),
            Kind::U8(v) => int!(v),
            Kind::U16(v) => int!(v),
            Kind::U32(v) => int!(v),
            Kind::U64(v) => int!(v),
            Kind::F32(v) => {
                push_float32(out, v[row], decimal);
                true
            }
            Kind::F64(v) => {
                push_float64(out, v[row], decimal);
                true
            }
            _ => false,
        }
    }

    /// Appends a non-null timestamp of a UTC, fixed-offset or zone-less column in the default
    /// format straight to `out` and returns true; returns false, writing nothing, otherwise.
    /// Only for dialects where such text is never quoted.
    #[inline]
    pub fn push_plain_timestamp(&self, row: usize, fmt: &CellFormat, out: &mut Vec<u8>) -> bool {
        let Kind::Timestamp(v, unit, zone) = &self.kind else {
            return false;
        };
        if fmt.timestamp.is_some() || self.nulls.is_some_and(|n| n.is_null(row)) {
            return false;
        }
        let Some(offset) = zone.constant_offset() else {
            return false;
        };
        let (secs, nanos) = split_epoch(v[row], *unit);
        let local = secs.saturating_add(i64::from(offset.unwrap_or(0)));
        if !text::push_epoch_datetime(out, local, nanos) {
            return false;
        }
        if let Some(offset) = offset {
            text::push_offset(out, offset);
        }
        true
    }

    /// Formats the cell at `row`. Numbers, booleans and formatted values are written to
    /// `scratch` (cleared first); strings are borrowed.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidValue`] for a date or time outside chrono's range;
    /// [`ExportError::InvalidRequest`] when a custom format cannot render the value.
    #[inline]
    pub fn cell(
        &self,
        row: usize,
        formats: &Formats,
        json: bool,
        scratch: &mut Vec<u8>,
    ) -> Result<Cell<'a>> {
        scratch.clear();
        let fmt = if json { &formats.json } else { &formats.csv };
        if let Some(nulls) = self.nulls
            && nulls.is_null(row)
        {
            return Ok(Cell::Null);
        }
        let cell = match &self.kind {
            Kind::Null => Cell::Null,
            Kind::Bool(a) => {
                let text = if a.value(row) {
                    &fmt.true_text
                } else {
                    &fmt.false_text
                };
                scratch.extend_from_slice(text.as_bytes());
                Cell::Bool
            }
            Kind::I8(_)
            | Kind::I16(_)
            | Kind::I32(_)
            | Kind::I64(_)
            | Kind::U8(_)
            | Kind::U16(_)
            | Kind::U32(_)
            | Kind::U64(_)
            | Kind::F32(_)
            | Kind::F64(_) => {
                self.push_number(row, fmt.decimal, scratch);
                Cell::Number
            }
            Kind::F16(v) => push_float32(scratch, v[row].to_f32(), fmt.decimal),
            Kind::Dec32(v, s) => push_decimal(scratch, i128::from(v[row]), *s, fmt.decimal),
            Kind::Dec64(v, s) => push_decimal(scratch, i128::from(v[row]), *s, fmt.decimal),
            Kind::Dec128(v, s) => push_decimal(scratch, v[row], *s, fmt.decimal),
            Kind::Dec256(v, s) => {
                let value = v[row];
                let negative = value < i256::ZERO;
                let text = value.to_string();
                let digits = text.trim_start_matches('-');
                text::push_scaled(scratch, negative, digits.as_bytes(), *s, fmt.decimal);
                Cell::Number
            }
            Kind::Str(a) => Cell::Text(a.value(row)),
            Kind::LargeStr(a) => Cell::Text(a.value(row)),
            Kind::StrView(a) => Cell::Text(a.value(row)),
            Kind::Bin(a) => hex(scratch, a.value(row)),
            Kind::LargeBin(a) => hex(scratch, a.value(row)),
            Kind::BinView(a) => hex(scratch, a.value(row)),
            Kind::FixedBin(a) => hex(scratch, a.value(row)),
            Kind::Date32(v) => {
                let date = date32_to_naive(v[row]).ok_or_else(|| self.out_of_range(row, "date"))?;
                self.date(scratch, date, fmt)?
            }
            Kind::Date64(v) => {
                let date = DateTime::from_timestamp_millis(v[row])
                    .ok_or_else(|| self.out_of_range(row, "date"))?
                    .date_naive();
                self.date(scratch, date, fmt)?
            }
            Kind::Time32(v, unit) => {
                let t = time_to_naive(i64::from(v[row]), *unit)
                    .ok_or_else(|| self.out_of_range(row, "time of day"))?;
                self.time(scratch, t, fmt)?
            }
            Kind::Time64(v, unit) => {
                let t = time_to_naive(v[row], *unit)
                    .ok_or_else(|| self.out_of_range(row, "time of day"))?;
                self.time(scratch, t, fmt)?
            }
            Kind::Timestamp(v, unit, zone) => {
                if fmt.timestamp.is_none()
                    && let Some(offset) = zone.constant_offset()
                {
                    // UTC, fixed offsets and naive values: no zone lookup, no chrono.
                    let (secs, nanos) = split_epoch(v[row], *unit);
                    let local = secs.saturating_add(i64::from(offset.unwrap_or(0)));
                    if text::push_epoch_datetime(scratch, local, nanos) {
                        if let Some(offset) = offset {
                            text::push_offset(scratch, offset);
                        }
                        return Ok(Cell::Formatted);
                    }
                }
                let utc = timestamp_to_utc(v[row], *unit)
                    .ok_or_else(|| self.out_of_range(row, "timestamp"))?;
                self.timestamp(scratch, utc, *zone, fmt)?
            }
            Kind::Duration(v, unit) => {
                text::push_duration(scratch, i128::from(v[row]) * unit_nanos(*unit));
                Cell::Formatted
            }
            Kind::Dict { keys, values } => {
                return values.cell(keys[row], formats, json, scratch);
            }
            Kind::Nested(node, leaf) => {
                let mut leaf = leaf.borrow_mut();
                node.write(row, formats, scratch, &mut leaf)?;
                Cell::Formatted
            }
        };
        Ok(cell)
    }

    fn date(
        &self,
        out: &mut Vec<u8>,
        date: chrono::NaiveDate,
        fmt: &CellFormat,
    ) -> Result<Cell<'a>> {
        match &fmt.date {
            None => text::push_date(out, date),
            Some(items) => {
                if !text::push_items(out, date.format_with_items(items.iter())) {
                    return Err(self.bad_format("date"));
                }
            }
        }
        Ok(Cell::Formatted)
    }

    fn time(
        &self,
        out: &mut Vec<u8>,
        time: chrono::NaiveTime,
        fmt: &CellFormat,
    ) -> Result<Cell<'a>> {
        match &fmt.time {
            None => text::push_time(out, time),
            Some(items) => {
                if !text::push_items(out, time.format_with_items(items.iter())) {
                    return Err(self.bad_format("time"));
                }
            }
        }
        Ok(Cell::Formatted)
    }

    fn timestamp(
        &self,
        out: &mut Vec<u8>,
        utc: DateTime<Utc>,
        zone: Zone,
        fmt: &CellFormat,
    ) -> Result<Cell<'a>> {
        let ok = match (zone, &fmt.timestamp) {
            (Zone::Naive, None) => {
                text::push_datetime(out, utc.naive_utc());
                true
            }
            (Zone::Named(tz), None) => {
                let local = tz.from_utc_datetime(&utc.naive_utc());
                push_zoned(out, local.naive_local(), local.offset());
                true
            }
            (Zone::Fixed(off), None) => {
                let local = off.from_utc_datetime(&utc.naive_utc());
                push_zoned(out, local.naive_local(), local.offset());
                true
            }
            (Zone::Naive, Some(items)) => text::push_items(
                out,
                NaiveDateTime::format_with_items(&utc.naive_utc(), items.iter()),
            ),
            (Zone::Named(tz), Some(items)) => text::push_items(
                out,
                tz.from_utc_datetime(&utc.naive_utc())
                    .format_with_items(items.iter()),
            ),
            (Zone::Fixed(off), Some(items)) => text::push_items(
                out,
                off.from_utc_datetime(&utc.naive_utc())
                    .format_with_items(items.iter()),
            ),
        };
        if ok {
            Ok(Cell::Formatted)
        } else {
            Err(self.bad_format("timestamp"))
        }
    }
}

fn push_zoned(out: &mut Vec<u8>, local: NaiveDateTime, offset: &impl chrono::Offset) {
    text::push_datetime(out, local);
    text::push_offset(out, offset.fix().local_minus_utc());
}

#[inline]
fn hex<'a>(out: &mut Vec<u8>, bytes: &[u8]) -> Cell<'a> {
    text::push_hex(out, bytes);
    Cell::Formatted
}

/// Replaces the `.` zmij wrote with `separator`.
#[inline]
fn set_separator(out: &mut [u8], start: usize, separator: u8) {
    if separator != b'.'
        && let Some(dot) = out[start..].iter_mut().find(|b| **b == b'.')
    {
        *dot = separator;
    }
}

/// zmij's shortest round-trip text; `NaN`, `inf` and `-inf` for non-finite values.
#[inline]
fn push_float64<'a>(out: &mut Vec<u8>, v: f64, separator: u8) -> Cell<'a> {
    let start = out.len();
    let mut b = zmij::Buffer::new();
    crate::sink::json::push_shortest(out, b.format(v).as_bytes());
    set_separator(out, start, separator);
    Cell::Number
}

#[inline]
fn push_float32<'a>(out: &mut Vec<u8>, v: f32, separator: u8) -> Cell<'a> {
    let start = out.len();
    let mut b = zmij::Buffer::new();
    crate::sink::json::push_shortest(out, b.format(v).as_bytes());
    set_separator(out, start, separator);
    Cell::Number
}

#[inline]
fn push_decimal<'a>(out: &mut Vec<u8>, v: i128, scale: i8, separator: u8) -> Cell<'a> {
    let mut b = itoa::Buffer::new();
    let digits = b.format(v.unsigned_abs());
    text::push_scaled(out, v < 0, digits.as_bytes(), scale, separator);
    Cell::Number
}

/// A nested column (struct, list, map), rendered as compact JSON text.
pub(crate) enum Json<'a> {
    /// A scalar, rendered through an [`Encoder`] then JSON-quoted when not a number or boolean.
    Leaf(Encoder<'a>),
    Struct {
        nulls: Option<&'a NullBuffer>,
        fields: Vec<(&'a str, Json<'a>)>,
    },
    List {
        nulls: Option<&'a NullBuffer>,
        offsets: Offsets<'a>,
        child: Box<Json<'a>>,
    },
    Map {
        nulls: Option<&'a NullBuffer>,
        offsets: &'a [i32],
        keys: Box<Json<'a>>,
        values: Box<Json<'a>>,
    },
}

pub(crate) enum Offsets<'a> {
    Small(&'a [i32]),
    Large(&'a [i64]),
    Fixed(&'a FixedSizeListArray),
}

impl Offsets<'_> {
    fn range(&self, row: usize) -> std::ops::Range<usize> {
        match self {
            Offsets::Small(o) => o[row] as usize..o[row + 1] as usize,
            Offsets::Large(o) => o[row] as usize..o[row + 1] as usize,
            Offsets::Fixed(a) => {
                let start = a.value_offset_at(row);
                start..start + a.value_length() as usize
            }
        }
    }
}

impl<'a> Json<'a> {
    /// Builds the JSON renderer of `array` (column `name`).
    ///
    /// # Errors
    ///
    /// [`ExportError::Encode`] naming the column when a nested type is not supported.
    pub fn new(array: &'a dyn Array, name: &'a str) -> Result<Json<'a>> {
        let dt = array.data_type();
        let nulls = array.nulls();
        Ok(match dt {
            DataType::Struct(_) => {
                let s = array.as_struct_opt().ok_or_else(|| unsupported(name, dt))?;
                let fields = s
                    .fields()
                    .iter()
                    .zip(s.columns())
                    .map(|(f, c)| Ok((f.name().as_str(), Json::new(c.as_ref(), name)?)))
                    .collect::<Result<Vec<_>>>()?;
                Json::Struct { nulls, fields }
            }
            DataType::List(_) => {
                let l = array
                    .as_list_opt::<i32>()
                    .ok_or_else(|| unsupported(name, dt))?;
                Json::List {
                    nulls,
                    offsets: Offsets::Small(l.value_offsets()),
                    child: Box::new(Json::new(l.values().as_ref(), name)?),
                }
            }
            DataType::LargeList(_) => {
                let l = array
                    .as_list_opt::<i64>()
                    .ok_or_else(|| unsupported(name, dt))?;
                Json::List {
                    nulls,
                    offsets: Offsets::Large(l.value_offsets()),
                    child: Box::new(Json::new(l.values().as_ref(), name)?),
                }
            }
            DataType::FixedSizeList(_, _) => {
                let l = array
                    .as_fixed_size_list_opt()
                    .ok_or_else(|| unsupported(name, dt))?;
                Json::List {
                    nulls,
                    offsets: Offsets::Fixed(l),
                    child: Box::new(Json::new(l.values().as_ref(), name)?),
                }
            }
            DataType::Map(_, _) => {
                let m = array.as_map_opt().ok_or_else(|| unsupported(name, dt))?;
                Json::Map {
                    nulls,
                    offsets: m.value_offsets(),
                    keys: Box::new(Json::new(m.keys().as_ref(), name)?),
                    values: Box::new(Json::new(m.values().as_ref(), name)?),
                }
            }
            _ => Json::Leaf(Encoder::new(array, name)?),
        })
    }

    /// Appends the JSON text of `row` to `out`; `scratch` holds leaf values.
    ///
    pub fn write(
        &self,
        row: usize,
        fmt: &Formats,
        out: &mut Vec<u8>,
        scratch: &mut Vec<u8>,
    ) -> Result<()> {
        let is_null = |nulls: &Option<&NullBuffer>| nulls.is_some_and(|n| n.is_null(row));
        match self {
            Json::Leaf(enc) => match enc.cell(row, fmt, true, scratch)? {
                Cell::Null => out.extend_from_slice(b"null"),
                Cell::Number => {
                    // JSON has no NaN or infinity.
                    if matches!(scratch.as_slice(), b"NaN" | b"inf" | b"-inf") {
                        out.extend_from_slice(b"null");
                    } else {
                        out.extend_from_slice(scratch);
                    }
                }
                Cell::Bool => out.extend_from_slice(scratch),
                Cell::Text(text) => json_string(out, text.as_bytes()),
                Cell::Formatted => json_string(out, scratch),
            },
            Json::Struct { nulls, fields } => {
                if is_null(nulls) {
                    out.extend_from_slice(b"null");
                    return Ok(());
                }
                out.push(b'{');
                for (i, (name, field)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    json_string(out, name.as_bytes());
                    out.push(b':');
                    field.write(row, fmt, out, scratch)?;
                }
                out.push(b'}');
            }
            Json::List {
                nulls,
                offsets,
                child,
            } => {
                if is_null(nulls) {
                    out.extend_from_slice(b"null");
                    return Ok(());
                }
                out.push(b'[');
                for (i, item) in offsets.range(row).enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    child.write(item, fmt, out, scratch)?;
                }
                out.push(b']');
            }
            Json::Map {
                nulls,
                offsets,
                keys,
                values,
            } => {
                if is_null(nulls) {
                    out.extend_from_slice(b"null");
                    return Ok(());
                }
                out.push(b'{');
                let range = offsets[row] as usize..offsets[row + 1] as usize;
                for (i, entry) in range.enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    // Object keys are strings: render the key, then quote its text.
                    let start = out.len();
                    keys.write(entry, fmt, out, scratch)?;
                    if out.get(start) != Some(&b'"') {
                        let key = out.split_off(start);
                        json_string(out, &key);
                    }
                    out.push(b':');
                    values.write(entry, fmt, out, scratch)?;
                }
                out.push(b'}');
            }
        }
        Ok(())
    }
}

/// Appends `bytes` (UTF-8) as a JSON string literal.
fn json_string(out: &mut Vec<u8>, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    // Serialising a str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text.as_ref());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_offsets() {
        assert_eq!(
            parse_fixed_offset("+02:00").map(|o| o.local_minus_utc()),
            Some(7200)
        );
        assert_eq!(
            parse_fixed_offset("-0530").map(|o| o.local_minus_utc()),
            Some(-19800)
        );
        assert_eq!(
            parse_fixed_offset("+01").map(|o| o.local_minus_utc()),
            Some(3600)
        );
        assert_eq!(parse_fixed_offset("Paris"), None);
        assert_eq!(parse_fixed_offset("+1:2"), None);
    }
}
