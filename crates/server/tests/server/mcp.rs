//! The official Rust MCP SDK (`rmcp`, its OAuth client) against a small MCP server that trusts
//! Portcullis, as an MCP client meets them in the field: the client calls the MCP server, gets a
//! 401 whose `WWW-Authenticate` names the protected-resource metadata (RFC 9728), finds
//! Portcullis there, registers itself, sends the user through Chromium to sign in and consent,
//! redeems the code for a token bound to the MCP server's URI (RFC 8707), calls a tool with it,
//! and refreshes.
//!
//! The MCP server is written here (streamable HTTP, JSON answers, the `initialize` handshake,
//! one tool). It checks tokens as a resource server should: signature by Portcullis's JWKS,
//! issuer, audience = its own URI, the `mcp:tools` scope.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use rmcp::ServiceExt as _;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::auth::{AuthClient, AuthorizationManager, AuthorizationRequest, OAuthState};
use rmcp::transport::streamable_http_client::{
    StreamableHttpClientTransport, StreamableHttpClientTransportConfig,
};
use serde_json::{Value, json};

use crate::authorize::dead_redirect_uri;
use crate::browser::Browser;
use crate::common::*;

/// The scope the MCP server asks for its tools.
const TOOLS: &str = "mcp:tools";

/// What the MCP server knows: its own URI, the issuer it trusts, and every token it accepted.
struct McpServer {
    resource: String,
    issuer: String,
    http: reqwest::Client,
    /// The claims of each token a tool call was made with.
    accepted: Mutex<Vec<Value>>,
}

impl McpServer {
    fn metadata_url(&self) -> String {
        // RFC 9728 §3.1: the well-known segment goes between the host and the resource's path.
        self.resource
            .replacen("/mcp", "/.well-known/oauth-protected-resource/mcp", 1)
    }

    fn challenge(&self, error: Option<&str>) -> String {
        let mut value = format!(
            r#"Bearer resource_metadata="{}", scope="{TOOLS}""#,
            self.metadata_url()
        );
        if let Some(error) = error {
            value.push_str(&format!(r#", error="{error}""#));
        }
        value
    }

    /// The bearer token's claims, if Portcullis signed it for this server with `mcp:tools`.
    async fn verify(&self, req: &HttpRequest) -> Result<Value, HttpResponse> {
        let unauthorized = |error: Option<&str>| {
            HttpResponse::Unauthorized()
                .insert_header(("WWW-Authenticate", self.challenge(error)))
                .finish()
        };
        let Some(token) = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return Err(unauthorized(None));
        };
        let header = decode_header(token).map_err(|_| unauthorized(Some("invalid_token")))?;
        let jwks: jsonwebtoken::jwk::JwkSet = self
            .http
            .get(format!("{}/jwks.json", self.issuer))
            .send()
            .await
            .expect("JWKS")
            .json()
            .await
            .expect("a JWK set");
        let jwk = header
            .kid
            .as_deref()
            .and_then(|kid| jwks.find(kid))
            .ok_or_else(|| unauthorized(Some("invalid_token")))?;
        let key = DecodingKey::from_jwk(jwk).expect("a usable key");
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&[&self.resource]);
        validation.set_issuer(&[&self.issuer]);
        let claims = decode::<Value>(token, &key, &validation)
            .map_err(|_| unauthorized(Some("invalid_token")))?
            .claims;
        let scopes = claims["scope"].as_str().unwrap_or_default();
        if !scopes.split(' ').any(|s| s == TOOLS) {
            return Err(HttpResponse::Forbidden()
                .insert_header((
                    "WWW-Authenticate",
                    format!(r#"Bearer error="insufficient_scope", scope="{TOOLS}""#),
                ))
                .finish());
        }
        Ok(claims)
    }
}

async fn protected_resource_metadata(server: web::Data<McpServer>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "resource": server.resource,
        "authorization_servers": [server.issuer],
        "scopes_supported": [TOOLS],
        "bearer_methods_supported": ["header"],
        "resource_name": "Notes MCP server",
    }))
}

/// One JSON-RPC message of the streamable HTTP transport, answered with JSON.
async fn mcp_post(
    server: web::Data<McpServer>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> HttpResponse {
    let claims = match server.verify(&req).await {
        Ok(claims) => claims,
        Err(refused) => return refused,
    };
    let message = body.into_inner();
    let Some(id) = message.get("id").cloned() else {
        // A notification (`notifications/initialized`): accepted, no answer.
        return HttpResponse::Accepted().finish();
    };
    let result = match message["method"].as_str() {
        Some("initialize") => json!({
            "protocolVersion": message["params"]["protocolVersion"],
            "capabilities": { "tools": {} },
            "serverInfo": { "name": "notes-mcp", "version": "1.0.0" },
        }),
        Some("tools/list") => json!({
            "tools": [{
                "name": "whoami",
                "description": "Who the token was issued to.",
                "inputSchema": { "type": "object", "properties": {} },
            }],
        }),
        Some("tools/call") if message["params"]["name"] == "whoami" => {
            server.accepted.lock().expect("lock").push(claims.clone());
            json!({
                "content": [{ "type": "text", "text": claims["sub"].as_str().unwrap_or_default() }],
                "isError": false,
            })
        }
        _ => {
            return HttpResponse::Ok().json(json!({
                "jsonrpc": "2.0",
                "id": id,
                "error": { "code": -32601, "message": "method not found" },
            }));
        }
    };
    HttpResponse::Ok().json(json!({ "jsonrpc": "2.0", "id": id, "result": result }))
}

/// The MCP server on a free port; its URI is `http://127.0.0.1:PORT/mcp`.
fn start_mcp_server(issuer: &str) -> Arc<McpServer> {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let state = web::Data::new(McpServer {
        resource: format!("http://127.0.0.1:{port}/mcp"),
        issuer: issuer.trim_end_matches('/').to_owned(),
        http: reqwest::Client::new(),
        accepted: Mutex::new(Vec::new()),
    });
    let shared = state.clone().into_inner();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route(
                "/.well-known/oauth-protected-resource/mcp",
                web::get().to(protected_resource_metadata),
            )
            .route("/mcp", web::post().to(mcp_post))
            // No server-initiated stream: the transport allows a 405 here.
            .route("/mcp", web::get().to(HttpResponse::MethodNotAllowed))
            .route("/mcp", web::delete().to(HttpResponse::MethodNotAllowed))
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    actix_web::rt::spawn(server);
    shared
}

/// Signs a new user up in the browser from the authorization URL, allows the client, and
/// returns the redirect the browser lands on.
async fn sign_in_and_allow(
    browser: &Browser,
    auth_url: &str,
    redirect_uri: &str,
    email: &str,
) -> String {
    browser.goto(auth_url).await;
    browser.click("a[href^='/signup']").await;
    browser.type_into("#name", "Ada Lovelace").await;
    browser.type_into("#email", email).await;
    browser.type_into("#password", "analytical-1843").await;
    browser.click("button[type=submit]").await;
    let consent = browser.wait_for_text("Allow").await;
    assert!(consent.contains("MCP"), "the client's name: {consent}");
    browser.click("button[value=allow]").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let url = browser.url().await;
        if url.starts_with(redirect_uri) {
            return url;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not redirected: {url}"
        );
    }
}

/// From a 401 alone to a tool call and a refresh, by dynamic client registration.
#[actix_web::test]
async fn the_rmcp_client_finds_portcullis_from_a_401_registers_signs_in_calls_a_tool_and_refreshes()
{
    let db = TestDb::sqlite();
    let server = TestServer::start_with(&db, |s| s.scopes.push(TOOLS.into()));
    let mcp = start_mcp_server(&server.base);

    // The client knows only the MCP server's URI; its first call gets the challenge.
    let first = reqwest::Client::new()
        .post(&mcp.resource)
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" }))
        .send()
        .await
        .expect("MCP server");
    assert_eq!(first.status(), 401);
    let challenge = first
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .expect("a challenge")
        .to_owned();

    let redirect_uri = dead_redirect_uri();
    let manager = AuthorizationManager::new_allowing_private_addresses(mcp.resource.as_str())
        .await
        .expect("manager");
    let mut state = OAuthState::Unauthorized(manager);
    state
        .start_authorization(
            AuthorizationRequest::new(redirect_uri.clone())
                .with_client_name("Notes MCP client")
                .with_challenge(challenge),
        )
        .await
        .expect("discovery from the challenge, and registration");
    let auth_url = state
        .get_authorization_url()
        .await
        .expect("authorization URL");
    assert!(
        auth_url.starts_with(&server.url("/oauth2/authorize")),
        "found Portcullis through the resource's metadata: {auth_url}"
    );

    let browser = Browser::start().await;
    let back = sign_in_and_allow(&browser, &auth_url, &redirect_uri, "ada@example.com").await;
    state
        .handle_callback_url(&back)
        .await
        .expect("code redeemed (state, iss and PKCE checked by the SDK)");
    let (client_id, credentials) = state.get_credentials().await.expect("credentials");
    let credentials = credentials.expect("a token");
    assert!(!client_id.is_empty());
    use oauth2::TokenResponse as _;
    assert!(
        credentials.refresh_token().is_some(),
        "a refresh token (the SDK asked offline_access)"
    );
    let manager = state
        .into_authorization_manager()
        .expect("an authorized manager");

    let auth_client = AuthClient::new(reqwest13::Client::new(), manager);
    let transport = StreamableHttpClientTransport::with_client(
        auth_client.clone(),
        StreamableHttpClientTransportConfig::with_uri(mcp.resource.as_str()),
    );
    let session = ().serve(transport).await.expect("MCP session");
    let tools = session.list_tools(None).await.expect("tools");
    assert_eq!(tools.tools.len(), 1);
    assert_eq!(tools.tools[0].name, "whoami");
    let called = session
        .call_tool(CallToolRequestParams::new("whoami"))
        .await
        .expect("tool call");
    assert_eq!(called.is_error, Some(false));

    let claims = mcp
        .accepted
        .lock()
        .expect("lock")
        .last()
        .cloned()
        .expect("a call");
    assert_eq!(
        claims["aud"],
        json!(mcp.resource),
        "RFC 8707: bound to the MCP server only"
    );
    assert_eq!(claims["client_id"], json!(client_id));
    let subject = claims["sub"].as_str().expect("sub").to_owned();

    // Refresh: a new access token, still for the MCP server (not the issuer), still usable.
    let before = auth_client.get_access_token().await.expect("token");
    auth_client
        .auth_manager
        .lock()
        .await
        .refresh_token()
        .await
        .expect("refresh");
    let after = auth_client.get_access_token().await.expect("token");
    assert_ne!(before, after, "a new access token");
    session
        .call_tool(CallToolRequestParams::new("whoami"))
        .await
        .expect("tool call with the refreshed token");
    let claims = mcp
        .accepted
        .lock()
        .expect("lock")
        .last()
        .cloned()
        .expect("a call");
    assert_eq!(
        claims["aud"],
        json!(mcp.resource),
        "the refresh kept the audience"
    );
    assert_eq!(claims["sub"], json!(subject));
    assert_eq!(mcp.accepted.lock().expect("lock").len(), 2);
    session.cancel().await.expect("closed");
}

/// The official MCP TypeScript SDK's client (`tests/mcp-ts/client.mjs`, installed by
/// `scripts/mcp-ts`), run by Node.js: lines of JSON out, the browser's return URL in.
struct TsClient {
    child: std::process::Child,
    lines: tokio::sync::mpsc::UnboundedReceiver<Value>,
}

impl TsClient {
    fn start(mcp_url: &str, redirect_uri: &str) -> Self {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp-ts");
        assert!(
            dir.join("node_modules/@modelcontextprotocol/sdk").is_dir(),
            "the MCP TypeScript SDK is not installed: run scripts/mcp-ts (scripts/test does)"
        );
        let mut child = std::process::Command::new("node")
            .arg("client.mjs")
            .arg(mcp_url)
            .arg(redirect_uri)
            .current_dir(&dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("node (scripts/deps installs it)");
        let stdout = child.stdout.take().expect("stdout");
        let (send, lines) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let value = serde_json::from_str(&line).unwrap_or(Value::String(line));
                if send.send(value).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The client's next line; fails on its error report or after 30 s.
    async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(std::time::Duration::from_secs(30), self.lines.recv())
            .await
            .expect("the TypeScript client answers within 30 s")
            .expect("the TypeScript client ended without a word");
        assert!(line.get("error").is_none(), "TypeScript client: {line}");
        line
    }

    fn send(&mut self, line: &str) {
        use std::io::Write as _;
        let stdin = self.child.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{line}").expect("write to the client");
    }
}

impl Drop for TsClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The TypeScript SDK registers without `scope` (as MCP clients do), asks for the scope the
/// resource advertises, binds its token to the MCP server, calls a tool, and refreshes.
#[actix_web::test]
async fn the_mcp_typescript_sdk_client_registers_without_scope_signs_in_calls_a_tool_and_refreshes()
{
    let db = TestDb::sqlite();
    let server = TestServer::start_with(&db, |s| s.scopes.push(TOOLS.into()));
    let mcp = start_mcp_server(&server.base);
    let redirect_uri = dead_redirect_uri();
    let mut client = TsClient::start(&mcp.resource, &redirect_uri);

    let auth_url = client.next().await["authorize"]
        .as_str()
        .expect("the SDK sends the user to sign in")
        .to_owned();
    assert!(
        auth_url.starts_with(&server.url("/oauth2/authorize")),
        "found Portcullis through the resource's metadata: {auth_url}"
    );
    let browser = Browser::start().await;
    let back = sign_in_and_allow(&browser, &auth_url, &redirect_uri, "ts@example.com").await;
    client.send(&back);
    let report = client.next().await;
    assert_eq!(report["tools"], json!(["whoami"]), "{report}");
    assert_eq!(
        report["refreshed"], "AUTHORIZED",
        "refreshed without the browser: {report}"
    );
    assert_eq!(report["newToken"], true, "{report}");
    assert_eq!(report["called"], report["again"], "{report}");

    let accepted = mcp.accepted.lock().expect("lock").clone();
    assert_eq!(accepted.len(), 2, "two tool calls");
    for claims in &accepted {
        assert_eq!(claims["aud"], json!(mcp.resource), "RFC 8707: {claims}");
        assert_eq!(claims["client_id"], report["clientId"], "{claims}");
        assert_eq!(claims["sub"], report["called"], "{claims}");
    }
}
