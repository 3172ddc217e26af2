//! Signing in with another OpenID provider: a second Portcullis is the upstream provider
//! (the full server on its own database, on 127.0.0.2, so the browser keeps the two servers'
//! cookies apart), with a confidential client registered on it for the downstream server's
//! callback. The flows run in headless Chromium; the screenshots of `docs/accounts.md` are
//! taken here. The tampered-state test runs over plain HTTP on both backends.

use std::net::TcpListener;

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    RedirectUrl, Scope, TokenResponse as _,
};
use url::Url;

use crate::browser::Browser;
use crate::common::*;

/// The downstream server and its upstream provider, each on its own database.
pub struct Pair {
    pub up: TestServer,
    pub down: TestServer,
    pub down_db: TestDb,
    _up_db: TestDb,
}

/// Starts the upstream (on 127.0.0.2), registers the downstream's client on it, and starts
/// the downstream (on 127.0.0.1) with `[upstream.corp]` pointing at it.
pub async fn pair(down_db: TestDb, up_db: TestDb) -> Pair {
    let up_listener = TcpListener::bind("127.0.0.2:0").expect("bind 127.0.0.2");
    let up = TestServer::start_on(&up_db, up_listener, |_| {}, |_| {});
    let down_listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = down_listener.local_addr().expect("addr").port();
    let callback = format!("http://127.0.0.1:{port}/login/upstream/corp/callback");
    let registered = crate::authorize::code_client(&up, false, &callback).await;
    let client_id = registered["client_id"].as_str().expect("id").to_owned();
    let secret = registered["client_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let issuer = Url::parse(&up.base).expect("issuer");
    let down = TestServer::start_on(
        &down_db,
        down_listener,
        |s| {
            s.upstream = vec![server::UpstreamProvider {
                name: "corp".into(),
                issuer,
                client_id,
                client_secret: Some(server::UpstreamSecret::new(secret)),
                display_name: "Corp ID".into(),
                scopes: scopes("openid email profile"),
            }];
        },
        |_| {},
    );
    Pair {
        up,
        down,
        down_db,
        _up_db: up_db,
    }
}

/// Signs in on the sign-in page the browser is on (either server's).
async fn sign_in_here(browser: &Browser, email: &str, password: &str) {
    browser.wait_for_text("Sign in").await;
    browser.clear("#email").await;
    browser.type_into("#email", email).await;
    browser.type_into("#password", password).await;
    browser
        .click("form[action='/login'] button[type=submit]")
        .await;
}

/// From the downstream sign-in page: "Sign in with Corp ID", then the upstream's own sign-in
/// page and consent (allowed, or denied).
async fn sign_in_upstream(browser: &Browser, up: &TestServer, email: &str, allow: bool) {
    browser.click("#upstream-corp").await;
    upstream_sign_in_and_consent(browser, up, email, allow).await;
}

async fn upstream_sign_in_and_consent(
    browser: &Browser,
    up: &TestServer,
    email: &str,
    allow: bool,
) {
    wait_for_url_prefix(browser, &up.base).await;
    sign_in_here(browser, email, "correct horse").await;
    browser.wait_for_text("Allow").await;
    let decision = if allow { "allow" } else { "deny" };
    browser.click(&format!("button[value={decision}]")).await;
}

/// "Sign in with Corp ID" while signed in at the provider: it signs the browser straight back,
/// after its consent page if it shows one again.
async fn sign_in_upstream_again(browser: &Browser, up: &TestServer) {
    browser.click("#upstream-corp").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let url = browser.url().await;
        if url.starts_with(&up.base) && browser.source().await.contains("value=\"allow\"") {
            browser.click("button[value=allow]").await;
        } else if url.ends_with("/account") && !url.starts_with(&up.base) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "at {url}");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn wait_for_url_prefix(browser: &Browser, prefix: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let url = browser.url().await;
        if url.starts_with(prefix) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "at {url}, expected {prefix}…"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn users_of(db: &TestDb) -> Vec<accounts::User> {
    let mut conn = db.store().conn().expect("conn");
    accounts::list_users(&mut conn).expect("users")
}

fn identities_of(db: &TestDb, user_id: &str) -> Vec<accounts::UpstreamIdentity> {
    let mut conn = db.store().conn().expect("conn");
    accounts::upstream_identities(&mut conn, user_id).expect("identities")
}

#[actix_web::test]
async fn a_new_account_signs_in_upstream_with_amr_fed_and_again_to_the_same_account() {
    let p = pair(TestDb::sqlite(), TestDb::sqlite()).await;
    crate::api_auth::signup(&p.up, "grace@corp.example", "Grace Hopper").await;

    // A relying party of the downstream server starts a code flow.
    let redirect_uri = format!(
        "http://127.0.0.1:{}/rp/callback",
        TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port()
    );
    let rp = crate::authorize::code_client(&p.down, false, &redirect_uri).await;
    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let metadata = CoreProviderMetadata::discover_async(
        IssuerUrl::new(p.down.base.clone()).expect("issuer"),
        &http,
    )
    .await
    .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(rp["client_id"].as_str().expect("id").to_owned()),
        Some(ClientSecret::new(
            rp["client_secret"].as_str().expect("secret").to_owned(),
        )),
    )
    .set_redirect_uri(RedirectUrl::new(redirect_uri.clone()).expect("redirect"));
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, _, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();

    let browser = Browser::start().await;
    browser.goto(auth_url.as_str()).await;
    browser.wait_for_text("Sign in with Corp ID").await;
    browser.screenshot("accounts-upstream-sign-in").await;
    sign_in_upstream(&browser, &p.up, "grace@corp.example", true).await;
    // Back downstream, signed in as a new account: the relying party's consent.
    wait_for_url_prefix(&browser, &p.down.base).await;
    browser.wait_for_text("Allow").await;
    browser.click("button[value=allow]").await;
    wait_for_url_prefix(&browser, &redirect_uri).await;
    let back = Url::parse(&browser.url().await).expect("url");
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("token url")
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("tokens");
    let id_verifier = client.id_token_verifier();
    let claims = tokens
        .id_token()
        .expect("an ID token")
        .claims(&id_verifier, &nonce)
        .expect("valid");
    let amr: Vec<&str> = claims
        .auth_method_refs()
        .expect("amr")
        .iter()
        .map(|m| m.as_str())
        .collect();
    assert_eq!(amr, ["fed"], "signed in at another provider");
    assert_eq!(
        claims.email().map(|e| e.as_str()),
        Some("grace@corp.example")
    );

    let users = users_of(&p.down_db);
    assert_eq!(users.len(), 1);
    let grace = &users[0];
    assert!(
        !grace.email_verified,
        "the upstream did not vouch for the address"
    );
    let ids = identities_of(&p.down_db, &grace.id);
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0].issuer, p.up.base);

    // The account page lists the identity; it is the only way in, so it cannot be unlinked.
    browser.goto(&p.down.url("/account")).await;
    browser.wait_for_text("Sign-in with other providers").await;
    assert_eq!(browser.count("#no-password").await, 1);
    browser.scroll_to("#linked").await;
    browser.screenshot("accounts-upstream-account").await;
    browser.click("button[aria-label='Unlink Corp ID']").await;
    browser
        .wait_for_text("This is your only way to sign in")
        .await;
    browser.scroll_to("#error").await;
    browser.screenshot("accounts-upstream-last-way-in").await;
    assert_eq!(identities_of(&p.down_db, &grace.id).len(), 1);

    // Signed out downstream, in again through the provider (signed in there still, consent
    // remembered): the same account, no second one.
    browser.click("form[action='/logout'] button").await;
    browser.wait_for_path("/login").await;
    sign_in_upstream_again(&browser, &p.up).await;
    assert_eq!(browser.text("#profile-email").await, "grace@corp.example");
    assert_eq!(users_of(&p.down_db).len(), 1);
}

#[actix_web::test]
async fn linking_to_a_signed_in_account_and_unlinking() {
    let p = pair(TestDb::sqlite(), TestDb::sqlite()).await;
    crate::api_auth::signup(&p.down, "ada@example.com", "Ada").await;
    // Ada's identity at the provider has another address: linking does not look at it.
    crate::api_auth::signup(&p.up, "ada.lovelace@corp.example", "Ada").await;
    let ada = users_of(&p.down_db).remove(0);

    let browser = Browser::start().await;
    browser.goto(&p.down.url("/login")).await;
    sign_in_here(&browser, "ada@example.com", "correct horse").await;
    browser.wait_for_path("/account").await;
    browser
        .click("form[action='/account/upstream/corp/link'] button")
        .await;
    upstream_sign_in_and_consent(&browser, &p.up, "ada.lovelace@corp.example", true).await;
    browser
        .wait_for_path("/account?notice=upstream_linked")
        .await;
    assert_eq!(
        browser.text("#notice").await,
        "The identity is linked: you can sign in with it."
    );
    let ids = identities_of(&p.down_db, &ada.id);
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0].email.as_deref(), Some("ada.lovelace@corp.example"));
    browser.scroll_to("#linked").await;
    browser.screenshot("accounts-upstream-linked").await;

    // Signed out, "Sign in with Corp ID" is Ada's account.
    browser.click("form[action='/logout'] button").await;
    browser.wait_for_path("/login").await;
    sign_in_upstream_again(&browser, &p.up).await;
    assert_eq!(browser.text("#profile-email").await, "ada@example.com");

    // Ada has a password, so her one identity may go.
    browser.click("button[aria-label='Unlink Corp ID']").await;
    browser
        .wait_for_path("/account?notice=upstream_unlinked")
        .await;
    assert!(identities_of(&p.down_db, &ada.id).is_empty());
    assert_eq!(
        browser.count("button[aria-label='Unlink Corp ID']").await,
        0
    );
    assert_eq!(
        browser
            .count("form[action='/account/upstream/corp/link']")
            .await,
        1
    );
    // The audit log has both.
    let mut conn = p.down_db.store().conn().expect("conn");
    let kinds: Vec<String> = store::audit::find_by_actor(&mut conn, &ada.id, 100)
        .expect("audit")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(kinds.iter().any(|k| k == "upstream.linked"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "upstream.unlinked"), "{kinds:?}");
}

#[actix_web::test]
async fn an_upstream_error_is_shown_as_a_page() {
    let p = pair(TestDb::sqlite(), TestDb::sqlite()).await;
    crate::api_auth::signup(&p.up, "grace@corp.example", "Grace").await;
    let browser = Browser::start().await;
    browser.goto(&p.down.url("/login")).await;
    sign_in_upstream(&browser, &p.up, "grace@corp.example", false).await;
    wait_for_url_prefix(&browser, &p.down.url("/login/upstream/corp/callback")).await;
    let page = browser
        .wait_for_text("Sign-in with the provider was not completed")
        .await;
    assert!(page.contains("Error 403"), "{page}");
    assert!(page.contains("Corp ID did not sign you in: access was denied"));
    browser.screenshot("accounts-upstream-denied").await;
    assert!(users_of(&p.down_db).is_empty());
}

on_both_backends! {
    async fn a_tampered_or_replayed_state_is_refused(db) {
        let p = pair(db, TestDb::sqlite()).await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .expect("client");
        let res = http.get(p.down.url("/login/upstream/corp?return_to=/account")).send().await.expect("start");
        assert_eq!(res.status(), 303);
        let cookie = res.headers().get_all("set-cookie").iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("pcl_upstream="))
            .expect("the browser binding")
            .to_owned();
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
        let location = Url::parse(res.headers()["location"].to_str().expect("location")).expect("url");
        assert!(location.as_str().starts_with(&p.up.url("/oauth2/authorize")), "{location}");
        let param = |name: &str| location.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
        assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
        assert!(param("nonce").is_some());
        let state = param("state").expect("state");

        let callback = |state: &str| p.down.url(&format!("/login/upstream/corp/callback?state={state}&code=anything"));
        let tampered = format!("{}x", &state[..state.len() - 1]);
        for (what, client, state) in [
            ("tampered", &http, tampered.as_str()),
            ("missing", &http, ""),
            ("another browser", &p.down.http, state.as_str()),
            ("replayed after the other browser used it", &http, state.as_str()),
        ] {
            let res = client.get(callback(state)).send().await.expect("callback");
            assert_eq!(res.status(), 400, "{what}");
            let body = res.text().await.expect("body");
            assert!(body.contains("This sign-in cannot be completed"), "{what}: {body}");
        }
        // An unknown provider is no page at all.
        assert_eq!(http.get(p.down.url("/login/upstream/nope")).send().await.expect("get").status(), 404);
        assert!(users_of(&p.down_db).is_empty());
    }
}

/// A provider's sign-in is one factor: an account with TOTP on gives its code next, as after a
/// password, instead of getting a session from the provider alone.
#[actix_web::test]
async fn attack_second_factor_bypass_through_an_upstream_provider() {
    let p = pair(TestDb::sqlite(), TestDb::sqlite()).await;
    let signed_up = crate::api_auth::signup(&p.down, "ada@example.com", "Ada").await;
    let token = signed_up["token"].as_str().expect("token").to_owned();
    crate::api_auth::signup(&p.up, "ada.lovelace@corp.example", "Ada").await;
    let browser = Browser::start().await;
    browser.goto(&p.down.url("/login")).await;
    sign_in_here(&browser, "ada@example.com", "correct horse").await;
    browser.wait_for_path("/account").await;
    browser
        .click("form[action='/account/upstream/corp/link'] button")
        .await;
    upstream_sign_in_and_consent(&browser, &p.up, "ada.lovelace@corp.example", true).await;
    browser
        .wait_for_path("/account?notice=upstream_linked")
        .await;

    // TOTP on, over the JSON API.
    let started = p
        .down
        .http
        .post(p.down.url("/api/v1/me/mfa/totp"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("totp");
    let secret = json_of(started).await["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let code = accounts::totp_code_for(&secret, p.down.clock_now()).expect("code");
    let confirmed = p
        .down
        .http
        .post(p.down.url("/api/v1/me/mfa/totp/confirm"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "code": code }))
        .send()
        .await
        .expect("confirm");
    assert_eq!(confirmed.status(), 200);

    browser.click("form[action='/logout'] button").await;
    browser.wait_for_path("/login").await;
    browser.click("#upstream-corp").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let url = browser.url().await;
        if url.starts_with(&p.up.base) && browser.source().await.contains("value=\"allow\"") {
            browser.click("button[value=allow]").await;
        } else if url.starts_with(&p.down.url("/login/mfa")) {
            break;
        }
        assert!(
            !url.ends_with("/account"),
            "signed in by the provider alone"
        );
        assert!(std::time::Instant::now() < deadline, "at {url}");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    browser.wait_for_text("Enter your code").await;
    p.down.clock.advance(30);
    let code = accounts::totp_code_for(&secret, p.down.clock_now()).expect("code");
    browser.type_into("#code", &code).await;
    browser
        .click("form[action='/login/mfa'] button[type=submit]")
        .await;
    browser.wait_for_path("/account").await;
    assert_eq!(browser.text("#profile-email").await, "ada@example.com");
}
