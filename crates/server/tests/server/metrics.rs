//! `/metrics`: the business counters move when the server does what they count, and the pool
//! and mail gauges are there. Counters are per process and the tests run side by side, so each
//! reads a counter before and after its own action.

use serde_json::json;

use crate::api_auth::signup;
use crate::common::*;

async fn metrics(server: &TestServer) -> String {
    let res = server.get("/metrics").await;
    assert_eq!(res.status(), 200);
    res.text().await.expect("text")
}

/// The value of one series (name with its labels), or 0 when absent.
fn value(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

on_both_backends! {
    async fn sign_ins_tokens_and_refresh_reuse_are_counted(db) {
        let server = TestServer::start(&db);
        let ok = r#"portcullis_sign_ins_total{method="json",outcome="success"}"#;
        let failed = r#"portcullis_sign_ins_total{method="json",outcome="failure"}"#;
        let reuse = "portcullis_refresh_reuse_detected_total";
        let before = metrics(&server).await;

        signup(&server, "ada@example.com", "Ada").await;
        let login = |password: &'static str| {
            let body = json!({ "email": "ada@example.com", "password": password });
            let server = &server;
            async move { server.post_json("/api/v1/auth/login", &body).await }
        };
        let first = json_of(login("correct horse").await).await;
        assert_eq!(login("wrong horse!").await.status(), 401);
        let r1 = first["refreshToken"].as_str().expect("refresh").to_owned();
        let refresh = |token: String| {
            let body = json!({ "refreshToken": token });
            let server = &server;
            async move { server.post_json("/api/v1/auth/refresh", &body).await }
        };
        assert_eq!(refresh(r1.clone()).await.status(), 200);
        assert_eq!(refresh(r1).await.status(), 401, "reused");

        let after = metrics(&server).await;
        assert!(value(&after, ok) > value(&before, ok), "{after}");
        assert!(value(&after, failed) > value(&before, failed), "{after}");
        assert!(value(&after, reuse) > value(&before, reuse), "{after}");
    }

    async fn tokens_are_counted_by_grant_and_client_type_and_cache_hits_are_seen(db) {
        let server = TestServer::start(&db);
        let client = json_of(
            server
                .post_json("/oauth2/register", &json!({ "grant_types": ["client_credentials"] }))
                .await,
        )
        .await;
        let (id, secret) = (
            client["client_id"].as_str().expect("id").to_owned(),
            client["client_secret"].as_str().expect("secret").to_owned(),
        );
        let issued =
            r#"portcullis_tokens_issued_total{grant="client_credentials",client_type="confidential"}"#;
        let hits = r#"portcullis_cache_hits_total{cache="client"}"#;
        let before = metrics(&server).await;
        for _ in 0..2 {
            let res = server
                .http
                .post(server.url("/oauth2/token"))
                .basic_auth(&id, Some(&secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .expect("token");
            assert_eq!(res.status(), 200);
        }
        let after = metrics(&server).await;
        assert!(value(&after, issued) >= value(&before, issued) + 2, "{after}");
        assert!(value(&after, hits) > value(&before, hits), "the second request hit: {after}");
        // Every label set is listed, moved or not; no client id is a label.
        assert!(after.contains(r#"portcullis_tokens_issued_total{grant="refresh_token",client_type="public"} "#));
        assert!(!after.contains(&id), "a client id became a label");
    }

    async fn rate_limit_refusals_are_counted_by_limit(db) {
        let server = TestServer::start_with(&db, |s| s.rate_limits.registration = 1);
        let limited = r#"portcullis_rate_limited_total{limit="registration"}"#;
        let before = metrics(&server).await;
        let body = json!({ "grant_types": ["client_credentials"] });
        assert_eq!(server.post_json("/oauth2/register", &body).await.status(), 201);
        assert_eq!(server.post_json("/oauth2/register", &body).await.status(), 429);
        let after = metrics(&server).await;
        assert!(value(&after, limited) > value(&before, limited), "{after}");
    }

    async fn the_pool_and_the_mail_queue_are_gauges(db) {
        let server = TestServer::start(&db);
        let text = metrics(&server).await;
        for name in [
            "portcullis_db_pool_in_use",
            "portcullis_db_pool_waiting",
            "portcullis_db_pool_idle",
            "portcullis_mail_pending",
            "portcullis_mail_sent_total",
            "portcullis_mail_failed_total",
        ] {
            assert!(text.contains(&format!("\n{name} ")), "{name} missing: {text}");
        }
        assert!(value(&text, "portcullis_db_pool_max") >= 1, "{text}");
        assert!(text.contains("# TYPE portcullis_db_pool_in_use gauge"));
        let sent = value(&text, "portcullis_mail_sent_total");
        // A sign-up sends a verification letter: the sent counter moves once it is out.
        signup(&server, "mail@example.com", "Mail").await;
        server.wait_for_mail(1).await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let text = metrics(&server).await;
            if value(&text, "portcullis_mail_sent_total") > sent {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "mail not counted: {text}");
            actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
