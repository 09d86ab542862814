//! # export-core
//!
//! A streaming export engine: Arrow record batches in, CSV, XLSX, JSON or JSON Lines files out,
//! in constant memory.
//!
//! Data flows `source` → `filter`/`privacy` → `schema` (derive, select, rename) → `sink`:
//!
//! - [`source`]: where batches come from (iterators, streams, Arrow IPC and CSV files, sample trips).
//! - [`request`]: what an export asks for (schema, version, audience, format, period, filters, options).
//! - [`filter`]: which rows are kept.
//! - [`privacy`]: opendata transforms (coarse times and positions, rare-zone suppression, keyed ids).
//! - [`schema`]: the columns of an export, including the built-in [`schema::trip`] schema.
//! - [`sink`]: the file formats.
//! - [`output`]: files that become visible only when complete.
//! - [`error`]: [`ExportError`] and [`Result`].

#![warn(missing_docs)]

pub mod audit;
pub mod clock;
pub mod error;
pub mod export;
pub mod filter;
pub mod job;
pub mod output;
pub mod privacy;
pub mod registry;
pub mod request;
pub mod retention;
pub mod schedule;
pub mod schema;
pub mod service;
pub mod sink;
pub mod source;
pub mod storage;
pub mod temporal;
pub mod worker;

pub use error::{ExportError, Result};

// The README's examples are compiled by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

#[cfg(doctest)]
#[doc = include_str!("../../docs/guide.md")]
struct GuideDoctests;
