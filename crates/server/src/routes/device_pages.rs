//! `/device` (RFC 8628 §3.3): where a user types the code a device shows, signed in, and
//! allows or denies the device's request.
//!
//! `GET /device` asks for the code (a GET form, so the page can be linked with the code filled
//! in: `verification_uri_complete`); `GET /device?user_code=…` shows the request, in the
//! consent page's words, with the code to compare against the device (RFC 8628 §5.4: a user
//! who did not start the request on a device of their own should not allow it);
//! `POST /device` (CSRF-checked) carries the decision. Without a session, the browser signs in
//! first and comes back with the code.
//!
//! Guessing: a user code is 8 letters of 20 (RFC 8628 §6.1), so wrong codes are limited per
//! browser session and per IP (`PORTCULLIS_RATE_LIMIT_DEVICE_CODE` a minute, each): only wrong
//! ones count, and once over the limit no code is looked up at all, right or wrong, until the
//! minute ends.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use grants::{PendingDevice, UserCode};
use serde::Deserialize;

use super::account_pages::notice;
use super::authorize::{AppInfo, describe};
use crate::audit::Event;
use crate::errors::PageError;
use crate::i18n::filters;
use crate::pages::render_page;
use crate::ratelimit::Limit;
use crate::session::{CsrfChecked, MaybeSignedIn, SignedIn, SignedOut, csrf_forms};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/device")
            .route(web::get().to(device_get))
            .route(web::post().to(device_post))
            .default_service(web::to(crate::errors::method_not_allowed)),
    );
}

const WRONG_CODE: &str =
    "That code is not valid, or it has expired. Check the code your device shows.";
const TOO_MANY: &str = "Too many wrong codes. Wait a minute and try again.";

#[derive(Template, serde::Serialize)]
#[template(path = "device.html")]
struct DevicePage<'a> {
    /// The request to decide; `None` shows the form that asks for the code.
    request: Option<DeviceRequest<'a>>,
    /// What the user typed, shown again after a wrong code.
    typed: &'a str,
    error: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct DeviceRequest<'a> {
    app: AppInfo,
    client_uri: Option<String>,
    logo_uri: Option<String>,
    user_email: &'a str,
    scope_lines: Vec<String>,
    resources: Vec<String>,
    user_code: String,
    csrf: &'a str,
}

impl crate::pages::Page for DevicePage<'_> {
    const NAME: &'static str = "device.html";
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DeviceQuery {
    user_code: String,
}

fn no_store_redirect(location: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, location))
        .insert_header((CACHE_CONTROL, "no-store"))
        .finish()
}

/// `/device`, with the typed code when there is one.
fn this_page(typed: &str) -> String {
    if typed.is_empty() {
        return "/device".to_owned();
    }
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("user_code", typed);
    format!("/device?{}", q.finish())
}

fn to(path: &str, back: &str) -> HttpResponse {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("return_to", back);
    no_store_redirect(format!("{path}?{}", q.finish()))
}

fn entry_page(status: StatusCode, typed: &str, error: Option<&str>) -> HttpResponse {
    render_page(
        status,
        &DevicePage {
            request: None,
            typed,
            error,
        },
    )
}

/// What a look-up of a typed code found.
enum Lookup {
    /// The request, its client, and the registered protected resources it names.
    Found(
        PendingDevice,
        Box<registration::Client>,
        Vec<grants::resources::ProtectedResource>,
    ),
    /// Not a code, or no pending request has it: one more wrong code counted.
    Wrong,
    /// Over the limit of wrong codes: nothing looked up; retry after these seconds.
    Limited(i64),
}

/// Looks up a typed code for this session, under the limits on wrong codes.
async fn look_up(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    session: &accounts::Session,
    typed: &str,
) -> Result<Lookup, PageError> {
    let now = state.now();
    let ip = crate::auth::client_ip(req, state);
    let keys = [
        (Limit::DeviceCodePerSession, Some(session.id.as_str())),
        (Limit::DeviceCodePerIp, ip.as_deref()),
    ];
    for (limit, key) in keys {
        if let Err(retry) = state.limits.peek(limit, key, now) {
            return Ok(Lookup::Limited(retry));
        }
    }
    let found = match UserCode::parse(typed) {
        None => None,
        Some(code) => {
            let st = state.clone();
            crate::traces::block("device_lookup", move || {
                let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
                let Some(pending) = grants::pending_device(&mut conn, &code, now)
                    .map_err(|e| PageError::internal(&e))?
                else {
                    return Ok(None);
                };
                let client = st
                    .clients
                    .find(&mut conn, pending.client_id(), now)
                    .map_err(|e| PageError::internal(&e))?;
                let mut named = Vec::new();
                for uri in pending.resources() {
                    if let Some(r) = grants::resources::find_resource(&mut conn, uri)
                        .map_err(|e| PageError::internal(&e))?
                    {
                        named.push(r);
                    }
                }
                Ok::<_, PageError>(client.map(|c| (pending, Box::new(c), named)))
            })
            .await
            .map_err(|e| PageError::internal(&e))??
        }
    };
    match found {
        Some((pending, client, named)) => Ok(Lookup::Found(pending, client, named)),
        None => {
            for (limit, key) in keys {
                // Counted; whether this one went over shows at the next look-up.
                let _ = state.limits.check(limit, key, now);
            }
            state.audit.queue(
                now,
                Event::new("device.wrong_user_code")
                    .actor(Some(&session.user_id))
                    .ip(ip.as_deref())
                    .failed(),
            );
            Ok(Lookup::Wrong)
        }
    }
}

fn limited(retry: i64) -> HttpResponse {
    let mut res = entry_page(StatusCode::TOO_MANY_REQUESTS, "", Some(TOO_MANY));
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&retry.max(1).to_string()) {
        res.headers_mut()
            .insert(actix_web::http::header::RETRY_AFTER, v);
    }
    res
}

/// Sends a session that still owes a second factor to it, and back to `back`.
async fn needs_mfa(state: &AppState, session: &accounts::Session) -> Result<bool, PageError> {
    let st = state.clone();
    let s = session.clone();
    crate::traces::block("device_mfa", move || {
        let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
        let needs = !s.amr.is_multi_factor()
            && crate::mfa::session_needs_mfa(&mut conn, &s).map_err(|e| PageError::internal(&e))?;
        Ok::<_, PageError>(needs)
    })
    .await
    .map_err(|e| PageError::internal(&e))?
}

async fn device_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    MaybeSignedIn(signed_in): MaybeSignedIn,
    query: web::Query<DeviceQuery>,
) -> Result<HttpResponse, PageError> {
    let typed = query.into_inner().user_code;
    let typed = typed.trim();
    let back = this_page(typed);
    let Some(SignedIn { session, user, .. }) = signed_in else {
        return Ok(to("/login", &back));
    };
    if needs_mfa(&state, &session).await? {
        return Ok(to("/login/mfa", &back));
    }
    if typed.is_empty() {
        return Ok(entry_page(StatusCode::OK, "", None));
    }
    match look_up(&state, &req, &session, typed).await? {
        Lookup::Limited(retry) => Ok(limited(retry)),
        Lookup::Wrong => Ok(entry_page(StatusCode::BAD_REQUEST, typed, Some(WRONG_CODE))),
        Lookup::Found(pending, client, named) => {
            let code = UserCode::parse(typed)
                .map(|c| c.to_string())
                .unwrap_or_default();
            Ok(request_page(
                &pending, &client, &named, &user, &session, code,
            ))
        }
    }
}

fn request_page(
    pending: &PendingDevice,
    client: &registration::Client,
    named: &[grants::resources::ProtectedResource],
    user: &accounts::User,
    session: &accounts::Session,
    user_code: String,
) -> HttpResponse {
    let page = DevicePage {
        request: Some(DeviceRequest {
            app: AppInfo::of(client, None),
            client_uri: client.metadata.client_uri.clone(),
            logo_uri: client.metadata.logo_uri.clone(),
            user_email: &user.email,
            // A registered resource's scope in its own words, as on the consent page.
            scope_lines: pending
                .scope()
                .iter()
                .map(|scope| {
                    named
                        .iter()
                        .flat_map(|r| &r.scopes)
                        .find(|s| s.name == scope && !s.description.is_empty())
                        .map_or_else(|| describe(scope), |s| s.description.clone())
                })
                .collect(),
            // A registered resource by its name and URI; any other by its URI.
            resources: pending
                .resources()
                .iter()
                .map(|uri| match named.iter().find(|r| &r.uri == uri) {
                    Some(r) => format!("{} ({uri})", r.name),
                    None => uri.clone(),
                })
                .collect(),
            user_code,
            csrf: &session.csrf_token,
        }),
        typed: "",
        error: None,
    };
    render_page(StatusCode::OK, &page)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DecisionForm {
    csrf_token: String,
    user_code: String,
    decision: String,
}

csrf_forms!(DecisionForm);

/// A decision posted without a session: sign in, then type the code again.
struct SignInAgain;

impl SignedOut for SignInAgain {
    fn answer(_: &HttpRequest) -> actix_web::Error {
        crate::session::redirect("/login?return_to=/device".to_owned())
    }
}

async fn device_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    checked: CsrfChecked<DecisionForm, SignInAgain>,
) -> Result<HttpResponse, PageError> {
    let CsrfChecked {
        signed_in: SignedIn { session, user, .. },
        form,
    } = checked;
    if needs_mfa(&state, &session).await? {
        return Ok(to("/login/mfa", "/device"));
    }
    let allow = match form.decision.as_str() {
        "allow" => true,
        "deny" => false,
        _ => {
            return Err(PageError {
                status: StatusCode::BAD_REQUEST,
                title: "This sign-in request cannot be used",
                message: "Choose Allow or Deny.".into(),
            });
        }
    };
    let pending = match look_up(&state, &req, &session, form.user_code.trim()).await? {
        Lookup::Limited(retry) => return Ok(limited(retry)),
        Lookup::Wrong => {
            return Ok(entry_page(StatusCode::BAD_REQUEST, "", Some(WRONG_CODE)));
        }
        Lookup::Found(pending, ..) => pending,
    };
    let now = state.now();
    let st = state.clone();
    let (p, u, s) = (pending.clone(), user.clone(), session.clone());
    let decided = crate::traces::block("device_decision", move || {
        let mut conn = st.store.conn()?;
        if allow {
            let consent = grants::give_device_consent(&mut conn, &u, &p, now)?;
            grants::approve_device(&mut conn, &p, consent, &s, now)
        } else {
            grants::deny_device(&mut conn, &p, now)
        }
    })
    .await
    .map_err(|e| PageError::internal(&e))?
    .map_err(|e| PageError::internal(&e))?;
    if !decided {
        // Decided in another tab, or expired, since the page was shown.
        return Ok(entry_page(StatusCode::BAD_REQUEST, "", Some(WRONG_CODE)));
    }
    state.audit.queue(
        now,
        Event::new(if allow {
            "device.approved"
        } else {
            "device.denied"
        })
        .actor(Some(&user.id))
        .ip(crate::auth::client_ip(&req, &state).as_deref())
        .detail(serde_json::json!({
            "client_id": pending.client_id(),
            "scope": pending.scope().to_option(),
        })),
    );
    Ok(if allow {
        notice(
            StatusCode::OK,
            "Device connected",
            "You allowed the device. You can close this page and return to your device.",
            None,
        )
    } else {
        notice(
            StatusCode::OK,
            "Request denied",
            "You denied the request. The device gets no access.",
            None,
        )
    })
}
