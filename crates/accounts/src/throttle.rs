//! The login throttle: a short back-off after repeated failures, per account and per client IP.
//!
//! The two counts are separate, and so are their back-offs:
//! - A client IP that fails `ip_limit` times in the window backs off; only that address does,
//!   so one noisy address (or one shared by a misconfigured proxy) locks out no one else. Its
//!   failures past the limit renew its own back-off: they hurt nobody but itself.
//! - An account that fails `account_limit` times in the window backs off for `backoff` seconds,
//!   from every address (guesses spread over many addresses count too). Whoever made those
//!   failures, a third party included, cannot make that last longer: the count starts over when
//!   the back-off starts, failures during it are not counted, and the next back-off needs
//!   `account_limit` new failures after it ends, each of them also spent from the
//!   guesser's per-IP budget. So the right password from an address of its own works once the
//!   back-off is over, whatever was tried before.
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
        // (key, limit, whether failures past the limit renew the back-off)
        for (key, limit, renew) in [
            (Some(a), self.account_limit, false),
            (i, self.ip_limit, true),
        ] {
            let Some(key) = key else { continue };
            let entry = map.entry(key).or_insert(Entry {
                failures: 0,
                window_start: now,
                locked_until: 0,
            });
            if !renew && entry.locked_until > now {
                // A failure that raced past `check` while the account backs off: not counted,
                // so it cannot extend the back-off.
                continue;
            }
            if now - entry.window_start >= self.window {
                *entry = Entry {
                    failures: 0,
                    window_start: now,
                    locked_until: 0,
                };
            }
            entry.failures = entry.failures.saturating_add(1);
            if entry.failures >= limit {
                entry.locked_until = now + self.backoff;
                if !renew {
                    // The next back-off needs a full count after this one.
                    entry.failures = 0;
                    entry.window_start = now + self.backoff;
                }
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
    fn attack_account_lockout_lasts_the_back_off_and_no_longer() {
        let t = LoginThrottle::default();
        // A third party fails five times from its own address: the account backs off for
        // everyone, for the back-off.
        for n in 0..5 {
            t.record_failure("ada@x.io", Some("203.0.113.6"), 1000 + n);
        }
        assert_eq!(
            t.check("ada@x.io", Some("198.51.100.1"), 1004),
            Err(Throttled { retry_after: 60 })
        );
        // It keeps failing during the back-off (requests that raced past the check, or from
        // other addresses): the back-off does not move.
        for n in 0..30 {
            t.record_failure("ada@x.io", Some(&format!("203.0.113.{n}")), 1010 + n);
        }
        assert_eq!(
            t.check("ada@x.io", Some("198.51.100.1"), 1063),
            Err(Throttled { retry_after: 1 })
        );
        // Right after it, four more failures do not lock the account again: a new back-off
        // needs a full count.
        for n in 0..4 {
            t.record_failure("ada@x.io", Some("203.0.113.7"), 1064 + n);
        }
        assert!(
            t.check("ada@x.io", Some("198.51.100.1"), 1068).is_ok(),
            "the owner from a fresh address signs in after the back-off"
        );
        // A fifth does: again exactly one back-off, never a growing one.
        t.record_failure("ada@x.io", Some("203.0.113.7"), 1070);
        assert_eq!(
            t.check("ada@x.io", Some("198.51.100.1"), 1070),
            Err(Throttled { retry_after: 60 })
        );
        assert!(t.check("ada@x.io", Some("198.51.100.1"), 1130).is_ok());
    }

    #[test]
    fn attack_one_noisy_address_locks_out_only_itself() {
        let t = LoginThrottle::default();
        // Twenty failures spread over ten accounts (two each, under the account limit).
        for n in 0..20 {
            t.record_failure(
                &format!("user{}@x.io", n % 10),
                Some("203.0.113.6"),
                1000 + n,
            );
        }
        assert!(t.check("user1@x.io", Some("203.0.113.6"), 1020).is_err());
        for n in 0..10 {
            assert!(
                t.check(&format!("user{n}@x.io"), Some("198.51.100.1"), 1020)
                    .is_ok(),
                "user{n} from another address"
            );
        }
        // The noisy address's further failures renew its own back-off only.
        t.record_failure("user1@x.io", Some("203.0.113.6"), 1100);
        assert_eq!(
            t.check("new@x.io", Some("203.0.113.6"), 1100),
            Err(Throttled { retry_after: 60 })
        );
        assert!(t.check("user1@x.io", Some("198.51.100.1"), 1100).is_ok());
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
