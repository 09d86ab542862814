//! Asynchronous inputs: `futures` streams and bounded channels of record batches.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use futures::channel::mpsc;
use futures::{SinkExt, Stream, StreamExt};

use crate::error::{ExportError, Result};
use crate::runtime::IoRuntime;
use crate::source::Source;
use crate::source::iter::conform;

/// A [`Source`] over a [`futures::Stream`] of record batches.
///
/// [`Source::next_batch`] blocks the calling thread until the stream yields, polling it on an
/// [`IoRuntime`] ([`IoRuntime::shared`], or the one given with [`StreamSource::with_runtime`])
/// with [`IoRuntime::block_on`]: the stream is polled inside that runtime's context, so tokio
/// timers and sockets work even when the export runs on a plain thread. Run the export on a
/// blocking thread (a `std::thread`, or [`IoRuntime::spawn_blocking`]), not on an async
/// executor's worker: the formatting that follows each batch is CPU work and would stall the
/// executor.
///
/// Every batch is checked against the declared schema (see [`conform`]).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Int64Array, RecordBatch};
/// use arrow_schema::{DataType, Field, Schema};
/// use export_core::source::{Source, StreamSource};
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
///
/// Formatting a file is CPU work, so it must not run on an async executor's threads. The
/// adapters here let async code *produce* batches while the export *consumes* them on a thread
/// of its own (a plain `std::thread`, or `tokio::task::spawn_blocking`):
///
/// - [`StreamSource`] drives a [`futures::Stream`] one item at a time, waiting on an
///   [`IoRuntime`] ([`IoRuntime::block_on`]), so a stream of tokio I/O types works from a plain
///   thread too;
/// - [`channel`] returns a [`BatchSender`] for async producers and a [`ChannelSource`] for the
///   export. The channel is bounded, so a fast producer waits (backpressure) instead of filling
///   memory.
///
/// Both wait through [`IoRuntime::shared`] unless given a runtime with `with_runtime` (an
/// engine passes its own). [`IoRuntime::block_on`] is safe from any thread: a plain thread, a
/// blocking-pool thread, even a multi-thread runtime's worker (it blocks in place there).
pub struct StreamSource<S> {
    schema: SchemaRef,
    stream: S,
    rows_hint: Option<u64>,
    done: bool,
    /// The runtime to wait on; `None` for [`IoRuntime::shared`], taken at the first batch.
    io: Option<IoRuntime>,
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
            io: None,
        }
    }

    /// Announces how many rows the stream will yield (for progress reporting only).
    pub fn with_rows_hint(mut self, rows: u64) -> Self {
        self.rows_hint = Some(rows);
        self
    }

    /// Polls the stream on `io` (an engine's runtime) instead of [`IoRuntime::shared`].
    ///
    /// # Examples
    ///
    /// A stream that sleeps with tokio's timer, read from a plain thread:
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use arrow_array::{Int64Array, RecordBatch};
    /// use arrow_schema::{DataType, Field, Schema};
    /// use futures::StreamExt;
    /// use export_core::runtime::IoRuntime;
    /// use export_core::source::{Source, StreamSource};
    ///
    /// let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
    /// let s2 = schema.clone();
    /// let stream = futures::stream::iter(0..3).then(move |i| {
    ///     let schema = s2.clone();
    ///     async move {
    ///         tokio::time::sleep(Duration::from_millis(1)).await;
    ///         Ok(RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![i]))])?)
    ///     }
    /// });
    /// let io = IoRuntime::new(1).unwrap();
    /// let mut source = StreamSource::new(schema, Box::pin(stream)).with_runtime(&io);
    /// let mut rows = 0;
    /// while let Some(b) = source.next_batch().unwrap() { rows += b.num_rows(); }
    /// assert_eq!(rows, 3);
    /// ```
    pub fn with_runtime(mut self, io: &IoRuntime) -> Self {
        self.io = Some(io.clone());
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
        let io = self.io.get_or_insert_with(IoRuntime::shared);
        match io.block_on(self.stream.next()) {
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
/// use export_core::source::{Source, channel};
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
            io: None,
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

    /// Sends a batch from synchronous code, blocking the thread while the channel is full
    /// (waiting through [`IoRuntime::shared`], so it does not panic on any thread). From an
    /// async task use [`BatchSender::send`].
    ///
    /// # Errors
    ///
    /// As [`BatchSender::send`].
    pub fn blocking_send(&mut self, batch: RecordBatch) -> Result<()> {
        IoRuntime::shared().block_on(self.send(batch))
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
    /// The runtime to wait on; `None` for [`IoRuntime::shared`], taken at the first batch.
    io: Option<IoRuntime>,
}

impl ChannelSource {
    /// Announces how many rows the producers will send (for progress reporting only).
    pub fn with_rows_hint(mut self, rows: u64) -> Self {
        self.rows_hint = Some(rows);
        self
    }

    /// Waits for batches through `io` (an engine's runtime) instead of [`IoRuntime::shared`].
    pub fn with_runtime(mut self, io: &IoRuntime) -> Self {
        self.io = Some(io.clone());
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
        let io = self.io.get_or_insert_with(IoRuntime::shared);
        match io.block_on(self.rx.next()) {
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
