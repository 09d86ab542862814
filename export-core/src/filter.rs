//! Row filters: operators, territories, a geographic selector, and column predicates.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{ExportError, Result};

/// Most operator ids one request may name.
pub const MAX_OPERATORS: usize = 128;
/// Most territory ids one request may name.
pub const MAX_TERRITORIES: usize = 1024;

/// A level of the French geography a [`Filters::geo`] selector matches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GeoLevel {
    /// Municipal arrondissement (INSEE code).
    Arr,
    /// Commune (INSEE code).
    Com,
    /// Intercommunality (EPCI).
    Epci,
    /// Mobility authority (AOM).
    Aom,
    /// Region.
    Reg,
    /// Département.
    Dep,
    /// Transport network.
    Reseau,
    /// Country.
    Country,
}

/// A predicate on one column of a generic schema (the catalogue's filters).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Predicate {
    /// `column == value`.
    Eq {
        /// Column name.
        column: String,
        /// The value (string, number or boolean).
        value: serde_json::Value,
    },
    /// `column` is one of `values`.
    In {
        /// Column name.
        column: String,
        /// Accepted values.
        values: Vec<serde_json::Value>,
    },
    /// `min <= column <= max` (either bound optional).
    Range {
        /// Column name.
        column: String,
        /// Lower bound, inclusive.
        #[serde(default)]
        min: Option<serde_json::Value>,
        /// Upper bound, inclusive.
        #[serde(default)]
        max: Option<serde_json::Value>,
    },
}

impl Predicate {
    /// The column the predicate reads.
    pub fn column(&self) -> &str {
        match self {
            Predicate::Eq { column, .. }
            | Predicate::In { column, .. }
            | Predicate::Range { column, .. } => column,
        }
    }
}

/// Which rows an export keeps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Filters {
    /// Trip schema: keep trips of these operator ids (empty: all).
    pub operators: Vec<i64>,
    /// Trip schema: keep trips touching these territories (empty: all).
    pub territories: Vec<String>,
    /// Trip schema: keep trips whose start **or** end lies in one of the codes of a level.
    pub geo: BTreeMap<GeoLevel, Vec<String>>,
    /// Generic schemas: every predicate must hold.
    pub predicates: Vec<Predicate>,
}

impl Filters {
    /// True when the filters keep every row.
    pub fn is_empty(&self) -> bool {
        self.operators.is_empty()
            && self.territories.is_empty()
            && self.geo.is_empty()
            && self.predicates.is_empty()
    }

    /// Checks the limits that do not depend on a schema.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] on `filters.operators` or `filters.territories` when too many are given.
    pub fn validate_basic(&self) -> Result<()> {
        if self.operators.len() > MAX_OPERATORS {
            return Err(ExportError::request(
                "filters.operators",
                format!(
                    "{} operators given, at most {MAX_OPERATORS} allowed",
                    self.operators.len()
                ),
            ));
        }
        if self.territories.len() > MAX_TERRITORIES {
            return Err(ExportError::request(
                "filters.territories",
                format!(
                    "{} territories given, at most {MAX_TERRITORIES} allowed",
                    self.territories.len()
                ),
            ));
        }
        Ok(())
    }
}
