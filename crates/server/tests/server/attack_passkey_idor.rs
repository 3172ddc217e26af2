//! Insecure direct object reference (OWASP A01, broken access control) on passkeys: a passkey's
//! id is in the account page's form actions, so it is no secret. A signed-in attacker who
//! posts another user's passkey id to the rename or remove form, with a valid CSRF token of
//! their own session, finds "no such passkey" (404) and changes nothing: the victim's passkey
//! keeps its name and still exists.

use crate::authorize_errors::{hidden, jar, sign_up};
use crate::common::*;

/// The victim's passkey, put in the store as registration leaves it (the ceremony itself is
/// tested in `passkeys.rs`).
fn victims_passkey(db: &TestDb, victim_id: &str) {
    let mut conn = db.store().conn().expect("conn");
    store::passkeys::insert(
        &mut conn,
        &store::passkeys::PasskeyRow {
            id: "pk_victim".into(),
            user_id: victim_id.into(),
            credential_id: "Y3JlZGVudGlhbA".into(),
            passkey: "{}".into(),
            name: "Victim's phone".into(),
            created_at: 1,
            last_used_at: None,
        },
    )
    .expect("passkey");
}

on_both_backends! {
    async fn another_users_passkey_is_neither_renamed_nor_removed(db) {
        let server = TestServer::start_on_localhost(&db, |_| {});
        let victim = jar();
        sign_up(&server, &victim, "victim@example.com").await;
        let victim_id = {
            let mut conn = db.store().conn().expect("conn");
            accounts::find_user_by_email(&mut conn, "victim@example.com")
                .expect("find")
                .expect("victim")
                .id
        };
        victims_passkey(&db, &victim_id);

        let attacker = jar();
        sign_up(&server, &attacker, "attacker@example.com").await;
        let html = attacker.get(server.url("/account")).send().await.expect("get").text().await.expect("html");
        assert!(!html.contains("pk_victim"), "the attacker's page lists only their own");
        let csrf = hidden(&html, "csrf_token");
        for (path, form) in [
            ("/account/passkeys/pk_victim/rename", vec![("csrf_token", csrf.as_str()), ("name", "pwned")]),
            ("/account/passkeys/pk_victim/delete", vec![("csrf_token", csrf.as_str())]),
        ] {
            let res = attacker.post(server.url(path)).form(&form).send().await.expect("post");
            assert_eq!(res.status(), 404, "{path}");
            assert!(res.text().await.expect("html").contains("There is no such passkey."), "{path}");
        }

        let mut conn = db.store().conn().expect("conn");
        let kept = store::passkeys::list_for_user(&mut conn, &victim_id).expect("list");
        assert_eq!(kept.len(), 1, "still there");
        assert_eq!(kept[0].name, "Victim's phone", "not renamed");
        let victims_page = victim.get(server.url("/account")).send().await.expect("get").text().await.expect("html");
        assert!(victims_page.contains("Victim&#39;s phone"), "{victims_page}");
    }
}
