//! Mix-up attacks (RFC 9700 §4.4, RFC 9207): every authorization response, success or error,
//! by redirect or by form post, names its issuer in `iss`, once, equal to the `issuer` of the
//! discovery documents, which advertise that they do so.

use std::collections::HashMap;

use url::Url;

use crate::authorize_errors::{
    REDIRECT, Setup, VERIFIER, authorize, challenge, decide, hidden, id, jar, operator_client,
    setup,
};
use crate::common::*;

/// An authorization request's parameters.
type Params<'a> = Vec<(&'a str, &'a str)>;

/// Every parameter of a redirect to the client, repeated ones included.
fn redirect_params(res: &reqwest::Response) -> Vec<(String, String)> {
    assert_eq!(res.status(), 303, "a redirect to the client");
    let location = res.headers()["location"].to_str().expect("ascii");
    assert!(location.starts_with(REDIRECT), "{location}");
    Url::parse(location)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect()
}

/// The one `iss` of a response, and the rest as a map.
fn iss_of(params: &[(String, String)]) -> (String, HashMap<String, String>) {
    let iss: Vec<&String> = params
        .iter()
        .filter(|(k, _)| k == "iss")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(iss.len(), 1, "exactly one iss: {params:?}");
    (iss[0].clone(), params.iter().cloned().collect())
}

fn base<'a>(s: &'a Setup, state: &'a str) -> Params<'a> {
    vec![
        ("response_type", "code"),
        ("client_id", id(&s.confidential)),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("state", state),
    ]
}

on_both_backends! {
    async fn every_redirected_authorization_response_names_the_issuer(db) {
        let s = setup(&db).await;
        let issuer = s.server.base.clone();
        // The base request with some parameters replaced or added.
        let with = |extra: &[(&'static str, &'static str)], state: &'static str| {
            let mut p = base(&s, state);
            for (k, v) in extra {
                p.retain(|(name, _)| name != k);
                p.push((*k, *v));
            }
            p
        };
        // Errors: each has iss, and a forged iss in the request changes nothing.
        let public_no_pkce = vec![("response_type", "code"), ("client_id", id(&s.public)), ("redirect_uri", REDIRECT), ("state", "e-pkce")];
        let stranger = jar();
        // Before sign-in only an operator's client is redirected to (RFC 9700 §4.11.2).
        let operator = operator_client(&db, &s, REDIRECT);
        let mut signed_out = with(&[("prompt", "none")], "e2");
        signed_out.retain(|(k, _)| *k != "client_id");
        signed_out.push(("client_id", &operator));
        let cases: Vec<(&reqwest::Client, Params, &str)> = vec![
            (&s.http, with(&[("prompt", "none")], "e1"), "consent_required"),
            (&stranger, signed_out, "login_required"),
            (&s.http, with(&[("scope", "admin")], "e3"), "invalid_scope"),
            (&s.http, with(&[("prompt", "bogus")], "e4"), "invalid_request"),
            (&s.http, with(&[("request", "eyJ")], "e5"), "request_not_supported"),
            (&s.http, with(&[("response_type", "token")], "e6"), "unsupported_response_type"),
            (&s.http, with(&[("iss", "https://evil.example"), ("prompt", "none")], "e7"), "consent_required"),
            (&s.http, public_no_pkce, "invalid_request"),
        ];
        for (http, params, error) in cases {
            let res = authorize(&s.server, http, &params).await;
            let (iss, got) = iss_of(&redirect_params(&res));
            assert_eq!(got["error"], error, "{params:?}");
            assert_eq!(iss, issuer, "{params:?}");
        }
        // The user denies: iss.
        let res = decide(&s.server, &s.http, authorize(&s.server, &s.http, &base(&s, "d")).await, "deny").await;
        let (iss, got) = iss_of(&redirect_params(&res));
        assert_eq!((got["error"].as_str(), iss.as_str()), ("access_denied", issuer.as_str()));
        // The user allows: the code comes with iss.
        let res = decide(&s.server, &s.http, authorize(&s.server, &s.http, &base(&s, "ok")).await, "allow").await;
        let (iss, got) = iss_of(&redirect_params(&res));
        assert!(got.contains_key("code"));
        assert_eq!(iss, issuer);
        // Remembered consent, no page: iss again, even when the request carries a forged one.
        let res = authorize(&s.server, &s.http, &with(&[("iss", "https://evil.example")], "again")).await;
        let (iss, got) = iss_of(&redirect_params(&res));
        assert!(got.contains_key("code"));
        assert_eq!(iss, issuer);
    }

    async fn form_post_responses_name_the_issuer(db) {
        let s = setup(&db).await;
        let issuer = s.server.base.as_str();
        let ch = challenge(VERIFIER);
        let form_post = |client: &str, extra: &[(&'static str, &'static str)]| {
            let mut p = vec![("response_type", "code"), ("redirect_uri", REDIRECT), ("scope", "openid"), ("state", "fp"), ("response_mode", "form_post")];
            p.push(("client_id", if client == "public" { id(&s.public) } else { id(&s.confidential) }));
            p.extend_from_slice(extra);
            p
        };
        // An error (no PKCE for a public client) and a code, each as an auto-submitted form.
        let res = authorize(&s.server, &s.http, &form_post("public", &[])).await;
        assert_eq!(res.status(), 200);
        let html = res.text().await.expect("html");
        assert_eq!(hidden(&html, "error"), "invalid_request");
        assert_eq!(hidden(&html, "iss"), issuer);
        assert_eq!(html.matches("name=\"iss\"").count(), 1);
        let mut params = form_post("public", &[]);
        params.extend([("code_challenge", ch.as_str()), ("code_challenge_method", "S256")]);
        let consent = authorize(&s.server, &s.http, &params).await;
        let res = decide(&s.server, &s.http, consent, "allow").await;
        assert_eq!(res.status(), 200);
        let html = res.text().await.expect("html");
        assert!(!hidden(&html, "code").is_empty());
        assert_eq!(hidden(&html, "iss"), issuer);
        assert_eq!(html.matches("name=\"iss\"").count(), 1);
        let res = authorize(&s.server, &s.http, &form_post("confidential", &[("prompt", "none")])).await;
        let html = res.text().await.expect("html");
        assert_eq!(hidden(&html, "error"), "consent_required");
        assert_eq!(hidden(&html, "iss"), issuer);
    }

    async fn discovery_advertises_the_iss_parameter_and_one_issuer(db) {
        let s = setup(&db).await;
        for path in ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"] {
            let doc = json_of(s.server.get(path).await).await;
            assert_eq!(doc["authorization_response_iss_parameter_supported"], true, "{path}");
            assert_eq!(doc["issuer"], s.server.base.as_str(), "{path}");
            let endpoint = doc["authorization_endpoint"].as_str().expect("authorization_endpoint");
            assert_eq!(endpoint, format!("{}/oauth2/authorize", s.server.base), "{path}");
        }
        // The iss of a real response is the discovery issuer, character for character.
        let res = authorize(&s.server, &s.http, &[("response_type", "code"), ("client_id", id(&s.confidential)), ("redirect_uri", REDIRECT), ("prompt", "none")]).await;
        let doc = json_of(s.server.get("/.well-known/openid-configuration").await).await;
        assert_eq!(iss_of(&redirect_params(&res)).0, doc["issuer"].as_str().expect("issuer"));
    }
}
