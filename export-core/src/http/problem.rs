//! Errors as `application/problem+json` (RFC 9457): `{type, title, status, detail, code}`,
//! `code` being the engine's ([`ExportError::code`]) or this layer's own (`UNAUTHENTICATED`,
//! `MALFORMED_JSON`, `BAD_BODY`, `BAD_PATH`, `PAYLOAD_TOO_LARGE`, `UNSUPPORTED_MEDIA_TYPE`,
//! `ROUTE_NOT_FOUND`, `METHOD_NOT_ALLOWED`, `RANGE_NOT_SATISFIABLE`).

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ExportError;

/// The content type of problem bodies.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer: a status, a code, a detail for the client, and headers.
///
/// # Examples
///
/// ```
/// use axum::http::StatusCode;
/// use export_core::ExportError;
/// use export_core::http::Problem;
///
/// let problem = Problem::from(ExportError::NotFound { kind: "job", id: "42".into() });
/// assert_eq!(problem.status(), StatusCode::NOT_FOUND);
/// assert_eq!(problem.code(), "NOT_FOUND");
/// // Server-side failures tell the client nothing of paths or hosts.
/// let problem = Problem::from(ExportError::Storage("s3://bucket: timeout".into()));
/// assert_eq!(problem.status(), StatusCode::SERVICE_UNAVAILABLE);
/// assert!(!problem.detail().contains("bucket"));
/// ```
#[derive(Debug, Clone)]
pub struct Problem(Box<Inner>);

/// Boxed: a problem travels in every handler's `Err`, which stays one pointer wide.
#[derive(Debug, Clone)]
struct Inner {
    status: StatusCode,
    code: String,
    detail: String,
    headers: HeaderMap,
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    code: &'a str,
}

impl Problem {
    /// A problem of this layer's own.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Problem {
        Problem(Box::new(Inner {
            status,
            code: code.to_string(),
            detail: detail.into(),
            headers: HeaderMap::new(),
        }))
    }

    /// Adds a response header.
    pub fn header(mut self, name: HeaderName, value: &str) -> Problem {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.0.headers.insert(name, value);
        }
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The code (`NOT_FOUND`, `MALFORMED_JSON`, ...).
    pub fn code(&self) -> &str {
        &self.0.code
    }

    /// What the client is told.
    pub fn detail(&self) -> &str {
        &self.0.detail
    }

    /// `400` for a request this layer cannot read.
    pub fn bad_request(code: &str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// `422 INVALID_REQUEST` naming the bad part of the request.
    pub fn invalid(field: &str, reason: impl std::fmt::Display) -> Problem {
        Problem::from(ExportError::request(field, reason.to_string()))
    }
}

/// The status of each engine error: the caller's mistakes are 4xx, the environment's 503,
/// the rest 500.
pub(crate) fn status_of(err: &ExportError) -> StatusCode {
    use ExportError as E;
    match err {
        E::UnknownField { .. }
        | E::MissingColumn { .. }
        | E::ColumnType { .. }
        | E::InvalidValue { .. }
        | E::InvalidPeriod(_)
        | E::InvalidRequest { .. }
        | E::InvalidInput { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        E::Forbidden { .. } => StatusCode::FORBIDDEN,
        E::NotFound { .. } => StatusCode::NOT_FOUND,
        E::Gone { .. } => StatusCode::GONE,
        E::AlreadyExists { .. } | E::InvalidState { .. } | E::LeaseLost { .. } | E::Cancelled => {
            StatusCode::CONFLICT
        }
        E::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        E::Io { .. } | E::Store { .. } | E::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<ExportError> for Problem {
    fn from(err: ExportError) -> Problem {
        let status = status_of(&err);
        let detail = if status.is_server_error() {
            // Paths, URLs and hosts stay in the log.
            tracing::error!(code = err.code(), error = %err, "request failed");
            "the export service failed; try again later".to_string()
        } else {
            err.to_string()
        };
        let mut problem = Problem::new(status, err.code(), detail);
        if let Some(after) = err.retry_after() {
            problem = problem.header(RETRY_AFTER, &after.as_secs().max(1).to_string());
        }
        problem
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let p = *self.0;
        let body = Body {
            kind: format!("urn:export-core:problem:{}", p.code),
            title: p.status.canonical_reason().unwrap_or("Error"),
            status: p.status.as_u16(),
            detail: &p.detail,
            code: &p.code,
        };
        let json = serde_json::to_vec(&body).expect("a problem serialises");
        let mut response = (p.status, json).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.extend(p.headers);
        response
    }
}
