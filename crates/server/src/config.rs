//! The server's settings: typed, valid by construction, with the documented defaults.
//!
//! Reading them (flags, `PORTCULLIS_*` environment variables, `portcullis.toml`) and checking
//! the text is the binary's job (`crates/portcullis`, `settings.rs`): the server is handed a
//! [`Settings`] value and never reads the environment or a file itself. Tests build one from
//! [`Settings::default`] and change the fields they need.

use std::sync::Arc;

use store::DatabaseUrl;
use tokens::SigningAlg;
use url::Url;

use crate::forwarded::TrustedProxies;
use crate::ratelimit::Limits;

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_ISSUER: &str = "http://127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/portcullis.db";
/// The scopes clients may register when `PORTCULLIS_SCOPES` is not given.
pub const DEFAULT_SCOPES: &str = "openid profile email offline_access";

/// Who may register clients over RFC 7591.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationPolicy {
    /// Anyone.
    Open,
    /// Callers presenting an initial access token.
    Token,
    /// Nobody (operators use `portcullis client create`).
    Closed,
}

/// Which Client ID Metadata Documents are used (`PORTCULLIS_CIMD`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CimdPolicy {
    /// Any host's (the default: MCP clients identify themselves so).
    All,
    /// None: a URL client id is an unknown client, and discovery does not offer them.
    None,
    /// Only documents on these hosts (lower case, exact).
    Hosts(Vec<String>),
}

impl CimdPolicy {
    /// `all`, `none`, or a comma-separated list of host names.
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim() {
            "all" => Ok(Self::All),
            "none" => Ok(Self::None),
            list => {
                let hosts: Vec<String> = list
                    .split(',')
                    .map(|h| h.trim().to_ascii_lowercase())
                    .filter(|h| !h.is_empty())
                    .collect();
                if hosts.is_empty() {
                    return Err("give all, none, or a comma-separated list of hosts".into());
                }
                if let Some(bad) = hosts
                    .iter()
                    .find(|h| url::Host::parse(h).is_err() || h.contains(['/', ':', '@']))
                {
                    return Err(format!("{bad:?} is not a host name"));
                }
                Ok(Self::Hosts(hosts))
            }
        }
    }

    pub fn enabled(&self) -> bool {
        *self != Self::None
    }

    /// Whether a document on `host` may describe a client.
    pub fn allows(&self, host: &str) -> bool {
        match self {
            Self::All => true,
            Self::None => false,
            Self::Hosts(hosts) => hosts.iter().any(|h| h.eq_ignore_ascii_case(host)),
        }
    }
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// What to listen on, as given (host names are resolved when binding).
    pub bind: String,
    /// The issuer URL without a trailing slash. Set it with [`Settings::set_issuer`], which
    /// keeps the default audience in step.
    pub issuer: Url,
    pub database_url: DatabaseUrl,
    pub workers: usize,
    pub shutdown_timeout: u64,
    pub access_token_ttl: i64,
    /// Lifetime cap of tokens from a token exchange, seconds (`PORTCULLIS_EXCHANGE_TOKEN_TTL`);
    /// a token never outlives its subject token either.
    pub exchange_token_ttl: i64,
    pub access_token_alg: SigningAlg,
    pub default_audience: String,
    pub registration: RegistrationPolicy,
    pub scopes: Vec<String>,
    pub keys_refresh: i64,
    /// Days a signing key signs before a successor takes over (`PORTCULLIS_KEY_ROTATION_DAYS`);
    /// 0: no scheduled rotation.
    pub key_rotation_days: i64,
    /// Hours a successor is published before it signs (`PORTCULLIS_KEY_PREPUBLISH_HOURS`).
    pub key_prepublish_hours: i64,
    pub session_ttl: i64,
    pub session_idle_timeout: i64,
    pub refresh_token_ttl: i64,
    pub refresh_grace: i64,
    pub password_grant: bool,
    /// How old a DPoP proof's `iat` may be, seconds (`PORTCULLIS_DPOP_MAX_AGE`); a proof is
    /// remembered this long (and a few seconds more) against replay.
    pub dpop_max_age: i64,
    /// Whether DPoP proofs must carry a server nonce (`PORTCULLIS_DPOP_NONCE`, RFC 9449 §8).
    pub dpop_nonce: bool,
    /// `PORTCULLIS_RESOURCE_STRICT`: once any protected resource is registered, a `resource`
    /// that is neither registered nor one of the server's own APIs is `invalid_target`.
    pub resource_strict: bool,
    /// `PORTCULLIS_PAR_REQUIRED`: authorization requests are accepted only as pushed ones
    /// (RFC 9126 `require_pushed_authorization_requests`).
    pub par_required: bool,
    pub api_key_cache: i64,
    pub client_cache: i64,
    pub rate_limits: Limits,
    /// The gateway's master key; `None` turns the gateway off.
    pub master_key: Option<Arc<gateway::MasterKey>>,
    pub gateway_allow_private: bool,
    pub gateway_timeout: i64,
    pub gateway_max_body: u64,
    /// Which URL client ids are resolved by their metadata document (`PORTCULLIS_CIMD`).
    pub cimd: CimdPolicy,
    /// Bounds on how long a fetched metadata document is kept, whatever its caching headers
    /// say (`PORTCULLIS_CIMD_CACHE_MIN`, `PORTCULLIS_CIMD_CACHE_MAX`, seconds).
    pub cimd_cache_min: i64,
    pub cimd_cache_max: i64,
    /// How long fetching a metadata document may take, in milliseconds
    /// (`PORTCULLIS_CIMD_TIMEOUT_MS`).
    pub cimd_timeout_ms: u64,
    /// Lets `http://127.0.0.1` (and `[::1]`, `localhost`) documents through, and only those
    /// loopback addresses besides public ones (`PORTCULLIS_CIMD_ALLOW_LOOPBACK`): for tests,
    /// never the default.
    pub cimd_allow_loopback: bool,
    /// How many times a back-channel logout token is POSTed before its delivery is marked
    /// failed (`PORTCULLIS_BACKCHANNEL_LOGOUT_ATTEMPTS`).
    pub backchannel_logout_attempts: u32,
    /// How long one such POST may take, in milliseconds
    /// (`PORTCULLIS_BACKCHANNEL_LOGOUT_TIMEOUT_MS`).
    pub backchannel_logout_timeout_ms: u64,
    /// Lets clients register `http` loopback logout URIs, and lets deliveries reach loopback
    /// addresses (and only those besides public ones)
    /// (`PORTCULLIS_BACKCHANNEL_LOGOUT_ALLOW_LOOPBACK`): for development and tests, never the
    /// default.
    pub backchannel_logout_allow_loopback: bool,
    /// Whose forwarding headers are believed.
    pub trusted_proxies: TrustedProxies,
    /// Who may make an account themselves (`PORTCULLIS_SIGNUP`, `PORTCULLIS_SIGNUP_DOMAINS`).
    pub signup: accounts::SignupPolicy,
    /// Whether signing in needs a verified address (`PORTCULLIS_REQUIRE_VERIFIED_EMAIL`).
    pub require_verified_email: bool,
    /// How mail leaves: an SMTP server (`PORTCULLIS_SMTP_URL`, `PORTCULLIS_MAIL_FROM`) or,
    /// by default, the outbox folder beside the database.
    pub mail: mail::MailSettings,
    /// The product's name in pages and mail (`PORTCULLIS_BRAND_NAME`).
    pub brand_name: String,
    /// The logo every page shows (`PORTCULLIS_BRAND_LOGO_URL`): an https URL or a path here.
    pub brand_logo_url: Option<String>,
    /// The pages' primary colour (`PORTCULLIS_BRAND_PRIMARY_COLOR`), served in `/brand.css`.
    pub brand_primary_color: Option<crate::theme::Color>,
    /// The operator's templates and stylesheet (`PORTCULLIS_THEME_DIR`), compiled at start.
    pub theme: Option<Arc<crate::theme::Theme>>,
    /// The keys values sealed at rest (TOTP secrets) are sealed under
    /// (`PORTCULLIS_ENCRYPTION_KEYS`); `None` leaves TOTP unavailable.
    pub encryption_keys: Option<Arc<primitives::seal::KeyRing>>,
    /// OpenID providers people may sign in with (`[upstream.NAME]`), in the order the
    /// sign-in page lists them.
    pub upstream: Vec<UpstreamProvider>,
}

/// The scopes asked of an upstream provider when `scopes` is not given.
pub const DEFAULT_UPSTREAM_SCOPES: &str = "openid email profile";

/// An upstream OpenID provider (`[upstream.NAME]`, `PORTCULLIS_UPSTREAM_<NAME>_*`).
#[derive(Debug, Clone)]
pub struct UpstreamProvider {
    /// Lower-case letters, digits and `-`: the path `/login/upstream/NAME`.
    pub name: String,
    /// The provider's issuer: discovery is at `<issuer>/.well-known/openid-configuration`, and
    /// ID tokens must name it.
    pub issuer: Url,
    pub client_id: String,
    /// `None` for a public client (PKCE alone).
    pub client_secret: Option<UpstreamSecret>,
    /// "Sign in with DISPLAY_NAME".
    pub display_name: String,
    /// What is asked for; always holds `openid`.
    pub scopes: Vec<String>,
}

/// A client secret at an upstream provider: `Debug` prints nothing of it.
#[derive(Clone)]
pub struct UpstreamSecret(String);

impl UpstreamSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for UpstreamSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UpstreamSecret(***)")
    }
}

impl UpstreamProvider {
    /// Whether `name` may name a provider: 1 to 40 lower-case letters, digits and `-`.
    pub fn valid_name(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= 40
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    }
}

impl Default for Settings {
    /// The documented defaults (`portcullis --help`, docs/configuration.md).
    fn default() -> Self {
        let issuer = Url::parse(DEFAULT_ISSUER).expect("DEFAULT_ISSUER is a URL");
        Self {
            bind: DEFAULT_BIND.into(),
            default_audience: DEFAULT_ISSUER.into(),
            issuer,
            database_url: DatabaseUrl::Sqlite("data/portcullis.db".into()),
            workers: std::thread::available_parallelism().map_or(2, usize::from),
            shutdown_timeout: 30,
            access_token_ttl: 3600,
            exchange_token_ttl: 300,
            access_token_alg: SigningAlg::Es256,
            registration: RegistrationPolicy::Open,
            scopes: DEFAULT_SCOPES.split(' ').map(str::to_owned).collect(),
            keys_refresh: 30,
            key_rotation_days: 0,
            key_prepublish_hours: 24,
            session_ttl: 604_800,
            session_idle_timeout: 86_400,
            refresh_token_ttl: 2_592_000,
            refresh_grace: 0,
            password_grant: false,
            dpop_max_age: 60,
            dpop_nonce: false,
            resource_strict: false,
            par_required: false,
            api_key_cache: 10,
            client_cache: 10,
            rate_limits: Limits {
                login: 30,
                signup: 10,
                token_per_ip: 3000,
                token_per_client: 3000,
                registration: 10,
                device_code: 10,
            },
            master_key: None,
            gateway_allow_private: false,
            gateway_timeout: 60,
            gateway_max_body: 10 * 1024 * 1024,
            cimd: CimdPolicy::All,
            cimd_cache_min: 300,
            cimd_cache_max: 86_400,
            cimd_timeout_ms: 5_000,
            cimd_allow_loopback: false,
            backchannel_logout_attempts: 5,
            backchannel_logout_timeout_ms: 5_000,
            backchannel_logout_allow_loopback: false,
            trusted_proxies: TrustedProxies::default(),
            signup: accounts::SignupPolicy::default(),
            require_verified_email: false,
            mail: mail::MailSettings::outbox("data/outbox"),
            brand_name: "Portcullis".into(),
            brand_logo_url: None,
            brand_primary_color: None,
            theme: None,
            encryption_keys: None,
            upstream: Vec::new(),
        }
    }
}

/// The path of the JSON API's resource identifier under the issuer.
pub const API_RESOURCE_PATH: &str = "/api/v1";
/// The path of the gateway's resource identifier under the issuer.
pub const GATEWAY_RESOURCE_PATH: &str = "/proxy";

impl Settings {
    /// How long a retired signing key stays published: the longest lifetime of a token it may
    /// have signed, plus the time an instance may go on signing with it from its cache, plus a
    /// margin for clock skew and verifiers' caches.
    pub fn publish_retired_for(&self) -> i64 {
        self.access_token_ttl.max(self.exchange_token_ttl) + self.keys_refresh + 300
    }

    /// The scheduled rotation of signing keys.
    pub fn key_rotation(&self) -> tokens::RotationSchedule {
        tokens::RotationSchedule {
            every: self.key_rotation_days.saturating_mul(86_400),
            prepublish: self.key_prepublish_hours.saturating_mul(3_600),
        }
    }

    /// Sets the issuer, and the default audience to it (the audience of a token requested
    /// without a `resource`); set `default_audience` afterwards to have another one.
    pub fn set_issuer(&mut self, issuer: Url) {
        self.issuer = issuer;
        self.default_audience = self.issuer_str().to_owned();
    }

    /// The issuer as a string without a trailing slash, as it appears in `iss`.
    pub fn issuer_str(&self) -> &str {
        self.issuer.as_str().trim_end_matches('/')
    }

    /// The resource identifiers (RFC 8707, RFC 9728) of this server's own protected APIs: the
    /// default audience, the issuer, the JSON API (`{issuer}/api/v1`) and the gateway
    /// (`{issuer}/proxy`). A token for any of them is accepted by all of them (one protection
    /// domain); a `resource` naming one is always allowed.
    pub fn own_resources(&self) -> Vec<String> {
        let mut own = vec![self.default_audience.clone()];
        for r in [
            self.issuer_str().to_owned(),
            self.own_resource(API_RESOURCE_PATH),
            self.own_resource(GATEWAY_RESOURCE_PATH),
        ] {
            if !own.contains(&r) {
                own.push(r);
            }
        }
        own
    }

    /// The resource identifier of one of this server's APIs: the issuer and the API's path.
    pub fn own_resource(&self, path: &str) -> String {
        format!("{}{path}", self.issuer_str())
    }

    /// Where the RFC 9728 metadata of the resource at `path` (under the issuer) is: the
    /// well-known suffix inserted between the issuer's origin and its path (RFC 9728 §3.1).
    pub fn resource_metadata_url(&self, path: &str) -> String {
        let origin = self.issuer.origin().ascii_serialization();
        let issuer_path = self.issuer.path().trim_end_matches('/');
        format!("{origin}/.well-known/oauth-protected-resource{issuer_path}{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upstream_secret_is_not_in_debug() {
        let p = UpstreamProvider {
            name: "corp".into(),
            issuer: Url::parse("https://id.example.com").expect("url"),
            client_id: "portcullis".into(),
            client_secret: Some(UpstreamSecret::new("s3cr3t-value")),
            display_name: "Corp".into(),
            scopes: vec!["openid".into()],
        };
        let debug = format!("{p:?}");
        assert!(!debug.contains("s3cr3t-value"), "{debug}");
        assert!(debug.contains("UpstreamSecret(***)"), "{debug}");
        assert!(UpstreamProvider::valid_name("gitlab-eu2"));
        for bad in ["", "GitLab", "a_b", "a b", "a/b", &"x".repeat(41)] {
            assert!(!UpstreamProvider::valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_default_audience_follows_the_issuer() {
        let mut s = Settings::default();
        assert_eq!(s.default_audience, "http://127.0.0.1:8080");
        assert_eq!(
            s.database_url,
            DatabaseUrl::parse(DEFAULT_DATABASE_URL).expect("url")
        );
        s.set_issuer(Url::parse("https://id.example.com/tenant/").expect("url"));
        assert_eq!(s.issuer_str(), "https://id.example.com/tenant");
        assert_eq!(s.default_audience, "https://id.example.com/tenant");
    }
}
