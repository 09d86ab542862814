//! The Node binding of export-core (the `export-core` npm package).
//!
//! Thin by design, like the Python binding: each function converts its arguments on the main
//! thread (JS values cannot leave it) and runs the core on a thread of its own, never on the
//! main thread nor on libuv's small pool; promises settle with the outcome or an `Error` whose
//! `code` is `EXPORT_` and the core's code. The package's JS layer (`export-core.js`) builds the
//! public API on these: Promises, streams, async iterables, `AbortSignal`.

mod convert;
mod engine;
mod errors;
mod feed;
mod input;
mod task;
mod writers;

pub use engine::{Download, Engine, WorkerRun};
pub use feed::Feed;
pub use task::ExportTask;
pub use writers::{Summary, panic_for_tests, sample_trips, start_trips, start_write};
