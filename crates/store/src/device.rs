//! Device codes (RFC 8628): the device code a client polls with and the user code a user
//! types, both as SHA-256; the user's decision; the one redemption.

use diesel::prelude::*;

use crate::Conn;
use crate::schema::device_codes;

/// Waiting for the user.
pub const PENDING: &str = "pending";
/// The user allowed it: the client's next poll gets tokens (once).
pub const APPROVED: &str = "approved";
/// The user refused it: polls answer `access_denied`.
pub const DENIED: &str = "denied";

#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = device_codes)]
pub struct DeviceCodeRow {
    pub device_code_hash: String,
    pub user_code_hash: String,
    pub client_id: String,
    pub scope: String,
    /// JSON array of RFC 8707 resources, or NULL.
    pub resources: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    /// Seconds the client must wait between polls.
    pub poll_interval: i64,
    pub last_poll_at: Option<i64>,
    /// [`PENDING`], [`APPROVED`] or [`DENIED`].
    pub status: String,
    /// Who decided, and how they had signed in (set on approval).
    pub user_id: Option<String>,
    pub auth_time: Option<i64>,
    pub amr: Option<String>,
    pub session_id: Option<String>,
    pub decided_at: Option<i64>,
    pub used_at: Option<i64>,
}

impl std::fmt::Debug for DeviceCodeRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCodeRow")
            .field("client_id", &self.client_id)
            .field("status", &self.status)
            .field("user_id", &self.user_id)
            .field("expires_at", &self.expires_at)
            .field("used_at", &self.used_at)
            .finish_non_exhaustive()
    }
}

/// Stores a new device code; `StoreError::Conflict` when its user code's hash is taken.
pub fn insert_device_code(conn: &mut Conn, row: &DeviceCodeRow) -> crate::Result<()> {
    diesel::insert_into(device_codes::table)
        .values(row)
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

pub fn find_by_device_code(
    conn: &mut Conn,
    device_code_hash: &str,
) -> crate::Result<Option<DeviceCodeRow>> {
    device_codes::table
        .find(device_code_hash)
        .select(DeviceCodeRow::as_select())
        .first(conn)
        .optional()
        .map_err(Into::into)
}

/// The undecided, unexpired code whose user code hashes to `user_code_hash`.
pub fn find_pending_by_user_code(
    conn: &mut Conn,
    user_code_hash: &str,
    now: i64,
) -> crate::Result<Option<DeviceCodeRow>> {
    device_codes::table
        .filter(device_codes::user_code_hash.eq(user_code_hash))
        .filter(device_codes::status.eq(PENDING))
        .filter(device_codes::expires_at.gt(now))
        .select(DeviceCodeRow::as_select())
        .first(conn)
        .optional()
        .map_err(Into::into)
}

/// Records a poll at `now` and the interval the client must keep from now on.
pub fn record_poll(
    conn: &mut Conn,
    device_code_hash: &str,
    now: i64,
    poll_interval: i64,
) -> crate::Result<()> {
    diesel::update(device_codes::table.find(device_code_hash))
        .set((
            device_codes::last_poll_at.eq(now),
            device_codes::poll_interval.eq(poll_interval),
        ))
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

/// Who approved a device code, and how they had signed in.
#[derive(Debug, Clone)]
pub struct Approval<'a> {
    pub user_id: &'a str,
    pub auth_time: i64,
    pub amr: &'a str,
    pub session_id: &'a str,
}

/// Approves a pending, unexpired code; true only for the one request that found it so.
pub fn approve(
    conn: &mut Conn,
    device_code_hash: &str,
    approval: &Approval<'_>,
    now: i64,
) -> crate::Result<bool> {
    diesel::update(
        device_codes::table
            .find(device_code_hash)
            .filter(device_codes::status.eq(PENDING))
            .filter(device_codes::expires_at.gt(now)),
    )
    .set((
        device_codes::status.eq(APPROVED),
        device_codes::user_id.eq(approval.user_id),
        device_codes::auth_time.eq(approval.auth_time),
        device_codes::amr.eq(approval.amr),
        device_codes::session_id.eq(approval.session_id),
        device_codes::decided_at.eq(now),
    ))
    .execute(conn)
    .map(|n| n == 1)
    .map_err(Into::into)
}

/// Denies a pending, unexpired code; true only for the one request that found it so.
pub fn deny(conn: &mut Conn, device_code_hash: &str, now: i64) -> crate::Result<bool> {
    diesel::update(
        device_codes::table
            .find(device_code_hash)
            .filter(device_codes::status.eq(PENDING))
            .filter(device_codes::expires_at.gt(now)),
    )
    .set((
        device_codes::status.eq(DENIED),
        device_codes::decided_at.eq(now),
    ))
    .execute(conn)
    .map(|n| n == 1)
    .map_err(Into::into)
}

/// Marks an approved code used; true only for the one request that found it unused.
pub fn mark_used(conn: &mut Conn, device_code_hash: &str, now: i64) -> crate::Result<bool> {
    diesel::update(
        device_codes::table
            .find(device_code_hash)
            .filter(device_codes::status.eq(APPROVED))
            .filter(device_codes::used_at.is_null()),
    )
    .set(device_codes::used_at.eq(now))
    .execute(conn)
    .map(|n| n == 1)
    .map_err(Into::into)
}

/// Forgets codes that expired before `before`, whatever their state.
pub fn purge_device_codes(conn: &mut Conn, before: i64) -> crate::Result<usize> {
    diesel::delete(device_codes::table.filter(device_codes::expires_at.lt(before)))
        .execute(conn)
        .map_err(Into::into)
}
