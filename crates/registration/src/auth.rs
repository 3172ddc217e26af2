//! Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3).

use primitives::SecretHash;
use store::Conn;

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
}

impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Basic { client_id, .. } => write!(f, "Basic({client_id}, <secret>)"),
            Self::Post { client_id, .. } => write!(f, "Post({client_id}, <secret>)"),
            Self::IdOnly { client_id } => write!(f, "IdOnly({client_id})"),
        }
    }
}

impl Presented {
    pub fn client_id(&self) -> &str {
        match self {
            Self::Basic { client_id, .. }
            | Self::Post { client_id, .. }
            | Self::IdOnly { client_id } => client_id,
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

    /// True when a secret was checked (false for a public client that only named itself).
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
    Client(#[from] ClientError),
}

/// Checks presented client credentials against the registered client.
pub fn authenticate(conn: &mut Conn, presented: &Presented) -> Result<VerifiedClient, AuthError> {
    check_credentials(find_client(conn, presented.client_id())?, presented)
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
