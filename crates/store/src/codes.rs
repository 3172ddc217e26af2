//! Authorization codes and remembered consents.

use diesel::prelude::*;

use crate::Conn;
use crate::schema::{authorization_codes, consents, refresh_families};

#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = authorization_codes)]
pub struct CodeRow {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub redirect_uri_given: bool,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    /// JSON array of RFC 8707 resources, or NULL.
    pub resources: Option<String>,
    pub auth_time: i64,
    pub session_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub family_id: Option<String>,
    pub access_jti: Option<String>,
    pub access_exp: Option<i64>,
    /// How the user authenticated for the session the code was issued in (RFC 8176).
    pub amr: String,
    /// The DPoP key thumbprint the code is bound to (RFC 9449 §10), if any.
    pub dpop_jkt: Option<String>,
}

impl std::fmt::Debug for CodeRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeRow")
            .field("client_id", &self.client_id)
            .field("user_id", &self.user_id)
            .field("expires_at", &self.expires_at)
            .field("used_at", &self.used_at)
            .finish_non_exhaustive()
    }
}

pub fn insert_code(conn: &mut Conn, row: &CodeRow) -> crate::Result<()> {
    diesel::insert_into(authorization_codes::table)
        .values(row)
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

pub fn find_code(conn: &mut Conn, code_hash: &str) -> crate::Result<Option<CodeRow>> {
    authorization_codes::table
        .find(code_hash)
        .select(CodeRow::as_select())
        .first(conn)
        .optional()
        .map_err(Into::into)
}

/// Marks a code used; true only for the one request that found it unused.
pub fn mark_code_used(conn: &mut Conn, code_hash: &str, now: i64) -> crate::Result<bool> {
    diesel::update(
        authorization_codes::table
            .find(code_hash)
            .filter(authorization_codes::used_at.is_null()),
    )
    .set(authorization_codes::used_at.eq(now))
    .execute(conn)
    .map(|n| n == 1)
    .map_err(Into::into)
}

/// Records what a code's exchange issued.
pub fn record_code_tokens(
    conn: &mut Conn,
    code_hash: &str,
    family_id: Option<&str>,
    access_jti: &str,
    access_exp: i64,
) -> crate::Result<()> {
    diesel::update(authorization_codes::table.find(code_hash))
        .set((
            authorization_codes::family_id.eq(family_id),
            authorization_codes::access_jti.eq(access_jti),
            authorization_codes::access_exp.eq(access_exp),
        ))
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

/// Forgets codes that expired before `before` (used or not).
pub fn purge_codes(conn: &mut Conn, before: i64) -> crate::Result<usize> {
    diesel::delete(authorization_codes::table.filter(authorization_codes::expires_at.lt(before)))
        .execute(conn)
        .map_err(Into::into)
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = consents)]
pub struct ConsentRow {
    pub user_id: String,
    pub client_id: String,
    pub scope: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// The resources allowed (JSON array of URIs); `None`: none.
    pub resources: Option<String>,
}

pub fn find_consent(
    conn: &mut Conn,
    user_id: &str,
    client_id: &str,
) -> crate::Result<Option<ConsentRow>> {
    consents::table
        .find((user_id, client_id))
        .select(ConsentRow::as_select())
        .first(conn)
        .optional()
        .map_err(Into::into)
}

/// Stores a consent, replacing the scope of an existing one.
pub fn save_consent(conn: &mut Conn, row: &ConsentRow) -> crate::Result<()> {
    let updated = diesel::update(consents::table.find((&row.user_id, &row.client_id)))
        .set((
            consents::scope.eq(&row.scope),
            consents::updated_at.eq(row.updated_at),
            consents::resources.eq(&row.resources),
        ))
        .execute(conn)?;
    if updated == 0 {
        match diesel::insert_into(consents::table)
            .values(row)
            .execute(conn)
        {
            // Saved by a concurrent request in between: theirs stands, as good as ours.
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ))
            | Ok(_) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

pub fn consents_of_user(conn: &mut Conn, user_id: &str) -> crate::Result<Vec<ConsentRow>> {
    consents::table
        .filter(consents::user_id.eq(user_id))
        .select(ConsentRow::as_select())
        .order(consents::created_at.asc())
        .load(conn)
        .map_err(Into::into)
}

pub fn delete_consent(conn: &mut Conn, user_id: &str, client_id: &str) -> crate::Result<bool> {
    diesel::delete(consents::table.find((user_id, client_id)))
        .execute(conn)
        .map(|n| n > 0)
        .map_err(Into::into)
}

/// The live refresh families of a user, for every client (signing out everywhere).
pub fn live_families_of_user(conn: &mut Conn, user_id: &str) -> crate::Result<Vec<String>> {
    refresh_families::table
        .filter(refresh_families::user_id.eq(user_id))
        .filter(refresh_families::revoked_at.is_null())
        .select(refresh_families::id)
        .load(conn)
        .map_err(Into::into)
}

/// Ids of the live refresh families a user holds for a client.
pub fn live_families(
    conn: &mut Conn,
    user_id: &str,
    client_id: &str,
) -> crate::Result<Vec<String>> {
    refresh_families::table
        .filter(refresh_families::user_id.eq(user_id))
        .filter(refresh_families::client_id.eq(client_id))
        .filter(refresh_families::revoked_at.is_null())
        .select(refresh_families::id)
        .load(conn)
        .map_err(Into::into)
}
