//! A small W3C WebDriver client driving Debian's headless Chromium through chromedriver.
//! Enough for the page tests: open, type, click, read.

use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    http: reqwest::Client,
    base: String,
    session: String,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn find(candidates: &[&str]) -> Option<String> {
    candidates
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(|p| (*p).to_owned())
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session.
    ///
    /// # Panics
    /// When Chromium or chromedriver is missing: install Debian's `chromium` and
    /// `chromium-driver` (`.ci/run` does).
    pub async fn start() -> Self {
        Self::start_in(None).await
    }

    /// [`Self::start`] with a browser language (`Accept-Language`, e.g. `"de"`).
    pub async fn start_in(language: Option<&str>) -> Self {
        let driver_bin = find(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"])
            .expect("chromedriver not found: apt-get install chromium chromium-driver");
        let chrome_bin = find(&["/usr/bin/chromium", "/usr/lib/chromium/chromium"])
            .expect("chromium not found: apt-get install chromium chromium-driver");
        let port = free_port();
        // chromedriver leads a process group of its own, and Chromium's processes join it:
        // dropping the browser ends the whole group, not chromedriver alone (which would leave
        // Chromium running, hundreds of processes over a suite).
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio_sleep(100).await;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let mut caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chrome_bin,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1000,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        }}});
        if let Some(language) = language {
            let options = &mut caps["capabilities"]["alwaysMatch"]["goog:chromeOptions"];
            options["prefs"] = json!({ "intl.accept_languages": language });
            if let Some(args) = options["args"].as_array_mut() {
                args.push(json!(format!("--lang={language}")));
            }
        }
        let res: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("json");
        let session = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {res}"))
            .to_owned();
        Self {
            driver,
            http,
            base,
            session,
            _profile: profile,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        match self.try_call(method, path, body).await {
            Ok(value) => value,
            Err(error) => panic!("webdriver {path}: {error}"),
        }
    }

    /// A WebDriver command; `Err` holds the driver's error object.
    async fn try_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Value> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, &url);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res: Value = req
            .send()
            .await
            .expect("webdriver")
            .json()
            .await
            .expect("json");
        if res["value"].get("error").is_some() {
            return Err(res["value"].clone());
        }
        Ok(res["value"].clone())
    }

    /// Finds `css` and sends `command` to it. An element found on the page that was being
    /// replaced (a navigation still finishing on a loaded machine) is "stale": it is found
    /// again on the new page, up to a few times.
    async fn on_element(&self, css: &str, command: &str, body: Value) {
        for _ in 0..5 {
            let id = self.element(css).await;
            let path = format!("/element/{id}/{command}");
            match self
                .try_call(reqwest::Method::POST, &path, Some(body.clone()))
                .await
            {
                Ok(_) => return,
                Err(e) if e["error"] == "stale element reference" => continue,
                Err(e) => panic!("webdriver {path}: {e}"),
            }
        }
        panic!("{css} stayed stale through five page loads");
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// Navigates to a URL that ends at an address with nothing listening (a client's redirect
    /// URI in these tests): the browser reports a network error, which is expected here.
    pub async fn goto_expecting_dead_end(&self, url: &str) {
        let path = format!("{}/session/{}/url", self.base, self.session);
        let _ = self
            .http
            .post(path)
            .json(&json!({ "url": url }))
            .send()
            .await;
    }

    pub async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn element(&self, css: &str) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        v[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_owned()
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        self.on_element(css, "value", json!({ "text": text })).await;
    }

    pub async fn click(&self, css: &str) {
        self.on_element(css, "click", json!({})).await;
    }

    /// Empties an input (one filled in by the page, before typing a new value).
    pub async fn clear(&self, css: &str) {
        self.on_element(css, "clear", json!({})).await;
    }

    /// How many elements match `css` on the current page.
    pub async fn count(&self, css: &str) -> usize {
        let found = self
            .call(
                reqwest::Method::POST,
                "/elements",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        found.as_array().map_or(0, Vec::len)
    }

    /// The rendered text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        for _ in 0..5 {
            let id = self.element(css).await;
            match self
                .try_call(reqwest::Method::GET, &format!("/element/{id}/text"), None)
                .await
            {
                Ok(text) => return text.as_str().unwrap_or_default().to_owned(),
                Err(e) if e["error"] == "stale element reference" => continue,
                Err(e) => panic!("webdriver text of {css}: {e}"),
            }
        }
        panic!("{css} stayed stale through five page loads");
    }

    /// Scrolls the first element matching `css` to the top of the window (for a screenshot of
    /// what is below the fold). The script is the test's: the pages themselves need none.
    pub async fn scroll_to(&self, css: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({
                "script": "arguments[0].scrollIntoView({block: 'start'});",
                "args": [{ ELEMENT_KEY: id }],
            })),
        )
        .await;
    }

    /// Where the first element matching `css` is drawn, in CSS pixels: `(x, y, width,
    /// height)` relative to the page's top left.
    pub async fn rect(&self, css: &str) -> (f64, f64, f64, f64) {
        let id = self.element(css).await;
        let r = self
            .call(reqwest::Method::GET, &format!("/element/{id}/rect"), None)
            .await;
        let n = |k: &str| r[k].as_f64().unwrap_or_else(|| panic!("no {k} in {r}"));
        (n("x"), n("y"), n("width"), n("height"))
    }

    /// The current URL's path and query (`/login/mfa?return_to=…`).
    pub async fn path(&self) -> String {
        let url = self.url().await;
        url.split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_owned()))
            .unwrap_or_default()
    }

    /// Waits until the current URL's path and query start with `prefix`; returns them.
    pub async fn wait_for_path_starting(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let path = self.path().await;
            if path.starts_with(prefix) {
                return path;
            }
            assert!(
                Instant::now() < deadline,
                "still at {path}, expected {prefix}…"
            );
            tokio_sleep(50).await;
        }
    }

    /// The page's title.
    pub async fn title(&self) -> String {
        self.call(reqwest::Method::GET, "/title", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits (at most 15 s) until the page's source holds `text` (after a form submission that
    /// answers at the same address, or a followed link); returns the source.
    pub async fn wait_for_text(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let page = self.source().await;
            if page.contains(text) {
                return page;
            }
            assert!(
                Instant::now() < deadline,
                "no {text:?} at {}: {page}",
                self.url().await
            );
            tokio_sleep(50).await;
        }
    }

    /// Waits until the current URL ends with `path` (after a form submission).
    pub async fn wait_for_path(&self, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let url = self.url().await;
            let current = url
                .split_once("://")
                .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_owned()));
            if current.as_deref() == Some(path) {
                return;
            }
            assert!(Instant::now() < deadline, "still at {url}, expected {path}");
            tokio_sleep(50).await;
        }
    }

    /// Saves a PNG screenshot when PORTCULLIS_SCREENSHOTS names a folder.
    pub async fn screenshot(&self, name: &str) {
        let Ok(dir) = std::env::var("PORTCULLIS_SCREENSHOTS") else {
            return;
        };
        use base64::Engine as _;
        let data = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .expect("png");
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png)
            .expect("write screenshot");
    }
}

/// A virtual authenticator of WebDriver's WebAuthn extension (W3C WebAuthn §11): a CTAP2
/// device built into the browser, holding discoverable credentials and verifying its user
/// (as a fingerprint would) without anyone there.
#[derive(Debug, Clone)]
pub struct Authenticator(String);

impl Browser {
    /// Adds a virtual authenticator: CTAP2, internal (a platform authenticator, like a
    /// laptop's fingerprint reader), with discoverable credentials and user verification that
    /// succeeds.
    pub async fn add_authenticator(&self) -> Authenticator {
        let id = self
            .call(
                reqwest::Method::POST,
                "/webauthn/authenticator",
                Some(json!({
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserVerified": true,
                    "isUserConsenting": true,
                })),
            )
            .await;
        Authenticator(id.as_str().expect("an authenticator id").to_owned())
    }

    /// Takes an authenticator (and its credentials) away.
    pub async fn remove_authenticator(&self, authenticator: &Authenticator) {
        self.call(
            reqwest::Method::DELETE,
            &format!("/webauthn/authenticator/{}", authenticator.0),
            None,
        )
        .await;
    }

    /// The credentials an authenticator holds (`credentialId`, `rpId`, `userHandle`,
    /// `signCount`, `privateKey`, `isResidentCredential`).
    pub async fn credentials(&self, authenticator: &Authenticator) -> Vec<Value> {
        self.call(
            reqwest::Method::GET,
            &format!("/webauthn/authenticator/{}/credentials", authenticator.0),
            None,
        )
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
    }

    /// Puts a credential (as [`Self::credentials`] lists it) into an authenticator: the same
    /// key on another device.
    pub async fn add_credential(&self, authenticator: &Authenticator, credential: &Value) {
        self.call(
            reqwest::Method::POST,
            &format!("/webauthn/authenticator/{}/credential", authenticator.0),
            Some(credential.clone()),
        )
        .await;
    }

    /// Removes one credential from an authenticator.
    pub async fn remove_credential(&self, authenticator: &Authenticator, credential_id: &str) {
        self.call(
            reqwest::Method::DELETE,
            &format!(
                "/webauthn/authenticator/{}/credentials/{credential_id}",
                authenticator.0
            ),
            None,
        )
        .await;
    }

    /// Runs an asynchronous script in the page (WebDriver's execute/async: the script calls
    /// its last argument with the result); the test's script, not the page's.
    pub async fn execute_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }
}

/// The WCAG tags whose rules axe-core runs: WCAG 2.0, 2.1 and 2.2, levels A and AA.
const AXE_TAGS: [&str; 6] = [
    "wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa",
];

/// The impacts that fail the check (axe-core's scale: minor, moderate, serious, critical).
const FAILING_IMPACTS: [&str; 2] = ["serious", "critical"];

/// The page-side measure of non-text contrast (borders, fills and focus indicators).
const NON_TEXT_CONTRAST: &str = include_str!("non_text_contrast.js");

/// At most this many Tab presses per page (the account page has a few dozen stops).
const MAX_TAB_STOPS: usize = 300;

/// Where axe-core's code is: `PORTCULLIS_AXE_JS`, else `target/axe/axe.min.js` of the
/// workspace, where `scripts/axe` puts it.
pub fn axe_path() -> std::path::PathBuf {
    std::env::var_os("PORTCULLIS_AXE_JS").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/axe/axe.min.js"),
        std::path::PathBuf::from,
    )
}

/// axe-core's code at `path`, or why not (naming `scripts/axe`, which fetches it).
pub fn read_axe(path: &std::path::Path) -> Result<String, String> {
    match std::fs::read_to_string(path) {
        Ok(source) if source.contains("axe.version") => Ok(source),
        Ok(_) => Err(format!(
            "{} is not axe-core: run scripts/axe (it fetches the pinned axe-core into \
             target/axe/)",
            path.display()
        )),
        Err(error) => Err(format!(
            "axe-core not found at {} ({error}): run scripts/axe, which fetches the pinned \
             axe-core into target/axe/ (or set PORTCULLIS_AXE_JS to its axe.min.js)",
            path.display()
        )),
    }
}

/// axe-core's code, fetched by `scripts/axe` (pinned, hash-checked); read once per test
/// binary. A missing file fails the test (never skips it).
fn axe_source() -> &'static str {
    static SOURCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SOURCE.get_or_init(|| read_axe(&axe_path()).unwrap_or_else(|why| panic!("{why}")))
}

impl Browser {
    /// Runs a synchronous script in the page (WebDriver's execute/sync): the test's script,
    /// which the page's Content-Security-Policy does not govern (Chromium runs it through the
    /// DevTools protocol, as it runs the WebAuthn scripts of the passkey tests).
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// Presses and releases Tab: focus moves as a keyboard user moves it.
    async fn press_tab(&self) {
        let tab = "\u{E004}";
        self.call(
            reqwest::Method::POST,
            "/actions",
            Some(json!({ "actions": [{
                "type": "key",
                "id": "keyboard",
                "actions": [
                    { "type": "keyDown", "value": tab },
                    { "type": "keyUp", "value": tab },
                ],
            }]})),
        )
        .await;
    }

    /// Checks the current page, called `name` in the failure, for accessibility; panics
    /// listing every problem [`Self::accessibility_problems`] finds.
    pub async fn assert_accessible(&self, name: &str) {
        let problems = self.accessibility_problems().await;
        assert!(
            problems.is_empty(),
            "the page {name:?} ({}) has {} accessibility problem(s):\n  {}",
            self.url().await,
            problems.len(),
            problems.join("\n  ")
        );
    }

    /// The accessibility problems of the current page, one line each:
    /// - axe-core's rules of WCAG 2.0, 2.1 and 2.2, levels A and AA: every violation of
    ///   impact serious or critical (rule, impact, elements, help URL);
    /// - non-text contrast (WCAG 2.2 SC 1.4.11), which axe-core does not measure: each visible
    ///   form control's and button's border (or fill) against the background behind it, and
    ///   the focus indicator of every element Tab reaches against what it is drawn on, each at
    ///   least 3:1. Tab must reach at least one element.
    ///
    /// Focus moves (Tab goes round the page once).
    pub async fn accessibility_problems(&self) -> Vec<String> {
        let mut problems = self.axe_violations().await;
        let controls = self
            .execute(NON_TEXT_CONTRAST, vec![json!("controls")])
            .await;
        for offender in controls.as_array().into_iter().flatten() {
            problems.push(format!(
                "non-text contrast below 3:1 (WCAG 1.4.11): {}",
                offender.as_str().unwrap_or_default()
            ));
        }
        let (reached, rings) = self.focus_indicators().await;
        if reached == 0 {
            problems.push("Tab reaches no element of the page".to_owned());
        }
        problems.extend(
            rings
                .into_iter()
                .map(|p| format!("focus indicator below 3:1 (WCAG 1.4.11): {p}")),
        );
        problems
    }

    /// axe-core's serious and critical violations of the current page, one line each (with
    /// the elements below it).
    async fn axe_violations(&self) -> Vec<String> {
        let loaded = self
            .execute(
                &format!(
                    "if (typeof window.axe === 'undefined') {{\n{}\n}}\n\
                     return typeof window.axe === 'object' ? window.axe.version : null;",
                    axe_source()
                ),
                vec![],
            )
            .await;
        let version = loaded
            .as_str()
            .unwrap_or_else(|| panic!("axe-core did not load into the page: {loaded}"));
        let found = self
            .execute_async(
                "const [tags, done] = arguments;
                 axe.run(document, { runOnly: { type: 'tag', values: tags },
                                     resultTypes: ['violations'] })
                   .then(r => done({ violations: r.violations.map(v => ({
                       id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                       nodes: v.nodes.map(n => ({ target: n.target.join(' '),
                                                  impact: n.impact,
                                                  summary: n.failureSummary })),
                     })) }),
                     e => done({ error: String(e) }));",
                vec![json!(AXE_TAGS)],
            )
            .await;
        let violations = found["violations"]
            .as_array()
            .unwrap_or_else(|| panic!("axe-core {version} did not run: {found}"));
        violations
            .iter()
            .filter(|v| FAILING_IMPACTS.contains(&v["impact"].as_str().unwrap_or_default()))
            .map(|v| {
                let nodes = v["nodes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|n| {
                        format!(
                            "\n      {} [{}]: {}",
                            n["target"].as_str().unwrap_or_default(),
                            n["impact"].as_str().unwrap_or_default(),
                            n["summary"].as_str().unwrap_or_default().replace('\n', " ")
                        )
                    })
                    .collect::<String>();
                format!(
                    "axe-core {version} {} [{}]: {} ({}){nodes}",
                    v["id"].as_str().unwrap_or_default(),
                    v["impact"].as_str().unwrap_or_default(),
                    v["help"].as_str().unwrap_or_default(),
                    v["helpUrl"].as_str().unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Tabs through the page until focus comes back to an element it measured (or leaves the
    /// page twice in a row): how many elements it reached, and the focus indicators below 3:1.
    async fn focus_indicators(&self) -> (usize, Vec<String>) {
        let (mut reached, mut problems, mut outside) = (0, Vec::new(), 0);
        for _ in 0..MAX_TAB_STOPS {
            self.press_tab().await;
            let focused = self
                .execute(NON_TEXT_CONTRAST, vec![json!("focused")])
                .await;
            if focused.is_null() {
                outside += 1;
                if outside == 2 {
                    break;
                }
                continue;
            }
            outside = 0;
            if focused["seen"] == true {
                break;
            }
            reached += 1;
            if let Some(problem) = focused["problem"].as_str() {
                problems.push(problem.to_owned());
            }
        }
        (reached, problems)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

async fn tokio_sleep(ms: u64) {
    actix_web::rt::time::sleep(Duration::from_millis(ms)).await;
}
