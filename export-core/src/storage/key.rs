//! [`StorageKey`]: the validated, relative name of a stored file.
//!
//! Keys are built by the library ([`StorageKey::for_export`]) or parsed from text
//! ([`StorageKey::parse`]); either way they are checked once, so that no storage backend ever
//! joins an unchecked name into a filesystem path or an object URL.

use std::fmt;

use chrono::{DateTime, Datelike, Utc};
use uuid::Uuid;

use crate::error::{ExportError, Result};

/// The longest key accepted, in bytes (the S3 limit).
pub const MAX_KEY_LEN: usize = 1024;

/// The longest segment (one name between slashes) accepted, in bytes (common filesystem limit).
pub const MAX_SEGMENT_LEN: usize = 255;

/// A validated, relative storage key such as `exports/2026/11/<job-uuid>/trips-2026-10.csv`.
///
/// A key is a non-empty list of segments joined by `/`. It never starts with `/`, never contains
/// `.` or `..` segments, empty segments, backslashes or control characters, no segment starts with
/// `.` (hidden names are reserved for in-progress uploads), and it is at most [`MAX_KEY_LEN`] bytes
/// long with segments of at most [`MAX_SEGMENT_LEN`] bytes.
///
/// # Examples
///
/// ```
/// use export_core::storage::StorageKey;
/// let key = StorageKey::parse("exports/2026/11/report.csv").unwrap();
/// assert_eq!(key.as_str(), "exports/2026/11/report.csv");
/// assert_eq!(key.file_name(), "report.csv");
/// assert!(StorageKey::parse("../etc/passwd").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StorageKey(String);

impl StorageKey {
    /// Parses and validates a key given as text (by a user, a configuration or a job record).
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] with field `key` when the text is empty, longer than
    /// [`MAX_KEY_LEN`] bytes, starts with `/`, or contains a backslash, a control character, an
    /// empty segment (`a//b`, a trailing `/`), a `.` or `..` segment, a segment starting with `.`,
    /// or a segment longer than [`MAX_SEGMENT_LEN`] bytes. The message quotes the key.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::storage::StorageKey;
    /// let err = StorageKey::parse("exports/../../secret").unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "invalid `key`: \"exports/../../secret\" contains a `..` segment (path traversal is not allowed)"
    /// );
    /// ```
    pub fn parse(text: &str) -> Result<StorageKey> {
        validate("key", text, true)?;
        Ok(StorageKey(text.to_owned()))
    }

    /// The key of an export's file: `exports/YYYY/MM/<job-uuid>/<file_name>`, with the year and
    /// month of `created` (UTC).
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] with field `file_name` when `file_name` is not a single
    /// valid segment: empty, containing `/`, `\`, a control character, equal to `.` or `..`,
    /// starting with `.`, or longer than [`MAX_SEGMENT_LEN`] bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use export_core::storage::StorageKey;
    /// let job = uuid::Uuid::parse_str("6f1c2a9e-4b7d-4e0a-9a51-0c2d3e4f5a6b").unwrap();
    /// let created = Utc.with_ymd_and_hms(2026, 11, 3, 8, 0, 0).unwrap();
    /// let key = StorageKey::for_export(job, created, "trips-v3-opendata-2026-10.xlsx").unwrap();
    /// assert_eq!(
    ///     key.as_str(),
    ///     "exports/2026/11/6f1c2a9e-4b7d-4e0a-9a51-0c2d3e4f5a6b/trips-v3-opendata-2026-10.xlsx"
    /// );
    /// assert!(StorageKey::for_export(job, created, "../x.csv").is_err());
    /// ```
    pub fn for_export(job_id: Uuid, created: DateTime<Utc>, file_name: &str) -> Result<StorageKey> {
        validate("file_name", file_name, false)?;
        let key = format!(
            "exports/{:04}/{:02}/{}/{}",
            created.year(),
            created.month(),
            job_id.hyphenated(),
            file_name
        );
        validate("file_name", &key, true)?;
        Ok(StorageKey(key))
    }

    /// Appends one segment (a file or folder name) to this key.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] with field `file_name` when `name` is not a single valid
    /// segment, or field `key` when the result would be longer than [`MAX_KEY_LEN`] bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::storage::StorageKey;
    /// let dir = StorageKey::parse("exports/monthly").unwrap();
    /// assert_eq!(dir.join("2026-10.csv").unwrap().as_str(), "exports/monthly/2026-10.csv");
    /// assert!(dir.join("a/b").is_err());
    /// ```
    pub fn join(&self, name: &str) -> Result<StorageKey> {
        validate("file_name", name, false)?;
        let key = format!("{}/{}", self.0, name);
        validate("key", &key, true)?;
        Ok(StorageKey(key))
    }

    /// The key as text, segments separated by `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment (the file name).
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The segments of the key, in order.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

impl fmt::Display for StorageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for StorageKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for StorageKey {
    type Err = ExportError;
    fn from_str(s: &str) -> Result<Self> {
        StorageKey::parse(s)
    }
}

/// Checks a listing prefix: empty (everything) or a key, optionally with one trailing `/`.
pub(crate) fn validate_prefix(prefix: &str) -> Result<&str> {
    let trimmed = prefix.strip_suffix('/').unwrap_or(prefix);
    if trimmed.is_empty() {
        if prefix.is_empty() {
            return Ok("");
        }
        return Err(ExportError::request(
            "prefix",
            format!("{prefix:?} is not a valid prefix (use \"\" to list everything)"),
        ));
    }
    validate("prefix", trimmed, true)?;
    Ok(trimmed)
}

/// Validates `text` as a key (`multi` segments allowed) or as one segment.
fn validate(field: &'static str, text: &str, multi: bool) -> Result<()> {
    let bad = |reason: String| Err(ExportError::request(field, format!("{text:?} {reason}")));
    if text.is_empty() {
        return Err(ExportError::request(field, "must not be empty"));
    }
    if text.len() > MAX_KEY_LEN {
        return bad(format!(
            "is {} bytes long, more than the {MAX_KEY_LEN} allowed",
            text.len()
        ));
    }
    if text.starts_with('/') {
        return bad("starts with `/` (keys are relative)".into());
    }
    if text.contains('\\') {
        return bad("contains a backslash".into());
    }
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return bad(format!("contains the control character {c:?}"));
    }
    if !multi && text.contains('/') {
        return bad("contains `/` (a file name is a single segment)".into());
    }
    for segment in text.split('/') {
        match segment {
            ".." => return bad("contains a `..` segment (path traversal is not allowed)".into()),
            "." => return bad("contains a `.` segment".into()),
            "" => return bad("contains an empty segment (`//` or a trailing `/`)".into()),
            s if s.starts_with('.') => {
                return bad(format!(
                    "has a segment {s:?} starting with `.` (reserved for uploads in progress)"
                ));
            }
            s if s.len() > MAX_SEGMENT_LEN => {
                return bad(format!(
                    "has a segment of {} bytes, more than the {MAX_SEGMENT_LEN} allowed",
                    s.len()
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(validate_prefix("").unwrap(), "");
        assert_eq!(validate_prefix("exports/").unwrap(), "exports");
        assert_eq!(validate_prefix("exports/2026").unwrap(), "exports/2026");
        assert!(validate_prefix("/").is_err());
        assert!(validate_prefix("../").is_err());
    }

    #[test]
    fn file_name_and_segments() {
        let key = StorageKey::parse("a/b/c.csv").unwrap();
        assert_eq!(key.file_name(), "c.csv");
        assert_eq!(key.segments().collect::<Vec<_>>(), ["a", "b", "c.csv"]);
        assert_eq!("a/b".parse::<StorageKey>().unwrap().as_str(), "a/b");
    }
}
