//! The one place where errors become HTTP responses.
//!
//! - Under `/api/` every error is JSON: `{"error":{"code","message","type"}}`.
//! - Browser routes get an HTML error page.
//! - OAuth endpoints (arriving with later issues) answer RFC 6749 `{"error","error_description"}`.
//!
//! Internal details (database errors, I/O) are logged with the request id and never returned:
//! the client sees a generic message and can quote the `x-request-id` header.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;

use crate::pages;

/// The `type` of an API error: the broad class a client can branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
}

#[derive(Serialize)]
struct ApiErrorBody<'a> {
    error: ApiErrorFields<'a>,
}

#[derive(Serialize)]
struct ApiErrorFields<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(rename = "type")]
    kind: ErrorType,
    #[serde(skip_serializing_if = "Option::is_none")]
    param: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    required_scope: Option<&'a str>,
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
        }
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
            },
        };
        let mut res = HttpResponse::build(self.status).json(body);
        let headers = res.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"portcullis\""),
            );
        }
        res
    }
}

impl From<store::StoreError> for ApiError {
    fn from(e: store::StoreError) -> Self {
        match e {
            store::StoreError::Pool(_)
            | store::StoreError::FileGone(_)
            | store::StoreError::Connect(_) => Self::unavailable(&e),
            _ => Self::internal(&e),
        }
    }
}

impl From<accounts::AccountError> for ApiError {
    fn from(e: accounts::AccountError) -> Self {
        use accounts::AccountError as E;
        match e {
            E::Store(inner) => inner.into(),
            E::Invalid { field, message } => {
                Self::bad_request("invalid_field", format!("{field} {message}.")).with_param(field)
            }
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
            E::TokenInvalid | E::TokenReused => {
                Self::unauthenticated("invalid_token", "The token is not valid.")
            }
            E::Hashing(detail) | E::Internal(detail) => Self::internal(&detail),
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

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Self::internal(&e)
    }
}

/// An error on a browser route, shown as an HTML page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageError {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: String,
}

impl PageError {
    pub fn not_found() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            title: "Page not found",
            message: "There is nothing at this address.".into(),
        }
    }

    pub fn method_not_allowed() -> Self {
        Self {
            status: StatusCode::METHOD_NOT_ALLOWED,
            title: "Method not allowed",
            message: "This page cannot be used that way.".into(),
        }
    }

    pub fn headers_too_large() -> Self {
        Self {
            status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            title: "Request headers too large",
            message: "The request carried more headers than this server reads.".into(),
        }
    }

    /// A POST whose CSRF token is missing or wrong.
    pub fn form_expired() -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            title: "This form has expired",
            message: "Reload the page and try again.".into(),
        }
    }

    /// A failure of ours. `detail` is logged, never shown.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            title: "Something went wrong",
            message: "The server could not complete this request. Please try again.".into(),
        }
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.title)
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        pages::error_page(self.status, self.title, &self.message)
    }
}

/// A JSON answer that must not be cached (every `/api` answer carries account data).
pub fn json_no_store(status: StatusCode, body: serde_json::Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// The handler for a wrong method on an OAuth endpoint: a 405 in the RFC 6749 shape.
pub async fn oauth_method_not_allowed() -> HttpResponse {
    OAuthHttpError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request",
        "this method is not allowed here",
    )
    .error_response()
}

/// True for paths answered with the JSON API error shape.
pub fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// The app's default service: a 404 in the shape the path calls for.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    if is_api_path(req.path()) {
        ApiError::not_found().error_response()
    } else {
        PageError::not_found().error_response()
    }
}

/// A 405 in the shape the path calls for.
pub async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    if is_api_path(req.path()) {
        ApiError::method_not_allowed().error_response()
    } else {
        PageError::method_not_allowed().error_response()
    }
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

/// Error handler for form bodies (the pages): a 400 page, never a plain-text actix error.
pub fn form_error(err: actix_web::error::UrlencodedError, req: &HttpRequest) -> actix_web::Error {
    tracing::debug!(error = %err, path = req.path(), "unreadable form");
    PageError {
        status: StatusCode::BAD_REQUEST,
        title: "Bad request",
        message: "The form could not be read.".into(),
    }
    .into()
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

    #[test]
    fn api_paths_are_recognised() {
        assert!(is_api_path("/api/v1/x"));
        assert!(is_api_path("/api"));
        assert!(!is_api_path("/apix"));
        assert!(!is_api_path("/login"));
    }

    #[actix_web::test]
    async fn page_errors_are_html() {
        let res = PageError::not_found().error_response();
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        let ct = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(ct.starts_with("text/html"), "{ct}");
        let bytes = to_bytes(res.into_body()).await.unwrap_or_default();
        let html = String::from_utf8_lossy(&bytes);
        assert!(html.contains("Page not found"));
        assert!(html.contains("<!doctype html>"));
    }
}

/// An error on an OAuth endpoint: `{"error","error_description"}` (RFC 6749 §5.2, RFC 7591
/// §3.2.2), never cached, with a `WWW-Authenticate` challenge on 401.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthHttpError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    /// The `WWW-Authenticate` value sent with a 401.
    pub challenge: Option<String>,
    /// Seconds to wait, sent as `Retry-After`.
    pub retry_after: Option<i64>,
}

impl OAuthHttpError {
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        let challenge =
            (status == StatusCode::UNAUTHORIZED).then(|| "Basic realm=\"portcullis\"".to_owned());
        Self {
            status,
            error,
            description: description.into(),
            challenge,
            retry_after: None,
        }
    }

    /// 429 after repeated failed sign-ins, with `Retry-After`.
    pub fn slow_down(retry_after: i64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "slow_down",
            "too many attempts; wait before trying again",
        );
        e.retry_after = Some(retry_after.max(1));
        e
    }

    /// A 401 for a missing or wrong bearer token (RFC 6750 §3).
    pub fn invalid_token(description: impl Into<String>) -> Self {
        let description = description.into();
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_token",
            challenge: Some(format!(
                "Bearer realm=\"portcullis\", error=\"invalid_token\", error_description=\"{}\"",
                description.replace(['"', '\\'], "'")
            )),
            description,
            retry_after: None,
        }
    }

    /// Our failure. `detail` is logged, never sent.
    pub fn server_error(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error on an OAuth endpoint");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the server could not complete the request",
        )
    }
}

impl std::fmt::Display for OAuthHttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.error,
            self.description
        )
    }
}

impl ResponseError for OAuthHttpError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status).json(serde_json::json!({
            "error": self.error,
            "error_description": self.description,
        }));
        let headers = res.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
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
        res
    }
}

impl From<grants::OAuthError> for OAuthHttpError {
    fn from(e: grants::OAuthError) -> Self {
        use grants::ErrorCode;
        let status = match e.code {
            ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        Self::new(status, e.code.as_str(), e.description)
    }
}

impl From<registration::MetadataError> for OAuthHttpError {
    fn from(e: registration::MetadataError) -> Self {
        Self::new(StatusCode::BAD_REQUEST, e.code.as_str(), e.description)
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
                    "invalid_client",
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

impl From<store::StoreError> for OAuthHttpError {
    fn from(e: store::StoreError) -> Self {
        match e {
            store::StoreError::Pool(_)
            | store::StoreError::FileGone(_)
            | store::StoreError::Connect(_) => {
                tracing::warn!(error = %e, "database unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the service is temporarily unavailable",
                )
            }
            e => Self::server_error(&e),
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

impl From<actix_web::error::BlockingError> for OAuthHttpError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Self::server_error(&e)
    }
}

#[cfg(test)]
mod oauth_tests {
    use super::*;
    use actix_web::body::to_bytes;

    #[actix_web::test]
    async fn oauth_errors_map_to_rfc6749_statuses_and_headers() {
        use grants::{ErrorCode, OAuthError};
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
}
