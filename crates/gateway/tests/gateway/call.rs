//! One proxied call, decided before any connection: who may call, which agent, the order of
//! the checks, the URL and headers sent, the headers passed back, the usage row, and the JSON
//! the API shows.

use gateway::{
    AgentCaller, CallRefused, CallRequest, Caller, GatewayError, NewService, PreparedCall, Target,
};
use store::Conn;

use crate::{create, key, org, other_key};

fn caller(org: &str) -> Caller {
    Caller::check(Some((org.to_owned(), "key_1".to_owned())), |_| true).expect("caller")
}

fn with_agent(org: &str, agent: &str) -> AgentCaller {
    caller(org)
        .with_agent(Some(agent.to_owned()))
        .expect("agent")
}

fn agent(conn: &mut Conn, org: &str, scopes: &[&str]) -> String {
    let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
    apikeys::create_agent(conn, org, "bot", &scopes, 0)
        .expect("agent")
        .id
}

fn named<'a>(service: &str, path: &'a str, query: &'a str) -> CallRequest<'a> {
    CallRequest {
        target: Target::Named(service.to_owned()),
        path,
        query,
    }
}

fn prepare(
    conn: &mut Conn,
    caller: AgentCaller,
    request: CallRequest<'_>,
) -> Result<PreparedCall, CallRefused> {
    gateway::prepare_call(conn, &key(), caller, request)
}

/// The variant's name and its text, to compare refusals.
fn refusal<T: std::fmt::Debug>(result: Result<T, CallRefused>) -> String {
    match result {
        Err(e) => format!("{e:?}"),
        Ok(v) => panic!("expected a refusal, got {v:?}"),
    }
}

#[test]
fn the_caller_is_an_organization_key_holding_authorize() {
    let no_key = Caller::check(None, |_| true);
    assert!(matches!(no_key, Err(CallRefused::NotAnOrganizationKey)));
    let key = || Some(("org_1".to_owned(), "key_1".to_owned()));
    let asked = std::cell::RefCell::new(Vec::new());
    let without = Caller::check(key(), |s| {
        asked.borrow_mut().push(s.to_owned());
        false
    });
    assert!(
        matches!(&without, Err(CallRefused::InsufficientScope(s)) if s == "authorize"),
        "{without:?}"
    );
    assert_eq!(*asked.borrow(), ["authorize"], "the one scope asked for");
    let caller = Caller::check(key(), |s| s == gateway::CALL_SCOPE).expect("caller");
    assert!(matches!(
        caller.clone().with_agent(None),
        Err(CallRefused::NoAgent)
    ));
    assert!(caller.with_agent(Some("agt_1".into())).is_ok());
}

#[test]
fn the_agent_is_named_by_the_credential_then_the_header_then_the_json_body() {
    assert_eq!(
        gateway::agent_named(Some("agt_cred".into()), Some("agt_hdr")).as_deref(),
        Some("agt_cred")
    );
    assert_eq!(
        gateway::agent_named(None, Some("agt_hdr")).as_deref(),
        Some("agt_hdr")
    );
    assert_eq!(gateway::agent_named(None, None), None);
    // The body is read only when no agent is named yet and it is JSON.
    assert!(gateway::agent_in_body(None, Some("application/json")));
    assert!(gateway::agent_in_body(
        None,
        Some("application/json; charset=utf-8")
    ));
    assert!(!gateway::agent_in_body(
        Some("agt_1"),
        Some("application/json")
    ));
    assert!(!gateway::agent_in_body(None, Some("text/plain")));
    assert!(!gateway::agent_in_body(None, None));
    // `agent_id` is taken out of the body that is forwarded; the rest stays.
    let (agent, body) =
        gateway::take_agent_from_json(br#"{"agent_id":"agt_9","model":"m","n":1}"#).expect("json");
    assert_eq!(agent.as_deref(), Some("agt_9"));
    let forwarded: serde_json::Value = serde_json::from_slice(&body).expect("forwarded json");
    assert_eq!(forwarded, serde_json::json!({"model": "m", "n": 1}));
    // `agentId` as well, and both fields are taken out; both naming different agents is no
    // agent at all (the call is refused), never the one or the other.
    let (agent, body) =
        gateway::take_agent_from_json(br#"{"agentId":"agt_9","agent_id":"agt_9","n":1}"#)
            .expect("json");
    assert_eq!(agent.as_deref(), Some("agt_9"));
    let forwarded: serde_json::Value = serde_json::from_slice(&body).expect("forwarded json");
    assert_eq!(forwarded, serde_json::json!({"n": 1}));
    assert!(matches!(
        gateway::take_agent_from_json(br#"{"agentId":"agt_1","agent_id":"agt_2"}"#),
        Err(CallRefused::NoAgent)
    ));
    // Not a string, not an object: no agent, the body forwarded as it was.
    let (agent, body) = gateway::take_agent_from_json(br#"{"agent_id":7}"#).expect("json");
    assert_eq!((agent, body.as_slice()), (None, &b"{}"[..]));
    let (agent, body) = gateway::take_agent_from_json(b"[1,2]").expect("json");
    assert_eq!((agent, body.as_slice()), (None, &b"[1,2]"[..]));
    for bad in [&b"{"[..], b"", b"agent_id=agt_1"] {
        assert!(matches!(
            gateway::take_agent_from_json(bad),
            Err(CallRefused::InvalidJson)
        ));
    }
}

store::backend_tests! {
    fn the_checks_run_in_their_order_before_a_call_is_prepared(db) {
        let mut conn = db.store().conn().expect("conn");
        let (one, two) = (org(&mut conn), org(&mut conn));
        create(&mut conn, &one, "openai", "https://api.openai.com", "Bearer sk-1234");
        let chat = agent(&mut conn, &one, &["openai:chat:*"]);
        let all = agent(&mut conn, &one, &["*"]);
        let foreign = agent(&mut conn, &two, &["*"]);

        // The service first: unknown by name, or by origin.
        assert_eq!(
            refusal(prepare(&mut conn, with_agent(&one, "agt_none"), named("nope", "/x", ""))),
            format!("{:?}", CallRefused::Gateway(GatewayError::Refused("no service nope".into())))
        );
        let by_origin = |origin: &str| CallRequest { target: Target::Origin(origin.into()), path: "/chat/completions", query: "" };
        assert_eq!(
            refusal(prepare(&mut conn, with_agent(&one, &chat), by_origin("https://api.openai.com:8443"))),
            format!("{:?}", CallRefused::Gateway(GatewayError::Refused("https://api.openai.com:8443 is not a registered service".into())))
        );
        // Another organization's service is not there.
        let refused = prepare(&mut conn, with_agent(&two, &foreign), named("openai", "/chat", ""));
        assert!(matches!(refused, Err(CallRefused::Gateway(GatewayError::Refused(_)))), "{refused:?}");
        // A credential that does not open (another master key): before the agent is looked at.
        let wrong_key = gateway::prepare_call(&mut conn, &other_key(), with_agent(&one, "agt_none"), named("openai", "/chat", ""));
        assert!(matches!(wrong_key, Err(CallRefused::Gateway(GatewayError::Undecryptable))), "{wrong_key:?}");
        // A path whose segments cannot be a scope: before the agent.
        let odd = prepare(&mut conn, with_agent(&one, "agt_none"), named("openai", "/chat/a%20b", ""));
        assert!(matches!(odd, Err(CallRefused::Gateway(GatewayError::Invalid { field: "path", .. }))), "{odd:?}");
        // Then the agent: unknown, or of another organization.
        assert!(matches!(prepare(&mut conn, with_agent(&one, "agt_none"), named("openai", "/chat", "")), Err(CallRefused::UnknownAgent)));
        assert!(matches!(prepare(&mut conn, with_agent(&one, &foreign), named("openai", "/chat", "")), Err(CallRefused::UnknownAgent)));
        // Its scopes must cover the call's.
        let narrow = prepare(&mut conn, with_agent(&one, &chat), named("openai", "/embeddings", ""));
        assert!(matches!(&narrow, Err(CallRefused::InsufficientScope(s)) if s == "openai:embeddings"), "{narrow:?}");
        // Last the URL: a dot segment is refused even for an agent holding `*`.
        let climb = prepare(&mut conn, with_agent(&one, &all), named("openai", "/chat/../admin", ""));
        assert!(matches!(climb, Err(CallRefused::Gateway(GatewayError::Invalid { field: "path", .. }))), "{climb:?}");

        // Every check passed, by name and by origin (ASCII case ignored).
        let call = prepare(&mut conn, with_agent(&one, &chat), named("openai", "/chat/completions", "stream=1")).expect("call");
        assert_eq!(call.url().as_str(), "https://api.openai.com/chat/completions?stream=1");
        assert_eq!(call.required_scope(), "openai:chat:completions");
        assert_eq!(call.service_name(), "openai");
        let call = prepare(&mut conn, with_agent(&one, &chat), by_origin("HTTPS://API.OPENAI.COM")).expect("by origin");
        assert_eq!(call.required_scope(), "openai:chat:completions");
        // The row of its usage: who, which endpoint (the path only), what happened.
        let row = call.usage("POST", 201, 12, 34, 56);
        assert_eq!(
            (row.org_id.as_str(), row.key_id.as_str(), row.agent_id.as_str(), row.service.as_str()),
            (one.as_str(), "key_1", chat.as_str(), "openai")
        );
        assert_eq!((row.endpoint.as_str(), row.method.as_str(), row.status), ("/chat/completions", "POST", 201));
        assert_eq!((row.latency_ms, row.bytes_in, row.bytes_out), (12, 34, 56));
    }

    fn the_headers_each_way_and_the_credential(db) {
        let mut conn = db.store().conn().expect("conn");
        let org = org(&mut conn);
        create(&mut conn, &org, "openai", "https://api.openai.com", "Bearer sk-secret-1234");
        let new = NewService {
            name: "maps",
            base_url: "https://maps.example.com",
            path_prefix: "/v1",
            credential_kind: "query",
            credential_name: "key",
            credential_value: "q&secret=1",
            allow_http: false,
        };
        gateway::create_service(&mut conn, &key(), &org, &new, 0).expect("maps");
        let bot = agent(&mut conn, &org, &["*"]);

        let call = prepare(&mut conn, with_agent(&org, &bot), named("openai", "/chat", "a=1")).expect("call");
        let incoming: [(&str, &[u8]); 22] = [
            ("accept", b"application/json"),
            ("content-type", b"application/json"),
            ("x-request-id", b"r1"),
            ("connection", b"close"),
            ("keep-alive", b"5"),
            ("proxy-authenticate", b"x"),
            ("proxy-authorization", b"Basic eA=="),
            ("te", b"trailers"),
            ("trailer", b"x"),
            ("transfer-encoding", b"chunked"),
            ("upgrade", b"websocket"),
            ("host", b"portcullis.example"),
            ("authorization", b"Bearer pcl_sk_caller"),
            ("x-api-key", b"pcl_sk_caller"),
            ("cookie", b"pcl_session=s"),
            ("x-agent-id", b"agt_1"),
            ("content-length", b"10"),
            ("x-forwarded-for", b"10.0.0.1"),
            ("x-forwarded-host", b"h"),
            ("x-forwarded-proto", b"http"),
            ("forwarded", b"for=10.0.0.1"),
            ("accept", b"text/plain"),
        ];
        let sent = call.upstream_headers(incoming);
        assert_eq!(
            sent,
            [
                ("accept", &b"application/json"[..]),
                ("content-type", b"application/json"),
                ("x-request-id", b"r1"),
                ("accept", b"text/plain"),
                ("Authorization", b"Bearer sk-secret-1234"),
            ],
            "the caller's credentials, cookies, hop-by-hop and forwarding headers dropped; the stored credential last"
        );
        assert_eq!(call.url().as_str(), "https://api.openai.com/chat?a=1", "a header credential stays out of the URL");

        // A header credential replaces a header of its name, in any case.
        let svc = NewService { name: "anthropic", base_url: "https://api.anthropic.com", path_prefix: "", credential_kind: "header", credential_name: "X-Api-Token", credential_value: "tok-5678", allow_http: false };
        gateway::create_service(&mut conn, &key(), &org, &svc, 0).expect("anthropic");
        let call = prepare(&mut conn, with_agent(&org, &bot), named("anthropic", "/m", "")).expect("call");
        let sent = call.upstream_headers([("x-api-token", &b"caller's"[..]), ("accept", b"*/*")]);
        assert_eq!(sent, [("accept", &b"*/*"[..]), ("X-Api-Token", b"tok-5678")]);

        // A query credential: appended to the URL (encoded), no header added.
        let call = prepare(&mut conn, with_agent(&org, &bot), named("maps", "/v1/geocode", "q=paris")).expect("call");
        assert_eq!(call.url().as_str(), "https://maps.example.com/v1/geocode?q=paris&key=q%26secret%3D1");
        assert_eq!(call.upstream_headers([("accept", &b"*/*"[..])]), [("accept", &b"*/*"[..])]);
        assert_eq!(call.required_scope(), "maps:geocode", "the prefix is not part of the scope");
        assert_eq!(call.usage("GET", 200, 0, 0, 0).endpoint, "/v1/geocode", "the usage row never holds the query");

        // Back: hop-by-hop headers and cookies dropped, the scope checked named (the
        // upstream's own header of that name replaced).
        let back = call.response_headers([
            ("content-type", &b"application/json"[..]),
            ("set-cookie", b"upstream=1"),
            ("content-length", b"2"),
            ("connection", b"keep-alive"),
            ("transfer-encoding", b"chunked"),
            ("x-portcullis-scope", b"forged"),
            ("location", b"https://elsewhere.example/"),
            ("x-ratelimit-remaining", b"9"),
        ]);
        assert_eq!(
            back,
            [
                ("content-type", &b"application/json"[..]),
                ("location", b"https://elsewhere.example/"),
                ("x-ratelimit-remaining", b"9"),
                ("x-portcullis-scope", b"maps:geocode"),
            ]
        );
        // The credential is never in the call's `Debug`.
        let shown = format!("{call:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("maps"), "{shown}");
    }

    fn the_json_of_a_service_and_of_a_usage_row(db) {
        let mut conn = db.store().conn().expect("conn");
        let org = org(&mut conn);
        let made = create(&mut conn, &org, "openai", "https://api.openai.com", "Bearer sk-secret-1234");
        let json = gateway::service_json(&made);
        assert_eq!(json, serde_json::json!({
            "id": made.id, "organizationId": org, "name": "openai", "baseUrl": "https://api.openai.com",
            "pathPrefix": "",
            "credential": { "kind": "header", "name": "Authorization", "hint": made.credential_hint },
            "createdAt": 10, "updatedAt": 10,
        }));
        assert!(!json.to_string().contains("secret"), "never the credential: {json}");
        let bot = agent(&mut conn, &org, &["*"]);
        let call = prepare(&mut conn, with_agent(&org, &bot), named("openai", "/chat", "key=x")).expect("call");
        gateway::record_call(&mut conn, &call.usage("POST", 200, 7, 8, 9), 100).expect("record");
        let rows = gateway::usage_of_org(&mut conn, &org, &gateway::UsageFilter::default(), 10).expect("rows");
        assert_eq!(rows.len(), 1);
        assert_eq!(gateway::usage_json(&rows[0]), serde_json::json!({
            "at": 100, "keyId": "key_1", "agentId": bot, "service": "openai", "endpoint": "/chat",
            "method": "POST", "status": 200, "latencyMs": 7, "bytesIn": 8, "bytesOut": 9,
            // Who the call was for when an agent acted for someone (token exchange): no one.
            "subjectId": null,
        }));
    }
}

#[test]
fn without_a_master_key_the_gateway_is_off() {
    assert!(matches!(
        gateway::enabled(None::<gateway::MasterKey>),
        Err(GatewayError::Disabled)
    ));
    assert!(gateway::enabled(Some(key())).is_ok());
}

#[test]
fn a_failed_upstream_is_recorded_with_the_status_answered() {
    use gateway::UpstreamFailure;
    assert_eq!(UpstreamFailure::Timeout.status(), 504);
    assert_eq!(UpstreamFailure::Unreachable.status(), 502);
}
