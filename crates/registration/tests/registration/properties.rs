//! Properties of the registration body parser (RFC 7591) and of scope tokens, without a
//! database. The fuzz targets `registration` and `scope` check the same contracts
//! (fuzz/fuzz_targets).

use proptest::prelude::*;
use registration::{
    ClientMetadata, GrantType, MetadataErrorCode, Policy, is_scope_token, parse_metadata,
};
use serde_json::{Map, Value};

const FIELDS: &[&str] = &[
    "redirect_uris",
    "post_logout_redirect_uris",
    "token_endpoint_auth_method",
    "grant_types",
    "response_types",
    "scope",
    "client_name",
    "client_uri",
    "logo_uri",
    "contacts",
    "application_type",
    "id_token_signed_response_alg",
];

fn policy(allow_password_grant: bool) -> Policy {
    Policy {
        known_scopes: ["openid", "profile", "email", "orders:read"]
            .map(String::from)
            .to_vec(),
        default_code_scopes: vec!["openid".into()],
        id_token_algs: vec!["RS256".into(), "ES256".into(), "EdDSA".into()],
        allow_password_grant,
        backchannel_logout_loopback: false,
    }
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Strings that are often meaningful to one of the fields.
fn field_string() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "https://app.example/cb",
            "http://127.0.0.1:8080/cb",
            "http://[::1]/cb",
            "com.example.app:/cb",
            "https://*.example/cb",
            "https://a.example/cb#f",
            "javascript:alert(1)",
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "password",
            "code",
            "token",
            "none",
            "client_secret_post",
            "native",
            "web",
            "openid profile",
            "openid openid email",
            "orders:read",
            "  ",
            "",
            "RS256",
            "EdDSA",
            "a@app.example",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
    ]
}

/// A body of known fields, each a string, a list of strings or another JSON value.
fn registration_body() -> impl Strategy<Value = Value> {
    let value = prop_oneof![
        3 => field_string().prop_map(Value::String),
        3 => prop::collection::vec(field_string().prop_map(Value::String), 0..4).prop_map(Value::Array),
        1 => json_value(),
    ];
    prop::collection::vec((prop::sample::select(FIELDS), value), 0..10).prop_map(|fields| {
        let map: Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        Value::Object(map)
    })
}

/// Accepted metadata obeys the rules it was checked against, and its stored form registers
/// to the same metadata.
fn check_accepted(meta: &ClientMetadata, policy: &Policy) -> Result<(), TestCaseError> {
    prop_assert!(!meta.grant_types.is_empty());
    let code = meta.allows_grant(GrantType::AuthorizationCode);
    prop_assert_eq!(meta.response_types.iter().any(|r| r == "code"), code);
    prop_assert!(!code || !meta.redirect_uris.is_empty());
    for scope in meta.scopes() {
        prop_assert!(is_scope_token(scope), "scope token {:?}", scope);
        prop_assert!(policy.known_scopes.iter().any(|k| k == scope));
    }
    let stored = serde_json::to_value(meta).expect("serialize");
    let again = parse_metadata(&stored, policy).expect("the stored form re-parses");
    prop_assert_eq!(&again, meta);
    Ok(())
}

fn check_any(body: &Value) -> Result<(), TestCaseError> {
    for allow_password_grant in [false, true] {
        let policy = policy(allow_password_grant);
        match parse_metadata(body, &policy) {
            Ok(meta) => check_accepted(&meta, &policy)?,
            Err(e) => {
                prop_assert!(matches!(
                    e.code,
                    MetadataErrorCode::InvalidClientMetadata
                        | MetadataErrorCode::InvalidRedirectUri
                ));
                prop_assert!(e.code.as_str().starts_with("invalid_"));
            }
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn any_json_value_gives_metadata_or_an_invalid_error(body in json_value()) {
        check_any(&body)?;
    }

    #[test]
    fn registration_bodies_give_metadata_or_an_invalid_error(body in registration_body()) {
        check_any(&body)?;
    }

    #[test]
    fn scope_strings_of_known_tokens_and_spaces(
        tokens in prop::collection::vec(
            prop::sample::select(vec!["openid", "profile", "orders:read", "", " "]),
            0..6,
        ),
        code_flow in any::<bool>(),
    ) {
        let scope = tokens.join(" ");
        let body = if code_flow {
            serde_json::json!({ "redirect_uris": ["https://app.example/cb"], "scope": scope })
        } else {
            serde_json::json!({ "grant_types": ["client_credentials"], "scope": scope })
        };
        let policy = policy(false);
        let meta = parse_metadata(&body, &policy).expect("known scopes");
        prop_assert!(meta.scopes().iter().all(|s| !s.is_empty()), "{:?}", meta.scope);
        check_accepted(&meta, &policy)?;
    }

    #[test]
    fn is_scope_token_accepts_exactly_rfc6749_characters(token in any::<String>()) {
        let expected = !token.is_empty()
            && token.chars().all(|c| c == '!' || ('#'..='[').contains(&c) || (']'..='~').contains(&c));
        prop_assert_eq!(is_scope_token(&token), expected);
    }

    #[test]
    fn printable_scope_tokens_are_accepted(token in "[!#-\\[\\]-~]{1,40}") {
        prop_assert!(is_scope_token(&token));
        let with_space = format!("{token} x");
        prop_assert!(!is_scope_token(&with_space));
    }
}
