//! The browser's session and the pages' CSRF protection, as actix extractors.
//!
//! A page handler says what it needs in its signature, and the extractor is the only way in:
//! - [`MaybeSignedIn`]: the session of this browser, if it has a live one (never refuses).
//! - [`SignedIn<W>`]: a live session and its user; a browser without one gets what `W` says
//!   (a redirect to sign-in by default, see [`SignedOut`]).
//! - [`CsrfChecked<F, W>`]: a signed-in user's form `F`, only when the form's `csrf_token`
//!   matches the session's (compared in constant time); a missing or wrong token is the
//!   403 "form has expired" page, and a browser without a session gets what `W` says.
//! - [`PreSessionChecked<F>`]: a form posted before sign-in (sign-in, sign-up), only when its
//!   token matches the browser's `pcl_csrf` cookie.
//!
//! The session is looked up once per request and kept in the request's extensions, so a
//! handler (or a helper it calls) that asks again gets the same answer without the database.
//!
//! Outside the extractors: [`current`] for handlers that decide later whether they need a
//! session (the authorization endpoint), [`tokens_match`] and the pre-session helpers for a
//! form whose token is checked only on some paths (RP-initiated logout).
//!
//! Below `routes/`: it imports nothing from there.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::Payload;
use actix_web::error::InternalError;
use actix_web::http::Method;
use actix_web::http::header::LOCATION;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};
use primitives::{SecretHash, random_token};
use serde::de::DeserializeOwned;

use crate::errors::PageError;
use crate::state::AppState;

/// The session cookie: the session's secret, `HttpOnly`, `SameSite=Lax`, `Secure` on https.
pub const SESSION_COOKIE: &str = "pcl_session";
/// The pre-session CSRF cookie: forms shown before sign-in carry its value.
pub(crate) const CSRF_COOKIE: &str = "pcl_csrf";

/// A cookie as the pages set them: whole site, `HttpOnly`, `SameSite=Lax`, `Secure` when the
/// issuer is https.
fn cookie(state: &AppState, name: &'static str, value: String, max_age: i64) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.settings.issuer.scheme() == "https")
        .max_age(CookieDuration::seconds(max_age))
        .finish()
}

/// The cookie of a new session: its secret, for the session's lifetime.
pub(crate) fn session_cookie(state: &AppState, secret: String) -> Cookie<'static> {
    cookie(state, SESSION_COOKIE, secret, state.settings.session_ttl)
}

/// What removes the session cookie (sign-out, the current session revoked).
pub(crate) fn session_removal(state: &AppState) -> Cookie<'static> {
    cookie(state, SESSION_COOKIE, String::new(), 0)
}

/// The other accounts signed in on this browser (the account chooser): their sessions'
/// secrets, space-separated, most recent first, at most [`MAX_OTHER_ACCOUNTS`].
pub(crate) const ACCOUNTS_COOKIE: &str = "pcl_accounts";
pub(crate) const MAX_OTHER_ACCOUNTS: usize = 4;

/// The secret of the session this browser presents (unchecked: the extractors resolve it).
pub(crate) fn current_secret(req: &HttpRequest) -> Option<String> {
    req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned())
}

/// The secrets of the other sessions this browser holds (unchecked: resolve each).
pub(crate) fn other_sessions(req: &HttpRequest) -> Vec<String> {
    req.cookie(ACCOUNTS_COOKIE)
        .map(|c| {
            c.value()
                .split(' ')
                .filter(|s| s.len() == 43)
                .take(MAX_OTHER_ACCOUNTS)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The cookie listing the other sessions (removed when there are none).
pub(crate) fn accounts_cookie(state: &AppState, secrets: &[String]) -> Cookie<'static> {
    if secrets.is_empty() {
        return cookie(state, ACCOUNTS_COOKIE, String::new(), 0);
    }
    let list = secrets[..secrets.len().min(MAX_OTHER_ACCOUNTS)].join(" ");
    cookie(state, ACCOUNTS_COOKIE, list, state.settings.session_ttl)
}

/// The cookie of a sign-in waiting for its second factor: the challenge's token, for the
/// challenge's lifetime (`accounts::CHALLENGE_TTL`).
pub(crate) const MFA_COOKIE: &str = "pcl_mfa";

pub(crate) fn mfa_cookie(state: &AppState, token: String) -> Cookie<'static> {
    cookie(state, MFA_COOKIE, token, accounts::CHALLENGE_TTL)
}

pub(crate) fn mfa_removal(state: &AppState) -> Cookie<'static> {
    cookie(state, MFA_COOKIE, String::new(), 0)
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

/// Sets the pre-session CSRF cookie on a page when its token is new.
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

/// The cookie that binds a sign-in at an upstream provider to the browser that started it: a
/// random secret whose SHA-256 the pending request holds (and which seals its PKCE verifier).
/// `SameSite=Lax` (the provider's redirect back is a top-level GET, which carries it).
pub(crate) const UPSTREAM_COOKIE: &str = "pcl_upstream";

/// This browser's upstream secret: the cookie's, or a new one (to set with
/// [`upstream_cookie`]).
pub(crate) fn upstream_browser_secret(req: &HttpRequest) -> (String, bool) {
    match req.cookie(UPSTREAM_COOKIE).map(|c| c.value().to_owned()) {
        Some(v) if v.len() == 43 => (v, false),
        _ => (random_token(32), true),
    }
}

/// The secret the browser presented, if any (at the provider's answer).
pub(crate) fn presented_upstream_secret(req: &HttpRequest) -> Option<String> {
    req.cookie(UPSTREAM_COOKIE).map(|c| c.value().to_owned())
}

/// The upstream cookie, for as long as a request to a provider waits for its answer.
pub(crate) fn upstream_cookie(state: &AppState, secret: String) -> Cookie<'static> {
    cookie(
        state,
        UPSTREAM_COOKIE,
        secret,
        accounts::UPSTREAM_REQUEST_TTL,
    )
}

/// The session looked up for this request, kept in its extensions.
#[derive(Clone)]
struct Resolved(Option<(accounts::Session, accounts::User)>);

/// The signed-in user of this browser, if any (looked up once per request).
pub(crate) async fn current(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<(accounts::Session, accounts::User)>, PageError> {
    if let Some(Resolved(known)) = req.extensions().get::<Resolved>() {
        return Ok(known.clone());
    }
    let resolved = match req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) {
        None => None,
        Some(cookie) => {
            let state = state.clone();
            crate::traces::block("session_lookup", move || -> Result<_, PageError> {
                let mut conn = state.store.conn().map_err(|e| PageError::internal(&e))?;
                accounts::resolve_session(&mut conn, &cookie, state.now(), state.session_policy())
                    .map_err(|e| PageError::internal(&e))
            })
            .await
            .map_err(|e| PageError::internal(&e))??
        }
    };
    req.extensions_mut().insert(Resolved(resolved.clone()));
    Ok(resolved)
}

fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, PageError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| PageError::internal(&"the application state is missing"))
}

/// A redirect that ends extraction: the handler does not run.
pub(crate) fn redirect(location: String) -> actix_web::Error {
    let res = HttpResponse::SeeOther()
        .insert_header((LOCATION, location))
        .finish();
    InternalError::from_response("not signed in", res).into()
}

/// What a browser without a session gets from a route that needs one.
pub trait SignedOut: 'static {
    fn answer(req: &HttpRequest) -> actix_web::Error;
}

/// To sign-in, then back to this page (`/login?return_to=<path>`): the pages one reads.
#[derive(Debug)]
pub struct ReturnHere;

impl SignedOut for ReturnHere {
    fn answer(req: &HttpRequest) -> actix_web::Error {
        if req.method() == Method::GET {
            redirect(format!("/login?return_to={}", req.path()))
        } else {
            // A form posted without a session is not repeated after sign-in.
            redirect("/login?return_to=/account".to_owned())
        }
    }
}

/// To sign-in, then to the account page: forms of the account page.
#[derive(Debug)]
pub struct ReturnToAccount;

impl SignedOut for ReturnToAccount {
    fn answer(_: &HttpRequest) -> actix_web::Error {
        redirect("/login?return_to=/account".to_owned())
    }
}

/// To the sign-in page, with nowhere to return to (sign-out without a session).
#[derive(Debug)]
pub struct ToSignIn;

impl SignedOut for ToSignIn {
    fn answer(_: &HttpRequest) -> actix_web::Error {
        redirect("/login".to_owned())
    }
}

/// The browser's live session and its user, if it has one.
#[derive(Debug, Clone)]
pub struct MaybeSignedIn(pub Option<SignedIn>);

/// A live session and its user. Without one, the handler does not run: the browser gets what
/// `W` says (see [`SignedOut`]).
#[derive(Debug)]
pub struct SignedIn<W = ReturnHere> {
    pub session: accounts::Session,
    pub user: accounts::User,
    when_signed_out: PhantomData<W>,
}

impl<W> Clone for SignedIn<W> {
    fn clone(&self) -> Self {
        Self::new(self.session.clone(), self.user.clone())
    }
}

impl<W> SignedIn<W> {
    fn new(session: accounts::Session, user: accounts::User) -> Self {
        Self {
            session,
            user,
            when_signed_out: PhantomData,
        }
    }

    /// The CSRF token every form of this session carries.
    pub fn csrf(&self) -> &str {
        &self.session.csrf_token
    }
}

type Boxed<T> = Pin<Box<dyn Future<Output = Result<T, actix_web::Error>>>>;

impl FromRequest for MaybeSignedIn {
    type Error = actix_web::Error;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = app_state(&req)?;
            let found = current(&req, &state).await?;
            Ok(Self(
                found.map(|(session, user)| SignedIn::new(session, user)),
            ))
        })
    }
}

impl<W: SignedOut> FromRequest for SignedIn<W> {
    type Error = actix_web::Error;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = app_state(&req)?;
            match current(&req, &state).await? {
                Some((session, user)) => Ok(Self::new(session, user)),
                None => Err(W::answer(&req)),
            }
        })
    }
}

/// A form with a CSRF token.
pub trait CsrfForm: DeserializeOwned + 'static {
    fn csrf_token(&self) -> &str;
}

/// `impl CsrfForm` for forms whose token is their `csrf_token` field.
macro_rules! csrf_forms {
    ($($form:ty),+ $(,)?) => {
        $(
            impl $crate::session::CsrfForm for $form {
                fn csrf_token(&self) -> &str {
                    &self.csrf_token
                }
            }
        )+
    };
}
pub(crate) use csrf_forms;

/// A form that carries nothing but its CSRF token.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct CsrfOnly {
    csrf_token: String,
}

/// A signed-in user's form whose CSRF token matches the session's. The body is read first (an
/// unreadable one is the 400 page), then the session (without one: what `W` says), then the
/// token (wrong or missing: the 403 "form has expired" page).
#[derive(Debug)]
pub struct CsrfChecked<F, W = ReturnHere> {
    pub signed_in: SignedIn<W>,
    pub form: F,
}

impl<F: CsrfForm, W: SignedOut> FromRequest for CsrfChecked<F, W> {
    type Error = actix_web::Error;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let form = web::Form::<F>::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let form = form.await?.into_inner();
            let signed_in = SignedIn::<W>::extract(&req).await?;
            if !tokens_match(signed_in.csrf(), form.csrf_token()) {
                return Err(PageError::form_expired().into());
            }
            Ok(Self { signed_in, form })
        })
    }
}

/// A form posted before sign-in whose token matches the browser's `pcl_csrf` cookie; `csrf`
/// is that token, for a page shown again.
#[derive(Debug)]
pub struct PreSessionChecked<F> {
    pub form: F,
    pub csrf: String,
}

impl<F: CsrfForm> FromRequest for PreSessionChecked<F> {
    type Error = actix_web::Error;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let form = web::Form::<F>::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let form = form.await?.into_inner();
            if !pre_session_csrf_matches(&req, form.csrf_token()) {
                return Err(PageError::form_expired().into());
            }
            let (csrf, _) = pre_session_csrf(&req);
            Ok(Self { form, csrf })
        })
    }
}

/// The proof a sign-in adds to the authorization request it returns to: bound to the session
/// that signed in (its CSRF token is a secret of that session alone), so it says "this session
/// signed in on the way here" and nothing about any other session.
pub(crate) fn signed_in_proof(session: &accounts::Session) -> String {
    SecretHash::of(&format!(
        "{}:{}",
        grants::SIGNED_IN_PARAM,
        session.csrf_token
    ))
    .as_str()
    .to_owned()
}

/// Whether `proof` is this session's sign-in proof and the sign-in was at most `ttl` seconds
/// before `now` (`prompt=login` is satisfied by a sign-in the server saw, a moment ago).
pub(crate) fn signed_in_recently(
    session: &accounts::Session,
    proof: &str,
    now: i64,
    ttl: i64,
) -> bool {
    tokens_match(&signed_in_proof(session), proof) && now - session.auth_time <= ttl
}

csrf_forms!(CsrfOnly);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_only_the_same_nonempty_token() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abc", "abd"));
        assert!(!tokens_match("abc", ""));
        assert!(
            !tokens_match("", ""),
            "an empty expected token matches nothing"
        );
    }

    #[test]
    fn signed_out_answers() {
        let location = |e: actix_web::Error| {
            let res = e.error_response();
            assert_eq!(res.status(), actix_web::http::StatusCode::SEE_OTHER);
            res.headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .expect("a Location")
        };
        let get = actix_web::test::TestRequest::get()
            .uri("/account/orgs/o1/keys")
            .to_http_request();
        let post = actix_web::test::TestRequest::post()
            .uri("/account/orgs/o1/keys")
            .to_http_request();
        assert_eq!(
            location(ReturnHere::answer(&get)),
            "/login?return_to=/account/orgs/o1/keys"
        );
        assert_eq!(
            location(ReturnHere::answer(&post)),
            "/login?return_to=/account"
        );
        assert_eq!(
            location(ReturnToAccount::answer(&get)),
            "/login?return_to=/account"
        );
        assert_eq!(location(ToSignIn::answer(&post)), "/login");
    }

    /// The extractors in an application: who gets in, and what the others get.
    mod in_an_app {
        use actix_web::http::StatusCode;
        use actix_web::{App, HttpResponse, test, web};

        use super::super::*;
        use crate::config::Settings;

        async fn page(signed_in: SignedIn) -> HttpResponse {
            HttpResponse::Ok().body(signed_in.user.id)
        }

        async fn maybe(signed_in: MaybeSignedIn) -> HttpResponse {
            HttpResponse::Ok().body(signed_in.0.map(|s| s.user.id).unwrap_or_default())
        }

        async fn form(checked: CsrfChecked<CsrfOnly, ToSignIn>) -> HttpResponse {
            HttpResponse::Ok().body(checked.signed_in.user.id)
        }

        async fn pre(checked: PreSessionChecked<CsrfOnly>) -> HttpResponse {
            HttpResponse::Ok().body(checked.csrf)
        }

        struct Fixture {
            _db: store::testing::TestDb,
            state: AppState,
            user_id: String,
            cookie: String,
            csrf: String,
            session: accounts::Session,
        }

        fn fixture() -> Fixture {
            let db = store::testing::TestDb::sqlite();
            let state = AppState::new(Settings::default(), db.store().clone());
            let mut conn = db.store().conn().expect("conn");
            let new = accounts::NewUser {
                email: "ada@example.com",
                name: "Ada",
                password: "correct horse battery",
            };
            let user =
                accounts::create_user(&mut conn, &new, &state.hasher, state.now()).expect("user");
            let started = accounts::start_session(
                &mut conn,
                &user.id,
                &accounts::AuthMethods::password(),
                state.now(),
                state.session_policy(),
                None,
                None,
            )
            .expect("session");
            Fixture {
                user_id: user.id,
                cookie: started.cookie.expose().to_owned(),
                csrf: started.session.csrf_token.clone(),
                session: started.session,
                state,
                _db: db,
            }
        }

        macro_rules! app {
            ($state:expr) => {
                test::init_service(
                    App::new()
                        .app_data(web::Data::new($state.clone()))
                        .app_data(
                            web::FormConfig::default().error_handler(crate::errors::form_error),
                        )
                        .route("/page", web::get().to(page))
                        .route("/maybe", web::get().to(maybe))
                        .route("/form", web::post().to(form))
                        .route("/pre", web::post().to(pre)),
                )
                .await
            };
        }

        fn location(res: &actix_web::dev::ServiceResponse) -> &str {
            res.headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        }

        #[actix_web::test]
        async fn signed_in_lets_a_session_in_and_sends_others_to_sign_in() {
            let f = fixture();
            let app = app!(f.state);
            let res =
                test::call_service(&app, test::TestRequest::get().uri("/page").to_request()).await;
            assert_eq!(res.status(), StatusCode::SEE_OTHER);
            assert_eq!(location(&res), "/login?return_to=/page");
            let bogus = test::TestRequest::get()
                .uri("/page")
                .cookie(Cookie::new(SESSION_COOKIE, "not-a-session"))
                .to_request();
            let res = test::call_service(&app, bogus).await;
            assert_eq!(
                location(&res),
                "/login?return_to=/page",
                "an unknown cookie is no session"
            );
            let req = test::TestRequest::get()
                .uri("/page")
                .cookie(Cookie::new(SESSION_COOKIE, f.cookie.clone()))
                .to_request();
            let res = test::call_service(&app, req).await;
            assert_eq!(res.status(), StatusCode::OK);
            assert_eq!(test::read_body(res).await, f.user_id.as_bytes());

            let anonymous = test::TestRequest::get().uri("/maybe").to_request();
            assert_eq!(
                test::read_body(test::call_service(&app, anonymous).await).await,
                ""
            );

            let mut conn = f.state.store.conn().expect("conn");
            accounts::end_session(&mut conn, &f.session, f.state.now()).expect("end");
            let ended = test::TestRequest::get()
                .uri("/maybe")
                .cookie(Cookie::new(SESSION_COOKIE, f.cookie.clone()))
                .to_request();
            assert_eq!(
                test::read_body(test::call_service(&app, ended).await).await,
                "",
                "an ended session is none"
            );
        }

        #[actix_web::test]
        async fn csrf_checked_needs_the_session_and_its_token() {
            let f = fixture();
            let app = app!(f.state);
            let post = |cookie: Option<&str>, body: String| {
                let mut req = test::TestRequest::post()
                    .uri("/form")
                    .insert_header(("content-type", "application/x-www-form-urlencoded"))
                    .set_payload(body);
                if let Some(c) = cookie {
                    req = req.cookie(Cookie::new(SESSION_COOKIE, c.to_owned()));
                }
                req.to_request()
            };
            let right = format!("csrf_token={}", f.csrf);
            let res = test::call_service(&app, post(None, right.clone())).await;
            assert_eq!(res.status(), StatusCode::SEE_OTHER);
            assert_eq!(location(&res), "/login", "what W says without a session");
            for wrong in [
                String::new(),
                "csrf_token=".into(),
                "csrf_token=wrong".into(),
            ] {
                let res = test::call_service(&app, post(Some(&f.cookie), wrong.clone())).await;
                assert_eq!(res.status(), StatusCode::FORBIDDEN, "{wrong:?}");
            }
            let unreadable = test::TestRequest::post()
                .uri("/form")
                .cookie(Cookie::new(SESSION_COOKIE, f.cookie.clone()))
                .insert_header(("content-type", "application/json"))
                .set_payload(format!("{{\"csrf_token\":\"{}\"}}", f.csrf))
                .to_request();
            let res = test::call_service(&app, unreadable).await;
            assert_eq!(
                res.status(),
                StatusCode::BAD_REQUEST,
                "a body that is no form"
            );
            let res = test::call_service(&app, post(Some(&f.cookie), right)).await;
            assert_eq!(res.status(), StatusCode::OK);
            assert_eq!(test::read_body(res).await, f.user_id.as_bytes());
        }

        #[actix_web::test]
        async fn pre_session_forms_need_the_cookie_token() {
            let f = fixture();
            let app = app!(f.state);
            let token = random_token(32);
            let post = |cookie: Option<&str>, submitted: &str| {
                let mut req = test::TestRequest::post()
                    .uri("/pre")
                    .insert_header(("content-type", "application/x-www-form-urlencoded"))
                    .set_payload(format!("csrf_token={submitted}"));
                if let Some(c) = cookie {
                    req = req.cookie(Cookie::new(CSRF_COOKIE, c.to_owned()));
                }
                req.to_request()
            };
            let res = test::call_service(&app, post(Some(&token), &token)).await;
            assert_eq!(res.status(), StatusCode::OK);
            assert_eq!(test::read_body(res).await, token.as_bytes());
            for (cookie, submitted) in [
                (None, token.as_str()),
                (Some(token.as_str()), "other"),
                (Some(""), ""),
            ] {
                let res = test::call_service(&app, post(cookie, submitted)).await;
                assert_eq!(
                    res.status(),
                    StatusCode::FORBIDDEN,
                    "{cookie:?} {submitted:?}"
                );
            }
            // A session's token is no pre-session token.
            let res = test::call_service(&app, post(None, &f.csrf)).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN);
        }
    }
}
