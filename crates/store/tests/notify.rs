//! `store::notify`: what one instance publishes, the others' listeners hear; on SQLite
//! publishing is a no-op and there is nothing to listen to.

use std::time::{Duration, Instant};

use store::notify::{self, Listener, Notice};
use store::{Backend, DatabaseUrl};

/// Polls until `want` notices (besides `Reconnected`) arrived or `limit` passed.
fn hear(listener: &mut Listener, want: usize, limit: Duration) -> Vec<Notice> {
    let start = Instant::now();
    let mut heard = Vec::new();
    while heard.len() < want && start.elapsed() < limit {
        let got = listener.poll(Duration::from_millis(50)).expect("poll");
        heard.extend(got.into_iter().filter(|n| *n != Notice::Reconnected));
    }
    heard
}

fn changed(kind: &str, id: &str) -> Notice {
    Notice::Changed {
        kind: kind.into(),
        id: id.into(),
    }
}

store::backend_tests! {
    fn published_notices_reach_every_listener_after_commit(db) {
        let url = DatabaseUrl::parse(db.url()).expect("url");
        let mut conn = db.store().conn().expect("conn");
        if db.backend() == Backend::Sqlite {
            assert!(Listener::new(&url).is_none(), "nothing to listen to on SQLite");
            notify::publish(&mut conn, "api_key", "k1").expect("a no-op");
            return;
        }
        let mut a = Listener::new(&url).expect("listener");
        let mut b = Listener::new(&url).expect("listener");
        for l in [&mut a, &mut b] {
            let first = l.poll(Duration::from_millis(10)).expect("connect");
            assert_eq!(first, vec![Notice::Reconnected]);
            assert!(l.is_connected());
        }
        notify::publish(&mut conn, "api_key", "k1").expect("publish");
        notify::publish(&mut conn, "client", "c:1").expect("publish");
        let want = vec![changed("api_key", "k1"), changed("client", "c:1")];
        assert_eq!(hear(&mut a, 2, Duration::from_secs(5)), want);
        assert_eq!(hear(&mut b, 2, Duration::from_secs(5)), want);

        // Inside a transaction: heard at commit, never after a rollback.
        let _ = store::transaction(&mut conn, |c| {
            notify::publish(c, "client", "rolled-back")?;
            Err::<(), _>(store::StoreError::Conflict)
        });
        store::transaction(&mut conn, |c| notify::publish(c, "client", "committed")).expect("tx");
        assert_eq!(hear(&mut a, 1, Duration::from_secs(5)), vec![changed("client", "committed")]);
        assert!(hear(&mut a, 1, Duration::from_millis(300)).is_empty());
    }
}

#[test]
fn a_listener_that_cannot_connect_reports_it_and_backs_off() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let url = DatabaseUrl::parse(&format!(
        "postgres://nobody:secret-pw@127.0.0.1:{port}/none"
    ))
    .expect("url");
    let mut l = Listener::new(&url).expect("listener");
    let err = l
        .poll(Duration::from_millis(10))
        .expect_err("nothing listens there");
    assert!(!err.contains("secret-pw"), "{err}");
    assert!(!l.is_connected());
    // Within the back-off, no new attempt: an empty answer, no error.
    assert_eq!(l.poll(Duration::from_millis(10)), Ok(Vec::new()));
}

#[test]
fn a_listener_whose_connection_is_killed_reconnects_and_hears_again() {
    let db = store::testing::TestDb::postgres();
    let url = DatabaseUrl::parse(db.url()).expect("url");
    let mut l = Listener::new(&url).expect("listener");
    assert_eq!(
        l.poll(Duration::from_millis(10)),
        Ok(vec![Notice::Reconnected])
    );
    // The server ends the listener's connection (a restart, a failover, an idle timeout).
    db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()",
    );
    let start = Instant::now();
    let mut failed = false;
    let mut reconnected = false;
    while !reconnected {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never reconnected"
        );
        match l.poll(Duration::from_millis(50)) {
            Err(_) => failed = true,
            Ok(notices) => reconnected = notices.contains(&Notice::Reconnected),
        }
    }
    assert!(failed, "the broken connection was reported");
    assert!(l.is_connected());
    let mut conn = db.store().conn().expect("conn");
    notify::publish(&mut conn, "client", "after").expect("publish");
    assert_eq!(
        hear(&mut l, 1, Duration::from_secs(5)),
        vec![changed("client", "after")]
    );
}
