//! `POST /oauth2/token` with `grant_type=client_credentials`, driven by the `oauth2` crate.

use jsonwebtoken::{DecodingKey, Validation};
use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, Scope, TokenResponse as _, TokenUrl};
use serde_json::{Value, json};

use crate::common::*;

/// A registered confidential client: (client_id, client_secret).
pub async fn service_client(server: &TestServer, auth_method: &str) -> (String, String) {
    let res = server
        .post_json(
            "/oauth2/register",
            &json!({
                "grant_types": ["client_credentials"],
                "scope": "orders:read orders:write",
                "token_endpoint_auth_method": auth_method,
            }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body = json_of(res).await;
    (
        body["client_id"].as_str().expect("id").to_owned(),
        body["client_secret"].as_str().expect("secret").to_owned(),
    )
}

pub fn oauth_http() -> oauth2::reqwest::Client {
    oauth2::reqwest::Client::builder()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// Verifies a JWT against the server's published JWKS, as a resource server would.
pub async fn verify_with_jwks(server: &TestServer, token: &str, audience: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).expect("header");
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let kid = header.kid.expect("kid");
    let jwks: jsonwebtoken::jwk::JwkSet =
        server.get("/jwks.json").await.json().await.expect("jwks");
    let jwk = jwks.find(&kid).expect("the kid is published");
    let key = DecodingKey::from_jwk(jwk).expect("key");
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[server.base.as_str()]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("verifies")
        .claims
}

on_both_backends! {
    async fn a_service_gets_a_verifiable_token_with_basic_and_with_post(db) {
        let server = TestServer::start(&db);
        for (method, auth_type) in [("client_secret_basic", AuthType::BasicAuth), ("client_secret_post", AuthType::RequestBody)] {
            let (id, secret) = service_client(&server, method).await;
            let client = BasicClient::new(ClientId::new(id.clone()))
                .set_client_secret(ClientSecret::new(secret))
                .set_auth_type(auth_type)
                .set_token_uri(TokenUrl::new(server.url("/oauth2/token")).expect("url"));
            let token = client
                .exchange_client_credentials()
                .add_scope(Scope::new("orders:read".into()))
                .request_async(&oauth_http())
                .await
                .unwrap_or_else(|e| panic!("{method}: {e:?}"));
            assert_eq!(token.token_type().as_ref(), "bearer");
            assert_eq!(token.expires_in().map(|d| d.as_secs()), Some(3600));
            assert_eq!(token.scopes().map(|s| s.iter().map(|x| x.to_string()).collect::<Vec<_>>()), Some(vec!["orders:read".to_owned()]));
            assert!(token.refresh_token().is_none());

            let claims = verify_with_jwks(&server, token.access_token().secret(), &server.base).await;
            assert_eq!(claims["sub"], id.as_str());
            assert_eq!(claims["client_id"], id.as_str());
            assert_eq!(claims["scope"], "orders:read");
            assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
            assert_eq!(claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"), 3600);
        }
    }

    async fn no_scope_means_the_registered_scopes_and_resource_sets_the_audience(db) {
        let server = TestServer::start(&db);
        let (id, secret) = service_client(&server, "client_secret_basic").await;
        let res = server.post_form("/oauth2/token", Some((&id, &secret)), &[
            ("grant_type", "client_credentials"),
            ("resource", "https://orders.example/api"),
        ]).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert_eq!(res.headers()["pragma"], "no-cache");
        let body = json_of(res).await;
        assert_eq!(body["scope"], "orders:read orders:write");
        assert_eq!(body["token_type"], "Bearer");
        let claims = verify_with_jwks(&server, body["access_token"].as_str().expect("token"), "https://orders.example/api").await;
        assert_eq!(claims["aud"], "https://orders.example/api");
    }

    async fn every_error_has_its_rfc6749_code_and_status(db) {
        let server = TestServer::start(&db);
        let (id, secret) = service_client(&server, "client_secret_basic").await;
        let (post_id, post_secret) = service_client(&server, "client_secret_post").await;
        let code_flow = json_of(server.post_json("/oauth2/register", &json!({
            "redirect_uris": ["https://app.example/cb"], "client_name": "web app",
        })).await).await;
        let web_id = code_flow["client_id"].as_str().expect("id").to_owned();
        let web_secret = code_flow["client_secret"].as_str().expect("secret").to_owned();
        let cc = ("grant_type", "client_credentials");

        type Case<'a> = (Option<(&'a str, &'a str)>, Vec<(&'a str, &'a str)>, u16, &'a str);
        let cases: Vec<Case> = vec![
            (Some((&id, "wrong")), vec![cc], 401, "invalid_client"),
            (Some(("nobody", &secret)), vec![cc], 401, "invalid_client"),
            (None, vec![cc], 401, "invalid_client"),
            (None, vec![cc, ("client_id", &id), ("client_secret", &secret)], 401, "invalid_client"),
            (None, vec![cc, ("client_id", &id)], 401, "invalid_client"),
            (Some((&post_id, &post_secret)), vec![cc], 401, "invalid_client"),
            (Some((&id, &secret)), vec![cc, ("client_secret", &secret)], 400, "invalid_request"),
            (Some((&id, &secret)), vec![], 400, "invalid_request"),
            (Some((&id, &secret)), vec![("grant_type", "password"), ("username", "u"), ("password", "p")], 400, "unsupported_grant_type"),
            (Some((&id, &secret)), vec![("grant_type", "urn:unknown")], 400, "unsupported_grant_type"),
            (Some((&id, &secret)), vec![cc, ("scope", "admin")], 400, "invalid_scope"),
            (Some((&id, &secret)), vec![cc, ("scope", "openid")], 400, "invalid_scope"),
            (Some((&id, &secret)), vec![cc, ("resource", "not-absolute")], 400, "invalid_target"),
            (Some((&id, &secret)), vec![cc, ("resource", "https://x.example/#frag")], 400, "invalid_target"),
            (Some((&web_id, &web_secret)), vec![cc], 400, "unauthorized_client"),
        ];
        for (basic, form, status, code) in cases {
            let res = server.post_form("/oauth2/token", basic, &form).await;
            assert_eq!(res.status().as_u16(), status, "{basic:?} {form:?}");
            assert_eq!(res.headers()["cache-control"], "no-store");
            if status == 401 {
                assert!(res.headers()["www-authenticate"].to_str().unwrap_or("").starts_with("Basic "), "{form:?}");
            }
            let body = json_of(res).await;
            assert_eq!(body["error"], code, "{basic:?} {form:?}");
            assert!(body["error_description"].is_string());
        }
    }

    async fn malformed_requests_are_invalid_request_never_500(db) {
        let server = TestServer::start(&db);
        let (id, secret) = service_client(&server, "client_secret_basic").await;
        let token_url = server.url("/oauth2/token");
        // A parameter given twice.
        let res = server.http.post(&token_url).basic_auth(&id, Some(&secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&scope=orders:read&scope=orders:write")
            .send().await.expect("post");
        assert_eq!(res.status(), 400);
        assert_eq!(json_of(res).await["error"], "invalid_request");
        // JSON instead of a form.
        let res = server.http.post(&token_url).basic_auth(&id, Some(&secret))
            .json(&json!({ "grant_type": "client_credentials" })).send().await.expect("post");
        assert_eq!(res.status(), 400);
        assert_eq!(json_of(res).await["error"], "invalid_request");
        // Garbage Basic header.
        let res = server.http.post(&token_url).header("authorization", "Basic %%%")
            .form(&[("grant_type", "client_credentials")]).send().await.expect("post");
        assert_eq!(res.status(), 401);
        // GET is not how a token is asked for.
        let res = server.http.get(&token_url).send().await.expect("get");
        assert_eq!(res.status(), 405);
        // A body over the limit.
        let big = "a".repeat(100 * 1024);
        let res = server.http.post(&token_url).basic_auth(&id, Some(&secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("grant_type=client_credentials&x={big}")).send().await.expect("post");
        assert!(res.status().is_client_error(), "{}", res.status());
    }
}

#[actix_web::test]
async fn secrets_with_reserved_characters_work_over_basic() {
    // RFC 6749 §2.3.1: the id and secret are form-urlencoded before base64, so the server must
    // form-urldecode them. Our secrets are base64url, so a client may legally send `-` as %2D.
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let (id, secret) = service_client(&server, "client_secret_basic").await;
    let encoded = format!("{}:{}", id, secret.replace('-', "%2D"));
    let header = format!("Basic {}", base64_std(&encoded));
    let res = server
        .http
        .post(server.url("/oauth2/token"))
        .header("authorization", header)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 200, "percent-encoded characters are decoded");
}

fn base64_std(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[actix_web::test]
async fn rs256_and_eddsa_access_tokens_are_a_setting() {
    for alg in ["RS256", "EdDSA"] {
        let db = TestDb::sqlite();
        let server = TestServer::start_with(&db, |a| {
            a.access_token_alg = tokens::SigningAlg::parse(alg).expect("alg")
        });
        let (id, secret) = service_client(&server, "client_secret_basic").await;
        let res = server
            .post_form(
                "/oauth2/token",
                Some((&id, &secret)),
                &[("grant_type", "client_credentials")],
            )
            .await;
        let token = json_of(res).await["access_token"]
            .as_str()
            .expect("token")
            .to_owned();
        assert_eq!(
            format!(
                "{:?}",
                jsonwebtoken::decode_header(&token).expect("header").alg
            ),
            alg
        );
        verify_with_jwks(&server, &token, &server.base).await;
    }
}
