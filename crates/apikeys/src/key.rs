//! The key format: `pcl_sk_` followed by the base64url (no padding) of 32 random bytes.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::KeyError;

/// The fixed prefix of every key. Never changed: secret scanners look for it.
pub const KEY_PREFIX: &str = "pcl_sk_";

/// How many characters of the random part identify the key row (72 bits; the other 204 bits
/// of the key stay secret-only).
pub const LOOKUP_LEN: usize = 12;

/// A key that has the right shape.
#[derive(Clone, PartialEq, Eq)]
pub struct ParsedKey {
    full: String,
}

impl std::fmt::Debug for ParsedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ParsedKey({}…)", self.lookup())
    }
}

impl ParsedKey {
    pub fn lookup(&self) -> &str {
        &self.full[KEY_PREFIX.len()..KEY_PREFIX.len() + LOOKUP_LEN]
    }

    pub fn as_str(&self) -> &str {
        &self.full
    }
}

/// Checks the shape of a presented key: the prefix, then exactly 43 base64url characters that
/// decode to 32 bytes.
pub fn parse_key(raw: &str) -> Result<ParsedKey, KeyError> {
    let rest = raw.strip_prefix(KEY_PREFIX).ok_or(KeyError::Malformed)?;
    if rest.len() != 43
        || !rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(KeyError::Malformed);
    }
    match URL_SAFE_NO_PAD.decode(rest) {
        Ok(bytes) if bytes.len() == 32 => Ok(ParsedKey {
            full: raw.to_owned(),
        }),
        _ => Err(KeyError::Malformed),
    }
}

/// Splits the combined form `pcl_{API_KEY}_agent_{AGENT_ID}` (also accepted without the
/// repeated `pcl_`, as `{API_KEY}_agent_{AGENT_ID}`) into the key and the agent id.
pub fn split_combined(raw: &str) -> Option<(&str, &str)> {
    let (key, agent) = raw.rsplit_once("_agent_")?;
    let key = key
        .strip_prefix("pcl_")
        .filter(|k| k.starts_with(KEY_PREFIX))
        .unwrap_or(key);
    (key.starts_with(KEY_PREFIX) && agent.starts_with("agt_") && !agent.is_empty())
        .then_some((key, agent))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "pcl_sk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

    #[test]
    fn well_formed_keys_parse_and_expose_their_lookup() {
        let k = parse_key(GOOD).expect("good");
        assert_eq!(k.lookup(), "AAECAwQFBgcI");
        assert!(
            !format!("{k:?}").contains("DA0ODxAR"),
            "Debug shows the lookup only"
        );
    }

    #[test]
    fn every_malformed_shape_is_refused() {
        let long = format!("{GOOD}{}", "A".repeat(10_000));
        let cases = [
            "",
            "pcl_sk_",
            "sk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
            "PCL_SK_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
            "pcl_sk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh",
            "pcl_sk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A",
            "pcl_sk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+",
            "pcl_sk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh/",
            "pcl_sk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh=",
            "pcl_sk_ééECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH",
            long.as_str(),
        ];
        for bad in cases {
            assert!(parse_key(bad).is_err(), "{bad:.60}");
        }
    }

    #[test]
    fn the_combined_form_splits_at_the_agent_marker() {
        let combined = format!("pcl_{GOOD}_agent_agt_123");
        assert_eq!(split_combined(&combined), Some((GOOD, "agt_123")));
        let bare = format!("{GOOD}_agent_agt_9");
        assert_eq!(split_combined(&bare), Some((GOOD, "agt_9")));
        assert_eq!(split_combined(GOOD), None);
        assert_eq!(split_combined("pcl_x_agent_agt_1"), None);
        assert_eq!(split_combined(&format!("{GOOD}_agent_")), None);
    }
}
