//! The account's second factors over the JSON API (first-party tokens only; routes and their
//! rules: `routes/api.rs`): `GET /api/v1/me/mfa`, `POST /api/v1/me/mfa/totp` (a new secret and
//! its `otpauth://` URI), `POST /api/v1/me/mfa/totp/confirm` (enabled by a right code, with ten
//! recovery codes shown once), `DELETE /api/v1/me/mfa/totp` and
//! `POST /api/v1/me/mfa/recovery-codes` (both on the password).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::api_auth::required;
use crate::access::FirstPartyUser;
use crate::audit::Event;
use crate::auth::client_ip;
use crate::errors::{ApiError, json_no_store};
use crate::mfa;
use crate::ratelimit::Limit;
use crate::state::AppState;

/// Which second factors the account has.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct MfaStatus {
    /// Whether an authenticator app (TOTP) is set up.
    totp: bool,
    recovery_codes_left: i64,
}

/// A new TOTP secret, waiting for its first code (`POST /api/v1/me/mfa/totp/confirm`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct TotpEnrolment {
    secret: String,
    otpauth_uri: String,
}

/// The authenticator is on; the recovery codes are shown this once.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct TotpEnabled {
    enabled: bool,
    recovery_codes: Vec<String>,
}

/// New recovery codes, shown this once; the old ones no longer work.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct RecoveryCodes {
    recovery_codes: Vec<String>,
}

fn status_json(factors: &accounts::SecondFactors) -> MfaStatus {
    MfaStatus {
        totp: factors.totp,
        recovery_codes_left: factors.recovery_codes_left,
    }
}

/// `GET /api/v1/me/mfa`: which second factors the account has.
pub(super) async fn status(
    caller: FirstPartyUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let factors = crate::traces::block("mfa_status", move || -> Result<_, ApiError> {
        let mut conn = state.store.conn()?;
        Ok(accounts::second_factors(&mut conn, &caller.user.id)?)
    })
    .await??;
    Ok(json_no_store(StatusCode::OK, status_json(&factors)))
}

/// `POST /api/v1/me/mfa/totp`: a new TOTP secret to put in an authenticator app; it is enabled
/// once confirmed with a code.
pub(super) async fn start_totp(
    caller: FirstPartyUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let enrolment = crate::traces::block("totp_start", move || -> Result<_, ApiError> {
        let mut conn = state.store.conn()?;
        let ring = mfa::key_ring(&state)?;
        let brand = &state.settings.brand_name;
        Ok(accounts::start_totp(
            &mut conn,
            ring,
            &caller.user,
            brand,
            state.now(),
        )?)
    })
    .await??;
    Ok(json_no_store(
        StatusCode::CREATED,
        TotpEnrolment {
            secret: enrolment.secret,
            otpauth_uri: enrolment.otpauth_uri,
        },
    ))
}

#[derive(Deserialize, ToSchema)]
pub(super) struct CodeBody {
    code: Option<String>,
}

/// `POST /api/v1/me/mfa/totp/confirm {"code"}`: enables the authenticator; the answer's
/// `recoveryCodes` are shown this once.
pub(super) async fn confirm_totp(
    req: HttpRequest,
    caller: FirstPartyUser,
    state: web::Data<AppState>,
    body: web::Json<CodeBody>,
) -> Result<HttpResponse, ApiError> {
    let code = required(&body.code, "code")?.to_owned();
    let ip = client_ip(&req, &state);
    state
        .limits
        .check(Limit::Login, ip.as_deref(), state.now())
        .map_err(ApiError::rate_limited)?;
    let codes = crate::traces::block("totp_confirm", move || -> Result<_, ApiError> {
        let mut conn = state.store.conn()?;
        let ring = mfa::key_ring(&state)?;
        let now = state.now();
        let codes = accounts::confirm_totp(&mut conn, ring, &caller.user.id, &code, now)?;
        crate::audit::record(
            &mut conn,
            now,
            Event::new("mfa.enabled")
                .actor(Some(&caller.user.id))
                .ip(ip.as_deref())
                .detail(json!({ "method": "totp", "via": "api" })),
        );
        Ok(codes)
    })
    .await??;
    Ok(json_no_store(
        StatusCode::OK,
        TotpEnabled {
            enabled: true,
            recovery_codes: codes.0,
        },
    ))
}

#[derive(Deserialize, ToSchema)]
pub(super) struct PasswordBody {
    password: Option<String>,
}

/// The caller's password, checked against the sign-in rate limit first.
fn password_and_ip(
    req: &HttpRequest,
    state: &AppState,
    password: &Option<String>,
) -> Result<(String, Option<String>), ApiError> {
    let password = required(password, "password")?.to_owned();
    let ip = client_ip(req, state);
    state
        .limits
        .check(Limit::Login, ip.as_deref(), state.now())
        .map_err(ApiError::rate_limited)?;
    Ok((password, ip))
}

/// `DELETE /api/v1/me/mfa/totp {"password"}`: removes the authenticator and its recovery codes.
pub(super) async fn remove_totp(
    req: HttpRequest,
    caller: FirstPartyUser,
    state: web::Data<AppState>,
    body: web::Json<PasswordBody>,
) -> Result<HttpResponse, ApiError> {
    let (password, ip) = password_and_ip(&req, &state, &body.password)?;
    crate::traces::block("totp_remove", move || -> Result<(), ApiError> {
        let mut conn = state.store.conn()?;
        let user_id = &caller.user.id;
        let proof = accounts::confirm_password(&mut conn, user_id, &password, &state.hasher)?;
        accounts::remove_totp(&mut conn, &proof)?;
        crate::audit::record(
            &mut conn,
            state.now(),
            Event::new("mfa.removed")
                .actor(Some(user_id))
                .ip(ip.as_deref())
                .detail(json!({ "method": "totp", "via": "api" })),
        );
        Ok(())
    })
    .await??;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/v1/me/mfa/recovery-codes {"password"}`: ten new recovery codes, the old ones void.
pub(super) async fn recovery_codes(
    req: HttpRequest,
    caller: FirstPartyUser,
    state: web::Data<AppState>,
    body: web::Json<PasswordBody>,
) -> Result<HttpResponse, ApiError> {
    let (password, ip) = password_and_ip(&req, &state, &body.password)?;
    let codes = crate::traces::block("recovery_codes", move || -> Result<_, ApiError> {
        let mut conn = state.store.conn()?;
        let user_id = &caller.user.id;
        let proof = accounts::confirm_password(&mut conn, user_id, &password, &state.hasher)?;
        let now = state.now();
        let codes = accounts::regenerate_recovery_codes(&mut conn, &proof, now)?;
        crate::audit::record(
            &mut conn,
            now,
            Event::new("mfa.recovery_codes_renewed")
                .actor(Some(user_id))
                .ip(ip.as_deref())
                .detail(json!({ "via": "api" })),
        );
        Ok(codes)
    })
    .await??;
    Ok(json_no_store(
        StatusCode::OK,
        RecoveryCodes {
            recovery_codes: codes.0,
        },
    ))
}
