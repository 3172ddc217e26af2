//! `GET /api/v1/organizations/{org}/audit`: the organization's audit events, newest first, for
//! its owners (an owner's token, or an organization key holding `*`). Paginated with an opaque
//! cursor: `?limit=50&cursor=…`, the answer's `nextCursor` fetches the next page.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::access::{OrgCaller, with_org};
use crate::audit::{AuditPage, Cursor, EventAnswer, org_events};
use crate::errors::{ApiError, json_no_store};
use crate::state::AppState;

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub(super) struct Query {
    /// Events per page, 1 to 200 (default 50).
    limit: Option<i64>,
    /// The previous page's `nextCursor`.
    cursor: Option<String>,
    /// Only events of this kind, e.g. `login.failed`.
    kind: Option<String>,
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
        Some(raw) => Some(Cursor::parse(raw).ok_or_else(|| {
            ApiError::bad_request("invalid_field", "cursor is not one this API gave.")
                .with_param("cursor")
        })?),
    };
    let kind = query.kind.filter(|k| !k.is_empty());
    let (events, next) = with_org(&state, caller, move |_, conn, _, role| {
        if role != accounts::Role::Owner {
            return Err(ApiError::forbidden());
        }
        Ok(org_events(conn, &org, kind.as_deref(), before, limit)?)
    })
    .await?;
    let page = AuditPage {
        data: events.iter().map(EventAnswer::from).collect(),
        next_cursor: next.map(|c| c.to_string()),
    };
    Ok(json_no_store(StatusCode::OK, page))
}
