//! The second factor in the browser.
//!
//! - `/login/mfa`: the step after the password (or after a one-factor session, for step-up:
//!   `acr_values=urn:portcullis:mfa`, or an organization requiring a second factor). The
//!   sign-in's challenge travels in the `pcl_mfa` cookie; a signed-in browser that comes here
//!   gets a challenge for its own session. A user without an authenticator who must have one
//!   sets it up here, and is shown the recovery codes before going on. No session exists until
//!   the second factor is given; then a new one (a fresh id) replaces any the browser had.
//! - `/account/security`: setting up and removing the authenticator app, and new recovery
//!   codes.
//!
//! No JavaScript: the QR code is an inline SVG drawn on the server.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use primitives::PlainSecret;
use serde::Deserialize;
use serde_json::json;

use super::account_pages::{limited, notice, too_many};
use super::pages::{begin_session, safe_return_to, see_other};
use super::passkey_pages;
use crate::account::blocking;
use crate::audit::Event;
use crate::auth::client_ip;
use crate::errors::PageError;
use crate::errors::page::{json_answer, passkey_refusal as passkey_answer, refusal};
use crate::i18n::filters;
use crate::mfa;
use crate::pages::render;
use crate::passkeys;
use crate::ratelimit::Limit;
use crate::session::{
    CsrfChecked, CsrfOnly, MFA_COOKIE, MaybeSignedIn, PreSessionChecked, ReturnToAccount, SignedIn,
    csrf_forms, mfa_cookie, mfa_removal, pre_session_csrf, with_csrf_cookie,
};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/login/mfa", web::get().to(mfa_page))
        .route("/login/mfa", web::post().to(mfa_submit))
        .route("/account/security", web::get().to(security_page))
        .route("/account/security/totp", web::post().to(security_start))
        .route(
            "/account/security/totp/confirm",
            web::post().to(security_confirm),
        )
        .route(
            "/account/security/totp/remove",
            web::post().to(security_remove),
        )
        .route(
            "/account/security/recovery-codes",
            web::post().to(security_codes),
        )
        .route("/login/mfa/passkey/start", web::post().to(passkey_start))
        .route("/login/mfa/passkey/finish", web::post().to(passkey_finish));
}

fn internal(e: &dyn std::fmt::Display) -> PageError {
    PageError::internal(e)
}

/// The server has no encryption keys, so no authenticator can be set up or checked.
fn unavailable() -> PageError {
    PageError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        title: "Two-step sign-in is unavailable",
        message: "This server cannot check authenticator codes yet: its operator has to set PORTCULLIS_ENCRYPTION_KEYS.".into(),
    }
}

/// After a right password: the challenge's cookie, and on to `/login/mfa`.
pub(super) fn to_second_factor(
    state: &AppState,
    token: &PlainSecret,
    return_to: &str,
    add: bool,
) -> Result<HttpResponse, PageError> {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("return_to", return_to);
    if add {
        q.append_pair("add", "1");
    }
    let mut res = see_other(&format!("/login/mfa?{}", q.finish()));
    res.add_cookie(&mfa_cookie(state, token.expose().to_owned()))
        .map_err(|e| internal(&e))?;
    Ok(res)
}

pub(crate) enum MfaStep {
    Code,
    Enrol { qr: String, secret: String },
    RecoveryCodes { codes: Vec<String>, next: String },
}

#[derive(Template)]
#[template(path = "mfa.html")]
struct MfaPage<'a> {
    step: MfaStep,
    csrf: &'a str,
    return_to: &'a str,
    email: &'a str,
    why: &'a str,
    error: Option<&'a str>,
    /// The sign-in adds an account beside the browser's (the account chooser).
    add: bool,
    /// A passkey of the user may answer instead of a code.
    passkey: bool,
}

const WHY_ENROL: &str = "Your account needs a second step to sign in here.";

#[derive(Deserialize)]
struct ReturnTo {
    return_to: Option<String>,
    add: Option<String>,
}

/// The challenge this browser's sign-in is at: the cookie's, if live; else, for a signed-in
/// browser whose session has one factor, a new one for that session (`Some(token)` to set).
enum Found {
    Challenge(accounts::MfaChallenge, Option<PlainSecret>),
    /// A session with two factors already: nothing to ask.
    Done,
    /// Neither: sign in first.
    Nothing,
}

async fn find(
    state: &AppState,
    req: &HttpRequest,
    signed_in: &MaybeSignedIn,
) -> Result<Found, PageError> {
    let cookie = req.cookie(MFA_COOKIE).map(|c| c.value().to_owned());
    let session = signed_in.0.as_ref().map(|s| s.session.clone());
    let st = state.clone();
    crate::traces::block("mfa_find", move || {
        let mut conn = st.store.conn().map_err(|e| internal(&e))?;
        let now = st.now();
        if let Some(token) = cookie {
            match accounts::find_challenge(&mut conn, &token, now) {
                // A challenge for another account than the session's is not this sign-in's.
                Ok(c) if session.as_ref().is_none_or(|s| s.user_id == c.user.id) => {
                    return Ok(Found::Challenge(c, None));
                }
                Ok(_) | Err(accounts::AccountError::ChallengeInvalid) => {}
                Err(e) => return Err(internal(&e)),
            }
        }
        let Some(session) = session else {
            return Ok(Found::Nothing);
        };
        if session.amr.is_multi_factor() {
            return Ok(Found::Done);
        }
        let token = accounts::start_challenge(&mut conn, &session.user_id, &session.amr, now)
            .map_err(|e| internal(&e))?;
        let challenge =
            accounts::find_challenge(&mut conn, token.expose(), now).map_err(|e| internal(&e))?;
        Ok(Found::Challenge(challenge, Some(token)))
    })
    .await
    .map_err(|e| internal(&e))?
}

/// The step to show for a challenge: the code form, or, without an authenticator, a new (or
/// the pending) one to set up; and whether a passkey of the user may answer instead.
async fn step_for(state: &AppState, user: &accounts::User) -> Result<(MfaStep, bool), PageError> {
    let st = state.clone();
    let user = user.clone();
    crate::traces::block("mfa_step", move || {
        let mut conn = st.store.conn().map_err(|e| internal(&e))?;
        let passkey = st.passkeys.is_some()
            && !passkeys::list(&mut conn, &user.id)
                .map_err(|e| internal(&e))?
                .is_empty();
        let factors = accounts::second_factors(&mut conn, &user.id).map_err(|e| internal(&e))?;
        if factors.any() {
            return Ok((MfaStep::Code, passkey));
        }
        let ring = mfa::key_ring(&st).map_err(|_| unavailable())?;
        let brand = &st.settings.brand_name;
        let enrolment = match accounts::pending_totp(&mut conn, ring, &user, brand) {
            Ok(Some(pending)) => pending,
            Ok(None) => accounts::start_totp(&mut conn, ring, &user, brand, st.now())
                .map_err(|e| internal(&e))?,
            Err(e) => return Err(internal(&e)),
        };
        let step = MfaStep::Enrol {
            qr: mfa::qr_svg(&enrolment.otpauth_uri),
            secret: enrolment.secret,
        };
        Ok((step, passkey))
    })
    .await
    .map_err(|e| internal(&e))?
}

fn expired(state: &AppState, return_to: &str) -> HttpResponse {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("return_to", return_to);
    let login = format!("/login?{}", q.finish());
    let mut res = notice(
        StatusCode::BAD_REQUEST,
        "This sign-in has expired",
        "Too much time passed, or too many wrong codes were tried. Sign in again.",
        Some((&login, "Sign in")),
    );
    let _ = res.add_removal_cookie(&mfa_removal(state));
    res
}

/// `GET /login/mfa?return_to=`: the second step.
async fn mfa_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<ReturnTo>,
    signed_in: MaybeSignedIn,
) -> Result<HttpResponse, PageError> {
    let return_to = safe_return_to(q.return_to.as_deref());
    let (challenge, new_token) = match find(&state, &req, &signed_in).await? {
        Found::Challenge(c, token) => (c, token),
        Found::Done => return Ok(see_other(&return_to)),
        Found::Nothing => {
            let mut login = url::form_urlencoded::Serializer::new(String::new());
            login.append_pair("return_to", &return_to);
            return Ok(see_other(&format!("/login?{}", login.finish())));
        }
    };
    let (step, passkey) = step_for(&state, &challenge.user).await?;
    let (csrf, is_new) = pre_session_csrf(&req);
    let page = MfaPage {
        step,
        csrf: &csrf,
        return_to: &return_to,
        email: &challenge.user.email,
        why: WHY_ENROL,
        error: None,
        add: q.add.is_some(),
        passkey,
    };
    let mut res = with_csrf_cookie(&state, render(StatusCode::OK, &page), &csrf, is_new);
    res.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    if let Some(token) = new_token {
        res.add_cookie(&mfa_cookie(&state, token.expose().to_owned()))
            .map_err(|e| internal(&e))?;
    }
    Ok(res)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CodeForm {
    csrf_token: String,
    code: String,
    return_to: String,
    add: String,
}

/// What answering the challenge came to.
enum Answer {
    SignedIn(accounts::AuthMethods),
    Enrolled(accounts::AuthMethods, accounts::RecoveryCodes),
    Wrong,
    Expired,
}

/// `POST /login/mfa`: checks the code (or confirms the authenticator being set up), then signs
/// in with both factors.
async fn mfa_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    checked: PreSessionChecked<CodeForm>,
    previous: MaybeSignedIn,
) -> Result<HttpResponse, PageError> {
    let PreSessionChecked { form, csrf } = checked;
    let return_to = safe_return_to(Some(&form.return_to));
    let add = form.add == "1";
    let Some(token) = req.cookie(MFA_COOKIE).map(|c| c.value().to_owned()) else {
        return Ok(expired(&state, &return_to));
    };
    let now = state.now();
    let ip = match limited(&state, &req) {
        Ok(ip) => ip,
        Err(retry_after) => return Ok(too_many(retry_after)),
    };
    let st = state.clone();
    let (code, audit_ip) = (form.code.clone(), ip.clone());
    let outcome = crate::traces::block("mfa_submit", move || {
        let mut conn = st.store.conn().map_err(|e| internal(&e))?;
        let challenge = match accounts::find_challenge(&mut conn, &token, now) {
            Ok(c) => c,
            Err(accounts::AccountError::ChallengeInvalid) => return Ok((Answer::Expired, None)),
            Err(e) => return Err(internal(&e)),
        };
        let email = challenge.user.email.clone();
        if let Err(t) = st.throttle.check(&email, audit_ip.as_deref(), now) {
            return Ok((Answer::Wrong, Some((challenge, Some(t.retry_after)))));
        }
        let ring = mfa::key_ring(&st).map_err(|_| unavailable())?;
        let enrolled = accounts::second_factors(&mut conn, &challenge.user.id)
            .map_err(|e| internal(&e))?
            .any();
        let answer = if enrolled {
            accounts::answer_challenge(&mut conn, ring, &challenge, &code, now)
                .map(Answer::SignedIn)
        } else {
            accounts::enrol_through_challenge(&mut conn, ring, &challenge, &code, now)
                .map(|(amr, codes)| Answer::Enrolled(amr, codes))
        };
        let user_id = challenge.user.id.clone();
        match answer {
            Ok(answer) => {
                st.throttle.record_success(&email);
                let amr = match &answer {
                    Answer::SignedIn(amr) | Answer::Enrolled(amr, _) => amr.claim(),
                    _ => Vec::new(),
                };
                let detail = json!({ "via": "page", "amr": amr });
                let event = Event::login_succeeded(&user_id, audit_ip.as_deref(), detail);
                crate::audit::record(&mut conn, now, event);
                if !enrolled {
                    let event = Event::new("mfa.enabled")
                        .actor(Some(&user_id))
                        .ip(audit_ip.as_deref())
                        .detail(json!({ "method": "totp", "via": "sign-in" }));
                    crate::audit::record(&mut conn, now, event);
                }
                Ok((answer, Some((challenge, None))))
            }
            Err(accounts::AccountError::WrongCode) => {
                st.throttle.record_failure(&email, audit_ip.as_deref(), now);
                let detail = json!({ "via": "page", "factor": "second" });
                let event = Event::login_failed(&mut conn, &email, audit_ip.as_deref(), detail);
                crate::audit::record(&mut conn, now, event);
                Ok((Answer::Wrong, Some((challenge, None))))
            }
            Err(accounts::AccountError::ChallengeInvalid) => Ok((Answer::Expired, None)),
            Err(e) => Err(internal(&e)),
        }
    })
    .await
    .map_err(|e| internal(&e))??;
    let (answer, found) = outcome;
    let Some((challenge, throttled)) = found else {
        return Ok(expired(&state, &return_to));
    };
    if let Some(retry_after) = throttled {
        return Ok(too_many(retry_after));
    }
    let user_id = challenge.user.id.clone();
    match answer {
        Answer::SignedIn(amr) => {
            let begun = begin_session(&state, &req, previous, user_id, amr, add).await?;
            let next = super::authorize::return_after_sign_in(&return_to, &begun.session);
            let mut res = see_other(&next);
            begun.set_cookies(&mut res)?;
            res.add_removal_cookie(&mfa_removal(&state))
                .map_err(|e| internal(&e))?;
            Ok(res)
        }
        Answer::Enrolled(amr, codes) => {
            let begun = begin_session(&state, &req, previous, user_id, amr, add).await?;
            let next = super::authorize::return_after_sign_in(&return_to, &begun.session);
            let page = MfaPage {
                step: MfaStep::RecoveryCodes {
                    codes: codes.0,
                    next,
                },
                csrf: &csrf,
                return_to: &return_to,
                email: &challenge.user.email,
                why: WHY_ENROL,
                error: None,
                add,
                passkey: false,
            };
            let mut res = render(StatusCode::OK, &page);
            res.headers_mut().insert(
                actix_web::http::header::CACHE_CONTROL,
                actix_web::http::header::HeaderValue::from_static("no-store"),
            );
            begun.set_cookies(&mut res)?;
            res.add_removal_cookie(&mfa_removal(&state))
                .map_err(|e| internal(&e))?;
            Ok(res)
        }
        Answer::Wrong => {
            let (step, passkey) = step_for(&state, &challenge.user).await?;
            let page = MfaPage {
                step,
                csrf: &csrf,
                return_to: &return_to,
                email: &challenge.user.email,
                why: WHY_ENROL,
                error: Some("The code is wrong, or was used already. Try the next one."),
                add,
                passkey,
            };
            Ok(render(StatusCode::UNAUTHORIZED, &page))
        }
        Answer::Expired => Ok(expired(&state, &return_to)),
    }
}

// ---- /account/security ----

#[derive(Template)]
#[template(path = "security.html")]
struct SecurityPage<'a> {
    csrf: &'a str,
    email: &'a str,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    totp: bool,
    codes_left: i64,
    /// An authenticator being set up: its QR code (SVG) and key.
    pending: Option<(String, String)>,
    /// Recovery codes to show this once.
    codes: Option<Vec<String>>,
    /// An organization of the user requires a second factor.
    required: bool,
}

#[derive(Deserialize)]
struct NoticeQuery {
    notice: Option<String>,
}

fn security_notice(key: Option<&str>) -> Option<&'static str> {
    match key? {
        "totp_removed" => {
            Some("The authenticator app is removed: signing in asks for your password alone.")
        }
        _ => None,
    }
}

/// The security page, with a notice, an error or recovery codes to show.
async fn security_view(
    state: &AppState,
    signed_in: &SignedIn<ReturnToAccount>,
    notice: Option<&str>,
    error: Option<&str>,
    codes: Option<Vec<String>>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let st = state.clone();
    let user = signed_in.user.clone();
    let (factors, pending, required) = crate::traces::block("security_view", move || {
        let mut conn = st.store.conn().map_err(|e| internal(&e))?;
        let factors = accounts::second_factors(&mut conn, &user.id).map_err(|e| internal(&e))?;
        let pending = match mfa::key_ring(&st) {
            Ok(ring) if !factors.totp => {
                accounts::pending_totp(&mut conn, ring, &user, &st.settings.brand_name)
                    .map_err(|e| internal(&e))?
            }
            _ => None,
        };
        let required =
            accounts::mfa_required_by_org(&mut conn, &user.id).map_err(|e| internal(&e))?;
        Ok::<_, PageError>((factors, pending, required))
    })
    .await
    .map_err(|e| internal(&e))??;
    let page = SecurityPage {
        csrf: signed_in.csrf(),
        email: &signed_in.user.email,
        notice,
        error,
        totp: factors.totp,
        codes_left: factors.recovery_codes_left,
        pending: pending.map(|p| (mfa::qr_svg(&p.otpauth_uri), p.secret)),
        codes,
        required,
    };
    let mut res = render(status, &page);
    res.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}

async fn security_page(
    state: web::Data<AppState>,
    signed_in: SignedIn<ReturnToAccount>,
    q: web::Query<NoticeQuery>,
) -> Result<HttpResponse, PageError> {
    let notice = security_notice(q.notice.as_deref());
    security_view(&state, &signed_in, notice, None, None, StatusCode::OK).await
}

/// A security form's failure, on the security page; `Err` for what is not the user's to fix.
async fn security_failed(
    state: &AppState,
    signed_in: &SignedIn<ReturnToAccount>,
    e: accounts::AccountError,
) -> Result<HttpResponse, PageError> {
    use accounts::AccountError as E;
    let (status, message) = match &e {
        E::WrongPassword => (StatusCode::FORBIDDEN, "The password is wrong."),
        E::WrongCode => (
            StatusCode::BAD_REQUEST,
            "The code is wrong. Check the app's clock, and enter the code it shows now.",
        ),
        E::MfaAlreadyEnabled => (StatusCode::CONFLICT, "An authenticator app is on already."),
        E::MfaNotEnabled => (StatusCode::CONFLICT, "No authenticator app is set up."),
        E::MfaUnavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Authenticator apps are not available on this server yet: its operator has to set PORTCULLIS_ENCRYPTION_KEYS.",
        ),
        _ => return Err(internal(&e)),
    };
    security_view(state, signed_in, None, Some(message), None, status).await
}

/// `POST /account/security/totp`: a new authenticator to set up.
async fn security_start(
    state: web::Data<AppState>,
    checked: CsrfChecked<CsrfOnly, ReturnToAccount>,
) -> Result<HttpResponse, PageError> {
    let user = checked.signed_in.user.clone();
    let outcome = blocking(&state, move |st, conn| {
        let ring = mfa::key_ring(st)?;
        accounts::start_totp(conn, ring, &user, &st.settings.brand_name, st.now())
    })
    .await?;
    match outcome {
        Ok(_) => Ok(see_other("/account/security")),
        Err(e) => security_failed(&state, &checked.signed_in, e).await,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ConfirmForm {
    csrf_token: String,
    code: String,
}

/// `POST /account/security/totp/confirm`: turns the authenticator on; the recovery codes.
async fn security_confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    checked: CsrfChecked<ConfirmForm, ReturnToAccount>,
) -> Result<HttpResponse, PageError> {
    let CsrfChecked { signed_in, form } = checked;
    let ip = match limited(&state, &req) {
        Ok(ip) => ip,
        Err(retry_after) => return Ok(too_many(retry_after)),
    };
    let user_id = signed_in.user.id.clone();
    let outcome = blocking(&state, move |st, conn| {
        let ring = mfa::key_ring(st)?;
        let now = st.now();
        let codes = accounts::confirm_totp(conn, ring, &user_id, &form.code, now)?;
        let event = Event::new("mfa.enabled")
            .actor(Some(&user_id))
            .ip(ip.as_deref())
            .detail(json!({ "method": "totp", "via": "page" }));
        crate::audit::record(conn, now, event);
        Ok(codes)
    })
    .await?;
    codes_answer(&state, &signed_in, outcome, "Two-step sign-in is on.").await
}

/// The security page with new recovery codes shown once, or the form's failure.
async fn codes_answer(
    state: &AppState,
    signed_in: &SignedIn<ReturnToAccount>,
    outcome: Result<accounts::RecoveryCodes, accounts::AccountError>,
    notice: &str,
) -> Result<HttpResponse, PageError> {
    match outcome {
        Ok(codes) => {
            let (notice, codes) = (Some(notice), Some(codes.0));
            security_view(state, signed_in, notice, None, codes, StatusCode::OK).await
        }
        Err(e) => security_failed(state, signed_in, e).await,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PasswordForm {
    csrf_token: String,
    password: String,
}

/// `POST /account/security/totp/remove`: on the password.
async fn security_remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    checked: CsrfChecked<PasswordForm, ReturnToAccount>,
) -> Result<HttpResponse, PageError> {
    let CsrfChecked { signed_in, form } = checked;
    let ip = client_ip(&req, &state);
    let user_id = signed_in.user.id.clone();
    let outcome = blocking(&state, move |st, conn| {
        let proof = accounts::confirm_password(conn, &user_id, &form.password, &st.hasher)?;
        accounts::remove_totp(conn, &proof)?;
        let event = Event::new("mfa.removed")
            .actor(Some(&user_id))
            .ip(ip.as_deref())
            .detail(json!({ "method": "totp", "via": "page" }));
        crate::audit::record(conn, st.now(), event);
        Ok(())
    })
    .await?;
    match outcome {
        Ok(()) => Ok(see_other("/account/security?notice=totp_removed")),
        Err(e) => security_failed(&state, &signed_in, e).await,
    }
}

/// `POST /account/security/recovery-codes`: new codes, on the password.
async fn security_codes(
    req: HttpRequest,
    state: web::Data<AppState>,
    checked: CsrfChecked<PasswordForm, ReturnToAccount>,
) -> Result<HttpResponse, PageError> {
    let CsrfChecked { signed_in, form } = checked;
    let ip = client_ip(&req, &state);
    let user_id = signed_in.user.id.clone();
    let outcome = blocking(&state, move |st, conn| {
        let proof = accounts::confirm_password(conn, &user_id, &form.password, &st.hasher)?;
        let now = st.now();
        let codes = accounts::regenerate_recovery_codes(conn, &proof, now)?;
        let event = Event::new("mfa.recovery_codes_renewed")
            .actor(Some(&user_id))
            .ip(ip.as_deref())
            .detail(json!({ "via": "page" }));
        crate::audit::record(conn, now, event);
        Ok(codes)
    })
    .await?;
    let notice = "New recovery codes: the old ones no longer work.";
    codes_answer(&state, &signed_in, outcome, notice).await
}

// ---- a passkey as the second factor ----

fn expired_json() -> HttpResponse {
    refusal(
        StatusCode::BAD_REQUEST,
        "sign_in_expired",
        "This sign-in has expired. Sign in again.",
    )
}

/// `POST /login/mfa/passkey/start`: the options for one of the challenge's user's passkeys.
async fn passkey_start(
    req: HttpRequest,
    state: web::Data<AppState>,
    _checked: PreSessionChecked<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let Some(rp) = state.passkeys.clone() else {
        return Ok(passkey_pages::unavailable());
    };
    let ip = client_ip(&req, &state);
    if let Err(retry_after) = state.limits.check(Limit::Login, ip.as_deref(), state.now()) {
        return Ok(passkey_pages::too_many(retry_after));
    }
    let Some(token) = req.cookie(MFA_COOKIE).map(|c| c.value().to_owned()) else {
        return Ok(expired_json());
    };
    let st = state.clone();
    let started = crate::traces::block("passkey_start", move || {
        let mut conn = st.store.conn().map_err(|e| internal(&e))?;
        let now = st.now();
        let challenge = match accounts::find_challenge(&mut conn, &token, now) {
            Ok(c) => c,
            Err(accounts::AccountError::ChallengeInvalid) => return Ok(None),
            Err(e) => return Err(internal(&e)),
        };
        Ok(Some(passkeys::start_for_user(
            &rp,
            &mut conn,
            &challenge.user.id,
            now,
        )))
    })
    .await
    .map_err(|e| internal(&e))??;
    Ok(match started {
        None => expired_json(),
        Some(Ok(Some(started))) => passkey_pages::started(started),
        Some(Ok(None)) => refusal(
            StatusCode::NOT_FOUND,
            "no_passkey",
            "This account has no passkey: enter a code instead.",
        ),
        Some(Err(e)) => passkey_answer(&e),
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PasskeyFactorForm {
    csrf_token: String,
    ceremony: String,
    credential: String,
    return_to: String,
    add: String,
}

/// What a passkey as the second factor came to.
enum PasskeyFactor {
    Yes(String, accounts::AuthMethods),
    No,
    Expired,
    Throttled(i64),
    Refused(crate::passkeys::PasskeyError),
}

/// `POST /login/mfa/passkey/finish`: the challenge passes on one of its user's passkeys
/// (`hwk user`); then signed in as the code form signs in, answered as JSON `{"location"}`.
/// A passkey that does not verify counts against the challenge and the throttle as a wrong
/// code does.
async fn passkey_finish(
    req: HttpRequest,
    state: web::Data<AppState>,
    checked: PreSessionChecked<PasskeyFactorForm>,
    previous: MaybeSignedIn,
) -> Result<HttpResponse, PageError> {
    let form = checked.form;
    let Some(rp) = state.passkeys.clone() else {
        return Ok(passkey_pages::unavailable());
    };
    let return_to = safe_return_to(Some(&form.return_to));
    let add = form.add == "1";
    let ip = client_ip(&req, &state);
    let now = state.now();
    if let Err(retry_after) = state.limits.check(Limit::Login, ip.as_deref(), now) {
        return Ok(passkey_pages::too_many(retry_after));
    }
    let Some(token) = req.cookie(MFA_COOKIE).map(|c| c.value().to_owned()) else {
        return Ok(expired_json());
    };
    let st = state.clone();
    let outcome = crate::traces::block("passkey_finish", move || {
        let mut conn = st.store.conn().map_err(|e| internal(&e))?;
        let challenge = match accounts::find_challenge(&mut conn, &token, now) {
            Ok(c) => c,
            Err(accounts::AccountError::ChallengeInvalid) => return Ok(PasskeyFactor::Expired),
            Err(e) => return Err(internal(&e)),
        };
        let user = challenge.user.clone();
        if let Err(t) = st.throttle.check(&user.email, ip.as_deref(), now) {
            return Ok(PasskeyFactor::Throttled(t.retry_after));
        }
        let verified = passkeys::finish_for_user(
            &rp,
            &mut conn,
            &user.id,
            &form.ceremony,
            &form.credential,
            now,
        );
        match verified {
            Ok(true) => {
                let methods = [accounts::AuthMethod::Hwk, accounts::AuthMethod::User];
                let amr = match accounts::pass_challenge(&mut conn, &challenge, &methods) {
                    Ok(amr) => amr,
                    Err(accounts::AccountError::ChallengeInvalid) => {
                        return Ok(PasskeyFactor::Expired);
                    }
                    Err(e) => return Err(internal(&e)),
                };
                st.throttle.record_success(&user.email);
                let detail = json!({ "via": "page", "amr": amr.claim() });
                let event = Event::login_succeeded(&user.id, ip.as_deref(), detail);
                crate::audit::record(&mut conn, now, event);
                Ok(PasskeyFactor::Yes(user.id, amr))
            }
            Ok(false) => {
                accounts::fail_challenge(&mut conn, &challenge).map_err(|e| internal(&e))?;
                st.throttle.record_failure(&user.email, ip.as_deref(), now);
                let detail = json!({ "via": "passkey", "factor": "second" });
                let event = Event::login_failed(&mut conn, &user.email, ip.as_deref(), detail);
                crate::audit::record(&mut conn, now, event);
                Ok(PasskeyFactor::No)
            }
            Err(e) => Ok(PasskeyFactor::Refused(e)),
        }
    })
    .await
    .map_err(|e| internal(&e))??;
    let (user_id, amr) = match outcome {
        PasskeyFactor::Yes(user_id, amr) => (user_id, amr),
        PasskeyFactor::No => {
            return Ok(refusal(
                StatusCode::UNAUTHORIZED,
                "passkey_not_verified",
                "That passkey did not verify. Try again, or enter a code.",
            ));
        }
        PasskeyFactor::Expired => return Ok(expired_json()),
        PasskeyFactor::Throttled(retry_after) => return Ok(passkey_pages::too_many(retry_after)),
        PasskeyFactor::Refused(e) => return Ok(passkey_answer(&e)),
    };
    let begun = begin_session(&state, &req, previous, user_id, amr, add).await?;
    let next = super::authorize::return_after_sign_in(&return_to, &begun.session);
    let mut res = json_answer(StatusCode::OK, json!({ "location": next }));
    begun.set_cookies(&mut res)?;
    res.add_removal_cookie(&mfa_removal(&state))
        .map_err(|e| internal(&e))?;
    Ok(res)
}

csrf_forms!(CodeForm, ConfirmForm, PasswordForm, PasskeyFactorForm);
