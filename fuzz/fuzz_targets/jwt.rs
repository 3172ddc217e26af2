//! JWT verification: access tokens (RFC 9068) and the `id_token_hint` of logout, against an
//! in-memory key ring of one ES256, RS256 and EdDSA key (kids `es`, `rs`, `ed`).
//!
//! Input: a mode byte, then
//! - mode 0: a token string of its own;
//! - mode 1: a token index and (position u16 LE, byte) edits applied to one of six tokens
//!   signed at start-up (an access token and an ID token per key);
//! - mode 2: a token index, a part index, and the raw bytes of that part (the JSON header,
//!   the JSON claims, or the signature), base64url-encoded into that token.
//!
//! Asserts that a token verifies exactly when it is one we signed, unchanged, with the
//! function meant for its type (`at+jwt` is not an ID token hint, nor the reverse); a forged
//! header (`alg: none`, HS256 with a public key, another `kid`) never verifies.
#![no_main]

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use tokens::{
    Issuance, Keyring, SigningAlg, issue_access_token, issue_id_token, verify_access_token,
    verify_id_token_hint,
};

const ISS: &str = "https://id.example.test";
const NOW: i64 = 1_900_000_000;

struct Fixture {
    ring: Keyring,
    /// (token, is an access token)
    tokens: Vec<(String, bool)>,
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
        let mut tokens = Vec::new();
        for (_, alg) in keys {
            let issuance = Issuance {
                issuer: ISS,
                ttl: 3600,
                alg,
            };
            let grant = grants::testing::client_grant(
                "client-1",
                "openid orders:read",
                &["https://api.example.test"],
            );
            let issued = issue_access_token(&ring, &grant, &issuance, NOW).expect("access token");
            tokens.push((issued.token, true));
            let id = grants::testing::user_grant(
                "usr_1",
                "client-1",
                "openid",
                (Some("n-0S6_WzA2Mj"), Some("sid-1")),
                NOW,
                alg.as_str(),
            );
            tokens.push((
                issue_id_token(&ring, &id, None, &issuance, NOW).expect("id token"),
                false,
            ));
        }
        Fixture { ring, tokens }
    })
}

/// Verifies `token` both ways and checks that it verifies exactly as one of ours would.
fn check(token: &str) {
    let f = fixture();
    let ours = f.tokens.iter().find(|(t, _)| t == token);
    let access = verify_access_token(&f.ring, token, ISS, NOW + 10);
    let hint = verify_id_token_hint(&f.ring, token, ISS);
    match ours {
        Some((_, true)) => {
            assert!(access.is_ok(), "our access token: {access:?}");
            assert!(hint.is_err(), "an access token is not an id_token_hint");
        }
        Some((_, false)) => {
            assert!(access.is_err(), "an ID token is not an access token");
            assert!(hint.is_ok(), "our ID token: {hint:?}");
        }
        None => {
            assert!(
                access.is_err(),
                "a token we did not sign verified: {token:?}"
            );
            assert!(hint.is_err(), "a hint we did not sign verified: {token:?}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    match mode % 3 {
        0 => check(&String::from_utf8_lossy(rest)),
        1 => {
            let Some((&which, edits)) = rest.split_first() else {
                return;
            };
            let (token, _) = &f.tokens[usize::from(which) % f.tokens.len()];
            let mut bytes = token.clone().into_bytes();
            for edit in edits.chunks_exact(3) {
                let at = usize::from(u16::from_le_bytes([edit[0], edit[1]]));
                if let Some(b) = bytes.get_mut(at % token.len()) {
                    *b = edit[2];
                }
            }
            check(&String::from_utf8_lossy(&bytes));
        }
        _ => {
            let [which, part, raw @ ..] = rest else {
                return;
            };
            let (token, _) = &f.tokens[usize::from(*which) % f.tokens.len()];
            let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
            parts[usize::from(*part) % 3] = URL_SAFE_NO_PAD.encode(raw);
            check(&parts.join("."));
        }
    }
});
