//! Forged and misused access tokens (RFC 8725, RFC 9068 §4, RFC 9700 §4.10): `alg: none`,
//! HMAC keyed with our public key, unknown or mismatched `kid`, keys embedded in the header,
//! the wrong `typ`, another issuer, expired and not-yet-valid tokens, tampered payloads. Each
//! is refused at introspection (`{"active":false}`), userinfo (401 `invalid_token`) and the JSON
//! API (401 JSON error).
//!
//! The tokens are made here, byte by byte, with the server's own ES256 private key read from
//! its database: a control token made the same way is accepted everywhere, so each refusal is
//! down to the one thing its variant changes.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::api_auth::signup;
use crate::common::*;
use crate::token::service_client;

pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).expect("base64url")
}

/// `base64url(header).base64url(claims).base64url(sign(input))`.
pub(crate) fn jws(header: &Value, claims: &Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = sign(input.as_bytes());
    format!("{input}.{}", b64(&signature))
}

fn es256(pair: &EcdsaKeyPair) -> impl FnOnce(&[u8]) -> Vec<u8> + '_ {
    move |input| {
        pair.sign(&SystemRandom::new(), input)
            .expect("sign")
            .as_ref()
            .to_vec()
    }
}

/// An HMAC signature: `HS256`, `HS384` or `HS512`.
pub(crate) fn hmac<'a>(alg: &str, secret: &'a [u8]) -> impl FnOnce(&[u8]) -> Vec<u8> + 'a {
    let algorithm = match alg {
        "HS384" => aws_lc_rs::hmac::HMAC_SHA384,
        "HS512" => aws_lc_rs::hmac::HMAC_SHA512,
        _ => aws_lc_rs::hmac::HMAC_SHA256,
    };
    move |input| {
        let key = aws_lc_rs::hmac::Key::new(algorithm, secret);
        aws_lc_rs::hmac::sign(&key, input).as_ref().to_vec()
    }
}

/// A server's ES256 signing key, read from its database, and the kids of its other keys.
struct Keys {
    pair: EcdsaKeyPair,
    kid: String,
    other_kids: Vec<String>,
}

impl Keys {
    fn of(db: &TestDb, server: &TestServer) -> Self {
        let mut conn = db.store().conn().expect("conn");
        let rows = store::keys::all(&mut conn).expect("keys");
        let es = rows
            .iter()
            .find(|r| r.alg == "ES256" && r.retired_at.is_none())
            .expect("an ES256 key");
        let pkcs8 = tokens::private_pkcs8(es, server.encryption_keys.as_deref()).expect("PKCS#8");
        Self {
            pair: EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8)
                .expect("P-256 key"),
            kid: es.kid.clone(),
            other_kids: rows
                .iter()
                .filter(|r| r.alg != "ES256")
                .map(|r| r.kid.clone())
                .collect(),
        }
    }
}

/// What the tests need: a server, a user, a resource server that introspects, the server's
/// keys, and a claims template.
struct Target {
    server: TestServer,
    keys: Keys,
    rs: (String, String),
    user_token: String,
    claims: Value,
}

async fn target(db: &TestDb) -> Target {
    let server = TestServer::start(db);
    let ada = signup(&server, "ada@example.com", "Ada").await;
    let rs = service_client(&server, "client_secret_basic").await;
    let now = server.clock_now();
    let claims = json!({
        "iss": server.base,
        "sub": ada["user"]["id"],
        // This server and the first-party API, as a first-party client's token carries.
        "aud": [server.base, "urn:portcullis:first-party"],
        "exp": now + 600,
        "iat": now,
        "jti": format!("forged-{now}"),
        "client_id": "portcullis",
        "scope": "openid email",
    });
    Target {
        keys: Keys::of(db, &server),
        user_token: ada["token"].as_str().expect("token").to_owned(),
        server,
        rs,
        claims,
    }
}

impl Target {
    fn header(&self) -> Value {
        json!({ "alg": "ES256", "typ": "at+jwt", "kid": self.keys.kid })
    }

    /// A token signed with the server's own key.
    fn signed(&self, header: &Value, claims: &Value) -> String {
        jws(header, claims, es256(&self.keys.pair))
    }

    fn claims_with(&self, changes: Value) -> Value {
        let mut c = self.claims.clone();
        for (k, v) in changes.as_object().expect("object") {
            if v.is_null() {
                c.as_object_mut().expect("object").remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    }

    fn header_with(&self, changes: Value) -> Value {
        let mut h = self.header();
        for (k, v) in changes.as_object().expect("object") {
            if v.is_null() {
                h.as_object_mut().expect("object").remove(k);
            } else {
                h[k] = v.clone();
            }
        }
        h
    }

    async fn introspect(&self, token: &str) -> Value {
        let res = self
            .server
            .post_form(
                "/oauth2/introspect",
                Some((&self.rs.0, &self.rs.1)),
                &[("token", token)],
            )
            .await;
        assert_eq!(res.status(), 200);
        json_of(res).await
    }

    async fn bearer(&self, path: &str, token: &str) -> reqwest::Response {
        self.server
            .http
            .get(self.server.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("get")
    }

    /// Accepted by all three (a first-party token has no `openid` scope: userinfo verifies it,
    /// then answers 403 `insufficient_scope`).
    async fn accepted_everywhere(&self, token: &str) {
        assert_eq!(
            self.introspect(token).await["active"],
            true,
            "introspection"
        );
        let userinfo = if token == self.user_token { 403 } else { 200 };
        assert_eq!(
            self.bearer("/oauth2/userinfo", token).await.status(),
            userinfo,
            "userinfo"
        );
        assert_eq!(self.bearer("/api/v1/me", token).await.status(), 200, "API");
    }

    /// Refused by all three; `api_code` is the JSON API's error code.
    async fn refused_everywhere(&self, token: &str, api_code: &str, what: &str) {
        assert_eq!(
            self.introspect(token).await,
            json!({ "active": false }),
            "introspection: {what}"
        );
        let res = self.bearer("/oauth2/userinfo", token).await;
        assert_eq!(res.status(), 401, "userinfo: {what}");
        let challenge = res.headers()["www-authenticate"]
            .to_str()
            .unwrap_or("")
            .to_owned();
        assert!(
            challenge.starts_with("Bearer") && challenge.contains("error=\"invalid_token\""),
            "userinfo: {what}: {challenge}"
        );
        let res = self.bearer("/api/v1/me", token).await;
        assert_eq!(res.status(), 401, "API: {what}");
        let body = json_of(res).await;
        assert_eq!(body["error"]["type"], "authentication_error", "API: {what}");
        assert_eq!(body["error"]["code"], api_code, "API: {what}");
    }
}

/// The SubjectPublicKeyInfo PEM of a P-256 public JWK: what a verifier keyed by PEM would use
/// as its "secret" if it let the token choose HS256.
fn p256_pem(jwk: &Value) -> String {
    let mut der = hex_bytes("3059301306072a8648ce3d020106082a8648ce3d030107034200");
    der.push(0x04);
    der.extend(unb64(jwk["x"].as_str().expect("x")));
    der.extend(unb64(jwk["y"].as_str().expect("y")));
    let body = STANDARD.encode(&der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    )
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

on_both_backends! {
    async fn the_control_token_is_accepted(db) {
        let t = target(&db).await;
        t.accepted_everywhere(&t.signed(&t.header(), &t.claims)).await;
        t.accepted_everywhere(&t.user_token).await;
    }

    async fn alg_none_is_refused(db) {
        let t = target(&db).await;
        let valid = t.signed(&t.header(), &t.claims);
        let kept_signature = valid.rsplit('.').next().expect("signature").to_owned();
        for (alg, kid, signature) in [
            ("none", true, String::new()),
            ("none", true, kept_signature),
            ("none", false, String::new()),
            ("None", true, String::new()),
            ("NONE", true, String::new()),
            ("nOnE", true, String::new()),
        ] {
            let mut header = t.header_with(json!({ "alg": alg }));
            if !kid {
                header.as_object_mut().expect("object").remove("kid");
            }
            let token = format!(
                "{}.{}.{}",
                b64(header.to_string().as_bytes()),
                b64(t.claims.to_string().as_bytes()),
                signature
            );
            t.refused_everywhere(&token, "invalid_token", &format!("alg {alg}, kid {kid}, signature {}", !signature.is_empty())).await;
        }
        // The signature simply cut off an ES256 token.
        let stripped = format!("{}.", valid.rsplit_once('.').expect("jws").0);
        t.refused_everywhere(&stripped, "invalid_token", "signature stripped").await;
    }

    async fn hmac_keyed_with_the_public_key_is_refused(db) {
        let t = target(&db).await;
        let jwks = json_of(t.server.get("/jwks.json").await).await;
        let keys = jwks["keys"].as_array().expect("keys");
        let es = keys.iter().find(|k| k["kid"] == t.keys.kid.as_str()).expect("our ES256 key is published");
        let rsa = keys.iter().find(|k| k["kty"] == "RSA").expect("an RSA key is published");
        let mut point = vec![0x04];
        point.extend(unb64(es["x"].as_str().expect("x")));
        point.extend(unb64(es["y"].as_str().expect("y")));
        let secrets: Vec<(&str, Vec<u8>, &Value)> = vec![
            ("ES256 key as PEM", p256_pem(es).into_bytes(), es),
            ("ES256 key as its JWK", es.to_string().into_bytes(), es),
            ("ES256 key as the raw point", point, es),
            ("the whole JWKS", jwks.to_string().into_bytes(), es),
            ("RSA modulus", unb64(rsa["n"].as_str().expect("n")), rsa),
            ("RSA key as its JWK", rsa.to_string().into_bytes(), rsa),
        ];
        for (what, secret, jwk) in secrets {
            for alg in ["HS256", "HS384", "HS512"] {
                let header = t.header_with(json!({ "alg": alg, "kid": jwk["kid"] }));
                let token = jws(&header, &t.claims, hmac(alg, &secret));
                t.refused_everywhere(&token, "invalid_token", &format!("{alg} with {what}")).await;
            }
        }
    }

    async fn unknown_missing_and_mismatched_kids_are_refused(db) {
        let t = target(&db).await;
        let mut cases = vec![
            (t.header_with(json!({ "kid": "no-such-kid" })), "unknown kid".to_owned()),
            (t.header_with(json!({ "kid": null })), "no kid".to_owned()),
            (t.header_with(json!({ "kid": "" })), "empty kid".to_owned()),
            (t.header_with(json!({ "kid": format!("{}/../{}", t.keys.kid, t.keys.kid) })), "path in kid".to_owned()),
            (t.header_with(json!({ "kid": format!("{}' OR '1'='1", t.keys.kid) })), "SQL in kid".to_owned()),
        ];
        assert_eq!(t.keys.other_kids.len(), 2, "RS256 and EdDSA keys");
        for kid in &t.keys.other_kids {
            cases.push((t.header_with(json!({ "kid": kid })), format!("kid of another algorithm's key {kid}")));
        }
        for (header, what) in cases {
            t.refused_everywhere(&t.signed(&header, &t.claims), "invalid_token", &what).await;
        }
        // A header claiming another algorithm for our ES256 key.
        for alg in ["RS256", "ES384", "EdDSA", "PS256"] {
            let header = t.header_with(json!({ "alg": alg }));
            t.refused_everywhere(&t.signed(&header, &t.claims), "invalid_token", &format!("alg {alg} on the ES256 kid")).await;
        }
    }

    async fn keys_offered_by_the_token_itself_are_ignored(db) {
        let t = target(&db).await;
        let attacker = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("key");
        let public = attacker.public_key().as_ref().to_vec();
        let jwk = json!({ "kty": "EC", "crv": "P-256", "x": b64(&public[1..33]), "y": b64(&public[33..65]), "kid": "eve" });
        for (header, what) in [
            (t.header_with(json!({ "kid": null, "jwk": jwk })), "embedded jwk"),
            (t.header_with(json!({ "kid": "eve", "jwk": jwk })), "embedded jwk with its kid"),
            (t.header_with(json!({ "kid": null, "jku": "https://evil.example/jwks.json" })), "jku"),
            (t.header_with(json!({ "x5u": "https://evil.example/cert.pem" })), "x5u, our kid"),
            (t.header(), "our kid, the attacker's key"),
        ] {
            t.refused_everywhere(&jws(&header, &t.claims, es256(&attacker)), "invalid_token", what).await;
        }
    }

    async fn wrong_type_issuer_and_tampered_claims_are_refused(db) {
        let t = target(&db).await;
        let other = signup(&t.server, "eve@example.com", "Eve").await;
        for (header, what) in [
            (t.header_with(json!({ "typ": null })), "no typ"),
            (t.header_with(json!({ "typ": "JWT" })), "typ JWT (an ID token)"),
            (t.header_with(json!({ "typ": "at+jwt+evil" })), "typ look-alike"),
        ] {
            t.refused_everywhere(&t.signed(&header, &t.claims), "invalid_token", what).await;
        }
        for (changes, what) in [
            (json!({ "iss": "https://evil.example" }), "another issuer"),
            (json!({ "iss": format!("{}/", t.server.base) }), "issuer with a trailing slash"),
            (json!({ "iss": null }), "no issuer"),
            (json!({ "exp": null }), "no expiry: a token forever"),
            (json!({ "jti": null }), "no jti: unrevocable"),
            (json!({ "exp": format!("{}", t.server.clock_now() + 600) }), "exp as a string"),
        ] {
            t.refused_everywhere(&t.signed(&t.header(), &t.claims_with(changes)), "invalid_token", what).await;
        }
        // A valid token whose payload is swapped for one naming another user.
        let valid = t.signed(&t.header(), &t.claims);
        let parts: Vec<&str> = valid.split('.').collect();
        let swapped = t.claims_with(json!({ "sub": other["user"]["id"] }));
        let tampered = format!("{}.{}.{}", parts[0], b64(swapped.to_string().as_bytes()), parts[2]);
        t.refused_everywhere(&tampered, "invalid_token", "payload swapped").await;
        t.accepted_everywhere(&valid).await;
    }

    async fn expired_and_not_yet_valid_tokens_are_refused(db) {
        let t = target(&db).await;
        let now = t.server.clock_now();
        t.refused_everywhere(&t.signed(&t.header(), &t.claims_with(json!({ "exp": now - 1 }))), "token_expired", "expired a second ago").await;
        t.refused_everywhere(&t.signed(&t.header(), &t.claims_with(json!({ "exp": now }))), "token_expired", "expiring this second").await;
        t.refused_everywhere(&t.signed(&t.header(), &t.claims_with(json!({ "iat": now + 3600 }))), "invalid_token", "issued in an hour").await;
        // A real token, with the server's clock moved past its expiry, then before its issue.
        let real = t.user_token.clone();
        t.server.clock.advance(3600);
        t.refused_everywhere(&real, "token_expired", "a real token after its hour").await;
        t.server.clock.advance(-3600 - 120);
        t.refused_everywhere(&real, "invalid_token", "a real token two minutes before it was issued").await;
        t.server.clock.advance(120);
        t.accepted_everywhere(&real).await;
    }

    async fn tokens_of_another_issuer_are_refused(db) {
        let t = target(&db).await;
        let other_db = TestDb::sqlite();
        let other = TestServer::start(&other_db);
        let theirs = signup(&other, "ada@example.com", "Ada").await;
        let foreign = theirs["token"].as_str().expect("token");
        t.refused_everywhere(foreign, "invalid_token", "a real token of another server").await;
        // The other server's key, claiming to be us: with its kid, and with ours.
        let other_keys = Keys::of(&other_db, &other);
        for kid in [other_keys.kid.clone(), t.keys.kid.clone()] {
            let header = t.header_with(json!({ "kid": kid }));
            let token = jws(&header, &t.claims, es256(&other_keys.pair));
            t.refused_everywhere(&token, "invalid_token", &format!("another server's key, kid {kid}")).await;
        }
    }
}
