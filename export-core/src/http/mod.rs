//! The HTTP API (cargo feature `http`): both seeds' routes as one axum [`Router`] over an
//! [`Engine`], which any Rust service mounts, and which `export-core serve` runs.
//!
//! - The registry's `/v3/export` routes (create, list own, read, status, download, cancel or
//!   delete), each under its own scope.
//! - The catalogue's `/api/v1/exports` routes: immediate exports of a dataset
//!   (`POST /api/v1/exports/{csv|excel|json|jsonl}/{dataset}`), streaming
//!   (`GET /api/v1/exports/stream/{csv|json}/{dataset}`), jobs, schedules and platforms,
//!   under `READ_EXPORTS` (list, read, status, download) and `WRITE_EXPORTS` (create, cancel,
//!   delete).
//!
//! The engine does the work and checks everything again (scopes, ownership, the access
//! policy, validation): this layer only turns HTTP into engine calls and engine results into
//! HTTP. Someone else's job, schedule or platform is a `404`, exactly like an unknown one.
//! Errors are `application/problem+json` ([`Problem`]). `docs/http.md` lists the routes and
//! `docs/openapi.yaml` describes them (served at `GET /openapi.yaml`).
//!
//! # Examples
//!
//! Mounting the router in a service, and one request through it:
//!
//! ```
//! use std::sync::Arc;
//! use export_core::engine::{Engine, EngineConfig};
//! use export_core::http::{self, BearerTokens};
//!
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! let mut config = EngineConfig::default();
//! config.job_store.url = "sqlite://:memory:".into();
//! config.storage.url = "memory://".into();
//! config.sources.catalog_products = Some(100);
//! let engine = Engine::open(config)?;
//! let tokens = BearerTokens::from_json(r#"{"t-alice": {"user": "alice", "organisation": "shop-1",
//!                                          "scopes": "READ_EXPORTS,WRITE_EXPORTS"}}"#)?;
//! let app = axum::Router::new().nest("/exports-api", http::router(engine, Arc::new(tokens)));
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! tokio::spawn(async move { axum::serve(listener, app).await });
//!
//! let body = tokio::task::spawn_blocking(move || {
//!     let url = format!("http://{addr}/exports-api/api/v1/exports/stream/csv/products?fields=id,sku&filter=id:range:..2");
//!     ureq::get(&url).header("authorization", "Bearer t-alice").call()?.body_mut().read_to_string()
//! }).await.unwrap().unwrap();
//! assert_eq!(body, "id,sku\n1,SKU-00000001\n2,SKU-00000002\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod auth;
mod body;
mod catalog;
mod extract;
mod jobs;
mod problem;
mod schedules;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header::{ALLOW, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub use auth::{Authenticator, BearerTokens, Unauthenticated};
pub use body::content_disposition;
pub use problem::{PROBLEM_JSON, Problem};

use crate::engine::Engine;

/// The OpenAPI document of the routes (`docs/openapi.yaml`), served at `GET /openapi.yaml`.
pub const OPENAPI_YAML: &str = include_str!("../../../docs/openapi.yaml");

/// Every route of [`router`]: method and path template, as `docs/openapi.yaml` lists them
/// (a test checks the two agree).
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v3/export"),
    ("GET", "/v3/export"),
    ("GET", "/v3/export/{id}"),
    ("DELETE", "/v3/export/{id}"),
    ("GET", "/v3/export/{id}/status"),
    ("GET", "/v3/export/{id}/download"),
    ("GET", "/api/v1/exports/datasets"),
    ("POST", "/api/v1/exports/{format}/{dataset}"),
    ("GET", "/api/v1/exports/stream/{format}/{dataset}"),
    ("POST", "/api/v1/exports/create"),
    ("GET", "/api/v1/exports"),
    ("GET", "/api/v1/exports/{id}"),
    ("DELETE", "/api/v1/exports/{id}"),
    ("GET", "/api/v1/exports/progress/{task_id}"),
    ("GET", "/api/v1/exports/download/{task_id}"),
    ("GET", "/api/v1/exports/schedules"),
    ("POST", "/api/v1/exports/schedules"),
    ("GET", "/api/v1/exports/schedules/{id}"),
    ("PUT", "/api/v1/exports/schedules/{id}"),
    ("DELETE", "/api/v1/exports/schedules/{id}"),
    ("POST", "/api/v1/exports/schedules/{id}/toggle"),
    ("GET", "/api/v1/exports/schedules/{id}/runs"),
    ("GET", "/api/v1/exports/platforms"),
    ("POST", "/api/v1/exports/platforms"),
    ("GET", "/api/v1/exports/platforms/{name}"),
    ("PUT", "/api/v1/exports/platforms/{name}"),
    ("DELETE", "/api/v1/exports/platforms/{name}"),
    ("GET", "/openapi.yaml"),
];

/// How downloads of finished files are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DownloadMode {
    /// Streamed through this server (ranges, `Content-Length`): the default.
    Stream,
    /// A `307` redirect to a signed URL of the object storage, valid for
    /// [`HttpConfig::link_expiry`]; streamed when the storage cannot sign (a local directory).
    Redirect,
}

/// Settings of the router.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpConfig {
    /// The largest request body, in bytes (default 64 KiB): larger ones are a `413`.
    pub body_limit: usize,
    /// How downloads are served (default [`DownloadMode::Stream`]).
    pub downloads: DownloadMode,
    /// How long a signed download link is valid (default 15 minutes; never beyond the job's
    /// retention).
    pub link_expiry: Duration,
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            body_limit: 64 * 1024,
            downloads: DownloadMode::Stream,
            link_expiry: Duration::from_secs(15 * 60),
        }
    }
}

/// What every handler shares.
pub(crate) struct AppState {
    pub(crate) engine: Engine,
    pub(crate) auth: Arc<dyn Authenticator>,
    pub(crate) config: HttpConfig,
}

pub(crate) type Shared = Arc<AppState>;

/// Both seeds' routes over `engine`, authenticating with `auth`, with the default
/// [`HttpConfig`]. See the [module documentation](self).
pub fn router(engine: Engine, auth: Arc<dyn Authenticator>) -> Router {
    router_with(engine, auth, HttpConfig::default())
}

/// As [`router`], with `config`.
pub fn router_with(engine: Engine, auth: Arc<dyn Authenticator>, config: HttpConfig) -> Router {
    let limit = config.body_limit;
    let state = Arc::new(AppState {
        engine,
        auth,
        config,
    });
    Router::new()
        .merge(jobs::routes())
        .merge(catalog::routes())
        .merge(schedules::routes())
        .route("/openapi.yaml", get(openapi))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(catch_panic))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// A handler that panics answers `500 INTERNAL` instead of dropping the connection, and the
/// server goes on (the engine's state is behind its own locks and transactions).
async fn catch_panic(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use futures::FutureExt;
    match std::panic::AssertUnwindSafe(next.run(request))
        .catch_unwind()
        .await
    {
        Ok(response) => response,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic = %what, "request handler panicked");
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "internal error; the request was not completed",
            )
            .into_response()
        }
    }
}

async fn openapi() -> Response {
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/yaml"))],
        OPENAPI_YAML,
    )
        .into_response()
}

async fn route_not_found(method: Method, uri: Uri) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "ROUTE_NOT_FOUND",
        format!("no route {method} {}", uri.path()),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> Problem {
    let path = uri.path();
    let allow = allowed_methods(path).join(", ");
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!("{method} is not allowed on {path}; allowed: {allow}"),
    )
    .header(ALLOW, &allow)
}

/// The methods of the route `path` resolves to: among the templates it fits (`{name}`
/// matching one segment), the one with the most static segments, as the router picks.
fn allowed_methods(path: &str) -> Vec<&'static str> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let fits = |template: &str| {
        let t: Vec<&str> = template.trim_matches('/').split('/').collect();
        (t.len() == segments.len()
            && t.iter()
                .zip(&segments)
                .all(|(t, p)| t.starts_with('{') || t == p))
        .then(|| t.iter().filter(|t| !t.starts_with('{')).count())
    };
    let best = ROUTES.iter().filter_map(|(_, t)| fits(t)).max();
    ROUTES
        .iter()
        .filter(|(_, t)| best.is_some() && fits(t) == best)
        .map(|(m, _)| *m)
        .collect()
}
