//! `/health`, `/health/ready`, `/metrics`, error shapes, request ids, static files.

use crate::common::*;

on_both_backends! {
    async fn health_and_readiness_answer_200(db) {
        let server = TestServer::start(&db);
        let res = server.get("/health").await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["cache-control"], "no-store");
        let body: serde_json::Value = res.json().await.expect("json");
        assert_eq!(body["status"], "ok");

        let res = server.get("/health/ready").await;
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.expect("json");
        assert_eq!(body["status"], "ready");
        let expected = match db.backend() {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        assert_eq!(body["database"], expected);
    }

    async fn readiness_is_503_once_the_database_is_gone(db) {
        let server = TestServer::start(&db);
        assert_eq!(server.get("/health/ready").await.status(), 200);
        db.destroy();
        let res = server.get("/health/ready").await;
        assert_eq!(res.status(), 503);
        let body: serde_json::Value = res.json().await.expect("json");
        assert_eq!(body["status"], "unavailable");
        // Liveness does not depend on the database.
        assert_eq!(server.get("/health").await.status(), 200);
    }

    async fn metrics_count_requests_by_route_and_status(db) {
        let server = TestServer::start(&db);
        for _ in 0..3 {
            assert_eq!(server.get("/health").await.status(), 200);
        }
        assert_eq!(server.get("/no/such/page").await.status(), 404);
        let res = server.get("/metrics").await;
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-type"].to_str().unwrap_or("").starts_with("text/plain"));
        let text = res.text().await.expect("text");
        let health = r#"route="/health",method="GET",status="200""#;
        assert!(text.contains(&format!("portcullis_http_requests_total{{{health}}} 3\n")), "{text}");
        assert!(text.contains(&format!("portcullis_http_request_duration_seconds_count{{{health}}} 3\n")), "{text}");
        assert!(text.contains(r#"portcullis_http_requests_total{route="unmatched",method="GET",status="404"} 1"#), "{text}");
        assert!(text.contains("# TYPE portcullis_http_request_duration_seconds histogram"));
    }

    async fn api_errors_are_json_and_pages_are_html(db) {
        let server = TestServer::start(&db);
        let res = server.get("/api/v1/nothing-here").await;
        assert_eq!(res.status(), 404);
        assert_eq!(res.headers()["content-type"], "application/json");
        let body: serde_json::Value = res.json().await.expect("json");
        assert_eq!(body["error"]["code"], "not_found");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));

        let res = server.get("/nothing-here").await;
        assert_eq!(res.status(), 404);
        assert!(res.headers()["content-type"].to_str().unwrap_or("").starts_with("text/html"));
        assert!(res.headers()["content-security-policy"].to_str().unwrap_or("").contains("frame-ancestors 'none'"));
        let html = res.text().await.expect("text");
        assert!(html.contains("Page not found"), "{html}");
        assert!(html.contains("/static/portcullis.css"));

        let res = server.http.post(format!("{}/health", server.base)).send().await.expect("post");
        assert_eq!(res.status(), 405);
    }
}

#[actix_web::test]
async fn request_ids_are_made_or_passed_through() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let made = server.get("/health").await;
    let id = made.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(!id.is_empty());
    let again = server.get("/health").await;
    assert_ne!(again.headers()["x-request-id"], id.as_str());
    let res = server
        .http
        .get(format!("{}/health", server.base))
        .header("x-request-id", "from-the-proxy-42")
        .send()
        .await
        .expect("request");
    assert_eq!(res.headers()["x-request-id"], "from-the-proxy-42");
}

#[actix_web::test]
async fn the_stylesheet_is_served_and_unknown_files_are_404() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let res = server.get("/static/portcullis.css").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert!(res.text().await.expect("css").contains("--accent"));
    assert_eq!(server.get("/static/../Cargo.toml").await.status(), 404);
    assert_eq!(server.get("/static/missing.js").await.status(), 404);
}
