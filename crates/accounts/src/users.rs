//! Users.

use primitives::random_id;
use store::Conn;
use store::accounts::{self as rows, UserRow};

use crate::error::invalid;
use crate::{AccountError, PasswordHasher};

/// A user, without the password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub email_verified: bool,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// An operator: reaches the console at `/admin` (with a second factor).
    pub admin: bool,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        Self {
            id: r.id,
            email: r.email,
            name: r.name,
            email_verified: r.email_verified,
            disabled: r.disabled,
            created_at: r.created_at,
            updated_at: r.updated_at,
            admin: r.admin,
        }
    }
}

/// What sign-up asks for.
#[derive(Clone)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub password: &'a str,
}

impl std::fmt::Debug for NewUser<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("email", &self.email)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// `(as typed but trimmed, normalized)`: emails compare case-insensitively. The check is
/// deliberately light (one `@`, something on each side, no spaces): the mail server is the
/// real judge.
pub fn normalize_email(raw: &str) -> Result<(String, String), AccountError> {
    let email = raw.trim();
    let ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    if !ok {
        return Err(invalid("email", "is not an email address"));
    }
    Ok((email.to_owned(), email.to_lowercase()))
}

pub(crate) fn validate_name(raw: &str, field: &'static str) -> Result<String, AccountError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(invalid(field, "must be 1 to 100 printable characters"));
    }
    Ok(name.to_owned())
}

/// A user row ready to insert: validated, password hashed. Hashing is the slow part, so it is
/// done before any transaction opens.
pub(crate) fn prepare_user(
    new: &NewUser<'_>,
    hasher: &PasswordHasher,
    now: i64,
) -> Result<UserRow, AccountError> {
    let (email, email_normalized) = normalize_email(new.email)?;
    let name = validate_name(new.name, "name")?;
    let password_hash = hasher.hash(new.password)?;
    Ok(UserRow {
        id: format!("usr_{}", random_id()),
        email,
        email_normalized,
        name,
        password_hash,
        email_verified: false,
        disabled: false,
        created_at: now,
        updated_at: now,
        admin: false,
    })
}

pub(crate) fn insert_prepared(conn: &mut Conn, row: &UserRow) -> Result<(), AccountError> {
    match rows::insert_user(conn, row) {
        Err(store::StoreError::Conflict) => Err(AccountError::EmailTaken),
        other => Ok(other?),
    }
}

/// Creates a user (no organization: see [`crate::signup`] for that).
pub fn create_user(
    conn: &mut Conn,
    new: &NewUser<'_>,
    hasher: &PasswordHasher,
    now: i64,
) -> Result<User, AccountError> {
    let row = prepare_user(new, hasher, now)?;
    if rows::find_user_by_email(conn, &row.email_normalized)?.is_some() {
        return Err(AccountError::EmailTaken);
    }
    insert_prepared(conn, &row)?;
    Ok(row.into())
}

/// Checks an email and password. Unknown email, disabled account and wrong password all give
/// [`AccountError::InvalidCredentials`] after one password verification. With
/// `require_verified_email` (`PORTCULLIS_REQUIRE_VERIFIED_EMAIL`), the right password of an
/// unverified address gives [`AccountError::EmailNotVerified`]: only the account's holder
/// learns that.
pub fn authenticate_password(
    conn: &mut Conn,
    email: &str,
    password: &str,
    hasher: &PasswordHasher,
    require_verified_email: bool,
) -> Result<User, AccountError> {
    let row = match normalize_email(email) {
        Ok((_, normalized)) => rows::find_user_by_email(conn, &normalized)?,
        Err(_) => None,
    };
    match row {
        // An account without a password (made by an upstream sign-in): the same work and the
        // same answer as a wrong password.
        Some(row) if row.password_hash.is_empty() => {
            hasher.verify_dummy(password);
            Err(AccountError::InvalidCredentials)
        }
        Some(row) if hasher.verify(password, &row.password_hash) && !row.disabled => {
            if require_verified_email && !row.email_verified {
                return Err(AccountError::EmailNotVerified { user_id: row.id });
            }
            Ok(row.into())
        }
        Some(_) => Err(AccountError::InvalidCredentials),
        None => {
            hasher.verify_dummy(password);
            Err(AccountError::InvalidCredentials)
        }
    }
}

pub fn find_user(conn: &mut Conn, id: &str) -> Result<Option<User>, AccountError> {
    Ok(rows::find_user(conn, id)?.map(User::from))
}

pub fn find_user_by_email(conn: &mut Conn, email: &str) -> Result<Option<User>, AccountError> {
    let (_, normalized) = normalize_email(email)?;
    Ok(rows::find_user_by_email(conn, &normalized)?.map(User::from))
}

pub fn list_users(conn: &mut Conn) -> Result<Vec<User>, AccountError> {
    Ok(rows::list_users(conn)?
        .into_iter()
        .map(User::from)
        .collect())
}

/// The most users one page of [`search_users`] holds.
pub const MAX_PAGE: i64 = 200;

/// One page of users ordered by email: those whose email or name contains `query` (or whose
/// id it is), after the normalized email `after`, at most `limit` (1 to [`MAX_PAGE`]). A query
/// or cursor holding a NUL character finds nothing (PostgreSQL refuses one in text).
pub fn search_users(
    conn: &mut Conn,
    query: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<User>, AccountError> {
    if query.is_some_and(|q| q.contains('\0')) || after.is_some_and(|a| a.contains('\0')) {
        return Ok(Vec::new());
    }
    Ok(
        rows::search_users(conn, query, after, limit.clamp(1, MAX_PAGE))?
            .into_iter()
            .map(User::from)
            .collect(),
    )
}

/// Makes a user an operator (`admin`), or takes that away.
pub fn set_admin(
    conn: &mut Conn,
    user_id: &str,
    admin: bool,
    now: i64,
) -> Result<(), AccountError> {
    if rows::set_user_admin(conn, user_id, admin, now)? {
        Ok(())
    } else {
        Err(AccountError::NotFound)
    }
}

/// Disables (or re-enables) a user; a disabled user's sessions end at once.
pub fn set_disabled(
    conn: &mut Conn,
    user_id: &str,
    disabled: bool,
    now: i64,
) -> Result<(), AccountError> {
    if !rows::set_user_disabled(conn, user_id, disabled, now)? {
        return Err(AccountError::NotFound);
    }
    if disabled {
        rows::delete_sessions_of_user(conn, user_id, now)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_compared_lower_case() {
        assert_eq!(
            normalize_email("  Ada@Example.COM ").expect("ok"),
            ("Ada@Example.COM".to_owned(), "ada@example.com".to_owned())
        );
        for bad in ["", "ada", "@x", "ada@", "a b@x.y", "a@b@c"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
