//! Where a proxied call may go: the upstream URL, the scope it needs, the addresses allowed.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use url::Url;

use crate::error::invalid;
use crate::{GatewayError, Service};

/// Whether private, loopback and link-local addresses may be reached (tests only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressPolicy {
    pub allow_private: bool,
}

/// The upstream URL of a call: the service's base URL, the request path (checked: no `..`, no
/// backslash), and the query.
pub fn upstream_url(service: &Service, path: &str, query: &str) -> Result<Url, GatewayError> {
    if path.split('/').any(|s| s == ".." || s == ".") || path.contains('\\') || path.contains("//")
    {
        return Err(invalid(
            "path",
            "must not contain . or .. segments, backslashes or //",
        ));
    }
    let mut url = Url::parse(&service.base_url)
        .map_err(|_| GatewayError::Refused("stored base URL is invalid".into()))?;
    url.set_path(path);
    url.set_query((!query.is_empty()).then_some(query));
    Ok(url)
}

/// `service:` + the path after the service's prefix, `/` turned into `:`
/// (`/v1/chat/completions` with prefix `/v1` → `openai:chat:completions`).
pub fn required_scope(service: &Service, path: &str) -> Result<String, GatewayError> {
    let rest = if service.path_prefix.is_empty() {
        path
    } else {
        path.strip_prefix(&service.path_prefix)
            .filter(|r| r.is_empty() || r.starts_with('/'))
            .unwrap_or(path)
    };
    let mut scope = service.name.clone();
    for seg in rest.split('/').filter(|s| !s.is_empty()) {
        let seg = seg.to_ascii_lowercase();
        if seg.len() > 64
            || !seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(invalid("path", "segments must be plain names"));
        }
        scope.push(':');
        scope.push_str(&seg);
    }
    Ok(scope)
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

/// Resolves the URL's host and refuses it when any address is private, loopback, link-local
/// or otherwise internal, unless the policy allows them. Returns the addresses. Blocking.
pub fn check_address(url: &Url, policy: AddressPolicy) -> Result<Vec<SocketAddr>, GatewayError> {
    let host = url
        .host_str()
        .ok_or_else(|| GatewayError::Refused("no host".into()))?;
    let port = url
        .port_or_known_default()
        .ok_or_else(|| GatewayError::Refused("no port".into()))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|_| GatewayError::Refused(format!("{host} does not resolve")))?
        .collect();
    if addrs.is_empty() {
        return Err(GatewayError::Refused(format!("{host} does not resolve")));
    }
    if !policy.allow_private && addrs.iter().any(|a| is_private(a.ip())) {
        return Err(GatewayError::Refused(format!(
            "{host} resolves to a private or loopback address"
        )));
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CredentialKind;

    fn svc(prefix: &str) -> Service {
        Service {
            id: "svc_1".into(),
            org_id: "org_1".into(),
            name: "openai".into(),
            base_url: "https://api.openai.com".into(),
            path_prefix: prefix.into(),
            credential_kind: CredentialKind::Header,
            credential_name: "Authorization".into(),
            credential_hint: "…abcd".into(),
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn scopes_skip_the_prefix() {
        assert_eq!(
            required_scope(&svc("/v1"), "/v1/chat/completions").expect("ok"),
            "openai:chat:completions"
        );
        assert_eq!(
            required_scope(&svc(""), "/v1/chat/completions").expect("ok"),
            "openai:v1:chat:completions"
        );
        assert_eq!(
            required_scope(&svc("/v1"), "/v10/models").expect("ok"),
            "openai:v10:models"
        );
        assert!(required_scope(&svc(""), "/a b").is_err());
    }

    #[test]
    fn upstream_urls_stay_on_the_service() {
        let u = upstream_url(&svc("/v1"), "/v1/chat/completions", "stream=true").expect("ok");
        assert_eq!(
            u.as_str(),
            "https://api.openai.com/v1/chat/completions?stream=true"
        );
        for bad in ["/../admin", "/v1/./x", "/a\\b", "//evil.example/x"] {
            assert!(upstream_url(&svc(""), bad, "").is_err(), "{bad}");
        }
    }

    #[test]
    fn internal_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(!is_private(ip.parse().expect("ip")), "{ip}");
        }
        let url = Url::parse("http://127.0.0.1:9/").expect("url");
        assert!(
            check_address(
                &url,
                AddressPolicy {
                    allow_private: false
                }
            )
            .is_err()
        );
        assert!(
            check_address(
                &url,
                AddressPolicy {
                    allow_private: true
                }
            )
            .is_ok()
        );
    }
}
