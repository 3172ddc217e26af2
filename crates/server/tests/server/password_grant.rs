//! The legacy password grant: off by default; when enabled, only for clients that registered
//! it, at `/oauth2/token` and at `/Token`, throttled like sign-in.

use serde_json::json;

use crate::api_auth::signup;
use crate::common::*;

pub(crate) async fn legacy_client(server: &TestServer) -> (String, String) {
    let res = server
        .post_json(
            "/oauth2/register",
            &json!({ "grant_types": ["password", "refresh_token"], "scope": "openid email" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body = json_of(res).await;
    (
        body["client_id"].as_str().expect("id").to_owned(),
        body["client_secret"].as_str().expect("secret").to_owned(),
    )
}

on_both_backends! {
    async fn the_password_grant_is_off_unless_enabled(db) {
        let server = TestServer::start(&db);
        let res = server.post_json("/oauth2/register", &json!({ "grant_types": ["password"] })).await;
        assert_eq!(res.status(), 400);
        assert_eq!(json_of(res).await["error"], "invalid_client_metadata");
        let (id, secret) = crate::token::service_client(&server, "client_secret_basic").await;
        let res = server.post_form("/oauth2/token", Some((&id, &secret)), &[("grant_type", "password"), ("username", "a@b.c"), ("password", "whatever1")]).await;
        assert_eq!(res.status(), 400);
        assert_eq!(json_of(res).await["error"], "unsupported_grant_type");
    }

    async fn enabled_it_serves_registered_clients_at_both_paths(db) {
        let server = TestServer::start_with(&db, |a| a.password_grant = true);
        signup(&server, "legacy@example.com", "Legacy").await;
        let (id, secret) = legacy_client(&server).await;
        for (path, user_field) in [("/oauth2/token", "username"), ("/Token", "userName")] {
            let res = server.post_form(path, Some((&id, &secret)), &[("grant_type", "password"), (user_field, "legacy@example.com"), ("password", "correct horse")]).await;
            assert_eq!(res.status(), 200, "{path}");
            let body = json_of(res).await;
            assert!(body["access_token"].is_string() && body["refresh_token"].is_string() && body["id_token"].is_string());
            assert_eq!(body["scope"], "openid email");
        }
        // Only the password grant is answered at /Token.
        let res = server.post_form("/Token", Some((&id, &secret)), &[("grant_type", "client_credentials")]).await;
        assert_eq!(json_of(res).await["error"], "unsupported_grant_type");
        // A client that did not register it.
        let (other, other_secret) = crate::token::service_client(&server, "client_secret_basic").await;
        let res = server.post_form("/oauth2/token", Some((&other, &other_secret)), &[("grant_type", "password"), ("username", "legacy@example.com"), ("password", "correct horse")]).await;
        assert_eq!(json_of(res).await["error"], "unauthorized_client");
        // Wrong passwords: invalid_grant, then a back-off answered 429 with Retry-After.
        for _ in 0..5 {
            let res = server.post_form("/oauth2/token", Some((&id, &secret)), &[("grant_type", "password"), ("username", "legacy@example.com"), ("password", "wrong horse")]).await;
            assert_eq!(json_of(res).await["error"], "invalid_grant");
        }
        let res = server.post_form("/oauth2/token", Some((&id, &secret)), &[("grant_type", "password"), ("username", "legacy@example.com"), ("password", "correct horse")]).await;
        assert_eq!(res.status(), 429);
        assert!(res.headers().contains_key("retry-after"));
    }

    async fn attack_password_grant_skips_the_consent_page_for_api_scopes(db) {
        // A third-party client with the password grant would get the JSON API's scopes
        // without the consent page; only the authorization code flow asks the user.
        let server = TestServer::start_with(&db, |a| {
            a.password_grant = true;
            a.scopes = scopes("openid email api-keys:write");
        });
        signup(&server, "legacy@example.com", "Legacy").await;
        let res = server
            .post_json(
                "/oauth2/register",
                &json!({ "grant_types": ["password"], "scope": "openid api-keys:write" }),
            )
            .await;
        assert_eq!(res.status(), 201);
        let body = json_of(res).await;
        let (id, secret) = (body["client_id"].as_str().expect("id"), body["client_secret"].as_str().expect("secret"));
        for scope in [None, Some("openid api-keys:write")] {
            let mut form = vec![("grant_type", "password"), ("username", "legacy@example.com"), ("password", "correct horse")];
            if let Some(scope) = scope {
                form.push(("scope", scope));
            }
            let res = server.post_form("/oauth2/token", Some((id, secret)), &form).await;
            assert_eq!(res.status(), 400, "{scope:?}");
            assert_eq!(json_of(res).await["error"], "invalid_scope");
        }
        // Identity alone is still fine.
        let res = server.post_form("/oauth2/token", Some((id, secret)), &[("grant_type", "password"), ("username", "legacy@example.com"), ("password", "correct horse"), ("scope", "openid")]).await;
        assert_eq!(res.status(), 200);
    }
}
