//! [`LocalStorage`]: files in a local directory, the default storage.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

use super::key::validate_prefix;
use super::{
    Checksum, Download, ObjectInfo, Storage, StorageKey, StoredObject, Upload, check_content_type,
    check_expiry, content_type_for, not_found,
};
use crate::error::{ExportError, Result};
use crate::output::{AtomicFile, is_abandoned_partial};
use crate::runtime::IoRuntime;

/// Files in a local directory: key `exports/2026/11/x.csv` is the file
/// `<root>/exports/2026/11/x.csv`.
///
/// An upload writes a hidden temporary file (`.x.csv.<random>.partial`) in the destination's
/// directory and renames it into place at the commit (see [`AtomicFile`]). Keys are validated
/// [`StorageKey`]s joined segment by segment, so no path ever leaves the root. The content type is
/// not stored: [`Storage::open`] and [`Storage::head`] derive it from the file extension with
/// [`content_type_for`]. Signed URLs do not exist here ([`Storage::signed_url`] returns `None`):
/// serve files with [`Storage::open`]. The root is expected to be managed by this storage alone
/// (symbolic links placed inside it by someone else are followed).
///
/// All file I/O is synchronous `std::fs`, done on the calling thread (a worker or a blocking
/// thread); no runtime is involved, except for [`Download::into_async_stream`], which reads the
/// file in chunks on the blocking pool of the storage's [`IoRuntime`] (given with
/// [`LocalStorage::with_runtime`], [`IoRuntime::shared`] otherwise, started only then).
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use export_core::storage::{LocalStorage, Storage, StorageKey};
/// let dir = tempfile::tempdir().unwrap();
/// let storage = LocalStorage::new(dir.path()).unwrap();
/// let key = StorageKey::parse("exports/a.csv").unwrap();
/// let mut upload = storage.create(&key, "text/csv; charset=utf-8").unwrap();
/// upload.write_all(b"x\n").unwrap();
/// upload.commit().unwrap();
/// assert_eq!(std::fs::read(dir.path().join("exports/a.csv")).unwrap(), b"x\n");
/// assert_eq!(storage.list("exports").unwrap()[0].key, key);
/// ```
#[derive(Clone, Debug)]
pub struct LocalStorage {
    root: PathBuf,
    /// The runtime for the async streams of downloads; `None` for [`IoRuntime::shared`].
    io: Option<IoRuntime>,
}

impl LocalStorage {
    /// A storage in the directory `root`, created (with its parents) if missing.
    ///
    /// # Errors
    ///
    /// [`ExportError::Io`] naming `root` when it cannot be created or is not a directory.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let storage = export_core::storage::LocalStorage::new(dir.path().join("exports")).unwrap();
    /// assert!(storage.root().is_dir());
    /// ```
    pub fn new(root: impl Into<PathBuf>) -> Result<LocalStorage> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| ExportError::io(&root, e))?;
        let root = fs::canonicalize(&root).map_err(|e| ExportError::io(&root, e))?;
        if !root.is_dir() {
            return Err(ExportError::io(
                &root,
                io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
            ));
        }
        Ok(LocalStorage { root, io: None })
    }

    /// As [`LocalStorage::new`], with the async streams of downloads read on `io`'s blocking
    /// pool (an engine's runtime).
    ///
    /// # Errors
    ///
    /// As [`LocalStorage::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::runtime::IoRuntime;
    /// let dir = tempfile::tempdir().unwrap();
    /// let io = IoRuntime::new(1).unwrap();
    /// let storage = export_core::storage::LocalStorage::with_runtime(dir.path(), &io).unwrap();
    /// assert!(storage.root().is_dir());
    /// ```
    pub fn with_runtime(root: impl Into<PathBuf>, io: &IoRuntime) -> Result<LocalStorage> {
        let mut storage = LocalStorage::new(root)?;
        storage.io = Some(io.clone());
        Ok(storage)
    }

    /// The directory files are stored in (canonical).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of the file for `key` (which may not exist), for servers that send files
    /// themselves.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::storage::{LocalStorage, StorageKey};
    /// let dir = tempfile::tempdir().unwrap();
    /// let storage = LocalStorage::new(dir.path()).unwrap();
    /// let key = StorageKey::parse("a/b.csv").unwrap();
    /// assert_eq!(storage.path_of(&key), storage.root().join("a").join("b.csv"));
    /// ```
    pub fn path_of(&self, key: &StorageKey) -> PathBuf {
        let mut path = self.root.clone();
        path.extend(key.segments());
        path
    }

    fn info(&self, key: StorageKey, meta: &fs::Metadata) -> ObjectInfo {
        ObjectInfo {
            size: meta.len(),
            last_modified: meta.modified().ok().map(DateTime::<Utc>::from),
            content_type: Some(content_type_for(key.file_name()).to_owned()),
            e_tag: None,
            key,
        }
    }

    /// Removes the empty directories from `dir` up to (not including) the root.
    fn remove_empty_parents(&self, mut dir: Option<&Path>) {
        while let Some(d) = dir {
            if d == self.root || !d.starts_with(&self.root) || fs::remove_dir(d).is_err() {
                return;
            }
            dir = d.parent();
        }
    }

    /// Walks `dir`, adding the regular, non-hidden files to `out`.
    fn walk(&self, dir: &Path, prefix: &str, out: &mut Vec<ObjectInfo>) -> Result<()> {
        for (entry, name) in entries(dir)? {
            if name.starts_with('.') {
                continue; // uploads in progress
            }
            let key_text = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let file_type = entry
                .file_type()
                .map_err(|e| ExportError::io(entry.path(), e))?;
            if file_type.is_dir() {
                self.walk(&entry.path(), &key_text, out)?;
            } else if file_type.is_file()
                && let Ok(key) = StorageKey::parse(&key_text)
            {
                let meta = entry
                    .metadata()
                    .map_err(|e| ExportError::io(entry.path(), e))?;
                out.push(self.info(key, &meta));
            }
        }
        Ok(())
    }

    /// Removes the temporary files of uploads below `dir` last written before `older_than`.
    fn sweep(&self, dir: &Path, older_than: SystemTime, removed: &mut u64) -> Result<()> {
        for (entry, name) in entries(dir)? {
            let path = entry.path();
            let meta = entry.metadata().map_err(|e| ExportError::io(&path, e))?;
            if meta.is_dir() {
                self.sweep(&path, older_than, removed)?;
            } else if is_abandoned_partial(&name, None, &meta, older_than) {
                match fs::remove_file(&path) {
                    Ok(()) => *removed += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(ExportError::io(&path, e)),
                }
                self.remove_empty_parents(path.parent());
            }
        }
        Ok(())
    }
}

/// The entries of `dir` with UTF-8 names (none when `dir` does not exist).
fn entries(dir: &Path) -> Result<Vec<(fs::DirEntry, String)>> {
    let read = match fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ExportError::io(dir, e)),
    };
    let mut out = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| ExportError::io(dir, e))?;
        if let Some(name) = entry.file_name().to_str().map(str::to_owned) {
            out.push((entry, name));
        }
    }
    Ok(out)
}

impl Storage for LocalStorage {
    fn url(&self) -> String {
        url::Url::from_directory_path(&self.root)
            .map(|u| u.to_string())
            .unwrap_or_else(|()| format!("file://{}", self.root.display()))
    }

    fn check(&self) -> Result<()> {
        let meta = fs::metadata(&self.root).map_err(|e| ExportError::io(&self.root, e))?;
        if !meta.is_dir() {
            return Err(ExportError::io(
                &self.root,
                io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
            ));
        }
        Ok(())
    }

    fn create(&self, key: &StorageKey, content_type: &str) -> Result<Box<dyn Upload>> {
        check_content_type(content_type)?;
        let dest = self.path_of(key);
        let dir = dest.parent().unwrap_or(&self.root).to_path_buf();
        // A concurrent delete may remove an emptied directory between the two steps: retry once.
        let mut attempt = 0;
        let file = loop {
            fs::create_dir_all(&dir).map_err(|e| ExportError::io(&dir, e))?;
            match AtomicFile::create(&dest) {
                Ok(file) => break file,
                Err(ExportError::Io { source, .. })
                    if source.kind() == io::ErrorKind::NotFound && attempt == 0 =>
                {
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        };
        Ok(Box::new(LocalUpload {
            file: Some(BufWriter::with_capacity(64 * 1024, file)),
            key: key.clone(),
            content_type: content_type.to_owned(),
            checksum: Checksum::default(),
            storage: self.clone(),
        }))
    }

    fn open(&self, key: &StorageKey) -> Result<Download> {
        let path = self.path_of(key);
        let file = match fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(not_found(key)),
            Err(e) => return Err(ExportError::io(&path, e)),
        };
        let meta = file.metadata().map_err(|e| ExportError::io(&path, e))?;
        if !meta.is_file() {
            return Err(not_found(key));
        }
        let download = Download::from_reader(
            io::BufReader::with_capacity(64 * 1024, file),
            meta.len(),
            content_type_for(key.file_name()),
        );
        Ok(match &self.io {
            Some(io) => download.with_runtime(io),
            None => download,
        })
    }

    fn head(&self, key: &StorageKey) -> Result<Option<ObjectInfo>> {
        let path = self.path_of(key);
        match fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(Some(self.info(key.clone(), &meta))),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ExportError::io(&path, e)),
        }
    }

    fn delete(&self, key: &StorageKey) -> Result<bool> {
        let path = self.path_of(key);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => return Ok(false),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(ExportError::io(&path, e)),
        }
        match fs::remove_file(&path) {
            Ok(()) => {
                self.remove_empty_parents(path.parent());
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(ExportError::io(&path, e)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let prefix = validate_prefix(prefix)?;
        let mut dir = self.root.clone();
        if !prefix.is_empty() {
            dir.extend(prefix.split('/'));
        }
        let mut out = Vec::new();
        self.walk(&dir, prefix, &mut out)?;
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn sweep_abandoned(&self, older_than: DateTime<Utc>) -> Result<u64> {
        let mut removed = 0;
        self.sweep(&self.root, older_than.into(), &mut removed)?;
        Ok(removed)
    }

    fn signed_url(&self, key: &StorageKey, expires_in: Duration) -> Result<Option<String>> {
        check_expiry(expires_in)?;
        if self.head(key)?.is_none() {
            return Err(not_found(key));
        }
        Ok(None)
    }
}

/// An upload to a local file: a hidden temporary file renamed at the commit.
struct LocalUpload {
    /// `None` once committed or aborted; dropping it removes the temporary file.
    file: Option<BufWriter<AtomicFile>>,
    key: StorageKey,
    content_type: String,
    checksum: Checksum,
    storage: LocalStorage,
}

impl LocalUpload {
    fn cleanup(&mut self) {
        if let Some(file) = self.file.take() {
            let dir = file.get_ref().dest().parent().map(Path::to_path_buf);
            // Dropping the AtomicFile removes the temporary file.
            drop(file);
            self.storage.remove_empty_parents(dir.as_deref());
        }
    }
}

impl Write for LocalUpload {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("upload already finished"))?;
        let n = file.write(buf)?;
        self.checksum.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

impl Upload for LocalUpload {
    fn key(&self) -> &StorageKey {
        &self.key
    }

    fn bytes_written(&self) -> u64 {
        self.checksum.size()
    }

    fn commit(mut self: Box<Self>) -> Result<StoredObject> {
        let file = self.file.take().ok_or(ExportError::SinkFinished)?;
        let dest = file.get_ref().dest().to_path_buf();
        let file = file
            .into_inner()
            .map_err(|e| ExportError::io(&dest, e.into_error()))?;
        file.commit()?;
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
        self.cleanup();
        Ok(())
    }
}

impl Drop for LocalUpload {
    fn drop(&mut self) {
        self.cleanup();
    }
}
