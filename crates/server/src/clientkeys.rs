//! The public keys of `private_key_jwt` clients that publish them at a `jwks_uri`.
//!
//! [`load`] runs in the handlers that authenticate clients, before any blocking work (as
//! `crate::cimd::load` does): for a client assertion whose client has a `jwks_uri`, it makes
//! sure the [`JwksCache`] holds that client's keys; `ClientCache::authenticate` then reads
//! them from there.
//!
//! - The fetch is the one of Client ID Metadata Documents (`crate::cimd::fetch`): addresses
//!   vetted against server-side request forgery, no redirects, at most 5 KiB, a time limit;
//!   the set is kept as its `Cache-Control` says, within `PORTCULLIS_CIMD_CACHE_MIN` and
//!   `PORTCULLIS_CIMD_CACHE_MAX`.
//! - An assertion naming a `kid` the kept set lacks (the client rotated its keys) fetches the
//!   set again, then not again for an unknown `kid` for [`REFETCH_AFTER`] seconds for that
//!   URI, so assertions with made-up `kid`s cannot make the server fetch again and again.
//! - At most [`MAX_ENTRIES`] sets are kept; time is the injected clock's.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use actix_web::http::StatusCode;
use grants::ErrorCode;
use registration::Presented;
use registration::assertion::JwkSet;

use crate::errors::oauth::OAuthHttpError;
use crate::state::AppState;

/// The most key sets kept at once.
pub const MAX_ENTRIES: usize = 1000;
/// The least time between two fetches of one URI for an unknown `kid`.
pub const REFETCH_AFTER: i64 = 60;

#[derive(Debug, Clone)]
struct Entry {
    keys: Arc<JwkSet>,
    expires: i64,
    /// When the set was last fetched again for an unknown `kid`.
    refetched: Option<i64>,
}

/// Fetched key sets by URI, each until its own expiry.
#[derive(Debug, Default)]
pub struct JwksCache {
    entries: RwLock<HashMap<String, Entry>>,
}

impl JwksCache {
    /// The keys published at `uri`, while fresh.
    pub fn get(&self, uri: &str, now: i64) -> Option<Arc<JwkSet>> {
        self.entry(uri, now).map(|e| e.keys)
    }

    fn entry(&self, uri: &str, now: i64) -> Option<Entry> {
        let map = self.entries.read().unwrap_or_else(|e| e.into_inner());
        map.get(uri).filter(|e| now < e.expires).cloned()
    }

    /// Keeps `keys` until `expires`; when full, the expired go first, then the soonest to
    /// expire.
    fn put(&self, uri: &str, keys: JwkSet, expires: i64, refetched: Option<i64>, now: i64) {
        let mut map = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES && !map.contains_key(uri) {
            map.retain(|_, e| now < e.expires);
            if map.len() >= MAX_ENTRIES
                && let Some(soonest) = map
                    .iter()
                    .min_by_key(|(_, e)| e.expires)
                    .map(|(k, _)| k.clone())
            {
                map.remove(&soonest);
            }
        }
        map.insert(
            uri.to_owned(),
            Entry {
                keys: Arc::new(keys),
                expires,
                refetched,
            },
        );
    }

    /// How many sets are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|e| e.into_inner()).len()
    }
}

fn invalid_client(description: &str) -> OAuthHttpError {
    OAuthHttpError::new(
        StatusCode::UNAUTHORIZED,
        ErrorCode::InvalidClient,
        description,
    )
}

/// Makes sure the keys of a client assertion's client are at hand: fetched from its
/// `jwks_uri` unless a fresh set holding the assertion's `kid` is kept. Other credentials, and
/// clients without a `jwks_uri`, need nothing.
pub async fn load(state: &AppState, presented: &Presented) -> Result<(), OAuthHttpError> {
    let Presented::Assertion {
        client_id,
        assertion,
    } = presented
    else {
        return Ok(());
    };
    let now = state.now();
    let st = state.clone();
    let id = client_id.clone();
    let client = crate::traces::block("client_keys", move || {
        let mut conn = st.store.conn()?;
        st.clients
            .find(&mut conn, &id, now)
            .map_err(OAuthHttpError::from)
    })
    .await??;
    let Some(uri) = client.and_then(|c| c.metadata.jwks_uri) else {
        return Ok(());
    };
    let kid = registration::assertion::assertion_kid(assertion);
    let kept = state.clients.jwks.entry(&uri, now);
    if let Some(kept) = &kept {
        let knows_kid = kid.as_deref().is_none_or(|k| kept.keys.find(k).is_some());
        let refetched_lately = kept.refetched.is_some_and(|at| now - at < REFETCH_AFTER);
        if knows_kid || refetched_lately {
            return Ok(());
        }
    }
    let url =
        url::Url::parse(&uri).map_err(|_| invalid_client("the client's jwks_uri is unusable"))?;
    let (body, ttl) = crate::cimd::fetch(state, &url).await.map_err(|e| {
        tracing::info!(client_id = %client_id, error = %e, "client keys could not be fetched");
        invalid_client("the client's jwks_uri could not be fetched")
    })?;
    let keys = serde_json::from_slice(&body)
        .ok()
        .and_then(|v: serde_json::Value| registration::check_jwks(&v).ok())
        .ok_or_else(|| invalid_client("the client's jwks_uri does not hold a usable JWK Set"))?;
    let refetched = kept.is_some().then_some(now);
    state
        .clients
        .jwks
        .put(&uri, keys, now + ttl, refetched, now);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_is_bounded_and_entries_expire() {
        let cache = JwksCache::default();
        let set = || JwkSet { keys: Vec::new() };
        cache.put("https://a.example/0", set(), 100, None, 0);
        assert!(cache.get("https://a.example/0", 99).is_some());
        assert!(cache.get("https://a.example/0", 100).is_none(), "expired");
        for i in 1..=MAX_ENTRIES + 5 {
            let expires = 1000 + i64::try_from(i).expect("small");
            cache.put(&format!("https://a.example/{i}"), set(), expires, None, 10);
        }
        assert_eq!(cache.len(), MAX_ENTRIES);
        assert!(
            cache.get("https://a.example/1", 20).is_none(),
            "the soonest went"
        );
        assert!(
            cache
                .get(&format!("https://a.example/{}", MAX_ENTRIES + 5), 20)
                .is_some()
        );
    }
}
