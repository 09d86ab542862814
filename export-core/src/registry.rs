//! The schemas a deployment knows: the built-in trip schema plus user-registered ones.
//!
//! Services validate requests against it before a job exists, and workers build the same
//! [`Exporter`] from it when they run the job, so both agree on what a request means.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::access::AccessPolicy;
use crate::error::{ExportError, Result};
use crate::export::{Exporter, ExporterBuilder};
use crate::principal::Principal;
use crate::request::ExportRequest;
use crate::schema::ExportSchema;
use crate::schema::builtin::builtins;
use crate::schema::rules::{PlainRules, SchemaRules};
use crate::schema::trip;

/// Name of the built-in trip schema.
pub const TRIP_SCHEMA: &str = trip::NAME;

/// Named export schemas (`products`, `suppliers`, a multi-sheet `catalogue`, ...), beside the
/// built-in `trip` schema, each with its [`SchemaRules`].
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
#[derive(Clone)]
pub struct SchemaRegistry {
    /// The rules of every known schema, built-in ones included.
    rules: BTreeMap<String, Arc<dyn SchemaRules>>,
    /// The columns of registered schemas (built-in ones plan their own).
    schemas: BTreeMap<String, ExportSchema>,
    /// The key of opendata trip ids, when stable ids are wanted.
    trip_id_key: Option<Vec<u8>>,
}

impl Default for SchemaRegistry {
    fn default() -> SchemaRegistry {
        let rules = builtins()
            .into_iter()
            .map(|(name, rules)| (name.to_string(), rules))
            .collect();
        SchemaRegistry {
            rules,
            schemas: BTreeMap::new(),
            trip_id_key: None,
        }
    }
}

impl fmt::Debug for SchemaRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaRegistry")
            .field("rules", &self.rules)
            .field("schemas", &self.schemas)
            .field(
                "trip_id_key",
                &self.trip_id_key.as_ref().map(|_| "<secret>"),
            )
            .finish()
    }
}

impl SchemaRegistry {
    /// A registry holding only the built-in trip schema.
    pub fn new() -> SchemaRegistry {
        SchemaRegistry::default()
    }

    /// Adds a schema under its name, with the [`PlainRules`].
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] when the name is `trip` or already registered.
    pub fn register(&mut self, schema: ExportSchema) -> Result<()> {
        self.register_with_rules(schema, Arc::new(PlainRules))
    }

    /// Adds a schema under its name, with rules of its own (defaults, validation, personal
    /// data, access, pipeline: see [`SchemaRules`]).
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] when the name is `trip` or already registered.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_schema::DataType;
    /// use export_core::registry::SchemaRegistry;
    /// use export_core::request::{ExportRequest, Format};
    /// use export_core::schema::rules::SchemaRules;
    /// use export_core::schema::{Column, ExportSchema};
    ///
    /// #[derive(Debug)]
    /// struct PublicCatalogue;
    /// impl SchemaRules for PublicCatalogue {
    ///     fn holds_personal_data(&self, _request: &ExportRequest) -> bool {
    ///         false
    ///     }
    /// }
    ///
    /// let mut registry = SchemaRegistry::new();
    /// let products = ExportSchema::new("products", vec![Column::new("sku", DataType::Utf8)]);
    /// registry.register_with_rules(products.clone(), Arc::new(PublicCatalogue))?;
    /// assert!(registry.register(products).is_err());
    /// let request = ExportRequest::new("products", Format::Csv);
    /// assert!(!registry.rules("products").unwrap().holds_personal_data(&request));
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn register_with_rules(
        &mut self,
        schema: ExportSchema,
        rules: Arc<dyn SchemaRules>,
    ) -> Result<()> {
        let name = schema.name().to_string();
        if self.rules.contains_key(&name) {
            return Err(ExportError::request(
                "schema",
                format!("schema `{name}` is already registered"),
            ));
        }
        self.rules.insert(name.clone(), rules);
        self.schemas.insert(name, schema);
        Ok(())
    }

    /// The registered schema of that name (not the trip schema, which depends on version and audience).
    pub fn get(&self, name: &str) -> Option<&ExportSchema> {
        self.schemas.get(name)
    }

    /// The rules of the schema of that name, built-in ones included.
    pub fn rules(&self, name: &str) -> Option<Arc<dyn SchemaRules>> {
        self.rules.get(name).cloned()
    }

    /// Every known schema name, `trip` included, sorted.
    pub fn names(&self) -> Vec<String> {
        self.rules.keys().cloned().collect()
    }

    /// An exporter builder for `request`, with the schema it names and its rules, and the
    /// clock reading `now`; add progress, cancel or a hash key, then build.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] when the schema is unknown.
    pub fn builder(&self, request: ExportRequest, now: DateTime<Utc>) -> Result<ExporterBuilder> {
        let name = request.schema.clone();
        let Some(rules) = self.rules(&name) else {
            return Err(ExportError::request(
                "schema",
                format!(
                    "unknown schema `{name}`; known: {}",
                    self.names().join(", ")
                ),
            ));
        };
        let mut builder = Exporter::builder(request).now(now).rules(rules);
        if let Some(key) = &self.trip_id_key {
            builder = builder.hash_key(key.clone());
        }
        Ok(match self.schemas.get(&name) {
            Some(schema) => builder.schema(schema.clone()),
            None => builder,
        })
    }

    /// Keys opendata trip ids with `key` in every exporter this registry builds, so that a
    /// trip has the same id in every file (without it each export draws a random key).
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::registry::SchemaRegistry;
    /// let mut registry = SchemaRegistry::new();
    /// registry.set_trip_id_key(b"a stable opendata secret".to_vec());
    /// assert!(format!("{registry:?}").contains("<secret>"));
    /// ```
    pub fn set_trip_id_key(&mut self, key: impl Into<Vec<u8>>) {
        self.trip_id_key = Some(key.into());
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

/// The access rules of the schema a request names ([`SchemaRules::authorize`]): the trip
/// schema's table, and for registered schemas their own (allowed as asked by default); an
/// unknown schema is left to validation, which refuses it.
impl AccessPolicy for SchemaRegistry {
    fn authorize(&self, principal: &Principal, request: ExportRequest) -> Result<ExportRequest> {
        match self.rules(&request.schema) {
            Some(rules) => rules.authorize(principal, request),
            None => Ok(request),
        }
    }
}
