//! `prompt=login` (OpenID Connect Core §3.1.2.1) forces a new sign-in. After it, the browser
//! comes back to the authorization request with a marker saying so; the marker is a proof bound
//! to the session that signed in, so one written into a URL by anyone else (a made-up value, an
//! old time, the attacker's own proof) does not skip the sign-in.

use url::Url;

use crate::authorize_errors::{
    REDIRECT, Setup, authorize, decide, id, jar, redirected, setup, sign_up, submit_form,
};
use crate::common::*;

fn base(s: &Setup) -> Vec<(&str, &str)> {
    vec![
        ("response_type", "code"),
        ("client_id", id(&s.confidential)),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("state", "pl"),
        ("prompt", "login"),
    ]
}

/// Where a response sends the browser, as a path with query.
fn location(res: &reqwest::Response) -> String {
    assert_eq!(res.status(), 303);
    res.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned()
}

/// Follows the sign-in page the authorization endpoint sent `http` to, signs in as `email`, and
/// returns where the sign-in sends the browser back to.
async fn sign_in_from(
    server: &TestServer,
    http: &reqwest::Client,
    login: &str,
    email: &str,
) -> String {
    assert!(login.starts_with("/login?"), "{login}");
    let fields = [("email", email), ("password", "long password")];
    let carry = ["csrf_token", "return_to"];
    let res = submit_form(server, http, (login, "/login"), &carry, &fields).await;
    location(&res)
}

fn marker_of(path: &str) -> String {
    Url::parse(&format!("http://x{path}"))
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "pcl_signed_in")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no marker in {path}"))
}

on_both_backends! {
    async fn attack_a_reauthentication_marker_added_to_the_url_does_not_skip_prompt_login(db) {
        let s = setup(&db).await;
        // The victim has allowed the client, so a skipped sign-in would return a code at once.
        let mut plain = base(&s);
        plain.retain(|(k, _)| *k != "prompt");
        let res = decide(&s.server, &s.http, authorize(&s.server, &s.http, &plain).await, "allow").await;
        assert!(redirected(&res).contains_key("code"));

        // Made-up markers, and the old time-based one, are ignored: sign in again.
        for (name, value) in [("pcl_signed_in", "0"), ("pcl_signed_in", "ffffffff"), ("pcl_auth_after", "0")] {
            let mut forged = base(&s);
            forged.push((name, value));
            let to = location(&authorize(&s.server, &s.http, &forged).await);
            assert!(to.starts_with("/login?") && to.contains("reauth=1"), "{name}={value}: {to}");
            assert!(!to.contains("pcl_signed_in"), "a forged marker is not carried on: {to}");
        }

        // The attacker's own, genuine proof, from signing in to their own account.
        let eve = jar();
        sign_up(&s.server, &eve, "eve@example.com").await;
        let login = location(&authorize(&s.server, &eve, &base(&s)).await);
        let eves_return = sign_in_from(&s.server, &eve, &login, "eve@example.com").await;
        let eves_proof = marker_of(&eves_return);
        let mut planted = base(&s);
        planted.push(("pcl_signed_in", &eves_proof));
        let to = location(&authorize(&s.server, &s.http, &planted).await);
        assert!(to.starts_with("/login?"), "Eve's proof is not the victim's: {to}");

        // The honest round trip: signed in again, back with a proof of this session, a code.
        let back = sign_in_from(&s.server, &s.http, &to, "pat@example.com").await;
        assert!(back.starts_with("/oauth2/authorize?"), "{back}");
        assert_ne!(marker_of(&back), eves_proof);
        assert_eq!(back.matches("pcl_signed_in").count(), 1, "the planted marker was replaced: {back}");
        let res = s.http.get(s.server.url(&back)).send().await.expect("back");
        assert!(redirected(&res).contains_key("code"), "no sign-in loop");

        // The proof is good for the moments after that sign-in only.
        s.server.clock.advance(301);
        let to = location(&s.http.get(s.server.url(&back)).send().await.expect("later"));
        assert!(to.starts_with("/login?"), "a stale proof: {to}");
    }
}
