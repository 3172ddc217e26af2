//! PKCE downgrade (RFC 7636, RFC 9700 §2.1.1, §4.8.2): public clients must send an S256
//! challenge, `plain` is never accepted, and the token endpoint accepts a code only with the
//! verifier of its challenge, and refuses a verifier for a code that had none.

use crate::authorize_errors::{
    REDIRECT, VERIFIER, authorize, challenge, code_for, decide, exchange, id, oauth_error,
    redirected, setup,
};
use crate::common::*;

/// A valid verifier that is not the one the code was bound to.
const OTHER_VERIFIER: &str = "another-verifier-of-forty-three-characters-xyz";

on_both_backends! {
    async fn public_clients_must_send_an_s256_challenge(db) {
        let s = setup(&db).await;
        let base = [("response_type", "code"), ("client_id", id(&s.public)), ("redirect_uri", REDIRECT), ("scope", "openid"), ("state", "pk")];
        let ch = challenge(VERIFIER);
        for extra in [
            vec![],
            vec![("code_challenge_method", "S256")],
        ] {
            let mut params = base.to_vec();
            params.extend(extra.iter().copied());
            let res = authorize(&s.server, &s.http, &params).await;
            let got = redirected(&res);
            assert_eq!(got["error"], "invalid_request", "{extra:?}");
            assert_eq!(got["state"], "pk");
            assert!(!got.contains_key("code"));
        }
        // Control: with a challenge the request goes on to the consent page.
        let mut params = base.to_vec();
        params.extend([("code_challenge", ch.as_str()), ("code_challenge_method", "S256")]);
        assert_eq!(authorize(&s.server, &s.http, &params).await.status(), 200);
    }

    async fn plain_and_unknown_methods_are_refused_for_every_client(db) {
        let s = setup(&db).await;
        // A challenge that would be a valid plain verifier.
        let plain = VERIFIER;
        for client in [&s.public, &s.confidential] {
            for method in [Some("plain"), None, Some("PLAIN"), Some("s256"), Some("S512"), Some("")] {
                let mut params = vec![("response_type", "code"), ("client_id", id(client)), ("redirect_uri", REDIRECT), ("scope", "openid"), ("code_challenge", plain)];
                if let Some(m) = method {
                    params.push(("code_challenge_method", m));
                }
                let res = authorize(&s.server, &s.http, &params).await;
                let got = redirected(&res);
                assert_eq!(got["error"], "invalid_request", "{method:?}");
                assert!(!got.contains_key("code"));
            }
            // A challenge that is not 43-128 characters of the unreserved set.
            for bad in ["short", &"a".repeat(129), "a-challenge-with-a-space in-it-and-43-chars-long"] {
                let params = [("response_type", "code"), ("client_id", id(client)), ("redirect_uri", REDIRECT), ("scope", "openid"), ("code_challenge", bad), ("code_challenge_method", "S256")];
                assert_eq!(redirected(&authorize(&s.server, &s.http, &params).await)["error"], "invalid_request", "{bad}");
            }
        }
    }

    async fn a_code_bound_to_a_challenge_needs_its_verifier(db) {
        let s = setup(&db).await;
        let code = code_for(&s, "openid").await;
        let public = id(&s.public);
        assert_eq!(oauth_error(exchange(&s, public, &code, None).await).await, "invalid_grant", "verifier left out");
        assert_eq!(oauth_error(exchange(&s, public, &code, Some(OTHER_VERIFIER)).await).await, "invalid_grant", "wrong verifier");
        // The challenge itself as the verifier: what `plain` would accept.
        let ch = challenge(VERIFIER);
        assert_eq!(oauth_error(exchange(&s, public, &code, Some(&ch)).await).await, "invalid_grant", "plain downgrade");
        for malformed in ["x", &format!("{VERIFIER} "), &"v".repeat(129)] {
            assert_eq!(oauth_error(exchange(&s, public, &code, Some(malformed)).await).await, "invalid_grant", "{malformed}");
        }
        // Control: the failed attempts did not spend the code; the right verifier works.
        let res = exchange(&s, public, &code, Some(VERIFIER)).await;
        assert_eq!(res.status(), 200);
        assert!(json_of(res).await["access_token"].is_string());
    }

    async fn a_verifier_for_a_code_without_a_challenge_is_refused(db) {
        let s = setup(&db).await;
        // A confidential client may leave PKCE out.
        let params = [("response_type", "code"), ("client_id", id(&s.confidential)), ("redirect_uri", REDIRECT), ("scope", "openid")];
        let res = decide(&s.server, &s.http, authorize(&s.server, &s.http, &params).await, "allow").await;
        let code = redirected(&res)["code"].clone();
        let secret = s.confidential["client_secret"].as_str().expect("secret");
        let basic = Some((id(&s.confidential), secret));
        let form = vec![("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)];
        let mut with_verifier = form.clone();
        with_verifier.push(("code_verifier", VERIFIER));
        let res = s.server.post_form("/oauth2/token", basic, &with_verifier).await;
        assert_eq!(oauth_error(res).await, "invalid_grant");
        // Control: the same request without the verifier is answered.
        let res = s.server.post_form("/oauth2/token", basic, &form).await;
        assert_eq!(res.status(), 200);
    }
}
