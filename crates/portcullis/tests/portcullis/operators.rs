//! The operator commands without traps: server settings only under `serve`, no database made
//! by a command run in the wrong folder, private files, quiet logs, `--output json|table`, and
//! the commands for clients, API keys, agents, organizations and users.

use std::path::Path;
use std::process::Command;

use serde_json::json;
use store::Backend;
use store::testing::TestDb;

use crate::cli::{Process, json_output, migrated, output};

/// Runs a command in `dir` with a clean environment; returns (success, stdout, stderr).
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    cmd.current_dir(dir)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run portcullis");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A command run from the wrong folder (or with a mistyped path) must not make an empty
/// database there and carry on as if it were the real one: it names the database it would
/// have used and stops.
#[test]
fn a_command_run_from_another_folder_makes_no_empty_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let commands: [&[&str]; 9] = [
        &["user", "list"],
        &["user", "create", "--email", "x@example.com", "--name", "X"],
        &["client", "list"],
        &["client", "token"],
        &["keys", "list"],
        &["org", "list"],
        &["apikey", "list", "--org", "org_x"],
        &["agent", "list", "--org", "org_x"],
        &["audit"],
    ];
    let expected = format!(
        "no database at {}",
        dir.path()
            .canonicalize()
            .expect("canonical")
            .join("data/portcullis.db")
            .display()
    );
    for args in commands {
        let (ok, out, err) = run(dir.path(), args, &[]);
        assert!(!ok, "{args:?} succeeded: {out}");
        assert!(
            err.starts_with("portcullis: error: ")
                && err.contains(&expected)
                && err.contains("sqlite://data/portcullis.db")
                && err.contains("portcullis migrate"),
            "{args:?}: {err}"
        );
        assert!(
            !dir.path().join("data").exists(),
            "{args:?} made the data folder"
        );
    }
    // An empty file where the database should be is no database either (and stays empty).
    std::fs::create_dir(dir.path().join("data")).expect("mkdir");
    std::fs::write(dir.path().join("data/portcullis.db"), b"").expect("touch");
    let (ok, _, err) = run(dir.path(), &["user", "list"], &[]);
    assert!(!ok);
    assert!(err.contains("holds no Portcullis database"), "{err}");
    let (ok, _, err) = run(dir.path(), &["migrate"], &[]);
    assert!(ok, "{err}");
    let (ok, out, err) = run(dir.path(), &["user", "list"], &[]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 1, "the header alone: {out}");
}

#[test]
fn a_command_on_an_unmigrated_postgres_database_changes_nothing() {
    let db = TestDb::empty(Backend::Postgres);
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [("PORTCULLIS_DATABASE_URL", db.url())];
    let (ok, _, err) = run(
        dir.path(),
        &["client", "create", "--grant-type", "client_credentials"],
        &env,
    );
    assert!(!ok);
    assert!(
        err.contains("holds no Portcullis database") && err.contains("portcullis migrate"),
        "{err}"
    );
    assert!(
        !db.store().is_initialized().expect("asked"),
        "nothing was written"
    );
    assert!(run(dir.path(), &["migrate"], &env).0);
    let created = json_output(
        dir.path(),
        &["client", "create", "--grant-type", "client_credentials"],
        &env,
    );
    assert!(created[0]["clientId"].is_string());
}

#[test]
fn server_settings_are_listed_by_serve_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server_only = [
        "PORTCULLIS_BIND",
        "PORTCULLIS_ISSUER",
        "PORTCULLIS_WORKERS",
        "PORTCULLIS_SMTP_URL",
        "PORTCULLIS_RATE_LIMIT_LOGIN",
    ];
    let (ok, serve) = output(dir.path(), &["serve", "--help"], &[]);
    assert!(ok);
    for var in server_only {
        assert!(serve.contains(var), "serve --help lacks {var}");
    }
    for args in [
        &["--help"][..],
        &["migrate", "--help"],
        &["client", "--help"],
        &["client", "update", "--help"],
        &["user", "list", "--help"],
        &["apikey", "rotate", "--help"],
        &["audit", "--help"],
    ] {
        let (ok, help) = output(dir.path(), args, &[]);
        assert!(ok, "{args:?}");
        for var in server_only {
            assert!(!help.contains(var), "{args:?} lists {var}:\n{help}");
        }
        assert!(help.contains("PORTCULLIS_DATABASE_URL"), "{args:?}");
    }
    for args in [&["migrate", "--help"][..], &["user", "list", "--help"]] {
        let (_, help) = output(dir.path(), args, &[]);
        assert!(help.contains("--output"), "{args:?}:\n{help}");
    }
    // A server flag is not taken by another command; its environment variable still counts.
    let (ok, _, err) = run(dir.path(), &["user", "list", "--bind", "0.0.0.0:1"], &[]);
    assert!(!ok);
    assert!(err.contains("--bind"), "{err}");
}

/// The data folder 0700, the SQLite file with its `-wal` and `-shm` and the encryption key
/// file 0600, whatever the umask: they hold password hashes, sealed TOTP secrets and the key
/// that opens them.
#[test]
fn the_data_folder_and_its_files_are_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let serve = Process::spawn(dir.path(), &[], &[("PORTCULLIS_BIND", "127.0.0.1:0")]);
    serve.wait_listening();
    let mode = |name: &str| {
        std::fs::metadata(dir.path().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("data"), 0o700, "data/");
    for file in [
        "data/portcullis.db",
        "data/portcullis.db-wal",
        "data/portcullis.db-shm",
        "data/encryption.keys",
    ] {
        assert_eq!(mode(file), 0o600, "{file}");
    }
}

#[test]
fn operator_commands_log_nothing_at_info_unless_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ok, _, err) = run(dir.path(), &["migrate"], &[]);
    assert!(ok);
    assert_eq!(err, "", "nothing on stderr by default");
    let (ok, _, err) = run(dir.path(), &["user", "list"], &[]);
    assert!(ok);
    assert_eq!(err, "");
    let (ok, _, err) = run(dir.path(), &["migrate", "--verbose"], &[]);
    assert!(ok);
    assert!(err.contains("database schema is current"), "{err}");
    let (ok, _, err) = run(
        dir.path(),
        &["migrate"],
        &[("PORTCULLIS_LOG_LEVEL", "info")],
    );
    assert!(ok);
    assert!(err.contains("database schema is current"), "{err}");
}

#[test]
fn operators_show_and_update_clients() {
    let dir = tempfile::tempdir().expect("tempdir");
    migrated(dir.path());
    let created = json_output(
        dir.path(),
        &[
            "client",
            "create",
            "--name",
            "Shop",
            "--grant-type",
            "authorization_code",
            "--redirect-uri",
            "https://shop.example/cb",
            "--post-logout-redirect-uri",
            "https://shop.example/bye",
        ],
        &[],
    );
    let id = created[0]["clientId"].as_str().expect("id").to_owned();
    let show = |dir: &Path| json_output(dir, &["client", "show", &id], &[]).remove(0);
    let shown = show(dir.path());
    assert_eq!(shown["redirectUris"], json!(["https://shop.example/cb"]));
    assert_eq!(
        shown["postLogoutRedirectUris"],
        json!(["https://shop.example/bye"])
    );
    assert!(shown.get("clientSecret").is_none(), "never shown again");
    assert_eq!(shown["firstParty"], false);

    let updated = json_output(
        dir.path(),
        &[
            "client",
            "update",
            &id,
            "--name",
            "Shop 2",
            "--redirect-uri",
            "https://shop.example/callback",
            "--redirect-uri",
            "https://shop.example/other",
            "--post-logout-redirect-uri",
            "https://shop.example/signed-out",
            "--first-party",
            "true",
        ],
        &[],
    );
    assert_eq!(updated[0]["name"], "Shop 2");
    let shown = show(dir.path());
    assert_eq!(
        shown["redirectUris"],
        json!([
            "https://shop.example/callback",
            "https://shop.example/other"
        ])
    );
    assert_eq!(
        shown["postLogoutRedirectUris"],
        json!(["https://shop.example/signed-out"])
    );
    assert_eq!(shown["grantTypes"], json!(["authorization_code"]), "kept");
    assert_eq!(shown["firstParty"], true);

    // A change the registration rules refuse changes nothing.
    let (ok, _, err) = run(
        dir.path(),
        &[
            "client",
            "update",
            &id,
            "--redirect-uri",
            "https://shop.example/cb#fragment",
        ],
        &[],
    );
    assert!(!ok);
    assert!(err.starts_with("portcullis: error: "), "{err}");
    assert_eq!(show(dir.path())["redirectUris"], shown["redirectUris"]);
    let (ok, _, err) = run(dir.path(), &["client", "update", &id], &[]);
    assert!(!ok);
    assert!(err.contains("nothing to change"), "{err}");
    let (ok, _, err) = run(
        dir.path(),
        &["client", "update", "nope", "--name", "X"],
        &[],
    );
    assert!(!ok);
    assert!(err.contains("no client nope"), "{err}");
    let (ok, _, _) = run(
        dir.path(),
        &["client", "update", &id, "--clear-post-logout-redirect-uris"],
        &[],
    );
    assert!(ok);
    assert_eq!(show(dir.path())["postLogoutRedirectUris"], json!([]));

    // The table form: one `field<TAB>value` line each.
    let (ok, table) = output(dir.path(), &["client", "show", &id], &[]);
    assert!(ok);
    assert!(
        table.lines().any(|l| l == format!("clientId\t{id}")),
        "{table}"
    );
    assert!(table.lines().any(|l| l == "name\tShop 2"), "{table}");

    // The change is in the audit log, with the redirect URIs it set.
    let events = json_output(
        dir.path(),
        &["audit", "--kind", "client.updated", "--actor", &id],
        &[],
    );
    assert!(!events.is_empty());
    assert!(
        events.iter().all(|e| e["detail"]["via"] == "cli"),
        "{events:?}"
    );
}

fn user_with_org(dir: &Path, email: &str) -> (String, String) {
    let created = json_output(
        dir,
        &["user", "create", "--email", email, "--name", "Someone"],
        &[],
    );
    (
        created[0]["id"].as_str().expect("id").to_owned(),
        created[0]["organizationId"]
            .as_str()
            .expect("org")
            .to_owned(),
    )
}

fn verify(dir: &Path, secret: &str) -> Result<apikeys::VerifiedKey, apikeys::KeyError> {
    let url = store::DatabaseUrl::parse(&format!(
        "sqlite://{}",
        dir.join("data/portcullis.db").display()
    ))
    .expect("url");
    let store = store::Store::open(&store::StoreConfig::new(url)).expect("open");
    let mut conn = store.conn().expect("conn");
    let parsed = apikeys::parse_key(secret)?;
    apikeys::verify_key(&mut conn, &parsed, now())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        .try_into()
        .expect("i64")
}

#[test]
fn operators_list_rotate_and_revoke_api_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    migrated(dir.path());
    let (_, org) = user_with_org(dir.path(), "keys@example.com");
    let minted = json_output(
        dir.path(),
        &[
            "apikey", "create", "--org", &org, "--scope", "org:read", "--name", "deploy",
        ],
        &[],
    );
    let id = minted[0]["id"].as_str().expect("id").to_owned();
    let first = minted[0]["key"].as_str().expect("key").to_owned();
    assert!(verify(dir.path(), &first).is_ok());

    let (ok, table) = output(dir.path(), &["apikey", "list", "--org", &org], &[]);
    assert!(ok);
    assert!(
        table.starts_with("id\tname\tprefix\tscopes\texpiresAt\trevokedAt\n"),
        "{table}"
    );
    assert!(!table.contains(&first), "the list never shows a secret");
    let listed = json_output(dir.path(), &["apikey", "list", "--org", &org], &[]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["scopes"], json!(["org:read"]));
    assert!(listed[0].get("key").is_none());

    let rotated = json_output(dir.path(), &["apikey", "rotate", &id], &[]);
    let second = rotated[0]["key"].as_str().expect("key").to_owned();
    assert_ne!(first, second);
    assert!(verify(dir.path(), &first).is_err(), "no overlap asked");
    assert!(verify(dir.path(), &second).is_ok());

    let revoked = json_output(dir.path(), &["apikey", "revoke", &id], &[]);
    assert!(
        revoked[0]["revokedAt"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{revoked:?}"
    );
    assert!(verify(dir.path(), &second).is_err(), "revoked");
    let (ok, _, err) = run(dir.path(), &["apikey", "rotate", &id], &[]);
    assert!(!ok, "a revoked key gets no new secret");
    assert!(err.starts_with("portcullis: error: "), "{err}");
    let (ok, _, err) = run(dir.path(), &["apikey", "revoke", "key_missing"], &[]);
    assert!(!ok);
    assert!(err.contains("no API key key_missing"), "{err}");
    let (ok, _, err) = run(dir.path(), &["apikey", "list", "--org", "org_missing"], &[]);
    assert!(!ok);
    assert!(err.contains("no organization org_missing"), "{err}");
    let kinds: Vec<String> = json_output(dir.path(), &["audit", "--org", &org], &[])
        .iter()
        .filter_map(|e| e["kind"].as_str().map(str::to_owned))
        .collect();
    for kind in ["api_key.created", "api_key.rotated", "api_key.revoked"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind}: {kinds:?}");
    }
}

#[test]
fn operators_create_list_update_and_delete_agents() {
    let dir = tempfile::tempdir().expect("tempdir");
    migrated(dir.path());
    let (_, org) = user_with_org(dir.path(), "agents@example.com");
    let created = json_output(
        dir.path(),
        &[
            "agent",
            "create",
            "--org",
            &org,
            "--name",
            "mailer",
            "--scope",
            "mail:messages:send",
        ],
        &[],
    );
    let id = created[0]["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("agt_"));
    assert_eq!(created[0]["organizationId"], org.as_str());
    let (ok, _, err) = run(
        dir.path(),
        &[
            "agent",
            "create",
            "--org",
            &org,
            "--name",
            "bad",
            "--scope",
            "not a scope",
        ],
        &[],
    );
    assert!(!ok);
    assert!(err.starts_with("portcullis: error: "), "{err}");

    let updated = json_output(
        dir.path(),
        &[
            "agent",
            "update",
            &id,
            "--name",
            "mailer 2",
            "--scope",
            "mail:messages:read",
            "--scope",
            "mail:messages:send",
        ],
        &[],
    );
    assert_eq!(updated[0]["name"], "mailer 2");
    let listed = json_output(dir.path(), &["agent", "list", "--org", &org], &[]);
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0]["scopes"],
        json!(["mail:messages:read", "mail:messages:send"])
    );
    let (ok, table) = output(dir.path(), &["agent", "list", "--org", &org], &[]);
    assert!(ok);
    assert!(
        table.lines().nth(1).is_some_and(|l| l.starts_with(&format!(
            "{id}\tmailer 2\tmail:messages:read,mail:messages:send\t"
        ))),
        "{table}"
    );

    let (ok, out, _) = run(dir.path(), &["agent", "delete", &id], &[]);
    assert!(ok);
    assert_eq!(out.trim(), format!("deleted {id}"));
    assert!(json_output(dir.path(), &["agent", "list", "--org", &org], &[]).is_empty());
    let (ok, _, err) = run(dir.path(), &["agent", "delete", &id], &[]);
    assert!(!ok);
    assert!(err.contains(&format!("no agent {id}")), "{err}");
}

/// `portcullis agent credentials`: a client bound to the agent, its secret shown once; listed
/// without it; withdrawn alone, or with the agent.
#[test]
fn operators_give_an_agent_oauth_credentials() {
    let dir = tempfile::tempdir().expect("tempdir");
    migrated(dir.path());
    let (_, org) = user_with_org(dir.path(), "creds@example.com");
    let agent = |name: &str| {
        json_output(
            dir.path(),
            &[
                "agent", "create", "--org", &org, "--name", name, "--scope", "mail:*",
            ],
            &[],
        )[0]["id"]
            .as_str()
            .expect("id")
            .to_owned()
    };
    let id = agent("mailer");
    let created = json_output(dir.path(), &["agent", "credentials", "create", &id], &[]);
    let client = created[0]["clientId"]
        .as_str()
        .expect("client id")
        .to_owned();
    let secret = created[0]["clientSecret"]
        .as_str()
        .expect("secret")
        .to_owned();
    assert!(secret.len() >= 40, "{created:?}");
    assert_eq!(created[0]["agentId"], id.as_str());
    let (ok, shown) = output(dir.path(), &["client", "show", &client], &[]);
    assert!(
        ok && !shown.contains(&secret),
        "the secret is shown once: {shown}"
    );
    let listed = json_output(dir.path(), &["agent", "credentials", "list", &id], &[]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["clientId"], client.as_str());
    assert!(!listed[0].to_string().contains(&secret));

    let (ok, out, _) = run(
        dir.path(),
        &["agent", "credentials", "delete", &id, &client],
        &[],
    );
    assert!(ok);
    assert_eq!(out.trim(), format!("deleted {client}"));
    assert!(json_output(dir.path(), &["agent", "credentials", "list", &id], &[]).is_empty());
    let (ok, _, err) = run(dir.path(), &["client", "show", &client], &[]);
    assert!(!ok, "the client went with its binding: {err}");
    let (ok, _, err) = run(
        dir.path(),
        &["agent", "credentials", "delete", &id, &client],
        &[],
    );
    assert!(!ok && err.contains("has no client"), "{err}");

    // Deleting the agent deletes its credentials.
    let created = json_output(dir.path(), &["agent", "credentials", "create", &id], &[]);
    let client = created[0]["clientId"]
        .as_str()
        .expect("client id")
        .to_owned();
    assert!(run(dir.path(), &["agent", "delete", &id], &[]).0);
    assert!(!run(dir.path(), &["client", "show", &client], &[]).0);
    // Another agent's credentials are not this one's to delete.
    let other = agent("other");
    let created = json_output(dir.path(), &["agent", "credentials", "create", &other], &[]);
    let others = created[0]["clientId"]
        .as_str()
        .expect("client id")
        .to_owned();
    let third = agent("third");
    assert!(
        !run(
            dir.path(),
            &["agent", "credentials", "delete", &third, &others],
            &[]
        )
        .0
    );
    assert!(run(dir.path(), &["client", "show", &others], &[]).0);
}

#[test]
fn operators_list_organizations_and_users_with_their_organizations() {
    let dir = tempfile::tempdir().expect("tempdir");
    migrated(dir.path());
    let (ada, ada_org) = user_with_org(dir.path(), "ada@example.com");
    let (_, bob_org) = user_with_org(dir.path(), "bob@example.com");
    let orgs = json_output(dir.path(), &["org", "list"], &[]);
    assert_eq!(orgs.len(), 2);
    assert!(orgs.iter().all(|o| o["members"] == 1), "{orgs:?}");
    // Oldest first; both may be made in the same second, then in the order of their ids.
    let mut ids: Vec<&str> = orgs.iter().filter_map(|o| o["id"].as_str()).collect();
    assert!(
        orgs[0]["createdAt"].as_str() <= orgs[1]["createdAt"].as_str(),
        "oldest first: {orgs:?}"
    );
    ids.sort_unstable();
    let mut want = vec![ada_org.as_str(), bob_org.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want);

    let shown = json_output(dir.path(), &["org", "show", &ada_org], &[]).remove(0);
    assert_eq!(shown["members"][0]["userId"], ada.as_str());
    assert_eq!(shown["members"][0]["role"], "owner");
    assert_eq!(shown["apiKeys"], 0);
    let (ok, table) = output(dir.path(), &["org", "show", &ada_org], &[]);
    assert!(ok);
    assert!(table.contains("\nmembers:\n"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("ada@example.com\t") && l.contains("\towner\t")),
        "{table}"
    );
    let (ok, _, err) = run(dir.path(), &["org", "show", "org_missing"], &[]);
    assert!(!ok);
    assert!(err.contains("no organization org_missing"), "{err}");

    let users = json_output(dir.path(), &["user", "list"], &[]);
    let ada_row = users
        .iter()
        .find(|u| u["id"] == ada.as_str())
        .expect("Ada listed");
    assert_eq!(ada_row["organizationIds"], json!([ada_org]));
    assert!(
        ada_row["createdAt"]
            .as_str()
            .is_some_and(|t| t.len() == 20 && t.ends_with('Z')),
        "{ada_row}"
    );
    let fields: Vec<&String> = ada_row.as_object().expect("object").keys().collect();
    assert_eq!(
        fields,
        [
            "admin",
            "createdAt",
            "disabled",
            "email",
            "emailVerified",
            "id",
            "name",
            "organizationIds"
        ],
        "stable field names"
    );
}
