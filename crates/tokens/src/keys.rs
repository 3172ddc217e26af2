//! Signing keys: generation, storage, rotation, the in-memory key ring and the JWKS.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey};
use primitives::random_token;
use serde_json::{Value, json};
use store::Conn;
use store::keys::{self as rows, SigningKeyRow};

use crate::TokenError;

/// The signature algorithms we sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    /// ECDSA P-256 with SHA-256: the default for access tokens.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys: the OpenID Connect baseline.
    Rs256,
    /// Ed25519.
    EdDsa,
}

impl SigningAlg {
    pub const ALL: [Self; 3] = [Self::Es256, Self::Rs256, Self::EdDsa];

    /// The JOSE name (`alg`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// Parses a JOSE name, exactly (`alg` values are case-sensitive).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    pub(crate) fn jwt(self) -> Algorithm {
        match self {
            Self::Es256 => Algorithm::ES256,
            Self::Rs256 => Algorithm::RS256,
            Self::EdDsa => Algorithm::EdDSA,
        }
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

enum Pair {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A usable signing key: private half for signing, public half for verifying and publishing.
pub struct SigningKey {
    pub kid: String,
    pub alg: SigningAlg,
    pub created_at: i64,
    pub retired_at: Option<i64>,
    pair: Pair,
    pub(crate) decoding: DecodingKey,
    jwk: Value,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// The public key as a JWK (RFC 7517), with `kid`, `alg` and `use`.
    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    /// Signs `message` (the JWS signing input).
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, TokenError> {
        let rng = SystemRandom::new();
        match &self.pair {
            Pair::Ec(pair) => pair
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| TokenError::Signing("ECDSA signing failed".into())),
            Pair::Ed(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            Pair::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(|_| TokenError::Signing("RSA signing failed".into()))?;
                Ok(signature)
            }
        }
    }

    fn from_row(row: &SigningKeyRow) -> Result<Self, TokenError> {
        let bad = |reason: &str| TokenError::BadStoredKey {
            kid: row.kid.clone(),
            reason: reason.to_owned(),
        };
        let alg = SigningAlg::parse(&row.alg).ok_or_else(|| bad("unknown algorithm"))?;
        let pkcs8 = STANDARD
            .decode(&row.private_key)
            .map_err(|_| bad("the private key is not base64"))?;
        let (pair, decoding, mut jwk) = match alg {
            SigningAlg::Es256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8)
                    .map_err(|_| bad("not a P-256 PKCS#8 key"))?;
                // Uncompressed point: 0x04 || x || y, 32 bytes each.
                let point = pair.public_key().as_ref();
                if point.len() != 65 || point[0] != 4 {
                    return Err(bad("unexpected P-256 public key encoding"));
                }
                let (x, y) = (
                    URL_SAFE_NO_PAD.encode(&point[1..33]),
                    URL_SAFE_NO_PAD.encode(&point[33..]),
                );
                let decoding =
                    DecodingKey::from_ec_components(&x, &y).map_err(|_| bad("bad EC point"))?;
                let jwk = json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y });
                (Pair::Ec(pair), decoding, jwk)
            }
            SigningAlg::Rs256 => {
                let pair =
                    RsaKeyPair::from_pkcs8(&pkcs8).map_err(|_| bad("not an RSA PKCS#8 key"))?;
                let public = pair.public_key();
                let n = public.modulus().big_endian_without_leading_zero().to_vec();
                let e = public.exponent().big_endian_without_leading_zero().to_vec();
                let decoding = DecodingKey::from_rsa_raw_components(&n, &e);
                let jwk = json!({
                    "kty": "RSA",
                    "n": URL_SAFE_NO_PAD.encode(&n),
                    "e": URL_SAFE_NO_PAD.encode(&e),
                });
                (Pair::Rsa(pair), decoding, jwk)
            }
            SigningAlg::EdDsa => {
                let pair = Ed25519KeyPair::from_pkcs8(&pkcs8)
                    .map_err(|_| bad("not an Ed25519 PKCS#8 key"))?;
                let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
                let decoding =
                    DecodingKey::from_ed_components(&x).map_err(|_| bad("bad Ed25519 key"))?;
                let jwk = json!({ "kty": "OKP", "crv": "Ed25519", "x": x });
                (Pair::Ed(pair), decoding, jwk)
            }
        };
        if let Value::Object(map) = &mut jwk {
            map.insert("kid".into(), Value::String(row.kid.clone()));
            map.insert("alg".into(), Value::String(alg.as_str().into()));
            map.insert("use".into(), Value::String("sig".into()));
        }
        Ok(Self {
            kid: row.kid.clone(),
            alg,
            created_at: row.created_at,
            retired_at: row.retired_at,
            pair,
            decoding,
            jwk,
        })
    }
}

/// A new private key of `alg`, as a PKCS#8 document.
fn generate_pkcs8(alg: SigningAlg) -> Result<Vec<u8>, TokenError> {
    let rng = SystemRandom::new();
    match alg {
        SigningAlg::Es256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map(|doc| doc.as_ref().to_vec())
            .map_err(|_| TokenError::KeyGeneration("P-256")),
        SigningAlg::EdDsa => Ed25519KeyPair::generate_pkcs8(&rng)
            .map(|doc| doc.as_ref().to_vec())
            .map_err(|_| TokenError::KeyGeneration("Ed25519")),
        SigningAlg::Rs256 => RsaKeyPair::generate(KeySize::Rsa2048)
            .and_then(|pair| pair.as_der())
            .map(|der| der.as_ref().to_vec())
            .map_err(|_| TokenError::KeyGeneration("RSA-2048")),
    }
}

/// Makes a new current key of `alg`, stores it and retires the previous current key of that
/// algorithm. Returns the new `kid`.
pub fn rotate_key(conn: &mut Conn, alg: SigningAlg, now: i64) -> Result<String, TokenError> {
    let kid = random_token(12);
    let pkcs8 = generate_pkcs8(alg)?;
    let row = SigningKeyRow {
        kid: kid.clone(),
        alg: alg.as_str().to_owned(),
        private_key: STANDARD.encode(&pkcs8),
        public_jwk: String::new(),
        created_at: now,
        retired_at: None,
    };
    // Fill the public JWK from the parsed key, so the stored copy and the served one agree.
    let key = SigningKey::from_row(&row)?;
    let row = SigningKeyRow {
        public_jwk: key.public_jwk().to_string(),
        ..row
    };
    rows::insert(conn, &row)?;
    rows::retire_others(conn, alg.as_str(), &kid, now)?;
    tracing::info!(%kid, alg = alg.as_str(), "new signing key");
    Ok(kid)
}

/// Makes a key for every algorithm in `algs` that has no current key yet (first start).
/// Returns the `kid`s made.
///
/// Two instances starting at once on an empty database may each make one; both keys are then
/// current and published, and tokens signed with either verify everywhere.
pub fn ensure_keys(
    conn: &mut Conn,
    algs: &[SigningAlg],
    now: i64,
) -> Result<Vec<String>, TokenError> {
    let existing = rows::live(conn, i64::MAX)?;
    let mut made = Vec::new();
    for &alg in algs {
        let has_current = existing
            .iter()
            .any(|r| r.alg == alg.as_str() && r.retired_at.is_none());
        if !has_current {
            made.push(rotate_key(conn, alg, now)?);
        }
    }
    Ok(made)
}

/// Why a key was not retired.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetireRefused {
    #[error("there is no signing key {0}")]
    UnknownKid(String),
    #[error("{0} is already retired")]
    AlreadyRetired(String),
    #[error("{kid} is the only current {alg} key: rotate {alg} instead, so that a key still signs")]
    LastCurrentKey { kid: String, alg: String },
}

/// Retires the current key `kid` before its time (it stops signing; it stays published, so
/// tokens it signed verify until they expire). The only current key of its algorithm is
/// refused: a rotation replaces it, so that something still signs. The outer error is ours
/// (the database); the inner one says why the key was not retired.
pub fn retire_key(
    conn: &mut Conn,
    kid: &str,
    now: i64,
) -> Result<Result<(), RetireRefused>, TokenError> {
    let all = rows::all(conn)?;
    let Some(key) = all.iter().find(|r| r.kid == kid) else {
        return Ok(Err(RetireRefused::UnknownKid(kid.to_owned())));
    };
    if key.retired_at.is_some() {
        return Ok(Err(RetireRefused::AlreadyRetired(kid.to_owned())));
    }
    let others = all
        .iter()
        .filter(|r| r.alg == key.alg && r.kid != key.kid && r.retired_at.is_none())
        .count();
    if others == 0 {
        return Ok(Err(RetireRefused::LastCurrentKey {
            kid: kid.to_owned(),
            alg: key.alg.clone(),
        }));
    }
    if !rows::retire(conn, kid, now)? {
        return Ok(Err(RetireRefused::AlreadyRetired(kid.to_owned())));
    }
    tracing::info!(%kid, "signing key retired");
    Ok(Ok(()))
}

/// The `retired_at` of a withdrawn key (the epoch): older than any publication window.
pub const WITHDRAWN: i64 = rows::WITHDRAWN;

/// Why a key was not withdrawn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WithdrawRefused {
    #[error("there is no signing key {0}")]
    UnknownKid(String),
    #[error("{0} is current: rotate its algorithm first, then withdraw it")]
    Current(String),
    #[error("{0} is already withdrawn")]
    AlreadyWithdrawn(String),
}

/// Withdraws the retired key `kid` at once, before its tokens expire (for a key that may have
/// leaked): it leaves the JWKS, and tokens it signed stop verifying as soon as each instance
/// reloads its keys. A current key is refused: a rotation retires it first.
pub fn withdraw_key(conn: &mut Conn, kid: &str) -> Result<Result<(), WithdrawRefused>, TokenError> {
    let all = rows::all(conn)?;
    let Some(key) = all.iter().find(|r| r.kid == kid) else {
        return Ok(Err(WithdrawRefused::UnknownKid(kid.to_owned())));
    };
    if key.retired_at.is_none() {
        return Ok(Err(WithdrawRefused::Current(kid.to_owned())));
    }
    if !rows::withdraw(conn, kid)? {
        return Ok(Err(WithdrawRefused::AlreadyWithdrawn(kid.to_owned())));
    }
    tracing::warn!(%kid, "signing key withdrawn: tokens it signed no longer verify");
    Ok(Ok(()))
}

/// A key as `portcullis keys list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

pub fn list_keys(conn: &mut Conn) -> Result<Vec<KeyInfo>, TokenError> {
    Ok(rows::all(conn)?
        .into_iter()
        .map(|r| KeyInfo {
            kid: r.kid,
            alg: r.alg,
            created_at: r.created_at,
            retired_at: r.retired_at,
        })
        .collect())
}

/// The keys in use, loaded from the database: current keys sign; current and recently retired
/// keys verify and are published.
#[derive(Debug, Clone)]
pub struct Keyring {
    keys: Vec<Arc<SigningKey>>,
}

impl Keyring {
    /// Loads the current keys and those retired less than `publish_retired_for` seconds before
    /// `now` (the longest lifetime of a token they may have signed).
    pub fn load(conn: &mut Conn, now: i64, publish_retired_for: i64) -> Result<Self, TokenError> {
        let rows = rows::live(conn, now.saturating_sub(publish_retired_for))?;
        let mut keys = Vec::with_capacity(rows.len());
        for row in &rows {
            match SigningKey::from_row(row) {
                Ok(key) => keys.push(Arc::new(key)),
                // One bad row must not take every other key down with it.
                Err(e) => tracing::error!(error = %e, "skipping a stored signing key"),
            }
        }
        Ok(Self { keys })
    }

    /// A key ring of fresh keys that exists only in memory (never stored), one current key per
    /// `(kid, alg)`: for fuzz targets and property tests that verify tokens without a database.
    #[doc(hidden)]
    pub fn in_memory(keys: &[(&str, SigningAlg)], now: i64) -> Result<Self, TokenError> {
        let mut ring = Vec::with_capacity(keys.len());
        for &(kid, alg) in keys {
            let row = SigningKeyRow {
                kid: kid.to_owned(),
                alg: alg.as_str().to_owned(),
                private_key: STANDARD.encode(generate_pkcs8(alg)?),
                public_jwk: String::new(),
                created_at: now,
                retired_at: None,
            };
            ring.push(Arc::new(SigningKey::from_row(&row)?));
        }
        Ok(Self { keys: ring })
    }

    /// The newest current key of `alg`.
    pub fn current(&self, alg: SigningAlg) -> Option<&Arc<SigningKey>> {
        self.keys
            .iter()
            .filter(|k| k.alg == alg && k.retired_at.is_none())
            .max_by(|a, b| (a.created_at, &a.kid).cmp(&(b.created_at, &b.kid)))
    }

    /// The key with this `kid`, if it is one of ours and still published.
    pub fn find(&self, kid: &str) -> Option<&Arc<SigningKey>> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// The JWK Set (RFC 7517 §5): public keys only, newest first.
    pub fn jwks(&self) -> Value {
        json!({ "keys": self.keys.iter().map(|k| k.public_jwk().clone()).collect::<Vec<_>>() })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}
