//! The registration endpoints' decisions: who may register (RFC 7591 §3, the initial access
//! token), what a management call may do (RFC 7592 §2: read, replace, delete with the
//! registration access token), and the client information response (RFC 7591 §3.2.1, RFC 7592
//! §3). The server reads the request, calls these and maps the answer; it decides nothing here.
//!
//! Each call is a step from what the request presented to a typed outcome:
//! - [`admit`] (no database) checks the registration mode and the initial access token's
//!   presence, and yields [`Admitted`], which [`register`] needs and which spends that token.
//! - [`Update::parse`] (no database) reads an RFC 7592 update body: its metadata and what it
//!   may not carry; [`replace`] checks it against the client it names.
//! - [`read`], [`replace`] and [`delete`] find the client by its registration access token
//!   (unknown client and wrong token are the same [`RegistrationError::NotManaged`]); `read`
//!   and `replace` rotate that token, since only its hash is kept and the response must carry
//!   one.

use primitives::PlainSecret;
use serde_json::{Map, Value};
use store::Conn;

use crate::client::{
    Client, ClientError, consume_initial_access_token, delete_client, register_client,
    rotate_registration_token, update_client, verify_registration_token,
};
use crate::metadata::{ClientMetadata, MetadataError, Policy, parse_metadata};

/// Who may register clients over RFC 7591 (the server's `PORTCULLIS_REGISTRATION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationMode {
    /// Anyone.
    Open,
    /// Callers presenting an initial access token.
    Token,
    /// Nobody (operators use `portcullis client create`).
    Closed,
}

/// Why a registration or management call is refused.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// The mode is [`RegistrationMode::Closed`].
    #[error("dynamic client registration is closed on this server")]
    Closed,
    /// The mode is [`RegistrationMode::Token`] and the request carried no bearer token.
    #[error("an initial access token is required")]
    InitialTokenRequired,
    /// The initial access token is unknown, expired or used up.
    #[error("the initial access token is not valid")]
    InitialTokenInvalid,
    /// A management request without a bearer token.
    #[error("a registration access token is required")]
    RegistrationTokenRequired,
    /// Unknown client or wrong registration access token: one answer for both (RFC 7592 §2.1).
    #[error("the registration access token is not valid for this client")]
    NotManaged,
    /// The metadata (or the body) is not acceptable (RFC 7591 §3.2.2).
    #[error("{}", .0.description)]
    Metadata(#[from] MetadataError),
    /// An update must carry the client's own `client_id` (RFC 7592 §2.2).
    #[error("the body must carry this client's client_id")]
    ClientIdMismatch,
    /// An update carried a field only the server sets (RFC 7592 §2.2).
    #[error("{0} is set by the server and may not be sent")]
    ServerField(&'static str),
    /// An update carried a `client_secret` other than the client's current one.
    #[error("client_secret does not match the current secret")]
    SecretMismatch,
    /// Our failure reading or writing the client.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Proof that a registration request passed the mode check: only [`admit`] makes one, and
/// [`register`] takes it. Holds the initial access token still to spend, if the mode asks
/// for one.
pub struct Admitted {
    initial_token: Option<String>,
}

impl std::fmt::Debug for Admitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let token = self.initial_token.as_ref().map(|_| "<token>");
        f.debug_struct("Admitted")
            .field("initial_token", &token)
            .finish()
    }
}

/// May this request register a client? `bearer` is the request's bearer token, if any. Checked
/// before anything else (the rate limit, the body); the token itself is spent by [`register`].
pub fn admit(mode: RegistrationMode, bearer: Option<&str>) -> Result<Admitted, RegistrationError> {
    let initial_token = match mode {
        RegistrationMode::Closed => return Err(RegistrationError::Closed),
        RegistrationMode::Token => Some(
            bearer
                .ok_or(RegistrationError::InitialTokenRequired)?
                .to_owned(),
        ),
        RegistrationMode::Open => None,
    };
    Ok(Admitted { initial_token })
}

/// Registers a client over RFC 7591: spends one use of the initial access token (if the mode
/// asked for one), then stores the client with a registration access token for RFC 7592.
pub fn register(
    conn: &mut Conn,
    admitted: Admitted,
    metadata: ClientMetadata,
    now: i64,
) -> Result<ClientInformation, RegistrationError> {
    if let Some(token) = &admitted.initial_token
        && !consume_initial_access_token(conn, token, now)?
    {
        return Err(RegistrationError::InitialTokenInvalid);
    }
    let registered = register_client(conn, metadata, true, now)?;
    let registration_token = registered.registration_token.ok_or_else(|| {
        // `register_client` with `manageable` always makes one.
        ClientError::Corrupt {
            id: registered.client.id.clone(),
            reason: "registration token missing".into(),
        }
    })?;
    Ok(ClientInformation {
        client: registered.client,
        secret: registered.secret,
        registration_token,
    })
}

/// The client a management request names, if `bearer` is its registration access token.
fn managed(
    conn: &mut Conn,
    client_id: &str,
    bearer: Option<&str>,
) -> Result<Client, RegistrationError> {
    let token = bearer.ok_or(RegistrationError::RegistrationTokenRequired)?;
    verify_registration_token(conn, client_id, token)?.ok_or(RegistrationError::NotManaged)
}

/// RFC 7592 §2.1: the client's information, with a new registration access token.
pub fn read(
    conn: &mut Conn,
    client_id: &str,
    bearer: Option<&str>,
    now: i64,
) -> Result<ClientInformation, RegistrationError> {
    let mut client = managed(conn, client_id, bearer)?;
    let registration_token = rotate_registration_token(conn, &mut client, now)?;
    Ok(ClientInformation {
        client,
        secret: None,
        registration_token,
    })
}

/// Fields a client may not send in an update (RFC 7592 §2.2).
const SERVER_FIELDS: [&str; 4] = [
    "registration_access_token",
    "registration_client_uri",
    "client_secret_expires_at",
    "client_id_issued_at",
];

/// An RFC 7592 update body, read without the database: the new metadata and what the body
/// says about the client it replaces.
pub struct Update {
    metadata: ClientMetadata,
    /// `client_id` as sent (a string), which must be the client's.
    client_id: Option<String>,
    /// `client_secret` as sent (a string), which must be the client's current one.
    client_secret: Option<String>,
    /// The first field of [`SERVER_FIELDS`] the body carries.
    server_field: Option<&'static str>,
}

impl std::fmt::Debug for Update {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = self.client_secret.as_ref().map(|_| "<secret>");
        f.debug_struct("Update")
            .field("metadata", &self.metadata)
            .field("client_id", &self.client_id)
            .field("client_secret", &secret)
            .field("server_field", &self.server_field)
            .finish()
    }
}

impl Update {
    /// The metadata the update asks for.
    pub fn metadata(&self) -> &ClientMetadata {
        &self.metadata
    }

    /// Reads an update body: the metadata as a registration would (a body that is not a JSON
    /// object is refused as such), and the fields checked against the client by [`replace`].
    pub fn parse(body: &Value, policy: &Policy) -> Result<Self, RegistrationError> {
        let metadata = parse_metadata(body, policy)?;
        let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
        Ok(Self {
            metadata,
            client_id: text("client_id"),
            client_secret: text("client_secret"),
            server_field: SERVER_FIELDS
                .iter()
                .find(|f| body.get(**f).is_some())
                .copied(),
        })
    }
}

/// RFC 7592 §2.2: replaces the client's metadata. The body must name the client, may not
/// carry a field only the server sets, and may carry `client_secret` only as the current
/// secret. A client that becomes confidential gets a new secret (in the answer, shown once);
/// the registration access token is rotated.
pub fn replace(
    conn: &mut Conn,
    client_id: &str,
    bearer: Option<&str>,
    update: Update,
    now: i64,
) -> Result<ClientInformation, RegistrationError> {
    let client = managed(conn, client_id, bearer)?;
    if update.client_id.as_deref() != Some(client.id.as_str()) {
        return Err(RegistrationError::ClientIdMismatch);
    }
    if let Some(field) = update.server_field {
        return Err(RegistrationError::ServerField(field));
    }
    if let Some(secret) = &update.client_secret {
        // The secret the client authenticates with, whichever method it registered; a public
        // client has none to send.
        let matches = client.is_confidential()
            && client
                .secret_hash
                .as_ref()
                .is_some_and(|hash| hash.matches(secret));
        if !matches {
            return Err(RegistrationError::SecretMismatch);
        }
    }
    // The new metadata and the new registration token commit together: if the token cannot be
    // rotated, the metadata stays as it was and the client retries with the token it holds.
    store::transaction(conn, |conn| {
        let (mut client, secret) = update_client(conn, client, update.metadata, now)?;
        let registration_token = rotate_registration_token(conn, &mut client, now)?;
        Ok(ClientInformation {
            client,
            secret,
            registration_token,
        })
    })
}

/// RFC 7592 §2.3: deletes the client; returns it as it was.
pub fn delete(
    conn: &mut Conn,
    client_id: &str,
    bearer: Option<&str>,
) -> Result<Client, RegistrationError> {
    let client = managed(conn, client_id, bearer)?;
    delete_client(conn, &client.id)?;
    Ok(client)
}

/// What a registration or management call answers: the client, its secret when one was just
/// made, and its new registration access token. The secrets exist in plaintext only here.
#[derive(Debug)]
pub struct ClientInformation {
    client: Client,
    secret: Option<PlainSecret>,
    registration_token: PlainSecret,
}

impl ClientInformation {
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Whether this answer carries a new client secret.
    pub fn has_new_secret(&self) -> bool {
        self.secret.is_some()
    }

    /// The client secret just made, if any (to seal it for `client_secret_jwt`).
    pub fn new_secret(&self) -> Option<&PlainSecret> {
        self.secret.as_ref()
    }

    /// The client information response (RFC 7591 §3.2.1, RFC 7592 §3): every metadata value,
    /// `client_id` and when it was issued, the secret when one was just made (and, for a
    /// confidential client, that it never expires), the registration access token and the
    /// client's management URI under `issuer`.
    pub fn to_json(&self, issuer: &str) -> Value {
        let client = &self.client;
        let mut out = match serde_json::to_value(&client.metadata) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        out.insert("client_id".into(), Value::String(client.id.clone()));
        out.insert("client_id_issued_at".into(), Value::from(client.created_at));
        if let Some(secret) = &self.secret {
            out.insert(
                "client_secret".into(),
                Value::String(secret.expose().to_owned()),
            );
        }
        if client.metadata.token_endpoint_auth_method.has_secret() {
            out.insert("client_secret_expires_at".into(), Value::from(0));
        }
        out.insert(
            "registration_access_token".into(),
            Value::String(self.registration_token.expose().to_owned()),
        );
        out.insert(
            "registration_client_uri".into(),
            Value::String(format!("{issuer}/oauth2/register/{}", client.id)),
        );
        Value::Object(out)
    }
}

impl From<store::StoreError> for RegistrationError {
    fn from(e: store::StoreError) -> Self {
        Self::Client(ClientError::Store(e))
    }
}
