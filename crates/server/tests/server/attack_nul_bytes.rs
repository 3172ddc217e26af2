//! A NUL byte that would reach PostgreSQL as a lookup key or a stored value ("invalid byte
//! sequence for encoding UTF8: 0x00") gets a client error, never a 500: unknown client ids,
//! an `invalid_request` redirect for other authorization parameters, 400/404 for paths.

use reqwest::Method;
use serde_json::json;

use crate::api_auth::signup;
use crate::authorize::code_client;
use crate::authorize_errors::{
    REDIRECT, VERIFIER, authorize, challenge, decide, hidden, id, jar, redirected, sign_up,
};
use crate::common::*;
use crate::token::service_client;

const NUL: &str = "x\0y";
const NUL_SEGMENT: &str = "x%00y";

on_both_backends! {
    async fn a_nul_byte_in_a_client_id_is_a_client_error(db) {
        let server = TestServer::start(&db);
        let browser = jar();
        sign_up(&server, &browser, "pat@example.com").await;
        let res = authorize(&server, &browser, &[("response_type", "code"), ("client_id", NUL), ("redirect_uri", REDIRECT)]).await;
        assert_eq!(res.status(), 400, "authorization endpoint");
        let (client, secret) = service_client(&server, "client_secret_basic").await;
        let _ = client;
        for (what, basic, form) in [
            ("token, Basic", Some((NUL, secret.as_str())), vec![("grant_type", "client_credentials")]),
            ("token, body", None, vec![("grant_type", "client_credentials"), ("client_id", NUL), ("client_secret", "x")]),
            ("token, public", None, vec![("grant_type", "authorization_code"), ("client_id", NUL), ("code", "c")]),
        ] {
            let res = server.post_form("/oauth2/token", basic, &form).await;
            assert!(res.status().is_client_error(), "{what}: {}", res.status());
        }
    }

    async fn a_nul_byte_in_a_nonce_is_refused_or_kept(db) {
        let server = TestServer::start(&db);
        let browser = jar();
        sign_up(&server, &browser, "pat@example.com").await;
        let client = code_client(&server, true, REDIRECT).await;
        let ch = challenge(VERIFIER);
        let params = [("response_type", "code"), ("client_id", id(&client)), ("redirect_uri", REDIRECT), ("scope", "openid"), ("code_challenge", ch.as_str()), ("code_challenge_method", "S256"), ("nonce", NUL)];
        let res = decide(&server, &browser, authorize(&server, &browser, &params).await, "allow").await;
        assert_eq!(res.status(), 303, "an answer at the redirect URI, not {}", res.status());
        let got = redirected(&res);
        if let Some(code) = got.get("code") {
            let tokens = json_of(server.post_form("/oauth2/token", None, &[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT), ("client_id", id(&client)), ("code_verifier", VERIFIER)]).await).await;
            let claims = crate::attack_code_injection::claims_of(tokens["id_token"].as_str().expect("id_token"));
            assert_eq!(claims["nonce"], NUL);
        } else {
            assert_eq!(got["error"], "invalid_request");
        }
    }

    async fn a_nul_byte_in_an_identifier_in_a_path_is_a_client_error(db) {
        let server = TestServer::start(&db);
        let ada = signup(&server, "ada@example.com", "Ada").await;
        let token = ada["token"].as_str().expect("token").to_owned();
        let org = ada["organization"]["id"].as_str().expect("org").to_owned();
        for (method, path) in [
            (Method::GET, format!("/api/v1/organizations/{NUL_SEGMENT}")),
            (Method::GET, format!("/api/v1/organizations/{NUL_SEGMENT}/members")),
            (Method::GET, format!("/api/v1/organizations/{org}/api-keys/{NUL_SEGMENT}")),
            (Method::DELETE, format!("/api/v1/organizations/{org}/api-keys/{NUL_SEGMENT}")),
            (Method::GET, format!("/api/v1/organizations/{org}/agents/{NUL_SEGMENT}")),
            (Method::DELETE, format!("/api/v1/organizations/{org}/members/{NUL_SEGMENT}")),
            (Method::POST, format!("/api/v1/invites/{NUL_SEGMENT}/accept")),
            (Method::GET, format!("/oauth2/register/{NUL_SEGMENT}")),
        ] {
            let res = server.http.request(method.clone(), server.url(&path)).bearer_auth(&token)
                .json(&json!({ "token": "t", "name": "x", "password": "long enough" })).send().await.expect("request");
            assert!(res.status().is_client_error(), "{method} {path}: {}", res.status());
        }
        let browser = jar();
        sign_up(&server, &browser, "pat@example.com").await;
        let csrf = hidden(&browser.get(server.url("/account")).send().await.expect("get").text().await.expect("html"), "csrf_token");
        for path in [format!("/account/sessions/{NUL_SEGMENT}/revoke"), format!("/account/apps/{NUL_SEGMENT}/revoke")] {
            let res = browser.post(server.url(&path)).form(&[("csrf_token", csrf.as_str())]).send().await.expect("post");
            assert!(res.status().as_u16() < 500, "{path}: {}", res.status());
        }
    }
}
