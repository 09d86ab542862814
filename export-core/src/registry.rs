//! The schemas a deployment knows: the built-in trip schema plus user-registered ones.
//!
//! Services validate requests against it before a job exists, and workers build the same
//! [`Exporter`] from it when they run the job, so both agree on what a request means.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::error::{ExportError, Result};
use crate::export::{Exporter, ExporterBuilder};
use crate::request::ExportRequest;
use crate::schema::ExportSchema;

/// Name of the built-in trip schema.
pub const TRIP_SCHEMA: &str = "trip";

/// Named export schemas (`products`, `suppliers`, a multi-sheet `catalogue`, ...), beside the
/// built-in `trip` schema.
///
/// # Examples
///
/// ```
/// use arrow_schema::DataType;
/// use export_core::registry::SchemaRegistry;
/// use export_core::request::{ExportRequest, Format};
/// use export_core::schema::{Column, ExportSchema};
///
/// let mut registry = SchemaRegistry::new();
/// registry.register(ExportSchema::new("products", vec![Column::new("sku", DataType::Utf8)])).unwrap();
/// let now = "2026-11-23T00:00:00Z".parse().unwrap();
/// let exporter = registry.exporter(ExportRequest::new("products", Format::Csv), now).unwrap();
/// assert_eq!(exporter.file_name(), "products.csv");
///
/// let err = registry.exporter(ExportRequest::new("orders", Format::Csv), now).err().unwrap();
/// assert_eq!(err.to_string(), "invalid `schema`: unknown schema `orders`; known: products, trip");
/// ```
#[derive(Debug, Clone, Default)]
pub struct SchemaRegistry {
    schemas: BTreeMap<String, ExportSchema>,
}

impl SchemaRegistry {
    /// A registry holding only the built-in trip schema.
    pub fn new() -> SchemaRegistry {
        SchemaRegistry::default()
    }

    /// Adds a schema under its name.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] when the name is `trip` or already registered.
    pub fn register(&mut self, schema: ExportSchema) -> Result<()> {
        let name = schema.name().to_string();
        if name == TRIP_SCHEMA || self.schemas.contains_key(&name) {
            return Err(ExportError::request(
                "schema",
                format!("schema `{name}` is already registered"),
            ));
        }
        self.schemas.insert(name, schema);
        Ok(())
    }

    /// The registered schema of that name (not the trip schema, which depends on version and audience).
    pub fn get(&self, name: &str) -> Option<&ExportSchema> {
        self.schemas.get(name)
    }

    /// Every known schema name, `trip` included, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.schemas.keys().cloned().collect();
        names.push(TRIP_SCHEMA.to_string());
        names.sort();
        names
    }

    /// An exporter builder for `request`, with the schema it names (registered schemas) and the
    /// clock reading `now`; add progress, cancel or a hash key, then build.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] when the schema is unknown.
    pub fn builder(&self, request: ExportRequest, now: DateTime<Utc>) -> Result<ExporterBuilder> {
        let name = request.schema.clone();
        let builder = Exporter::builder(request).now(now);
        if name == TRIP_SCHEMA {
            return Ok(builder);
        }
        match self.schemas.get(&name) {
            Some(schema) => Ok(builder.schema(schema.clone())),
            None => Err(ExportError::request(
                "schema",
                format!(
                    "unknown schema `{name}`; known: {}",
                    self.names().join(", ")
                ),
            )),
        }
    }

    /// Validates `request` and builds its exporter: what a service calls before creating a job.
    ///
    /// # Errors
    ///
    /// As [`SchemaRegistry::builder`] and [`ExporterBuilder::build`].
    pub fn exporter(&self, request: ExportRequest, now: DateTime<Utc>) -> Result<Exporter> {
        self.builder(request, now)?.build()
    }
}
