//! Parquet input: files written by pyarrow, polars, DuckDB, Spark or arrow-rs.

use std::fs::File;
use std::path::Path;

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, SchemaRef};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::errors::ParquetError;

use crate::error::{ExportError, Result};
use crate::source::Source;

/// Options of a [`ParquetSource`]; [`ParquetSourceBuilder::open`] opens the file.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Int64Array, RecordBatch, StringArray};
/// use export_core::source::Source;
/// use export_core::source::ParquetSource;
/// use parquet::arrow::ArrowWriter;
///
/// let batch = RecordBatch::try_from_iter([
///     ("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as _),
///     ("name", Arc::new(StringArray::from(vec!["a", "b", "c"])) as _),
/// ])?;
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("items.parquet");
/// let mut writer = ArrowWriter::try_new(std::fs::File::create(&path)?, batch.schema(), None)?;
/// writer.write(&batch)?;
/// writer.close()?;
///
/// let mut source = ParquetSource::builder().columns(["name"]).batch_size(2).open(&path)?;
/// assert_eq!(source.rows_hint(), Some(3)); // from the file's metadata
/// assert_eq!(source.schema().fields().len(), 1);
/// assert_eq!(source.next_batch()?.unwrap().num_rows(), 2);
/// assert_eq!(source.next_batch()?.unwrap().num_rows(), 1);
/// assert!(source.next_batch()?.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ParquetSourceBuilder {
    columns: Option<Vec<String>>,
    batch_size: usize,
}

impl Default for ParquetSourceBuilder {
    fn default() -> Self {
        ParquetSource::builder()
    }
}

impl ParquetSourceBuilder {
    /// Reads only these top-level columns (in the file's column order); default: all.
    pub fn columns<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.columns = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Rows per batch; default 8192 (0 is taken as 1).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Opens the file and reads its metadata (footer).
    ///
    /// # Errors
    ///
    /// - [`ExportError::Io`] with the path when the file cannot be opened or read;
    /// - [`ExportError::InvalidInput`] naming the file when it is not Parquet, or when a column
    ///   given to [`ParquetSourceBuilder::columns`] is not in it (the message lists the file's
    ///   columns).
    pub fn open(self, path: impl AsRef<Path>) -> Result<ParquetSource> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let file = File::open(path).map_err(|e| ExportError::io(path, e))?;
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| parquet_error(&name, e))?;
        let rows_hint = u64::try_from(builder.metadata().file_metadata().num_rows()).ok();
        let mut builder = builder.with_batch_size(self.batch_size);
        if let Some(columns) = &self.columns {
            let schema = builder.schema().clone();
            let mut roots = Vec::with_capacity(columns.len());
            for column in columns {
                match schema.index_of(column) {
                    Ok(i) => roots.push(i),
                    Err(_) => {
                        let known: Vec<&str> =
                            schema.fields().iter().map(|f| f.name().as_str()).collect();
                        return Err(ExportError::InvalidInput {
                            source_name: name,
                            line: None,
                            reason: format!(
                                "no column `{column}` in the file; its columns are: {}",
                                known.join(", ")
                            ),
                        });
                    }
                }
            }
            let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
            builder = builder.with_projection(mask);
        }
        let reader = builder.build().map_err(|e| parquet_error(&name, e))?;
        Ok(ParquetSource {
            schema: reader.schema(),
            name,
            reader,
            rows_hint,
        })
    }
}

/// A [`Source`] reading a Parquet file row group by row group. Made by
/// [`ParquetSource::open`] or [`ParquetSource::builder`].
///
/// [`ParquetSource`] decodes one row group at a time (in batches of [`ParquetSourceBuilder::batch_size`]
/// rows), so memory holds one row group's column chunks, not the file; with
/// [`ParquetSourceBuilder::columns`] only the named top-level columns are read from disk.
/// Snappy, zstd, gzip and LZ4 compressed files are read.
pub struct ParquetSource {
    name: String,
    reader: ParquetRecordBatchReader,
    schema: SchemaRef,
    rows_hint: Option<u64>,
}

impl std::fmt::Debug for ParquetSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetSource")
            .field("name", &self.name)
            .field("rows_hint", &self.rows_hint)
            .finish_non_exhaustive()
    }
}

impl ParquetSource {
    /// Opens `path` with every column, 8192 rows per batch.
    ///
    /// # Errors
    ///
    /// As [`ParquetSourceBuilder::open`].
    pub fn open(path: impl AsRef<Path>) -> Result<ParquetSource> {
        ParquetSource::builder().open(path)
    }

    /// A builder to choose the columns and the batch size before opening.
    pub fn builder() -> ParquetSourceBuilder {
        ParquetSourceBuilder {
            columns: None,
            batch_size: 8192,
        }
    }
}

impl Source for ParquetSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// # Errors
    ///
    /// [`ExportError::InvalidInput`] naming the file when a page cannot be decoded (truncated
    /// or corrupt file); [`ExportError::Io`] when reading fails.
    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        match self.reader.next() {
            None => Ok(None),
            Some(Ok(batch)) => Ok(Some(batch)),
            Some(Err(ArrowError::IoError(_, source))) => {
                Err(ExportError::io(Path::new(&self.name), source))
            }
            Some(Err(e)) => Err(ExportError::InvalidInput {
                source_name: self.name.clone(),
                line: None,
                reason: format!("not a readable Parquet file: {e}"),
            }),
        }
    }

    fn rows_hint(&self) -> Option<u64> {
        self.rows_hint
    }
}

fn parquet_error(name: &str, error: ParquetError) -> ExportError {
    ExportError::InvalidInput {
        source_name: name.to_string(),
        line: None,
        reason: format!("not a readable Parquet file: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Int64Array, StringArray};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;
    use std::sync::Arc;

    fn write(path: &Path, rows: i64, row_group: usize) {
        let batch = RecordBatch::try_from_iter([
            (
                "id",
                Arc::new(Int64Array::from_iter_values(0..rows)) as ArrayRef,
            ),
            (
                "name",
                Arc::new(StringArray::from_iter_values(
                    (0..rows).map(|i| format!("n{i}")),
                )) as ArrayRef,
            ),
        ])
        .unwrap();
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(row_group))
            .build();
        let file = File::create(path).unwrap();
        let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }

    #[test]
    fn reads_every_row_group_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        write(&path, 10_000, 3_000);
        let mut source = ParquetSource::builder()
            .batch_size(4096)
            .open(&path)
            .unwrap();
        let mut next = 0i64;
        while let Some(b) = source.next_batch().unwrap() {
            assert!(b.num_rows() <= 4096);
            let ids = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            for v in ids.values() {
                assert_eq!(*v, next);
                next += 1;
            }
        }
        assert_eq!(next, 10_000);
    }

    #[test]
    fn unknown_column_and_non_parquet_are_invalid_input() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        write(&path, 3, 10);
        let err = ParquetSource::builder()
            .columns(["nope"])
            .open(&path)
            .unwrap_err();
        assert_eq!(err.code(), "INVALID_INPUT");
        assert!(err.to_string().contains("id, name"), "{err}");
        let text = dir.path().join("t.csv");
        std::fs::write(&text, "a,b\n1,2\n").unwrap();
        let err = ParquetSource::open(&text).unwrap_err();
        assert!(
            err.to_string().contains("not a readable Parquet file"),
            "{err}"
        );
    }
}
