//! Second factors: TOTP enrolment and the JSON `mfa_required` round trip, the second step on
//! the sign-in page, step-up with `acr_values` and `max_age`, an organization requiring a second
//! factor, and the ways around it that must stay shut (replay, guessing, the password grant).

use serde_json::{Value, json};

use crate::api_auth::{get_as, signup};
use crate::attack_code_injection::claims_of;
use crate::authorize_errors::{
    VERIFIER, authorize, challenge, decide, exchange, hidden, id, jar, redirected, setup,
};
use crate::common::*;

const MFA: &str = "urn:portcullis:mfa";

async fn api(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: &Value,
) -> reqwest::Response {
    server
        .http
        .request(method, server.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("request")
}

/// Turns TOTP on for the holder of `token` over the API: the secret and the recovery codes.
pub(crate) async fn enrol(server: &TestServer, token: &str) -> (String, Vec<String>) {
    let res = api(
        server,
        reqwest::Method::POST,
        "/api/v1/me/mfa/totp",
        token,
        &json!({}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let body = json_of(res).await;
    let secret = body["secret"].as_str().expect("secret").to_owned();
    assert!(
        body["otpauthUri"]
            .as_str()
            .expect("uri")
            .starts_with("otpauth://totp/Portcullis:")
    );
    let code = accounts::totp_code_for(&secret, server.clock_now()).expect("code");
    let res = api(
        server,
        reqwest::Method::POST,
        "/api/v1/me/mfa/totp/confirm",
        token,
        &json!({ "code": code }),
    )
    .await;
    assert_eq!(res.status(), 200);
    let body = json_of(res).await;
    let codes: Vec<String> = body["recoveryCodes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

/// The next step's code: the clock moves on 30 s first, so no code is used twice.
pub(crate) fn next_code(server: &TestServer, secret: &str) -> String {
    server.clock.advance(30);
    accounts::totp_code_for(secret, server.clock_now()).expect("code")
}

pub(crate) async fn login(server: &TestServer, email: &str) -> reqwest::Response {
    server
        .post_json(
            "/api/v1/auth/login",
            &json!({ "email": email, "password": "correct horse" }),
        )
        .await
}

/// The `mfaToken` of a JSON sign-in that answered `mfa_required`.
pub(crate) async fn mfa_token(server: &TestServer, email: &str) -> String {
    let res = login(server, email).await;
    assert_eq!(res.status(), 403);
    let body = json_of(res).await;
    assert_eq!(body["error"]["code"], "mfa_required");
    assert_eq!(body["error"]["methods"], json!(["totp", "recovery_code"]));
    assert!(
        body.get("token").is_none(),
        "no tokens before the second factor"
    );
    body["error"]["mfaToken"]
        .as_str()
        .expect("mfaToken")
        .to_owned()
}

pub(crate) async fn answer(server: &TestServer, mfa_token: &str, code: &str) -> reqwest::Response {
    server
        .post_json(
            "/api/v1/auth/mfa",
            &json!({ "mfaToken": mfa_token, "code": code }),
        )
        .await
}

/// The ID token's claims after a code flow of `s.public` with `extra` parameters, consent
/// given if asked.
async fn id_token_after(s: &crate::authorize_errors::Setup, res: reqwest::Response) -> Value {
    let res = decide(&s.server, &s.http, res, "allow").await;
    let params = redirected(&res);
    let res = exchange(s, id(&s.public), &params["code"], Some(VERIFIER)).await;
    assert_eq!(res.status(), 200);
    claims_of(json_of(res).await["id_token"].as_str().expect("id_token"))
}

fn authorize_params<'a>(
    s: &'a crate::authorize_errors::Setup,
    ch: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", id(&s.public)),
        ("redirect_uri", crate::authorize_errors::REDIRECT),
        ("scope", "openid"),
        ("state", "xyz"),
        ("code_challenge", ch),
        ("code_challenge_method", "S256"),
    ]
}

fn location(res: &reqwest::Response) -> String {
    assert_eq!(res.status(), 303, "expected a redirect");
    res.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned()
}

/// The text of the element with `id` in a page.
fn text_of(html: &str, id: &str) -> String {
    html.split(&format!("id=\"{id}\">"))
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| panic!("no #{id} in {html}"))
        .to_owned()
}

/// Posts a code on the second-step page the browser is at.
async fn post_code(
    s: &crate::authorize_errors::Setup,
    page: &str,
    code: &str,
) -> reqwest::Response {
    s.http
        .post(s.server.url("/login/mfa"))
        .form(&[
            ("csrf_token", hidden(page, "csrf_token").as_str()),
            ("return_to", hidden(page, "return_to").as_str()),
            ("code", code),
        ])
        .send()
        .await
        .expect("post")
}

async fn page(s: &crate::authorize_errors::Setup, path: &str) -> String {
    let res = s.http.get(s.server.url(path)).send().await.expect("get");
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.expect("html")
}

on_both_backends! {
    async fn json_sign_in_with_totp_answers_mfa_required_then_tokens(db) {
        let server = TestServer::start(&db);
        let token = signup(&server, "ada@example.com", "Ada").await["token"].as_str().expect("token").to_owned();
        let status = json_of(get_as(&server, "/api/v1/me/mfa", &token).await).await;
        assert_eq!(status, json!({ "totp": false, "recoveryCodesLeft": 0 }));
        let (secret, codes) = enrol(&server, &token).await;
        let status = json_of(get_as(&server, "/api/v1/me/mfa", &token).await).await;
        assert_eq!(status, json!({ "totp": true, "recoveryCodesLeft": 10 }));
        // A second enrolment is refused while one is on.
        let res = api(&server, reqwest::Method::POST, "/api/v1/me/mfa/totp", &token, &json!({})).await;
        assert_eq!(res.status(), 409);

        let mfa = mfa_token(&server, "ada@example.com").await;
        let res = answer(&server, &mfa, "000000x").await;
        assert_eq!(res.status(), 401);
        assert_eq!(json_of(res).await["error"]["code"], "invalid_code");
        let res = answer(&server, &mfa, &next_code(&server, &secret)).await;
        assert_eq!(res.status(), 200);
        let body = json_of(res).await;
        assert!(body["token"].is_string() && body["refreshToken"].is_string());
        assert!(get_as(&server, "/api/v1/me", body["token"].as_str().expect("ok")).await.status().is_success());
        // The challenge is used.
        let res = answer(&server, &mfa, &next_code(&server, &secret)).await;
        assert_eq!(json_of(res).await["error"]["code"], "invalid_mfa_token");

        // A recovery code signs in once.
        let mfa = mfa_token(&server, "ada@example.com").await;
        assert_eq!(answer(&server, &mfa, &codes[0]).await.status(), 200);
        let mfa = mfa_token(&server, "ada@example.com").await;
        assert_eq!(answer(&server, &mfa, &codes[0]).await.status(), 401);
        assert_eq!(json_of(get_as(&server, "/api/v1/me/mfa", &token).await).await["recoveryCodesLeft"], 9);

        // New recovery codes and removal need the password.
        let res = api(&server, reqwest::Method::POST, "/api/v1/me/mfa/recovery-codes", &token, &json!({ "password": "wrong one" })).await;
        assert_eq!(res.status(), 403);
        let res = api(&server, reqwest::Method::POST, "/api/v1/me/mfa/recovery-codes", &token, &json!({ "password": "correct horse" })).await;
        assert_eq!(res.status(), 200);
        let fresh = json_of(res).await["recoveryCodes"].as_array().expect("codes").len();
        assert_eq!(fresh, 10);
        let mfa = mfa_token(&server, "ada@example.com").await;
        assert_eq!(answer(&server, &mfa, &codes[1]).await.status(), 401, "old codes are void");
        let res = api(&server, reqwest::Method::DELETE, "/api/v1/me/mfa/totp", &token, &json!({ "password": "correct horse" })).await;
        assert_eq!(res.status(), 204);
        assert_eq!(login(&server, "ada@example.com").await.status(), 200, "one factor again");
    }

    async fn attack_totp_replay_the_code_that_signed_in_does_not_sign_in_again(db) {
        let server = TestServer::start(&db);
        let token = signup(&server, "ada@example.com", "Ada").await["token"].as_str().expect("token").to_owned();
        let (secret, _) = enrol(&server, &token).await;
        let code = next_code(&server, &secret);
        let mfa = mfa_token(&server, "ada@example.com").await;
        assert_eq!(answer(&server, &mfa, &code).await.status(), 200);
        // Seen over a shoulder, or phished, and replayed within its 30 seconds.
        server.clock.advance(5);
        let mfa = mfa_token(&server, "ada@example.com").await;
        let res = answer(&server, &mfa, &code).await;
        assert_eq!(res.status(), 401);
        assert_eq!(json_of(res).await["error"]["code"], "invalid_code");
    }

    async fn attack_second_factor_guessing_kills_the_challenge_and_counts_against_the_account(db) {
        let server = TestServer::start(&db);
        let token = signup(&server, "ada@example.com", "Ada").await["token"].as_str().expect("token").to_owned();
        let (secret, _) = enrol(&server, &token).await;
        let mfa = mfa_token(&server, "ada@example.com").await;
        let right = next_code(&server, &secret);
        let wrong = if right == "123456" { "654321" } else { "123456" };
        for _ in 0..accounts::CHALLENGE_FAILURES {
            assert_eq!(answer(&server, &mfa, wrong).await.status(), 401);
        }
        // Dead: even the right code does not open it now.
        let res = answer(&server, &mfa, &right).await;
        assert_eq!(json_of(res).await["error"]["code"], "invalid_mfa_token");
        // A forged token is no challenge.
        let res = answer(&server, "forged", &right).await;
        assert_eq!(res.status(), 401);
        // A right password does not clear the failures the codes ran up: after enough of
        // them the account's sign-in is throttled.
        let mut throttled = false;
        for _ in 0..20 {
            let res = login(&server, "ada@example.com").await;
            if res.status() == 429 {
                throttled = true;
                break;
            }
            let mfa = json_of(res).await["error"]["mfaToken"].as_str().expect("mfaToken").to_owned();
            for _ in 0..accounts::CHALLENGE_FAILURES {
                let res = answer(&server, &mfa, wrong).await;
                if res.status() == 429 {
                    throttled = true;
                    break;
                }
            }
            if throttled {
                break;
            }
        }
        assert!(throttled, "guessing codes ends in the throttle");
    }

    async fn attack_password_grant_cannot_skip_the_second_factor(db) {
        let server = TestServer::start_with(&db, |a| a.password_grant = true);
        let token = signup(&server, "legacy@example.com", "Legacy").await["token"].as_str().expect("token").to_owned();
        let (client_id, client_secret) = crate::password_grant::legacy_client(&server).await;
        let grant = [("grant_type", "password"), ("username", "legacy@example.com"), ("password", "correct horse")];
        let res = server.post_form("/oauth2/token", Some((&client_id, &client_secret)), &grant).await;
        assert_eq!(res.status(), 200, "one factor: the grant works");
        enrol(&server, &token).await;
        let res = server.post_form("/oauth2/token", Some((&client_id, &client_secret)), &grant).await;
        assert_eq!(res.status(), 400);
        let body = json_of(res).await;
        assert_eq!(body["error"], "invalid_grant");
        assert!(body["error_description"].as_str().unwrap_or_default().contains("second factor"));
    }

    async fn the_sign_in_page_asks_for_the_code_and_acr_values_steps_up(db) {
        let s = setup(&db).await;
        let ch = challenge(VERIFIER);
        // One factor: the ID token says so.
        let claims = id_token_after(&s, authorize(&s.server, &s.http, &authorize_params(&s, &ch)).await).await;
        assert_eq!(claims["amr"], json!(["pwd"]));
        assert_eq!(claims["acr"], "urn:portcullis:pwd");

        // The relying party asks for two: the user has none, so sets one up on the way.
        let mut params = authorize_params(&s, &ch);
        params.push(("acr_values", MFA));
        let res = authorize(&s.server, &s.http, &params).await;
        let to = location(&res);
        assert!(to.starts_with("/login/mfa?return_to=%2Foauth2%2Fauthorize"), "{to}");
        let html = page(&s, &to).await;
        assert!(html.contains("<svg"), "a QR code drawn as SVG");
        let secret = text_of(&html, "totp-secret");
        let wrong = post_code(&s, &html, "000000").await;
        assert_eq!(wrong.status(), 401);
        let html = wrong.text().await.expect("html");
        assert_eq!(text_of(&html, "totp-secret"), secret, "the same secret shown again");
        let code = accounts::totp_code_for(&secret, s.server.clock_now()).expect("code");
        let res = post_code(&s, &html, &code).await;
        assert_eq!(res.status(), 200);
        let html = res.text().await.expect("html");
        assert_eq!(html.matches("<li><code>").count(), 10, "recovery codes shown once");
        let next = html.split("id=\"continue\" href=\"").nth(1).and_then(|r| r.split('"').next()).expect("continue").replace("&#38;", "&");
        let res = s.http.get(s.server.url(&next)).send().await.expect("back");
        let claims = id_token_after(&s, res).await;
        assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
        assert_eq!(claims["acr"], MFA);

        // Signing in afresh: the password, then the code.
        let http = jar();
        let res = crate::authorize_errors::submit_form(&s.server, &http, ("/login", "/login"), &["csrf_token"], &[("email", "pat@example.com"), ("password", "long password")]).await;
        let to = location(&res);
        assert!(to.starts_with("/login/mfa"), "{to}");
        let res = http.get(s.server.url("/account")).send().await.expect("account");
        assert_eq!(res.status(), 303, "no session before the second factor");
        let html = http.get(s.server.url(&to)).send().await.expect("mfa").text().await.expect("html");
        assert!(html.contains("Enter your code"));
        s.server.clock.advance(30);
        let code = accounts::totp_code_for(&secret, s.server.clock_now()).expect("code");
        let res = http.post(s.server.url("/login/mfa")).form(&[("csrf_token", hidden(&html, "csrf_token").as_str()), ("return_to", "/account"), ("code", &code)]).send().await.expect("post");
        assert_eq!(location(&res), "/account");
        assert_eq!(http.get(s.server.url("/account")).send().await.expect("account").status(), 200);

        // max_age: a sign-in older than asked for is made again, with both factors.
        s.server.clock.advance(120);
        let mut params = authorize_params(&s, &ch);
        params.push(("max_age", "60"));
        let res = authorize(&s.server, &http, &params).await;
        let to = location(&res);
        assert!(to.starts_with("/login?") && to.contains("reauth=1"), "{to}");
        let html = http.get(s.server.url(&to)).send().await.expect("login").text().await.expect("html");
        let res = http.post(s.server.url("/login")).form(&[("csrf_token", hidden(&html, "csrf_token").as_str()), ("return_to", hidden(&html, "return_to").as_str()), ("email", "pat@example.com"), ("password", "long password")]).send().await.expect("post");
        let to = location(&res);
        assert!(to.starts_with("/login/mfa"), "{to}");
        let html = http.get(s.server.url(&to)).send().await.expect("mfa").text().await.expect("html");
        let code = next_code(&s.server, &secret);
        let res = http.post(s.server.url("/login/mfa")).form(&[("csrf_token", hidden(&html, "csrf_token").as_str()), ("return_to", hidden(&html, "return_to").as_str()), ("code", code.as_str())]).send().await.expect("post");
        let back = location(&res);
        assert!(back.starts_with("/oauth2/authorize"), "{back}");
        let res = http.get(s.server.url(&back)).send().await.expect("back");
        let res = decide(&s.server, &http, res, "allow").await;
        let params = redirected(&res);
        let res = exchange(&s, id(&s.public), &params["code"], Some(VERIFIER)).await;
        let claims = claims_of(json_of(res).await["id_token"].as_str().expect("id_token"));
        assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
        assert_eq!(claims["auth_time"], s.server.clock_now(), "the new sign-in's time");
    }

    async fn a_session_with_one_factor_of_a_user_who_has_two_is_stepped_up(db) {
        let s = setup(&db).await;
        let ch = challenge(VERIFIER);
        // Pat turns TOTP on from the account page, in the session signed in with a password.
        let html = page(&s, "/account/security").await;
        assert!(html.contains("Two-step sign-in is off"));
        let res = s.http.post(s.server.url("/account/security/totp")).form(&[("csrf_token", hidden(&html, "csrf_token").as_str())]).send().await.expect("start");
        assert_eq!(location(&res), "/account/security");
        let html = page(&s, "/account/security").await;
        let secret = text_of(&html, "totp-secret");
        let code = accounts::totp_code_for(&secret, s.server.clock_now()).expect("code");
        let res = s.http.post(s.server.url("/account/security/totp/confirm")).form(&[("csrf_token", hidden(&html, "csrf_token").as_str()), ("code", code.as_str())]).send().await.expect("confirm");
        assert_eq!(res.status(), 200);
        assert_eq!(res.text().await.expect("html").matches("<li><code>").count(), 10);
        // The session was made with the password alone: an app gets the second step first.
        let res = authorize(&s.server, &s.http, &authorize_params(&s, &ch)).await;
        let to = location(&res);
        assert!(to.starts_with("/login/mfa"), "{to}");
        let mut none = authorize_params(&s, &ch);
        none.push(("prompt", "none"));
        let res = authorize(&s.server, &s.http, &none).await;
        assert_eq!(redirected(&res)["error"], "interaction_required");
        let html = page(&s, &to).await;
        assert!(html.contains("Enter your code"));
        let res = post_code(&s, &html, &next_code(&s.server, &secret)).await;
        let back = location(&res);
        assert!(back.starts_with("/oauth2/authorize"), "{back}");
        let res = s.http.get(s.server.url(&back)).send().await.expect("back");
        let claims = id_token_after(&s, res).await;
        assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));

        // Removing it needs the password.
        let html = page(&s, "/account/security").await;
        let res = s.http.post(s.server.url("/account/security/totp/remove")).form(&[("csrf_token", hidden(&html, "csrf_token").as_str()), ("password", "wrong password")]).send().await.expect("remove");
        assert_eq!(res.status(), 403);
        let res = s.http.post(s.server.url("/account/security/totp/remove")).form(&[("csrf_token", hidden(&html, "csrf_token").as_str()), ("password", "long password")]).send().await.expect("remove");
        assert_eq!(location(&res), "/account/security?notice=totp_removed");
    }

    async fn an_organization_requiring_mfa_sends_its_members_to_set_one_up(db) {
        let server = TestServer::start(&db);
        let body = signup(&server, "owner@example.com", "Owner").await;
        let token = body["token"].as_str().expect("token").to_owned();
        let org = body["organization"]["id"].as_str().expect("org").to_owned();
        let path = format!("/api/v1/organizations/{org}");
        assert_eq!(json_of(get_as(&server, &path, &token).await).await["requireMfa"], false);
        let res = api(&server, reqwest::Method::PATCH, &path, &token, &json!({ "requireMfa": true })).await;
        assert_eq!(res.status(), 200);
        assert_eq!(json_of(res).await["requireMfa"], true);
        let res = api(&server, reqwest::Method::PATCH, &path, &token, &json!({ "requireMfa": "yes" })).await;
        assert_eq!(res.status(), 400);

        // The JSON sign-in cannot go on without one.
        let res = login(&server, "owner@example.com").await;
        assert_eq!(res.status(), 403);
        assert_eq!(json_of(res).await["error"]["code"], "mfa_enrollment_required");
        // The sign-in page sends the member to set one up, and signs in with both.
        let http = jar();
        let res = crate::authorize_errors::submit_form(&server, &http, ("/login", "/login"), &["csrf_token"], &[("email", "owner@example.com"), ("password", "correct horse"), ("return_to", "/account")]).await;
        let to = location(&res);
        let html = http.get(server.url(&to)).send().await.expect("mfa").text().await.expect("html");
        assert!(html.contains("Set up two-step sign-in"));
        let secret = text_of(&html, "totp-secret");
        let code = accounts::totp_code_for(&secret, server.clock_now()).expect("code");
        let res = http.post(server.url("/login/mfa")).form(&[("csrf_token", hidden(&html, "csrf_token").as_str()), ("return_to", "/account"), ("code", code.as_str())]).send().await.expect("post");
        assert_eq!(res.status(), 200);
        assert_eq!(http.get(server.url("/account")).send().await.expect("account").status(), 200);
        // From now on the JSON sign-in asks for the code.
        mfa_token(&server, "owner@example.com").await;
    }

    async fn without_encryption_keys_the_second_step_says_so_instead_of_failing(db) {
        let server = TestServer::start_with(&db, |s| s.encryption_keys = None);
        let body = signup(&server, "owner@example.com", "Owner").await;
        let token = body["token"].as_str().expect("token").to_owned();
        let res = api(&server, reqwest::Method::POST, "/api/v1/me/mfa/totp", &token, &json!({})).await;
        assert_eq!(res.status(), 503);
        assert_eq!(json_of(res).await["error"]["code"], "mfa_unavailable");
        let org = body["organization"]["id"].as_str().expect("org").to_owned();
        let res = api(&server, reqwest::Method::PATCH, &format!("/api/v1/organizations/{org}"), &token, &json!({ "requireMfa": true })).await;
        assert_eq!(res.status(), 200);
        let http = jar();
        let res = crate::authorize_errors::submit_form(&server, &http, ("/login", "/login"), &["csrf_token"], &[("email", "owner@example.com"), ("password", "correct horse"), ("return_to", "/account")]).await;
        let to = location(&res);
        let res = http.get(server.url(&to)).send().await.expect("mfa");
        assert_eq!(res.status(), 503);
        assert!(res.text().await.expect("html").contains("PORTCULLIS_ENCRYPTION_KEYS"));
    }

    async fn attack_second_factor_bypass_by_joining_through_an_invite(db) {
        let server = TestServer::start(&db);
        let body = signup(&server, "owner@example.com", "Owner").await;
        let token = body["token"].as_str().expect("token").to_owned();
        let org = body["organization"]["id"].as_str().expect("org").to_owned();
        let res = api(&server, reqwest::Method::PATCH, &format!("/api/v1/organizations/{org}"), &token, &json!({ "requireMfa": true })).await;
        assert_eq!(res.status(), 200);
        let invite = |email: &'static str| {
            let (server, token, org) = (&server, token.clone(), org.clone());
            async move {
                let res = api(server, reqwest::Method::POST, &format!("/api/v1/organizations/{org}/invites"), &token, &json!({ "email": email })).await;
                assert_eq!(res.status(), 201);
                json_of(res).await
            }
        };
        // Over JSON: the account is made and joins, but no token comes before a second factor.
        let first = invite("new@example.com").await;
        let res = server.post_json(&format!("/api/v1/invites/{}/accept", first["id"].as_str().expect("id")), &json!({ "token": first["token"], "name": "New", "password": "long enough" })).await;
        assert_eq!(res.status(), 200);
        let joined = json_of(res).await;
        assert_eq!(joined["mfaEnrollmentRequired"], true, "{joined}");
        assert!(joined.get("token").is_none() && joined.get("refreshToken").is_none(), "{joined}");
        // On the invite page: on to set one up, no session before.
        let second = invite("page@example.com").await;
        let http = jar();
        let path = format!("/invites/{}?token={}", second["id"].as_str().expect("id"), second["token"].as_str().expect("token"));
        let html = http.get(server.url(&path)).send().await.expect("invite page").text().await.expect("html");
        let action = html.split("<form method=\"post\" action=\"").filter_map(|r| r.split('"').next()).find(|a| a.starts_with("/invites/")).expect("a form").replace("&#38;", "&");
        let mut form = vec![("csrf_token", hidden(&html, "csrf_token")), ("name", "Page".to_owned()), ("password", "long enough".to_owned())];
        if html.contains("name=\"token\"") {
            form.push(("token", hidden(&html, "token")));
        }
        let res = http.post(server.url(&action)).form(&form).send().await.expect("accept");
        let to = location(&res);
        assert!(to.starts_with("/login/mfa"), "{to}");
        assert_eq!(location(&http.get(server.url("/account")).send().await.expect("account")), "/login?return_to=/account", "no one-factor session");
    }
}
