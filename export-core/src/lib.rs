//! # export-core
//!
//! A streaming export engine: Arrow record batches in, CSV, XLSX, JSON or JSON Lines files out,
//! in constant memory, run directly or as background jobs that can be followed, cancelled,
//! downloaded and expired on time.
//!
//! Data flows `source` → `filter`/`privacy` → `schema` (derive, select, rename) → `sink`:
//!
//! - [`source`]: where batches come from (iterators, streams, Arrow IPC and CSV files, sample trips).
//! - [`request`]: what an export asks for (schema, version, audience, format, period, filters, options).
//! - [`filter`]: which rows are kept.
//! - [`privacy`]: opendata transforms (coarse times and positions, rare-zone suppression, keyed ids).
//! - [`schema`]: the columns of an export, including the built-in [`schema::trip`] schema;
//!   [`registry`] holds the user-defined ones.
//! - [`sink`]: the file formats ([`sink::csv`], [`sink::xlsx`], [`sink::json`]).
//! - [`export`]: the pipeline, [`export::Exporter`], that runs a request over a source into a writer.
//! - [`output`]: local files that become visible only when complete.
//! - [`write`](mod@write): plain writers, any source to CSV, XLSX or JSON with column selection and every
//!   sink option (the bindings' `write_csv`, `write_xlsx`, `write_json`, the CLI's `convert`).
//!
//! Around it, the background-job machinery of the seeds:
//!
//! - [`engine`]: [`engine::Engine`], built from an [`engine::EngineConfig`], wires all of the
//!   below; every front end (CLI, bindings, HTTP) wraps one.
//! - [`job`]: jobs, their state machine, and the memory, SQLite and PostgreSQL job stores.
//! - [`dataset`]: named datasets (a schema plus its source) that jobs, schedules and routes
//!   export, with the catalogue seed's sample products, suppliers and categories.
//! - [`worker`]: claims jobs, runs them with heartbeats and cancellation, publishes the file.
//! - [`storage`]: local, S3-compatible and in-memory storage with atomic publication.
//! - [`service`]: the export API over a principal's scopes, with ownership checks.
//! - [`access`]: the access policy deciding what data a principal may export.
//! - [`audit`]: an audit event for every create, download, cancel, delete and expiry.
//! - [`retention`]: how long files are kept, and the purge that deletes and anonymises.
//! - [`schedule`]: cron and interval triggers in a time zone, schedules, their stores and the
//!   scheduler that turns them into jobs exactly once per fire time.
//! - [`platform`]: export platforms, named presets that schedules and jobs refer to.
//! - [`runtime`]: the one tokio runtime that drives I/O, and how blocking code waits on it.
//! - [`db`]: the database layer under the SQL stores: one handle (pool) per database, one
//!   migration runner, one mapping of driver errors.
//! - [`temporal`]: time zones and local times as sinks, filters and schedules write them.
//! - [`clock`]: time as the library reads it (a manual clock for tests).
//! - [`error`]: [`ExportError`] and [`Result`].
//!
//! # Cargo features
//!
//! The default features are empty: the embedded engine (SQLite stores, bundled; local and
//! in-memory storage; CSV, XLSX, JSON and JSON Lines; Arrow IPC and CSV input). Opt in to
//! `postgres` (PostgreSQL job, schedule and audit stores), `s3` (S3-compatible storage),
//! `parquet` (the Parquet source), `http` (the HTTP API: an axum router over an engine) and `cli` (the `export-core` binary, with all of these).
//!
//! # Diagnostics
//!
//! The library never prints: it emits [`tracing`](https://docs.rs/tracing) events, inside spans
//! carrying `worker_id` and `job_id` (a worker's run of a job), `schedule_id` (a scheduler's
//! fire of a schedule), `scheduler_id`, and `job_id` for the service's operations on a job.
//! Install any subscriber to see them; the CLI's `-v` does.

#![warn(missing_docs)]

pub mod access;
pub mod audit;
pub mod clock;
pub mod dataset;
pub mod db;
pub mod engine;
pub mod error;
pub mod export;
pub mod filter;
#[cfg(feature = "http")]
pub mod http;
pub mod job;
pub mod output;
pub mod platform;
mod principal;
pub mod privacy;
pub mod registry;
pub mod request;
pub mod retention;
pub mod runtime;
pub mod schedule;
pub mod schema;
pub mod service;
pub mod sink;
pub mod source;
pub mod storage;
pub mod temporal;
pub mod worker;
pub mod write;

pub use error::{ExportError, Result};

// The README's examples are compiled by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

#[cfg(doctest)]
#[doc = include_str!("../../docs/guide.md")]
struct GuideDoctests;

#[cfg(doctest)]
#[doc = include_str!("../../docs/schedules.md")]
struct SchedulesDoctests;

// Its examples read Parquet and build PostgreSQL sources.
#[cfg(all(doctest, feature = "parquet", feature = "postgres"))]
#[doc = include_str!("../../docs/sources.md")]
struct SourcesDoctests;
