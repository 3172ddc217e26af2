//! Revocation across instances. A change that makes something cached wrong (an API key
//! revoked, rotated or changed; an agent changed or deleted; a client changed or deleted;
//! signing keys rotated) is [`announce`]d where it is made: this instance evicts its own cache
//! entry at once, and on PostgreSQL every instance hears `kind:id` on
//! [`store::notify::CHANNEL`] and evicts its entry too, within the listener's poll step (tens
//! of milliseconds), far inside the caches' own times. Those times
//! (`PORTCULLIS_API_KEY_CACHE`, `PORTCULLIS_CLIENT_CACHE`, `PORTCULLIS_KEYS_REFRESH`) remain the
//! bound when a notice is lost; after the listener reconnects (notices sent while it was away
//! are lost) it drops everything it cached. Browser sessions are not cached: every request
//! reads its session row, so an ended session is refused everywhere at once.

use std::sync::{Arc, Weak};
use std::time::Duration;

use store::Conn;
use store::notify::{Listener, Notice};

use crate::clientcache::ClientCache;
use crate::keycache::KeyCache;
use crate::principal::ApiKeyCache;
use crate::state::AppState;

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    /// An API key, by its id (revoked, rotated, its scopes or expiry changed).
    ApiKey(&'a str),
    /// An agent, by id (changed or deleted).
    Agent(&'a str),
    /// A registered client, by id (changed or deleted).
    Client(&'a str),
    /// The signing keys (a key made or retired).
    SigningKeys,
}

impl<'a> Change<'a> {
    fn kind_and_id(self) -> (&'static str, &'a str) {
        match self {
            Self::ApiKey(id) => ("api_key", id),
            Self::Agent(id) => ("agent", id),
            Self::Client(id) => ("client", id),
            Self::SigningKeys => ("signing_keys", ""),
        }
    }

    fn parse(kind: &str, id: &'a str) -> Option<Self> {
        Some(match kind {
            "api_key" => Self::ApiKey(id),
            "agent" => Self::Agent(id),
            "client" => Self::Client(id),
            "signing_keys" => Self::SigningKeys,
            _ => return None,
        })
    }
}

/// The caches a change can make wrong.
#[derive(Debug, Clone, Copy)]
struct Caches<'a> {
    api_keys: &'a ApiKeyCache,
    clients: &'a ClientCache,
    keys: &'a KeyCache,
}

impl Caches<'_> {
    fn evict(self, change: Change<'_>) {
        match change {
            Change::ApiKey(id) => self.api_keys.forget_key(id),
            Change::Agent(id) => self.api_keys.forget_agent(id),
            Change::Client(id) => self.clients.forget(id),
            Change::SigningKeys => self.keys.invalidate(),
        }
    }

    fn evict_all(self) {
        self.api_keys.clear();
        self.clients.clear();
        self.keys.invalidate();
    }
}

/// Evicts the change from this instance's caches and tells the other instances. Call it after
/// the change is written, in the same connection (inside a transaction, the others hear it at
/// commit). A notice that cannot be sent is logged: the others then see the change within
/// their cache time.
pub fn announce(state: &AppState, conn: &mut Conn, change: Change<'_>) {
    Caches {
        api_keys: &state.api_keys,
        clients: &state.clients,
        keys: &state.keys,
    }
    .evict(change);
    publish(conn, change);
}

/// Tells the instances without a state of ours (the command line, another process).
pub fn publish(conn: &mut Conn, change: Change<'_>) {
    let (kind, id) = change.kind_and_id();
    if let Err(e) = store::notify::publish(conn, kind, id) {
        tracing::warn!(
            kind,
            error = %e,
            "could not notify the other instances; they see the change within their cache time"
        );
    }
}

/// Starts this instance's listener thread (PostgreSQL only). It ends once the state it serves
/// is gone (the server stopped and dropped it).
pub fn spawn_listener(state: &AppState) {
    let Some(listener) = Listener::new(&state.settings.database_url) else {
        return;
    };
    let api_keys = Arc::downgrade(&state.api_keys);
    let clients = Arc::downgrade(&state.clients);
    let keys = Arc::downgrade(&state.keys);
    let spawned = std::thread::Builder::new()
        .name("portcullis-invalidate".into())
        .spawn(move || listen(listener, &api_keys, &clients, &keys));
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no invalidation listener: caches expire by time only");
    }
}

fn listen(
    mut listener: Listener,
    api_keys: &Weak<ApiKeyCache>,
    clients: &Weak<ClientCache>,
    keys: &Weak<KeyCache>,
) {
    let mut was_failing = false;
    loop {
        let polled = listener.poll(Duration::from_millis(200));
        let (Some(api_keys), Some(clients), Some(keys)) =
            (api_keys.upgrade(), clients.upgrade(), keys.upgrade())
        else {
            return;
        };
        let caches = Caches {
            api_keys: &api_keys,
            clients: &clients,
            keys: &keys,
        };
        match polled {
            Ok(notices) => {
                for notice in notices {
                    match notice {
                        Notice::Reconnected => {
                            caches.evict_all();
                            if was_failing {
                                tracing::info!("invalidation listener reconnected");
                            }
                            was_failing = false;
                        }
                        Notice::Changed { kind, id } => match Change::parse(&kind, &id) {
                            Some(change) => caches.evict(change),
                            None => tracing::debug!(kind, "unknown invalidation notice"),
                        },
                    }
                }
            }
            Err(e) => {
                if !was_failing {
                    tracing::warn!(
                        error = %e,
                        "invalidation listener disconnected; retrying with back-off, caches \
                         expire by time meanwhile"
                    );
                }
                was_failing = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_survive_the_round_trip_through_a_payload() {
        for change in [
            Change::ApiKey("k_1"),
            Change::Agent("agt_2"),
            Change::Client("c:3"),
            Change::SigningKeys,
        ] {
            let (kind, id) = change.kind_and_id();
            assert_eq!(Change::parse(kind, id), Some(change));
        }
        assert_eq!(Change::parse("session", "s"), None);
    }
}
