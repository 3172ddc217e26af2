//! Metrics in the Prometheus text format: a counter and a latency histogram per route
//! pattern, method and status. Routes are labelled by their pattern (`/oauth2/register/{id}`),
//! and every unmatched path shares the label `unmatched`, so no request can add a label value.
//!
//! Beside them, the business counters of [`business`] (sign-ins, tokens, refresh reuse, rate
//! limits, caches, gateway calls) and gauges read when `/metrics` is asked (the database pool,
//! the mail queue).

pub mod business;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Default)]
struct Series {
    count: AtomicU64,
    sum_nanos: AtomicU64,
    /// Not cumulative: `buckets[i]` counts observations in `(BUCKETS[i-1], BUCKETS[i]]`; the last
    /// slot holds those above every bound.
    buckets: [AtomicU64; BUCKETS.len() + 1],
}

/// The metrics of one process. Cheap to share: recording takes a read lock and atomics once the
/// series exists.
#[derive(Debug, Default)]
pub struct Metrics {
    series: RwLock<HashMap<Key, Arc<Series>>>,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one request.
    pub fn observe(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let series = self.series_for(route, method, status);
        series.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        series.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        let slot = BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(BUCKETS.len());
        series.buckets[slot].fetch_add(1, Ordering::Relaxed);
    }

    fn series_for(&self, route: &str, method: &str, status: u16) -> Arc<Series> {
        let key = Key {
            route: route.to_owned(),
            method: method.to_owned(),
            status,
        };
        // A poisoned lock only means another thread panicked mid-insert; the map is still whole.
        if let Some(s) = self
            .series
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Arc::clone(s);
        }
        let mut map = self.series.write().unwrap_or_else(|e| e.into_inner());
        Arc::clone(map.entry(key).or_default())
    }

    /// Everything: the HTTP series, the business counters, and the gauges of `gauges`.
    pub fn render_with(&self, gauges: &Gauges) -> String {
        let mut out = self.render();
        business::render(&mut out);
        gauges.render(&mut out);
        out
    }

    /// The HTTP series in the Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let map = self.series.read().unwrap_or_else(|e| e.into_inner());
        let mut keys: Vec<&Key> = map.keys().collect();
        keys.sort();
        let mut out = String::with_capacity(256 + keys.len() * 1024);
        out.push_str("# HELP portcullis_http_requests_total HTTP requests answered, by route pattern, method and status.\n");
        out.push_str("# TYPE portcullis_http_requests_total counter\n");
        for key in &keys {
            let s = &map[*key];
            let _ = writeln!(
                out,
                "portcullis_http_requests_total{{{}}} {}",
                labels(key),
                s.count.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP portcullis_http_request_duration_seconds Time from request to response head, by route pattern, method and status.\n");
        out.push_str("# TYPE portcullis_http_request_duration_seconds histogram\n");
        for key in &keys {
            let s = &map[*key];
            let l = labels(key);
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += s.buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "portcullis_http_request_duration_seconds_bucket{{{l},le=\"{bound}\"}} {cumulative}"
                );
            }
            cumulative += s.buckets[BUCKETS.len()].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "portcullis_http_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {cumulative}"
            );
            let sum = s.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(
                out,
                "portcullis_http_request_duration_seconds_sum{{{l}}} {sum}"
            );
            let _ = writeln!(
                out,
                "portcullis_http_request_duration_seconds_count{{{l}}} {cumulative}"
            );
        }
        if let Some(rss) = resident_memory_bytes() {
            out.push_str("# HELP process_resident_memory_bytes Resident memory size in bytes.\n");
            out.push_str("# TYPE process_resident_memory_bytes gauge\n");
            let _ = writeln!(out, "process_resident_memory_bytes {rss}");
        }
        out
    }
}

/// Values read when `/metrics` is asked: the database pool and the mail queue.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    pub pool: Option<store::PoolState>,
    pub mail: Option<mail::MailStats>,
}

impl Gauges {
    fn render(&self, out: &mut String) {
        if let Some(p) = self.pool {
            gauge(
                out,
                "portcullis_db_pool_connections",
                "Connections the database pool holds open.",
                p.connections,
            );
            gauge(
                out,
                "portcullis_db_pool_in_use",
                "Connections of the pool in use by a request right now.",
                p.in_use,
            );
            gauge(
                out,
                "portcullis_db_pool_idle",
                "Idle connections of the pool.",
                p.idle,
            );
            gauge(
                out,
                "portcullis_db_pool_waiting",
                "Callers waiting for a connection of the pool right now.",
                p.waiting,
            );
            gauge(
                out,
                "portcullis_db_pool_max",
                "Most connections the pool may open.",
                u64::from(p.max),
            );
        }
        if let Some(m) = self.mail {
            gauge(
                out,
                "portcullis_mail_pending",
                "Letters queued and not yet delivered or given up.",
                m.pending,
            );
            counter(
                out,
                "portcullis_mail_sent_total",
                "Letters delivered since start.",
                m.delivered,
            );
            counter(
                out,
                "portcullis_mail_failed_total",
                "Letters given up since start (refused, or every attempt failed).",
                m.given_up,
            );
        }
    }
}

fn gauge(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
    );
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
    );
}

fn labels(key: &Key) -> String {
    format!(
        "route=\"{}\",method=\"{}\",status=\"{}\"",
        escape(&key.route),
        escape(&key.method),
        key.status
    )
}

/// Escapes a label value as the text format requires.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// `VmRSS` of this process, where `/proc` exists.
fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_buckets_are_cumulative() {
        let m = Metrics::new();
        m.observe("/health", "GET", 200, Duration::from_micros(300));
        m.observe("/health", "GET", 200, Duration::from_millis(3));
        m.observe("/health", "GET", 200, Duration::from_secs(20));
        m.observe("unmatched", "GET", 404, Duration::from_micros(10));
        let text = m.render();
        let l = r#"route="/health",method="GET",status="200""#;
        assert!(
            text.contains(&format!("portcullis_http_requests_total{{{l}}} 3\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("_bucket{{{l},le=\"0.0005\"}} 1\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("_bucket{{{l},le=\"0.005\"}} 2\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("_bucket{{{l},le=\"10\"}} 2\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("_bucket{{{l},le=\"+Inf\"}} 3\n")),
            "{text}"
        );
        assert!(text.contains(&format!("_count{{{l}}} 3\n")), "{text}");
        assert!(text.contains(r#"route="unmatched",method="GET",status="404""#));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
