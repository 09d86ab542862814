//! How each Arrow type becomes an XLSX cell.
//!
//! A column's [`Kind`] is decided once per sheet from its field; for each batch the column is
//! normalised (a few lossless casts, so that one code path serves a family of types) and bound
//! once to its typed values ([`ColumnCells`]); then each row only matches an enum and reads a
//! slice.

use std::fmt::Write as _;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Decimal256Type, DurationMicrosecondType, DurationMillisecondType,
    DurationNanosecondType, DurationSecondType, Float32Type, Float64Type, Int64Type,
    Time64MicrosecondType, Time64NanosecondType, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt64Type,
};
use arrow_array::{Array, ArrayRef, BooleanArray, Decimal128Array, Decimal256Array};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, TimeUnit};
use chrono::{Datelike, NaiveDateTime, NaiveTime, Timelike};
use chrono_tz::Tz;
use rust_xlsxwriter::{Format, Worksheet, XlsxError};

use super::json_text::write_json;
use crate::error::{ExportError, Result};
use crate::temporal::{
    column_time_zone, date32_to_naive, excel_serial, time_to_naive, timestamp_to_utc, to_local,
};

/// Most UTF-16 code units Excel holds in one cell.
pub(super) const MAX_CELL_CHARS: usize = 32_767;

/// Largest integer magnitude an `f64` (and so Excel) holds exactly.
const MAX_EXACT_INT: u64 = 1 << 53;

/// How a column's values are written, decided from its (normalised) Arrow type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Kind {
    /// `Null` type: every cell empty.
    Empty,
    Bool,
    /// Signed and narrower unsigned integers, read as `i64`.
    Int,
    UInt64,
    Float32,
    Float64,
    Decimal {
        scale: i8,
    },
    Decimal256 {
        scale: i8,
    },
    Date,
    Timestamp {
        tz: Tz,
    },
    Time,
    Duration,
    Text,
    Json,
}

/// The type a column is cast to before writing (identity for most types): dictionaries are
/// unpacked, narrow integers widened, `Float16` widened to `Float32`, 32/64-bit decimals widened
/// to `Decimal128`, `Date64` to `Date32`, `Time32` to `Time64`. All lossless.
pub(super) fn normalised_type(dt: &DataType) -> DataType {
    use DataType::*;
    match dt {
        Dictionary(_, values) => normalised_type(values),
        Int8 | Int16 | Int32 | UInt8 | UInt16 | UInt32 => Int64,
        Float16 => Float32,
        Decimal32(_, s) | Decimal64(_, s) => Decimal128(38, *s),
        Date64 => Date32,
        Time32(_) => Time64(TimeUnit::Nanosecond),
        other => other.clone(),
    }
}

/// Casts `array` to its [`normalised_type`].
pub(super) fn normalise(array: &ArrayRef) -> Result<ArrayRef> {
    let target = normalised_type(array.data_type());
    if &target == array.data_type() {
        return Ok(array.clone());
    }
    Ok(arrow_cast::cast(array, &target)?)
}

impl Kind {
    /// The kind of column `name` of type `dt`.
    ///
    /// # Errors
    ///
    /// [`ExportError::Encode`] for types XLSX cannot hold (binary, intervals, unions);
    /// [`ExportError::InvalidRequest`] for a timestamp zone that is not an IANA name.
    pub(super) fn of(name: &str, dt: &DataType) -> Result<Kind> {
        use DataType::*;
        Ok(match normalised_type(dt) {
            Null => Kind::Empty,
            Boolean => Kind::Bool,
            Int64 => Kind::Int,
            UInt64 => Kind::UInt64,
            Float32 => Kind::Float32,
            Float64 => Kind::Float64,
            Decimal128(_, scale) => Kind::Decimal { scale },
            Decimal256(_, scale) => Kind::Decimal256 { scale },
            Date32 => Kind::Date,
            Timestamp(_, tz) => Kind::Timestamp {
                tz: column_time_zone(tz.as_deref())
                    .map_err(|e| ExportError::request(format!("column `{name}`"), e.to_string()))?,
            },
            Time64(_) => Kind::Time,
            Duration(_) => Kind::Duration,
            Utf8 | LargeUtf8 | Utf8View => Kind::Text,
            Struct(_) | List(_) | LargeList(_) | FixedSizeList(..) | ListView(_)
            | LargeListView(_) | Map(..) => Kind::Json,
            other => {
                return Err(ExportError::Encode {
                    format: "xlsx",
                    reason: format!("column `{name}` has type {other}, which XLSX cannot hold"),
                });
            }
        })
    }

    /// The Excel number format used when the field names none.
    pub(super) fn default_num_format(self) -> Option<String> {
        match self {
            Kind::Date => Some("yyyy-mm-dd".into()),
            Kind::Timestamp { .. } => Some("yyyy-mm-dd hh:mm:ss".into()),
            Kind::Time => Some("hh:mm:ss".into()),
            Kind::Duration => Some("[h]:mm:ss".into()),
            Kind::Decimal { scale } | Kind::Decimal256 { scale } => Some(if scale > 0 {
                format!("0.{}", "0".repeat(scale as usize))
            } else {
                "0".into()
            }),
            _ => None,
        }
    }

    /// A width (Excel character units) wide enough for typical values of this kind.
    pub(super) fn natural_width(self) -> f64 {
        match self {
            Kind::Timestamp { .. } => 20.0,
            Kind::Date => 12.0,
            Kind::Json | Kind::Text => 16.0,
            _ => 10.0,
        }
    }
}

/// One column of one batch, bound to its typed values.
pub(super) struct ColumnCells<'a> {
    nulls: Option<&'a NullBuffer>,
    values: Values<'a>,
}

enum Values<'a> {
    Empty,
    Bool(&'a BooleanArray),
    Int(&'a [i64]),
    UInt64(&'a [u64]),
    Float32(&'a [f32]),
    Float64(&'a [f64]),
    Decimal(&'a Decimal128Array, i8),
    Decimal256(&'a Decimal256Array, i8),
    Date(&'a [i32]),
    Timestamp(&'a [i64], TimeUnit, Tz),
    Time(&'a [i64], TimeUnit),
    Duration(&'a [i64], TimeUnit),
    Utf8(&'a arrow_array::StringArray),
    LargeUtf8(&'a arrow_array::LargeStringArray),
    Utf8View(&'a arrow_array::StringViewArray),
    Json(&'a dyn Array),
}

/// What one cell holds.
pub(super) enum Cell<'b> {
    Blank,
    /// An integer Excel holds exactly (|v| <= 2^53), written without going through `f64` text.
    Integer(i64),
    Number(f64),
    Bool(bool),
    Text(&'b str),
}

impl<'a> ColumnCells<'a> {
    /// Binds a normalised array of a column of `kind`. `None` when the array's type is not the
    /// kind's (the caller checks types first, so this is an internal mismatch).
    pub(super) fn bind(array: &'a ArrayRef, kind: Kind) -> Option<ColumnCells<'a>> {
        let nulls = array.nulls();
        let dt = array.data_type();
        let values = match (kind, dt) {
            (Kind::Empty, _) => Values::Empty,
            (Kind::Bool, DataType::Boolean) => Values::Bool(array.as_boolean()),
            (Kind::Int, DataType::Int64) => Values::Int(array.as_primitive::<Int64Type>().values()),
            (Kind::UInt64, DataType::UInt64) => {
                Values::UInt64(array.as_primitive::<UInt64Type>().values())
            }
            (Kind::Float32, DataType::Float32) => {
                Values::Float32(array.as_primitive::<Float32Type>().values())
            }
            (Kind::Float64, DataType::Float64) => {
                Values::Float64(array.as_primitive::<Float64Type>().values())
            }
            (Kind::Decimal { scale }, DataType::Decimal128(..)) => {
                Values::Decimal(array.as_primitive::<Decimal128Type>(), scale)
            }
            (Kind::Decimal256 { scale }, DataType::Decimal256(..)) => {
                Values::Decimal256(array.as_primitive::<Decimal256Type>(), scale)
            }
            (Kind::Date, DataType::Date32) => {
                Values::Date(array.as_primitive::<Date32Type>().values())
            }
            (Kind::Timestamp { tz }, DataType::Timestamp(unit, _)) => {
                let v: &[i64] = match unit {
                    TimeUnit::Second => array.as_primitive::<TimestampSecondType>().values(),
                    TimeUnit::Millisecond => {
                        array.as_primitive::<TimestampMillisecondType>().values()
                    }
                    TimeUnit::Microsecond => {
                        array.as_primitive::<TimestampMicrosecondType>().values()
                    }
                    TimeUnit::Nanosecond => {
                        array.as_primitive::<TimestampNanosecondType>().values()
                    }
                };
                Values::Timestamp(v, *unit, tz)
            }
            (Kind::Time, DataType::Time64(unit)) => {
                let v: &[i64] = match unit {
                    TimeUnit::Microsecond => array.as_primitive::<Time64MicrosecondType>().values(),
                    TimeUnit::Nanosecond => array.as_primitive::<Time64NanosecondType>().values(),
                    _ => return None,
                };
                Values::Time(v, *unit)
            }
            (Kind::Duration, DataType::Duration(unit)) => {
                let v: &[i64] = match unit {
                    TimeUnit::Second => array.as_primitive::<DurationSecondType>().values(),
                    TimeUnit::Millisecond => {
                        array.as_primitive::<DurationMillisecondType>().values()
                    }
                    TimeUnit::Microsecond => {
                        array.as_primitive::<DurationMicrosecondType>().values()
                    }
                    TimeUnit::Nanosecond => array.as_primitive::<DurationNanosecondType>().values(),
                };
                Values::Duration(v, *unit)
            }
            (Kind::Text, DataType::Utf8) => Values::Utf8(array.as_string::<i32>()),
            (Kind::Text, DataType::LargeUtf8) => Values::LargeUtf8(array.as_string::<i64>()),
            (Kind::Text, DataType::Utf8View) => Values::Utf8View(array.as_string_view()),
            (Kind::Json, _) => Values::Json(array.as_ref()),
            _ => return None,
        };
        Some(ColumnCells { nulls, values })
    }

    /// The cell of row `i`. Texts that are not slices of the batch are built in `scratch`.
    /// On error, returns the reason (the caller adds column and row).
    pub(super) fn cell<'b>(
        &'b self,
        i: usize,
        scratch: &'b mut String,
    ) -> std::result::Result<Cell<'b>, String> {
        if self.nulls.is_some_and(|n| n.is_null(i)) {
            return Ok(Cell::Blank);
        }
        let cell = match &self.values {
            Values::Empty => Cell::Blank,
            Values::Bool(a) => Cell::Bool(a.value(i)),
            Values::Int(v) => {
                let v = v[i];
                if v.unsigned_abs() <= MAX_EXACT_INT {
                    Cell::Integer(v)
                } else {
                    int_text(scratch, v)
                }
            }
            Values::UInt64(v) => {
                let v = v[i];
                if v <= MAX_EXACT_INT {
                    // v <= 2^53, so it fits in i64.
                    Cell::Integer(v as i64)
                } else {
                    int_text(scratch, v)
                }
            }
            Values::Float32(v) => {
                let v = v[i];
                if v.is_finite() {
                    // The shortest decimal that reads back as this f32 (0.1, not 0.100000001).
                    let shortest = ryu::Buffer::new().format_finite(v).parse::<f64>();
                    Cell::Number(shortest.unwrap_or(f64::from(v)))
                } else {
                    Cell::Text(non_finite(f64::from(v)))
                }
            }
            Values::Float64(v) => {
                let v = v[i];
                if v.is_finite() {
                    Cell::Number(v)
                } else {
                    Cell::Text(non_finite(v))
                }
            }
            Values::Decimal(a, scale) => {
                let v = a.value(i);
                if v.unsigned_abs() <= u128::from(MAX_EXACT_INT) {
                    Cell::Number(decimal_to_f64(v, *scale))
                } else {
                    scratch.clear();
                    scratch.push_str(&a.value_as_string(i));
                    Cell::Text(scratch)
                }
            }
            Values::Decimal256(a, scale) => match a.value(i).to_i128() {
                Some(v) if v.unsigned_abs() <= u128::from(MAX_EXACT_INT) => {
                    Cell::Number(decimal_to_f64(v, *scale))
                }
                _ => {
                    scratch.clear();
                    scratch.push_str(&a.value_as_string(i));
                    Cell::Text(scratch)
                }
            },
            Values::Date(v) => {
                let date = date32_to_naive(v[i])
                    .ok_or_else(|| format!("date value {} is out of range", v[i]))?;
                date_cell(date.and_time(NaiveTime::MIN), false, scratch)
            }
            Values::Timestamp(v, unit, tz) => {
                let instant = timestamp_to_utc(v[i], *unit)
                    .ok_or_else(|| format!("timestamp value {} is out of range", v[i]))?;
                date_cell(to_local(instant, *tz).naive_local(), true, scratch)
            }
            Values::Time(v, unit) => {
                let t = time_to_naive(v[i], *unit)
                    .ok_or_else(|| format!("time of day {} is out of range", v[i]))?;
                let secs =
                    f64::from(t.num_seconds_from_midnight()) + f64::from(t.nanosecond()) / 1e9;
                Cell::Number(secs / 86_400.0)
            }
            Values::Duration(v, unit) => Cell::Number(v[i] as f64 / units_per_day(*unit)),
            Values::Utf8(a) => Cell::Text(a.value(i)),
            Values::LargeUtf8(a) => Cell::Text(a.value(i)),
            Values::Utf8View(a) => Cell::Text(a.value(i)),
            Values::Json(a) => {
                scratch.clear();
                write_json(scratch, *a, i).map_err(|e| e.to_string())?;
                Cell::Text(scratch)
            }
        };
        if let Cell::Text(s) = &cell {
            // Byte length bounds UTF-16 length from above: count only long strings.
            if s.len() > MAX_CELL_CHARS {
                let units = s.encode_utf16().count();
                if units > MAX_CELL_CHARS {
                    return Err(format!(
                        "text of {units} UTF-16 characters exceeds Excel's limit of 32,767 per cell"
                    ));
                }
            }
        }
        Ok(cell)
    }
}

/// Writes `cell` at (`row`, `col`) with the column's format, if any. Blank cells are skipped.
pub(super) fn put(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    cell: Cell<'_>,
    format: Option<&Format>,
) -> std::result::Result<(), XlsxError> {
    match (cell, format) {
        (Cell::Blank, _) => {}
        (Cell::Integer(v), Some(f)) => {
            ws.write_number_with_format(row, col, v as f64, f)?;
        }
        (Cell::Integer(v), None) => {
            ws.write_number(row, col, v as f64)?;
        }
        (Cell::Number(v), Some(f)) => {
            ws.write_number_with_format(row, col, v, f)?;
        }
        (Cell::Number(v), None) => {
            ws.write_number(row, col, v)?;
        }
        (Cell::Bool(b), Some(f)) => {
            ws.write_boolean_with_format(row, col, b, f)?;
        }
        (Cell::Bool(b), None) => {
            ws.write_boolean(row, col, b)?;
        }
        (Cell::Text(s), Some(f)) => {
            ws.write_string_with_format(row, col, s, f)?;
        }
        (Cell::Text(s), None) => {
            ws.write_string(row, col, s)?;
        }
    }
    Ok(())
}

fn int_text<'b, I: itoa::Integer>(scratch: &'b mut String, v: I) -> Cell<'b> {
    scratch.clear();
    scratch.push_str(itoa::Buffer::new().format(v));
    Cell::Text(scratch)
}

fn non_finite(v: f64) -> &'static str {
    if v.is_nan() {
        "NaN"
    } else if v > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

fn decimal_to_f64(unscaled: i128, scale: i8) -> f64 {
    let v = unscaled as f64;
    if scale >= 0 {
        v / 10f64.powi(i32::from(scale))
    } else {
        v * 10f64.powi(-i32::from(scale))
    }
}

fn units_per_day(unit: TimeUnit) -> f64 {
    match unit {
        TimeUnit::Second => 86_400.0,
        TimeUnit::Millisecond => 86_400e3,
        TimeUnit::Microsecond => 86_400e6,
        TimeUnit::Nanosecond => 86_400e9,
    }
}

/// The Excel serial of a local date-time as Excel reads it back, or `None` outside the dates
/// Excel can show (1900-01-01 to 9999-12-31).
///
/// Excel counts a phantom 1900-02-29 (Lotus 1-2-3's leap-year bug), so its serials before
/// 1900-03-01 are one less than days since 1899-12-30.
pub(super) fn excel_date_serial(local: NaiveDateTime) -> Option<f64> {
    let year = local.year();
    if !(1900..=9999).contains(&year) {
        return None;
    }
    let serial = excel_serial(local);
    Some(if serial < 61.0 { serial - 1.0 } else { serial })
}

/// A date cell, or ISO 8601 text when Excel cannot show the date.
fn date_cell(local: NaiveDateTime, with_time: bool, scratch: &mut String) -> Cell<'_> {
    if let Some(serial) = excel_date_serial(local) {
        return Cell::Number(serial);
    }
    scratch.clear();
    let pattern = if !with_time {
        "%Y-%m-%d"
    } else if local.nanosecond() == 0 {
        "%Y-%m-%d %H:%M:%S"
    } else {
        "%Y-%m-%d %H:%M:%S%.f"
    };
    // Writing to a String cannot fail.
    let _ = write!(scratch, "{}", local.format(pattern));
    Cell::Text(scratch)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn at(y: i32, m: u32, d: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap()
    }

    #[test]
    fn excel_serials_follow_excel_including_its_1900_bug() {
        assert_eq!(excel_date_serial(at(1900, 1, 1)), Some(1.0));
        assert_eq!(excel_date_serial(at(1900, 2, 28)), Some(59.0));
        assert_eq!(excel_date_serial(at(1900, 3, 1)), Some(61.0));
        assert_eq!(excel_date_serial(at(2026, 10, 3)), Some(46298.0));
        assert_eq!(excel_date_serial(at(1899, 12, 31)), None);
        assert_eq!(excel_date_serial(at(9999, 12, 31)), Some(2_958_465.0));
    }

    #[test]
    fn decimal_formats_follow_scale() {
        assert_eq!(
            Kind::Decimal { scale: 2 }.default_num_format().as_deref(),
            Some("0.00")
        );
        assert_eq!(
            Kind::Decimal { scale: 0 }.default_num_format().as_deref(),
            Some("0")
        );
        assert_eq!(decimal_to_f64(12345, 2), 123.45);
        assert_eq!(decimal_to_f64(12, -3), 12000.0);
    }
}
