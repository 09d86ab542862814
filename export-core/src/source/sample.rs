//! Source adapter: sample.
