//! DPoP proofs (RFC 9449): the check of one proof, the key thumbprint a token is bound to,
//! the replay record and the server's stateless nonces.
//!
//! Attacks this module answers, each with a server test named after it
//! (`crates/server/tests/server/dpop.rs`):
//! - A proof replayed (§11.1): `jti` is recorded by [`record_proof`] with the key's thumbprint
//!   in the database every instance shares, until `iat` leaves the window; a second insert
//!   fails.
//! - A proof made for another request (§4.3): `htm` and `htu` must be this request's; `htu`
//!   is compared without query and fragment, after normalisation (scheme and host lower case,
//!   default port dropped), against the URL the server derives from its configured issuer,
//!   never from the `Host` header.
//! - A proof without the key (§4.3): the signature is verified with the header's `jwk`, whose
//!   algorithm must be asymmetric (`none` and HMAC refused, so is an `alg` the key's type does
//!   not match); a `jwk` with private members is refused, since its holder just published it.
//! - A proof made long ago or for the future (§11.1): `iat` within `max_age` seconds past and
//!   `max_skew` seconds ahead of the injected clock.
//! - A stolen token with a proof of another key (§7): the token's `cnf.jkt` must equal the
//!   proof key's thumbprint, and `ath` must be the token's hash (`check_bound`).

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

/// The `typ` header of a proof (§4.2).
pub const DPOP_TYP: &str = "dpop+jwt";

/// The proof algorithms accepted (and advertised as `dpop_signing_alg_values_supported`).
pub const DPOP_ALGS: [&str; 4] = ["ES256", "RS256", "PS256", "EdDSA"];

/// Longest proof read (a 4096-bit RSA `jwk` fits several times).
const MAX_PROOF_LEN: usize = 8 * 1024;

/// The `cnf` claim of a bound access token (RFC 9449 §6.1, RFC 7800).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// The RFC 7638 SHA-256 thumbprint of the proof key.
    pub jkt: String,
}

/// Why a proof was refused. Every variant is answered `invalid_dpop_proof` (or
/// `use_dpop_nonce`); the reason is for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpopError {
    #[error("the DPoP proof is not a well-formed JWT")]
    Malformed,
    #[error("the DPoP proof's typ is not dpop+jwt")]
    WrongType,
    #[error("the DPoP proof's alg is not an accepted asymmetric algorithm")]
    Algorithm,
    #[error("the DPoP proof's jwk is missing or not a usable public key")]
    Key,
    #[error("the DPoP proof's jwk holds private key members")]
    PrivateKey,
    #[error("the DPoP proof's signature does not verify with its jwk")]
    Signature,
    #[error("the DPoP proof lacks {0}")]
    MissingClaim(&'static str),
    #[error("the DPoP proof's htm is not this request's method")]
    Method,
    #[error("the DPoP proof's htu is not this request's URL")]
    Url,
    #[error("the DPoP proof's iat is outside the accepted window")]
    Time,
    #[error("the DPoP proof's ath is not the hash of the access token")]
    AccessTokenHash,
    #[error("the DPoP proof was used before")]
    Replayed,
    #[error("the DPoP proof's key is not the one the token is bound to")]
    WrongKey,
    #[error("the DPoP proof has no valid server nonce")]
    Nonce,
}

/// What a proof must match: this request, the token it comes with, the clock and the window.
#[derive(Debug, Clone, Copy)]
pub struct ProofCheck<'a> {
    /// The request's method.
    pub htm: &'a str,
    /// The request's URL as the server derives it from its issuer (no query, no fragment).
    pub htu: &'a str,
    /// The access token presented with the proof, whose hash `ath` must be.
    pub access_token: Option<&'a str>,
    pub now: i64,
    /// How many seconds old `iat` may be.
    pub max_age: i64,
    /// How many seconds ahead of `now` `iat` may be.
    pub max_skew: i64,
}

/// A proof whose signature, form, request and time were checked; not yet recorded (replay)
/// and not yet matched to a nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// The RFC 7638 thumbprint of the proof's key.
    pub jkt: String,
    pub jti: String,
    pub iat: i64,
    pub nonce: Option<String>,
}

#[derive(Deserialize)]
struct ProofClaims {
    jti: Option<String>,
    htm: Option<String>,
    htu: Option<String>,
    iat: Option<i64>,
    ath: Option<String>,
    nonce: Option<String>,
}

/// Members of a JWK that only a private (or symmetric) key has (RFC 7518 §6.2.2, §6.3.2,
/// §6.4; RFC 8037 §2).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Checks one proof against `check` (§4.3, steps 1 to 11 but the replay and nonce checks,
/// which need state: [`record_proof`], [`Nonces::accepts`]).
pub fn verify_proof(proof: &str, check: &ProofCheck<'_>) -> Result<VerifiedProof, DpopError> {
    if proof.is_empty() || proof.len() > MAX_PROOF_LEN {
        return Err(DpopError::Malformed);
    }
    // The header is read raw first: jsonwebtoken's `Jwk` would drop private members unseen.
    let raw_header = proof.split('.').next().ok_or(DpopError::Malformed)?;
    let raw_header: serde_json::Value = URL_SAFE_NO_PAD
        .decode(raw_header)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(DpopError::Malformed)?;
    let raw_jwk = raw_header
        .get("jwk")
        .and_then(serde_json::Value::as_object)
        .ok_or(DpopError::Key)?;
    if PRIVATE_MEMBERS.iter().any(|m| raw_jwk.contains_key(*m)) {
        return Err(DpopError::PrivateKey);
    }
    if raw_header.get("typ").and_then(serde_json::Value::as_str) != Some(DPOP_TYP) {
        return Err(DpopError::WrongType);
    }
    let alg = raw_header
        .get("alg")
        .and_then(serde_json::Value::as_str)
        .filter(|a| DPOP_ALGS.contains(a))
        .ok_or(DpopError::Algorithm)?;
    let alg: Algorithm = alg.parse().map_err(|_| DpopError::Algorithm)?;
    let jwk: Jwk = serde_json::from_value(serde_json::Value::Object(raw_jwk.clone()))
        .map_err(|_| DpopError::Key)?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| DpopError::Key)?;
    let jkt = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|_| DpopError::Key)?;
    // Times are checked below against the injected clock.
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<ProofClaims>(proof, &key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => DpopError::Signature,
            jsonwebtoken::errors::ErrorKind::InvalidAlgorithm
            | jsonwebtoken::errors::ErrorKind::InvalidAlgorithmName => DpopError::Algorithm,
            jsonwebtoken::errors::ErrorKind::InvalidKeyFormat
            | jsonwebtoken::errors::ErrorKind::InvalidEcdsaKey
            | jsonwebtoken::errors::ErrorKind::InvalidRsaKey(_) => DpopError::Key,
            _ => DpopError::Malformed,
        })?
        .claims;
    let jti = claims
        .jti
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or(DpopError::MissingClaim("jti"))?;
    let htm = claims.htm.ok_or(DpopError::MissingClaim("htm"))?;
    let htu = claims.htu.ok_or(DpopError::MissingClaim("htu"))?;
    let iat = claims.iat.ok_or(DpopError::MissingClaim("iat"))?;
    if htm != check.htm {
        return Err(DpopError::Method);
    }
    if normalize_htu(&htu).is_none() || normalize_htu(&htu) != normalize_htu(check.htu) {
        return Err(DpopError::Url);
    }
    if iat < check.now - check.max_age || iat > check.now + check.max_skew {
        return Err(DpopError::Time);
    }
    match (check.access_token, claims.ath.as_deref()) {
        (None, _) => {}
        (Some(_), None) => return Err(DpopError::MissingClaim("ath")),
        (Some(token), Some(ath)) => {
            let expected = access_token_hash(token);
            if !same(&expected, ath) {
                return Err(DpopError::AccessTokenHash);
            }
        }
    }
    Ok(VerifiedProof {
        jkt,
        jti,
        iat,
        nonce: claims.nonce,
    })
}

/// `htu` as compared (§4.3 item 9, RFC 3986 §6.2.2 and §6.2.3): parsed, query and fragment
/// dropped, scheme and host lower case, the default port dropped. `None` when it is no
/// absolute http(s) URL.
pub fn normalize_htu(htu: &str) -> Option<String> {
    let mut url = url::Url::parse(htu).ok()?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return None;
    }
    url.set_query(None);
    url.set_fragment(None);
    Some(url.to_string())
}

/// `ath`: the base64url SHA-256 of an access token (§4.2).
pub fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, token.as_bytes()))
}

fn same(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

/// Whether a token bound to `jkt` may be used with `proof` (§7.1): the same key.
pub fn check_bound(jkt: &str, proof: &VerifiedProof) -> Result<(), DpopError> {
    if same(jkt, &proof.jkt) {
        Ok(())
    } else {
        Err(DpopError::WrongKey)
    }
}

/// Records a checked proof, so no instance accepts it again while its `iat` is in the window
/// (`max_age` seconds past, `max_skew` ahead). `Err(Replayed)` when it was recorded before.
/// About one insert in 256 (by the record's hash) also deletes the rows whose window ended
/// before `now`, so the table holds about one window of proofs.
pub fn record_proof(
    conn: &mut store::Conn,
    proof: &VerifiedProof,
    (max_age, max_skew): (i64, i64),
    now: i64,
) -> Result<Result<(), DpopError>, store::StoreError> {
    let key = format!("{} {}", proof.jkt, proof.jti);
    let hash = primitives::SecretHash::of(&key);
    let fresh = store::dpop::record_proof(conn, hash.as_str(), proof.iat + max_age + max_skew)?;
    if !fresh {
        return Ok(Err(DpopError::Replayed));
    }
    if hash.as_str().starts_with("00") {
        store::dpop::delete_expired(conn, now)?;
    }
    Ok(Ok(()))
}

/// The server's DPoP nonces (§8): stateless, so every instance sharing the sealing keys
/// accepts every instance's nonces. A nonce is the number of its `period`-second window,
/// sealed (AES-256-GCM, bound to the context `dpop-nonce`); one of the current or the
/// previous window is accepted.
#[derive(Debug, Clone)]
pub struct Nonces<'a> {
    pub keys: &'a primitives::seal::KeyRing,
    pub period: i64,
}

const NONCE_CONTEXT: &str = "dpop-nonce";

impl Nonces<'_> {
    /// A nonce for now.
    pub fn issue(&self, now: i64) -> String {
        let window = now.div_euclid(self.period);
        self.keys.seal(&window.to_be_bytes(), NONCE_CONTEXT)
    }

    /// Whether `nonce` is one of ours of this window or the one before.
    pub fn accepts(&self, nonce: &str, now: i64) -> bool {
        let Ok(bytes) = self.keys.open(nonce, NONCE_CONTEXT) else {
            return false;
        };
        let Ok(bytes) = <[u8; 8]>::try_from(bytes.as_slice()) else {
            return false;
        };
        let window = i64::from_be_bytes(bytes);
        let current = now.div_euclid(self.period);
        window == current || window == current - 1
    }
}
