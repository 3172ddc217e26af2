//! Organizations, members and invites: `/api/v1/organizations…` and
//! `POST /api/v1/invites/{id}/accept` (routes and their rules: `routes/api.rs`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::access::{
    Caller, FirstPartyUser, MaybeFirstParty, OrgCaller, OrgRule, org_access, with_org,
};
use crate::audit::Event;
use crate::auth::client_ip;
use crate::errors::{ApiError, json_no_store};
use crate::flows::sign_in_new_account;
use crate::principal::Subject;
use crate::routes::api_auth::{NewAccount, required};
use crate::state::AppState;

/// Invites are valid for a week.
const INVITE_TTL: i64 = 7 * 86_400;

/// An organization, and the caller's role in it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrgAnswer {
    id: String,
    name: String,
    created_at: i64,
    /// `owner`, `admin` or `member`.
    role: String,
    /// Whether every member must sign in with a second factor.
    require_mfa: bool,
}

impl OrgAnswer {
    pub(crate) fn new(org: &accounts::Org, role: accounts::Role) -> Self {
        Self {
            id: org.id.clone(),
            name: org.name.clone(),
            created_at: org.created_at,
            role: role.as_str().to_owned(),
            require_mfa: org.require_mfa,
        }
    }
}

/// The organizations the caller may see.
#[derive(Serialize, ToSchema)]
pub(super) struct OrgList {
    data: Vec<OrgAnswer>,
}

/// A member of an organization.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct MemberAnswer {
    user_id: String,
    email: String,
    name: String,
    role: String,
    joined_at: i64,
}

/// The members of an organization.
#[derive(Serialize, ToSchema)]
pub(super) struct MemberList {
    data: Vec<MemberAnswer>,
}

/// A new invite; `token` is shown this once (it is also mailed, inside `inviteUrl`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct InviteAnswer {
    id: String,
    organization_id: String,
    email: String,
    role: String,
    expires_at: i64,
    token: String,
    /// Where the invitee's app posts `{token, name, password}` (or `{token}` with its bearer).
    accept_url: String,
    /// The invite's page, for a person.
    invite_url: String,
}

fn org_json(org: &accounts::Org, role: accounts::Role) -> OrgAnswer {
    OrgAnswer::new(org, role)
}

fn member_json(m: &accounts::Member) -> MemberAnswer {
    MemberAnswer {
        user_id: m.user_id.clone(),
        email: m.email.clone(),
        name: m.name.clone(),
        role: m.role.as_str().to_owned(),
        joined_at: m.joined_at,
    }
}

fn parse_role(raw: &Option<String>) -> Result<accounts::Role, ApiError> {
    accounts::Role::parse(required(raw, "role")?).ok_or_else(|| {
        ApiError::bad_request("invalid_field", "role must be owner, admin or member.")
            .with_param("role")
    })
}

#[derive(Deserialize, ToSchema)]
pub(super) struct NameBody {
    name: Option<String>,
}

pub(super) async fn create(
    req: HttpRequest,
    caller: FirstPartyUser,
    state: web::Data<AppState>,
    body: web::Json<NameBody>,
) -> Result<HttpResponse, ApiError> {
    let name = required(&body.name, "name")?.to_owned();
    let ip = client_ip(&req, &state);
    let org = crate::traces::block("org_create", move || -> Result<_, ApiError> {
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

pub(super) async fn list(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal;
    let orgs = crate::traces::block("org_list", move || -> Result<_, ApiError> {
        let mut conn = state.store.conn()?;
        match &principal.subject {
            Subject::User { id } => Ok(accounts::orgs_of(&mut conn, id)?),
            // An organization key sees its own organization.
            Subject::Organization { id } => {
                let rule = OrgRule {
                    scope: "org:read",
                    role: accounts::Role::Member,
                    keys: true,
                };
                let role = org_access(&mut conn, &principal, id, &rule)?;
                let org = accounts::find_org(&mut conn, id)?.ok_or_else(ApiError::forbidden)?;
                Ok(vec![(org, role)])
            }
            // Refused by the route's rule before this (`access::admit`).
            Subject::Agent { .. } => Err(ApiError::forbidden()),
        }
    })
    .await??;
    let data = orgs.iter().map(|(o, r)| org_json(o, *r)).collect();
    Ok(json_no_store(StatusCode::OK, OrgList { data }))
}

pub(super) async fn show(
    caller: OrgCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let role = caller.role;
    let org_id = caller.org_id.clone();
    let org = with_org(&state, caller, move |_, conn, _, _| {
        accounts::find_org(conn, &org_id)?.ok_or_else(ApiError::forbidden)
    })
    .await?;
    Ok(json_no_store(StatusCode::OK, org_json(&org, role)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct UpdateOrgBody {
    require_mfa: Option<bool>,
}

/// `PATCH /api/v1/organizations/{org}` `{"requireMfa"}`: owners decide whether every member
/// must sign in with a second factor.
pub(super) async fn update(
    caller: OrgCaller,
    state: web::Data<AppState>,
    body: web::Json<UpdateOrgBody>,
) -> Result<HttpResponse, ApiError> {
    let role = caller.role;
    let org_id = caller.org_id.clone();
    let require = body.require_mfa;
    let org = with_org(&state, caller, move |st, conn, principal, _| {
        let Some(require) = require else {
            return accounts::find_org(conn, &org_id)?.ok_or_else(ApiError::forbidden);
        };
        let now = st.now();
        let org = accounts::set_require_mfa(conn, &org_id, principal.user_id()?, require, now)?;
        crate::audit::record(
            conn,
            now,
            Event::new("org.updated")
                .by(principal)
                .org(&org_id)
                .detail(json!({ "require_mfa": require })),
        );
        Ok(org)
    })
    .await?;
    Ok(json_no_store(StatusCode::OK, org_json(&org, role)))
}

pub(super) async fn list_members(
    caller: OrgCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let org_id = caller.org_id.clone();
    let members = with_org(&state, caller, move |_, conn, _, _| {
        Ok(accounts::members(conn, &org_id)?)
    })
    .await?;
    let data = members.iter().map(member_json).collect();
    Ok(json_no_store(StatusCode::OK, MemberList { data }))
}

#[derive(Deserialize, ToSchema)]
pub(super) struct RoleBody {
    role: Option<String>,
}

pub(super) async fn change_member(
    caller: OrgCaller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    body: web::Json<RoleBody>,
) -> Result<HttpResponse, ApiError> {
    let (_, target) = path.into_inner();
    let role = parse_role(&body.role)?;
    let org_id = caller.org_id.clone();
    let member = with_org(&state, caller, move |st, conn, principal, _| {
        let org_id = &org_id;
        accounts::change_role(conn, org_id, principal.user_id()?, &target, role)?;
        crate::audit::record(
            conn,
            st.now(),
            Event::new("member.role_changed")
                .by(principal)
                .org(org_id)
                .detail(json!({ "user_id": target, "role": role.as_str() })),
        );
        accounts::members(conn, org_id)?
            .into_iter()
            .find(|m| m.user_id == target)
            .ok_or_else(ApiError::not_found)
    })
    .await?;
    Ok(json_no_store(StatusCode::OK, member_json(&member)))
}

pub(super) async fn remove_member(
    caller: OrgCaller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (_, target) = path.into_inner();
    let org_id = caller.org_id.clone();
    with_org(&state, caller, move |st, conn, principal, _| {
        let org_id = &org_id;
        accounts::remove_member(conn, org_id, principal.user_id()?, &target)?;
        crate::audit::record(
            conn,
            st.now(),
            Event::new("member.removed")
                .by(principal)
                .org(org_id)
                .detail(json!({ "user_id": target })),
        );
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
pub(super) struct InviteBody {
    email: Option<String>,
    role: Option<String>,
}

pub(super) async fn invite(
    caller: OrgCaller,
    state: web::Data<AppState>,
    body: web::Json<InviteBody>,
) -> Result<HttpResponse, ApiError> {
    let email = required(&body.email, "email")?.to_owned();
    let role = if body.role.is_some() {
        parse_role(&body.role)?
    } else {
        accounts::Role::Member
    };
    let issuer = state.settings.issuer_str().to_owned();
    let org_id = caller.org_id.clone();
    let (invite, token) = with_org(&state, caller, move |st, conn, principal, _| {
        let org_id = &org_id;
        let created = accounts::create_invite(
            conn,
            org_id,
            principal.user_id()?,
            &email,
            role,
            st.now(),
            INVITE_TTL,
        )?;
        crate::audit::record(
            conn,
            st.now(),
            Event::new("invite.created")
                .by(principal)
                .org(org_id)
                .detail(json!({ "invite_id": created.0.id, "email": created.0.email, "role": role.as_str() })),
        );
        crate::account::mail_invite(st, conn, &created.0, created.1.expose());
        Ok(created)
    })
    .await?;
    Ok(json_no_store(
        StatusCode::CREATED,
        InviteAnswer {
            accept_url: format!("{issuer}/api/v1/invites/{}/accept", invite.id),
            invite_url: crate::account::invite_url(&state, &invite.id, token.expose()),
            token: token.expose().to_owned(),
            role: invite.role.as_str().to_owned(),
            id: invite.id,
            organization_id: invite.org_id,
            email: invite.email,
            expires_at: invite.expires_at,
        },
    ))
}

#[derive(Deserialize, ToSchema)]
pub(super) struct AcceptBody {
    token: Option<String>,
    name: Option<String>,
    password: Option<String>,
}

/// Accepts an invite: as the signed-in invitee (a bearer token), or by creating the account
/// with `{name, password}`. Answers like sign-in.
pub(super) async fn accept(
    req: HttpRequest,
    caller: MaybeFirstParty,
    path: web::Path<String>,
    state: web::Data<AppState>,
    body: web::Json<AcceptBody>,
) -> Result<HttpResponse, ApiError> {
    let invite_id = path.into_inner();
    let body = body.into_inner();
    let token = required(&body.token, "token")?.to_owned();
    let caller = caller.0;
    if caller.is_none() {
        required(&body.name, "name")?;
        required(&body.password, "password")?;
    }
    let ip = client_ip(&req, &state);
    let answer = crate::traces::block("invite_accept", move || -> Result<NewAccount, ApiError> {
        let now = state.now();
        let mut conn = state.store.conn()?;
        let acceptor = match &caller {
            Some(c) => accounts::Acceptor::Existing {
                user_id: &c.user.id,
            },
            None => accounts::Acceptor::NewAccount {
                name: body.name.as_deref().unwrap_or_default(),
                password: body.password.as_deref().unwrap_or_default(),
            },
        };
        let (user, org, role) = crate::account::accept_invite(
            &state,
            &mut conn,
            &invite_id,
            &token,
            acceptor,
            ip.as_deref(),
        )?;
        // An existing account signed in already to accept; a new one is as at sign-up.
        let session = sign_in_new_account(&state, &mut conn, &user, now)?;
        Ok(NewAccount::new(session, &user, org_json(&org, role)))
    })
    .await??;
    Ok(json_no_store(StatusCode::OK, answer))
}
