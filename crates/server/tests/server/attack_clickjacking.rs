//! Clickjacking (RFC 9700 §4.16, RFC 6749 §10.13): no page of ours may be framed by another
//! site. Every HTML page is sent with `Content-Security-Policy: … frame-ancestors 'none'` (for
//! browsers that know CSP 2) and `X-Frame-Options: DENY` (for those that do not): both are
//! asserted on each page, including error pages and the auto-submitted form-post page.

use crate::api_auth::signup as api_signup;
use crate::authorize::code_client;
use crate::authorize_errors::{REDIRECT, authorize, hidden, id, jar, sign_up};
use crate::common::*;

fn assert_unframeable(res: &reqwest::Response, what: &str) {
    let headers = res.headers();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        content_type.starts_with("text/html"),
        "{what}: {content_type}"
    );
    let csp = headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("{what}: no Content-Security-Policy"));
    let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
    assert!(
        directives.contains(&"frame-ancestors 'none'"),
        "{what}: {csp}"
    );
    assert_eq!(
        headers.get("x-frame-options").and_then(|v| v.to_str().ok()),
        Some("DENY"),
        "{what}"
    );
}

async fn check(res: reqwest::Response, status: u16, what: &str) -> String {
    assert_eq!(res.status().as_u16(), status, "{what}");
    assert_unframeable(&res, what);
    res.text().await.expect("html")
}

#[actix_web::test]
async fn every_page_refuses_to_be_framed() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let get = |http: &reqwest::Client, path: &str| http.get(server.url(path)).send();

    // Before sign-in.
    let browser = jar();
    let login = check(get(&browser, "/login").await.expect("get"), 200, "login").await;
    check(get(&browser, "/signup").await.expect("get"), 200, "signup").await;
    api_signup(&server, "ada@example.com", "Ada").await;
    let res = browser
        .post(server.url("/login"))
        .form(&[
            ("csrf_token", hidden(&login, "csrf_token").as_str()),
            ("email", "ada@example.com"),
            ("password", "wrong password"),
        ])
        .send()
        .await
        .expect("post");
    check(res, 401, "login with an error").await;
    let res = browser
        .post(server.url("/login"))
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .expect("post");
    check(res, 403, "form expired").await;
    check(
        get(&browser, "/no/such/page").await.expect("get"),
        404,
        "not found",
    )
    .await;
    check(
        get(&browser, "/oauth2/authorize?client_id=nobody")
            .await
            .expect("get"),
        400,
        "authorization error page",
    )
    .await;
    check(
        get(&browser, "/oauth2/logout").await.expect("get"),
        200,
        "signed-out page",
    )
    .await;

    // Signed in.
    let user = jar();
    sign_up(&server, &user, "pat@example.com").await;
    let account = check(get(&user, "/account").await.expect("get"), 200, "account").await;
    let keys = account
        .split("href=\"")
        .skip(1)
        .filter_map(|r| r.split('"').next())
        .find(|h| h.ends_with("/keys"))
        .expect("keys link")
        .to_owned();
    check(get(&user, &keys).await.expect("get"), 200, "keys").await;
    let client = code_client(&server, false, REDIRECT).await;
    let params = [
        ("response_type", "code"),
        ("client_id", id(&client)),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
    ];
    let consent = check(authorize(&server, &user, &params).await, 200, "consent").await;
    assert!(consent.contains("Allow"));
    let mut form_post = params.to_vec();
    form_post.extend([("response_mode", "form_post"), ("prompt", "none")]);
    let html = check(
        authorize(&server, &user, &form_post).await,
        200,
        "form_post",
    )
    .await;
    assert_eq!(hidden(&html, "error"), "consent_required");
    let confirm = check(
        get(&user, "/oauth2/logout").await.expect("get"),
        200,
        "logout confirmation",
    )
    .await;
    assert!(confirm.contains("Sign out?"));
}
