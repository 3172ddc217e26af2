//! `GET /api/v1/organizations/{org}/audit`: the organization's audit events, newest first, for
//! its owners (an owner's token, or an organization key holding `*`). Paginated with an opaque
//! cursor: `?limit=50&cursor=…`, the answer's `nextCursor` fetches the next page.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use store::audit::{AuditEvent, Cursor, Filter};

use crate::access::{OrgCaller, with_org};
use crate::app::AppState;
use crate::errors::{ApiError, json_no_store};

/// An event as the API and `portcullis audit` show it.
pub fn audit_json(e: &AuditEvent) -> Value {
    json!({
        "id": e.id,
        "occurredAt": e.occurred_at,
        "kind": e.kind,
        "outcome": e.outcome,
        "actor": e.actor,
        "ip": e.ip,
        "organizationId": e.org_id,
        "detail": serde_json::from_str::<Value>(&e.detail).unwrap_or(Value::Null),
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Query {
    limit: Option<i64>,
    cursor: Option<String>,
    kind: Option<String>,
}

fn parse_cursor(raw: &str) -> Option<Cursor> {
    let (at, id) = raw.split_once('.')?;
    let occurred_at = at.parse().ok()?;
    let valid = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    valid.then(|| Cursor {
        occurred_at,
        id: id.to_owned(),
    })
}

pub(super) async fn list(
    caller: OrgCaller,
    path: web::Path<String>,
    state: web::Data<AppState>,
    query: web::Query<Query>,
) -> Result<HttpResponse, ApiError> {
    let org = path.into_inner();
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(
            ApiError::bad_request("invalid_field", "limit must be between 1 and 200.")
                .with_param("limit"),
        );
    }
    let before = match query.cursor.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(parse_cursor(raw).ok_or_else(|| {
            ApiError::bad_request("invalid_field", "cursor is not one this API gave.")
                .with_param("cursor")
        })?),
    };
    let o = org.clone();
    let (events, more) = with_org(&state, caller, move |_, conn, _, role| {
        if role != accounts::Role::Owner {
            return Err(ApiError::forbidden());
        }
        let filter = Filter {
            org_id: Some(&o),
            kind: query.kind.as_deref().filter(|k| !k.is_empty()),
            actor: None,
            before,
        };
        let mut events = store::audit::list(conn, &filter, limit + 1)?;
        let more = events.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        events.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok((events, more))
    })
    .await?;
    let next = more
        .then(|| events.last().map(|e| format!("{}.{}", e.occurred_at, e.id)))
        .flatten();
    let data: Vec<Value> = events.iter().map(audit_json).collect();
    Ok(json_no_store(
        StatusCode::OK,
        json!({ "data": data, "nextCursor": next }),
    ))
}
