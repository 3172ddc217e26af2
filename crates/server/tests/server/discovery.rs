//! `GET /.well-known/oauth-authorization-server` (RFC 8414) and `GET /jwks.json`.

use crate::common::*;

on_both_backends! {
    async fn metadata_lists_what_exists(db) {
        let server = TestServer::start(&db);
        let res = server.get("/.well-known/oauth-authorization-server").await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["access-control-allow-origin"], "*");
        let m = json_of(res).await;
        assert_eq!(m["issuer"], server.base.as_str());
        for (field, path) in [
            ("token_endpoint", "/oauth2/token"),
            ("jwks_uri", "/jwks.json"),
            ("registration_endpoint", "/oauth2/register"),
            ("introspection_endpoint", "/oauth2/introspect"),
            ("revocation_endpoint", "/oauth2/revoke"),
            ("device_authorization_endpoint", "/oauth2/device_authorization"),
            ("pushed_authorization_request_endpoint", "/oauth2/par"),
        ] {
            assert_eq!(m[field], server.url(path), "{field}");
            // Each advertised endpoint exists (a GET may be refused, but never 404).
            assert_ne!(server.get(path).await.status(), 404, "{path}");
        }
        assert_eq!(
            m["grant_types_supported"],
            serde_json::json!([
                "authorization_code",
                "refresh_token",
                "client_credentials",
                "urn:ietf:params:oauth:grant-type:device_code",
                "urn:ietf:params:oauth:grant-type:token-exchange"
            ])
        );
        assert_eq!(
            m["token_endpoint_auth_methods_supported"],
            serde_json::json!(["client_secret_basic", "client_secret_post", "none", "private_key_jwt", "client_secret_jwt"])
        );
        assert_eq!(
            m["introspection_endpoint_auth_methods_supported"],
            serde_json::json!(["client_secret_basic", "client_secret_post", "private_key_jwt", "client_secret_jwt"])
        );
        assert_eq!(m["revocation_endpoint_auth_methods_supported"], m["token_endpoint_auth_methods_supported"]);
        for field in [
            "token_endpoint_auth_signing_alg_values_supported",
            "introspection_endpoint_auth_signing_alg_values_supported",
            "revocation_endpoint_auth_signing_alg_values_supported",
        ] {
            assert_eq!(
                m[field],
                serde_json::json!(["RS256", "PS256", "ES256", "EdDSA", "HS256", "HS384", "HS512"]),
                "{field}"
            );
        }
        // Without encryption keys, client_secret_jwt cannot be registered: not advertised.
        // (A database of its own: the first server sealed its signing keys under its keys.)
        let keyless_db = TestDb::new(db.backend());
        let keyless = TestServer::start_with(&keyless_db, |s| s.encryption_keys = None);
        let m = json_of(keyless.get("/.well-known/openid-configuration").await).await;
        assert_eq!(
            m["token_endpoint_auth_methods_supported"],
            serde_json::json!(["client_secret_basic", "client_secret_post", "none", "private_key_jwt"])
        );
        assert_eq!(
            m["token_endpoint_auth_signing_alg_values_supported"],
            serde_json::json!(["RS256", "PS256", "ES256", "EdDSA"])
        );
        assert_eq!(m["require_pushed_authorization_requests"], false);
        assert!(m["scopes_supported"].as_array().is_some_and(|s| s.iter().any(|x| x == "orders:read")));
        // RFC 9449 §5.1: the asymmetric algorithms DPoP proofs may use, never none or HMAC.
        assert_eq!(
            m["dpop_signing_alg_values_supported"],
            serde_json::json!(["ES256", "RS256", "PS256", "EdDSA"])
        );
        // Back-Channel Logout 1.0 §2.1, with `sid` in logout tokens.
        assert_eq!(m["backchannel_logout_supported"], true);
        assert_eq!(m["backchannel_logout_session_supported"], true);
        for (_, v) in m.as_object().expect("object") {
            assert!(!v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()), "no empty values: {m}");
        }
    }

    async fn the_jwks_publishes_a_key_per_algorithm(db) {
        let server = TestServer::start(&db);
        let res = server.get("/jwks.json").await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["access-control-allow-origin"], "*");
        let set: jsonwebtoken::jwk::JwkSet = res.json().await.expect("a JWK set");
        let mut algs: Vec<String> = set.keys.iter().map(|k| format!("{:?}", k.common.key_algorithm)).collect();
        algs.sort();
        assert_eq!(algs, ["Some(ES256)", "Some(EdDSA)", "Some(RS256)"]);
        assert!(set.keys.iter().all(|k| k.common.key_id.is_some()));
    }
}

#[actix_web::test]
async fn an_issuer_with_a_path_gets_its_metadata_under_the_suffix() {
    let db = TestDb::sqlite();
    let server = TestServer::start_with(&db, |a| {
        let issuer = format!("{}/tenant-a", a.issuer_str());
        a.set_issuer(url::Url::parse(&issuer).expect("issuer"));
    });
    let res = server
        .get("/.well-known/oauth-authorization-server/tenant-a")
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        json_of(res).await["issuer"],
        format!("{}/tenant-a", server.base)
    );
    assert_eq!(
        server
            .get("/.well-known/oauth-authorization-server/other")
            .await
            .status(),
        404
    );
    // Every form MCP clients probe answers the same document: RFC 8414 path-inserted (above),
    // OpenID Connect path-inserted and path-appended.
    for path in [
        "/.well-known/openid-configuration/tenant-a",
        "/tenant-a/.well-known/openid-configuration",
    ] {
        let res = server.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(
            json_of(res).await["issuer"],
            format!("{}/tenant-a", server.base),
            "{path}"
        );
    }
    for path in [
        "/.well-known/openid-configuration/other",
        "/other/.well-known/openid-configuration",
    ] {
        assert_eq!(server.get(path).await.status(), 404, "{path}");
    }
}
