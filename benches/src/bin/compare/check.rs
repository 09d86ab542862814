//! Reading each output back: the rows it holds, counted by an independent reader.

use std::io::{BufRead, BufReader};
use std::path::Path;

use calamine::{Reader, open_workbook_auto};

/// Data rows in the output file of a line of `group` (header rows not counted).
pub fn rows_in(path: &Path, group: &str) -> Result<u64, String> {
    match group {
        "CSV" => {
            let mut reader = csv::Reader::from_path(path).map_err(|e| e.to_string())?;
            let mut rows = 0;
            let mut record = csv::ByteRecord::new();
            while reader
                .read_byte_record(&mut record)
                .map_err(|e| e.to_string())?
            {
                if record.len() != export_core_benches::COLUMNS {
                    return Err(format!("row {rows} has {} fields", record.len()));
                }
                rows += 1;
            }
            Ok(rows)
        }
        "JSON Lines" => {
            let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
            let mut rows = 0;
            for line in BufReader::with_capacity(1 << 20, file).lines() {
                let line = line.map_err(|e| e.to_string())?;
                let value: serde_json::Value =
                    serde_json::from_str(&line).map_err(|e| format!("line {}: {e}", rows + 1))?;
                if value.as_object().map(|o| o.len()) != Some(export_core_benches::COLUMNS) {
                    return Err(format!("line {} is not a 10-member object", rows + 1));
                }
                rows += 1;
            }
            Ok(rows)
        }
        _ => {
            let mut book = open_workbook_auto(path).map_err(|e| e.to_string())?;
            let mut rows = 0;
            for name in book.sheet_names() {
                let range = book.worksheet_range(&name).map_err(|e| e.to_string())?;
                rows += range.height().saturating_sub(1) as u64;
            }
            Ok(rows)
        }
    }
}
