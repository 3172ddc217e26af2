//! One-time links mailed to a user: verifying the account's address, confirming a new address,
//! resetting a forgotten password.
//!
//! A link's token is 256 random bits, handed back once (to be mailed) and stored as SHA-256.
//! It is used once, within its lifetime, and only for what it was made for. How often links are
//! made for one user is limited here, from the table itself, so every instance counts alike.

use primitives::{PlainSecret, SecretHash};
use store::Conn;
use store::account_tokens::{self as tokens, AccountTokenRow};
use store::accounts as rows;

use crate::users::normalize_email;
use crate::{AccountError, NewPassword, PasswordProof, User};

/// What a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Proves the account's own address.
    VerifyEmail,
    /// Proves a new address, which becomes the account's when the link is followed.
    ChangeEmail,
    /// Sets a new password.
    ResetPassword,
}

impl LinkPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ChangeEmail => "change_email",
            Self::ResetPassword => "reset_password",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::VerifyEmail, Self::ChangeEmail, Self::ResetPassword]
            .into_iter()
            .find(|p| p.as_str() == s)
    }

    /// How long a link is valid, in seconds: a day to verify an address, 30 minutes to reset a
    /// password.
    pub fn lifetime(self) -> i64 {
        match self {
            Self::VerifyEmail | Self::ChangeEmail => 24 * 3600,
            Self::ResetPassword => 30 * 60,
        }
    }
}

/// At most one link per purpose and user in this many seconds...
pub const MAIL_GAP: i64 = 60;
/// ...and at most this many in an hour.
pub const MAIL_PER_HOUR: usize = 5;

/// A link made for a user: the token to mail (shown once) and where to send it.
#[derive(Debug)]
pub struct MailLink {
    pub token: PlainSecret,
    pub purpose: LinkPurpose,
    /// The address to send it to, as typed.
    pub to: String,
    pub user: User,
    pub expires_at: i64,
}

fn issue(
    conn: &mut Conn,
    user: &User,
    purpose: LinkPurpose,
    (email, email_normalized): (&str, &str),
    now: i64,
) -> Result<MailLink, AccountError> {
    let recent = tokens::issued_since(conn, &user.id, purpose.as_str(), now - 3600)?;
    if let Some(&last) = recent.first()
        && last > now - MAIL_GAP
    {
        return Err(AccountError::TooSoon {
            retry_after: last + MAIL_GAP - now,
        });
    }
    if recent.len() >= MAIL_PER_HOUR {
        let oldest = recent.last().copied().unwrap_or(now);
        return Err(AccountError::TooSoon {
            retry_after: (oldest + 3600 - now).max(1),
        });
    }
    let token = PlainSecret::generate();
    let expires_at = now + purpose.lifetime();
    tokens::insert(
        conn,
        &AccountTokenRow {
            token_hash: token.hash().as_str().to_owned(),
            user_id: user.id.clone(),
            purpose: purpose.as_str().to_owned(),
            email: email.to_owned(),
            email_normalized: email_normalized.to_owned(),
            created_at: now,
            expires_at,
            used_at: None,
        },
    )?;
    Ok(MailLink {
        token,
        purpose,
        to: email.to_owned(),
        user: user.clone(),
        expires_at,
    })
}

fn live_user(conn: &mut Conn, user_id: &str) -> Result<User, AccountError> {
    rows::find_user(conn, user_id)?
        .filter(|u| !u.disabled)
        .map(User::from)
        .ok_or(AccountError::NotFound)
}

/// A link to verify the account's own address (at sign-up, or "send it again").
/// `AlreadyVerified` when there is nothing to prove; `TooSoon` past the mail limit.
pub fn issue_email_verification(
    conn: &mut Conn,
    user_id: &str,
    now: i64,
) -> Result<MailLink, AccountError> {
    let user = live_user(conn, user_id)?;
    if user.email_verified {
        return Err(AccountError::AlreadyVerified);
    }
    let (email, normalized) = normalize_email(&user.email)?;
    issue(
        conn,
        &user,
        LinkPurpose::VerifyEmail,
        (&email, &normalized),
        now,
    )
}

/// "I forgot my password": a reset link for the account with this email, or `None` when there
/// is no such enabled account or too many links were sent lately. The caller answers the same
/// either way, so nobody learns which addresses have accounts.
pub fn request_password_reset(
    conn: &mut Conn,
    email: &str,
    now: i64,
) -> Result<Option<MailLink>, AccountError> {
    let Ok((_, normalized)) = normalize_email(email) else {
        return Ok(None);
    };
    let Some(user) = rows::find_user_by_email(conn, &normalized)?.filter(|u| !u.disabled) else {
        return Ok(None);
    };
    let user = User::from(user);
    let to = user.email.clone();
    match issue(
        conn,
        &user,
        LinkPurpose::ResetPassword,
        (&to, &normalized),
        now,
    ) {
        Ok(link) => Ok(Some(link)),
        Err(AccountError::TooSoon { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A link to the new address; the account's email changes only when it is followed. Earlier
/// change links end. The password was checked (`proof`).
pub fn request_email_change(
    conn: &mut Conn,
    proof: &PasswordProof,
    new_email: &str,
    now: i64,
) -> Result<MailLink, AccountError> {
    let user = proof.user();
    let (email, normalized) = normalize_email(new_email)?;
    if normalized == normalize_email(&user.email)?.1 {
        return Err(AccountError::Invalid {
            field: "email",
            message: "is the account's address already".into(),
        });
    }
    if rows::find_user_by_email(conn, &normalized)?.is_some() {
        return Err(AccountError::EmailTaken);
    }
    store::transaction(conn, |conn| {
        tokens::use_all(conn, &user.id, LinkPurpose::ChangeEmail.as_str(), now)?;
        issue(
            conn,
            user,
            LinkPurpose::ChangeEmail,
            (&email, &normalized),
            now,
        )
    })
}

/// A link's row, if it is live: known, unused, unexpired, for `purposes`, of an enabled user.
fn live_link(
    conn: &mut Conn,
    token: &str,
    purposes: &[LinkPurpose],
    now: i64,
) -> Result<(AccountTokenRow, LinkPurpose, User), AccountError> {
    let hash = SecretHash::of(token);
    let row = tokens::find(conn, hash.as_str())?.ok_or(AccountError::LinkInvalid)?;
    let purpose = LinkPurpose::parse(&row.purpose)
        .filter(|p| purposes.contains(p))
        .ok_or(AccountError::LinkInvalid)?;
    if row.used_at.is_some() {
        return Err(AccountError::LinkInvalid);
    }
    if now >= row.expires_at {
        return Err(AccountError::LinkExpired);
    }
    let user = live_user(conn, &row.user_id).map_err(|_| AccountError::LinkInvalid)?;
    Ok((row, purpose, user))
}

/// What following an email link did.
#[derive(Debug, Clone)]
pub struct EmailConfirmed {
    /// The account, as it is now (`email_verified` true).
    pub user: User,
    /// For an address change: the address it had before (to be told of the change).
    pub previous_email: Option<String>,
}

/// Follows a verification or address-change link. A verification link proves only the address
/// it was sent to: if the account's address has changed since, it is refused.
pub fn confirm_email(
    conn: &mut Conn,
    token: &str,
    now: i64,
) -> Result<EmailConfirmed, AccountError> {
    store::transaction(conn, |conn| {
        let (row, purpose, user) = live_link(
            conn,
            token,
            &[LinkPurpose::VerifyEmail, LinkPurpose::ChangeEmail],
            now,
        )?;
        let current = normalize_email(&user.email)?.1;
        let previous_email = match purpose {
            LinkPurpose::VerifyEmail => {
                if row.email_normalized != current {
                    return Err(AccountError::LinkInvalid);
                }
                rows::set_user_email_verified(conn, &user.id, now)?;
                None
            }
            _ => {
                if rows::find_user_by_email(conn, &row.email_normalized)?
                    .is_some_and(|other| other.id != user.id)
                {
                    return Err(AccountError::EmailTaken);
                }
                rows::set_user_email(conn, &user.id, &row.email, &row.email_normalized, now)?;
                // The old address's pending verification links prove nothing now.
                tokens::use_all(conn, &user.id, LinkPurpose::VerifyEmail.as_str(), now)?;
                Some(user.email.clone())
            }
        };
        if !tokens::mark_used(conn, &row.token_hash, now)? {
            return Err(AccountError::LinkInvalid);
        }
        let user = live_user(conn, &user.id)?;
        Ok(EmailConfirmed {
            user,
            previous_email,
        })
    })
}

/// Whether a reset link is live, and whose (the reset page checks before asking for a
/// password).
pub fn check_reset_link(conn: &mut Conn, token: &str, now: i64) -> Result<User, AccountError> {
    live_link(conn, token, &[LinkPurpose::ResetPassword], now).map(|(_, _, user)| user)
}

/// Follows a reset link: the new password is set, every reset link of the user ends, and so
/// does every browser session. (The refresh-token families are `grants`'s: the caller revokes
/// them in the same transaction.)
pub fn reset_password(
    conn: &mut Conn,
    token: &str,
    password: &NewPassword,
    now: i64,
) -> Result<User, AccountError> {
    store::transaction(conn, |conn| {
        let (row, _, user) = live_link(conn, token, &[LinkPurpose::ResetPassword], now)?;
        if !tokens::mark_used(conn, &row.token_hash, now)? {
            return Err(AccountError::LinkInvalid);
        }
        rows::set_user_password_hash(conn, &user.id, password.phc(), now)?;
        tokens::use_all(conn, &user.id, LinkPurpose::ResetPassword.as_str(), now)?;
        rows::delete_sessions_of_user(conn, &user.id, now)?;
        Ok(user)
    })
}
