//! The one in-memory map behind the caches of verified API keys, agents and clients: values
//! kept for `ttl` seconds from when they were put, read under a shared lock. A `ttl` of 0
//! keeps nothing. Past 100,000 entries a put first drops the expired ones, so a flood of
//! distinct keys cannot grow it without bound for longer than one cache time.

use std::collections::HashMap;
use std::sync::RwLock;

#[derive(Debug)]
pub struct TtlMap<V> {
    entries: RwLock<HashMap<String, (V, i64)>>,
    ttl: i64,
    /// The cache whose hits and misses `get` counts, if any.
    counted: Option<crate::metrics::business::Cache>,
}

impl<V: Clone> TtlMap<V> {
    pub fn new(ttl: i64) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            ttl,
            counted: None,
        }
    }

    /// A map whose look-ups count as hits and misses of `cache` in the metrics.
    pub fn counted(ttl: i64, cache: crate::metrics::business::Cache) -> Self {
        Self {
            counted: Some(cache),
            ..Self::new(ttl)
        }
    }

    /// The value put under `key` less than `ttl` seconds before `now`.
    pub fn get(&self, key: &str, now: i64) -> Option<V> {
        let map = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let found = map
            .get(key)
            .filter(|(_, at)| now - at < self.ttl)
            .map(|(value, _)| value.clone());
        if let Some(cache) = self.counted {
            crate::metrics::business::cache(cache, found.is_some());
        }
        found
    }

    /// Like [`TtlMap::get`], without counting a hit or a miss.
    pub fn peek(&self, key: &str, now: i64) -> Option<V> {
        let map = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let (value, at) = map.get(key)?;
        (now - at < self.ttl).then(|| value.clone())
    }

    pub fn put(&self, key: String, value: V, now: i64) {
        if self.ttl == 0 {
            return;
        }
        let mut map = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            let ttl = self.ttl;
            map.retain(|_, (_, at)| now - *at < ttl);
        }
        map.insert(key, (value, now));
    }

    /// Drops `key` (a change made through this instance).
    pub fn forget(&self, key: &str) {
        let mut map = self.entries.write().unwrap_or_else(|e| e.into_inner());
        map.remove(key);
    }

    /// Drops every value `matches` picks (an entry known by another key than its id).
    pub fn forget_where(&self, matches: impl Fn(&V) -> bool) {
        let mut map = self.entries.write().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, (value, _)| !matches(value));
    }

    /// Drops everything (notices may have been lost).
    pub fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_live_for_the_ttl_and_can_be_forgotten() {
        let map = TtlMap::new(10);
        map.put("a".into(), 1, 100);
        assert_eq!(map.get("a", 109), Some(1));
        assert_eq!(map.get("a", 110), None, "expired");
        map.put("b".into(), 2, 100);
        map.forget("b");
        assert_eq!(map.get("b", 100), None);
        map.put("c".into(), 3, 100);
        map.put("d".into(), 4, 100);
        map.forget_where(|v| *v == 3);
        assert_eq!((map.get("c", 100), map.get("d", 100)), (None, Some(4)));
        map.clear();
        assert_eq!(map.get("d", 100), None);
        let off = TtlMap::new(0);
        off.put("a".into(), 1, 100);
        assert_eq!(off.get("a", 100), None, "a ttl of 0 keeps nothing");
    }
}
