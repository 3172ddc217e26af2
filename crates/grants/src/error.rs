//! RFC 6749 §5.2 errors.

use std::fmt;

/// The OAuth `error` codes the server answers with: RFC 6749 §4.1.2.1 and §5.2, RFC 7009
/// §2.2.1, RFC 8707 §2, RFC 6750 §3.1, RFC 7591 §3.2.2, OpenID Connect Core §3.1.2.6 and
/// RFC 8628 §3.5 (`authorization_pending`, `expired_token`, and `slow_down`, which we also send
/// with a 429 after failed sign-ins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    InvalidTarget,
    UnsupportedTokenType,
    ServerError,
    AccessDenied,
    UnsupportedResponseType,
    LoginRequired,
    ConsentRequired,
    InteractionRequired,
    RequestNotSupported,
    RequestUriNotSupported,
    AccountSelectionRequired,
    TemporarilyUnavailable,
    SlowDown,
    /// RFC 8628 §3.5: the user has not decided yet; poll again.
    AuthorizationPending,
    /// RFC 8628 §3.5: the device code expired; start again.
    ExpiredToken,
    InvalidToken,
    InsufficientScope,
    InvalidRedirectUri,
    InvalidClientMetadata,
    InvalidSoftwareStatement,
    UnapprovedSoftwareStatement,
    /// RFC 9449 §5, §7.1: the DPoP proof is missing where required, or not valid.
    InvalidDpopProof,
    /// RFC 9449 §8, §9: the DPoP proof must carry the server nonce sent with this error.
    UseDpopNonce,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::ServerError => "server_error",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::AccountSelectionRequired => "account_selection_required",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::SlowDown => "slow_down",
            Self::AuthorizationPending => "authorization_pending",
            Self::ExpiredToken => "expired_token",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::InvalidSoftwareStatement => "invalid_software_statement",
            Self::UnapprovedSoftwareStatement => "unapproved_software_statement",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
        }
    }
}

/// An OAuth error with a description safe to send: printable ASCII without `"` or `\`
/// (RFC 6749 §5.2), whatever the caller passed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: String,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl AsRef<str>) -> Self {
        let description = description
            .as_ref()
            .chars()
            .map(|c| match c {
                '"' => '\'',
                '\\' => '/',
                c if (' '..='~').contains(&c) => c,
                _ => '?',
            })
            .collect();
        Self { code, description }
    }

    pub fn invalid_request(description: impl AsRef<str>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    pub fn invalid_client(description: impl AsRef<str>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

/// Why a flow did not issue. `Refused` is answered to the client as it is; the other variants
/// carry what the adapter needs to answer and record (an audit event, a throttle count).
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error(transparent)]
    Refused(#[from] OAuthError),
    /// A used authorization code came back (or lost the race to another exchange): what it
    /// issued is revoked (RFC 6749 §4.1.2). Answered as `invalid_grant` with `description`.
    #[error("authorization code replayed")]
    CodeReplayed {
        client_id: String,
        user_id: String,
        description: &'static str,
    },
    /// The password grant's username or password is wrong (`invalid_grant`, and one failure
    /// for the login throttle).
    #[error("wrong username or password")]
    WrongPassword,
    /// An account-side refusal, kept as it is for the surface to map (the first-party JSON
    /// API answers these in its own shape).
    #[error(transparent)]
    Account(#[from] accounts::AccountError),
    #[error(transparent)]
    Client(#[from] registration::ClientError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Sign(#[from] crate::SignError),
    /// Reading an agent failed (a server error).
    #[error("agent lookup failed: {0}")]
    Agent(String),
}

impl GrantError {
    pub(crate) fn refused(code: ErrorCode, description: impl AsRef<str>) -> Self {
        Self::Refused(OAuthError::new(code, description))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_made_safe() {
        let e = OAuthError::invalid_request("bad \"x\" \\ é\n");
        assert_eq!(e.description, "bad 'x' / ??");
    }
}
