//! The binary's side of the account flows: the operator commands (`user set-password`,
//! `user verify-email`, `user delete`) against a running server, the mail settings checked at
//! start, and no password, mailed token or SMTP password in the logs or the audit log.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use store::Backend;
use store::testing::TestDb;

use crate::cli::{Process, output};

/// Runs a command with `stdin` as its input; returns (success, stdout, stderr).
fn run_with_stdin(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: &str,
) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    cmd.current_dir(dir)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn portcullis");
    {
        let mut input = child.stdin.take().expect("stdin");
        input.write_all(stdin.as_bytes()).expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a command without input; returns (success, stdout, stderr).
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    run_with_stdin(dir, args, env, "")
}

/// A JSON client of one running `portcullis serve`.
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn new(addr: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: format!("http://{addr}"),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    async fn signup(&self, email: &str, password: &str) -> Value {
        let (status, body) = self
            .post(
                "/api/v1/auth/signup",
                None,
                &json!({ "email": email, "password": password, "name": "Someone" }),
            )
            .await;
        assert_eq!(status, 201, "sign-up of {email}: {body}");
        body
    }

    async fn login(&self, email: &str, password: &str) -> (u16, Value) {
        self.post(
            "/api/v1/auth/login",
            None,
            &json!({ "email": email, "password": password }),
        )
        .await
    }

    async fn refresh(&self, refresh_token: &str) -> u16 {
        self.post(
            "/api/v1/auth/refresh",
            None,
            &json!({ "refreshToken": refresh_token }),
        )
        .await
        .0
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("no {key} in {v}"))
}

/// The operator commands on a database a server is serving: what they change is what the
/// server then answers.
async fn operators_manage_accounts_of_a_running_server(backend: Backend) {
    let db = TestDb::new(backend);
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [
        ("PORTCULLIS_DATABASE_URL", db.url()),
        ("PORTCULLIS_BIND", "127.0.0.1:0"),
        // Keys are trusted this long unless an instance hears they changed.
        ("PORTCULLIS_API_KEY_CACHE", "300"),
    ];
    let serve = Process::spawn(dir.path(), &[], &env);
    let api = Api::new(&serve.wait_listening());
    let ada = api.signup("ada@example.com", "correct horse").await;
    let ada_id = str_of(&ada["user"], "id").to_owned();
    let bob = api.signup("bob@example.com", "correct horse").await;
    assert_eq!(ada["user"]["emailVerified"], false);

    // set-password: the old password and every earlier refresh token end.
    let (ok, out, err) = run_with_stdin(
        dir.path(),
        &["user", "set-password", "ADA@example.com"],
        &env,
        "new secret one\n",
    );
    assert!(ok, "{err}");
    assert!(out.contains("password set for ada@example.com"), "{out:?}");
    assert!(!out.contains("new secret one") && !err.contains("new secret one"));
    assert_eq!(api.refresh(str_of(&ada, "refreshToken")).await, 401);
    assert_eq!(api.login("ada@example.com", "correct horse").await.0, 401);
    let (status, fresh) = api.login("ada@example.com", "new secret one").await;
    assert_eq!(status, 200, "{fresh}");
    let ada_token = str_of(&fresh, "token").to_owned();
    assert_eq!(
        api.refresh(str_of(&bob, "refreshToken")).await,
        200,
        "another user's tokens are untouched"
    );

    // A too-short password and an unknown address are refused, each with one clear line.
    let (ok, out, err) = run_with_stdin(
        dir.path(),
        &["user", "set-password", "ada@example.com"],
        &env,
        "short\n",
    );
    assert!(!ok, "{out}");
    assert!(
        err.contains("portcullis: error: password: must be at least 8 characters"),
        "{err}"
    );
    assert_eq!(
        api.login("ada@example.com", "new secret one").await.0,
        200,
        "a refused password changes nothing"
    );
    let (ok, _, err) = run_with_stdin(
        dir.path(),
        &["user", "set-password", "nobody@example.com"],
        &env,
        "long enough secret\n",
    );
    assert!(!ok);
    assert!(
        err.contains("portcullis: error: no user nobody@example.com"),
        "{err}"
    );
    let (ok, _, err) = run_with_stdin(
        dir.path(),
        &["user", "set-password", "ada@example.com"],
        &env,
        "",
    );
    assert!(!ok, "an empty stdin is no password");
    assert!(err.contains("portcullis: error: password:"), "{err}");

    // verify-email: /api/v1/me tells the truth.
    let (status, me) = api.get("/api/v1/me", &ada_token).await;
    assert_eq!((status, &me["emailVerified"]), (200, &json!(false)), "{me}");
    let (ok, out, err) = run(
        dir.path(),
        &["user", "verify-email", "ada@example.com"],
        &env,
    );
    assert!(ok, "{err}");
    assert!(out.contains("ada@example.com is verified"), "{out}");
    let (_, me) = api.get("/api/v1/me", &ada_token).await;
    assert_eq!(me["emailVerified"], true, "{me}");
    let (ok, _, err) = run(
        dir.path(),
        &["user", "verify-email", "nobody@example.com"],
        &env,
    );
    assert!(!ok);
    assert!(err.contains("no user nobody@example.com"), "{err}");

    // delete: Ada joins Bob's organization; Bob, its last owner, cannot go while she is in it.
    let bob_token = str_of(&bob, "token");
    let bob_org = str_of(&bob["organization"], "id").to_owned();
    let ada_org = str_of(&ada["organization"], "id").to_owned();
    let (status, invite) = api
        .post(
            &format!("/api/v1/organizations/{bob_org}/invites"),
            Some(bob_token),
            &json!({ "email": "ada@example.com", "role": "member" }),
        )
        .await;
    assert_eq!(status, 201, "{invite}");
    let (status, accepted) = api
        .post(
            &format!("/api/v1/invites/{}/accept", str_of(&invite, "id")),
            Some(&ada_token),
            &json!({ "token": invite["token"] }),
        )
        .await;
    assert!((200..300).contains(&status), "{status} {accepted}");
    let (ok, out, err) = run(dir.path(), &["user", "delete", "bob@example.com"], &env);
    assert!(!ok, "{out}");
    assert!(
        err.contains("bob@example.com is the last owner of an organization with other members"),
        "{err}"
    );
    assert_eq!(api.login("bob@example.com", "correct horse").await.0, 200);

    // An API key of Ada's own organization, used once, so the server has it cached.
    let (ok, minted, err) = run(
        dir.path(),
        &[
            "apikey", "create", "--org", &ada_org, "--scope", "org:read", "--output", "json",
        ],
        &env,
    );
    assert!(ok, "{err}");
    let minted: Value = serde_json::from_str(&minted).expect("one JSON object");
    let key = str_of(&minted, "key").to_owned();
    let org_path = format!("/api/v1/organizations/{ada_org}");
    let with_key = || {
        api.http
            .get(format!("{}{org_path}", api.base))
            .header("x-api-key", &key)
            .send()
    };
    assert_eq!(with_key().await.expect("get").status(), 200);

    // Ada goes, with the organization only she belonged to; Bob's stays, without her.
    let (ok, out, err) = run(dir.path(), &["user", "delete", "ada@example.com"], &env);
    assert!(ok, "{err}");
    assert!(out.contains("deleted ada@example.com"), "{out}");
    assert!(
        out.contains(&format!("deleted organization {ada_org}")),
        "{out}"
    );
    assert!(!out.contains(&bob_org), "{out}");
    assert_eq!(api.login("ada@example.com", "new secret one").await.0, 401);
    let mut conn = db.store().conn().expect("conn");
    assert!(
        accounts::find_user_by_email(&mut conn, "ada@example.com")
            .expect("find")
            .is_none()
    );
    assert!(
        accounts::find_org(&mut conn, &ada_org)
            .expect("find")
            .is_none()
    );
    let members = accounts::members(&mut conn, &bob_org).expect("members");
    assert_eq!(members.len(), 1, "{members:?}");
    if backend == Backend::Postgres {
        // The running instance heard that the key went with the organization.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let status = with_key().await.expect("get").status();
            if status == 401 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the deleted organization's key still answers {status}"
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Each operator change is in the audit log, with the user as actor, marked as the CLI's.
    let (ok, audit, err) = run(
        dir.path(),
        &["audit", "--actor", &ada_id, "--output", "json"],
        &env,
    );
    assert!(ok, "{err}");
    let events: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    for kind in ["password_set", "email_verified", "account_deleted"] {
        let event = events
            .iter()
            .find(|e| e["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} event: {audit}"));
        assert_eq!(event["detail"]["via"], "cli", "{event}");
    }
    assert!(!audit.contains("new secret one"), "{audit}");

    // Now alone, Bob may go, and his organization with him.
    let (ok, out, err) = run(dir.path(), &["user", "delete", "bob@example.com"], &env);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("deleted organization {bob_org}")),
        "{out}"
    );
    assert!(
        accounts::find_org(&mut conn, &bob_org)
            .expect("find")
            .is_none()
    );
    let (ok, _, err) = run(dir.path(), &["user", "delete", "bob@example.com"], &env);
    assert!(!ok);
    assert!(err.contains("no user bob@example.com"), "{err}");
}

#[actix_web::test]
async fn operators_manage_accounts_of_a_running_server_on_sqlite() {
    operators_manage_accounts_of_a_running_server(Backend::Sqlite).await;
}

#[actix_web::test]
async fn operators_manage_accounts_of_a_running_server_on_postgres() {
    operators_manage_accounts_of_a_running_server(Backend::Postgres).await;
}

/// TOTP with nothing set up: on SQLite the key file is made beside the database; on
/// PostgreSQL TOTP waits for PORTCULLIS_ENCRYPTION_KEYS. `user reset-mfa` removes it.
async fn totp_and_reset_mfa(backend: Backend) {
    let db = TestDb::new(backend);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut env = vec![
        ("PORTCULLIS_DATABASE_URL", db.url().to_owned()),
        ("PORTCULLIS_BIND", "127.0.0.1:0".to_owned()),
    ];
    if backend == Backend::Postgres {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let serve = Process::spawn(dir.path(), &[], &env);
        let api = Api::new(&serve.wait_listening());
        let ada = api.signup("ada@example.com", "correct horse").await;
        let (status, body) = api
            .post(
                "/api/v1/me/mfa/totp",
                Some(str_of(&ada, "token")),
                &json!({}),
            )
            .await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"]["code"], "mfa_unavailable");
        drop(serve);
        let _ = std::fs::remove_dir_all(dir.path().join("outbox"));
    }
    let key = format!("k1:{}", "ab".repeat(32));
    if backend == Backend::Postgres {
        env.push(("PORTCULLIS_ENCRYPTION_KEYS", key.clone()));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let serve = Process::spawn(dir.path(), &[], &env);
    let api = Api::new(&serve.wait_listening());
    let email = if backend == Backend::Postgres {
        "bea@example.com"
    } else {
        "ada@example.com"
    };
    let ada = api.signup(email, "correct horse").await;
    let token = str_of(&ada, "token");
    let (status, body) = api
        .post("/api/v1/me/mfa/totp", Some(token), &json!({}))
        .await;
    assert_eq!(status, 201, "{body}");
    let secret = str_of(&body, "secret").to_owned();
    let now = primitives::Clock::now(&primitives::SystemClock);
    let code = accounts::totp_code_for(&secret, now).expect("code");
    let (status, body) = api
        .post(
            "/api/v1/me/mfa/totp/confirm",
            Some(token),
            &json!({ "code": code }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    if let Some(path) = db.url().strip_prefix("sqlite://") {
        let file = Path::new(path)
            .parent()
            .expect("folder")
            .join("encryption.keys");
        let raw = std::fs::read_to_string(&file).expect("a key file beside the database");
        assert!(raw.starts_with("key-1:"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&file).expect("file").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
    let (status, body) = api.login(email, "correct horse").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (403, &json!("mfa_required")),
        "{body}"
    );

    let (ok, out, err) = run(dir.path(), &["user", "reset-mfa", email], &env);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("removed the second factors of {email}")),
        "{out}"
    );
    assert_eq!(
        api.login(email, "correct horse").await.0,
        200,
        "the password alone again"
    );
    let (ok, out, _) = run(dir.path(), &["user", "reset-mfa", email], &env);
    assert!(ok);
    assert!(out.contains("has no second factor"), "{out}");
    let (ok, _, err) = run(
        dir.path(),
        &["user", "reset-mfa", "nobody@example.com"],
        &env,
    );
    assert!(!ok);
    assert!(err.contains("no user nobody@example.com"), "{err}");
}

#[actix_web::test]
async fn totp_needs_no_set_up_on_sqlite_and_reset_mfa_removes_it() {
    totp_and_reset_mfa(Backend::Sqlite).await;
}

#[actix_web::test]
async fn totp_waits_for_encryption_keys_on_postgres_and_reset_mfa_removes_it() {
    totp_and_reset_mfa(Backend::Postgres).await;
}

#[test]
fn help_lists_the_account_commands_and_settings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ok, help) = output(dir.path(), &["serve", "--help"], &[]);
    assert!(ok);
    for setting in [
        "PORTCULLIS_SIGNUP",
        "PORTCULLIS_SIGNUP_DOMAINS",
        "PORTCULLIS_REQUIRE_VERIFIED_EMAIL",
        "PORTCULLIS_SMTP_URL",
        "PORTCULLIS_MAIL_FROM",
        "PORTCULLIS_MAIL_OUTBOX",
        "PORTCULLIS_BRAND_NAME",
        "PORTCULLIS_ENCRYPTION_KEYS",
        "PORTCULLIS_ENCRYPTION_KEYS_FILE",
    ] {
        assert!(
            help.contains(setting),
            "serve --help lacks {setting}:\n{help}"
        );
    }
    let (ok, help) = output(dir.path(), &["--help"], &[]);
    assert!(ok);
    assert!(help.contains("user"), "{help}");
    let (ok, help) = output(dir.path(), &["user", "--help"], &[]);
    assert!(ok);
    for command in [
        "set-password",
        "verify-email",
        "reset-mfa",
        "delete",
        "stdin",
    ] {
        assert!(
            help.contains(command),
            "user --help lacks {command}:\n{help}"
        );
    }
    // The SMTP URL's value is never shown, even when it is set.
    let (ok, help) = output(
        dir.path(),
        &["serve", "--help"],
        &[("PORTCULLIS_SMTP_URL", "smtp://u:Hidden-Pass-1@mail.example")],
    );
    assert!(ok);
    assert!(!help.contains("Hidden-Pass-1"), "{help}");
}

/// A From the mailer cannot use, or an outbox that cannot be a folder, stops the start with
/// one line naming it (instead of mail quietly going to a temporary folder).
#[test]
fn unusable_mail_settings_stop_the_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a folder").expect("write");
    let refused = |setting: (&str, &str), expected: &str| {
        let env = [("PORTCULLIS_BIND", "127.0.0.1:0"), setting];
        let (ok, lines) =
            Process::spawn(dir.path(), &[], &env).finish_within(Duration::from_secs(30));
        assert!(!ok, "should fail: {lines:?}");
        let last = lines.last().cloned().unwrap_or_default();
        assert!(
            last.starts_with("portcullis: error: ") && last.contains(expected),
            "{last:?} should contain {expected:?}"
        );
        assert!(!lines.iter().any(|l| l.contains("portcullis is listening")));
        lines
    };
    refused(
        ("PORTCULLIS_MAIL_FROM", "not an address"),
        "PORTCULLIS_MAIL_FROM \"not an address\" is not a mail address",
    );
    refused(
        ("PORTCULLIS_MAIL_OUTBOX", file.to_str().expect("utf8")),
        "the mail outbox folder",
    );
    let lines = refused(
        (
            "PORTCULLIS_SMTP_URL",
            "smtp://u:Bad-Url-Pass@mail.example/path",
        ),
        "invalid PORTCULLIS_SMTP_URL",
    );
    assert!(
        !lines.iter().any(|l| l.contains("Bad-Url-Pass")),
        "{lines:?}"
    );
}

/// Polls `read` until it gives at least `n` letters; panics naming what came when 30 s pass.
fn wait_for_letters(
    n: usize,
    read: impl Fn() -> Vec<mail::testing::ReceivedMessage>,
) -> Vec<mail::testing::ReceivedMessage> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let letters = read();
        if letters.len() >= n {
            return letters;
        }
        assert!(
            Instant::now() < deadline,
            "expected {n} letter(s), got {}",
            letters.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn token_of(letter: &mail::testing::ReceivedMessage) -> String {
    let link = letter.link().expect("a link in the letter");
    link.split("token=")
        .nth(1)
        .expect("a token in the link")
        .to_owned()
}

/// Collects every log line until the `portcullis is listening` one (returned apart).
fn start_lines(serve: &Process) -> (Vec<String>, String) {
    let mut lines = Vec::new();
    loop {
        let line = serve
            .stderr
            .recv_timeout(Duration::from_secs(30))
            .expect("portcullis did not report listening");
        if line.contains("portcullis is listening") {
            let v: Value = serde_json::from_str(&line).expect("json log line");
            let addr = str_of(&v, "addr").to_owned();
            lines.push(line);
            return (lines, addr);
        }
        lines.push(line);
    }
}

/// Sign-up, a password reset and the address's verification on the embedded default, with
/// debug logging: neither mailed token nor either password reaches stdout, stderr or the audit
/// log.
#[actix_web::test]
async fn mailed_tokens_and_passwords_reach_no_log_and_no_audit_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [
        ("PORTCULLIS_BIND", "127.0.0.1:0"),
        ("PORTCULLIS_LOG_LEVEL", "debug"),
    ];
    let serve = Process::spawn(dir.path(), &[], &env);
    let (mut log, addr) = start_lines(&serve);
    let outbox: PathBuf = dir.path().join("data/outbox");
    let named = std::fs::canonicalize(&outbox).expect("the outbox is made at start");
    assert!(
        log.iter().any(|l| l.contains("outgoing mail")
            && l.contains(&format!("outbox folder {}", named.display()))),
        "the start log names the outbox folder: {log:#?}"
    );
    let api = Api::new(&addr);
    let (first, second) = ("First-Passw0rd-9", "Second-Passw0rd-7");
    let ada = api.signup("ada@example.com", first).await;
    let letters = wait_for_letters(1, || mail::testing::read_outbox(&outbox));
    let verify_token = token_of(&letters[0]);

    let (status, _) = api
        .post(
            "/api/v1/auth/password/forgot",
            None,
            &json!({ "email": "ada@example.com" }),
        )
        .await;
    assert_eq!(status, 202);
    let letters = wait_for_letters(2, || mail::testing::read_outbox(&outbox));
    let reset_token = token_of(&letters[1]);
    assert!(
        letters[1]
            .link()
            .is_some_and(|l| l.contains("/password/reset?token="))
    );
    let (status, body) = api
        .post(
            "/api/v1/auth/password/reset",
            None,
            &json!({ "token": reset_token, "password": second }),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = api
        .post(
            "/api/v1/auth/verify-email",
            None,
            &json!({ "token": verify_token }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["emailVerified"], true, "{body}");
    assert_eq!(api.login("ada@example.com", first).await.0, 401);
    let (status, fresh) = api.login("ada@example.com", second).await;
    assert_eq!(status, 200, "{fresh}");
    // The notice of the reset is the third letter; waiting for it lets the sender log it.
    wait_for_letters(3, || mail::testing::read_outbox(&outbox));

    serve.terminate();
    let (ok, stderr, stdout) = serve.finish_with_stdout();
    assert!(ok, "{stderr:#?}");
    log.extend(stderr);
    log.extend(stdout);
    let log = log.join("\n");
    assert!(
        log.contains("\"DEBUG\""),
        "debug lines are on, so they are checked too"
    );
    let (ok, audit, err) = run(
        dir.path(),
        &["audit", "--limit", "1000", "--output", "json"],
        &[],
    );
    assert!(ok, "{err}");
    for kind in ["password_reset", "login.failed"] {
        assert!(
            audit.contains(&format!("\"kind\":\"{kind}\"")),
            "the audit log has {kind}: {audit}"
        );
    }
    let secrets = [
        ("the first password", first.to_owned()),
        ("the second password", second.to_owned()),
        ("the verification token", verify_token),
        ("the reset token", reset_token),
        (
            "the sign-up's refresh token",
            str_of(&ada, "refreshToken").to_owned(),
        ),
        (
            "the sign-in's access token",
            str_of(&fresh, "token").to_owned(),
        ),
    ];
    for (what, secret) in &secrets {
        assert!(!log.contains(secret.as_str()), "{what} reached the log");
        assert!(
            !audit.contains(secret.as_str()),
            "{what} reached the audit log"
        );
    }
}

/// `PORTCULLIS_SMTP_URL` with a user and password: the verification letter is delivered
/// through a server that insists on AUTH, and the password is in no log line, plain or in
/// the base64 of AUTH PLAIN or LOGIN.
#[actix_web::test]
async fn the_smtp_password_reaches_no_log_line() {
    use base64::Engine as _;
    let password = "s3cret-pass";
    let smtp = mail::testing::SmtpServer::start_with_auth("user", password);
    let url = format!("smtp://user:{password}@127.0.0.1:{}", smtp.port());
    let dir = tempfile::tempdir().expect("tempdir");
    let serve = Process::spawn(
        dir.path(),
        &[],
        &[
            ("PORTCULLIS_BIND", "127.0.0.1:0"),
            ("PORTCULLIS_LOG_LEVEL", "debug"),
            ("PORTCULLIS_SMTP_URL", &url),
        ],
    );
    let (mut log, addr) = start_lines(&serve);
    assert!(
        log.iter().any(|l| l.contains("outgoing mail")
            && l.contains(&format!("SMTP server 127.0.0.1:{}", smtp.port()))
            && l.contains("as user")),
        "the start log names the SMTP server: {log:#?}"
    );
    let api = Api::new(&addr);
    api.signup("ada@example.com", "correct horse").await;
    let letters = smtp.wait_for(1, Duration::from_secs(30));
    assert_eq!(letters[0].to(), "ada@example.com");
    assert!(
        letters[0]
            .link()
            .is_some_and(|l| l.contains("/verify-email?token=")),
        "{:?}",
        letters[0].text
    );
    assert!(
        !dir.path().join("data/outbox").exists(),
        "nothing goes to the outbox when SMTP is set"
    );
    serve.terminate();
    let (ok, stderr, stdout) = serve.finish_with_stdout();
    assert!(ok, "{stderr:#?}");
    log.extend(stderr);
    log.extend(stdout);
    let log = log.join("\n");
    assert!(log.contains("\"DEBUG\""), "debug lines are on");
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    for secret in [
        password.to_owned(),
        b64(password),
        b64(&format!("\0user\0{password}")),
        token_of(&letters[0]),
    ] {
        assert!(!log.contains(&secret), "{secret:?} reached the log");
    }
}
