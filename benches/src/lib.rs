//! Shared helpers for the export-core benchmarks.
