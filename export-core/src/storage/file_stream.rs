//! Async streams over blocking readers (local files), read on an [`IoRuntime`]'s blocking pool by
//! at most [`MAX_READERS`] tasks in the whole process, however many downloads stream at once.
//!
//! Each chunk read is a job in one process-wide queue. A reader task (a `spawn_blocking` task)
//! takes jobs until the queue has stayed empty for [`IDLE`], then ends; a new one is started
//! when a job is queued and fewer than [`MAX_READERS`] are running. Because a reader only ends
//! after idling, the pool thread it leaves is idle (and reused) by the time another is needed:
//! the blocking pool keeps a few threads for file streams, not one per download.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::error::{ExportError, Result};
use crate::runtime::IoRuntime;

/// The size of the chunks a reader is read in.
pub(crate) const CHUNK: usize = 64 * 1024;

/// The most reader tasks running at once, process-wide.
const MAX_READERS: usize = 2;

/// How long a reader task waits for a new job before it ends.
const IDLE: Duration = Duration::from_millis(200);

type Job = Box<dyn FnOnce() + Send>;

static QUEUE: Mutex<VecDeque<Job>> = Mutex::new(VecDeque::new());
static QUEUED: Condvar = Condvar::new();
static READERS: AtomicUsize = AtomicUsize::new(0);

/// The reader as a stream of chunks of up to [`CHUNK`] bytes, read on `io`'s blocking pool.
pub(crate) fn stream(
    reader: Box<dyn Read + Send>,
    io: IoRuntime,
) -> BoxStream<'static, Result<Bytes>> {
    futures::stream::try_unfold(Some((reader, io)), |state| async move {
        let Some((mut reader, io)) = state else {
            return Ok(None);
        };
        let (tx, rx) = futures::channel::oneshot::channel();
        submit(
            &io,
            Box::new(move || {
                let chunk = read_chunk(&mut reader);
                // The stream may be gone: then the reader is dropped here.
                let _ = tx.send((reader, chunk));
            }),
        );
        let (reader, chunk) = rx
            .await
            .map_err(|_| ExportError::Storage("a file read was abandoned".into()))?;
        Ok(chunk?.map(|chunk| (chunk, Some((reader, io)))))
    })
    .boxed()
}

/// Reads the next chunk, `None` at the end.
fn read_chunk(reader: &mut (dyn Read + Send)) -> Result<Option<Bytes>> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(None),
            Ok(n) => {
                buf.truncate(n);
                return Ok(Some(Bytes::from(buf)));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

fn queue() -> std::sync::MutexGuard<'static, VecDeque<Job>> {
    // A job never panics while the lock is held (jobs run outside it).
    QUEUE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counts one more reader if fewer than [`MAX_READERS`] run.
fn try_start() -> bool {
    READERS
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < MAX_READERS).then_some(n + 1)
        })
        .is_ok()
}

fn submit(io: &IoRuntime, job: Job) {
    queue().push_back(job);
    QUEUED.notify_one();
    if try_start() {
        // Dropping the join handle detaches the task.
        drop(io.handle().spawn_blocking(run_reader));
    }
}

/// A reader task: runs jobs until the queue stays empty for [`IDLE`].
fn run_reader() {
    loop {
        let job = {
            let mut queue = queue();
            if queue.is_empty() {
                queue = QUEUED
                    .wait_timeout_while(queue, IDLE, |q| q.is_empty())
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            queue.pop_front()
        };
        match job {
            Some(job) => {
                // A panicking read must not take the reader count with it.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
            None => {
                READERS.fetch_sub(1, Ordering::SeqCst);
                // A job queued after the last look found every reader busy: take it on.
                if queue().is_empty() || !try_start() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_in_bounded_chunks_and_ends() {
        let io = IoRuntime::shared();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let reader: Box<dyn Read + Send> = Box::new(io::Cursor::new(data.clone()));
        let chunks: Vec<Bytes> =
            futures::executor::block_on(stream(reader, io).map(|c| c.unwrap()).collect());
        assert!(chunks.iter().all(|c| c.len() <= CHUNK && !c.is_empty()));
        assert_eq!(chunks.concat(), data);
    }

    #[test]
    fn a_read_error_ends_the_stream_with_it() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let items: Vec<_> =
            futures::executor::block_on(stream(Box::new(Failing), IoRuntime::shared()).collect());
        assert_eq!(items.len(), 1);
        assert!(
            items[0]
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("disk on fire")
        );
    }
}
