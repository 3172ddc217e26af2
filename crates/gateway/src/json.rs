//! The JSON the API shows of services and usage rows (camelCase; a credential only as its
//! kind, name and hint).

use serde_json::{Value, json};

use crate::{Service, UsageRow};

/// A service as the API shows it.
pub fn service_json(s: &Service) -> Value {
    json!({
        "id": s.id, "organizationId": s.org_id, "name": s.name, "baseUrl": s.base_url,
        "pathPrefix": s.path_prefix,
        "credential": { "kind": s.credential_kind.as_str(), "name": s.credential_name, "hint": s.credential_hint },
        "createdAt": s.created_at, "updatedAt": s.updated_at,
    })
}

/// A usage row as the API shows it.
pub fn usage_json(u: &UsageRow) -> Value {
    json!({
        "at": u.occurred_at, "keyId": u.key_id, "agentId": u.agent_id, "subjectId": u.subject_id, "service": u.service,
        "endpoint": u.endpoint, "method": u.method, "status": u.status, "latencyMs": u.latency_ms,
        "bytesIn": u.bytes_in, "bytesOut": u.bytes_out,
    })
}
