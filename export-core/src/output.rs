//! Local output files that become visible only when complete.
//!
//! An [`AtomicFile`] writes to a hidden temporary file in the destination's directory and
//! renames it over the destination on [`AtomicFile::commit`]. Dropped without a commit (an error,
//! a panic, a cancel), it removes the temporary file, so nothing half-written is ever visible at
//! the destination path.
//!
//! # What may be replaced
//!
//! The rename replaces a directory entry, whatever it is: run as root, publishing to `/dev/null`
//! would turn the device node into a regular file. So the destination must be missing or a
//! regular file; anything else (a FIFO, a character or block device, a directory, a socket) is
//! refused with [`ExportError::NotARegularFile`] naming the path and what is there, both when
//! the file is created and again just before the rename ([`check_destination`]).
//!
//! A symbolic link to a regular file is accepted, and the rename replaces **the link itself**
//! with the new file: the link's target is never written, so a link cannot redirect an export
//! onto a file elsewhere. A link to anything else, or to nothing, is refused.

use std::fs::{self, File};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

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
    ///
    /// [`ExportError::NotARegularFile`] when something other than a regular file (or a link to
    /// one) is at `dest`: see the [module documentation](self).
    pub fn create(dest: impl AsRef<Path>) -> Result<AtomicFile> {
        let dest = dest.as_ref().to_path_buf();
        check_destination(&dest)?;
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
    /// [`ExportError::Io`] naming the destination when the sync or rename fails, and
    /// [`ExportError::NotARegularFile`] when something else than a regular file appeared at the
    /// destination meanwhile; the temporary file is removed in both cases.
    pub fn commit(mut self) -> Result<PathBuf> {
        let temp = self.temp.take().ok_or(ExportError::SinkFinished)?;
        temp.as_file()
            .sync_all()
            .map_err(|e| ExportError::io(&self.dest, e))?;
        // Again: a long export leaves time for the destination to change.
        check_destination(&self.dest)?;
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

/// Checks that publishing to `dest` would replace nothing but a regular file: `dest` is missing,
/// a regular file, or a symbolic link to a regular file (the link is what gets replaced).
///
/// # Errors
///
/// [`ExportError::NotARegularFile`] naming `dest` and what is there (`FIFO`, `directory`,
/// `character device`, `block device`, `socket`, `symbolic link to a directory`, `dangling
/// symbolic link`, ...); [`ExportError::Io`] when `dest` cannot be examined.
///
/// # Examples
///
/// ```
/// use export_core::output::check_destination;
/// let dir = tempfile::tempdir().unwrap();
/// assert!(check_destination(dir.path().join("new.csv")).is_ok());
/// let err = check_destination(dir.path()).unwrap_err();
/// assert_eq!(err.code(), "NOT_A_REGULAR_FILE");
/// assert!(err.to_string().ends_with("it is a directory, not a regular file"), "{err}");
/// ```
pub fn check_destination(dest: impl AsRef<Path>) -> Result<()> {
    let dest = dest.as_ref();
    let refuse = |kind| {
        Err(ExportError::NotARegularFile {
            path: dest.to_path_buf(),
            kind,
        })
    };
    let meta = match fs::symlink_metadata(dest) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ExportError::io(dest, e)),
    };
    if meta.file_type().is_symlink() {
        return match fs::metadata(dest) {
            Ok(target) if target.is_file() => Ok(()),
            Ok(target) => refuse(match kind_of(&target.file_type()) {
                "directory" => "symbolic link to a directory",
                "FIFO" => "symbolic link to a FIFO",
                "character device" => "symbolic link to a character device",
                "block device" => "symbolic link to a block device",
                "socket" => "symbolic link to a socket",
                _ => "symbolic link to something other than a regular file",
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => refuse("dangling symbolic link"),
            Err(e) => Err(ExportError::io(dest, e)),
        };
    }
    match kind_of(&meta.file_type()) {
        "regular file" => Ok(()),
        kind => refuse(kind),
    }
}

/// What a file type is, in words.
fn kind_of(file_type: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "FIFO";
        }
        if file_type.is_char_device() {
            return "character device";
        }
        if file_type.is_block_device() {
            return "block device";
        }
        if file_type.is_socket() {
            return "socket";
        }
    }
    if file_type.is_file() {
        "regular file"
    } else if file_type.is_dir() {
        "directory"
    } else if file_type.is_symlink() {
        "symbolic link"
    } else {
        "special file"
    }
}

/// Refuses an output that is the input file: the same path once canonicalised, or (on Unix)
/// the same device and inode, as a hard link is. Publishing over the input would destroy the
/// data being read.
///
/// # Errors
///
/// [`ExportError::InvalidRequest`] with field `output` when both name one file;
/// [`ExportError::Io`] when an existing path cannot be examined. A missing `output` is never
/// the input.
///
/// # Examples
///
/// ```
/// use export_core::output::check_not_input;
/// let dir = tempfile::tempdir().unwrap();
/// let input = dir.path().join("trips.csv");
/// std::fs::write(&input, "a\n").unwrap();
/// let same = dir.path().join(".").join("trips.csv");
/// assert_eq!(check_not_input(&input, &same).unwrap_err().code(), "INVALID_REQUEST");
/// assert!(check_not_input(&input, dir.path().join("out.csv")).is_ok());
/// ```
pub fn check_not_input(input: impl AsRef<Path>, output: impl AsRef<Path>) -> Result<()> {
    let (input, output) = (input.as_ref(), output.as_ref());
    let meta = |path: &Path| match fs::metadata(path) {
        Ok(meta) => Ok(Some(meta)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ExportError::io(path, e)),
    };
    let (Some(in_meta), Some(out_meta)) = (meta(input)?, meta(output)?) else {
        return Ok(());
    };
    let same_path = match (fs::canonicalize(input), fs::canonicalize(output)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    #[cfg(unix)]
    let same_inode = {
        use std::os::unix::fs::MetadataExt;
        in_meta.dev() == out_meta.dev() && in_meta.ino() == out_meta.ino()
    };
    #[cfg(not(unix))]
    let same_inode = {
        let _ = (in_meta, out_meta);
        false
    };
    if same_path || same_inode {
        return Err(ExportError::request(
            "output",
            format!(
                "{} is the input file {}; write the export elsewhere",
                output.display(),
                input.display()
            ),
        ));
    }
    Ok(())
}

/// True when a directory entry is the temporary file of an [`AtomicFile`] (a hidden
/// `.<name>.<random>.partial` regular file, with `name` the destination's file name when
/// given) last written before `older_than`: an upload writes continuously, so an old
/// modification time means its writer is gone. Used by
/// [`Storage::sweep_abandoned`](crate::storage::Storage::sweep_abandoned) and
/// [`sweep_abandoned_partials`].
pub(crate) fn is_abandoned_partial(
    file_name: &str,
    dest_name: Option<&str>,
    meta: &fs::Metadata,
    older_than: SystemTime,
) -> bool {
    let own = match dest_name {
        // `.<name>.<random>.partial`, the random part having no dot: `.out.csv.x.partial`
        // belongs to `out.csv`, not to `out`.
        Some(name) => file_name
            .strip_prefix('.')
            .and_then(|rest| rest.strip_prefix(name))
            .and_then(|rest| rest.strip_prefix('.'))
            .and_then(|rest| rest.strip_suffix(PARTIAL_SUFFIX))
            .is_some_and(|random| !random.is_empty() && !random.contains('.')),
        None => file_name.starts_with('.'),
    };
    own && meta.is_file()
        && file_name.ends_with(PARTIAL_SUFFIX)
        && meta.modified().is_ok_and(|t| t < older_than)
}

/// Removes the temporary files that earlier [`AtomicFile`]s for `dest` left beside it when
/// their process was killed (`.<name>.<random>.partial`, the same name pattern), if last written
/// before `older_than`; returns how many were removed. Other files, and partials of other
/// names, are left alone. Best effort: a leftover that cannot be removed (another user's) is
/// skipped, since it must not stop a new export.
///
/// [`Exporter::run_to_path`](crate::export::Exporter::run_to_path) calls it with the
/// [`DEFAULT_ABANDONED_AFTER`](crate::retention::DEFAULT_ABANDONED_AFTER) cut-off that the
/// storage sweep uses.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use export_core::output::sweep_abandoned_partials;
/// let dir = tempfile::tempdir().unwrap();
/// let stale = dir.path().join(".out.csv.x1Yz.partial");
/// std::fs::write(&stale, "personal data").unwrap();
/// let a_day_ago = SystemTime::now() - Duration::from_secs(25 * 3600);
/// std::fs::File::options().write(true).open(&stale).unwrap().set_modified(a_day_ago).unwrap();
/// let cut_off = SystemTime::now() - Duration::from_secs(24 * 3600);
/// assert_eq!(sweep_abandoned_partials(dir.path().join("out.csv"), cut_off), 1);
/// assert!(!stale.exists());
/// ```
pub fn sweep_abandoned_partials(dest: impl AsRef<Path>, older_than: SystemTime) -> u64 {
    let dest = dest.as_ref();
    let Some(name) = dest.file_name().and_then(|n| n.to_str()) else {
        return 0;
    };
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let Some(file_name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        // DirEntry::metadata does not follow symbolic links: a link is never removed.
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        if is_abandoned_partial(&file_name, Some(name), &meta, older_than)
            && fs::remove_file(entry.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}
