//! The server-rendered pages: `/signup`, `/login`, `POST /logout`, `/account` and session
//! revocation. No JavaScript; every form carries a CSRF token (the session's, or before
//! sign-in a random one also set in the `pcl_csrf` cookie) and every POST checks it.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::http::header::{LOCATION, RETRY_AFTER};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use primitives::{SecretHash, random_token};
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::audit::Event;
use crate::auth::client_ip;
use crate::errors::PageError;
use crate::pages::render;
use crate::ratelimit::Limit;

pub const SESSION_COOKIE: &str = "pcl_session";
const CSRF_COOKIE: &str = "pcl_csrf";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/login", web::get().to(login_page))
        .route("/login", web::post().to(login_submit))
        .route("/signup", web::get().to(signup_page))
        .route("/signup", web::post().to(signup_submit))
        .route("/logout", web::post().to(logout))
        .route("/account", web::get().to(account))
        .route("/account/sessions/{id}/revoke", web::post().to(revoke))
        .route(
            "/account/apps/{client_id}/revoke",
            web::post().to(revoke_app),
        );
}

// ---- helpers ----

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, location.to_owned()))
        .finish()
}

fn cookie(state: &AppState, name: &'static str, value: String, max_age: i64) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.settings.issuer.scheme() == "https")
        .max_age(CookieDuration::seconds(max_age))
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

fn csrf_failed() -> PageError {
    PageError::form_expired()
}

/// Constant-time comparison of a submitted token with the expected one.
pub(crate) fn tokens_match(expected: &str, submitted: &str) -> bool {
    !expected.is_empty() && SecretHash::of(expected).matches(submitted)
}

/// The pre-session CSRF token: the cookie's, or a new one (to set).
pub(crate) fn pre_session_csrf(req: &HttpRequest) -> (String, bool) {
    match req.cookie(CSRF_COOKIE).map(|c| c.value().to_owned()) {
        Some(v) if v.len() == 43 => (v, false),
        _ => (random_token(32), true),
    }
}

/// Whether a form posted without a session carries the browser's pre-session CSRF token.
pub(crate) fn pre_session_csrf_matches(req: &HttpRequest, submitted: &str) -> bool {
    tokens_match(
        req.cookie(CSRF_COOKIE)
            .map(|c| c.value().to_owned())
            .as_deref()
            .unwrap_or(""),
        submitted,
    )
}

/// The signed-in user of this browser, if any.
pub(crate) async fn current(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<(accounts::Session, accounts::User)>, PageError> {
    let Some(cookie) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) else {
        return Ok(None);
    };
    let state = state.clone();
    web::block(move || -> Result<_, PageError> {
        let mut conn = state.store.conn().map_err(|e| PageError::internal(&e))?;
        accounts::resolve_session(&mut conn, &cookie, state.now(), state.session_policy())
            .map_err(|e| PageError::internal(&e))
    })
    .await
    .map_err(|e| PageError::internal(&e))?
}

/// Signs a user in: a new session (a fresh id: no fixation) and its cookie, then on to
/// `return_to`. The session the browser presented, if any (signing in again for `prompt=login`
/// or `max_age`), ends: its value must not live on beside the new one.
async fn start_session_response(
    state: &AppState,
    req: &HttpRequest,
    user_id: String,
    return_to: &str,
) -> Result<HttpResponse, PageError> {
    let previous = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
    let ua = req
        .headers()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let ip = client_ip(req, state);
    let st = state.clone();
    let started = web::block(move || {
        let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
        if let Some(previous) = previous
            && let Some((old, _)) =
                accounts::resolve_session(&mut conn, &previous, st.now(), st.session_policy())
                    .map_err(|e| PageError::internal(&e))?
        {
            accounts::end_session(&mut conn, &old).map_err(|e| PageError::internal(&e))?;
        }
        accounts::start_session(
            &mut conn,
            &user_id,
            st.now(),
            st.session_policy(),
            ua.as_deref(),
            ip.as_deref(),
        )
        .map_err(|e| PageError::internal(&e))
    })
    .await
    .map_err(|e| PageError::internal(&e))??;
    let mut res = see_other(&crate::routes::authorize::return_after_sign_in(
        return_to,
        &started.session,
    ));
    res.add_cookie(&cookie(
        state,
        SESSION_COOKIE,
        started.cookie.expose().to_owned(),
        state.settings.session_ttl,
    ))
    .map_err(|e| PageError::internal(&e))?;
    Ok(res)
}

// ---- pages ----

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    error: Option<&'a str>,
    email: &'a str,
    return_to: &'a str,
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage<'a> {
    csrf: &'a str,
    error: Option<&'a str>,
    email: &'a str,
    name: &'a str,
    return_to: &'a str,
}

#[derive(Deserialize)]
struct ReturnTo {
    return_to: Option<String>,
    /// Set by the authorization endpoint when the user must sign in again.
    reauth: Option<String>,
    login_hint: Option<String>,
}

async fn home() -> HttpResponse {
    see_other("/account")
}

pub(crate) fn with_csrf_cookie(
    state: &AppState,
    mut res: HttpResponse,
    csrf: &str,
    is_new: bool,
) -> HttpResponse {
    if is_new {
        let _ = res.add_cookie(&cookie(state, CSRF_COOKIE, csrf.to_owned(), 86_400));
    }
    res
}

async fn login_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<ReturnTo>,
) -> Result<HttpResponse, PageError> {
    let return_to = safe_return_to(q.return_to.as_deref());
    if q.reauth.is_none() && current(&req, &state).await?.is_some() {
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
        error: None,
        email: &hint,
        return_to: &return_to,
    };
    Ok(with_csrf_cookie(
        &state,
        render(StatusCode::OK, &page),
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
}

async fn login_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let (csrf, _) = pre_session_csrf(&req);
    if !pre_session_csrf_matches(&req, &form.csrf_token) {
        return Err(csrf_failed());
    }
    let return_to = safe_return_to(Some(&form.return_to));
    let ip = client_ip(&req, &state);
    let now = state.now();
    let again = |status: StatusCode, error: &str| {
        render(
            status,
            &LoginPage {
                csrf: &csrf,
                error: Some(error),
                email: &form.email,
                return_to: &return_to,
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
        );
        res.headers_mut().insert(RETRY_AFTER, t.retry_after.into());
        return Ok(res);
    }
    let st = state.clone();
    let (email, password) = (form.email.clone(), form.password.clone());
    let audit_ip = ip.clone();
    let outcome = web::block(move || {
        let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
        match accounts::authenticate_password(&mut conn, &email, &password, &st.hasher) {
            Ok(user) => {
                crate::audit::login_succeeded(
                    &mut conn,
                    now,
                    &user.id,
                    audit_ip.as_deref(),
                    json!({ "via": "page" }),
                );
                Ok(Some(user))
            }
            Err(accounts::AccountError::InvalidCredentials) => {
                crate::audit::login_failed(
                    &mut conn,
                    now,
                    &email,
                    audit_ip.as_deref(),
                    json!({ "via": "page" }),
                );
                Ok(None)
            }
            Err(e) => Err(PageError::internal(&e)),
        }
    })
    .await
    .map_err(|e| PageError::internal(&e))??;
    match outcome {
        Some(user) => {
            state.throttle.record_success(&form.email);
            tracing::info!(user = %user.id, "signed in (browser)");
            start_session_response(&state, &req, user.id, &return_to).await
        }
        None => {
            state
                .throttle
                .record_failure(&form.email, ip.as_deref(), now);
            Ok(again(
                StatusCode::UNAUTHORIZED,
                "The email or password is wrong.",
            ))
        }
    }
}

async fn signup_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<ReturnTo>,
) -> Result<HttpResponse, PageError> {
    let return_to = safe_return_to(q.return_to.as_deref());
    if current(&req, &state).await?.is_some() {
        return Ok(see_other(&return_to));
    }
    let (csrf, is_new) = pre_session_csrf(&req);
    let page = SignupPage {
        csrf: &csrf,
        error: None,
        email: "",
        name: "",
        return_to: &return_to,
    };
    Ok(with_csrf_cookie(
        &state,
        render(StatusCode::OK, &page),
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
    form: web::Form<SignupForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let (csrf, _) = pre_session_csrf(&req);
    if !tokens_match(
        req.cookie(CSRF_COOKIE)
            .map(|c| c.value().to_owned())
            .as_deref()
            .unwrap_or(""),
        &form.csrf_token,
    ) {
        return Err(csrf_failed());
    }
    let return_to = safe_return_to(Some(&form.return_to));
    let st = state.clone();
    let (name, email, password) = (form.name.clone(), form.email.clone(), form.password.clone());
    let ip = crate::auth::client_ip(&req, &state);
    if let Err(retry_after) = state
        .limits
        .check(Limit::Signup, ip.as_deref(), state.now())
    {
        let mut res = render(
            StatusCode::TOO_MANY_REQUESTS,
            &SignupPage {
                csrf: &csrf,
                error: Some("Too many sign-ups from your network. Wait a minute and try again."),
                email: &form.email,
                name: &form.name,
                return_to: &return_to,
            },
        );
        res.headers_mut().insert(RETRY_AFTER, retry_after.into());
        return Ok(res);
    }
    let created = web::block(move || {
        let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
        let new = accounts::NewUser {
            email: &email,
            name: &name,
            password: &password,
        };
        match accounts::signup(&mut conn, &new, None, &st.hasher, st.now()) {
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
                Ok(Ok(user))
            }
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
            start_session_response(&state, &req, user.id, &return_to).await
        }
        Err((status, error)) => Ok(render(
            status,
            &SignupPage {
                csrf: &csrf,
                error: Some(&error),
                email: &form.email,
                name: &form.name,
                return_to: &return_to,
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

#[derive(Deserialize, Default)]
#[serde(default)]
struct CsrfForm {
    csrf_token: String,
}

async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    let Some((session, _)) = current(&req, &state).await? else {
        return Ok(see_other("/login"));
    };
    if !tokens_match(&session.csrf_token, &form.csrf_token) {
        return Err(csrf_failed());
    }
    let st = state.clone();
    web::block(move || {
        let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
        accounts::end_session(&mut conn, &session).map_err(|e| PageError::internal(&e))
    })
    .await
    .map_err(|e| PageError::internal(&e))??;
    let mut res = see_other("/login");
    res.add_removal_cookie(&cookie(&state, SESSION_COOKIE, String::new(), 0))
        .map_err(|e| PageError::internal(&e))?;
    Ok(res)
}

struct SessionView {
    id: String,
    label: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    name: &'a str,
    email: &'a str,
    csrf: &'a str,
    orgs: Vec<(String, String, &'static str)>,
    sessions: Vec<SessionView>,
    apps: Vec<AppView>,
}

struct AppView {
    client_id: String,
    name: String,
    scope: String,
}

async fn account(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let Some((session, user)) = current(&req, &state).await? else {
        return Ok(see_other("/login?return_to=/account"));
    };
    let st = state.clone();
    let user_id = user.id.clone();
    let (orgs, sessions, apps) = web::block(move || {
        let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
        let orgs = accounts::orgs_of(&mut conn, &user_id).map_err(|e| PageError::internal(&e))?;
        let sessions =
            accounts::list_sessions(&mut conn, &user_id).map_err(|e| PageError::internal(&e))?;
        let mut apps = Vec::new();
        for consent in store::codes::consents_of_user(&mut conn, &user_id)
            .map_err(|e| PageError::internal(&e))?
        {
            let name = registration::find_client(&mut conn, &consent.client_id)
                .map_err(|e| PageError::internal(&e))?
                .and_then(|c| c.metadata.client_name)
                .unwrap_or_else(|| consent.client_id.clone());
            apps.push(AppView {
                client_id: consent.client_id,
                name,
                scope: consent.scope,
            });
        }
        Ok::<_, PageError>((orgs, sessions, apps))
    })
    .await
    .map_err(|e| PageError::internal(&e))??;
    let page = AccountPage {
        name: &user.name,
        email: &user.email,
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
    };
    Ok(render(StatusCode::OK, &page))
}

/// Withdraws an app's access: its consent goes, and the refresh tokens it holds for this user.
async fn revoke_app(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    let Some((session, user)) = current(&req, &state).await? else {
        return Ok(see_other("/login?return_to=/account"));
    };
    if !tokens_match(&session.csrf_token, &form.csrf_token) {
        return Err(csrf_failed());
    }
    let client_id = path.into_inner();
    let st = state.clone();
    web::block(move || {
        let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
        store::codes::delete_consent(&mut conn, &user.id, &client_id)
            .map_err(|e| PageError::internal(&e))?;
        grants::family::revoke_client_families(&mut conn, &user.id, &client_id, st.now())
            .map_err(|e| PageError::internal(&e))?;
        tracing::info!(user = %user.id, client = %client_id, "app access withdrawn");
        Ok::<_, PageError>(())
    })
    .await
    .map_err(|e| PageError::internal(&e))??;
    Ok(see_other("/account"))
}

fn session_label(s: &accounts::Session) -> String {
    let ip = s.ip.as_deref().unwrap_or("unknown address");
    format!(
        "{} · {ip} · signed in {}",
        browser_name(s.user_agent.as_deref()),
        utc_minute(s.created_at)
    )
}

/// "Chrome on Linux" from a User-Agent header: enough to tell one's sessions apart.
fn browser_name(ua: Option<&str>) -> String {
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

/// `YYYY-MM-DD HH:MM UTC` from unix seconds (civil-from-days, proleptic Gregorian).
fn utc_minute(ts: i64) -> String {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

async fn revoke(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    let Some((session, user)) = current(&req, &state).await? else {
        return Ok(see_other("/login?return_to=/account"));
    };
    if !tokens_match(&session.csrf_token, &form.csrf_token) {
        return Err(csrf_failed());
    }
    let target = path.into_inner();
    let was_current = target == session.id;
    let st = state.clone();
    web::block(move || {
        let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
        match accounts::revoke_session(&mut conn, &user.id, &target) {
            Ok(()) | Err(accounts::AccountError::NotFound) => Ok(()),
            Err(e) => Err(PageError::internal(&e)),
        }
    })
    .await
    .map_err(|e| PageError::internal(&e))??;
    if was_current {
        let mut res = see_other("/login");
        res.add_removal_cookie(&cookie(&state, SESSION_COOKIE, String::new(), 0))
            .map_err(|e| PageError::internal(&e))?;
        return Ok(res);
    }
    Ok(see_other("/account"))
}

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
