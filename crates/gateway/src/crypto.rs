//! AES-256-GCM sealing of upstream credentials under the master key (one
//! [`primitives::seal::SealingKey`]).

use primitives::seal::SealingKey;

use crate::GatewayError;

/// The 256-bit master key (`PORTCULLIS_MASTER_KEY`: 64 hex characters or base64 of 32 bytes).
/// `Debug` prints nothing of it.
#[derive(Debug)]
pub struct MasterKey {
    key: SealingKey,
}

impl MasterKey {
    /// Parses 64 hex characters or the base64 of 32 bytes.
    pub fn parse(raw: &str) -> Result<Self, String> {
        SealingKey::parse(raw)
            .map(|key| Self { key })
            .map_err(|e| e.replace("a key must", "the master key must"))
    }

    /// Seals `plaintext`, bound to `context` (authenticated, not encrypted): a sealed value
    /// moved to another row does not open. Output: base64 of nonce || ciphertext || tag.
    pub fn seal(&self, plaintext: &str, context: &str) -> Result<String, GatewayError> {
        Ok(self.key.seal(plaintext.as_bytes(), context))
    }

    pub fn open(&self, sealed: &str, context: &str) -> Result<String, GatewayError> {
        let plain = self
            .key
            .open(sealed, context)
            .map_err(|_| GatewayError::Undecryptable)?;
        String::from_utf8(plain).map_err(|_| GatewayError::Undecryptable)
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
