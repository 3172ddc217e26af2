//! Pushed authorization requests (RFC 9126): the parameters a client pushed, under the hash
//! of the `request_uri` it was given; opened by the browser's first visit, used once.

use diesel::prelude::*;

use crate::Conn;
use crate::schema::pushed_requests;

#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = pushed_requests)]
pub struct PushedRequestRow {
    /// SHA-256 of the random part of the `request_uri`.
    pub request_hash: String,
    pub client_id: String,
    /// The pushed parameters, form-encoded as they were checked.
    pub params: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub opened_at: Option<i64>,
    pub used_at: Option<i64>,
}

impl std::fmt::Debug for PushedRequestRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushedRequestRow")
            .field("client_id", &self.client_id)
            .field("expires_at", &self.expires_at)
            .field("opened_at", &self.opened_at)
            .field("used_at", &self.used_at)
            .finish_non_exhaustive()
    }
}

pub fn insert(conn: &mut Conn, row: &PushedRequestRow) -> crate::Result<()> {
    diesel::insert_into(pushed_requests::table)
        .values(row)
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

/// `client_id`'s unused, unexpired request under `request_hash`. The first time it is found
/// its lifetime becomes `open_until` (the time a sign-in may take), when that is later.
pub fn open(
    conn: &mut Conn,
    request_hash: &str,
    client_id: &str,
    now: i64,
    open_until: i64,
) -> crate::Result<Option<PushedRequestRow>> {
    let found = pushed_requests::table
        .find(request_hash)
        .filter(pushed_requests::client_id.eq(client_id))
        .filter(pushed_requests::used_at.is_null())
        .filter(pushed_requests::expires_at.gt(now))
        .select(PushedRequestRow::as_select())
        .first(conn)
        .optional()?;
    let Some(mut row) = found else {
        return Ok(None);
    };
    if row.opened_at.is_none() {
        let expires_at = row.expires_at.max(open_until);
        diesel::update(
            pushed_requests::table
                .find(request_hash)
                .filter(pushed_requests::opened_at.is_null()),
        )
        .set((
            pushed_requests::opened_at.eq(now),
            pushed_requests::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
        row.opened_at = Some(now);
        row.expires_at = expires_at;
    }
    Ok(Some(row))
}

/// Marks the request used; true only for the one caller that found it unused and unexpired.
pub fn use_once(conn: &mut Conn, request_hash: &str, now: i64) -> crate::Result<bool> {
    diesel::update(
        pushed_requests::table
            .find(request_hash)
            .filter(pushed_requests::used_at.is_null())
            .filter(pushed_requests::expires_at.gt(now)),
    )
    .set(pushed_requests::used_at.eq(now))
    .execute(conn)
    .map(|n| n == 1)
    .map_err(Into::into)
}

/// Deletes requests that expired before `before`; returns how many.
pub fn purge(conn: &mut Conn, before: i64) -> crate::Result<usize> {
    diesel::delete(pushed_requests::table.filter(pushed_requests::expires_at.lt(before)))
        .execute(conn)
        .map_err(Into::into)
}
