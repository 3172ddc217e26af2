//! OpenTelemetry spans: one server span per request and one span per unit of database work.
//!
//! The spans are `tracing` spans under the target [`TARGET`]. The binary installs a layer that
//! exports that target over OTLP only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and keeps the
//! target out of the log lines; without it no subscriber is interested in the target, so
//! `tracing` hands out disabled spans without evaluating their fields: no allocation, no
//! header parsing, nothing recorded.
//!
//! What the spans carry is chosen here, field by field, so they never hold a secret: the
//! method, the route *template* (`/api/v1/organizations/{org}`, never the raw path, which can
//! hold an invite id or a client id), the status and the scheme. Never the query string
//! (authorization requests carry codes and states), a header value (Authorization, cookies,
//! API keys), or a body. Log events are not exported either: the exporting layer sees only
//! this target.

use actix_web::dev::ServiceRequest;
use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::{error::BlockingError, web};
use opentelemetry::trace::TraceContextExt as _;
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The `tracing` target of every span meant for OpenTelemetry.
pub const TARGET: &str = "portcullis::otel";

/// Reads `traceparent`/`tracestate` for the propagator. Only the propagator's own keys are
/// asked for; nothing else of the headers is read.
struct Headers<'a>(&'a HeaderMap);

impl opentelemetry::propagation::Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// The server span of a request, named and completed by [`finish_request`] once the route is
/// known. A caller's W3C `traceparent` makes it a child of the caller's span (the propagator
/// is the global one, which the binary sets to W3C trace context).
pub fn request_span(req: &ServiceRequest, scheme: &'static str) -> Span {
    let span = tracing::info_span!(
        target: TARGET,
        "HTTP request",
        otel.name = req.method().as_str(),
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = req.method().as_str(),
        http.route = Empty,
        http.response.status_code = Empty,
        url.scheme = scheme,
    );
    if !span.is_disabled() {
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&Headers(req.headers()))
        });
        // A malformed or absent `traceparent` gives an empty context: a new trace.
        let _ = span.set_parent(parent);
    }
    span
}

/// Names the server span after its route template (`POST /oauth2/token`; it keeps the method
/// alone as its name when no route matched) and records the status; 5xx marks it as failed.
pub fn finish_request(span: &Span, method: &str, route: Option<&str>, status: StatusCode) {
    if span.is_disabled() {
        return;
    }
    if let Some(route) = route {
        // The span was started when first entered: its name is changed on the started span
        // (recording `otel.name` now would be ignored).
        span.context()
            .span()
            .update_name(format!("{method} {route}"));
        span.record("http.route", route);
    }
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "error");
    }
}

/// Runs blocking database work in actix's blocking pool (as `web::block`) inside a span
/// `db {operation}`, a child of the request's span. The span covers the wait for a pool
/// connection and the work.
pub async fn block<F, R>(operation: &'static str, work: F) -> Result<R, BlockingError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let span = tracing::info_span!(
        target: TARGET,
        "db",
        otel.name = Empty,
        otel.kind = "client",
        db.operation.name = operation,
    );
    if span.is_disabled() {
        return web::block(work).await;
    }
    span.record("otel.name", format!("db {operation}"));
    web::block(move || span.in_scope(work)).await
}
