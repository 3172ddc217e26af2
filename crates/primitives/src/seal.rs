//! Sealing values that must be read back (a TOTP secret, an upstream credential): AES-256-GCM,
//! each value bound to a context (authenticated, not encrypted), so a sealed value copied to
//! another row or purpose does not open.
//!
//! [`SealingKey`] is one key; [`KeyRing`] is the server's ring (`PORTCULLIS_ENCRYPTION_KEYS`):
//! the first key seals, every key opens, and each sealed value names its key, so keys rotate
//! by putting a new one first and dropping the old one once nothing sealed under it is left.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// A sealed value does not open: another key, another context, or damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsealable;

impl std::fmt::Display for Unsealable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the sealed value does not open with the configured keys")
    }
}

impl std::error::Error for Unsealable {}

/// One 256-bit AES-GCM key. `Debug` prints nothing of it.
pub struct SealingKey {
    key: LessSafeKey,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(<redacted>)")
    }
}

impl SealingKey {
    /// Parses 64 hex characters or the base64 (standard or URL-safe) of 32 bytes.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let bytes = if raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&raw[2 * i..2 * i + 2], 16).map_err(|e| e.to_string()))
                .collect::<Result<Vec<u8>, _>>()?
        } else {
            STANDARD
                .decode(raw)
                .or_else(|_| URL_SAFE_NO_PAD.decode(raw.trim_end_matches('=')))
                .map_err(|_| "expected 64 hex characters or base64 of 32 bytes".to_owned())?
        };
        if bytes.len() != 32 {
            return Err(format!("a key must be 32 bytes, not {}", bytes.len()));
        }
        let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| "unusable key".to_owned())?;
        Ok(Self {
            key: LessSafeKey::new(key),
        })
    }

    /// A new random key, as base64 (what [`SealingKey::parse`] reads).
    pub fn generate() -> String {
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes);
        STANDARD.encode(bytes)
    }

    /// Seals `plaintext` bound to `context`: base64 of nonce || ciphertext || tag.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce);
        let mut buf = plaintext.to_vec();
        // Sealing fails only for a plaintext beyond AES-GCM's limit (64 GiB).
        if self
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .is_err()
        {
            panic!("plaintext too long to seal");
        }
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        STANDARD.encode(out)
    }

    /// Opens what [`SealingKey::seal`] made with the same context.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, Unsealable> {
        let bytes = STANDARD.decode(sealed).map_err(|_| Unsealable)?;
        if bytes.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(Unsealable);
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Unsealable)?;
        let mut buf = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| Unsealable)?;
        Ok(plain.to_vec())
    }
}

/// The server's keys for values sealed at rest: the first seals, all open.
#[derive(Debug)]
pub struct KeyRing {
    keys: Vec<(String, SealingKey)>,
}

impl KeyRing {
    /// Parses `ID:KEY` entries separated by commas or white space, the sealing key first. An id
    /// is 1 to 32 letters, digits, `-` or `_`; a key as [`SealingKey::parse`] reads it.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut keys: Vec<(String, SealingKey)> = Vec::new();
        for entry in raw
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|e| !e.is_empty())
        {
            let (id, key) = entry
                .split_once(':')
                .ok_or_else(|| "each entry is ID:KEY".to_owned())?;
            let id_ok = !id.is_empty()
                && id.len() <= 32
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !id_ok {
                return Err(format!(
                    "a key id is 1 to 32 letters, digits, - or _, not {id:?}"
                ));
            }
            if keys.iter().any(|(k, _)| k == id) {
                return Err(format!("the key id {id} appears twice"));
            }
            let key = SealingKey::parse(key).map_err(|e| format!("key {id}: {e}"))?;
            keys.push((id.to_owned(), key));
        }
        if keys.is_empty() {
            return Err("no keys".to_owned());
        }
        Ok(Self { keys })
    }

    /// A new ring entry `ID:KEY` with a random key.
    pub fn generate_entry(id: &str) -> String {
        format!("{id}:{}", SealingKey::generate())
    }

    /// The id of the key that seals.
    pub fn sealing_id(&self) -> &str {
        &self.keys[0].0
    }

    /// Seals `plaintext` bound to `context` under the first key: `ID.SEALED`.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> String {
        let (id, key) = &self.keys[0];
        format!("{id}.{}", key.seal(plaintext, context))
    }

    /// Opens a value sealed under any key of the ring with the same context.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, Unsealable> {
        let (id, value) = sealed.split_once('.').ok_or(Unsealable)?;
        let (_, key) = self.keys.iter().find(|(k, _)| k == id).ok_or(Unsealable)?;
        key.open(value, context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let ring = KeyRing::parse(&KeyRing::generate_entry("k1")).expect("ring");
        let sealed = ring.seal(b"JBSWY3DPEHPK3PXP", "totp:usr_1");
        assert!(sealed.starts_with("k1."));
        assert_eq!(
            ring.open(&sealed, "totp:usr_1").expect("ok"),
            b"JBSWY3DPEHPK3PXP"
        );
        assert_eq!(ring.open(&sealed, "totp:usr_2"), Err(Unsealable));
        let other = KeyRing::parse(&KeyRing::generate_entry("k1")).expect("ring");
        assert_eq!(other.open(&sealed, "totp:usr_1"), Err(Unsealable));
        assert_eq!(ring.open("k1.AAAA", "totp:usr_1"), Err(Unsealable));
        assert_eq!(ring.open("nodot", "totp:usr_1"), Err(Unsealable));
        assert!(!format!("{ring:?}").contains(&KeyRing::generate_entry("x")[2..]));
    }

    #[test]
    fn a_rotated_ring_seals_with_the_new_key_and_opens_the_old() {
        let old = KeyRing::generate_entry("2026-01");
        let new = KeyRing::generate_entry("2026-12");
        let before = KeyRing::parse(&old).expect("ok").seal(b"secret", "c");
        let ring = KeyRing::parse(&format!("{new}, {old}")).expect("ok");
        assert_eq!(ring.sealing_id(), "2026-12");
        assert_eq!(ring.open(&before, "c").expect("ok"), b"secret");
        assert!(ring.seal(b"secret", "c").starts_with("2026-12."));
    }

    #[test]
    fn bad_rings_are_refused_with_a_reason() {
        assert!(KeyRing::parse("").is_err());
        assert!(KeyRing::parse("nokey").is_err());
        assert!(KeyRing::parse("k1:short").is_err());
        assert!(KeyRing::parse("bad.id:AAAA").is_err());
        let e = KeyRing::generate_entry("a");
        assert!(
            KeyRing::parse(&format!("{e} {e}"))
                .expect_err("an error")
                .contains("twice")
        );
        assert!(KeyRing::parse(&format!("a:{}", "00".repeat(32))).is_ok());
    }
}
