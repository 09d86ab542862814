//! The one error type of the crate.
//!
//! Every failure is an [`ExportError`] that names what was wrong with which input, so that a CLI
//! can print it on one line and a binding can map it to its own exception or error code
//! ([`ExportError::code`]).
//!
//! Callers branch on the variant (or the code), never on the message: duplicates are
//! [`ExportError::AlreadyExists`], a worker's lost lease [`ExportError::LeaseLost`], an event its
//! state does not allow [`ExportError::InvalidState`], a rate limit [`ExportError::RateLimited`]
//! with its `retry_after`; [`ExportError::is_retryable`] says whether trying again can help.
//! `docs/errors.md` lists every code with its cause and what to do; a unit test keeps that table
//! and this enum in step.

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

    /// The thing is in a state where this event is not allowed: cancel a finished job,
    /// download an unfinished one, a job status change outside the lifecycle table
    /// ([`check_transition`](crate::job::check_transition)), a retention for a job that has
    /// one, delete a platform schedules still use.
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
            ExportError::AlreadyExists { .. } => "ALREADY_EXISTS",
            ExportError::LeaseLost { .. } => "LEASE_LOST",
            ExportError::RateLimited { .. } => "RATE_LIMITED",
            ExportError::InvalidState { .. } => "INVALID_STATE",
            ExportError::Config { .. } => "CONFIG",
            ExportError::Store { .. } => "STORE",
            ExportError::Storage(_) => "STORAGE",
        }
    }

    /// True when the same call may succeed later without any change to its input: the
    /// environment failed ([`ExportError::Io`], [`ExportError::Storage`], [`ExportError::Store`])
    /// or a rate limit was hit ([`ExportError::RateLimited`], after
    /// [`retry_after`](ExportError::retry_after)). Everything else needs another input, another
    /// principal or another state first; in particular [`ExportError::LeaseLost`] is final for
    /// the worker that got it (the job belongs to someone else now).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use export_core::ExportError;
    /// let limited = ExportError::RateLimited {
    ///     reason: "100 exports per 300 s".into(),
    ///     retry_after: Some(Duration::from_secs(12)),
    /// };
    /// assert!(limited.is_retryable());
    /// assert_eq!(limited.retry_after(), Some(Duration::from_secs(12)));
    /// assert!(!ExportError::request("format", "`pdf` is not a format").is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ExportError::Io { .. }
                | ExportError::Storage(_)
                | ExportError::Store { .. }
                | ExportError::RateLimited { .. }
        )
    }

    /// How long to wait before retrying, when the error says ([`ExportError::RateLimited`]).
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            ExportError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Builds an [`ExportError::AlreadyExists`].
    pub fn already_exists(kind: &'static str, id: impl Into<String>) -> Self {
        ExportError::AlreadyExists {
            kind,
            id: id.into(),
        }
    }

    /// Builds an [`ExportError::LeaseLost`].
    pub fn lease_lost(job: impl Into<String>, worker: impl Into<String>) -> Self {
        ExportError::LeaseLost {
            job: job.into(),
            worker: worker.into(),
        }
    }

    /// Builds an [`ExportError::InvalidState`].
    pub fn invalid_state(
        kind: &'static str,
        id: impl Into<String>,
        state: impl Into<String>,
        event: impl Into<String>,
    ) -> Self {
        ExportError::InvalidState {
            kind,
            id: id.into(),
            state: state.into(),
            event: event.into(),
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
    // Streamed, so the first bad key in the text's order is the one reported.
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| located(what, e))?;
    de.end()
        .map_err(|e| ExportError::request(what, e.to_string()))?;
    Ok(value)
}

/// The error of a failed deserialisation, with the path of the bad value (`period.start`,
/// `options.bom`) before serde's message, which does not name it. An unknown key is named by
/// serde already: its parent's path is enough.
fn located(what: &str, e: serde_path_to_error::Error<serde_json::Error>) -> ExportError {
    let reason = e.inner().to_string();
    let mut segments: Vec<String> = e.path().iter().map(|s| s.to_string()).collect();
    if reason.starts_with("unknown field") {
        segments.pop();
    }
    let path = segments.join(".").replace(".[", "[");
    if path.is_empty() || path == "?" {
        ExportError::request(what, reason)
    } else {
        ExportError::request(what, format!("{path}: {reason}"))
    }
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
    serde_path_to_error::deserialize(value).map_err(|e| located(what, e))
}

impl From<std::io::Error> for ExportError {
    fn from(source: std::io::Error) -> Self {
        ExportError::Io { path: None, source }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;

    /// The sample that follows `previous` (the first for `None`; `None` after the last): one
    /// value of every variant. The exhaustive `match` makes a new variant a compile error here
    /// until it gets its place in the chain, and [`every_variant_is_in_the_chain`] checks that
    /// the chain reaches every arm of [`ExportError::code`].
    fn after(previous: Option<&ExportError>) -> Option<ExportError> {
        use ExportError as E;
        let s = || "x".to_string();
        Some(match previous {
            None => E::UnknownField {
                field: s(),
                schema: s(),
                valid: vec![s()],
            },
            Some(E::UnknownField { .. }) => E::MissingColumn {
                column: s(),
                expected: s(),
            },
            Some(E::MissingColumn { .. }) => E::ColumnType {
                column: s(),
                expected: s(),
                actual: s(),
            },
            Some(E::ColumnType { .. }) => E::InvalidValue {
                column: s(),
                row: 0,
                reason: s(),
            },
            Some(E::InvalidValue { .. }) => E::InvalidPeriod(s()),
            Some(E::InvalidPeriod(_)) => E::request("format", "x"),
            Some(E::InvalidRequest { .. }) => E::InvalidInput {
                source_name: s(),
                line: Some(1),
                reason: s(),
            },
            Some(E::InvalidInput { .. }) => E::from(std::io::Error::other("x")),
            Some(E::Io { .. }) => E::NotARegularFile {
                path: PathBuf::from("x"),
                kind: "FIFO",
            },
            Some(E::NotARegularFile { .. }) => E::Encode {
                format: "xlsx",
                reason: s(),
            },
            Some(E::Encode { .. }) => E::Arrow(arrow_schema::ArrowError::ComputeError(s())),
            Some(E::Arrow(_)) => E::SinkFinished,
            Some(E::SinkFinished) => E::Cancelled,
            Some(E::Cancelled) => E::Forbidden {
                scope: s(),
                reason: None,
            },
            Some(E::Forbidden { .. }) => E::NotFound {
                kind: "job",
                id: s(),
            },
            Some(E::NotFound { .. }) => E::Gone {
                kind: "job",
                id: s(),
                reason: s(),
            },
            Some(E::Gone { .. }) => E::already_exists("job", "x"),
            Some(E::AlreadyExists { .. }) => E::lease_lost("j", "w"),
            Some(E::LeaseLost { .. }) => E::RateLimited {
                reason: s(),
                retry_after: Some(Duration::from_secs(3)),
            },
            Some(E::RateLimited { .. }) => E::invalid_state("job", "x", "running", "download"),
            Some(E::InvalidState { .. }) => E::config("storage.url", "x"),
            Some(E::Config { .. }) => E::store("memory", s()),
            Some(E::Store { .. }) => E::Storage(s()),
            Some(E::Storage(_)) => return None,
        })
    }

    fn samples() -> Vec<ExportError> {
        let mut all: Vec<ExportError> = Vec::new();
        while let Some(next) = after(all.last()) {
            assert!(all.len() < 1000, "the chain of samples loops");
            all.push(next);
        }
        all
    }

    /// The variant's name, from its `Debug` form (`InvalidPeriod("...")` → `InvalidPeriod`).
    fn variant(e: &ExportError) -> String {
        format!("{e:?}")
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect()
    }

    fn read(path: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The codes of the arms of `ExportError::code`, read from this file's source: the match
    /// is exhaustive, so every variant is there.
    fn codes_in_source() -> BTreeMap<String, String> {
        let source = read("src/error.rs");
        let start = source.find("pub fn code(&self)").expect("fn code");
        let body = &source[start..];
        let body = &body[..body.find("\n    }\n").expect("end of fn code")];
        body.lines()
            .filter_map(|line| {
                let (arm, code) = line.trim().split_once("=> \"")?;
                let name = arm.trim().strip_prefix("ExportError::")?;
                let name: String = name
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect();
                Some((code.trim_end_matches("\",").to_string(), name))
            })
            .collect()
    }

    /// The rows of the table of `docs/errors.md`: code → (variant, retry column).
    fn codes_in_doc() -> BTreeMap<String, (String, String)> {
        let doc = read("../docs/errors.md");
        let mut rows = BTreeMap::new();
        for line in doc.lines() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            // `| `CODE` | `Variant` | cause | retry | what to do |`
            let [_, code, variant, _, retry, ..] = cells[..] else {
                continue;
            };
            let code = code.trim_matches('`');
            if code.is_empty() || !code.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                continue;
            }
            let variant = variant.trim_matches('`').to_string();
            let retry = retry.split_whitespace().next().unwrap_or("").to_lowercase();
            let previous = rows.insert(code.to_string(), (variant, retry));
            assert!(previous.is_none(), "docs/errors.md lists `{code}` twice");
        }
        rows
    }

    #[test]
    fn every_variant_is_in_the_chain() {
        let from_samples: BTreeMap<String, String> = samples()
            .iter()
            .map(|e| (e.code().to_string(), variant(e)))
            .collect();
        assert_eq!(samples().len(), from_samples.len(), "one sample per code");
        assert_eq!(from_samples, codes_in_source());
    }

    #[test]
    fn docs_errors_md_lists_every_code_and_nothing_else() {
        let doc = codes_in_doc();
        let samples = samples();
        let enum_codes: Vec<&str> = samples.iter().map(ExportError::code).collect();
        let doc_codes: Vec<&str> = doc.keys().map(String::as_str).collect();
        let mut sorted = enum_codes.clone();
        sorted.sort_unstable();
        assert_eq!(
            doc_codes, sorted,
            "docs/errors.md's table and ExportError's codes differ"
        );
        for e in &samples {
            let (variant_in_doc, retry) = &doc[e.code()];
            assert_eq!(*variant_in_doc, variant(e), "variant of `{}`", e.code());
            let documented = match retry.as_str() {
                "yes" => true,
                "no" => false,
                other => panic!(
                    "`{}`: retry column must start with yes or no, got `{other}`",
                    e.code()
                ),
            };
            assert_eq!(
                documented,
                e.is_retryable(),
                "retry column of `{}`",
                e.code()
            );
        }
    }

    #[test]
    fn retry_after_only_for_rate_limits() {
        for e in samples() {
            assert_eq!(
                e.retry_after().is_some(),
                e.code() == "RATE_LIMITED",
                "{}",
                e.code()
            );
        }
    }
}
