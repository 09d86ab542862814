//! The Node binding of export-core (the `export-core` npm package).
//!
//! Thin by design, like the Python binding: each function converts its arguments on the main
//! thread (JS values cannot leave it), runs the core on libuv's thread pool, and settles its
//! promise with a summary or an `Error` whose `code` is `EXPORT_` and the core's code.

mod convert;
mod errors;
mod input;
mod writers;

pub use writers::{Summary, export_trips, panic_for_tests, write_csv, write_json, write_xlsx};
