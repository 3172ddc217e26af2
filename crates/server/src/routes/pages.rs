//! The server-rendered pages: `/signup`, `/login`, `POST /logout`, `/account` and session
//! revocation (the account's mailed links and own-account forms: `account_pages.rs`). No JavaScript; every form carries a CSRF token (the session's, or before
//! sign-in a random one also set in the `pcl_csrf` cookie) and every POST checks it: the
//! handlers take `crate::session`'s extractors (`SignedIn`, `MaybeSignedIn`, `CsrfChecked`,
//! `PreSessionChecked`), so none reads the cookie or compares a token by hand.

use actix_web::http::StatusCode;
use actix_web::http::header::{LOCATION, RETRY_AFTER};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use serde_json::json;

use crate::audit::Event;
use crate::auth::client_ip;
use crate::errors::PageError;
use crate::i18n::filters;
use crate::pages::{render, render_page};
use crate::ratelimit::Limit;
use crate::session::{
    CsrfChecked, CsrfOnly, MaybeSignedIn, PreSessionChecked, ReturnToAccount, SignedIn, ToSignIn,
    csrf_forms, pre_session_csrf, session_cookie, session_removal, with_csrf_cookie,
};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/login", web::get().to(login_page))
        .route("/login", web::post().to(login_submit))
        .route("/signup", web::get().to(signup_page))
        .route("/signup", web::post().to(signup_submit))
        .route("/logout", web::post().to(logout))
        .route("/account", web::get().to(account))
        .configure(super::account_pages::configure)
        .configure(super::passkey_pages::configure)
        .route("/account/sessions/{id}/revoke", web::post().to(revoke))
        .route(
            "/account/apps/{client_id}/revoke",
            web::post().to(revoke_app),
        )
        .route(
            "/account/actors/{actor}/revoke",
            web::post().to(revoke_actor),
        );
}

// ---- helpers ----

pub(super) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, location.to_owned()))
        .finish()
}

/// Only same-origin relative paths: `/x`, never `//host`, `/\host` or a scheme.
pub fn safe_return_to(raw: Option<&str>) -> String {
    match raw {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.starts_with("/\\")
                && p.len() <= 2000
                && !p.chars().any(|c| c.is_control() || c == '\\') =>
        {
            p.to_owned()
        }
        _ => "/account".to_owned(),
    }
}

/// A new account made in the browser (sign-up, an invite accepted with a new account), with a
/// password: signed in and on to `return_to`, or, when addresses must be verified first
/// (`PORTCULLIS_REQUIRE_VERIFIED_EMAIL`), sent to its mailbox without a session.
pub(super) async fn new_account_response(
    state: &AppState,
    req: &HttpRequest,
    previous: MaybeSignedIn,
    user: accounts::User,
    return_to: &str,
) -> Result<HttpResponse, PageError> {
    if state.settings.require_verified_email && !user.email_verified {
        return Ok(super::account_pages::check_your_email(&user.email));
    }
    let amr = accounts::AuthMethods::password();
    start_session_response(state, req, previous, user.id, amr, return_to).await
}

/// Signs a user in who proved `amr`: on to the second step (`/login/mfa`) first when the
/// account needs one (it holds a second factor, or an organization of it requires one, and
/// `amr` is one factor), else a new session. Every page sign-in that has not decided this
/// itself comes here (a new account, an upstream provider, a passkey), so no first factor
/// skips the second.
pub(super) async fn start_session_response(
    state: &AppState,
    req: &HttpRequest,
    previous: MaybeSignedIn,
    user_id: String,
    amr: accounts::AuthMethods,
    return_to: &str,
) -> Result<HttpResponse, PageError> {
    if !amr.is_multi_factor() {
        let st = state.clone();
        let (id, first) = (user_id.clone(), amr.clone());
        let next = crate::traces::block("start_session_response", move || {
            let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
            crate::mfa::after_first_factor(&mut conn, &id, &first, false, st.now())
                .map_err(|e| PageError::internal(&e))
        })
        .await
        .map_err(|e| PageError::internal(&e))??;
        if let crate::mfa::Next::SecondFactor(token) | crate::mfa::Next::Enrol(token) = next {
            return super::mfa_pages::to_second_factor(state, &token, return_to, false);
        }
    }
    start_session_response_with(state, req, previous, user_id, amr, return_to, false).await
}

/// A new session and on to `return_to`, for a sign-in that has settled its second factor
/// (the password form decides it with its throttle and audit; see [`start_session_response`]).
/// `add`: the user asked to sign in with another account beside the one the browser has
/// ("Use another account" in the chooser), which then stays.
pub(super) async fn start_session_response_with(
    state: &AppState,
    req: &HttpRequest,
    previous: MaybeSignedIn,
    user_id: String,
    amr: accounts::AuthMethods,
    return_to: &str,
    add: bool,
) -> Result<HttpResponse, PageError> {
    let begun = begin_session(state, req, previous, user_id, amr, add).await?;
    let mut res = see_other(&crate::routes::authorize::return_after_sign_in(
        return_to,
        &begun.session,
    ));
    begun.set_cookies(&mut res)?;
    Ok(res)
}

/// A sign-in's new session and the cookies that carry it.
pub(super) struct Begun {
    pub(super) session: accounts::Session,
    cookies: [actix_web::cookie::Cookie<'static>; 2],
}

impl Begun {
    /// Sets the session's cookie, and the list of the browser's other accounts, on `res`.
    pub(super) fn set_cookies(&self, res: &mut HttpResponse) -> Result<(), PageError> {
        for cookie in &self.cookies {
            res.add_cookie(cookie)
                .map_err(|e| PageError::internal(&e))?;
        }
        Ok(())
    }
}

/// A new session for a user who just signed in with `amr` (a fresh id: no fixation).
///
/// The session the browser presented (`previous`) ends: its value must not live on beside the
/// new one (signing in again for `prompt=login`, `max_age` or a second factor; or a value an
/// attacker planted). Only when the user asked to add another account (`add`) does another
/// user's session stay, in the list the account chooser shows (`prompt=select_account`). The
/// listed sessions of the same user end; those of other users stay.
pub(super) async fn begin_session(
    state: &AppState,
    req: &HttpRequest,
    previous: MaybeSignedIn,
    user_id: String,
    amr: accounts::AuthMethods,
    add: bool,
) -> Result<Begun, PageError> {
    let previous = previous.0.map(|s| s.session);
    let previous_secret = crate::session::current_secret(req);
    let others = crate::session::other_sessions(req);
    let ua = req
        .headers()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let ip = client_ip(req, state);
    let st = state.clone();
    let (started, kept) = crate::traces::block("begin_session", move || {
        let internal = |e: accounts::AccountError| PageError::internal(&e);
        let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
        let now = st.now();
        let mut kept = Vec::new();
        if let Some(old) = previous {
            match previous_secret {
                Some(secret) if add && old.user_id != user_id => kept.push(secret),
                _ => accounts::end_session(&mut conn, &old, now).map_err(internal)?,
            }
        }
        for secret in others {
            match accounts::resolve_session(&mut conn, &secret, now, st.session_policy())
                .map_err(internal)?
            {
                Some((s, _)) if s.user_id == user_id => {
                    accounts::end_session(&mut conn, &s, now).map_err(internal)?;
                }
                Some(_) if !kept.contains(&secret) => kept.push(secret),
                _ => {}
            }
        }
        let started = accounts::start_session(
            &mut conn,
            &user_id,
            &amr,
            now,
            st.session_policy(),
            ua.as_deref(),
            ip.as_deref(),
        )
        .map_err(internal)?;
        Ok::<_, PageError>((started, kept))
    })
    .await
    .map_err(|e| PageError::internal(&e))??;
    Ok(Begun {
        cookies: [
            session_cookie(state, started.cookie.expose().to_owned()),
            crate::session::accounts_cookie(state, &kept),
        ],
        session: started.session,
    })
}

// ---- pages ----

#[derive(Template, serde::Serialize)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    /// The application this sign-in continues to, during an authorization request.
    app: Option<super::authorize::AppInfo>,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    /// The password was right but the address is not verified: offer to send the link again.
    unverified: bool,
    email: &'a str,
    return_to: &'a str,
    signup_open: bool,
    /// Signing in with another account beside the browser's (from the account chooser).
    add: bool,
    /// Offer "Sign in with a passkey" (the issuer is a host name).
    passkeys: bool,
    /// `(name, display name)` of the upstream providers: "Sign in with …".
    providers: Vec<(String, String)>,
}

impl crate::pages::Page for LoginPage<'_> {
    const NAME: &'static str = "login.html";
}

impl crate::pages::Page for SignupPage<'_> {
    const NAME: &'static str = "signup.html";
}

#[derive(Template, serde::Serialize)]
#[template(path = "signup.html")]
struct SignupPage<'a> {
    csrf: &'a str,
    /// Why there is no form (`PORTCULLIS_SIGNUP` is not `open`).
    closed: Option<&'static str>,
    error: Option<&'a str>,
    email: &'a str,
    name: &'a str,
    return_to: &'a str,
    /// The allowed email domains, if limited.
    domains: String,
}

impl<'a> SignupPage<'a> {
    fn new(state: &AppState, csrf: &'a str, return_to: &'a str) -> Self {
        let policy = &state.settings.signup;
        Self {
            csrf,
            closed: match policy.mode {
                accounts::SignupMode::Open => None,
                accounts::SignupMode::Invite => Some(
                    "Accounts here are made by invitation: ask an administrator of your organization to invite you, then follow the invite.",
                ),
                accounts::SignupMode::Closed => {
                    Some("Sign-up is closed on this server: an administrator makes accounts.")
                }
            },
            error: None,
            email: "",
            name: "",
            return_to,
            domains: policy.domains.join(", "),
        }
    }
}

/// A message the sign-in and account pages show after a redirect, by key (never the query's
/// text itself).
pub(super) fn notice_text(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "password_reset" => "Your password was changed. Sign in with the new one.",
        "email_verified" => "Your email address is verified.",
        "email_changed" => "Your email address was changed.",
        "account_deleted" => "Your account was deleted.",
        "name_saved" => "Your name was saved.",
        "password_changed" => {
            "Your password was changed; every other place you were signed in is signed out."
        }
        "email_sent" => "We sent a link to the new address. Follow it to make it your account's.",
        "verification_sent" => "We sent a new verification link to your address.",
        "invite_accepted" => "You joined the organization.",
        "passkey_added" => "Your passkey was added. You can sign in with it alone.",
        "passkey_renamed" => "The passkey was renamed.",
        "passkey_removed" => "The passkey was removed; it signs in no more.",
        "upstream_linked" => "The identity is linked: you can sign in with it.",
        "upstream_unlinked" => "The identity is unlinked.",
        _ => return None,
    })
}

#[derive(Deserialize)]
struct ReturnTo {
    return_to: Option<String>,
    /// Set by the authorization endpoint when the user must sign in again.
    reauth: Option<String>,
    /// Set by the account chooser: sign in with another account beside this one.
    add: Option<String>,
    login_hint: Option<String>,
    notice: Option<String>,
}

async fn home() -> HttpResponse {
    see_other("/account")
}

async fn login_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<ReturnTo>,
    signed_in: MaybeSignedIn,
) -> Result<HttpResponse, PageError> {
    let return_to = safe_return_to(q.return_to.as_deref());
    if q.reauth.is_none() && q.add.is_none() && signed_in.0.is_some() {
        return Ok(see_other(&return_to));
    }
    let (csrf, is_new) = pre_session_csrf(&req);
    let hint: String = q
        .login_hint
        .as_deref()
        .unwrap_or("")
        .chars()
        .take(254)
        .collect();
    let page = LoginPage {
        csrf: &csrf,
        app: super::authorize::app_of_return_to(&state, &return_to).await,
        notice: notice_text(q.notice.as_deref()),
        error: None,
        unverified: false,
        email: &hint,
        return_to: &return_to,
        signup_open: state.settings.signup.mode == accounts::SignupMode::Open,
        add: q.add.is_some(),
        passkeys: state.passkeys.is_some(),
        providers: state.upstreams.buttons(),
    };
    Ok(with_csrf_cookie(
        &state,
        render_page(StatusCode::OK, &page),
        &csrf,
        is_new,
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LoginForm {
    csrf_token: String,
    email: String,
    password: String,
    return_to: String,
    /// `1`: keep the browser's account signed in beside this one.
    add: String,
}

/// What a sign-in attempt came to.
enum SignIn {
    Yes(accounts::User),
    /// The right password, and a second factor to give (or set up) next.
    SecondFactor(primitives::PlainSecret),
    /// The right password, an unverified address, and verification required.
    Unverified,
    No,
}

async fn login_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    checked: PreSessionChecked<LoginForm>,
    previous: MaybeSignedIn,
) -> Result<HttpResponse, PageError> {
    let PreSessionChecked { form, csrf } = checked;
    let return_to = safe_return_to(Some(&form.return_to));
    let ip = client_ip(&req, &state);
    let now = state.now();
    let app = super::authorize::app_of_return_to(&state, &return_to).await;
    let again = |status: StatusCode, error: &str, unverified: bool| {
        render_page(
            status,
            &LoginPage {
                csrf: &csrf,
                app: app.clone(),
                notice: None,
                error: Some(error),
                unverified,
                email: &form.email,
                return_to: &return_to,
                signup_open: state.settings.signup.mode == accounts::SignupMode::Open,
                add: form.add == "1",
                passkeys: state.passkeys.is_some(),
                providers: state.upstreams.buttons(),
            },
        )
    };
    let limited = state
        .limits
        .check(Limit::Login, ip.as_deref(), now)
        .err()
        .map(|retry_after| accounts::Throttled { retry_after });
    if let Some(t) = limited.or_else(|| state.throttle.check(&form.email, ip.as_deref(), now).err())
    {
        let mut res = again(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts. Wait a minute and try again.",
            false,
        );
        res.headers_mut().insert(RETRY_AFTER, t.retry_after.into());
        return Ok(res);
    }
    let st = state.clone();
    let (email, password) = (form.email.clone(), form.password.clone());
    let audit_ip = ip.clone();
    let outcome = crate::traces::block("login_submit", move || {
        let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
        let require_verified = st.settings.require_verified_email;
        match accounts::authenticate_password(
            &mut conn,
            &email,
            &password,
            &st.hasher,
            require_verified,
        ) {
            Ok(user) => {
                let pwd = accounts::AuthMethods::password();
                let next = crate::mfa::after_first_factor(&mut conn, &user.id, &pwd, false, now)
                    .map_err(|e| PageError::internal(&e))?;
                if let crate::mfa::Next::SecondFactor(token) | crate::mfa::Next::Enrol(token) = next
                {
                    return Ok(SignIn::SecondFactor(token));
                }
                let event =
                    Event::login_succeeded(&user.id, audit_ip.as_deref(), json!({ "via": "page" }));
                crate::audit::record(&mut conn, now, event);
                Ok(SignIn::Yes(user))
            }
            Err(accounts::AccountError::EmailNotVerified { .. }) => Ok(SignIn::Unverified),
            Err(accounts::AccountError::InvalidCredentials) => {
                let event = Event::login_failed(
                    &mut conn,
                    &email,
                    audit_ip.as_deref(),
                    json!({ "via": "page" }),
                );
                crate::audit::record(&mut conn, now, event);
                Ok(SignIn::No)
            }
            Err(e) => Err(PageError::internal(&e)),
        }
    })
    .await
    .map_err(|e| PageError::internal(&e))??;
    match outcome {
        SignIn::Yes(user) => {
            state.throttle.record_success(&form.email);
            tracing::info!(user = %user.id, "signed in (browser)");
            let pwd = accounts::AuthMethods::password();
            let add = form.add == "1";
            start_session_response_with(&state, &req, previous, user.id, pwd, &return_to, add).await
        }
        // The password was right; the second factor is asked for on /login/mfa, and the
        // throttle is not reset until it is given.
        SignIn::SecondFactor(token) => {
            super::mfa_pages::to_second_factor(&state, &token, &return_to, form.add == "1")
        }
        SignIn::Unverified => {
            state.throttle.record_success(&form.email);
            Ok(again(
                StatusCode::FORBIDDEN,
                "Your email address is not verified yet. Follow the link we sent you, then sign in.",
                true,
            ))
        }
        SignIn::No => {
            state
                .throttle
                .record_failure(&form.email, ip.as_deref(), now);
            Ok(again(
                StatusCode::UNAUTHORIZED,
                "The email or password is wrong.",
                false,
            ))
        }
    }
}

async fn signup_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<ReturnTo>,
    signed_in: MaybeSignedIn,
) -> Result<HttpResponse, PageError> {
    let return_to = safe_return_to(q.return_to.as_deref());
    if signed_in.0.is_some() {
        return Ok(see_other(&return_to));
    }
    let (csrf, is_new) = pre_session_csrf(&req);
    let page = SignupPage::new(&state, &csrf, &return_to);
    Ok(with_csrf_cookie(
        &state,
        render_page(StatusCode::OK, &page),
        &csrf,
        is_new,
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SignupForm {
    csrf_token: String,
    name: String,
    email: String,
    password: String,
    return_to: String,
}

async fn signup_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    checked: PreSessionChecked<SignupForm>,
    previous: MaybeSignedIn,
) -> Result<HttpResponse, PageError> {
    let PreSessionChecked { form, csrf } = checked;
    let return_to = safe_return_to(Some(&form.return_to));
    let st = state.clone();
    let (name, email, password) = (form.name.clone(), form.email.clone(), form.password.clone());
    let ip = crate::auth::client_ip(&req, &state);
    if let Err(retry_after) = state
        .limits
        .check(Limit::Signup, ip.as_deref(), state.now())
    {
        let mut res = render_page(
            StatusCode::TOO_MANY_REQUESTS,
            &SignupPage {
                error: Some("Too many sign-ups from your network. Wait a minute and try again."),
                email: &form.email,
                name: &form.name,
                ..SignupPage::new(&state, &csrf, &return_to)
            },
        );
        res.headers_mut().insert(RETRY_AFTER, retry_after.into());
        return Ok(res);
    }
    let created = crate::traces::block("signup_submit", move || {
        let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
        let new = accounts::NewUser {
            email: &email,
            name: &name,
            password: &password,
        };
        match accounts::signup(
            &mut conn,
            &st.settings.signup,
            &new,
            None,
            &st.hasher,
            st.now(),
        ) {
            Ok((user, org)) => {
                crate::audit::record(
                    &mut conn,
                    st.now(),
                    Event::new("signup")
                        .actor(Some(&user.id))
                        .ip(ip.as_deref())
                        .org(&org.id)
                        .detail(json!({ "via": "page" })),
                );
                crate::account::signed_up(&st, &mut conn, &user);
                Ok(Ok(user))
            }
            Err(accounts::AccountError::SignupClosed) => Ok(Err((
                StatusCode::FORBIDDEN,
                "Sign-up is not open on this server.".to_owned(),
            ))),
            Err(accounts::AccountError::DomainNotAllowed) => Ok(Err((
                StatusCode::FORBIDDEN,
                "Sign-up is not open to this email domain.".to_owned(),
            ))),
            Err(accounts::AccountError::Invalid { field, message }) => Ok(Err((
                StatusCode::BAD_REQUEST,
                format!("{} {message}.", capitalize(field)),
            ))),
            Err(accounts::AccountError::EmailTaken) => Ok(Err((
                StatusCode::CONFLICT,
                "An account with this email exists already.".to_owned(),
            ))),
            Err(e) => Err(PageError::internal(&e)),
        }
    })
    .await
    .map_err(|e| PageError::internal(&e))??;
    match created {
        Ok(user) => {
            tracing::info!(user = %user.id, "signed up (browser)");
            new_account_response(&state, &req, previous, user, &return_to).await
        }
        Err((status, error)) => Ok(render_page(
            status,
            &SignupPage {
                error: Some(&error),
                email: &form.email,
                name: &form.name,
                ..SignupPage::new(&state, &csrf, &return_to)
            },
        )),
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    checked: CsrfChecked<CsrfOnly, ToSignIn>,
) -> Result<HttpResponse, PageError> {
    let session = checked.signed_in.session;
    let mut res = see_other("/login");
    end_browser_sessions(&state, &req, session, &mut res).await?;
    Ok(res)
}

/// Signing out of this browser: its session and every other account signed in beside it
/// (the account chooser's) end, and their cookies go.
pub(super) async fn end_browser_sessions(
    state: &AppState,
    req: &HttpRequest,
    session: accounts::Session,
    res: &mut HttpResponse,
) -> Result<(), PageError> {
    let others = crate::session::other_sessions(req);
    let st = state.clone();
    crate::traces::block("end_browser_sessions", move || {
        let internal = |e: accounts::AccountError| PageError::internal(&e);
        let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
        accounts::end_session(&mut conn, &session, st.now()).map_err(internal)?;
        for secret in others {
            if let Some((s, _)) =
                accounts::resolve_session(&mut conn, &secret, st.now(), st.session_policy())
                    .map_err(internal)?
            {
                accounts::end_session(&mut conn, &s, st.now()).map_err(internal)?;
            }
        }
        Ok::<_, PageError>(())
    })
    .await
    .map_err(|e| PageError::internal(&e))??;
    res.add_removal_cookie(&session_removal(state))
        .map_err(|e| PageError::internal(&e))?;
    res.add_cookie(&crate::session::accounts_cookie(state, &[]))
        .map_err(|e| PageError::internal(&e))?;
    Ok(())
}

struct SessionView {
    id: String,
    label: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    notice: Option<&'a str>,
    error: Option<&'a str>,
    name: &'a str,
    email: &'a str,
    email_verified: bool,
    csrf: &'a str,
    orgs: Vec<(String, String, &'static str)>,
    sessions: Vec<SessionView>,
    apps: Vec<AppView>,
    /// Who may act for the user (token exchange's `may_act`).
    actors: Vec<ActorView>,
    passkeys: super::passkey_pages::PasskeysSection,
    /// Linked upstream identities: `(id, provider's display name, address given)`.
    identities: Vec<(String, String, String)>,
    /// Providers not linked yet: `(name, display name)`.
    link_providers: Vec<(String, String)>,
    has_password: bool,
}

struct AppView {
    /// The client's id as one path segment: a URL client id (a metadata document's) holds `/`.
    client_id_path: String,
    name: String,
    scope: String,
}

struct ActorView {
    id_path: String,
    /// The agent's name and organization, else the id.
    label: String,
    since: String,
}

#[derive(Deserialize)]
struct AccountQuery {
    notice: Option<String>,
}

async fn account(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    q: web::Query<AccountQuery>,
) -> Result<HttpResponse, PageError> {
    let notice = notice_text(q.notice.as_deref());
    account_page(&state, signed_in, notice, None, StatusCode::OK).await
}

/// The account page, with a notice or an error from a form of it.
pub(super) async fn account_page<W>(
    state: &AppState,
    signed_in: SignedIn<W>,
    notice: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let SignedIn { session, user, .. } = signed_in;
    let st = state.clone();
    let user_id = user.id.clone();
    let for_session = session.clone();
    let ui = crate::i18n::page_ui();
    let (orgs, sessions, apps, actors, passkeys, identities, has_password) =
        crate::traces::block("account_page", move || {
            let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
            let orgs =
                accounts::orgs_of(&mut conn, &user_id).map_err(|e| PageError::internal(&e))?;
            let sessions = accounts::list_sessions(&mut conn, &user_id)
                .map_err(|e| PageError::internal(&e))?;
            let apps = grants::allowed_apps(&mut conn, &user_id)
                .map_err(|e| PageError::internal(&e))?
                .into_iter()
                .map(|app| AppView {
                    client_id_path: url::form_urlencoded::byte_serialize(app.client_id.as_bytes())
                        .collect(),
                    name: app.name,
                    scope: app.scope.to_string(),
                })
                .collect();
            let member_of: Vec<String> = orgs.iter().map(|(o, _)| o.id.clone()).collect();
            let actors = grants::allowed_actors(&mut conn, &user_id)
                .map_err(|e| PageError::internal(&e))?
                .into_iter()
                .map(|a| ActorView {
                    id_path: url::form_urlencoded::byte_serialize(a.actor_id.as_bytes()).collect(),
                    label: grants::actor_label(&mut conn, &a.actor_id, &member_of),
                    since: utc_minute(a.created_at),
                })
                .collect();
            let passkeys =
                crate::passkeys::list(&mut conn, &user_id).map_err(|e| PageError::internal(&e))?;
            let passkeys = crate::i18n::within(ui, || {
                super::passkey_pages::PasskeysSection::new(&st, &for_session, passkeys)
            });
            let identities = accounts::upstream_identities(&mut conn, &user_id)
                .map_err(|e| PageError::internal(&e))?;
            let has_password =
                accounts::has_password(&mut conn, &user_id).map_err(|e| PageError::internal(&e))?;
            Ok::<_, PageError>((
                orgs,
                sessions,
                apps,
                actors,
                passkeys,
                identities,
                has_password,
            ))
        })
        .await
        .map_err(|e| PageError::internal(&e))??;
    let providers = state.upstreams.buttons();
    let display = |provider: &str| {
        providers
            .iter()
            .find(|(name, _)| name == provider)
            .map_or_else(|| provider.to_owned(), |(_, d)| d.clone())
    };
    let page = AccountPage {
        notice,
        error,
        name: &user.name,
        email: &user.email,
        email_verified: user.email_verified,
        csrf: &session.csrf_token,
        orgs: orgs
            .into_iter()
            .map(|(o, r)| (o.id, o.name, r.as_str()))
            .collect(),
        sessions: sessions
            .into_iter()
            .map(|s| SessionView {
                label: session_label(&s),
                current: s.id == session.id,
                id: s.id,
            })
            .collect(),
        apps,
        actors,
        passkeys,
        link_providers: providers
            .iter()
            .filter(|(name, _)| !identities.iter().any(|i| &i.provider == name))
            .cloned()
            .collect(),
        identities: identities
            .iter()
            .map(|i| {
                let email = i.email.clone().unwrap_or_default();
                (i.id.clone(), display(&i.provider), email)
            })
            .collect(),
        has_password,
    };
    Ok(render(status, &page))
}

/// Withdraws an app's access: its consent goes, and the refresh tokens it holds for this user.
async fn revoke_app(
    path: web::Path<String>,
    state: web::Data<AppState>,
    checked: CsrfChecked<CsrfOnly, ReturnToAccount>,
) -> Result<HttpResponse, PageError> {
    let user = checked.signed_in.user;
    let client_id = path.into_inner();
    let st = state.clone();
    crate::traces::block("app_revoke", move || {
        let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
        grants::withdraw_consent(&mut conn, &user.id, &client_id, st.now())
            .map_err(|e| PageError::internal(&e))
    })
    .await
    .map_err(|e| PageError::internal(&e))??;
    Ok(see_other("/account"))
}

/// Withdraws an agent's (or client's) leave to act for the user: no new token exchange for
/// them (tokens already exchanged live out their short life).
async fn revoke_actor(
    path: web::Path<String>,
    state: web::Data<AppState>,
    checked: CsrfChecked<CsrfOnly, ReturnToAccount>,
) -> Result<HttpResponse, PageError> {
    let user = checked.signed_in.user;
    let actor = path.into_inner();
    let st = state.clone();
    crate::traces::block("actor_revoke", move || {
        let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
        if grants::disallow_actor(&mut conn, &user.id, &actor)
            .map_err(|e| PageError::internal(&e))?
        {
            crate::audit::record(
                &mut conn,
                st.now(),
                crate::audit::Event::new("may_act.withdrawn")
                    .actor(Some(&user.id))
                    .detail(serde_json::json!({ "actor_id": actor, "via": "account_page" })),
            );
        }
        Ok::<_, PageError>(())
    })
    .await
    .map_err(|e| PageError::internal(&e))??;
    Ok(see_other("/account"))
}

fn session_label(s: &accounts::Session) -> String {
    let ip = match s.ip.as_deref() {
        Some(ip) => ip.to_owned(),
        None => crate::i18n::tr("label-unknown-address"),
    };
    crate::i18n::tr_args(
        "label-session",
        &[
            ("browser", &browser_name(s.user_agent.as_deref())),
            ("ip", &ip),
            ("when", &utc_minute(s.created_at)),
        ],
    )
}

/// "Chrome on Linux" from a User-Agent header: enough to tell one's sessions apart.
pub(super) fn browser_name(ua: Option<&str>) -> String {
    let Some(ua) = ua else {
        return "Unknown browser".into();
    };
    let browser = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .into_iter()
    .find(|(marker, _)| ua.contains(marker))
    .map_or("Browser", |(_, name)| name);
    let os = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| name);
    match os {
        Some(os) => format!("{browser} on {os}"),
        None => browser.to_owned(),
    }
}

/// A minute in UTC from unix seconds, written the way the page's language does
/// (`YYYY-MM-DD HH:MM UTC` in English).
pub(super) fn utc_minute(ts: i64) -> String {
    crate::i18n::date_time(crate::i18n::current_lang(), ts)
}

async fn revoke(
    path: web::Path<String>,
    state: web::Data<AppState>,
    checked: CsrfChecked<CsrfOnly, ReturnToAccount>,
) -> Result<HttpResponse, PageError> {
    let SignedIn { session, user, .. } = checked.signed_in;
    let target = path.into_inner();
    let was_current = target == session.id;
    let st = state.clone();
    crate::traces::block("session_revoke", move || {
        let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
        match accounts::revoke_session(&mut conn, &user.id, &target, st.now()) {
            Ok(()) | Err(accounts::AccountError::NotFound) => Ok(()),
            Err(e) => Err(PageError::internal(&e)),
        }
    })
    .await
    .map_err(|e| PageError::internal(&e))??;
    if was_current {
        let mut res = see_other("/login");
        res.add_removal_cookie(&session_removal(&state))
            .map_err(|e| PageError::internal(&e))?;
        return Ok(res);
    }
    Ok(see_other("/account"))
}

csrf_forms!(LoginForm, SignupForm);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_accepts_only_same_origin_paths() {
        for ok in ["/account", "/oauth2/authorize?client_id=x&state=y", "/"] {
            assert_eq!(safe_return_to(Some(ok)), ok);
        }
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "account",
            "",
            "/a\nb",
        ] {
            assert_eq!(safe_return_to(Some(bad)), "/account", "{bad:?}");
        }
        assert_eq!(safe_return_to(None), "/account");
    }

    #[test]
    fn browser_names() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        assert_eq!(browser_name(Some(chrome)), "Chrome on Linux");
        assert_eq!(
            browser_name(Some(
                "Mozilla/5.0 (Windows NT 10.0; rv:120.0) Gecko/20100101 Firefox/120.0"
            )),
            "Firefox on Windows"
        );
        assert_eq!(browser_name(None), "Unknown browser");
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_minute(1_795_000_000), "2026-11-18 11:06 UTC");
        assert_eq!(utc_minute(951_782_400), "2000-02-29 00:00 UTC");
    }
}
