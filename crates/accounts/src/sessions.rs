//! Browser sessions: server-side rows, a 256-bit secret in the cookie, stored as SHA-256.

use primitives::{PlainSecret, SecretHash, random_id, random_token};
use store::Conn;
use store::accounts::{self as rows, SessionRow};

use crate::{AccountError, AuthMethods, User};

/// Absolute and idle lifetimes, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub absolute: i64,
    pub idle: i64,
}

/// A session as the pages see it. `id` is public; the secret is only in the cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    /// The CSRF token of forms shown in this session.
    pub csrf_token: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// How the user signed in.
    pub amr: AuthMethods,
}

impl From<SessionRow> for Session {
    fn from(r: SessionRow) -> Self {
        Self {
            id: r.id,
            user_id: r.user_id,
            csrf_token: r.csrf_token,
            auth_time: r.auth_time,
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
            expires_at: r.expires_at,
            user_agent: r.user_agent,
            ip: r.ip,
            amr: AuthMethods::from_stored(&r.amr),
        }
    }
}

/// A new session and the cookie value that opens it (shown once, to the browser).
#[derive(Debug)]
pub struct StartedSession {
    pub session: Session,
    pub cookie: PlainSecret,
}

/// Starts a session for a user who just signed in with `amr` (a fresh id every time: no
/// fixation).
pub fn start_session(
    conn: &mut Conn,
    user_id: &str,
    amr: &AuthMethods,
    now: i64,
    policy: SessionPolicy,
    user_agent: Option<&str>,
    ip: Option<&str>,
) -> Result<StartedSession, AccountError> {
    let cookie = PlainSecret::generate();
    let row = SessionRow {
        id: random_id(),
        secret_hash: cookie.hash().as_str().to_owned(),
        user_id: user_id.to_owned(),
        csrf_token: random_token(32),
        auth_time: now,
        created_at: now,
        last_seen_at: now,
        expires_at: now + policy.absolute,
        user_agent: user_agent.map(|ua| ua.chars().take(200).collect()),
        ip: ip.map(str::to_owned),
        amr: amr.as_stored(),
    };
    rows::insert_session(conn, &row)?;
    Ok(StartedSession {
        session: row.into(),
        cookie,
    })
}

/// The live session and user a cookie opens, if any. An expired session (absolute or idle) is
/// deleted; a disabled user has no session. `last_seen_at` is written at most once a minute.
pub fn resolve_session(
    conn: &mut Conn,
    cookie: &str,
    now: i64,
    policy: SessionPolicy,
) -> Result<Option<(Session, User)>, AccountError> {
    if cookie.is_empty() || cookie.len() > 128 {
        return Ok(None);
    }
    let Some(row) = rows::find_session_by_secret(conn, SecretHash::of(cookie).as_str())? else {
        return Ok(None);
    };
    if now >= row.expires_at || now - row.last_seen_at >= policy.idle {
        rows::delete_session(conn, &row.id, &row.user_id, now)?;
        return Ok(None);
    }
    let Some(user) = rows::find_user(conn, &row.user_id)? else {
        return Ok(None);
    };
    if user.disabled {
        return Ok(None);
    }
    let mut session = Session::from(row);
    if now - session.last_seen_at >= 60 {
        rows::touch_session(conn, &session.id, now)?;
        session.last_seen_at = now;
    }
    Ok(Some((session, user.into())))
}

/// Every session of a user, newest first.
pub fn list_sessions(conn: &mut Conn, user_id: &str) -> Result<Vec<Session>, AccountError> {
    Ok(rows::sessions_of_user(conn, user_id)?
        .into_iter()
        .map(Session::from)
        .collect())
}

/// Ends one of the user's sessions by its public id.
pub fn revoke_session(
    conn: &mut Conn,
    user_id: &str,
    session_id: &str,
    now: i64,
) -> Result<(), AccountError> {
    if rows::delete_session(conn, session_id, user_id, now)? {
        Ok(())
    } else {
        Err(AccountError::NotFound)
    }
}

/// The newest back-channel logouts (queued when sessions end), at most `limit`, for the
/// operator's delivery log.
pub fn logout_deliveries(
    conn: &mut Conn,
    limit: i64,
) -> Result<Vec<store::backchannel::LogoutDeliveryRow>, AccountError> {
    Ok(store::backchannel::recent(conn, limit)?)
}

/// Ends a session (sign-out); its clients' back-channel logouts are queued.
pub fn end_session(conn: &mut Conn, session: &Session, now: i64) -> Result<(), AccountError> {
    rows::delete_session(conn, &session.id, &session.user_id, now)?;
    Ok(())
}
