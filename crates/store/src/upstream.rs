//! Upstream OpenID providers: the identities linked to users (`iss` + `sub`) and the
//! authorization requests waiting for a provider's answer.

use diesel::prelude::*;

use crate::Conn;
use crate::schema::{upstream_identities, upstream_requests};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = upstream_identities)]
pub struct UpstreamIdentityRow {
    pub id: String,
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    pub user_id: String,
    pub email: Option<String>,
    pub created_at: i64,
}

/// Inserts an identity; `Conflict` when the issuer's subject is linked already.
pub fn insert_identity(conn: &mut Conn, row: &UpstreamIdentityRow) -> crate::Result<()> {
    diesel::insert_into(upstream_identities::table)
        .values(row)
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

pub fn find_identity(
    conn: &mut Conn,
    issuer: &str,
    subject: &str,
) -> crate::Result<Option<UpstreamIdentityRow>> {
    upstream_identities::table
        .filter(upstream_identities::issuer.eq(issuer))
        .filter(upstream_identities::subject.eq(subject))
        .select(UpstreamIdentityRow::as_select())
        .first(conn)
        .optional()
        .map_err(Into::into)
}

/// A user's identities, oldest first.
pub fn identities_of_user(
    conn: &mut Conn,
    user_id: &str,
) -> crate::Result<Vec<UpstreamIdentityRow>> {
    upstream_identities::table
        .filter(upstream_identities::user_id.eq(user_id))
        .order((
            upstream_identities::created_at.asc(),
            upstream_identities::id.asc(),
        ))
        .select(UpstreamIdentityRow::as_select())
        .load(conn)
        .map_err(Into::into)
}

/// Deletes one of a user's identities; false if the user has no such identity.
pub fn delete_identity(conn: &mut Conn, user_id: &str, id: &str) -> crate::Result<bool> {
    diesel::delete(
        upstream_identities::table
            .find(id)
            .filter(upstream_identities::user_id.eq(user_id)),
    )
    .execute(conn)
    .map(|n| n == 1)
    .map_err(Into::into)
}

#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = upstream_requests)]
pub struct UpstreamRequestRow {
    pub state_hash: String,
    pub browser_hash: String,
    pub provider: String,
    pub nonce: String,
    pub pkce_sealed: String,
    pub return_to: String,
    pub link_user_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

impl std::fmt::Debug for UpstreamRequestRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamRequestRow")
            .field("provider", &self.provider)
            .field("link_user_id", &self.link_user_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Stores a pending request, and drops the requests that expired before `now` (nobody
/// answered them; they cannot be used any more).
pub fn insert_request(conn: &mut Conn, row: &UpstreamRequestRow, now: i64) -> crate::Result<()> {
    diesel::delete(upstream_requests::table.filter(upstream_requests::expires_at.lt(now)))
        .execute(conn)?;
    diesel::insert_into(upstream_requests::table)
        .values(row)
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

/// Takes a pending request out: the row, if it was there, and it is gone for any other taker
/// (the delete decides: of two concurrent takers, one gets it).
pub fn take_request(
    conn: &mut Conn,
    state_hash: &str,
) -> crate::Result<Option<UpstreamRequestRow>> {
    crate::transaction(conn, |conn| {
        let row = upstream_requests::table
            .find(state_hash)
            .select(UpstreamRequestRow::as_select())
            .first(conn)
            .optional()?;
        let Some(row) = row else {
            return Ok(None);
        };
        let deleted = diesel::delete(upstream_requests::table.find(state_hash)).execute(conn)?;
        Ok(if deleted == 1 { Some(row) } else { None })
    })
}
