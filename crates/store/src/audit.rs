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
}

pub fn insert(conn: &mut Conn, event: &NewAuditEvent<'_>) -> crate::Result<()> {
    diesel::insert_into(audit_events::table)
        .values(event)
        .execute(conn)
        .map(drop)
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
