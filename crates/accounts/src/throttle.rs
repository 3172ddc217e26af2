//! The login throttle: a short back-off after repeated failures, per account and per client IP.
//!
//! It lives in the memory of one instance: behind a load balancer each instance counts on its
//! own, so an attacker gets at most (instances × limit) tries per window. That bounds online
//! guessing well enough with argon2id behind it; a shared counter is not worth a database write
//! per failed attempt.

use std::collections::HashMap;
use std::sync::Mutex;

/// How long to wait, in seconds, before trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after: i64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    window_start: i64,
    locked_until: i64,
}

#[derive(Debug)]
pub struct LoginThrottle {
    entries: Mutex<HashMap<String, Entry>>,
    /// Failures per account within the window before a back-off.
    pub account_limit: u32,
    /// Failures per client IP within the window before a back-off.
    pub ip_limit: u32,
    /// Seconds the failures are counted over.
    pub window: i64,
    /// Seconds of back-off once a limit is reached.
    pub backoff: i64,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            account_limit: 5,
            ip_limit: 20,
            window: 15 * 60,
            backoff: 60,
        }
    }
}

impl LoginThrottle {
    fn keys(account: &str, ip: Option<&str>) -> (String, Option<String>) {
        (
            format!("a:{}", account.trim().to_lowercase()),
            ip.map(|ip| format!("i:{ip}")),
        )
    }

    /// `Err` while the account or the IP is backing off.
    pub fn check(&self, account: &str, ip: Option<&str>, now: i64) -> Result<(), Throttled> {
        let (a, i) = Self::keys(account, ip);
        let map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let wait = [Some(a), i]
            .into_iter()
            .flatten()
            .filter_map(|k| map.get(&k).map(|e| e.locked_until - now))
            .max()
            .unwrap_or(0);
        if wait > 0 {
            Err(Throttled { retry_after: wait })
        } else {
            Ok(())
        }
    }

    pub fn record_failure(&self, account: &str, ip: Option<&str>, now: i64) {
        let (a, i) = Self::keys(account, ip);
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            let window = self.window;
            map.retain(|_, e| now - e.window_start < window || e.locked_until > now);
        }
        for (key, limit) in [(Some(a), self.account_limit), (i, self.ip_limit)] {
            let Some(key) = key else { continue };
            let entry = map.entry(key).or_insert(Entry {
                failures: 0,
                window_start: now,
                locked_until: 0,
            });
            if now - entry.window_start >= self.window {
                *entry = Entry {
                    failures: 0,
                    window_start: now,
                    locked_until: 0,
                };
            }
            entry.failures += 1;
            if entry.failures >= limit {
                entry.locked_until = now + self.backoff;
            }
        }
    }

    /// A successful sign-in clears the account's count (not the IP's).
    pub fn record_success(&self, account: &str) {
        let (a, _) = Self::keys(account, None);
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_back_off_the_account_for_a_minute() {
        let t = LoginThrottle::default();
        for n in 0..4 {
            t.record_failure("Ada@x.io", Some("10.0.0.1"), 1000 + n);
            assert!(t.check("ada@x.io", Some("10.0.0.2"), 1000 + n).is_ok());
        }
        t.record_failure("ada@x.io", Some("10.0.0.1"), 1004);
        assert_eq!(
            t.check("ada@x.io", Some("10.0.0.9"), 1004),
            Err(Throttled { retry_after: 60 })
        );
        assert_eq!(
            t.check("ada@x.io", None, 1034),
            Err(Throttled { retry_after: 30 })
        );
        assert!(t.check("ada@x.io", None, 1064).is_ok());
        assert!(
            t.check("bob@x.io", Some("10.0.0.2"), 1004).is_ok(),
            "other accounts are not affected"
        );
    }

    #[test]
    fn many_accounts_from_one_ip_back_off_the_ip() {
        let t = LoginThrottle::default();
        for n in 0..20 {
            t.record_failure(&format!("user{n}@x.io"), Some("10.0.0.1"), 1000);
        }
        assert!(t.check("new@x.io", Some("10.0.0.1"), 1001).is_err());
        assert!(t.check("new@x.io", Some("10.0.0.2"), 1001).is_ok());
    }

    #[test]
    fn success_clears_the_account_and_windows_expire() {
        let t = LoginThrottle::default();
        for _ in 0..4 {
            t.record_failure("a@x.io", None, 1000);
        }
        t.record_success("a@x.io");
        t.record_failure("a@x.io", None, 1001);
        assert!(t.check("a@x.io", None, 1001).is_ok());
        for _ in 0..4 {
            t.record_failure("b@x.io", None, 1000);
        }
        t.record_failure("b@x.io", None, 1000 + 15 * 60);
        assert!(
            t.check("b@x.io", None, 1000 + 15 * 60).is_ok(),
            "a new window started"
        );
    }
}
