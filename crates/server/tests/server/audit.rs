//! The audit log: what is recorded, that no secret is, and who may read it
//! (`GET /api/v1/organizations/{org}/audit`, `portcullis audit`).

use std::time::Duration;

use serde_json::{Value, json};

use crate::api_auth::signup;
use crate::api_orgs::send;
use crate::common::*;

/// Every page of the organization's audit log, following `nextCursor`.
async fn all_pages(server: &TestServer, org: &str, token: &str, limit: usize) -> Vec<Value> {
    let mut events = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let mut path = format!("/api/v1/organizations/{org}/audit?limit={limit}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let res = send(server, reqwest::Method::GET, &path, token, None).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["cache-control"], "no-store");
        let page = json_of(res).await;
        let data = page["data"].as_array().expect("data").clone();
        assert!(data.len() <= limit);
        events.extend(data);
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return events,
        }
    }
    panic!("more than 100 pages");
}

on_both_backends! {
    async fn events_are_recorded_without_secrets_and_owners_page_through_them(db) {
        let server = TestServer::start(&db);
        let ada = signup(&server, "ada@example.com", "Ada").await;
        let ada_t = ada["token"].as_str().expect("token").to_owned();
        let org = ada["organization"]["id"].as_str().expect("org").to_owned();

        // Sign-in: once wrong, once right.
        let res = server.post_json("/api/v1/auth/login", &json!({ "email": "ada@example.com", "password": "wrong password" })).await;
        assert_eq!(res.status(), 401);
        let res = server.post_json("/api/v1/auth/login", &json!({ "email": "ada@example.com", "password": "correct horse" })).await;
        assert_eq!(res.status(), 200);
        let login = json_of(res).await;

        // A key: created, rotated, revoked.
        let key = json_of(send(&server, reqwest::Method::POST, &format!("/api/v1/organizations/{org}/api-keys"), &ada_t, Some(json!({ "name": "ci", "scopes": ["org:read"] }))).await).await;
        let key_id = key["id"].as_str().expect("id").to_owned();
        let rotated = json_of(send(&server, reqwest::Method::POST, &format!("/api/v1/organizations/{org}/api-keys/{key_id}/rotate"), &ada_t, None).await).await;
        let res = send(&server, reqwest::Method::DELETE, &format!("/api/v1/organizations/{org}/api-keys/{key_id}"), &ada_t, None).await;
        assert!(res.status().is_success(), "{}", res.status());

        // A member joins by invite, is promoted to admin.
        let invite = json_of(send(&server, reqwest::Method::POST, &format!("/api/v1/organizations/{org}/invites"), &ada_t, Some(json!({ "email": "bob@example.com" }))).await).await;
        let accepted = server.post_json(&format!("/api/v1/invites/{}/accept", invite["id"].as_str().expect("id")), &json!({ "token": invite["token"], "name": "Bob", "password": "bob's password" })).await;
        assert_eq!(accepted.status(), 200);
        let bob = json_of(accepted).await;
        let bob_id = bob["user"]["id"].as_str().expect("bob").to_owned();
        let bob_t = bob["token"].as_str().expect("token").to_owned();
        let res = send(&server, reqwest::Method::PATCH, &format!("/api/v1/organizations/{org}/members/{bob_id}"), &ada_t, Some(json!({ "role": "admin" }))).await;
        assert_eq!(res.status(), 200);

        // A client registers itself and gets a token.
        let reg = json_of(server.post_json("/oauth2/register", &json!({ "client_name": "svc", "grant_types": ["client_credentials"], "response_types": [], "redirect_uris": [] })).await).await;
        let (cid, csecret) = (reg["client_id"].as_str().expect("id"), reg["client_secret"].as_str().expect("secret"));
        let res = server.post_form("/oauth2/token", Some((cid, csecret)), &[("grant_type", "client_credentials")]).await;
        assert_eq!(res.status(), 200);
        let access = json_of(res).await["access_token"].as_str().expect("token").to_owned();
        let res = server.post_form("/oauth2/token", Some((cid, "not-the-secret")), &[("grant_type", "client_credentials")]).await;
        assert_eq!(res.status(), 401);

        // The owner pages through the organization's log, two at a time.
        let events = all_pages(&server, &org, &ada_t, 2).await;
        let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().expect("kind")).collect();
        for kind in ["signup", "login.failed", "login.succeeded", "api_key.created", "api_key.rotated", "api_key.revoked", "invite.created", "invite.accepted", "member.role_changed"] {
            assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
        }
        let ids: std::collections::HashSet<&str> = events.iter().map(|e| e["id"].as_str().expect("id")).collect();
        assert_eq!(ids.len(), events.len(), "no event twice across pages");
        let times: Vec<i64> = events.iter().map(|e| e["occurredAt"].as_i64().expect("time")).collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
        assert_eq!(all_pages(&server, &org, &ada_t, 200).await.len(), events.len(), "page size does not change the whole");
        let failed = events.iter().find(|e| e["kind"] == "login.failed").expect("failed login");
        assert_eq!(failed["outcome"], "failure");
        assert_eq!(failed["actor"], ada["user"]["id"]);
        assert_eq!(failed["ip"], "127.0.0.1");
        let created = events.iter().find(|e| e["kind"] == "api_key.created").expect("created");
        assert_eq!(created["organizationId"], org.as_str());
        assert_eq!(created["outcome"], "success");
        assert_eq!(created["detail"]["key_id"], key_id.as_str());

        // Only owners read it: Bob is an admin.
        let res = send(&server, reqwest::Method::GET, &format!("/api/v1/organizations/{org}/audit"), &bob_t, None).await;
        assert_eq!(res.status(), 403);
        let res = server.http.get(server.url(&format!("/api/v1/organizations/{org}/audit"))).send().await.expect("request");
        assert_eq!(res.status(), 401);
        for bad in ["limit=0", "limit=201", "cursor=nonsense", "cursor=1.a%20b"] {
            let res = send(&server, reqwest::Method::GET, &format!("/api/v1/organizations/{org}/audit?{bad}"), &ada_t, None).await;
            assert_eq!(res.status(), 400, "{bad}");
        }

        // Operators see everything in the store, token issuance included (written in batches
        // by the background writer: wait for it).
        let mut conn = db.store().conn().expect("conn");
        let mut issued = Vec::new();
        for _ in 0..100 {
            issued = store::audit::list(&mut conn, &store::audit::Filter { kind: Some("token.issued"), ..Default::default() }, 100).expect("list");
            if issued.iter().any(|e| e.actor.as_deref() == Some(cid)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let cc = issued.iter().find(|e| e.actor.as_deref() == Some(cid)).expect("client credentials token event");
        let detail: Value = serde_json::from_str(&cc.detail).expect("json");
        assert_eq!(detail["grant"], "client_credentials");
        assert_eq!(detail["client_id"], cid);
        let mut failed_auth = Vec::new();
        for _ in 0..100 {
            failed_auth = store::audit::list(&mut conn, &store::audit::Filter { kind: Some("client.auth_failed"), ..Default::default() }, 10).expect("list");
            if failed_auth.iter().any(|e| e.actor.as_deref() == Some(cid)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let failed_auth = failed_auth.iter().find(|e| e.actor.as_deref() == Some(cid)).expect("client authentication failure");
        assert_eq!(failed_auth.outcome, "failure");
        assert_eq!(failed_auth.ip.as_deref(), Some("127.0.0.1"));
        let registered = store::audit::list(&mut conn, &store::audit::Filter { kind: Some("client.registered"), ..Default::default() }, 10).expect("list");
        assert!(registered.iter().any(|e| e.actor.as_deref() == Some(cid)));

        // No secret anywhere in the log.
        let everything = store::audit::list(&mut conn, &store::audit::Filter::default(), 10_000).expect("list");
        let text = format!("{everything:?}");
        for secret in [
            "correct horse", "wrong password", "bob's password", "not-the-secret", csecret, access.as_str(),
            key["key"].as_str().expect("key"), rotated["key"].as_str().expect("key"),
            invite["token"].as_str().expect("invite token"), ada_t.as_str(), bob_t.as_str(),
            login["token"].as_str().expect("t"), login["refreshToken"].as_str().expect("r"),
            ada["refreshToken"].as_str().expect("r"),
        ] {
            assert!(!text.contains(secret), "a secret is in the audit log");
        }
    }
}
