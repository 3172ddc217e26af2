//! The audit log from the server's side: one row per authentication or administration event,
//! never a secret. Writing it never fails the request it describes; a lost row is logged.

use serde_json::Value;
use store::Conn;

/// Records an event. `detail` must hold no secret (no password, token, key or cookie).
pub fn record(
    conn: &mut Conn,
    now: i64,
    kind: &str,
    actor: Option<&str>,
    ip: Option<&str>,
    detail: Value,
) {
    let detail = detail.to_string();
    let event = store::audit::NewAuditEvent {
        id: &primitives::random_id(),
        occurred_at: now,
        kind,
        actor,
        ip,
        detail: &detail,
    };
    if let Err(e) = store::audit::insert(conn, &event) {
        tracing::warn!(error = %e, kind, "audit event lost");
    }
}
