//! Rows from JS: plain objects or arrays converted to the core's [`Value`]s on the main thread
//! and batched by its [`RowBatcher`] (the [`Feed`](crate::feed::Feed) pushes them).
//!
//! [`Value`]: export_core::source::Value

use export_core::ExportError;
use export_core::source::RowBatcher;
use napi::bindgen_prelude::{Array, JsObjectValue, Object, Unknown};
use napi::{JsValue, ValueType};

use crate::convert::{cell, type_name};
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
    /// Columns that are floats whatever the first batch holds.
    pub float_columns: Option<Vec<String>>,
}

/// Converts one JS row (an object, or an array of positional values) into the batcher.
pub fn push_row(batcher: &mut RowBatcher, row: &Unknown<'_>) -> Result<(), Failure> {
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
            values.push(cell(&item).map_err(|reason| {
                match batcher.columns().and_then(|c| c.get(i as usize)) {
                    Some(name) => bad(format!("column {name:?}: {reason}")),
                    None => bad(format!("item {i}: {reason}")),
                }
            })?);
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
