//! The audit log: one row per authentication or administration event, without secrets.

use diesel::prelude::*;

use crate::Conn;
use crate::schema::audit_events;

/// A stored audit event.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: String,
    /// Unix seconds.
    pub occurred_at: i64,
    /// What happened, e.g. `login.succeeded`.
    pub kind: String,
    /// Who did it: a user or client id.
    pub actor: Option<String>,
    pub ip: Option<String>,
    /// A JSON object with the details; never a secret.
    pub detail: String,
    /// The organization the event belongs to, when it is about one.
    pub org_id: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
}

/// An event to record.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = audit_events)]
pub struct NewAuditEvent<'a> {
    pub id: &'a str,
    pub occurred_at: i64,
    pub kind: &'a str,
    pub actor: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub detail: &'a str,
    pub org_id: Option<&'a str>,
    pub outcome: &'a str,
}

/// An event owned by its writer (the server's background audit writer queues these).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = audit_events)]
pub struct OwnedAuditEvent {
    pub id: String,
    pub occurred_at: i64,
    pub kind: String,
    pub actor: Option<String>,
    pub ip: Option<String>,
    pub detail: String,
    pub org_id: Option<String>,
    pub outcome: String,
}

pub fn insert(conn: &mut Conn, event: &NewAuditEvent<'_>) -> crate::Result<()> {
    guarded(conn, |conn| {
        diesel::insert_into(audit_events::table)
            .values(event)
            .execute(conn)
            .map(drop)
            .map_err(Into::into)
    })
}

/// Inside an open transaction, an audit insert runs in a savepoint, so that a failed row is
/// rolled back alone and the caller's change goes on (a failed statement would otherwise
/// abort the whole transaction on PostgreSQL). Outside one, it is a plain insert.
fn guarded(conn: &mut Conn, f: impl FnOnce(&mut Conn) -> crate::Result<()>) -> crate::Result<()> {
    if crate::transaction::in_transaction(conn) {
        crate::transaction(conn, f)
    } else {
        f(conn)
    }
}

/// Several events in one multi-row insert (500 rows at a time, well within both backends'
/// limits on bound parameters). diesel has no multi-row insert over the connection enum, so
/// each backend's connection is used directly.
pub fn insert_many(conn: &mut Conn, events: &[OwnedAuditEvent]) -> crate::Result<()> {
    guarded(conn, |conn| {
        for chunk in events.chunks(500) {
            let insert = diesel::insert_into(audit_events::table).values(chunk);
            match conn {
                Conn::Postgresql(pg) => insert.execute(pg)?,
                Conn::Sqlite(lite) => insert.execute(lite)?,
            };
        }
        Ok(())
    })
}

/// Where a page of events starts: strictly older than this event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub occurred_at: i64,
    pub id: String,
}

/// What to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct Filter<'a> {
    /// The organization's events, and the sign-ins (`login.*`, which have no organization)
    /// of its members.
    pub org_id: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub actor: Option<&'a str>,
    pub before: Option<Cursor>,
}

/// More to narrow a listing by: a time range and a kind prefix (the console's filters).
#[derive(Debug, Clone, Default)]
pub struct Narrow<'a> {
    /// Only events at or after this time (unix seconds).
    pub since: Option<i64>,
    /// Only events before this time (unix seconds).
    pub until: Option<i64>,
    /// Only kinds starting with this (`admin.` finds the console's changes).
    pub kind_prefix: Option<&'a str>,
}

/// One page of events, newest first, at most `limit`.
pub fn list(conn: &mut Conn, filter: &Filter<'_>, limit: i64) -> crate::Result<Vec<AuditEvent>> {
    list_narrowed(conn, filter, &Narrow::default(), limit)
}

/// [`list`], narrowed further.
pub fn list_narrowed(
    conn: &mut Conn,
    filter: &Filter<'_>,
    narrow: &Narrow<'_>,
    limit: i64,
) -> crate::Result<Vec<AuditEvent>> {
    let mut query = audit_events::table
        .select(AuditEvent::as_select())
        .into_boxed();
    if let Some(org) = filter.org_id {
        let members = crate::schema::memberships::table
            .filter(crate::schema::memberships::org_id.eq(org.to_owned()))
            .select(crate::schema::memberships::user_id.nullable());
        query = query.filter(
            audit_events::org_id
                .eq(org.to_owned())
                .or(audit_events::org_id
                    .is_null()
                    .and(audit_events::kind.like("login.%"))
                    .and(audit_events::actor.eq_any(members))),
        );
    }
    if let Some(kind) = filter.kind {
        query = query.filter(audit_events::kind.eq(kind.to_owned()));
    }
    if let Some(actor) = filter.actor {
        query = query.filter(audit_events::actor.eq(actor.to_owned()));
    }
    if let Some(since) = narrow.since {
        query = query.filter(audit_events::occurred_at.ge(since));
    }
    if let Some(until) = narrow.until {
        query = query.filter(audit_events::occurred_at.lt(until));
    }
    if let Some(prefix) = narrow.kind_prefix {
        let mut pattern = crate::accounts::contains_pattern(prefix);
        pattern.remove(0);
        query = query.filter(audit_events::kind.like(pattern).escape('\\'));
    }
    if let Some(c) = &filter.before {
        query = query.filter(
            audit_events::occurred_at
                .lt(c.occurred_at)
                .or(audit_events::occurred_at
                    .eq(c.occurred_at)
                    .and(audit_events::id.lt(c.id.clone()))),
        );
    }
    query
        .order((audit_events::occurred_at.desc(), audit_events::id.desc()))
        .limit(limit)
        .load(conn)
        .map_err(Into::into)
}

/// The newest events first, at most `limit`.
pub fn recent(conn: &mut Conn, limit: i64) -> crate::Result<Vec<AuditEvent>> {
    audit_events::table
        .select(AuditEvent::as_select())
        .order((audit_events::occurred_at.desc(), audit_events::id.desc()))
        .limit(limit)
        .load(conn)
        .map_err(Into::into)
}

/// Events of one actor, newest first.
pub fn find_by_actor(conn: &mut Conn, actor: &str, limit: i64) -> crate::Result<Vec<AuditEvent>> {
    audit_events::table
        .select(AuditEvent::as_select())
        .filter(audit_events::actor.eq(actor))
        .order((audit_events::occurred_at.desc(), audit_events::id.desc()))
        .limit(limit)
        .load(conn)
        .map_err(Into::into)
}
