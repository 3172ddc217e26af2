//! What every server test uses: a real server on a free port over a throw-away database.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, OnceLock};

use actix_web::dev::ServerHandle;
use primitives::{Clock as _, ManualClock, SystemClock};
pub use server::{RegistrationPolicy, Settings};
pub use store::Backend;
pub use store::testing::TestDb;

/// A server listening on a free loopback port, with its issuer set to that address and a clock
/// the test moves by hand; stopped when dropped.
/// The encryption keys every test server has unless a test sets its own: 64 hex characters.
pub const TEST_ENCRYPTION_KEYS: &str =
    "test:7465737420656e6372797074696f6e206b6579206f6620746865207465737473";

pub struct TestServer {
    pub base: String,
    pub handle: ServerHandle,
    pub http: reqwest::Client,
    pub clock: Arc<ManualClock>,
    /// Where the server writes mail when no SMTP server is set (the default here).
    pub outbox: std::path::PathBuf,
    _outbox: tempfile::TempDir,
    /// Every `/api/` answer that did not match the OpenAPI document; the test fails on drop.
    pub api_drift: Arc<Mutex<Vec<String>>>,
    /// The master key the server seals with (its signing keys, TOTP secrets).
    pub encryption_keys: Option<Arc<primitives::seal::KeyRing>>,
}

impl TestServer {
    pub fn start(db: &TestDb) -> Self {
        Self::start_with(db, |_| {})
    }

    /// Starts with settings adjusted by `adjust` (the bind address, issuer and database are
    /// set already; keys are reloaded on every request unless `adjust` says otherwise).
    pub fn start_with(db: &TestDb, adjust: impl FnOnce(&mut Settings)) -> Self {
        Self::start_with_state(db, adjust, |_| {})
    }

    /// [`Self::start_with`], with the application state adjusted by `adjust_state` before the
    /// server starts (e.g. the gateway's resolver replaced).
    pub fn start_with_state(
        db: &TestDb,
        adjust: impl FnOnce(&mut Settings),
        adjust_state: impl FnOnce(&mut server::AppState),
    ) -> Self {
        Self::start_as(db, None, adjust, adjust_state)
    }

    /// [`Self::start_with`], with the issuer `http://localhost:PORT` (still listening on
    /// 127.0.0.1): browsers refuse an IP address as a WebAuthn relying party, so the passkey
    /// tests need a host name.
    pub fn start_on_localhost(db: &TestDb, adjust: impl FnOnce(&mut Settings)) -> Self {
        Self::start_as(db, Some("localhost"), adjust, |_| {})
    }

    fn start_as(
        db: &TestDb,
        host: Option<&str>,
        adjust: impl FnOnce(&mut Settings),
        adjust_state: impl FnOnce(&mut server::AppState),
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        Self::start_listening(db, listener, host, adjust, adjust_state)
    }

    /// [`Self::start_with_state`] on a listener bound already (a test that must know the
    /// address first, or that serves on another loopback address: two servers on one host
    /// would share the browser's cookies).
    pub fn start_on(
        db: &TestDb,
        listener: TcpListener,
        adjust: impl FnOnce(&mut Settings),
        adjust_state: impl FnOnce(&mut server::AppState),
    ) -> Self {
        Self::start_listening(db, listener, None, adjust, adjust_state)
    }

    /// [`Self::start_with_state`], or why the server refused to start (its start-up checks).
    pub fn try_start_with_state(
        db: &TestDb,
        adjust: impl FnOnce(&mut Settings),
        adjust_state: impl FnOnce(&mut server::AppState),
    ) -> Result<Self, server::RunError> {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        Self::try_start_listening(db, listener, None, adjust, adjust_state)
    }

    /// The server on `listener`, its issuer named by `host` (else the listener's address).
    fn start_listening(
        db: &TestDb,
        listener: TcpListener,
        host: Option<&str>,
        adjust: impl FnOnce(&mut Settings),
        adjust_state: impl FnOnce(&mut server::AppState),
    ) -> Self {
        Self::try_start_listening(db, listener, host, adjust, adjust_state).expect("start")
    }

    fn try_start_listening(
        db: &TestDb,
        listener: TcpListener,
        host: Option<&str>,
        adjust: impl FnOnce(&mut Settings),
        adjust_state: impl FnOnce(&mut server::AppState),
    ) -> Result<Self, server::RunError> {
        let addr = listener.local_addr().expect("addr");
        let base = match host {
            Some(host) => format!("http://{host}:{}", addr.port()),
            None => format!("http://{addr}"),
        };
        let mut settings = Settings {
            bind: addr.to_string(),
            database_url: store::DatabaseUrl::parse(db.url()).expect("database url"),
            workers: 1,
            keys_refresh: 0,
            scopes: "openid profile email offline_access orders:read orders:write"
                .split(' ')
                .map(str::to_owned)
                .collect(),
            // Every request of a test comes from 127.0.0.1: the per-IP rate limits are off
            // unless a test turns them on (see `rate_limits.rs`).
            rate_limits: server::ratelimit::Limits {
                login: 0,
                signup: 0,
                token_per_ip: 0,
                token_per_client: 0,
                registration: 0,
                device_code: 0,
            },
            // TOTP secrets and signing keys are sealed under the tests' ring: one fixed key,
            // so a second server on the same database opens what the first sealed (as an
            // operator's instances share PORTCULLIS_ENCRYPTION_KEYS).
            encryption_keys: Some(Arc::new(
                primitives::seal::KeyRing::parse(TEST_ENCRYPTION_KEYS).expect("key ring"),
            )),
            ..Settings::default()
        };
        settings.set_issuer(url::Url::parse(&base).expect("issuer"));
        let outbox_dir = tempfile::tempdir().expect("outbox folder");
        let outbox = outbox_dir.path().join("outbox");
        settings.mail = mail::MailSettings::outbox(&outbox);
        // Retries come quickly in tests (a mail server that is down at first).
        settings.mail.retry_delays = [50, 100, 200, 400, 800, 1600, 3200]
            .into_iter()
            .map(std::time::Duration::from_millis)
            .collect();
        adjust(&mut settings);
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let encryption_keys = settings.encryption_keys.clone();
        let mut state = server::AppState::with_clock(settings, db.store().clone(), clock.clone());
        let api_drift = Arc::new(Mutex::new(Vec::new()));
        let drift = Arc::clone(&api_drift);
        state.api_answers = Some(server::state::AnswerHook(Arc::new(move |answer| {
            if let Err(why) = AnswerCheck::get().check(answer) {
                drift.lock().expect("drift list").push(why);
            }
        })));
        adjust_state(&mut state);
        let running = server::start_on(state, listener)?;
        let handle = running.server.handle();
        actix_web::rt::spawn(running.server);
        Ok(Self {
            base,
            handle,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            clock,
            outbox,
            _outbox: outbox_dir,
            api_drift,
            encryption_keys,
        })
    }

    /// The letters in the server's outbox so far.
    pub fn outbox_mail(&self) -> Vec<mail::testing::ReceivedMessage> {
        mail::testing::read_outbox(&self.outbox)
    }

    /// Waits (polling, at most 10 s) until the outbox holds `n` letters; returns them all.
    pub async fn wait_for_mail(&self, n: usize) -> Vec<mail::testing::ReceivedMessage> {
        wait_for_letters(n, || self.outbox_mail()).await
    }

    /// The server's current time.
    pub fn clock_now(&self) -> i64 {
        self.clock.now()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("request")
    }

    /// POSTs a form body, with optional Basic credentials.
    pub async fn post_form(
        &self,
        path: &str,
        basic: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self.http.post(self.url(path)).form(form);
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        req.send().await.expect("request")
    }

    /// POSTs JSON.
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        actix_web::rt::spawn(async move { handle.stop(false).await });
        if !std::thread::panicking() {
            let drift = self.api_drift.lock().expect("drift list");
            assert!(
                drift.is_empty(),
                "answers under /api/ that the OpenAPI document does not describe:\n{}",
                drift.join("\n")
            );
        }
    }
}

/// The OpenAPI document's answers, compiled to JSON Schema validators: every answer under
/// `/api/` that a server test receives is checked here (its status listed for its route, its
/// body valid against that status's schema), so the document cannot drift from the code.
///
/// Checked strictly: an object schema with `properties` admits no other property, so a field
/// renamed in the code but not in the document fails as surely as one missing.
pub struct AnswerCheck {
    /// (method, path pattern) → status → the body's validator (`None`: no body).
    operations: HashMap<(String, String), HashMap<u16, Option<jsonschema::Validator>>>,
    /// The JSON error shape, for answers of no route (unknown paths, wrong methods).
    error: jsonschema::Validator,
    /// The methods of each documented path.
    methods: HashMap<String, Vec<String>>,
}

impl AnswerCheck {
    /// The checker of the server's own document, compiled once per test binary.
    pub fn get() -> &'static Self {
        static CHECK: OnceLock<AnswerCheck> = OnceLock::new();
        CHECK.get_or_init(|| Self::new(server::openapi_document()))
    }

    pub fn new(doc: &serde_json::Value) -> Self {
        let mut components = doc["components"].clone();
        close_objects(&mut components);
        let compile = |schema: &serde_json::Value| {
            let wrapped = serde_json::json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "components": components,
                "allOf": [schema],
            });
            jsonschema::draft202012::new(&wrapped).expect("a schema of the document compiles")
        };
        let mut operations = HashMap::new();
        let mut methods: HashMap<String, Vec<String>> = HashMap::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                let mut answers = HashMap::new();
                for (status, answer) in op["responses"].as_object().expect("responses") {
                    let schema = &answer["content"]["application/json"]["schema"];
                    let validator = (!schema.is_null()).then(|| compile(schema));
                    answers.insert(status.parse().expect("a numeric status"), validator);
                }
                let method = method.to_ascii_uppercase();
                methods
                    .entry(path.clone())
                    .or_default()
                    .push(method.clone());
                operations.insert((method, path.clone()), answers);
            }
        }
        let error = compile(&serde_json::json!({ "$ref": "#/components/schemas/ApiError" }));
        Self {
            operations,
            error,
            methods,
        }
    }

    /// Why `answer` is not what the document says, if it is not.
    pub fn check(&self, answer: &server::state::ApiAnswer<'_>) -> Result<(), String> {
        let what = format!("{} {} → {}", answer.method, answer.path, answer.status);
        let body = || -> Result<serde_json::Value, String> {
            if !answer
                .content_type
                .is_some_and(|c| c.starts_with("application/json"))
            {
                return Err(format!("{what}: content type {:?}", answer.content_type));
            }
            serde_json::from_slice(answer.body).map_err(|e| format!("{what}: not JSON: {e}"))
        };
        let valid = |validator: &jsonschema::Validator, value: &serde_json::Value| {
            let errors: Vec<String> = validator
                .iter_errors(value)
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            if errors.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{what}: {value} does not match: {}",
                    errors.join("; ")
                ))
            }
        };
        let pattern = answer.pattern.unwrap_or_default();
        let key = (answer.method.to_owned(), pattern.to_owned());
        let Some(answers) = self.operations.get(&key) else {
            // No route: an unknown path (404), or a method its path does not take (405, with
            // the documented methods in `Allow`).
            match (self.methods.get(pattern), answer.status) {
                (None, 404) => {}
                (Some(methods), 405) => {
                    let mut allow: Vec<&str> =
                        answer.allow.unwrap_or_default().split(", ").collect();
                    let mut documented: Vec<&str> = methods.iter().map(String::as_str).collect();
                    allow.sort_unstable();
                    documented.sort_unstable();
                    if allow != documented {
                        return Err(format!(
                            "{what}: Allow {allow:?}, documented {documented:?}"
                        ));
                    }
                }
                _ => return Err(format!("{what}: an answer of no documented route")),
            }
            return valid(&self.error, &body()?);
        };
        match answers.get(&answer.status) {
            None => Err(format!("{what}: status not documented for {pattern}")),
            Some(None) if answer.body.is_empty() => Ok(()),
            Some(None) => Err(format!("{what}: a body where the document has none")),
            Some(Some(validator)) => valid(validator, &body()?),
        }
    }
}

/// Every object schema with `properties` (and no word on others) admits no other property.
fn close_objects(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), false.into());
            }
            map.values_mut().for_each(close_objects);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

/// The scopes of a space-separated list, as `PORTCULLIS_SCOPES` gives them.
pub fn scopes(list: &str) -> Vec<String> {
    list.split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The trusted proxies of a list, as `PORTCULLIS_TRUSTED_PROXIES` gives them.
pub fn proxies(list: &str) -> server::forwarded::TrustedProxies {
    server::forwarded::TrustedProxies::parse(list).expect("trusted proxies")
}

/// A gateway master key, as `PORTCULLIS_MASTER_KEY` gives it.
pub fn master_key(raw: &str) -> Arc<gateway::MasterKey> {
    Arc::new(gateway::MasterKey::parse(raw).expect("master key"))
}

/// A response's JSON body.
pub async fn json_of(res: reqwest::Response) -> serde_json::Value {
    res.json().await.expect("a JSON body")
}

/// Declares each async test once per backend: `name::sqlite` and `name::postgres`.
macro_rules! on_both_backends {
    ($( async fn $name:ident($db:ident) $body:block )*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
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
pub(crate) use on_both_backends;

/// Waits (polling, at most 10 s) until `read` gives `n` letters; returns them all.
pub async fn wait_for_letters(
    n: usize,
    read: impl Fn() -> Vec<mail::testing::ReceivedMessage>,
) -> Vec<mail::testing::ReceivedMessage> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let letters = read();
        if letters.len() >= n {
            return letters;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expected {n} letter(s), got {}: {:?}",
            letters.len(),
            letters
                .iter()
                .map(|l| l.subject().to_owned())
                .collect::<Vec<_>>()
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
