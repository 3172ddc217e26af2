//! Properties of the parsers of untrusted input: form bodies (RFC 6749 §3.2 rules), client
//! credentials from the Basic header, token requests and authorization requests. The fuzz
//! targets `token_request` and `authorize` check the same contracts (fuzz/fuzz_targets).

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use grants::{
    AuthorizeError, ErrorCode, FormParams, OAuthError, TokenRequest, check_authorization,
    presented_credentials, redirect_uri_matches, verify_pkce,
};
use proptest::prelude::*;
use registration::{Client, Policy, Presented, parse_metadata};
use serde_json::json;
use sha2::{Digest as _, Sha256};

const PARAMS: &[&str] = &[
    "grant_type",
    "client_id",
    "client_secret",
    "code",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
    "scope",
    "resource",
    "username",
    "userName",
    "password",
    "response_type",
    "response_mode",
    "state",
    "nonce",
    "prompt",
    "max_age",
    "code_challenge",
    "code_challenge_method",
    "request",
    "request_uri",
];

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn is_safe(e: &OAuthError) -> bool {
    e.description
        .bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
}

/// A body of known parameter names (and a few others) with values that are often meaningful.
fn body() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        4 => prop::sample::select(PARAMS).prop_map(str::to_owned),
        1 => "[a-z_]{0,8}",
    ];
    let value = prop_oneof![
        prop::sample::select(vec![
            "client_credentials",
            "authorization_code",
            "refresh_token",
            "password",
            "code",
            "openid profile",
            "https://app.example/cb",
            "http://127.0.0.1:5000/cb",
            "S256",
            "plain",
            "none login",
            "form_post",
            "",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
    ];
    prop::collection::vec((name, value), 0..12).prop_map(|pairs| {
        pairs
            .iter()
            .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    })
}

fn client() -> &'static Client {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let policy = Policy {
            known_scopes: vec!["openid".into(), "profile".into()],
            default_code_scopes: vec!["openid".into()],
            id_token_algs: vec!["RS256".into()],
            allow_password_grant: false,
            backchannel_logout_loopback: false,
        };
        let body = json!({
            "application_type": "native",
            "token_endpoint_auth_method": "none",
            "redirect_uris": ["https://app.example/cb", "http://127.0.0.1:5000/cb"],
            "scope": "openid profile",
        });
        Client::in_memory("app", parse_metadata(&body, &policy).expect("metadata"), 0)
    })
}

proptest! {
    #[test]
    fn any_body_parses_or_is_an_invalid_request(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        match FormParams::parse(&bytes) {
            Ok(form) => {
                let pairs = form.pairs();
                prop_assert!(pairs.len() <= 64);
                for (i, (name, value)) in pairs.iter().enumerate() {
                    prop_assert!(!value.is_empty());
                    prop_assert!(name == "resource" || pairs[..i].iter().all(|(n, _)| n != name));
                }
            }
            Err(e) => prop_assert_eq!(e.code, ErrorCode::InvalidRequest),
        }
    }

    #[test]
    fn distinct_parameters_come_back_in_order(
        pairs in prop::collection::btree_map("[ -~é]{0,10}", "[ -~é]{1,20}", 0..20),
    ) {
        let body: Vec<String> =
            pairs.iter().map(|(n, v)| format!("{}={}", encode(n), encode(v))).collect();
        let form = FormParams::parse(body.join("&").as_bytes()).expect("distinct names");
        let expected: Vec<(String, String)> = pairs.into_iter().collect();
        prop_assert_eq!(form.pairs(), expected.as_slice());
        prop_assert_eq!(FormParams::parse(form.to_query(&[]).as_bytes()).expect("again"), form);
    }

    #[test]
    fn a_repeated_parameter_is_refused_but_resource_may_repeat(
        name in prop::sample::select(PARAMS),
        first in "[ -~]{1,20}",
        second in "[ -~]{1,20}",
    ) {
        let body = format!("{name}={}&x=1&{name}={}", encode(&first), encode(&second));
        match FormParams::parse(body.as_bytes()) {
            Ok(form) => {
                prop_assert_eq!(name, "resource");
                prop_assert_eq!(form.all("resource"), vec![first.as_str(), second.as_str()]);
            }
            Err(e) => {
                prop_assert_ne!(name, "resource");
                prop_assert_eq!(e.code, ErrorCode::InvalidRequest);
            }
        }
        // An empty value is absent, so it never counts as a repeat.
        let empty_first = format!("{name}=&{name}={}", encode(&second));
        prop_assert!(FormParams::parse(empty_first.as_bytes()).is_ok());
    }

    #[test]
    fn token_requests_parse_or_fail_with_a_safe_error(body in body()) {
        if let Ok(form) = FormParams::parse(body.as_bytes()) {
            match TokenRequest::parse(&form) {
                Ok(request) => { let _ = format!("{request:?}"); }
                Err(e) => prop_assert!(is_safe(&e), "{:?}", e.description),
            }
        }
    }

    #[test]
    fn debug_never_shows_codes_tokens_or_passwords(
        grant in prop::sample::select(vec!["authorization_code", "refresh_token", "password"]),
        secret in "SECRET[a-z0-9]{8}",
    ) {
        let body = format!(
            "grant_type={grant}&code={secret}&refresh_token={secret}&username=u&password={secret}&code_verifier={secret}"
        );
        let request = TokenRequest::parse(&FormParams::parse(body.as_bytes()).expect("form")).expect("request");
        let form_debug = format!("{:?}", FormParams::parse(body.as_bytes()).expect("form"));
        let debug = format!("{request:?}");
        prop_assert!(!debug.contains(&secret) && !form_debug.contains(&secret), "{}", debug);
    }

    #[test]
    fn any_authorization_header_is_taken_apart_or_refused(header in any::<String>(), body in body()) {
        let form = FormParams::parse(body.as_bytes()).unwrap_or_default();
        match presented_credentials(Some(&header), &form) {
            Ok(Some(Presented::Basic { client_id, .. })) => prop_assert!(!client_id.is_empty()),
            Ok(other) => prop_assert!(false, "a header gave {:?}", other),
            Err(e) => {
                prop_assert!(matches!(e.code, ErrorCode::InvalidClient | ErrorCode::InvalidRequest));
                prop_assert!(is_safe(&e));
            }
        }
    }

    #[test]
    fn basic_credentials_round_trip(id in "[^\u{0}]{1,30}", secret in any::<String>()) {
        let header = format!("Basic {}", STANDARD.encode(format!("{}:{}", encode(&id), encode(&secret))));
        let got = presented_credentials(Some(&header), &FormParams::default()).expect("valid header");
        prop_assert_eq!(got, Some(Presented::Basic { client_id: id, secret }));
    }

    #[test]
    fn a_percent_without_two_hex_digits_is_refused(
        id in "[a-z]{1,8}",
        bad in "%([-+ g-zG-Z:%][0-9a-fA-F]|[0-9a-fA-F][-+ g-zG-Z:%]|[0-9a-fA-F]?)",
    ) {
        let header = format!("Basic {}", STANDARD.encode(format!("{id}:{bad}")));
        let err = presented_credentials(Some(&header), &FormParams::default()).expect_err("malformed");
        prop_assert_eq!(err.code, ErrorCode::InvalidClient);
    }

    #[test]
    fn authorization_errors_are_redirected_only_to_registered_uris(body in body()) {
        let Ok(form) = FormParams::parse(body.as_bytes()) else { return Ok(()) };
        let meta = &client().metadata;
        match check_authorization(&form, Some(client())) {
            Ok(req) => {
                prop_assert!(!form.has_nul(), "a NUL character was let through");
                prop_assert!(redirect_uri_matches(req.redirect_uri(), &meta.redirect_uris, meta.application_type));
                prop_assert!(req.code_challenge().is_some(), "a public client without PKCE");
                prop_assert!(req.scope().iter().all(|s| meta.requestable_scopes().contains(&s)));
            }
            Err(AuthorizeError::Redirect { redirect_uri, error, .. }) => {
                prop_assert!(redirect_uri_matches(&redirect_uri, &meta.redirect_uris, meta.application_type));
                prop_assert!(is_safe(&error));
            }
            Err(AuthorizeError::Page(_)) => {}
        }
        prop_assert!(matches!(check_authorization(&form, None), Err(AuthorizeError::Page(_))));
    }

    #[test]
    fn a_pkce_verifier_matches_only_its_own_challenge(
        verifier in "[A-Za-z0-9._~-]{43,128}",
        other in "[A-Za-z0-9._~-]{43,128}",
    ) {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let query = format!(
            "response_type=code&redirect_uri=https://app.example/cb&code_challenge={challenge}&code_challenge_method=S256"
        );
        let form = FormParams::parse(query.as_bytes()).expect("form");
        let stored = check_authorization(&form, Some(client())).expect("valid request").code_challenge().cloned();
        prop_assert!(verify_pkce(stored.as_ref(), Some(&verifier)).is_ok());
        prop_assert_eq!(verify_pkce(stored.as_ref(), Some(&other)).is_ok(), other == verifier);
        prop_assert!(verify_pkce(stored.as_ref(), None).is_err());
    }
}
