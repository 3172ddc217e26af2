//! Grants without a database: property tests of the parsers (see docs/fuzzing.md).

#[path = "grants/properties.rs"]
mod properties;
