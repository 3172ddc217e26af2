//! Oversized input (OWASP API4:2023, unrestricted resource consumption): bodies of a megabyte
//! and more, with a length or streamed, ten thousand scopes, huge and numerous headers, deeply
//! nested JSON. Each is refused with a 4xx (the one 3xx is an `invalid_scope` error sent back to
//! a registered redirect URI), never a 500 or a hang; the server goes on answering, and its
//! memory stays bounded. Requests are written by hand on a socket, so they are exactly what an
//! attacker would send.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::token::service_client;

const MB: usize = 1024 * 1024;

/// How a raw request's body is sent.
enum Body {
    None,
    /// With `Content-Length`.
    Sized(Vec<u8>),
    /// `total` bytes of `fill`, written 16 KiB at a time (no buffer of that size on our side),
    /// with `Content-Length` or, when `chunked`, as `Transfer-Encoding: chunked`.
    Filled {
        total: usize,
        fill: u8,
        chunked: bool,
    },
}

/// Sends one request over a fresh connection, exactly as written, and reads the head of the
/// answer: its status and its header lines. Writes the server refuses to read (it may answer and close early) are ignored:
/// what matters is what it answers, and that it answers in time.
fn raw_request(addr: &str, head: &str, body: Body) -> (Option<u16>, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    stream
        .set_write_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut head = head.trim_end().replace('\n', "\r\n");
    match &body {
        Body::None => head.push_str("\r\n\r\n"),
        Body::Sized(b) => head.push_str(&format!("\r\ncontent-length: {}\r\n\r\n", b.len())),
        Body::Filled {
            total,
            chunked: false,
            ..
        } => {
            head.push_str(&format!("\r\ncontent-length: {total}\r\n\r\n"));
        }
        Body::Filled { chunked: true, .. } => {
            head.push_str("\r\ntransfer-encoding: chunked\r\n\r\n")
        }
    }
    let _ = stream.write_all(head.as_bytes());
    let _ = match body {
        Body::None => Ok(()),
        Body::Sized(b) => stream.write_all(&b),
        Body::Filled {
            total,
            fill,
            chunked,
        } => {
            let chunk = [fill; 16 * 1024];
            let mut sent = 0;
            let mut result = Ok(());
            while sent < total && result.is_ok() {
                let n = chunk.len().min(total - sent);
                result = if chunked {
                    stream
                        .write_all(format!("{n:x}\r\n").as_bytes())
                        .and_then(|()| stream.write_all(&chunk[..n]))
                        .and_then(|()| stream.write_all(b"\r\n"))
                } else {
                    stream.write_all(&chunk[..n])
                };
                sent += n;
            }
            if chunked {
                result.and_then(|()| stream.write_all(b"0\r\n\r\n"))
            } else {
                result
            }
        }
    };
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
        }
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok());
    (status, text)
}

/// Makes a request body when the request is sent.
type MakeBody = fn() -> Body;

/// One attack: what it is, the request head (no blank line), its body, and the answer expected:
/// a status, and a piece of text its head must hold.
struct Attack {
    what: &'static str,
    head: String,
    body: MakeBody,
    status: u16,
    head_holds: &'static str,
}

fn form_of(pairs: &str) -> Body {
    Body::Sized(pairs.as_bytes().to_vec())
}

/// Ten thousand scopes, space-separated (`+` in a form).
fn ten_thousand_scopes() -> String {
    (0..10_000).map(|i| format!("s{i}+")).collect()
}

struct Ids {
    host: String,
    basic: String,
    code_client: String,
}

fn attacks(ids: &Ids) -> Vec<Attack> {
    let Ids {
        host,
        basic,
        code_client,
    } = ids;
    let form = "content-type: application/x-www-form-urlencoded";
    let json = "content-type: application/json";
    let token =
        format!("POST /oauth2/token HTTP/1.1\nhost: {host}\nauthorization: Basic {basic}\n{form}");
    let attack = |what, head: String, body, status, head_holds| Attack {
        what,
        head,
        body,
        status,
        head_holds,
    };
    vec![
        attack(
            "1 MB token request",
            token.clone(),
            || {
                form_of(&format!(
                    "grant_type=client_credentials&x={}",
                    "a".repeat(MB)
                ))
            },
            413,
            "",
        ),
        attack(
            "1 MB chunked token request",
            token.clone(),
            || Body::Filled {
                total: MB,
                fill: b'a',
                chunked: true,
            },
            413,
            "",
        ),
        attack(
            "1 MB introspection request",
            format!(
                "POST /oauth2/introspect HTTP/1.1\nhost: {host}\nauthorization: Basic {basic}\n{form}"
            ),
            || form_of(&format!("token={}", "a".repeat(MB))),
            413,
            "",
        ),
        attack(
            "1 MB registration",
            format!("POST /oauth2/register HTTP/1.1\nhost: {host}\n{json}"),
            || Body::Sized(format!("{{\"client_name\":\"{}\"}}", "a".repeat(MB)).into_bytes()),
            413,
            "",
        ),
        attack(
            "1 MB chunked registration",
            format!("POST /oauth2/register HTTP/1.1\nhost: {host}\n{json}"),
            || Body::Filled {
                total: MB,
                fill: b' ',
                chunked: true,
            },
            413,
            "",
        ),
        attack(
            "1 MB JSON sign-in",
            format!("POST /api/v1/auth/login HTTP/1.1\nhost: {host}\n{json}"),
            || {
                Body::Sized(
                    format!(
                        "{{\"email\":\"a@example.com\",\"password\":\"{}\"}}",
                        "a".repeat(MB)
                    )
                    .into_bytes(),
                )
            },
            413,
            "",
        ),
        attack(
            "1 MB chunked JSON sign-up",
            format!("POST /api/v1/auth/signup HTTP/1.1\nhost: {host}\n{json}"),
            || Body::Filled {
                total: MB,
                fill: b' ',
                chunked: true,
            },
            413,
            "",
        ),
        attack(
            "1 MB sign-in page form",
            format!("POST /login HTTP/1.1\nhost: {host}\n{form}"),
            || {
                form_of(&format!(
                    "csrf_token=x&email=a%40example.com&password={}",
                    "a".repeat(MB)
                ))
            },
            400,
            "",
        ),
        attack(
            "10,000 scopes in an authorization request",
            format!(
                "GET /oauth2/authorize?response_type=code&client_id={code_client}&redirect_uri=https%3A%2F%2Fapp.example%2Fcallback&scope={} HTTP/1.1\nhost: {host}",
                ten_thousand_scopes()
            ),
            || Body::None,
            // The code client registered itself and nobody is signed in: the error is a page,
            // not a redirect (RFC 9700 §4.11.2).
            400,
            "invalid_scope",
        ),
        attack(
            "10,000 scopes in a POSTed authorization request",
            format!("POST /oauth2/authorize HTTP/1.1\nhost: {host}\n{form}"),
            || {
                form_of(&format!(
                    "response_type=code&scope={}",
                    ten_thousand_scopes()
                ))
            },
            413,
            "",
        ),
        attack(
            "10,000 scopes in a token request",
            token.clone(),
            || {
                form_of(&format!(
                    "grant_type=client_credentials&scope={}",
                    ten_thousand_scopes()
                ))
            },
            413,
            "",
        ),
        attack(
            "2,000 parameters in a token request",
            token,
            || {
                form_of(&format!(
                    "grant_type=client_credentials{}",
                    (0..2_000).map(|i| format!("&p{i}=1")).collect::<String>()
                ))
            },
            400,
            "invalid_request",
        ),
        attack(
            "a 100 KB URL",
            format!("GET /{} HTTP/1.1\nhost: {host}", "a".repeat(100 * 1024)),
            || Body::None,
            400,
            "",
        ),
        attack(
            "a 200 KB header",
            format!(
                "GET /health HTTP/1.1\nhost: {host}\nx-padding: {}",
                "a".repeat(200 * 1024)
            ),
            || Body::None,
            431,
            "",
        ),
        attack(
            "500 headers",
            format!(
                "GET /health HTTP/1.1\nhost: {host}\n{}",
                (0..500)
                    .map(|i| format!("x-h{i}: v"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
            || Body::None,
            431,
            "",
        ),
        attack(
            "JSON nested 25,000 deep at registration",
            format!("POST /oauth2/register HTTP/1.1\nhost: {host}\n{json}"),
            || Body::Sized(format!("{}{}", "[".repeat(25_000), "]".repeat(25_000)).into_bytes()),
            400,
            "",
        ),
        attack(
            "JSON nested 15,000 deep at sign-in",
            format!("POST /api/v1/auth/login HTTP/1.1\nhost: {host}\n{json}"),
            || {
                Body::Sized(
                    format!("{{\"email\":{}{}}}", "[".repeat(15_000), "]".repeat(15_000))
                        .into_bytes(),
                )
            },
            400,
            "",
        ),
    ]
}

/// The resident set size of this process (the server runs in it), in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Sends a raw request on a blocking thread (the server's accept loop runs on this one).
async fn send(addr: &str, head: &str, body: MakeBody) -> (Option<u16>, String, Duration) {
    let (addr, head) = (addr.to_owned(), head.to_owned());
    actix_web::rt::task::spawn_blocking(move || {
        let started = Instant::now();
        let (status, answer) = raw_request(&addr, &head, body());
        (status, answer, started.elapsed())
    })
    .await
    .expect("request thread")
}

async fn ids(server: &TestServer) -> Ids {
    use base64::Engine as _;
    let (id, secret) = service_client(server, "client_secret_basic").await;
    let code_client =
        crate::authorize::code_client(server, false, "https://app.example/callback").await;
    Ids {
        host: server.base.trim_start_matches("http://").to_owned(),
        basic: base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")),
        code_client: code_client["client_id"]
            .as_str()
            .expect("client_id")
            .to_owned(),
    }
}

on_both_backends! {
    async fn oversized_requests_are_refused_and_the_server_lives_on(db) {
        let server = TestServer::start(&db);
        let ids = ids(&server).await;
        for attack in attacks(&ids) {
            let (status, answer, took) = send(&ids.host, &attack.head, attack.body).await;
            assert_eq!(status, Some(attack.status), "{}: {answer}", attack.what);
            assert!(answer.contains(attack.head_holds), "{}: {answer}", attack.what);
            assert!(took < Duration::from_secs(10), "{}: {took:?}", attack.what);
            assert_eq!(server.get("/health").await.status(), 200, "after {}", attack.what);
        }
    }
}

/// Request heads over 32 KiB of headers get 431 before any handler runs, whatever the header
/// (a padding header, a bearer token, an API key, a session cookie); over actix-http's own
/// 128 KiB head limit too.
#[actix_web::test]
async fn large_headers_are_bounded_by_the_request_head_limit() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let host = server.base.trim_start_matches("http://").to_owned();
    let hundred_kb = "a".repeat(100 * 1024);
    for (what, head, status) in [
        (
            "a 100 KB header",
            format!(
                "GET /.well-known/openid-configuration HTTP/1.1\nhost: {host}\nx-padding: {hundred_kb}"
            ),
            431,
        ),
        (
            "a 100 KB bearer token",
            format!(
                "GET /oauth2/userinfo HTTP/1.1\nhost: {host}\nauthorization: Bearer {hundred_kb}"
            ),
            431,
        ),
        (
            "a 100 KB API key",
            format!("GET /api/v1/me HTTP/1.1\nhost: {host}\nx-api-key: {hundred_kb}"),
            431,
        ),
        (
            "a 100 KB session cookie",
            format!("GET /account HTTP/1.1\nhost: {host}\ncookie: pcl_session={hundred_kb}"),
            431,
        ),
        (
            "a 200 KB header",
            format!("GET /health HTTP/1.1\nhost: {host}\nx-padding: {hundred_kb}{hundred_kb}"),
            431,
        ),
    ] {
        let (got, answer, took) = send(&host, &head, || Body::None).await;
        assert_eq!(got, Some(status), "{what}: {answer}");
        assert!(took < Duration::from_secs(10), "{what}: {took:?}");
    }
    assert_eq!(server.get("/health").await.status(), 200);
}

/// Twenty oversized requests (16 MB streamed bodies, 10,000 scopes, 100 KB headers) leave the
/// process's resident memory within 64 MB of where it was: nothing is buffered whole. Other
/// tests run in this process too, so a round that grew for their reasons is tried again, up
/// to three times.
#[actix_web::test]
async fn memory_stays_bounded_under_oversized_requests() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let ids = ids(&server).await;
    let token = format!(
        "POST /oauth2/token HTTP/1.1\nhost: {}\nauthorization: Basic {}\ncontent-type: application/x-www-form-urlencoded",
        ids.host, ids.basic
    );
    let register = format!(
        "POST /oauth2/register HTTP/1.1\nhost: {}\ncontent-type: application/json",
        ids.host
    );
    let login = format!(
        "POST /api/v1/auth/login HTTP/1.1\nhost: {}\ncontent-type: application/json",
        ids.host
    );
    let big_header = format!(
        "GET /.well-known/openid-configuration HTTP/1.1\nhost: {}\nx-padding: {}",
        ids.host,
        "a".repeat(100 * 1024)
    );
    let scopes = format!(
        "GET /oauth2/authorize?response_type=code&client_id={}&redirect_uri=https%3A%2F%2Fapp.example%2Fcallback&scope={} HTTP/1.1\nhost: {}",
        ids.code_client,
        ten_thousand_scopes(),
        ids.host
    );
    let streamed: MakeBody = || Body::Filled {
        total: 16 * MB,
        fill: b'a',
        chunked: true,
    };
    let sized: MakeBody = || Body::Filled {
        total: 16 * MB,
        fill: b' ',
        chunked: false,
    };
    let round: Vec<(&str, MakeBody)> = vec![
        (&token, streamed),
        (&register, streamed),
        (&login, streamed),
        (&token, sized),
        (&register, sized),
        (&big_header, || Body::None),
        (&scopes, || Body::None),
    ];
    let mut growths = Vec::new();
    for _ in 0..3 {
        let before = rss_kib();
        for (head, body) in round.iter().cycle().take(20) {
            let (status, answer, _) = send(&ids.host, head, *body).await;
            assert!(status.is_some_and(|s| s < 500), "{answer}");
        }
        let grown = rss_kib().saturating_sub(before);
        growths.push(grown);
        if grown < 64 * 1024 {
            break;
        }
    }
    assert!(
        growths.iter().any(|g| *g < 64 * 1024),
        "RSS grew by {growths:?} KiB"
    );
    assert_eq!(server.get("/health").await.status(), 200);
}
