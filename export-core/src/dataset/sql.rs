//! A dataset read by a SQL query ([`crate::source::PgSource`]), its parameters bound from each
//! request.

use std::collections::BTreeMap;

use arrow_schema::SchemaRef;

use super::DatasetSource;
use super::config::{DatabaseConfig, DatasetConfig, RequestParam};
use crate::db::{PgOptions, PgSslMode};
use crate::error::{ExportError, Result};
use crate::request::ExportRequest;
use crate::runtime::IoRuntime;
use crate::source::{PgParam, PgSource, PgSourceBuilder, Source};

/// The query of one dataset, prepared once when the engine opened (so a typo fails at start)
/// and run anew, on a connection of its own, for every export.
pub(crate) struct SqlDataset {
    builder: PgSourceBuilder,
    params: Vec<RequestParam>,
    natural: SchemaRef,
    io: IoRuntime,
}

impl SqlDataset {
    pub(crate) fn new(
        name: &str,
        config: &DatasetConfig,
        query: &str,
        databases: &BTreeMap<String, DatabaseConfig>,
        target: Option<SchemaRef>,
        io: &IoRuntime,
    ) -> Result<SqlDataset> {
        let key = |k: &str| format!("datasets.{name}.{k}");
        let database_name = config
            .database
            .as_deref()
            .ok_or_else(|| ExportError::config(key("database"), "a `query` needs a `database`"))?;
        let database = databases.get(database_name).ok_or_else(|| {
            ExportError::config(
                key("database"),
                format!("no `[databases.{database_name}]` is configured"),
            )
        })?;
        let ssl_mode: PgSslMode = database.tls.parse().map_err(|_| {
            ExportError::config(
                format!("databases.{database_name}.tls"),
                format!(
                    "unknown TLS mode `{}`; expected disable, prefer, require, verify-ca or verify-full",
                    database.tls
                ),
            )
        })?;
        let mut options = PgOptions::default()
            .ssl_mode(ssl_mode)
            .connect_timeout(database.connect_timeout);
        if let Some(ca) = &database.ca_file {
            options = options.ca_file(ca.clone());
        }
        let params = config
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| {
                p.parse::<RequestParam>().map_err(|e| {
                    ExportError::config(format!("{}[{i}]", key("params")), e.to_string())
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut builder = PgSource::builder(database.url.clone(), query)
            .options(options)
            .name(format!("dataset `{name}`"))
            .application_name(format!("export-core dataset {name}"));
        if let Some(rows) = config.batch_rows {
            builder = builder.batch_rows(rows);
        }
        if let Some(target) = target {
            builder = builder.target_schema(target);
        }
        // Placeholders of the right kind, so the check of the parameters' types runs now.
        let probe = builder
            .clone()
            .params(params.iter().map(|p| placeholder(*p)).collect());
        let natural = probe.describe(io).map_err(|e| match e {
            ExportError::Store { .. } => ExportError::config(
                key("database"),
                format!("cannot reach `{database_name}`: {e}"),
            ),
            other => ExportError::config(key("query"), other.to_string()),
        })?;
        Ok(SqlDataset {
            builder,
            params,
            natural,
            io: io.clone(),
        })
    }

    /// The schema of the query's batches.
    pub(crate) fn natural_schema(&self) -> SchemaRef {
        self.natural.clone()
    }
}

/// A value of the parameter's kind, for the check when the dataset is built.
fn placeholder(param: RequestParam) -> PgParam {
    match param {
        RequestParam::PeriodStart | RequestParam::PeriodEnd => {
            PgParam::Timestamp(chrono::DateTime::UNIX_EPOCH)
        }
        RequestParam::Operators => PgParam::IntList(Vec::new()),
        RequestParam::Territories => PgParam::TextList(Vec::new()),
        RequestParam::Audience | RequestParam::Version | RequestParam::Format => {
            PgParam::Text(String::new())
        }
    }
}

/// The value of `param` in `request`.
pub(crate) fn bind(param: RequestParam, request: &ExportRequest) -> PgParam {
    let list = |empty: bool, value: PgParam| if empty { PgParam::Null } else { value };
    match param {
        RequestParam::PeriodStart => request
            .period
            .map_or(PgParam::Null, |p| PgParam::Timestamp(p.start)),
        RequestParam::PeriodEnd => request
            .period
            .map_or(PgParam::Null, |p| PgParam::Timestamp(p.end)),
        RequestParam::Operators => list(
            request.filters.operators.is_empty(),
            PgParam::IntList(request.filters.operators.clone()),
        ),
        RequestParam::Territories => list(
            request.filters.territories.is_empty(),
            PgParam::TextList(request.filters.territories.clone()),
        ),
        RequestParam::Audience => request
            .audience
            .map_or(PgParam::Null, |a| PgParam::Text(a.as_str().to_string())),
        RequestParam::Version => request
            .version
            .map_or(PgParam::Null, |v| PgParam::Text(v.as_str().to_string())),
        RequestParam::Format => PgParam::Text(request.format.as_str().to_string()),
    }
}

impl DatasetSource for SqlDataset {
    fn open(&self, request: &ExportRequest) -> Result<Vec<Box<dyn Source>>> {
        let params = self.params.iter().map(|p| bind(*p, request)).collect();
        let source = self.builder.clone().params(params).open(&self.io)?;
        Ok(vec![Box::new(source)])
    }
}
