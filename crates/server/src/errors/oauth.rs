//! The OAuth surface: the token, introspection, revocation and registration endpoints answer
//! RFC 6749 §5.2 / RFC 7591 §3.2.2 `{"error","error_description"}`, never cached
//! (`Cache-Control: no-store`, `Pragma: no-cache`), with a `Basic` challenge on 401; a
//! protected resource (userinfo) answers RFC 6750 §3: a `Bearer` challenge naming the error,
//! and no error at all for a request without a token. Every domain error that answers there is
//! mapped here.
//!
//! The code is a [`grants::ErrorCode`], never a string: handlers build and compare that enum.
//! It lives in `grants` because the flows that decide most of these errors produce it there;
//! `registration` keeps its own two-code enum (`grants` depends on `registration`, not the
//! reverse), mapped onto it below.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
pub use grants::ErrorCode;
use registration::MetadataErrorCode;

use crate::access::TokenRejected;

/// The raw body of an OAuth endpoint, read within the resource's `PayloadConfig` limit. A body
/// over the limit answers 413 and one that cannot be read 400, both RFC 6749
/// `invalid_request` (never actix's plain-text error); the handler parses what it got.
#[derive(Debug)]
pub struct OAuthBody(pub actix_web::web::Bytes);

impl actix_web::FromRequest for OAuthBody {
    type Error = OAuthHttpError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, OAuthHttpError>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        let read = actix_web::web::Bytes::from_request(req, payload);
        Box::pin(async move {
            read.await.map(OAuthBody).map_err(|e| {
                let status = e.as_response_error().status_code();
                tracing::debug!(error = %e, "unreadable OAuth request body");
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    OAuthHttpError::new(
                        status,
                        ErrorCode::InvalidRequest,
                        "the request body is too large",
                    )
                } else {
                    OAuthHttpError::new(
                        StatusCode::BAD_REQUEST,
                        ErrorCode::InvalidRequest,
                        "the request body could not be read",
                    )
                }
            })
        })
    }
}

/// An error on an OAuth endpoint or at a protected resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthHttpError {
    pub status: StatusCode,
    /// The `error` sent; `None` only for a request to a protected resource that carried no
    /// token, which RFC 6750 §3.1 answers with a bare challenge and no body.
    pub error: Option<ErrorCode>,
    pub description: String,
    /// The `WWW-Authenticate` value.
    pub challenge: Option<String>,
    /// Seconds to wait, sent as `Retry-After`.
    pub retry_after: Option<i64>,
    /// Whether `Pragma: no-cache` goes with `Cache-Control: no-store`: yes on the OAuth
    /// endpoints (RFC 6749 §5.1), no at a protected resource (RFC 6750 asks for neither).
    pragma: bool,
    /// A server nonce for the client's next DPoP proof, sent as `DPoP-Nonce` (RFC 9449 §8).
    pub dpop_nonce: Option<String>,
}

/// The status an error code answers with when the caller does not choose one: RFC 6749 §5.2
/// (400, or 401 for `invalid_client`), RFC 6750 §3.1 (401 `invalid_token`, 403
/// `insufficient_scope`). Every code is listed, so a new one needs a decision here.
pub fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode as C;
    match code {
        C::InvalidClient | C::InvalidToken => StatusCode::UNAUTHORIZED,
        C::InsufficientScope => StatusCode::FORBIDDEN,
        C::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        C::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        C::SlowDown => StatusCode::TOO_MANY_REQUESTS,
        C::InvalidRequest
        | C::InvalidGrant
        | C::AuthorizationPending
        | C::ExpiredToken
        | C::UnauthorizedClient
        | C::UnsupportedGrantType
        | C::InvalidScope
        | C::InvalidTarget
        | C::UnsupportedTokenType
        | C::AccessDenied
        | C::UnsupportedResponseType
        | C::LoginRequired
        | C::ConsentRequired
        | C::InteractionRequired
        | C::AccountSelectionRequired
        | C::RequestNotSupported
        | C::RequestUriNotSupported
        | C::InvalidRedirectUri
        | C::InvalidClientMetadata
        | C::InvalidSoftwareStatement
        | C::UnapprovedSoftwareStatement
        | C::InvalidDpopProof
        | C::UseDpopNonce => StatusCode::BAD_REQUEST,
    }
}

/// A `Bearer` challenge naming the error (RFC 6750 §3); `"` and `\` in the description become
/// `'`, so the header stays one quoted string.
fn bearer_challenge(code: ErrorCode, description: &str) -> String {
    format!(
        "Bearer realm=\"portcullis\", error=\"{}\", error_description=\"{}\"",
        code.as_str(),
        description.replace(['"', '\\'], "'")
    )
}

impl OAuthHttpError {
    /// An error on an OAuth endpoint; a 401 challenges for `Basic` client authentication.
    pub fn new(status: StatusCode, error: ErrorCode, description: impl Into<String>) -> Self {
        let challenge =
            (status == StatusCode::UNAUTHORIZED).then(|| "Basic realm=\"portcullis\"".to_owned());
        Self {
            status,
            error: Some(error),
            description: description.into(),
            challenge,
            retry_after: None,
            pragma: true,
            dpop_nonce: None,
        }
    }

    /// A DPoP proof refused at the token endpoint (RFC 9449 §5, §8): 400 `invalid_dpop_proof`,
    /// or `use_dpop_nonce` with the nonce to retry with.
    pub fn dpop(refusal: &crate::dpop::DpopRefusal) -> Self {
        let challenge = refusal.challenge();
        let code = match refusal {
            crate::dpop::DpopRefusal::Proof(_) => ErrorCode::InvalidDpopProof,
            crate::dpop::DpopRefusal::UseNonce(_) => ErrorCode::UseDpopNonce,
        };
        let mut e = Self::new(StatusCode::BAD_REQUEST, code, refusal.to_string());
        e.dpop_nonce = challenge.nonce;
        e
    }

    /// A refusal at a protected resource of a request that uses DPoP, or of a DPoP-bound token
    /// sent without it (RFC 9449 §7.1, §9): 401 with a `DPoP` challenge naming `error`.
    pub fn dpop_resource(challenge: crate::dpop::DpopChallenge, description: &str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: Some(challenge.error),
            challenge: Some(crate::dpop::challenge_header(
                Some(challenge.error),
                description,
            )),
            description: description.to_owned(),
            retry_after: None,
            pragma: false,
            dpop_nonce: challenge.nonce,
        }
    }

    /// 429 after repeated failed sign-ins, with `Retry-After`.
    pub fn slow_down(retry_after: i64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::SlowDown,
            "too many attempts; wait before trying again",
        );
        e.retry_after = Some(retry_after.max(1));
        e
    }

    /// A 401 on an OAuth endpoint for a missing or wrong bearer token (the initial and the
    /// registration access tokens of RFC 7591/7592), with an RFC 6750 §3 challenge.
    pub fn invalid_token(description: impl Into<String>) -> Self {
        Self {
            pragma: true,
            ..Self::bearer(ErrorCode::InvalidToken, description)
        }
    }

    /// An RFC 6750 §3 error at a protected resource: the status of `code`, a `Bearer`
    /// challenge naming it, the JSON body, `Cache-Control: no-store`.
    pub fn bearer(code: ErrorCode, description: impl Into<String>) -> Self {
        let description = description.into();
        Self {
            status: status_of(code),
            error: Some(code),
            challenge: Some(bearer_challenge(code, &description)),
            description,
            retry_after: None,
            pragma: false,
            dpop_nonce: None,
        }
    }

    /// RFC 6750 §3.1: a request to a protected resource without any token gets a 401 with a
    /// bare `Bearer` challenge, no error code and no body.
    pub fn bearer_required() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: None,
            description: String::new(),
            challenge: Some("Bearer realm=\"portcullis\"".to_owned()),
            retry_after: None,
            pragma: false,
            dpop_nonce: None,
        }
    }

    /// Our failure at a protected resource. `detail` is logged, never sent.
    pub fn bearer_server_error(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error at a protected resource");
        Self::bearer(ErrorCode::ServerError, "the server could not answer")
    }

    /// Our failure. `detail` is logged, never sent.
    pub fn server_error(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error on an OAuth endpoint");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ServerError,
            "the server could not complete the request",
        )
    }
}

impl std::fmt::Display for OAuthHttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.error {
            Some(code) => write!(
                f,
                "{} {}: {}",
                self.status.as_u16(),
                code.as_str(),
                self.description
            ),
            None => write!(f, "{} (no credentials)", self.status.as_u16()),
        }
    }
}

impl ResponseError for OAuthHttpError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = match self.error {
            Some(code) => HttpResponse::build(self.status).json(serde_json::json!({
                "error": code.as_str(),
                "error_description": self.description,
            })),
            None => HttpResponse::build(self.status).finish(),
        };
        let headers = res.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.pragma {
            headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        }
        if let Some(value) = self
            .challenge
            .as_deref()
            .and_then(|c| HeaderValue::from_str(c).ok())
        {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(nonce) = self
            .dpop_nonce
            .as_deref()
            .and_then(|n| HeaderValue::from_str(n).ok())
        {
            headers.insert(crate::dpop::NONCE_HEADER, nonce);
        }
        res
    }
}

/// The handler for a wrong method on an OAuth endpoint: a 405 in the RFC 6749 shape.
pub async fn oauth_method_not_allowed() -> HttpResponse {
    OAuthHttpError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::InvalidRequest,
        "this method is not allowed here",
    )
    .error_response()
}

impl From<grants::OAuthError> for OAuthHttpError {
    fn from(e: grants::OAuthError) -> Self {
        match e.code {
            ErrorCode::InvalidToken => Self::invalid_token(e.description),
            code => Self::new(status_of(code), code, e.description),
        }
    }
}

/// The RFC 7591 §3.2.2 code of a metadata error.
pub fn metadata_code(code: MetadataErrorCode) -> ErrorCode {
    match code {
        MetadataErrorCode::InvalidRedirectUri => ErrorCode::InvalidRedirectUri,
        MetadataErrorCode::InvalidClientMetadata => ErrorCode::InvalidClientMetadata,
    }
}

impl From<registration::MetadataError> for OAuthHttpError {
    fn from(e: registration::MetadataError) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            metadata_code(e.code),
            e.description,
        )
    }
}

impl From<registration::AuthError> for OAuthHttpError {
    fn from(e: registration::AuthError) -> Self {
        match e {
            registration::AuthError::Client(inner) => Self::server_error(&inner),
            reason => {
                // The reason is for the log; the client learns only that authentication failed.
                tracing::info!(%reason, "client authentication failed");
                Self::new(
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::InvalidClient,
                    "client authentication failed",
                )
            }
        }
    }
}

impl From<registration::ClientError> for OAuthHttpError {
    fn from(e: registration::ClientError) -> Self {
        Self::server_error(&e)
    }
}

/// A refusal of the registration endpoints (RFC 7591 §3.2.2, RFC 7592): a missing or wrong
/// initial or registration access token is 401 `invalid_token` with a `Bearer` challenge; a
/// closed registration is 403 `access_denied`; an update that names another client or sends
/// a server field is `invalid_request`; our failure is `server_error`.
impl From<registration::SealError> for OAuthHttpError {
    fn from(e: registration::SealError) -> Self {
        match e {
            registration::SealError::Store(inner) => Self::server_error(&inner),
            refused => Self::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidClientMetadata,
                refused.to_string(),
            ),
        }
    }
}

impl From<registration::RegistrationError> for OAuthHttpError {
    fn from(e: registration::RegistrationError) -> Self {
        use registration::RegistrationError as E;
        match e {
            E::Metadata(inner) => inner.into(),
            E::Client(inner) => inner.into(),
            E::Closed => Self::new(
                StatusCode::FORBIDDEN,
                ErrorCode::AccessDenied,
                e.to_string(),
            ),
            E::InitialTokenRequired
            | E::InitialTokenInvalid
            | E::RegistrationTokenRequired
            | E::NotManaged => Self::invalid_token(e.to_string()),
            E::ClientIdMismatch | E::ServerField(_) => Self::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                e.to_string(),
            ),
            E::SecretMismatch => Self::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidClientMetadata,
                e.to_string(),
            ),
        }
    }
}

impl From<store::StoreError> for OAuthHttpError {
    fn from(e: store::StoreError) -> Self {
        if super::is_unavailable(&e) {
            tracing::warn!(error = %e, "database unavailable");
            Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::TemporarilyUnavailable,
                "the service is temporarily unavailable",
            )
        } else {
            Self::server_error(&e)
        }
    }
}

impl From<tokens::TokenError> for OAuthHttpError {
    fn from(e: tokens::TokenError) -> Self {
        match e {
            tokens::TokenError::Store(inner) => inner.into(),
            other => Self::server_error(&other),
        }
    }
}

/// An account error at the token endpoint (refresh rotation, code replay, the password grant):
/// a refresh token that is not valid is `invalid_grant`; a scope or resource it may not
/// narrow to is `invalid_scope` / `invalid_target`; anything else is our failure.
/// A flow's error at the token, introspection and revocation endpoints (RFC 6749 §5.2). A
/// replayed code is also recorded; that is the token endpoint's (`flows::grant_error`).
impl From<grants::GrantError> for OAuthHttpError {
    fn from(e: grants::GrantError) -> Self {
        use grants::GrantError as G;
        match e {
            G::Refused(e) => e.into(),
            G::CodeReplayed { description, .. } => {
                grants::OAuthError::new(ErrorCode::InvalidGrant, description).into()
            }
            G::WrongPassword => grants::OAuthError::new(
                ErrorCode::InvalidGrant,
                "the username or password is wrong",
            )
            .into(),
            G::Account(e) => e.into(),
            G::Store(e) => e.into(),
            G::Client(e) => e.into(),
            G::Sign(e) => Self::server_error(&e),
            G::Agent(e) => Self::server_error(&e),
        }
    }
}

impl From<accounts::AccountError> for OAuthHttpError {
    fn from(e: accounts::AccountError) -> Self {
        use accounts::AccountError as E;
        match e {
            E::Store(inner) => inner.into(),
            E::TokenReused => {
                // Counted here, where every refresh at the token endpoint that was refused
                // for reuse passes (the family was revoked in `grants`).
                crate::metrics::business::refresh_reuse_detected();
                grants::OAuthError::new(ErrorCode::InvalidGrant, "the refresh token is not valid")
                    .into()
            }
            E::TokenInvalid | E::TokenExpired => {
                grants::OAuthError::new(ErrorCode::InvalidGrant, "the refresh token is not valid")
                    .into()
            }
            other => Self::server_error(&other),
        }
    }
}

/// An access token refused at a protected resource (userinfo): expired or not, the answer is
/// 401 `invalid_token` and the reason stays here.
pub fn from_rejected_token(e: TokenRejected) -> OAuthHttpError {
    match e {
        TokenRejected::Expired | TokenRejected::Invalid(_) => {
            OAuthHttpError::bearer(ErrorCode::InvalidToken, "the access token is not valid")
        }
        TokenRejected::Dpop(rejected) => {
            OAuthHttpError::dpop_resource(rejected.challenge(), "the access token is not valid")
        }
        TokenRejected::Internal(detail) => OAuthHttpError::bearer_server_error(&detail),
    }
}

impl From<actix_web::error::BlockingError> for OAuthHttpError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Self::server_error(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    #[actix_web::test]
    async fn oauth_errors_map_to_rfc6749_statuses_and_headers() {
        use grants::OAuthError;
        let cases = [
            (ErrorCode::InvalidRequest, 400),
            (ErrorCode::InvalidClient, 401),
            (ErrorCode::InvalidGrant, 400),
            (ErrorCode::UnauthorizedClient, 400),
            (ErrorCode::UnsupportedGrantType, 400),
            (ErrorCode::InvalidScope, 400),
            (ErrorCode::InvalidTarget, 400),
            (ErrorCode::ServerError, 500),
        ];
        for (code, status) in cases {
            let res = OAuthHttpError::from(OAuthError::new(code, "why")).error_response();
            assert_eq!(res.status().as_u16(), status, "{code:?}");
            assert_eq!(
                res.headers().get("cache-control").map(|v| v.as_bytes()),
                Some(&b"no-store"[..])
            );
            assert_eq!(
                res.headers().get("pragma").map(|v| v.as_bytes()),
                Some(&b"no-cache"[..])
            );
            assert_eq!(
                res.headers().contains_key("www-authenticate"),
                status == 401
            );
            let body: serde_json::Value =
                serde_json::from_slice(&to_bytes(res.into_body()).await.unwrap_or_default())
                    .unwrap_or_default();
            assert_eq!(body["error"], code.as_str());
            assert_eq!(body["error_description"], "why");
        }
    }

    #[actix_web::test]
    async fn failed_client_authentication_says_nothing_more() {
        let res = OAuthHttpError::from(registration::AuthError::WrongSecret).error_response();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let challenge = res
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok());
        assert!(challenge.is_some_and(|c| c.starts_with("Basic ")));
        let body = to_bytes(res.into_body()).await.unwrap_or_default();
        assert!(!String::from_utf8_lossy(&body).contains("secret"));
    }

    #[test]
    fn bearer_challenges_name_the_error() {
        let e = OAuthHttpError::invalid_token("bad \"token\"");
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        assert!(
            e.challenge
                .as_deref()
                .unwrap_or("")
                .contains("error=\"invalid_token\"")
        );
        assert!(!e.challenge.as_deref().unwrap_or("").contains("\"token\""));
    }

    /// RFC 6750 §3 at userinfo: the exact answer, without the token endpoint's `Pragma`.
    #[actix_web::test]
    async fn a_protected_resource_error_names_itself_in_the_challenge() {
        let res = OAuthHttpError::bearer(
            ErrorCode::InsufficientScope,
            "the token lacks the openid scope",
        )
        .error_response();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            res.headers().get("www-authenticate").map(|v| v.as_bytes()),
            Some(
                &b"Bearer realm=\"portcullis\", error=\"insufficient_scope\", error_description=\"the token lacks the openid scope\""[..]
            )
        );
        assert_eq!(
            res.headers().get("cache-control").map(|v| v.as_bytes()),
            Some(&b"no-store"[..])
        );
        assert!(!res.headers().contains_key("pragma"));
        let body = to_bytes(res.into_body()).await.unwrap_or_default();
        assert_eq!(
            &body[..],
            &br#"{"error":"insufficient_scope","error_description":"the token lacks the openid scope"}"#[..]
        );
    }

    /// RFC 6750 §3.1: no token, no error: a bare challenge, no body, no `Pragma`.
    #[actix_web::test]
    async fn a_request_without_a_token_gets_a_bare_challenge() {
        let res = OAuthHttpError::bearer_required().error_response();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            res.headers().get("www-authenticate").map(|v| v.as_bytes()),
            Some(&b"Bearer realm=\"portcullis\""[..])
        );
        assert!(!res.headers().contains_key("pragma"));
        assert!(!res.headers().contains_key("content-type"));
        let body = to_bytes(res.into_body()).await.unwrap_or_default();
        assert!(body.is_empty());
    }
}
