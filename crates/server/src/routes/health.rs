//! `GET /health` (liveness), `GET /health/ready` (readiness: the database answers) and
//! `GET /metrics` (Prometheus text).

use std::time::Duration;

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::errors;
use crate::state::AppState;

/// How long readiness waits for a database connection before answering 503.
const READY_TIMEOUT: Duration = Duration::from_secs(1);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/health")
            .route(web::get().to(health))
            .default_service(web::to(errors::method_not_allowed)),
    )
    .service(
        web::resource("/health/ready")
            .route(web::get().to(ready))
            .default_service(web::to(errors::method_not_allowed)),
    )
    .service(
        web::resource("/metrics")
            .route(web::get().to(metrics))
            .default_service(web::to(errors::method_not_allowed)),
    );
}

async fn health() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(json!({ "status": "ok" }))
}

async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let store = state.store.clone();
    let backend = store.backend().as_str();
    let outcome = crate::traces::block("ready", move || store.ping(READY_TIMEOUT)).await;
    let failure = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(e) => Some(e.to_string()),
    };
    match failure {
        None => HttpResponse::Ok()
            .insert_header((CACHE_CONTROL, "no-store"))
            .json(json!({ "status": "ready", "database": backend })),
        Some(reason) => {
            tracing::warn!(%reason, "readiness check failed");
            HttpResponse::ServiceUnavailable()
                .insert_header((CACHE_CONTROL, "no-store"))
                .json(json!({ "status": "unavailable", "database": backend }))
        }
    }
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8"))
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(state.metrics.render_with(&crate::metrics::Gauges {
            pool: Some(state.store.pool_state()),
            mail: state.mailer.as_ref().map(mail::Mailer::stats),
        }))
}
