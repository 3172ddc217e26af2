//! Dynamic client registration: `POST /oauth2/register` (RFC 7591) and
//! `GET|PUT|DELETE /oauth2/register/{client_id}` (RFC 7592).
//!
//! The route reads the body and the bearer token, applies the rate limit, calls
//! `registration::manage` (which decides everything: the initial access token, what an update
//! may change, the rotation of the registration access token, the response body), records the
//! audit event and answers with the status and headers.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, HeaderValue, PRAGMA};
use actix_web::{HttpRequest, HttpResponse, web};
use registration::{ClientInformation, Policy, RegistrationMode, manage};
use serde_json::{Value, json};

use crate::audit::Event;
use crate::auth::bearer_token;
use crate::config::RegistrationPolicy;
use crate::errors::{OAuthBody, OAuthHttpError};
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

/// What a client may register: `state::registration_policy_with_resources`.
async fn policy(state: &AppState) -> Result<Policy, OAuthHttpError> {
    let st = state.clone();
    crate::traces::block("registration_policy", move || {
        let mut conn = st.store.conn()?;
        crate::state::registration_policy_with_resources(&st.settings, &mut conn)
    })
    .await?
    .map_err(OAuthHttpError::from)
}

fn mode(state: &AppState) -> RegistrationMode {
    match state.settings.registration {
        RegistrationPolicy::Open => RegistrationMode::Open,
        RegistrationPolicy::Token => RegistrationMode::Token,
        RegistrationPolicy::Closed => RegistrationMode::Closed,
    }
}

/// The body as JSON; a body that is not JSON at all is handed on as `null`, which
/// registration refuses as a body that is not a JSON object.
fn json_body(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

/// The client information response (RFC 7591 §3.2.1, RFC 7592 §3), never cached.
fn client_response(state: &AppState, status: StatusCode, info: &ClientInformation) -> HttpResponse {
    let mut res = HttpResponse::build(status).json(info.to_json(state.settings.issuer_str()));
    let headers = res.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// A `client_secret_jwt` client's secret is sealed under the encryption keys; without them it
/// is refused before anything is stored.
/// The console's client form checks the same.
pub(crate) fn sealable(
    state: &AppState,
    metadata: &registration::ClientMetadata,
) -> Result<(), registration::SealError> {
    if metadata.token_endpoint_auth_method == registration::AuthMethod::ClientSecretJwt
        && state.settings.encryption_keys.is_none()
    {
        return Err(registration::SealError::NoEncryptionKeys);
    }
    Ok(())
}

/// Seals a new secret of a `client_secret_jwt` client (or forgets the sealed secret of a
/// client that no longer uses that method).
pub(crate) fn seal(
    state: &AppState,
    conn: &mut registration::Conn,
    client: &registration::Client,
    secret: Option<&primitives::PlainSecret>,
) -> Result<(), registration::SealError> {
    registration::seal_client_secret(
        conn,
        client,
        secret,
        state.settings.encryption_keys.as_deref(),
    )
}

async fn register(
    req: HttpRequest,
    OAuthBody(body): OAuthBody,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthHttpError> {
    let admitted = manage::admit(mode(&state), bearer_token(&req).as_deref())?;
    let ip = crate::auth::client_ip(&req, &state);
    state
        .limits
        .check(Limit::Registration, ip.as_deref(), state.now())
        .map_err(OAuthHttpError::slow_down)?;
    let metadata = registration::parse_metadata(&json_body(&body), &policy(&state).await?)?;
    sealable(&state, &metadata)?;
    let st = state.clone();
    let info = crate::traces::block(
        "client_register",
        move || -> Result<ClientInformation, OAuthHttpError> {
            let mut conn = st.store.conn()?;
            let now = st.now();
            let info = manage::register(&mut conn, admitted, metadata, now)?;
            seal(&st, &mut conn, info.client(), info.new_secret())?;
            let client = info.client();
            let meta = &client.metadata;
            crate::audit::record(
                &mut conn,
                now,
                Event::new("client.registered")
                    .actor(Some(&client.id))
                    .ip(ip.as_deref())
                    .detail(json!({
                        "client_id": client.id,
                        "client_name": meta.client_name,
                        "redirect_uris": meta.redirect_uris,
                        "grant_types": meta.grant_types,
                        "via": "registration",
                    })),
            );
            Ok(info)
        },
    )
    .await??;
    tracing::info!(client_id = %info.client().id, "client registered");
    Ok(client_response(&state, StatusCode::CREATED, &info))
}

async fn read(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthHttpError> {
    let token = bearer_token(&req);
    let client_id = path.into_inner();
    let st = state.clone();
    let info = crate::traces::block("client_read", move || -> Result<_, OAuthHttpError> {
        let mut conn = st.store.conn()?;
        Ok(manage::read(
            &mut conn,
            &client_id,
            token.as_deref(),
            st.now(),
        )?)
    })
    .await??;
    Ok(client_response(&state, StatusCode::OK, &info))
}

async fn replace(
    req: HttpRequest,
    path: web::Path<String>,
    OAuthBody(body): OAuthBody,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthHttpError> {
    let token = bearer_token(&req);
    let client_id = path.into_inner();
    let update = manage::Update::parse(&json_body(&body), &policy(&state).await?)?;
    sealable(&state, update.metadata())?;
    let st = state.clone();
    let ip = crate::auth::client_ip(&req, &state);
    let info = crate::traces::block("client_replace", move || -> Result<_, OAuthHttpError> {
        let mut conn = st.store.conn()?;
        let now = st.now();
        let info = manage::replace(&mut conn, &client_id, token.as_deref(), update, now)?;
        seal(&st, &mut conn, info.client(), info.new_secret())?;
        let client = info.client();
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
                    "secret_rotated": info.has_new_secret(),
                })),
        );
        Ok(info)
    })
    .await??;
    tracing::info!(client_id = %info.client().id, "client updated");
    Ok(client_response(&state, StatusCode::OK, &info))
}

async fn remove(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthHttpError> {
    let token = bearer_token(&req);
    let client_id = path.into_inner();
    let ip = crate::auth::client_ip(&req, &state);
    crate::traces::block("client_remove", move || -> Result<(), OAuthHttpError> {
        let mut conn = state.store.conn()?;
        let client = manage::delete(&mut conn, &client_id, token.as_deref())?;
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
