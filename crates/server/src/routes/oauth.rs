//! `POST /oauth2/token` (RFC 6749 §3.2), `POST /oauth2/introspect` (RFC 7662) and
//! `POST /oauth2/revoke` (RFC 7009).

use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use actix_web::{HttpRequest, HttpResponse, web};
use grants::{
    CodeExchange, ErrorCode, FormParams, GrantError, Issued, OAuthError, PasswordAttempt,
    RefreshRequest, Sign as _, TokenRequest, VerifiedAccess, presented_credentials,
};
use registration::{Presented, VerifiedClient};
use serde_json::{Map, Value, json};
use store::Conn;
use tokens::{AccessClaims, Audience};

use crate::access::{Expect, TokenRejected};
use crate::audit::Event;
use crate::errors::OAuthHttpError;
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
    ] {
        let resource = web::resource(path)
            .app_data(web::PayloadConfig::new(FORM_LIMIT))
            .default_service(web::to(crate::errors::oauth_method_not_allowed));
        cfg.service(match handler {
            Handler::Token => resource.route(web::post().to(token)),
            Handler::Introspect => resource.route(web::post().to(introspect)),
            Handler::Revoke => resource.route(web::post().to(revoke)),
        });
    }
}

enum Handler {
    Token,
    Introspect,
    Revoke,
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
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthHttpError> {
    token_for(req, body, state, true).await
}

async fn token(
    req: HttpRequest,
    body: web::Bytes,
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
    let ip = crate::auth::client_ip(&req, &state);
    let grant = request.grant_type();
    let now = state.now();
    for (limit, key) in [
        (Limit::TokenPerIp, ip.as_deref()),
        (Limit::TokenPerClient, Some(presented.client_id())),
    ] {
        state
            .limits
            .check(limit, key, now)
            .map_err(OAuthHttpError::slow_down)?;
    }
    if grant == "password" {
        state
            .limits
            .check(Limit::Login, ip.as_deref(), now)
            .map_err(OAuthHttpError::slow_down)?;
    }
    let audit_ip = ip.clone();
    let st = state.clone();
    let client_id = presented.client_id().to_owned();
    let outcome = match fast_client_credentials(&state, &presented, &request) {
        Some(answer) => answer,
        None => web::block(move || issue(&st, &presented, request, ip)).await?,
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
            })),
    );
    let mut body = Map::new();
    body.insert("access_token".into(), Value::String(issued.access.token));
    body.insert("token_type".into(), Value::String("Bearer".into()));
    body.insert("expires_in".into(), Value::from(issued.access.expires_in));
    if let Some(scope) = scope {
        body.insert("scope".into(), Value::String(scope));
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

/// The client-credentials grant answered on the request's own thread, when the client and the
/// signing keys are both in memory: nothing to read, nothing to write, so no blocking thread.
/// `None` sends the request down the ordinary path (which reads what is missing).
fn fast_client_credentials(
    state: &AppState,
    presented: &Presented,
    request: &TokenRequest,
) -> Option<Result<Issued, OAuthHttpError>> {
    let TokenRequest::ClientCredentials { scope, resources } = request else {
        return None;
    };
    let now = state.now();
    let client = state.clients.get(presented.client_id(), now)?;
    let keyring = state.keys.cached(now)?;
    Some(
        registration::check_credentials(Some(client), presented)
            .map_err(OAuthHttpError::from)
            .and_then(|client| {
                client_credentials(
                    state,
                    &client,
                    scope.as_deref(),
                    resources.clone(),
                    &keyring,
                    now,
                )
            }),
    )
}

fn client_credentials(
    state: &AppState,
    client: &VerifiedClient,
    scope: Option<&str>,
    resources: Vec<String>,
    keyring: &tokens::Keyring,
    now: i64,
) -> Result<Issued, OAuthHttpError> {
    let grant =
        grants::client_credentials(client, scope, resources, &state.settings.default_audience)?;
    let signer = state.signer(keyring);
    let access = signer
        .access_token(&grant, now)
        .map_err(|e| OAuthHttpError::server_error(&e))?;
    Ok(Issued {
        grant,
        access,
        refresh: None,
        id_token: None,
    })
}

/// Every grant but the fast path: authenticates the client, runs the flow of `grants`, and
/// answers its outcome.
fn issue(
    state: &AppState,
    presented: &Presented,
    request: TokenRequest,
    ip: Option<String>,
) -> Result<Issued, OAuthHttpError> {
    let mut conn = state.store.conn()?;
    let now = state.now();
    let client = state.clients.authenticate(&mut conn, presented, now)?;
    let keyring = state.keys.get(&mut conn, now)?;
    let signer = state.signer(&keyring);
    let policy = state.policy();
    let outcome = match request {
        TokenRequest::ClientCredentials { scope, resources } => {
            return client_credentials(state, &client, scope.as_deref(), resources, &keyring, now);
        }
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
            resources,
        } => grants::exchange_code(
            &mut conn,
            &signer,
            &client,
            &CodeExchange {
                code: &code,
                redirect_uri: redirect_uri.as_deref(),
                verifier: code_verifier.as_deref(),
                resources: &resources,
            },
            &policy,
            now,
        ),
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
            resources,
        } => grants::refresh(
            &mut conn,
            &signer,
            &client,
            &RefreshRequest {
                token: &refresh_token,
                scope: scope.as_deref(),
                resources: &resources,
            },
            &policy,
            now,
        ),
        TokenRequest::Password {
            username,
            password,
            scope,
        } => {
            let attempt = PasswordAttempt {
                username: &username,
                password: &password,
                scope: scope.as_deref(),
            };
            return password_grant(
                state,
                &mut conn,
                (&signer, &policy),
                &client,
                &attempt,
                ip.as_deref(),
            );
        }
    };
    outcome.map_err(|e| grant_error(state, &mut conn, e))
}

/// The password grant, throttled like the sign-in page, its outcome recorded.
fn password_grant(
    state: &AppState,
    conn: &mut store::Conn,
    (signer, policy): (&tokens::Signer<'_>, &grants::Policy<'_>),
    client: &VerifiedClient,
    attempt: &PasswordAttempt<'_>,
    ip: Option<&str>,
) -> Result<Issued, OAuthHttpError> {
    let now = state.now();
    let username = attempt.username;
    // Refusals that need no password (grant off, client not registered, scope) come first.
    if !policy.password_grant
        || !client
            .client()
            .metadata
            .allows_grant(registration::GrantType::Password)
    {
        return grants::password_grant(conn, signer, client, attempt, &state.hasher, policy, now)
            .map_err(|e| grant_error(state, conn, e));
    }
    state
        .throttle
        .check(username, ip, now)
        .map_err(|t| OAuthHttpError::slow_down(t.retry_after))?;
    let detail = || json!({ "via": "password_grant", "client_id": client.id() });
    match grants::password_grant(conn, signer, client, attempt, &state.hasher, policy, now) {
        Ok(issued) => {
            state.throttle.record_success(username);
            crate::audit::login_succeeded(conn, now, issued.grant.subject(), ip, detail());
            Ok(issued)
        }
        Err(GrantError::WrongPassword) => {
            state.throttle.record_failure(username, ip, now);
            crate::audit::login_failed(conn, now, username, ip, detail());
            Err(
                OAuthError::new(ErrorCode::InvalidGrant, "the username or password is wrong")
                    .into(),
            )
        }
        Err(e) => Err(grant_error(state, conn, e)),
    }
}

/// A flow's refusal as the token endpoint answers it; a replayed code is recorded.
fn grant_error(state: &AppState, conn: &mut store::Conn, e: GrantError) -> OAuthHttpError {
    match e {
        GrantError::CodeReplayed {
            client_id,
            user_id,
            description,
        } => {
            crate::audit::record(
                conn,
                state.now(),
                Event::new("authorization_code.replayed")
                    .actor(Some(&user_id))
                    .failed()
                    .detail(json!({ "client_id": client_id })),
            );
            OAuthError::new(ErrorCode::InvalidGrant, description).into()
        }
        other => oauth_grant_error(other),
    }
}

/// The OAuth answer to a flow's error (RFC 6749 §5.2); account refusals map in
/// `errors/oauth.rs`.
fn oauth_grant_error(e: GrantError) -> OAuthHttpError {
    match e {
        GrantError::Refused(e) => e.into(),
        GrantError::CodeReplayed { description, .. } => {
            OAuthError::new(ErrorCode::InvalidGrant, description).into()
        }
        GrantError::WrongPassword => {
            OAuthError::new(ErrorCode::InvalidGrant, "the username or password is wrong").into()
        }
        GrantError::Account(e) => e.into(),
        GrantError::Store(e) => e.into(),
        GrantError::Client(e) => e.into(),
        GrantError::Sign(e) => OAuthHttpError::server_error(&e),
    }
}

/// A client that may call introspection: one that authenticated with a secret.
fn confidential(
    state: &AppState,
    conn: &mut Conn,
    presented: &Presented,
) -> Result<VerifiedClient, OAuthHttpError> {
    let client = state.clients.authenticate(conn, presented, state.now())?;
    if !client.is_authenticated() {
        return Err(OAuthHttpError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidClient,
            "only confidential clients may introspect tokens",
        ));
    }
    Ok(client)
}

/// The kinds of token introspection and revocation look for.
#[derive(Clone, Copy)]
enum TokenKind {
    Access,
    Refresh,
}

/// The order in which the kinds are tried: `token_type_hint` decides only that (RFC 7662 §2.1,
/// RFC 7009 §2.1); an unknown or wrong hint costs one lookup, never a miss.
fn lookup_order(form: &FormParams) -> [TokenKind; 2] {
    if form.get("token_type_hint") == Some("refresh_token") {
        [TokenKind::Refresh, TokenKind::Access]
    } else {
        [TokenKind::Access, TokenKind::Refresh]
    }
}

async fn introspect(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthHttpError> {
    let form = form_body(&req, &body)?;
    let presented = credentials(&req, &form)?;
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?
        .to_owned();
    let order = lookup_order(&form);
    let answer = web::block(move || -> Result<Value, OAuthHttpError> {
        let mut conn = state.store.conn()?;
        let caller = confidential(&state, &mut conn, &presented)?;
        for kind in order {
            let found = match kind {
                TokenKind::Access => introspect_access(&state, &mut conn, &token)?,
                TokenKind::Refresh => introspect_refresh(&state, &mut conn, &caller, &token)?,
            };
            if let Some(active) = found {
                return Ok(active);
            }
        }
        // An inactive token is described by `active` alone (RFC 7662 §2.2).
        Ok(json!({ "active": false }))
    })
    .await??;
    Ok(no_store(HttpResponse::Ok().json(answer)))
}

/// The answer for an access token that is active, or `None`.
fn introspect_access(
    state: &AppState,
    conn: &mut Conn,
    token: &str,
) -> Result<Option<Value>, OAuthHttpError> {
    // The one access-token check, for any audience: a resource server introspects tokens
    // meant for it, not for this server.
    match crate::access::verify_access_token(state, conn, token, Expect::AnyAudience) {
        Ok(verified) => Ok(Some(active_response(verified.claims()))),
        Err(TokenRejected::Internal(detail)) => Err(OAuthHttpError::server_error(&detail)),
        Err(reason) => {
            tracing::debug!(?reason, "introspected token is not an active access token");
            Ok(None)
        }
    }
}

/// The answer for a refresh token that the token endpoint would accept right now from its
/// client, or `None` (the decision is `grants::introspect_refresh`).
fn introspect_refresh(
    state: &AppState,
    conn: &mut Conn,
    caller: &VerifiedClient,
    token: &str,
) -> Result<Option<Value>, OAuthHttpError> {
    let Some(active) =
        grants::introspect_refresh(conn, caller, token, &state.policy(), state.now())
            .map_err(oauth_grant_error)?
    else {
        return Ok(None);
    };
    let mut out = Map::new();
    out.insert("active".into(), Value::Bool(true));
    if let Some(scope) = active.scope {
        out.insert("scope".into(), Value::String(scope));
    }
    out.insert("client_id".into(), Value::String(active.client_id));
    out.insert("token_type".into(), Value::String("refresh_token".into()));
    out.insert("exp".into(), Value::from(active.expires_at));
    out.insert("iat".into(), Value::from(active.issued_at));
    out.insert("sub".into(), Value::String(active.user_id));
    out.insert(
        "iss".into(),
        Value::String(state.settings.issuer_str().to_owned()),
    );
    Ok(Some(Value::Object(out)))
}

fn active_response(claims: &AccessClaims) -> Value {
    let mut out = Map::new();
    out.insert("active".into(), Value::Bool(true));
    if let Some(scope) = &claims.scope {
        out.insert("scope".into(), Value::String(scope.clone()));
    }
    out.insert("client_id".into(), Value::String(claims.client_id.clone()));
    out.insert("token_type".into(), Value::String("Bearer".into()));
    out.insert("exp".into(), Value::from(claims.exp));
    out.insert("iat".into(), Value::from(claims.iat));
    out.insert("sub".into(), Value::String(claims.sub.clone()));
    out.insert(
        "aud".into(),
        match &claims.aud {
            Audience::One(a) => Value::String(a.clone()),
            Audience::Many(list) => Value::from(list.clone()),
        },
    );
    out.insert("iss".into(), Value::String(claims.iss.clone()));
    out.insert("jti".into(), Value::String(claims.jti.clone()));
    Value::Object(out)
}

async fn revoke(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthHttpError> {
    let form = form_body(&req, &body)?;
    let presented = credentials(&req, &form)?;
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?
        .to_owned();
    // `token_type_hint` is only a hint (RFC 7009 §2.1): every kind is tried whatever it says.
    let order = lookup_order(&form);
    web::block(move || -> Result<(), OAuthHttpError> {
        let mut conn = state.store.conn()?;
        let client = state
            .clients
            .authenticate(&mut conn, &presented, state.now())?;
        for kind in order {
            let revoked = match kind {
                TokenKind::Access => revoke_access(&state, &mut conn, &client, &token)?,
                TokenKind::Refresh => revoke_refresh(&state, &mut conn, &client, &token)?,
            };
            if revoked {
                return Ok(());
            }
        }
        // Unknown, malformed or expired: nothing to revoke, and not an error (§2.2).
        tracing::debug!(client_id = client.id(), "revocation of an unknown token");
        Ok(())
    })
    .await??;
    Ok(no_store(HttpResponse::Ok().finish()))
}

/// Revokes an access token of `client`; false when `token` is not a valid access token.
fn revoke_access(
    state: &AppState,
    conn: &mut Conn,
    client: &VerifiedClient,
    token: &str,
) -> Result<bool, OAuthHttpError> {
    // The one access-token check, for any audience (a resource server's token is revoked by
    // its client too). A token it refuses (expired, revoked, of a deleted client) is nothing to
    // revoke.
    let verified = match crate::access::verify_access_token(state, conn, token, Expect::AnyAudience)
    {
        Ok(verified) => verified,
        Err(TokenRejected::Internal(detail)) => return Err(OAuthHttpError::server_error(&detail)),
        Err(_) => return Ok(false),
    };
    let claims = verified.claims();
    let verified = VerifiedAccess {
        jti: &claims.jti,
        exp: claims.exp,
        client_id: &claims.client_id,
    };
    grants::revoke_access(conn, client, verified, state.now()).map_err(oauth_grant_error)?;
    Ok(true)
}

/// Revokes a refresh token of `client` with its family; false when `token` is not one of ours.
fn revoke_refresh(
    state: &AppState,
    conn: &mut Conn,
    client: &VerifiedClient,
    token: &str,
) -> Result<bool, OAuthHttpError> {
    grants::revoke_refresh(conn, client, token, state.now()).map_err(oauth_grant_error)
}
