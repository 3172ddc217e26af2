//! argon2id password hashing with the OWASP parameters (19 MiB, 2 iterations, 1 lane).

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng as _;

use crate::AccountError;
use crate::error::invalid;

/// Memory cost in KiB, iterations and lanes (OWASP Password Storage Cheat Sheet, argon2id).
pub const OWASP_PARAMS: (u32, u32, u32) = (19 * 1024, 2, 1);

/// Password rules, checked before hashing: 8 characters at least, 1,024 bytes at most.
pub fn check_password_rules(password: &str) -> Result<(), AccountError> {
    if password.chars().count() < 8 {
        return Err(invalid("password", "must be at least 8 characters"));
    }
    if password.len() > 1024 {
        return Err(invalid("password", "must be at most 1024 bytes"));
    }
    Ok(())
}

/// Hashes and verifies passwords.
#[derive(Debug)]
pub struct PasswordHasher {
    argon: Argon2<'static>,
    /// A hash of a random password, verified against when the account is unknown so a failed
    /// sign-in costs the same either way.
    dummy: OnceLock<String>,
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl PasswordHasher {
    pub fn new() -> Self {
        let (m, t, p) = OWASP_PARAMS;
        // These constants are within argon2's limits, so `Params::new` cannot fail for them.
        let params = Params::new(m, t, p, None).unwrap_or_default();
        Self {
            argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            dummy: OnceLock::new(),
        }
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
    pub fn hash(&self, password: &str) -> Result<String, AccountError> {
        check_password_rules(password)?;
        let salt_bytes: [u8; 16] = rand::rng().random();
        let salt = SaltString::encode_b64(&salt_bytes)
            .map_err(|e| AccountError::Hashing(e.to_string()))?;
        self.argon
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AccountError::Hashing(e.to_string()))
    }

    /// Whether `password` matches `stored`. A malformed stored hash never matches.
    pub fn verify(&self, password: &str, stored: &str) -> bool {
        if password.len() > 1024 {
            return false;
        }
        PasswordHash::new(stored).is_ok_and(|parsed| {
            self.argon
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    }

    /// Spends the time of one verification and answers false.
    pub fn verify_dummy(&self, password: &str) -> bool {
        let dummy = self.dummy.get_or_init(|| {
            let random: [u8; 24] = rand::rng().random();
            let pw: String = random.iter().map(|b| format!("{b:02x}")).collect();
            self.hash(&pw).unwrap_or_default()
        });
        let _ = self.verify(password, dummy);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let h = PasswordHasher::new();
        let stored = h.hash("correct horse battery").expect("hash");
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(h.verify("correct horse battery", &stored));
        assert!(!h.verify("correct horse batterY", &stored));
        assert!(!h.verify("x", "not a hash"));
        assert!(!h.verify_dummy("anything"));
        assert_ne!(
            stored,
            h.hash("correct horse battery").expect("hash"),
            "salted"
        );
    }

    #[test]
    fn rules_are_checked_before_hashing() {
        assert!(check_password_rules("short").is_err());
        assert!(
            check_password_rules("ünïcödé8").is_ok(),
            "characters, not bytes"
        );
        assert!(check_password_rules(&"a".repeat(1025)).is_err());
        assert!(check_password_rules(&"a".repeat(1024)).is_ok());
        assert!(PasswordHasher::new().hash("short").is_err());
    }
}
