//! Passkeys: registered, renamed and removed on `/account`, and signing in with one alone on
//! `/login`, in a real headless Chromium with WebDriver's virtual authenticators, so every
//! ceremony is a real one (the browser's WebAuthn, a CTAP2 authenticator, webauthn-rs on the
//! server). The server's issuer is `http://localhost:PORT`: browsers refuse an IP address as a
//! relying party. The screenshots `docs/screenshots/accounts-passkeys*.png` are taken here
//! (`PORTCULLIS_SCREENSHOTS=$PWD/docs/screenshots`). The endpoints' refusals (CSRF, a stale
//! sign-in) are checked over plain HTTP on both backends.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::authorize::code_client;
use crate::authorize_errors::{hidden, jar, sign_up};
use crate::browser::Browser;
use crate::common::*;

const PASSWORD: &str = "analytical engine";

/// Signs up on the page; the browser ends signed in on `/account`.
async fn sign_up_here(browser: &Browser, server: &TestServer, name: &str, email: &str) {
    browser.goto(&server.url("/signup")).await;
    browser.type_into("#name", name).await;
    browser.type_into("#email", email).await;
    browser.type_into("#password", PASSWORD).await;
    browser
        .click("form[action='/signup'] button[type=submit]")
        .await;
    browser.wait_for_path("/account").await;
}

/// The passkeys the account page lists: (id, name), in its order.
async fn listed(browser: &Browser) -> Vec<(String, String)> {
    let found = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             done([...document.querySelectorAll('li.passkey')].map(li => [
               li.querySelector('form.rename').getAttribute('action').split('/')[3],
               li.querySelector('.passkey-name').textContent,
             ]));",
            vec![],
        )
        .await;
    serde_json::from_value(found).expect("pairs")
}

/// Adds a passkey on the account page (named, or left to the default) with the browser's
/// authenticator; waits for the page that says so.
async fn add_passkey(browser: &Browser, server: &TestServer, name: Option<&str>) {
    browser.goto(&server.url("/account")).await;
    if let Some(name) = name {
        browser.type_into("#passkey-name", name).await;
    }
    browser.click("#passkey-add").await;
    browser
        .wait_for_text("Your passkey was added. You can sign in with it alone.")
        .await;
}

async fn sign_out(browser: &Browser) {
    browser
        .click("form[action='/logout'] button[type=submit]")
        .await;
    browser.wait_for_path("/login").await;
}

/// The test's own `navigator.credentials.get` for options the server made (the page's script
/// runs only from its button): resolves to the credential as JSON, or `error: NAME`.
const GET_CREDENTIAL: &str = "
    const [options, done] = arguments;
    const bytes = s => Uint8Array.from(
      atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4)),
      c => c.charCodeAt(0)).buffer;
    const b64 = buf => btoa(String.fromCharCode(...new Uint8Array(buf)))
      .replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
    const o = options.publicKey;
    o.challenge = bytes(o.challenge);
    o.allowCredentials = (o.allowCredentials || []).map(c => Object.assign({}, c, { id: bytes(c.id) }));
    navigator.credentials.get({ publicKey: o }).then(c => done(JSON.stringify({
      id: c.id, rawId: b64(c.rawId), type: c.type,
      response: {
        authenticatorData: b64(c.response.authenticatorData),
        clientDataJSON: b64(c.response.clientDataJSON),
        signature: b64(c.response.signature),
        userHandle: c.response.userHandle ? b64(c.response.userHandle) : null,
      },
      extensions: c.getClientExtensionResults(),
    })), e => done('error: ' + e.name));";

/// The claims of a JWT, unverified (the test reads what the server signed).
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("json")
}

/// Runs the code flow in the signed-in browser (consent, code, token) and returns the ID
/// token's claims.
async fn id_token_claims(browser: &Browser, server: &TestServer) -> Value {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let client = code_client(server, false, &redirect_uri).await;
    let client_id = client["client_id"].as_str().expect("id");
    let secret = client["client_secret"].as_str().expect("secret");
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", "openid email")
        .append_pair("state", "s-1")
        .append_pair("nonce", "n-1")
        .finish();
    browser
        .goto(&server.url(&format!("/oauth2/authorize?{query}")))
        .await;
    browser.wait_for_text("Allow").await;
    browser.click("button[value=allow]").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let back = loop {
        let at = browser.url().await;
        if at.starts_with(&redirect_uri) {
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
            Some((client_id, secret)),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &redirect_uri),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let tokens = json_of(res).await;
    claims(tokens["id_token"].as_str().expect("an id_token"))
}

#[actix_web::test]
async fn passkeys_are_registered_renamed_removed_and_sign_in_alone_in_chromium() {
    let db = TestDb::sqlite();
    let server = TestServer::start_on_localhost(&db, |_| {});
    let browser = Browser::start().await;
    sign_up_here(&browser, &server, "Ada", "ada@example.com").await;
    assert_eq!(
        browser.text("#no-passkeys").await,
        "You have no passkey yet."
    );

    // The first passkey, named, on a laptop's built-in authenticator.
    let laptop = browser.add_authenticator().await;
    add_passkey(&browser, &server, Some("Work laptop")).await;
    let first = listed(&browser).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].1, "Work laptop");
    let on_laptop = browser.credentials(&laptop).await;
    assert_eq!(on_laptop.len(), 1);
    assert_eq!(on_laptop[0]["rpId"], "localhost");
    assert_eq!(
        on_laptop[0]["isResidentCredential"], true,
        "a passkey is discoverable: it signs in without a username"
    );

    // The laptop goes away; a second device gets the second passkey, named after the browser.
    browser.remove_authenticator(&laptop).await;
    let phone = browser.add_authenticator().await;
    server.clock.advance(60);
    add_passkey(&browser, &server, None).await;
    let both = listed(&browser).await;
    assert_eq!(
        both.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>(),
        ["Work laptop", "Chrome on Linux"]
    );
    assert_eq!(browser.credentials(&phone).await.len(), 1);

    // Renamed.
    let phone_id = both[1].0.clone();
    browser.clear(&format!("#rename-{phone_id}")).await;
    browser
        .type_into(&format!("#rename-{phone_id}"), "Phone")
        .await;
    browser
        .click(&format!(
            "form[action='/account/passkeys/{phone_id}/rename'] button"
        ))
        .await;
    browser.wait_for_text("The passkey was renamed.").await;
    assert_eq!(
        listed(&browser)
            .await
            .iter()
            .map(|(_, n)| n.as_str())
            .collect::<Vec<_>>(),
        ["Work laptop", "Phone"]
    );
    browser.scroll_to("#passkeys").await;
    browser.screenshot("accounts-passkeys").await;

    // The laptop's passkey removed.
    let laptop_id = both[0].0.clone();
    browser
        .click(&format!(
            "form[action='/account/passkeys/{laptop_id}/delete'] button"
        ))
        .await;
    browser
        .wait_for_text("The passkey was removed; it signs in no more.")
        .await;
    assert_eq!(
        listed(&browser).await,
        [(phone_id.clone(), "Phone".to_owned())]
    );

    // Signed out, then in with the phone's passkey alone: no email, no password.
    sign_out(&browser).await;
    browser.goto(&server.url("/login")).await;
    browser.screenshot("accounts-passkeys-sign-in").await;
    browser.click("#passkey-sign-in").await;
    browser.wait_for_path("/account").await;
    assert!(browser.source().await.contains("ada@example.com"));
    assert_eq!(listed(&browser).await.len(), 1);
    assert!(
        browser.source().await.contains("last used"),
        "the use is recorded"
    );
    let phone_credential = &browser.credentials(&phone).await[0];
    assert!(
        phone_credential["signCount"].as_u64().unwrap_or(0) >= 1,
        "{phone_credential}"
    );

    // An app's ID token after a passkey sign-in: two kinds of factor.
    let claims = id_token_claims(&browser, &server).await;
    assert_eq!(claims["amr"], json!(["hwk", "user", "mfa"]), "{claims}");
    assert_eq!(claims["acr"], "urn:portcullis:mfa");
    assert_eq!(claims["email"], "ada@example.com");

    // The known user's ceremony (for a second-factor step), run in-process with this
    // browser's authenticator: verified once, its ceremony used once, a replay refused.
    browser.goto(&server.url("/account")).await;
    let rp =
        server::passkeys::RelyingParty::for_issuer(&url::Url::parse(&server.base).expect("url"))
            .expect("localhost is a relying party");
    let mut conn = db.store().conn().expect("conn");
    let ada = accounts::find_user_by_email(&mut conn, "ada@example.com")
        .expect("find")
        .expect("ada");
    let now = server.clock_now();
    let started = server::passkeys::start_for_user(&rp, &mut conn, &ada.id, now)
        .expect("start")
        .expect("ada has a passkey");
    assert_eq!(
        started.options["publicKey"]["allowCredentials"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "her one passkey is asked for"
    );
    let answer = browser
        .execute_async(GET_CREDENTIAL, vec![started.options.clone()])
        .await;
    let answer = answer.as_str().expect("a string").to_owned();
    assert!(!answer.starts_with("error"), "{answer}");
    assert!(
        server::passkeys::finish_for_user(&rp, &mut conn, &ada.id, &started.ceremony, &answer, now)
            .expect("finish"),
        "her passkey verifies"
    );
    assert!(matches!(
        server::passkeys::finish_for_user(&rp, &mut conn, &ada.id, &started.ceremony, &answer, now),
        Err(server::passkeys::PasskeyError::CeremonyUnknown)
    ));
    let again = server::passkeys::start_for_user(&rp, &mut conn, &ada.id, now)
        .expect("start")
        .expect("a ceremony");
    assert!(
        !server::passkeys::finish_for_user(&rp, &mut conn, &ada.id, &again.ceremony, &answer, now)
            .expect("finish"),
        "an answer to another challenge does not verify"
    );
    let third = server::passkeys::start_for_user(&rp, &mut conn, &ada.id, now)
        .expect("start")
        .expect("a ceremony");
    assert!(
        matches!(
            server::passkeys::finish_for_user(
                &rp,
                &mut conn,
                "usr_someone_else",
                &third.ceremony,
                &answer,
                now
            ),
            Err(server::passkeys::PasskeyError::CeremonyUnknown)
        ),
        "a ceremony is its user's"
    );
    drop(conn);

    // The removed passkey, still on a device, signs in no more.
    sign_out(&browser).await;
    browser.remove_authenticator(&phone).await;
    let old_laptop = browser.add_authenticator().await;
    browser.add_credential(&old_laptop, &on_laptop[0]).await;
    browser.goto(&server.url("/login")).await;
    browser.click("#passkey-sign-in").await;
    browser
        .wait_for_text("This passkey was not accepted here.")
        .await;
    browser.wait_for_path("/login").await;
    assert_eq!(
        server.get("/account").await.status(),
        303,
        "(a fresh client is not signed in either)"
    );
    let mut conn = db.store().conn().expect("conn");
    let recent = store::audit::recent(&mut conn, 100).expect("audit");
    assert!(
        recent.iter().any(|e| e.kind == "login.failed"
            && e.detail.contains("\"via\":\"passkey\"")
            && e.detail.contains("unknown_passkey")),
        "the refused passkey is audited"
    );
    let failed = store::audit::find_by_actor(&mut conn, &ada.id, 100).expect("audit");
    assert!(
        failed
            .iter()
            .any(|e| e.kind == "login.succeeded" && e.detail.contains("\"via\":\"passkey\""))
    );
    assert!(failed.iter().any(|e| e.kind == "passkey_added"));
    assert!(failed.iter().any(|e| e.kind == "passkey_removed"));
}

#[actix_web::test]
async fn a_disabled_user_does_not_sign_in_with_a_passkey() {
    let db = TestDb::sqlite();
    let server = TestServer::start_on_localhost(&db, |_| {});
    let browser = Browser::start().await;
    sign_up_here(&browser, &server, "Grace", "grace@example.com").await;
    let authenticator = browser.add_authenticator().await;
    add_passkey(&browser, &server, Some("Laptop")).await;
    sign_out(&browser).await;

    let mut conn = db.store().conn().expect("conn");
    let grace = accounts::find_user_by_email(&mut conn, "grace@example.com")
        .expect("find")
        .expect("grace");
    accounts::set_disabled(&mut conn, &grace.id, true, server.clock_now()).expect("disable");
    browser.goto(&server.url("/login")).await;
    browser.click("#passkey-sign-in").await;
    browser
        .wait_for_text("This passkey was not accepted here.")
        .await;
    accounts::set_disabled(&mut conn, &grace.id, false, server.clock_now()).expect("enable");
    // Enabled again, the same passkey signs in, and on to `return_to`.
    browser
        .goto(&server.url("/login?return_to=/password/forgot"))
        .await;
    browser.click("#passkey-sign-in").await;
    browser.wait_for_path("/password/forgot").await;

    // A device without the passkey offers none: the page says so, and nothing is sent.
    sign_out_by_form(&browser, &server).await;
    let held = browser.credentials(&authenticator).await;
    let id = held[0]["credentialId"].as_str().expect("an id");
    browser.remove_credential(&authenticator, id).await;
    assert!(browser.credentials(&authenticator).await.is_empty());
    browser.goto(&server.url("/login")).await;
    browser.click("#passkey-sign-in").await;
    browser.wait_for_text("No passkey was used.").await;
}

/// Signs out from the account page, wherever the browser is.
async fn sign_out_by_form(browser: &Browser, server: &TestServer) {
    browser.goto(&server.url("/account")).await;
    sign_out(browser).await;
}

#[actix_web::test]
async fn an_unverified_address_is_refused_when_verification_is_required() {
    let db = TestDb::sqlite();
    let server = TestServer::start_on_localhost(&db, |_| {});
    let browser = Browser::start().await;
    sign_up_here(&browser, &server, "Grace", "grace@example.com").await;
    let _authenticator = browser.add_authenticator().await;
    add_passkey(&browser, &server, Some("Laptop")).await;
    sign_out(&browser).await;
    drop(server);
    // The same database under a server that requires verified addresses.
    let strict = TestServer::start_on_localhost(&db, |s| s.require_verified_email = true);
    browser.goto(&strict.url("/login")).await;
    browser.click("#passkey-sign-in").await;
    browser
        .wait_for_text("Your email address is not verified yet.")
        .await;
    browser.wait_for_path("/login").await;
}

/// A signed-in browser-like client (sign-up on the page) and its session's CSRF token.
async fn signed_up(server: &TestServer, email: &str) -> (reqwest::Client, String) {
    let http = jar();
    sign_up(server, &http, email).await;
    let html = http
        .get(server.url("/account"))
        .send()
        .await
        .expect("account")
        .text()
        .await
        .expect("html");
    (http, hidden(&html, "csrf_token"))
}

on_both_backends! {
    async fn the_passkey_endpoints_refuse_without_the_csrf_token(db) {
        let server = TestServer::start_on_localhost(&db, |_| {});
        let (http, csrf) = signed_up(&server, "pat@example.com").await;
        for path in [
            "/account/passkeys/register/start",
            "/account/passkeys/register/finish",
            "/account/passkeys/pk_x/rename",
            "/account/passkeys/pk_x/delete",
        ] {
            for form in [vec![], vec![("csrf_token", "wrong")], vec![("csrf_token", "")]] {
                let res = http.post(server.url(path)).form(&form).send().await.expect("post");
                assert_eq!(res.status(), 403, "{path} {form:?}");
                assert!(res.text().await.expect("html").contains("This form has expired"), "{path}");
            }
        }
        // The sign-in ceremony before a session: the pcl_csrf cookie's token, or nothing.
        let stranger = jar();
        for path in ["/login/passkey/start", "/login/passkey/finish"] {
            let res = stranger.post(server.url(path)).form(&[("csrf_token", csrf.as_str())]).send().await.expect("post");
            assert_eq!(res.status(), 403, "{path}: a session's token is no pre-session token");
        }
        // With the token, the ceremony starts: this server is the relying party.
        let res = http
            .post(server.url("/account/passkeys/register/start"))
            .form(&[("csrf_token", csrf.as_str())])
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
        let started = json_of(res).await;
        assert_eq!(started["options"]["publicKey"]["rp"]["id"], "localhost");
        assert_eq!(started["options"]["publicKey"]["user"]["name"], "pat@example.com");
        assert_eq!(started["ceremony"].as_str().map(str::len), Some(43));
        // A finish that carries no credential is a clear 400, not a 500.
        let res = http
            .post(server.url("/account/passkeys/register/finish"))
            .form(&[("csrf_token", csrf.as_str()), ("ceremony", started["ceremony"].as_str().unwrap_or("")), ("credential", "{not json")])
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 400);
        assert_eq!(json_of(res).await["error"]["code"], "invalid_credential");
        let login = jar();
        let html = login.get(server.url("/login")).send().await.expect("login").text().await.expect("html");
        let pre = hidden(&html, "csrf_token");
        let res = login
            .post(server.url("/login/passkey/finish"))
            .form(&[("csrf_token", pre.as_str()), ("ceremony", "nope"), ("credential", "[]")])
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 400);
        assert_eq!(json_of(res).await["error"]["code"], "invalid_credential");
    }

    async fn adding_a_passkey_needs_a_recent_sign_in(db) {
        let server = TestServer::start_on_localhost(&db, |_| {});
        let (http, csrf) = signed_up(&server, "pat@example.com").await;
        let html = http.get(server.url("/account")).send().await.expect("get").text().await.expect("html");
        assert!(html.contains("id=\"passkey-add\""), "a fresh sign-in may add one");
        server.clock.advance(601);
        let html = http.get(server.url("/account")).send().await.expect("get").text().await.expect("html");
        assert!(!html.contains("id=\"passkey-add\""));
        assert!(html.contains("/login?reauth=1&amp;return_to=/account"), "the page links to signing in again");
        for path in ["/account/passkeys/register/start", "/account/passkeys/register/finish"] {
            let res = http.post(server.url(path)).form(&[("csrf_token", csrf.as_str())]).send().await.expect("post");
            assert_eq!(res.status(), 403, "{path}");
            let body = json_of(res).await;
            assert_eq!(body["error"]["code"], "reauthentication_required");
            assert_eq!(body["error"]["location"], "/login?reauth=1&return_to=/account");
        }
    }

    async fn passkeys_are_off_when_the_issuer_is_an_ip_address(db) {
        let server = TestServer::start(&db);
        let (http, csrf) = signed_up(&server, "pat@example.com").await;
        let html = http.get(server.url("/account")).send().await.expect("get").text().await.expect("html");
        assert!(!html.contains("Passkeys"), "no section");
        let login = jar().get(server.url("/login")).send().await.expect("get").text().await.expect("html");
        assert!(!login.contains("passkey"), "no button");
        let res = http.post(server.url("/account/passkeys/register/start")).form(&[("csrf_token", csrf.as_str())]).send().await.expect("post");
        assert_eq!(res.status(), 404);
        assert_eq!(json_of(res).await["error"]["code"], "passkeys_unavailable");
    }
}

/// A passkey answers the second step of a password sign-in, for an account with TOTP on: the
/// browser lands signed in with both factors (`pwd hwk user mfa`), no code typed.
#[actix_web::test]
async fn a_passkey_answers_the_second_step_after_the_password() {
    let db = TestDb::sqlite();
    let server = TestServer::start_on_localhost(&db, |_| {});
    let browser = Browser::start().await;
    sign_up_here(&browser, &server, "Ada", "ada@example.com").await;
    browser.add_authenticator().await;
    add_passkey(&browser, &server, Some("Phone")).await;
    // TOTP on, over the JSON API, so a password sign-in asks for a second factor.
    let login = server
        .post_json(
            "/api/v1/auth/login",
            &json!({ "email": "ada@example.com", "password": PASSWORD }),
        )
        .await;
    let token = json_of(login).await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let started = server
        .http
        .post(server.url("/api/v1/me/mfa/totp"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("totp");
    let secret = json_of(started).await["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let code = accounts::totp_code_for(&secret, server.clock_now()).expect("code");
    let confirmed = server
        .http
        .post(server.url("/api/v1/me/mfa/totp/confirm"))
        .bearer_auth(&token)
        .json(&json!({ "code": code }))
        .send()
        .await
        .expect("confirm");
    assert_eq!(confirmed.status(), 200);

    sign_out_by_form(&browser, &server).await;
    browser.goto(&server.url("/login")).await;
    browser.type_into("#email", "ada@example.com").await;
    browser.type_into("#password", PASSWORD).await;
    browser
        .click("form[action='/login'] button[type=submit]")
        .await;
    browser.wait_for_text("Enter your code").await;
    browser.click("#passkey-second-factor").await;
    browser.wait_for_path("/account").await;
    let claims = id_token_claims(&browser, &server).await;
    assert_eq!(claims["amr"], json!(["pwd", "hwk", "user", "mfa"]));
    assert_eq!(claims["acr"], "urn:portcullis:mfa");
}
