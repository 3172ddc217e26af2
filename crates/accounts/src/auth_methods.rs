//! How a person proved who they are: the RFC 8176 authentication method references (`amr`)
//! of a sign-in, and the authentication context class (`acr`) they amount to. Recorded on the
//! browser session and carried to the codes and refresh families it leads to, so that every ID
//! token says how its user signed in.
//!
//! Factors fall in three kinds: something known or vouched for (`pwd`, or `fed`: an upstream
//! provider's sign-in), something held (`otp`: a TOTP or recovery code; `hwk`: a passkey's
//! key), and the user verified on the device (`user`: the passkey's PIN or biometric). A
//! sign-in with two kinds is multi-factor: `mfa` is added to its `amr`, and its `acr` is
//! [`ACR_MFA`].

/// One authentication method (RFC 8176 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AuthMethod {
    /// A password.
    Pwd,
    /// A one-time password: a TOTP code, or a recovery code.
    Otp,
    /// Proof of possession of a hardware-bound key: a passkey.
    Hwk,
    /// User verification on the authenticator (PIN, biometric).
    User,
    /// A sign-in at an upstream OpenID provider (federated).
    Fed,
    /// Multiple factors: never given, derived (see [`AuthMethods::new`]).
    Mfa,
}

/// The kinds of factor a method belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Knowledge,
    Possession,
    Verification,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pwd => "pwd",
            Self::Otp => "otp",
            Self::Hwk => "hwk",
            Self::User => "user",
            Self::Fed => "fed",
            Self::Mfa => "mfa",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pwd" => Self::Pwd,
            "otp" => Self::Otp,
            "hwk" => Self::Hwk,
            "user" => Self::User,
            "fed" => Self::Fed,
            "mfa" => Self::Mfa,
            _ => return None,
        })
    }

    fn kind(self) -> Option<Kind> {
        match self {
            Self::Pwd | Self::Fed => Some(Kind::Knowledge),
            Self::Otp | Self::Hwk => Some(Kind::Possession),
            Self::User => Some(Kind::Verification),
            Self::Mfa => None,
        }
    }
}

/// The `acr` of a sign-in with one factor.
pub const ACR_SINGLE_FACTOR: &str = "urn:portcullis:pwd";
/// The `acr` of a sign-in with two kinds of factor.
pub const ACR_MFA: &str = "urn:portcullis:mfa";
/// The classes a relying party may ask for (`acr_values`), weakest first.
pub const ACR_VALUES: [&str; 2] = [ACR_SINGLE_FACTOR, ACR_MFA];

/// The methods of one sign-in: never empty, in a fixed order, each once; `mfa` present exactly
/// when the others span two kinds of factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthMethods(Vec<AuthMethod>);

impl AuthMethods {
    /// The methods given (`mfa` among them is ignored: it is derived). Empty reads as a
    /// password sign-in.
    pub fn new(methods: impl IntoIterator<Item = AuthMethod>) -> Self {
        let mut methods: Vec<AuthMethod> = methods
            .into_iter()
            .filter(|m| *m != AuthMethod::Mfa)
            .collect();
        methods.sort();
        methods.dedup();
        if methods.is_empty() {
            methods.push(AuthMethod::Pwd);
        }
        let mut kinds: Vec<Kind> = methods.iter().filter_map(|m| m.kind()).collect();
        kinds.sort_by_key(|k| *k as u8);
        kinds.dedup();
        if kinds.len() >= 2 {
            methods.push(AuthMethod::Mfa);
            methods.sort();
        }
        Self(methods)
    }

    /// A sign-in with a password.
    pub fn password() -> Self {
        Self::new([AuthMethod::Pwd])
    }

    /// A sign-in with a passkey, the user verified on the authenticator.
    pub fn passkey() -> Self {
        Self::new([AuthMethod::Hwk, AuthMethod::User])
    }

    /// A sign-in at an upstream OpenID provider.
    pub fn federated() -> Self {
        Self::new([AuthMethod::Fed])
    }

    /// These methods and one more (a second factor given after the first).
    pub fn with(&self, method: AuthMethod) -> Self {
        Self::new(self.0.iter().copied().chain([method]))
    }

    /// Whether the sign-in used `method`.
    pub fn has(&self, method: AuthMethod) -> bool {
        self.0.contains(&method)
    }

    /// Whether the sign-in used two kinds of factor.
    pub fn is_multi_factor(&self) -> bool {
        self.has(AuthMethod::Mfa)
    }

    /// From what the store holds (space-separated). Only this crate's own values are ever
    /// written; an unknown one is dropped, and nothing known reads as a password sign-in (the
    /// only way in before methods were recorded).
    pub fn from_stored(stored: &str) -> Self {
        Self::new(stored.split(' ').filter_map(AuthMethod::parse))
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
        if self.is_multi_factor() {
            ACR_MFA
        } else {
            ACR_SINGLE_FACTOR
        }
    }

    /// Whether this sign-in satisfies the class `acr` (one of [`ACR_VALUES`]; an unknown
    /// class is satisfied by nothing).
    pub fn satisfies(&self, acr: &str) -> bool {
        match acr {
            ACR_SINGLE_FACTOR => true,
            ACR_MFA => self.is_multi_factor(),
            _ => false,
        }
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

    #[test]
    fn two_kinds_of_factor_make_mfa_and_one_kind_does_not() {
        let otp = AuthMethods::password().with(AuthMethod::Otp);
        assert_eq!(otp.claim(), ["pwd", "otp", "mfa"]);
        assert_eq!(otp.acr(), ACR_MFA);
        assert!(otp.satisfies(ACR_MFA) && otp.satisfies(ACR_SINGLE_FACTOR));
        assert_eq!(AuthMethods::from_stored(&otp.as_stored()), otp);

        let passkey = AuthMethods::passkey();
        assert_eq!(passkey.claim(), ["hwk", "user", "mfa"]);
        assert!(passkey.is_multi_factor());

        // A password and a federated sign-in are the same kind; so are a code and a key.
        let fed = AuthMethods::federated().with(AuthMethod::Pwd);
        assert!(!fed.is_multi_factor());
        assert!(!AuthMethods::new([AuthMethod::Otp, AuthMethod::Hwk]).is_multi_factor());
        // `mfa` cannot be claimed, only earned.
        assert!(!AuthMethods::from_stored("pwd mfa").is_multi_factor());
        assert!(!AuthMethods::password().satisfies(ACR_MFA));
        assert!(!AuthMethods::password().satisfies("urn:example:loa4"));
    }
}
