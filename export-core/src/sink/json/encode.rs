//! Column encoders: each Arrow column of a batch is downcast once into an [`Encoder`], a typed
//! accessor that appends one value's JSON text to the sink's buffer.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type,
    DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType, DurationSecondType,
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, BinaryArray, BinaryViewArray, BooleanArray, FixedSizeBinaryArray, FixedSizeListArray,
    Float16Array, LargeBinaryArray, LargeStringArray, StringArray, StringViewArray,
};
use arrow_buffer::{NullBuffer, i256};
use arrow_schema::{DataType, Fields, TimeUnit};
use chrono::{DateTime, Offset, TimeZone};
use chrono_tz::Tz;

use super::text;
use crate::error::{ExportError, Result};
use crate::temporal;

/// Options that change how values are written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Style {
    /// Write null object members as `null` (true) or leave them out (false).
    pub explicit_nulls: bool,
}

/// The zone a timestamp column is written in.
#[derive(Debug, Clone, Copy)]
enum Zone {
    /// No zone: a naive local date-time, no offset.
    Naive,
    /// UTC: written with `Z`.
    Utc,
    /// A fixed offset in seconds east of UTC (`+05:30`).
    Fixed(i32),
    /// An IANA zone; the offset is looked up per value.
    Named(Tz),
}

/// One member of a JSON object: its key, already escaped, quoted and followed by `:`.
pub(crate) struct Member<'a> {
    key: Vec<u8>,
    encoder: Encoder<'a>,
}

/// A typed view of one column (or nested child) of a batch.
pub(crate) struct Encoder<'a> {
    nulls: Option<&'a NullBuffer>,
    kind: Kind<'a>,
}

enum Kind<'a> {
    Null,
    Boolean(&'a BooleanArray),
    Int8(&'a [i8]),
    Int16(&'a [i16]),
    Int32(&'a [i32]),
    Int64(&'a [i64]),
    UInt8(&'a [u8]),
    UInt16(&'a [u16]),
    UInt32(&'a [u32]),
    UInt64(&'a [u64]),
    Float16(&'a Float16Array),
    Float32(&'a [f32]),
    Float64(&'a [f64]),
    Decimal32(&'a [i32], i8),
    Decimal64(&'a [i64], i8),
    Decimal128(&'a [i128], i8),
    Decimal256(&'a [i256], i8),
    Utf8(&'a StringArray),
    LargeUtf8(&'a LargeStringArray),
    Utf8View(&'a StringViewArray),
    Binary(&'a BinaryArray),
    LargeBinary(&'a LargeBinaryArray),
    BinaryView(&'a BinaryViewArray),
    FixedSizeBinary(&'a FixedSizeBinaryArray),
    Date32(&'a [i32]),
    Date64(&'a [i64]),
    /// Time of day: values and nanoseconds per unit.
    Time32(&'a [i32], i64, String),
    Time64(&'a [i64], i64, String),
    Timestamp {
        values: &'a [i64],
        unit: TimeUnit,
        zone: Zone,
        path: String,
    },
    /// Durations: values and nanoseconds per unit.
    Duration(&'a [i64], i128),
    Struct(Vec<Member<'a>>),
    List(&'a [i32], Box<Encoder<'a>>),
    LargeList(&'a [i64], Box<Encoder<'a>>),
    FixedSizeList(&'a FixedSizeListArray, usize, Box<Encoder<'a>>),
    Map {
        offsets: &'a [i32],
        keys: Box<Encoder<'a>>,
        key_style: KeyStyle,
        values: Box<Encoder<'a>>,
        path: String,
    },
    Dictionary(Vec<usize>, Box<Encoder<'a>>),
    /// JSON texts ([`JSON_EXTENSION`](crate::sink::JSON_EXTENSION)), written as the values
    /// they hold once checked to be JSON; the path names the column in errors.
    JsonText(Box<Encoder<'a>>, String),
}

/// How a map key becomes an object key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyStyle {
    /// The value is already written as a JSON string.
    String,
    /// A bare number or boolean, to be wrapped in quotes.
    Bare,
}

fn unsupported(path: &str, data_type: &DataType, why: &str) -> ExportError {
    ExportError::Encode {
        format: "json",
        reason: format!("column `{path}` has type {data_type}, {why}"),
    }
}

fn invalid(path: &str, row: usize, reason: String) -> ExportError {
    ExportError::InvalidValue {
        column: path.to_string(),
        row,
        reason,
    }
}

/// The JSON key `"name":` of a field.
pub(crate) fn member_key(name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 3);
    text::write_str(&mut key, name);
    key.push(b':');
    key
}

/// The zone of a timestamp column from its Arrow label: none, `UTC`, a fixed offset (`+05:30`,
/// `-0800`, `+02`) or an IANA name.
fn zone_of(label: Option<&str>, path: &str, data_type: &DataType) -> Result<Zone> {
    let Some(label) = label else {
        return Ok(Zone::Naive);
    };
    if matches!(label, "UTC" | "Z" | "+00:00" | "Etc/UTC") {
        return Ok(Zone::Utc);
    }
    if let Some(offset) = parse_fixed_offset(label) {
        return Ok(Zone::Fixed(offset));
    }
    temporal::column_time_zone(Some(label))
        .map(Zone::Named)
        .map_err(|_| unsupported(path, data_type, "whose time zone is unknown"))
}

/// Parses `+HH:MM`, `+HHMM` or `+HH` (or with `-`) to seconds east of UTC.
fn parse_fixed_offset(label: &str) -> Option<i32> {
    let (sign, rest) = match label.as_bytes().first()? {
        b'+' => (1, &label[1..]),
        b'-' => (-1, &label[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !matches!(digits.len(), 2 | 4) {
        return None;
    }
    let hours: i32 = digits.get(0..2)?.parse().ok()?;
    let minutes: i32 = digits
        .get(2..)
        .filter(|m| !m.is_empty())
        .map_or(Some(0), |m| m.parse().ok())?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

fn unit_nanos(unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    }
}

/// The members of a row object, one per field of `fields`.
pub(crate) fn members<'a>(
    fields: &Fields,
    columns: impl IntoIterator<Item = &'a dyn Array>,
    parent: Option<&str>,
) -> Result<Vec<Member<'a>>> {
    fields
        .iter()
        .zip(columns)
        .map(|(field, column)| {
            let path = match parent {
                Some(parent) => format!("{parent}.{}", field.name()),
                None => field.name().clone(),
            };
            let encoder = if crate::sink::is_json_text(field) {
                Encoder::json_text(column, &path)
            } else {
                Encoder::new(column, &path)?
            };
            Ok(Member {
                key: member_key(field.name()),
                encoder,
            })
        })
        .collect()
}

macro_rules! primitive {
    ($array:expr, $type:ty) => {
        $array.as_primitive::<$type>().values().as_ref()
    };
}

impl<'a> Encoder<'a> {
    /// An encoder of a JSON text column (`is_json_text` checked its type is a string one).
    fn json_text(array: &'a dyn Array, path: &str) -> Encoder<'a> {
        let text = Encoder::new(array, path).expect("string arrays always have an encoder");
        Encoder {
            nulls: text.nulls,
            kind: Kind::JsonText(Box::new(text), path.to_string()),
        }
    }

    /// Downcasts `array` once; `path` names the column in errors (`supplier.name`).
    ///
    /// # Errors
    ///
    /// [`ExportError::Encode`] when the type (or a nested type) has no JSON form.
    pub(crate) fn new(array: &'a dyn Array, path: &str) -> Result<Encoder<'a>> {
        let data_type = array.data_type();
        let kind = match data_type {
            DataType::Null => Kind::Null,
            DataType::Boolean => Kind::Boolean(array.as_boolean()),
            DataType::Int8 => Kind::Int8(primitive!(array, Int8Type)),
            DataType::Int16 => Kind::Int16(primitive!(array, Int16Type)),
            DataType::Int32 => Kind::Int32(primitive!(array, Int32Type)),
            DataType::Int64 => Kind::Int64(primitive!(array, Int64Type)),
            DataType::UInt8 => Kind::UInt8(primitive!(array, UInt8Type)),
            DataType::UInt16 => Kind::UInt16(primitive!(array, UInt16Type)),
            DataType::UInt32 => Kind::UInt32(primitive!(array, UInt32Type)),
            DataType::UInt64 => Kind::UInt64(primitive!(array, UInt64Type)),
            DataType::Float16 => Kind::Float16(array.as_primitive::<Float16Type>()),
            DataType::Float32 => Kind::Float32(primitive!(array, Float32Type)),
            DataType::Float64 => Kind::Float64(primitive!(array, Float64Type)),
            DataType::Decimal32(_, scale) => {
                Kind::Decimal32(primitive!(array, Decimal32Type), *scale)
            }
            DataType::Decimal64(_, scale) => {
                Kind::Decimal64(primitive!(array, Decimal64Type), *scale)
            }
            DataType::Decimal128(_, scale) => {
                Kind::Decimal128(primitive!(array, Decimal128Type), *scale)
            }
            DataType::Decimal256(_, scale) => {
                Kind::Decimal256(primitive!(array, Decimal256Type), *scale)
            }
            DataType::Utf8 => Kind::Utf8(array.as_string::<i32>()),
            DataType::LargeUtf8 => Kind::LargeUtf8(array.as_string::<i64>()),
            DataType::Utf8View => Kind::Utf8View(array.as_string_view()),
            DataType::Binary => Kind::Binary(array.as_binary::<i32>()),
            DataType::LargeBinary => Kind::LargeBinary(array.as_binary::<i64>()),
            DataType::BinaryView => Kind::BinaryView(array.as_binary_view()),
            DataType::FixedSizeBinary(_) => Kind::FixedSizeBinary(array.as_fixed_size_binary()),
            DataType::Date32 => Kind::Date32(primitive!(array, Date32Type)),
            DataType::Date64 => Kind::Date64(primitive!(array, Date64Type)),
            DataType::Time32(TimeUnit::Second) => Kind::Time32(
                primitive!(array, Time32SecondType),
                unit_nanos(TimeUnit::Second),
                path.to_string(),
            ),
            DataType::Time32(TimeUnit::Millisecond) => Kind::Time32(
                primitive!(array, Time32MillisecondType),
                unit_nanos(TimeUnit::Millisecond),
                path.to_string(),
            ),
            DataType::Time64(TimeUnit::Microsecond) => Kind::Time64(
                primitive!(array, Time64MicrosecondType),
                unit_nanos(TimeUnit::Microsecond),
                path.to_string(),
            ),
            DataType::Time64(TimeUnit::Nanosecond) => Kind::Time64(
                primitive!(array, Time64NanosecondType),
                unit_nanos(TimeUnit::Nanosecond),
                path.to_string(),
            ),
            DataType::Timestamp(unit, tz) => {
                let values = match unit {
                    TimeUnit::Second => primitive!(array, TimestampSecondType),
                    TimeUnit::Millisecond => primitive!(array, TimestampMillisecondType),
                    TimeUnit::Microsecond => primitive!(array, TimestampMicrosecondType),
                    TimeUnit::Nanosecond => primitive!(array, TimestampNanosecondType),
                };
                Kind::Timestamp {
                    values,
                    unit: *unit,
                    zone: zone_of(tz.as_deref(), path, data_type)?,
                    path: path.to_string(),
                }
            }
            DataType::Duration(unit) => {
                let values = match unit {
                    TimeUnit::Second => primitive!(array, DurationSecondType),
                    TimeUnit::Millisecond => primitive!(array, DurationMillisecondType),
                    TimeUnit::Microsecond => primitive!(array, DurationMicrosecondType),
                    TimeUnit::Nanosecond => primitive!(array, DurationNanosecondType),
                };
                Kind::Duration(values, i128::from(unit_nanos(*unit)))
            }
            DataType::Struct(fields) => {
                let array = array.as_struct();
                Kind::Struct(members(
                    fields,
                    array.columns().iter().map(|c| c.as_ref()),
                    Some(path),
                )?)
            }
            DataType::List(_) => {
                let array = array.as_list::<i32>();
                let child = Encoder::new(array.values().as_ref(), &format!("{path}[]"))?;
                Kind::List(array.value_offsets(), Box::new(child))
            }
            DataType::LargeList(_) => {
                let array = array.as_list::<i64>();
                let child = Encoder::new(array.values().as_ref(), &format!("{path}[]"))?;
                Kind::LargeList(array.value_offsets(), Box::new(child))
            }
            DataType::FixedSizeList(_, size) => {
                let array = array.as_fixed_size_list();
                let child = Encoder::new(array.values().as_ref(), &format!("{path}[]"))?;
                let size = usize::try_from(*size)
                    .map_err(|_| unsupported(path, data_type, "with a negative size"))?;
                Kind::FixedSizeList(array, size, Box::new(child))
            }
            DataType::Map(..) => {
                let array = array.as_map();
                let keys = Encoder::new(array.keys().as_ref(), &format!("{path}.key"))?;
                let key_style = keys.key_style().ok_or_else(|| {
                    unsupported(path, data_type, "whose keys cannot be JSON object keys")
                })?;
                let values = Encoder::new(array.values().as_ref(), &format!("{path}.value"))?;
                Kind::Map {
                    offsets: array.value_offsets(),
                    keys: Box::new(keys),
                    key_style,
                    values: Box::new(values),
                    path: path.to_string(),
                }
            }
            DataType::Dictionary(..) => {
                let array = array.as_any_dictionary();
                let values = Encoder::new(array.values().as_ref(), path)?;
                Kind::Dictionary(array.normalized_keys(), Box::new(values))
            }
            other => {
                return Err(unsupported(
                    path,
                    other,
                    "which JSON output does not support",
                ));
            }
        };
        Ok(Encoder {
            nulls: array.nulls(),
            kind,
        })
    }

    /// How values of this encoder can serve as object keys, if they can.
    fn key_style(&self) -> Option<KeyStyle> {
        match &self.kind {
            Kind::Utf8(_)
            | Kind::LargeUtf8(_)
            | Kind::Utf8View(_)
            | Kind::Binary(_)
            | Kind::LargeBinary(_)
            | Kind::BinaryView(_)
            | Kind::FixedSizeBinary(_)
            | Kind::Date32(_)
            | Kind::Date64(_)
            | Kind::Time32(..)
            | Kind::Time64(..)
            | Kind::Timestamp { .. } => Some(KeyStyle::String),
            Kind::Boolean(_)
            | Kind::Int8(_)
            | Kind::Int16(_)
            | Kind::Int32(_)
            | Kind::Int64(_)
            | Kind::UInt8(_)
            | Kind::UInt16(_)
            | Kind::UInt32(_)
            | Kind::UInt64(_)
            | Kind::Float16(_)
            | Kind::Float32(_)
            | Kind::Float64(_)
            | Kind::Decimal32(..)
            | Kind::Decimal64(..)
            | Kind::Decimal128(..)
            | Kind::Decimal256(..)
            | Kind::Duration(..) => Some(KeyStyle::Bare),
            Kind::Dictionary(_, values) => values.key_style(),
            Kind::Null
            | Kind::Struct(_)
            | Kind::List(..)
            | Kind::LargeList(..)
            | Kind::FixedSizeList(..)
            | Kind::Map { .. }
            | Kind::JsonText(..) => None,
        }
    }

    /// True when the value at `row` is written as `null`: a null slot, a NaN or infinite float,
    /// or a dictionary key pointing at a null value.
    #[inline]
    pub(crate) fn is_null(&self, row: usize) -> bool {
        if self.nulls.is_some_and(|n| n.is_null(row)) {
            return true;
        }
        match &self.kind {
            Kind::Null => true,
            Kind::Float16(a) => !a.value(row).is_finite(),
            Kind::Float32(v) => !v[row].is_finite(),
            Kind::Float64(v) => !v[row].is_finite(),
            Kind::Dictionary(keys, values) => values.is_null(keys[row]),
            _ => false,
        }
    }

    /// Appends the JSON text of the value at `row`; `depth` is the nesting level used to
    /// indent pretty output.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidValue`] for a time or timestamp outside the representable range.
    #[inline]
    pub(crate) fn encode<const PRETTY: bool>(
        &self,
        row: usize,
        depth: usize,
        style: Style,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        if self.nulls.is_some_and(|n| n.is_null(row)) {
            out.extend_from_slice(b"null");
            return Ok(());
        }
        match &self.kind {
            Kind::Null => out.extend_from_slice(b"null"),
            Kind::Boolean(a) => {
                out.extend_from_slice(if a.value(row) { b"true" } else { b"false" })
            }
            Kind::Int8(v) => text::write_int(out, v[row]),
            Kind::Int16(v) => text::write_int(out, v[row]),
            Kind::Int32(v) => text::write_int(out, v[row]),
            Kind::Int64(v) => text::write_int(out, v[row]),
            Kind::UInt8(v) => text::write_int(out, v[row]),
            Kind::UInt16(v) => text::write_int(out, v[row]),
            Kind::UInt32(v) => text::write_int(out, v[row]),
            Kind::UInt64(v) => text::write_int(out, v[row]),
            Kind::Float16(a) => text::write_f32(out, a.value(row).to_f32()),
            Kind::Float32(v) => text::write_f32(out, v[row]),
            Kind::Float64(v) => text::write_f64(out, v[row]),
            Kind::Decimal32(v, scale) => {
                text::write_scaled(out, itoa::Buffer::new().format(v[row]), *scale)
            }
            Kind::Decimal64(v, scale) => {
                text::write_scaled(out, itoa::Buffer::new().format(v[row]), *scale)
            }
            Kind::Decimal128(v, scale) => {
                text::write_scaled(out, itoa::Buffer::new().format(v[row]), *scale)
            }
            Kind::Decimal256(v, scale) => text::write_scaled(out, &v[row].to_string(), *scale),
            Kind::JsonText(text, path) => {
                let value = match &text.kind {
                    Kind::Utf8(a) => a.value(row),
                    Kind::LargeUtf8(a) => a.value(row),
                    Kind::Utf8View(a) => a.value(row),
                    _ => unreachable!("json_text takes string arrays only"),
                };
                // The text is trusted only once parsed: a bad one would break the file.
                if serde_json::from_str::<serde::de::IgnoredAny>(value).is_err() {
                    return Err(invalid(path, row, format!("`{value}` is not JSON")));
                }
                out.extend_from_slice(value.trim().as_bytes());
            }
            Kind::Utf8(a) => text::write_str(out, a.value(row)),
            Kind::LargeUtf8(a) => text::write_str(out, a.value(row)),
            Kind::Utf8View(a) => text::write_str(out, a.value(row)),
            Kind::Binary(a) => text::write_base64(out, a.value(row)),
            Kind::LargeBinary(a) => text::write_base64(out, a.value(row)),
            Kind::BinaryView(a) => text::write_base64(out, a.value(row)),
            Kind::FixedSizeBinary(a) => text::write_base64(out, a.value(row)),
            Kind::Date32(v) => {
                out.push(b'"');
                text::write_date(out, i64::from(v[row]));
                out.push(b'"');
            }
            Kind::Date64(v) => {
                out.push(b'"');
                text::write_date(out, v[row].div_euclid(86_400_000));
                out.push(b'"');
            }
            Kind::Time32(v, per_unit, path) => {
                write_time_of_day(out, i128::from(v[row]) * i128::from(*per_unit), path, row)?
            }
            Kind::Time64(v, per_unit, path) => {
                write_time_of_day(out, i128::from(v[row]) * i128::from(*per_unit), path, row)?
            }
            Kind::Timestamp {
                values,
                unit,
                zone,
                path,
            } => write_timestamp(out, values[row], *unit, *zone, path, row)?,
            Kind::Duration(v, per_unit) => text::write_seconds(out, i128::from(v[row]) * *per_unit),
            Kind::Struct(members) => write_object::<PRETTY>(members, row, depth, style, out)?,
            Kind::List(offsets, child) => {
                let (start, end) = (offsets[row], offsets[row + 1]);
                write_array::<PRETTY>(child, start as usize..end as usize, depth, style, out)?
            }
            Kind::LargeList(offsets, child) => {
                let (start, end) = (offsets[row], offsets[row + 1]);
                write_array::<PRETTY>(child, start as usize..end as usize, depth, style, out)?
            }
            Kind::FixedSizeList(array, size, child) => {
                let start = array.value_offset_at(row);
                write_array::<PRETTY>(child, start..start + size, depth, style, out)?
            }
            Kind::Map {
                offsets,
                keys,
                key_style,
                values,
                path,
            } => {
                let range = offsets[row] as usize..offsets[row + 1] as usize;
                let map = MapParts {
                    keys,
                    key_style: *key_style,
                    values,
                    path,
                };
                write_map::<PRETTY>(&map, range, depth, style, out)?
            }
            Kind::Dictionary(keys, values) => {
                values.encode::<PRETTY>(keys[row], depth, style, out)?
            }
        }
        Ok(())
    }
}

#[inline]
fn indent(out: &mut Vec<u8>, depth: usize) {
    out.push(b'\n');
    out.resize(out.len() + 2 * depth, b' ');
}

/// Appends `{"key":value,...}` for `row`; null members are left out unless
/// `style.explicit_nulls`.
///
/// # Errors
///
/// As [`Encoder::encode`].
#[inline]
pub(crate) fn write_object<const PRETTY: bool>(
    members: &[Member<'_>],
    row: usize,
    depth: usize,
    style: Style,
    out: &mut Vec<u8>,
) -> Result<()> {
    out.push(b'{');
    let mut first = true;
    for member in members {
        if !style.explicit_nulls && member.encoder.is_null(row) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        if PRETTY {
            indent(out, depth + 1);
        }
        out.extend_from_slice(&member.key);
        if PRETTY {
            out.push(b' ');
        }
        member
            .encoder
            .encode::<PRETTY>(row, depth + 1, style, out)?;
    }
    if PRETTY && !first {
        indent(out, depth);
    }
    out.push(b'}');
    Ok(())
}

fn write_array<const PRETTY: bool>(
    child: &Encoder<'_>,
    range: std::ops::Range<usize>,
    depth: usize,
    style: Style,
    out: &mut Vec<u8>,
) -> Result<()> {
    out.push(b'[');
    let empty = range.is_empty();
    for (n, index) in range.enumerate() {
        if n > 0 {
            out.push(b',');
        }
        if PRETTY {
            indent(out, depth + 1);
        }
        child.encode::<PRETTY>(index, depth + 1, style, out)?;
    }
    if PRETTY && !empty {
        indent(out, depth);
    }
    out.push(b']');
    Ok(())
}

struct MapParts<'m, 'a> {
    keys: &'m Encoder<'a>,
    key_style: KeyStyle,
    values: &'m Encoder<'a>,
    path: &'m str,
}

fn write_map<const PRETTY: bool>(
    map: &MapParts<'_, '_>,
    range: std::ops::Range<usize>,
    depth: usize,
    style: Style,
    out: &mut Vec<u8>,
) -> Result<()> {
    let MapParts {
        keys,
        key_style,
        values,
        path,
    } = *map;
    out.push(b'{');
    let mut first = true;
    for index in range {
        if !style.explicit_nulls && values.is_null(index) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        if PRETTY {
            indent(out, depth + 1);
        }
        if keys.is_null(index) {
            return Err(invalid(
                path,
                index,
                "a map key is null, which a JSON object cannot hold".to_string(),
            ));
        }
        match key_style {
            KeyStyle::String => keys.encode::<PRETTY>(index, depth + 1, style, out)?,
            KeyStyle::Bare => {
                out.push(b'"');
                keys.encode::<PRETTY>(index, depth + 1, style, out)?;
                out.push(b'"');
            }
        }
        out.push(b':');
        if PRETTY {
            out.push(b' ');
        }
        values.encode::<PRETTY>(index, depth + 1, style, out)?;
    }
    if PRETTY && !first {
        indent(out, depth);
    }
    out.push(b'}');
    Ok(())
}

fn write_time_of_day(out: &mut Vec<u8>, nanos: i128, path: &str, row: usize) -> Result<()> {
    if !(0..86_400_000_000_000).contains(&nanos) {
        return Err(invalid(
            path,
            row,
            "time of day is outside 00:00:00..24:00:00".to_string(),
        ));
    }
    out.push(b'"');
    text::write_time(
        out,
        (nanos / 1_000_000_000) as u32,
        (nanos % 1_000_000_000) as u32,
    );
    out.push(b'"');
    Ok(())
}

fn write_timestamp(
    out: &mut Vec<u8>,
    value: i64,
    unit: TimeUnit,
    zone: Zone,
    path: &str,
    row: usize,
) -> Result<()> {
    let per_second = 1_000_000_000 / unit_nanos(unit);
    let secs = value.div_euclid(per_second);
    let nanos = (value.rem_euclid(per_second) * unit_nanos(unit)) as u32;
    let out_of_range = || {
        invalid(
            path,
            row,
            format!("timestamp {value} ({unit:?}) is out of range"),
        )
    };
    let offset = match zone {
        Zone::Naive | Zone::Utc => 0,
        Zone::Fixed(offset) => offset,
        Zone::Named(tz) => {
            let instant = DateTime::from_timestamp(secs, 0).ok_or_else(out_of_range)?;
            tz.offset_from_utc_datetime(&instant.naive_utc())
                .fix()
                .local_minus_utc()
        }
    };
    let local = secs
        .checked_add(i64::from(offset))
        .ok_or_else(out_of_range)?;
    out.push(b'"');
    text::write_date(out, local.div_euclid(86_400));
    out.push(b'T');
    text::write_time(out, local.rem_euclid(86_400) as u32, nanos);
    match zone {
        Zone::Naive => {}
        Zone::Utc => out.push(b'Z'),
        Zone::Fixed(_) | Zone::Named(_) => text::write_offset(out, offset),
    }
    out.push(b'"');
    Ok(())
}

/// True when two types give JSON of the same shape: same struct member names in the same
/// order, same leaf types (nullability and list item names do not matter).
pub(crate) fn same_shape(a: &DataType, b: &DataType) -> bool {
    match (a, b) {
        (DataType::Struct(a), DataType::Struct(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b.iter())
                    .all(|(a, b)| a.name() == b.name() && same_shape(a.data_type(), b.data_type()))
        }
        (DataType::List(a), DataType::List(b))
        | (DataType::LargeList(a), DataType::LargeList(b))
        | (DataType::Map(a, _), DataType::Map(b, _)) => same_shape(a.data_type(), b.data_type()),
        (DataType::FixedSizeList(a, n), DataType::FixedSizeList(b, m)) => {
            n == m && same_shape(a.data_type(), b.data_type())
        }
        (DataType::Dictionary(ka, va), DataType::Dictionary(kb, vb)) => {
            ka == kb && same_shape(va, vb)
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_offsets_parse() {
        assert_eq!(parse_fixed_offset("+05:30"), Some(19_800));
        assert_eq!(parse_fixed_offset("-0800"), Some(-28_800));
        assert_eq!(parse_fixed_offset("+02"), Some(7_200));
        assert_eq!(parse_fixed_offset("+2"), None);
        assert_eq!(parse_fixed_offset("+25:00"), None);
        assert_eq!(parse_fixed_offset("Europe/Paris"), None);
        assert_eq!(parse_fixed_offset("+é"), None);
    }
}
