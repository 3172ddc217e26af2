//! The automated accessibility check on every page of the product, in a real headless
//! Chromium: one tour that signs people up and in, sets up two-step sign-in and a passkey,
//! mints an API key, asks for consent, invites, resets a password and signs out, and on each
//! page it reaches runs [`Browser::assert_accessible`]: axe-core's WCAG 2.0/2.1/2.2 A and AA
//! rules (no serious or critical violation), and non-text contrast (WCAG 2.2 SC 1.4.11) of
//! every control's border and of every focus ring Tab reaches, at least 3:1.
//!
//! Pages reached by a plain address are listed in [`ANONYMOUS`] and [`SIGNED_IN`], one line
//! each; a new page (the admin console's) is one more line there, or, when it needs a form
//! sent first, one `check` call where the tour reaches it. axe-core comes from `scripts/axe`
//! (see `docs/operations.md`, "The accessibility check").

use serde_json::{Value, json};

use crate::authorize::{code_client, dead_redirect_uri};
use crate::browser::Browser;
use crate::common::*;

/// A page reached by its address: its name in a failure, the path (`{org}` stands for the
/// signed-in account's organization), and a text the page shows once it is drawn.
struct Page(&'static str, &'static str, &'static str);

/// Pages anyone can open, signed out.
const ANONYMOUS: &[Page] = &[
    Page("sign-in", "/login", "Forgot your password?"),
    Page("sign-up", "/signup", "Create an account"),
    Page("forgot-password", "/password/forgot", "Send the link"),
    Page(
        "error-page",
        "/oauth2/authorize?response_type=code&client_id=no-such-client",
        "class=\"status\"",
    ),
    Page(
        "notice-failed",
        "/verify-email?token=no-such-token",
        "This link does not work",
    ),
];

/// Pages of a signed-in account (Ada: verified, a passkey, an API key, two-step sign-in on).
const SIGNED_IN: &[Page] = &[
    Page("account", "/account", "Your account"),
    Page(
        "security-on",
        "/account/security",
        "An authenticator app is on",
    ),
    Page("api-keys", "/account/orgs/{org}/keys", "API keys of"),
    Page(
        "sign-in-another-account",
        "/login?add=1",
        "Forgot your password?",
    ),
];

const PASSWORD: &str = "analytical engine";
/// The password `api_auth::signup` gives the accounts it makes.
const API_PASSWORD: &str = "correct horse";
const MFA: &str = "urn:portcullis:mfa";

/// Runs the check on the page the browser shows.
async fn check(browser: &Browser, name: &str) {
    browser.assert_accessible(name).await;
    browser.screenshot(&format!("a11y-{name}")).await;
}

/// Opens each page of `pages` and checks it.
async fn visit(browser: &Browser, server: &TestServer, pages: &[Page], org: &str) {
    for Page(name, path, shows) in pages {
        browser.goto(&server.url(&path.replace("{org}", org))).await;
        browser.wait_for_text(shows).await;
        check(browser, name).await;
    }
}

/// The link of the newest letter to `to` whose link holds `holds`, waiting (at most 10 s)
/// for it to arrive.
async fn link_to(server: &TestServer, to: &str, holds: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let found = server
            .outbox_mail()
            .iter()
            .rev()
            .filter(|l| l.to() == to)
            .filter_map(|l| l.link())
            .find(|link| link.contains(holds));
        if let Some(link) = found {
            return link;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no letter to {to} with a link to {holds}"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn sign_in(browser: &Browser, server: &TestServer, email: &str, password: &str) {
    browser.goto(&server.url("/login")).await;
    browser.wait_for_text("Forgot your password?").await;
    browser.clear("#email").await;
    browser.type_into("#email", email).await;
    browser.type_into("#password", password).await;
    browser
        .click("form[action='/login'] button[type=submit]")
        .await;
}

fn code_now(server: &TestServer, secret: &str) -> String {
    accounts::totp_code_for(secret, server.clock_now()).expect("a code")
}

fn wrong_code(right: &str) -> &'static str {
    if right == "123456" {
        "654321"
    } else {
        "123456"
    }
}

/// Types a code into `#code` and sends its form.
async fn enter_code(browser: &Browser, form: &str, code: &str) {
    browser.clear("#code").await;
    browser.type_into("#code", code).await;
    browser
        .click(&format!("form[action='{form}'] button[type=submit]"))
        .await;
}

/// The authorization request of `client` for `redirect_uri`, with `extra` parameters.
fn authorize_path(client: &Value, redirect_uri: &str, extra: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", client["client_id"].as_str().expect("id"))
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", "openid profile email")
        .append_pair("state", "st");
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    format!("/oauth2/authorize?{}", q.finish())
}

#[actix_web::test]
async fn every_page_passes_axe_core_and_non_text_contrast() {
    let db = TestDb::sqlite();
    // On localhost, so that passkeys are on and their buttons and lists are drawn too.
    let server = TestServer::start_on_localhost(&db, |_| {});
    let redirect_uri = dead_redirect_uri();
    let client = code_client(&server, false, &redirect_uri).await;
    // Bob has an account and an organization from the JSON API.
    let bob = crate::api_auth::signup(&server, "bob@example.com", "Bob").await;
    let bob_token = bob["token"].as_str().expect("token").to_owned();
    let bob_org = bob["organization"]["id"].as_str().expect("org").to_owned();
    // The pages forbid inline and foreign scripts; the check's scripts run all the same,
    // through WebDriver (Chromium runs them outside the page's Content-Security-Policy).
    let page = server.get("/login").await;
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let browser = Browser::start().await;

    // Signed out.
    visit(&browser, &server, ANONYMOUS, "").await;
    sign_in(&browser, &server, "nobody@example.com", PASSWORD).await;
    browser
        .wait_for_text("The email or password is wrong.")
        .await;
    check(&browser, "sign-in-error").await;
    browser.goto(&server.url("/signup")).await;
    browser.type_into("#name", "Bob").await;
    browser.type_into("#email", "bob@example.com").await;
    browser.type_into("#password", PASSWORD).await;
    browser
        .click("form[action='/signup'] button[type=submit]")
        .await;
    browser.wait_for_text("exists already").await;
    check(&browser, "sign-up-error").await;

    // Ada signs up on the page and follows her verification link.
    browser.goto(&server.url("/signup")).await;
    browser.type_into("#name", "Ada").await;
    browser.type_into("#email", "ada@example.com").await;
    browser.type_into("#password", PASSWORD).await;
    browser
        .click("form[action='/signup'] button[type=submit]")
        .await;
    browser.wait_for_path("/account").await;
    check(&browser, "account-new").await;
    let verify = link_to(&server, "ada@example.com", "/verify-email?token=").await;
    browser.goto(&verify).await;
    browser.wait_for_text("Email address verified").await;
    check(&browser, "notice").await;

    // A passkey.
    browser.add_authenticator().await;
    browser.goto(&server.url("/account")).await;
    browser.type_into("#passkey-name", "Laptop").await;
    browser.click("#passkey-add").await;
    browser
        .wait_for_text("Your passkey was added. You can sign in with it alone.")
        .await;
    check(&browser, "account-passkey-added").await;

    // An API key of her organization, shown once.
    let keys = browser
        .execute(
            "return document.querySelector(\"a[href$='/keys']\").getAttribute('href');",
            vec![],
        )
        .await;
    let keys = keys.as_str().expect("a link to the keys").to_owned();
    let org = keys
        .trim_start_matches("/account/orgs/")
        .trim_end_matches("/keys")
        .to_owned();
    browser.goto(&server.url(&keys)).await;
    browser.type_into("#key-name", "CI").await;
    browser.click("fieldset input[type=checkbox]").await;
    browser
        .click(&format!("form[action='{keys}'] button[type=submit]"))
        .await;
    browser.wait_for_text("id=\"new-key\"").await;
    check(&browser, "api-keys-new-key").await;

    // Consent, and the relying party's sign-out asking for confirmation.
    browser
        .goto(&server.url(&authorize_path(&client, &redirect_uri, &[])))
        .await;
    browser.wait_for_text("Allow").await;
    check(&browser, "consent").await;
    let logout = format!(
        "/oauth2/logout?client_id={}&post_logout_redirect_uri={}",
        client["client_id"].as_str().expect("id"),
        url::form_urlencoded::byte_serialize(format!("{redirect_uri}/bye").as_bytes())
            .collect::<String>()
    );
    browser.goto(&server.url(&logout)).await;
    browser.wait_for_text("Sign out?").await;
    check(&browser, "logout-confirm").await;

    // Two-step sign-in: off, set up with a QR code (a wrong code first), recovery codes.
    browser.goto(&server.url("/account/security")).await;
    browser.wait_for_text("Two-step sign-in is off.").await;
    check(&browser, "security-off").await;
    browser
        .click("form[action='/account/security/totp'] button")
        .await;
    browser.wait_for_text("id=\"totp-secret\"").await;
    // The QR code has a text alternative (WCAG 1.1.1) that points to the key written out.
    assert_eq!(
        browser
            .execute(
                "const qr = document.getElementById('qr');
                 return [qr.getAttribute('role'), qr.getAttribute('aria-label')];",
                vec![],
            )
            .await,
        json!(["img", "QR code of the key below, for an authenticator app"])
    );
    check(&browser, "security-totp-setup").await;
    let secret = browser.text("#totp-secret").await;
    let right = code_now(&server, &secret);
    enter_code(
        &browser,
        "/account/security/totp/confirm",
        wrong_code(&right),
    )
    .await;
    browser.wait_for_text("The code is wrong.").await;
    check(&browser, "security-totp-setup-error").await;
    enter_code(&browser, "/account/security/totp/confirm", &right).await;
    browser.wait_for_text("id=\"recovery-codes\"").await;
    check(&browser, "security-recovery-codes").await;

    visit(&browser, &server, SIGNED_IN, &org).await;

    // Bob beside Ada: the account chooser.
    browser
        .goto(&server.url("/login?add=1&return_to=%2Faccount"))
        .await;
    browser.wait_for_text("Forgot your password?").await;
    browser.type_into("#email", "bob@example.com").await;
    browser.type_into("#password", API_PASSWORD).await;
    browser
        .click("form[action='/login'] button[type=submit]")
        .await;
    browser.wait_for_path("/account").await;
    browser
        .goto(&server.url("/login/select?return_to=%2Faccount"))
        .await;
    browser.wait_for_text("Choose an account").await;
    check(&browser, "account-chooser").await;

    // An invitation from Bob's organization, opened while signed in as someone else.
    let res = server
        .http
        .post(server.url(&format!("/api/v1/organizations/{bob_org}/invites")))
        .bearer_auth(&bob_token)
        .json(&json!({ "email": "carol@example.com", "role": "member" }))
        .send()
        .await
        .expect("invite");
    assert_eq!(res.status(), 201);
    let invite = link_to(&server, "carol@example.com", "/invites/").await;
    browser.goto(&invite).await;
    browser
        .wait_for_text("Sign out, then open the invitation")
        .await;
    check(&browser, "invite-other-account").await;

    // Signed out of everything, then Ada's password and second step (a wrong code first).
    browser
        .click("form[action='/logout'] button[type=submit]")
        .await;
    browser.wait_for_path_starting("/login").await;
    browser.goto(&server.url("/oauth2/logout")).await;
    browser.wait_for_text("You are signed out").await;
    check(&browser, "signed-out").await;
    sign_in(&browser, &server, "ada@example.com", PASSWORD).await;
    browser.wait_for_text("Enter your code").await;
    check(&browser, "second-factor").await;
    server.clock.advance(30);
    let right = code_now(&server, &secret);
    enter_code(&browser, "/login/mfa", wrong_code(&right)).await;
    browser.wait_for_text("id=\"error\"").await;
    check(&browser, "second-factor-error").await;
    enter_code(&browser, "/login/mfa", &right).await;
    browser.wait_for_path("/account").await;
    check(&browser, "account").await;

    // Carol joins by her invitation; Bob's relying party asks for two factors, so he sets
    // one up on the way; he has forgotten his password.
    let other = Browser::start().await;
    other.goto(&invite).await;
    other.wait_for_text("Create the account and join").await;
    check(&other, "invite-join").await;
    sign_in(&other, &server, "bob@example.com", API_PASSWORD).await;
    other.wait_for_path("/account").await;
    other
        .goto(&server.url(&authorize_path(
            &client,
            &redirect_uri,
            &[("acr_values", MFA)],
        )))
        .await;
    other.wait_for_text("Set up two-step sign-in").await;
    check(&other, "second-factor-setup").await;
    let secret = other.text("#totp-secret").await;
    enter_code(&other, "/login/mfa", &code_now(&server, &secret)).await;
    other.wait_for_text("Save your recovery codes").await;
    check(&other, "second-factor-recovery-codes").await;

    let anonymous = Browser::start().await;
    anonymous.goto(&server.url("/password/forgot")).await;
    anonymous.type_into("#email", "bob@example.com").await;
    anonymous
        .click("form[action='/password/forgot'] button")
        .await;
    anonymous.wait_for_text("If an account exists").await;
    check(&anonymous, "forgot-password-sent").await;
    let reset = link_to(&server, "bob@example.com", "/password/reset?token=").await;
    anonymous.goto(&reset).await;
    anonymous.wait_for_text("Choose a new password").await;
    check(&anonymous, "reset-password").await;
    anonymous.type_into("#password", "difference engine").await;
    anonymous.type_into("#confirm", "difference engines").await;
    anonymous
        .click("form[action='/password/reset'] button")
        .await;
    anonymous.wait_for_text("The two passwords differ.").await;
    check(&anonymous, "reset-password-error").await;
}

/// A page with the mistakes the check is there to catch, and the same page done right: the
/// check must name each mistake, and find nothing on the careful page (so that a tour that
/// passes means something).
const CARELESS: &str = r#"<!doctype html><html><head><title>Careless</title><style>
  input { border: 1px solid #dddddd; }
  button { background: transparent; border: 1px solid #eeeeee; }
  :focus { outline: none; }
  .faint { color: #cccccc; }
</style></head><body><main><h1>Careless</h1>
  <input id="unlabelled" type="text">
  <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
  <p class="faint">Faint text</p>
  <button type="button" id="pale">Go</button>
</main></body></html>"#;

const CAREFUL: &str = r#"<!doctype html><html lang="en"><head><title>Careful</title><style>
  input { border: 1px solid #767f8c; }
  button { background: #2f5bd3; color: #ffffff; border: 0; }
  :focus-visible { outline: 3px solid #2f5bd3; outline-offset: 2px; }
</style></head><body><main><h1>Careful</h1>
  <label for="named">Name</label> <input id="named" type="text">
  <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="A dot">
  <p>Plain text</p>
  <button type="button" id="solid">Go</button>
</main></body></html>"#;

/// `html` as a `data:` URL (percent-encoded: a data URL reads `+` as itself, not a space).
fn data_url(html: &str) -> String {
    let encoded = url::form_urlencoded::byte_serialize(html.as_bytes()).collect::<String>();
    format!(
        "data:text/html;charset=utf-8,{}",
        encoded.replace('+', "%20")
    )
}

#[actix_web::test]
async fn the_check_names_each_mistake_of_a_careless_page_and_passes_a_careful_one() {
    let browser = Browser::start().await;
    browser.goto(&data_url(CARELESS)).await;
    browser.wait_for_text("Careless</h1>").await;
    let problems = browser.accessibility_problems().await;
    let all = problems.join("\n");
    for expected in [
        // axe-core's rules.
        " label [critical]",
        " image-alt [critical]",
        " color-contrast [serious]",
        " html-has-lang [serious]",
        // Borders.
        "non-text contrast below 3:1 (WCAG 1.4.11): input#unlabelled: border 1.36:1",
        "non-text contrast below 3:1 (WCAG 1.4.11): button#pale \"Go\": border 1.16:1",
        // Focus rings.
        "focus indicator below 3:1 (WCAG 1.4.11): input#unlabelled: no focus indicator",
        "focus indicator below 3:1 (WCAG 1.4.11): button#pale \"Go\": no focus indicator",
    ] {
        assert!(all.contains(expected), "{expected:?} not in:\n{all}");
    }

    browser.goto(&data_url(CAREFUL)).await;
    browser.wait_for_text("Careful</h1>").await;
    assert_eq!(browser.accessibility_problems().await, Vec::<String>::new());
}

#[test]
fn without_axe_core_the_check_fails_and_names_scripts_axe() {
    let folder = tempfile::tempdir().expect("dir");
    let missing = folder.path().join("axe.min.js");
    let why = crate::browser::read_axe(&missing).expect_err("no file");
    assert!(why.contains("run scripts/axe"), "{why}");
    std::fs::write(&missing, "<html>not a script</html>").expect("write");
    let why = crate::browser::read_axe(&missing).expect_err("not axe-core");
    assert!(why.contains("run scripts/axe"), "{why}");
    // The copy scripts/axe fetched is the one the tour uses.
    let found = crate::browser::read_axe(&crate::browser::axe_path());
    assert!(found.is_ok(), "{found:?}");
}

/// The pages of signing in with another OpenID provider (a second Portcullis): the sign-in
/// page with its "Sign in with …" link, and the account page listing the linked identity.
#[actix_web::test]
async fn the_pages_of_sign_in_with_another_provider_pass() {
    let p = crate::upstream::pair(TestDb::sqlite(), TestDb::sqlite()).await;
    crate::api_auth::signup(&p.up, "grace@corp.example", "Grace").await;
    let browser = Browser::start().await;
    browser.goto(&p.down.url("/login")).await;
    browser.wait_for_text("Sign in with Corp ID").await;
    check(&browser, "sign-in-with-providers").await;
    browser.click("#upstream-corp").await;
    browser.wait_for_text("Forgot your password?").await;
    assert!(browser.url().await.starts_with(&p.up.base));
    browser.type_into("#email", "grace@corp.example").await;
    browser.type_into("#password", API_PASSWORD).await;
    browser
        .click("form[action='/login'] button[type=submit]")
        .await;
    browser.wait_for_text("Allow").await;
    browser.click("button[value=allow]").await;
    browser.wait_for_text("id=\"linked\"").await;
    check(&browser, "account-linked").await;
}
