//! The signing keys held in memory by one instance.
//!
//! Keys live in the database so every instance signs with the same ones. Each instance keeps a
//! [`Keyring`] for `PORTCULLIS_KEYS_REFRESH` seconds, then reloads it; a token whose `kid` is
//! unknown triggers an early reload (at most once a second), so a key made by another instance
//! verifies here at once. What this costs in correctness: after `portcullis keys rotate`, an
//! instance may go on signing with the previous key for up to the refresh interval; those tokens
//! stay valid because a retired key stays published until its tokens have expired.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use store::Conn;
use tokens::{AccessClaims, Keyring, TokenError, VerifyError};

#[derive(Debug)]
pub struct KeyCache {
    ring: RwLock<Option<Arc<Keyring>>>,
    loaded_at: AtomicI64,
    refresh: i64,
    /// How long retired keys stay published: the longest token lifetime, plus margin.
    publish_retired_for: i64,
}

impl KeyCache {
    pub fn new(refresh: i64, publish_retired_for: i64) -> Self {
        Self {
            ring: RwLock::new(None),
            loaded_at: AtomicI64::new(i64::MIN),
            refresh,
            publish_retired_for,
        }
    }

    /// The keys in memory when they are fresh, without reading the database.
    pub fn cached(&self, now: i64) -> Option<Arc<Keyring>> {
        let fresh = now.saturating_sub(self.loaded_at.load(Ordering::Acquire)) < self.refresh;
        if !fresh {
            return None;
        }
        self.ring
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(Arc::clone)
    }

    /// Makes the next use reload the keys (a key was made or retired, here or elsewhere).
    pub fn invalidate(&self) {
        self.loaded_at.store(i64::MIN, Ordering::Release);
    }

    /// The key ring, reloaded from the database when older than the refresh interval.
    pub fn get(&self, conn: &mut Conn, now: i64) -> Result<Arc<Keyring>, TokenError> {
        let cached = self.cached(now);
        crate::metrics::business::cache(
            crate::metrics::business::Cache::SigningKeys,
            cached.is_some(),
        );
        match cached {
            Some(ring) => Ok(ring),
            None => self.reload(conn, now),
        }
    }

    /// Reloads now, unless another reload happened within the last second; for a `kid` we do
    /// not know yet.
    fn reload_for_unknown_kid(
        &self,
        conn: &mut Conn,
        now: i64,
    ) -> Result<Arc<Keyring>, TokenError> {
        if now.saturating_sub(self.loaded_at.load(Ordering::Acquire)) < 1 {
            return self.get(conn, now);
        }
        self.reload(conn, now)
    }

    /// Verifies an access token with the current keys, reloading them once when the token
    /// names a `kid` this instance has not loaded yet (a key made by another instance). The
    /// outer error is ours (the database); the inner one is the token's.
    pub fn verify_access(
        &self,
        conn: &mut Conn,
        token: &str,
        issuer: &str,
        now: i64,
    ) -> Result<Result<AccessClaims, VerifyError>, TokenError> {
        let ring = self.get(conn, now)?;
        match tokens::verify_access_token(&ring, token, issuer, now) {
            Err(VerifyError::UnknownKey) => {
                let ring = self.reload_for_unknown_kid(conn, now)?;
                Ok(tokens::verify_access_token(&ring, token, issuer, now))
            }
            other => Ok(other),
        }
    }

    fn reload(&self, conn: &mut Conn, now: i64) -> Result<Arc<Keyring>, TokenError> {
        let ring = Arc::new(Keyring::load(conn, now, self.publish_retired_for)?);
        *self.ring.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&ring));
        self.loaded_at.store(now, Ordering::Release);
        Ok(ring)
    }
}
