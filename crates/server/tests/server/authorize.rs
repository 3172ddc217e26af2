//! The authorization-code flow: `/oauth2/authorize`, consent, `/oauth2/token` (code and
//! refresh), userinfo and logout. The full flow runs in headless Chromium and is checked with
//! the `openidconnect` crate; the negative paths use plain HTTP with a cookie jar.

use std::net::TcpListener;

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse as _, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse as _,
};
use serde_json::{Value, json};
use url::Url;

use crate::browser::Browser;
use crate::common::*;

/// A redirect URI with nothing listening: the browser stops there and the test reads the URL.
pub(crate) fn dead_redirect_uri() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    format!("http://127.0.0.1:{port}/callback")
}

/// Registers a client for the code flow: public (PKCE, no secret) or confidential.
pub async fn code_client(server: &TestServer, public: bool, redirect_uri: &str) -> Value {
    let mut body = json!({
        "client_name": if public { "Notes SPA" } else { "Notes web" },
        "redirect_uris": [redirect_uri],
        "post_logout_redirect_uris": [format!("{redirect_uri}/bye")],
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid profile email offline_access",
    });
    if public {
        body["token_endpoint_auth_method"] = json!("none");
    }
    let res = server.post_json("/oauth2/register", &body).await;
    assert_eq!(res.status(), 201);
    json_of(res).await
}

fn http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn full_flow(server: &TestServer, public: bool) {
    let redirect_uri = dead_redirect_uri();
    let registered = code_client(server, public, &redirect_uri).await;
    let client_id = registered["client_id"].as_str().expect("id").to_owned();
    let http = http();
    let metadata = CoreProviderMetadata::discover_async(
        IssuerUrl::new(server.base.clone()).expect("issuer"),
        &http,
    )
    .await
    .expect("discovery");
    let secret = registered["client_secret"]
        .as_str()
        .map(|s| ClientSecret::new(s.to_owned()));
    let client =
        CoreClient::from_provider_metadata(metadata, ClientId::new(client_id.clone()), secret)
            .set_redirect_uri(RedirectUrl::new(redirect_uri.clone()).expect("redirect"));
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()));
    if public {
        request = request.set_pkce_challenge(challenge);
    }
    let (auth_url, csrf, nonce) = request.url();

    let browser = Browser::start().await;
    browser.goto(auth_url.as_str()).await;
    browser
        .type_into("input[name=email]", "grace@example.com")
        .await;
    // New user: create the account from the login page's link, then come back.
    browser.click("a[href^='/signup']").await;
    browser.type_into("#name", "Grace Hopper").await;
    browser.type_into("#email", "grace@example.com").await;
    browser.type_into("#password", "compiler-1952").await;
    browser.click("button[type=submit]").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !browser.source().await.contains("Allow") {
        assert!(
            std::time::Instant::now() < deadline,
            "no consent page: {}",
            browser.source().await
        );
    }
    let consent = browser.source().await;
    assert!(consent.contains(if public { "Notes SPA" } else { "Notes web" }));
    assert!(
        consent.contains("See your email address"),
        "scopes in plain words"
    );
    browser
        .screenshot(if public {
            "consent-public"
        } else {
            "consent-confidential"
        })
        .await;
    browser.click("button[value=allow]").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let back = loop {
        let url = browser.url().await;
        if url.starts_with(&redirect_uri) {
            break Url::parse(&url).expect("url");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not redirected: {url}"
        );
    };
    let param = |name: &str| {
        back.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some(csrf.secret().as_str()));
    assert_eq!(
        param("iss").as_deref(),
        Some(server.base.as_str()),
        "RFC 9207"
    );
    let code = param("code").expect("a code");

    let mut exchange = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("token url");
    if public {
        exchange = exchange.set_pkce_verifier(verifier);
    }
    let tokens = exchange.request_async(&http).await.expect("token response");
    let id_token = tokens.id_token().expect("an id_token");
    let id_verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&id_verifier, &nonce)
        .expect("valid ID token: signature, iss, aud, nonce");
    assert_eq!(
        claims.email().map(|e| e.as_str()),
        Some("grace@example.com")
    );
    assert!(claims.auth_time().is_some());
    // How the user signed in (RFC 8176), as the openidconnect crate reads it.
    let amr: Vec<&str> = claims
        .auth_method_refs()
        .expect("amr")
        .iter()
        .map(|m| m.as_str())
        .collect();
    assert_eq!(amr, ["pwd"]);
    assert_eq!(
        claims.auth_context_ref().map(|a| a.as_str()),
        Some("urn:portcullis:pwd")
    );
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().expect("alg"),
        id_token.signing_key(&id_verifier).expect("key"),
    )
    .expect("hash");
    assert_eq!(claims.access_token_hash(), Some(&expected_hash), "at_hash");

    let info: openidconnect::core::CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .expect("userinfo url")
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.email().map(|e| e.as_str()), Some("grace@example.com"));

    let refresh = tokens.refresh_token().expect("a refresh token").clone();
    let rotated = client
        .exchange_refresh_token(&refresh)
        .expect("url")
        .request_async(&http)
        .await
        .expect("refresh");
    let new_refresh = rotated.refresh_token().expect("rotated").clone();
    assert_ne!(new_refresh.secret(), refresh.secret());
    assert!(
        client
            .exchange_refresh_token(&refresh)
            .expect("url")
            .request_async(&http)
            .await
            .is_err(),
        "the old one is spent"
    );
    assert!(
        client
            .exchange_refresh_token(&new_refresh)
            .expect("url")
            .request_async(&http)
            .await
            .is_err(),
        "and its reuse revoked the family"
    );

    // RP-initiated logout with the ID token as hint: signed out, back to the app with state.
    let mut logout = Url::parse(&server.url("/oauth2/logout")).expect("url");
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", &id_token.to_string())
        .append_pair("post_logout_redirect_uri", &format!("{redirect_uri}/bye"))
        .append_pair("state", "see-you");
    // Chrome may load the address again after the redirect hits the dead end; the session is
    // gone by then, so that second request asks before sending the browser on (RP-Initiated
    // Logout 1.0 §2), and the test answers.
    browser.goto_expecting_dead_end(logout.as_str()).await;
    // Answered once: until the answer's navigation commits, the browser still reports the
    // question's address and source, and a second click would find the next page instead.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut answered = false;
    loop {
        let url = browser.url().await;
        if url.starts_with(&format!("{redirect_uri}/bye")) {
            assert!(url.contains("state=see-you"), "{url}");
            break;
        }
        if !answered
            && url.starts_with(&server.url("/oauth2/logout"))
            && browser.source().await.contains("Leave Portcullis?")
        {
            browser.click("button[type=submit]").await;
            answered = true;
            continue;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not sent back after logout: {url}"
        );
    }
    browser.goto(&server.url("/account")).await;
    browser.wait_for_path("/login?return_to=/account").await;
}

on_both_backends! {
    async fn a_public_client_with_pkce_runs_the_whole_flow(db) {
        let server = TestServer::start(&db);
        full_flow(&server, true).await;
    }

    async fn a_confidential_client_runs_the_whole_flow(db) {
        let server = TestServer::start(&db);
        full_flow(&server, false).await;
    }
}
