//! Signing in with another OpenID provider (`[upstream.NAME]`): the pages' side.
//!
//! - `GET /login/upstream/NAME?return_to=…`: starts an authorization request (code, PKCE S256,
//!   nonce, state) and sends the browser to the provider.
//! - `POST /account/upstream/NAME/link` (signed in, CSRF-checked): the same, with the intent to
//!   link the identity to the signed-in account.
//! - `GET /login/upstream/NAME/callback`: the provider's answer. The pending request is taken
//!   back by its `state`, once, and only in the browser that started it; the code is exchanged
//!   and the ID token verified (`crate::upstream`); then `accounts` decides: sign in, a new
//!   account, a link, or a refusal, each a page.
//! - `POST /account/upstream/identities/{id}/unlink` (signed in, CSRF-checked).
//!
//! The pending request is kept in the database (`upstream_requests`), not in a cookie: it is
//! used once (a delete decides, so a replayed answer finds nothing), it is seen by every
//! instance, and nothing of it needs sealing against the browser. The browser holds only a
//! random secret (`pcl_upstream`) whose hash the row holds, and which seals the row's PKCE
//! verifier, so the row alone cannot finish a sign-in either.

use actix_web::http::StatusCode;
use actix_web::http::header::RETRY_AFTER;
use actix_web::{HttpRequest, HttpResponse, web};
use primitives::{PlainSecret, open_for_holder, seal_for_holder};
use serde::Deserialize;
use serde_json::json;

use super::pages::{account_page, safe_return_to, see_other, start_session_response};
use crate::audit::Event;
use crate::auth::client_ip;
use crate::errors::PageError;
use crate::ratelimit::Limit;
use crate::session::{
    CsrfChecked, CsrfOnly, MaybeSignedIn, ReturnToAccount, presented_upstream_secret,
    upstream_browser_secret, upstream_cookie,
};
use crate::state::AppState;
use crate::upstream::Provider;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/login/upstream/{name}", web::get().to(start_sign_in))
        .route("/login/upstream/{name}/callback", web::get().to(callback))
        .route("/account/upstream/{name}/link", web::post().to(start_link))
        .route(
            "/account/upstream/identities/{id}/unlink",
            web::post().to(unlink),
        );
}

fn page(status: StatusCode, title: &'static str, message: impl Into<String>) -> PageError {
    PageError {
        status,
        title,
        message: message.into(),
    }
}

fn provider<'a>(state: &'a AppState, name: &str) -> Result<&'a Provider, PageError> {
    state.upstreams.get(name).ok_or_else(PageError::not_found)
}

#[derive(Deserialize)]
struct StartQuery {
    return_to: Option<String>,
}

async fn start_sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    q: web::Query<StartQuery>,
) -> Result<HttpResponse, PageError> {
    let return_to = safe_return_to(q.return_to.as_deref());
    start(&req, &state, &name, &return_to, None).await
}

async fn start_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    checked: CsrfChecked<CsrfOnly, ReturnToAccount>,
) -> Result<HttpResponse, PageError> {
    let user_id = checked.signed_in.user.id;
    start(&req, &state, &name, "/account", Some(user_id)).await
}

/// Sends the browser to the provider, the request kept for its answer.
async fn start(
    req: &HttpRequest,
    state: &AppState,
    name: &str,
    return_to: &str,
    link_user_id: Option<String>,
) -> Result<HttpResponse, PageError> {
    let provider = provider(state, name)?;
    let ip = client_ip(req, state);
    if let Err(retry_after) = state.limits.check(Limit::Login, ip.as_deref(), state.now()) {
        let mut res = actix_web::ResponseError::error_response(&page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts",
            "Too many sign-ins from your network. Wait a minute and try again.",
        ));
        res.headers_mut().insert(RETRY_AFTER, retry_after.into());
        return Ok(res);
    }
    let request = provider.authorization_request(state).await?;
    let (secret, _) = upstream_browser_secret(req);
    let sealed = seal_for_holder(&PlainSecret::from_presented(request.pkce_verifier), &secret)
        .ok_or_else(|| PageError::internal(&"the PKCE verifier could not be sealed"))?;
    let st = state.clone();
    let (provider_name, browser, return_to) =
        (name.to_owned(), secret.clone(), return_to.to_owned());
    let (oauth_state, nonce) = (request.state, request.nonce);
    crate::traces::block("upstream_start", move || {
        let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
        accounts::begin_upstream(
            &mut conn,
            &accounts::NewUpstreamRequest {
                provider: &provider_name,
                state: &oauth_state,
                browser_secret: &browser,
                nonce: &nonce,
                pkce_sealed: &sealed,
                return_to: &return_to,
                link_user_id: link_user_id.as_deref(),
            },
            st.now(),
        )
        .map_err(|e| PageError::internal(&e))
    })
    .await
    .map_err(|e| PageError::internal(&e))??;
    let mut res = see_other(&request.url);
    // Set again even when it was there: its lifetime starts with this request.
    res.add_cookie(&upstream_cookie(state, secret))
        .map_err(|e| PageError::internal(&e))?;
    Ok(res)
}

#[derive(Deserialize)]
struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    iss: Option<String>,
}

/// What an answer that cannot be matched to a request gets.
fn not_started_here() -> PageError {
    page(
        StatusCode::BAD_REQUEST,
        "This sign-in cannot be completed",
        "This answer from the provider does not belong to a sign-in started in this browser, or it was used already or came too late. Start again from the sign-in page.",
    )
}

/// The provider's `error` as shown: an RFC 6749 code is letters and `_` only; anything else is
/// not repeated. The description is the provider's text, shortened (the page escapes it).
fn provider_error_message(display: &str, error: &str, description: Option<&str>) -> String {
    if error == grants::ErrorCode::AccessDenied.as_str() {
        return format!(
            "{display} did not sign you in: access was denied (you may have declined). You can sign in another way, or try again."
        );
    }
    let code = if !error.is_empty()
        && error.len() <= 64
        && error.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    {
        error
    } else {
        "an error"
    };
    let detail = description
        .map(|d| {
            d.chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect::<String>()
        })
        .filter(|d| !d.is_empty())
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    format!("{display} did not sign you in: {code}{detail}. Try again, or sign in another way.")
}

async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    q: web::Query<CallbackQuery>,
    signed_in: MaybeSignedIn,
) -> Result<HttpResponse, PageError> {
    let provider = provider(&state, &name)?;
    let display = provider.config.display_name.clone();
    let q = q.into_inner();
    let Some(oauth_state) = q.state.filter(|s| !s.is_empty() && s.len() <= 512) else {
        return Err(not_started_here());
    };
    let browser = presented_upstream_secret(&req);
    let st = state.clone();
    let (provider_name, browser_for_take) = (name.to_string(), browser.clone());
    let pending = crate::traces::block("upstream_callback", move || {
        let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
        accounts::take_upstream(
            &mut conn,
            &provider_name,
            &oauth_state,
            browser_for_take.as_deref(),
            st.now(),
        )
        .map_err(|e| PageError::internal(&e))
    })
    .await
    .map_err(|e| PageError::internal(&e))??
    .ok_or_else(not_started_here)?;
    if let Some(error) = q.error.as_deref() {
        let status = if error == grants::ErrorCode::AccessDenied.as_str() {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::BAD_REQUEST
        };
        return Err(page(
            status,
            "Sign-in with the provider was not completed",
            provider_error_message(&display, error, q.error_description.as_deref()),
        ));
    }
    // RFC 9207: a provider that names itself in its answer must name the one asked.
    if let Some(iss) = q.iss.as_deref()
        && iss.trim_end_matches('/') != provider.config.issuer.as_str().trim_end_matches('/')
    {
        return Err(page(
            StatusCode::BAD_REQUEST,
            "This sign-in cannot be completed",
            "The answer came from another provider than the one asked. Start again from the sign-in page.",
        ));
    }
    let Some(code) = q.code.filter(|c| !c.is_empty()) else {
        return Err(not_started_here());
    };
    let verifier = browser
        .as_deref()
        .and_then(|b| open_for_holder(&pending.pkce_sealed, b))
        .ok_or_else(not_started_here)?;
    let claims = provider
        .finish(&state, &code, &pending.nonce, verifier.expose())
        .await?;
    match pending.link_user_id {
        Some(user_id) => link(&state, &req, signed_in, &user_id, claims, &display).await,
        None => {
            sign_in(
                &state,
                &req,
                signed_in,
                claims,
                &pending.return_to,
                &display,
            )
            .await
        }
    }
}

/// The refusal pages of an upstream sign-in or link.
fn refusal(refusal: &accounts::UpstreamRefusal, display: &str) -> PageError {
    use accounts::UpstreamRefusal as R;
    let (status, title, message): (StatusCode, &'static str, String) = match refusal {
        R::EmailBelongsToAccount => (
            StatusCode::CONFLICT,
            "An account with this address exists",
            format!(
                "There is already an account here with the address {display} gave us, and this {display} identity is not linked to it. Sign in to that account with its password, then link {display} from your account page."
            ),
        ),
        R::NoEmail => (
            StatusCode::FORBIDDEN,
            "No email address",
            format!("{display} did not share an email address, and an account here needs one."),
        ),
        R::SignupClosed => (
            StatusCode::FORBIDDEN,
            "Sign-up is not open",
            format!(
                "No account here is linked to this {display} identity, and new accounts are not open on this server. If you have an account, sign in to it and link {display} from your account page."
            ),
        ),
        R::DomainNotAllowed => (
            StatusCode::FORBIDDEN,
            "Sign-up is not open to this address",
            format!(
                "New accounts here need a verified address in an allowed domain, and {display} did not give one."
            ),
        ),
        R::Disabled => (
            StatusCode::FORBIDDEN,
            "This account is disabled",
            "The account linked to this identity is disabled.".to_owned(),
        ),
        R::LinkedToAnotherAccount => (
            StatusCode::CONFLICT,
            "Linked to another account",
            format!(
                "This {display} identity is linked to another account here. Unlink it there first."
            ),
        ),
        R::LastWayIn => (
            StatusCode::CONFLICT,
            "Your only way to sign in",
            "This is your only way to sign in.".to_owned(),
        ),
        R::TryAgain => (
            StatusCode::CONFLICT,
            "Sign in again",
            "This sign-in crossed another one with the same identity. Sign in again.".to_owned(),
        ),
        R::NotFound => (
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such linked identity.".to_owned(),
        ),
    };
    page(status, title, message)
}

fn refusal_reason(refusal: &accounts::UpstreamRefusal) -> &'static str {
    use accounts::UpstreamRefusal as R;
    match refusal {
        R::EmailBelongsToAccount => "email_belongs_to_account",
        R::NoEmail => "no_email",
        R::SignupClosed => "signup_closed",
        R::DomainNotAllowed => "domain_not_allowed",
        R::Disabled => "disabled",
        R::LinkedToAnotherAccount => "linked_to_another_account",
        R::LastWayIn => "last_way_in",
        R::TryAgain => "try_again",
        R::NotFound => "not_found",
    }
}

async fn sign_in(
    state: &AppState,
    req: &HttpRequest,
    previous: MaybeSignedIn,
    claims: accounts::UpstreamClaims,
    return_to: &str,
    display: &str,
) -> Result<HttpResponse, PageError> {
    let ip = client_ip(req, state);
    let st = state.clone();
    let outcome = crate::traces::block("upstream_sign_in", move || {
        let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
        let now = st.now();
        let via = json!({ "via": "upstream", "provider": claims.provider });
        match accounts::sign_in_upstream(&mut conn, &st.settings.signup, &claims, now) {
            Ok(Ok(accounts::UpstreamSignIn::Existing(user))) => {
                crate::audit::record(
                    &mut conn,
                    now,
                    Event::login_succeeded(&user.id, ip.as_deref(), via),
                );
                Ok(Ok(user))
            }
            Ok(Ok(accounts::UpstreamSignIn::Created(user, org))) => {
                crate::audit::record(
                    &mut conn,
                    now,
                    Event::new("signup")
                        .actor(Some(&user.id))
                        .ip(ip.as_deref())
                        .org(&org.id)
                        .detail(via.clone()),
                );
                crate::audit::record(
                    &mut conn,
                    now,
                    Event::login_succeeded(&user.id, ip.as_deref(), via),
                );
                if !user.email_verified {
                    crate::account::signed_up(&st, &mut conn, &user);
                }
                Ok(Ok(user))
            }
            Ok(Err(refused)) => {
                crate::metrics::business::sign_in(
                    crate::metrics::business::SignInMethod::Upstream,
                    false,
                );
                crate::audit::record(
                    &mut conn,
                    now,
                    Event::new("login.failed")
                        .ip(ip.as_deref())
                        .failed()
                        .detail(json!({
                            "via": "upstream",
                            "provider": claims.provider,
                            "reason": refusal_reason(&refused),
                        })),
                );
                Ok(Err(refused))
            }
            Err(e) => Err(PageError::internal(&e)),
        }
    })
    .await
    .map_err(|e| PageError::internal(&e))??;
    let user = outcome.map_err(|r| refusal(&r, display))?;
    if state.settings.require_verified_email && !user.email_verified {
        return Ok(super::account_pages::check_your_email(&user.email));
    }
    tracing::info!(user = %user.id, "signed in (upstream)");
    // The provider's sign-in is one factor: `start_session_response` asks for a second factor
    // next when the account has one (or its organization requires one), as after a password.
    let fed = accounts::AuthMethods::federated();
    start_session_response(state, req, previous, user.id, fed, return_to).await
}

async fn link(
    state: &AppState,
    req: &HttpRequest,
    signed_in: MaybeSignedIn,
    user_id: &str,
    claims: accounts::UpstreamClaims,
    display: &str,
) -> Result<HttpResponse, PageError> {
    // The link was asked for by this account, in this browser: it must still be signed in.
    if signed_in.0.as_ref().map(|s| s.user.id.as_str()) != Some(user_id) {
        return Err(page(
            StatusCode::FORBIDDEN,
            "Not linked",
            "You are no longer signed in to the account that asked for this link. Sign in and link again from your account page.",
        ));
    }
    let ip = client_ip(req, state);
    let st = state.clone();
    let user_id = user_id.to_owned();
    let linked = crate::traces::block("upstream_link", move || {
        let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
        let now = st.now();
        let linked = accounts::link_upstream(&mut conn, &user_id, &claims, now)
            .map_err(|e| PageError::internal(&e))?;
        let event = Event::new("upstream.linked")
            .actor(Some(&user_id))
            .ip(ip.as_deref());
        match &linked {
            Ok(identity) => crate::audit::record(
                &mut conn,
                now,
                event.detail(json!({
                    "provider": identity.provider,
                    "issuer": identity.issuer,
                    "identity": identity.id,
                })),
            ),
            Err(refused) => crate::audit::record(
                &mut conn,
                now,
                event.failed().detail(json!({
                    "provider": claims.provider,
                    "reason": refusal_reason(refused),
                })),
            ),
        }
        Ok::<_, PageError>(linked)
    })
    .await
    .map_err(|e| PageError::internal(&e))??;
    linked.map_err(|r| refusal(&r, display))?;
    Ok(see_other("/account?notice=upstream_linked"))
}

async fn unlink(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    checked: CsrfChecked<CsrfOnly, ReturnToAccount>,
) -> Result<HttpResponse, PageError> {
    let signed_in = checked.signed_in;
    let user_id = signed_in.user.id.clone();
    let ip = client_ip(&req, &state);
    let st = state.clone();
    let id = id.into_inner();
    let unlinked = crate::traces::block("upstream_unlink", move || {
        let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
        let now = st.now();
        let unlinked = accounts::unlink_upstream(&mut conn, &user_id, &id)
            .map_err(|e| PageError::internal(&e))?;
        let event = Event::new("upstream.unlinked")
            .actor(Some(&user_id))
            .ip(ip.as_deref());
        match &unlinked {
            Ok(identity) => crate::audit::record(
                &mut conn,
                now,
                event.detail(json!({
                    "provider": identity.provider,
                    "issuer": identity.issuer,
                    "identity": identity.id,
                })),
            ),
            Err(accounts::UpstreamRefusal::LastWayIn) => crate::audit::record(
                &mut conn,
                now,
                event
                    .failed()
                    .detail(json!({ "identity": id, "reason": "last_way_in" })),
            ),
            Err(_) => {}
        }
        Ok::<_, PageError>(unlinked)
    })
    .await
    .map_err(|e| PageError::internal(&e))??;
    match unlinked {
        Ok(_) | Err(accounts::UpstreamRefusal::NotFound) => {
            Ok(see_other("/account?notice=upstream_unlinked"))
        }
        Err(accounts::UpstreamRefusal::LastWayIn) => {
            account_page(
                &state,
                signed_in,
                None,
                Some(
                    "This is your only way to sign in: set a password first (\u{201c}Forgot your password?\u{201d} on the sign-in page mails you a link), or link another provider.",
                ),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(other) => Err(refusal(&other, "the provider")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_providers_error_is_shown_without_its_markup_or_length() {
        assert!(
            provider_error_message("Corp", "access_denied", None).contains("access was denied")
        );
        let m = provider_error_message("Corp", "server_error", Some("down\nfor maintenance"));
        assert_eq!(
            m,
            "Corp did not sign you in: server_error (downfor maintenance). Try again, or sign in another way."
        );
        let m = provider_error_message("Corp", "<script>", Some(&"x".repeat(500)));
        assert!(m.contains(": an error ("), "{m}");
        assert!(m.len() < 300, "{m}");
    }
}
