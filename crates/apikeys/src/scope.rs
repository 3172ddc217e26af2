//! Scopes: the registry of API scopes, wildcard matching, and the scope a request needs.

use crate::KeyError;
use crate::error::invalid;

/// The scopes an API key may hold (besides `*`, owners only).
pub const API_SCOPES: &[&str] = &[
    "org:read",
    "members:read",
    "members:write",
    "api-keys:read",
    "api-keys:write",
    "agents:read",
    "agents:write",
    "services:read",
    "services:write",
    "authorize",
];

/// Whether the granted scope `pattern` covers `required`. Segments are separated by `:`; a `*`
/// segment matches any one segment, and a trailing `*` matches every remaining segment; `*`
/// alone matches everything.
pub fn scope_covers(pattern: &str, required: &str) -> bool {
    let mut p = pattern.split(':').peekable();
    let mut r = required.split(':');
    loop {
        match (p.next(), r.next()) {
            (None, None) => return true,
            (Some("*"), Some(_)) if p.peek().is_none() => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'*'))
        && (s == "*" || !s.contains('*'))
}

/// Checks an API key's scopes: known API scopes, or `*` for owners.
pub fn check_key_scopes(scopes: &[String], is_owner: bool) -> Result<(), KeyError> {
    if scopes.is_empty() {
        return Err(invalid("scopes", "must name at least one scope"));
    }
    for s in scopes {
        if s == "*" {
            if !is_owner {
                return Err(invalid("scopes", "* is for owners only"));
            }
        } else if !API_SCOPES.contains(&s.as_str()) {
            return Err(invalid(
                "scopes",
                format!("{s} is not a known scope ({})", API_SCOPES.join(", ")),
            ));
        }
    }
    Ok(())
}

/// Checks agent scopes: `service:resource:action`-style patterns of 1 to 8 segments.
pub fn check_agent_scopes(scopes: &[String]) -> Result<(), KeyError> {
    if scopes.is_empty() || scopes.len() > 100 {
        return Err(invalid("scopes", "must name 1 to 100 scopes"));
    }
    for s in scopes {
        let segments: Vec<&str> = s.split(':').collect();
        if segments.len() > 8 || !segments.iter().all(|seg| valid_segment(seg)) {
            return Err(invalid(
                "scopes",
                format!("{s} is not a scope like service:resource:action"),
            ));
        }
    }
    Ok(())
}

/// The scope a call needs: the service, then the endpoint's path segments, with a leading
/// version segment (`v1`, `v2`, …) skipped: `openai` + `/v1/chat/completions` →
/// `openai:chat:completions`. Segments are lower-cased; empty ones are dropped.
pub fn required_scope(service: &str, endpoint: &str) -> Result<String, KeyError> {
    let path = endpoint.split(['?', '#']).next().unwrap_or("");
    let mut segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    if segments.first().is_some_and(|s| {
        s.len() > 1 && s.starts_with('v') && s[1..].bytes().all(|b| b.is_ascii_digit())
    }) {
        segments.remove(0);
    }
    let service = service.to_ascii_lowercase();
    if !valid_segment(&service)
        || service == "*"
        || segments.iter().any(|s| !valid_segment(s) || s == "*")
        || segments.len() > 7
    {
        return Err(invalid(
            "endpoint",
            "service and endpoint must be plain path segments",
        ));
    }
    let mut out = service;
    for s in segments {
        out.push(':');
        out.push_str(&s);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_matching() {
        let table = [
            ("openai:chat:completions", "openai:chat:completions", true),
            ("openai:chat:*", "openai:chat:completions", true),
            ("openai:*:completions", "openai:chat:completions", true),
            ("openai:*", "openai:chat:completions", true),
            ("openai:*", "openai", false),
            ("*", "github:repos:issues", true),
            ("openai:chat", "openai:chat:completions", false),
            ("openai:chat:completions", "openai:chat", false),
            ("openai:chat:completions", "openai:embeddings", false),
            ("github:*:issues", "github:repos:pulls", false),
            ("openai:chat:completions", "OPENAI:chat:completions", false),
        ];
        for (pattern, required, expected) in table {
            assert_eq!(
                scope_covers(pattern, required),
                expected,
                "{pattern} vs {required}"
            );
        }
    }

    #[test]
    fn required_scopes_from_endpoints() {
        assert_eq!(
            required_scope("openai", "/v1/chat/completions").expect("ok"),
            "openai:chat:completions"
        );
        assert_eq!(
            required_scope("github", "/repos/issues?state=open").expect("ok"),
            "github:repos:issues"
        );
        assert_eq!(
            required_scope("Slack", "//chat.postMessage/").expect("ok"),
            "slack:chat.postmessage"
        );
        assert!(required_scope("openai", "/chat/*").is_err());
        assert!(required_scope("", "/x").is_err());
        assert!(required_scope("a b", "/x").is_err());
    }

    #[test]
    fn key_and_agent_scope_rules() {
        assert!(check_key_scopes(&["org:read".into()], false).is_ok());
        assert!(check_key_scopes(&["*".into()], false).is_err());
        assert!(check_key_scopes(&["*".into()], true).is_ok());
        assert!(check_key_scopes(&["root".into()], true).is_err());
        assert!(check_key_scopes(&[], true).is_err());
        assert!(check_agent_scopes(&["openai:chat:completions".into(), "github:*".into()]).is_ok());
        assert!(check_agent_scopes(&["open ai".into()]).is_err());
        assert!(check_agent_scopes(&["openai:ch*t".into()]).is_err());
    }
}
