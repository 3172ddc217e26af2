//! Request-rate limits per client IP and per client, in fixed one-minute windows, kept in
//! memory per instance (behind a load balancer, each instance counts its own share: the
//! effective limit is the setting times the instance count). A limit of 0 turns it off.
//!
//! These cap bursts (credential stuffing, registration floods, secret guessing). The login
//! throttle (`accounts::LoginThrottle`) is separate: it counts failures per account and per IP
//! and backs off for a minute.

use std::collections::HashMap;
use std::sync::Mutex;

/// What is limited: each has its own counters and setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// Sign-in attempts per IP: sign-in page, JSON login, password grant.
    Login,
    /// Account creation per IP: sign-up page and JSON sign-up.
    Signup,
    /// Token endpoint requests per IP.
    TokenPerIp,
    /// Token endpoint requests per client id.
    TokenPerClient,
    /// Dynamic client registration requests per IP.
    Registration,
    /// Wrong user codes typed on `/device` per browser session (RFC 8628 §5.1: guessing).
    DeviceCodePerSession,
    /// Wrong user codes typed on `/device` per IP.
    DeviceCodePerIp,
}

impl Limit {
    pub const ALL: [Self; 7] = [
        Self::Login,
        Self::Signup,
        Self::TokenPerIp,
        Self::TokenPerClient,
        Self::Registration,
        Self::DeviceCodePerSession,
        Self::DeviceCodePerIp,
    ];

    /// The `limit` label of the rate-limit metric.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Signup => "signup",
            Self::TokenPerIp => "token_per_ip",
            Self::TokenPerClient => "token_per_client",
            Self::Registration => "registration",
            Self::DeviceCodePerSession => "device_code_per_session",
            Self::DeviceCodePerIp => "device_code_per_ip",
        }
    }
}

/// Requests per minute allowed for each [`Limit`]; 0 is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub login: u32,
    pub signup: u32,
    pub token_per_ip: u32,
    pub token_per_client: u32,
    pub registration: u32,
    /// Wrong user codes on `/device`, per browser session and (separately) per IP.
    pub device_code: u32,
}

impl Limits {
    fn of(&self, limit: Limit) -> u32 {
        match limit {
            Limit::Login => self.login,
            Limit::Signup => self.signup,
            Limit::TokenPerIp => self.token_per_ip,
            Limit::TokenPerClient => self.token_per_client,
            Limit::Registration => self.registration,
            Limit::DeviceCodePerSession | Limit::DeviceCodePerIp => self.device_code,
        }
    }
}

const WINDOW: i64 = 60;

#[derive(Debug)]
pub struct RateLimiter {
    limits: Limits,
    counters: Mutex<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    /// (limit, key) → (window start, requests in it).
    hits: HashMap<(Limit, String), (i64, u32)>,
    last_sweep: i64,
}

impl RateLimiter {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            counters: Mutex::new(Counters::default()),
        }
    }

    /// Whether `key` is over the limit now, without counting anything: for limits that count
    /// failures only ([`Self::check`] once the attempt failed).
    pub fn peek(&self, limit: Limit, key: Option<&str>, now: i64) -> Result<(), i64> {
        let max = self.limits.of(limit);
        let Some(key) = key.filter(|_| max > 0) else {
            return Ok(());
        };
        let window = now - now.rem_euclid(WINDOW);
        let counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        match counters.hits.get(&(limit, key.to_owned())) {
            Some((start, n)) if *start == window && *n >= max => {
                crate::metrics::business::rate_limited(limit);
                Err(window + WINDOW - now)
            }
            _ => Ok(()),
        }
    }

    /// Counts one request for `key` (an IP or a client id) and answers `Err(retry_after)`
    /// in seconds when it is over the limit. A request without a key (no IP known) passes.
    pub fn check(&self, limit: Limit, key: Option<&str>, now: i64) -> Result<(), i64> {
        let max = self.limits.of(limit);
        let Some(key) = key.filter(|_| max > 0) else {
            return Ok(());
        };
        let window = now - now.rem_euclid(WINDOW);
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        if now - counters.last_sweep >= WINDOW {
            counters.hits.retain(|_, (start, _)| *start >= window);
            counters.last_sweep = now;
        }
        let entry = counters
            .hits
            .entry((limit, key.to_owned()))
            .or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        if entry.1 >= max {
            crate::metrics::business::rate_limited(limit);
            return Err(window + WINDOW - now);
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(n: u32) -> Limits {
        Limits {
            login: n,
            signup: n,
            token_per_ip: n,
            token_per_client: n,
            registration: n,
            device_code: n,
        }
    }

    #[test]
    fn a_burst_is_cut_until_the_window_ends_and_keys_are_counted_apart() {
        let r = RateLimiter::new(limits(3));
        let t = 6_000; // the start of a window
        for _ in 0..3 {
            assert!(r.check(Limit::Login, Some("10.0.0.1"), t + 5).is_ok());
        }
        assert_eq!(r.check(Limit::Login, Some("10.0.0.1"), t + 5), Err(55));
        assert!(
            r.check(Limit::Login, Some("10.0.0.2"), t + 5).is_ok(),
            "another IP"
        );
        assert!(
            r.check(Limit::Signup, Some("10.0.0.1"), t + 5).is_ok(),
            "another limit"
        );
        assert!(
            r.check(Limit::Login, Some("10.0.0.1"), t + 60).is_ok(),
            "next window"
        );
    }

    #[test]
    fn peek_counts_nothing_and_sees_a_full_window() {
        let r = RateLimiter::new(limits(2));
        let t = 6_000;
        for _ in 0..5 {
            assert!(r.peek(Limit::DeviceCodePerIp, Some("a"), t).is_ok());
        }
        assert!(r.check(Limit::DeviceCodePerIp, Some("a"), t).is_ok());
        assert!(r.check(Limit::DeviceCodePerIp, Some("a"), t).is_ok());
        assert_eq!(r.peek(Limit::DeviceCodePerIp, Some("a"), t + 10), Err(50));
        assert!(r.peek(Limit::DeviceCodePerSession, Some("a"), t).is_ok());
        assert!(r.peek(Limit::DeviceCodePerIp, Some("a"), t + 60).is_ok());
    }

    #[test]
    fn zero_is_unlimited_and_no_key_passes() {
        let r = RateLimiter::new(limits(0));
        for _ in 0..1000 {
            assert!(r.check(Limit::TokenPerIp, Some("10.0.0.1"), 0).is_ok());
        }
        let r = RateLimiter::new(limits(1));
        assert!(r.check(Limit::Login, None, 0).is_ok());
        assert!(r.check(Limit::Login, None, 0).is_ok());
    }
}
