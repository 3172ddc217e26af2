//! `Scope`: the one scope type (RFC 6749 §3.3). Parsed once; compared as a set; kept in a
//! stable order (the order a grant was made in) so tokens and stored grants read the same way
//! every time.

use std::fmt;
use std::str::FromStr as _;

use crate::{ErrorCode, OAuthError};

/// A set of scope tokens, in order of first appearance, without repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope(Vec<String>);

impl Scope {
    /// A scope as a client sends it: space-separated tokens of the characters RFC 6749 §3.3
    /// allows (`%x21 / %x23-5B / %x5D-7E`); the check is oxide-auth's.
    pub fn parse(raw: &str) -> Result<Self, OAuthError> {
        oxide_auth::primitives::scope::Scope::from_str(raw).map_err(|_| {
            OAuthError::new(
                ErrorCode::InvalidScope,
                "the scope has characters RFC 6749 §3.3 does not allow",
            )
        })?;
        Ok(Self::from_stored(raw))
    }

    /// A scope this server wrote itself (a stored grant, registered metadata): split on
    /// spaces, no character check.
    pub fn from_stored(raw: &str) -> Self {
        Self::from_tokens(raw.split(' '))
    }

    /// The tokens given, empty ones dropped, repeats kept once.
    pub fn from_tokens<S: AsRef<str>>(tokens: impl IntoIterator<Item = S>) -> Self {
        let mut out: Vec<String> = Vec::new();
        for t in tokens {
            let t = t.as_ref();
            if !t.is_empty() && !out.iter().any(|o| o == t) {
                out.push(t.to_owned());
            }
        }
        Self(out)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.iter().any(|t| t == token)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Whether every token of `self` is in `other`.
    pub fn is_subset_of(&self, other: &Scope) -> bool {
        self.first_outside(other).is_none()
    }

    /// The first token of `self` that `other` lacks.
    pub fn first_outside(&self, other: &Scope) -> Option<&str> {
        self.iter().find(|t| !other.contains(t))
    }

    /// `self`, then the tokens of `other` it lacks.
    pub fn union(&self, other: &Scope) -> Scope {
        Self::from_tokens(self.iter().chain(other.iter()))
    }

    /// The tokens of `self` that `asked` names, in `self`'s order: a grant narrowed to what a
    /// request asks. `Err` names the first asked token `self` does not hold (a request may
    /// narrow a grant, never widen it).
    pub fn narrow_to(&self, asked: &Scope) -> Result<Scope, String> {
        if let Some(extra) = asked.first_outside(self) {
            return Err(extra.to_owned());
        }
        Ok(Self(
            self.0
                .iter()
                .filter(|t| asked.contains(t))
                .cloned()
                .collect(),
        ))
    }

    /// The space-separated form, `None` when empty (a token without `scope`).
    pub fn to_option(&self) -> Option<String> {
        (!self.is_empty()).then(|| self.to_string())
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_drops_empty_tokens_and_repeats() {
        let s = Scope::parse("openid  email openid").expect("valid");
        assert_eq!(s.to_string(), "openid email");
        assert!(Scope::parse("a\"b").is_err());
        assert!(Scope::parse("caf\u{e9}").is_err());
    }

    #[test]
    fn narrowing_keeps_the_grant_order_and_refuses_widening() {
        let granted = Scope::from_stored("openid profile email");
        let asked = Scope::from_stored("email openid");
        assert_eq!(
            granted.narrow_to(&asked).expect("narrower").to_string(),
            "openid email"
        );
        assert_eq!(
            granted.narrow_to(&Scope::from_stored("email admin")),
            Err("admin".to_owned())
        );
    }

    #[test]
    fn union_and_subset() {
        let a = Scope::from_stored("openid email");
        let b = Scope::from_stored("email offline_access");
        assert_eq!(a.union(&b).to_string(), "openid email offline_access");
        assert!(Scope::from_stored("email").is_subset_of(&a));
        assert!(!b.is_subset_of(&a));
        assert_eq!(b.first_outside(&a), Some("offline_access"));
        assert_eq!(Scope::default().to_option(), None);
    }
}
