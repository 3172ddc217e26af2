//! Signing keys and revoked access tokens.

use diesel::prelude::*;

use crate::Conn;
use crate::schema::{revoked_access_tokens, signing_keys};

/// A stored signing key. `private_key` is the PKCS#8 document sealed under the master key
/// when `sealed`, else (no master key configured) the PKCS#8 document in base64.
#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKeyRow {
    pub kid: String,
    pub alg: String,
    pub private_key: String,
    pub public_jwk: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
    pub sealed: bool,
    /// When the key starts signing; before, it is only published.
    pub signs_from: i64,
    /// The key a scheduled rotation made this one to replace (unique).
    pub successor_of: Option<String>,
}

impl std::fmt::Debug for SigningKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRow")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .field("sealed", &self.sealed)
            .field("signs_from", &self.signs_from)
            .field("successor_of", &self.successor_of)
            .finish_non_exhaustive()
    }
}

pub fn insert(conn: &mut Conn, row: &SigningKeyRow) -> crate::Result<()> {
    diesel::insert_into(signing_keys::table)
        .values(row)
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

/// Keys still worth loading: current ones, and those retired after `retired_after`.
pub fn live(conn: &mut Conn, retired_after: i64) -> crate::Result<Vec<SigningKeyRow>> {
    signing_keys::table
        .select(SigningKeyRow::as_select())
        .filter(
            signing_keys::retired_at
                .is_null()
                .or(signing_keys::retired_at.gt(retired_after)),
        )
        .order((signing_keys::created_at.desc(), signing_keys::kid.desc()))
        .load(conn)
        .map_err(Into::into)
}

/// Every key ever made, newest first.
pub fn all(conn: &mut Conn) -> crate::Result<Vec<SigningKeyRow>> {
    signing_keys::table
        .select(SigningKeyRow::as_select())
        .order((signing_keys::created_at.desc(), signing_keys::kid.desc()))
        .load(conn)
        .map_err(Into::into)
}

/// Marks every current key of `alg` other than `except` as retired at `now`.
pub fn retire_others(conn: &mut Conn, alg: &str, except: &str, now: i64) -> crate::Result<usize> {
    diesel::update(
        signing_keys::table
            .filter(signing_keys::alg.eq(alg))
            .filter(signing_keys::kid.ne(except))
            .filter(signing_keys::retired_at.is_null()),
    )
    .set(signing_keys::retired_at.eq(now))
    .execute(conn)
    .map_err(Into::into)
}

/// Marks retired at `at` every current key of `alg`, other than `signer`, that started signing
/// no later than `signs_from` (the keys `signer` replaced; keys published ahead of use stay).
pub fn retire_replaced(
    conn: &mut Conn,
    alg: &str,
    signer: &str,
    signs_from: i64,
    at: i64,
) -> crate::Result<usize> {
    diesel::update(
        signing_keys::table
            .filter(signing_keys::alg.eq(alg))
            .filter(signing_keys::kid.ne(signer))
            .filter(signing_keys::retired_at.is_null())
            .filter(signing_keys::signs_from.le(signs_from)),
    )
    .set(signing_keys::retired_at.eq(at))
    .execute(conn)
    .map_err(Into::into)
}

/// Keys whose private part is still stored in the clear, oldest first.
pub fn unsealed(conn: &mut Conn) -> crate::Result<Vec<SigningKeyRow>> {
    signing_keys::table
        .select(SigningKeyRow::as_select())
        .filter(signing_keys::sealed.eq(false))
        .order((signing_keys::created_at.asc(), signing_keys::kid.asc()))
        .load(conn)
        .map_err(Into::into)
}

/// Replaces the clear private key of `kid` by `sealed`, if it is still clear; returns whether
/// it was (another instance may have sealed it first).
pub fn seal(conn: &mut Conn, kid: &str, sealed: &str) -> crate::Result<bool> {
    diesel::update(
        signing_keys::table
            .filter(signing_keys::kid.eq(kid))
            .filter(signing_keys::sealed.eq(false)),
    )
    .set((
        signing_keys::private_key.eq(sealed),
        signing_keys::sealed.eq(true),
    ))
    .execute(conn)
    .map(|n| n > 0)
    .map_err(Into::into)
}

/// Marks the key `kid` retired at `now`, if it is current; returns whether it was.
pub fn retire(conn: &mut Conn, kid: &str, now: i64) -> crate::Result<bool> {
    diesel::update(
        signing_keys::table
            .filter(signing_keys::kid.eq(kid))
            .filter(signing_keys::retired_at.is_null()),
    )
    .set(signing_keys::retired_at.eq(now))
    .execute(conn)
    .map(|n| n > 0)
    .map_err(Into::into)
}

/// Takes the retired key `kid` out of publication at once: its retirement is moved to the
/// epoch, so no instance loads it again. Returns whether a retired key was there to withdraw.
pub fn withdraw(conn: &mut Conn, kid: &str) -> crate::Result<bool> {
    diesel::update(
        signing_keys::table
            .filter(signing_keys::kid.eq(kid))
            .filter(signing_keys::retired_at.gt(WITHDRAWN)),
    )
    .set(signing_keys::retired_at.eq(WITHDRAWN))
    .execute(conn)
    .map(|n| n > 0)
    .map_err(Into::into)
}

/// The retirement time of a withdrawn key (the epoch): older than any publication window.
pub const WITHDRAWN: i64 = 0;

/// Records a revoked access token; revoking twice is not an error.
pub fn revoke_access_token(conn: &mut Conn, jti: &str, expires_at: i64) -> crate::Result<()> {
    let exists = revoked_access_tokens::table
        .find(jti)
        .select(revoked_access_tokens::jti)
        .first::<String>(conn)
        .optional()?
        .is_some();
    if exists {
        return Ok(());
    }
    match diesel::insert_into(revoked_access_tokens::table)
        .values((
            revoked_access_tokens::jti.eq(jti),
            revoked_access_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)
    {
        // A concurrent revocation of the same token won the race: same outcome.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ))
        | Ok(_) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub fn is_access_token_revoked(conn: &mut Conn, jti: &str) -> crate::Result<bool> {
    revoked_access_tokens::table
        .find(jti)
        .select(revoked_access_tokens::jti)
        .first::<String>(conn)
        .optional()
        .map(|r| r.is_some())
        .map_err(Into::into)
}

/// Forgets revocations of tokens that have expired by `now`.
pub fn purge_expired_revocations(conn: &mut Conn, now: i64) -> crate::Result<usize> {
    diesel::delete(revoked_access_tokens::table.filter(revoked_access_tokens::expires_at.le(now)))
        .execute(conn)
        .map_err(Into::into)
}
