//! Organizations, members and invites: `/api/v1/organizations…` and
//! `POST /api/v1/invites/{id}/accept`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::audit::Event;
use crate::auth::{bearer_token, client_ip, require_user, user_from_token};
use crate::errors::{ApiError, json_no_store};
use crate::principal::{Subject, org_access, require_principal};
use crate::routes::api_auth::{required, sign_in, user_json};

/// Invites are valid for a week.
const INVITE_TTL: i64 = 7 * 86_400;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/organizations", web::post().to(create))
        .route("/api/v1/organizations", web::get().to(list))
        .route("/api/v1/organizations/{org}", web::get().to(show))
        .route(
            "/api/v1/organizations/{org}/members",
            web::get().to(list_members),
        )
        .route(
            "/api/v1/organizations/{org}/members/{user}",
            web::patch().to(change_member),
        )
        .route(
            "/api/v1/organizations/{org}/members/{user}",
            web::delete().to(remove_member),
        )
        .route(
            "/api/v1/organizations/{org}/invites",
            web::post().to(invite),
        )
        .route("/api/v1/invites/{id}/accept", web::post().to(accept));
}

fn org_json(org: &accounts::Org, role: accounts::Role) -> Value {
    json!({ "id": org.id, "name": org.name, "createdAt": org.created_at, "role": role.as_str() })
}

fn member_json(m: &accounts::Member) -> Value {
    json!({ "userId": m.user_id, "email": m.email, "name": m.name, "role": m.role.as_str(), "joinedAt": m.joined_at })
}

fn parse_role(raw: &Option<String>) -> Result<accounts::Role, ApiError> {
    accounts::Role::parse(required(raw, "role")?).ok_or_else(|| {
        ApiError::bad_request("invalid_field", "role must be owner, admin or member.")
            .with_param("role")
    })
}

#[derive(Deserialize)]
struct NameBody {
    name: Option<String>,
}

async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<NameBody>,
) -> Result<HttpResponse, ApiError> {
    let caller = require_user(&req, &state).await?;
    let name = required(&body.name, "name")?.to_owned();
    let ip = client_ip(&req, &state);
    let org = web::block(move || -> Result<_, ApiError> {
        let mut conn = state.store.conn()?;
        let org = accounts::create_org(&mut conn, &caller.user.id, &name, state.now())?;
        crate::audit::record(
            &mut conn,
            state.now(),
            Event::new("organization.created")
                .actor(Some(&caller.user.id))
                .ip(ip.as_deref())
                .org(&org.id)
                .detail(json!({ "name": org.name })),
        );
        Ok(org)
    })
    .await??;
    Ok(json_no_store(
        StatusCode::CREATED,
        org_json(&org, accounts::Role::Owner),
    ))
}

async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let principal = require_principal(&req, &state).await?;
    let orgs = web::block(move || -> Result<_, ApiError> {
        let mut conn = state.store.conn()?;
        match &principal.subject {
            Subject::User { id } => Ok(accounts::orgs_of(&mut conn, id)?),
            // An organization key sees its own organization.
            Subject::Organization { id } => {
                let role = org_access(&mut conn, &principal, id, "org:read", false)?;
                let org = accounts::find_org(&mut conn, id)?.ok_or_else(ApiError::forbidden)?;
                Ok(vec![(org, role)])
            }
        }
    })
    .await??;
    let data: Vec<Value> = orgs.iter().map(|(o, r)| org_json(o, *r)).collect();
    Ok(json_no_store(StatusCode::OK, json!({ "data": data })))
}

async fn show(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = require_principal(&req, &state).await?;
    let org_id = path.into_inner();
    let (org, role) = web::block(move || -> Result<_, ApiError> {
        let mut conn = state.store.conn()?;
        let role = org_access(&mut conn, &principal, &org_id, "org:read", false)?;
        let org = accounts::find_org(&mut conn, &org_id)?.ok_or_else(ApiError::forbidden)?;
        Ok((org, role))
    })
    .await??;
    Ok(json_no_store(StatusCode::OK, org_json(&org, role)))
}

async fn list_members(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = require_principal(&req, &state).await?;
    let org_id = path.into_inner();
    let members = web::block(move || -> Result<_, ApiError> {
        let mut conn = state.store.conn()?;
        org_access(&mut conn, &principal, &org_id, "members:read", false)?;
        Ok(accounts::members(&mut conn, &org_id)?)
    })
    .await??;
    let data: Vec<Value> = members.iter().map(member_json).collect();
    Ok(json_no_store(StatusCode::OK, json!({ "data": data })))
}

#[derive(Deserialize)]
struct RoleBody {
    role: Option<String>,
}

async fn change_member(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    body: web::Json<RoleBody>,
) -> Result<HttpResponse, ApiError> {
    let caller = require_user(&req, &state).await?;
    let (org_id, target) = path.into_inner();
    let role = parse_role(&body.role)?;
    let ip = client_ip(&req, &state);
    let member = web::block(move || -> Result<_, ApiError> {
        let mut conn = state.store.conn()?;
        accounts::change_role(&mut conn, &org_id, &caller.user.id, &target, role)?;
        crate::audit::record(
            &mut conn,
            state.now(),
            Event::new("member.role_changed")
                .actor(Some(&caller.user.id))
                .ip(ip.as_deref())
                .org(&org_id)
                .detail(json!({ "user_id": target, "role": role.as_str() })),
        );
        accounts::members(&mut conn, &org_id)?
            .into_iter()
            .find(|m| m.user_id == target)
            .ok_or_else(ApiError::not_found)
    })
    .await??;
    Ok(json_no_store(StatusCode::OK, member_json(&member)))
}

async fn remove_member(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let caller = require_user(&req, &state).await?;
    let (org_id, target) = path.into_inner();
    let ip = client_ip(&req, &state);
    web::block(move || -> Result<_, ApiError> {
        let mut conn = state.store.conn()?;
        accounts::remove_member(&mut conn, &org_id, &caller.user.id, &target)?;
        crate::audit::record(
            &mut conn,
            state.now(),
            Event::new("member.removed")
                .actor(Some(&caller.user.id))
                .ip(ip.as_deref())
                .org(&org_id)
                .detail(json!({ "user_id": target })),
        );
        Ok(())
    })
    .await??;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
struct InviteBody {
    email: Option<String>,
    role: Option<String>,
}

async fn invite(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
    body: web::Json<InviteBody>,
) -> Result<HttpResponse, ApiError> {
    let caller = require_user(&req, &state).await?;
    let org_id = path.into_inner();
    let email = required(&body.email, "email")?.to_owned();
    let role = if body.role.is_some() {
        parse_role(&body.role)?
    } else {
        accounts::Role::Member
    };
    let issuer = state.settings.issuer_str().to_owned();
    let ip = client_ip(&req, &state);
    let (invite, token) = web::block(move || -> Result<_, ApiError> {
        let mut conn = state.store.conn()?;
        let created = accounts::create_invite(
            &mut conn,
            &org_id,
            &caller.user.id,
            &email,
            role,
            state.now(),
            INVITE_TTL,
        )?;
        crate::audit::record(
            &mut conn,
            state.now(),
            Event::new("invite.created")
                .actor(Some(&caller.user.id))
                .ip(ip.as_deref())
                .org(&org_id)
                .detail(json!({ "invite_id": created.0.id, "email": created.0.email, "role": role.as_str() })),
        );
        Ok(created)
    })
    .await??;
    Ok(json_no_store(
        StatusCode::CREATED,
        json!({
            "id": invite.id,
            "organizationId": invite.org_id,
            "email": invite.email,
            "role": invite.role.as_str(),
            "expiresAt": invite.expires_at,
            "token": token.expose(),
            "acceptUrl": format!("{issuer}/api/v1/invites/{}/accept", invite.id),
        }),
    ))
}

#[derive(Deserialize)]
struct AcceptBody {
    token: Option<String>,
    name: Option<String>,
    password: Option<String>,
}

/// Accepts an invite: as the signed-in invitee (a bearer token), or by creating the account
/// with `{name, password}`. Answers like sign-in.
async fn accept(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
    body: web::Json<AcceptBody>,
) -> Result<HttpResponse, ApiError> {
    let invite_id = path.into_inner();
    let body = body.into_inner();
    let token = required(&body.token, "token")?.to_owned();
    let bearer = bearer_token(&req);
    if bearer.is_none() {
        required(&body.name, "name")?;
        required(&body.password, "password")?;
    }
    let ip = client_ip(&req, &state);
    let answer = web::block(move || -> Result<Value, ApiError> {
        let now = state.now();
        let mut conn = state.store.conn()?;
        let caller = match &bearer {
            Some(t) => Some(user_from_token(&state, &mut conn, t)?),
            None => None,
        };
        let acceptor = match &caller {
            Some(c) => accounts::Acceptor::Existing {
                user_id: &c.user.id,
            },
            None => accounts::Acceptor::NewAccount {
                name: body.name.as_deref().unwrap_or_default(),
                password: body.password.as_deref().unwrap_or_default(),
            },
        };
        let (user, org, role) =
            accounts::accept_invite(&mut conn, &invite_id, &token, acceptor, &state.hasher, now)?;
        crate::audit::record(
            &mut conn,
            now,
            Event::new("invite.accepted")
                .actor(Some(&user.id))
                .ip(ip.as_deref())
                .org(&org.id)
                .detail(json!({ "invite_id": invite_id, "role": role.as_str(), "new_account": caller.is_none() })),
        );
        let mut answer = sign_in(&state, &mut conn, &user.id, now)?;
        answer["user"] = user_json(&user);
        answer["organization"] = org_json(&org, role);
        Ok(answer)
    })
    .await??;
    Ok(json_no_store(StatusCode::OK, answer))
}
