//! OpenID Connect Back-Channel Logout: which clients received tokens in which browser session
//! (`session_clients`), and the queue of logout tokens to deliver (`backchannel_logouts`), kept
//! in the database so it survives a restart and is shared by every instance.
//!
//! Ending a session (every `accounts::delete_*session*` function of this crate) moves the
//! session's clients into the queue in the same transaction ([`queue_for_sessions`]): the queue
//! holds exactly the sessions that ended, and a delivery starts only after that transaction
//! committed (a row is invisible to the sender before). Which client has a logout URI, the
//! token and the retry schedule are decided above this crate.

use diesel::prelude::*;

use crate::Conn;
use crate::schema::{backchannel_logouts, session_clients, sessions};

/// Waiting for its (next) attempt.
pub const PENDING: &str = "pending";
/// A POST was answered with a 2xx status.
pub const DELIVERED: &str = "delivered";
/// Every attempt failed.
pub const FAILED: &str = "failed";

/// One logout to deliver (or delivered, or given up).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = backchannel_logouts)]
pub struct LogoutDeliveryRow {
    /// Also the logout token's `jti`.
    pub id: String,
    /// The ended session's id: the logout token's `sid`.
    pub session_id: String,
    /// The session's user: the logout token's `sub`.
    pub user_id: String,
    pub client_id: String,
    /// [`PENDING`], [`DELIVERED`] or [`FAILED`].
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub claimed_until: Option<i64>,
    pub last_status: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Records that `client_id` received tokens in the session `session_id`, once; nothing when the
/// session has ended already (its logout was queued without this client, which then holds
/// tokens of a session that no longer exists and learns it from nothing but their expiry).
pub fn record_session_client(
    conn: &mut Conn,
    session_id: &str,
    client_id: &str,
    now: i64,
) -> crate::Result<()> {
    let live: i64 = sessions::table
        .filter(sessions::id.eq(session_id))
        .count()
        .get_result(conn)?;
    if live == 0 {
        return Ok(());
    }
    let known: i64 = session_clients::table
        .filter(session_clients::session_id.eq(session_id))
        .filter(session_clients::client_id.eq(client_id))
        .count()
        .get_result(conn)?;
    if known > 0 {
        return Ok(());
    }
    // A savepoint (`MultiConnection` has no `ON CONFLICT`): when a concurrent redemption in
    // the same session recorded the client first, the duplicate is dropped without aborting
    // the caller's transaction on PostgreSQL.
    let inserted = crate::transaction(conn, |conn| {
        diesel::insert_into(session_clients::table)
            .values((
                session_clients::session_id.eq(session_id),
                session_clients::client_id.eq(client_id),
                session_clients::created_at.eq(now),
            ))
            .execute(conn)
            .map_err(crate::StoreError::from)
    });
    match inserted {
        Ok(_) | Err(crate::StoreError::Conflict) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The clients that received tokens in a session, by client id.
pub fn clients_of_session(conn: &mut Conn, session_id: &str) -> crate::Result<Vec<String>> {
    session_clients::table
        .filter(session_clients::session_id.eq(session_id))
        .select(session_clients::client_id)
        .order(session_clients::client_id.asc())
        .load(conn)
        .map_err(Into::into)
}

/// Queues a logout of every client of the sessions `session_ids` of `user_id` (due at `now`),
/// and forgets those sessions' clients. Called by this crate before it deletes sessions, in the
/// same transaction.
pub(crate) fn queue_for_sessions(
    conn: &mut Conn,
    user_id: &str,
    session_ids: &[String],
    now: i64,
) -> crate::Result<()> {
    if session_ids.is_empty() {
        return Ok(());
    }
    let pairs: Vec<(String, String)> = session_clients::table
        .filter(session_clients::session_id.eq_any(session_ids))
        .select((session_clients::session_id, session_clients::client_id))
        .order((session_clients::session_id, session_clients::client_id))
        .load(conn)?;
    for (session_id, client_id) in pairs {
        let row = LogoutDeliveryRow {
            id: delivery_id(),
            session_id,
            user_id: user_id.to_owned(),
            client_id,
            status: PENDING.to_owned(),
            attempts: 0,
            next_attempt_at: now,
            claimed_until: None,
            last_status: None,
            created_at: now,
            updated_at: now,
        };
        diesel::insert_into(backchannel_logouts::table)
            .values(&row)
            .execute(conn)?;
    }
    diesel::delete(session_clients::table.filter(session_clients::session_id.eq_any(session_ids)))
        .execute(conn)?;
    Ok(())
}

/// A random id for a queued logout (128 bits, hex; not a secret).
fn delivery_id() -> String {
    use rand::Rng as _;
    format!("{:032x}", rand::rng().random::<u128>())
}

/// Pending logouts due at `now` and claimed by no one, oldest first, at most `limit`.
pub fn due(conn: &mut Conn, now: i64, limit: i64) -> crate::Result<Vec<LogoutDeliveryRow>> {
    backchannel_logouts::table
        .filter(backchannel_logouts::status.eq(PENDING))
        .filter(backchannel_logouts::next_attempt_at.le(now))
        .filter(
            backchannel_logouts::claimed_until
                .is_null()
                .or(backchannel_logouts::claimed_until.le(now)),
        )
        .select(LogoutDeliveryRow::as_select())
        .order((
            backchannel_logouts::next_attempt_at.asc(),
            backchannel_logouts::id.asc(),
        ))
        .limit(limit)
        .load(conn)
        .map_err(Into::into)
}

/// Claims a due logout until `until` (a conditional update, so of two instances only one
/// wins); whether this caller won.
pub fn claim(conn: &mut Conn, id: &str, now: i64, until: i64) -> crate::Result<bool> {
    diesel::update(
        backchannel_logouts::table
            .filter(backchannel_logouts::id.eq(id))
            .filter(backchannel_logouts::status.eq(PENDING))
            .filter(backchannel_logouts::next_attempt_at.le(now))
            .filter(
                backchannel_logouts::claimed_until
                    .is_null()
                    .or(backchannel_logouts::claimed_until.le(now)),
            ),
    )
    .set(backchannel_logouts::claimed_until.eq(until))
    .execute(conn)
    .map(|n| n == 1)
    .map_err(Into::into)
}

/// The outcome of one attempt: the row's new status, attempt count, next attempt and what the
/// attempt got; the claim is released.
pub fn record_attempt(
    conn: &mut Conn,
    id: &str,
    status: &str,
    attempts: i64,
    next_attempt_at: i64,
    last_status: &str,
    now: i64,
) -> crate::Result<()> {
    diesel::update(backchannel_logouts::table.find(id))
        .set((
            backchannel_logouts::status.eq(status),
            backchannel_logouts::attempts.eq(attempts),
            backchannel_logouts::next_attempt_at.eq(next_attempt_at),
            backchannel_logouts::claimed_until.eq(None::<i64>),
            backchannel_logouts::last_status.eq(last_status),
            backchannel_logouts::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

/// Forgets a queued logout (its client has no logout URI, or is gone).
pub fn delete(conn: &mut Conn, id: &str) -> crate::Result<()> {
    diesel::delete(backchannel_logouts::table.find(id))
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

/// The newest logouts first, at most `limit`.
pub fn recent(conn: &mut Conn, limit: i64) -> crate::Result<Vec<LogoutDeliveryRow>> {
    backchannel_logouts::table
        .select(LogoutDeliveryRow::as_select())
        .order((
            backchannel_logouts::created_at.desc(),
            backchannel_logouts::id.asc(),
        ))
        .limit(limit)
        .load(conn)
        .map_err(Into::into)
}
