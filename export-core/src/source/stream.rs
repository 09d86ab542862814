//! Asynchronous inputs: `futures` streams and bounded channels of record batches.
//!
//! Formatting a file is CPU work, so it must not run on an async executor's threads. The
//! adapters here let async code *produce* batches while the export *consumes* them on a thread
//! of its own (a plain `std::thread`, or `tokio::task::spawn_blocking`):
//!
//! - [`StreamSource`] drives a [`futures::Stream`] with [`futures::executor::block_on`], one
//!   item at a time;
//! - [`channel`] returns a [`BatchSender`] for async producers and a [`ChannelSource`] for the
//!   export. The channel is bounded, so a fast producer waits (backpressure) instead of filling
//!   memory.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use futures::channel::mpsc;
use futures::{SinkExt, Stream, StreamExt};

use crate::error::{ExportError, Result};
use crate::source::Source;
use crate::source::iter::conform;

/// A [`Source`] over a [`futures::Stream`] of record batches.
///
/// [`Source::next_batch`] blocks the calling thread until the stream yields, with
/// [`futures::executor::block_on`]. Run the export on a blocking thread (a `std::thread`, or
/// `tokio::task::spawn_blocking`), never on an async executor's worker: the formatting that
/// follows each batch is CPU work and would stall the executor. A stream that needs a specific
/// runtime (tokio I/O types) must be polled where that runtime's context is available; when in
/// doubt, feed a [`channel`] from a task on that runtime instead.
///
/// Every batch is checked against the declared schema (see [`conform`]).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Int64Array, RecordBatch};
/// use arrow_schema::{DataType, Field, Schema};
/// use export_core::source::{Source, stream::StreamSource};
///
/// let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
/// let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1, 2]))]).unwrap();
/// let stream = futures::stream::iter(vec![Ok(batch.clone()), Ok(batch)]);
/// let mut source = StreamSource::new(schema, stream);
/// let handle = std::thread::spawn(move || {
///     let mut rows = 0;
///     while let Some(b) = source.next_batch()? { rows += b.num_rows(); }
///     Ok::<_, export_core::ExportError>(rows)
/// });
/// assert_eq!(handle.join().unwrap().unwrap(), 4);
/// ```
pub struct StreamSource<S> {
    schema: SchemaRef,
    stream: S,
    rows_hint: Option<u64>,
    done: bool,
}

impl<S> StreamSource<S>
where
    S: Stream<Item = Result<RecordBatch>> + Send + Unpin,
{
    /// A source yielding the items of `stream`, each checked against `schema`.
    pub fn new(schema: SchemaRef, stream: S) -> Self {
        StreamSource {
            schema,
            stream,
            rows_hint: None,
            done: false,
        }
    }

    /// Announces how many rows the stream will yield (for progress reporting only).
    pub fn with_rows_hint(mut self, rows: u64) -> Self {
        self.rows_hint = Some(rows);
        self
    }
}

impl<S> Source for StreamSource<S>
where
    S: Stream<Item = Result<RecordBatch>> + Send + Unpin,
{
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Blocks until the stream yields its next item.
    ///
    /// # Errors
    ///
    /// The stream's own errors, then the schema errors of [`conform`]. After an error the
    /// source keeps polling the stream on the next call; callers normally stop at the first.
    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        if self.done {
            return Ok(None);
        }
        match futures::executor::block_on(self.stream.next()) {
            None => {
                self.done = true;
                Ok(None)
            }
            Some(item) => Ok(Some(conform(&self.schema, &item?, "stream")?)),
        }
    }

    fn rows_hint(&self) -> Option<u64> {
        self.rows_hint
    }
}

/// A bounded channel of record batches: async producers hold the [`BatchSender`], the export
/// drains the [`ChannelSource`] on its own thread.
///
/// At most about `capacity` batches wait in the channel (plus one per sender clone, as with
/// [`futures::channel::mpsc::channel`]); a producer's [`BatchSender::send`] waits when it is
/// full. When every sender is dropped, the source ends after the batches already sent. A
/// producer reports a failure with [`BatchSender::send_error`]: the export stops with that error.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Int64Array, RecordBatch};
/// use arrow_schema::{DataType, Field, Schema};
/// use export_core::source::{Source, stream::channel};
///
/// let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
/// let (mut sender, mut source) = channel(schema.clone(), 2);
/// let producer = std::thread::spawn(move || {
///     futures::executor::block_on(async {
///         for i in 0..10 {
///             let batch = RecordBatch::try_new(
///                 schema.clone(), vec![Arc::new(Int64Array::from(vec![i]))])?;
///             sender.send(batch).await?;
///         }
///         Ok::<_, export_core::ExportError>(())
///     }) // dropping `sender` here ends the source
/// });
/// let mut rows = 0;
/// while let Some(batch) = source.next_batch().unwrap() {
///     rows += batch.num_rows();
/// }
/// producer.join().unwrap().unwrap();
/// assert_eq!(rows, 10);
/// ```
pub fn channel(schema: SchemaRef, capacity: usize) -> (BatchSender, ChannelSource) {
    let (tx, rx) = mpsc::channel(capacity);
    (
        BatchSender { tx },
        ChannelSource {
            schema,
            rx,
            rows_hint: None,
            done: false,
        },
    )
}

/// The producing end of a [`channel`]. Clone it to feed the channel from several tasks.
#[derive(Clone, Debug)]
pub struct BatchSender {
    tx: mpsc::Sender<Result<RecordBatch>>,
}

impl BatchSender {
    /// Sends a batch, waiting while the channel is full.
    ///
    /// The batch is checked against the schema on the export's side, so a wrong batch fails the
    /// export with an error naming the column.
    ///
    /// # Errors
    ///
    /// [`ExportError::Cancelled`] when the [`ChannelSource`] was dropped (the export ended,
    /// failed or was cancelled): stop producing.
    pub async fn send(&mut self, batch: RecordBatch) -> Result<()> {
        self.tx
            .send(Ok(batch))
            .await
            .map_err(|_| ExportError::Cancelled)
    }

    /// Sends an error: the export's next [`Source::next_batch`] returns it and the source ends.
    ///
    /// # Errors
    ///
    /// [`ExportError::Cancelled`] when the [`ChannelSource`] was dropped.
    pub async fn send_error(&mut self, error: ExportError) -> Result<()> {
        self.tx
            .send(Err(error))
            .await
            .map_err(|_| ExportError::Cancelled)
    }

    /// Sends a batch from synchronous code, blocking the thread while the channel is full.
    /// Do not call it from an async task (use [`BatchSender::send`]).
    ///
    /// # Errors
    ///
    /// As [`BatchSender::send`].
    pub fn blocking_send(&mut self, batch: RecordBatch) -> Result<()> {
        futures::executor::block_on(self.send(batch))
    }

    /// True when the [`ChannelSource`] was dropped, so that further sends would fail.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// The consuming end of a [`channel`]: a [`Source`] that blocks its thread until a batch
/// arrives, so run it on a blocking thread, not on an async executor.
#[derive(Debug)]
pub struct ChannelSource {
    schema: SchemaRef,
    rx: mpsc::Receiver<Result<RecordBatch>>,
    rows_hint: Option<u64>,
    done: bool,
}

impl ChannelSource {
    /// Announces how many rows the producers will send (for progress reporting only).
    pub fn with_rows_hint(mut self, rows: u64) -> Self {
        self.rows_hint = Some(rows);
        self
    }
}

impl Source for ChannelSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Blocks until a batch arrives or every sender is dropped.
    ///
    /// # Errors
    ///
    /// An error a producer sent with [`BatchSender::send_error`] (the source then ends, and the
    /// channel is closed so producers see [`ExportError::Cancelled`]); the schema errors of
    /// [`conform`].
    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        if self.done {
            return Ok(None);
        }
        match futures::executor::block_on(self.rx.next()) {
            None => {
                self.done = true;
                Ok(None)
            }
            Some(Ok(batch)) => Ok(Some(conform(&self.schema, &batch, "channel")?)),
            Some(Err(error)) => {
                self.done = true;
                self.rx.close();
                Err(error)
            }
        }
    }

    fn rows_hint(&self) -> Option<u64> {
        self.rows_hint
    }
}
