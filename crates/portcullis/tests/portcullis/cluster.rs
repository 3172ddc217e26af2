//! Real `portcullis` processes side by side: two instances on one PostgreSQL database (one
//! issuer, two ports) raced with the same authorization code or refresh token at once, an API
//! key revoked on one and used on the other, signing keys rotated under both; and the same
//! races on one instance over SQLite.
//!
//! [`Instance`] and the HTTP helpers here are shared with `crash.rs`.

use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use store::testing::TestDb;

/// The issuer every instance shares: in a real deployment, the load balancer's address.
pub const ISSUER: &str = "http://portcullis.cluster.test";
/// The password of every user these tests sign up.
pub const PASSWORD: &str = "correct horse battery";
const REDIRECT: &str = "http://127.0.0.1:9/callback";
const VERIFIER: &str = "cluster-test-pkce-verifier-0123456789-abcdefghijklmnop";
/// How many codes and refresh tokens each race test presents twice at once.
const ROUNDS: usize = 20;
/// What a "within the cache time" check allows beyond the configured time: the machine may be
/// busy with other tests.
const MARGIN: Duration = Duration::from_secs(5);

/// A `portcullis serve` process on a free port; killed (SIGKILL) when dropped.
#[derive(Debug)]
pub struct Instance {
    child: Child,
    pub base: String,
    log: Arc<Mutex<Vec<String>>>,
    // The working directory (no portcullis.toml in it), removed with the instance.
    _dir: tempfile::TempDir,
}

impl Instance {
    /// Starts `portcullis serve` on `database_url` with the shared issuer, a free loopback port
    /// and `settings` (more `PORTCULLIS_*` variables), and waits until `/health` answers 200.
    pub async fn start(database_url: &str, settings: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        cmd.arg("serve")
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PORTCULLIS_LOG_FORMAT", "json")
            .env("PORTCULLIS_BIND", "127.0.0.1:0")
            .env("PORTCULLIS_ISSUER", ISSUER)
            .env("PORTCULLIS_DATABASE_URL", database_url)
            .env("PORTCULLIS_WORKERS", "2")
            .env("PORTCULLIS_DATABASE_POOL_SIZE", "6")
            // Every request comes from 127.0.0.1: the per-IP rate limits would cut the load.
            .env("PORTCULLIS_RATE_LIMIT_LOGIN", "0")
            .env("PORTCULLIS_RATE_LIMIT_SIGNUP", "0")
            .env("PORTCULLIS_RATE_LIMIT_TOKEN", "0")
            .env("PORTCULLIS_RATE_LIMIT_TOKEN_PER_CLIENT", "0")
            .env("PORTCULLIS_RATE_LIMIT_REGISTRATION", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in settings {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn portcullis");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let lines = Arc::clone(&log);
        // Drains stderr for the whole life of the process (a full pipe would block it).
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("portcullis is listening")
                    && let Ok(v) = serde_json::from_str::<Value>(&line)
                    && let Some(addr) = v["addr"].as_str()
                {
                    let _ = tx.send(addr.to_owned());
                }
                lines.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        });
        let mut instance = Self {
            child,
            base: String::new(),
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        instance.base = loop {
            match rx.try_recv() {
                Ok(addr) => break format!("http://{addr}"),
                Err(mpsc::TryRecvError::Empty) if Instant::now() < deadline => {
                    sleep_ms(20).await;
                }
                Err(e) => panic!(
                    "portcullis did not report listening ({e:?}):\n{}",
                    instance.log_tail()
                ),
            }
        };
        let http = http();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ok = http
                .get(instance.url("/health"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ok {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "/health never answered 200:\n{}",
                instance.log_tail()
            );
            sleep_ms(50).await;
        }
        instance
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGKILL, and the process reaped.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL portcullis");
        self.child.wait().expect("reap portcullis");
    }

    /// The same process is still running (it neither exited nor was restarted).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// How many lines the process has logged that contain `needle`.
    fn log_count(&self, needle: &str) -> usize {
        let lines = self.log.lock().unwrap_or_else(|e| e.into_inner());
        lines.iter().filter(|l| l.contains(needle)).count()
    }

    /// The last lines the process logged, for failure messages.
    pub fn log_tail(&self) -> String {
        let lines = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let from = lines.len().saturating_sub(40);
        lines[from..].join("\n")
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn sleep_ms(ms: u64) {
    actix_web::rt::time::sleep(Duration::from_millis(ms)).await;
}

/// Runs a `portcullis` command on `database_url` to its end and returns its stdout.
pub fn cli(database_url: &str, args: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORTCULLIS_ISSUER", ISSUER)
        .env("PORTCULLIS_DATABASE_URL", database_url)
        .stdin(Stdio::null())
        .output()
        .expect("run portcullis");
    assert!(
        out.status.success(),
        "portcullis {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An HTTP client that follows no redirects and gives up after a minute.
pub fn http() -> reqwest::Client {
    http_builder().build().expect("client")
}

fn http_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
}

/// Sends a request and reads the whole answer: its status and JSON body (`null` when the body
/// is not JSON). `Err` when no complete answer arrived.
pub async fn answer(req: reqwest::RequestBuilder) -> Result<(u16, Value), String> {
    let res = req.send().await.map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    let body = res.bytes().await.map_err(|e| e.to_string())?;
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

/// Signs a user up over the JSON API; returns the answer (`token`, `refreshToken`,
/// `organization`).
pub async fn signup(http: &reqwest::Client, inst: &Instance, email: &str) -> Value {
    let (status, body) = answer(
        http.post(inst.url("/api/v1/auth/signup"))
            .json(&json!({ "email": email, "password": PASSWORD, "name": "Racer" })),
    )
    .await
    .expect("signup");
    assert_eq!(status, 201, "signup {email}: {body}");
    body
}

/// Prints a test's counts (shown with `--nocapture`).
#[allow(clippy::print_stdout)]
pub fn report(line: &str) {
    println!("{line}");
    // Also kept for `scripts/test`, which prints these lines after the run (cargo hides the
    // output of passing tests).
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("race-and-crash-report.txt");
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        use std::io::Write as _;
        let _ = writeln!(file, "{line}");
    }
}

/// Waits until `check` holds, trying every 100 ms for at most `limit`; returns how long it took.
async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        sleep_ms(100).await;
    }
}

// ---- the authorization-code flow over plain HTTP ----

/// A confidential first-party client (no consent page) for the code and refresh grants.
struct CodeClient {
    id: String,
    secret: String,
}

impl CodeClient {
    fn create(database_url: &str) -> Self {
        let out = cli(
            database_url,
            &[
                "client",
                "create",
                "--name",
                "Racer",
                "--first-party",
                "--grant-type",
                "authorization_code",
                "--grant-type",
                "refresh_token",
                "--redirect-uri",
                REDIRECT,
                "--scope",
                "openid offline_access",
                "--output",
                "json",
            ],
        );
        let v: Value = serde_json::from_str(&out).expect("client JSON");
        Self {
            id: v["clientId"].as_str().expect("clientId").to_owned(),
            secret: v["clientSecret"].as_str().expect("secret").to_owned(),
        }
    }

    fn token_request(&self, http: &reqwest::Client, inst: &Instance) -> reqwest::RequestBuilder {
        http.post(inst.url("/oauth2/token"))
            .basic_auth(&self.id, Some(&self.secret))
    }

    async fn exchange(&self, http: &reqwest::Client, inst: &Instance, code: &str) -> (u16, Value) {
        answer(self.token_request(http, inst).form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ]))
        .await
        .expect("code exchange")
    }

    async fn rotate(&self, http: &reqwest::Client, inst: &Instance, refresh: &str) -> (u16, Value) {
        answer(
            self.token_request(http, inst)
                .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)]),
        )
        .await
        .expect("refresh")
    }

    async fn active(&self, http: &reqwest::Client, inst: &Instance, token: &str) -> bool {
        let (status, body) = answer(
            http.post(inst.url("/oauth2/introspect"))
                .basic_auth(&self.id, Some(&self.secret))
                .form(&[("token", token)]),
        )
        .await
        .expect("introspection");
        assert_eq!(status, 200, "introspection: {body}");
        body["active"].as_bool().expect("active")
    }
}

/// A browser with a signed-in session (a cookie jar), for `/oauth2/authorize`.
struct Browser {
    http: reqwest::Client,
}

impl Browser {
    /// Signs a new user up, then signs in on the `/login` form as a browser does.
    async fn sign_in(inst: &Instance, email: &str) -> Self {
        let http = http_builder().cookie_store(true).build().expect("client");
        signup(&http, inst, email).await;
        let page = http
            .get(inst.url("/login"))
            .send()
            .await
            .expect("login page")
            .text()
            .await
            .expect("html");
        let csrf = page
            .split("name=\"csrf_token\" value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("csrf token in the login form")
            .to_owned();
        let res = http
            .post(inst.url("/login"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("email", email),
                ("password", PASSWORD),
                ("return_to", "/account"),
            ])
            .send()
            .await
            .expect("sign in");
        assert_eq!(res.status(), 303, "signed in");
        Self { http }
    }

    /// A fresh authorization code for `client`.
    async fn code(&self, inst: &Instance, client: &CodeClient) -> String {
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, VERIFIER.as_bytes()),
        );
        let mut url = url::Url::parse(&inst.url("/oauth2/authorize")).expect("url");
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &client.id)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("scope", "openid offline_access")
            .append_pair("state", "race")
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        let res = self.http.get(url).send().await.expect("authorize");
        assert_eq!(res.status(), 303, "a code without consent (first party)");
        let location = res.headers()["location"]
            .to_str()
            .expect("ascii")
            .to_owned();
        let back = url::Url::parse(&location).expect("redirect URL");
        assert!(location.starts_with(REDIRECT), "{location}");
        let param = |name: &str| {
            back.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        assert_eq!(param("state").as_deref(), Some("race"));
        param("code").unwrap_or_else(|| panic!("no code in {location}"))
    }
}

// ---- races ----

/// POSTs the same token request to `a` and `b` at the same instant: each of two threads sends
/// its whole request but the last byte of the body, both wait at a barrier, then both send that
/// byte. Neither server can start on its request before the body is complete, so the two start
/// together instead of one often finishing before the other begins.
fn post_together(
    a: &Instance,
    b: &Instance,
    client: &CodeClient,
    form: &[(&str, &str)],
) -> ((u16, Value), (u16, Value)) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        enc(&client.id),
        enc(&client.secret)
    ));
    let request = |inst: &Instance| {
        let addr = inst.base.trim_start_matches("http://").to_owned();
        let head = format!(
            "POST /oauth2/token HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {basic}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        );
        (addr, head.into_bytes())
    };
    let barrier = Barrier::new(2);
    let send = |(addr, bytes): (String, Vec<u8>)| {
        let mut stream = TcpStream::connect(&addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        let (most, last) = bytes.split_at(bytes.len() - 1);
        stream.write_all(most).expect("send");
        barrier.wait();
        stream.write_all(last).expect("send");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("read the answer");
        parse_answer(&raw)
    };
    let (ra, rb) = (request(a), request(b));
    std::thread::scope(|scope| {
        let ta = scope.spawn(|| send(ra));
        let tb = scope.spawn(|| send(rb));
        (ta.join().expect("thread a"), tb.join().expect("thread b"))
    })
}

/// Status and JSON body of a raw HTTP/1.1 answer read to the end of the connection.
fn parse_answer(raw: &[u8]) -> (u16, Value) {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP answer: {text}"));
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "a chunked answer: {head}"
    );
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status: {head}"));
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// The outcomes of presenting one grant to two servers at once.
#[derive(Debug, Default)]
struct Tally {
    /// One 200 with tokens, the other `invalid_grant`.
    single: usize,
    /// Both answered with tokens.
    double: usize,
    /// Anything else: both refused, a 500, another error.
    other: usize,
    /// Single wins whose tokens were then refused (the loser's replay revoked them).
    winner_revoked: usize,
    /// Single wins where the loser read the grant before the winner committed and lost at
    /// the conditional write: the requests overlapped in the database, not just on the wire.
    overlapped: usize,
    problems: Vec<String>,
}

impl Tally {
    /// Classifies a race; returns the winner's answer when there is exactly one.
    fn record<'a>(
        &mut self,
        round: usize,
        a: &'a (u16, Value),
        b: &'a (u16, Value),
    ) -> Option<&'a Value> {
        let won = |r: &(u16, Value)| r.0 == 200 && r.1["access_token"].is_string();
        let refused = |r: &(u16, Value)| r.0 == 400 && r.1["error"] == "invalid_grant";
        match (won(a), won(b)) {
            (true, true) => {
                self.double += 1;
                self.problems.push(format!("round {round}: two successes"));
                None
            }
            (true, false) if refused(b) => {
                self.single += 1;
                self.overlapped += usize::from(overlapped(&b.1));
                Some(&a.1)
            }
            (false, true) if refused(a) => {
                self.single += 1;
                self.overlapped += usize::from(overlapped(&a.1));
                Some(&b.1)
            }
            _ => {
                self.other += 1;
                self.problems
                    .push(format!("round {round}: {} {} / {} {}", a.0, a.1, b.0, b.1));
                None
            }
        }
    }

    fn assert_clean(&self, rounds: usize) {
        assert!(
            self.single == rounds && self.winner_revoked == rounds,
            "{self:?}"
        );
        assert!(self.problems.is_empty(), "{:?}", self.problems);
    }
}

/// A code exchange that lost at the conditional write answers "the code was used already";
/// one that found the code used when it read it adds "; the tokens it gave are revoked"
/// (`exchange_code`).
fn overlapped(refusal: &Value) -> bool {
    refusal["error_description"] == "the code was used already"
}

/// After a race lost to a replay, the winner's tokens are dead: the loser presented a used code
/// or refresh token, which revokes the refresh family and the access token it issued
/// (`rotate_refresh` and `exchange_code`, grace 0). True when both are refused everywhere.
async fn winner_revoked(
    http: &reqwest::Client,
    instances: [&Instance; 2],
    client: &CodeClient,
    winner: &Value,
) -> bool {
    let access = winner["access_token"].as_str().expect("access token");
    let refresh = winner["refresh_token"].as_str().expect("refresh token");
    for inst in instances {
        if client.active(http, inst, access).await {
            return false;
        }
    }
    let (status, body) = client.rotate(http, instances[1], refresh).await;
    status == 400 && body["error"] == "invalid_grant"
}

/// Redeems `ROUNDS` fresh codes on `a` and `b` at once (which may be one instance).
async fn race_codes(a: &Instance, b: &Instance, client: &CodeClient, browser: &Browser) -> Tally {
    let http = http();
    let mut tally = Tally::default();
    for round in 0..ROUNDS {
        let code = browser.code(a, client).await;
        let (ra, rb) = post_together(
            a,
            b,
            client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        );
        if let Some(winner) = tally.record(round, &ra, &rb) {
            if winner_revoked(&http, [a, b], client, winner).await {
                tally.winner_revoked += 1;
            } else {
                tally
                    .problems
                    .push(format!("round {round}: the winner's tokens still work"));
            }
        }
    }
    tally
}

/// Rotates `ROUNDS` fresh refresh tokens (each from its own code) on `a` and `b` at once.
async fn race_refresh(a: &Instance, b: &Instance, client: &CodeClient, browser: &Browser) -> Tally {
    let http = http();
    let mut tally = Tally::default();
    for round in 0..ROUNDS {
        let code = browser.code(a, client).await;
        let (status, issued) = client.exchange(&http, a, &code).await;
        assert_eq!(status, 200, "{issued}");
        let refresh = issued["refresh_token"].as_str().expect("refresh token");
        let (ra, rb) = post_together(
            a,
            b,
            client,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        );
        if let Some(winner) = tally.record(round, &ra, &rb) {
            if winner_revoked(&http, [a, b], client, winner).await {
                tally.winner_revoked += 1;
            } else {
                tally
                    .problems
                    .push(format!("round {round}: the winner's tokens still work"));
            }
        }
    }
    // A loser that found the token used when it read it logs a warning (`rotate_refresh`); one
    // that lost at the conditional write does not. Counted for the report only.
    sleep_ms(300).await;
    let warned = |inst: &Instance| inst.log_count("refresh token reused");
    let read_used = if a.base == b.base {
        warned(a)
    } else {
        warned(a) + warned(b)
    };
    tally.overlapped = tally.single.saturating_sub(read_used);
    tally
}

fn race_line(what: &str, on: &str, t: &Tally) -> String {
    format!(
        "cluster: {ROUNDS} {what} raced on {on}: {} single wins, {} double, {} other; \
         {} winners' tokens revoked by the replay; {} races overlapped in the database",
        t.single, t.double, t.other, t.winner_revoked, t.overlapped
    )
}

/// Two instances on one fresh PostgreSQL database, with `settings`.
async fn two_on_postgres(db: &TestDb, settings: &[(&str, &str)]) -> (Instance, Instance) {
    let a = Instance::start(db.url(), settings).await;
    let b = Instance::start(db.url(), settings).await;
    assert_ne!(a.base, b.base);
    (a, b)
}

#[actix_web::test]
async fn codes_raced_on_two_instances_are_redeemed_once() {
    let db = TestDb::postgres();
    let (a, b) = two_on_postgres(&db, &[]).await;
    let client = CodeClient::create(db.url());
    let browser = Browser::sign_in(&a, "codes@example.com").await;
    let tally = race_codes(&a, &b, &client, &browser).await;
    report(&race_line("codes", "2 instances (postgres)", &tally));
    tally.assert_clean(ROUNDS);
}

#[actix_web::test]
async fn refresh_tokens_raced_on_two_instances_rotate_once() {
    let db = TestDb::postgres();
    let (a, b) = two_on_postgres(&db, &[("PORTCULLIS_REFRESH_GRACE", "0")]).await;
    let client = CodeClient::create(db.url());
    let browser = Browser::sign_in(&a, "refresh@example.com").await;
    let tally = race_refresh(&a, &b, &client, &browser).await;
    report(&race_line(
        "refresh tokens",
        "2 instances (postgres)",
        &tally,
    ));
    tally.assert_clean(ROUNDS);
}

#[actix_web::test]
async fn codes_raced_on_one_sqlite_instance_are_redeemed_once() {
    let db = TestDb::sqlite();
    let a = Instance::start(db.url(), &[]).await;
    let client = CodeClient::create(db.url());
    let browser = Browser::sign_in(&a, "codes@example.com").await;
    let tally = race_codes(&a, &a, &client, &browser).await;
    report(&race_line("codes", "1 instance (sqlite)", &tally));
    tally.assert_clean(ROUNDS);
}

#[actix_web::test]
async fn refresh_tokens_raced_on_one_sqlite_instance_rotate_once() {
    let db = TestDb::sqlite();
    let a = Instance::start(db.url(), &[("PORTCULLIS_REFRESH_GRACE", "0")]).await;
    let client = CodeClient::create(db.url());
    let browser = Browser::sign_in(&a, "refresh@example.com").await;
    let tally = race_refresh(&a, &a, &client, &browser).await;
    report(&race_line("refresh tokens", "1 instance (sqlite)", &tally));
    tally.assert_clean(ROUNDS);
}

#[actix_web::test]
async fn rotated_signing_keys_reach_both_instances() {
    const REFRESH: Duration = Duration::from_secs(1);
    let db = TestDb::postgres();
    let (a, b) = two_on_postgres(&db, &[("PORTCULLIS_KEYS_REFRESH", "1")]).await;
    let http = http();
    let out = cli(
        db.url(),
        &[
            "client",
            "create",
            "--grant-type",
            "client_credentials",
            "--output",
            "json",
        ],
    );
    let created: Value = serde_json::from_str(&out).expect("client JSON");
    let client = CodeClient {
        id: created["clientId"].as_str().expect("id").to_owned(),
        secret: created["clientSecret"].as_str().expect("secret").to_owned(),
    };
    let issue = |inst: &Instance| {
        let req = client
            .token_request(&http, inst)
            .form(&[("grant_type", "client_credentials")]);
        async move {
            let (status, body) = answer(req).await.expect("token");
            assert_eq!(status, 200, "{body}");
            body["access_token"].as_str().expect("token").to_owned()
        }
    };
    let kid_of = |token: &str| {
        jsonwebtoken::decode_header(token)
            .expect("JWT header")
            .kid
            .expect("kid")
    };
    let published = |inst: &Instance| {
        let req = http.get(inst.url("/jwks.json"));
        async move {
            let (status, jwks) = answer(req).await.expect("jwks");
            assert_eq!(status, 200);
            jwks["keys"]
                .as_array()
                .expect("keys")
                .iter()
                .filter_map(|k| k["kid"].as_str().map(str::to_owned))
                .collect::<Vec<String>>()
        }
    };

    let before = issue(&a).await;
    let old_kid = kid_of(&before);
    assert!(published(&a).await.contains(&old_kid));
    assert!(published(&b).await.contains(&old_kid));

    let rotated = cli(
        db.url(),
        &["keys", "rotate", "--alg", "ES256", "--output", "json"],
    );
    let new_kid = rotated
        .trim()
        .parse::<Value>()
        .ok()
        .filter(|v| v["alg"] == "ES256")
        .and_then(|v| v["kid"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("keys rotate printed {rotated:?}"));
    assert_ne!(new_kid, old_kid);

    let rotated_at = Instant::now();
    let (published_ref, new_ref) = (&published, &new_kid);
    for (name, inst) in [("A", &a), ("B", &b)] {
        eventually(
            &format!("instance {name} publishes the new kid"),
            Duration::from_secs(60),
            || async move { published_ref(inst).await.contains(new_ref) },
        )
        .await;
    }
    let took = rotated_at.elapsed();
    report(&format!(
        "cluster: rotated signing key published by both instances after {:.1} s (refresh {} s)",
        took.as_secs_f64(),
        REFRESH.as_secs()
    ));
    assert!(
        took <= REFRESH + MARGIN,
        "published only after {took:?}, refresh interval {REFRESH:?}"
    );

    // Each instance signs with the new key (at once, unless a reload fell between the new
    // key's insert and the old one's retirement: then at the next reload), and the other
    // instance accepts the token.
    for (signer, checker) in [(&a, &b), (&b, &a)] {
        let mut token = issue(signer).await;
        let deadline = rotated_at + REFRESH + MARGIN;
        while kid_of(&token) != new_kid {
            assert!(
                Instant::now() < deadline,
                "still signing with {}",
                kid_of(&token)
            );
            sleep_ms(100).await;
            token = issue(signer).await;
        }
        assert!(client.active(&http, checker, &token).await);
        assert!(client.active(&http, signer, &token).await);
    }
    // The retired key stays published, and its tokens valid, everywhere.
    for inst in [&a, &b] {
        assert!(published(inst).await.contains(&old_kid));
        assert!(client.active(&http, inst, &before).await);
    }
}

// ---- revocation: at once where it is made, within a second everywhere (LISTEN/NOTIFY) ----

/// The longest a revocation may take to reach the other instance. The caches are set to 30 s
/// in these tests, so only the notification can explain a refusal this fast.
const NOTIFIED_WITHIN: Duration = Duration::from_secs(1);
/// The cache times of the notification tests.
const LONG_CACHE: &str = "30";

/// After a revocation made on `a` at `since`: `status` answers 401 on `a` at once, and on `b`
/// soon after; how long `b` took.
async fn refused_here_at_once_then_there<F, Fut>(
    a: &Instance,
    b: &Instance,
    since: Instant,
    status: &F,
) -> Duration
where
    F: Fn(&Instance) -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    assert_eq!(status(a).await, 401, "refused at once where it was revoked");
    eventually(
        "the other instance refuses it",
        Duration::from_secs(30),
        || async move { status(b).await == 401 },
    )
    .await;
    since.elapsed()
}

#[actix_web::test]
async fn attack_revoked_api_key_is_refused_at_once_here_and_within_1_s_on_other_instances() {
    let db = TestDb::postgres();
    let (a, b) = two_on_postgres(&db, &[("PORTCULLIS_API_KEY_CACHE", LONG_CACHE)]).await;
    let http = http();
    let owner = signup(&http, &a, "owner@example.com").await;
    let token = owner["token"].as_str().expect("token").to_owned();
    let org = owner["organization"]["id"]
        .as_str()
        .expect("org")
        .to_owned();
    let org_path = format!("/api/v1/organizations/{org}");
    let (status, created) = answer(
        http.post(a.url(&format!("{org_path}/api-keys")))
            .bearer_auth(&token)
            .json(&json!({ "name": "shared", "scopes": ["org:read"] })),
    )
    .await
    .expect("create key");
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().expect("key").to_owned();
    let id = created["id"].as_str().expect("id").to_owned();
    let use_key = |inst: &Instance| {
        let req = http.get(inst.url(&org_path)).header("x-api-key", &key);
        async move { answer(req).await.expect("request").0 }
    };
    // Both instances accept the key and cache it for 30 s.
    for _ in 0..3 {
        assert_eq!(use_key(&a).await, 200);
        assert_eq!(use_key(&b).await, 200);
    }
    let (status, revoked) = answer(
        http.delete(a.url(&format!("{org_path}/api-keys/{id}")))
            .bearer_auth(&token),
    )
    .await
    .expect("revoke");
    assert_eq!(status, 200, "{revoked}");
    let revoked_at = Instant::now();
    let took = refused_here_at_once_then_there(&a, &b, revoked_at, &use_key).await;
    report(&format!(
        "cluster: API key revoked on instance A: refused by A at once, by instance B after \
         {} ms (LISTEN/NOTIFY; cache {LONG_CACHE} s)",
        took.as_millis()
    ));
    assert!(
        took <= NOTIFIED_WITHIN,
        "refused by the other instance only after {took:?}"
    );
    for _ in 0..3 {
        assert_eq!(use_key(&a).await, 401);
        assert_eq!(use_key(&b).await, 401);
    }
}

#[actix_web::test]
async fn attack_client_deleted_by_rfc7592_is_refused_at_once_here_and_within_1_s_on_other_instances()
 {
    let db = TestDb::postgres();
    let (a, b) = two_on_postgres(&db, &[("PORTCULLIS_CLIENT_CACHE", LONG_CACHE)]).await;
    let http = http();
    let (status, reg) = answer(http.post(a.url("/oauth2/register")).json(&json!({
        "client_name": "doomed",
        "grant_types": ["client_credentials"],
        "response_types": [],
        "redirect_uris": [],
    })))
    .await
    .expect("register");
    assert_eq!(status, 201, "{reg}");
    let id = reg["client_id"].as_str().expect("client_id").to_owned();
    let secret = reg["client_secret"].as_str().expect("secret").to_owned();
    let rat = reg["registration_access_token"]
        .as_str()
        .expect("registration token")
        .to_owned();
    let token_status = |inst: &Instance| {
        let req = http
            .post(inst.url("/oauth2/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials")]);
        async move { answer(req).await.expect("token").0 }
    };
    // Both instances issue tokens to it, and cache it for 30 s.
    for _ in 0..3 {
        assert_eq!(token_status(&a).await, 200);
        assert_eq!(token_status(&b).await, 200);
    }
    let res = http
        .delete(a.url(&format!("/oauth2/register/{id}")))
        .bearer_auth(&rat)
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), 204, "RFC 7592 §2.3");
    let deleted_at = Instant::now();
    let took = refused_here_at_once_then_there(&a, &b, deleted_at, &token_status).await;
    report(&format!(
        "cluster: client deleted (RFC 7592) on instance A: refused by A at once, by instance B \
         after {} ms (LISTEN/NOTIFY; cache {LONG_CACHE} s)",
        took.as_millis()
    ));
    assert!(
        took <= NOTIFIED_WITHIN,
        "refused by the other instance only after {took:?}"
    );
}

#[actix_web::test]
async fn rotated_signing_keys_reach_every_instance_within_1_s() {
    let db = TestDb::postgres();
    let (a, b) = two_on_postgres(&db, &[("PORTCULLIS_KEYS_REFRESH", LONG_CACHE)]).await;
    let http = http();
    let published = |inst: &Instance| {
        let req = http.get(inst.url("/jwks.json"));
        async move {
            let (status, jwks) = answer(req).await.expect("jwks");
            assert_eq!(status, 200);
            jwks["keys"]
                .as_array()
                .expect("keys")
                .iter()
                .filter_map(|k| k["kid"].as_str().map(str::to_owned))
                .collect::<Vec<String>>()
        }
    };
    // Both instances have loaded their keys (and keep them for 30 s).
    assert!(!published(&a).await.is_empty());
    assert!(!published(&b).await.is_empty());
    // Rotated by the command line: another process, so every instance learns of it from the
    // notification alone.
    let rotated = cli(
        db.url(),
        &["keys", "rotate", "--alg", "ES256", "--output", "json"],
    );
    let rotated_at = Instant::now();
    let new_kid = rotated
        .trim()
        .parse::<Value>()
        .ok()
        .filter(|v| v["alg"] == "ES256")
        .and_then(|v| v["kid"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("keys rotate printed {rotated:?}"));
    let mut slowest = Duration::ZERO;
    let (published_ref, new_ref) = (&published, &new_kid);
    for (name, inst) in [("A", &a), ("B", &b)] {
        eventually(
            &format!("instance {name} publishes the new kid"),
            Duration::from_secs(30),
            || async move { published_ref(inst).await.contains(new_ref) },
        )
        .await;
        slowest = slowest.max(rotated_at.elapsed());
    }
    report(&format!(
        "cluster: signing key rotated by the command line: published by both instances after \
         {} ms (LISTEN/NOTIFY; refresh {LONG_CACHE} s)",
        slowest.as_millis()
    ));
    assert!(
        slowest <= NOTIFIED_WITHIN,
        "published only after {slowest:?}"
    );
}

/// The value of `name="csrf_token"` in a page.
fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a csrf token")
        .to_owned()
}

/// The session ids of the revoke forms on an account page.
fn session_forms(html: &str) -> Vec<String> {
    html.split("action=\"/account/sessions/")
        .skip(1)
        .filter_map(|r| r.split('/').next())
        .map(str::to_owned)
        .collect()
}

#[actix_web::test]
async fn attack_revoked_browser_session_is_refused_at_once_on_every_instance() {
    let db = TestDb::postgres();
    let (a, b) = two_on_postgres(&db, &[]).await;
    // Ada's first browser (a cookie jar), and a second session whose cookie we hold by hand
    // to present it to either instance.
    let browser = Browser::sign_in(&a, "sessions@example.com").await;
    let plain = http();
    let login_page = plain.get(a.url("/login")).send().await.expect("login");
    let pre_cookies = login_page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .collect::<Vec<_>>()
        .join("; ");
    let login_csrf = csrf_of(&login_page.text().await.expect("html"));
    let signed_in = plain
        .post(a.url("/login"))
        .header("cookie", &pre_cookies)
        .form(&[
            ("csrf_token", login_csrf.as_str()),
            ("email", "sessions@example.com"),
            ("password", PASSWORD),
            ("return_to", "/account"),
        ])
        .send()
        .await
        .expect("sign in");
    assert_eq!(signed_in.status(), 303);
    let session = signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("pcl_session="))
        .and_then(|v| v.split(';').next())
        .expect("session cookie")
        .to_owned();
    let account = |inst: &Instance| {
        let req = plain.get(inst.url("/account")).header("cookie", &session);
        async move { req.send().await.expect("account").status().as_u16() }
    };
    assert_eq!(account(&a).await, 200);
    assert_eq!(account(&b).await, 200);
    // The id of the hand-held session: the one its own account page marks as this browser.
    let own_page = plain
        .get(a.url("/account"))
        .header("cookie", &session)
        .send()
        .await
        .expect("account")
        .text()
        .await
        .expect("html");
    let target = own_page
        .split("<li>")
        .find(|item| item.contains("(this browser)"))
        .map(session_forms)
        .and_then(|ids| ids.into_iter().next())
        .expect("the current session's revoke form");
    // The first browser sees both sessions on A and revokes the other one.
    let html = browser
        .http
        .get(a.url("/account"))
        .send()
        .await
        .expect("account")
        .text()
        .await
        .expect("html");
    let forms = session_forms(&html);
    assert_eq!(forms.len(), 2, "two sessions listed");
    assert!(forms.contains(&target));
    let res = browser
        .http
        .post(a.url(&format!("/account/sessions/{target}/revoke")))
        .form(&[("csrf_token", csrf_of(&html).as_str())])
        .send()
        .await
        .expect("revoke");
    assert_eq!(res.status(), 303);
    // Sessions are read from the database on every request: refused at once, on both.
    assert_eq!(
        account(&a).await,
        303,
        "refused at once where it was revoked"
    );
    assert_eq!(
        account(&b).await,
        303,
        "refused at once by the other instance"
    );
    let browser_status = browser
        .http
        .get(b.url("/account"))
        .send()
        .await
        .expect("account")
        .status();
    assert_eq!(
        browser_status, 200,
        "the revoking browser's own session is untouched"
    );
}
