//! Passkeys in the browser: registering, renaming and removing them on `/account`, and signing
//! in with one on `/login`. The ceremonies need `navigator.credentials` (`static/passkeys.js`),
//! so their two steps are small JSON endpoints of the pages, bound to the browser's session
//! and CSRF token like the pages' forms (form-encoded bodies, so `crate::session`'s extractors
//! check them): `POST /account/passkeys/register/start|finish` (signed in, and signed in
//! recently), `POST /login/passkey/start|finish` (before sign-in, the `pcl_csrf` token). Renaming
//! and removing are plain forms. The flows: `crate::passkeys`.

use actix_web::http::StatusCode;
use actix_web::http::header::{LOCATION, RETRY_AFTER, SET_COOKIE};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::pages::{browser_name, safe_return_to, see_other, start_session_response};
use crate::audit::Event;
use crate::auth::client_ip;
use crate::errors::PageError;
use crate::errors::page::{json_answer, passkey_refusal as answer, refusal};
use crate::passkeys::{self, PasskeyError, PasskeyInfo, SignInFailure};
use crate::ratelimit::Limit;
use crate::session::{
    CsrfChecked, CsrfOnly, MaybeSignedIn, PreSessionChecked, ReturnToAccount, SignedIn, csrf_forms,
};
use crate::state::AppState;

/// Adding a passkey needs a sign-in at most this many seconds old (as Google and Auth0 ask):
/// a session left open on a shared computer does not let someone add a way in of their own.
pub const RECENT_SIGN_IN: i64 = 600;

/// Where a stale session goes to sign in again before adding a passkey.
const REAUTH: &str = "/login?reauth=1&return_to=/account";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/account/passkeys/register/start",
        web::post().to(register_start),
    )
    .route(
        "/account/passkeys/register/finish",
        web::post().to(register_finish),
    )
    .route("/account/passkeys/{id}/rename", web::post().to(rename))
    .route("/account/passkeys/{id}/delete", web::post().to(remove))
    .route("/login/passkey/start", web::post().to(sign_in_start))
    .route("/login/passkey/finish", web::post().to(sign_in_finish));
}

fn internal(e: &dyn std::fmt::Display) -> PageError {
    PageError::internal(e)
}

/// The answer when the issuer is an IP address (no relying party, no passkeys).
pub(super) fn unavailable() -> HttpResponse {
    refusal(
        StatusCode::NOT_FOUND,
        "passkeys_unavailable",
        "Passkeys are not available on this server.",
    )
}

pub(super) fn too_many(retry_after: i64) -> HttpResponse {
    let mut res = refusal(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "Too many attempts. Wait a minute and try again.",
    );
    res.headers_mut().insert(RETRY_AFTER, retry_after.into());
    res
}

/// A started ceremony as the script reads it.
pub(super) fn started(s: passkeys::Started) -> HttpResponse {
    json_answer(
        StatusCode::OK,
        json!({ "ceremony": s.ceremony, "options": s.options }),
    )
}

// ---- the account page's section ----

/// A passkey as the account page lists it.
pub(super) struct PasskeyView {
    pub id: String,
    pub name: String,
    pub label: String,
}

/// The account page's Passkeys section.
pub(super) struct PasskeysSection {
    /// Passkeys work on this server (the issuer is a host name).
    pub on: bool,
    /// The sign-in is too old to add one: the page links to signing in again.
    pub reauth: bool,
    pub items: Vec<PasskeyView>,
}

impl PasskeysSection {
    /// The section for a signed-in session and the user's passkeys.
    pub(super) fn new(
        state: &AppState,
        session: &accounts::Session,
        passkeys: Vec<PasskeyInfo>,
    ) -> Self {
        Self {
            on: state.passkeys.is_some(),
            reauth: !signed_in_recently(state, session),
            items: passkeys
                .into_iter()
                .map(|p| PasskeyView {
                    label: label(&p),
                    id: p.id,
                    name: p.name,
                })
                .collect(),
        }
    }
}

fn label(p: &PasskeyInfo) -> String {
    let added = super::pages::utc_minute(p.created_at);
    match p.last_used_at {
        Some(used) => crate::i18n::tr_args(
            "label-passkey-used",
            &[("added", &added), ("used", &super::pages::utc_minute(used))],
        ),
        None => crate::i18n::tr_args("label-passkey-unused", &[("added", &added)]),
    }
}

fn signed_in_recently(state: &AppState, session: &accounts::Session) -> bool {
    state.now() - session.auth_time <= RECENT_SIGN_IN
}

// ---- registration ----

/// The answer to a session whose sign-in is too old to add a passkey: the script goes to
/// sign in again, and back to the account page.
fn reauthentication_required() -> HttpResponse {
    json_answer(
        StatusCode::FORBIDDEN,
        json!({ "error": {
            "code": "reauthentication_required",
            "message": "Sign in again to add a passkey.",
            "location": REAUTH,
        }}),
    )
}

/// `POST /account/passkeys/register/start`: the options for `navigator.credentials.create`.
async fn register_start(
    state: web::Data<AppState>,
    checked: CsrfChecked<CsrfOnly, ReturnToAccount>,
) -> Result<HttpResponse, PageError> {
    let SignedIn { session, user, .. } = checked.signed_in;
    let Some(rp) = state.passkeys.clone() else {
        return Ok(unavailable());
    };
    if !signed_in_recently(&state, &session) {
        return Ok(reauthentication_required());
    }
    let st = state.clone();
    let outcome = crate::traces::block("passkey_register_start", move || {
        let mut conn = st.store.conn().map_err(|e| internal(&e))?;
        Ok::<_, PageError>(passkeys::start_registration(
            &rp,
            &mut conn,
            &user,
            st.now(),
        ))
    })
    .await
    .map_err(|e| internal(&e))??;
    Ok(outcome.map_or_else(|e| answer(&e), started))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RegisterForm {
    csrf_token: String,
    ceremony: String,
    credential: String,
    name: String,
}

/// `POST /account/passkeys/register/finish`: the authenticator's answer, stored as a passkey
/// named as the person said, else after the browser ("Chrome on Linux"), else "Passkey N".
async fn register_finish(
    req: HttpRequest,
    state: web::Data<AppState>,
    checked: CsrfChecked<RegisterForm, ReturnToAccount>,
) -> Result<HttpResponse, PageError> {
    let CsrfChecked { signed_in, form } = checked;
    let SignedIn { session, user, .. } = signed_in;
    let Some(rp) = state.passkeys.clone() else {
        return Ok(unavailable());
    };
    if !signed_in_recently(&state, &session) {
        return Ok(reauthentication_required());
    }
    let ua = req
        .headers()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let ip = client_ip(&req, &state);
    let st = state.clone();
    let outcome = crate::traces::block("passkey_register_finish", move || {
        let mut conn = st.store.conn().map_err(|e| internal(&e))?;
        let now = st.now();
        let browser = ua.is_some().then(|| browser_name(ua.as_deref()));
        let name = match form.name.trim() {
            "" => passkeys::default_name(&mut conn, &user.id, browser.as_deref())
                .map_err(|e| internal(&e))?,
            given => given.to_owned(),
        };
        let done = passkeys::finish_registration(
            &rp,
            &mut conn,
            &user.id,
            &form.ceremony,
            &form.credential,
            &name,
            now,
        );
        if let Ok(p) = &done {
            crate::audit::record(
                &mut conn,
                now,
                Event::new("passkey_added")
                    .actor(Some(&user.id))
                    .ip(ip.as_deref())
                    .detail(json!({ "passkey": p.id })),
            );
            tracing::info!(user = %user.id, passkey = %p.id, "passkey added");
        }
        Ok::<_, PageError>(done)
    })
    .await
    .map_err(|e| internal(&e))??;
    Ok(match outcome {
        Ok(p) => json_answer(
            StatusCode::CREATED,
            json!({ "passkey": { "id": p.id, "name": p.name } }),
        ),
        Err(e) => answer(&e),
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RenameForm {
    csrf_token: String,
    name: String,
}

/// `POST /account/passkeys/{id}/rename`: a form of the account page.
async fn rename(
    path: web::Path<String>,
    state: web::Data<AppState>,
    checked: CsrfChecked<RenameForm, ReturnToAccount>,
) -> Result<HttpResponse, PageError> {
    let CsrfChecked { signed_in, form } = checked;
    let id = path.into_inner();
    let user_id = signed_in.user.id.clone();
    let st = state.clone();
    let outcome = crate::traces::block("passkey_rename", move || {
        let mut conn = st.store.conn().map_err(|e| internal(&e))?;
        Ok::<_, PageError>(passkeys::rename(&mut conn, &user_id, &id, &form.name))
    })
    .await
    .map_err(|e| internal(&e))??;
    form_outcome(&state, signed_in, outcome, "passkey_renamed").await
}

/// `POST /account/passkeys/{id}/delete`: a form of the account page. The passkey signs in no
/// more.
async fn remove(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
    checked: CsrfChecked<CsrfOnly, ReturnToAccount>,
) -> Result<HttpResponse, PageError> {
    let signed_in = checked.signed_in;
    let id = path.into_inner();
    let user_id = signed_in.user.id.clone();
    let ip = client_ip(&req, &state);
    let st = state.clone();
    let outcome = crate::traces::block("passkey_remove", move || {
        let mut conn = st.store.conn().map_err(|e| internal(&e))?;
        let done = passkeys::remove(&mut conn, &user_id, &id);
        if done.is_ok() {
            crate::audit::record(
                &mut conn,
                st.now(),
                Event::new("passkey_removed")
                    .actor(Some(&user_id))
                    .ip(ip.as_deref())
                    .detail(json!({ "passkey": id })),
            );
        }
        Ok::<_, PageError>(done)
    })
    .await
    .map_err(|e| internal(&e))??;
    form_outcome(&state, signed_in, outcome, "passkey_removed").await
}

/// The account page after a passkey form: on with a notice, or the page again with the
/// error (another user's passkey is "no such passkey", as a missing one).
async fn form_outcome(
    state: &AppState,
    signed_in: SignedIn<ReturnToAccount>,
    outcome: Result<(), PasskeyError>,
    notice: &str,
) -> Result<HttpResponse, PageError> {
    let (status, error) = match outcome {
        Ok(()) => return Ok(see_other(&format!("/account?notice={notice}"))),
        Err(PasskeyError::NotFound) => (StatusCode::NOT_FOUND, "There is no such passkey."),
        Err(PasskeyError::InvalidName) => (
            StatusCode::BAD_REQUEST,
            "A passkey's name is 1 to 64 characters.",
        ),
        Err(e) => return Err(internal(&e)),
    };
    super::pages::account_page(state, signed_in, None, Some(error), status).await
}

// ---- sign-in ----

/// `POST /login/passkey/start`: the options for `navigator.credentials.get`, any passkey of
/// this site. The per-IP sign-in limit counts it.
async fn sign_in_start(
    req: HttpRequest,
    state: web::Data<AppState>,
    _checked: PreSessionChecked<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let Some(rp) = state.passkeys.clone() else {
        return Ok(unavailable());
    };
    let ip = client_ip(&req, &state);
    if let Err(retry_after) = state.limits.check(Limit::Login, ip.as_deref(), state.now()) {
        return Ok(too_many(retry_after));
    }
    let st = state.clone();
    let outcome = crate::traces::block("passkey_sign_in_start", move || {
        let mut conn = st.store.conn().map_err(|e| internal(&e))?;
        Ok::<_, PageError>(passkeys::start_sign_in(&rp, &mut conn, st.now()))
    })
    .await
    .map_err(|e| internal(&e))??;
    Ok(outcome.map_or_else(|e| answer(&e), started))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SignInForm {
    csrf_token: String,
    ceremony: String,
    credential: String,
    return_to: String,
}

/// What a passkey sign-in came to.
enum SignIn {
    Yes(accounts::User),
    /// The right passkey, an unverified address, and verification required.
    Unverified,
    No(SignInFailure),
}

/// What the throttle calls the account of a passkey sign-in before the passkey is found.
fn throttle_key(credential_id: &str) -> String {
    format!("passkey:{credential_id}")
}

/// `POST /login/passkey/finish`: signs in the passkey's user, as the password form does (a
/// new session with `amr` `hwk user mfa`, on to `return_to`), answered as JSON with the
/// address to go to. Throttled, refused for a disabled user or an unverified address when
/// verification is required, and audited like the password sign-in.
async fn sign_in_finish(
    req: HttpRequest,
    state: web::Data<AppState>,
    checked: PreSessionChecked<SignInForm>,
    previous: MaybeSignedIn,
) -> Result<HttpResponse, PageError> {
    let form = checked.form;
    let Some(rp) = state.passkeys.clone() else {
        return Ok(unavailable());
    };
    let return_to = safe_return_to(Some(&form.return_to));
    let ip = client_ip(&req, &state);
    let now = state.now();
    let Some(credential_id) = passkeys::presented_credential_id(&form.credential) else {
        return Ok(answer(&PasskeyError::Malformed("not a credential".into())));
    };
    let key = throttle_key(&credential_id);
    let limited = state
        .limits
        .check(Limit::Login, ip.as_deref(), now)
        .err()
        .map(|retry_after| accounts::Throttled { retry_after });
    if let Some(t) = limited.or_else(|| state.throttle.check(&key, ip.as_deref(), now).err()) {
        return Ok(too_many(t.retry_after));
    }
    let st = state.clone();
    let audit_ip = ip.clone();
    let outcome = crate::traces::block("passkey_sign_in_finish", move || {
        let mut conn = st.store.conn().map_err(|e| internal(&e))?;
        let verified =
            passkeys::finish_sign_in(&rp, &mut conn, &form.ceremony, &form.credential, now);
        let outcome = match verified {
            Err(failure) => SignIn::No(failure),
            Ok(user_id) => {
                match accounts::find_user(&mut conn, &user_id).map_err(|e| internal(&e))? {
                    Some(user) if !user.disabled => {
                        if st.settings.require_verified_email && !user.email_verified {
                            SignIn::Unverified
                        } else {
                            SignIn::Yes(user)
                        }
                    }
                    // Disabled (or deleted meanwhile): refused as a wrong password is.
                    _ => SignIn::No(SignInFailure {
                        user_id: Some(user_id),
                        error: PasskeyError::Rejected("the account is disabled".into()),
                    }),
                }
            }
        };
        match &outcome {
            SignIn::Yes(user) => crate::audit::record(
                &mut conn,
                now,
                Event::login_succeeded(&user.id, audit_ip.as_deref(), json!({ "via": "passkey" })),
            ),
            SignIn::No(failure) => {
                passkeys::audit_failure(&mut conn, now, failure, audit_ip.as_deref())
            }
            SignIn::Unverified => {}
        }
        Ok::<_, PageError>(outcome)
    })
    .await
    .map_err(|e| internal(&e))??;
    let user = match outcome {
        SignIn::Yes(user) => user,
        // The passkey was right: only its holder learns that the address is not verified.
        SignIn::Unverified => {
            state.throttle.record_success(&key);
            return Ok(refusal(
                StatusCode::FORBIDDEN,
                "email_not_verified",
                "Your email address is not verified yet. Follow the link we sent you, then sign in.",
            ));
        }
        SignIn::No(failure) => {
            if !matches!(
                failure.error,
                PasskeyError::Store(_) | PasskeyError::Internal(_)
            ) {
                state.throttle.record_failure(&key, ip.as_deref(), now);
            }
            return Ok(answer(&failure.error));
        }
    };
    state.throttle.record_success(&key);
    tracing::info!(user = %user.id, "signed in with a passkey (browser)");
    let res = start_session_response(
        &state,
        &req,
        previous,
        user.id,
        accounts::AuthMethods::passkey(),
        &return_to,
    )
    .await?;
    Ok(as_json_redirect(res))
}

/// The sign-in's redirect as JSON for the script (`{"location"}`), keeping its cookies: a
/// fetch cannot read a redirect's address, and following it could cross to a client.
fn as_json_redirect(res: HttpResponse) -> HttpResponse {
    let location = res
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("/account")
        .to_owned();
    let mut out = json_answer(StatusCode::OK, json!({ "location": location }));
    for cookie in res.headers().get_all(SET_COOKIE) {
        out.headers_mut().append(SET_COOKIE, cookie.clone());
    }
    out
}

csrf_forms!(RegisterForm, RenameForm, SignInForm);
