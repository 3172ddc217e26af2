//! Refresh-token families (`grants::family`) against a real database: rotation, reuse,
//! the grace period, introspection and revocation, on both backends.

use std::sync::OnceLock;

use accounts::{AccountError, NewUser, PasswordHasher, SignupPolicy, signup};
use grants::family::{
    Family, inspect_refresh, revoke_family, revoke_for_client, rotate_refresh, start_family,
};

const CLIENT: &str = "cl_app";
const NOW: i64 = 1_900_000_000;

fn hasher() -> &'static PasswordHasher {
    static H: OnceLock<PasswordHasher> = OnceLock::new();
    H.get_or_init(PasswordHasher::new)
}

fn new_user<'a>(email: &'a str, name: &'a str) -> NewUser<'a> {
    NewUser {
        email,
        name,
        password: "correct horse battery staple",
    }
}

store::backend_tests! {
    fn refresh_rotation_and_reuse_revokes_the_family(db) {
        let mut conn = db.store().conn().expect("conn");
        let (user, _) = signup(&mut conn, &SignupPolicy::default(), &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("signup");
        let family = Family { id: String::new(), user_id: user.id.clone(), client_id: grants::family::FIRST_PARTY_CLIENT.into(), scope: None, auth_time: NOW, amr: accounts::AuthMethods::password(), resources: Vec::new(), dpop_jkt: None };
        let first = start_family(&mut conn, &family, NOW, 3600, ("jti-0", NOW + 900)).expect("start");
        let mut n = 0;
        let mut issue = |_: &mut store::Conn, _: &Family| { n += 1; Ok(((), format!("jti-{n}"), NOW + 900)) };
        let second = rotate_refresh(&mut conn, first.token.expose(), grants::family::FIRST_PARTY_CLIENT, (NOW + 1, 3600, 0), &mut issue).expect("rotate");
        assert_eq!(second.family.id, first.family_id);
        let third = rotate_refresh(&mut conn, second.refresh.expose(), grants::family::FIRST_PARTY_CLIENT, (NOW + 2, 3600, 0), &mut issue).expect("rotate again");
        // The first token again: reuse. The family dies, with the live one and its access tokens.
        assert!(matches!(rotate_refresh(&mut conn, first.token.expose(), grants::family::FIRST_PARTY_CLIENT, (NOW + 3, 3600, 0), &mut issue), Err(AccountError::TokenReused)));
        assert!(matches!(rotate_refresh(&mut conn, third.refresh.expose(), grants::family::FIRST_PARTY_CLIENT, (NOW + 4, 3600, 0), &mut issue), Err(AccountError::TokenInvalid)));
        for jti in ["jti-0", "jti-1", "jti-2"] {
            assert!(store::keys::is_access_token_revoked(&mut conn, jti).expect("check"), "{jti}");
        }
        let events = store::audit::recent(&mut conn, 10).expect("audit");
        assert!(events.iter().any(|e| e.kind == "refresh_family.revoked" && e.detail.contains("reuse")));
        // Expiry, and sign-out.
        let other = start_family(&mut conn, &family, NOW, 3600, ("jti-x", NOW + 900)).expect("start");
        assert!(matches!(rotate_refresh(&mut conn, other.token.expose(), grants::family::FIRST_PARTY_CLIENT, (NOW + 3600, 3600, 0), &mut issue), Err(AccountError::TokenExpired)));
        assert!(revoke_family(&mut conn, other.token.expose(), "logout", NOW).expect("logout").is_some());
        assert!(matches!(rotate_refresh(&mut conn, other.token.expose(), grants::family::FIRST_PARTY_CLIENT, (NOW + 1, 3600, 0), &mut issue), Err(AccountError::TokenInvalid)));
        assert!(matches!(rotate_refresh(&mut conn, "nonsense", grants::family::FIRST_PARTY_CLIENT, (NOW, 3600, 0), &mut issue), Err(AccountError::TokenInvalid)));
    }

    fn attack_refresh_retry_within_grace_gets_the_same_successor_and_its_access_token_is_tracked(db) {
        let mut conn = db.store().conn().expect("conn");
        let (user, _) = signup(&mut conn, &SignupPolicy::default(), &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("signup");
        let family = Family { id: String::new(), user_id: user.id.clone(), client_id: CLIENT.into(), scope: Some("openid".into()), auth_time: NOW, amr: accounts::AuthMethods::password(), resources: vec!["https://mcp.example.com/mcp".into()], dpop_jkt: None };
        let first = start_family(&mut conn, &family, NOW, 3600, ("jti-0", NOW + 900)).expect("start");
        let mut n = 0;
        let mut issue = |_: &mut store::Conn, f: &Family| { n += 1; assert_eq!(f.resources, ["https://mcp.example.com/mcp"], "the family keeps its resources"); Ok(((), format!("jti-{n}"), NOW + 900)) };
        let r2 = rotate_refresh(&mut conn, first.token.expose(), CLIENT, (NOW + 1, 3600, 30), &mut issue).expect("rotate");
        // The same token again within grace: the same successor, no second one.
        let again = rotate_refresh(&mut conn, first.token.expose(), CLIENT, (NOW + 20, 3600, 30), &mut issue).expect("retry");
        assert_eq!(again.refresh, r2.refresh);
        let again2 = rotate_refresh(&mut conn, first.token.expose(), CLIENT, (NOW + 31, 3600, 30), &mut issue).expect("retry at the edge");
        assert_eq!(again2.refresh, r2.refresh);
        // Another client presenting it gets nothing, within grace or not.
        assert!(matches!(rotate_refresh(&mut conn, first.token.expose(), "cl_other", (NOW + 2, 3600, 30), &mut issue), Err(AccountError::TokenInvalid)));
        // Past grace: a replay; the family dies with every access token, the retries' too.
        assert!(matches!(rotate_refresh(&mut conn, first.token.expose(), CLIENT, (NOW + 32, 3600, 30), &mut issue), Err(AccountError::TokenReused)));
        assert!(matches!(rotate_refresh(&mut conn, r2.refresh.expose(), CLIENT, (NOW + 33, 3600, 30), &mut issue), Err(AccountError::TokenInvalid)));
        for jti in ["jti-0", "jti-1", "jti-2", "jti-3"] {
            assert!(store::keys::is_access_token_revoked(&mut conn, jti).expect("check"), "{jti}");
        }
        // Nothing of the successor is stored in the clear.
        let (row, _) = store::accounts::find_refresh_token(&mut conn, first.token.hash().as_str()).expect("find").expect("row");
        let sealed = row.successor.expect("sealed");
        assert!(!sealed.contains(r2.refresh.expose()));
    }

    fn attack_refresh_retry_after_the_successor_was_used_is_a_replay(db) {
        let mut conn = db.store().conn().expect("conn");
        let (user, _) = signup(&mut conn, &SignupPolicy::default(), &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("signup");
        let family = Family { id: String::new(), user_id: user.id.clone(), client_id: CLIENT.into(), scope: None, auth_time: NOW, amr: accounts::AuthMethods::password(), resources: Vec::new(), dpop_jkt: None };
        let first = start_family(&mut conn, &family, NOW, 3600, ("jti-0", NOW + 900)).expect("start");
        let issue = |_: &mut store::Conn, _: &Family| Ok(((), primitives::random_id(), NOW + 900));
        let r2 = rotate_refresh(&mut conn, first.token.expose(), CLIENT, (NOW + 1, 3600, 30), issue).expect("rotate");
        let r3 = rotate_refresh(&mut conn, r2.refresh.expose(), CLIENT, (NOW + 2, 3600, 30), issue).expect("rotate r2");
        assert!(matches!(rotate_refresh(&mut conn, first.token.expose(), CLIENT, (NOW + 3, 3600, 30), issue), Err(AccountError::TokenReused)));
        assert!(matches!(rotate_refresh(&mut conn, r3.refresh.expose(), CLIENT, (NOW + 4, 3600, 30), issue), Err(AccountError::TokenInvalid)));
    }

    fn rfc7662_inspect_refresh_agrees_with_the_token_endpoint_and_writes_nothing(db) {
        let mut conn = db.store().conn().expect("conn");
        let (user, _) = signup(&mut conn, &SignupPolicy::default(), &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("signup");
        let family = Family { id: String::new(), user_id: user.id.clone(), client_id: CLIENT.into(), scope: Some("openid".into()), auth_time: NOW, amr: accounts::AuthMethods::password(), resources: Vec::new(), dpop_jkt: None };
        let first = start_family(&mut conn, &family, NOW, 3600, ("jti-0", NOW + 900)).expect("start");
        let t = first.token.expose();
        let info = inspect_refresh(&mut conn, t, NOW + 5, 0).expect("inspect").expect("active");
        assert_eq!((info.issued_at, info.expires_at, info.family.client_id.as_str()), (NOW, NOW + 3600, CLIENT));
        assert_eq!(inspect_refresh(&mut conn, t, NOW + 3600, 0).expect("inspect"), None, "expired");
        for junk in ["", "x", &"y".repeat(500)] {
            assert_eq!(inspect_refresh(&mut conn, junk, NOW, 0).expect("inspect"), None);
        }
        let issue = |_: &mut store::Conn, _: &Family| Ok::<_, AccountError>(((), "jti-1".to_owned(), NOW + 900));
        let r2 = rotate_refresh(&mut conn, t, CLIENT, (NOW + 10, 3600, 30), issue).expect("rotate");
        // Used: active within grace (until it ends), inactive without grace; asking twice is no replay.
        assert_eq!(inspect_refresh(&mut conn, t, NOW + 11, 30).expect("inspect").map(|i| i.expires_at), Some(NOW + 40));
        assert_eq!(inspect_refresh(&mut conn, t, NOW + 11, 0).expect("inspect"), None);
        assert_eq!(inspect_refresh(&mut conn, t, NOW + 41, 30).expect("inspect"), None);
        assert!(inspect_refresh(&mut conn, r2.refresh.expose(), NOW + 41, 30).expect("inspect").is_some(), "not revoked by asking");
        accounts::set_disabled(&mut conn, &user.id, true, NOW).expect("disable");
        assert_eq!(inspect_refresh(&mut conn, r2.refresh.expose(), NOW + 42, 30).expect("inspect"), None, "user disabled");
    }

    fn rfc7009_2_1_revoke_for_client_refuses_another_client_and_revokes_the_family(db) {
        let mut conn = db.store().conn().expect("conn");
        let (user, _) = signup(&mut conn, &SignupPolicy::default(), &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("signup");
        let family = Family { id: String::new(), user_id: user.id.clone(), client_id: CLIENT.into(), scope: None, auth_time: NOW, amr: accounts::AuthMethods::password(), resources: Vec::new(), dpop_jkt: None };
        let first = start_family(&mut conn, &family, NOW, 3600, ("jti-0", NOW + 900)).expect("start");
        let t = first.token.expose();
        assert!(matches!(revoke_for_client(&mut conn, t, "cl_other", NOW), Err(AccountError::Forbidden)));
        assert!(inspect_refresh(&mut conn, t, NOW, 0).expect("inspect").is_some(), "left as it was");
        assert!(!store::keys::is_access_token_revoked(&mut conn, "jti-0").expect("check"));
        assert_eq!(revoke_for_client(&mut conn, "unknown", CLIENT, NOW).expect("unknown"), None);
        assert_eq!(revoke_for_client(&mut conn, t, CLIENT, NOW).expect("revoke").map(|f| f.id), Some(first.family_id));
        assert!(inspect_refresh(&mut conn, t, NOW, 0).expect("inspect").is_none());
        assert!(store::keys::is_access_token_revoked(&mut conn, "jti-0").expect("check"));
    }
}
