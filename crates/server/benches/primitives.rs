//! Micro-benchmarks of the hot checks, each beside the raw primitive it wraps, so the overhead
//! of our code is visible: `cargo bench -p server --bench primitives`.
//!
//! They live in the server crate because it depends on every domain crate; they measure the
//! domain crates' functions, not HTTP.

use std::hint::black_box;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use criterion::{Criterion, criterion_group, criterion_main};
use primitives::{PlainSecret, SecretHash};
use tokens::{Issuance, Keyring, SigningAlg};

const NOW: i64 = 1_900_000_000;

fn keyring() -> (store::testing::TestDb, Keyring) {
    let db = store::testing::TestDb::sqlite();
    let ring = {
        let mut conn = db.store().conn().expect("conn");
        tokens::ensure_keys(&mut conn, &SigningAlg::ALL, NOW, None).expect("keys");
        Keyring::load(&mut conn, NOW, 3600, None).expect("load")
    };
    (db, ring)
}

fn issuance(alg: SigningAlg) -> Issuance<'static> {
    Issuance {
        issuer: "https://id.example.test",
        ttl: 3600,
        alg,
    }
}

fn jwt(c: &mut Criterion) {
    let (_db, ring) = keyring();
    let grant = grants::testing::client_grant("svc", "orders:read", &["https://api.example.test"]);
    let mut g = c.benchmark_group("jwt");
    for alg in SigningAlg::ALL {
        g.bench_function(format!("issue_access_token/{alg}"), |b| {
            b.iter(|| {
                tokens::issue_access_token(&ring, black_box(&grant), &issuance(alg), NOW)
                    .expect("issue")
            })
        });
        let token = tokens::issue_access_token(&ring, &grant, &issuance(alg), NOW)
            .expect("issue")
            .token;
        g.bench_function(format!("verify_access_token/{alg}"), |b| {
            b.iter(|| {
                tokens::verify_access_token(
                    &ring,
                    black_box(&token),
                    "https://id.example.test",
                    NOW,
                )
                .expect("verify")
            })
        });
    }
    // The raw primitive under ES256: one P-256 signature over a token-sized message.
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("key");
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).expect("pair");
    let message = vec![b'x'; 300];
    g.bench_function("raw/ecdsa_p256_sign", |b| {
        b.iter(|| pair.sign(&rng, black_box(&message)).expect("sign"))
    });
    g.finish();
}

fn secrets(c: &mut Criterion) {
    let mut g = c.benchmark_group("secrets");
    let secret = PlainSecret::generate();
    let stored = secret.hash();
    g.bench_function("client_secret_verify", |b| {
        b.iter(|| stored.matches(black_box(secret.expose())))
    });
    g.bench_function("raw/sha256_hex", |b| {
        b.iter(|| SecretHash::of(black_box(secret.expose())))
    });
    let key = PlainSecret::generate_with_prefix("pcl_sk_");
    g.bench_function("api_key_parse", |b| {
        b.iter(|| apikeys::parse_key(black_box(key.expose())).expect("parse"))
    });
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r7wW1gFWFOEjXk";
    let challenge =
        grants::CodeChallenge::from_stored("bwWFMyPfdG9qreDhH2lmftFx_dFeLDalzcT1gb_j68gS");
    g.bench_function("pkce_verify", |b| {
        b.iter(|| grants::verify_pkce(Some(black_box(&challenge)), Some(verifier)).expect("pkce"))
    });
    g.bench_function("scope_covers", |b| {
        b.iter(|| {
            apikeys::scope_covers(
                black_box("openai:chat:*"),
                black_box("openai:chat:completions"),
            )
        })
    });
    g.finish();
}

fn passwords(c: &mut Criterion) {
    let mut g = c.benchmark_group("passwords");
    g.sample_size(10);
    let hasher = accounts::PasswordHasher::new();
    let stored = hasher.hash("correct horse battery").expect("hash");
    g.bench_function("argon2id_verify (the login ceiling)", |b| {
        b.iter(|| hasher.verify(black_box("correct horse battery"), &stored))
    });
    g.finish();
}

criterion_group!(benches, jwt, secrets, passwords);
criterion_main!(benches);
