//! The `data` argument as a [`Source`]: Arrow IPC bytes (a `Buffer` or `Uint8Array`, stream or
//! file format), or an array of plain objects or arrays converted to [`Value`]s on the main
//! thread and batched by the core's [`RowBatcher`].

use std::sync::Arc;

use arrow_array::RecordBatch;
use export_core::ExportError;
use export_core::source::{IpcSource, IterSource, RowBatcher, Source};
use napi::bindgen_prelude::{Array, JsObjectValue, Object, Unknown};
use napi::{JsValue, ValueType};

use crate::convert::{bytes, cell, type_name};
use crate::errors::Failure;

/// Rows per batch for object and array rows.
pub const DEFAULT_BATCH_ROWS: usize = 8192;

/// How to read row input.
#[derive(Clone, Default)]
pub struct RowOptions {
    /// Column names (array rows; for objects, fixes the columns and their order).
    pub columns: Option<Vec<String>>,
    /// Rows per batch.
    pub batch_rows: Option<usize>,
}

/// The source for `data`.
pub fn source(data: &Unknown<'_>, options: &RowOptions) -> Result<Box<dyn Source>, Failure> {
    let not_data = || {
        Failure::argument(
            "data",
            format!(
                "expected an array of rows (objects or arrays) or Arrow IPC bytes (Buffer, Uint8Array), got a {}",
                type_name(data)
            ),
        )
    };
    if let Some(ipc) = bytes(data).map_err(|r| Failure::argument("data", r))? {
        return arrow_ipc(ipc);
    }
    if data.get_type().ok() != Some(ValueType::Object) || !data.is_array().unwrap_or(false) {
        return Err(not_data());
    }
    let rows = unsafe { data.cast::<Array>() }.map_err(|_| not_data())?;
    rows_source(&rows, options)
}

fn arrow_ipc(ipc: Vec<u8>) -> Result<Box<dyn Source>, Failure> {
    Ok(Box::new(IpcSource::from_bytes("data", ipc)?))
}

/// Every row converted and batched now (they are JS values): the write then runs on a worker.
fn rows_source(rows: &Array<'_>, options: &RowOptions) -> Result<Box<dyn Source>, Failure> {
    let batch_rows = options.batch_rows.unwrap_or(DEFAULT_BATCH_ROWS);
    let mut batcher = match &options.columns {
        Some(columns) => RowBatcher::with_columns(columns.clone(), batch_rows),
        None => RowBatcher::new(batch_rows),
    };
    let mut batches: Vec<RecordBatch> = Vec::new();
    for i in 0..rows.len() {
        let row: Unknown = rows
            .get(i)
            .map_err(|e| Failure::argument("data", e.reason))?
            .ok_or_else(|| Failure::argument("data", format!("no row {i}")))?;
        push(&mut batcher, &row)?;
        if batcher.is_full()
            && let Some(batch) = batcher.flush()?
        {
            batches.push(batch);
        }
    }
    if let Some(batch) = batcher.flush()? {
        batches.push(batch);
    }
    let schema = match batcher.schema() {
        Some(schema) => schema,
        // No row at all: the given columns, as text, or no column.
        None => Arc::new(arrow_schema::Schema::new(
            options
                .columns
                .iter()
                .flatten()
                .map(|c| arrow_schema::Field::new(c, arrow_schema::DataType::Utf8, true))
                .collect::<Vec<_>>(),
        )),
    };
    let ok: fn(RecordBatch) -> export_core::Result<RecordBatch> = Ok;
    Ok(Box::new(IterSource::new(
        schema,
        batches.into_iter().map(ok),
    )))
}

fn push(batcher: &mut RowBatcher, row: &Unknown<'_>) -> Result<(), Failure> {
    let line = batcher.rows() + 1;
    let bad = |reason: String| -> Failure {
        ExportError::InvalidInput {
            source_name: "data".into(),
            line: Some(line),
            reason,
        }
        .into()
    };
    let napi = |e: napi::Error| bad(e.reason);
    if row.get_type().map_err(napi)? != ValueType::Object
        || row.is_date().map_err(napi)?
        || row.is_typedarray().map_err(napi)?
    {
        return Err(bad(format!(
            "a row must be an object or an array, got a {}",
            type_name(row)
        )));
    }
    if row.is_array().map_err(napi)? {
        let items = unsafe { row.cast::<Array>() }.map_err(napi)?;
        let mut values = Vec::with_capacity(items.len() as usize);
        for i in 0..items.len() {
            let item: Unknown = items
                .get(i)
                .map_err(napi)?
                .ok_or_else(|| bad("hole".into()))?;
            values.push(cell(&item).map_err(|reason| bad(format!("item {i}: {reason}")))?);
        }
        return Ok(batcher.push_positional(values)?);
    }
    let object = unsafe { row.cast::<Object>() }.map_err(napi)?;
    let keys = Object::keys(&object).map_err(napi)?;
    let mut pairs = Vec::with_capacity(keys.len());
    for key in keys {
        let item: Unknown = object.get_named_property(&key).map_err(napi)?;
        let value = cell(&item).map_err(|reason| bad(format!("column {key:?}: {reason}")))?;
        pairs.push((key, value));
    }
    Ok(batcher.push_named(pairs)?)
}
