//! [`JsonlAuditLog`]: audit events appended to a JSON Lines file.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{AuditEvent, AuditLog, AuditQuery, Pseudonymiser, pseudonymise_all, select};
use crate::error::{ExportError, Result};

/// An [`AuditLog`] appending one JSON object per line to a file, each event written with one
/// `write` call on a file opened in append mode and flushed before [`AuditLog::record`]
/// returns, so several processes may append to the same file. [`AuditLog::list`] reads the
/// file back (a last line cut short by a crash is ignored). Duplicate ids are not checked.
///
/// [`AuditLog::pseudonymise_jobs`] and [`AuditLog::delete_before`] rewrite the file whole: a
/// new file beside it, synced, renamed over it, so the old bytes are in no file any more and a
/// crash leaves the old or the new log, never a mix. Appends and rewrites take an exclusive
/// lock on the file (advisory, `flock`-style) and an appender whose file was replaced reopens
/// the path, so appenders in other processes never write into the replaced file.
///
/// # Examples
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use export_core::audit::{AuditAction, AuditEvent, AuditLog, AuditQuery, JsonlAuditLog};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("audit.jsonl");
/// let log = JsonlAuditLog::open(&path)?;
/// let event = AuditEvent::new(AuditAction::Delete, "u-1", None, Utc.with_ymd_and_hms(2026, 11, 3, 8, 0, 0).unwrap());
/// log.record(&event)?;
/// assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
/// assert_eq!(log.list(&AuditQuery::default())?, vec![event]);
/// # Ok::<(), export_core::ExportError>(())
/// ```
#[derive(Debug)]
pub struct JsonlAuditLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl JsonlAuditLog {
    /// Opens `path` for appending, creating it if needed.
    ///
    /// # Errors
    ///
    /// [`ExportError::Io`] when the file cannot be opened.
    pub fn open(path: impl AsRef<Path>) -> Result<JsonlAuditLog> {
        let path = path.as_ref().to_path_buf();
        let file = open_append(&path)?;
        Ok(JsonlAuditLog {
            path,
            file: Mutex::new(file),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, e: std::io::Error) -> ExportError {
        ExportError::io(&self.path, e)
    }

    /// The open file, locked, and still the one at the path (reopened when a rewrite by this or
    /// another process replaced it). Unlock with `File::unlock` or by dropping the handle.
    fn locked(&self) -> Result<MutexGuard<'_, File>> {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            File::lock(&file).map_err(|e| self.io(e))?;
            match is_current(&file, &self.path) {
                Ok(true) => return Ok(file),
                Ok(false) => {}
                Err(e) => {
                    let _ = File::unlock(&file);
                    return Err(self.io(e));
                }
            }
            let _ = File::unlock(&file);
            *file = open_append(&self.path)?;
        }
    }

    /// Every event in the file, in file order.
    fn read_all(&self) -> Result<Vec<AuditEvent>> {
        let file = File::open(&self.path).map_err(|e| self.io(e))?;
        let mut reader = BufReader::new(file);
        let mut events = Vec::new();
        let mut line = String::new();
        let mut number = 0u64;
        loop {
            line.clear();
            let read = reader.read_line(&mut line).map_err(|e| self.io(e))?;
            if read == 0 {
                break;
            }
            number += 1;
            if !line.ends_with('\n') {
                break; // an append cut short by a crash
            }
            if line.trim().is_empty() {
                continue;
            }
            let event: AuditEvent =
                serde_json::from_str(&line).map_err(|e| ExportError::InvalidInput {
                    source_name: self.path.display().to_string(),
                    line: Some(number),
                    reason: format!("not an audit event: {e}"),
                })?;
            events.push(event);
        }
        Ok(events)
    }

    /// Applies `change` to every event and, when it changed some (its answer), replaces the
    /// file by one holding the result: written beside it, synced, renamed over it.
    fn rewrite(&self, change: impl FnOnce(&mut Vec<AuditEvent>) -> u64) -> Result<u64> {
        let mut file = self.locked()?;
        let out = self.rewrite_locked(&mut file, change);
        // On success the handle is the new file's, unlocked already: this is then a no-op.
        let _ = File::unlock(&file);
        out
    }

    fn rewrite_locked(
        &self,
        file: &mut File,
        change: impl FnOnce(&mut Vec<AuditEvent>) -> u64,
    ) -> Result<u64> {
        let mut events = self.read_all()?;
        let changed = change(&mut events);
        if changed == 0 {
            return Ok(0);
        }
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let temp = tempfile::Builder::new()
            .prefix(".audit-rewrite-")
            .tempfile_in(dir)
            .map_err(|e| self.io(e))?;
        let permissions = file.metadata().map_err(|e| self.io(e))?.permissions();
        {
            let mut out = BufWriter::new(temp.as_file());
            for event in &events {
                out.write_all(&encode(event)?).map_err(|e| self.io(e))?;
            }
            out.flush().map_err(|e| self.io(e))?;
        }
        temp.as_file()
            .set_permissions(permissions)
            .and_then(|()| temp.as_file().sync_all())
            .map_err(|e| self.io(e))?;
        temp.persist(&self.path).map_err(|e| self.io(e.error))?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all(); // the rename itself, on file systems that need it
        }
        // Dropping the old handle releases its lock: waiting appenders then see the new file.
        *file = open_append(&self.path)?;
        Ok(changed)
    }
}

fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| ExportError::io(path, e))
}

fn encode(event: &AuditEvent) -> Result<Vec<u8>> {
    let mut line = serde_json::to_vec(event)
        .map_err(|e| ExportError::store("jsonl", format!("cannot encode audit event: {e}")))?;
    line.push(b'\n');
    Ok(line)
}

/// True when `file` is the file now at `path` (false when a rewrite replaced it or it is gone).
#[cfg(unix)]
fn is_current(file: &File, path: &Path) -> std::io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let open = file.metadata()?;
    match std::fs::metadata(path) {
        Ok(now) => Ok(open.dev() == now.dev() && open.ino() == now.ino()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Elsewhere a file open for appending cannot be replaced: it is the one at the path.
#[cfg(not(unix))]
fn is_current(_file: &File, _path: &Path) -> std::io::Result<bool> {
    Ok(true)
}

impl AuditLog for JsonlAuditLog {
    fn record(&self, event: &AuditEvent) -> Result<()> {
        let line = encode(event)?;
        let mut file = self.locked()?;
        let written = file.write_all(&line).and_then(|()| file.flush());
        let _ = File::unlock(&file);
        written.map_err(|e| self.io(e))
    }

    fn list(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        query.check()?;
        Ok(select(self.read_all()?.into_iter(), query))
    }

    fn pseudonymise_jobs(&self, jobs: &[Uuid], pseudonymiser: &Pseudonymiser) -> Result<u64> {
        self.rewrite(|events| pseudonymise_all(events.iter_mut(), jobs, pseudonymiser))
    }

    fn delete_before(&self, before: DateTime<Utc>) -> Result<u64> {
        self.rewrite(|events| {
            let len = events.len();
            events.retain(|e| e.at >= before);
            (len - events.len()) as u64
        })
    }
}
