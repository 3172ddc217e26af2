//! The OpenAPI document of `/api/v1` (`GET /api/v1/openapi.json`), and the API's edges it
//! describes: wrong methods (405 with `Allow`), unknown paths, unreadable and oversized bodies,
//! camelCase field names. Every `/api/` answer of the whole suite is also checked against the
//! document by the test server (`common::AnswerCheck`); the tests here show that check fails
//! on drift.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use server::state::ApiAnswer;

use crate::api_auth::signup;
use crate::common::*;

/// Every path of the route table with its parameters filled in.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| if seg.starts_with('{') { "x" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

fn method(m: &str) -> reqwest::Method {
    reqwest::Method::from_bytes(m.to_ascii_uppercase().as_bytes()).expect("method")
}

#[actix_web::test]
async fn anyone_reads_the_document_and_it_is_openapi_3_1() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let res = server.get("/api/v1/openapi.json").await;
    assert_eq!(res.status(), 200);
    let doc = json_of(res).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(&doc, server::openapi_document());
    // The error shape is a schema of its own, and every error answer refers to it.
    let error = &doc["components"]["schemas"]["ApiError"];
    assert_eq!(error["required"], json!(["error"]), "{error}");
    let login = &doc["paths"]["/api/v1/auth/login"]["post"];
    assert_eq!(
        login["responses"]["401"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ApiError"
    );
    assert_eq!(
        login["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/LoginBody"
    );
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["apiKey"]["name"], "x-api-key");
}

/// The document and the route table name the same routes, each served: a route of the table
/// missing from the document, or a documented route no handler serves, fails here.
#[actix_web::test]
async fn the_document_names_every_served_route_and_no_other() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let doc = server::openapi_document();
    let table: BTreeSet<(String, String)> = server::API_ROUTES
        .iter()
        .map(|r| (r.method.to_ascii_lowercase(), r.path.to_owned()))
        .collect();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in item.as_object().expect("item").keys() {
            documented.insert((m.clone(), path.clone()));
        }
    }
    assert_eq!(table, documented);
    for (m, path) in &documented {
        // Without credentials or a body: refused or answered, but never "no such route".
        let res = server
            .http
            .request(method(m), server.url(&concrete(path)))
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        assert!(
            status != 404 && status != 405,
            "{m} {path} is documented but answers {status}"
        );
    }
}

#[actix_web::test]
async fn wrong_methods_under_api_answer_405_with_allow_and_unknown_paths_404() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    for (m, path, allow) in [
        ("PUT", "/api/v1/me", "GET, PATCH, DELETE"),
        ("GET", "/api/v1/auth/login", "POST"),
        ("DELETE", "/api/v1/organizations", "POST, GET"),
        ("POST", "/api/v1/organizations/org_x/usage", "GET"),
        (
            "PUT",
            "/api/v1/organizations/org_x/api-keys/key_x",
            "GET, PATCH, DELETE",
        ),
    ] {
        let res = server
            .http
            .request(method(m), server.url(path))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 405, "{m} {path}");
        assert_eq!(
            res.headers().get("allow").and_then(|v| v.to_str().ok()),
            Some(allow),
            "{m} {path}"
        );
        assert_eq!(
            res.headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
        let body = json_of(res).await;
        assert_eq!(body["error"]["code"], "method_not_allowed", "{m} {path}");
        assert_eq!(body["error"]["type"], "invalid_request_error");
    }
    for path in ["/api/v1/nothing", "/api/v2/me", "/api", "/api/v1/me/extra"] {
        let res = server.get(path).await;
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(json_of(res).await["error"]["code"], "not_found", "{path}");
    }
}

/// Oversized bodies at the OAuth endpoints answer RFC 6749's shape (`invalid_request`, never
/// cached), not actix's plain text; under `/api/v1`, the JSON error shape.
#[actix_web::test]
async fn attack_oversized_bodies_get_each_surfaces_error_shape() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let big = "a".repeat(200 * 1024);
    let form = "application/x-www-form-urlencoded";
    for (path, content_type, body) in [
        (
            "/oauth2/token",
            form,
            format!("grant_type=client_credentials&x={big}"),
        ),
        ("/oauth2/introspect", form, format!("token={big}")),
        ("/oauth2/revoke", form, format!("token={big}")),
        ("/Token", form, format!("grant_type=password&x={big}")),
        (
            "/oauth2/register",
            "application/json",
            format!("{{\"client_name\":\"{big}\"}}"),
        ),
    ] {
        let res = server
            .http
            .post(server.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 413, "{path}");
        let header = |name| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(
            header("cache-control").as_deref(),
            Some("no-store"),
            "{path}"
        );
        assert_eq!(
            header("content-type").as_deref(),
            Some("application/json"),
            "{path}"
        );
        let body = json_of(res).await;
        assert_eq!(body["error"], "invalid_request", "{path}: {body}");
        assert!(body["error_description"].is_string(), "{path}: {body}");
    }
    let res = server
        .http
        .post(server.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(format!("{{\"email\":\"{big}\"}}"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 413);
    assert_eq!(json_of(res).await["error"]["code"], "payload_too_large");
}

/// Malformed JSON, a wrong content type and a body of the wrong shape under `/api/v1`: the JSON
/// error shape, never actix's text (and never a body taken as absent).
#[actix_web::test]
async fn unreadable_bodies_under_api_get_the_json_error_shape() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let ada = signup(&server, "ada@example.com", "Ada").await;
    let token = ada["token"].as_str().expect("token");
    let org = ada["organization"]["id"].as_str().expect("org");
    let key = server
        .http
        .post(server.url(&format!("/api/v1/organizations/{org}/api-keys")))
        .bearer_auth(token)
        .json(&json!({ "name": "ci", "scopes": ["org:read"] }))
        .send()
        .await
        .expect("request");
    let key_id = json_of(key).await["id"].as_str().expect("id").to_owned();
    let rotate = format!("/api/v1/organizations/{org}/api-keys/{key_id}/rotate");
    for (path, content_type, body, status, code) in [
        (
            "/api/v1/auth/login",
            "application/json",
            "{\"email\":",
            400,
            "invalid_json",
        ),
        (
            "/api/v1/auth/login",
            "text/plain",
            "{}",
            415,
            "unsupported_media_type",
        ),
        (
            "/api/v1/auth/login",
            "application/json",
            "[1,2]",
            400,
            "invalid_json",
        ),
        // Rotating takes no body or its options: a broken one is refused, not read as none.
        (
            &rotate,
            "application/json",
            "{\"overlapSeconds\":",
            400,
            "invalid_json",
        ),
        (
            &rotate,
            "application/json",
            "{\"overlapSeconds\":\"soon\"}",
            400,
            "invalid_json",
        ),
    ] {
        let res = server
            .http
            .post(server.url(path))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), status, "{path} {body}");
        assert_eq!(json_of(res).await["error"]["code"], code, "{path} {body}");
    }
    let res = server
        .http
        .post(server.url(&rotate))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200, "rotating without a body");
}

// The agent id of an authorization check is `agentId`, and the first name, `agent_id`, still
// works; both at once is refused.
on_both_backends! {
    async fn the_agent_id_is_accepted_as_agent_id_and_agentid(db) {
        let server = TestServer::start(&db);
        let ada = signup(&server, "ada@example.com", "Ada").await;
        let token = ada["token"].as_str().expect("token");
        let org = ada["organization"]["id"].as_str().expect("org");
        let agent = server
            .http
            .post(server.url(&format!("/api/v1/organizations/{org}/agents")))
            .bearer_auth(token)
            .json(&json!({ "name": "bot", "scopes": ["openai:chat:*"] }))
            .send()
            .await
            .expect("request");
        assert_eq!(agent.status(), 201);
        let agent_id = json_of(agent).await["id"].as_str().expect("id").to_owned();
        let ask = |body: Value| {
            server
                .http
                .post(server.url("/api/v1/authorize-request"))
                .bearer_auth(token)
                .json(&body)
                .send()
        };
        for name in ["agentId", "agent_id"] {
            let mut body = json!({ "service": "openai", "endpoint": "/v1/chat/completions" });
            body[name] = json!(agent_id);
            let res = ask(body).await.expect("request");
            assert_eq!(res.status(), 200, "{name}");
            let answer = json_of(res).await;
            assert_eq!(answer["agentId"], agent_id.as_str(), "{name}");
            assert_eq!(answer["allowed"], true);
        }
        let res = ask(json!({ "agentId": agent_id, "agent_id": agent_id, "service": "openai", "endpoint": "/v1/chat/completions" }))
            .await
            .expect("request");
        assert_eq!(res.status(), 400);
        let res = ask(json!({ "service": "openai", "endpoint": "/v1/chat/completions" }))
            .await
            .expect("request");
        assert_eq!(res.status(), 400);
        assert_eq!(json_of(res).await["error"]["param"], "agentId");
    }
}

/// The check every test server runs on every `/api/` answer fails on drift: a field renamed
/// (or added) in an answer and not in the document, a status the route does not list, a body
/// on a bodiless answer, an error not in the error shape, a 405 whose `Allow` is wrong.
#[actix_web::test]
async fn the_answer_check_fails_on_drift() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db);
    let ada = signup(&server, "ada@example.com", "Ada").await;
    let token = ada["token"].as_str().expect("token");
    let me = crate::api_auth::get_as(&server, "/api/v1/me", token).await;
    assert_eq!(me.status(), 200);
    let me = json_of(me).await;
    let check = AnswerCheck::get();
    let answer = |pattern: &'static str, method: &'static str, status: u16, body: &Value| {
        let bytes = serde_json::to_vec(body).expect("json");
        let allow = None;
        let a = ApiAnswer {
            method,
            path: pattern,
            pattern: Some(pattern),
            status,
            content_type: Some("application/json"),
            allow,
            body: &bytes,
        };
        check.check(&a)
    };
    assert_eq!(answer("/api/v1/me", "GET", 200, &me), Ok(()));
    // A field renamed in the code but not in the document.
    let mut renamed = me.clone();
    let verified = renamed
        .as_object_mut()
        .expect("object")
        .remove("emailVerified")
        .expect("emailVerified");
    renamed["email_verified"] = verified;
    assert!(answer("/api/v1/me", "GET", 200, &renamed).is_err());
    // An optional field renamed is caught too: no property the document does not name.
    let mut extra = me.clone();
    extra["organisations"] = json!([]);
    assert!(answer("/api/v1/me", "GET", 200, &extra).is_err());
    // A field of the wrong type.
    let mut wrong = me.clone();
    wrong["createdAt"] = json!("yesterday");
    assert!(answer("/api/v1/me", "GET", 200, &wrong).is_err());
    // A status the route does not list, and an error not in the error shape.
    assert!(answer("/api/v1/me", "GET", 201, &me).is_err());
    let error =
        json!({ "error": { "code": "x", "message": "y", "type": "invalid_request_error" } });
    assert_eq!(answer("/api/v1/me", "GET", 401, &error), Ok(()));
    assert!(answer("/api/v1/me", "GET", 401, &json!({ "error": "x" })).is_err());
    assert!(
        answer(
            "/api/v1/me",
            "GET",
            401,
            &json!({ "error": { "code": "x", "message": "y", "type": "oops" } })
        )
        .is_err()
    );
    // A body where the document has none (204).
    assert!(answer("/api/v1/auth/logout", "POST", 204, &json!({})).is_err());
    // A 405 must name the documented methods.
    let bytes = serde_json::to_vec(&error).expect("json");
    let wrong_method = |allow| ApiAnswer {
        method: "PUT",
        path: "/api/v1/me",
        pattern: Some("/api/v1/me"),
        status: 405,
        content_type: Some("application/json"),
        allow: Some(allow),
        body: &bytes,
    };
    assert_eq!(check.check(&wrong_method("GET, PATCH, DELETE")), Ok(()));
    assert!(check.check(&wrong_method("GET")).is_err());
}
