//! Grants: property tests of the parsers (see docs/fuzzing.md), and the flows against a real
//! database on both backends.

#[path = "grants/properties.rs"]
mod properties;

#[path = "grants/flows.rs"]
mod flows;

#[path = "grants/family.rs"]
mod family;
