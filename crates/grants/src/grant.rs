//! What a token may say, and the only way to have it signed.
//!
//! A [`Grant`] is built only by this crate's flows, each from the proofs its checks produced:
//! client credentials from a [`VerifiedClient`](registration::VerifiedClient); a user grant from
//! a redeemed code (client, redirect URI, PKCE), a rotated refresh token, a checked password, or
//! the first-party sign-in. Its fields are private and it has no public constructor, so code
//! outside this crate can read a grant but never make or change one; `tokens` signs only a
//! `Grant`.
//!
//! (The `compile_fail` examples of [`crate::proofs`] show it.)

use primitives::PlainSecret;
use serde_json::{Map, Value};

use crate::Scope;

/// A token for a user, issued to a client.
#[derive(Debug, Clone)]
pub struct UserGrant {
    pub(crate) user: accounts::User,
    pub(crate) client_id: String,
    /// The client's `id_token_signed_response_alg`.
    pub(crate) id_token_alg: String,
    pub(crate) scope: Scope,
    pub(crate) audience: Vec<String>,
    /// The access token's lifetime when its resources set one (the shortest); `None`: the
    /// server's.
    pub(crate) ttl: Option<i64>,
    pub(crate) auth_time: i64,
    /// How the user signed in (the `amr` and `acr` of the ID token).
    pub(crate) amr: accounts::AuthMethods,
    pub(crate) nonce: Option<String>,
    pub(crate) sid: Option<String>,
}

impl UserGrant {
    pub fn user(&self) -> &accounts::User {
        &self.user
    }
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
    pub fn id_token_alg(&self) -> &str {
        &self.id_token_alg
    }
    pub fn scope(&self) -> &Scope {
        &self.scope
    }
    pub fn audience(&self) -> &[String] {
        &self.audience
    }
    pub fn auth_time(&self) -> i64 {
        self.auth_time
    }
    pub fn amr(&self) -> &accounts::AuthMethods {
        &self.amr
    }
    pub fn nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }
    /// The claims the user's scopes release in an ID token (OpenID Connect Core §5.4).
    pub fn claims(&self) -> Map<String, Value> {
        scope_claims(&self.user, &self.scope)
    }
    /// An OpenID Connect grant gets an ID token beside its access token.
    pub fn wants_id_token(&self) -> bool {
        self.scope.contains("openid")
    }
}

/// A token whose subject is the client itself (RFC 6749 §4.4).
#[derive(Debug, Clone)]
pub struct ClientGrant {
    pub(crate) client_id: String,
    pub(crate) scope: Scope,
    pub(crate) audience: Vec<String>,
    /// As [`UserGrant`]'s.
    pub(crate) ttl: Option<i64>,
}

/// A token for an organization's agent, issued to the agent's own client (client credentials
/// of a client bound to the agent): its subject is the agent, its scopes at most the agent's.
#[derive(Debug, Clone)]
pub struct AgentGrant {
    pub(crate) client_id: String,
    pub(crate) agent_id: String,
    pub(crate) org_id: String,
    pub(crate) scope: Scope,
    pub(crate) audience: Vec<String>,
}

/// The acting party of a delegated token (RFC 8693 §4.1 `act`): who acts, the client it acts
/// through, and the actor before it when the subject token was itself delegated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Act {
    pub sub: String,
    pub client_id: Option<String>,
    pub act: Option<Box<Act>>,
}

/// A token from a token exchange (RFC 8693): for the subject of the subject token, acted on by
/// the actor, with the intersection of scopes and at most the subject token's remaining life.
#[derive(Debug, Clone)]
pub struct ExchangedGrant {
    pub(crate) subject: String,
    pub(crate) org_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) scope: Scope,
    pub(crate) audience: Vec<String>,
    pub(crate) act: Act,
    pub(crate) expires_at: i64,
}

/// What an access token may say: who it is for, which client holds it, its scope and audience.
#[derive(Debug, Clone)]
pub enum Grant {
    User(UserGrant),
    Client(ClientGrant),
    Agent(AgentGrant),
    Exchanged(ExchangedGrant),
}

impl Grant {
    /// `sub`: the user, or the client itself.
    pub fn subject(&self) -> &str {
        match self {
            Self::User(g) => &g.user.id,
            Self::Client(g) => &g.client_id,
            Self::Agent(g) => &g.agent_id,
            Self::Exchanged(g) => &g.subject,
        }
    }
    pub fn client_id(&self) -> &str {
        match self {
            Self::User(g) => &g.client_id,
            Self::Client(g) => &g.client_id,
            Self::Agent(g) => &g.client_id,
            Self::Exchanged(g) => &g.client_id,
        }
    }
    pub fn scope(&self) -> &Scope {
        match self {
            Self::User(g) => &g.scope,
            Self::Client(g) => &g.scope,
            Self::Agent(g) => &g.scope,
            Self::Exchanged(g) => &g.scope,
        }
    }
    pub fn audience(&self) -> &[String] {
        match self {
            Self::User(g) => &g.audience,
            Self::Client(g) => &g.audience,
            Self::Agent(g) => &g.audience,
            Self::Exchanged(g) => &g.audience,
        }
    }
    /// The organization of an agent's token, or of an exchanged token acted on by an agent.
    pub fn org_id(&self) -> Option<&str> {
        match self {
            Self::Agent(g) => Some(&g.org_id),
            Self::Exchanged(g) => g.org_id.as_deref(),
            Self::User(_) | Self::Client(_) => None,
        }
    }
    /// The actor of an exchanged token (RFC 8693 `act`).
    pub fn act(&self) -> Option<&Act> {
        match self {
            Self::Exchanged(g) => Some(&g.act),
            _ => None,
        }
    }
    /// The latest `exp` the token may have (an exchanged token never outlives its subject
    /// token); `None` leaves the server's lifetime.
    pub fn expires_at_most(&self) -> Option<i64> {
        match self {
            Self::Exchanged(g) => Some(g.expires_at),
            _ => None,
        }
    }
    /// The access token's lifetime its resources set (seconds), if any.
    pub fn ttl(&self) -> Option<i64> {
        match self {
            Self::User(g) => g.ttl,
            Self::Client(g) => g.ttl,
            // An agent's token has the server's lifetime; an exchanged one is capped by
            // `expires_at_most` (and `PORTCULLIS_EXCHANGE_TOKEN_TTL`).
            Self::Agent(_) | Self::Exchanged(_) => None,
        }
    }
}

/// A signed access token, as a flow records it.
#[derive(Debug, Clone)]
pub struct SignedAccess {
    pub token: String,
    pub jti: String,
    /// `exp`, unix seconds.
    pub expires_at: i64,
    pub expires_in: i64,
}

/// Signing went wrong (no current key, a serialization failure): a server error.
#[derive(Debug, Clone, thiserror::Error)]
#[error("signing failed: {0}")]
pub struct SignError(pub String);

/// Signs grants; `tokens` implements it. Flows call it in the middle of their work (after the
/// checks, before the write that records the token), which is why it is injected.
pub trait Sign {
    /// The thumbprint of the DPoP key the request proved it holds (RFC 9449), to which the
    /// access tokens signed are bound; a public client's refresh family is bound to it too.
    fn dpop_jkt(&self) -> Option<&str> {
        None
    }
    fn access_token(&self, grant: &Grant, now: i64) -> Result<SignedAccess, SignError>;
    fn id_token(
        &self,
        grant: &UserGrant,
        access: &SignedAccess,
        now: i64,
    ) -> Result<String, SignError>;
}

/// What a token request is answered with.
#[derive(Debug)]
pub struct Issued {
    pub grant: Grant,
    pub access: SignedAccess,
    pub refresh: Option<PlainSecret>,
    pub id_token: Option<String>,
}

/// Signs the access token of `grant` and, for an OpenID Connect user grant, its ID token.
pub(crate) fn sign_user(
    signer: &dyn Sign,
    grant: UserGrant,
    now: i64,
) -> Result<(SignedAccess, Option<String>, Grant), SignError> {
    let wants_id = grant.wants_id_token();
    let grant = Grant::User(grant);
    let access = signer.access_token(&grant, now)?;
    let Grant::User(user_grant) = &grant else {
        unreachable!("made a user grant just above")
    };
    let id_token = if wants_id {
        Some(signer.id_token(user_grant, &access, now)?)
    } else {
        None
    };
    Ok((access, id_token, grant))
}

/// The claims a user's scopes allow (OpenID Connect Core §5.4): `email`, `email_verified`,
/// `name`, `updated_at`. The ID token and userinfo both release exactly these.
pub fn scope_claims(user: &accounts::User, scope: &Scope) -> Map<String, Value> {
    let mut claims = Map::new();
    if scope.contains("email") {
        claims.insert("email".into(), Value::String(user.email.clone()));
        claims.insert("email_verified".into(), Value::Bool(user.email_verified));
    }
    if scope.contains("profile") {
        claims.insert("name".into(), Value::String(user.name.clone()));
        claims.insert("updated_at".into(), Value::from(user.updated_at));
    }
    claims
}

/// Grants for the tests of crates that sign or read them (`tokens`, benches): behind the
/// `testing` feature, which only dev-dependencies enable (the tidy test checks that no crate's
/// `[dependencies]` does).
#[cfg(feature = "testing")]
pub mod testing {
    use super::*;

    pub fn client_grant(client_id: &str, scope: &str, audience: &[&str]) -> Grant {
        Grant::Client(ClientGrant {
            client_id: client_id.to_owned(),
            scope: Scope::from_stored(scope),
            audience: audience.iter().map(|a| (*a).to_owned()).collect(),
            ttl: None,
        })
    }

    /// A user grant for the user `user_id` (`a@example.test`, verified) held by `client_id`,
    /// with this nonce and session, and the ID-token algorithm `id_token_alg`.
    pub fn user_grant(
        user_id: &str,
        client_id: &str,
        scope: &str,
        (nonce, sid): (Option<&str>, Option<&str>),
        auth_time: i64,
        id_token_alg: &str,
    ) -> UserGrant {
        let user = accounts::User {
            id: user_id.to_owned(),
            email: "a@example.test".to_owned(),
            name: "A".to_owned(),
            email_verified: true,
            disabled: false,
            created_at: auth_time,
            updated_at: auth_time,
            admin: false,
        };
        UserGrant {
            user,
            client_id: client_id.to_owned(),
            id_token_alg: id_token_alg.to_owned(),
            scope: Scope::from_stored(scope),
            audience: vec![client_id.to_owned()],
            ttl: None,
            auth_time,
            amr: accounts::AuthMethods::password(),
            nonce: nonce.map(str::to_owned),
            sid: sid.map(str::to_owned),
        }
    }
}
