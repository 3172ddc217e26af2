//! OpenTelemetry traces from the real binary, received by a small OTLP/HTTP collector written
//! here: one server span per request named after its route template, database spans inside
//! it, a caller's `traceparent` continued, nothing secret in any attribute, and the last spans
//! flushed when the server is stopped with SIGTERM.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message as _;

use crate::cli::{Process, json_output, migrated};

/// A span as received, with its resource's service name.
#[derive(Clone, Debug)]
struct Received {
    service: Option<String>,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    name: String,
    kind: i32,
    attributes: Vec<(String, String)>,
}

impl Received {
    fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

fn pairs(attributes: &[KeyValue]) -> Vec<(String, String)> {
    attributes
        .iter()
        .map(|kv| (kv.key.clone(), text(kv.value.as_ref())))
        .collect()
}

/// The collector: `POST /v1/traces` with an `ExportTraceServiceRequest` in protobuf; every
/// span received is kept. Anything else is answered 400 and counted as a failure.
struct Collector {
    url: String,
    spans: Arc<Mutex<Vec<Received>>>,
    refused: Arc<Mutex<Vec<String>>>,
}

impl Collector {
    fn start() -> Self {
        let spans = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(Mutex::new(Vec::new()));
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let url = format!(
            "http://{}",
            listener.local_addr().expect("the collector's address")
        );
        let (kept, refusals) = (spans.clone(), refused.clone());
        let server = HttpServer::new(move || {
            let (kept, refusals) = (kept.clone(), refusals.clone());
            App::new().route(
                "/v1/traces",
                web::post().to(move |req: actix_web::HttpRequest, body: web::Bytes| {
                    let (kept, refusals) = (kept.clone(), refusals.clone());
                    async move {
                        let content_type = req
                            .headers()
                            .get("content-type")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        match ExportTraceServiceRequest::decode(body.as_ref()) {
                            Ok(request) if content_type == "application/x-protobuf" => {
                                let mut kept = kept.lock().expect("the span list");
                                for resource in &request.resource_spans {
                                    let service = resource.resource.as_ref().and_then(|r| {
                                        r.attributes
                                            .iter()
                                            .find(|kv| kv.key == "service.name")
                                            .map(|kv| text(kv.value.as_ref()))
                                    });
                                    for scope in &resource.scope_spans {
                                        for span in &scope.spans {
                                            kept.push(Received {
                                                service: service.clone(),
                                                trace_id: hex(&span.trace_id),
                                                span_id: hex(&span.span_id),
                                                parent_span_id: hex(&span.parent_span_id),
                                                name: span.name.clone(),
                                                kind: span.kind,
                                                attributes: pairs(&span.attributes),
                                            });
                                        }
                                    }
                                }
                                HttpResponse::Ok()
                                    .content_type("application/x-protobuf")
                                    .finish()
                            }
                            outcome => {
                                refusals
                                    .lock()
                                    .expect("the refusals")
                                    .push(format!("{content_type}: {outcome:?}"));
                                HttpResponse::BadRequest().finish()
                            }
                        }
                    }
                }),
            )
        })
        .workers(1)
        .listen(listener)
        .expect("the collector listens")
        .run();
        actix_web::rt::spawn(server);
        Self {
            url,
            spans,
            refused,
        }
    }

    fn spans(&self) -> Vec<Received> {
        let refused = self.refused.lock().expect("the refusals");
        assert!(refused.is_empty(), "the collector refused: {refused:?}");
        self.spans.lock().expect("the span list").clone()
    }

    /// Polls (deadline 20 s) until a span satisfies `wanted`.
    async fn wait_for(&self, what: &str, wanted: impl Fn(&Received) -> bool) -> Received {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(span) = self.spans().into_iter().find(|s| wanted(s)) {
                return span;
            }
            assert!(
                Instant::now() < deadline,
                "no span {what} within 20 s; received: {:#?}",
                self.spans()
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A client-credentials client made with the command line: (id, secret).
fn client(dir: &std::path::Path) -> (String, String) {
    migrated(dir);
    let created = json_output(
        dir,
        &[
            "client",
            "create",
            "--name",
            "Traced",
            "--grant-type",
            "client_credentials",
            "--scope",
            "orders:read",
        ],
        &[("PORTCULLIS_SCOPES", "orders:read")],
    );
    let id = created[0]["clientId"]
        .as_str()
        .expect("client id")
        .to_owned();
    let secret = created[0]["clientSecret"]
        .as_str()
        .expect("client secret")
        .to_owned();
    (id, secret)
}

fn serve(
    dir: &std::path::Path,
    collector: &Collector,
    schedule_delay_ms: &str,
) -> (Process, String) {
    let process = Process::spawn(
        dir,
        &["serve"],
        &[
            ("PORTCULLIS_BIND", "127.0.0.1:0"),
            ("PORTCULLIS_SCOPES", "orders:read"),
            ("PORTCULLIS_SHUTDOWN_TIMEOUT", "5"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.url),
            ("OTEL_BSP_SCHEDULE_DELAY", schedule_delay_ms),
        ],
    );
    let addr = process.wait_listening();
    (process, addr)
}

/// Follows parent ids from `span` upwards among `all`: is `ancestor` on the way?
fn descends_from(span: &Received, ancestor: &Received, all: &[Received]) -> bool {
    let mut parent = span.parent_span_id.clone();
    for _ in 0..16 {
        if parent == ancestor.span_id {
            return true;
        }
        match all.iter().find(|s| s.span_id == parent) {
            Some(next) => parent = next.parent_span_id.clone(),
            None => return false,
        }
    }
    false
}

#[actix_web::test]
async fn requests_are_traced_with_their_route_template_and_database_spans() {
    let collector = Collector::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (id, secret) = client(dir.path());
    let (process, addr) = serve(dir.path(), &collector, "100");
    let http = reqwest::Client::new();

    // A token request continuing the caller's trace.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let answer = http
        .post(format!("http://{addr}/oauth2/token"))
        .basic_auth(&id, Some(&secret))
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "orders:read"),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(answer.status(), 200);
    let token: serde_json::Value = answer.json().await.expect("token json");
    let access_token = token["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();

    let server = collector
        .wait_for("POST /oauth2/token", |s| s.name == "POST /oauth2/token")
        .await;
    assert_eq!(server.kind, SpanKind::Server as i32);
    assert_eq!(server.service.as_deref(), Some("portcullis"));
    assert_eq!(server.attribute("http.route"), Some("/oauth2/token"));
    assert_eq!(server.attribute("http.request.method"), Some("POST"));
    assert_eq!(server.attribute("http.response.status_code"), Some("200"));
    assert_eq!(server.attribute("url.scheme"), Some("http"));
    assert_eq!(server.trace_id, trace_id, "the caller's trace is continued");
    assert_eq!(
        server.parent_span_id, caller_span,
        "the caller's span is the parent"
    );

    let db = collector
        .wait_for("db token", |s| {
            s.name == "db token" && s.trace_id == trace_id
        })
        .await;
    assert_eq!(db.attribute("db.operation.name"), Some("token"));
    assert!(
        descends_from(&db, &server, &collector.spans()),
        "the database span is inside the request's: {db:#?} {server:#?}"
    );

    // A route with a parameter: the template, never the raw path; the query string and the
    // credentials sent appear nowhere.
    let state = "state-4f1c9a-never-traced";
    let answer = http
        .get(format!(
            "http://{addr}/oauth2/register/{id}?state={state}&code=code-77e2-never-traced"
        ))
        .bearer_auth(&access_token)
        .header("cookie", "portcullis_session=cookie-9d3b-never-traced")
        .send()
        .await
        .expect("registration read");
    let status = answer.status().as_u16();
    let read = collector
        .wait_for("GET /oauth2/register/{client_id}", |s| {
            s.name == "GET /oauth2/register/{client_id}"
        })
        .await;
    assert_eq!(
        read.attribute("http.route"),
        Some("/oauth2/register/{client_id}")
    );
    assert_eq!(
        read.attribute("http.response.status_code"),
        Some(status.to_string().as_str())
    );
    assert_ne!(
        read.trace_id, trace_id,
        "no traceparent: a trace of its own"
    );

    // SIGTERM: the server stops cleanly.
    process.terminate();
    let (ok, log) = process.finish();
    assert!(ok, "portcullis stopped cleanly: {log:#?}");

    let all = collector.spans();
    for span in &all {
        for (key, value) in &span.attributes {
            for secret_sent in [
                state,
                "code-77e2",
                "cookie-9d3b",
                secret.as_str(),
                access_token.as_str(),
                id.as_str(),
                "Basic ",
                "Bearer ",
                "?",
            ] {
                assert!(
                    !value.contains(secret_sent),
                    "span {:?} attribute {key}={value:?} holds {secret_sent:?}",
                    span.name
                );
            }
        }
        assert!(!span.name.contains(&id), "span name {:?}", span.name);
    }
    // Only the spans meant for traces: the log's request span stays in the log.
    assert!(
        all.iter()
            .all(|s| s.name.starts_with("db ") || s.kind == SpanKind::Server as i32),
        "{all:#?}"
    );
}

#[actix_web::test]
async fn attack_sigterm_before_the_batch_is_due_still_delivers_the_last_spans() {
    let collector = Collector::start();
    let dir = tempfile::tempdir().expect("tempdir");
    migrated(dir.path());
    // A batch delay of an hour: only the shutdown can deliver.
    let (process, addr) = serve(dir.path(), &collector, "3600000");
    let status = reqwest::get(format!("http://{addr}/health/ready"))
        .await
        .expect("ready")
        .status();
    assert_eq!(status, 200);
    assert!(
        collector.spans().is_empty(),
        "nothing exported before the stop"
    );
    process.terminate();
    let (ok, log) = process.finish();
    assert!(ok, "portcullis stopped cleanly: {log:#?}");
    // Delivered before the process exited: no waiting needed.
    let all = collector.spans();
    let ready = all
        .iter()
        .find(|s| s.name == "GET /health/ready")
        .unwrap_or_else(|| panic!("the last request's span arrived: {all:#?}"));
    assert!(
        all.iter()
            .any(|s| s.name == "db ready" && s.trace_id == ready.trace_id),
        "{all:#?}"
    );
}

#[test]
fn a_collector_over_https_is_refused_at_start_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    migrated(dir.path());
    let process = Process::spawn(
        dir.path(),
        &["serve"],
        &[
            ("PORTCULLIS_BIND", "127.0.0.1:0"),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "https://collector.example:4318",
            ),
        ],
    );
    let (ok, log) = process.finish_within(Duration::from_secs(30));
    assert!(!ok, "refused");
    assert!(
        log.iter()
            .any(|l| l.contains("OTEL_EXPORTER_OTLP_ENDPOINT")
                && l.contains("https is not built in")),
        "{log:#?}"
    );
}
