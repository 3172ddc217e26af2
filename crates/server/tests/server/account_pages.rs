//! The account pages in a real headless Chromium, without JavaScript: the verification link
//! followed, a forgotten password reset through the mailed link, the forms of `/account`,
//! required verification on the sign-in page, and sign-up when it is not open. Letters are
//! read from the server's outbox and their links opened in the browser. The screenshots of
//! `docs/accounts.md` are taken here (`PORTCULLIS_SCREENSHOTS=$PWD/docs/screenshots`).

use crate::browser::Browser;
use crate::common::*;

/// Signs up on the page; the browser ends signed in on `/account` (or, when verification is
/// required, on the "Check your email" notice).
async fn sign_up(browser: &Browser, server: &TestServer, name: &str, email: &str, password: &str) {
    browser.goto(&server.url("/signup")).await;
    browser.type_into("#name", name).await;
    browser.type_into("#email", email).await;
    browser.type_into("#password", password).await;
    browser
        .click("form[action='/signup'] button[type=submit]")
        .await;
}

/// Signs in on the sign-in page the browser is on.
async fn sign_in_here(browser: &Browser, email: &str, password: &str) {
    browser.clear("#email").await;
    browser.type_into("#email", email).await;
    browser.type_into("#password", password).await;
    browser
        .click("form[action='/login'] button[type=submit]")
        .await;
}

const WRONG: &str = "The email or password is wrong.";

#[actix_web::test]
async fn a_new_account_follows_its_verification_link_in_the_browser() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let browser = Browser::start().await;
    sign_up(
        &browser,
        &server,
        "Ada",
        "ada@example.com",
        "analytical engine",
    )
    .await;
    browser.wait_for_path("/account").await;
    assert_eq!(browser.text("#email-status").await, "(not verified)");
    assert_eq!(
        browser.count("form[action='/account/verify-email']").await,
        1,
        "an unverified account is offered the link again"
    );

    let letters = server.wait_for_mail(1).await;
    assert_eq!(letters[0].to(), "ada@example.com");
    let link = letters[0].link().expect("a link");
    assert!(
        link.starts_with(&server.url("/verify-email?token=")),
        "{link}"
    );
    browser.goto(&link).await;
    browser.wait_for_text("Email address verified").await;
    assert_eq!(
        browser.text("#notice").await,
        "ada@example.com is your account's verified address."
    );
    browser.screenshot("accounts-verified").await;

    browser.click("a[href='/account']").await;
    browser.wait_for_path("/account").await;
    assert_eq!(browser.text("#email-status").await, "(verified)");
    assert_eq!(
        browser.count("form[action='/account/verify-email']").await,
        0
    );

    // The link is used up.
    browser.goto(&link).await;
    browser.wait_for_text("This link does not work").await;
}

#[actix_web::test]
async fn a_forgotten_password_is_reset_through_the_mailed_link() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    crate::api_auth::signup(&server, "ada@example.com", "Ada").await;
    server.wait_for_mail(1).await;
    let browser = Browser::start().await;

    browser.goto(&server.url("/login")).await;
    browser.wait_for_text("Forgot your password?").await;
    browser.screenshot("accounts-sign-in").await;
    browser.click("a[href='/password/forgot']").await;
    browser.wait_for_path("/password/forgot").await;

    // The same confirmation whatever the address.
    let mut answers = Vec::new();
    for email in ["nobody@example.com", "ada@example.com"] {
        browser.goto(&server.url("/password/forgot")).await;
        browser.type_into("#email", email).await;
        browser
            .click("form[action='/password/forgot'] button")
            .await;
        browser.wait_for_text("If an account exists").await;
        answers.push((browser.text("#notice").await, browser.text("button").await));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[1].1, "Send again");
    browser.screenshot("accounts-forgot-sent").await;
    let letters = server.wait_for_mail(2).await;
    assert!(letters.iter().all(|l| l.to() == "ada@example.com"));
    let link = letters[1].link().expect("a link");
    assert!(
        link.starts_with(&server.url("/password/reset?token=")),
        "{link}"
    );

    browser.goto(&link).await;
    browser.wait_for_text("Choose a new password").await;
    assert!(browser.source().await.contains("For ada@example.com."));
    browser.screenshot("accounts-reset").await;
    // A confirmation that differs is refused on the page, and the link still works.
    browser.type_into("#password", "difference engine").await;
    browser.type_into("#confirm", "difference engines").await;
    browser.click("form[action='/password/reset'] button").await;
    browser.wait_for_text("The two passwords differ.").await;
    browser.type_into("#password", "difference engine").await;
    browser.type_into("#confirm", "difference engine").await;
    browser.click("form[action='/password/reset'] button").await;
    browser.wait_for_path("/login?notice=password_reset").await;
    assert_eq!(
        browser.text("#notice").await,
        "Your password was changed. Sign in with the new one."
    );

    sign_in_here(&browser, "ada@example.com", "correct horse").await;
    browser.wait_for_text(WRONG).await;
    sign_in_here(&browser, "ada@example.com", "difference engine").await;
    browser.wait_for_path("/account").await;

    // Single use.
    browser.goto(&link).await;
    browser.wait_for_text("This link does not work").await;
}

#[actix_web::test]
async fn the_account_forms_change_name_address_and_password_and_delete() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let browser = Browser::start().await;
    sign_up(
        &browser,
        &server,
        "Ada",
        "ada@example.com",
        "analytical engine",
    )
    .await;
    browser.wait_for_path("/account").await;
    server.wait_for_mail(1).await;
    assert_eq!(browser.title().await, "Your account · Portcullis");
    browser.screenshot("accounts-account").await;
    browser
        .scroll_to("section:has(form[action='/account/email'])")
        .await;
    browser.screenshot("accounts-account-forms").await;

    // The name.
    browser.clear("#new-name").await;
    browser.type_into("#new-name", "Ada Lovelace").await;
    browser
        .click("form[action='/account/profile'] button")
        .await;
    browser.wait_for_path("/account?notice=name_saved").await;
    assert_eq!(browser.text("#profile-name").await, "Ada Lovelace");
    assert_eq!(browser.text("#notice").await, "Your name was saved.");

    // The verification link again: not within the minute of the first, then sent.
    browser
        .click("form[action='/account/verify-email'] button")
        .await;
    browser
        .wait_for_text("We sent a message a moment ago.")
        .await;
    server.clock.advance(61);
    browser
        .click("form[action='/account/verify-email'] button")
        .await;
    browser
        .wait_for_path("/account?notice=verification_sent")
        .await;
    let letters = server.wait_for_mail(2).await;
    assert_eq!(letters[1].to(), "ada@example.com");
    assert!(
        letters[1]
            .link()
            .is_some_and(|l| l.contains("/verify-email?token="))
    );

    // The address: the letter goes to the new one; nothing changes until it is followed.
    browser.type_into("#new-email", "ada@new.example").await;
    browser
        .type_into("#email-password", "analytical engine")
        .await;
    browser.click("form[action='/account/email'] button").await;
    browser.wait_for_path("/account?notice=email_sent").await;
    let letters = server.wait_for_mail(3).await;
    assert_eq!(letters[2].to(), "ada@new.example");
    assert!(
        browser
            .text("#profile-email")
            .await
            .starts_with("ada@example.com")
    );
    browser.goto(&letters[2].link().expect("a link")).await;
    browser.wait_for_text("Email address verified").await;
    browser.goto(&server.url("/account")).await;
    browser.wait_for_path("/account").await;
    assert_eq!(browser.text("#profile-email").await, "ada@new.example");
    assert_eq!(browser.text("#email-status").await, "(verified)");
    let letters = server.wait_for_mail(4).await;
    assert_eq!(
        letters[3].to(),
        "ada@example.com",
        "the old address is told"
    );

    // The password: a wrong current one is refused on the page; the right one signs out
    // every other browser and keeps this one.
    let other = Browser::start().await;
    other.goto(&server.url("/login")).await;
    sign_in_here(&other, "ada@new.example", "analytical engine").await;
    other.wait_for_path("/account").await;
    browser.type_into("#current-password", "wrong engine").await;
    browser
        .type_into("#new-password", "difference engine")
        .await;
    browser
        .click("form[action='/account/password'] button")
        .await;
    browser.wait_for_text("The password is wrong.").await;
    assert_eq!(browser.text("#error").await, "The password is wrong.");
    browser
        .type_into("#current-password", "analytical engine")
        .await;
    browser
        .type_into("#new-password", "difference engine")
        .await;
    browser
        .click("form[action='/account/password'] button")
        .await;
    browser
        .wait_for_path("/account?notice=password_changed")
        .await;
    other.goto(&server.url("/account")).await;
    other.wait_for_path("/login?return_to=/account").await;
    browser.goto(&server.url("/account")).await;
    browser.wait_for_path("/account").await;
    assert_eq!(browser.text("#profile-name").await, "Ada Lovelace");

    // Deletion: the password is checked; then the account is gone.
    browser
        .type_into("#delete-password", "analytical engine")
        .await;
    browser.click("form[action='/account/delete'] button").await;
    browser.wait_for_text("The password is wrong.").await;
    browser
        .type_into("#delete-password", "difference engine")
        .await;
    browser.click("form[action='/account/delete'] button").await;
    browser.wait_for_path("/login?notice=account_deleted").await;
    assert_eq!(browser.text("#notice").await, "Your account was deleted.");
    sign_in_here(&browser, "ada@new.example", "difference engine").await;
    browser.wait_for_text(WRONG).await;
}

#[actix_web::test]
async fn required_verification_refuses_sign_in_and_offers_the_link_again() {
    let db = TestDb::sqlite();
    let server = TestServer::start_with(&db, |s| s.require_verified_email = true);
    let browser = Browser::start().await;
    sign_up(
        &browser,
        &server,
        "Ada",
        "ada@example.com",
        "analytical engine",
    )
    .await;
    browser.wait_for_text("Check your email").await;
    server.wait_for_mail(1).await;

    browser.goto(&server.url("/login")).await;
    sign_in_here(&browser, "ada@example.com", "analytical engine").await;
    browser.wait_for_text("not verified yet").await;
    assert_eq!(
        browser.text("#resend button").await,
        "Send the verification link again"
    );
    browser.screenshot("accounts-unverified").await;
    server.clock.advance(61);
    browser.click("#resend button").await;
    browser.wait_for_text("a new link is on its way").await;
    let letters = server.wait_for_mail(2).await;
    assert_eq!(letters[1].to(), "ada@example.com");

    browser.goto(&letters[1].link().expect("a link")).await;
    browser.wait_for_text("Email address verified").await;
    browser.goto(&server.url("/login")).await;
    sign_in_here(&browser, "ada@example.com", "analytical engine").await;
    browser.wait_for_path("/account").await;
}

#[actix_web::test]
async fn sign_up_by_invitation_or_closed_shows_why_and_no_form() {
    let db = TestDb::sqlite();
    for (mode, words) in [
        (accounts::SignupMode::Invite, "made by invitation"),
        (accounts::SignupMode::Closed, "Sign-up is closed"),
    ] {
        let server = TestServer::start_with(&db, |s| s.signup.mode = mode);
        let browser = Browser::start().await;
        browser.goto(&server.url("/signup")).await;
        browser.wait_for_text(words).await;
        assert_eq!(browser.count("form[action='/signup']").await, 0, "{mode:?}");
        assert_eq!(browser.count("#password").await, 0, "{mode:?}");
        if mode == accounts::SignupMode::Closed {
            browser.screenshot("accounts-signup-closed").await;
        }
        browser.goto(&server.url("/login")).await;
        browser.wait_for_text("Forgot your password?").await;
        assert_eq!(browser.count("a[href^='/signup']").await, 0, "{mode:?}");
    }
}

#[actix_web::test]
async fn an_invited_person_joins_from_the_mailed_link_when_sign_up_is_by_invitation() {
    let db = TestDb::sqlite();
    let server = TestServer::start_with(&db, |s| s.signup.mode = accounts::SignupMode::Invite);
    // The organization's owner, made by an operator, invites Bob over the API.
    let org = {
        let mut conn = db.store().conn().expect("conn");
        let new = accounts::NewUser {
            email: "grace@example.com",
            name: "Grace",
            password: "analytical engine",
        };
        let anyone = accounts::SignupPolicy::default();
        let hasher = accounts::PasswordHasher::new();
        accounts::signup(
            &mut conn,
            &anyone,
            &new,
            Some("Analytical Engines"),
            &hasher,
            1,
        )
        .expect("owner")
        .1
    };
    let login = server
        .post_json(
            "/api/v1/auth/login",
            &serde_json::json!({ "email": "grace@example.com", "password": "analytical engine" }),
        )
        .await;
    let token = json_of(login).await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let res = server
        .http
        .post(server.url(&format!("/api/v1/organizations/{}/invites", org.id)))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "email": "bob@example.com", "role": "member" }))
        .send()
        .await
        .expect("invite");
    assert_eq!(res.status(), 201);
    let letters = server.wait_for_mail(1).await;
    assert_eq!(letters[0].to(), "bob@example.com");
    // Bob opens the letter's link: the page names the organization and lets him join.
    let browser = Browser::start().await;
    browser.goto(&letters[0].link().expect("a link")).await;
    browser.wait_for_text("Join Analytical Engines").await;
    assert!(browser.text("#invitation").await.contains("as member"));
    browser.type_into("#name", "Bob").await;
    browser.type_into("#password", "difference engine").await;
    browser.screenshot("accounts-invite").await;
    browser
        .click("form[action$='/join'] button[type=submit]")
        .await;
    browser.wait_for_text("You joined the organization.").await;
    assert!(browser.title().await.starts_with("Your account"));
    // His account has its own verification letter.
    let letters = server.wait_for_mail(2).await;
    assert!(
        letters[1]
            .link()
            .is_some_and(|l| l.contains("/verify-email?token="))
    );
}
