//! Open redirect (RFC 9700 §4.1, §4.11): the authorization and end-session endpoints send the
//! browser only to a URI the client registered, compared as an exact string. Every near miss an
//! attacker could craft gets the error page: 400, HTML, no `Location`.

use serde_json::json;
use url::Url;

use crate::authorize::code_client;
use crate::authorize_errors::{
    REDIRECT, Setup, VERIFIER, authorize, challenge, code_for, decide, error_page, exchange,
    hidden, id, jar, operator_client, redirected, setup, sign_up,
};
use crate::common::*;

/// Strings an attacker would try in place of `https://app.example{path}`: each names another
/// place (or the same place spelled differently, which a lax comparison would accept).
fn near_misses(path: &str) -> Vec<String> {
    let good = format!("https://app.example{path}");
    let idn = Url::parse(&format!("https://\u{0430}pp.example{path}"))
        .expect("IDN parses")
        .to_string();
    assert!(idn.contains("xn--"), "punycode form: {idn}");
    let upper_path = {
        let mut p = path.to_owned();
        p.replace_range(1..2, &p[1..2].to_uppercase());
        p
    };
    let encoded_first = format!("%{:02x}", path.as_bytes()[1]);
    vec![
        // Case changes.
        format!("HTTPS://app.example{path}"),
        format!("https://APP.example{path}"),
        format!("https://app.EXAMPLE{path}"),
        format!("https://app.example{upper_path}"),
        // Trailing characters.
        format!("{good}/"),
        format!("{good}."),
        format!("{good}%20"),
        format!(" {good}"),
        // Path traversal, plain and encoded; some normalize back to the registered path.
        format!("{good}/../evil"),
        format!("{good}/%2e%2e/evil"),
        format!("{good}/%2E%2E/evil"),
        format!("{good}%2f..%2fevil"),
        format!("https://app.example/evil/..{path}"),
        format!("https://app.example/%2e%2e{path}"),
        format!("https://app.example/.{path}"),
        format!("https://app.example/{path}"),
        // User information naming another host, or hiding it.
        format!("https://app.example@evil.example{path}"),
        format!("https://evil.example@app.example{path}"),
        format!("https://app.example%40evil.example{path}"),
        format!("https://app.example:pw@evil.example{path}"),
        format!("https://evil.example\\@app.example{path}"),
        // Percent-encoding of ordinary characters.
        format!("https://app.example/{encoded_first}{}", &path[2..]),
        format!("https://%61pp.example{path}"),
        // Extra query parameters.
        format!("{good}?"),
        format!("{good}?next=https://evil.example/"),
        format!("{good}?redirect_uri=https%3A%2F%2Fevil.example%2F"),
        // Ports.
        format!("https://app.example:443{path}"),
        format!("https://app.example:8443{path}"),
        // Look-alike hosts: IDN (Cyrillic a) in Unicode and punycode, suffixes, prefixes.
        format!("https://\u{0430}pp.example{path}"),
        idn,
        format!("https://app.example.evil.example{path}"),
        format!("https://evilapp.example{path}"),
        format!("https://app.example%2eevil.example{path}"),
        // Fragments.
        format!("{good}#"),
        format!("{good}#https://evil.example/"),
        // Other schemes and scheme-relative forms.
        format!("http://app.example{path}"),
        format!("https:app.example{path}"),
        format!("//app.example{path}"),
        format!("https:/app.example{path}"),
        format!("javascript://app.example{path}%0aalert(1)"),
        "https://evil.example/callback".to_owned(),
    ]
}

/// A signed-in browser that has allowed the confidential client, so a request with the exact
/// redirect URI comes straight back with a code: whatever a near miss would have got.
async fn consented(db: &TestDb) -> Setup {
    let s = setup(db).await;
    let params = [
        ("response_type", "code"),
        ("client_id", id(&s.confidential)),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
    ];
    let res = decide(
        &s.server,
        &s.http,
        authorize(&s.server, &s.http, &params).await,
        "allow",
    )
    .await;
    assert!(redirected(&res).contains_key("code"));
    s
}

async fn still_signed_in(s: &Setup) {
    let res = s
        .http
        .get(s.server.url("/account"))
        .send()
        .await
        .expect("account");
    assert_eq!(res.status(), 200, "the session survived");
}

on_both_backends! {
    async fn near_miss_redirect_uris_get_the_error_page(db) {
        let s = &consented(&db).await;
        let request = |redirect_uri: String| {
            let client_id = id(&s.confidential).to_owned();
            async move {
                let params = [
                    ("response_type", "code".to_owned()),
                    ("client_id", client_id),
                    ("redirect_uri", redirect_uri),
                    ("scope", "openid".to_owned()),
                    ("state", "st".to_owned()),
                ];
                let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
                authorize(&s.server, &s.http, &params).await
            }
        };
        // The exact URI: a code, at once.
        let res = request(REDIRECT.to_owned()).await;
        assert!(redirected(&res).contains_key("code"), "control: the registered URI works");
        for evil in near_misses("/callback") {
            let res = request(evil.clone()).await;
            assert_eq!(res.status(), 400, "{evil}");
            assert!(res.headers().get("location").is_none(), "{evil}");
            let html = res.text().await.expect("html");
            assert!(html.contains("redirect address"), "{evil}: {html}");
            assert!(!html.contains("code="), "{evil}");
        }
        // Another client's registered URI is not this client's.
        let other = code_client(&s.server, false, "https://evil.example/callback").await;
        assert_eq!(other["redirect_uris"], json!(["https://evil.example/callback"]));
        error_page(request("https://evil.example/callback".into()).await).await;
    }

    async fn errors_before_the_redirect_uri_is_trusted_are_never_redirected(db) {
        let s = setup(&db).await;
        let evil = "https://evil.example/callback";
        // An unknown client, or none, with an attacker's URI and an error that would be
        // redirected for a known client (no response_type).
        for params in [
            vec![("client_id", "no-such-client"), ("redirect_uri", evil)],
            vec![("redirect_uri", evil)],
            vec![("client_id", id(&s.confidential)), ("redirect_uri", evil)],
            vec![("client_id", id(&s.confidential)), ("redirect_uri", evil), ("response_type", "token")],
            vec![("client_id", id(&s.confidential)), ("redirect_uri", evil), ("response_mode", "form_post"), ("response_type", "code")],
            vec![("client_id", id(&s.public)), ("redirect_uri", evil), ("response_type", "code")],
        ] {
            error_page(authorize(&s.server, &s.http, &params).await).await;
        }
        // The same parameter twice (parameter pollution): refused, not first- or last-wins.
        let url = format!(
            "/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&redirect_uri={}",
            id(&s.confidential),
            urlencode(REDIRECT),
            urlencode(evil),
        );
        error_page(s.http.get(s.server.url(&url)).send().await.expect("get")).await;
        let url = format!(
            "/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&redirect_uri={}",
            id(&s.confidential),
            urlencode(evil),
            urlencode(REDIRECT),
        );
        error_page(s.http.get(s.server.url(&url)).send().await.expect("get")).await;
        // POSTed authorization requests follow the same rule.
        let res = s
            .http
            .post(s.server.url("/oauth2/authorize"))
            .form(&[("response_type", "code"), ("client_id", id(&s.confidential)), ("redirect_uri", evil)])
            .send()
            .await
            .expect("post");
        error_page(res).await;
    }

    async fn the_loopback_port_exception_opens_nothing_else(db) {
        let s = &setup(&db).await;
        let res = s.server.post_json("/oauth2/register", &json!({
            "client_name": "CLI",
            "application_type": "native",
            "token_endpoint_auth_method": "none",
            "redirect_uris": ["http://127.0.0.1/cb"],
            "scope": "openid",
        })).await;
        assert_eq!(res.status(), 201);
        let native = json_of(res).await;
        let ch = crate::authorize_errors::challenge(VERIFIER);
        let request = |redirect_uri: &'static str| {
            let (client_id, ch) = (id(&native).to_owned(), ch.clone());
            async move {
                authorize(&s.server, &s.http, &[
                    ("response_type", "code"),
                    ("client_id", &client_id),
                    ("redirect_uri", redirect_uri),
                    ("code_challenge", &ch),
                    ("code_challenge_method", "S256"),
                ]).await
            }
        };
        // RFC 8252 §7.3: any port on the registered loopback host and path.
        let res = request("http://127.0.0.1:51234/cb").await;
        assert_eq!(res.status(), 200, "control: the consent page for an ephemeral port");
        for evil in [
            "http://localhost:51234/cb",
            "http://127.0.0.2:51234/cb",
            "http://[::1]:51234/cb",
            "http://127.0.0.1.evil.example:51234/cb",
            "http://127.0.0.1:51234@evil.example/cb",
            "http://evil.example@127.0.0.1:51234/cb",
            "http://127.0.0.1:51234/cb/",
            "http://127.0.0.1:51234/cb/../evil",
            "http://127.0.0.1:51234/cb?x=1",
            "http://127.0.0.1:51234/cb#x",
            "https://127.0.0.1:51234/cb",
        ] {
            let res = request(evil).await;
            assert_eq!(res.status(), 400, "{evil}");
            error_page(res).await;
        }
        // Spellings that parse to the registered host and path are accepted in this branch
        // (the comparison is on parsed URLs), but the browser is only ever sent to the
        // registered loopback host and path.
        for same_place in [
            "http://127.0.0.1:51234/evil/../cb",
            "http://2130706433:51234/cb",
            "http://0x7f.0.0.1:51234/cb",
        ] {
            let res = decide(&s.server, &s.http, request(same_place).await, "allow").await;
            if res.status() == 400 {
                continue;
            }
            assert_eq!(res.status(), 303, "{same_place}");
            let location = Url::parse(res.headers()["location"].to_str().expect("ascii")).expect("url");
            assert_eq!(
                (location.host_str(), location.port(), location.path()),
                (Some("127.0.0.1"), Some(51234), "/cb"),
                "{same_place}"
            );
        }
    }

    async fn end_session_follows_only_exactly_registered_post_logout_uris(db) {
        let s = setup(&db).await;
        let bye = format!("{REDIRECT}/bye");
        assert_eq!(s.public["post_logout_redirect_uris"], json!([bye]));
        let code = code_for(&s, "openid").await;
        let tokens = json_of(exchange(&s, id(&s.public), &code, Some(VERIFIER)).await).await;
        let hint = tokens["id_token"].as_str().expect("id_token").to_owned();
        let logout = |params: Vec<(&'static str, String)>| {
            let http = s.http.clone();
            let mut url = Url::parse(&s.server.url("/oauth2/logout")).expect("url");
            url.query_pairs_mut().extend_pairs(params);
            async move { http.get(url).send().await.expect("logout") }
        };
        // With a valid hint the server would sign out and redirect at once: every near miss
        // must stop at the page, and leave the session alone.
        let mut evil = near_misses("/callback/bye");
        evil.push(REDIRECT.to_owned()); // a redirect URI, not a post-logout URI
        for uri in evil {
            let res = logout(vec![
                ("id_token_hint", hint.clone()),
                ("post_logout_redirect_uri", uri.clone()),
                ("state", "s".into()),
            ])
            .await;
            assert_eq!(res.status(), 400, "{uri}");
            assert!(res.headers().get("location").is_none(), "{uri}");
            assert!(res.text().await.expect("html").contains("not registered"), "{uri}");
        }
        still_signed_in(&s).await;
        // An attacker's own client (registration is open) cannot lend its URI to this hint.
        let attacker = json_of(s.server.post_json("/oauth2/register", &json!({
            "redirect_uris": ["https://evil.example/cb"],
            "post_logout_redirect_uris": ["https://evil.example/bye"],
        })).await).await;
        let res = logout(vec![
            ("id_token_hint", hint.clone()),
            ("client_id", id(&attacker).to_owned()),
            ("post_logout_redirect_uri", "https://evil.example/bye".into()),
        ])
        .await;
        error_page(res).await;
        let res = logout(vec![
            ("id_token_hint", hint.clone()),
            ("post_logout_redirect_uri", "https://evil.example/bye".into()),
        ])
        .await;
        error_page(res).await;
        // The confirmed sign-out (no hint) checks the URI the same way.
        let page = s.http.get(s.server.url("/oauth2/logout")).send().await.expect("get");
        let csrf = hidden(&page.text().await.expect("html"), "csrf_token");
        let res = s
            .http
            .post(s.server.url("/oauth2/logout"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("confirm", "yes"),
                ("client_id", id(&s.public)),
                ("post_logout_redirect_uri", "https://app.example/callback/bye/"),
            ])
            .send()
            .await
            .expect("post");
        error_page(res).await;
        still_signed_in(&s).await;
        // The exact URI: signed out and sent back with state.
        let res = logout(vec![
            ("id_token_hint", hint),
            ("post_logout_redirect_uri", bye.clone()),
            ("state", "s".into()),
        ])
        .await;
        assert_eq!(res.status(), 303, "control: the registered URI is followed");
        assert_eq!(res.headers()["location"], format!("{bye}?state=s").as_str());
    }
}

/// An ID token of whoever is signed in to `http`, for the public client.
async fn id_token_of(s: &Setup, http: &reqwest::Client) -> String {
    let ch = challenge(VERIFIER);
    let res = authorize(
        &s.server,
        http,
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
    let code = redirected(&decide(&s.server, http, res, "allow").await)["code"].clone();
    let tokens = json_of(exchange(s, id(&s.public), &code, Some(VERIFIER)).await).await;
    tokens["id_token"].as_str().expect("id_token").to_owned()
}

/// A logout request's URL.
fn logout_url(s: &Setup, params: &[(&str, &str)]) -> Url {
    let mut url = Url::parse(&s.server.url("/oauth2/logout")).expect("url");
    url.query_pairs_mut().extend_pairs(params);
    url
}

on_both_backends! {
    async fn attack_a_registered_clients_errors_before_sign_in_are_a_page_not_a_redirect(db) {
        // RFC 9700 §4.11.2: anyone may register a client whose redirect URI is a phishing
        // page, then send people a link to this server that fails on purpose. A redirected
        // error would carry them from a trusted address to the attacker's.
        let s = setup(&db).await;
        let evil = "https://evil.example/phish";
        let res = s.server.post_json("/oauth2/register", &json!({
            "client_name": "Totally Legit",
            "redirect_uris": [evil],
            "scope": "openid",
        })).await;
        assert_eq!(res.status(), 201);
        let attacker = json_of(res).await;
        let request = |extra: &[(&'static str, &'static str)]| {
            let mut p: Vec<(&str, &str)> = vec![
                ("response_type", "code"),
                ("client_id", id(&attacker)),
                ("redirect_uri", evil),
                ("scope", "openid"),
                ("state", "st"),
            ];
            for (k, v) in extra {
                p.retain(|(name, _)| name != k);
                p.push((*k, *v));
            }
            p
        };
        let victim = jar();
        for (extra, error) in [
            (vec![("scope", "admin")], "invalid_scope"),
            (vec![("response_type", "token")], "unsupported_response_type"),
            (vec![("prompt", "none")], "login_required"),
            (vec![("prompt", "bogus")], "invalid_request"),
            (vec![("request", "eyJ")], "request_not_supported"),
            (vec![("response_mode", "form_post"), ("scope", "admin")], "invalid_scope"),
        ] {
            let res = authorize(&s.server, &victim, &request(&extra)).await;
            assert_eq!(res.status(), 400, "{extra:?}");
            assert!(res.headers().get("location").is_none(), "{extra:?}");
            let html = res.text().await.expect("html");
            assert!(html.contains("Totally Legit") && html.contains(error), "{extra:?}: {html}");
            assert!(!html.contains("evil.example"), "no form or link to the client: {html}");
        }
        // A valid request still sends the browser to sign in, not to the client.
        let res = authorize(&s.server, &victim, &request(&[])).await;
        assert_eq!(res.status(), 303);
        assert!(res.headers()["location"].to_str().unwrap_or("").starts_with("/login?"));
        // Signed in, errors go back to the client as RFC 6749 §4.1.2.1 says.
        sign_up(&s.server, &victim, "victim@example.com").await;
        let res = authorize(&s.server, &victim, &request(&[("scope", "admin")])).await;
        assert_eq!(res.status(), 303);
        let location = Url::parse(res.headers()["location"].to_str().expect("ascii")).expect("url");
        assert!(location.as_str().starts_with(evil), "{location}");
        assert!(location.query_pairs().any(|(k, v)| k == "error" && v == "invalid_scope"));
        // An operator's client (made on the command line) keeps redirecting before sign-in.
        let operator = operator_client(&db, &s, REDIRECT);
        let res = authorize(&s.server, &jar(), &[
            ("response_type", "code"),
            ("client_id", &operator),
            ("redirect_uri", REDIRECT),
            ("scope", "admin"),
            ("state", "op"),
        ]).await;
        let got = redirected(&res);
        assert_eq!((got["error"].as_str(), got["state"].as_str()), ("invalid_scope", "op"));
    }

    async fn attack_a_logout_link_with_an_id_token_of_another_user_does_not_redirect_unconfirmed(db) {
        // RP-Initiated Logout 1.0 §2: only a hint naming the signed-in user skips the question.
        // Anyone can hold an ID token of their own; it says nothing about this browser's user.
        let s = setup(&db).await;
        let bye = format!("{REDIRECT}/bye");
        let eve = jar();
        sign_up(&s.server, &eve, "eve@example.com").await;
        let eves_hint = id_token_of(&s, &eve).await;
        let params = [
            ("id_token_hint", eves_hint.as_str()),
            ("post_logout_redirect_uri", bye.as_str()),
            ("state", "s"),
        ];
        // The victim is signed in: asked, not signed out, not redirected.
        let res = s.http.get(logout_url(&s, &params)).send().await.expect("logout");
        assert_eq!(res.status(), 200);
        assert!(res.headers().get("location").is_none());
        let html = res.text().await.expect("html");
        assert!(html.contains("Sign out?"), "{html}");
        still_signed_in(&s).await;
        // Nobody signed in: still asked before being sent on.
        let stranger = jar();
        let res = stranger.get(logout_url(&s, &params)).send().await.expect("logout");
        assert_eq!(res.status(), 200);
        assert!(res.headers().get("location").is_none());
        let html = res.text().await.expect("html");
        assert!(html.contains("Leave Portcullis?"), "{html}");
        // The confirmation is a CSRF-protected form: forged, it is refused.
        let mut forged: Vec<(&str, &str)> = params.to_vec();
        forged.push(("confirm", "yes"));
        let res = jar().post(s.server.url("/oauth2/logout")).form(&forged).send().await.expect("post");
        assert_eq!(res.status(), 200, "an unconfirmed request is asked again");
        assert!(res.headers().get("location").is_none());
        let csrf = hidden(&html, "csrf_token");
        forged.push(("csrf_token", "not-the-token-of-this-browser-000000000000000"));
        let res = stranger.post(s.server.url("/oauth2/logout")).form(&forged).send().await.expect("post");
        assert!(res.headers().get("location").is_none());
        // Confirmed by the user: sent back with state.
        let mut confirmed: Vec<(&str, &str)> = params.to_vec();
        confirmed.extend([("confirm", "yes"), ("csrf_token", csrf.as_str())]);
        let res = stranger.post(s.server.url("/oauth2/logout")).form(&confirmed).send().await.expect("post");
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers()["location"], format!("{bye}?state=s").as_str());
        // Control: the victim's own hint signs out and redirects at once.
        let own = id_token_of(&s, &s.http).await;
        let res = s.http.get(logout_url(&s, &[
            ("id_token_hint", own.as_str()),
            ("post_logout_redirect_uri", bye.as_str()),
        ])).send().await.expect("logout");
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers()["location"], bye.as_str());
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
