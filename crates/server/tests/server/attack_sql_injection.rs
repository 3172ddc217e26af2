//! SQL injection (OWASP A03:2021): SQL metacharacters, `LIKE` wildcards, backslashes and NUL
//! bytes in every text field a client can reach. Each value is either stored and read back
//! verbatim, or refused with a 4xx (an OAuth error redirect counts as refused); never a 5xx,
//! never a match it should not make; and the tables work afterwards. Queries are diesel's,
//! parameterized, on both backends: this holds the line against a hand-written one slipping in.

use reqwest::Method;
use serde_json::{Value, json};
use url::Url;

use crate::api_auth::{get_as, signup};
use crate::authorize::code_client;
use crate::authorize_errors::{
    REDIRECT, authorize, challenge, decide, hidden, id, jar, redirected, sign_up,
};
use crate::common::*;
use crate::token::service_client;

/// What an attacker types.
const PAYLOADS: &[&str] = &[
    "' OR '1'='1",
    "' OR 1=1 --",
    "\"; DROP TABLE users; --",
    "'); DELETE FROM sessions; --",
    "\\",
    "\\'",
    "%",
    "_",
    "%_%",
    "x\0y",
];

/// A token-endpoint request: what it tries, Basic credentials, the form.
type TokenCase<'a> = (&'a str, Option<(&'a str, &'a str)>, Vec<(&'a str, &'a str)>);

/// Whether a payload was accepted (2xx, or a 3xx on the way on); a 5xx fails the test.
fn accepted(status: u16, field: &str, payload: &str) -> bool {
    assert!(status < 500, "{field} = {payload:?}: {status}");
    status < 400
}

async fn call(
    server: &TestServer,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = server
        .http
        .request(method, server.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.expect("request")
}

/// The tables answer as before: the first user still signs in, a new one signs up, and the
/// users table holds exactly who it should.
async fn tables_still_work(server: &TestServer, db: &TestDb, users_before: usize) {
    let res = server
        .post_json(
            "/api/v1/auth/login",
            &json!({ "email": "ada@example.com", "password": "correct horse" }),
        )
        .await;
    assert_eq!(res.status(), 200, "Ada still signs in");
    let res = server
        .post_json(
            "/api/v1/auth/signup",
            &json!({ "email": "after@example.com", "password": "correct horse", "name": "After" }),
        )
        .await;
    assert_eq!(res.status(), 201, "sign-up still works");
    let mut conn = db.store().conn().expect("conn");
    let users = accounts::list_users(&mut conn).expect("users");
    assert_eq!(users.len(), users_before + 1, "{users:?}");
}

fn user_count(db: &TestDb) -> usize {
    let mut conn = db.store().conn().expect("conn");
    accounts::list_users(&mut conn).expect("users").len()
}

on_both_backends! {
    async fn account_organization_key_and_agent_fields(db) {
        let server = TestServer::start_with(&db, |a| a.api_key_cache = 0);
        let ada = signup(&server, "ada@example.com", "Ada").await;
        let token = ada["token"].as_str().expect("token").to_owned();
        let org = ada["organization"]["id"].as_str().expect("org").to_owned();
        let mut signed_up = 0;
        for (i, payload) in PAYLOADS.iter().enumerate() {
            // Sign-up: name, organization and email.
            let email = format!("user{i}@example.com");
            let res = server.post_json("/api/v1/auth/signup", &json!({ "email": email, "password": "correct horse", "name": payload, "organization": payload })).await;
            if accepted(res.status().as_u16(), "name and organization", payload) {
                signed_up += 1;
                let body = json_of(res).await;
                assert_eq!(body["organization"]["name"], *payload);
                let me = json_of(get_as(&server, "/api/v1/me", body["token"].as_str().expect("token")).await).await;
                assert_eq!(me["name"], *payload);
                assert_eq!(me["organizations"][0]["name"], *payload);
            }
            let email = format!("{payload}{i}@example.com");
            let res = server.post_json("/api/v1/auth/signup", &json!({ "email": email, "password": "correct horse", "name": "N" })).await;
            if accepted(res.status().as_u16(), "email", payload) {
                signed_up += 1;
                let body = json_of(res).await;
                let me = json_of(get_as(&server, "/api/v1/me", body["token"].as_str().expect("token")).await).await;
                assert_eq!(me["email"], email.as_str());
                let res = server.post_json("/api/v1/auth/login", &json!({ "email": email, "password": "correct horse" })).await;
                assert_eq!(res.status(), 200, "the stored email signs in: {email:?}");
            }
            // Organization names.
            let res = call(&server, Method::POST, "/api/v1/organizations", &token, Some(json!({ "name": payload }))).await;
            if accepted(res.status().as_u16(), "organization name", payload) {
                let created = json_of(res).await;
                let shown = json_of(get_as(&server, &format!("/api/v1/organizations/{}", created["id"].as_str().expect("id")), &token).await).await;
                assert_eq!(shown["name"], *payload);
            }
            // Invite emails.
            let invite_email = format!("{payload}@example.com");
            let res = call(&server, Method::POST, &format!("/api/v1/organizations/{org}/invites"), &token, Some(json!({ "email": invite_email }))).await;
            if accepted(res.status().as_u16(), "invite email", payload) {
                let invite = json_of(res).await;
                let mut conn = db.store().conn().expect("conn");
                let row = store::accounts::find_invite(&mut conn, invite["id"].as_str().expect("id")).expect("find").expect("stored");
                assert_eq!(row.email_normalized, invite_email.to_lowercase());
            }
            // API key and agent names.
            let res = call(&server, Method::POST, &format!("/api/v1/organizations/{org}/api-keys"), &token, Some(json!({ "name": payload, "scopes": ["org:read"] }))).await;
            if accepted(res.status().as_u16(), "API key name", payload) {
                let key = json_of(res).await;
                let shown = json_of(get_as(&server, &format!("/api/v1/organizations/{org}/api-keys/{}", key["id"].as_str().expect("id")), &token).await).await;
                assert_eq!(shown["name"], *payload);
            }
            let res = call(&server, Method::POST, &format!("/api/v1/organizations/{org}/agents"), &token, Some(json!({ "name": payload, "scopes": ["github:repos:read"] }))).await;
            if accepted(res.status().as_u16(), "agent name", payload) {
                let agent = json_of(res).await;
                let shown = json_of(get_as(&server, &format!("/api/v1/organizations/{org}/agents/{}", agent["id"].as_str().expect("id")), &token).await).await;
                assert_eq!(shown["name"], *payload);
            }
            // A scope that is a payload is refused, never stored.
            let res = call(&server, Method::POST, &format!("/api/v1/organizations/{org}/api-keys"), &token, Some(json!({ "name": "k", "scopes": [payload] }))).await;
            assert!(!accepted(res.status().as_u16(), "API key scope", payload));
        }
        assert!(signed_up > PAYLOADS.len(), "most payloads are plain text to us: {signed_up}");
        let users = user_count(&db);
        tables_still_work(&server, &db, users).await;
    }

    async fn sign_in_with_metacharacters_matches_no_one(db) {
        let server = TestServer::start(&db);
        signup(&server, "ada@example.com", "Ada").await;
        let mut attempts = vec![
            ("%".to_owned(), "correct horse".to_owned()),
            ("%@example.com".to_owned(), "correct horse".to_owned()),
            ("ada@example.co_".to_owned(), "correct horse".to_owned()),
            ("_da@example.com".to_owned(), "correct horse".to_owned()),
            ("ada@example.com' --".to_owned(), "anything".to_owned()),
            ("ada@example.com'--".to_owned(), "anything".to_owned()),
            ("ada@example.com\0".to_owned(), "correct horse".to_owned()),
        ];
        for payload in PAYLOADS {
            attempts.push(((*payload).to_owned(), (*payload).to_owned()));
            attempts.push(("ada@example.com".to_owned(), (*payload).to_owned()));
        }
        // Spread over the throttle's windows: this is about matching, not guessing.
        for (email, password) in attempts {
            server.clock.advance(901);
            let res = server.post_json("/api/v1/auth/login", &json!({ "email": email, "password": password })).await;
            let status = res.status().as_u16();
            assert!(!accepted(status, "login", &format!("{email:?} / {password:?}")), "{email:?} signed in");
            // Through the page too.
            let browser = jar();
            let html = browser.get(server.url("/login")).send().await.expect("get").text().await.expect("html");
            let res = browser.post(server.url("/login")).form(&[("csrf_token", hidden(&html, "csrf_token").as_str()), ("email", &email), ("password", &password)]).send().await.expect("post");
            assert!(!accepted(res.status().as_u16(), "login page", &email), "{email:?} signed in on the page");
        }
        let users = user_count(&db);
        tables_still_work(&server, &db, users).await;
    }

    async fn client_metadata_fields(db) {
        let server = TestServer::start(&db);
        signup(&server, "ada@example.com", "Ada").await;
        for payload in PAYLOADS {
            let encoded: String = url::form_urlencoded::byte_serialize(payload.as_bytes()).collect();
            for (field, value, read_back) in [
                ("client_name", json!(payload), "client_name"),
                ("redirect_uris", json!([format!("https://app.example/cb?q={encoded}")]), "redirect_uris"),
                ("redirect_uris", json!([format!("https://app.example/{payload}")]), "redirect_uris"),
                ("client_uri", json!(format!("https://app.example/?{encoded}")), "client_uri"),
                ("scope", json!(payload), "scope"),
                ("post_logout_redirect_uris", json!([format!("https://app.example/bye?q={encoded}")]), "post_logout_redirect_uris"),
                ("contacts", json!([payload]), "contacts"),
            ] {
                let mut body = json!({ "redirect_uris": ["https://app.example/cb"], "client_name": "plain" });
                body[field] = value.clone();
                let res = server.post_json("/oauth2/register", &body).await;
                if !accepted(res.status().as_u16(), field, payload) {
                    continue;
                }
                let created = json_of(res).await;
                // Read back from the database through RFC 7592.
                let res = server.http.get(created["registration_client_uri"].as_str().expect("uri"))
                    .bearer_auth(created["registration_access_token"].as_str().expect("token"))
                    .send().await.expect("get");
                assert_eq!(res.status(), 200);
                let stored = json_of(res).await;
                assert_eq!(stored[read_back], value, "{field} = {payload:?}");
            }
        }
        let users = user_count(&db);
        tables_still_work(&server, &db, users).await;
    }

    async fn authorization_request_fields(db) {
        let server = TestServer::start(&db);
        signup(&server, "ada@example.com", "Ada").await;
        let browser = jar();
        sign_up(&server, &browser, "pat@example.com").await;
        let client = code_client(&server, true, REDIRECT).await;
        let ch = challenge(crate::authorize_errors::VERIFIER);
        let base = |extra: Vec<(&'static str, String)>| {
            let mut p = vec![
                ("response_type", "code".to_owned()), ("client_id", id(&client).to_owned()), ("redirect_uri", REDIRECT.to_owned()),
                ("scope", "openid".to_owned()), ("code_challenge", ch.clone()), ("code_challenge_method", "S256".to_owned()),
            ];
            for (k, v) in extra {
                p.retain(|(name, _)| *name != k);
                p.push((k, v));
            }
            p
        };
        let go = |params: Vec<(&'static str, String)>, http: reqwest::Client| {
            let server = &server;
            async move {
                let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
                authorize(server, &http, &params).await
            }
        };
        // Allow the client once, so codes come straight back.
        let res = decide(&server, &browser, go(base(vec![]), browser.clone()).await, "allow").await;
        assert!(redirected(&res).contains_key("code"));
        for payload in PAYLOADS {
            let p = (*payload).to_owned();
            // state: echoed verbatim.
            let res = go(base(vec![("state", p.clone())]), browser.clone()).await;
            if accepted(res.status().as_u16(), "state", payload) {
                assert_eq!(redirected(&res)["state"], p);
            }
            // nonce: stored with the code, read back from the ID token; with a NUL, refused at
            // the redirect URI like every authorization parameter holding one.
            let res = go(base(vec![("nonce", p.clone())]), browser.clone()).await;
            if payload.contains('\0') {
                assert_eq!(redirected(&res)["error"], "invalid_request", "nonce {payload:?}");
            } else if accepted(res.status().as_u16(), "nonce", payload) {
                let code = redirected(&res)["code"].clone();
                let tokens = json_of(server.post_form("/oauth2/token", None, &[
                    ("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT),
                    ("client_id", id(&client)), ("code_verifier", crate::authorize_errors::VERIFIER),
                ]).await).await;
                let id_token = tokens["id_token"].as_str().expect("id_token");
                let claims = crate::attack_code_injection::claims_of(id_token);
                assert_eq!(claims["nonce"], p.as_str());
            }
            // scope: an error sent back to the client.
            let res = go(base(vec![("scope", p.clone())]), browser.clone()).await;
            assert!(res.status().as_u16() < 500, "scope {payload:?}");
            if res.status() == 303 {
                assert!(redirected(&res).contains_key("error"), "scope {payload:?}");
            }
            // login_hint: carried to the sign-in page, shown in its email field; with a NUL,
            // refused like every authorization parameter holding one (on a page: nobody is
            // signed in and the client registered itself, RFC 9700 §4.11.2).
            let res = go(base(vec![("login_hint", p.clone())]), jar()).await;
            if payload.contains('\0') {
                assert_eq!(res.status(), 400, "login_hint {payload:?}");
                assert!(res.headers().get("location").is_none(), "login_hint {payload:?}");
                assert!(res.text().await.expect("html").contains("invalid_request"), "login_hint {payload:?}");
                continue;
            }
            assert_eq!(res.status(), 303, "login_hint {payload:?}");
            let login = res.headers()["location"].to_str().expect("ascii").to_owned();
            let hint: String = Url::parse(&server.url(&login)).expect("url").query_pairs().find(|(k, _)| k == "login_hint").map(|(_, v)| v.into_owned()).unwrap_or_default();
            assert_eq!(hint, p, "login_hint");
            let res = server.http.get(server.url(&login)).send().await.expect("login page");
            assert!(accepted(res.status().as_u16(), "login_hint page", payload));
            // client_id and redirect_uri: the error page.
            let fields: &[&str] = &["client_id", "redirect_uri"];
            for field in fields.iter().copied() {
                let res = go(base(vec![(field, p.clone())]), browser.clone()).await;
                assert_eq!(res.status(), 400, "{field} {payload:?}");
            }
        }
        let users = user_count(&db);
        tables_still_work(&server, &db, users).await;
    }

    async fn token_introspection_and_revocation_fields(db) {
        let server = TestServer::start(&db);
        signup(&server, "ada@example.com", "Ada").await;
        let (client, secret) = service_client(&server, "client_secret_basic").await;
        for payload in PAYLOADS {
            let cases: Vec<TokenCase> = vec![
                ("client_id (basic)", Some((*payload, secret.as_str())), vec![("grant_type", "client_credentials")]),
                ("client_secret (basic)", Some((client.as_str(), *payload)), vec![("grant_type", "client_credentials")]),
                ("client_id (body)", None, vec![("grant_type", "client_credentials"), ("client_id", payload), ("client_secret", "x")]),
                ("public client_id", None, vec![("grant_type", "authorization_code"), ("client_id", payload), ("code", "c")]),
                ("scope", Some((&client, &secret)), vec![("grant_type", "client_credentials"), ("scope", payload)]),
                ("resource", Some((&client, &secret)), vec![("grant_type", "client_credentials"), ("resource", payload)]),
                ("grant_type", Some((&client, &secret)), vec![("grant_type", payload)]),
                ("code", Some((&client, &secret)), vec![("grant_type", "authorization_code"), ("code", payload)]),
                ("refresh_token", Some((&client, &secret)), vec![("grant_type", "refresh_token"), ("refresh_token", payload)]),
            ];
            for (field, basic, form) in cases {
                let res = server.post_form("/oauth2/token", basic, &form).await;
                assert!(!accepted(res.status().as_u16(), field, payload), "{field} = {payload:?} got a token");
            }
            let res = server.post_form("/oauth2/introspect", Some((&client, &secret)), &[("token", payload)]).await;
            assert!(accepted(res.status().as_u16(), "introspected token", payload));
            assert_eq!(json_of(res).await, json!({ "active": false }));
            let res = server.post_form("/oauth2/revoke", Some((&client, &secret)), &[("token", payload)]).await;
            assert!(accepted(res.status().as_u16(), "revoked token", payload));
            let res = server.post_json("/api/v1/auth/refresh", &json!({ "refreshToken": payload })).await;
            assert!(!accepted(res.status().as_u16(), "refreshToken", payload));
            let res = server.http.get(server.url("/api/v1/me")).header("x-api-key", payload.replace('\0', "")).send().await.expect("get");
            assert!(!accepted(res.status().as_u16(), "x-api-key", payload));
        }
        let users = user_count(&db);
        tables_still_work(&server, &db, users).await;
    }

    async fn identifiers_in_paths(db) {
        let server = TestServer::start(&db);
        let ada = signup(&server, "ada@example.com", "Ada").await;
        let token = ada["token"].as_str().expect("token").to_owned();
        let org = ada["organization"]["id"].as_str().expect("org").to_owned();
        let browser = jar();
        sign_up(&server, &browser, "pat@example.com").await;
        let csrf = hidden(&browser.get(server.url("/account")).send().await.expect("get").text().await.expect("html"), "csrf_token");
        for payload in PAYLOADS.iter().copied() {
            let seg: String = payload.bytes().map(|b| format!("%{b:02X}")).collect();
            for (method, path) in [
                (Method::GET, format!("/api/v1/organizations/{seg}")),
                (Method::GET, format!("/api/v1/organizations/{seg}/members")),
                (Method::GET, format!("/api/v1/organizations/{org}/api-keys/{seg}")),
                (Method::DELETE, format!("/api/v1/organizations/{org}/api-keys/{seg}")),
                (Method::GET, format!("/api/v1/organizations/{org}/agents/{seg}")),
                (Method::DELETE, format!("/api/v1/organizations/{org}/members/{seg}")),
                (Method::POST, format!("/api/v1/invites/{seg}/accept")),
                (Method::GET, format!("/oauth2/register/{seg}")),
            ] {
                let res = call(&server, method.clone(), &path, &token, Some(json!({ "token": payload, "name": "x", "password": "long enough" }))).await;
                assert!(!accepted(res.status().as_u16(), &format!("{method} {path}"), payload));
            }
            for path in [format!("/account/sessions/{seg}/revoke"), format!("/account/apps/{seg}/revoke"), format!("/account/orgs/{seg}/keys")] {
                let res = browser.post(server.url(&path)).form(&[("csrf_token", csrf.as_str())]).send().await.expect("post");
                let status = res.status().as_u16();
                assert!(status < 500, "{path}: {status}");
            }
        }
        assert_eq!(browser.get(server.url("/account")).send().await.expect("get").status(), 200, "the session was not revoked");
        let users = user_count(&db);
        tables_still_work(&server, &db, users).await;
    }
}
