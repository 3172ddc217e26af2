//! Properties of the parsers of untrusted input: the key format, the combined
//! `pcl_…_agent_…` form, scope patterns and the scope a gateway call needs. The fuzz targets
//! `apikey` and `scope` check the same contracts (fuzz/fuzz_targets).

use apikeys::{
    KEY_PREFIX, LOOKUP_LEN, check_agent_scopes, parse_key, required_scope, scope_covers,
    split_combined,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;

fn minted(bytes: &[u8]) -> String {
    format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// One scope segment as agents use them (no `*`, no `:`).
fn segment() -> impl Strategy<Value = String> {
    "[a-z0-9._-]{1,12}"
}

proptest! {
    #[test]
    fn parse_key_never_panics_and_accepts_only_its_input(raw in any::<String>()) {
        if let Ok(key) = parse_key(&raw) {
            prop_assert_eq!(key.as_str(), raw.as_str());
        }
    }

    #[test]
    fn near_keys_never_panic(tail in "[A-Za-z0-9_=+/é-]{0,60}") {
        let raw = format!("{KEY_PREFIX}{tail}");
        if let Ok(key) = parse_key(&raw) {
            prop_assert_eq!(tail.len(), 43);
            prop_assert_eq!(key.as_str(), raw.as_str());
        }
    }

    #[test]
    fn a_minted_key_parses_and_shows_its_lookup_only(bytes in any::<[u8; 32]>()) {
        let raw = minted(&bytes);
        let key = parse_key(&raw).expect("minted key");
        prop_assert_eq!(key.as_str(), raw.as_str());
        prop_assert_eq!(key.lookup(), &raw[KEY_PREFIX.len()..KEY_PREFIX.len() + LOOKUP_LEN]);
        let debug = format!("{key:?}");
        prop_assert!(!debug.contains(&raw[KEY_PREFIX.len() + LOOKUP_LEN..]));
    }

    #[test]
    fn a_changed_minted_key_is_refused(
        bytes in any::<[u8; 32]>(),
        at in 0usize..50,
        with in prop::sample::select(vec!['+', '/', '=', ' ', '.', 'é', '\0']),
    ) {
        let mut chars: Vec<char> = minted(&bytes).chars().collect();
        chars[at] = with;
        let changed: String = chars.into_iter().collect();
        prop_assert!(parse_key(&changed).is_err(), "{}", changed);
        // A key one character short or long is refused too.
        let raw = minted(&bytes);
        prop_assert!(parse_key(&raw[..raw.len() - 1]).is_err());
        let longer = format!("{raw}A");
        prop_assert!(parse_key(&longer).is_err());
    }

    #[test]
    fn split_combined_never_panics(raw in any::<String>()) {
        if let Some((key, agent)) = split_combined(&raw) {
            prop_assert!(key.starts_with(KEY_PREFIX));
            prop_assert!(agent.starts_with("agt_"));
            let tail = format!("{key}_agent_{agent}");
            prop_assert!(raw.ends_with(&tail));
        }
    }

    #[test]
    fn the_combined_form_gives_key_and_agent_back(
        bytes in any::<[u8; 32]>(),
        agent in "agt_[A-Za-z0-9]{1,24}",
    ) {
        let key = minted(&bytes);
        for combined in [format!("pcl_{key}_agent_{agent}"), format!("{key}_agent_{agent}")] {
            prop_assert_eq!(split_combined(&combined), Some((key.as_str(), agent.as_str())));
        }
        prop_assert_eq!(split_combined(&key), None);
    }

    #[test]
    fn scope_covers_is_reflexive_and_star_covers_everything(a in any::<String>(), b in any::<String>()) {
        prop_assert!(scope_covers(&a, &a));
        prop_assert!(scope_covers("*", &a));
        if !a.contains('*') {
            prop_assert_eq!(scope_covers(&a, &b), a == b);
        }
    }

    #[test]
    fn a_trailing_wildcard_covers_longer_scopes_only(
        prefix in prop::collection::vec(segment(), 1..4),
        rest in prop::collection::vec(segment(), 1..4),
    ) {
        let base = prefix.join(":");
        let pattern = format!("{base}:*");
        let longer = format!("{base}:{}", rest.join(":"));
        prop_assert!(scope_covers(&pattern, &longer));
        prop_assert!(!scope_covers(&pattern, &base));
        // A `*` segment in the middle stands for exactly one segment.
        let mut middle = prefix.clone();
        middle.push("*".into());
        middle.extend(rest.iter().cloned());
        let mut required = prefix.clone();
        required.push("x".into());
        required.extend(rest.iter().cloned());
        prop_assert!(scope_covers(&middle.join(":"), &required.join(":")));
        prop_assert!(!scope_covers(&middle.join(":"), &longer));
    }

    #[test]
    fn required_scope_never_panics_and_yields_an_agent_scope(
        service in any::<String>(),
        endpoint in any::<String>(),
    ) {
        if let Ok(scope) = required_scope(&service, &endpoint) {
            prop_assert!(check_agent_scopes(std::slice::from_ref(&scope)).is_ok());
            prop_assert!(scope_covers(&scope, &scope));
            prop_assert!(!scope.contains('*'));
        }
    }

    #[test]
    fn required_scope_of_plain_paths(
        service in segment(),
        version in prop::option::of(1u8..10),
        path in prop::collection::vec(segment(), 0..6),
        query in "[?#][ -~]{0,10}",
    ) {
        let prefix = version.map(|v| format!("/v{v}")).unwrap_or_default();
        let endpoint = format!("{prefix}/{}{query}", path.join("/"));
        let scope = required_scope(&service, &endpoint).expect("plain path");
        let mut expected = vec![service.clone()];
        expected.extend(path.iter().cloned());
        // A first path segment that looks like a version is skipped as well.
        let looks_versioned = |s: &str| {
            s.len() > 1 && s.starts_with('v') && s[1..].bytes().all(|b| b.is_ascii_digit())
        };
        if version.is_none() && path.first().is_some_and(|s| looks_versioned(s)) {
            expected.remove(1);
        }
        prop_assert_eq!(&scope, &expected.join(":"));
        let service_wide = format!("{service}:*");
        prop_assert_eq!(scope_covers(&service_wide, &scope), expected.len() > 1);
        prop_assert!(scope_covers("*", &scope));
    }
}
