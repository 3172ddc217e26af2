//! API keys as presented (`x-api-key`, `Authorization: Bearer`): `pcl_sk_…` and the combined
//! `pcl_…_agent_…` form.
//!
//! Input: the presented string. Asserts that a key parses only in its one shape (and is then
//! exactly the input, its lookup id the 12 characters after the prefix), that the combined form
//! splits into a key-shaped part and an `agt_` id found in the input, and that any 32 bytes
//! (the input's first 32) make a key that parses and whose combined form splits back.
#![no_main]

use apikeys::{KEY_PREFIX, LOOKUP_LEN, parse_key, split_combined};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    if let Ok(key) = parse_key(&raw) {
        assert_eq!(key.as_str(), raw);
        assert_eq!(raw.len(), KEY_PREFIX.len() + 43);
        assert_eq!(
            key.lookup(),
            &raw[KEY_PREFIX.len()..KEY_PREFIX.len() + LOOKUP_LEN]
        );
        let decoded = URL_SAFE_NO_PAD
            .decode(&raw[KEY_PREFIX.len()..])
            .expect("a parsed key is base64url");
        assert_eq!(URL_SAFE_NO_PAD.encode(&decoded), raw[KEY_PREFIX.len()..]);
        assert_eq!(
            format!("{key:?}")
                .matches(&raw[KEY_PREFIX.len() + LOOKUP_LEN..])
                .count(),
            0
        );
    }
    if let Some((key, agent)) = split_combined(&raw) {
        assert!(key.starts_with(KEY_PREFIX));
        assert!(agent.starts_with("agt_"));
        assert!(raw.ends_with(&format!("{key}_agent_{agent}")));
        assert!(!agent.contains("_agent_"));
    }

    // A key minted from any 32 bytes parses, and its combined forms split back.
    if let Some(random) = data.get(..32) {
        let minted = format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(random));
        let key = parse_key(&minted).expect("a minted key parses");
        assert_eq!(key.as_str(), minted);
        let agent = format!("agt_{}", URL_SAFE_NO_PAD.encode(&data[32..]));
        for combined in [
            format!("pcl_{minted}_agent_{agent}"),
            format!("{minted}_agent_{agent}"),
        ] {
            assert_eq!(
                split_combined(&combined),
                Some((minted.as_str(), agent.as_str()))
            );
        }
    }
});
