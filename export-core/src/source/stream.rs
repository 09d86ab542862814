//! Source adapter: stream.
