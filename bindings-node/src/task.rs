//! A running export ([`ExportTask`]): the work on a thread of its own (neither the main thread
//! nor libuv's small pool, which the host's file and DNS work needs), its file written to a
//! path or handed to JS in chunks (`next()`), stopped by `cancel()` between batches, its
//! outcome a promise (`done()`).

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use export_core::ExportError;
use export_core::write::Control;
use napi::bindgen_prelude::{Buffer, PromiseRaw};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status};
use napi_derive::napi;
use tokio::sync::{mpsc, oneshot};

use crate::errors::{Failure, guarded, to_js};
use crate::writers::{Done, Summary};

/// Bytes per chunk handed to JS: large enough that the per-chunk cost (a promise, a Buffer)
/// vanishes, small enough for a Readable's buffer.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// Chunks waiting for JS before the work blocks: the back-pressure of the stream.
const QUEUED_CHUNKS: usize = 4;

/// `onProgress(rows)`, called without waiting from the work's thread.
pub type ProgressFn = ThreadsafeFunction<f64, (), f64, Status, false, true>;

/// Where the work writes its file.
pub enum Output {
    /// To this path, atomically (nothing appears until the file is complete).
    Path(std::path::PathBuf),
    /// In chunks to JS, through [`ExportTask::next`].
    Chunks(ChunkWriter),
}

/// What a task runs: given where to write and its hooks.
pub type Work = Box<dyn FnOnce(Output, &Hooks) -> Result<Done, Failure> + Send>;

/// The task's cancel flag and progress callback, for the work to check and call.
pub struct Hooks {
    /// Set by `cancel()`.
    pub cancelled: Arc<AtomicBool>,
    progress: Option<Arc<ProgressFn>>,
}

impl Hooks {
    /// The trip exporter's progress callback.
    pub fn progress_fn(&self) -> export_core::export::ProgressFn {
        let progress = self.progress.clone();
        Arc::new(move |p: &export_core::export::Progress| {
            if let Some(f) = &progress {
                f.call(p.rows_read as f64, ThreadsafeFunctionCallMode::NonBlocking);
            }
        })
    }

    /// The writers' [`Control`]: progress after each batch, the flag checked before each.
    pub fn control(&self) -> Control {
        let cancelled = self.cancelled.clone();
        let progress = self.progress.clone();
        Control {
            progress: progress.map(|f| -> Box<dyn Fn(u64) + Send + Sync> {
                Box::new(move |rows| {
                    f.call(rows as f64, ThreadsafeFunctionCallMode::NonBlocking);
                })
            }),
            check: Some(Box::new(move || {
                if cancelled.load(Ordering::SeqCst) {
                    Err(ExportError::Cancelled)
                } else {
                    Ok(())
                }
            })),
        }
    }
}

/// An `io::Write` whose chunks go to JS; it blocks while JS has [`QUEUED_CHUNKS`] unread.
pub struct ChunkWriter {
    tx: mpsc::Sender<Vec<u8>>,
    buf: Vec<u8>,
}

impl ChunkWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_BYTES));
        self.tx.blocking_send(chunk).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the reader of the export's stream went away",
            )
        })
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// A running export. `next()` gives the file's chunks (when it has no path) and `null` at its
/// end; `done()` settles with the summary, or rejects with the error (`EXPORT_CANCELLED` after
/// `cancel()`); a file at a path appears only when complete.
#[napi]
pub struct ExportTask {
    /// Refused before it started (bad options): nothing is to be read for it.
    refused: bool,
    cancelled: Arc<AtomicBool>,
    chunks: Option<Arc<tokio::sync::Mutex<mpsc::Receiver<Vec<u8>>>>>,
    outcome: Mutex<Option<oneshot::Receiver<Result<Done, Failure>>>>,
}

impl ExportTask {
    /// Starts `work` on a thread of its own, writing to `path` or, without one, in chunks.
    pub fn start(
        work: Result<Work, Failure>,
        path: Option<std::path::PathBuf>,
        progress: Option<ProgressFn>,
    ) -> ExportTask {
        let cancelled = Arc::new(AtomicBool::new(false));
        let (done_tx, done_rx) = oneshot::channel();
        let (output, chunks) = match path {
            Some(path) => (Output::Path(path), None),
            None => {
                let (tx, rx) = mpsc::channel(QUEUED_CHUNKS);
                let writer = ChunkWriter {
                    tx,
                    buf: Vec::with_capacity(CHUNK_BYTES),
                };
                (
                    Output::Chunks(writer),
                    Some(Arc::new(tokio::sync::Mutex::new(rx))),
                )
            }
        };
        let task = ExportTask {
            refused: work.is_err(),
            cancelled: cancelled.clone(),
            chunks,
            outcome: Mutex::new(Some(done_rx)),
        };
        let work = match work {
            Ok(work) => work,
            Err(failure) => {
                let _ = done_tx.send(Err(failure));
                return task;
            }
        };
        let hooks = Hooks {
            cancelled,
            progress: progress.map(Arc::new),
        };
        // Should the thread not start, the closure and `done_tx` are dropped: `done()`
        // rejects with the lost outcome.
        let _ = std::thread::Builder::new()
            .name("export-core".into())
            .spawn(move || {
                let outcome = guarded(|| work(output, &hooks));
                // The writer (and with it the chunk channel) is gone now: `next()` ends.
                let _ = done_tx.send(outcome);
            });
        task
    }
}

#[napi]
impl ExportTask {
    /// Whether the export was refused before it started (its options or arguments): `done()`
    /// rejects with why, and its data need not be read.
    #[napi(getter)]
    pub fn refused(&self) -> bool {
        self.refused
    }

    /// Stops the export before its next batch; `done()` then rejects with `EXPORT_CANCELLED`
    /// and no file is left. Unblocks a write waiting for its reader.
    #[napi]
    pub fn cancel(&self, env: Env) -> napi::Result<()> {
        self.cancelled.store(true, Ordering::SeqCst);
        if let Some(chunks) = self.chunks.clone() {
            // Closing the channel fails the writer's pending send: a reader that went away
            // never leaves the work blocked.
            env.spawn_future(async move {
                chunks.lock().await.close();
                Ok(())
            })?;
        }
        Ok(())
    }

    /// The file's next chunk, or `null` once it is all read (or has no chunks: written to a
    /// path). Call `done()` after `null`: a failed export also ends its chunks.
    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub fn next<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Option<Buffer>>> {
        let chunks = self.chunks.clone();
        env.spawn_future_with_callback(
            async move {
                Ok(match chunks {
                    Some(rx) => rx.lock().await.recv().await,
                    None => None,
                })
            },
            |_, chunk: Option<Vec<u8>>| Ok(chunk.map(Buffer::from)),
        )
    }

    /// The outcome: the summary, or the export's error. Once per task.
    #[napi(ts_return_type = "Promise<Summary>")]
    pub fn done<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Summary>> {
        let outcome = self
            .outcome
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        env.spawn_future_with_callback(
            async move {
                Ok(match outcome {
                    Some(rx) => rx.await.unwrap_or_else(|_| {
                        Err(Failure::new(
                            "INTERNAL",
                            "the export's thread ended without an outcome",
                        ))
                    }),
                    None => Err(Failure::new("INTERNAL", "done() was called twice")),
                })
            },
            |env, outcome| match outcome {
                Ok(done) => Ok(done.into_summary()),
                Err(failure) => Err(to_js(env, failure)),
            },
        )
    }
}
