//! Second factors: TOTP authenticators (their secret sealed by the caller), recovery codes and
//! pending second-factor challenges (both stored by the SHA-256 of their value).

use diesel::prelude::*;

use crate::Conn;
use crate::schema::{mfa_challenges, recovery_codes, totp_authenticators};

#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = totp_authenticators)]
pub struct TotpRow {
    pub user_id: String,
    pub secret_sealed: String,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
    pub last_step: i64,
}

impl std::fmt::Debug for TotpRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpRow")
            .field("user_id", &self.user_id)
            .field("confirmed_at", &self.confirmed_at)
            .field("last_step", &self.last_step)
            .finish_non_exhaustive()
    }
}

/// Stores a new, unconfirmed authenticator, replacing an unconfirmed one; a confirmed one is
/// left as it is (false).
pub fn put_pending_totp(conn: &mut Conn, row: &TotpRow) -> crate::Result<bool> {
    crate::transaction(conn, |conn| {
        if find_totp(conn, &row.user_id)?.is_some_and(|t| t.confirmed_at.is_some()) {
            return Ok(false);
        }
        diesel::delete(totp_authenticators::table.find(&row.user_id)).execute(conn)?;
        diesel::insert_into(totp_authenticators::table)
            .values(row)
            .execute(conn)?;
        Ok(true)
    })
}

pub fn find_totp(conn: &mut Conn, user_id: &str) -> crate::Result<Option<TotpRow>> {
    totp_authenticators::table
        .find(user_id)
        .select(TotpRow::as_select())
        .first(conn)
        .optional()
        .map_err(Into::into)
}

/// Confirms the pending authenticator with the step its first code was for; false if there
/// was none pending.
pub fn confirm_totp(conn: &mut Conn, user_id: &str, step: i64, now: i64) -> crate::Result<bool> {
    diesel::update(
        totp_authenticators::table
            .find(user_id)
            .filter(totp_authenticators::confirmed_at.is_null()),
    )
    .set((
        totp_authenticators::confirmed_at.eq(now),
        totp_authenticators::last_step.eq(step),
    ))
    .execute(conn)
    .map(|n| n == 1)
    .map_err(Into::into)
}

/// Records that a code for `step` was accepted, if no code for that step or a later one was
/// (false: a replay, or a race lost to another use).
pub fn use_totp_step(conn: &mut Conn, user_id: &str, step: i64) -> crate::Result<bool> {
    diesel::update(
        totp_authenticators::table
            .find(user_id)
            .filter(totp_authenticators::confirmed_at.is_not_null())
            .filter(totp_authenticators::last_step.lt(step)),
    )
    .set(totp_authenticators::last_step.eq(step))
    .execute(conn)
    .map(|n| n == 1)
    .map_err(Into::into)
}

/// Removes a user's authenticator and recovery codes; true if there was an authenticator.
pub fn delete_totp(conn: &mut Conn, user_id: &str) -> crate::Result<bool> {
    crate::transaction(conn, |conn| {
        diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
            .execute(conn)?;
        let n = diesel::delete(totp_authenticators::table.find(user_id)).execute(conn)?;
        Ok(n == 1)
    })
}

/// Replaces a user's recovery codes with these hashes.
pub fn replace_recovery_codes(
    conn: &mut Conn,
    user_id: &str,
    code_hashes: &[String],
    now: i64,
) -> crate::Result<()> {
    crate::transaction(conn, |conn| {
        diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
            .execute(conn)?;
        for hash in code_hashes {
            diesel::insert_into(recovery_codes::table)
                .values((
                    recovery_codes::code_hash.eq(hash),
                    recovery_codes::user_id.eq(user_id),
                    recovery_codes::created_at.eq(now),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// Uses one of a user's recovery codes; false if it is not theirs or was used.
pub fn use_recovery_code(
    conn: &mut Conn,
    user_id: &str,
    code_hash: &str,
    now: i64,
) -> crate::Result<bool> {
    diesel::update(
        recovery_codes::table
            .find(code_hash)
            .filter(recovery_codes::user_id.eq(user_id))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(now))
    .execute(conn)
    .map(|n| n == 1)
    .map_err(Into::into)
}

/// How many unused recovery codes a user has.
pub fn recovery_codes_left(conn: &mut Conn, user_id: &str) -> crate::Result<i64> {
    recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)
        .map_err(Into::into)
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = mfa_challenges)]
pub struct ChallengeRow {
    pub token_hash: String,
    pub user_id: String,
    pub amr: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub failures: i32,
}

pub fn insert_challenge(conn: &mut Conn, row: &ChallengeRow) -> crate::Result<()> {
    diesel::insert_into(mfa_challenges::table)
        .values(row)
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

pub fn find_challenge(conn: &mut Conn, token_hash: &str) -> crate::Result<Option<ChallengeRow>> {
    mfa_challenges::table
        .find(token_hash)
        .select(ChallengeRow::as_select())
        .first(conn)
        .optional()
        .map_err(Into::into)
}

/// Counts a wrong code against a challenge; the count after it.
pub fn fail_challenge(conn: &mut Conn, token_hash: &str) -> crate::Result<i32> {
    diesel::update(mfa_challenges::table.find(token_hash))
        .set(mfa_challenges::failures.eq(mfa_challenges::failures + 1))
        .execute(conn)?;
    Ok(find_challenge(conn, token_hash)?.map_or(i32::MAX, |c| c.failures))
}

/// Ends a challenge (used, or dead); false if it was gone already (so two uses cannot both win).
pub fn delete_challenge(conn: &mut Conn, token_hash: &str) -> crate::Result<bool> {
    diesel::delete(mfa_challenges::table.find(token_hash))
        .execute(conn)
        .map(|n| n == 1)
        .map_err(Into::into)
}

/// Deletes challenges that expired before `before` (clean-up).
pub fn delete_expired_challenges(conn: &mut Conn, before: i64) -> crate::Result<usize> {
    diesel::delete(mfa_challenges::table.filter(mfa_challenges::expires_at.lt(before)))
        .execute(conn)
        .map_err(Into::into)
}
