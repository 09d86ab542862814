//! Where a write goes, besides a path: a Python binary file object, or an iterator of `bytes`
//! chunks (for streaming HTTP responses) fed by a writer thread through a bounded channel.

use std::io::{self, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use export_core::write::WriteSummary;
use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::{HostError, panic_error};
use crate::summary::Summary;

/// Bytes gathered before one call to the file object's `write` (or one chunk): few enough
/// calls that the GIL is rarely taken, small enough to keep memory flat.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// Chunks in flight between the writer thread and the consumer: the writer waits when the
/// consumer (a slow HTTP client) falls behind, so memory stays at a few chunks.
const CHUNKS_IN_FLIGHT: usize = 4;

/// A Python object with `write(bytes)`, as a [`Write`]. Its exceptions are kept for the
/// caller; the engine sees an I/O error and stops.
pub struct PyFileWriter {
    file: Py<PyAny>,
    host: HostError,
}

impl PyFileWriter {
    /// Writes to `file`.
    pub fn new(file: Py<PyAny>, host: HostError) -> PyFileWriter {
        PyFileWriter { file, host }
    }
}

impl Write for PyFileWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Python::attach(|py| {
            let bytes = PyBytes::new(py, buf);
            match self.file.bind(py).call_method1("write", (bytes,)) {
                // Raw files may write less than asked, and say so.
                Ok(n) => Ok(n.extract::<usize>().unwrap_or(buf.len()).min(buf.len())),
                Err(err) => {
                    self.host.keep(err);
                    Err(io::Error::other("the file object's write() raised"))
                }
            }
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        Python::attach(|py| {
            let file = self.file.bind(py);
            if !file.hasattr("flush").unwrap_or(false) {
                return Ok(());
            }
            file.call_method0("flush").map(drop).map_err(|err| {
                self.host.keep(err);
                io::Error::other("the file object's flush() raised")
            })
        })
    }
}

/// The writer thread's end: fills a chunk, then sends it.
pub struct ChunkWriter {
    buf: Vec<u8>,
    tx: SyncSender<Vec<u8>>,
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
        if !self.buf.is_empty() {
            self.send()?;
        }
        Ok(())
    }
}

impl ChunkWriter {
    fn send(&mut self) -> io::Result<()> {
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_BYTES));
        // The consumer dropped the iterator (a client went away): stop writing.
        self.tx
            .send(chunk)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the chunk iterator was closed"))
    }
}

/// An iterator of `bytes` chunks of a file being written; `summary` once it is exhausted.
///
/// Frozen, with its state behind locks: `close()` may come from another thread while
/// `__next__` waits (an ASGI server cancelling a response), and only flags the wait to end.
#[pyclass(
    module = "export_core._native",
    name = "ChunkIterator",
    frozen,
    weakref
)]
pub struct ChunkIterator {
    rx: Mutex<Option<Receiver<Vec<u8>>>>,
    thread: Mutex<Option<JoinHandle<export_core::Result<WriteSummary>>>>,
    closed: AtomicBool,
    host: HostError,
    summary: Mutex<Option<Py<Summary>>>,
}

impl ChunkIterator {
    /// Starts `write` on its own thread, writing into the chunks this iterator yields.
    pub fn start<F>(host: HostError, write: F) -> ChunkIterator
    where
        F: FnOnce(ChunkWriter) -> export_core::Result<WriteSummary> + Send + 'static,
    {
        let (tx, rx) = sync_channel(CHUNKS_IN_FLIGHT);
        let writer = ChunkWriter {
            buf: Vec::with_capacity(CHUNK_BYTES),
            tx,
        };
        let thread = std::thread::Builder::new()
            .name("export-core-chunks".into())
            .spawn(move || write(writer))
            .expect("spawn the writer thread");
        ChunkIterator {
            rx: Mutex::new(Some(rx)),
            thread: Mutex::new(Some(thread)),
            closed: AtomicBool::new(false),
            host,
            summary: Mutex::new(None),
        }
    }

    /// Drops the receiver (the writer's next send fails, so it stops) and waits for the
    /// writer thread without the GIL, which it may need to finish its batch. Joining matters
    /// at interpreter exit: a thread still calling into Python then aborts the process.
    fn stop(
        &self,
        py: Python<'_>,
    ) -> Option<std::thread::Result<export_core::Result<WriteSummary>>> {
        self.closed.store(true, Ordering::SeqCst);
        drop(lock(&self.rx).take());
        let thread = lock(&self.thread).take()?;
        Some(py.detach(move || thread.join()))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[pymethods]
impl ChunkIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Py<PyBytes>> {
        loop {
            if self.closed.load(Ordering::SeqCst) {
                self.stop(py);
                return Err(PyStopIteration::new_err(()));
            }
            // Waits without the GIL (the writer thread may need it to read the rows), and
            // wakes up to let Python run signal handlers (KeyboardInterrupt) and to see a
            // close() from another thread.
            let received = py.detach(|| match lock(&self.rx).as_ref() {
                Some(rx) => rx.recv_timeout(Duration::from_millis(100)),
                None => Err(RecvTimeoutError::Disconnected),
            });
            match received {
                Ok(chunk) => return Ok(PyBytes::new(py, &chunk).unbind()),
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(err) = py.check_signals() {
                        self.stop(py);
                        return Err(err);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let Some(joined) = self.stop(py) else {
                        return Err(PyStopIteration::new_err(()));
                    };
                    return match joined {
                        Ok(Ok(summary)) => {
                            *lock(&self.summary) = Some(Py::new(py, Summary::from(summary))?);
                            Err(PyStopIteration::new_err(()))
                        }
                        Ok(Err(err)) => Err(self.host.resolve(py, err)),
                        Err(panic) => Err(panic_error(py, panic)),
                    };
                }
            }
        }
    }

    /// What was written, once the iterator is exhausted (`None` before).
    #[getter]
    fn summary(&self, py: Python<'_>) -> Option<Py<Summary>> {
        lock(&self.summary).as_ref().map(|s| s.clone_ref(py))
    }

    /// Stops the write and waits for the writer thread to end (it stops at its next chunk).
    /// From another thread while `__next__` waits, that call ends within 100 ms.
    fn close(&self, py: Python<'_>) {
        if lock(&self.rx).is_none() && lock(&self.thread).is_none() {
            return;
        }
        // A waiting __next__ holds the receiver's lock: flag it and let it stop the writer.
        self.closed.store(true, Ordering::SeqCst);
        self.host.cancel();
        if let Ok(mut rx) = self.rx.try_lock() {
            drop(rx.take());
            drop(rx);
            self.stop(py);
        }
    }
}

impl Drop for ChunkIterator {
    fn drop(&mut self) {
        // Dropped unfinished (a client went away): stop the writer and wait for it.
        self.closed.store(true, Ordering::SeqCst);
        self.host.cancel();
        drop(lock(&self.rx).take());
        if let Some(thread) = lock(&self.thread).take() {
            Python::attach(|py| py.detach(move || drop(thread.join())));
        }
    }
}
