//! The catalogue's dataset exports: the list of datasets, immediate exports
//! (`POST /api/v1/exports/{format}/{dataset}`) and streaming ones
//! (`GET /api/v1/exports/stream/{csv|json}/{dataset}`), both produced while the client reads.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::Value;

use super::Shared;
use super::body::stream_export;
use super::extract::{Caller, JsonObject, Query, Segments};
use super::problem::Problem;
use crate::error::ExportError;
use crate::filter::Predicate;
use crate::principal::{Principal, Scope};
use crate::request::{ExportRequest, Format};

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/exports/datasets", get(datasets))
        .route("/api/v1/exports/{format}/{dataset}", post(export_now))
        .route("/api/v1/exports/stream/{format}/{dataset}", get(stream))
}

#[derive(Serialize)]
struct DatasetView<'a> {
    name: &'a str,
    description: &'a str,
    sheets: Vec<SheetView<'a>>,
}

#[derive(Serialize)]
struct SheetView<'a> {
    name: &'a str,
    columns: Vec<ColumnView<'a>>,
}

#[derive(Serialize)]
struct ColumnView<'a> {
    name: &'a str,
    header: &'a str,
    #[serde(rename = "type")]
    data_type: String,
    nullable: bool,
}

/// `GET /api/v1/exports/datasets`: what can be exported (needs `export.list`).
async fn datasets(
    State(state): State<Shared>,
    caller: Caller,
    query: Query,
) -> Result<Response, Problem> {
    caller.need(Scope::List)?;
    query.only(&[])?;
    let datasets = state.engine.datasets();
    let views: Vec<DatasetView<'_>> = datasets
        .iter()
        .map(|d| DatasetView {
            name: d.name(),
            description: d.about(),
            sheets: d
                .schema()
                .sheets()
                .iter()
                .map(|s| SheetView {
                    name: &s.name,
                    columns: s
                        .columns
                        .iter()
                        .map(|c| ColumnView {
                            name: &c.name,
                            header: &c.header,
                            data_type: c.data_type.to_string(),
                            nullable: c.nullable,
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    Ok((StatusCode::OK, axum::Json(views)).into_response())
}

fn dataset_format(text: &str, streaming: bool) -> Result<Format, Problem> {
    let format = match text {
        "csv" => Format::Csv,
        "json" => Format::Json,
        "jsonl" if !streaming => Format::JsonLines,
        "excel" | "xlsx" if !streaming => Format::Xlsx,
        other => {
            let valid = if streaming {
                "csv, json"
            } else {
                "csv, excel, json, jsonl"
            };
            return Err(Problem::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                format!("no export format `{other}` here; expected one of {valid}"),
            ));
        }
    };
    Ok(format)
}

fn known_dataset(state: &Shared, name: &str) -> Result<(), Problem> {
    match state.engine.datasets().get(name) {
        Some(_) => Ok(()),
        None => Err(Problem::from(ExportError::NotFound {
            kind: "dataset",
            id: name.to_string(),
        })),
    }
}

/// Prepares the export on the blocking pool (validation, sources opened), then streams it:
/// every refusal is a problem response before the first byte.
async fn run(
    state: &Shared,
    principal: Principal,
    request: ExportRequest,
) -> Result<Response, Problem> {
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let export = state
        .engine
        .run_blocking(move |e| e.direct_export(&principal, request, Some(flag)))
        .await?;
    Ok(stream_export(export, cancel))
}

/// `POST /api/v1/exports/{csv|excel|json|jsonl}/{dataset}`: the file, now. The optional JSON
/// body holds the request's other keys (`fields`, `filters`, `options`); needs
/// `export.create` and `export.download`.
async fn export_now(
    State(state): State<Shared>,
    caller: Caller,
    Segments((format, dataset)): Segments<(String, String)>,
    body: JsonObject,
) -> Result<Response, Problem> {
    caller.need(Scope::Create)?;
    caller.need(Scope::Download)?;
    let format = dataset_format(&format, false)?;
    known_dataset(&state, &dataset)?;
    let mut body = body.or_empty();
    for key in ["schema", "format"] {
        if body.contains_key(key) {
            return Err(Problem::invalid(key, "is given by the path, not the body"));
        }
    }
    body.insert("schema".into(), Value::String(dataset));
    body.insert(
        "format".into(),
        serde_json::to_value(format).expect("a format serialises"),
    );
    let request: ExportRequest = crate::error::from_json_value("request", Value::Object(body))?;
    run(&state, caller.0, request).await
}

const STREAM_PARAMS: &[&str] = &[
    "fields",
    "exclude",
    "filter",
    "bom",
    "pretty",
    "lines",
    "delimiter",
    "header",
    "null",
];

/// `GET /api/v1/exports/stream/{csv|json}/{dataset}`: streamed while produced, in constant
/// memory. Query: `fields` and `exclude` (comma lists), `filter` (repeatable, see
/// [`Predicate::parse`]), `bom`, `delimiter`, `header`, `null` (CSV), `pretty` and `lines`
/// (JSON). Needs `export.download`.
async fn stream(
    State(state): State<Shared>,
    caller: Caller,
    Segments((format, dataset)): Segments<(String, String)>,
    query: Query,
) -> Result<Response, Problem> {
    // Before anything else: a caller who may not read data learns nothing of the datasets.
    caller.need(Scope::Download)?;
    let mut format = dataset_format(&format, true)?;
    known_dataset(&state, &dataset)?;
    query.only(STREAM_PARAMS)?;
    let csv_only = ["bom", "delimiter", "header", "null"];
    let json_only = ["pretty", "lines"];
    let wrong = if format == Format::Csv {
        &json_only[..]
    } else {
        &csv_only[..]
    };
    if let Some(key) = wrong.iter().find(|k| query.0.contains_key(**k)) {
        return Err(Problem::invalid(key, format!("does not apply to {format}")));
    }
    if query.flag("lines")? == Some(true) {
        format = Format::JsonLines;
    }
    let mut request = ExportRequest::new(dataset, format);
    let list = |name| -> Result<Vec<String>, Problem> {
        Ok(query
            .one(name)?
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default())
    };
    request.fields.include = list("fields")?;
    request.fields.exclude = list("exclude")?;
    for text in query.all("filter") {
        request.filters.predicates.push(Predicate::parse(text)?);
    }
    let options = &mut request.options;
    if let Some(bom) = query.flag("bom")? {
        options.bom = bom;
    }
    if let Some(header) = query.flag("header")? {
        options.header = header;
    }
    if let Some(pretty) = query.flag("pretty")? {
        options.pretty = pretty;
    }
    if let Some(null) = query.one("null")? {
        options.null = null.to_string();
    }
    if let Some(d) = query.one("delimiter")? {
        let mut chars = d.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => options.delimiter = Some(c),
            _ => {
                return Err(Problem::invalid(
                    "delimiter",
                    format!("`{d}` is not one character"),
                ));
            }
        }
    }
    run(&state, caller.0, request).await
}
