//! Browser clients on other origins (SPAs, the MCP Inspector): the public OAuth endpoints
//! answer their preflights and let them read the answers, with any origin and never with
//! credentials; nothing else does. Tried with raw requests and from a page of another origin in
//! Chromium, whose CORS checks are the real ones.

use serde_json::json;

use crate::browser::Browser;
use crate::common::*;

const ORIGIN: &str = "https://inspector.example";

async fn preflight(server: &TestServer, path: &str, method: &str) -> reqwest::Response {
    server
        .http
        .request(reqwest::Method::OPTIONS, server.url(path))
        .header("origin", ORIGIN)
        .header("access-control-request-method", method)
        .header(
            "access-control-request-headers",
            "content-type, mcp-protocol-version, dpop",
        )
        .send()
        .await
        .expect("preflight")
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    res.headers().get(name).and_then(|v| v.to_str().ok())
}

#[actix_web::test]
async fn public_oauth_endpoints_answer_preflights_from_any_origin_without_credentials() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    for (path, method) in [
        ("/.well-known/openid-configuration", "GET"),
        ("/.well-known/oauth-authorization-server", "GET"),
        ("/jwks.json", "GET"),
        ("/oauth2/register", "POST"),
        ("/oauth2/token", "POST"),
        ("/oauth2/revoke", "POST"),
        ("/oauth2/device_authorization", "POST"),
        ("/oauth2/userinfo", "GET"),
    ] {
        let res = preflight(&server, path, method).await;
        assert_eq!(res.status(), 204, "{path}");
        assert_eq!(
            header(&res, "access-control-allow-origin"),
            Some("*"),
            "{path}"
        );
        assert!(
            header(&res, "access-control-allow-methods").is_some_and(|m| m.contains(method)),
            "{path}"
        );
        let allowed = header(&res, "access-control-allow-headers")
            .unwrap_or_default()
            .to_ascii_lowercase();
        for h in [
            "content-type",
            "authorization",
            "mcp-protocol-version",
            "dpop",
        ] {
            assert!(allowed.contains(h), "{path} allows {h}: {allowed}");
        }
        assert!(
            header(&res, "access-control-allow-credentials").is_none(),
            "{path}: never with credentials"
        );
    }

    // An answer to a browser request is readable by its origin, and says so without
    // credentials.
    let res = server
        .http
        .post(server.url("/oauth2/token"))
        .header("origin", ORIGIN)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "nobody"),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(res.status(), 401);
    assert_eq!(header(&res, "access-control-allow-origin"), Some("*"));
    assert!(
        header(&res, "access-control-expose-headers")
            .is_some_and(|h| h.contains("WWW-Authenticate"))
    );
    assert!(header(&res, "access-control-allow-credentials").is_none());
}

/// A page of another origin must not read the user's pages, the JSON API, introspection or
/// the console with the browser's help.
#[actix_web::test]
async fn attack_cross_origin_reads_of_pages_and_the_api_get_no_cors_grant() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    for (path, method) in [
        ("/login", "POST"),
        ("/consent", "POST"),
        ("/device", "POST"),
        ("/account", "GET"),
        ("/admin", "GET"),
        ("/oauth2/authorize", "GET"),
        ("/oauth2/introspect", "POST"),
        ("/api/v1/me", "GET"),
        ("/api/v1/auth/login", "POST"),
    ] {
        let res = preflight(&server, path, method).await;
        assert!(
            header(&res, "access-control-allow-origin").is_none(),
            "{path} answered a preflight with a grant"
        );
        let res = server
            .http
            .get(server.url(path))
            .header("origin", ORIGIN)
            .send()
            .await
            .expect("get");
        assert!(
            header(&res, "access-control-allow-origin").is_none(),
            "{path} is readable by another origin"
        );
    }
}

/// Chromium, on a page of another origin, reads discovery, registers a public client and
/// sends a token request with `MCP-Protocol-Version` (which needs a preflight); it cannot read
/// the JSON API.
#[actix_web::test]
async fn a_browser_client_on_another_origin_reaches_the_public_endpoints_in_chromium() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let browser = Browser::start().await;
    // Another origin on the same machine: `localhost` instead of `127.0.0.1` (a page on the
    // public internet calling a loopback server would meet Chromium's local-network rules
    // first). The JWKS is a document without a CSP of its own, so the test's script may fetch.
    let other_origin = server.url("/jwks.json").replace("127.0.0.1", "localhost");
    assert_ne!(
        other_origin,
        server.url("/jwks.json"),
        "the server is on 127.0.0.1"
    );
    browser.goto(&other_origin).await;
    let script = r#"
        const [base, done] = arguments;
        const read = async (path, init) => {
            try {
                const res = await fetch(base + path, init);
                return { status: res.status, body: await res.json() };
            } catch (e) {
                return { blocked: String(e) };
            }
        };
        (async () => {
            const discovery = await read('/.well-known/openid-configuration', {
                headers: { 'MCP-Protocol-Version': '2025-06-18' },
            });
            const registered = await read('/oauth2/register', {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify({
                    client_name: 'Inspector',
                    redirect_uris: ['http://127.0.0.1:6274/oauth/callback'],
                    token_endpoint_auth_method: 'none',
                }),
            });
            const token = await read('/oauth2/token', {
                method: 'POST',
                headers: {
                    'content-type': 'application/x-www-form-urlencoded',
                    'MCP-Protocol-Version': '2025-06-18',
                },
                body: 'grant_type=authorization_code&code=nope&code_verifier=x&client_id='
                    + encodeURIComponent(registered.body ? registered.body.client_id : ''),
            });
            const api = await read('/api/v1/me', {});
            done({ discovery, registered, token, api });
        })();
    "#;
    let out = browser
        .execute_async(script, vec![json!(server.url(""))])
        .await;
    assert_eq!(out["discovery"]["status"], 200, "{out}");
    assert_eq!(
        out["discovery"]["body"]["issuer"],
        server.url("").trim_end_matches('/'),
        "{out}"
    );
    assert_eq!(out["registered"]["status"], 201, "{out}");
    assert!(out["registered"]["body"]["client_id"].is_string(), "{out}");
    assert_eq!(out["token"]["status"], 400, "{out}");
    assert_eq!(out["token"]["body"]["error"], "invalid_grant", "{out}");
    assert!(
        out["api"]["blocked"].is_string(),
        "the JSON API must not be readable from another origin: {out}"
    );
}
