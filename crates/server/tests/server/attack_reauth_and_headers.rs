//! Session fixation on re-authentication, and oversized request heads: cases the first
//! attack suite found open, fixed since.

use std::io::{Read as _, Write as _};

use crate::api_auth::signup;
use crate::authorize_errors::{hidden, jar};
use crate::common::*;

async fn sign_in(server: &TestServer, http: &reqwest::Client, path: &str) -> String {
    let html = http
        .get(server.url(path))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("html");
    let res = http
        .post(server.url("/login"))
        .form(&[
            ("csrf_token", hidden(&html, "csrf_token").as_str()),
            ("email", "ada@example.com"),
            ("password", "correct horse"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 303);
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.strip_prefix("pcl_session="))
        .map(|r| r.split(';').next().unwrap_or("").to_owned())
        .find(|v| !v.is_empty())
        .expect("session cookie")
}

on_both_backends! {
    // Session fixation, re-authentication: the session the browser presented when it signed in
    // again (`/login?reauth=1`, as for prompt=login or max_age) should end, not live on beside
    // the new one until its idle or absolute expiry.
    async fn signing_in_again_ends_the_session_the_browser_had(db) {
        let server = TestServer::start(&db);
        signup(&server, "ada@example.com", "Ada").await;
        let browser = jar();
        let first = sign_in(&server, &browser, "/login").await;
        let second = sign_in(&server, &browser, "/login?reauth=1").await;
        assert_ne!(first, second);
        let res = server.http.get(server.url("/account")).header("cookie", format!("pcl_session={first}")).send().await.expect("get");
        assert_eq!(res.status(), 303, "the old session value still opens the account");
    }
}

/// Oversized input: a 100 KB header should be refused (431), as 500 headers are; today any
/// request head up to actix-http's fixed 128 KiB is read and answered.
#[actix_web::test]
async fn a_100_kb_header_is_refused() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let host = server.base.trim_start_matches("http://").to_owned();
    let status = actix_web::rt::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(&host).expect("connect");
        let head = format!("GET /.well-known/openid-configuration HTTP/1.1\r\nhost: {host}\r\nx-padding: {}\r\n\r\n", "a".repeat(100 * 1024));
        s.write_all(head.as_bytes()).expect("write");
        let mut buf = [0u8; 12];
        s.read_exact(&mut buf).expect("read");
        String::from_utf8_lossy(&buf[9..12]).into_owned()
    }).await.expect("thread");
    assert_eq!(status, "431");
}
