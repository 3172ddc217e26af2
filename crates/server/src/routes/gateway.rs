//! The agent gateway over HTTP: services (`/api/v1/organizations/{org}/services…`), the usage
//! log (`…/usage`), and the proxy (`/proxy/{service}/{path…}` and `/{https://host/path…}`).
//!
//! What a call may do is decided by the `gateway` crate before any connection (`gateway::Caller`,
//! `gateway::prepare_call`: the key, the agent, the service, the path, the scope, the headers
//! each way); this module reads the request (the JSON body only when the agent must be found
//! in it), connects, and streams. The upstream's addresses are vetted by the client's connector
//! on the one lookup it connects with (no private or special-purpose address, no DNS
//! rebinding). Bodies stream both ways; redirects are passed back, never followed.

use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_web::http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::Stream;
use gateway::{GatewayError, MasterKey, PreparedCall, Target, UpstreamFailure};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{OrgCaller, with_org};
use crate::errors::{ApiError, ErrorType, json_no_store};
use crate::principal::{Subject, Via, require_principal};
use crate::routes::api_auth::required;
use crate::state::AppState;
use crate::vetted::{VettedConnector, connect_refusal};

pub fn configure(cfg: &mut web::ServiceConfig) {
    // The JSON API of services and usage is in the route table (`routes/api.rs`). The proxy
    // routes below are not `/api/v1`: they take only an organization API key holding
    // `authorize` (`gateway::Caller::check`, first thing in `proxy`), with an agent whose
    // scopes cover the call; any access token, first-party or third-party with `authorize`
    // granted, gets 401 `invalid_api_key` (`gateway::refusals_happen_before_any_connection`,
    // `access_rules::attack_a_third_party_token_granted_authorize_calls_the_gateway_proxy`).
    cfg.service(
        web::resource("/proxy/{service}/{path:.*}")
            .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
            .to(proxy_named),
    )
    .service(
        web::resource("/{scheme:https?}://{host}/{path:.*}")
            .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
            .to(proxy_url),
    );
}

/// The awc client of one worker: no redirects followed, a response-head timeout, and
/// [`VettedConnector`] for TCP, so the addresses vetted are the addresses connected to. TLS
/// uses rustls with the aws-lc-rs provider and Mozilla's roots.
pub fn client(state: &AppState) -> awc::Client {
    // Several workers race here; only the first install wins, and that is fine.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let connector = awc::Connector::new().connector(VettedConnector {
        resolver: Arc::clone(&state.gateway_resolver),
        policy: gateway::AddressPolicy {
            allow_private: state.settings.gateway_allow_private,
        },
        loopback_only: false,
    });
    awc::Client::builder()
        .connector(connector)
        .disable_redirects()
        .timeout(Duration::from_secs(
            u64::try_from(state.settings.gateway_timeout).unwrap_or(60),
        ))
        .finish()
}

fn master_key(state: &AppState) -> Result<Arc<MasterKey>, ApiError> {
    Ok(gateway::enabled(state.settings.master_key.clone())?)
}

/// How the gateway authenticates to the upstream: a header (`kind: header`, the default) or a
/// query parameter (`kind: query`) named `name`, with `value` (sealed at rest, never shown).
#[derive(Deserialize, ToSchema)]
pub(super) struct CredentialBody {
    kind: Option<String>,
    name: Option<String>,
    value: Option<String>,
}

/// An upstream service: its name (as in `/proxy/{name}/…` and agent scopes), its base URL,
/// an optional path prefix calls must stay under, and its credential.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct ServiceBody {
    name: Option<String>,
    base_url: Option<String>,
    path_prefix: Option<String>,
    credential: Option<CredentialBody>,
}

/// A stored credential as the API shows it: never its value, only a hint.
#[derive(Serialize, ToSchema)]
pub(super) struct CredentialAnswer {
    /// `header` or `query`.
    kind: String,
    name: String,
    /// `…` and the value's last four characters.
    hint: String,
}

/// A gateway service.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct ServiceAnswer {
    id: String,
    organization_id: String,
    name: String,
    base_url: String,
    path_prefix: String,
    credential: CredentialAnswer,
    created_at: i64,
    updated_at: i64,
}

/// An organization's services.
#[derive(Serialize, ToSchema)]
pub(super) struct ServiceList {
    data: Vec<ServiceAnswer>,
}

/// One proxied call.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct UsageAnswer {
    /// Unix seconds.
    at: i64,
    key_id: String,
    agent_id: String,
    /// The user or API key the agent called for, when it called with an exchanged token.
    subject_id: Option<String>,
    service: String,
    endpoint: String,
    method: String,
    /// The upstream's status.
    status: i64,
    latency_ms: i64,
    bytes_in: i64,
    bytes_out: i64,
}

/// The usage log, newest first.
#[derive(Serialize, ToSchema)]
pub(super) struct UsageList {
    data: Vec<UsageAnswer>,
}

fn service_json(s: &gateway::Service) -> ServiceAnswer {
    ServiceAnswer {
        id: s.id.clone(),
        organization_id: s.org_id.clone(),
        name: s.name.clone(),
        base_url: s.base_url.clone(),
        path_prefix: s.path_prefix.clone(),
        credential: CredentialAnswer {
            kind: s.credential_kind.as_str().to_owned(),
            name: s.credential_name.clone(),
            hint: s.credential_hint.clone(),
        },
        created_at: s.created_at,
        updated_at: s.updated_at,
    }
}

fn usage_json(u: &gateway::UsageRow) -> UsageAnswer {
    UsageAnswer {
        at: u.occurred_at,
        key_id: u.key_id.clone(),
        agent_id: u.agent_id.clone(),
        subject_id: u.subject_id.clone(),
        service: u.service.clone(),
        endpoint: u.endpoint.clone(),
        method: u.method.clone(),
        status: u.status,
        latency_ms: u.latency_ms,
        bytes_in: u.bytes_in,
        bytes_out: u.bytes_out,
    }
}

pub(super) async fn create(
    caller: OrgCaller,
    path: web::Path<String>,
    state: web::Data<AppState>,
    body: web::Json<ServiceBody>,
) -> Result<HttpResponse, ApiError> {
    let key = master_key(&state)?;
    let org = path.into_inner();
    let body = body.into_inner();
    let name = required(&body.name, "name")?.to_owned();
    let base_url = required(&body.base_url, "baseUrl")?.to_owned();
    let cred = body.credential.ok_or_else(|| {
        ApiError::bad_request("invalid_field", "credential is required.").with_param("credential")
    })?;
    let (kind, cname, value) = (
        cred.kind.unwrap_or_else(|| "header".into()),
        required(&cred.name, "credential.name")?.to_owned(),
        required(&cred.value, "credential.value")?.to_owned(),
    );
    let prefix = body.path_prefix.unwrap_or_default();
    let o = org.clone();
    let service = with_org(&state, caller, move |st, conn, _, _| {
        let new = gateway::NewService {
            name: &name,
            base_url: &base_url,
            path_prefix: &prefix,
            credential_kind: &kind,
            credential_name: &cname,
            credential_value: &value,
            allow_http: st.settings.gateway_allow_private,
        };
        gateway::create_service(conn, &key, &o, &new, st.now()).map_err(ApiError::from)
    })
    .await?;
    Ok(json_no_store(StatusCode::CREATED, service_json(&service)))
}

pub(super) async fn list(
    caller: OrgCaller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    master_key(&state)?;
    let org = path.into_inner();
    let o = org.clone();
    let services = with_org(&state, caller, move |_, conn, _, _| {
        gateway::list_services(conn, &o).map_err(ApiError::from)
    })
    .await?;
    Ok(json_no_store(
        StatusCode::OK,
        ServiceList {
            data: services.iter().map(service_json).collect(),
        },
    ))
}

pub(super) async fn show(
    caller: OrgCaller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    master_key(&state)?;
    let (org, name) = path.into_inner();
    let o = org.clone();
    let service = with_org(&state, caller, move |_, conn, _, _| {
        gateway::find_service(conn, &o, &name).map_err(ApiError::from)
    })
    .await?;
    Ok(json_no_store(StatusCode::OK, service_json(&service)))
}

pub(super) async fn update(
    caller: OrgCaller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    body: web::Json<ServiceBody>,
) -> Result<HttpResponse, ApiError> {
    let key = master_key(&state)?;
    let (org, name) = path.into_inner();
    let body = body.into_inner();
    let o = org.clone();
    let service = with_org(&state, caller, move |st, conn, _, _| {
        let cred = body.credential.as_ref().map(|c| {
            (
                c.kind.clone().unwrap_or_else(|| "header".into()),
                c.name.clone().unwrap_or_default(),
                c.value.clone().unwrap_or_default(),
            )
        });
        gateway::update_service(
            conn,
            &key,
            &o,
            &name,
            body.base_url.as_deref(),
            body.path_prefix.as_deref(),
            cred.as_ref()
                .map(|(k, n, v)| (k.as_str(), n.as_str(), v.as_str())),
            st.settings.gateway_allow_private,
            st.now(),
        )
        .map_err(ApiError::from)
    })
    .await?;
    Ok(json_no_store(StatusCode::OK, service_json(&service)))
}

pub(super) async fn remove(
    caller: OrgCaller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    master_key(&state)?;
    let (org, name) = path.into_inner();
    let o = org.clone();
    with_org(&state, caller, move |_, conn, _, _| {
        gateway::delete_service(conn, &o, &name).map_err(ApiError::from)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct UsageQuery {
    /// Only calls to this service.
    service: Option<String>,
    /// Only calls of this agent.
    agent: Option<String>,
    /// Only calls at or after this time (Unix seconds).
    since: Option<i64>,
    /// At most this many calls, 1 to 1000 (default 100).
    limit: Option<i64>,
}

/// The usage log, for owners (and owner keys holding `*`).
pub(super) async fn usage(
    caller: OrgCaller,
    path: web::Path<String>,
    state: web::Data<AppState>,
    q: web::Query<UsageQuery>,
) -> Result<HttpResponse, ApiError> {
    let org = path.into_inner();
    let q = q.into_inner();
    let o = org.clone();
    let rows = with_org(&state, caller, move |_, conn, _, role| {
        if role != accounts::Role::Owner {
            return Err(ApiError::forbidden());
        }
        let filter = gateway::UsageFilter {
            service: q.service.as_deref(),
            agent_id: q.agent.as_deref(),
            since: q.since,
        };
        gateway::usage_of_org(
            conn,
            &o,
            &filter,
            q.limit.unwrap_or(gateway::DEFAULT_USAGE_LIMIT),
        )
        .map_err(ApiError::from)
    })
    .await?;
    let data = rows.iter().map(usage_json).collect();
    Ok(json_no_store(StatusCode::OK, UsageList { data }))
}

// ---- the proxy ----

/// Counts the bytes of a stream; the count is read when the stream ends.
struct Counted<S> {
    inner: S,
    count: Rc<AtomicU64>,
    limit: Option<u64>,
}

impl<S, E> Stream for Counted<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<Box<dyn std::error::Error>>,
{
    type Item = Result<Bytes, Box<dyn std::error::Error>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                let total = self.count.fetch_add(chunk.len() as u64, Ordering::Relaxed)
                    + chunk.len() as u64;
                if self.limit.is_some_and(|l| total > l) {
                    return Poll::Ready(Some(Err("the request body is too large".into())));
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

async fn proxy_named(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (service, rest) = path.into_inner();
    proxy(
        req,
        state,
        payload,
        Target::Named(service),
        format!("/{rest}"),
    )
    .await
}

async fn proxy_url(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (scheme, host, rest) = path.into_inner();
    proxy(
        req,
        state,
        payload,
        Target::Origin(format!("{scheme}://{host}")),
        format!("/{rest}"),
    )
    .await
}

async fn proxy(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
    target: Target,
    path: String,
) -> Result<HttpResponse, ApiError> {
    let key = master_key(&state)?;
    let principal = require_principal(&req, &state).await?;
    let caller = match agent_token(&principal) {
        Some(token) => Err(token),
        None => {
            let org_key = match (&principal.subject, &principal.via) {
                (Subject::Organization { id }, Via::ApiKey { key_id }) => {
                    Some((id.clone(), key_id.clone()))
                }
                _ => None,
            };
            Ok(gateway::Caller::check(org_key, |s| principal.allows(s))?)
        }
    };
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let from_credential = match &caller {
        Ok(_) => principal.agent_id.clone(),
        Err(_) => None,
    };
    let mut agent = gateway::agent_named(from_credential, header(gateway::AGENT_HEADER));
    let mut buffered: Option<Bytes> = None;
    let mut payload = Some(payload);
    if gateway::agent_in_body(agent.as_deref(), header(CONTENT_TYPE.as_str())) {
        let limit = usize::try_from(state.settings.gateway_max_body).unwrap_or(usize::MAX);
        let body = payload
            .take()
            .ok_or_else(|| ApiError::internal(&"payload taken twice"))?
            .to_bytes_limited(limit)
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    ErrorType::InvalidRequestError,
                    "The request body is too large.",
                )
            })?
            .map_err(|_| {
                ApiError::bad_request("invalid_body", "The request body could not be read.")
            })?;
        let (named, body) = gateway::take_agent_from_json(&body)?;
        agent = named;
        buffered = Some(Bytes::from(body));
    }
    let caller = match caller {
        Ok(key) => key.with_agent(agent)?,
        Err(token) => token.caller(agent)?,
    };
    let query = req.query_string().to_owned();
    let st = state.clone();
    let call = crate::traces::block(
        "gateway_prepare",
        move || -> Result<PreparedCall, ApiError> {
            let mut conn = st.store.conn()?;
            let request = gateway::CallRequest {
                target,
                path: &path,
                query: &query,
            };
            Ok(gateway::prepare_call(&mut conn, &key, caller, request)?)
        },
    )
    .await??;
    forward(&req, &state, call, buffered, payload).await
}

/// The agent token of a principal that is an agent's own token or an exchanged token acted on
/// by an agent; `None` for anything else (an API key, a user's or client's token).
fn agent_token(principal: &crate::principal::Principal) -> Option<gateway::AgentToken> {
    let Via::AccessToken { client_id } = &principal.via else {
        return None;
    };
    let scopes = principal.scopes.clone().unwrap_or_default();
    match (&principal.subject, &principal.delegation) {
        (Subject::Agent { org_id, id }, None) => Some(gateway::AgentToken {
            org_id: org_id.clone(),
            key_id: client_id.clone(),
            agent_id: id.clone(),
            scopes,
            subject_id: None,
        }),
        (subject, Some(delegation)) => {
            let agent_id = principal.agent_id.clone()?;
            // The organization is the key's, or the acting agent's (the token's `org_id`,
            // which `access::verify_access_token` checked against the agent).
            let (org_id, key_id) = match subject {
                Subject::Organization { id } => (id.clone(), delegation.subject_id.clone()),
                _ => (delegation.org_id.clone()?, client_id.clone()),
            };
            Some(gateway::AgentToken {
                org_id,
                key_id,
                agent_id,
                scopes,
                subject_id: Some(delegation.subject_id.clone()),
            })
        }
        _ => None,
    }
}

async fn forward(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    call: PreparedCall,
    buffered: Option<Bytes>,
    payload: Option<web::Payload>,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let url = call.url();
    // Every app carries its worker's client (see `app::build_app`).
    let client = req
        .app_data::<web::Data<GatewayClient>>()
        .map(|c| c.0.clone())
        .ok_or_else(|| ApiError::internal(&"the gateway client is missing"))?;
    let mut upstream = client.request(req.method().clone(), url.as_str());
    let incoming = req
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()));
    for (name, value) in call.upstream_headers(incoming) {
        upstream = upstream.append_header(header_pair(name, value)?);
    }
    let bytes_in = Rc::new(AtomicU64::new(0));
    let sent = match (buffered, payload) {
        (Some(body), _) => {
            bytes_in.store(body.len() as u64, Ordering::Relaxed);
            upstream.send_body(body).await
        }
        (None, Some(payload)) if req.method() != Method::GET && req.method() != Method::HEAD => {
            let counted = Counted {
                inner: payload,
                count: Rc::clone(&bytes_in),
                limit: Some(state.settings.gateway_max_body),
            };
            upstream.send_stream(counted).await
        }
        (None, _) => upstream.send().await,
    };
    let response = match sent {
        Ok(r) => r,
        Err(e) => {
            if let Some(why) = connect_refusal(&e) {
                return Err(ApiError::from(GatewayError::Refused(why)));
            }
            let failure = if matches!(e, awc::error::SendRequestError::Timeout) {
                UpstreamFailure::Timeout
            } else {
                UpstreamFailure::Unreachable
            };
            tracing::warn!(service = %call.service_name(), error = %e, "upstream call failed");
            record(
                state,
                &call,
                req.method().as_str(),
                failure.status(),
                started,
                bytes_in.load(Ordering::Relaxed),
                0,
            );
            return Err(failure.into());
        }
    };
    let status = response.status();
    let mut out = HttpResponse::build(status);
    let incoming = response
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()));
    for (name, value) in call.response_headers(incoming) {
        out.append_header(header_pair(name, value)?);
    }
    let bytes_out = Rc::new(AtomicU64::new(0));
    let body = Counted {
        inner: response,
        count: Rc::clone(&bytes_out),
        limit: None,
    };
    let logged = Logged {
        inner: body,
        on_end: Some(Box::new({
            let state = state.clone();
            let method = req.method().as_str().to_owned();
            let bytes_in = Rc::clone(&bytes_in);
            move |out: u64| {
                record(
                    &state,
                    &call,
                    &method,
                    status.as_u16(),
                    started,
                    bytes_in.load(Ordering::Relaxed),
                    out,
                )
            }
        })),
        count: bytes_out,
    };
    Ok(out.streaming(logged))
}

/// A header as gateway decided it, in actix's types (the names and values given come from
/// headers actix parsed, or from a credential checked when it was stored).
fn header_pair(name: &str, value: &[u8]) -> Result<(HeaderName, HeaderValue), ApiError> {
    Ok((
        HeaderName::from_bytes(name.as_bytes()).map_err(|e| ApiError::internal(&e))?,
        HeaderValue::from_bytes(value).map_err(|e| ApiError::internal(&e))?,
    ))
}

/// Calls `on_end` with the byte count when the body ends (or is dropped early).
struct Logged<S> {
    inner: S,
    on_end: Option<Box<dyn FnOnce(u64)>>,
    count: Rc<AtomicU64>,
}

impl<S> Stream for Logged<S>
where
    S: Stream<Item = Result<Bytes, Box<dyn std::error::Error>>> + Unpin,
{
    type Item = Result<Bytes, Box<dyn std::error::Error>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(None) = next
            && let Some(f) = self.on_end.take()
        {
            f(self.count.load(Ordering::Relaxed));
        }
        next
    }
}

impl<S> Drop for Logged<S> {
    fn drop(&mut self) {
        if let Some(f) = self.on_end.take() {
            f(self.count.load(Ordering::Relaxed));
        }
    }
}

/// Writes the usage record off the request path.
fn record(
    state: &AppState,
    call: &PreparedCall,
    method: &str,
    status: u16,
    started: Instant,
    bytes_in: u64,
    bytes_out: u64,
) {
    let call = call.usage(
        method,
        status,
        started.elapsed().as_millis(),
        bytes_in,
        bytes_out,
    );
    let now = state.now();
    let store = state.store.clone();
    actix_web::rt::spawn(async move {
        crate::metrics::business::gateway_call(&call.service, call.status);
        let result = crate::traces::block("gateway_usage", move || -> Result<(), String> {
            let mut conn = store.conn().map_err(|e| e.to_string())?;
            gateway::record_call(&mut conn, &call, now).map_err(|e| e.to_string())
        })
        .await;
        if let Ok(Err(e)) | Err(e) = result.map_err(|e| e.to_string()) {
            tracing::warn!(error = %e, "usage record lost");
        }
    });
}

/// The per-worker HTTP client, kept in app data.
pub struct GatewayClient(pub awc::Client);
