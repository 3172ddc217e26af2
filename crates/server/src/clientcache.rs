//! Registered clients kept in memory for a short time, so the token, introspection and
//! revocation endpoints authenticate a client without reading its row on every request.
//!
//! What it holds: the client as registered (metadata and secret hash), never a secret.
//! How long: `PORTCULLIS_CLIENT_CACHE` seconds (default 10, 0 turns it off). How it is
//! invalidated: a change or deletion through this instance evicts the client at once; on
//! PostgreSQL the other instances hear of it at once too (`invalidate.rs`); the cache time
//! bounds a change whose notice was lost.
//! Unknown client ids are never cached, so a new registration works everywhere at once.
//!
//! Clients whose id is a URL (Client ID Metadata Documents) are not in the database at all:
//! the handlers fetch their document first (`crate::cimd::load`, async, before any blocking
//! work), into [`DocumentCache`]; every look-up here then answers a URL id from that cache
//! alone, so each endpoint gets such a client as the same [`Client`] type, or none.

use std::sync::Arc;

use primitives::seal::KeyRing;
use registration::{
    AssertionContext, AssertionRules, AuthError, Client, Presented, VerifiedClient,
};
use store::Conn;

use crate::cimd::DocumentCache;
use crate::clientkeys::JwksCache;
use crate::ttlmap::TtlMap;

#[derive(Debug)]
pub struct ClientCache {
    clients: TtlMap<Client>,
    /// Clients described by their metadata documents, for as long as their caching allows.
    pub(crate) documents: DocumentCache,
    /// The keys fetched from clients' `jwks_uri` (`crate::clientkeys`).
    pub(crate) jwks: JwksCache,
    /// The `aud` values a client assertion may name: the issuer and the token endpoint.
    audiences: Vec<String>,
    /// The server's encryption keys, which open `client_secret_jwt` secrets.
    ring: Option<Arc<KeyRing>>,
}

impl ClientCache {
    pub fn new(ttl: i64) -> Self {
        Self {
            clients: TtlMap::counted(ttl, crate::metrics::business::Cache::Client),
            documents: DocumentCache::default(),
            jwks: JwksCache::default(),
            audiences: Vec::new(),
            ring: None,
        }
    }

    /// What client assertions are checked with: the issuer (the token endpoint's URL is the
    /// issuer's `/oauth2/token`) and the encryption keys.
    pub fn with_assertions(mut self, issuer: &str, ring: Option<Arc<KeyRing>>) -> Self {
        self.audiences = vec![issuer.to_owned(), format!("{issuer}/oauth2/token")];
        self.ring = ring;
        self
    }

    /// The client, when it was read within the cache time.
    pub fn get(&self, id: &str, now: i64) -> Option<Client> {
        if registration::is_url_client_id(id) {
            return self.documents.get(id, now);
        }
        self.clients.get(id, now)
    }

    /// The client if cached, without counting a cache look-up (for the metrics themselves).
    pub fn peek(&self, id: &str, now: i64) -> Option<Client> {
        if registration::is_url_client_id(id) {
            return self.documents.get(id, now);
        }
        self.clients.peek(id, now)
    }

    /// The client as it is now: a URL id from its fetched document, any other from the
    /// database (never the cache: the authorization endpoint shows a change at once).
    pub fn find_fresh(
        &self,
        conn: &mut Conn,
        id: &str,
        now: i64,
    ) -> Result<Option<Client>, AuthError> {
        if registration::is_url_client_id(id) {
            return Ok(self.documents.get(id, now));
        }
        Ok(registration::find_client(conn, id)?)
    }

    /// Drops a client changed or deleted on this instance.
    pub fn forget(&self, id: &str) {
        self.clients.forget(id);
    }

    /// Drops every client (invalidation notices may have been lost).
    pub fn clear(&self) {
        self.clients.clear();
    }

    /// The client of that id, from the cache or else the database (then cached).
    pub fn find(&self, conn: &mut Conn, id: &str, now: i64) -> Result<Option<Client>, AuthError> {
        if let Some(client) = self.get(id, now) {
            return Ok(Some(client));
        }
        if registration::is_url_client_id(id) {
            return Ok(None);
        }
        let found = registration::find_client(conn, id)?;
        if let Some(client) = &found {
            self.clients.put(client.id.clone(), client.clone(), now);
        }
        Ok(found)
    }

    /// Client authentication through the cache. A client assertion is checked with the keys
    /// the handler fetched before (`crate::clientkeys::load`) when the client has a `jwks_uri`.
    pub fn authenticate(
        &self,
        conn: &mut Conn,
        presented: &Presented,
        now: i64,
    ) -> Result<VerifiedClient, AuthError> {
        let client = self.find(conn, presented.client_id(), now)?;
        let fetched = client
            .as_ref()
            .and_then(|c| c.metadata.jwks_uri.as_deref())
            .and_then(|uri| self.jwks.get(uri, now));
        let ctx = AssertionContext {
            rules: AssertionRules {
                audiences: &self.audiences,
                now,
            },
            fetched: fetched.as_deref(),
            ring: self.ring.as_deref(),
        };
        registration::check_presented(conn, client, presented, &ctx)
    }
}
