//! OpenID Connect Back-Channel Logout 1.0: the sender of logout tokens.
//!
//! Ending a session queues a logout for every client that received tokens in it, in the
//! transaction that ends it (`store::backchannel`). This sender, one background task per
//! process, reads the queue: it claims a due row (a conditional update, so of several
//! instances on one PostgreSQL database only one sends it), signs a logout token
//! (`tokens::issue_logout_token`, `typ: logout+jwt`, `sub` and `sid`, no `nonce`) with the
//! current key of the client's ID-token algorithm, and POSTs it as `logout_token` to the
//! client's `backchannel_logout_uri` through the vetted connector (no private address, no
//! redirect followed, a time limit). A 2xx answer delivers it; anything else is retried with
//! back-off, by the injected clock, until the attempts run out (`failed`). Each outcome is a
//! line in the audit log. A client without a logout URI (or gone) has its row dropped.

use std::time::Duration;

use serde_json::json;
use store::backchannel::{self as queue, LogoutDeliveryRow};

use crate::audit::Event;
use crate::state::AppState;

/// How often the queue is read, in real time (the schedule itself follows the clock).
const POLL: Duration = Duration::from_millis(500);
/// Rows read at a time.
const BATCH: i64 = 20;
/// A logout token's lifetime: it is used at once, or never (§2.4 asks for a short one).
const TOKEN_TTL: i64 = 120;

/// Seconds to wait after the `attempts`th failed attempt: 30 s, doubling, at most an hour.
pub fn retry_delay(attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.clamp(1, 8) - 1).unwrap_or(0);
    (30_i64 << exp).min(3_600)
}

/// Starts the sender on the current actix runtime (it lives as long as the runtime does).
pub(crate) fn spawn_sender(state: &AppState) {
    let state = state.clone();
    actix_web::rt::spawn(async move {
        loop {
            send_due(&state).await;
            actix_web::rt::time::sleep(POLL).await;
        }
    });
}

/// Sends every due logout once.
async fn send_due(state: &AppState) {
    let st = state.clone();
    let due = crate::traces::block("backchannel_due", move || {
        let mut conn = st.store.conn()?;
        queue::due(&mut conn, st.now(), BATCH)
    })
    .await;
    let Ok(Ok(due)) = due else {
        tracing::warn!("back-channel logouts could not be read");
        return;
    };
    for row in due {
        send_one(state, row).await;
    }
}

/// What a claimed row needs to go out: where to, and the signed token.
enum Prepared {
    Send {
        uri: String,
        token: String,
    },
    /// The client has no logout URI (or is gone): nothing to send.
    NoUri,
    /// Claimed by another instance, or the token could not be signed.
    Skip,
}

/// Claims, signs and sends one logout, and records the outcome.
async fn send_one(state: &AppState, row: LogoutDeliveryRow) {
    let st = state.clone();
    let lease =
        i64::try_from(state.settings.backchannel_logout_timeout_ms / 1000).unwrap_or(60) + 60;
    let r = row.clone();
    let prepared = crate::traces::block("backchannel_claim", move || {
        let mut conn = match st.store.conn() {
            Ok(c) => c,
            Err(_) => return Prepared::Skip,
        };
        prepare(&st, &mut conn, &r, lease)
    })
    .await
    .unwrap_or(Prepared::Skip);
    let (uri, token) = match prepared {
        Prepared::Send { uri, token } => (uri, token),
        Prepared::NoUri | Prepared::Skip => return,
    };
    let outcome = post(state, &uri, &token).await;
    let st = state.clone();
    let recorded = crate::traces::block("backchannel_record", move || {
        let mut conn = st.store.conn()?;
        record(&st, &mut conn, &row, &outcome)
    })
    .await;
    if !matches!(recorded, Ok(Ok(()))) {
        tracing::warn!("a back-channel logout's outcome could not be recorded");
    }
}

/// The claim and the token of one row (blocking).
fn prepare(st: &AppState, conn: &mut store::Conn, row: &LogoutDeliveryRow, lease: i64) -> Prepared {
    let now = st.now();
    match queue::claim(conn, &row.id, now, now + lease) {
        Ok(true) => {}
        Ok(false) => return Prepared::Skip,
        Err(e) => {
            tracing::warn!(error = %e, "a back-channel logout could not be claimed");
            return Prepared::Skip;
        }
    }
    let client = st.clients.find(conn, &row.client_id, now).ok().flatten();
    let Some((client, uri)) = client.and_then(|c| {
        let uri = c.metadata.backchannel_logout_uri.clone()?;
        Some((c, uri))
    }) else {
        if let Err(e) = queue::delete(conn, &row.id) {
            tracing::warn!(error = %e, "a back-channel logout could not be dropped");
        }
        return Prepared::NoUri;
    };
    let alg = tokens::SigningAlg::parse(&client.metadata.id_token_signed_response_alg)
        .unwrap_or(tokens::SigningAlg::Rs256);
    let signed = st.keys.get(conn, now).and_then(|keyring| {
        tokens::issue_logout_token(
            &keyring,
            &tokens::LogoutSubject {
                client_id: &row.client_id,
                sub: &row.user_id,
                sid: &row.session_id,
                jti: &row.id,
            },
            &tokens::Issuance {
                issuer: st.settings.issuer_str(),
                ttl: TOKEN_TTL,
                alg,
            },
            now,
        )
    });
    match signed {
        Ok(token) => Prepared::Send { uri, token },
        Err(e) => {
            // The claim lapses; the row is tried again then.
            tracing::error!(error = %e, "a logout token could not be signed");
            Prepared::Skip
        }
    }
}

/// What one POST got: delivered, or why not, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    delivered: bool,
    /// An HTTP status, `timeout`, `refused` or `unreachable`.
    status: String,
    /// A refused address is refused again: no retry.
    final_failure: bool,
}

/// POSTs `logout_token=<token>` (Back-Channel Logout §2.5).
async fn post(state: &AppState, uri: &str, token: &str) -> Outcome {
    let client = crate::vetted::http_client(
        state,
        None,
        state.settings.backchannel_logout_allow_loopback,
        Duration::from_millis(state.settings.backchannel_logout_timeout_ms),
    );
    let sent = client.post(uri).send_form(&[("logout_token", token)]).await;
    match sent {
        Ok(res) => Outcome {
            delivered: res.status().is_success(),
            status: res.status().as_u16().to_string(),
            final_failure: false,
        },
        Err(awc::error::SendRequestError::Timeout) => Outcome {
            delivered: false,
            status: "timeout".into(),
            final_failure: false,
        },
        Err(e) => match crate::vetted::connect_refusal(&e) {
            Some(why) => {
                tracing::warn!(%why, "back-channel logout URI refused");
                Outcome {
                    delivered: false,
                    status: "refused".into(),
                    final_failure: true,
                }
            }
            None => Outcome {
                delivered: false,
                status: "unreachable".into(),
                final_failure: false,
            },
        },
    }
}

/// Records an attempt: delivered, due again after [`retry_delay`], or failed for good; and
/// its line in the audit log.
fn record(
    st: &AppState,
    conn: &mut store::Conn,
    row: &LogoutDeliveryRow,
    outcome: &Outcome,
) -> store::Result<()> {
    let now = st.now();
    let attempts = row.attempts + 1;
    let out_of_attempts = attempts >= i64::from(st.settings.backchannel_logout_attempts);
    let (status, next, kind) = if outcome.delivered {
        (queue::DELIVERED, now, "backchannel_logout.delivered")
    } else if outcome.final_failure || out_of_attempts {
        (queue::FAILED, now, "backchannel_logout.failed")
    } else {
        (
            queue::PENDING,
            now + retry_delay(attempts),
            "backchannel_logout.retrying",
        )
    };
    queue::record_attempt(conn, &row.id, status, attempts, next, &outcome.status, now)?;
    let mut event = Event::new(kind).actor(Some(&row.user_id)).detail(json!({
        "delivery": row.id,
        "client_id": row.client_id,
        "attempts": attempts,
        "status": outcome.status,
    }));
    if !outcome.delivered {
        event = event.failed();
    }
    crate::audit::record(conn, now, event);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::retry_delay;

    #[test]
    fn retries_back_off_doubling_up_to_an_hour() {
        assert_eq!(
            (1..=9).map(retry_delay).collect::<Vec<_>>(),
            [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
        );
        assert_eq!(retry_delay(0), 30, "never below the first delay");
    }
}
