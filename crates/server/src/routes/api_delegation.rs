//! Agents as OAuth clients and the may_act policy over the JSON API (routes and rules:
//! `routes/api.rs`):
//! - `POST /api/v1/organizations/{org}/agents/{id}/credentials`: a confidential client bound
//!   to the agent (its secret shown once); `GET` lists them; `DELETE …/credentials/{client}`
//!   withdraws one (its tokens stop verifying);
//! - `GET /api/v1/me/actors`, `PUT|DELETE /api/v1/me/actors/{actor}`: the agents and clients a
//!   user allows to act for them through token exchange (RFC 8693).

use accounts::Role;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::access::{FirstPartyUser, OrgCaller, with_org};
use crate::audit::Event;
use crate::errors::api::from_key_error;
use crate::errors::{ApiError, json_no_store};
use crate::invalidate::Change;
use crate::state::AppState;

/// OAuth credentials of an agent: a confidential client whose tokens (client credentials,
/// HTTP Basic or form post) act as the agent, with at most its scopes.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct AgentCredentialAnswer {
    client_id: String,
    agent_id: String,
    created_at: i64,
    /// The client secret, shown once at creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
}

/// An agent's OAuth credentials.
#[derive(Serialize, ToSchema)]
pub(super) struct AgentCredentialList {
    data: Vec<AgentCredentialAnswer>,
}

pub(super) async fn create_credentials(
    caller: OrgCaller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (org, agent_id) = path.into_inner();
    let answer = with_org(&state, caller, move |st, conn, principal, role| {
        let by_owner = role == Role::Owner;
        apikeys::agent_to_manage(conn, &org, &agent_id, by_owner).map_err(from_key_error)?;
        let registered = grants::create_agent_client(conn, &org, &agent_id, by_owner, st.now())?;
        crate::audit::record(
            conn,
            st.now(),
            Event::new("agent.credentials_created")
                .by(principal)
                .org(&org)
                .detail(json!({ "agent_id": agent_id, "client_id": registered.client.id })),
        );
        Ok(AgentCredentialAnswer {
            client_id: registered.client.id.clone(),
            agent_id,
            created_at: registered.client.created_at,
            client_secret: registered.secret.as_ref().map(|s| s.expose().to_owned()),
        })
    })
    .await?;
    Ok(json_no_store(StatusCode::CREATED, answer))
}

pub(super) async fn list_credentials(
    caller: OrgCaller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (org, agent_id) = path.into_inner();
    let list = with_org(&state, caller, move |_, conn, _, _| {
        apikeys::find_agent(conn, &agent_id)
            .map_err(from_key_error)?
            .filter(|a| a.org_id == org)
            .ok_or_else(ApiError::not_found)?;
        Ok(grants::agent_clients(conn, &org, &agent_id)?)
    })
    .await?;
    let data = list
        .into_iter()
        .map(|c| AgentCredentialAnswer {
            client_id: c.client_id,
            agent_id: c.agent_id,
            created_at: c.created_at,
            client_secret: None,
        })
        .collect();
    Ok(json_no_store(StatusCode::OK, AgentCredentialList { data }))
}

pub(super) async fn delete_credentials(
    caller: OrgCaller,
    path: web::Path<(String, String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (org, agent_id, client_id) = path.into_inner();
    with_org(&state, caller, move |st, conn, principal, role| {
        apikeys::agent_to_manage(conn, &org, &agent_id, role == Role::Owner)
            .map_err(from_key_error)?;
        if !grants::delete_agent_client(conn, &org, &agent_id, &client_id)? {
            return Err(ApiError::not_found());
        }
        crate::invalidate::announce(st, conn, Change::Client(&client_id));
        crate::audit::record(
            conn,
            st.now(),
            Event::new("agent.credentials_deleted")
                .by(principal)
                .org(&org)
                .detail(json!({ "agent_id": agent_id, "client_id": client_id })),
        );
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// An agent or client the user allows to act for them (token exchange).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct MayActAnswer {
    /// An agent id (`agt_…`) or a client id.
    actor_id: String,
    /// `agent` or `client`.
    kind: &'static str,
    created_at: i64,
}

/// The actors a user allows.
#[derive(Serialize, ToSchema)]
pub(super) struct MayActList {
    data: Vec<MayActAnswer>,
}

fn actor_kind(id: &str) -> &'static str {
    if id.starts_with("agt_") {
        "agent"
    } else {
        "client"
    }
}

pub(super) async fn list_actors(
    caller: FirstPartyUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let rows = crate::traces::block("actors_list", move || -> Result<_, ApiError> {
        let mut conn = state.store.conn()?;
        Ok(grants::allowed_actors(&mut conn, &caller.user.id)?)
    })
    .await??;
    let data = rows
        .into_iter()
        .map(|r| MayActAnswer {
            kind: actor_kind(&r.actor_id),
            actor_id: r.actor_id,
            created_at: r.created_at,
        })
        .collect();
    Ok(json_no_store(StatusCode::OK, MayActList { data }))
}

/// `PUT /api/v1/me/actors/{actor}`: allows an existing agent or client to act for the user.
pub(super) async fn allow_actor(
    caller: FirstPartyUser,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let actor = path.into_inner();
    let answer = crate::traces::block("actor_allow", move || -> Result<_, ApiError> {
        let mut conn = state.store.conn()?;
        let now = state.now();
        if !grants::allow_actor(&mut conn, &caller.user.id, &actor, now)? {
            return Err(
                ApiError::bad_request("invalid_field", "No agent or client has this id.")
                    .with_param("actor"),
            );
        }
        crate::audit::record(
            &mut conn,
            now,
            Event::new("may_act.allowed")
                .actor(Some(&caller.user.id))
                .detail(json!({ "actor_id": actor })),
        );
        Ok(MayActAnswer {
            kind: actor_kind(&actor),
            actor_id: actor,
            created_at: now,
        })
    })
    .await??;
    Ok(json_no_store(StatusCode::OK, answer))
}

/// `DELETE /api/v1/me/actors/{actor}`: withdraws it (tokens already exchanged live out their
/// short life; no new exchange is allowed).
pub(super) async fn disallow_actor(
    caller: FirstPartyUser,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let actor = path.into_inner();
    crate::traces::block("actor_disallow", move || -> Result<_, ApiError> {
        let mut conn = state.store.conn()?;
        if !grants::disallow_actor(&mut conn, &caller.user.id, &actor)? {
            return Err(ApiError::not_found());
        }
        crate::audit::record(
            &mut conn,
            state.now(),
            Event::new("may_act.withdrawn")
                .actor(Some(&caller.user.id))
                .detail(json!({ "actor_id": actor })),
        );
        Ok(())
    })
    .await??;
    Ok(HttpResponse::NoContent().finish())
}
