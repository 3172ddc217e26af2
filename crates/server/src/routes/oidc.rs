//! OpenID Connect: `GET /.well-known/openid-configuration`, `GET|POST /oauth2/userinfo` and
//! `GET|POST /oauth2/logout` (RP-Initiated Logout 1.0).

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use grants::FormParams;
use serde_json::{Value, json};
use url::Url;

use crate::access::{Expect, TokenRejected, verify_access_token};
use crate::auth::{Presentation, PresentedToken, presented_token};
use crate::errors::{ErrorCode, OAuthHttpError, PageError, oauth};
use crate::i18n::filters;
use crate::pages::render_page;
use crate::session::{
    MaybeSignedIn, SESSION_COOKIE, pre_session_csrf, pre_session_csrf_matches, tokens_match,
    with_csrf_cookie,
};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/.well-known/openid-configuration",
        web::get().to(openid_configuration),
    )
    .route(
        "/{prefix:.+}/.well-known/openid-configuration",
        web::get().to(openid_configuration_for_path),
    )
    // The path-inserted form (as RFC 8414 §3 does it), which MCP clients also try.
    .route(
        "/.well-known/openid-configuration/{prefix:.+}",
        web::get().to(openid_configuration_for_path),
    )
    .route("/oauth2/userinfo", web::get().to(userinfo))
    .route("/oauth2/userinfo", web::post().to(userinfo))
    .route("/oauth2/logout", web::get().to(logout_get))
    .route("/oauth2/logout", web::post().to(logout_post));
}

/// The provider metadata: OpenID Connect Discovery 1.0 and RFC 8414 share it, so the two
/// documents cannot disagree. Everything listed works.
pub fn provider_metadata(state: &AppState) -> Value {
    let s = &state.settings;
    let issuer = s.issuer_str();
    // Client assertions (`registration::assertion`): private_key_jwt always, client_secret_jwt
    // only with encryption keys to seal its secrets under.
    let secret_jwt = s.encryption_keys.is_some();
    let mut auth_methods = vec![
        "client_secret_basic",
        "client_secret_post",
        "none",
        "private_key_jwt",
    ];
    let mut assertion_algs = registration::assertion::KEY_ALGS.to_vec();
    if secret_jwt {
        auth_methods.push("client_secret_jwt");
        assertion_algs.extend(registration::assertion::HMAC_ALGS);
    }
    let confidential_methods: Vec<&str> = auth_methods
        .iter()
        .copied()
        .filter(|m| *m != "none")
        .collect();
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth2/authorize"),
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "userinfo_endpoint": format!("{issuer}/oauth2/userinfo"),
        "jwks_uri": format!("{issuer}/jwks.json"),
        "registration_endpoint": format!("{issuer}/oauth2/register"),
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "device_authorization_endpoint": format!("{issuer}/oauth2/device_authorization"),
        // RFC 9126: pushed authorization requests; required of every client when the operator
        // says so (a client may require it of itself).
        "pushed_authorization_request_endpoint": format!("{issuer}/oauth2/par"),
        "require_pushed_authorization_requests": s.par_required,
        "end_session_endpoint": format!("{issuer}/oauth2/logout"),
        "scopes_supported": s.scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", grants::DEVICE_CODE_GRANT, registration::TOKEN_EXCHANGE],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "introspection_endpoint_auth_methods_supported": confidential_methods,
        "introspection_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        // The pages' languages (`ui_locales`, `crate::i18n`). The claims' values (a name, an
        // address) are the user's own words in no language, the same for every listed one.
        "ui_locales_supported": crate::i18n::Lang::ALL.map(crate::i18n::Lang::code),
        "claims_locales_supported": crate::i18n::Lang::ALL.map(crate::i18n::Lang::code),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "amr", "acr", "nonce", "at_hash", "sid", "email", "email_verified", "name", "updated_at"],
        "acr_values_supported": accounts::ACR_VALUES,
        "authorization_response_iss_parameter_supported": true,
        // draft-ietf-oauth-client-id-metadata-document: URL client ids (`crate::cimd`).
        "client_id_metadata_document_supported": s.cimd.enabled(),
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        // RFC 9449 §5.1: DPoP proofs at the token endpoint and every resource of ours.
        "dpop_signing_alg_values_supported": tokens::dpop::DPOP_ALGS,
        // Back-Channel Logout 1.0 §2.1: logout tokens carry `sid` (`crate::backchannel`).
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
    })
}

pub fn metadata_response(state: &AppState) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "public, max-age=300"))
        .json(provider_metadata(state))
}

async fn openid_configuration(state: web::Data<AppState>) -> HttpResponse {
    metadata_response(&state)
}

/// For an issuer with a path, Discovery appends the well-known suffix to it.
async fn openid_configuration_for_path(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let issuer_path = state.settings.issuer.path().trim_matches('/');
    if !issuer_path.is_empty() && path.trim_matches('/') == issuer_path {
        metadata_response(&state)
    } else {
        actix_web::ResponseError::error_response(&PageError::not_found())
    }
}

/// OpenID Connect userinfo; its errors are RFC 6750 §3 answers (`errors::oauth`).
async fn userinfo(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthHttpError> {
    // The token comes in the header, or (POST only) as a form field (RFC 6750 §2.2); not both.
    let header = presented_token(&req, &state);
    let form_token = if req.method() == actix_web::http::Method::POST
        && req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
    {
        FormParams::parse(&body).ok().and_then(|f| {
            f.get("access_token").map(|token| PresentedToken {
                token: token.to_owned(),
                presentation: Presentation::bearer(&req, &state),
            })
        })
    } else {
        None
    };
    let token = match (header, form_token) {
        (Some(_), Some(_)) => {
            return Err(OAuthHttpError::bearer(
                ErrorCode::InvalidRequest,
                "send the token once",
            ));
        }
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => return Err(OAuthHttpError::bearer_required()),
    };
    let st = state.clone();
    let body = crate::traces::block("userinfo", move || {
        let mut conn = st
            .store
            .conn()
            .map_err(|e| OAuthHttpError::bearer_server_error(&e))?;
        let verified = verify_access_token(
            &st,
            &mut conn,
            &token.token,
            Expect::OurApis(&token.presentation),
        )
        .map_err(oauth::from_rejected_token)?;
        let scopes = verified.scopes();
        if !scopes.contains(&"openid") {
            return Err(OAuthHttpError::bearer(
                ErrorCode::InsufficientScope,
                "the token lacks the openid scope",
            ));
        }
        // A client's own token (client credentials) names no user.
        let Some(user) = verified.user() else {
            return Err(oauth::from_rejected_token(TokenRejected::Invalid(
                "a client's own token",
            )));
        };
        let mut body = grants::scope_claims(user, &grants::Scope::from_tokens(&scopes));
        body.insert("sub".into(), Value::String(user.id.clone()));
        Ok(Value::Object(body))
    })
    .await
    .map_err(|e| OAuthHttpError::bearer_server_error(&e))??;
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(body))
}

#[derive(Template, serde::Serialize)]
#[template(path = "logout.html")]
struct LogoutPage<'a> {
    confirm: bool,
    /// Whether there is a session to end (else the page only asks whether to go back).
    signed_in: bool,
    csrf: &'a str,
    client_name: Option<&'a str>,
    fields: Vec<(String, String)>,
}

impl crate::pages::Page for LogoutPage<'_> {
    const NAME: &'static str = "logout.html";
}

fn logout_error(message: &str) -> PageError {
    PageError {
        status: StatusCode::BAD_REQUEST,
        title: "This sign-out request cannot be used",
        message: message.to_owned(),
    }
}

async fn logout_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: MaybeSignedIn,
) -> Result<HttpResponse, PageError> {
    let form = FormParams::parse(req.query_string().as_bytes())
        .map_err(|e| logout_error(&e.description))?;
    logout(req, state, signed_in, form, false).await
}

async fn logout_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: MaybeSignedIn,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form = FormParams::parse(&body).map_err(|e| logout_error(&e.description))?;
    logout(req, state, signed_in, form, true).await
}

/// RP-Initiated Logout: an `id_token_hint` naming the signed-in user signs out and sends the
/// browser back at once. Otherwise (no hint, another user's hint, or no session at all) the user
/// confirms first on a CSRF-protected form, and only then is sent to `post_logout_redirect_uri`
/// (RP-Initiated Logout 1.0 §2, §3): a valid ID token is no proof that the browser's user asked
/// to leave, since anyone holding one of their own could send a link. The URI must be
/// registered exactly. With nothing to end and nowhere to go, the page says so at once.
async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: MaybeSignedIn,
    form: FormParams,
    posted: bool,
) -> Result<HttpResponse, PageError> {
    let hint = form.get("id_token_hint").map(str::to_owned);
    let redirect = form.get("post_logout_redirect_uri").map(str::to_owned);
    let client_id = form.get("client_id").map(str::to_owned);
    let logout_state = form.get("state").map(str::to_owned);
    let st = state.clone();
    let (hint_claims, client) =
        crate::traces::block("rp_logout", move || -> Result<_, PageError> {
            let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
            let hint_claims = match &hint {
                None => None,
                Some(token) => {
                    let ring = st
                        .keys
                        .get(&mut conn, st.now())
                        .map_err(|e| PageError::internal(&e))?;
                    Some(
                        tokens::verify_id_token_hint(&ring, token, st.settings.issuer_str())
                            .map_err(|_| {
                                logout_error("The id_token_hint is not a token of this server.")
                            })?,
                    )
                }
            };
            let hinted_client = hint_claims.as_ref().and_then(|h| match &h.aud {
                tokens::Audience::One(a) => Some(a.clone()),
                tokens::Audience::Many(list) => list.first().cloned(),
            });
            if let (Some(a), Some(b)) = (&client_id, &hinted_client)
                && a != b
            {
                return Err(logout_error("client_id does not match the id_token_hint."));
            }
            let client = match client_id.or(hinted_client) {
                Some(id) => registration::find_client(&mut conn, &id)
                    .map_err(|e| PageError::internal(&e))?,
                None => None,
            };
            Ok((hint_claims, client))
        })
        .await
        .map_err(|e| PageError::internal(&e))??;
    if let Some(uri) = &redirect {
        let registered = client.as_ref().is_some_and(|c| {
            c.metadata
                .post_logout_redirect_uris
                .iter()
                .any(|r| r == uri)
        });
        if !registered {
            return Err(logout_error(
                "The address to return to after signing out is not registered for this application.",
            ));
        }
    }
    let session = signed_in.0.map(|s| (s.session, s.user));
    let hint_matches = match (&hint_claims, &session) {
        (Some(h), Some((_, user))) => h.sub == user.id,
        _ => false,
    };
    // Without a session the form is protected by the pre-session CSRF cookie, as sign-in is.
    let submitted = form.get("csrf_token").unwrap_or("");
    let confirmed = posted
        && form.get("confirm") == Some("yes")
        && match &session {
            Some((s, _)) => tokens_match(&s.csrf_token, submitted),
            None => pre_session_csrf_matches(&req, submitted),
        };
    if !hint_matches && !confirmed && (session.is_some() || redirect.is_some()) {
        let fields = form
            .pairs()
            .iter()
            .filter(|(k, _)| k != "csrf_token" && k != "confirm")
            .cloned()
            .collect();
        let client_name = client
            .as_ref()
            .and_then(|c| c.metadata.client_name.as_deref());
        if let Some((s, _)) = &session {
            let page = LogoutPage {
                confirm: true,
                signed_in: true,
                csrf: &s.csrf_token,
                client_name,
                fields,
            };
            return Ok(render_page(StatusCode::OK, &page));
        }
        let (csrf, is_new) = pre_session_csrf(&req);
        let page = LogoutPage {
            confirm: true,
            signed_in: false,
            csrf: &csrf,
            client_name,
            fields,
        };
        return Ok(with_csrf_cookie(
            &state,
            render_page(StatusCode::OK, &page),
            &csrf,
            is_new,
        ));
    }
    if let Some((s, user)) = session {
        let st = state.clone();
        crate::traces::block("rp_logout", move || {
            let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
            accounts::end_session(&mut conn, &s, st.now()).map_err(|e| PageError::internal(&e))
        })
        .await
        .map_err(|e| PageError::internal(&e))??;
        tracing::info!(user = %user.id, "signed out (RP-initiated)");
    }
    // Only the signed-in user's own hint, or their confirmation, may send the browser on.
    let may_redirect = hint_matches || confirmed;
    let mut res = match redirect.filter(|_| may_redirect) {
        Some(uri) => {
            let mut url =
                Url::parse(&uri).map_err(|_| logout_error("The return address is not valid."))?;
            if let Some(s) = &logout_state {
                url.query_pairs_mut().append_pair("state", s);
            }
            HttpResponse::SeeOther()
                .insert_header((LOCATION, url.as_str().to_owned()))
                .finish()
        }
        None => render_page(
            StatusCode::OK,
            &LogoutPage {
                confirm: false,
                signed_in: false,
                csrf: "",
                client_name: None,
                fields: Vec::new(),
            },
        ),
    };
    let mut removal = Cookie::new(SESSION_COOKIE, "");
    removal.set_path("/");
    res.add_removal_cookie(&removal)
        .map_err(|e| PageError::internal(&e))?;
    Ok(res)
}
