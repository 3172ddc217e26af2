//! Errors of the tokens crate.

/// Something went wrong on our side while handling keys or signing.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("key generation failed: {0}")]
    KeyGeneration(&'static str),
    #[error("stored signing key {kid} is unusable: {reason}")]
    BadStoredKey { kid: String, reason: String },
    #[error("no current signing key for {0}")]
    NoCurrentKey(&'static str),
    #[error("signing failed: {0}")]
    Signing(String),
}

/// Why a presented token is not (or no longer) valid. Callers answer `active: false` or
/// `invalid_token` whatever the reason; the reason is for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("not a well-formed JWT")]
    Malformed,
    #[error("the token's typ is not at+jwt")]
    WrongType,
    #[error("signed by a key we do not know")]
    UnknownKey,
    #[error("the header alg does not match the key's algorithm")]
    AlgorithmMismatch,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("issued by another issuer")]
    WrongIssuer,
    #[error("expired")]
    Expired,
    #[error("not valid yet")]
    NotYetValid,
}
