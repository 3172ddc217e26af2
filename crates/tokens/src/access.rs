//! JWT access tokens (RFC 9068): issuing and verifying.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Header, Validation};
use primitives::random_token;
use serde::{Deserialize, Serialize};

use grants::{Grant, SignError, SignedAccess, UserGrant};

use crate::keys::{Keyring, SigningAlg};
use crate::{TokenError, VerifyError};

/// The `typ` header of an access token (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// `aud`: one audience is a string, several an array (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    /// One string for one audience, an array for several.
    pub fn from_list(mut list: Vec<String>) -> Self {
        if list.len() == 1 {
            Self::One(list.remove(0))
        } else {
            Self::Many(list)
        }
    }

    pub fn contains(&self, aud: &str) -> bool {
        match self {
            Self::One(a) => a == aud,
            Self::Many(list) => list.iter().any(|a| a == aud),
        }
    }
}

/// The claims of an access token (RFC 9068 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    /// The user, or the client itself for the client-credentials grant.
    pub sub: String,
    pub aud: Audience,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    /// Space-separated scopes; absent when none were granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The organization of an agent's token (`sub` is then the agent), or of an exchanged
    /// token acted on by an agent or for an organization API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    /// The actor of an exchanged token (RFC 8693 §4.1), the earlier actors nested inside.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<ActClaim>,
    /// Who may act for this token's subject (RFC 8693 §4.4): honoured when present (this
    /// server does not issue it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub may_act: Option<ActClaim>,
    /// The DPoP key the token is bound to (RFC 9449 §6.1): it is used only with a proof of
    /// that key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<crate::dpop::Confirmation>,
}

/// The `act` (and `may_act`) claim of RFC 8693 §4.1: who acts, through which client, and the
/// actor before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActClaim {
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Box<ActClaim>>,
}

impl From<&grants::Act> for ActClaim {
    fn from(a: &grants::Act) -> Self {
        Self {
            sub: a.sub.clone(),
            client_id: a.client_id.clone(),
            act: a.act.as_deref().map(|inner| Box::new(Self::from(inner))),
        }
    }
}

impl From<&ActClaim> for grants::Act {
    fn from(a: &ActClaim) -> Self {
        Self {
            sub: a.sub.clone(),
            client_id: a.client_id.clone(),
            act: a.act.as_deref().map(|inner| Box::new(Self::from(inner))),
        }
    }
}

impl ActClaim {
    /// How many actors the chain names (this one and those nested).
    pub fn depth(&self) -> usize {
        1 + self.act.as_deref().map_or(0, Self::depth)
    }
}

/// How this server signs access tokens: its issuer, their lifetime and algorithm.
#[derive(Debug, Clone, Copy)]
pub struct Issuance<'a> {
    pub issuer: &'a str,
    /// Lifetime in seconds (ID tokens live as long).
    pub ttl: i64,
    pub alg: SigningAlg,
}

/// A signed access token and what it says.
#[derive(Debug, Clone)]
pub struct IssuedAccessToken {
    pub token: String,
    pub claims: AccessClaims,
    pub expires_in: i64,
}

/// Signs the access token of a grant with the current key of `issuance.alg`. Only `grants`
/// makes a [`Grant`], from the proofs of its flow, so nothing here decides who may have one.
///
/// ```compile_fail
/// // There is no spec anyone can fill: the claims come from a grant.
/// let spec = tokens::AccessTokenSpec { issuer: "i", subject: "s", client_id: "c",
///     audience: vec![], scope: None, ttl: 60, alg: tokens::SigningAlg::Es256 };
/// ```
pub fn issue_access_token(
    keyring: &Keyring,
    grant: &Grant,
    issuance: &Issuance<'_>,
    now: i64,
) -> Result<IssuedAccessToken, TokenError> {
    issue_bound_access_token(keyring, grant, issuance, None, now)
}

/// [`issue_access_token`], bound to the DPoP key of thumbprint `jkt` when one is given
/// (`cnf.jkt`, RFC 9449 §6.1).
pub fn issue_bound_access_token(
    keyring: &Keyring,
    grant: &Grant,
    issuance: &Issuance<'_>,
    jkt: Option<&str>,
    now: i64,
) -> Result<IssuedAccessToken, TokenError> {
    let key = keyring
        .current(issuance.alg)
        .ok_or(TokenError::NoCurrentKey(issuance.alg.as_str()))?;
    // The lifetime its resources set (the shortest of them), else the server's; an exchanged
    // token never outlives its subject token.
    let ttl = grant.ttl().unwrap_or(issuance.ttl);
    let exp = grant
        .expires_at_most()
        .map_or(now + ttl, |cap| cap.min(now + ttl));
    let claims = AccessClaims {
        iss: issuance.issuer.to_owned(),
        sub: grant.subject().to_owned(),
        aud: Audience::from_list(grant.audience().to_vec()),
        exp,
        iat: now,
        jti: random_token(16),
        client_id: grant.client_id().to_owned(),
        scope: grant.scope().to_option(),
        org_id: grant.org_id().map(str::to_owned),
        act: grant.act().map(ActClaim::from),
        may_act: None,
        cnf: jkt.map(|jkt| crate::dpop::Confirmation {
            jkt: jkt.to_owned(),
        }),
    };
    let mut header = Header::new(issuance.alg.jwt());
    header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
    header.kid = Some(key.kid.clone());
    let token = compact_jws(&header, &claims, |input| key.sign(input))?;
    Ok(IssuedAccessToken {
        token,
        expires_in: claims.exp - now,
        claims,
    })
}

/// The signer the flows of `grants` are handed: this key ring, this issuance, and the DPoP
/// key of the request's proof, if it came with one.
#[derive(Debug, Clone, Copy)]
pub struct Signer<'a> {
    pub keyring: &'a Keyring,
    pub issuance: Issuance<'a>,
    /// The RFC 7638 thumbprint of a checked DPoP proof's key: the access tokens signed are
    /// bound to it.
    pub dpop_jkt: Option<&'a str>,
}

impl grants::Sign for Signer<'_> {
    fn dpop_jkt(&self) -> Option<&str> {
        self.dpop_jkt
    }

    fn access_token(&self, grant: &Grant, now: i64) -> Result<SignedAccess, SignError> {
        let issued =
            issue_bound_access_token(self.keyring, grant, &self.issuance, self.dpop_jkt, now)
                .map_err(|e| SignError(e.to_string()))?;
        Ok(SignedAccess {
            jti: issued.claims.jti,
            expires_at: issued.claims.exp,
            expires_in: issued.expires_in,
            token: issued.token,
        })
    }

    fn id_token(
        &self,
        grant: &UserGrant,
        access: &SignedAccess,
        now: i64,
    ) -> Result<String, SignError> {
        crate::issue_id_token(
            self.keyring,
            grant,
            Some(&access.token),
            &self.issuance,
            now,
        )
        .map_err(|e| SignError(e.to_string()))
    }
}

/// `base64url(header) . base64url(claims) . base64url(signature)` (RFC 7515 §7.1). The key
/// pairs are parsed once when the key ring loads, so signing does no key parsing.
pub(crate) fn compact_jws(
    header: &Header,
    claims: &impl Serialize,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, TokenError>,
) -> Result<String, TokenError> {
    let header = serde_json::to_vec(header).map_err(|e| TokenError::Signing(e.to_string()))?;
    let claims = serde_json::to_vec(claims).map_err(|e| TokenError::Signing(e.to_string()))?;
    let mut out = String::with_capacity(512);
    URL_SAFE_NO_PAD.encode_string(header, &mut out);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(claims, &mut out);
    let signature = sign(out.as_bytes())?;
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut out);
    Ok(out)
}

/// Checks a presented access token: ours (known `kid`, the key's own algorithm, a valid
/// signature), of type `at+jwt`, from `issuer`, and within its lifetime at `now`. Revocation is
/// the caller's to check (it needs the database).
pub fn verify_access_token(
    keyring: &Keyring,
    token: &str,
    issuer: &str,
    now: i64,
) -> Result<AccessClaims, VerifyError> {
    if token.len() > 8 * 1024 {
        return Err(VerifyError::Malformed);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
    let typ_ok = header.typ.as_deref().is_some_and(|t| {
        t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) || t.eq_ignore_ascii_case("application/at+jwt")
    });
    if !typ_ok {
        return Err(VerifyError::WrongType);
    }
    let kid = header.kid.as_deref().ok_or(VerifyError::UnknownKey)?;
    let key = keyring.find(kid).ok_or(VerifyError::UnknownKey)?;
    if header.alg != key.alg.jwt() {
        return Err(VerifyError::AlgorithmMismatch);
    }
    // Times are checked below against the injected clock, not the system time.
    let mut validation = Validation::new(key.alg.jwt());
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &validation).map_err(
        |e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => VerifyError::BadSignature,
            jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => VerifyError::AlgorithmMismatch,
            _ => VerifyError::Malformed,
        },
    )?;
    let claims = data.claims;
    if claims.iss != issuer {
        return Err(VerifyError::WrongIssuer);
    }
    if claims.exp <= now {
        return Err(VerifyError::Expired);
    }
    // A token "issued" in the future was not issued by us with this clock; allow a minute of
    // skew between instances.
    if claims.iat > now + 60 {
        return Err(VerifyError::NotYetValid);
    }
    Ok(claims)
}
