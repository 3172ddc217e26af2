//! The operator's console (`/admin`): who may reach it (every route of `server::ADMIN_ROUTES`
//! walked with every kind of caller), CSRF on its forms, each change in the audit log, no
//! secret on the settings page, and each section driven in a headless Chromium by an admin
//! who signs in with a password and an authenticator code. The screenshots of
//! `docs/operations.md` ("The admin console") are taken here
//! (`PORTCULLIS_SCREENSHOTS=$PWD/docs/screenshots`).

use std::sync::Arc;

use serde_json::{Value, json};

use crate::api_auth::signup;
use crate::authorize_errors::{
    REDIRECT, VERIFIER, authorize, challenge, hidden, jar, redirected, sign_in,
};
use crate::browser::Browser;
use crate::common::*;

/// A browser session made directly in the database: its cookie and CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

fn session(db: &TestDb, server: &TestServer, user_id: &str, two_factors: bool) -> Session {
    let mut conn = db.store().conn().expect("conn");
    let amr = if two_factors {
        accounts::AuthMethods::password().with(accounts::AuthMethod::Otp)
    } else {
        accounts::AuthMethods::password()
    };
    let policy = accounts::SessionPolicy {
        absolute: 86_400,
        idle: 86_400,
    };
    let started = accounts::start_session(
        &mut conn,
        user_id,
        &amr,
        server.clock_now(),
        policy,
        None,
        None,
    )
    .expect("session");
    Session {
        cookie: format!("pcl_session={}", started.cookie.expose()),
        csrf: started.session.csrf_token,
    }
}

fn make_admin(db: &TestDb, user_id: &str) {
    let mut conn = db.store().conn().expect("conn");
    accounts::set_admin(&mut conn, user_id, true, 1).expect("admin");
}

fn user_of(db: &TestDb, email: &str) -> accounts::User {
    let mut conn = db.store().conn().expect("conn");
    accounts::find_user_by_email(&mut conn, email)
        .expect("find")
        .expect("user")
}

/// The console: an admin (`root`, with an organization and an owner key) and another user
/// (`mallory`) whom a bypass would change.
struct Console {
    server: TestServer,
    root: accounts::User,
    root_token: String,
    org: String,
    key: String,
    key_id: String,
    mallory: accounts::User,
}

async fn console(db: &TestDb) -> Console {
    console_with(db, |_| {}).await
}

async fn console_with(db: &TestDb, adjust: impl FnOnce(&mut Settings)) -> Console {
    let server = TestServer::start_with(db, adjust);
    let root = signup(&server, "root@example.com", "Root").await;
    let root_token = root["token"].as_str().expect("token").to_owned();
    let org = root["organization"]["id"].as_str().expect("org").to_owned();
    signup(&server, "mallory@example.com", "Mallory").await;
    make_admin(db, &user_of(db, "root@example.com").id);
    let res = server
        .http
        .post(server.url(&format!("/api/v1/organizations/{org}/api-keys")))
        .bearer_auth(&root_token)
        .json(&json!({ "name": "ops", "scopes": ["*"] }))
        .send()
        .await
        .expect("key");
    let key = json_of(res).await;
    Console {
        root: user_of(db, "root@example.com"),
        mallory: user_of(db, "mallory@example.com"),
        key: key["key"].as_str().expect("key").to_owned(),
        key_id: key["id"].as_str().expect("id").to_owned(),
        root_token,
        org,
        server,
    }
}

/// The route's path with its parameters filled: user routes name mallory, so a bypass would
/// change a real account.
fn concrete(path: &str, c: &Console) -> String {
    path.replace("/users/{id}", &format!("/users/{}", c.mallory.id))
        .replace("/orgs/{id}", &format!("/orgs/{}", c.org))
        .replace("{key}", &c.key_id)
        .replace("{invite}", "inv_x")
        .replace("{kid}", "kid_x")
        .replace("{id}", "client_x")
}

async fn send(
    c: &Console,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    csrf: &str,
) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = c.server.http.request(method.clone(), c.server.url(path));
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    if method == reqwest::Method::POST {
        req = req.form(&[("csrf_token", csrf), ("alg", "ES256"), ("client_name", "X")]);
    }
    req.send().await.expect("request")
}

/// A third party's token for root: a dynamically registered client, consented on the page.
async fn third_party_token(c: &Console) -> String {
    let res = c
        .server
        .post_json(
            "/oauth2/register",
            &json!({
                "client_name": "Friendly App",
                "redirect_uris": [REDIRECT],
                "grant_types": ["authorization_code"],
                "token_endpoint_auth_method": "none",
                "scope": "openid profile",
            }),
        )
        .await;
    let client_id = json_of(res).await["client_id"]
        .as_str()
        .expect("client_id")
        .to_owned();
    let browser = jar();
    sign_in(&c.server, &browser, "root@example.com", "correct horse").await;
    let ch = challenge(VERIFIER);
    let res = authorize(
        &c.server,
        &browser,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid profile"),
            ("state", "s"),
            ("code_challenge", &ch),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let page = res.text().await.expect("consent page");
    let res = browser
        .post(c.server.url("/consent"))
        .form(&[
            ("csrf_token", hidden(&page, "csrf_token").as_str()),
            ("authorization", hidden(&page, "authorization").as_str()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .expect("consent");
    let code = redirected(&res)["code"].clone();
    let res = c
        .server
        .post_form(
            "/oauth2/token",
            None,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("client_id", &client_id),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    json_of(res).await["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

on_both_backends! {
    async fn attack_every_admin_route_refuses_whoever_is_not_a_two_factor_admin_session(db) {
        let c = console(&db).await;
        let third_party = third_party_token(&c).await;
        let mallory = session(&db, &c.server, &c.mallory.id, true);
        let one_factor_root = session(&db, &c.server, &c.root.id, false);
        let root = session(&db, &c.server, &c.root.id, true);
        let callers: Vec<Caller> = vec![
            ("no credential", vec![], String::new()),
            ("a non-admin's two-factor session", vec![("cookie", mallory.cookie.clone())], mallory.csrf.clone()),
            ("the admin's first-party token", vec![("authorization", format!("Bearer {}", c.root_token))], root.csrf.clone()),
            ("a third-party token of the admin", vec![("authorization", format!("Bearer {third_party}"))], root.csrf.clone()),
            ("an owner API key", vec![("x-api-key", c.key.clone())], root.csrf.clone()),
            ("an owner API key as bearer", vec![("authorization", format!("Bearer {}", c.key))], root.csrf.clone()),
        ];
        assert!(server::ADMIN_ROUTES.len() >= 20, "the table holds the console");
        for route in server::ADMIN_ROUTES {
            let path = concrete(route.path, &c);
            for (who, headers, csrf) in &callers {
                let res = send(&c, route.method, &path, headers, csrf).await;
                assert_eq!(res.status(), 404, "{} {path} by {who}", route.method);
                let body = res.text().await.expect("body");
                assert!(body.contains("Page not found") && !body.contains("admin-nav"), "{path} by {who}: the ordinary 404");
            }
            // An admin whose session has one factor goes through the second step first.
            let res = send(&c, route.method, &path, &[("cookie", one_factor_root.cookie.clone())], &one_factor_root.csrf).await;
            assert_eq!(res.status(), 303, "{} {path} with one factor", route.method);
            let location = res.headers()["location"].to_str().expect("location").to_owned();
            assert!(location.starts_with("/login/mfa?return_to=%2Fadmin"), "{path}: {location}");
        }
        // Nothing changed.
        let after = user_of(&db, "mallory@example.com");
        assert!(!after.admin && !after.disabled, "mallory is as she was");
        let after = user_of(&db, "root@example.com");
        assert!(after.admin && !after.disabled);

        // The admin's two-factor session gets in, with the pages' headers.
        let res = c.server.http.get(c.server.url("/admin")).header("cookie", &root.cookie).send().await.expect("get");
        assert_eq!(res.status(), 200);
        let csp = res.headers()["content-security-policy"].to_str().expect("csp");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(res.headers()["x-frame-options"], "DENY");
        assert_eq!(res.headers()["cache-control"], "no-store");
        // A path under /admin that is no route is the same 404 for everyone.
        for headers in [vec![], vec![("cookie", mallory.cookie.clone())]] {
            let res = send(&c, "GET", "/admin/nothing-here", &headers, "").await;
            assert_eq!(res.status(), 404);
        }
    }

    async fn attack_csrf_a_console_form_without_the_token_is_refused(db) {
        let c = console(&db).await;
        let root = session(&db, &c.server, &c.root.id, true);
        let other = session(&db, &c.server, &c.mallory.id, true);
        let path = format!("/admin/users/{}/disable", c.mallory.id);
        for (what, body) in [
            ("no token", vec![]),
            ("an empty token", vec![("csrf_token", String::new())]),
            ("a wrong token", vec![("csrf_token", "not-the-token".to_owned())]),
            ("another session's token", vec![("csrf_token", other.csrf.clone())]),
        ] {
            let res = c.server.http.post(c.server.url(&path)).header("cookie", &root.cookie).form(&body).send().await.expect("post");
            assert_eq!(res.status(), 403, "{what}");
            assert!(!user_of(&db, "mallory@example.com").disabled, "{what}: nothing changed");
        }
        let res = c.server.http.post(c.server.url(&path)).header("cookie", &root.cookie).form(&[("csrf_token", &root.csrf)]).send().await.expect("post");
        assert_eq!(res.status(), 303);
        assert!(user_of(&db, "mallory@example.com").disabled, "with the token it works");
    }

    async fn the_console_shows_and_keeps_a_device_clients_grant(db) {
        let c = console(&db).await;
        let root = session(&db, &c.server, &c.root.id, true);
        let res = c.server.post_json("/oauth2/register", &json!({
            "client_name": "Terminal",
            "token_endpoint_auth_method": "none",
            "grant_types": ["urn:ietf:params:oauth:grant-type:device_code"],
        })).await;
        let client_id = json_of(res).await["client_id"].as_str().expect("id").to_owned();
        let page = c.server.http.get(c.server.url(&format!("/admin/clients/{client_id}"))).header("cookie", &root.cookie).send().await.expect("page").text().await.expect("html");
        // Saving the form as shown must not drop the grant: its box is there, and ticked.
        assert!(page.contains("value=\"urn:ietf:params:oauth:grant-type:device_code\" checked"), "{page}");
    }

    async fn every_console_change_lands_in_the_audit_log(db) {
        let c = console(&db).await;
        let root = session(&db, &c.server, &c.root.id, true);
        let post = |path: String, fields: Vec<(&'static str, String)>| {
            let mut form = fields;
            form.push(("csrf_token", root.csrf.clone()));
            c.server.http.post(c.server.url(&path)).header("cookie", &root.cookie).form(&form).send()
        };
        // Clients: create (the secret shown once), edit, rotate, delete.
        let res = post("/admin/clients".into(), vec![
            ("client_name", "Billing".into()),
            ("redirect_uris", "https://billing.example/cb".into()),
            ("post_logout_redirect_uris", "https://billing.example/bye".into()),
            ("grant_types", "authorization_code".into()),
            ("grant_types", "refresh_token".into()),
            ("scope", "openid profile".into()),
            ("token_endpoint_auth_method", "client_secret_basic".into()),
            ("application_type", "web".into()),
            ("id_token_signed_response_alg", "RS256".into()),
        ]).await.expect("create");
        assert_eq!(res.status(), 200);
        let page = res.text().await.expect("page");
        let client_id = between(&page, "action=\"/admin/clients/", "\"");
        let secret = between(&page, "id=\"client-secret\" tabindex=\"0\">", "<");
        assert_eq!(secret.len(), 43, "a 256-bit secret shown once");
        let res = post(format!("/admin/clients/{client_id}"), vec![
            ("client_name", "Billing 2".into()),
            ("redirect_uris", "https://billing.example/cb\nhttps://billing.example/cb2".into()),
            ("post_logout_redirect_uris", "https://billing.example/signed-out".into()),
            ("grant_types", "authorization_code".into()),
            ("scope", "openid".into()),
            ("token_endpoint_auth_method", "client_secret_post".into()),
            ("application_type", "web".into()),
            ("id_token_signed_response_alg", "RS256".into()),
        ]).await.expect("update");
        assert_eq!(res.status(), 303);
        {
            let mut conn = db.store().conn().expect("conn");
            let client = registration::find_client(&mut conn, &client_id).expect("find").expect("client");
            assert_eq!(client.metadata.client_name.as_deref(), Some("Billing 2"));
            assert_eq!(client.metadata.redirect_uris.len(), 2);
            assert_eq!(client.metadata.post_logout_redirect_uris, ["https://billing.example/signed-out"]);
            assert_eq!(client.metadata.token_endpoint_auth_method.as_str(), "client_secret_post");
        }
        // A refused edit says why and changes nothing.
        let res = post(format!("/admin/clients/{client_id}"), vec![("redirect_uris", "http://evil.example/#frag".into()), ("grant_types", "authorization_code".into())]).await.expect("update");
        assert_eq!(res.status(), 400);
        let res = post(format!("/admin/clients/{client_id}/secret"), vec![]).await.expect("rotate");
        let page = res.text().await.expect("page");
        let rotated = between(&page, "id=\"client-secret\" tabindex=\"0\">", "<");
        assert!(rotated.len() == 43 && rotated != secret, "a new secret");
        // The old secret no longer authenticates; the new one does.
        for (s, want) in [(secret.as_str(), 401), (rotated.as_str(), 200)] {
            let res = c.server.post_form("/oauth2/introspect", None, &[("token", "x"), ("client_id", &client_id), ("client_secret", s)]).await;
            assert_eq!(res.status(), want);
        }
        assert_eq!(post(format!("/admin/clients/{client_id}/delete"), vec![]).await.expect("delete").status(), 303);

        // Users.
        let m = c.mallory.id.clone();
        for action in ["disable", "enable", "password-reset", "grant-admin", "revoke-admin"] {
            let res = post(format!("/admin/users/{m}/{action}"), vec![]).await.expect(action);
            assert_eq!(res.status(), 303, "{action}");
        }
        {
            // A second factor to reset.
            let mut conn = db.store().conn().expect("conn");
            let ring = primitives::seal::KeyRing::parse(RING).expect("ring");
            let enrolment = accounts::start_totp(&mut conn, &ring, &c.mallory, "Portcullis", c.server.clock_now()).expect("totp");
            let code = accounts::totp_code_for(&enrolment.secret, c.server.clock_now()).expect("code");
            accounts::confirm_totp(&mut conn, &ring, &m, &code, c.server.clock_now()).expect("confirm");
        }
        assert_eq!(post(format!("/admin/users/{m}/reset-mfa"), vec![]).await.expect("reset").status(), 303);
        // Organizations: an invite withdrawn, a key revoked.
        let res = c.server.http.post(c.server.url(&format!("/api/v1/organizations/{}/invites", c.org))).bearer_auth(&c.root_token).json(&json!({ "email": "new@example.com", "role": "member" })).send().await.expect("invite");
        let invite = json_of(res).await["id"].as_str().expect("invite id").to_owned();
        assert_eq!(post(format!("/admin/orgs/{}/invites/{invite}/revoke", c.org), vec![]).await.expect("withdraw").status(), 303);
        assert_eq!(post(format!("/admin/orgs/{}/keys/{}/revoke", c.org, c.key_id), vec![]).await.expect("revoke").status(), 303);
        let res = c.server.http.get(c.server.url(&format!("/api/v1/organizations/{}", c.org))).header("x-api-key", &c.key).send().await.expect("get");
        assert_eq!(res.status(), 401, "the revoked key no longer works");
        // Signing keys: rotate ES256; the new key is then the only current ES256 key, so
        // retiring it is refused (something must still sign).
        let before = { let mut conn = db.store().conn().expect("conn"); tokens::list_keys(&mut conn).expect("keys") };
        let old = before.iter().find(|k| k.alg == "ES256" && k.retired_at.is_none()).expect("current").kid.clone();
        assert_eq!(post("/admin/keys/rotate".into(), vec![("alg", "ES256".into())]).await.expect("rotate").status(), 303);
        let keys = { let mut conn = db.store().conn().expect("conn"); tokens::list_keys(&mut conn).expect("keys") };
        let current = keys.iter().find(|k| k.alg == "ES256" && k.retired_at.is_none()).expect("current").kid.clone();
        assert_eq!(post(format!("/admin/keys/{current}/retire"), vec![]).await.expect("retire").status(), 400, "the only current key stays");
        // The old key, retired by the rotation, is still published and still verifies the
        // admin's token (signed before the rotation), until it is withdrawn.
        let me = || c.server.http.get(c.server.url("/api/v1/me")).bearer_auth(&c.root_token).send();
        let jwks = || async { c.server.http.get(c.server.url("/jwks.json")).send().await.expect("jwks").text().await.expect("text") };
        assert!(jwks().await.contains(&old), "a retired key stays published");
        assert_eq!(me().await.expect("me").status(), 200);
        assert_eq!(post(format!("/admin/keys/{current}/withdraw"), vec![]).await.expect("withdraw").status(), 400, "a current key is not withdrawn");
        assert_eq!(post(format!("/admin/keys/{old}/withdraw"), vec![]).await.expect("withdraw").status(), 303);
        assert!(!jwks().await.contains(&old), "a withdrawn key is no longer published");
        assert_eq!(me().await.expect("me").status(), 401, "tokens of a withdrawn key no longer verify");
        assert_eq!(post(format!("/admin/keys/{old}/withdraw"), vec![]).await.expect("withdraw").status(), 400, "withdrawn once");
        assert_eq!(post("/admin/keys/rotate".into(), vec![("alg", "RS256".into())]).await.expect("rotate").status(), 303);
        // The user deleted last.
        assert_eq!(post(format!("/admin/users/{m}/delete"), vec![]).await.expect("delete").status(), 303);
        assert!({ let mut conn = db.store().conn().expect("conn"); accounts::find_user(&mut conn, &m).expect("find").is_none() });

        // Every change, with the admin as actor, found by the console's `admin.*` filter.
        let res = c.server.http.get(c.server.url("/admin/audit?kind=admin.*")).header("cookie", &root.cookie).send().await.expect("audit");
        assert_eq!(res.status(), 200);
        let page = res.text().await.expect("page");
        for kind in [
            "admin.client.created", "admin.client.updated", "admin.client.secret_rotated", "admin.client.deleted",
            "admin.user.disabled", "admin.user.enabled", "admin.user.password_reset_sent", "admin.user.admin_granted",
            "admin.user.admin_revoked", "admin.user.mfa_reset", "admin.user.deleted", "admin.invite.revoked",
            "admin.api_key.revoked", "admin.signing_key.rotated", "admin.signing_key.withdrawn",
        ] {
            assert!(page.contains(&format!("<code>{kind}</code>")), "{kind} in the console's audit log");
        }
        let mut conn = db.store().conn().expect("conn");
        let events = store::audit::list(&mut conn, &store::audit::Filter { actor: Some(&c.root.id), ..Default::default() }, 200).expect("audit");
        let admin_events: Vec<_> = events.iter().filter(|e| e.kind.starts_with("admin.")).collect();
        assert_eq!(admin_events.len(), 16, "{:?}", admin_events.iter().map(|e| &e.kind).collect::<Vec<_>>());
        assert!(admin_events.iter().all(|e| serde_json::from_str::<Value>(&e.detail).expect("json")["via"] == "admin"));
        assert!(events.iter().all(|e| !e.detail.contains(&secret) && !e.detail.contains(&rotated)), "no secret in the log");
        // The password-reset letter went out.
        wait_for_letters(1, || c.server.outbox_mail().into_iter().filter(|m| m.raw.contains("mallory@example.com") && m.raw.contains("password/reset")).collect()).await;
    }
}

/// Who calls, with what headers, sending which CSRF token.
type Caller = (&'static str, Vec<(&'static str, String)>, String);

/// The key ring of the tests that set a second factor up directly.
const RING: &str = "test:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn between(text: &str, start: &str, end: &str) -> String {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} in the page"))
        + start.len();
    let to = text[from..].find(end).expect("the end") + from;
    text[from..to].to_owned()
}

#[actix_web::test]
async fn attack_secret_leak_the_settings_page_hides_every_secret() {
    let db = TestDb::sqlite();
    let secrets = [
        "db-password-123",
        "smtp-password-456",
        "upstream-secret-789",
    ];
    let c = console_with(&db, |s| {
        s.database_url =
            store::DatabaseUrl::parse("postgres://portcullis:db-password-123@db.example/pcl")
                .expect("url");
        s.mail.transport = mail::Transport::Smtp(
            mail::SmtpUrl::parse("smtp://mailer:smtp-password-456@mail.example:587")
                .expect("smtp url"),
        );
        s.master_key = Some(master_key(
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        ));
        s.encryption_keys = Some(Arc::new(
            primitives::seal::KeyRing::parse(RING).expect("ring"),
        ));
        s.upstream = vec![server::UpstreamProvider {
            name: "corp".into(),
            issuer: url::Url::parse("https://idp.example").expect("url"),
            client_id: "portcullis".into(),
            client_secret: Some(server::UpstreamSecret::new("upstream-secret-789")),
            display_name: "Corp".into(),
            scopes: vec!["openid".into()],
        }];
    })
    .await;
    let root = session(&db, &c.server, &c.root.id, true);
    let res = c
        .server
        .http
        .get(c.server.url("/admin/settings"))
        .header("cookie", &root.cookie)
        .send()
        .await
        .expect("settings");
    assert_eq!(res.status(), 200);
    let page = res.text().await.expect("page");
    for secret in secrets {
        assert!(!page.contains(secret), "{secret} on the settings page");
    }
    assert!(!page.contains("0001020304050607"), "the master key");
    assert!(!page.contains("AAECAwQFBgcICQoL"), "the encryption keys");
    assert!(
        page.contains("postgres://portcullis:***@db.example/pcl"),
        "the URL, masked"
    );
    assert!(page.contains("smtp://mailer:********@mail.example"));
    assert!(
        page.contains("secret set (hidden)"),
        "the upstream secret is said to be set"
    );
}

/// Signs in on `/login?return_to=/admin` with the password, then the authenticator's code.
async fn sign_in_with_code(browser: &Browser, server: &TestServer, secret: &str) {
    browser.goto(&server.url("/login?return_to=/admin")).await;
    browser.wait_for_text("Forgot your password?").await;
    browser.type_into("#email", "root@example.com").await;
    browser.type_into("#password", "correct horse").await;
    browser
        .click("form[action='/login'] button[type=submit]")
        .await;
    browser.wait_for_path_starting("/login/mfa").await;
    let code = accounts::totp_code_for(secret, server.clock_now()).expect("code");
    browser.type_into("#code", &code).await;
    browser
        .click("form[action='/login/mfa'] button[type=submit]")
        .await;
    browser.wait_for_path("/admin").await;
}

/// A console page reached: its screenshot, and the accessibility check every page of the
/// product passes (axe-core, non-text contrast: `accessibility.rs`).
async fn seen(browser: &Browser, name: &str) {
    browser.screenshot(name).await;
    browser.assert_accessible(name).await;
}

#[actix_web::test]
async fn an_admin_walks_every_section_of_the_console_in_chromium() {
    let db = TestDb::sqlite();
    let c = console_with(&db, |s| {
        s.encryption_keys = Some(Arc::new(
            primitives::seal::KeyRing::parse(RING).expect("ring"),
        ));
    })
    .await;
    let secret = {
        let mut conn = db.store().conn().expect("conn");
        let ring = primitives::seal::KeyRing::parse(RING).expect("ring");
        let now = c.server.clock_now();
        let enrolment =
            accounts::start_totp(&mut conn, &ring, &c.root, "Portcullis", now).expect("totp");
        let code = accounts::totp_code_for(&enrolment.secret, now).expect("code");
        accounts::confirm_totp(&mut conn, &ring, &c.root.id, &code, now).expect("confirm");
        enrolment.secret
    };
    // The TOTP step used now; the next code is for the next step.
    c.server.clock.advance(30);
    let browser = Browser::start().await;
    sign_in_with_code(&browser, &c.server, &secret).await;
    assert_eq!(browser.title().await, "Console · Portcullis");
    assert_eq!(browser.count("h1").await, 1);
    seen(&browser, "admin-console").await;

    // Clients: register one, its secret shown once; find it by name.
    browser.click("a[href='/admin/clients']").await;
    browser.wait_for_path_starting("/admin/clients").await;
    browser.click("a[href='/admin/clients/new']").await;
    browser.wait_for_path("/admin/clients/new").await;
    browser.type_into("#client-name", "Billing").await;
    browser
        .type_into("#redirect-uris", "https://billing.example/callback")
        .await;
    browser
        .type_into("#logout-uris", "https://billing.example/signed-out")
        .await;
    browser
        .click("form[action='/admin/clients'] button[type=submit]")
        .await;
    browser.wait_for_text("shown only this once").await;
    assert_eq!(browser.text("#client-secret").await.len(), 43);
    seen(&browser, "admin-client").await;
    browser
        .goto(&c.server.url("/admin/clients?q=Billing"))
        .await;
    browser.wait_for_text("billing.example/callback").await;
    assert_eq!(browser.count("tbody tr").await, 1, "the search finds it");
    seen(&browser, "admin-clients").await;

    // Users: find mallory, disable her.
    browser.goto(&c.server.url("/admin/users?q=mallory")).await;
    browser.wait_for_text("mallory@example.com").await;
    seen(&browser, "admin-users").await;
    browser
        .click(&format!("a[href='/admin/users/{}']", c.mallory.id))
        .await;
    browser
        .wait_for_path(&format!("/admin/users/{}", c.mallory.id))
        .await;
    browser
        .click(&format!(
            "form[action='/admin/users/{}/disable'] button",
            c.mallory.id
        ))
        .await;
    browser.wait_for_text("their sessions ended").await;
    assert!(user_of(&db, "mallory@example.com").disabled);
    seen(&browser, "admin-user").await;

    // Organizations: root's, its key revoked from there.
    browser.goto(&c.server.url("/admin/orgs")).await;
    browser.wait_for_text(&c.org).await;
    seen(&browser, "admin-orgs").await;
    browser
        .click(&format!("a[href='/admin/orgs/{}']", c.org))
        .await;
    browser
        .wait_for_path(&format!("/admin/orgs/{}", c.org))
        .await;
    browser
        .click(&format!(
            "form[action='/admin/orgs/{}/keys/{}/revoke'] button",
            c.org, c.key_id
        ))
        .await;
    browser.wait_for_text("The API key is revoked.").await;
    seen(&browser, "admin-org").await;

    // Signing keys: rotate EdDSA; the JWKS beside the table.
    browser.goto(&c.server.url("/admin/keys")).await;
    browser
        .wait_for_text("The JWKS this instance publishes")
        .await;
    let before = browser.count("tbody tr").await;
    browser
        .click("form[action='/admin/keys/rotate'] button")
        .await;
    browser.wait_for_text("A new signing key is current").await;
    assert_eq!(browser.count("tbody tr").await, before + 1);
    seen(&browser, "admin-keys").await;

    // The audit log: the console's changes, filtered.
    browser.goto(&c.server.url("/admin/audit")).await;
    browser.type_into("#f-kind", "admin.*").await;
    browser.click("form.filters button").await;
    // The unfiltered page names these kinds too: wait for the filtered one to load.
    browser
        .wait_for_path_starting("/admin/audit?actor=&kind=admin.*")
        .await;
    browser.wait_for_text("admin.signing_key.rotated").await;
    let shown = browser.source().await;
    for kind in [
        "admin.client.created",
        "admin.user.disabled",
        "admin.api_key.revoked",
    ] {
        assert!(shown.contains(kind), "{kind}");
    }
    assert!(!shown.contains("<code>login.succeeded</code>"), "filtered");
    seen(&browser, "admin-audit").await;

    // Settings, read-only.
    browser.goto(&c.server.url("/admin/settings")).await;
    browser.wait_for_text("PORTCULLIS_ENCRYPTION_KEYS").await;
    assert!(browser.source().await.contains("set (hidden)"));
    seen(&browser, "admin-settings").await;
}
