//! A source converted to a target schema ([`CastSource`]): what a dataset uses when its file or
//! query has the right columns in other types or with extra columns around them.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::Source;
use crate::error::{ExportError, Result};

/// Whether a column of type `from` can be converted to `to` by [`cast_column`].
pub(crate) fn castable(from: &DataType, to: &DataType) -> bool {
    from == to || arrow_cast::can_cast_types(from, to)
}

/// Converts `array` to `field`'s type: integers widened or narrowed (refused when a value does
/// not fit), timestamps to the target's unit and zone, decimals to floats, ...
///
/// # Errors
///
/// [`ExportError::InvalidValue`] naming the column when a value cannot be converted.
pub(crate) fn cast_column(array: &ArrayRef, field: &Field) -> Result<ArrayRef> {
    if array.data_type() == field.data_type() {
        return Ok(array.clone());
    }
    let options = arrow_cast::CastOptions {
        safe: false,
        ..Default::default()
    };
    arrow_cast::cast_with_options(array, field.data_type(), &options).map_err(|e| {
        ExportError::InvalidValue {
            column: field.name().clone(),
            row: 0,
            reason: format!(
                "cannot convert {} to {}: {e}",
                array.data_type(),
                field.data_type()
            ),
        }
    })
}

/// Per column of `target`, its index in `schema`, checking each can be converted.
///
/// # Errors
///
/// As [`CastSource::new`].
pub(crate) fn check_target(schema: &Schema, target: &Schema) -> Result<Vec<usize>> {
    let mut indices = Vec::with_capacity(target.fields().len());
    for field in target.fields() {
        let Ok(index) = schema.index_of(field.name()) else {
            return Err(ExportError::MissingColumn {
                column: field.name().clone(),
                expected: field.data_type().to_string(),
            });
        };
        let actual = schema.field(index).data_type();
        if !castable(actual, field.data_type()) {
            return Err(ExportError::ColumnType {
                column: field.name().clone(),
                expected: field.data_type().to_string(),
                actual: actual.to_string(),
            });
        }
        indices.push(index);
    }
    Ok(indices)
}

/// The batches of a source, each reduced to the columns of a target schema (taken by name) and
/// converted to their types.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Int32Array, RecordBatch, StringArray};
/// use arrow_schema::{DataType, Field, Schema};
/// use export_core::source::{CastSource, IterSource, Source};
///
/// let batch = RecordBatch::try_from_iter([
///     ("extra", Arc::new(StringArray::from(vec!["x"])) as _),
///     ("n", Arc::new(Int32Array::from(vec![7])) as _),
/// ])?;
/// let inner = IterSource::new(batch.schema(), vec![Ok(batch)].into_iter());
/// let target = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)]));
/// let mut source = CastSource::new(Box::new(inner), target.clone())?;
/// let out = source.next_batch()?.unwrap();
/// assert_eq!(out.schema(), target);
/// assert_eq!(out.num_columns(), 1);
///
/// let strict = Arc::new(Schema::new(vec![Field::new("m", DataType::Int64, true)]));
/// let inner = IterSource::new(out.schema(), Vec::new().into_iter());
/// let err = CastSource::new(Box::new(inner), strict).unwrap_err();
/// assert_eq!(err.to_string(), "input is missing column `m` (expected type Int64)");
/// # Ok::<(), export_core::ExportError>(())
/// ```
pub struct CastSource {
    inner: Box<dyn Source>,
    target: SchemaRef,
    /// Per target column, its index in the inner source's batches.
    indices: Vec<usize>,
}

impl std::fmt::Debug for CastSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CastSource")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl CastSource {
    /// `inner` seen through `target`.
    ///
    /// # Errors
    ///
    /// [`ExportError::MissingColumn`] when `inner` lacks a target column,
    /// [`ExportError::ColumnType`] when one has a type that cannot be converted.
    pub fn new(inner: Box<dyn Source>, target: SchemaRef) -> Result<CastSource> {
        let indices = check_target(&inner.schema(), &target)?;
        Ok(CastSource {
            inner,
            target,
            indices,
        })
    }
}

impl Source for CastSource {
    fn schema(&self) -> SchemaRef {
        self.target.clone()
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let Some(batch) = self.inner.next_batch()? else {
            return Ok(None);
        };
        let columns = self
            .indices
            .iter()
            .zip(self.target.fields())
            .map(|(&i, field)| cast_column(batch.column(i), field))
            .collect::<Result<Vec<_>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        Ok(Some(RecordBatch::try_new_with_options(
            Arc::clone(&self.target),
            columns,
            &options,
        )?))
    }

    fn rows_hint(&self) -> Option<u64> {
        self.inner.rows_hint()
    }
}
