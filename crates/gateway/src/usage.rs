//! The usage log: one row per proxied call (who, which service and endpoint, status, time,
//! bytes), for the organization's owners. Never the request or response bodies, headers or
//! credentials.

use store::Conn;
pub use store::gateway::UsageRow;

use crate::GatewayError;

/// One proxied call, as the proxy measured it.
#[derive(Debug, Clone)]
pub struct Call {
    pub org_id: String,
    pub key_id: String,
    pub agent_id: String,
    /// The subject the agent called for, when it called with an exchanged token (the user,
    /// or the organization API key); `None` for a key or the agent's own token.
    pub subject_id: Option<String>,
    /// The service's name.
    pub service: String,
    /// The upstream path called.
    pub endpoint: String,
    pub method: String,
    pub status: u16,
    pub latency_ms: u128,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// Records a call that happened at `now` (unix seconds). Counts too large for the column are
/// stored as its maximum.
pub fn record_call(conn: &mut Conn, call: &Call, now: i64) -> Result<(), GatewayError> {
    let saturate = |n: u128| i64::try_from(n).unwrap_or(i64::MAX);
    let row = UsageRow {
        id: primitives::random_id(),
        org_id: call.org_id.clone(),
        key_id: call.key_id.clone(),
        agent_id: call.agent_id.clone(),
        service: call.service.clone(),
        endpoint: call.endpoint.clone(),
        method: call.method.clone(),
        status: i64::from(call.status),
        latency_ms: saturate(call.latency_ms),
        bytes_in: saturate(u128::from(call.bytes_in)),
        bytes_out: saturate(u128::from(call.bytes_out)),
        occurred_at: now,
        subject_id: call.subject_id.clone(),
    };
    Ok(store::gateway::insert_usage(conn, &row)?)
}

/// Which calls to list.
#[derive(Debug, Clone, Default)]
pub struct UsageFilter<'a> {
    /// Only this service's (by name).
    pub service: Option<&'a str>,
    /// Only this agent's.
    pub agent_id: Option<&'a str>,
    /// Only calls at or after this time (unix seconds).
    pub since: Option<i64>,
}

/// How many calls a listing returns when the caller does not say.
pub const DEFAULT_USAGE_LIMIT: i64 = 100;

/// An organization's calls, newest first, at most `limit` (kept within 1..=1000).
pub fn usage_of_org(
    conn: &mut Conn,
    org_id: &str,
    filter: &UsageFilter<'_>,
    limit: i64,
) -> Result<Vec<UsageRow>, GatewayError> {
    Ok(store::gateway::usage_of_org(
        conn,
        org_id,
        filter.service,
        filter.agent_id,
        filter.since,
        limit.clamp(1, 1000),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    store::backend_tests! {
        fn a_call_is_recorded_and_listed_for_its_organization_only(db) {
            let mut conn = db.store().conn().expect("conn");
            let call = |org: &str, service: &str, status| Call {
                org_id: org.into(),
                key_id: "key_1".into(),
                agent_id: "agt_1".into(),
                subject_id: None,
                service: service.into(),
                endpoint: "/v1/items".into(),
                method: "GET".into(),
                status,
                latency_ms: u128::MAX,
                bytes_in: u64::MAX,
                bytes_out: 12,
            };
            record_call(&mut conn, &call("org_a", "github", 200), 100).expect("record");
            record_call(&mut conn, &call("org_a", "slack", 502), 200).expect("record");
            record_call(&mut conn, &call("org_b", "github", 200), 300).expect("record");
            let all = usage_of_org(&mut conn, "org_a", &UsageFilter::default(), 50).expect("list");
            assert_eq!(all.iter().map(|u| u.occurred_at).collect::<Vec<_>>(), [200, 100], "newest first, org_a only");
            assert_eq!(all[0].status, 502);
            assert_eq!((all[1].latency_ms, all[1].bytes_in, all[1].bytes_out), (i64::MAX, i64::MAX, 12), "saturated");
            let github = UsageFilter { service: Some("github"), ..UsageFilter::default() };
            assert_eq!(usage_of_org(&mut conn, "org_a", &github, 50).expect("list").len(), 1);
            let since = UsageFilter { since: Some(150), ..UsageFilter::default() };
            assert_eq!(usage_of_org(&mut conn, "org_a", &since, 50).expect("list").len(), 1);
            assert_eq!(usage_of_org(&mut conn, "org_a", &UsageFilter::default(), 0).expect("list").len(), 1, "limit at least 1");
        }
    }
}
