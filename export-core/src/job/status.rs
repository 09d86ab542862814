//! The status of a job and the one pure function that says which moves are allowed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{ExportError, Result};

/// Where a job is in its lifecycle.
///
/// Serialised in lower case (`"pending"`, `"running"`, ...), as stored in the job stores.
///
/// # Examples
///
/// ```
/// use export_core::job::JobStatus;
/// let status: JobStatus = "running".parse().unwrap();
/// assert_eq!(status, JobStatus::Running);
/// assert_eq!(status.to_string(), "running");
/// assert!(!status.is_terminal());
/// assert!("paused".parse::<JobStatus>().is_err());
/// ```
///
/// ```text
///             claim               succeed
///   Pending ─────────▶ Running ───────────▶ Succeeded ──┐
///     │  ▲               │  │    fail                   │ expire
///     │  └───── retry ───┘  ├───────────────▶ Failed ───┼────────▶ Expired
///     │ cancel              │ cancel                    │
///     └─────────────────────┴───────────────▶ Cancelled ┘
/// ```
///
/// Every store changes a job's status only through [`transition`] (or [`check_transition`]), so
/// the table below is the whole truth about the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Waiting for a worker (new, or back after a failed attempt or a lost lease).
    Pending,
    /// Claimed by a worker that holds its lease.
    Running,
    /// Finished; the file is published.
    Succeeded,
    /// Finished without a file, with no attempt left (or a non-retryable error).
    Failed,
    /// Stopped on request.
    Cancelled,
    /// Past its retention: the file is gone and the job may be anonymised.
    Expired,
}

impl JobStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [JobStatus; 6] = [
        JobStatus::Pending,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Cancelled,
        JobStatus::Expired,
    ];

    /// The lower-case name used in JSON, the stores and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
            JobStatus::Expired => "expired",
        }
    }

    /// True when no worker will touch the job again: succeeded, failed, cancelled or expired.
    pub fn is_terminal(self) -> bool {
        !matches!(self, JobStatus::Pending | JobStatus::Running)
    }

    /// True for the finished states that retention may expire: succeeded, failed, cancelled.
    pub fn is_expirable(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
        )
    }

    /// True when a job may move from `self` to `to` (the transition table, nothing else).
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::job::JobStatus::*;
    /// assert!(Pending.can_become(Running));
    /// assert!(Running.can_become(Pending)); // retry or lease reclaimed
    /// assert!(!Succeeded.can_become(Running));
    /// assert!(!Pending.can_become(Pending));
    /// ```
    pub fn can_become(self, to: JobStatus) -> bool {
        use JobStatus::*;
        matches!(
            (self, to),
            (Pending, Running)
                | (Pending, Cancelled)
                | (Running, Succeeded)
                | (Running, Failed)
                | (Running, Cancelled)
                | (Running, Pending)
                | (Succeeded, Expired)
                | (Failed, Expired)
                | (Cancelled, Expired)
        )
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = ExportError;

    /// Parses a status name, ignoring ASCII case.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] on field `status` listing the valid names.
    fn from_str(s: &str) -> Result<Self> {
        JobStatus::ALL
            .into_iter()
            .find(|status| status.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let valid: Vec<&str> = JobStatus::ALL.iter().map(|s| s.as_str()).collect();
                ExportError::request(
                    "status",
                    format!(
                        "unknown status `{s}`; expected one of: {}",
                        valid.join(", ")
                    ),
                )
            })
    }
}

/// Something that happens to a job; [`transition`] turns it into the next status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobEvent {
    /// A worker takes a pending job: Pending → Running.
    Claim,
    /// The worker published the file: Running → Succeeded.
    Succeed,
    /// The attempt failed and no retry follows: Running → Failed.
    Fail,
    /// The attempt failed or its lease ran out, and another attempt follows: Running → Pending.
    Retry,
    /// The job is stopped on request: Pending → Cancelled, or Running → Cancelled once the worker
    /// has stopped.
    Cancel,
    /// Retention is over: Succeeded, Failed or Cancelled → Expired.
    Expire,
}

impl JobEvent {
    /// The lower-case name used in JSON and as the `event` of [`ExportError::InvalidState`].
    pub fn as_str(self) -> &'static str {
        match self {
            JobEvent::Claim => "claim",
            JobEvent::Succeed => "succeed",
            JobEvent::Fail => "fail",
            JobEvent::Retry => "retry",
            JobEvent::Cancel => "cancel",
            JobEvent::Expire => "expire",
        }
    }

    /// The status this event leads to (whether it may happen depends on the current status).
    pub fn target(self) -> JobStatus {
        match self {
            JobEvent::Claim => JobStatus::Running,
            JobEvent::Succeed => JobStatus::Succeeded,
            JobEvent::Fail => JobStatus::Failed,
            JobEvent::Retry => JobStatus::Pending,
            JobEvent::Cancel => JobStatus::Cancelled,
            JobEvent::Expire => JobStatus::Expired,
        }
    }
}

/// Checks that job `job` may move from `from` to `to`.
///
/// # Errors
///
/// [`ExportError::InvalidState`] (kind `job`, state `from`, event `become <to>`) when the move
/// is not in the table of [`JobStatus::can_become`].
///
/// # Examples
///
/// ```
/// use export_core::job::{check_transition, JobStatus};
/// let id = uuid::Uuid::nil();
/// assert!(check_transition(id, JobStatus::Running, JobStatus::Succeeded).is_ok());
/// let err = check_transition(id, JobStatus::Expired, JobStatus::Pending).unwrap_err();
/// assert_eq!(err.code(), "INVALID_STATE");
/// assert_eq!(err.to_string(), format!("job `{id}` is expired: cannot become pending"));
/// ```
pub fn check_transition(job: Uuid, from: JobStatus, to: JobStatus) -> Result<()> {
    if from.can_become(to) {
        Ok(())
    } else {
        Err(ExportError::invalid_state(
            "job",
            job.to_string(),
            from.as_str(),
            format!("become {to}"),
        ))
    }
}

/// The status job `job` reaches when `event` happens in status `from`.
///
/// Pure: no store, no clock. Every store applies status changes through this function.
///
/// # Errors
///
/// [`ExportError::InvalidState`] (kind `job`, state `from`, event the event's
/// [name](JobEvent::as_str)) when `event` cannot happen in `from`.
///
/// # Examples
///
/// ```
/// use export_core::job::{transition, JobEvent, JobStatus};
/// let id = uuid::Uuid::nil();
/// assert_eq!(transition(id, JobStatus::Pending, JobEvent::Claim).unwrap(), JobStatus::Running);
/// assert_eq!(transition(id, JobStatus::Running, JobEvent::Retry).unwrap(), JobStatus::Pending);
/// let err = transition(id, JobStatus::Succeeded, JobEvent::Cancel).unwrap_err();
/// assert_eq!(err.to_string(), format!("job `{id}` is succeeded: cannot cancel"));
/// ```
pub fn transition(job: Uuid, from: JobStatus, event: JobEvent) -> Result<JobStatus> {
    let to = event.target();
    if from.can_become(to) {
        Ok(to)
    } else {
        Err(ExportError::invalid_state(
            "job",
            job.to_string(),
            from.as_str(),
            event.as_str(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use JobStatus::*;

    const ALLOWED: [(JobStatus, JobStatus); 9] = [
        (Pending, Running),
        (Pending, Cancelled),
        (Running, Succeeded),
        (Running, Failed),
        (Running, Cancelled),
        (Running, Pending),
        (Succeeded, Expired),
        (Failed, Expired),
        (Cancelled, Expired),
    ];

    #[test]
    fn every_pair_of_states() {
        let id = Uuid::new_v4();
        let mut pairs = 0;
        let mut allowed = 0;
        for from in JobStatus::ALL {
            for to in JobStatus::ALL {
                pairs += 1;
                let expected = ALLOWED.contains(&(from, to));
                assert_eq!(from.can_become(to), expected, "{from} -> {to}");
                match check_transition(id, from, to) {
                    Ok(()) => {
                        assert!(expected, "{from} -> {to} accepted");
                        allowed += 1;
                    }
                    Err(ExportError::InvalidState {
                        kind,
                        id: job,
                        state,
                        event,
                    }) => {
                        assert!(!expected, "{from} -> {to} refused");
                        assert_eq!(kind, "job");
                        assert_eq!(job, id.to_string());
                        assert_eq!(state, from.as_str());
                        assert_eq!(event, format!("become {to}"));
                    }
                    Err(other) => panic!("{from} -> {to}: unexpected error {other}"),
                }
            }
        }
        assert_eq!(pairs, 36);
        assert_eq!(allowed, ALLOWED.len());
    }

    #[test]
    fn events_follow_the_table() {
        let events = [
            JobEvent::Claim,
            JobEvent::Succeed,
            JobEvent::Fail,
            JobEvent::Retry,
            JobEvent::Cancel,
            JobEvent::Expire,
        ];
        for from in JobStatus::ALL {
            for event in events {
                let result = transition(Uuid::nil(), from, event);
                assert_eq!(
                    result.is_ok(),
                    ALLOWED.contains(&(from, event.target())),
                    "{from} + {event:?}"
                );
                match result {
                    Ok(to) => assert_eq!(to, event.target()),
                    Err(ExportError::InvalidState {
                        state, event: e, ..
                    }) => {
                        assert_eq!(
                            (state.as_str(), e.as_str()),
                            (from.as_str(), event.as_str())
                        );
                    }
                    Err(other) => panic!("{from} + {event:?}: unexpected error {other}"),
                }
                let json = serde_json::to_string(&event).unwrap();
                assert_eq!(json, format!("\"{}\"", event.as_str()));
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for status in JobStatus::ALL {
            assert_eq!(status.as_str().parse::<JobStatus>().unwrap(), status);
            assert_eq!(
                status.as_str().to_uppercase().parse::<JobStatus>().unwrap(),
                status
            );
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{status}\""));
            assert_eq!(serde_json::from_str::<JobStatus>(&json).unwrap(), status);
        }
        let err = "done".parse::<JobStatus>().unwrap_err();
        assert_eq!(err.code(), "INVALID_REQUEST");
    }

    #[test]
    fn terminal_and_expirable() {
        assert!(!Pending.is_terminal() && !Running.is_terminal());
        for s in [Succeeded, Failed, Cancelled, Expired] {
            assert!(s.is_terminal());
        }
        for s in JobStatus::ALL {
            assert_eq!(s.is_expirable(), s.can_become(Expired));
        }
    }
}
