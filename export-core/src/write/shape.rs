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
    /// name to `input`; every name given must exist. With `several` sheets, a name this sheet
    /// lacks is skipped (each must be in some sheet: [`check_names`]), and a sheet holding
    /// none of `fields` is written whole.
    pub(super) fn new(
        input: &Schema,
        options: &WriteOptions,
        sheet: Option<&str>,
        several: bool,
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
        let selected = options
            .fields
            .iter()
            .filter(|name| !several || input.index_of(name).is_ok());
        let mut indices: Vec<usize> = if selected.clone().next().is_none() {
            (0..all.len()).collect()
        } else {
            selected
                .map(|name| {
                    input
                        .index_of(name)
                        .map_err(|_| unknown("fields", name, &all))
                })
                .collect::<Result<_>>()?
        };
        for name in &options.exclude {
            match input.index_of(name) {
                Ok(at) => indices.retain(|i| *i != at),
                Err(_) if several => {}
                Err(_) => return Err(unknown("exclude", name, &all)),
            }
        }
        let mut out: Vec<Field> = indices.iter().map(|i| input.field(*i).clone()).collect();
        for (old, new) in &options.rename {
            let kept: Vec<&Field> = indices.iter().map(|i| input.field(*i)).collect();
            match out.iter_mut().find(|f| f.name() == old) {
                Some(field) => *field = field.clone().with_name(new.clone()),
                None if several => {}
                None => return Err(unknown("rename", old, &kept)),
            }
        }
        for (name, width) in &options.column_widths {
            let Some(field) = out.iter_mut().find(|f| f.name() == name) else {
                if several {
                    continue;
                }
                return Err(ExportError::request(
                    "column_widths",
                    format!("no output column `{name}` (widths use the names after `rename`)"),
                ));
            };
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

    /// Every name an option gives is in some sheet: the input's columns for `fields`,
    /// `exclude` and `rename`, the output's for `column_widths`.
    pub(super) fn check_names(
        options: &WriteOptions,
        inputs: &[SchemaRef],
        shapes: &[Shape],
    ) -> Result<()> {
        let in_input = |name: &str| inputs.iter().any(|s| s.index_of(name).is_ok());
        let lists = [
            ("fields", options.fields.iter().collect::<Vec<_>>()),
            ("exclude", options.exclude.iter().collect()),
            ("rename", options.rename.keys().collect()),
        ];
        for (option, names) in lists {
            if let Some(name) = names.into_iter().find(|n| !in_input(n)) {
                return Err(ExportError::request(
                    option,
                    format!("no column `{name}` in any sheet"),
                ));
            }
        }
        let in_output = |name: &str| shapes.iter().any(|s| s.schema.index_of(name).is_ok());
        if let Some(name) = options.column_widths.keys().find(|n| !in_output(n)) {
            return Err(ExportError::request(
                "column_widths",
                format!(
                    "no output column `{name}` in any sheet (widths use the names after `rename`)"
                ),
            ));
        }
        Ok(())
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
