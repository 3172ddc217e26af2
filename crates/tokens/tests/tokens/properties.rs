//! Properties of token verification on untrusted input, against a key ring made in memory
//! (no database). The fuzz target `jwt` checks the same contracts (fuzz/fuzz_targets).

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{EncodingKey, Header};
use proptest::prelude::*;
use serde_json::json;
use tokens::{
    Issuance, Keyring, SigningAlg, issue_id_token, verify_access_token, verify_id_token_hint,
};

use super::{ISS, NOW};

struct Fixture {
    ring: Keyring,
    /// An access token and an ID token per key.
    access: Vec<String>,
    id: Vec<String>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let keys = [
            ("es", SigningAlg::Es256),
            ("rs", SigningAlg::Rs256),
            ("ed", SigningAlg::EdDsa),
        ];
        let ring = Keyring::in_memory(&keys, NOW).expect("key ring");
        let (mut access, mut id) = (Vec::new(), Vec::new());
        for (_, alg) in keys {
            access.push(super::issue(&ring, alg, NOW).expect("access").token);
            let grant = grants::testing::user_grant(
                "usr_1",
                "client-1",
                "openid",
                (Some("n"), Some("sid-1")),
                NOW,
                alg.as_str(),
            );
            let issuance = Issuance {
                issuer: ISS,
                ttl: 3600,
                alg,
            };
            id.push(issue_id_token(&ring, &grant, None, &issuance, NOW).expect("id token"));
        }
        Fixture { ring, access, id }
    })
}

fn never_verifies(token: &str) -> Result<(), TestCaseError> {
    let f = fixture();
    prop_assert!(
        verify_access_token(&f.ring, token, ISS, NOW + 10).is_err(),
        "{}",
        token
    );
    prop_assert!(
        verify_id_token_hint(&f.ring, token, ISS).is_err(),
        "{}",
        token
    );
    Ok(())
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

const BASE64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#[test]
fn the_fixture_tokens_verify_with_their_own_function_only() {
    let f = fixture();
    for t in &f.access {
        assert!(verify_access_token(&f.ring, t, ISS, NOW + 10).is_ok());
        assert!(verify_id_token_hint(&f.ring, t, ISS).is_err());
    }
    for t in &f.id {
        assert!(verify_id_token_hint(&f.ring, t, ISS).is_ok());
        assert!(verify_access_token(&f.ring, t, ISS, NOW + 10).is_err());
    }
}

proptest! {
    #[test]
    fn arbitrary_strings_never_verify(token in any::<String>()) {
        never_verifies(&token)?;
    }

    #[test]
    fn jwt_shaped_garbage_never_verifies(
        parts in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..80), 1..5),
    ) {
        let token: Vec<String> = parts.iter().map(|p| b64(p)).collect();
        never_verifies(&token.join("."))?;
    }

    #[test]
    fn forged_headers_never_verify(
        alg in prop::sample::select(vec!["none", "HS256", "HS512", "RS256", "PS256", "ES256", "ES384", "EdDSA", "es256", ""]),
        kid in prop::option::of(prop::sample::select(vec!["es", "rs", "ed", "other", ""])),
        typ in prop::option::of(prop::sample::select(vec!["at+jwt", "application/at+jwt", "JWT", "jwt"])),
        signature in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut header = json!({ "alg": alg });
        if let Some(kid) = kid { header["kid"] = json!(kid); }
        if let Some(typ) = typ { header["typ"] = json!(typ); }
        let claims = json!({
            "iss": ISS, "sub": "usr_1", "aud": "client-1", "exp": NOW + 3600, "iat": NOW,
            "jti": "j", "client_id": "client-1",
        });
        let token = format!(
            "{}.{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes()),
            b64(&signature)
        );
        never_verifies(&token)?;
    }

    #[test]
    fn hmac_with_a_public_key_never_verifies(
        key in prop::sample::select(vec![0usize, 1, 2]),
        hs in prop::sample::select(vec![jsonwebtoken::Algorithm::HS256, jsonwebtoken::Algorithm::HS384, jsonwebtoken::Algorithm::HS512]),
        typ in prop::sample::select(vec!["at+jwt", "JWT"]),
    ) {
        let f = fixture();
        let kid = ["es", "rs", "ed"][key];
        let jwk = f.ring.find(kid).expect("key").public_jwk();
        let public = jwk.get("x").or(jwk.get("n")).and_then(|v| v.as_str()).expect("public part");
        let mut header = Header::new(hs);
        header.kid = Some(kid.to_owned());
        header.typ = Some(typ.to_owned());
        let claims = json!({
            "iss": ISS, "sub": "usr_1", "aud": "client-1", "exp": NOW + 3600, "iat": NOW,
            "jti": "j", "client_id": "client-1",
        });
        for secret in [public.as_bytes().to_vec(), jwk.to_string().into_bytes()] {
            let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&secret))
                .expect("HMAC");
            never_verifies(&token)?;
        }
    }


    #[test]
    fn a_changed_character_of_a_signed_token_never_verifies(
        which in 0usize..6,
        at in any::<prop::sample::Index>(),
        with in prop::sample::select(BASE64URL.to_vec()),
    ) {
        let f = fixture();
        let token = if which < 3 { &f.access[which] } else { &f.id[which - 3] };
        let mut bytes = token.clone().into_bytes();
        let at = at.index(bytes.len());
        if bytes[at] == b'.' || bytes[at] == with {
            return Ok(());
        }
        bytes[at] = with;
        never_verifies(&String::from_utf8(bytes).expect("ASCII"))?;
    }
}
