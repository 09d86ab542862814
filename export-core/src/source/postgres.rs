//! The rows of a PostgreSQL query as Arrow record batches ([`PgSource`], cargo feature
//! `postgres`).
//!
//! The query runs in a read-only transaction on a connection of its own, through a portal (the
//! extended protocol's cursor): the server sends `batch_rows` rows at a time, a task on the
//! engine's [`IoRuntime`] fetches the next batch while the pipeline writes the last one, and
//! no more than two batches are ever held. Parameters are bound by the server (`$1`, `$2`, ...),
//! never spliced into the SQL. Dropping the source (an export that ends, fails or is cancelled)
//! cancels the running query and closes its connection.
//!
//! # Type mapping
//!
//! | PostgreSQL | Arrow |
//! |---|---|
//! | `boolean` | `Boolean` |
//! | `smallint`, `integer`, `bigint` | `Int16`, `Int32`, `Int64` |
//! | `real`, `double precision` | `Float32`, `Float64` |
//! | `numeric(p, s)` (p ≤ 38, s ≥ 0) | `Decimal128(p, s)` |
//! | `numeric` without a precision | `Utf8`, the exact decimal text |
//! | `text`, `varchar`, `char(n)`, `name` | `Utf8` |
//! | `uuid` | `Utf8`, hyphenated lower case |
//! | `json`, `jsonb` | `Utf8`, the JSON text (nested Arrow types with a target schema) |
//! | `bytea` | `Binary` |
//! | `date` | `Date32` |
//! | `time` | `Time64(Microsecond)` |
//! | `timestamp` | `Timestamp(Microsecond, None)` |
//! | `timestamptz` | `Timestamp(Microsecond, "UTC")` |
//! | a one-dimensional array of the above but `json`, `bytea`, `numeric`, `time` | `List` of the element's type |
//!
//! Any other type is refused when the source opens, naming the column: cast it in the query
//! (`interval::text`, `inet::text`, ...).
//!
//! With a target schema ([`PgSourceBuilder::target_schema`], what a dataset with a built-in
//! schema uses), each target column is taken by name and converted to the target's type:
//! integers widened, timestamps to the target's unit, JSON text decoded into the target's
//! lists and structs. Columns the target does not name are not read into the batches.

use std::error::Error as StdError;
use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder,
    Float64Builder, Int16Builder, Int32Builder, Int64Builder, ListBuilder, StringBuilder,
    Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use bytes::BytesMut;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_postgres::types::{FromSql, IsNull, Kind, ToSql, Type};
use tokio_postgres::{CancelToken, Column, Row, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::Source;
use crate::db::PgOptions;
use crate::error::{ExportError, Result};
use crate::runtime::IoRuntime;

type BoxError = Box<dyn StdError + Sync + Send>;

/// Rows fetched per round trip when none is set.
pub const DEFAULT_BATCH_ROWS: usize = 8_192;

/// The application name a source's connections report (`pg_stat_activity.application_name`)
/// unless [`PgSourceBuilder::application_name`] sets another.
pub const DEFAULT_APPLICATION_NAME: &str = "export-core source";

/// A value bound to one query parameter.
///
/// Each kind is converted to the parameter's type as the server declared it: an
/// [`PgParam::Int`] binds to `smallint`, `integer` or `bigint` (refused when out of range), a
/// [`PgParam::Timestamp`] to `timestamptz`, `timestamp` (UTC) or `date`, a list to an array of
/// those, and [`PgParam::Null`] to any type.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PgParam {
    /// SQL `NULL`.
    Null,
    /// `boolean`.
    Bool(bool),
    /// `smallint`, `integer`, `bigint`.
    Int(i64),
    /// `real`, `double precision`.
    Float(f64),
    /// `text`, `varchar`, `char(n)`, `name`; `uuid` when the text is one.
    Text(String),
    /// `timestamptz`, `timestamp` (the UTC wall time), `date` (the UTC date).
    Timestamp(DateTime<Utc>),
    /// An array of integers.
    IntList(Vec<i64>),
    /// An array of texts.
    TextList(Vec<String>),
}

impl PgParam {
    fn kind(&self) -> &'static str {
        match self {
            PgParam::Null => "null",
            PgParam::Bool(_) => "boolean",
            PgParam::Int(_) => "integer",
            PgParam::Float(_) => "number",
            PgParam::Text(_) => "text",
            PgParam::Timestamp(_) => "timestamp",
            PgParam::IntList(_) => "list of integers",
            PgParam::TextList(_) => "list of texts",
        }
    }

    /// Whether this value can be bound to a parameter of type `ty`.
    fn fits(&self, ty: &Type) -> bool {
        let int = |t: &Type| matches!(*t, Type::INT2 | Type::INT4 | Type::INT8);
        let text = |t: &Type| matches!(*t, Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME);
        match self {
            PgParam::Null => true,
            PgParam::Bool(_) => *ty == Type::BOOL,
            PgParam::Int(_) => int(ty) || matches!(*ty, Type::FLOAT4 | Type::FLOAT8),
            PgParam::Float(_) => matches!(*ty, Type::FLOAT4 | Type::FLOAT8),
            PgParam::Text(_) => text(ty) || *ty == Type::UUID,
            PgParam::Timestamp(_) => {
                matches!(*ty, Type::TIMESTAMPTZ | Type::TIMESTAMP | Type::DATE)
            }
            PgParam::IntList(_) => matches!(ty.kind(), Kind::Array(e) if int(e)),
            PgParam::TextList(_) => matches!(ty.kind(), Kind::Array(e) if text(e)),
        }
    }
}

impl ToSql for PgParam {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, BoxError> {
        match self {
            PgParam::Null => Ok(IsNull::Yes),
            PgParam::Bool(v) => v.to_sql(ty, out),
            PgParam::Int(v) => match *ty {
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                Type::FLOAT8 => (*v as f64).to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            PgParam::Float(v) => match *ty {
                Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            PgParam::Text(v) => match *ty {
                Type::UUID => uuid::Uuid::parse_str(v)?.to_sql(ty, out),
                _ => v.as_str().to_sql(ty, out),
            },
            PgParam::Timestamp(v) => match *ty {
                Type::TIMESTAMP => v.naive_utc().to_sql(ty, out),
                Type::DATE => v.date_naive().to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            PgParam::IntList(v) => match ty.kind() {
                Kind::Array(e) if *e == Type::INT2 => v
                    .iter()
                    .map(|&n| i16::try_from(n))
                    .collect::<std::result::Result<Vec<_>, _>>()?
                    .to_sql(ty, out),
                Kind::Array(e) if *e == Type::INT4 => v
                    .iter()
                    .map(|&n| i32::try_from(n))
                    .collect::<std::result::Result<Vec<_>, _>>()?
                    .to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            PgParam::TextList(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        // Checked per value by `fits` when the source opens, with a message naming the
        // parameter; the driver's static check cannot see the value's kind.
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

/// Builds a [`PgSource`].
///
/// # Examples
///
/// Building one checks nothing; [`PgSourceBuilder::open`] connects and prepares the query:
///
/// ```
/// use export_core::runtime::IoRuntime;
/// use export_core::source::{PgParam, PgSource};
///
/// let builder = PgSource::builder("postgres://nobody@127.0.0.1:1/none", "SELECT $1::int8 AS n")
///     .param(PgParam::Int(7))
///     .batch_rows(0);
/// let err = builder.open(&IoRuntime::shared()).unwrap_err();
/// assert_eq!(err.to_string(), "invalid `batch_rows`: must be at least 1");
/// ```
#[derive(Debug, Clone)]
pub struct PgSourceBuilder {
    url: String,
    options: PgOptions,
    sql: String,
    params: Vec<PgParam>,
    batch_rows: usize,
    target: Option<SchemaRef>,
    name: String,
    application_name: String,
}

impl PgSourceBuilder {
    /// Binds the next parameter (`$1`, then `$2`, ...).
    pub fn param(mut self, value: PgParam) -> Self {
        self.params.push(value);
        self
    }

    /// Binds every parameter, in order.
    pub fn params(mut self, values: Vec<PgParam>) -> Self {
        self.params = values;
        self
    }

    /// Rows per round trip and per batch (default [`DEFAULT_BATCH_ROWS`]).
    pub fn batch_rows(mut self, rows: usize) -> Self {
        self.batch_rows = rows;
        self
    }

    /// Converts the batches to `schema`: its columns taken by name from the query's, each
    /// converted to its type (see the module's documentation).
    pub fn target_schema(mut self, schema: SchemaRef) -> Self {
        self.target = Some(schema);
        self
    }

    /// TLS and timeouts (the URL's `sslmode`, `sslrootcert` and `connect_timeout` apply when
    /// these leave them unset). The pool settings and the schema are not used.
    pub fn options(mut self, options: PgOptions) -> Self {
        self.options = options;
        self
    }

    /// The name errors give as their source (default `postgres query`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// What the connection reports as `application_name` (default
    /// [`DEFAULT_APPLICATION_NAME`]), unless the URL sets one.
    pub fn application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = name.into();
        self
    }

    /// Connects and prepares the query, and returns the schema of its batches, without running
    /// it.
    ///
    /// # Errors
    ///
    /// As [`PgSourceBuilder::open`].
    pub fn describe(&self, io: &IoRuntime) -> Result<SchemaRef> {
        let prepared = io.block_on(self.prepare(io))?;
        Ok(prepared.layout.schema.clone())
    }

    /// Connects, prepares the query, checks its columns and parameters, and starts fetching.
    ///
    /// # Errors
    ///
    /// - [`ExportError::InvalidRequest`] for a bad URL or `batch_rows` of 0;
    /// - [`ExportError::Store`] when the server cannot be reached;
    /// - [`ExportError::InvalidInput`] naming the source for SQL the server refuses, a column of
    ///   an unsupported type, or parameters of the wrong number or kind;
    /// - [`ExportError::MissingColumn`] or [`ExportError::ColumnType`] when the query lacks a
    ///   target column or has one that cannot be converted.
    pub fn open(self, io: &IoRuntime) -> Result<PgSource> {
        let prepared = io.block_on(self.prepare(io))?;
        let Prepared {
            client,
            statement,
            layout,
        } = prepared;
        let cancel = client.cancel_token();
        let tls = self.tls()?;
        let (sender, receiver) = mpsc::channel(1);
        let params = self.params;
        let batch_rows = self.batch_rows;
        let task = io
            .handle()
            .spawn(fetch(client, statement, params, batch_rows, sender));
        Ok(PgSource {
            io: io.clone(),
            layout,
            receiver,
            task: Some(task),
            cancel,
            tls,
            name: self.name,
            done: false,
        })
    }

    fn tls(&self) -> Result<MakeRustlsConnect> {
        Ok(crate::db::pg_client_config(&self.url, &self.options)?.1)
    }

    fn input_error(&self, reason: impl Into<String>) -> ExportError {
        ExportError::InvalidInput {
            source_name: self.name.clone(),
            line: None,
            reason: reason.into(),
        }
    }

    async fn prepare(&self, io: &IoRuntime) -> Result<Prepared> {
        if self.batch_rows == 0 {
            return Err(ExportError::request("batch_rows", "must be at least 1"));
        }
        let (mut config, tls, _) = crate::db::pg_client_config(&self.url, &self.options)?;
        if config.get_application_name() == Some("export-core") {
            config.application_name(&self.application_name);
        }
        let (client, connection) = config.connect(tls).await.map_err(connect_error)?;
        // The connection's I/O runs on the engine's runtime; it ends when the client is dropped.
        io.handle().spawn(async move {
            let _ = connection.await;
        });
        let statement = client
            .prepare(&self.sql)
            .await
            .map_err(|e| self.input_error(format!("the query was refused: {}", db_message(&e))))?;
        if statement.params().len() != self.params.len() {
            return Err(self.input_error(format!(
                "the query has {} parameters, {} values are bound",
                statement.params().len(),
                self.params.len()
            )));
        }
        for (i, (ty, value)) in statement.params().iter().zip(&self.params).enumerate() {
            if !value.fits(ty) {
                return Err(self.input_error(format!(
                    "parameter ${} is of type {}: a {} cannot be bound to it",
                    i + 1,
                    ty.name(),
                    value.kind()
                )));
            }
        }
        let layout = Layout::new(statement.columns(), self.target.as_ref(), &self.name)?;
        Ok(Prepared {
            client,
            statement,
            layout,
        })
    }
}

struct Prepared {
    client: tokio_postgres::Client,
    statement: Statement,
    layout: Layout,
}

/// A driver error that happened before any query: the server could not be reached (transient,
/// so a job retries), unless the server answered and refused (authentication, no such
/// database), which is a configuration problem reported with the server's words.
fn connect_error(e: tokio_postgres::Error) -> ExportError {
    crate::db::error::postgres(e)
}

fn db_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// Fetches the portal's rows, `batch_rows` at a time, into `sender` until the rows end, the
/// receiver leaves or the server fails.
async fn fetch(
    mut client: tokio_postgres::Client,
    statement: Statement,
    params: Vec<PgParam>,
    batch_rows: usize,
    sender: mpsc::Sender<std::result::Result<Vec<Row>, tokio_postgres::Error>>,
) {
    let result = async {
        let tx = client
            .build_transaction()
            .read_only(true)
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .start()
            .await?;
        let portal = tx
            .bind_raw(&statement, params.iter().map(|p| p as &dyn ToSql))
            .await?;
        let max_rows = i32::try_from(batch_rows).unwrap_or(i32::MAX);
        loop {
            let rows = tx.query_portal(&portal, max_rows).await?;
            let last = rows.len() < batch_rows;
            if rows.is_empty() || sender.send(Ok(rows)).await.is_err() || last {
                break;
            }
        }
        tx.rollback().await
    }
    .await;
    if let Err(e) = result {
        let _ = sender.send(Err(e)).await;
    }
}

/// Rows of a PostgreSQL query, as record batches (see the [module documentation](self)).
pub struct PgSource {
    io: IoRuntime,
    layout: Layout,
    receiver: mpsc::Receiver<std::result::Result<Vec<Row>, tokio_postgres::Error>>,
    task: Option<JoinHandle<()>>,
    cancel: CancelToken,
    tls: MakeRustlsConnect,
    name: String,
    done: bool,
}

impl std::fmt::Debug for PgSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSource")
            .field("name", &self.name)
            .field("schema", &self.layout.schema)
            .finish_non_exhaustive()
    }
}

impl PgSource {
    /// A builder for the rows of `sql` on the database at `url` (a `postgres://` URL).
    pub fn builder(url: impl Into<String>, sql: impl Into<String>) -> PgSourceBuilder {
        PgSourceBuilder {
            url: url.into(),
            options: PgOptions::default(),
            sql: sql.into(),
            params: Vec::new(),
            batch_rows: DEFAULT_BATCH_ROWS,
            target: None,
            name: "postgres query".into(),
            application_name: DEFAULT_APPLICATION_NAME.into(),
        }
    }
}

impl Source for PgSource {
    fn schema(&self) -> SchemaRef {
        self.layout.schema.clone()
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        if self.done {
            return Ok(None);
        }
        let Some(rows) = self.io.block_on(self.receiver.recv()) else {
            self.done = true;
            return Ok(None);
        };
        let rows = rows.map_err(|e| {
            self.done = true;
            if e.as_db_error().is_some() {
                ExportError::InvalidInput {
                    source_name: self.name.clone(),
                    line: None,
                    reason: format!("the query failed: {}", db_message(&e)),
                }
            } else {
                crate::db::error::postgres(e)
            }
        })?;
        self.layout.batch(&rows, &self.name).map(Some)
    }
}

impl Drop for PgSource {
    fn drop(&mut self) {
        let Some(task) = self.task.take() else {
            return;
        };
        if task.is_finished() {
            return;
        }
        // Stop the server's work now (a query may run long before its next row), then drop the
        // client, which closes the connection.
        let cancel = self.cancel.clone();
        let tls = self.tls.clone();
        task.abort();
        self.io.handle().spawn(async move {
            let _ = cancel.cancel_query(tls).await;
        });
    }
}

/// How the query's columns become the batch's.
struct Layout {
    /// The batch schema: the target's, or the natural mapping of the query's columns.
    schema: SchemaRef,
    /// Per read column: its index in the row and its reader's type.
    read: Vec<(usize, ReadType)>,
    /// With a target: per target column, the index in `read` and whether to convert.
    target: Option<Vec<usize>>,
}

impl Layout {
    fn new(columns: &[Column], target: Option<&SchemaRef>, name: &str) -> Result<Layout> {
        let mapped = |i: usize| -> Result<ReadType> {
            let column = &columns[i];
            ReadType::of(column.type_(), column.type_modifier()).ok_or_else(|| {
                ExportError::InvalidInput {
                    source_name: name.to_string(),
                    line: None,
                    reason: format!(
                        "column `{}` is of type {}, which has no Arrow mapping: cast it in the query (for example `{}::text`)",
                        column.name(),
                        column.type_().name(),
                        column.name()
                    ),
                }
            })
        };
        let Some(target) = target else {
            let mut read = Vec::with_capacity(columns.len());
            let mut fields = Vec::with_capacity(columns.len());
            for (i, column) in columns.iter().enumerate() {
                let ty = mapped(i)?;
                fields.push(Field::new(column.name(), ty.data_type(), true));
                read.push((i, ty));
            }
            return Ok(Layout {
                schema: Arc::new(Schema::new(fields)),
                read,
                target: None,
            });
        };
        let mut read = Vec::with_capacity(target.fields().len());
        let mut order = Vec::with_capacity(target.fields().len());
        for field in target.fields() {
            let Some(i) = columns.iter().position(|c| c.name() == field.name()) else {
                return Err(ExportError::MissingColumn {
                    column: field.name().clone(),
                    expected: field.data_type().to_string(),
                });
            };
            let ty = mapped(i)?;
            let natural = ty.data_type();
            if !convertible(&natural, field.data_type()) {
                return Err(ExportError::ColumnType {
                    column: field.name().clone(),
                    expected: field.data_type().to_string(),
                    actual: format!("{} ({natural})", columns[i].type_().name()),
                });
            }
            order.push(read.len());
            read.push((i, ty));
        }
        Ok(Layout {
            schema: target.clone(),
            read,
            target: Some(order),
        })
    }

    fn batch(&self, rows: &[Row], name: &str) -> Result<RecordBatch> {
        let mut readers: Vec<Reader> = self
            .read
            .iter()
            .map(|(_, ty)| Reader::new(ty, rows.len()))
            .collect();
        for row in rows {
            for (reader, (index, _)) in readers.iter_mut().zip(&self.read) {
                reader
                    .push(row, *index)
                    .map_err(|e| ExportError::InvalidInput {
                        source_name: name.to_string(),
                        line: None,
                        reason: format!(
                            "column `{}`: cannot read a value: {e}",
                            row.columns()[*index].name()
                        ),
                    })?;
            }
        }
        let mut arrays: Vec<ArrayRef> = readers.iter_mut().map(Reader::finish).collect();
        if let Some(order) = &self.target {
            arrays = order
                .iter()
                .zip(self.schema.fields())
                .map(|(&i, field)| convert(&arrays[i], field))
                .collect::<Result<_>>()?;
        }
        let options = RecordBatchOptions::new().with_row_count(Some(rows.len()));
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            arrays,
            &options,
        )?)
    }
}

fn nested(t: &DataType) -> bool {
    matches!(
        t,
        DataType::List(_) | DataType::LargeList(_) | DataType::Struct(_) | DataType::Map(_, _)
    )
}

fn convertible(from: &DataType, to: &DataType) -> bool {
    (*from == DataType::Utf8 && nested(to)) || super::cast::castable(from, to)
}

/// Converts one column to its target field's type.
fn convert(array: &ArrayRef, field: &Field) -> Result<ArrayRef> {
    if *array.data_type() == DataType::Utf8 && nested(field.data_type()) {
        return decode_json(array, field);
    }
    super::cast::cast_column(array, field)
}

/// Decodes JSON texts into the field's nested type (arrow-json, one object per row).
fn decode_json(array: &ArrayRef, field: &Field) -> Result<ArrayRef> {
    use arrow_array::Array;
    let texts = array
        .as_any()
        .downcast_ref::<arrow_array::StringArray>()
        .expect("checked Utf8");
    let schema = Arc::new(Schema::new(vec![Field::new(
        "v",
        field.data_type().clone(),
        true,
    )]));
    let bad = |e: arrow_schema::ArrowError| ExportError::InvalidValue {
        column: field.name().clone(),
        row: 0,
        reason: format!("not JSON of type {}: {e}", field.data_type()),
    };
    let mut decoder = arrow_json::ReaderBuilder::new(schema)
        .with_batch_size(texts.len().max(1))
        .build_decoder()
        .map_err(bad)?;
    let mut buf = Vec::with_capacity(texts.value_data().len() + texts.len() * 8);
    for i in 0..texts.len() {
        if texts.is_null(i) {
            buf.extend_from_slice(b"{}\n");
        } else {
            buf.extend_from_slice(b"{\"v\":");
            buf.extend_from_slice(texts.value(i).as_bytes());
            buf.extend_from_slice(b"}\n");
        }
    }
    let mut rest = &buf[..];
    while !rest.is_empty() {
        let used = decoder.decode(rest).map_err(bad)?;
        if used == 0 {
            break;
        }
        rest = &rest[used..];
    }
    let batch = decoder.flush().map_err(bad)?;
    match batch {
        Some(batch) if batch.num_rows() == texts.len() => Ok(batch.column(0).clone()),
        Some(batch) => Err(ExportError::InvalidValue {
            column: field.name().clone(),
            row: batch.num_rows(),
            reason: "not one JSON value per row".into(),
        }),
        None => Ok(arrow_array::new_empty_array(field.data_type())),
    }
}

/// The Arrow side of one PostgreSQL column type.
#[derive(Debug, Clone, PartialEq)]
enum ReadType {
    Bool,
    I16,
    I32,
    I64,
    F32,
    F64,
    /// `numeric(p, s)`, read as `Decimal128(p, s)`.
    Decimal(u8, i8),
    /// Unconstrained `numeric`, read as its exact text.
    NumericText,
    Text,
    Uuid,
    Json,
    Bytes,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    /// A one-dimensional array of a scalar type.
    List(Box<ReadType>),
}

impl ReadType {
    fn of(ty: &Type, type_modifier: i32) -> Option<ReadType> {
        Some(match *ty {
            Type::BOOL => ReadType::Bool,
            Type::INT2 => ReadType::I16,
            Type::INT4 => ReadType::I32,
            Type::INT8 => ReadType::I64,
            Type::FLOAT4 => ReadType::F32,
            Type::FLOAT8 => ReadType::F64,
            Type::NUMERIC => {
                // typmod = ((precision << 16) | scale) + 4, or -1 when unconstrained.
                let typmod = type_modifier - 4;
                let precision = (typmod >> 16) & 0xffff;
                let scale = typmod & 0xffff;
                if type_modifier < 4 || precision > 38 || scale > precision {
                    ReadType::NumericText
                } else {
                    ReadType::Decimal(precision as u8, scale as i8)
                }
            }
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => ReadType::Text,
            Type::UUID => ReadType::Uuid,
            Type::JSON | Type::JSONB => ReadType::Json,
            Type::BYTEA => ReadType::Bytes,
            Type::DATE => ReadType::Date,
            Type::TIME => ReadType::Time,
            Type::TIMESTAMP => ReadType::Timestamp,
            Type::TIMESTAMPTZ => ReadType::TimestampTz,
            _ => match ty.kind() {
                Kind::Array(element) => {
                    let element = ReadType::of(element, -1)?;
                    match element {
                        ReadType::Json
                        | ReadType::Bytes
                        | ReadType::NumericText
                        | ReadType::Decimal(..)
                        | ReadType::Time
                        | ReadType::List(_) => return None,
                        scalar => ReadType::List(Box::new(scalar)),
                    }
                }
                _ => return None,
            },
        })
    }

    fn data_type(&self) -> DataType {
        match self {
            ReadType::Bool => DataType::Boolean,
            ReadType::I16 => DataType::Int16,
            ReadType::I32 => DataType::Int32,
            ReadType::I64 => DataType::Int64,
            ReadType::F32 => DataType::Float32,
            ReadType::F64 => DataType::Float64,
            ReadType::Decimal(p, s) => DataType::Decimal128(*p, *s),
            ReadType::NumericText | ReadType::Text | ReadType::Uuid | ReadType::Json => {
                DataType::Utf8
            }
            ReadType::Bytes => DataType::Binary,
            ReadType::Date => DataType::Date32,
            ReadType::Time => DataType::Time64(TimeUnit::Microsecond),
            ReadType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            ReadType::TimestampTz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            ReadType::List(element) => {
                DataType::List(Arc::new(Field::new("item", element.data_type(), true)))
            }
        }
    }
}

/// The days from 0001-01-01 (chrono's day 1) to 1970-01-01.
const UNIX_EPOCH_DAY: i32 = 719_163;

fn date32(d: NaiveDate) -> i32 {
    use chrono::Datelike;
    d.num_days_from_ce() - UNIX_EPOCH_DAY
}

fn micros(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_micros()
}

fn time64(t: NaiveTime) -> i64 {
    use chrono::Timelike;
    i64::from(t.num_seconds_from_midnight()) * 1_000_000 + i64::from(t.nanosecond() / 1_000)
}

/// Reads one column of rows into an Arrow builder.
enum Reader {
    Bool(BooleanBuilder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    Decimal(Decimal128Builder, u8, i8),
    NumericText(StringBuilder),
    Text(StringBuilder),
    Uuid(StringBuilder),
    Json(StringBuilder),
    Bytes(BinaryBuilder),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    TimestampTz(TimestampMicrosecondBuilder),
    ListBool(ListBuilder<BooleanBuilder>),
    ListI16(ListBuilder<Int16Builder>),
    ListI32(ListBuilder<Int32Builder>),
    ListI64(ListBuilder<Int64Builder>),
    ListF32(ListBuilder<Float32Builder>),
    ListF64(ListBuilder<Float64Builder>),
    ListText(ListBuilder<StringBuilder>),
    ListDate(ListBuilder<Date32Builder>),
    ListTimestamp(ListBuilder<TimestampMicrosecondBuilder>, bool),
}

/// Appends an optional list of optional values through `map`.
fn push_list<B, T>(
    builder: &mut ListBuilder<B>,
    value: Option<Vec<Option<T>>>,
    mut append: impl FnMut(&mut B, Option<T>),
) where
    B: ArrayBuilder,
{
    match value {
        Some(items) => {
            for item in items {
                append(builder.values(), item);
            }
            builder.append(true);
        }
        None => builder.append(false),
    }
}

impl Reader {
    fn new(ty: &ReadType, rows: usize) -> Reader {
        let strings = || StringBuilder::with_capacity(rows, rows * 16);
        match ty {
            ReadType::Bool => Reader::Bool(BooleanBuilder::with_capacity(rows)),
            ReadType::I16 => Reader::I16(Int16Builder::with_capacity(rows)),
            ReadType::I32 => Reader::I32(Int32Builder::with_capacity(rows)),
            ReadType::I64 => Reader::I64(Int64Builder::with_capacity(rows)),
            ReadType::F32 => Reader::F32(Float32Builder::with_capacity(rows)),
            ReadType::F64 => Reader::F64(Float64Builder::with_capacity(rows)),
            ReadType::Decimal(p, s) => {
                Reader::Decimal(Decimal128Builder::with_capacity(rows), *p, *s)
            }
            ReadType::NumericText => Reader::NumericText(strings()),
            ReadType::Text => Reader::Text(strings()),
            ReadType::Uuid => Reader::Uuid(strings()),
            ReadType::Json => Reader::Json(strings()),
            ReadType::Bytes => Reader::Bytes(BinaryBuilder::with_capacity(rows, rows * 16)),
            ReadType::Date => Reader::Date(Date32Builder::with_capacity(rows)),
            ReadType::Time => Reader::Time(Time64MicrosecondBuilder::with_capacity(rows)),
            ReadType::Timestamp => {
                Reader::Timestamp(TimestampMicrosecondBuilder::with_capacity(rows))
            }
            ReadType::TimestampTz => Reader::TimestampTz(
                TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"),
            ),
            ReadType::List(element) => match **element {
                ReadType::Bool => Reader::ListBool(ListBuilder::new(BooleanBuilder::new())),
                ReadType::I16 => Reader::ListI16(ListBuilder::new(Int16Builder::new())),
                ReadType::I32 => Reader::ListI32(ListBuilder::new(Int32Builder::new())),
                ReadType::I64 => Reader::ListI64(ListBuilder::new(Int64Builder::new())),
                ReadType::F32 => Reader::ListF32(ListBuilder::new(Float32Builder::new())),
                ReadType::F64 => Reader::ListF64(ListBuilder::new(Float64Builder::new())),
                ReadType::Date => Reader::ListDate(ListBuilder::new(Date32Builder::new())),
                ReadType::Timestamp => Reader::ListTimestamp(
                    ListBuilder::new(TimestampMicrosecondBuilder::new()),
                    false,
                ),
                ReadType::TimestampTz => Reader::ListTimestamp(
                    ListBuilder::new(TimestampMicrosecondBuilder::new().with_timezone("UTC")),
                    true,
                ),
                // Text, uuid: `ReadType::of` admits no other element.
                _ => Reader::ListText(ListBuilder::new(StringBuilder::new())),
            },
        }
    }

    fn push(&mut self, row: &Row, i: usize) -> std::result::Result<(), BoxError> {
        match self {
            Reader::Bool(b) => b.append_option(row.try_get::<_, Option<bool>>(i)?),
            Reader::I16(b) => b.append_option(row.try_get::<_, Option<i16>>(i)?),
            Reader::I32(b) => b.append_option(row.try_get::<_, Option<i32>>(i)?),
            Reader::I64(b) => b.append_option(row.try_get::<_, Option<i64>>(i)?),
            Reader::F32(b) => b.append_option(row.try_get::<_, Option<f32>>(i)?),
            Reader::F64(b) => b.append_option(row.try_get::<_, Option<f64>>(i)?),
            Reader::Decimal(b, _, scale) => match row.try_get::<_, Option<Numeric>>(i)? {
                None => b.append_null(),
                Some(n) => b.append_value(n.scaled(*scale)?),
            },
            Reader::NumericText(b) => {
                b.append_option(row.try_get::<_, Option<Numeric>>(i)?.map(|n| n.to_string()))
            }
            Reader::Text(b) => b.append_option(row.try_get::<_, Option<&str>>(i)?),
            Reader::Uuid(b) => b.append_option(
                row.try_get::<_, Option<uuid::Uuid>>(i)?
                    .map(|u| u.hyphenated().to_string()),
            ),
            Reader::Json(b) => {
                b.append_option(row.try_get::<_, Option<RawJson<'_>>>(i)?.map(|j| j.0))
            }
            Reader::Bytes(b) => b.append_option(row.try_get::<_, Option<&[u8]>>(i)?),
            Reader::Date(b) => b.append_option(row.try_get::<_, Option<NaiveDate>>(i)?.map(date32)),
            Reader::Time(b) => b.append_option(row.try_get::<_, Option<NaiveTime>>(i)?.map(time64)),
            Reader::Timestamp(b) => {
                b.append_option(row.try_get::<_, Option<NaiveDateTime>>(i)?.map(micros))
            }
            Reader::TimestampTz(b) => b.append_option(
                row.try_get::<_, Option<DateTime<Utc>>>(i)?
                    .map(|t| t.timestamp_micros()),
            ),
            Reader::ListBool(b) => {
                push_list(b, row.try_get(i)?, |b, v: Option<bool>| b.append_option(v))
            }
            Reader::ListI16(b) => {
                push_list(b, row.try_get(i)?, |b, v: Option<i16>| b.append_option(v))
            }
            Reader::ListI32(b) => {
                push_list(b, row.try_get(i)?, |b, v: Option<i32>| b.append_option(v))
            }
            Reader::ListI64(b) => {
                push_list(b, row.try_get(i)?, |b, v: Option<i64>| b.append_option(v))
            }
            Reader::ListF32(b) => {
                push_list(b, row.try_get(i)?, |b, v: Option<f32>| b.append_option(v))
            }
            Reader::ListF64(b) => {
                push_list(b, row.try_get(i)?, |b, v: Option<f64>| b.append_option(v))
            }
            Reader::ListDate(b) => push_list(b, row.try_get(i)?, |b, v: Option<NaiveDate>| {
                b.append_option(v.map(date32))
            }),
            Reader::ListTimestamp(b, true) => {
                push_list(b, row.try_get(i)?, |b, v: Option<DateTime<Utc>>| {
                    b.append_option(v.map(|t| t.timestamp_micros()))
                })
            }
            Reader::ListTimestamp(b, false) => {
                push_list(b, row.try_get(i)?, |b, v: Option<NaiveDateTime>| {
                    b.append_option(v.map(micros))
                })
            }
            Reader::ListText(b) => push_list(b, row.try_get(i)?, |b, v: Option<TextOrUuid>| {
                b.append_option(v.map(|t| t.0))
            }),
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Reader::Bool(b) => Arc::new(b.finish()),
            Reader::I16(b) => Arc::new(b.finish()),
            Reader::I32(b) => Arc::new(b.finish()),
            Reader::I64(b) => Arc::new(b.finish()),
            Reader::F32(b) => Arc::new(b.finish()),
            Reader::F64(b) => Arc::new(b.finish()),
            Reader::Decimal(b, p, s) => Arc::new(
                b.finish()
                    .with_precision_and_scale(*p, *s)
                    .expect("precision and scale checked when mapped"),
            ),
            Reader::NumericText(b) | Reader::Text(b) | Reader::Uuid(b) | Reader::Json(b) => {
                Arc::new(b.finish())
            }
            Reader::Bytes(b) => Arc::new(b.finish()),
            Reader::Date(b) => Arc::new(b.finish()),
            Reader::Time(b) => Arc::new(b.finish()),
            Reader::Timestamp(b) | Reader::TimestampTz(b) => Arc::new(b.finish()),
            Reader::ListBool(b) => Arc::new(b.finish()),
            Reader::ListI16(b) => Arc::new(b.finish()),
            Reader::ListI32(b) => Arc::new(b.finish()),
            Reader::ListI64(b) => Arc::new(b.finish()),
            Reader::ListF32(b) => Arc::new(b.finish()),
            Reader::ListF64(b) => Arc::new(b.finish()),
            Reader::ListText(b) => Arc::new(b.finish()),
            Reader::ListDate(b) => Arc::new(b.finish()),
            Reader::ListTimestamp(b, _) => Arc::new(b.finish()),
        }
    }
}

/// A `json` or `jsonb` value's text, borrowed from the row.
struct RawJson<'a>(&'a str);

impl<'a> FromSql<'a> for RawJson<'a> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> std::result::Result<Self, BoxError> {
        let text = if *ty == Type::JSONB {
            // jsonb's binary format: a version byte (1), then the text.
            match raw.split_first() {
                Some((1, rest)) => rest,
                _ => return Err("unsupported jsonb version".into()),
            }
        } else {
            raw
        };
        Ok(RawJson(std::str::from_utf8(text)?))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::JSON | Type::JSONB)
    }
}

/// A text or a uuid (as its hyphenated text), for array elements.
struct TextOrUuid(String);

impl<'a> FromSql<'a> for TextOrUuid {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> std::result::Result<Self, BoxError> {
        if *ty == Type::UUID {
            Ok(TextOrUuid(
                uuid::Uuid::from_sql(ty, raw)?.hyphenated().to_string(),
            ))
        } else {
            Ok(TextOrUuid(<&str>::from_sql(ty, raw)?.to_string()))
        }
    }

    fn accepts(ty: &Type) -> bool {
        <&str as FromSql>::accepts(ty) || *ty == Type::UUID
    }
}

/// A `numeric` in PostgreSQL's binary form: base-10000 digits, the weight of the first, the
/// sign and the display scale.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Numeric {
    digits: Vec<i16>,
    weight: i16,
    sign: u16,
    dscale: u16,
}

const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;

impl<'a> FromSql<'a> for Numeric {
    fn from_sql(_: &Type, raw: &'a [u8]) -> std::result::Result<Self, BoxError> {
        let word = |i: usize| -> std::result::Result<u16, BoxError> {
            raw.get(i * 2..i * 2 + 2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .ok_or_else(|| "truncated numeric".into())
        };
        let ndigits = word(0)? as usize;
        let weight = word(1)? as i16;
        let sign = word(2)?;
        let dscale = word(3)?;
        let digits = (0..ndigits)
            .map(|i| word(4 + i).map(|d| d as i16))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if digits.iter().any(|d| !(0..10_000).contains(d)) {
            return Err("numeric digit out of range".into());
        }
        Ok(Numeric {
            digits,
            weight,
            sign,
            dscale,
        })
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

impl Numeric {
    /// The value times 10^`scale`, as a `Decimal128`'s integer.
    fn scaled(&self, scale: i8) -> std::result::Result<i128, String> {
        if matches!(self.sign, NUMERIC_NAN | NUMERIC_PINF | NUMERIC_NINF) {
            return Err(format!("{self} has no decimal value"));
        }
        let mut acc: i128 = 0;
        for (i, &d) in self.digits.iter().enumerate() {
            let exponent = 4 * (i32::from(self.weight) - i as i32) + i32::from(scale);
            let term = if exponent >= 0 {
                10i128
                    .checked_pow(exponent as u32)
                    .and_then(|p| p.checked_mul(i128::from(d)))
            } else if exponent > -4 {
                Some(i128::from(d) / 10i128.pow((-exponent) as u32))
            } else {
                Some(0)
            };
            acc = term
                .and_then(|t| acc.checked_add(t))
                .ok_or_else(|| format!("{self} does not fit a 128-bit decimal"))?;
        }
        Ok(if self.sign == NUMERIC_NEG { -acc } else { acc })
    }
}

impl std::fmt::Display for Numeric {
    /// The text PostgreSQL prints: `-12.340`, `0.05`, `NaN`, `Infinity`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.sign {
            NUMERIC_NAN => return f.write_str("NaN"),
            NUMERIC_PINF => return f.write_str("Infinity"),
            NUMERIC_NINF => return f.write_str("-Infinity"),
            _ => {}
        }
        let digit = |i: i32| -> i16 {
            usize::try_from(i)
                .ok()
                .and_then(|i| self.digits.get(i).copied())
                .unwrap_or(0)
        };
        let mut text = String::new();
        if self.sign == NUMERIC_NEG && !self.digits.is_empty() {
            text.push('-');
        }
        if self.weight < 0 || self.digits.is_empty() {
            text.push('0');
        } else {
            for i in 0..=i32::from(self.weight) {
                if i == 0 {
                    text.push_str(&digit(i).to_string());
                } else {
                    text.push_str(&format!("{:04}", digit(i)));
                }
            }
        }
        if self.dscale > 0 {
            text.push('.');
            let mut fraction = String::new();
            let mut j = 1;
            while fraction.len() < usize::from(self.dscale) {
                fraction.push_str(&format!("{:04}", digit(i32::from(self.weight) + j)));
                j += 1;
            }
            fraction.truncate(usize::from(self.dscale));
            text.push_str(&fraction);
        }
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(digits: &[i16], weight: i16, sign: u16, dscale: u16) -> Numeric {
        Numeric {
            digits: digits.to_vec(),
            weight,
            sign,
            dscale,
        }
    }

    #[test]
    fn numerics_print_as_postgresql_does() {
        assert_eq!(numeric(&[12, 3400], 0, 0, 3).to_string(), "12.340");
        assert_eq!(
            numeric(&[12, 3400], 0, NUMERIC_NEG, 2).to_string(),
            "-12.34"
        );
        assert_eq!(numeric(&[500], -1, 0, 2).to_string(), "0.05");
        assert_eq!(numeric(&[1, 0, 5], 2, 0, 0).to_string(), "100000005");
        assert_eq!(numeric(&[], 0, 0, 2).to_string(), "0.00");
        assert_eq!(numeric(&[], 0, NUMERIC_NAN, 0).to_string(), "NaN");
        assert_eq!(numeric(&[1], -2, 0, 8).to_string(), "0.00000001");
    }

    #[test]
    fn numerics_scale_into_decimal128() {
        assert_eq!(numeric(&[12, 3400], 0, 0, 2).scaled(2), Ok(1234));
        assert_eq!(
            numeric(&[12, 3400], 0, NUMERIC_NEG, 2).scaled(3),
            Ok(-12340)
        );
        assert_eq!(numeric(&[1, 0, 5], 2, 0, 0).scaled(0), Ok(100_000_005));
        assert_eq!(numeric(&[500], -1, 0, 2).scaled(2), Ok(5));
        assert!(numeric(&[], 0, NUMERIC_NAN, 0).scaled(2).is_err());
        let huge = numeric(&[9999; 12], 11, 0, 0);
        assert!(huge.scaled(0).unwrap_err().contains("does not fit"));
    }

    #[test]
    fn types_map_as_documented() {
        let numeric_10_2 = ((10 << 16) | 2) + 4;
        assert_eq!(
            ReadType::of(&Type::NUMERIC, numeric_10_2)
                .unwrap()
                .data_type(),
            DataType::Decimal128(10, 2)
        );
        assert_eq!(
            ReadType::of(&Type::NUMERIC, -1).unwrap().data_type(),
            DataType::Utf8
        );
        assert_eq!(
            ReadType::of(&Type::INT8_ARRAY, -1).unwrap().data_type(),
            DataType::List(Arc::new(Field::new("item", DataType::Int64, true)))
        );
        assert!(ReadType::of(&Type::INTERVAL, -1).is_none());
        assert!(ReadType::of(&Type::JSONB_ARRAY, -1).is_none());
    }

    #[test]
    fn params_fit_their_types_only() {
        assert!(PgParam::Int(1).fits(&Type::INT4));
        assert!(!PgParam::Int(1).fits(&Type::TEXT));
        assert!(PgParam::Timestamp(Utc::now()).fits(&Type::DATE));
        assert!(PgParam::IntList(vec![1]).fits(&Type::INT8_ARRAY));
        assert!(!PgParam::IntList(vec![1]).fits(&Type::TEXT_ARRAY));
        assert!(PgParam::Null.fits(&Type::JSONB));
    }
}
