//! AES-256-GCM sealing of upstream credentials under the master key.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::GatewayError;

/// The 256-bit master key (`PORTCULLIS_MASTER_KEY`: 64 hex characters or base64 of 32 bytes).
/// `Debug` prints nothing of it.
pub struct MasterKey {
    key: LessSafeKey,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// Parses 64 hex characters or the base64 of 32 bytes.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let bytes = if raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&raw[2 * i..2 * i + 2], 16).map_err(|e| e.to_string()))
                .collect::<Result<Vec<u8>, _>>()?
        } else {
            STANDARD
                .decode(raw)
                .map_err(|_| "expected 64 hex characters or base64 of 32 bytes".to_owned())?
        };
        if bytes.len() != 32 {
            return Err(format!(
                "the master key must be 32 bytes, not {}",
                bytes.len()
            ));
        }
        let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| "unusable key".to_owned())?;
        Ok(Self {
            key: LessSafeKey::new(key),
        })
    }

    /// Seals `plaintext`, bound to `context` (authenticated, not encrypted): a sealed value
    /// moved to another row does not open. Output: base64 of nonce || ciphertext || tag.
    pub fn seal(&self, plaintext: &str, context: &str) -> Result<String, GatewayError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| GatewayError::Undecryptable)?;
        let mut buf = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .map_err(|_| GatewayError::Undecryptable)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str, context: &str) -> Result<String, GatewayError> {
        let bytes = STANDARD
            .decode(sealed)
            .map_err(|_| GatewayError::Undecryptable)?;
        if bytes.len() < NONCE_LEN + 16 {
            return Err(GatewayError::Undecryptable);
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| GatewayError::Undecryptable)?;
        let mut buf = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| GatewayError::Undecryptable)?;
        String::from_utf8(plain.to_vec()).map_err(|_| GatewayError::Undecryptable)
    }
}

/// The master key the gateway runs with: without one the gateway is off (`Disabled`, before
/// anything else is looked at).
pub fn enabled<K>(configured: Option<K>) -> Result<K, crate::GatewayError> {
    configured.ok_or(crate::GatewayError::Disabled)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn sealed_values_open_only_with_the_key_and_context() {
        let key = MasterKey::parse(HEX).expect("key");
        let sealed = key.seal("Bearer sk-secret", "svc_1").expect("seal");
        assert!(!sealed.contains("sk-secret"));
        assert_eq!(
            key.open(&sealed, "svc_1").expect("open"),
            "Bearer sk-secret"
        );
        assert!(key.open(&sealed, "svc_2").is_err(), "bound to its row");
        let other = MasterKey::parse(&"11".repeat(32)).expect("key");
        assert!(other.open(&sealed, "svc_1").is_err());
        assert_ne!(
            sealed,
            key.seal("Bearer sk-secret", "svc_1").expect("seal"),
            "fresh nonce"
        );
        assert!(!format!("{key:?}").contains("0001"));
    }

    #[test]
    fn master_keys_parse_from_hex_or_base64() {
        assert!(MasterKey::parse(HEX).is_ok());
        assert!(MasterKey::parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").is_ok());
        assert!(MasterKey::parse("short").is_err());
        assert!(MasterKey::parse(&"zz".repeat(32)).is_err());
    }
}
