//! How a query's columns become a batch's: the natural Arrow type of each PostgreSQL type, or
//! the conversion to a target schema's.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use tokio_postgres::types::{Kind, Type};
use tokio_postgres::{Column, Row};

use super::read::Reader;
use crate::error::{ExportError, Result};

/// How the query's columns become the batch's.
pub(super) struct Layout {
    /// The batch schema: the target's, or the natural mapping of the query's columns.
    pub(super) schema: SchemaRef,
    /// Per read column: its index in the row and its reader's type.
    read: Vec<(usize, ReadType)>,
    /// With a target: per target column, the index in `read` and whether to convert.
    target: Option<Vec<usize>>,
}

impl Layout {
    pub(super) fn new(
        columns: &[Column],
        target: Option<&SchemaRef>,
        name: &str,
    ) -> Result<Layout> {
        let mapped = |i: usize| -> Result<ReadType> {
            let column = &columns[i];
            ReadType::of(column.type_(), column.type_modifier()).ok_or_else(|| {
                ExportError::InvalidInput {
                    source_name: name.to_string(),
                    line: None,
                    reason: format!(
                        "column `{}` is of type {}, which has no Arrow mapping: cast it in the query (for example `{}::text`)",
                        column.name(),
                        column.type_().name(),
                        column.name()
                    ),
                }
            })
        };
        let Some(target) = target else {
            let mut read = Vec::with_capacity(columns.len());
            let mut fields = Vec::with_capacity(columns.len());
            for (i, column) in columns.iter().enumerate() {
                let ty = mapped(i)?;
                fields.push(Field::new(column.name(), ty.data_type(), true));
                read.push((i, ty));
            }
            return Ok(Layout {
                schema: Arc::new(Schema::new(fields)),
                read,
                target: None,
            });
        };
        let mut read = Vec::with_capacity(target.fields().len());
        let mut order = Vec::with_capacity(target.fields().len());
        for field in target.fields() {
            let Some(i) = columns.iter().position(|c| c.name() == field.name()) else {
                return Err(ExportError::MissingColumn {
                    column: field.name().clone(),
                    expected: field.data_type().to_string(),
                });
            };
            let ty = mapped(i)?;
            let natural = ty.data_type();
            if !convertible(&natural, field.data_type()) {
                return Err(ExportError::ColumnType {
                    column: field.name().clone(),
                    expected: field.data_type().to_string(),
                    actual: format!("{} ({natural})", columns[i].type_().name()),
                });
            }
            order.push(read.len());
            read.push((i, ty));
        }
        Ok(Layout {
            schema: target.clone(),
            read,
            target: Some(order),
        })
    }

    pub(super) fn batch(&self, rows: &[Row], name: &str) -> Result<RecordBatch> {
        let mut readers: Vec<Reader> = self
            .read
            .iter()
            .map(|(_, ty)| Reader::new(ty, rows.len()))
            .collect();
        for row in rows {
            for (reader, (index, _)) in readers.iter_mut().zip(&self.read) {
                reader
                    .push(row, *index)
                    .map_err(|e| ExportError::InvalidInput {
                        source_name: name.to_string(),
                        line: None,
                        reason: format!(
                            "column `{}`: cannot read a value: {e}",
                            row.columns()[*index].name()
                        ),
                    })?;
            }
        }
        let mut arrays: Vec<ArrayRef> = readers.iter_mut().map(Reader::finish).collect();
        if let Some(order) = &self.target {
            arrays = order
                .iter()
                .zip(self.schema.fields())
                .map(|(&i, field)| convert(&arrays[i], field))
                .collect::<Result<_>>()?;
        }
        let options = RecordBatchOptions::new().with_row_count(Some(rows.len()));
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            arrays,
            &options,
        )?)
    }
}

fn nested(t: &DataType) -> bool {
    matches!(
        t,
        DataType::List(_) | DataType::LargeList(_) | DataType::Struct(_) | DataType::Map(_, _)
    )
}

fn convertible(from: &DataType, to: &DataType) -> bool {
    (*from == DataType::Utf8 && nested(to)) || crate::source::cast::castable(from, to)
}

/// Converts one column to its target field's type.
fn convert(array: &ArrayRef, field: &Field) -> Result<ArrayRef> {
    if *array.data_type() == DataType::Utf8 && nested(field.data_type()) {
        return decode_json(array, field);
    }
    crate::source::cast::cast_column(array, field)
}

/// Decodes JSON texts into the field's nested type (arrow-json, one object per row).
fn decode_json(array: &ArrayRef, field: &Field) -> Result<ArrayRef> {
    use arrow_array::Array;
    let texts = array
        .as_any()
        .downcast_ref::<arrow_array::StringArray>()
        .expect("checked Utf8");
    let schema = Arc::new(Schema::new(vec![Field::new(
        "v",
        field.data_type().clone(),
        true,
    )]));
    let bad = |e: arrow_schema::ArrowError| ExportError::InvalidValue {
        column: field.name().clone(),
        row: 0,
        reason: format!("not JSON of type {}: {e}", field.data_type()),
    };
    let mut decoder = arrow_json::ReaderBuilder::new(schema)
        .with_batch_size(texts.len().max(1))
        .build_decoder()
        .map_err(bad)?;
    let mut buf = Vec::with_capacity(texts.value_data().len() + texts.len() * 8);
    for i in 0..texts.len() {
        if texts.is_null(i) {
            buf.extend_from_slice(b"{}\n");
        } else {
            buf.extend_from_slice(b"{\"v\":");
            buf.extend_from_slice(texts.value(i).as_bytes());
            buf.extend_from_slice(b"}\n");
        }
    }
    let mut rest = &buf[..];
    while !rest.is_empty() {
        let used = decoder.decode(rest).map_err(bad)?;
        if used == 0 {
            break;
        }
        rest = &rest[used..];
    }
    let batch = decoder.flush().map_err(bad)?;
    match batch {
        Some(batch) if batch.num_rows() == texts.len() => Ok(batch.column(0).clone()),
        Some(batch) => Err(ExportError::InvalidValue {
            column: field.name().clone(),
            row: batch.num_rows(),
            reason: "not one JSON value per row".into(),
        }),
        None => Ok(arrow_array::new_empty_array(field.data_type())),
    }
}

/// The Arrow side of one PostgreSQL column type.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ReadType {
    Bool,
    I16,
    I32,
    I64,
    F32,
    F64,
    /// `numeric(p, s)`, read as `Decimal128(p, s)`.
    Decimal(u8, i8),
    /// Unconstrained `numeric`, read as its exact text.
    NumericText,
    Text,
    Uuid,
    Json,
    Bytes,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    /// A one-dimensional array of a scalar type.
    List(Box<ReadType>),
}

impl ReadType {
    pub(super) fn of(ty: &Type, type_modifier: i32) -> Option<ReadType> {
        Some(match *ty {
            Type::BOOL => ReadType::Bool,
            Type::INT2 => ReadType::I16,
            Type::INT4 => ReadType::I32,
            Type::INT8 => ReadType::I64,
            Type::FLOAT4 => ReadType::F32,
            Type::FLOAT8 => ReadType::F64,
            Type::NUMERIC => {
                // typmod = ((precision << 16) | scale) + 4, or -1 when unconstrained.
                let typmod = type_modifier - 4;
                let precision = (typmod >> 16) & 0xffff;
                let scale = typmod & 0xffff;
                if type_modifier < 4 || precision > 38 || scale > precision {
                    ReadType::NumericText
                } else {
                    ReadType::Decimal(precision as u8, scale as i8)
                }
            }
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => ReadType::Text,
            Type::UUID => ReadType::Uuid,
            Type::JSON | Type::JSONB => ReadType::Json,
            Type::BYTEA => ReadType::Bytes,
            Type::DATE => ReadType::Date,
            Type::TIME => ReadType::Time,
            Type::TIMESTAMP => ReadType::Timestamp,
            Type::TIMESTAMPTZ => ReadType::TimestampTz,
            _ => match ty.kind() {
                Kind::Array(element) => {
                    let element = ReadType::of(element, -1)?;
                    match element {
                        ReadType::Json
                        | ReadType::Bytes
                        | ReadType::NumericText
                        | ReadType::Decimal(..)
                        | ReadType::Time
                        | ReadType::List(_) => return None,
                        scalar => ReadType::List(Box::new(scalar)),
                    }
                }
                _ => return None,
            },
        })
    }

    pub(super) fn data_type(&self) -> DataType {
        match self {
            ReadType::Bool => DataType::Boolean,
            ReadType::I16 => DataType::Int16,
            ReadType::I32 => DataType::Int32,
            ReadType::I64 => DataType::Int64,
            ReadType::F32 => DataType::Float32,
            ReadType::F64 => DataType::Float64,
            ReadType::Decimal(p, s) => DataType::Decimal128(*p, *s),
            ReadType::NumericText | ReadType::Text | ReadType::Uuid | ReadType::Json => {
                DataType::Utf8
            }
            ReadType::Bytes => DataType::Binary,
            ReadType::Date => DataType::Date32,
            ReadType::Time => DataType::Time64(TimeUnit::Microsecond),
            ReadType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            ReadType::TimestampTz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            ReadType::List(element) => {
                DataType::List(Arc::new(Field::new("item", element.data_type(), true)))
            }
        }
    }
}
