//! Source adapter: csv_file.
