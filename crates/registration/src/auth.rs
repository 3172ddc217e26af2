//! Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3).

use primitives::seal::KeyRing;
use primitives::{PlainSecret, SecretHash};
use store::Conn;

use crate::assertion::{AssertionError, AssertionKeys, AssertionRules, JwkSet, LEEWAY};
use crate::client::{Client, ClientError, find_client};
use crate::metadata::AuthMethod;

/// The client credentials a request carried, already taken apart by the caller.
#[derive(Clone, PartialEq, Eq)]
pub enum Presented {
    /// `Authorization: Basic`, id and secret form-urldecoded.
    Basic { client_id: String, secret: String },
    /// `client_id` and `client_secret` in the form body.
    Post { client_id: String, secret: String },
    /// Only `client_id` in the body: a public client identifying itself.
    IdOnly { client_id: String },
    /// A JWT client assertion (`client_assertion_type` jwt-bearer, RFC 7523 §2.2), for the
    /// client its `sub` names (checked equal to `iss` and to a body `client_id`).
    Assertion {
        client_id: String,
        assertion: String,
    },
}

impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Basic { client_id, .. } => write!(f, "Basic({client_id}, <secret>)"),
            Self::Post { client_id, .. } => write!(f, "Post({client_id}, <secret>)"),
            Self::IdOnly { client_id } => write!(f, "IdOnly({client_id})"),
            Self::Assertion { client_id, .. } => write!(f, "Assertion({client_id}, <jwt>)"),
        }
    }
}

impl Presented {
    pub fn client_id(&self) -> &str {
        match self {
            Self::Basic { client_id, .. }
            | Self::Post { client_id, .. }
            | Self::IdOnly { client_id }
            | Self::Assertion { client_id, .. } => client_id,
        }
    }

    pub fn used_basic(&self) -> bool {
        matches!(self, Self::Basic { .. })
    }
}

/// Proof that a request's client credentials were checked: a confidential client presented its
/// secret by its registered method, or a public client named itself. Only [`authenticate`]
/// makes one.
#[derive(Debug, Clone)]
pub struct VerifiedClient {
    client: Client,
    method: AuthMethod,
}

impl VerifiedClient {
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn id(&self) -> &str {
        &self.client.id
    }

    /// True when a secret or an assertion was checked (false for a public client that only
    /// named itself).
    pub fn is_authenticated(&self) -> bool {
        self.method.is_confidential()
    }
}

/// Why client authentication failed: all of these are `invalid_client` on the wire.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("unknown client")]
    UnknownClient,
    #[error("wrong client secret")]
    WrongSecret,
    #[error("the client registered {registered} but authenticated with {used}")]
    WrongMethod {
        registered: &'static str,
        used: &'static str,
    },
    #[error("a confidential client must authenticate")]
    SecretRequired,
    #[error(transparent)]
    Assertion(#[from] AssertionError),
    #[error(transparent)]
    Client(#[from] ClientError),
}

impl From<store::StoreError> for AuthError {
    fn from(e: store::StoreError) -> Self {
        Self::Client(ClientError::Store(e))
    }
}

/// What a client assertion is checked with besides the client itself.
#[derive(Clone, Copy)]
pub struct AssertionContext<'a> {
    pub rules: AssertionRules<'a>,
    /// The keys the server fetched from the client's `jwks_uri`, if it has one.
    pub fetched: Option<&'a JwkSet>,
    /// The server's encryption keys, which open the secrets of `client_secret_jwt` clients.
    pub ring: Option<&'a KeyRing>,
}

impl std::fmt::Debug for AssertionContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssertionContext")
            .field("rules", &self.rules)
            .field("fetched", &self.fetched.map(|s| s.keys.len()))
            .field("ring", &self.ring.map(KeyRing::sealing_id))
            .finish()
    }
}

/// Why a client secret could not be sealed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(
        "client_secret_jwt needs the server's encryption keys (PORTCULLIS_ENCRYPTION_KEYS) to keep the secret readable"
    )]
    NoEncryptionKeys,
    #[error("a client_secret_jwt client needs a new secret to seal: rotate it")]
    NoSecret,
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

fn seal_context(client_id: &str) -> String {
    format!("client_secret_jwt:{client_id}")
}

/// Keeps the secret of a `client_secret_jwt` client sealed under `ring` (bound to the client
/// id), or forgets a sealed secret when the client uses another method. Called after every
/// registration, update and rotation that made `secret`.
pub fn seal_client_secret(
    conn: &mut Conn,
    client: &Client,
    secret: Option<&PlainSecret>,
    ring: Option<&KeyRing>,
) -> Result<(), SealError> {
    if client.metadata.token_endpoint_auth_method != AuthMethod::ClientSecretJwt {
        store::client_assertions::put_sealed_secret(conn, &client.id, None)?;
        return Ok(());
    }
    let ring = ring.ok_or(SealError::NoEncryptionKeys)?;
    match secret {
        Some(secret) => {
            let sealed = ring.seal(secret.expose().as_bytes(), &seal_context(&client.id));
            store::client_assertions::put_sealed_secret(conn, &client.id, Some(&sealed))?;
        }
        None if store::client_assertions::find_sealed_secret(conn, &client.id)?.is_some() => {}
        None => return Err(SealError::NoSecret),
    }
    Ok(())
}

/// Checks presented client credentials against the registered client.
pub fn authenticate(
    conn: &mut Conn,
    presented: &Presented,
    ctx: &AssertionContext<'_>,
) -> Result<VerifiedClient, AuthError> {
    let client = find_client(conn, presented.client_id())?;
    check_presented(conn, client, presented, ctx)
}

/// [`check_credentials`], and client assertions too: their signature and claims checked
/// (`crate::assertion`) and their `jti` recorded, once.
pub fn check_presented(
    conn: &mut Conn,
    client: Option<Client>,
    presented: &Presented,
    ctx: &AssertionContext<'_>,
) -> Result<VerifiedClient, AuthError> {
    let Presented::Assertion { assertion, .. } = presented else {
        return check_credentials(client, presented);
    };
    let client = client.ok_or(AuthError::UnknownClient)?;
    let registered = client.metadata.token_endpoint_auth_method;
    let opened;
    let inline;
    let keys = match registered {
        AuthMethod::PrivateKeyJwt => match (&client.metadata.jwks, ctx.fetched) {
            (Some(jwks), _) => {
                inline = crate::assertion::check_jwks(jwks).map_err(|_| AssertionError::NoKeys)?;
                AssertionKeys::Jwks(&inline)
            }
            (None, Some(fetched)) => AssertionKeys::Jwks(fetched),
            (None, None) => return Err(AssertionError::NoKeys.into()),
        },
        AuthMethod::ClientSecretJwt => {
            let sealed = store::client_assertions::find_sealed_secret(conn, &client.id)?
                .ok_or(AssertionError::NoKeys)?;
            opened = ctx
                .ring
                .and_then(|ring| ring.open(&sealed, &seal_context(&client.id)).ok())
                .ok_or(AssertionError::NoKeys)?;
            AssertionKeys::Secret(&opened)
        }
        other => {
            return Err(AuthError::WrongMethod {
                registered: other.as_str(),
                used: "a client assertion",
            });
        }
    };
    let checked = crate::assertion::verify(&client, assertion, &keys, ctx.rules)?;
    let now = ctx.rules.now;
    if !store::client_assertions::record(conn, &client.id, &checked.jti, checked.exp + LEEWAY, now)?
    {
        return Err(AssertionError::Replayed.into());
    }
    Ok(VerifiedClient {
        client,
        method: registered,
    })
}

/// Checks presented client credentials against `client`, the registered client of that id
/// (`None`: no such client), however it was looked up.
pub fn check_credentials(
    client: Option<Client>,
    presented: &Presented,
) -> Result<VerifiedClient, AuthError> {
    let (used, secret) = match presented {
        Presented::Basic { secret, .. } => (AuthMethod::ClientSecretBasic, Some(secret.as_str())),
        Presented::Post { secret, .. } => (AuthMethod::ClientSecretPost, Some(secret.as_str())),
        Presented::IdOnly { .. } => (AuthMethod::None, None),
        Presented::Assertion { .. } => {
            // Assertions need the store and the keys: `check_presented`.
            return Err(AuthError::WrongMethod {
                registered: "a secret method",
                used: "a client assertion",
            });
        }
    };
    let Some(client) = client else {
        // Spend the hash an existing client would cost, so timing does not tell ids apart.
        if let Some(secret) = secret {
            let _ = SecretHash::of(secret);
        }
        return Err(AuthError::UnknownClient);
    };
    let registered = client.metadata.token_endpoint_auth_method;
    match (registered, used) {
        (AuthMethod::None, AuthMethod::None) => Ok(VerifiedClient {
            client,
            method: AuthMethod::None,
        }),
        (_, AuthMethod::None) => Err(AuthError::SecretRequired),
        (r, u) if r != u => Err(AuthError::WrongMethod {
            registered: r.as_str(),
            used: u.as_str(),
        }),
        _ => {
            let ok = match (&client.secret_hash, secret) {
                (Some(hash), Some(secret)) => hash.matches(secret),
                _ => false,
            };
            if ok {
                Ok(VerifiedClient {
                    client,
                    method: used,
                })
            } else {
                Err(AuthError::WrongSecret)
            }
        }
    }
}
