//! Pushed authorization requests (RFC 9126): `POST /oauth2/par`, then `/oauth2/authorize`
//! with `client_id` and `request_uri` through sign-in, the account chooser and consent; and
//! the attacks PAR exists to stop (parameters changed in the browser, a `request_uri` used
//! twice, by another client, or late).

use serde_json::{Value, json};
use url::Url;

use crate::authorize_errors::*;
use crate::common::*;

/// The confidential client's id and secret.
fn credentials(client: &Value) -> (&str, &str) {
    (
        id(client),
        client["client_secret"].as_str().expect("client_secret"),
    )
}

/// The request parameters the tests push: code flow with PKCE, `state` and a nonce.
fn request_params(challenge: &str) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("redirect_uri", REDIRECT.into()),
        ("scope", "openid email".into()),
        ("state", "pushed-state".into()),
        ("nonce", "pushed-nonce".into()),
        ("code_challenge", challenge.into()),
        ("code_challenge_method", "S256".into()),
    ]
}

/// Pushes `params` with the confidential client's Basic credentials (or, with `basic`
/// `None`, as sent).
async fn push(
    server: &TestServer,
    basic: Option<(&str, &str)>,
    params: &[(&str, String)],
) -> reqwest::Response {
    let form: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    server.post_form("/oauth2/par", basic, &form).await
}

/// Pushes the usual request for the confidential client; returns its `request_uri`.
async fn pushed(s: &Setup, extra: &[(&'static str, &str)]) -> String {
    let mut params = request_params(&challenge(VERIFIER));
    params.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let res = push(&s.server, Some(credentials(&s.confidential)), &params).await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body = json_of(res).await;
    assert_eq!(body["expires_in"], 60);
    let uri = body["request_uri"]
        .as_str()
        .expect("request_uri")
        .to_owned();
    assert!(
        uri.starts_with("urn:ietf:params:oauth:request_uri:"),
        "{uri}"
    );
    uri
}

/// The browser's half: `/oauth2/authorize` with only `client_id` and `request_uri` (and any
/// `outer` parameters an attacker adds).
async fn open(
    s: &Setup,
    http: &reqwest::Client,
    client_id: &str,
    request_uri: &str,
    outer: &[(&str, &str)],
) -> reqwest::Response {
    let mut params = vec![("client_id", client_id), ("request_uri", request_uri)];
    params.extend_from_slice(outer);
    authorize(&s.server, http, &params).await
}

async fn redeem(s: &Setup, code: &str) -> reqwest::Response {
    s.server
        .post_form(
            "/oauth2/token",
            Some(credentials(&s.confidential)),
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await
}

on_both_backends! {
    async fn a_pushed_request_signs_in_consents_and_gets_tokens(db) {
        let s = setup(&db).await;
        let uri = pushed(&s, &[]).await;
        // A browser without a session: to the sign-in page, and back with only the reference.
        let browser = jar();
        let res = open(&s, &browser, id(&s.confidential), &uri, &[]).await;
        assert_eq!(res.status(), 303);
        let login = res.headers()["location"].to_str().expect("ascii").to_owned();
        let return_to: String = Url::parse(&s.server.url(&login))
            .expect("url")
            .query_pairs()
            .find(|(k, _)| k == "return_to")
            .map(|(_, v)| v.into_owned())
            .expect("return_to");
        assert!(return_to.contains("request_uri=") && !return_to.contains("redirect_uri"), "{return_to}");
        let res = submit_form(
            &s.server,
            &browser,
            (&login, "/login"),
            &["csrf_token", "return_to"],
            &[("email", "pat@example.com"), ("password", "long password")],
        )
        .await;
        assert_eq!(res.status(), 303);
        let back = res.headers()["location"].to_str().expect("ascii").to_owned();
        assert!(back.starts_with("/oauth2/authorize?"), "{back}");
        let res = browser.get(s.server.url(&back)).send().await.expect("back");
        assert_eq!(res.status(), 200, "the consent page");
        let res = decide(&s.server, &browser, res, "allow").await;
        let params = redirected(&res);
        assert_eq!(params["state"], "pushed-state");
        assert_eq!(params["iss"], s.server.base);
        let res = redeem(&s, &params["code"]).await;
        assert_eq!(res.status(), 200);
        let tokens = json_of(res).await;
        assert!(tokens["id_token"].is_string(), "{tokens}");
        assert_eq!(tokens["scope"], "openid email");
    }

    async fn a_public_client_pushes_naming_itself(db) {
        let s = setup(&db).await;
        let res = push(
            &s.server,
            None,
            &[&[("client_id", id(&s.public).to_owned())][..], &request_params(&challenge(VERIFIER))].concat(),
        )
        .await;
        assert_eq!(res.status(), 201);
        let uri = json_of(res).await["request_uri"].as_str().expect("uri").to_owned();
        let res = open(&s, &s.http, id(&s.public), &uri, &[]).await;
        let params = redirected(&decide(&s.server, &s.http, res, "allow").await);
        let res = exchange(&s, id(&s.public), &params["code"], Some(VERIFIER)).await;
        assert_eq!(res.status(), 200);
    }

    async fn attack_par_parameters_changed_in_the_browser(db) {
        // RFC 9126 §4: only the pushed parameters count; what the browser's URL adds is not
        // read (here a foreign redirect URI, a wider scope, another state, no PKCE).
        let s = setup(&db).await;
        let uri = pushed(&s, &[]).await;
        let res = open(
            &s,
            &s.http,
            id(&s.confidential),
            &uri,
            &[
                ("redirect_uri", "https://attacker.example/cb"),
                ("scope", "openid email profile offline_access"),
                ("state", "attacker-state"),
                ("code_challenge", "attacker-challenge-attacker-challenge-attacker"),
            ],
        )
        .await;
        assert_eq!(res.status(), 200);
        let html = res.text().await.expect("html");
        assert!(!html.contains("See your name"), "profile was not pushed: {html}");
        let res = s
            .http
            .post(s.server.url("/consent"))
            .form(&[
                ("csrf_token", hidden(&html, "csrf_token").as_str()),
                ("authorization", hidden(&html, "authorization").as_str()),
                ("decision", "allow"),
            ])
            .send()
            .await
            .expect("consent");
        let params = redirected(&res);
        assert_eq!(params["state"], "pushed-state");
        let res = redeem(&s, &params["code"]).await;
        assert_eq!(res.status(), 200, "the pushed verifier redeems it");
        assert_eq!(json_of(res).await["scope"], "openid email");
    }

    async fn attack_par_request_uri_reused(db) {
        let s = setup(&db).await;
        let uri = pushed(&s, &[]).await;
        let res = open(&s, &s.http, id(&s.confidential), &uri, &[]).await;
        let params = redirected(&decide(&s.server, &s.http, res, "allow").await);
        assert!(params.contains_key("code"));
        // Consent is now remembered: a second use would give a code at once.
        error_page(open(&s, &s.http, id(&s.confidential), &uri, &[]).await).await;
    }

    async fn attack_par_request_uri_of_another_client(db) {
        let s = setup(&db).await;
        let uri = pushed(&s, &[]).await;
        error_page(open(&s, &s.http, id(&s.public), &uri, &[]).await).await;
        // Unharmed for its own client.
        let res = open(&s, &s.http, id(&s.confidential), &uri, &[]).await;
        assert_eq!(res.status(), 200);
    }

    async fn a_pushed_request_waits_a_minute_for_the_browser_then_a_sign_in(db) {
        let s = setup(&db).await;
        let late = pushed(&s, &[]).await;
        s.server.clock.advance(61);
        error_page(open(&s, &s.http, id(&s.confidential), &late, &[]).await).await;

        // Brought in time, it lasts while the user signs in and decides.
        let uri = pushed(&s, &[]).await;
        let res = open(&s, &s.http, id(&s.confidential), &uri, &[]).await;
        assert_eq!(res.status(), 200);
        s.server.clock.advance(600);
        let res = open(&s, &s.http, id(&s.confidential), &uri, &[]).await;
        let params = redirected(&decide(&s.server, &s.http, res, "allow").await);
        assert!(params.contains_key("code"));
    }

    async fn a_denied_pushed_request_is_used_up(db) {
        let s = setup(&db).await;
        let uri = pushed(&s, &[]).await;
        let res = open(&s, &s.http, id(&s.confidential), &uri, &[]).await;
        let params = redirected(&decide(&s.server, &s.http, res, "deny").await);
        assert_eq!(params["error"], "access_denied");
        assert_eq!(params["state"], "pushed-state");
        error_page(open(&s, &s.http, id(&s.confidential), &uri, &[]).await).await;
    }

    async fn par_authenticates_the_client_as_the_token_endpoint_does(db) {
        let s = setup(&db).await;
        let params = request_params(&challenge(VERIFIER));
        let (client_id, _) = credentials(&s.confidential);
        let res = push(&s.server, Some((client_id, "not the secret")), &params).await;
        assert_eq!(res.status(), 401);
        assert_eq!(json_of(res).await["error"], "invalid_client");
        let named = [&[("client_id", client_id.to_owned())][..], &params].concat();
        let res = push(&s.server, None, &named).await;
        assert_eq!(res.status(), 401);
        assert_eq!(json_of(res).await["error"], "invalid_client");
        let res = push(&s.server, None, &params).await;
        assert_eq!(res.status(), 401, "no client at all");
        // A valid token of the wrong kind (a user's access token) is no client credential.
        let code = code_for(&s, "openid").await;
        let token = json_of(exchange(&s, id(&s.public), &code, Some(VERIFIER)).await).await;
        let access = token["access_token"].as_str().expect("access token");
        let form: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let res = s
            .server
            .http
            .post(s.server.url("/oauth2/par"))
            .bearer_auth(access)
            .form(&form)
            .send()
            .await
            .expect("par");
        assert_eq!(res.status(), 401);
        assert_eq!(json_of(res).await["error"], "invalid_client");
    }

    async fn par_answers_the_authorization_endpoints_errors_to_the_client(db) {
        let s = setup(&db).await;
        let basic = Some(credentials(&s.confidential));
        let base = request_params(&challenge(VERIFIER));
        let with = |k: &'static str, v: &str| {
            let mut p: Vec<(&str, String)> = base.iter().filter(|(n, _)| *n != k).cloned().collect();
            p.push((k, v.to_owned()));
            p
        };
        for (params, error) in [
            (with("request_uri", "urn:ietf:params:oauth:request_uri:nested"), "invalid_request"),
            (with("redirect_uri", "https://attacker.example/cb"), "invalid_request"),
            (with("scope", "openid not-a-scope"), "invalid_scope"),
            (with("response_type", "token"), "unsupported_response_type"),
            (with("code_challenge_method", "plain"), "invalid_request"),
        ] {
            let res = push(&s.server, basic, &params).await;
            assert_eq!(res.status(), 400, "{params:?}");
            assert!(res.headers().get("location").is_none());
            assert_eq!(json_of(res).await["error"], error, "{params:?}");
        }
        // A public client without PKCE.
        let res = push(
            &s.server,
            None,
            &[("client_id", id(&s.public).to_owned()), ("response_type", "code".into()), ("redirect_uri", REDIRECT.into())],
        )
        .await;
        assert_eq!(res.status(), 400);
        assert_eq!(json_of(res).await["error"], "invalid_request");
        // Only POST.
        assert_eq!(s.server.get("/oauth2/par").await.status(), 405);
    }

    async fn a_client_that_requires_par_is_refused_in_the_browser(db) {
        let s = setup(&db).await;
        let res = s
            .server
            .post_json(
                "/oauth2/register",
                &json!({
                    "client_name": "Bank app",
                    "redirect_uris": [REDIRECT],
                    "scope": "openid email",
                    "require_pushed_authorization_requests": true,
                }),
            )
            .await;
        assert_eq!(res.status(), 201);
        let client = json_of(res).await;
        assert_eq!(client["require_pushed_authorization_requests"], true);
        let ch = challenge(VERIFIER);
        let res = authorize(
            &s.server,
            &s.http,
            &[
                ("response_type", "code"),
                ("client_id", id(&client)),
                ("redirect_uri", REDIRECT),
                ("scope", "openid"),
                ("state", "s1"),
                ("code_challenge", &ch),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
        let params = redirected(&res);
        assert_eq!(params["error"], "invalid_request");
        assert_eq!(params["state"], "s1");
        let res = push(&s.server, Some(credentials(&client)), &request_params(&ch)).await;
        assert_eq!(res.status(), 201);
        let uri = json_of(res).await["request_uri"].as_str().expect("uri").to_owned();
        let res = open(&s, &s.http, id(&client), &uri, &[]).await;
        let params = redirected(&decide(&s.server, &s.http, res, "allow").await);
        assert!(params.contains_key("code"));

        // Not a boolean.
        let res = s
            .server
            .post_json(
                "/oauth2/register",
                &json!({ "redirect_uris": [REDIRECT], "require_pushed_authorization_requests": "yes" }),
            )
            .await;
        assert_eq!(res.status(), 400);
        assert_eq!(json_of(res).await["error"], "invalid_client_metadata");
    }

    async fn a_pushed_select_account_request_shows_the_chooser_once(db) {
        let s = setup(&db).await;
        let uri = pushed(&s, &[("prompt", "select_account")]).await;
        let res = open(&s, &s.http, id(&s.confidential), &uri, &[]).await;
        assert_eq!(res.status(), 303);
        let chooser = res.headers()["location"].to_str().expect("ascii").to_owned();
        assert!(chooser.starts_with("/login/select?"), "{chooser}");
        let back: String = Url::parse(&s.server.url(&chooser))
            .expect("url")
            .query_pairs()
            .find(|(k, _)| k == "return_to")
            .map(|(_, v)| v.into_owned())
            .expect("return_to");
        let res = s.http.get(s.server.url(&back)).send().await.expect("back");
        assert_eq!(res.status(), 200, "the consent page, not the chooser again");
    }
}

#[actix_web::test]
async fn the_operator_can_require_par_of_every_client() {
    let db = TestDb::sqlite();
    let server = TestServer::start_with(&db, |s| s.par_required = true);
    let discovery = json_of(server.get("/.well-known/openid-configuration").await).await;
    assert_eq!(discovery["require_pushed_authorization_requests"], true);
    let http = jar();
    sign_up(&server, &http, "pat@example.com").await;
    let client = crate::authorize::code_client(&server, true, REDIRECT).await;
    let ch = challenge(VERIFIER);
    let browser_request = [
        ("response_type", "code"),
        ("client_id", id(&client)),
        ("redirect_uri", REDIRECT),
        ("code_challenge", ch.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let params = redirected(&authorize(&server, &http, &browser_request).await);
    assert_eq!(params["error"], "invalid_request");
    let res = server
        .post_form("/oauth2/par", None, &browser_request)
        .await;
    assert_eq!(res.status(), 201);
    let uri = json_of(res).await["request_uri"]
        .as_str()
        .expect("uri")
        .to_owned();
    let res = authorize(
        &server,
        &http,
        &[("client_id", id(&client)), ("request_uri", &uri)],
    )
    .await;
    assert_eq!(res.status(), 200, "the consent page");
}
