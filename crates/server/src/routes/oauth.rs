//! `POST /oauth2/token` (RFC 6749 §3.2), `POST /oauth2/introspect` (RFC 7662),
//! `POST /oauth2/revoke` (RFC 7009), `POST /oauth2/device_authorization` (RFC 8628 §3.1) and
//! `POST /oauth2/par` (RFC 9126). Each is called by a client, authenticated as at the token
//! endpoint (a public client names itself); none takes a user's credential.

use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use actix_web::{HttpRequest, HttpResponse, web};
use grants::{ErrorCode, FormParams, OAuthError, TokenRequest, presented_credentials};
use registration::Presented;
use serde_json::{Map, Value, json};

use crate::audit::Event;
use crate::errors::{OAuthBody, OAuthHttpError};
use crate::flows;
use crate::ratelimit::Limit;
use crate::state::AppState;

/// Largest form body the OAuth endpoints read.
const FORM_LIMIT: usize = 16 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // The legacy path some password-grant clients use; only that grant is answered there.
    cfg.service(
        web::resource("/Token")
            .app_data(web::PayloadConfig::new(FORM_LIMIT))
            .route(web::post().to(legacy_token))
            .default_service(web::to(crate::errors::oauth_method_not_allowed)),
    );
    for (path, handler) in [
        ("/oauth2/token", Handler::Token),
        ("/oauth2/introspect", Handler::Introspect),
        ("/oauth2/revoke", Handler::Revoke),
        ("/oauth2/device_authorization", Handler::Device),
        ("/oauth2/par", Handler::Par),
    ] {
        let resource = web::resource(path)
            .app_data(web::PayloadConfig::new(FORM_LIMIT))
            .default_service(web::to(crate::errors::oauth_method_not_allowed));
        cfg.service(match handler {
            Handler::Token => resource.route(web::post().to(token)),
            Handler::Introspect => resource.route(web::post().to(introspect)),
            Handler::Revoke => resource.route(web::post().to(revoke)),
            Handler::Device => resource.route(web::post().to(device_authorization)),
            Handler::Par => resource.route(web::post().to(pushed_authorization)),
        });
    }
}

enum Handler {
    Token,
    Introspect,
    Revoke,
    Device,
    Par,
}

/// The form body, after checking it is one (RFC 6749 §3.2).
fn form_body(req: &HttpRequest, body: &[u8]) -> Result<FormParams, OAuthHttpError> {
    let is_form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        )
        .into());
    }
    Ok(FormParams::parse(body)?)
}

/// Makes the client of `presented` one the flows can look up: a URL client id's metadata
/// document is fetched (or kept) first. A document that cannot be used is `invalid_client`.
/// A client assertion's client that publishes its keys at a `jwks_uri` gets them fetched (or
/// kept) too (`crate::clientkeys`).
async fn load_client(state: &AppState, presented: &Presented) -> Result<(), OAuthHttpError> {
    crate::cimd::load(state, presented.client_id())
        .await
        .map_err(|e| {
            OAuthHttpError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidClient,
                e.to_string(),
            )
        })?;
    crate::clientkeys::load(state, presented).await
}

/// The client credentials of the request; a request without any is `invalid_client`.
fn credentials(req: &HttpRequest, form: &FormParams) -> Result<Presented, OAuthHttpError> {
    let header = match req.headers().get(AUTHORIZATION) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| OAuthError::invalid_client("malformed Authorization header"))?,
        ),
    };
    presented_credentials(header, form)?.ok_or_else(|| {
        OAuthHttpError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidClient,
            "client authentication is required",
        )
    })
}

fn no_store(mut res: HttpResponse) -> HttpResponse {
    let headers = res.headers_mut();
    headers.insert(
        CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    headers.insert(
        PRAGMA,
        actix_web::http::header::HeaderValue::from_static("no-cache"),
    );
    res
}

async fn legacy_token(
    req: HttpRequest,
    OAuthBody(body): OAuthBody,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthHttpError> {
    token_for(req, body, state, true).await
}

async fn token(
    req: HttpRequest,
    OAuthBody(body): OAuthBody,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthHttpError> {
    token_for(req, body, state, false).await
}

async fn token_for(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
    password_only: bool,
) -> Result<HttpResponse, OAuthHttpError> {
    let form = form_body(&req, &body)?;
    let presented = credentials(&req, &form)?;
    let request = TokenRequest::parse(&form)?;
    if password_only && !matches!(request, TokenRequest::Password { .. }) {
        return Err(OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            "only the password grant is answered here; use /oauth2/token",
        )
        .into());
    }
    // RFC 9449 §5: a proof, when sent, is checked before anything else is decided; it is
    // recorded against replay with the flow (`flows::token`).
    let proof = crate::dpop::DpopRequest::of(&req, &state)
        .check(&state, None)
        .map_err(|r| OAuthHttpError::dpop(&r))?;
    let bound = proof.is_some();
    let ip = crate::auth::client_ip(&req, &state);
    let grant = request.grant_type();
    let now = state.now();
    token_limits(&state, ip.as_deref(), presented.client_id(), now)?;
    if grant == "password" {
        state
            .limits
            .check(Limit::Login, ip.as_deref(), now)
            .map_err(OAuthHttpError::slow_down)?;
    }
    let audit_ip = ip.clone();
    let st = state.clone();
    let client_id = presented.client_id().to_owned();
    let outcome = match load_client(&state, &presented).await {
        Err(e) => Err(e),
        Ok(()) => match flows::fast_client_credentials(&state, &presented, &request, &proof) {
            Some(answer) => answer,
            None => {
                crate::traces::block("token", move || {
                    flows::token(&st, &presented, request, ip, proof)
                })
                .await?
            }
        },
    };
    let issued = match outcome {
        Ok(issued) => issued,
        Err(e) => {
            if e.error == Some(ErrorCode::InvalidClient) {
                state.audit.queue(
                    now,
                    Event::new("client.auth_failed")
                        .actor(Some(&client_id))
                        .ip(audit_ip.as_deref())
                        .failed()
                        .detail(json!({ "grant": grant, "reason": e.description })),
                );
            }
            return Err(e);
        }
    };
    let scope = issued.grant.scope().to_option();
    {
        use crate::metrics::business::{ClientType, TokenGrant, token_issued};
        // The client was read through this instance's cache a moment ago.
        let client_type = state
            .clients
            .peek(issued.grant.client_id(), now)
            .map_or(ClientType::Unknown, |c| ClientType::of(&c));
        token_issued(TokenGrant::from_grant_type(grant), client_type);
    }
    state.audit.queue(
        now,
        Event::new("token.issued")
            .actor(Some(issued.grant.subject()))
            .ip(audit_ip.as_deref())
            .detail(json!({
                "grant": grant,
                "client_id": issued.grant.client_id(),
                "scope": scope,
                "jti": issued.access.jti,
                "refresh_token": issued.refresh.is_some(),
                "id_token": issued.id_token.is_some(),
                "org_id": issued.grant.org_id(),
                "act": issued.grant.act().map(tokens::ActClaim::from),
            })),
    );
    let mut body = Map::new();
    body.insert("access_token".into(), Value::String(issued.access.token));
    // RFC 9449 §5: a token bound to the proof's key is of type DPoP.
    let token_type = if bound { "DPoP" } else { "Bearer" };
    body.insert("token_type".into(), Value::String(token_type.into()));
    body.insert("expires_in".into(), Value::from(issued.access.expires_in));
    if let Some(scope) = scope {
        body.insert("scope".into(), Value::String(scope));
    }
    if issued.grant.act().is_some() {
        // RFC 8693 §2.2.1.
        body.insert(
            "issued_token_type".into(),
            Value::String(grants::TOKEN_TYPE_ACCESS_TOKEN.into()),
        );
    }
    if let Some(refresh) = issued.refresh {
        body.insert(
            "refresh_token".into(),
            Value::String(refresh.expose().to_owned()),
        );
    }
    if let Some(id_token) = issued.id_token {
        body.insert("id_token".into(), Value::String(id_token));
    }
    Ok(no_store(HttpResponse::Ok().json(Value::Object(body))))
}

async fn introspect(
    req: HttpRequest,
    OAuthBody(body): OAuthBody,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthHttpError> {
    let form = form_body(&req, &body)?;
    let presented = credentials(&req, &form)?;
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?
        .to_owned();
    let order = flows::lookup_order(form.get("token_type_hint"));
    load_client(&state, &presented).await?;
    let answer = crate::traces::block("introspect", move || {
        flows::introspect(&state, &presented, &token, order)
    })
    .await??;
    Ok(no_store(HttpResponse::Ok().json(answer)))
}

async fn revoke(
    req: HttpRequest,
    OAuthBody(body): OAuthBody,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthHttpError> {
    let form = form_body(&req, &body)?;
    let presented = credentials(&req, &form)?;
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?
        .to_owned();
    // `token_type_hint` is only a hint (RFC 7009 §2.1): every kind is tried whatever it says.
    let order = flows::lookup_order(form.get("token_type_hint"));
    load_client(&state, &presented).await?;
    crate::traces::block("token_revoke", move || {
        flows::revoke(&state, &presented, &token, order)
    })
    .await??;
    Ok(no_store(HttpResponse::Ok().finish()))
}

/// The token endpoint's rate limits, per client IP and per client, which the device
/// authorization endpoint shares.
fn token_limits(
    state: &AppState,
    ip: Option<&str>,
    client_id: &str,
    now: i64,
) -> Result<(), OAuthHttpError> {
    for (limit, key) in [
        (Limit::TokenPerIp, ip),
        (Limit::TokenPerClient, Some(client_id)),
    ] {
        state
            .limits
            .check(limit, key, now)
            .map_err(OAuthHttpError::slow_down)?;
    }
    Ok(())
}

/// RFC 9126 §2: the client pushes an authorization request, authenticated as at the token
/// endpoint (who may call it: a registered client with its credentials, a public one naming
/// itself; a user's token in `Authorization: Bearer` is not a client credential and gets 401
/// `invalid_client`, tested in `par::par_authenticates_the_client_as_the_token_endpoint_does`); it is checked as the authorization endpoint would, kept, and named by a
/// `request_uri` the client sends the browser with (201). Errors are the authorization
/// endpoint's, answered here as JSON. Counts toward the token endpoint's rate limits.
async fn pushed_authorization(
    req: HttpRequest,
    OAuthBody(body): OAuthBody,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthHttpError> {
    let form = form_body(&req, &body)?;
    let presented = credentials(&req, &form)?;
    let ip = crate::auth::client_ip(&req, &state);
    let now = state.now();
    token_limits(&state, ip.as_deref(), presented.client_id(), now)?;
    load_client(&state, &presented).await?;
    let st = state.clone();
    let pushed = crate::traces::block("pushed_authorization", move || {
        let mut conn = st.store.conn()?;
        let client = st.clients.authenticate(&mut conn, &presented, now)?;
        let pushed = st.with_resource_policy(|policy| {
            grants::push_authorization_request(&mut conn, &client, &form, policy, now)
        })?;
        Ok::<_, OAuthHttpError>(pushed)
    })
    .await??;
    Ok(no_store(HttpResponse::Created().json(json!({
        "request_uri": pushed.request_uri.expose(),
        "expires_in": pushed.expires_in,
    }))))
}

/// RFC 8628 §3.1–3.2: a device code for the client to poll with, and a user code for the user
/// to type at `verification_uri` (or to follow `verification_uri_complete`, which carries
/// it). The client authenticates as at the token endpoint (a public one names itself), and
/// the request counts toward the token endpoint's rate limits.
async fn device_authorization(
    req: HttpRequest,
    OAuthBody(body): OAuthBody,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthHttpError> {
    let form = form_body(&req, &body)?;
    let presented = credentials(&req, &form)?;
    let ip = crate::auth::client_ip(&req, &state);
    let now = state.now();
    token_limits(&state, ip.as_deref(), presented.client_id(), now)?;
    crate::clientkeys::load(&state, &presented).await?;
    let st = state.clone();
    let started = crate::traces::block("device_authorization", move || {
        let mut conn = st.store.conn()?;
        let client = st.clients.authenticate(&mut conn, &presented, now)?;
        let started = st.with_resource_policy(|policy| {
            grants::start_device_authorization(&mut conn, &client, &form, policy, now)
        })?;
        Ok::<_, OAuthHttpError>((started, client.id().to_owned()))
    })
    .await??;
    let (started, client_id) = started;
    state.audit.queue(
        now,
        Event::new("device.authorization_started")
            .actor(Some(&client_id))
            .ip(ip.as_deref())
            .detail(json!({ "client_id": client_id })),
    );
    let issuer = state.settings.issuer_str();
    let user_code = started.user_code.to_string();
    let mut complete = url::form_urlencoded::Serializer::new(String::new());
    complete.append_pair("user_code", &user_code);
    Ok(no_store(HttpResponse::Ok().json(json!({
        "device_code": started.device_code.expose(),
        "user_code": user_code,
        "verification_uri": format!("{issuer}/device"),
        "verification_uri_complete": format!("{issuer}/device?{}", complete.finish()),
        "expires_in": started.expires_in,
        "interval": started.interval,
    }))))
}
