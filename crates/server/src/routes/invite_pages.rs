//! The invite page: `/invites/{id}?token=`, the link an invite's letter carries. It shows which
//! organization and role, then lets the invited person accept: signed in as the invited
//! address, with one button (`POST /invites/{id}/accept`); without an account, by making one on
//! the spot (`POST /invites/{id}/join`, whatever `PORTCULLIS_SIGNUP` says: invites always
//! work); with an account but signed out, by signing in first. No JavaScript; every form is
//! CSRF-checked by `crate::session`'s extractors. The flow: `crate::account::accept_invite`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::account_pages::{TokenQuery, notice};
use super::pages::see_other;
use crate::auth::client_ip;
use crate::errors::PageError;
use crate::i18n::filters;
use crate::pages::render;
use crate::session::{
    CsrfChecked, MaybeSignedIn, PreSessionChecked, ReturnToAccount, csrf_forms, pre_session_csrf,
    with_csrf_cookie,
};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/invites/{id}", web::get().to(invite_page))
        .route("/invites/{id}/accept", web::post().to(accept))
        .route("/invites/{id}/join", web::post().to(join));
}

/// What the invited person can do from here.
enum InviteStep {
    /// Signed in as the invited address.
    Accept,
    /// Signed in as someone else.
    OtherAccount(String),
    /// Not signed in; the address has an account.
    SignIn,
    /// Not signed in; no account yet.
    Join,
}

#[derive(Template)]
#[template(path = "invite.html")]
struct InvitePage<'a> {
    id: &'a str,
    token: &'a str,
    org: &'a str,
    role: &'a str,
    email: &'a str,
    csrf: &'a str,
    step: InviteStep,
    error: Option<&'a str>,
    name: &'a str,
    /// This page's own path, to come back to after signing in.
    here: String,
}

/// A refused invite, in words a person can act on.
fn invite_refused(e: &accounts::AccountError) -> Option<HttpResponse> {
    let (status, message) = match e {
        accounts::AccountError::NotFound => (
            StatusCode::NOT_FOUND,
            "This invitation does not exist, or the link is incomplete.",
        ),
        accounts::AccountError::InviteUsed => {
            (StatusCode::GONE, "This invitation was accepted already.")
        }
        accounts::AccountError::InviteExpired => (
            StatusCode::GONE,
            "This invitation has expired: ask whoever invited you for a new one.",
        ),
        accounts::AccountError::Forbidden => (
            StatusCode::FORBIDDEN,
            "This invitation is for another email address.",
        ),
        _ => return None,
    };
    Some(notice(
        status,
        "This invitation does not work",
        message,
        Some(("/account", "Go to your account")),
    ))
}

fn invite_path(id: &str, token: &str) -> String {
    format!(
        "/invites/{}?token={}",
        url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>(),
        url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
    )
}

async fn invite_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<TokenQuery>,
    signed_in: MaybeSignedIn,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let token = q.into_inner().token.unwrap_or_default();
    let (lookup_id, lookup_token) = (id.clone(), token.clone());
    let found = crate::account::blocking(&state, move |st, conn| {
        let (invite, org) = accounts::check_invite(conn, &lookup_id, &lookup_token, st.now())?;
        let has_account = accounts::find_user_by_email(conn, &invite.email)?.is_some();
        Ok((invite, org, has_account))
    })
    .await?;
    let (invite, org, has_account) = match found {
        Ok(found) => found,
        Err(e) => return invite_refused(&e).ok_or_else(|| PageError::internal(&e)),
    };
    let here = invite_path(&id, &token);
    let page = |csrf: &str, step: InviteStep| {
        render(
            StatusCode::OK,
            &InvitePage {
                id: &id,
                token: &token,
                org: &org.name,
                role: invite.role.as_str(),
                email: &invite.email,
                csrf,
                step,
                error: None,
                name: "",
                here: here.clone(),
            },
        )
    };
    if let Some(session) = signed_in.0 {
        let mine = accounts::normalize_email(&session.user.email)
            .is_ok_and(|(_, normalized)| normalized == invite.email);
        let step = if mine {
            InviteStep::Accept
        } else {
            InviteStep::OtherAccount(session.user.email.clone())
        };
        return Ok(page(&session.session.csrf_token, step));
    }
    let (csrf, is_new) = pre_session_csrf(&req);
    let step = if has_account {
        InviteStep::SignIn
    } else {
        InviteStep::Join
    };
    Ok(with_csrf_cookie(&state, page(&csrf, step), &csrf, is_new))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AcceptForm {
    csrf_token: String,
    token: String,
}

/// `POST /invites/{id}/accept`: the signed-in user joins (the invite must be for their
/// address).
async fn accept(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    checked: CsrfChecked<AcceptForm, ReturnToAccount>,
) -> Result<HttpResponse, PageError> {
    let CsrfChecked { signed_in, form } = checked;
    let id = path.into_inner();
    let ip = client_ip(&req, &state);
    let user_id = signed_in.user.id.clone();
    let accepted = crate::account::blocking(&state, move |st, conn| {
        crate::account::accept_invite(
            st,
            conn,
            &id,
            &form.token,
            accounts::Acceptor::Existing { user_id: &user_id },
            ip.as_deref(),
        )
    })
    .await?;
    match accepted {
        Ok(_) => Ok(see_other("/account?notice=invite_accepted")),
        Err(e) => invite_refused(&e).ok_or_else(|| PageError::internal(&e)),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JoinForm {
    csrf_token: String,
    token: String,
    name: String,
    password: String,
}

/// `POST /invites/{id}/join`: a new account for the invited address, in the organization, and
/// signed in (or, when addresses must be verified, sent to its mailbox first).
async fn join(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    checked: PreSessionChecked<JoinForm>,
    previous: MaybeSignedIn,
) -> Result<HttpResponse, PageError> {
    let PreSessionChecked { form, csrf } = checked;
    let id = path.into_inner();
    let ip = client_ip(&req, &state);
    let (accept_id, token, name, password) = (
        id.clone(),
        form.token.clone(),
        form.name.clone(),
        form.password.clone(),
    );
    let joined = crate::account::blocking(&state, move |st, conn| {
        crate::account::accept_invite(
            st,
            conn,
            &accept_id,
            &token,
            accounts::Acceptor::NewAccount {
                name: &name,
                password: &password,
            },
            ip.as_deref(),
        )
    })
    .await?;
    let (user, _, _) = match joined {
        Ok(joined) => joined,
        Err(accounts::AccountError::Invalid { field, message }) => {
            // The name or password: the form again, with what was typed.
            let again = crate::account::blocking(&state, {
                let (id, token) = (id.clone(), form.token.clone());
                move |st, conn| accounts::check_invite(conn, &id, &token, st.now())
            })
            .await?;
            let (invite, org) = match again {
                Ok(found) => found,
                Err(e) => return invite_refused(&e).ok_or_else(|| PageError::internal(&e)),
            };
            let error = format!("The {field} {message}.");
            return Ok(render(
                StatusCode::BAD_REQUEST,
                &InvitePage {
                    id: &id,
                    token: &form.token,
                    org: &org.name,
                    role: invite.role.as_str(),
                    email: &invite.email,
                    csrf: &csrf,
                    step: InviteStep::Join,
                    error: Some(&error),
                    name: &form.name,
                    here: invite_path(&id, &form.token),
                },
            ));
        }
        Err(accounts::AccountError::EmailTaken) => {
            return Ok(notice(
                StatusCode::CONFLICT,
                "There is an account for this address",
                "Sign in, then open the invitation link again to accept it.",
                Some(("/login", "Sign in")),
            ));
        }
        Err(e) => return invite_refused(&e).ok_or_else(|| PageError::internal(&e)),
    };
    super::pages::new_account_response(
        &state,
        &req,
        previous,
        user,
        "/account?notice=invite_accepted",
    )
    .await
}

csrf_forms!(AcceptForm, JoinForm);
