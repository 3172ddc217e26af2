//! Refresh tokens of the code flow: revocation (RFC 7009), introspection (RFC 7662), the
//! resources of the grant kept across refreshes (RFC 8707 §2.2), the grace period, and
//! `offline_access` for clients registered as real client libraries register.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse as _,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse as _,
};
use serde_json::{Value, json};

use crate::authorize::code_client;
use crate::authorize_errors::{
    REDIRECT, Setup, VERIFIER, authorize, challenge, decide, id, jar, redirected, setup, sign_up,
};
use crate::common::*;
use crate::token::{service_client, verify_with_jwks};

const MCP: &str = "https://mcp.example.com/mcp";

fn field(v: &Value, name: &str) -> String {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {v}"))
        .to_owned()
}

/// The Basic credentials of a registered client, if it has a secret.
fn basic(client: &Value) -> Option<(&str, &str)> {
    client["client_secret"].as_str().map(|s| (id(client), s))
}

/// Registers a client as the MCP TypeScript SDK (and most client libraries) do: no `scope`,
/// public, the code and refresh grants.
async fn library_client(server: &TestServer) -> Value {
    let res = server
        .post_json(
            "/oauth2/register",
            &json!({
                "client_name": "MCP client",
                "redirect_uris": [REDIRECT],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            }),
        )
        .await;
    assert_eq!(res.status(), 201);
    json_of(res).await
}

/// Authorize (with PKCE) and consent for `client`, with extra parameters; the code.
async fn code(s: &Setup, client: &Value, extra: &[(&str, &str)]) -> String {
    let ch = challenge(VERIFIER);
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", id(client)),
        ("redirect_uri", REDIRECT),
        ("state", "st"),
        ("code_challenge", &ch),
        ("code_challenge_method", "S256"),
    ];
    params.extend_from_slice(extra);
    let res = authorize(&s.server, &s.http, &params).await;
    let res = decide(&s.server, &s.http, res, "allow").await;
    let params = redirected(&res);
    params
        .get("code")
        .unwrap_or_else(|| panic!("no code: {params:?}"))
        .clone()
}

/// The token endpoint, as `client` calls it (Basic for a confidential client, `client_id` in
/// the body for a public one).
async fn token(s: &Setup, client: &Value, form: &[(&str, &str)]) -> reqwest::Response {
    let mut form = form.to_vec();
    if basic(client).is_none() {
        form.push(("client_id", id(client)));
    }
    s.server
        .post_form("/oauth2/token", basic(client), &form)
        .await
}

async fn exchange(
    s: &Setup,
    client: &Value,
    code: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    form.extend_from_slice(extra);
    token(s, client, &form).await
}

async fn refresh(s: &Setup, client: &Value, rt: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", rt)];
    form.extend_from_slice(extra);
    token(s, client, &form).await
}

/// A successful token response's body.
async fn ok_json(res: reqwest::Response) -> Value {
    let status = res.status();
    let body: Value = res.json().await.expect("json");
    assert_eq!(status, 200, "{body}");
    body
}

async fn introspect(s: &Setup, caller: (&str, &str), token: &str, hint: Option<&str>) -> Value {
    let mut form = vec![("token", token)];
    if let Some(h) = hint {
        form.push(("token_type_hint", h));
    }
    let res = s
        .server
        .post_form("/oauth2/introspect", Some(caller), &form)
        .await;
    assert_eq!(res.status(), 200);
    json_of(res).await
}

async fn revoke(s: &Setup, client: &Value, token: &str, hint: Option<&str>) -> reqwest::Response {
    let mut form = vec![("token", token)];
    if let Some(h) = hint {
        form.push(("token_type_hint", h));
    }
    if basic(client).is_none() {
        form.push(("client_id", id(client)));
    }
    s.server
        .post_form("/oauth2/revoke", basic(client), &form)
        .await
}

async fn error_of_status(res: reqwest::Response, status: u16) -> String {
    assert_eq!(res.status().as_u16(), status);
    field(&json_of(res).await, "error")
}

async fn error_of(res: reqwest::Response) -> String {
    assert_eq!(res.status(), 400);
    field(&json_of(res).await, "error")
}

/// A confidential code client's first tokens: (access, refresh).
async fn confidential_tokens(s: &Setup) -> (String, String) {
    let c = code(s, &s.confidential, &[("scope", "openid email")]).await;
    let body = ok_json(exchange(s, &s.confidential, &c, &[]).await).await;
    (field(&body, "access_token"), field(&body, "refresh_token"))
}

fn confidential_caller(s: &Setup) -> (&str, &str) {
    basic(&s.confidential).expect("a secret")
}

on_both_backends! {
    async fn rfc7009_2_1_revoking_a_refresh_token_revokes_its_family_and_its_access_tokens(db) {
        let s = setup(&db).await;
        let rs = service_client(&s.server, "client_secret_basic").await;
        let c = code(&s, &s.public, &[("scope", "openid email")]).await;
        let first = ok_json(exchange(&s, &s.public, &c, &[]).await).await;
        let second = ok_json(refresh(&s, &s.public, &field(&first, "refresh_token"), &[]).await).await;
        let (a1, a2, r2) = (field(&first, "access_token"), field(&second, "access_token"), field(&second, "refresh_token"));
        for a in [&a1, &a2] {
            assert_eq!(introspect(&s, (&rs.0, &rs.1), a, None).await["active"], true, "control");
        }
        // A public client revokes with its client_id alone (RFC 7009 §2.1, §5).
        let res = revoke(&s, &s.public, &r2, Some("refresh_token")).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert_eq!(error_of(refresh(&s, &s.public, &r2, &[]).await).await, "invalid_grant");
        for a in [&a1, &a2] {
            assert_eq!(introspect(&s, (&rs.0, &rs.1), a, None).await, json!({ "active": false }));
        }
        // Revoking it again, or the used token before it, is still 200.
        for again in [&r2, &field(&first, "refresh_token")] {
            assert_eq!(revoke(&s, &s.public, again, Some("refresh_token")).await.status(), 200);
        }
        // An access token with the refresh_token hint is found and revoked all the same.
        let c = code(&s, &s.public, &[("scope", "openid")]).await;
        let a = field(&ok_json(exchange(&s, &s.public, &c, &[]).await).await, "access_token");
        assert_eq!(revoke(&s, &s.public, &a, Some("refresh_token")).await.status(), 200);
        assert_eq!(introspect(&s, (&rs.0, &rs.1), &a, None).await["active"], false);
        // The hint is a hint only: a wrong one, or none, revokes all the same.
        for hint in [Some("access_token"), None, Some("something_else")] {
            let c = code(&s, &s.public, &[("scope", "openid")]).await;
            let body = ok_json(exchange(&s, &s.public, &c, &[]).await).await;
            let (a, r) = (field(&body, "access_token"), field(&body, "refresh_token"));
            assert_eq!(revoke(&s, &s.public, &r, hint).await.status(), 200);
            assert_eq!(error_of(refresh(&s, &s.public, &r, &[]).await).await, "invalid_grant", "{hint:?}");
            assert_eq!(introspect(&s, (&rs.0, &rs.1), &a, None).await["active"], false, "{hint:?}");
        }
    }

    async fn rfc7009_2_1_another_client_cannot_revoke_a_refresh_token_and_it_stays_valid(db) {
        let s = setup(&db).await;
        let c = code(&s, &s.public, &[("scope", "openid")]).await;
        let body = ok_json(exchange(&s, &s.public, &c, &[]).await).await;
        let r = field(&body, "refresh_token");
        // Another registered client, confidential or public, with or without the right hint.
        let other_public = library_client(&s.server).await;
        for (thief, hint) in [(&s.confidential, Some("refresh_token")), (&s.confidential, None), (&other_public, Some("access_token"))] {
            let res = revoke(&s, thief, &r, hint).await;
            assert_eq!(error_of(res).await, "unauthorized_client");
        }
        let rotated = ok_json(refresh(&s, &s.public, &r, &[]).await).await;
        assert!(rotated["refresh_token"].is_string(), "the token stayed valid");
    }

    async fn rfc7009_2_2_unknown_or_malformed_tokens_answer_200(db) {
        let s = setup(&db).await;
        let long = "x".repeat(5000);
        for token in ["nonsense", "a.b.c", long.as_str(), "%00", "\u{1F512}", " "] {
            for hint in [None, Some("refresh_token"), Some("access_token"), Some("bogus")] {
                for client in [&s.public, &s.confidential] {
                    let res = revoke(&s, client, token, hint).await;
                    assert_eq!(res.status(), 200, "{token:.20} {hint:?}");
                }
            }
        }
    }

    async fn rfc7662_2_2_a_refresh_token_is_active_exactly_while_the_token_endpoint_takes_it(db) {
        let s = setup(&db).await;
        let caller = confidential_caller(&s);
        let (_, r1) = confidential_tokens(&s).await;
        let now = s.server.clock_now();
        for hint in [None, Some("refresh_token"), Some("access_token")] {
            let info = introspect(&s, caller, &r1, hint).await;
            assert_eq!(info["active"], true, "{hint:?}");
            assert_eq!(info["token_type"], "refresh_token");
            assert_eq!(info["client_id"], id(&s.confidential));
            assert_eq!(info["scope"], "openid email");
            assert!(field(&info, "sub").starts_with("usr_"));
            assert_eq!(info["iat"], now);
            assert_eq!(info["exp"], now + 2_592_000, "the refresh-token lifetime");
        }
        // Introspecting uses nothing: the token still rotates.
        let second = ok_json(refresh(&s, &s.confidential, &r1, &[]).await).await;
        let r2 = field(&second, "refresh_token");
        // Used (grace 0): inactive. Asking does not count as a replay: r2 lives on.
        assert_eq!(introspect(&s, caller, &r1, None).await, json!({ "active": false }));
        assert_eq!(introspect(&s, caller, &r2, None).await["active"], true);
        // Expired.
        s.server.clock.advance(2_592_000);
        assert_eq!(introspect(&s, caller, &r2, Some("refresh_token")).await, json!({ "active": false }));
        assert_eq!(error_of(refresh(&s, &s.confidential, &r2, &[]).await).await, "invalid_grant");
        s.server.clock.advance(-2_592_000);
        // The user disabled: inactive, and refused at the token endpoint.
        let (_, r3) = confidential_tokens(&s).await;
        let user = field(&introspect(&s, caller, &r3, None).await, "sub");
        {
            let mut conn = db.store().conn().expect("conn");
            accounts::set_disabled(&mut conn, &user, true, s.server.clock_now()).expect("disable");
        }
        assert_eq!(introspect(&s, caller, &r3, None).await, json!({ "active": false }));
        assert_eq!(error_of(refresh(&s, &s.confidential, &r3, &[]).await).await, "invalid_grant");
        {
            let mut conn = db.store().conn().expect("conn");
            accounts::set_disabled(&mut conn, &user, false, s.server.clock_now()).expect("enable");
        }
        assert_eq!(introspect(&s, caller, &r3, None).await["active"], true, "control: enabled again");
        // Revoked (RFC 7009).
        assert_eq!(revoke(&s, &s.confidential, &r3, None).await.status(), 200);
        assert_eq!(introspect(&s, caller, &r3, Some("refresh_token")).await, json!({ "active": false }));
    }

    async fn rfc7662_4_another_clients_refresh_token_is_inactive_to_the_caller(db) {
        // A refresh token is meant for the client it was issued to and the server only; a
        // resource server (or anyone else) holding one holds a leaked credential.
        let s = setup(&db).await;
        let rs = service_client(&s.server, "client_secret_basic").await;
        let c = code(&s, &s.public, &[("scope", "openid")]).await;
        let r = field(&ok_json(exchange(&s, &s.public, &c, &[]).await).await, "refresh_token");
        assert_eq!(introspect(&s, (&rs.0, &rs.1), &r, Some("refresh_token")).await, json!({ "active": false }));
        assert_eq!(introspect(&s, confidential_caller(&s), &r, None).await, json!({ "active": false }));
        // Public clients may not introspect at all (unchanged).
        let res = s.server.post_form("/oauth2/introspect", None, &[("token", r.as_str()), ("client_id", id(&s.public))]).await;
        assert_eq!(res.status(), 401);
        // Untouched by all of that.
        assert_eq!(ok_json(refresh(&s, &s.public, &r, &[]).await).await["token_type"], "Bearer");
    }

    async fn rfc7662_a_deleted_client_or_one_no_longer_registered_for_refresh_has_inactive_refresh_tokens(db) {
        let s = setup(&db).await;
        let caller = confidential_caller(&s);
        let (_, r) = confidential_tokens(&s).await;
        // The client drops the refresh grant (RFC 7592 update): the token endpoint refuses it.
        let update = json!({
            "client_id": id(&s.confidential),
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code"],
            "scope": "openid profile email offline_access",
        });
        let res = s.server.http.put(s.server.url(&format!("/oauth2/register/{}", id(&s.confidential))))
            .bearer_auth(field(&s.confidential, "registration_access_token"))
            .json(&update).send().await.expect("put");
        assert_eq!(res.status(), 200, "{:?}", res.text().await);
        assert_eq!(introspect(&s, caller, &r, None).await, json!({ "active": false }));
        assert_eq!(error_of(refresh(&s, &s.confidential, &r, &[]).await).await, "unauthorized_client");
        // A deleted client: only it may learn about its refresh tokens, and it no longer
        // authenticates, at introspection as at the token endpoint.
        let second = code_client(&s.server, false, REDIRECT).await;
        let c = code(&s, &second, &[("scope", "openid")]).await;
        let rt = field(&ok_json(exchange(&s, &second, &c, &[]).await).await, "refresh_token");
        let second_caller = basic(&second).expect("secret");
        assert_eq!(introspect(&s, second_caller, &rt, None).await["active"], true, "control");
        {
            let mut conn = db.store().conn().expect("conn");
            store::clients::delete(&mut conn, id(&second)).expect("delete");
        }
        // Deleted behind the server's back (another instance, the command line): seen once the
        // client cache time (10 s) has passed.
        s.server.clock.advance(11);
        let res = s.server.post_form("/oauth2/introspect", Some(second_caller), &[("token", rt.as_str())]).await;
        assert_eq!(res.status(), 401);
        assert_eq!(error_of_status(refresh(&s, &second, &rt, &[]).await, 401).await, "invalid_client");
    }

    async fn rfc8707_2_2_a_refresh_keeps_the_granted_resource_as_the_mcp_sdk_needs(db) {
        let s = setup(&db).await;
        let mcp = library_client(&s.server).await;
        // As the MCP TypeScript SDK asks: resource at authorize and at the token endpoint.
        let c = code(&s, &mcp, &[("resource", MCP)]).await;
        let first = ok_json(exchange(&s, &mcp, &c, &[("resource", MCP)]).await).await;
        let claims = verify_with_jwks(&s.server, &field(&first, "access_token"), MCP).await;
        assert_eq!(claims["aud"], MCP);
        // The first refresh, without resource: still the MCP server, not the issuer.
        let second = ok_json(refresh(&s, &mcp, &field(&first, "refresh_token"), &[]).await).await;
        let claims = verify_with_jwks(&s.server, &field(&second, "access_token"), MCP).await;
        assert_eq!(claims["aud"], MCP, "the refresh kept the granted audience");
        // With the granted resource named: the same.
        let r2 = field(&second, "refresh_token");
        let third = ok_json(refresh(&s, &mcp, &r2, &[("resource", MCP)]).await).await;
        verify_with_jwks(&s.server, &field(&third, "access_token"), MCP).await;
        // Another resource, or the issuer: invalid_target, and the token is not spent.
        let r3 = field(&third, "refresh_token");
        for wider in ["https://other.example.com/mcp", s.server.base.as_str()] {
            assert_eq!(error_of(refresh(&s, &mcp, &r3, &[("resource", wider)]).await).await, "invalid_target", "{wider}");
        }
        let fourth = ok_json(refresh(&s, &mcp, &r3, &[]).await).await;
        verify_with_jwks(&s.server, &field(&fourth, "access_token"), MCP).await;
    }

    async fn rfc8707_2_2_the_code_exchange_selects_among_the_granted_resources_never_widens(db) {
        let s = setup(&db).await;
        let mcp = library_client(&s.server).await;
        let other = "https://files.example.com/";
        let c = code(&s, &mcp, &[("resource", MCP), ("resource", other)]).await;
        // A resource not granted: invalid_target, before the code is spent.
        assert_eq!(error_of(exchange(&s, &mcp, &c, &[("resource", "https://evil.example/")]).await).await, "invalid_target");
        let body = ok_json(exchange(&s, &mcp, &c, &[("resource", other)]).await).await;
        let claims = verify_with_jwks(&s.server, &field(&body, "access_token"), other).await;
        assert_eq!(claims["aud"], other, "narrowed to the one asked for");
        // The family keeps both granted resources: a refresh may pick the other one.
        let rt = field(&body, "refresh_token");
        let next = ok_json(refresh(&s, &mcp, &rt, &[("resource", MCP)]).await).await;
        let claims = verify_with_jwks(&s.server, &field(&next, "access_token"), MCP).await;
        assert_eq!(claims["aud"], MCP);
        // A grant that named no resource cannot gain one at refresh.
        let c = code(&s, &mcp, &[]).await;
        let body = ok_json(exchange(&s, &mcp, &c, &[]).await).await;
        verify_with_jwks(&s.server, &field(&body, "access_token"), &s.server.base).await;
        assert_eq!(error_of(refresh(&s, &mcp, &field(&body, "refresh_token"), &[("resource", MCP)]).await).await, "invalid_target");
    }

    async fn offline_access_a_library_client_registered_without_scope_gets_refresh_tokens(db) {
        // What openidconnect-based (and most) client libraries do: register without `scope`,
        // then ask `openid profile email offline_access` with PKCE.
        let s = setup(&db).await;
        let registered = library_client(&s.server).await;
        assert_eq!(registered["scope"], "openid profile email offline_access");
        let http = openidconnect::reqwest::Client::builder()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(s.server.base.clone()).expect("issuer"), &http)
            .await
            .expect("discovery");
        let client = CoreClient::from_provider_metadata(metadata, ClientId::new(id(&registered).to_owned()), None)
            .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).expect("redirect"));
        let (pkce, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, _, nonce) = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("offline_access".into()))
            .set_pkce_challenge(pkce)
            .url();
        let res = s.http.get(url.as_str()).send().await.expect("authorize");
        let res = decide(&s.server, &s.http, res, "allow").await;
        let params = redirected(&res);
        let code = params.get("code").unwrap_or_else(|| panic!("refused: {params:?}")).clone();
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .expect("token url")
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await
            .expect("tokens");
        let scopes: Vec<String> = tokens.scopes().expect("scope").iter().map(|s| s.to_string()).collect();
        assert_eq!(scopes, ["openid", "profile", "email", "offline_access"]);
        tokens.id_token().expect("id token").claims(&client.id_token_verifier(), &nonce).expect("valid id token");
        let refresh = tokens.refresh_token().expect("a refresh token");
        let rotated = client.exchange_refresh_token(refresh).expect("url").request_async(&http).await.expect("refresh");
        assert!(rotated.refresh_token().is_some_and(|r| r.secret() != refresh.secret()));
    }

    async fn offline_access_needs_the_refresh_grant_not_a_registered_scope(db) {
        let s = setup(&db).await;
        let register = |grants: Value| json!({
            "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
            "grant_types": grants, "scope": "openid",
        });
        let with_grant = json_of(s.server.post_json("/oauth2/register", &register(json!(["authorization_code", "refresh_token"]))).await).await;
        let c = code(&s, &with_grant, &[("scope", "openid offline_access")]).await;
        let body = ok_json(exchange(&s, &with_grant, &c, &[]).await).await;
        assert_eq!(body["scope"], "openid offline_access");
        assert!(body["refresh_token"].is_string());
        // Without the refresh grant, offline_access is a scope like any other: not registered.
        let without = json_of(s.server.post_json("/oauth2/register", &register(json!(["authorization_code"]))).await).await;
        let ch = challenge(VERIFIER);
        let res = authorize(&s.server, &s.http, &[
            ("response_type", "code"), ("client_id", id(&without)), ("redirect_uri", REDIRECT),
            ("scope", "openid offline_access"), ("state", "st"),
            ("code_challenge", &ch), ("code_challenge_method", "S256"),
        ]).await;
        assert_eq!(redirected(&res)["error"], "invalid_scope");
    }
}

/// As `setup`, on a server with a grace period of 30 s.
async fn grace_setup(db: &TestDb) -> Setup {
    let server = TestServer::start_with(db, |a| a.refresh_grace = 30);
    let http = jar();
    sign_up(&server, &http, "pat@example.com").await;
    let public = code_client(&server, true, REDIRECT).await;
    let confidential = code_client(&server, false, REDIRECT).await;
    Setup {
        server,
        http,
        public,
        confidential,
    }
}

on_both_backends! {
    async fn attack_refresh_retry_within_grace_gets_the_same_successor_never_a_fork(db) {
        let s = grace_setup(&db).await;
        let rs = service_client(&s.server, "client_secret_basic").await;
        let c = code(&s, &s.public, &[("scope", "openid")]).await;
        let r1 = field(&ok_json(exchange(&s, &s.public, &c, &[]).await).await, "refresh_token");
        let first = ok_json(refresh(&s, &s.public, &r1, &[]).await).await;
        let r2 = field(&first, "refresh_token");
        // The response was lost; the client retries with r1 within grace: the same r2 again,
        // with a new access token.
        s.server.clock.advance(10);
        let retry = ok_json(refresh(&s, &s.public, &r1, &[]).await).await;
        assert_eq!(field(&retry, "refresh_token"), r2, "the same successor, not a second one");
        assert_ne!(field(&retry, "access_token"), field(&first, "access_token"));
        // r2 rotates as usual; after that, r1 is a replay even within grace (its successor is
        // spent), and the family dies with every access token it gave, the retry's included.
        let next = ok_json(refresh(&s, &s.public, &r2, &[]).await).await;
        let r3 = field(&next, "refresh_token");
        assert_eq!(error_of(refresh(&s, &s.public, &r1, &[]).await).await, "invalid_grant");
        assert_eq!(error_of(refresh(&s, &s.public, &r3, &[]).await).await, "invalid_grant", "family revoked");
        for a in [&first, &retry, &next] {
            assert_eq!(introspect(&s, (&rs.0, &rs.1), &field(a, "access_token"), None).await["active"], false);
        }
    }

    async fn attack_refresh_replay_after_grace_revokes_the_family(db) {
        let s = grace_setup(&db).await;
        let c = code(&s, &s.public, &[("scope", "openid")]).await;
        let r1 = field(&ok_json(exchange(&s, &s.public, &c, &[]).await).await, "refresh_token");
        let r2 = field(&ok_json(refresh(&s, &s.public, &r1, &[]).await).await, "refresh_token");
        s.server.clock.advance(31);
        assert_eq!(error_of(refresh(&s, &s.public, &r1, &[]).await).await, "invalid_grant");
        assert_eq!(error_of(refresh(&s, &s.public, &r2, &[]).await).await, "invalid_grant", "family revoked");
    }

    async fn attack_refresh_race_within_grace_answers_both_with_one_successor(db) {
        // Two tabs refresh with the same token at once: both succeed, with one successor.
        let s = grace_setup(&db).await;
        for _ in 0..3 {
            let c = code(&s, &s.public, &[("scope", "openid")]).await;
            let r1 = field(&ok_json(exchange(&s, &s.public, &c, &[]).await).await, "refresh_token");
            let (a, b) = futures_util::future::join(refresh(&s, &s.public, &r1, &[]), refresh(&s, &s.public, &r1, &[])).await;
            let (a, b) = (ok_json(a).await, ok_json(b).await);
            assert_eq!(field(&a, "refresh_token"), field(&b, "refresh_token"));
            ok_json(refresh(&s, &s.public, &field(&a, "refresh_token"), &[]).await).await;
        }
    }

    async fn rfc7662_a_used_token_within_grace_is_active_until_grace_ends(db) {
        let s = grace_setup(&db).await;
        let caller = confidential_caller(&s);
        let (_, r1) = confidential_tokens(&s).await;
        ok_json(refresh(&s, &s.confidential, &r1, &[]).await).await;
        let used_at = s.server.clock_now();
        let info = introspect(&s, caller, &r1, None).await;
        assert_eq!(info["active"], true, "a retry would be accepted");
        assert_eq!(info["exp"], used_at + 30);
        s.server.clock.advance(31);
        assert_eq!(introspect(&s, caller, &r1, None).await, json!({ "active": false }));
    }
}
