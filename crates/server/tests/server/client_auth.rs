//! Client authentication by JWT assertion (RFC 7523 §2.2, OpenID Connect Core §9):
//! `private_key_jwt` with keys registered inline or published at a `jwks_uri` (served here by
//! a real HTTP server), and `client_secret_jwt`; at the token, introspection and revocation
//! endpoints; and each way an assertion can be misused, refused.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpResponse, HttpServer, web};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, Scope, TokenResponse as _, TokenUrl};
use serde_json::{Value, json};

use crate::attack_jwt::{b64, hmac, jws};
use crate::common::*;
use crate::token::{oauth_http, verify_with_jwks};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A client's signing key: what signs its assertions, and its public JWK.
struct Key {
    encoding: EncodingKey,
    alg: Algorithm,
    kid: String,
    /// The public JWK, with its `kid`.
    jwk: Value,
}

impl Key {
    fn es256(kid: &str) -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("P-256 key");
        let der = pair.to_pkcs8v1().expect("pkcs8");
        Self::new(
            EncodingKey::from_ec_der(der.as_ref()),
            Algorithm::ES256,
            kid,
        )
    }

    fn eddsa(kid: &str) -> Self {
        let pair = Ed25519KeyPair::generate().expect("Ed25519 key");
        let der = pair.to_pkcs8v1().expect("pkcs8");
        Self::new(
            EncodingKey::from_ed_der(der.as_ref()),
            Algorithm::EdDSA,
            kid,
        )
    }

    fn new(encoding: EncodingKey, alg: Algorithm, kid: &str) -> Self {
        let mut jwk = serde_json::to_value(Jwk::from_encoding_key(&encoding, alg).expect("jwk"))
            .expect("jwk json");
        jwk["kid"] = json!(kid);
        Self {
            encoding,
            alg,
            kid: kid.to_owned(),
            jwk,
        }
    }

    /// An assertion with these claims, signed with this key and naming its `kid`.
    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("sign")
    }
}

fn jwks(keys: &[&Key]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
}

/// The claims of a good assertion of `client_id` for `server`'s token endpoint.
fn claims(server: &TestServer, client_id: &str) -> Value {
    let now = server.clock_now();
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": server.url("/oauth2/token"),
        "iat": now,
        "exp": now + 60,
        "jti": primitives::random_token(16),
    })
}

/// Registers a client-credentials client with `metadata` added; its id (and secret, if any).
async fn register(server: &TestServer, metadata: Value) -> (String, Option<String>) {
    let mut body = json!({
        "grant_types": ["client_credentials"],
        "scope": "orders:read",
    });
    for (k, v) in metadata.as_object().expect("object") {
        body[k] = v.clone();
    }
    let res = server.post_json("/oauth2/register", &body).await;
    let status = res.status();
    let body = json_of(res).await;
    assert_eq!(status, 201, "{body}");
    (
        body["client_id"].as_str().expect("id").to_owned(),
        body["client_secret"].as_str().map(str::to_owned),
    )
}

/// A `private_key_jwt` client with `key` registered inline.
async fn key_client(server: &TestServer, key: &Key) -> String {
    let (id, secret) = register(
        server,
        json!({ "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks(&[key]) }),
    )
    .await;
    assert!(secret.is_none(), "a private_key_jwt client gets no secret");
    id
}

/// `POST path` with a client assertion and `form`; the status and the JSON body (if any).
async fn post_assertion(
    server: &TestServer,
    path: &str,
    assertion: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut fields = vec![
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ];
    fields.extend_from_slice(form);
    let res = server.post_form(path, None, &fields).await;
    let status = res.status().as_u16();
    let body = res.json().await.unwrap_or(Value::Null);
    (status, body)
}

async fn token_with(server: &TestServer, assertion: &str) -> (u16, Value) {
    post_assertion(
        server,
        "/oauth2/token",
        assertion,
        &[("grant_type", "client_credentials")],
    )
    .await
}

/// The answer is the RFC 6749 refusal of a client that failed to authenticate.
#[track_caller]
fn assert_refused(answer: &(u16, Value), what: &str) {
    assert_eq!(answer.0, 401, "{what}: {}", answer.1);
    assert_eq!(answer.1["error"], "invalid_client", "{what}");
}

/// A server publishing JWK Sets: `/jwks.json` answers whatever `keys` holds now; fetches are
/// counted.
#[derive(Clone, Default)]
struct KeyServer {
    keys: Arc<Mutex<Value>>,
    hits: Arc<AtomicUsize>,
}

impl KeyServer {
    fn start(keys: Value) -> (String, Self) {
        let published = Self {
            keys: Arc::new(Mutex::new(keys)),
            hits: Arc::default(),
        };
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let uri = format!("http://{}/jwks.json", listener.local_addr().expect("addr"));
        let state = published.clone();
        let server = HttpServer::new(move || {
            let state = state.clone();
            App::new().route(
                "/jwks.json",
                web::get().to(move || {
                    let state = state.clone();
                    async move {
                        state.hits.fetch_add(1, Ordering::SeqCst);
                        let keys = state.keys.lock().expect("keys").clone();
                        HttpResponse::Ok()
                            .insert_header(("Cache-Control", "max-age=600"))
                            .json(keys)
                    }
                }),
            )
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        actix_web::rt::spawn(server);
        (uri, published)
    }

    fn publish(&self, keys: Value) {
        *self.keys.lock().expect("keys") = keys;
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

on_both_backends! {
    async fn private_key_jwt_with_inline_keys_gets_a_token_introspects_and_revokes(db) {
        let server = TestServer::start(&db);
        let es = Key::es256("es-1");
        let ed = Key::eddsa("ed-1");
        let (id, secret) = register(
            &server,
            json!({ "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks(&[&es, &ed]) }),
        )
        .await;
        assert!(secret.is_none());

        // The oauth2 crate sends client_id in the body and the assertion as extra parameters.
        let client = BasicClient::new(ClientId::new(id.clone()))
            .set_auth_type(AuthType::RequestBody)
            .set_token_uri(TokenUrl::new(server.url("/oauth2/token")).expect("url"));
        for key in [&es, &ed] {
            let token = client
                .exchange_client_credentials()
                .add_scope(Scope::new("orders:read".into()))
                .add_extra_param("client_assertion_type", ASSERTION_TYPE)
                .add_extra_param("client_assertion", key.sign(&claims(&server, &id)))
                .request_async(&oauth_http())
                .await
                .unwrap_or_else(|e| panic!("{:?}: {e:?}", key.alg));
            let verified = verify_with_jwks(&server, token.access_token().secret(), &server.base).await;
            assert_eq!(verified["client_id"], id.as_str());
        }

        // The issuer as audience works too (OpenID Connect Core §9), and an array of them.
        let mut c = claims(&server, &id);
        c["aud"] = json!([server.base.as_str(), "https://other.example"]);
        let (status, body) = token_with(&server, &es.sign(&c)).await;
        assert_eq!(status, 200, "{body}");
        let access = body["access_token"].as_str().expect("token").to_owned();

        let (status, info) = post_assertion(&server, "/oauth2/introspect", &es.sign(&claims(&server, &id)), &[("token", &access)]).await;
        assert_eq!(status, 200, "{info}");
        assert_eq!(info["active"], true);
        let (status, _) = post_assertion(&server, "/oauth2/revoke", &es.sign(&claims(&server, &id)), &[("token", &access)]).await;
        assert_eq!(status, 200);
        let (_, info) = post_assertion(&server, "/oauth2/introspect", &es.sign(&claims(&server, &id)), &[("token", &access)]).await;
        assert_eq!(info["active"], false);

        // Its registered method is the only one: no secret to send, no bare client_id.
        let res = server.post_form("/oauth2/token", None, &[("grant_type", "client_credentials"), ("client_id", &id)]).await;
        assert_eq!(res.status(), 401);
    }

    async fn private_key_jwt_with_a_jwks_uri_fetches_the_keys_and_follows_a_rotation(db) {
        let server = TestServer::start_with(&db, |s| s.cimd_allow_loopback = true);
        let old = Key::es256("old");
        let (uri, published) = KeyServer::start(jwks(&[&old]));
        let (id, _) = register(
            &server,
            json!({ "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": uri }),
        )
        .await;
        let (status, body) = token_with(&server, &old.sign(&claims(&server, &id))).await;
        assert_eq!(status, 200, "{body}");
        let (status, _) = token_with(&server, &old.sign(&claims(&server, &id))).await;
        assert_eq!(status, 200);
        assert_eq!(published.hits(), 1, "the set is kept as its Cache-Control says");

        // The client rotates: an assertion naming a new kid fetches the set again, once.
        let new = Key::eddsa("new");
        published.publish(jwks(&[&new]));
        let (status, body) = token_with(&server, &new.sign(&claims(&server, &id))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(published.hits(), 2);

        // Made-up kids do not make the server fetch again and again.
        let stranger = Key::es256("made-up");
        for _ in 0..3 {
            assert_refused(&token_with(&server, &stranger.sign(&claims(&server, &id))).await, "unknown kid");
        }
        assert_eq!(published.hits(), 2, "at most one fetch a minute for unknown kids");
        server.clock.advance(61);
        assert_refused(&token_with(&server, &stranger.sign(&claims(&server, &id))).await, "unknown kid");
        assert_eq!(published.hits(), 3);
    }

    async fn attack_jwks_uri_on_an_internal_address(db) {
        // Without the test setting, loopback is as internal as any private address.
        let server = TestServer::start(&db);
        let key = Key::es256("k");
        let (uri, published) = KeyServer::start(jwks(&[&key]));
        let (id, _) = register(
            &server,
            json!({ "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": uri }),
        )
        .await;
        assert_refused(&token_with(&server, &key.sign(&claims(&server, &id))).await, "keys on loopback");
        assert_eq!(published.hits(), 0, "refused before any connection");
    }

    async fn client_secret_jwt_gets_a_token_with_each_hmac_algorithm(db) {
        let server = TestServer::start(&db);
        let (id, secret) = register(&server, json!({ "token_endpoint_auth_method": "client_secret_jwt" })).await;
        let secret = secret.expect("a client_secret_jwt client has a secret");
        for alg in ["HS256", "HS384", "HS512"] {
            let assertion = jws(&json!({ "alg": alg, "typ": "JWT" }), &claims(&server, &id), hmac(alg, secret.as_bytes()));
            let (status, body) = token_with(&server, &assertion).await;
            assert_eq!(status, 200, "{alg}: {body}");
        }
        let wrong = jws(&json!({ "alg": "HS256" }), &claims(&server, &id), hmac("HS256", b"not the secret"));
        assert_refused(&token_with(&server, &wrong).await, "another secret");
        // The secret itself is not a way in: the registered method is.
        let res = server.post_form("/oauth2/token", Some((&id, &secret)), &[("grant_type", "client_credentials")]).await;
        assert_eq!(res.status(), 401);
    }

    async fn client_secret_jwt_set_by_an_update_gets_a_new_sealed_secret(db) {
        let server = TestServer::start(&db);
        let res = server.post_json("/oauth2/register", &json!({ "grant_types": ["client_credentials"], "scope": "orders:read" })).await;
        let reg = json_of(res).await;
        let id = reg["client_id"].as_str().expect("id").to_owned();
        let update = json!({
            "client_id": id,
            "grant_types": ["client_credentials"],
            "scope": "orders:read",
            "token_endpoint_auth_method": "client_secret_jwt",
        });
        let res = server.http.put(server.url(&format!("/oauth2/register/{id}")))
            .bearer_auth(reg["registration_access_token"].as_str().expect("token"))
            .json(&update)
            .send().await.expect("update");
        let status = res.status();
        let updated = json_of(res).await;
        assert_eq!(status, 200, "{updated}");
        let secret = updated["client_secret"].as_str().expect("a new secret");
        assert_ne!(Some(secret), reg["client_secret"].as_str());
        let assertion = jws(&json!({ "alg": "HS256" }), &claims(&server, &id), hmac("HS256", secret.as_bytes()));
        assert_eq!(token_with(&server, &assertion).await.0, 200);
    }

    async fn an_agent_given_keys_authenticates_with_private_key_jwt(db) {
        let g = crate::gateway::setup(&db, Some(crate::gateway::MASTER), true).await;
        let key = Key::eddsa("agent-key");
        let registered = {
            let mut conn = db.store().conn().expect("conn");
            grants::create_agent_client_with_keys(&mut conn, &g.org, &g.agent, true, Some(grants::AgentKeys::Jwks(jwks(&[&key]))), g.server.clock_now())
                .expect("agent client")
        };
        assert!(registered.secret.is_none(), "no secret for a keyed agent");
        let id = registered.client.id;
        let (status, body) = token_with(&g.server, &key.sign(&claims(&g.server, &id))).await;
        assert_eq!(status, 200, "{body}");
        let token = body["access_token"].as_str().expect("token");
        let verified = verify_with_jwks(&g.server, token, &g.server.base).await;
        assert_eq!((verified["sub"].as_str(), verified["client_id"].as_str()), (Some(g.agent.as_str()), Some(id.as_str())));
        // Keys are checked as at registration.
        let mut private = key.jwk.clone();
        private["d"] = json!(b64(&[1u8; 32]));
        let mut conn = db.store().conn().expect("conn");
        let refused = grants::create_agent_client_with_keys(&mut conn, &g.org, &g.agent, true, Some(grants::AgentKeys::Jwks(json!({ "keys": [private] }))), g.server.clock_now());
        assert!(refused.is_err());
    }

    async fn attack_client_assertion_replayed(db) {
        let server = TestServer::start(&db);
        let key = Key::es256("k");
        let id = key_client(&server, &key).await;
        let assertion = key.sign(&claims(&server, &id));
        assert_eq!(token_with(&server, &assertion).await.0, 200);
        assert_refused(&token_with(&server, &assertion).await, "the same assertion again");
        // At another endpoint too.
        assert_refused(&post_assertion(&server, "/oauth2/introspect", &assertion, &[("token", "x")]).await, "replayed at introspection");

        // A second instance on the same database refuses what the first accepted.
        let other = TestServer::start(&db);
        let mut c = claims(&server, &id);
        c["aud"] = json!([server.url("/oauth2/token"), other.url("/oauth2/token")]);
        let both = key.sign(&c);
        assert_eq!(token_with(&server, &both).await.0, 200);
        assert_refused(&token_with(&other, &both).await, "replayed on another instance");
    }

    async fn attack_client_assertion_for_another_audience(db) {
        let server = TestServer::start(&db);
        let key = Key::es256("k");
        let id = key_client(&server, &key).await;
        for aud in [json!("https://other.example/oauth2/token"), json!([]), json!(server.url("/oauth2/introspect"))] {
            let mut c = claims(&server, &id);
            c["aud"] = aud.clone();
            assert_refused(&token_with(&server, &key.sign(&c)).await, &format!("aud {aud}"));
        }
    }

    async fn attack_client_assertion_expired_or_long_lived(db) {
        let server = TestServer::start(&db);
        let key = Key::es256("k");
        let id = key_client(&server, &key).await;
        let now = server.clock_now();
        for (iat, exp, what) in [
            (now - 200, now - 60, "expired a minute ago"),
            (now, now + 301, "exp more than 5 minutes ahead"),
            (now - 100, now + 250, "valid 350 seconds in all"),
            (now + 120, now + 180, "issued in the future"),
        ] {
            let mut c = claims(&server, &id);
            c["iat"] = json!(iat);
            c["exp"] = json!(exp);
            assert_refused(&token_with(&server, &key.sign(&c)).await, what);
        }
        let mut c = claims(&server, &id);
        c.as_object_mut().expect("object").remove("jti");
        assert_refused(&token_with(&server, &key.sign(&c)).await, "no jti");
        let mut c = claims(&server, &id);
        c.as_object_mut().expect("object").remove("exp");
        assert_refused(&token_with(&server, &key.sign(&c)).await, "no exp");
        // An assertion that was good expires with the clock.
        let good = key.sign(&claims(&server, &id));
        server.clock.advance(120);
        assert_refused(&token_with(&server, &good).await, "expired by the clock");
    }

    async fn attack_client_assertion_alg_none_or_hmac_with_the_public_key(db) {
        let server = TestServer::start(&db);
        let key = Key::es256("k");
        let id = key_client(&server, &key).await;
        let c = claims(&server, &id);
        let none = format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(c.to_string().as_bytes()));
        assert_refused(&token_with(&server, &none).await, "alg none");
        // The public key (as its JWK's text, and its x coordinate) as an HMAC secret.
        let public_text = key.jwk.to_string();
        let x = key.jwk["x"].as_str().expect("x").to_owned();
        for secret in [public_text.as_bytes(), x.as_bytes()] {
            let forged = jws(&json!({ "alg": "HS256", "kid": "k" }), &c, hmac("HS256", secret));
            assert_refused(&token_with(&server, &forged).await, "HS256 keyed with the public key");
        }
        // A client that registered one algorithm gets no other.
        let ed = Key::eddsa("ed");
        let es = Key::es256("es");
        let (pinned, _) = register(&server, json!({
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_signing_alg": "EdDSA",
            "jwks": jwks(&[&ed, &es]),
        })).await;
        assert_refused(&token_with(&server, &es.sign(&claims(&server, &pinned))).await, "ES256 for an EdDSA client");
        assert_eq!(token_with(&server, &ed.sign(&claims(&server, &pinned))).await.0, 200);
    }

    async fn attack_client_assertion_signed_by_an_unknown_key(db) {
        let server = TestServer::start(&db);
        let key = Key::es256("k");
        let id = key_client(&server, &key).await;
        let eve = Key::es256("k");
        assert_refused(&token_with(&server, &eve.sign(&claims(&server, &id))).await, "another key, the client's kid");
        let eve = Key::es256("eve");
        assert_refused(&token_with(&server, &eve.sign(&claims(&server, &id))).await, "another key and kid");
        // A client's key does not authenticate another client.
        let other = key_client(&server, &Key::es256("o")).await;
        assert_refused(&token_with(&server, &key.sign(&claims(&server, &other))).await, "a key of another client");
    }

    async fn attack_client_assertion_iss_differs_from_sub(db) {
        let server = TestServer::start(&db);
        let key = Key::es256("k");
        let id = key_client(&server, &key).await;
        let other = key_client(&server, &Key::es256("o")).await;
        for (iss, sub) in [(&other, &id), (&id, &other)] {
            let mut c = claims(&server, &id);
            c["iss"] = json!(iss);
            c["sub"] = json!(sub);
            assert_refused(&token_with(&server, &key.sign(&c)).await, "iss != sub");
        }
        // A body client_id naming another client than the assertion.
        let answer = post_assertion(&server, "/oauth2/token", &key.sign(&claims(&server, &id)), &[("grant_type", "client_credentials"), ("client_id", &other)]).await;
        assert_refused(&answer, "client_id differs from sub");
    }

    async fn attack_client_assertion_with_a_second_method(db) {
        let server = TestServer::start(&db);
        let key = Key::es256("k");
        let id = key_client(&server, &key).await;
        let assertion = key.sign(&claims(&server, &id));
        let res = server.http.post(server.url("/oauth2/token"))
            .basic_auth(&id, Some("whatever"))
            .form(&[("grant_type", "client_credentials"), ("client_assertion_type", ASSERTION_TYPE), ("client_assertion", &assertion)])
            .send().await.expect("request");
        assert_eq!(res.status(), 400);
        assert_eq!(json_of(res).await["error"], "invalid_request");
        let (status, body) = post_assertion(&server, "/oauth2/token", &assertion, &[("grant_type", "client_credentials"), ("client_secret", "x")]).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
        let res = server.post_form("/oauth2/token", None, &[("grant_type", "client_credentials"), ("client_assertion", &assertion)]).await;
        assert_eq!(res.status(), 400, "an assertion without its type");
        let res = server.post_form("/oauth2/token", None, &[("grant_type", "client_credentials"), ("client_assertion_type", "urn:other"), ("client_assertion", &assertion)]).await;
        assert_eq!(res.status(), 401, "another assertion type");
        // The assertion was never checked: it still works.
        assert_eq!(token_with(&server, &assertion).await.0, 200);
    }

    async fn attack_private_jwk_registered(db) {
        let server = TestServer::start(&db);
        let key = Key::es256("k");
        let mut private = key.jwk.clone();
        private["d"] = json!(b64(&[7u8; 32]));
        let oct = json!({ "kty": "oct", "k": b64(b"shared"), "kid": "s" });
        for (body, what) in [
            (json!({ "token_endpoint_auth_method": "private_key_jwt", "jwks": { "keys": [private] } }), "a private EC key"),
            (json!({ "token_endpoint_auth_method": "private_key_jwt", "jwks": { "keys": [oct] } }), "a symmetric key"),
            (json!({ "token_endpoint_auth_method": "private_key_jwt" }), "no keys at all"),
            (json!({ "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks(&[&key]), "jwks_uri": "https://keys.example/jwks.json" }), "jwks and jwks_uri"),
            (json!({ "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "http://keys.example/jwks.json" }), "a jwks_uri over http"),
            (json!({ "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks(&[&key]), "token_endpoint_auth_signing_alg": "HS256" }), "an HMAC alg for private_key_jwt"),
            (json!({ "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks(&[&key]), "token_endpoint_auth_signing_alg": "none" }), "alg none"),
        ] {
            let mut full = body.clone();
            full["grant_types"] = json!(["client_credentials"]);
            let res = server.post_json("/oauth2/register", &full).await;
            assert_eq!(res.status(), 400, "{what}");
            assert_eq!(json_of(res).await["error"], "invalid_client_metadata", "{what}");
        }
    }

    async fn attack_client_secret_jwt_without_encryption_keys(db) {
        let server = TestServer::start_with(&db, |s| s.encryption_keys = None);
        let res = server.post_json("/oauth2/register", &json!({
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "client_secret_jwt",
        })).await;
        assert_eq!(res.status(), 400);
        let body = json_of(res).await;
        assert_eq!(body["error"], "invalid_client_metadata");
        assert!(body["error_description"].as_str().is_some_and(|d| d.contains("PORTCULLIS_ENCRYPTION_KEYS")), "{body}");
        // private_key_jwt needs no encryption keys.
        key_client(&server, &Key::es256("k")).await;
    }
}
