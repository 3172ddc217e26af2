//! Primitives every domain crate shares: the clock, secrets, random identifiers.
//!
//! Owns: the injected [`Clock`] (the one place that reads the system time), secrets as types
//! ([`PlainSecret`], [`SecretHash`]), and random identifiers and tokens.
//!
//! Architecture invariants:
//! - Depends on nothing of ours and knows nothing of HTTP, storage or OAuth.
//! - A [`PlainSecret`] exists only between its creation and the response that shows it once;
//!   what is stored is its [`SecretHash`]. Neither prints its value with `Debug`.
//! - Secrets are compared through their hashes in constant time.
//! - Domain code asks a [`Clock`] for the time, never `SystemTime::now`, so expiry is testable
//!   without sleeping.

pub mod seal;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// Where domain code gets the time: unix seconds.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> i64;
}

/// A shared clock.
pub type SharedClock = Arc<dyn Clock>;

/// The real time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }
}

/// A clock tests move by hand.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(now: i64) -> Self {
        Self(AtomicI64::new(now))
    }

    pub fn set(&self, now: i64) {
        self.0.store(now, Ordering::SeqCst);
    }

    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A moment in UTC, in calendar terms (proleptic Gregorian): what pages and file names show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcDateTime {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
}

impl UtcDateTime {
    /// From unix seconds, by Howard Hinnant's days-to-civil algorithm.
    pub fn from_unix(unix: i64) -> Self {
        let days = unix.div_euclid(86_400);
        let secs = unix.rem_euclid(86_400);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        Self {
            year: yoe + era * 400 + i64::from(month <= 2),
            month,
            day,
            hour: secs / 3600,
            minute: secs % 3600 / 60,
            second: secs % 60,
        }
    }
}

/// `n` random bytes from the operating system's CSPRNG, base64url without padding.
pub fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill(&mut bytes[..]);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `n` characters drawn uniformly from `alphabet` by the operating system's CSPRNG (a
/// uniform range, so no character is likelier than another).
pub fn random_chars(alphabet: &[u8], n: usize) -> String {
    assert!(!alphabet.is_empty(), "an alphabet to draw from");
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// A random identifier: 128 bits, 22 URL-safe characters.
pub fn random_id() -> String {
    random_token(16)
}

/// A secret in plaintext: 256 random bits, base64url. It exists only to be shown once; keep
/// its [`SecretHash`] instead. `Debug` prints nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainSecret(String);

impl PlainSecret {
    /// A new random secret of 256 bits (RFC 6749 §10.10 asks for at most 2^-128 odds).
    pub fn generate() -> Self {
        Self(random_token(32))
    }

    /// A new random secret with a fixed, never-changed prefix (e.g. `pcl_sk_`), so leaked
    /// secrets can be recognised by scanners.
    pub fn generate_with_prefix(prefix: &str) -> Self {
        Self(format!("{prefix}{}", random_token(32)))
    }

    /// Wraps a secret presented by a caller, to hash and compare it.
    pub fn from_presented(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The plaintext, for the one response that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&self.0)
    }
}

impl fmt::Debug for PlainSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainSecret(<redacted>)")
    }
}

/// The pad that seals a value for the holder of `holder`: SHA-256 of a fixed label and the
/// holder's secret. The label keeps it apart from [`SecretHash::of`] `holder`, which is what
/// the database stores; without the holder's plaintext the pad cannot be computed.
fn holder_pad(holder: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"portcullis/sealed-for-holder/v1\0");
    hasher.update(holder.as_bytes());
    hasher.finalize().into()
}

/// Seals a 256-bit secret (one made by [`PlainSecret::generate`]) so that only whoever presents
/// `holder` again can open it: XOR with a pad derived from `holder`. A one-time pad, so each
/// holder secret must seal one value only (a used refresh token seals its one successor).
/// `None` for a secret that is not 256 bits of base64url.
pub fn seal_for_holder(secret: &PlainSecret, holder: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(secret.expose()).ok()?;
    let bytes: [u8; 32] = bytes.try_into().ok()?;
    let pad = holder_pad(holder);
    let sealed: Vec<u8> = bytes.iter().zip(pad).map(|(b, p)| b ^ p).collect();
    Some(URL_SAFE_NO_PAD.encode(sealed))
}

/// Opens what [`seal_for_holder`] sealed for `holder`. A wrong holder gives another (useless)
/// secret: callers check the result against the hash they store.
pub fn open_for_holder(sealed: &str, holder: &str) -> Option<PlainSecret> {
    let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    let bytes: [u8; 32] = bytes.try_into().ok()?;
    let pad = holder_pad(holder);
    let plain: Vec<u8> = bytes.iter().zip(pad).map(|(b, p)| b ^ p).collect();
    Some(PlainSecret(URL_SAFE_NO_PAD.encode(plain)))
}

/// SHA-256 of a secret, hex-encoded: what the database holds. High-entropy random secrets need
/// no salt or slow hash; passwords use argon2id instead (accounts).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretHash(String);

impl SecretHash {
    pub fn of(secret: &str) -> Self {
        let digest = Sha256::digest(secret.as_bytes());
        let mut hex = String::with_capacity(64);
        for byte in digest {
            hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
            hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 0xf)]));
        }
        Self(hex)
    }

    /// A hash read back from storage.
    pub fn from_stored(hex: impl Into<String>) -> Self {
        Self(hex.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `presented` hashes to this value, in time independent of where they differ.
    pub fn matches(&self, presented: &str) -> bool {
        let other = Self::of(presented);
        bool::from(self.0.as_bytes().ct_eq(other.0.as_bytes()))
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_date_times_are_civil() {
        let t = UtcDateTime::from_unix(951_782_400 + 3_723);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.second),
            (2000, 2, 29, 1, 2, 3)
        );
        let epoch = UtcDateTime::from_unix(0);
        assert_eq!((epoch.year, epoch.month, epoch.day), (1970, 1, 1));
        let before = UtcDateTime::from_unix(-1);
        assert_eq!(
            (before.year, before.month, before.day, before.second),
            (1969, 12, 31, 59)
        );
    }

    #[test]
    fn secrets_are_256_bits_and_distinct() {
        let a = PlainSecret::generate();
        let b = PlainSecret::generate();
        assert_eq!(a.expose().len(), 43);
        assert_ne!(a, b);
        assert!(
            a.expose()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_holder_and_is_not_its_hash() {
        let holder = PlainSecret::generate();
        let secret = PlainSecret::generate();
        let sealed = seal_for_holder(&secret, holder.expose()).expect("256 bits");
        assert_ne!(sealed, secret.expose());
        assert_eq!(
            open_for_holder(&sealed, holder.expose()),
            Some(secret.clone())
        );
        // Another holder opens something else; the stored hash of the holder is no key.
        assert_ne!(
            open_for_holder(&sealed, "someone else"),
            Some(secret.clone())
        );
        assert_ne!(
            open_for_holder(&sealed, holder.hash().as_str()),
            Some(secret.clone())
        );
        assert!(seal_for_holder(&PlainSecret::from_presented("short"), "h").is_none());
        assert!(open_for_holder("not base64!", "h").is_none());
    }

    #[test]
    fn hashes_match_only_their_secret() {
        let s = PlainSecret::generate();
        let h = s.hash();
        assert_eq!(h.as_str().len(), 64);
        assert!(h.matches(s.expose()));
        assert!(!h.matches("wrong"));
        assert!(!h.matches(""));
        assert_eq!(
            SecretHash::of("abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn debug_prints_nothing_secret() {
        let s = PlainSecret::from_presented("hunter2-very-secret");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{:?}", s.hash()).contains(s.hash().as_str()));
    }

    #[test]
    fn prefixed_secrets_keep_their_prefix() {
        let s = PlainSecret::generate_with_prefix("pcl_sk_");
        assert!(s.expose().starts_with("pcl_sk_"));
        assert_eq!(s.expose().len(), 7 + 43);
    }

    #[test]
    fn the_manual_clock_moves_only_when_told() {
        let c = ManualClock::new(1_000);
        assert_eq!(c.now(), 1_000);
        c.advance(60);
        assert_eq!(c.now(), 1_060);
        c.set(5);
        assert_eq!(c.now(), 5);
        assert!(SystemClock.now() > 1_700_000_000);
    }
}
