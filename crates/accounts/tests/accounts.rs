//! Accounts against a real database (each test on SQLite and PostgreSQL).

use std::sync::OnceLock;

use accounts::{
    Acceptor, AccountError, Family, NewUser, PasswordHasher, Role, SessionPolicy, accept_invite,
    authenticate_password, change_role, create_invite, create_org, inspect_refresh, list_sessions,
    members, membership, orgs_of, remove_member, resolve_session, revoke_family, revoke_for_client,
    revoke_session, rotate_refresh, signup, start_family, start_session,
};

const CLIENT: &str = "cl_app";

const NOW: i64 = 1_900_000_000;
const POLICY: SessionPolicy = SessionPolicy {
    absolute: 7 * 86_400,
    idle: 86_400,
};

fn hasher() -> &'static PasswordHasher {
    static H: OnceLock<PasswordHasher> = OnceLock::new();
    H.get_or_init(PasswordHasher::new)
}

fn new_user<'a>(email: &'a str, name: &'a str) -> NewUser<'a> {
    NewUser {
        email,
        name,
        password: "correct horse",
    }
}

store::backend_tests! {
    fn signup_makes_user_org_and_owner_membership(db) {
        let mut conn = db.store().conn().expect("conn");
        let (user, org) = signup(&mut conn, &new_user("Ada@Example.com", "Ada"), Some("Engines"), hasher(), NOW).expect("signup");
        assert!(user.id.starts_with("usr_"));
        assert!(!user.email_verified);
        assert_eq!(org.name, "Engines");
        assert_eq!(membership(&mut conn, &org.id, &user.id).expect("member").1, Role::Owner);
        let again = signup(&mut conn, &new_user("ada@example.COM", "Ada 2"), None, hasher(), NOW);
        assert!(matches!(again, Err(AccountError::EmailTaken)));
        let (_, default_org) = signup(&mut conn, &new_user("bob@example.com", "Bob"), None, hasher(), NOW).expect("signup");
        assert_eq!(default_org.name, "Bob");
    }

    fn a_signup_that_fails_half_way_leaves_nothing(db) {
        db.execute("DROP TABLE memberships");
        let mut conn = db.store().conn().expect("conn");
        let result = signup(&mut conn, &new_user("half@example.com", "Half"), None, hasher(), NOW);
        assert!(result.is_err());
        assert!(accounts::find_user_by_email(&mut conn, "half@example.com").expect("find").is_none(), "the user row was rolled back");
        assert!(accounts::list_users(&mut conn).expect("list").is_empty());
    }

    fn passwords_authenticate_and_failures_look_alike(db) {
        let mut conn = db.store().conn().expect("conn");
        signup(&mut conn, &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("signup");
        let ok = authenticate_password(&mut conn, " ADA@example.com", "correct horse", hasher()).expect("login");
        assert_eq!(ok.email, "ada@example.com");
        let wrong = authenticate_password(&mut conn, "ada@example.com", "wrong horse", hasher());
        let unknown = authenticate_password(&mut conn, "nobody@example.com", "correct horse", hasher());
        assert_eq!(format!("{:?}", wrong.err()), format!("{:?}", unknown.err()));
        accounts::set_disabled(&mut conn, &ok.id, true, NOW).expect("disable");
        assert!(matches!(authenticate_password(&mut conn, "ada@example.com", "correct horse", hasher()), Err(AccountError::InvalidCredentials)));
    }

    fn sessions_expire_when_idle_or_old_and_can_be_revoked(db) {
        let mut conn = db.store().conn().expect("conn");
        let (user, _) = signup(&mut conn, &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("signup");
        let s = start_session(&mut conn, &user.id, NOW, POLICY, Some("test"), Some("127.0.0.1")).expect("start");
        let cookie = s.cookie.expose().to_owned();
        let (found, who) = resolve_session(&mut conn, &cookie, NOW + 10, POLICY).expect("resolve").expect("live");
        assert_eq!((found.id.as_str(), who.id.as_str()), (s.session.id.as_str(), user.id.as_str()));
        assert_eq!(found.auth_time, NOW);
        // Idle for a day: gone.
        assert!(resolve_session(&mut conn, &cookie, NOW + 86_400, POLICY).expect("resolve").is_none());
        assert!(resolve_session(&mut conn, &cookie, NOW + 10, POLICY).expect("resolve").is_none(), "deleted, not just hidden");
        // Kept alive, but past the absolute limit: gone.
        let s2 = start_session(&mut conn, &user.id, NOW, POLICY, None, None).expect("start");
        let c2 = s2.cookie.expose().to_owned();
        let mut t = NOW;
        while t < NOW + 7 * 86_400 - 80_000 {
            t += 80_000;
            assert!(resolve_session(&mut conn, &c2, t, POLICY).expect("resolve").is_some(), "at {t}");
        }
        assert!(resolve_session(&mut conn, &c2, NOW + 7 * 86_400, POLICY).expect("resolve").is_none());
        // Revocation by public id.
        let s3 = start_session(&mut conn, &user.id, NOW, POLICY, None, None).expect("start");
        assert_eq!(list_sessions(&mut conn, &user.id).expect("list").len(), 1);
        revoke_session(&mut conn, &user.id, &s3.session.id).expect("revoke");
        assert!(resolve_session(&mut conn, s3.cookie.expose(), NOW + 1, POLICY).expect("resolve").is_none());
        assert!(resolve_session(&mut conn, "made-up", NOW, POLICY).expect("resolve").is_none());
    }

    fn roles_and_the_last_owner_rule(db) {
        let mut conn = db.store().conn().expect("conn");
        let (owner, org) = signup(&mut conn, &new_user("o@example.com", "Owner"), None, hasher(), NOW).expect("owner");
        let (admin, _) = signup(&mut conn, &new_user("a@example.com", "Admin"), None, hasher(), NOW).expect("admin");
        let (member, _) = signup(&mut conn, &new_user("m@example.com", "Member"), None, hasher(), NOW).expect("member");
        let (outsider, _) = signup(&mut conn, &new_user("x@example.com", "Outsider"), None, hasher(), NOW).expect("outsider");
        for (user, role) in [(&admin, Role::Admin), (&member, Role::Member)] {
            let (invite, token) = create_invite(&mut conn, &org.id, &owner.id, &user.email, role, NOW, 3600).expect("invite");
            accept_invite(&mut conn, &invite.id, token.expose(), Acceptor::Existing { user_id: &user.id }, hasher(), NOW).expect("accept");
        }
        assert_eq!(members(&mut conn, &org.id).expect("members").len(), 3);
        assert!(matches!(membership(&mut conn, &org.id, &outsider.id), Err(AccountError::Forbidden)));
        assert!(matches!(membership(&mut conn, "org_missing", &owner.id), Err(AccountError::Forbidden)));
        // Members cannot manage; admins cannot touch owners or make owners.
        assert!(matches!(change_role(&mut conn, &org.id, &member.id, &admin.id, Role::Member), Err(AccountError::Forbidden)));
        assert!(matches!(change_role(&mut conn, &org.id, &admin.id, &owner.id, Role::Member), Err(AccountError::Forbidden)));
        assert!(matches!(change_role(&mut conn, &org.id, &admin.id, &member.id, Role::Owner), Err(AccountError::Forbidden)));
        assert!(matches!(create_invite(&mut conn, &org.id, &admin.id, "y@example.com", Role::Owner, NOW, 60), Err(AccountError::Forbidden)));
        assert!(matches!(create_invite(&mut conn, &org.id, &member.id, "y@example.com", Role::Member, NOW, 60), Err(AccountError::Forbidden)));
        // The last owner can neither be demoted nor leave.
        assert!(matches!(change_role(&mut conn, &org.id, &owner.id, &owner.id, Role::Admin), Err(AccountError::LastOwner)));
        assert!(matches!(remove_member(&mut conn, &org.id, &owner.id, &owner.id), Err(AccountError::LastOwner)));
        // With a second owner, the first may step down.
        change_role(&mut conn, &org.id, &owner.id, &admin.id, Role::Owner).expect("promote");
        change_role(&mut conn, &org.id, &owner.id, &owner.id, Role::Member).expect("step down");
        remove_member(&mut conn, &org.id, &member.id, &member.id).expect("leave");
        assert_eq!(orgs_of(&mut conn, &member.id).expect("orgs").len(), 1, "only their own org is left");
        let org2 = create_org(&mut conn, &outsider.id, "Second", NOW).expect("org");
        assert_eq!(membership(&mut conn, &org2.id, &outsider.id).expect("m").1, Role::Owner);
    }

    fn invites_are_single_use_expire_and_bind_to_their_email(db) {
        let mut conn = db.store().conn().expect("conn");
        let (owner, org) = signup(&mut conn, &new_user("o@example.com", "Owner"), None, hasher(), NOW).expect("owner");
        let (invite, token) = create_invite(&mut conn, &org.id, &owner.id, "New@Example.com", Role::Member, NOW, 3600).expect("invite");
        let new = Acceptor::NewAccount { name: "Newcomer", password: "long enough" };
        assert!(matches!(accept_invite(&mut conn, &invite.id, "wrong", new.clone(), hasher(), NOW), Err(AccountError::NotFound)));
        let (user, joined, role) = accept_invite(&mut conn, &invite.id, token.expose(), new.clone(), hasher(), NOW + 5).expect("accept");
        assert_eq!((user.email.as_str(), joined.id.as_str(), role), ("new@example.com", org.id.as_str(), Role::Member));
        assert!(matches!(accept_invite(&mut conn, &invite.id, token.expose(), new.clone(), hasher(), NOW + 6), Err(AccountError::InviteUsed)));

        let (late, late_token) = create_invite(&mut conn, &org.id, &owner.id, "late@example.com", Role::Member, NOW, 60).expect("invite");
        assert!(matches!(accept_invite(&mut conn, &late.id, late_token.expose(), new.clone(), hasher(), NOW + 60), Err(AccountError::InviteExpired)));

        let (other, _) = signup(&mut conn, &new_user("other@example.com", "Other"), None, hasher(), NOW).expect("other");
        let (inv, t) = create_invite(&mut conn, &org.id, &owner.id, "someone@example.com", Role::Member, NOW, 60).expect("invite");
        assert!(matches!(accept_invite(&mut conn, &inv.id, t.expose(), Acceptor::Existing { user_id: &other.id }, hasher(), NOW), Err(AccountError::Forbidden)));
    }

    fn refresh_rotation_and_reuse_revokes_the_family(db) {
        let mut conn = db.store().conn().expect("conn");
        let (user, _) = signup(&mut conn, &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("signup");
        let family = Family { id: String::new(), user_id: user.id.clone(), client_id: accounts::FIRST_PARTY_CLIENT.into(), scope: None, auth_time: NOW, resources: Vec::new() };
        let first = start_family(&mut conn, &family, NOW, 3600, ("jti-0", NOW + 900)).expect("start");
        let mut n = 0;
        let mut issue = |_: &mut store::Conn, _: &Family| { n += 1; Ok(((), format!("jti-{n}"), NOW + 900)) };
        let second = rotate_refresh(&mut conn, first.token.expose(), accounts::FIRST_PARTY_CLIENT, NOW + 1, 3600, 0, &mut issue).expect("rotate");
        assert_eq!(second.family.id, first.family_id);
        let third = rotate_refresh(&mut conn, second.refresh.expose(), accounts::FIRST_PARTY_CLIENT, NOW + 2, 3600, 0, &mut issue).expect("rotate again");
        // The first token again: reuse. The family dies, with the live one and its access tokens.
        assert!(matches!(rotate_refresh(&mut conn, first.token.expose(), accounts::FIRST_PARTY_CLIENT, NOW + 3, 3600, 0, &mut issue), Err(AccountError::TokenReused)));
        assert!(matches!(rotate_refresh(&mut conn, third.refresh.expose(), accounts::FIRST_PARTY_CLIENT, NOW + 4, 3600, 0, &mut issue), Err(AccountError::TokenInvalid)));
        for jti in ["jti-0", "jti-1", "jti-2"] {
            assert!(store::keys::is_access_token_revoked(&mut conn, jti).expect("check"), "{jti}");
        }
        let events = store::audit::recent(&mut conn, 10).expect("audit");
        assert!(events.iter().any(|e| e.kind == "refresh_family.revoked" && e.detail.contains("reuse")));
        // Expiry, and sign-out.
        let other = start_family(&mut conn, &family, NOW, 3600, ("jti-x", NOW + 900)).expect("start");
        assert!(matches!(rotate_refresh(&mut conn, other.token.expose(), accounts::FIRST_PARTY_CLIENT, NOW + 3600, 3600, 0, &mut issue), Err(AccountError::TokenExpired)));
        assert!(revoke_family(&mut conn, other.token.expose(), "logout", NOW).expect("logout").is_some());
        assert!(matches!(rotate_refresh(&mut conn, other.token.expose(), accounts::FIRST_PARTY_CLIENT, NOW + 1, 3600, 0, &mut issue), Err(AccountError::TokenInvalid)));
        assert!(matches!(rotate_refresh(&mut conn, "nonsense", accounts::FIRST_PARTY_CLIENT, NOW, 3600, 0, &mut issue), Err(AccountError::TokenInvalid)));
    }

    fn attack_refresh_retry_within_grace_gets_the_same_successor_and_its_access_token_is_tracked(db) {
        let mut conn = db.store().conn().expect("conn");
        let (user, _) = signup(&mut conn, &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("signup");
        let family = Family { id: String::new(), user_id: user.id.clone(), client_id: CLIENT.into(), scope: Some("openid".into()), auth_time: NOW, resources: vec!["https://mcp.example.com/mcp".into()] };
        let first = start_family(&mut conn, &family, NOW, 3600, ("jti-0", NOW + 900)).expect("start");
        let mut n = 0;
        let mut issue = |_: &mut store::Conn, f: &Family| { n += 1; assert_eq!(f.resources, ["https://mcp.example.com/mcp"], "the family keeps its resources"); Ok(((), format!("jti-{n}"), NOW + 900)) };
        let r2 = rotate_refresh(&mut conn, first.token.expose(), CLIENT, NOW + 1, 3600, 30, &mut issue).expect("rotate");
        // The same token again within grace: the same successor, no second one.
        let again = rotate_refresh(&mut conn, first.token.expose(), CLIENT, NOW + 20, 3600, 30, &mut issue).expect("retry");
        assert_eq!(again.refresh, r2.refresh);
        let again2 = rotate_refresh(&mut conn, first.token.expose(), CLIENT, NOW + 31, 3600, 30, &mut issue).expect("retry at the edge");
        assert_eq!(again2.refresh, r2.refresh);
        // Another client presenting it gets nothing, within grace or not.
        assert!(matches!(rotate_refresh(&mut conn, first.token.expose(), "cl_other", NOW + 2, 3600, 30, &mut issue), Err(AccountError::TokenInvalid)));
        // Past grace: a replay; the family dies with every access token, the retries' too.
        assert!(matches!(rotate_refresh(&mut conn, first.token.expose(), CLIENT, NOW + 32, 3600, 30, &mut issue), Err(AccountError::TokenReused)));
        assert!(matches!(rotate_refresh(&mut conn, r2.refresh.expose(), CLIENT, NOW + 33, 3600, 30, &mut issue), Err(AccountError::TokenInvalid)));
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
        let (user, _) = signup(&mut conn, &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("signup");
        let family = Family { id: String::new(), user_id: user.id.clone(), client_id: CLIENT.into(), scope: None, auth_time: NOW, resources: Vec::new() };
        let first = start_family(&mut conn, &family, NOW, 3600, ("jti-0", NOW + 900)).expect("start");
        let issue = |_: &mut store::Conn, _: &Family| Ok(((), primitives::random_id(), NOW + 900));
        let r2 = rotate_refresh(&mut conn, first.token.expose(), CLIENT, NOW + 1, 3600, 30, issue).expect("rotate");
        let r3 = rotate_refresh(&mut conn, r2.refresh.expose(), CLIENT, NOW + 2, 3600, 30, issue).expect("rotate r2");
        assert!(matches!(rotate_refresh(&mut conn, first.token.expose(), CLIENT, NOW + 3, 3600, 30, issue), Err(AccountError::TokenReused)));
        assert!(matches!(rotate_refresh(&mut conn, r3.refresh.expose(), CLIENT, NOW + 4, 3600, 30, issue), Err(AccountError::TokenInvalid)));
    }

    fn rfc7662_inspect_refresh_agrees_with_the_token_endpoint_and_writes_nothing(db) {
        let mut conn = db.store().conn().expect("conn");
        let (user, _) = signup(&mut conn, &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("signup");
        let family = Family { id: String::new(), user_id: user.id.clone(), client_id: CLIENT.into(), scope: Some("openid".into()), auth_time: NOW, resources: Vec::new() };
        let first = start_family(&mut conn, &family, NOW, 3600, ("jti-0", NOW + 900)).expect("start");
        let t = first.token.expose();
        let info = inspect_refresh(&mut conn, t, NOW + 5, 0).expect("inspect").expect("active");
        assert_eq!((info.issued_at, info.expires_at, info.family.client_id.as_str()), (NOW, NOW + 3600, CLIENT));
        assert_eq!(inspect_refresh(&mut conn, t, NOW + 3600, 0).expect("inspect"), None, "expired");
        for junk in ["", "x", &"y".repeat(500)] {
            assert_eq!(inspect_refresh(&mut conn, junk, NOW, 0).expect("inspect"), None);
        }
        let issue = |_: &mut store::Conn, _: &Family| Ok(((), "jti-1".to_owned(), NOW + 900));
        let r2 = rotate_refresh(&mut conn, t, CLIENT, NOW + 10, 3600, 30, issue).expect("rotate");
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
        let (user, _) = signup(&mut conn, &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("signup");
        let family = Family { id: String::new(), user_id: user.id.clone(), client_id: CLIENT.into(), scope: None, auth_time: NOW, resources: Vec::new() };
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
