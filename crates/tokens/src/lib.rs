//! Tokens: everything that is signed or rotated.
//!
//! Owns the signing keys (generated at first start, stored in the database, rotated and
//! published as a JWKS), JWT access tokens (RFC 9068), OpenID Connect ID tokens, refresh-token
//! families with reuse detection, introspection (RFC 7662) and revocation (RFC 7009).
//!
//! Architecture invariants:
//! - Knows nothing about HTTP.
//! - Decides nothing about who may get a token: callers pass a proven grant.
//! - Verification refuses `alg: none`, an algorithm other than the key's, and unknown `kid`s.
//!
//! Status: the crate is laid out; keys and tokens arrive with the clients-and-tokens issue.
