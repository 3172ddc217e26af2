//! `GET /.well-known/oauth-authorization-server` (RFC 8414) and `GET /jwks.json` (RFC 7517).

use actix_web::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL};
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::app::AppState;
use crate::errors::{self, ApiError};

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

/// The authorization server metadata: only what this server really does. No
/// `authorization_endpoint` or `response_types_supported` yet: the authorization endpoint arrives
/// with the authorization-code issue, and RFC 8414 §3.2 forbids empty lists.
async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    let s = &state.settings;
    let issuer = s.issuer_str();
    let auth_methods = ["client_secret_basic", "client_secret_post"];
    let body = json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "jwks_uri": format!("{issuer}/jwks.json"),
        "registration_endpoint": format!("{issuer}/oauth2/register"),
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "scopes_supported": s.scopes,
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "token_endpoint_auth_signing_alg_values_supported": null,
    });
    let mut body = body;
    if let Some(map) = body.as_object_mut() {
        map.retain(|_, v| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()));
    }
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "public, max-age=300"))
        .insert_header((ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .json(body)
}

async fn jwks(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let st = state.clone();
    let ring = web::block(move || -> Result<_, ApiError> {
        let mut conn = st.store.conn()?;
        st.keys
            .get(&mut conn, st.now())
            .map_err(|e| ApiError::internal(&e))
    })
    .await??;
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "public, max-age=60"))
        .insert_header((ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .json(ring.jwks()))
}
