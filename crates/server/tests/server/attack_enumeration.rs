//! Account enumeration (OWASP ASVS V2.2, RFC 9700 §4.15 on credential guessing): a failed
//! sign-in says the same thing, with the same status, whether the email is unknown, malformed,
//! disabled or the password wrong, on the page and on the JSON API; and it costs the same, since
//! an unknown email still pays for one argon2id verification (against a dummy hash).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api_auth::signup;
use crate::authorize_errors::{hidden, jar};
use crate::common::*;

const PASSWORD: &str = "correct horse";

/// The ways a sign-in can fail: (what, email, password).
fn failures() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        ("wrong password", "ada@example.com", "wrong horse"),
        ("unknown email", "nobody@example.com", PASSWORD),
        (
            "unknown email, other case",
            "NOBODY@example.com",
            "wrong horse",
        ),
        ("malformed email", "not-an-email", PASSWORD),
        (
            "disabled account, right password",
            "off@example.com",
            PASSWORD,
        ),
    ]
}

/// Ada (enabled) and a disabled account.
async fn accounts(server: &TestServer, db: &TestDb) {
    signup(server, "ada@example.com", "Ada").await;
    let off = signup(server, "off@example.com", "Off").await;
    let mut conn = db.store().conn().expect("conn");
    accounts::set_disabled(
        &mut conn,
        off["user"]["id"].as_str().expect("id"),
        true,
        server.clock_now(),
    )
    .expect("disable");
}

on_both_backends! {
    async fn the_sign_in_page_fails_alike(db) {
        let server = TestServer::start(&db);
        accounts(&server, &db).await;
        let browser = jar();
        let csrf = hidden(&browser.get(server.url("/login")).send().await.expect("get").text().await.expect("html"), "csrf_token");
        let mut answers = Vec::new();
        for (what, email, password) in failures() {
            let res = browser.post(server.url("/login")).form(&[("csrf_token", csrf.as_str()), ("email", email), ("password", password)]).send().await.expect("post");
            let status = res.status().as_u16();
            let cookies = res.headers().get_all("set-cookie").iter().count();
            // The page echoes the email typed; everything else must be the same.
            let html = res.text().await.expect("html").replace(email, "EMAIL");
            assert!(html.contains("The email or password is wrong."), "{what}");
            answers.push((what, status, cookies, html));
        }
        let (first, rest) = answers.split_first().expect("answers");
        assert_eq!(first.1, 401);
        for other in rest {
            assert_eq!((other.1, other.2, &other.3), (first.1, first.2, &first.3), "{} vs {}", other.0, first.0);
        }
    }

    async fn the_json_sign_in_fails_alike(db) {
        let server = TestServer::start(&db);
        accounts(&server, &db).await;
        let mut answers: Vec<(&str, u16, Value)> = Vec::new();
        for (what, email, password) in failures() {
            let res = server.post_json("/api/v1/auth/login", &json!({ "email": email, "password": password })).await;
            answers.push((what, res.status().as_u16(), json_of(res).await));
        }
        let (first, rest) = answers.split_first().expect("answers");
        assert_eq!(first.1, 401);
        assert_eq!(first.2["error"]["code"], "invalid_credentials");
        for other in rest {
            assert_eq!((other.1, &other.2), (first.1, &first.2), "{} vs {}", other.0, first.0);
        }
        // Control: the right password does sign in, so the answers above are failures.
        let ok = server.post_json("/api/v1/auth/login", &json!({ "email": "ada@example.com", "password": PASSWORD })).await;
        assert_eq!(ok.status(), 200);
    }

    async fn sign_up_is_no_password_oracle(db) {
        // Sign-up tells that an email is registered (409): that is by design, and the login
        // throttle and argon2id bound what it helps with. What it must not tell is whether a
        // password is right: the same answer with the account's password and with another.
        let server = TestServer::start(&db);
        accounts(&server, &db).await;
        let mut answers = Vec::new();
        for password in [PASSWORD, "another password"] {
            let res = server.post_json("/api/v1/auth/signup", &json!({ "email": "ada@example.com", "password": password, "name": "Ada" })).await;
            answers.push((res.status().as_u16(), json_of(res).await));
        }
        assert_eq!(answers[0], answers[1]);
        assert_eq!(answers[0].0, 409);
        let browser = jar();
        let csrf = hidden(&browser.get(server.url("/signup")).send().await.expect("get").text().await.expect("html"), "csrf_token");
        let mut pages = Vec::new();
        for password in [PASSWORD, "another password"] {
            let res = browser.post(server.url("/signup")).form(&[("csrf_token", csrf.as_str()), ("name", "Ada"), ("email", "ada@example.com"), ("password", password)]).send().await.expect("post");
            pages.push((res.status().as_u16(), res.text().await.expect("html")));
        }
        assert_eq!(pages[0], pages[1]);
        assert_eq!(pages[0].0, 409);
    }
}

/// Wall time of one JSON sign-in attempt.
async fn attempt(server: &TestServer, email: &str, password: &str) -> Duration {
    // Past the throttle's 15-minute window, so neither the account nor our IP is backing off.
    server.clock.advance(901);
    let started = Instant::now();
    let res = server
        .post_json(
            "/api/v1/auth/login",
            &json!({ "email": email, "password": password }),
        )
        .await;
    let took = started.elapsed();
    assert_eq!(res.status(), 401, "{email}");
    took
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[actix_web::test]
async fn an_unknown_email_costs_an_argon2_verification_too() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    signup(&server, "ada@example.com", "Ada").await;
    // Warm up both paths (the dummy hash is made on first use).
    attempt(&server, "nobody@example.com", PASSWORD).await;
    attempt(&server, "ada@example.com", "wrong horse").await;
    let (mut unknown, mut wrong) = (Vec::new(), Vec::new());
    for i in 0..9 {
        unknown.push(attempt(&server, &format!("nobody{i}@example.com"), PASSWORD).await);
        wrong.push(attempt(&server, "ada@example.com", "wrong horse").await);
    }
    let (u, w) = (median(unknown), median(wrong));
    let ratio = u.as_secs_f64() / w.as_secs_f64();
    assert!(
        (0.5..=2.0).contains(&ratio),
        "unknown email {u:?}, wrong password {w:?}: ratio {ratio:.2}"
    );
}
