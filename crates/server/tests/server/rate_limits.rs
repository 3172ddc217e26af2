//! Rate limits per client IP and per client: a burst is cut with 429 and `Retry-After`,
//! normal use is not, and the next minute is open again.

use serde_json::json;

use crate::api_auth::signup;
use crate::common::*;

/// Expects a 429 with a `Retry-After` of at most a minute.
fn assert_limited(res: &reqwest::Response, what: &str) {
    assert_eq!(res.status(), 429, "{what}");
    let retry: i64 = res.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry), "{what}: Retry-After {retry}");
}

on_both_backends! {
    async fn bursts_are_cut_per_ip_and_per_client_and_normal_use_is_not(db) {
        let server = TestServer::start_with(&db, |a| {
            a.rate_limits.login = 5;
            a.rate_limits.signup = 3;
            a.rate_limits.token_per_ip = 8;
            a.rate_limits.token_per_client = 4;
            a.rate_limits.registration = 2;
        });
        // Sign-up: three pass, the fourth is cut.
        for i in 0..3 {
            signup(&server, &format!("user{i}@example.com"), "User").await;
        }
        let res = server.post_json("/api/v1/auth/signup", &json!({ "email": "user9@example.com", "password": "correct horse", "name": "U" })).await;
        assert_limited(&res, "fourth sign-up");
        assert_eq!(json_of(res).await["error"]["code"], "rate_limited");

        // Sign-in: five attempts of any outcome pass (the right password included), the sixth
        // is cut even with the right password.
        for i in 0..5 {
            let password = if i == 4 { "correct horse" } else { "wrong password" };
            let res = server.post_json("/api/v1/auth/login", &json!({ "email": format!("user{}@example.com", i % 3), "password": password })).await;
            assert_ne!(res.status(), 429, "attempt {i}");
        }
        let res = server.post_json("/api/v1/auth/login", &json!({ "email": "user0@example.com", "password": "correct horse" })).await;
        assert_limited(&res, "sixth sign-in");

        // Registration: two pass, the third is cut with an OAuth-shaped error.
        let meta = json!({ "client_name": "svc", "grant_types": ["client_credentials"], "response_types": [], "redirect_uris": [] });
        let mut clients = Vec::new();
        for _ in 0..2 {
            let res = server.post_json("/oauth2/register", &meta).await;
            assert_eq!(res.status(), 201);
            let body = json_of(res).await;
            clients.push((body["client_id"].as_str().expect("id").to_owned(), body["client_secret"].as_str().expect("secret").to_owned()));
        }
        let res = server.post_json("/oauth2/register", &meta).await;
        assert_limited(&res, "third registration");
        assert_eq!(json_of(res).await["error"], "slow_down");

        // Token endpoint: four per client, eight per IP.
        let (a, b) = (&clients[0], &clients[1]);
        let token = |c: &(String, String)| {
            let (id, secret) = c.clone();
            let server = &server;
            async move { server.post_form("/oauth2/token", Some((&id, &secret)), &[("grant_type", "client_credentials")]).await }
        };
        for _ in 0..4 {
            assert_eq!(token(a).await.status(), 200);
        }
        assert_limited(&token(a).await, "fifth token of client a");
        for _ in 0..3 {
            assert_eq!(token(b).await.status(), 200, "client b has its own count");
        }
        // The IP has spent 4 + 1 + 3 = 8: client b's fourth is cut by the IP limit.
        let res = token(b).await;
        assert_limited(&res, "ninth token from the IP");
        assert_eq!(json_of(res).await["error"], "slow_down");

        // A minute later everything is open again.
        server.clock.advance(60);
        assert_eq!(token(a).await.status(), 200);
        let res = server.post_json("/api/v1/auth/login", &json!({ "email": "user0@example.com", "password": "correct horse" })).await;
        assert_eq!(res.status(), 200);
        assert_eq!(server.post_json("/oauth2/register", &meta).await.status(), 201);
    }
}
