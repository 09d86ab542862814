//! Reading one column of fetched rows into an Arrow builder, per PostgreSQL type.

use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_array::builder::{
    ArrayBuilder, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder,
    Float64Builder, Int16Builder, Int32Builder, Int64Builder, ListBuilder, StringBuilder,
    Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, Type};

use super::BoxError;
use super::layout::ReadType;
use super::numeric::Numeric;

/// The days from 0001-01-01 (chrono's day 1) to 1970-01-01.
const UNIX_EPOCH_DAY: i32 = 719_163;

fn date32(d: NaiveDate) -> i32 {
    use chrono::Datelike;
    d.num_days_from_ce() - UNIX_EPOCH_DAY
}

fn micros(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_micros()
}

fn time64(t: NaiveTime) -> i64 {
    use chrono::Timelike;
    i64::from(t.num_seconds_from_midnight()) * 1_000_000 + i64::from(t.nanosecond() / 1_000)
}

/// Reads one column of rows into an Arrow builder.
pub(super) enum Reader {
    Bool(BooleanBuilder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    Decimal(Decimal128Builder, u8, i8),
    NumericText(StringBuilder),
    Text(StringBuilder),
    Uuid(StringBuilder),
    Json(StringBuilder),
    Bytes(BinaryBuilder),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    TimestampTz(TimestampMicrosecondBuilder),
    ListBool(ListBuilder<BooleanBuilder>),
    ListI16(ListBuilder<Int16Builder>),
    ListI32(ListBuilder<Int32Builder>),
    ListI64(ListBuilder<Int64Builder>),
    ListF32(ListBuilder<Float32Builder>),
    ListF64(ListBuilder<Float64Builder>),
    ListText(ListBuilder<StringBuilder>),
    ListDate(ListBuilder<Date32Builder>),
    ListTimestamp(ListBuilder<TimestampMicrosecondBuilder>, bool),
}

/// Appends an optional list of optional values through `map`.
fn push_list<B, T>(
    builder: &mut ListBuilder<B>,
    value: Option<Vec<Option<T>>>,
    mut append: impl FnMut(&mut B, Option<T>),
) where
    B: ArrayBuilder,
{
    match value {
        Some(items) => {
            for item in items {
                append(builder.values(), item);
            }
            builder.append(true);
        }
        None => builder.append(false),
    }
}

impl Reader {
    pub(super) fn new(ty: &ReadType, rows: usize) -> Reader {
        let strings = || StringBuilder::with_capacity(rows, rows * 16);
        match ty {
            ReadType::Bool => Reader::Bool(BooleanBuilder::with_capacity(rows)),
            ReadType::I16 => Reader::I16(Int16Builder::with_capacity(rows)),
            ReadType::I32 => Reader::I32(Int32Builder::with_capacity(rows)),
            ReadType::I64 => Reader::I64(Int64Builder::with_capacity(rows)),
            ReadType::F32 => Reader::F32(Float32Builder::with_capacity(rows)),
            ReadType::F64 => Reader::F64(Float64Builder::with_capacity(rows)),
            ReadType::Decimal(p, s) => {
                Reader::Decimal(Decimal128Builder::with_capacity(rows), *p, *s)
            }
            ReadType::NumericText => Reader::NumericText(strings()),
            ReadType::Text => Reader::Text(strings()),
            ReadType::Uuid => Reader::Uuid(strings()),
            ReadType::Json => Reader::Json(strings()),
            ReadType::Bytes => Reader::Bytes(BinaryBuilder::with_capacity(rows, rows * 16)),
            ReadType::Date => Reader::Date(Date32Builder::with_capacity(rows)),
            ReadType::Time => Reader::Time(Time64MicrosecondBuilder::with_capacity(rows)),
            ReadType::Timestamp => {
                Reader::Timestamp(TimestampMicrosecondBuilder::with_capacity(rows))
            }
            ReadType::TimestampTz => Reader::TimestampTz(
                TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"),
            ),
            ReadType::List(element) => match **element {
                ReadType::Bool => Reader::ListBool(ListBuilder::new(BooleanBuilder::new())),
                ReadType::I16 => Reader::ListI16(ListBuilder::new(Int16Builder::new())),
                ReadType::I32 => Reader::ListI32(ListBuilder::new(Int32Builder::new())),
                ReadType::I64 => Reader::ListI64(ListBuilder::new(Int64Builder::new())),
                ReadType::F32 => Reader::ListF32(ListBuilder::new(Float32Builder::new())),
                ReadType::F64 => Reader::ListF64(ListBuilder::new(Float64Builder::new())),
                ReadType::Date => Reader::ListDate(ListBuilder::new(Date32Builder::new())),
                ReadType::Timestamp => Reader::ListTimestamp(
                    ListBuilder::new(TimestampMicrosecondBuilder::new()),
                    false,
                ),
                ReadType::TimestampTz => Reader::ListTimestamp(
                    ListBuilder::new(TimestampMicrosecondBuilder::new().with_timezone("UTC")),
                    true,
                ),
                // Text, uuid: `ReadType::of` admits no other element.
                _ => Reader::ListText(ListBuilder::new(StringBuilder::new())),
            },
        }
    }

    pub(super) fn push(&mut self, row: &Row, i: usize) -> std::result::Result<(), BoxError> {
        match self {
            Reader::Bool(b) => b.append_option(row.try_get::<_, Option<bool>>(i)?),
            Reader::I16(b) => b.append_option(row.try_get::<_, Option<i16>>(i)?),
            Reader::I32(b) => b.append_option(row.try_get::<_, Option<i32>>(i)?),
            Reader::I64(b) => b.append_option(row.try_get::<_, Option<i64>>(i)?),
            Reader::F32(b) => b.append_option(row.try_get::<_, Option<f32>>(i)?),
            Reader::F64(b) => b.append_option(row.try_get::<_, Option<f64>>(i)?),
            Reader::Decimal(b, _, scale) => match row.try_get::<_, Option<Numeric>>(i)? {
                None => b.append_null(),
                Some(n) => b.append_value(n.scaled(*scale)?),
            },
            Reader::NumericText(b) => {
                b.append_option(row.try_get::<_, Option<Numeric>>(i)?.map(|n| n.to_string()))
            }
            Reader::Text(b) => b.append_option(row.try_get::<_, Option<&str>>(i)?),
            Reader::Uuid(b) => b.append_option(
                row.try_get::<_, Option<uuid::Uuid>>(i)?
                    .map(|u| u.hyphenated().to_string()),
            ),
            Reader::Json(b) => {
                b.append_option(row.try_get::<_, Option<RawJson<'_>>>(i)?.map(|j| j.0))
            }
            Reader::Bytes(b) => b.append_option(row.try_get::<_, Option<&[u8]>>(i)?),
            Reader::Date(b) => b.append_option(row.try_get::<_, Option<NaiveDate>>(i)?.map(date32)),
            Reader::Time(b) => b.append_option(row.try_get::<_, Option<NaiveTime>>(i)?.map(time64)),
            Reader::Timestamp(b) => {
                b.append_option(row.try_get::<_, Option<NaiveDateTime>>(i)?.map(micros))
            }
            Reader::TimestampTz(b) => b.append_option(
                row.try_get::<_, Option<DateTime<Utc>>>(i)?
                    .map(|t| t.timestamp_micros()),
            ),
            Reader::ListBool(b) => {
                push_list(b, row.try_get(i)?, |b, v: Option<bool>| b.append_option(v))
            }
            Reader::ListI16(b) => {
                push_list(b, row.try_get(i)?, |b, v: Option<i16>| b.append_option(v))
            }
            Reader::ListI32(b) => {
                push_list(b, row.try_get(i)?, |b, v: Option<i32>| b.append_option(v))
            }
            Reader::ListI64(b) => {
                push_list(b, row.try_get(i)?, |b, v: Option<i64>| b.append_option(v))
            }
            Reader::ListF32(b) => {
                push_list(b, row.try_get(i)?, |b, v: Option<f32>| b.append_option(v))
            }
            Reader::ListF64(b) => {
                push_list(b, row.try_get(i)?, |b, v: Option<f64>| b.append_option(v))
            }
            Reader::ListDate(b) => push_list(b, row.try_get(i)?, |b, v: Option<NaiveDate>| {
                b.append_option(v.map(date32))
            }),
            Reader::ListTimestamp(b, true) => {
                push_list(b, row.try_get(i)?, |b, v: Option<DateTime<Utc>>| {
                    b.append_option(v.map(|t| t.timestamp_micros()))
                })
            }
            Reader::ListTimestamp(b, false) => {
                push_list(b, row.try_get(i)?, |b, v: Option<NaiveDateTime>| {
                    b.append_option(v.map(micros))
                })
            }
            Reader::ListText(b) => push_list(b, row.try_get(i)?, |b, v: Option<TextOrUuid>| {
                b.append_option(v.map(|t| t.0))
            }),
        }
        Ok(())
    }

    pub(super) fn finish(&mut self) -> ArrayRef {
        match self {
            Reader::Bool(b) => Arc::new(b.finish()),
            Reader::I16(b) => Arc::new(b.finish()),
            Reader::I32(b) => Arc::new(b.finish()),
            Reader::I64(b) => Arc::new(b.finish()),
            Reader::F32(b) => Arc::new(b.finish()),
            Reader::F64(b) => Arc::new(b.finish()),
            Reader::Decimal(b, p, s) => Arc::new(
                b.finish()
                    .with_precision_and_scale(*p, *s)
                    .expect("precision and scale checked when mapped"),
            ),
            Reader::NumericText(b) | Reader::Text(b) | Reader::Uuid(b) | Reader::Json(b) => {
                Arc::new(b.finish())
            }
            Reader::Bytes(b) => Arc::new(b.finish()),
            Reader::Date(b) => Arc::new(b.finish()),
            Reader::Time(b) => Arc::new(b.finish()),
            Reader::Timestamp(b) | Reader::TimestampTz(b) => Arc::new(b.finish()),
            Reader::ListBool(b) => Arc::new(b.finish()),
            Reader::ListI16(b) => Arc::new(b.finish()),
            Reader::ListI32(b) => Arc::new(b.finish()),
            Reader::ListI64(b) => Arc::new(b.finish()),
            Reader::ListF32(b) => Arc::new(b.finish()),
            Reader::ListF64(b) => Arc::new(b.finish()),
            Reader::ListText(b) => Arc::new(b.finish()),
            Reader::ListDate(b) => Arc::new(b.finish()),
            Reader::ListTimestamp(b, _) => Arc::new(b.finish()),
        }
    }
}

/// A `json` or `jsonb` value's text, borrowed from the row.
struct RawJson<'a>(&'a str);

impl<'a> FromSql<'a> for RawJson<'a> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> std::result::Result<Self, BoxError> {
        let text = if *ty == Type::JSONB {
            // jsonb's binary format: a version byte (1), then the text.
            match raw.split_first() {
                Some((1, rest)) => rest,
                _ => return Err("unsupported jsonb version".into()),
            }
        } else {
            raw
        };
        Ok(RawJson(std::str::from_utf8(text)?))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::JSON | Type::JSONB)
    }
}

/// A text or a uuid (as its hyphenated text), for array elements.
struct TextOrUuid(String);

impl<'a> FromSql<'a> for TextOrUuid {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> std::result::Result<Self, BoxError> {
        if *ty == Type::UUID {
            Ok(TextOrUuid(
                uuid::Uuid::from_sql(ty, raw)?.hyphenated().to_string(),
            ))
        } else {
            Ok(TextOrUuid(<&str>::from_sql(ty, raw)?.to_string()))
        }
    }

    fn accepts(ty: &Type) -> bool {
        <&str as FromSql>::accepts(ty) || *ty == Type::UUID
    }
}
