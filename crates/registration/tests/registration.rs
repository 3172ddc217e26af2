//! Clients against a real database (each test on SQLite and PostgreSQL).

use registration::{
    AuthError, Policy, Presented, authenticate, consume_initial_access_token,
    create_initial_access_token, delete_client, find_client, list_clients, parse_metadata,
    register_client, update_client, verify_registration_token,
};
use serde_json::json;

#[path = "registration/manage.rs"]
mod manage;
#[path = "registration/properties.rs"]
mod properties;

const NOW: i64 = 1_900_000_000;

/// What assertions would be checked with (none are presented here).
fn no_assertions() -> registration::AssertionContext<'static> {
    registration::AssertionContext {
        rules: registration::AssertionRules {
            audiences: &[],
            now: NOW,
        },
        fetched: None,
        ring: None,
    }
}

fn policy() -> Policy {
    Policy {
        known_scopes: vec!["openid".into(), "orders:read".into()],
        default_code_scopes: vec!["openid".into()],
        id_token_algs: vec!["RS256".into()],
        allow_password_grant: false,
        backchannel_logout_loopback: false,
    }
}

/// What a real client library registers: no `scope`, the code and refresh grants.
#[test]
fn offline_access_a_client_registered_without_scope_gets_the_basic_scopes_and_offline_access_with_refresh()
 {
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
        default_code_scopes: ["openid", "profile", "email"].map(String::from).to_vec(),
        ..policy()
    };
    let body = |grants: &[&str]| json!({ "redirect_uris": ["https://app.example/cb"], "grant_types": grants });
    let with_refresh =
        parse_metadata(&body(&["authorization_code", "refresh_token"]), &policy).expect("meta");
    assert_eq!(
        with_refresh.scope.as_deref(),
        Some("openid profile email offline_access")
    );
    let without = parse_metadata(&body(&["authorization_code"]), &policy).expect("meta");
    assert_eq!(
        without.scope.as_deref(),
        Some("openid profile email"),
        "no refresh grant, no offline_access"
    );
    // A server that does not offer offline_access does not hand it out.
    let no_offline = Policy {
        known_scopes: vec!["openid".into()],
        default_code_scopes: vec!["openid".into()],
        ..policy.clone()
    };
    let m =
        parse_metadata(&body(&["authorization_code", "refresh_token"]), &no_offline).expect("meta");
    assert_eq!(m.scope.as_deref(), Some("openid"));
    // A registered scope is kept as registered; the refresh grant still lets it ask for offline_access.
    let named = parse_metadata(&json!({ "redirect_uris": ["https://app.example/cb"], "grant_types": ["authorization_code", "refresh_token"], "scope": "openid" }), &policy).expect("meta");
    assert_eq!(named.scope.as_deref(), Some("openid"));
    assert_eq!(named.requestable_scopes(), ["openid", "offline_access"]);
    assert_eq!(
        without.requestable_scopes(),
        ["openid", "profile", "email"],
        "only with the refresh grant"
    );
}

store::backend_tests! {
    fn a_confidential_client_authenticates_only_with_its_secret_and_method(db) {
        let mut conn = db.store().conn().expect("conn");
        let meta = parse_metadata(&json!({ "grant_types": ["client_credentials"], "scope": "orders:read" }), &policy()).expect("meta");
        let reg = register_client(&mut conn, meta, true, NOW).expect("register");
        let secret = reg.secret.expect("a secret").expose().to_owned();
        let id = reg.client.id.clone();

        let ok = authenticate(&mut conn, &Presented::Basic { client_id: id.clone(), secret: secret.clone() }, &no_assertions()).expect("auth");
        assert!(ok.is_authenticated());
        assert_eq!(ok.id(), id);

        let wrong = authenticate(&mut conn, &Presented::Basic { client_id: id.clone(), secret: "nope".into() }, &no_assertions());
        assert!(matches!(wrong, Err(AuthError::WrongSecret)));
        let post = authenticate(&mut conn, &Presented::Post { client_id: id.clone(), secret: secret.clone() }, &no_assertions());
        assert!(matches!(post, Err(AuthError::WrongMethod { .. })));
        let bare = authenticate(&mut conn, &Presented::IdOnly { client_id: id.clone() }, &no_assertions());
        assert!(matches!(bare, Err(AuthError::SecretRequired)));
        let unknown = authenticate(&mut conn, &Presented::Basic { client_id: "nobody".into(), secret }, &no_assertions());
        assert!(matches!(unknown, Err(AuthError::UnknownClient)));
    }

    fn the_secret_is_stored_only_as_a_hash(db) {
        let mut conn = db.store().conn().expect("conn");
        let meta = parse_metadata(&json!({ "grant_types": ["client_credentials"] }), &policy()).expect("meta");
        let reg = register_client(&mut conn, meta, true, NOW).expect("register");
        let secret = reg.secret.expect("secret");
        let token = reg.registration_token.expect("token");
        let row = store::clients::find_by_id(&mut conn, &reg.client.id).expect("find").expect("row");
        let stored = format!("{row:?}");
        assert!(!stored.contains(secret.expose()));
        assert!(!stored.contains(token.expose()));
        assert_eq!(row.secret_hash.as_deref(), Some(secret.hash().as_str()));
    }

    fn registration_tokens_manage_only_their_client(db) {
        let mut conn = db.store().conn().expect("conn");
        let meta = parse_metadata(&json!({ "redirect_uris": ["https://a.example/cb"] }), &policy()).expect("meta");
        let a = register_client(&mut conn, meta.clone(), true, NOW).expect("a");
        let b = register_client(&mut conn, meta, true, NOW).expect("b");
        let token_a = a.registration_token.expect("token").expose().to_owned();
        assert!(verify_registration_token(&mut conn, &a.client.id, &token_a).expect("verify").is_some());
        assert!(verify_registration_token(&mut conn, &b.client.id, &token_a).expect("verify").is_none());
        assert!(verify_registration_token(&mut conn, "missing", &token_a).expect("verify").is_none());
    }

    fn an_update_keeps_an_agents_client_bound_to_its_agent(db) {
        let mut conn = db.store().conn().expect("conn");
        let meta = registration::agent_client_metadata("agt_1", "mailer");
        let reg = register_client(&mut conn, meta, false, NOW).expect("register");
        let body = json!({ "grant_types": ["client_credentials"], "client_name": "renamed" });
        let renamed = parse_metadata(&body, &policy()).expect("meta");
        assert_eq!(renamed.agent_id, None, "an update body cannot name an agent");
        let (client, _) = update_client(&mut conn, reg.client, renamed, NOW + 5).expect("update");
        assert_eq!(client.metadata.agent_id.as_deref(), Some("agt_1"));
        let stored = find_client(&mut conn, &client.id).expect("find").expect("exists");
        assert_eq!(stored.metadata.agent_id.as_deref(), Some("agt_1"));
        assert_eq!(stored.metadata.client_name.as_deref(), Some("renamed"));
    }

    fn update_switches_between_public_and_confidential(db) {
        let mut conn = db.store().conn().expect("conn");
        let public = parse_metadata(&json!({ "redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "none" }), &policy()).expect("meta");
        let reg = register_client(&mut conn, public, true, NOW).expect("register");
        assert!(reg.secret.is_none());
        let confidential = parse_metadata(&json!({ "redirect_uris": ["https://a.example/cb"], "client_name": "Shop" }), &policy()).expect("meta");
        let (client, secret) = update_client(&mut conn, reg.client, confidential, NOW + 5).expect("update");
        let secret = secret.expect("a new secret");
        assert_eq!(client.metadata.client_name.as_deref(), Some("Shop"));
        let stored = find_client(&mut conn, &client.id).expect("find").expect("exists");
        assert_eq!(stored.updated_at, NOW + 5);
        assert_eq!(stored.metadata.client_name.as_deref(), Some("Shop"));
        authenticate(&mut conn, &Presented::Basic { client_id: client.id.clone(), secret: secret.expose().into() }, &no_assertions()).expect("auth");
        assert_eq!(list_clients(&mut conn).expect("list").len(), 1);
        assert!(delete_client(&mut conn, &client.id).expect("delete"));
        assert!(!delete_client(&mut conn, &client.id).expect("delete again"));
        assert!(find_client(&mut conn, &client.id).expect("find").is_none());
    }

    fn initial_access_tokens_expire_and_run_out(db) {
        let mut conn = db.store().conn().expect("conn");
        let token = create_initial_access_token(&mut conn, NOW, 3600, 2).expect("create");
        assert!(consume_initial_access_token(&mut conn, token.expose(), NOW + 1).expect("1"));
        assert!(consume_initial_access_token(&mut conn, token.expose(), NOW + 2).expect("2"));
        assert!(!consume_initial_access_token(&mut conn, token.expose(), NOW + 3).expect("3: used up"));
        let other = create_initial_access_token(&mut conn, NOW, 60, 5).expect("create");
        assert!(!consume_initial_access_token(&mut conn, other.expose(), NOW + 61).expect("expired"));
        assert!(!consume_initial_access_token(&mut conn, "made-up", NOW).expect("unknown"));
    }
}
