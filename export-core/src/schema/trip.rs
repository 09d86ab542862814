//! The trip schema (V2 CSV, V3 XLSX) per audience.
