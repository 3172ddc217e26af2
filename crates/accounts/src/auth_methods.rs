//! How a person proved who they are: the RFC 8176 authentication method references (`amr`)
//! of a sign-in, and the authentication context class (`acr`) they amount to. Recorded on the
//! browser session and carried to the codes and refresh families it leads to, so that every ID
//! token says how its user signed in.

/// One authentication method (RFC 8176 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AuthMethod {
    /// A password.
    Pwd,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pwd => "pwd",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "pwd" => Some(Self::Pwd),
            _ => None,
        }
    }
}

/// The `acr` of a sign-in with one factor.
pub const ACR_SINGLE_FACTOR: &str = "urn:portcullis:pwd";

/// The methods of one sign-in: never empty, in a fixed order, each once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthMethods(Vec<AuthMethod>);

impl AuthMethods {
    /// A sign-in with a password.
    pub fn password() -> Self {
        Self(vec![AuthMethod::Pwd])
    }

    /// From what the store holds (space-separated). Only this crate's own values are ever
    /// written; an unknown one is dropped, and nothing known reads as a password sign-in (the
    /// only way in before methods were recorded).
    pub fn from_stored(stored: &str) -> Self {
        let mut methods: Vec<AuthMethod> =
            stored.split(' ').filter_map(AuthMethod::parse).collect();
        methods.sort();
        methods.dedup();
        if methods.is_empty() {
            return Self::password();
        }
        Self(methods)
    }

    /// As the store keeps it.
    pub fn as_stored(&self) -> String {
        self.claim().join(" ")
    }

    /// The `amr` claim.
    pub fn claim(&self) -> Vec<&'static str> {
        self.0.iter().map(|m| m.as_str()).collect()
    }

    /// The `acr` claim.
    pub fn acr(&self) -> &'static str {
        ACR_SINGLE_FACTOR
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_methods_read_back_and_unknown_ones_fall_to_a_password() {
        let pwd = AuthMethods::password();
        assert_eq!(AuthMethods::from_stored(&pwd.as_stored()), pwd);
        assert_eq!(pwd.claim(), ["pwd"]);
        assert_eq!(pwd.acr(), "urn:portcullis:pwd");
        assert_eq!(AuthMethods::from_stored("pwd pwd"), pwd);
        assert_eq!(AuthMethods::from_stored(""), pwd);
        assert_eq!(AuthMethods::from_stored("smartcard"), pwd);
    }
}
