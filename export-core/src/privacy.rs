//! Privacy transforms of the opendata audience.
