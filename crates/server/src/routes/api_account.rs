//! The account's own JSON API: mailed links (`/api/v1/auth/verify-email`, `…/password/forgot`,
//! `…/password/reset`) and managing one's own account (`PATCH|DELETE /api/v1/me`,
//! `/api/v1/me/password`, `/api/v1/me/email`, `/api/v1/me/verify-email`). Routes and their
//! rules: `routes/api.rs`; the flows: `crate::account`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::api_auth::{UserAnswer, required};
use crate::access::FirstPartyUser;
use crate::auth::client_ip;
use crate::errors::{ApiError, json_no_store};
use crate::flows::sign_in;
use crate::ratelimit::Limit;
use crate::state::AppState;

/// A request taken: a sentence saying what happens next.
#[derive(Serialize, ToSchema)]
pub(super) struct Message {
    message: String,
}

/// The answer to a request for mail: the same whether or not a message went out.
fn accepted(message: &str) -> HttpResponse {
    json_no_store(
        StatusCode::ACCEPTED,
        Message {
            message: message.to_owned(),
        },
    )
}

/// `POST /api/v1/me/email`: the address waiting for its link to be followed.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct EmailChange {
    pending_email: String,
    message: String,
}

fn limit(req: &HttpRequest, state: &AppState) -> Result<Option<String>, ApiError> {
    let ip = client_ip(req, state);
    state
        .limits
        .check(Limit::Login, ip.as_deref(), state.now())
        .map_err(ApiError::rate_limited)?;
    Ok(ip)
}

#[derive(Deserialize, ToSchema)]
pub(super) struct TokenBody {
    token: Option<String>,
}

/// `POST /api/v1/auth/verify-email {"token"}`: follows a verification or address-change link.
pub(super) async fn verify_email(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<TokenBody>,
) -> Result<HttpResponse, ApiError> {
    let token = required(&body.token, "token")?.to_owned();
    let ip = client_ip(&req, &state);
    let user = crate::traces::block("verify_email", move || -> Result<_, ApiError> {
        let mut conn = state.store.conn()?;
        Ok(crate::account::confirm_email(
            &state,
            &mut conn,
            &token,
            ip.as_deref(),
        )?)
    })
    .await??;
    Ok(json_no_store(StatusCode::OK, UserAnswer::new(&user)))
}

#[derive(Deserialize, ToSchema)]
pub(super) struct EmailBody {
    email: Option<String>,
}

/// `POST /api/v1/auth/verify-email/resend {"email"}`: for someone who cannot sign in before
/// verifying. 202 whatever the address.
pub(super) async fn resend_verification(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<EmailBody>,
) -> Result<HttpResponse, ApiError> {
    let email = required(&body.email, "email")?.to_owned();
    limit(&req, &state)?;
    // The work is done after the answer, so its time tells nothing either.
    crate::account::after_answer(state, move |state, conn| {
        crate::account::resend_verification_to(state, conn, &email);
    });
    Ok(accepted(
        "If an account with this address is waiting for verification, a new link is on its way.",
    ))
}

/// `POST /api/v1/auth/password/forgot {"email"}`: 202 whatever the address.
pub(super) async fn forgot_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<EmailBody>,
) -> Result<HttpResponse, ApiError> {
    let email = required(&body.email, "email")?.to_owned();
    let ip = limit(&req, &state)?;
    crate::account::after_answer(state, move |state, conn| {
        crate::account::forgot_password(state, conn, &email, ip.as_deref());
    });
    Ok(accepted(
        "If an account exists for this address, a link to reset its password is on its way.",
    ))
}

#[derive(Deserialize, ToSchema)]
pub(super) struct ResetBody {
    token: Option<String>,
    password: Option<String>,
}

/// `POST /api/v1/auth/password/reset {"token","password"}`: sets the password; every session
/// and refresh token of the user ends.
pub(super) async fn reset_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<ResetBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let token = required(&body.token, "token")?.to_owned();
    let password = required(&body.password, "password")?.to_owned();
    let ip = limit(&req, &state)?;
    crate::traces::block("reset_password", move || -> Result<_, ApiError> {
        let mut conn = state.store.conn()?;
        crate::account::reset_password(&state, &mut conn, &token, &password, ip.as_deref())?;
        Ok(())
    })
    .await??;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
pub(super) struct ProfileBody {
    name: Option<String>,
}

/// `PATCH /api/v1/me {"name"}`.
pub(super) async fn update_me(
    req: HttpRequest,
    caller: FirstPartyUser,
    state: web::Data<AppState>,
    body: web::Json<ProfileBody>,
) -> Result<HttpResponse, ApiError> {
    let name = required(&body.name, "name")?.to_owned();
    let ip = client_ip(&req, &state);
    let user = crate::traces::block("update_me", move || -> Result<_, ApiError> {
        let mut conn = state.store.conn()?;
        Ok(crate::account::rename(
            &state,
            &mut conn,
            &caller.user.id,
            &name,
            ip.as_deref(),
        )?)
    })
    .await??;
    Ok(json_no_store(StatusCode::OK, UserAnswer::new(&user)))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct PasswordBody {
    current_password: Option<String>,
    new_password: Option<String>,
}

/// `POST /api/v1/me/password {"currentPassword","newPassword"}`: every session and refresh
/// token of the user ends, this caller's too; the answer is a fresh sign-in
/// (`{token, refreshToken, expiresIn}`) so the caller goes on.
pub(super) async fn change_password(
    req: HttpRequest,
    caller: FirstPartyUser,
    state: web::Data<AppState>,
    body: web::Json<PasswordBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let current = required(&body.current_password, "currentPassword")?.to_owned();
    let new = required(&body.new_password, "newPassword")?.to_owned();
    let ip = limit(&req, &state)?;
    let answer = crate::traces::block("change_password", move || -> Result<_, ApiError> {
        let mut conn = state.store.conn()?;
        let user = crate::account::change_password(
            &state,
            &mut conn,
            &caller.user.id,
            &current,
            &new,
            None,
            ip.as_deref(),
        )?;
        sign_in(
            &state,
            &mut conn,
            &user,
            &accounts::AuthMethods::password(),
            state.now(),
        )
    })
    .await??;
    Ok(json_no_store(StatusCode::OK, answer))
}

#[derive(Deserialize, ToSchema)]
pub(super) struct ChangeEmailBody {
    email: Option<String>,
    password: Option<String>,
}

/// `POST /api/v1/me/email {"email","password"}`: a link to the new address; the account's
/// address changes when it is followed.
pub(super) async fn change_email(
    req: HttpRequest,
    caller: FirstPartyUser,
    state: web::Data<AppState>,
    body: web::Json<ChangeEmailBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let email = required(&body.email, "email")?.to_owned();
    let password = required(&body.password, "password")?.to_owned();
    let ip = limit(&req, &state)?;
    let pending = crate::traces::block("change_email", move || -> Result<_, ApiError> {
        let mut conn = state.store.conn()?;
        Ok(crate::account::request_email_change(
            &state,
            &mut conn,
            &caller.user.id,
            &email,
            &password,
            ip.as_deref(),
        )?)
    })
    .await??;
    Ok(json_no_store(
        StatusCode::ACCEPTED,
        EmailChange {
            pending_email: pending,
            message: "Follow the link we sent to the new address to make it your account's."
                .to_owned(),
        },
    ))
}

#[derive(Deserialize, ToSchema)]
pub(super) struct PasswordOnly {
    password: Option<String>,
}

/// `DELETE /api/v1/me {"password"}`.
pub(super) async fn delete_me(
    req: HttpRequest,
    caller: FirstPartyUser,
    state: web::Data<AppState>,
    body: web::Json<PasswordOnly>,
) -> Result<HttpResponse, ApiError> {
    let password = required(&body.password, "password")?.to_owned();
    let ip = limit(&req, &state)?;
    crate::traces::block("delete_me", move || -> Result<_, ApiError> {
        let mut conn = state.store.conn()?;
        crate::account::delete_account(
            &state,
            &mut conn,
            &caller.user.id,
            &password,
            ip.as_deref(),
        )?;
        Ok(())
    })
    .await??;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/v1/me/verify-email`: sends the verification link again.
pub(super) async fn resend_my_verification(
    caller: FirstPartyUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    crate::traces::block("resend_my_verification", move || -> Result<_, ApiError> {
        let mut conn = state.store.conn()?;
        Ok(crate::account::resend_verification(
            &state,
            &mut conn,
            &caller.user.id,
        )?)
    })
    .await??;
    Ok(accepted("A new verification link is on its way."))
}
