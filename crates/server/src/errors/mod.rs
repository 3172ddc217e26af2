//! The one place where errors become HTTP responses, one module per surface:
//!
//! - [`api`]: under `/api/` every error is JSON: `{"error":{"code","message","type"}}`.
//! - [`oauth`]: the OAuth endpoints answer RFC 6749 `{"error","error_description"}` with an
//!   [`ErrorCode`]; userinfo answers RFC 6750 `Bearer` challenges through the same type.
//! - [`page`]: browser routes get an HTML error page (and the passkey ceremonies, small JSON
//!   endpoints of the pages, `{"error":{"code","message"}}`: `page::passkey_refusal`).
//!
//! Each domain crate's error enum (store, accounts, registration, grants, tokens, apikeys,
//! gateway) is mapped in the module of the surface it answers on, not in the handlers; where one
//! error means two things on one surface there are two named functions
//! (`api::from_key_error`, `api::from_presented_key_error`). The table in `table.rs` lists
//! every variant's answer.
//!
//! Internal details (database errors, I/O) are logged with the request id and never returned:
//! the client sees a generic message and can quote the `x-request-id` header.

use actix_web::{HttpRequest, HttpResponse, ResponseError};

pub mod api;
pub mod oauth;
pub mod page;
#[cfg(test)]
mod table;

pub use api::{ApiError, ErrorType, json_error, json_no_store, query_error};
pub use oauth::{ErrorCode, OAuthBody, OAuthHttpError, oauth_method_not_allowed};
pub use page::{PageError, form_error};

/// Whether a store error means the database is out of reach (503 on every surface that says
/// so), rather than a failure of ours (500).
fn is_unavailable(e: &store::StoreError) -> bool {
    matches!(
        e,
        store::StoreError::Pool(_) | store::StoreError::FileGone(_) | store::StoreError::Connect(_)
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_are_recognised() {
        assert!(is_api_path("/api/v1/x"));
        assert!(is_api_path("/api"));
        assert!(!is_api_path("/apix"));
        assert!(!is_api_path("/login"));
    }
}
