//! `GET|POST /oauth2/authorize` (RFC 6749 §4.1, OpenID Connect Core §3.1.2) and `POST /consent`.
//!
//! The request is checked by `grants::check_authorization`; errors before the client and the
//! redirect URI are trusted are shown as a page, later ones are redirected with `error`,
//! `error_description`, `state` and `iss` (RFC 9207). A browser without a session (or one whose
//! sign-in is too old for `max_age` or `prompt=login`) goes to `/login` and comes back; then the
//! consent page, unless consent was given before or the client is first-party.
//!
//! Three rules keep a registered redirect URI from being used against the user:
//! - A dynamically registered client's redirect URIs are the word of whoever registered it. Until
//!   the user has signed in, its errors (`login_required` included) are shown on a page naming
//!   the client and the error, never redirected: otherwise this server would be an open
//!   redirector to any URI anyone registers (RFC 9700 §4.11.2). Operators' clients redirect.
//! - A response to a loopback or private-use-scheme redirect URI may reach any app on the
//!   device, so such requests are never approved silently: the consent page every time, and
//!   `prompt=none` answers `consent_required` (RFC 8252 §8.6). First-party clients excepted.
//! - `prompt=login` is satisfied only by a sign-in the server itself saw: the sign-in adds a
//!   proof bound to the new session ([`grants::SIGNED_IN_PARAM`]); a marker added to a URL by
//!   anyone else does not match the victim's session.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use grants::{
    ACCOUNT_CHOSEN_PARAM, Arrival, AuthorizationRequest, AuthorizeError, ErrorCode, FormParams,
    OAuthError, ResponseMode, SIGNED_IN_PARAM,
};
use primitives::random_token;
use registration::Client;
use serde::Deserialize;
use url::Url;

use grants::resources::{CheckError, ProtectedResource, check_resources};

use crate::errors::PageError;
use crate::i18n::filters;
use crate::pages::{render, render_page};
use crate::session::{
    CsrfChecked, MaybeSignedIn, SignedIn, SignedOut, csrf_forms, signed_in_proof,
    signed_in_recently,
};
use crate::state::AppState;

/// How long after signing in the sign-in proof satisfies `prompt=login`: the browser comes
/// straight back from the sign-in form, so a few minutes is plenty.
const SIGNED_IN_PROOF_TTL: i64 = 300;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/oauth2/authorize")
            .app_data(web::PayloadConfig::new(16 * 1024))
            .route(web::get().to(authorize_get))
            .route(web::post().to(authorize_post)),
    )
    .route("/consent", web::post().to(consent));
}

fn bad_request_page(message: impl Into<String>) -> PageError {
    PageError {
        status: StatusCode::BAD_REQUEST,
        title: "This sign-in request cannot be used",
        message: message.into(),
    }
}

async fn authorize_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: MaybeSignedIn,
) -> Result<HttpResponse, PageError> {
    let form = FormParams::parse(req.query_string().as_bytes())
        .map_err(|e| bad_request_page(e.description))?;
    let has_accounts = !crate::session::other_sessions(&req).is_empty();
    authorize(state, signed_in, form, has_accounts).await
}

async fn authorize_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: MaybeSignedIn,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let is_form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(bad_request_page("The request must be a form."));
    }
    let form = FormParams::parse(&body).map_err(|e| bad_request_page(e.description))?;
    let has_accounts = !crate::session::other_sessions(&req).is_empty();
    authorize(state, signed_in, form, has_accounts).await
}

async fn find_client(
    state: &AppState,
    client_id: Option<String>,
) -> Result<Option<Client>, PageError> {
    let Some(id) = client_id else {
        return Ok(None);
    };
    // A URL client id: its metadata document, fetched (or kept) now. Whatever is wrong with it
    // concerns the client, so it is shown here and never redirected (RFC 6749 §4.1.2.1).
    crate::cimd::load(state, &id)
        .await
        .map_err(|e| bad_request_page(format!("{e}.")))?;
    let st = state.clone();
    crate::traces::block("find_client", move || {
        let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
        st.clients
            .find_fresh(&mut conn, &id, st.now())
            .map_err(|e| PageError::internal(&e))
    })
    .await
    .map_err(|e| PageError::internal(&e))?
}

/// The error page of a request that would otherwise be redirected to a client nobody vouches
/// for: the client's name and the error, so the user sees who sent them.
fn client_error_page(client: &Client, error: &OAuthError) -> HttpResponse {
    let name = client.metadata.client_name.as_deref().unwrap_or(&client.id);
    actix_web::ResponseError::error_response(&bad_request_page(format!(
        "{name} sent a request this server cannot accept: {} ({}).",
        error.code.as_str(),
        error.description
    )))
}

/// The application a sign-in page is part of: named on the page so the user knows whom they
/// sign in to, with the host their browser will be sent back to.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct AppInfo {
    pub name: String,
    pub host: Option<String>,
    /// Made by the operator; `false` for a client that registered itself (RFC 7591), which the
    /// page marks "not verified by the operator": its name is its own claim.
    pub verified: bool,
}

impl AppInfo {
    /// What the pages say of `client` during a request that asked for `redirect_uri`. The host
    /// shown is the redirect URI's only when the client registered it (an attacker's request
    /// cannot make the page name a host of its choosing), else the one registered redirect
    /// URI's, else the client's `client_uri`'s.
    pub(crate) fn of(client: &Client, redirect_uri: Option<&str>) -> AppInfo {
        let registered = &client.metadata.redirect_uris;
        let uri = redirect_uri
            .filter(|asked| registered.iter().any(|r| r == asked))
            .or(match registered.as_slice() {
                [only] => Some(only.as_str()),
                _ => None,
            })
            .or(client.metadata.client_uri.as_deref());
        AppInfo {
            name: client
                .metadata
                .client_name
                .clone()
                .unwrap_or_else(|| client.id.clone()),
            host: uri
                .and_then(|u| Url::parse(u).ok())
                .and_then(|u| u.host_str().map(str::to_owned)),
            verified: !client.is_dynamically_registered(),
        }
    }
}

/// The application whose authorization request a sign-in page's `return_to` continues, if it
/// is one (`/oauth2/authorize?client_id=…`) and the client exists.
pub(crate) async fn app_of_return_to(state: &AppState, return_to: &str) -> Option<AppInfo> {
    let query = return_to.strip_prefix("/oauth2/authorize?")?;
    let mut client_id = None;
    let mut redirect_uri = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match &*k {
            "client_id" => client_id = Some(v.into_owned()),
            "redirect_uri" => redirect_uri = Some(v.into_owned()),
            _ => {}
        }
    }
    let client_id = client_id?;
    crate::cimd::load(state, &client_id).await.ok()?;
    let st = state.clone();
    let client = crate::traces::block("sign_in_app", move || {
        let mut conn = st.store.conn().ok()?;
        st.clients.find(&mut conn, &client_id, st.now()).ok()?
    })
    .await
    .ok()??;
    Some(AppInfo::of(&client, redirect_uri.as_deref()))
}

/// Where a sign-in sends the browser: `return_to`, and when that is an authorization request,
/// with the proof of this sign-in in place of any the URL carried.
pub(crate) fn return_after_sign_in(return_to: &str, session: &accounts::Session) -> String {
    let Some(query) = return_to.strip_prefix("/oauth2/authorize?") else {
        return return_to.to_owned();
    };
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if k != SIGNED_IN_PARAM {
            out.append_pair(&k, &v);
        }
    }
    out.append_pair(SIGNED_IN_PARAM, &signed_in_proof(session));
    format!("/oauth2/authorize?{}", out.finish())
}

/// An authorization request's query with `select_account` taken out of its `prompt` (the
/// parameter dropped when nothing is left of it).
fn without_select_account(query: &str) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if k == "prompt" {
            let rest: Vec<&str> = v
                .split(' ')
                .filter(|p| !p.is_empty() && *p != "select_account")
                .collect();
            if !rest.is_empty() {
                out.append_pair(&k, &rest.join(" "));
            }
        } else {
            out.append_pair(&k, &v);
        }
    }
    out.finish()
}

/// Whether the request came back from a sign-in of this very session, a moment ago.
fn signed_in_on_the_way(
    request: &AuthorizationRequest,
    session: &accounts::Session,
    now: i64,
) -> bool {
    request
        .signed_in_proof()
        .is_some_and(|proof| signed_in_recently(session, proof, now, SIGNED_IN_PROOF_TTL))
}

/// Checks the request against its client, and its resources (RFC 8707) against the
/// registered ones (`grants::resources::check_resources`). `signed_in` says whether the
/// browser has a session: before that, a dynamically registered client's errors are shown,
/// not redirected. Returns the registered resources the request names, for the consent page.
async fn check(
    state: &AppState,
    form: &FormParams,
    signed_in: bool,
) -> Result<(AuthorizationRequest, Client, Vec<ProtectedResource>), HttpResponse> {
    let (request, client) = check_request(state, form, signed_in).await?;
    let st = state.clone();
    let asked = request.clone();
    let checked = crate::traces::block("check_resources", move || match st.store.conn() {
        Ok(mut conn) => st.with_resource_policy(|policy| check_resources(&mut conn, asked, policy)),
        Err(e) => Err(CheckError::Store(e)),
    })
    .await
    .map_err(|e| actix_web::ResponseError::error_response(&PageError::internal(&e)))?;
    match checked {
        Ok((request, named)) => Ok((request, client, named)),
        Err(CheckError::Store(e)) => Err(actix_web::ResponseError::error_response(
            &PageError::internal(&e),
        )),
        Err(CheckError::Refused(error)) if !signed_in && client.is_dynamically_registered() => {
            Err(client_error_page(&client, &error))
        }
        Err(CheckError::Refused(error)) => Err(respond(
            state,
            request.redirect_uri(),
            request.response_mode(),
            error_params(&error, request.state()),
        )),
    }
}

/// Checks the request against its client (`grants::check_authorization`).
async fn check_request(
    state: &AppState,
    form: &FormParams,
    signed_in: bool,
) -> Result<(AuthorizationRequest, Client), HttpResponse> {
    let client = find_client(state, grants::client_id_of(form).map(str::to_owned))
        .await
        .map_err(|e| actix_web::ResponseError::error_response(&e))?;
    let (pushed, arrival) = match (&client, form.get("request_uri")) {
        (Some(c), Some(_)) => open_pushed(state, &c.id, form).await?,
        _ => (
            None,
            Arrival::Browser {
                pushed_required: state.settings.par_required,
            },
        ),
    };
    let form = pushed.as_ref().unwrap_or(form);
    match grants::check_authorization_as(form, client.as_ref(), arrival) {
        Ok(request) => Ok((
            request,
            client.unwrap_or_else(|| unreachable!("checked above")),
        )),
        Err(AuthorizeError::Page(message)) => Err(actix_web::ResponseError::error_response(
            &bad_request_page(message),
        )),
        Err(AuthorizeError::Redirect { error, .. })
            if !signed_in
                && client
                    .as_ref()
                    .is_some_and(Client::is_dynamically_registered) =>
        {
            Err(client_error_page(
                client
                    .as_ref()
                    .unwrap_or_else(|| unreachable!("checked in the guard")),
                &error,
            ))
        }
        Err(AuthorizeError::Redirect {
            redirect_uri,
            response_mode,
            state: st,
            error,
        }) => Err(respond(
            state,
            &redirect_uri,
            response_mode,
            error_params(&error, st.as_deref()),
        )),
    }
}

/// The pushed request (RFC 9126) a `request_uri` names, read in place of the browser's
/// parameters; a page when there is none for this client.
async fn open_pushed(
    state: &AppState,
    client_id: &str,
    form: &FormParams,
) -> Result<(Option<FormParams>, Arrival), HttpResponse> {
    let st = state.clone();
    let (client_id, outer) = (client_id.to_owned(), form.clone());
    let opened = crate::traces::block("open_pushed", move || {
        let mut conn = st.store.conn()?;
        grants::open_pushed(&mut conn, &client_id, &outer, st.now())
    })
    .await
    .map_err(|e| actix_web::ResponseError::error_response(&PageError::internal(&e)))?
    .map_err(|e| actix_web::ResponseError::error_response(&PageError::internal(&e)))?;
    match opened {
        Ok((params, arrival)) => Ok((Some(params), arrival)),
        Err(message) => Err(actix_web::ResponseError::error_response(&bad_request_page(
            message,
        ))),
    }
}

/// `other_accounts`: the browser holds sessions of other accounts beside its current one.
async fn authorize(
    state: web::Data<AppState>,
    MaybeSignedIn(signed_in): MaybeSignedIn,
    form: FormParams,
    other_accounts: bool,
) -> Result<HttpResponse, PageError> {
    let session = signed_in.map(|s| (s.session, s.user));
    let (request, client, resources) = match check(&state, &form, session.is_some()).await {
        Ok(ok) => ok,
        Err(response) => return Ok(response),
    };
    // `prompt=select_account` with accounts signed in here: the chooser, then back without it
    // (the choice is the user's to make, so nothing needs proving on the way back).
    if request.prompt().select_account && (session.is_some() || other_accounts) {
        // A pushed request's `prompt` is not in the URL: a marker says the account is chosen.
        let back = if request.pushed().is_some() {
            let mut back = form.to_query(&[SIGNED_IN_PARAM, ACCOUNT_CHOSEN_PARAM]);
            back.push_str(&format!("&{ACCOUNT_CHOSEN_PARAM}=1"));
            back
        } else {
            without_select_account(&form.to_query(&[SIGNED_IN_PARAM]))
        };
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("return_to", &format!("/oauth2/authorize?{back}"));
        return Ok(HttpResponse::SeeOther()
            .insert_header((LOCATION, format!("/login/select?{}", q.finish())))
            .insert_header((CACHE_CONTROL, "no-store"))
            .finish());
    }
    let now = state.now();
    let reauth_needed = |s: &accounts::Session| {
        let too_old = request.max_age().is_some_and(|max| now - s.auth_time > max);
        let login_forced = request.prompt().login && !signed_in_on_the_way(&request, s, now);
        too_old || login_forced
    };
    let (session, user) = match session {
        Some((s, u)) if !reauth_needed(&s) => (s, u),
        other => {
            if request.prompt().none {
                const NOT_SIGNED_IN: &str = "the user is not signed in";
                if other.is_none() && client.is_dynamically_registered() {
                    let error = OAuthError::new(ErrorCode::LoginRequired, NOT_SIGNED_IN);
                    return Ok(client_error_page(&client, &error));
                }
                return Ok(redirect_error(
                    &state,
                    &request,
                    ErrorCode::LoginRequired,
                    NOT_SIGNED_IN,
                ));
            }
            // Back here after signing in; the sign-in adds its own proof (a marker the request
            // carried is dropped, so a stale or forged one cannot be kept).
            let back = form.to_query(&[SIGNED_IN_PARAM]);
            let return_to = format!("/oauth2/authorize?{back}");
            let mut login = url::form_urlencoded::Serializer::new(String::new());
            login.append_pair("return_to", &return_to);
            if other.is_some() {
                login.append_pair("reauth", "1");
            }
            if let Some(hint) = request.login_hint() {
                login.append_pair("login_hint", hint);
            }
            return Ok(HttpResponse::SeeOther()
                .insert_header((LOCATION, format!("/login?{}", login.finish())))
                .insert_header((CACHE_CONTROL, "no-store"))
                .finish());
        }
    };
    // One trip to the database for both questions. First: does the sign-in lack a second
    // factor the relying party asked for (`acr_values`), the user holds, or an organization
    // of the user requires? Then the second step (or setting one up), and back here. Else:
    // remembered consent, which applies only when the redirect URI proves which app gets the
    // code (`grants::remembered_consent`); first-party clients need none.
    let st = state.clone();
    let (s, u, c, r) = (
        session.clone(),
        user.clone(),
        client.clone(),
        request.clone(),
    );
    let gate = crate::traces::block("authorize", move || {
        let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
        let needs_mfa = !s.amr.is_multi_factor()
            && (r.wants_mfa()
                || crate::mfa::session_needs_mfa(&mut conn, &s)
                    .map_err(|e| PageError::internal(&e))?);
        if needs_mfa {
            return Ok(None);
        }
        grants::remembered_consent(&mut conn, &u, &c, &r)
            .map(Some)
            .map_err(|e| PageError::internal(&e))
    })
    .await
    .map_err(|e| PageError::internal(&e))??;
    let Some(consented) = gate else {
        if request.prompt().none {
            return Ok(redirect_error(
                &state,
                &request,
                ErrorCode::InteractionRequired,
                "the sign-in needs a second factor",
            ));
        }
        let back = form.to_query(&[SIGNED_IN_PARAM]);
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("return_to", &format!("/oauth2/authorize?{back}"));
        return Ok(HttpResponse::SeeOther()
            .insert_header((LOCATION, format!("/login/mfa?{}", q.finish())))
            .insert_header((CACHE_CONTROL, "no-store"))
            .finish());
    };
    let Some(consented) = consented else {
        if request.prompt().none {
            return Ok(redirect_error(
                &state,
                &request,
                ErrorCode::ConsentRequired,
                "the user has not allowed this application yet",
            ));
        }
        return Ok(consent_page(
            &client, &request, &resources, &user, &session, &form,
        ));
    };
    issue_code(&state, &request, consented, &session).await
}

#[derive(Template, serde::Serialize)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    client_name: &'a str,
    /// The host the browser goes back to, and whether the operator made the client.
    host: Option<String>,
    verified: bool,
    /// The host of a client's metadata document, when the client described itself there
    /// (Client ID Metadata Documents): the one host its id proves.
    described_by: Option<String>,
    client_uri: Option<&'a str>,
    logo_uri: Option<&'a str>,
    user_email: &'a str,
    scope_lines: Vec<String>,
    /// Each registered resource the request names (RFC 8707): its name, and the consent text
    /// of each of its scopes asked.
    resources: Vec<ResourceLines>,
    csrf: &'a str,
    authorization: String,
}

/// What each scope means, in plain words.
pub(crate) fn describe(scope: &str) -> String {
    match scope {
        "openid" => "Know who you are (your account id)".into(),
        "profile" => "See your name".into(),
        "email" => "See your email address and whether it is verified".into(),
        "offline_access" => "Stay connected when you are not using it".into(),
        // The JSON API's scopes, in the registry's words ("Create, change, rotate and revoke
        // your organizations' API keys").
        other => match apikeys::describe_api_scope(other) {
            Some(words) => words.into(),
            None => format!("Use the permission \u{201c}{other}\u{201d}"),
        },
    }
}

/// A resource on the consent page: its display name, its URI, and what each of its scopes
/// asked lets the application do there (the operator's consent text, or the scope's name).
#[derive(serde::Serialize)]
struct ResourceLines {
    name: String,
    uri: String,
    lines: Vec<String>,
}

fn consent_page(
    client: &Client,
    request: &AuthorizationRequest,
    resources: &[ProtectedResource],
    user: &accounts::User,
    session: &accounts::Session,
    form: &FormParams,
) -> HttpResponse {
    let name = client.metadata.client_name.as_deref().unwrap_or(&client.id);
    let app = AppInfo::of(client, Some(request.redirect_uri()));
    let page = ConsentPage {
        client_name: name,
        host: app.host,
        verified: app.verified,
        described_by: client
            .is_self_described()
            .then(|| Url::parse(&client.id).ok())
            .flatten()
            .and_then(|u| u.host_str().map(str::to_owned)),
        client_uri: client.metadata.client_uri.as_deref(),
        logo_uri: client.metadata.logo_uri.as_deref(),
        user_email: &user.email,
        // The scopes no named resource owns are described as ever; each resource lists its own.
        scope_lines: request
            .scope()
            .iter()
            .filter(|s| !resources.iter().any(|r| r.has_scope(s)))
            .map(describe)
            .collect(),
        resources: resources
            .iter()
            .map(|r| ResourceLines {
                name: r.name.clone(),
                uri: r.uri.clone(),
                lines: r
                    .scopes
                    .iter()
                    .filter(|s| request.scope().contains(&s.name))
                    .map(|s| {
                        if s.description.is_empty() {
                            s.name.clone()
                        } else {
                            s.description.clone()
                        }
                    })
                    .collect(),
            })
            .collect(),
        csrf: &session.csrf_token,
        authorization: form.to_query(&[]),
    };
    render_page(StatusCode::OK, &page)
}

impl crate::pages::Page for ConsentPage<'_> {
    const NAME: &'static str = "consent.html";
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ConsentForm {
    csrf_token: String,
    authorization: String,
    decision: String,
}

/// A consent form posted after its session ended: the authorization cannot go on.
struct SessionEnded;

impl SignedOut for SessionEnded {
    fn answer(_: &HttpRequest) -> actix_web::Error {
        bad_request_page("Your session has ended. Start again from the application.").into()
    }
}

async fn consent(
    state: web::Data<AppState>,
    checked: CsrfChecked<ConsentForm, SessionEnded>,
) -> Result<HttpResponse, PageError> {
    let CsrfChecked {
        signed_in: SignedIn { session, user, .. },
        form,
    } = checked;
    let params = FormParams::parse(form.authorization.as_bytes())
        .map_err(|e| bad_request_page(e.description))?;
    let (request, _client, _resources) = match check(&state, &params, true).await {
        Ok(ok) => ok,
        Err(response) => return Ok(response),
    };
    match form.decision.as_str() {
        "allow" => {
            let st = state.clone();
            let (u, r) = (user.clone(), request.clone());
            let consented = crate::traces::block("consent", move || {
                let mut conn = st.store.conn()?;
                grants::give_consent(&mut conn, &u, &r, st.now())
            })
            .await
            .map_err(|e| PageError::internal(&e))?
            .map_err(|e| PageError::internal(&e))?;
            issue_code(&state, &request, consented, &session).await
        }
        "deny" => {
            // A pushed request gives one response (RFC 9126): the refusal takes it.
            let st = state.clone();
            let r = request.clone();
            crate::traces::block("use_pushed", move || {
                let mut conn = st.store.conn()?;
                grants::use_pushed(&mut conn, &r, st.now())
            })
            .await
            .map_err(|e| PageError::internal(&e))?
            .map_err(|e| PageError::internal(&e))?;
            Ok(redirect_error(
                &state,
                &request,
                ErrorCode::AccessDenied,
                "the user denied the request",
            ))
        }
        _ => Err(bad_request_page("Choose Allow or Deny.")),
    }
}

/// Makes and stores a code for this request (`grants::issue_code`, which takes the consent),
/// and sends the browser back with it.
async fn issue_code(
    state: &AppState,
    request: &AuthorizationRequest,
    consented: grants::Consented,
    session: &accounts::Session,
) -> Result<HttpResponse, PageError> {
    let st = state.clone();
    let (r, s) = (request.clone(), session.clone());
    let code = crate::traces::block("issue_code", move || {
        let mut conn = st.store.conn()?;
        grants::issue_code(&mut conn, &r, consented, &s, st.now())
    })
    .await
    .map_err(|e| PageError::internal(&e))?
    .map_err(|e| match e {
        // A pushed request another response used a moment ago.
        grants::GrantError::Refused(refused) => bad_request_page(format!(
            "This sign-in request cannot be used again ({}). Start again from the application.",
            refused.description
        )),
        other => PageError::internal(&other),
    })?;
    let mut params = vec![("code".to_owned(), code.expose().to_owned())];
    if let Some(s) = request.state() {
        params.push(("state".into(), s.to_owned()));
    }
    params.push(("iss".into(), state.settings.issuer_str().to_owned()));
    Ok(respond(
        state,
        request.redirect_uri(),
        request.response_mode(),
        params,
    ))
}

fn error_params(error: &OAuthError, state: Option<&str>) -> Vec<(String, String)> {
    let mut params = vec![
        ("error".to_owned(), error.code.as_str().to_owned()),
        ("error_description".to_owned(), error.description.clone()),
    ];
    if let Some(s) = state {
        params.push(("state".into(), s.to_owned()));
    }
    params
}

fn redirect_error(
    state: &AppState,
    request: &AuthorizationRequest,
    code: ErrorCode,
    description: &str,
) -> HttpResponse {
    let params = error_params(&OAuthError::new(code, description), request.state());
    respond(
        state,
        request.redirect_uri(),
        request.response_mode(),
        params,
    )
}

#[derive(Template)]
#[template(path = "form_post.html")]
struct FormPostPage<'a> {
    action: &'a str,
    fields: Vec<(String, String)>,
    nonce: &'a str,
}

/// Sends an authorization response to the client: `iss` added (RFC 9207), by 303 redirect or an
/// auto-submitted form.
fn respond(
    state: &AppState,
    redirect_uri: &str,
    mode: ResponseMode,
    mut params: Vec<(String, String)>,
) -> HttpResponse {
    if !params.iter().any(|(k, _)| k == "iss") {
        params.push(("iss".into(), state.settings.issuer_str().to_owned()));
    }
    match mode {
        ResponseMode::Query => {
            let Ok(mut url) = Url::parse(redirect_uri) else {
                return actix_web::ResponseError::error_response(&bad_request_page(
                    "The redirect address is not valid.",
                ));
            };
            {
                let mut query = url.query_pairs_mut();
                for (k, v) in &params {
                    query.append_pair(k, v);
                }
            }
            HttpResponse::SeeOther()
                .insert_header((LOCATION, url.as_str().to_owned()))
                .insert_header((CACHE_CONTROL, "no-store"))
                .finish()
        }
        ResponseMode::FormPost => {
            let nonce = random_token(16);
            let origin = Url::parse(redirect_uri)
                .map(|u| u.origin().ascii_serialization())
                .unwrap_or_default();
            let page = FormPostPage {
                action: redirect_uri,
                fields: params,
                nonce: &nonce,
            };
            let mut res = render(StatusCode::OK, &page);
            let csp = format!(
                "default-src 'none'; script-src 'nonce-{nonce}'; form-action {origin}; frame-ancestors 'none'; base-uri 'none'"
            );
            if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&csp) {
                res.headers_mut().insert(CONTENT_SECURITY_POLICY, value);
            }
            res
        }
    }
}

csrf_forms!(ConsentForm);
