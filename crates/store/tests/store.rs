//! Store tests, each run on SQLite and on PostgreSQL.

use std::time::Duration;

use store::audit::{self, NewAuditEvent};
use store::{Backend, DatabaseUrl, Store, StoreConfig, StoreError};

fn event<'a>(id: &'a str, at: i64, actor: Option<&'a str>) -> NewAuditEvent<'a> {
    NewAuditEvent {
        id,
        occurred_at: at,
        kind: "login.succeeded",
        actor,
        ip: Some("127.0.0.1"),
        detail: r#"{"method":"password"}"#,
        org_id: None,
        outcome: "success",
    }
}

store::backend_tests! {
    fn a_failed_audit_insert_leaves_the_callers_transaction_usable(db) {
        // A row that cannot be written (here: a duplicate id) is lost alone; the change the
        // transaction carries still commits (on PostgreSQL a failed statement would otherwise
        // abort the transaction).
        let mut conn = db.store().conn().expect("conn");
        audit::insert(&mut conn, &event("dup", 1, None)).expect("first");
        let outcome = store::transaction(&mut conn, |conn| {
            assert!(audit::insert(conn, &event("dup", 2, None)).is_err(), "a duplicate id fails");
            audit::insert(conn, &event("after", 3, None))?;
            Ok::<_, StoreError>(())
        });
        outcome.expect("the transaction commits");
        let all = audit::list(&mut conn, &audit::Filter::default(), 10).expect("list");
        let ids: Vec<&str> = all.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["after", "dup"]);
    }

    fn audit_events_insert_in_batches_and_page_by_cursor(db) {
        let mut conn = db.store().conn().expect("conn");
        let events: Vec<audit::OwnedAuditEvent> = (0..1203)
            .map(|i| audit::OwnedAuditEvent {
                id: format!("e{i:05}"),
                occurred_at: 1_000 + i / 10,
                kind: "token.issued".into(),
                actor: Some("client".into()),
                ip: None,
                detail: "{}".into(),
                org_id: (i % 2 == 0).then(|| "org_a".into()),
                outcome: "success".into(),
            })
            .collect();
        audit::insert_many(&mut conn, &events).expect("insert");
        // Walk org_a's events by cursor, 100 at a time: each once, newest first.
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let filter = audit::Filter { org_id: Some("org_a"), before: before.clone(), ..Default::default() };
            let page = audit::list(&mut conn, &filter, 100).expect("page");
            if page.is_empty() {
                break;
            }
            let last = page.last().expect("last");
            before = Some(audit::Cursor { occurred_at: last.occurred_at, id: last.id.clone() });
            seen.extend(page.into_iter().map(|e| e.id));
        }
        assert_eq!(seen.len(), 602);
        let mut sorted = seen.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(seen, sorted);
    }

    fn migrations_are_applied_once(db) {
        // TestDb migrated already: nothing is left pending and a second run applies nothing.
        assert!(db.store().pending_migrations().expect("pending").is_empty());
        assert!(db.store().migrate().expect("second migrate").is_empty());
    }

    fn migration_versions_are_the_ones_existing_databases_recorded(db) {
        // diesel records each applied migration by the version its folder name starts with;
        // a database migrated by an earlier build knows these. Renaming a folder would make a
        // migration look new to every existing database, so the list is fixed here.
        let empty = store::testing::TestDb::empty(db.backend());
        assert_eq!(
            empty.store().pending_migrations().expect("pending"),
            [
                "20261122000000",
                "20261122000100",
                "20261122000200",
                "20261122000300",
                "20261122000400",
                "20261122000500",
                "20261122000600",
                "20261204001300",
                "20261204001500",
                "20261204001600",
                "20261204001610",
                "20261204001620",
                "20261204001630",
                "20261204001710",
                "20261205001820",
                "20261205001830",
                "20261205001840",
                "20261206001910",
                "20261206001920",
                "20261206001930",
                "20261206001940",
                "20261206001950",
            ]
        );
    }

    fn live_schema_matches_schema_rs(db) {
        use store::testing::schema;
        let live = schema::live(db.store()).expect("live schema");
        let declared = schema::declared();
        assert_eq!(live.len(), declared.len(), "every table is read: {:?}", live.keys());
        let differences = schema::differences(&declared, &live);
        assert!(
            differences.is_empty(),
            "migrations/ and crates/store/src/schema.rs differ on {:?}:\n{}",
            db.backend(),
            differences.join("\n")
        );
    }

    fn a_column_only_a_migration_adds_fails_the_schema_check(db) {
        use store::testing::schema;
        db.execute("ALTER TABLE services ADD COLUMN extra TEXT");
        db.execute("ALTER TABLE services ADD COLUMN flag BOOLEAN NOT NULL DEFAULT FALSE");
        let live = schema::live(db.store()).expect("live schema");
        assert_eq!(
            schema::differences(&schema::declared(), &live),
            [
                "services.extra is in the database but not in schema.rs",
                "services.flag is in the database but not in schema.rs",
            ]
        );
        // And the other way round: a column schema.rs names that the database lacks.
        db.execute("DROP TABLE gateway_usage");
        assert_eq!(
            schema::differences(&schema::declared(), &schema::live(db.store()).expect("live"))
                .first()
                .map(String::as_str),
            Some("table gateway_usage is in schema.rs but not in the database")
        );
    }

    fn a_second_store_on_the_same_database_sees_the_schema(db) {
        let url = DatabaseUrl::parse(db.url()).expect("url");
        let again = Store::open(&StoreConfig::new(url)).expect("reopen");
        assert_eq!(again.backend(), db.backend());
        assert!(again.migrate().expect("migrate").is_empty());
        let mut conn = again.conn().expect("conn");
        audit::insert(&mut conn, &event("e1", 1, None)).expect("insert");
        let mut other = db.store().conn().expect("conn");
        assert_eq!(audit::recent(&mut other, 10).expect("recent").len(), 1);
    }

    fn audit_events_round_trip_newest_first(db) {
        let mut conn = db.store().conn().expect("conn");
        audit::insert(&mut conn, &event("a", 100, Some("user-1"))).expect("insert a");
        audit::insert(&mut conn, &event("b", 300, Some("user-2"))).expect("insert b");
        audit::insert(&mut conn, &event("c", 200, Some("user-1"))).expect("insert c");
        let all = audit::recent(&mut conn, 10).expect("recent");
        let ids: Vec<_> = all.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["b", "c", "a"]);
        assert_eq!(all[0].detail, r#"{"method":"password"}"#);
        assert_eq!(all[0].ip.as_deref(), Some("127.0.0.1"));
        let mine = audit::find_by_actor(&mut conn, "user-1", 10).expect("by actor");
        assert_eq!(mine.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["c", "a"]);
        assert_eq!(audit::recent(&mut conn, 1).expect("limit").len(), 1);
    }

    fn duplicate_ids_are_refused_and_keep_the_first_row(db) {
        let mut conn = db.store().conn().expect("conn");
        audit::insert(&mut conn, &event("same", 1, Some("first"))).expect("insert");
        let err = audit::insert(&mut conn, &event("same", 2, Some("second")));
        assert!(err.is_err(), "a duplicate primary key must fail");
        let rows = audit::recent(&mut conn, 10).expect("recent");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].actor.as_deref(), Some("first"));
    }

    fn a_dpop_proof_is_recorded_once_until_its_window_ends(db) {
        use store::dpop;
        let mut conn = db.store().conn().expect("conn");
        assert!(dpop::record_proof(&mut conn, "h1", 100).expect("first"));
        assert!(!dpop::record_proof(&mut conn, "h1", 100).expect("again"), "a replay");
        assert!(dpop::record_proof(&mut conn, "h2", 200).expect("another"));
        assert_eq!(dpop::delete_expired(&mut conn, 150).expect("clean"), 1);
        // Its window over and its row gone, nothing remembers h1; h2 is still there.
        assert!(!dpop::record_proof(&mut conn, "h2", 200).expect("h2 kept"));
    }

    fn sql_metacharacters_are_stored_verbatim(db) {
        let mut conn = db.store().conn().expect("conn");
        let nasty = "x'); DROP TABLE audit_events; --\"\\%_";
        audit::insert(&mut conn, &event("q", 1, Some(nasty))).expect("insert");
        let rows = audit::find_by_actor(&mut conn, nasty, 10).expect("find");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].actor.as_deref(), Some(nasty));
    }

    fn ping_answers_while_the_database_is_there_and_fails_once_it_is_gone(db) {
        db.store().ping(Duration::from_secs(2)).expect("ping before");
        db.destroy();
        assert!(db.store().ping(Duration::from_millis(500)).is_err());
    }
}

mod sqlite_setup {
    use super::*;
    use diesel::{QueryableByName, RunQueryDsl, sql_types::BigInt, sql_types::Text};

    #[derive(QueryableByName)]
    struct Mode {
        #[diesel(sql_type = Text)]
        journal_mode: String,
    }

    #[derive(QueryableByName)]
    struct Flag {
        #[diesel(sql_type = BigInt)]
        foreign_keys: i64,
    }

    #[test]
    fn sqlite_connections_use_wal_and_foreign_keys() {
        let db = store::testing::TestDb::sqlite();
        assert_eq!(db.backend(), Backend::Sqlite);
        let mut conn = db.store().conn().expect("conn");
        let mode: Mode = diesel::sql_query("PRAGMA journal_mode")
            .get_result(&mut *conn)
            .expect("journal_mode");
        assert_eq!(mode.journal_mode, "wal");
        let fk: Flag = diesel::sql_query("PRAGMA foreign_keys")
            .get_result(&mut *conn)
            .expect("foreign_keys");
        assert_eq!(fk.foreign_keys, 1);
    }

    #[test]
    fn the_data_folder_is_created_when_missing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a").join("b").join("p.db");
        let url = DatabaseUrl::parse(&format!("sqlite://{}", path.display())).expect("url");
        let store = Store::open(&StoreConfig::new(url)).expect("open");
        store.migrate().expect("migrate");
        assert!(path.is_file());
    }

    #[test]
    fn a_data_folder_that_cannot_be_made_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("not-a-folder");
        std::fs::write(&file, b"x").expect("write");
        let url = DatabaseUrl::parse(&format!("sqlite://{}/p.db", file.display())).expect("url");
        match Store::open(&StoreConfig::new(url)) {
            Err(StoreError::DataDir { path, .. }) => assert_eq!(path, file),
            other => panic!("expected DataDir error, got {other:?}"),
        }
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused_at_open_or_migrate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("garbage.db");
        std::fs::write(&path, vec![0x42u8; 8192]).expect("write");
        let url = DatabaseUrl::parse(&format!("sqlite://{}", path.display())).expect("url");
        let result = Store::open(&StoreConfig::new(url)).and_then(|s| s.migrate());
        assert!(result.is_err(), "garbage must not be taken for a database");
    }
}

mod passkeys {
    use store::accounts::{self, UserRow};
    use store::passkeys::{self, CeremonyRow, PasskeyRow};

    pub(super) fn user(conn: &mut store::Conn, id: &str) {
        accounts::insert_user(
            conn,
            &UserRow {
                id: id.into(),
                email: format!("{id}@example.com"),
                email_normalized: format!("{id}@example.com"),
                name: id.into(),
                password_hash: "x".into(),
                email_verified: true,
                disabled: false,
                created_at: 1,
                updated_at: 1,
                admin: false,
            },
        )
        .expect("user");
    }

    fn passkey(id: &str, user_id: &str, credential_id: &str, at: i64) -> PasskeyRow {
        PasskeyRow {
            id: id.into(),
            user_id: user_id.into(),
            credential_id: credential_id.into(),
            passkey: format!("{{\"cred\":\"{credential_id}\"}}"),
            name: format!("key {id}"),
            created_at: at,
            last_used_at: None,
        }
    }

    fn ceremony(id_hash: &str, kind: &str, user_id: Option<&str>, expires_at: i64) -> CeremonyRow {
        CeremonyRow {
            id_hash: id_hash.into(),
            kind: kind.into(),
            user_id: user_id.map(str::to_owned),
            state: "{}".into(),
            expires_at,
        }
    }

    store::backend_tests! {
        fn passkeys_are_a_users_own_and_go_with_the_user(db) {
            let mut conn = db.store().conn().expect("conn");
            user(&mut conn, "usr_a");
            user(&mut conn, "usr_b");
            passkeys::insert(&mut conn, &passkey("pk_2", "usr_a", "cred-2", 20)).expect("insert");
            passkeys::insert(&mut conn, &passkey("pk_1", "usr_a", "cred-1", 10)).expect("insert");
            passkeys::insert(&mut conn, &passkey("pk_3", "usr_b", "cred-3", 5)).expect("insert");
            assert!(
                passkeys::insert(&mut conn, &passkey("pk_4", "usr_b", "cred-1", 30)).is_err(),
                "a credential id belongs to one passkey only"
            );
            let ids = |conn: &mut store::Conn, user: &str| -> Vec<String> {
                passkeys::list_for_user(conn, user)
                    .expect("list")
                    .into_iter()
                    .map(|p| p.id)
                    .collect()
            };
            assert_eq!(ids(&mut conn, "usr_a"), ["pk_1", "pk_2"], "oldest first");
            let found = passkeys::find_by_credential_id(&mut conn, "cred-3").expect("find");
            assert_eq!(found.map(|p| p.user_id).as_deref(), Some("usr_b"));
            assert!(passkeys::find_by_credential_id(&mut conn, "nope").expect("find").is_none());

            // Another user's passkey is neither renamed nor deleted.
            assert!(!passkeys::rename(&mut conn, "usr_b", "pk_1", "mine now").expect("rename"));
            assert!(!passkeys::delete(&mut conn, "usr_b", "pk_1").expect("delete"));
            assert!(passkeys::rename(&mut conn, "usr_a", "pk_1", "Laptop").expect("rename"));
            let pk1 = passkeys::find_by_credential_id(&mut conn, "cred-1").expect("find").expect("pk_1");
            assert_eq!(pk1.name, "Laptop");

            assert!(passkeys::record_use(&mut conn, "pk_1", "{\"cred\":\"new\"}", 99).expect("use"));
            let pk1 = passkeys::find_by_credential_id(&mut conn, "cred-1").expect("find").expect("pk_1");
            assert_eq!((pk1.passkey.as_str(), pk1.last_used_at), ("{\"cred\":\"new\"}", Some(99)));

            assert!(passkeys::delete(&mut conn, "usr_a", "pk_2").expect("delete"));
            assert!(!passkeys::delete(&mut conn, "usr_a", "pk_2").expect("again"));
            assert!(!passkeys::record_use(&mut conn, "pk_2", "{}", 100).expect("gone"));
            assert_eq!(ids(&mut conn, "usr_a"), ["pk_1"]);

            passkeys::insert_ceremony(&mut conn, &ceremony("h1", "register", Some("usr_a"), 1_000)).expect("ceremony");
            assert!(accounts::delete_user(&mut conn, "usr_a").expect("delete user"));
            assert!(ids(&mut conn, "usr_a").is_empty(), "the passkeys went with the user");
            assert!(passkeys::find_by_credential_id(&mut conn, "cred-1").expect("find").is_none());
            assert!(passkeys::take_ceremony(&mut conn, "h1", "register", 1).expect("take").is_none());
            assert_eq!(ids(&mut conn, "usr_b"), ["pk_3"]);
        }

        fn a_ceremony_is_taken_once_by_kind_while_live(db) {
            let mut conn = db.store().conn().expect("conn");
            passkeys::insert_ceremony(&mut conn, &ceremony("h1", "discoverable", None, 100)).expect("insert");
            assert!(
                passkeys::take_ceremony(&mut conn, "h1", "register", 50).expect("take").is_none(),
                "another kind does not take it"
            );
            let taken = passkeys::take_ceremony(&mut conn, "h1", "discoverable", 50).expect("take");
            assert_eq!(taken.map(|c| c.kind).as_deref(), Some("discoverable"));
            assert!(
                passkeys::take_ceremony(&mut conn, "h1", "discoverable", 50).expect("again").is_none(),
                "used once"
            );

            passkeys::insert_ceremony(&mut conn, &ceremony("h2", "discoverable", None, 100)).expect("insert");
            assert!(
                passkeys::take_ceremony(&mut conn, "h2", "discoverable", 100).expect("take").is_none(),
                "expired at its expiry"
            );
            assert!(
                passkeys::take_ceremony(&mut conn, "h2", "discoverable", 10).expect("take").is_none(),
                "an expired ceremony taken is gone"
            );
            passkeys::insert_ceremony(&mut conn, &ceremony("h3", "authenticate", None, 100)).expect("insert");
            passkeys::insert_ceremony(&mut conn, &ceremony("h4", "authenticate", None, 300)).expect("insert");
            assert_eq!(passkeys::delete_expired_ceremonies(&mut conn, 200).expect("clean"), 1);
            assert!(passkeys::take_ceremony(&mut conn, "h4", "authenticate", 10).expect("take").is_some());
        }
    }
}

mod backchannel {
    use store::accounts::{self, SessionRow};
    use store::backchannel as queue;

    fn user_with_sessions(conn: &mut store::Conn, user: &str, sessions: &[&str]) {
        super::passkeys::user(conn, user);
        for id in sessions {
            accounts::insert_session(
                conn,
                &SessionRow {
                    id: (*id).into(),
                    secret_hash: format!("hash-{id}"),
                    user_id: user.into(),
                    csrf_token: "csrf".into(),
                    auth_time: 1,
                    created_at: 1,
                    last_seen_at: 1,
                    expires_at: 1_000_000,
                    user_agent: None,
                    ip: None,
                    amr: "pwd".into(),
                },
            )
            .expect("session");
        }
    }

    store::backend_tests! {
        fn ending_sessions_queues_a_logout_for_each_client_of_those_sessions_only(db) {
            let mut conn = db.store().conn().expect("conn");
            user_with_sessions(&mut conn, "u1", &["s1", "s2", "s3"]);
            for (session, client) in [("s1", "app"), ("s1", "app"), ("s1", "crm"), ("s2", "app"), ("s3", "crm")] {
                queue::record_session_client(&mut conn, session, client, 10).expect("record");
            }
            // A session that ended already records nothing.
            queue::record_session_client(&mut conn, "gone", "app", 10).expect("record");
            assert_eq!(queue::clients_of_session(&mut conn, "s1").expect("clients"), ["app", "crm"]);
            assert!(queue::clients_of_session(&mut conn, "gone").expect("clients").is_empty());

            // Not another user's session.
            assert!(!accounts::delete_session(&mut conn, "s1", "someone-else", 20).expect("delete"));
            assert!(queue::recent(&mut conn, 10).expect("recent").is_empty());
            assert!(accounts::delete_session(&mut conn, "s1", "u1", 20).expect("delete"));
            let mut queued: Vec<(String, String)> = queue::recent(&mut conn, 10).expect("recent")
                .into_iter().map(|r| (r.session_id, r.client_id)).collect();
            queued.sort();
            assert_eq!(queued, [("s1".to_owned(), "app".to_owned()), ("s1".to_owned(), "crm".to_owned())]);
            assert!(queue::clients_of_session(&mut conn, "s1").expect("clients").is_empty());
            // Every other session but s3.
            assert_eq!(accounts::delete_other_sessions_of_user(&mut conn, "u1", "s3", 30).expect("delete"), 1);
            assert_eq!(queue::recent(&mut conn, 10).expect("recent").len(), 3);
            assert_eq!(accounts::delete_sessions_of_user(&mut conn, "u1", 40).expect("delete"), 1);
            let all = queue::recent(&mut conn, 10).expect("recent");
            assert_eq!(all.len(), 4);
            assert!(all.iter().all(|r| r.status == queue::PENDING && r.attempts == 0 && r.user_id == "u1"));
            assert_eq!(all[0].session_id, "s3", "newest first");
        }

        fn a_due_logout_is_claimed_by_one_sender_and_retried_when_due(db) {
            let mut conn = db.store().conn().expect("conn");
            user_with_sessions(&mut conn, "u1", &["s1"]);
            queue::record_session_client(&mut conn, "s1", "app", 10).expect("record");
            // The queue is written in the transaction that ends the session: rolled back, no
            // logout (and the session lives).
            let rolled_back = store::transaction(&mut conn, |conn| {
                accounts::delete_sessions_of_user(conn, "u1", 15)?;
                Err::<(), _>(store::StoreError::Conflict)
            });
            assert!(rolled_back.is_err());
            assert!(queue::recent(&mut conn, 10).expect("recent").is_empty());
            accounts::delete_sessions_of_user(&mut conn, "u1", 20).expect("delete");

            let due = queue::due(&mut conn, 20, 10).expect("due");
            assert_eq!(due.len(), 1);
            let id = due[0].id.clone();
            assert_eq!(id.len(), 32);
            assert!(queue::claim(&mut conn, &id, 20, 80).expect("claim"));
            assert!(!queue::claim(&mut conn, &id, 21, 81).expect("claim"), "claimed once");
            assert!(queue::due(&mut conn, 21, 10).expect("due").is_empty(), "a claimed row is not due");
            queue::record_attempt(&mut conn, &id, queue::PENDING, 1, 50, "503", 22).expect("record");
            assert!(queue::due(&mut conn, 49, 10).expect("due").is_empty(), "not before its time");
            assert_eq!(queue::due(&mut conn, 50, 10).expect("due").len(), 1);
            // A lease that ran out (the sender died) is claimable again.
            assert!(queue::claim(&mut conn, &id, 50, 60).expect("claim"));
            assert!(queue::claim(&mut conn, &id, 60, 120).expect("claim after the lease"));
            queue::record_attempt(&mut conn, &id, queue::DELIVERED, 2, 61, "200", 61).expect("record");
            assert!(queue::due(&mut conn, 10_000, 10).expect("due").is_empty());
            let row = &queue::recent(&mut conn, 1).expect("recent")[0];
            assert_eq!((row.status.as_str(), row.attempts, row.last_status.as_deref(), row.claimed_until), ("delivered", 2, Some("200"), None));
            queue::delete(&mut conn, &id).expect("delete");
            assert!(queue::recent(&mut conn, 1).expect("recent").is_empty());
        }
    }
}
