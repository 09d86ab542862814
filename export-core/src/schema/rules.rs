//! What a schema decides beyond its columns: [`SchemaRules`].
//!
//! Every schema of a [`SchemaRegistry`](crate::registry::SchemaRegistry) comes with its rules,
//! and the engine asks them instead of knowing any schema by name:
//!
//! | hook | asked by | the trip schema | [`PlainRules`] (registered schemas) |
//! |---|---|---|---|
//! | [`fill_defaults`](SchemaRules::fill_defaults) | [`ExportService::create`](crate::service::ExportService::create) | the last month that ended 5 days ago, V3 | nothing |
//! | [`validate`](SchemaRules::validate) | the service, after the exporter accepted the request | the 5-day consolidation rule | nothing more |
//! | [`holds_personal_data`](SchemaRules::holds_personal_data) | retention ([`DefaultRetention`](crate::retention::DefaultRetention)), audit risk | every audience but `opendata` | yes (the library cannot judge) |
//! | [`authorize`](SchemaRules::authorize) | [`RegistryAccessPolicy`](crate::access::RegistryAccessPolicy) | the registry's table (see [`crate::access`]) | allowed as asked |
//! | [`input_schema`](SchemaRules::input_schema) | sources that generate input ([`SampleTripsProvider`](crate::worker::SampleTripsProvider)) | the canonical trip input | none |
//! | [`plan`](SchemaRules::plan) | the [`Exporter`](crate::export::Exporter) | filter, opendata rare zones, derive, the `Aide` sheet | none: the schema's columns as read |
//!
//! A deployment gives a registered schema rules of its own with
//! [`SchemaRegistry::register_with_rules`](crate::registry::SchemaRegistry::register_with_rules).

use std::fmt;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::ExportSchema;
use crate::error::Result;
use crate::principal::Principal;
use crate::privacy::PrivacyReport;
use crate::request::{ExportRequest, Period};

/// The rules a schema brings: request defaults, validation, whether its exports hold personal
/// data, who may export what, and its own pipeline steps. Every hook has a plain default (see
/// [`PlainRules`]); the trip schema overrides them all. Held as `Arc<dyn SchemaRules>`.
///
/// # Examples
///
/// A catalogue whose exports hold no personal data, and that exports the whole catalogue when
/// no field is selected:
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
/// struct Catalogue;
/// impl SchemaRules for Catalogue {
///     fn holds_personal_data(&self, _request: &ExportRequest) -> bool {
///         false
///     }
/// }
///
/// let mut registry = SchemaRegistry::new();
/// let products = ExportSchema::new("products", vec![Column::new("sku", DataType::Utf8)]);
/// registry.register_with_rules(products, Arc::new(Catalogue))?;
/// let rules = registry.rules("products").unwrap();
/// assert!(!rules.holds_personal_data(&ExportRequest::new("products", Format::Csv)));
/// # Ok::<(), export_core::ExportError>(())
/// ```
pub trait SchemaRules: Send + Sync + fmt::Debug {
    /// Fills in what a user's request leaves out, before it is validated and stored, so that
    /// the job runs what was checked. `now` is the service's clock, `tz` its default zone.
    /// Default: nothing.
    fn fill_defaults(&self, request: &mut ExportRequest, now: DateTime<Utc>, tz: Tz) {
        let _ = (request, now, tz);
    }

    /// Rules a user's request must also follow, beyond what the exporter checks for every run
    /// (called by the service once the exporter accepted the request). Default: none.
    ///
    /// # Errors
    ///
    /// The rule's error ([`crate::ExportError::InvalidPeriod`] for the trip schema).
    fn validate(&self, request: &ExportRequest, now: DateTime<Utc>) -> Result<()> {
        let _ = (request, now);
        Ok(())
    }

    /// Whether the export of `request` holds personal data: it drives retention (personal data
    /// is kept for a short time) and the audit risk level. Default: `true`, since the library
    /// cannot judge a schema's content.
    fn holds_personal_data(&self, request: &ExportRequest) -> bool {
        let _ = request;
        true
    }

    /// The request `principal` may run in place of `request`: the same, narrowed, or refused.
    /// Default: allowed as asked.
    ///
    /// # Errors
    ///
    /// [`crate::ExportError::Forbidden`] naming what is not allowed.
    fn authorize(&self, principal: &Principal, request: ExportRequest) -> Result<ExportRequest> {
        let _ = principal;
        Ok(request)
    }

    /// The canonical Arrow schema sources hand this schema's pipeline, when it defines one.
    /// Default: none (sources yield the export's own columns).
    fn input_schema(&self) -> Option<SchemaRef> {
        None
    }

    /// This schema's own pipeline for `request` (validated by it), or `None` when the export
    /// writes the registered [`ExportSchema`]'s columns as read (the default).
    ///
    /// # Errors
    ///
    /// [`crate::ExportError::InvalidRequest`], [`crate::ExportError::InvalidPeriod`], ... for a
    /// request the schema cannot run.
    fn plan(
        &self,
        request: &ExportRequest,
        run: &RunSettings,
    ) -> Result<Option<Box<dyn SchemaPlan>>> {
        let _ = (request, run);
        Ok(None)
    }
}

/// The rules of a registered schema that brings none of its own: every [`SchemaRules`]
/// default (no defaults filled, no further validation, personal data, allowed as asked, the
/// schema's columns written as read).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlainRules;

impl SchemaRules for PlainRules {}

/// Run-time settings of an export that a [`SchemaRules::plan`] may use.
#[derive(Debug, Clone, Default)]
pub struct RunSettings {
    /// The clock reading of the run (period checks, defaults, the generation date).
    pub now: DateTime<Utc>,
    /// The key of keyed hashes (the trip schema's opendata `trip_id`); `None` lets the plan
    /// choose (a random key per export).
    pub hash_key: Option<Vec<u8>>,
}

/// A CSV dialect a schema writes whatever the request's options say (the trip V2 dialect:
/// `;`, every field quoted, `OUI`/`NON`, decimal comma). The request's `delimiter` option
/// still applies over it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvDialect {
    /// Field delimiter.
    pub delimiter: u8,
    /// Quote every field.
    pub quote_all: bool,
    /// How `true` and `false` are written.
    pub bool_values: (&'static str, &'static str),
    /// The decimal separator of floats.
    pub decimal_separator: u8,
}

/// What an export did, given to [`SchemaPlan::extra_sheet`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunFacts {
    /// Data rows written.
    pub rows_written: u64,
    /// What the rare-zone rule did, when it ran.
    pub privacy: Option<PrivacyReport>,
    /// When the file was generated.
    pub generated_at: DateTime<Utc>,
}

/// The pipeline steps of one export of a schema with rules of its own ([`SchemaRules::plan`]).
///
/// The exporter runs, per batch of input: [`filter`](SchemaPlan::filter); when
/// [`rare_zones`](SchemaPlan::rare_zones) names a spool, [`conform`](SchemaPlan::conform) and
/// a counting pass over the whole input, then [`RareZoneFilter`](crate::privacy::RareZoneFilter);
/// then [`derive`](SchemaPlan::derive) and the user's field selection; after the last batch,
/// [`extra_sheet`](SchemaPlan::extra_sheet).
pub trait SchemaPlan: Send + Sync {
    /// Every output column, before the user's field selection.
    fn schema(&self) -> ExportSchema;

    /// The period the export covers, when it has one.
    fn period(&self) -> Option<&Period>;

    /// The suggested file name without extension (`trips-v3-opendata-2026-10`).
    fn file_stem(&self) -> String;

    /// The CSV dialect of the schema, when it has its own. Default: none.
    fn csv_dialect(&self) -> Option<CsvDialect> {
        None
    }

    /// Keeps the rows of an input batch that the request selects.
    ///
    /// # Errors
    ///
    /// Errors of the input's shape, as [`crate::filter::Filters::apply_trip`].
    fn filter(&self, request: &ExportRequest, batch: &RecordBatch) -> Result<RecordBatch>;

    /// When the rare-zone rule applies (rows whose start or end commune is rare over the
    /// whole export are removed, see [`crate::privacy`]): the Arrow schema of the input spool,
    /// which [`conform`](SchemaPlan::conform) yields. Default: `None`, the rule does not apply.
    fn rare_zones(&self) -> Option<SchemaRef> {
        None
    }

    /// The filtered input batch in the spool's schema ([`SchemaPlan::rare_zones`]). Default:
    /// the batch as it is.
    ///
    /// # Errors
    ///
    /// Errors of the input's shape.
    fn conform(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        Ok(batch.clone())
    }

    /// The batch of output columns ([`SchemaPlan::schema`]) derived from a filtered input batch.
    ///
    /// # Errors
    ///
    /// Errors of the input's values.
    fn derive(&self, batch: &RecordBatch) -> Result<RecordBatch>;

    /// A batch written after the data, not counted in progress (the trip V3 `Aide` sheet), given
    /// the selected columns and what the run did. Default: none.
    ///
    /// # Errors
    ///
    /// [`crate::ExportError::Arrow`] when the batch cannot be assembled.
    fn extra_sheet(
        &self,
        selected: &ExportSchema,
        facts: &RunFacts,
    ) -> Result<Option<RecordBatch>> {
        let _ = (selected, facts);
        Ok(None)
    }
}
