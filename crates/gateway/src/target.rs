//! Where a proxied call may go: the upstream URL, the scope it needs, the addresses allowed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use url::Url;

use crate::error::invalid;
use crate::{GatewayError, Service};

/// Whether private, loopback and other special-purpose addresses may be reached
/// (`PORTCULLIS_GATEWAY_ALLOW_PRIVATE`, for tests on loopback only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressPolicy {
    pub allow_private: bool,
}

/// The upstream URL of a call: the service's base URL, the request path (checked: no `.` or
/// `..` segment, plain or percent-encoded; no backslash, no `//`), and the query.
pub fn upstream_url(service: &Service, path: &str, query: &str) -> Result<Url, GatewayError> {
    if path.split('/').any(is_dot_segment) || path.contains('\\') || path.contains("//") {
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

/// A segment the URL parser takes for `.` or `..` (the WHATWG URL standard's single-dot and
/// double-dot segments): written plainly or with `%2e` for a dot, in either case. Such a
/// segment would be resolved away when the URL is built, so the path sent upstream would not
/// be the path whose scope was checked.
fn is_dot_segment(segment: &str) -> bool {
    matches!(
        segment.to_ascii_lowercase().as_str(),
        "." | ".." | "%2e" | ".%2e" | "%2e." | "%2e%2e"
    )
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

// ---- the addresses a call may reach ----
//
// The refused blocks follow IANA's special-purpose address registries (RFC 6890 and the RFCs
// that added rows since):
// - IPv4: https://www.iana.org/assignments/iana-ipv4-special-registry/
// - IPv6: https://www.iana.org/assignments/iana-ipv6-special-registry/
// plus multicast (https://www.iana.org/assignments/multicast-addresses/ and
// https://www.iana.org/assignments/ipv6-multicast-addresses/) and, for IPv6, everything outside
// 2000::/3, the only block IANA allocates for global unicast
// (https://www.iana.org/assignments/ipv6-address-space/).
//
// A block is refused whole, even where the registry marks a few addresses inside it globally
// reachable (192.0.0.9/32, 192.0.0.10/32 in 192.0.0.0/24; 2001:1::1/128, 2001:3::/32,
// 2001:4:112::/48, 2001:20::/28, 2001:30::/28 in 2001::/23): anycast relays, AS112 and overlay
// identifiers are no upstream an organization calls through the gateway, and refusing them
// fails safe. Blocks the registry marks globally reachable that sit outside these
// (192.31.196.0/24, 192.52.193.0/24, 192.175.48.0/24, 2620:4f:8000::/48) are ordinary
// destinations and pass.
// Addresses that embed an IPv4 address an IPv6 network would route to (IPv4-mapped, NAT64 well
// known prefix, 6to4) are judged by the IPv4 address they embed.

/// One IPv4 block: network, prefix length, and what it is (for the log).
struct V4Block(u32, u8, &'static str);

const fn v4(a: u8, b: u8, c: u8, d: u8) -> u32 {
    u32::from_be_bytes([a, b, c, d])
}

/// Refused IPv4 blocks. The first match names the reason.
#[rustfmt::skip]
const V4_REFUSED: &[V4Block] = &[
    V4Block(v4(0, 0, 0, 0),         8,  "\"this network\" 0.0.0.0/8 (RFC 791)"),
    V4Block(v4(10, 0, 0, 0),        8,  "private-use 10.0.0.0/8 (RFC 1918)"),
    V4Block(v4(100, 64, 0, 0),      10, "shared address space 100.64.0.0/10 (RFC 6598)"),
    V4Block(v4(127, 0, 0, 0),       8,  "loopback 127.0.0.0/8 (RFC 1122)"),
    V4Block(v4(169, 254, 0, 0),     16, "link local 169.254.0.0/16 (RFC 3927)"),
    V4Block(v4(172, 16, 0, 0),      12, "private-use 172.16.0.0/12 (RFC 1918)"),
    V4Block(v4(192, 0, 0, 0),       24, "IETF protocol assignments 192.0.0.0/24 (RFC 6890)"),
    V4Block(v4(192, 0, 2, 0),       24, "documentation TEST-NET-1 192.0.2.0/24 (RFC 5737)"),
    V4Block(v4(192, 88, 99, 0),     24, "6to4 relay anycast 192.88.99.0/24 (RFC 7526)"),
    V4Block(v4(192, 168, 0, 0),     16, "private-use 192.168.0.0/16 (RFC 1918)"),
    V4Block(v4(198, 18, 0, 0),      15, "benchmarking 198.18.0.0/15 (RFC 2544)"),
    V4Block(v4(198, 51, 100, 0),    24, "documentation TEST-NET-2 198.51.100.0/24 (RFC 5737)"),
    V4Block(v4(203, 0, 113, 0),     24, "documentation TEST-NET-3 203.0.113.0/24 (RFC 5737)"),
    V4Block(v4(224, 0, 0, 0),       4,  "multicast 224.0.0.0/4 (RFC 5771)"),
    V4Block(v4(255, 255, 255, 255), 32, "limited broadcast 255.255.255.255/32 (RFC 919)"),
    V4Block(v4(240, 0, 0, 0),       4,  "reserved 240.0.0.0/4 (RFC 1112)"),
];

/// What an IPv6 block means for a call.
#[derive(Clone, Copy)]
enum V6Rule {
    Refuse,
    /// Judged by the IPv4 address it embeds.
    Embeds(fn(Ipv6Addr) -> Ipv4Addr),
}

/// One IPv6 block: network, prefix length, what it is, and the rule.
struct V6Block(u128, u8, &'static str, V6Rule);

/// The last 32 bits (IPv4-mapped, NAT64 well-known prefix).
fn low_32(ip: Ipv6Addr) -> Ipv4Addr {
    Ipv4Addr::from((ip.to_bits() & 0xffff_ffff) as u32)
}

/// Bits 16 to 48 (6to4, RFC 3056: 2002:AABB:CCDD::/48).
fn six_to_four(ip: Ipv6Addr) -> Ipv4Addr {
    Ipv4Addr::from(((ip.to_bits() >> 80) & 0xffff_ffff) as u32)
}

const fn v6(segments: [u16; 8]) -> u128 {
    let mut bits = 0u128;
    let mut i = 0;
    while i < 8 {
        bits = (bits << 16) | segments[i] as u128;
        i += 1;
    }
    bits
}

/// IPv6 special-purpose blocks, most specific first. The first match decides.
#[rustfmt::skip]
const V6_SPECIAL: &[V6Block] = &[
    V6Block(0, 128, "unspecified ::/128 (RFC 4291)", V6Rule::Refuse),
    V6Block(1, 128, "loopback ::1/128 (RFC 4291)", V6Rule::Refuse),
    V6Block(v6([0, 0, 0, 0, 0, 0xffff, 0, 0]), 96, "IPv4-mapped ::ffff:0:0/96 (RFC 4291)", V6Rule::Embeds(low_32)),
    V6Block(0, 96, "IPv4-compatible ::/96 (deprecated, RFC 4291)", V6Rule::Refuse),
    V6Block(v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0]), 96, "NAT64 64:ff9b::/96 (RFC 6052)", V6Rule::Embeds(low_32)),
    V6Block(v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0]), 48, "local-use NAT64 64:ff9b:1::/48 (RFC 8215)", V6Rule::Refuse),
    V6Block(v6([0x100, 0, 0, 0, 0, 0, 0, 0]), 64, "discard-only 100::/64 (RFC 6666)", V6Rule::Refuse),
    V6Block(v6([0x2001, 0, 0, 0, 0, 0, 0, 0]), 23, "IETF protocol assignments 2001::/23 (RFC 2928: Teredo, benchmarking, ORCHID…)", V6Rule::Refuse),
    V6Block(v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]), 32, "documentation 2001:db8::/32 (RFC 3849)", V6Rule::Refuse),
    V6Block(v6([0x2002, 0, 0, 0, 0, 0, 0, 0]), 16, "6to4 2002::/16 (RFC 3056)", V6Rule::Embeds(six_to_four)),
    V6Block(v6([0x3fff, 0, 0, 0, 0, 0, 0, 0]), 20, "documentation 3fff::/20 (RFC 9637)", V6Rule::Refuse),
    V6Block(v6([0x5f00, 0, 0, 0, 0, 0, 0, 0]), 16, "segment routing SIDs 5f00::/16 (RFC 9602)", V6Rule::Refuse),
    V6Block(v6([0xfc00, 0, 0, 0, 0, 0, 0, 0]), 7, "unique local fc00::/7 (RFC 4193)", V6Rule::Refuse),
    V6Block(v6([0xfe80, 0, 0, 0, 0, 0, 0, 0]), 10, "link local fe80::/10 (RFC 4291)", V6Rule::Refuse),
    V6Block(v6([0xff00, 0, 0, 0, 0, 0, 0, 0]), 8, "multicast ff00::/8 (RFC 4291)", V6Rule::Refuse),
    // Not global unicast at all (reserved by the IETF, site-local fec0::/10, …): the unnamed
    // last row is the block everything else must fall in.
    V6Block(v6([0x2000, 0, 0, 0, 0, 0, 0, 0]), 3, "", V6Rule::Refuse),
];

fn in_v4(ip: u32, net: u32, len: u8) -> bool {
    len == 0 || (ip ^ net) >> (32 - u32::from(len)) == 0
}

fn in_v6(ip: u128, net: u128, len: u8) -> bool {
    len == 0 || (ip ^ net) >> (128 - u32::from(len)) == 0
}

/// Why the gateway refuses to connect to `ip`, or `None` for an ordinary public address.
pub fn refused_because(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let bits = v4.to_bits();
            V4_REFUSED
                .iter()
                .find(|b| in_v4(bits, b.0, b.1))
                .map(|b| b.2)
        }
        IpAddr::V6(v6) => {
            let bits = v6.to_bits();
            for V6Block(net, len, name, rule) in V6_SPECIAL {
                // The last row is the global unicast block: outside it, refuse.
                if name.is_empty() {
                    return (!in_v6(bits, *net, *len))
                        .then_some("not global unicast: outside 2000::/3 (RFC 4291)");
                }
                if in_v6(bits, *net, *len) {
                    return match rule {
                        V6Rule::Refuse => Some(name),
                        V6Rule::Embeds(extract) => refused_because(IpAddr::V4(extract(v6))),
                    };
                }
            }
            None
        }
    }
}

/// Looks a host name up. The gateway resolves an upstream once per connection, through this,
/// vets every address it got, and connects only to those addresses: what was checked is what
/// is connected to, so a name that re-resolves (DNS rebinding) cannot reach an address that
/// was never vetted. Tests supply their own.
pub trait Resolve: Send + Sync + std::fmt::Debug {
    /// Blocking.
    fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>>;
}

/// The system's resolver (`getaddrinfo`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        Ok((host, port).to_socket_addrs()?.collect())
    }
}

/// Resolves `host` once (an IP literal is not looked up) and vets every address: when any is
/// refused, the whole name is, unless the policy allows private addresses. Returns the vetted
/// addresses, the only ones the caller may connect to. Blocking.
pub fn vetted_addrs(
    resolver: &dyn Resolve,
    host: &str,
    port: u16,
    policy: AddressPolicy,
) -> Result<Vec<SocketAddr>, GatewayError> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if bare.is_empty() {
        return Err(GatewayError::Refused("no host".into()));
    }
    let addrs = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => resolver
            .lookup(bare, port)
            .map_err(|_| GatewayError::Refused(format!("{bare} does not resolve")))?,
    };
    if addrs.is_empty() {
        return Err(GatewayError::Refused(format!("{bare} does not resolve")));
    }
    if !policy.allow_private {
        for addr in &addrs {
            if let Some(why) = refused_because(addr.ip()) {
                return Err(GatewayError::Refused(format!(
                    "{bare} resolves to {}: {why}",
                    addr.ip()
                )));
            }
        }
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

    /// One row per refused block: an address inside it (its first, or a typical one) and the
    /// block the refusal must name.
    const REFUSED: &[(&str, &str)] = &[
        ("0.0.0.0", "0.0.0.0/8"),
        ("0.255.255.255", "0.0.0.0/8"),
        ("10.1.2.3", "10.0.0.0/8"),
        ("100.64.0.1", "100.64.0.0/10"),
        ("100.127.255.255", "100.64.0.0/10"),
        ("127.0.0.1", "127.0.0.0/8"),
        ("127.255.0.9", "127.0.0.0/8"),
        ("169.254.169.254", "169.254.0.0/16"),
        ("172.16.0.1", "172.16.0.0/12"),
        ("172.31.255.255", "172.16.0.0/12"),
        ("192.0.0.9", "192.0.0.0/24"),
        ("192.0.2.1", "192.0.2.0/24"),
        ("192.88.99.1", "192.88.99.0/24"),
        ("192.168.1.1", "192.168.0.0/16"),
        ("198.18.0.1", "198.18.0.0/15"),
        ("198.19.255.255", "198.18.0.0/15"),
        ("198.51.100.7", "198.51.100.0/24"),
        ("203.0.113.7", "203.0.113.0/24"),
        ("224.0.0.1", "224.0.0.0/4"),
        ("239.255.255.255", "224.0.0.0/4"),
        ("240.0.0.1", "240.0.0.0/4"),
        ("255.255.255.254", "240.0.0.0/4"),
        ("255.255.255.255", "255.255.255.255/32"),
        ("::", "::/128"),
        ("::1", "::1/128"),
        ("::ffff:127.0.0.1", "127.0.0.0/8"),
        ("::ffff:10.0.0.1", "10.0.0.0/8"),
        ("::ffff:169.254.169.254", "169.254.0.0/16"),
        ("::8.8.8.8", "::/96"),
        ("::127.0.0.1", "::/96"),
        ("64:ff9b::127.0.0.1", "127.0.0.0/8"),
        ("64:ff9b::a9fe:a9fe", "169.254.0.0/16"),
        ("64:ff9b:1::8.8.8.8", "64:ff9b:1::/48"),
        ("100::1", "100::/64"),
        ("2001::1", "2001::/23"),
        ("2001:2::1", "2001::/23"),
        ("2001:1ff:ffff::1", "2001::/23"),
        ("2001:db8::1", "2001:db8::/32"),
        ("2002:7f00:1::1", "127.0.0.0/8"),
        ("2002:c0a8:101::1", "192.168.0.0/16"),
        ("3fff::1", "3fff::/20"),
        ("3fff:fff:ffff::1", "3fff::/20"),
        ("5f00::1", "5f00::/16"),
        ("fc00::1", "fc00::/7"),
        ("fd12:3456::1", "fc00::/7"),
        ("fe80::1", "fe80::/10"),
        ("febf::1", "fe80::/10"),
        ("ff02::1", "ff00::/8"),
        ("fec0::1", "2000::/3"),
        ("4000::1", "2000::/3"),
        ("1::1", "2000::/3"),
    ];

    /// Public addresses, several just outside a refused block, that must pass.
    const PUBLIC: &[&str] = &[
        "8.8.8.8",
        "1.1.1.1",
        "1.0.0.0",
        "9.255.255.255",
        "11.0.0.0",
        "100.63.255.255",
        "100.128.0.0",
        "126.255.255.255",
        "128.0.0.0",
        "169.253.255.255",
        "172.15.255.255",
        "172.32.0.0",
        "192.0.1.0",
        "192.0.3.0",
        "192.31.196.1",
        "192.88.98.255",
        "192.167.255.255",
        "192.169.0.0",
        "198.17.255.255",
        "198.20.0.0",
        "203.0.112.255",
        "223.255.255.255",
        "2606:4700:4700::1111",
        "2001:4860:4860::8888",
        "2001:200::1",
        "2001:db9::1",
        "2003::1",
        "2620:4f:8000::1",
        "3fff:1000::1",
        "2a00:1450:4001::200e",
        "::ffff:8.8.8.8",
        "64:ff9b::8.8.8.8",
        "2002:808:808::1",
    ];

    #[test]
    fn iana_special_purpose_blocks_are_refused() {
        for (ip, block) in REFUSED {
            let why = refused_because(ip.parse().expect("ip"));
            assert!(
                why.is_some_and(|w| w.contains(block)),
                "{ip} should be refused as {block}, got {why:?}"
            );
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in PUBLIC {
            let why = refused_because(ip.parse().expect("ip"));
            assert_eq!(why, None, "{ip}");
        }
    }

    /// A resolver answering from a script, one answer per lookup, that counts lookups.
    #[derive(Debug)]
    struct Scripted(
        std::sync::Mutex<Vec<Vec<IpAddr>>>,
        std::sync::atomic::AtomicUsize,
    );

    impl Scripted {
        fn new(answers: &[&[&str]]) -> Self {
            Self(
                std::sync::Mutex::new(
                    answers
                        .iter()
                        .rev()
                        .map(|a| a.iter().map(|ip| ip.parse().expect("ip")).collect())
                        .collect(),
                ),
                std::sync::atomic::AtomicUsize::new(0),
            )
        }
        fn lookups(&self) -> usize {
            self.1.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    impl Resolve for Scripted {
        fn lookup(&self, _: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let answer = self.0.lock().expect("lock").pop().unwrap_or_default();
            Ok(answer
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect())
        }
    }

    const PUBLIC_ONLY: AddressPolicy = AddressPolicy {
        allow_private: false,
    };

    #[test]
    fn attack_dns_rebinding_every_resolved_address_is_vetted_and_only_those_are_returned() {
        // One private address among public ones refuses the name.
        let mixed = Scripted::new(&[&["8.8.8.8", "10.0.0.5"]]);
        let err = vetted_addrs(&mixed, "api.example.com", 443, PUBLIC_ONLY).expect_err("refused");
        assert!(err.to_string().contains("10.0.0.5"), "{err}");
        // The name flips from public to loopback between two lookups: each lookup is vetted
        // on its own, and what is returned is exactly what was vetted.
        let flipping = Scripted::new(&[&["93.184.215.14"], &["127.0.0.1"]]);
        let first = vetted_addrs(&flipping, "rebind.example", 443, PUBLIC_ONLY).expect("public");
        assert_eq!(first, vec!["93.184.215.14:443".parse().expect("addr")]);
        assert!(vetted_addrs(&flipping, "rebind.example", 443, PUBLIC_ONLY).is_err());
        assert_eq!(flipping.lookups(), 2, "one lookup per call");
        // IP literals are not looked up; brackets are accepted for IPv6.
        let none = Scripted::new(&[]);
        assert!(vetted_addrs(&none, "[::1]", 80, PUBLIC_ONLY).is_err());
        assert!(vetted_addrs(&none, "169.254.169.254", 80, PUBLIC_ONLY).is_err());
        assert_eq!(
            vetted_addrs(&none, "[2606:4700:4700::1111]", 443, PUBLIC_ONLY).expect("public"),
            vec!["[2606:4700:4700::1111]:443".parse().expect("addr")]
        );
        assert_eq!(none.lookups(), 0);
        // A name that does not resolve, or resolves to nothing, is refused.
        assert!(vetted_addrs(&none, "nothing.example", 443, PUBLIC_ONLY).is_err());
        // The test setting lets loopback through.
        let loopback = Scripted::new(&[&["127.0.0.1"]]);
        assert!(
            vetted_addrs(
                &loopback,
                "localhost",
                8080,
                AddressPolicy {
                    allow_private: true
                }
            )
            .is_ok()
        );
    }
}
