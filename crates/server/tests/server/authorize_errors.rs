//! Negative paths of the authorization-code flow, each asserting the exact error and where it
//! goes: an error page (never a redirect) or a redirect to the client with `state` and `iss`.

use std::collections::HashMap;

use base64::Engine as _;
use serde_json::{Value, json};
use url::Url;

use crate::authorize::code_client;
use crate::common::*;

pub(crate) const REDIRECT: &str = "https://app.example/callback";
pub(crate) const VERIFIER: &str = "a-verifier-of-forty-three-characters-or-more-0123";

/// The S256 challenge of a verifier: base64url(SHA-256(verifier)). `SecretHash` is SHA-256 in
/// hex, so the test reuses it rather than adding a hash crate.
pub(crate) fn challenge(verifier: &str) -> String {
    let hex = primitives::SecretHash::of(verifier);
    let bytes: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&hex.as_str()[2 * i..2 * i + 2], 16).unwrap_or_default())
        .collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A browser-like client: cookies kept, redirects not followed.
pub(crate) fn jar() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub(crate) fn hidden(html: &str, name: &str) -> String {
    html.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no {name} field in {html}"))
        .replace("&#38;", "&")
        .replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
}

/// Fills in a page's form as a browser does: GETs `page`, then POSTs `fields` to `action`
/// with the page's hidden fields named in `carry` (its CSRF token, say) copied over.
pub(crate) async fn submit_form(
    server: &TestServer,
    http: &reqwest::Client,
    (page, action): (&str, &str),
    carry: &[&str],
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let html = http
        .get(server.url(page))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("html");
    let carried: Vec<(&str, String)> = carry.iter().map(|n| (*n, hidden(&html, n))).collect();
    let mut form: Vec<(&str, &str)> = carried.iter().map(|(n, v)| (*n, v.as_str())).collect();
    form.extend_from_slice(fields);
    http.post(server.url(action))
        .form(&form)
        .send()
        .await
        .expect("post")
}

/// Signs a new person up in `http`'s cookie jar.
pub(crate) async fn sign_up(server: &TestServer, http: &reqwest::Client, email: &str) {
    let fields = [
        ("name", "Pat"),
        ("email", email),
        ("password", "long password"),
    ];
    let res = submit_form(
        server,
        http,
        ("/signup", "/signup"),
        &["csrf_token"],
        &fields,
    )
    .await;
    assert_eq!(res.status(), 303);
}

/// Signs an existing account in on the login page, in `http`'s cookie jar.
pub(crate) async fn sign_in(
    server: &TestServer,
    http: &reqwest::Client,
    email: &str,
    password: &str,
) {
    let fields = [("email", email), ("password", password)];
    let res = submit_form(server, http, ("/login", "/login"), &["csrf_token"], &fields).await;
    assert_eq!(res.status(), 303, "signed in on the page");
}

pub(crate) async fn authorize(
    server: &TestServer,
    http: &reqwest::Client,
    params: &[(&str, &str)],
) -> reqwest::Response {
    let mut url = Url::parse(&server.url("/oauth2/authorize")).expect("url");
    url.query_pairs_mut().extend_pairs(params);
    http.get(url).send().await.expect("authorize")
}

/// Answers the consent page, if one is shown.
pub(crate) async fn decide(
    server: &TestServer,
    http: &reqwest::Client,
    res: reqwest::Response,
    decision: &str,
) -> reqwest::Response {
    if res.status() != 200 {
        return res;
    }
    let html = res.text().await.expect("html");
    assert!(html.contains("Allow") && html.contains("Deny"), "{html}");
    http.post(server.url("/consent"))
        .form(&[
            ("csrf_token", hidden(&html, "csrf_token").as_str()),
            ("authorization", hidden(&html, "authorization").as_str()),
            ("decision", decision),
        ])
        .send()
        .await
        .expect("consent")
}

/// The query parameters of a redirect to the client.
pub(crate) fn redirected(res: &reqwest::Response) -> HashMap<String, String> {
    assert_eq!(res.status(), 303, "expected a redirect");
    let location = res.headers()["location"].to_str().expect("ascii");
    assert!(location.starts_with(REDIRECT), "{location}");
    Url::parse(location)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect()
}

/// An error page: 400, HTML, and no redirect.
pub(crate) async fn error_page(res: reqwest::Response) {
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/html")
    );
}

pub(crate) struct Setup {
    pub(crate) server: TestServer,
    pub(crate) http: reqwest::Client,
    pub(crate) public: Value,
    pub(crate) confidential: Value,
}

pub(crate) async fn setup(db: &TestDb) -> Setup {
    let server = TestServer::start(db);
    let http = jar();
    sign_up(&server, &http, "pat@example.com").await;
    let public = code_client(&server, true, REDIRECT).await;
    let confidential = code_client(&server, false, REDIRECT).await;
    Setup {
        server,
        http,
        public,
        confidential,
    }
}

/// A confidential client made by the operator (as `portcullis client create` makes it: no
/// registration access token), not first-party, redirecting to `redirect_uri`.
pub(crate) fn operator_client(db: &TestDb, s: &Setup, redirect_uri: &str) -> String {
    let mut conn = db.store().conn().expect("conn");
    let policy = registration::Policy {
        known_scopes: vec!["openid".into(), "email".into()],
        default_code_scopes: vec!["openid".into()],
        id_token_algs: vec!["RS256".into()],
        allow_password_grant: false,
        backchannel_logout_loopback: false,
    };
    let meta = registration::parse_metadata(
        &json!({ "client_name": "Operator app", "redirect_uris": [redirect_uri] }),
        &policy,
    )
    .expect("meta");
    registration::register_client_with(&mut conn, meta, false, false, s.server.clock_now())
        .expect("register")
        .client
        .id
}

pub(crate) fn id(client: &Value) -> &str {
    client["client_id"].as_str().expect("client_id")
}

/// Runs authorize + consent for the public client with PKCE and returns the code.
pub(crate) async fn code_for(s: &Setup, scope: &str) -> String {
    let ch = challenge(VERIFIER);
    let res = authorize(
        &s.server,
        &s.http,
        &[
            ("response_type", "code"),
            ("client_id", id(&s.public)),
            ("redirect_uri", REDIRECT),
            ("scope", scope),
            ("state", "xyz"),
            ("code_challenge", &ch),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let res = decide(&s.server, &s.http, res, "allow").await;
    let params = redirected(&res);
    assert_eq!(params["state"], "xyz");
    assert_eq!(params["iss"], s.server.base);
    params["code"].clone()
}

pub(crate) async fn exchange(
    s: &Setup,
    client_id: &str,
    code: &str,
    verifier: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("client_id", client_id),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    s.server.post_form("/oauth2/token", None, &form).await
}

pub(crate) async fn oauth_error(res: reqwest::Response) -> String {
    assert_eq!(res.status(), 400);
    json_of(res).await["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

on_both_backends! {
    async fn unknown_clients_and_foreign_redirect_uris_get_a_page_never_a_redirect(db) {
        let s = setup(&db).await;
        error_page(authorize(&s.server, &s.http, &[("response_type", "code"), ("client_id", "nobody"), ("redirect_uri", REDIRECT)]).await).await;
        error_page(authorize(&s.server, &s.http, &[("response_type", "code"), ("redirect_uri", REDIRECT)]).await).await;
        for bad in [
            "https://app.example/callback/", "https://APP.example/callback", "https://app.example/callback?x=1",
            "https://app.example/callback/../callback", "https://evil.example/callback", "https://app.example@evil.example/callback",
            "https://app.example/%63allback", "http://app.example/callback",
        ] {
            let res = authorize(&s.server, &s.http, &[("response_type", "code"), ("client_id", id(&s.confidential)), ("redirect_uri", bad)]).await;
            error_page(res).await;
        }
        // An unknown response_mode cannot be trusted either.
        let res = authorize(&s.server, &s.http, &[("response_type", "code"), ("client_id", id(&s.confidential)), ("redirect_uri", REDIRECT), ("response_mode", "fragment")]).await;
        error_page(res).await;
    }

    async fn request_errors_are_redirected_with_state_and_iss(db) {
        let s = setup(&db).await;
        let ch = challenge(VERIFIER);
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (vec![("response_type", "token"), ("client_id", id(&s.confidential))], "unsupported_response_type"),
            (vec![("client_id", id(&s.confidential))], "invalid_request"),
            (vec![("response_type", "code"), ("client_id", id(&s.public))], "invalid_request"),
            (vec![("response_type", "code"), ("client_id", id(&s.public)), ("code_challenge", &ch), ("code_challenge_method", "plain")], "invalid_request"),
            (vec![("response_type", "code"), ("client_id", id(&s.public)), ("code_challenge", &ch)], "invalid_request"),
            (vec![("response_type", "code"), ("client_id", id(&s.public)), ("code_challenge", "short"), ("code_challenge_method", "S256")], "invalid_request"),
            (vec![("response_type", "code"), ("client_id", id(&s.confidential)), ("scope", "openid admin")], "invalid_scope"),
            (vec![("response_type", "code"), ("client_id", id(&s.confidential)), ("prompt", "none login")], "invalid_request"),
            (vec![("response_type", "code"), ("client_id", id(&s.confidential)), ("max_age", "-1")], "invalid_request"),
            (vec![("response_type", "code"), ("client_id", id(&s.confidential)), ("request", "eyJ")], "request_not_supported"),
        ];
        for (mut params, code) in cases {
            params.push(("redirect_uri", REDIRECT));
            params.push(("state", "s-1"));
            let res = authorize(&s.server, &s.http, &params).await;
            let got = redirected(&res);
            assert_eq!(got["error"], code, "{params:?}");
            assert_eq!(got["state"], "s-1");
            assert_eq!(got["iss"], s.server.base);
            assert!(got.contains_key("error_description"));
        }
    }

    async fn prompt_none_deny_and_remembered_consent(db) {
        let s = setup(&db).await;
        let base = [("response_type", "code"), ("client_id", id(&s.confidential)), ("redirect_uri", REDIRECT), ("state", "p")];
        // No session at all: an operator's client gets login_required at its redirect URI; a
        // dynamically registered one gets a page (RFC 9700 §4.11.2, see attack_open_redirect).
        let stranger = jar();
        let mut params = base.to_vec();
        params.push(("prompt", "none"));
        let operator = operator_client(&db, &s, REDIRECT);
        let mut operator_params = params.clone();
        operator_params[1] = ("client_id", &operator);
        assert_eq!(redirected(&authorize(&s.server, &stranger, &operator_params).await)["error"], "login_required");
        error_page(authorize(&s.server, &stranger, &params).await).await;
        // Signed in, never consented.
        assert_eq!(redirected(&authorize(&s.server, &s.http, &params).await)["error"], "consent_required");
        // Deny.
        let res = decide(&s.server, &s.http, authorize(&s.server, &s.http, &base).await, "deny").await;
        assert_eq!(redirected(&res)["error"], "access_denied");
        // Allow once: remembered, so the next request goes straight back with a code.
        let res = decide(&s.server, &s.http, authorize(&s.server, &s.http, &base).await, "allow").await;
        assert!(redirected(&res).contains_key("code"));
        let again = authorize(&s.server, &s.http, &params).await;
        assert!(redirected(&again).contains_key("code"), "prompt=none now succeeds");
        // Without a session the browser is sent to sign in, and comes back.
        let res = authorize(&s.server, &stranger, &base).await;
        assert_eq!(res.status(), 303);
        let location = res.headers()["location"].to_str().unwrap_or("").to_owned();
        assert!(location.starts_with("/login?return_to=%2Foauth2%2Fauthorize"), "{location}");
        // max_age=0: the session is too old, sign in again.
        let mut fresh = base.to_vec();
        fresh.push(("max_age", "0"));
        s.server.clock.advance(5);
        let res = authorize(&s.server, &s.http, &fresh).await;
        assert!(res.headers()["location"].to_str().unwrap_or("").contains("reauth=1"));
        // form_post answers with a self-submitting form to the redirect URI.
        let mut post = base.to_vec();
        post.push(("response_mode", "form_post"));
        let res = authorize(&s.server, &s.http, &post).await;
        assert_eq!(res.status(), 200);
        let csp = res.headers()["content-security-policy"].to_str().unwrap_or("").to_owned();
        assert!(csp.contains("script-src 'nonce-") && csp.contains("form-action https://app.example"), "{csp}");
        let html = res.text().await.expect("html");
        assert!(html.contains(&format!("action=\"{REDIRECT}\"")) && html.contains("name=\"code\"") && html.contains("name=\"iss\""), "{html}");
    }

    async fn pkce_and_code_rules_at_the_token_endpoint(db) {
        let s = setup(&db).await;
        let code = code_for(&s, "openid").await;
        assert_eq!(oauth_error(exchange(&s, id(&s.public), &code, Some("wrong-verifier-wrong-verifier-wrong-verifier-0")).await).await, "invalid_grant");
        assert_eq!(oauth_error(exchange(&s, id(&s.public), &code, None).await).await, "invalid_grant");
        // Another client cannot redeem it.
        let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT), ("code_verifier", VERIFIER)];
        let res = s.server.post_form("/oauth2/token", Some((id(&s.confidential), s.confidential["client_secret"].as_str().expect("s"))), &form).await;
        assert_eq!(oauth_error(res).await, "invalid_grant");
        // A redirect_uri other than the authorization request's.
        let res = s.server.post_form("/oauth2/token", None, &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", "https://app.example/other"), ("client_id", id(&s.public)), ("code_verifier", VERIFIER)]).await;
        assert_eq!(oauth_error(res).await, "invalid_grant");
        // The right verifier still works: failed attempts did not spend the code.
        let res = exchange(&s, id(&s.public), &code, Some(VERIFIER)).await;
        assert_eq!(res.status(), 200);
        let body = json_of(res).await;
        assert!(body["id_token"].is_string() && body["refresh_token"].is_string());
        assert_eq!(body["scope"], "openid");

        // Expired: 60 seconds.
        let late = code_for(&s, "openid").await;
        s.server.clock.advance(61);
        assert_eq!(oauth_error(exchange(&s, id(&s.public), &late, Some(VERIFIER)).await).await, "invalid_grant");
        assert_eq!(oauth_error(exchange(&s, id(&s.public), "made-up", Some(VERIFIER)).await).await, "invalid_grant");
    }

    async fn a_replayed_code_revokes_what_it_issued(db) {
        let s = setup(&db).await;
        let code = code_for(&s, "openid email").await;
        let first = json_of(exchange(&s, id(&s.public), &code, Some(VERIFIER)).await).await;
        let access = first["access_token"].as_str().expect("access").to_owned();
        let refresh = first["refresh_token"].as_str().expect("refresh").to_owned();
        assert_eq!(s.server.http.get(s.server.url("/oauth2/userinfo")).bearer_auth(&access).send().await.expect("userinfo").status(), 200);
        assert_eq!(oauth_error(exchange(&s, id(&s.public), &code, Some(VERIFIER)).await).await, "invalid_grant");
        let res = s.server.http.get(s.server.url("/oauth2/userinfo")).bearer_auth(&access).send().await.expect("userinfo");
        assert_eq!(res.status(), 401, "the access token is revoked");
        let res = s.server.post_form("/oauth2/token", None, &[("grant_type", "refresh_token"), ("refresh_token", &refresh), ("client_id", id(&s.public))]).await;
        assert_eq!(oauth_error(res).await, "invalid_grant", "and the refresh token");
    }

    async fn refresh_rules(db) {
        let s = setup(&db).await;
        let code = code_for(&s, "openid email profile").await;
        let tokens = json_of(exchange(&s, id(&s.public), &code, Some(VERIFIER)).await).await;
        let r1 = tokens["refresh_token"].as_str().expect("r").to_owned();
        let refresh = |token: String, client: String, scope: Option<&'static str>| {
            let server = &s.server;
            async move {
                let mut form = vec![("grant_type", "refresh_token".to_owned()), ("refresh_token", token), ("client_id", client)];
                if let Some(scope) = scope {
                    form.push(("scope", scope.to_owned()));
                }
                server.http.post(server.url("/oauth2/token")).form(&form).send().await.expect("refresh")
            }
        };
        // Widening is refused and spends nothing.
        assert_eq!(oauth_error(refresh(r1.clone(), id(&s.public).into(), Some("openid email offline_access")).await).await, "invalid_scope");
        // Another client cannot use it.
        let other = code_client(&s.server, true, REDIRECT).await;
        assert_eq!(oauth_error(refresh(r1.clone(), id(&other).into(), None).await).await, "invalid_grant");
        // Narrowing works; the new access token carries the narrower scope.
        let res = refresh(r1.clone(), id(&s.public).into(), Some("openid email")).await;
        assert_eq!(res.status(), 200);
        let narrowed = json_of(res).await;
        assert_eq!(narrowed["scope"], "openid email");
        assert!(narrowed["id_token"].is_string());
        let r2 = narrowed["refresh_token"].as_str().expect("r2").to_owned();
        // Reuse of r1: invalid_grant, and the family (r2 too) is revoked.
        assert_eq!(oauth_error(refresh(r1, id(&s.public).into(), None).await).await, "invalid_grant");
        assert_eq!(oauth_error(refresh(r2, id(&s.public).into(), None).await).await, "invalid_grant");
    }

    async fn userinfo_and_logout_errors(db) {
        let s = setup(&db).await;
        let res = s.server.get("/oauth2/userinfo").await;
        assert_eq!(res.status(), 401);
        assert_eq!(res.headers()["www-authenticate"], "Bearer realm=\"portcullis\"");
        let res = s.server.http.get(s.server.url("/oauth2/userinfo")).bearer_auth("garbage").send().await.expect("get");
        assert_eq!(res.status(), 401);
        assert!(res.headers()["www-authenticate"].to_str().unwrap_or("").contains("error=\"invalid_token\""));
        let code = code_for(&s, "email").await;
        let no_openid = json_of(exchange(&s, id(&s.public), &code, Some(VERIFIER)).await).await;
        assert!(no_openid.get("id_token").is_none(), "no openid, no ID token");
        let res = s.server.http.post(s.server.url("/oauth2/userinfo")).bearer_auth(no_openid["access_token"].as_str().expect("t")).send().await.expect("post");
        assert_eq!(res.status(), 403);
        assert!(res.headers()["www-authenticate"].to_str().unwrap_or("").contains("insufficient_scope"));

        // Logout: an unregistered return address is an error page; without a hint, confirm first.
        let res = s.http.get(s.server.url("/oauth2/logout?post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F&client_id=") ).send().await.expect("get");
        error_page(res).await;
        let res = s.http.get(s.server.url(&format!("/oauth2/logout?client_id={}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F", id(&s.public)))).send().await.expect("get");
        error_page(res).await;
        let res = s.http.get(s.server.url("/oauth2/logout")).send().await.expect("get");
        assert_eq!(res.status(), 200);
        let html = res.text().await.expect("html");
        assert!(html.contains("Sign out?"), "asks to confirm");
        assert_eq!(s.http.get(s.server.url("/account")).send().await.expect("get").status(), 200, "still signed in");
        let res = s.http.post(s.server.url("/oauth2/logout")).form(&[("csrf_token", hidden(&html, "csrf_token").as_str()), ("confirm", "yes")]).send().await.expect("post");
        assert_eq!(res.status(), 200);
        assert_eq!(s.http.get(s.server.url("/account")).send().await.expect("get").status(), 303, "signed out");
    }

    async fn both_discovery_documents_agree_and_advertise_only_what_works(db) {
        let server = TestServer::start(&db);
        let oidc = json_of(server.get("/.well-known/openid-configuration").await).await;
        let oauth = json_of(server.get("/.well-known/oauth-authorization-server").await).await;
        assert_eq!(oidc, oauth);
        assert_eq!(oidc["authorization_response_iss_parameter_supported"], true);
        assert_eq!(oidc["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(oidc["response_types_supported"], json!(["code"]));
        for field in ["authorization_endpoint", "token_endpoint", "userinfo_endpoint", "end_session_endpoint", "jwks_uri", "registration_endpoint"] {
            let url = oidc[field].as_str().expect(field);
            let path = url.strip_prefix(&server.base).expect("same origin");
            assert_ne!(server.get(path).await.status(), 404, "{field}");
        }
    }
}

#[actix_web::test]
async fn withdrawing_an_app_on_the_account_page_revokes_its_tokens_and_consent() {
    let db = TestDb::sqlite();
    let s = setup(&db).await;
    let code = code_for(&s, "openid email").await;
    let tokens = json_of(exchange(&s, id(&s.public), &code, Some(VERIFIER)).await).await;
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let account = s
        .http
        .get(s.server.url("/account"))
        .send()
        .await
        .expect("account")
        .text()
        .await
        .expect("html");
    assert!(
        account.contains("Notes SPA"),
        "the app is listed: {account}"
    );
    let res = s
        .http
        .post(
            s.server
                .url(&format!("/account/apps/{}/revoke", id(&s.public))),
        )
        .form(&[("csrf_token", hidden(&account, "csrf_token").as_str())])
        .send()
        .await
        .expect("revoke");
    assert_eq!(res.status(), 303);
    let account = s
        .http
        .get(s.server.url("/account"))
        .send()
        .await
        .expect("account")
        .text()
        .await
        .expect("html");
    assert!(!account.contains("Notes SPA"));
    let res = s
        .server
        .post_form(
            "/oauth2/token",
            None,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", id(&s.public)),
            ],
        )
        .await;
    assert_eq!(
        oauth_error(res).await,
        "invalid_grant",
        "its refresh token is revoked"
    );
    // Consent is asked again.
    let ch = challenge(VERIFIER);
    let res = authorize(
        &s.server,
        &s.http,
        &[
            ("response_type", "code"),
            ("client_id", id(&s.public)),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("code_challenge", &ch),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_eq!(res.status(), 200, "the consent page again");
}

#[actix_web::test]
async fn first_party_clients_skip_the_consent_page() {
    let db = TestDb::sqlite();
    let s = setup(&db).await;
    let client_id = {
        let mut conn = db.store().conn().expect("conn");
        let policy = registration::Policy {
            known_scopes: vec!["openid".into()],
            default_code_scopes: vec!["openid".into()],
            id_token_algs: vec!["RS256".into()],
            allow_password_grant: false,
            backchannel_logout_loopback: false,
        };
        let meta = registration::parse_metadata(&json!({ "redirect_uris": [REDIRECT] }), &policy)
            .expect("meta");
        registration::register_client_with(&mut conn, meta, false, true, s.server.clock_now())
            .expect("register")
            .client
            .id
    };
    let res = authorize(
        &s.server,
        &s.http,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
        ],
    )
    .await;
    assert!(
        redirected(&res).contains_key("code"),
        "no consent page for a first-party client"
    );
}
