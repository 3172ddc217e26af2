//! Keys and access tokens against a real database (each test on SQLite and PostgreSQL).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use primitives::seal::KeyRing;
use tokens::{
    Audience, Issuance, IssuedAccessToken, Keyring, RotationSchedule, RotationStep, SigningAlg,
    TokenError, VerifyError, ensure_keys, issue_access_token, list_keys, rotate_if_due, rotate_key,
    verify_access_token,
};

#[path = "tokens/properties.rs"]
mod properties;

const ISS: &str = "https://id.example.test";
const NOW: i64 = 1_900_000_000;
const DAY: i64 = 86_400;

/// A client-credentials token of `svc-1` for the orders API, signed with `alg`.
fn issue(ring: &Keyring, alg: SigningAlg, now: i64) -> Result<IssuedAccessToken, TokenError> {
    let grant =
        grants::testing::client_grant("svc-1", "orders:read", &["https://api.example.test"]);
    let issuance = Issuance {
        issuer: ISS,
        ttl: 3600,
        alg,
    };
    issue_access_token(ring, &grant, &issuance, now)
}

fn b64json(part: &str) -> serde_json::Value {
    let bytes = URL_SAFE_NO_PAD.decode(part).expect("base64url");
    serde_json::from_slice(&bytes).expect("json")
}

store::backend_tests! {
    fn first_start_makes_one_key_per_algorithm_and_a_second_start_none(db) {
        let mut conn = db.store().conn().expect("conn");
        let made = ensure_keys(&mut conn, &SigningAlg::ALL, NOW, None).expect("ensure");
        assert_eq!(made.len(), 3);
        assert!(ensure_keys(&mut conn, &SigningAlg::ALL, NOW + 5, None).expect("again").is_empty());
        let ring = Keyring::load(&mut conn, NOW, DAY, None).expect("load");
        assert_eq!(ring.len(), 3);
        for alg in SigningAlg::ALL {
            assert!(ring.current(alg).is_some(), "{alg}");
        }
    }

    fn tokens_verify_for_every_algorithm_and_carry_rfc9068_claims(db) {
        let mut conn = db.store().conn().expect("conn");
        ensure_keys(&mut conn, &SigningAlg::ALL, NOW, None).expect("ensure");
        let ring = Keyring::load(&mut conn, NOW, DAY, None).expect("load");
        for alg in SigningAlg::ALL {
            let issued = issue(&ring, alg, NOW).expect("issue");
            let parts: Vec<&str> = issued.token.split('.').collect();
            assert_eq!(parts.len(), 3);
            let header = b64json(parts[0]);
            assert_eq!(header["typ"], "at+jwt");
            assert_eq!(header["alg"], alg.as_str());
            assert_eq!(header["kid"], ring.current(alg).expect("key").kid.as_str());
            let claims = b64json(parts[1]);
            for claim in ["iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"] {
                assert!(claims.get(claim).is_some(), "{alg}: missing {claim}");
            }
            assert_eq!(claims["exp"], NOW + 3600);
            let verified = verify_access_token(&ring, &issued.token, ISS, NOW + 10).expect("verify");
            assert_eq!(verified, issued.claims);
            assert_eq!(verified.aud, Audience::One("https://api.example.test".into()));
        }
    }

    fn rotation_signs_with_the_new_key_and_keeps_the_old_one_verifying(db) {
        let mut conn = db.store().conn().expect("conn");
        ensure_keys(&mut conn, &[SigningAlg::Es256], NOW, None).expect("ensure");
        let before = Keyring::load(&mut conn, NOW, DAY, None).expect("load");
        let old_kid = before.current(SigningAlg::Es256).expect("key").kid.clone();
        let old_token = issue(&before, SigningAlg::Es256, NOW).expect("issue");

        let new_kid = rotate_key(&mut conn, SigningAlg::Es256, NOW + 60, None).expect("rotate");
        assert_ne!(new_kid, old_kid);
        let after = Keyring::load(&mut conn, NOW + 60, 3600, None).expect("load");
        assert_eq!(after.current(SigningAlg::Es256).expect("key").kid, new_kid);
        let new_token = issue(&after, SigningAlg::Es256, NOW + 60).expect("issue");
        assert_eq!(b64json(new_token.token.split('.').next().expect("h"))["kid"], new_kid.as_str());
        verify_access_token(&after, &old_token.token, ISS, NOW + 61).expect("old still verifies");
        verify_access_token(&after, &new_token.token, ISS, NOW + 61).expect("new verifies");
        let jwks = after.jwks();
        let kids: Vec<&str> = jwks["keys"].as_array().expect("keys").iter().filter_map(|k| k["kid"].as_str()).collect();
        assert!(kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()), "{kids:?}");

        // Once every token the old key signed has expired, it is no longer published.
        let later = Keyring::load(&mut conn, NOW + 60 + 3601, 3600, None).expect("load");
        assert!(later.find(&old_kid).is_none());
        assert!(later.find(&new_kid).is_some());
        let listed = list_keys(&mut conn).expect("list");
        assert_eq!(listed.len(), 2);
        assert!(listed.iter().any(|k| k.kid == old_kid && k.retired_at == Some(NOW + 60)));
    }

    fn sealed_keys_open_with_their_master_key_only(db) {
        let master = KeyRing::parse(&KeyRing::generate_entry("k1")).expect("ring");
        let mut conn = db.store().conn().expect("conn");
        let made = ensure_keys(&mut conn, &SigningAlg::ALL, NOW, Some(&master)).expect("ensure");
        for row in store::keys::all(&mut conn).expect("rows") {
            assert!(row.sealed && row.private_key.starts_with("k1."), "{}", row.kid);
        }
        let ring = Keyring::load_all(&mut conn, NOW, DAY, Some(&master)).expect("opens");
        let token = issue(&ring, SigningAlg::Es256, NOW).expect("signs");
        verify_access_token(&ring, &token.token, ISS, NOW + 1).expect("verifies");
        // Without the master key, or with another: an error naming the key; never a panic.
        let other = KeyRing::parse(&KeyRing::generate_entry("k1")).expect("ring");
        for (seal, why) in [(None, "no encryption keys"), (Some(&other), "does not open")] {
            let refused = Keyring::load_all(&mut conn, NOW, DAY, seal).expect_err("refused").to_string();
            assert!(refused.contains(why), "{refused}");
            assert!(made.iter().any(|kid| refused.contains(kid.as_str())), "{refused}");
            // Loading leniently skips them: nothing signs.
            let ring = Keyring::load(&mut conn, NOW, DAY, seal).expect("load");
            assert!(ring.is_empty());
            assert!(matches!(issue(&ring, SigningAlg::Es256, NOW), Err(TokenError::NoCurrentKey(_))));
        }
    }

    fn clear_keys_are_sealed_once(db) {
        let master = KeyRing::parse(&KeyRing::generate_entry("k1")).expect("ring");
        let mut conn = db.store().conn().expect("conn");
        let mut made = ensure_keys(&mut conn, &SigningAlg::ALL, NOW, None).expect("ensure");
        let before = Keyring::load(&mut conn, NOW, DAY, None).expect("load");
        let token = issue(&before, SigningAlg::Es256, NOW).expect("signs");
        let mut sealed = tokens::seal_stored_keys(&mut conn, &master).expect("seal");
        sealed.sort();
        made.sort();
        assert_eq!(sealed, made);
        assert!(tokens::seal_stored_keys(&mut conn, &master).expect("again").is_empty());
        let after = Keyring::load_all(&mut conn, NOW, DAY, Some(&master)).expect("opens");
        assert_eq!(after.jwks(), before.jwks(), "the same keys");
        verify_access_token(&after, &token.token, ISS, NOW + 1).expect("verifies");
    }

    fn scheduled_rotation_publishes_ahead_then_signs_then_retires(db) {
        let schedule = RotationSchedule { every: 10 * DAY, prepublish: DAY };
        let mut conn = db.store().conn().expect("conn");
        ensure_keys(&mut conn, &SigningAlg::ALL, NOW, None).expect("ensure");
        let old = Keyring::load(&mut conn, NOW, 3600, None).expect("load");
        let old_kid = old.current(SigningAlg::Es256).expect("key").kid.clone();
        assert!(!rotate_if_due(&mut conn, NOW + 9 * DAY - 1, schedule, None).expect("step").changed());
        let step = rotate_if_due(&mut conn, NOW + 9 * DAY, schedule, None).expect("step");
        assert_eq!((step.made.len(), step.retired), (3, 0));
        assert_eq!(rotate_if_due(&mut conn, NOW + 9 * DAY + 60, schedule, None).expect("again"), RotationStep::default());
        // Published, not signing.
        let ahead = Keyring::load(&mut conn, NOW + 10 * DAY - 1, 3600, None).expect("load");
        assert_eq!(ahead.len(), 6);
        assert_eq!(ahead.current(SigningAlg::Es256).expect("key").kid, old_kid);
        let last_old = issue(&ahead, SigningAlg::Es256, NOW + 10 * DAY - 1).expect("issue");
        // Signing from its time, even before a step retires the old key.
        let now = NOW + 10 * DAY;
        let taken_over = Keyring::load(&mut conn, now, 3600, None).expect("load");
        let new_kid = taken_over.current(SigningAlg::Es256).expect("key").kid.clone();
        assert!(step.made.contains(&new_kid));
        let step = rotate_if_due(&mut conn, now + 30, schedule, None).expect("step");
        assert_eq!((step.made.len(), step.retired), (0, 3));
        let listed = list_keys(&mut conn).expect("list");
        assert!(listed.iter().any(|k| k.kid == old_kid && k.retired_at == Some(now + 30)));
        assert!(listed.iter().any(|k| k.kid == new_kid && k.signs_from == now && k.retired_at.is_none()));
        // The old key verifies its last token until its retirement ends, then is withdrawn.
        let retired = Keyring::load(&mut conn, now + 30 + 3599, 3600, None).expect("load");
        verify_access_token(&retired, &last_old.token, ISS, now + 60).expect("still verifies");
        let gone = Keyring::load(&mut conn, now + 30 + 3600, 3600, None).expect("load");
        assert!(gone.find(&old_kid).is_none() && gone.find(&new_kid).is_some());
        // The successor's own successor comes 10 days after it started signing.
        assert!(!rotate_if_due(&mut conn, now + 9 * DAY - 1, schedule, None).expect("step").changed());
        assert_eq!(rotate_if_due(&mut conn, now + 9 * DAY, schedule, None).expect("step").made.len(), 3);
        // Off: nothing is made.
        let off = RotationSchedule { every: 0, prepublish: DAY };
        assert!(rotate_if_due(&mut conn, now + 100 * DAY, off, None).expect("step").made.is_empty());
    }

    fn two_instances_rotating_at_once_make_one_key(db) {
        let schedule = RotationSchedule { every: 10 * DAY, prepublish: DAY };
        {
            let mut conn = db.store().conn().expect("conn");
            ensure_keys(&mut conn, &SigningAlg::ALL, NOW, None).expect("ensure");
        }
        let mut signs_from = NOW;
        for round in 1..=5 {
            let due = signs_from + 9 * DAY;
            let barrier = std::sync::Barrier::new(2);
            let made: Vec<String> = std::thread::scope(|s| {
                let callers: Vec<_> = (0..2)
                    .map(|_| {
                        let (store, barrier) = (db.store(), &barrier);
                        s.spawn(move || {
                            let mut conn = store.conn().expect("conn");
                            barrier.wait();
                            rotate_if_due(&mut conn, due, schedule, None).expect("step").made
                        })
                    })
                    .collect();
                callers.into_iter().flat_map(|c| c.join().expect("caller")).collect()
            });
            assert_eq!(made.len(), 3, "round {round}: one successor per algorithm: {made:?}");
            let mut conn = db.store().conn().expect("conn");
            let current = store::keys::live(&mut conn, i64::MAX).expect("rows");
            assert_eq!(current.len(), 6, "round {round}");
            signs_from = due + DAY;
            assert_eq!(rotate_if_due(&mut conn, signs_from, schedule, None).expect("step").retired, 3);
        }
    }
}

mod verification {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};

    fn ring() -> (store::testing::TestDb, Keyring) {
        let db = store::testing::TestDb::sqlite();
        let ring = {
            let mut conn = db.store().conn().expect("conn");
            ensure_keys(&mut conn, &SigningAlg::ALL, NOW, None).expect("ensure");
            Keyring::load(&mut conn, NOW, DAY, None).expect("load")
        };
        (db, ring)
    }

    fn forge(header: serde_json::Value, claims: serde_json::Value, signature: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    #[test]
    fn times_and_issuer_are_enforced() {
        let (_db, ring) = ring();
        let t = issue(&ring, SigningAlg::Es256, NOW).expect("issue").token;
        assert_eq!(
            verify_access_token(&ring, &t, ISS, NOW + 3600),
            Err(VerifyError::Expired)
        );
        assert_eq!(
            verify_access_token(&ring, &t, ISS, NOW - 120),
            Err(VerifyError::NotYetValid)
        );
        assert_eq!(
            verify_access_token(&ring, &t, "https://other.test", NOW),
            Err(VerifyError::WrongIssuer)
        );
    }

    #[test]
    fn alg_none_and_unknown_kids_and_tampering_are_refused() {
        let (_db, ring) = ring();
        let good = issue(&ring, SigningAlg::Es256, NOW).expect("issue").token;
        let parts: Vec<&str> = good.split('.').collect();
        let mut header = b64json(parts[0]);
        let claims = b64json(parts[1]);

        header["alg"] = "none".into();
        let none = forge(header.clone(), claims.clone(), b"");
        assert!(verify_access_token(&ring, &none, ISS, NOW).is_err());

        let mut unknown = b64json(parts[0]);
        unknown["kid"] = "not-ours".into();
        let t = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(unknown.to_string()),
            parts[1],
            parts[2]
        );
        assert_eq!(
            verify_access_token(&ring, &t, ISS, NOW),
            Err(VerifyError::UnknownKey)
        );

        let mut widened = claims.clone();
        widened["scope"] = "admin".into();
        let t = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(widened.to_string()),
            parts[2]
        );
        assert_eq!(
            verify_access_token(&ring, &t, ISS, NOW),
            Err(VerifyError::BadSignature)
        );

        let mut untyped = b64json(parts[0]);
        untyped["typ"] = "JWT".into();
        let t = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(untyped.to_string()),
            parts[1],
            parts[2]
        );
        assert_eq!(
            verify_access_token(&ring, &t, ISS, NOW),
            Err(VerifyError::WrongType)
        );

        for junk in ["", "a.b.c", "....", "eyJ.eyJ.x"] {
            assert!(
                verify_access_token(&ring, junk, ISS, NOW).is_err(),
                "{junk}"
            );
        }
    }

    #[test]
    fn hs256_signed_with_the_public_key_is_refused() {
        let (_db, ring) = ring();
        let rsa = ring.current(SigningAlg::Rs256).expect("rsa");
        let public = rsa.public_jwk().to_string();
        let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
        header.typ = Some("at+jwt".into());
        header.kid = Some(rsa.kid.clone());
        let claims = serde_json::json!({
            "iss": ISS, "sub": "x", "aud": "y", "exp": NOW + 100, "iat": NOW,
            "jti": "j", "client_id": "x",
        });
        let forged = jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_secret(public.as_bytes()),
        )
        .expect("encode");
        assert_eq!(
            verify_access_token(&ring, &forged, ISS, NOW),
            Err(VerifyError::AlgorithmMismatch)
        );
    }

    #[test]
    fn a_token_of_one_algorithm_cannot_borrow_the_kid_of_another() {
        let (_db, ring) = ring();
        let ec = issue(&ring, SigningAlg::Es256, NOW).expect("issue").token;
        let parts: Vec<&str> = ec.split('.').collect();
        let mut header = b64json(parts[0]);
        header["kid"] = ring
            .current(SigningAlg::Rs256)
            .expect("rsa")
            .kid
            .clone()
            .into();
        let t = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            parts[1],
            parts[2]
        );
        assert_eq!(
            verify_access_token(&ring, &t, ISS, NOW),
            Err(VerifyError::AlgorithmMismatch)
        );
    }

    #[test]
    fn the_jwks_has_public_members_only() {
        let (_db, ring) = ring();
        let jwks = ring.jwks();
        let keys = jwks["keys"].as_array().expect("keys");
        assert_eq!(keys.len(), 3);
        for key in keys {
            for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
                assert!(key.get(private).is_none(), "{private} published in {key}");
            }
            assert_eq!(key["use"], "sig");
            let decoded: jsonwebtoken::jwk::Jwk =
                serde_json::from_value(key.clone()).expect("a JWK");
            jsonwebtoken::DecodingKey::from_jwk(&decoded).expect("usable");
        }
        let ec = keys.iter().find(|k| k["kty"] == "EC").expect("ec");
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(ec["x"].as_str().expect("x"))
                .expect("b64")
                .len(),
            32
        );
        let rsa = keys.iter().find(|k| k["kty"] == "RSA").expect("rsa");
        let n = URL_SAFE_NO_PAD
            .decode(rsa["n"].as_str().expect("n"))
            .expect("b64");
        assert_eq!(n.len(), 256, "2048-bit modulus without a leading zero");
        assert_ne!(n[0], 0);
    }

    /// A logout token of the client `app` for the session `s1` of `usr_1`.
    fn logout_token(ring: &Keyring, alg: SigningAlg) -> String {
        let subject = tokens::LogoutSubject {
            client_id: "app",
            sub: "usr_1",
            sid: "s1",
            jti: "j1",
        };
        let issuance = Issuance {
            issuer: ISS,
            ttl: 120,
            alg,
        };
        tokens::issue_logout_token(ring, &subject, &issuance, NOW).expect("sign")
    }

    #[test]
    fn logout_tokens_carry_what_back_channel_logout_asks_and_no_nonce() {
        let (_db, ring) = ring();
        for alg in SigningAlg::ALL {
            let t = logout_token(&ring, alg);
            let parts: Vec<&str> = t.split('.').collect();
            let header = b64json(parts[0]);
            assert_eq!(header["typ"], "logout+jwt");
            assert_eq!(header["kid"], ring.current(alg).expect("key").kid.as_str());
            assert_eq!(
                b64json(parts[1]),
                serde_json::json!({
                    "iss": ISS, "aud": "app", "iat": NOW, "exp": NOW + 120, "jti": "j1",
                    "sub": "usr_1", "sid": "s1",
                    "events": { (tokens::BACKCHANNEL_LOGOUT_EVENT): {} },
                })
            );
        }
    }

    #[test]
    fn attack_logout_token_passed_as_an_id_token_or_access_token() {
        // A logout token is signed by the same keys: its `typ` keeps it from passing for an
        // ID token (a logout's `id_token_hint`, a token exchange's subject) or an access token.
        let (_db, ring) = ring();
        let t = logout_token(&ring, SigningAlg::Rs256);
        assert_eq!(
            tokens::verify_id_token_hint(&ring, &t, ISS),
            Err(VerifyError::WrongType)
        );
        assert_eq!(
            tokens::verify_id_token(&ring, &t, ISS, NOW),
            Err(VerifyError::WrongType)
        );
        assert_eq!(
            verify_access_token(&ring, &t, ISS, NOW).map(|_| ()),
            Err(VerifyError::WrongType)
        );
    }
}
