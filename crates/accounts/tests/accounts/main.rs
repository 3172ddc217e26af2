//! Accounts against a real database (each test on SQLite and PostgreSQL).

mod links;
mod second_factor;
mod upstream;

use std::sync::OnceLock;

use accounts::{
    Acceptor, AccountError, NewUser, PasswordHasher, Role, SessionPolicy, SignupPolicy,
    accept_invite, authenticate_password, change_role, create_invite, create_org, list_sessions,
    members, membership, orgs_of, remove_member, resolve_session, revoke_session, signup,
    start_session,
};

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
        let (user, org) = signup(&mut conn, &SignupPolicy::default(), &new_user("Ada@Example.com", "Ada"), Some("Engines"), hasher(), NOW).expect("signup");
        assert!(user.id.starts_with("usr_"));
        assert!(!user.email_verified);
        assert_eq!(org.name, "Engines");
        assert_eq!(membership(&mut conn, &org.id, &user.id).expect("member").1, Role::Owner);
        let again = signup(&mut conn, &SignupPolicy::default(), &new_user("ada@example.COM", "Ada 2"), None, hasher(), NOW);
        assert!(matches!(again, Err(AccountError::EmailTaken)));
        let (_, default_org) = signup(&mut conn, &SignupPolicy::default(), &new_user("bob@example.com", "Bob"), None, hasher(), NOW).expect("signup");
        assert_eq!(default_org.name, "Bob");
    }

    fn a_signup_that_fails_half_way_leaves_nothing(db) {
        db.execute("DROP TABLE memberships");
        let mut conn = db.store().conn().expect("conn");
        let result = signup(&mut conn, &SignupPolicy::default(), &new_user("half@example.com", "Half"), None, hasher(), NOW);
        assert!(result.is_err());
        assert!(accounts::find_user_by_email(&mut conn, "half@example.com").expect("find").is_none(), "the user row was rolled back");
        assert!(accounts::list_users(&mut conn).expect("list").is_empty());
    }

    fn passwords_authenticate_and_failures_look_alike(db) {
        let mut conn = db.store().conn().expect("conn");
        signup(&mut conn, &SignupPolicy::default(), &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("signup");
        let ok = authenticate_password(&mut conn, " ADA@example.com", "correct horse", hasher(), false).expect("login");
        assert_eq!(ok.email, "ada@example.com");
        let wrong = authenticate_password(&mut conn, "ada@example.com", "wrong horse", hasher(), false);
        let unknown = authenticate_password(&mut conn, "nobody@example.com", "correct horse", hasher(), false);
        assert_eq!(format!("{:?}", wrong.err()), format!("{:?}", unknown.err()));
        accounts::set_disabled(&mut conn, &ok.id, true, NOW).expect("disable");
        assert!(matches!(authenticate_password(&mut conn, "ada@example.com", "correct horse", hasher(), false), Err(AccountError::InvalidCredentials)));
    }

    fn sessions_expire_when_idle_or_old_and_can_be_revoked(db) {
        let mut conn = db.store().conn().expect("conn");
        let (user, _) = signup(&mut conn, &SignupPolicy::default(), &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("signup");
        let s = start_session(&mut conn, &user.id, &accounts::AuthMethods::password(), NOW, POLICY, Some("test"), Some("127.0.0.1")).expect("start");
        let cookie = s.cookie.expose().to_owned();
        let (found, who) = resolve_session(&mut conn, &cookie, NOW + 10, POLICY).expect("resolve").expect("live");
        assert_eq!((found.id.as_str(), who.id.as_str()), (s.session.id.as_str(), user.id.as_str()));
        assert_eq!(found.auth_time, NOW);
        // Idle for a day: gone.
        assert!(resolve_session(&mut conn, &cookie, NOW + 86_400, POLICY).expect("resolve").is_none());
        assert!(resolve_session(&mut conn, &cookie, NOW + 10, POLICY).expect("resolve").is_none(), "deleted, not just hidden");
        // Kept alive, but past the absolute limit: gone.
        let s2 = start_session(&mut conn, &user.id, &accounts::AuthMethods::password(), NOW, POLICY, None, None).expect("start");
        let c2 = s2.cookie.expose().to_owned();
        let mut t = NOW;
        while t < NOW + 7 * 86_400 - 80_000 {
            t += 80_000;
            assert!(resolve_session(&mut conn, &c2, t, POLICY).expect("resolve").is_some(), "at {t}");
        }
        assert!(resolve_session(&mut conn, &c2, NOW + 7 * 86_400, POLICY).expect("resolve").is_none());
        // Revocation by public id.
        let s3 = start_session(&mut conn, &user.id, &accounts::AuthMethods::password(), NOW, POLICY, None, None).expect("start");
        assert_eq!(list_sessions(&mut conn, &user.id).expect("list").len(), 1);
        revoke_session(&mut conn, &user.id, &s3.session.id, NOW).expect("revoke");
        assert!(resolve_session(&mut conn, s3.cookie.expose(), NOW + 1, POLICY).expect("resolve").is_none());
        assert!(resolve_session(&mut conn, "made-up", NOW, POLICY).expect("resolve").is_none());
    }

    fn roles_and_the_last_owner_rule(db) {
        let mut conn = db.store().conn().expect("conn");
        let (owner, org) = signup(&mut conn, &SignupPolicy::default(), &new_user("o@example.com", "Owner"), None, hasher(), NOW).expect("owner");
        let (admin, _) = signup(&mut conn, &SignupPolicy::default(), &new_user("a@example.com", "Admin"), None, hasher(), NOW).expect("admin");
        let (member, _) = signup(&mut conn, &SignupPolicy::default(), &new_user("m@example.com", "Member"), None, hasher(), NOW).expect("member");
        let (outsider, _) = signup(&mut conn, &SignupPolicy::default(), &new_user("x@example.com", "Outsider"), None, hasher(), NOW).expect("outsider");
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
        let (owner, org) = signup(&mut conn, &SignupPolicy::default(), &new_user("o@example.com", "Owner"), None, hasher(), NOW).expect("owner");
        let (invite, token) = create_invite(&mut conn, &org.id, &owner.id, "New@Example.com", Role::Member, NOW, 3600).expect("invite");
        let new = Acceptor::NewAccount { name: "Newcomer", password: "long enough" };
        assert!(matches!(accept_invite(&mut conn, &invite.id, "wrong", new.clone(), hasher(), NOW), Err(AccountError::NotFound)));
        let (user, joined, role) = accept_invite(&mut conn, &invite.id, token.expose(), new.clone(), hasher(), NOW + 5).expect("accept");
        assert_eq!((user.email.as_str(), joined.id.as_str(), role), ("new@example.com", org.id.as_str(), Role::Member));
        assert!(matches!(accept_invite(&mut conn, &invite.id, token.expose(), new.clone(), hasher(), NOW + 6), Err(AccountError::InviteUsed)));

        let (late, late_token) = create_invite(&mut conn, &org.id, &owner.id, "late@example.com", Role::Member, NOW, 60).expect("invite");
        assert!(matches!(accept_invite(&mut conn, &late.id, late_token.expose(), new.clone(), hasher(), NOW + 60), Err(AccountError::InviteExpired)));

        let (other, _) = signup(&mut conn, &SignupPolicy::default(), &new_user("other@example.com", "Other"), None, hasher(), NOW).expect("other");
        let (inv, t) = create_invite(&mut conn, &org.id, &owner.id, "someone@example.com", Role::Member, NOW, 60).expect("invite");
        assert!(matches!(accept_invite(&mut conn, &inv.id, t.expose(), Acceptor::Existing { user_id: &other.id }, hasher(), NOW), Err(AccountError::Forbidden)));
    }

}
