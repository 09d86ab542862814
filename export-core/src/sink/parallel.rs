//! Ordered parallel formatting for the text sinks (CSV, JSON).
//!
//! A batch is cut into row ranges; each range is formatted into its own buffer on one of the
//! pool's worker threads, and the buffers come back to the sink's thread **in row order**, so the
//! output is byte for byte the single-thread output. At most `2 x threads` ranges are in flight
//! and their buffers are reused, so memory does not grow with the number of rows.
//!
//! The pool is owned by the sink (plain `std::thread`s and channels, no global pool): the
//! workers stop when the sink is dropped.

use std::collections::BTreeMap;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use arrow_array::RecordBatch;

use crate::error::{ExportError, Result};

/// Rows below which a batch is formatted on the sink's own thread: handing it to the workers
/// costs more than it saves.
pub(crate) const MIN_PARALLEL_ROWS: usize = 2048;

/// Rows per range handed to a worker, at most: keeps each buffer to a few hundred KiB.
const MAX_CHUNK_ROWS: usize = 8192;

/// Formats the rows of a batch slice into the buffer (appending). `first_row` is the slice's
/// first row within the caller's batch, for error messages. Returns the rows written; on error,
/// the buffer holds only the complete rows before the failing one.
pub(crate) type FormatFn =
    dyn Fn(&RecordBatch, usize, &mut Vec<u8>) -> (usize, Result<()>) + Send + Sync;

/// The number of threads the sinks use by default: every core
/// ([`std::thread::available_parallelism`]), or 1 when that is unknown.
///
/// # Examples
///
/// ```
/// assert!(export_core::sink::default_threads() >= 1);
/// ```
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

struct Job {
    seq: u64,
    slice: RecordBatch,
    first_row: usize,
    buf: Vec<u8>,
}

struct Done {
    seq: u64,
    buf: Vec<u8>,
    rows: usize,
    result: Result<()>,
}

/// A sink's worker threads. See the module documentation.
pub(crate) struct OrderedPool {
    threads: usize,
    jobs: Option<SyncSender<Job>>,
    done: Receiver<Done>,
    workers: Vec<JoinHandle<()>>,
    spare: Vec<Vec<u8>>,
    next_seq: u64,
}

impl std::fmt::Debug for OrderedPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderedPool")
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

impl OrderedPool {
    /// Starts `threads` workers (at least 1) running `format`.
    pub(crate) fn new(threads: usize, format: Arc<FormatFn>) -> OrderedPool {
        let threads = threads.max(1);
        let window = 2 * threads;
        let (job_tx, job_rx) = mpsc::sync_channel::<Job>(window);
        let (done_tx, done_rx) = mpsc::sync_channel::<Done>(window);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let workers = (0..threads)
            .map(|i| {
                let (jobs, done, format) = (job_rx.clone(), done_tx.clone(), format.clone());
                std::thread::Builder::new()
                    .name(format!("export-core-sink-{i}"))
                    .spawn(move || worker(&jobs, &done, &*format))
                    .expect("spawning a sink worker thread")
            })
            .collect();
        OrderedPool {
            threads,
            jobs: Some(job_tx),
            done: done_rx,
            workers,
            spare: Vec::new(),
            next_seq: 0,
        }
    }

    /// Formats `batch` on the workers and hands each range's bytes, in row order, to `emit`.
    ///
    /// Returns the rows formatted and emitted, and the first error: a formatting error stops
    /// at the failing row (the complete rows before it are emitted, nothing after), an error of
    /// `emit` stops the output there.
    pub(crate) fn run(
        &mut self,
        batch: &RecordBatch,
        mut emit: impl FnMut(&mut Vec<u8>) -> Result<()>,
    ) -> (u64, Result<()>) {
        let total = batch.num_rows();
        let chunk = total.div_ceil(self.threads).clamp(1, MAX_CHUNK_ROWS);
        let window = 2 * self.threads;
        let first_seq = self.next_seq;
        let mut submitted = 0usize;
        let mut in_flight = 0usize;
        let mut next_out = first_seq;
        let mut early: BTreeMap<u64, Done> = BTreeMap::new();
        let mut rows = 0u64;
        let mut outcome: Result<()> = Ok(());
        let mut stopped = false;
        loop {
            while !stopped && submitted < total && in_flight < window {
                let len = chunk.min(total - submitted);
                let mut buf = self.spare.pop().unwrap_or_default();
                buf.clear();
                let job = Job {
                    seq: self.next_seq,
                    slice: batch.slice(submitted, len),
                    first_row: submitted,
                    buf,
                };
                if !self.submit(job) {
                    return (rows, Err(pool_gone()));
                }
                self.next_seq += 1;
                submitted += len;
                in_flight += 1;
            }
            if in_flight == 0 {
                break;
            }
            let Ok(done) = self.done.recv() else {
                return (rows, Err(pool_gone()));
            };
            in_flight -= 1;
            early.insert(done.seq, done);
            while let Some(mut done) = early.remove(&next_out) {
                next_out += 1;
                if !stopped {
                    let emitted = if done.buf.is_empty() {
                        Ok(())
                    } else {
                        emit(&mut done.buf)
                    };
                    match (emitted, done.result) {
                        (Err(e), _) => {
                            outcome = Err(e);
                            stopped = true;
                        }
                        (Ok(()), Err(e)) => {
                            rows += done.rows as u64;
                            outcome = Err(e);
                            stopped = true;
                        }
                        (Ok(()), Ok(())) => rows += done.rows as u64,
                    }
                }
                self.spare.push(done.buf);
            }
        }
        (rows, outcome)
    }

    fn submit(&self, job: Job) -> bool {
        self.jobs.as_ref().is_some_and(|tx| tx.send(job).is_ok())
    }
}

impl Drop for OrderedPool {
    fn drop(&mut self) {
        // Closing the job channel ends every worker's loop.
        self.jobs = None;
        for handle in self.workers.drain(..) {
            let _ = handle.join();
        }
    }
}

fn worker(jobs: &Mutex<Receiver<Job>>, done: &SyncSender<Done>, format: &FormatFn) {
    loop {
        let job = {
            let Ok(rx) = jobs.lock() else { return };
            match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        let mut buf = job.buf;
        let (rows, result) = format(&job.slice, job.first_row, &mut buf);
        let reply = Done {
            seq: job.seq,
            buf,
            rows,
            result,
        };
        if done.send(reply).is_err() {
            return;
        }
    }
}

/// `err` with its row counted from the caller's batch rather than from a slice starting at
/// row `first`.
pub(crate) fn offset_row(err: ExportError, first: usize) -> ExportError {
    match err {
        ExportError::InvalidValue {
            column,
            row,
            reason,
        } => ExportError::InvalidValue {
            column,
            row: row + first,
            reason,
        },
        other => other,
    }
}

fn pool_gone() -> ExportError {
    ExportError::Encode {
        format: "sink",
        reason: "a formatting thread of the sink stopped unexpectedly".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Int64Array};

    fn numbers(n: i64) -> RecordBatch {
        RecordBatch::try_from_iter([(
            "n",
            Arc::new(Int64Array::from_iter_values(0..n)) as ArrayRef,
        )])
        .unwrap()
    }

    fn decimal_lines() -> Arc<FormatFn> {
        Arc::new(|slice: &RecordBatch, first: usize, buf: &mut Vec<u8>| {
            let col = slice
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap();
            for (i, v) in col.values().iter().enumerate() {
                if *v == 77_777 {
                    let err = ExportError::InvalidValue {
                        column: "n".into(),
                        row: first + i,
                        reason: "bad".into(),
                    };
                    return (i, Err(err));
                }
                buf.extend_from_slice(format!("{v}\n").as_bytes());
            }
            (col.len(), Ok(()))
        })
    }

    #[test]
    fn ranges_come_back_in_row_order() {
        let mut pool = OrderedPool::new(3, decimal_lines());
        let mut out = Vec::new();
        let (rows, result) = pool.run(&numbers(50_000), |b| {
            out.extend_from_slice(b);
            Ok(())
        });
        result.unwrap();
        assert_eq!(rows, 50_000);
        let expected: String = (0..50_000).map(|v| format!("{v}\n")).collect();
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn an_error_keeps_the_rows_before_it_and_nothing_after() {
        let mut pool = OrderedPool::new(2, decimal_lines());
        let mut out = Vec::new();
        let (rows, result) = pool.run(&numbers(100_000), |b| {
            out.extend_from_slice(b);
            Ok(())
        });
        match result {
            Err(ExportError::InvalidValue { row, .. }) => assert_eq!(row, 77_777),
            other => panic!("{other:?}"),
        }
        assert_eq!(rows, 77_777);
        let expected: String = (0..77_777).map(|v| format!("{v}\n")).collect();
        assert_eq!(String::from_utf8(out).unwrap(), expected);
        // The pool is still usable for the next batch.
        let (rows, result) = pool.run(&numbers(10), |_| Ok(()));
        assert_eq!((rows, result.is_ok()), (10, true));
    }

    #[test]
    fn an_emit_error_stops_the_output() {
        let mut pool = OrderedPool::new(2, decimal_lines());
        let mut calls = 0;
        let (_, result) = pool.run(&numbers(60_000), |_| {
            calls += 1;
            if calls == 2 {
                Err(ExportError::SinkFinished)
            } else {
                Ok(())
            }
        });
        assert!(matches!(result, Err(ExportError::SinkFinished)));
        assert_eq!(calls, 2);
    }
}
