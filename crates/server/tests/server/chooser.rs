//! The account chooser: several accounts signed in side by side in one browser,
//! `prompt=select_account`, switching, and signing out of them all.

use crate::attack_code_injection::claims_of;
use crate::authorize_errors::{
    REDIRECT, VERIFIER, authorize, challenge, decide, exchange, hidden, id, redirected, setup,
};
use crate::common::*;

fn location(res: &reqwest::Response) -> String {
    assert_eq!(res.status(), 303, "expected a redirect");
    res.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned()
}

async fn html(http: &reqwest::Client, server: &TestServer, path: &str) -> String {
    let res = http.get(server.url(path)).send().await.expect("get");
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.expect("html")
}

/// The position of `email` in the chooser's list.
fn position(page: &str, email: &str) -> String {
    let at = page
        .find(&format!("data-email=\"{email}\""))
        .unwrap_or_else(|| panic!("{email} not listed: {page}"));
    let before = &page[..at];
    let field = before
        .rfind("name=\"account\" value=\"")
        .expect("account field");
    before[field + 22..]
        .split('"')
        .next()
        .expect("value")
        .to_owned()
}

async fn choose(
    http: &reqwest::Client,
    server: &TestServer,
    page: &str,
    email: &str,
) -> reqwest::Response {
    http.post(server.url("/login/select"))
        .form(&[
            ("csrf_token", hidden(page, "csrf_token").as_str()),
            ("return_to", hidden(page, "return_to").as_str()),
            ("account", position(page, email).as_str()),
        ])
        .send()
        .await
        .expect("choose")
}

/// Signs `email` in beside the accounts already here ("Use another account").
async fn add_account(http: &reqwest::Client, server: &TestServer, email: &str, password: &str) {
    let page = html(http, server, "/login?add=1&return_to=%2Faccount").await;
    let res = http
        .post(server.url("/login"))
        .form(&[
            ("csrf_token", hidden(&page, "csrf_token").as_str()),
            ("return_to", "/account"),
            ("add", hidden(&page, "add").as_str()),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(location(&res), "/account");
}

on_both_backends! {
    async fn the_account_chooser_keeps_accounts_side_by_side_and_switches_between_them(db) {
        let s = setup(&db).await;
        let (server, http) = (&s.server, &s.http);
        crate::api_auth::signup(server, "sam@example.com", "Sam").await;
        add_account(http, server, "sam@example.com", "correct horse").await;
        assert!(html(http, server, "/account").await.contains("sam@example.com"), "Sam is current");

        // An app asks which account: both are listed; Pat is chosen.
        let ch = challenge(VERIFIER);
        let params = [("response_type", "code"), ("client_id", id(&s.public)), ("redirect_uri", REDIRECT), ("scope", "openid email"), ("state", "xyz"), ("code_challenge", &ch), ("code_challenge_method", "S256"), ("prompt", "select_account consent")];
        let res = authorize(server, http, &params).await;
        let to = location(&res);
        assert!(to.starts_with("/login/select?return_to="), "{to}");
        let page = html(http, server, &to).await;
        assert_eq!(page.matches("data-email=").count(), 2, "{page}");
        // Without the page's token, nothing is switched.
        let res = http.post(server.url("/login/select")).form(&[("csrf_token", "forged"), ("return_to", "/account"), ("account", "1")]).send().await.expect("post");
        assert_eq!(res.status(), 403, "attack: a cross-site post cannot switch accounts");
        let res = choose(http, server, &page, "pat@example.com").await;
        let back = location(&res);
        assert!(back.starts_with("/oauth2/authorize") && !back.contains("select_account"), "{back}");
        assert!(back.contains("prompt=consent"), "the rest of prompt stays: {back}");
        let res = http.get(server.url(&back)).send().await.expect("back");
        let res = decide(server, http, res, "allow").await;
        let code = redirected(&res)["code"].clone();
        let res = exchange(&s, id(&s.public), &code, Some(VERIFIER)).await;
        let claims = claims_of(json_of(res).await["id_token"].as_str().expect("id_token"));
        assert_eq!(claims["email"], "pat@example.com");

        // Back to Sam from the account page, with no password asked.
        let page = html(http, server, "/login/select?return_to=%2Faccount").await;
        assert_eq!(location(&choose(http, server, &page, "sam@example.com").await), "/account");
        assert!(html(http, server, "/account").await.contains("sam@example.com"));

        // Pat signing in again replaces Pat's earlier session: still two accounts.
        add_account(http, server, "pat@example.com", "long password").await;
        let page = html(http, server, "/login/select?return_to=%2Faccount").await;
        assert_eq!(page.matches("data-email=").count(), 2, "{page}");

        // Signing out ends both.
        let account = html(http, server, "/account").await;
        let res = http.post(server.url("/logout")).form(&[("csrf_token", hidden(&account, "csrf_token").as_str())]).send().await.expect("logout");
        assert_eq!(location(&res), "/login");
        assert_eq!(location(&http.get(server.url("/account")).send().await.expect("account")), "/login?return_to=/account");
        let res = http.get(server.url("/login/select?return_to=%2Faccount")).send().await.expect("select");
        assert!(location(&res).starts_with("/login?"), "nobody left to choose");
    }
}

/// The chooser in Chromium: two accounts signed in side by side, "Use another account", and a
/// switch from one to the other (the screenshot of docs/accounts.md).
#[actix_web::test]
async fn the_account_chooser_in_chromium() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    crate::api_auth::signup(&server, "ada@example.com", "Ada Lovelace").await;
    crate::api_auth::signup(&server, "grace@example.com", "Grace Hopper").await;
    let browser = crate::browser::Browser::start().await;
    let sign_in = |email: &'static str| {
        let browser = &browser;
        async move {
            browser.wait_for_text("Sign in").await;
            browser.type_into("#email", email).await;
            browser.type_into("#password", "correct horse").await;
            browser
                .click("form[action='/login'] button[type=submit]")
                .await;
            browser.wait_for_path("/account").await;
        }
    };
    browser.goto(&server.url("/login")).await;
    sign_in("ada@example.com").await;
    browser.click("#switch-account").await;
    browser.wait_for_text("Choose an account").await;
    browser.click("#add-account").await;
    sign_in("grace@example.com").await;
    assert_eq!(browser.text("#profile-email").await, "grace@example.com");

    browser.click("#switch-account").await;
    browser.wait_for_text("Choose an account").await;
    assert_eq!(browser.count("button.account").await, 2);
    browser.screenshot("accounts-chooser").await;
    browser
        .click("button.account[data-email='ada@example.com']")
        .await;
    browser.wait_for_path("/account").await;
    assert_eq!(browser.text("#profile-email").await, "ada@example.com");
}
