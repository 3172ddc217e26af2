//! Two-step sign-in in a real headless Chromium, without JavaScript: an authenticator set up
//! on `/account/security` (the QR code drawn, the key read off the page, the recovery codes
//! shown once), signing in with the password and then a code (a wrong code's error, a recovery
//! code used once), an organization that requires a second factor sending its member to set
//! one up on the way in, and a relying party's `acr_values=urn:portcullis:mfa` (and
//! `max_age`) stepping up a one-factor session. The browser plays the person; the test plays
//! the authenticator app (`accounts::totp_code_for` at the server's clock). The screenshots
//! of `docs/accounts.md` ("Two-step sign-in") are taken here.

use serde_json::{Value, json};

use crate::attack_code_injection::claims_of;
use crate::authorize::{code_client, dead_redirect_uri};
use crate::authorize_errors::{VERIFIER, challenge, id};
use crate::browser::Browser;
use crate::common::*;

const MFA: &str = "urn:portcullis:mfa";
const WRONG_CODE: &str = "The code is wrong, or was used already. Try the next one.";

/// The code the app shows now for `secret`.
fn code_now(server: &TestServer, secret: &str) -> String {
    accounts::totp_code_for(secret, server.clock_now()).expect("a code")
}

/// A six-digit code that is not the one the app shows now.
fn wrong_code(right: &str) -> &'static str {
    if right == "123456" {
        "654321"
    } else {
        "123456"
    }
}

/// Signs in with the password on `/login` (the browser is there or goes there).
async fn sign_in(browser: &Browser, server: &TestServer, email: &str, password: &str) {
    browser.goto(&server.url("/login")).await;
    browser.wait_for_text("Forgot your password?").await;
    browser.type_into("#email", email).await;
    browser.type_into("#password", password).await;
    browser
        .click("form[action='/login'] button[type=submit]")
        .await;
}

async fn sign_out(browser: &Browser, server: &TestServer) {
    browser.goto(&server.url("/account")).await;
    browser.wait_for_path("/account").await;
    browser.click("form[action='/logout'] button").await;
    browser.wait_for_path_starting("/login").await;
}

/// Types `code` on the second-step page and submits it.
async fn enter_code(browser: &Browser, code: &str) {
    browser.clear("#code").await;
    browser.type_into("#code", code).await;
    browser
        .click("form[action='/login/mfa'] button[type=submit]")
        .await;
}

/// The recovery codes on the page, as shown.
async fn recovery_codes(browser: &Browser) -> Vec<String> {
    let n = browser.count("#recovery-codes li").await;
    let mut codes = Vec::new();
    for i in 1..=n {
        codes.push(
            browser
                .text(&format!("#recovery-codes li:nth-child({i}) code"))
                .await,
        );
    }
    codes
}

/// The QR code is drawn where a phone can scan it: an SVG at least 160 px square, inside the
/// card and the window (1000×900), above the key typed by hand.
async fn qr_is_scannable(browser: &Browser) {
    assert_eq!(browser.count("#qr svg").await, 1, "a QR code drawn as SVG");
    let (x, y, w, h) = browser.rect("#qr svg").await;
    assert!(w >= 160.0 && (w - h).abs() < 1.0, "a square of {w}×{h}");
    let (cx, _, cw, _) = browser.rect(".card").await;
    assert!(x >= cx && x + w <= cx + cw, "inside the card");
    assert!(
        y + h <= 900.0,
        "in the window without scrolling: ends at {y}+{h}"
    );
    let (_, key_y, _, _) = browser.rect("#totp-secret").await;
    assert!(key_y > y + h, "the key below the code");
}

#[actix_web::test]
async fn an_authenticator_set_up_on_the_security_page_then_asks_for_its_code_at_sign_in() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let browser = Browser::start().await;
    browser.goto(&server.url("/signup")).await;
    browser.type_into("#name", "Ada").await;
    browser.type_into("#email", "ada@example.com").await;
    browser.type_into("#password", "analytical engine").await;
    browser
        .click("form[action='/signup'] button[type=submit]")
        .await;
    browser.wait_for_path("/account").await;

    // The account page leads to the security page; two-step sign-in is off.
    browser.click("a[href='/account/security']").await;
    browser.wait_for_path("/account/security").await;
    assert_eq!(browser.title().await, "Two-step sign-in · Portcullis");
    assert!(
        browser
            .text("#totp-status")
            .await
            .starts_with("Two-step sign-in is off.")
    );
    browser
        .click("form[action='/account/security/totp'] button")
        .await;
    browser.wait_for_text("id=\"totp-secret\"").await;
    browser.wait_for_path("/account/security").await;
    qr_is_scannable(&browser).await;
    let secret = browser.text("#totp-secret").await;
    assert_eq!(secret.len(), 32, "160 bits in base32: {secret}");
    browser.screenshot("accounts-mfa-setup").await;

    // A wrong code is refused on the page, which shows the same key again.
    let right = code_now(&server, &secret);
    browser.type_into("#code", wrong_code(&right)).await;
    browser
        .click("form[action='/account/security/totp/confirm'] button")
        .await;
    browser.wait_for_text("The code is wrong.").await;
    assert_eq!(browser.text("#totp-secret").await, secret);
    browser.type_into("#code", &right).await;
    browser
        .click("form[action='/account/security/totp/confirm'] button")
        .await;
    browser.wait_for_text("Two-step sign-in is on.").await;
    assert_eq!(browser.text("#notice").await, "Two-step sign-in is on.");
    let codes = recovery_codes(&browser).await;
    assert_eq!(codes.len(), 10);
    assert!(
        codes
            .iter()
            .all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'),
        "{codes:?}"
    );
    assert_eq!(browser.text("#codes-left").await, "10");
    assert_eq!(browser.count("#qr").await, 0, "no QR code once it is on");
    browser.screenshot("accounts-mfa-recovery-codes").await;
    // Shown once: the page again lists none.
    browser.goto(&server.url("/account/security")).await;
    browser.wait_for_text("Recovery codes left").await;
    assert_eq!(browser.count("#recovery-codes").await, 0);
    assert!(!browser.source().await.contains(&codes[0]));

    // Signing in: the password, then the code page; no session before the code.
    sign_out(&browser, &server).await;
    sign_in(&browser, &server, "ada@example.com", "analytical engine").await;
    browser
        .wait_for_path_starting("/login/mfa?return_to=")
        .await;
    browser.wait_for_text("Enter your code").await;
    assert!(browser.source().await.contains("ada@example.com"));
    browser.screenshot("accounts-mfa-code").await;
    server.clock.advance(30);
    let right = code_now(&server, &secret);
    enter_code(&browser, wrong_code(&right)).await;
    browser.wait_for_text(WRONG_CODE).await;
    assert_eq!(browser.text("#error").await, WRONG_CODE);
    browser.screenshot("accounts-mfa-wrong-code").await;
    enter_code(&browser, &right).await;
    browser.wait_for_path("/account").await;
    assert_eq!(browser.title().await, "Your account · Portcullis");
    assert_eq!(browser.text("#profile-email").await, "ada@example.com");

    // The same code again (seen over a shoulder) does not sign in a second time.
    sign_out(&browser, &server).await;
    sign_in(&browser, &server, "ada@example.com", "analytical engine").await;
    browser.wait_for_text("Enter your code").await;
    enter_code(&browser, &right).await;
    browser.wait_for_text(WRONG_CODE).await;

    // A recovery code instead (the phone is lost): it signs in once.
    enter_code(&browser, &codes[0]).await;
    browser.wait_for_path("/account").await;
    browser.goto(&server.url("/account/security")).await;
    browser.wait_for_path("/account/security").await;
    assert_eq!(browser.text("#codes-left").await, "9");
    sign_out(&browser, &server).await;
    sign_in(&browser, &server, "ada@example.com", "analytical engine").await;
    browser.wait_for_text("Enter your code").await;
    enter_code(&browser, &codes[0]).await;
    browser.wait_for_text(WRONG_CODE).await;
    // Typed as people type it: lower case, no dash.
    enter_code(&browser, &codes[1].replace('-', "").to_lowercase()).await;
    browser.wait_for_path("/account").await;
}

#[actix_web::test]
async fn an_organization_requiring_mfa_sends_its_member_to_set_it_up_on_the_way_in() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    // Grace owns the organization and invites Bob, who joins with a password.
    let owner = crate::api_auth::signup(&server, "grace@example.com", "Grace").await;
    let token = owner["token"].as_str().expect("token").to_owned();
    let org = owner["organization"]["id"]
        .as_str()
        .expect("org")
        .to_owned();
    let res = server
        .http
        .post(server.url(&format!("/api/v1/organizations/{org}/invites")))
        .bearer_auth(&token)
        .json(&json!({ "email": "bob@example.com", "role": "member" }))
        .send()
        .await
        .expect("invite");
    assert_eq!(res.status(), 201);
    let invite = json_of(res).await;
    let res = server
        .post_json(
            &format!(
                "/api/v1/invites/{}/accept",
                invite["id"].as_str().expect("id")
            ),
            &json!({ "token": invite["token"], "name": "Bob", "password": "difference engine" }),
        )
        .await;
    assert_eq!(res.status(), 200);

    // Bob signs in before the rule: the password is enough.
    let browser = Browser::start().await;
    sign_in(&browser, &server, "bob@example.com", "difference engine").await;
    browser.wait_for_path("/account").await;
    sign_out(&browser, &server).await;

    let res = server
        .http
        .patch(server.url(&format!("/api/v1/organizations/{org}")))
        .bearer_auth(&token)
        .json(&json!({ "requireMfa": true }))
        .send()
        .await
        .expect("patch");
    assert_eq!(res.status(), 200);
    assert_eq!(json_of(res).await["requireMfa"], true);

    // Now the password leads to setting up the app, not to the account.
    sign_in(&browser, &server, "bob@example.com", "difference engine").await;
    browser
        .wait_for_path_starting("/login/mfa?return_to=%2Faccount")
        .await;
    browser.wait_for_text("Set up two-step sign-in").await;
    assert!(
        browser
            .text(".hint")
            .await
            .starts_with("Your account needs a second step to sign in here.")
    );
    qr_is_scannable(&browser).await;
    browser.screenshot("accounts-mfa-required").await;
    // Not signed in yet: the account page sends back to sign in.
    let setup_page = browser.url().await;
    browser.goto(&server.url("/account")).await;
    browser.wait_for_path("/login?return_to=/account").await;
    browser.goto(&setup_page).await;
    browser.wait_for_text("Set up two-step sign-in").await;
    let secret = browser.text("#totp-secret").await;
    let right = code_now(&server, &secret);
    enter_code(&browser, wrong_code(&right)).await;
    browser.wait_for_text(WRONG_CODE).await;
    assert_eq!(browser.text("#totp-secret").await, secret, "the same key");
    enter_code(&browser, &right).await;
    browser.wait_for_text("Save your recovery codes").await;
    assert_eq!(recovery_codes(&browser).await.len(), 10);
    assert_eq!(
        browser.text("#continue").await,
        "I have saved them: continue"
    );
    browser.screenshot("accounts-mfa-required-codes").await;
    browser.click("#continue").await;
    browser.wait_for_path("/account").await;
    assert_eq!(browser.text("#profile-email").await, "bob@example.com");
    browser.goto(&server.url("/account/security")).await;
    browser.wait_for_text("An authenticator app is on").await;
    assert_eq!(browser.text("#codes-left").await, "10");

    // The next sign-in asks for the code.
    sign_out(&browser, &server).await;
    sign_in(&browser, &server, "bob@example.com", "difference engine").await;
    browser.wait_for_text("Enter your code").await;
    server.clock.advance(30);
    enter_code(&browser, &code_now(&server, &secret)).await;
    browser.wait_for_path("/account").await;
}

/// Opens the authorization request of `client` (with `extra` parameters) in the browser.
async fn open_authorize(
    browser: &Browser,
    server: &TestServer,
    client: &Value,
    redirect_uri: &str,
    extra: &[(&str, &str)],
) {
    let ch = challenge(VERIFIER);
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("response_type", "code"),
        ("client_id", id(client)),
        ("redirect_uri", redirect_uri),
        ("scope", "openid"),
        ("state", "st"),
        ("code_challenge", ch.as_str()),
        ("code_challenge_method", "S256"),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    {
        q.append_pair(k, v);
    }
    browser
        .goto(&server.url(&format!("/oauth2/authorize?{}", q.finish())))
        .await;
}

/// Allows on the consent page, follows the redirect and exchanges the code: the ID token's
/// claims.
async fn allow_and_exchange(
    browser: &Browser,
    server: &TestServer,
    client: &Value,
    redirect_uri: &str,
) -> Value {
    browser.wait_for_text("Allow").await;
    browser.click("button[value=allow]").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let back = loop {
        let at = browser.url().await;
        if at.starts_with(redirect_uri) {
            break url::Url::parse(&at).expect("url");
        }
        assert!(std::time::Instant::now() < deadline, "not redirected: {at}");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    let res = server
        .post_form(
            "/oauth2/token",
            None,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect_uri),
                ("client_id", id(client)),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    claims_of(json_of(res).await["id_token"].as_str().expect("id_token"))
}

#[actix_web::test]
async fn a_relying_party_asking_for_mfa_steps_up_a_one_factor_session() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let redirect_uri = dead_redirect_uri();
    let client = code_client(&server, true, &redirect_uri).await;
    let browser = Browser::start().await;
    browser.goto(&server.url("/signup")).await;
    browser.type_into("#name", "Pat").await;
    browser.type_into("#email", "pat@example.com").await;
    browser.type_into("#password", "long password").await;
    browser
        .click("form[action='/signup'] button[type=submit]")
        .await;
    browser.wait_for_path("/account").await;

    // The app asks for nothing special: the password session is enough.
    open_authorize(&browser, &server, &client, &redirect_uri, &[]).await;
    let claims = allow_and_exchange(&browser, &server, &client, &redirect_uri).await;
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert_eq!(claims["acr"], "urn:portcullis:pwd");

    // It asks for two factors: Pat has none, so sets one up on the way, then goes on to the
    // app, whose ID token says two factors.
    open_authorize(
        &browser,
        &server,
        &client,
        &redirect_uri,
        &[("acr_values", MFA)],
    )
    .await;
    browser
        .wait_for_path_starting("/login/mfa?return_to=%2Foauth2%2Fauthorize")
        .await;
    browser.wait_for_text("Set up two-step sign-in").await;
    browser.screenshot("accounts-mfa-step-up").await;
    let secret = browser.text("#totp-secret").await;
    enter_code(&browser, &code_now(&server, &secret)).await;
    browser.wait_for_text("Save your recovery codes").await;
    browser.click("#continue").await;
    let claims = allow_and_exchange(&browser, &server, &client, &redirect_uri).await;
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(claims["acr"], MFA);
    let first_sign_in = claims["auth_time"].as_i64().expect("auth_time");

    // max_age: two minutes later, a sign-in older than a minute is made again, password and
    // code, and the ID token carries the new time.
    server.clock.advance(120);
    open_authorize(
        &browser,
        &server,
        &client,
        &redirect_uri,
        &[("max_age", "60")],
    )
    .await;
    browser.wait_for_path_starting("/login?").await;
    browser.wait_for_text("Forgot your password?").await;
    browser.clear("#email").await;
    browser.type_into("#email", "pat@example.com").await;
    browser.type_into("#password", "long password").await;
    browser
        .click("form[action='/login'] button[type=submit]")
        .await;
    browser.wait_for_text("Enter your code").await;
    enter_code(&browser, &code_now(&server, &secret)).await;
    let claims = allow_and_exchange(&browser, &server, &client, &redirect_uri).await;
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(claims["auth_time"], server.clock_now());
    assert!(claims["auth_time"].as_i64().expect("auth_time") > first_sign_in);
}
