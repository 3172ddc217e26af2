//! DPoP (RFC 9449): proofs at the token endpoint, bound access tokens at userinfo and the JSON
//! API, bound refresh tokens of public clients, `dpop_bound_access_tokens`, server nonces, and
//! the attacks of §11, each named after the section that answers it. Proofs are made here with
//! `jsonwebtoken` from ES256 keys rcgen generates; the requests are raw HTTP, since no client
//! library in the tree speaks DPoP.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

use crate::authorize_errors::{
    REDIRECT, Setup, VERIFIER, authorize, challenge, code_for, decide, id, redirected, setup,
};
use crate::common::*;

/// A client's DPoP key: its private half, to sign proofs, and its public JWK.
struct Key {
    signing: EncodingKey,
    jwk: Value,
}

impl Key {
    fn es256() -> Self {
        let pair = rcgen::KeyPair::generate().expect("P-256 key");
        let signing = EncodingKey::from_ec_der(&pair.serialize_der());
        let jwk = Jwk::from_encoding_key(&signing, Algorithm::ES256).expect("jwk");
        let mut jwk = serde_json::to_value(jwk).expect("jwk json");
        // The key's own `alg` member is not needed in a proof.
        jwk.as_object_mut().expect("object").remove("alg");
        Self { signing, jwk }
    }

    /// The RFC 7638 thumbprint the server binds tokens to.
    fn thumbprint(&self) -> String {
        let jwk: Jwk = serde_json::from_value(self.jwk.clone()).expect("jwk");
        jwk.thumbprint(ThumbprintHash::SHA256).expect("thumbprint")
    }

    /// A proof with `header` and `claims` as given, signed with this key (whatever `alg` the
    /// header names: the server must check it).
    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature =
            jsonwebtoken::crypto::sign(input.as_bytes(), &self.signing, Algorithm::ES256)
                .expect("sign");
        format!("{input}.{signature}")
    }

    fn header(&self) -> Value {
        json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk })
    }

    /// A proof for `htm` `htu` at `iat`, with `ath` of `token` when one is given.
    fn proof_at(&self, htm: &str, htu: &str, iat: i64, token: Option<&str>) -> String {
        self.sign(&self.header(), &claims(htm, htu, iat, token))
    }
}

fn claims(htm: &str, htu: &str, iat: i64, token: Option<&str>) -> Value {
    let mut c = json!({
        "jti": primitives::random_token(12),
        "htm": htm,
        "htu": htu,
        "iat": iat,
    });
    if let Some(token) = token {
        c["ath"] = json!(ath(token));
    }
    c
}

/// `ath`: base64url(SHA-256(token)), which is what a PKCE S256 challenge is of its verifier.
fn ath(token: &str) -> String {
    challenge(token)
}

/// A form POST with an optional `DPoP` header and Basic credentials.
async fn post(
    server: &TestServer,
    path: &str,
    basic: Option<(&str, &str)>,
    proof: Option<&str>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = server.http.post(server.url(path)).form(form);
    if let Some((user, pass)) = basic {
        req = req.basic_auth(user, Some(pass));
    }
    if let Some(proof) = proof {
        req = req.header("DPoP", proof);
    }
    req.send().await.expect("post")
}

/// `GET /oauth2/userinfo` with `Authorization: <scheme> <token>` and an optional proof.
async fn userinfo(
    server: &TestServer,
    scheme: &str,
    token: &str,
    proof: Option<&str>,
) -> reqwest::Response {
    let mut req = server
        .http
        .get(server.url("/oauth2/userinfo"))
        .header("Authorization", format!("{scheme} {token}"));
    if let Some(proof) = proof {
        req = req.header("DPoP", proof);
    }
    req.send().await.expect("userinfo")
}

/// A confidential client-credentials client, with `extra` metadata: (id, secret).
async fn service(server: &TestServer, extra: Value) -> (String, String) {
    let mut body = json!({
        "grant_types": ["client_credentials"],
        "scope": "orders:read",
        "token_endpoint_auth_method": "client_secret_basic",
    });
    for (k, v) in extra.as_object().expect("object") {
        body[k] = v.clone();
    }
    let res = server.post_json("/oauth2/register", &body).await;
    assert_eq!(res.status(), 201);
    let body = json_of(res).await;
    (
        body["client_id"].as_str().expect("id").to_owned(),
        body["client_secret"].as_str().expect("secret").to_owned(),
    )
}

/// Client credentials with `proof`; the response.
async fn client_credentials(
    server: &TestServer,
    client: &(String, String),
    proof: Option<&str>,
) -> reqwest::Response {
    post(
        server,
        "/oauth2/token",
        Some((&client.0, &client.1)),
        proof,
        &[("grant_type", "client_credentials")],
    )
    .await
}

async fn ok(res: reqwest::Response) -> Value {
    let status = res.status();
    let body: Value = res.json().await.expect("json");
    assert_eq!(status, 200, "{body}");
    body
}

/// The `error` of a refusal with `status`.
async fn error_of(res: reqwest::Response, status: u16) -> String {
    let got = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    body["error"].as_str().unwrap_or_default().to_owned()
}

/// The claims of a JWT, unverified (the server's signature is tested elsewhere).
fn jwt_claims(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("claims");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("b64")).expect("json")
}

fn field(v: &Value, name: &str) -> String {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {v}"))
        .to_owned()
}

/// The public client's code exchanged with a proof of `key`: the token response.
async fn code_tokens(s: &Setup, key: &Key) -> Value {
    let code = code_for(s, "openid email offline_access").await;
    let proof = key.proof_at(
        "POST",
        &s.server.url("/oauth2/token"),
        s.server.clock_now(),
        None,
    );
    ok(post(
        &s.server,
        "/oauth2/token",
        None,
        Some(&proof),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", id(&s.public)),
        ],
    )
    .await)
    .await
}

/// A code for the confidential client.
async fn confidential_code(s: &Setup) -> String {
    let ch = challenge(VERIFIER);
    let params = [
        ("response_type", "code"),
        ("client_id", id(&s.confidential)),
        ("redirect_uri", REDIRECT),
        ("scope", "openid offline_access"),
        ("state", "st"),
        ("code_challenge", ch.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let res = authorize(&s.server, &s.http, &params).await;
    let res = decide(&s.server, &s.http, res, "allow").await;
    redirected(&res)["code"].clone()
}

/// The public client's code exchanged with an optional proof.
async fn exchange(s: &Setup, code: &str, proof: Option<&str>) -> reqwest::Response {
    post(
        &s.server,
        "/oauth2/token",
        None,
        proof,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", id(&s.public)),
        ],
    )
    .await
}

/// The public client's refresh, with an optional proof.
async fn refresh(s: &Setup, rt: &str, proof: Option<&str>) -> reqwest::Response {
    post(
        &s.server,
        "/oauth2/token",
        None,
        proof,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("client_id", id(&s.public)),
        ],
    )
    .await
}

on_both_backends! {
    async fn rfc9449_5_a_proof_binds_the_access_token_and_userinfo_needs_the_key(db) {
        let s = setup(&db).await;
        let key = Key::es256();
        let body = code_tokens(&s, &key).await;
        assert_eq!(body["token_type"], "DPoP");
        let access = field(&body, "access_token");
        assert_eq!(jwt_claims(&access)["cnf"], json!({ "jkt": key.thumbprint() }));
        // Userinfo with the DPoP scheme and a proof of the key for this request.
        let url = s.server.url("/oauth2/userinfo");
        let proof = key.proof_at("GET", &url, s.server.clock_now(), Some(&access));
        let res = userinfo(&s.server, "DPoP", &access, Some(&proof)).await;
        assert_eq!(ok(res).await["email"], "pat@example.com");
        // Introspection says the key and the type (RFC 9449 §6.2).
        let rs = service(&s.server, json!({})).await;
        let answer = ok(post(&s.server, "/oauth2/introspect", Some((&rs.0, &rs.1)), None, &[("token", &access)]).await).await;
        assert_eq!(answer["active"], true);
        assert_eq!(answer["token_type"], "DPoP");
        assert_eq!(answer["cnf"]["jkt"], key.thumbprint());
        // Without a proof, the same grant gives an unbound Bearer token, as before.
        let plain = ok(client_credentials(&s.server, &rs, None).await).await;
        assert_eq!(plain["token_type"], "Bearer");
        assert!(jwt_claims(&field(&plain, "access_token")).get("cnf").is_none());
        // Client credentials with a proof: bound too; `htu` is compared without its query.
        let htu = format!("{}?x=1#f", s.server.url("/oauth2/token"));
        let proof = key.proof_at("POST", &htu, s.server.clock_now(), None);
        let bound = ok(client_credentials(&s.server, &rs, Some(&proof)).await).await;
        assert_eq!(bound["token_type"], "DPoP");
        assert_eq!(jwt_claims(&field(&bound, "access_token"))["cnf"]["jkt"], key.thumbprint());
    }

    async fn attack_dpop_proof_replayed(db) {
        // §11.1: one proof, twice, on one instance and across two instances of one database.
        let a = TestServer::start(&db);
        let issuer = url::Url::parse(&a.base).expect("issuer");
        let b = TestServer::start_with(&db, |s| s.set_issuer(issuer));
        let key = Key::es256();
        let client = service(&a, json!({})).await;
        let htu = a.url("/oauth2/token");
        let proof = key.proof_at("POST", &htu, a.clock_now(), None);
        ok(client_credentials(&a, &client, Some(&proof)).await).await;
        assert_eq!(error_of(client_credentials(&a, &client, Some(&proof)).await, 400).await, "invalid_dpop_proof");
        assert_eq!(error_of(client_credentials(&b, &client, Some(&proof)).await, 400).await, "invalid_dpop_proof");
        // Control: a fresh proof is taken by the other instance, which names its URL by its
        // configured issuer (never by the Host it was reached at).
        let fresh = key.proof_at("POST", &htu, b.clock_now(), None);
        ok(client_credentials(&b, &client, Some(&fresh)).await).await;
        // The first instance then refuses that one too.
        assert_eq!(error_of(client_credentials(&a, &client, Some(&fresh)).await, 400).await, "invalid_dpop_proof");
    }

    async fn attack_dpop_proof_for_another_request(db) {
        // §4.3 items 8 to 11: the method, the URL and the time of this request.
        let server = TestServer::start(&db);
        let key = Key::es256();
        let client = service(&server, json!({})).await;
        let htu = server.url("/oauth2/token");
        let now = server.clock_now();
        for (what, proof) in [
            ("wrong htm", key.proof_at("GET", &htu, now, None)),
            ("wrong htu", key.proof_at("POST", &server.url("/oauth2/introspect"), now, None)),
            ("another host", key.proof_at("POST", "https://elsewhere.example/oauth2/token", now, None)),
            ("iat too old", key.proof_at("POST", &htu, now - 61, None)),
            ("iat in the future", key.proof_at("POST", &htu, now + 30, None)),
            ("no jti", key.sign(&key.header(), &json!({ "htm": "POST", "htu": htu, "iat": now }))),
        ] {
            assert_eq!(error_of(client_credentials(&server, &client, Some(&proof)).await, 400).await, "invalid_dpop_proof", "{what}");
        }
        // A proof made a minute ago is stale once the clock moves on.
        let proof = key.proof_at("POST", &htu, now, None);
        server.clock.advance(61);
        assert_eq!(error_of(client_credentials(&server, &client, Some(&proof)).await, 400).await, "invalid_dpop_proof");
        // Control: within the window, with default ports and case normalised.
        let upper = htu.replace("http://", "HTTP://");
        let proof = key.proof_at("POST", &upper, server.clock_now() - 50, None);
        ok(client_credentials(&server, &client, Some(&proof)).await).await;
    }

    async fn attack_dpop_proof_without_the_key(db) {
        // §4.3 items 4 to 7: the signature verifies with the header's own public key, whose
        // algorithm is asymmetric; a key that shows its private part is no proof.
        let server = TestServer::start(&db);
        let (key, other) = (Key::es256(), Key::es256());
        let client = service(&server, json!({})).await;
        let c = claims("POST", &server.url("/oauth2/token"), server.clock_now(), None);
        // Signed by another key than its `jwk`.
        let mut header = key.header();
        header["jwk"] = other.jwk.clone();
        let forged = key.sign(&header, &c);
        // `alg: none`, no signature.
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(json!({ "typ": "dpop+jwt", "alg": "none", "jwk": key.jwk }).to_string()),
            URL_SAFE_NO_PAD.encode(c.to_string())
        );
        // HMAC, keyed with the public key's text.
        let mut hs = key.header();
        hs["alg"] = json!("HS256");
        let hmac = key.sign(&hs, &c);
        // A private key member in `jwk`.
        let mut private = key.header();
        private["jwk"]["d"] = json!(URL_SAFE_NO_PAD.encode([7u8; 32]));
        let private = key.sign(&private, &c);
        // Not a DPoP proof (`typ`), and no `jwk` at all.
        let mut typ = key.header();
        typ["typ"] = json!("JWT");
        let typ = key.sign(&typ, &c);
        let mut nokey = key.header();
        nokey.as_object_mut().expect("object").remove("jwk");
        let nokey = key.sign(&nokey, &c);
        for (what, proof) in [("another key", forged), ("alg none", none), ("HS256", hmac), ("private jwk", private), ("typ", typ), ("no jwk", nokey), ("garbage", "a.b.c".to_owned())] {
            assert_eq!(error_of(client_credentials(&server, &client, Some(&proof)).await, 400).await, "invalid_dpop_proof", "{what}");
        }
        // Two DPoP headers (§4.3 item 1).
        let one = key.proof_at("POST", &server.url("/oauth2/token"), server.clock_now(), None);
        let two = key.proof_at("POST", &server.url("/oauth2/token"), server.clock_now(), None);
        let res = server.http.post(server.url("/oauth2/token"))
            .basic_auth(&client.0, Some(&client.1))
            .header("DPoP", one).header("DPoP", two)
            .form(&[("grant_type", "client_credentials")])
            .send().await.expect("post");
        assert_eq!(error_of(res, 400).await, "invalid_dpop_proof");
    }

    async fn attack_stolen_dpop_token_without_key(db) {
        // §7.1, §7.2: a bound token is no bearer token, and no other key's proof serves it.
        let s = setup(&db).await;
        let (key, thief) = (Key::es256(), Key::es256());
        let access = field(&code_tokens(&s, &key).await, "access_token");
        let url = s.server.url("/oauth2/userinfo");
        let res = userinfo(&s.server, "Bearer", &access, None).await;
        assert_eq!(res.status(), 401);
        let challenge = res.headers()["www-authenticate"].to_str().expect("ascii").to_owned();
        assert!(challenge.starts_with("DPoP algs=\"ES256 RS256 PS256 EdDSA\", error=\"invalid_token\""), "{challenge}");
        // Bearer with a proof beside it is still Bearer.
        let proof = key.proof_at("GET", &url, s.server.clock_now(), Some(&access));
        assert_eq!(userinfo(&s.server, "Bearer", &access, Some(&proof)).await.status(), 401);
        // The thief's own key, with a proof that is otherwise perfect.
        let proof = thief.proof_at("GET", &url, s.server.clock_now(), Some(&access));
        let res = userinfo(&s.server, "DPoP", &access, Some(&proof)).await;
        assert_eq!(res.status(), 401);
        let challenge = res.headers()["www-authenticate"].to_str().expect("ascii").to_owned();
        assert!(challenge.contains("error=\"invalid_dpop_proof\""), "{challenge}");
        // The DPoP scheme without any proof.
        assert_eq!(error_of(userinfo(&s.server, "DPoP", &access, None).await, 401).await, "invalid_dpop_proof");
        // A proof replayed at the resource (§11.1).
        let proof = key.proof_at("GET", &url, s.server.clock_now(), Some(&access));
        ok(userinfo(&s.server, "DPoP", &access, Some(&proof)).await).await;
        assert_eq!(error_of(userinfo(&s.server, "DPoP", &access, Some(&proof)).await, 401).await, "invalid_dpop_proof");
        // The JSON API's guard answers the same way (a third-party token gets no further there,
        // but it is refused for its binding first).
        let res = s.server.http.get(s.server.url("/api/v1/me"))
            .header("Authorization", format!("Bearer {access}")).send().await.expect("me");
        assert_eq!(res.status(), 401);
        assert!(res.headers()["www-authenticate"].to_str().expect("ascii").starts_with("DPoP "));
    }

    async fn attack_dpop_ath_mismatch(db) {
        // §4.3 item 12 (§7): a proof made for another token does not carry this one.
        let s = setup(&db).await;
        let key = Key::es256();
        let first = field(&code_tokens(&s, &key).await, "access_token");
        let second = field(&code_tokens(&s, &key).await, "access_token");
        let url = s.server.url("/oauth2/userinfo");
        let proof = key.proof_at("GET", &url, s.server.clock_now(), Some(&first));
        assert_eq!(error_of(userinfo(&s.server, "DPoP", &second, Some(&proof)).await, 401).await, "invalid_dpop_proof");
        // No `ath` at all.
        let proof = key.proof_at("GET", &url, s.server.clock_now(), None);
        assert_eq!(error_of(userinfo(&s.server, "DPoP", &second, Some(&proof)).await, 401).await, "invalid_dpop_proof");
        // Control.
        let proof = key.proof_at("GET", &url, s.server.clock_now(), Some(&second));
        ok(userinfo(&s.server, "DPoP", &second, Some(&proof)).await).await;
    }

    async fn attack_dpop_bound_refresh_token_with_another_key(db) {
        // §5: a public client's refresh token is bound to the key; a confidential client's is
        // not (its authentication binds it).
        let s = setup(&db).await;
        let (key, thief) = (Key::es256(), Key::es256());
        let rt = field(&code_tokens(&s, &key).await, "refresh_token");
        let htu = s.server.url("/oauth2/token");
        assert_eq!(error_of(refresh(&s, &rt, None).await, 400).await, "invalid_grant");
        let proof = thief.proof_at("POST", &htu, s.server.clock_now(), None);
        assert_eq!(error_of(refresh(&s, &rt, Some(&proof)).await, 400).await, "invalid_grant");
        // The holder of the key still refreshes (the refusals consumed nothing), and the new
        // access token is bound to the same key.
        let proof = key.proof_at("POST", &htu, s.server.clock_now(), None);
        let body = ok(refresh(&s, &rt, Some(&proof)).await).await;
        assert_eq!(body["token_type"], "DPoP");
        assert_eq!(jwt_claims(&field(&body, "access_token"))["cnf"]["jkt"], key.thumbprint());
        // Its successor is bound too.
        let next = field(&body, "refresh_token");
        assert_eq!(error_of(refresh(&s, &next, None).await, 400).await, "invalid_grant");
    }

    async fn rfc9449_5_a_confidential_clients_refresh_token_is_not_bound(db) {
        let s = setup(&db).await;
        let key = Key::es256();
        let code = confidential_code(&s).await;
        let secret = s.confidential["client_secret"].as_str().expect("secret");
        let basic = Some((id(&s.confidential), secret));
        let proof = key.proof_at("POST", &s.server.url("/oauth2/token"), s.server.clock_now(), None);
        let body = ok(post(&s.server, "/oauth2/token", basic, Some(&proof), &[
            ("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", VERIFIER),
        ]).await).await;
        assert_eq!(body["token_type"], "DPoP");
        // Refreshed without a proof: an unbound Bearer token.
        let again = ok(post(&s.server, "/oauth2/token", basic, None, &[
            ("grant_type", "refresh_token"), ("refresh_token", &field(&body, "refresh_token")),
        ]).await).await;
        assert_eq!(again["token_type"], "Bearer");
    }

    async fn attack_dpop_bound_client_without_proof(db) {
        // §5.2: a client registered with `dpop_bound_access_tokens` always sends a proof.
        let server = TestServer::start(&db);
        let res = server.post_json("/oauth2/register", &json!({
            "grant_types": ["client_credentials"], "dpop_bound_access_tokens": "yes",
        })).await;
        assert_eq!(res.status(), 400, "a boolean");
        let client = service(&server, json!({ "dpop_bound_access_tokens": true })).await;
        assert_eq!(error_of(client_credentials(&server, &client, None).await, 400).await, "invalid_dpop_proof");
        // Twice: the second time the client is in this instance's cache (the fast path).
        assert_eq!(error_of(client_credentials(&server, &client, None).await, 400).await, "invalid_dpop_proof");
        let key = Key::es256();
        let proof = key.proof_at("POST", &server.url("/oauth2/token"), server.clock_now(), None);
        assert_eq!(ok(client_credentials(&server, &client, Some(&proof)).await).await["token_type"], "DPoP");
    }

    async fn attack_dpop_jkt_bound_code_redeemed_with_another_key(db) {
        // §10: a code bound at the authorization endpoint by `dpop_jkt` is redeemed only with
        // a proof of that key; refusals do not spend it.
        let s = setup(&db).await;
        let (key, thief) = (Key::es256(), Key::es256());
        let jkt = key.thumbprint();
        let ch = challenge(VERIFIER);
        let params = [
            ("response_type", "code"), ("client_id", id(&s.public)), ("redirect_uri", REDIRECT),
            ("scope", "openid"), ("state", "st"), ("code_challenge", ch.as_str()),
            ("code_challenge_method", "S256"), ("dpop_jkt", jkt.as_str()),
        ];
        let res = authorize(&s.server, &s.http, &params).await;
        let res = decide(&s.server, &s.http, res, "allow").await;
        let code = redirected(&res)["code"].clone();
        let htu = s.server.url("/oauth2/token");
        assert_eq!(error_of(exchange(&s, &code, None).await, 400).await, "invalid_grant");
        let proof = thief.proof_at("POST", &htu, s.server.clock_now(), None);
        assert_eq!(error_of(exchange(&s, &code, Some(&proof)).await, 400).await, "invalid_grant");
        let proof = key.proof_at("POST", &htu, s.server.clock_now(), None);
        let body = ok(exchange(&s, &code, Some(&proof)).await).await;
        assert_eq!(jwt_claims(&field(&body, "access_token"))["cnf"]["jkt"], jkt);
        // A `dpop_jkt` that is no thumbprint is refused at the authorization endpoint.
        let mut bad = params;
        bad[7] = ("dpop_jkt", "short");
        let res = authorize(&s.server, &s.http, &bad).await;
        assert_eq!(redirected(&res)["error"], "invalid_request");
    }

    async fn rfc9449_8_use_dpop_nonce_round_trip(db) {
        // §8, §9: with nonces on, a proof without the server's nonce is answered with one; the
        // nonce is stateless, so another instance with the same keys takes it.
        let keys = std::sync::Arc::new(primitives::seal::KeyRing::parse(&primitives::seal::KeyRing::generate_entry("k")).expect("ring"));
        let ring = keys.clone();
        let a = TestServer::start_with(&db, |s| { s.dpop_nonce = true; s.encryption_keys = Some(ring); });
        let issuer = url::Url::parse(&a.base).expect("issuer");
        let ring = keys.clone();
        let b = TestServer::start_with(&db, |s| { s.dpop_nonce = true; s.encryption_keys = Some(ring); s.set_issuer(issuer); });
        let key = Key::es256();
        let client = service(&a, json!({})).await;
        let htu = a.url("/oauth2/token");
        let res = client_credentials(&a, &client, Some(&key.proof_at("POST", &htu, a.clock_now(), None))).await;
        let nonce = res.headers().get("dpop-nonce").expect("DPoP-Nonce").to_str().expect("ascii").to_owned();
        assert_eq!(error_of(res, 400).await, "use_dpop_nonce");
        let with_nonce = |nonce: &str| {
            let mut c = claims("POST", &htu, a.clock_now(), None);
            c["nonce"] = json!(nonce);
            key.sign(&key.header(), &c)
        };
        // A made-up nonce is no nonce.
        assert_eq!(error_of(client_credentials(&a, &client, Some(&with_nonce("made-up"))).await, 400).await, "use_dpop_nonce");
        let body = ok(client_credentials(&b, &client, Some(&with_nonce(&nonce))).await).await;
        let access = field(&body, "access_token");
        assert_eq!(body["token_type"], "DPoP");
        // The resource asks the same way: 401 with a DPoP challenge and a nonce.
        let url = a.url("/oauth2/userinfo");
        let res = userinfo(&a, "DPoP", &access, Some(&key.proof_at("GET", &url, a.clock_now(), Some(&access)))).await;
        assert_eq!(res.status(), 401);
        assert!(res.headers()["www-authenticate"].to_str().expect("ascii").contains("error=\"use_dpop_nonce\""));
        assert!(res.headers().get("dpop-nonce").is_some());
        // A nonce of long ago is stale.
        a.clock.advance(601);
        b.clock.advance(601);
        assert_eq!(error_of(client_credentials(&a, &client, Some(&with_nonce(&nonce))).await, 400).await, "use_dpop_nonce");
    }
}
