//! Registered clients: creation, reading, replacement, deletion, and registration tokens.

use primitives::{PlainSecret, SecretHash, random_id};
use store::Conn;
use store::clients::{self as rows, ClientRow};

use crate::metadata::{AuthMethod, ClientMetadata};

/// A registered client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    pub metadata: ClientMetadata,
    pub(crate) secret_hash: Option<SecretHash>,
    pub(crate) registration_token_hash: Option<SecretHash>,
    pub created_at: i64,
    pub updated_at: i64,
    /// A client of the operator's own: its users are not asked for consent. Set on the
    /// command line only, never through dynamic registration.
    pub first_party: bool,
    /// Described by its Client ID Metadata Document (its id is the document's URL), never
    /// stored: see [`crate::client_from_document`].
    pub(crate) self_described: bool,
}

impl Client {
    pub fn is_confidential(&self) -> bool {
        self.metadata.token_endpoint_auth_method.is_confidential()
    }

    /// A client that exists only in memory (never stored), without a secret or a registration
    /// token: for fuzz targets and property tests that check requests against a client without
    /// a database.
    #[doc(hidden)]
    pub fn in_memory(id: impl Into<String>, metadata: ClientMetadata, now: i64) -> Self {
        Self {
            id: id.into(),
            metadata,
            secret_hash: None,
            registration_token_hash: None,
            created_at: now,
            updated_at: now,
            first_party: false,
            self_described: false,
        }
    }

    /// The client a metadata document describes (checked by [`crate::client_from_document`]):
    /// public, never stored, its id the document's URL.
    pub(crate) fn from_document(url: &str, metadata: ClientMetadata, now: i64) -> Self {
        Self {
            self_described: true,
            ..Self::in_memory(url, metadata, now)
        }
    }

    /// Whether the client described itself in a Client ID Metadata Document (its id is the
    /// document's URL) rather than being registered here.
    pub fn is_self_described(&self) -> bool {
        self.self_described
    }

    /// Whether the client registered itself, through `/oauth2/register` (RFC 7591) or by its
    /// metadata document: anyone may do that, so its redirect URIs are not vouched for by the
    /// operator (RFC 9700 §4.11.2). Clients registered over RFC 7591 hold a registration access
    /// token; clients made on the command line never do.
    pub fn is_dynamically_registered(&self) -> bool {
        self.registration_token_hash.is_some() || self.self_described
    }

    /// Whether RFC 7592 management is possible (clients made on the command line have no
    /// registration access token).
    pub fn is_manageable(&self) -> bool {
        self.registration_token_hash.is_some()
    }

    fn from_row(row: ClientRow) -> Result<Self, ClientError> {
        let metadata = serde_json::from_str(&row.metadata).map_err(|e| ClientError::Corrupt {
            id: row.id.clone(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            id: row.id,
            metadata,
            secret_hash: row.secret_hash.map(SecretHash::from_stored),
            registration_token_hash: row.registration_token_hash.map(SecretHash::from_stored),
            created_at: row.created_at,
            updated_at: row.updated_at,
            first_party: row.first_party,
            self_described: false,
        })
    }

    fn to_row(&self) -> Result<ClientRow, ClientError> {
        Ok(ClientRow {
            id: self.id.clone(),
            secret_hash: self.secret_hash.as_ref().map(|h| h.as_str().to_owned()),
            registration_token_hash: self
                .registration_token_hash
                .as_ref()
                .map(|h| h.as_str().to_owned()),
            auth_method: self.metadata.token_endpoint_auth_method.as_str().to_owned(),
            metadata: serde_json::to_string(&self.metadata).map_err(|e| ClientError::Corrupt {
                id: self.id.clone(),
                reason: e.to_string(),
            })?,
            created_at: self.created_at,
            updated_at: self.updated_at,
            first_party: self.first_party,
        })
    }
}

/// A client just registered, with the secrets shown this once.
#[derive(Debug)]
pub struct Registered {
    pub client: Client,
    /// Present for confidential clients.
    pub secret: Option<PlainSecret>,
    /// Present when registered over RFC 7591 (not on the command line).
    pub registration_token: Option<PlainSecret>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("stored client {id} is unreadable: {reason}")]
    Corrupt { id: String, reason: String },
}

/// Registers a client: a fresh id, a secret for confidential clients, and (when
/// `manageable`) a registration access token for RFC 7592.
pub fn register_client(
    conn: &mut Conn,
    metadata: ClientMetadata,
    manageable: bool,
    now: i64,
) -> Result<Registered, ClientError> {
    register_client_with(conn, metadata, manageable, false, now)
}

/// [`register_client`], choosing whether the client is first-party (operators only).
pub fn register_client_with(
    conn: &mut Conn,
    metadata: ClientMetadata,
    manageable: bool,
    first_party: bool,
    now: i64,
) -> Result<Registered, ClientError> {
    let secret = metadata
        .token_endpoint_auth_method
        .has_secret()
        .then(PlainSecret::generate);
    let registration_token = manageable.then(PlainSecret::generate);
    let client = Client {
        id: random_id(),
        metadata,
        secret_hash: secret.as_ref().map(PlainSecret::hash),
        registration_token_hash: registration_token.as_ref().map(PlainSecret::hash),
        created_at: now,
        updated_at: now,
        first_party,
        self_described: false,
    };
    rows::insert(conn, &client.to_row()?)?;
    Ok(Registered {
        client,
        secret,
        registration_token,
    })
}

/// The client of that id. An id holding a NUL character names no client (ids are base64url;
/// PostgreSQL refuses to compare a NUL at all).
pub fn find_client(conn: &mut Conn, id: &str) -> Result<Option<Client>, ClientError> {
    if id.contains('\0') {
        return Ok(None);
    }
    rows::find_by_id(conn, id)?
        .map(Client::from_row)
        .transpose()
}

pub fn list_clients(conn: &mut Conn) -> Result<Vec<Client>, ClientError> {
    rows::list(conn)?
        .into_iter()
        .map(Client::from_row)
        .collect()
}

/// One page of clients ordered by id: the client whose id is `query`, or those whose metadata
/// (name, URIs) contains it; after the id `after`; at most `limit` (1 to 200).
pub fn search_clients(
    conn: &mut Conn,
    query: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Client>, ClientError> {
    if query.is_some_and(|q| q.contains('\0')) || after.is_some_and(|a| a.contains('\0')) {
        return Ok(Vec::new());
    }
    rows::search(conn, query, after, limit.clamp(1, 200))?
        .into_iter()
        .map(Client::from_row)
        .collect()
}

/// A new secret for a client that has one (the old one stops working at once), shown this
/// once; `None` for a public or `private_key_jwt` client, which has none. The secret of a
/// `client_secret_jwt` client must then be sealed again ([`crate::seal_client_secret`]).
pub fn rotate_client_secret(
    conn: &mut Conn,
    client: &mut Client,
    now: i64,
) -> Result<Option<PlainSecret>, ClientError> {
    if !client.metadata.token_endpoint_auth_method.has_secret() {
        return Ok(None);
    }
    let secret = PlainSecret::generate();
    client.secret_hash = Some(secret.hash());
    client.updated_at = now;
    rows::update(conn, &client.to_row()?)?;
    Ok(Some(secret))
}

pub fn delete_client(conn: &mut Conn, id: &str) -> Result<bool, ClientError> {
    Ok(rows::delete(conn, id)?)
}

/// The client whose registration access token this is, if `presented` is the token of
/// `client_id` (RFC 7592 §3). Unknown client and wrong token give the same `None`.
pub fn verify_registration_token(
    conn: &mut Conn,
    client_id: &str,
    presented: &str,
) -> Result<Option<Client>, ClientError> {
    let Some(client) = find_client(conn, client_id)? else {
        // Hash anyway, so an unknown id costs what a wrong token costs.
        let _ = SecretHash::of(presented);
        return Ok(None);
    };
    let ok = client
        .registration_token_hash
        .as_ref()
        .is_some_and(|h| h.matches(presented));
    Ok(ok.then_some(client))
}

/// Replaces a client's metadata (RFC 7592 §2.2). A client that comes to need a secret gets a
/// new one (returned, shown once); one that becomes public or `private_key_jwt` loses its
/// secret.
pub fn update_client(
    conn: &mut Conn,
    mut client: Client,
    metadata: ClientMetadata,
    now: i64,
) -> Result<(Client, Option<PlainSecret>), ClientError> {
    let had_secret = client.secret_hash.is_some();
    // A client turning to client_secret_jwt gets a new secret, which can be sealed (the old
    // one exists only as a hash).
    let newly_jwt = metadata.token_endpoint_auth_method == AuthMethod::ClientSecretJwt
        && client.metadata.token_endpoint_auth_method != AuthMethod::ClientSecretJwt;
    let new_secret = match (
        had_secret && !newly_jwt,
        metadata.token_endpoint_auth_method,
    ) {
        (_, m) if !m.has_secret() => {
            client.secret_hash = None;
            None
        }
        (false, _) => {
            let secret = PlainSecret::generate();
            client.secret_hash = Some(secret.hash());
            Some(secret)
        }
        (true, _) => None,
    };
    // Server-set, never from an update: an agent's client stays bound to its agent (else its
    // tokens would silently become plain client tokens).
    let agent_id = client.metadata.agent_id.take();
    client.metadata = metadata;
    client.metadata.agent_id = agent_id;
    client.updated_at = now;
    rows::update(conn, &client.to_row()?)?;
    Ok((client, new_secret))
}

/// A new initial access token for registration under the `token` policy.
pub fn create_initial_access_token(
    conn: &mut Conn,
    now: i64,
    ttl: i64,
    uses: i64,
) -> Result<PlainSecret, ClientError> {
    let token = PlainSecret::generate();
    rows::insert_initial_access_token(conn, token.hash().as_str(), now, now + ttl, uses)?;
    Ok(token)
}

/// Spends one use of an initial access token; false when unknown, expired or used up.
pub fn consume_initial_access_token(
    conn: &mut Conn,
    presented: &str,
    now: i64,
) -> Result<bool, ClientError> {
    Ok(rows::consume_initial_access_token(
        conn,
        SecretHash::of(presented).as_str(),
        now,
    )?)
}

/// Replaces a client's registration access token with a new one (RFC 7592 §3 lets the server
/// rotate it on each management call; we must, to return one, since only its hash is kept).
pub fn rotate_registration_token(
    conn: &mut Conn,
    client: &mut Client,
    now: i64,
) -> Result<PlainSecret, ClientError> {
    let token = PlainSecret::generate();
    client.registration_token_hash = Some(token.hash());
    client.updated_at = now;
    rows::update(conn, &client.to_row()?)?;
    Ok(token)
}
