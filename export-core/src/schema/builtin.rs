//! The built-in schemas' rules, by name: what a registry starts with, and what callers that
//! hold a request but no registry go by.

use std::sync::Arc;

use super::rules::{PlainRules, SchemaRules};
use super::trip;

/// The rules of the built-in schemas, with their names: what a registry starts with.
pub(crate) fn builtins() -> Vec<(&'static str, Arc<dyn SchemaRules>)> {
    vec![(trip::NAME, Arc::new(trip::TripRules))]
}

/// The rules of the built-in schema `name`, or [`PlainRules`] for any other: what callers
/// without a registry (a request alone) go by.
pub(crate) fn builtin_or_plain(name: &str) -> Arc<dyn SchemaRules> {
    builtins()
        .into_iter()
        .find(|(builtin, _)| *builtin == name)
        .map_or_else(
            || Arc::new(PlainRules) as Arc<dyn SchemaRules>,
            |(_, rules)| rules,
        )
}
