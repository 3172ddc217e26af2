//! Revocation is immediate on the instance that makes it: an API key revoked, rotated or
//! narrowed, and a client deleted, are evicted from this instance's caches at once, although
//! the caches keep entries for 30 s here. On PostgreSQL a notice published by another instance
//! (`store::notify`) evicts them too. The two-process measurements are in `cluster.rs`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api_auth::signup;
use crate::common::*;

const CACHE: i64 = 30;

struct Org {
    server: TestServer,
    owner: String,
    org: String,
}

impl Org {
    async fn start(db: &TestDb) -> Self {
        let server = TestServer::start_with(db, |a| {
            a.api_key_cache = CACHE;
            a.client_cache = CACHE;
        });
        let ada = signup(&server, "ada@example.com", "Ada").await;
        Self {
            owner: ada["token"].as_str().expect("token").to_owned(),
            org: ada["organization"]["id"].as_str().expect("org").to_owned(),
            server,
        }
    }

    fn path(&self, rest: &str) -> String {
        format!("/api/v1/organizations/{}{rest}", self.org)
    }

    /// An owner's call; the status and JSON body.
    async fn owner(
        &self,
        method: reqwest::Method,
        rest: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .server
            .http
            .request(method, self.server.url(&self.path(rest)))
            .bearer_auth(&self.owner);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("request");
        (
            res.status().as_u16(),
            res.json().await.unwrap_or(Value::Null),
        )
    }

    async fn new_key(&self, scopes: Value) -> (String, String) {
        let (status, created) = self
            .owner(
                reqwest::Method::POST,
                "/api-keys",
                Some(json!({ "name": "ci", "scopes": scopes })),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        (
            created["id"].as_str().expect("id").to_owned(),
            created["key"].as_str().expect("key").to_owned(),
        )
    }

    /// A GET with an API key; the status.
    async fn with_key(&self, rest: &str, key: &str) -> u16 {
        let res = self
            .server
            .http
            .get(self.server.url(&self.path(rest)))
            .header("x-api-key", key)
            .send()
            .await
            .expect("request");
        res.status().as_u16()
    }
}

on_both_backends! {
    async fn attack_revoked_rotated_or_narrowed_api_key_is_refused_at_once_by_the_instance_that_changed_it(db) {
        let o = Org::start(&db).await;
        // Revoked.
        let (id, key) = o.new_key(json!(["org:read"])).await;
        assert_eq!(o.with_key("", &key).await, 200);
        let (status, _) = o.owner(reqwest::Method::DELETE, &format!("/api-keys/{id}"), None).await;
        assert_eq!(status, 200);
        assert_eq!(o.with_key("", &key).await, 401, "revoked: refused at once despite a {CACHE} s cache");
        // Rotated without overlap: the old secret is refused at once, the new one works.
        let (id, key) = o.new_key(json!(["org:read"])).await;
        assert_eq!(o.with_key("", &key).await, 200);
        let (status, rotated) = o.owner(reqwest::Method::POST, &format!("/api-keys/{id}/rotate"), None).await;
        assert_eq!(status, 200, "{rotated}");
        assert_eq!(o.with_key("", &key).await, 401, "the rotated-out secret");
        assert_eq!(o.with_key("", rotated["key"].as_str().expect("key")).await, 200);
        // Narrowed: the scope taken away stops working at once.
        let (id, key) = o.new_key(json!(["org:read", "api-keys:read"])).await;
        assert_eq!(o.with_key("/api-keys", &key).await, 200);
        let (status, _) = o.owner(reqwest::Method::PATCH, &format!("/api-keys/{id}"), Some(json!({ "scopes": ["org:read"] }))).await;
        assert_eq!(status, 200);
        assert_eq!(o.with_key("/api-keys", &key).await, 403, "the removed scope");
        assert_eq!(o.with_key("", &key).await, 200);
    }

    async fn attack_client_deleted_by_rfc7592_is_refused_at_once_by_the_instance_that_deleted_it(db) {
        let o = Org::start(&db).await;
        let http = &o.server.http;
        let reg: Value = http.post(o.server.url("/oauth2/register")).json(&json!({
            "client_name": "doomed", "grant_types": ["client_credentials"], "response_types": [], "redirect_uris": [],
        })).send().await.expect("register").json().await.expect("json");
        let id = reg["client_id"].as_str().expect("id").to_owned();
        let secret = reg["client_secret"].as_str().expect("secret").to_owned();
        let token = || http.post(o.server.url("/oauth2/token")).basic_auth(&id, Some(&secret)).form(&[("grant_type", "client_credentials")]).send();
        assert_eq!(token().await.expect("token").status(), 200);
        let res = http.delete(o.server.url(&format!("/oauth2/register/{id}"))).bearer_auth(reg["registration_access_token"].as_str().expect("rat")).send().await.expect("delete");
        assert_eq!(res.status(), 204);
        let res = token().await.expect("token");
        assert_eq!(res.status(), 401, "deleted: refused at once despite a {CACHE} s cache");
        assert_eq!(res.json::<Value>().await.expect("json")["error"], "invalid_client");
    }

    async fn a_notice_from_another_instance_evicts_the_cached_api_key(db) {
        let o = Org::start(&db).await;
        let (id, key) = o.new_key(json!(["org:read"])).await;
        assert_eq!(o.with_key("", &key).await, 200);
        // Another instance revokes it: the row changes and a notice is published.
        let mut conn = db.store().conn().expect("conn");
        apikeys::revoke_key(&mut conn, &o.org, &id, o.server.clock_now()).expect("revoke");
        store::notify::publish(&mut conn, "api_key", &id).expect("publish");
        if db.backend() == Backend::Sqlite {
            // One instance owns a SQLite file: no notices; the cache time is the bound.
            assert_eq!(o.with_key("", &key).await, 200);
            return;
        }
        let start = Instant::now();
        while o.with_key("", &key).await != 401 {
            assert!(start.elapsed() < Duration::from_secs(1), "the notice did not evict the key within 1 s");
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
