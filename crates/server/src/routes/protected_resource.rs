//! `GET /.well-known/oauth-protected-resource[/…]`: RFC 9728 metadata of this server's own
//! protected resources, so a client that met a 401 (whose challenge names this document,
//! `errors::api::resource_challenge`) finds the authorization server, and which scopes to ask.
//!
//! Three resources, each at the well-known suffix inserted before its path (RFC 9728 §3.1):
//! the issuer itself (userinfo; `/.well-known/oauth-protected-resource` for an issuer without
//! a path), the JSON API (`…/api/v1`) and the agent gateway (`…/proxy`, which also covers
//! its `/{upstream URL}` form). Resource servers an operator registers serve their own.

use actix_web::http::header::CACHE_CONTROL;
use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::config::{API_RESOURCE_PATH, GATEWAY_RESOURCE_PATH};
use crate::errors::{self, PageError};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/.well-known/oauth-protected-resource")
            .route(web::get().to(root))
            .default_service(web::to(errors::method_not_allowed)),
    )
    .service(
        web::resource("/.well-known/oauth-protected-resource/{path:.*}")
            .route(web::get().to(for_path))
            .default_service(web::to(errors::method_not_allowed)),
    );
}

/// RFC 9728 §2 metadata.
#[derive(Debug, Serialize)]
struct Metadata {
    resource: String,
    authorization_servers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scopes_supported: Option<Vec<String>>,
    bearer_methods_supported: [&'static str; 1],
    resource_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_documentation: Option<String>,
}

/// The issuer's own document, here only for an issuer without a path (one with a path has it
/// at the path-inserted form).
async fn root(state: web::Data<AppState>) -> HttpResponse {
    if state.settings.issuer.path().trim_matches('/').is_empty() {
        document(&state, "")
    } else {
        PageError::not_found().into()
    }
}

async fn for_path(path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let issuer_path = state.settings.issuer.path().trim_end_matches('/');
    match format!("/{}", path.trim_end_matches('/')).strip_prefix(issuer_path) {
        Some(rest) => document(&state, rest),
        None => PageError::not_found().into(),
    }
}

/// The document of the resource at `path` under the issuer (`""`, `/api/v1` or `/proxy`).
fn document(state: &AppState, path: &str) -> HttpResponse {
    let settings = &state.settings;
    let brand = &settings.brand_name;
    let (scopes, name) = match path {
        "" => (
            Some(settings.scopes.clone()),
            format!("{brand} (OpenID Connect userinfo)"),
        ),
        // The API's scopes a client can be granted: those the operator offers.
        API_RESOURCE_PATH => (
            Some(
                apikeys::API_SCOPES
                    .iter()
                    .filter(|s| settings.scopes.iter().any(|k| k == *s))
                    .map(|s| (*s).to_owned())
                    .collect::<Vec<_>>(),
            )
            .filter(|s| !s.is_empty()),
            format!("{brand} API"),
        ),
        // The gateway's scopes are each organization's `service:resource:action` ones.
        GATEWAY_RESOURCE_PATH => (None, format!("{brand} agent gateway")),
        _ => return PageError::not_found().into(),
    };
    let issuer = settings.issuer_str().to_owned();
    let metadata = Metadata {
        resource: settings.own_resource(path),
        authorization_servers: vec![issuer.clone()],
        scopes_supported: scopes,
        bearer_methods_supported: ["header"],
        resource_name: name,
        resource_documentation: (path == API_RESOURCE_PATH)
            .then(|| format!("{issuer}/api/v1/openapi.json")),
    };
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "public, max-age=60"))
        .json(metadata)
}
