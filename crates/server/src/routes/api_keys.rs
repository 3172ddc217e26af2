//! API keys and agents of an organization, and the authorization checks gateways call:
//! `/api/v1/organizations/{org}/api-keys…`, `/api/v1/organizations/{org}/agents…`,
//! `POST /api/v1/authorize-request` and `GET /api/v1/forward-auth`.

use accounts::Role;
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};
use apikeys::{Agent, ApiKey};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::access::{Caller, OrgCaller, with_org};
use crate::audit::Event;
use crate::errors::api::from_key_error;
use crate::errors::{ApiError, json_no_store};
use crate::invalidate::Change;
use crate::principal::{Principal, Subject};
use crate::routes::api_auth::required;
use crate::state::AppState;

/// An API key. `key`, the secret, is in the answers to creating and rotating it only: shown
/// once.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct KeyAnswer {
    id: String,
    organization_id: String,
    name: String,
    scopes: Vec<String>,
    /// The first characters of the current secret, to tell keys apart.
    prefix: String,
    created_by: String,
    created_at: i64,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
    /// The secret (`pcl_sk_…`), shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
}

/// An organization's API keys.
#[derive(Serialize, ToSchema)]
pub(super) struct KeyList {
    data: Vec<KeyAnswer>,
}

/// An agent: a name with `service:resource:action` scopes, which calls through keys.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct AgentAnswer {
    id: String,
    organization_id: String,
    name: String,
    scopes: Vec<String>,
    created_at: i64,
    updated_at: i64,
}

/// An organization's agents.
#[derive(Serialize, ToSchema)]
pub(super) struct AgentList {
    data: Vec<AgentAnswer>,
}

/// A call allowed: the agent's organization, the scope the call needs and the agent's scope
/// that covers it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct Decision {
    allowed: bool,
    organization_id: String,
    agent_id: String,
    required_scope: String,
    matched_scope: String,
}

fn key_json(k: &ApiKey) -> KeyAnswer {
    KeyAnswer {
        id: k.id.clone(),
        organization_id: k.org_id.clone(),
        name: k.name.clone(),
        scopes: k.scopes.clone(),
        prefix: k.prefix.clone(),
        created_by: k.created_by.clone(),
        created_at: k.created_at,
        expires_at: k.expires_at,
        last_used_at: k.last_used_at,
        revoked_at: k.revoked_at,
        key: None,
    }
}

fn agent_json(a: &Agent) -> AgentAnswer {
    AgentAnswer {
        id: a.id.clone(),
        organization_id: a.org_id.clone(),
        name: a.name.clone(),
        scopes: a.scopes.clone(),
        created_at: a.created_at,
        updated_at: a.updated_at,
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct KeyBody {
    name: Option<String>,
    scopes: Option<Vec<String>>,
    expires_at: Option<i64>,
}

pub(super) async fn create_key(
    caller: OrgCaller,
    path: web::Path<String>,
    state: web::Data<AppState>,
    body: web::Json<KeyBody>,
) -> Result<HttpResponse, ApiError> {
    let org = path.into_inner();
    let body = body.into_inner();
    let name = required(&body.name, "name")?.to_owned();
    let scopes = body.scopes.clone().ok_or_else(|| {
        ApiError::bad_request("invalid_field", "scopes is required.").with_param("scopes")
    })?;
    let (key, secret) = with_org(&state, caller, move |st, conn, principal, role| {
        check_grant(&scopes, principal, role)?;
        let creator = principal.actor().to_owned();
        let new = apikeys::NewKey {
            org_id: &org,
            created_by: &creator,
            name: &name,
            scopes: &scopes,
            expires_at: body.expires_at,
        };
        let created = apikeys::create_key(conn, &new, st.now()).map_err(from_key_error)?;
        crate::audit::record(
            conn,
            st.now(),
            Event::new("api_key.created")
                .by(principal)
                .org(&org)
                .detail(json!({ "key_id": created.0.id, "name": name, "scopes": scopes })),
        );
        Ok(created)
    })
    .await?;
    let mut body = key_json(&key);
    body.key = Some(secret.expose().to_owned());
    Ok(json_no_store(StatusCode::CREATED, body))
}

/// Whether `principal` with `role` may grant `scopes` to a key: known API scopes, `*` for
/// owners only, and nothing a scoped caller (a key, a third-party token) does not hold itself.
fn check_grant(scopes: &[String], principal: &Principal, role: Role) -> Result<(), ApiError> {
    apikeys::check_key_scopes(scopes, role == Role::Owner).map_err(from_key_error)?;
    apikeys::check_grantable(scopes, principal.scopes.as_deref()).map_err(from_key_error)
}

pub(super) async fn list_keys(
    caller: OrgCaller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let org = path.into_inner();
    let o = org.clone();
    let keys = with_org(&state, caller, move |_, conn, _, _| {
        apikeys::list_keys(conn, &o).map_err(from_key_error)
    })
    .await?;
    Ok(json_no_store(
        StatusCode::OK,
        KeyList {
            data: keys.iter().map(key_json).collect(),
        },
    ))
}

pub(super) async fn show_key(
    caller: OrgCaller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let o = org.clone();
    let key = with_org(&state, caller, move |_, conn, _, _| {
        apikeys::find_key(conn, &o, &id).map_err(from_key_error)
    })
    .await?;
    Ok(json_no_store(StatusCode::OK, key_json(&key)))
}

pub(super) async fn update_key(
    caller: OrgCaller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    body: web::Json<KeyBody>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let body = body.into_inner();
    let o = org.clone();
    let key = with_org(&state, caller, move |st, conn, principal, role| {
        apikeys::key_to_manage(conn, &o, &id, role == Role::Owner).map_err(from_key_error)?;
        if let Some(scopes) = &body.scopes {
            check_grant(scopes, principal, role)?;
        }
        let key = apikeys::update_key(
            conn,
            &o,
            &id,
            body.name.as_deref(),
            body.scopes.as_deref(),
            body.expires_at.map(Some),
        )
        .map_err(from_key_error)?;
        crate::invalidate::announce(st, conn, Change::ApiKey(&key.id));
        Ok(key)
    })
    .await?;
    Ok(json_no_store(StatusCode::OK, key_json(&key)))
}

pub(super) async fn revoke_key(
    caller: OrgCaller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let o = org.clone();
    let key = with_org(&state, caller, move |st, conn, principal, role| {
        apikeys::key_to_manage(conn, &o, &id, role == Role::Owner).map_err(from_key_error)?;
        let key = apikeys::revoke_key(conn, &o, &id, st.now()).map_err(from_key_error)?;
        crate::invalidate::announce(st, conn, Change::ApiKey(&key.id));
        crate::audit::record(
            conn,
            st.now(),
            Event::new("api_key.revoked")
                .by(principal)
                .org(&o)
                .detail(json!({ "key_id": key.id })),
        );
        Ok(key)
    })
    .await?;
    tracing::info!(key = %key.id, org = %key.org_id, "API key revoked");
    Ok(json_no_store(StatusCode::OK, key_json(&key)))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct RotateBody {
    overlap_seconds: i64,
}

pub(super) async fn rotate_key(
    caller: OrgCaller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Result<web::Json<RotateBody>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let overlap = match body {
        Ok(body) => body.overlap_seconds,
        // No body at all: no overlap. A body that is not the JSON asked for is refused, not
        // taken as no overlap.
        Err(_) if !req.headers().contains_key(CONTENT_TYPE) => 0,
        Err(e) => return Ok(e.error_response()),
    };
    let (org, id) = path.into_inner();
    let o = org.clone();
    let (key, secret) = with_org(&state, caller, move |st, conn, principal, role| {
        let current =
            apikeys::key_to_manage(conn, &o, &id, role == Role::Owner).map_err(from_key_error)?;
        // The new secret is shown to whoever rotates: only an owner or the key's creator.
        if role != accounts::Role::Owner && current.created_by != principal.actor() {
            return Err(ApiError::forbidden());
        }
        let rotated =
            apikeys::rotate_key(conn, &o, &id, overlap, st.now()).map_err(from_key_error)?;
        crate::invalidate::announce(st, conn, Change::ApiKey(&id));
        crate::audit::record(
            conn,
            st.now(),
            Event::new("api_key.rotated")
                .by(principal)
                .org(&o)
                .detail(json!({ "key_id": id, "overlap_seconds": overlap })),
        );
        Ok(rotated)
    })
    .await?;
    let mut body = key_json(&key);
    body.key = Some(secret.expose().to_owned());
    Ok(json_no_store(StatusCode::OK, body))
}

#[derive(Deserialize, ToSchema)]
pub(super) struct AgentBody {
    name: Option<String>,
    scopes: Option<Vec<String>>,
}

pub(super) async fn create_agent(
    caller: OrgCaller,
    path: web::Path<String>,
    state: web::Data<AppState>,
    body: web::Json<AgentBody>,
) -> Result<HttpResponse, ApiError> {
    let org = path.into_inner();
    let body = body.into_inner();
    let name = required(&body.name, "name")?.to_owned();
    let scopes = body.scopes.ok_or_else(|| {
        ApiError::bad_request("invalid_field", "scopes is required.").with_param("scopes")
    })?;
    let o = org.clone();
    let agent = with_org(&state, caller, move |st, conn, principal, role| {
        apikeys::check_agent_grant(&scopes, role == Role::Owner).map_err(from_key_error)?;
        let agent =
            apikeys::create_agent(conn, &o, &name, &scopes, st.now()).map_err(from_key_error)?;
        crate::audit::record(
            conn,
            st.now(),
            Event::new("agent.created").by(principal).org(&o).detail(
                json!({ "agent_id": agent.id, "name": agent.name, "scopes": agent.scopes }),
            ),
        );
        Ok(agent)
    })
    .await?;
    Ok(json_no_store(StatusCode::CREATED, agent_json(&agent)))
}

pub(super) async fn list_agents(
    caller: OrgCaller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let org = path.into_inner();
    let o = org.clone();
    let agents = with_org(&state, caller, move |_, conn, _, _| {
        apikeys::list_agents(conn, &o).map_err(from_key_error)
    })
    .await?;
    Ok(json_no_store(
        StatusCode::OK,
        AgentList {
            data: agents.iter().map(agent_json).collect(),
        },
    ))
}

pub(super) async fn show_agent(
    caller: OrgCaller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let o = org.clone();
    let agent = with_org(&state, caller, move |_, conn, _, _| {
        apikeys::find_agent(conn, &id)
            .map_err(from_key_error)?
            .filter(|a| a.org_id == o)
            .ok_or_else(ApiError::not_found)
    })
    .await?;
    Ok(json_no_store(StatusCode::OK, agent_json(&agent)))
}

pub(super) async fn update_agent(
    caller: OrgCaller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    body: web::Json<AgentBody>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let body = body.into_inner();
    let o = org.clone();
    let agent = with_org(&state, caller, move |st, conn, principal, role| {
        apikeys::agent_to_manage(conn, &o, &id, role == Role::Owner).map_err(from_key_error)?;
        if let Some(scopes) = &body.scopes {
            apikeys::check_agent_grant(scopes, role == Role::Owner).map_err(from_key_error)?;
        }
        let updated = apikeys::update_agent(
            conn,
            &o,
            &id,
            body.name.as_deref(),
            body.scopes.as_deref(),
            st.now(),
        );
        crate::invalidate::announce(st, conn, Change::Agent(&id));
        let agent = updated.map_err(from_key_error)?;
        crate::audit::record(
            conn,
            st.now(),
            Event::new("agent.updated").by(principal).org(&o).detail(
                json!({ "agent_id": agent.id, "name": agent.name, "scopes": agent.scopes }),
            ),
        );
        Ok(agent)
    })
    .await?;
    Ok(json_no_store(StatusCode::OK, agent_json(&agent)))
}

pub(super) async fn delete_agent(
    caller: OrgCaller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let o = org.clone();
    with_org(&state, caller, move |st, conn, principal, role| {
        apikeys::agent_to_manage(conn, &o, &id, role == Role::Owner).map_err(from_key_error)?;
        let deleted = apikeys::delete_agent(conn, &o, &id);
        crate::invalidate::announce(st, conn, Change::Agent(&id));
        deleted.map_err(from_key_error)?;
        // Its OAuth credentials go with it.
        for client in grants::delete_clients_of_agent(conn, &id)? {
            crate::invalidate::announce(st, conn, Change::Client(&client));
        }
        crate::audit::record(
            conn,
            st.now(),
            Event::new("agent.deleted")
                .by(principal)
                .org(&o)
                .detail(json!({ "agent_id": id })),
        );
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The decision for one agent call. A key's principal with its agent in the cache is decided
/// at once; anything else (a user's principal needs a membership check) on a blocking thread.
async fn decide(
    state: &web::Data<AppState>,
    principal: Principal,
    agent_id: String,
    service: String,
    endpoint: String,
) -> Result<Decision, ApiError> {
    let required = apikeys::required_scope(&service, &endpoint).map_err(from_key_error)?;
    if let Subject::Organization { id } = &principal.subject
        && let Some(agent) = state.api_keys.agent(&agent_id, state.now())
    {
        return judge(&agent, &required, *id == agent.org_id);
    }
    let st = state.clone();
    crate::traces::block("authorize_request", move || {
        let mut conn = st.store.conn()?;
        // An unknown agent and another organization's agent look the same from outside.
        let agent = apikeys::find_agent(&mut conn, &agent_id)
            .map_err(from_key_error)?
            .ok_or_else(ApiError::forbidden)?;
        st.api_keys.put_agent(agent.clone(), st.now());
        let allowed = match &principal.subject {
            Subject::Organization { id } => *id == agent.org_id,
            Subject::User { id } => accounts::membership(&mut conn, &agent.org_id, id).is_ok(),
            // Refused by the route's rule before this (`access::admit`).
            Subject::Agent { .. } => false,
        };
        judge(&agent, &required, allowed)
    })
    .await?
}

/// Whether `agent` holds a scope covering `required`, for a principal that may act for the
/// agent's organization (`allowed`).
fn judge(agent: &apikeys::Agent, required: &str, allowed: bool) -> Result<Decision, ApiError> {
    if !allowed {
        return Err(ApiError::forbidden());
    }
    let Some(matched) = agent
        .scopes
        .iter()
        .find(|s| apikeys::scope_covers(s, required))
    else {
        return Err(ApiError::insufficient_scope(required));
    };
    Ok(Decision {
        allowed: true,
        organization_id: agent.org_id.clone(),
        agent_id: agent.id.clone(),
        required_scope: required.to_owned(),
        matched_scope: matched.clone(),
    })
}

/// The agent of a request: the combined credential's, else the one given. Both, differing: 400.
fn agent_of(principal: &Principal, given: Option<&str>) -> Result<String, ApiError> {
    match (
        principal.agent_id.as_deref(),
        given.filter(|g| !g.is_empty()),
    ) {
        (Some(a), Some(b)) if a != b => Err(ApiError::bad_request(
            "invalid_field",
            "agentId differs from the agent in the credential.",
        )
        .with_param("agentId")),
        (Some(a), _) | (None, Some(a)) => Ok(a.to_owned()),
        (None, None) => Err(
            ApiError::bad_request("invalid_field", "agentId is required.").with_param("agentId"),
        ),
    }
}

fn valid_method(m: &str) -> bool {
    !m.is_empty() && m.len() <= 16 && m.bytes().all(|b| b.is_ascii_alphabetic())
}

/// May this agent call this endpoint of this service? `agentId` may be left out when the
/// credential names the agent (a combined credential).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct AuthorizeBody {
    /// Also accepted as `agent_id`.
    #[serde(alias = "agent_id")]
    agent_id: Option<String>,
    service: Option<String>,
    endpoint: Option<String>,
    method: Option<String>,
}

pub(super) async fn authorize_request(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<AuthorizeBody>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal;
    let body = body.into_inner();
    let service = required(&body.service, "service")?.to_owned();
    let endpoint = required(&body.endpoint, "endpoint")?.to_owned();
    if let Some(m) = &body.method
        && !valid_method(m)
    {
        return Err(
            ApiError::bad_request("invalid_field", "method must be an HTTP method.")
                .with_param("method"),
        );
    }
    let agent = agent_of(&principal, body.agent_id.as_deref())?;
    let answer = decide(&state, principal, agent, service, endpoint).await?;
    Ok(json_no_store(StatusCode::OK, answer))
}

/// For gateways (nginx `auth_request`, Traefik ForwardAuth): the service is the `X-Service`
/// header, or the first segment of `X-Forwarded-Uri`; the agent is `X-Agent-Id` or the combined
/// credential's. 200 allows; 401/403 refuse, with the JSON error.
pub(super) async fn forward_auth(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal;
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let uri = header("x-forwarded-uri").ok_or_else(|| {
        ApiError::bad_request("invalid_field", "X-Forwarded-Uri is required.")
            .with_param("X-Forwarded-Uri")
    })?;
    if let Some(m) = header("x-forwarded-method")
        && !valid_method(&m)
    {
        return Err(ApiError::bad_request(
            "invalid_field",
            "X-Forwarded-Method must be an HTTP method.",
        )
        .with_param("X-Forwarded-Method"));
    }
    let (service, endpoint) = match header("x-service") {
        Some(service) => (service, uri),
        None => {
            let trimmed = uri.trim_start_matches('/');
            let (service, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
            (service.to_owned(), format!("/{rest}"))
        }
    };
    let agent = agent_of(&principal, header("x-agent-id").as_deref())?;
    let answer = decide(&state, principal, agent, service, endpoint).await?;
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header(("x-portcullis-organization", answer.organization_id))
        .insert_header(("x-portcullis-agent", answer.agent_id))
        .insert_header(("x-portcullis-scope", answer.required_scope))
        .finish())
}
