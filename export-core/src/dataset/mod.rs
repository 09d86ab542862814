//! Named datasets: a schema plus the source of its rows, registered by name so jobs,
//! schedules, direct exports and HTTP routes can all export them.
//!
//! A [`Dataset`] pairs an [`ExportSchema`] (its columns and sheets) with a [`DatasetSource`]
//! that opens one [`Source`] per sheet for a request. [`Datasets`] holds them by name; given to
//! [`EngineBuilder::datasets`](crate::engine::EngineBuilder::datasets), each schema joins the
//! engine's registry and its workers read each dataset job from its source (other jobs, such as
//! trips, still go to the engine's source provider).
//!
//! [`Datasets::sample_catalog`] holds the catalogue seed's `products`, `suppliers` and
//! `categories` (and the three-sheet `catalogue`) from a deterministic generator, like the
//! sample trips: what `export-core serve` exports on the embedded defaults.
//!
//! # Examples
//!
//! ```
//! use export_core::dataset::Datasets;
//! use export_core::request::{ExportRequest, Format};
//!
//! let datasets = Datasets::sample_catalog(1_000, 7);
//! assert_eq!(datasets.names(), ["catalogue", "categories", "products", "suppliers"]);
//! let products = datasets.get("products").unwrap();
//! let mut sources = products.open(&ExportRequest::new("products", Format::Csv))?;
//! let batch = sources[0].next_batch()?.expect("rows");
//! assert_eq!(batch.schema().field(1).name(), "sku");
//! # Ok::<(), export_core::ExportError>(())
//! ```

mod catalog;
mod config;
#[cfg(feature = "postgres")]
mod sql;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::error::{ExportError, Result};
use crate::job::ExportJob;
use crate::request::ExportRequest;
use crate::schema::ExportSchema;
use crate::schema::rules::SchemaRules;
use crate::source::Source;
use crate::worker::SourceProvider;

pub use catalog::{CATALOG_CATEGORIES, SampleCatalog};
pub(crate) use config::build_datasets;
pub use config::{DatabaseConfig, DatasetConfig, RequestParam};

/// Opens the rows of a dataset for one request: one [`Source`] per sheet of the dataset's
/// schema, in sheet order (the request's field selection is applied by the pipeline, not
/// here; a source may use the request's filters to read less).
pub trait DatasetSource: Send + Sync {
    /// The sources of `request`.
    ///
    /// # Errors
    ///
    /// Whatever opening the data fails with: [`ExportError::InvalidRequest`] for a request the
    /// source cannot serve, [`ExportError::Io`] or [`ExportError::Store`] for a transient
    /// problem (a job retries those).
    fn open(&self, request: &ExportRequest) -> Result<Vec<Box<dyn Source>>>;
}

/// A schema and the source of its rows, under the schema's name.
#[derive(Clone)]
pub struct Dataset {
    schema: ExportSchema,
    rules: Option<Arc<dyn SchemaRules>>,
    source: Arc<dyn DatasetSource>,
    description: String,
    /// The built-in trip schema's data: registered already, so not registered again.
    builtin: bool,
}

impl fmt::Debug for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dataset")
            .field("name", &self.schema.name())
            .field("sheets", &self.schema.sheets().len())
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

impl Dataset {
    /// A dataset named after `schema`, read from `source`.
    pub fn new(schema: ExportSchema, source: Arc<dyn DatasetSource>) -> Dataset {
        Dataset {
            schema,
            rules: None,
            source,
            description: String::new(),
            builtin: false,
        }
    }

    /// The data of the built-in `trip` schema (V2, V3, every audience): `source` yields trips
    /// in [`trip::input_schema`](crate::schema::trip::input_schema) (its columns converted to
    /// those types when they differ), and the trip schema's derivation and privacy rules apply
    /// to them as to the sample trips. The dataset's columns are the input columns.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use export_core::dataset::{Dataset, Datasets};
    /// use export_core::worker::SampleTripsProvider;
    ///
    /// let mut datasets = Datasets::new();
    /// datasets.add(Dataset::trips(Arc::new(SampleTripsProvider { rows: 10, seed: 1 })))?;
    /// assert_eq!(datasets.names(), ["trip"]);
    /// assert!(datasets.get("trip").unwrap().schema().column("journey_id").is_some());
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn trips(source: Arc<dyn DatasetSource>) -> Dataset {
        let input = crate::schema::trip::input_schema();
        let columns = input
            .fields()
            .iter()
            .map(|f| {
                let column = crate::schema::Column::new(f.name(), f.data_type().clone());
                if f.is_nullable() {
                    column
                } else {
                    column.required()
                }
            })
            .collect();
        Dataset {
            schema: ExportSchema::new(crate::registry::TRIP_SCHEMA, columns),
            rules: None,
            source,
            description: String::new(),
            builtin: true,
        }
    }

    /// True for [`Dataset::trips`]: the data of a built-in schema rather than a schema of its
    /// own.
    pub fn is_builtin(&self) -> bool {
        self.builtin
    }

    /// Gives the dataset's schema rules of its own (default: the plain rules).
    pub fn rules(mut self, rules: Arc<dyn SchemaRules>) -> Dataset {
        self.rules = Some(rules);
        self
    }

    /// A one-line description (listed by the HTTP layer).
    pub fn description(mut self, text: impl Into<String>) -> Dataset {
        self.description = text.into();
        self
    }

    /// The dataset's name: its schema's.
    pub fn name(&self) -> &str {
        self.schema.name()
    }

    /// The columns and sheets.
    pub fn schema(&self) -> &ExportSchema {
        &self.schema
    }

    /// The rules given with [`Dataset::rules`].
    pub fn schema_rules(&self) -> Option<Arc<dyn SchemaRules>> {
        self.rules.clone()
    }

    /// The description.
    pub fn about(&self) -> &str {
        &self.description
    }

    /// Opens the sources of `request`, checking there is one per sheet.
    ///
    /// # Errors
    ///
    /// The source's errors; [`ExportError::Config`] (setting `datasets.NAME`) when it opened
    /// another number of sources than the schema has sheets.
    pub fn open(&self, request: &ExportRequest) -> Result<Vec<Box<dyn Source>>> {
        let mut sources = self.source.open(request)?;
        if self.builtin {
            let input = crate::schema::trip::input_schema();
            sources = sources
                .into_iter()
                .map(|source| -> Result<Box<dyn Source>> {
                    if source.schema() == input {
                        Ok(source)
                    } else {
                        Ok(Box::new(crate::source::CastSource::new(
                            source,
                            input.clone(),
                        )?))
                    }
                })
                .collect::<Result<_>>()?;
        }
        if sources.len() != self.schema.sheets().len() {
            return Err(ExportError::config(
                format!("datasets.{}", self.name()),
                format!(
                    "the source opened {} sources for {} sheets",
                    sources.len(),
                    self.schema.sheets().len()
                ),
            ));
        }
        Ok(sources)
    }
}

/// Datasets by name.
#[derive(Debug, Clone, Default)]
pub struct Datasets {
    by_name: BTreeMap<String, Dataset>,
}

impl Datasets {
    /// No dataset.
    pub fn new() -> Datasets {
        Datasets::default()
    }

    /// The catalogue seed's sample datasets: `products` (`products` rows), `suppliers`,
    /// `categories`, and `catalogue` (the three as sheets of one workbook), all from
    /// [`SampleCatalog`] with `seed`.
    pub fn sample_catalog(products: u64, seed: u64) -> Datasets {
        let mut datasets = Datasets::new();
        for dataset in SampleCatalog::new(products, seed).datasets() {
            datasets
                .add(dataset)
                .expect("the sample datasets have distinct names");
        }
        datasets
    }

    /// Adds `dataset` under its name.
    ///
    /// # Errors
    ///
    /// [`ExportError::AlreadyExists`] (kind `dataset`) when the name is taken;
    /// [`ExportError::InvalidRequest`] (field `schema`) for the built-in `trip` name, unless
    /// the dataset is [`Dataset::trips`].
    pub fn add(&mut self, dataset: Dataset) -> Result<()> {
        let name = dataset.name().to_string();
        if name == crate::registry::TRIP_SCHEMA && !dataset.builtin {
            return Err(ExportError::request(
                "schema",
                "`trip` is the built-in trip schema: give its data with `Dataset::trips`",
            ));
        }
        if self.by_name.contains_key(&name) {
            return Err(ExportError::already_exists("dataset", name));
        }
        self.by_name.insert(name, dataset);
        Ok(())
    }

    /// The dataset of that name.
    pub fn get(&self, name: &str) -> Option<&Dataset> {
        self.by_name.get(name)
    }

    /// The names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.by_name.keys().map(String::as_str).collect()
    }

    /// Every dataset, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Dataset> {
        self.by_name.values()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// A [`SourceProvider`] reading dataset jobs from their dataset and every other job from
/// `fallback` (the sample trips, a host's own provider).
pub(crate) struct DatasetProvider {
    pub(crate) datasets: Arc<Datasets>,
    pub(crate) fallback: Arc<dyn SourceProvider>,
}

impl SourceProvider for DatasetProvider {
    fn open(&self, job: &ExportJob) -> Result<Vec<Box<dyn Source>>> {
        match self.datasets.get(&job.request.schema) {
            Some(dataset) => dataset.open(&job.request),
            None => self.fallback.open(job),
        }
    }
}
