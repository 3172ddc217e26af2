//! `/api/v1/organizations…` and `POST /api/v1/invites/{id}/accept`.

use serde_json::{Value, json};

use crate::api_auth::{get_as, signup};
use crate::common::*;

pub(crate) async fn send(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = server
        .http
        .request(method, server.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.expect("request")
}

fn token(v: &Value) -> String {
    v["token"].as_str().expect("token").to_owned()
}

on_both_backends! {
    async fn organizations_members_and_the_last_owner_rule(db) {
        let server = TestServer::start(&db);
        let ada = signup(&server, "ada@example.com", "Ada").await;
        let bob = signup(&server, "bob@example.com", "Bob").await;
        let (ada_t, bob_t) = (token(&ada), token(&bob));
        let org = json_of(send(&server, reqwest::Method::POST, "/api/v1/organizations", &ada_t, Some(json!({ "name": "Engines" }))).await).await;
        let org_id = org["id"].as_str().expect("id").to_owned();
        assert_eq!(org["role"], "owner");
        let list = json_of(get_as(&server, "/api/v1/organizations", &ada_t).await).await;
        assert_eq!(list["data"].as_array().map(Vec::len), Some(2), "the sign-up org and this one");

        // Bob is not a member: 403 on everything, and on an org that does not exist.
        for path in [format!("/api/v1/organizations/{org_id}"), format!("/api/v1/organizations/{org_id}/members"), "/api/v1/organizations/org_nothing".into()] {
            let res = get_as(&server, &path, &bob_t).await;
            assert_eq!(res.status(), 403, "{path}");
            let err = json_of(res).await;
            assert_eq!((err["error"]["code"].as_str(), err["error"]["type"].as_str()), (Some("forbidden"), Some("authorization_error")));
        }
        let res = send(&server, reqwest::Method::POST, &format!("/api/v1/organizations/{org_id}/invites"), &bob_t, Some(json!({ "email": "x@example.com" }))).await;
        assert_eq!(res.status(), 403);
        assert_eq!(server.get(&format!("/api/v1/organizations/{org_id}")).await.status(), 401);

        // Invite Bob as admin; he accepts signed in.
        let invite = json_of(send(&server, reqwest::Method::POST, &format!("/api/v1/organizations/{org_id}/invites"), &ada_t, Some(json!({ "email": "BOB@example.com", "role": "admin" }))).await).await;
        assert_eq!(invite["role"], "admin");
        let accepted = send(&server, reqwest::Method::POST, &format!("/api/v1/invites/{}/accept", invite["id"].as_str().expect("id")), &bob_t, Some(json!({ "token": invite["token"] }))).await;
        assert_eq!(accepted.status(), 200);
        let accepted = json_of(accepted).await;
        assert_eq!(accepted["organization"]["role"], "admin");
        assert!(accepted["refreshToken"].is_string(), "answers like login");
        let members = json_of(get_as(&server, &format!("/api/v1/organizations/{org_id}/members"), &bob_t).await).await;
        assert_eq!(members["data"].as_array().map(Vec::len), Some(2));

        let ada_id = ada["user"]["id"].as_str().expect("id").to_owned();
        let bob_id = bob["user"]["id"].as_str().expect("id").to_owned();
        let member_path = |u: &str| format!("/api/v1/organizations/{org_id}/members/{u}");
        // An admin cannot demote the owner; the last owner cannot step down or leave.
        let res = send(&server, reqwest::Method::PATCH, &member_path(&ada_id), &bob_t, Some(json!({ "role": "member" }))).await;
        assert_eq!(res.status(), 403);
        let res = send(&server, reqwest::Method::PATCH, &member_path(&ada_id), &ada_t, Some(json!({ "role": "admin" }))).await;
        assert_eq!(res.status(), 409);
        assert_eq!(json_of(res).await["error"]["code"], "last_owner");
        let res = send(&server, reqwest::Method::DELETE, &member_path(&ada_id), &ada_t, None).await;
        assert_eq!(res.status(), 409);
        let res = send(&server, reqwest::Method::PATCH, &member_path(&bob_id), &ada_t, Some(json!({ "role": "superuser" }))).await;
        assert_eq!(res.status(), 400);
        assert_eq!(json_of(res).await["error"]["param"], "role");
        // Promote Bob to owner; now Ada may leave.
        let res = send(&server, reqwest::Method::PATCH, &member_path(&bob_id), &ada_t, Some(json!({ "role": "owner" }))).await;
        assert_eq!(json_of(res).await["role"], "owner");
        assert_eq!(send(&server, reqwest::Method::DELETE, &member_path(&ada_id), &ada_t, None).await.status(), 204);
        assert_eq!(get_as(&server, &format!("/api/v1/organizations/{org_id}"), &ada_t).await.status(), 403);
    }

    async fn invites_create_accounts_are_single_use_and_expire(db) {
        let server = TestServer::start(&db);
        let ada = signup(&server, "ada@example.com", "Ada").await;
        let org_id = ada["organization"]["id"].as_str().expect("org").to_owned();
        let invite_path = format!("/api/v1/organizations/{org_id}/invites");
        let invite = json_of(send(&server, reqwest::Method::POST, &invite_path, &token(&ada), Some(json!({ "email": "new@example.com" }))).await).await;
        let accept_path = format!("/api/v1/invites/{}/accept", invite["id"].as_str().expect("id"));

        let res = server.post_json(&accept_path, &json!({ "token": "wrong", "name": "New", "password": "long enough" })).await;
        assert_eq!(res.status(), 404);
        let res = server.post_json(&accept_path, &json!({ "token": invite["token"], "name": "New" })).await;
        assert_eq!(res.status(), 400);
        assert_eq!(json_of(res).await["error"]["param"], "password");
        let res = server.post_json(&accept_path, &json!({ "token": invite["token"], "name": "New", "password": "long enough" })).await;
        assert_eq!(res.status(), 200);
        let joined = json_of(res).await;
        assert_eq!(joined["user"]["email"], "new@example.com");
        assert_eq!(joined["organization"]["role"], "member");
        assert_eq!(get_as(&server, &format!("/api/v1/organizations/{org_id}"), &token(&joined)).await.status(), 200);
        let res = server.post_json(&accept_path, &json!({ "token": invite["token"], "name": "New", "password": "long enough" })).await;
        assert_eq!(res.status(), 409);
        assert_eq!(json_of(res).await["error"]["code"], "invite_used");

        let late = json_of(send(&server, reqwest::Method::POST, &invite_path, &token(&ada), Some(json!({ "email": "late@example.com" }))).await).await;
        server.clock.advance(7 * 86_400);
        let res = server.post_json(&format!("/api/v1/invites/{}/accept", late["id"].as_str().expect("id")), &json!({ "token": late["token"], "name": "Late", "password": "long enough" })).await;
        assert_eq!(res.status(), 410);
        assert_eq!(json_of(res).await["error"]["code"], "invite_expired");
    }
}
