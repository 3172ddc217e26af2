//! The workspace's shape, checked by reading its sources (as rust-analyzer's `xtask/src/tidy.rs`
//! does): one test per rule, each failing with the file and line that break it.
//!
//! Two rules still have files that break them (other changes of issue 14 remove them). Those
//! files are listed in `KNOWN_…` lists that can only shrink: a listed file that keeps the rule
//! fails the test until it is taken off the list, and an unlisted file that breaks it fails.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Files of `crates/server/src/routes/` that still name the store crate.
const KNOWN_STORE_IN_ROUTES: &[&str] = &[];

/// Files that still compare an error code as a string.
const KNOWN_ERROR_STRING_COMPARISONS: &[&str] = &[];

/// The OAuth (RFC 6749, 6750, 7009, 7591, 8628, 8707, OpenID Connect) and JSON API error codes.
const ERROR_CODES: &[&str] = &[
    // RFC 6749 §4.1.2.1, §5.2
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "unsupported_response_type",
    "invalid_scope",
    "access_denied",
    "server_error",
    "temporarily_unavailable",
    // RFC 6750, RFC 7009, RFC 8707, RFC 8628
    "invalid_token",
    "insufficient_scope",
    "unsupported_token_type",
    "invalid_target",
    "authorization_pending",
    "slow_down",
    "expired_token",
    // RFC 7591
    "invalid_redirect_uri",
    "invalid_client_metadata",
    "invalid_software_statement",
    "unapproved_software_statement",
    // OpenID Connect Core §3.1.2.6
    "login_required",
    "consent_required",
    "interaction_required",
    "account_selection_required",
    "invalid_request_uri",
    "invalid_request_object",
    "request_not_supported",
    "request_uri_not_supported",
    "registration_not_supported",
    // The JSON API (`errors.rs`)
    "invalid_api_key",
    "invalid_credentials",
    "token_expired",
    "invalid_body",
    "invalid_json",
    "invalid_field",
    "invalid_query",
    "invalid_path",
    "not_found",
    "forbidden",
    "email_taken",
    "invite_expired",
    "invite_used",
    "last_owner",
    "rate_limited",
    "mfa_required",
    "gateway_disabled",
    "internal_error",
];

/// Readers of the wall clock; only `primitives` (the `Clock`) may call them. `Instant::now` is
/// allowed: it measures durations (latency, back-off), never the expiry of data.
const WALL_CLOCK_READERS: &[&str] = &[
    "SystemTime::now",
    "Utc::now",
    "Local::now",
    "OffsetDateTime::now_utc",
];

/// The workspace root: two levels above this crate.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// `path` relative to the root, with `/`.
fn rel(path: &Path) -> String {
    let root = root();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `.rs` files under `dir`, recursively, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Our crates: name → directory, from `crates/*/Cargo.toml`.
fn crates() -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(root().join("crates")).expect("crates/") {
        let dir = entry.expect("entry").path();
        let manifest = dir.join("Cargo.toml");
        if manifest.is_file() {
            let toml: toml::Table = read(&manifest).parse().expect("Cargo.toml");
            let name = toml["package"]["name"].as_str().expect("package.name");
            out.insert(name.to_owned(), dir);
        }
    }
    assert!(out.len() >= 10, "found only {:?}", out.keys());
    out
}

/// The `src/` files of every crate, without their test modules (see [`code_lines`]).
fn product_sources() -> Vec<PathBuf> {
    crates()
        .values()
        .flat_map(|dir| rust_files(&dir.join("src")))
        .collect()
}

/// The lines (1-based number, text) of product code: comment lines are left out, and so are
/// `#[cfg(test)]` modules (from the attribute to the module's closing brace).
fn code_lines(text: &str) -> Vec<(usize, &str)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let trimmed = lines[i].trim_start();
        let opens_test_module = trimmed == "#[cfg(test)]"
            && lines.get(i + 1).is_some_and(|next| {
                let next = next.trim_start();
                (next.starts_with("mod ") || next.starts_with("pub mod ")) && next.ends_with('{')
            });
        if opens_test_module {
            // Skip to the brace that closes the module; braces in literals and comments do not
            // count.
            let mut depth = 0i64;
            i += 1;
            while i < lines.len() {
                depth += brace_balance(lines[i]);
                i += 1;
                if depth <= 0 {
                    break;
                }
            }
            continue;
        }
        if !trimmed.starts_with("//") {
            out.push((i + 1, lines[i]));
        }
        i += 1;
    }
    out
}

/// `{` minus `}` on a line, outside string and char literals and before any `//`.
fn brace_balance(line: &str) -> i64 {
    let mut code = line.to_owned();
    for (start, end, _) in literals(line).into_iter().rev() {
        code.replace_range(start..end, "");
    }
    let code = code.replace("'{'", "").replace("'}'", "");
    let code = code.split("//").next().unwrap_or_default();
    let count = |c: char| i64::try_from(code.matches(c).count()).unwrap_or(i64::MAX);
    count('{') - count('}')
}

#[test]
fn test_modules_are_left_out_and_what_follows_them_is_not() {
    let text =
        "fn a() {}\n#[cfg(test)]\nmod tests {\n    fn t() { let s = \"}\"; }\n}\nfn b() {}\n";
    let kept: Vec<usize> = code_lines(text).into_iter().map(|(n, _)| n).collect();
    assert_eq!(kept, [1, 6]);
}

/// `file:line: text` for each hit.
type Hits = BTreeMap<String, Vec<String>>;

fn hit(hits: &mut Hits, path: &Path, line: usize, text: &str) {
    hits.entry(rel(path))
        .or_default()
        .push(format!("{}:{line}: {}", rel(path), text.trim()));
}

/// Fails for hits in unlisted files and for listed files without hits.
fn check_against_known(rule: &str, hits: &Hits, known: &[&str]) {
    let mut problems = Vec::new();
    for (file, lines) in hits {
        if !known.contains(&file.as_str()) {
            problems.extend(lines.iter().cloned());
        }
    }
    for file in known {
        if !hits.contains_key(*file) {
            problems.push(format!(
                "{file} keeps the rule now: take it off the list of known violations"
            ));
        }
    }
    assert!(problems.is_empty(), "{rule}:\n{}", problems.join("\n"));
}

/// Whether `line` names the store crate (`store::…`, not `state.store` or `a_store::`).
fn names_store(line: &str) -> bool {
    line.match_indices("store::").any(|(at, _)| {
        line[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
    })
}

fn store_in_routes() -> Hits {
    let mut hits = Hits::new();
    for path in rust_files(&root().join("crates/server/src/routes")) {
        let text = read(&path);
        // Test modules too: routes should not name the store crate at all.
        for (n, line) in text.lines().enumerate() {
            if !line.trim_start().starts_with("//") && names_store(line) {
                hit(&mut hits, &path, n + 1, line);
            }
        }
    }
    hits
}

#[test]
fn routes_do_not_use_the_store_crate() {
    check_against_known(
        "crates/server/src/routes/ names the store crate (call a domain crate instead)",
        &store_in_routes(),
        KNOWN_STORE_IN_ROUTES,
    );
}

#[test]
fn nothing_outside_primitives_reads_the_wall_clock() {
    let primitives = crates()["primitives"].join("src");
    let mut problems = Vec::new();
    for path in product_sources() {
        if path.starts_with(&primitives) {
            continue;
        }
        let text = read(&path);
        for (n, line) in code_lines(&text) {
            if WALL_CLOCK_READERS.iter().any(|r| line.contains(r)) {
                problems.push(format!("{}:{n}: {}", rel(&path), line.trim()));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "the wall clock read outside primitives (take a `primitives::Clock`):\n{}",
        problems.join("\n")
    );
}

/// The string literals of a line: (start, end) byte offsets including the quotes, and content.
fn literals(line: &str) -> Vec<(usize, usize, &str)> {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            // A char literal such as '"' is not the start of a string.
            b'\'' if bytes.get(i + 2) == Some(&b'\'') => i += 3,
            b'\'' if bytes.get(i + 1) == Some(&b'\\') && bytes.get(i + 3) == Some(&b'\'') => i += 4,
            b'"' => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                let end = (i + 1).min(bytes.len());
                out.push((
                    start,
                    end,
                    &line[start + 1..end.saturating_sub(1).max(start + 1)],
                ));
                i = end;
            }
            _ => i += 1,
        }
    }
    out
}

/// Whether `line` compares an error code as a string: a known code next to `==`, `!=`, a
/// match arm's `=>` or `|`, `.eq(` or inside `matches!`; or any literal compared with a value
/// named `…error` or `…code`. Parsing into the enum (`"…" => Self::…`) is not a comparison.
fn compares_error_string(line: &str) -> bool {
    literals(line).into_iter().any(|(start, end, content)| {
        let before = line[..start].trim_end();
        let after = line[end..].trim_start();
        let operand = before
            .strip_suffix("==")
            .or_else(|| before.strip_suffix("!="))
            .map(str::trim_end);
        let compared_before = operand.is_some();
        if operand.is_some_and(|o| o.ends_with("error") || o.ends_with("code")) {
            return true;
        }
        if !ERROR_CODES.contains(&content) {
            return false;
        }
        let parses_into_enum = after
            .strip_prefix("=>")
            .map(str::trim_start)
            .is_some_and(|a| {
                ["Self::", "Some(Self::", "Ok(Self::"]
                    .iter()
                    .any(|p| a.starts_with(p))
            });
        compared_before
            || before.ends_with(".eq(")
            || after.starts_with("==")
            || after.starts_with("!=")
            || (after.starts_with("=>") && !parses_into_enum)
            || (after.starts_with('|') && !after.starts_with("||"))
            || (line.contains("matches!(") && (after.starts_with(')') || after.starts_with('|')))
    })
}

#[test]
fn the_error_comparison_rule_finds_what_it_should() {
    for bad in [
        r#"if e.error == "invalid_grant" {"#,
        r#"Err(e) if e.error == "invalid_grant" => {"#,
        r#"if "invalid_client" != err.error {"#,
        r#"if code == "whatever" {"#,
        r#"if self.error.code != "not_found" {"#,
        r#"    "invalid_grant" | "invalid_client" => retry(),"#,
        r#"    "invalid_scope" => 400,"#,
        r#"if matches!(e.error.as_str(), "invalid_grant") {"#,
        r#"if e.error.eq("invalid_token") {"#,
    ] {
        assert!(compares_error_string(bad), "missed: {bad}");
    }
    for fine in [
        r#"Self::InvalidGrant => "invalid_grant","#,
        r#"OAuthHttpError::new(400, "invalid_grant", "the code is unknown")"#,
        r#"    "invalid_grant" => Some(Self::InvalidGrant),"#,
        r#".filter(|(k, _)| k != "csrf_token" && k != "confirm")"#,
        r#"let ch = '"'; if kind == "token" {"#,
        r#"json!({"error": "invalid_token"})"#,
    ] {
        assert!(!compares_error_string(fine), "flagged: {fine}");
    }
}

#[test]
fn error_codes_are_not_compared_as_strings() {
    let mut hits = Hits::new();
    for path in product_sources() {
        let text = read(&path);
        for (n, line) in code_lines(&text) {
            if compares_error_string(line) {
                hit(&mut hits, &path, n, line);
            }
        }
    }
    check_against_known(
        "an error code compared as a string (match on the error enum instead)",
        &hits,
        KNOWN_ERROR_STRING_COMPARISONS,
    );
}

/// The `## Crate dependencies` list of docs/ARCHITECTURE.md: crate → (line, its arrows).
fn documented_arrows() -> BTreeMap<String, (usize, BTreeSet<String>)> {
    let text = read(&root().join("docs/ARCHITECTURE.md"));
    let mut out = BTreeMap::new();
    let mut inside = false;
    for (i, line) in text.lines().enumerate() {
        if line.starts_with("## ") {
            inside = line.trim() == "## Crate dependencies";
            continue;
        }
        let Some(item) = line.strip_prefix("- ").filter(|_| inside) else {
            continue;
        };
        let (name, deps) = item
            .split_once('→')
            .unwrap_or_else(|| panic!("docs/ARCHITECTURE.md:{}: expected `- crate → …`", i + 1));
        let deps = deps.trim();
        let deps: BTreeSet<String> = if deps == "(none)" {
            BTreeSet::new()
        } else {
            deps.split(',').map(|d| d.trim().to_owned()).collect()
        };
        let name = name.trim().trim_matches('`').to_owned();
        assert!(
            out.insert(name.clone(), (i + 1, deps)).is_none(),
            "docs/ARCHITECTURE.md:{}: {name} is listed twice",
            i + 1
        );
    }
    assert!(
        !out.is_empty(),
        "docs/ARCHITECTURE.md has no `## Crate dependencies` list"
    );
    out
}

#[test]
fn the_crate_arrows_in_architecture_md_match_cargo_toml() {
    let crates = crates();
    let documented = documented_arrows();
    let mut problems = Vec::new();
    for (name, dir) in &crates {
        let manifest = dir.join("Cargo.toml");
        let text = read(&manifest);
        let toml: toml::Table = text.parse().expect("Cargo.toml");
        let actual: BTreeSet<String> = toml
            .get("dependencies")
            .and_then(toml::Value::as_table)
            .map(|deps| {
                deps.keys()
                    .filter(|d| crates.contains_key(*d))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let Some((line, listed)) = documented.get(name) else {
            problems.push(format!(
                "docs/ARCHITECTURE.md: no line `- {name} → …` under ## Crate dependencies"
            ));
            continue;
        };
        for dep in actual.difference(listed) {
            let at = text
                .lines()
                .position(|l| {
                    l.starts_with(&format!("{dep}.")) || l.starts_with(&format!("{dep} "))
                })
                .map_or(0, |p| p + 1);
            problems.push(format!(
                "{}:{at}: {name} depends on {dep}, but docs/ARCHITECTURE.md:{line} has no arrow to it",
                rel(&manifest)
            ));
        }
        for dep in listed.difference(&actual) {
            problems.push(format!(
                "docs/ARCHITECTURE.md:{line}: {name} → {dep}, but {} does not depend on {dep}",
                rel(&manifest)
            ));
        }
    }
    for (name, (line, _)) in &documented {
        if !crates.contains_key(name) {
            problems.push(format!(
                "docs/ARCHITECTURE.md:{line}: no crate named {name}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A crate's root: `src/lib.rs`, else `src/main.rs`.
fn crate_root(dir: &Path) -> PathBuf {
    let lib = dir.join("src/lib.rs");
    if lib.is_file() {
        lib
    } else {
        dir.join("src/main.rs")
    }
}

#[test]
fn every_crate_root_says_what_the_crate_owns() {
    let mut problems = Vec::new();
    for dir in crates().values() {
        let path = crate_root(dir);
        let text = read(&path);
        let doc: Vec<&str> = text
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .map(|l| l.trim_start_matches("//!").trim())
            .collect();
        if doc.is_empty() {
            problems.push(format!("{}:1: no `//!` module doc at the top", rel(&path)));
        } else if !doc.iter().any(|l| l.starts_with("Owns")) {
            problems.push(format!(
                "{}:1: the module doc has no line starting `Owns` (what the crate owns)",
                rel(&path)
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn unsafe_code_is_forbidden_in_every_crate() {
    let root_manifest: toml::Table = read(&root().join("Cargo.toml"))
        .parse()
        .expect("Cargo.toml");
    let workspace_forbids = root_manifest["workspace"]
        .get("lints")
        .and_then(|l| l.get("rust"))
        .and_then(|r| r.get("unsafe_code"))
        .and_then(toml::Value::as_str)
        == Some("forbid");
    let mut problems = Vec::new();
    for dir in crates().values() {
        let manifest = dir.join("Cargo.toml");
        let toml: toml::Table = read(&manifest).parse().expect("Cargo.toml");
        let inherits = toml
            .get("lints")
            .and_then(|l| l.get("workspace"))
            .and_then(toml::Value::as_bool)
            == Some(true);
        let root = crate_root(dir);
        let forbids_itself = read(&root).contains("#![forbid(unsafe_code)]");
        let forbidden = forbids_itself || (workspace_forbids && inherits);
        if !forbidden {
            problems.push(format!(
                "{}:1: neither `[lints] workspace = true` (with unsafe_code = \"forbid\" in the \
                 workspace) nor `#![forbid(unsafe_code)]` in {}",
                rel(&manifest),
                rel(&root)
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// oxide-auth is kept behind `grants::Scope` and `grants::CodeChallenge` (docs/ARCHITECTURE.md,
/// "The oxide-auth question"): no other file uses it.
#[test]
fn oxide_auth_is_used_only_behind_scope_and_code_challenge() {
    let allowed = ["crates/grants/src/scope.rs", "crates/grants/src/pkce.rs"];
    // Spelled in two parts so that this file does not find itself.
    let needle = ["oxide", "_auth::"].concat();
    let mut problems = Vec::new();
    for dir in crates().values() {
        for sub in ["src", "tests", "benches"] {
            let dir = dir.join(sub);
            if !dir.is_dir() {
                continue;
            }
            for path in rust_files(&dir) {
                if allowed.contains(&rel(&path).as_str()) {
                    continue;
                }
                for (n, line) in read(&path).lines().enumerate() {
                    if line.contains(&needle) && !line.trim_start().starts_with("//") {
                        problems.push(format!("{}:{}: {}", rel(&path), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "oxide-auth outside grants' Scope and CodeChallenge:\n{}",
        problems.join("\n")
    );
}

/// Grants made without a flow (`grants::testing`, feature `testing`) are for other crates'
/// tests: no crate's `[dependencies]` turns the feature on, and no product source names it.
#[test]
fn grants_made_without_a_flow_stay_in_tests() {
    let mut problems = Vec::new();
    for dir in crates().values() {
        let manifest = dir.join("Cargo.toml");
        let toml: toml::Table = read(&manifest).parse().expect("Cargo.toml");
        let features = toml
            .get("dependencies")
            .and_then(|d| d.get("grants"))
            .and_then(|g| g.get("features"))
            .and_then(|f| f.as_array());
        if features.is_some_and(|f| f.iter().any(|v| v.as_str() == Some("testing"))) {
            problems.push(format!(
                "{}: [dependencies] grants with feature testing",
                rel(&manifest)
            ));
        }
    }
    for path in product_sources() {
        let text = read(&path);
        for (n, line) in code_lines(&text) {
            if line.contains("grants::testing") {
                problems.push(format!("{}:{n}: {}", rel(&path), line.trim()));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "a grant made without a flow outside tests:\n{}",
        problems.join("\n")
    );
}

/// `server`'s layering: state, extractors, errors, page rendering, `flows.rs` and the audit
/// writer live below `routes/` and never import it; only `app.rs` (which assembles the
/// application) and `lib.rs` name it.
#[test]
fn nothing_below_routes_in_the_server_imports_routes() {
    let src = root().join("crates/server/src");
    let routes = src.join("routes");
    let mut problems = Vec::new();
    for path in rust_files(&src) {
        let top = path.parent() == Some(src.as_path());
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.starts_with(&routes) || top && matches!(name, "app.rs" | "lib.rs") {
            continue;
        }
        let text = read(&path);
        for (n, line) in code_lines(&text) {
            if line.contains("routes::") {
                problems.push(format!("{}:{n}: {}", rel(&path), line.trim()));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "below routes/, importing it:\n{}",
        problems.join("\n")
    );
}

/// Audit rows are inserted by `server`'s one writer (`audit.rs`), and by `grants::family`,
/// which records `refresh_family.revoked` in the transaction that revokes (docs/ARCHITECTURE.md).
#[test]
fn only_the_audit_writer_inserts_audit_rows() {
    let allowed = ["crates/server/src/audit.rs", "crates/grants/src/family.rs"];
    let mut problems = Vec::new();
    for path in product_sources() {
        if allowed.contains(&rel(&path).as_str()) || rel(&path).starts_with("crates/store/") {
            continue;
        }
        let text = read(&path);
        for (n, line) in code_lines(&text) {
            if line.contains("audit::insert") || line.contains("AuditEvent {") {
                problems.push(format!("{}:{n}: {}", rel(&path), line.trim()));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "audit rows written outside the writer:\n{}",
        problems.join("\n")
    );
}

/// Route files that read the session or compare a CSRF token by hand, and why.
const SESSION_BY_HAND: &[&str] = &[
    // RP-initiated logout checks the token only on a confirming POST, against the session's
    // or, without one, the pre-session cookie's.
    "crates/server/src/routes/oidc.rs",
];

/// Page handlers get the session and check CSRF only through `server/src/session.rs`'s
/// extractors (`SignedIn`, `MaybeSignedIn`, `CsrfChecked`, `PreSessionChecked`).
#[test]
fn page_handlers_check_csrf_through_the_extractors() {
    let mut hits = Hits::new();
    for path in rust_files(&root().join("crates/server/src/routes")) {
        let text = read(&path);
        for (n, line) in code_lines(&text) {
            let by_hand = [
                "tokens_match",
                "current(",
                "SESSION_COOKIE",
                "pre_session_csrf_matches",
            ];
            if by_hand.iter().any(|b| line.contains(b)) {
                hit(&mut hits, &path, n, line);
            }
        }
    }
    check_against_known(
        "the session or a CSRF token read by hand in a route (use session.rs's extractors)",
        &hits,
        SESSION_BY_HAND,
    );
}

/// Blocking database work enters the blocking pool through `traces::block`, which names it in
/// the traces (`db <operation>`); a bare `web::block` would be work the traces cannot see.
/// The DNS look-up of the vetted connector (the gateway's and client metadata documents') uses
/// no connection and is the one exception.
#[test]
fn blocking_work_in_the_server_goes_through_traces_block() {
    let src = root().join("crates/server/src");
    let mut problems = Vec::new();
    for path in rust_files(&src) {
        let name = rel(&path);
        if name.ends_with("server/src/traces.rs") {
            continue;
        }
        let text = read(&path);
        for (n, line) in code_lines(&text) {
            let exempt = name.ends_with("server/src/vetted.rs") && line.contains("vetted_addrs");
            if line.contains("web::block(") && !exempt {
                problems.push(format!("{name}:{n}: {}", line.trim()));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "blocking work outside traces::block:\n{}",
        problems.join("\n")
    );
}
