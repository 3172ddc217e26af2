//! Where a call may go: the upstream URL never leaves the service, the scope a call needs,
//! and the addresses a host may resolve to (through an injected `Resolve`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use gateway::{AddressPolicy, CredentialKind, GatewayError, Resolve, Service};

fn service(prefix: &str) -> Service {
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
fn the_upstream_url_stays_on_the_service_whatever_the_path() {
    let svc = service("/v1");
    // Paths that try to leave the service's host, or climb out of the path they name:
    // refused, or kept as a path on the service's own origin.
    let tricky = [
        "/v1/../admin",
        "/v1/%2e%2e/admin",
        "/v1/%2E%2E/admin",
        "/v1/.%2e/admin",
        "/v1/%2e./admin",
        "/v1/%2e/admin",
        "//evil.example/x",
        "/\\evil.example",
        "/@evil.example",
        "/%2F%2Fevil.example/x",
        "/v1?x=1#frag",
        "/v1/%00",
    ];
    for path in tricky {
        match gateway::upstream_url(&svc, path, "") {
            Err(GatewayError::Invalid { field, .. }) => assert_eq!(field, "path"),
            Ok(url) => {
                assert_eq!(
                    url.origin().ascii_serialization(),
                    "https://api.openai.com",
                    "{path}"
                );
                assert!(
                    url.path().starts_with("/v1")
                        || url.path().starts_with("/%")
                        || url.path().starts_with("/@"),
                    "{path} -> {url}"
                );
                assert!(
                    !url.path().contains("/admin") || url.path().starts_with("/v1/"),
                    "{path} -> {url}"
                );
                assert_eq!(url.fragment(), None, "{path}");
            }
            Err(other) => panic!("{path}: {other:?}"),
        }
    }
    // Dot segments, plain or percent-encoded (URL parsers resolve `%2e%2e` as `..`), are
    // refused outright, so the path sent is the path whose scope was checked.
    for path in [
        "/v1/../admin",
        "/v1/%2e%2e/admin",
        "/v1/%2E%2E/admin",
        "/v1/.%2e/admin",
        "/v1/%2e./admin",
        "/v1/%2e/admin",
    ] {
        assert!(gateway::upstream_url(&svc, path, "").is_err(), "{path}");
    }
    // The query goes through as given; an empty one is no query.
    let url = gateway::upstream_url(&svc, "/v1/models", "limit=5&after=m_1").expect("ok");
    assert_eq!(
        url.as_str(),
        "https://api.openai.com/v1/models?limit=5&after=m_1"
    );
    assert_eq!(
        gateway::upstream_url(&svc, "/v1/models", "")
            .expect("ok")
            .query(),
        None
    );
    // A stored base URL that no longer parses is refused, not guessed at.
    let broken = Service {
        base_url: "not a url".into(),
        ..service("")
    };
    assert!(matches!(
        gateway::upstream_url(&broken, "/x", ""),
        Err(GatewayError::Refused(_))
    ));
}

#[test]
fn the_scope_a_call_needs_names_the_path_outside_the_prefix_too() {
    let svc = service("/v1");
    let scope = |path: &str| gateway::required_scope(&svc, path);
    // Inside the prefix: the rest of the path.
    assert_eq!(
        scope("/v1/chat/completions").expect("ok"),
        "openai:chat:completions"
    );
    assert_eq!(
        scope("/v1/Chat/Completions/").expect("ok"),
        "openai:chat:completions",
        "lower case, empty segments dropped"
    );
    assert_eq!(
        scope("/v1").expect("ok"),
        "openai",
        "the prefix itself is the service"
    );
    assert_eq!(scope("/v1/").expect("ok"), "openai");
    // Outside it, the prefix is no shelter: the scope names the whole path, so an agent
    // allowed `openai:chat:*` cannot reach /admin or /v1x through the prefix.
    assert_eq!(scope("/admin").expect("ok"), "openai:admin");
    assert_eq!(scope("/v1x/models").expect("ok"), "openai:v1x:models");
    assert_eq!(scope("/").expect("ok"), "openai");
    // Segments that are not plain names have no scope: encoded dots and slashes, spaces,
    // colons (which would forge a deeper scope), overlong names.
    for path in [
        "/v1/%2e%2e/admin",
        "/v1/a%2Fb",
        "/v1/a b",
        "/v1/chat:completions",
        "/v1/*",
        &format!("/v1/{}", "a".repeat(65)),
    ] {
        match scope(path) {
            Err(GatewayError::Invalid { field, .. }) => assert_eq!(field, "path", "{path}"),
            other => panic!("{path}: {other:?}"),
        }
    }
    // `.` and `..` are plain characters to the scope; the URL check refuses them (above).
    assert_eq!(scope("/v1/a.b").expect("ok"), "openai:a.b");
}

/// A resolver that answers from a table, or fails, and records what it was asked.
#[derive(Debug, Default)]
struct Table {
    answers: Vec<(&'static str, Vec<&'static str>)>,
    asked: Mutex<Vec<(String, u16)>>,
}

impl Table {
    fn new(answers: &[(&'static str, &[&'static str])]) -> Self {
        Self {
            answers: answers.iter().map(|(h, a)| (*h, a.to_vec())).collect(),
            asked: Mutex::default(),
        }
    }
    fn asked(&self) -> Vec<(String, u16)> {
        self.asked.lock().expect("lock").clone()
    }
}

impl Resolve for Table {
    fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        self.asked
            .lock()
            .expect("lock")
            .push((host.to_owned(), port));
        let (_, ips) = self
            .answers
            .iter()
            .find(|(h, _)| *h == host)
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "NXDOMAIN"))?;
        Ok(ips
            .iter()
            .map(|ip| SocketAddr::new(ip.parse::<IpAddr>().expect("ip"), port))
            .collect())
    }
}

const PUBLIC_ONLY: AddressPolicy = AddressPolicy {
    allow_private: false,
};
const ANY: AddressPolicy = AddressPolicy {
    allow_private: true,
};

fn refusal(result: Result<Vec<SocketAddr>, GatewayError>) -> String {
    match result {
        Err(GatewayError::Refused(why)) => why,
        other => panic!("expected Refused, got {other:?}"),
    }
}

#[test]
fn vetted_addrs_returns_every_public_answer_with_the_port() {
    let dns = Table::new(&[(
        "api.example.com",
        &["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    )]);
    let addrs = gateway::vetted_addrs(&dns, "api.example.com", 8443, PUBLIC_ONLY).expect("public");
    assert_eq!(
        addrs,
        [
            "93.184.215.14:8443",
            "[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:8443"
        ]
        .map(|a| a.parse::<SocketAddr>().expect("addr"))
    );
    assert_eq!(
        dns.asked(),
        [("api.example.com".to_owned(), 8443)],
        "looked up once, with the port"
    );
}

#[test]
fn vetted_addrs_judges_ipv6_answers_by_the_ipv4_address_they_embed() {
    // A name answering with an IPv4-mapped, NAT64 or 6to4 form of an internal address is
    // refused as that address; the same forms of a public address pass.
    let dns = Table::new(&[
        ("mapped.example", &["::ffff:169.254.169.254"]),
        ("nat64.example", &["64:ff9b::a00:1"]),
        ("sixtofour.example", &["2002:c0a8:0101::1"]),
        (
            "public-mapped.example",
            &["::ffff:8.8.8.8", "64:ff9b::808:808"],
        ),
    ]);
    assert!(
        refusal(gateway::vetted_addrs(
            &dns,
            "mapped.example",
            443,
            PUBLIC_ONLY
        ))
        .contains("169.254.0.0/16")
    );
    assert!(
        refusal(gateway::vetted_addrs(
            &dns,
            "nat64.example",
            443,
            PUBLIC_ONLY
        ))
        .contains("10.0.0.0/8")
    );
    assert!(
        refusal(gateway::vetted_addrs(
            &dns,
            "sixtofour.example",
            443,
            PUBLIC_ONLY
        ))
        .contains("192.168.0.0/16")
    );
    assert_eq!(
        gateway::vetted_addrs(&dns, "public-mapped.example", 443, PUBLIC_ONLY)
            .expect("public")
            .len(),
        2
    );
    // As literals too, bracketed or not, without a lookup.
    let none = Table::default();
    for literal in [
        "[::ffff:127.0.0.1]",
        "::ffff:7f00:1",
        "[64:ff9b::7f00:1]",
        "[fd00::1]",
        "0.0.0.0",
        "[::]",
    ] {
        refusal(gateway::vetted_addrs(&none, literal, 443, PUBLIC_ONLY));
    }
    assert!(none.asked().is_empty());
}

#[test]
fn vetted_addrs_refuses_what_does_not_resolve_and_names_what_it_refused() {
    let dns = Table::new(&[
        ("empty.example", &[]),
        ("internal.example", &["8.8.8.8", "100.64.1.1"]),
    ]);
    assert!(
        refusal(gateway::vetted_addrs(
            &dns,
            "nxdomain.example",
            443,
            PUBLIC_ONLY
        ))
        .contains("does not resolve")
    );
    assert!(
        refusal(gateway::vetted_addrs(
            &dns,
            "empty.example",
            443,
            PUBLIC_ONLY
        ))
        .contains("does not resolve")
    );
    assert!(refusal(gateway::vetted_addrs(&dns, "", 443, PUBLIC_ONLY)).contains("no host"));
    assert!(refusal(gateway::vetted_addrs(&dns, "[]", 443, PUBLIC_ONLY)).contains("no host"));
    let why = refusal(gateway::vetted_addrs(
        &dns,
        "internal.example",
        443,
        PUBLIC_ONLY,
    ));
    assert!(
        why.contains("internal.example") && why.contains("100.64.1.1") && why.contains("RFC 6598"),
        "{why}"
    );
    // The test policy lets internal answers through, but not a name that does not resolve.
    assert_eq!(
        gateway::vetted_addrs(&dns, "internal.example", 443, ANY)
            .expect("allowed")
            .len(),
        2
    );
    refusal(gateway::vetted_addrs(&dns, "nxdomain.example", 443, ANY));
}

#[test]
fn the_system_resolver_is_vetted_like_any_other() {
    // `localhost` resolves without a network, to loopback only.
    let resolver = gateway::SystemResolver;
    let why = refusal(gateway::vetted_addrs(
        &resolver,
        "localhost",
        80,
        PUBLIC_ONLY,
    ));
    assert!(why.contains("loopback"), "{why}");
    let addrs = gateway::vetted_addrs(&resolver, "localhost", 80, ANY).expect("allowed in tests");
    assert!(
        !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80),
        "{addrs:?}"
    );
}
