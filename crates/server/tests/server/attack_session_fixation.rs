//! Session fixation (OWASP; RFC 9700 §4.7 for the login CSRF side): the session cookie is made
//! by the server at sign-in, a fresh 256-bit value every time. A value planted in the browser
//! beforehand (by an attacker who can set cookies) is never the one that becomes signed in, and
//! stays worthless; a CSRF token planted before sign-in is worthless after it.

use std::sync::Arc;

use reqwest::cookie::Jar;

use crate::api_auth::signup as api_signup;
use crate::authorize_errors::{hidden, submit_form};
use crate::common::*;

/// 43 characters, the length of a real session secret and of a pre-session CSRF token.
const PLANTED: &str = "planted-by-the-attacker-0123456789abcdefghi";

/// A browser (cookies kept, redirects not followed) with cookies set before it ever met us.
fn browser_with(server: &TestServer, cookies: &[&str]) -> reqwest::Client {
    let jar = Arc::new(Jar::default());
    let url = server.base.parse().expect("url");
    for c in cookies {
        jar.add_cookie_str(&format!("{c}; Path=/"), &url);
    }
    reqwest::Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The session value a response sets, if any.
fn session_set_by(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.strip_prefix("pcl_session="))
        .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
        .find(|v| !v.is_empty())
}

/// Signs in through the login page; the response's new session value.
async fn sign_in(
    server: &TestServer,
    http: &reqwest::Client,
    login_path: &str,
    email: &str,
) -> String {
    let fields = [("email", email), ("password", "correct horse")];
    let res = submit_form(
        server,
        http,
        (login_path, "/login"),
        &["csrf_token"],
        &fields,
    )
    .await;
    assert_eq!(res.status(), 303);
    session_set_by(&res).expect("a session cookie")
}

/// Whose account a bare session value opens, if anyone's.
async fn owner_of(server: &TestServer, session: &str) -> Option<String> {
    let res = server
        .http
        .get(server.url("/account"))
        .header("cookie", format!("pcl_session={session}"))
        .send()
        .await
        .expect("account");
    if res.status() == 303 {
        return None;
    }
    assert_eq!(res.status(), 200);
    let html = res.text().await.expect("html");
    html.split("id=\"profile-email\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .map(str::to_owned)
}

on_both_backends! {
    async fn signing_in_again_ends_the_session_the_browser_had(db) {
        // `/login?reauth=1` is where prompt=login and max_age send a signed-in user: the value
        // the browser presented must end, not live on beside the new one until it expires.
        let server = TestServer::start(&db);
        api_signup(&server, "ada@example.com", "Ada").await;
        let browser = browser_with(&server, &[]);
        let first = sign_in(&server, &browser, "/login", "ada@example.com").await;
        let second = sign_in(&server, &browser, "/login?reauth=1", "ada@example.com").await;
        assert_ne!(first, second);
        assert_eq!(owner_of(&server, &first).await, None, "the old session value opens nothing");
        assert_eq!(owner_of(&server, &second).await.as_deref(), Some("ada@example.com"));
    }

    async fn a_planted_session_value_is_never_the_signed_in_one(db) {
        let server = TestServer::start(&db);
        api_signup(&server, "victim@example.com", "Victim").await;
        let victim = browser_with(&server, &[&format!("pcl_session={PLANTED}")]);
        let issued = sign_in(&server, &victim, "/login", "victim@example.com").await;
        assert_ne!(issued, PLANTED);
        assert!(issued.len() >= 43, "a 256-bit value: {issued}");
        assert_eq!(owner_of(&server, PLANTED).await, None, "the planted value opens nothing");
        assert_eq!(owner_of(&server, &issued).await.as_deref(), Some("victim@example.com"));
        // The browser now holds the server's value, not the planted one.
        assert_eq!(victim.get(server.url("/account")).send().await.expect("get").status(), 200);
    }

    async fn an_attackers_own_session_is_not_turned_into_the_victims(db) {
        let server = TestServer::start(&db);
        api_signup(&server, "eve@example.com", "Eve").await;
        api_signup(&server, "victim@example.com", "Victim").await;
        let eve = browser_with(&server, &[]);
        let eves_session = sign_in(&server, &eve, "/login", "eve@example.com").await;
        // Eve plants her live session in the victim's browser, which then signs in (the login
        // page asks again when told to, as the authorization endpoint does for prompt=login).
        let victim = browser_with(&server, &[&format!("pcl_session={eves_session}")]);
        let victims_session = sign_in(&server, &victim, "/login?reauth=1", "victim@example.com").await;
        assert_ne!(victims_session, eves_session);
        assert_eq!(owner_of(&server, &eves_session).await, None, "signing in again ends the session the browser presented: Eve's planted value opens nothing now");
        assert_eq!(owner_of(&server, &victims_session).await.as_deref(), Some("victim@example.com"));
    }

    async fn signing_in_again_gives_a_new_session_value(db) {
        let server = TestServer::start(&db);
        api_signup(&server, "ada@example.com", "Ada").await;
        let browser = browser_with(&server, &[]);
        let first = sign_in(&server, &browser, "/login", "ada@example.com").await;
        let second = sign_in(&server, &browser, "/login?reauth=1", "ada@example.com").await;
        assert_ne!(first, second);
        assert_eq!(owner_of(&server, &second).await.as_deref(), Some("ada@example.com"));
    }

    async fn a_planted_csrf_token_is_worthless_after_sign_in(db) {
        let server = TestServer::start(&db);
        api_signup(&server, "victim@example.com", "Victim").await;
        // The attacker planted the pre-session CSRF cookie, so knows the login form's token.
        let victim = browser_with(&server, &[&format!("pcl_csrf={PLANTED}")]);
        let login = victim.get(server.url("/login")).send().await.expect("get").text().await.expect("html");
        assert_eq!(hidden(&login, "csrf_token"), PLANTED, "the planted token is used before sign-in");
        sign_in(&server, &victim, "/login", "victim@example.com").await;
        let account = victim.get(server.url("/account")).send().await.expect("get").text().await.expect("html");
        assert_ne!(hidden(&account, "csrf_token"), PLANTED, "signed-in forms use the session's own token");
        let res = victim.post(server.url("/logout")).form(&[("csrf_token", PLANTED)]).send().await.expect("post");
        assert_eq!(res.status(), 403, "a forged sign-out with the planted token");
        assert_eq!(victim.get(server.url("/account")).send().await.expect("get").status(), 200);
    }
}
