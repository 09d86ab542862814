//! A sheet's rows, deflated in chunks on worker threads, spooled to a temporary file.
//!
//! The sink's thread writes `<row>` XML into ~1 MiB chunks; [`Deflaters::submit`] hands each to
//! a small pool of workers (bounded: at most `2 x threads` chunks in flight, buffers reused), which
//! deflate it as a non-final piece primed with the 32 KiB before it ([`super::deflate`]), and
//! the pieces are appended **in order** to the sheet's [`SheetSpool`], an unlinked temporary
//! file: memory stays flat whatever the row count. With one thread the chunks are deflated on
//! the sink's thread.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crc32fast::Hasher as Crc;

use super::deflate::{PieceDeflater, WINDOW};
use crate::error::{ExportError, Result};

/// Uncompressed bytes per chunk: large enough that a boundary costs nothing measurable, small
/// enough to keep a few in flight per thread.
pub(super) const CHUNK: usize = 1 << 20;

/// One sheet's deflated rows so far.
pub(super) struct SheetSpool {
    pub(super) file: File,
    /// Deflated bytes in `file`.
    pub(super) compressed: u64,
    /// CRC-32 of the uncompressed rows in `file`.
    pub(super) crc: Crc,
    /// Uncompressed bytes of the rows in `file`.
    pub(super) size: u64,
    /// The last [`WINDOW`] bytes of the rows submitted: the next chunk's dictionary.
    pub(super) tail: Vec<u8>,
    /// The directory, for error messages (`None`: the system's temporary directory).
    dir: Option<PathBuf>,
}

impl SheetSpool {
    /// An empty spool in a new unlinked file of `dir` (or the system's temporary directory).
    ///
    /// # Errors
    ///
    /// [`ExportError::Io`] naming the directory when the file cannot be made.
    pub(super) fn new(dir: Option<&Path>) -> Result<SheetSpool> {
        let file = match dir {
            Some(d) => tempfile::tempfile_in(d),
            None => tempfile::tempfile(),
        }
        .map_err(|source| ExportError::Io {
            path: Some(dir.map_or_else(std::env::temp_dir, Path::to_path_buf)),
            source,
        })?;
        Ok(SheetSpool {
            file,
            compressed: 0,
            crc: Crc::new(),
            size: 0,
            tail: Vec::with_capacity(WINDOW),
            dir: dir.map(Path::to_path_buf),
        })
    }

    fn append(&mut self, packed: &[u8], crc: &Crc, size: usize) -> Result<()> {
        self.file
            .write_all(packed)
            .map_err(|source| ExportError::Io {
                path: Some(self.dir.clone().unwrap_or_else(std::env::temp_dir)),
                source,
            })?;
        self.compressed += packed.len() as u64;
        self.crc.combine(crc);
        self.size += size as u64;
        Ok(())
    }
}

/// The last [`WINDOW`] bytes of `tail` followed by `data`.
pub(super) fn push_window(tail: &mut Vec<u8>, data: &[u8]) {
    if data.len() >= WINDOW {
        tail.clear();
        tail.extend_from_slice(&data[data.len() - WINDOW..]);
    } else {
        tail.extend_from_slice(data);
        let excess = tail.len().saturating_sub(WINDOW);
        tail.drain(..excess);
    }
}

struct Job {
    seq: u64,
    data: Vec<u8>,
    dictionary: Vec<u8>,
    packed: Vec<u8>,
}

struct Done {
    seq: u64,
    data: Vec<u8>,
    dictionary: Vec<u8>,
    packed: Vec<u8>,
    crc: Crc,
    result: io::Result<()>,
}

/// The sink's deflate workers (or its own thread, with one thread).
pub(super) struct Deflaters {
    pool: Option<Pool>,
    inline: PieceDeflater,
    spare: Spare,
}

/// Buffers for reuse, one list per role: a list shared by all roles would let every buffer grow
/// to the largest role's size (a chunk), and memory grow with the rows.
#[derive(Default)]
struct Spare {
    data: Vec<Vec<u8>>,
    dictionaries: Vec<Vec<u8>>,
    packed: Vec<Vec<u8>>,
}

impl Spare {
    fn take(list: &mut Vec<Vec<u8>>) -> Vec<u8> {
        let mut b = list.pop().unwrap_or_default();
        b.clear();
        b
    }

    fn give(&mut self, data: Vec<u8>, dictionary: Vec<u8>, packed: Vec<u8>) {
        self.data.push(data);
        self.dictionaries.push(dictionary);
        self.packed.push(packed);
    }
}

struct Pool {
    window: usize,
    jobs: Option<SyncSender<Job>>,
    done: Receiver<Done>,
    workers: Vec<JoinHandle<()>>,
    next_seq: u64,
    next_out: u64,
    in_flight: usize,
    early: BTreeMap<u64, Done>,
}

impl Deflaters {
    /// `threads` deflate workers; 1 (or 0) deflates on the caller's thread.
    pub(super) fn new(threads: usize) -> Deflaters {
        let pool = (threads > 1).then(|| Pool::new(threads));
        Deflaters {
            pool,
            inline: PieceDeflater::new(),
            spare: Spare::default(),
        }
    }

    /// An empty buffer for the next chunk (a reused one when there is one).
    pub(super) fn buffer(&mut self) -> Vec<u8> {
        let mut b = self
            .spare
            .data
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(CHUNK + 64 * 1024));
        b.clear();
        b
    }

    /// Deflates `data`, the next rows of `spool`'s sheet, and appends it to the spool (now, or
    /// when the chunks before it are done).
    ///
    /// # Errors
    ///
    /// [`ExportError::Io`] when the spool file cannot be written, [`ExportError::Encode`] when a
    /// worker stopped.
    pub(super) fn submit(&mut self, spool: &mut SheetSpool, data: Vec<u8>) -> Result<()> {
        let mut dictionary = Spare::take(&mut self.spare.dictionaries);
        dictionary.extend_from_slice(&spool.tail);
        push_window(&mut spool.tail, &data);
        let Some(pool) = &mut self.pool else {
            let mut packed = Spare::take(&mut self.spare.packed);
            self.inline
                .deflate(&dictionary, &data, false, &mut packed)
                .map_err(|e| ExportError::Io {
                    path: None,
                    source: e,
                })?;
            let mut crc = Crc::new();
            crc.update(&data);
            let appended = spool.append(&packed, &crc, data.len());
            self.spare.give(data, dictionary, packed);
            return appended;
        };
        let packed = Spare::take(&mut self.spare.packed);
        let job = Job {
            seq: pool.next_seq,
            data,
            dictionary,
            packed,
        };
        if pool.jobs.as_ref().is_none_or(|tx| tx.send(job).is_err()) {
            return Err(pool_gone());
        }
        pool.next_seq += 1;
        pool.in_flight += 1;
        while pool.in_flight >= pool.window {
            Self::receive(pool, &mut self.spare, spool)?;
        }
        Ok(())
    }

    /// Waits for every chunk submitted and appends them to `spool`.
    ///
    /// # Errors
    ///
    /// As [`Deflaters::submit`].
    pub(super) fn drain(&mut self, spool: &mut SheetSpool) -> Result<()> {
        if let Some(pool) = &mut self.pool {
            while pool.in_flight > 0 {
                Self::receive(pool, &mut self.spare, spool)?;
            }
        }
        Ok(())
    }

    /// Receives one finished chunk and appends every chunk now due, in order.
    fn receive(pool: &mut Pool, spare: &mut Spare, spool: &mut SheetSpool) -> Result<()> {
        let done = pool.done.recv().map_err(|_| pool_gone())?;
        pool.in_flight -= 1;
        pool.early.insert(done.seq, done);
        while let Some(done) = pool.early.remove(&pool.next_out) {
            pool.next_out += 1;
            done.result.map_err(|e| ExportError::Io {
                path: None,
                source: e,
            })?;
            spool.append(&done.packed, &done.crc, done.data.len())?;
            spare.give(done.data, done.dictionary, done.packed);
        }
        Ok(())
    }
}

impl Pool {
    fn new(threads: usize) -> Pool {
        let window = 2 * threads;
        let (job_tx, job_rx) = mpsc::sync_channel::<Job>(window);
        let (done_tx, done_rx) = mpsc::sync_channel::<Done>(window);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let workers = (0..threads)
            .map(|i| {
                let (jobs, done) = (job_rx.clone(), done_tx.clone());
                std::thread::Builder::new()
                    .name(format!("export-core-xlsx-deflate-{i}"))
                    .spawn(move || worker(&jobs, &done))
                    .expect("spawning an XLSX deflate thread")
            })
            .collect();
        Pool {
            window,
            jobs: Some(job_tx),
            done: done_rx,
            workers,
            next_seq: 0,
            next_out: 0,
            in_flight: 0,
            early: BTreeMap::new(),
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Closing the job channel ends every worker's loop; results still queued are dropped
        // with the receiver.
        self.jobs = None;
        while self.in_flight > 0 && self.done.recv().is_ok() {
            self.in_flight -= 1;
        }
        for handle in self.workers.drain(..) {
            let _ = handle.join();
        }
    }
}

fn worker(jobs: &Mutex<Receiver<Job>>, done: &SyncSender<Done>) {
    let mut deflater = PieceDeflater::new();
    loop {
        let job = {
            let Ok(rx) = jobs.lock() else { return };
            match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        let mut packed = job.packed;
        packed.clear();
        let result = deflater.deflate(&job.dictionary, &job.data, false, &mut packed);
        let mut crc = Crc::new();
        crc.update(&job.data);
        let reply = Done {
            seq: job.seq,
            data: job.data,
            dictionary: job.dictionary,
            packed,
            crc,
            result,
        };
        if done.send(reply).is_err() {
            return;
        }
    }
}

fn pool_gone() -> ExportError {
    ExportError::Encode {
        format: "xlsx",
        reason: "a deflate thread of the XLSX sink stopped unexpectedly".into(),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Seek, SeekFrom};

    use super::*;

    fn spooled(threads: usize, chunks: &[Vec<u8>]) -> Vec<u8> {
        let mut pool = Deflaters::new(threads);
        let mut spool = SheetSpool::new(None).unwrap();
        for c in chunks {
            let mut b = pool.buffer();
            b.extend_from_slice(c);
            pool.submit(&mut spool, b).unwrap();
        }
        pool.drain(&mut spool).unwrap();
        // Finish the stream with an empty final piece, as the sheet's suffix does.
        let mut last = Vec::new();
        PieceDeflater::new()
            .deflate(&spool.tail, b"", true, &mut last)
            .unwrap();
        let mut packed = Vec::new();
        spool.file.seek(SeekFrom::Start(0)).unwrap();
        spool.file.read_to_end(&mut packed).unwrap();
        assert_eq!(packed.len() as u64, spool.compressed);
        packed.extend_from_slice(&last);
        let mut back = Vec::new();
        flate2::read::DeflateDecoder::new(&packed[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(spool.crc.clone().finalize(), crc32fast::hash(&back));
        assert_eq!(spool.size, back.len() as u64);
        back
    }

    #[test]
    fn chunks_are_spooled_in_order_with_any_thread_count() {
        let chunks: Vec<Vec<u8>> = (0..40)
            .map(|k| format!("<row r=\"{k}\">{}</row>", "x".repeat(k * 997 % 50_000)).into_bytes())
            .collect();
        let whole = chunks.concat();
        for threads in [1, 2, 3, 8] {
            assert_eq!(spooled(threads, &chunks), whole, "{threads} threads");
        }
    }

    #[test]
    fn the_window_keeps_the_last_32_kib() {
        let mut tail = Vec::new();
        push_window(&mut tail, &[1; 10]);
        push_window(&mut tail, &[2; WINDOW - 5]);
        assert_eq!(tail.len(), WINDOW);
        assert_eq!(&tail[..5], &[1; 5]);
        push_window(&mut tail, &[3; WINDOW + 1]);
        assert_eq!(tail, vec![3; WINDOW]);
    }
}
