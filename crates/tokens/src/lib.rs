//! Tokens: everything that is signed or rotated.
//!
//! Owns: the signing keys (generated at first start, stored in the database so every instance
//! signs with the same keys, rotated and published as a JWKS), JWT access tokens (RFC 9068) and
//! OpenID Connect ID tokens signed from a `grants::Grant` (the only input: there is no spec
//! anyone can fill), and their verification (the `id_token_hint` of logout included). The
//! [`Signer`] is the `grants::Sign` the flows are handed. Back-Channel Logout tokens
//! (`typ: logout+jwt`) are signed beside the ID token, for a session that ended.
//!
//! Architecture invariants:
//! - Knows nothing about HTTP.
//! - Decides nothing about who may get a token: it signs a `grants::Grant`, which only the flows
//!   of `grants` can make, from their proofs.
//! - Verification trusts nothing in the token header: the `kid` is only looked up in our own
//!   key set, the header `alg` must equal that key's one algorithm (so `alg: none` and
//!   HMAC-with-a-public-key are refused), and `typ` must be `at+jwt`.
//! - Private keys never leave this crate except as the stored PKCS#8 document; `Debug` of a key
//!   shows only its `kid` and algorithm.

mod access;
pub mod dpop;
mod error;
mod id;
mod keys;

pub use access::{
    AccessClaims, ActClaim, Audience, Issuance, IssuedAccessToken, Signer, issue_access_token,
    issue_bound_access_token, verify_access_token,
};
pub use error::{TokenError, VerifyError};
pub use id::{
    BACKCHANNEL_LOGOUT_EVENT, IdTokenHint, LogoutSubject, at_hash, issue_id_token,
    issue_logout_token, verify_id_token, verify_id_token_hint,
};
pub use keys::{
    KeyInfo, Keyring, RetireRefused, RotationSchedule, RotationStep, SigningAlg, SigningKey,
    WITHDRAWN, WithdrawRefused, ensure_keys, list_keys, private_pkcs8, retire_key, rotate_if_due,
    rotate_key, seal_stored_keys, withdraw_key,
};
