//! The audit log's one writer: one row per authentication or administration event, with its
//! time, actor, client IP, organization and outcome, never a secret.
//!
//! Every event the server records is an [`Event`], and reaches the table through one of two
//! doors, chosen by how it must be delivered:
//!
//! | delivery | entry point | for |
//! |---|---|---|
//! | with the change, in the caller's connection (and its transaction, if one is open) | [`record`] | sign-ins, sign-ups, organizations, members, invites, keys, agents, clients: events that must exist exactly when the change does |
//! | queued, written in batches by a background thread | [`AuditWriter::queue`] (`state.audit`) | the token endpoint's events (`token.issued`, `client.auth_failed`): the hot path, tens of thousands a second, with no change of their own to commit with |
//!
//! Writing an event never fails the request: a lost row is logged (`audit event lost`).
//! The queue holds 16,384 events; when full, senders wait (back-pressure), so none is dropped.
//! The writer inserts up to 4,096 in one transaction, at least every 200 ms, and drains its
//! queue at shutdown ([`AuditWriter::flush`]). A process killed with SIGKILL can lose the
//! queued events of its last 200 ms; the tokens they describe are stateless JWTs.
//!
//! Nothing else in `server` inserts audit rows (`store::audit::insert*` is called only here;
//! the tidy test checks it). One writer remains outside this crate, which cannot call it:
//! `grants::family` inserts `refresh_family.revoked` itself, in the revoking transaction.
//!
//! Reading: [`org_events`] pages through an organization's events for the API, and
//! [`event_json`] is the one JSON shape of an event (the API and `portcullis audit`).

use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use serde_json::Value;
use store::audit::{AuditEvent, Filter, OwnedAuditEvent};
use store::{Conn, Store, StoreError};

/// One event, built with its optional parts.
#[derive(Debug, Clone)]
pub struct Event {
    kind: &'static str,
    actor: Option<String>,
    ip: Option<String>,
    org: Option<String>,
    failed: bool,
    detail: Value,
}

impl Event {
    /// `kind` names what happened, e.g. `login.succeeded` or `api_key.revoked`.
    pub fn new(kind: &'static str) -> Self {
        Self {
            kind,
            actor: None,
            ip: None,
            org: None,
            failed: false,
            detail: Value::Object(serde_json::Map::new()),
        }
    }

    /// Who did it: a user id, or an API key or client id.
    pub fn actor(mut self, actor: Option<&str>) -> Self {
        self.actor = actor.map(str::to_owned);
        self
    }

    pub fn ip(mut self, ip: Option<&str>) -> Self {
        self.ip = ip.map(str::to_owned);
        self
    }

    /// The principal of an API request as the actor, with its client IP.
    pub(crate) fn by(self, principal: &crate::principal::Principal) -> Self {
        self.actor(Some(principal.actor()))
            .ip(principal.ip.as_deref())
    }

    /// The organization the event is about; its owners can read it.
    pub fn org(mut self, org: &str) -> Self {
        self.org = Some(org.to_owned());
        self
    }

    /// The attempt was refused (the outcome is `failure`).
    pub fn failed(mut self) -> Self {
        self.failed = true;
        self
    }

    /// Details as a JSON object: ids, names, scopes. Never a password, token, key or cookie.
    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }

    fn into_row(self, now: i64) -> OwnedAuditEvent {
        OwnedAuditEvent {
            // Time first, so rows arrive in key order: an insert appends to the primary-key
            // index instead of landing at a random place in it.
            id: format!("{now:010x}{}", primitives::random_token(9)),
            occurred_at: now,
            kind: self.kind.to_owned(),
            actor: self.actor,
            ip: self.ip,
            detail: self.detail.to_string(),
            org_id: self.org,
            outcome: if self.failed { "failure" } else { "success" }.to_owned(),
        }
    }
}

/// Records an event with the change it describes: on this connection, inside the caller's
/// transaction if one is open (so it commits, or rolls back, with the change).
pub fn record(conn: &mut Conn, now: i64, event: Event) {
    let kind = event.kind;
    let row = event.into_row(now);
    if let Err(e) = store::audit::insert_many(conn, std::slice::from_ref(&row)) {
        tracing::warn!(error = %e, kind, "audit event lost");
    }
}

impl Event {
    /// A password sign-in that succeeded. `detail` says where (`via`) and through what.
    pub fn login_succeeded(user_id: &str, ip: Option<&str>, detail: Value) -> Self {
        count_sign_in(&detail, true);
        Self::new("login.succeeded")
            .actor(Some(user_id))
            .ip(ip)
            .detail(detail)
    }

    /// A password sign-in that failed. The event names the account when the email is one (so
    /// its organizations' owners see it) and carries the email as typed, normalized. Looks the
    /// email up on `conn`.
    pub fn login_failed(conn: &mut Conn, email: &str, ip: Option<&str>, mut detail: Value) -> Self {
        count_sign_in(&detail, false);
        let known = accounts::find_user_by_email(conn, email).ok().flatten();
        if let Value::Object(map) = &mut detail {
            map.insert("email".into(), Value::String(email.trim().to_lowercase()));
        }
        Self::new("login.failed")
            .actor(known.as_ref().map(|u| u.id.as_str()))
            .ip(ip)
            .failed()
            .detail(detail)
    }
}

/// Every sign-in is decided where its audit event is made: the metric counts it there, by the
/// `via` the event names.
pub(crate) fn count_sign_in(detail: &Value, success: bool) {
    use crate::metrics::business::{SignInMethod, sign_in};
    sign_in(
        SignInMethod::from_via(detail.get("via").and_then(Value::as_str)),
        success,
    );
}

enum Message {
    Event(Box<OwnedAuditEvent>),
    Flush(SyncSender<()>),
}

/// The queued delivery: a bounded queue and one thread that inserts events in batches. When
/// the queue is full, senders wait (back-pressure), so no event is dropped. One per process,
/// in `AppState::audit`.
#[derive(Debug, Clone)]
pub struct AuditWriter {
    queue: SyncSender<Message>,
}

/// At most this many events per insert.
const BATCH: usize = 4096;
/// Events wait at most this long before they are written.
const LINGER: Duration = Duration::from_millis(200);

impl AuditWriter {
    /// Starts the writer thread on `store`. The thread ends when every handle is dropped,
    /// after writing what is queued.
    pub fn start(store: Store) -> Self {
        let (queue, rx) = sync_channel(16 * 1024);
        let spawned = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || run_writer(&store, &rx));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the audit writer; token events will be lost");
        }
        Self { queue }
    }

    /// Queues an event (waiting if the queue is full); it is written within 200 ms.
    pub fn queue(&self, now: i64, event: Event) {
        let message = Message::Event(Box::new(event.into_row(now)));
        let sent = match self.queue.try_send(message) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(message)) => self.queue.send(message).map_err(drop),
            Err(TrySendError::Disconnected(_)) => Err(()),
        };
        if sent.is_err() {
            tracing::warn!("audit writer stopped; event lost");
        }
    }

    /// Waits until everything queued before this call is written (shutdown, tests).
    pub fn flush(&self) {
        let (done, wait) = sync_channel(1);
        if self.queue.send(Message::Flush(done)).is_ok() {
            let _ = wait.recv_timeout(Duration::from_secs(30));
        }
    }
}

fn run_writer(store: &Store, rx: &Receiver<Message>) {
    let mut batch: Vec<OwnedAuditEvent> = Vec::with_capacity(BATCH);
    loop {
        let message = if batch.is_empty() {
            match rx.recv() {
                Ok(m) => Some(m),
                Err(_) => return,
            }
        } else {
            match rx.recv_timeout(LINGER) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    write_batch(store, &mut batch);
                    return;
                }
            }
        };
        match message {
            Some(Message::Event(event)) => {
                batch.push(*event);
                if batch.len() >= BATCH {
                    write_batch(store, &mut batch);
                }
            }
            Some(Message::Flush(done)) => {
                write_batch(store, &mut batch);
                let _ = done.send(());
            }
            None => write_batch(store, &mut batch),
        }
    }
}

fn write_batch(store: &Store, batch: &mut Vec<OwnedAuditEvent>) {
    if batch.is_empty() {
        return;
    }
    let written = store.conn().and_then(|mut conn| {
        store::transaction(&mut conn, |conn| store::audit::insert_many(conn, batch))
    });
    if let Err(e) = written {
        tracing::warn!(error = %e, lost = batch.len(), "audit events lost");
    }
    batch.clear();
}

// ---- reading ----

/// Where a page of events starts: strictly older than the event it names. Shown to clients as
/// `<occurred_at>.<id>`, an opaque string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(store::audit::Cursor);

impl Cursor {
    /// A cursor this server gave, or `None` for anything else.
    pub fn parse(raw: &str) -> Option<Self> {
        let (at, id) = raw.split_once('.')?;
        let occurred_at = at.parse().ok()?;
        let valid = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        valid.then(|| {
            Self(store::audit::Cursor {
                occurred_at,
                id: id.to_owned(),
            })
        })
    }

    fn after(event: &AuditEvent) -> Self {
        Self(store::audit::Cursor {
            occurred_at: event.occurred_at,
            id: event.id.clone(),
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0.occurred_at, self.0.id)
    }
}

/// One page of an organization's events (and its members' sign-ins), newest first: at most
/// `limit` (at least 1), and the cursor of the next page when there is one.
pub fn org_events(
    conn: &mut Conn,
    org_id: &str,
    kind: Option<&str>,
    before: Option<Cursor>,
    limit: i64,
) -> Result<(Vec<AuditEvent>, Option<Cursor>), StoreError> {
    let filter = Filter {
        org_id: Some(org_id),
        kind,
        actor: None,
        before: before.map(|c| c.0),
    };
    let limit = limit.max(1);
    let mut events = store::audit::list(conn, &filter, limit.saturating_add(1))?;
    let keep = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = events.len() > keep;
    events.truncate(keep);
    let next = more.then(|| events.last().map(Cursor::after)).flatten();
    Ok((events, next))
}

/// What the console's audit section filters by; every part optional.
#[derive(Debug, Clone, Default)]
pub struct Search<'a> {
    pub actor: Option<&'a str>,
    /// A kind, or a prefix of kinds when it ends with `*` (`admin.*`: the console's changes).
    pub kind: Option<&'a str>,
    pub org: Option<&'a str>,
    /// From this time (unix seconds), inclusive.
    pub since: Option<i64>,
    /// To this time (unix seconds), exclusive.
    pub until: Option<i64>,
}

/// One page of every event matching `search`, newest first: at most `limit` (at least 1), and
/// the cursor of the next page when there is one (the console's audit section).
pub fn search_events(
    conn: &mut Conn,
    search: &Search<'_>,
    before: Option<Cursor>,
    limit: i64,
) -> Result<(Vec<AuditEvent>, Option<Cursor>), StoreError> {
    let (kind, kind_prefix) = match search.kind {
        Some(k) if k.ends_with('*') => (None, Some(k.trim_end_matches('*'))),
        other => (other, None),
    };
    let filter = Filter {
        org_id: search.org,
        kind,
        actor: search.actor,
        before: before.map(|c| c.0),
    };
    let narrow = store::audit::Narrow {
        since: search.since,
        until: search.until,
        kind_prefix,
    };
    let limit = limit.max(1);
    let mut events = store::audit::list_narrowed(conn, &filter, &narrow, limit.saturating_add(1))?;
    let keep = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = events.len() > keep;
    events.truncate(keep);
    let next = more.then(|| events.last().map(Cursor::after)).flatten();
    Ok((events, next))
}

/// An event as the API and `portcullis audit` show it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventAnswer {
    pub id: String,
    /// Unix seconds.
    pub occurred_at: i64,
    /// What happened, e.g. `login.succeeded`.
    pub kind: String,
    pub outcome: String,
    /// Who did it: a user or client id.
    pub actor: Option<String>,
    pub ip: Option<String>,
    pub organization_id: Option<String>,
    /// The event's details (their keys are the event's own); never a secret.
    pub detail: Value,
}

impl From<&AuditEvent> for EventAnswer {
    fn from(e: &AuditEvent) -> Self {
        Self {
            id: e.id.clone(),
            occurred_at: e.occurred_at,
            kind: e.kind.clone(),
            outcome: e.outcome.clone(),
            actor: e.actor.clone(),
            ip: e.ip.clone(),
            organization_id: e.org_id.clone(),
            detail: serde_json::from_str::<Value>(&e.detail).unwrap_or(Value::Null),
        }
    }
}

/// One page of events, newest first; `nextCursor` fetches the next page (`null` on the last).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub data: Vec<EventAnswer>,
    pub next_cursor: Option<String>,
}

/// An event as the API and `portcullis audit` show it, as JSON.
pub fn event_json(e: &AuditEvent) -> Value {
    serde_json::to_value(EventAnswer::from(e)).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_event_becomes_one_row_in_time_order() {
        let row = Event::new("api_key.revoked")
            .actor(Some("usr_1"))
            .ip(Some("192.0.2.1"))
            .org("org_1")
            .failed()
            .detail(json!({ "name": "deploy" }))
            .into_row(0x1234);
        assert_eq!(row.kind, "api_key.revoked");
        assert_eq!(row.outcome, "failure");
        assert_eq!(row.occurred_at, 0x1234);
        assert!(row.id.starts_with("0000001234"), "time first: {}", row.id);
        assert_eq!(row.org_id.as_deref(), Some("org_1"));
        assert_eq!(row.detail, r#"{"name":"deploy"}"#);
        let ok = Event::login_succeeded("usr_1", None, json!({ "via": "page" })).into_row(1);
        assert_eq!(
            (ok.kind.as_str(), ok.outcome.as_str(), ok.actor.as_deref()),
            ("login.succeeded", "success", Some("usr_1"))
        );
    }

    #[test]
    fn cursors_round_trip_and_refuse_what_this_server_never_gave() {
        let c = Cursor::parse("1800000000.0a1b_c-D").expect("a cursor");
        assert_eq!(c.to_string(), "1800000000.0a1b_c-D");
        for bad in [
            "",
            "1800000000",
            "1800000000.",
            "x.abc",
            "1.a'b",
            "1.a b",
            &format!("1.{}", "a".repeat(65)),
        ] {
            assert_eq!(Cursor::parse(bad), None, "{bad:?}");
        }
    }
}
