//! Which address a request comes from, when proxies stand in front of us: the trusted-proxy
//! list (`PORTCULLIS_TRUSTED_PROXIES`) and the rule that picks the client out of
//! `X-Forwarded-For` or `Forwarded` (RFC 7239). Pure: no HTTP types, so the rule is tested
//! here, table by table.
//!
//! The rule, and why:
//! - A peer outside the list is the client, whatever headers it sends: anyone can write
//!   `X-Forwarded-For`, so only a proxy we run may tell us who its client was.
//! - From a trusted peer, the hops are read right to left (each proxy appends the address it
//!   received the request from, so the rightmost entries are the ones our proxies wrote). The
//!   first hop outside the list is the client; everything left of it was written by that
//!   client, or by proxies it chose, and is not believed.
//! - If every hop is trusted, the leftmost one is the client (a request from inside).
//! - An entry that is not an address (`unknown`, an obfuscated `_node`, garbage) is never
//!   used, and walking stops there: nothing left of it is believed either. The client is then
//!   the nearest trusted hop to its right, the proxy that could not name its own client.
//! - `X-Forwarded-For` wins when both headers are present (it is what the shipped nginx sets);
//!   `Forwarded: for=` is read only without it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// An address range: a network address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` lies in this range (an IPv4-mapped IPv6 address counts as its IPv4 form).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => mask_v4(ip, self.prefix) == u32::from(net),
            (IpAddr::V6(net), IpAddr::V6(ip)) => mask_v6(ip, self.prefix) == u128::from(net),
            _ => false,
        }
    }
}

fn mask_v4(ip: Ipv4Addr, prefix: u8) -> u32 {
    let bits = u32::from(ip);
    match prefix {
        0 => 0,
        p => bits & (u32::MAX << (32 - u32::from(p))),
    }
}

fn mask_v6(ip: Ipv6Addr, prefix: u8) -> u128 {
    let bits = u128::from(ip);
    match prefix {
        0 => 0,
        p => bits & (u128::MAX << (128 - u32::from(p))),
    }
}

impl FromStr for Cidr {
    type Err = String;

    /// `10.0.0.0/8`, `fc00::/7`, or a bare address (`/32` or `/128`). Host bits below the
    /// prefix are cleared (`10.1.2.3/8` is `10.0.0.0/8`), as nginx's `set_real_ip_from` does.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match raw.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (raw, None),
        };
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| format!("{raw:?} is not an address or CIDR range"))?;
        let ip = ip.to_canonical();
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max && !p.starts_with('+') => n,
                _ => return Err(format!("{raw:?}: the prefix must be 0..={max}")),
            },
        };
        let net = match ip {
            IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(mask_v4(v4, prefix))),
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(mask_v6(v6, prefix))),
        };
        Ok(Self { net, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

/// The proxies whose forwarding headers are believed. Empty: none (the default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

/// What `PORTCULLIS_TRUST_PROXY=true` stands for: loopback and the private ranges.
pub const PRIVATE_RANGES: &str = "127.0.0.0/8 ::1 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7";

impl TrustedProxies {
    /// A list of ranges separated by commas and/or white space.
    pub fn parse(raw: &str) -> Result<Self, String> {
        raw.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(Cidr::from_str)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// Loopback and the private ranges ([`PRIVATE_RANGES`]).
    pub fn private_ranges() -> Self {
        // The constant above is a list of valid ranges (the unit tests parse it).
        Self::parse(PRIVATE_RANGES).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list: Vec<String> = self.0.iter().map(Cidr::to_string).collect();
        f.write_str(&list.join(" "))
    }
}

/// The client's address: `peer` unless it is a trusted proxy, else the rightmost hop of
/// `x_forwarded_for` (every `X-Forwarded-For` header value, in order) or, when there is none,
/// of `forwarded` (every `Forwarded` header value) that is not trusted. See the module docs.
pub fn client_ip(
    peer: IpAddr,
    trusted: &TrustedProxies,
    x_forwarded_for: &[&str],
    forwarded: &[&str],
) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.contains(peer) {
        return peer;
    }
    let hops: Vec<Option<IpAddr>> = if x_forwarded_for.is_empty() {
        forwarded.iter().flat_map(|v| forwarded_for(v)).collect()
    } else {
        x_forwarded_for
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(hop_address)
            .collect()
    };
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        match hop {
            Some(ip) if trusted.contains(ip) => client = ip,
            Some(ip) => return ip,
            None => return client,
        }
    }
    client
}

/// One hop as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:4711`. `None` for anything else.
fn hop_address(raw: &str) -> Option<IpAddr> {
    let raw = raw.trim();
    if let Ok(ip) = raw.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sock) = raw.parse::<SocketAddr>() {
        return Some(sock.ip().to_canonical());
    }
    let inner = raw.strip_prefix('[')?.strip_suffix(']')?;
    inner
        .parse::<Ipv6Addr>()
        .ok()
        .map(|ip| IpAddr::V6(ip).to_canonical())
}

/// The `for=` of each element of one `Forwarded` header value (RFC 7239 §4): elements are
/// separated by commas, pairs by semicolons, values are tokens or quoted strings. An element
/// without a usable `for=` gives `None`.
fn forwarded_for(value: &str) -> Vec<Option<IpAddr>> {
    split_outside_quotes(value, ',')
        .into_iter()
        .filter(|element| !element.trim().is_empty())
        .map(|element| {
            let mut found = None;
            for pair in split_outside_quotes(element, ';') {
                let Some((name, v)) = pair.split_once('=') else {
                    continue;
                };
                if name.trim().eq_ignore_ascii_case("for") {
                    if found.is_some() {
                        // Two `for=` in one element: neither is believed.
                        return None;
                    }
                    found = Some(unquote(v.trim()));
                }
            }
            found.and_then(|v| hop_address(&v))
        })
        .collect()
}

/// Splits on `sep` where it is not inside a quoted string.
fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// A token, or a quoted string without its quotes and escapes.
fn unquote(v: &str) -> String {
    match v.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut escaped = false;
            for c in inner.chars() {
                if escaped || c != '\\' {
                    out.push(c);
                    escaped = false;
                } else {
                    escaped = true;
                }
            }
            out
        }
        None => v.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn ranges_parse_and_match() {
        // (list, address, trusted?)
        let cases: &[(&str, &str, bool)] = &[
            ("10.0.0.0/8", "10.255.1.2", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("10.1.2.3/8", "10.9.9.9", true),
            ("192.0.2.7", "192.0.2.7", true),
            ("192.0.2.7", "192.0.2.8", false),
            ("0.0.0.0/0", "203.0.113.9", true),
            ("0.0.0.0/0", "2001:db8::1", false),
            ("fc00::/7", "fd12::1", true),
            ("fc00::/7", "fe80::1", false),
            ("::1", "::1", true),
            ("::/0", "2001:db8::1", true),
            ("10.0.0.0/8", "::ffff:10.0.0.1", true),
            ("172.16.0.0/12, 192.168.0.0/16", "172.31.255.255", true),
            ("172.16.0.0/12 192.168.0.0/16", "172.32.0.0", false),
            ("172.16.0.0/12,\t192.168.0.0/16", "192.168.4.4", true),
            ("", "127.0.0.1", false),
        ];
        for &(list, addr, want) in cases {
            let t = TrustedProxies::parse(list).expect(list);
            assert_eq!(t.contains(ip(addr)), want, "{list} ∋ {addr}");
        }
    }

    #[test]
    fn bad_ranges_are_refused_with_the_value() {
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0/8",
            "example.com",
            "10.0.0.0/8/8",
            "[::1]",
            "*",
        ] {
            let err = TrustedProxies::parse(bad).expect_err(bad);
            assert!(err.contains(bad), "{err} names {bad}");
        }
    }

    #[test]
    fn the_private_alias_is_loopback_and_the_private_ranges() {
        let t = TrustedProxies::private_ranges();
        assert_eq!(t.0.len(), 6);
        for a in [
            "127.0.0.1",
            "127.9.9.9",
            "::1",
            "10.1.1.1",
            "172.20.0.1",
            "192.168.1.1",
            "fd00::1",
        ] {
            assert!(t.contains(ip(a)), "{a}");
        }
        for a in ["8.8.8.8", "172.32.0.1", "2001:db8::1", "169.254.1.1", "::2"] {
            assert!(!t.contains(ip(a)), "{a}");
        }
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop() {
        let trusted =
            TrustedProxies::parse("127.0.0.1 10.0.0.0/8 2001:db8:ffff::/48").expect("list");
        // (peer, X-Forwarded-For values, Forwarded values, expected client)
        type Case = (
            &'static str,
            &'static [&'static str],
            &'static [&'static str],
            &'static str,
        );
        let cases: &[Case] = &[
            // An untrusted peer: its headers are ignored.
            ("203.0.113.5", &["198.51.100.1"], &[], "203.0.113.5"),
            ("203.0.113.5", &[], &["for=198.51.100.1"], "203.0.113.5"),
            // A trusted peer without headers is the client.
            ("127.0.0.1", &[], &[], "127.0.0.1"),
            // nginx's `$proxy_add_x_forwarded_for`: what the client sent, then its address.
            ("127.0.0.1", &["198.51.100.1"], &[], "198.51.100.1"),
            ("127.0.0.1", &["6.6.6.6, 198.51.100.1"], &[], "198.51.100.1"),
            (
                "127.0.0.1",
                &["6.6.6.6, 198.51.100.1, 10.0.0.2"],
                &[],
                "198.51.100.1",
            ),
            // Several header lines are one list, in order.
            (
                "127.0.0.1",
                &["6.6.6.6", "198.51.100.1, 10.0.0.2"],
                &[],
                "198.51.100.1",
            ),
            // Every hop trusted: the leftmost.
            ("127.0.0.1", &["10.0.0.9, 10.0.0.2"], &[], "10.0.0.9"),
            // Ports and brackets, as some proxies write them.
            ("127.0.0.1", &["198.51.100.1:4711"], &[], "198.51.100.1"),
            ("127.0.0.1", &["[2001:db8::7]:4711"], &[], "2001:db8::7"),
            ("127.0.0.1", &["2001:db8::7"], &[], "2001:db8::7"),
            ("127.0.0.1", &["[2001:db8::7]"], &[], "2001:db8::7"),
            (
                "127.0.0.1",
                &["2001:db8:ffff::1, 10.0.0.1"],
                &[],
                "2001:db8:ffff::1",
            ),
            // IPv4-mapped IPv6 is its IPv4 address, as a peer and as a hop.
            ("::ffff:127.0.0.1", &["198.51.100.1"], &[], "198.51.100.1"),
            ("127.0.0.1", &["::ffff:198.51.100.1"], &[], "198.51.100.1"),
            // Garbage: never used, nothing left of it believed; the nearest trusted hop.
            ("127.0.0.1", &["6.6.6.6, garbage"], &[], "127.0.0.1"),
            (
                "127.0.0.1",
                &["6.6.6.6, unknown, 10.0.0.3"],
                &[],
                "10.0.0.3",
            ),
            ("127.0.0.1", &["garbage, 198.51.100.1"], &[], "198.51.100.1"),
            ("127.0.0.1", &["198.51.100.1,, ,"], &[], "198.51.100.1"),
            ("127.0.0.1", &["1.2.3.4.5"], &[], "127.0.0.1"),
            ("127.0.0.1", &["\u{0}\u{7f}ÿ"], &[], "127.0.0.1"),
            // Forwarded (RFC 7239 §4, §6), only without X-Forwarded-For.
            ("127.0.0.1", &[], &["for=198.51.100.1"], "198.51.100.1"),
            (
                "127.0.0.1",
                &[],
                &["For=\"198.51.100.1:80\";proto=https;by=10.0.0.1"],
                "198.51.100.1",
            ),
            (
                "127.0.0.1",
                &[],
                &["for=\"[2001:db8:cafe::17]:4711\""],
                "2001:db8:cafe::17",
            ),
            (
                "127.0.0.1",
                &[],
                &["for=\"[2001:db8:cafe::17]\""],
                "2001:db8:cafe::17",
            ),
            (
                "127.0.0.1",
                &[],
                &["for=6.6.6.6, for=198.51.100.1;proto=http"],
                "198.51.100.1",
            ),
            (
                "127.0.0.1",
                &[],
                &["for=6.6.6.6", "for=198.51.100.1, for=10.0.0.1"],
                "198.51.100.1",
            ),
            (
                "127.0.0.1",
                &[],
                &["for=10.0.0.8, for=10.0.0.1"],
                "10.0.0.8",
            ),
            ("127.0.0.1", &[], &["for=6.6.6.6, for=unknown"], "127.0.0.1"),
            (
                "127.0.0.1",
                &[],
                &["for=6.6.6.6, for=_hidden, for=10.0.0.5"],
                "10.0.0.5",
            ),
            ("127.0.0.1", &[], &["for=6.6.6.6, proto=http"], "127.0.0.1"),
            (
                "127.0.0.1",
                &[],
                &["for=6.6.6.6, for=\"1.1.1.1, 2.2.2.2\""],
                "127.0.0.1",
            ),
            (
                "127.0.0.1",
                &[],
                &["for=6.6.6.6;for=198.51.100.1"],
                "127.0.0.1",
            ),
            ("127.0.0.1", &[], &["for=\"unterminated"], "127.0.0.1"),
            // Both: X-Forwarded-For wins.
            (
                "127.0.0.1",
                &["198.51.100.1"],
                &["for=6.6.6.6"],
                "198.51.100.1",
            ),
        ];
        for &(peer, xff, fwd, want) in cases {
            assert_eq!(
                client_ip(ip(peer), &trusted, xff, fwd),
                ip(want),
                "peer {peer}, X-Forwarded-For {xff:?}, Forwarded {fwd:?}"
            );
        }
    }

    #[test]
    fn nothing_is_trusted_by_default() {
        let none = TrustedProxies::default();
        assert_eq!(
            client_ip(
                ip("127.0.0.1"),
                &none,
                &["198.51.100.1"],
                &["for=198.51.100.2"]
            ),
            ip("127.0.0.1")
        );
    }
}
