//! XLSX sink.
