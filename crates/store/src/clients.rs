//! OAuth clients and initial access tokens.

use diesel::prelude::*;

use crate::Conn;
use crate::schema::{clients, initial_access_tokens};

/// A stored client. `metadata` is the registered metadata as JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = clients, treat_none_as_null = true)]
pub struct ClientRow {
    pub id: String,
    pub secret_hash: Option<String>,
    pub registration_token_hash: Option<String>,
    pub auth_method: String,
    pub metadata: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub first_party: bool,
}

pub fn insert(conn: &mut Conn, row: &ClientRow) -> crate::Result<()> {
    diesel::insert_into(clients::table)
        .values(row)
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

pub fn find_by_id(conn: &mut Conn, id: &str) -> crate::Result<Option<ClientRow>> {
    clients::table
        .find(id)
        .select(ClientRow::as_select())
        .first(conn)
        .optional()
        .map_err(Into::into)
}

/// Every client, oldest first.
pub fn list(conn: &mut Conn) -> crate::Result<Vec<ClientRow>> {
    clients::table
        .select(ClientRow::as_select())
        .order((clients::created_at.asc(), clients::id.asc()))
        .load(conn)
        .map_err(Into::into)
}

/// One page of clients ordered by id: those whose id is `query` or whose metadata (name,
/// URIs) contains it, after the id `after`, at most `limit`.
pub fn search(
    conn: &mut Conn,
    query: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> crate::Result<Vec<ClientRow>> {
    let mut q = clients::table.select(ClientRow::as_select()).into_boxed();
    if let Some(text) = query.filter(|t| !t.is_empty()) {
        q = q.filter(
            clients::id.eq(text.to_owned()).or(clients::metadata
                .like(crate::accounts::contains_pattern(text))
                .escape('\\')),
        );
    }
    if let Some(after) = after {
        q = q.filter(clients::id.gt(after.to_owned()));
    }
    q.order(clients::id.asc())
        .limit(limit)
        .load(conn)
        .map_err(Into::into)
}

/// Replaces a client's row; returns whether it existed.
pub fn update(conn: &mut Conn, row: &ClientRow) -> crate::Result<bool> {
    diesel::update(clients::table.find(&row.id))
        .set(row)
        .execute(conn)
        .map(|n| n > 0)
        .map_err(Into::into)
}

/// Deletes a client; returns whether it existed.
pub fn delete(conn: &mut Conn, id: &str) -> crate::Result<bool> {
    diesel::delete(clients::table.find(id))
        .execute(conn)
        .map(|n| n > 0)
        .map_err(Into::into)
}

pub fn insert_initial_access_token(
    conn: &mut Conn,
    token_hash: &str,
    created_at: i64,
    expires_at: i64,
    uses: i64,
) -> crate::Result<()> {
    diesel::insert_into(initial_access_tokens::table)
        .values((
            initial_access_tokens::token_hash.eq(token_hash),
            initial_access_tokens::created_at.eq(created_at),
            initial_access_tokens::expires_at.eq(expires_at),
            initial_access_tokens::uses_left.eq(uses),
        ))
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

/// Uses up one use of an initial access token, atomically: true only if the token exists, has
/// not expired at `now` and had a use left. Two concurrent registrations cannot both take the
/// last use.
pub fn consume_initial_access_token(
    conn: &mut Conn,
    token_hash: &str,
    now: i64,
) -> crate::Result<bool> {
    diesel::update(
        initial_access_tokens::table
            .filter(initial_access_tokens::token_hash.eq(token_hash))
            .filter(initial_access_tokens::expires_at.gt(now))
            .filter(initial_access_tokens::uses_left.gt(0)),
    )
    .set(initial_access_tokens::uses_left.eq(initial_access_tokens::uses_left - 1))
    .execute(conn)
    .map(|n| n == 1)
    .map_err(Into::into)
}
