//! Account takeover through an upstream provider's email claim (the "nOAuth" class: a
//! relying party that finds its account by the address a provider reports lets whoever
//! controls that address at *some* provider into the account). Here an attacker makes an
//! account at the upstream provider with the victim's address (the provider does not check
//! it) and signs in with it downstream: the identity is unknown and the address is the
//! victim's, so it is refused, with no session and nothing linked. Linking needs the victim to
//! be signed in to their own account first (`upstream.rs`).

use crate::browser::Browser;
use crate::common::*;
use crate::upstream::pair;

#[actix_web::test]
async fn an_upstream_identity_with_the_victims_address_does_not_get_the_account() {
    let p = pair(TestDb::sqlite(), TestDb::sqlite()).await;
    crate::api_auth::signup(&p.down, "ada@example.com", "Ada").await;
    // The attacker's account at the provider, with the victim's address, unverified.
    crate::api_auth::signup(&p.up, "ADA@example.com", "Not Ada").await;
    let victim = {
        let mut conn = p.down_db.store().conn().expect("conn");
        accounts::find_user_by_email(&mut conn, "ada@example.com")
            .expect("find")
            .expect("ada")
    };

    let browser = Browser::start().await;
    browser.goto(&p.down.url("/login")).await;
    browser.click("#upstream-corp").await;
    browser.wait_for_text("Sign in").await;
    browser.type_into("#email", "ADA@example.com").await;
    browser.type_into("#password", "correct horse").await;
    browser
        .click("form[action='/login'] button[type=submit]")
        .await;
    browser.wait_for_text("Allow").await;
    browser.click("button[value=allow]").await;
    let page = browser
        .wait_for_text("An account with this address exists")
        .await;
    assert!(page.contains("Error 409"), "{page}");
    assert!(page.contains("Sign in to that account with its password, then link Corp ID"));
    browser.screenshot("accounts-upstream-refused").await;

    // No session: the account page sends the browser to sign in.
    browser.goto(&p.down.url("/account")).await;
    browser.wait_for_path("/login?return_to=/account").await;
    let mut conn = p.down_db.store().conn().expect("conn");
    assert!(
        accounts::upstream_identities(&mut conn, &victim.id)
            .expect("identities")
            .is_empty()
    );
    assert_eq!(accounts::list_users(&mut conn).expect("users").len(), 1);
}
