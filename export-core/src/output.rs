//! Local output files that become visible only when complete.
//!
//! An [`AtomicFile`] writes to a hidden temporary file in the destination's directory and
//! renames it over the destination on [`AtomicFile::commit`]. Dropped without a commit (an error,
//! a panic, a cancel), it removes the temporary file, so nothing half-written is ever visible at
//! the destination path.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{ExportError, Result};

/// How the temporary file of an [`AtomicFile`] ends: `.<name>.<random>.partial`, beside the
/// destination. A process killed mid-write leaves one behind;
/// [`Storage::sweep_abandoned`](crate::storage::Storage::sweep_abandoned) removes them.
pub const PARTIAL_SUFFIX: &str = ".partial";

/// A file written under a temporary name and renamed into place when complete.
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// let dir = tempfile::tempdir().unwrap();
/// let dest = dir.path().join("out.csv");
/// let mut file = export_core::output::AtomicFile::create(&dest).unwrap();
/// file.write_all(b"a,b\n").unwrap();
/// assert!(!dest.exists()); // not visible while being written
/// file.commit().unwrap();
/// assert_eq!(std::fs::read(&dest).unwrap(), b"a,b\n");
/// ```
#[derive(Debug)]
pub struct AtomicFile {
    temp: Option<tempfile::NamedTempFile>,
    dest: PathBuf,
}

impl AtomicFile {
    /// Opens a temporary file beside `dest` (same directory, so the final rename is atomic).
    ///
    /// # Errors
    ///
    /// [`ExportError::Io`] naming `dest` when its directory does not exist or is not writable.
    pub fn create(dest: impl AsRef<Path>) -> Result<AtomicFile> {
        let dest = dest.as_ref().to_path_buf();
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = dest
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("export");
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(PARTIAL_SUFFIX)
            .tempfile_in(&dir)
            .map_err(|e| ExportError::io(&dest, e))?;
        Ok(AtomicFile {
            temp: Some(temp),
            dest,
        })
    }

    /// The final path.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// The temporary path being written.
    pub fn temp_path(&self) -> Option<&Path> {
        self.temp.as_ref().map(|t| t.path())
    }

    /// Flushes, syncs and renames the file into place.
    ///
    /// # Errors
    ///
    /// [`ExportError::Io`] naming the destination when the sync or rename fails; the temporary
    /// file is removed in that case.
    pub fn commit(mut self) -> Result<PathBuf> {
        let temp = self.temp.take().ok_or(ExportError::SinkFinished)?;
        temp.as_file()
            .sync_all()
            .map_err(|e| ExportError::io(&self.dest, e))?;
        temp.persist(&self.dest)
            .map_err(|e| ExportError::io(&self.dest, e.error))?;
        Ok(self.dest.clone())
    }

    fn file(&mut self) -> io::Result<&mut File> {
        self.temp
            .as_mut()
            .map(|t| t.as_file_mut())
            .ok_or_else(|| io::Error::other("atomic file already committed"))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file()?.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file()?.flush()
    }
}

impl Seek for AtomicFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.file()?.seek(pos)
    }
}
