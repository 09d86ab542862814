//! Where finished files go: a local directory (the default), S3-compatible object stores (feature
//! `s3`: AWS S3, MinIO, ...), or memory.
//!
//! Every backend implements the synchronous [`Storage`] trait, used as `Arc<dyn Storage>` from
//! worker threads and from the Python and Node hosts:
//!
//! - [`Storage::create`] starts an [`Upload`], an [`io::Write`] that streams: a local file is
//!   written under a hidden temporary name, an object store receives a multipart upload in parts
//!   of a few MiB with a bounded number in flight, so memory does not grow with the file. Nothing is
//!   visible under the key until [`Upload::commit`]; [`Upload::abort`], or dropping the upload
//!   without committing, leaves nothing behind. The commit returns a [`StoredObject`] with the
//!   size and the SHA-256 computed while streaming, to be recorded on the job.
//! - [`Storage::put_file`] streams a local file up (XLSX files are built in a seekable temporary
//!   file first).
//! - [`Storage::open`] returns a streamed [`Download`] (size, content type, a blocking
//!   [`Read`]); an async host turns it into a stream of [`Bytes`] with
//!   [`Download::into_async_stream`].
//! - [`Storage::signed_url`] gives a time-limited download link where the backend has one (S3).
//! - [`Storage::head`], [`Storage::list`] and [`Storage::delete`] serve status pages and retention;
//!   deleting a missing file is `Ok(false)`, not an error.
//!
//! Keys are [`StorageKey`]s, validated once: no `..`, no leading `/`, no backslash, no control
//! character ever reaches a path or an URL. [`open_storage`] builds a storage from an URL
//! (`file:///path`, `memory://`, `s3://bucket/prefix`) and string options, for configuration
//! files, the CLI and the bindings; [`open_storage_with`] does the same on a given
//! [`IoRuntime`].
//!
//! # Execution model
//!
//! No storage owns a runtime or a thread. The object-store backends ([`MemoryStorage`],
//! [`S3Storage`]) send their requests on an [`IoRuntime`]: the engine's (given with
//! [`open_storage_with`] or the backends' `with_runtime` constructors) or the process-wide
//! [`IoRuntime::shared`]. Their synchronous methods wait with [`IoRuntime::block_on`], which is
//! safe from any thread: a plain or blocking-pool thread, a multi-thread runtime's worker
//! (it blocks in place) and a current-thread runtime's thread (it waits from a scoped thread,
//! blocking that runtime meanwhile). [`LocalStorage`] does plain `std::fs` I/O on the calling
//! thread.
//!
//! Async hosts should still run storage calls off their executor threads (for example with
//! [`IoRuntime::spawn_blocking`]), as they block; a download goes to an async body through
//! [`Download::into_async_stream`], which blocks nothing: an object store's body is polled as it
//! comes from the store, a local file is read in chunks on the runtime's blocking pool.
//!
//! # Examples
//!
//! ```
//! use std::io::{Read, Write};
//! use export_core::storage::{LocalStorage, Storage, StorageKey};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let storage = LocalStorage::new(dir.path()).unwrap();
//! let key = StorageKey::parse("exports/2026/11/report.csv").unwrap();
//!
//! let mut upload = storage.create(&key, "text/csv; charset=utf-8").unwrap();
//! upload.write_all(b"id;name\n1;a\n").unwrap();
//! assert!(storage.head(&key).unwrap().is_none()); // not visible yet
//! let stored = upload.commit().unwrap();
//! assert_eq!(stored.size, 12);
//!
//! let mut text = String::new();
//! storage.open(&key).unwrap().read_to_string(&mut text).unwrap();
//! assert_eq!(text, "id;name\n1;a\n");
//! assert!(storage.delete(&key).unwrap());
//! assert!(!storage.delete(&key).unwrap());
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;
use sha2::{Digest, Sha256};

use crate::error::{ExportError, Result};
use crate::runtime::IoRuntime;

mod file_stream;
mod key;
mod local;
mod memory;
mod object;
#[cfg(feature = "s3")]
mod s3;

pub use key::{MAX_KEY_LEN, MAX_SEGMENT_LEN, StorageKey};
pub use local::LocalStorage;
pub use memory::MemoryStorage;
pub use object::MultipartOptions;
#[cfg(feature = "s3")]
pub use s3::{S3Options, S3Storage};

/// The expiry of a signed download URL when none is asked for: one hour.
pub const DEFAULT_SIGNED_URL_EXPIRY: Duration = Duration::from_secs(3600);

/// The longest expiry of a signed URL: seven days (the limit of S3 signature version 4).
pub const MAX_SIGNED_URL_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

/// A place where finished export files are stored, read back, listed and deleted.
///
/// Implemented by [`LocalStorage`], [`MemoryStorage`] and (feature `s3`) [`S3Storage`]; shared as
/// `Arc<dyn Storage>` between threads. All methods are synchronous and may block on I/O; see the
/// [module documentation](self#execution-model): they may be called from any thread, async
/// runtimes included, without panicking.
pub trait Storage: Send + Sync + fmt::Debug {
    /// An URL naming this storage (`file:///var/exports`, `memory://`, `s3://bucket/prefix`),
    /// for logs and messages. It never contains credentials.
    fn url(&self) -> String;

    /// Checks that the storage is usable: the directory exists, the bucket answers.
    ///
    /// # Errors
    ///
    /// [`ExportError::Storage`] (or [`ExportError::Io`] for a local directory) saying what is
    /// wrong.
    fn check(&self) -> Result<()> {
        Ok(())
    }

    /// Starts a streamed upload to `key`; nothing is visible under `key` until
    /// [`Upload::commit`]. An existing file under `key` is replaced at the commit.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] with field `content_type` when `content_type` is empty or
    /// contains control characters; [`ExportError::Io`] or [`ExportError::Storage`] when the
    /// upload cannot be started.
    fn create(&self, key: &StorageKey, content_type: &str) -> Result<Box<dyn Upload>>;

    /// Streams the local file at `path` up to `key` and commits it.
    ///
    /// # Errors
    ///
    /// [`ExportError::Io`] naming `path` when it cannot be read; otherwise as [`Storage::create`]
    /// and [`Upload::commit`]. On any error the upload is aborted.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::storage::{MemoryStorage, Storage, StorageKey};
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("report.xlsx");
    /// std::fs::write(&path, b"PK...").unwrap();
    /// let storage = MemoryStorage::new().unwrap();
    /// let key = StorageKey::parse("exports/report.xlsx").unwrap();
    /// let stored = storage.put_file(&key, &path, "application/octet-stream").unwrap();
    /// assert_eq!(stored.size, 5);
    /// ```
    fn put_file(&self, key: &StorageKey, path: &Path, content_type: &str) -> Result<StoredObject> {
        let mut file = std::fs::File::open(path).map_err(|e| ExportError::io(path, e))?;
        let mut upload = self.create(key, content_type)?;
        if let Err(e) = io::copy(&mut file, &mut upload) {
            // Best effort: the copy error is the one worth reporting.
            let _ = upload.abort();
            return Err(ExportError::io(path, e));
        }
        upload.commit()
    }

    /// Opens the file under `key` for a streamed read.
    ///
    /// # Errors
    ///
    /// [`ExportError::NotFound`] with kind `file` when there is no file under `key`;
    /// [`ExportError::Io`] or [`ExportError::Storage`] when it cannot be read.
    fn open(&self, key: &StorageKey) -> Result<Download>;

    /// Size, date and content type of the file under `key`, or `None` when there is none.
    ///
    /// # Errors
    ///
    /// [`ExportError::Io`] or [`ExportError::Storage`] when the storage cannot be asked.
    fn head(&self, key: &StorageKey) -> Result<Option<ObjectInfo>>;

    /// Deletes the file under `key`; `Ok(false)` when there was none.
    ///
    /// # Errors
    ///
    /// [`ExportError::Io`] or [`ExportError::Storage`] when the deletion fails.
    fn delete(&self, key: &StorageKey) -> Result<bool>;

    /// The files whose key starts with the segments of `prefix` (`""` for all, `"exports/2026"`
    /// for everything under that folder; `"exports/20"` does not match `exports/2026/...`), sorted
    /// by key. Uploads in progress are never listed. Objects whose names are not valid
    /// [`StorageKey`]s (put there by other tools) are skipped. The content type is not always
    /// known from a listing ([`ObjectInfo::content_type`] may be `None`).
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] with field `prefix` when `prefix` is not a valid key
    /// (a trailing `/` is allowed); [`ExportError::Io`] or [`ExportError::Storage`] when the
    /// listing fails.
    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>>;

    /// A URL that downloads the file under `key` without credentials for `expires_in`, or `None`
    /// when the backend cannot sign URLs (local directory, memory): serve the file through
    /// [`Storage::open`] then. Use [`clamp_expiry`] to keep a link within the file's retention.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] with field `expires_in` when it is below one second or
    /// above [`MAX_SIGNED_URL_EXPIRY`]; [`ExportError::NotFound`] with kind `file` when there is
    /// no file under `key`; [`ExportError::Storage`] when signing fails.
    fn signed_url(&self, key: &StorageKey, expires_in: Duration) -> Result<Option<String>>;

    /// Removes what uploads abandoned before `older_than` left behind, and returns how many
    /// were removed. An upload aborts itself when dropped, but a process killed mid-upload
    /// (SIGKILL, a power cut) never gets to: [`LocalStorage`] then keeps a hidden
    /// `.name.XXXX.partial` file, never visible under a key or in [`Storage::list`], until
    /// this sweeps it. [`Purger::purge`](crate::retention::Purger::purge) calls it.
    ///
    /// The default, for backends with nothing to sweep, removes nothing: [`MemoryStorage`]
    /// dies with its process, and S3 keeps the parts of an interrupted multipart upload until
    /// the bucket's `AbortIncompleteMultipartUpload` lifecycle rule drops them (set one; see
    /// `docs/storage.md`).
    ///
    /// # Errors
    ///
    /// [`ExportError::Io`] or [`ExportError::Storage`] when the backend cannot be listed or a
    /// leftover cannot be removed.
    fn sweep_abandoned(&self, older_than: DateTime<Utc>) -> Result<u64> {
        let _ = older_than;
        Ok(0)
    }
}

/// A streamed upload started by [`Storage::create`]: write the bytes, then commit or abort.
///
/// Dropping an upload without committing it aborts it (best effort): nothing becomes visible.
/// After a write error the upload cannot be committed; abort it (or drop it).
pub trait Upload: io::Write + Send {
    /// The key the file will be visible under.
    fn key(&self) -> &StorageKey;

    /// The number of bytes written so far.
    fn bytes_written(&self) -> u64;

    /// Finishes the upload and makes the file visible under its key, atomically.
    ///
    /// # Errors
    ///
    /// [`ExportError::Storage`] or [`ExportError::Io`] when the last parts, the completion or the
    /// rename fail, or when an earlier write failed; the upload is aborted in that case.
    fn commit(self: Box<Self>) -> Result<StoredObject>;

    /// Abandons the upload, removing what was sent (temporary file, uploaded parts).
    ///
    /// # Errors
    ///
    /// [`ExportError::Storage`] or [`ExportError::Io`] when the cleanup fails; nothing is visible
    /// under the key either way.
    fn abort(self: Box<Self>) -> Result<()>;
}

/// A file made visible by [`Upload::commit`]: what a job records at publication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredObject {
    /// Its key.
    pub key: StorageKey,
    /// Its size in bytes.
    pub size: u64,
    /// The SHA-256 of its content, lower-case hex, computed while streaming.
    pub sha256: String,
    /// The content type it was stored with.
    pub content_type: String,
}

/// What [`Storage::head`] and [`Storage::list`] tell about a stored file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Its key.
    pub key: StorageKey,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, when the backend says.
    pub last_modified: Option<DateTime<Utc>>,
    /// Its content type, when known (object stores give it on `head`, not in listings; a local
    /// directory derives it from the file extension with [`content_type_for`]).
    pub content_type: Option<String>,
    /// The entity tag given by an object store (a multipart upload's ends in `-<parts>` on S3).
    pub e_tag: Option<String>,
}

/// A stored file opened for reading by [`Storage::open`]: streamed, never loaded whole.
///
/// Read it either way:
///
/// - as a blocking [`Read`] (the CLI, worker threads, [`Download::verify`]): an object store's
///   chunks are awaited through the storage's [`IoRuntime`] ([`IoRuntime::block_on`], which works
///   from any thread); a local file is read directly;
/// - as an async stream of [`Bytes`] ([`Download::into_async_stream`], for async HTTP servers):
///   an object store's body stream itself, a local file read in chunks of 64 KiB on the
///   runtime's blocking pool.
///
/// Neither starts a thread per download.
pub struct Download {
    /// Its size in bytes.
    pub size: u64,
    /// Its content type.
    pub content_type: String,
    body: Body,
    /// The runtime that drives the body; `None` for a plain reader until it is needed
    /// ([`IoRuntime::shared`] then).
    io: Option<IoRuntime>,
}

/// Where a download's bytes come from.
enum Body {
    /// A synchronous reader (a local file).
    Reader(Box<dyn Read + Send>),
    /// An async stream driven by the download's runtime (an object store's body), with the rest
    /// of the chunk a [`Read`] has not consumed yet.
    Stream {
        stream: BoxStream<'static, Result<Bytes>>,
        chunk: Bytes,
    },
}

impl fmt::Debug for Download {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Download")
            .field("size", &self.size)
            .field("content_type", &self.content_type)
            .field(
                "body",
                &match self.body {
                    Body::Reader(_) => "reader",
                    Body::Stream { .. } => "stream",
                },
            )
            .finish_non_exhaustive()
    }
}

impl Read for Download {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.body {
            Body::Reader(reader) => reader.read(buf),
            Body::Stream { stream, chunk } => {
                if buf.is_empty() {
                    return Ok(0);
                }
                while chunk.is_empty() {
                    let io = self.io.get_or_insert_with(IoRuntime::shared);
                    match io.block_on(stream.next()) {
                        None => return Ok(0),
                        Some(Ok(next)) => *chunk = next,
                        Some(Err(e)) => return Err(io::Error::other(e)),
                    }
                }
                let n = buf.len().min(chunk.len());
                buf[..n].copy_from_slice(&chunk.split_to(n));
                Ok(n)
            }
        }
    }
}

impl Download {
    /// A download read from a synchronous reader (what [`LocalStorage`] returns). Its async
    /// stream reads `reader` in chunks on the blocking pool of [`IoRuntime::shared`], unless
    /// [`Download::with_runtime`] names another runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use export_core::storage::Download;
    /// let mut download = Download::from_reader(&b"id\n1\n"[..], 5, "text/csv");
    /// let mut text = String::new();
    /// download.read_to_string(&mut text).unwrap();
    /// assert_eq!(text, "id\n1\n");
    /// ```
    pub fn from_reader(
        reader: impl Read + Send + 'static,
        size: u64,
        content_type: impl Into<String>,
    ) -> Download {
        Download {
            size,
            content_type: content_type.into(),
            body: Body::Reader(Box::new(reader)),
            io: None,
        }
    }

    /// A download read from an async stream of chunks (what the object-store backends return),
    /// driven by `io`: the blocking [`Read`] waits on it with [`IoRuntime::block_on`], and
    /// [`Download::into_async_stream`] polls it inside the runtime's context, so a stream that
    /// needs tokio (timers, sockets, spawned tasks) works whatever executor polls it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use bytes::Bytes;
    /// use futures::StreamExt;
    /// use export_core::runtime::IoRuntime;
    /// use export_core::storage::Download;
    /// let chunks = futures::stream::iter([Ok(Bytes::from("he")), Ok(Bytes::from("llo"))]);
    /// let mut download = Download::from_stream(chunks.boxed(), 5, "text/plain", &IoRuntime::shared());
    /// let mut text = String::new();
    /// download.read_to_string(&mut text).unwrap();
    /// assert_eq!(text, "hello");
    /// ```
    pub fn from_stream(
        stream: BoxStream<'static, Result<Bytes>>,
        size: u64,
        content_type: impl Into<String>,
        io: &IoRuntime,
    ) -> Download {
        Download {
            size,
            content_type: content_type.into(),
            body: Body::Stream {
                stream,
                chunk: Bytes::new(),
            },
            io: Some(io.clone()),
        }
    }

    /// Reads a reader-backed download (a local file) for [`Download::into_async_stream`] on
    /// `io`'s blocking pool instead of [`IoRuntime::shared`]'s. A stream-backed download keeps
    /// the runtime its stream was built on.
    pub fn with_runtime(mut self, io: &IoRuntime) -> Download {
        if matches!(self.body, Body::Reader(_)) {
            self.io = Some(io.clone());
        }
        self
    }

    /// Reads the whole content, streaming, and checks its size and SHA-256 against the ones
    /// recorded at publication ([`StoredObject::sha256`]).
    ///
    /// # Errors
    ///
    /// [`ExportError::Io`] when reading fails; [`ExportError::Storage`] when the size or the
    /// checksum differ.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use export_core::storage::{MemoryStorage, Storage, StorageKey};
    /// let storage = MemoryStorage::new().unwrap();
    /// let key = StorageKey::parse("a.txt").unwrap();
    /// let mut upload = storage.create(&key, "text/plain").unwrap();
    /// upload.write_all(b"hello").unwrap();
    /// let stored = upload.commit().unwrap();
    /// assert_eq!(storage.open(&key).unwrap().verify(&stored.sha256).unwrap(), 5);
    /// assert!(storage.open(&key).unwrap().verify("00").is_err());
    /// ```
    pub fn verify(mut self, expected_sha256: &str) -> Result<u64> {
        let expected_size = self.size;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut size = 0u64;
        loop {
            let n = match self.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            hasher.update(&buf[..n]);
            size += n as u64;
        }
        let actual = hex::encode(hasher.finalize());
        if size != expected_size {
            return Err(ExportError::Storage(format!(
                "download is {size} bytes long, {expected_size} were expected"
            )));
        }
        if !actual.eq_ignore_ascii_case(expected_sha256) {
            return Err(ExportError::Storage(format!(
                "checksum mismatch: sha256 is {actual}, {expected_sha256} was recorded"
            )));
        }
        Ok(size)
    }

    /// Turns the download into an async stream of chunks, for async HTTP servers (an axum or
    /// hyper body, a napi stream). Poll it from any executor; it never blocks the polling
    /// thread and starts no thread of its own:
    ///
    /// - an object store's body is its own stream (chunks as the store sends them), polled
    ///   inside the storage's runtime context;
    /// - a local file is read in chunks of up to 64 KiB on the runtime's blocking pool, by at
    ///   most two blocking tasks in the whole process however many downloads stream (so a few
    ///   pool threads, not one per download).
    ///
    /// Bytes already consumed through [`Read`] are not repeated. Dropping the stream stops the
    /// reads.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use futures::StreamExt;
    /// use export_core::storage::{MemoryStorage, Storage, StorageKey};
    /// let storage = MemoryStorage::new().unwrap();
    /// let key = StorageKey::parse("a.txt").unwrap();
    /// let mut upload = storage.create(&key, "text/plain").unwrap();
    /// upload.write_all(b"hello").unwrap();
    /// upload.commit().unwrap();
    /// let stream = storage.open(&key).unwrap().into_async_stream();
    /// let host = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let chunks: Vec<_> = host.block_on(stream.collect());
    /// let bytes: Vec<u8> = chunks.into_iter().flat_map(|c| c.unwrap().to_vec()).collect();
    /// assert_eq!(bytes, b"hello");
    /// ```
    pub fn into_async_stream(self) -> BoxStream<'static, Result<Bytes>> {
        let io = self.io.unwrap_or_else(IoRuntime::shared);
        match self.body {
            Body::Stream { stream, chunk } => {
                let rest = OnRuntime { io, stream }.boxed();
                if chunk.is_empty() {
                    rest
                } else {
                    futures::stream::once(async move { Ok(chunk) })
                        .chain(rest)
                        .boxed()
                }
            }
            Body::Reader(reader) => file_stream::stream(reader, io),
        }
    }
}

/// A stream polled inside an [`IoRuntime`]'s context, whatever executor polls it: an object
/// store's body may start requests (a retried read) that need the runtime's reactor.
struct OnRuntime {
    io: IoRuntime,
    stream: BoxStream<'static, Result<Bytes>>,
}

impl futures::Stream for OnRuntime {
    type Item = Result<Bytes>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let this = &mut *self;
        let _enter = this.io.handle().enter();
        this.stream.poll_next_unpin(cx)
    }
}

/// The content type of a file, from its extension: what [`LocalStorage`] reports, and a good
/// choice for [`Storage::create`].
///
/// # Examples
///
/// ```
/// use export_core::storage::content_type_for;
/// assert_eq!(content_type_for("trips.csv"), "text/csv; charset=utf-8");
/// assert_eq!(
///     content_type_for("trips.XLSX"),
///     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
/// );
/// assert_eq!(content_type_for("trips"), "application/octet-stream");
/// ```
pub fn content_type_for(file_name: &str) -> &'static str {
    let ext = match file_name.rsplit_once('.') {
        Some((_, ext)) => ext.to_ascii_lowercase(),
        None => return "application/octet-stream",
    };
    match ext.as_str() {
        "csv" => "text/csv; charset=utf-8",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "json" => "application/json",
        "jsonl" | "ndjson" => "application/x-ndjson",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The expiry to sign a download link with: `requested` (default [`DEFAULT_SIGNED_URL_EXPIRY`]),
/// shortened so that the link never outlives the file's retention (`retention_ends`) nor
/// [`MAX_SIGNED_URL_EXPIRY`]. `None` when the retention has already ended (the file is gone) or
/// less than a second of it is left.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use chrono::{TimeZone, Utc};
/// use export_core::storage::clamp_expiry;
/// let now = Utc.with_ymd_and_hms(2026, 11, 3, 8, 0, 0).unwrap();
/// let ends = Utc.with_ymd_and_hms(2026, 11, 3, 8, 30, 0).unwrap();
/// assert_eq!(clamp_expiry(None, Some(ends), now), Some(Duration::from_secs(1800)));
/// assert_eq!(clamp_expiry(Some(Duration::from_secs(60)), Some(ends), now), Some(Duration::from_secs(60)));
/// assert_eq!(clamp_expiry(None, None, now), Some(Duration::from_secs(3600)));
/// assert_eq!(clamp_expiry(None, Some(now), now), None);
/// ```
pub fn clamp_expiry(
    requested: Option<Duration>,
    retention_ends: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<Duration> {
    let mut expiry = requested
        .unwrap_or(DEFAULT_SIGNED_URL_EXPIRY)
        .min(MAX_SIGNED_URL_EXPIRY);
    if let Some(ends) = retention_ends {
        let left = (ends - now).to_std().ok()?;
        expiry = expiry.min(Duration::from_secs(left.as_secs()));
    }
    (expiry.as_secs() >= 1).then_some(expiry)
}

/// Builds a storage from an URL and string options (from a configuration file, the CLI, a
/// Python dict or a JavaScript object).
///
/// - `file:///var/exports` (or a plain path): a [`LocalStorage`] on that directory, created if
///   missing. No options.
/// - `memory://`: a new, empty [`MemoryStorage`]. Options `part_size`, `max_parts_in_flight`.
/// - `s3://bucket/prefix` (feature `s3`): an [`S3Storage`] whose options start from
///   [`S3Options::from_env`] and are overridden by `endpoint`, `region`, `access_key_id`,
///   `secret_access_key`, `session_token`, `allow_http`, `virtual_hosted_style`, `part_size`,
///   `max_parts_in_flight`.
///
/// # Errors
///
/// [`ExportError::InvalidRequest`] with field `storage_url` for an unknown scheme or a malformed
/// URL, `storage_options` for an unknown option or a bad value, and the errors of each backend's
/// constructor (for example field `bucket` or `endpoint` on S3).
///
/// # Examples
///
/// ```
/// use export_core::storage::{open_storage, StorageKey};
/// let dir = tempfile::tempdir().unwrap();
/// let url = format!("file://{}", dir.path().display());
/// let storage = open_storage(&url, [("", ""); 0]).unwrap();
/// assert!(storage.head(&StorageKey::parse("a.csv").unwrap()).unwrap().is_none());
///
/// let memory = open_storage("memory://", [("part_size", "5242880")]).unwrap();
/// assert_eq!(memory.url(), "memory://");
///
/// let err = open_storage("ftp://host/dir", [("", ""); 0]).unwrap_err();
/// assert!(err.to_string().contains("ftp"));
/// ```
///
/// The storage runs its I/O on [`IoRuntime::shared`]; an engine gives its own runtime with
/// [`open_storage_with`].
pub fn open_storage<I, K, V>(url: &str, options: I) -> Result<Arc<dyn Storage>>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    open_storage_on(url, options, None)
}

/// As [`open_storage`], with the object stores' requests (and the async streams of downloads)
/// driven by `io`, the engine's runtime: storages opened this way share its threads and start
/// none of their own.
///
/// # Errors
///
/// As [`open_storage`].
///
/// # Examples
///
/// ```
/// use export_core::runtime::IoRuntime;
/// use export_core::storage::{open_storage_with, StorageKey};
/// let io = IoRuntime::new(1).unwrap();
/// let storage = open_storage_with("memory://", [("", ""); 0], &io).unwrap();
/// assert!(storage.head(&StorageKey::parse("a.csv").unwrap()).unwrap().is_none());
/// ```
pub fn open_storage_with<I, K, V>(url: &str, options: I, io: &IoRuntime) -> Result<Arc<dyn Storage>>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    open_storage_on(url, options, Some(io))
}

/// [`open_storage`] on `io`, or on [`IoRuntime::shared`] (started only for an object store)
/// when `None`.
fn open_storage_on<I, K, V>(
    url: &str,
    options: I,
    io: Option<&IoRuntime>,
) -> Result<Arc<dyn Storage>>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let local = |root: std::path::PathBuf| -> Result<Arc<dyn Storage>> {
        Ok(Arc::new(match io {
            Some(io) => LocalStorage::with_runtime(root, io)?,
            None => LocalStorage::new(root)?,
        }))
    };
    let object_io = || io.cloned().unwrap_or_else(IoRuntime::shared);
    let mut options: BTreeMap<String, String> = options
        .into_iter()
        .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
        .collect();
    let bad_url =
        |reason: String| ExportError::request("storage_url", format!("{url:?}: {reason}"));
    let Some((scheme, rest)) = url.split_once("://") else {
        if url.is_empty() {
            return Err(bad_url("is empty".into()));
        }
        no_options(&options, "a local directory")?;
        return local(url.into());
    };
    match scheme.to_ascii_lowercase().as_str() {
        "file" => {
            no_options(&options, "a local directory")?;
            let parsed = url::Url::parse(url).map_err(|e| bad_url(e.to_string()))?;
            match parsed.host_str() {
                None | Some("") | Some("localhost") => {}
                Some(host) => {
                    return Err(bad_url(format!(
                        "names the host `{host}`; use file:///absolute/path"
                    )));
                }
            }
            let path = parsed
                .to_file_path()
                .map_err(|()| bad_url("is not a local path".into()))?;
            local(path)
        }
        "memory" => {
            if !rest.is_empty() && rest != "/" {
                return Err(bad_url("takes no path (use memory://)".into()));
            }
            let multipart = take_multipart(&mut options, MultipartOptions::default())?;
            no_options(&options, "memory://")?;
            Ok(Arc::new(MemoryStorage::with_runtime(
                multipart,
                &object_io(),
            )?))
        }
        "s3" => open_s3(rest, options, &object_io()).map_err(|e| match e {
            ExportError::InvalidRequest { field, reason } if field == "storage_url" => {
                bad_url(reason)
            }
            e => e,
        }),
        other => Err(bad_url(format!(
            "unsupported scheme `{other}`; expected file://, memory:// or s3://"
        ))),
    }
}

#[cfg(feature = "s3")]
fn open_s3(
    rest: &str,
    mut options: BTreeMap<String, String>,
    io: &IoRuntime,
) -> Result<Arc<dyn Storage>> {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let mut s3 = S3Options::from_env();
    s3.bucket = bucket.to_owned();
    s3.prefix = prefix.trim_end_matches('/').to_owned();
    for (name, field) in [
        ("endpoint", &mut s3.endpoint),
        ("region", &mut s3.region),
        ("access_key_id", &mut s3.access_key_id),
        ("secret_access_key", &mut s3.secret_access_key),
        ("session_token", &mut s3.session_token),
    ] {
        if let Some(value) = options.remove(name) {
            *field = Some(value);
        }
    }
    if let Some(value) = options.remove("allow_http") {
        s3.allow_http = parse_bool("allow_http", &value)?;
    }
    if let Some(value) = options.remove("virtual_hosted_style") {
        s3.virtual_hosted_style = parse_bool("virtual_hosted_style", &value)?;
    }
    s3.multipart = take_multipart(&mut options, s3.multipart)?;
    if let Some(name) = options.keys().next() {
        return Err(ExportError::request(
            "storage_options",
            format!(
                "unknown option `{name}` for s3://; valid options are: endpoint, region, \
                 access_key_id, secret_access_key, session_token, allow_http, \
                 virtual_hosted_style, part_size, max_parts_in_flight"
            ),
        ));
    }
    Ok(Arc::new(S3Storage::with_runtime(s3, io)?))
}

#[cfg(not(feature = "s3"))]
fn open_s3(
    _rest: &str,
    _options: BTreeMap<String, String>,
    _io: &IoRuntime,
) -> Result<Arc<dyn Storage>> {
    Err(ExportError::request(
        "storage_url",
        "s3:// support is not compiled in (enable the `s3` feature of export-core)",
    ))
}

fn no_options(options: &BTreeMap<String, String>, what: &str) -> Result<()> {
    match options.keys().next() {
        None => Ok(()),
        Some(name) => Err(ExportError::request(
            "storage_options",
            format!("unknown option `{name}` for {what}"),
        )),
    }
}

fn take_multipart(
    options: &mut BTreeMap<String, String>,
    mut multipart: MultipartOptions,
) -> Result<MultipartOptions> {
    if let Some(value) = options.remove("part_size") {
        multipart.part_size = parse_usize("part_size", &value)?;
    }
    if let Some(value) = options.remove("max_parts_in_flight") {
        multipart.max_parts_in_flight = parse_usize("max_parts_in_flight", &value)?;
    }
    Ok(multipart)
}

fn parse_usize(name: &str, value: &str) -> Result<usize> {
    value.trim().parse().map_err(|_| {
        ExportError::request(
            "storage_options",
            format!("`{name}` must be a whole number, got {value:?}"),
        )
    })
}

#[cfg(feature = "s3")]
pub(crate) fn parse_bool(name: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(ExportError::request(
            "storage_options",
            format!("`{name}` must be true or false, got {value:?}"),
        )),
    }
}

/// Checks a content type given to [`Storage::create`] (it becomes an HTTP header).
pub(crate) fn check_content_type(content_type: &str) -> Result<()> {
    if content_type.trim().is_empty() {
        return Err(ExportError::request("content_type", "must not be empty"));
    }
    if content_type
        .chars()
        .any(|c| c.is_control() || !c.is_ascii())
    {
        return Err(ExportError::request(
            "content_type",
            format!("{content_type:?} contains control or non-ASCII characters"),
        ));
    }
    Ok(())
}

/// Checks the expiry asked of [`Storage::signed_url`].
pub(crate) fn check_expiry(expires_in: Duration) -> Result<()> {
    if expires_in < Duration::from_secs(1) || expires_in > MAX_SIGNED_URL_EXPIRY {
        return Err(ExportError::request(
            "expires_in",
            format!(
                "{}s is out of range: a signed URL lasts from 1 second to {} seconds (7 days)",
                expires_in.as_secs(),
                MAX_SIGNED_URL_EXPIRY.as_secs()
            ),
        ));
    }
    Ok(())
}

/// The error for a missing file.
pub(crate) fn not_found(key: &StorageKey) -> ExportError {
    ExportError::NotFound {
        kind: "file",
        id: key.to_string(),
    }
}

/// SHA-256 and byte count of what goes through an upload.
#[derive(Default)]
pub(crate) struct Checksum {
    hasher: Sha256,
    size: u64,
}

impl Checksum {
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    pub(crate) fn finish(self) -> (u64, String) {
        (self.size, hex::encode(self.hasher.finalize()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_bounds() {
        assert!(check_expiry(Duration::from_millis(10)).is_err());
        assert!(check_expiry(Duration::from_secs(1)).is_ok());
        assert!(check_expiry(MAX_SIGNED_URL_EXPIRY).is_ok());
        assert!(check_expiry(MAX_SIGNED_URL_EXPIRY + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn content_types() {
        assert!(check_content_type("").is_err());
        assert!(check_content_type("text/csv\r\nX-Evil: 1").is_err());
        assert!(check_content_type("text/csv; charset=utf-8").is_ok());
    }

    #[test]
    fn urls() {
        let err = open_storage("memory://x", [("", ""); 0]).unwrap_err();
        assert!(err.to_string().contains("storage_url"), "{err}");
        let err = open_storage("memory://", [("colour", "blue")]).unwrap_err();
        assert!(err.to_string().contains("unknown option `colour`"), "{err}");
        let err = open_storage("file://host/x", [("", ""); 0]).unwrap_err();
        assert!(err.to_string().contains("host"), "{err}");
        let err = open_storage("memory://", [("part_size", "big")]).unwrap_err();
        assert!(err.to_string().contains("whole number"), "{err}");
    }
}
