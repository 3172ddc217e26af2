//! The token endpoint's input: an `Authorization` header and an urlencoded form body.
//!
//! Input: the header's value, a newline, then the body (no newline: no header). Asserts the
//! RFC 6749 form rules (no empty value, no repeated parameter but `resource`, at most 64),
//! that a parsed form serializes and parses back to itself, that Basic credentials taken apart
//! and put back together read the same, and that every error description is safe to send.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use grants::{FormParams, OAuthError, TokenRequest, parse_resources, presented_credentials};
use libfuzzer_sys::fuzz_target;
use registration::Presented;

fn assert_safe(e: &OAuthError) {
    assert!(
        e.description
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\'),
        "unsafe error description {:?}",
        e.description
    );
}

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (Some(String::from_utf8_lossy(&data[..i])), &data[i + 1..]),
        None => (None, data),
    };

    let form = match FormParams::parse(body) {
        Ok(form) => form,
        Err(e) => {
            assert_eq!(e.code.as_str(), "invalid_request");
            assert_safe(&e);
            return;
        }
    };
    let pairs = form.pairs();
    assert!(pairs.len() <= 64);
    for (i, (name, value)) in pairs.iter().enumerate() {
        assert!(!value.is_empty(), "an empty value counts as absent");
        if name != "resource" {
            assert!(
                pairs[..i].iter().all(|(n, _)| n != name),
                "{name} is repeated"
            );
            assert_eq!(form.get(name), Some(value.as_str()));
        }
    }
    let again = FormParams::parse(form.to_query(&[]).as_bytes()).expect("re-parse");
    assert_eq!(again, form, "to_query then parse changes the form");

    match TokenRequest::parse(&form) {
        Ok(request) => {
            let _ = format!("{request:?}");
            if let TokenRequest::ClientCredentials { resources, .. } = &request {
                assert!(resources.len() <= 10);
                assert!(resources.iter().all(|r| !r.contains('#')));
            }
        }
        Err(e) => assert_safe(&e),
    }
    if let Err(e) = parse_resources(&form) {
        assert_eq!(e.code.as_str(), "invalid_target");
    }

    match presented_credentials(header.as_deref(), &form) {
        Ok(Some(Presented::Basic { client_id, secret })) => {
            assert!(!client_id.is_empty());
            // Every `%` of the decoded header began a `%XX` escape (RFC 6749 §2.3.1, Appendix B).
            let encoded = header.as_deref().and_then(|h| h.trim().split_once(' '));
            let decoded = STANDARD
                .decode(encoded.expect("a Basic header").1.trim())
                .expect("base64");
            for (i, _) in decoded.iter().enumerate().filter(|(_, b)| **b == b'%') {
                let hex = decoded.get(i + 1..i + 3).expect("two characters after %");
                assert!(hex.iter().all(u8::is_ascii_hexdigit), "%{hex:?} decoded");
            }
            assert!(form.get("client_secret").is_none());
            // Put back together (RFC 6749 §2.3.1), the credentials read the same.
            let rebuilt = format!(
                "Basic {}",
                STANDARD.encode(format!(
                    "{}:{}",
                    form_encode(&client_id),
                    form_encode(&secret)
                ))
            );
            let mut bare = FormParams::default();
            if let Some(id) = form.get("client_id") {
                bare = FormParams::parse(format!("client_id={}", form_encode(id)).as_bytes())
                    .expect("client_id form");
            }
            assert_eq!(
                presented_credentials(Some(&rebuilt), &bare).expect("rebuilt header"),
                Some(Presented::Basic { client_id, secret })
            );
        }
        Ok(Some(other)) => {
            assert!(header.is_none());
            assert_eq!(Some(other.client_id()), form.get("client_id"));
        }
        Ok(None) => {
            assert!(header.is_none());
            assert!(form.get("client_id").is_none() && form.get("client_secret").is_none());
        }
        Err(e) => {
            assert!(matches!(
                e.code.as_str(),
                "invalid_request" | "invalid_client"
            ));
            assert_safe(&e);
        }
    }
});
