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

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_postgres::types::ToSql;
use tokio_postgres::{CancelToken, Row, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::Source;
use crate::db::PgOptions;
use crate::error::{ExportError, Result};
use crate::runtime::IoRuntime;

mod layout;
mod numeric;
mod params;
mod read;

use layout::Layout;
pub use params::PgParam;

type BoxError = Box<dyn StdError + Sync + Send>;

/// Rows fetched per round trip when none is set.
pub const DEFAULT_BATCH_ROWS: usize = 8_192;

/// The application name a source's connections report (`pg_stat_activity.application_name`)
/// unless [`PgSourceBuilder::application_name`] sets another.
pub const DEFAULT_APPLICATION_NAME: &str = "export-core source";

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
