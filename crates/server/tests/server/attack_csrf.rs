//! Cross-site request forgery (RFC 9700 §4.7, OWASP): every state-changing form POST carries a
//! CSRF token, bound before sign-in to the `pcl_csrf` cookie and after sign-in to the session.
//! A forged POST (no token, a wrong one, the attacker's own, or a token without the cookie it
//! belongs to) is refused with 403, or finds no session to act on, and changes nothing.

use serde_json::Value;

use crate::api_auth::signup as api_signup;
use crate::authorize::code_client;
use crate::authorize_errors::{
    REDIRECT, VERIFIER, authorize, challenge, decide, hidden, id, jar, redirected, sign_up,
};
use crate::common::*;

const FORM_EXPIRED: &str = "This form has expired";

/// Whether a response signs a browser in.
fn sets_session(res: &reqwest::Response) -> bool {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|c| c.starts_with("pcl_session=") && !c.starts_with("pcl_session=;"))
}

/// A forged POST is refused with the "form expired" page and no redirect.
async fn refused(res: reqwest::Response, what: &str) {
    assert_eq!(res.status(), 403, "{what}");
    assert!(res.headers().get("location").is_none(), "{what}");
    assert!(!sets_session(&res), "{what}");
    assert!(
        res.text().await.expect("html").contains(FORM_EXPIRED),
        "{what}"
    );
}

async fn page(server: &TestServer, http: &reqwest::Client, path: &str) -> String {
    let res = http.get(server.url(path)).send().await.expect("get");
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.expect("html")
}

async fn signed_in(server: &TestServer, http: &reqwest::Client) -> bool {
    let res = http
        .get(server.url("/account"))
        .send()
        .await
        .expect("account");
    match res.status().as_u16() {
        200 => true,
        303 => false,
        other => panic!("/account answered {other}"),
    }
}

async fn post(http: &reqwest::Client, url: String, form: &[(&str, &str)]) -> reqwest::Response {
    http.post(url).form(form).send().await.expect("post")
}

/// Every `action` of the page's forms that starts with `prefix`.
fn actions(html: &str, prefix: &str) -> Vec<String> {
    html.split("action=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|a| a.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

on_both_backends! {
    async fn sign_in_needs_the_token_of_this_browsers_cookie(db) {
        let server = TestServer::start(&db);
        api_signup(&server, "ada@example.com", "Ada").await;
        let victim = jar();
        let token = hidden(&page(&server, &victim, "/login").await, "csrf_token");
        let attacker = jar();
        let attackers_token = hidden(&page(&server, &attacker, "/login").await, "csrf_token");
        assert_ne!(token, attackers_token);
        let creds = |csrf: Option<&str>| {
            let mut form = vec![("email", "ada@example.com".to_owned()), ("password", "correct horse".to_owned())];
            if let Some(t) = csrf {
                form.push(("csrf_token", t.to_owned()));
            }
            form
        };
        let url = server.url("/login");
        for (http, csrf, what) in [
            (&victim, None, "no token"),
            (&victim, Some("wrong-token"), "a wrong token"),
            (&victim, Some(attackers_token.as_str()), "the attacker's own token"),
            (&server.http, Some(token.as_str()), "the token without its cookie"),
        ] {
            refused(http.post(&url).form(&creds(csrf)).send().await.expect("post"), what).await;
        }
        assert!(!signed_in(&server, &victim).await, "no session was started");
        // Control: the browser's own pair signs in.
        let res = victim.post(&url).form(&creds(Some(&token))).send().await.expect("post");
        assert_eq!(res.status(), 303);
        assert!(sets_session(&res));
        assert!(signed_in(&server, &victim).await);
    }

    async fn sign_up_needs_the_token_of_this_browsers_cookie(db) {
        let server = TestServer::start(&db);
        let victim = jar();
        let token = hidden(&page(&server, &victim, "/signup").await, "csrf_token");
        let form = |csrf: &str| {
            vec![("csrf_token", csrf.to_owned()), ("name", "Eve's victim".to_owned()), ("email", "victim@example.com".to_owned()), ("password", "chosen by eve".to_owned())]
        };
        let url = server.url("/signup");
        for (http, csrf, what) in [
            (&victim, "", "no token"),
            (&victim, "wrong-token", "a wrong token"),
            (&server.http, token.as_str(), "the token without its cookie"),
        ] {
            refused(http.post(&url).form(&form(csrf)).send().await.expect("post"), what).await;
        }
        {
            let mut conn = db.store().conn().expect("conn");
            assert!(accounts::find_user_by_email(&mut conn, "victim@example.com").expect("lookup").is_none(), "no account was made");
        }
        let res = victim.post(&url).form(&form(&token)).send().await.expect("post");
        assert_eq!(res.status(), 303, "control");
        let mut conn = db.store().conn().expect("conn");
        assert!(accounts::find_user_by_email(&mut conn, "victim@example.com").expect("lookup").is_some());
    }

    async fn consent_needs_the_sessions_token(db) {
        let server = TestServer::start(&db);
        let victim = jar();
        sign_up(&server, &victim, "victim@example.com").await;
        let attacker = jar();
        sign_up(&server, &attacker, "eve@example.com").await;
        let attackers_token = hidden(&page(&server, &attacker, "/account").await, "csrf_token");
        let client = code_client(&server, false, REDIRECT).await;
        let params = [("response_type", "code"), ("client_id", id(&client)), ("redirect_uri", REDIRECT), ("scope", "openid email")];
        let html = authorize(&server, &victim, &params).await.text().await.expect("consent page");
        let (token, authorization) = (hidden(&html, "csrf_token"), hidden(&html, "authorization"));
        let form = |csrf: &str| vec![("csrf_token", csrf.to_owned()), ("authorization", authorization.clone()), ("decision", "allow".to_owned())];
        let url = server.url("/consent");
        for (csrf, what) in [("", "no token"), ("wrong-token", "a wrong token"), (attackers_token.as_str(), "the attacker's session token")] {
            refused(victim.post(&url).form(&form(csrf)).send().await.expect("post"), what).await;
        }
        // The right token without the session cookie: there is no session to consent for.
        let res = server.http.post(&url).form(&form(&token)).send().await.expect("post");
        assert_eq!(res.status(), 400);
        assert!(res.headers().get("location").is_none());
        // Nothing was allowed: prompt=none still needs consent.
        let mut silent = params.to_vec();
        silent.push(("prompt", "none"));
        assert_eq!(redirected(&authorize(&server, &victim, &silent).await)["error"], "consent_required");
        // Control.
        let res = victim.post(&url).form(&form(&token)).send().await.expect("post");
        assert!(redirected(&res).contains_key("code"));
    }

    async fn sign_out_needs_the_sessions_token(db) {
        let server = TestServer::start(&db);
        let victim = jar();
        sign_up(&server, &victim, "victim@example.com").await;
        let attacker = jar();
        sign_up(&server, &attacker, "eve@example.com").await;
        let attackers_token = hidden(&page(&server, &attacker, "/account").await, "csrf_token");
        let token = hidden(&page(&server, &victim, "/account").await, "csrf_token");
        let url = server.url("/logout");
        for (csrf, what) in [("", "no token"), ("wrong-token", "a wrong token"), (attackers_token.as_str(), "the attacker's session token")] {
            refused(post(&victim, url.clone(), &[("csrf_token", csrf)]).await, what).await;
        }
        // A GET (an image tag on another site) is not a sign-out.
        let res = victim.get(&url).send().await.expect("get");
        assert!(res.status().is_client_error(), "{}", res.status());
        // RP-initiated logout without an id_token_hint asks first; a forged confirmation is
        // shown the question again.
        let res = victim.get(server.url("/oauth2/logout")).send().await.expect("get");
        assert_eq!(res.status(), 200);
        assert!(res.text().await.expect("html").contains("Sign out?"));
        for csrf in ["", "wrong-token", attackers_token.as_str()] {
            let res = post(&victim, server.url("/oauth2/logout"), &[("csrf_token", csrf), ("confirm", "yes")]).await;
            assert_eq!(res.status(), 200, "{csrf:?}");
            assert!(res.text().await.expect("html").contains("Sign out?"), "{csrf:?}");
        }
        assert!(signed_in(&server, &victim).await, "still signed in");
        assert!(signed_in(&server, &attacker).await, "the attacker's own session too");
        // Control.
        let res = post(&victim, url, &[("csrf_token", &token)]).await;
        assert_eq!(res.status(), 303);
        assert!(!signed_in(&server, &victim).await);
    }

    async fn account_forms_need_the_sessions_token(db) {
        let server = TestServer::start_with(&db, |a| a.api_key_cache = 0);
        let victim = jar();
        sign_up(&server, &victim, "victim@example.com").await;
        // A second session of the victim's (another device), an app with access, an org key.
        let laptop = jar();
        let html = page(&server, &laptop, "/login").await;
        let res = post(&laptop, server.url("/login"), &[("csrf_token", &hidden(&html, "csrf_token")), ("email", "victim@example.com"), ("password", "long password")]).await;
        assert_eq!(res.status(), 303);
        let app = code_client(&server, true, REDIRECT).await;
        let ch = challenge(VERIFIER);
        let params = [("response_type", "code"), ("client_id", id(&app)), ("redirect_uri", REDIRECT), ("scope", "openid"), ("code_challenge", ch.as_str()), ("code_challenge_method", "S256")];
        let res = decide(&server, &victim, authorize(&server, &victim, &params).await, "allow").await;
        let code = redirected(&res)["code"].clone();
        let tokens: Value = json_of(server.post_form("/oauth2/token", None, &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("client_id", id(&app)), ("code_verifier", VERIFIER)]).await).await;
        let refresh_token = tokens["refresh_token"].as_str().expect("refresh").to_owned();
        let account = page(&server, &victim, "/account").await;
        let token = hidden(&account, "csrf_token");
        let keys_path = account.split("href=\"").skip(1).filter_map(|r| r.split('"').next())
            .find(|h| h.starts_with("/account/orgs/") && h.ends_with("/keys"))
            .expect("a link to the organization's keys")
            .to_owned();
        let keys_page = page(&server, &victim, &keys_path).await;
        let res = post(&victim, server.url(&keys_path), &[("csrf_token", &hidden(&keys_page, "csrf_token")), ("name", "deploy"), ("scopes", "org:read")]).await;
        assert_eq!(res.status(), 200);
        let created = res.text().await.expect("html");
        let secret = created.split("id=\"new-key\" tabindex=\"0\">").nth(1).and_then(|r| r.split('<').next()).expect("the new key").to_owned();
        let org_path = format!("/api/v1/organizations/{}", keys_path.trim_start_matches("/account/orgs/").trim_end_matches("/keys"));
        let key_works = || async {
            server.http.get(server.url(&org_path)).header("x-api-key", secret.as_str()).send().await.expect("get").status() == 200
        };
        assert!(key_works().await, "control: the key works");

        let sessions = actions(&account, "/account/sessions/");
        assert_eq!(sessions.len(), 2, "{account}");
        let mut forged: Vec<(String, Vec<(&str, &str)>)> = sessions.iter().map(|a| (a.clone(), vec![])).collect();
        forged.push((format!("/account/apps/{}/revoke", id(&app)), vec![]));
        forged.push((keys_path.clone(), vec![("name", "planted by eve"), ("scopes", "org:read")]));
        for key_action in actions(&page(&server, &victim, &keys_path).await, &keys_path) {
            if key_action.ends_with("/revoke") {
                forged.push((key_action, vec![]));
            }
        }
        assert_eq!(forged.len(), 5, "two sessions, an app, key creation, a key: {forged:?}");
        for (action, fields) in &forged {
            for csrf in ["", "wrong-token"] {
                let mut form = fields.clone();
                form.push(("csrf_token", csrf));
                refused(post(&victim, server.url(action), &form).await, action).await;
            }
        }
        // Nothing changed: both sessions live, the app keeps its access, no key was added or
        // revoked.
        assert!(signed_in(&server, &victim).await && signed_in(&server, &laptop).await);
        let account = page(&server, &victim, "/account").await;
        assert!(account.contains("Notes SPA"), "the app is still listed");
        assert_eq!(hidden(&account, "csrf_token"), token);
        let res = server.post_form("/oauth2/token", None, &[("grant_type", "refresh_token"), ("refresh_token", &refresh_token), ("client_id", id(&app))]).await;
        assert_eq!(res.status(), 200, "the app's refresh token still works");
        assert!(!page(&server, &victim, &keys_path).await.contains("planted by eve"));
        assert!(key_works().await, "the key was not revoked");
    }

    async fn own_account_forms_need_the_sessions_token(db) {
        let server = TestServer::start(&db);
        let victim = jar();
        sign_up(&server, &victim, "victim@example.com").await;
        let account = page(&server, &victim, "/account").await;
        let forms: [(&str, Vec<(&str, &str)>); 5] = [
            ("/account/profile", vec![("name", "Renamed by Eve")]),
            ("/account/email", vec![("email", "eve@evil.example"), ("password", "long password")]),
            ("/account/password", vec![("current_password", "long password"), ("new_password", "eve's password")]),
            ("/account/verify-email", vec![]),
            ("/account/delete", vec![("password", "long password")]),
        ];
        for (action, _) in &forms {
            assert!(account.contains(&format!("action=\"{action}\"")), "the page has {action}");
        }
        for (action, fields) in &forms {
            for csrf in ["", "wrong-token"] {
                let mut form = fields.clone();
                form.push(("csrf_token", csrf));
                refused(post(&victim, server.url(action), &form).await, action).await;
            }
        }
        // The pre-sign-in forms need this browser's own token too.
        for (action, fields) in [
            ("/password/forgot", vec![("email", "victim@example.com")]),
            ("/verify-email/resend", vec![("email", "victim@example.com")]),
            ("/password/reset", vec![("token", "x"), ("password", "eve's password"), ("confirm", "eve's password")]),
        ] {
            let eve = jar();
            let mut form = fields.clone();
            form.push(("csrf_token", "forged"));
            refused(post(&eve, server.url(action), &form).await, action).await;
        }
        // Nothing changed: same name, same address, same password, still signed in, one
        // letter (the sign-up's verification) and no more.
        let account = page(&server, &victim, "/account").await;
        assert!(account.contains("id=\"profile-name\">Pat<"), "{account}");
        assert!(account.contains("id=\"profile-email\">victim@example.com<"));
        let res = server.post_json("/api/v1/auth/login", &serde_json::json!({ "email": "victim@example.com", "password": "long password" })).await;
        assert_eq!(res.status(), 200);
        assert_eq!(server.wait_for_mail(1).await.len(), 1);
        assert_eq!(server.outbox_mail().len(), 1);
    }
    async fn security_forms_and_the_second_step_need_their_tokens(db) {
        let server = TestServer::start(&db);
        let victim = jar();
        sign_up(&server, &victim, "victim@example.com").await;
        let attacker = jar();
        sign_up(&server, &attacker, "eve@example.com").await;
        let attackers_token = hidden(&page(&server, &attacker, "/account/security").await, "csrf_token");
        let forged = ["", "wrong-token", attackers_token.as_str()];
        let security = || async { page(&server, &victim, "/account/security").await };

        // Setting up: a forged post makes no secret.
        let html = security().await;
        let token = hidden(&html, "csrf_token");
        assert!(html.contains("action=\"/account/security/totp\""));
        for csrf in forged {
            refused(post(&victim, server.url("/account/security/totp"), &[("csrf_token", csrf)]).await, "/account/security/totp").await;
        }
        assert!(security().await.contains("Two-step sign-in is off."), "nothing pending");
        assert_eq!(post(&victim, server.url("/account/security/totp"), &[("csrf_token", &token)]).await.status(), 303, "control");

        // Confirming: a forged post with the right code does not turn it on.
        let html = security().await;
        assert!(html.contains("action=\"/account/security/totp/confirm\""));
        let secret = html.split("id=\"totp-secret\">").nth(1).and_then(|r| r.split('<').next()).expect("the key").to_owned();
        let code = accounts::totp_code_for(&secret, server.clock_now()).expect("code");
        for csrf in forged {
            refused(post(&victim, server.url("/account/security/totp/confirm"), &[("csrf_token", csrf), ("code", &code)]).await, "/account/security/totp/confirm").await;
        }
        let html = security().await;
        assert!(html.contains("id=\"totp-secret\""), "still waiting for a code");
        let res = post(&victim, server.url("/account/security/totp/confirm"), &[("csrf_token", &token), ("code", &code)]).await;
        assert_eq!(res.status(), 200, "control");
        let html = res.text().await.expect("html");
        let codes: Vec<String> = html.split("<li><code>").skip(1).filter_map(|r| r.split('<').next()).map(str::to_owned).collect();
        assert_eq!(codes.len(), 10);

        // New recovery codes and removal, with the right password: refused without the token.
        let html = security().await;
        for action in ["/account/security/recovery-codes", "/account/security/totp/remove"] {
            assert!(html.contains(&format!("action=\"{action}\"")), "the page has {action}");
            for csrf in forged {
                refused(post(&victim, server.url(action), &[("csrf_token", csrf), ("password", "long password")]).await, action).await;
            }
        }
        let html = security().await;
        assert!(html.contains("An authenticator app is on"), "not removed");
        assert!(html.contains("id=\"codes-left\">10<"));
        // The first codes still work: none were replaced.
        let res = server.post_json("/api/v1/auth/login", &serde_json::json!({ "email": "victim@example.com", "password": "long password" })).await;
        let mfa_token = json_of(res).await["error"]["mfaToken"].as_str().expect("mfa_required").to_owned();
        let res = server.post_json("/api/v1/auth/mfa", &serde_json::json!({ "mfaToken": mfa_token, "code": codes[0] })).await;
        assert_eq!(res.status(), 200, "an original recovery code still signs in");

        // The second step of a sign-in: the pre-session token of this browser, as on /login.
        let browser = jar();
        let login = page(&server, &browser, "/login").await;
        let res = post(&browser, server.url("/login"), &[("csrf_token", &hidden(&login, "csrf_token")), ("email", "victim@example.com"), ("password", "long password")]).await;
        assert_eq!(res.status(), 303);
        let to = res.headers()["location"].to_str().expect("ascii").to_owned();
        assert!(to.starts_with("/login/mfa"), "{to}");
        let html = page(&server, &browser, &to).await;
        let step_token = hidden(&html, "csrf_token");
        let eves_login_token = hidden(&page(&server, &jar(), "/login").await, "csrf_token");
        server.clock.advance(30);
        let code = accounts::totp_code_for(&secret, server.clock_now()).expect("code");
        // More forged posts than the challenge's allowance of wrong codes: none is counted.
        for _ in 0..accounts::CHALLENGE_FAILURES {
            for csrf in ["", "wrong-token", eves_login_token.as_str()] {
                refused(post(&browser, server.url("/login/mfa"), &[("csrf_token", csrf), ("return_to", "/account"), ("code", "000000")]).await, "/login/mfa").await;
            }
        }
        refused(post(&browser, server.url("/login/mfa"), &[("csrf_token", ""), ("return_to", "/account"), ("code", &code)]).await, "/login/mfa with the right code").await;
        assert!(!signed_in(&server, &browser).await, "no session from a forged second step");
        // Control: the browser's own token and the code sign in.
        let res = post(&browser, server.url("/login/mfa"), &[("csrf_token", &step_token), ("return_to", "/account"), ("code", &code)]).await;
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers()["location"], "/account");
        assert!(sets_session(&res));
        assert!(signed_in(&server, &browser).await);
    }
}
