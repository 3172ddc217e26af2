//! Agents as OAuth clients (client credentials of a client bound to an agent, the token at the
//! gateway) and RFC 8693 token exchange at `POST /oauth2/token`, with raw form requests: the
//! `oauth2` crate has no token exchange.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::api_auth::{get_as, signup};
use crate::common::*;
use crate::gateway::{Gw, MASTER, add_service, json_call, setup};

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
const API_KEY: &str = "urn:portcullis:token-type:api_key";

/// The claims of a JWT, unverified (the server verified it; this reads what it says).
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// Gives `agent` of `org` OAuth credentials as `owner`: (client_id, client_secret).
async fn credentials(server: &TestServer, owner: &str, org: &str, agent: &str) -> (String, String) {
    let res = json_call(
        server,
        reqwest::Method::POST,
        &format!("/api/v1/organizations/{org}/agents/{agent}/credentials"),
        owner,
        json!({}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let body = json_of(res).await;
    assert_eq!(body["agentId"], agent);
    (
        body["clientId"].as_str().expect("client id").to_owned(),
        body["clientSecret"].as_str().expect("secret").to_owned(),
    )
}

/// An agent of `org` with these scopes, made by `owner`: its id.
async fn agent(server: &TestServer, owner: &str, org: &str, scopes: &[&str]) -> String {
    let res = json_call(
        server,
        reqwest::Method::POST,
        &format!("/api/v1/organizations/{org}/agents"),
        owner,
        json!({ "name": "helper", "scopes": scopes }),
    )
    .await;
    assert_eq!(res.status(), 201);
    json_of(res).await["id"].as_str().expect("id").to_owned()
}

/// Client credentials: the token endpoint's answer.
async fn client_token(
    server: &TestServer,
    client: &(String, String),
    scope: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    server
        .post_form("/oauth2/token", Some((&client.0, &client.1)), &form)
        .await
}

/// A client-credentials access token of `client`.
pub(crate) async fn agent_token(server: &TestServer, client: &(String, String)) -> String {
    let res = client_token(server, client, None).await;
    assert_eq!(res.status(), 200);
    json_of(res).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned()
}

/// A token exchange by `client` with these extra fields.
async fn exchange(
    server: &TestServer,
    client: &(String, String),
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut all = vec![("grant_type", EXCHANGE)];
    all.extend_from_slice(form);
    server
        .post_form("/oauth2/token", Some((&client.0, &client.1)), &all)
        .await
}

/// The OAuth error of a refused request, with its status.
async fn oauth_error(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let body = json_of(res).await;
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

/// A confidential client registered for token exchange (a platform acting for its agents).
async fn exchanging_client(server: &TestServer) -> (String, String) {
    let res = server
        .post_json("/oauth2/register", &json!({ "grant_types": [EXCHANGE], "token_endpoint_auth_method": "client_secret_basic" }))
        .await;
    assert_eq!(res.status(), 201);
    let body = json_of(res).await;
    (
        body["client_id"].as_str().expect("id").to_owned(),
        body["client_secret"].as_str().expect("secret").to_owned(),
    )
}

async fn gateway_call(g: &Gw, bearer: &str, agent_header: Option<&str>) -> reqwest::Response {
    let mut req = g
        .server
        .http
        .post(g.server.url("/proxy/echo/v1/echo"))
        .bearer_auth(bearer)
        .body("x");
    if let Some(agent) = agent_header {
        req = req.header("x-agent-id", agent);
    }
    req.send().await.expect("proxy")
}

async fn usage(g: &Gw) -> Vec<Value> {
    let res = get_as(
        &g.server,
        &format!("/api/v1/organizations/{}/usage?service=echo", g.org),
        &g.owner,
    )
    .await;
    assert_eq!(res.status(), 200);
    json_of(res).await["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Polls the usage log (written off the request path) until it holds `n` rows; 10 s at most.
async fn usage_rows(g: &Gw, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let rows = usage(g).await;
        if rows.len() >= n || std::time::Instant::now() > deadline {
            return rows;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

on_both_backends! {
    async fn an_agent_with_oauth_credentials_calls_the_gateway_with_its_own_token(db) {
        let g = setup(&db, Some(MASTER), true).await;
        assert_eq!(add_service(&g, &g.base).await.status(), 201);
        let creds = credentials(&g.server, &g.owner, &g.org, &g.agent).await;
        // Listed without the secret.
        let listed = json_of(get_as(&g.server, &format!("/api/v1/organizations/{}/agents/{}/credentials", g.org, g.agent), &g.owner).await).await;
        assert_eq!(listed["data"][0]["clientId"], creds.0.as_str());
        assert!(listed["data"][0].get("clientSecret").is_none() && !listed.to_string().contains(&creds.1));

        // The token: the agent as subject, its organization, its scopes.
        let res = client_token(&g.server, &creds, None).await;
        assert_eq!(res.status(), 200);
        let body = json_of(res).await;
        assert!(body.get("refresh_token").is_none());
        let token = body["access_token"].as_str().expect("token").to_owned();
        let claims = claims_of(&token);
        assert_eq!((claims["sub"].as_str(), claims["org_id"].as_str(), claims["client_id"].as_str()), (Some(g.agent.as_str()), Some(g.org.as_str()), Some(creds.0.as_str())));
        assert_eq!(claims["scope"], "echo:echo echo:stream echo:redirect");
        assert!(claims.get("act").is_none());
        // Narrower on request; never wider than the agent's.
        let res = client_token(&g.server, &creds, Some("echo:stream")).await;
        assert_eq!(claims_of(json_of(res).await["access_token"].as_str().expect("token"))["scope"], "echo:stream");
        assert_eq!(oauth_error(client_token(&g.server, &creds, Some("echo:echo echo:models")).await).await, (400, "invalid_scope".into()));

        // The gateway takes it: the agent is the token's, the usage row names it and the client.
        let res = gateway_call(&g, &token, None).await;
        assert_eq!(res.status(), 200);
        let seen = json_of(res).await;
        assert!(seen["headers"].get("authorization").is_some_and(|v| v != &json!(format!("Bearer {token}"))), "the token is not forwarded");
        let rows = usage_rows(&g, 1).await;
        assert_eq!((rows[0]["agentId"].as_str(), rows[0]["keyId"].as_str(), &rows[0]["subjectId"]), (Some(g.agent.as_str()), Some(creds.0.as_str()), &Value::Null));
    }

    async fn attack_an_agent_token_names_another_agent_or_outruns_its_scopes(db) {
        let g = setup(&db, Some(MASTER), true).await;
        add_service(&g, &g.base).await;
        let other = agent(&g.server, &g.owner, &g.org, &["echo:*"]).await;
        let creds = credentials(&g.server, &g.owner, &g.org, &g.agent).await;
        let token = agent_token(&g.server, &creds).await;
        // Another agent named beside the token: refused, not obeyed.
        let res = gateway_call(&g, &token, Some(&other)).await;
        assert_eq!(res.status(), 403);
        // A token narrowed to echo:stream cannot call echo:echo, though the agent could.
        let res = client_token(&g.server, &creds, Some("echo:stream")).await;
        let narrow = json_of(res).await["access_token"].as_str().expect("token").to_owned();
        let res = gateway_call(&g, &narrow, None).await;
        assert_eq!(res.status(), 403);
        assert_eq!(json_of(res).await["error"]["required_scope"], "echo:echo");
        // The agent's scopes narrowed after issuance bind the token at once.
        let res = json_call(&g.server, reqwest::Method::PATCH, &format!("/api/v1/organizations/{}/agents/{}", g.org, g.agent), &g.owner, json!({ "scopes": ["echo:stream"] })).await;
        assert_eq!(res.status(), 200);
        assert_eq!(gateway_call(&g, &token, None).await.status(), 403);
        // Credentials withdrawn: the token stops verifying, the secret stops working.
        let res = g.server.http.delete(g.server.url(&format!("/api/v1/organizations/{}/agents/{}/credentials/{}", g.org, g.agent, creds.0))).bearer_auth(&g.owner).send().await.expect("delete");
        assert_eq!(res.status(), 204);
        assert_eq!(gateway_call(&g, &token, None).await.status(), 401);
        assert_eq!(oauth_error(client_token(&g.server, &creds, None).await).await.1, "invalid_client");
        // An agent deleted takes its credentials along.
        let creds = credentials(&g.server, &g.owner, &g.org, &other).await;
        let token = agent_token(&g.server, &creds).await;
        let res = g.server.http.delete(g.server.url(&format!("/api/v1/organizations/{}/agents/{other}", g.org))).bearer_auth(&g.owner).send().await.expect("delete");
        assert_eq!(res.status(), 204);
        assert_eq!(gateway_call(&g, &token, None).await.status(), 401);
        assert_eq!(oauth_error(client_token(&g.server, &creds, None).await).await.1, "invalid_client");
    }

    async fn attack_an_agent_token_calls_the_org_admin_api(db) {
        let g = setup(&db, Some(MASTER), true).await;
        // Even an agent holding `*`.
        let star = agent(&g.server, &g.owner, &g.org, &["*"]).await;
        for agent_id in [g.agent.clone(), star] {
            let creds = credentials(&g.server, &g.owner, &g.org, &agent_id).await;
            let token = agent_token(&g.server, &creds).await;
            assert_eq!(claims_of(&token)["sub"], agent_id.as_str());
            for path in [format!("/api/v1/organizations/{}/agents", g.org), format!("/api/v1/organizations/{}/api-keys", g.org), format!("/api/v1/organizations/{}/usage", g.org), "/api/v1/organizations".to_owned()] {
                let res = get_as(&g.server, &path, &token).await;
                assert_eq!(res.status(), 403, "{path}");
                assert_eq!(json_of(res).await["error"]["code"], "agent_token_not_allowed", "{path}");
            }
            let res = json_call(&g.server, reqwest::Method::POST, &format!("/api/v1/organizations/{}/api-keys", g.org), &token, json!({ "name": "stolen", "scopes": ["*"] })).await;
            assert_eq!(res.status(), 403);
            let res = json_call(&g.server, reqwest::Method::POST, &format!("/api/v1/organizations/{}/agents/{agent_id}/credentials", g.org), &token, json!({})).await;
            assert_eq!(res.status(), 403);
            let res = json_call(&g.server, reqwest::Method::POST, "/api/v1/authorize-request", &token, json!({ "agentId": agent_id, "service": "echo", "endpoint": "/v1/echo" })).await;
            assert_eq!(res.status(), 403);
            assert_eq!(get_as(&g.server, "/api/v1/me", &token).await.status(), 403);
        }
        // An organization API key may not mint an agent's credentials (members only).
        let res = json_call(&g.server, reqwest::Method::POST, &format!("/api/v1/organizations/{}/agents/{}/credentials", g.org, g.agent), &g.key, json!({})).await;
        assert_eq!(res.status(), 403);
    }

    async fn an_organization_key_exchanged_for_its_agent_is_logged_with_subject_and_actor(db) {
        let g = setup(&db, Some(MASTER), true).await;
        add_service(&g, &g.base).await;
        let creds = credentials(&g.server, &g.owner, &g.org, &g.agent).await;
        let actor = agent_token(&g.server, &creds).await;
        let platform = exchanging_client(&g.server).await;
        let res = exchange(&g.server, &platform, &[("subject_token", &g.key), ("subject_token_type", API_KEY), ("actor_token", &actor), ("actor_token_type", ACCESS_TOKEN), ("scope", "echo:echo")]).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["cache-control"], "no-store");
        let body = json_of(res).await;
        assert_eq!((body["issued_token_type"].as_str(), body["token_type"].as_str(), body["scope"].as_str()), (Some(ACCESS_TOKEN), Some("Bearer"), Some("echo:echo")));
        assert!(body.get("refresh_token").is_none(), "no refresh token from an exchange");
        assert!(body["expires_in"].as_i64().is_some_and(|s| s > 0 && s <= 300), "{body}");
        let token = body["access_token"].as_str().expect("token").to_owned();
        let claims = claims_of(&token);
        let keys = json_of(get_as(&g.server, &format!("/api/v1/organizations/{}/api-keys", g.org), &g.owner).await).await;
        let key_id = keys["data"][0]["id"].as_str().expect("key id").to_owned();
        assert_eq!(claims["sub"], key_id.as_str());
        assert_eq!(claims["client_id"], platform.0.as_str());
        assert_eq!(claims["act"], json!({ "sub": g.agent, "client_id": creds.0 }));

        // Introspection shows the actor.
        let res = g.server.post_form("/oauth2/introspect", Some((&platform.0, &platform.1)), &[("token", &token)]).await;
        let seen = json_of(res).await;
        assert_eq!((seen["active"].as_bool(), seen["sub"].as_str()), (Some(true), Some(key_id.as_str())));
        assert_eq!(seen["act"]["sub"], g.agent.as_str());

        // The gateway called with it records the subject and the actor.
        let res = gateway_call(&g, &token, None).await;
        assert_eq!(res.status(), 200);
        let rows = usage_rows(&g, 1).await;
        assert_eq!((rows[0]["agentId"].as_str(), rows[0]["subjectId"].as_str(), rows[0]["keyId"].as_str()), (Some(g.agent.as_str()), Some(key_id.as_str()), Some(key_id.as_str())));

        // The agent's own client may exchange without an actor token: it acts itself.
        let res = exchange(&g.server, &creds, &[("subject_token", &g.key), ("subject_token_type", API_KEY)]).await;
        assert_eq!(res.status(), 200);
        let own = claims_of(json_of(res).await["access_token"].as_str().expect("token"));
        assert_eq!(own["act"]["sub"], g.agent.as_str());
        assert_eq!(own["scope"], "echo:echo echo:stream echo:redirect", "all the actor holds, the key bounding nothing more");

        // Attack: scope widening by exchange.
        let res = exchange(&g.server, &platform, &[("subject_token", &g.key), ("subject_token_type", API_KEY), ("actor_token", &actor), ("actor_token_type", ACCESS_TOKEN), ("scope", "echo:echo echo:models")]).await;
        assert_eq!(oauth_error(res).await, (400, "invalid_scope".into()));
        // Attack: the exchanged token on the org admin API.
        let res = get_as(&g.server, &format!("/api/v1/organizations/{}/agents", g.org), &token).await;
        assert_eq!(json_of(res).await["error"]["code"], "agent_token_not_allowed");

        // Attack: a revoked subject key: no new exchange, and the exchanged token dies with it.
        let res = g.server.http.delete(g.server.url(&format!("/api/v1/organizations/{}/api-keys/{key_id}", g.org))).bearer_auth(&g.owner).send().await.expect("revoke");
        assert_eq!(res.status(), 200);
        let res = exchange(&g.server, &platform, &[("subject_token", &g.key), ("subject_token_type", API_KEY), ("actor_token", &actor), ("actor_token_type", ACCESS_TOKEN)]).await;
        assert_eq!(oauth_error(res).await, (400, "invalid_request".into()));
        assert_eq!(gateway_call(&g, &token, None).await.status(), 401);
    }

    async fn attack_an_actor_token_of_another_organization(db) {
        let g = setup(&db, Some(MASTER), true).await;
        let eve = signup(&g.server, "eve@example.com", "Eve").await;
        let eve_token = eve["token"].as_str().expect("token").to_owned();
        let eve_org = eve["organization"]["id"].as_str().expect("org").to_owned();
        let eve_agent = agent(&g.server, &eve_token, &eve_org, &["echo:*"]).await;
        let eve_creds = credentials(&g.server, &eve_token, &eve_org, &eve_agent).await;
        let eve_actor = agent_token(&g.server, &eve_creds).await;
        // Eve's agent, holding Ada's organization key, cannot act for it.
        for client in [exchanging_client(&g.server).await, eve_creds.clone()] {
            let res = exchange(&g.server, &client, &[("subject_token", &g.key), ("subject_token_type", API_KEY), ("actor_token", &eve_actor), ("actor_token_type", ACCESS_TOKEN)]).await;
            assert_eq!(oauth_error(res).await, (400, "invalid_request".into()));
        }
        let res = exchange(&g.server, &eve_creds, &[("subject_token", &g.key), ("subject_token_type", API_KEY)]).await;
        assert_eq!(oauth_error(res).await, (400, "invalid_request".into()));
    }
}

/// A user with an access token for `orders:read orders:write` (password grant) and an agent
/// holding `orders:read` with OAuth credentials: (server, user's first-party token, user's
/// access token, org, agent, agent's client).
struct UserSetup {
    server: TestServer,
    first_party: String,
    user_id: String,
    access: String,
    refresh: String,
    org: String,
    agent: String,
    creds: (String, String),
}

async fn user_setup(db: &TestDb) -> UserSetup {
    let server = TestServer::start_with(db, |s| s.password_grant = true);
    let ada = signup(&server, "ada@example.com", "Ada").await;
    let first_party = ada["token"].as_str().expect("token").to_owned();
    let org = ada["organization"]["id"].as_str().expect("org").to_owned();
    let res = server.post_json("/oauth2/register", &json!({ "grant_types": ["password", "refresh_token"], "scope": "orders:read orders:write offline_access" })).await;
    let app = json_of(res).await;
    let (app_id, app_secret) = (
        app["client_id"].as_str().expect("id").to_owned(),
        app["client_secret"].as_str().expect("secret").to_owned(),
    );
    let res = server
        .post_form(
            "/oauth2/token",
            Some((&app_id, &app_secret)),
            &[
                ("grant_type", "password"),
                ("username", "ada@example.com"),
                ("password", "correct horse"),
                ("scope", "orders:read orders:write offline_access"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let tokens = json_of(res).await;
    let access = tokens["access_token"].as_str().expect("access").to_owned();
    let user_id = claims_of(&access)["sub"].as_str().expect("sub").to_owned();
    let agent = agent(&server, &first_party, &org, &["orders:read"]).await;
    let creds = credentials(&server, &first_party, &org, &agent).await;
    UserSetup {
        refresh: tokens["refresh_token"]
            .as_str()
            .expect("refresh")
            .to_owned(),
        server,
        first_party,
        user_id,
        access,
        org,
        agent,
        creds,
    }
}

async fn allow(u: &UserSetup, actor: &str) -> reqwest::Response {
    u.server
        .http
        .put(u.server.url(&format!("/api/v1/me/actors/{actor}")))
        .bearer_auth(&u.first_party)
        .send()
        .await
        .expect("put")
}

const ORDERS: &str = "https://api.example.com/orders";

on_both_backends! {
    async fn attack_exchange_without_may_act(db) {
        let u = user_setup(&db).await;
        let actor = agent_token(&u.server, &u.creds).await;
        let form = [("subject_token", u.access.as_str()), ("subject_token_type", ACCESS_TOKEN), ("actor_token", &actor), ("actor_token_type", ACCESS_TOKEN), ("resource", ORDERS)];
        // The user never allowed the agent.
        assert_eq!(oauth_error(exchange(&u.server, &u.creds, &form).await).await, (400, "invalid_request".into()));
        // Allowed: the exchange works, and shows on the user's list.
        assert_eq!(allow(&u, &u.agent).await.status(), 200);
        let listed = json_of(get_as(&u.server, "/api/v1/me/actors", &u.first_party).await).await;
        assert_eq!(listed["data"], json!([{ "actorId": u.agent, "kind": "agent", "createdAt": u.server.clock_now() }]));
        let res = exchange(&u.server, &u.creds, &form).await;
        assert_eq!(res.status(), 200);
        // Withdrawn: refused again.
        let res = u.server.http.delete(u.server.url(&format!("/api/v1/me/actors/{}", u.agent))).bearer_auth(&u.first_party).send().await.expect("delete");
        assert_eq!(res.status(), 204);
        assert_eq!(oauth_error(exchange(&u.server, &u.creds, &form).await).await, (400, "invalid_request".into()));
        // Only the user's own first-party token manages the list; an unknown actor is refused.
        assert_eq!(u.server.http.put(u.server.url(&format!("/api/v1/me/actors/{}", u.agent))).bearer_auth(&u.access).send().await.expect("put").status(), 403);
        assert_eq!(u.server.http.put(u.server.url(&format!("/api/v1/me/actors/{}", u.agent))).bearer_auth(&actor).send().await.expect("put").status(), 403);
        assert_eq!(allow(&u, "agt_nobody").await.status(), 400);
    }

    async fn a_user_token_exchanged_for_an_agent_narrows_scope_audience_and_life(db) {
        let u = user_setup(&db).await;
        allow(&u, &u.agent).await;
        let actor = agent_token(&u.server, &u.creds).await;
        let res = exchange(&u.server, &u.creds, &[("subject_token", &u.access), ("subject_token_type", ACCESS_TOKEN), ("actor_token", &actor), ("actor_token_type", ACCESS_TOKEN), ("resource", ORDERS), ("requested_token_type", ACCESS_TOKEN)]).await;
        assert_eq!(res.status(), 200);
        let body = json_of(res).await;
        assert_eq!(body["issued_token_type"], ACCESS_TOKEN);
        // The intersection: the user holds orders:read and orders:write, the agent orders:read.
        assert_eq!(body["scope"], "orders:read");
        let token = body["access_token"].as_str().expect("token").to_owned();
        let claims = claims_of(&token);
        assert_eq!((claims["sub"].as_str(), claims["aud"].as_str(), claims["org_id"].as_str()), (Some(u.user_id.as_str()), Some(ORDERS), Some(u.org.as_str())));
        assert_eq!(claims["act"], json!({ "sub": u.agent, "client_id": u.creds.0 }));
        let subject_exp = claims_of(&u.access)["exp"].as_i64().expect("exp");
        let exp = claims["exp"].as_i64().expect("exp");
        assert!(exp <= subject_exp && exp <= u.server.clock_now() + 300, "short-lived: {exp}");

        // Attack: scope widening by exchange (the user holds orders:write, the agent does not).
        let res = exchange(&u.server, &u.creds, &[("subject_token", &u.access), ("subject_token_type", ACCESS_TOKEN), ("actor_token", &actor), ("actor_token_type", ACCESS_TOKEN), ("scope", "orders:write")]).await;
        assert_eq!(oauth_error(res).await, (400, "invalid_scope".into()));
        // Attack: a first-party audience asked for.
        let res = exchange(&u.server, &u.creds, &[("subject_token", &u.access), ("subject_token_type", ACCESS_TOKEN), ("actor_token", &actor), ("actor_token_type", ACCESS_TOKEN), ("audience", "urn:portcullis:first-party")]).await;
        assert_eq!(oauth_error(res).await, (400, "invalid_target".into()));
        // Attack: the exchanged token on the user's organization API. One for another resource
        // is not for this server at all (401); one for this server is still refused there.
        let res = get_as(&u.server, &format!("/api/v1/organizations/{}", u.org), &token).await;
        assert_eq!(res.status(), 401);
        let res = exchange(&u.server, &u.creds, &[("subject_token", &u.access), ("subject_token_type", ACCESS_TOKEN), ("actor_token", &actor), ("actor_token_type", ACCESS_TOKEN)]).await;
        let ours = json_of(res).await["access_token"].as_str().expect("token").to_owned();
        assert_eq!(claims_of(&ours)["aud"], u.server.base.as_str());
        let res = get_as(&u.server, &format!("/api/v1/organizations/{}", u.org), &ours).await;
        assert_eq!(res.status(), 403);
        assert_eq!(json_of(res).await["error"]["code"], "agent_token_not_allowed");
        // A subject token near its end gives a token that ends with it.
        u.server.clock.set(subject_exp - 30);
        let actor = agent_token(&u.server, &u.creds).await;
        let res = exchange(&u.server, &u.creds, &[("subject_token", &u.access), ("subject_token_type", ACCESS_TOKEN), ("actor_token", &actor), ("actor_token_type", ACCESS_TOKEN)]).await;
        let body = json_of(res).await;
        assert_eq!(body["expires_in"], 30, "{body}");
        assert_eq!(claims_of(body["access_token"].as_str().expect("token"))["exp"], subject_exp);
    }

    async fn attack_exchange_of_an_expired_revoked_or_refresh_subject_token(db) {
        let u = user_setup(&db).await;
        allow(&u, &u.agent).await;
        let actor = agent_token(&u.server, &u.creds).await;
        // A refresh token is no subject: as its own type, or passed off as an access token.
        let res = exchange(&u.server, &u.creds, &[("subject_token", &u.refresh), ("subject_token_type", "urn:ietf:params:oauth:token-type:refresh_token"), ("actor_token", &actor), ("actor_token_type", ACCESS_TOKEN)]).await;
        assert_eq!(oauth_error(res).await, (400, "invalid_request".into()));
        let res = exchange(&u.server, &u.creds, &[("subject_token", &u.refresh), ("subject_token_type", ACCESS_TOKEN), ("actor_token", &actor), ("actor_token_type", ACCESS_TOKEN)]).await;
        assert_eq!(oauth_error(res).await, (400, "invalid_request".into()));
        // An agent's own token is no subject either (it names no user).
        let res = exchange(&u.server, &u.creds, &[("subject_token", &actor), ("subject_token_type", ACCESS_TOKEN)]).await;
        assert_eq!(oauth_error(res).await, (400, "invalid_request".into()));
        // Revoked by its client.
        let other = user_setup_token(&u).await;
        let res = exchange(&u.server, &u.creds, &[("subject_token", &other.0), ("subject_token_type", ACCESS_TOKEN), ("actor_token", &actor), ("actor_token_type", ACCESS_TOKEN)]).await;
        assert_eq!(res.status(), 200, "valid before revocation");
        let res = u.server.post_form("/oauth2/revoke", Some((&other.1, &other.2)), &[("token", &other.0)]).await;
        assert_eq!(res.status(), 200);
        let res = exchange(&u.server, &u.creds, &[("subject_token", &other.0), ("subject_token_type", ACCESS_TOKEN), ("actor_token", &actor), ("actor_token_type", ACCESS_TOKEN)]).await;
        assert_eq!(oauth_error(res).await, (400, "invalid_request".into()));
        // Expired.
        u.server.clock.advance(3601);
        let actor = agent_token(&u.server, &u.creds).await;
        let res = exchange(&u.server, &u.creds, &[("subject_token", &u.access), ("subject_token_type", ACCESS_TOKEN), ("actor_token", &actor), ("actor_token_type", ACCESS_TOKEN)]).await;
        let (status, error) = oauth_error(res).await;
        assert_eq!((status, error.as_str()), (400, "invalid_request"));
    }

    async fn a_nested_act_chain_is_preserved(db) {
        let u = user_setup(&db).await;
        let second = agent(&u.server, &u.first_party, &u.org, &["orders:*"]).await;
        let second_creds = credentials(&u.server, &u.first_party, &u.org, &second).await;
        allow(&u, &u.agent).await;
        allow(&u, &second).await;
        let first_actor = agent_token(&u.server, &u.creds).await;
        let res = exchange(&u.server, &u.creds, &[("subject_token", &u.access), ("subject_token_type", ACCESS_TOKEN), ("actor_token", &first_actor), ("actor_token_type", ACCESS_TOKEN)]).await;
        let once = json_of(res).await["access_token"].as_str().expect("token").to_owned();
        // The first agent's delegated token, exchanged again for the second agent.
        let second_actor = agent_token(&u.server, &second_creds).await;
        let res = exchange(&u.server, &second_creds, &[("subject_token", &once), ("subject_token_type", ACCESS_TOKEN), ("actor_token", &second_actor), ("actor_token_type", ACCESS_TOKEN)]).await;
        assert_eq!(res.status(), 200);
        let twice = json_of(res).await["access_token"].as_str().expect("token").to_owned();
        let claims = claims_of(&twice);
        assert_eq!(claims["sub"], u.user_id.as_str());
        assert_eq!(claims["scope"], "orders:read", "never wider than the first exchange");
        assert_eq!(claims["act"], json!({ "sub": second, "client_id": second_creds.0, "act": { "sub": u.agent, "client_id": u.creds.0 } }));
        let res = u.server.post_form("/oauth2/introspect", Some((&second_creds.0, &second_creds.1)), &[("token", &twice)]).await;
        assert_eq!(json_of(res).await["act"]["act"]["sub"], u.agent.as_str());
    }

    async fn rfc8693_2_2_2_errors_at_the_token_endpoint(db) {
        let u = user_setup(&db).await;
        allow(&u, &u.agent).await;
        let actor = agent_token(&u.server, &u.creds).await;
        let subject = [("subject_token", u.access.as_str()), ("subject_token_type", ACCESS_TOKEN)];
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (vec![("subject_token_type", ACCESS_TOKEN)], "invalid_request"),
            (vec![("subject_token", u.access.as_str())], "invalid_request"),
            (vec![("subject_token", u.access.as_str()), ("subject_token_type", "urn:example:unknown")], "invalid_request"),
            (vec![("subject_token", u.access.as_str()), ("subject_token_type", "urn:ietf:params:oauth:token-type:id_token")], "invalid_request"),
            ([&subject[..], &[("actor_token", actor.as_str())]].concat(), "invalid_request"),
            ([&subject[..], &[("actor_token_type", ACCESS_TOKEN)]].concat(), "invalid_request"),
            ([&subject[..], &[("actor_token", actor.as_str()), ("actor_token_type", API_KEY)]].concat(), "invalid_request"),
            ([&subject[..], &[("actor_token", "not-a-token"), ("actor_token_type", ACCESS_TOKEN)]].concat(), "invalid_request"),
            ([&subject[..], &[("actor_token", u.access.as_str()), ("actor_token_type", ACCESS_TOKEN)]].concat(), "invalid_request"),
            ([&subject[..], &[("requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token")]].concat(), "invalid_request"),
            ([&subject[..], &[("resource", "not absolute")]].concat(), "invalid_target"),
            ([&subject[..], &[("resource", "https://api.example.com/#frag")]].concat(), "invalid_target"),
            ([&subject[..], &[("audience", "urn:portcullis:first-party")]].concat(), "invalid_target"),
            ([&subject[..], &[("scope", "orders:write")]].concat(), "invalid_scope"),
            ([&subject[..], &[("scope", "openid")]].concat(), "invalid_scope"),
            (vec![("subject_token", "pcl_sk_nope"), ("subject_token_type", API_KEY)], "invalid_request"),
            (vec![("subject_token", "pcl_sk_nope"), ("subject_token_type", ACCESS_TOKEN)], "invalid_request"),
        ];
        for (form, error) in cases {
            let res = exchange(&u.server, &u.creds, &form).await;
            assert_eq!(res.status(), 400, "{form:?}");
            assert_eq!(res.headers()["cache-control"], "no-store");
            let body = json_of(res).await;
            assert_eq!(body["error"], error, "{form:?}: {body}");
            assert!(body["error_description"].is_string());
            assert!(!body.to_string().contains(&u.access), "no token echoed back");
        }
        // A client not registered for token exchange: unauthorized_client; none at all: 401.
        let service = crate::token::service_client(&u.server, "client_secret_basic").await;
        let res = exchange(&u.server, &service, &subject).await;
        assert_eq!(oauth_error(res).await, (400, "unauthorized_client".into()));
        let res = u.server.post_form("/oauth2/token", None, &[("grant_type", EXCHANGE), ("subject_token", &u.access), ("subject_token_type", ACCESS_TOKEN)]).await;
        assert_eq!(oauth_error(res).await, (401, "invalid_client".into()));
        // A public client cannot register for it.
        let res = u.server.post_json("/oauth2/register", &json!({ "grant_types": [EXCHANGE], "token_endpoint_auth_method": "none" })).await;
        assert_eq!(res.status(), 400);
        // A client (not an agent) acting itself needs the user's leave, and only holds its scopes.
        let platform = exchanging_client(&u.server).await;
        let res = exchange(&u.server, &platform, &subject).await;
        assert_eq!(oauth_error(res).await, (400, "invalid_request".into()));
    }
}

/// Another access token of the user, from a client of its own: (token, client_id, secret).
async fn user_setup_token(u: &UserSetup) -> (String, String, String) {
    let res = u
        .server
        .post_json(
            "/oauth2/register",
            &json!({ "grant_types": ["password"], "scope": "orders:read" }),
        )
        .await;
    let app = json_of(res).await;
    let (id, secret) = (
        app["client_id"].as_str().expect("id").to_owned(),
        app["client_secret"].as_str().expect("secret").to_owned(),
    );
    let res = u
        .server
        .post_form(
            "/oauth2/token",
            Some((&id, &secret)),
            &[
                ("grant_type", "password"),
                ("username", "ada@example.com"),
                ("password", "correct horse"),
            ],
        )
        .await;
    (
        json_of(res).await["access_token"]
            .as_str()
            .expect("token")
            .to_owned(),
        id,
        secret,
    )
}

on_both_backends! {
    // A user's token exchanged for an agent of the user's organization calls the gateway as
    // that agent, for the user: the usage row names both; the token dies with the agent.
    async fn a_user_token_exchanged_for_an_agent_calls_the_gateway_for_the_user(db) {
        let base = crate::gateway::upstream(std::sync::Arc::new(tokio::sync::Notify::new()));
        let server = TestServer::start_with(&db, |s| {
            s.password_grant = true;
            s.scopes.push("echo:echo".into());
            s.master_key = Some(master_key(MASTER));
            s.gateway_allow_private = true;
            s.api_key_cache = 0;
        });
        let ada = signup(&server, "ada@example.com", "Ada").await;
        let owner = ada["token"].as_str().expect("token").to_owned();
        let org = ada["organization"]["id"].as_str().expect("org").to_owned();
        let res = json_call(&server, reqwest::Method::POST, &format!("/api/v1/organizations/{org}/services"), &owner, json!({
            "name": "echo", "baseUrl": base, "pathPrefix": "/v1",
            "credential": { "kind": "header", "name": "Authorization", "value": "Bearer upstream-secret-4242" },
        })).await;
        assert_eq!(res.status(), 201);
        let res = server.post_json("/oauth2/register", &json!({ "grant_types": ["password"], "scope": "echo:echo orders:read" })).await;
        let app = json_of(res).await;
        let app = (app["client_id"].as_str().expect("id").to_owned(), app["client_secret"].as_str().expect("secret").to_owned());
        let res = server.post_form("/oauth2/token", Some((&app.0, &app.1)), &[("grant_type", "password"), ("username", "ada@example.com"), ("password", "correct horse")]).await;
        let access = json_of(res).await["access_token"].as_str().expect("token").to_owned();
        let user_id = claims_of(&access)["sub"].as_str().expect("sub").to_owned();
        let bot = agent(&server, &owner, &org, &["echo:*"]).await;
        let creds = credentials(&server, &owner, &org, &bot).await;
        server.http.put(server.url(&format!("/api/v1/me/actors/{bot}"))).bearer_auth(&owner).send().await.expect("allow");
        let res = exchange(&server, &creds, &[("subject_token", &access), ("subject_token_type", ACCESS_TOKEN)]).await;
        assert_eq!(res.status(), 200);
        let body = json_of(res).await;
        assert_eq!(body["scope"], "echo:echo", "orders:read is the user's, not the agent's");
        let token = body["access_token"].as_str().expect("token").to_owned();

        let res = server.http.post(server.url("/proxy/echo/v1/echo")).bearer_auth(&token).body("x").send().await.expect("proxy");
        assert_eq!(res.status(), 200);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let row = loop {
            let res = get_as(&server, &format!("/api/v1/organizations/{org}/usage"), &owner).await;
            let rows = json_of(res).await["data"].as_array().cloned().unwrap_or_default();
            if let Some(row) = rows.into_iter().next() {
                break row;
            }
            assert!(std::time::Instant::now() < deadline, "no usage row");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        assert_eq!((row["agentId"].as_str(), row["subjectId"].as_str(), row["keyId"].as_str()), (Some(bot.as_str()), Some(user_id.as_str()), Some(creds.0.as_str())));

        // The acting agent deleted: the exchanged token is no longer active anywhere.
        let res = server.http.delete(server.url(&format!("/api/v1/organizations/{org}/agents/{bot}"))).bearer_auth(&owner).send().await.expect("delete");
        assert_eq!(res.status(), 204);
        let platform = exchanging_client(&server).await;
        let res = server.post_form("/oauth2/introspect", Some((&platform.0, &platform.1)), &[("token", &token)]).await;
        assert_eq!(json_of(res).await, json!({ "active": false }));
        let res = server.http.post(server.url("/proxy/echo/v1/echo")).bearer_auth(&token).body("x").send().await.expect("proxy");
        assert_eq!(res.status(), 401);
    }
}

/// An app the user signed in to with OpenID Connect (code flow, consent for `openid
/// orders:read orders:write`), registered for token exchange too: (client, ID token).
async fn id_token_of_a_signed_in_app(server: &TestServer) -> ((String, String), String) {
    use crate::authorize_errors::{
        REDIRECT, VERIFIER, authorize, challenge, decide, jar, redirected, sign_in,
    };
    let res = server.post_json("/oauth2/register", &json!({
        "client_name": "Orders app", "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", EXCHANGE], "scope": "openid orders:read orders:write",
    })).await;
    assert_eq!(res.status(), 201);
    let app = json_of(res).await;
    let client = (
        app["client_id"].as_str().expect("id").to_owned(),
        app["client_secret"].as_str().expect("secret").to_owned(),
    );
    let http = jar();
    sign_in(server, &http, "ada@example.com", "correct horse").await;
    let ch = challenge(VERIFIER);
    let res = authorize(
        server,
        &http,
        &[
            ("response_type", "code"),
            ("client_id", &client.0),
            ("redirect_uri", REDIRECT),
            ("scope", "openid orders:read orders:write"),
            ("state", "s"),
            ("nonce", "n"),
            ("code_challenge", &ch),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let code = redirected(&decide(server, &http, res, "allow").await)["code"].clone();
    let res = server
        .post_form(
            "/oauth2/token",
            Some((&client.0, &client.1)),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let id_token = json_of(res).await["id_token"]
        .as_str()
        .expect("an ID token")
        .to_owned();
    (client, id_token)
}

const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";

on_both_backends! {
    // RFC 8693 §3 names the ID token as a subject token type. It says who signed in to one app,
    // so only that app may exchange it, and for no more than the user allowed that app.
    async fn an_id_token_is_exchanged_only_by_its_own_client_for_what_the_user_allowed_it(db) {
        let server = TestServer::start(&db);
        let ada = signup(&server, "ada@example.com", "Ada").await;
        let first_party = ada["token"].as_str().expect("token").to_owned();
        let org = ada["organization"]["id"].as_str().expect("org").to_owned();
        let agent_id = agent(&server, &first_party, &org, &["orders:read", "reports:read"]).await;
        let creds = credentials(&server, &first_party, &org, &agent_id).await;
        let (app, id_token) = id_token_of_a_signed_in_app(&server).await;
        let actor = agent_token(&server, &creds).await;
        let form = [("subject_token", id_token.as_str()), ("subject_token_type", ID_TOKEN), ("actor_token", actor.as_str()), ("actor_token_type", ACCESS_TOKEN)];
        // Not yet allowed to act for Ada.
        assert_eq!(oauth_error(exchange(&server, &app, &form).await).await, (400, "invalid_request".into()));
        let res = server.http.put(server.url(&format!("/api/v1/me/actors/{agent_id}"))).bearer_auth(&first_party).send().await.expect("put");
        assert_eq!(res.status(), 200);
        // The app that got the ID token: Ada's subject, the agent as actor, and only what Ada
        // allowed the app and the agent holds (orders:read; not reports:read, not orders:write).
        let res = exchange(&server, &app, &form).await;
        assert_eq!(res.status(), 200);
        let body = json_of(res).await;
        assert_eq!(body["scope"], "orders:read", "{body}");
        let claims = claims_of(body["access_token"].as_str().expect("token"));
        assert_eq!(claims["sub"], ada["user"]["id"]);
        assert_eq!(claims["act"]["sub"], agent_id.as_str());
        let res = exchange(&server, &app, &[("subject_token", id_token.as_str()), ("subject_token_type", ID_TOKEN), ("actor_token", actor.as_str()), ("actor_token_type", ACCESS_TOKEN), ("scope", "reports:read")]).await;
        assert_eq!(oauth_error(res).await, (400, "invalid_scope".into()), "Ada never allowed the app reports:read");
        // Attack: another client presenting the app's ID token (here the agent's own client).
        assert_eq!(oauth_error(exchange(&server, &creds, &form).await).await, (400, "invalid_request".into()));
        // Attack: the ID token after it expired.
        let exp = claims_of(&id_token)["exp"].as_i64().expect("exp");
        server.clock.set(exp + 1);
        let actor = agent_token(&server, &creds).await;
        let res = exchange(&server, &app, &[("subject_token", id_token.as_str()), ("subject_token_type", ID_TOKEN), ("actor_token", actor.as_str()), ("actor_token_type", ACCESS_TOKEN)]).await;
        assert_eq!(oauth_error(res).await, (400, "invalid_request".into()));
    }
}

on_both_backends! {
    // The user sees on the account page which agents may act for them, by name, and withdraws
    // one there: the next exchange for that agent is refused.
    async fn the_account_page_lists_the_agents_acting_for_the_user_and_withdraws_one(db) {
        use crate::authorize_errors::{hidden, jar, sign_in};
        let u = user_setup(&db).await;
        assert_eq!(allow(&u, &u.agent).await.status(), 200);
        let actor = agent_token(&u.server, &u.creds).await;
        let form = [("subject_token", u.access.as_str()), ("subject_token_type", ACCESS_TOKEN), ("actor_token", actor.as_str()), ("actor_token_type", ACCESS_TOKEN)];
        assert_eq!(exchange(&u.server, &u.creds, &form).await.status(), 200);

        let http = jar();
        sign_in(&u.server, &http, "ada@example.com", "correct horse").await;
        let page = http.get(u.server.url("/account")).send().await.expect("account").text().await.expect("html");
        assert!(page.contains(&format!("helper ({})", u.agent)), "the agent by its name: {page}");
        let action = format!("/account/actors/{}/revoke", u.agent);
        assert!(page.contains(&action), "{page}");
        // attack: a forged withdrawal (no CSRF token) changes nothing.
        let res = http.post(u.server.url(&action)).form(&[("csrf_token", "forged")]).send().await.expect("post");
        assert_eq!(res.status(), 403);
        assert_eq!(exchange(&u.server, &u.creds, &form).await.status(), 200);
        let res = http.post(u.server.url(&action)).form(&[("csrf_token", hidden(&page, "csrf_token").as_str())]).send().await.expect("post");
        assert_eq!(res.status(), 303);
        let page = http.get(u.server.url("/account")).send().await.expect("account").text().await.expect("html");
        assert!(!page.contains(&action), "withdrawn: {page}");
        assert_eq!(oauth_error(exchange(&u.server, &u.creds, &form).await).await, (400, "invalid_request".into()));
    }
}
