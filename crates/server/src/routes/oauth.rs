//! `POST /oauth2/token` (RFC 6749 §3.2), `POST /oauth2/introspect` (RFC 7662) and
//! `POST /oauth2/revoke` (RFC 7009).

use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use actix_web::{HttpRequest, HttpResponse, web};
use grants::{FormParams, OAuthError, TokenRequest, presented_credentials};
use registration::{Presented, VerifiedClient};
use serde_json::{Map, Value, json};
use store::Conn;
use tokens::{AccessClaims, AccessTokenSpec, Audience, IssuedAccessToken, VerifyError};

use crate::app::AppState;
use crate::errors::OAuthHttpError;

/// Largest form body the OAuth endpoints read.
const FORM_LIMIT: usize = 16 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    for (path, handler) in [
        ("/oauth2/token", Handler::Token),
        ("/oauth2/introspect", Handler::Introspect),
        ("/oauth2/revoke", Handler::Revoke),
    ] {
        let resource = web::resource(path)
            .app_data(web::PayloadConfig::new(FORM_LIMIT))
            .default_service(web::to(method_not_allowed));
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

async fn method_not_allowed() -> HttpResponse {
    actix_web::ResponseError::error_response(&OAuthHttpError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request",
        "use POST with a form body",
    ))
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
            "invalid_client",
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

async fn token(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthHttpError> {
    let form = form_body(&req, &body)?;
    let presented = credentials(&req, &form)?;
    let request = TokenRequest::parse(&form)?;
    let issued = web::block(move || issue(&state, &presented, request)).await??;
    let mut body = Map::new();
    body.insert("access_token".into(), Value::String(issued.token));
    body.insert("token_type".into(), Value::String("Bearer".into()));
    body.insert("expires_in".into(), Value::from(issued.expires_in));
    if let Some(scope) = issued.claims.scope {
        body.insert("scope".into(), Value::String(scope));
    }
    Ok(no_store(HttpResponse::Ok().json(Value::Object(body))))
}

fn issue(
    state: &AppState,
    presented: &Presented,
    request: TokenRequest,
) -> Result<IssuedAccessToken, OAuthHttpError> {
    let mut conn = state.store.conn()?;
    let client = registration::authenticate(&mut conn, presented)?;
    let now = state.now();
    let settings = &state.settings;
    match request {
        TokenRequest::ClientCredentials { scope, resources } => {
            let grant = grants::client_credentials(
                &client,
                scope.as_deref(),
                resources,
                &settings.default_audience,
            )?;
            let keyring = state.keys.get(&mut conn, now)?;
            let spec = AccessTokenSpec {
                issuer: settings.issuer_str(),
                subject: &grant.client_id,
                client_id: &grant.client_id,
                audience: grant.audience,
                scope: grant.scope,
                ttl: settings.access_token_ttl,
                alg: settings.access_token_alg,
            };
            Ok(tokens::issue_access_token(&keyring, &spec, now)?)
        }
    }
}

/// A client that may call introspection: one that authenticated with a secret.
fn confidential(conn: &mut Conn, presented: &Presented) -> Result<VerifiedClient, OAuthHttpError> {
    let client = registration::authenticate(conn, presented)?;
    if !client.is_authenticated() {
        return Err(OAuthHttpError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
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
    let now = state.now();
    let issuer = state.settings.issuer_str();
    let ring = state.keys.get(conn, now)?;
    match tokens::verify_access_token(&ring, token, issuer, now) {
        Err(VerifyError::UnknownKey) => {
            let ring = state.keys.reload_for_unknown_kid(conn, now)?;
            Ok(tokens::verify_access_token(&ring, token, issuer, now))
        }
        other => Ok(other),
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
    let answer = web::block(move || -> Result<Value, OAuthHttpError> {
        let mut conn = state.store.conn()?;
        confidential(&mut conn, &presented)?;
        let claims = match verify(&state, &mut conn, &token)? {
            Ok(claims) => claims,
            Err(reason) => {
                tracing::debug!(%reason, "introspected token is not active");
                return Ok(json!({ "active": false }));
            }
        };
        if store::keys::is_access_token_revoked(&mut conn, &claims.jti)? {
            return Ok(json!({ "active": false }));
        }
        // A deleted client's tokens die with it (first-party sign-in has no client row).
        if claims.client_id != accounts::FIRST_PARTY_CLIENT
            && registration::find_client(&mut conn, &claims.client_id)?.is_none()
        {
            return Ok(json!({ "active": false }));
        }
        Ok(active_response(&claims))
    })
    .await??;
    Ok(no_store(HttpResponse::Ok().json(answer)))
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
    web::block(move || -> Result<(), OAuthHttpError> {
        let mut conn = state.store.conn()?;
        let client = registration::authenticate(&mut conn, &presented)?;
        let Ok(claims) = verify(&state, &mut conn, &token)? else {
            // Unknown, malformed or expired: nothing to revoke, and not an error (§2.2).
            return Ok(());
        };
        if claims.client_id != client.id() {
            return Err(OAuthHttpError::new(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                "the token was not issued to this client",
            ));
        }
        store::keys::revoke_access_token(&mut conn, &claims.jti, claims.exp)?;
        store::keys::purge_expired_revocations(&mut conn, state.now())?;
        tracing::info!(client_id = client.id(), jti = %claims.jti, "access token revoked");
        Ok(())
    })
    .await??;
    Ok(no_store(HttpResponse::Ok().finish()))
}
