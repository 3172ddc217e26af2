#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// No master key is configured: the gateway is off and does nothing else.
    #[error("the gateway is off (no master key)")]
    Disabled,
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("not found")]
    NotFound,
    #[error("a service with this name exists already")]
    Exists,
    /// The sealed credential does not open with this master key.
    #[error("the credential cannot be decrypted with this master key")]
    Undecryptable,
    /// The target of a call is not allowed (unregistered host, private address, …).
    #[error("target refused: {0}")]
    Refused(String),
}

pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> GatewayError {
    GatewayError::Invalid {
        field,
        message: message.into(),
    }
}
