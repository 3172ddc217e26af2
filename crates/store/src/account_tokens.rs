//! One-time links mailed to users (email verification, email change, password reset), stored
//! by the SHA-256 of their token.

use diesel::prelude::*;

use crate::Conn;
use crate::schema::account_tokens;

#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = account_tokens)]
pub struct AccountTokenRow {
    pub token_hash: String,
    pub user_id: String,
    pub purpose: String,
    pub email: String,
    pub email_normalized: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

impl std::fmt::Debug for AccountTokenRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountTokenRow")
            .field("user_id", &self.user_id)
            .field("purpose", &self.purpose)
            .field("expires_at", &self.expires_at)
            .field("used_at", &self.used_at)
            .finish_non_exhaustive()
    }
}

pub fn insert(conn: &mut Conn, row: &AccountTokenRow) -> crate::Result<()> {
    diesel::insert_into(account_tokens::table)
        .values(row)
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

pub fn find(conn: &mut Conn, token_hash: &str) -> crate::Result<Option<AccountTokenRow>> {
    account_tokens::table
        .find(token_hash)
        .select(AccountTokenRow::as_select())
        .first(conn)
        .optional()
        .map_err(Into::into)
}

/// Marks a token used; false if it was used already (so two uses cannot both win).
pub fn mark_used(conn: &mut Conn, token_hash: &str, now: i64) -> crate::Result<bool> {
    diesel::update(
        account_tokens::table
            .find(token_hash)
            .filter(account_tokens::used_at.is_null()),
    )
    .set(account_tokens::used_at.eq(now))
    .execute(conn)
    .map(|n| n == 1)
    .map_err(Into::into)
}

/// Marks every unused token of a user for `purpose` used (a reset password ends the other
/// reset links; a new email change ends the earlier ones).
pub fn use_all(conn: &mut Conn, user_id: &str, purpose: &str, now: i64) -> crate::Result<usize> {
    diesel::update(
        account_tokens::table
            .filter(account_tokens::user_id.eq(user_id))
            .filter(account_tokens::purpose.eq(purpose))
            .filter(account_tokens::used_at.is_null()),
    )
    .set(account_tokens::used_at.eq(now))
    .execute(conn)
    .map_err(Into::into)
}

/// When the tokens of a user for `purpose` made at or after `since` were made, newest first:
/// the mail rate limit counts them, on every instance alike.
pub fn issued_since(
    conn: &mut Conn,
    user_id: &str,
    purpose: &str,
    since: i64,
) -> crate::Result<Vec<i64>> {
    account_tokens::table
        .filter(account_tokens::user_id.eq(user_id))
        .filter(account_tokens::purpose.eq(purpose))
        .filter(account_tokens::created_at.ge(since))
        .select(account_tokens::created_at)
        .order(account_tokens::created_at.desc())
        .load(conn)
        .map_err(Into::into)
}

/// Deletes tokens that expired before `before` (clean-up).
pub fn delete_expired(conn: &mut Conn, before: i64) -> crate::Result<usize> {
    diesel::delete(account_tokens::table.filter(account_tokens::expires_at.lt(before)))
        .execute(conn)
        .map_err(Into::into)
}
