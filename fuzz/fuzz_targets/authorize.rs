//! The authorization endpoint's query string, checked against fixed in-memory clients (a web
//! confidential client, a native public client, a service without the code grant) and
//! against no client.
//!
//! Input: the query string. Asserts the order of checks: an error is redirected only to a
//! redirect URI the client registered (or a loopback variant for native clients); a granted
//! request has no NUL character and carries only registered scopes, PKCE for public clients,
//! a bounded `state` and `nonce`; a PKCE verifier matches only the challenge's own verifier.
#![no_main]

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grants::{
    AuthorizeError, CodeChallenge, FormParams, check_authorization, client_id_of, is_pkce_value,
    redirect_uri_matches, verify_pkce,
};
use libfuzzer_sys::fuzz_target;
use registration::{AuthMethod, Client, Policy, parse_metadata};
use serde_json::json;
use sha2::{Digest as _, Sha256};

fn clients() -> &'static [Client] {
    static CLIENTS: OnceLock<Vec<Client>> = OnceLock::new();
    CLIENTS.get_or_init(|| {
        let policy = Policy {
            known_scopes: [
                "openid",
                "profile",
                "email",
                "offline_access",
                "orders:read",
            ]
            .map(String::from)
            .to_vec(),
            default_code_scopes: vec!["openid".into()],
            id_token_algs: vec!["RS256".into(), "ES256".into(), "EdDSA".into()],
            allow_password_grant: true,
            backchannel_logout_loopback: false,
        };
        let bodies = [
            json!({
                "redirect_uris": ["https://app.example/cb", "https://app.example/other?x=1"],
                "grant_types": ["authorization_code", "refresh_token"],
                "scope": "openid profile email orders:read",
            }),
            json!({
                "application_type": "native",
                "token_endpoint_auth_method": "none",
                "redirect_uris": ["http://127.0.0.1/cb", "com.example.app:/oauth2"],
                "scope": "openid offline_access",
            }),
            json!({ "grant_types": ["client_credentials"], "scope": "orders:read" }),
        ];
        bodies
            .iter()
            .enumerate()
            .map(|(i, body)| {
                let meta = parse_metadata(body, &policy).expect("fixed client metadata");
                Client::in_memory(format!("client-{i}"), meta, 0)
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(form) = FormParams::parse(data) else {
        return;
    };
    let _ = client_id_of(&form);
    assert!(matches!(
        check_authorization(&form, None),
        Err(AuthorizeError::Page(_))
    ));
    for client in clients() {
        let meta = &client.metadata;
        let matches =
            |uri: &str| redirect_uri_matches(uri, &meta.redirect_uris, meta.application_type);
        match check_authorization(&form, Some(client)) {
            Ok(req) => {
                assert!(!form.has_nul(), "a NUL character was let through");
                assert_eq!(req.client_id(), client.id);
                assert!(matches(req.redirect_uri()));
                assert_eq!(req.redirect_uri_given(), form.get("redirect_uri").is_some());
                assert!(!req.scope().is_empty());
                // The registered scopes, and `offline_access` for a client that registered
                // the refresh grant (it may ask for one whether or not its `scope` names it).
                let requestable = meta.requestable_scopes();
                assert!(req.scope().iter().all(|s| requestable.contains(&s)));
                assert!(req.state().is_none_or(|s| s.len() <= 2048));
                assert!(req.nonce().is_none_or(|n| n.len() <= 512));
                assert!(req.max_age().is_none_or(|m| m >= 0));
                assert!(req.resources().len() <= 10);
                if meta.token_endpoint_auth_method == AuthMethod::None {
                    assert!(
                        req.code_challenge().is_some(),
                        "a public client without PKCE"
                    );
                }
                if let Some(stored) = req.code_challenge() {
                    // A verifier matches exactly when its S256 is the challenge sent.
                    if let Some(verifier) = form.get("code_verifier") {
                        let s256 = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
                        let expected = is_pkce_value(verifier)
                            && form.get("code_challenge") == Some(s256.as_str());
                        assert_eq!(verify_pkce(Some(stored), Some(verifier)).is_ok(), expected);
                    }
                    assert!(verify_pkce(Some(stored), None).is_err());
                }
            }
            Err(AuthorizeError::Page(_)) => {}
            Err(AuthorizeError::Redirect {
                redirect_uri,
                state,
                error,
                ..
            }) => {
                assert!(matches(&redirect_uri), "redirected to {redirect_uri:?}");
                assert_eq!(state.as_deref(), form.get("state"));
                assert!(
                    error
                        .description
                        .bytes()
                        .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
                );
            }
        }
    }
    if let Some(verifier) = form.get("code_verifier") {
        assert!(verify_pkce(None, Some(verifier)).is_err());
        if !is_pkce_value(verifier) {
            assert!(
                verify_pkce(
                    Some(&CodeChallenge::from_stored(&"x".repeat(43))),
                    Some(verifier)
                )
                .is_err()
            );
        }
    }
});
