//! The `portcullis` command line: `serve` (the default), `migrate`, and the operator commands
//! (`client`, `keys`, `user`, `org`, `apikey`, `agent`, `master-key`, `audit`).
//!
//! Every failure ends in one line on stderr, `portcullis: error: …`, and a non-zero exit code;
//! never a panic trace. Command output goes to stdout.

use std::fmt::Display;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use primitives::{Clock as _, SystemClock};
use serde_json::{Value, json};
use store::{Store, StoreConfig};
use tokens::SigningAlg;

use server::Settings;

use crate::output::{self, OutputArgs, Printer};
use crate::settings::{CommonArgs, Config, SettingsArgs};
use crate::telemetry;

/// Portcullis: an OAuth 2.0 / OpenID Connect authorization server with an API-key store.
///
/// Without a command it serves (`portcullis serve`). The server's settings are listed by
/// `portcullis serve --help`; each is a flag of `serve`, an environment variable, or a key in
/// portcullis.toml (a flag wins over the environment, which wins over the file). The other
/// commands read them from the environment and the file, and refuse to make a new database:
/// run `portcullis migrate` (or `serve`) first.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Apply pending migrations, make missing signing keys, then serve (the default)
    Serve(Box<SettingsArgs>),
    /// Make the database if it is missing, apply pending migrations and exit
    Migrate {
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Manage OAuth clients
    Client {
        #[command(subcommand)]
        command: ClientCommand,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Manage protected resources (resource servers tokens are issued for, RFC 8707)
    Resource {
        #[command(subcommand)]
        command: ResourceCommand,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Manage signing keys
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Manage users
    User {
        #[command(subcommand)]
        command: UserCommand,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Look at organizations
    Org {
        #[command(subcommand)]
        command: OrgCommand,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Manage organization API keys
    Apikey {
        #[command(subcommand)]
        command: ApiKeyCommand,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Manage organization agents (actors with service:resource:action scopes)
    Agent {
        #[command(subcommand)]
        command: AgentCommand,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Manage the gateway's master key
    #[command(name = "master-key")]
    MasterKey {
        #[command(subcommand)]
        command: MasterKeyCommand,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Print audit events, newest first
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
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum ResourceCommand {
    /// Register a protected resource (an MCP server, an API): what clients send as `resource`
    /// and what becomes its tokens' `aud`
    Add {
        /// Absolute URI without fragment, e.g. https://mcp.example.com/mcp
        uri: String,
        /// The name the consent page shows
        #[arg(long)]
        name: String,
        /// A scope of the resource, with the sentence the consent page shows after `=`
        /// (repeatable), e.g. --scope 'mcp:tools=Use the tools of the MCP server'
        #[arg(long = "scope", value_name = "NAME[=CONSENT TEXT]")]
        scopes: Vec<String>,
        /// Lifetime of its access tokens, 60 to 86400 seconds [default: PORTCULLIS_ACCESS_TOKEN_TTL]
        #[arg(long = "token-ttl", value_name = "SECONDS")]
        token_ttl: Option<i64>,
    },
    /// List the protected resources
    List,
    /// Show a resource (by id or URI)
    Show { resource: String },
    /// Change a resource (by id or URI); what is not given stays
    Update {
        resource: String,
        /// A new URI (tokens already issued keep the old one as `aud`)
        #[arg(long)]
        uri: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// The scopes, replacing all of them (repeatable)
        #[arg(long = "scope", value_name = "NAME[=CONSENT TEXT]")]
        scopes: Vec<String>,
        /// Remove every scope
        #[arg(long = "no-scopes", conflicts_with = "scopes")]
        no_scopes: bool,
        /// Lifetime of its access tokens in seconds; 0: the server's
        #[arg(long = "token-ttl", value_name = "SECONDS")]
        token_ttl: Option<i64>,
    },
    /// Remove a resource (by id or URI); tokens issued for it live until they expire
    Remove { resource: String },
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
    /// List an organization's keys (never their secrets)
    List {
        /// The organization id (org_…)
        #[arg(long)]
        org: String,
    },
    /// Revoke a key at once (every instance refuses it within PORTCULLIS_API_KEY_CACHE)
    Revoke {
        /// The key id (key_…)
        id: String,
    },
    /// Give a key a new secret (same id and scopes) and print it (shown once)
    Rotate {
        /// The key id (key_…)
        id: String,
        /// Seconds the old secret keeps working (0 to 604800) [default: 0, it stops at once]
        #[arg(long, default_value_t = 0)]
        overlap: i64,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum AgentCommand {
    /// Define an agent of an organization
    Create {
        /// The organization id (org_…)
        #[arg(long)]
        org: String,
        #[arg(long)]
        name: String,
        /// A scope `service:resource:action` (repeatable; `*` in a part matches anything)
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
    },
    /// List an organization's agents
    List {
        /// The organization id (org_…)
        #[arg(long)]
        org: String,
    },
    /// Rename an agent or replace its scopes
    Update {
        /// The agent id (agt_…)
        id: String,
        #[arg(long)]
        name: Option<String>,
        /// The new scopes (repeatable; replaces every scope)
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// Delete an agent (and its OAuth credentials)
    Delete {
        /// The agent id (agt_…)
        id: String,
    },
    /// An agent's OAuth credentials: confidential clients whose client-credentials tokens act
    /// as the agent, with at most its scopes, at the gateway
    Credentials {
        #[command(subcommand)]
        command: AgentCredentialsCommand,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum AgentCredentialsCommand {
    /// Give the agent a client id and secret (the secret is printed once); with `--jwks` or
    /// `--jwks-uri`, a client id that authenticates with `private_key_jwt` instead (no secret)
    Create {
        /// The agent id (agt_…)
        agent: String,
        /// A file holding the agent's public keys as a JWK Set
        #[arg(long, conflicts_with = "jwks_uri")]
        jwks: Option<std::path::PathBuf>,
        /// The https URL where the agent publishes its public keys
        #[arg(long)]
        jwks_uri: Option<String>,
    },
    /// List the agent's client ids
    List {
        /// The agent id (agt_…)
        agent: String,
    },
    /// Withdraw one (its tokens stop verifying)
    Delete {
        /// The agent id (agt_…)
        agent: String,
        /// The client id (random base64url, so it may begin with `-`)
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum OrgCommand {
    /// List organizations with their number of members
    List,
    /// Show an organization: its members, and how many API keys and agents it has
    Show {
        /// The organization id (org_…)
        id: String,
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
    /// List users, with the ids of their organizations
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
        /// Where the client may send users after signing out (repeatable)
        #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
        post_logout_redirect_uris: Vec<String>,
        /// Where logout tokens are POSTed when a session it got tokens in ends
        /// (OpenID Connect Back-Channel Logout)
        #[arg(long = "backchannel-logout-uri", value_name = "URI")]
        backchannel_logout_uri: Option<String>,
        /// The client needs `sid` in logout tokens
        #[arg(long = "backchannel-logout-session-required")]
        backchannel_logout_session_required: bool,
        /// Space-separated scopes
        #[arg(long)]
        scope: Option<String>,
        /// client_secret_basic (default), client_secret_post, none, private_key_jwt (with
        /// --jwks or --jwks-uri) or client_secret_jwt (needs the encryption keys)
        #[arg(long = "auth-method", value_name = "METHOD")]
        auth_method: Option<String>,
        /// A file holding the client's public keys as a JWK Set (for private_key_jwt)
        #[arg(long, value_name = "FILE", conflicts_with = "jwks_uri")]
        jwks: Option<std::path::PathBuf>,
        /// The https URL where the client publishes its public keys (for private_key_jwt)
        #[arg(long = "jwks-uri", value_name = "URL")]
        jwks_uri: Option<String>,
        /// web or native (default: native when every redirect URI is loopback or a private-use scheme, else web)
        #[arg(long = "application-type", value_name = "TYPE")]
        application_type: Option<String>,
        /// A client of your own: its users are not asked for consent
        #[arg(long = "first-party")]
        first_party: bool,
    },
    /// List clients
    List,
    /// Show a client's registration
    Show {
        /// The client_id (random base64url, so it may begin with `-`)
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    /// Change a client: each option given replaces that field (a repeatable option replaces
    /// the whole list); the rest stays. A client that becomes confidential gets a new secret,
    /// printed once
    Update {
        /// The client_id (random base64url, so it may begin with `-`)
        #[arg(allow_hyphen_values = true)]
        client_id: String,
        /// Display name
        #[arg(long)]
        name: Option<String>,
        /// Grant type (repeatable; replaces the list)
        #[arg(long = "grant-type", value_name = "GRANT")]
        grant_types: Vec<String>,
        /// Redirect URI (repeatable; replaces the list)
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
        /// Post-logout redirect URI (repeatable; replaces the list)
        #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
        post_logout_redirect_uris: Vec<String>,
        /// Remove every post-logout redirect URI
        #[arg(
            long = "clear-post-logout-redirect-uris",
            conflicts_with = "post_logout_redirect_uris"
        )]
        clear_post_logout_redirect_uris: bool,
        /// Back-channel logout URI (an empty value removes it)
        #[arg(long = "backchannel-logout-uri", value_name = "URI")]
        backchannel_logout_uri: Option<String>,
        /// Whether the client needs `sid` in logout tokens
        #[arg(long = "backchannel-logout-session-required", value_name = "BOOL")]
        backchannel_logout_session_required: Option<bool>,
        /// Space-separated scopes
        #[arg(long)]
        scope: Option<String>,
        /// client_secret_basic, client_secret_post or none
        #[arg(long = "auth-method", value_name = "METHOD")]
        auth_method: Option<String>,
        /// web or native
        #[arg(long = "application-type", value_name = "TYPE")]
        application_type: Option<String>,
        /// The client's home page
        #[arg(long = "client-uri", value_name = "URI")]
        client_uri: Option<String>,
        /// The client's logo
        #[arg(long = "logo-uri", value_name = "URI")]
        logo_uri: Option<String>,
        /// Whether it is a client of your own (its users are not asked for consent)
        #[arg(long = "first-party", value_name = "BOOL")]
        first_party: Option<bool>,
    },
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
    /// Make a new current signing key that signs at once (sealed under PORTCULLIS_ENCRYPTION_KEYS);
    /// the previous one stays published until its tokens expire
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
    let is_serve = matches!(cli.command, None | Some(Command::Serve(_)));
    let settings = match &cli.command {
        Some(Command::Serve(settings)) => Ok((**settings).clone()),
        _ => SettingsArgs::from_environment(),
    };
    let settings = match settings {
        Ok(s) => s.with_common(&cli.common),
        Err(e) => {
            let message = e.to_string();
            let first = message.lines().next().unwrap_or_default();
            return fail(&format!(
                "the environment: {}",
                first.trim_start_matches("error: ")
            ));
        }
    };
    let mut config = match Config::load(&settings) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    // The operator commands print their results; their log says only what went wrong, unless
    // asked for more.
    if !is_serve && !config.log_level_given {
        config.log_level = if cli.common.verbose { "info" } else { "warn" }.to_owned();
    }
    // Traces are the server's: the operator commands export none.
    let traces = if is_serve {
        match telemetry::Traces::from_env(|name| std::env::var(name).ok()) {
            Ok(traces) => traces,
            Err(e) => return fail(&format!("the environment: {e}")),
        }
    } else {
        None
    };
    let telemetry = match telemetry::init(&config, traces) {
        Ok(telemetry) => telemetry,
        Err(e) => return fail(&e),
    };
    let result = match cli.command {
        None | Some(Command::Serve(_)) => {
            let code = serve(config);
            // After the server has stopped (SIGTERM included): the last requests' spans.
            telemetry.shutdown();
            return code;
        }
        Some(Command::Migrate { output }) => migrate_command(&config, Printer::new(output.output)),
        Some(Command::Client { command, output }) => with_store(&config, |store| {
            client_command(&config, store, command, output)
        }),
        Some(Command::Resource { command, output }) => {
            with_store(&config, |store| resource_command(store, command, output))
        }
        // The database first: a command run in the wrong folder makes no key file either.
        Some(Command::Keys { command, output }) => with_store(&config, |store| {
            let mut config = config.clone();
            config.load_encryption_keys().map_err(|e| e.to_string())?;
            keys_command(&config, store, command, output)
        }),
        Some(Command::User { command, output }) => {
            with_store(&config, |store| user_command(store, command, output))
        }
        Some(Command::Org { command, output }) => {
            with_store(&config, |store| org_command(store, command, output))
        }
        Some(Command::Apikey { command, output }) => {
            with_store(&config, |store| apikey_command(store, command, output))
        }
        Some(Command::Agent { command, output }) => {
            with_store(&config, |store| agent_command(store, command, output))
        }
        Some(Command::MasterKey { command, output }) => with_store(&config, |store| {
            master_key_command(&config, store, command, output)
        }),
        Some(Command::Audit {
            org,
            kind,
            actor,
            limit,
            output,
        }) => with_store(&config, |store| {
            audit_command(
                store,
                org.as_deref(),
                kind.as_deref(),
                actor.as_deref(),
                limit,
                Printer::new(output.output),
            )
        }),
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

/// Opens the database an operator command works on, refusing to make one: a command run from
/// another folder (or with a mistyped URL) must not leave an empty database beside the real
/// one and report success. Only `serve` and `migrate` make databases.
fn open_existing(config: &Config) -> Result<Store, String> {
    let url = &config.server.database_url;
    let hint = "run `portcullis migrate` to make it, or give the database to use \
                (PORTCULLIS_DATABASE_URL or --database-url)";
    if let store::DatabaseUrl::Sqlite(path) = url
        && !path.is_file()
    {
        let shown = std::path::absolute(path).unwrap_or_else(|_| path.clone());
        return Err(format!(
            "no database at {} ({url}): {hint}",
            shown.display()
        ));
    }
    let mut store_config = StoreConfig::new(url.clone());
    store_config.pool_size = config.database_pool_size.min(2);
    let store = Store::open(&store_config).map_err(|e| e.to_string())?;
    if !store.is_initialized().map_err(|e| e.to_string())? {
        return Err(format!("{url} holds no Portcullis database: {hint}"));
    }
    let pending = store.pending_migrations().map_err(|e| e.to_string())?;
    if !pending.is_empty() {
        return Err(format!(
            "{url} is {} migrations behind this portcullis: run `portcullis migrate` first",
            pending.len()
        ));
    }
    Ok(store)
}

fn with_store(config: &Config, run: impl FnOnce(&Store) -> CliResult) -> CliResult {
    run(&open_existing(config)?)
}

fn conn_of(store: &Store) -> Result<store::PooledConn, String> {
    store.conn().map_err(|e| e.to_string())
}

fn audit_command(
    store: &Store,
    org: Option<&str>,
    kind: Option<&str>,
    actor: Option<&str>,
    limit: i64,
    printer: Printer,
) -> CliResult {
    if !(1..=100_000).contains(&limit) {
        return Err("--limit must be 1..=100000".into());
    }
    let mut conn = conn_of(store)?;
    let filter = store::audit::Filter {
        org_id: org,
        kind,
        actor,
        before: None,
    };
    let events = store::audit::list(&mut conn, &filter, limit).map_err(|e| e.to_string())?;
    let rows: Vec<Value> = events
        .iter()
        .map(|event| {
            let mut row = server::audit_json(event);
            row["occurredAt"] = output::time(event.occurred_at);
            row
        })
        .collect();
    printer.list(
        &[
            "occurredAt",
            "kind",
            "outcome",
            "actor",
            "ip",
            "organizationId",
            "id",
        ],
        &rows,
    )
}

/// Opens the store (making the SQLite file and its folder if missing) and applies pending
/// migrations.
fn migrate(config: &Config) -> Result<(Store, Vec<String>), String> {
    let mut store_config = StoreConfig::new(config.server.database_url.clone());
    store_config.pool_size = config.database_pool_size;
    let store = Store::open(&store_config).map_err(|e| e.to_string())?;
    let applied = store.migrate().map_err(|e| e.to_string())?;
    tracing::info!(
        database = %config.server.database_url,
        applied = applied.len(),
        "database schema is current"
    );
    Ok((store, applied))
}

fn migrate_command(config: &Config, printer: Printer) -> CliResult {
    let (_, applied) = migrate(config)?;
    let database = config.server.database_url.to_string();
    let sentence = if applied.is_empty() {
        format!("{database}: the schema is current")
    } else {
        format!(
            "{database}: applied {} migrations ({})",
            applied.len(),
            applied.join(", ")
        )
    };
    printer.done(
        &json!({ "database": database, "applied": applied }),
        &sentence,
    )
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
        Ok((store, _)) => store,
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
    // The signing keys are made ready (sealed, checked, made, rotated) by the server's start.
    // DPoP nonces are sealed under the encryption keys, so every instance accepts them.
    if config.server.dpop_nonce && config.server.encryption_keys.is_none() {
        return fail(
            &"PORTCULLIS_DPOP_NONCE needs PORTCULLIS_ENCRYPTION_KEYS (the nonces are sealed under them)",
        );
    }
    let settings: Settings = config.server;
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

/// A client as the command line shows it (camelCase, times in RFC 3339; never its secret).
fn client_json(c: &registration::Client) -> Value {
    let m = &c.metadata;
    json!({
        "clientId": c.id,
        "name": m.client_name,
        "applicationType": m.application_type,
        "tokenEndpointAuthMethod": m.token_endpoint_auth_method.as_str(),
        "grantTypes": m.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "responseTypes": m.response_types,
        "redirectUris": m.redirect_uris,
        "postLogoutRedirectUris": m.post_logout_redirect_uris,
        "scope": m.scope,
        "clientUri": m.client_uri,
        "logoUri": m.logo_uri,
        "contacts": m.contacts,
        "firstParty": c.first_party,
        "dynamicallyRegistered": c.is_dynamically_registered(),
        "createdAt": output::time(c.created_at),
        "updatedAt": output::time(c.updated_at),
    })
}

fn find_client(conn: &mut store::Conn, id: &str) -> Result<registration::Client, String> {
    registration::find_client(conn, id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no client {id}"))
}

fn client_command(
    config: &Config,
    store: &Store,
    cmd: ClientCommand,
    output: OutputArgs,
) -> CliResult {
    let printer = Printer::new(output.output);
    let mut conn = conn_of(store)?;
    let now = SystemClock.now();
    let policy = server::registration_policy_with_resources(&config.server, &mut conn)
        .map_err(|e| e.to_string())?;
    match cmd {
        ClientCommand::Create {
            name,
            grant_types,
            redirect_uris,
            post_logout_redirect_uris,
            backchannel_logout_uri,
            backchannel_logout_session_required,
            scope,
            auth_method,
            jwks,
            jwks_uri,
            application_type,
            first_party,
        } => {
            let mut body = serde_json::Map::new();
            if let Some(path) = jwks {
                body.insert("jwks".into(), read_jwks(&path)?);
            }
            if let Some(uri) = jwks_uri {
                body.insert("jwks_uri".into(), json!(uri));
            }
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
            if !post_logout_redirect_uris.is_empty() {
                set(
                    "post_logout_redirect_uris",
                    json!(post_logout_redirect_uris),
                );
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
            if let Some(uri) = backchannel_logout_uri {
                set("backchannel_logout_uri", json!(uri));
            }
            if backchannel_logout_session_required {
                set("backchannel_logout_session_required", json!(true));
            }
            let metadata = registration::parse_metadata(&Value::Object(body), &policy)
                .map_err(|e| e.to_string())?;
            // A client_secret_jwt secret is sealed under the keys `serve` uses (the key file's
            // too); without any, the client is refused before it is stored.
            let mut keyed = config.clone();
            let ring = if metadata.token_endpoint_auth_method
                == registration::AuthMethod::ClientSecretJwt
            {
                keyed.load_encryption_keys().map_err(|e| e.to_string())?;
                Some(
                    keyed
                        .server
                        .encryption_keys
                        .clone()
                        .ok_or_else(|| registration::SealError::NoEncryptionKeys.to_string())?,
                )
            } else {
                None
            };
            let reg =
                registration::register_client_with(&mut conn, metadata, false, first_party, now)
                    .map_err(|e| e.to_string())?;
            registration::seal_client_secret(
                &mut conn,
                &reg.client,
                reg.secret.as_ref(),
                ring.as_deref(),
            )
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
            let mut shown = client_json(&reg.client);
            shown["clientSecret"] = reg
                .secret
                .as_ref()
                .map_or(Value::Null, |s| json!(s.expose()));
            printer.object(&shown)
        }
        ClientCommand::List => {
            let clients = registration::list_clients(&mut conn).map_err(|e| e.to_string())?;
            let rows: Vec<Value> = clients.iter().map(client_json).collect();
            printer.list(
                &[
                    "clientId",
                    "tokenEndpointAuthMethod",
                    "grantTypes",
                    "firstParty",
                    "name",
                ],
                &rows,
            )
        }
        ClientCommand::Show { client_id } => {
            printer.object(&client_json(&find_client(&mut conn, &client_id)?))
        }
        ClientCommand::Update {
            client_id,
            name,
            grant_types,
            redirect_uris,
            post_logout_redirect_uris,
            clear_post_logout_redirect_uris,
            backchannel_logout_uri,
            backchannel_logout_session_required,
            scope,
            auth_method,
            application_type,
            client_uri,
            logo_uri,
            first_party,
        } => {
            let mut client = find_client(&mut conn, &client_id)?;
            // The registered metadata as a registration request, with the changes applied,
            // checked again as a whole by the rules every registration passes.
            let mut body = serde_json::to_value(&client.metadata).map_err(|e| e.to_string())?;
            let mut changed = Vec::new();
            let mut set = |k: &'static str, v: Value| {
                body[k] = v;
                changed.push(k);
            };
            if let Some(v) = name {
                set("client_name", json!(v));
            }
            if !grant_types.is_empty() {
                set("grant_types", json!(grant_types));
            }
            if !redirect_uris.is_empty() {
                set("redirect_uris", json!(redirect_uris));
            }
            if !post_logout_redirect_uris.is_empty() {
                set(
                    "post_logout_redirect_uris",
                    json!(post_logout_redirect_uris),
                );
            }
            if clear_post_logout_redirect_uris {
                set("post_logout_redirect_uris", json!([]));
            }
            if let Some(v) = backchannel_logout_uri {
                set("backchannel_logout_uri", json!(v));
            }
            if let Some(v) = backchannel_logout_session_required {
                set("backchannel_logout_session_required", json!(v));
            }
            if let Some(v) = scope {
                set("scope", json!(v));
            }
            if let Some(v) = auth_method {
                set("token_endpoint_auth_method", json!(v));
            }
            if let Some(v) = application_type {
                set("application_type", json!(v));
            }
            if let Some(v) = client_uri {
                set("client_uri", json!(v));
            }
            if let Some(v) = logo_uri {
                set("logo_uri", json!(v));
            }
            if let Some(v) = first_party {
                client.first_party = v;
                changed.push("first_party");
            }
            if changed.is_empty() {
                return Err("nothing to change: give at least one option (see --help)".into());
            }
            let metadata =
                registration::parse_metadata(&body, &policy).map_err(|e| e.to_string())?;
            let (client, secret) = registration::update_client(&mut conn, client, metadata, now)
                .map_err(|e| e.to_string())?;
            server::invalidate::publish(&mut conn, server::invalidate::Change::Client(&client.id));
            server::audit::record(
                &mut conn,
                now,
                server::audit::Event::new("client.updated")
                    .actor(Some(&client.id))
                    .detail(json!({
                        "client_id": client.id,
                        "changed": changed,
                        "redirect_uris": client.metadata.redirect_uris,
                        "post_logout_redirect_uris": client.metadata.post_logout_redirect_uris,
                        "via": "cli",
                    })),
            );
            let mut shown = client_json(&client);
            if let Some(secret) = &secret {
                shown["clientSecret"] = json!(secret.expose());
            }
            printer.object(&shown)
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
                printer.done(
                    &json!({ "clientId": client_id, "deleted": true }),
                    &format!("deleted {client_id}"),
                )
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
            printer.done(
                &json!({
                    "token": token.expose(),
                    "expiresAt": output::time(now + expires_in),
                    "uses": uses,
                }),
                token.expose(),
            )
        }
    }
}

fn keys_command(config: &Config, store: &Store, cmd: KeysCommand, output: OutputArgs) -> CliResult {
    let printer = Printer::new(output.output);
    let seal = config.server.encryption_keys.as_deref();
    let mut conn = conn_of(store)?;
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
            let mut rows = Vec::new();
            for alg in algs {
                let kid =
                    tokens::rotate_key(&mut conn, alg, now, seal).map_err(|e| e.to_string())?;
                server::invalidate::publish(&mut conn, server::invalidate::Change::SigningKeys);
                rows.push(
                    json!({ "alg": alg.to_string(), "kid": kid, "createdAt": output::time(now) }),
                );
            }
            printer.list(&["alg", "kid"], &rows)
        }
        KeysCommand::List => {
            let rows: Vec<Value> = tokens::list_keys(&mut conn)
                .map_err(|e| e.to_string())?
                .iter()
                .map(|k| {
                    json!({
                        "kid": k.kid,
                        "alg": k.alg.to_string(),
                        "createdAt": output::time(k.created_at),
                        "retiredAt": output::opt_time(k.retired_at),
                        "signsFrom": output::time(k.signs_from),
                        "sealedUnder": k.sealed_under,
                    })
                })
                .collect();
            printer.list(
                &[
                    "kid",
                    "alg",
                    "createdAt",
                    "signsFrom",
                    "retiredAt",
                    "sealedUnder",
                ],
                &rows,
            )
        }
    }
}

fn user_json(u: &accounts::User, org_ids: &[String]) -> Value {
    json!({
        "id": u.id,
        "email": u.email,
        "name": u.name,
        "emailVerified": u.email_verified,
        "disabled": u.disabled,
        "admin": u.admin,
        "organizationIds": org_ids,
        "createdAt": output::time(u.created_at),
    })
}

fn user_command(store: &Store, cmd: UserCommand, output: OutputArgs) -> CliResult {
    let printer = Printer::new(output.output);
    let mut conn = conn_of(store)?;
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
            let mut shown = user_json(&user, std::slice::from_ref(&org.id));
            shown["organizationId"] = json!(org.id);
            shown["admin"] = json!(admin);
            if generated {
                shown["password"] = json!(password);
            }
            printer.object(&shown)
        }
        UserCommand::List => {
            let mut orgs = accounts::org_ids_by_user(&mut conn).map_err(|e| e.to_string())?;
            let rows: Vec<Value> = accounts::list_users(&mut conn)
                .map_err(|e| e.to_string())?
                .iter()
                .map(|u| user_json(u, &orgs.remove(&u.id).unwrap_or_default()))
                .collect();
            printer.list(
                &[
                    "id",
                    "email",
                    "name",
                    "emailVerified",
                    "disabled",
                    "organizationIds",
                    "admin",
                ],
                &rows,
            )
        }
        UserCommand::Disable { email, enable } => {
            let user = find_user(&mut conn, &email)?;
            accounts::set_disabled(&mut conn, &user.id, !enable, now).map_err(|e| e.to_string())?;
            printer.done(
                &json!({ "id": user.id, "email": user.email, "disabled": !enable }),
                &format!(
                    "{} {}",
                    if enable { "enabled" } else { "disabled" },
                    user.email
                ),
            )
        }
        UserCommand::GrantAdmin { email } => set_admin(&mut conn, &printer, now, &email, true),
        UserCommand::RevokeAdmin { email } => set_admin(&mut conn, &printer, now, &email, false),
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
            printer.done(
                &json!({ "id": user.id, "email": user.email, "passwordSet": true }),
                &format!(
                    "password set for {}; every session and refresh token ended",
                    user.email
                ),
            )
        }
        UserCommand::ResetMfa { email } => {
            let user = find_user(&mut conn, &email)?;
            let had = accounts::reset_second_factors_as_operator(&mut conn, &user.id)
                .map_err(|e| e.to_string())?;
            if had {
                record_user_event(&mut conn, now, "mfa_reset", &user.id, json!({}));
            }
            printer.done(
                &json!({ "id": user.id, "email": user.email, "removed": had }),
                &if had {
                    format!("removed the second factors of {}", user.email)
                } else {
                    format!("{} has no second factor", user.email)
                },
            )
        }
        UserCommand::VerifyEmail { email } => {
            let user = find_user(&mut conn, &email)?;
            accounts::mark_email_verified(&mut conn, &user.id, now).map_err(|e| e.to_string())?;
            record_user_event(&mut conn, now, "email_verified", &user.id, json!({}));
            printer.done(
                &json!({ "id": user.id, "email": user.email, "emailVerified": true }),
                &format!("{} is verified", user.email),
            )
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
            let mut sentence = format!("deleted {}", user.email);
            for org in &deleted.orgs_deleted {
                sentence.push_str(&format!("\ndeleted organization {org}"));
            }
            printer.done(
                &json!({
                    "id": user.id,
                    "email": user.email,
                    "deleted": true,
                    "organizationsDeleted": deleted.orgs_deleted,
                }),
                &sentence,
            )
        }
    }
}

/// `user grant-admin` and `user revoke-admin`.
fn set_admin(
    conn: &mut store::Conn,
    printer: &Printer,
    now: i64,
    email: &str,
    grant: bool,
) -> CliResult {
    let user = find_user(conn, email)?;
    accounts::set_admin(conn, &user.id, grant, now).map_err(|e| e.to_string())?;
    let kind = if grant {
        "admin_granted"
    } else {
        "admin_revoked"
    };
    record_user_event(conn, now, kind, &user.id, json!({}));
    printer.done(
        &json!({ "id": user.id, "email": user.email, "admin": grant }),
        &format!(
            "{} {} an admin",
            user.email,
            if grant { "is now" } else { "is no longer" }
        ),
    )
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

fn find_org(conn: &mut store::Conn, id: &str) -> Result<accounts::Org, String> {
    accounts::find_org(conn, id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no organization {id}"))
}

fn resource_json(r: &grants::resources::ProtectedResource) -> Value {
    json!({
        "id": r.id,
        "uri": r.uri,
        "name": r.name,
        "scopes": r.scopes.iter().map(|s| json!({ "name": s.name, "description": s.description })).collect::<Vec<_>>(),
        "accessTokenTtl": r.access_token_ttl,
        "createdAt": output::time(r.created_at),
        "updatedAt": output::time(r.updated_at),
    })
}

/// `NAME[=CONSENT TEXT]` scopes.
fn resource_scopes(raw: &[String]) -> Vec<grants::resources::ResourceScope> {
    raw.iter()
        .map(|s| {
            let (name, description) = s.split_once('=').unwrap_or((s, ""));
            grants::resources::ResourceScope {
                name: name.trim().to_owned(),
                description: description.trim().to_owned(),
            }
        })
        .collect()
}

fn find_resource(
    conn: &mut store::Conn,
    id_or_uri: &str,
) -> Result<grants::resources::ProtectedResource, String> {
    grants::resources::find_resource(conn, id_or_uri)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no resource {id_or_uri}"))
}

fn resource_event(
    conn: &mut store::Conn,
    now: i64,
    kind: &'static str,
    r: &grants::resources::ProtectedResource,
) {
    server::audit::record(
        conn,
        now,
        server::audit::Event::new(kind)
            .detail(json!({ "resource_id": r.id, "uri": r.uri, "via": "cli" })),
    );
}

fn resource_command(store: &Store, cmd: ResourceCommand, output: OutputArgs) -> CliResult {
    use grants::resources::{self, ResourceSpec};
    let printer = Printer::new(output.output);
    let mut conn = conn_of(store)?;
    let now = SystemClock.now();
    match cmd {
        ResourceCommand::Add {
            uri,
            name,
            scopes,
            token_ttl,
        } => {
            let spec = ResourceSpec {
                uri,
                name,
                scopes: resource_scopes(&scopes),
                access_token_ttl: token_ttl,
            };
            let r = resources::add_resource(&mut conn, &spec, now).map_err(|e| e.to_string())?;
            resource_event(&mut conn, now, "resource.created", &r);
            printer.done(&resource_json(&r), &format!("added {} ({})", r.uri, r.id))
        }
        ResourceCommand::List => {
            let rows: Vec<Value> = resources::list_resources(&mut conn)
                .map_err(|e| e.to_string())?
                .iter()
                .map(|r| {
                    json!({
                        "id": r.id,
                        "uri": r.uri,
                        "name": r.name,
                        "scopes": r.scopes.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(" "),
                        "accessTokenTtl": r.access_token_ttl,
                    })
                })
                .collect();
            printer.list(&["id", "uri", "name", "scopes", "accessTokenTtl"], &rows)
        }
        ResourceCommand::Show { resource } => {
            printer.object(&resource_json(&find_resource(&mut conn, &resource)?))
        }
        ResourceCommand::Update {
            resource,
            uri,
            name,
            scopes,
            no_scopes,
            token_ttl,
        } => {
            let old = find_resource(&mut conn, &resource)?;
            let spec = ResourceSpec {
                uri: uri.unwrap_or(old.uri),
                name: name.unwrap_or(old.name),
                scopes: if no_scopes {
                    Vec::new()
                } else if scopes.is_empty() {
                    old.scopes
                } else {
                    resource_scopes(&scopes)
                },
                access_token_ttl: match token_ttl {
                    Some(0) => None,
                    Some(t) => Some(t),
                    None => old.access_token_ttl,
                },
            };
            let r = resources::update_resource(&mut conn, &old.id, &spec, now)
                .map_err(|e| e.to_string())?;
            resource_event(&mut conn, now, "resource.updated", &r);
            printer.done(&resource_json(&r), &format!("updated {}", r.uri))
        }
        ResourceCommand::Remove { resource } => {
            let r = find_resource(&mut conn, &resource)?;
            resources::remove_resource(&mut conn, &r.id).map_err(|e| e.to_string())?;
            resource_event(&mut conn, now, "resource.deleted", &r);
            printer.done(
                &json!({ "id": r.id, "uri": r.uri, "deleted": true }),
                &format!("removed {}", r.uri),
            )
        }
    }
}

fn org_command(store: &Store, cmd: OrgCommand, output: OutputArgs) -> CliResult {
    let printer = Printer::new(output.output);
    let mut conn = conn_of(store)?;
    match cmd {
        OrgCommand::List => {
            let rows: Vec<Value> = accounts::list_orgs(&mut conn)
                .map_err(|e| e.to_string())?
                .iter()
                .map(|(o, members)| {
                    json!({
                        "id": o.id,
                        "name": o.name,
                        "members": members,
                        "requireMfa": o.require_mfa,
                        "createdAt": output::time(o.created_at),
                    })
                })
                .collect();
            printer.list(&["id", "name", "members", "requireMfa", "createdAt"], &rows)
        }
        OrgCommand::Show { id } => {
            let org = find_org(&mut conn, &id)?;
            let members = accounts::members(&mut conn, &org.id).map_err(|e| e.to_string())?;
            let keys = apikeys::list_keys(&mut conn, &org.id).map_err(|e| e.to_string())?;
            let agents = apikeys::list_agents(&mut conn, &org.id).map_err(|e| e.to_string())?;
            printer.object(&json!({
                "id": org.id,
                "name": org.name,
                "requireMfa": org.require_mfa,
                "createdAt": output::time(org.created_at),
                "apiKeys": keys.iter().filter(|k| k.revoked_at.is_none()).count(),
                "agents": agents.len(),
                "members": members.iter().map(|m| json!({
                    "userId": m.user_id,
                    "email": m.email,
                    "name": m.name,
                    "role": m.role.as_str(),
                    "joinedAt": output::time(m.joined_at),
                })).collect::<Vec<_>>(),
            }))
        }
    }
}

/// An API key as the command line shows it: never its secret (only `prefix`, its first
/// characters).
fn key_json(k: &apikeys::ApiKey) -> Value {
    json!({
        "id": k.id,
        "organizationId": k.org_id,
        "name": k.name,
        "scopes": k.scopes,
        "prefix": k.prefix,
        "createdBy": k.created_by,
        "createdAt": output::time(k.created_at),
        "expiresAt": output::opt_time(k.expires_at),
        "lastUsedAt": output::opt_time(k.last_used_at),
        "revokedAt": output::opt_time(k.revoked_at),
    })
}

/// An operator's change to an organization's keys or agents, in the audit log.
fn cli_event(kind: &'static str, org: &str, detail: Value) -> server::audit::Event {
    server::audit::Event::new(kind)
        .actor(Some("cli"))
        .org(org)
        .detail(detail)
}

fn find_key(conn: &mut store::Conn, id: &str) -> Result<apikeys::ApiKey, String> {
    apikeys::find_key_by_id(conn, id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no API key {id}"))
}

fn apikey_command(store: &Store, cmd: ApiKeyCommand, output: OutputArgs) -> CliResult {
    let printer = Printer::new(output.output);
    let mut conn = conn_of(store)?;
    let now = SystemClock.now();
    match cmd {
        ApiKeyCommand::Create {
            org,
            scopes,
            name,
            expires_in,
        } => {
            find_org(&mut conn, &org)?;
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
            server::audit::record(
                &mut conn,
                now,
                cli_event(
                    "api_key.created",
                    &org,
                    json!({ "key_id": key.id, "scopes": key.scopes, "via": "cli" }),
                ),
            );
            let mut shown = key_json(&key);
            shown["key"] = json!(secret.expose());
            printer.object(&shown)
        }
        ApiKeyCommand::List { org } => {
            find_org(&mut conn, &org)?;
            let rows: Vec<Value> = apikeys::list_keys(&mut conn, &org)
                .map_err(|e| e.to_string())?
                .iter()
                .map(key_json)
                .collect();
            printer.list(
                &["id", "name", "prefix", "scopes", "expiresAt", "revokedAt"],
                &rows,
            )
        }
        ApiKeyCommand::Revoke { id } => {
            let key = find_key(&mut conn, &id)?;
            let key =
                apikeys::revoke_key(&mut conn, &key.org_id, &id, now).map_err(|e| e.to_string())?;
            server::invalidate::publish(&mut conn, server::invalidate::Change::ApiKey(&key.id));
            server::audit::record(
                &mut conn,
                now,
                cli_event(
                    "api_key.revoked",
                    &key.org_id,
                    json!({ "key_id": key.id, "via": "cli" }),
                ),
            );
            printer.done(&key_json(&key), &format!("revoked {}", key.id))
        }
        ApiKeyCommand::Rotate { id, overlap } => {
            let key = find_key(&mut conn, &id)?;
            let (key, secret) = apikeys::rotate_key(&mut conn, &key.org_id, &id, overlap, now)
                .map_err(|e| e.to_string())?;
            server::invalidate::publish(&mut conn, server::invalidate::Change::ApiKey(&key.id));
            server::audit::record(
                &mut conn,
                now,
                cli_event(
                    "api_key.rotated",
                    &key.org_id,
                    json!({ "key_id": key.id, "overlap_seconds": overlap, "via": "cli" }),
                ),
            );
            let mut shown = key_json(&key);
            shown["key"] = json!(secret.expose());
            printer.object(&shown)
        }
    }
}

fn agent_json(a: &apikeys::Agent) -> Value {
    json!({
        "id": a.id,
        "organizationId": a.org_id,
        "name": a.name,
        "scopes": a.scopes,
        "createdAt": output::time(a.created_at),
        "updatedAt": output::time(a.updated_at),
    })
}

fn find_agent(conn: &mut store::Conn, id: &str) -> Result<apikeys::Agent, String> {
    apikeys::find_agent(conn, id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no agent {id}"))
}

fn agent_command(store: &Store, cmd: AgentCommand, output: OutputArgs) -> CliResult {
    let printer = Printer::new(output.output);
    let mut conn = conn_of(store)?;
    let now = SystemClock.now();
    match cmd {
        AgentCommand::Create { org, name, scopes } => {
            find_org(&mut conn, &org)?;
            let agent = apikeys::create_agent(&mut conn, &org, &name, &scopes, now)
                .map_err(|e| e.to_string())?;
            server::audit::record(
                &mut conn,
                now,
                cli_event(
                    "agent.created",
                    &org,
                    json!({ "agent_id": agent.id, "name": agent.name, "scopes": agent.scopes, "via": "cli" }),
                ),
            );
            printer.object(&agent_json(&agent))
        }
        AgentCommand::List { org } => {
            find_org(&mut conn, &org)?;
            let rows: Vec<Value> = apikeys::list_agents(&mut conn, &org)
                .map_err(|e| e.to_string())?
                .iter()
                .map(agent_json)
                .collect();
            printer.list(&["id", "name", "scopes", "createdAt"], &rows)
        }
        AgentCommand::Update { id, name, scopes } => {
            if name.is_none() && scopes.is_empty() {
                return Err("nothing to change: give --name or --scope".into());
            }
            let agent = find_agent(&mut conn, &id)?;
            let scopes = (!scopes.is_empty()).then_some(scopes);
            let updated = apikeys::update_agent(
                &mut conn,
                &agent.org_id,
                &id,
                name.as_deref(),
                scopes.as_deref(),
                now,
            )
            .map_err(|e| e.to_string())?;
            server::invalidate::publish(&mut conn, server::invalidate::Change::Agent(&id));
            server::audit::record(
                &mut conn,
                now,
                cli_event(
                    "agent.updated",
                    &updated.org_id,
                    json!({ "agent_id": updated.id, "name": updated.name, "scopes": updated.scopes, "via": "cli" }),
                ),
            );
            printer.object(&agent_json(&updated))
        }
        AgentCommand::Delete { id } => {
            let agent = find_agent(&mut conn, &id)?;
            apikeys::delete_agent(&mut conn, &agent.org_id, &id).map_err(|e| e.to_string())?;
            server::invalidate::publish(&mut conn, server::invalidate::Change::Agent(&id));
            for client in
                grants::delete_clients_of_agent(&mut conn, &id).map_err(|e| e.to_string())?
            {
                server::invalidate::publish(&mut conn, server::invalidate::Change::Client(&client));
            }
            server::audit::record(
                &mut conn,
                now,
                cli_event(
                    "agent.deleted",
                    &agent.org_id,
                    json!({ "agent_id": id, "via": "cli" }),
                ),
            );
            printer.done(
                &json!({ "id": id, "deleted": true }),
                &format!("deleted {id}"),
            )
        }
        AgentCommand::Credentials { command } => {
            agent_credentials_command(&mut conn, &printer, command, now)
        }
    }
}

/// A JWK Set file given on the command line, as JSON (checked where it is used).
fn read_jwks(path: &std::path::Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

fn agent_credentials_command(
    conn: &mut store::Conn,
    printer: &Printer,
    cmd: AgentCredentialsCommand,
    now: i64,
) -> CliResult {
    match cmd {
        AgentCredentialsCommand::Create {
            agent,
            jwks,
            jwks_uri,
        } => {
            let found = find_agent(conn, &agent)?;
            let keys = match (jwks, jwks_uri) {
                (Some(path), _) => Some(grants::AgentKeys::Jwks(read_jwks(&path)?)),
                (None, Some(uri)) => Some(grants::AgentKeys::JwksUri(uri)),
                (None, None) => None,
            };
            // The operator may give any agent credentials, `*` ones too.
            let reg =
                grants::create_agent_client_with_keys(conn, &found.org_id, &agent, true, keys, now)
                    .map_err(|e| e.to_string())?;
            server::audit::record(
                conn,
                now,
                cli_event(
                    "agent.credentials_created",
                    &found.org_id,
                    json!({ "agent_id": agent, "client_id": reg.client.id, "via": "cli" }),
                ),
            );
            printer.object(&json!({
                "clientId": reg.client.id,
                "agentId": agent,
                "clientSecret": reg.secret.as_ref().map(|s| s.expose().to_owned()),
            }))
        }
        AgentCredentialsCommand::List { agent } => {
            let found = find_agent(conn, &agent)?;
            let rows: Vec<Value> = grants::agent_clients(conn, &found.org_id, &agent)
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|c| json!({ "clientId": c.client_id, "agentId": c.agent_id, "createdAt": c.created_at }))
                .collect();
            printer.list(&["clientId", "agentId", "createdAt"], &rows)
        }
        AgentCredentialsCommand::Delete { agent, client_id } => {
            let found = find_agent(conn, &agent)?;
            if !grants::delete_agent_client(conn, &found.org_id, &agent, &client_id)
                .map_err(|e| e.to_string())?
            {
                return Err(format!("agent {agent} has no client {client_id}"));
            }
            server::invalidate::publish(conn, server::invalidate::Change::Client(&client_id));
            server::audit::record(
                conn,
                now,
                cli_event(
                    "agent.credentials_deleted",
                    &found.org_id,
                    json!({ "agent_id": agent, "client_id": client_id, "via": "cli" }),
                ),
            );
            printer.done(
                &json!({ "clientId": client_id, "deleted": true }),
                &format!("deleted {client_id}"),
            )
        }
    }
}

fn master_key_command(
    config: &Config,
    store: &Store,
    cmd: MasterKeyCommand,
    output: OutputArgs,
) -> CliResult {
    let printer = Printer::new(output.output);
    let mut conn = conn_of(store)?;
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
            printer.done(
                &json!({ "reencrypted": count }),
                &format!(
                    "re-encrypted {count} credentials; restart every instance with the new key"
                ),
            )
        }
    }
}
