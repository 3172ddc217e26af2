//! OpenID Connect Back-Channel Logout 1.0: a real receiver on loopback (allowed by
//! `backchannel_logout_allow_loopback`, the development setting) gets the logout token when a
//! session the client received tokens in ends, and verifies it with the published JWKS as a
//! relying party does. Retries follow the server's clock, which the tests move by hand.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Value, json};
use store::backchannel::LogoutDeliveryRow;
use url::Url;

use crate::attack_code_injection::claims_of;
use crate::authorize_errors::{
    REDIRECT, Setup, VERIFIER, code_for, exchange, hidden, id, jar, sign_up,
};
use crate::cimd::Resolves;
use crate::common::*;

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// A relying party's back-channel logout endpoint: records each `logout_token` it is POSTed
/// and answers with `answers` in turn (the last one repeats); `None` never answers.
struct Receiver {
    url: String,
    tokens: Arc<Mutex<Vec<String>>>,
}

fn receiver(answers: Vec<Option<u16>>) -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let tokens: Arc<Mutex<Vec<String>>> = Arc::default();
    let got = Arc::clone(&tokens);
    let answers = Arc::new(answers);
    let server = HttpServer::new(move || {
        let got = Arc::clone(&got);
        let answers = Arc::clone(&answers);
        App::new().route(
            "/backchannel",
            web::post().to(move |form: web::Form<HashMap<String, String>>| {
                let got = Arc::clone(&got);
                let answers = Arc::clone(&answers);
                async move {
                    let n = {
                        let mut got = got.lock().expect("tokens");
                        got.push(form.get("logout_token").cloned().unwrap_or_default());
                        got.len()
                    };
                    let answer = answers
                        .get(n - 1)
                        .or_else(|| answers.last())
                        .copied()
                        .flatten();
                    match answer {
                        Some(status) => HttpResponse::build(
                            actix_web::http::StatusCode::from_u16(status).expect("status"),
                        )
                        .finish(),
                        None => {
                            actix_web::rt::time::sleep(Duration::from_secs(3600)).await;
                            HttpResponse::Ok().finish()
                        }
                    }
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    actix_web::rt::spawn(server);
    Receiver {
        url: format!("http://{addr}/backchannel"),
        tokens,
    }
}

impl Receiver {
    fn tokens(&self) -> Vec<String> {
        self.tokens.lock().expect("tokens").clone()
    }

    /// Waits (at most 10 s) until `n` tokens came; returns them all.
    async fn wait_for(&self, n: usize) -> Vec<String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.tokens();
            if got.len() >= n {
                return got;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "expected {n} logout token(s), got {}",
                got.len()
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Verifies a logout token as the relying party must (Back-Channel Logout §2.6): signature by
/// a published key, `typ`, issuer, audience, `iat`, `exp`, `jti`, the event, `sub` or `sid`,
/// and no `nonce`. Returns its claims.
async fn verify_logout_token(server: &TestServer, token: &str, client_id: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).expect("header");
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    let jwks: jsonwebtoken::jwk::JwkSet =
        server.get("/jwks.json").await.json().await.expect("jwks");
    let jwk = jwks
        .find(header.kid.as_deref().expect("kid"))
        .expect("the kid is published");
    let key = DecodingKey::from_jwk(jwk).expect("key");
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[client_id]);
    validation.set_issuer(&[server.base.as_str()]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud"]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("the logout token verifies")
        .claims;
    assert_eq!(claims["events"], json!({ EVENT: {} }), "{claims}");
    assert!(claims.get("nonce").is_none(), "§2.4: never a nonce");
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    let lifetime = claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat");
    assert!(
        (1..=300).contains(&lifetime),
        "a short lifetime: {lifetime}"
    );
    claims
}

/// A server that may call loopback receivers, a signed-up user in a cookie jar, and a public
/// client with a back-channel logout URI at `rx`.
async fn setup(db: &TestDb, rx: &Receiver, adjust: impl FnOnce(&mut Settings)) -> Setup {
    let server = TestServer::start_with(db, |s| {
        s.backchannel_logout_allow_loopback = true;
        adjust(s);
    });
    let http = jar();
    sign_up(&server, &http, "pat@example.com").await;
    let res = server
        .post_json(
            "/oauth2/register",
            &json!({
                "client_name": "Notes",
                "redirect_uris": [REDIRECT],
                "post_logout_redirect_uris": [format!("{REDIRECT}/bye")],
                "token_endpoint_auth_method": "none",
                "scope": "openid profile",
                "backchannel_logout_uri": rx.url,
                "backchannel_logout_session_required": true,
            }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let public = json_of(res).await;
    assert_eq!(public["backchannel_logout_uri"], rx.url.as_str());
    assert_eq!(public["backchannel_logout_session_required"], true);
    Setup {
        server,
        http,
        public,
        confidential: Value::Null,
    }
}

/// Runs the code flow in the setup's browser session; the ID token.
async fn id_token(s: &Setup) -> String {
    let code = code_for(s, "openid").await;
    let res = exchange(s, id(&s.public), &code, Some(VERIFIER)).await;
    assert_eq!(res.status(), 200);
    json_of(res).await["id_token"]
        .as_str()
        .expect("id_token")
        .to_owned()
}

/// RP-initiated logout with the ID token as hint: signed out at once, sent back.
async fn rp_logout(s: &Setup, id_token: &str) {
    let mut url = Url::parse(&s.server.url("/oauth2/logout")).expect("url");
    url.query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair("post_logout_redirect_uri", &format!("{REDIRECT}/bye"));
    let res = s.http.get(url).send().await.expect("logout");
    assert_eq!(res.status(), 303);
}

fn deliveries(db: &TestDb) -> Vec<LogoutDeliveryRow> {
    let mut conn = db.store().conn().expect("conn");
    store::backchannel::recent(&mut conn, 100).expect("deliveries")
}

/// Waits (at most 10 s) until the only delivery has `status` after `attempts` attempts.
async fn wait_for_delivery(db: &TestDb, status: &str, attempts: i64) -> LogoutDeliveryRow {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let rows = deliveries(db);
        if let [row] = rows.as_slice()
            && row.status == status
            && row.attempts == attempts
        {
            return row.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expected one {status} delivery after {attempts} attempt(s): {rows:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

fn audit_kinds(db: &TestDb) -> Vec<String> {
    let mut conn = db.store().conn().expect("conn");
    store::audit::recent(&mut conn, 200)
        .expect("audit")
        .into_iter()
        .map(|e| e.kind)
        .filter(|k| k.starts_with("backchannel_logout."))
        .collect()
}

on_both_backends! {
    async fn rp_initiated_logout_sends_a_verifiable_logout_token_with_the_id_tokens_sid(db) {
        let rx = receiver(vec![Some(200)]);
        let s = setup(&db, &rx, |_| {}).await;
        let id_token = id_token(&s).await;
        let id_claims = claims_of(&id_token);
        let sid = id_claims["sid"].as_str().expect("the ID token carries sid").to_owned();
        assert!(rx.tokens().is_empty(), "nothing is sent while the session lives");

        rp_logout(&s, &id_token).await;
        let tokens = rx.wait_for(1).await;
        let claims = verify_logout_token(&s.server, &tokens[0], id(&s.public)).await;
        assert_eq!(claims["sid"], sid.as_str());
        assert_eq!(claims["sub"], id_claims["sub"]);
        assert_eq!(claims["aud"], id(&s.public));
        let row = wait_for_delivery(&db, "delivered", 1).await;
        assert_eq!(claims["jti"], row.id.as_str());
        assert_eq!(row.last_status.as_deref(), Some("200"));
        assert_eq!(audit_kinds(&db), ["backchannel_logout.delivered"]);

        // The delivery log: operators only.
        let url = s.server.url("/api/v1/admin/backchannel-logouts");
        let user = crate::api_auth::signup(&s.server, "someone@example.com", "Someone").await;
        let res = s.server.http.get(&url).bearer_auth(user["token"].as_str().expect("token")).send().await.expect("get");
        assert_eq!(res.status(), 403);
        assert_eq!(s.server.http.get(&url).send().await.expect("get").status(), 401);
        let op = crate::resources::operator_token(&s.server, &db).await;
        let res = s.server.http.get(&url).bearer_auth(&op).send().await.expect("get");
        assert_eq!(res.status(), 200);
        let log = json_of(res).await;
        assert_eq!(log["data"][0]["status"], "delivered");
        assert_eq!(log["data"][0]["clientId"], id(&s.public));
        assert_eq!(log["data"][0]["sessionId"], sid.as_str());
        assert_eq!(log["data"][0]["attempts"], 1);
        assert!(!log.to_string().contains(&tokens[0]), "the log shows no token");
    }

    async fn signing_out_on_the_logout_page_sends_a_logout_token(db) {
        let rx = receiver(vec![Some(204)]);
        let s = setup(&db, &rx, |_| {}).await;
        let sid = claims_of(&id_token(&s).await)["sid"].clone();
        let account = s.http.get(s.server.url("/account")).send().await.expect("account").text().await.expect("html");
        let res = s.http.post(s.server.url("/logout")).form(&[("csrf_token", hidden(&account, "csrf_token").as_str())]).send().await.expect("logout");
        assert_eq!(res.status(), 303);
        let tokens = rx.wait_for(1).await;
        let claims = verify_logout_token(&s.server, &tokens[0], id(&s.public)).await;
        assert_eq!(claims["sid"], sid);
        wait_for_delivery(&db, "delivered", 1).await;
    }

    async fn a_password_reset_ends_the_sessions_and_sends_their_logout_tokens(db) {
        let rx = receiver(vec![Some(200)]);
        let s = setup(&db, &rx, |_| {}).await;
        let sid = claims_of(&id_token(&s).await)["sid"].clone();
        let res = s.server.post_json("/api/v1/auth/password/forgot", &json!({ "email": "pat@example.com" })).await;
        assert_eq!(res.status(), 202);
        let reset_link = || s.server.outbox_mail().iter().find_map(|l| l.link().filter(|l| l.contains("/password/reset?token=")));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while reset_link().is_none() {
            assert!(std::time::Instant::now() < deadline, "no reset letter");
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        let link = reset_link().expect("a reset link");
        let token = link.split("token=").nth(1).expect("token");
        let res = s.server.post_json("/api/v1/auth/password/reset", &json!({ "token": token, "password": "a new long password" })).await;
        assert_eq!(res.status(), 204);
        let tokens = rx.wait_for(1).await;
        let claims = verify_logout_token(&s.server, &tokens[0], id(&s.public)).await;
        assert_eq!(claims["sid"], sid);
        assert_eq!(s.http.get(s.server.url("/account")).send().await.expect("account").status(), 303, "signed out");
    }

    async fn a_receiver_failing_twice_gets_it_on_the_third_attempt_as_the_clock_moves(db) {
        let rx = receiver(vec![Some(503), Some(500), Some(200)]);
        let s = setup(&db, &rx, |_| {}).await;
        let id_token = id_token(&s).await;
        rp_logout(&s, &id_token).await;
        let first = wait_for_delivery(&db, "pending", 1).await;
        assert_eq!(first.last_status.as_deref(), Some("503"));
        let now = s.server.clock_now();
        assert_eq!(first.next_attempt_at, now + 30, "30 s after the first failure");
        // Real time passing does not make it due: only the clock does.
        actix_web::rt::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(rx.tokens().len(), 1);
        s.server.clock.advance(29);
        actix_web::rt::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(rx.tokens().len(), 1, "not due one second early");
        s.server.clock.advance(1);
        let second = wait_for_delivery(&db, "pending", 2).await;
        assert_eq!(second.last_status.as_deref(), Some("500"));
        assert_eq!(second.next_attempt_at, now + 30 + 60, "then 60 s");
        s.server.clock.advance(60);
        let third = wait_for_delivery(&db, "delivered", 3).await;
        assert_eq!(third.last_status.as_deref(), Some("200"));
        let tokens = rx.tokens();
        assert_eq!(tokens.len(), 3);
        for t in &tokens {
            verify_logout_token(&s.server, t, id(&s.public)).await;
        }
        assert_eq!(
            audit_kinds(&db),
            ["backchannel_logout.delivered", "backchannel_logout.retrying", "backchannel_logout.retrying"]
        );
    }

    async fn a_receiver_that_never_answers_is_marked_failed_after_the_attempts(db) {
        let rx = receiver(vec![None]);
        let s = setup(&db, &rx, |st| {
            st.backchannel_logout_timeout_ms = 300;
            st.backchannel_logout_attempts = 2;
        })
        .await;
        let id_token = id_token(&s).await;
        rp_logout(&s, &id_token).await;
        let first = wait_for_delivery(&db, "pending", 1).await;
        assert_eq!(first.last_status.as_deref(), Some("timeout"));
        s.server.clock.advance(30);
        let last = wait_for_delivery(&db, "failed", 2).await;
        assert_eq!(last.last_status.as_deref(), Some("timeout"));
        assert_eq!(rx.tokens().len(), 2);
        // Failed for good: no later attempt, however far the clock moves.
        s.server.clock.advance(86_400);
        actix_web::rt::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(rx.tokens().len(), 2);
        assert_eq!(audit_kinds(&db), ["backchannel_logout.failed", "backchannel_logout.retrying"]);
    }

    async fn attack_logout_token_sid_mismatch(db) {
        // Two browser sessions of one user, each with tokens of the client: ending one must
        // name that one only, so the client ends the right session and keeps the other.
        let rx = receiver(vec![Some(200)]);
        let mut s = setup(&db, &rx, |_| {}).await;
        let browser_a = s.http.clone();
        let sid_a = claims_of(&id_token(&s).await)["sid"].as_str().expect("sid").to_owned();
        let browser_b = jar();
        crate::authorize_errors::sign_in(&s.server, &browser_b, "pat@example.com", "long password").await;
        s.http = browser_b.clone();
        let id_b = id_token(&s).await;
        let sid_b = claims_of(&id_b)["sid"].as_str().expect("sid").to_owned();
        assert_ne!(sid_a, sid_b, "one sid a session");

        let account = browser_a.get(s.server.url("/account")).send().await.expect("account").text().await.expect("html");
        let res = browser_a.post(s.server.url("/logout")).form(&[("csrf_token", hidden(&account, "csrf_token").as_str())]).send().await.expect("logout");
        assert_eq!(res.status(), 303);
        let tokens = rx.wait_for(1).await;
        let claims = verify_logout_token(&s.server, &tokens[0], id(&s.public)).await;
        assert_eq!(claims["sid"], sid_a.as_str());
        assert_ne!(claims["sid"], sid_b.as_str());
        actix_web::rt::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(rx.tokens().len(), 1, "the other session's client is not logged out");
        assert_eq!(browser_b.get(s.server.url("/account")).send().await.expect("account").status(), 200, "the other session lives");

        rp_logout(&s, &id_b).await;
        let tokens = rx.wait_for(2).await;
        let claims = verify_logout_token(&s.server, &tokens[1], id(&s.public)).await;
        assert_eq!(claims["sid"], sid_b.as_str());
    }

    async fn attack_backchannel_logout_uri_to_an_internal_address_is_refused_at_registration(db) {
        // The production setting: no loopback.
        let server = TestServer::start(&db);
        let register = |uri: &str| {
            let body = json!({
                "redirect_uris": [REDIRECT],
                "backchannel_logout_uri": uri,
            });
            let server = &server;
            async move { server.post_json("/oauth2/register", &body).await }
        };
        for uri in [
            "http://127.0.0.1:9/logout",
            "https://127.0.0.1/logout",
            "https://localhost/logout",
            "https://10.0.0.7/logout",
            "https://192.168.1.1/logout",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/logout",
            "https://[fd00::1]/logout",
            "https://[::ffff:10.0.0.1]/logout",
            "https://metadata.internal/logout",
            "http://rp.example/logout",
            "https://rp.example/logout#frag",
            "https://user:pw@rp.example/logout",
            "rp.example/logout",
        ] {
            let res = register(uri).await;
            assert_eq!(res.status(), 400, "{uri}");
            assert_eq!(json_of(res).await["error"], "invalid_client_metadata", "{uri}");
        }
        let res = register("https://rp.example/logout").await;
        assert_eq!(res.status(), 201, "control: a public https URL");
        let res = server.post_json("/oauth2/register", &json!({
            "redirect_uris": [REDIRECT],
            "backchannel_logout_session_required": "yes",
        })).await;
        assert_eq!(res.status(), 400, "the flag is a boolean");
    }
}

#[actix_web::test]
async fn attack_logout_uri_whose_name_resolves_to_a_private_address_is_never_called() {
    let db = TestDb::sqlite();
    let resolver = Arc::new(Resolves(
        "10.0.0.7".parse().expect("ip"),
        AtomicUsize::new(0),
    ));
    let r: Arc<dyn gateway::Resolve> = resolver.clone();
    // The production setting: public addresses only.
    let server = TestServer::start_with_state(&db, |_| {}, |st| st.gateway_resolver = r);
    let http = jar();
    sign_up(&server, &http, "pat@example.com").await;
    let res = server
        .post_json(
            "/oauth2/register",
            &json!({
                "redirect_uris": [REDIRECT],
                "post_logout_redirect_uris": [format!("{REDIRECT}/bye")],
                "token_endpoint_auth_method": "none",
                "scope": "openid",
                "backchannel_logout_uri": "https://rp.example/backchannel",
            }),
        )
        .await;
    assert_eq!(res.status(), 201, "a public name passes registration");
    let s = Setup {
        server,
        http,
        public: json_of(res).await,
        confidential: Value::Null,
    };
    let id_token = id_token(&s).await;
    rp_logout(&s, &id_token).await;
    let row = wait_for_delivery(&db, "failed", 1).await;
    assert_eq!(
        row.last_status.as_deref(),
        Some("refused"),
        "refused, never retried"
    );
    assert!(
        resolver.1.load(Ordering::SeqCst) >= 1,
        "the name was looked up and vetted"
    );
}
