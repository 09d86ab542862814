//! [`MemoryStorage`]: files kept in memory, for tests and embedding.

use std::sync::Arc;
use std::time::Duration;

use super::object::ObjectStorage;
use super::{Download, MultipartOptions, ObjectInfo, Storage, StorageKey, Upload};
use crate::error::Result;
use crate::runtime::IoRuntime;

/// Files kept in memory (`object_store`'s in-memory store), lost when the storage is dropped.
///
/// Uploads go through the same multipart code as S3 (parts of
/// [`MultipartOptions::part_size`], at most [`MultipartOptions::max_parts_in_flight`] at once),
/// so tests on memory exercise the object-store path. Signed URLs do not exist here
/// ([`Storage::signed_url`] returns `None`). Clones share the same files. Its I/O runs on an
/// [`IoRuntime`] ([`IoRuntime::shared`] unless [`MemoryStorage::with_runtime`] names one).
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use export_core::storage::{MemoryStorage, Storage, StorageKey};
/// let storage = MemoryStorage::new().unwrap();
/// let key = StorageKey::parse("exports/a.json").unwrap();
/// let mut upload = storage.create(&key, "application/json").unwrap();
/// upload.write_all(b"[]").unwrap();
/// let stored = upload.commit().unwrap();
/// let download = storage.open(&key).unwrap();
/// assert_eq!((download.size, download.content_type.as_str()), (2, "application/json"));
/// assert_eq!(stored.sha256.len(), 64);
/// ```
#[derive(Clone, Debug)]
pub struct MemoryStorage {
    inner: ObjectStorage,
}

impl MemoryStorage {
    /// An empty storage with the default [`MultipartOptions`], on [`IoRuntime::shared`].
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for checks.
    ///
    /// # Panics
    ///
    /// As [`IoRuntime::shared`], if the shared runtime cannot start.
    pub fn new() -> Result<MemoryStorage> {
        MemoryStorage::with_multipart(MultipartOptions::default())
    }

    /// An empty storage that cuts uploads into parts as `multipart` says (any part size of at
    /// least one byte is accepted, which lets tests see many parts on small files).
    ///
    /// # Errors
    ///
    /// [`crate::ExportError::InvalidRequest`] with field `part_size` or `max_parts_in_flight`
    /// when they are out of range.
    ///
    /// # Panics
    ///
    /// As [`IoRuntime::shared`], if the shared runtime cannot start.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::storage::{MemoryStorage, MultipartOptions};
    /// let options = MultipartOptions { part_size: 1024, max_parts_in_flight: 2 };
    /// let storage = MemoryStorage::with_multipart(options).unwrap();
    /// assert_eq!(storage.multipart(), options);
    /// ```
    pub fn with_multipart(multipart: MultipartOptions) -> Result<MemoryStorage> {
        multipart.validate(1)?;
        MemoryStorage::with_runtime(multipart, &IoRuntime::shared())
    }

    /// As [`MemoryStorage::with_multipart`], with the store's I/O driven by `io` (an engine's
    /// runtime).
    ///
    /// # Errors
    ///
    /// As [`MemoryStorage::with_multipart`].
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::runtime::IoRuntime;
    /// use export_core::storage::{MemoryStorage, MultipartOptions, Storage};
    /// let io = IoRuntime::new(1).unwrap();
    /// let storage = MemoryStorage::with_runtime(MultipartOptions::default(), &io).unwrap();
    /// assert!(storage.list("").unwrap().is_empty());
    /// ```
    pub fn with_runtime(multipart: MultipartOptions, io: &IoRuntime) -> Result<MemoryStorage> {
        multipart.validate(1)?;
        let store = Arc::new(object_store::memory::InMemory::new());
        let inner = ObjectStorage::new(store, "", "memory://".into(), multipart, io)?;
        Ok(MemoryStorage { inner })
    }

    /// How uploads are cut into parts.
    pub fn multipart(&self) -> MultipartOptions {
        self.inner.multipart()
    }
}

impl Storage for MemoryStorage {
    fn url(&self) -> String {
        self.inner.url()
    }

    fn create(&self, key: &StorageKey, content_type: &str) -> Result<Box<dyn Upload>> {
        self.inner.create(key, content_type)
    }

    fn open(&self, key: &StorageKey) -> Result<Download> {
        self.inner.open(key)
    }

    fn head(&self, key: &StorageKey) -> Result<Option<ObjectInfo>> {
        self.inner.head(key)
    }

    fn delete(&self, key: &StorageKey) -> Result<bool> {
        self.inner.delete(key)
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        self.inner.list(prefix)
    }

    fn signed_url(&self, key: &StorageKey, expires_in: Duration) -> Result<Option<String>> {
        self.inner.signed_url(key, expires_in)
    }
}
