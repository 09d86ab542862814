//! Where batches come from.
//!
//! A [`Source`] yields Arrow record batches one at a time, with an optional row-count hint for
//! progress. Adapters cover iterators ([`iter`]), async streams ([`stream`]), Arrow IPC and CSV
//! files ([`ipc`], [`csv_file`]), Parquet files (`parquet`, cargo feature `parquet`), and a
//! deterministic sample-trip generator ([`sample`]).

mod bounded;
pub mod csv_file;
pub mod ipc;
pub mod iter;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod sample;
pub mod stream;

#[cfg(feature = "parquet")]
pub use self::parquet::{ParquetSource, ParquetSourceBuilder};
pub use csv_file::{CsvFileSource, CsvFileSourceBuilder};
pub use ipc::{IpcSource, IpcSpool};
pub use iter::IterSource;
pub use sample::{SampleConfig, SampleTrips};
pub use stream::{BatchSender, ChannelSource, StreamSource, channel};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::error::{ExportError, Result};

/// Opens an input file; a missing one is bad input ([`ExportError::InvalidInput`] naming it,
/// as a CLI reports with exit status 2), not an I/O failure.
pub(crate) fn open_input_file(path: &std::path::Path) -> Result<std::fs::File> {
    std::fs::File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ExportError::InvalidInput {
                source_name: path.display().to_string(),
                line: None,
                reason: "no such file".into(),
            }
        } else {
            ExportError::io(path, e)
        }
    })
}

/// A producer of record batches that all share one schema.
pub trait Source: Send {
    /// The schema of every batch.
    fn schema(&self) -> SchemaRef;

    /// The next batch, or `None` when the source is exhausted.
    ///
    /// # Errors
    ///
    /// [`crate::ExportError::InvalidInput`] naming the source and line when input cannot be read.
    fn next_batch(&mut self) -> Result<Option<RecordBatch>>;

    /// How many rows the source expects to yield, when known (for progress).
    fn rows_hint(&self) -> Option<u64> {
        None
    }
}

impl<S: Source + ?Sized> Source for Box<S> {
    fn schema(&self) -> SchemaRef {
        (**self).schema()
    }
    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        (**self).next_batch()
    }
    fn rows_hint(&self) -> Option<u64> {
        (**self).rows_hint()
    }
}
