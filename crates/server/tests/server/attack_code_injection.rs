//! Authorization-code injection and misuse (RFC 9700 §4.5, RFC 6749 §4.1.3): a code is bound
//! to the client it was issued to, to the redirect URI of its request, to the PKCE challenge of
//! the session that asked for it, and (OpenID Connect) to that request's nonce.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::authorize_errors::{
    REDIRECT, VERIFIER, authorize, challenge, code_for, decide, exchange, id, oauth_error,
    redirected, setup,
};
use crate::common::*;

/// The claims of a JWT, unverified (the test only reads what the server put there).
pub(crate) fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

on_both_backends! {
    async fn a_code_issued_to_one_client_is_refused_to_another(db) {
        let s = setup(&db).await;
        let code = code_for(&s, "openid").await;
        let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT), ("code_verifier", VERIFIER)];
        // A confidential client, properly authenticated, presents the public client's code.
        let secret = s.confidential["client_secret"].as_str().expect("secret");
        let res = s.server.post_form("/oauth2/token", Some((id(&s.confidential), secret)), &form).await;
        assert_eq!(oauth_error(res).await, "invalid_grant");
        // Another public client (anyone may register one) presents it.
        let other = crate::authorize::code_client(&s.server, true, REDIRECT).await;
        assert_eq!(oauth_error(exchange(&s, id(&other), &code, Some(VERIFIER)).await).await, "invalid_grant");
        // The code was neither spent nor revoked by the refused attempts: its own client
        // still redeems it (a stranger who saw a code cannot destroy it either).
        let res = exchange(&s, id(&s.public), &code, Some(VERIFIER)).await;
        assert_eq!(res.status(), 200);
        let tokens = json_of(res).await;
        assert_eq!(claims_of(tokens["access_token"].as_str().expect("at"))["client_id"], id(&s.public));
    }

    async fn a_stolen_code_injected_into_another_session_fails(db) {
        let s = setup(&db).await;
        // The victim's request: its own challenge and nonce.
        let ch = challenge(VERIFIER);
        let params = [
            ("response_type", "code"), ("client_id", id(&s.public)), ("redirect_uri", REDIRECT),
            ("scope", "openid"), ("nonce", "victim-nonce"),
            ("code_challenge", ch.as_str()), ("code_challenge_method", "S256"),
        ];
        let res = decide(&s.server, &s.http, authorize(&s.server, &s.http, &params).await, "allow").await;
        let stolen = redirected(&res)["code"].clone();
        // The attacker injects it into the client in their own session, where the client holds
        // the attacker's verifier.
        let attacker_verifier = "the-attackers-own-session-verifier-0123456789";
        assert_eq!(oauth_error(exchange(&s, id(&s.public), &stolen, Some(attacker_verifier)).await).await, "invalid_grant");
        // Redeemed in the right session, the ID token carries the victim request's nonce, so a
        // client that checks it would spot an injected code even without PKCE.
        let tokens = json_of(exchange(&s, id(&s.public), &stolen, Some(VERIFIER)).await).await;
        let claims = claims_of(tokens["id_token"].as_str().expect("id_token"));
        assert_eq!(claims["nonce"], "victim-nonce");
        assert_eq!(claims["aud"], id(&s.public));
    }

    async fn the_redirect_uri_must_match_at_the_token_endpoint(db) {
        let s = setup(&db).await;
        let other_uri = "https://app.example/other";
        let res = s.server.post_json("/oauth2/register", &json!({
            "client_name": "Two doors",
            "redirect_uris": [REDIRECT, other_uri],
            "grant_types": ["authorization_code"],
            "token_endpoint_auth_method": "none",
            "scope": "openid",
        })).await;
        assert_eq!(res.status(), 201);
        let client = json_of(res).await;
        let ch = challenge(VERIFIER);
        let params = [
            ("response_type", "code"), ("client_id", id(&client)), ("redirect_uri", REDIRECT),
            ("scope", "openid"), ("code_challenge", ch.as_str()), ("code_challenge_method", "S256"),
        ];
        let res = decide(&s.server, &s.http, authorize(&s.server, &s.http, &params).await, "allow").await;
        let code = redirected(&res)["code"].clone();
        let token = |redirect_uri: Option<&'static str>| {
            let (server, client_id, code) = (&s.server, id(&client).to_owned(), code.clone());
            async move {
                let mut form = vec![("grant_type", "authorization_code"), ("code", code.as_str()), ("client_id", client_id.as_str()), ("code_verifier", VERIFIER)];
                if let Some(uri) = redirect_uri {
                    form.push(("redirect_uri", uri));
                }
                server.post_form("/oauth2/token", None, &form).await
            }
        };
        for wrong in [
            Some(other_uri),                           // registered, but not this request's
            None,                                      // the request named one: it must be repeated
            Some("https://evil.example/callback"),
            Some("https://app.example/callback/"),
            Some("https://APP.example/callback"),
        ] {
            assert_eq!(oauth_error(token(wrong).await).await, "invalid_grant", "{wrong:?}");
        }
        assert_eq!(token(Some(REDIRECT)).await.status(), 200, "control: the request's own URI");
    }
}
