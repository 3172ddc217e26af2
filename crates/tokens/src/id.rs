//! OpenID Connect ID tokens (Core §2) and the `id_token_hint` of RP-initiated logout.

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Header, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

use grants::UserGrant;

use crate::access::{Issuance, compact_jws};
use crate::keys::{Keyring, SigningAlg};
use crate::{Audience, TokenError, VerifyError};

/// `at_hash` (Core §3.1.3.6): base64url of the left half of the hash of the access token, with
/// the hash of the signing algorithm (SHA-256 for RS256 and ES256, SHA-512 for Ed25519).
pub fn at_hash(access_token: &str, alg: SigningAlg) -> String {
    let algorithm = match alg {
        SigningAlg::Rs256 | SigningAlg::Es256 => &digest::SHA256,
        SigningAlg::EdDsa => &digest::SHA512,
    };
    let d = digest::digest(algorithm, access_token.as_bytes());
    let bytes = d.as_ref();
    URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() / 2])
}

/// Signs the ID token of a user grant (Core §2): `sub` the user, `aud` the client, the grant's
/// `auth_time`, `amr` and `acr` (how the user signed in), `nonce` and `sid`, `at_hash` of the access token issued beside it, and the
/// claims its scope releases; with the client's `id_token_signed_response_alg` (RS256 when it
/// names none we sign with).
pub fn issue_id_token(
    keyring: &Keyring,
    grant: &UserGrant,
    access_token: Option<&str>,
    issuance: &Issuance<'_>,
    now: i64,
) -> Result<String, TokenError> {
    let alg = SigningAlg::parse(grant.id_token_alg()).unwrap_or(SigningAlg::Rs256);
    let key = keyring
        .current(alg)
        .ok_or(TokenError::NoCurrentKey(alg.as_str()))?;
    let mut claims = Map::new();
    claims.insert("iss".into(), issuance.issuer.into());
    claims.insert("sub".into(), grant.user().id.clone().into());
    claims.insert("aud".into(), grant.client_id().into());
    claims.insert("exp".into(), (now + issuance.ttl).into());
    claims.insert("iat".into(), now.into());
    claims.insert("auth_time".into(), grant.auth_time().into());
    claims.insert("amr".into(), grant.amr().claim().into());
    claims.insert("acr".into(), grant.amr().acr().into());
    if let Some(nonce) = grant.nonce() {
        claims.insert("nonce".into(), nonce.into());
    }
    if let Some(token) = access_token {
        claims.insert("at_hash".into(), at_hash(token, alg).into());
    }
    if let Some(sid) = grant.sid() {
        claims.insert("sid".into(), sid.into());
    }
    for (k, v) in grant.claims() {
        claims.entry(k).or_insert(v);
    }
    let mut header = Header::new(alg.jwt());
    header.typ = Some("JWT".to_owned());
    header.kid = Some(key.kid.clone());
    compact_jws(&header, &Value::Object(claims), |input| key.sign(input))
}

/// The `events` member of a logout token (Back-Channel Logout §2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Whom a logout token (Back-Channel Logout 1.0 §2.4) is for and what ended: the client
/// (`aud`), the user (`sub`), the session (`sid`, the ID tokens' `sid`) and the token's id.
#[derive(Debug, Clone, Copy)]
pub struct LogoutSubject<'a> {
    pub client_id: &'a str,
    pub sub: &'a str,
    pub sid: &'a str,
    pub jti: &'a str,
}

/// Signs a logout token (Back-Channel Logout 1.0 §2.4) with the current key of
/// `issuance.alg`: `typ: logout+jwt` (so it cannot pass for an ID or access token), `iss`,
/// `aud`, `iat`, `exp` (`issuance.ttl` after `now`), `jti`, `events` with the back-channel
/// logout event, `sub` and `sid`, and never a `nonce` (§2.4 forbids it).
pub fn issue_logout_token(
    keyring: &Keyring,
    subject: &LogoutSubject<'_>,
    issuance: &Issuance<'_>,
    now: i64,
) -> Result<String, TokenError> {
    let alg = issuance.alg;
    let key = keyring
        .current(alg)
        .ok_or(TokenError::NoCurrentKey(alg.as_str()))?;
    let claims = serde_json::json!({
        "iss": issuance.issuer,
        "aud": subject.client_id,
        "iat": now,
        "exp": now + issuance.ttl,
        "jti": subject.jti,
        "sub": subject.sub,
        "sid": subject.sid,
        "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
    });
    let mut header = Header::new(alg.jwt());
    header.typ = Some("logout+jwt".to_owned());
    header.kid = Some(key.kid.clone());
    compact_jws(&header, &claims, |input| key.sign(input))
}

/// The parts of an `id_token_hint` that logout needs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IdTokenHint {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    #[serde(default)]
    pub sid: Option<String>,
    /// `exp`; 0 when absent (ours always have it).
    #[serde(default)]
    pub exp: i64,
}

/// Verifies an ID token we issued, for `id_token_hint`: signature, key, algorithm and issuer,
/// but not expiry (RP-Initiated Logout §2 accepts expired hints). An access token is refused:
/// its `typ` is `at+jwt`.
pub fn verify_id_token_hint(
    keyring: &Keyring,
    token: &str,
    issuer: &str,
) -> Result<IdTokenHint, VerifyError> {
    if token.len() > 16 * 1024 {
        return Err(VerifyError::Malformed);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
    if header
        .typ
        .as_deref()
        .is_some_and(|t| !t.eq_ignore_ascii_case("JWT"))
    {
        return Err(VerifyError::WrongType);
    }
    let key = header
        .kid
        .as_deref()
        .and_then(|kid| keyring.find(kid))
        .ok_or(VerifyError::UnknownKey)?;
    if header.alg != key.alg.jwt() {
        return Err(VerifyError::AlgorithmMismatch);
    }
    let mut validation = Validation::new(key.alg.jwt());
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<IdTokenHint>(token, &key.decoding, &validation).map_err(
        |e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => VerifyError::BadSignature,
            _ => VerifyError::Malformed,
        },
    )?;
    if data.claims.iss != issuer {
        return Err(VerifyError::WrongIssuer);
    }
    Ok(data.claims)
}

/// Verifies an ID token we issued as a credential (a token exchange's subject): what
/// [`verify_id_token_hint`] checks, and that it has not expired at `now`.
pub fn verify_id_token(
    keyring: &Keyring,
    token: &str,
    issuer: &str,
    now: i64,
) -> Result<IdTokenHint, VerifyError> {
    let claims = verify_id_token_hint(keyring, token, issuer)?;
    if claims.exp <= now {
        return Err(VerifyError::Expired);
    }
    Ok(claims)
}
