//! The JSON API surface (`/api/…`): `{"error":{"code","message","type"}}`, never cached, a
//! `Bearer` challenge on 401, `Retry-After` on 429, `required_scope` on a 403
//! `insufficient_scope`; and every domain error that answers there.
//!
//! The `code` stays a `&'static str`: nothing in the server examines it (handlers build an
//! `ApiError` and return it; only the response body carries the code), so a string cannot be
//! compared by mistake, and the codes are an open, documented vocabulary of the API rather
//! than a protocol's closed list.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use apikeys::KeyError;
use gateway::{CallRefused, GatewayError, UpstreamFailure};
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::TokenRejected;

/// The `type` of an API error: the broad class a client can branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    /// The request is malformed, refers to nothing, or uses a wrong method.
    InvalidRequestError,
    /// No credential, or one that is unknown or expired (401).
    AuthenticationError,
    /// A valid credential that may not do this (403).
    AuthorizationError,
    /// Too many requests (429).
    RateLimitError,
    /// Our fault (5xx).
    ApiError,
}

/// An error on the JSON API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// A stable, machine-readable code such as `not_found` or `invalid_json`.
    pub code: &'static str,
    /// A sentence for the developer reading it.
    pub message: String,
    pub kind: ErrorType,
    /// The request field at fault, for validation errors.
    pub param: Option<&'static str>,
    /// The scope a 403 `insufficient_scope` lacked.
    pub required_scope: Option<String>,
    /// Seconds to wait, sent as `Retry-After` with a 429.
    pub retry_after: Option<i64>,
    /// A 403 `mfa_required`: the sign-in's challenge and the factors that answer it.
    pub mfa: Option<Box<MfaPending>>,
    /// A 401 for a credential sent and refused (an access token, an API key): its challenge
    /// says `error="invalid_token"` (RFC 6750 §3.1). Other 401s (no credential, a sign-in's
    /// wrong password, a token in a body) challenge bare.
    pub credential_refused: bool,
    /// A token's DPoP presentation refused (RFC 9449 §7.1): the challenge is `DPoP`, naming
    /// this error, and a nonce to retry with goes as `DPoP-Nonce`.
    pub dpop: Option<Box<crate::dpop::DpopChallenge>>,
}

/// The second factor a JSON sign-in waits on (`mfaToken`, `methods`). `Debug` hides the token.
#[derive(Clone, PartialEq, Eq)]
pub struct MfaPending {
    pub token: String,
    pub methods: Vec<&'static str>,
}

impl std::fmt::Debug for MfaPending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaPending")
            .field("methods", &self.methods)
            .finish_non_exhaustive()
    }
}

/// Every error of the JSON API: `{"error":{"code","message","type"}}`.
#[derive(Serialize, ToSchema)]
#[schema(as = ApiError)]
pub(crate) struct ApiErrorBody<'a> {
    error: ApiErrorFields<'a>,
}

/// The error: a stable `code`, a `message` for the developer, the broad `type`, and where
/// they apply the field at fault, the scope lacking, or the second factor a sign-in waits on.
#[derive(Serialize, ToSchema)]
#[schema(as = ApiErrorFields)]
struct ApiErrorFields<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(rename = "type")]
    kind: ErrorType,
    /// The request field at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    param: Option<&'a str>,
    /// The scope a 403 `insufficient_scope` lacked.
    #[serde(skip_serializing_if = "Option::is_none")]
    required_scope: Option<&'a str>,
    /// A 403 `mfa_required`: the challenge to send to `POST /api/v1/auth/mfa`.
    #[serde(rename = "mfaToken", skip_serializing_if = "Option::is_none")]
    mfa_token: Option<&'a str>,
    /// A 403 `mfa_required`: the factors that answer it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>)]
    methods: Option<&'a [&'static str]>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        kind: ErrorType,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            kind,
            param: None,
            required_scope: None,
            retry_after: None,
            mfa: None,
            credential_refused: false,
            dpop: None,
        }
    }

    /// 401 `invalid_api_key`: no credential was sent (the challenge names no `error`).
    pub fn credential_missing() -> Self {
        Self::unauthenticated(
            "invalid_api_key",
            "Send an API key in x-api-key (or Authorization: Bearer), or an access token.",
        )
    }

    /// 401: the credential sent (an access token, an API key) is not valid; the challenge
    /// says `error="invalid_token"`.
    pub fn credential_refused(code: &'static str, message: impl Into<String>) -> Self {
        let mut e = Self::unauthenticated(code, message);
        e.credential_refused = true;
        e
    }

    /// The `WWW-Authenticate` of this answer (RFC 6750 §3): a `Bearer` challenge on every 401,
    /// with `error="invalid_token"` when a credential was sent and refused; on a 403
    /// `insufficient_scope`, that error and the `scope` lacking (RFC 6750 §3.1, the MCP
    /// specification's step-up). `resource_metadata` (RFC 9728 §5.1) is added by
    /// [`resource_challenge`], which knows where the request went.
    pub fn challenge(&self) -> Option<String> {
        let quoted = |s: &str| s.replace(['\\', '"'], "'");
        if let Some(dpop) = &self.dpop {
            return Some(crate::dpop::challenge_header(
                Some(dpop.error),
                &self.message,
            ));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            Some(if self.credential_refused {
                format!(
                    "Bearer realm=\"portcullis\", error=\"invalid_token\", error_description=\"{}\"",
                    quoted(&self.message)
                )
            } else {
                "Bearer realm=\"portcullis\"".to_owned()
            })
        } else {
            // Only `insufficient_scope` sets the scope lacking.
            self.required_scope.as_deref().map(|scope| {
                format!(
                    "Bearer realm=\"portcullis\", error=\"insufficient_scope\", error_description=\"{}\", scope=\"{}\"",
                    quoted(&self.message),
                    quoted(scope)
                )
            })
        }
    }

    /// 403 `mfa_enrollment_required`: the password was right, but an organization of the user
    /// requires a second factor and none is set up; the account page sets one up.
    pub fn mfa_enrollment_required() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "mfa_enrollment_required",
            ErrorType::AuthorizationError,
            "An organization you belong to requires a second factor: sign in on the account page to set one up.",
        )
    }

    /// 403 `mfa_required`: the password was right; the sign-in goes on at
    /// `POST /api/v1/auth/mfa` with `mfaToken` and a code.
    pub fn mfa_required(token: String, methods: Vec<&'static str>) -> Self {
        let mut e = Self::new(
            StatusCode::FORBIDDEN,
            "mfa_required",
            ErrorType::AuthorizationError,
            "This account signs in with a second factor: send mfaToken and a code to POST /api/v1/auth/mfa.",
        );
        e.mfa = Some(Box::new(MfaPending { token, methods }));
        e
    }

    /// 403: the credential is valid but lacks `scope`.
    pub fn insufficient_scope(scope: &str) -> Self {
        let mut e = Self::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            ErrorType::AuthorizationError,
            format!("This credential lacks the scope {scope}."),
        );
        e.required_scope = Some(scope.to_owned());
        e
    }

    pub fn with_param(mut self, param: &'static str) -> Self {
        self.param = Some(param);
        self
    }

    /// 401: no credential, or one that is not valid.
    pub fn unauthenticated(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            code,
            ErrorType::AuthenticationError,
            message,
        )
    }

    /// 403: a valid credential that may not do this.
    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            ErrorType::AuthorizationError,
            "You do not have access to this resource.",
        )
    }

    /// 429 with `Retry-After`.
    pub fn rate_limited(retry_after: i64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            ErrorType::RateLimitError,
            "Too many attempts; wait before trying again.",
        );
        e.retry_after = Some(retry_after.max(1));
        e
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            ErrorType::InvalidRequestError,
            "No such resource.",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            ErrorType::InvalidRequestError,
            "This method is not allowed on this resource.",
        )
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            code,
            ErrorType::InvalidRequestError,
            message,
        )
    }

    /// A failure of ours. `detail` is logged, never sent.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            ErrorType::ApiError,
            "Something went wrong on our side; quote the x-request-id header when reporting it.",
        )
    }

    /// The database or another dependency is down. `detail` is logged, never sent.
    pub fn unavailable(detail: &dyn std::fmt::Display) -> Self {
        tracing::warn!(error = %detail, "service unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            ErrorType::ApiError,
            "The service is temporarily unavailable; retry shortly.",
        )
    }

    /// 400 `invalid_field` naming the field at fault.
    fn invalid_field(field: &'static str, message: &str) -> Self {
        Self::bad_request("invalid_field", format!("{field} {message}.")).with_param(field)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let body = ApiErrorBody {
            error: ApiErrorFields {
                code: self.code,
                message: &self.message,
                kind: self.kind,
                param: self.param,
                required_scope: self.required_scope.as_deref(),
                mfa_token: self.mfa.as_ref().map(|m| m.token.as_str()),
                methods: self.mfa.as_ref().map(|m| m.methods.as_slice()),
            },
        };
        let mut res = HttpResponse::build(self.status).json(body);
        let headers = res.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(challenge) = self.challenge()
            && let Ok(value) = HeaderValue::from_str(&challenge)
        {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        if let Some(nonce) = self
            .dpop
            .as_ref()
            .and_then(|d| d.nonce.as_deref())
            .and_then(|n| HeaderValue::from_str(n).ok())
        {
            headers.insert(crate::dpop::NONCE_HEADER, nonce);
        }
        res
    }
}

impl From<store::StoreError> for ApiError {
    fn from(e: store::StoreError) -> Self {
        if super::is_unavailable(&e) {
            Self::unavailable(&e)
        } else {
            Self::internal(&e)
        }
    }
}

impl From<accounts::AccountError> for ApiError {
    fn from(e: accounts::AccountError) -> Self {
        use accounts::AccountError as E;
        match e {
            E::Store(inner) => inner.into(),
            E::Invalid { field, message } => Self::invalid_field(field, &message),
            E::EmailTaken => Self::new(
                StatusCode::CONFLICT,
                "email_taken",
                ErrorType::InvalidRequestError,
                "An account with this email exists already.",
            )
            .with_param("email"),
            E::InvalidCredentials => {
                Self::unauthenticated("invalid_credentials", "The email or password is wrong.")
            }
            E::NotFound => Self::not_found(),
            E::Forbidden => Self::forbidden(),
            E::LastOwner => Self::new(
                StatusCode::CONFLICT,
                "last_owner",
                ErrorType::InvalidRequestError,
                "An organization must keep at least one owner.",
            ),
            E::InviteExpired => Self::new(
                StatusCode::GONE,
                "invite_expired",
                ErrorType::InvalidRequestError,
                "This invite has expired.",
            ),
            E::InviteUsed => Self::new(
                StatusCode::CONFLICT,
                "invite_used",
                ErrorType::InvalidRequestError,
                "This invite has been used.",
            ),
            E::TokenExpired => Self::unauthenticated("token_expired", "The token has expired."),
            E::TokenReused => {
                crate::metrics::business::refresh_reuse_detected();
                Self::unauthenticated("invalid_token", "The token is not valid.")
            }
            E::TokenInvalid => {
                Self::unauthenticated("invalid_token", "The token is not valid.")
            }
            E::WrongPassword => Self::new(
                StatusCode::FORBIDDEN,
                "wrong_password",
                ErrorType::AuthorizationError,
                "The password is wrong.",
            )
            .with_param("password"),
            E::LinkInvalid => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_link",
                ErrorType::InvalidRequestError,
                "This link is not valid: it was used already, replaced by a newer one, or never made.",
            )
            .with_param("token"),
            E::LinkExpired => Self::new(
                StatusCode::GONE,
                "link_expired",
                ErrorType::InvalidRequestError,
                "This link has expired; ask for a new one.",
            )
            .with_param("token"),
            E::TooSoon { retry_after } => Self::rate_limited(retry_after),
            E::WrongCode => Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_code",
                ErrorType::AuthenticationError,
                "The code is wrong or was used before.",
            )
            .with_param("code"),
            E::MfaAlreadyEnabled => Self::new(
                StatusCode::CONFLICT,
                "mfa_already_enabled",
                ErrorType::InvalidRequestError,
                "An authenticator app is set up already; remove it first to set up another.",
            ),
            E::MfaNotEnabled => Self::new(
                StatusCode::CONFLICT,
                "mfa_not_enabled",
                ErrorType::InvalidRequestError,
                "No authenticator app is set up (or none is waiting to be confirmed).",
            ),
            E::MfaUnavailable => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "mfa_unavailable",
                ErrorType::ApiError,
                "Authenticator apps are not available on this server: it has no encryption keys (PORTCULLIS_ENCRYPTION_KEYS).",
            ),
            E::ChallengeInvalid => Self::unauthenticated(
                "invalid_mfa_token",
                "This sign-in has expired or was used; sign in again.",
            )
            .with_param("mfaToken"),
            E::AlreadyVerified => Self::new(
                StatusCode::CONFLICT,
                "already_verified",
                ErrorType::InvalidRequestError,
                "The email address is verified already.",
            ),
            E::EmailNotVerified { .. } => Self::new(
                StatusCode::FORBIDDEN,
                "email_not_verified",
                ErrorType::AuthorizationError,
                "Verify your email address first: follow the link we sent you, or ask for it again with POST /api/v1/auth/verify-email/resend.",
            ),
            E::SignupClosed => Self::new(
                StatusCode::FORBIDDEN,
                "signup_closed",
                ErrorType::AuthorizationError,
                "Sign-up is closed on this server: accounts are made by invitation or by an operator.",
            ),
            E::DomainNotAllowed => Self::new(
                StatusCode::FORBIDDEN,
                "domain_not_allowed",
                ErrorType::AuthorizationError,
                "Sign-up is not open to this email domain.",
            )
            .with_param("email"),
            E::Hashing(detail) => Self::internal(&detail),
        }
    }
}

/// A first-party flow's error on the JSON API (sign-in, refresh, sign-out): account refusals in
/// their own words, the store as the store; the OAuth-only outcomes cannot arise there and are
/// internal errors.
impl From<grants::GrantError> for ApiError {
    fn from(e: grants::GrantError) -> Self {
        use grants::GrantError as G;
        match e {
            G::Account(e) => e.into(),
            G::Store(e) => e.into(),
            other => Self::internal(&other),
        }
    }
}

impl From<tokens::TokenError> for ApiError {
    fn from(e: tokens::TokenError) -> Self {
        match e {
            tokens::TokenError::Store(inner) => inner.into(),
            other => Self::internal(&other),
        }
    }
}

/// An access token refused on the API (and by the gateway): the reason is logged at debug
/// level, never sent.
impl From<TokenRejected> for ApiError {
    fn from(e: TokenRejected) -> Self {
        match e {
            TokenRejected::Expired => {
                Self::credential_refused("token_expired", "The access token has expired.")
            }
            TokenRejected::Invalid(reason) => {
                tracing::debug!(reason, "access token refused");
                Self::credential_refused("invalid_token", "The access token is not valid.")
            }
            TokenRejected::Dpop(rejected) => {
                let challenge = rejected.challenge();
                let mut e = Self::credential_refused(
                    challenge.error.as_str(),
                    "The access token's DPoP proof is missing or not valid.",
                );
                e.dpop = Some(Box::new(challenge));
                e
            }
            TokenRejected::Internal(detail) => Self::internal(&detail),
        }
    }
}

/// An API-key error while managing keys and agents (and looking an agent up): a key that is
/// not valid here is the caller's own, and a revoked key is a conflict with its state.
pub fn from_key_error(e: KeyError) -> ApiError {
    match e {
        KeyError::Store(inner) => inner.into(),
        KeyError::Invalid { field, message } => ApiError::invalid_field(field, &message),
        KeyError::NotFound => ApiError::not_found(),
        KeyError::OwnersOnly => ApiError::forbidden(),
        KeyError::Revoked => ApiError::new(
            StatusCode::CONFLICT,
            "api_key_revoked",
            ErrorType::InvalidRequestError,
            "This API key is revoked.",
        ),
        KeyError::Malformed | KeyError::Unknown | KeyError::Expired => {
            ApiError::credential_refused("invalid_api_key", "The API key is not valid.")
        }
    }
}

/// An API-key error while verifying the key a request presented: always a 401, which says
/// whether the key expired or was revoked, and nothing more.
pub fn from_presented_key_error(e: KeyError) -> ApiError {
    match e {
        KeyError::Store(inner) => inner.into(),
        KeyError::Expired => {
            ApiError::credential_refused("token_expired", "The API key has expired.")
        }
        KeyError::Revoked => {
            ApiError::credential_refused("invalid_api_key", "The API key has been revoked.")
        }
        KeyError::Malformed
        | KeyError::Unknown
        | KeyError::Invalid { .. }
        | KeyError::NotFound
        | KeyError::OwnersOnly => {
            ApiError::credential_refused("invalid_api_key", "The API key is not valid.")
        }
    }
}

impl From<GatewayError> for ApiError {
    fn from(e: GatewayError) -> Self {
        match e {
            GatewayError::Store(inner) => inner.into(),
            GatewayError::Disabled => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "gateway_disabled",
                ErrorType::ApiError,
                "The gateway is off: set PORTCULLIS_MASTER_KEY to turn it on.",
            ),
            GatewayError::Invalid { field, message } => Self::invalid_field(field, &message),
            GatewayError::NotFound => Self::not_found(),
            GatewayError::Exists => Self::new(
                StatusCode::CONFLICT,
                "service_exists",
                ErrorType::InvalidRequestError,
                "A service with this name exists already.",
            ),
            // A sealed credential that does not open: the master key changed without a
            // re-seal, or the row was tampered with (a value copied from another service or
            // host). Nothing is sent upstream; the caller learns only that the credential must
            // be stored again.
            GatewayError::Undecryptable => {
                tracing::warn!("a stored gateway credential does not open with the master key");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "credential_unavailable",
                    ErrorType::ApiError,
                    "The stored credential of this service cannot be used; store it again.",
                )
            }
            GatewayError::Refused(why) => {
                tracing::info!(%why, "gateway target refused");
                Self::new(
                    StatusCode::FORBIDDEN,
                    "upstream_refused",
                    ErrorType::AuthorizationError,
                    "This upstream may not be called through the gateway.",
                )
            }
        }
    }
}

/// A proxied call refused before any connection (`gateway::prepare_call` and the checks
/// before it).
impl From<CallRefused> for ApiError {
    fn from(e: CallRefused) -> Self {
        match e {
            CallRefused::NotAnOrganizationKey => Self::credential_refused(
                "invalid_api_key",
                "The gateway takes an organization API key, or an agent's access token.",
            ),
            CallRefused::InsufficientScope(scope) => Self::insufficient_scope(&scope),
            CallRefused::InvalidJson => Self::bad_request("invalid_json", "The JSON body is invalid."),
            CallRefused::NoAgent => Self::bad_request(
                "invalid_field",
                "Name the agent: X-Agent-Id, agent_id in the JSON body, or the combined credential.",
            )
            .with_param("agent_id"),
            CallRefused::UnknownAgent | CallRefused::AgentMismatch => Self::forbidden(),
            CallRefused::Agent(inner) => from_key_error(inner),
            CallRefused::Gateway(inner) => inner.into(),
        }
    }
}

/// A proxied call that failed upstream, after every check (logged where it happened).
impl From<UpstreamFailure> for ApiError {
    fn from(e: UpstreamFailure) -> Self {
        match e {
            UpstreamFailure::Timeout => Self::new(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_timeout",
                ErrorType::ApiError,
                "The upstream did not answer in time.",
            ),
            UpstreamFailure::Unreachable => Self::new(
                StatusCode::BAD_GATEWAY,
                "upstream_unreachable",
                ErrorType::ApiError,
                "The upstream could not be reached.",
            ),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Self::internal(&e)
    }
}

/// A JSON answer that must not be cached (every `/api` answer carries account data).
pub fn json_no_store(status: StatusCode, body: impl Serialize) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// Error handler for the JSON body extractor: malformed or oversized JSON is a 400/413 in the
/// API shape, never a plain-text actix error.
pub fn json_error(err: actix_web::error::JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    let api = match &err {
        E::OverflowKnownLength { .. } | E::Overflow { .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            ErrorType::InvalidRequestError,
            "The request body is too large.",
        ),
        E::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            ErrorType::InvalidRequestError,
            "Send the body as application/json.",
        ),
        E::Deserialize(e) => {
            ApiError::bad_request("invalid_json", format!("The JSON body is invalid: {e}"))
        }
        _ => ApiError::bad_request("invalid_json", "The JSON body could not be read."),
    };
    api.into()
}

/// Error handler for path and query extractors under `/api/`.
pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _req: &HttpRequest,
) -> actix_web::Error {
    ApiError::bad_request(
        "invalid_query",
        format!("The query string is invalid: {err}"),
    )
    .into()
}

/// Which of this server's protected resources a request path belongs to (its path under the
/// issuer, RFC 9728): the JSON API, or the gateway (both of its forms, `/proxy/…` and
/// `/{upstream URL}`); `None` for everything else.
pub fn protected_resource_of(path: &str) -> Option<&'static str> {
    if super::is_api_path(path) {
        Some(crate::config::API_RESOURCE_PATH)
    } else if path.starts_with("/proxy/")
        || path.starts_with("/http://")
        || path.starts_with("/https://")
    {
        Some(crate::config::GATEWAY_RESOURCE_PATH)
    } else {
        None
    }
}

/// Adds `resource_metadata="<url>"` (RFC 9728 §5.1) to the `Bearer` challenge of every answer
/// of the JSON API and the gateway, so a client holding only a 401 finds the resource's
/// metadata, and from there the authorization server. The challenge itself is
/// [`ApiError::challenge`]'s; this adds only where the metadata is.
pub async fn resource_challenge(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let metadata = protected_resource_of(req.path()).and_then(|path| {
        req.app_data::<actix_web::web::Data<crate::state::AppState>>()
            .map(|s| s.settings.resource_metadata_url(path))
    });
    let Some(metadata) = metadata else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    // (An error that leaves the services as an error, not an answer, has lost its request and
    // goes on as it came; the access guard and the handlers answer, so none of ours does.)
    let mut res = next.call(req).await?.map_into_boxed_body();
    let with_metadata = res
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|rest| !rest.contains("resource_metadata="))
        .map(|rest| format!("Bearer resource_metadata=\"{metadata}\", {rest}"))
        .and_then(|v| HeaderValue::from_str(&v).ok());
    if let Some(value) = with_metadata {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    async fn body_of(res: HttpResponse) -> serde_json::Value {
        let bytes = to_bytes(res.into_body()).await.unwrap_or_default();
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)
    }

    #[actix_web::test]
    async fn api_errors_have_the_documented_shape() {
        let cases = [
            (
                ApiError::not_found(),
                404,
                "not_found",
                "invalid_request_error",
            ),
            (
                ApiError::method_not_allowed(),
                405,
                "method_not_allowed",
                "invalid_request_error",
            ),
            (
                ApiError::bad_request("invalid_json", "x"),
                400,
                "invalid_json",
                "invalid_request_error",
            ),
            (
                ApiError::internal(&"disk on fire"),
                500,
                "internal_error",
                "api_error",
            ),
            (
                ApiError::unavailable(&"db down"),
                503,
                "service_unavailable",
                "api_error",
            ),
        ];
        for (err, status, code, kind) in cases {
            let res = err.error_response();
            assert_eq!(res.status().as_u16(), status);
            assert_eq!(
                res.headers().get("content-type").map(|v| v.as_bytes()),
                Some(&b"application/json"[..])
            );
            let body = body_of(res).await;
            assert_eq!(body["error"]["code"], code);
            assert_eq!(body["error"]["type"], kind);
            assert!(body["error"]["message"].is_string());
        }
    }

    #[actix_web::test]
    async fn internal_details_are_not_sent() {
        let body = body_of(ApiError::internal(&"password=hunter2 at db").error_response()).await;
        assert!(!body.to_string().contains("hunter2"));
    }

    #[actix_web::test]
    async fn store_errors_map_to_503_or_500() {
        let gone = ApiError::from(store::StoreError::FileGone("x.db".into()));
        assert_eq!(gone.status, StatusCode::SERVICE_UNAVAILABLE);
        let failed = ApiError::from(store::StoreError::Migration("bad".into()));
        assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
