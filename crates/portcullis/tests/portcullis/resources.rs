//! `portcullis resource add|list|show|update|remove`: the protected resources an operator
//! registers, on both backends.

use store::Backend;
use store::testing::TestDb;

use crate::cli::{json_output, migrated, output};

const MCP: &str = "https://mcp.example.com/mcp";

/// The same walk on a SQLite file and on a PostgreSQL database.
fn walk(dir: &std::path::Path, env: &[(&str, &str)]) {
    let added = json_output(
        dir,
        &[
            "resource",
            "add",
            MCP,
            "--name",
            "Notes MCP server",
            "--scope",
            "mcp:tools=Use your notes through the MCP tools",
            "--scope",
            "mcp:admin",
            "--token-ttl",
            "600",
        ],
        env,
    );
    let added = &added[0];
    assert_eq!(added["uri"], MCP);
    assert_eq!(added["name"], "Notes MCP server");
    assert_eq!(added["scopes"][0]["name"], "mcp:tools");
    assert_eq!(
        added["scopes"][0]["description"],
        "Use your notes through the MCP tools"
    );
    assert_eq!(added["scopes"][1]["description"], "");
    assert_eq!(added["accessTokenTtl"], 600);
    let id = added["id"].as_str().expect("id").to_owned();

    // The same URI again, a fragment, a lifetime out of bounds: refused, with the reason.
    for bad in [
        vec!["resource", "add", MCP, "--name", "Again"],
        vec!["resource", "add", "https://a.example/#f", "--name", "A"],
        vec![
            "resource",
            "add",
            "https://a.example/",
            "--name",
            "A",
            "--token-ttl",
            "5",
        ],
        vec![
            "resource",
            "add",
            "https://a.example/",
            "--name",
            "A",
            "--scope",
            "openid",
        ],
    ] {
        assert!(!output(dir, &bad, env).0, "{bad:?}");
    }

    let (ok, listed) = output(dir, &["resource", "list"], env);
    assert!(ok);
    assert!(
        listed.starts_with("id\turi\tname\tscopes\taccessTokenTtl\n"),
        "{listed}"
    );
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with(&id) && l.contains(MCP) && l.contains("mcp:tools mcp:admin")),
        "{listed}"
    );

    // Found by id or by URI.
    for key in [id.as_str(), MCP] {
        let shown = json_output(dir, &["resource", "show", key], env);
        assert_eq!(shown[0]["id"], id.as_str());
    }

    // What is not given stays; --scope replaces the scopes; --token-ttl 0 is the server's.
    let updated = json_output(
        dir,
        &[
            "resource",
            "update",
            MCP,
            "--name",
            "Notes",
            "--token-ttl",
            "0",
        ],
        env,
    );
    assert_eq!(updated[0]["name"], "Notes");
    assert_eq!(updated[0]["scopes"].as_array().map(Vec::len), Some(2));
    assert!(updated[0]["accessTokenTtl"].is_null());
    let updated = json_output(
        dir,
        &[
            "resource",
            "update",
            &id,
            "--scope",
            "mcp:tools=Use the tools",
        ],
        env,
    );
    assert_eq!(updated[0]["scopes"].as_array().map(Vec::len), Some(1));
    assert_eq!(updated[0]["name"], "Notes");

    // A client may be given a registered resource's scope; one no resource has is unknown.
    let client = json_output(
        dir,
        &[
            "client",
            "create",
            "--grant-type",
            "client_credentials",
            "--scope",
            "mcp:tools",
        ],
        env,
    );
    assert!(client[0]["clientId"].is_string());
    let unknown = [
        "client",
        "create",
        "--grant-type",
        "client_credentials",
        "--scope",
        "mcp:other",
    ];
    assert!(!output(dir, &unknown, env).0);

    assert!(output(dir, &["resource", "remove", MCP], env).0);
    assert!(
        !output(dir, &["resource", "remove", MCP], env).0,
        "already gone"
    );
    assert!(!output(dir, &["resource", "show", &id], env).0);
    // Each change is audited.
    let (ok, events) = output(dir, &["audit"], env);
    assert!(ok);
    assert_eq!(
        events.lines().filter(|l| l.contains("resource.")).count(),
        4,
        "{events}"
    );
}

#[test]
fn operators_add_list_show_update_and_remove_resources_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    migrated(dir.path());
    walk(dir.path(), &[]);
}

#[test]
fn operators_add_list_show_update_and_remove_resources_on_postgres() {
    let db = TestDb::empty(Backend::Postgres);
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [("PORTCULLIS_DATABASE_URL", db.url())];
    assert!(output(dir.path(), &["migrate"], &env).0);
    walk(dir.path(), &env);
}
