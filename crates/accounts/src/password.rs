//! argon2id password hashing with the OWASP parameters (19 MiB, 2 iterations, 1 lane).
//!
//! At most one hash per CPU core runs at a time, each in a 19 MiB work area kept for reuse.
//! Without the bound, a burst of sign-ins ran one hash per waiting request at once: 32
//! concurrent logins held 800 MB, which the allocator then kept. With it the memory of
//! hashing stays at cores × 19 MiB, throughput is the same (the cores were the limit anyway),
//! and the extra sign-ins wait their turn.

use std::sync::{Condvar, Mutex, OnceLock};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Block, Params, Version};
use rand::Rng as _;

use crate::AccountError;
use crate::error::invalid;

/// Memory cost in KiB, iterations and lanes (OWASP Password Storage Cheat Sheet, argon2id).
pub const OWASP_PARAMS: (u32, u32, u32) = (19 * 1024, 2, 1);

/// Bytes of the hash output stored in the PHC string.
const OUTPUT_LEN: usize = 32;

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

/// Work areas for argon2: at most `limit` in use at once, each reused once made.
#[derive(Debug)]
struct WorkAreas {
    state: Mutex<(usize, Vec<Vec<Block>>)>,
    freed: Condvar,
    limit: usize,
}

impl WorkAreas {
    fn new(limit: usize) -> Self {
        Self {
            state: Mutex::new((0, Vec::new())),
            freed: Condvar::new(),
            limit: limit.max(1),
        }
    }

    /// Runs `f` with a work area of `blocks` blocks, waiting for a free one.
    fn with<T>(&self, blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
        let mut area = {
            let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                let (in_use, free) = &mut *guard;
                if *in_use < self.limit {
                    *in_use += 1;
                    break free.pop().unwrap_or_default();
                }
                guard = self.freed.wait(guard).unwrap_or_else(|p| p.into_inner());
            }
        };
        area.resize(blocks, Block::default());
        let value = f(&mut area);
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        guard.0 -= 1;
        guard.1.push(area);
        drop(guard);
        self.freed.notify_one();
        value
    }
}

/// Hashes and verifies passwords.
#[derive(Debug)]
pub struct PasswordHasher {
    params: Params,
    areas: WorkAreas,
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
        let params = Params::new(m, t, p, Some(OUTPUT_LEN)).unwrap_or_default();
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            params,
            areas: WorkAreas::new(cores),
            dummy: OnceLock::new(),
        }
    }

    /// argon2id of `password` and `salt` with `params` into `out`, in a pooled work area.
    fn compute(
        &self,
        params: &Params,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), argon2::Error> {
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        self.areas.with(params.block_count(), |area| {
            argon.hash_password_into_with_memory(password, salt, out, area)
        })
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
    pub fn hash(&self, password: &str) -> Result<String, AccountError> {
        check_password_rules(password)?;
        let fail = |e: &dyn std::fmt::Display| AccountError::Hashing(e.to_string());
        let salt_bytes: [u8; 16] = rand::rng().random();
        let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| fail(&e))?;
        let mut out = [0u8; OUTPUT_LEN];
        self.compute(&self.params, password.as_bytes(), &salt_bytes, &mut out)
            .map_err(|e| fail(&e))?;
        let phc = PasswordHash {
            algorithm: ARGON2ID_IDENT,
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params).map_err(|e| fail(&e))?,
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(&out).map_err(|e| fail(&e))?),
        };
        Ok(phc.to_string())
    }

    /// Whether `password` matches `stored` (compared in constant time). A malformed stored
    /// hash, or one of another algorithm or version, never matches.
    pub fn verify(&self, password: &str, stored: &str) -> bool {
        if password.len() > 1024 {
            return false;
        }
        let Ok(parsed) = PasswordHash::new(stored) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return false;
        };
        if parsed.algorithm != ARGON2ID_IDENT
            || parsed
                .version
                .is_some_and(|v| v != u32::from(Version::V0x13))
        {
            return false;
        }
        let Ok(params) = Params::try_from(&parsed) else {
            return false;
        };
        let mut salt_buf = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
            return false;
        };
        let mut out = vec![0u8; expected.len()];
        if self
            .compute(&params, password.as_bytes(), salt, &mut out)
            .is_err()
        {
            return false;
        }
        // `Output`'s equality is constant-time.
        Output::new(&out).is_ok_and(|computed| computed == expected)
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
    fn hashes_agree_with_the_argon2_crates_own_phc_hashing() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let (m, t, p) = OWASP_PARAMS;
        let params = Params::new(m, t, p, None).expect("params");
        let reference = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::encode_b64(&[7u8; 16]).expect("salt");
        let theirs = reference
            .hash_password(b"correct horse battery", &salt)
            .expect("hash")
            .to_string();
        let h = PasswordHasher::new();
        assert!(h.verify("correct horse battery", &theirs));
        assert!(!h.verify("correct horse batterx", &theirs));
        let ours = h.hash("correct horse battery").expect("hash");
        let parsed = PasswordHash::new(&ours).expect("phc");
        assert!(
            reference
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        // Another algorithm under the same parameters never matches.
        assert!(!h.verify(
            "correct horse battery",
            &theirs.replace("argon2id", "argon2i")
        ));
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
