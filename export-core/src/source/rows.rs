//! Rows of host values into record batches.
//!
//! A binding turns each cell of a Python dict or tuple, or of a JS object or array, into a
//! [`Value`] and pushes the row into a [`RowBatcher`], which buffers rows column by column and
//! builds a [`RecordBatch`] when asked. The data decides the types: the first batch fixes each
//! column's Arrow type, and every later batch has exactly that schema, so the batches can feed
//! one [`Source`](crate::source::Source).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int64Builder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{Datelike, NaiveDateTime, Timelike};

use crate::error::{ExportError, Result};

/// The `source_name` of every error of this module.
const SOURCE: &str = "rows";

/// The digits a `Decimal128` holds.
const DECIMAL_PRECISION: u8 = 38;

/// Days from 0001-01-01 (day 1 of the common era) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// One cell as a host language hands it over.
///
/// # Examples
///
/// ```
/// use export_core::source::Value;
/// let cells = vec![Value::Text("A-1".into()), Value::Decimal("12.50".into()), Value::Null];
/// assert_eq!(cells[1], Value::Decimal("12.50".into()));
/// assert_ne!(cells[2], Value::Text(String::new()));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value (`None`, `null`, `undefined`).
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float; NaN and infinities are kept as they are.
    Float(f64),
    /// Text.
    Text(String),
    /// Raw bytes (`bytes`, `Buffer`, `Uint8Array`).
    Bytes(Vec<u8>),
    /// A calendar date.
    Date(chrono::NaiveDate),
    /// A date and time without a time zone (kept to the microsecond).
    DateTime(chrono::NaiveDateTime),
    /// An instant in UTC (kept to the microsecond).
    DateTimeUtc(chrono::DateTime<chrono::Utc>),
    /// A decimal number as text ("12.50", "-3", "1e3" not allowed: plain digits with optional sign and point).
    ///
    /// Python's `str(Decimal)` can give exponents (`1E+3`, `1E-7`); `format(d, "f")` never does.
    Decimal(String),
    /// Nested data (a dict or list): written as compact JSON text.
    Json(serde_json::Value),
}

/// Buffers rows of [`Value`]s and builds Arrow record batches of them.
///
/// Rows come named (pairs of key and value, a dict or object) with [`RowBatcher::push_named`] or
/// positional (a tuple or array) with [`RowBatcher::push_positional`]. The columns are the ones
/// given to [`RowBatcher::with_columns`], or else those of the first row: its keys in their order,
/// or `col_1`, `col_2`, ... for a positional row. Keys are strict: a key that is not a column is
/// an error naming it (a typo never becomes a silent null), and a missing key is a null.
///
/// [`RowBatcher::flush`] builds a batch of the buffered rows; call it whenever
/// [`RowBatcher::is_full`] (nothing is flushed by itself) and once at the end. The first batch
/// decides each column's type from its non-null values:
///
/// | values | Arrow type |
/// |---|---|
/// | `Int` | `Int64` |
/// | `Float`, or `Int` and `Float` | `Float64` |
/// | `Bool` | `Boolean` |
/// | `Text` | `Utf8` |
/// | `Bytes` | `Binary` |
/// | `Date` | `Date32` |
/// | `DateTime` | `Timestamp(Microsecond, None)` |
/// | `DateTimeUtc` | `Timestamp(Microsecond, "UTC")` |
/// | `Decimal` | `Decimal128(38, s)`, `s` the largest scale seen |
/// | `Json` | `Utf8` of compact JSON text |
/// | only nulls | `Utf8` |
///
/// Every field is nullable. Later batches keep that schema ([`RowBatcher::schema`]): an `Int`
/// in a `Float64` column is converted, and a column that was all null in the first batch takes
/// any value but bytes as its text (`Int(3)` is `"3"`, a date `"2024-05-01"`, a date-time
/// `"2024-05-01T08:30:00"`, in UTC `"2024-05-01T08:30:00Z"`); any other kind that differs from
/// the column's is an error naming the column and the row.
///
/// # Examples
///
/// ```
/// use arrow_array::{Array, Float64Array, StringArray};
/// use arrow_schema::DataType;
/// use export_core::source::{RowBatcher, Value};
///
/// let mut rows = RowBatcher::new(1000);
/// rows.push_named([("sku", Value::Text("A-1".into())), ("price", Value::Int(3))])?;
/// rows.push_named([("price", Value::Float(2.5)), ("sku", Value::Text("B-2".into()))])?;
/// let batch = rows.flush()?.expect("two rows are buffered");
/// assert_eq!(batch.num_rows(), 2);
/// let schema = batch.schema();
/// let fields: Vec<(&str, &DataType)> =
///     schema.fields().iter().map(|f| (f.name().as_str(), f.data_type())).collect();
/// assert_eq!(fields, [("sku", &DataType::Utf8), ("price", &DataType::Float64)]);
/// let sku = batch.column(0).as_any().downcast_ref::<StringArray>().unwrap();
/// assert_eq!(sku.value(1), "B-2");
/// let price = batch.column(1).as_any().downcast_ref::<Float64Array>().unwrap();
/// assert_eq!(price.values(), &[3.0, 2.5]);
/// assert_eq!(rows.schema(), Some(schema));
/// # Ok::<(), export_core::ExportError>(())
/// ```
#[derive(Debug)]
pub struct RowBatcher {
    batch_rows: usize,
    /// The column names once known.
    names: Option<Vec<String>>,
    /// Column positions by name, for rows whose keys come in another order.
    index: HashMap<String, usize>,
    /// Why the fixed columns cannot be used (a name given twice); every push reports it.
    bad_columns: Option<String>,
    /// Column-major buffer: `buffers[c][r]` is buffered row `r`'s value in column `c`, so a
    /// batch is built one column at a time.
    buffers: Vec<Vec<Value>>,
    /// Scratch for [`RowBatcher::push_named`]: the columns the row has set.
    set: Vec<bool>,
    buffered: usize,
    rows: u64,
    /// The column types fixed by the first batch (empty before it).
    types: Vec<ColumnType>,
    schema: Option<SchemaRef>,
    /// Columns that are `Float64` whatever the first batch holds.
    floats: Vec<String>,
}

impl RowBatcher {
    /// Columns taken from the first named row (keys in that row's order); `batch_rows` rows per batch (>= 1, 0 treated as 1).
    ///
    /// A first positional row names them `col_1`, `col_2`, ... instead.
    pub fn new(batch_rows: usize) -> RowBatcher {
        RowBatcher {
            batch_rows: batch_rows.max(1),
            names: None,
            index: HashMap::new(),
            bad_columns: None,
            buffers: Vec::new(),
            set: Vec::new(),
            buffered: 0,
            rows: 0,
            types: Vec::new(),
            schema: None,
            floats: Vec::new(),
        }
    }

    /// Makes `columns` `Float64` columns whatever the first batch holds: for hosts whose numbers
    /// are all doubles (JavaScript), where a first batch of whole prices would otherwise fix an
    /// `Int64` column that a later `12.5` does not fit. Integers in them are converted.
    ///
    /// # Examples
    ///
    /// ```
    /// use arrow_schema::DataType;
    /// use export_core::source::{RowBatcher, Value};
    /// let mut rows = RowBatcher::new(1).float_columns(["price"]);
    /// rows.push_named([("price", Value::Int(10))])?;
    /// let first = rows.flush()?.unwrap();
    /// assert_eq!(first.schema().field(0).data_type(), &DataType::Float64);
    /// rows.push_named([("price", Value::Float(12.5))])?;
    /// assert!(rows.flush()?.is_some());
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn float_columns<I, S>(mut self, columns: I) -> RowBatcher
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.floats.extend(columns.into_iter().map(Into::into));
        self
    }

    /// Fixed column names (for positional rows, or to fix the order/selection of named rows).
    ///
    /// Named rows are still strict: a key that is not among `columns` is an error. A name given
    /// twice makes every push fail with [`ExportError::InvalidInput`] naming it.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::source::{RowBatcher, Value};
    /// let mut rows = RowBatcher::with_columns(vec!["sku".into(), "stock".into()], 100);
    /// rows.push_positional(vec![Value::Text("A-1".into()), Value::Int(3)])?;
    /// rows.push_named([("stock", Value::Int(0))])?;
    /// let batch = rows.flush()?.unwrap();
    /// assert_eq!(batch.schema().field(0).name(), "sku");
    /// assert_eq!(batch.column(0).null_count(), 1);
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn with_columns(columns: Vec<String>, batch_rows: usize) -> RowBatcher {
        let mut batcher = RowBatcher::new(batch_rows);
        batcher.set_columns(columns);
        batcher
    }

    /// Rows per batch.
    pub fn batch_rows(&self) -> usize {
        self.batch_rows
    }

    /// Rows pushed so far (all batches).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Rows buffered, not yet taken.
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// The column names once known.
    pub fn columns(&self) -> Option<&[String]> {
        self.names.as_deref()
    }

    /// A row of (name, value) pairs.
    ///
    /// Without fixed columns, the first row's keys become the columns. Keys that are missing are
    /// null. On error the row is not added.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidInput`] (source `rows`, line the 1-based row number over all rows)
    /// for a key that is not a column (naming it and the columns), a key given twice, or a first
    /// row without keys.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::source::{RowBatcher, Value};
    /// let mut rows = RowBatcher::new(100);
    /// rows.push_named([("sku", Value::Text("A-1".into())), ("price", Value::Int(3))])?;
    /// let err = rows.push_named([("prcie", Value::Int(4))]).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "invalid input rows at line 2: unknown key \"prcie\"; the columns are sku, price"
    /// );
    /// assert_eq!(rows.rows(), 1);
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn push_named<K: AsRef<str>>(
        &mut self,
        row: impl IntoIterator<Item = (K, Value)>,
    ) -> Result<()> {
        self.check_columns()?;
        let line = self.rows + 1;
        let Some(names) = &self.names else {
            return self.push_first_named(row);
        };
        let r = self.buffered;
        for buffer in &mut self.buffers {
            buffer.push(Value::Null);
        }
        self.set.fill(false);
        for (position, (key, value)) in row.into_iter().enumerate() {
            let key = key.as_ref();
            // Rows usually repeat the columns' order: the same position is the cheap guess.
            let column = match names.get(position) {
                Some(name) if name == key => Some(position),
                _ => self.index.get(key).copied(),
            };
            let reason = match column {
                Some(c) if !self.set[c] => {
                    self.set[c] = true;
                    self.buffers[c][r] = value;
                    continue;
                }
                Some(_) => format!("key {key:?} appears twice in the row"),
                None => format!("unknown key {key:?}; the columns are {}", names.join(", ")),
            };
            for buffer in &mut self.buffers {
                buffer.truncate(r);
            }
            return Err(invalid(Some(line), reason));
        }
        self.buffered += 1;
        self.rows += 1;
        Ok(())
    }

    /// A row of values in column order.
    ///
    /// Without fixed columns, the first row sets how many there are, named `col_1`, `col_2`, ...
    /// On error the row is not added.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidInput`] (source `rows`, line the 1-based row number over all rows)
    /// when the row has another number of values than there are columns, or when a first row
    /// is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::source::{RowBatcher, Value};
    /// let mut rows = RowBatcher::new(100);
    /// rows.push_positional(vec![Value::Int(1), Value::Bool(true)])?;
    /// assert_eq!(rows.columns().unwrap(), ["col_1", "col_2"]);
    /// let err = rows.push_positional(vec![Value::Int(2)]).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "invalid input rows at line 2: row 2 has 1 value but there are 2 columns (col_1, col_2)"
    /// );
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn push_positional(&mut self, row: Vec<Value>) -> Result<()> {
        self.check_columns()?;
        let line = self.rows + 1;
        if self.names.is_none() {
            if row.is_empty() {
                return Err(no_columns(line));
            }
            self.set_columns((1..=row.len()).map(|i| format!("col_{i}")).collect());
        }
        let names = self.names.as_deref().unwrap_or_default();
        if row.len() != names.len() {
            let reason = format!(
                "row {line} has {} but there {} {} ({})",
                count(row.len(), "value", "values"),
                if names.len() == 1 { "is" } else { "are" },
                count(names.len(), "column", "columns"),
                names.join(", "),
            );
            return Err(invalid(Some(line), reason));
        }
        for (buffer, value) in self.buffers.iter_mut().zip(row) {
            buffer.push(value);
        }
        self.buffered += 1;
        self.rows += 1;
        Ok(())
    }

    /// True once `buffered() >= batch_rows`.
    pub fn is_full(&self) -> bool {
        self.buffered >= self.batch_rows
    }

    /// Builds a batch of the buffered rows (None when nothing is buffered) and clears the buffer.
    ///
    /// The first batch fixes the schema (see [`RowBatcher`]); later ones convert to it. On error
    /// nothing is taken: the buffer and the schema stay as they were.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidInput`] (source `rows`, line the row number) naming the column and
    /// the row when a value does not fit its column: two kinds in one column of the first batch
    /// (`column "price": row 3 is text but earlier rows are integers`), a kind other than the one
    /// the first batch fixed, bytes in a column that was all null, a decimal that is not plain
    /// digits, needs more than 38 digits, or has non-zero digits beyond the column's scale.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::source::{RowBatcher, Value};
    /// let mut rows = RowBatcher::new(2);
    /// rows.push_positional(vec![Value::Int(1)])?;
    /// rows.push_positional(vec![Value::Text("two".into())])?;
    /// assert!(rows.is_full());
    /// let err = rows.flush().unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "invalid input rows at line 2: column \"col_1\": row 2 is text but earlier rows are integers"
    /// );
    /// assert_eq!(rows.buffered(), 2);
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn flush(&mut self) -> Result<Option<RecordBatch>> {
        if self.buffered == 0 {
            return Ok(None);
        }
        let first_row = self.rows - self.buffered as u64 + 1;
        let names = self.names.as_deref().unwrap_or_default();
        let (schema, inferred) = match &self.schema {
            Some(schema) => (schema.clone(), None),
            None => {
                let types = names
                    .iter()
                    .zip(&self.buffers)
                    .map(|(name, values)| {
                        let ty = infer(name, values, first_row)?;
                        Ok(match ty {
                            ColumnType::Int | ColumnType::AnyText
                                if self.floats.iter().any(|f| f == name) =>
                            {
                                ColumnType::Float
                            }
                            ty => ty,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                let fields: Vec<Field> = names
                    .iter()
                    .zip(&types)
                    .map(|(name, ty)| {
                        let field = Field::new(name.as_str(), ty.data_type(), true);
                        // Nested values stay JSON: the JSON sinks write them as nested
                        // objects, the others as their text.
                        if *ty == ColumnType::Json {
                            field.with_metadata(std::collections::HashMap::from([(
                                arrow_schema::extension::EXTENSION_TYPE_NAME_KEY.to_string(),
                                crate::sink::JSON_EXTENSION.to_string(),
                            )]))
                        } else {
                            field
                        }
                    })
                    .collect();
                (Arc::new(Schema::new(fields)), Some(types))
            }
        };
        let types = inferred.as_deref().unwrap_or(&self.types);
        let columns = names
            .iter()
            .zip(&self.buffers)
            .zip(types)
            .map(|((name, values), ty)| build(*ty, name, values, first_row))
            .collect::<Result<Vec<ArrayRef>>>()?;
        // The row count matters for fixed columns that are empty.
        let options = RecordBatchOptions::new().with_row_count(Some(self.buffered));
        let batch = RecordBatch::try_new_with_options(schema.clone(), columns, &options)?;
        if let Some(types) = inferred {
            self.types = types;
            self.schema = Some(schema);
        }
        // Clear, not replace: the next batch reuses the capacity.
        for buffer in &mut self.buffers {
            buffer.clear();
        }
        self.buffered = 0;
        Ok(Some(batch))
    }

    /// The schema once the first batch has been built (every later batch has exactly this schema).
    pub fn schema(&self) -> Option<SchemaRef> {
        self.schema.clone()
    }

    fn set_columns(&mut self, names: Vec<String>) {
        self.index = HashMap::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            if self.index.insert(name.clone(), i).is_some() && self.bad_columns.is_none() {
                self.bad_columns = Some(format!("column {name:?} is given twice"));
            }
        }
        self.buffers = names.iter().map(|_| Vec::new()).collect();
        self.set = vec![false; names.len()];
        self.names = Some(names);
    }

    fn check_columns(&self) -> Result<()> {
        match &self.bad_columns {
            Some(reason) => Err(invalid(None, reason.clone())),
            None => Ok(()),
        }
    }

    /// The first named row without fixed columns: its keys become the columns.
    fn push_first_named<K: AsRef<str>>(
        &mut self,
        row: impl IntoIterator<Item = (K, Value)>,
    ) -> Result<()> {
        let line = self.rows + 1;
        let mut names = Vec::new();
        let mut values = Vec::new();
        let mut index = HashMap::new();
        for (key, value) in row {
            let key = key.as_ref();
            if index.insert(key.to_owned(), names.len()).is_some() {
                return Err(invalid(
                    Some(line),
                    format!("key {key:?} appears twice in the row"),
                ));
            }
            names.push(key.to_owned());
            values.push(value);
        }
        if names.is_empty() {
            return Err(no_columns(line));
        }
        self.set = vec![false; names.len()];
        self.buffers = values.into_iter().map(|value| vec![value]).collect();
        self.names = Some(names);
        self.index = index;
        self.buffered = 1;
        self.rows += 1;
        Ok(())
    }
}

/// An [`ExportError::InvalidInput`] of this module.
fn invalid(line: Option<u64>, reason: String) -> ExportError {
    ExportError::InvalidInput {
        source_name: SOURCE.into(),
        line,
        reason,
    }
}

fn no_columns(line: u64) -> ExportError {
    invalid(
        Some(line),
        "the first row is empty, so there are no columns; give them with RowBatcher::with_columns"
            .into(),
    )
}

/// `1 value`, `2 values`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The kind of a [`Value`], for inference and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    Int,
    Float,
    Text,
    Bytes,
    Date,
    DateTime,
    DateTimeUtc,
    Decimal,
    Json,
}

impl Kind {
    fn of(value: &Value) -> Kind {
        match value {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Int(_) => Kind::Int,
            Value::Float(_) => Kind::Float,
            Value::Text(_) => Kind::Text,
            Value::Bytes(_) => Kind::Bytes,
            Value::Date(_) => Kind::Date,
            Value::DateTime(_) => Kind::DateTime,
            Value::DateTimeUtc(_) => Kind::DateTimeUtc,
            Value::Decimal(_) => Kind::Decimal,
            Value::Json(_) => Kind::Json,
        }
    }

    /// As in "row 3 is ...".
    fn one(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "a boolean",
            Kind::Int => "an integer",
            Kind::Float => "a float",
            Kind::Text => "text",
            Kind::Bytes => "bytes",
            Kind::Date => "a date",
            Kind::DateTime => "a date-time",
            Kind::DateTimeUtc => "a UTC date-time",
            Kind::Decimal => "a decimal",
            Kind::Json => "JSON",
        }
    }

    /// As in "earlier rows are ...".
    fn many(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "booleans",
            Kind::Int => "integers",
            Kind::Float => "floats",
            Kind::Text => "text",
            Kind::Bytes => "bytes",
            Kind::Date => "dates",
            Kind::DateTime => "date-times",
            Kind::DateTimeUtc => "UTC date-times",
            Kind::Decimal => "decimals",
            Kind::Json => "JSON",
        }
    }
}

/// A column's type as the first batch fixed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnType {
    Bool,
    Int,
    Float,
    Text,
    Bytes,
    Date,
    DateTime,
    DateTimeUtc,
    Decimal(i8),
    Json,
    /// All null in the first batch: `Utf8`, taking any later value as its text.
    AnyText,
}

impl ColumnType {
    fn data_type(self) -> DataType {
        match self {
            ColumnType::Bool => DataType::Boolean,
            ColumnType::Int => DataType::Int64,
            ColumnType::Float => DataType::Float64,
            ColumnType::Text | ColumnType::Json | ColumnType::AnyText => DataType::Utf8,
            ColumnType::Bytes => DataType::Binary,
            ColumnType::Date => DataType::Date32,
            ColumnType::DateTime => DataType::Timestamp(TimeUnit::Microsecond, None),
            ColumnType::DateTimeUtc => {
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            }
            ColumnType::Decimal(scale) => DataType::Decimal128(DECIMAL_PRECISION, scale),
        }
    }

    /// As in "the column holds ...".
    fn holds(self) -> &'static str {
        match self {
            ColumnType::Bool => Kind::Bool.many(),
            ColumnType::Int => Kind::Int.many(),
            ColumnType::Float => "numbers",
            ColumnType::Text => Kind::Text.many(),
            ColumnType::Bytes => Kind::Bytes.many(),
            ColumnType::Date => Kind::Date.many(),
            ColumnType::DateTime => Kind::DateTime.many(),
            ColumnType::DateTimeUtc => Kind::DateTimeUtc.many(),
            ColumnType::Decimal(_) => Kind::Decimal.many(),
            ColumnType::Json => Kind::Json.many(),
            ColumnType::AnyText => "text",
        }
    }
}

/// The type of column `name` from its values in the first batch (rows from `first_row`).
fn infer(name: &str, values: &[Value], first_row: u64) -> Result<ColumnType> {
    let mut column: Option<Kind> = None;
    // Integers and floats together: the message says "numbers", not the first kind seen.
    let mut mixed_numbers = false;
    let mut scale = 0usize;
    for (i, value) in values.iter().enumerate() {
        let kind = Kind::of(value);
        if kind == Kind::Null {
            continue;
        }
        let row = first_row + i as u64;
        column = Some(match column {
            None => kind,
            Some(before) if before == kind => kind,
            Some(Kind::Int | Kind::Float) if matches!(kind, Kind::Int | Kind::Float) => {
                mixed_numbers = true;
                Kind::Float
            }
            Some(before) => {
                let earlier = if mixed_numbers {
                    "numbers"
                } else {
                    before.many()
                };
                return Err(invalid(
                    Some(row),
                    format!(
                        "column {name:?}: row {row} is {} but earlier rows are {earlier}",
                        kind.one()
                    ),
                ));
            }
        });
        if let Value::Decimal(text) = value {
            let decimal = PlainDecimal::parse(text)
                .map_err(|reason| decimal_error(name, row, text, &reason))?;
            if decimal.scale() > usize::from(DECIMAL_PRECISION) {
                let reason = format!(
                    "has {} decimal places; Decimal128 holds at most {DECIMAL_PRECISION}",
                    decimal.scale()
                );
                return Err(decimal_error(name, row, text, &reason));
            }
            scale = scale.max(decimal.scale());
        }
    }
    Ok(match column {
        None | Some(Kind::Null) => ColumnType::AnyText,
        Some(Kind::Bool) => ColumnType::Bool,
        Some(Kind::Int) => ColumnType::Int,
        Some(Kind::Float) => ColumnType::Float,
        Some(Kind::Text) => ColumnType::Text,
        Some(Kind::Bytes) => ColumnType::Bytes,
        Some(Kind::Date) => ColumnType::Date,
        Some(Kind::DateTime) => ColumnType::DateTime,
        Some(Kind::DateTimeUtc) => ColumnType::DateTimeUtc,
        // At most 38 (checked above), so it fits an i8.
        Some(Kind::Decimal) => ColumnType::Decimal(scale as i8),
        Some(Kind::Json) => ColumnType::Json,
    })
}

fn decimal_error(name: &str, row: u64, text: &str, reason: &str) -> ExportError {
    invalid(
        Some(row),
        format!("column {name:?}: row {row}, decimal {text:?} {reason}"),
    )
}

/// The array of column `name` of type `ty` from its buffered values (rows from `first_row`).
fn build(ty: ColumnType, name: &str, values: &[Value], first_row: u64) -> Result<ArrayRef> {
    let n = values.len();
    let row = |i: usize| first_row + i as u64;
    // Inference makes every value of the first batch fit; a misfit is a later batch's.
    let misfit = |i: usize, value: &Value| {
        invalid(
            Some(row(i)),
            format!(
                "column {name:?}: row {} is {} but the column holds {} ({}, fixed by the first batch){}",
                row(i),
                Kind::of(value).one(),
                ty.holds(),
                ty.data_type(),
                if ty == ColumnType::Int && matches!(value, Value::Float(_)) {
                    "; declare it a float column"
                } else {
                    ""
                }
            ),
        )
    };
    Ok(match ty {
        ColumnType::Bool => {
            let mut b = BooleanBuilder::with_capacity(n);
            for (i, value) in values.iter().enumerate() {
                match value {
                    Value::Null => b.append_null(),
                    Value::Bool(v) => b.append_value(*v),
                    other => return Err(misfit(i, other)),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Int => {
            let mut b = Int64Builder::with_capacity(n);
            for (i, value) in values.iter().enumerate() {
                match value {
                    Value::Null => b.append_null(),
                    Value::Int(v) => b.append_value(*v),
                    other => return Err(misfit(i, other)),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Float => {
            let mut b = Float64Builder::with_capacity(n);
            for (i, value) in values.iter().enumerate() {
                match value {
                    Value::Null => b.append_null(),
                    Value::Float(v) => b.append_value(*v),
                    Value::Int(v) => b.append_value(*v as f64),
                    other => return Err(misfit(i, other)),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Text => {
            let bytes = values
                .iter()
                .map(|v| match v {
                    Value::Text(s) => s.len(),
                    _ => 0,
                })
                .sum();
            let mut b = StringBuilder::with_capacity(n, bytes);
            for (i, value) in values.iter().enumerate() {
                match value {
                    Value::Null => b.append_null(),
                    Value::Text(v) => b.append_value(v),
                    other => return Err(misfit(i, other)),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Json | ColumnType::AnyText => {
            let mut b = StringBuilder::with_capacity(n, n * 8);
            let mut text = String::new();
            for (i, value) in values.iter().enumerate() {
                if let Value::Null = value {
                    b.append_null();
                    continue;
                }
                text.clear();
                let written = match (ty, value) {
                    (ColumnType::Json, Value::Json(v)) => {
                        // `Display` of a JSON value is its compact text.
                        let _ = write!(text, "{v}");
                        true
                    }
                    (ColumnType::Json, _) => false,
                    _ => write_text(&mut text, value),
                };
                if !written {
                    return Err(match ty {
                        ColumnType::Json => misfit(i, value),
                        _ => invalid(
                            Some(row(i)),
                            format!(
                                "column {name:?}: row {} is bytes, which have no text form (the \
                                 column is Utf8 because the first batch held only nulls in it)",
                                row(i)
                            ),
                        ),
                    });
                }
                b.append_value(&text);
            }
            Arc::new(b.finish())
        }
        ColumnType::Bytes => {
            let mut b = BinaryBuilder::with_capacity(n, n * 8);
            for (i, value) in values.iter().enumerate() {
                match value {
                    Value::Null => b.append_null(),
                    Value::Bytes(v) => b.append_value(v),
                    other => return Err(misfit(i, other)),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Date => {
            let mut b = Date32Builder::with_capacity(n);
            for (i, value) in values.iter().enumerate() {
                match value {
                    Value::Null => b.append_null(),
                    Value::Date(d) => {
                        b.append_value(d.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE)
                    }
                    other => return Err(misfit(i, other)),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::DateTime => {
            let mut b = TimestampMicrosecondBuilder::with_capacity(n);
            for (i, value) in values.iter().enumerate() {
                match value {
                    Value::Null => b.append_null(),
                    Value::DateTime(t) => b.append_value(t.and_utc().timestamp_micros()),
                    other => return Err(misfit(i, other)),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::DateTimeUtc => {
            let mut b = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
            for (i, value) in values.iter().enumerate() {
                match value {
                    Value::Null => b.append_null(),
                    Value::DateTimeUtc(t) => b.append_value(t.timestamp_micros()),
                    other => return Err(misfit(i, other)),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Decimal(scale) => {
            let mut b = Decimal128Builder::with_capacity(n)
                .with_precision_and_scale(DECIMAL_PRECISION, scale)?;
            for (i, value) in values.iter().enumerate() {
                match value {
                    Value::Null => b.append_null(),
                    Value::Decimal(text) => {
                        let units = PlainDecimal::parse(text)
                            .and_then(|d| d.units(scale))
                            .map_err(|reason| decimal_error(name, row(i), text, &reason))?;
                        b.append_value(units);
                    }
                    other => return Err(misfit(i, other)),
                }
            }
            Arc::new(b.finish())
        }
    })
}

/// Appends the text form of `value` (for a column that was all null in the first batch); false
/// for bytes (and null), which have none.
fn write_text(out: &mut String, value: &Value) -> bool {
    match value {
        Value::Null | Value::Bytes(_) => return false,
        Value::Text(s) | Value::Decimal(s) => out.push_str(s),
        Value::Bool(v) => out.push_str(if *v { "true" } else { "false" }),
        Value::Int(v) => out.push_str(itoa::Buffer::new().format(*v)),
        Value::Float(v) => {
            // Shortest round trip, without the `+` zmij writes in exponents (as the sinks).
            let mut buffer = zmij::Buffer::new();
            for part in buffer.format(*v).split('+') {
                out.push_str(part);
            }
        }
        Value::Date(d) => {
            let _ = write!(out, "{d}");
        }
        Value::DateTime(t) => write_datetime(out, t),
        Value::DateTimeUtc(t) => {
            write_datetime(out, &t.naive_utc());
            out.push('Z');
        }
        Value::Json(v) => {
            let _ = write!(out, "{v}");
        }
    }
    true
}

/// ISO 8601 `YYYY-MM-DDTHH:MM:SS`, with `.ffffff` when there are microseconds (the precision
/// of the timestamp columns).
fn write_datetime(out: &mut String, t: &NaiveDateTime) {
    let _ = write!(
        out,
        "{}T{:02}:{:02}:{:02}",
        t.date(),
        t.hour(),
        t.minute(),
        t.second()
    );
    // A leap second's nanoseconds go past 1e9; its fraction is the part within the second.
    let micros = t.nanosecond() % 1_000_000_000 / 1_000;
    if micros != 0 {
        let _ = write!(out, ".{micros:06}");
    }
}

/// A decimal as plain text: sign, integer digits (leading zeros dropped), fraction digits.
struct PlainDecimal<'a> {
    negative: bool,
    int: &'a str,
    frac: &'a str,
}

impl<'a> PlainDecimal<'a> {
    fn parse(text: &'a str) -> std::result::Result<Self, String> {
        let (negative, rest) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (int, frac) = rest.split_once('.').unwrap_or((rest, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
            return Err(
                "is not a plain decimal number (digits with an optional sign and point)".into(),
            );
        }
        Ok(PlainDecimal {
            negative,
            int: int.trim_start_matches('0'),
            frac,
        })
    }

    fn scale(&self) -> usize {
        self.frac.len()
    }

    /// The value in units of `10^-scale`: the fraction padded with zeros, or cut where only
    /// zeros follow.
    fn units(&self, scale: i8) -> std::result::Result<i128, String> {
        let scale = usize::try_from(scale).unwrap_or(0);
        let (kept, dropped) = self.frac.split_at(self.frac.len().min(scale));
        if dropped.bytes().any(|b| b != b'0') {
            return Err(format!(
                "has {} decimal places but the column's scale is {scale} (fixed by the first batch)",
                self.frac.len()
            ));
        }
        let digits = self.int.len() + scale;
        if digits > usize::from(DECIMAL_PRECISION) {
            return Err(format!(
                "needs {digits} digits at scale {scale}; Decimal128 holds at most {DECIMAL_PRECISION}"
            ));
        }
        // At most 38 digits: below 10^38, within i128.
        let mut units: i128 = 0;
        for b in self.int.bytes().chain(kept.bytes()) {
            units = units * 10 + i128::from(b - b'0');
        }
        for _ in kept.len()..scale {
            units *= 10;
        }
        Ok(if self.negative { -units } else { units })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{
        Date32Type, Decimal128Type, Float64Type, Int64Type, TimestampMicrosecondType,
    };
    use arrow_array::{Array, BinaryArray, BooleanArray, StringArray};
    use chrono::{NaiveDate, TimeZone, Utc};

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    fn dec(s: &str) -> Value {
        Value::Decimal(s.into())
    }

    /// The line and reason of an [`ExportError::InvalidInput`] from this module.
    fn invalid_input(err: ExportError) -> (Option<u64>, String) {
        match err {
            ExportError::InvalidInput {
                source_name,
                line,
                reason,
            } => {
                assert_eq!(source_name, "rows");
                (line, reason)
            }
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    fn types(batch: &RecordBatch) -> Vec<DataType> {
        batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect()
    }

    fn strings(batch: &RecordBatch, column: usize) -> Vec<Option<String>> {
        batch
            .column(column)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("a Utf8 column")
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect()
    }

    fn only_batch(rows: &mut RowBatcher) -> RecordBatch {
        rows.flush().unwrap().expect("rows are buffered")
    }

    #[test]
    fn batcher_is_send() {
        fn send<T: Send>() {}
        send::<RowBatcher>();
        send::<Value>();
    }

    #[test]
    fn first_named_row_sets_the_columns_and_missing_keys_are_null() {
        let mut rows = RowBatcher::new(10);
        assert_eq!(rows.columns(), None);
        rows.push_named([
            ("sku", text("A-1")),
            ("price", Value::Int(3)),
            ("qty", Value::Int(1)),
        ])
        .unwrap();
        assert_eq!(rows.columns().unwrap(), ["sku", "price", "qty"]);
        // Another order, and a missing key.
        rows.push_named([("qty", Value::Int(2)), ("sku", text("B-2"))])
            .unwrap();
        rows.push_named(Vec::<(String, Value)>::new()).unwrap();
        assert_eq!((rows.rows(), rows.buffered()), (3, 3));
        let batch = only_batch(&mut rows);
        assert_eq!(
            strings(&batch, 0),
            [Some("A-1".into()), Some("B-2".into()), None]
        );
        let price = batch.column(1).as_primitive::<Int64Type>();
        assert_eq!(price.iter().collect::<Vec<_>>(), [Some(3), None, None]);
        let qty = batch.column(2).as_primitive::<Int64Type>();
        assert_eq!(qty.iter().collect::<Vec<_>>(), [Some(1), Some(2), None]);
        assert!(batch.schema().fields().iter().all(|f| f.is_nullable()));
    }

    #[test]
    fn unknown_key_names_it_and_the_columns_and_the_row_is_not_added() {
        let mut rows = RowBatcher::new(10);
        rows.push_named([("sku", text("A-1")), ("price", Value::Int(3))])
            .unwrap();
        let err = rows
            .push_named([("sku", text("B-2")), ("prcie", Value::Int(4))])
            .unwrap_err();
        let (line, reason) = invalid_input(err);
        assert_eq!(line, Some(2));
        assert_eq!(reason, "unknown key \"prcie\"; the columns are sku, price");
        assert_eq!((rows.rows(), rows.buffered()), (1, 1));
        // The rolled-back row left nothing behind: the next row is row 2.
        rows.push_named([("price", Value::Int(5))]).unwrap();
        let batch = only_batch(&mut rows);
        assert_eq!(strings(&batch, 0), [Some("A-1".into()), None]);
        let price = batch.column(1).as_primitive::<Int64Type>();
        assert_eq!(price.values(), &[3, 5]);
    }

    #[test]
    fn fixed_columns_are_strict_too() {
        let mut rows = RowBatcher::with_columns(vec!["sku".into(), "price".into()], 10);
        assert_eq!(rows.columns().unwrap(), ["sku", "price"]);
        let (line, reason) =
            invalid_input(rows.push_named([("stock", Value::Int(1))]).unwrap_err());
        assert_eq!(line, Some(1));
        assert_eq!(reason, "unknown key \"stock\"; the columns are sku, price");
        // Named rows follow the fixed order, whatever theirs.
        rows.push_named([("price", Value::Int(2)), ("sku", text("A"))])
            .unwrap();
        let batch = only_batch(&mut rows);
        assert_eq!(batch.schema().field(0).name(), "sku");
        assert_eq!(types(&batch), [DataType::Utf8, DataType::Int64]);
    }

    #[test]
    fn a_key_given_twice_is_an_error() {
        let mut rows = RowBatcher::new(10);
        let err = rows
            .push_named([("sku", text("A")), ("sku", text("B"))])
            .unwrap_err();
        let (line, reason) = invalid_input(err);
        assert_eq!(line, Some(1));
        assert_eq!(reason, "key \"sku\" appears twice in the row");
        assert_eq!(rows.columns(), None);

        rows.push_named([("sku", text("A")), ("price", Value::Int(1))])
            .unwrap();
        let err = rows
            .push_named([("price", Value::Int(2)), ("price", Value::Null)])
            .unwrap_err();
        let (line, reason) = invalid_input(err);
        assert_eq!(line, Some(2));
        assert!(reason.contains("key \"price\" appears twice"), "{reason}");
        assert_eq!(rows.buffered(), 1);
        assert!(rows.buffers.iter().all(|b| b.len() == 1));
    }

    #[test]
    fn duplicate_fixed_columns_fail_every_push() {
        let mut rows = RowBatcher::with_columns(vec!["a".into(), "b".into(), "a".into()], 10);
        for _ in 0..2 {
            let (line, reason) =
                invalid_input(rows.push_positional(vec![Value::Null; 3]).unwrap_err());
            assert_eq!(line, None);
            assert_eq!(reason, "column \"a\" is given twice");
        }
        assert!(rows.push_named([("b", Value::Int(1))]).is_err());
        assert_eq!(rows.rows(), 0);
    }

    #[test]
    fn an_empty_first_row_is_an_error() {
        let mut rows = RowBatcher::new(10);
        let (_, reason) = invalid_input(rows.push_positional(Vec::new()).unwrap_err());
        assert!(reason.contains("no columns"), "{reason}");
        let (_, reason) = invalid_input(rows.push_named(Vec::<(&str, Value)>::new()).unwrap_err());
        assert!(reason.contains("RowBatcher::with_columns"), "{reason}");
        assert_eq!(rows.columns(), None);
    }

    #[test]
    fn positional_rows_name_columns_and_need_the_right_length() {
        let mut rows = RowBatcher::new(10);
        rows.push_positional(vec![Value::Int(1), text("a"), Value::Null])
            .unwrap();
        assert_eq!(rows.columns().unwrap(), ["col_1", "col_2", "col_3"]);
        let (line, reason) = invalid_input(rows.push_positional(vec![Value::Int(2)]).unwrap_err());
        assert_eq!(line, Some(2));
        assert_eq!(
            reason,
            "row 2 has 1 value but there are 3 columns (col_1, col_2, col_3)"
        );
        let (_, reason) = invalid_input(rows.push_positional(vec![Value::Null; 4]).unwrap_err());
        assert!(
            reason.contains("has 4 values but there are 3 columns"),
            "{reason}"
        );
        assert_eq!((rows.rows(), rows.buffered()), (1, 1));

        let mut fixed = RowBatcher::with_columns(vec!["only".into()], 10);
        let (_, reason) = invalid_input(fixed.push_positional(vec![Value::Null; 2]).unwrap_err());
        assert_eq!(reason, "row 1 has 2 values but there is 1 column (only)");
        fixed.push_positional(vec![Value::Bool(true)]).unwrap();
        let batch = only_batch(&mut fixed);
        assert_eq!(types(&batch), [DataType::Boolean]);
    }

    #[test]
    fn named_and_positional_rows_mix_once_the_columns_are_known() {
        let mut rows = RowBatcher::new(10);
        rows.push_positional(vec![Value::Int(1), Value::Int(2)])
            .unwrap();
        rows.push_named([("col_2", Value::Int(20))]).unwrap();
        let mut named = RowBatcher::new(10);
        named
            .push_named([("a", Value::Int(1)), ("b", Value::Int(2))])
            .unwrap();
        named
            .push_positional(vec![Value::Int(3), Value::Null])
            .unwrap();

        let batch = only_batch(&mut rows);
        let col_1 = batch.column(0).as_primitive::<Int64Type>();
        assert_eq!(col_1.iter().collect::<Vec<_>>(), [Some(1), None]);
        let col_2 = batch.column(1).as_primitive::<Int64Type>();
        assert_eq!(col_2.values(), &[2, 20]);
        let batch = only_batch(&mut named);
        let a = batch.column(0).as_primitive::<Int64Type>();
        assert_eq!(a.values(), &[1, 3]);
        assert_eq!(batch.column(1).null_count(), 1);
    }

    #[test]
    fn the_first_batch_decides_every_type() {
        let date = NaiveDate::from_ymd_opt(2024, 5, 1).unwrap();
        let local = date.and_hms_micro_opt(8, 30, 0, 250).unwrap();
        let utc = Utc.with_ymd_and_hms(2024, 5, 1, 6, 30, 0).unwrap();
        let mut rows = RowBatcher::new(10);
        rows.push_named([
            ("int", Value::Int(7)),
            ("float", Value::Float(1.5)),
            ("bool", Value::Bool(true)),
            ("text", text("x")),
            ("bytes", Value::Bytes(vec![0, 255])),
            ("date", Value::Date(date)),
            ("local", Value::DateTime(local)),
            ("utc", Value::DateTimeUtc(utc)),
            ("decimal", dec("12.5")),
            ("json", Value::Json(serde_json::json!({"a": [1, 2]}))),
            ("nothing", Value::Null),
        ])
        .unwrap();
        let batch = only_batch(&mut rows);
        assert_eq!(
            types(&batch),
            [
                DataType::Int64,
                DataType::Float64,
                DataType::Boolean,
                DataType::Utf8,
                DataType::Binary,
                DataType::Date32,
                DataType::Timestamp(TimeUnit::Microsecond, None),
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                DataType::Decimal128(38, 1),
                DataType::Utf8,
                DataType::Utf8,
            ]
        );
        assert!(batch.schema().fields().iter().all(|f| f.is_nullable()));
        assert_eq!(batch.column(0).as_primitive::<Int64Type>().value(0), 7);
        assert_eq!(batch.column(1).as_primitive::<Float64Type>().value(0), 1.5);
        let b = batch
            .column(2)
            .as_any()
            .downcast_ref::<BooleanArray>()
            .unwrap();
        assert!(b.value(0));
        let bytes = batch
            .column(4)
            .as_any()
            .downcast_ref::<BinaryArray>()
            .unwrap();
        assert_eq!(bytes.value(0), [0, 255]);
        // 2024-05-01 is day 19844 of the Unix epoch.
        assert_eq!(
            batch.column(5).as_primitive::<Date32Type>().value(0),
            19_844
        );
        let local_micros = batch.column(6).as_primitive::<TimestampMicrosecondType>();
        assert_eq!(local_micros.value(0), 1_714_552_200_000_250);
        let utc_micros = batch.column(7).as_primitive::<TimestampMicrosecondType>();
        assert_eq!(utc_micros.value(0), 1_714_545_000_000_000);
        assert_eq!(
            batch.column(8).as_primitive::<Decimal128Type>().value(0),
            125
        );
        assert_eq!(strings(&batch, 9), [Some(r#"{"a":[1,2]}"#.into())]);
        assert_eq!(strings(&batch, 10), [None]);
    }

    #[test]
    fn ints_and_floats_make_float64() {
        let mut rows = RowBatcher::new(10);
        for v in [
            Value::Int(1),
            Value::Null,
            Value::Float(2.5),
            Value::Int(-3),
        ] {
            rows.push_positional(vec![v]).unwrap();
        }
        let batch = only_batch(&mut rows);
        assert_eq!(types(&batch), [DataType::Float64]);
        let f = batch.column(0).as_primitive::<Float64Type>();
        assert_eq!(
            f.iter().collect::<Vec<_>>(),
            [Some(1.0), None, Some(2.5), Some(-3.0)]
        );
    }

    #[test]
    fn two_kinds_in_the_first_batch_name_column_row_and_kinds() {
        let mut rows = RowBatcher::new(10);
        rows.push_named([("sku", text("A")), ("price", Value::Int(1))])
            .unwrap();
        rows.push_named([("sku", text("B")), ("price", Value::Null)])
            .unwrap();
        rows.push_named([("sku", text("C")), ("price", text("3.00"))])
            .unwrap();
        let (line, reason) = invalid_input(rows.flush().unwrap_err());
        assert_eq!(line, Some(3));
        assert_eq!(
            reason,
            "column \"price\": row 3 is text but earlier rows are integers"
        );
        // Nothing was taken and no schema fixed.
        assert_eq!(rows.buffered(), 3);
        assert_eq!(rows.schema(), None);

        let mut numbers = RowBatcher::new(10);
        for v in [Value::Float(1.5), Value::Int(1), Value::Bool(false)] {
            numbers.push_positional(vec![v]).unwrap();
        }
        let (_, reason) = invalid_input(numbers.flush().unwrap_err());
        assert_eq!(
            reason,
            "column \"col_1\": row 3 is a boolean but earlier rows are numbers"
        );
    }

    #[test]
    fn an_int_in_a_float_column_of_a_later_batch_is_converted() {
        let mut rows = RowBatcher::new(2);
        rows.push_named([("price", Value::Float(1.25))]).unwrap();
        rows.push_named([("price", Value::Null)]).unwrap();
        assert!(rows.is_full());
        let first = only_batch(&mut rows);
        assert_eq!(types(&first), [DataType::Float64]);
        assert!(!rows.is_full());
        rows.push_named([("price", Value::Int(4))]).unwrap();
        let second = only_batch(&mut rows);
        assert_eq!(second.schema(), first.schema());
        let f = second.column(0).as_primitive::<Float64Type>();
        assert_eq!(f.values(), &[4.0]);
        assert_eq!(rows.rows(), 3);
        assert_eq!(rows.flush().unwrap(), None);
    }

    #[test]
    fn a_float_in_an_int_column_of_a_later_batch_is_an_error() {
        let mut rows = RowBatcher::new(10);
        rows.push_named([("qty", Value::Int(1))]).unwrap();
        rows.push_named([("qty", Value::Int(2))]).unwrap();
        only_batch(&mut rows);
        rows.push_named([("qty", Value::Int(3))]).unwrap();
        rows.push_named([("qty", Value::Float(4.5))]).unwrap();
        let (line, reason) = invalid_input(rows.flush().unwrap_err());
        assert_eq!(line, Some(4));
        assert_eq!(
            reason,
            "column \"qty\": row 4 is a float but the column holds integers (Int64, fixed by the \
             first batch); declare it a float column"
        );
        assert_eq!(rows.buffered(), 2);
    }

    #[test]
    fn a_text_column_takes_only_text() {
        let mut rows = RowBatcher::new(10);
        rows.push_named([("name", text("ada"))]).unwrap();
        only_batch(&mut rows);
        rows.push_named([("name", Value::Bool(true))]).unwrap();
        let (line, reason) = invalid_input(rows.flush().unwrap_err());
        assert_eq!(line, Some(2));
        assert_eq!(
            reason,
            "column \"name\": row 2 is a boolean but the column holds text (Utf8, fixed by the \
             first batch)"
        );
        // JSON makes Utf8 too, but stays JSON.
        let mut json = RowBatcher::new(10);
        json.push_named([("tags", Value::Json(serde_json::json!(["a"])))])
            .unwrap();
        only_batch(&mut json);
        json.push_named([("tags", text("a"))]).unwrap();
        let (_, reason) = invalid_input(json.flush().unwrap_err());
        assert!(
            reason.contains("row 2 is text but the column holds JSON"),
            "{reason}"
        );
    }

    #[test]
    fn decimals_take_the_largest_scale_of_the_first_batch() {
        let mut rows = RowBatcher::new(10);
        for v in ["12.5", "-3.25", "7", "+0.1", "-0", ".5"] {
            rows.push_named([("amount", dec(v))]).unwrap();
        }
        rows.push_named([("amount", Value::Null)]).unwrap();
        let batch = only_batch(&mut rows);
        assert_eq!(types(&batch), [DataType::Decimal128(38, 2)]);
        let d = batch.column(0).as_primitive::<Decimal128Type>();
        assert_eq!(
            d.iter().collect::<Vec<_>>(),
            [
                Some(1250),
                Some(-325),
                Some(700),
                Some(10),
                Some(0),
                Some(50),
                None
            ]
        );
        assert_eq!(d.value_as_string(1), "-3.25");

        // Later: extra zeros are fine, other extra digits are not.
        rows.push_named([("amount", dec("1.2500"))]).unwrap();
        let later = only_batch(&mut rows);
        assert_eq!(
            later.column(0).as_primitive::<Decimal128Type>().value(0),
            125
        );
        rows.push_named([("amount", dec("1.255"))]).unwrap();
        let (line, reason) = invalid_input(rows.flush().unwrap_err());
        assert_eq!(line, Some(9));
        assert_eq!(
            reason,
            "column \"amount\": row 9, decimal \"1.255\" has 3 decimal places but the column's \
             scale is 2 (fixed by the first batch)"
        );
    }

    #[test]
    fn decimals_need_plain_digits_and_at_most_38_of_them() {
        for bad in ["1e3", "1E+3", "", "-", ".", "1.2.3", "12,5", " 1", "0x10"] {
            let mut rows = RowBatcher::new(10);
            rows.push_named([("amount", dec(bad))]).unwrap();
            let (line, reason) = invalid_input(rows.flush().unwrap_err());
            assert_eq!(line, Some(1));
            assert_eq!(
                reason,
                format!(
                    "column \"amount\": row 1, decimal {bad:?} is not a plain decimal number \
                     (digits with an optional sign and point)"
                )
            );
        }

        // 38 digits fit, 39 do not; leading zeros do not count.
        let nines = "9".repeat(36);
        let mut rows = RowBatcher::new(10);
        rows.push_named([("amount", dec(&format!("-000{nines}.99")))])
            .unwrap();
        let batch = only_batch(&mut rows);
        let expected = -(10_i128.pow(38) - 1);
        assert_eq!(
            batch.column(0).as_primitive::<Decimal128Type>().value(0),
            expected
        );
        rows.push_named([("amount", dec(&format!("1{nines}.5")))])
            .unwrap();
        let (line, reason) = invalid_input(rows.flush().unwrap_err());
        assert_eq!(line, Some(2));
        assert!(
            reason.contains("needs 39 digits at scale 2; Decimal128 holds at most 38"),
            "{reason}"
        );

        let mut rows = RowBatcher::new(10);
        rows.push_named([("amount", dec(&format!("0.{}", "1".repeat(39))))])
            .unwrap();
        let (_, reason) = invalid_input(rows.flush().unwrap_err());
        assert!(reason.contains("has 39 decimal places"), "{reason}");

        let mut rows = RowBatcher::new(10);
        rows.push_named([("amount", dec("1")), ("x", Value::Null)])
            .unwrap();
        rows.push_named([("amount", Value::Int(2))]).unwrap();
        let (_, reason) = invalid_input(rows.flush().unwrap_err());
        assert_eq!(
            reason,
            "column \"amount\": row 2 is an integer but earlier rows are decimals"
        );
    }

    #[test]
    fn json_is_compact_text() {
        let mut rows = RowBatcher::new(10);
        let nested = serde_json::json!({"label": "a \"b\"", "none": null, "sizes": [38, 39.5]});
        rows.push_named([("meta", Value::Json(nested.clone()))])
            .unwrap();
        rows.push_named([("meta", Value::Json(serde_json::json!([])))])
            .unwrap();
        rows.push_named([("meta", Value::Null)]).unwrap();
        let batch = only_batch(&mut rows);
        assert_eq!(types(&batch), [DataType::Utf8]);
        let texts = strings(&batch, 0);
        assert_eq!(
            texts[0].as_deref(),
            Some(serde_json::to_string(&nested).unwrap().as_str())
        );
        assert_eq!(
            texts[0].as_deref(),
            Some(r#"{"label":"a \"b\"","none":null,"sizes":[38,39.5]}"#)
        );
        assert_eq!(texts[1].as_deref(), Some("[]"));
        assert_eq!(texts[2], None);
    }

    #[test]
    fn an_all_null_column_later_takes_any_value_as_text() {
        let date = NaiveDate::from_ymd_opt(2024, 5, 1).unwrap();
        let mut rows = RowBatcher::new(10);
        rows.push_named([("id", Value::Int(1)), ("note", Value::Null)])
            .unwrap();
        let first = only_batch(&mut rows);
        assert_eq!(types(&first), [DataType::Int64, DataType::Utf8]);
        let later = [
            Value::Int(3),
            Value::Int(-42),
            Value::Bool(true),
            Value::Float(2.5),
            Value::Float(3.0),
            Value::Float(1e300),
            Value::Float(f64::NAN),
            Value::Date(date),
            Value::DateTime(date.and_hms_opt(8, 30, 0).unwrap()),
            Value::DateTime(date.and_hms_micro_opt(8, 30, 0, 1_500).unwrap()),
            Value::DateTimeUtc(Utc.with_ymd_and_hms(2024, 5, 1, 6, 30, 5).unwrap()),
            dec("12.50"),
            Value::Json(serde_json::json!({"a": 1})),
            text("as is"),
            Value::Null,
        ];
        for v in later {
            rows.push_named([("note", v)]).unwrap();
        }
        let batch = only_batch(&mut rows);
        assert_eq!(batch.schema(), first.schema());
        let texts: Vec<Option<String>> = strings(&batch, 1);
        let expected = [
            "3",
            "-42",
            "true",
            "2.5",
            "3.0",
            "1e300",
            "NaN",
            "2024-05-01",
            "2024-05-01T08:30:00",
            "2024-05-01T08:30:00.001500",
            "2024-05-01T06:30:05Z",
            "12.50",
            r#"{"a":1}"#,
            "as is",
        ]
        .map(|s| Some(s.to_owned()));
        assert_eq!(texts[..14], expected);
        assert_eq!(texts[14], None);

        rows.push_named([("note", Value::Bytes(vec![1]))]).unwrap();
        let (line, reason) = invalid_input(rows.flush().unwrap_err());
        assert_eq!(line, Some(17));
        assert!(
            reason.starts_with("column \"note\": row 17 is bytes, which have no text form"),
            "{reason}"
        );
    }

    #[test]
    fn nan_and_infinities_are_kept() {
        let mut rows = RowBatcher::new(10);
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0] {
            rows.push_positional(vec![Value::Float(v)]).unwrap();
        }
        let batch = only_batch(&mut rows);
        let f = batch.column(0).as_primitive::<Float64Type>();
        assert!(f.value(0).is_nan());
        assert_eq!(f.value(1), f64::INFINITY);
        assert_eq!(f.value(2), f64::NEG_INFINITY);
        assert!(f.value(3) == 0.0 && f.value(3).is_sign_negative());
        assert_eq!(f.null_count(), 0);
    }

    #[test]
    fn row_numbers_count_all_rows_across_batches() {
        let mut rows = RowBatcher::new(2);
        for i in 0..4 {
            rows.push_positional(vec![Value::Int(i)]).unwrap();
            if rows.is_full() {
                only_batch(&mut rows);
            }
        }
        assert_eq!((rows.rows(), rows.buffered()), (4, 0));
        rows.push_positional(vec![Value::Int(4)]).unwrap();
        let (line, _) = invalid_input(rows.push_positional(vec![]).unwrap_err());
        assert_eq!(line, Some(6));
        let (line, reason) =
            invalid_input(rows.push_named([("col_9", Value::Int(0))]).unwrap_err());
        assert_eq!(line, Some(6));
        assert_eq!(reason, "unknown key \"col_9\"; the columns are col_1");
        rows.push_positional(vec![text("six")]).unwrap();
        let (line, reason) = invalid_input(rows.flush().unwrap_err());
        assert_eq!(line, Some(6));
        assert!(reason.contains("row 6 is text"), "{reason}");
    }

    #[test]
    fn the_schema_is_fixed_by_the_first_batch() {
        let mut rows = RowBatcher::new(0);
        assert_eq!(rows.batch_rows, 1);
        assert_eq!(rows.schema(), None);
        assert_eq!(rows.flush().unwrap(), None);
        rows.push_named([("a", Value::Int(1)), ("b", Value::Null)])
            .unwrap();
        assert!(rows.is_full());
        assert_eq!(rows.schema(), None);
        let first = only_batch(&mut rows);
        let schema = rows.schema().unwrap();
        assert!(Arc::ptr_eq(&schema, &first.schema()));
        rows.push_named([("b", text("x")), ("a", Value::Null)])
            .unwrap();
        let second = only_batch(&mut rows);
        assert!(Arc::ptr_eq(&schema, &second.schema()));
        assert!(Arc::ptr_eq(&schema, &rows.schema().unwrap()));
        assert_eq!(types(&second), [DataType::Int64, DataType::Utf8]);
    }

    #[test]
    fn flush_keeps_the_buffers_capacity() {
        let mut rows = RowBatcher::new(100);
        for i in 0..50 {
            rows.push_named([("a", Value::Int(i)), ("b", text("x"))])
                .unwrap();
        }
        only_batch(&mut rows);
        assert_eq!(rows.buffered(), 0);
        for buffer in &rows.buffers {
            assert!(buffer.is_empty());
            assert!(buffer.capacity() >= 50, "{}", buffer.capacity());
        }
    }

    #[test]
    fn empty_fixed_columns_still_count_rows() {
        let mut rows = RowBatcher::with_columns(Vec::new(), 10);
        rows.push_positional(Vec::new()).unwrap();
        rows.push_named(Vec::<(&str, Value)>::new()).unwrap();
        let batch = only_batch(&mut rows);
        assert_eq!((batch.num_rows(), batch.num_columns()), (2, 0));
    }
}
