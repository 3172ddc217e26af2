//! `GET /api/v1/admin/backchannel-logouts`: the delivery log of OpenID Connect Back-Channel
//! Logout (`crate::backchannel`): the newest logouts first, each with its client, user,
//! session, status (`pending`, `delivered`, `failed`), attempts and what the last one got.
//! Operators only; it shows no token (a logout token is signed at each attempt and kept
//! nowhere).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::{Operator, as_operator};
use crate::errors::json_no_store;
use crate::state::AppState;

/// How many logouts the log shows.
const SHOWN: i64 = 200;

/// One back-channel logout.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct LogoutAnswer {
    id: String,
    client_id: String,
    user_id: String,
    /// The ended session's id: the logout token's `sid`.
    session_id: String,
    /// `pending`, `delivered` or `failed`.
    status: String,
    attempts: i64,
    /// When a pending logout is tried next (unix seconds).
    next_attempt_at: i64,
    /// What the last attempt got: an HTTP status, `timeout`, `refused` or `unreachable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_status: Option<String>,
    created_at: i64,
    updated_at: i64,
}

/// The newest back-channel logouts, at most 200.
#[derive(Serialize, ToSchema)]
pub(super) struct LogoutList {
    data: Vec<LogoutAnswer>,
}

pub(super) async fn list(
    operator: Operator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, crate::errors::ApiError> {
    let rows = as_operator(&state, operator, |_, conn, _| {
        Ok(accounts::logout_deliveries(conn, SHOWN)?)
    })
    .await?;
    let data = rows
        .into_iter()
        .map(|r| LogoutAnswer {
            id: r.id,
            client_id: r.client_id,
            user_id: r.user_id,
            session_id: r.session_id,
            status: r.status,
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at,
            last_status: r.last_status,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
        .collect();
    Ok(json_no_store(StatusCode::OK, LogoutList { data }))
}
