//! The sign-in pages in a real headless Chromium, and their CSRF and header rules.

use crate::browser::Browser;
use crate::common::*;

on_both_backends! {
    async fn a_person_signs_up_out_and_in_and_revokes_their_session(db) {
        let server = TestServer::start(&db);
        let browser = Browser::start().await;

        browser.goto(&server.url("/signup")).await;
        browser.type_into("#name", "Ada Lovelace").await;
        browser.type_into("#email", "ada@example.com").await;
        browser.type_into("#password", "analytical engine").await;
        browser.screenshot("signup").await;
        browser.click("button[type=submit]").await;
        browser.wait_for_path("/account").await;
        let page = browser.source().await;
        assert!(page.contains("Ada Lovelace") && page.contains("ada@example.com"), "{page}");
        browser.screenshot("account").await;

        browser.click("form[action='/logout'] button").await;
        browser.wait_for_path("/login").await;
        browser.goto(&server.url("/account")).await;
        browser.wait_for_path("/login?return_to=/account").await;

        browser.type_into("input[name=email]", "ada@example.com").await;
        browser.type_into("input[type=password]", "wrong password").await;
        browser.click("button[type=submit]").await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !browser.source().await.contains("The email or password is wrong.") {
            assert!(std::time::Instant::now() < deadline, "no error shown");
        }
        browser.type_into("input[type=password]", "analytical engine").await;
        browser.click("button[type=submit]").await;
        browser.wait_for_path("/account").await;
        assert!(browser.source().await.contains("(this browser)"));

        browser.click(".sessions button").await;
        browser.wait_for_path("/login").await;
        browser.goto(&server.url("/account")).await;
        browser.wait_for_path("/login?return_to=/account").await;
    }
}

#[actix_web::test]
async fn the_keys_page_creates_shows_once_and_revokes() {
    let db = TestDb::sqlite();
    let server = TestServer::start_with(&db, |a| a.api_key_cache = 0);
    let browser = Browser::start().await;
    browser.goto(&server.url("/signup")).await;
    browser.type_into("#name", "Kay").await;
    browser.type_into("#email", "kay@example.com").await;
    browser.type_into("#password", "keys and locks").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_path("/account").await;
    browser.click("a[href$='/keys']").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !browser.source().await.contains("Create a key") {
        assert!(std::time::Instant::now() < deadline, "no keys page");
    }
    let keys_url = browser.url().await;
    let org = keys_url
        .split("/orgs/")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .expect("org id")
        .to_owned();
    browser.type_into("#key-name", "deploy bot").await;
    browser.click("input[value='org:read']").await;
    browser
        .click("form[action$='/keys'] button[type=submit]")
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let page = loop {
        let page = browser.source().await;
        if page.contains("id=\"new-key\"") {
            break page;
        }
        assert!(std::time::Instant::now() < deadline, "no new key shown");
    };
    browser.screenshot("new-key").await;
    let secret = page
        .split("id=\"new-key\" tabindex=\"0\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .expect("secret")
        .to_owned();
    assert!(secret.starts_with("pcl_sk_"), "{secret}");
    let use_key = || {
        server
            .http
            .get(server.url(&format!("/api/v1/organizations/{org}")))
            .header("x-api-key", secret.clone())
            .send()
    };
    assert_eq!(use_key().await.expect("get").status(), 200);
    // Shown once: a reload lists the key by its prefix only.
    browser.goto(&keys_url).await;
    let listed = browser.source().await;
    assert!(listed.contains("deploy bot") && !listed.contains(&secret));
    browser.click(".keys button").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !browser.source().await.contains("revoked") {
        assert!(std::time::Instant::now() < deadline, "not revoked");
    }
    assert_eq!(use_key().await.expect("get").status(), 401);
}

#[actix_web::test]
async fn posts_without_the_csrf_token_are_refused() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let jar_client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = jar_client
        .get(server.url("/signup"))
        .send()
        .await
        .expect("get");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    let csrf = html
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a csrf field")
        .to_owned();
    let form = |token: &str| {
        vec![
            ("csrf_token", token.to_owned()),
            ("name", "Ada".to_owned()),
            ("email", "ada@example.com".to_owned()),
            ("password", "analytical engine".to_owned()),
        ]
    };
    for bad in ["", "wrong-token"] {
        let res = jar_client
            .post(server.url("/signup"))
            .form(&form(bad))
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 403, "csrf {bad:?}");
    }
    // The token alone, without the cookie it is bound to, is refused too.
    let res = server
        .http
        .post(server.url("/signup"))
        .form(&form(&csrf))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 403);
    let res = jar_client
        .post(server.url("/signup"))
        .form(&form(&csrf))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/account");
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("pcl_session="))
        .expect("session cookie")
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "http issuer: no Secure flag");

    // Signed in: logout needs the session's token.
    let res = jar_client
        .post(server.url("/logout"))
        .form(&[("csrf_token", "nope")])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 403);
    let account = jar_client
        .get(server.url("/account"))
        .send()
        .await
        .expect("get");
    assert_eq!(account.status(), 200, "still signed in");
    let headers = account.headers().clone();
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap_or("")
            .contains("frame-ancestors 'none'")
    );
    assert!(
        !headers["content-security-policy"]
            .to_str()
            .unwrap_or("")
            .contains("unsafe-inline")
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["x-frame-options"], "DENY");
}

#[actix_web::test]
async fn return_to_never_leaves_the_site() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    for evil in [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
    ] {
        let res = server
            .get(&format!("/login?return_to={}", urlencode(evil)))
            .await;
        let html = res.text().await.expect("html");
        assert!(
            html.contains("name=\"return_to\" value=\"/account\""),
            "{evil}: {html}"
        );
    }
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}
