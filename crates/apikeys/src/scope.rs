//! Scopes: the registry of API scopes, wildcard matching, and the scope a request needs.

use crate::KeyError;
use crate::error::invalid;

/// The scopes of the JSON API: what an API key may hold (besides `*`, owners only) and what a
/// third-party application may be granted on the consent page. Each route of `/api/v1` names
/// the one it needs.
pub const API_SCOPES: &[&str] = &[
    "org:read",
    "org:write",
    "members:read",
    "members:write",
    "api-keys:read",
    "api-keys:write",
    "agents:read",
    "agents:write",
    "services:read",
    "services:write",
    "audit:read",
    "authorize",
];

/// What an API scope allows, in the words the consent page shows; `None` for a scope that is
/// not an API scope.
pub fn describe_api_scope(scope: &str) -> Option<&'static str> {
    Some(match scope {
        "org:read" => "See your organizations",
        "org:write" => "Change your organizations' settings, such as requiring a second factor",
        "members:read" => "See who is in your organizations",
        "members:write" => "Invite, remove and change the roles of your organizations' members",
        "api-keys:read" => "See your organizations' API keys (not their secrets)",
        "api-keys:write" => "Create, change, rotate and revoke your organizations' API keys",
        "agents:read" => "See your organizations' agents",
        "agents:write" => "Create, change and delete your organizations' agents",
        "services:read" => "See the services your organizations' agents call",
        "services:write" => {
            "Add, change and remove the services your organizations' agents call, with their stored credentials"
        }
        "audit:read" => "Read your organizations' audit logs",
        "authorize" => "Check whether your organizations' agents may call a service",
        _ => return None,
    })
}

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

/// Checks that a caller may grant `scopes` to a key: a caller bound by scopes of its own (an
/// API key, a third-party token) grants only scopes it holds itself (`held` is `None` for a
/// signed-in user, whom the role bounds). No key creates a key stronger than itself.
pub fn check_grantable(scopes: &[String], held: Option<&[String]>) -> Result<(), KeyError> {
    let Some(held) = held else {
        return Ok(());
    };
    if held.iter().any(|h| h == "*") {
        return Ok(());
    }
    match scopes.iter().find(|s| !held.contains(s)) {
        Some(extra) => Err(invalid(
            "scopes",
            format!(
                "{extra} is not held by the credential making this call, so it cannot grant it"
            ),
        )),
        None => Ok(()),
    }
}

/// Checks that a caller may give an agent `scopes`: the catch-all `*` only by owners (a user
/// who owns the organization, or an owner key holding `*`), as for keys.
pub fn check_agent_grant(scopes: &[String], is_owner: bool) -> Result<(), KeyError> {
    if !is_owner && scopes.iter().any(|s| s == "*") {
        return Err(invalid("scopes", "* is for owners only"));
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
    fn every_api_scope_is_described() {
        for scope in API_SCOPES {
            assert!(
                describe_api_scope(scope).is_some(),
                "{scope} has no description"
            );
        }
        assert_eq!(describe_api_scope("openid"), None);
        assert_eq!(describe_api_scope("*"), None);
    }

    #[test]
    fn attack_key_escalation_a_key_grants_only_what_it_holds() {
        let held = vec!["api-keys:write".to_owned(), "org:read".to_owned()];
        assert!(check_grantable(&["org:read".into()], Some(&held)).is_ok());
        assert!(check_grantable(&["members:write".into()], Some(&held)).is_err());
        assert!(check_grantable(&["*".into()], Some(&held)).is_err());
        assert!(check_grantable(&["members:write".into()], Some(&["*".to_owned()])).is_ok());
        assert!(check_grantable(&["members:write".into()], None).is_ok());
        assert!(check_agent_grant(&["*".into()], false).is_err());
        assert!(check_agent_grant(&["openai:*".into()], false).is_ok());
        assert!(check_agent_grant(&["*".into()], true).is_ok());
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
