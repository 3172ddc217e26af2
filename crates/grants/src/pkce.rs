//! PKCE (RFC 7636): the one `CodeChallenge` type and the `PkceVerified` proof.
//!
//! oxide-auth's `Pkce` does the work (S256, the constant-time comparison, the stored encoding);
//! these types keep it behind a value that is parsed once, at the authorization request, and a
//! proof that the token endpoint checked the verifier.

use std::borrow::Cow;

use oxide_auth::code_grant::extensions::Pkce;
use oxide_auth::primitives::grant::Value;

use crate::{ErrorCode, OAuthError};

/// A code challenge as the authorization request made it: S256 only (RFC 9700 §2.1.1), kept in
/// oxide-auth's stored encoding (method and value), never shown to anyone.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl std::fmt::Debug for CodeChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeChallenge(..)")
    }
}

impl CodeChallenge {
    /// The challenge of an authorization request: `Ok(None)` without one; `Err` for a method
    /// other than S256 (`plain` included, and the default when the method is left out).
    pub(crate) fn from_request(
        method: Option<&str>,
        challenge: Option<&str>,
    ) -> Result<Option<Self>, ()> {
        let value =
            Pkce::optional().challenge(method.map(Cow::Borrowed), challenge.map(Cow::Borrowed))?;
        Ok(value
            .and_then(|v| v.into_private_value().ok().flatten())
            .map(Self))
    }

    /// A challenge this server stored with a code.
    pub fn from_stored(stored: &str) -> Self {
        Self(stored.to_owned())
    }

    /// The form the code row keeps.
    pub fn as_stored(&self) -> &str {
        &self.0
    }
}

/// Proof that the token request satisfied PKCE for its code (RFC 7636 §4.6): the verifier
/// matched the stored challenge, or neither exists (a confidential client's code without PKCE).
/// Only [`verify_pkce`] makes one.
#[derive(Debug)]
pub struct PkceVerified(());

/// RFC 7636 §4.6: 43–128 characters of `A-Z a-z 0-9 - . _ ~`.
pub fn is_pkce_value(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Checks a PKCE verifier against the stored challenge (RFC 7636 §4.6). A verifier without a
/// stored challenge is refused too (a downgrade, RFC 9700 §4.8.2).
pub fn verify_pkce(
    stored: Option<&CodeChallenge>,
    verifier: Option<&str>,
) -> Result<PkceVerified, OAuthError> {
    let bad = |why: &str| OAuthError::new(ErrorCode::InvalidGrant, why);
    match (stored, verifier) {
        (None, None) => Ok(PkceVerified(())),
        (None, Some(_)) => Err(bad(
            "code_verifier sent but the authorization request had no code_challenge",
        )),
        (Some(_), None) => Err(bad("code_verifier is required")),
        (Some(stored), Some(verifier)) => {
            if !is_pkce_value(verifier) {
                return Err(bad("code_verifier is malformed"));
            }
            let value = Value::private(Some(stored.0.clone()));
            Pkce::optional()
                .verify(Some(value), Some(Cow::Borrowed(verifier)))
                .map(|()| PkceVerified(()))
                .map_err(|()| bad("code_verifier does not match the code_challenge"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_round_trip_and_downgrades() {
        // base64url(SHA-256(verifier)), computed independently.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r7wW1gFWFOEjXk";
        let challenge = "bwWFMyPfdG9qreDhH2lmftFx_dFeLDalzcT1gb_j68g";
        let stored = CodeChallenge::from_request(Some("S256"), Some(challenge))
            .expect("S256")
            .expect("a challenge");
        let stored = CodeChallenge::from_stored(stored.as_stored());
        assert!(verify_pkce(Some(&stored), Some(verifier)).is_ok());
        assert!(verify_pkce(Some(&stored), Some(&verifier.replace('d', "e"))).is_err());
        assert!(verify_pkce(Some(&stored), None).is_err());
        assert!(verify_pkce(None, Some(verifier)).is_err());
        assert!(verify_pkce(Some(&stored), Some("short")).is_err());
        assert!(verify_pkce(None, None).is_ok());
        assert!(CodeChallenge::from_request(Some("plain"), Some(challenge)).is_err());
        assert!(
            CodeChallenge::from_request(None, Some(challenge)).is_err(),
            "no method means plain"
        );
        assert_eq!(CodeChallenge::from_request(None, None), Ok(None));
        assert_eq!(format!("{stored:?}"), "CodeChallenge(..)", "never shown");
    }
}
