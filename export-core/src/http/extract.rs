//! The extractors of the routes: the caller, a JSON object body, query parameters and path
//! segments, each refusing bad input with a [`Problem`] (never axum's plain-text rejections).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::Shared;
use super::problem::Problem;
use crate::principal::{Principal, Scope};

/// The authenticated principal of a request.
pub(crate) struct Caller(pub Principal);

impl Caller {
    /// A 403 unless the caller holds `scope` (the engine checks it again).
    pub(crate) fn need(&self, scope: Scope) -> Result<(), Problem> {
        self.0.require(scope).map_err(Problem::from)
    }
}

impl FromRequestParts<Shared> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Caller, Problem> {
        state.auth.authenticate(parts).map(Caller).map_err(|u| {
            let challenge = if u.invalid_token {
                "Bearer realm=\"export\", error=\"invalid_token\""
            } else {
                "Bearer realm=\"export\""
            };
            Problem::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", u.reason)
                .header(WWW_AUTHENTICATE, challenge)
        })
    }
}

/// A JSON object body (`application/json`), at most the configured size. An absent body is
/// `{}` when the route allows it ([`JsonObject::or_empty`]).
pub(crate) struct JsonObject(pub serde_json::Map<String, serde_json::Value>, pub bool);

impl JsonObject {
    /// The object, or a 415 when the route needs a body and none was sent.
    pub(crate) fn required(self) -> Result<serde_json::Map<String, serde_json::Value>, Problem> {
        if self.1 {
            return Err(no_json());
        }
        Ok(self.0)
    }

    /// The object; `{}` for an empty body.
    pub(crate) fn or_empty(self) -> serde_json::Map<String, serde_json::Value> {
        self.0
    }
}

fn no_json() -> Problem {
    Problem::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
        "the body must be a JSON object sent as `application/json`",
    )
}

impl FromRequest<Shared> for JsonObject {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &Shared) -> Result<JsonObject, Problem> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| {
                let v = v.trim().to_ascii_lowercase();
                v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
            });
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "PAYLOAD_TOO_LARGE",
                    format!(
                        "the body is larger than the {} bytes allowed",
                        state.config.body_limit
                    ),
                )
            } else {
                Problem::bad_request("BAD_BODY", e.body_text())
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) && is_json != Some(true) {
            return Ok(JsonObject(serde_json::Map::new(), true));
        }
        if is_json != Some(true) {
            return Err(no_json());
        }
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            Problem::bad_request(
                "MALFORMED_JSON",
                format!("the request body is not valid JSON: {e}"),
            )
        })?;
        match value {
            serde_json::Value::Object(map) => Ok(JsonObject(map, false)),
            // The engine would also read a struct from a positional array (serde's sequence
            // form), which no client should rely on.
            _ => Err(Problem::invalid("body", "expected a JSON object")),
        }
    }
}

/// The query parameters, each name at most once.
pub(crate) struct Query(pub BTreeMap<String, Vec<String>>);

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Query, Problem> {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if let Some(q) = parts.uri.query() {
            for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
                map.entry(k.into_owned()).or_default().push(v.into_owned());
            }
        }
        Ok(Query(map))
    }
}

impl Query {
    /// A 422 naming the first parameter not in `allowed`.
    pub(crate) fn only(&self, allowed: &[&str]) -> Result<(), Problem> {
        match self.0.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(key) => Err(Problem::invalid(
                key,
                format!(
                    "unknown query parameter, expected one of {}",
                    allowed
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
            None => Ok(()),
        }
    }

    /// The one value of `name`; a 422 when it is given twice.
    pub(crate) fn one(&self, name: &str) -> Result<Option<&str>, Problem> {
        match self.0.get(name).map(Vec::as_slice) {
            None => Ok(None),
            Some([value]) => Ok(Some(value)),
            Some(_) => Err(Problem::invalid(name, "give it once")),
        }
    }

    /// Every value of `name` (repeatable parameters).
    pub(crate) fn all(&self, name: &str) -> &[String] {
        self.0.get(name).map_or(&[], Vec::as_slice)
    }

    /// `name` as a boolean (`true`/`false`/`1`/`0`).
    pub(crate) fn flag(&self, name: &str) -> Result<Option<bool>, Problem> {
        self.one(name)?
            .map(|v| match v {
                "true" | "1" => Ok(true),
                "false" | "0" => Ok(false),
                _ => Err(Problem::invalid(
                    name,
                    format!("`{v}` is not a boolean (true, false)"),
                )),
            })
            .transpose()
    }

    /// `name` as a positive integer.
    pub(crate) fn number(&self, name: &str) -> Result<Option<u32>, Problem> {
        self.one(name)?
            .map(|v| {
                v.parse::<u32>().map_err(|_| {
                    Problem::invalid(name, format!("`{v}` is not a non-negative integer"))
                })
            })
            .transpose()
    }
}

/// Path segments, decoded; a bad one is a 400 problem.
pub(crate) struct Segments<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Segments<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Segments<T>, Problem> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| Segments(t))
            .map_err(|e| Problem::bad_request("BAD_PATH", e.body_text()))
    }
}
