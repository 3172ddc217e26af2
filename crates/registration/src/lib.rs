//! Client registration: what an OAuth client is and which clients are allowed.
//!
//! Owns the client model, the validation of client metadata (RFC 7591) and its management
//! (RFC 7592), the redirect-URI rules (absolute, no fragment, no wildcard; https except on
//! loopback; private-use schemes for native apps, RFC 8252), client secrets (256 random bits,
//! stored as SHA-256, compared in constant time) and client authentication at the token,
//! introspection and revocation endpoints (secrets, and the JWT assertions of
//! `private_key_jwt` and `client_secret_jwt`: [`assertion`]), and the decisions of the registration endpoints
//! ([`manage`]: who may register, what an RFC 7592 call may change, the client information
//! response).
//!
//! Architecture invariants:
//! - Knows nothing about HTTP; errors are its own enums, mapped to RFC 7591 / RFC 6749 codes by
//!   the server.
//! - Knows nothing about grants or tokens: it answers "is this client, with this secret,
//!   allowed", nothing more.
//! - A [`VerifiedClient`] can only be made by [`authenticate`]: holding one proves the caller
//!   presented the credentials the client registered.
//! - Reads and writes rows only through `store`.

pub mod assertion;
mod auth;
mod client;
mod document;
pub mod manage;
mod metadata;

pub use assertion::{AssertionError, AssertionRules, JWT_BEARER_ASSERTION, check_jwks};
pub use auth::{
    AssertionContext, AuthError, Presented, SealError, VerifiedClient, authenticate,
    check_credentials, check_presented, seal_client_secret,
};
pub use client::{
    Client, ClientError, Registered, consume_initial_access_token, create_initial_access_token,
    delete_client, find_client, list_clients, register_client, register_client_with,
    rotate_client_secret, rotate_registration_token, search_clients, update_client,
    verify_registration_token,
};
pub use document::{DocumentError, client_from_document, document_url, is_url_client_id};
pub use manage::{ClientInformation, RegistrationError, RegistrationMode};
pub use metadata::{
    ApplicationType, AuthMethod, ClientMetadata, GrantType, MetadataError, MetadataErrorCode,
    OFFLINE_ACCESS, Policy, TOKEN_EXCHANGE, agent_client_metadata, agent_client_metadata_with_keys,
    is_loopback_redirect, is_native_redirect, is_scope_token, parse_metadata,
};
/// The connection the functions here take (routes name it without naming the store).
pub use store::Conn;
