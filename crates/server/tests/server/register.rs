//! `POST /oauth2/register` (RFC 7591) and `GET|PUT|DELETE /oauth2/register/{id}` (RFC 7592).

use serde_json::{Value, json};

use crate::common::*;

fn service() -> Value {
    json!({
        "client_name": "Orders service",
        "grant_types": ["client_credentials"],
        "scope": "orders:read orders:write",
        "software_id": "ignored-unknown-field",
    })
}

async fn register(server: &TestServer, body: &Value) -> Value {
    let res = server.post_json("/oauth2/register", body).await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    json_of(res).await
}

fn bearer(req: reqwest::RequestBuilder, token: &str) -> reqwest::RequestBuilder {
    req.header("authorization", format!("Bearer {token}"))
}

on_both_backends! {
    async fn registration_returns_credentials_and_every_metadata_value(db) {
        let server = TestServer::start(&db);
        let body = register(&server, &service()).await;
        assert!(body["client_id"].as_str().is_some_and(|s| s.len() >= 22));
        assert_eq!(body["client_secret"].as_str().map(str::len), Some(43));
        assert_eq!(body["client_secret_expires_at"], 0);
        assert!(body["client_id_issued_at"].is_i64());
        assert!(body["registration_access_token"].is_string());
        assert_eq!(
            body["registration_client_uri"],
            format!("{}/oauth2/register/{}", server.base, body["client_id"].as_str().unwrap_or(""))
        );
        assert_eq!(body["grant_types"], json!(["client_credentials"]));
        assert_eq!(body["response_types"], json!([]));
        assert_eq!(body["token_endpoint_auth_method"], "client_secret_basic");
        assert_eq!(body["scope"], "orders:read orders:write");
        assert_eq!(body["client_name"], "Orders service");
        assert_eq!(body["application_type"], "web");
        assert!(body.get("software_id").is_none());
    }

    async fn management_reads_rotates_updates_and_deletes(db) {
        let server = TestServer::start(&db);
        let created = register(&server, &service()).await;
        let uri = created["registration_client_uri"].as_str().expect("uri").to_owned();
        let token = created["registration_access_token"].as_str().expect("token").to_owned();

        let res = bearer(server.http.get(&uri), &token).send().await.expect("get");
        assert_eq!(res.status(), 200);
        let read = json_of(res).await;
        assert_eq!(read["client_id"], created["client_id"]);
        assert!(read.get("client_secret").is_none(), "the secret is shown only once");
        let rotated = read["registration_access_token"].as_str().expect("token").to_owned();
        assert_ne!(rotated, token);
        let stale = bearer(server.http.get(&uri), &token).send().await.expect("get");
        assert_eq!(stale.status(), 401, "the old registration token stopped working");

        let mut update = service();
        update["client_id"] = created["client_id"].clone();
        update["client_name"] = json!("Orders v2");
        update["scope"] = json!("orders:read");
        let res = bearer(server.http.put(&uri), &rotated).json(&update).send().await.expect("put");
        assert_eq!(res.status(), 200);
        let updated = json_of(res).await;
        assert_eq!(updated["client_name"], "Orders v2");
        assert_eq!(updated["scope"], "orders:read");
        let token = updated["registration_access_token"].as_str().expect("token").to_owned();

        let res = bearer(server.http.delete(&uri), &token).send().await.expect("delete");
        assert_eq!(res.status(), 204);
        let res = bearer(server.http.get(&uri), &token).send().await.expect("get");
        assert_eq!(res.status(), 401);
        let res = server.post_form(
            "/oauth2/token",
            Some((created["client_id"].as_str().expect("id"), created["client_secret"].as_str().expect("s"))),
            &[("grant_type", "client_credentials")],
        ).await;
        assert_eq!(res.status(), 401, "a deleted client cannot get tokens");
    }

    async fn updates_follow_rfc7592_rules(db) {
        let server = TestServer::start(&db);
        let created = register(&server, &service()).await;
        let uri = created["registration_client_uri"].as_str().expect("uri").to_owned();
        let mut token = created["registration_access_token"].as_str().expect("token").to_owned();
        let id = created["client_id"].clone();
        let cases = [
            (json!({ "grant_types": ["client_credentials"] }), "invalid_request"),
            (json!({ "client_id": "someone-else", "grant_types": ["client_credentials"] }), "invalid_request"),
            (json!({ "client_id": id, "grant_types": ["client_credentials"], "registration_access_token": "x" }), "invalid_request"),
            (json!({ "client_id": id, "grant_types": ["client_credentials"], "client_id_issued_at": 1 }), "invalid_request"),
            (json!({ "client_id": id, "grant_types": ["client_credentials"], "client_secret": "wrong" }), "invalid_client_metadata"),
            (json!({ "client_id": id, "grant_types": ["client_credentials"], "scope": "unknown:scope" }), "invalid_client_metadata"),
        ];
        for (body, code) in cases {
            let res = bearer(server.http.put(&uri), &token).json(&body).send().await.expect("put");
            assert_eq!(res.status(), 400, "{body}");
            assert_eq!(json_of(res).await["error"], code, "{body}");
        }
        // A matching secret is accepted; the refused updates changed nothing.
        let body = json!({ "client_id": id, "grant_types": ["client_credentials"], "client_secret": created["client_secret"] });
        let res = bearer(server.http.put(&uri), &token).json(&body).send().await.expect("put");
        assert_eq!(res.status(), 200);
        let updated = json_of(res).await;
        assert!(updated.get("scope").is_none(), "omitted fields are removed (RFC 7592 §2.2)");
        token = updated["registration_access_token"].as_str().expect("token").to_owned();
        let other = register(&server, &service()).await;
        let res = bearer(server.http.get(other["registration_client_uri"].as_str().expect("uri")), &token).send().await.expect("get");
        assert_eq!(res.status(), 401, "one client's token does not manage another");
    }

    async fn invalid_metadata_gets_rfc7591_errors(db) {
        let server = TestServer::start(&db);
        let cases = [
            (json!({ "redirect_uris": ["https://a.example/cb#frag"] }), "invalid_redirect_uri"),
            (json!({ "redirect_uris": ["http://a.example/cb"] }), "invalid_redirect_uri"),
            (json!({ "redirect_uris": ["https://*.example/cb"] }), "invalid_redirect_uri"),
            (json!({ "redirect_uris": ["/cb"] }), "invalid_redirect_uri"),
            (json!({ "grant_types": ["client_credentials"], "token_endpoint_auth_method": "none" }), "invalid_client_metadata"),
            (json!({ "grant_types": ["client_credentials"], "response_types": ["code"] }), "invalid_client_metadata"),
            (json!({ "grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt" }), "invalid_client_metadata"),
            (json!({ "grant_types": ["client_credentials"], "scope": "admin" }), "invalid_client_metadata"),
            (json!("not an object"), "invalid_client_metadata"),
        ];
        for (body, code) in cases {
            let res = server.post_json("/oauth2/register", &body).await;
            assert_eq!(res.status(), 400, "{body}");
            let err = json_of(res).await;
            assert_eq!(err["error"], code, "{body}");
            assert!(err["error_description"].is_string());
        }
        for raw in ["{", "", "\u{0}", "[1,2"] {
            let res = server.http.post(server.url("/oauth2/register"))
                .header("content-type", "application/json").body(raw).send().await.expect("post");
            assert_eq!(res.status(), 400, "{raw:?}");
            assert_eq!(json_of(res).await["error"], "invalid_client_metadata");
        }
    }

    async fn management_without_a_valid_token_is_401_with_a_bearer_challenge(db) {
        let server = TestServer::start(&db);
        let created = register(&server, &service()).await;
        let uri = created["registration_client_uri"].as_str().expect("uri").to_owned();
        for token in [None, Some("wrong")] {
            let mut req = server.http.get(&uri);
            if let Some(t) = token {
                req = bearer(req, t);
            }
            let res = req.send().await.expect("get");
            assert_eq!(res.status(), 401);
            assert!(res.headers()["www-authenticate"].to_str().unwrap_or("").starts_with("Bearer "));
            assert_eq!(json_of(res).await["error"], "invalid_token");
        }
        let res = bearer(server.http.get(server.url("/oauth2/register/unknown-client")), "x").send().await.expect("get");
        assert_eq!(res.status(), 401);
    }
}

#[actix_web::test]
async fn the_token_policy_requires_an_initial_access_token_once() {
    let db = TestDb::sqlite();
    let server = TestServer::start_with(&db, |a| a.registration = RegistrationPolicy::Token);
    let res = server.post_json("/oauth2/register", &service()).await;
    assert_eq!(res.status(), 401);
    assert_eq!(json_of(res).await["error"], "invalid_token");

    let token = {
        let mut conn = db.store().conn().expect("conn");
        registration::create_initial_access_token(&mut conn, server.clock_now(), 3600, 1)
            .expect("token")
    };
    let send = || {
        server
            .http
            .post(server.url("/oauth2/register"))
            .header("authorization", format!("Bearer {}", token.expose()))
            .json(&service())
            .send()
    };
    assert_eq!(send().await.expect("post").status(), 201);
    assert_eq!(send().await.expect("post").status(), 401, "single use");
}

#[actix_web::test]
async fn the_closed_policy_refuses_everyone() {
    let db = TestDb::sqlite();
    let server = TestServer::start_with(&db, |a| a.registration = RegistrationPolicy::Closed);
    let res = server.post_json("/oauth2/register", &service()).await;
    assert_eq!(res.status(), 403);
    assert_eq!(json_of(res).await["error"], "access_denied");
}

/// Status, the exact body and the headers of a refusal on the registration endpoints.
async fn refusal(res: reqwest::Response) -> (u16, String, Option<String>, Option<String>) {
    let status = res.status().as_u16();
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or("<not ascii>").to_owned())
    };
    let (challenge, pragma) = (header("www-authenticate"), header("pragma"));
    assert_eq!(res.headers()["cache-control"], "no-store");
    (status, res.text().await.expect("body"), challenge, pragma)
}

fn refused(code: &str, description: &str) -> String {
    format!(r#"{{"error":"{code}","error_description":"{description}"}}"#)
}

fn bearer_challenge(description: &str) -> Option<String> {
    Some(format!(
        r#"Bearer realm="portcullis", error="invalid_token", error_description="{description}""#
    ))
}

/// The answers `registration::manage`'s refusals get, to the byte: the body, the challenge and
/// the cache headers.
#[actix_web::test]
async fn management_refusals_are_answered_byte_for_byte() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let created = register(&server, &service()).await;
    let uri = created["registration_client_uri"]
        .as_str()
        .expect("uri")
        .to_owned();
    let token = created["registration_access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let id = created["client_id"].clone();
    let no_cache = Some("no-cache".to_owned());
    let raw =
        |req: reqwest::RequestBuilder| req.header("content-type", "application/json").body("{");

    let not_json = refused("invalid_client_metadata", "the body must be a JSON object");
    let res = raw(server.http.post(server.url("/oauth2/register")))
        .send()
        .await
        .expect("post");
    assert_eq!(
        refusal(res).await,
        (400, not_json.clone(), None, no_cache.clone())
    );
    let res = raw(bearer(server.http.put(&uri), &token))
        .send()
        .await
        .expect("put");
    assert_eq!(refusal(res).await, (400, not_json, None, no_cache.clone()));

    let put = |body: Value| bearer(server.http.put(&uri), &token).json(&body).send();
    for (body, code, description) in [
        (
            json!({ "grant_types": ["client_credentials"] }),
            "invalid_request",
            "the body must carry this client's client_id",
        ),
        (
            json!({ "client_id": id, "grant_types": ["client_credentials"], "client_id_issued_at": 1 }),
            "invalid_request",
            "client_id_issued_at is set by the server and may not be sent",
        ),
        (
            json!({ "client_id": id, "grant_types": ["client_credentials"], "client_secret": "wrong" }),
            "invalid_client_metadata",
            "client_secret does not match the current secret",
        ),
    ] {
        let res = put(body).await.expect("put");
        assert_eq!(
            refusal(res).await,
            (400, refused(code, description), None, no_cache.clone())
        );
    }

    let required = "a registration access token is required";
    let res = server
        .http
        .put(&uri)
        .json(&json!({ "client_id": id, "grant_types": ["client_credentials"] }))
        .send()
        .await
        .expect("put");
    assert_eq!(
        refusal(res).await,
        (
            401,
            refused("invalid_token", required),
            bearer_challenge(required),
            no_cache.clone()
        )
    );
    let not_valid = "the registration access token is not valid for this client";
    for res in [
        bearer(server.http.get(&uri), "wrong")
            .send()
            .await
            .expect("get"),
        bearer(
            server.http.delete(server.url("/oauth2/register/unknown")),
            &token,
        )
        .send()
        .await
        .expect("delete"),
    ] {
        assert_eq!(
            refusal(res).await,
            (
                401,
                refused("invalid_token", not_valid),
                bearer_challenge(not_valid),
                no_cache.clone()
            )
        );
    }

    let res = bearer(server.http.delete(&uri), &token)
        .send()
        .await
        .expect("delete");
    assert_eq!(refusal(res).await, (204, String::new(), None, None));
}

#[actix_web::test]
async fn registration_mode_refusals_are_answered_byte_for_byte() {
    let db = TestDb::sqlite();
    let no_cache = Some("no-cache".to_owned());
    let server = TestServer::start_with(&db, |a| a.registration = RegistrationPolicy::Token);
    let required = "an initial access token is required";
    let res = server.post_json("/oauth2/register", &service()).await;
    assert_eq!(
        refusal(res).await,
        (
            401,
            refused("invalid_token", required),
            bearer_challenge(required),
            no_cache.clone()
        )
    );
    let invalid = "the initial access token is not valid";
    let res = bearer(server.http.post(server.url("/oauth2/register")), "made-up")
        .json(&service())
        .send()
        .await
        .expect("post");
    assert_eq!(
        refusal(res).await,
        (
            401,
            refused("invalid_token", invalid),
            bearer_challenge(invalid),
            no_cache.clone()
        )
    );

    let db = TestDb::sqlite();
    let server = TestServer::start_with(&db, |a| a.registration = RegistrationPolicy::Closed);
    let res = server.post_json("/oauth2/register", &service()).await;
    let closed = refused(
        "access_denied",
        "dynamic client registration is closed on this server",
    );
    assert_eq!(refusal(res).await, (403, closed, None, no_cache));
}
