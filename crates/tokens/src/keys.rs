//! Signing keys: generation, storage sealed under the master key, rotation (by hand, at once;
//! or on a schedule, published ahead of use), the in-memory key ring and the JWKS.
//!
//! A private key is stored sealed (AES-256-GCM under the first key of
//! `PORTCULLIS_ENCRYPTION_KEYS`, bound to its `kid` as associated data), so a copy of the
//! database alone signs nothing and a sealed key moved to another row does not open. Without a
//! master key, keys are stored in the clear (base64 PKCS#8) and sealed at the next start with
//! one ([`seal_stored_keys`]).

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
use primitives::seal::KeyRing;
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
    /// When the key starts signing; before, it is only published.
    pub signs_from: i64,
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
            .field("signs_from", &self.signs_from)
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

    fn from_row(row: &SigningKeyRow, seal: Option<&KeyRing>) -> Result<Self, TokenError> {
        Self::from_pkcs8(row, &private_pkcs8(row, seal)?)
    }

    /// The key of `row` (all but its private part) with the private part `pkcs8`.
    fn from_pkcs8(row: &SigningKeyRow, pkcs8: &[u8]) -> Result<Self, TokenError> {
        let bad = |reason: &str| bad_key(&row.kid, reason);
        let alg = SigningAlg::parse(&row.alg).ok_or_else(|| bad("unknown algorithm"))?;
        let (pair, decoding, mut jwk) = match alg {
            SigningAlg::Es256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
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
                    RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| bad("not an RSA PKCS#8 key"))?;
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
                let pair = Ed25519KeyPair::from_pkcs8(pkcs8)
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
            signs_from: row.signs_from,
            pair,
            decoding,
            jwk,
        })
    }
}

fn bad_key(kid: &str, reason: &str) -> TokenError {
    TokenError::BadStoredKey {
        kid: kid.to_owned(),
        reason: reason.to_owned(),
    }
}

/// What a signing key's private part is sealed with besides the master key: its `kid`, so a
/// sealed key copied to another row does not open.
fn seal_context(kid: &str) -> String {
    format!("signing-key:{kid}")
}

/// The PKCS#8 document of a stored key, opened with `seal` when it is sealed. A sealed key
/// without a master key, or one that does not open with it, is an error naming the key.
pub fn private_pkcs8(row: &SigningKeyRow, seal: Option<&KeyRing>) -> Result<Vec<u8>, TokenError> {
    if !row.sealed {
        return STANDARD
            .decode(&row.private_key)
            .map_err(|_| bad_key(&row.kid, "the private key is not base64"));
    }
    let ring = seal.ok_or_else(|| {
        bad_key(
            &row.kid,
            "it is sealed and no encryption keys are configured (PORTCULLIS_ENCRYPTION_KEYS)",
        )
    })?;
    ring.open(&row.private_key, &seal_context(&row.kid))
        .map_err(|_| {
            let under = row.private_key.split_once('.').map_or("", |(id, _)| id);
            bad_key(
                &row.kid,
                &format!(
                    "it does not open with the configured encryption keys (sealed under key id \
                     {under:?}; PORTCULLIS_ENCRYPTION_KEYS must hold that key)"
                ),
            )
        })
}

/// A new key of `alg` as stored: sealed under `seal` when given, else in the clear.
fn new_row(
    alg: SigningAlg,
    now: i64,
    signs_from: i64,
    successor_of: Option<&str>,
    seal: Option<&KeyRing>,
) -> Result<SigningKeyRow, TokenError> {
    let kid = random_token(12);
    let pkcs8 = generate_pkcs8(alg)?;
    let mut row = SigningKeyRow {
        kid: kid.clone(),
        alg: alg.as_str().to_owned(),
        private_key: String::new(),
        public_jwk: String::new(),
        created_at: now,
        retired_at: None,
        sealed: seal.is_some(),
        signs_from,
        successor_of: successor_of.map(str::to_owned),
    };
    // Fill the public JWK from the parsed key, so the stored copy and the served one agree.
    row.public_jwk = SigningKey::from_pkcs8(&row, &pkcs8)?
        .public_jwk()
        .to_string();
    row.private_key = match seal {
        Some(ring) => ring.seal(&pkcs8, &seal_context(&kid)),
        None => STANDARD.encode(&pkcs8),
    };
    Ok(row)
}

/// Seals under `ring` every stored key still in the clear (kept from a start without a master
/// key), in one transaction; returns their `kid`s. Idempotent, and safe with two instances
/// starting at once: a key another instance sealed first is left as it sealed it.
pub fn seal_stored_keys(conn: &mut Conn, ring: &KeyRing) -> Result<Vec<String>, TokenError> {
    store::transaction(conn, |conn| {
        let mut sealed = Vec::new();
        for row in rows::unsealed(conn)? {
            let pkcs8 = private_pkcs8(&row, None)?;
            if rows::seal(conn, &row.kid, &ring.seal(&pkcs8, &seal_context(&row.kid)))? {
                sealed.push(row.kid);
            }
        }
        Ok::<_, TokenError>(sealed)
    })
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

/// Makes a new current key of `alg` that signs at once (sealed under `seal` when given),
/// stores it and retires every other current key of that algorithm, a key published ahead of
/// use included. Returns the new `kid`. This is the manual rotation (`portcullis keys rotate`,
/// the console): immediate, for a key that may have leaked; instances that have not loaded the
/// new key yet reload at its first token, and the retired key stays published, so tokens of
/// either verify everywhere. The scheduled rotation is [`rotate_if_due`].
pub fn rotate_key(
    conn: &mut Conn,
    alg: SigningAlg,
    now: i64,
    seal: Option<&KeyRing>,
) -> Result<String, TokenError> {
    let row = new_row(alg, now, now, None, seal)?;
    let kid = row.kid.clone();
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
    seal: Option<&KeyRing>,
) -> Result<Vec<String>, TokenError> {
    let existing = rows::live(conn, i64::MAX)?;
    let mut made = Vec::new();
    for &alg in algs {
        let has_current = existing
            .iter()
            .any(|r| r.alg == alg.as_str() && r.retired_at.is_none());
        if !has_current {
            made.push(rotate_key(conn, alg, now, seal)?);
        }
    }
    Ok(made)
}

/// The scheduled rotation (`PORTCULLIS_KEY_ROTATION_DAYS`, `PORTCULLIS_KEY_PREPUBLISH_HOURS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationSchedule {
    /// Seconds a key signs before its successor takes over; 0: no scheduled rotation.
    pub every: i64,
    /// Seconds a successor is published before it signs, so that verifiers holding a cached
    /// JWKS know it by then.
    pub prepublish: i64,
}

/// What one [`rotate_if_due`] step changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotationStep {
    /// Successors made (published now, signing after the pre-publication time).
    pub made: Vec<String>,
    /// How many keys were retired because their successor signs now.
    pub retired: usize,
}

impl RotationStep {
    pub fn changed(&self) -> bool {
        !self.made.is_empty() || self.retired > 0
    }
}

/// One step of the scheduled rotation, for every algorithm that has a signing key:
/// - once a successor's `signs_from` has come, the keys it replaced are retired (at `now`:
///   they stay published for the longest token lifetime, then leave the JWKS);
/// - when the signing key has signed `every - prepublish` seconds and has no successor yet, a
///   successor is made (sealed under `seal` when given) that signs `prepublish` seconds later.
///
/// Instances agree through the database: each algorithm's step is one transaction, and a key
/// has at most one successor (a unique column), so two instances stepping at once make one
/// key; the one that loses the race changes nothing. Idempotent: a step with nothing due does
/// nothing. Retirement runs even when the schedule is off, so a successor made before
/// the schedule was turned off still takes over cleanly.
pub fn rotate_if_due(
    conn: &mut Conn,
    now: i64,
    schedule: RotationSchedule,
    seal: Option<&KeyRing>,
) -> Result<RotationStep, TokenError> {
    let mut step = RotationStep::default();
    for alg in SigningAlg::ALL {
        let outcome = store::transaction(conn, |conn| {
            let current: Vec<SigningKeyRow> = rows::live(conn, i64::MAX)?
                .into_iter()
                .filter(|r| r.alg == alg.as_str())
                .collect();
            let Some(signer) = current
                .iter()
                .filter(|r| r.signs_from <= now)
                .max_by(|a, b| {
                    (a.signs_from, a.created_at, &a.kid).cmp(&(b.signs_from, b.created_at, &b.kid))
                })
            else {
                return Ok::<_, TokenError>((None, 0));
            };
            let retired =
                rows::retire_replaced(conn, alg.as_str(), &signer.kid, signer.signs_from, now)?;
            let has_successor = current.iter().any(|r| r.signs_from > now);
            let due = signer
                .signs_from
                .saturating_add(schedule.every - schedule.prepublish);
            if schedule.every <= 0 || has_successor || now < due {
                return Ok((None, retired));
            }
            let row = new_row(
                alg,
                now,
                now.saturating_add(schedule.prepublish),
                Some(&signer.kid),
                seal,
            )?;
            rows::insert(conn, &row)?;
            Ok((Some(row.kid), retired))
        });
        match outcome {
            Ok((made, retired)) => {
                if let Some(kid) = made {
                    tracing::info!(%kid, alg = alg.as_str(), "new signing key published ahead of use");
                    step.made.push(kid);
                }
                if retired > 0 {
                    tracing::info!(
                        alg = alg.as_str(),
                        retired,
                        "signing keys replaced by their successor"
                    );
                }
                step.retired += retired;
            }
            // Another instance made the successor first (PostgreSQL: our transaction saw no
            // successor, then its insert met the unique column): its key is the one.
            Err(TokenError::Store(store::StoreError::Conflict)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(step)
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
    // A key published ahead of use does not sign yet: it does not count.
    let others = all
        .iter()
        .filter(|r| {
            r.alg == key.alg && r.kid != key.kid && r.retired_at.is_none() && r.signs_from <= now
        })
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
    /// When it signs (or signed) from; later than now for a key published ahead of use.
    pub signs_from: i64,
    /// The id of the master key (`PORTCULLIS_ENCRYPTION_KEYS` entry) its private part is
    /// sealed under; `None` while stored in the clear.
    pub sealed_under: Option<String>,
}

pub fn list_keys(conn: &mut Conn) -> Result<Vec<KeyInfo>, TokenError> {
    Ok(rows::all(conn)?
        .into_iter()
        .map(|r| KeyInfo {
            kid: r.kid,
            alg: r.alg,
            created_at: r.created_at,
            retired_at: r.retired_at,
            signs_from: r.signs_from,
            sealed_under: r
                .private_key
                .split_once('.')
                .filter(|_| r.sealed)
                .map(|(id, _)| id.to_owned()),
        })
        .collect())
}

/// The keys in use, loaded from the database: current keys sign (once their `signs_from` has
/// come); current, published-ahead and recently retired keys verify and are published.
#[derive(Debug, Clone)]
pub struct Keyring {
    keys: Vec<Arc<SigningKey>>,
    /// When the ring was loaded: which current key signs is decided at this time.
    now: i64,
}

impl Keyring {
    /// Loads the current keys and those retired less than `publish_retired_for` seconds before
    /// `now` (the longest lifetime of a token they may have signed), opening sealed keys with
    /// `seal`. A key that does not load is logged and skipped.
    pub fn load(
        conn: &mut Conn,
        now: i64,
        publish_retired_for: i64,
        seal: Option<&KeyRing>,
    ) -> Result<Self, TokenError> {
        Self::load_with(conn, now, publish_retired_for, seal, false)
    }

    /// [`Keyring::load`], failing on the first key that does not load (a sealed key without
    /// the master key, or under another one), with an error naming it: the start-up check.
    pub fn load_all(
        conn: &mut Conn,
        now: i64,
        publish_retired_for: i64,
        seal: Option<&KeyRing>,
    ) -> Result<Self, TokenError> {
        Self::load_with(conn, now, publish_retired_for, seal, true)
    }

    fn load_with(
        conn: &mut Conn,
        now: i64,
        publish_retired_for: i64,
        seal: Option<&KeyRing>,
        strict: bool,
    ) -> Result<Self, TokenError> {
        let rows = rows::live(conn, now.saturating_sub(publish_retired_for))?;
        let mut keys = Vec::with_capacity(rows.len());
        for row in &rows {
            match SigningKey::from_row(row, seal) {
                Ok(key) => keys.push(Arc::new(key)),
                Err(e) if strict => return Err(e),
                // One bad row must not take every other key down with it.
                Err(e) => tracing::error!(error = %e, "skipping a stored signing key"),
            }
        }
        Ok(Self { keys, now })
    }

    /// A key ring of fresh keys that exists only in memory (never stored), one current key per
    /// `(kid, alg)`: for fuzz targets and property tests that verify tokens without a database.
    #[doc(hidden)]
    pub fn in_memory(keys: &[(&str, SigningAlg)], now: i64) -> Result<Self, TokenError> {
        let mut ring = Vec::with_capacity(keys.len());
        for &(kid, alg) in keys {
            let row = SigningKeyRow {
                kid: kid.to_owned(),
                ..new_row(alg, now, now, None, None)?
            };
            ring.push(Arc::new(SigningKey::from_row(&row, None)?));
        }
        Ok(Self { keys: ring, now })
    }

    /// The current key of `alg` that signs: of the current keys whose `signs_from` has come
    /// when the ring was loaded, the one that came last (a key published ahead of use takes
    /// over at its time, on every instance by the time it reloads).
    pub fn current(&self, alg: SigningAlg) -> Option<&Arc<SigningKey>> {
        self.keys
            .iter()
            .filter(|k| k.alg == alg && k.retired_at.is_none() && k.signs_from <= self.now)
            .max_by(|a, b| {
                (a.signs_from, a.created_at, &a.kid).cmp(&(b.signs_from, b.created_at, &b.kid))
            })
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
