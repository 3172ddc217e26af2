//! Grants: the OAuth flows, from a request to a decision to issue tokens.
//!
//! Owns the parsing of token-endpoint requests (form bodies with RFC 6749 §3.2 rules, the
//! `Authorization: Basic` header of §2.3.1) into a [`TokenRequest`] enum by `grant_type`, and
//! the decisions of each grant. Today: client credentials. The authorization code (with PKCE),
//! refresh and consent decisions arrive with the authorization-code issue.
//!
//! A grant decision can only be asked for with a [`registration::VerifiedClient`], the proof
//! that the client's credentials were checked.
//!
//! Architecture invariants:
//! - Knows nothing about HTTP frameworks: it takes a body's bytes and a header's text.
//! - Does not sign anything: it returns what may be issued; `tokens` signs it.
//! - Uses oxide-auth only for its primitives (`Scope`), never its flows (see
//!   docs/ARCHITECTURE.md).

mod authorize;
mod client_auth;
mod client_credentials;
mod error;
mod form;
mod token_request;

pub use authorize::{
    AuthorizationRequest, AuthorizeError, Prompt, ResponseMode, SIGNED_IN_PARAM,
    check_authorization, client_id_of, is_pkce_value, redirect_uri_matches, verify_pkce,
};
pub use client_auth::presented_credentials;
pub use client_credentials::{ClientCredentialsGrant, client_credentials};
pub use error::{ErrorCode, OAuthError};
pub use form::FormParams;
pub use token_request::{
    FIRST_PARTY_AUDIENCE, TokenRequest, is_reserved_audience, parse_resources, select_resources,
};
