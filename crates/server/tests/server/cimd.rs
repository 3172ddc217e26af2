//! Client ID Metadata Documents: a `client_id` that is a URL, fetched from a real document
//! server on loopback (allowed by `cimd_allow_loopback`, the test setting), through the whole
//! code flow with PKCE and refresh; and each way a document or its URL is misused, refused.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

use crate::authorize_errors::{
    REDIRECT, VERIFIER, authorize, challenge, decide, error_page, jar, redirected, sign_up,
};
use crate::common::*;

/// A document server: every path's answer is set by the test; requests are counted per path.
#[derive(Clone, Default)]
struct Docs {
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Docs {
    fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .expect("hits")
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

/// The document of `id` (a URL client id) redirecting to [`REDIRECT`], a public client with
/// the code and refresh grants, as an MCP client publishes it.
fn document(id: &str) -> Value {
    json!({
        "client_id": id,
        "client_name": "Doc Agent",
        "client_uri": id,
        "logo_uri": "https://evil.example/logo.png",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    })
}

async fn serve(req: HttpRequest, docs: web::Data<Docs>, base: web::Data<String>) -> HttpResponse {
    let path = req.path().to_owned();
    *docs
        .hits
        .lock()
        .expect("hits")
        .entry(path.clone())
        .or_default() += 1;
    let own = format!("{}{path}", base.get_ref());
    match path.as_str() {
        "/client.json" => HttpResponse::Ok()
            .insert_header(("Cache-Control", "public, max-age=600"))
            .json(document(&own)),
        "/nocache.json" => HttpResponse::Ok().json(document(&own)),
        "/mismatch.json" => {
            HttpResponse::Ok().json(document(&format!("{}/client.json", base.get_ref())))
        }
        "/redirect.json" => HttpResponse::Found()
            .insert_header(("Location", format!("{}/client.json", base.get_ref())))
            .finish(),
        "/big.json" => {
            let mut doc = document(&own);
            doc["padding"] = json!("z".repeat(6 * 1024));
            HttpResponse::Ok().json(doc)
        }
        "/slow.json" => {
            // Far longer than the server's time limit in these tests (300 ms).
            actix_web::rt::time::sleep(std::time::Duration::from_secs(30)).await;
            HttpResponse::Ok().json(document(&own))
        }
        "/secret.json" => {
            let mut doc = document(&own);
            doc["token_endpoint_auth_method"] = json!("client_secret_basic");
            HttpResponse::Ok().json(doc)
        }
        "/with-secret.json" => {
            let mut doc = document(&own);
            doc["client_secret"] = json!("s3cr3t");
            HttpResponse::Ok().json(doc)
        }
        _ => HttpResponse::NotFound().finish(),
    }
}

/// Starts the document server on loopback; its base URL and counters.
fn doc_server() -> (String, Docs) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let docs = Docs::default();
    let (d, b) = (docs.clone(), base.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(d.clone()))
            .app_data(web::Data::new(b.clone()))
            .default_service(web::to(serve))
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    actix_web::rt::spawn(server);
    (base, docs)
}

/// A Portcullis that accepts loopback documents (the test setting), fetching within 300 ms.
fn portcullis(db: &TestDb, adjust: impl FnOnce(&mut Settings)) -> TestServer {
    TestServer::start_with(db, |s| {
        s.cimd_allow_loopback = true;
        s.cimd_timeout_ms = 300;
        adjust(s);
    })
}

async fn authorize_as(server: &TestServer, http: &reqwest::Client, id: &str) -> reqwest::Response {
    let ch = challenge(VERIFIER);
    authorize(
        server,
        http,
        &[
            ("response_type", "code"),
            ("client_id", id),
            ("redirect_uri", REDIRECT),
            ("state", "st"),
            ("code_challenge", &ch),
            ("code_challenge_method", "S256"),
        ],
    )
    .await
}

/// An authorization request refused on a page that says `why`, never redirected.
async fn refused_on_page(res: reqwest::Response, why: &str) {
    let status = res.status();
    let location = res.headers().get("location").cloned();
    let html = res.text().await.expect("html");
    assert_eq!(status, 400, "{html}");
    assert!(location.is_none(), "never redirected: {location:?}");
    assert!(html.contains(why), "{why:?} not in {html}");
}

async fn token(server: &TestServer, form: &[(&str, &str)]) -> (u16, Value) {
    let res = server.post_form("/oauth2/token", None, form).await;
    let status = res.status().as_u16();
    (status, res.json().await.expect("json"))
}

on_both_backends! {
    async fn a_url_client_id_goes_through_the_code_flow_with_pkce_and_refresh(db) {
        let (docs_base, docs) = doc_server();
        let id = format!("{docs_base}/client.json");
        let server = portcullis(&db, |_| {});
        let http = jar();
        sign_up(&server, &http, "doc@example.com").await;

        // The consent page names the document's host and says the client describes itself;
        // the logo on another host is not shown.
        let res = authorize_as(&server, &http, &id).await;
        assert_eq!(res.status(), 200);
        let html = res.text().await.expect("html");
        assert!(html.contains("Doc Agent"), "{html}");
        assert!(html.contains("id=\"app-self-described\""), "{html}");
        assert!(html.contains("Self-described by 127.0.0.1"), "{html}");
        assert!(!html.contains("evil.example"), "a logo from another host: {html}");
        // In German too.
        let mut url = url::Url::parse(&server.url("/oauth2/authorize")).expect("url");
        let ch = challenge(VERIFIER);
        url.query_pairs_mut().extend_pairs([
            ("response_type", "code"),
            ("client_id", id.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_challenge", ch.as_str()),
            ("code_challenge_method", "S256"),
        ]);
        let res = http.get(url).header("Accept-Language", "de").send().await.expect("de");
        let html = res.text().await.expect("html");
        assert!(html.contains("Selbstbeschreibung von 127.0.0.1"), "{html}");
        let res = authorize_as(&server, &http, &id).await;
        let res = decide(&server, &http, res, "allow").await;
        let params = redirected(&res);
        assert_eq!(params["iss"], server.base, "RFC 9207");
        assert_eq!(params["state"], "st");

        let (status, body) = token(&server, &[
            ("grant_type", "authorization_code"),
            ("code", &params["code"]),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", &id),
        ]).await;
        assert_eq!(status, 200, "{body}");
        let access = body["access_token"].as_str().expect("access token").to_owned();
        let rt = body["refresh_token"].as_str().expect("refresh token").to_owned();
        let claims: Value = {
            use base64::Engine as _;
            let payload = access.split('.').nth(1).expect("jwt");
            serde_json::from_slice(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("b64"),
            )
            .expect("claims")
        };
        assert_eq!(claims["client_id"], id.as_str(), "the grant is keyed by the URL");

        // The token works at userinfo, the refresh family is the URL client's.
        let info = server
            .http
            .get(server.url("/oauth2/userinfo"))
            .bearer_auth(&access)
            .send()
            .await
            .expect("userinfo");
        assert_eq!(info.status(), 200);
        let (status, refreshed) = token(&server, &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_id", &id),
        ]).await;
        assert_eq!(status, 200, "{refreshed}");
        let rt2 = refreshed["refresh_token"].as_str().expect("rotated").to_owned();

        // Consent is remembered for the URL: straight back with a code, and the document
        // was fetched once for all of this (max-age=600).
        let res = authorize_as(&server, &http, &id).await;
        assert!(redirected(&res).contains_key("code"));
        assert_eq!(docs.hits("/client.json"), 1, "kept for its max-age");

        // Revoked by the URL client itself.
        let res = server
            .post_form("/oauth2/revoke", None, &[("token", &rt2), ("client_id", &id)])
            .await;
        assert_eq!(res.status(), 200);
        let (status, body) = token(&server, &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt2),
            ("client_id", &id),
        ]).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));

        // The account page lists the app by its URL, and withdrawing it works: the consent
        // page comes back.
        let page = http.get(server.url("/account")).send().await.expect("account");
        let html = page.text().await.expect("html");
        let action = html
            .split("action=\"")
            .map(|rest| rest.split('"').next().unwrap_or_default())
            .find(|a| a.starts_with("/account/apps/"))
            .unwrap_or_else(|| panic!("no app to withdraw in {html}"))
            .replace("&#37;", "%");
        let csrf = crate::authorize_errors::hidden(&html, "csrf_token");
        let res = http
            .post(server.url(&action))
            .form(&[("csrf_token", csrf.as_str())])
            .send()
            .await
            .expect("withdraw");
        assert_eq!(res.status(), 303, "{action}");
        assert_eq!(authorize_as(&server, &http, &id).await.status(), 200, "asked again");
    }
}

#[actix_web::test]
async fn caching_honoured_the_document_is_fetched_again_only_after_its_max_age() {
    let db = TestDb::sqlite();
    let (docs_base, docs) = doc_server();
    let server = portcullis(&db, |s| {
        s.cimd_cache_min = 60;
        s.cimd_cache_max = 3600;
    });
    let http = jar();
    sign_up(&server, &http, "cache@example.com").await;
    let id = format!("{docs_base}/client.json");
    for _ in 0..3 {
        assert_eq!(authorize_as(&server, &http, &id).await.status(), 200);
    }
    assert_eq!(docs.hits("/client.json"), 1, "within max-age=600");
    server.clock.advance(599);
    assert_eq!(authorize_as(&server, &http, &id).await.status(), 200);
    assert_eq!(docs.hits("/client.json"), 1);
    server.clock.advance(2);
    assert_eq!(authorize_as(&server, &http, &id).await.status(), 200);
    assert_eq!(docs.hits("/client.json"), 2, "refetched after max-age");
    // Without caching headers: the operator's least (60 s).
    let plain = format!("{docs_base}/nocache.json");
    assert_eq!(authorize_as(&server, &http, &plain).await.status(), 200);
    server.clock.advance(59);
    assert_eq!(authorize_as(&server, &http, &plain).await.status(), 200);
    assert_eq!(docs.hits("/nocache.json"), 1);
    server.clock.advance(2);
    assert_eq!(authorize_as(&server, &http, &plain).await.status(), 200);
    assert_eq!(docs.hits("/nocache.json"), 2);
}

#[actix_web::test]
async fn attack_document_client_id_mismatch_is_refused() {
    let db = TestDb::sqlite();
    let (docs_base, _) = doc_server();
    let server = portcullis(&db, |_| {});
    let http = jar();
    sign_up(&server, &http, "m@example.com").await;
    let id = format!("{docs_base}/mismatch.json");
    let res = authorize_as(&server, &http, &id).await;
    refused_on_page(res, "its client_id is not the URL it was fetched from").await;
    // At the token endpoint the same document is `invalid_client`.
    let (status, body) = token(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", &id),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
}

#[actix_web::test]
async fn attack_redirect_uri_not_in_the_document_is_shown_not_redirected() {
    let db = TestDb::sqlite();
    let (docs_base, _) = doc_server();
    let server = portcullis(&db, |_| {});
    let http = jar();
    let id = format!("{docs_base}/client.json");
    let ch = challenge(VERIFIER);
    for signed_in in [false, true] {
        if signed_in {
            sign_up(&server, &http, "r@example.com").await;
        }
        let res = authorize(
            &server,
            &http,
            &[
                ("response_type", "code"),
                ("client_id", &id),
                ("redirect_uri", "https://attacker.example/steal"),
                ("code_challenge", &ch),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
        error_page(res).await;
    }
}

#[actix_web::test]
async fn authorization_errors_of_a_url_client_carry_iss_once_signed_in() {
    // RFC 9207 on errors too: a request error after the redirect URI is trusted and the user
    // signed in is redirected with `iss`.
    let db = TestDb::sqlite();
    let (docs_base, _) = doc_server();
    let server = portcullis(&db, |_| {});
    let http = jar();
    sign_up(&server, &http, "iss@example.com").await;
    let id = format!("{docs_base}/client.json");
    let res = authorize(
        &server,
        &http,
        &[
            ("response_type", "code"),
            ("client_id", &id),
            ("redirect_uri", REDIRECT),
            ("state", "s1"),
        ],
    )
    .await;
    let params = redirected(&res);
    assert_eq!(params["error"], "invalid_request", "{params:?}");
    assert_eq!(params["iss"], server.base);
    assert_eq!(params["state"], "s1");
    let res = authorize_as(&server, &http, &id).await;
    let res = decide(&server, &http, res, "deny").await;
    let params = redirected(&res);
    assert_eq!(
        (params["error"].as_str(), params["iss"].as_str()),
        ("access_denied", server.base.as_str())
    );
}

/// A resolver that answers one address for every name, counting look-ups.
#[derive(Debug)]
pub(crate) struct Resolves(pub(crate) IpAddr, pub(crate) AtomicUsize);

impl gateway::Resolve for Resolves {
    fn lookup(&self, _: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        self.1.fetch_add(1, Ordering::SeqCst);
        Ok(vec![SocketAddr::new(self.0, port)])
    }
}

#[actix_web::test]
async fn attack_ssrf_private_addresses_are_refused_before_any_connection() {
    let db = TestDb::sqlite();
    // A listener nobody may reach: the refused fetches must not connect to it.
    let trap = TcpListener::bind("127.0.0.1:0").expect("bind");
    trap.set_nonblocking(true).expect("nonblocking");
    let trap_port = trap.local_addr().expect("addr").port();
    let resolver = Arc::new(Resolves(
        "10.0.0.7".parse().expect("ip"),
        AtomicUsize::new(0),
    ));
    let r: Arc<dyn gateway::Resolve> = resolver.clone();
    // The production setting: https only, public addresses only.
    let server = TestServer::start_with_state(
        &db,
        |s| s.cimd_timeout_ms = 2000,
        |st| st.gateway_resolver = r,
    );
    let http = jar();
    for (id, why) in [
        (
            format!("https://127.0.0.1:{trap_port}/client.json"),
            "its address is not a public one",
        ),
        (
            "https://169.254.169.254/latest/meta-data/client.json".to_owned(),
            "its address is not a public one",
        ),
        (
            "https://[::1]/client.json".to_owned(),
            "its address is not a public one",
        ),
        (
            "https://internal.example/client.json".to_owned(),
            "its address is not a public one",
        ),
        (
            format!("http://127.0.0.1:{trap_port}/client.json"),
            "it must be an https URL",
        ),
    ] {
        let res = authorize_as(&server, &http, &id).await;
        let status = res.status();
        let html = res.text().await.expect("html");
        assert_eq!(status, 400, "{id}: {html}");
        assert!(html.contains(why), "{id}: {why:?} not in {html}");
        assert!(
            !html.contains("10.0.0.7"),
            "the resolved address is not told: {html}"
        );
    }
    assert_eq!(
        resolver.1.load(Ordering::SeqCst),
        1,
        "the name was looked up once"
    );
    // Even the test setting lets loopback through, never the private network.
    let r: Arc<dyn gateway::Resolve> = resolver.clone();
    let loose = TestServer::start_with_state(
        &db,
        |s| {
            s.cimd_allow_loopback = true;
            s.cimd_timeout_ms = 2000;
        },
        |st| st.gateway_resolver = r,
    );
    for id in [
        "https://internal.example/client.json",
        "https://192.168.1.1/client.json",
    ] {
        refused_on_page(
            authorize_as(&loose, &http, id).await,
            "its address is not a public one",
        )
        .await;
    }
    match trap.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("a refused fetch connected: {other:?}"),
    }
}

#[actix_web::test]
async fn attack_redirect_from_the_document_url_is_not_followed() {
    let db = TestDb::sqlite();
    let (docs_base, docs) = doc_server();
    let server = portcullis(&db, |_| {});
    let http = jar();
    let id = format!("{docs_base}/redirect.json");
    refused_on_page(
        authorize_as(&server, &http, &id).await,
        "redirects are not followed",
    )
    .await;
    assert_eq!(docs.hits("/redirect.json"), 1);
    assert_eq!(
        docs.hits("/client.json"),
        0,
        "the redirect was not followed"
    );
}

#[actix_web::test]
async fn attack_oversized_document_is_refused() {
    let db = TestDb::sqlite();
    let (docs_base, _) = doc_server();
    let server = portcullis(&db, |_| {});
    let http = jar();
    let id = format!("{docs_base}/big.json");
    refused_on_page(authorize_as(&server, &http, &id).await, "larger than 5 KiB").await;
}

#[actix_web::test]
async fn attack_slow_document_is_given_up_on_at_the_time_limit() {
    let db = TestDb::sqlite();
    let (docs_base, docs) = doc_server();
    let server = portcullis(&db, |_| {});
    let http = jar();
    let id = format!("{docs_base}/slow.json");
    let started = std::time::Instant::now();
    refused_on_page(authorize_as(&server, &http, &id).await, "it took too long").await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(docs.hits("/slow.json"), 1);
}

#[actix_web::test]
async fn attack_secret_based_auth_in_a_document_is_refused() {
    let db = TestDb::sqlite();
    let (docs_base, _) = doc_server();
    let server = portcullis(&db, |_| {});
    let http = jar();
    refused_on_page(
        authorize_as(&server, &http, &format!("{docs_base}/secret.json")).await,
        "cannot hold a shared secret",
    )
    .await;
    refused_on_page(
        authorize_as(&server, &http, &format!("{docs_base}/with-secret.json")).await,
        "must not hold client_secret",
    )
    .await;
    // A URL client presenting a secret is refused too: it has none.
    let id = format!("{docs_base}/client.json");
    let res = server
        .post_form(
            "/oauth2/token",
            Some((&id, "guessed")),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(res.status(), 401);
}

#[actix_web::test]
async fn attack_policy_none_and_hosts_off_the_allow_list_are_refused() {
    let db = TestDb::sqlite();
    let (docs_base, docs) = doc_server();
    let id = format!("{docs_base}/client.json");
    let http = jar();
    let off = portcullis(&db, |s| s.cimd = server::CimdPolicy::None);
    refused_on_page(
        authorize_as(&off, &http, &id).await,
        "does not accept client metadata documents",
    )
    .await;
    let meta = json_of(off.get("/.well-known/oauth-authorization-server").await).await;
    assert_eq!(meta["client_id_metadata_document_supported"], false);
    let listed = portcullis(&db, |s| {
        s.cimd = server::CimdPolicy::parse("mcp.example.com, tools.example.org").expect("hosts");
    });
    refused_on_page(
        authorize_as(&listed, &http, &id).await,
        "does not accept client metadata documents from 127.0.0.1",
    )
    .await;
    let (status, body) = token(
        &listed,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", &id),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert_eq!(docs.hits("/client.json"), 0, "nothing fetched");
    let allowed = portcullis(&db, |s| {
        s.cimd = server::CimdPolicy::parse("127.0.0.1").expect("hosts");
    });
    assert_eq!(
        authorize_as(&allowed, &http, &id).await.status(),
        303,
        "to sign in"
    );
    let meta = json_of(allowed.get("/.well-known/openid-configuration").await).await;
    assert_eq!(meta["client_id_metadata_document_supported"], true);
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
}

#[actix_web::test]
async fn the_oauth2_crate_runs_the_code_flow_with_a_url_client_id() {
    use oauth2::basic::BasicClient;
    use oauth2::{
        AuthType, AuthUrl, AuthorizationCode, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl,
        RefreshToken, TokenResponse as _, TokenUrl,
    };
    let db = TestDb::sqlite();
    let (docs_base, _) = doc_server();
    let id = format!("{docs_base}/client.json");
    let server = portcullis(&db, |_| {});
    let http = jar();
    sign_up(&server, &http, "lib@example.com").await;
    let client = BasicClient::new(ClientId::new(id.clone()))
        .set_auth_type(AuthType::RequestBody)
        .set_auth_uri(AuthUrl::new(server.url("/oauth2/authorize")).expect("auth url"))
        .set_token_uri(TokenUrl::new(server.url("/oauth2/token")).expect("token url"))
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).expect("redirect"));
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf) = client
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge)
        .url();
    let res = http.get(url).send().await.expect("authorize");
    let res = decide(&server, &http, res, "allow").await;
    let params = redirected(&res);
    assert_eq!(&params["state"], csrf.secret());
    let oauth = crate::token::oauth_http();
    let tokens = client
        .exchange_code(AuthorizationCode::new(params["code"].clone()))
        .set_pkce_verifier(verifier)
        .request_async(&oauth)
        .await
        .expect("tokens");
    let refresh = tokens
        .refresh_token()
        .expect("a refresh token")
        .secret()
        .clone();
    let again = client
        .exchange_refresh_token(&RefreshToken::new(refresh))
        .request_async(&oauth)
        .await
        .expect("refreshed");
    assert_ne!(
        again.access_token().secret(),
        tokens.access_token().secret()
    );
}
