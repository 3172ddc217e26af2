//! The device authorization grant (RFC 8628): `/oauth2/device_authorization`, the `/device`
//! page, and polling the token endpoint. The full flow is driven by the `oauth2` crate's device
//! flow (its waits move the server's clock instead of sleeping); the page once in Chromium;
//! every polling error and the attacks with plain HTTP.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, ClientId, DeviceAuthorizationUrl, Scope, StandardDeviceAuthorizationResponse,
    TokenResponse as _, TokenUrl,
};
use serde_json::{Value, json};
use url::Url;

use crate::authorize_errors::{hidden, jar, sign_up};
use crate::browser::Browser;
use crate::common::*;
use crate::token::{oauth_http, verify_with_jwks};

const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Extra form parameters of a request.
type Extra<'a> = &'a [(&'a str, &'a str)];

/// Registers a device-flow client: public (it names itself) or confidential.
async fn device_client(server: &TestServer, name: &str, public: bool) -> (String, Option<String>) {
    let mut body = json!({
        "client_name": name,
        "grant_types": [GRANT, "refresh_token"],
        "scope": "openid profile email offline_access",
    });
    if public {
        body["token_endpoint_auth_method"] = json!("none");
    }
    let res = server.post_json("/oauth2/register", &body).await;
    assert_eq!(res.status(), 201);
    let registered = json_of(res).await;
    assert!(
        registered["grant_types"]
            .as_array()
            .expect("grants")
            .iter()
            .any(|g| g == GRANT),
        "{registered}"
    );
    (
        registered["client_id"].as_str().expect("id").to_owned(),
        registered["client_secret"].as_str().map(str::to_owned),
    )
}

/// `POST /oauth2/device_authorization` for a public client, with these extra parameters.
async fn start(server: &TestServer, client_id: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut form = vec![("client_id", client_id)];
    form.extend_from_slice(extra);
    server
        .post_form("/oauth2/device_authorization", None, &form)
        .await
}

async fn started(server: &TestServer, client_id: &str) -> Value {
    let res = start(server, client_id, &[("scope", "openid email")]).await;
    assert_eq!(res.status(), 200);
    json_of(res).await
}

/// One poll of the token endpoint by a public client.
async fn poll(server: &TestServer, client_id: &str, device_code: &str) -> (u16, Value) {
    let res = server
        .post_form(
            "/oauth2/token",
            None,
            &[
                ("grant_type", GRANT),
                ("device_code", device_code),
                ("client_id", client_id),
            ],
        )
        .await;
    let status = res.status().as_u16();
    (status, json_of(res).await)
}

fn error_of(answer: &(u16, Value)) -> (u16, &str) {
    (answer.0, answer.1["error"].as_str().unwrap_or("(none)"))
}

/// A browser session (cookie jar) of a new user.
async fn signed_in(server: &TestServer, email: &str) -> reqwest::Client {
    let http = jar();
    sign_up(server, &http, email).await;
    http
}

/// `GET /device?user_code=…` in a signed-in session.
async fn device_page(
    server: &TestServer,
    http: &reqwest::Client,
    typed: &str,
) -> reqwest::Response {
    let mut url = Url::parse(&server.url("/device")).expect("url");
    url.query_pairs_mut().append_pair("user_code", typed);
    http.get(url).send().await.expect("device page")
}

/// Types the code, then allows or denies on the page.
async fn decide(
    server: &TestServer,
    http: &reqwest::Client,
    user_code: &str,
    decision: &str,
) -> String {
    let res = device_page(server, http, user_code).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.expect("html");
    let res = http
        .post(server.url("/device"))
        .form(&[
            ("csrf_token", hidden(&html, "csrf_token").as_str()),
            ("user_code", hidden(&html, "user_code").as_str()),
            ("decision", decision),
        ])
        .send()
        .await
        .expect("decision");
    assert_eq!(res.status(), 200);
    res.text().await.expect("html")
}

on_both_backends! {
    async fn a_cli_signs_a_user_in_with_the_oauth2_crates_device_flow(db) {
        let server = TestServer::start(&db);
        let discovery = json_of(server.get("/.well-known/openid-configuration").await).await;
        assert_eq!(discovery["device_authorization_endpoint"], server.url("/oauth2/device_authorization"));
        assert!(discovery["grant_types_supported"].as_array().expect("list").iter().any(|g| g == GRANT));

        let (client_id, _) = device_client(&server, "Notes CLI", true).await;
        let client = BasicClient::new(ClientId::new(client_id.clone()))
            .set_auth_type(AuthType::RequestBody)
            .set_device_authorization_url(
                DeviceAuthorizationUrl::new(discovery["device_authorization_endpoint"].as_str().expect("url").to_owned()).expect("url"),
            )
            .set_token_uri(TokenUrl::new(server.url("/oauth2/token")).expect("url"));
        let http = oauth_http();
        let details: StandardDeviceAuthorizationResponse = client
            .exchange_device_code()
            .add_scope(Scope::new("openid".into()))
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("offline_access".into()))
            .request_async(&http)
            .await
            .expect("device authorization");
        let user_code = details.user_code().secret().clone();
        assert_eq!(user_code.len(), 9);
        assert_eq!(&user_code[4..5], "-");
        assert!(user_code.chars().filter(|c| *c != '-').all(|c| "BCDFGHJKLMNPQRSTVWXZ".contains(c)), "{user_code}");
        assert_eq!(details.verification_uri().as_str(), server.url("/device"));
        assert_eq!(
            details.verification_uri_complete().map(|u| u.secret().clone()),
            Some(format!("{}?user_code={user_code}", server.url("/device")))
        );
        assert_eq!(details.interval(), Duration::from_secs(5));
        assert_eq!(details.expires_in(), Duration::from_secs(600));

        // The user approves while the CLI waits: its first wait is spent signing in and
        // allowing; every wait moves the server's clock by what the client would sleep.
        let browser = signed_in(&server, "ada@example.com").await;
        let waits = Arc::new(AtomicUsize::new(0));
        let sleep = {
            let (waits, clock, server_base, browser, code) = (waits.clone(), server.clock.clone(), server.base.clone(), browser.clone(), user_code.clone());
            move |d: Duration| {
                let first = waits.fetch_add(1, Ordering::SeqCst) == 0;
                clock.advance(i64::try_from(d.as_secs()).expect("secs"));
                let (base, browser, code) = (server_base.clone(), browser.clone(), code.clone());
                async move {
                    if first {
                        let url = format!("{base}/device?user_code={}", code.to_lowercase().replace('-', ""));
                        let html = browser.get(url).send().await.expect("page").text().await.expect("html");
                        assert!(html.contains("Notes CLI"), "{html}");
                        let res = browser
                            .post(format!("{base}/device"))
                            .form(&[
                                ("csrf_token", hidden(&html, "csrf_token").as_str()),
                                ("user_code", hidden(&html, "user_code").as_str()),
                                ("decision", "allow"),
                            ])
                            .send()
                            .await
                            .expect("allow");
                        assert_eq!(res.status(), 200);
                    }
                }
            }
        };
        let token = client
            .exchange_device_access_token(&details)
            .request_async(&http, sleep, None)
            .await
            .expect("tokens");
        assert_eq!(waits.load(Ordering::SeqCst), 1, "one authorization_pending, then the tokens");
        let claims = verify_with_jwks(&server, token.access_token().secret(), &server.base).await;
        assert_eq!(claims["client_id"], client_id.as_str());
        assert_eq!(claims["scope"], "openid email offline_access");
        assert!(token.refresh_token().is_some(), "offline_access with the refresh grant");

        // The refresh token works as the code flow's does.
        let refreshed = client
            .exchange_refresh_token(token.refresh_token().expect("refresh"))
            .request_async(&http)
            .await
            .expect("refresh");
        assert!(!refreshed.access_token().secret().is_empty());
    }

    async fn an_openid_device_grant_gets_an_id_token_and_the_users_subject(db) {
        let server = TestServer::start(&db);
        let (client_id, _) = device_client(&server, "TV app", true).await;
        let start = started(&server, &client_id).await;
        let browser = signed_in(&server, "grace@example.com").await;
        let page = device_page(&server, &browser, start["user_code"].as_str().expect("code")).await.text().await.expect("html");
        assert!(page.contains("id=\"app-unverified\""), "a self-registered client is marked, host or not: {page}");
        let done = decide(&server, &browser, start["user_code"].as_str().expect("code"), "allow").await;
        assert!(done.contains("You allowed the device"), "{done}");
        let (status, body) = poll(&server, &client_id, start["device_code"].as_str().expect("dc")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["scope"], "openid email");
        let id_token = body["id_token"].as_str().expect("id token for openid");
        let payload = id_token.split('.').nth(1).expect("payload");
        use base64::Engine as _;
        let claims: Value = serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json");
        assert_eq!(claims["aud"], client_id.as_str());
        assert_eq!(claims["email"], "grace@example.com");
        let access = verify_with_jwks(&server, body["access_token"].as_str().expect("at"), &server.base).await;
        assert_eq!(access["sub"], claims["sub"]);
    }

    async fn rfc8628_3_5_every_polling_error(db) {
        let server = TestServer::start(&db);
        let (client_id, _) = device_client(&server, "Poller", true).await;
        let start = started(&server, &client_id).await;
        let dc = start["device_code"].as_str().expect("dc");

        assert_eq!(error_of(&poll(&server, &client_id, dc).await), (400, "authorization_pending"));
        // Again at once: too fast; the interval grows from 5 to 10 seconds.
        assert_eq!(error_of(&poll(&server, &client_id, dc).await), (400, "slow_down"));
        server.clock.advance(5);
        let (status, body) = poll(&server, &client_id, dc).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("slow_down")), "5 s is no longer enough: {body}");
        // That one grew it to 15.
        server.clock.advance(10);
        assert_eq!(error_of(&poll(&server, &client_id, dc).await), (400, "slow_down"));
        server.clock.advance(20);
        assert_eq!(error_of(&poll(&server, &client_id, dc).await), (400, "authorization_pending"));

        // Ten minutes after it was issued, the code is dead, whatever happens on the page.
        server.clock.advance(600);
        assert_eq!(error_of(&poll(&server, &client_id, dc).await), (400, "expired_token"));
        let browser = signed_in(&server, "late@example.com").await;
        let res = device_page(&server, &browser, start["user_code"].as_str().expect("uc")).await;
        assert_eq!(res.status(), 400, "an expired user code is not shown");

        // Not a device code of ours; no device code at all.
        assert_eq!(error_of(&poll(&server, &client_id, "not-a-device-code").await), (400, "invalid_grant"));
        let res = server.post_form("/oauth2/token", None, &[("grant_type", GRANT), ("client_id", &client_id)]).await;
        assert_eq!(res.status(), 400);
        assert_eq!(json_of(res).await["error"], "invalid_request");
        // A client not registered for the grant may not poll, whatever code it has.
        let res = server.post_json("/oauth2/register", &json!({"redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "none"})).await;
        let code_only = json_of(res).await["client_id"].as_str().expect("id").to_owned();
        assert_eq!(error_of(&poll(&server, &code_only, dc).await), (400, "unauthorized_client"));
    }

    async fn attack_a_denied_code_polled_never_gets_tokens(db) {
        let server = TestServer::start(&db);
        let (client_id, _) = device_client(&server, "Sneaky CLI", true).await;
        let start = started(&server, &client_id).await;
        let dc = start["device_code"].as_str().expect("dc");
        let browser = signed_in(&server, "bob@example.com").await;
        let done = decide(&server, &browser, start["user_code"].as_str().expect("uc"), "deny").await;
        assert!(done.contains("You denied the request"), "{done}");
        for _ in 0..3 {
            assert_eq!(error_of(&poll(&server, &client_id, dc).await), (400, "access_denied"));
            server.clock.advance(30);
        }
        // A denied code cannot be approved afterwards either.
        let res = device_page(&server, &browser, start["user_code"].as_str().expect("uc")).await;
        assert_eq!(res.status(), 400);
        assert_eq!(error_of(&poll(&server, &client_id, dc).await), (400, "access_denied"));
    }

    async fn attack_a_spent_device_code_replayed(db) {
        let server = TestServer::start(&db);
        let (client_id, _) = device_client(&server, "Once CLI", true).await;
        let start = started(&server, &client_id).await;
        let dc = start["device_code"].as_str().expect("dc");
        let browser = signed_in(&server, "carol@example.com").await;
        decide(&server, &browser, start["user_code"].as_str().expect("uc"), "allow").await;
        assert_eq!(poll(&server, &client_id, dc).await.0, 200);
        for wait in [0, 10] {
            server.clock.advance(wait);
            assert_eq!(error_of(&poll(&server, &client_id, dc).await), (400, "invalid_grant"));
        }
    }

    async fn attack_a_device_code_used_by_another_client(db) {
        let server = TestServer::start(&db);
        let (victim, _) = device_client(&server, "Victim CLI", true).await;
        let (thief, thief_secret) = device_client(&server, "Thief", false).await;
        let start = started(&server, &victim).await;
        let dc = start["device_code"].as_str().expect("dc");
        let browser = signed_in(&server, "dave@example.com").await;
        decide(&server, &browser, start["user_code"].as_str().expect("uc"), "allow").await;
        // The other client authenticates as itself and presents the victim's device code.
        let res = server
            .post_form(
                "/oauth2/token",
                Some((&thief, thief_secret.as_deref().expect("secret"))),
                &[("grant_type", GRANT), ("device_code", dc)],
            )
            .await;
        assert_eq!(res.status(), 400);
        let body = json_of(res).await;
        assert_eq!(body["error"], "invalid_grant");
        assert!(body.get("access_token").is_none());
        // The code stays bound to its client, unspent.
        assert_eq!(poll(&server, &victim, dc).await.0, 200, "the rightful client still gets its tokens");
    }

    async fn attack_user_code_brute_force_is_limited(db) {
        let server = TestServer::start_with(&db, |s| s.rate_limits.device_code = 3);
        let (client_id, _) = device_client(&server, "Guessed CLI", true).await;
        let start = started(&server, &client_id).await;
        let right = start["user_code"].as_str().expect("uc").to_owned();
        // Start of a fresh one-minute window, so the test does not straddle two.
        let now = server.clock_now();
        server.clock.set(now - now.rem_euclid(60));
        let guesser = signed_in(&server, "mallory@example.com").await;
        for guess in ["BBBB-BBBB", "CCCC-CCCC", "not a code"] {
            let res = device_page(&server, &guesser, guess).await;
            assert_eq!(res.status(), 400, "{guess}");
            assert!(res.text().await.expect("html").contains("That code is not valid"));
        }
        // Over the limit: even the right code is not looked up.
        let res = device_page(&server, &guesser, &right).await;
        assert_eq!(res.status(), 429);
        assert!(res.headers().contains_key("retry-after"));
        let html = res.text().await.expect("html");
        assert!(html.contains("Too many wrong codes") && !html.contains("Guessed CLI"), "{html}");
        // A second session from the same address is counted with the first (per IP).
        let second = signed_in(&server, "mallory2@example.com").await;
        assert_eq!(device_page(&server, &second, &right).await.status(), 429);
        // The POST of a decision is held to the same limit.
        let account = second.get(server.url("/account")).send().await.expect("account").text().await.expect("html");
        let csrf = hidden(&account, "csrf_token");
        let res = second.post(server.url("/device")).form(&[("csrf_token", csrf.as_str()), ("user_code", right.as_str()), ("decision", "allow")]).send().await.expect("post");
        assert_eq!(res.status(), 429);
        assert_eq!(error_of(&poll(&server, &client_id, start["device_code"].as_str().expect("dc")).await), (400, "authorization_pending"));
        // The next minute, the right code works (it lives ten minutes).
        server.clock.advance(60);
        let res = device_page(&server, &second, &right).await;
        assert_eq!(res.status(), 200);
        assert!(res.text().await.expect("html").contains("Guessed CLI"));
    }

    async fn the_device_authorization_endpoint_refuses_what_rfc8628_3_1_refuses(db) {
        let server = TestServer::start(&db);
        let (client_id, _) = device_client(&server, "Strict CLI", true).await;
        // A client without the device grant.
        let res = server.post_json("/oauth2/register", &json!({"redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "none"})).await;
        let code_only = json_of(res).await["client_id"].as_str().expect("id").to_owned();
        let cases: [(&str, Extra, u16, &str); 5] = [
            (code_only.as_str(), &[], 400, "unauthorized_client"),
            (client_id.as_str(), &[("scope", "orders:write")], 400, "invalid_scope"),
            (client_id.as_str(), &[("resource", "not-absolute")], 400, "invalid_target"),
            (client_id.as_str(), &[("resource", "https://api.example/#frag")], 400, "invalid_target"),
            ("no-such-client", &[], 401, "invalid_client"),
        ];
        for (id, extra, status, error) in cases {
            let res = start(&server, id, extra).await;
            assert_eq!(res.status(), status, "{id} {extra:?}");
            assert_eq!(res.headers().get("cache-control").map(|v| v.as_bytes()), Some(&b"no-store"[..]));
            assert_eq!(json_of(res).await["error"], error, "{id} {extra:?}");
        }
        let res = server.post_form("/oauth2/device_authorization", None, &[("scope", "openid")]).await;
        assert_eq!(res.status(), 401, "no client at all");
        let res = server.http.post(server.url("/oauth2/device_authorization")).json(&json!({"client_id": client_id})).send().await.expect("json");
        assert_eq!(json_of(res).await["error"], "invalid_request", "a form, not JSON");
        let res = server.get("/oauth2/device_authorization").await;
        assert_eq!(res.status(), 405);
        // A confidential client authenticates; its secret is checked.
        let (conf, secret) = device_client(&server, "Conf CLI", false).await;
        let res = server.post_form("/oauth2/device_authorization", Some((&conf, "wrong")), &[]).await;
        assert_eq!(res.status(), 401);
        let res = server.post_form("/oauth2/device_authorization", Some((&conf, secret.as_deref().expect("s"))), &[("resource", "https://api.example/v1")]).await;
        assert_eq!(res.status(), 200);
        let body = json_of(res).await;
        assert_eq!(body["interval"], 5);
        // The resource asked for is the token's audience.
        let browser = signed_in(&server, "erin@example.com").await;
        let html = device_page(&server, &browser, body["user_code"].as_str().expect("uc")).await.text().await.expect("html");
        assert!(html.contains("https://api.example/v1"), "the page names the resource");
        decide(&server, &browser, body["user_code"].as_str().expect("uc"), "allow").await;
        let res = server.post_form("/oauth2/token", Some((&conf, secret.as_deref().expect("s"))), &[("grant_type", GRANT), ("device_code", body["device_code"].as_str().expect("dc"))]).await;
        assert_eq!(res.status(), 200);
        let token = json_of(res).await;
        let claims = verify_with_jwks(&server, token["access_token"].as_str().expect("at"), "https://api.example/v1").await;
        assert_eq!(claims["client_id"], conf.as_str());
    }

    async fn the_device_page_needs_a_session_and_a_csrf_token(db) {
        let server = TestServer::start(&db);
        let (client_id, _) = device_client(&server, "Page CLI", true).await;
        let start = started(&server, &client_id).await;
        let code = start["user_code"].as_str().expect("uc");
        let anonymous = jar();
        let res = device_page(&server, &anonymous, code).await;
        assert_eq!(res.status(), 303);
        let location = res.headers()["location"].to_str().expect("location").to_owned();
        let back = Url::parse(&server.url(&location)).expect("url").query_pairs().find(|(k, _)| k == "return_to").map(|(_, v)| v.into_owned());
        assert_eq!(location.split('?').next(), Some("/login"));
        assert_eq!(back, Some(format!("/device?user_code={code}")), "the code survives the sign-in");
        let browser = signed_in(&server, "frank@example.com").await;
        let res = browser.post(server.url("/device")).form(&[("csrf_token", "forged"), ("user_code", code), ("decision", "allow")]).send().await.expect("post");
        assert_eq!(res.status(), 403, "a forged form");
        assert_eq!(error_of(&poll(&server, &client_id, start["device_code"].as_str().expect("dc")).await), (400, "authorization_pending"));
        // The entry form, signed in.
        let res = browser.get(server.url("/device")).send().await.expect("entry");
        assert_eq!(res.status(), 200);
        assert!(res.text().await.expect("html").contains("name=\"user_code\""));
    }

    async fn attack_a_device_request_for_an_unregistered_resource_or_another_resources_scope(db) {
        const MCP: &str = "https://mcp.example.com/mcp";
        let server = TestServer::start_with(&db, |s| s.resource_strict = true);
        {
            let mut conn = db.store().conn().expect("conn");
            let spec = grants::resources::ResourceSpec {
                uri: MCP.into(),
                name: "Notes MCP server".into(),
                scopes: vec![grants::resources::ResourceScope { name: "mcp:tools".into(), description: "Use your notes".into() }],
                access_token_ttl: Some(600),
            };
            grants::resources::add_resource(&mut conn, &spec, 1).expect("resource");
        }
        let res = server.post_json("/oauth2/register", &json!({
            "client_name": "Agent CLI", "grant_types": [GRANT], "token_endpoint_auth_method": "none",
            "scope": "openid mcp:tools",
        })).await;
        assert_eq!(res.status(), 201);
        let client_id = json_of(res).await["client_id"].as_str().expect("id").to_owned();
        // The strict policy, as at the authorization endpoint: only registered resources.
        let res = start(&server, &client_id, &[("scope", "openid"), ("resource", "https://evil.example/")]).await;
        assert_eq!(res.status(), 400);
        assert_eq!(json_of(res).await["error"], "invalid_target");
        // A resource's scope only with that resource.
        let res = start(&server, &client_id, &[("scope", "mcp:tools")]).await;
        assert_eq!(res.status(), 400);
        assert_eq!(json_of(res).await["error"], "invalid_scope");
        // With it: the token is for the MCP server, with its scope and its lifetime.
        let res = start(&server, &client_id, &[("scope", "mcp:tools"), ("resource", MCP)]).await;
        assert_eq!(res.status(), 200);
        let body = json_of(res).await;
        let browser = signed_in(&server, "grace@example.com").await;
        let html = device_page(&server, &browser, body["user_code"].as_str().expect("uc")).await.text().await.expect("html");
        assert!(html.contains("Notes MCP server (https://mcp.example.com/mcp)"), "the resource by its name: {html}");
        assert!(html.contains("Use your notes"), "its scope in its own words: {html}");
        decide(&server, &browser, body["user_code"].as_str().expect("uc"), "allow").await;
        let (status, token) = poll(&server, &client_id, body["device_code"].as_str().expect("dc")).await;
        assert_eq!(status, 200, "{token}");
        assert_eq!(token["expires_in"], 600, "the resource's lifetime");
        let claims = verify_with_jwks(&server, token["access_token"].as_str().expect("at"), MCP).await;
        assert_eq!(claims["scope"], "mcp:tools");
    }
}

/// The page in Chromium, once: from `verification_uri_complete` through sign-up to the
/// request (the client's name, the scopes in the consent page's words, the code to compare),
/// allowed; the CLI's next poll gets its tokens. Checked for accessibility, in German too.
#[actix_web::test]
async fn the_device_page_in_a_browser() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let (client_id, _) = device_client(&server, "Terminal Notes", true).await;
    let start = started(&server, &client_id).await;
    let code = start["user_code"].as_str().expect("uc").to_owned();

    let browser = Browser::start().await;
    browser
        .goto(
            start["verification_uri_complete"]
                .as_str()
                .expect("complete"),
        )
        .await;
    browser.wait_for_path_starting("/login").await;
    browser.click("a[href^='/signup']").await;
    browser.type_into("#name", "Hedy Lamarr").await;
    browser.type_into("#email", "hedy@example.com").await;
    browser.type_into("#password", "frequency-hopping").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("Terminal Notes").await;
    assert_eq!(browser.text("#user-code").await, code);
    assert_eq!(browser.count("#app-unverified").await, 1, "self-registered");
    let page = browser.source().await;
    assert!(
        page.contains("See your email address"),
        "scopes in plain words"
    );
    browser.assert_accessible("device-request").await;
    browser.screenshot("device").await;
    browser.click("button[value=allow]").await;
    browser.wait_for_text("Device connected").await;
    let (status, body) = poll(
        &server,
        &client_id,
        start["device_code"].as_str().expect("dc"),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // The entry form: typed in lower case without the dash, in German.
    let second = started(&server, &client_id).await;
    browser.goto(&server.url("/device?ui_locales=de")).await;
    browser.wait_for_text("Gerät verbinden").await;
    browser.assert_accessible("device-entry").await;
    let typed = second["user_code"]
        .as_str()
        .expect("uc")
        .to_lowercase()
        .replace('-', "");
    browser.type_into("#user_code", &typed).await;
    browser
        .click("form[action='/device'] button[type=submit]")
        .await;
    browser.wait_for_text("Terminal Notes").await;
    assert!(browser.source().await.contains("Ablehnen"), "German");
    browser.click("button[value=deny]").await;
    browser.wait_for_text("Anfrage abgelehnt").await;
    assert_eq!(
        error_of(
            &poll(
                &server,
                &client_id,
                second["device_code"].as_str().expect("dc")
            )
            .await
        ),
        (400, "access_denied")
    );
}
