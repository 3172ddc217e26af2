//! API keys, agents, the one principal, `authorize-request` and `forward-auth`.

use serde_json::{Value, json};

use crate::api_auth::signup;
use crate::common::*;

struct Org {
    server: TestServer,
    owner: String,
    org: String,
}

async fn setup(db: &TestDb, cache: i64) -> Org {
    let server = TestServer::start_with(db, |a| a.api_key_cache = cache);
    let ada = signup(&server, "ada@example.com", "Ada").await;
    Org {
        owner: ada["token"].as_str().expect("token").to_owned(),
        org: ada["organization"]["id"].as_str().expect("org").to_owned(),
        server,
    }
}

async fn call(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    auth: &[(&str, &str)],
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = server.http.request(method, server.url(path));
    for (k, v) in auth {
        req = req.header(*k, *v);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.expect("request")
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn new_key(o: &Org, scopes: Value) -> Value {
    let res = call(
        &o.server,
        reqwest::Method::POST,
        &format!("/api/v1/organizations/{}/api-keys", o.org),
        &[("authorization", &bearer(&o.owner))],
        Some(json!({ "name": "ci", "scopes": scopes })),
    )
    .await;
    assert_eq!(res.status(), 201);
    json_of(res).await
}

async fn status(o: &Org, path: &str, auth: &[(&str, &str)]) -> u16 {
    call(&o.server, reqwest::Method::GET, path, auth, None)
        .await
        .status()
        .as_u16()
}

on_both_backends! {
    async fn keys_authenticate_in_either_header_with_x_api_key_first(db) {
        let o = setup(&db, 0).await;
        let created = new_key(&o, json!(["org:read"])).await;
        let key = created["key"].as_str().expect("key").to_owned();
        assert!(key.starts_with("pcl_sk_") && key.len() == 50);
        assert_eq!(created["prefix"].as_str().map(|p| key.starts_with(p)), Some(true));
        let org_path = format!("/api/v1/organizations/{}", o.org);
        assert_eq!(status(&o, &org_path, &[("x-api-key", &key)]).await, 200);
        assert_eq!(status(&o, &org_path, &[("authorization", &bearer(&key))]).await, 200);
        assert_eq!(status(&o, &org_path, &[("x-api-key", &key), ("authorization", "Bearer garbage")]).await, 200, "x-api-key wins");
        let res = call(&o.server, reqwest::Method::GET, &org_path, &[("x-api-key", "pcl_sk_wrong"), ("authorization", &bearer(&key))], None).await;
        assert_eq!(res.status(), 401, "x-api-key wins even when it is wrong");
        assert!(res.headers().contains_key("www-authenticate"));
        let err = json_of(res).await;
        assert_eq!((err["error"]["code"].as_str(), err["error"]["type"].as_str()), (Some("invalid_api_key"), Some("authentication_error")));
        // The owner's user token reaches the same routes.
        assert_eq!(status(&o, &org_path, &[("authorization", &bearer(&o.owner))]).await, 200);
        // A scope the key lacks: 403 naming it.
        let res = call(&o.server, reqwest::Method::GET, &format!("{org_path}/members"), &[("x-api-key", &key)], None).await;
        assert_eq!(res.status(), 403);
        let err = json_of(res).await;
        assert_eq!(err["error"]["code"], "insufficient_scope");
        assert_eq!(err["error"]["type"], "authorization_error");
        assert_eq!(err["error"]["required_scope"], "members:read");
        // The secret is never shown again.
        let listed = json_of(call(&o.server, reqwest::Method::GET, &format!("{org_path}/api-keys"), &[("authorization", &bearer(&o.owner))], None).await).await;
        assert!(!listed.to_string().contains(&key));
        assert!(listed["data"][0]["lastUsedAt"].is_i64(), "last use recorded");
    }

    async fn malformed_keys_are_401_never_500(db) {
        let o = setup(&db, 0).await;
        let org_path = format!("/api/v1/organizations/{}", o.org);
        let long = format!("pcl_sk_{}", "A".repeat(10 * 1024));
        for bad in ["", "pcl_sk_", "sk_live_abc", "pcl_sk_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!", "pcl_sk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", "pcl_x_agent_agt_1", long.as_str()] {
            let res = call(&o.server, reqwest::Method::GET, &org_path, &[("x-api-key", bad)], None).await;
            assert_eq!(res.status(), 401, "{bad:.40}");
            assert_eq!(json_of(res).await["error"]["code"], "invalid_api_key");
        }
        assert_eq!(status(&o, &org_path, &[]).await, 401);
    }

    async fn rotation_overlap_revocation_and_expiry(db) {
        let o = setup(&db, 0).await;
        let org_path = format!("/api/v1/organizations/{}", o.org);
        let created = new_key(&o, json!(["org:read"])).await;
        let (id, old) = (created["id"].as_str().expect("id").to_owned(), created["key"].as_str().expect("key").to_owned());
        let owner = bearer(&o.owner);
        // Rotation without overlap: the old secret stops at once.
        let rotated = json_of(call(&o.server, reqwest::Method::POST, &format!("{org_path}/api-keys/{id}/rotate"), &[("authorization", &owner)], None).await).await;
        let new = rotated["key"].as_str().expect("key").to_owned();
        assert_eq!(rotated["id"], id.as_str());
        assert_eq!(rotated["scopes"], json!(["org:read"]));
        assert_eq!(status(&o, &org_path, &[("x-api-key", &old)]).await, 401);
        assert_eq!(status(&o, &org_path, &[("x-api-key", &new)]).await, 200);
        // With an overlap both work until it ends.
        let again = json_of(call(&o.server, reqwest::Method::POST, &format!("{org_path}/api-keys/{id}/rotate"), &[("authorization", &owner)], Some(json!({ "overlapSeconds": 60 }))).await).await;
        let newest = again["key"].as_str().expect("key").to_owned();
        assert_eq!(status(&o, &org_path, &[("x-api-key", &new)]).await, 200);
        assert_eq!(status(&o, &org_path, &[("x-api-key", &newest)]).await, 200);
        o.server.clock.advance(61);
        assert_eq!(status(&o, &org_path, &[("x-api-key", &new)]).await, 401);
        assert_eq!(status(&o, &org_path, &[("x-api-key", &newest)]).await, 200);
        // Revoked.
        let res = call(&o.server, reqwest::Method::DELETE, &format!("{org_path}/api-keys/{id}"), &[("authorization", &owner)], None).await;
        assert!(json_of(res).await["revokedAt"].is_i64());
        assert_eq!(status(&o, &org_path, &[("x-api-key", &newest)]).await, 401);
        let mut conn = db.store().conn().expect("conn");
        let kinds: Vec<String> = store::audit::recent(&mut conn, 50).expect("audit").into_iter().map(|e| e.kind).collect();
        assert!(kinds.iter().any(|k| k == "api_key.created") && kinds.iter().any(|k| k == "api_key.revoked"), "{kinds:?}");
        drop(conn);
        // Expiry, on the injected clock.
        let now = o.server.clock_now();
        let res = call(&o.server, reqwest::Method::POST, &format!("{org_path}/api-keys"), &[("authorization", &owner)], Some(json!({ "name": "short", "scopes": ["org:read"], "expiresAt": now + 100 }))).await;
        let short = json_of(res).await["key"].as_str().expect("key").to_owned();
        assert_eq!(status(&o, &org_path, &[("x-api-key", &short)]).await, 200);
        o.server.clock.advance(100);
        let res = call(&o.server, reqwest::Method::GET, &org_path, &[("x-api-key", &short)], None).await;
        assert_eq!(res.status(), 401);
        assert_eq!(json_of(res).await["error"]["code"], "token_expired");
    }

    async fn a_revoked_key_is_refused_at_once_here_and_within_the_cache_time_without_notice(db) {
        let o = setup(&db, 10).await;
        let org_path = format!("/api/v1/organizations/{}", o.org);
        let created = new_key(&o, json!(["org:read"])).await;
        let (id, key) = (created["id"].as_str().expect("id").to_owned(), created["key"].as_str().expect("key").to_owned());
        assert_eq!(status(&o, &org_path, &[("x-api-key", &key)]).await, 200);
        call(&o.server, reqwest::Method::DELETE, &format!("{org_path}/api-keys/{id}"), &[("authorization", &bearer(&o.owner))], None).await;
        assert_eq!(status(&o, &org_path, &[("x-api-key", &key)]).await, 401, "revoked through this instance: evicted at once");
        // Revoked behind the server's back (no notice: another process on SQLite, a lost
        // notification on PostgreSQL): the cache time is the bound.
        let other = new_key(&o, json!(["org:read"])).await;
        let (id, key) = (other["id"].as_str().expect("id").to_owned(), other["key"].as_str().expect("key").to_owned());
        assert_eq!(status(&o, &org_path, &[("x-api-key", &key)]).await, 200);
        apikeys::revoke_key(&mut db.store().conn().expect("conn"), &o.org, &id, o.server.clock_now()).expect("revoke");
        assert_eq!(status(&o, &org_path, &[("x-api-key", &key)]).await, 200, "cached for up to 10 s");
        o.server.clock.advance(10);
        assert_eq!(status(&o, &org_path, &[("x-api-key", &key)]).await, 401, "refused once the cache time has passed");
    }

    async fn roles_and_other_organizations(db) {
        let o = setup(&db, 0).await;
        let org_path = format!("/api/v1/organizations/{}", o.org);
        let owner = bearer(&o.owner);
        // Bob joins as a member, Carol as an admin.
        let mut tokens = Vec::new();
        for (email, role) in [("bob@example.com", "member"), ("carol@example.com", "admin")] {
            let joined = signup(&o.server, email, "X").await;
            let invite = json_of(call(&o.server, reqwest::Method::POST, &format!("{org_path}/invites"), &[("authorization", &owner)], Some(json!({ "email": email, "role": role }))).await).await;
            let t = joined["token"].as_str().expect("t").to_owned();
            let res = call(&o.server, reqwest::Method::POST, &format!("/api/v1/invites/{}/accept", invite["id"].as_str().expect("id")), &[("authorization", &bearer(&t))], Some(json!({ "token": invite["token"] }))).await;
            assert_eq!(res.status(), 200);
            tokens.push((t, joined["organization"]["id"].as_str().expect("org").to_owned()));
        }
        let (bob, bob_org) = tokens[0].clone();
        let (carol, _) = tokens[1].clone();
        new_key(&o, json!(["org:read"])).await;
        // Members list keys, never create them.
        assert_eq!(status(&o, &format!("{org_path}/api-keys"), &[("authorization", &bearer(&bob))]).await, 200);
        let res = call(&o.server, reqwest::Method::POST, &format!("{org_path}/api-keys"), &[("authorization", &bearer(&bob))], Some(json!({ "name": "x", "scopes": ["org:read"] }))).await;
        assert_eq!(res.status(), 403);
        // Admins create keys, but `*` is for owners.
        let res = call(&o.server, reqwest::Method::POST, &format!("{org_path}/api-keys"), &[("authorization", &bearer(&carol))], Some(json!({ "name": "x", "scopes": ["*"] }))).await;
        assert_eq!(res.status(), 400);
        assert_eq!(json_of(res).await["error"]["param"], "scopes");
        let res = call(&o.server, reqwest::Method::POST, &format!("{org_path}/api-keys"), &[("authorization", &bearer(&carol))], Some(json!({ "name": "x", "scopes": ["agents:read", "nonsense"] }))).await;
        assert_eq!(res.status(), 400);
        assert_eq!(new_key(&o, json!(["*"])).await["scopes"], json!(["*"]));
        // Bob's own organization's key gets 403 here.
        let res = call(&o.server, reqwest::Method::POST, &format!("/api/v1/organizations/{bob_org}/api-keys"), &[("authorization", &bearer(&bob))], Some(json!({ "name": "bob", "scopes": ["*"] }))).await;
        let bob_key = json_of(res).await["key"].as_str().expect("key").to_owned();
        let res = call(&o.server, reqwest::Method::GET, &org_path, &[("x-api-key", &bob_key)], None).await;
        assert_eq!(res.status(), 403);
        assert_eq!(json_of(res).await["error"]["code"], "forbidden");
        assert_eq!(status(&o, &format!("/api/v1/organizations/{bob_org}"), &[("x-api-key", &bob_key)]).await, 200);
    }

    async fn agents_and_the_authorization_checks(db) {
        let o = setup(&db, 0).await;
        let org_path = format!("/api/v1/organizations/{}", o.org);
        let owner = bearer(&o.owner);
        let agent = json_of(call(&o.server, reqwest::Method::POST, &format!("{org_path}/agents"), &[("authorization", &owner)], Some(json!({ "name": "support bot", "scopes": ["openai:chat:*", "github:repos:issues"] }))).await).await;
        let agent_id = agent["id"].as_str().expect("id").to_owned();
        assert!(agent_id.starts_with("agt_"));
        let res = call(&o.server, reqwest::Method::POST, &format!("{org_path}/agents"), &[("authorization", &owner)], Some(json!({ "name": "bad", "scopes": ["open ai"] }))).await;
        assert_eq!(res.status(), 400);
        let key = new_key(&o, json!(["authorize"])).await["key"].as_str().expect("key").to_owned();
        let ask = |agent: &str, service: &str, endpoint: &str| json!({ "agent_id": agent, "service": service, "endpoint": endpoint, "method": "POST" });

        let res = call(&o.server, reqwest::Method::POST, "/api/v1/authorize-request", &[("x-api-key", &key)], Some(ask(&agent_id, "openai", "/v1/chat/completions"))).await;
        assert_eq!(res.status(), 200);
        let allowed = json_of(res).await;
        assert_eq!(allowed["allowed"], true);
        assert_eq!(allowed["requiredScope"], "openai:chat:completions");
        assert_eq!(allowed["matchedScope"], "openai:chat:*");

        let res = call(&o.server, reqwest::Method::POST, "/api/v1/authorize-request", &[("x-api-key", &key)], Some(ask(&agent_id, "openai", "/v1/embeddings"))).await;
        assert_eq!(res.status(), 403);
        let err = json_of(res).await;
        assert_eq!(err["error"]["code"], "insufficient_scope");
        assert_eq!(err["error"]["required_scope"], "openai:embeddings");

        let res = call(&o.server, reqwest::Method::POST, "/api/v1/authorize-request", &[("x-api-key", &key)], Some(ask("agt_unknown", "openai", "/v1/chat/completions"))).await;
        assert_eq!(res.status(), 403);

        // Another organization's agent.
        let other = signup(&o.server, "zed@example.com", "Zed").await;
        let other_org = other["organization"]["id"].as_str().expect("org");
        let foreign = json_of(call(&o.server, reqwest::Method::POST, &format!("/api/v1/organizations/{other_org}/agents"), &[("authorization", &bearer(other["token"].as_str().expect("t")))], Some(json!({ "name": "z", "scopes": ["*"] }))).await).await;
        let res = call(&o.server, reqwest::Method::POST, "/api/v1/authorize-request", &[("x-api-key", &key)], Some(ask(foreign["id"].as_str().expect("id"), "openai", "/v1/chat/completions"))).await;
        assert_eq!(res.status(), 403);
        assert_eq!(json_of(res).await["error"]["code"], "forbidden");

        // The combined credential names the agent itself.
        let combined = format!("pcl_{key}_agent_{agent_id}");
        let res = call(&o.server, reqwest::Method::POST, "/api/v1/authorize-request", &[("authorization", &bearer(&combined))], Some(json!({ "service": "github", "endpoint": "/repos/issues" }))).await;
        assert_eq!(res.status(), 200);

        // A key without the authorize scope.
        let reader = new_key(&o, json!(["org:read"])).await["key"].as_str().expect("key").to_owned();
        let res = call(&o.server, reqwest::Method::POST, "/api/v1/authorize-request", &[("x-api-key", &reader)], Some(ask(&agent_id, "openai", "/v1/chat/completions"))).await;
        assert_eq!(json_of(res).await["error"]["required_scope"], "authorize");

        // forward-auth, as nginx auth_request calls it.
        let fwd = |uri: &str| {
            let headers = vec![("x-api-key", key.clone()), ("x-agent-id", agent_id.clone()), ("x-forwarded-method", "POST".to_owned()), ("x-forwarded-uri", uri.to_owned())];
            let server = &o.server;
            async move {
                let mut req = server.http.get(server.url("/api/v1/forward-auth"));
                for (k, v) in headers {
                    req = req.header(k, v);
                }
                req.send().await.expect("forward-auth")
            }
        };
        let res = fwd("/openai/v1/chat/completions").await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["x-portcullis-agent"], agent_id.as_str());
        assert_eq!(fwd("/openai/v1/embeddings").await.status(), 403);
        assert_eq!(o.server.get("/api/v1/forward-auth").await.status(), 401);
    }
}
