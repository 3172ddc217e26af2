//! Replay of authorization codes and refresh tokens (RFC 6749 §4.1.2, §10.5; RFC 9700 §4.14):
//! a code works once, and its second use revokes everything the first one issued; a refresh
//! token works once, and its second use revokes its whole family, the newest tokens included.

use serde_json::{Value, json};

use crate::api_auth::{get_as, signup};
use crate::authorize_errors::{Setup, VERIFIER, code_for, exchange, id, oauth_error, setup};
use crate::common::*;
use crate::token::service_client;

/// A resource server's view of an access token: RFC 7662 introspection.
async fn introspect(s: &Setup, rs: &(String, String), token: &str) -> Value {
    let res = s
        .server
        .post_form(
            "/oauth2/introspect",
            Some((&rs.0, &rs.1)),
            &[("token", token)],
        )
        .await;
    assert_eq!(res.status(), 200);
    json_of(res).await
}

async fn refresh(s: &Setup, token: &str) -> reqwest::Response {
    s.server
        .post_form(
            "/oauth2/token",
            None,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", token),
                ("client_id", id(&s.public)),
            ],
        )
        .await
}

async fn userinfo_status(s: &Setup, token: &str) -> u16 {
    s.server
        .http
        .get(s.server.url("/oauth2/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .expect("userinfo")
        .status()
        .as_u16()
}

fn field(v: &Value, name: &str) -> String {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {v}"))
        .to_owned()
}

fn audit_kinds(db: &TestDb) -> Vec<String> {
    let mut conn = db.store().conn().expect("conn");
    store::audit::recent(&mut conn, 100)
        .expect("audit")
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

on_both_backends! {
    async fn a_replayed_code_is_refused_and_revokes_what_it_issued(db) {
        let s = setup(&db).await;
        let rs = service_client(&s.server, "client_secret_basic").await;
        let code = code_for(&s, "openid email").await;
        let first = json_of(exchange(&s, id(&s.public), &code, Some(VERIFIER)).await).await;
        let (a1, r1) = (field(&first, "access_token"), field(&first, "refresh_token"));
        assert_eq!(introspect(&s, &rs, &a1).await["active"], true, "control: live before the replay");
        // The client goes on refreshing before the replay happens.
        let second = json_of(refresh(&s, &r1).await).await;
        let (a2, r2) = (field(&second, "access_token"), field(&second, "refresh_token"));
        assert_eq!(introspect(&s, &rs, &a2).await["active"], true);

        // The attacker (or a confused client) exchanges the same code again.
        assert_eq!(oauth_error(exchange(&s, id(&s.public), &code, Some(VERIFIER)).await).await, "invalid_grant");
        for access in [&a1, &a2] {
            assert_eq!(introspect(&s, &rs, access).await, json!({ "active": false }));
            assert_eq!(userinfo_status(&s, access).await, 401);
        }
        assert_eq!(oauth_error(refresh(&s, &r2).await).await, "invalid_grant", "the live refresh token died");
        assert_eq!(oauth_error(refresh(&s, &r1).await).await, "invalid_grant");
        assert!(audit_kinds(&db).iter().any(|k| k == "authorization_code.replayed"));
        // A third attempt is refused too.
        assert_eq!(oauth_error(exchange(&s, id(&s.public), &code, Some(VERIFIER)).await).await, "invalid_grant");
    }

    async fn a_replayed_refresh_token_revokes_its_whole_family(db) {
        let s = setup(&db).await;
        let rs = service_client(&s.server, "client_secret_basic").await;
        let tokens = json_of(exchange(&s, id(&s.public), &code_for(&s, "openid").await, Some(VERIFIER)).await).await;
        // Another family of the same user and client, which must survive.
        let bystander = json_of(exchange(&s, id(&s.public), &code_for(&s, "openid").await, Some(VERIFIER)).await).await;
        let r1 = field(&tokens, "refresh_token");
        let step2 = json_of(refresh(&s, &r1).await).await;
        let (a2, r2) = (field(&step2, "access_token"), field(&step2, "refresh_token"));
        let step3 = json_of(refresh(&s, &r2).await).await;
        let (a3, r3) = (field(&step3, "access_token"), field(&step3, "refresh_token"));
        assert_eq!(introspect(&s, &rs, &a3).await["active"], true, "control");

        // The stolen first token is replayed.
        assert_eq!(oauth_error(refresh(&s, &r1).await).await, "invalid_grant");
        assert_eq!(oauth_error(refresh(&s, &r3).await).await, "invalid_grant", "the newest token is revoked");
        assert_eq!(oauth_error(refresh(&s, &r2).await).await, "invalid_grant");
        for access in [&a2, &a3] {
            assert_eq!(introspect(&s, &rs, access).await, json!({ "active": false }));
            assert_eq!(userinfo_status(&s, access).await, 401);
        }
        assert!(audit_kinds(&db).iter().any(|k| k == "refresh_family.revoked"));
        // Only that family: the other one still rotates.
        let res = refresh(&s, &field(&bystander, "refresh_token")).await;
        assert_eq!(res.status(), 200, "another family is untouched");
        assert_eq!(introspect(&s, &rs, &field(&bystander, "access_token")).await["active"], true);
    }

    async fn a_replayed_first_party_refresh_token_revokes_its_family(db) {
        let server = TestServer::start(&db);
        let first = signup(&server, "ada@example.com", "Ada").await;
        let r1 = field(&first, "refreshToken");
        let rotate = |token: String| {
            let server = &server;
            async move { server.post_json("/api/v1/auth/refresh", &json!({ "refreshToken": token })).await }
        };
        let second = json_of(rotate(r1.clone()).await).await;
        let third = json_of(rotate(field(&second, "refreshToken")).await).await;
        let (a3, r3) = (field(&third, "token"), field(&third, "refreshToken"));
        assert_eq!(get_as(&server, "/api/v1/me", &a3).await.status(), 200, "control");
        let res = rotate(r1).await;
        assert_eq!(res.status(), 401);
        assert_eq!(json_of(res).await["error"]["code"], "invalid_token");
        assert_eq!(rotate(r3).await.status(), 401, "the newest refresh token is revoked");
        assert_eq!(get_as(&server, "/api/v1/me", &a3).await.status(), 401, "and its access token");
    }
}
