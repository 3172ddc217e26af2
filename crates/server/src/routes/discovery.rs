//! `GET /.well-known/oauth-authorization-server` (RFC 8414) and `GET /jwks.json` (RFC 7517).

use actix_web::http::header::CACHE_CONTROL;
use actix_web::{HttpResponse, web};

use crate::errors::{self, ApiError};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/.well-known/oauth-authorization-server")
            .route(web::get().to(metadata))
            .default_service(web::to(errors::method_not_allowed)),
    )
    // RFC 8414 §3: for an issuer with a path, the path follows the well-known suffix.
    .service(
        web::resource("/.well-known/oauth-authorization-server/{issuer_path:.*}")
            .route(web::get().to(metadata_for_path))
            .default_service(web::to(errors::method_not_allowed)),
    )
    .service(
        web::resource("/jwks.json")
            .route(web::get().to(jwks))
            .default_service(web::to(errors::method_not_allowed)),
    );
}

async fn metadata_for_path(path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let issuer_path = state.settings.issuer.path().trim_matches('/');
    if !issuer_path.is_empty() && path.trim_matches('/') == issuer_path {
        metadata(state).await
    } else {
        errors::PageError::not_found().into()
    }
}

impl From<errors::PageError> for HttpResponse {
    fn from(e: errors::PageError) -> Self {
        actix_web::ResponseError::error_response(&e)
    }
}

/// RFC 8414 metadata: the same document as OpenID Connect Discovery.
async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    crate::routes::oidc::metadata_response(&state)
}

async fn jwks(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    // Fresh keys in memory need no database and no blocking thread.
    let ring = match state.keys.cached(state.now()) {
        Some(ring) => ring,
        None => {
            let st = state.clone();
            crate::traces::block("jwks", move || -> Result<_, ApiError> {
                let mut conn = st.store.conn()?;
                st.keys
                    .get(&mut conn, st.now())
                    .map_err(|e| ApiError::internal(&e))
            })
            .await??
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "public, max-age=60"))
        .json(ring.jwks()))
}
