//! The signing keys held in memory by one instance.
//!
//! Keys live in the database so every instance signs with the same ones. Each instance keeps a
//! [`Keyring`] for `PORTCULLIS_KEYS_REFRESH` seconds, then reloads it; a token whose `kid` is
//! unknown triggers an early reload (at most once a second), so a key made by another instance
//! verifies here at once. What this costs in correctness: after `portcullis keys rotate`, an
//! instance may go on signing with the previous key for up to the refresh interval; those tokens
//! stay valid because a retired key stays published until its tokens have expired. A key of
//! the scheduled rotation is published ahead of use and signs from its `signs_from` on: each
//! instance takes it up at its first reload after that time, so within the refresh interval.
//!
//! Which key signs is decided when the ring is loaded; the scheduled rotation's step runs here
//! too ([`spawn_rotation`]): at start, then every few minutes, on every instance.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use primitives::seal::KeyRing;
use store::Conn;
use tokens::{AccessClaims, Keyring, TokenError, VerifyError};

use crate::config::Settings;
use crate::state::AppState;

#[derive(Debug)]
pub struct KeyCache {
    ring: RwLock<Option<Arc<Keyring>>>,
    loaded_at: AtomicI64,
    refresh: i64,
    /// How long retired keys stay published ([`Settings::publish_retired_for`]).
    publish_retired_for: i64,
    /// The master key the private keys are sealed under (`PORTCULLIS_ENCRYPTION_KEYS`).
    seal: Option<Arc<KeyRing>>,
}

impl KeyCache {
    pub fn new(settings: &Settings) -> Self {
        Self {
            ring: RwLock::new(None),
            loaded_at: AtomicI64::new(i64::MIN),
            refresh: settings.keys_refresh,
            publish_retired_for: settings.publish_retired_for(),
            seal: settings.encryption_keys.clone(),
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
        let ring = Arc::new(Keyring::load(
            conn,
            now,
            self.publish_retired_for,
            self.seal.as_deref(),
        )?);
        *self.ring.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&ring));
        self.loaded_at.store(now, Ordering::Release);
        Ok(ring)
    }
}

/// Makes the signing keys ready before serving: clear keys are sealed under the master key
/// (or, without one, a warning says they stay in the clear), every key in use must open
/// (else an error naming the key: a wrong master key, or a copy of the database without it),
/// a key is made for each algorithm that has none, and the scheduled rotation takes a step.
pub fn prepare(state: &AppState) -> Result<(), TokenError> {
    let settings = &state.settings;
    let seal = settings.encryption_keys.as_deref();
    let mut conn = state.store.conn()?;
    let now = state.now();
    match seal {
        Some(ring) => {
            let sealed = tokens::seal_stored_keys(&mut conn, ring)?;
            if !sealed.is_empty() {
                tracing::info!(
                    kids = %sealed.join(" "),
                    "signing keys stored in the clear are now sealed under the master key"
                );
            }
        }
        None => tracing::warn!(
            "no encryption keys (PORTCULLIS_ENCRYPTION_KEYS): signing keys are stored in the \
             clear, and a copy of the database can sign tokens"
        ),
    }
    Keyring::load_all(&mut conn, now, settings.publish_retired_for(), seal)?;
    tokens::ensure_keys(&mut conn, &tokens::SigningAlg::ALL, now, seal)?;
    rotation_step(&mut conn, settings, &state.keys, now)?;
    Ok(())
}

/// One step of the scheduled rotation ([`tokens::rotate_if_due`]); a change reloads this
/// instance's keys and is announced to the others.
fn rotation_step(
    conn: &mut Conn,
    settings: &Settings,
    keys: &KeyCache,
    now: i64,
) -> Result<tokens::RotationStep, TokenError> {
    let step = tokens::rotate_if_due(
        conn,
        now,
        settings.key_rotation(),
        settings.encryption_keys.as_deref(),
    )?;
    if step.changed() {
        keys.invalidate();
        crate::invalidate::publish(conn, crate::invalidate::Change::SigningKeys);
    }
    Ok(step)
}

/// Starts this instance's rotation thread: a [`rotation_step`] every
/// [`AppState::key_rotation_check`]. It ends once the state it serves is gone.
pub fn spawn_rotation(state: &AppState) {
    let keys = Arc::downgrade(&state.keys);
    let store = state.store.clone();
    let settings = Arc::clone(&state.settings);
    let clock = Arc::clone(&state.clock);
    let every = state.key_rotation_check;
    let spawned = std::thread::Builder::new()
        .name("portcullis-key-rotation".into())
        .spawn(move || {
            loop {
                // In steps of at most a second, so the thread ends soon after the server.
                let mut waited = std::time::Duration::ZERO;
                while waited < every {
                    let nap = (every - waited).min(std::time::Duration::from_secs(1));
                    std::thread::sleep(nap);
                    waited += nap;
                    if keys.strong_count() == 0 {
                        return;
                    }
                }
                let Some(keys) = keys.upgrade() else { return };
                let stepped = store
                    .conn()
                    .map_err(TokenError::from)
                    .and_then(|mut conn| rotation_step(&mut conn, &settings, &keys, clock.now()));
                if let Err(e) = stepped {
                    tracing::error!(error = %e, "the scheduled key rotation step failed");
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "no key rotation thread: keys rotate only by hand");
    }
}
