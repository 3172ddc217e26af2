//! The `portcullis` command line: `serve` (the default), `migrate`, and the operator commands
//! `client` and `keys`.
//!
//! Every failure ends in one line on stderr, `portcullis: error: …`, and a non-zero exit code;
//! never a panic trace. Command output goes to stdout.

use std::fmt::Display;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use primitives::{Clock as _, SystemClock};
use serde_json::{Value, json};
use store::{Store, StoreConfig};
use tokens::SigningAlg;

use server::Settings;

use crate::settings::{Config, SettingsArgs};
use crate::telemetry;

/// Portcullis: an OAuth 2.0 / OpenID Connect authorization server with an API-key store.
///
/// Every setting can be given as a flag, as an environment variable, or as a key in
/// portcullis.toml; a flag wins over the environment, which wins over the file.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version)]
pub struct Cli {
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Apply pending migrations, make missing signing keys, then serve (the default)
    Serve,
    /// Apply pending migrations and exit
    Migrate,
    /// Manage OAuth clients
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage signing keys
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage users
    #[command(subcommand)]
    User(UserCommand),
    /// Manage organization API keys
    #[command(subcommand)]
    Apikey(ApiKeyCommand),
    /// Manage the gateway's master key
    #[command(subcommand, name = "master-key")]
    MasterKey(MasterKeyCommand),
    /// Print audit events, newest first, one JSON object per line
    Audit {
        /// Only this organization's events (and sign-ins of its members)
        #[arg(long)]
        org: Option<String>,
        /// Only events of this kind, e.g. login.failed
        #[arg(long)]
        kind: Option<String>,
        /// Only events of this actor (a user, key or client id)
        #[arg(long)]
        actor: Option<String>,
        /// At most this many events
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum MasterKeyCommand {
    /// Re-encrypt every stored upstream credential under a new master key (the current one is
    /// PORTCULLIS_MASTER_KEY), bound to its service and destination; then restart every
    /// instance with the new key. The current key as the new one only upgrades old credentials
    Rotate {
        /// A file holding the new key (64 hex characters or base64 of 32 bytes)
        #[arg(long = "new-key-file", value_name = "FILE")]
        new_key_file: std::path::PathBuf,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum ApiKeyCommand {
    /// Mint a key for an organization and print it (shown once)
    Create {
        /// The organization id (org_…)
        #[arg(long)]
        org: String,
        /// A scope (repeatable): org:read, members:read, members:write, api-keys:read,
        /// api-keys:write, agents:read, agents:write, authorize, or * for everything
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        #[arg(long, default_value = "created on the command line")]
        name: String,
        /// Seconds until the key expires [default: never]
        #[arg(long = "expires-in")]
        expires_in: Option<i64>,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum UserCommand {
    /// Create a user with an organization of their own. The password is read from stdin with
    /// --password-stdin, else a random one is made and printed once.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Read the password from the first line of stdin
        #[arg(long = "password-stdin")]
        password_stdin: bool,
        /// Make the user an admin: they may use the console at /admin (after signing in
        /// with a second factor)
        #[arg(long)]
        admin: bool,
    },
    /// Make a user an admin (the console at /admin, signed in with a second factor)
    GrantAdmin {
        /// The user's email
        email: String,
    },
    /// Take the admin flag from a user
    RevokeAdmin {
        /// The user's email
        email: String,
    },
    /// List users
    List,
    /// Disable a user (their sessions end at once); --enable to undo
    Disable {
        /// The user's email
        email: String,
        #[arg(long)]
        enable: bool,
    },
    /// Set a user's password, read from the first line of stdin; every session and refresh
    /// token of the user ends
    SetPassword {
        /// The user's email
        email: String,
    },
    /// Remove a user's second factors (the authenticator app and its recovery codes), for a
    /// user who lost them: the next sign-in asks for the password alone, or, where an
    /// organization requires a second factor, to set one up again
    ResetMfa {
        /// The user's email
        email: String,
    },
    /// Mark a user's email address verified
    VerifyEmail {
        /// The user's email
        email: String,
    },
    /// Delete a user, with the organizations only they belong to (refused while they are the
    /// last owner of an organization with other members)
    Delete {
        /// The user's email
        email: String,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum ClientCommand {
    /// Register a client and print its id and secret (shown once)
    Create {
        /// Display name
        #[arg(long)]
        name: Option<String>,
        /// Grant type (repeatable): authorization_code, refresh_token, client_credentials
        #[arg(long = "grant-type", value_name = "GRANT")]
        grant_types: Vec<String>,
        /// Redirect URI (repeatable)
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
        /// Space-separated scopes
        #[arg(long)]
        scope: Option<String>,
        /// client_secret_basic (default), client_secret_post or none
        #[arg(long = "auth-method", value_name = "METHOD")]
        auth_method: Option<String>,
        /// web or native (default: native when every redirect URI is loopback or a private-use scheme, else web)
        #[arg(long = "application-type", value_name = "TYPE")]
        application_type: Option<String>,
        /// A client of your own: its users are not asked for consent
        #[arg(long = "first-party")]
        first_party: bool,
    },
    /// List clients
    List,
    /// Delete a client
    Delete {
        /// The client_id (random base64url, so it may begin with `-`)
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    /// Make an initial access token for registration under PORTCULLIS_REGISTRATION=token
    Token {
        /// Lifetime in seconds
        #[arg(long = "expires-in", default_value_t = 86_400)]
        expires_in: i64,
        /// How many registrations it allows
        #[arg(long, default_value_t = 1)]
        uses: i64,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum KeysCommand {
    /// Make a new current signing key; the previous one stays published until its tokens expire
    Rotate {
        /// ES256, RS256 or EdDSA [default: all three]
        #[arg(long)]
        alg: Option<String>,
    },
    /// List signing keys
    List,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    install_panic_hook();
    let cli = Cli::parse();
    let config = match Config::load(&cli.settings) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    telemetry::init(&config);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => return serve(config),
        Command::Migrate => migrate(&config).map(drop),
        Command::Client(cmd) => client_command(&config, cmd),
        Command::Keys(cmd) => keys_command(&config, cmd),
        Command::User(cmd) => user_command(&config, cmd),
        Command::Apikey(cmd) => apikey_command(&config, cmd),
        Command::MasterKey(cmd) => master_key_command(&config, cmd),
        Command::Audit {
            org,
            kind,
            actor,
            limit,
        } => audit_command(
            &config,
            org.as_deref(),
            kind.as_deref(),
            actor.as_deref(),
            limit,
        ),
    };
    result.map_or_else(|e| fail(&e), |()| ExitCode::SUCCESS)
}

/// Prints the error as one line (libpq, for one, writes several) and gives the exit code.
fn fail(error: &dyn Display) -> ExitCode {
    let message = error.to_string();
    let one_line: Vec<&str> = message.split_whitespace().collect();
    eprintln!("portcullis: error: {}", one_line.join(" "));
    ExitCode::FAILURE
}

/// A panic is a bug: report it in one line (where, what) instead of a trace.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(%place, "internal error (panic): {info}");
        eprintln!("portcullis: internal error at {place}");
    }));
}

/// An operator command's failure, already worded.
type CliResult = Result<(), String>;

fn audit_command(
    config: &Config,
    org: Option<&str>,
    kind: Option<&str>,
    actor: Option<&str>,
    limit: i64,
) -> CliResult {
    if !(1..=100_000).contains(&limit) {
        return Err("--limit must be 1..=100000".into());
    }
    let store = migrate(config)?;
    let mut conn = store.conn().map_err(|e| e.to_string())?;
    let filter = store::audit::Filter {
        org_id: org,
        kind,
        actor,
        before: None,
    };
    let events = store::audit::list(&mut conn, &filter, limit).map_err(|e| e.to_string())?;
    for event in &events {
        out(&server::audit_json(event).to_string())?;
    }
    Ok(())
}

fn out(text: &str) -> CliResult {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}").map_err(|e| format!("cannot write to stdout: {e}"))
}

/// Opens the store and applies pending migrations.
fn migrate(config: &Config) -> Result<Store, String> {
    let mut store_config = StoreConfig::new(config.server.database_url.clone());
    store_config.pool_size = config.database_pool_size;
    let store = Store::open(&store_config).map_err(|e| e.to_string())?;
    let applied = store.migrate().map_err(|e| e.to_string())?;
    tracing::info!(
        database = %config.server.database_url,
        applied = applied.len(),
        "database schema is current"
    );
    Ok(store)
}

fn serve(config: Config) -> ExitCode {
    let started = Instant::now();
    if config.trust_proxy {
        tracing::warn!(
            trusted_proxies = %config.server.trusted_proxies,
            "PORTCULLIS_TRUST_PROXY is deprecated: it trusts X-Forwarded-For from loopback and \
             every private range; set PORTCULLIS_TRUSTED_PROXIES to your proxies instead"
        );
    }
    let store = match migrate(&config) {
        Ok(store) => store,
        Err(e) => return fail(&e),
    };
    // The mail settings are checked (the From address, the outbox folder made) before serving:
    // a server that cannot send mail would lose every verification and reset link.
    if let Err(e) = config.server.mail.check() {
        return fail(&format!("cannot send mail: {e}"));
    }
    // The keys that seal TOTP secrets: given, or the key file's (made on first start beside
    // the SQLite database, like the database itself).
    let mut config = config;
    match config.load_encryption_keys() {
        Ok(Some(path)) => tracing::info!(
            path = %path.display(),
            "made a new encryption key file: back it up with the database (TOTP secrets are sealed under it)"
        ),
        Ok(None) => {}
        Err(e) => return fail(&e),
    }
    if config.server.encryption_keys.is_none() {
        tracing::warn!(
            "no encryption keys (PORTCULLIS_ENCRYPTION_KEYS): authenticator apps (TOTP) are unavailable"
        );
    }
    let settings: Settings = config.server;
    let made = store
        .conn()
        .map_err(|e| e.to_string())
        .and_then(|mut conn| {
            tokens::ensure_keys(&mut conn, &SigningAlg::ALL, SystemClock.now())
                .map_err(|e| e.to_string())
        });
    if let Err(e) = made {
        return fail(&format!("cannot prepare signing keys: {e}"));
    }
    let issuer = settings.issuer_str().to_owned();
    let served = server::run(settings, store, |addr| {
        tracing::info!(
            %addr,
            %issuer,
            ready_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "portcullis is listening"
        );
    });
    match served {
        Ok(()) => {
            tracing::info!("portcullis stopped");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

fn client_command(config: &Config, cmd: ClientCommand) -> CliResult {
    let store = migrate(config)?;
    let mut conn = store.conn().map_err(|e| e.to_string())?;
    let now = SystemClock.now();
    match cmd {
        ClientCommand::Create {
            name,
            grant_types,
            redirect_uris,
            scope,
            auth_method,
            application_type,
            first_party,
        } => {
            let mut body = serde_json::Map::new();
            let mut set = |k: &str, v: Value| {
                body.insert(k.to_owned(), v);
            };
            if let Some(name) = name {
                set("client_name", json!(name));
            }
            if !grant_types.is_empty() {
                set("grant_types", json!(grant_types));
            }
            if !redirect_uris.is_empty() {
                set("redirect_uris", json!(redirect_uris));
            }
            if let Some(scope) = scope {
                set("scope", json!(scope));
            }
            if let Some(m) = auth_method {
                set("token_endpoint_auth_method", json!(m));
            }
            if let Some(t) = application_type {
                set("application_type", json!(t));
            }
            let policy = server::registration_policy(&config.server);
            let metadata = registration::parse_metadata(&Value::Object(body), &policy)
                .map_err(|e| e.to_string())?;
            let reg =
                registration::register_client_with(&mut conn, metadata, false, first_party, now)
                    .map_err(|e| e.to_string())?;
            server::audit::record(
                &mut conn,
                now,
                server::audit::Event::new("client.registered")
                    .actor(Some(&reg.client.id))
                    .detail(json!({
                        "client_id": reg.client.id,
                        "client_name": reg.client.metadata.client_name,
                        "redirect_uris": reg.client.metadata.redirect_uris,
                        "grant_types": reg.client.metadata.grant_types,
                        "via": "cli",
                    })),
            );
            let mut shown = json!({ "client_id": reg.client.id });
            if let Some(secret) = &reg.secret {
                shown["client_secret"] = json!(secret.expose());
            }
            if let (Value::Object(map), Ok(Value::Object(meta))) =
                (&mut shown, serde_json::to_value(&reg.client.metadata))
            {
                map.extend(meta);
            }
            out(&serde_json::to_string_pretty(&shown).map_err(|e| e.to_string())?)
        }
        ClientCommand::List => {
            let clients = registration::list_clients(&mut conn).map_err(|e| e.to_string())?;
            out("client_id\tauth_method\tgrant_types\tname")?;
            for c in clients {
                let grants: Vec<&str> = c.metadata.grant_types.iter().map(|g| g.as_str()).collect();
                out(&format!(
                    "{}\t{}\t{}\t{}",
                    c.id,
                    c.metadata.token_endpoint_auth_method.as_str(),
                    grants.join(","),
                    c.metadata.client_name.as_deref().unwrap_or("-")
                ))?;
            }
            Ok(())
        }
        ClientCommand::Delete { client_id } => {
            if registration::delete_client(&mut conn, &client_id).map_err(|e| e.to_string())? {
                server::invalidate::publish(
                    &mut conn,
                    server::invalidate::Change::Client(&client_id),
                );
                server::audit::record(
                    &mut conn,
                    now,
                    server::audit::Event::new("client.deleted")
                        .actor(Some(&client_id))
                        .detail(json!({ "client_id": client_id, "via": "cli" })),
                );
                out(&format!("deleted {client_id}"))
            } else {
                Err(format!("no client {client_id}"))
            }
        }
        ClientCommand::Token { expires_in, uses } => {
            if !(60..=31_536_000).contains(&expires_in) || !(1..=1_000_000).contains(&uses) {
                return Err("--expires-in must be 60..=31536000 and --uses 1..=1000000".into());
            }
            let token = registration::create_initial_access_token(&mut conn, now, expires_in, uses)
                .map_err(|e| e.to_string())?;
            out(token.expose())
        }
    }
}

fn keys_command(config: &Config, cmd: KeysCommand) -> CliResult {
    let store = migrate(config)?;
    let mut conn = store.conn().map_err(|e| e.to_string())?;
    let now = SystemClock.now();
    match cmd {
        KeysCommand::Rotate { alg } => {
            let algs = match alg {
                None => SigningAlg::ALL.to_vec(),
                Some(name) => vec![
                    SigningAlg::parse(&name)
                        .ok_or_else(|| format!("{name:?}: expected ES256, RS256 or EdDSA"))?,
                ],
            };
            for alg in algs {
                let kid = tokens::rotate_key(&mut conn, alg, now).map_err(|e| e.to_string())?;
                server::invalidate::publish(&mut conn, server::invalidate::Change::SigningKeys);
                out(&format!("{alg}\t{kid}"))?;
            }
            Ok(())
        }
        KeysCommand::List => {
            out("kid\talg\tcreated_at\tretired_at")?;
            for k in tokens::list_keys(&mut conn).map_err(|e| e.to_string())? {
                let retired = k
                    .retired_at
                    .map_or_else(|| "-".to_owned(), |t| t.to_string());
                out(&format!(
                    "{}\t{}\t{}\t{}",
                    k.kid, k.alg, k.created_at, retired
                ))?;
            }
            Ok(())
        }
    }
}

fn user_command(config: &Config, cmd: UserCommand) -> CliResult {
    let store = migrate(config)?;
    let mut conn = store.conn().map_err(|e| e.to_string())?;
    let now = SystemClock.now();
    match cmd {
        UserCommand::Create {
            email,
            name,
            password_stdin,
            admin,
        } => {
            let (password, generated) = if password_stdin {
                (password_from_stdin()?, false)
            } else {
                (primitives::random_token(18), true)
            };
            let hasher = accounts::PasswordHasher::new();
            let new = accounts::NewUser {
                email: &email,
                name: &name,
                password: &password,
            };
            // Operators make accounts whatever PORTCULLIS_SIGNUP says.
            let anyone = accounts::SignupPolicy::default();
            let (user, org) = accounts::signup(&mut conn, &anyone, &new, None, &hasher, now)
                .map_err(|e| e.to_string())?;
            if admin {
                accounts::set_admin(&mut conn, &user.id, true, now).map_err(|e| e.to_string())?;
                record_user_event(&mut conn, now, "admin_granted", &user.id, json!({}));
            }
            out(&format!("{}\t{}\t{}", user.id, user.email, org.id))?;
            if generated {
                out(&format!("password: {password}"))?;
            }
            Ok(())
        }
        UserCommand::List => {
            out("id\temail\tname\tverified\tdisabled")?;
            for u in accounts::list_users(&mut conn).map_err(|e| e.to_string())? {
                out(&format!(
                    "{}\t{}\t{}\t{}\t{}",
                    u.id, u.email, u.name, u.email_verified, u.disabled
                ))?;
            }
            Ok(())
        }
        UserCommand::Disable { email, enable } => {
            let user = accounts::find_user_by_email(&mut conn, &email)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no user {email}"))?;
            accounts::set_disabled(&mut conn, &user.id, !enable, now).map_err(|e| e.to_string())?;
            out(&format!(
                "{} {}",
                if enable { "enabled" } else { "disabled" },
                user.email
            ))
        }
        UserCommand::GrantAdmin { email } => set_admin(&mut conn, now, &email, true),
        UserCommand::RevokeAdmin { email } => set_admin(&mut conn, now, &email, false),
        UserCommand::SetPassword { email } => {
            let user = find_user(&mut conn, &email)?;
            let password = password_from_stdin()?;
            let hasher = accounts::PasswordHasher::new();
            let password =
                accounts::NewPassword::hash(&password, &hasher).map_err(|e| e.to_string())?;
            store::transaction(&mut conn, |conn| {
                accounts::set_password_as_operator(conn, &user.id, &password, now)?;
                grants::family::revoke_user_families(conn, &user.id, "password_set", now)?;
                Ok::<_, accounts::AccountError>(())
            })
            .map_err(|e| e.to_string())?;
            record_user_event(&mut conn, now, "password_set", &user.id, json!({}));
            out(&format!(
                "password set for {}; every session and refresh token ended",
                user.email
            ))
        }
        UserCommand::ResetMfa { email } => {
            let user = find_user(&mut conn, &email)?;
            let had = accounts::reset_second_factors_as_operator(&mut conn, &user.id)
                .map_err(|e| e.to_string())?;
            if !had {
                return out(&format!("{} has no second factor", user.email));
            }
            record_user_event(&mut conn, now, "mfa_reset", &user.id, json!({}));
            out(&format!("removed the second factors of {}", user.email))
        }
        UserCommand::VerifyEmail { email } => {
            let user = find_user(&mut conn, &email)?;
            accounts::mark_email_verified(&mut conn, &user.id, now).map_err(|e| e.to_string())?;
            record_user_event(&mut conn, now, "email_verified", &user.id, json!({}));
            out(&format!("{} is verified", user.email))
        }
        UserCommand::Delete { email } => {
            let user = find_user(&mut conn, &email)?;
            // The API keys of the organizations that go with the user: every instance evicts
            // them from its cache, as when a user deletes their own account.
            let (deleted, keys) = server::account::delete_with_keys(&mut conn, &user.id, |conn| {
                accounts::delete_account_as_operator(conn, &user.email)
            })
            .map_err(|e| match e {
                accounts::AccountError::LastOwner => format!(
                    "{} is the last owner of an organization with other members: make another member an owner first",
                    user.email
                ),
                other => other.to_string(),
            })?;
            for key in &keys {
                server::invalidate::publish(&mut conn, server::invalidate::Change::ApiKey(key));
            }
            record_user_event(
                &mut conn,
                now,
                "account_deleted",
                &user.id,
                json!({ "organizationsDeleted": deleted.orgs_deleted }),
            );
            out(&format!("deleted {}", user.email))?;
            for org in deleted.orgs_deleted {
                out(&format!("deleted organization {org}"))?;
            }
            Ok(())
        }
    }
}

/// `user grant-admin` and `user revoke-admin`.
fn set_admin(conn: &mut store::Conn, now: i64, email: &str, grant: bool) -> CliResult {
    let user = find_user(conn, email)?;
    accounts::set_admin(conn, &user.id, grant, now).map_err(|e| e.to_string())?;
    let kind = if grant {
        "admin_granted"
    } else {
        "admin_revoked"
    };
    record_user_event(conn, now, kind, &user.id, json!({}));
    out(&format!(
        "{} {} an admin",
        user.email,
        if grant { "is now" } else { "is no longer" }
    ))
}

/// An operator's change to a user, in the audit log as the server records the user's own
/// (same kind, the user as actor), marked `"via": "cli"`.
fn record_user_event(
    conn: &mut store::Conn,
    now: i64,
    kind: &'static str,
    user_id: &str,
    mut detail: Value,
) {
    detail["via"] = json!("cli");
    server::audit::record(
        conn,
        now,
        server::audit::Event::new(kind)
            .actor(Some(user_id))
            .detail(detail),
    );
}

fn find_user(conn: &mut store::Conn, email: &str) -> Result<accounts::User, String> {
    accounts::find_user_by_email(conn, email)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no user {email}"))
}

/// The first line of stdin, without its line ending.
fn password_from_stdin() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn apikey_command(config: &Config, cmd: ApiKeyCommand) -> CliResult {
    let store = migrate(config)?;
    let mut conn = store.conn().map_err(|e| e.to_string())?;
    let now = SystemClock.now();
    match cmd {
        ApiKeyCommand::Create {
            org,
            scopes,
            name,
            expires_in,
        } => {
            accounts::find_org(&mut conn, &org)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no organization {org}"))?;
            // Operators act as owners: `*` is allowed.
            apikeys::check_key_scopes(&scopes, true).map_err(|e| e.to_string())?;
            let new = apikeys::NewKey {
                org_id: &org,
                created_by: "cli",
                name: &name,
                scopes: &scopes,
                expires_at: expires_in.map(|s| now + s),
            };
            let (key, secret) =
                apikeys::create_key(&mut conn, &new, now).map_err(|e| e.to_string())?;
            out(&format!("{}\t{}", key.id, secret.expose()))
        }
    }
}

fn master_key_command(config: &Config, cmd: MasterKeyCommand) -> CliResult {
    let store = migrate(config)?;
    let mut conn = store.conn().map_err(|e| e.to_string())?;
    match cmd {
        MasterKeyCommand::Rotate { new_key_file } => {
            let old = config
                .server
                .master_key
                .as_ref()
                .ok_or("set PORTCULLIS_MASTER_KEY (or its file) to the current key")?;
            let raw = std::fs::read_to_string(&new_key_file)
                .map_err(|e| format!("cannot read {}: {e}", new_key_file.display()))?;
            let new = gateway::MasterKey::parse(&raw).map_err(|e| format!("the new key: {e}"))?;
            let count = gateway::reseal_all(&mut conn, old, &new).map_err(|e| e.to_string())?;
            out(&format!(
                "re-encrypted {count} credentials; restart every instance with the new key"
            ))
        }
    }
}
