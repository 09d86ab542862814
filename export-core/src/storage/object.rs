//! The [`Storage`] implementation shared by every `object_store` backend (memory, S3): a store,
//! an optional key prefix, and the [`IoRuntime`] that drives its I/O (the engine's, or
//! [`IoRuntime::shared`]); a storage never starts a runtime of its own.
//!
//! Uploads are buffered one part at a time. A file smaller than one part goes up with a single
//! PUT at the commit; a larger one starts a multipart upload when its first part is full, sends
//! each full part in the background while the caller writes the next one, and waits before
//! buffering a part when [`MultipartOptions::max_parts_in_flight`] are already on their way. The
//! memory used by an upload is therefore at most `(max_parts_in_flight + 1) * part_size`.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{
    Attribute, Attributes, GetOptions, ObjectMeta, ObjectStore, ObjectStoreExt,
    PutMultipartOptions, PutOptions, PutPayload, WriteMultipart,
};

use super::key::validate_prefix;
use super::{
    Checksum, Download, ObjectInfo, Storage, StorageKey, StoredObject, Upload, check_content_type,
    check_expiry, not_found,
};
use crate::error::{ExportError, Result};
use crate::runtime::IoRuntime;

/// How large files are cut into parts for a multipart upload to an object store.
///
/// An upload holds at most `(max_parts_in_flight + 1) * part_size` bytes in memory: the part
/// being filled and the parts being sent. The defaults (8 MiB, 3) bound it at 32 MiB.
///
/// # Examples
///
/// ```
/// use export_core::storage::MultipartOptions;
/// let options = MultipartOptions::default();
/// assert_eq!(options.part_size, 8 * 1024 * 1024);
/// assert_eq!(options.max_parts_in_flight, 3);
/// assert_eq!(options.max_memory(), 32 * 1024 * 1024);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MultipartOptions {
    /// The size of each part but the last, in bytes (S3 needs at least 5 MiB).
    pub part_size: usize,
    /// How many parts may be uploading at once while the next one is being filled.
    pub max_parts_in_flight: usize,
}

impl Default for MultipartOptions {
    fn default() -> Self {
        MultipartOptions {
            part_size: 8 * 1024 * 1024,
            max_parts_in_flight: 3,
        }
    }
}

impl MultipartOptions {
    /// The most memory one upload buffers: `(max_parts_in_flight + 1) * part_size`.
    pub fn max_memory(&self) -> usize {
        self.max_parts_in_flight
            .saturating_add(1)
            .saturating_mul(self.part_size)
    }

    /// Checks the options against a store's smallest part size.
    pub(crate) fn validate(&self, min_part_size: usize) -> Result<()> {
        const MAX_PART_SIZE: usize = 5 * 1024 * 1024 * 1024;
        if self.part_size < min_part_size.max(1) || self.part_size > MAX_PART_SIZE {
            return Err(ExportError::request(
                "part_size",
                format!(
                    "{} bytes is out of range: parts are from {} bytes to 5 GiB",
                    self.part_size,
                    min_part_size.max(1)
                ),
            ));
        }
        if !(1..=64).contains(&self.max_parts_in_flight) {
            return Err(ExportError::request(
                "max_parts_in_flight",
                format!(
                    "{} is out of range: from 1 to 64 parts may be in flight",
                    self.max_parts_in_flight
                ),
            ));
        }
        Ok(())
    }
}

/// A signer of download URLs (S3's presigned GET).
#[cfg(feature = "s3")]
pub(crate) type UrlSigner = Arc<dyn object_store::signer::Signer>;

/// Everything a storage, its uploads and its downloads share.
pub(crate) struct Inner {
    store: Arc<dyn ObjectStore>,
    /// The key prefix inside the store (`""` for none), without a trailing `/`.
    prefix: String,
    url: String,
    multipart: MultipartOptions,
    #[cfg(feature = "s3")]
    signer: Option<UrlSigner>,
    /// The runtime that drives the store's I/O, shared with the rest of the engine.
    io: IoRuntime,
}

impl Inner {
    /// Waits for an I/O future on the runtime, from any thread (see [`IoRuntime::block_on`]).
    fn block_on<F>(&self, future: F) -> F::Output
    where
        F: std::future::Future + Send,
        F::Output: Send,
    {
        self.io.block_on(future)
    }

    fn path(&self, key: &str) -> Result<ObjectPath> {
        let full = if self.prefix.is_empty() {
            key.to_owned()
        } else if key.is_empty() {
            self.prefix.clone()
        } else {
            format!("{}/{key}", self.prefix)
        };
        ObjectPath::parse(&full).map_err(|e| {
            ExportError::request("key", format!("{full:?} is not a valid object path: {e}"))
        })
    }

    /// The storage key of an object path, or `None` for objects outside the prefix or with
    /// names that are not valid keys.
    fn key_of(&self, location: &ObjectPath) -> Option<StorageKey> {
        let location = location.as_ref();
        let relative = if self.prefix.is_empty() {
            location
        } else {
            location
                .strip_prefix(self.prefix.as_str())?
                .strip_prefix('/')?
        };
        StorageKey::parse(relative).ok()
    }

    fn info(
        &self,
        key: StorageKey,
        meta: ObjectMeta,
        attributes: Option<&Attributes>,
    ) -> ObjectInfo {
        ObjectInfo {
            key,
            size: meta.size,
            last_modified: Some(meta.last_modified),
            content_type: attributes
                .and_then(|a| a.get(&Attribute::ContentType))
                .map(|v| v.as_ref().to_owned()),
            e_tag: meta.e_tag,
        }
    }

    fn error(&self, action: &str, key: &StorageKey, e: object_store::Error) -> ExportError {
        let text = e.to_string();
        match e {
            object_store::Error::NotFound { .. } if !text.contains("NoSuchBucket") => {
                not_found(key)
            }
            e => ExportError::Storage(format!(
                "{action} `{key}` on {}: {}{e}",
                self.url,
                hint(&text)
            )),
        }
    }
}

/// A short explanation of the usual causes of an object-store error, to put before its text.
fn hint(text: &str) -> &'static str {
    if text.contains("NoSuchBucket") {
        "the bucket does not exist: "
    } else if text.contains("InvalidAccessKeyId")
        || text.contains("SignatureDoesNotMatch")
        || text.contains("AccessDenied")
        || text.contains("403 Forbidden")
    {
        "the credentials were refused: "
    } else if text.contains("error sending request") || text.contains("Connection refused") {
        "the endpoint cannot be reached: "
    } else {
        ""
    }
}

/// A [`Storage`] over any `object_store` store.
#[derive(Clone)]
pub(crate) struct ObjectStorage {
    inner: Arc<Inner>,
}

impl fmt::Debug for ObjectStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStorage")
            .field("url", &self.inner.url)
            .field("multipart", &self.inner.multipart)
            .finish_non_exhaustive()
    }
}

impl ObjectStorage {
    /// Wraps `store`; keys are stored under `prefix` (a valid key prefix or `""`).
    pub(crate) fn new(
        store: Arc<dyn ObjectStore>,
        prefix: &str,
        url: String,
        multipart: MultipartOptions,
        io: &IoRuntime,
    ) -> Result<ObjectStorage> {
        let prefix = validate_prefix(prefix)
            .map_err(|e| match e {
                ExportError::InvalidRequest { reason, .. } => {
                    ExportError::request("prefix", reason)
                }
                e => e,
            })?
            .to_owned();
        Ok(ObjectStorage {
            inner: Arc::new(Inner {
                store,
                prefix,
                url,
                multipart,
                #[cfg(feature = "s3")]
                signer: None,
                io: io.clone(),
            }),
        })
    }

    /// Adds a URL signer (only before the storage is shared).
    #[cfg(feature = "s3")]
    pub(crate) fn with_signer(mut self, signer: UrlSigner) -> Result<ObjectStorage> {
        let inner = Arc::get_mut(&mut self.inner)
            .ok_or_else(|| ExportError::Storage("storage already shared".into()))?;
        inner.signer = Some(signer);
        Ok(self)
    }

    pub(crate) fn multipart(&self) -> MultipartOptions {
        self.inner.multipart
    }

    /// Lists the objects under the whole prefix once, to see whether the store answers.
    pub(crate) fn probe(&self) -> Result<()> {
        let inner = &self.inner;
        let prefix = if inner.prefix.is_empty() {
            None
        } else {
            Some(inner.path("")?)
        };
        let mut stream = inner.store.list(prefix.as_ref());
        match inner.block_on(stream.next()) {
            None | Some(Ok(_)) => Ok(()),
            Some(Err(e)) => {
                let hint = hint(&e.to_string());
                Err(ExportError::Storage(format!(
                    "{} is not usable: {hint}{e}",
                    inner.url
                )))
            }
        }
    }
}

impl Storage for ObjectStorage {
    fn url(&self) -> String {
        self.inner.url.clone()
    }

    fn check(&self) -> Result<()> {
        self.probe()
    }

    fn create(&self, key: &StorageKey, content_type: &str) -> Result<Box<dyn Upload>> {
        check_content_type(content_type)?;
        let path = self.inner.path(key.as_str())?;
        Ok(Box::new(ObjectUpload {
            inner: self.inner.clone(),
            key: key.clone(),
            path,
            content_type: content_type.to_owned(),
            buffer: Vec::new(),
            writer: None,
            checksum: Checksum::default(),
            parts: 0,
            failed: None,
            finished: false,
        }))
    }

    fn open(&self, key: &StorageKey) -> Result<Download> {
        let inner = &self.inner;
        let path = inner.path(key.as_str())?;
        let result = inner
            .block_on(inner.store.get_opts(&path, GetOptions::default()))
            .map_err(|e| inner.error("cannot read", key, e))?;
        let size = result.meta.size;
        let content_type = result
            .attributes
            .get(&Attribute::ContentType)
            .map(|v| v.as_ref().to_owned())
            .unwrap_or_else(|| super::content_type_for(key.file_name()).to_owned());
        let stream = {
            // Some stores start their body stream with tokio tasks: build it on the runtime.
            let _guard = inner.io.handle().enter();
            result.into_stream()
        };
        let (owner, key) = (inner.clone(), key.clone());
        let stream = stream
            .map(move |chunk| {
                chunk.map_err(|e| {
                    ExportError::Storage(format!("cannot read `{key}` on {}: {e}", owner.url))
                })
            })
            .boxed();
        Ok(Download::from_stream(stream, size, content_type, &inner.io))
    }

    fn head(&self, key: &StorageKey) -> Result<Option<ObjectInfo>> {
        let inner = &self.inner;
        let path = inner.path(key.as_str())?;
        let options = GetOptions::new().with_head(true);
        match inner.block_on(inner.store.get_opts(&path, options)) {
            Ok(result) => Ok(Some(inner.info(
                key.clone(),
                result.meta,
                Some(&result.attributes),
            ))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(inner.error("cannot look up", key, e)),
        }
    }

    fn delete(&self, key: &StorageKey) -> Result<bool> {
        // Object stores delete missing objects without complaint: ask first.
        if self.head(key)?.is_none() {
            return Ok(false);
        }
        let inner = &self.inner;
        let path = inner.path(key.as_str())?;
        match inner.block_on(inner.store.delete(&path)) {
            Ok(()) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(inner.error("cannot delete", key, e)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let inner = &self.inner;
        let prefix = validate_prefix(prefix)?;
        let path = if prefix.is_empty() && inner.prefix.is_empty() {
            None
        } else {
            Some(inner.path(prefix)?)
        };
        let metas: Vec<ObjectMeta> = inner
            .block_on(inner.store.list(path.as_ref()).try_collect())
            .map_err(|e| {
                ExportError::Storage(format!("cannot list `{prefix}` on {}: {e}", inner.url))
            })?;
        let mut infos: Vec<ObjectInfo> = metas
            .into_iter()
            .filter_map(|meta| {
                let key = inner.key_of(&meta.location)?;
                Some(inner.info(key, meta, None))
            })
            .collect();
        infos.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(infos)
    }

    fn signed_url(&self, key: &StorageKey, expires_in: Duration) -> Result<Option<String>> {
        check_expiry(expires_in)?;
        #[cfg(feature = "s3")]
        if let Some(signer) = &self.inner.signer {
            let inner = &self.inner;
            if self.head(key)?.is_none() {
                return Err(not_found(key));
            }
            let path = inner.path(key.as_str())?;
            let method = object_store::signer::Method::GET;
            let url = inner
                .block_on(signer.signed_url(method, &path, expires_in))
                .map_err(|e| inner.error("cannot sign a URL for", key, e))?;
            return Ok(Some(url.to_string()));
        }
        if self.head(key)?.is_none() {
            return Err(not_found(key));
        }
        Ok(None)
    }
}

/// A streamed upload to an object store.
struct ObjectUpload {
    inner: Arc<Inner>,
    key: StorageKey,
    path: ObjectPath,
    content_type: String,
    /// The part being filled (at most `part_size` bytes).
    buffer: Vec<u8>,
    /// The multipart upload, started when the first part is full.
    writer: Option<WriteMultipart>,
    checksum: Checksum,
    parts: u32,
    /// Why an earlier write failed.
    failed: Option<String>,
    /// Committed or aborted: nothing to clean up on drop.
    finished: bool,
}

impl ObjectUpload {
    fn attributes(&self) -> Attributes {
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, self.content_type.clone().into());
        attributes
    }

    fn storage_error(&self, action: &str, e: impl fmt::Display) -> ExportError {
        let text = e.to_string();
        ExportError::Storage(format!(
            "cannot {action} `{}` on {}: {}{text}",
            self.key,
            self.inner.url,
            hint(&text)
        ))
    }

    /// Sends the full buffer as the next part, starting the multipart upload if needed and
    /// waiting while too many parts are in flight.
    fn send_part(&mut self) -> Result<()> {
        let part_size = self.inner.multipart.part_size;
        let max_in_flight = self.inner.multipart.max_parts_in_flight.max(1);
        let inner = self.inner.clone();
        if self.writer.is_none() {
            let options = PutMultipartOptions::from(self.attributes());
            let upload = inner
                .block_on(inner.store.put_multipart_opts(&self.path, options))
                .map_err(|e| self.storage_error("start the upload of", e))?;
            self.writer = Some(WriteMultipart::new_with_chunk_size(upload, part_size));
        }
        let part = Bytes::from(std::mem::take(&mut self.buffer));
        let Some(writer) = self.writer.as_mut() else {
            return Err(ExportError::Storage("multipart upload missing".into()));
        };
        // Leave room for this part: at most `max_in_flight` parts uploading at once.
        let waited = inner.block_on(writer.wait_for_capacity(max_in_flight - 1));
        if let Err(e) = waited {
            return Err(self.storage_error("upload a part of", e));
        }
        {
            // `put` spawns the part's upload on the runtime.
            let _guard = inner.io.handle().enter();
            writer.put(part);
        }
        self.parts += 1;
        Ok(())
    }

    fn abort_writer(&mut self) -> Result<()> {
        self.finished = true;
        self.buffer = Vec::new();
        match self.writer.take() {
            None => Ok(()),
            Some(writer) => {
                let inner = self.inner.clone();
                inner
                    .block_on(writer.abort())
                    .map_err(|e| self.storage_error("abort the upload of", e))
            }
        }
    }
}

impl io::Write for ObjectUpload {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(reason) = &self.failed {
            return Err(io::Error::other(format!("upload failed earlier: {reason}")));
        }
        if self.finished {
            return Err(io::Error::other("upload already finished"));
        }
        let part_size = self.inner.multipart.part_size;
        if buf.is_empty() {
            return Ok(0);
        }
        let n = buf.len().min(part_size - self.buffer.len());
        let needed = self.buffer.len() + n;
        if needed > self.buffer.capacity() {
            // Later parts are allocated whole; the first grows as the data comes, so that small
            // files stay small. Never beyond one part.
            let target = if self.parts > 0 {
                part_size
            } else {
                needed.max(self.buffer.capacity() * 2).min(part_size)
            };
            self.buffer.reserve_exact(target - self.buffer.len());
        }
        self.buffer.extend_from_slice(&buf[..n]);
        self.checksum.update(&buf[..n]);
        if self.buffer.len() == part_size
            && let Err(e) = self.send_part()
        {
            let message = e.to_string();
            self.failed = Some(message.clone());
            return Err(io::Error::other(message));
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Parts are sent when full; flushing a partial part would break the part size rule.
        Ok(())
    }
}

impl Upload for ObjectUpload {
    fn key(&self) -> &StorageKey {
        &self.key
    }

    fn bytes_written(&self) -> u64 {
        self.checksum.size()
    }

    fn commit(mut self: Box<Self>) -> Result<StoredObject> {
        if let Some(reason) = self.failed.clone() {
            let _ = self.abort_writer();
            return Err(self.storage_error("commit", format!("an earlier write failed: {reason}")));
        }
        if self.finished {
            return Err(self.storage_error("commit", "the upload is already finished"));
        }
        self.finished = true;
        let inner = self.inner.clone();
        let last = Bytes::from(std::mem::take(&mut self.buffer));
        let done = match self.writer.take() {
            None => {
                // Smaller than one part: one plain PUT.
                let options = PutOptions::from(self.attributes());
                inner.block_on(
                    inner
                        .store
                        .put_opts(&self.path, PutPayload::from(last), options),
                )
            }
            Some(mut writer) => {
                if !last.is_empty() {
                    let _guard = inner.io.handle().enter();
                    writer.put(last);
                    self.parts += 1;
                }
                // `finish` aborts the upload itself when a part or the completion fails.
                inner.block_on(writer.finish())
            }
        };
        done.map_err(|e| self.storage_error("complete the upload of", e))?;
        let checksum = std::mem::take(&mut self.checksum);
        let (size, sha256) = checksum.finish();
        Ok(StoredObject {
            key: self.key.clone(),
            size,
            sha256,
            content_type: self.content_type.clone(),
        })
    }

    fn abort(mut self: Box<Self>) -> Result<()> {
        self.abort_writer()
    }
}

impl Drop for ObjectUpload {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        let Some(writer) = self.writer.take() else {
            return;
        };
        let io = &self.inner.io;
        if tokio::runtime::Handle::try_current().is_ok() {
            // Inside some runtime (an async host, a panic in a task): do not block its thread;
            // the abort finishes on the I/O runtime.
            io.handle().spawn(async move {
                let _ = writer.abort().await;
            });
        } else {
            let _ = io.block_on(writer.abort());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    fn storage(part_size: usize, max_parts_in_flight: usize) -> ObjectStorage {
        let multipart = MultipartOptions {
            part_size,
            max_parts_in_flight,
        };
        ObjectStorage::new(
            Arc::new(object_store::memory::InMemory::new()),
            "root",
            "memory://".into(),
            multipart,
            &IoRuntime::shared(),
        )
        .unwrap()
    }

    fn upload(storage: &ObjectStorage, key: &str) -> ObjectUpload {
        let key = StorageKey::parse(key).unwrap();
        ObjectUpload {
            inner: storage.inner.clone(),
            path: storage.inner.path(key.as_str()).unwrap(),
            key,
            content_type: "text/plain".into(),
            buffer: Vec::new(),
            writer: None,
            checksum: Checksum::default(),
            parts: 0,
            failed: None,
            finished: false,
        }
    }

    #[test]
    fn parts_are_cut_at_part_size() {
        let storage = storage(1000, 2);
        let mut up = upload(&storage, "a/b.bin");
        for _ in 0..35 {
            up.write_all(&[7u8; 100]).unwrap();
            assert!(up.buffer.len() < 1000, "a full part is sent at once");
            assert!(
                up.buffer.capacity() <= 1000,
                "never buffers more than one part"
            );
        }
        assert_eq!(up.parts, 3);
        assert_eq!(up.buffer.len(), 500);
        let parts = {
            let up = Box::new(up);
            let stored = up.commit().unwrap();
            assert_eq!(stored.size, 3500);
            stored
        };
        let info = storage.head(&parts.key).unwrap().unwrap();
        assert_eq!(info.size, 3500);
        assert_eq!(info.content_type.as_deref(), Some("text/plain"));
    }

    #[test]
    fn small_files_need_no_multipart() {
        let storage = storage(1000, 2);
        let mut up = upload(&storage, "small.txt");
        up.write_all(b"hello").unwrap();
        assert!(up.writer.is_none());
        Box::new(up).commit().unwrap();
        let listed = storage.list("").unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].key.as_str(), "small.txt");
    }

    #[test]
    fn a_write_larger_than_a_part_is_split() {
        let storage = storage(1000, 1);
        let mut up = upload(&storage, "big.bin");
        up.write_all(&vec![1u8; 4321]).unwrap();
        assert_eq!(up.parts, 4);
        assert_eq!(up.bytes_written(), 4321);
        let stored = Box::new(up).commit().unwrap();
        assert_eq!(stored.size, 4321);
        let mut bytes = Vec::new();
        storage
            .open(&stored.key)
            .unwrap()
            .read_to_end(&mut bytes)
            .unwrap();
        assert_eq!(bytes, vec![1u8; 4321]);
    }

    #[test]
    fn options_are_checked() {
        let ok = MultipartOptions::default();
        assert!(ok.validate(5 * 1024 * 1024).is_ok());
        let small = MultipartOptions {
            part_size: 1024,
            ..ok
        };
        let err = small.validate(5 * 1024 * 1024).unwrap_err();
        assert!(err.to_string().contains("part_size"), "{err}");
        let none = MultipartOptions {
            max_parts_in_flight: 0,
            ..ok
        };
        assert!(none.validate(1).is_err());
    }
}
