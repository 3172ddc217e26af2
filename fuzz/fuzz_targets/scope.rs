//! Scope strings: OAuth scope tokens (RFC 6749 §3.3), API-key scope patterns with `*`
//! wildcards, and the scope a gateway call needs.
//!
//! Input: two strings separated by a newline (a pattern or service, then a required scope or
//! endpoint path). Asserts that `scope_covers` is reflexive, that `*` covers everything and a
//! trailing `:*` every longer scope, that `required_scope` yields a valid agent scope covered by
//! itself and by `service:*` exactly when it has a path, and that `is_scope_token` accepts
//! exactly the RFC 6749 characters.
#![no_main]

use apikeys::{check_agent_scopes, required_scope, scope_covers};
use libfuzzer_sys::fuzz_target;
use registration::is_scope_token;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (a, b) = text.split_once('\n').unwrap_or((&text, ""));

    assert!(scope_covers(a, a), "reflexive: {a:?}");
    assert!(scope_covers(b, b), "reflexive: {b:?}");
    assert!(scope_covers("*", a) && scope_covers("*", b));
    if !a.contains('*') {
        // Without wildcards, covering is equality.
        assert_eq!(scope_covers(a, b), a == b);
        assert!(scope_covers(&format!("{a}:*"), &format!("{a}:{b}")));
        assert!(
            !scope_covers(&format!("{a}:*"), a),
            "`x:*` does not cover `x`"
        );
    }

    match required_scope(a, b) {
        Ok(scope) => {
            assert!(scope_covers(&scope, &scope));
            assert!(
                check_agent_scopes(std::slice::from_ref(&scope)).is_ok(),
                "{scope:?}"
            );
            let service = a.to_ascii_lowercase();
            assert!(scope == service || scope.starts_with(&format!("{service}:")));
            assert_eq!(
                scope_covers(&format!("{service}:*"), &scope),
                scope != service
            );
            assert!(!scope.contains('*') && scope.split(':').count() <= 8);
            assert_eq!(scope, scope.to_ascii_lowercase());
        }
        Err(e) => assert!(matches!(e, apikeys::KeyError::Invalid { .. })),
    }
    let _ = check_agent_scopes(&[a.to_owned(), b.to_owned()]);

    for token in [a, b] {
        let expected = !token.is_empty()
            && token
                .chars()
                .all(|c| c == '!' || ('#'..='[').contains(&c) || (']'..='~').contains(&c));
        assert_eq!(is_scope_token(token), expected, "{token:?}");
    }
});
