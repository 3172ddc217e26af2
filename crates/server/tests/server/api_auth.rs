//! `POST /api/v1/auth/signup|login|refresh|logout` and `GET /api/v1/me`.

use serde_json::{Value, json};

use crate::common::*;

pub async fn signup(server: &TestServer, email: &str, name: &str) -> Value {
    let res = server
        .post_json(
            "/api/v1/auth/signup",
            &json!({ "email": email, "password": "correct horse", "name": name }),
        )
        .await;
    assert_eq!(res.status(), 201);
    json_of(res).await
}

pub async fn get_as(server: &TestServer, path: &str, token: &str) -> reqwest::Response {
    server
        .http
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("get")
}

async fn login(server: &TestServer, body: Value) -> reqwest::Response {
    server.post_json("/api/v1/auth/login", &body).await
}

async fn refresh(server: &TestServer, token: &str) -> reqwest::Response {
    server
        .post_json("/api/v1/auth/refresh", &json!({ "refreshToken": token }))
        .await
}

on_both_backends! {
    async fn signup_answers_like_login_and_me_shows_the_org(db) {
        let server = TestServer::start(&db);
        let res = server.post_json("/api/v1/auth/signup", &json!({
            "email": "Ada@Example.com", "password": "correct horse", "name": "Ada", "organization": "Engines",
        })).await;
        assert_eq!(res.status(), 201);
        assert_eq!(res.headers()["cache-control"], "no-store");
        let body = json_of(res).await;
        assert!(body["token"].is_string() && body["refreshToken"].is_string());
        assert_eq!(body["expiresIn"], 3600);
        assert_eq!(body["organization"]["name"], "Engines");
        assert_eq!(body["organization"]["role"], "owner");
        let me = json_of(get_as(&server, "/api/v1/me", body["token"].as_str().expect("token")).await).await;
        assert_eq!(me["email"], "Ada@Example.com");
        assert_eq!(me["emailVerified"], false);
        assert_eq!(me["organizations"][0]["name"], "Engines");
        assert_eq!(me["organizations"][0]["role"], "owner");
    }

    async fn signup_and_login_errors_name_the_problem(db) {
        let server = TestServer::start(&db);
        signup(&server, "ada@example.com", "Ada").await;
        let cases = [
            (json!({ "email": "ADA@example.com", "password": "correct horse", "name": "Other" }), 409, "email_taken", Some("email")),
            (json!({ "email": "new@example.com", "password": "short", "name": "New" }), 400, "invalid_field", Some("password")),
            (json!({ "email": "not-an-email", "password": "correct horse", "name": "New" }), 400, "invalid_field", Some("email")),
            (json!({ "password": "correct horse", "name": "New" }), 400, "invalid_field", Some("email")),
            (json!({ "email": "new@example.com", "password": "correct horse" }), 400, "invalid_field", Some("name")),
            (json!({ "email": "n@example.com", "password": "x".repeat(1025), "name": "N" }), 400, "invalid_field", Some("password")),
        ];
        for (body, status, code, param) in cases {
            let res = server.post_json("/api/v1/auth/signup", &body).await;
            assert_eq!(res.status().as_u16(), status, "{body}");
            let err = json_of(res).await;
            assert_eq!(err["error"]["code"], code, "{body}");
            assert_eq!(err["error"]["param"].as_str(), param, "{body}");
        }
        let res = server.http.post(server.url("/api/v1/auth/signup")).header("content-type", "application/json").body("{").send().await.expect("post");
        assert_eq!(res.status(), 400);
        assert_eq!(json_of(res).await["error"]["code"], "invalid_json");

        let wrong = login(&server, json!({ "email": "ada@example.com", "password": "wrong horse" })).await;
        assert_eq!(wrong.status(), 401);
        let wrong = json_of(wrong).await;
        let unknown = json_of(login(&server, json!({ "email": "nobody@example.com", "password": "correct horse" })).await).await;
        assert_eq!(wrong, unknown, "one answer whether the email is unknown or the password wrong");
        assert_eq!(wrong["error"]["code"], "invalid_credentials");
        assert_eq!(wrong["error"]["type"], "authentication_error");
        let ok = login(&server, json!({ "username": "ada@example.com", "password": "correct horse" })).await;
        assert_eq!(ok.status(), 200, "username is an alias of email");
        // Each attempt is in the audit log, without the password.
        let mut conn = db.store().conn().expect("conn");
        let events = store::audit::recent(&mut conn, 50).expect("audit");
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert!(kinds.contains(&"login.succeeded") && kinds.contains(&"signup"), "{kinds:?}");
        assert_eq!(kinds.iter().filter(|k| **k == "login.failed").count(), 2, "{kinds:?}");
        assert!(events.iter().all(|e| !e.detail.contains("horse")), "no password in the log");
    }

    async fn refresh_rotates_and_reuse_revokes_the_family(db) {
        let server = TestServer::start(&db);
        signup(&server, "ada@example.com", "Ada").await;
        let first = json_of(login(&server, json!({ "email": "ada@example.com", "password": "correct horse" })).await).await;
        let r1 = first["refreshToken"].as_str().expect("r1").to_owned();
        let second = refresh(&server, &r1).await;
        assert_eq!(second.status(), 200);
        let second = json_of(second).await;
        let (a2, r2) = (second["token"].as_str().expect("a2").to_owned(), second["refreshToken"].as_str().expect("r2").to_owned());
        assert_ne!(r1, r2);
        assert_eq!(get_as(&server, "/api/v1/me", &a2).await.status(), 200);

        // The old refresh token again: refused, and the whole family dies.
        let reuse = refresh(&server, &r1).await;
        assert_eq!(reuse.status(), 401);
        assert_eq!(json_of(reuse).await["error"]["code"], "invalid_token");
        assert_eq!(refresh(&server, &r2).await.status(), 401, "the live refresh token died too");
        let me = get_as(&server, "/api/v1/me", &a2).await;
        assert_eq!(me.status(), 401, "and the access token issued with it");
        assert_eq!(json_of(me).await["error"]["code"], "invalid_token");
        let mut conn = db.store().conn().expect("conn");
        let events = store::audit::recent(&mut conn, 20).expect("audit");
        assert!(events.iter().any(|e| e.kind == "refresh_family.revoked" && e.detail.contains("reuse")), "recorded");
    }

    async fn logout_revokes_the_family_and_expired_tokens_say_so(db) {
        let server = TestServer::start(&db);
        let body = signup(&server, "ada@example.com", "Ada").await;
        let (access, refresh_token) = (body["token"].as_str().expect("a").to_owned(), body["refreshToken"].as_str().expect("r").to_owned());
        server.clock.advance(3600);
        let expired = get_as(&server, "/api/v1/me", &access).await;
        assert_eq!(expired.status(), 401);
        assert!(expired.headers()["www-authenticate"].to_str().unwrap_or("").starts_with("Bearer"));
        assert_eq!(json_of(expired).await["error"]["code"], "token_expired");
        server.clock.advance(-3600);
        let res = server.http.post(server.url("/api/v1/auth/logout")).bearer_auth(&access)
            .json(&json!({ "refreshToken": refresh_token })).send().await.expect("logout");
        assert_eq!(res.status(), 204);
        assert_eq!(refresh(&server, &refresh_token).await.status(), 401);
        assert_eq!(get_as(&server, "/api/v1/me", &access).await.status(), 401);
        // No credentials at all.
        let res = server.get("/api/v1/me").await;
        assert_eq!(res.status(), 401);
        assert_eq!(json_of(res).await["error"]["type"], "authentication_error");
        assert_eq!(get_as(&server, "/api/v1/me", "garbage").await.status(), 401);
    }

    async fn failed_logins_back_off_with_429_and_retry_after(db) {
        let server = TestServer::start(&db);
        signup(&server, "ada@example.com", "Ada").await;
        for _ in 0..5 {
            let res = login(&server, json!({ "email": "ada@example.com", "password": "wrong horse" })).await;
            assert_eq!(res.status(), 401);
        }
        let res = login(&server, json!({ "email": "ada@example.com", "password": "correct horse" })).await;
        assert_eq!(res.status(), 429, "even the right password waits out the back-off");
        let wait: i64 = res.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
        assert!((1..=60).contains(&wait), "{wait}");
        assert_eq!(json_of(res).await["error"]["code"], "rate_limited");
        server.clock.advance(61);
        let res = login(&server, json!({ "email": "ada@example.com", "password": "correct horse" })).await;
        assert_eq!(res.status(), 200);
    }
}
