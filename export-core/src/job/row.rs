//! Decoding a stored row into an [`ExportJob`], shared by the SQL stores.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{ExportJob, JobError, JobResult, JobStatus, Lease, Owner, Progress};
use crate::error::{ExportError, Result};

/// A row's values before decoding, shared by the SQL stores.
pub(crate) struct RawJob<'a> {
    pub id: &'a str,
    pub owner: Owner,
    pub request: &'a str,
    pub status: &'a str,
    pub rows_done: u64,
    pub rows_expected: Option<u64>,
    pub created_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub not_before: Option<DateTime<Utc>>,
    pub attempts: i64,
    pub max_attempts: i64,
    pub retention_seconds: Option<i64>,
    pub lease: (Option<String>, Option<DateTime<Utc>>),
    pub cancel_requested: bool,
    #[allow(clippy::type_complexity)]
    pub result: (
        Option<String>,
        Option<u64>,
        Option<u64>,
        Option<String>,
        Option<String>,
        Option<String>,
    ),
    pub error: (Option<String>, Option<String>),
    pub schedule_id: Option<String>,
}

impl RawJob<'_> {
    /// Decodes the row, naming the job and the bad column on failure.
    pub(crate) fn decode(self, backend: &'static str) -> Result<ExportJob> {
        let id_text = self.id;
        let bad = |what: String| {
            ExportError::store(
                backend,
                format!("job `{id_text}` has an unreadable row: {what}"),
            )
        };
        let id = Uuid::parse_str(self.id).map_err(|e| bad(format!("id: {e}")))?;
        let request =
            serde_json::from_str(self.request).map_err(|e| bad(format!("request: {e}")))?;
        let status: JobStatus = self
            .status
            .parse()
            .map_err(|_| bad(format!("status `{}`", self.status)))?;
        let created_at = self
            .created_at
            .ok_or_else(|| bad("created_at is null".into()))?;
        let attempts =
            u32::try_from(self.attempts).map_err(|_| bad(format!("attempts {}", self.attempts)))?;
        let max_attempts = u32::try_from(self.max_attempts)
            .map_err(|_| bad(format!("max_attempts {}", self.max_attempts)))?;
        let retention = self
            .retention_seconds
            .map(|s| Duration::try_seconds(s).ok_or_else(|| bad(format!("retention {s}"))))
            .transpose()?;
        let lease = match self.lease {
            (Some(worker_id), Some(until)) => Some(Lease { worker_id, until }),
            (None, None) => None,
            _ => return Err(bad("half a lease (worker without expiry or back)".into())),
        };
        let result = match self.result {
            (None, None, None, None, None, None) => None,
            (
                Some(storage_key),
                Some(size_bytes),
                Some(rows),
                Some(sha256),
                Some(file_name),
                Some(content_type),
            ) => Some(JobResult {
                storage_key,
                size_bytes,
                rows,
                sha256,
                file_name,
                content_type,
            }),
            _ => return Err(bad("incomplete result columns".into())),
        };
        let error = match self.error {
            (Some(kind), message) => Some(JobError {
                kind,
                message: message.unwrap_or_default(),
            }),
            (None, _) => None,
        };
        Ok(ExportJob {
            id,
            owner: self.owner,
            request,
            status,
            progress: Progress::new(self.rows_done, self.rows_expected),
            created_at,
            started_at: self.started_at,
            heartbeat_at: self.heartbeat_at,
            finished_at: self.finished_at,
            expires_at: self.expires_at,
            not_before: self.not_before,
            attempts,
            max_attempts,
            retention,
            lease,
            cancel_requested: self.cancel_requested,
            result,
            error,
            schedule_id: self.schedule_id,
        })
    }
}
