//! Registered clients kept in memory for a short time, so the token, introspection and
//! revocation endpoints authenticate a client without reading its row on every request.
//!
//! What it holds: the client as registered (metadata and secret hash), never a secret.
//! How long: `PORTCULLIS_CLIENT_CACHE` seconds (default 10, 0 turns it off). How it is
//! invalidated: a change or deletion through this instance evicts the client at once; another
//! instance (or the command line, which is another process) is seen within the cache time.
//! Unknown client ids are never cached, so a new registration works everywhere at once.

use std::collections::HashMap;
use std::sync::RwLock;

use registration::{AuthError, Client, Presented, VerifiedClient};
use store::Conn;

#[derive(Debug)]
pub struct ClientCache {
    entries: RwLock<HashMap<String, (Client, i64)>>,
    ttl: i64,
}

impl ClientCache {
    pub fn new(ttl: i64) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            ttl,
        }
    }

    /// The client, when it was read within the cache time.
    pub fn get(&self, id: &str, now: i64) -> Option<Client> {
        let map = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let (client, at) = map.get(id)?;
        (now - at < self.ttl).then(|| client.clone())
    }

    fn put(&self, client: Client, now: i64) {
        if self.ttl == 0 {
            return;
        }
        let mut map = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            let ttl = self.ttl;
            map.retain(|_, (_, at)| now - *at < ttl);
        }
        map.insert(client.id.clone(), (client, now));
    }

    /// Drops a client changed or deleted on this instance.
    pub fn forget(&self, id: &str) {
        let mut map = self.entries.write().unwrap_or_else(|e| e.into_inner());
        map.remove(id);
    }

    /// The client of that id, from the cache or else the database (then cached).
    pub fn find(&self, conn: &mut Conn, id: &str, now: i64) -> Result<Option<Client>, AuthError> {
        // No client id holds a NUL (and PostgreSQL refuses to compare one): unknown.
        if id.contains('\0') {
            return Ok(None);
        }
        if let Some(client) = self.get(id, now) {
            return Ok(Some(client));
        }
        let found = registration::find_client(conn, id)?;
        if let Some(client) = &found {
            self.put(client.clone(), now);
        }
        Ok(found)
    }

    /// Client authentication through the cache.
    pub fn authenticate(
        &self,
        conn: &mut Conn,
        presented: &Presented,
        now: i64,
    ) -> Result<VerifiedClient, AuthError> {
        let client = self.find(conn, presented.client_id(), now)?;
        registration::check_credentials(client, presented)
    }
}
