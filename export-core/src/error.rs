//! The one error type of the crate.
//!
//! Every failure is an [`ExportError`] that names what was wrong with which input, so that a CLI
//! can print it on one line and a binding can map it to its own exception or error code
//! ([`ExportError::code`]).

use std::path::PathBuf;

/// A specialised `Result` whose error is [`ExportError`].
pub type Result<T, E = ExportError> = std::result::Result<T, E>;

/// Everything that can go wrong in an export, a job or a schedule.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// A field name given in a selection, rename, filter or preset does not exist in the schema.
    #[error("unknown field `{field}` in schema `{schema}`; valid fields are: {}", valid.join(", "))]
    UnknownField {
        /// The name that was asked for.
        field: String,
        /// The schema it was looked up in.
        schema: String,
        /// Every valid name, in schema order.
        valid: Vec<String>,
    },

    /// An input batch lacks a column the schema needs.
    #[error("input is missing column `{column}` (expected type {expected})")]
    MissingColumn {
        /// The column's name.
        column: String,
        /// The Arrow type the schema expects.
        expected: String,
    },

    /// An input column has another Arrow type than the schema expects.
    #[error("column `{column}` has type {actual}, expected {expected}")]
    ColumnType {
        /// The column's name.
        column: String,
        /// The Arrow type the schema expects.
        expected: String,
        /// The Arrow type found in the batch.
        actual: String,
    },

    /// An input value is not acceptable (a null in a required column, an out-of-range number).
    #[error("invalid value in column `{column}` at row {row}: {reason}")]
    InvalidValue {
        /// The column's name.
        column: String,
        /// The row index within the batch (0-based).
        row: usize,
        /// What was wrong.
        reason: String,
    },

    /// The export period is unusable: end before start, too long, too far back, in the future.
    #[error("invalid period: {0}")]
    InvalidPeriod(String),

    /// A request or option is invalid; `field` names the offending request field.
    #[error("invalid `{field}`: {reason}")]
    InvalidRequest {
        /// The request field or option (`audience`, `format`, `filters.operators`, ...).
        field: String,
        /// What was wrong, quoting the bad value.
        reason: String,
    },

    /// An input file could not be parsed (bad encoding, bad CSV, bad Arrow IPC).
    #[error("invalid input {source_name}{}: {reason}", line.map(|l| format!(" at line {l}")).unwrap_or_default())]
    InvalidInput {
        /// The file or source the input came from.
        source_name: String,
        /// The 1-based line, when known.
        line: Option<u64>,
        /// What was wrong.
        reason: String,
    },

    /// Reading or writing a file or stream failed.
    #[error("i/o error{}: {source}", path.as_ref().map(|p| format!(" on {}", p.display())).unwrap_or_default())]
    Io {
        /// The path involved, when there is one.
        path: Option<PathBuf>,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// An output path holds something publishing must not replace: a FIFO, a device, a
    /// directory, a socket, or a symbolic link to one of them (see [`crate::output`]).
    #[error("refusing to replace {}: it is a {kind}, not a regular file", path.display())]
    NotARegularFile {
        /// The output path.
        path: PathBuf,
        /// What is there (`FIFO`, `character device`, `directory`, ...).
        kind: &'static str,
    },

    /// A sink could not encode its output (XLSX, JSON, zip).
    #[error("{format} output: {reason}")]
    Encode {
        /// The output format (`csv`, `xlsx`, `json`, `zip`, `gzip`).
        format: &'static str,
        /// What went wrong.
        reason: String,
    },

    /// An Arrow operation failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),

    /// A sink was used after [`crate::sink::Sink::finish`].
    #[error("the sink is already finished")]
    SinkFinished,

    /// The export was cancelled (a cancel request honoured between batches).
    #[error("export cancelled")]
    Cancelled,

    /// The principal lacks a scope the operation needs, or asks for what its access policy does
    /// not allow (then `reason` says what, and `scope` names the scope that would allow it).
    #[error("forbidden: {}", forbidden_text(.scope, .reason.as_deref()))]
    Forbidden {
        /// The missing scope.
        scope: String,
        /// What is not allowed, for an access-policy refusal; `None` for a plain missing scope.
        reason: Option<String>,
    },

    /// The thing does not exist, or belongs to someone else (never leak which).
    #[error("{kind} `{id}` not found")]
    NotFound {
        /// What was looked up (`job`, `schedule`, `platform`).
        kind: &'static str,
        /// Its identifier.
        id: String,
    },

    /// The thing existed but is gone for good (an expired export's file).
    #[error("{kind} `{id}` is gone: {reason}")]
    Gone {
        /// What was looked up.
        kind: &'static str,
        /// Its identifier.
        id: String,
        /// Why (expired on ..., deleted).
        reason: String,
    },

    /// A job cannot move from one status to another.
    #[error("job `{job}` cannot go from {from} to {to}")]
    InvalidTransition {
        /// The job identifier.
        job: String,
        /// Its current status.
        from: String,
        /// The status asked for.
        to: String,
    },

    /// A conflicting concurrent change (a lease lost to another worker, a duplicate key).
    #[error("conflict: {0}")]
    Conflict(String),

    /// Something with this identity already exists (a job id, a schedule id, a platform name,
    /// an audit event id). Creating it again is safe to treat as done when it is the same thing.
    #[error("{kind} `{id}` already exists")]
    AlreadyExists {
        /// What was being created (`job`, `schedule`, `platform`, `audit event`).
        kind: &'static str,
        /// Its identifier or name.
        id: String,
    },

    /// A worker's lease on a job is gone: it expired and another worker may hold the job, or
    /// the job was released. The worker must stop working on it and publish nothing.
    #[error("job `{job}` is no longer leased to worker `{worker}`")]
    LeaseLost {
        /// The job identifier.
        job: String,
        /// The worker that lost it.
        worker: String,
    },

    /// Too many requests; try again after `retry_after` when it is known.
    #[error("rate limited: {reason}{}", retry_after.map(|d| format!("; retry after {} s", d.as_secs().max(1))).unwrap_or_default())]
    RateLimited {
        /// Which limit was hit.
        reason: String,
        /// How long to wait before the request can succeed.
        retry_after: Option<std::time::Duration>,
    },

    /// The thing is in a state where this event is not allowed (cancel a finished job,
    /// download a running one, pause a deleted schedule).
    #[error("{kind} `{id}` is {state}: cannot {event}")]
    InvalidState {
        /// What it is (`job`, `schedule`).
        kind: &'static str,
        /// Its identifier.
        id: String,
        /// The state it is in.
        state: String,
        /// What was asked of it.
        event: String,
    },

    /// The engine's configuration is invalid; `field` names the setting (`job_store.url`,
    /// `storage.url`, `runtime`, ...).
    #[error("invalid configuration `{field}`: {reason}")]
    Config {
        /// The setting, as a dotted path in the configuration file.
        field: String,
        /// What was wrong, quoting the bad value.
        reason: String,
    },

    /// The job, schedule, platform or audit store failed. The driver's error, when there is
    /// one, is kept as [`std::error::Error::source`].
    #[error("store ({backend}): {reason}")]
    Store {
        /// `sqlite`, `postgres`, `memory`, `jsonl`.
        backend: &'static str,
        /// What failed, with the driver's message.
        reason: String,
        /// The driver's error (a `rusqlite::Error`, a `tokio_postgres::Error`, ...), for callers
        /// that inspect it; `None` when the store itself found the problem.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },

    /// Object storage failed.
    #[error("storage: {0}")]
    Storage(String),
}

impl ExportError {
    /// A stable, machine-readable code for this error, used by the bindings
    /// (Python exception classes, Node `error.code`) and the CLI's exit status.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::ExportError;
    /// let err = ExportError::InvalidPeriod("end 2026-01-01 is before start 2026-02-01".into());
    /// assert_eq!(err.code(), "INVALID_PERIOD");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            ExportError::UnknownField { .. } => "UNKNOWN_FIELD",
            ExportError::MissingColumn { .. } => "MISSING_COLUMN",
            ExportError::ColumnType { .. } => "COLUMN_TYPE",
            ExportError::InvalidValue { .. } => "INVALID_VALUE",
            ExportError::InvalidPeriod(_) => "INVALID_PERIOD",
            ExportError::InvalidRequest { .. } => "INVALID_REQUEST",
            ExportError::InvalidInput { .. } => "INVALID_INPUT",
            ExportError::Io { .. } => "IO",
            ExportError::NotARegularFile { .. } => "NOT_A_REGULAR_FILE",
            ExportError::Encode { .. } => "ENCODE",
            ExportError::Arrow(_) => "ARROW",
            ExportError::SinkFinished => "SINK_FINISHED",
            ExportError::Cancelled => "CANCELLED",
            ExportError::Forbidden { .. } => "FORBIDDEN",
            ExportError::NotFound { .. } => "NOT_FOUND",
            ExportError::Gone { .. } => "GONE",
            ExportError::InvalidTransition { .. } => "INVALID_TRANSITION",
            ExportError::Conflict(_) => "CONFLICT",
            ExportError::AlreadyExists { .. } => "ALREADY_EXISTS",
            ExportError::LeaseLost { .. } => "LEASE_LOST",
            ExportError::RateLimited { .. } => "RATE_LIMITED",
            ExportError::InvalidState { .. } => "INVALID_STATE",
            ExportError::Config { .. } => "CONFIG",
            ExportError::Store { .. } => "STORE",
            ExportError::Storage(_) => "STORAGE",
        }
    }

    /// Builds an [`ExportError::Io`] carrying the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ExportError::Io {
            path: Some(path.into()),
            source,
        }
    }

    /// Builds an [`ExportError::Config`].
    pub fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ExportError::Config {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Builds an [`ExportError::Store`] without a driver error.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::ExportError;
    /// let err = ExportError::store("sqlite", "column seq holds -1");
    /// assert_eq!(err.to_string(), "store (sqlite): column seq holds -1");
    /// assert!(std::error::Error::source(&err).is_none());
    /// ```
    pub fn store(backend: &'static str, reason: impl Into<String>) -> Self {
        ExportError::Store {
            backend,
            reason: reason.into(),
            source: None,
        }
    }

    /// Builds an [`ExportError::Store`] that keeps the driver's error as its
    /// [`source`](std::error::Error::source).
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::ExportError;
    /// let io = std::io::Error::other("disk on fire");
    /// let err = ExportError::store_with_source("jsonl", "cannot append", io);
    /// assert_eq!(std::error::Error::source(&err).unwrap().to_string(), "disk on fire");
    /// ```
    pub fn store_with_source(
        backend: &'static str,
        reason: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        ExportError::Store {
            backend,
            reason: reason.into(),
            source: Some(source.into()),
        }
    }

    /// Builds an [`ExportError::InvalidRequest`].
    pub fn request(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ExportError::InvalidRequest {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

fn forbidden_text(scope: &str, reason: Option<&str>) -> String {
    match reason {
        Some(reason) => format!("{reason}; scope `{scope}` is required"),
        None => format!("scope `{scope}` is required"),
    }
}

/// Parses `text` as JSON into `T`, refusing unknown keys (every input structure of the crate
/// denies them), as [`ExportError::InvalidRequest`] on field `what`.
///
/// The message is serde's, which names the key and the valid ones, so a typo never silently
/// widens an export (`unknown field `feilds`, expected one of `schema`, ...`).
///
/// # Errors
///
/// [`ExportError::InvalidRequest`] on `what` for malformed JSON, an unknown key, a missing key
/// or a value of the wrong type.
///
/// # Examples
///
/// ```
/// use export_core::error::from_json;
/// use export_core::request::ExportRequest;
/// let err = from_json::<ExportRequest>("request", r#"{"schema":"trip","format":"csv","feilds":{}}"#)
///     .unwrap_err();
/// assert_eq!(err.code(), "INVALID_REQUEST");
/// assert!(err.to_string().contains("unknown field `feilds`, expected one of"), "{err}");
/// ```
pub fn from_json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| ExportError::request(what, e.to_string()))
}

/// As [`from_json`], from a JSON value already parsed.
///
/// # Errors
///
/// As [`from_json`].
pub fn from_json_value<T: serde::de::DeserializeOwned>(
    what: &str,
    value: serde_json::Value,
) -> Result<T> {
    serde_json::from_value(value).map_err(|e| ExportError::request(what, e.to_string()))
}

impl From<std::io::Error> for ExportError {
    fn from(source: std::io::Error) -> Self {
        ExportError::Io { path: None, source }
    }
}
