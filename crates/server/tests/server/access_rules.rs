//! Who may call what (docs/security.md, "Who may call what"): the route table of `/api/v1`
//! walked with every kind of credential, the takeover a third-party token once allowed, the
//! first-party audience no `resource` can select, and the table kept in one place.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};
use server::access::{OrgRule, Rule};

use crate::api_auth::signup;
use crate::authorize_errors::{
    REDIRECT, VERIFIER, authorize, challenge, decide, hidden, jar, redirected, sign_in,
};
use crate::common::*;

/// A gateway master key (32 bytes, hex).
const MASTER_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// The server's scopes in these tests: the OpenID ones and every API scope.
fn all_scopes() -> String {
    let mut scopes = vec![
        "openid",
        "profile",
        "email",
        "offline_access",
        "orders:read",
        "orders:write",
    ];
    scopes.extend(apikeys::API_SCOPES);
    scopes.join(" ")
}

/// A user (owner of an organization), signed in both ways: a first-party token from the JSON
/// sign-in, and a browser session (cookie jar) on the pages.
struct World {
    server: TestServer,
    browser: reqwest::Client,
    owner: String,
    org: String,
}

async fn world(db: &TestDb) -> World {
    let server = TestServer::start_with(db, |a| {
        a.scopes = scopes(&all_scopes());
        // The gateway's routes answer (rather than 503) only with a master key.
        a.master_key = Some(master_key(MASTER_KEY));
    });
    let ada = signup(&server, "ada@example.com", "Ada").await;
    let browser = jar();
    sign_in(&server, &browser, "ada@example.com", "correct horse").await;
    World {
        owner: ada["token"].as_str().expect("token").to_owned(),
        org: ada["organization"]["id"].as_str().expect("org").to_owned(),
        server,
        browser,
    }
}

/// Registers a public client through open dynamic registration, as any third party can.
async fn third_party_client(w: &World, scope: &str) -> String {
    let res = w
        .server
        .post_json(
            "/oauth2/register",
            &json!({
                "client_name": "Friendly App",
                "redirect_uris": [REDIRECT],
                "grant_types": ["authorization_code"],
                "token_endpoint_auth_method": "none",
                "scope": scope,
            }),
        )
        .await;
    assert_eq!(res.status(), 201);
    json_of(res).await["client_id"]
        .as_str()
        .expect("client_id")
        .to_owned()
}

/// The consent page for `scope`, then the token the user's "Allow" gives the client.
async fn consented_token(w: &World, client_id: &str, scope: &str) -> (String, String) {
    let ch = challenge(VERIFIER);
    let res = authorize(
        &w.server,
        &w.browser,
        &[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("scope", scope),
            ("state", "s"),
            ("code_challenge", &ch),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_eq!(res.status(), 200, "a consent page");
    let page = res.text().await.expect("html");
    let res = w
        .browser
        .post(w.server.url("/consent"))
        .form(&[
            ("csrf_token", hidden(&page, "csrf_token").as_str()),
            ("authorization", hidden(&page, "authorization").as_str()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .expect("consent");
    let code = redirected(&res)["code"].clone();
    let res = w
        .server
        .post_form(
            "/oauth2/token",
            None,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("client_id", client_id),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let token = json_of(res).await["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();
    (token, page)
}

async fn call(w: &World, method: &str, path: &str, auth: &[(&str, &str)]) -> reqwest::Response {
    let method = Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = w.server.http.request(method.clone(), w.server.url(path));
    for (k, v) in auth {
        req = req.header(*k, *v);
    }
    if method == Method::POST || method == Method::PATCH {
        req = req.json(&json!({}));
    }
    req.send().await.expect("request")
}

async fn new_key(w: &World, auth: &str, scopes: Value) -> reqwest::Response {
    w.server
        .http
        .post(
            w.server
                .url(&format!("/api/v1/organizations/{}/api-keys", w.org)),
        )
        .header("authorization", auth)
        .json(&json!({ "name": "k", "scopes": scopes }))
        .send()
        .await
        .expect("request")
}

async fn key(w: &World, scopes: Value) -> Value {
    let res = new_key(w, &format!("Bearer {}", w.owner), scopes).await;
    assert_eq!(res.status(), 201);
    json_of(res).await
}

/// A concrete path for a route pattern, in the world's organization.
fn concrete(w: &World, pattern: &str) -> String {
    pattern
        .replace("{org}", &w.org)
        .replace("{id}", "nothing-here")
        .replace("{user}", "usr_nobody")
        .replace("{name}", "nothing-here")
}

fn refused(status: u16) -> bool {
    status == 401 || status == 403
}

/// Let in: neither refused nor failed (a handler asking for a caller its rule does not give
/// fails closed with 500).
fn let_in(status: u16) -> bool {
    !refused(status) && status < 500
}

on_both_backends! {
    async fn attack_third_party_openid_token_takes_over_the_organization(db) {
        // The review's finding: an app allowed to "know who you are" read the account API and
        // created an owner invite in the user's organization.
        let w = world(&db).await;
        let client = third_party_client(&w, "openid profile email").await;
        let (token, page) = consented_token(&w, &client, "openid").await;
        assert!(page.contains("Know who you are"));
        let bearer = format!("Bearer {token}");
        let auth = [("authorization", bearer.as_str())];
        let me = call(&w, "GET", "/api/v1/me", &auth).await;
        assert_eq!(me.status(), 403);
        assert_eq!(json_of(me).await["error"]["code"], "first_party_only");
        assert!(refused(call(&w, "GET", "/api/v1/organizations", &auth).await.status().as_u16()));
        let invite = w
            .server
            .http
            .post(w.server.url(&format!("/api/v1/organizations/{}/invites", w.org)))
            .header("authorization", &bearer)
            .json(&json!({ "email": "mallory@example.com", "role": "owner" }))
            .send()
            .await
            .expect("invite");
        assert_eq!(invite.status(), 403, "no owner invite for a sign-in app");
        assert_eq!(json_of(invite).await["error"]["code"], "insufficient_scope");
        assert_eq!(
            call(&w, "POST", &format!("/api/v1/organizations/{}/api-keys", w.org), &auth)
                .await
                .status(),
            403
        );
        // Identity is what the app was given, at userinfo.
        let info = call(&w, "GET", "/oauth2/userinfo", &auth).await;
        assert_eq!(info.status(), 200);
        assert_eq!(json_of(info).await["sub"].as_str().map(|s| s.starts_with("usr_")), Some(true));
        // The user's own first-party token still does all of it.
        let owner = format!("Bearer {}", w.owner);
        assert_eq!(call(&w, "GET", "/api/v1/me", &[("authorization", &owner)]).await.status(), 200);
    }

    async fn attack_a_third_party_token_granted_authorize_calls_the_gateway_proxy(db) {
        // The proxy routes are outside `/api/v1` and its table: they take an organization API
        // key holding `authorize` and nothing else (`gateway::Caller::check`). A token the user
        // granted `authorize` on the consent page is still a token: 401 `invalid_api_key`.
        let w = world(&db).await;
        let client = third_party_client(&w, "openid authorize").await;
        let (token, page) = consented_token(&w, &client, "openid authorize").await;
        assert!(page.contains("agents may call a service"), "the user saw the scope");
        let bearer = format!("Bearer {token}");
        for path in ["/proxy/openai/v1/models", "/https://api.openai.com/v1/models"] {
            let res = call(&w, "GET", path, &[("authorization", &bearer), ("x-agent-id", "agt_x")]).await;
            assert_eq!(res.status(), 401, "{path}");
            assert_eq!(json_of(res).await["error"]["code"], "invalid_api_key", "{path}");
        }
    }

    async fn every_route_follows_its_declared_rule(db) {
        let w = world(&db).await;
        // A third-party token per API scope (consented on the page), one with `openid` only,
        // the owner's first-party token, an owner key (`*`) and a key holding `org:read`.
        let mut scoped = Vec::new();
        for scope in apikeys::API_SCOPES {
            let client = third_party_client(&w, &format!("openid {scope}")).await;
            let (token, page) = consented_token(&w, &client, &format!("openid {scope}")).await;
            let words = apikeys::describe_api_scope(scope).expect("described");
            assert!(page.contains(&words.replace('\'', "&#39;")), "consent says what {scope} allows: {page}");
            scoped.push((*scope, token));
        }
        let sign_in_app = third_party_client(&w, "openid").await;
        let (openid_only, _) = consented_token(&w, &sign_in_app, "openid").await;
        let star = key(&w, json!(["*"])).await["key"].as_str().expect("key").to_owned();
        let reader = key(&w, json!(["org:read"])).await["key"].as_str().expect("key").to_owned();

        let mut checked = 0;
        for route in server::API_ROUTES {
            let path = concrete(&w, route.path);
            let what = format!("{} {}", route.method, route.path);
            let status = |auth: Vec<(&'static str, String)>| {
                let w = &w;
                let path = path.clone();
                async move {
                    let auth: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    call(w, route.method, &path, &auth).await.status().as_u16()
                }
            };
            let bearer = |t: &str| vec![("authorization", format!("Bearer {t}"))];
            let x_api_key = |k: &str| vec![("x-api-key", k.to_owned())];
            match route.rule {
                Rule::Anonymous => continue,
                Rule::OptionalFirstParty => {
                    assert_eq!(status(bearer(&openid_only)).await, 403, "{what}: third-party bearer");
                    assert_eq!(status(bearer(&star)).await, 403, "{what}: key as bearer");
                }
                Rule::FirstParty => {
                    assert_eq!(status(vec![]).await, 401, "{what}: nothing");
                    assert_eq!(status(bearer(&openid_only)).await, 403, "{what}: third party");
                    for (scope, token) in &scoped {
                        assert_eq!(status(bearer(token)).await, 403, "{what}: third party with {scope}");
                    }
                    assert_eq!(status(x_api_key(&star)).await, 403, "{what}: owner key");
                    assert_eq!(status(bearer(&star)).await, 403, "{what}: owner key as bearer");
                    let got = status(bearer(&w.owner)).await;
                    assert!(let_in(got), "{what}: first party got {got}");
                }
                Rule::Operator => {
                    // Operators only: a first-party token of a user with the admin flag (let in
                    // by resources::operators_manage_resources_through_the_admin_api_and_no_one_else).
                    assert_eq!(status(vec![]).await, 401, "{what}: nothing");
                    assert_eq!(status(bearer(&openid_only)).await, 403, "{what}: third party");
                    for (scope, token) in &scoped {
                        assert_eq!(status(bearer(token)).await, 403, "{what}: third party with {scope}");
                    }
                    assert_eq!(status(x_api_key(&star)).await, 403, "{what}: owner key");
                    assert_eq!(status(bearer(&star)).await, 403, "{what}: owner key as bearer");
                    assert_eq!(status(bearer(&w.owner)).await, 403, "{what}: a user, not an operator");
                }
                Rule::Caller { scope } | Rule::Org(OrgRule { scope, .. }) => {
                    let keys = match route.rule {
                        Rule::Org(r) => r.keys,
                        _ => true,
                    };
                    assert_eq!(status(vec![]).await, 401, "{what}: nothing");
                    assert_eq!(status(bearer(&openid_only)).await, 403, "{what}: openid only");
                    for (held, token) in &scoped {
                        let got = status(bearer(token)).await;
                        assert_eq!(let_in(got), *held == scope, "{what}: third party holding {held} got {got}");
                    }
                    let got = status(x_api_key(&star)).await;
                    assert_eq!(let_in(got), keys, "{what}: owner key got {got}");
                    let got = status(x_api_key(&reader)).await;
                    assert_eq!(let_in(got), keys && scope == "org:read", "{what}: org:read key got {got}");
                    let got = status(bearer(&w.owner)).await;
                    assert!(let_in(got), "{what}: first party got {got}");
                }
            }
            checked += 1;
        }
        assert!(checked >= 25, "walked {checked} guarded routes");
    }

    async fn attack_resource_parameter_selects_the_first_party_audience(db) {
        let w = world(&db).await;
        let client = third_party_client(&w, "openid").await;
        let ch = challenge(VERIFIER);
        for resource in ["urn:portcullis:first-party", "URN:Portcullis:first-party"] {
            let res = authorize(
                &w.server,
                &w.browser,
                &[
                    ("response_type", "code"),
                    ("client_id", client.as_str()),
                    ("redirect_uri", REDIRECT),
                    ("scope", "openid"),
                    ("state", "s"),
                    ("resource", resource),
                    ("code_challenge", &ch),
                    ("code_challenge_method", "S256"),
                ],
            )
            .await;
            let res = decide(&w.server, &w.browser, res, "allow").await;
            assert_eq!(redirected(&res)["error"], "invalid_target", "{resource}");
        }
        // Nor with client credentials.
        let (id, secret) = crate::token::service_client(&w.server, "client_secret_basic").await;
        let res = w
            .server
            .post_form(
                "/oauth2/token",
                Some((&id, &secret)),
                &[("grant_type", "client_credentials"), ("resource", "urn:portcullis:first-party")],
            )
            .await;
        assert_eq!(res.status(), 400);
        assert_eq!(json_of(res).await["error"], "invalid_target");
    }

    async fn first_party_clients_tokens_reach_the_account_api(db) {
        let w = world(&db).await;
        let client_id = {
            let mut conn = db.store().conn().expect("conn");
            let policy = registration::Policy {
                known_scopes: vec!["openid".into()],
                default_code_scopes: vec!["openid".into()],
                id_token_algs: vec!["RS256".into()],
                allow_password_grant: false,
                backchannel_logout_loopback: false,
            };
            let meta = registration::parse_metadata(
                &json!({
                    "client_name": "Our own console",
                    "redirect_uris": [REDIRECT],
                    "token_endpoint_auth_method": "none",
                }),
                &policy,
            )
            .expect("meta");
            registration::register_client_with(&mut conn, meta, false, true, w.server.clock_now())
                .expect("register")
                .client
                .id
        };
        let ch = challenge(VERIFIER);
        let res = authorize(
            &w.server,
            &w.browser,
            &[
                ("response_type", "code"),
                ("client_id", client_id.as_str()),
                ("redirect_uri", REDIRECT),
                ("scope", "openid"),
                ("state", "s"),
                ("code_challenge", &ch),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
        // First-party: no consent page.
        let code = redirected(&res)["code"].clone();
        let res = w
            .server
            .post_form(
                "/oauth2/token",
                None,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                    ("client_id", &client_id),
                    ("code_verifier", VERIFIER),
                ],
            )
            .await;
        assert_eq!(res.status(), 200);
        let token = json_of(res).await["access_token"].as_str().expect("token").to_owned();
        let auth = format!("Bearer {token}");
        assert_eq!(call(&w, "GET", "/api/v1/me", &[("authorization", &auth)]).await.status(), 200);
        assert_eq!(call(&w, "GET", "/oauth2/userinfo", &[("authorization", &auth)]).await.status(), 200);
    }

    async fn attack_key_escalation_a_key_mints_a_stronger_key(db) {
        let w = world(&db).await;
        let writer = key(&w, json!(["api-keys:write"])).await["key"].as_str().expect("key").to_owned();
        let auth = format!("Bearer {writer}");
        // Only what it holds itself.
        let res = new_key(&w, &auth, json!(["members:write"])).await;
        assert_eq!(res.status(), 400);
        assert_eq!(json_of(res).await["error"]["param"], "scopes");
        assert_eq!(new_key(&w, &auth, json!(["*"])).await.status(), 400);
        assert_eq!(new_key(&w, &auth, json!(["api-keys:write"])).await.status(), 201);
        // Nor widen itself by an update.
        let me = key(&w, json!(["api-keys:write"])).await;
        let res = w
            .server
            .http
            .patch(w.server.url(&format!("/api/v1/organizations/{}/api-keys/{}", w.org, me["id"].as_str().expect("id"))))
            .header("authorization", format!("Bearer {}", me["key"].as_str().expect("key")))
            .json(&json!({ "scopes": ["api-keys:write", "services:write"] }))
            .send()
            .await
            .expect("patch");
        assert_eq!(res.status(), 400);
    }

    async fn attack_key_escalation_an_admin_key_takes_the_owner_key(db) {
        let w = world(&db).await;
        let owner_key = key(&w, json!(["*"])).await;
        let owner_key_id = owner_key["id"].as_str().expect("id");
        let admin = key(&w, json!(["api-keys:write", "api-keys:read"])).await["key"].as_str().expect("key").to_owned();
        let auth = format!("Bearer {admin}");
        let base = format!("/api/v1/organizations/{}/api-keys/{owner_key_id}", w.org);
        let send = |method: Method, path: String| {
            let w = &w;
            let auth = auth.clone();
            async move {
                w.server.http.request(method, w.server.url(&path)).header("authorization", auth)
                    .json(&json!({ "name": "mine now" })).send().await.expect("request").status().as_u16()
            }
        };
        assert_eq!(send(Method::POST, format!("{base}/rotate")).await, 403, "rotate: the new secret would go to the admin");
        assert_eq!(send(Method::PATCH, base.clone()).await, 403, "update");
        assert_eq!(send(Method::DELETE, base.clone()).await, 403, "revoke");
        // The owner key still works.
        let res = call(&w, "GET", &format!("/api/v1/organizations/{}", w.org), &[("x-api-key", owner_key["key"].as_str().expect("key"))]).await;
        assert_eq!(res.status(), 200);
        // A rotation's secret goes to the key's creator: a key rotating a key it made.
        let made = json_of(new_key(&w, &auth, json!(["api-keys:read"])).await).await;
        let made_id = made["id"].as_str().expect("id");
        assert_eq!(send(Method::POST, format!("/api/v1/organizations/{}/api-keys/{made_id}/rotate", w.org)).await, 200);
        // But not a key someone else made.
        let other = key(&w, json!(["org:read"])).await;
        let other_id = other["id"].as_str().expect("id");
        assert_eq!(send(Method::POST, format!("/api/v1/organizations/{}/api-keys/{other_id}/rotate", w.org)).await, 403);
    }

    async fn attack_agent_escalation_a_non_owner_grants_every_service(db) {
        let w = world(&db).await;
        let admin = key(&w, json!(["agents:write"])).await["key"].as_str().expect("key").to_owned();
        let path = format!("/api/v1/organizations/{}/agents", w.org);
        let create = |scopes: Value| {
            let w = &w;
            let path = path.clone();
            let admin = admin.clone();
            async move {
                w.server.http.post(w.server.url(&path)).header("x-api-key", admin)
                    .json(&json!({ "name": "bot", "scopes": scopes })).send().await.expect("post")
            }
        };
        assert_eq!(create(json!(["*"])).await.status(), 400);
        assert_eq!(create(json!(["openai:chat:completions"])).await.status(), 201);
        // An owner's `*` agent cannot be changed or deleted by the admin key.
        let res = w.server.http.post(w.server.url(&path)).bearer_auth(&w.owner)
            .json(&json!({ "name": "root bot", "scopes": ["*"] })).send().await.expect("post");
        assert_eq!(res.status(), 201);
        let id = json_of(res).await["id"].as_str().expect("id").to_owned();
        let res = w.server.http.patch(w.server.url(&format!("{path}/{id}"))).header("x-api-key", &admin)
            .json(&json!({ "name": "mine" })).send().await.expect("patch");
        assert_eq!(res.status(), 403);
        let res = w.server.http.delete(w.server.url(&format!("{path}/{id}"))).header("x-api-key", &admin)
            .send().await.expect("delete");
        assert_eq!(res.status(), 403);
    }
}

/// Every `/api/v1` route is registered through the table (`routes/api.rs`): a route
/// registered anywhere else would be served without a declared rule.
#[test]
fn every_api_route_is_in_the_table() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offenders = Vec::new();
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") || path.ends_with("routes/api.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read");
            let squeezed: String = text.split_whitespace().collect();
            for call in ["route(\"/api/", "resource(\"/api/", "scope(\"/api"] {
                if squeezed.contains(call) {
                    offenders.push(format!("{} registers {call}…", path.display()));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "routes outside the table: {offenders:?}"
    );
    // And the table itself: one rule per method and path.
    let mut seen = BTreeSet::new();
    for r in server::API_ROUTES {
        assert!(r.path.starts_with("/api/v1/"), "{}", r.path);
        assert!(
            seen.insert((r.method, r.path)),
            "{} {} declared twice",
            r.method,
            r.path
        );
        if let Rule::Org(_) = r.rule {
            assert!(
                r.path.contains("{org}"),
                "{}: an organization rule needs {{org}}",
                r.path
            );
        }
    }
}

/// docs/security.md shows the route table as the code declares it.
#[test]
fn the_security_doc_shows_the_route_table() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/security.md"),
    )
    .expect("docs/security.md");
    let table = server::api_routes_markdown();
    assert!(
        doc.contains(&table),
        "docs/security.md's \"Who may call what\" differs from the code; it should read:\n\n{table}"
    );
}

on_both_backends! {
    async fn attack_key_escalation_an_admin_revokes_the_owner_key_on_the_keys_page(db) {
        let w = world(&db).await;
        let owner_key = key(&w, json!(["*"])).await;
        let owner_key_id = owner_key["id"].as_str().expect("id").to_owned();
        // An admin joins through an invite, then signs in on the pages.
        let res = w
            .server
            .http
            .post(w.server.url(&format!("/api/v1/organizations/{}/invites", w.org)))
            .bearer_auth(&w.owner)
            .json(&json!({ "email": "ben@example.com", "role": "admin" }))
            .send()
            .await
            .expect("invite");
        assert_eq!(res.status(), 201);
        let invite = json_of(res).await;
        let res = w
            .server
            .post_json(
                &format!("/api/v1/invites/{}/accept", invite["id"].as_str().expect("id")),
                &json!({ "token": invite["token"], "name": "Ben", "password": "correct horse" }),
            )
            .await;
        assert_eq!(res.status(), 200);
        let admin = jar();
        sign_in(&w.server, &admin, "ben@example.com", "correct horse").await;
        let page = admin
            .get(w.server.url(&format!("/account/orgs/{}/keys", w.org)))
            .send()
            .await
            .expect("keys page")
            .text()
            .await
            .expect("html");
        let res = admin
            .post(w.server.url(&format!("/account/orgs/{}/keys/{owner_key_id}/revoke", w.org)))
            .form(&[("csrf_token", hidden(&page, "csrf_token").as_str())])
            .send()
            .await
            .expect("revoke");
        assert_eq!(res.status(), 403);
        let res = call(&w, "GET", &format!("/api/v1/organizations/{}", w.org), &[("x-api-key", owner_key["key"].as_str().expect("key"))]).await;
        assert_eq!(res.status(), 200, "the owner key still works");
    }
}
