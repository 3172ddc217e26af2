//! The operator's brand and the reader's language, in a real headless Chromium: German pages
//! for a German browser or `ui_locales=de`, the brand's name, logo and colour, a theme folder's
//! template and stylesheet, and the application named on the sign-in page. The screenshots of
//! `docs/operations.md` ("Brand and languages") are taken here
//! (`PORTCULLIS_SCREENSHOTS=$PWD/docs/screenshots`).

use serde_json::json;

use crate::authorize::{code_client, dead_redirect_uri};
use crate::browser::Browser;
use crate::common::*;

/// RFC 7636's example challenge: the authorization endpoint only stores it.
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn authorize_path(client_id: &str, redirect_uri: &str, extra: &str) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", "openid email")
        .append_pair("state", "s1")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256");
    format!("/oauth2/authorize?{}{extra}", q.finish())
}

/// A client registered by the operator (no registration access token), as `portcullis client
/// create` makes it.
fn operator_client(db: &TestDb, server: &TestServer, name: &str, redirect_uri: &str) -> String {
    let mut conn = db.store().conn().expect("conn");
    let policy = registration::Policy {
        known_scopes: vec!["openid".into(), "email".into()],
        default_code_scopes: vec!["openid".into()],
        id_token_algs: vec!["RS256".into()],
        allow_password_grant: false,
        backchannel_logout_loopback: false,
    };
    let meta = registration::parse_metadata(
        &json!({
            "client_name": name,
            "redirect_uris": [redirect_uri],
            "token_endpoint_auth_method": "none",
            "scope": "openid email",
        }),
        &policy,
    )
    .expect("meta");
    registration::register_client_with(&mut conn, meta, false, false, server.clock_now())
        .expect("register")
        .client
        .id
}

async fn lang_of(browser: &Browser) -> String {
    browser
        .execute_async(
            "arguments[arguments.length - 1](document.documentElement.lang + '/' + document.documentElement.dir)",
            vec![],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn style_of(browser: &Browser, css: &str, property: &str) -> String {
    browser
        .execute_async(
            "const [css, prop, done] = arguments; done(getComputedStyle(document.querySelector(css))[prop])",
            vec![json!(css), json!(property)],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[actix_web::test]
async fn a_german_browser_sees_german_sign_in_consent_and_error_pages() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let redirect_uri = dead_redirect_uri();
    let client = code_client(&server, true, &redirect_uri).await;
    let client_id = client["client_id"].as_str().expect("client_id");
    let browser = Browser::start_in(Some("de")).await;

    browser
        .goto(&server.url(&authorize_path(client_id, &redirect_uri, "")))
        .await;
    browser.wait_for_path_starting("/login").await;
    assert_eq!(lang_of(&browser).await, "de/ltr");
    assert_eq!(browser.text("h1").await, "Anmelden");
    assert!(browser.title().await.starts_with("Anmelden · Portcullis"));
    // The application is named, with the host it sends the browser back to, and marked as
    // registering itself: its name is its own claim.
    let app = browser.text("#signing-in-to").await;
    assert!(app.contains("um mit Notes SPA fortzufahren"), "{app}");
    assert_eq!(browser.text("#app-host").await, "127.0.0.1");
    assert_eq!(
        browser.text("#app-unverified").await,
        "Nicht vom Betreiber geprüft"
    );
    browser.screenshot("brand-sign-in-de").await;

    // A wrong password: the form's error in German too.
    browser.type_into("#email", "nobody@example.com").await;
    browser.type_into("#password", "not the password").await;
    browser
        .click("form[action='/login'] button[type=submit]")
        .await;
    browser
        .wait_for_text("E-Mail oder Passwort ist falsch.")
        .await;

    // Sign up from there, and on to the consent page.
    browser.click("a[href^='/signup']").await;
    browser.wait_for_path_starting("/signup").await;
    assert_eq!(browser.text("h1").await, "Konto erstellen");
    browser.type_into("#name", "Grete").await;
    browser.type_into("#email", "grete@example.com").await;
    browser.type_into("#password", "lange genug 1").await;
    browser
        .click("form[action='/signup'] button[type=submit]")
        .await;
    browser.wait_for_text("Erlauben").await;
    assert_eq!(lang_of(&browser).await, "de/ltr");
    assert_eq!(
        browser.text("h1").await,
        "Darf Notes SPA Ihr Konto verwenden?"
    );
    assert_eq!(browser.text("button[value=deny]").await, "Ablehnen");
    let scopes = browser.text("ul.scopes").await;
    assert!(scopes.contains("Ihre E-Mail-Adresse sehen"), "{scopes}");
    assert_eq!(
        browser.text("#app-unverified").await,
        "Nicht vom Betreiber geprüft"
    );
    browser.screenshot("brand-consent-de").await;

    // An error page.
    browser.goto(&server.url("/no/such/page")).await;
    browser.wait_for_text("Seite nicht gefunden").await;
    assert_eq!(lang_of(&browser).await, "de/ltr");
    assert_eq!(browser.text("p.status").await, "Fehler 404");
    assert_eq!(
        browser.text("main p:last-child").await,
        "Unter dieser Adresse gibt es nichts."
    );
}

#[actix_web::test]
async fn ui_locales_on_the_authorization_request_holds_through_the_sign_in_steps() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let redirect_uri = dead_redirect_uri();
    let client = code_client(&server, true, &redirect_uri).await;
    let client_id = client["client_id"].as_str().expect("client_id");
    // An English browser.
    let browser = Browser::start_in(Some("en")).await;
    browser.goto(&server.url("/login")).await;
    assert_eq!(lang_of(&browser).await, "en/ltr");
    assert_eq!(browser.text("h1").await, "Sign in");

    browser
        .goto(&server.url(&authorize_path(
            client_id,
            &redirect_uri,
            "&ui_locales=fr-CA%20de-AT%20en",
        )))
        .await;
    browser.wait_for_path_starting("/login").await;
    assert_eq!(lang_of(&browser).await, "de/ltr");
    assert_eq!(browser.text("h1").await, "Anmelden");
    // The next step of the sign-in (a page of its own) is still German.
    browser.click("a[href='/password/forgot']").await;
    browser.wait_for_path("/password/forgot").await;
    assert_eq!(browser.text("h1").await, "Passwort vergessen?");
}

#[actix_web::test]
async fn accept_language_picks_the_pages_language_and_english_is_the_default() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    for (header, lang, heading) in [
        (None, "en", "<h1>Sign in</h1>"),
        (Some("de-DE,de;q=0.9,en;q=0.8"), "de", "<h1>Anmelden</h1>"),
        (Some("fr-FR, en;q=0.5, de;q=0.7"), "de", "<h1>Anmelden</h1>"),
        (Some("fr, it"), "en", "<h1>Sign in</h1>"),
    ] {
        let mut req = server.http.get(server.url("/login"));
        if let Some(h) = header {
            req = req.header("accept-language", h);
        }
        let html = req.send().await.expect("login").text().await.expect("html");
        assert!(
            html.contains(&format!("<html lang=\"{lang}\" dir=\"ltr\">")),
            "{header:?}: {html}"
        );
        assert!(html.contains(heading), "{header:?}: {html}");
    }
    // The JSON API stays English whatever the browser's language.
    let res = server
        .http
        .get(server.url("/api/v1/no-such-route"))
        .header("accept-language", "de")
        .send()
        .await
        .expect("api");
    let body = json_of(res).await;
    assert_eq!(body["error"]["message"], "No such resource.");
}

#[actix_web::test]
async fn discovery_lists_the_languages_of_the_pages() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let doc = json_of(server.get("/.well-known/openid-configuration").await).await;
    assert_eq!(doc["ui_locales_supported"], json!(["en", "de"]));
    assert_eq!(doc["claims_locales_supported"], json!(["en", "de"]));
}

#[actix_web::test]
async fn a_branded_server_shows_its_name_logo_and_colour() {
    let db = TestDb::sqlite();
    let server = TestServer::start_with(&db, |s| {
        s.brand_name = "Acme ID".into();
        s.brand_logo_url = Some("/static/favicon.svg".into());
        s.brand_primary_color = server::theme::Color::parse("#0a7f5a");
    });
    let browser = Browser::start().await;
    browser.goto(&server.url("/login")).await;
    assert_eq!(browser.title().await, "Sign in · Acme ID");
    assert_eq!(browser.text("header .brand-name").await, "Acme ID");
    assert_eq!(
        browser
            .count("header img.brand-logo[src='/static/favicon.svg']")
            .await,
        1
    );
    // The colour reaches the page through the stylesheet (no inline style: the CSP allows
    // none).
    assert_eq!(
        style_of(
            &browser,
            "form[action='/login'] button[type=submit]",
            "backgroundColor"
        )
        .await,
        "rgb(10, 127, 90)"
    );
    browser.screenshot("brand-sign-in-branded").await;

    let css = server.get("/static/brand.css").await;
    assert_eq!(css.status(), 200);
    assert!(
        css.text()
            .await
            .expect("css")
            .contains("--accent: #0a7f5a;")
    );
    // Error pages carry the brand too.
    let html = server.get("/nowhere").await.text().await.expect("html");
    assert!(
        html.contains("<title>Page not found · Acme ID</title>"),
        "{html}"
    );
    assert!(!html.contains("Portcullis"), "{html}");
}

#[actix_web::test]
async fn the_favicon_is_served_and_favicon_ico_leads_to_it() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let icon = server.get("/static/favicon.svg").await;
    assert_eq!(icon.status(), 200);
    assert_eq!(
        icon.headers()["content-type"].to_str().expect("type"),
        "image/svg+xml"
    );
    assert!(icon.text().await.expect("svg").starts_with("<svg"));
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let ico = no_redirects
        .get(server.url("/favicon.ico"))
        .send()
        .await
        .expect("favicon.ico");
    assert_eq!(ico.status(), 308);
    assert_eq!(ico.headers()["location"], "/static/favicon.svg");
    let login = server.get("/login").await.text().await.expect("html");
    assert!(login.contains(r#"<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">"#));
}

#[actix_web::test]
async fn a_theme_folders_template_and_stylesheet_are_used() {
    let theme = tempfile::tempdir().expect("theme dir");
    std::fs::write(
        theme.path().join("base.html"),
        r#"<!doctype html>
<html lang="{{ ui.lang }}" dir="{{ ui.dir }}">
<head><title>{% block title %}{{ ui.brand }}{% endblock %}</title>
<link rel="stylesheet" href="/static/portcullis.css"></head>
<body class="themed"><p id="theme-brand">{{ ui.brand }} (themed)</p>{% block content %}{% endblock %}</body>
</html>
"#,
    )
    .expect("base.html");
    std::fs::write(
        theme.path().join("login.html"),
        r#"{% extends "base.html" %}
{% block content %}
<h1 id="theme-heading">{{ t("login-title") }}</h1>
{% if error %}<p class="error">{{ error|tx }}</p>{% endif %}
<form method="post" action="/login">
  <input type="hidden" name="csrf_token" value="{{ csrf }}">
  <input type="hidden" name="return_to" value="{{ return_to }}">
  <label for="email">{{ t("field-email") }}</label><input id="email" name="email" type="email" value="{{ email }}">
  <label for="password">{{ t("field-password") }}</label><input id="password" name="password" type="password">
  <button type="submit">{{ t("login-submit") }}</button>
</form>
{% endblock %}
"#,
    )
    .expect("login.html");
    std::fs::write(
        theme.path().join("portcullis.css"),
        "body.themed { background: rgb(1, 2, 3); }\n",
    )
    .expect("portcullis.css");
    let loaded = std::sync::Arc::new(server::theme::Theme::load(theme.path()).expect("theme"));
    let db = TestDb::sqlite();
    let server = TestServer::start_with(&db, |s| {
        s.brand_name = "Acme ID".into();
        s.theme = Some(loaded);
    });
    let browser = Browser::start_in(Some("de")).await;
    browser.goto(&server.url("/login")).await;
    assert_eq!(browser.text("#theme-heading").await, "Anmelden");
    assert_eq!(browser.text("#theme-brand").await, "Acme ID (themed)");
    assert_eq!(lang_of(&browser).await, "de/ltr");
    assert_eq!(
        style_of(&browser, "body", "backgroundColor").await,
        "rgb(1, 2, 3)"
    );
    // The themed form works: a wrong password comes back through the theme's template.
    browser.type_into("#email", "nobody@example.com").await;
    browser.type_into("#password", "wrong").await;
    browser.click("button[type=submit]").await;
    browser
        .wait_for_text("E-Mail oder Passwort ist falsch.")
        .await;
    assert_eq!(browser.count("#theme-heading").await, 1);
    // Pages the theme does not replace keep the built-in template, with the theme's sheet.
    browser.goto(&server.url("/signup")).await;
    assert_eq!(browser.text("h1").await, "Konto erstellen");
    assert_eq!(browser.count("#theme-brand").await, 0);
    assert_eq!(
        style_of(&browser, "body", "backgroundColor").await,
        "rgba(0, 0, 0, 0)"
    );
}

#[actix_web::test]
async fn the_sign_in_page_names_an_operators_client_without_the_unverified_mark() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let redirect_uri = "https://notes.example.com/callback";
    let client_id = operator_client(&db, &server, "Acme Notes", redirect_uri);
    // Following the authorization endpoint's redirect to the sign-in page.
    let html = reqwest::Client::new()
        .get(server.url(&authorize_path(&client_id, redirect_uri, "")))
        .send()
        .await
        .expect("authorize")
        .text()
        .await
        .expect("html");
    assert!(html.contains("to continue to Acme Notes"), "{html}");
    assert!(
        html.contains(r#"<span id="app-host">notes.example.com</span>"#),
        "{html}"
    );
    assert!(!html.contains("app-unverified"), "{html}");
}

/// The sign-in page names the host of the redirect URI in the request only when the client
/// registered it: a crafted link cannot make a trusted application's sign-in page name the
/// attacker's host.
#[actix_web::test]
async fn attack_unregistered_redirect_uri_is_not_named_on_the_sign_in_page() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let client_id = operator_client(
        &db,
        &server,
        "Acme Notes",
        "https://notes.example.com/callback",
    );
    let crafted = authorize_path(&client_id, "https://evil.example/cb", "");
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("return_to", &crafted);
    let html = server
        .get(&format!("/login?{}", q.finish()))
        .await
        .text()
        .await
        .expect("html");
    assert!(html.contains("to continue to Acme Notes"), "{html}");
    assert!(
        html.contains(r#"<span id="app-host">notes.example.com</span>"#),
        "{html}"
    );
    assert!(!html.contains("evil.example</span>"), "{html}");
}

#[actix_web::test]
async fn the_account_page_is_german_with_dates_written_the_german_way() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let browser = Browser::start_in(Some("de")).await;
    browser.goto(&server.url("/signup")).await;
    browser.type_into("#name", "Grete").await;
    browser.type_into("#email", "grete@example.com").await;
    browser.type_into("#password", "lange genug 1").await;
    browser
        .click("form[action='/signup'] button[type=submit]")
        .await;
    browser.wait_for_path("/account").await;
    assert_eq!(lang_of(&browser).await, "de/ltr");
    assert_eq!(browser.text("h1").await, "Ihr Konto");
    assert_eq!(browser.text("#email-status").await, "(nicht bestätigt)");
    let t = primitives::UtcDateTime::from_unix(server.clock_now());
    let german = format!(
        "angemeldet am {:02}.{:02}.{:04}, {:02}:{:02} UTC",
        t.day, t.month, t.year, t.hour, t.minute
    );
    let sessions = browser.text("ul.sessions").await;
    assert!(sessions.contains(&german), "{sessions}");
    assert!(sessions.contains("(dieser Browser)"), "{sessions}");
    browser.screenshot("brand-account-de").await;
}

/// The language comes from the request (query, cookie, header), so a forged value must never
/// reach the page: only a supported language's own tag is ever written into it.
#[actix_web::test]
async fn attack_a_forged_language_is_never_written_into_the_page() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let forged = "\"><script>alert(1)</script>";
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("ui_locales", forged);
    let res = reqwest::Client::new()
        .get(server.url(&format!("/login?{}", q.finish())))
        .header("accept-language", forged)
        .header("cookie", "pcl_lang=%22%3E%3Cscript%3E")
        .send()
        .await
        .expect("login");
    // An unsupported ui_locales sets no cookie.
    assert!(
        res.headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap_or_default().contains("pcl_lang")),
        "{:?}",
        res.headers()
    );
    let html = res.text().await.expect("html");
    assert!(html.contains("<html lang=\"en\" dir=\"ltr\">"), "{html}");
    assert!(!html.contains("<script>alert"), "{html}");
}

#[actix_web::test]
async fn ui_locales_of_an_authorization_request_posted_as_a_form_is_honoured() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let redirect_uri = dead_redirect_uri();
    let client = code_client(&server, true, &redirect_uri).await;
    let client_id = client["client_id"].as_str().expect("client_id");
    // Followed to the sign-in page, with the language cookie the redirect chain sets.
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    let html = http
        .post(server.url("/oauth2/authorize"))
        .form(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", redirect_uri.as_str()),
            ("scope", "openid email"),
            ("state", "s1"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("ui_locales", "de"),
        ])
        .send()
        .await
        .expect("authorize")
        .text()
        .await
        .expect("html");
    assert!(html.contains("<html lang=\"de\" dir=\"ltr\">"), "{html}");
    assert!(html.contains("<h1>Anmelden</h1>"), "{html}");
    // The next page of the sign-in keeps German through the cookie.
    let signup = http
        .get(server.url("/signup"))
        .send()
        .await
        .expect("signup")
        .text()
        .await
        .expect("html");
    assert!(signup.contains("<h1>Konto erstellen</h1>"), "{signup}");
}
