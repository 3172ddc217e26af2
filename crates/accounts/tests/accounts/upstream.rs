//! Upstream identities and pending requests, on both backends.

use accounts::{
    AccountError, NewPassword, NewUpstreamRequest, SignupMode, SignupPolicy, UPSTREAM_REQUEST_TTL,
    UpstreamClaims, UpstreamRefusal, UpstreamSignIn, authenticate_password, begin_upstream,
    confirm_password, has_password, link_upstream, request_password_reset, reset_password,
    sign_in_upstream, signup, take_upstream, unlink_upstream, upstream_identities,
};

use super::{NOW, hasher, new_user};

fn claims(subject: &str, email: Option<&str>, verified: bool) -> UpstreamClaims {
    UpstreamClaims {
        provider: "corp".into(),
        issuer: "https://id.corp.example".into(),
        subject: subject.into(),
        email: email.map(str::to_owned),
        email_verified: verified,
        name: Some("Grace Hopper".into()),
    }
}

fn created(
    outcome: Result<Result<UpstreamSignIn, UpstreamRefusal>, AccountError>,
) -> accounts::User {
    match outcome.expect("no error") {
        Ok(UpstreamSignIn::Created(user, _)) => user,
        other => panic!("expected a new account, got {other:?}"),
    }
}

fn request<'a>(state: &'a str, browser: &'a str, link: Option<&'a str>) -> NewUpstreamRequest<'a> {
    NewUpstreamRequest {
        provider: "corp",
        state,
        browser_secret: browser,
        nonce: "n-1",
        pkce_sealed: "sealed",
        return_to: "/account",
        link_user_id: link,
    }
}

store::backend_tests! {
    fn a_first_upstream_sign_in_makes_an_account_without_a_password_and_the_next_finds_it(db) {
        let mut conn = db.store().conn().expect("conn");
        let open = SignupPolicy::default();
        let grace = created(sign_in_upstream(&mut conn, &open, &claims("g-1", Some("Grace@Corp.example"), true), NOW));
        assert_eq!(grace.email, "Grace@Corp.example");
        assert_eq!(grace.name, "Grace Hopper");
        assert!(grace.email_verified, "the provider said email_verified");
        assert!(!has_password(&mut conn, &grace.id).expect("has_password"));
        let ids = upstream_identities(&mut conn, &grace.id).expect("identities");
        assert_eq!(ids.len(), 1);
        assert_eq!((ids[0].issuer.as_str(), ids[0].subject.as_str()), ("https://id.corp.example", "g-1"));

        match sign_in_upstream(&mut conn, &open, &claims("g-1", Some("other@corp.example"), false), NOW + 5).expect("again") {
            Ok(UpstreamSignIn::Existing(user)) => assert_eq!(user.id, grace.id),
            other => panic!("{other:?}"),
        }
        // No password signs in to it, in the way of a wrong password.
        for guess in ["", "correct horse", "anything at all"] {
            assert!(matches!(
                authenticate_password(&mut conn, "grace@corp.example", guess, hasher(), false),
                Err(AccountError::InvalidCredentials)
            ));
        }
        assert!(matches!(
            confirm_password(&mut conn, &grace.id, "", hasher()),
            Err(AccountError::WrongPassword)
        ));
        // An address the provider did not verify is not verified here.
        let eve = created(sign_in_upstream(&mut conn, &open, &claims("e-1", Some("eve@else.example"), false), NOW));
        assert!(!eve.email_verified);
    }

    fn an_unknown_identity_never_takes_an_account_by_its_address(db) {
        let mut conn = db.store().conn().expect("conn");
        let open = SignupPolicy::default();
        let (ada, _) = signup(&mut conn, &open, &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("ada");
        for verified in [false, true] {
            let outcome = sign_in_upstream(&mut conn, &open, &claims("attacker", Some("ADA@example.com"), verified), NOW).expect("no error");
            assert_eq!(outcome, Err(UpstreamRefusal::EmailBelongsToAccount), "verified: {verified}");
        }
        assert!(upstream_identities(&mut conn, &ada.id).expect("ids").is_empty());
        assert_eq!(
            sign_in_upstream(&mut conn, &open, &claims("x", None, true), NOW).expect("no error"),
            Err(UpstreamRefusal::NoEmail)
        );
    }

    fn the_signup_policy_applies_to_new_upstream_accounts(db) {
        let mut conn = db.store().conn().expect("conn");
        for mode in [SignupMode::Invite, SignupMode::Closed] {
            let policy = SignupPolicy { mode, domains: vec![] };
            assert_eq!(
                sign_in_upstream(&mut conn, &policy, &claims("s", Some("s@corp.example"), true), NOW).expect("no error"),
                Err(UpstreamRefusal::SignupClosed)
            );
        }
        let domains = SignupPolicy { mode: SignupMode::Open, domains: vec!["corp.example".into()] };
        assert_eq!(
            sign_in_upstream(&mut conn, &domains, &claims("o", Some("o@other.example"), true), NOW).expect("no error"),
            Err(UpstreamRefusal::DomainNotAllowed)
        );
        assert_eq!(
            sign_in_upstream(&mut conn, &domains, &claims("u", Some("u@corp.example"), false), NOW).expect("no error"),
            Err(UpstreamRefusal::DomainNotAllowed),
            "an unverified address does not prove the domain"
        );
        created(sign_in_upstream(&mut conn, &domains, &claims("v", Some("v@corp.example"), true), NOW));
        // A closed server still lets a linked identity in.
        let closed = SignupPolicy { mode: SignupMode::Closed, domains: vec![] };
        assert!(matches!(
            sign_in_upstream(&mut conn, &closed, &claims("v", Some("v@corp.example"), true), NOW),
            Ok(Ok(UpstreamSignIn::Existing(_)))
        ));
    }

    fn linking_and_unlinking_keep_a_way_in(db) {
        let mut conn = db.store().conn().expect("conn");
        let open = SignupPolicy::default();
        let (ada, _) = signup(&mut conn, &open, &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("ada");
        let linked = link_upstream(&mut conn, &ada.id, &claims("ada-at-corp", Some("ada@corp.example"), true), NOW)
            .expect("no error")
            .expect("linked");
        assert_eq!(linked.user_id, ada.id);
        assert_eq!(linked.email.as_deref(), Some("ada@corp.example"));
        // Again: nothing changes.
        let again = link_upstream(&mut conn, &ada.id, &claims("ada-at-corp", None, false), NOW).expect("no error").expect("same");
        assert_eq!(again.id, linked.id);
        // Now it signs in to Ada.
        assert!(matches!(
            sign_in_upstream(&mut conn, &open, &claims("ada-at-corp", None, false), NOW),
            Ok(Ok(UpstreamSignIn::Existing(u))) if u.id == ada.id
        ));
        // Another account cannot take it.
        let grace = created(sign_in_upstream(&mut conn, &open, &claims("g-1", Some("grace@corp.example"), true), NOW));
        assert_eq!(
            link_upstream(&mut conn, &grace.id, &claims("ada-at-corp", None, false), NOW).expect("no error"),
            Err(UpstreamRefusal::LinkedToAnotherAccount)
        );
        // Ada has a password: her only identity may go.
        assert!(unlink_upstream(&mut conn, &ada.id, &linked.id).expect("no error").is_ok());
        assert!(upstream_identities(&mut conn, &ada.id).expect("ids").is_empty());
        // Grace has none: her only identity may not, nor may someone else's be unlinked by her.
        let grace_id = upstream_identities(&mut conn, &grace.id).expect("ids")[0].id.clone();
        assert_eq!(unlink_upstream(&mut conn, &grace.id, &grace_id).expect("no error"), Err(UpstreamRefusal::LastWayIn));
        assert_eq!(unlink_upstream(&mut conn, &ada.id, &grace_id).expect("no error"), Err(UpstreamRefusal::NotFound));
        // With a second identity, the first may go.
        link_upstream(&mut conn, &grace.id, &claims("g-2", None, false), NOW).expect("no error").expect("linked");
        assert!(unlink_upstream(&mut conn, &grace.id, &grace_id).expect("no error").is_ok());
        // A first password set through a reset link, and then she can sign in with it.
        let link = request_password_reset(&mut conn, "grace@corp.example", NOW).expect("link").expect("one");
        let new = NewPassword::hash("grace's first password", hasher()).expect("hash");
        reset_password(&mut conn, link.token.expose(), &new, NOW + 1).expect("reset");
        assert!(has_password(&mut conn, &grace.id).expect("has"));
        authenticate_password(&mut conn, "grace@corp.example", "grace's first password", hasher(), false).expect("signs in");
    }

    fn a_pending_request_is_taken_once_in_its_browser_for_its_provider_in_time(db) {
        let mut conn = db.store().conn().expect("conn");
        begin_upstream(&mut conn, &request("s-1", "browser-a", None), NOW).expect("begin");
        assert!(take_upstream(&mut conn, "corp", "s-1", Some("browser-b"), NOW).expect("take").is_none(), "another browser");
        assert!(take_upstream(&mut conn, "corp", "s-1", Some("browser-a"), NOW).expect("take").is_none(), "a failed take used it up");

        let (ada, _) = signup(&mut conn, &SignupPolicy::default(), &new_user("ada@example.com", "Ada"), None, hasher(), NOW).expect("ada");
        begin_upstream(&mut conn, &request("s-2", "browser-a", Some(&ada.id)), NOW).expect("begin");
        let taken = take_upstream(&mut conn, "corp", "s-2", Some("browser-a"), NOW + 1).expect("take").expect("its browser");
        assert_eq!(taken.nonce, "n-1");
        assert_eq!(taken.link_user_id.as_deref(), Some(ada.id.as_str()));
        assert!(take_upstream(&mut conn, "corp", "s-2", Some("browser-a"), NOW + 2).expect("take").is_none(), "once");

        begin_upstream(&mut conn, &request("s-3", "browser-a", None), NOW).expect("begin");
        assert!(take_upstream(&mut conn, "other", "s-3", Some("browser-a"), NOW).expect("take").is_none(), "another provider");
        begin_upstream(&mut conn, &request("s-4", "browser-a", None), NOW).expect("begin");
        assert!(take_upstream(&mut conn, "corp", "s-4", None, NOW).expect("take").is_none(), "no cookie");
        begin_upstream(&mut conn, &request("s-5", "browser-a", None), NOW).expect("begin");
        assert!(take_upstream(&mut conn, "corp", "s-5", Some("browser-a"), NOW + UPSTREAM_REQUEST_TTL).expect("take").is_none(), "too late");
        // A request made later drops the expired ones; its own is taken.
        begin_upstream(&mut conn, &request("s-6", "browser-a", None), NOW + UPSTREAM_REQUEST_TTL + 1).expect("begin, dropping the expired");
        assert!(take_upstream(&mut conn, "corp", "s-6", Some("browser-a"), NOW + UPSTREAM_REQUEST_TTL + 2).expect("take").is_some());
    }
}
