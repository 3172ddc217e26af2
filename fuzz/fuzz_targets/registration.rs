//! The dynamic client registration body (RFC 7591) and its RFC 7592 updates.
//!
//! Input: the request body. Whatever JSON it holds, `parse_metadata` returns metadata or an
//! `invalid_client_metadata` / `invalid_redirect_uri` error; accepted metadata keeps the
//! rules it was checked against (grants and response types agree, redirect URIs are absolute
//! without fragment or wildcard, every scope is known), and registering the stored metadata
//! again gives the same metadata back.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use registration::{
    AuthMethod, ClientMetadata, GrantType, MetadataErrorCode, Policy, is_scope_token,
    parse_metadata,
};
use serde_json::Value;

fn policies() -> &'static [Policy; 2] {
    static POLICIES: OnceLock<[Policy; 2]> = OnceLock::new();
    POLICIES.get_or_init(|| {
        let strict = Policy {
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
            allow_password_grant: false,
            backchannel_logout_loopback: false,
        };
        let lenient = Policy {
            default_code_scopes: Vec::new(),
            allow_password_grant: true,
            ..strict.clone()
        };
        [strict, lenient]
    })
}

fn check(meta: &ClientMetadata, policy: &Policy) {
    assert!(!meta.grant_types.is_empty());
    assert!(
        meta.grant_types.windows(2).all(|w| w[0] < w[1]),
        "sorted, no repeats"
    );
    let code = meta.allows_grant(GrantType::AuthorizationCode);
    assert_eq!(meta.response_types.iter().any(|r| r == "code"), code);
    assert!(meta.response_types.iter().all(|r| r == "code"));
    if code {
        assert!(!meta.redirect_uris.is_empty());
    }
    if meta.allows_grant(GrantType::Password) {
        assert!(policy.allow_password_grant);
    }
    if meta.token_endpoint_auth_method == AuthMethod::None {
        assert!(!meta.allows_grant(GrantType::ClientCredentials));
    }
    for uri in meta
        .redirect_uris
        .iter()
        .chain(&meta.post_logout_redirect_uris)
    {
        assert!(uri.len() <= 2000 && !uri.contains('#') && !uri.contains('*'));
        assert!(url::Url::parse(uri).is_ok(), "{uri:?}");
    }
    assert!(meta.redirect_uris.len() <= 20);
    for scope in meta.scopes() {
        assert!(is_scope_token(scope), "scope token {scope:?}");
        assert!(policy.known_scopes.iter().any(|k| k == scope));
    }
    assert!(
        policy
            .id_token_algs
            .contains(&meta.id_token_signed_response_alg)
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    for policy in policies() {
        match parse_metadata(&body, policy) {
            Ok(meta) => {
                check(&meta, policy);
                // The stored form (as the database keeps it) registers to the same metadata.
                let stored = serde_json::to_value(&meta).expect("serialize");
                let again = parse_metadata(&stored, policy).expect("stored metadata re-parses");
                assert_eq!(again, meta);
            }
            Err(e) => {
                assert!(matches!(
                    e.code,
                    MetadataErrorCode::InvalidClientMetadata
                        | MetadataErrorCode::InvalidRedirectUri
                ));
                assert!(e.code.as_str().starts_with("invalid_"));
                assert!(!e.description.is_empty());
            }
        }
    }
});
