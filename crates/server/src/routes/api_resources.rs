//! `/api/v1/admin/resources…`: operators register the protected resources (resource servers)
//! tokens may be issued for (RFC 8707): URI, display name, scopes with their consent text,
//! access-token lifetime. The same as `portcullis resource …`; both go through
//! `grants::resources`, and every change is audited (`resource.*`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use grants::resources::{self, ProtectedResource, ResourceError, ResourceScope, ResourceSpec};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::access::{Operator, as_operator};
use crate::audit::Event;
use crate::errors::{ApiError, json_no_store};
use crate::state::AppState;

/// One scope of a resource and the sentence the consent page shows for it.
#[derive(Deserialize, Serialize, ToSchema)]
pub(super) struct ScopeBody {
    name: String,
    #[serde(default)]
    description: String,
}

/// A protected resource: its URI (what clients send as `resource`, and the tokens' `aud`), the
/// name the consent page shows, its scopes, and the lifetime of its access tokens in seconds
/// (absent: the server's).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct ResourceBody {
    uri: Option<String>,
    name: Option<String>,
    #[serde(default)]
    scopes: Vec<ScopeBody>,
    access_token_ttl: Option<i64>,
}

/// A registered protected resource.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct ResourceAnswer {
    id: String,
    uri: String,
    name: String,
    scopes: Vec<ScopeBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token_ttl: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

/// Every registered resource, by URI.
#[derive(Serialize, ToSchema)]
pub(super) struct ResourceList {
    data: Vec<ResourceAnswer>,
}

fn answer(r: ProtectedResource) -> ResourceAnswer {
    ResourceAnswer {
        id: r.id,
        uri: r.uri,
        name: r.name,
        scopes: r
            .scopes
            .into_iter()
            .map(|s| ScopeBody {
                name: s.name,
                description: s.description,
            })
            .collect(),
        access_token_ttl: r.access_token_ttl,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

impl From<ResourceError> for ApiError {
    fn from(e: ResourceError) -> Self {
        match e {
            ResourceError::Invalid(field, why) => {
                ApiError::bad_request("invalid_field", format!("{field} {why}.")).with_param(field)
            }
            ResourceError::Exists => ApiError::new(
                StatusCode::CONFLICT,
                "resource_exists",
                crate::errors::ErrorType::InvalidRequestError,
                "A resource with this URI is registered already.",
            ),
            ResourceError::NotFound => ApiError::not_found(),
            ResourceError::Store(e) => e.into(),
        }
    }
}

fn spec(body: ResourceBody) -> Result<ResourceSpec, ApiError> {
    let missing = |field: &'static str| {
        ApiError::bad_request("invalid_field", format!("{field} is required.")).with_param(field)
    };
    Ok(ResourceSpec {
        uri: body.uri.ok_or_else(|| missing("uri"))?,
        name: body.name.ok_or_else(|| missing("name"))?,
        scopes: body
            .scopes
            .into_iter()
            .map(|s| ResourceScope {
                name: s.name,
                description: s.description,
            })
            .collect(),
        access_token_ttl: body.access_token_ttl,
    })
}

/// The audit event of a change.
fn event(kind: &'static str, actor: &str, r: &ProtectedResource) -> Event {
    Event::new(kind)
        .actor(Some(actor))
        .detail(json!({ "resource_id": r.id, "uri": r.uri, "via": "api" }))
}

pub(super) async fn create(
    operator: Operator,
    state: web::Data<AppState>,
    body: web::Json<ResourceBody>,
) -> Result<HttpResponse, ApiError> {
    let spec = spec(body.into_inner())?;
    let r = as_operator(&state, operator, move |st, conn, op| {
        let now = st.now();
        let r = resources::add_resource(conn, &spec, now)?;
        crate::audit::record(conn, now, event("resource.created", &op.id, &r));
        Ok(r)
    })
    .await?;
    Ok(json_no_store(StatusCode::CREATED, answer(r)))
}

pub(super) async fn list(
    operator: Operator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let all = as_operator(&state, operator, |_, conn, _| {
        Ok(resources::list_resources(conn)?)
    })
    .await?;
    Ok(json_no_store(
        StatusCode::OK,
        ResourceList {
            data: all.into_iter().map(answer).collect(),
        },
    ))
}

pub(super) async fn show(
    operator: Operator,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let r = as_operator(&state, operator, move |_, conn, _| {
        resources::find_resource(conn, &id)?.ok_or_else(ApiError::not_found)
    })
    .await?;
    Ok(json_no_store(StatusCode::OK, answer(r)))
}

pub(super) async fn update(
    operator: Operator,
    path: web::Path<String>,
    state: web::Data<AppState>,
    body: web::Json<ResourceBody>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let spec = spec(body.into_inner())?;
    let r = as_operator(&state, operator, move |st, conn, op| {
        let now = st.now();
        let r = resources::update_resource(conn, &id, &spec, now)?;
        crate::audit::record(conn, now, event("resource.updated", &op.id, &r));
        Ok(r)
    })
    .await?;
    Ok(json_no_store(StatusCode::OK, answer(r)))
}

pub(super) async fn remove(
    operator: Operator,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    as_operator(&state, operator, move |st, conn, op| {
        let r = resources::find_resource(conn, &id)?.ok_or_else(ApiError::not_found)?;
        resources::remove_resource(conn, &r.id)?;
        crate::audit::record(conn, st.now(), event("resource.deleted", &op.id, &r));
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
