//! Errors of the accounts crate.

/// What can go wrong with an account operation. Each variant has one HTTP meaning, mapped in
/// the server.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// A field failed validation; `field` names it.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("an account with this email exists already")]
    EmailTaken,
    /// Unknown email, wrong password or disabled account: one answer for all three.
    #[error("the email or password is wrong")]
    InvalidCredentials,
    #[error("not found")]
    NotFound,
    /// Not a member, or a member without the role this needs.
    #[error("forbidden")]
    Forbidden,
    #[error("an organization must keep at least one owner")]
    LastOwner,
    #[error("the invite has expired")]
    InviteExpired,
    #[error("the invite has been used")]
    InviteUsed,
    #[error("the refresh token has expired")]
    TokenExpired,
    #[error("the refresh token is not valid")]
    TokenInvalid,
    /// A rotated refresh token was presented again; its family is now revoked.
    #[error("the refresh token was used before; its family is revoked")]
    TokenReused,
    /// The current password given to confirm a change is not the account's.
    #[error("the password is wrong")]
    WrongPassword,
    /// A mailed link that is unknown, used, for something else, or whose account changed.
    #[error("the link is not valid")]
    LinkInvalid,
    #[error("the link has expired")]
    LinkExpired,
    /// Too many links mailed to one user lately.
    #[error("too many messages; try again in {retry_after} s")]
    TooSoon { retry_after: i64 },
    #[error("the email address is verified already")]
    AlreadyVerified,
    /// The password was right, but the address must be verified before signing in
    /// (`PORTCULLIS_REQUIRE_VERIFIED_EMAIL`).
    #[error("the email address is not verified")]
    EmailNotVerified { user_id: String },
    /// Sign-up is by invitation or closed (`PORTCULLIS_SIGNUP`).
    #[error("sign-up is closed")]
    SignupClosed,
    /// The address is outside `PORTCULLIS_SIGNUP_DOMAINS`.
    #[error("sign-up is not open to this email domain")]
    DomainNotAllowed,
    /// A second factor (TOTP or recovery code) that is not right, or was used before.
    #[error("the code is wrong")]
    WrongCode,
    #[error("a second factor is enabled already")]
    MfaAlreadyEnabled,
    #[error("no second factor is enabled")]
    MfaNotEnabled,
    /// TOTP needs the server's key ring (`PORTCULLIS_ENCRYPTION_KEYS`), and a sealed secret
    /// opens only with the key that sealed it.
    #[error("second factors are not available on this server")]
    MfaUnavailable,
    /// A second-factor challenge that is unknown, used, expired or dead after wrong codes.
    #[error("the sign-in has expired")]
    ChallengeInvalid,
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> AccountError {
    AccountError::Invalid {
        field,
        message: message.into(),
    }
}
