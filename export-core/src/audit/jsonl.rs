//! [`JsonlAuditLog`]: audit events appended to a JSON Lines file.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{AuditEvent, AuditLog, AuditQuery, select};
use crate::error::{ExportError, Result};

/// An [`AuditLog`] appending one JSON object per line to a file, each event written with one
/// `write` call on a file opened in append mode and flushed before [`AuditLog::record`]
/// returns, so several processes may append to the same file. [`AuditLog::list`] reads the
/// file back (a last line cut short by a crash is ignored). Duplicate ids are not checked.
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
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| ExportError::io(&path, e))?;
        Ok(JsonlAuditLog {
            path,
            file: Mutex::new(file),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl AuditLog for JsonlAuditLog {
    fn record(&self, event: &AuditEvent) -> Result<()> {
        let mut line = serde_json::to_vec(event).map_err(|e| ExportError::Store {
            backend: "jsonl",
            reason: format!("cannot encode audit event: {e}"),
        })?;
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.write_all(&line)
            .and_then(|()| file.flush())
            .map_err(|e| ExportError::io(&self.path, e))
    }

    fn list(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        query.check()?;
        let file = File::open(&self.path).map_err(|e| ExportError::io(&self.path, e))?;
        let mut reader = BufReader::new(file);
        let mut events = Vec::new();
        let mut line = String::new();
        let mut number = 0u64;
        loop {
            line.clear();
            let read = reader
                .read_line(&mut line)
                .map_err(|e| ExportError::io(&self.path, e))?;
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
        Ok(select(events.into_iter(), query))
    }
}
