//! Protected resources: records an operator keeps (`/api/v1/admin/resources`), RFC 8707
//! resource indicators against them (several, consented per resource, scopes bound to their
//! resource, the resource's token lifetime, `invalid_target`), and RFC 9728 metadata with the
//! `resource_metadata` challenge that leads a client from a 401 to the issuer.

use serde_json::{Value, json};

use crate::api_auth::signup;
use crate::authorize_errors::{
    REDIRECT, VERIFIER, authorize, challenge, decide, hidden, id, jar, redirected, sign_up,
};
use crate::common::*;
use crate::token::verify_with_jwks;

const MCP: &str = "https://mcp.example.com/mcp";
const FILES: &str = "https://files.example.com/";

/// Registers a resource as `portcullis resource add` and the admin API do.
fn add_resource(db: &TestDb, uri: &str, name: &str, scopes: &[(&str, &str)], ttl: Option<i64>) {
    let mut conn = db.store().conn().expect("conn");
    let spec = grants::resources::ResourceSpec {
        uri: uri.into(),
        name: name.into(),
        scopes: scopes
            .iter()
            .map(|(n, d)| grants::resources::ResourceScope {
                name: (*n).into(),
                description: (*d).into(),
            })
            .collect(),
        access_token_ttl: ttl,
    };
    grants::resources::add_resource(&mut conn, &spec, 1).expect("resource");
}

/// A client as the MCP SDKs register one: no `scope`, public, code and refresh grants.
async fn mcp_client(server: &TestServer) -> Value {
    let res = server
        .post_json(
            "/oauth2/register",
            &json!({
                "client_name": "MCP client",
                "redirect_uris": [REDIRECT],
                "grant_types": ["authorization_code", "refresh_token"],
                "token_endpoint_auth_method": "none",
            }),
        )
        .await;
    assert_eq!(res.status(), 201);
    json_of(res).await
}

/// A browser signed in as pat@example.com.
async fn browser(server: &TestServer) -> reqwest::Client {
    let http = jar();
    sign_up(server, &http, "pat@example.com").await;
    http
}

/// `GET /oauth2/authorize` for `client` with PKCE and `extra`.
async fn ask(
    server: &TestServer,
    http: &reqwest::Client,
    client: &Value,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let ch = challenge(VERIFIER);
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", id(client)),
        ("redirect_uri", REDIRECT),
        ("state", "st"),
        ("code_challenge", ch.as_str()),
        ("code_challenge_method", "S256"),
    ];
    params.extend_from_slice(extra);
    authorize(server, http, &params).await
}

fn code_of(res: &reqwest::Response) -> String {
    let params = redirected(res);
    params
        .get("code")
        .unwrap_or_else(|| panic!("no code: {params:?}"))
        .clone()
}

fn error_of_redirect(res: &reqwest::Response) -> String {
    let params = redirected(res);
    params
        .get("error")
        .unwrap_or_else(|| panic!("no error: {params:?}"))
        .clone()
}

async fn token(server: &TestServer, client: &Value, form: &[(&str, &str)]) -> Value {
    let mut form = form.to_vec();
    form.push(("client_id", id(client)));
    let res = server.post_form("/oauth2/token", None, &form).await;
    let status = res.status();
    let body = json_of(res).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn exchange(server: &TestServer, client: &Value, code: &str) -> Value {
    token(
        server,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

/// The parameters of a `WWW-Authenticate: Bearer k="v", …` challenge.
fn challenge_params(res: &reqwest::Response) -> std::collections::HashMap<String, String> {
    let value = res
        .headers()
        .get("www-authenticate")
        .expect("a challenge")
        .to_str()
        .expect("ascii")
        .to_owned();
    let rest = value.strip_prefix("Bearer ").expect("a Bearer challenge");
    rest.split("\", ")
        .filter_map(|kv| kv.split_once("=\""))
        .map(|(k, v)| (k.to_owned(), v.trim_end_matches('"').to_owned()))
        .collect()
}

/// An operator's first-party token (a user with the admin flag and TOTP, signed in with it).
pub(crate) async fn operator_token(server: &TestServer, db: &TestDb) -> String {
    let account = signup(server, "op@example.com", "Op").await;
    let user_id = {
        let mut conn = db.store().conn().expect("conn");
        accounts::find_user_by_email(&mut conn, "op@example.com")
            .expect("find")
            .expect("user")
            .id
    };
    {
        let mut conn = db.store().conn().expect("conn");
        accounts::set_admin(&mut conn, &user_id, true, 1).expect("admin");
    }
    let token = account["token"].as_str().expect("token");
    // attack: an operator without a second factor (a stolen password is all it takes).
    let res = server
        .http
        .get(server.url("/api/v1/admin/resources"))
        .bearer_auth(token)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 403);
    assert_eq!(
        json_of(res).await["error"]["code"],
        "second_factor_required"
    );
    // With TOTP set up, a sign-in passes it; that token is let in.
    let (secret, _) = crate::mfa::enrol(server, token).await;
    let challenge = crate::mfa::mfa_token(server, "op@example.com").await;
    let code = crate::mfa::next_code(server, &secret);
    let res = crate::mfa::answer(server, &challenge, &code).await;
    assert_eq!(res.status(), 200);
    json_of(res).await["token"]
        .as_str()
        .expect("token")
        .to_owned()
}

on_both_backends! {
    async fn operators_manage_resources_through_the_admin_api_and_no_one_else(db) {
        let server = TestServer::start(&db);
        let user = signup(&server, "ada@example.com", "Ada").await;
        let user_token = user["token"].as_str().expect("token");
        let body = json!({
            "uri": MCP,
            "name": "Notes MCP server",
            "scopes": [{ "name": "mcp:tools", "description": "Use the notes tools" }],
            "accessTokenTtl": 600,
        });
        let url = server.url("/api/v1/admin/resources");
        // attack: a user who is not an operator; no credential at all.
        let res = server.http.post(&url).bearer_auth(user_token).json(&body).send().await.expect("post");
        assert_eq!(res.status(), 403);
        assert_eq!(json_of(res).await["error"]["code"], "operators_only");
        let res = server.http.post(&url).json(&body).send().await.expect("post");
        assert_eq!(res.status(), 401);
        let op = operator_token(&server, &db).await;
        let res = server.http.post(&url).bearer_auth(&op).json(&body).send().await.expect("post");
        assert_eq!(res.status(), 201);
        let created = json_of(res).await;
        assert_eq!(created["uri"], MCP);
        assert_eq!(created["scopes"][0]["description"], "Use the notes tools");
        assert_eq!(created["accessTokenTtl"], 600);
        let rid = created["id"].as_str().expect("id").to_owned();
        // The same URI twice; a URI with a fragment; an OIDC scope; a lifetime out of bounds.
        let res = server.http.post(&url).bearer_auth(&op).json(&body).send().await.expect("post");
        assert_eq!(res.status(), 409);
        assert_eq!(json_of(res).await["error"]["code"], "resource_exists");
        for (bad, param) in [
            (json!({ "uri": "https://a.example/#x", "name": "A" }), "uri"),
            (json!({ "uri": "not a uri", "name": "A" }), "uri"),
            (json!({ "uri": "urn:portcullis:first-party", "name": "A" }), "uri"),
            (json!({ "uri": "https://a.example/", "name": "" }), "name"),
            (json!({ "uri": "https://a.example/", "name": "A", "scopes": [{ "name": "openid" }] }), "scopes"),
            (json!({ "uri": "https://a.example/", "name": "A", "scopes": [{ "name": "a b" }] }), "scopes"),
            (json!({ "uri": "https://a.example/", "name": "A", "accessTokenTtl": 5 }), "access_token_ttl"),
        ] {
            let res = server.http.post(&url).bearer_auth(&op).json(&bad).send().await.expect("post");
            assert_eq!(res.status(), 400, "{bad}");
            assert_eq!(json_of(res).await["error"]["param"], param, "{bad}");
        }
        let list = json_of(server.http.get(&url).bearer_auth(&op).send().await.expect("list")).await;
        assert_eq!(list["data"].as_array().expect("data").len(), 1);
        let one = format!("{url}/{rid}");
        let res = server.http.put(&one).bearer_auth(&op).json(&json!({ "uri": MCP, "name": "Notes" })).send().await.expect("put");
        assert_eq!(res.status(), 200);
        let changed = json_of(res).await;
        assert_eq!(changed["name"], "Notes");
        assert!(changed.get("accessTokenTtl").is_none(), "{changed}");
        let shown = json_of(server.http.get(&one).bearer_auth(&op).send().await.expect("show")).await;
        assert_eq!(shown["name"], "Notes");
        let res = server.http.delete(&one).bearer_auth(&op).send().await.expect("delete");
        assert_eq!(res.status(), 204);
        let res = server.http.get(&one).bearer_auth(&op).send().await.expect("show");
        assert_eq!(res.status(), 404);
        // Every change is in the audit log.
        let mut conn = db.store().conn().expect("conn");
        let kinds: Vec<String> = store::audit::recent(&mut conn, 100)
            .expect("audit")
            .into_iter()
            .map(|e| e.kind)
            .filter(|k| k.starts_with("resource."))
            .collect();
        assert_eq!(kinds.len(), 3, "{kinds:?}");
    }

    async fn an_mcp_client_registered_without_scope_gets_a_token_for_the_resource_with_its_scope(db) {
        let server = TestServer::start(&db);
        add_resource(&db, MCP, "Notes MCP server", &[("mcp:tools", "Use your notes through the MCP tools")], Some(600));
        // A registered resource's scope can be registered (before, only PORTCULLIS_SCOPES).
        let res = server.post_json("/oauth2/register", &json!({
            "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "scope": "openid mcp:tools",
        })).await;
        assert_eq!(res.status(), 201);
        let res = server.post_json("/oauth2/register", &json!({
            "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "scope": "mcp:admin",
        })).await;
        assert_eq!(res.status(), 400, "a scope no resource has is still unknown");
        let client = mcp_client(&server).await;
        assert!(client["scope"].as_str().expect("scope").split(' ').any(|s| s == "mcp:tools"), "{client}");
        let http = browser(&server).await;
        // The scope the resource's metadata advertises, with the resource.
        let res = ask(&server, &http, &client, &[("resource", MCP), ("scope", "openid mcp:tools")]).await;
        assert_eq!(res.status(), 200);
        let html = res.text().await.expect("html");
        assert!(html.contains("Notes MCP server"), "the consent page names the resource");
        assert!(html.contains("Use your notes through the MCP tools"), "and its scope's consent text");
        assert!(html.contains(MCP));
        let res = http.post(server.url("/consent")).form(&[
            ("csrf_token", hidden(&html, "csrf_token").as_str()),
            ("authorization", hidden(&html, "authorization").as_str()),
            ("decision", "allow"),
        ]).send().await.expect("consent");
        let tokens = exchange(&server, &client, &code_of(&res)).await;
        let claims = verify_with_jwks(&server, tokens["access_token"].as_str().expect("at"), MCP).await;
        assert_eq!(claims["aud"], MCP);
        assert_eq!(claims["scope"], "openid mcp:tools");
        assert_eq!(tokens["expires_in"], 600, "the resource's lifetime");
        assert_eq!(claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"), 600);
        // Without `scope`: the registered scopes, less those of resources not asked.
        let res = ask(&server, &http, &client, &[("resource", FILES)]).await;
        let res = decide(&server, &http, res, "allow").await;
        let tokens = exchange(&server, &client, &code_of(&res)).await;
        let claims = verify_with_jwks(&server, tokens["access_token"].as_str().expect("at"), FILES).await;
        assert!(!claims["scope"].as_str().expect("scope").contains("mcp:tools"), "{claims}");
        assert_eq!(tokens["expires_in"], 3600, "the server's lifetime for an unregistered resource");
    }

    async fn attack_consent_for_resource_a_is_not_reused_for_resource_b(db) {
        let server = TestServer::start(&db);
        add_resource(&db, MCP, "Notes MCP server", &[("mcp:tools", "Use your notes")], None);
        add_resource(&db, FILES, "Files", &[("files:read", "Read your files")], None);
        let client = mcp_client(&server).await;
        let http = browser(&server).await;
        let res = ask(&server, &http, &client, &[("resource", MCP), ("scope", "mcp:tools")]).await;
        assert_eq!(res.status(), 200, "asked the first time");
        let res = decide(&server, &http, res, "allow").await;
        code_of(&res);
        let res = ask(&server, &http, &client, &[("resource", MCP), ("scope", "mcp:tools")]).await;
        code_of(&res); // remembered for A: straight back with a code
        let res = ask(&server, &http, &client, &[("resource", FILES), ("scope", "files:read")]).await;
        assert_eq!(res.status(), 200, "resource B asks again");
        let html = res.text().await.expect("html");
        assert!(html.contains("Files") && html.contains("Read your files"));
        let res = ask(&server, &http, &client, &[("resource", MCP), ("resource", FILES), ("scope", "mcp:tools files:read")]).await;
        assert_eq!(res.status(), 200, "A and B together ask again");
    }

    async fn attack_a_scope_of_resource_a_asked_with_resource_b_is_invalid_scope(db) {
        let server = TestServer::start(&db);
        add_resource(&db, MCP, "Notes MCP server", &[("mcp:tools", "Use your notes")], None);
        add_resource(&db, FILES, "Files", &[("files:read", "Read your files")], None);
        let client = mcp_client(&server).await;
        let http = browser(&server).await;
        for extra in [
            vec![("resource", FILES), ("scope", "mcp:tools")],
            vec![("scope", "openid mcp:tools")],
        ] {
            let res = ask(&server, &http, &client, &extra).await;
            assert_eq!(error_of_redirect(&res), "invalid_scope", "{extra:?}");
        }
        // A token narrowed to B at the token endpoint loses A's scope (never aud B with A's).
        let res = ask(&server, &http, &client, &[("resource", MCP), ("resource", FILES), ("scope", "mcp:tools files:read")]).await;
        let res = decide(&server, &http, res, "allow").await;
        let tokens = token(&server, &client, &[
            ("grant_type", "authorization_code"), ("code", &code_of(&res)), ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER), ("resource", FILES),
        ]).await;
        let claims = verify_with_jwks(&server, tokens["access_token"].as_str().expect("at"), FILES).await;
        assert_eq!(claims["scope"], "files:read");
        // And a refresh narrowed to A has A's only.
        let rt = tokens["refresh_token"].as_str().expect("rt");
        let next = token(&server, &client, &[("grant_type", "refresh_token"), ("refresh_token", rt), ("resource", MCP)]).await;
        let claims = verify_with_jwks(&server, next["access_token"].as_str().expect("at"), MCP).await;
        assert_eq!(claims["scope"], "mcp:tools");
    }

    async fn attack_the_strict_policy_refuses_an_unregistered_resource_and_a_refresh_cannot_widen(db) {
        let server = TestServer::start_with(&db, |s| s.resource_strict = true);
        add_resource(&db, MCP, "Notes MCP server", &[("mcp:tools", "Use your notes")], None);
        let client = mcp_client(&server).await;
        let http = browser(&server).await;
        let res = ask(&server, &http, &client, &[("resource", "https://evil.example/")]).await;
        assert_eq!(error_of_redirect(&res), "invalid_target");
        // The server's own APIs are always allowed.
        let api = format!("{}/api/v1", server.base.trim_end_matches('/'));
        let res = ask(&server, &http, &client, &[("resource", &api), ("scope", "openid")]).await;
        assert_eq!(res.status(), 200, "the consent page");
        // A refresh that widens to an unregistered resource: invalid_target.
        let res = ask(&server, &http, &client, &[("resource", MCP), ("scope", "openid mcp:tools offline_access")]).await;
        let res = decide(&server, &http, res, "allow").await;
        let tokens = exchange(&server, &client, &code_of(&res)).await;
        let rt = tokens["refresh_token"].as_str().expect("rt");
        let res = server.post_form("/oauth2/token", None, &[
            ("grant_type", "refresh_token"), ("refresh_token", rt), ("client_id", id(&client)),
            ("resource", "https://evil.example/"),
        ]).await;
        assert_eq!(res.status(), 400);
        assert_eq!(json_of(res).await["error"], "invalid_target");
        // With the open policy, an unregistered resource is allowed, as before resources were records.
        let open = TestServer::start(&db);
        let client = mcp_client(&open).await;
        let http = browser_as(&open, "kim@example.com").await;
        let res = ask(&open, &http, &client, &[("resource", "https://other.example/")]).await;
        assert_eq!(res.status(), 200);
    }

    async fn attack_a_token_for_resource_a_is_refused_by_the_api_whose_metadata_names_another_resource(db) {
        let server = TestServer::start_with(&db, |s| s.scopes.push("org:read".into()));
        add_resource(&db, MCP, "Notes MCP server", &[("mcp:tools", "Use your notes")], None);
        let res = server.post_json("/oauth2/register", &json!({
            "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "scope": "org:read mcp:tools",
        })).await;
        let client = json_of(res).await;
        let http = browser(&server).await;
        let api = format!("{}/api/v1", server.base.trim_end_matches('/'));
        // The API's metadata names its resource and scope.
        let meta = json_of(server.get("/.well-known/oauth-protected-resource/api/v1").await).await;
        assert_eq!(meta["resource"], api.as_str());
        assert_eq!(meta["scopes_supported"], json!(["org:read"]));
        // A token for the MCP server (with org:read too) is not one for the API.
        let res = ask(&server, &http, &client, &[("resource", MCP), ("scope", "org:read mcp:tools")]).await;
        let res = decide(&server, &http, res, "allow").await;
        let for_mcp = exchange(&server, &client, &code_of(&res)).await;
        let res = server.http.get(server.url("/api/v1/organizations"))
            .bearer_auth(for_mcp["access_token"].as_str().expect("at")).send().await.expect("get");
        assert_eq!(res.status(), 401);
        let params = challenge_params(&res);
        assert_eq!(params["error"], "invalid_token");
        assert!(params["resource_metadata"].ends_with("/.well-known/oauth-protected-resource/api/v1"));
        // A token for the API's resource identifier is accepted.
        let res = ask(&server, &http, &client, &[("resource", &api), ("scope", "org:read")]).await;
        let res = decide(&server, &http, res, "allow").await;
        let for_api = exchange(&server, &client, &code_of(&res)).await;
        let claims = verify_with_jwks(&server, for_api["access_token"].as_str().expect("at"), &api).await;
        assert_eq!(claims["aud"], api.as_str());
        let res = server.http.get(server.url("/api/v1/organizations"))
            .bearer_auth(for_api["access_token"].as_str().expect("at")).send().await.expect("get");
        assert_eq!(res.status(), 200);
    }
}

async fn browser_as(server: &TestServer, email: &str) -> reqwest::Client {
    let http = jar();
    sign_up(server, &http, email).await;
    http
}

/// RFC 9728 §5: from a 401 alone, an unauthenticated client finds the resource's metadata,
/// and from it the authorization server's (RFC 8414), whose issuer is this server.
#[actix_web::test]
async fn rfc9728_5_a_401_from_the_api_leads_an_unauthenticated_client_to_the_metadata_and_the_issuer()
 {
    let db = TestDb::sqlite();
    let server = TestServer::start_with(&db, |s| {
        s.master_key = Some(master_key(
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        ));
    });
    let base = server.base.trim_end_matches('/').to_owned();
    for (path, resource) in [
        ("/api/v1/organizations", format!("{base}/api/v1")),
        ("/proxy/openai/v1/chat", format!("{base}/proxy")),
    ] {
        let res = server.get(path).await;
        assert_eq!(res.status(), 401, "{path}");
        let params = challenge_params(&res);
        assert!(
            !params.contains_key("error"),
            "no credential, no error: {params:?}"
        );
        let metadata_url = params["resource_metadata"].clone();
        let meta: Value = server
            .http
            .get(&metadata_url)
            .send()
            .await
            .expect("metadata")
            .json()
            .await
            .expect("json");
        assert_eq!(meta["resource"], resource.as_str(), "{path}");
        assert_eq!(meta["bearer_methods_supported"], json!(["header"]));
        assert!(meta["resource_name"].is_string());
        let issuer = meta["authorization_servers"][0].as_str().expect("issuer");
        let as_meta: Value = server
            .http
            .get(format!("{issuer}/.well-known/oauth-authorization-server"))
            .send()
            .await
            .expect("as metadata")
            .json()
            .await
            .expect("json");
        assert_eq!(as_meta["issuer"], base.as_str());
        assert!(as_meta["authorization_endpoint"].is_string());
    }
    // A refused credential is named in the challenge, with the metadata still there.
    let res = server
        .http
        .get(server.url("/api/v1/organizations"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 401);
    let params = challenge_params(&res);
    assert_eq!(params["error"], "invalid_token");
    assert!(params.contains_key("error_description"));
    assert!(params["resource_metadata"].starts_with(&base));
    // A 401 elsewhere (a sign-in page, an OAuth endpoint) names no resource metadata.
    let res = server
        .post_form("/oauth2/introspect", None, &[("token", "x")])
        .await;
    assert_eq!(res.status(), 401);
    let challenge = res.headers()["www-authenticate"].to_str().expect("ascii");
    assert!(!challenge.contains("resource_metadata"), "{challenge}");
}

#[actix_web::test]
async fn rfc9728_metadata_of_the_issuer_the_api_and_the_gateway_readable_from_any_origin() {
    let db = TestDb::sqlite();
    let server = TestServer::start_with(&db, |s| s.scopes = scopes("openid profile org:read"));
    let base = server.base.trim_end_matches('/').to_owned();
    for (path, resource, scopes) in [
        (
            "/.well-known/oauth-protected-resource",
            base.clone(),
            Some(json!(["openid", "profile", "org:read"])),
        ),
        // The API's scopes the operator offers.
        (
            "/.well-known/oauth-protected-resource/api/v1",
            format!("{base}/api/v1"),
            Some(json!(["org:read"])),
        ),
        (
            "/.well-known/oauth-protected-resource/proxy",
            format!("{base}/proxy"),
            None,
        ),
    ] {
        let res = server
            .http
            .get(server.url(path))
            .header("origin", "https://inspector.example")
            .send()
            .await
            .expect("get");
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["access-control-allow-origin"], "*", "{path}");
        let meta: Value = res.json().await.expect("json");
        assert_eq!(meta["resource"], resource.as_str());
        assert_eq!(meta["authorization_servers"], json!([base]));
        assert_eq!(meta["bearer_methods_supported"], json!(["header"]));
        assert_eq!(meta.get("scopes_supported").cloned(), scopes, "{path}");
    }
    for unknown in [
        "/.well-known/oauth-protected-resource/other",
        "/.well-known/oauth-protected-resource/api/v2",
    ] {
        assert_eq!(server.get(unknown).await.status(), 404, "{unknown}");
    }
}

/// The consent page naming two resources, in Chromium: each resource's name and its scopes'
/// consent text under its own heading, accessible (axe-core, contrast), and Allow remembers
/// consent for both resources.
#[actix_web::test]
async fn the_consent_page_names_each_resource_and_passes_the_accessibility_check_in_chromium() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    add_resource(
        &db,
        MCP,
        "Notes MCP server",
        &[("mcp:tools", "Use your notes through the MCP tools")],
        Some(600),
    );
    add_resource(
        &db,
        FILES,
        "Files",
        &[("files:read", "Read your files")],
        None,
    );
    let redirect_uri = crate::authorize::dead_redirect_uri();
    let res = server
        .post_json(
            "/oauth2/register",
            &json!({
                "client_name": "Notes agent",
                "redirect_uris": [redirect_uri],
                "token_endpoint_auth_method": "none",
                "scope": "openid mcp:tools files:read",
            }),
        )
        .await;
    let client = json_of(res).await;
    signup(&server, "ada@example.com", "Ada").await;
    let browser = crate::browser::Browser::start().await;
    browser.goto(&server.url("/login")).await;
    browser.wait_for_text("Forgot your password?").await;
    browser.type_into("#email", "ada@example.com").await;
    browser.type_into("#password", "correct horse").await;
    browser
        .click("form[action='/login'] button[type=submit]")
        .await;
    browser.wait_for_path("/account").await;

    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", id(&client))
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", "openid mcp:tools files:read")
        .append_pair("state", "st")
        .append_pair("code_challenge", &challenge(VERIFIER))
        .append_pair("code_challenge_method", "S256")
        .append_pair("resource", MCP)
        .append_pair("resource", FILES);
    browser
        .goto(&server.url(&format!("/oauth2/authorize?{}", q.finish())))
        .await;
    browser.wait_for_text("Notes MCP server").await;
    assert_eq!(browser.text("#resource-1").await, "At Notes MCP server:");
    assert_eq!(browser.text("#resource-2").await, "At Files:");
    let first = browser
        .text("section.resource:nth-of-type(1) ul.scopes")
        .await;
    assert!(
        first.contains("Use your notes through the MCP tools"),
        "{first}"
    );
    assert!(
        browser.text("ul.scopes").await.contains("Know who you are"),
        "openid as ever"
    );
    browser.assert_accessible("consent-resources").await;
    browser.screenshot("consent-resources").await;
    browser.click("button[value=allow]").await;

    // Consent is remembered for both resources (polled: the browser ends at a dead address).
    let user = {
        let mut conn = db.store().conn().expect("conn");
        accounts::find_user_by_email(&mut conn, "ada@example.com")
            .expect("find")
            .expect("user")
            .id
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mut conn = db.store().conn().expect("conn");
        let consent = store::codes::find_consent(&mut conn, &user, id(&client)).expect("consent");
        if let Some(c) = consent {
            let resources: Vec<String> =
                serde_json::from_str(c.resources.as_deref().expect("resources")).expect("json");
            assert_eq!(resources, [MCP, FILES]);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no consent remembered"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

on_both_backends! {
    async fn operators_register_and_remove_resources_on_the_console(db) {
        let server = TestServer::start(&db);
        signup(&server, "root@example.com", "Root").await;
        let root = {
            let mut conn = db.store().conn().expect("conn");
            let id = accounts::find_user_by_email(&mut conn, "root@example.com").expect("find").expect("user").id;
            accounts::set_admin(&mut conn, &id, true, 1).expect("admin");
            id
        };
        let s = crate::admin::session(&db, &server, &root, true);
        let post = |form: Vec<(&'static str, String)>| {
            let server = &server;
            let cookie = s.cookie.clone();
            async move {
                server.http.post(server.url("/admin/resources")).header("cookie", cookie)
                    .form(&form).send().await.expect("post")
            }
        };
        let form = |uri: &str, ttl: &str| vec![
            ("csrf_token", s.csrf.clone()),
            ("uri", uri.to_owned()),
            ("name", "Notes MCP server".to_owned()),
            ("scopes", "mcp:tools = Use your notes\n\nmcp:admin".to_owned()),
            ("ttl", ttl.to_owned()),
        ];
        let res = post(form(MCP, "600")).await;
        assert_eq!(res.status(), 303);
        let page = server.http.get(server.url("/admin/resources")).header("cookie", s.cookie.clone())
            .send().await.expect("get").text().await.expect("html");
        assert!(page.contains(MCP) && page.contains("Use your notes") && page.contains("600 s"), "{page}");
        // Refused with the reason, the fields kept; a form without the CSRF token is refused.
        for (bad, why) in [(form(MCP, ""), "registered already"), (form("https://a.example/#x", ""), "fragment"), (form("https://a.example/", "soon"), "number of seconds")] {
            let res = post(bad).await;
            assert_eq!(res.status(), 400);
            let html = res.text().await.expect("html");
            assert!(html.contains(why), "{why}: {html}");
        }
        let mut no_csrf = form("https://b.example/", "");
        no_csrf[0].1 = "wrong".into();
        assert_ne!(post(no_csrf).await.status(), 303);
        let mut conn = db.store().conn().expect("conn");
        let r = grants::resources::find_resource(&mut conn, MCP).expect("find").expect("added");
        assert_eq!(r.scopes.len(), 2);
        assert_eq!(r.access_token_ttl, Some(600));
        let res = server.http.post(server.url(&format!("/admin/resources/{}/delete", r.id)))
            .header("cookie", s.cookie.clone()).form(&[("csrf_token", s.csrf.as_str())])
            .send().await.expect("delete");
        assert_eq!(res.status(), 303);
        assert!(grants::resources::find_resource(&mut conn, MCP).expect("find").is_none());
    }
}
