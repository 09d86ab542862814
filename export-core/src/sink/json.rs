//! JSON sink.
