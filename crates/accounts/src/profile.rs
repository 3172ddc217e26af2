//! A person's own account: name, password, deletion; and what an operator may do to any
//! account (set a password, mark an address verified, delete).

use store::Conn;
use store::accounts as rows;

use crate::users::validate_name;
use crate::{AccountError, PasswordHasher, Role, User};

/// A new password, checked against the rules and hashed. Hashing is slow, so it is made before
/// any transaction opens; the plaintext is gone once it is made.
#[derive(Clone)]
pub struct NewPassword(String);

impl NewPassword {
    pub fn hash(password: &str, hasher: &PasswordHasher) -> Result<Self, AccountError> {
        hasher.hash(password).map(Self)
    }

    pub(crate) fn phc(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(<hash>)")
    }
}

/// The account's holder gave its current password just now: what changing the address or
/// deleting the account asks for. Only [`confirm_password`] makes one.
#[derive(Debug, Clone)]
pub struct PasswordProof {
    user: User,
}

impl PasswordProof {
    pub fn user(&self) -> &User {
        &self.user
    }
}

/// Checks the current password of a signed-in user: `WrongPassword` if it is not theirs.
pub fn confirm_password(
    conn: &mut Conn,
    user_id: &str,
    password: &str,
    hasher: &PasswordHasher,
) -> Result<PasswordProof, AccountError> {
    let row = rows::find_user(conn, user_id)?
        .filter(|u| !u.disabled)
        .ok_or(AccountError::NotFound)?;
    // An account without a password (made by an upstream sign-in) has none to confirm: its
    // holder sets one first, through a reset link.
    if row.password_hash.is_empty() {
        hasher.verify_dummy(password);
        return Err(AccountError::WrongPassword);
    }
    if !hasher.verify(password, &row.password_hash) {
        return Err(AccountError::WrongPassword);
    }
    Ok(PasswordProof { user: row.into() })
}

pub fn rename(conn: &mut Conn, user_id: &str, name: &str, now: i64) -> Result<User, AccountError> {
    let name = validate_name(name, "name")?;
    if !rows::set_user_name(conn, user_id, &name, now)? {
        return Err(AccountError::NotFound);
    }
    crate::find_user(conn, user_id)?.ok_or(AccountError::NotFound)
}

/// Sets a new password after checking the current one. Ending other sessions and refresh
/// tokens is the caller's (it knows which session is making the change).
pub fn change_password(
    conn: &mut Conn,
    proof: &PasswordProof,
    password: &NewPassword,
    now: i64,
) -> Result<(), AccountError> {
    if !rows::set_user_password_hash(conn, &proof.user.id, password.phc(), now)? {
        return Err(AccountError::NotFound);
    }
    Ok(())
}

/// Ends every session of a user except `keep` (the one that made a change), or every one.
pub fn end_sessions(
    conn: &mut Conn,
    user_id: &str,
    keep: Option<&str>,
    now: i64,
) -> Result<usize, AccountError> {
    Ok(match keep {
        Some(keep) => rows::delete_other_sessions_of_user(conn, user_id, keep, now)?,
        None => rows::delete_sessions_of_user(conn, user_id, now)?,
    })
}

/// What deleting an account took with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedAccount {
    pub user_id: String,
    /// Organizations the user was the only member of, deleted with it (their API keys,
    /// agents and gateway services too).
    pub orgs_deleted: Vec<String>,
}

/// Deletes the account of the holder of `proof`. Refused (`LastOwner`) while the user is the
/// last owner of an organization that has other members: they must hand it over first.
pub fn delete_account(
    conn: &mut Conn,
    proof: &PasswordProof,
) -> Result<DeletedAccount, AccountError> {
    delete(conn, &proof.user.id)
}

/// An operator deletes an account (`portcullis user delete`), under the same rule.
pub fn delete_account_as_operator(
    conn: &mut Conn,
    email: &str,
) -> Result<DeletedAccount, AccountError> {
    let user = crate::find_user_by_email(conn, email)?.ok_or(AccountError::NotFound)?;
    delete(conn, &user.id)
}

fn delete(conn: &mut Conn, user_id: &str) -> Result<DeletedAccount, AccountError> {
    store::transaction(conn, |conn| {
        let mut orgs_deleted = Vec::new();
        for (org, role) in rows::orgs_of_user(conn, user_id)? {
            let members = rows::count_members(conn, &org.id)?;
            if members <= 1 {
                orgs_deleted.push(org.id);
            } else if Role::parse(&role) == Some(Role::Owner)
                && rows::count_owners(conn, &org.id)? <= 1
            {
                return Err(AccountError::LastOwner);
            }
        }
        for org in &orgs_deleted {
            rows::delete_org(conn, org)?;
        }
        if !rows::delete_user(conn, user_id)? {
            return Err(AccountError::NotFound);
        }
        Ok(DeletedAccount {
            user_id: user_id.to_owned(),
            orgs_deleted,
        })
    })
}

/// An operator sets a password (`portcullis user set-password`): every session of the user
/// ends (the caller revokes the refresh families in the same transaction).
pub fn set_password_as_operator(
    conn: &mut Conn,
    user_id: &str,
    password: &NewPassword,
    now: i64,
) -> Result<(), AccountError> {
    store::transaction(conn, |conn| {
        if !rows::set_user_password_hash(conn, user_id, password.phc(), now)? {
            return Err(AccountError::NotFound);
        }
        rows::delete_sessions_of_user(conn, user_id, now)?;
        Ok(())
    })
}

/// An operator marks an address verified (`portcullis user verify-email`).
pub fn mark_email_verified(conn: &mut Conn, user_id: &str, now: i64) -> Result<(), AccountError> {
    if !rows::set_user_email_verified(conn, user_id, now)? {
        return Err(AccountError::NotFound);
    }
    Ok(())
}

/// Who may make an account themselves (`PORTCULLIS_SIGNUP`, `PORTCULLIS_SIGNUP_DOMAINS`).
/// Invites are not sign-ups: an organization's admin chose the person, so they work under
/// every mode and whatever the domain.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignupPolicy {
    pub mode: SignupMode,
    /// Lower-case domains an address must be in (or in a subdomain of); empty: any.
    pub domains: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignupMode {
    /// Anyone (within the domains).
    #[default]
    Open,
    /// Only by accepting an invite; the sign-up page says to ask for one.
    Invite,
    /// Nobody by themselves: accounts come from operators, and from invites.
    Closed,
}

impl SignupMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Self::Open),
            "invite" => Some(Self::Invite),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Invite => "invite",
            Self::Closed => "closed",
        }
    }
}

impl SignupPolicy {
    /// Whether `email` may sign up by itself: `SignupClosed` or `DomainNotAllowed` if not.
    pub fn admits(&self, email: &str) -> Result<(), AccountError> {
        if self.mode != SignupMode::Open {
            return Err(AccountError::SignupClosed);
        }
        if self.domains.is_empty() {
            return Ok(());
        }
        let (_, normalized) = crate::normalize_email(email)?;
        let domain = normalized.rsplit_once('@').map_or("", |(_, d)| d);
        let allowed = self.domains.iter().any(|d| {
            domain == d
                || domain
                    .strip_suffix(d.as_str())
                    .is_some_and(|rest| rest.ends_with('.'))
        });
        if allowed {
            Ok(())
        } else {
            Err(AccountError::DomainNotAllowed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signup_domains_match_the_domain_and_its_subdomains_only() {
        let policy = SignupPolicy {
            mode: SignupMode::Open,
            domains: vec!["example.com".into()],
        };
        assert!(policy.admits("ada@example.com").is_ok());
        assert!(policy.admits("Ada@EXAMPLE.com").is_ok());
        assert!(policy.admits("ada@eu.example.com").is_ok());
        for refused in [
            "ada@badexample.com",
            "ada@example.com.evil",
            "ada@other.org",
        ] {
            assert!(
                matches!(policy.admits(refused), Err(AccountError::DomainNotAllowed)),
                "{refused}"
            );
        }
        for mode in [SignupMode::Invite, SignupMode::Closed] {
            let closed = SignupPolicy {
                mode,
                domains: vec![],
            };
            assert!(matches!(
                closed.admits("ada@example.com"),
                Err(AccountError::SignupClosed)
            ));
        }
    }
}
