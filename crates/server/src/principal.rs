//! One principal for every protected route: an organization API key (`x-api-key` or
//! `Authorization: Bearer pcl_sk_…`, `x-api-key` winning when both are sent) or an OAuth access
//! token (`Authorization: Bearer <JWT>`), resolved to the same [`Principal`].
//!
//! Verified keys are cached in memory for `PORTCULLIS_API_KEY_CACHE` seconds (default 10),
//! keyed by the key's SHA-256, never its plaintext. A key revoked, rotated or narrowed is
//! evicted at once on the instance that changed it and, over PostgreSQL, on the others when
//! they hear of it (`invalidate.rs`); the cache time bounds it when a notice is lost.
//! `last_used_at` is written at most once a minute per key. Which routes a principal may call
//! is decided by `access.rs`.

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::HttpRequest;
use apikeys::{KeyError, VerifiedKey};
use primitives::SecretHash;
use store::Conn;

use crate::access::Expect;
use crate::auth::{PresentedToken, presented_token};
use crate::errors::ApiError;
use crate::errors::api::from_presented_key_error;
use crate::state::AppState;
use crate::ttlmap::TtlMap;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    User {
        id: String,
    },
    Organization {
        id: String,
    },
    /// An organization's agent, calling with its own access token (client credentials of
    /// its client): for the gateway only (`access.rs` refuses it on the JSON API).
    Agent {
        org_id: String,
        id: String,
    },
}

/// An exchanged token's delegation (RFC 8693): the subject acted for (the user, or the
/// organization API key) and the actor chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    pub subject_id: String,
    /// The organization of the acting agent or the subject key (the token's `org_id`).
    pub org_id: Option<String>,
    pub act: tokens::ActClaim,
}

/// How the caller proved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    ApiKey { key_id: String },
    AccessToken { client_id: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub subject: Subject,
    /// What the credential allows; `None` for a user's own first-party token (the user's roles
    /// decide).
    pub scopes: Option<Vec<String>>,
    pub via: Via,
    /// The agent named inside a combined `pcl_…_agent_…` credential.
    pub agent_id: Option<String>,
    /// The client IP of the request (for the audit log).
    pub ip: Option<String>,
    /// Who acts, when the credential is an exchanged token.
    pub delegation: Option<Delegation>,
}

impl Principal {
    /// Who acts, for the audit log: the user, else the API key or the client.
    pub fn actor(&self) -> &str {
        match (&self.subject, &self.via) {
            (Subject::User { id }, _) | (Subject::Agent { id, .. }, _) => id,
            (Subject::Organization { .. }, Via::ApiKey { key_id }) => key_id,
            (Subject::Organization { .. }, Via::AccessToken { client_id }) => client_id,
        }
    }

    /// The user acting; an error for a key (routes that take keys never ask).
    pub fn user_id(&self) -> Result<&str, ApiError> {
        match &self.subject {
            Subject::User { id } => Ok(id),
            Subject::Organization { .. } | Subject::Agent { .. } => Err(ApiError::internal(
                &"an API key or agent reached a route for members only",
            )),
        }
    }

    /// An agent's own token, or an exchanged token: the gateway's alone.
    pub fn is_agent_or_delegated(&self) -> bool {
        matches!(self.subject, Subject::Agent { .. }) || self.delegation.is_some()
    }

    /// Whether the credential's scopes allow `scope` (always, when unrestricted).
    pub fn allows(&self, scope: &str) -> bool {
        self.scopes
            .as_ref()
            .is_none_or(|list| list.iter().any(|s| s == "*" || s == scope))
    }
}

/// Verified keys, by the SHA-256 of the presented key, and agents by id, both for
/// `PORTCULLIS_API_KEY_CACHE` seconds. A key or agent changed on this instance is evicted at
/// once, and on PostgreSQL on the other instances too (`invalidate.rs`); the cache time bounds
/// a change whose notice was lost.
#[derive(Debug)]
pub struct ApiKeyCache {
    keys: TtlMap<VerifiedKey>,
    agents: TtlMap<apikeys::Agent>,
    touched: Mutex<HashMap<String, i64>>,
}

impl ApiKeyCache {
    pub fn new(ttl: i64) -> Self {
        Self {
            keys: TtlMap::counted(ttl, crate::metrics::business::Cache::ApiKey),
            agents: TtlMap::counted(ttl, crate::metrics::business::Cache::Agent),
            touched: Mutex::new(HashMap::new()),
        }
    }

    /// A cached agent still within the cache time.
    pub fn agent(&self, id: &str, now: i64) -> Option<apikeys::Agent> {
        self.agents.get(id, now)
    }

    pub fn put_agent(&self, agent: apikeys::Agent, now: i64) {
        self.agents.put(agent.id.clone(), agent, now);
    }

    /// Drops an agent changed or deleted (here, or on another instance that said so).
    pub fn forget_agent(&self, id: &str) {
        self.agents.forget(id);
    }

    /// Drops a key by its id (revoked, rotated or changed): the cache is keyed by the hash of
    /// the presented secret, which revocation does not know.
    pub fn forget_key(&self, id: &str) {
        self.keys.forget_where(|key| key.id == id);
    }

    /// Drops every key and agent (invalidation notices may have been lost).
    pub fn clear(&self) {
        self.keys.clear();
        self.agents.clear();
    }

    /// The principal of an API key already verified within the cache time, without touching
    /// the database; `None` when the key must be looked up (or its `last_used_at` is due).
    fn cached_principal(&self, raw: &str, now: i64) -> Option<Principal> {
        let (_, hash, agent) = presented_key(raw).ok()?;
        let verified = self.key(&hash, now)?;
        let touched = self.touched.lock().unwrap_or_else(|e| e.into_inner());
        if touched.get(&verified.id).is_none_or(|at| now - at >= 60) {
            return None;
        }
        drop(touched);
        Some(key_principal(verified, agent))
    }

    /// A verified key within the cache time and its own expiry.
    fn key(&self, hash: &str, now: i64) -> Option<VerifiedKey> {
        self.keys
            .get(hash, now)
            .filter(|key| key.valid_until.is_none_or(|until| now < until))
    }

    /// True when `last_used_at` of this key is due for a write (once a minute).
    fn due_for_touch(&self, key_id: &str, now: i64) -> bool {
        let mut map = self.touched.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(key_id) {
            Some(at) if now - at < 60 => false,
            _ => {
                map.insert(key_id.to_owned(), now);
                true
            }
        }
    }
}

/// The key part of a presented value (a key, or a combined key-and-agent value), its SHA-256
/// (the cache key) and the agent named with it.
fn presented_key(raw: &str) -> Result<(apikeys::ParsedKey, String, Option<String>), KeyError> {
    let (key, agent) = match apikeys::split_combined(raw) {
        Some((key, agent)) => (key, Some(agent.to_owned())),
        None => (raw, None),
    };
    let parsed = apikeys::parse_key(key)?;
    let hash = SecretHash::of(parsed.as_str()).as_str().to_owned();
    Ok((parsed, hash, agent))
}

/// Verifies an API key (or a combined key-and-agent value), through the cache.
pub fn verify_api_key(state: &AppState, conn: &mut Conn, raw: &str) -> Result<Principal, ApiError> {
    let (parsed, hash, agent) = presented_key(raw).map_err(from_presented_key_error)?;
    let now = state.now();
    let verified = match state.api_keys.key(&hash, now) {
        Some(hit) => hit,
        None => {
            let verified =
                apikeys::verify_key(conn, &parsed, now).map_err(from_presented_key_error)?;
            state.api_keys.keys.put(hash, verified.clone(), now);
            verified
        }
    };
    if state.api_keys.due_for_touch(&verified.id, now) {
        apikeys::touch_key(conn, &verified.id, now).map_err(from_presented_key_error)?;
    }
    Ok(key_principal(verified, agent))
}

fn key_principal(verified: VerifiedKey, agent: Option<String>) -> Principal {
    Principal {
        subject: Subject::Organization {
            id: verified.org_id,
        },
        scopes: Some(verified.scopes),
        via: Via::ApiKey {
            key_id: verified.id,
        },
        agent_id: agent,
        ip: None,
        delegation: None,
    }
}

/// A credential as the request carried it.
#[derive(Debug, Clone)]
pub enum Credential {
    /// `x-api-key`: always an API key.
    ApiKeyHeader(String),
    /// `Authorization: Bearer` (an API key when it has the key prefix, else an access token)
    /// or `Authorization: DPoP` (an access token).
    Bearer(PresentedToken),
}

/// The raw credential of a request, `x-api-key` first.
pub fn credential(req: &HttpRequest, state: &AppState) -> Option<Credential> {
    if let Some(v) = req.headers().get("x-api-key") {
        return Some(Credential::ApiKeyHeader(
            v.to_str().unwrap_or("").trim().to_owned(),
        ));
    }
    presented_token(req, state).map(Credential::Bearer)
}

/// Resolves a credential to a principal. Blocking: call inside `web::block`.
pub fn resolve(
    state: &AppState,
    conn: &mut Conn,
    credential: &Credential,
) -> Result<Principal, ApiError> {
    let credential = match credential {
        Credential::ApiKeyHeader(key) => return verify_api_key(state, conn, key),
        Credential::Bearer(presented) => presented,
    };
    if credential.token.starts_with("pcl_") {
        // An API key is never sent with the DPoP scheme.
        if credential.presentation.dpop_scheme {
            return Err(ApiError::credential_refused(
                "invalid_token",
                "An API key is sent as Bearer or x-api-key.",
            ));
        }
        return verify_api_key(state, conn, &credential.token);
    }
    let token = crate::access::verify_access_token(
        state,
        conn,
        &credential.token,
        Expect::OurApis(&credential.presentation),
    )?;
    if let Some(principal) = agent_principal(&token) {
        return Ok(principal);
    }
    if token.user().is_none() {
        // A client's own token (client credentials) names no user and no organization.
        return Err(ApiError::credential_refused(
            "invalid_token",
            "The access token is not valid.",
        ));
    }
    Ok(Principal {
        subject: Subject::User {
            id: token.claims().sub.clone(),
        },
        // A first-party token is bound by the user's roles alone; a third-party token by its
        // granted scopes too (never the catch-all `*`, which only API keys may hold).
        scopes: (!token.is_first_party()).then(|| {
            token
                .scopes()
                .into_iter()
                .filter(|s| *s != "*")
                .map(str::to_owned)
                .collect()
        }),
        via: Via::AccessToken {
            client_id: token.claims().client_id.clone(),
        },
        agent_id: None,
        ip: None,
        delegation: None,
    })
}

/// The principal of an agent's own token or an exchanged token; `None` for any other.
fn agent_principal(token: &crate::access::VerifiedToken) -> Option<Principal> {
    let claims = token.claims();
    let scopes = Some(token.scopes().into_iter().map(str::to_owned).collect());
    let via = Via::AccessToken {
        client_id: claims.client_id.clone(),
    };
    let agent_id = token.agent().map(|a| a.id.clone());
    match (&claims.act, token.agent(), token.key(), token.user()) {
        (None, Some(agent), _, _) => Some(Principal {
            subject: Subject::Agent {
                org_id: agent.org_id.clone(),
                id: agent.id.clone(),
            },
            scopes,
            via,
            agent_id,
            ip: None,
            delegation: None,
        }),
        (Some(act), _, key, user) => {
            let subject = match (key, user) {
                (Some(key), _) => Subject::Organization {
                    id: key.org_id.clone(),
                },
                (None, Some(user)) => Subject::User {
                    id: user.id.clone(),
                },
                (None, None) => return None,
            };
            Some(Principal {
                subject,
                scopes,
                via,
                agent_id,
                ip: None,
                delegation: Some(Delegation {
                    subject_id: claims.sub.clone(),
                    org_id: claims.org_id.clone(),
                    act: act.clone(),
                }),
            })
        }
        _ => None,
    }
}

/// The principal of a request, or 401 `invalid_api_key`.
pub async fn require_principal(req: &HttpRequest, state: &AppState) -> Result<Principal, ApiError> {
    let credential = credential(req, state).ok_or_else(ApiError::credential_missing)?;
    let ip = crate::auth::client_ip(req, state);
    // A key verified within the cache time needs no database and no blocking thread.
    let raw = match &credential {
        Credential::ApiKeyHeader(raw) => Some(raw),
        Credential::Bearer(presented) if !presented.presentation.dpop_scheme => {
            Some(&presented.token)
        }
        Credential::Bearer(_) => None,
    };
    if let Some(raw) = raw
        && raw.starts_with("pcl_")
        && let Some(principal) = state.api_keys.cached_principal(raw, state.now())
    {
        return Ok(Principal { ip, ..principal });
    }
    let state = state.clone();
    let principal = crate::traces::block("resolve_principal", move || {
        let mut conn = state.store.conn()?;
        resolve(&state, &mut conn, &credential)
    })
    .await??;
    Ok(Principal { ip, ..principal })
}
