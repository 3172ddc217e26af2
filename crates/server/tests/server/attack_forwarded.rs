//! Client addresses behind a proxy (`PORTCULLIS_TRUSTED_PROXIES`): the per-IP sign-in limit
//! counts the users behind the shipped nginx apart, and a client that writes its own
//! `X-Forwarded-For` (or `Forwarded`) to a server that does not trust it gains nothing.
//! The sign-in throttle counts per account and per client IP apart, so neither a noisy address
//! nor a third party guessing at an account locks anyone out for longer than the back-off.
//! Every request here comes from 127.0.0.1, as from nginx on the same host.

use serde_json::json;

use crate::api_auth::signup;
use crate::common::*;

/// A JSON sign-in from 127.0.0.1 carrying `headers`; the status.
async fn login(server: &TestServer, email: &str, password: &str, headers: &[(&str, &str)]) -> u16 {
    let mut req = server
        .http
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({ "email": email, "password": password }));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await.expect("login").status().as_u16()
}

on_both_backends! {
    async fn users_behind_a_trusted_proxy_do_not_share_one_sign_in_limit(db) {
        let server = TestServer::start_with(&db, |a| {
            a.rate_limits.login = 3;
            a.trusted_proxies = proxies("127.0.0.1/32, ::1");
        });
        signup(&server, "ada@example.com", "Ada").await;
        signup(&server, "bob@example.com", "Bob").await;
        // Ada's address, as nginx's `$proxy_add_x_forwarded_for` appends it to what she sent.
        let ada = [("x-forwarded-for", "6.6.6.6, 198.51.100.1")];
        for n in 0..3 {
            assert_eq!(login(&server, "ada@example.com", "wrong password", &ada).await, 401, "attempt {n}");
        }
        assert_eq!(login(&server, "ada@example.com", "correct horse", &ada).await, 429, "Ada's address is at its limit");
        // Bob, behind the same proxy, has a limit of his own: by X-Forwarded-For, and by
        // Forwarded (RFC 7239, quoted IPv6 with a port) when there is no X-Forwarded-For.
        let bob = [("x-forwarded-for", "198.51.100.2")];
        assert_eq!(login(&server, "bob@example.com", "correct horse", &bob).await, 200);
        let carol = [("forwarded", "for=\"[2001:db8:cafe::17]:4711\";proto=https")];
        assert_eq!(login(&server, "bob@example.com", "correct horse", &carol).await, 200);
        // Forging the left part of the header does not move Ada to a fresh address: the
        // rightmost untrusted hop is the one the proxy wrote.
        let forged = [("x-forwarded-for", "203.0.113.77, 198.51.100.1")];
        assert_eq!(login(&server, "ada@example.com", "correct horse", &forged).await, 429);
    }

    async fn attack_forged_x_forwarded_for_is_ignored_from_untrusted_peers(db) {
        // No trusted proxies: 127.0.0.1 is the client, whatever it claims.
        let server = TestServer::start_with(&db, |a| a.rate_limits.login = 3);
        signup(&server, "ada@example.com", "Ada").await;
        for n in 0..3 {
            let forged = format!("198.51.100.{n}");
            assert_eq!(login(&server, "ada@example.com", "wrong password", &[("x-forwarded-for", &forged)]).await, 401);
        }
        for forged in [
            [("x-forwarded-for", "198.51.100.99")],
            [("forwarded", "for=198.51.100.98")],
            [("x-real-ip", "198.51.100.97")],
        ] {
            assert_eq!(
                login(&server, "ada@example.com", "correct horse", &forged).await,
                429,
                "{forged:?} does not escape the limit of 127.0.0.1"
            );
        }
    }

    async fn attack_forged_x_forwarded_for_is_ignored_from_peers_outside_the_trusted_list(db) {
        // Trusting another network than the peer's: the peer's headers are still ignored.
        let server = TestServer::start_with(&db, |a| {
            a.rate_limits.login = 2;
            a.trusted_proxies = proxies("10.0.0.0/8");
        });
        signup(&server, "ada@example.com", "Ada").await;
        for n in 0..2 {
            let forged = format!("10.0.0.{n}, 198.51.100.{n}");
            assert_eq!(login(&server, "ada@example.com", "wrong password", &[("x-forwarded-for", &forged)]).await, 401);
        }
        assert_eq!(login(&server, "ada@example.com", "correct horse", &[("x-forwarded-for", "198.51.100.50")]).await, 429);
    }

    async fn garbage_forwarding_headers_from_a_trusted_proxy_are_safe(db) {
        let server = TestServer::start_with(&db, |a| {
            a.rate_limits.login = 100;
            a.trusted_proxies = proxies("127.0.0.1");
        });
        signup(&server, "ada@example.com", "Ada").await;
        for value in ["garbage", "unknown, , ,", "[::1", "1.2.3.4.5:99999", "_hidden", "for=\"", "999.1.1.1"] {
            for name in ["x-forwarded-for", "forwarded"] {
                let status = login(&server, "ada@example.com", "correct horse", &[(name, value)]).await;
                assert_eq!(status, 200, "{name}: {value:?}");
            }
        }
        // Bytes that are not ASCII: still a sign-in, not an error.
        let res = server
            .http
            .post(server.url("/api/v1/auth/login"))
            .header("x-forwarded-for", reqwest::header::HeaderValue::from_bytes(b"\xff\xfe, 198.51.100.1").expect("header"))
            .json(&json!({ "email": "ada@example.com", "password": "correct horse" }))
            .send()
            .await
            .expect("login");
        assert_eq!(res.status(), 200);
    }

    async fn attack_third_party_cannot_lock_an_account_beyond_the_back_off(db) {
        let server = TestServer::start_with(&db, |a| a.trusted_proxies = proxies("127.0.0.1"));
        signup(&server, "ada@example.com", "Ada").await;
        let attacker = [("x-forwarded-for", "203.0.113.6")];
        let ada = [("x-forwarded-for", "198.51.100.1")];
        for _ in 0..5 {
            assert_eq!(login(&server, "ada@example.com", "guess", &attacker).await, 401);
        }
        // The account backs off, for everyone, for the back-off (60 s).
        assert_eq!(login(&server, "ada@example.com", "correct horse", &ada).await, 429);
        // The attacker keeps at it through the back-off, from many addresses: refused, and
        // it does not move the end of the back-off.
        for n in 0..10 {
            server.clock.advance(5);
            let other = format!("203.0.113.{}", 10 + n);
            assert_eq!(login(&server, "ada@example.com", "guess", &[("x-forwarded-for", &other)]).await, 429);
        }
        server.clock.advance(10);
        // Right after the back-off it fails four more times: not enough for another one.
        for _ in 0..4 {
            assert_eq!(login(&server, "ada@example.com", "guess", &attacker).await, 401);
        }
        assert_eq!(
            login(&server, "ada@example.com", "correct horse", &ada).await,
            200,
            "the owner, from an address of her own, after the back-off"
        );
    }

    async fn attack_one_noisy_address_cannot_lock_everyone_out(db) {
        let server = TestServer::start_with(&db, |a| a.trusted_proxies = proxies("127.0.0.1"));
        signup(&server, "ada@example.com", "Ada").await;
        let noisy = [("x-forwarded-for", "203.0.113.6")];
        // Twenty failures from one address, spread over accounts (four at most each).
        for n in 0..20 {
            let email = format!("nobody{}@example.com", n % 5);
            assert_eq!(login(&server, &email, "guess", &noisy).await, 401);
        }
        assert_eq!(login(&server, "ada@example.com", "correct horse", &noisy).await, 429, "the noisy address backs off");
        let ada = [("x-forwarded-for", "198.51.100.1")];
        assert_eq!(login(&server, "ada@example.com", "correct horse", &ada).await, 200, "everyone else signs in");
    }
}
