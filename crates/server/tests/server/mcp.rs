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
    /// The last consent page the user saw on the way to this server (kept by the test).
    consent: Mutex<String>,
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
        consent: Mutex::new(String::new()),
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

/// The operator registers the MCP server as a protected resource (as `portcullis resource add`
/// does), with its scope and the sentence consent shows for it.
fn register_mcp_server(db: &TestDb, mcp: &McpServer) {
    let mut conn = db.store().conn().expect("conn");
    let spec = grants::resources::ResourceSpec {
        uri: mcp.resource.clone(),
        name: "Notes MCP server".into(),
        scopes: vec![grants::resources::ResourceScope {
            name: TOOLS.into(),
            description: "Use your notes through the MCP tools".into(),
        }],
        access_token_ttl: None,
    };
    grants::resources::add_resource(&mut conn, &spec, 1).expect("resource");
}

/// Signs a new user up in the browser from the authorization URL, allows the client, and
/// returns the redirect the browser lands on.
async fn sign_in_and_allow(
    browser: &Browser,
    auth_url: &str,
    redirect_uri: &str,
    email: &str,
    consent_seen: &Mutex<String>,
) -> String {
    browser.goto(auth_url).await;
    // The sign-in page (an error page here would be printed whole).
    browser.wait_for_text("href=\"/signup").await;
    browser.click("a[href^='/signup']").await;
    browser.type_into("#name", "Ada Lovelace").await;
    browser.type_into("#email", email).await;
    browser.type_into("#password", "analytical-1843").await;
    browser.click("button[type=submit]").await;
    let consent = browser.wait_for_text("Allow").await;
    assert!(
        consent.contains("MCP client"),
        "the client's name: {consent}"
    );
    assert!(
        consent.contains("Notes MCP server")
            && consent.contains("Use your notes through the MCP tools"),
        "the resource and its scope named: {consent}"
    );
    *consent_seen.lock().expect("lock") = consent;
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

/// The challenge of the MCP server's first answer to a client without a token.
async fn first_challenge(mcp: &McpServer) -> String {
    let first = reqwest::Client::new()
        .post(&mcp.resource)
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" }))
        .send()
        .await
        .expect("MCP server");
    assert_eq!(first.status(), 401);
    first
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .expect("a challenge")
        .to_owned()
}

/// Calls the `whoami` tool through the session; the claims of the token the MCP server
/// accepted for it, checked to be bound to that server alone (RFC 8707).
async fn call_whoami(
    session: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
    mcp: &McpServer,
) -> Value {
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
        "RFC 8707: for the MCP server only"
    );
    claims
}

/// The rmcp client from the MCP server's 401 to two tool calls around a refresh; `identify`
/// says how it makes itself known (registration or a metadata document). Returns its client
/// id as the tokens name it.
async fn rmcp_flow(
    server: &TestServer,
    mcp: &McpServer,
    redirect_uri: &str,
    email: &str,
    identify: impl FnOnce(AuthorizationRequest) -> AuthorizationRequest,
) -> String {
    // The client knows only the MCP server's URI; its first call gets the challenge.
    let challenge = first_challenge(mcp).await;
    let manager = AuthorizationManager::new_allowing_private_addresses(mcp.resource.as_str())
        .await
        .expect("manager");
    let mut state = OAuthState::Unauthorized(manager);
    state
        .start_authorization(identify(
            AuthorizationRequest::new(redirect_uri).with_challenge(challenge),
        ))
        .await
        .expect("discovery from the challenge, and the client made known");
    let auth_url = state
        .get_authorization_url()
        .await
        .expect("authorization URL");
    assert!(
        auth_url.starts_with(&server.url("/oauth2/authorize")),
        "found Portcullis through the resource's metadata: {auth_url}"
    );

    let browser = Browser::start().await;
    let back = sign_in_and_allow(&browser, &auth_url, redirect_uri, email, &mcp.consent).await;
    state
        .handle_callback_url(&back)
        .await
        .expect("code redeemed (state, iss and PKCE checked by the SDK)");
    let (client_id, credentials) = state.get_credentials().await.expect("credentials");
    let credentials = credentials.expect("a token");
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
    let claims = call_whoami(&session, mcp).await;
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
    let claims = call_whoami(&session, mcp).await;
    assert_eq!(claims["sub"], json!(subject), "the refresh kept the user");
    assert_eq!(mcp.accepted.lock().expect("lock").len(), 2);
    session.cancel().await.expect("closed");
    client_id
}

/// From a 401 alone to a tool call and a refresh, by dynamic client registration.
#[actix_web::test]
async fn the_rmcp_client_finds_portcullis_from_a_401_registers_signs_in_calls_a_tool_and_refreshes()
{
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let mcp = start_mcp_server(&server.base);
    register_mcp_server(&db, &mcp);
    let redirect_uri = dead_redirect_uri();
    let client_id = rmcp_flow(&server, &mcp, &redirect_uri, "ada@example.com", |r| {
        r.with_client_name("Notes MCP client")
    })
    .await;
    assert!(
        !client_id.starts_with("https://"),
        "registered, not self-described: {client_id}"
    );
}

/// A TLS server of one document on `localhost`, with a certificate from a CA made here; counts
/// the requests. Returns the CA's certificate (for Portcullis to trust) and the request count.
async fn serve_document_over_tls(
    listener: tokio::net::TcpListener,
    body: String,
) -> (
    rustls::pki_types::CertificateDer<'static>,
    Arc<std::sync::atomic::AtomicUsize>,
) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().expect("CA key");
    let ca = ca_params.self_signed(&ca_key).expect("CA");
    let leaf_key = KeyPair::generate().expect("key");
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .signed_by(&leaf_key, &Issuer::from_params(&ca_params, &ca_key))
        .expect("certificate");
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .expect("TLS settings");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = Arc::clone(&count);
    actix_web::rt::spawn(async move {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        while let Ok((tcp, _)) = listener.accept().await {
            let Ok(mut tls) = acceptor.accept(tcp).await else {
                continue;
            };
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match tls.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: max-age=3600\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tls.write_all(answer.as_bytes()).await;
            let _ = tls.shutdown().await;
        }
    });
    (ca.der().clone(), count)
}

/// The rmcp client makes itself known by a Client ID Metadata Document it hosts over https:
/// Portcullis advertises the support, fetches the document, signs the user in naming the
/// client as self-described, and the token's `client_id` is the document's URL.
#[actix_web::test]
async fn the_rmcp_client_signs_in_by_client_id_metadata_document() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let document_url = format!(
        "https://localhost:{}/oauth/client-metadata.json",
        listener.local_addr().expect("addr").port()
    );
    let redirect_uri = dead_redirect_uri();
    let document = json!({
        "client_id": document_url,
        "client_name": "Notes MCP client",
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    });
    let (ca, fetched) = serve_document_over_tls(listener, document.to_string()).await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).expect("the test CA");
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();

    let db = TestDb::sqlite();
    let server = TestServer::start_with_state(
        &db,
        |s| {
            // The document's host is this machine.
            s.cimd_allow_loopback = true;
        },
        |state| state.cimd_tls = Some(Arc::new(tls)),
    );
    let mcp = start_mcp_server(&server.base);
    register_mcp_server(&db, &mcp);
    let client_id = rmcp_flow(&server, &mcp, &redirect_uri, "cimd@example.com", |r| {
        r.with_client_metadata_url(document_url.clone())
            .with_client_name("never registered")
    })
    .await;
    assert_eq!(client_id, document_url, "the URL is the client id");
    assert!(
        fetched.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "Portcullis fetched the document"
    );
    let consent = mcp.consent.lock().expect("lock").clone();
    assert!(
        consent.contains("Self-described by localhost"),
        "the consent page names the document's host: {consent}"
    );
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
    let server = TestServer::start(&db);
    let mcp = start_mcp_server(&server.base);
    register_mcp_server(&db, &mcp);
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
    let back = sign_in_and_allow(
        &browser,
        &auth_url,
        &redirect_uri,
        "ts@example.com",
        &mcp.consent,
    )
    .await;
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
