//! Export jobs over HTTP: the registry's `/v3/export` routes and the catalogue's job routes
//! under `/api/v1/exports`, the same engine calls behind both.

use axum::Router;
use axum::extract::State;
use axum::http::header::{IF_RANGE, LINK, LOCATION, RANGE};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use uuid::Uuid;

use super::body::download_response;
use super::extract::{Caller, JsonObject, Query, Segments};
use super::problem::Problem;
use super::{DownloadMode, Shared};
use crate::job::{JobStatus, ListQuery};
use crate::registry::TRIP_SCHEMA;
use crate::request::ExportRequest;
use crate::service::{Withdrawn, parse_job_id};

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/v3/export", post(create_trip).get(list))
        .route("/v3/export/{id}", get(read).delete(withdraw))
        .route("/v3/export/{id}/status", get(status))
        .route("/v3/export/{id}/download", get(download))
        .route("/api/v1/exports/create", post(create_dataset))
        .route("/api/v1/exports", get(list))
        .route("/api/v1/exports/{id}", get(read).delete(withdraw))
        .route("/api/v1/exports/progress/{task_id}", get(status))
        .route("/api/v1/exports/download/{task_id}", get(download))
}

fn job_id(text: &str) -> Result<Uuid, Problem> {
    parse_job_id(text).map_err(Problem::from)
}

fn json(status: StatusCode, value: &impl serde::Serialize) -> Response {
    (status, axum::Json(value)).into_response()
}

/// `POST /v3/export`: a trip export job (`schema` may be left out; it can only be `trip`).
async fn create_trip(
    State(state): State<Shared>,
    caller: Caller,
    body: JsonObject,
) -> Result<Response, Problem> {
    let mut body = body.required()?;
    match body.get("schema") {
        None => {
            body.insert("schema".into(), Value::String(TRIP_SCHEMA.into()));
        }
        Some(Value::String(s)) if s == TRIP_SCHEMA => {}
        Some(other) => {
            return Err(Problem::invalid(
                "schema",
                format!("this route exports trips only (`trip`), not {other}"),
            ));
        }
    }
    let request: ExportRequest = crate::error::from_json_value("request", Value::Object(body))?;
    let job = state.engine.create_job(caller.0, request).await?;
    let location = format!("export/{}", job.id);
    Ok(([(LOCATION, location)], json(StatusCode::CREATED, &job)).into_response())
}

/// `POST /api/v1/exports/create`: a job on any schema or dataset; the body is the request,
/// and the answer carries the job's id as `task_id` too (the seed's name).
async fn create_dataset(
    State(state): State<Shared>,
    caller: Caller,
    body: JsonObject,
) -> Result<Response, Problem> {
    let body = body.required()?;
    let request: ExportRequest = crate::error::from_json_value("request", Value::Object(body))?;
    let job = state.engine.create_job(caller.0, request).await?;
    let mut value = serde_json::to_value(&job).map_err(|e| Problem::invalid("job", e))?;
    value["task_id"] = Value::String(job.id.to_string());
    let location = job.id.to_string();
    Ok(([(LOCATION, location)], json(StatusCode::CREATED, &value)).into_response())
}

/// The caller's own jobs, newest first: `?status=&limit=&cursor=`, a `Link: rel="next"`.
async fn list(
    State(state): State<Shared>,
    caller: Caller,
    query: Query,
) -> Result<Response, Problem> {
    query.only(&["status", "limit", "cursor"])?;
    let mut list = ListQuery::default();
    if let Some(status) = query.one("status")? {
        list.status = Some(
            JobStatus::ALL
                .iter()
                .copied()
                .find(|s| s.to_string() == status)
                .ok_or_else(|| {
                    let all: Vec<String> = JobStatus::ALL.iter().map(|s| s.to_string()).collect();
                    Problem::invalid(
                        "status",
                        format!("`{status}`, expected one of {}", all.join(", ")),
                    )
                })?,
        );
    }
    if let Some(limit) = query.number("limit")? {
        list.limit = limit;
    }
    list.cursor = query.one("cursor")?.map(str::to_string);
    let page = state.engine.list_jobs(caller.0, list.clone()).await?;
    let mut headers = HeaderMap::new();
    if let Some(cursor) = &page.next_cursor {
        let mut next = url::form_urlencoded::Serializer::new(String::new());
        if let Some(status) = list.status {
            next.append_pair("status", &status.to_string());
        }
        next.append_pair("limit", &list.limit.to_string());
        next.append_pair("cursor", cursor);
        if let Ok(value) = format!("<?{}>; rel=\"next\"", next.finish()).parse() {
            headers.insert(LINK, value);
        }
    }
    Ok((headers, json(StatusCode::OK, &page)).into_response())
}

async fn read(
    State(state): State<Shared>,
    caller: Caller,
    Segments(id): Segments<String>,
) -> Result<Response, Problem> {
    let job = state.engine.get_job(caller.0, job_id(&id)?).await?;
    Ok(json(StatusCode::OK, &job))
}

async fn status(
    State(state): State<Shared>,
    caller: Caller,
    Segments(id): Segments<String>,
) -> Result<Response, Problem> {
    let view = state.engine.job_status(caller.0, job_id(&id)?).await?;
    Ok(json(StatusCode::OK, &view))
}

/// `DELETE`: cancels a pending or running job (`200` with it), deletes a finished one
/// (`204`).
async fn withdraw(
    State(state): State<Shared>,
    caller: Caller,
    Segments(id): Segments<String>,
) -> Result<Response, Problem> {
    let id = job_id(&id)?;
    let principal = caller.0;
    let done = state
        .engine
        .run_blocking(move |e| e.service().withdraw(&principal, id))
        .await?;
    Ok(match done {
        Withdrawn::Cancelled(job) => json(StatusCode::OK, &job),
        _ => StatusCode::NO_CONTENT.into_response(),
    })
}

/// The finished file: streamed (ranges, `HEAD`), or a redirect to a signed link.
async fn download(
    State(state): State<Shared>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    Segments(id): Segments<String>,
) -> Result<Response, Problem> {
    let id = job_id(&id)?;
    if state.config.downloads == DownloadMode::Redirect {
        let principal = caller.0.clone();
        let expiry = state.config.link_expiry;
        let url = state
            .engine
            .run_blocking(move |e| e.service().download_url(&principal, id, Some(expiry)))
            .await?;
        if let Some(url) = url {
            return Ok((StatusCode::TEMPORARY_REDIRECT, [(LOCATION, url)]).into_response());
        }
    }
    let file = state.engine.download(caller.0, id).await?;
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    Ok(download_response(
        file,
        text(RANGE),
        text(IF_RANGE),
        method == Method::HEAD,
    ))
}
