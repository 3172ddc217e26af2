//! The agent gateway against a real upstream server on loopback (allowed by
//! PORTCULLIS_GATEWAY_ALLOW_PRIVATE for these tests only).

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::api_auth::signup;
use crate::common::*;

pub(crate) const MASTER: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const CREDENTIAL: &str = "Bearer upstream-secret-4242";

/// The upstream: echoes what it received; streams an event stream in two parts, the second
/// only after the test says so; redirects elsewhere.
pub(crate) fn upstream(release: Arc<Notify>) -> String {
    upstream_at("127.0.0.1", release, Arc::default())
}

/// The upstream on a loopback address of choice, counting the calls that reach `/v1/echo`.
fn upstream_at(ip: &str, release: Arc<Notify>, hits: Arc<AtomicUsize>) -> String {
    let listener = TcpListener::bind((ip, 0)).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = HttpServer::new(move || {
        let release = Arc::clone(&release);
        let hits = Arc::clone(&hits);
        App::new()
            .route("/v1/echo", web::to(move |req: HttpRequest, body: web::Bytes| {
                hits.fetch_add(1, Ordering::SeqCst);
                async move {
                let headers: serde_json::Map<String, Value> = req
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), Value::String(v.to_str().unwrap_or("").to_owned())))
                    .collect();
                HttpResponse::Ok().cookie(actix_web::cookie::Cookie::new("upstream", "cookie")).json(json!({
                    "method": req.method().as_str(), "path": req.path(), "query": req.query_string(),
                    "headers": headers, "body": String::from_utf8_lossy(&body),
                }))
            }}))
            .route("/v1/stream", web::get().to(move || {
                let release = Arc::clone(&release);
                async move {
                    let stream = futures_util::stream::unfold(0, move |step| {
                        let release = Arc::clone(&release);
                        async move {
                            match step {
                                0 => Some((Ok::<_, actix_web::Error>(web::Bytes::from_static(b"data: one\n\n")), 1)),
                                1 => {
                                    release.notified().await;
                                    Some((Ok(web::Bytes::from_static(b"data: two\n\n")), 2))
                                }
                                _ => None,
                            }
                        }
                    });
                    HttpResponse::Ok().content_type("text/event-stream").streaming(stream)
                }
            }))
            .route("/v1/redirect", web::to(|| async {
                HttpResponse::Found().insert_header(("location", "http://elsewhere.invalid/steal")).finish()
            }))
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    actix_web::rt::spawn(server);
    format!("http://{addr}")
}

pub(crate) struct Gw {
    pub(crate) server: TestServer,
    pub(crate) owner: String,
    pub(crate) org: String,
    pub(crate) key: String,
    pub(crate) agent: String,
    pub(crate) base: String,
    pub(crate) release: Arc<Notify>,
}

pub(crate) async fn json_call(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    auth: &str,
    body: Value,
) -> reqwest::Response {
    server
        .http
        .request(method, server.url(path))
        .bearer_auth(auth)
        .json(&body)
        .send()
        .await
        .expect("call")
}

pub(crate) async fn setup(db: &TestDb, master: Option<&str>, allow_private: bool) -> Gw {
    setup_with(db, master, allow_private, None).await
}

async fn setup_with(
    db: &TestDb,
    master: Option<&str>,
    allow_private: bool,
    resolver: Option<Arc<dyn gateway::Resolve>>,
) -> Gw {
    let release = Arc::new(Notify::new());
    let base = upstream(Arc::clone(&release));
    let master = master.map(str::to_owned);
    let adjust = |a: &mut Settings| {
        a.master_key = master.as_deref().map(master_key);
        a.gateway_allow_private = allow_private;
        a.api_key_cache = 0;
    };
    let server = TestServer::start_with_state(db, adjust, |state| {
        if let Some(resolver) = resolver {
            state.gateway_resolver = resolver;
        }
    });
    let ada = signup(
        &server,
        &format!("gw-{}@example.com", primitives::random_id().to_lowercase()),
        "Gw",
    )
    .await;
    let owner = ada["token"].as_str().expect("token").to_owned();
    let org = ada["organization"]["id"].as_str().expect("org").to_owned();
    let key = json_of(
        json_call(
            &server,
            reqwest::Method::POST,
            &format!("/api/v1/organizations/{org}/api-keys"),
            &owner,
            json!({ "name": "gw", "scopes": ["authorize"] }),
        )
        .await,
    )
    .await;
    let agent = json_of(
        json_call(
            &server,
            reqwest::Method::POST,
            &format!("/api/v1/organizations/{org}/agents"),
            &owner,
            json!({ "name": "bot", "scopes": ["echo:echo", "echo:stream", "echo:redirect"] }),
        )
        .await,
    )
    .await;
    Gw {
        key: key["key"].as_str().unwrap_or_default().to_owned(),
        agent: agent["id"].as_str().unwrap_or_default().to_owned(),
        server,
        owner,
        org,
        base,
        release,
    }
}

pub(crate) async fn add_service(g: &Gw, base: &str) -> reqwest::Response {
    add_named_service(g, "echo", base, CREDENTIAL).await
}

async fn add_named_service(g: &Gw, name: &str, base: &str, credential: &str) -> reqwest::Response {
    json_call(
        &g.server,
        reqwest::Method::POST,
        &format!("/api/v1/organizations/{}/services", g.org),
        &g.owner,
        json!({
            "name": name, "baseUrl": base, "pathPrefix": "/v1",
            "credential": { "kind": "header", "name": "Authorization", "value": credential },
        }),
    )
    .await
}

on_both_backends! {
    async fn calls_are_forwarded_with_the_stored_credential_and_nothing_of_the_caller(db) {
        let g = setup(&db, Some(MASTER), true).await;
        let created = add_service(&g, &g.base).await;
        assert_eq!(created.status(), 201);
        let created = json_of(created).await;
        assert_eq!(created["credential"]["hint"], "…4242");
        assert!(!created.to_string().contains("upstream-secret"), "never returned");

        let res = g.server.http.post(g.server.url("/proxy/echo/v1/echo?x=1"))
            .header("x-api-key", &g.key).header("x-agent-id", &g.agent).header("cookie", "session=caller")
            .header("x-custom", "kept").body("plain body").send().await.expect("proxy");
        assert_eq!(res.status(), 200);
        assert!(res.headers().get("set-cookie").is_none(), "upstream cookies are not passed back");
        let seen = json_of(res).await;
        assert_eq!(seen["headers"]["authorization"], CREDENTIAL);
        assert!(seen["headers"].get("x-api-key").is_none() && seen["headers"].get("cookie").is_none() && seen["headers"].get("x-agent-id").is_none());
        assert_eq!(seen["headers"]["x-custom"], "kept");
        assert_eq!((seen["method"].as_str(), seen["path"].as_str(), seen["query"].as_str(), seen["body"].as_str()), (Some("POST"), Some("/v1/echo"), Some("x=1"), Some("plain body")));

        // agent_id in a JSON body names the agent and is removed before forwarding; the
        // combined credential and the full-URL form work too.
        let res = g.server.http.post(g.server.url("/proxy/echo/v1/echo")).bearer_auth(&g.key)
            .json(&json!({ "agent_id": g.agent, "model": "m" })).send().await.expect("proxy");
        let seen = json_of(res).await;
        assert_eq!(serde_json::from_str::<Value>(seen["body"].as_str().expect("body")).expect("json"), json!({ "model": "m" }));
        let combined = format!("pcl_{}_agent_{}", g.key, g.agent);
        let res = g.server.http.get(g.server.url(&format!("/{}/v1/echo", g.base))).bearer_auth(&combined).send().await.expect("proxy");
        assert_eq!(res.status(), 200);

        // The usage log.
        let usage = json_of(g.server.http.get(g.server.url(&format!("/api/v1/organizations/{}/usage?service=echo", g.org))).bearer_auth(&g.owner).send().await.expect("usage")).await;
        let rows = usage["data"].as_array().cloned().unwrap_or_default();
        assert!(rows.len() >= 2, "{usage}");
        assert!(rows.iter().all(|r| r["status"] == 200 && r["agentId"] == g.agent.as_str()));
    }

    async fn event_streams_arrive_in_pieces(db) {
        let g = setup(&db, Some(MASTER), true).await;
        add_service(&g, &g.base).await;
        let mut res = g.server.http.get(g.server.url("/proxy/echo/v1/stream")).header("x-api-key", &g.key).header("x-agent-id", &g.agent).send().await.expect("proxy");
        assert_eq!(res.status(), 200);
        let first = res.chunk().await.expect("chunk").expect("a first piece");
        assert_eq!(&first[..], b"data: one\n\n", "arrived while the upstream is still waiting");
        g.release.notify_one();
        let mut rest = Vec::new();
        while let Some(chunk) = res.chunk().await.expect("chunk") {
            rest.extend_from_slice(&chunk);
        }
        assert_eq!(rest, b"data: two\n\n");
    }

    async fn refusals_happen_before_any_connection(db) {
        let g = setup(&db, Some(MASTER), true).await;
        add_service(&g, &g.base).await;
        let call = |path: String, key: String| {
            let server = &g.server;
            let agent = g.agent.clone();
            async move { server.http.get(server.url(&path)).header("x-api-key", key).header("x-agent-id", agent).send().await.expect("call") }
        };
        // The gateway's routes (outside the `/api/v1` table) take an organization API key with
        // `authorize` only: the owner's own first-party token is the wrong kind of credential.
        let res = g.server.http.get(g.server.url("/proxy/echo/v1/echo")).bearer_auth(&g.owner).header("x-agent-id", &g.agent).send().await.expect("call");
        assert_eq!(res.status(), 401);
        assert_eq!(json_of(res).await["error"]["code"], "invalid_api_key");
        // An unregistered host, and an unregistered service.
        let res = call("/http://127.0.0.2:9/v1/echo".into(), g.key.clone()).await;
        assert_eq!(res.status(), 403);
        assert_eq!(json_of(res).await["error"]["code"], "upstream_refused");
        assert_eq!(call("/proxy/nope/v1/echo".into(), g.key.clone()).await.status(), 403);
        // Path tricks: clients resolve `..` before sending (the gateway refuses any that arrive,
        // see the gateway crate's tests); what arrives here is /admin, outside the agent's scopes.
        assert!(call("/proxy/echo/v1/../admin".into(), g.key.clone()).await.status().is_client_error());
        // A scope the agent lacks.
        let res = call("/proxy/echo/v1/models".into(), g.key.clone()).await;
        assert_eq!(res.status(), 403);
        let err = json_of(res).await;
        assert_eq!(err["error"]["code"], "insufficient_scope");
        assert_eq!(err["error"]["required_scope"], "echo:models");
        // A redirect is passed back, never followed.
        let res = call("/proxy/echo/v1/redirect".into(), g.key.clone()).await;
        assert_eq!(res.status(), 302);
        assert_eq!(res.headers()["location"], "http://elsewhere.invalid/steal");
        // No key, a bad key, a revoked key.
        assert_eq!(g.server.get("/proxy/echo/v1/echo").await.status(), 401);
        assert_eq!(call("/proxy/echo/v1/echo".into(), "pcl_sk_nope".into()).await.status(), 401);
        let keys = json_of(g.server.http.get(g.server.url(&format!("/api/v1/organizations/{}/api-keys", g.org))).bearer_auth(&g.owner).send().await.expect("keys")).await;
        let id = keys["data"][0]["id"].as_str().expect("id").to_owned();
        g.server.http.delete(g.server.url(&format!("/api/v1/organizations/{}/api-keys/{id}", g.org))).bearer_auth(&g.owner).send().await.expect("revoke");
        assert_eq!(call("/proxy/echo/v1/echo".into(), g.key.clone()).await.status(), 401);
    }
}

async fn proxied(g: &Gw, service: &str, agent: &str) -> reqwest::Response {
    g.server
        .http
        .post(g.server.url(&format!("/proxy/{service}/v1/echo")))
        .header("x-api-key", &g.key)
        .header("x-agent-id", agent)
        .body("x")
        .send()
        .await
        .expect("proxy")
}

on_both_backends! {
    // A sealed credential copied, in the database, from a service on one host to a service on
    // another does not open there: the call fails with a clean 503 that reveals nothing, and
    // nothing reaches the other host.
    async fn attack_copied_credential_does_not_open_for_another_host(db) {
        let g = setup(&db, Some(MASTER), true).await;
        assert_eq!(add_service(&g, &g.base).await.status(), 201);
        let hits = Arc::new(AtomicUsize::new(0));
        let other = upstream_at("127.0.0.2", Arc::new(Notify::new()), Arc::clone(&hits));
        let res = add_named_service(&g, "other", &other, "Bearer other-secret-0000").await;
        assert_eq!(res.status(), 201);
        let agent = json_of(json_call(&g.server, reqwest::Method::POST, &format!("/api/v1/organizations/{}/agents", g.org), &g.owner, json!({ "name": "other-bot", "scopes": ["other:echo"] })).await).await;
        let agent = agent["id"].as_str().expect("agent").to_owned();
        let res = proxied(&g, "other", &agent).await;
        assert_eq!(res.status(), 200);
        assert_eq!(json_of(res).await["headers"]["authorization"], "Bearer other-secret-0000");
        assert_eq!(hits.load(Ordering::SeqCst), 1);

        {
            let mut conn = db.store().conn().expect("conn");
            let echo = store::gateway::find_service(&mut conn, &g.org, "echo").expect("find").expect("echo");
            let mut target = store::gateway::find_service(&mut conn, &g.org, "other").expect("find").expect("other");
            target.credential_box = echo.credential_box;
            assert!(store::gateway::update_service(&mut conn, &target).expect("copy"));
        }
        let res = proxied(&g, "other", &agent).await;
        assert_eq!(res.status(), 503);
        let text = res.text().await.expect("body");
        let body: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(body["error"]["code"], "credential_unavailable");
        assert!(!text.contains("upstream-secret") && !text.contains("decrypt") && !text.contains("svc_"), "{text}");
        assert_eq!(hits.load(Ordering::SeqCst), 1, "nothing was sent to the other host");
        // The original still works where it was sealed.
        assert_eq!(proxied(&g, "echo", &g.agent).await.status(), 200);
    }

    // Pointing a service at another scheme, host or port through the API takes a new
    // credential in the same request; the same origin written differently does not.
    async fn attack_credential_exfiltration_by_moving_base_url_needs_a_new_credential(db) {
        let g = setup(&db, Some(MASTER), true).await;
        assert_eq!(add_service(&g, &g.base).await.status(), 201);
        let hits = Arc::new(AtomicUsize::new(0));
        let attacker = upstream_at("127.0.0.2", Arc::new(Notify::new()), Arc::clone(&hits));
        let port: u16 = g.base.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port");
        let path = format!("/api/v1/organizations/{}/services/echo", g.org);
        for elsewhere in [attacker.clone(), format!("http://127.0.0.1:{}", port.wrapping_add(1)), format!("https://127.0.0.1:{port}")] {
            let res = json_call(&g.server, reqwest::Method::PATCH, &path, &g.owner, json!({ "baseUrl": elsewhere })).await;
            assert_eq!(res.status(), 400, "{elsewhere}");
            let err = json_of(res).await;
            assert_eq!(err["error"]["code"], "invalid_field");
            assert_eq!(err["error"]["type"], "invalid_request_error");
            assert_eq!(err["error"]["param"], "credential", "{err}");
            assert!(err["error"]["message"].as_str().expect("message").contains("credential"));
        }
        let shown = json_of(json_call(&g.server, reqwest::Method::GET, &path, &g.owner, json!({})).await).await;
        assert_eq!(shown["baseUrl"], g.base.as_str(), "unchanged");
        assert_eq!(proxied(&g, "echo", &g.agent).await.status(), 200);
        assert_eq!(hits.load(Ordering::SeqCst), 0);

        // Same origin, another spelling: no new credential needed.
        let res = json_call(&g.server, reqwest::Method::PATCH, &path, &g.owner, json!({ "baseUrl": format!("{}/", g.base) })).await;
        assert_eq!(res.status(), 200);
        // Moving with a new credential works; the old one never goes to the new host.
        let res = json_call(&g.server, reqwest::Method::PATCH, &path, &g.owner, json!({
            "baseUrl": attacker, "credential": { "kind": "header", "name": "Authorization", "value": "Bearer new-home-1111" },
        })).await;
        assert_eq!(res.status(), 200);
        let res = proxied(&g, "echo", &g.agent).await;
        assert_eq!(res.status(), 200);
        assert_eq!(json_of(res).await["headers"]["authorization"], "Bearer new-home-1111");
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    }
}

#[actix_web::test]
async fn private_addresses_and_plain_http_are_refused_in_production() {
    let db = TestDb::sqlite();
    let g = setup(&db, Some(MASTER), false).await;
    let res = add_service(&g, &g.base).await;
    assert_eq!(res.status(), 400, "http upstreams are refused");
    let port = g.base.rsplit(':').next().unwrap_or("1");
    let res = add_service(&g, &format!("https://127.0.0.1:{port}")).await;
    assert_eq!(res.status(), 201);
    let res = g
        .server
        .http
        .get(g.server.url("/proxy/echo/v1/echo"))
        .header("x-api-key", &g.key)
        .header("x-agent-id", &g.agent)
        .send()
        .await
        .expect("proxy");
    assert_eq!(res.status(), 403);
    assert_eq!(json_of(res).await["error"]["code"], "upstream_refused");
}

#[actix_web::test]
async fn without_a_master_key_the_gateway_is_off() {
    let db = TestDb::sqlite();
    let g = setup(&db, None, true).await;
    let res = add_service(&g, &g.base).await;
    assert_eq!(res.status(), 503);
    assert_eq!(json_of(res).await["error"]["code"], "gateway_disabled");
    let res = g
        .server
        .http
        .get(g.server.url("/proxy/echo/v1/echo"))
        .header("x-api-key", &g.key)
        .send()
        .await
        .expect("proxy");
    assert_eq!(res.status(), 503);
}

#[actix_web::test]
async fn credentials_are_sealed_at_rest_and_survive_a_master_key_rotation() {
    let db = TestDb::sqlite();
    let g = setup(&db, Some(MASTER), true).await;
    add_service(&g, &g.base).await;
    // Not in the database file, in any form we could read without the key.
    let path = db.url().trim_start_matches("sqlite://").to_owned();
    let mut raw = std::fs::read(&path).unwrap_or_default();
    raw.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
    assert!(
        !raw.windows(CREDENTIAL.len())
            .any(|w| w == CREDENTIAL.as_bytes()),
        "the credential is stored in the clear"
    );

    // Rotate to a new key, then run on the new key only.
    let new = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";
    {
        let mut conn = db.store().conn().expect("conn");
        let old = gateway::MasterKey::parse(MASTER).expect("old");
        let next = gateway::MasterKey::parse(new).expect("new");
        assert_eq!(
            gateway::reseal_all(&mut conn, &old, &next).expect("reseal"),
            1
        );
    }
    let rotated = TestServer::start_with(&db, |a| {
        a.master_key = Some(master_key(new));
        a.gateway_allow_private = true;
        a.api_key_cache = 0;
    });
    let res = rotated
        .http
        .post(rotated.url("/proxy/echo/v1/echo"))
        .header("x-api-key", &g.key)
        .header("x-agent-id", &g.agent)
        .body("x")
        .send()
        .await
        .expect("proxy");
    assert_eq!(res.status(), 200);
    assert_eq!(json_of(res).await["headers"]["authorization"], CREDENTIAL);
    let stale = g
        .server
        .http
        .post(g.server.url("/proxy/echo/v1/echo"))
        .header("x-api-key", &g.key)
        .header("x-agent-id", &g.agent)
        .body("x")
        .send()
        .await
        .expect("proxy");
    assert_eq!(
        stale.status(),
        503,
        "the old key no longer opens the credential"
    );
    assert_eq!(
        json_of(stale).await["error"]["code"],
        "credential_unavailable"
    );
}

/// A resolver the test controls: one scripted answer per lookup (the last one repeats), and a
/// count of lookups.
#[derive(Debug)]
struct Scripted {
    answers: std::sync::Mutex<Vec<Vec<std::net::IpAddr>>>,
    lookups: std::sync::atomic::AtomicUsize,
}

impl Scripted {
    fn new(answers: &[&[&str]]) -> Arc<Self> {
        Arc::new(Self {
            answers: std::sync::Mutex::new(
                answers
                    .iter()
                    .map(|a| a.iter().map(|ip| ip.parse().expect("ip")).collect())
                    .collect(),
            ),
            lookups: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    fn lookups(&self) -> usize {
        self.lookups.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl gateway::Resolve for Scripted {
    fn lookup(&self, _host: &str, port: u16) -> std::io::Result<Vec<std::net::SocketAddr>> {
        let n = self
            .lookups
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let answers = self.answers.lock().expect("lock");
        let answer = answers
            .get(n)
            .or(answers.last())
            .cloned()
            .unwrap_or_default();
        Ok(answer
            .into_iter()
            .map(|ip| std::net::SocketAddr::new(ip, port))
            .collect())
    }
}

const PUBLIC_ONLY: gateway::AddressPolicy = gateway::AddressPolicy {
    allow_private: false,
};

/// A name that answered a public address when it was checked answers 127.0.0.1 when the
/// gateway connects: the gateway looks it up once per connection, vets that answer, refuses,
/// and never opens a connection to the loopback listener standing where it points.
#[actix_web::test]
async fn attack_dns_rebinding_reaches_only_the_vetted_address() {
    let db = TestDb::sqlite();
    let target = TcpListener::bind("127.0.0.1:0").expect("bind");
    target.set_nonblocking(true).expect("nonblocking");
    let port = target.local_addr().expect("addr").port();
    let resolver = Scripted::new(&[
        &["93.184.215.14"],
        &["127.0.0.1"],
        &["93.184.215.14", "127.0.0.1"],
    ]);
    let g = setup_with(&db, Some(MASTER), false, Some(resolver.clone())).await;
    let created = add_service(&g, &format!("https://rebind.example:{port}")).await;
    assert_eq!(created.status(), 201);

    // Check time: the name is public.
    let checked = gateway::vetted_addrs(resolver.as_ref(), "rebind.example", port, PUBLIC_ONLY);
    assert!(checked.is_ok(), "{checked:?}");
    // Connection time: it now points at loopback.
    let call = || {
        g.server
            .http
            .get(g.server.url("/proxy/echo/v1/echo"))
            .header("x-api-key", &g.key)
            .header("x-agent-id", &g.agent)
            .send()
    };
    let res = call().await.expect("proxy");
    assert_eq!(res.status(), 403);
    let body = json_of(res).await;
    assert_eq!(body["error"]["code"], "upstream_refused");
    assert!(
        !body.to_string().contains("127.0.0.1"),
        "no details: {body}"
    );
    assert_eq!(
        resolver.lookups(),
        2,
        "one lookup for the connection, no other"
    );
    // A public address beside a private one does not make the name acceptable.
    let res = call().await.expect("proxy");
    assert_eq!(res.status(), 403);
    assert_eq!(resolver.lookups(), 3);
    assert!(
        matches!(target.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "nothing connected to the private address"
    );
}

/// The connection goes to the address the gateway looked up (here a name the system resolver
/// cannot resolve), and the upstream still sees its own name in `Host`.
#[actix_web::test]
async fn attack_dns_rebinding_connection_uses_the_one_lookup_and_keeps_the_host_name() {
    let db = TestDb::sqlite();
    let resolver = Scripted::new(&[&["127.0.0.1"]]);
    let g = setup_with(&db, Some(MASTER), true, Some(resolver.clone())).await;
    let port = g.base.rsplit(':').next().expect("port").to_owned();
    let base = format!("http://upstream.invalid:{port}");
    assert_eq!(add_service(&g, &base).await.status(), 201);
    let res = g
        .server
        .http
        .get(g.server.url("/proxy/echo/v1/echo"))
        .header("x-api-key", &g.key)
        .header("x-agent-id", &g.agent)
        .send()
        .await
        .expect("proxy");
    assert_eq!(res.status(), 200);
    let seen = json_of(res).await;
    assert_eq!(seen["headers"]["host"], format!("upstream.invalid:{port}"));
    assert_eq!(resolver.lookups(), 1);
}
