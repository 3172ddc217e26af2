//! Credentials at rest: sealed, bound to their service id and origin (the AEAD's associated
//! data), the stored formats that must keep opening, and re-sealing on rotation.

use gateway::GatewayError;

use crate::{create, key, opened, org, other_key, row};

/// Values sealed by this crate with the key [`crate::KEY`], kept as literals: databases hold
/// such values, so they must open with every later build.
mod fixture {
    pub const SERVICE_ID: &str = "svc_fixture";
    pub const BASE_URL: &str = "https://api.example.com";
    pub const VALUE: &str = "Bearer fixture-secret";
    /// The current format: `v2:` and the value sealed with the service id and the origin
    /// (`https://api.example.com:443`) as associated data.
    pub const V2: &str = "v2:K8a7bLK22nH6qeYyFqkT33QGQritSErTL+B64lJLXmpur5SRm3kJyMuEGAM/c3TDew==";
    /// The first format: no marker, the service id alone as associated data.
    pub const V1: &str = "EgBeHULR+yKuE56r63idcdjEqOTJZs3mVnBreAW339naQjMDiuCeOsdYulxRAELWDg==";
}

/// Stores the fixture service in `org` with the given sealed value and base URL.
fn insert_fixture(conn: &mut store::Conn, org: &str, sealed: &str, base_url: &str) {
    insert_row(conn, org, fixture::SERVICE_ID, "fixture", base_url, sealed);
}

/// Changes the fixture row's sealed value and base URL in place.
fn set_fixture(conn: &mut store::Conn, org: &str, sealed: &str, base_url: &str) {
    let mut r = row(conn, org, "fixture");
    r.credential_box = sealed.into();
    r.base_url = base_url.into();
    assert!(store::gateway::update_service(conn, &r).expect("update"));
}

/// Stores a service row as it is, as an older build (or an attacker with the database) would.
fn insert_row(
    conn: &mut store::Conn,
    org: &str,
    id: &str,
    name: &str,
    base_url: &str,
    sealed: &str,
) {
    store::gateway::insert_service(
        conn,
        &store::gateway::ServiceRow {
            id: id.into(),
            org_id: org.into(),
            name: name.into(),
            base_url: base_url.into(),
            path_prefix: String::new(),
            credential_kind: "header".into(),
            credential_name: "Authorization".into(),
            credential_box: sealed.into(),
            credential_hint: "…cret".into(),
            created_at: 0,
            updated_at: 0,
        },
    )
    .expect("insert row");
}

/// A value in the current format, sealed by hand with the documented associated data.
fn seal_v2(id: &str, origin: &str, value: &str) -> String {
    let aad = format!("portcullis gateway credential v2\0{id}\0{origin}");
    format!("v2:{}", key().seal(value, &aad).expect("seal"))
}

store::backend_tests! {
    fn stored_values_of_both_formats_keep_opening(db) {
        let mut conn = db.store().conn().expect("conn");
        let org = org(&mut conn);
        insert_fixture(&mut conn, &org, fixture::V2, fixture::BASE_URL);
        for (sealed, label) in [(fixture::V2, "v2"), (fixture::V1, "first format")] {
            set_fixture(&mut conn, &org, sealed, fixture::BASE_URL);
            assert_eq!(opened(&mut conn, &key(), &org, "fixture").expect(label), fixture::VALUE);
            // Never with another key.
            assert!(matches!(opened(&mut conn, &other_key(), &org, "fixture"), Err(GatewayError::Undecryptable)), "{label}");
        }
    }

    fn a_v2_value_is_bound_to_its_origin_not_to_how_the_url_is_written(db) {
        let mut conn = db.store().conn().expect("conn");
        let org = org(&mut conn);
        insert_fixture(&mut conn, &org, fixture::V2, fixture::BASE_URL);
        // The origin is scheme, host and port, the port always written, the host normalised:
        // these are the destination the fixture was sealed for.
        for same in ["https://api.example.com:443", "https://API.Example.com", "https://api.example.com/"] {
            set_fixture(&mut conn, &org, fixture::V2, same);
            assert_eq!(opened(&mut conn, &key(), &org, "fixture").expect(same), fixture::VALUE);
        }
        // Anything else is another destination: the value does not open there.
        for other in ["https://api.example.com:444", "http://api.example.com", "https://api.example.org", "https://example.com", "not a url"] {
            set_fixture(&mut conn, &org, fixture::V2, other);
            assert!(matches!(opened(&mut conn, &key(), &org, "fixture"), Err(GatewayError::Undecryptable)), "{other}");
        }
        // The first format is bound to the service id only, so it opens wherever the row
        // points (which is why a rotation re-seals it in the current format).
        set_fixture(&mut conn, &org, fixture::V1, "https://elsewhere.example");
        assert_eq!(opened(&mut conn, &key(), &org, "fixture").expect("v1"), fixture::VALUE);
    }

    fn a_value_opens_only_for_its_service_id(db) {
        let mut conn = db.store().conn().expect("conn");
        let org = org(&mut conn);
        // The v2 fixture in a row with another id, same destination: does not open.
        let mut moved = store::gateway::ServiceRow {
            id: "svc_other".into(),
            org_id: org.clone(),
            name: "moved".into(),
            base_url: fixture::BASE_URL.into(),
            path_prefix: String::new(),
            credential_kind: "header".into(),
            credential_name: "Authorization".into(),
            credential_box: fixture::V2.into(),
            credential_hint: "…cret".into(),
            created_at: 0,
            updated_at: 0,
        };
        store::gateway::insert_service(&mut conn, &moved).expect("insert");
        assert!(matches!(opened(&mut conn, &key(), &org, "moved"), Err(GatewayError::Undecryptable)));
        // Nor the first format: it is bound to the id alone.
        moved.credential_box = fixture::V1.into();
        store::gateway::update_service(&mut conn, &moved).expect("update");
        assert!(matches!(opened(&mut conn, &key(), &org, "moved"), Err(GatewayError::Undecryptable)));
        // A value that is not a sealed value at all is the same clean error, in either format.
        for garbage in ["", "v2:", "v2:!!!", "AAAA", "v2:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
            moved.credential_box = garbage.into();
            store::gateway::update_service(&mut conn, &moved).expect("update");
            assert!(matches!(opened(&mut conn, &key(), &org, "moved"), Err(GatewayError::Undecryptable)), "{garbage:?}");
        }
    }

    fn what_is_stored_is_sealed_and_fresh_each_time(db) {
        let mut conn = db.store().conn().expect("conn");
        let org = org(&mut conn);
        let secret = "Bearer sk-live-0123456789abcdef";
        let a = create(&mut conn, &org, "a", "https://a.example", secret);
        create(&mut conn, &org, "b", "https://a.example", secret);
        let (ra, rb) = (row(&mut conn, &org, "a"), row(&mut conn, &org, "b"));
        for r in [&ra, &rb] {
            assert!(r.credential_box.starts_with("v2:"), "new values are in the current format");
            assert!(!r.credential_box.contains("sk-live"));
            assert!(!r.credential_box.contains(&secret[7..]));
        }
        assert_ne!(ra.credential_box, rb.credential_box, "a fresh nonce for every value");
        // What the caller is shown: the hint, never the value.
        assert_eq!(a.credential_hint, "…cdef");
        assert!(!format!("{a:?}").contains("sk-live"));
        let (_, credential) = gateway::service_credential(&mut conn, &key(), &org, "a").expect("open");
        assert_eq!(credential.value, secret);
        let shown = format!("{credential:?}");
        assert!(!shown.contains("sk-live") && shown.contains("Authorization"), "{shown}");
        assert!(!format!("{:?}", crate::new_service("a", "https://a.example", secret)).contains("sk-live"));
        assert!(!format!("{:?}", key()).contains("0001"));
    }

    fn rotation_reseals_every_service_of_every_organization(db) {
        let mut conn = db.store().conn().expect("conn");
        let (one, two) = (org(&mut conn), org(&mut conn));
        create(&mut conn, &one, "a", "https://a.example", "Bearer one-a");
        create(&mut conn, &one, "b", "https://b.example:8443", "Bearer one-b");
        create(&mut conn, &two, "a", "https://a.example", "Bearer two-a");
        insert_fixture(&mut conn, &two, fixture::V1, fixture::BASE_URL);
        assert_eq!(gateway::reseal_all(&mut conn, &key(), &other_key()).expect("reseal"), 4);
        for (org, name, value) in [(&one, "a", "Bearer one-a"), (&one, "b", "Bearer one-b"), (&two, "a", "Bearer two-a"), (&two, "fixture", fixture::VALUE)] {
            assert_eq!(opened(&mut conn, &other_key(), org, name).expect(name), value);
            assert!(matches!(opened(&mut conn, &key(), org, name), Err(GatewayError::Undecryptable)), "{name}: the old key no longer opens it");
            assert!(row(&mut conn, org, name).credential_box.starts_with("v2:"), "{name} re-sealed in the current format");
        }
        // The first-format value is now bound to its destination too.
        let mut moved = row(&mut conn, &two, "fixture");
        moved.base_url = "https://elsewhere.example".into();
        store::gateway::update_service(&mut conn, &moved).expect("move");
        assert!(matches!(opened(&mut conn, &other_key(), &two, "fixture"), Err(GatewayError::Undecryptable)));
    }

    fn rotation_is_all_or_nothing(db) {
        let mut conn = db.store().conn().expect("conn");
        let org = org(&mut conn);
        // Rows are re-sealed in the order of their ids: two that open, then one that does not
        // (the fixture, moved to another id), so the failure comes after two writes.
        insert_row(&mut conn, &org, "svc_a1", "a", "https://a.example", &seal_v2("svc_a1", "https://a.example:443", "Bearer a"));
        insert_row(&mut conn, &org, "svc_a2", "b", "https://b.example", &seal_v2("svc_a2", "https://b.example:443", "Bearer b"));
        insert_row(&mut conn, &org, "svc_z9", "c", fixture::BASE_URL, fixture::V2);
        assert_eq!(opened(&mut conn, &key(), &org, "a").expect("hand-sealed value opens"), "Bearer a");
        let before: Vec<_> = ["a", "b", "c"].iter().map(|n| row(&mut conn, &org, n)).collect();
        assert!(matches!(gateway::reseal_all(&mut conn, &key(), &other_key()), Err(GatewayError::Undecryptable)));
        let after: Vec<_> = ["a", "b", "c"].iter().map(|n| row(&mut conn, &org, n)).collect();
        assert_eq!(before, after, "nothing was written");
        assert_eq!(opened(&mut conn, &key(), &org, "b").expect("b"), "Bearer b");
        // With nothing stored, a rotation re-seals nothing and succeeds.
        let empty = store::testing::TestDb::new(db.backend());
        let mut conn = empty.store().conn().expect("conn");
        assert_eq!(gateway::reseal_all(&mut conn, &key(), &other_key()).expect("reseal"), 0);
    }
}
