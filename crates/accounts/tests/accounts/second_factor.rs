//! Second factors: TOTP enrolment, single use of codes, recovery codes, challenges, and an
//! organization's requirement, on both backends.

use accounts::{
    AccountError, AuthMethod, AuthMethods, CHALLENGE_FAILURES, CHALLENGE_TTL, RECOVERY_CODES,
    SignupPolicy, answer_challenge, confirm_password, confirm_totp, create_org, find_challenge,
    mfa_required_by_org, regenerate_recovery_codes, remove_totp, reset_second_factors_as_operator,
    second_factors, set_require_mfa, signup, start_challenge, start_totp, totp_code_for,
    verify_second_factor,
};
use primitives::seal::KeyRing;

use super::{NOW, hasher, new_user};

fn ring() -> KeyRing {
    KeyRing::parse(&KeyRing::generate_entry("test")).expect("ring")
}

store::backend_tests! {
    fn a_totp_is_enabled_by_a_right_code_and_its_secret_is_sealed(db) {
        let mut conn = db.store().conn().expect("conn");
        let ring = ring();
        let (user, _) = signup(&mut conn, &SignupPolicy::default(), &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("signup");
        let enrolment = start_totp(&mut conn, &ring, &user, "Portcullis", NOW).expect("start");
        assert!(enrolment.otpauth_uri.starts_with("otpauth://totp/Portcullis:ada%40example.com?"), "{}", enrolment.otpauth_uri);
        assert!(enrolment.otpauth_uri.contains(&format!("secret={}", enrolment.secret)));
        // The stored secret is sealed: neither its base32 nor anything readable.
        let row = store::second_factors::find_totp(&mut conn, &user.id).expect("find").expect("row");
        assert!(row.secret_sealed.starts_with("test."));
        assert!(!row.secret_sealed.contains(&enrolment.secret));
        assert!(!second_factors(&mut conn, &user.id).expect("factors").any(), "not before confirming");

        let wrong = if totp_code_for(&enrolment.secret, NOW).expect("ok") == "000000" { "111111" } else { "000000" };
        assert!(matches!(confirm_totp(&mut conn, &ring, &user.id, wrong, NOW), Err(AccountError::WrongCode)));
        assert!(matches!(confirm_totp(&mut conn, &ring, &user.id, "abc", NOW), Err(AccountError::WrongCode)));
        let code = totp_code_for(&enrolment.secret, NOW).expect("code");
        let codes = confirm_totp(&mut conn, &ring, &user.id, &code, NOW).expect("confirm");
        assert_eq!(codes.0.len(), RECOVERY_CODES);
        let factors = second_factors(&mut conn, &user.id).expect("factors");
        assert!(factors.any());
        assert_eq!(factors.recovery_codes_left, RECOVERY_CODES as i64);
        // Enrolled: a second start is refused, and a confirmed one is not replaced.
        assert!(matches!(start_totp(&mut conn, &ring, &user, "Portcullis", NOW), Err(AccountError::MfaAlreadyEnabled)));
        // Another ring cannot open the secret.
        assert!(matches!(verify_second_factor(&mut conn, &self::ring(), &user.id, &code, NOW + 30), Err(AccountError::MfaUnavailable)));
    }

    fn attack_totp_replay_a_code_is_accepted_once(db) {
        let mut conn = db.store().conn().expect("conn");
        let ring = ring();
        let (user, _) = signup(&mut conn, &SignupPolicy::default(), &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("signup");
        let secret = start_totp(&mut conn, &ring, &user, "P", NOW).expect("start").secret;
        confirm_totp(&mut conn, &ring, &user.id, &totp_code_for(&secret, NOW).expect("ok"), NOW).expect("confirm");
        // The code that confirmed cannot sign in; nor can an older step's.
        assert!(matches!(verify_second_factor(&mut conn, &ring, &user.id, &totp_code_for(&secret, NOW).expect("ok"), NOW + 5), Err(AccountError::WrongCode)));
        let later = NOW + 90;
        let code = totp_code_for(&secret, later).expect("ok");
        assert_eq!(verify_second_factor(&mut conn, &ring, &user.id, &code, later).expect("first use"), AuthMethod::Otp);
        assert!(matches!(verify_second_factor(&mut conn, &ring, &user.id, &code, later + 1), Err(AccountError::WrongCode)), "replay within its window");
        // One step of skew either way; two is too far.
        let next = later + 30;
        assert!(verify_second_factor(&mut conn, &ring, &user.id, &totp_code_for(&secret, next + 30).expect("ok"), next).is_ok());
        assert!(matches!(verify_second_factor(&mut conn, &ring, &user.id, &totp_code_for(&secret, next + 300).expect("ok"), next), Err(AccountError::WrongCode)));
    }

    fn recovery_codes_are_single_use_stored_hashed_and_regenerated(db) {
        let mut conn = db.store().conn().expect("conn");
        let ring = ring();
        let (user, _) = signup(&mut conn, &SignupPolicy::default(), &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("signup");
        let secret = start_totp(&mut conn, &ring, &user, "P", NOW).expect("start").secret;
        let codes = confirm_totp(&mut conn, &ring, &user.id, &totp_code_for(&secret, NOW).expect("ok"), NOW).expect("confirm").0;
        let first = codes[0].clone();
        assert!(store::second_factors::use_recovery_code(&mut conn, &user.id, &first, NOW).is_ok_and(|used| !used), "stored hashed, not plain");
        // Typed loosely: case, spaces, no dash.
        let typed = format!(" {} ", first.replace('-', "").to_uppercase());
        assert_eq!(verify_second_factor(&mut conn, &ring, &user.id, &typed, NOW).expect("recovery"), AuthMethod::Otp);
        assert!(matches!(verify_second_factor(&mut conn, &ring, &user.id, &first, NOW), Err(AccountError::WrongCode)), "used once");
        assert_eq!(second_factors(&mut conn, &user.id).expect("ok").recovery_codes_left, RECOVERY_CODES as i64 - 1);
        // Another user's code is not this user's.
        let (bob, _) = signup(&mut conn, &SignupPolicy::default(), &new_user("bob@example.com", "Bob"), None, hasher(), NOW).expect("signup");
        let bob_secret = start_totp(&mut conn, &ring, &bob, "P", NOW).expect("start").secret;
        confirm_totp(&mut conn, &ring, &bob.id, &totp_code_for(&bob_secret, NOW).expect("ok"), NOW).expect("confirm");
        assert!(matches!(verify_second_factor(&mut conn, &ring, &bob.id, &codes[1], NOW), Err(AccountError::WrongCode)));

        let proof = confirm_password(&mut conn, &user.id, "correct horse", hasher()).expect("proof");
        let fresh = regenerate_recovery_codes(&mut conn, &proof, NOW).expect("regenerate").0;
        assert!(matches!(verify_second_factor(&mut conn, &ring, &user.id, &codes[1], NOW), Err(AccountError::WrongCode)), "old codes void");
        assert!(verify_second_factor(&mut conn, &ring, &user.id, &fresh[0], NOW).is_ok());

        remove_totp(&mut conn, &proof).expect("remove");
        assert!(!second_factors(&mut conn, &user.id).expect("ok").any());
        assert!(matches!(verify_second_factor(&mut conn, &ring, &user.id, &fresh[1], NOW), Err(AccountError::WrongCode)), "codes go with the authenticator");
        assert!(matches!(remove_totp(&mut conn, &proof), Err(AccountError::MfaNotEnabled)));
        assert!(reset_second_factors_as_operator(&mut conn, &bob.id).expect("reset"));
        assert!(!second_factors(&mut conn, &bob.id).expect("ok").any());
    }

    fn a_challenge_is_answered_once_and_dies_after_wrong_codes_or_time(db) {
        let mut conn = db.store().conn().expect("conn");
        let ring = ring();
        let (user, _) = signup(&mut conn, &SignupPolicy::default(), &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("signup");
        let secret = start_totp(&mut conn, &ring, &user, "P", NOW).expect("start").secret;
        confirm_totp(&mut conn, &ring, &user.id, &totp_code_for(&secret, NOW).expect("ok"), NOW).expect("confirm");
        let pwd = AuthMethods::password();

        let token = start_challenge(&mut conn, &user.id, &pwd, NOW).expect("challenge");
        let challenge = find_challenge(&mut conn, token.expose(), NOW + 1).expect("find");
        assert_eq!(challenge.user.id, user.id);
        let at = NOW + 60;
        let amr = answer_challenge(&mut conn, &ring, &challenge, &totp_code_for(&secret, at).expect("ok"), at).expect("answer");
        assert_eq!(amr.claim(), ["pwd", "otp", "mfa"]);
        assert!(matches!(find_challenge(&mut conn, token.expose(), at), Err(AccountError::ChallengeInvalid)), "used once");

        let token = start_challenge(&mut conn, &user.id, &pwd, NOW).expect("challenge");
        assert!(matches!(find_challenge(&mut conn, token.expose(), NOW + CHALLENGE_TTL), Err(AccountError::ChallengeInvalid)), "expired");

        let token = start_challenge(&mut conn, &user.id, &pwd, NOW).expect("challenge");
        for _ in 0..CHALLENGE_FAILURES {
            let c = find_challenge(&mut conn, token.expose(), NOW).expect("alive");
            assert!(matches!(answer_challenge(&mut conn, &ring, &c, "not-a-code", NOW), Err(AccountError::WrongCode)));
        }
        assert!(matches!(find_challenge(&mut conn, token.expose(), NOW), Err(AccountError::ChallengeInvalid)), "dead after wrong codes");
        assert!(matches!(find_challenge(&mut conn, "forged", NOW), Err(AccountError::ChallengeInvalid)));
    }

    fn an_organization_can_require_mfa_only_by_its_owner(db) {
        let mut conn = db.store().conn().expect("conn");
        let (owner, _) = signup(&mut conn, &SignupPolicy::default(), &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("signup");
        let (other, _) = signup(&mut conn, &SignupPolicy::default(), &new_user("bob@example.com", "Bob"), None, hasher(), NOW).expect("signup");
        let org = create_org(&mut conn, &owner.id, "Acme", NOW).expect("org");
        assert!(!org.require_mfa);
        assert!(!mfa_required_by_org(&mut conn, &owner.id).expect("ok"));
        assert!(matches!(set_require_mfa(&mut conn, &org.id, &other.id, true, NOW), Err(AccountError::Forbidden)));
        let org = set_require_mfa(&mut conn, &org.id, &owner.id, true, NOW).expect("require");
        assert!(org.require_mfa);
        assert!(mfa_required_by_org(&mut conn, &owner.id).expect("ok"));
        assert!(!mfa_required_by_org(&mut conn, &other.id).expect("ok"), "not a member");
    }

    fn attack_totp_race_two_uses_of_one_code_cannot_both_win(db) {
        let ring = ring();
        let secret = {
            let mut conn = db.store().conn().expect("conn");
            let (user, _) = signup(&mut conn, &SignupPolicy::default(), &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("signup");
            let secret = start_totp(&mut conn, &ring, &user, "P", NOW).expect("start").secret;
            confirm_totp(&mut conn, &ring, &user.id, &totp_code_for(&secret, NOW).expect("code"), NOW).expect("confirm");
            (user.id, secret)
        };
        let (user_id, secret) = secret;
        let at = NOW + 60;
        let code = totp_code_for(&secret, at).expect("code");
        // Four sign-ins (the test pool's size) present the same code at once, each on its own
        // connection.
        let barrier = std::sync::Barrier::new(4);
        let wins = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let (store, ring, barrier) = (db.store().clone(), &ring, &barrier);
                    let (user_id, code) = (user_id.clone(), code.clone());
                    scope.spawn(move || {
                        let mut conn = store.conn().expect("conn");
                        barrier.wait();
                        verify_second_factor(&mut conn, ring, &user_id, &code, at).is_ok()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("thread")).filter(|won| *won).count()
        });
        assert_eq!(wins, 1, "exactly one use of the code wins");
    }
}
