//! `POST /oauth2/token` (RFC 6749 §3.2), `POST /oauth2/introspect` (RFC 7662) and
//! `POST /oauth2/revoke` (RFC 7009).

use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use actix_web::{HttpRequest, HttpResponse, web};
use grants::{ErrorCode, FormParams, OAuthError, TokenRequest, presented_credentials};
use primitives::{PlainSecret, SecretHash};
use registration::{GrantType, Presented, VerifiedClient};
use serde_json::{Map, Value, json};
use store::Conn;
use tokens::{
    AccessClaims, AccessTokenSpec, Audience, IdTokenSpec, IssuedAccessToken, SigningAlg,
    VerifyError,
};

use crate::access::{Expect, TokenRejected};
use crate::app::AppState;
use crate::audit::Event;
use crate::errors::OAuthHttpError;
use crate::ratelimit::Limit;

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
    let answer = match outcome {
        Ok(answer) => answer,
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
    let claims = &answer.access.claims;
    state.audit.queue(
        now,
        Event::new("token.issued")
            .actor(Some(&claims.sub))
            .ip(audit_ip.as_deref())
            .detail(json!({
                "grant": grant,
                "client_id": claims.client_id,
                "scope": claims.scope,
                "jti": claims.jti,
                "refresh_token": answer.refresh.is_some(),
                "id_token": answer.id_token.is_some(),
            })),
    );
    let mut body = Map::new();
    body.insert("access_token".into(), Value::String(answer.access.token));
    body.insert("token_type".into(), Value::String("Bearer".into()));
    body.insert("expires_in".into(), Value::from(answer.access.expires_in));
    if let Some(scope) = answer.access.claims.scope {
        body.insert("scope".into(), Value::String(scope));
    }
    if let Some(refresh) = answer.refresh {
        body.insert(
            "refresh_token".into(),
            Value::String(refresh.expose().to_owned()),
        );
    }
    if let Some(id_token) = answer.id_token {
        body.insert("id_token".into(), Value::String(id_token));
    }
    Ok(no_store(HttpResponse::Ok().json(Value::Object(body))))
}

/// What a token request is answered with.
struct TokenAnswer {
    access: IssuedAccessToken,
    refresh: Option<PlainSecret>,
    id_token: Option<String>,
}

fn invalid_grant(description: &str) -> OAuthHttpError {
    OAuthError::new(ErrorCode::InvalidGrant, description).into()
}

/// The client-credentials grant answered on the request's own thread, when the client and the
/// signing keys are both in memory: nothing to read, nothing to write, so no blocking thread.
/// `None` sends the request down the ordinary path (which reads what is missing).
fn fast_client_credentials(
    state: &AppState,
    presented: &Presented,
    request: &TokenRequest,
) -> Option<Result<TokenAnswer, OAuthHttpError>> {
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
                client_credentials_answer(
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

fn client_credentials_answer(
    state: &AppState,
    client: &VerifiedClient,
    scope: Option<&str>,
    resources: Vec<String>,
    keyring: &tokens::Keyring,
    now: i64,
) -> Result<TokenAnswer, OAuthHttpError> {
    let settings = &state.settings;
    let grant = grants::client_credentials(client, scope, resources, &settings.default_audience)?;
    let spec = AccessTokenSpec {
        issuer: settings.issuer_str(),
        subject: &grant.client_id,
        client_id: &grant.client_id,
        audience: grant.audience,
        scope: grant.scope,
        ttl: settings.access_token_ttl,
        alg: settings.access_token_alg,
    };
    Ok(TokenAnswer {
        access: tokens::issue_access_token(keyring, &spec, now)?,
        refresh: None,
        id_token: None,
    })
}

fn issue(
    state: &AppState,
    presented: &Presented,
    request: TokenRequest,
    ip: Option<String>,
) -> Result<TokenAnswer, OAuthHttpError> {
    let mut conn = state.store.conn()?;
    let now = state.now();
    let client = state.clients.authenticate(&mut conn, presented, now)?;
    match request {
        TokenRequest::ClientCredentials { scope, resources } => {
            let keyring = state.keys.get(&mut conn, now)?;
            client_credentials_answer(state, &client, scope.as_deref(), resources, &keyring, now)
        }
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
            resources,
        } => exchange_code(
            state,
            &mut conn,
            &client,
            &CodeExchange {
                code: &code,
                redirect_uri: redirect_uri.as_deref(),
                verifier: code_verifier.as_deref(),
                resources: &resources,
            },
            now,
        ),
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
            resources,
        } => refresh(
            state,
            &mut conn,
            &client,
            &refresh_token,
            (scope.as_deref(), &resources),
            now,
        ),
        TokenRequest::Password {
            username,
            password,
            scope,
        } => password_grant(
            state,
            &mut conn,
            &client,
            &PasswordAttempt {
                username: &username,
                password: &password,
                scope: scope.as_deref(),
                ip: ip.as_deref(),
            },
            now,
        ),
    }
}

/// A password-grant request's credentials and where it came from.
struct PasswordAttempt<'a> {
    username: &'a str,
    password: &'a str,
    scope: Option<&'a str>,
    ip: Option<&'a str>,
}

/// The legacy password grant (RFC 6749 §4.3): off unless `PORTCULLIS_PASSWORD_GRANT` is set, only
/// for clients that registered it, throttled like the sign-in page.
fn password_grant(
    state: &AppState,
    conn: &mut Conn,
    client: &VerifiedClient,
    attempt: &PasswordAttempt<'_>,
    now: i64,
) -> Result<TokenAnswer, OAuthHttpError> {
    if !state.settings.password_grant {
        return Err(OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            "the password grant is not enabled on this server",
        )
        .into());
    }
    let meta = &client.client().metadata;
    if !meta.allows_grant(GrantType::Password) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client is not registered for the password grant",
        )
        .into());
    }
    let scopes: Vec<&str> = match attempt.scope {
        None => meta.scopes(),
        Some(requested) => {
            let registered = meta.requestable_scopes();
            let wanted: Vec<&str> = requested.split(' ').filter(|s| !s.is_empty()).collect();
            if let Some(extra) = wanted.iter().find(|w| !registered.contains(w)) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    format!("{extra} is not registered for this client"),
                )
                .into());
            }
            registered
                .iter()
                .copied()
                .filter(|r| wanted.contains(r))
                .collect()
        }
    };
    // The JSON API's scopes reach a third party only through the consent page, which the
    // password grant skips: they are for first-party clients here.
    if !client.client().first_party
        && let Some(api) = scopes
            .iter()
            .find(|s| apikeys::describe_api_scope(s).is_some())
    {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("{api} needs the user's consent on the consent page; use the authorization code flow"),
        )
        .into());
    }
    let (username, ip) = (attempt.username, attempt.ip);
    state
        .throttle
        .check(username, ip, now)
        .map_err(|t| OAuthHttpError::slow_down(t.retry_after))?;
    let user =
        match accounts::authenticate_password(conn, username, attempt.password, &state.hasher) {
            Ok(user) => {
                state.throttle.record_success(username);
                crate::audit::login_succeeded(
                    conn,
                    now,
                    &user.id,
                    ip,
                    json!({ "via": "password_grant", "client_id": client.id() }),
                );
                user
            }
            Err(accounts::AccountError::InvalidCredentials) => {
                state.throttle.record_failure(username, ip, now);
                crate::audit::login_failed(
                    conn,
                    now,
                    username,
                    ip,
                    json!({ "via": "password_grant", "client_id": client.id() }),
                );
                return Err(invalid_grant("the username or password is wrong"));
            }
            Err(e) => return Err(OAuthHttpError::from(e)),
        };
    let grant = Grant {
        user: &user,
        client: client.client(),
        scopes,
        audience: user_audience(state, client.client()),
        auth_time: now,
        nonce: None,
        sid: None,
    };
    let (access, id_token) = user_tokens(state, conn, &grant, now)?;
    let refresh = if meta.allows_grant(GrantType::RefreshToken) {
        let family = accounts::Family {
            id: String::new(),
            user_id: user.id.clone(),
            client_id: client.id().to_owned(),
            scope: Some(grant.scopes.join(" ")),
            auth_time: now,
            resources: Vec::new(),
        };
        Some(
            accounts::start_family(
                conn,
                &family,
                now,
                state.settings.refresh_token_ttl,
                (&access.claims.jti, access.claims.exp),
            )
            .map_err(OAuthHttpError::from)?
            .token,
        )
    } else {
        None
    };
    tracing::info!(user = %user.id, client = client.id(), "signed in (password grant)");
    Ok(TokenAnswer {
        access,
        refresh,
        id_token,
    })
}

/// The claims a user's scopes allow (OpenID Connect Core §5.4): `email`, `email_verified`,
/// `name`.
pub fn scope_claims(user: &accounts::User, scopes: &[&str]) -> Map<String, Value> {
    let mut claims = Map::new();
    if scopes.contains(&"email") {
        claims.insert("email".into(), Value::String(user.email.clone()));
        claims.insert("email_verified".into(), Value::Bool(user.email_verified));
    }
    if scopes.contains(&"profile") {
        claims.insert("name".into(), Value::String(user.name.clone()));
        claims.insert("updated_at".into(), Value::from(user.updated_at));
    }
    claims
}

/// The audience of a user's token asked without `resource`: this server, and for an
/// operator's first-party client also the first-party API (no third-party client can get it).
fn user_audience(state: &AppState, client: &registration::Client) -> Vec<String> {
    let mut audience = vec![state.settings.default_audience.clone()];
    if client.first_party {
        audience.push(grants::FIRST_PARTY_AUDIENCE.to_owned());
    }
    audience
}

struct Grant<'a> {
    user: &'a accounts::User,
    client: &'a registration::Client,
    scopes: Vec<&'a str>,
    audience: Vec<String>,
    auth_time: i64,
    nonce: Option<&'a str>,
    sid: Option<&'a str>,
}

/// The access token and, with `openid`, the ID token of a user grant.
fn user_tokens(
    state: &AppState,
    conn: &mut Conn,
    grant: &Grant<'_>,
    now: i64,
) -> Result<(IssuedAccessToken, Option<String>), OAuthHttpError> {
    let settings = &state.settings;
    let keyring = state.keys.get(conn, now)?;
    let scope = grant.scopes.join(" ");
    let access = tokens::issue_access_token(
        &keyring,
        &AccessTokenSpec {
            issuer: settings.issuer_str(),
            subject: &grant.user.id,
            client_id: &grant.client.id,
            audience: grant.audience.clone(),
            scope: Some(scope),
            ttl: settings.access_token_ttl,
            alg: settings.access_token_alg,
        },
        now,
    )?;
    let id_token = if grant.scopes.contains(&"openid") {
        let alg = SigningAlg::parse(&grant.client.metadata.id_token_signed_response_alg)
            .unwrap_or(SigningAlg::Rs256);
        Some(tokens::issue_id_token(
            &keyring,
            &IdTokenSpec {
                issuer: settings.issuer_str(),
                subject: &grant.user.id,
                audience: &grant.client.id,
                nonce: grant.nonce,
                auth_time: grant.auth_time,
                access_token: Some(&access.token),
                sid: grant.sid,
                claims: scope_claims(grant.user, &grant.scopes),
                ttl: settings.access_token_ttl,
                alg,
            },
            now,
        )?)
    } else {
        None
    };
    Ok((access, id_token))
}

/// Revokes what a replayed code issued (RFC 6749 §4.1.2) and records it.
fn revoke_code_tokens(
    state: &AppState,
    conn: &mut Conn,
    code: &store::codes::CodeRow,
) -> Result<(), OAuthHttpError> {
    let now = state.now();
    if let Some(family) = &code.family_id {
        accounts::revoke_family_by_id(conn, family, "code_replay", now)
            .map_err(OAuthHttpError::from)?;
    }
    if let (Some(jti), Some(exp)) = (&code.access_jti, code.access_exp) {
        store::keys::revoke_access_token(conn, jti, exp)?;
    }
    tracing::warn!(client = %code.client_id, user = %code.user_id, "authorization code replayed; its tokens are revoked");
    store::audit::insert(
        conn,
        &store::audit::NewAuditEvent {
            id: &primitives::random_id(),
            occurred_at: now,
            kind: "authorization_code.replayed",
            actor: Some(&code.user_id),
            ip: None,
            detail: &json!({ "client_id": code.client_id }).to_string(),
            org_id: None,
            outcome: "failure",
        },
    )?;
    Ok(())
}

/// The parameters of an authorization-code exchange (RFC 6749 §4.1.3, RFC 8707 §2.2).
struct CodeExchange<'a> {
    code: &'a str,
    redirect_uri: Option<&'a str>,
    verifier: Option<&'a str>,
    /// The `resource` values of the token request: they select among the granted ones.
    resources: &'a [String],
}

fn exchange_code(
    state: &AppState,
    conn: &mut Conn,
    client: &VerifiedClient,
    request: &CodeExchange<'_>,
    now: i64,
) -> Result<TokenAnswer, OAuthHttpError> {
    let (code, redirect_uri, verifier) = (request.code, request.redirect_uri, request.verifier);
    if !client
        .client()
        .metadata
        .allows_grant(GrantType::AuthorizationCode)
    {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client is not registered for the authorization code grant",
        )
        .into());
    }
    let hash = SecretHash::of(code);
    let row = store::codes::find_code(conn, hash.as_str())?
        .ok_or_else(|| invalid_grant("the code is not valid"))?;
    if row.client_id != client.id() {
        return Err(invalid_grant("the code was issued to another client"));
    }
    if row.used_at.is_some() {
        revoke_code_tokens(state, conn, &row)?;
        return Err(invalid_grant(
            "the code was used already; the tokens it gave are revoked",
        ));
    }
    if now >= row.expires_at {
        return Err(invalid_grant("the code has expired"));
    }
    let redirect_ok = match redirect_uri {
        Some(given) => given == row.redirect_uri,
        None => !row.redirect_uri_given,
    };
    if !redirect_ok {
        return Err(invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    grants::verify_pkce(row.code_challenge.as_deref(), verifier)?;
    let user = accounts::find_user(conn, &row.user_id)
        .map_err(OAuthHttpError::from)?
        .filter(|u| !u.disabled)
        .ok_or_else(|| invalid_grant("the user can no longer sign in"))?;
    let resources: Vec<String> = row
        .resources
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or_default();
    // The token's audience: the granted resources, or those of them the request names; the
    // family keeps all granted ones for later refreshes.
    let audience = grants::select_resources(
        &resources,
        request.resources,
        &user_audience(state, client.client()),
    )?;
    let registered_refresh = client
        .client()
        .metadata
        .allows_grant(GrantType::RefreshToken);
    let grant = Grant {
        user: &user,
        client: client.client(),
        scopes: row.scope.split(' ').filter(|s| !s.is_empty()).collect(),
        audience,
        auth_time: row.auth_time,
        nonce: row.nonce.as_deref(),
        sid: row.session_id.as_deref(),
    };
    // Signed before the write transaction, which then holds the write lock for row writes
    // only; tokens of an exchange that loses the race below are dropped unseen.
    let (access, id_token) = user_tokens(state, conn, &grant, now)?;
    let result = store::transaction(conn, |conn| -> Result<TokenAnswer, OAuthHttpError> {
        if !store::codes::mark_code_used(conn, hash.as_str(), now)? {
            return Err(invalid_grant("the code was used already"));
        }
        let refresh = if registered_refresh {
            let family = accounts::Family {
                id: String::new(),
                user_id: user.id.clone(),
                client_id: client.id().to_owned(),
                scope: Some(row.scope.clone()),
                auth_time: row.auth_time,
                resources: resources.clone(),
            };
            Some(
                accounts::start_family(
                    conn,
                    &family,
                    now,
                    state.settings.refresh_token_ttl,
                    (&access.claims.jti, access.claims.exp),
                )
                .map_err(OAuthHttpError::from)?,
            )
        } else {
            None
        };
        store::codes::record_code_tokens(
            conn,
            hash.as_str(),
            refresh.as_ref().map(|r| r.family_id.as_str()),
            &access.claims.jti,
            access.claims.exp,
        )?;
        Ok(TokenAnswer {
            access,
            refresh: refresh.map(|r| r.token),
            id_token,
        })
    });
    match result {
        Err(e) if e.error == Some(ErrorCode::InvalidGrant) => {
            // Lost the race to another exchange of the same code: a replay.
            if let Some(row) = store::codes::find_code(conn, hash.as_str())? {
                revoke_code_tokens(state, conn, &row)?;
            }
            Err(e)
        }
        other => other,
    }
}

fn refresh(
    state: &AppState,
    conn: &mut Conn,
    client: &VerifiedClient,
    presented: &str,
    (scope, asked_resources): (Option<&str>, &[String]),
    now: i64,
) -> Result<TokenAnswer, OAuthHttpError> {
    if !client
        .client()
        .metadata
        .allows_grant(GrantType::RefreshToken)
    {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client is not registered for the refresh_token grant",
        )
        .into());
    }
    let requested: Option<Vec<String>> = scope.map(|s| {
        s.split(' ')
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect()
    });
    let default_audience = user_audience(state, client.client());
    let outcome = accounts::rotate_refresh(
        conn,
        presented,
        client.id(),
        now,
        state.settings.refresh_token_ttl,
        state.settings.refresh_grace,
        |conn, family| {
            let granted: Vec<&str> = family.scope.as_deref().unwrap_or("").split(' ').filter(|s| !s.is_empty()).collect();
            let scopes: Vec<&str> = match &requested {
                None => granted.clone(),
                Some(req) => {
                    if let Some(extra) = req.iter().find(|s| !granted.contains(&s.as_str())) {
                        return Err(accounts::AccountError::Invalid {
                            field: "scope",
                            message: format!("{extra} was not granted; a refresh can narrow the scope, never widen it"),
                        });
                    }
                    granted.iter().copied().filter(|g| req.iter().any(|r| r == g)).collect()
                }
            };
            // RFC 8707 §2.2: the resources of the original grant, or fewer; never others.
            let audience =
                grants::select_resources(&family.resources, asked_resources, &default_audience)
                    .map_err(|e| accounts::AccountError::Invalid {
                        field: "resource",
                        message: e.description,
                    })?;
            let user = accounts::find_user(conn, &family.user_id)?
                .filter(|u| !u.disabled)
                .ok_or(accounts::AccountError::TokenInvalid)?;
            let grant = Grant {
                user: &user,
                client: client.client(),
                scopes,
                audience,
                auth_time: family.auth_time,
                nonce: None,
                sid: None,
            };
            let (access, id_token) = user_tokens(state, conn, &grant, now)
                .map_err(|e| accounts::AccountError::Internal(e.to_string()))?;
            let (jti, exp) = (access.claims.jti.clone(), access.claims.exp);
            Ok(((access, id_token), jti, exp))
        },
    )
    .map_err(OAuthHttpError::from)?;
    let (access, id_token) = outcome.access;
    Ok(TokenAnswer {
        access,
        refresh: Some(outcome.refresh),
        id_token,
    })
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

/// Verifies an access token with the current keys, reloading them once for an unknown `kid`
/// (a key made by another instance).
fn verify(
    state: &AppState,
    conn: &mut Conn,
    token: &str,
) -> Result<Result<AccessClaims, VerifyError>, OAuthHttpError> {
    Ok(state
        .keys
        .verify_access(conn, token, state.settings.issuer_str(), state.now())?)
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
/// client, or `None`. Only the client a refresh token was issued to may learn about it: a
/// refresh token is never meant for a resource server, so anyone else holding one holds a
/// leaked credential, and is told `active: false` (RFC 7662 §2.2, §4).
fn introspect_refresh(
    state: &AppState,
    conn: &mut Conn,
    caller: &VerifiedClient,
    token: &str,
) -> Result<Option<Value>, OAuthHttpError> {
    let now = state.now();
    let Some(active) = accounts::inspect_refresh(conn, token, now, state.settings.refresh_grace)
        .map_err(OAuthHttpError::from)?
    else {
        return Ok(None);
    };
    let family = &active.family;
    if family.client_id != caller.id() {
        return Ok(None);
    }
    // The client must still exist and still be registered for the refresh grant, as the token
    // endpoint requires.
    let client_may_refresh = state
        .clients
        .find(conn, &family.client_id, now)?
        .is_some_and(|c| c.metadata.allows_grant(GrantType::RefreshToken));
    if !client_may_refresh {
        return Ok(None);
    }
    let mut out = Map::new();
    out.insert("active".into(), Value::Bool(true));
    if let Some(scope) = family.scope.as_deref().filter(|s| !s.is_empty()) {
        out.insert("scope".into(), Value::String(scope.to_owned()));
    }
    out.insert("client_id".into(), Value::String(family.client_id.clone()));
    out.insert("token_type".into(), Value::String("refresh_token".into()));
    out.insert("exp".into(), Value::from(active.expires_at));
    out.insert("iat".into(), Value::from(active.issued_at));
    out.insert("sub".into(), Value::String(family.user_id.clone()));
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

/// RFC 7009 §2.1: the server "verifies whether the token was issued to the client making the
/// revocation request. If this validation fails, the request is refused and the client is
/// informed of the error", in the RFC 6749 §5.2 shape (§2.2.1). The RFC names no code for it;
/// `unauthorized_client` (the client is authenticated but not allowed this) is what Keycloak
/// and Hydra answer, and the token is left as it was.
fn not_issued_to_caller() -> OAuthHttpError {
    OAuthHttpError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::UnauthorizedClient,
        "the token was not issued to this client",
    )
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
    let Ok(claims) = verify(state, conn, token)? else {
        return Ok(false);
    };
    if claims.client_id != client.id() {
        return Err(not_issued_to_caller());
    }
    store::keys::revoke_access_token(conn, &claims.jti, claims.exp)?;
    store::keys::purge_expired_revocations(conn, state.now())?;
    tracing::info!(client_id = client.id(), jti = %claims.jti, "access token revoked");
    Ok(true)
}

/// Revokes a refresh token of `client`: its whole family and the access tokens issued from it
/// (RFC 7009 §2.1). False when `token` is not one of our refresh tokens. A revoked or used
/// token still names its family, so revoking it again is harmless.
fn revoke_refresh(
    state: &AppState,
    conn: &mut Conn,
    client: &VerifiedClient,
    token: &str,
) -> Result<bool, OAuthHttpError> {
    match accounts::revoke_for_client(conn, token, client.id(), state.now()) {
        Ok(Some(family)) => {
            tracing::info!(client_id = client.id(), family = %family.id, "refresh token revoked with its family");
            Ok(true)
        }
        Ok(None) => Ok(false),
        Err(accounts::AccountError::Forbidden) => Err(not_issued_to_caller()),
        Err(e) => Err(OAuthHttpError::from(e)),
    }
}
