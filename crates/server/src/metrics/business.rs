//! Business counters: what the server did, beside how its HTTP requests went.
//!
//! Every counter is an `AtomicU64` in a fixed array indexed by enums, in one process-wide
//! static: counting is one relaxed atomic add, with no lock, no map look-up and no allocation
//! on the request path, and every label set is fixed at compile time (never a user id, a
//! client id or a raw path). The one label that comes from data, the gateway's service name,
//! is capped at [`MAX_SERVICES`] distinct values (the rest count as `other`), and those calls
//! are counted off the request path.
//!
//! The counters are per process, like everything Prometheus scrapes: several servers in one
//! process (the tests) share them, so a test reads a counter before and after its action.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// How a user signed in (the `method` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMethod {
    /// The sign-in page (password form, and its second step).
    Page,
    /// The JSON sign-in of first-party apps (`/api/v1/auth/*`).
    Json,
    /// The OAuth password grant.
    PasswordGrant,
    /// Another OpenID provider.
    Upstream,
    /// A passkey.
    Passkey,
    Other,
}

impl SignInMethod {
    const ALL: [Self; 6] = [
        Self::Page,
        Self::Json,
        Self::PasswordGrant,
        Self::Upstream,
        Self::Passkey,
        Self::Other,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Page => "page",
            Self::Json => "json",
            Self::PasswordGrant => "password_grant",
            Self::Upstream => "upstream",
            Self::Passkey => "passkey",
            Self::Other => "other",
        }
    }

    /// From the `via` an audit event of a sign-in carries.
    pub fn from_via(via: Option<&str>) -> Self {
        match via {
            Some("page" | "mfa") => Self::Page,
            Some("api") => Self::Json,
            Some("password_grant") => Self::PasswordGrant,
            Some("upstream") => Self::Upstream,
            Some("passkey") => Self::Passkey,
            _ => Self::Other,
        }
    }
}

/// The grant a token was issued through (the `grant` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenGrant {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
    Password,
    /// RFC 8628, a device's poll that got its tokens.
    DeviceCode,
    Other,
}

impl TokenGrant {
    const ALL: [Self; 6] = [
        Self::AuthorizationCode,
        Self::RefreshToken,
        Self::ClientCredentials,
        Self::Password,
        Self::DeviceCode,
        Self::Other,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::Password => "password",
            Self::DeviceCode => "device_code",
            Self::Other => "other",
        }
    }

    pub fn from_grant_type(grant_type: &str) -> Self {
        match grant_type {
            "authorization_code" => Self::AuthorizationCode,
            "refresh_token" => Self::RefreshToken,
            "client_credentials" => Self::ClientCredentials,
            "password" => Self::Password,
            grants::DEVICE_CODE_GRANT => Self::DeviceCode,
            _ => Self::Other,
        }
    }
}

/// The kind of client a token went to (the `client_type` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    Public,
    Confidential,
    /// A client of the operator's own (marked on the command line), public or confidential.
    FirstParty,
    /// The client was no longer in this instance's cache when the token was counted.
    Unknown,
}

impl ClientType {
    const ALL: [Self; 4] = [
        Self::Public,
        Self::Confidential,
        Self::FirstParty,
        Self::Unknown,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Confidential => "confidential",
            Self::FirstParty => "first_party",
            Self::Unknown => "unknown",
        }
    }

    pub fn of(client: &registration::Client) -> Self {
        if client.first_party {
            Self::FirstParty
        } else if client.is_confidential() {
            Self::Confidential
        } else {
            Self::Public
        }
    }
}

/// The in-memory caches whose hits and misses are counted (the `cache` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cache {
    /// Verified API keys.
    ApiKey,
    /// Agents.
    Agent,
    /// Registered clients.
    Client,
    /// The signing keys.
    SigningKeys,
}

impl Cache {
    const ALL: [Self; 4] = [Self::ApiKey, Self::Agent, Self::Client, Self::SigningKeys];

    fn as_str(self) -> &'static str {
        match self {
            Self::ApiKey => "api_key",
            Self::Agent => "agent",
            Self::Client => "client",
            Self::SigningKeys => "signing_keys",
        }
    }
}

/// Distinct gateway service names counted by name; calls to others count as `other`.
pub const MAX_SERVICES: usize = 200;

/// The status classes of gateway calls (`1xx` … `5xx`, and `error` when no answer came).
const STATUS_CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "error"];

fn status_class(status: u16) -> usize {
    match status {
        100..=599 => usize::from(status / 100 - 1),
        _ => 5,
    }
}

const fn zeros<const N: usize>() -> [AtomicU64; N] {
    [const { AtomicU64::new(0) }; N]
}

struct Counters {
    sign_ins: [[AtomicU64; 2]; SignInMethod::ALL.len()],
    tokens: [[AtomicU64; ClientType::ALL.len()]; TokenGrant::ALL.len()],
    refresh_reuse: AtomicU64,
    rate_limited: [AtomicU64; crate::ratelimit::Limit::ALL.len()],
    cache: [[AtomicU64; 2]; Cache::ALL.len()],
    gateway: RwLock<Option<HashMap<String, [AtomicU64; 6]>>>,
    gateway_other: [AtomicU64; 6],
}

static COUNTERS: Counters = Counters {
    sign_ins: [const { zeros() }; SignInMethod::ALL.len()],
    tokens: [const { zeros() }; TokenGrant::ALL.len()],
    refresh_reuse: AtomicU64::new(0),
    rate_limited: zeros(),
    cache: [const { zeros() }; Cache::ALL.len()],
    gateway: RwLock::new(None),
    gateway_other: zeros(),
};

fn add(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// A sign-in attempt that was decided (the password, passkey or provider said yes or no).
pub fn sign_in(method: SignInMethod, success: bool) {
    add(&COUNTERS.sign_ins[method as usize][usize::from(!success)]);
}

/// An access token issued at the token endpoint.
pub fn token_issued(grant: TokenGrant, client: ClientType) {
    add(&COUNTERS.tokens[grant as usize][client as usize]);
}

/// A refresh token presented again after its rotation (its family is revoked).
pub fn refresh_reuse_detected() {
    add(&COUNTERS.refresh_reuse);
}

/// A request refused by a rate limit.
pub fn rate_limited(limit: crate::ratelimit::Limit) {
    add(&COUNTERS.rate_limited[limit as usize]);
}

/// A look-up in an in-memory cache.
pub fn cache(cache: Cache, hit: bool) {
    add(&COUNTERS.cache[cache as usize][usize::from(!hit)]);
}

/// A call the gateway forwarded, by service name and the upstream's status (0: no answer).
pub fn gateway_call(service: &str, status: u16) {
    let class = status_class(status);
    {
        let map = COUNTERS.gateway.read().unwrap_or_else(|e| e.into_inner());
        if let Some(counts) = map.as_ref().and_then(|m| m.get(service)) {
            add(&counts[class]);
            return;
        }
    }
    let mut map = COUNTERS.gateway.write().unwrap_or_else(|e| e.into_inner());
    let map = map.get_or_insert_with(HashMap::new);
    if map.len() >= MAX_SERVICES && !map.contains_key(service) {
        add(&COUNTERS.gateway_other[class]);
        return;
    }
    add(&map.entry(service.to_owned()).or_insert_with(zeros)[class]);
}

fn header(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
}

fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// Appends every business counter (every label combination, zeros included, so a rate over
/// a series that has not moved yet is 0 rather than absent).
pub fn render(out: &mut String) {
    let c = &COUNTERS;
    header(
        out,
        "portcullis_sign_ins_total",
        "Sign-in attempts decided, by method and outcome.",
    );
    for method in SignInMethod::ALL {
        for (i, outcome) in ["success", "failure"].iter().enumerate() {
            let _ = writeln!(
                out,
                "portcullis_sign_ins_total{{method=\"{}\",outcome=\"{outcome}\"}} {}",
                method.as_str(),
                load(&c.sign_ins[method as usize][i])
            );
        }
    }
    header(
        out,
        "portcullis_tokens_issued_total",
        "Access tokens issued at the token endpoint, by grant and client type.",
    );
    for grant in TokenGrant::ALL {
        for client in ClientType::ALL {
            let _ = writeln!(
                out,
                "portcullis_tokens_issued_total{{grant=\"{}\",client_type=\"{}\"}} {}",
                grant.as_str(),
                client.as_str(),
                load(&c.tokens[grant as usize][client as usize])
            );
        }
    }
    header(
        out,
        "portcullis_refresh_reuse_detected_total",
        "Refresh tokens presented again after rotation (each revoked its family).",
    );
    let _ = writeln!(
        out,
        "portcullis_refresh_reuse_detected_total {}",
        load(&c.refresh_reuse)
    );
    header(
        out,
        "portcullis_rate_limited_total",
        "Requests refused by a rate limit, by limit.",
    );
    for limit in crate::ratelimit::Limit::ALL {
        let _ = writeln!(
            out,
            "portcullis_rate_limited_total{{limit=\"{}\"}} {}",
            limit.as_str(),
            load(&c.rate_limited[limit as usize])
        );
    }
    for (name, help, i) in [
        (
            "portcullis_cache_hits_total",
            "Look-ups answered from an in-memory cache, by cache.",
            0,
        ),
        (
            "portcullis_cache_misses_total",
            "Look-ups an in-memory cache could not answer (read from the database), by cache.",
            1,
        ),
    ] {
        header(out, name, help);
        for cache in Cache::ALL {
            let _ = writeln!(
                out,
                "{name}{{cache=\"{}\"}} {}",
                cache.as_str(),
                load(&c.cache[cache as usize][i])
            );
        }
    }
    header(
        out,
        "portcullis_gateway_calls_total",
        "Calls the agent gateway forwarded, by service and upstream status class (error: no answer).",
    );
    let map = c.gateway.read().unwrap_or_else(|e| e.into_inner());
    let mut services: Vec<(&String, &[AtomicU64; 6])> = map.iter().flat_map(|m| m.iter()).collect();
    services.sort_by(|a, b| a.0.cmp(b.0));
    let other = String::from("other");
    for (service, counts) in services
        .into_iter()
        .chain(std::iter::once((&other, &c.gateway_other)))
    {
        for (i, class) in STATUS_CLASSES.iter().enumerate() {
            let n = load(&counts[i]);
            if n > 0 {
                let _ = writeln!(
                    out,
                    "portcullis_gateway_calls_total{{service=\"{}\",status=\"{class}\"}} {n}",
                    super::escape(service)
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, series: &str) -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    }

    fn rendered() -> String {
        let mut out = String::new();
        render(&mut out);
        out
    }

    #[test]
    fn counters_move_and_every_label_set_is_listed() {
        let failed = r#"portcullis_sign_ins_total{method="passkey",outcome="failure"}"#;
        let token = r#"portcullis_tokens_issued_total{grant="password",client_type="first_party"}"#;
        let before = rendered();
        sign_in(SignInMethod::Passkey, false);
        token_issued(TokenGrant::Password, ClientType::FirstParty);
        cache(Cache::Agent, false);
        let after = rendered();
        assert!(value(&after, failed) > value(&before, failed));
        assert!(value(&after, token) > value(&before, token));
        let miss = r#"portcullis_cache_misses_total{cache="agent"}"#;
        assert!(value(&after, miss) > value(&before, miss));
        assert!(after.contains(r#"portcullis_sign_ins_total{method="json",outcome="success"} "#));
        assert!(after.contains(r#"portcullis_rate_limited_total{limit="token_per_client"} "#));
    }

    #[test]
    fn gateway_services_past_the_cap_count_as_other() {
        for i in 0..MAX_SERVICES + 5 {
            gateway_call(&format!("cap-test-{i}"), 200);
        }
        gateway_call("cap-test-0", 502);
        gateway_call("cap-test-0", 0);
        let text = rendered();
        let named = text
            .lines()
            .filter(|l| l.starts_with("portcullis_gateway_calls_total{service=\""))
            .filter(|l| !l.contains("service=\"other\""))
            .map(|l| l.split('"').nth(1).unwrap_or_default())
            .collect::<std::collections::HashSet<_>>();
        assert!(named.len() <= MAX_SERVICES, "{}", named.len());
        assert!(text.contains(r#"portcullis_gateway_calls_total{service="other",status="2xx"}"#));
        assert!(
            text.contains(r#"portcullis_gateway_calls_total{service="cap-test-0",status="5xx"} 1"#)
        );
        assert!(
            text.contains(
                r#"portcullis_gateway_calls_total{service="cap-test-0",status="error"} 1"#
            )
        );
        assert_eq!(status_class(99), 5);
        assert_eq!(status_class(404), 3);
    }
}
