//! Export schemas: the ordered, typed, documented columns of an export.
//!
//! An [`ExportSchema`] has one or more [`Sheet`]s of [`Column`]s. Each column has a stable
//! `name` (what field selections, renames and filters refer to), a `header` label written in
//! files, an Arrow type, and presentation hints (Excel number format, width, description, unit).
//!
//! Sinks never see an `ExportSchema`: [`ExportSchema::output_schema`] turns a sheet into an
//! Arrow schema whose field names are the headers and whose field metadata carries the hints
//! (keys [`META_NUM_FORMAT`], [`META_WIDTH`], ...), and whose schema metadata names the sheet
//! ([`META_SHEET`]). Any batch built on that schema carries everything a sink needs.

pub(crate) mod builtin;
pub mod rules;
pub mod trip;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::error::{ExportError, Result};

/// Field metadata key: the Excel number format of a column (`yyyy-mm-dd`, `0.00`, `[h]:mm:ss`).
pub const META_NUM_FORMAT: &str = "export:num_format";
/// Field metadata key: the column width in Excel character units.
pub const META_WIDTH: &str = "export:width";
/// Field metadata key: a one-sentence description for data dictionaries.
pub const META_DESCRIPTION: &str = "export:description";
/// Field metadata key: the unit of the values (`km`, `EUR`, `s`).
pub const META_UNIT: &str = "export:unit";
/// Schema metadata key: the sheet a batch belongs to (XLSX sheet name).
pub const META_SHEET: &str = "export:sheet";

/// One column of an export.
///
/// # Examples
///
/// ```
/// use arrow_schema::DataType;
/// use export_core::schema::Column;
///
/// let price = Column::new("price", DataType::Float64)
///     .header("Price (EUR)")
///     .num_format("#,##0.00 [$€-40C]")
///     .width(12.0)
///     .description("Unit price, taxes included")
///     .unit("EUR");
/// assert_eq!(price.header, "Price (EUR)");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// Stable name used in selections, renames and filters; also the input field it is read from
    /// in schemas without a derivation step.
    pub name: String,
    /// Label written in the header row (defaults to `name`).
    pub header: String,
    /// Arrow type of the column in the output batch.
    pub data_type: DataType,
    /// Whether the column may hold nulls.
    pub nullable: bool,
    /// Excel number format, when the default for the type is not wanted.
    pub num_format: Option<String>,
    /// Column width in Excel character units.
    pub width: Option<f64>,
    /// One sentence for the data dictionary.
    pub description: String,
    /// Unit of the values, if any.
    pub unit: Option<String>,
}

impl Column {
    /// A nullable column whose header is its name.
    pub fn new(name: impl Into<String>, data_type: DataType) -> Column {
        let name = name.into();
        Column {
            header: name.clone(),
            name,
            data_type,
            nullable: true,
            num_format: None,
            width: None,
            description: String::new(),
            unit: None,
        }
    }
    /// Sets the header label.
    pub fn header(mut self, header: impl Into<String>) -> Column {
        self.header = header.into();
        self
    }
    /// Marks the column as never null.
    pub fn required(mut self) -> Column {
        self.nullable = false;
        self
    }
    /// Sets the Excel number format.
    pub fn num_format(mut self, format: impl Into<String>) -> Column {
        self.num_format = Some(format.into());
        self
    }
    /// Sets the width in Excel character units.
    pub fn width(mut self, width: f64) -> Column {
        self.width = Some(width);
        self
    }
    /// Sets the description.
    pub fn description(mut self, text: impl Into<String>) -> Column {
        self.description = text.into();
        self
    }
    /// Sets the unit.
    pub fn unit(mut self, unit: impl Into<String>) -> Column {
        self.unit = Some(unit.into());
        self
    }

    /// The Arrow field of this column in output batches: named by the header, hints in metadata.
    pub fn output_field(&self) -> Field {
        let mut meta = HashMap::new();
        if let Some(f) = &self.num_format {
            meta.insert(META_NUM_FORMAT.to_string(), f.clone());
        }
        if let Some(w) = self.width {
            meta.insert(META_WIDTH.to_string(), w.to_string());
        }
        if !self.description.is_empty() {
            meta.insert(META_DESCRIPTION.to_string(), self.description.clone());
        }
        if let Some(u) = &self.unit {
            meta.insert(META_UNIT.to_string(), u.clone());
        }
        Field::new(&self.header, self.data_type.clone(), self.nullable).with_metadata(meta)
    }
}

/// A named group of columns: an XLSX sheet, or the whole of a CSV or JSON file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sheet {
    /// Sheet name (at most 31 characters in XLSX).
    pub name: String,
    /// Columns in output order.
    pub columns: Vec<Column>,
}

impl Sheet {
    /// A sheet of `columns`.
    pub fn new(name: impl Into<String>, columns: Vec<Column>) -> Sheet {
        Sheet {
            name: name.into(),
            columns,
        }
    }
    /// Looks a column up by name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Which fields an export keeps, and under which header.
///
/// Names refer to [`Column::name`]. An empty `include` keeps every column; `exclude` then
/// removes some; `rename` maps a name to a new header label.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FieldSelection {
    /// Columns to keep, in schema order (empty: all).
    pub include: Vec<String>,
    /// Columns to drop.
    pub exclude: Vec<String>,
    /// New header labels by column name.
    pub rename: BTreeMap<String, String>,
}

impl FieldSelection {
    /// True when the selection keeps every column unchanged.
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty() && self.rename.is_empty()
    }
}

/// The columns of an export, in one or more sheets.
///
/// # Examples
///
/// ```
/// use arrow_schema::DataType;
/// use export_core::schema::{Column, ExportSchema, FieldSelection};
///
/// let schema = ExportSchema::new("products", vec![
///     Column::new("sku", DataType::Utf8).required(),
///     Column::new("name", DataType::Utf8),
///     Column::new("price", DataType::Float64),
/// ]);
/// let selection = FieldSelection { exclude: vec!["name".into()], ..Default::default() };
/// let kept = schema.select(&selection).unwrap();
/// assert_eq!(kept.column_names(), ["sku", "price"]);
///
/// let bad = FieldSelection { include: vec!["colour".into()], ..Default::default() };
/// let err = schema.select(&bad).unwrap_err().to_string();
/// assert_eq!(err, "unknown field `colour` in schema `products`; valid fields are: sku, name, price");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportSchema {
    name: String,
    sheets: Vec<Sheet>,
}

impl ExportSchema {
    /// A one-sheet schema; the sheet is named after the schema.
    pub fn new(name: impl Into<String>, columns: Vec<Column>) -> ExportSchema {
        let name = name.into();
        ExportSchema {
            sheets: vec![Sheet::new(name.clone(), columns)],
            name,
        }
    }

    /// A schema of several sheets (for example products, suppliers and categories).
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] when there is no sheet or two sheets share a name.
    pub fn with_sheets(name: impl Into<String>, sheets: Vec<Sheet>) -> Result<ExportSchema> {
        if sheets.is_empty() {
            return Err(ExportError::request(
                "sheets",
                "a schema needs at least one sheet",
            ));
        }
        for (i, s) in sheets.iter().enumerate() {
            if sheets[..i].iter().any(|o| o.name == s.name) {
                return Err(ExportError::request(
                    "sheets",
                    format!("sheet name `{}` is used twice", s.name),
                ));
            }
        }
        Ok(ExportSchema {
            name: name.into(),
            sheets,
        })
    }

    /// The schema's name (`trip`, `products`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// All sheets, in order.
    pub fn sheets(&self) -> &[Sheet] {
        &self.sheets
    }

    /// The first sheet's columns (the only sheet of most schemas).
    pub fn columns(&self) -> &[Column] {
        &self.sheets[0].columns
    }

    /// The first sheet's column names, in order.
    pub fn column_names(&self) -> Vec<&str> {
        self.columns().iter().map(|c| c.name.as_str()).collect()
    }

    /// Looks a column up by name in any sheet.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.sheets.iter().find_map(|s| s.column(name))
    }

    fn all_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for c in self.sheets.iter().flat_map(|s| &s.columns) {
            if !names.contains(&c.name) {
                names.push(c.name.clone());
            }
        }
        names
    }

    fn unknown(&self, field: &str) -> ExportError {
        ExportError::UnknownField {
            field: field.to_string(),
            schema: self.name.clone(),
            valid: self.all_names(),
        }
    }

    /// Applies a field selection: keeps the included columns (all when none are named), drops
    /// the excluded ones and relabels the renamed ones. Sheets left without columns are dropped.
    ///
    /// # Errors
    ///
    /// [`ExportError::UnknownField`] listing the valid names when a name is not in the schema;
    /// [`ExportError::InvalidRequest`] when nothing is left or two headers collide.
    pub fn select(&self, selection: &FieldSelection) -> Result<ExportSchema> {
        for name in selection
            .include
            .iter()
            .chain(&selection.exclude)
            .chain(selection.rename.keys())
        {
            if self.column(name).is_none() {
                return Err(self.unknown(name));
            }
        }
        let mut sheets = Vec::new();
        for sheet in &self.sheets {
            let columns: Vec<Column> = sheet
                .columns
                .iter()
                .filter(|c| selection.include.is_empty() || selection.include.contains(&c.name))
                .filter(|c| !selection.exclude.contains(&c.name))
                .map(|c| match selection.rename.get(&c.name) {
                    Some(h) => c.clone().header(h.clone()),
                    None => c.clone(),
                })
                .collect();
            for (i, c) in columns.iter().enumerate() {
                if columns[..i].iter().any(|o| o.header == c.header) {
                    return Err(ExportError::request(
                        "fields.rename",
                        format!(
                            "two columns of sheet `{}` would both be headed `{}`",
                            sheet.name, c.header
                        ),
                    ));
                }
            }
            if !columns.is_empty() {
                sheets.push(Sheet {
                    name: sheet.name.clone(),
                    columns,
                });
            }
        }
        if sheets.is_empty() {
            return Err(ExportError::request(
                "fields",
                "the selection leaves no column to export",
            ));
        }
        Ok(ExportSchema {
            name: self.name.clone(),
            sheets,
        })
    }

    /// The Arrow schema of output batches for sheet `index`: fields named by header, presentation
    /// hints in field metadata, the sheet name in schema metadata.
    ///
    /// # Panics
    ///
    /// When `index` is not a sheet index.
    pub fn output_schema(&self, index: usize) -> SchemaRef {
        let sheet = &self.sheets[index];
        let fields: Vec<Field> = sheet.columns.iter().map(Column::output_field).collect();
        let meta = HashMap::from([(META_SHEET.to_string(), sheet.name.clone())]);
        Arc::new(Schema::new_with_metadata(fields, meta))
    }

    /// Builds the output batch of sheet `index` from a batch whose columns are named by
    /// [`Column::name`] (an input batch, or the result of a derivation step): picks the sheet's
    /// columns in order, coerces compatible types (narrower integers, other string encodings,
    /// other timestamp units) and checks the rest.
    ///
    /// # Errors
    ///
    /// [`ExportError::MissingColumn`] when the batch lacks a column;
    /// [`ExportError::ColumnType`] naming the column, the expected and the actual type.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_array::{Int64Array, RecordBatch, StringArray};
    /// use arrow_schema::DataType;
    /// use export_core::schema::{Column, ExportSchema};
    ///
    /// let schema = ExportSchema::new("products", vec![Column::new("price", DataType::Float64)]);
    /// let input = RecordBatch::try_from_iter([
    ///     ("price", Arc::new(StringArray::from(vec!["9.99"])) as _),
    /// ]).unwrap();
    /// let err = schema.project(0, &input).unwrap_err();
    /// assert_eq!(err.to_string(), "column `price` has type Utf8, expected Float64");
    /// ```
    pub fn project(&self, index: usize, batch: &RecordBatch) -> Result<RecordBatch> {
        let sheet = &self.sheets[index];
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(sheet.columns.len());
        for column in &sheet.columns {
            let array =
                batch
                    .column_by_name(&column.name)
                    .ok_or_else(|| ExportError::MissingColumn {
                        column: column.name.clone(),
                        expected: column.data_type.to_string(),
                    })?;
            arrays.push(coerce(&column.name, array, &column.data_type)?);
        }
        let schema = self.output_schema(index);
        let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        Ok(RecordBatch::try_new_with_options(schema, arrays, &options)?)
    }
}

/// Returns `array` as `expected`, casting only where no information is lost.
pub(crate) fn coerce(name: &str, array: &ArrayRef, expected: &DataType) -> Result<ArrayRef> {
    let actual = array.data_type();
    if actual == expected {
        return Ok(array.clone());
    }
    if let (DataType::Timestamp(_, _), DataType::Timestamp(unit, tz)) = (actual, expected) {
        return relabel_timestamp(array, *unit, tz.clone());
    }
    if lossless(actual, expected) {
        return Ok(arrow_cast::cast(array, expected)?);
    }
    Err(ExportError::ColumnType {
        column: name.to_string(),
        expected: expected.to_string(),
        actual: actual.to_string(),
    })
}

/// Converts a timestamp column to `unit` and labels it with `tz`, keeping the UTC instants:
/// arrow-cast refuses zone changes without its `chrono-tz` feature, and none is needed since
/// Arrow timestamps always count from the UTC epoch.
fn relabel_timestamp(
    array: &ArrayRef,
    unit: arrow_schema::TimeUnit,
    tz: Option<Arc<str>>,
) -> Result<ArrayRef> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::*;
    use arrow_schema::TimeUnit;
    let DataType::Timestamp(_, from_tz) = array.data_type() else {
        return Ok(array.clone());
    };
    // Change the unit first, keeping the source label, so arrow-cast only rescales.
    let same_zone = DataType::Timestamp(unit, from_tz.clone());
    let scaled = if array.data_type() == &same_zone {
        array.clone()
    } else {
        arrow_cast::cast(array, &same_zone)?
    };
    // `scaled` is a timestamp array of `unit`, so each `as_primitive` below matches its type.
    Ok(match unit {
        TimeUnit::Second => Arc::new(
            scaled
                .as_primitive::<TimestampSecondType>()
                .clone()
                .with_timezone_opt(tz),
        ),
        TimeUnit::Millisecond => Arc::new(
            scaled
                .as_primitive::<TimestampMillisecondType>()
                .clone()
                .with_timezone_opt(tz),
        ),
        TimeUnit::Microsecond => Arc::new(
            scaled
                .as_primitive::<TimestampMicrosecondType>()
                .clone()
                .with_timezone_opt(tz),
        ),
        TimeUnit::Nanosecond => Arc::new(
            scaled
                .as_primitive::<TimestampNanosecondType>()
                .clone()
                .with_timezone_opt(tz),
        ),
    })
}

fn lossless(actual: &DataType, expected: &DataType) -> bool {
    use DataType::*;
    let stringy = |t: &DataType| {
        matches!(t, Utf8 | LargeUtf8 | Utf8View)
            || matches!(t, Dictionary(_, v) if matches!(**v, Utf8 | LargeUtf8))
    };
    match (actual, expected) {
        (a, Utf8 | LargeUtf8 | Utf8View) if stringy(a) => true,
        (Int8 | Int16 | Int32 | UInt8 | UInt16 | UInt32, Int64) => true,
        (Int8 | Int16 | UInt8 | UInt16, Int32) => true,
        (Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | Float32, Float64) => true,
        // Timestamps hold UTC instants whatever their unit and zone label.
        (Timestamp(_, _), Timestamp(_, _)) => true,
        (Date64, Date32) => true,
        (Null, _) => true,
        _ => false,
    }
}
