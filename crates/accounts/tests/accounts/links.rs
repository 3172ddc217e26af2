//! Mailed links, own-account changes and operator actions, on both backends.

use accounts::{
    AccountError, LinkPurpose, MAIL_PER_HOUR, NewPassword, SignupPolicy, authenticate_password,
    check_reset_link, confirm_email, confirm_password, create_invite, delete_account,
    issue_email_verification, list_sessions, request_email_change, request_password_reset,
    reset_password, signup, start_session,
};
use primitives::SecretHash;

use super::{NOW, POLICY, hasher, new_user};

store::backend_tests! {
    fn a_verification_link_verifies_once_and_is_stored_hashed(db) {
        let mut conn = db.store().conn().expect("conn");
        let (user, _) = signup(&mut conn, &SignupPolicy::default(), &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("signup");
        assert!(!user.email_verified);
        let link = issue_email_verification(&mut conn, &user.id, NOW).expect("link");
        assert_eq!(link.to, "ada@example.com");
        assert_eq!(link.purpose, LinkPurpose::VerifyEmail);
        assert_eq!(link.expires_at, NOW + 24 * 3600);
        // Only the hash is kept.
        let row = store::account_tokens::find(&mut conn, SecretHash::of(link.token.expose()).as_str()).expect("find").expect("row");
        assert_ne!(row.token_hash, link.token.expose());
        assert!(store::account_tokens::find(&mut conn, link.token.expose()).expect("find").is_none());

        let confirmed = confirm_email(&mut conn, link.token.expose(), NOW + 10).expect("confirm");
        assert!(confirmed.user.email_verified);
        assert_eq!(confirmed.previous_email, None);
        assert!(matches!(confirm_email(&mut conn, link.token.expose(), NOW + 11), Err(AccountError::LinkInvalid)));
        assert!(matches!(issue_email_verification(&mut conn, &user.id, NOW + 100), Err(AccountError::AlreadyVerified)));
    }

    fn an_expired_or_unknown_link_is_refused(db) {
        let mut conn = db.store().conn().expect("conn");
        let (user, _) = signup(&mut conn, &SignupPolicy::default(), &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("signup");
        let link = issue_email_verification(&mut conn, &user.id, NOW).expect("link");
        assert!(matches!(confirm_email(&mut conn, link.token.expose(), NOW + 24 * 3600), Err(AccountError::LinkExpired)));
        assert!(matches!(confirm_email(&mut conn, "not-a-token", NOW), Err(AccountError::LinkInvalid)));
        // A verification link does not reset a password, nor the other way round.
        assert!(matches!(check_reset_link(&mut conn, link.token.expose(), NOW), Err(AccountError::LinkInvalid)));
    }

    fn mail_links_are_rate_limited_per_user_and_purpose(db) {
        let mut conn = db.store().conn().expect("conn");
        let (user, _) = signup(&mut conn, &SignupPolicy::default(), &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("signup");
        issue_email_verification(&mut conn, &user.id, NOW).expect("first");
        match issue_email_verification(&mut conn, &user.id, NOW + 10) {
            Err(AccountError::TooSoon { retry_after }) => assert_eq!(retry_after, 50),
            other => panic!("expected TooSoon, got {other:?}"),
        }
        for i in 1..MAIL_PER_HOUR as i64 {
            issue_email_verification(&mut conn, &user.id, NOW + 61 * i).expect("within the hour");
        }
        assert!(matches!(issue_email_verification(&mut conn, &user.id, NOW + 61 * MAIL_PER_HOUR as i64), Err(AccountError::TooSoon { .. })));
        assert!(issue_email_verification(&mut conn, &user.id, NOW + 3601).is_ok());
        // Another purpose counts apart; a silent None past the limit for the enumeration-proof reset.
        assert!(request_password_reset(&mut conn, "ada@example.com", NOW).expect("reset").is_some());
        assert!(request_password_reset(&mut conn, "ada@example.com", NOW + 1).expect("reset").is_none());
    }

    fn password_reset_sets_the_password_ends_sessions_and_every_reset_link(db) {
        let mut conn = db.store().conn().expect("conn");
        let (user, _) = signup(&mut conn, &SignupPolicy::default(), &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("signup");
        start_session(&mut conn, &user.id, &accounts::AuthMethods::password(), NOW, POLICY, None, None).expect("session");
        assert!(request_password_reset(&mut conn, "nobody@example.com", NOW).expect("unknown").is_none());
        assert!(request_password_reset(&mut conn, "not an email", NOW).expect("garbage").is_none());
        let first = request_password_reset(&mut conn, " ADA@example.com", NOW).expect("reset").expect("link");
        let second = request_password_reset(&mut conn, "ada@example.com", NOW + 61).expect("reset").expect("link");
        assert_eq!(first.expires_at, NOW + 30 * 60);
        assert_eq!(check_reset_link(&mut conn, second.token.expose(), NOW + 62).expect("live").id, user.id);
        let new = NewPassword::hash("a brand new secret", hasher()).expect("hash");
        reset_password(&mut conn, second.token.expose(), &new, NOW + 62).expect("reset");
        assert!(list_sessions(&mut conn, &user.id).expect("sessions").is_empty());
        assert!(matches!(authenticate_password(&mut conn, "ada@example.com", "correct horse", hasher(), false), Err(AccountError::InvalidCredentials)));
        authenticate_password(&mut conn, "ada@example.com", "a brand new secret", hasher(), false).expect("new password");
        // Both links are spent: the used one and the earlier one.
        for link in [&first, &second] {
            assert!(matches!(reset_password(&mut conn, link.token.expose(), &new, NOW + 63), Err(AccountError::LinkInvalid)));
        }
        // Expiry: 30 minutes.
        let late = request_password_reset(&mut conn, "ada@example.com", NOW + 200).expect("reset").expect("link");
        assert!(matches!(reset_password(&mut conn, late.token.expose(), &new, NOW + 200 + 1800), Err(AccountError::LinkExpired)));
        assert!(matches!(NewPassword::hash("short", hasher()), Err(AccountError::Invalid { field: "password", .. })));
    }

    fn an_email_change_happens_only_when_the_new_address_confirms(db) {
        let mut conn = db.store().conn().expect("conn");
        let (user, _) = signup(&mut conn, &SignupPolicy::default(), &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("signup");
        signup(&mut conn, &SignupPolicy::default(), &new_user("bob@example.com", "Bob"), None, hasher(), NOW).expect("bob");
        assert!(matches!(confirm_password(&mut conn, &user.id, "wrong horse", hasher()), Err(AccountError::WrongPassword)));
        let proof = confirm_password(&mut conn, &user.id, "correct horse", hasher()).expect("proof");
        assert!(matches!(request_email_change(&mut conn, &proof, "BOB@example.com", NOW), Err(AccountError::EmailTaken)));
        assert!(matches!(request_email_change(&mut conn, &proof, "ada@example.com", NOW), Err(AccountError::Invalid { .. })));
        let verify_old = issue_email_verification(&mut conn, &user.id, NOW).expect("verify old");
        let first = request_email_change(&mut conn, &proof, "ada@old.example", NOW).expect("change");
        let link = request_email_change(&mut conn, &proof, "Ada@New.example", NOW + 61).expect("change");
        assert_eq!(link.to, "Ada@New.example");
        // Nothing changes before the new address confirms.
        assert_eq!(accounts::find_user(&mut conn, &user.id).expect("find").expect("user").email, "ada@example.com");
        // A newer request ends the earlier one.
        assert!(matches!(confirm_email(&mut conn, first.token.expose(), NOW + 62), Err(AccountError::LinkInvalid)));
        let confirmed = confirm_email(&mut conn, link.token.expose(), NOW + 62).expect("confirm");
        assert_eq!(confirmed.user.email, "Ada@New.example");
        assert!(confirmed.user.email_verified);
        assert_eq!(confirmed.previous_email.as_deref(), Some("ada@example.com"));
        // The old address's verification link proves nothing now.
        assert!(matches!(confirm_email(&mut conn, verify_old.token.expose(), NOW + 63), Err(AccountError::LinkInvalid)));
        authenticate_password(&mut conn, "ada@new.example", "correct horse", hasher(), true).expect("signs in with the new address");
    }

    fn an_email_change_loses_to_an_account_made_meanwhile(db) {
        let mut conn = db.store().conn().expect("conn");
        let (user, _) = signup(&mut conn, &SignupPolicy::default(), &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("signup");
        let proof = confirm_password(&mut conn, &user.id, "correct horse", hasher()).expect("proof");
        let link = request_email_change(&mut conn, &proof, "new@example.com", NOW).expect("change");
        signup(&mut conn, &SignupPolicy::default(), &new_user("new@example.com", "Squatter"), None, hasher(), NOW).expect("squatter");
        assert!(matches!(confirm_email(&mut conn, link.token.expose(), NOW + 1), Err(AccountError::EmailTaken)));
        assert_eq!(accounts::find_user(&mut conn, &user.id).expect("find").expect("user").email, "ada@example.com");
    }

    fn unverified_users_are_refused_only_when_required_and_only_with_the_right_password(db) {
        let mut conn = db.store().conn().expect("conn");
        let (user, _) = signup(&mut conn, &SignupPolicy::default(), &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("signup");
        authenticate_password(&mut conn, "ada@example.com", "correct horse", hasher(), false).expect("not required");
        match authenticate_password(&mut conn, "ada@example.com", "correct horse", hasher(), true) {
            Err(AccountError::EmailNotVerified { user_id }) => assert_eq!(user_id, user.id),
            other => panic!("expected EmailNotVerified, got {other:?}"),
        }
        assert!(matches!(authenticate_password(&mut conn, "ada@example.com", "wrong horse", hasher(), true), Err(AccountError::InvalidCredentials)));
        accounts::mark_email_verified(&mut conn, &user.id, NOW).expect("operator verifies");
        authenticate_password(&mut conn, "ada@example.com", "correct horse", hasher(), true).expect("verified");
    }

    fn deleting_an_account_takes_its_own_organizations_and_spares_shared_ones(db) {
        let mut conn = db.store().conn().expect("conn");
        let (ada, solo) = signup(&mut conn, &SignupPolicy::default(), &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("ada");
        let (bob, shared) = signup(&mut conn, &SignupPolicy::default(), &new_user("bob@example.com", "Bob"), None, hasher(), NOW).expect("bob");
        // Ada joins Bob's organization as a member; Bob is its only owner.
        let (invite, token) = create_invite(&mut conn, &shared.id, &bob.id, "ada@example.com", accounts::Role::Member, NOW, 3600).expect("invite");
        accounts::accept_invite(&mut conn, &invite.id, token.expose(), accounts::Acceptor::Existing { user_id: &ada.id }, hasher(), NOW).expect("accept");
        // Bob may not leave his organization with a member in it behind.
        let bob_proof = confirm_password(&mut conn, &bob.id, "correct horse", hasher()).expect("proof");
        assert!(matches!(delete_account(&mut conn, &bob_proof), Err(AccountError::LastOwner)));
        let proof = confirm_password(&mut conn, &ada.id, "correct horse", hasher()).expect("proof");
        let deleted = delete_account(&mut conn, &proof).expect("delete");
        assert_eq!(deleted.orgs_deleted, vec![solo.id.clone()]);
        assert!(accounts::find_user(&mut conn, &ada.id).expect("find").is_none());
        assert!(accounts::find_org(&mut conn, &solo.id).expect("find").is_none());
        assert!(accounts::find_org(&mut conn, &shared.id).expect("find").is_some());
        assert_eq!(accounts::members(&mut conn, &shared.id).expect("members").len(), 1);
        // Now Bob is alone and may go, his organization with him.
        let deleted = delete_account(&mut conn, &bob_proof).expect("bob goes");
        assert_eq!(deleted.orgs_deleted, vec![shared.id]);
    }
}
