//! Middleware around every request: a request id, a tracing span (and an OpenTelemetry server
//! span, [`crate::traces`]), metrics and an access line.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;
use tracing::Instrument as _;

use crate::state::AppState;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Takes a well-formed incoming `x-request-id` (from a proxy) or makes a new one.
fn request_id(headers: &HeaderMap) -> String {
    if let Some(given) = headers.get(&X_REQUEST_ID).and_then(|v| v.to_str().ok()) {
        let ok = (1..=128).contains(&given.len())
            && given
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if ok {
            return given.to_owned();
        }
    }
    URL_SAFE_NO_PAD.encode(rand::rng().random::<[u8; 12]>())
}

/// Wraps every request: request id in, span around the handler, id out, metrics recorded.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id(req.headers());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let scheme = match &state {
        Some(state) if state.settings.issuer.scheme() == "https" => "https",
        _ => "http",
    };
    let server_span = crate::traces::request_span(&req, scheme);
    let span = tracing::info_span!(
        parent: &server_span,
        "request",
        id = %id,
        method = %req.method(),
        path = %req.path(),
    );
    let mut res = next
        .call(req)
        .instrument(span.clone())
        .instrument(server_span.clone())
        .await?;
    let elapsed = started.elapsed();
    let status = res.status();
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(X_REQUEST_ID, value);
    }
    let route = res.request().match_pattern();
    crate::traces::finish_request(
        &server_span,
        res.request().method().as_str(),
        route.as_deref(),
        status,
    );
    let route = route.as_deref().unwrap_or("unmatched");
    if let Some(state) = state {
        state.metrics.observe(
            route,
            res.request().method().as_str(),
            status.as_u16(),
            elapsed,
        );
    }
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::warn!(target: "portcullis::access", status = status.as_u16(), route, micros, "request failed");
        } else {
            tracing::debug!(target: "portcullis::access", status = status.as_u16(), route, micros, "request");
        }
    });
    Ok(res)
}

/// The most header bytes (names and values) a request may carry: 32 KiB, as nginx's default
/// `large_client_header_buffers` (4 × 8k). actix-http alone reads request heads up to 128 KiB.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Refuses, before any handler runs and in the shape the path calls for: requests whose
/// headers exceed [`MAX_HEADER_BYTES`] (431), and paths holding an encoded NUL (`%00`, 400: no
/// id contains one, and PostgreSQL refuses to compare one).
pub async fn guard_request(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    use actix_web::ResponseError as _;
    let raw_path = req.uri().path();
    if raw_path.contains("%00") || raw_path.contains('\0') {
        let response = if crate::errors::is_api_path(req.path()) {
            crate::errors::ApiError::bad_request("invalid_path", "The path holds a NUL character.")
                .error_response()
        } else {
            crate::errors::PageError::not_found().error_response()
        };
        return Ok(req.into_response(response));
    }
    let total: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if total > MAX_HEADER_BYTES {
        let response = if crate::errors::is_api_path(req.path()) {
            crate::errors::ApiError::new(
                actix_web::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
                crate::errors::ErrorType::InvalidRequestError,
                "The request headers are larger than 32 KiB.",
            )
            .error_response()
        } else {
            crate::errors::PageError::headers_too_large().error_response()
        };
        return Ok(req.into_response(response));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Shows every answer under `/api/` to the state's [`crate::state::AnswerHook`], when one is
/// set (the server tests check each against the OpenAPI document): the body is read whole
/// (API answers are small JSON) and sent on unchanged. The outermost middleware, so it sees
/// what the client gets, errors turned into responses included.
pub async fn show_api_answers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let hook = req
        .app_data::<web::Data<AppState>>()
        .and_then(|s| s.api_answers.clone())
        .filter(|_| crate::errors::is_api_path(req.path()));
    let Some(hook) = hook else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    // An error that left the services as an error (not an answer) has lost its request:
    // shown without its route, then handed on as it came.
    let (method, path) = (req.method().as_str().to_owned(), req.path().to_owned());
    let res = match next.call(req).await {
        Ok(res) => res.map_into_boxed_body(),
        Err(e) => {
            let res = e.error_response();
            let (res, body) = res.into_parts();
            let bytes = actix_web::body::to_bytes(body).await.unwrap_or_default();
            let header = |name| res.headers().get(name).and_then(|v| v.to_str().ok());
            (hook.0)(&crate::state::ApiAnswer {
                method: &method,
                path: &path,
                pattern: None,
                status: res.status().as_u16(),
                content_type: header(actix_web::http::header::CONTENT_TYPE),
                allow: header(actix_web::http::header::ALLOW),
                body: &bytes,
            });
            return Err(e);
        }
    };
    let (http, res) = res.into_parts();
    let (res, body) = res.into_parts();
    let bytes = actix_web::body::to_bytes(body)
        .await
        .map_err(|e| crate::errors::ApiError::internal(&e))?;
    let header = |name| res.headers().get(name).and_then(|v| v.to_str().ok());
    let pattern = http.match_pattern();
    (hook.0)(&crate::state::ApiAnswer {
        method: http.method().as_str(),
        path: http.path(),
        pattern: pattern.as_deref(),
        status: res.status().as_u16(),
        content_type: header(actix_web::http::header::CONTENT_TYPE),
        allow: header(actix_web::http::header::ALLOW),
        body: &bytes,
    });
    let res = res.set_body(bytes).map_into_boxed_body();
    Ok(ServiceResponse::new(http, res))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incoming_ids_are_kept_only_when_well_formed() {
        let mut headers = HeaderMap::new();
        headers.insert(X_REQUEST_ID, HeaderValue::from_static("abc-123.x_y"));
        assert_eq!(request_id(&headers), "abc-123.x_y");
        headers.insert(X_REQUEST_ID, HeaderValue::from_static("bad id with spaces"));
        let made = request_id(&headers);
        assert_eq!(made.len(), 16);
        assert_ne!(made, request_id(&headers), "fresh ids differ");
    }
}
