//! Which input columns are written, in which order, under which names, with which widths.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{Field, Schema, SchemaRef};

use super::WriteOptions;
use crate::error::{ExportError, Result};
use crate::schema::{META_SHEET, META_WIDTH};

/// The output columns of one sheet, decided once from its source's schema.
#[derive(Debug)]
pub(super) struct Shape {
    indices: Vec<usize>,
    schema: SchemaRef,
}

impl Shape {
    /// Applies `fields`, then `exclude`, then `rename`, then the XLSX widths and `sheet`'s
    /// name to `input`; every name given must exist.
    pub(super) fn new(
        input: &Schema,
        options: &WriteOptions,
        sheet: Option<&str>,
    ) -> Result<Shape> {
        let unknown = |option: &str, name: &str, known: &[&Field]| {
            let known: Vec<&str> = known.iter().map(|f| f.name().as_str()).collect();
            ExportError::request(
                option,
                format!(
                    "no column `{name}` in the data; its columns are: {}",
                    known.join(", ")
                ),
            )
        };
        let all: Vec<&Field> = input.fields().iter().map(|f| f.as_ref()).collect();
        let mut indices: Vec<usize> = if options.fields.is_empty() {
            (0..all.len()).collect()
        } else {
            options
                .fields
                .iter()
                .map(|name| {
                    input
                        .index_of(name)
                        .map_err(|_| unknown("fields", name, &all))
                })
                .collect::<Result<_>>()?
        };
        for name in &options.exclude {
            let at = input
                .index_of(name)
                .map_err(|_| unknown("exclude", name, &all))?;
            indices.retain(|i| *i != at);
        }
        let mut out: Vec<Field> = indices.iter().map(|i| input.field(*i).clone()).collect();
        for (old, new) in &options.rename {
            let kept: Vec<&Field> = indices.iter().map(|i| input.field(*i)).collect();
            let field = out
                .iter_mut()
                .find(|f| f.name() == old)
                .ok_or_else(|| unknown("rename", old, &kept))?;
            *field = field.clone().with_name(new.clone());
        }
        for (name, width) in &options.column_widths {
            let field = out.iter_mut().find(|f| f.name() == name).ok_or_else(|| {
                ExportError::request(
                    "column_widths",
                    format!("no output column `{name}` (widths use the names after `rename`)"),
                )
            })?;
            if !width.is_finite() || *width < 0.0 {
                return Err(ExportError::request(
                    "column_widths",
                    format!("the width of `{name}` must be a positive number, not {width}"),
                ));
            }
            let mut metadata = field.metadata().clone();
            metadata.insert(META_WIDTH.to_string(), width.to_string());
            *field = field.clone().with_metadata(metadata);
        }
        let mut metadata = input.metadata().clone();
        if let Some(sheet) = sheet {
            metadata.insert(META_SHEET.to_string(), sheet.to_string());
        }
        let schema = Arc::new(Schema::new_with_metadata(out, metadata));
        Ok(Shape { indices, schema })
    }

    /// The output schema.
    pub(super) fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// `batch` (of the input schema) as the output columns.
    pub(super) fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let columns = self
            .indices
            .iter()
            .map(|i| batch.column(*i).clone())
            .collect();
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}
