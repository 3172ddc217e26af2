//! Settings: command-line flags, `PORTCULLIS_*` environment variables and an optional
//! `portcullis.toml`, in that order of precedence, checked once at start into a [`Config`]:
//! the server's typed [`Settings`] (whose defaults are the server's) and the binary's own.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;
use server::{RegistrationPolicy, Settings};
use store::DatabaseUrl;
use tokens::SigningAlg;
use url::Url;

/// The settings file read when `PORTCULLIS_CONFIG` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "portcullis.toml";

/// The settings every command needs: where the database is, the settings file, logging. They
/// are global flags (`portcullis --database-url … user list` and `portcullis user list
/// --database-url …` both work) and are listed by every command's `--help`.
#[derive(Debug, Clone, Default, Args)]
pub struct CommonArgs {
    /// Settings file (TOML, keys as the flags with `_` for `-`) [default: portcullis.toml in the
    /// working directory, when present]
    #[arg(long, env = "PORTCULLIS_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// sqlite://path/to/file.db or postgres://user:password@host/db [default:
    /// sqlite://data/portcullis.db, relative to the working directory]
    #[arg(
        long,
        env = "PORTCULLIS_DATABASE_URL",
        global = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,

    /// Most database connections each instance keeps open [default: 16]
    #[arg(
        long,
        env = "PORTCULLIS_DATABASE_POOL_SIZE",
        global = true,
        value_name = "N"
    )]
    pub database_pool_size: Option<u32>,

    /// Log format: `human` or `json` [default: human]
    #[arg(
        long,
        env = "PORTCULLIS_LOG_FORMAT",
        global = true,
        value_name = "FORMAT"
    )]
    pub log_format: Option<String>,

    /// Log filter, e.g. `info` or `info,portcullis::access=debug` for one line per request
    /// [default: info for `serve`, warn for the other commands]
    #[arg(
        long,
        env = "PORTCULLIS_LOG_LEVEL",
        global = true,
        value_name = "FILTER"
    )]
    pub log_level: Option<String>,

    /// Log at info level (commands other than `serve` log only warnings and errors by default)
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

/// Every setting. The server's own are flags of `portcullis serve` (and its `--help`); the
/// other commands read them from the environment and the settings file only. The settings of
/// [`CommonArgs`] are skipped here (they are global flags) and copied in by
/// [`SettingsArgs::with_common`].
#[derive(Debug, Clone, Default, Args)]
pub struct SettingsArgs {
    #[arg(skip)]
    pub config: Option<PathBuf>,
    #[arg(skip)]
    pub database_url: Option<String>,
    #[arg(skip)]
    pub database_pool_size: Option<u32>,
    #[arg(skip)]
    pub log_format: Option<String>,
    #[arg(skip)]
    pub log_level: Option<String>,

    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "PORTCULLIS_BIND", value_name = "HOST:PORT")]
    pub bind: Option<String>,

    /// Public base URL of this server, the `iss` of every token [default: http://127.0.0.1:8080]
    #[arg(long, env = "PORTCULLIS_ISSUER", value_name = "URL")]
    pub issuer: Option<String>,

    /// HTTP worker threads [default: the number of CPU cores]
    #[arg(long, env = "PORTCULLIS_WORKERS", value_name = "N")]
    pub workers: Option<usize>,

    /// Seconds in-flight requests get to finish after SIGTERM or SIGINT [default: 30]
    #[arg(long, env = "PORTCULLIS_SHUTDOWN_TIMEOUT", value_name = "SECONDS")]
    pub shutdown_timeout: Option<u64>,

    /// Lifetime of access tokens in seconds [default: 3600]
    #[arg(long, env = "PORTCULLIS_ACCESS_TOKEN_TTL", value_name = "SECONDS")]
    pub access_token_ttl: Option<i64>,

    /// Lifetime cap of tokens issued by token exchange (RFC 8693) in seconds; never beyond the
    /// subject token's own expiry [default: 300]
    #[arg(long, env = "PORTCULLIS_EXCHANGE_TOKEN_TTL", value_name = "SECONDS")]
    pub exchange_token_ttl: Option<i64>,

    /// Signature algorithm of access tokens: ES256, RS256 or EdDSA [default: ES256]
    #[arg(long, env = "PORTCULLIS_ACCESS_TOKEN_ALG", value_name = "ALG")]
    pub access_token_alg: Option<String>,

    /// `aud` of access tokens requested without a `resource` [default: the issuer]
    #[arg(long, env = "PORTCULLIS_DEFAULT_AUDIENCE", value_name = "URI")]
    pub default_audience: Option<String>,

    /// Dynamic client registration: `open`, `token` (an initial access token from
    /// `portcullis client token` is required) or `closed` [default: open]
    #[arg(long, env = "PORTCULLIS_REGISTRATION", value_name = "POLICY")]
    pub registration: Option<String>,

    /// Scopes clients may register, space-separated [default: "openid profile email
    /// offline_access"]
    #[arg(long, env = "PORTCULLIS_SCOPES", value_name = "SCOPES")]
    pub scopes: Option<String>,

    /// Seconds an instance keeps the signing keys in memory before reloading them from the
    /// database (a key rotated elsewhere signs here after at most this long, even if the
    /// instances' PostgreSQL notice is lost) [default: 30]
    #[arg(long, env = "PORTCULLIS_KEYS_REFRESH", value_name = "SECONDS")]
    pub keys_refresh: Option<i64>,

    /// Days a signing key signs before a new one takes over, the new one published
    /// PORTCULLIS_KEY_PREPUBLISH_HOURS ahead [default: 0, no scheduled rotation]
    #[arg(long, env = "PORTCULLIS_KEY_ROTATION_DAYS", value_name = "DAYS")]
    pub key_rotation_days: Option<i64>,

    /// Hours a scheduled rotation's new key is in the JWKS before it signs [default: 24]
    #[arg(long, env = "PORTCULLIS_KEY_PREPUBLISH_HOURS", value_name = "HOURS")]
    pub key_prepublish_hours: Option<i64>,

    /// Longest life of a browser session, in seconds [default: 604800, 7 days]
    #[arg(long, env = "PORTCULLIS_SESSION_TTL", value_name = "SECONDS")]
    pub session_ttl: Option<i64>,

    /// A browser session unused this many seconds ends [default: 86400, 1 day]
    #[arg(long, env = "PORTCULLIS_SESSION_IDLE_TIMEOUT", value_name = "SECONDS")]
    pub session_idle_timeout: Option<i64>,

    /// Lifetime of refresh tokens, in seconds [default: 2592000, 30 days]
    #[arg(long, env = "PORTCULLIS_REFRESH_TOKEN_TTL", value_name = "SECONDS")]
    pub refresh_token_ttl: Option<i64>,

    /// Seconds after a refresh token's rotation during which presenting it again gets another
    /// new token instead of revoking its family (for a lost response) [default: 0, off]
    #[arg(long, env = "PORTCULLIS_REFRESH_GRACE", value_name = "SECONDS")]
    pub refresh_grace: Option<i64>,

    /// Enable the legacy password grant for clients that register it (also served at
    /// `POST /Token`) [default: false]
    #[arg(long, env = "PORTCULLIS_PASSWORD_GRANT", value_name = "BOOL")]
    pub password_grant: Option<bool>,

    /// How many seconds old a DPoP proof's `iat` may be (RFC 9449 §11.1); proofs are
    /// remembered this long against replay [default: 60]
    #[arg(long, env = "PORTCULLIS_DPOP_MAX_AGE", value_name = "SECONDS")]
    pub dpop_max_age: Option<i64>,

    /// Require a server nonce in DPoP proofs (RFC 9449 §8), sealed under
    /// PORTCULLIS_ENCRYPTION_KEYS [default: false]
    #[arg(long, env = "PORTCULLIS_DPOP_NONCE", value_name = "BOOL")]
    pub dpop_nonce: Option<bool>,

    /// Refuse (`invalid_target`) a `resource` that is neither a registered protected resource
    /// nor one of this server's own APIs, once any resource is registered [default: false]
    #[arg(long, env = "PORTCULLIS_RESOURCE_STRICT", value_name = "BOOL")]
    pub resource_strict: Option<bool>,

    /// Accept authorization requests only when pushed first (RFC 9126 `/oauth2/par`), for
    /// every client [default: false; a client may require it for itself]
    #[arg(long, env = "PORTCULLIS_PAR_REQUIRED", value_name = "BOOL")]
    pub par_required: Option<bool>,

    /// Seconds an instance trusts a verified API key before checking it again (a key revoked
    /// elsewhere is refused within this time even if the instances' PostgreSQL notice is lost)
    /// [default: 10]
    #[arg(long, env = "PORTCULLIS_API_KEY_CACHE", value_name = "SECONDS")]
    pub api_key_cache: Option<i64>,

    /// Sign-in attempts per client IP per minute (sign-in page, JSON login, password grant);
    /// 0 turns the limit off [default: 30]
    #[arg(long, env = "PORTCULLIS_RATE_LIMIT_LOGIN", value_name = "PER_MINUTE")]
    pub rate_limit_login: Option<u32>,

    /// Sign-ups per client IP per minute (page and JSON); 0 turns the limit off [default: 10]
    #[arg(long, env = "PORTCULLIS_RATE_LIMIT_SIGNUP", value_name = "PER_MINUTE")]
    pub rate_limit_signup: Option<u32>,

    /// Token endpoint requests per client IP per minute; 0 turns the limit off [default: 3000]
    #[arg(long, env = "PORTCULLIS_RATE_LIMIT_TOKEN", value_name = "PER_MINUTE")]
    pub rate_limit_token: Option<u32>,

    /// Token endpoint requests per client id per minute; 0 turns the limit off [default: 3000]
    #[arg(
        long,
        env = "PORTCULLIS_RATE_LIMIT_TOKEN_PER_CLIENT",
        value_name = "PER_MINUTE"
    )]
    pub rate_limit_token_per_client: Option<u32>,

    /// Wrong user codes typed on /device per browser session, and per client IP, per minute;
    /// 0 turns the limit off [default: 10]
    #[arg(
        long,
        env = "PORTCULLIS_RATE_LIMIT_DEVICE_CODE",
        value_name = "PER_MINUTE"
    )]
    pub rate_limit_device_code: Option<u32>,

    /// Dynamic client registrations per client IP per minute; 0 turns the limit off
    /// [default: 10]
    #[arg(
        long,
        env = "PORTCULLIS_RATE_LIMIT_REGISTRATION",
        value_name = "PER_MINUTE"
    )]
    pub rate_limit_registration: Option<u32>,

    /// Seconds an instance keeps a registered client in memory before reading it again (a
    /// client changed or deleted elsewhere is seen within this time even if the instances'
    /// PostgreSQL notice is lost) [default: 10]
    #[arg(long, env = "PORTCULLIS_CLIENT_CACHE", value_name = "SECONDS")]
    pub client_cache: Option<i64>,

    /// The gateway's master key: 64 hex characters or base64 of 32 bytes. Without one (or a
    /// key file) the agent gateway is off
    #[arg(
        long,
        env = "PORTCULLIS_MASTER_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub master_key: Option<String>,

    /// A file holding the master key (instead of PORTCULLIS_MASTER_KEY)
    #[arg(long, env = "PORTCULLIS_MASTER_KEY_FILE", value_name = "FILE")]
    pub master_key_file: Option<PathBuf>,

    /// The keys that seal secrets kept at rest (TOTP secrets): `ID:KEY` entries, comma or space
    /// separated, each key 64 hex characters or base64 of 32 bytes; the first seals, all open
    /// [default: the key file]
    #[arg(
        long,
        env = "PORTCULLIS_ENCRYPTION_KEYS",
        value_name = "KEYS",
        hide_env_values = true
    )]
    pub encryption_keys: Option<String>,

    /// A file holding the encryption keys (instead of PORTCULLIS_ENCRYPTION_KEYS), made with a
    /// new key on first start if missing [default: `encryption.keys` beside the SQLite
    /// database; none on PostgreSQL, where TOTP needs PORTCULLIS_ENCRYPTION_KEYS]
    #[arg(long, env = "PORTCULLIS_ENCRYPTION_KEYS_FILE", value_name = "FILE")]
    pub encryption_keys_file: Option<PathBuf>,

    /// Let the gateway reach private, loopback and link-local addresses and plain-http
    /// upstreams (for tests; never in production) [default: false]
    #[arg(long, env = "PORTCULLIS_GATEWAY_ALLOW_PRIVATE", value_name = "BOOL")]
    pub gateway_allow_private: Option<bool>,

    /// Seconds the gateway waits for an upstream's response head [default: 60]
    #[arg(long, env = "PORTCULLIS_GATEWAY_TIMEOUT", value_name = "SECONDS")]
    pub gateway_timeout: Option<i64>,

    /// Largest request body the gateway forwards, in bytes [default: 10485760]
    #[arg(long, env = "PORTCULLIS_GATEWAY_MAX_BODY", value_name = "BYTES")]
    pub gateway_max_body: Option<u64>,

    /// Client ID Metadata Documents (URL client ids, as MCP clients use): `all`, `none`, or a
    /// comma-separated list of hosts whose documents are accepted [default: all]
    #[arg(long, env = "PORTCULLIS_CIMD", value_name = "all|none|HOSTS")]
    pub cimd: Option<String>,

    /// Least seconds a fetched client metadata document is kept, whatever its caching
    /// headers say [default: 300]
    #[arg(long, env = "PORTCULLIS_CIMD_CACHE_MIN", value_name = "SECONDS")]
    pub cimd_cache_min: Option<i64>,

    /// Most seconds a fetched client metadata document is kept [default: 86400]
    #[arg(long, env = "PORTCULLIS_CIMD_CACHE_MAX", value_name = "SECONDS")]
    pub cimd_cache_max: Option<i64>,

    /// Milliseconds fetching a client metadata document may take [default: 5000]
    #[arg(long, env = "PORTCULLIS_CIMD_TIMEOUT_MS", value_name = "MILLISECONDS")]
    pub cimd_timeout_ms: Option<u64>,

    /// Accept client metadata documents at http://127.0.0.1, http://[::1] and
    /// http://localhost, and loopback addresses (for tests; never in production)
    /// [default: false]
    #[arg(long, env = "PORTCULLIS_CIMD_ALLOW_LOOPBACK", value_name = "BOOL")]
    pub cimd_allow_loopback: Option<bool>,

    /// How many times a back-channel logout token is POSTed before its delivery is marked
    /// failed [default: 5]
    #[arg(long, env = "PORTCULLIS_BACKCHANNEL_LOGOUT_ATTEMPTS", value_name = "N")]
    pub backchannel_logout_attempts: Option<u32>,

    /// Milliseconds one back-channel logout POST may take [default: 5000]
    #[arg(
        long,
        env = "PORTCULLIS_BACKCHANNEL_LOGOUT_TIMEOUT_MS",
        value_name = "MILLISECONDS"
    )]
    pub backchannel_logout_timeout_ms: Option<u64>,

    /// Accept http://127.0.0.1 (and [::1], localhost) back-channel logout URIs and deliver to
    /// loopback addresses (for development and tests; never in production) [default: false]
    #[arg(
        long,
        env = "PORTCULLIS_BACKCHANNEL_LOGOUT_ALLOW_LOOPBACK",
        value_name = "BOOL"
    )]
    pub backchannel_logout_allow_loopback: Option<bool>,

    /// Deprecated alias: `true` trusts loopback and the private ranges (127.0.0.0/8, ::1,
    /// 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7) as proxies; prefer
    /// PORTCULLIS_TRUSTED_PROXIES [default: false]
    #[arg(long, env = "PORTCULLIS_TRUST_PROXY", value_name = "BOOL")]
    pub trust_proxy: Option<bool>,

    /// Proxies whose X-Forwarded-For / Forwarded is believed: CIDR ranges or addresses,
    /// separated by commas or spaces. The client IP is the rightmost address in those headers
    /// that is not in this list [default: none, the TCP peer is the client]
    #[arg(long, env = "PORTCULLIS_TRUSTED_PROXIES", value_name = "CIDRS")]
    pub trusted_proxies: Option<String>,

    /// Who may make an account themselves: `open`, `invite` (only by accepting an invite) or
    /// `closed` (operators make accounts; invites still work) [default: open]
    #[arg(long, env = "PORTCULLIS_SIGNUP", value_name = "POLICY")]
    pub signup: Option<String>,

    /// Email domains that may sign up, separated by commas or spaces (subdomains included);
    /// invites are not limited by it [default: any]
    #[arg(long, env = "PORTCULLIS_SIGNUP_DOMAINS", value_name = "DOMAINS")]
    pub signup_domains: Option<String>,

    /// Refuse sign-in until the user has verified their email address [default: false]
    #[arg(long, env = "PORTCULLIS_REQUIRE_VERIFIED_EMAIL", value_name = "BOOL")]
    pub require_verified_email: Option<bool>,

    /// Outgoing mail server: smtp://[user:password@]host[:port] (STARTTLS when offered;
    /// `?tls=required` to insist) or smtps://… (TLS from the start). Without it, mail is
    /// written to the outbox folder [default: none]
    #[arg(
        long,
        env = "PORTCULLIS_SMTP_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub smtp_url: Option<String>,

    /// The From of outgoing mail, `Name <address>` or `address` [default: "<brand> <noreply@the
    /// issuer's host>"]
    #[arg(long, env = "PORTCULLIS_MAIL_FROM", value_name = "ADDRESS")]
    pub mail_from: Option<String>,

    /// Folder that receives mail when no SMTP server is set, one .eml file per message
    /// [default: `outbox` beside the SQLite database, else data/outbox]
    #[arg(long, env = "PORTCULLIS_MAIL_OUTBOX", value_name = "DIR")]
    pub mail_outbox: Option<PathBuf>,

    /// The product's name on pages and in mail [default: Portcullis]
    #[arg(long, env = "PORTCULLIS_BRAND_NAME", value_name = "NAME")]
    pub brand_name: Option<String>,

    /// The logo on every page: an https URL, or a path on this server (`/…`) [default: none]
    #[arg(
        long,
        env = "PORTCULLIS_BRAND_LOGO_URL",
        global = true,
        value_name = "URL"
    )]
    pub brand_logo_url: Option<String>,

    /// The pages' primary colour (buttons, links, focus rings), `#rgb` or `#rrggbb`
    /// [default: #2f5bd3]
    #[arg(
        long,
        env = "PORTCULLIS_BRAND_PRIMARY_COLOR",
        global = true,
        value_name = "COLOR"
    )]
    pub brand_primary_color: Option<String>,

    /// Folder of templates and a stylesheet (portcullis.css) that replace the built-in ones;
    /// compiled at start [default: none]
    #[arg(long, env = "PORTCULLIS_THEME_DIR", global = true, value_name = "DIR")]
    pub theme_dir: Option<PathBuf>,
}

impl SettingsArgs {
    /// The server's settings from the environment alone (no flags): what every command but
    /// `serve` runs with, and `portcullis` without a command.
    pub fn from_environment() -> Result<Self, clap::Error> {
        #[derive(clap::Parser)]
        #[command(name = "portcullis")]
        struct FromEnvironment {
            #[command(flatten)]
            settings: SettingsArgs,
        }
        <FromEnvironment as clap::Parser>::try_parse_from(["portcullis"]).map(|p| p.settings)
    }

    /// These settings with the global ones (database, settings file, logging).
    pub fn with_common(mut self, common: &CommonArgs) -> Self {
        self.config.clone_from(&common.config);
        self.database_url.clone_from(&common.database_url);
        self.database_pool_size = common.database_pool_size;
        self.log_format.clone_from(&common.log_format);
        self.log_level.clone_from(&common.log_level);
        self
    }
}

/// The same settings as keys of `portcullis.toml`. Unknown keys are refused, so a typo is
/// reported instead of silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    bind: Option<String>,
    issuer: Option<String>,
    database_url: Option<String>,
    database_pool_size: Option<u32>,
    log_format: Option<String>,
    log_level: Option<String>,
    workers: Option<usize>,
    shutdown_timeout: Option<u64>,
    access_token_ttl: Option<i64>,
    exchange_token_ttl: Option<i64>,
    access_token_alg: Option<String>,
    default_audience: Option<String>,
    registration: Option<String>,
    scopes: Option<String>,
    keys_refresh: Option<i64>,
    key_rotation_days: Option<i64>,
    key_prepublish_hours: Option<i64>,
    session_ttl: Option<i64>,
    session_idle_timeout: Option<i64>,
    refresh_token_ttl: Option<i64>,
    refresh_grace: Option<i64>,
    password_grant: Option<bool>,
    dpop_max_age: Option<i64>,
    dpop_nonce: Option<bool>,
    resource_strict: Option<bool>,
    par_required: Option<bool>,
    api_key_cache: Option<i64>,
    client_cache: Option<i64>,
    rate_limit_login: Option<u32>,
    rate_limit_signup: Option<u32>,
    rate_limit_token: Option<u32>,
    rate_limit_token_per_client: Option<u32>,
    rate_limit_device_code: Option<u32>,
    rate_limit_registration: Option<u32>,
    master_key: Option<String>,
    master_key_file: Option<PathBuf>,
    encryption_keys: Option<String>,
    encryption_keys_file: Option<PathBuf>,
    gateway_allow_private: Option<bool>,
    gateway_timeout: Option<i64>,
    gateway_max_body: Option<u64>,
    cimd: Option<String>,
    cimd_cache_min: Option<i64>,
    cimd_cache_max: Option<i64>,
    cimd_timeout_ms: Option<u64>,
    cimd_allow_loopback: Option<bool>,
    backchannel_logout_attempts: Option<u32>,
    backchannel_logout_timeout_ms: Option<u64>,
    backchannel_logout_allow_loopback: Option<bool>,
    trust_proxy: Option<bool>,
    trusted_proxies: Option<String>,
    signup: Option<String>,
    signup_domains: Option<String>,
    require_verified_email: Option<bool>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    mail_outbox: Option<PathBuf>,
    brand_name: Option<String>,
    brand_logo_url: Option<String>,
    brand_primary_color: Option<String>,
    theme_dir: Option<PathBuf>,
    /// `[upstream.NAME]` tables: OpenID providers to sign in with.
    upstream: Option<std::collections::BTreeMap<String, FileUpstream>>,
}

/// One `[upstream.NAME]` table (each key also `PORTCULLIS_UPSTREAM_<NAME>_<KEY>`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileUpstream {
    issuer: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    display_name: Option<String>,
    scopes: Option<String>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

/// Everything the binary was given, validated: the server's settings and the binary's own
/// (the database pool, logging, the deprecated proxy alias it warns about).
#[derive(Debug, Clone)]
pub struct Config {
    pub server: Settings,
    pub database_pool_size: u32,
    pub log_format: LogFormat,
    pub log_level: String,
    /// The log level was given (flag, environment or file), not the default.
    pub log_level_given: bool,
    /// `PORTCULLIS_TRUST_PROXY=true` was given (the deprecated alias): `serve` warns.
    pub trust_proxy: bool,
    /// The encryption key file `serve` reads, or makes with a new key, when no keys were given
    /// (`PORTCULLIS_ENCRYPTION_KEYS_FILE`, or `encryption.keys` beside the SQLite database).
    pub encryption_keys_file: Option<PathBuf>,
}

/// A setting that cannot be used, with the name of the setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read settings file {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("settings file {}: {message}", path.display())]
    Malformed { path: PathBuf, message: String },
    #[error("invalid {setting}: {message}")]
    Invalid {
        setting: &'static str,
        message: String,
    },
    /// An `[upstream.NAME]` provider (or its `PORTCULLIS_UPSTREAM_<NAME>_*` variables).
    #[error("invalid upstream provider {name:?}: {message}")]
    Upstream { name: String, message: String },
}

/// The brand's logo: an https URL (the pages' CSP allows images from https) or a path on this
/// server, never `//host` or another scheme.
fn parse_logo_url(raw: &str) -> Result<String, ConfigError> {
    let bad = |why: &str| invalid("PORTCULLIS_BRAND_LOGO_URL", format!("{raw:?}: {why}"));
    if raw.starts_with('/') && !raw.starts_with("//") {
        return match raw.chars().any(|c| c.is_control() || c == '\\' || c == '"') {
            false => Ok(raw.to_owned()),
            true => Err(bad("expected a path without control characters or quotes")),
        };
    }
    match url::Url::parse(raw) {
        Ok(u) if u.scheme() == "https" && u.host_str().is_some() => Ok(u.to_string()),
        _ => Err(bad("expected an https URL or a path starting with /")),
    }
}

fn invalid(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting,
        message: message.into(),
    }
}

impl Config {
    /// Reads the settings file (if any) under the flags and environment, then validates.
    pub fn load(args: &SettingsArgs) -> Result<Self, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => {
                read_file(Path::new(DEFAULT_CONFIG_FILE))?
            }
            None => FileSettings::default(),
        };
        let env = std::env::vars().filter(|(k, _)| k.starts_with(UPSTREAM_ENV_PREFIX));
        Self::resolve(args.clone(), file, env.collect())
    }

    /// Settings from the flags and environment alone, ignoring any settings file.
    #[cfg(test)]
    fn from_args(args: SettingsArgs) -> Result<Self, ConfigError> {
        Self::resolve(args, FileSettings::default(), Vec::new())
    }

    /// Each setting from the flags and environment, else the file, else the server's default
    /// (`Settings::default`, the one place the defaults are written).
    fn resolve(
        args: SettingsArgs,
        file: FileSettings,
        upstream_env: Vec<(String, String)>,
    ) -> Result<Self, ConfigError> {
        let d = Settings::default();
        let upstream = upstream_providers(file.upstream.clone().unwrap_or_default(), upstream_env)?;
        let issuer = match args.issuer.or(file.issuer) {
            Some(raw) => parse_issuer(&raw)?,
            None => d.issuer,
        };
        let default_audience = match args.default_audience.or(file.default_audience) {
            None => issuer.as_str().trim_end_matches('/').to_owned(),
            Some(aud) => match Url::parse(&aud) {
                Ok(_) if grants::is_reserved_audience(&aud) => {
                    return Err(invalid(
                        "PORTCULLIS_DEFAULT_AUDIENCE",
                        format!("{aud:?} is reserved for first-party sign-in"),
                    ));
                }
                Ok(u) if u.fragment().is_none() => aud,
                _ => {
                    return Err(invalid(
                        "PORTCULLIS_DEFAULT_AUDIENCE",
                        format!("{aud:?}: expected an absolute URI without a fragment"),
                    ));
                }
            },
        };
        let scopes = match args.scopes.or(file.scopes) {
            Some(raw) => parse_scopes(&raw)?,
            None => d.scopes,
        };
        let trust_proxy = args.trust_proxy.or(file.trust_proxy).unwrap_or(false);
        let trusted_proxies = parse_trusted_proxies(
            trust_proxy,
            args.trusted_proxies.or(file.trusted_proxies).as_deref(),
        )?;
        let log_format = args
            .log_format
            .or(file.log_format)
            .unwrap_or_else(|| "human".into());
        let log_level_given = args.log_level.is_some() || file.log_level.is_some();
        let log_level = args
            .log_level
            .or(file.log_level)
            .unwrap_or_else(|| "info".into());
        let database_url = match args.database_url.or(file.database_url) {
            Some(raw) => DatabaseUrl::parse(&raw)
                .map_err(|e| invalid("PORTCULLIS_DATABASE_URL", e.to_string()))?,
            None => d.database_url,
        };
        // Checked once trimmed: a value with a trailing newline or tab (from a file, say) is
        // the name without it.
        let brand_name = match args.brand_name.or(file.brand_name) {
            None => d.brand_name,
            Some(name)
                if !name.trim().is_empty()
                    && name.trim().chars().count() <= 60
                    && !name.trim().chars().any(char::is_control) =>
            {
                name.trim().to_owned()
            }
            Some(name) => {
                return Err(invalid(
                    "PORTCULLIS_BRAND_NAME",
                    format!("{name:?}: expected 1 to 60 printable characters"),
                ));
            }
        };
        let brand_logo_url = match args.brand_logo_url.or(file.brand_logo_url) {
            None => None,
            Some(raw) => Some(parse_logo_url(raw.trim())?),
        };
        let brand_primary_color = match args.brand_primary_color.or(file.brand_primary_color) {
            None => None,
            Some(raw) => Some(server::theme::Color::parse(&raw).ok_or_else(|| {
                invalid(
                    "PORTCULLIS_BRAND_PRIMARY_COLOR",
                    format!("{raw:?}: expected a colour as #rgb or #rrggbb"),
                )
            })?),
        };
        if let Some(color) = &brand_primary_color {
            let contrast = color.contrast_with_white();
            if contrast < server::theme::MIN_CONTRAST {
                return Err(invalid(
                    "PORTCULLIS_BRAND_PRIMARY_COLOR",
                    format!(
                        "{}: buttons carry white text on it, and white on it has a contrast of \
                         {contrast:.1}:1; at least {}:1 is needed (WCAG 2.2 AA): choose a darker colour",
                        color.as_str(),
                        server::theme::MIN_CONTRAST
                    ),
                ));
            }
        }
        let theme = match args.theme_dir.or(file.theme_dir) {
            None => None,
            Some(dir) => Some(std::sync::Arc::new(
                server::theme::Theme::load(&dir)
                    .map_err(|e| invalid("PORTCULLIS_THEME_DIR", e.to_string()))?,
            )),
        };
        let mail = mail_settings(
            args.smtp_url.or(file.smtp_url),
            args.mail_from.or(file.mail_from),
            args.mail_outbox.or(file.mail_outbox),
            &database_url,
            &issuer,
            &brand_name,
        )?;
        let signup = accounts::SignupPolicy {
            mode: match args.signup.or(file.signup) {
                None => d.signup.mode,
                Some(raw) => accounts::SignupMode::parse(&raw).ok_or_else(|| {
                    invalid(
                        "PORTCULLIS_SIGNUP",
                        format!("{raw:?}: expected open, invite or closed"),
                    )
                })?,
            },
            domains: match args.signup_domains.or(file.signup_domains) {
                None => d.signup.domains,
                Some(raw) => parse_domains(&raw)?,
            },
        };
        let (encryption_keys, encryption_keys_file) = match (
            args.encryption_keys.or(file.encryption_keys),
            args.encryption_keys_file.or(file.encryption_keys_file),
        ) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "PORTCULLIS_ENCRYPTION_KEYS",
                    "give the keys or a key file, not both",
                ));
            }
            (Some(raw), None) => (
                Some(std::sync::Arc::new(
                    primitives::seal::KeyRing::parse(&raw)
                        .map_err(|e| invalid("PORTCULLIS_ENCRYPTION_KEYS", e))?,
                )),
                None,
            ),
            (None, Some(path)) => (None, Some(path)),
            (None, None) => (None, default_key_file(&database_url)),
        };
        let server = Settings {
            encryption_keys,
            signup,
            require_verified_email: args
                .require_verified_email
                .or(file.require_verified_email)
                .unwrap_or(d.require_verified_email),
            mail,
            brand_name,
            brand_logo_url,
            brand_primary_color,
            theme,
            upstream,
            bind: match args.bind.or(file.bind) {
                Some(raw) => parse_bind(&raw)?,
                None => d.bind,
            },
            issuer,
            database_url,
            workers: match args.workers.or(file.workers) {
                None => d.workers,
                Some(n @ 1..=1024) => n,
                Some(n) => {
                    return Err(invalid(
                        "PORTCULLIS_WORKERS",
                        format!("{n} is outside 1..=1024"),
                    ));
                }
            },
            shutdown_timeout: args
                .shutdown_timeout
                .or(file.shutdown_timeout)
                .unwrap_or(d.shutdown_timeout),
            access_token_ttl: match args.access_token_ttl.or(file.access_token_ttl) {
                None => d.access_token_ttl,
                Some(n @ 60..=86_400) => n,
                Some(n) => {
                    return Err(invalid(
                        "PORTCULLIS_ACCESS_TOKEN_TTL",
                        format!("{n} is outside 60..=86400 seconds"),
                    ));
                }
            },
            exchange_token_ttl: match args.exchange_token_ttl.or(file.exchange_token_ttl) {
                None => d.exchange_token_ttl,
                Some(n @ 10..=3600) => n,
                Some(n) => {
                    return Err(invalid(
                        "PORTCULLIS_EXCHANGE_TOKEN_TTL",
                        format!("{n} is outside 10..=3600 seconds"),
                    ));
                }
            },
            access_token_alg: match args.access_token_alg.or(file.access_token_alg) {
                None => d.access_token_alg,
                Some(name) => SigningAlg::parse(&name).ok_or_else(|| {
                    invalid(
                        "PORTCULLIS_ACCESS_TOKEN_ALG",
                        format!("{name:?}: expected ES256, RS256 or EdDSA"),
                    )
                })?,
            },
            default_audience,
            registration: match args.registration.or(file.registration).as_deref() {
                None => d.registration,
                Some("open") => RegistrationPolicy::Open,
                Some("token") => RegistrationPolicy::Token,
                Some("closed") => RegistrationPolicy::Closed,
                Some(other) => {
                    return Err(invalid(
                        "PORTCULLIS_REGISTRATION",
                        format!("{other:?}: expected open, token or closed"),
                    ));
                }
            },
            scopes,
            keys_refresh: match args.keys_refresh.or(file.keys_refresh) {
                None => d.keys_refresh,
                Some(n @ 0..=3600) => n,
                Some(n) => {
                    return Err(invalid(
                        "PORTCULLIS_KEYS_REFRESH",
                        format!("{n} is outside 0..=3600 seconds"),
                    ));
                }
            },
            key_rotation_days: match args.key_rotation_days.or(file.key_rotation_days) {
                None => d.key_rotation_days,
                Some(n @ 0..=3650) => n,
                Some(n) => {
                    return Err(invalid(
                        "PORTCULLIS_KEY_ROTATION_DAYS",
                        format!("{n} is outside 0..=3650 days"),
                    ));
                }
            },
            key_prepublish_hours: match args.key_prepublish_hours.or(file.key_prepublish_hours) {
                None => d.key_prepublish_hours,
                Some(n @ 0..=8760) => n,
                Some(n) => {
                    return Err(invalid(
                        "PORTCULLIS_KEY_PREPUBLISH_HOURS",
                        format!("{n} is outside 0..=8760 hours"),
                    ));
                }
            },
            session_ttl: seconds(
                "PORTCULLIS_SESSION_TTL",
                args.session_ttl.or(file.session_ttl),
                d.session_ttl,
                60..=31_536_000,
            )?,
            session_idle_timeout: seconds(
                "PORTCULLIS_SESSION_IDLE_TIMEOUT",
                args.session_idle_timeout.or(file.session_idle_timeout),
                d.session_idle_timeout,
                60..=31_536_000,
            )?,
            refresh_token_ttl: seconds(
                "PORTCULLIS_REFRESH_TOKEN_TTL",
                args.refresh_token_ttl.or(file.refresh_token_ttl),
                d.refresh_token_ttl,
                60..=31_536_000,
            )?,
            refresh_grace: seconds(
                "PORTCULLIS_REFRESH_GRACE",
                args.refresh_grace.or(file.refresh_grace),
                d.refresh_grace,
                0..=300,
            )?,
            password_grant: args
                .password_grant
                .or(file.password_grant)
                .unwrap_or(d.password_grant),
            dpop_max_age: seconds(
                "PORTCULLIS_DPOP_MAX_AGE",
                args.dpop_max_age.or(file.dpop_max_age),
                d.dpop_max_age,
                5..=600,
            )?,
            dpop_nonce: args.dpop_nonce.or(file.dpop_nonce).unwrap_or(d.dpop_nonce),
            resource_strict: args
                .resource_strict
                .or(file.resource_strict)
                .unwrap_or(d.resource_strict),
            par_required: args
                .par_required
                .or(file.par_required)
                .unwrap_or(d.par_required),
            api_key_cache: seconds(
                "PORTCULLIS_API_KEY_CACHE",
                args.api_key_cache.or(file.api_key_cache),
                d.api_key_cache,
                0..=300,
            )?,
            rate_limits: server::ratelimit::Limits {
                login: args
                    .rate_limit_login
                    .or(file.rate_limit_login)
                    .unwrap_or(d.rate_limits.login),
                signup: args
                    .rate_limit_signup
                    .or(file.rate_limit_signup)
                    .unwrap_or(d.rate_limits.signup),
                token_per_ip: args
                    .rate_limit_token
                    .or(file.rate_limit_token)
                    .unwrap_or(d.rate_limits.token_per_ip),
                token_per_client: args
                    .rate_limit_token_per_client
                    .or(file.rate_limit_token_per_client)
                    .unwrap_or(d.rate_limits.token_per_client),
                registration: args
                    .rate_limit_registration
                    .or(file.rate_limit_registration)
                    .unwrap_or(d.rate_limits.registration),
                device_code: args
                    .rate_limit_device_code
                    .or(file.rate_limit_device_code)
                    .unwrap_or(d.rate_limits.device_code),
            },
            client_cache: seconds(
                "PORTCULLIS_CLIENT_CACHE",
                args.client_cache.or(file.client_cache),
                d.client_cache,
                0..=300,
            )?,
            master_key: load_master_key(
                args.master_key.or(file.master_key),
                args.master_key_file.or(file.master_key_file),
            )?,
            gateway_allow_private: args
                .gateway_allow_private
                .or(file.gateway_allow_private)
                .unwrap_or(d.gateway_allow_private),
            gateway_timeout: seconds(
                "PORTCULLIS_GATEWAY_TIMEOUT",
                args.gateway_timeout.or(file.gateway_timeout),
                d.gateway_timeout,
                1..=3600,
            )?,
            gateway_max_body: match args.gateway_max_body.or(file.gateway_max_body) {
                None => d.gateway_max_body,
                Some(n @ 1..=1_073_741_824) => n,
                Some(n) => {
                    return Err(invalid(
                        "PORTCULLIS_GATEWAY_MAX_BODY",
                        format!("{n} is outside 1..=1073741824 bytes"),
                    ));
                }
            },
            cimd: match args.cimd.as_deref().or(file.cimd.as_deref()) {
                None => d.cimd.clone(),
                Some(raw) => {
                    server::CimdPolicy::parse(raw).map_err(|e| invalid("PORTCULLIS_CIMD", e))?
                }
            },
            cimd_cache_min: seconds(
                "PORTCULLIS_CIMD_CACHE_MIN",
                args.cimd_cache_min.or(file.cimd_cache_min),
                d.cimd_cache_min,
                0..=604_800,
            )?,
            cimd_cache_max: seconds(
                "PORTCULLIS_CIMD_CACHE_MAX",
                args.cimd_cache_max.or(file.cimd_cache_max),
                d.cimd_cache_max,
                0..=604_800,
            )?,
            cimd_timeout_ms: match args.cimd_timeout_ms.or(file.cimd_timeout_ms) {
                None => d.cimd_timeout_ms,
                Some(n @ 1..=60_000) => n,
                Some(n) => {
                    return Err(invalid(
                        "PORTCULLIS_CIMD_TIMEOUT_MS",
                        format!("{n} is outside 1..=60000 milliseconds"),
                    ));
                }
            },
            cimd_allow_loopback: args
                .cimd_allow_loopback
                .or(file.cimd_allow_loopback)
                .unwrap_or(d.cimd_allow_loopback),
            backchannel_logout_attempts: within(
                "PORTCULLIS_BACKCHANNEL_LOGOUT_ATTEMPTS",
                args.backchannel_logout_attempts
                    .or(file.backchannel_logout_attempts),
                (d.backchannel_logout_attempts, 1..=20),
                "attempts",
            )?,
            backchannel_logout_timeout_ms: within(
                "PORTCULLIS_BACKCHANNEL_LOGOUT_TIMEOUT_MS",
                args.backchannel_logout_timeout_ms
                    .or(file.backchannel_logout_timeout_ms),
                (d.backchannel_logout_timeout_ms, 1..=60_000),
                "milliseconds",
            )?,
            backchannel_logout_allow_loopback: args
                .backchannel_logout_allow_loopback
                .or(file.backchannel_logout_allow_loopback)
                .unwrap_or(d.backchannel_logout_allow_loopback),
            trusted_proxies,
        };
        if server.key_rotation_days > 0
            && server.key_rotation_days * 24 <= server.key_prepublish_hours
        {
            return Err(invalid(
                "PORTCULLIS_KEY_PREPUBLISH_HOURS",
                format!(
                    "{} hours is not shorter than PORTCULLIS_KEY_ROTATION_DAYS ({} days): a new key \
                     would be published before the last one signs",
                    server.key_prepublish_hours, server.key_rotation_days
                ),
            ));
        }
        if server.cimd_cache_min > server.cimd_cache_max {
            return Err(invalid(
                "PORTCULLIS_CIMD_CACHE_MIN",
                format!(
                    "{} is more than PORTCULLIS_CIMD_CACHE_MAX ({})",
                    server.cimd_cache_min, server.cimd_cache_max
                ),
            ));
        }
        Ok(Self {
            server,
            database_pool_size: match args.database_pool_size.or(file.database_pool_size) {
                None => 16,
                Some(n @ 1..=1000) => n,
                Some(n) => {
                    return Err(invalid(
                        "PORTCULLIS_DATABASE_POOL_SIZE",
                        format!("{n} is outside 1..=1000"),
                    ));
                }
            },
            log_format: match log_format.as_str() {
                "human" => LogFormat::Human,
                "json" => LogFormat::Json,
                other => {
                    return Err(invalid(
                        "PORTCULLIS_LOG_FORMAT",
                        format!("{other:?}: expected human or json"),
                    ));
                }
            },
            log_level: crate::telemetry::check_filter(&log_level)
                .map_err(|e| invalid("PORTCULLIS_LOG_LEVEL", e))?,
            log_level_given,
            trust_proxy,
            encryption_keys_file,
        })
    }

    /// The encryption keys `serve` runs with: the ones given, else the key file's, read, or
    /// made with one new key (mode 0600) when missing. `None` when there is neither (on
    /// PostgreSQL without PORTCULLIS_ENCRYPTION_KEYS): TOTP is then unavailable.
    pub fn load_encryption_keys(&mut self) -> Result<Option<PathBuf>, ConfigError> {
        let Some(path) = self.encryption_keys_file.clone() else {
            return Ok(None);
        };
        if self.server.encryption_keys.is_some() {
            return Ok(None);
        }
        let setting = "PORTCULLIS_ENCRYPTION_KEYS_FILE";
        let made = match std::fs::read_to_string(&path) {
            Ok(raw) => {
                let ring = primitives::seal::KeyRing::parse(&raw)
                    .map_err(|e| invalid(setting, format!("{}: {e}", path.display())))?;
                self.server.encryption_keys = Some(std::sync::Arc::new(ring));
                return Ok(None);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let entry = primitives::seal::KeyRing::generate_entry("key-1");
                write_private(&path, &format!("{entry}\n")).map_err(|e| {
                    invalid(setting, format!("cannot make {}: {e}", path.display()))
                })?;
                entry
            }
            Err(e) => {
                return Err(invalid(
                    setting,
                    format!("cannot read {}: {e}", path.display()),
                ));
            }
        };
        let ring = primitives::seal::KeyRing::parse(&made).map_err(|e| invalid(setting, e))?;
        self.server.encryption_keys = Some(std::sync::Arc::new(ring));
        Ok(Some(path))
    }
}

/// Where the encryption key file is when none is named: beside the SQLite database; none on
/// PostgreSQL (instances share their keys, so they must be given).
fn default_key_file(database_url: &DatabaseUrl) -> Option<PathBuf> {
    match database_url {
        DatabaseUrl::Sqlite(path) => Some(
            std::path::Path::new(path)
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(
                    || PathBuf::from("encryption.keys"),
                    |p| p.join("encryption.keys"),
                ),
        ),
        DatabaseUrl::Postgres(_) => None,
    }
}

/// Writes a new file readable by its owner alone; an existing file is left alone (an error).
fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

/// What the environment variables of upstream providers start with.
const UPSTREAM_ENV_PREFIX: &str = "PORTCULLIS_UPSTREAM_";

/// The upstream providers: the file's `[upstream.NAME]` tables, each key overridden by
/// `PORTCULLIS_UPSTREAM_<NAME>_<KEY>` (NAME upper-cased, `-` as `_`), and providers named only
/// by variables. An issuer and a client id are required; an unknown variable is refused, so a
/// typo is reported.
fn upstream_providers(
    mut file: std::collections::BTreeMap<String, FileUpstream>,
    env: Vec<(String, String)>,
) -> Result<Vec<server::UpstreamProvider>, ConfigError> {
    const KEYS: [&str; 5] = [
        "_CLIENT_SECRET",
        "_CLIENT_ID",
        "_DISPLAY_NAME",
        "_ISSUER",
        "_SCOPES",
    ];
    let fail = |name: &str, message: String| ConfigError::Upstream {
        name: name.to_owned(),
        message,
    };
    for (var, value) in env {
        let Some(rest) = var.strip_prefix(UPSTREAM_ENV_PREFIX) else {
            continue;
        };
        let Some((upper, key)) = KEYS
            .iter()
            .find_map(|k| rest.strip_suffix(k).map(|name| (name, *k)))
            .filter(|(name, _)| !name.is_empty())
        else {
            return Err(fail(
                rest,
                format!(
                    "{var}: expected PORTCULLIS_UPSTREAM_<NAME>_ISSUER, _CLIENT_ID, _CLIENT_SECRET, _DISPLAY_NAME or _SCOPES"
                ),
            ));
        };
        if upper.bytes().any(|b| b.is_ascii_lowercase()) {
            return Err(fail(upper, format!("{var}: write the name in capitals")));
        }
        let name = upper.to_ascii_lowercase().replace('_', "-");
        let entry = file.entry(name).or_default();
        let slot = match key {
            "_ISSUER" => &mut entry.issuer,
            "_CLIENT_ID" => &mut entry.client_id,
            "_CLIENT_SECRET" => &mut entry.client_secret,
            "_DISPLAY_NAME" => &mut entry.display_name,
            _ => &mut entry.scopes,
        };
        *slot = Some(value);
    }
    let mut out = Vec::new();
    for (name, p) in file {
        if !server::UpstreamProvider::valid_name(&name) {
            return Err(fail(
                &name,
                "a name is 1 to 40 lower-case letters, digits and -".into(),
            ));
        }
        let issuer_raw = p
            .issuer
            .filter(|i| !i.trim().is_empty())
            .ok_or_else(|| fail(&name, "issuer is required".into()))?;
        let issuer = parse_issuer(&issuer_raw).map_err(|e| {
            let message = match e {
                ConfigError::Invalid { message, .. } => message,
                other => other.to_string(),
            };
            fail(&name, format!("issuer {message}"))
        })?;
        let client_id = p
            .client_id
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
            .ok_or_else(|| fail(&name, "client_id is required".into()))?;
        let display_name = match p.display_name {
            None => name.clone(),
            Some(d)
                if !d.trim().is_empty()
                    && d.trim().chars().count() <= 60
                    && !d.chars().any(char::is_control) =>
            {
                d.trim().to_owned()
            }
            Some(d) => {
                return Err(fail(
                    &name,
                    format!("display_name {d:?}: expected 1 to 60 printable characters"),
                ));
            }
        };
        let scopes: Vec<String> = p
            .scopes
            .as_deref()
            .unwrap_or(server::config::DEFAULT_UPSTREAM_SCOPES)
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if !scopes.iter().any(|s| s == "openid") {
            return Err(fail(&name, "scopes must include openid".into()));
        }
        if let Some(bad) = scopes.iter().find(|s| {
            !s.bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        }) {
            return Err(fail(&name, format!("scope {bad:?} is not a scope token")));
        }
        out.push(server::UpstreamProvider {
            name,
            issuer,
            client_id,
            client_secret: p
                .client_secret
                .filter(|s| !s.is_empty())
                .map(server::UpstreamSecret::new),
            display_name,
            scopes,
        });
    }
    Ok(out)
}

/// Mail: an SMTP server if one is named, else the outbox folder (beside the SQLite database).
fn mail_settings(
    smtp_url: Option<String>,
    from: Option<String>,
    outbox: Option<PathBuf>,
    database_url: &DatabaseUrl,
    issuer: &Url,
    brand: &str,
) -> Result<mail::MailSettings, ConfigError> {
    let outbox = outbox.unwrap_or_else(|| match database_url {
        DatabaseUrl::Sqlite(path) => path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("outbox"), |p| p.join("outbox")),
        DatabaseUrl::Postgres(_) => PathBuf::from("data/outbox"),
    });
    let mut settings = mail::MailSettings::outbox(outbox);
    if let Some(raw) = smtp_url.filter(|u| !u.is_empty()) {
        let url = mail::SmtpUrl::parse(&raw)
            .map_err(|e| invalid("PORTCULLIS_SMTP_URL", e.to_string()))?;
        settings.transport = mail::Transport::Smtp(url);
    }
    settings.from = match from {
        Some(from) => from,
        None => {
            let host = match issuer.host() {
                Some(url::Host::Domain(domain)) => domain,
                _ => "localhost",
            };
            // A name with specials would need quoting; the brand is quoted as a phrase.
            format!("\"{}\" <noreply@{host}>", brand.replace(['"', '\\'], ""))
        }
    };
    Ok(settings)
}

/// Domains of PORTCULLIS_SIGNUP_DOMAINS: lower-cased, without a leading `@` or `.`.
fn parse_domains(raw: &str) -> Result<Vec<String>, ConfigError> {
    raw.split([',', ' '])
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let d = d.trim_start_matches(['@', '.']).to_ascii_lowercase();
            let ok = d.contains('.')
                && d.split('.').all(|l| {
                    !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
            if ok {
                Ok(d)
            } else {
                Err(invalid(
                    "PORTCULLIS_SIGNUP_DOMAINS",
                    format!("{d:?} is not a domain name"),
                ))
            }
        })
        .collect()
}

/// The master key from the setting or its file; both is an error.
fn load_master_key(
    value: Option<String>,
    file: Option<PathBuf>,
) -> Result<Option<std::sync::Arc<gateway::MasterKey>>, ConfigError> {
    let raw = match (value, file) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "PORTCULLIS_MASTER_KEY",
                "give the key or a key file, not both",
            ));
        }
        (Some(v), None) => v,
        (None, Some(path)) => std::fs::read_to_string(&path).map_err(|e| {
            invalid(
                "PORTCULLIS_MASTER_KEY_FILE",
                format!("cannot read {}: {e}", path.display()),
            )
        })?,
        (None, None) => return Ok(None),
    };
    gateway::MasterKey::parse(&raw)
        .map(|k| Some(std::sync::Arc::new(k)))
        .map_err(|e| invalid("PORTCULLIS_MASTER_KEY", e))
}

/// A duration setting: the default when absent, else a value within `range`.
fn seconds(
    setting: &'static str,
    value: Option<i64>,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ConfigError> {
    match value {
        None => Ok(default),
        Some(n) if range.contains(&n) => Ok(n),
        Some(n) => Err(invalid(
            setting,
            format!("{n} is outside {}..={} seconds", range.start(), range.end()),
        )),
    }
}

/// A number within `range` (`default` when not given), else an error naming the setting.
fn within<T: PartialOrd + std::fmt::Display + Copy>(
    setting: &'static str,
    value: Option<T>,
    (default, range): (T, std::ops::RangeInclusive<T>),
    unit: &str,
) -> Result<T, ConfigError> {
    match value {
        None => Ok(default),
        Some(n) if range.contains(&n) => Ok(n),
        Some(n) => Err(invalid(
            setting,
            format!("{n} is outside {}..={} {unit}", range.start(), range.end()),
        )),
    }
}

/// The trusted proxies, or the private ranges for the `PORTCULLIS_TRUST_PROXY` alias; both
/// given is an error (which one was meant is not ours to guess).
fn parse_trusted_proxies(
    alias: bool,
    list: Option<&str>,
) -> Result<server::forwarded::TrustedProxies, ConfigError> {
    use server::forwarded::TrustedProxies;
    match (alias, list) {
        (true, Some(_)) => Err(invalid(
            "PORTCULLIS_TRUST_PROXY",
            "give PORTCULLIS_TRUSTED_PROXIES or PORTCULLIS_TRUST_PROXY, not both",
        )),
        (true, None) => Ok(TrustedProxies::private_ranges()),
        (false, None) => Ok(TrustedProxies::default()),
        (false, Some(raw)) => {
            TrustedProxies::parse(raw).map_err(|e| invalid("PORTCULLIS_TRUSTED_PROXIES", e))
        }
    }
}

/// Scope names: RFC 6749 §3.3 characters, space-separated, no duplicates.
fn parse_scopes(raw: &str) -> Result<Vec<String>, ConfigError> {
    let mut out: Vec<String> = Vec::new();
    for token in raw.split(' ').filter(|t| !t.is_empty()) {
        if !registration::is_scope_token(token) {
            return Err(invalid(
                "PORTCULLIS_SCOPES",
                format!("{token:?} has characters a scope cannot have"),
            ));
        }
        if token == "*" {
            return Err(invalid(
                "PORTCULLIS_SCOPES",
                "\"*\" is for organization API keys only; list the API scopes an application may ask for (e.g. org:read)",
            ));
        }
        if !out.iter().any(|s| s == token) {
            out.push(token.to_owned());
        }
    }
    Ok(out)
}

fn read_file(path: &Path) -> Result<FileSettings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Malformed {
        path: path.to_path_buf(),
        // toml's message spans several lines with a caret; one line is enough here.
        message: e.message().to_owned(),
    })
}

fn parse_bind(raw: &str) -> Result<String, ConfigError> {
    let raw = raw.trim();
    if raw.parse::<SocketAddr>().is_ok() {
        return Ok(raw.to_owned());
    }
    match raw.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
            match raw.to_socket_addrs().map(|mut addrs| addrs.next()) {
                Ok(Some(_)) => Ok(raw.to_owned()),
                _ => Err(invalid(
                    "PORTCULLIS_BIND",
                    format!("{raw:?}: the host does not resolve"),
                )),
            }
        }
        _ => Err(invalid(
            "PORTCULLIS_BIND",
            format!("{raw:?}: expected HOST:PORT, e.g. 127.0.0.1:8080"),
        )),
    }
}

/// An issuer is an `https` URL (or `http` for development) with a host, and no query or
/// fragment (OpenID Connect Discovery 1.0 §3, RFC 8414 §2).
fn parse_issuer(raw: &str) -> Result<Url, ConfigError> {
    const SETTING: &str = "PORTCULLIS_ISSUER";
    let url = Url::parse(raw.trim()).map_err(|e| invalid(SETTING, format!("{raw:?}: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(invalid(
            SETTING,
            format!("{raw:?}: the scheme must be https or http"),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(SETTING, format!("{raw:?}: a host is required")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            SETTING,
            format!("{raw:?}: no query or fragment allowed"),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            SETTING,
            format!("{raw:?}: no user information allowed"),
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl FnOnce(&mut SettingsArgs)) -> Result<Config, ConfigError> {
        let mut args = SettingsArgs::default();
        f(&mut args);
        Config::from_args(args)
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = with(|_| {}).expect("defaults");
        let s = &c.server;
        assert_eq!(s.bind, "127.0.0.1:8080");
        assert_eq!(s.issuer_str(), "http://127.0.0.1:8080");
        assert_eq!(s.default_audience, "http://127.0.0.1:8080");
        assert_eq!(
            s.database_url,
            DatabaseUrl::Sqlite("data/portcullis.db".into())
        );
        assert_eq!(s.scopes, ["openid", "profile", "email", "offline_access"]);
        assert_eq!(c.log_format, LogFormat::Human);
        assert_eq!(c.log_level, "info");
        assert_eq!(c.database_pool_size, 16);
        assert_eq!(s.shutdown_timeout, 30);
        assert_eq!((s.key_rotation_days, s.key_prepublish_hours), (0, 24));
    }

    #[test]
    fn key_rotation_needs_a_pre_publication_shorter_than_its_period() {
        let s = with(|a| a.key_rotation_days = Some(30)).expect("ok").server;
        assert_eq!(s.key_rotation().every, 30 * 86_400);
        assert_eq!(s.key_rotation().prepublish, 24 * 3_600);
        for (days, hours) in [(1, 24), (1, 48), (-1, 24), (3651, 24), (10, -1), (10, 8761)] {
            let err = with(|a| {
                a.key_rotation_days = Some(days);
                a.key_prepublish_hours = Some(hours);
            })
            .expect_err("refused")
            .to_string();
            assert!(
                err.contains("PORTCULLIS_KEY_"),
                "{days} days, {hours} hours: {err}"
            );
        }
        assert!(
            with(|a| a.key_prepublish_hours = Some(1000)).is_ok(),
            "off: any pre-publication"
        );
    }

    #[test]
    fn bad_values_name_the_setting() {
        type Case = (&'static str, fn(&mut SettingsArgs));
        let cases: [Case; 10] = [
            ("PORTCULLIS_ISSUER", |a| a.issuer = Some("not a url".into())),
            ("PORTCULLIS_ISSUER", |a| {
                a.issuer = Some("ftp://x.example".into())
            }),
            ("PORTCULLIS_ISSUER", |a| {
                a.issuer = Some("https://x.example/?a=b".into())
            }),
            ("PORTCULLIS_ISSUER", |a| {
                a.issuer = Some("https://x.example/#f".into())
            }),
            ("PORTCULLIS_BIND", |a| a.bind = Some("8080".into())),
            ("PORTCULLIS_DATABASE_URL", |a| {
                a.database_url = Some("mysql://x".into())
            }),
            ("PORTCULLIS_LOG_FORMAT", |a| {
                a.log_format = Some("xml".into())
            }),
            ("PORTCULLIS_DATABASE_POOL_SIZE", |a| {
                a.database_pool_size = Some(0)
            }),
            ("PORTCULLIS_TRUSTED_PROXIES", |a| {
                a.trusted_proxies = Some("10.0.0.0/8, proxy.internal".into())
            }),
            ("PORTCULLIS_TRUST_PROXY", |a| {
                a.trust_proxy = Some(true);
                a.trusted_proxies = Some("10.0.0.0/8".into());
            }),
        ];
        for (setting, set) in cases {
            let err = with(set).expect_err(setting).to_string();
            assert!(err.contains(setting), "{err:?} should name {setting}");
        }
    }

    #[test]
    fn trusted_proxies_from_the_list_the_alias_or_the_file() {
        let none = with(|_| {}).expect("defaults");
        assert!(none.server.trusted_proxies.is_empty() && !none.trust_proxy);
        let listed =
            with(|a| a.trusted_proxies = Some("10.0.0.0/8 ::1,192.0.2.7".into())).expect("list");
        assert_eq!(
            listed.server.trusted_proxies.to_string(),
            "10.0.0.0/8 ::1/128 192.0.2.7/32"
        );
        let alias = with(|a| a.trust_proxy = Some(true)).expect("alias");
        assert!(alias.trust_proxy, "serve warns about the alias");
        assert_eq!(
            alias.server.trusted_proxies,
            server::forwarded::TrustedProxies::private_ranges()
        );

        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("portcullis.toml");
        std::fs::write(&path, "trusted_proxies = \"172.28.0.0/16\"\n").expect("write");
        let args = SettingsArgs {
            config: Some(path),
            ..SettingsArgs::default()
        };
        let s = Config::load(&args).expect("load").server;
        assert_eq!(s.trusted_proxies.to_string(), "172.28.0.0/16");
    }

    #[test]
    fn issuer_keeps_a_path_but_drops_the_trailing_slash() {
        let s = with(|a| a.issuer = Some("https://id.example.com/tenant/".into()))
            .expect("ok")
            .server;
        assert_eq!(s.issuer_str(), "https://id.example.com/tenant");
        assert_eq!(s.default_audience, "https://id.example.com/tenant");
    }

    #[test]
    fn file_values_sit_under_flags_and_unknown_keys_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("portcullis.toml");
        std::fs::write(
            &path,
            "bind = \"127.0.0.1:9999\"\nissuer = \"https://file.example\"\n",
        )
        .expect("write");
        let args = SettingsArgs {
            config: Some(path.clone()),
            issuer: Some("https://flag.example".into()),
            ..SettingsArgs::default()
        };
        let s = Config::load(&args).expect("load").server;
        assert_eq!(s.bind, "127.0.0.1:9999");
        assert_eq!(s.issuer_str(), "https://flag.example");

        std::fs::write(&path, "bnd = \"x\"\n").expect("write");
        let err = Config::load(&args).expect_err("typo").to_string();
        assert!(err.contains("bnd"), "{err}");

        let missing = SettingsArgs {
            config: Some(dir.path().join("absent.toml")),
            ..SettingsArgs::default()
        };
        assert!(matches!(
            Config::load(&missing),
            Err(ConfigError::Unreadable { .. })
        ));
    }

    fn upstream(toml: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let file: FileSettings = toml::from_str(toml).expect("toml");
        let env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::resolve(SettingsArgs::default(), file, env)
    }

    #[test]
    fn upstream_providers_come_from_the_file_and_the_environment() {
        let c = upstream(
            "[upstream.gitlab]\nissuer = \"https://gitlab.com\"\nclient_id = \"abc\"\nclient_secret = \"file-secret\"\ndisplay_name = \"GitLab\"\n",
            &[
                ("PORTCULLIS_UPSTREAM_GITLAB_CLIENT_SECRET", "env-secret"),
                ("PORTCULLIS_UPSTREAM_MY_CORP_ISSUER", "https://id.corp.example/"),
                ("PORTCULLIS_UPSTREAM_MY_CORP_CLIENT_ID", "portcullis"),
                ("PORTCULLIS_UPSTREAM_MY_CORP_SCOPES", "openid email groups"),
            ],
        )
        .expect("providers");
        let p = &c.server.upstream;
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "gitlab");
        assert_eq!(p[0].display_name, "GitLab");
        assert_eq!(p[0].issuer.as_str(), "https://gitlab.com/");
        assert_eq!(p[0].scopes, ["openid", "email", "profile"]);
        assert_eq!(
            p[0].client_secret.as_ref().map(|s| s.expose()),
            Some("env-secret"),
            "the environment wins over the file"
        );
        assert_eq!(p[1].name, "my-corp");
        assert_eq!(p[1].display_name, "my-corp");
        assert_eq!(p[1].client_id, "portcullis");
        assert!(p[1].client_secret.is_none());
        assert_eq!(p[1].scopes, ["openid", "email", "groups"]);
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("env-secret") && !debug.contains("file-secret"),
            "{debug}"
        );
    }

    #[test]
    fn an_upstream_provider_without_issuer_or_client_id_is_a_clear_error() {
        for (toml, env, expected) in [
            (
                "[upstream.corp]\nclient_id = \"x\"\n",
                vec![],
                "issuer is required",
            ),
            (
                "[upstream.corp]\nissuer = \"https://id.example\"\n",
                vec![],
                "client_id is required",
            ),
            (
                "",
                vec![("PORTCULLIS_UPSTREAM_CORP_ISSUER", "https://id.example")],
                "client_id is required",
            ),
            (
                "[upstream.corp]\nissuer = \"ftp://id.example\"\nclient_id = \"x\"\n",
                vec![],
                "scheme",
            ),
            (
                "[upstream.corp]\nissuer = \"https://id.example\"\nclient_id = \"x\"\nscopes = \"email\"\n",
                vec![],
                "openid",
            ),
            (
                "[upstream.Corp]\nissuer = \"https://id.example\"\nclient_id = \"x\"\n",
                vec![],
                "lower-case",
            ),
            (
                "",
                vec![("PORTCULLIS_UPSTREAM_CORP_ISSUR", "https://id.example")],
                "PORTCULLIS_UPSTREAM_CORP_ISSUR",
            ),
        ] {
            let err = upstream(toml, &env).expect_err(expected).to_string();
            assert!(err.contains(expected), "{err}");
            assert!(err.contains("upstream provider"), "{err}");
        }
        let typo = toml::from_str::<FileSettings>(
            "[upstream.corp]\nissuer = \"https://x\"\nclient = \"x\"\n",
        );
        assert!(typo.is_err(), "unknown keys of a provider are refused");
    }

    #[test]
    fn signup_mode_is_open_invite_or_closed() {
        assert_eq!(
            with(|_| {}).expect("default").server.signup.mode,
            accounts::SignupMode::Open
        );
        for (raw, mode) in [
            ("open", accounts::SignupMode::Open),
            ("invite", accounts::SignupMode::Invite),
            ("closed", accounts::SignupMode::Closed),
        ] {
            let c = with(|a| a.signup = Some(raw.into())).expect(raw);
            assert_eq!(c.server.signup.mode, mode, "{raw}");
        }
        for bad in ["Open", "invites", "", "none"] {
            let err = with(|a| a.signup = Some(bad.into()))
                .expect_err(bad)
                .to_string();
            assert!(
                err.contains("PORTCULLIS_SIGNUP") && err.contains("open, invite or closed"),
                "{err}"
            );
        }
    }

    #[test]
    fn signup_domains_are_a_list_of_domain_names() {
        assert!(
            with(|_| {})
                .expect("default")
                .server
                .signup
                .domains
                .is_empty()
        );
        let c = with(|a| {
            a.signup_domains = Some(" Example.com,@corp.example  .eu.example.org,, ".into());
        })
        .expect("a list");
        assert_eq!(
            c.server.signup.domains,
            ["example.com", "corp.example", "eu.example.org"]
        );
        assert!(
            c.server.signup.admits("ada@sub.example.com").is_ok()
                && c.server.signup.admits("eve@evil.example").is_err(),
            "the parsed list is the one sign-up checks"
        );
        for bad in [
            "example",
            "exa mple.com;drop",
            "ex_ample.com",
            "a..b.com",
            "user@example.com",
            "*.example.com",
            "https://example.com",
        ] {
            let err = with(|a| a.signup_domains = Some(bad.into()))
                .expect_err(bad)
                .to_string();
            assert!(err.contains("PORTCULLIS_SIGNUP_DOMAINS"), "{bad}: {err}");
        }
    }

    #[test]
    fn required_verification_is_off_unless_asked_for() {
        assert!(!with(|_| {}).expect("default").server.require_verified_email);
        let on = with(|a| a.require_verified_email = Some(true)).expect("on");
        assert!(on.server.require_verified_email);

        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("portcullis.toml");
        std::fs::write(
            &path,
            "require_verified_email = true\nsignup = \"invite\"\n",
        )
        .expect("write");
        let args = SettingsArgs {
            config: Some(path.clone()),
            ..SettingsArgs::default()
        };
        let s = Config::load(&args).expect("load").server;
        assert!(s.require_verified_email);
        assert_eq!(s.signup.mode, accounts::SignupMode::Invite);
        // A flag wins over the file.
        let args = SettingsArgs {
            config: Some(path),
            require_verified_email: Some(false),
            ..SettingsArgs::default()
        };
        assert!(
            !Config::load(&args)
                .expect("load")
                .server
                .require_verified_email
        );
    }

    #[test]
    fn smtp_url_becomes_the_smtp_transport() {
        let c = with(|a| {
            a.smtp_url = Some("smtps://alice:p%40ss@Mail.Example.com".into());
        })
        .expect("smtps");
        let mail::Transport::Smtp(url) = &c.server.mail.transport else {
            panic!("expected SMTP: {:?}", c.server.mail.transport);
        };
        assert_eq!(url.host(), "mail.example.com");
        assert_eq!(url.port(), mail::SUBMISSIONS_PORT);
        assert_eq!(url.tls(), mail::TlsMode::Implicit);
        assert_eq!(url.user(), Some("alice"));
        let c =
            with(|a| a.smtp_url = Some("smtp://127.0.0.1:2525?tls=required".into())).expect("smtp");
        let mail::Transport::Smtp(url) = &c.server.mail.transport else {
            panic!("expected SMTP: {:?}", c.server.mail.transport);
        };
        assert_eq!((url.port(), url.tls()), (2525, mail::TlsMode::Required));
        // Empty is the same as unset: the outbox.
        let c = with(|a| a.smtp_url = Some(String::new())).expect("empty");
        assert!(matches!(
            c.server.mail.transport,
            mail::Transport::Outbox(_)
        ));
    }

    #[test]
    fn a_bad_smtp_url_names_the_setting_and_never_its_password() {
        let password = "Hunter2-Secret";
        for bad in [
            format!("http://alice:{password}@mail.example.com"),
            format!("smtp://alice:{password}@mail.example.com/path"),
            format!("smtp://alice:{password}@mail.example.com?tls=sometimes"),
            format!("smtps://alice:{password}@mail.example.com?tls=required"),
            format!("smtp://alice:{password}@mail.example.com:99999"),
            format!("smtp://:{password}@mail.example.com"),
            format!("smtp://alice:{password}@[::1"),
            format!("smtp://alice:{password}@mail.example.com#frag"),
        ] {
            let err = with(|a| a.smtp_url = Some(bad.clone()))
                .expect_err(&bad.replace(password, "***"))
                .to_string();
            assert!(err.contains("PORTCULLIS_SMTP_URL"), "{err}");
            assert!(!err.contains(password), "the password leaked: {err}");
        }
    }

    #[test]
    fn encryption_keys_come_from_the_setting_or_a_key_file_made_beside_the_sqlite_database() {
        let entry = primitives::seal::KeyRing::generate_entry("k1");
        let key = entry
            .split_once(':')
            .map(|(_, k)| k.to_owned())
            .unwrap_or_default();
        let given = with(|a| a.encryption_keys = Some(entry.clone())).expect("keys");
        assert_eq!(
            given
                .server
                .encryption_keys
                .as_ref()
                .map(|r| r.sealing_id()),
            Some("k1")
        );
        assert_eq!(given.encryption_keys_file, None);
        assert!(
            !format!("{given:?}").contains(&key),
            "the key is not in the Debug"
        );

        let err = with(|a| a.encryption_keys = Some(format!("k1:{}", "0".repeat(10))))
            .expect_err("short");
        assert!(
            err.to_string().contains("PORTCULLIS_ENCRYPTION_KEYS"),
            "{err}"
        );
        let err = with(|a| {
            a.encryption_keys = Some(entry.clone());
            a.encryption_keys_file = Some("keys".into());
        })
        .expect_err("both");
        assert!(err.to_string().contains("not both"), "{err}");

        // SQLite: a key file beside the database, made on first start (0600), read after.
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("id.db");
        let mut config =
            with(|a| a.database_url = Some(format!("sqlite://{}", db.display()))).expect("sqlite");
        let file = dir.path().join("encryption.keys");
        assert_eq!(config.encryption_keys_file.as_deref(), Some(file.as_path()));
        assert!(config.server.encryption_keys.is_none());
        assert_eq!(
            config.load_encryption_keys().expect("made").as_deref(),
            Some(file.as_path())
        );
        let sealed = config
            .server
            .encryption_keys
            .as_ref()
            .expect("ring")
            .seal(b"s", "c");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&file).expect("file").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let mut again =
            with(|a| a.database_url = Some(format!("sqlite://{}", db.display()))).expect("sqlite");
        assert_eq!(
            again.load_encryption_keys().expect("read"),
            None,
            "read, not made again"
        );
        assert_eq!(
            again
                .server
                .encryption_keys
                .as_ref()
                .expect("ring")
                .open(&sealed, "c")
                .expect("opens"),
            b"s"
        );

        // PostgreSQL: no file, no keys, unless given.
        let mut pg =
            with(|a| a.database_url = Some("postgres://u@db.example/p".into())).expect("pg");
        assert_eq!(pg.encryption_keys_file, None);
        assert_eq!(pg.load_encryption_keys().expect("nothing"), None);
        assert!(pg.server.encryption_keys.is_none());
    }

    #[test]
    fn the_smtp_password_is_not_in_the_configs_debug() {
        let c = with(|a| {
            a.smtp_url = Some("smtp://alice:Hunter2-Secret@mail.example.com".into());
            a.database_url = Some("postgres://portcullis:Pg-Secret-9@db.example/portcullis".into());
            a.master_key = Some("00".repeat(32));
        })
        .expect("settings");
        let debug = format!("{c:?}");
        assert!(debug.contains("mail.example.com"), "{debug}");
        assert!(!debug.contains("Hunter2-Secret"), "{debug}");
        assert!(!debug.contains("Pg-Secret-9"), "{debug}");
        assert!(!debug.contains(&"00".repeat(32)), "{debug}");
    }

    #[test]
    fn mail_from_defaults_to_the_brand_at_the_issuers_host() {
        let from = |issuer: &str| {
            with(|a| a.issuer = Some(issuer.into()))
                .expect(issuer)
                .server
                .mail
                .from
        };
        assert_eq!(
            from("https://id.example.com"),
            "\"Portcullis\" <noreply@id.example.com>"
        );
        assert_eq!(
            from("https://ID.Example.com:8443/tenant"),
            "\"Portcullis\" <noreply@id.example.com>"
        );
        assert_eq!(
            from("http://127.0.0.1:8080"),
            "\"Portcullis\" <noreply@localhost>"
        );
        assert_eq!(
            from("http://[::1]:8080"),
            "\"Portcullis\" <noreply@localhost>"
        );
        assert_eq!(
            with(|_| {}).expect("default").server.mail.from,
            "\"Portcullis\" <noreply@localhost>"
        );
        let branded = with(|a| {
            a.issuer = Some("https://id.example.com".into());
            a.brand_name = Some("Acme \"ID\"".into());
        })
        .expect("brand");
        assert_eq!(
            branded.server.mail.from,
            "\"Acme ID\" <noreply@id.example.com>"
        );
        let given =
            with(|a| a.mail_from = Some("Accounts <accounts@mail.example>".into())).expect("given");
        assert_eq!(given.server.mail.from, "Accounts <accounts@mail.example>");
    }

    /// The default From is one lettre takes: a From it refused would make every letter fail.
    #[test]
    fn the_mailer_accepts_the_default_from() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (issuer, brand) in [
            ("https://id.example.com", None),
            ("http://127.0.0.1:8080", None),
            ("http://[::1]:8080", None),
            ("http://localhost:8080", None),
            ("https://id.example.com", Some("Acme, Inc. (ID)")),
            ("https://id.example.com", Some("O'Brien & Söhne <ID>")),
            ("https://id.example.com", Some("Back\\slash \"quoted\"")),
        ] {
            let c = with(|a| {
                a.issuer = Some(issuer.into());
                a.brand_name = brand.map(str::to_owned);
                a.mail_outbox = Some(dir.path().join("outbox"));
            })
            .expect(issuer);
            let from = c.server.mail.from.clone();
            if let Err(e) = c.server.mail.check() {
                panic!("{issuer} {brand:?}: the default From {from:?} is refused: {e}");
            }
        }
    }

    #[test]
    fn the_outbox_sits_beside_the_sqlite_file_or_in_data() {
        let outbox =
            |f: fn(&mut SettingsArgs)| match with(f).expect("settings").server.mail.transport {
                mail::Transport::Outbox(dir) => dir,
                other => panic!("expected the outbox: {other:?}"),
            };
        assert_eq!(outbox(|_| {}), PathBuf::from("data/outbox"));
        assert_eq!(
            outbox(|a| a.database_url = Some("sqlite:///var/lib/portcullis/id.db".into())),
            PathBuf::from("/var/lib/portcullis/outbox")
        );
        assert_eq!(
            outbox(|a| a.database_url = Some("sqlite://portcullis.db".into())),
            PathBuf::from("outbox")
        );
        assert_eq!(
            outbox(|a| a.database_url = Some("postgres://u:p@db.example/portcullis".into())),
            PathBuf::from("data/outbox")
        );
        assert_eq!(
            outbox(|a| a.mail_outbox = Some("/srv/mail".into())),
            PathBuf::from("/srv/mail")
        );
    }

    #[test]
    fn brand_name_is_trimmed_and_bounded() {
        assert_eq!(
            with(|_| {}).expect("default").server.brand_name,
            "Portcullis"
        );
        let c = with(|a| a.brand_name = Some("  Acme ID \t".into())).expect("trimmed");
        assert_eq!(c.server.brand_name, "Acme ID");
        let sixty = "é".repeat(60);
        let c = with(|a| a.brand_name = Some(sixty.clone())).expect("60 characters");
        assert_eq!(c.server.brand_name, sixty);
        for bad in [
            String::new(),
            "   ".to_owned(),
            "x".repeat(61),
            "Acme\nID".to_owned(),
        ] {
            let err = with(|a| a.brand_name = Some(bad.clone()))
                .expect_err(&bad)
                .to_string();
            assert!(err.contains("PORTCULLIS_BRAND_NAME"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn brand_colour_and_logo_are_checked_at_start() {
        let c = with(|a| {
            a.brand_primary_color = Some("#064".into());
            a.brand_logo_url = Some("https://cdn.example/logo.svg".into());
        })
        .expect("a colour and a logo");
        assert_eq!(
            c.server.brand_primary_color.as_ref().map(|c| c.as_str()),
            Some("#064")
        );
        assert_eq!(
            c.server.brand_logo_url.as_deref(),
            Some("https://cdn.example/logo.svg")
        );
        let c = with(|a| a.brand_logo_url = Some("/static/favicon.svg".into())).expect("a path");
        assert_eq!(
            c.server.brand_logo_url.as_deref(),
            Some("/static/favicon.svg")
        );
        for bad in [
            "red",
            "#12345",
            "#fff; color: red",
            "0a7",
            "#fc0",
            "#ffffff",
        ] {
            let err = with(|a| a.brand_primary_color = Some(bad.into()))
                .expect_err(bad)
                .to_string();
            assert!(
                err.contains("PORTCULLIS_BRAND_PRIMARY_COLOR"),
                "{bad:?}: {err}"
            );
        }
        for bad in [
            "http://cdn.example/logo.svg",
            "//evil.example/logo.svg",
            "javascript:alert(1)",
            "logo.svg",
        ] {
            let err = with(|a| a.brand_logo_url = Some(bad.into()))
                .expect_err(bad)
                .to_string();
            assert!(err.contains("PORTCULLIS_BRAND_LOGO_URL"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn a_theme_template_that_does_not_compile_stops_the_start_with_its_file_and_line() {
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::write(
            dir.path().join("consent.html"),
            "<p>one</p>\n<p>{{ client_name }</p>\n",
        )
        .expect("a theme template");
        let err = with(|a| a.theme_dir = Some(dir.path().to_owned()))
            .expect_err("a broken theme")
            .to_string();
        assert!(err.contains("PORTCULLIS_THEME_DIR"), "{err}");
        assert!(err.contains("consent.html, line 2"), "{err}");
    }
}
