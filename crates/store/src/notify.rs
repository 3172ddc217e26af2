//! Telling the other instances that something cached changed: PostgreSQL `LISTEN/NOTIFY` on
//! one channel, [`CHANNEL`], with a payload `kind:id` (e.g. `api_key:k_123`).
//!
//! [`publish`] sends a notice in the caller's connection (inside a transaction, PostgreSQL
//! delivers it at commit, and not at all on rollback); on SQLite it does nothing, since one
//! process owns the file and evicts its own caches. [`Listener`] holds a dedicated connection
//! of its own (never one of the pool's), reconnects with a back-off when it breaks, and
//! reports [`Notice::Reconnected`] after each new connection, since notices sent while it was
//! away are lost: the caller then drops everything it cached. What it yields are plain
//! strings; no diesel type leaves this module.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::{Conn, DatabaseUrl};

/// The one channel every instance listens on.
pub const CHANNEL: &str = "portcullis_invalidate";

/// Sends `kind:id` to every listening instance (this one included). A no-op on SQLite.
pub fn publish(conn: &mut Conn, kind: &str, id: &str) -> crate::Result<()> {
    if let Conn::Postgresql(pg) = conn {
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<Text, _>(CHANNEL)
            .bind::<Text, _>(format!("{kind}:{id}"))
            .execute(pg)?;
    }
    Ok(())
}

/// What a [`Listener`] hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// `kind:id` as published (an id may itself hold `:`; only the first one separates).
    Changed { kind: String, id: String },
    /// A new connection is listening: notices sent before it may have been lost.
    Reconnected,
}

impl Notice {
    fn parse(payload: &str) -> Option<Self> {
        let (kind, id) = payload.split_once(':')?;
        Some(Self::Changed {
            kind: kind.to_owned(),
            id: id.to_owned(),
        })
    }
}

/// A dedicated `LISTEN` connection. Call [`Listener::poll`] in a loop on a thread of its own.
pub struct Listener {
    url: String,
    conn: Option<PgConnection>,
    /// When the next connection attempt may be made, and the back-off after a failure.
    retry_at: Instant,
    backoff: Duration,
    /// When the connection was last checked with a query (a dead peer sends no EOF).
    checked_at: Instant,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("connected", &self.conn.is_some())
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

/// Longest wait between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often an idle connection is checked with a query.
const CHECK_EVERY: Duration = Duration::from_secs(10);

impl Listener {
    /// A listener for a PostgreSQL database; `None` on SQLite (one instance, nothing to hear).
    /// Connects on the first [`poll`](Self::poll).
    pub fn new(url: &DatabaseUrl) -> Option<Self> {
        match url {
            DatabaseUrl::Postgres(url) => Some(Self {
                url: url.clone(),
                conn: None,
                retry_at: Instant::now(),
                backoff: Duration::from_millis(100),
                checked_at: Instant::now(),
            }),
            DatabaseUrl::Sqlite(_) => None,
        }
    }

    /// Whether a listening connection is open now.
    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// The notices that arrived since the last call, waiting about `wait` when there are none
    /// (libpq offers no blocking wait without a raw socket, so this sleeps in short steps).
    /// An `Err` says the connection broke or could not be made (the error's text, without
    /// the URL); the next call tries again once the back-off has passed.
    pub fn poll(&mut self, wait: Duration) -> Result<Vec<Notice>, String> {
        let mut out = Vec::new();
        if self.conn.is_none() {
            if Instant::now() < self.retry_at {
                std::thread::sleep(wait.min(self.retry_at - Instant::now()));
                return Ok(out);
            }
            match self.connect() {
                Ok(conn) => {
                    self.conn = Some(conn);
                    self.backoff = Duration::from_millis(100);
                    self.checked_at = Instant::now();
                    out.push(Notice::Reconnected);
                }
                Err(e) => {
                    self.fail();
                    return Err(e);
                }
            }
        }
        let deadline = Instant::now() + wait;
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return Ok(out);
            };
            let mut broken = None;
            for item in conn.notifications_iter() {
                match item {
                    Ok(n) if n.channel == CHANNEL => out.extend(Notice::parse(&n.payload)),
                    Ok(_) => {}
                    Err(e) => {
                        broken = Some(e.to_string());
                        break;
                    }
                }
            }
            if broken.is_none() && self.checked_at.elapsed() >= CHECK_EVERY {
                self.checked_at = Instant::now();
                if let Err(e) = conn.batch_execute("SELECT 1") {
                    broken = Some(e.to_string());
                }
            }
            if let Some(e) = broken {
                self.conn = None;
                self.fail();
                return if out.is_empty() { Err(e) } else { Ok(out) };
            }
            if !out.is_empty() || Instant::now() >= deadline {
                return Ok(out);
            }
            std::thread::sleep(Duration::from_millis(20).min(deadline - Instant::now()));
        }
    }

    fn connect(&self) -> Result<PgConnection, String> {
        let mut conn = PgConnection::establish(&self.url).map_err(|e| e.to_string())?;
        conn.batch_execute(&format!("LISTEN {CHANNEL}"))
            .map_err(|e| e.to_string())?;
        Ok(conn)
    }

    fn fail(&mut self) {
        self.retry_at = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_split_at_the_first_colon() {
        assert_eq!(
            Notice::parse("client:abc:def"),
            Some(Notice::Changed {
                kind: "client".into(),
                id: "abc:def".into()
            })
        );
        assert_eq!(
            Notice::parse("signing_keys:"),
            Some(Notice::Changed {
                kind: "signing_keys".into(),
                id: String::new()
            })
        );
        assert_eq!(Notice::parse("no separator"), None);
    }
}
