//! Native apps (RFC 8252): a response sent to a loopback or private-use-scheme redirect URI can
//! be received by any app on the device that listens there or claims the scheme, so the client
//! named in the request is not assured (§8.6). Such requests are never approved silently: the
//! consent page every time, `prompt=none` answers `consent_required`. Clients registering only
//! such URIs are native (any loopback port, §7.3); web clients may not register them.

use serde_json::{Value, json};
use url::Url;

use crate::authorize_errors::{
    REDIRECT, VERIFIER, authorize, challenge, decide, error_page, id, setup,
};
use crate::common::*;

/// Registers a public client with these redirect URIs and no `application_type`, as MCP and
/// command-line clients do.
async fn register(server: &TestServer, redirect_uris: Value) -> Value {
    let res = server
        .post_json(
            "/oauth2/register",
            &json!({
                "client_name": "Some CLI",
                "token_endpoint_auth_method": "none",
                "redirect_uris": redirect_uris,
                "scope": "openid",
            }),
        )
        .await;
    assert_eq!(res.status(), 201);
    json_of(res).await
}

/// The parameters of a redirect to `prefix`.
fn back_at(res: &reqwest::Response, prefix: &str) -> Vec<(String, String)> {
    assert_eq!(res.status(), 303, "a redirect to the app");
    let location = res.headers()["location"].to_str().expect("ascii");
    assert!(location.starts_with(prefix), "{location}");
    Url::parse(location)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect()
}

fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

on_both_backends! {
    async fn attack_an_app_on_the_device_claiming_a_native_clients_redirect_never_gets_a_silent_code(db) {
        let s = setup(&db).await;
        let ch = challenge(VERIFIER);
        for (registered, used) in [
            ("http://127.0.0.1/cb", "http://127.0.0.1:50111/cb"),
            ("com.example.cli:/cb", "com.example.cli:/cb"),
        ] {
            let app = register(&s.server, json!([registered])).await;
            assert_eq!(app["application_type"], "native", "{registered}");
            let params = |extra: Option<(&'static str, &'static str)>| {
                let mut p = vec![
                    ("response_type", "code"),
                    ("client_id", id(&app)),
                    ("redirect_uri", used),
                    ("scope", "openid"),
                    ("state", "n1"),
                    ("code_challenge", ch.as_str()),
                    ("code_challenge_method", "S256"),
                ];
                p.extend(extra);
                p
            };
            // The user allows once: a code.
            let res = decide(&s.server, &s.http, authorize(&s.server, &s.http, &params(None)).await, "allow").await;
            assert!(get(&back_at(&res, used), "code").is_some(), "{registered}");
            // The same request again (by the app, or by another app using its client_id):
            // asked again, the remembered consent does not apply.
            let res = authorize(&s.server, &s.http, &params(None)).await;
            assert_eq!(res.status(), 200, "{registered}");
            let html = res.text().await.expect("html");
            assert!(html.contains("Allow") && html.contains("Deny"), "{registered}: {html}");
            // prompt=none cannot be answered without the user: consent_required, with iss and
            // state, at the redirect URI.
            let res = authorize(&s.server, &s.http, &params(Some(("prompt", "none")))).await;
            let got = back_at(&res, used);
            assert_eq!(get(&got, "error"), Some("consent_required"), "{registered}");
            assert_eq!(get(&got, "state"), Some("n1"));
            assert_eq!(get(&got, "iss"), Some(s.server.base.as_str()));
            assert!(get(&got, "code").is_none());
        }
        // Control: a web client's remembered consent still applies (prompt=none gets a code).
        let web = [
            ("response_type", "code"),
            ("client_id", id(&s.confidential)),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
        ];
        let res = decide(&s.server, &s.http, authorize(&s.server, &s.http, &web).await, "allow").await;
        assert!(get(&back_at(&res, REDIRECT), "code").is_some());
        let mut silent = web.to_vec();
        silent.push(("prompt", "none"));
        assert!(get(&back_at(&authorize(&s.server, &s.http, &silent).await, REDIRECT), "code").is_some());
        // First-party clients of the operator are excepted, loopback or not.
        let first_party = {
            let mut conn = db.store().conn().expect("conn");
            let policy = registration::Policy {
                known_scopes: vec!["openid".into()],
                default_code_scopes: vec!["openid".into()],
                id_token_algs: vec!["RS256".into()],
                allow_password_grant: false,
                backchannel_logout_loopback: false,
            };
            let meta = registration::parse_metadata(
                &json!({ "redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none" }),
                &policy,
            )
            .expect("meta");
            registration::register_client_with(&mut conn, meta, false, true, s.server.clock_now())
                .expect("register")
                .client
                .id
        };
        let res = authorize(&s.server, &s.http, &[
            ("response_type", "code"),
            ("client_id", &first_party),
            ("redirect_uri", "http://127.0.0.1:50112/cb"),
            ("scope", "openid"),
            ("prompt", "none"),
            ("code_challenge", &ch),
            ("code_challenge_method", "S256"),
        ]).await;
        assert!(get(&back_at(&res, "http://127.0.0.1:50112/cb"), "code").is_some());
    }

    async fn rfc8252_7_3_a_client_registering_only_loopback_uris_is_native_and_any_port_works(db) {
        let s = setup(&db).await;
        let app = register(&s.server, json!(["http://127.0.0.1/callback", "http://[::1]/callback"])).await;
        assert_eq!(app["application_type"], "native");
        let ch = challenge(VERIFIER);
        for uri in ["http://127.0.0.1:49152/callback", "http://127.0.0.1:65000/callback", "http://[::1]:8080/callback"] {
            let res = authorize(&s.server, &s.http, &[
                ("response_type", "code"),
                ("client_id", id(&app)),
                ("redirect_uri", uri),
                ("scope", "openid"),
                ("code_challenge", &ch),
                ("code_challenge_method", "S256"),
            ]).await;
            assert_eq!(res.status(), 200, "the consent page for {uri}");
        }
        // Only the port varies: another path is not registered.
        let res = authorize(&s.server, &s.http, &[
            ("response_type", "code"),
            ("client_id", id(&app)),
            ("redirect_uri", "http://127.0.0.1:49152/other"),
            ("scope", "openid"),
        ]).await;
        error_page(res).await;
    }

    async fn rfc7591_3_2_2_a_web_client_cannot_register_loopback_or_http_redirect_uris(db) {
        let server = TestServer::start(&db);
        for body in [
            json!({ "application_type": "web", "redirect_uris": ["http://127.0.0.1:3000/cb"] }),
            json!({ "application_type": "web", "redirect_uris": ["http://localhost/cb"] }),
            json!({ "application_type": "web", "redirect_uris": ["http://app.example/cb"] }),
            json!({ "redirect_uris": ["https://app.example/cb", "http://127.0.0.1/cb"] }),
            json!({ "redirect_uris": ["http://app.example/cb"] }),
        ] {
            let res = server.post_json("/oauth2/register", &body).await;
            assert_eq!(res.status(), 400, "{body}");
            assert_eq!(json_of(res).await["error"], "invalid_redirect_uri", "{body}");
        }
        let res = server.post_json("/oauth2/register", &json!({ "redirect_uris": ["https://app.example/cb"] })).await;
        assert_eq!(json_of(res).await["application_type"], "web");
    }

    async fn oidc_core_3_1_2_1_an_openid_request_without_redirect_uri_is_a_page(db) {
        let s = setup(&db).await;
        // The client registered one redirect URI, but an OpenID Connect request must name it.
        for scope in ["openid", "openid email"] {
            let res = authorize(&s.server, &s.http, &[
                ("response_type", "code"),
                ("client_id", id(&s.confidential)),
                ("scope", scope),
                ("state", "x"),
            ]).await;
            assert_eq!(res.status(), 400, "{scope}");
            assert!(res.headers().get("location").is_none());
            assert!(res.text().await.expect("html").contains("redirect_uri"));
        }
        // A plain OAuth request may leave it out: the one registered URI is used.
        let res = authorize(&s.server, &s.http, &[
            ("response_type", "code"),
            ("client_id", id(&s.confidential)),
            ("scope", "email"),
        ]).await;
        assert_eq!(res.status(), 200, "the consent page");
    }
}
