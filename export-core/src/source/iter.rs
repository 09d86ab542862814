//! Source adapter: iter.
