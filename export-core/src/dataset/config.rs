//! Datasets declared in the engine's configuration (`[datasets.NAME]`): a SQL query against one
//! of the `[databases.NAME]`, a Parquet file, an Arrow IPC file, or the host's own code.
//!
//! `[datasets.trip]` gives the data of the built-in trip schema (its columns converted to the
//! trip input types); any other name is a dataset of its own whose columns are the source's,
//! optionally selected and renamed (`columns`, `headers`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arrow_schema::{Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use super::{Dataset, DatasetSource, Datasets};
use crate::engine::duration;
use crate::error::{ExportError, Result};
use crate::request::ExportRequest;
use crate::runtime::IoRuntime;
use crate::schema::{Column, ExportSchema};
use crate::source::Source;

/// A database datasets query (`[databases.NAME]`).
///
/// # Examples
///
/// ```
/// use export_core::engine::EngineConfig;
/// let config = EngineConfig::from_toml_str(r#"
///     [databases.registry]
///     url = "postgres://reader@db.internal/registry"
///     tls = "verify-full"
/// "#)?;
/// assert_eq!(config.databases["registry"].tls, "verify-full");
/// # Ok::<(), export_core::ExportError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `postgres://user:password@host:port/db` (feature `postgres`).
    pub url: String,
    /// TLS: `disable`, `prefer`, `require`, `verify-ca` or `verify-full` (default `prefer`).
    pub tls: String,
    /// A PEM file of CA certificates that verify the server.
    pub ca_file: Option<PathBuf>,
    /// How long connecting may take (default 10 s).
    #[serde(with = "duration")]
    pub connect_timeout: Duration,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: String::new(),
            tls: "prefer".into(),
            ca_file: None,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// A dataset (`[datasets.NAME]`): exactly one of `query` (with `database`), `parquet`,
/// `arrow` or `host`.
///
/// # Examples
///
/// ```
/// use export_core::engine::EngineConfig;
/// let config = EngineConfig::from_toml_str(r#"
///     [datasets.trip]
///     database = "registry"
///     query = "SELECT * FROM trips WHERE start_at >= $1 AND start_at < $2"
///     params = ["period.start", "period.end"]
///
///     [datasets.products]
///     parquet = "data/products.parquet"
///     columns = ["id", "sku", "price"]
///     headers = { sku = "SKU" }
/// "#)?;
/// assert_eq!(config.datasets["trip"].params.len(), 2);
/// assert_eq!(config.datasets["products"].headers["sku"], "SKU");
///
/// let err = EngineConfig::from_toml_str("[datasets.x]\nquerry = \"SELECT 1\"").unwrap_err();
/// assert!(err.to_string().contains("unknown field `querry`"), "{err}");
/// # Ok::<(), export_core::ExportError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatasetConfig {
    /// One line for listings.
    pub description: String,
    /// The `[databases.NAME]` the query runs against.
    pub database: Option<String>,
    /// The SQL, with `$1`, `$2`, ... bound to `params` (run read-only).
    pub query: Option<String>,
    /// The request's values bound to `$1`, `$2`, ...: names of [`RequestParam`].
    pub params: Vec<String>,
    /// A Parquet file (feature `parquet`), read by row group.
    pub parquet: Option<PathBuf>,
    /// An Arrow IPC file or stream.
    pub arrow: Option<PathBuf>,
    /// Rows from the host's own code, with these columns (`"NAME:TYPE"`, the type as Arrow
    /// prints it: `"id:Int64"`, `"placed:Timestamp(Millisecond, \"UTC\")"`): a Rust
    /// [`SourceProvider`](crate::worker::SourceProvider), or the `data` callable of a Python or
    /// Node worker. Exported without one, the export fails naming the dataset.
    pub host: Vec<String>,
    /// The source's columns to export, in order (default: all). Not for `trip`.
    pub columns: Vec<String>,
    /// Header labels by column name. Not for `trip`.
    pub headers: BTreeMap<String, String>,
    /// Rows per batch read from the source (default: the source's).
    pub batch_rows: Option<usize>,
}

/// A value of the request bound to a query parameter.
///
/// | name | value | when the request has none |
/// |---|---|---|
/// | `period.start`, `period.end` | the period's bounds (`timestamptz`, `timestamp` in UTC, `date`) | `NULL` |
/// | `operators` | the operator-id filter (an integer array) | `NULL` |
/// | `territories` | the territory filter (a text array) | `NULL` |
/// | `audience` | `opendata`, `operator` or `territory` (text) | `NULL` |
/// | `version` | `v2` or `v3` (text) | `NULL` |
/// | `format` | `csv`, `xlsx`, `json`, `jsonlines` (text) | - |
///
/// `NULL` for "no filter" lets one query serve every request:
/// `WHERE ($3::int8[] IS NULL OR operator_id = ANY($3))`. The trip schema applies its own
/// filters and privacy rules to whatever the query returns, so a query that reads more than it
/// needs is slower, never less private.
///
/// # Examples
///
/// ```
/// use export_core::dataset::RequestParam;
/// assert_eq!("period.start".parse::<RequestParam>()?, RequestParam::PeriodStart);
/// let err = "period.begin".parse::<RequestParam>().unwrap_err();
/// assert!(err.to_string().contains("`period.begin`"), "{err}");
/// # Ok::<(), export_core::ExportError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestParam {
    /// The period's start.
    PeriodStart,
    /// The period's end (exclusive).
    PeriodEnd,
    /// The operator ids filtered on.
    Operators,
    /// The territories filtered on.
    Territories,
    /// The audience.
    Audience,
    /// The schema version.
    Version,
    /// The output format.
    Format,
}

impl RequestParam {
    /// Every parameter, with its name.
    pub const ALL: [(&'static str, RequestParam); 7] = [
        ("period.start", RequestParam::PeriodStart),
        ("period.end", RequestParam::PeriodEnd),
        ("operators", RequestParam::Operators),
        ("territories", RequestParam::Territories),
        ("audience", RequestParam::Audience),
        ("version", RequestParam::Version),
        ("format", RequestParam::Format),
    ];
}

impl std::str::FromStr for RequestParam {
    type Err = ExportError;

    fn from_str(s: &str) -> Result<RequestParam> {
        RequestParam::ALL
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, p)| *p)
            .ok_or_else(|| {
                let names: Vec<&str> = RequestParam::ALL.iter().map(|(n, _)| *n).collect();
                ExportError::request(
                    "params",
                    format!(
                        "unknown parameter `{s}`; expected one of {}",
                        names.join(", ")
                    ),
                )
            })
    }
}

/// The datasets of `config`, their sources opened on `io`.
///
/// # Errors
///
/// [`ExportError::Config`] naming `datasets.NAME` (and the key) for a dataset that names no
/// source or two, an unknown database or parameter, a column that does not exist, a query
/// the server refuses, or a source this build cannot read.
pub(crate) fn build_datasets(
    datasets: &BTreeMap<String, DatasetConfig>,
    databases: &BTreeMap<String, DatabaseConfig>,
    io: &IoRuntime,
) -> Result<Datasets> {
    let mut built = Datasets::new();
    for (name, config) in datasets {
        let dataset = build(name, config, databases, io).map_err(|e| match e {
            ExportError::Config { .. } => e,
            other => ExportError::config(format!("datasets.{name}"), other.to_string()),
        })?;
        built.add(dataset)?;
    }
    Ok(built)
}

fn build(
    name: &str,
    config: &DatasetConfig,
    databases: &BTreeMap<String, DatabaseConfig>,
    io: &IoRuntime,
) -> Result<Dataset> {
    let key = |k: &str| format!("datasets.{name}.{k}");
    check_name(name)?;
    let trip = name == crate::registry::TRIP_SCHEMA;
    if trip && (!config.columns.is_empty() || !config.headers.is_empty()) {
        return Err(ExportError::config(
            key("columns"),
            "the trip schema's columns are its own: `columns` and `headers` do not apply",
        ));
    }
    let given = [
        config.query.is_some(),
        config.parquet.is_some(),
        config.arrow.is_some(),
        !config.host.is_empty(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(ExportError::config(
            format!("datasets.{name}"),
            "give exactly one source: `query` (with `database`), `parquet`, `arrow` or `host`",
        ));
    }
    if trip && !config.host.is_empty() {
        return Err(ExportError::config(
            key("host"),
            "the trip schema's columns are its own: a host gives trips through a source provider",
        ));
    }
    if config.query.is_none() && (config.database.is_some() || !config.params.is_empty()) {
        return Err(ExportError::config(
            key("database"),
            "`database` and `params` go with a `query`",
        ));
    }
    if config.batch_rows == Some(0) {
        return Err(ExportError::config(key("batch_rows"), "must be at least 1"));
    }
    let target = trip.then(crate::schema::trip::input_schema);
    let (natural, source): (SchemaRef, Arc<dyn DatasetSource>) = if let Some(query) = &config.query
    {
        sql_source(name, config, query, databases, target.clone(), io)?
    } else if !config.host.is_empty() {
        let schema = host_schema(name, &config.host)?;
        let source = HostRows {
            name: name.to_string(),
        };
        (schema, Arc::new(source) as Arc<dyn DatasetSource>)
    } else if let Some(path) = &config.parquet {
        // Only the exported columns are read: the trip input's, or those `columns` selects.
        let wanted = match &target {
            Some(input) => Some(input.fields().iter().map(|f| f.name().clone()).collect()),
            None => (!config.columns.is_empty()).then(|| config.columns.clone()),
        };
        parquet_source(name, path, config.batch_rows, wanted)?
    } else {
        let path = config.arrow.as_ref().expect("one source given");
        let schema = crate::source::IpcSource::open(path)
            .map_err(|e| ExportError::config(key("arrow"), e.to_string()))?
            .schema();
        let source = FileSource {
            kind: FileKind::Arrow,
            path: path.clone(),
            batch_rows: config.batch_rows,
            columns: None,
        };
        (schema, Arc::new(source))
    };
    let dataset = if trip {
        // Checked now, so a file or query without a trip column fails at start.
        crate::source::cast::check_target(&natural, &crate::schema::trip::input_schema())
            .map_err(|e| ExportError::config(format!("datasets.{name}"), e.to_string()))?;
        Dataset::trips(source)
    } else {
        let schema = plain_schema(name, config, &natural)?;
        let target = Arc::new(Schema::new(
            schema
                .columns()
                .iter()
                .map(|c| natural.field_with_name(&c.name).cloned())
                .collect::<std::result::Result<Vec<_>, _>>()?,
        ));
        Dataset::new(
            schema,
            Arc::new(Projected {
                inner: source,
                target,
            }),
        )
    };
    Ok(dataset.description(config.description.clone()))
}

/// Dataset names become schema names and URL segments: keep them plain.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ExportError::config(
            format!("datasets.{name}"),
            "a dataset name is 1 to 64 letters, digits, `_` or `-`",
        ))
    }
}

/// The export schema of a plain dataset: the source's columns, selected and labelled.
fn plain_schema(name: &str, config: &DatasetConfig, natural: &Schema) -> Result<ExportSchema> {
    let names: Vec<String> = if config.columns.is_empty() {
        natural.fields().iter().map(|f| f.name().clone()).collect()
    } else {
        config.columns.clone()
    };
    let mut columns = Vec::with_capacity(names.len());
    for column in &names {
        let field = natural.field_with_name(column).map_err(|_| {
            ExportError::config(
                format!("datasets.{name}.columns"),
                format!(
                    "the source has no column `{column}`; it has {}",
                    natural
                        .fields()
                        .iter()
                        .map(|f| format!("`{}`", f.name()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
        let mut c = Column::new(column, field.data_type().clone());
        if !field.is_nullable() {
            c = c.required();
        }
        if let Some(header) = config.headers.get(column) {
            c = c.header(header);
        }
        columns.push(c);
    }
    if let Some(unknown) = config.headers.keys().find(|h| !names.contains(h)) {
        return Err(ExportError::config(
            format!("datasets.{name}.headers"),
            format!("`{unknown}` is not a column of the dataset"),
        ));
    }
    Ok(ExportSchema::new(name, columns))
}

/// The columns of a host dataset, from its `"NAME:TYPE"` entries.
fn host_schema(name: &str, entries: &[String]) -> Result<SchemaRef> {
    let key = format!("datasets.{name}.host");
    let mut fields: Vec<arrow_schema::Field> = Vec::with_capacity(entries.len());
    for entry in entries {
        let Some((column, ty)) = entry.split_once(':') else {
            return Err(ExportError::config(
                key,
                format!("`{entry}` is not `NAME:TYPE` (for example `id:Int64`)"),
            ));
        };
        let (column, ty) = (column.trim(), ty.trim());
        let data_type: arrow_schema::DataType = ty.parse().map_err(|e| {
            ExportError::config(key.clone(), format!("column `{column}`: type `{ty}`: {e}"))
        })?;
        if column.is_empty() || fields.iter().any(|f| f.name() == column) {
            return Err(ExportError::config(
                key,
                format!("column `{column}` is empty or given twice"),
            ));
        }
        fields.push(arrow_schema::Field::new(column, data_type, true));
    }
    Ok(Arc::new(Schema::new(fields)))
}

/// A host dataset's rows when the host gave none: exporting it is an error naming it.
struct HostRows {
    name: String,
}

impl DatasetSource for HostRows {
    fn open(&self, _: &ExportRequest) -> Result<Vec<Box<dyn Source>>> {
        Err(ExportError::request(
            "schema",
            format!(
                "dataset `{}` takes its rows from the host: run the worker with its data \
                 (a source provider, or a Python or Node worker's `data` callable)",
                self.name
            ),
        ))
    }
}

/// A plain dataset's sources reduced to its columns.
struct Projected {
    inner: Arc<dyn DatasetSource>,
    target: SchemaRef,
}

impl DatasetSource for Projected {
    fn open(&self, request: &ExportRequest) -> Result<Vec<Box<dyn Source>>> {
        self.inner
            .open(request)?
            .into_iter()
            .map(|s| -> Result<Box<dyn Source>> {
                if s.schema() == self.target {
                    Ok(s)
                } else {
                    Ok(Box::new(crate::source::CastSource::new(
                        s,
                        self.target.clone(),
                    )?))
                }
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy)]
enum FileKind {
    Arrow,
    #[cfg(feature = "parquet")]
    Parquet,
}

/// A file opened anew for every export.
struct FileSource {
    kind: FileKind,
    path: PathBuf,
    #[cfg_attr(not(feature = "parquet"), allow(dead_code))]
    batch_rows: Option<usize>,
    /// The columns exported (a Parquet file reads only those); `None` for all.
    #[cfg_attr(not(feature = "parquet"), allow(dead_code))]
    columns: Option<Vec<String>>,
}

impl DatasetSource for FileSource {
    fn open(&self, _: &ExportRequest) -> Result<Vec<Box<dyn Source>>> {
        let source: Box<dyn Source> = match self.kind {
            FileKind::Arrow => Box::new(crate::source::IpcSource::open(&self.path)?),
            #[cfg(feature = "parquet")]
            FileKind::Parquet => {
                let mut builder = crate::source::ParquetSource::builder();
                if let Some(rows) = self.batch_rows {
                    builder = builder.batch_size(rows);
                }
                if let Some(columns) = &self.columns {
                    builder = builder.columns(columns.iter().cloned());
                }
                Box::new(builder.open(&self.path)?)
            }
        };
        Ok(vec![source])
    }
}

#[cfg(feature = "parquet")]
fn parquet_source(
    name: &str,
    path: &Path,
    batch_rows: Option<usize>,
    wanted: Option<Vec<String>>,
) -> Result<(SchemaRef, Arc<dyn DatasetSource>)> {
    let schema = crate::source::ParquetSource::open(path)
        .map_err(|e| ExportError::config(format!("datasets.{name}.parquet"), e.to_string()))?
        .schema();
    // A wanted column the file lacks is reported by the schema checks that follow, by name.
    let columns = wanted.map(|wanted| {
        wanted
            .into_iter()
            .filter(|c| schema.field_with_name(c).is_ok())
            .collect()
    });
    let source = FileSource {
        kind: FileKind::Parquet,
        path: path.to_path_buf(),
        batch_rows,
        columns,
    };
    Ok((schema, Arc::new(source)))
}

#[cfg(not(feature = "parquet"))]
fn parquet_source(
    name: &str,
    _: &Path,
    _: Option<usize>,
    _: Option<Vec<String>>,
) -> Result<(SchemaRef, Arc<dyn DatasetSource>)> {
    Err(ExportError::config(
        format!("datasets.{name}.parquet"),
        "this build has no Parquet support (enable the `parquet` feature)",
    ))
}

#[cfg(feature = "postgres")]
fn sql_source(
    name: &str,
    config: &DatasetConfig,
    query: &str,
    databases: &BTreeMap<String, DatabaseConfig>,
    target: Option<SchemaRef>,
    io: &IoRuntime,
) -> Result<(SchemaRef, Arc<dyn DatasetSource>)> {
    let source = super::sql::SqlDataset::new(name, config, query, databases, target, io)?;
    Ok((source.natural_schema(), Arc::new(source)))
}

#[cfg(not(feature = "postgres"))]
fn sql_source(
    name: &str,
    _: &DatasetConfig,
    _: &str,
    _: &BTreeMap<String, DatabaseConfig>,
    _: Option<SchemaRef>,
    _: &IoRuntime,
) -> Result<(SchemaRef, Arc<dyn DatasetSource>)> {
    Err(ExportError::config(
        format!("datasets.{name}.query"),
        "this build has no PostgreSQL support (enable the `postgres` feature)",
    ))
}
