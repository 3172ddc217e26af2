//! The server, run for real: in-process on port 0 against each backend, and the `portcullis`
//! binary as an operator starts it.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use server::Settings;
use server::config::SettingsArgs;
use store::Backend;
use store::testing::TestDb;

/// A server listening on a free loopback port, stopped when dropped.
struct TestServer {
    base: String,
    handle: ServerHandle,
    http: reqwest::Client,
}

impl TestServer {
    fn start(db: &TestDb) -> Self {
        let settings = Settings::from_args(SettingsArgs {
            bind: Some("127.0.0.1:0".into()),
            database_url: Some(db.url().into()),
            workers: Some(1),
            ..SettingsArgs::default()
        })
        .expect("settings");
        let running = server::start(settings, db.store().clone()).expect("start");
        let handle = running.server.handle();
        actix_web::rt::spawn(running.server);
        Self {
            base: format!("http://{}", running.addr),
            handle,
            http: reqwest::Client::new(),
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        actix_web::rt::spawn(async move { handle.stop(false).await });
    }
}

macro_rules! on_both_backends {
    ($( async fn $name:ident($db:ident) $body:block )*) => {
        $(
            mod $name {
                use super::*;

                async fn run($db: TestDb) $body

                #[actix_web::test]
                async fn sqlite() {
                    run(TestDb::sqlite()).await
                }

                #[actix_web::test]
                async fn postgres() {
                    run(TestDb::postgres()).await
                }
            }
        )*
    };
}

on_both_backends! {
    async fn health_and_readiness_answer_200(db) {
        let server = TestServer::start(&db);
        let res = server.get("/health").await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["cache-control"], "no-store");
        let body: serde_json::Value = res.json().await.expect("json");
        assert_eq!(body["status"], "ok");

        let res = server.get("/health/ready").await;
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.expect("json");
        assert_eq!(body["status"], "ready");
        let expected = match db.backend() {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        assert_eq!(body["database"], expected);
    }

    async fn readiness_is_503_once_the_database_is_gone(db) {
        let server = TestServer::start(&db);
        assert_eq!(server.get("/health/ready").await.status(), 200);
        db.destroy();
        let res = server.get("/health/ready").await;
        assert_eq!(res.status(), 503);
        let body: serde_json::Value = res.json().await.expect("json");
        assert_eq!(body["status"], "unavailable");
        // Liveness does not depend on the database.
        assert_eq!(server.get("/health").await.status(), 200);
    }

    async fn metrics_count_requests_by_route_and_status(db) {
        let server = TestServer::start(&db);
        for _ in 0..3 {
            assert_eq!(server.get("/health").await.status(), 200);
        }
        assert_eq!(server.get("/no/such/page").await.status(), 404);
        let res = server.get("/metrics").await;
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-type"].to_str().unwrap_or("").starts_with("text/plain"));
        let text = res.text().await.expect("text");
        let health = r#"route="/health",method="GET",status="200""#;
        assert!(text.contains(&format!("portcullis_http_requests_total{{{health}}} 3\n")), "{text}");
        assert!(text.contains(&format!("portcullis_http_request_duration_seconds_count{{{health}}} 3\n")), "{text}");
        assert!(text.contains(r#"portcullis_http_requests_total{route="unmatched",method="GET",status="404"} 1"#), "{text}");
        assert!(text.contains("# TYPE portcullis_http_request_duration_seconds histogram"));
    }

    async fn api_errors_are_json_and_pages_are_html(db) {
        let server = TestServer::start(&db);
        let res = server.get("/api/v1/nothing-here").await;
        assert_eq!(res.status(), 404);
        assert_eq!(res.headers()["content-type"], "application/json");
        let body: serde_json::Value = res.json().await.expect("json");
        assert_eq!(body["error"]["code"], "not_found");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));

        let res = server.get("/nothing-here").await;
        assert_eq!(res.status(), 404);
        assert!(res.headers()["content-type"].to_str().unwrap_or("").starts_with("text/html"));
        assert!(res.headers()["content-security-policy"].to_str().unwrap_or("").contains("frame-ancestors 'none'"));
        let html = res.text().await.expect("text");
        assert!(html.contains("Page not found"), "{html}");
        assert!(html.contains("/static/portcullis.css"));

        let res = server.http.post(format!("{}/health", server.base)).send().await.expect("post");
        assert_eq!(res.status(), 405);
    }
}

#[actix_web::test]
async fn request_ids_are_made_or_passed_through() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let made = server.get("/health").await;
    let id = made.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(!id.is_empty());
    let again = server.get("/health").await;
    assert_ne!(again.headers()["x-request-id"], id.as_str());
    let res = server
        .http
        .get(format!("{}/health", server.base))
        .header("x-request-id", "from-the-proxy-42")
        .send()
        .await
        .expect("request");
    assert_eq!(res.headers()["x-request-id"], "from-the-proxy-42");
}

#[actix_web::test]
async fn the_stylesheet_is_served_and_unknown_files_are_404() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let res = server.get("/static/portcullis.css").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert!(res.text().await.expect("css").contains("--accent"));
    assert_eq!(server.get("/static/../Cargo.toml").await.status(), 404);
    assert_eq!(server.get("/static/missing.js").await.status(), 404);
}

// ---- The binary, as an operator runs it. ----

/// A `portcullis` process, killed when dropped.
struct Process {
    child: Child,
    stderr: mpsc::Receiver<String>,
}

impl Process {
    fn spawn(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        cmd.current_dir(dir)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PORTCULLIS_LOG_FORMAT", "json")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn portcullis");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, stderr: rx }
    }

    /// Waits for the "listening" log line and returns the bound address.
    fn wait_listening(&self) -> String {
        loop {
            let line = self
                .stderr
                .recv_timeout(Duration::from_secs(30))
                .expect("portcullis did not report listening");
            if line.contains("portcullis is listening") {
                let v: serde_json::Value = serde_json::from_str(&line).expect("json log line");
                return v["addr"].as_str().expect("addr field").to_owned();
            }
        }
    }

    /// Waits for the exit and returns (success, every stderr line).
    fn finish(mut self) -> (bool, Vec<String>) {
        let status = self.child.wait().expect("wait");
        let lines: Vec<String> = self.stderr.iter().collect();
        (status.success(), lines)
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run_to_end(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, Vec<String>) {
    Process::spawn(dir, args, env).finish()
}

async fn get_status(addr: &str, path: &str) -> u16 {
    reqwest::get(format!("http://{addr}{path}"))
        .await
        .expect("request")
        .status()
        .as_u16()
}

#[actix_web::test]
async fn a_fresh_start_creates_the_sqlite_file_and_a_restart_reuses_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    for round in 0..2 {
        let p = Process::spawn(dir.path(), &[], &[("PORTCULLIS_BIND", "127.0.0.1:0")]);
        let addr = p.wait_listening();
        assert_eq!(get_status(&addr, "/health").await, 200, "round {round}");
        assert_eq!(
            get_status(&addr, "/health/ready").await,
            200,
            "round {round}"
        );
        assert!(dir.path().join("data/portcullis.db").is_file());
        p.terminate();
        let (ok, lines) = p.finish();
        assert!(ok, "SIGTERM should end with success: {lines:?}");
        assert!(
            lines.iter().any(|l| l.contains("portcullis stopped")),
            "{lines:?}"
        );
    }
}

#[test]
fn migrate_applies_the_schema_and_exits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ok, lines) = run_to_end(dir.path(), &["migrate"], &[]);
    assert!(ok, "{lines:?}");
    assert!(dir.path().join("data/portcullis.db").is_file());
    assert!(
        lines.iter().any(|l| l.contains("applied migrations")),
        "{lines:?}"
    );
    // A second run has nothing to apply and still succeeds.
    let (ok, lines) = run_to_end(dir.path(), &["migrate"], &[]);
    assert!(ok, "{lines:?}");
    assert!(
        !lines.iter().any(|l| l.contains("applied migrations")),
        "{lines:?}"
    );
}

/// Asserts a failed start: non-zero exit, and the last stderr line is the one error line.
fn assert_fails_with(dir: &Path, env: &[(&str, &str)], expected: &str) {
    let (ok, lines) = run_to_end(dir, &[], env);
    assert!(!ok, "should fail: {lines:?}");
    let last = lines.last().cloned().unwrap_or_default();
    assert!(last.starts_with("portcullis: error: "), "{lines:?}");
    assert!(
        last.contains(expected),
        "{last:?} should contain {expected:?}"
    );
    assert!(!lines.iter().any(|l| l.contains("panicked")), "{lines:?}");
}

#[test]
fn a_port_in_use_is_one_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    assert_fails_with(
        dir.path(),
        &[("PORTCULLIS_BIND", &addr)],
        &format!("cannot listen on {addr}"),
    );
}

#[test]
fn an_unusable_data_path_is_one_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a folder").expect("write");
    let url = format!("sqlite://{}/portcullis.db", file.display());
    assert_fails_with(
        dir.path(),
        &[("PORTCULLIS_DATABASE_URL", &url)],
        "cannot use data folder",
    );
}

#[test]
fn bad_settings_are_one_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_fails_with(
        dir.path(),
        &[("PORTCULLIS_ISSUER", "not a url")],
        "invalid PORTCULLIS_ISSUER",
    );
    assert_fails_with(
        dir.path(),
        &[("PORTCULLIS_DATABASE_URL", "mysql://x/y")],
        "invalid PORTCULLIS_DATABASE_URL",
    );
    assert_fails_with(
        dir.path(),
        &[("PORTCULLIS_CONFIG", "/nonexistent/portcullis.toml")],
        "cannot read settings file",
    );
    std::fs::write(dir.path().join("portcullis.toml"), "bind = [").expect("write");
    assert_fails_with(dir.path(), &[], "portcullis.toml");
}

#[test]
fn a_postgres_server_that_is_not_there_is_one_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let url = format!("postgres://nobody:secret-pw@127.0.0.1:{port}/none");
    let (ok, lines) = run_to_end(dir.path(), &[], &[("PORTCULLIS_DATABASE_URL", &url)]);
    assert!(!ok);
    let last = lines.last().cloned().unwrap_or_default();
    assert!(last.contains("cannot connect to the database"), "{last}");
    assert!(
        !lines.iter().any(|l| l.contains("secret-pw")),
        "the password leaked: {lines:?}"
    );
    assert!(
        !dir.path().join("postgres:").exists(),
        "no SQLite fallback file"
    );
}

#[test]
fn help_lists_every_setting() {
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("--help")
        .output()
        .expect("help");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "PORTCULLIS_CONFIG",
        "PORTCULLIS_BIND",
        "PORTCULLIS_ISSUER",
        "PORTCULLIS_DATABASE_URL",
        "PORTCULLIS_DATABASE_POOL_SIZE",
        "PORTCULLIS_LOG_FORMAT",
        "PORTCULLIS_LOG_LEVEL",
        "PORTCULLIS_WORKERS",
        "PORTCULLIS_SHUTDOWN_TIMEOUT",
        "serve",
        "migrate",
    ] {
        assert!(help.contains(var), "--help lacks {var}:\n{help}");
    }
}

/// Two instances started together on one fresh PostgreSQL database: the migration lock lets
/// both come up, and both serve.
#[actix_web::test]
async fn two_instances_start_together_on_one_postgres_database() {
    let db = TestDb::empty(Backend::Postgres);
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [
        ("PORTCULLIS_BIND", "127.0.0.1:0"),
        ("PORTCULLIS_DATABASE_URL", db.url()),
    ];
    let a = Process::spawn(dir.path(), &[], &env);
    let b = Process::spawn(dir.path(), &[], &env);
    let (addr_a, addr_b) = (a.wait_listening(), b.wait_listening());
    assert_eq!(get_status(&addr_a, "/health/ready").await, 200);
    assert_eq!(get_status(&addr_b, "/health/ready").await, 200);
    assert!(db.store().pending_migrations().expect("pending").is_empty());
}
