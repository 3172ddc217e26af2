//! Grants: the OAuth flows, from an authorization request to a decision to issue tokens.
//!
//! Owns the typed authorization request, authorization codes (hashed, single use, bound to
//! client, redirect URI, PKCE challenge and user), the token request parsed into an enum by
//! `grant_type`, client credentials, refresh, and consent decisions. A flow step can only be
//! taken with the proof value the previous step produced (client authenticated, redirect URI
//! matched, PKCE verified).
//!
//! Architecture invariants:
//! - Knows nothing about HTTP or pages; it never renders, never redirects.
//! - Does not sign anything: it asks `tokens` for tokens once a grant is proven.
//! - Uses oxide-auth only for its primitives (`Scope`, `Pkce`), never its flows (see
//!   docs/ARCHITECTURE.md).
//!
//! Status: the crate is laid out; flows arrive with the clients-and-tokens and
//! authorization-code issues.
