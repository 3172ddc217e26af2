//! The crate's layering, checked by reading its sources (as rust-analyzer's `tidy` does).
//!
//! - Only `app.rs` (which assembles the application) and `lib.rs` name `routes`: the state,
//!   the extractors, the errors, the pages and the audit writer live below the routes.
//! - (That routes do not name the `store` crate is checked by the workspace's tidy test,
//!   `crates/portcullis/tests/portcullis/tidy.rs`.)
//! - Only `audit.rs` inserts audit rows.
//! - Page handlers get the session and check CSRF through `session.rs`'s extractors; only
//!   the handlers in `BY_HAND` compare a CSRF token themselves.

use std::path::{Path, PathBuf};

/// Route files that compare a CSRF token by hand, and why.
const BY_HAND: &[&str] = &[
    // RP-initiated logout checks the token only on a confirming POST, against the session's
    // or, without one, the pre-session cookie's.
    "oidc.rs",
];

fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("source is readable");
            out.push((path, text));
        }
    }
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The code of a file without its comments (a doc comment may name anything).
fn code(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn file_name(path: &Path) -> &str {
    path.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

#[test]
fn nothing_below_routes_imports_routes() {
    let src = src();
    let routes = src.join("routes");
    let mut offenders = Vec::new();
    for (path, text) in sources(&src) {
        let name = file_name(&path);
        if path.starts_with(&routes)
            || path.parent() == Some(src.as_path())
                && matches!(name, "app.rs" | "lib.rs" | "layering.rs")
        {
            continue;
        }
        if code(&text).contains("routes::") {
            offenders.push(path.display().to_string());
        }
    }
    assert!(
        offenders.is_empty(),
        "modules below routes/ import it: {offenders:?}"
    );
}

#[test]
fn only_the_audit_writer_inserts_audit_rows() {
    let mut offenders = Vec::new();
    for (path, text) in sources(&src()) {
        let name = file_name(&path);
        if matches!(name, "audit.rs" | "layering.rs") {
            continue;
        }
        let code = code(&text);
        if code.contains("audit::insert") || code.contains("AuditEvent {") {
            offenders.push(path.display().to_string());
        }
    }
    assert!(
        offenders.is_empty(),
        "audit rows written outside audit.rs: {offenders:?}"
    );
}

#[test]
fn page_handlers_check_csrf_through_the_extractors() {
    let mut offenders = Vec::new();
    for (path, text) in sources(&src().join("routes")) {
        let name = file_name(&path);
        if BY_HAND.contains(&name) {
            continue;
        }
        let code = code(&text);
        for by_hand in [
            "tokens_match",
            "current(",
            "SESSION_COOKIE",
            "pre_session_csrf_matches",
        ] {
            if code.contains(by_hand) {
                offenders.push(format!("{name}: {by_hand}"));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "session or CSRF read by hand: {offenders:?}"
    );
}
