//! Schedules and export platforms over HTTP (`/api/v1/exports/schedules`,
//! `/api/v1/exports/platforms`): each call is the [`ScheduleManager`](crate::schedule::ScheduleManager)'s,
//! which checks scopes and ownership.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::Value;

use super::Shared;
use super::extract::{Caller, JsonObject, Query, Segments};
use super::problem::Problem;
use crate::job::Owner;
use crate::platform::Platform;
use crate::request::ExportRequest;
use crate::schedule::{ScheduleChanges, ScheduleQuery, ScheduleSpec};

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/api/v1/exports/schedules",
            get(list_schedules).post(create_schedule),
        )
        .route(
            "/api/v1/exports/schedules/{id}",
            get(get_schedule)
                .put(update_schedule)
                .delete(delete_schedule),
        )
        .route("/api/v1/exports/schedules/{id}/toggle", post(toggle))
        .route("/api/v1/exports/schedules/{id}/runs", get(runs))
        .route(
            "/api/v1/exports/platforms",
            get(list_platforms).post(create_platform),
        )
        .route(
            "/api/v1/exports/platforms/{name}",
            get(get_platform)
                .put(update_platform)
                .delete(delete_platform),
        )
}

fn ok(value: &impl serde::Serialize) -> Response {
    (StatusCode::OK, axum::Json(value)).into_response()
}

/// Runs `work` with the engine's schedule manager on the blocking pool.
async fn manage<T, W>(state: &Shared, work: W) -> Result<T, Problem>
where
    T: Send + 'static,
    W: FnOnce(&crate::schedule::ScheduleManager) -> crate::Result<T> + Send + 'static,
{
    Ok(state
        .engine
        .run_blocking(move |e| work(&e.schedules()))
        .await?)
}

async fn list_schedules(
    State(state): State<Shared>,
    caller: Caller,
    query: Query,
) -> Result<Response, Problem> {
    query.only(&["platform", "enabled"])?;
    let filter = ScheduleQuery {
        platform: query.one("platform")?.map(str::to_string),
        enabled: query.flag("enabled")?,
        ..ScheduleQuery::default()
    };
    let p = caller.0;
    let list = manage(&state, move |m| m.list_schedules(&p, &filter)).await?;
    Ok(ok(&list))
}

/// `POST`: a [`ScheduleSpec`] (owned by the caller unless it names an owner, which needs
/// `export.admin`); `201` with the schedule and its `Location`.
async fn create_schedule(
    State(state): State<Shared>,
    caller: Caller,
    body: JsonObject,
) -> Result<Response, Problem> {
    let spec: ScheduleSpec =
        crate::error::from_json_value("schedule", Value::Object(body.required()?))?;
    let p = caller.0;
    let schedule = manage(&state, move |m| {
        let new = spec.into_new(&p.owner());
        m.create_schedule(&p, new)
    })
    .await?;
    let location = format!("schedules/{}", schedule.id);
    Ok((
        StatusCode::CREATED,
        [(LOCATION, location)],
        axum::Json(schedule),
    )
        .into_response())
}

async fn get_schedule(
    State(state): State<Shared>,
    caller: Caller,
    Segments(id): Segments<String>,
) -> Result<Response, Problem> {
    let p = caller.0;
    Ok(ok(&manage(&state, move |m| m.get_schedule(&p, &id)).await?))
}

/// `PUT`: changes (see [`ScheduleChanges::from_json`]); a new trigger recomputes the next run.
async fn update_schedule(
    State(state): State<Shared>,
    caller: Caller,
    Segments(id): Segments<String>,
    body: JsonObject,
) -> Result<Response, Problem> {
    let changes = ScheduleChanges::from_json("schedule", Value::Object(body.required()?))?;
    let p = caller.0;
    Ok(ok(&manage(&state, move |m| {
        m.update_schedule(&p, &id, &changes)
    })
    .await?))
}

async fn delete_schedule(
    State(state): State<Shared>,
    caller: Caller,
    Segments(id): Segments<String>,
) -> Result<Response, Problem> {
    let p = caller.0;
    manage(&state, move |m| m.delete_schedule(&p, &id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn toggle(
    State(state): State<Shared>,
    caller: Caller,
    Segments(id): Segments<String>,
) -> Result<Response, Problem> {
    let p = caller.0;
    Ok(ok(&manage(&state, move |m| m.toggle(&p, &id)).await?))
}

/// `GET .../runs?limit=`: the schedule's runs, newest first (default 20).
async fn runs(
    State(state): State<Shared>,
    caller: Caller,
    Segments(id): Segments<String>,
    query: Query,
) -> Result<Response, Problem> {
    query.only(&["limit"])?;
    let limit = query.number("limit")?.unwrap_or(20);
    let p = caller.0;
    Ok(ok(&manage(&state, move |m| {
        m.schedule_runs(&p, &id, limit)
    })
    .await?))
}

/// A platform as a client sends it: the stored one without its timestamps.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlatformBody {
    name: String,
    #[serde(default)]
    description: String,
    request: ExportRequest,
    #[serde(default)]
    owner: Option<Owner>,
}

impl PlatformBody {
    fn into_platform(self, now: chrono::DateTime<chrono::Utc>) -> Platform {
        Platform {
            owner: self.owner,
            ..Platform::new(self.name, self.request, now).description(self.description)
        }
    }
}

async fn list_platforms(
    State(state): State<Shared>,
    caller: Caller,
    query: Query,
) -> Result<Response, Problem> {
    query.only(&[])?;
    let p = caller.0;
    Ok(ok(&manage(&state, move |m| m.list_platforms(&p)).await?))
}

async fn create_platform(
    State(state): State<Shared>,
    caller: Caller,
    body: JsonObject,
) -> Result<Response, Problem> {
    let body: PlatformBody =
        crate::error::from_json_value("platform", Value::Object(body.required()?))?;
    let p = caller.0;
    let now = state.engine.clock().now();
    let platform = manage(&state, move |m| {
        m.create_platform(&p, body.into_platform(now))
    })
    .await?;
    let location = format!("platforms/{}", platform.name);
    Ok((
        StatusCode::CREATED,
        [(LOCATION, location)],
        axum::Json(platform),
    )
        .into_response())
}

async fn get_platform(
    State(state): State<Shared>,
    caller: Caller,
    Segments(name): Segments<String>,
) -> Result<Response, Problem> {
    let p = caller.0;
    Ok(ok(
        &manage(&state, move |m| m.get_platform(&p, &name)).await?
    ))
}

/// `PUT`: the platform's new description and request (its name is the path's).
async fn update_platform(
    State(state): State<Shared>,
    caller: Caller,
    Segments(name): Segments<String>,
    body: JsonObject,
) -> Result<Response, Problem> {
    let mut body = body.required()?;
    match body.get("name") {
        None => {
            body.insert("name".into(), Value::String(name.clone()));
        }
        Some(Value::String(n)) if *n == name => {}
        Some(_) => return Err(Problem::invalid("name", "differs from the path's")),
    }
    if body.contains_key("owner") {
        return Err(Problem::invalid(
            "owner",
            "a platform's owner cannot change",
        ));
    }
    let body: PlatformBody = crate::error::from_json_value("platform", Value::Object(body))?;
    let p = caller.0;
    let now = state.engine.clock().now();
    Ok(ok(&manage(&state, move |m| {
        m.update_platform(&p, body.into_platform(now))
    })
    .await?))
}

async fn delete_platform(
    State(state): State<Shared>,
    caller: Caller,
    Segments(name): Segments<String>,
) -> Result<Response, Problem> {
    let p = caller.0;
    manage(&state, move |m| m.delete_platform(&p, &name)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
