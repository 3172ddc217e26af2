//! Signing keys sealed at rest under the master key (`PORTCULLIS_ENCRYPTION_KEYS`), and their
//! scheduled rotation (`PORTCULLIS_KEY_ROTATION_DAYS`, `PORTCULLIS_KEY_PREPUBLISH_HOURS`)
//! observed by two instances on one database.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use primitives::seal::KeyRing;
use primitives::{Clock as _, SystemClock};
use serde_json::Value;

use crate::common::*;
use crate::exchange::agent_token;
use crate::token::{service_client, verify_with_jwks};

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

fn ring(entries: &str) -> Arc<KeyRing> {
    Arc::new(KeyRing::parse(entries).expect("key ring"))
}

fn stored_keys(db: &TestDb) -> Vec<store::keys::SigningKeyRow> {
    let mut conn = db.store().conn().expect("conn");
    store::keys::all(&mut conn).expect("keys")
}

/// The private secrets of a PKCS#8 document a grep of the database must not find: the
/// document (DER and base64), and the bare private scalar or seed (raw, and base64url as a
/// JWK's `d` carries it) of P-256 and Ed25519 keys.
fn secrets_of(pkcs8: &[u8]) -> Vec<Vec<u8>> {
    let mut found = vec![
        pkcs8.to_vec(),
        STANDARD.encode(pkcs8).into_bytes(),
        URL_SAFE_NO_PAD.encode(pkcs8).into_bytes(),
    ];
    // ECPrivateKey (RFC 5915): version 1, then the scalar as an OCTET STRING of 32 bytes.
    // Ed25519 (RFC 8410): the seed as an OCTET STRING of 32 bytes inside an OCTET STRING.
    for marker in [
        &[0x02, 0x01, 0x01, 0x04, 0x20][..],
        &[0x04, 0x22, 0x04, 0x20][..],
    ] {
        if let Some(at) = pkcs8.windows(marker.len()).position(|w| w == marker) {
            let d = &pkcs8[at + marker.len()..at + marker.len() + 32];
            found.push(d.to_vec());
            found.push(URL_SAFE_NO_PAD.encode(d).into_bytes());
        }
    }
    found
}

/// What the database holds, as bytes: the SQLite file and its write-ahead log; on PostgreSQL
/// every stored column of the signing keys.
fn stored_bytes(db: &TestDb) -> Vec<u8> {
    match db.backend() {
        Backend::Sqlite => {
            let path = db.url().trim_start_matches("sqlite://");
            let mut bytes = std::fs::read(path).expect("the database file");
            bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
            bytes
        }
        Backend::Postgres => stored_keys(db)
            .iter()
            .flat_map(|r| {
                [&r.kid, &r.alg, &r.private_key, &r.public_jwk]
                    .map(|c| c.as_bytes().to_vec())
                    .concat()
            })
            .collect(),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .expect("header")
        .kid
        .expect("kid")
}

async fn published_kids(server: &TestServer) -> Vec<String> {
    let jwks: Value = json_of(server.get("/jwks.json").await).await;
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect()
}

/// Waits (at most 10 s) until the stored keys satisfy `done`: the rotation thread's step.
async fn wait_for_keys(
    db: &TestDb,
    what: &str,
    done: impl Fn(&[store::keys::SigningKeyRow]) -> bool,
) -> Vec<store::keys::SigningKeyRow> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = stored_keys(db);
        if done(&rows) {
            return rows;
        }
        assert!(Instant::now() < deadline, "{what}: {rows:?}");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Two instances' settings: one master key, rotation every 10 days with a day's
/// pre-publication, and the rotation step every 20 ms (each test moves the clocks).
fn rotating(master: &Arc<KeyRing>) -> impl Fn(&mut Settings) {
    let master = Arc::clone(master);
    move |s: &mut Settings| {
        s.encryption_keys = Some(Arc::clone(&master));
        s.key_rotation_days = 10;
        s.key_prepublish_hours = 24;
    }
}

fn fast_rotation_step(state: &mut server::AppState) {
    state.key_rotation_check = Duration::from_millis(20);
}

on_both_backends! {
    async fn stored_keys_hold_no_private_key_in_the_clear(db) {
        let server = TestServer::start(&db);
        let master = server.encryption_keys.clone().expect("the harness seals");
        let client = service_client(&server, "client_secret_basic").await;
        verify_with_jwks(&server, &agent_token(&server, &client).await, &server.base).await;
        // One more key per algorithm, made by a rotation.
        {
            let mut conn = db.store().conn().expect("conn");
            for alg in tokens::SigningAlg::ALL {
                tokens::rotate_key(&mut conn, alg, server.clock_now(), Some(&*master)).expect("rotate");
            }
        }
        let rows = stored_keys(&db);
        assert_eq!(rows.len(), 6);
        let bytes = stored_bytes(&db);
        assert!(!contains(&bytes, b"PRIVATE KEY"));
        for row in &rows {
            assert!(row.sealed, "{}", row.kid);
            assert!(row.private_key.starts_with("test."), "sealed under the ring's key: {}", row.kid);
            let pkcs8 = tokens::private_pkcs8(row, Some(&*master)).expect("opens with the master key");
            for secret in secrets_of(&pkcs8) {
                assert!(!contains(&bytes, &secret), "{}: a private secret is stored in the clear", row.kid);
            }
        }
        // The published keys are public halves only.
        let jwks: Value = json_of(server.get("/jwks.json").await).await;
        for key in jwks["keys"].as_array().expect("keys") {
            for private in ["d", "p", "q", "dp", "dq", "qi"] {
                assert!(key.get(private).is_none(), "{key}");
            }
        }
    }

    async fn attack_stolen_database_signs_nothing(db) {
        let server = TestServer::start(&db);
        let kids: Vec<String> = stored_keys(&db).into_iter().map(|r| r.kid).collect();
        drop(server);
        // The thief's instance on a copy of the database (here: the database itself), without
        // the master key: it refuses to start, naming a key it cannot open.
        let refused = TestServer::try_start_with_state(&db, |s| s.encryption_keys = None, |_| {})
            .err()
            .expect("no start without the master key")
            .to_string();
        assert!(refused.contains("no encryption keys"), "{refused}");
        assert!(kids.iter().any(|kid| refused.contains(kid.as_str())), "{refused}");
        // With a master key of its own: the same.
        let refused = TestServer::try_start_with_state(
            &db,
            |s| s.encryption_keys = Some(ring(&KeyRing::generate_entry("test"))),
            |_| {},
        )
        .err()
        .expect("no start with another master key")
        .to_string();
        assert!(refused.contains("does not open"), "{refused}");
        assert!(kids.iter().any(|kid| refused.contains(kid.as_str())), "{refused}");
        // And its own code, reading the rows: no key it could sign with.
        let mut conn = db.store().conn().expect("conn");
        let keyring = tokens::Keyring::load(&mut conn, SystemClock.now(), DAY, None).expect("load");
        for alg in tokens::SigningAlg::ALL {
            assert!(keyring.current(alg).is_none(), "{alg}");
        }
        // Nor did the refused starts make keys in the clear for it to sign with.
        assert!(stored_keys(&db).iter().all(|r| r.sealed));
        assert_eq!(stored_keys(&db).len(), kids.len());
    }

    async fn attack_sealed_key_moved_to_another_kid_does_not_open(db) {
        let server = TestServer::start(&db);
        let master = server.encryption_keys.clone().expect("the harness seals");
        let second = {
            let mut conn = db.store().conn().expect("conn");
            tokens::rotate_key(&mut conn, tokens::SigningAlg::Es256, server.clock_now(), Some(&*master)).expect("rotate")
        };
        let first = stored_keys(&db)
            .into_iter()
            .find(|r| r.alg == "ES256" && r.kid != second)
            .expect("the first ES256 key")
            .kid;
        drop(server);
        // The retired key's sealed private part, copied onto the current key's row: whoever can
        // write the database cannot make the current kid sign with another key.
        db.execute(&format!(
            "UPDATE signing_keys SET private_key = \
             (SELECT private_key FROM signing_keys WHERE kid = '{first}') WHERE kid = '{second}'"
        ));
        let moved = stored_keys(&db).into_iter().find(|r| r.kid == second).expect("row");
        let refused = tokens::private_pkcs8(&moved, Some(&*master)).expect_err("bound to its kid");
        assert!(refused.to_string().contains(&second), "{refused}");
        let refused = TestServer::try_start_with_state(&db, |s| s.encryption_keys = Some(Arc::clone(&master)), |_| {})
            .err()
            .expect("no start with a moved key")
            .to_string();
        assert!(refused.contains(&second) && refused.contains("does not open"), "{refused}");
    }

    async fn a_clear_key_is_sealed_at_start_and_still_signs(db) {
        // Keys of a deployment that had no master key: stored in the clear.
        let clear = {
            let mut conn = db.store().conn().expect("conn");
            tokens::ensure_keys(&mut conn, &tokens::SigningAlg::ALL, SystemClock.now(), None).expect("keys")
        };
        let before = stored_keys(&db);
        assert!(before.iter().all(|r| !r.sealed && STANDARD.decode(&r.private_key).is_ok()));
        let server = TestServer::start(&db);
        let master = server.encryption_keys.clone().expect("the harness seals");
        let after = stored_keys(&db);
        assert_eq!(after.len(), clear.len(), "no new keys: the same ones, sealed");
        for row in &after {
            let was = before.iter().find(|b| b.kid == row.kid).expect("same kid");
            assert!(row.sealed && row.private_key != was.private_key, "{}", row.kid);
            assert_eq!(row.public_jwk, was.public_jwk);
            assert_eq!(
                tokens::private_pkcs8(row, Some(&*master)).expect("opens"),
                STANDARD.decode(&was.private_key).expect("base64"),
            );
        }
        let client = service_client(&server, "client_secret_basic").await;
        let token = agent_token(&server, &client).await;
        assert!(clear.contains(&kid_of(&token)), "signed with the sealed key");
        verify_with_jwks(&server, &token, &server.base).await;
        drop(server);
        // A second start seals nothing more and changes nothing.
        let again = TestServer::start_with(&db, |s| s.encryption_keys = Some(Arc::clone(&master)));
        assert_eq!(stored_keys(&db), after);
        drop(again);
    }

    async fn without_a_master_key_keys_stay_in_the_clear_and_sign(db) {
        let server = TestServer::start_with(&db, |s| s.encryption_keys = None);
        let rows = stored_keys(&db);
        assert_eq!(rows.len(), 3);
        assert!(rows.iter().all(|r| !r.sealed));
        let client = service_client(&server, "client_secret_basic").await;
        verify_with_jwks(&server, &agent_token(&server, &client).await, &server.base).await;
    }

    async fn keys_sealed_under_a_rotated_master_key_still_open(db) {
        let old = KeyRing::generate_entry("2026-01");
        let first = TestServer::start_with(&db, |s| s.encryption_keys = Some(ring(&old)));
        let client = service_client(&first, "client_secret_basic").await;
        let old_kid = kid_of(&agent_token(&first, &client).await);
        drop(first);
        // The new master key first (it seals), the old one still in the ring (it opens).
        let both = ring(&format!("{}, {old}", KeyRing::generate_entry("2026-12")));
        let server = TestServer::start_with(&db, |s| s.encryption_keys = Some(Arc::clone(&both)));
        assert_eq!(kid_of(&agent_token(&server, &client).await), old_kid);
        let new_kid = {
            let mut conn = db.store().conn().expect("conn");
            tokens::rotate_key(&mut conn, tokens::SigningAlg::Es256, server.clock_now(), Some(&*both)).expect("rotate")
        };
        let rows = stored_keys(&db);
        let sealed_under = |kid: &str| rows.iter().find(|r| r.kid == kid).expect("row").private_key.split('.').next().expect("id").to_owned();
        assert_eq!(sealed_under(&old_kid), "2026-01");
        assert_eq!(sealed_under(&new_kid), "2026-12");
        let token = agent_token(&server, &client).await;
        assert_eq!(kid_of(&token), new_kid);
        verify_with_jwks(&server, &token, &server.base).await;
    }

    async fn scheduled_rotation_observed_by_two_instances(db) {
        let master = ring(&KeyRing::generate_entry("test"));
        let a = TestServer::start_with_state(&db, rotating(&master), fast_rotation_step);
        let b = TestServer::start_with_state(&db, rotating(&master), fast_rotation_step);
        let client = service_client(&a, "client_secret_basic").await;
        let old_kid = kid_of(&agent_token(&a, &client).await);
        assert_eq!(kid_of(&agent_token(&b, &client).await), old_kid);
        let start = a.clock_now().max(b.clock_now());
        let set = |at: i64| {
            a.clock.set(at);
            b.clock.set(at);
        };

        // Nine days on, one day before the key's tenth: a successor per algorithm, published
        // by both instances, not signing yet. Both instances' rotation steps ran: one key each.
        set(start + 9 * DAY + HOUR);
        let rows = wait_for_keys(&db, "a successor per algorithm", |rows| rows.len() == 6).await;
        let new_es256 = rows
            .iter()
            .find(|r| r.alg == "ES256" && r.successor_of.as_deref() == Some(old_kid.as_str()))
            .expect("the ES256 successor")
            .clone();
        assert_eq!(new_es256.signs_from, start + 9 * DAY + HOUR + DAY);
        assert!(new_es256.sealed);
        for server in [&a, &b] {
            assert!(published_kids(server).await.contains(&new_es256.kid), "published ahead of use");
            assert_eq!(kid_of(&agent_token(server, &client).await), old_kid, "not signing yet");
        }
        // The last tokens the old key signs, an instant before the successor takes over (each
        // instance is an issuer of its own here: its address).
        set(new_es256.signs_from - 1);
        let last_old = [agent_token(&a, &client).await, agent_token(&b, &client).await];
        assert!(last_old.iter().all(|t| kid_of(t) == old_kid));

        // After the pre-publication time: both instances sign with the successor.
        set(new_es256.signs_from);
        for server in [&a, &b] {
            let token = agent_token(server, &client).await;
            assert_eq!(kid_of(&token), new_es256.kid);
            verify_with_jwks(server, &token, &server.base).await;
        }
        let rows = wait_for_keys(&db, "the replaced keys retired", |rows| {
            rows.iter().filter(|r| r.retired_at.is_some()).count() == 3
        })
        .await;
        assert_eq!(rows.len(), 6, "no more keys than one successor per algorithm");
        let retired_at = rows.iter().find(|r| r.kid == old_kid).and_then(|r| r.retired_at).expect("retired");

        // The old key's last token still verifies, on both instances, until its retirement ends.
        for (server, last_old) in [&a, &b].into_iter().zip(&last_old) {
            assert!(published_kids(server).await.contains(&old_kid));
            verify_with_jwks(server, last_old, &server.base).await;
            let res = server.post_form("/oauth2/introspect", Some((&client.0, &client.1)), &[("token", last_old.as_str())]).await;
            assert_eq!(json_of(res).await["active"], true);
        }
        // Then it is withdrawn from the JWKS of both.
        set(retired_at + 3_600 + 300 + 1);
        for server in [&a, &b] {
            let kids = published_kids(server).await;
            assert!(!kids.contains(&old_kid), "{kids:?}");
            assert!(kids.contains(&new_es256.kid), "{kids:?}");
        }
    }
}
