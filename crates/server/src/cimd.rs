//! Client ID Metadata Documents over HTTP: a `client_id` that is an `https` URL is fetched,
//! and its JSON, checked by `registration::client_from_document`, is the client.
//!
//! [`load`] runs in the handlers of `/oauth2/authorize`, `/consent`, `/oauth2/token`,
//! `/oauth2/introspect` and `/oauth2/revoke` (and the sign-in page naming the app), before any
//! blocking work: it puts the client into the [`DocumentCache`] of `crate::clientcache`, where
//! every later look-up of that id finds it (and nothing else: a URL id never reaches the
//! database).
//!
//! The fetch is the gateway's, made safe against server-side request forgery the same way:
//! - The host is resolved once, every address is vetted (no private, loopback, link-local or
//!   other special-purpose address, `gateway::refused_because`) and only those addresses are
//!   connected to (`crate::vetted::VettedConnector`): DNS rebinding reaches nothing new.
//! - Redirects are not followed (a 3xx is a failure), the body is read up to 5 KiB (the
//!   draft's suggestion), the whole fetch has a time limit (`PORTCULLIS_CIMD_TIMEOUT_MS`),
//!   and only `Accept: application/json` is asked for.
//! - What is shown when it fails says what kind of failure it was, never the addresses a name
//!   resolved to (that would map the private network for whoever asks).
//!
//! The operator decides whose documents count (`PORTCULLIS_CIMD`: all, none, or a list of
//! hosts), and how long a document is kept: its `Cache-Control: max-age` (or `Expires`),
//! within `PORTCULLIS_CIMD_CACHE_MIN` and `PORTCULLIS_CIMD_CACHE_MAX` seconds. At most
//! [`MAX_ENTRIES`] documents are kept.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, UNIX_EPOCH};

use actix_web::http::StatusCode;
use actix_web::http::header::{ACCEPT, CACHE_CONTROL, CONTENT_LENGTH, EXPIRES, HeaderMap};
use registration::{Client, DocumentError};

use crate::config::Settings;
use crate::state::AppState;

/// The largest document read.
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
/// The most documents kept at once.
pub const MAX_ENTRIES: usize = 10_000;

/// Fetched documents' clients, each until its own expiry.
#[derive(Debug, Default)]
pub struct DocumentCache {
    entries: RwLock<HashMap<String, (Client, i64)>>,
}

impl DocumentCache {
    /// The client of `id`, while its document is fresh.
    pub fn get(&self, id: &str, now: i64) -> Option<Client> {
        let map = self.entries.read().unwrap_or_else(|e| e.into_inner());
        map.get(id)
            .filter(|(_, expires)| now < *expires)
            .map(|(client, _)| client.clone())
    }

    /// Keeps `client` until `expires`. When full, the expired go first, then the entry that
    /// expires soonest.
    pub fn put(&self, client: Client, expires: i64, now: i64) {
        let mut map = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES && !map.contains_key(&client.id) {
            map.retain(|_, (_, at)| now < *at);
            if map.len() >= MAX_ENTRIES
                && let Some(soonest) = map
                    .iter()
                    .min_by_key(|(_, (_, at))| *at)
                    .map(|(k, _)| k.clone())
            {
                map.remove(&soonest);
            }
        }
        map.insert(client.id.clone(), (client, expires));
    }

    /// How many documents are kept (expired ones included until a put drops them).
    pub fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a URL client id names no client. Every description is safe to show.
#[derive(Debug, thiserror::Error)]
pub enum CimdError {
    #[error("this server does not accept client metadata documents")]
    Disabled,
    #[error("this server does not accept client metadata documents from {0}")]
    HostNotAllowed(String),
    #[error(transparent)]
    Document(#[from] DocumentError),
    #[error("the client's metadata document could not be fetched: {0}")]
    Fetch(&'static str),
    #[error("the client's metadata document could not be fetched: it answered {0}")]
    Status(StatusCode),
    #[error("the client's metadata document could not be checked now; try again")]
    Unavailable,
}

/// Makes sure the client of `client_id` can be looked up: for a URL client id, its document
/// is fetched unless a fresh copy is kept. Other ids need nothing.
pub async fn load(state: &AppState, client_id: &str) -> Result<(), CimdError> {
    if !registration::is_url_client_id(client_id) {
        return Ok(());
    }
    let s = &state.settings;
    if !s.cimd.enabled() {
        return Err(CimdError::Disabled);
    }
    let url = registration::document_url(client_id, s.cimd_allow_loopback)?;
    let host = url.host_str().unwrap_or_default();
    if !s.cimd.allows(host) {
        return Err(CimdError::HostNotAllowed(host.to_owned()));
    }
    let now = state.now();
    if state.clients.documents.get(client_id, now).is_some() {
        return Ok(());
    }
    let (body, ttl) = fetch(state, &url).await?;
    let document: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|_| DocumentError::Invalid("it is not JSON".into()))?;
    // As for a registered client: the scopes of the registered protected resources too (a
    // document without `scope` may ask them, as MCP clients' documents do).
    let st = state.clone();
    let policy = crate::traces::block("registration_policy", move || {
        let mut conn = st.store.conn()?;
        crate::state::registration_policy_with_resources(&st.settings, &mut conn)
    })
    .await
    .map_err(|_| CimdError::Unavailable)?
    .map_err(|e| {
        tracing::warn!(error = %e, "registered resources could not be read");
        CimdError::Unavailable
    })?;
    let client = registration::client_from_document(&url, &document, &policy, now)?;
    tracing::info!(client_id, ttl, "client metadata document fetched");
    state.clients.documents.put(client, now + ttl, now);
    Ok(())
}

/// Whether tokens of the URL client `client_id` still count: the policy still allows its
/// host. (Its document need not be kept: a document, unlike a stored client, is never
/// deleted, and refetching it for every token would make a call of each API call.)
pub fn still_allowed(settings: &Settings, client_id: &str) -> bool {
    settings.cimd.enabled()
        && registration::document_url(client_id, settings.cimd_allow_loopback)
            .ok()
            .is_some_and(|u| settings.cimd.allows(u.host_str().unwrap_or_default()))
}

/// The awc client of a fetch: the gateway's vetted connector, no redirects.
fn http_client(state: &AppState) -> awc::Client {
    crate::vetted::http_client(
        state,
        state.cimd_tls.as_ref(),
        state.settings.cimd_allow_loopback,
        Duration::from_millis(state.settings.cimd_timeout_ms),
    )
}

/// The document's bytes and how long to keep it, within the time limit. A client's published
/// keys (`crate::clientkeys`) are fetched the same way.
pub(crate) async fn fetch(state: &AppState, url: &url::Url) -> Result<(Vec<u8>, i64), CimdError> {
    let s = &state.settings;
    let client = http_client(state);
    let now = state.now();
    let fetching = async {
        let mut res = client
            .get(url.as_str())
            .insert_header((ACCEPT, "application/json"))
            .send()
            .await
            .map_err(|e| {
                if matches!(e, awc::error::SendRequestError::Timeout) {
                    CimdError::Fetch("it took too long")
                } else if let Some(why) = crate::vetted::connect_refusal(&e) {
                    tracing::warn!(url = %url, %why, "client metadata document refused");
                    CimdError::Fetch("its address is not a public one")
                } else {
                    tracing::info!(url = %url, error = %e, "client metadata document unreachable");
                    CimdError::Fetch("it did not answer")
                }
            })?;
        let status = res.status();
        if status.is_redirection() {
            return Err(CimdError::Fetch(
                "it answered with a redirect, and redirects are not followed",
            ));
        }
        if status != StatusCode::OK {
            return Err(CimdError::Status(status));
        }
        let declared = res
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64) {
            return Err(too_large());
        }
        let ttl = cache_ttl(res.headers(), now, s.cimd_cache_min, s.cimd_cache_max);
        let body = res
            .body()
            .limit(MAX_DOCUMENT_BYTES)
            .await
            .map_err(|e| match e {
                awc::error::PayloadError::Overflow => too_large(),
                _ => CimdError::Fetch("its body could not be read"),
            })?;
        Ok((body.to_vec(), ttl))
    };
    actix_web::rt::time::timeout(Duration::from_millis(s.cimd_timeout_ms), fetching)
        .await
        .map_err(|_| CimdError::Fetch("it took too long"))?
}

fn too_large() -> CimdError {
    CimdError::Fetch("it is larger than 5 KiB")
}

/// How long a document may be kept: `Cache-Control: max-age` (`no-store`, `no-cache` mean
/// not at all), else `Expires`, else the least; always within `[min, max]`.
fn cache_ttl(headers: &HeaderMap, now: i64, min: i64, max: i64) -> i64 {
    let mut said: Option<i64> = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',').map(str::trim) {
            let lower = directive.to_ascii_lowercase();
            if lower == "no-store" || lower == "no-cache" {
                return min;
            }
            if let Some(age) = lower.strip_prefix("max-age=") {
                said = age.trim_matches('"').parse::<i64>().ok().or(said);
            }
        }
    }
    let said = said.or_else(|| {
        let raw = headers.get(EXPIRES)?.to_str().ok()?;
        let at = raw.parse::<actix_web::http::header::HttpDate>().ok()?;
        let at = std::time::SystemTime::from(at)
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_secs();
        Some(i64::try_from(at).ok()? - now)
    });
    said.unwrap_or(min).clamp(min, max.max(min))
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(actix_web::http::header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    #[test]
    fn documents_are_kept_as_their_headers_say_within_the_bounds() {
        let now = 1_700_000_000;
        let ttl = |h: &[(actix_web::http::header::HeaderName, &str)]| {
            cache_ttl(&headers(h), now, 60, 3600)
        };
        assert_eq!(ttl(&[]), 60, "nothing said: the least");
        assert_eq!(ttl(&[(CACHE_CONTROL, "public, max-age=600")]), 600);
        assert_eq!(
            ttl(&[(CACHE_CONTROL, "max-age=5")]),
            60,
            "raised to the least"
        );
        assert_eq!(
            ttl(&[(CACHE_CONTROL, "max-age=999999")]),
            3600,
            "cut to the most"
        );
        assert_eq!(ttl(&[(CACHE_CONTROL, "no-store")]), 60);
        assert_eq!(ttl(&[(CACHE_CONTROL, "max-age=600, no-cache")]), 60);
        let in_ten_minutes = actix_web::http::header::HttpDate::from(
            UNIX_EPOCH + Duration::from_secs(u64::try_from(now + 600).expect("positive")),
        )
        .to_string();
        assert_eq!(ttl(&[(EXPIRES, &in_ten_minutes)]), 600);
        assert_eq!(
            ttl(&[(EXPIRES, &in_ten_minutes), (CACHE_CONTROL, "max-age=120")]),
            120,
            "max-age wins over Expires"
        );
        assert_eq!(ttl(&[(EXPIRES, "not a date")]), 60);
    }

    #[test]
    fn the_cache_is_bounded_and_entries_expire() {
        let cache = DocumentCache::default();
        let meta = registration::parse_metadata(
            &serde_json::json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "none"}),
            &registration::Policy {
                known_scopes: vec![],
                default_code_scopes: vec![],
                id_token_algs: vec!["RS256".into()],
                allow_password_grant: false,
                backchannel_logout_loopback: false,
            },
        )
        .expect("meta");
        let client =
            |i: usize| Client::in_memory(format!("https://a.example/{i}"), meta.clone(), 0);
        cache.put(client(0), 100, 0);
        assert!(cache.get("https://a.example/0", 99).is_some());
        assert!(cache.get("https://a.example/0", 100).is_none(), "expired");
        for i in 1..=MAX_ENTRIES + 5 {
            cache.put(client(i), 1000 + i64::try_from(i).expect("small"), 10);
        }
        assert_eq!(cache.len(), MAX_ENTRIES);
        assert!(
            cache.get("https://a.example/1", 20).is_none(),
            "the soonest to expire went"
        );
        assert!(
            cache
                .get(&format!("https://a.example/{}", MAX_ENTRIES + 5), 20)
                .is_some()
        );
    }
}
