//! Dynamic client registration: `POST /oauth2/register` (RFC 7591) and
//! `GET|PUT|DELETE /oauth2/register/{client_id}` (RFC 7592).
//!
//! The registration access token is rotated on every management call and the new one returned,
//! because only its hash is stored (RFC 7592 §3 allows rotation; the response must carry one).

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, HeaderValue, PRAGMA};
use actix_web::{HttpRequest, HttpResponse, web};
use primitives::PlainSecret;
use registration::{Client, Policy};
use serde_json::{Map, Value, json};

use crate::audit::Event;
use crate::auth::bearer_token;
use crate::config::RegistrationPolicy;
use crate::errors::{ErrorCode, OAuthHttpError};
use crate::ratelimit::Limit;
use crate::state::AppState;

/// Largest registration body.
const BODY_LIMIT: usize = 64 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/oauth2/register")
            .app_data(web::PayloadConfig::new(BODY_LIMIT))
            .route(web::post().to(register))
            .default_service(web::to(crate::errors::oauth_method_not_allowed)),
    )
    .service(
        web::resource("/oauth2/register/{client_id}")
            .app_data(web::PayloadConfig::new(BODY_LIMIT))
            .route(web::get().to(read))
            .route(web::put().to(replace))
            .route(web::delete().to(remove))
            .default_service(web::to(crate::errors::oauth_method_not_allowed)),
    );
}

fn policy(state: &AppState) -> Policy {
    crate::state::registration_policy(&state.settings)
}

fn json_body(body: &[u8]) -> Result<Value, OAuthHttpError> {
    serde_json::from_slice(body).map_err(|_| {
        OAuthHttpError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidClientMetadata,
            "the body must be a JSON object",
        )
    })
}

/// The client information response (RFC 7591 §3.2.1, RFC 7592 §3).
fn client_response(
    state: &AppState,
    status: StatusCode,
    client: &Client,
    secret: Option<&PlainSecret>,
    registration_token: &PlainSecret,
) -> HttpResponse {
    let mut out = match serde_json::to_value(&client.metadata) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    out.insert("client_id".into(), Value::String(client.id.clone()));
    out.insert("client_id_issued_at".into(), Value::from(client.created_at));
    if let Some(secret) = secret {
        out.insert(
            "client_secret".into(),
            Value::String(secret.expose().to_owned()),
        );
    }
    if client.is_confidential() {
        out.insert("client_secret_expires_at".into(), Value::from(0));
    }
    out.insert(
        "registration_access_token".into(),
        Value::String(registration_token.expose().to_owned()),
    );
    out.insert(
        "registration_client_uri".into(),
        Value::String(format!(
            "{}/oauth2/register/{}",
            state.settings.issuer_str(),
            client.id
        )),
    );
    let mut res = HttpResponse::build(status).json(Value::Object(out));
    let headers = res.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

async fn register(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthHttpError> {
    let initial_token =
        match state.settings.registration {
            RegistrationPolicy::Closed => {
                return Err(OAuthHttpError::new(
                    StatusCode::FORBIDDEN,
                    ErrorCode::AccessDenied,
                    "dynamic client registration is closed on this server",
                ));
            }
            RegistrationPolicy::Token => Some(bearer_token(&req).ok_or_else(|| {
                OAuthHttpError::invalid_token("an initial access token is required")
            })?),
            RegistrationPolicy::Open => None,
        };
    let ip = crate::auth::client_ip(&req, &state);
    state
        .limits
        .check(Limit::Registration, ip.as_deref(), state.now())
        .map_err(OAuthHttpError::slow_down)?;
    let metadata = registration::parse_metadata(&json_body(&body)?, &policy(&state))?;
    let st = state.clone();
    let registered = web::block(
        move || -> Result<registration::Registered, OAuthHttpError> {
            let mut conn = st.store.conn()?;
            let now = st.now();
            if let Some(token) = initial_token
                && !registration::consume_initial_access_token(&mut conn, &token, now)?
            {
                return Err(OAuthHttpError::invalid_token(
                    "the initial access token is not valid",
                ));
            }
            let registered = registration::register_client(&mut conn, metadata, true, now)?;
            let meta = &registered.client.metadata;
            crate::audit::record(
                &mut conn,
                now,
                Event::new("client.registered")
                    .actor(Some(&registered.client.id))
                    .ip(ip.as_deref())
                    .detail(json!({
                        "client_id": registered.client.id,
                        "client_name": meta.client_name,
                        "redirect_uris": meta.redirect_uris,
                        "grant_types": meta.grant_types,
                        "via": "registration",
                    })),
            );
            Ok(registered)
        },
    )
    .await??;
    tracing::info!(client_id = %registered.client.id, "client registered");
    let token = registered
        .registration_token
        .as_ref()
        .ok_or_else(|| OAuthHttpError::server_error(&"registration token missing"))?;
    Ok(client_response(
        &state,
        StatusCode::CREATED,
        &registered.client,
        registered.secret.as_ref(),
        token,
    ))
}

/// The registration access token of a management request (RFC 7592 §2): the bearer token.
fn registration_token(req: &HttpRequest) -> Result<String, OAuthHttpError> {
    bearer_token(req)
        .ok_or_else(|| OAuthHttpError::invalid_token("a registration access token is required"))
}

/// Unknown client and wrong token answer the same 401 (RFC 7592 §2.1).
fn not_managed() -> OAuthHttpError {
    OAuthHttpError::invalid_token("the registration access token is not valid for this client")
}

async fn read(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthHttpError> {
    let token = registration_token(&req);
    let client_id = path.into_inner();
    let st = state.clone();
    let (client, new_token) = web::block(move || -> Result<_, OAuthHttpError> {
        let mut conn = st.store.conn()?;
        let mut client = token
            .and_then(|t| {
                registration::verify_registration_token(&mut conn, &client_id, &t)
                    .map_err(Into::into)
            })?
            .ok_or_else(not_managed)?;
        let new_token = registration::rotate_registration_token(&mut conn, &mut client, st.now())?;
        Ok((client, new_token))
    })
    .await??;
    Ok(client_response(
        &state,
        StatusCode::OK,
        &client,
        None,
        &new_token,
    ))
}

/// Fields a client may not send in an update (RFC 7592 §2.2).
const SERVER_FIELDS: [&str; 4] = [
    "registration_access_token",
    "registration_client_uri",
    "client_secret_expires_at",
    "client_id_issued_at",
];

async fn replace(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthHttpError> {
    let token = registration_token(&req);
    let client_id = path.into_inner();
    let body = json_body(&body)?;
    let Value::Object(fields) = &body else {
        return Err(OAuthHttpError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidClientMetadata,
            "the body must be a JSON object",
        ));
    };
    let metadata = registration::parse_metadata(&body, &policy(&state))?;
    let sent_id = fields
        .get("client_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let sent_secret = fields
        .get("client_secret")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let server_field = SERVER_FIELDS
        .iter()
        .find(|f| fields.contains_key(**f))
        .copied();
    let st = state.clone();
    let ip = crate::auth::client_ip(&req, &state);
    let (client, secret, new_token) = web::block(move || -> Result<_, OAuthHttpError> {
        let mut conn = st.store.conn()?;
        let client = token
            .and_then(|t| {
                registration::verify_registration_token(&mut conn, &client_id, &t)
                    .map_err(Into::into)
            })?
            .ok_or_else(not_managed)?;
        if sent_id.as_deref() != Some(client.id.as_str()) {
            return Err(OAuthHttpError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                "the body must carry this client's client_id",
            ));
        }
        if let Some(field) = server_field {
            return Err(OAuthHttpError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                format!("{field} is set by the server and may not be sent"),
            ));
        }
        if let Some(secret) = &sent_secret {
            let presented = registration::Presented::Basic {
                client_id: client.id.clone(),
                secret: secret.clone(),
            };
            let matches = client.is_confidential()
                && match registration::authenticate(&mut conn, &presented) {
                    Ok(_) => true,
                    // A client registered for client_secret_post still has this secret.
                    Err(registration::AuthError::WrongMethod { .. }) => {
                        let post = registration::Presented::Post {
                            client_id: client.id.clone(),
                            secret: secret.clone(),
                        };
                        registration::authenticate(&mut conn, &post).is_ok()
                    }
                    Err(_) => false,
                };
            if !matches {
                return Err(OAuthHttpError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidClientMetadata,
                    "client_secret does not match the current secret",
                ));
            }
        }
        let now = st.now();
        let (mut client, secret) = registration::update_client(&mut conn, client, metadata, now)?;
        crate::invalidate::announce(
            &st,
            &mut conn,
            crate::invalidate::Change::Client(&client.id),
        );
        crate::audit::record(
            &mut conn,
            now,
            Event::new("client.updated")
                .actor(Some(&client.id))
                .ip(ip.as_deref())
                .detail(json!({
                    "client_id": client.id,
                    "redirect_uris": client.metadata.redirect_uris,
                    "grant_types": client.metadata.grant_types,
                    "secret_rotated": secret.is_some(),
                })),
        );
        let new_token = registration::rotate_registration_token(&mut conn, &mut client, now)?;
        Ok((client, secret, new_token))
    })
    .await??;
    tracing::info!(client_id = %client.id, "client updated");
    Ok(client_response(
        &state,
        StatusCode::OK,
        &client,
        secret.as_ref(),
        &new_token,
    ))
}

async fn remove(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthHttpError> {
    let token = registration_token(&req);
    let client_id = path.into_inner();
    let ip = crate::auth::client_ip(&req, &state);
    web::block(move || -> Result<(), OAuthHttpError> {
        let mut conn = state.store.conn()?;
        let client = token
            .and_then(|t| {
                registration::verify_registration_token(&mut conn, &client_id, &t)
                    .map_err(Into::into)
            })?
            .ok_or_else(not_managed)?;
        registration::delete_client(&mut conn, &client.id)?;
        crate::invalidate::announce(
            &state,
            &mut conn,
            crate::invalidate::Change::Client(&client.id),
        );
        crate::audit::record(
            &mut conn,
            state.now(),
            Event::new("client.deleted")
                .actor(Some(&client.id))
                .ip(ip.as_deref())
                .detail(json!({ "client_id": client.id })),
        );
        tracing::info!(client_id = %client.id, "client deleted");
        Ok(())
    })
    .await??;
    Ok(HttpResponse::NoContent()
        .insert_header((CACHE_CONTROL, "no-store"))
        .finish())
}
