//! Accounts people can live with: email verification, password reset, the own-account API,
//! the sign-up policy, and mail through the outbox and through a real SMTP server (Debian's
//! aiosmtpd, `mail::testing`).

use base64::Engine as _;
use serde_json::{Value, json};

use crate::api_auth::{get_as, signup};
use crate::common::*;

/// A browser-like client: cookies kept, redirects not followed.
fn browser_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a csrf field")
        .to_owned()
}

/// The query's token of a mailed link.
fn token_of(link: &str) -> String {
    link.split("token=")
        .nth(1)
        .expect("a token in the link")
        .to_owned()
}

/// Signs in on the sign-in page with `client`'s cookie jar; returns the answer.
async fn page_login(
    server: &TestServer,
    client: &reqwest::Client,
    email: &str,
    password: &str,
) -> reqwest::Response {
    let html = client
        .get(server.url("/login"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("html");
    client
        .post(server.url("/login"))
        .form(&[
            ("csrf_token", csrf_of(&html).as_str()),
            ("email", email),
            ("password", password),
            ("return_to", "/account"),
        ])
        .send()
        .await
        .expect("post")
}

async fn api(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut req = server.http.request(method, server.url(path)).json(body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.expect("request")
}

async fn login(server: &TestServer, email: &str, password: &str) -> reqwest::Response {
    server
        .post_json(
            "/api/v1/auth/login",
            &json!({ "email": email, "password": password }),
        )
        .await
}

fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64"),
    )
    .expect("json")
}

on_both_backends! {
    async fn signup_mails_a_verification_link_that_makes_email_verified_true(db) {
        let server = TestServer::start_with(&db, |s| s.password_grant = true);
        let ada = signup(&server, "ada@example.com", "Ada").await;
        let token = ada["token"].as_str().expect("token").to_owned();
        assert_eq!(ada["user"]["emailVerified"], false);
        let letters = server.wait_for_mail(1).await;
        let letter = &letters[0];
        assert_eq!(letter.to(), "ada@example.com");
        assert!(letter.subject().contains("Portcullis"), "{}", letter.subject());
        let link = letter.link().expect("a link");
        assert!(link.starts_with(&format!("{}/verify-email?token=", server.base)), "{link}");
        // The ID token and userinfo say false until the link is followed.
        let (id, secret) = crate::password_grant::legacy_client(&server).await;
        let grant = [("grant_type", "password"), ("username", "ada@example.com"), ("password", "correct horse"), ("scope", "openid email")];
        let body = json_of(server.post_form("/oauth2/token", Some((&id, &secret)), &grant).await).await;
        assert_eq!(claims_of(body["id_token"].as_str().expect("id token"))["email_verified"], false);
        // Following the link (the page) verifies the address.
        let page = server.http.get(&link).send().await.expect("get");
        assert_eq!(page.status(), 200);
        assert!(page.text().await.expect("html").contains("Email address verified"));
        let me = json_of(get_as(&server, "/api/v1/me", &token).await).await;
        assert_eq!(me["emailVerified"], true);
        let body = json_of(server.post_form("/oauth2/token", Some((&id, &secret)), &grant).await).await;
        assert_eq!(claims_of(body["id_token"].as_str().expect("id token"))["email_verified"], true);
        let info = json_of(get_as(&server, "/oauth2/userinfo", body["access_token"].as_str().expect("at")).await).await;
        assert_eq!(info["email_verified"], true);
        // The link is used up; asking again for a verified address is a conflict.
        assert_eq!(server.http.get(&link).send().await.expect("get").status(), 400);
        let again = api(&server, reqwest::Method::POST, "/api/v1/auth/verify-email", None, &json!({ "token": token_of(&link) })).await;
        assert_eq!(again.status(), 400);
        assert_eq!(json_of(again).await["error"]["code"], "invalid_link");
        let res = api(&server, reqwest::Method::POST, "/api/v1/me/verify-email", Some(&token), &json!({})).await;
        assert_eq!(res.status(), 409);
    }

    async fn verification_resend_is_rate_limited_and_the_api_verifies_too(db) {
        let server = TestServer::start(&db);
        let ada = signup(&server, "ada@example.com", "Ada").await;
        let token = ada["token"].as_str().expect("token");
        server.wait_for_mail(1).await;
        // A second link within the minute: 429 with Retry-After.
        let res = api(&server, reqwest::Method::POST, "/api/v1/me/verify-email", Some(token), &json!({})).await;
        assert_eq!(res.status(), 429);
        assert!(res.headers().contains_key("retry-after"));
        server.clock.advance(61);
        let res = api(&server, reqwest::Method::POST, "/api/v1/me/verify-email", Some(token), &json!({})).await;
        assert_eq!(res.status(), 202);
        let letters = server.wait_for_mail(2).await;
        // Both links are good until used (a mail that was slow does not strand the user).
        let res = api(&server, reqwest::Method::POST, "/api/v1/auth/verify-email", None, &json!({ "token": token_of(&letters[0].link().expect("link")) })).await;
        assert_eq!(res.status(), 200);
        assert_eq!(json_of(res).await["emailVerified"], true);
    }

    async fn password_reset_through_the_outbox_ends_every_session_and_refresh_token(db) {
        let server = TestServer::start(&db);
        let ada = signup(&server, "ada@example.com", "Ada").await;
        let refresh = ada["refreshToken"].as_str().expect("refresh").to_owned();
        let access = ada["token"].as_str().expect("token").to_owned();
        server.wait_for_mail(1).await;
        let browser = browser_client();
        assert_eq!(page_login(&server, &browser, "ada@example.com", "correct horse").await.status(), 303);
        assert_eq!(browser.get(server.url("/account")).send().await.expect("get").status(), 200);

        let res = server.post_json("/api/v1/auth/password/forgot", &json!({ "email": "ADA@example.com" })).await;
        assert_eq!(res.status(), 202);
        let letters = server.wait_for_mail(2).await;
        let letter = &letters[1];
        assert_eq!(letter.to(), "ada@example.com");
        let link = letter.link().expect("link");
        assert!(link.starts_with(&format!("{}/password/reset?token=", server.base)), "{link}");
        // The page shows the form without using the link.
        let reset_browser = browser_client();
        let html = reset_browser.get(&link).send().await.expect("get").text().await.expect("html");
        assert!(html.contains("Choose a new password"));
        let form = |password: &str, confirm: &str| {
            vec![
                ("csrf_token", csrf_of(&html)),
                ("token", token_of(&link)),
                ("password", password.to_owned()),
                ("confirm", confirm.to_owned()),
            ]
        };
        let res = reset_browser.post(server.url("/password/reset")).form(&form("new secret one", "another")).send().await.expect("post");
        assert_eq!(res.status(), 400);
        let res = reset_browser.post(server.url("/password/reset")).form(&form("short", "short")).send().await.expect("post");
        assert_eq!(res.status(), 400);
        let res = reset_browser.post(server.url("/password/reset")).form(&form("new secret one", "new secret one")).send().await.expect("post");
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers()["location"], "/login?notice=password_reset");
        // Every earlier session and refresh token ended; the old password is refused.
        assert_eq!(browser.get(server.url("/account")).send().await.expect("get").status(), 303);
        let res = server.post_json("/api/v1/auth/refresh", &json!({ "refreshToken": refresh })).await;
        assert_eq!(res.status(), 401);
        assert_eq!(get_as(&server, "/api/v1/me", &access).await.status(), 401);
        assert_eq!(login(&server, "ada@example.com", "correct horse").await.status(), 401);
        assert_eq!(login(&server, "ada@example.com", "new secret one").await.status(), 200);
        // A notice went to the address; the link is single-use.
        let letters = server.wait_for_mail(3).await;
        assert!(letters[2].link().is_none(), "the notice has no link");
        let res = server.post_json("/api/v1/auth/password/reset", &json!({ "token": token_of(&link), "password": "third secret" })).await;
        assert_eq!(res.status(), 400);
        assert_eq!(json_of(res).await["error"]["code"], "invalid_link");
        // The reset is in the audit log, with no token in it.
        let mut conn = db.store().conn().expect("conn");
        let events = store::audit::list(&mut conn, &store::audit::Filter::default(), 100).expect("audit");
        assert!(events.iter().any(|e| e.kind == "password_reset"), "{:?}", events.iter().map(|e| &e.kind).collect::<Vec<_>>());
        assert!(events.iter().all(|e| !e.detail.contains(&token_of(&link))));
    }

    async fn attack_enumeration_password_reset_answers_the_same_for_unknown_addresses(db) {
        let server = TestServer::start(&db);
        signup(&server, "ada@example.com", "Ada").await;
        server.wait_for_mail(1).await;
        let known = server.post_json("/api/v1/auth/password/forgot", &json!({ "email": "ada@example.com" })).await;
        let unknown = server.post_json("/api/v1/auth/password/forgot", &json!({ "email": "nobody@example.com" })).await;
        assert_eq!(known.status(), 202);
        assert_eq!(unknown.status(), 202);
        assert_eq!(json_of(known).await, json_of(unknown).await);
        // The pages too.
        let page = |email: &'static str| {
            let server = &server;
            async move {
                let client = browser_client();
                let html = client.get(server.url("/password/forgot")).send().await.expect("get").text().await.expect("html");
                let res = client.post(server.url("/password/forgot")).form(&[("csrf_token", csrf_of(&html).as_str()), ("email", email)]).send().await.expect("post");
                (res.status(), res.text().await.expect("html").replace(&csrf_of(&html), "CSRF"))
            }
        };
        let (known_status, known_page) = page("ada@example.com").await;
        let (unknown_status, unknown_page) = page("nobody@example.com").await;
        assert_eq!(known_status, 200);
        assert_eq!((known_status, known_page.replace("ada@example.com", "X")), (unknown_status, unknown_page.replace("nobody@example.com", "X")));
        // Only the known address got mail (the second within the minute is not sent).
        let letters = server.wait_for_mail(2).await;
        assert!(letters.iter().all(|l| l.to() == "ada@example.com"));
    }

    async fn own_account_name_password_and_email_change(db) {
        let server = TestServer::start(&db);
        let ada = signup(&server, "ada@example.com", "Ada").await;
        signup(&server, "bob@example.com", "Bob").await;
        let token = ada["token"].as_str().expect("token").to_owned();
        let old_refresh = ada["refreshToken"].as_str().expect("refresh").to_owned();
        server.wait_for_mail(2).await;
        // Name.
        let res = api(&server, reqwest::Method::PATCH, "/api/v1/me", Some(&token), &json!({ "name": "Ada Lovelace" })).await;
        assert_eq!(res.status(), 200);
        assert_eq!(json_of(res).await["name"], "Ada Lovelace");
        let res = api(&server, reqwest::Method::PATCH, "/api/v1/me", Some(&token), &json!({ "name": "" })).await;
        assert_eq!(res.status(), 400);
        {
            let mut conn = db.store().conn().expect("conn");
            let events = store::audit::list(&mut conn, &store::audit::Filter { kind: Some("profile_updated"), ..Default::default() }, 10).expect("audit");
            assert_eq!(events.len(), 1, "one rename, audited");
        }
        // Email: a wrong password, an address in use, then a real change.
        let res = api(&server, reqwest::Method::POST, "/api/v1/me/email", Some(&token), &json!({ "email": "ada@new.example", "password": "wrong horse" })).await;
        assert_eq!(res.status(), 403);
        assert_eq!(json_of(res).await["error"]["code"], "wrong_password");
        let res = api(&server, reqwest::Method::POST, "/api/v1/me/email", Some(&token), &json!({ "email": "bob@example.com", "password": "correct horse" })).await;
        assert_eq!(res.status(), 409);
        let res = api(&server, reqwest::Method::POST, "/api/v1/me/email", Some(&token), &json!({ "email": "ada@new.example", "password": "correct horse" })).await;
        assert_eq!(res.status(), 202);
        assert_eq!(json_of(res).await["pendingEmail"], "ada@new.example");
        let letters = server.wait_for_mail(3).await;
        let to_new = &letters[2];
        assert_eq!(to_new.to(), "ada@new.example");
        // Unchanged until the new address confirms.
        assert_eq!(json_of(get_as(&server, "/api/v1/me", &token).await).await["email"], "ada@example.com");
        let res = api(&server, reqwest::Method::POST, "/api/v1/auth/verify-email", None, &json!({ "token": token_of(&to_new.link().expect("link")) })).await;
        assert_eq!(res.status(), 200);
        let me = json_of(get_as(&server, "/api/v1/me", &token).await).await;
        assert_eq!((me["email"].as_str(), me["emailVerified"].as_bool()), (Some("ada@new.example"), Some(true)));
        // The old address is told.
        let letters = server.wait_for_mail(4).await;
        assert_eq!(letters[3].to(), "ada@example.com");
        assert!(letters[3].text().contains("ada@new.example"));
        // Password: the current one is checked; the answer is a fresh sign-in; old tokens end.
        let res = api(&server, reqwest::Method::POST, "/api/v1/me/password", Some(&token), &json!({ "currentPassword": "wrong horse", "newPassword": "new secret one" })).await;
        assert_eq!(res.status(), 403);
        let res = api(&server, reqwest::Method::POST, "/api/v1/me/password", Some(&token), &json!({ "currentPassword": "correct horse", "newPassword": "short" })).await;
        assert_eq!(res.status(), 400);
        let res = api(&server, reqwest::Method::POST, "/api/v1/me/password", Some(&token), &json!({ "currentPassword": "correct horse", "newPassword": "new secret one" })).await;
        assert_eq!(res.status(), 200);
        let fresh = json_of(res).await;
        let fresh_token = fresh["token"].as_str().expect("token");
        assert!(fresh["refreshToken"].is_string());
        assert_eq!(get_as(&server, "/api/v1/me", fresh_token).await.status(), 200);
        assert_eq!(get_as(&server, "/api/v1/me", &token).await.status(), 401);
        assert_eq!(server.post_json("/api/v1/auth/refresh", &json!({ "refreshToken": old_refresh })).await.status(), 401);
        assert_eq!(login(&server, "ada@new.example", "new secret one").await.status(), 200);
        assert_eq!(login(&server, "ada@new.example", "correct horse").await.status(), 401);
    }

    async fn account_deletion_needs_the_password_and_spares_shared_organizations(db) {
        let server = TestServer::start(&db);
        let ada = signup(&server, "ada@example.com", "Ada").await;
        let bob = signup(&server, "bob@example.com", "Bob").await;
        let (ada_token, bob_token) = (ada["token"].as_str().expect("t"), bob["token"].as_str().expect("t"));
        let bob_org = bob["organization"]["id"].as_str().expect("org");
        // Bob invites Ada to his organization as a member.
        let invite = json_of(api(&server, reqwest::Method::POST, &format!("/api/v1/organizations/{bob_org}/invites"), Some(bob_token), &json!({ "email": "ada@example.com", "role": "member" })).await).await;
        let res = api(&server, reqwest::Method::POST, &format!("/api/v1/invites/{}/accept", invite["id"].as_str().expect("id")), Some(ada_token), &json!({ "token": invite["token"] })).await;
        assert!(res.status().is_success(), "{}", res.status());
        // Bob is the last owner of an organization with another member: refused.
        let res = api(&server, reqwest::Method::DELETE, "/api/v1/me", Some(bob_token), &json!({ "password": "correct horse" })).await;
        assert_eq!(res.status(), 409);
        assert_eq!(json_of(res).await["error"]["code"], "last_owner");
        let res = api(&server, reqwest::Method::DELETE, "/api/v1/me", Some(ada_token), &json!({ "password": "wrong horse" })).await;
        assert_eq!(res.status(), 403);
        let res = api(&server, reqwest::Method::DELETE, "/api/v1/me", Some(ada_token), &json!({ "password": "correct horse" })).await;
        assert_eq!(res.status(), 204);
        assert_eq!(get_as(&server, "/api/v1/me", ada_token).await.status(), 401);
        assert_eq!(login(&server, "ada@example.com", "correct horse").await.status(), 401);
        let members = json_of(get_as(&server, &format!("/api/v1/organizations/{bob_org}/members"), bob_token).await).await;
        assert_eq!(members["data"].as_array().map(Vec::len), Some(1), "{members}");
        // Bob alone may go now.
        let res = api(&server, reqwest::Method::DELETE, "/api/v1/me", Some(bob_token), &json!({ "password": "correct horse" })).await;
        assert_eq!(res.status(), 204);
    }

    async fn signup_policy_invite_closed_and_domains(db) {
        for mode in [accounts::SignupMode::Invite, accounts::SignupMode::Closed] {
            let server = TestServer::start_with(&db, |s| s.signup.mode = mode);
            let res = server.post_json("/api/v1/auth/signup", &json!({ "email": "ada@example.com", "password": "correct horse", "name": "Ada" })).await;
            assert_eq!(res.status(), 403, "{mode:?}");
            assert_eq!(json_of(res).await["error"]["code"], "signup_closed");
            // The pages hide the form and the link to it.
            let html = server.get("/signup").await.text().await.expect("html");
            assert!(!html.contains("action=\"/signup\""), "{mode:?}");
            let login = server.get("/login").await.text().await.expect("html");
            assert!(!login.contains("href=\"/signup"), "{mode:?}");
            assert!(login.contains("/password/forgot"));
        }
        // Invites still work when sign-up is closed.
        let operator = {
            let mut conn = db.store().conn().expect("conn");
            accounts::signup(&mut conn, &accounts::SignupPolicy::default(), &accounts::NewUser { email: "owner@corp.example", name: "Owner", password: "correct horse" }, None, &accounts::PasswordHasher::new(), 1).expect("owner").0
        };
        let server = TestServer::start_with(&db, |s| {
            s.signup = accounts::SignupPolicy { mode: accounts::SignupMode::Closed, domains: vec![] };
        });
        let owner = json_of(login(&server, &operator.email, "correct horse").await).await;
        let owner_token = owner["token"].as_str().expect("token");
        let orgs = json_of(get_as(&server, "/api/v1/me", owner_token).await).await;
        let org = orgs["organizations"][0]["id"].as_str().expect("org").to_owned();
        let invite = json_of(api(&server, reqwest::Method::POST, &format!("/api/v1/organizations/{org}/invites"), Some(owner_token), &json!({ "email": "guest@elsewhere.example", "role": "member" })).await).await;
        let res = server.post_json(&format!("/api/v1/invites/{}/accept", invite["id"].as_str().expect("id")), &json!({ "token": invite["token"], "name": "Guest", "password": "correct horse" })).await;
        assert!(res.status().is_success(), "invite under closed sign-up: {}", res.status());
        // Domains: only the allowed ones (and their subdomains) may sign up.
        let server = TestServer::start_with(&db, |s| s.signup.domains = vec!["example.org".into()]);
        let res = server.post_json("/api/v1/auth/signup", &json!({ "email": "eve@evil.example", "password": "correct horse", "name": "Eve" })).await;
        assert_eq!(res.status(), 403);
        assert_eq!(json_of(res).await["error"]["code"], "domain_not_allowed");
        let res = server.post_json("/api/v1/auth/signup", &json!({ "email": "ada@eu.example.org", "password": "correct horse", "name": "Ada" })).await;
        assert_eq!(res.status(), 201);
        let html = server.get("/signup").await.text().await.expect("html");
        assert!(html.contains("example.org"));
    }

    async fn required_verification_refuses_sign_in_until_the_link_is_followed(db) {
        let server = TestServer::start_with(&db, |s| {
            s.require_verified_email = true;
            s.password_grant = true;
        });
        let res = server.post_json("/api/v1/auth/signup", &json!({ "email": "ada@example.com", "password": "correct horse", "name": "Ada" })).await;
        assert_eq!(res.status(), 201);
        let body = json_of(res).await;
        assert_eq!(body["emailVerificationRequired"], true);
        assert!(body["token"].is_null(), "no tokens before verification");
        let res = login(&server, "ada@example.com", "correct horse").await;
        assert_eq!(res.status(), 403);
        assert_eq!(json_of(res).await["error"]["code"], "email_not_verified");
        // A wrong password says nothing about verification.
        let res = login(&server, "ada@example.com", "wrong horse").await;
        assert_eq!(res.status(), 401);
        // The page says so and offers to send the link again.
        let browser = browser_client();
        let res = page_login(&server, &browser, "ada@example.com", "correct horse").await;
        assert_eq!(res.status(), 403);
        let html = res.text().await.expect("html");
        assert!(html.contains("not verified") && html.contains("action=\"/verify-email/resend\""));
        let (id, secret) = crate::password_grant::legacy_client(&server).await;
        let res = server.post_form("/oauth2/token", Some((&id, &secret)), &[("grant_type", "password"), ("username", "ada@example.com"), ("password", "correct horse")]).await;
        assert_eq!(json_of(res).await["error"], "invalid_grant");
        server.wait_for_mail(1).await;
        server.clock.advance(61);
        let res = server.post_json("/api/v1/auth/verify-email/resend", &json!({ "email": "ada@example.com" })).await;
        assert_eq!(res.status(), 202);
        let letters = server.wait_for_mail(2).await;
        let link = letters[1].link().expect("link");
        assert_eq!(server.http.get(&link).send().await.expect("get").status(), 200);
        assert_eq!(login(&server, "ada@example.com", "correct horse").await.status(), 200);
    }

    async fn mail_goes_through_a_real_smtp_server(db) {
        let smtp = mail::testing::SmtpServer::start();
        let url = smtp.url();
        let server = TestServer::start_with(&db, |s| {
            s.mail.transport = mail::Transport::Smtp(mail::SmtpUrl::parse(&url).expect("url"));
            s.brand_name = "Acme ID".into();
        });
        let ada = signup(&server, "ada@example.com", "Ada").await;
        let letters = wait_for_letters(1, || smtp.messages()).await;
        assert_eq!(letters[0].to(), "ada@example.com");
        // The verification link, followed, verifies.
        let res = server.post_json("/api/v1/auth/verify-email", &json!({ "token": token_of(&letters[0].link().expect("link")) })).await;
        assert_eq!(json_of(res).await["emailVerified"], true);
        let browser = browser_client();
        assert_eq!(page_login(&server, &browser, "ada@example.com", "correct horse").await.status(), 303);
        assert!(letters[0].subject().contains("Acme ID"), "{}", letters[0].subject());
        assert!(letters[0].html.as_deref().is_some_and(|h| h.contains("Acme ID")));
        assert!(server.outbox_mail().is_empty(), "nothing in the outbox when SMTP is set");
        // The reset flow end to end through it.
        assert_eq!(server.post_json("/api/v1/auth/password/forgot", &json!({ "email": "ada@example.com" })).await.status(), 202);
        let letters = wait_for_letters(2, || smtp.messages()).await;
        let res = server.post_json("/api/v1/auth/password/reset", &json!({ "token": token_of(&letters[1].link().expect("link")), "password": "new secret one" })).await;
        assert_eq!(res.status(), 204);
        // The old password refused, the new one accepted, every earlier session and refresh
        // token ended.
        assert_eq!(login(&server, "ada@example.com", "correct horse").await.status(), 401);
        assert_eq!(login(&server, "ada@example.com", "new secret one").await.status(), 200);
        assert_eq!(browser.get(server.url("/account")).send().await.expect("get").status(), 303);
        let res = server.post_json("/api/v1/auth/refresh", &json!({ "refreshToken": ada["refreshToken"] })).await;
        assert_eq!(res.status(), 401);
        // And the notice of the change went the same way.
        let letters = wait_for_letters(3, || smtp.messages()).await;
        assert!(letters[2].subject().contains("password was changed"), "{}", letters[2].subject());
    }

    async fn a_mail_server_that_is_down_loses_no_request(db) {
        let port = mail::testing::free_port();
        let server = TestServer::start_with(&db, |s| {
            s.mail.transport = mail::Transport::Smtp(mail::SmtpUrl::parse(&format!("smtp://127.0.0.1:{port}")).expect("url"));
        });
        // Sign-up and the reset request are answered while the mail server is down.
        let ada = signup(&server, "ada@example.com", "Ada").await;
        assert!(ada["token"].is_string());
        assert_eq!(server.post_json("/api/v1/auth/password/forgot", &json!({ "email": "ada@example.com" })).await.status(), 202);
        // It comes up on that port: the queued letters are delivered by the retries.
        let smtp = mail::testing::SmtpServer::start_on(port);
        let letters = wait_for_letters(2, || smtp.messages()).await;
        let reset = letters.iter().find(|l| l.link().is_some_and(|k| k.contains("/password/reset"))).expect("the reset letter");
        let res = server.post_json("/api/v1/auth/password/reset", &json!({ "token": token_of(&reset.link().expect("link")), "password": "new secret one" })).await;
        assert_eq!(res.status(), 204);
    }

    async fn attack_account_takeover_by_email_change_needs_the_password_and_the_new_mailbox(db) {
        // A stolen access token (or an unlocked laptop) is not enough to move the account to
        // the thief's address: the password is asked, and the address changes only when the
        // link mailed to it is followed; the real owner is told at the old address.
        let server = TestServer::start(&db);
        let ada = signup(&server, "ada@example.com", "Ada").await;
        let stolen = ada["token"].as_str().expect("token");
        server.wait_for_mail(1).await;
        let res = api(&server, reqwest::Method::POST, "/api/v1/me/email", Some(stolen), &json!({ "email": "eve@evil.example" })).await;
        assert_eq!(res.status(), 400);
        let res = api(&server, reqwest::Method::POST, "/api/v1/me/email", Some(stolen), &json!({ "email": "eve@evil.example", "password": "guess" })).await;
        assert_eq!(res.status(), 403);
        let res = api(&server, reqwest::Method::DELETE, "/api/v1/me", Some(stolen), &json!({ "password": "guess" })).await;
        assert_eq!(res.status(), 403);
        let res = api(&server, reqwest::Method::POST, "/api/v1/me/password", Some(stolen), &json!({ "currentPassword": "guess", "newPassword": "eve's password" })).await;
        assert_eq!(res.status(), 403);
        assert_eq!(server.outbox_mail().len(), 1, "no letter went to the thief");
        assert_eq!(json_of(get_as(&server, "/api/v1/me", stolen).await).await["email"], "ada@example.com");
        // A third-party app's token reaches none of these (first-party only).
        for (method, path) in [(reqwest::Method::PATCH, "/api/v1/me"), (reqwest::Method::POST, "/api/v1/me/email"), (reqwest::Method::DELETE, "/api/v1/me"), (reqwest::Method::POST, "/api/v1/me/password")] {
            let res = api(&server, method.clone(), path, Some("not-a-token"), &json!({})).await;
            assert_eq!(res.status(), 401, "{method} {path}");
        }
    }

    async fn attack_reset_link_replay_and_guessing_are_refused(db) {
        let server = TestServer::start(&db);
        signup(&server, "ada@example.com", "Ada").await;
        server.wait_for_mail(1).await;
        server.post_json("/api/v1/auth/password/forgot", &json!({ "email": "ada@example.com" })).await;
        let link = server.wait_for_mail(2).await[1].link().expect("link");
        let token = token_of(&link);
        // A guessed or altered token is refused, and does not spend the real one.
        let mut altered = token.clone();
        altered.replace_range(0..1, if altered.starts_with('A') { "B" } else { "A" });
        for guess in [altered.as_str(), "", "AAAA"] {
            let res = server.post_json("/api/v1/auth/password/reset", &json!({ "token": guess, "password": "eve's password" })).await;
            assert_eq!(res.status(), 400, "{guess:?}");
        }
        let res = server.post_json("/api/v1/auth/password/reset", &json!({ "token": token, "password": "new secret one" })).await;
        assert_eq!(res.status(), 204);
        // Replayed: refused, and the password stays the owner's.
        let res = server.post_json("/api/v1/auth/password/reset", &json!({ "token": token, "password": "eve's password" })).await;
        assert_eq!(res.status(), 400);
        assert_eq!(login(&server, "ada@example.com", "new secret one").await.status(), 200);
        // The link is not even shown as a form after use.
        assert_eq!(server.http.get(&link).send().await.expect("get").status(), 400);
        // An expired link: 410, and the form says so.
        server.clock.advance(61);
        server.post_json("/api/v1/auth/password/forgot", &json!({ "email": "ada@example.com" })).await;
        let late = token_of(&server.wait_for_mail(4).await.last().expect("letter").link().expect("link"));
        server.clock.advance(30 * 60);
        let res = server.post_json("/api/v1/auth/password/reset", &json!({ "token": late, "password": "another secret" })).await;
        assert_eq!(res.status(), 410);
        assert_eq!(json_of(res).await["error"]["code"], "link_expired");
    }

    async fn an_invite_is_mailed_and_its_page_makes_an_account_even_with_sign_up_closed(db) {
        use crate::authorize_errors::{hidden, jar};
        let server = TestServer::start_with(&db, |s| s.signup.mode = accounts::SignupMode::Closed);
        let owner = {
            let mut conn = db.store().conn().expect("conn");
            accounts::signup(&mut conn, &accounts::SignupPolicy::default(), &accounts::NewUser { email: "grace@example.com", name: "Grace", password: "correct horse" }, Some("Analytical Engines"), &accounts::PasswordHasher::new(), server.clock_now()).expect("owner")
        };
        let grace = json_of(login(&server, "grace@example.com", "correct horse").await).await;
        let grace_token = grace["token"].as_str().expect("token");
        let org = &owner.1.id;
        let res = api(&server, reqwest::Method::POST, &format!("/api/v1/organizations/{org}/invites"), Some(grace_token), &json!({ "email": "Bob@Example.com", "role": "admin" })).await;
        assert_eq!(res.status(), 201);
        let invite = json_of(res).await;
        let letters = server.wait_for_mail(1).await;
        assert_eq!(letters[0].to(), "bob@example.com");
        assert!(letters[0].subject().contains("Grace") && letters[0].subject().contains("Analytical Engines"), "{}", letters[0].subject());
        let link = letters[0].link().expect("link");
        assert_eq!(Some(link.as_str()), invite["inviteUrl"].as_str());
        let path = link.trim_start_matches(&server.base).to_owned();
        // A wrong token shows nothing of the organization.
        let wrong = server.get(&format!("/invites/{}?token=nope", invite["id"].as_str().expect("id"))).await;
        assert_eq!(wrong.status(), 404);
        assert!(!wrong.text().await.expect("html").contains("Analytical Engines"));
        // Bob has no account: the page offers to make one, whatever PORTCULLIS_SIGNUP says.
        let bob = jar();
        let html = bob.get(server.url(&path)).send().await.expect("get").text().await.expect("html");
        assert!(html.contains("Analytical Engines") && html.contains("as admin") && html.contains("/join"), "{html}");
        let join = |password: &'static str| {
            let (bob, server, html) = (&bob, &server, html.clone());
            let id = invite["id"].as_str().expect("id").to_owned();
            async move {
                bob.post(server.url(&format!("/invites/{id}/join"))).form(&[("csrf_token", hidden(&html, "csrf_token")), ("token", hidden(&html, "token")), ("name", "Bob".to_owned()), ("password", password.to_owned())]).send().await.expect("post")
            }
        };
        let res = join("short").await;
        assert_eq!(res.status(), 400);
        assert!(res.text().await.expect("html").contains("at least 8"));
        let res = join("correct horse").await;
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers()["location"], "/account?notice=invite_accepted");
        let account = bob.get(server.url("/account?notice=invite_accepted")).send().await.expect("get").text().await.expect("html");
        assert!(account.contains("You joined the organization.") && account.contains("Analytical Engines"), "{account}");
        // The new account's address is verified by its own link, as at sign-up.
        let letters = server.wait_for_mail(2).await;
        assert!(letters[1].link().is_some_and(|l| l.contains("/verify-email?token=")));
        // The invite is spent.
        assert_eq!(server.get(&path).await.status(), 410);
        let bob_api = json_of(login(&server, "bob@example.com", "correct horse").await).await;
        let me = json_of(get_as(&server, "/api/v1/me", bob_api["token"].as_str().expect("token")).await).await;
        assert_eq!(me["organizations"].as_array().map(Vec::len), Some(1), "{me}");
        assert_eq!(me["organizations"][0]["role"], "admin");
    }

    async fn an_invite_for_an_existing_account_is_accepted_signed_in_as_that_account_only(db) {
        use crate::authorize_errors::{hidden, jar, sign_in};
        let server = TestServer::start(&db);
        let grace = signup(&server, "grace@example.com", "Grace").await;
        signup(&server, "bob@example.com", "Bob").await;
        signup(&server, "eve@example.com", "Eve").await;
        server.wait_for_mail(3).await;
        let org = grace["organization"]["id"].as_str().expect("org");
        let invite = json_of(api(&server, reqwest::Method::POST, &format!("/api/v1/organizations/{org}/invites"), grace["token"].as_str(), &json!({ "email": "bob@example.com" })).await).await;
        let path = invite["inviteUrl"].as_str().expect("url").trim_start_matches(&server.base).to_owned();
        // Signed out: sign in first, and come back here.
        let html = server.get(&path).await.text().await.expect("html");
        assert!(html.contains("Sign in to accept") && !html.contains("/join"), "{html}");
        // Eve, signed in, holds Bob's link: she cannot accept it.
        let eve = jar();
        sign_in(&server, &eve, "eve@example.com", "correct horse").await;
        let html = eve.get(server.url(&path)).send().await.expect("get").text().await.expect("html");
        assert!(html.contains("You are signed in as eve@example.com") && !html.contains("/accept"), "{html}");
        let id = invite["id"].as_str().expect("id");
        let res = eve.post(server.url(&format!("/invites/{id}/accept"))).form(&[("csrf_token", hidden(&html, "csrf_token")), ("token", invite["token"].as_str().expect("t").to_owned())]).send().await.expect("post");
        assert_eq!(res.status(), 403);
        // Bob accepts.
        let bob = jar();
        sign_in(&server, &bob, "bob@example.com", "correct horse").await;
        let html = bob.get(server.url(&path)).send().await.expect("get").text().await.expect("html");
        assert!(html.contains(&format!("action=\"/invites/{id}/accept\"")), "{html}");
        let res = bob.post(server.url(&format!("/invites/{id}/accept"))).form(&[("csrf_token", hidden(&html, "csrf_token")), ("token", hidden(&html, "token"))]).send().await.expect("post");
        assert_eq!(res.status(), 303);
        let members = json_of(get_as(&server, &format!("/api/v1/organizations/{org}/members"), grace["token"].as_str().expect("t")).await).await;
        assert_eq!(members["data"].as_array().map(Vec::len), Some(2), "{members}");
        // Expired invites say so.
        let late = json_of(api(&server, reqwest::Method::POST, &format!("/api/v1/organizations/{org}/invites"), grace["token"].as_str(), &json!({ "email": "carol@example.com" })).await).await;
        server.clock.advance(7 * 86_400);
        let res = server.get(late["inviteUrl"].as_str().expect("url").trim_start_matches(&server.base)).await;
        assert_eq!(res.status(), 410);
        assert!(res.text().await.expect("html").contains("expired"));
    }

    async fn attack_a_bearer_token_is_not_a_browser_session_on_the_account_pages(db) {
        // The own-account forms and the invite acceptance act for a browser session only: a
        // valid first-party token (or an API key) sent as a bearer to them is no session, and
        // the caller is sent to sign in with nothing changed. The link routes of the API are
        // anonymous: a bearer sent along is not looked at, the token in the body decides.
        let server = TestServer::start(&db);
        let ada = signup(&server, "ada@example.com", "Ada").await;
        let token = ada["token"].as_str().expect("token");
        server.wait_for_mail(1).await;
        for (path, form) in [
            ("/account/profile", vec![("name", "Eve")]),
            ("/account/email", vec![("email", "eve@evil.example"), ("password", "correct horse")]),
            ("/account/password", vec![("current_password", "correct horse"), ("new_password", "eve's password")]),
            ("/account/verify-email", vec![]),
            ("/account/delete", vec![("password", "correct horse")]),
            ("/invites/inv_x/accept", vec![("token", "x")]),
        ] {
            let res = server.http.post(server.url(path)).bearer_auth(token).form(&form).send().await.expect("post");
            assert_eq!(res.status(), 303, "{path}");
            assert!(res.headers()["location"].to_str().expect("location").starts_with("/login"), "{path}");
        }
        let me = json_of(get_as(&server, "/api/v1/me", token).await).await;
        assert_eq!((me["name"].as_str(), me["email"].as_str()), (Some("Ada"), Some("ada@example.com")));
        assert_eq!(login(&server, "ada@example.com", "correct horse").await.status(), 200);
        assert_eq!(server.outbox_mail().len(), 1, "no letter was sent");
        // Anonymous link routes: a bearer is ignored.
        let res = server.http.post(server.url("/api/v1/auth/verify-email")).bearer_auth(token).json(&json!({ "token": "not-a-link" })).send().await.expect("post");
        assert_eq!(res.status(), 400);
        assert_eq!(json_of(res).await["error"]["code"], "invalid_link");
    }

    async fn page_routes_of_strong_sign_in_take_no_token_of_the_api(db) {
        // Who may call the page routes of issue 16, as the extractors in their signatures
        // decide (`crate::session`): a browser session and its CSRF token (the account's
        // forms), or the browser's pre-session token (the sign-in steps). A valid first-party
        // token or an owner's API key sent to them is neither: the session routes send the
        // caller to sign in, the sign-in steps answer 403 "form has expired", and nothing
        // changes.
        let server = TestServer::start(&db);
        let ada = signup(&server, "ada@example.com", "Ada").await;
        let token = ada["token"].as_str().expect("token").to_owned();
        let org = ada["organization"]["id"].as_str().expect("org").to_owned();
        let key = api(&server, reqwest::Method::POST, &format!("/api/v1/organizations/{org}/api-keys"), Some(&token), &json!({ "name": "k", "scopes": ["*"] })).await;
        let key = json_of(key).await["key"].as_str().expect("key").to_owned();
        let session_routes = [
            ("GET", "/account/security"),
            ("POST", "/account/security/totp"),
            ("POST", "/account/security/totp/confirm"),
            ("POST", "/account/security/totp/remove"),
            ("POST", "/account/security/recovery-codes"),
            ("POST", "/account/passkeys/register/start"),
            ("POST", "/account/passkeys/register/finish"),
            ("POST", "/account/passkeys/pk_x/rename"),
            ("POST", "/account/passkeys/pk_x/delete"),
            ("POST", "/account/upstream/corp/link"),
            ("POST", "/account/upstream/identities/x/unlink"),
        ];
        let pre_session_routes = [
            "/login/mfa",
            "/login/mfa/passkey/start",
            "/login/mfa/passkey/finish",
            "/login/passkey/start",
            "/login/passkey/finish",
            "/login/select",
        ];
        for credential in [("authorization", format!("Bearer {token}")), ("x-api-key", key.clone())] {
            for (method, path) in session_routes {
                let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
                let res = server.http.request(method, server.url(path)).header(credential.0, &credential.1).form(&[("csrf_token", "x"), ("code", "123456"), ("password", "correct horse")]).send().await.expect("request");
                assert_eq!(res.status(), 303, "{path} with {}", credential.0);
                assert!(res.headers()["location"].to_str().expect("location").starts_with("/login"), "{path}");
            }
            for path in pre_session_routes {
                let res = server.http.post(server.url(path)).header(credential.0, &credential.1).form(&[("csrf_token", "x"), ("code", "123456"), ("account", "0")]).send().await.expect("request");
                assert_eq!(res.status(), 403, "{path} with {}", credential.0);
            }
        }
        let status = json_of(get_as(&server, "/api/v1/me/mfa", &token).await).await;
        assert_eq!(status["totp"], false, "nothing was set up");
        assert_eq!(login(&server, "ada@example.com", "correct horse").await.status(), 200);
    }
}
