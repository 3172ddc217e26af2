//! Client authentication by assertion: `private_key_jwt` and `client_secret_jwt` (RFC 7523
//! §2.2 and §3, OpenID Connect Core §9).
//!
//! An assertion is accepted when all of these hold:
//! - its header names an algorithm the client may use: the registered
//!   `token_endpoint_auth_signing_alg`, else any of [`KEY_ALGS`] (`private_key_jwt`) or
//!   [`HMAC_ALGS`] (`client_secret_jwt`). `alg: none` does not parse at all, and an HMAC
//!   algorithm is never tried with a public key (no RS256/HS256 confusion);
//! - its signature verifies with one of the client's keys (the one named by `kid`, else each
//!   key that fits) or, for `client_secret_jwt`, with the client secret;
//! - `iss` and `sub` are both the client id;
//! - `aud` is, or contains, the issuer or the token endpoint URL (OpenID Connect Core §9 asks
//!   for the token endpoint and allows the issuer);
//! - `exp` is not past ([`LEEWAY`] seconds of skew allowed) and at most
//!   [`MAX_LIFETIME`] seconds after `iat` (or after now, without `iat`); `nbf`, if any, is not
//!   ahead; `iat`, if any, is not ahead;
//! - `jti` is present and at most 256 characters; the caller records it so the assertion is
//!   used once (`store::client_assertions::record`, the primary key decides).

pub use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use crate::client::Client;
use crate::metadata::AuthMethod;

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The algorithms a `private_key_jwt` assertion may use.
pub const KEY_ALGS: [&str; 4] = ["RS256", "PS256", "ES256", "EdDSA"];

/// The algorithms a `client_secret_jwt` assertion may use.
pub const HMAC_ALGS: [&str; 3] = ["HS256", "HS384", "HS512"];

/// Seconds of clock skew allowed on `exp`, `nbf` and `iat`.
pub const LEEWAY: i64 = 30;

/// The longest an assertion may be valid: `exp` at most this many seconds after `iat` (or
/// after now). It also bounds how long a used `jti` is kept.
pub const MAX_LIFETIME: i64 = 300;

const MAX_JTI: usize = 256;
const MAX_KEYS: usize = 20;
/// Private members of RSA, EC and OKP keys, and the secret of an `oct` key (RFC 7518 §6).
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];

/// Why an assertion was refused (all `invalid_client` on the wire).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    #[error("the client assertion is malformed: {0}")]
    Malformed(String),
    #[error("the client assertion's algorithm {0} is not allowed for this client")]
    Algorithm(String),
    #[error("no registered key of the client verifies the client assertion")]
    Signature,
    #[error("the client assertion's {0}")]
    Claims(&'static str),
    #[error("the client assertion was used already")]
    Replayed,
    #[error("the client's keys are not available")]
    NoKeys,
}

/// What the assertion is checked against besides the client.
#[derive(Debug, Clone, Copy)]
pub struct AssertionRules<'a> {
    /// The accepted `aud` values: the issuer and the token endpoint URL.
    pub audiences: &'a [String],
    pub now: i64,
}

/// The key material an assertion verifies with.
pub enum AssertionKeys<'a> {
    /// The client's public keys (registered inline or fetched from its `jwks_uri`).
    Jwks(&'a JwkSet),
    /// The client secret of a `client_secret_jwt` client.
    Secret(&'a [u8]),
}

impl std::fmt::Debug for AssertionKeys<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Jwks(set) => write!(f, "Jwks({} keys)", set.keys.len()),
            Self::Secret(_) => f.write_str("Secret(<redacted>)"),
        }
    }
}

/// An assertion whose signature and claims were checked; its `jti` still has to be recorded.
#[derive(Debug)]
pub(crate) struct CheckedAssertion {
    pub jti: String,
    pub exp: i64,
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: Audience,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
    jti: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains_any(&self, accepted: &[String]) -> bool {
        match self {
            Self::One(a) => accepted.contains(a),
            Self::Many(list) => list.iter().any(|a| accepted.contains(a)),
        }
    }
}

/// The client an assertion is for, read before anything is verified (to find the client): its
/// `sub`, which must equal its `iss` (RFC 7523 §3). Verification checks both again.
pub fn assertion_subject(assertion: &str) -> Result<String, AssertionError> {
    #[derive(Deserialize)]
    struct Names {
        iss: String,
        sub: String,
    }
    let names: Names = jsonwebtoken::dangerous::insecure_decode_claims(assertion)
        .map_err(|e| AssertionError::Malformed(e.to_string()))?;
    if names.iss != names.sub {
        return Err(AssertionError::Claims(
            "iss and sub must both be the client id",
        ));
    }
    Ok(names.sub)
}

/// The `kid` of an assertion's header, read without verifying anything (to know whether the
/// client's published keys must be fetched again).
pub fn assertion_kid(assertion: &str) -> Option<String> {
    jsonwebtoken::decode_header(assertion).ok()?.kid
}

/// Checks a registered JWK Set: an object with 1 to 20 `keys`, each a public RSA, EC or OKP
/// key that `jsonwebtoken` can use, none with a private member.
pub fn check_jwks(jwks: &Value) -> Result<JwkSet, String> {
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("must be an object with a keys array")?;
    if keys.is_empty() || keys.len() > MAX_KEYS {
        return Err(format!("must hold 1 to {MAX_KEYS} keys"));
    }
    for key in keys {
        let obj = key.as_object().ok_or("each key must be an object")?;
        if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| obj.contains_key(**m)) {
            return Err(format!(
                "a key holds the private member {member:?}: register public keys only"
            ));
        }
        match obj.get("kty").and_then(Value::as_str) {
            Some("RSA" | "EC" | "OKP") => {}
            Some("oct") => return Err("symmetric (oct) keys are not accepted".into()),
            _ => return Err("each key needs a kty of RSA, EC or OKP".into()),
        }
    }
    let set: JwkSet =
        serde_json::from_value(jwks.clone()).map_err(|e| format!("not a JWK Set: {e}"))?;
    for key in &set.keys {
        DecodingKey::from_jwk(key).map_err(|e| format!("a key is unusable: {e}"))?;
    }
    Ok(set)
}

/// The algorithms this client's assertions may use.
fn allowed_algs(client: &Client) -> Vec<Algorithm> {
    let method = client.metadata.token_endpoint_auth_method;
    let family: &[&str] = match method {
        AuthMethod::PrivateKeyJwt => &KEY_ALGS,
        AuthMethod::ClientSecretJwt => &HMAC_ALGS,
        _ => &[],
    };
    family
        .iter()
        .filter(|a| {
            client
                .metadata
                .token_endpoint_auth_signing_alg
                .as_deref()
                .is_none_or(|registered| registered == **a)
        })
        .filter_map(|a| a.parse().ok())
        .collect()
}

/// Whether a JWK can verify `alg`: its type fits, and a `use` or `alg` it names agrees.
fn key_fits(key: &Jwk, alg: Algorithm) -> bool {
    let kind = matches!(
        (&key.algorithm, alg),
        (
            AlgorithmParameters::RSA(_),
            Algorithm::RS256 | Algorithm::PS256
        ) | (AlgorithmParameters::EllipticCurve(_), Algorithm::ES256)
            | (AlgorithmParameters::OctetKeyPair(_), Algorithm::EdDSA)
    );
    let usage = key
        .common
        .public_key_use
        .as_ref()
        .is_none_or(|u| *u == jsonwebtoken::jwk::PublicKeyUse::Signature);
    let named = key
        .common
        .key_algorithm
        .as_ref()
        .is_none_or(|k| format!("{k:?}") == format!("{alg:?}"));
    kind && usage && named
}

/// Verifies the signature and claims of `assertion` for `client`.
pub(crate) fn verify(
    client: &Client,
    assertion: &str,
    keys: &AssertionKeys<'_>,
    rules: AssertionRules<'_>,
) -> Result<CheckedAssertion, AssertionError> {
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|e| AssertionError::Malformed(e.to_string()))?;
    let alg = header.alg;
    if !allowed_algs(client).contains(&alg) {
        return Err(AssertionError::Algorithm(format!("{alg:?}")));
    }
    let mut validation = Validation::new(alg);
    // Time and audience are checked below, against the injected clock and both audiences.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims: Claims = match keys {
        AssertionKeys::Secret(secret) => {
            if !HMAC_ALGS.contains(&format!("{alg:?}").as_str()) {
                return Err(AssertionError::Algorithm(format!("{alg:?}")));
            }
            jsonwebtoken::decode::<Claims>(
                assertion,
                &DecodingKey::from_secret(secret),
                &validation,
            )
            .map_err(|_| AssertionError::Signature)?
            .claims
        }
        AssertionKeys::Jwks(set) => {
            let candidates: Vec<&Jwk> = match &header.kid {
                Some(kid) => set.find(kid).into_iter().collect(),
                None => set.keys.iter().collect(),
            };
            candidates
                .into_iter()
                .filter(|k| key_fits(k, alg))
                .filter_map(|k| DecodingKey::from_jwk(k).ok())
                .find_map(|key| jsonwebtoken::decode::<Claims>(assertion, &key, &validation).ok())
                .ok_or(AssertionError::Signature)?
                .claims
        }
    };
    check_claims(client, &claims, rules)?;
    Ok(CheckedAssertion {
        jti: claims.jti,
        exp: claims.exp,
    })
}

fn check_claims(
    client: &Client,
    claims: &Claims,
    rules: AssertionRules<'_>,
) -> Result<(), AssertionError> {
    let now = rules.now;
    if claims.iss != client.id || claims.sub != client.id {
        return Err(AssertionError::Claims(
            "iss and sub must both be the client id",
        ));
    }
    if !claims.aud.contains_any(rules.audiences) {
        return Err(AssertionError::Claims(
            "aud must name the issuer or the token endpoint",
        ));
    }
    if claims.exp + LEEWAY < now {
        return Err(AssertionError::Claims("exp has passed"));
    }
    if claims.iat.is_some_and(|iat| iat > now + LEEWAY)
        || claims.nbf.is_some_and(|nbf| nbf > now + LEEWAY)
    {
        return Err(AssertionError::Claims("iat or nbf is in the future"));
    }
    let start = claims.iat.unwrap_or(now).min(now);
    if claims.exp > start + MAX_LIFETIME {
        return Err(AssertionError::Claims(
            "exp is too far ahead (at most 5 minutes)",
        ));
    }
    if claims.jti.is_empty() || claims.jti.len() > MAX_JTI {
        return Err(AssertionError::Claims("jti must be 1 to 256 characters"));
    }
    Ok(())
}
