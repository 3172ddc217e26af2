//! API keys: keys organizations mint for their services and agents.
//!
//! Owns the key format (`pcl_sk_…`), minting (shown once), hashing (SHA-256 at rest),
//! constant-time checks, scopes, ownership by an organization, agents, and the decision whether
//! a key may call a given service and endpoint.
//!
//! Architecture invariants:
//! - Knows nothing about HTTP: the server extracts the key from `x-api-key` or
//!   `Authorization: Bearer` and hands it here.
//! - Never stores or logs a plaintext key.
//!
//! Status: the crate is laid out; keys arrive with the API-key issue.
