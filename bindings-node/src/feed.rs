//! [`Feed`]: rows pushed from JS in slices (an array, an async iterable, a job's data
//! function), converted on the main thread and queued for the export's thread, which reads
//! them as a [`Source`] ([`FeedSource`]). The queue is short: `push` resolves only once there
//! is room, so an async iterable is read no faster than the file is written.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use export_core::source::Value;
use export_core::source::{IpcSource, RowBatcher, Source};
use export_core::{ExportError, Result};
use napi::Env;
use napi::bindgen_prelude::{
    Array, Float64ArraySlice, Int32ArraySlice, PromiseRaw, Unknown, Utf16String,
};
use napi_derive::napi;
use tokio::sync::mpsc;

use crate::convert::{bytes, cell, date_ms, number, type_name};
use crate::errors::{Failure, to_js};
use crate::input::{DEFAULT_BATCH_ROWS, RowOptions, push_row};

/// Batches waiting for the export before `push` waits.
const QUEUED_BATCHES: usize = 2;

/// What crosses from JS to the export's thread.
enum Item {
    Batch(RecordBatch),
    /// A whole source at once (Arrow IPC bytes): the only item of its feed.
    Source(Box<dyn Source>),
    /// The end, with the schema when no row came.
    End(SchemaRef),
    /// The host's data failed (its iterator threw, a row was bad): stop, keep no file.
    Fail(String),
}

/// The receiving end, held by the export until it opens the feed.
pub struct Inlet(mpsc::Receiver<Item>);

/// Feeds waiting for the JS side of a job's data function, by id: the export's thread makes
/// the channel, JS claims the sending end with [`Feed::claim`].
static WAITING: LazyLock<Mutex<HashMap<u32, mpsc::Sender<Item>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));
static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// A channel whose sending end waits for JS under a fresh id.
pub fn waiting() -> (u32, Inlet) {
    let (tx, rx) = mpsc::channel(QUEUED_BATCHES);
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    WAITING
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id, tx);
    (id, Inlet(rx))
}

/// Forgets a waiting feed nobody claimed (its job ended another way).
pub fn forget(id: u32) {
    WAITING
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&id);
}

/// Rows for one export, pushed from JS: `push(rows)` (an array of objects or arrays) as often
/// as needed, awaiting each, then `end()`; or `ipc(bytes)` once; or `fail(message)` when the
/// data cannot be had. Each promise resolves `false` once the export stopped reading (it
/// failed or was cancelled): the pushing side stops.
#[napi]
pub struct Feed {
    batcher: Mutex<RowBatcher>,
    columns: Option<Vec<String>>,
    floats: Vec<String>,
    tx: Arc<tokio::sync::Mutex<Option<mpsc::Sender<Item>>>>,
    inlet: Mutex<Option<Inlet>>,
}

impl Feed {
    fn with(tx: mpsc::Sender<Item>, inlet: Option<Inlet>, options: RowOptions) -> Feed {
        let rows = options.batch_rows.unwrap_or(DEFAULT_BATCH_ROWS);
        let batcher = match &options.columns {
            Some(columns) => RowBatcher::with_columns(columns.clone(), rows),
            None => RowBatcher::new(rows),
        }
        .float_columns(options.float_columns.iter().flatten().cloned());
        Feed {
            batcher: Mutex::new(batcher),
            columns: options.columns,
            floats: options.float_columns.unwrap_or_default(),
            tx: Arc::new(tokio::sync::Mutex::new(Some(tx))),
            inlet: Mutex::new(inlet),
        }
    }

    /// A new feed with its receiving end, for an export started from JS.
    pub fn new_pair(options: RowOptions) -> Feed {
        let (tx, rx) = mpsc::channel(QUEUED_BATCHES);
        Feed::with(tx, Some(Inlet(rx)), options)
    }

    /// Takes the receiving end (once).
    pub fn take_inlet(&self) -> Option<Inlet> {
        self.inlet.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Sends `items` in order, waiting for room: `false` once the export stopped reading.
    fn send<'env>(&self, env: &'env Env, items: Vec<Item>) -> napi::Result<PromiseRaw<'env, bool>> {
        let tx = self.tx.clone();
        env.spawn_future(async move {
            // Held across the sends: the items of two un-awaited calls never interleave.
            let guard = tx.lock().await;
            let Some(sender) = guard.as_ref() else {
                return Ok(false);
            };
            for item in items {
                if sender.send(item).await.is_err() {
                    return Ok(false);
                }
            }
            Ok(true)
        })
    }

    fn end_schema(&self, batcher: &RowBatcher) -> SchemaRef {
        batcher.schema().unwrap_or_else(|| {
            // No row at all: the given columns, as text, or no column.
            Arc::new(Schema::new(
                self.columns
                    .iter()
                    .flatten()
                    .map(|c| Field::new(c, DataType::Utf8, true))
                    .collect::<Vec<_>>(),
            ))
        })
    }
}

#[napi]
impl Feed {
    /// A feed for `startWrite`; `columns` names the columns of array rows, `batchRows` the
    /// rows per batch, `floatColumns` the columns that are floats whatever the first batch
    /// holds (JS numbers: whole prices first, `12.5` later).
    #[napi(constructor)]
    pub fn new(
        columns: Option<Vec<String>>,
        batch_rows: Option<u32>,
        float_columns: Option<Vec<String>>,
    ) -> Feed {
        Feed::new_pair(RowOptions {
            columns,
            batch_rows: batch_rows.filter(|n| *n > 0).map(|n| n as usize),
            float_columns,
        })
    }

    /// The feed a job's data function was handed by id (the export's thread waits on it).
    #[napi(factory)]
    pub fn claim(
        env: Env,
        id: u32,
        columns: Option<Vec<String>>,
        batch_rows: Option<u32>,
    ) -> napi::Result<Feed> {
        let tx = WAITING
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id)
            .ok_or_else(|| {
                to_js(
                    &env,
                    Failure::new("INTERNAL", format!("no feed {id} is waiting")),
                )
            })?;
        Ok(Feed::with(
            tx,
            None,
            RowOptions {
                columns,
                batch_rows: batch_rows.filter(|n| *n > 0).map(|n| n as usize),
                float_columns: None,
            },
        ))
    }

    /// Fixes the column names before the first push (the JS layer gives object rows as arrays
    /// in this order, which converts faster than looking every key up by name).
    #[napi]
    pub fn set_columns(&self, env: Env, columns: Vec<String>) -> napi::Result<()> {
        let mut batcher = self.batcher.lock().unwrap_or_else(|p| p.into_inner());
        if batcher.rows() > 0 {
            return Err(to_js(
                &env,
                Failure::new("INTERNAL", "setColumns after rows were pushed"),
            ));
        }
        let rows = batcher.batch_rows();
        *batcher =
            RowBatcher::with_columns(columns, rows).float_columns(self.floats.iter().cloned());
        Ok(())
    }

    /// Converts `rows` now and queues their full batches; resolves when the queue has room
    /// (`false`: the export stopped). A bad row rejects with `EXPORT_INVALID_INPUT`, naming
    /// its line and column.
    #[napi(ts_args_type = "rows: ReadonlyArray<unknown>")]
    pub fn push<'env>(
        &self,
        env: &'env Env,
        rows: Array<'env>,
    ) -> napi::Result<PromiseRaw<'env, bool>> {
        let mut batches = Vec::new();
        {
            let mut batcher = self.batcher.lock().unwrap_or_else(|p| p.into_inner());
            let converted = (|| -> std::result::Result<(), Failure> {
                for i in 0..rows.len() {
                    let row: Unknown = rows
                        .get(i)
                        .map_err(|e| Failure::argument("data", e.reason))?
                        .ok_or_else(|| Failure::argument("data", format!("no row {i}")))?;
                    push_row(&mut batcher, &row)?;
                    if batcher.is_full()
                        && let Some(batch) = batcher.flush()?
                    {
                        batches.push(Item::Batch(batch));
                    }
                }
                Ok(())
            })();
            converted.map_err(|f| to_js(env, f))?;
        }
        self.send(env, batches)
    }

    /// As `push`, for rows given by column (the JS layer's fast path for object rows):
    /// `kinds` has a letter per column: `n` a `Float64Array` of numbers, `d` a `Float64Array`
    /// of `Date` time values, `s` a pair of the column's strings joined and an `Int32Array` of
    /// their UTF-16 lengths (-1 for null), `v` an array of any values.
    #[napi(
        ts_args_type = "kinds: string, columns: ReadonlyArray<Float64Array | [string, Int32Array] | ReadonlyArray<unknown>>, rows: number"
    )]
    pub fn push_columns<'env>(
        &self,
        env: &'env Env,
        kinds: String,
        columns: Array<'env>,
        rows: u32,
    ) -> napi::Result<PromiseRaw<'env, bool>> {
        let mut batches = Vec::new();
        {
            let mut batcher = self.batcher.lock().unwrap_or_else(|p| p.into_inner());
            let converted = (|| -> std::result::Result<(), Failure> {
                let base = batcher.rows();
                let names = batcher
                    .columns()
                    .map(<[String]>::to_vec)
                    .unwrap_or_default();
                let bad = |r: usize, c: usize, reason: String| -> Failure {
                    let line = base + r as u64 + 1;
                    let name = names.get(c).map(String::as_str).unwrap_or("?");
                    ExportError::InvalidInput {
                        source_name: "data".into(),
                        line: Some(line),
                        reason: format!("column {name:?}: {reason}"),
                    }
                    .into()
                };
                let rows = rows as usize;
                let mut values: Vec<std::vec::IntoIter<Value>> = Vec::new();
                for (c, kind) in kinds.chars().enumerate() {
                    let column: Unknown = columns
                        .get(c as u32)?
                        .ok_or_else(|| Failure::argument("columns", format!("no column {c}")))?;
                    let list: Vec<Value> = match kind {
                        'n' | 'd' => {
                            let numbers = unsafe { column.cast::<Float64ArraySlice>() }?;
                            if numbers.len() != rows {
                                return Err(Failure::argument(
                                    "columns",
                                    "a column of another length",
                                ));
                            }
                            if kind == 'n' {
                                numbers.iter().map(|f| number(*f)).collect()
                            } else {
                                numbers
                                    .iter()
                                    .enumerate()
                                    .map(|(r, ms)| date_ms(*ms).map_err(|e| bad(r, c, e)))
                                    .collect::<std::result::Result<_, _>>()?
                            }
                        }
                        's' => {
                            // `[text, lengths]`: the column's strings joined, their UTF-16
                            // lengths (-1: null). One crossing for the whole column.
                            let pair = unsafe { column.cast::<Array>() }?;
                            let text: Utf16String = pair
                                .get(0)?
                                .ok_or_else(|| Failure::argument("columns", "no text"))?;
                            let lengths: Int32ArraySlice = pair
                                .get(1)?
                                .ok_or_else(|| Failure::argument("columns", "no lengths"))?;
                            if lengths.len() != rows {
                                return Err(Failure::argument(
                                    "columns",
                                    "a column of another length",
                                ));
                            }
                            let mut at = 0usize;
                            let mut list = Vec::with_capacity(rows);
                            for &n in lengths.iter() {
                                if n < 0 {
                                    list.push(Value::Null);
                                    continue;
                                }
                                let end = at + n as usize;
                                let units = text.get(at..end).ok_or_else(|| {
                                    Failure::argument("columns", "lengths beyond the text")
                                })?;
                                // As N-API does for a lone surrogate: U+FFFD.
                                list.push(Value::Text(String::from_utf16_lossy(units)));
                                at = end;
                            }
                            list
                        }
                        _ => {
                            let items = unsafe { column.cast::<Array>() }?;
                            (0..rows)
                                .map(|r| {
                                    let item: Unknown = items
                                        .get(r as u32)?
                                        .ok_or_else(|| bad(r, c, "hole".into()))?;
                                    cell(&item).map_err(|e| bad(r, c, e))
                                })
                                .collect::<std::result::Result<_, Failure>>()?
                        }
                    };
                    values.push(list.into_iter());
                }
                for _ in 0..rows {
                    let row = values
                        .iter_mut()
                        .map(|c| c.next().unwrap_or(Value::Null))
                        .collect();
                    batcher.push_positional(row)?;
                    if batcher.is_full()
                        && let Some(batch) = batcher.flush()?
                    {
                        batches.push(Item::Batch(batch));
                    }
                }
                Ok(())
            })();
            converted.map_err(|f| to_js(env, f))?;
        }
        self.send(env, batches)
    }

    /// Queues the last rows and the end.
    #[napi]
    pub fn end<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, bool>> {
        let mut items = Vec::new();
        {
            let mut batcher = self.batcher.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(batch) = batcher.flush().map_err(|e| to_js(env, e.into()))? {
                items.push(Item::Batch(batch));
            }
            items.push(Item::End(self.end_schema(&batcher)));
        }
        self.send(env, items)
    }

    /// The whole data as Arrow IPC bytes (stream or file format) instead of rows.
    #[napi(ts_args_type = "data: Uint8Array")]
    pub fn ipc<'env>(
        &self,
        env: &'env Env,
        data: Unknown<'env>,
    ) -> napi::Result<PromiseRaw<'env, bool>> {
        let ipc = bytes(&data)
            .map_err(|r| to_js(env, Failure::argument("data", r)))?
            .ok_or_else(|| {
                to_js(
                    env,
                    Failure::argument(
                        "data",
                        format!(
                            "expected a Buffer or Uint8Array, got a {}",
                            type_name(&data)
                        ),
                    ),
                )
            })?;
        let source =
            IpcSource::from_bytes("data", ipc).map_err(|e| to_js(env, Failure::from(e)))?;
        self.send(env, vec![Item::Source(Box::new(source))])
    }

    /// Stops the export: the data failed with `message` (the JS side keeps the error itself).
    #[napi]
    pub fn fail<'env>(
        &self,
        env: &'env Env,
        message: String,
    ) -> napi::Result<PromiseRaw<'env, bool>> {
        self.send(env, vec![Item::Fail(message)])
    }
}

/// The export's side of a feed: blocks for the first item (the schema comes with it), then
/// for each batch.
pub struct FeedSource {
    rx: mpsc::Receiver<Item>,
    schema: SchemaRef,
    first: Option<RecordBatch>,
    ended: bool,
}

fn failed(reason: String) -> ExportError {
    ExportError::InvalidInput {
        source_name: "data".into(),
        line: None,
        reason,
    }
}

fn gone() -> ExportError {
    failed("the data's feed was dropped before its end".into())
}

impl Inlet {
    /// Waits for the feed's first item: the source it reads.
    pub fn open(self) -> Result<Box<dyn Source>> {
        let mut rx = self.0;
        match rx.blocking_recv().ok_or_else(gone)? {
            Item::Source(source) => Ok(source),
            Item::Batch(batch) => Ok(Box::new(FeedSource {
                rx,
                schema: batch.schema(),
                first: Some(batch),
                ended: false,
            })),
            Item::End(schema) => Ok(Box::new(FeedSource {
                rx,
                schema,
                first: None,
                ended: true,
            })),
            Item::Fail(reason) => Err(failed(reason)),
        }
    }
}

impl Source for FeedSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        if let Some(batch) = self.first.take() {
            return Ok(Some(batch));
        }
        if self.ended {
            return Ok(None);
        }
        match self.rx.blocking_recv().ok_or_else(gone)? {
            Item::Batch(batch) => Ok(Some(batch)),
            Item::End(_) => {
                self.ended = true;
                Ok(None)
            }
            Item::Fail(reason) => Err(failed(reason)),
            Item::Source(_) => Err(failed("Arrow bytes after rows".into())),
        }
    }
}
