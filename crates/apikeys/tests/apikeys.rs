//! API keys without a database: property tests of the parsers (see docs/fuzzing.md).

#[path = "apikeys/properties.rs"]
mod properties;
