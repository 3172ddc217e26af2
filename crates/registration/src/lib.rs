//! Client registration: what an OAuth client is and which clients are allowed.
//!
//! Owns the client model, the validation of client metadata (RFC 7591) and its management
//! (RFC 7592), the redirect-URI rules (exact match; loopback ports may vary, RFC 8252), and client
//! secrets (256 random bits, stored as SHA-256, compared in constant time).
//!
//! Architecture invariants:
//! - Knows nothing about HTTP; errors are its own enum, mapped to RFC 7591 codes by the server.
//! - Knows nothing about grants or tokens: it answers "is this client, with this secret, this
//!   redirect URI, allowed", nothing more.
//! - Reads and writes rows only through `store`.
//!
//! Status: the crate is laid out; clients arrive with the clients-and-tokens issue.
