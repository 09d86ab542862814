//! Where batches come from.
//!
//! A [`Source`] yields Arrow record batches one at a time, with an optional row-count hint for
//! progress. Adapters cover iterators ([`IterSource`]), async streams ([`StreamSource`],
//! [`channel`]), Arrow IPC and CSV files ([`IpcSource`], [`CsvFileSource`]), Parquet files
//! (`ParquetSource`, cargo feature `parquet`), PostgreSQL queries (`PgSource`, cargo feature
//! `postgres`), and a deterministic sample-trip generator
//! ([`SampleTrips`]). [`RowBatcher`] builds batches from rows of host [`Value`]s (a binding's
//! dicts, tuples, objects or arrays), the first batch deciding each column's type.

mod bounded;
pub(crate) mod cast;
pub(crate) mod csv_file;
pub(crate) mod ipc;
pub(crate) mod iter;
#[cfg(feature = "parquet")]
pub(crate) mod parquet;
#[cfg(feature = "postgres")]
pub mod postgres;
pub(crate) mod rows;
pub(crate) mod sample;
pub(crate) mod stream;

#[cfg(feature = "parquet")]
pub use self::parquet::{ParquetSource, ParquetSourceBuilder};
#[cfg(feature = "postgres")]
pub use self::postgres::{PgParam, PgSource, PgSourceBuilder};
pub use cast::CastSource;
pub use csv_file::{CsvFileSource, CsvFileSourceBuilder, DEFAULT_MAX_RECORD_BYTES};
pub use ipc::{IpcSource, IpcSpool};
pub use iter::{BatchesIter, IterSource, conform};
pub use rows::{RowBatcher, Value};
pub use sample::{Commune, SampleConfig, SampleTrips};
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
