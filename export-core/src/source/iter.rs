//! Sources over in-memory iterators of record batches.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{Schema, SchemaRef};

use crate::error::{ExportError, Result};
use crate::source::Source;

/// A [`Source`] over an iterator of record batches that all have one declared schema.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Int64Array, RecordBatch};
/// use arrow_schema::{DataType, Field, Schema};
/// use export_core::source::{Source, IterSource};
///
/// let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
/// let batches = (0..3).map(|i| {
///     Ok(RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![i, i + 10]))])?)
/// });
/// let mut source = IterSource::new(schema.clone(), batches).with_rows_hint(6);
/// assert_eq!(source.rows_hint(), Some(6));
/// let mut rows = 0;
/// while let Some(batch) = source.next_batch().unwrap() {
///     rows += batch.num_rows();
/// }
/// assert_eq!(rows, 6);
/// ```
///
/// [`IterSource`] adapts any iterator of `Result<RecordBatch>` (a vector of batches, a reader of
/// another library, a generator closure) to [`Source`]. Every batch is checked against the
/// declared schema, so a producer that drifts (a renamed column, another type) fails with an
/// error naming the column instead of producing a wrong file.
pub struct IterSource<I> {
    schema: SchemaRef,
    iter: I,
    rows_hint: Option<u64>,
    done: bool,
}

impl<I> IterSource<I>
where
    I: Iterator<Item = Result<RecordBatch>> + Send,
{
    /// A source yielding the batches of `iter`, each checked against `schema`.
    pub fn new(schema: SchemaRef, iter: I) -> Self {
        IterSource {
            schema,
            iter,
            rows_hint: None,
            done: false,
        }
    }

    /// Announces how many rows the iterator will yield (for progress reporting only).
    pub fn with_rows_hint(mut self, rows: u64) -> Self {
        self.rows_hint = Some(rows);
        self
    }
}

/// The iterator of [`IterSource::from_batches`]: owned batches, each wrapped in `Ok`.
pub type BatchesIter =
    std::iter::Map<std::vec::IntoIter<RecordBatch>, fn(RecordBatch) -> Result<RecordBatch>>;

impl IterSource<BatchesIter> {
    /// A source over batches already in memory; the schema is the first batch's, the rows hint
    /// their total.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidInput`] when `batches` is empty (there is no schema to declare; use
    /// [`IterSource::new`] with an empty iterator for an empty source).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_array::{RecordBatch, StringArray};
    /// use export_core::source::{Source, IterSource};
    ///
    /// let batch = RecordBatch::try_from_iter([
    ///     ("name", Arc::new(StringArray::from(vec!["a", "b"])) as _),
    /// ]).unwrap();
    /// let mut source = IterSource::from_batches(vec![batch.clone(), batch]).unwrap();
    /// assert_eq!(source.rows_hint(), Some(4));
    /// assert_eq!(source.next_batch().unwrap().unwrap().num_rows(), 2);
    /// ```
    pub fn from_batches(batches: Vec<RecordBatch>) -> Result<Self> {
        let schema =
            batches
                .first()
                .map(RecordBatch::schema)
                .ok_or_else(|| ExportError::InvalidInput {
                    source_name: "batches".into(),
                    line: None,
                    reason: "no batch given, so no schema; use IterSource::new for an empty source"
                        .into(),
                })?;
        let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
        let ok: fn(RecordBatch) -> Result<RecordBatch> = Ok;
        Ok(IterSource::new(schema, batches.into_iter().map(ok)).with_rows_hint(rows))
    }
}

impl<I> Source for IterSource<I>
where
    I: Iterator<Item = Result<RecordBatch>> + Send,
{
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// # Errors
    ///
    /// The iterator's own errors; [`ExportError::MissingColumn`], [`ExportError::ColumnType`],
    /// [`ExportError::InvalidValue`] or [`ExportError::InvalidInput`] when a batch does not match
    /// the declared schema (see [`conform`]).
    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        if self.done {
            return Ok(None);
        }
        match self.iter.next() {
            None => {
                self.done = true;
                Ok(None)
            }
            Some(batch) => Ok(Some(conform(&self.schema, &batch?, "iterator")?)),
        }
    }

    fn rows_hint(&self) -> Option<u64> {
        self.rows_hint
    }
}

/// Checks `batch` against the declared `schema` and returns it carrying exactly that schema.
///
/// Columns are matched by name; a batch whose columns come in another order is reordered (no
/// copy). Types must be equal, nested types included.
///
/// # Errors
///
/// - [`ExportError::MissingColumn`] when a declared column is absent;
/// - [`ExportError::ColumnType`] when a column has another Arrow type;
/// - [`ExportError::InvalidValue`] when a column declared non-nullable holds a null;
/// - [`ExportError::InvalidInput`] (naming `source_name`) when the batch has a column the schema
///   does not declare.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Int32Array, RecordBatch};
/// use arrow_schema::{DataType, Field, Schema};
/// use export_core::source::conform;
///
/// let declared = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)]));
/// let batch = RecordBatch::try_from_iter([("n", Arc::new(Int32Array::from(vec![1])) as _)]).unwrap();
/// let err = conform(&declared, &batch, "test").unwrap_err();
/// assert_eq!(err.to_string(), "column `n` has type Int32, expected Int64");
/// ```
pub fn conform(schema: &SchemaRef, batch: &RecordBatch, source_name: &str) -> Result<RecordBatch> {
    let actual = batch.schema();
    if Arc::ptr_eq(schema, &actual) {
        return Ok(batch.clone());
    }
    if same_fields(schema, &actual) {
        return Ok(batch.clone().with_schema(schema.clone())?);
    }
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let Some(index) = actual.index_of(field.name()).ok() else {
            return Err(ExportError::MissingColumn {
                column: field.name().clone(),
                expected: field.data_type().to_string(),
            });
        };
        let column = batch.column(index);
        if column.data_type() != field.data_type() {
            return Err(ExportError::ColumnType {
                column: field.name().clone(),
                expected: field.data_type().to_string(),
                actual: column.data_type().to_string(),
            });
        }
        if !field.is_nullable() && column.null_count() > 0 {
            let row = (0..column.len()).find(|&i| column.is_null(i)).unwrap_or(0);
            return Err(ExportError::InvalidValue {
                column: field.name().clone(),
                row,
                reason: "null in a required column".into(),
            });
        }
        columns.push(column.clone());
    }
    if let Some(extra) = actual
        .fields()
        .iter()
        .find(|f| schema.field_with_name(f.name()).is_err())
    {
        return Err(ExportError::InvalidInput {
            source_name: source_name.to_string(),
            line: None,
            reason: format!(
                "unexpected column `{}`; declared columns are: {}",
                extra.name(),
                field_names(schema)
            ),
        });
    }
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &options,
    )?)
}

/// True when both schemas have the same fields in the same order (names, types, nullability),
/// whatever their metadata.
fn same_fields(a: &Schema, b: &Schema) -> bool {
    a.fields().len() == b.fields().len()
        && a.fields().iter().zip(b.fields().iter()).all(|(x, y)| {
            x.name() == y.name()
                && x.data_type() == y.data_type()
                && x.is_nullable() == y.is_nullable()
        })
}

/// The field names of `schema`, comma-separated (for error messages).
pub(crate) fn field_names(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, StringArray};
    use arrow_schema::{DataType, Field};

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]))
    }

    #[test]
    fn reorders_columns_by_name() {
        let batch = RecordBatch::try_from_iter([
            ("name", Arc::new(StringArray::from(vec!["a"])) as ArrayRef),
            ("id", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
        ])
        .unwrap();
        let out = conform(&schema(), &batch, "t").unwrap();
        assert_eq!(out.schema(), schema());
        assert_eq!(out.column(0).data_type(), &DataType::Int64);
    }

    #[test]
    fn missing_extra_and_null_columns_are_errors() {
        let only_id =
            RecordBatch::try_from_iter([("id", Arc::new(Int64Array::from(vec![1])) as ArrayRef)])
                .unwrap();
        let err = conform(&schema(), &only_id, "t").unwrap_err();
        assert!(matches!(err, ExportError::MissingColumn { ref column, .. } if column == "name"));

        let extra = RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
            ("name", Arc::new(StringArray::from(vec!["a"])) as ArrayRef),
            ("x", Arc::new(StringArray::from(vec!["a"])) as ArrayRef),
        ])
        .unwrap();
        let err = conform(&schema(), &extra, "t").unwrap_err();
        assert!(err.to_string().contains("unexpected column `x`"), "{err}");

        let null_id = RecordBatch::try_from_iter([
            (
                "id",
                Arc::new(Int64Array::from(vec![Some(1), None])) as ArrayRef,
            ),
            (
                "name",
                Arc::new(StringArray::from(vec!["a", "b"])) as ArrayRef,
            ),
        ])
        .unwrap();
        let err = conform(&schema(), &null_id, "t").unwrap_err();
        assert!(
            matches!(err, ExportError::InvalidValue { row: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn from_batches_needs_one_batch() {
        assert!(IterSource::from_batches(Vec::new()).is_err());
    }
}
