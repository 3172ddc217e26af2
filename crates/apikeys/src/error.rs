//! Errors of the API-key store.

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// Not a key of ours in form: wrong prefix, length or alphabet.
    #[error("malformed API key")]
    Malformed,
    /// Well-formed, but no key matches.
    #[error("unknown API key")]
    Unknown,
    #[error("the API key has expired")]
    Expired,
    #[error("the API key is revoked")]
    Revoked,
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("not found")]
    NotFound,
    /// A key or agent holding `*` is the owners' alone to change, rotate, revoke or delete.
    #[error("only owners manage what holds *")]
    OwnersOnly,
}

pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> KeyError {
    KeyError::Invalid {
        field,
        message: message.into(),
    }
}
