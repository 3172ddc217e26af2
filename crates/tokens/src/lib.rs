//! Tokens: everything that is signed or rotated.
//!
//! Owns the signing keys (generated at first start, stored in the database so every instance
//! signs with the same keys, rotated and published as a JWKS), JWT access tokens (RFC 9068),
//! and their verification for introspection (RFC 7662) and revocation (RFC 7009). ID tokens and
//! refresh-token families arrive with the authorization-code issue.
//!
//! Architecture invariants:
//! - Knows nothing about HTTP.
//! - Decides nothing about who may get a token: callers pass what a proven grant allows.
//! - Verification trusts nothing in the token header: the `kid` is only looked up in our own
//!   key set, the header `alg` must equal that key's one algorithm (so `alg: none` and
//!   HMAC-with-a-public-key are refused), and `typ` must be `at+jwt`.
//! - Private keys never leave this crate except as the stored PKCS#8 document; `Debug` of a key
//!   shows only its `kid` and algorithm.

mod access;
mod error;
mod id;
mod keys;

pub use access::{
    AccessClaims, AccessTokenSpec, Audience, IssuedAccessToken, issue_access_token,
    verify_access_token,
};
pub use error::{TokenError, VerifyError};
pub use id::{IdTokenHint, IdTokenSpec, at_hash, issue_id_token, verify_id_token_hint};
pub use keys::{KeyInfo, Keyring, SigningAlg, SigningKey, ensure_keys, list_keys, rotate_key};
