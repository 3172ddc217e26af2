//! The browser surface: an error is an HTML page with a title and a sentence.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};

use crate::pages;
use crate::passkeys::PasskeyError;

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

/// A sign-in with an upstream provider that could not be completed: the provider is
/// unreachable, refused the code, or sent an ID token that failed verification. The detail is
/// logged; the page says which provider, and to try again.
impl From<crate::upstream::UpstreamError> for PageError {
    fn from(e: crate::upstream::UpstreamError) -> Self {
        use crate::upstream::UpstreamError;
        tracing::warn!(error = %e, "upstream sign-in failed");
        let (status, message) = match e {
            UpstreamError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "The provider cannot be reached right now. Try again in a moment, or sign in another way.",
            ),
            UpstreamError::Exchange(_) | UpstreamError::UserInfo(_) => (
                StatusCode::BAD_GATEWAY,
                "The provider did not complete the sign-in. Start again from the sign-in page.",
            ),
            UpstreamError::IdToken(_) => (
                StatusCode::BAD_GATEWAY,
                "The provider's answer could not be verified, so it was not used. Start again from the sign-in page.",
            ),
        };
        Self {
            status,
            title: "Sign-in with the provider failed",
            message: message.into(),
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

// ---- the passkey ceremonies: small JSON endpoints of the pages ----

/// A JSON answer of the ceremony endpoints (never cached).
pub fn json_answer(status: StatusCode, body: serde_json::Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// A refusal the page's script shows: `{"error":{"code","message"[,"location"]}}`.
pub fn refusal(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    json_answer(
        status,
        serde_json::json!({ "error": { "code": code, "message": message } }),
    )
}

/// How a passkey error answers on the passkey ceremony endpoints (JSON, read by
/// `static/passkeys.js`). Details of a rejection are logged (at
/// info: a failed ceremony is the browser's, not ours), never shown.
pub fn passkey_refusal(e: &PasskeyError) -> HttpResponse {
    let (status, code, message) = match e {
        PasskeyError::CeremonyUnknown => (
            StatusCode::BAD_REQUEST,
            "ceremony_expired",
            "This attempt took too long or was used already. Try again.",
        ),
        PasskeyError::Malformed(_) => (
            StatusCode::BAD_REQUEST,
            "invalid_credential",
            "The browser's answer could not be read. Try again.",
        ),
        PasskeyError::Rejected(_) | PasskeyError::UnknownCredential => (
            StatusCode::UNAUTHORIZED,
            "passkey_not_accepted",
            "This passkey was not accepted here.",
        ),
        PasskeyError::AlreadyRegistered => (
            StatusCode::CONFLICT,
            "passkey_exists",
            "This passkey is registered already.",
        ),
        PasskeyError::InvalidName => (
            StatusCode::BAD_REQUEST,
            "invalid_field",
            "A passkey's name is 1 to 64 characters.",
        ),
        PasskeyError::NotFound => (
            StatusCode::NOT_FOUND,
            "not_found",
            "There is no such passkey.",
        ),
        PasskeyError::Store(_) | PasskeyError::Internal(_) => {
            tracing::error!(error = %e, "passkey ceremony failed");
            return refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "The server could not complete this request. Please try again.",
            );
        }
    };
    tracing::info!(error = %e, "passkey refused");
    refusal(status, code, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

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

    #[actix_web::test]
    async fn passkey_errors_answer_json_and_hide_their_details() {
        let cases = [
            (PasskeyError::CeremonyUnknown, 400, "ceremony_expired"),
            (
                PasskeyError::Malformed("secret detail".into()),
                400,
                "invalid_credential",
            ),
            (
                PasskeyError::Rejected("secret detail".into()),
                401,
                "passkey_not_accepted",
            ),
            (PasskeyError::UnknownCredential, 401, "passkey_not_accepted"),
            (PasskeyError::AlreadyRegistered, 409, "passkey_exists"),
            (PasskeyError::InvalidName, 400, "invalid_field"),
            (PasskeyError::NotFound, 404, "not_found"),
            (
                PasskeyError::Store(store::StoreError::Conflict),
                500,
                "server_error",
            ),
            (
                PasskeyError::Internal("secret detail".into()),
                500,
                "server_error",
            ),
        ];
        for (error, status, code) in cases {
            let res = passkey_refusal(&error);
            assert_eq!(res.status().as_u16(), status, "{error:?}");
            assert_eq!(
                res.headers()
                    .get("cache-control")
                    .and_then(|v| v.to_str().ok()),
                Some("no-store")
            );
            let bytes = to_bytes(res.into_body()).await.unwrap_or_default();
            let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            assert_eq!(body["error"]["code"], code, "{error:?}");
            assert!(!String::from_utf8_lossy(&bytes).contains("secret detail"));
        }
    }
}
