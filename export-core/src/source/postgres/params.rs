//! [`PgParam`]: the values bound to a query's parameters, checked against the types the server
//! declared.

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use tokio_postgres::types::{IsNull, Kind, ToSql, Type};

use super::BoxError;

/// A value bound to one query parameter.
///
/// Each kind is converted to the parameter's type as the server declared it: an
/// [`PgParam::Int`] binds to `smallint`, `integer` or `bigint` (refused when out of range), a
/// [`PgParam::Timestamp`] to `timestamptz`, `timestamp` (UTC) or `date`, a list to an array of
/// those, and [`PgParam::Null`] to any type.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PgParam {
    /// SQL `NULL`.
    Null,
    /// `boolean`.
    Bool(bool),
    /// `smallint`, `integer`, `bigint`.
    Int(i64),
    /// `real`, `double precision`.
    Float(f64),
    /// `text`, `varchar`, `char(n)`, `name`; `uuid` when the text is one.
    Text(String),
    /// `timestamptz`, `timestamp` (the UTC wall time), `date` (the UTC date).
    Timestamp(DateTime<Utc>),
    /// An array of integers.
    IntList(Vec<i64>),
    /// An array of texts.
    TextList(Vec<String>),
}

impl PgParam {
    pub(super) fn kind(&self) -> &'static str {
        match self {
            PgParam::Null => "null",
            PgParam::Bool(_) => "boolean",
            PgParam::Int(_) => "integer",
            PgParam::Float(_) => "number",
            PgParam::Text(_) => "text",
            PgParam::Timestamp(_) => "timestamp",
            PgParam::IntList(_) => "list of integers",
            PgParam::TextList(_) => "list of texts",
        }
    }

    /// Whether this value can be bound to a parameter of type `ty`.
    pub(super) fn fits(&self, ty: &Type) -> bool {
        let int = |t: &Type| matches!(*t, Type::INT2 | Type::INT4 | Type::INT8);
        let text = |t: &Type| matches!(*t, Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME);
        match self {
            PgParam::Null => true,
            PgParam::Bool(_) => *ty == Type::BOOL,
            PgParam::Int(_) => int(ty) || matches!(*ty, Type::FLOAT4 | Type::FLOAT8),
            PgParam::Float(_) => matches!(*ty, Type::FLOAT4 | Type::FLOAT8),
            PgParam::Text(_) => text(ty) || *ty == Type::UUID,
            PgParam::Timestamp(_) => {
                matches!(*ty, Type::TIMESTAMPTZ | Type::TIMESTAMP | Type::DATE)
            }
            PgParam::IntList(_) => matches!(ty.kind(), Kind::Array(e) if int(e)),
            PgParam::TextList(_) => matches!(ty.kind(), Kind::Array(e) if text(e)),
        }
    }
}

impl ToSql for PgParam {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, BoxError> {
        match self {
            PgParam::Null => Ok(IsNull::Yes),
            PgParam::Bool(v) => v.to_sql(ty, out),
            PgParam::Int(v) => match *ty {
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                Type::FLOAT8 => (*v as f64).to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            PgParam::Float(v) => match *ty {
                Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            PgParam::Text(v) => match *ty {
                Type::UUID => uuid::Uuid::parse_str(v)?.to_sql(ty, out),
                _ => v.as_str().to_sql(ty, out),
            },
            PgParam::Timestamp(v) => match *ty {
                Type::TIMESTAMP => v.naive_utc().to_sql(ty, out),
                Type::DATE => v.date_naive().to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            PgParam::IntList(v) => match ty.kind() {
                Kind::Array(e) if *e == Type::INT2 => v
                    .iter()
                    .map(|&n| i16::try_from(n))
                    .collect::<std::result::Result<Vec<_>, _>>()?
                    .to_sql(ty, out),
                Kind::Array(e) if *e == Type::INT4 => v
                    .iter()
                    .map(|&n| i32::try_from(n))
                    .collect::<std::result::Result<Vec<_>, _>>()?
                    .to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            PgParam::TextList(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        // Checked per value by `fits` when the source opens, with a message naming the
        // parameter; the driver's static check cannot see the value's kind.
        true
    }

    tokio_postgres::types::to_sql_checked!();
}
