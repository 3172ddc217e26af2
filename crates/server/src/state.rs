//! What every handler can reach: the shared state of one server process.
//!
//! Below `routes/`: the routes, the extractors (`session.rs`, `access.rs`) and the audit writer
//! use it; it imports nothing from `routes` (the application is assembled above, in `app.rs`).

use std::sync::Arc;

use accounts::{LoginThrottle, PasswordHasher, SessionPolicy};
use primitives::{SharedClock, SystemClock};
use store::Store;

use crate::config::Settings;
use crate::keycache::KeyCache;
use crate::metrics::Metrics;
use crate::principal::ApiKeyCache;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub settings: Arc<Settings>,
    pub clock: SharedClock,
    pub keys: Arc<KeyCache>,
    pub hasher: Arc<PasswordHasher>,
    pub throttle: Arc<LoginThrottle>,
    pub api_keys: Arc<ApiKeyCache>,
    pub clients: Arc<crate::clientcache::ClientCache>,
    pub limits: Arc<crate::ratelimit::RateLimiter>,
    /// Background writer of the audit log's token events.
    pub audit: crate::audit::AuditWriter,
    /// How the gateway looks upstream hosts up (the system's resolver; tests supply their own).
    pub gateway_resolver: Arc<dyn gateway::Resolve>,
    /// Outgoing mail (sent after the request's transaction commits, in the background).
    /// `None` only when the sender could not start (logged; the binary checks the mail
    /// settings before serving, so it does not serve so).
    pub mailer: Option<mail::Mailer>,
    /// This server as a WebAuthn relying party; `None` when the issuer's host is an IP
    /// address (browsers refuse one as RP ID), and then no page offers passkeys.
    pub passkeys: Option<Arc<crate::passkeys::RelyingParty>>,
    /// The OpenID providers people may sign in with, and what their discovery said.
    pub upstreams: Arc<crate::upstream::Upstreams>,
    /// Shown every answer under `/api/` before it is sent; `None` (the default) costs nothing.
    /// The server tests set it to check each answer against the OpenAPI document.
    pub api_answers: Option<AnswerHook>,
    /// The TLS client settings of Client ID Metadata Document fetches; `None` (the default)
    /// trusts Mozilla's roots. The server tests set one trusting their own CA.
    pub cimd_tls: Option<Arc<rustls::ClientConfig>>,
    /// How often the scheduled key rotation takes a step (five minutes; the server tests
    /// shorten it, and move the clock).
    pub key_rotation_check: std::time::Duration,
}

/// One answer under `/api/`, as an [`AnswerHook`] sees it.
#[derive(Debug)]
pub struct ApiAnswer<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// The route pattern that answered (`/api/v1/organizations/{org}`); `None` when no route
    /// matched.
    pub pattern: Option<&'a str>,
    pub status: u16,
    pub content_type: Option<&'a str>,
    /// The `Allow` header, on a 405.
    pub allow: Option<&'a str>,
    pub body: &'a [u8],
}

/// A function shown every `/api/` answer ([`AppState::api_answers`]).
#[derive(Clone)]
pub struct AnswerHook(pub Arc<dyn Fn(&ApiAnswer<'_>) + Send + Sync>);

impl std::fmt::Debug for AnswerHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AnswerHook")
    }
}

impl AppState {
    pub fn new(settings: Settings, store: Store) -> Self {
        Self::with_clock(settings, store, Arc::new(SystemClock))
    }

    /// State with a given clock (tests move time by hand).
    pub fn with_clock(settings: Settings, store: Store, clock: SharedClock) -> Self {
        let api_keys = Arc::new(ApiKeyCache::new(settings.api_key_cache));
        let clients = Arc::new(
            crate::clientcache::ClientCache::new(settings.client_cache)
                .with_assertions(settings.issuer_str(), settings.encryption_keys.clone()),
        );
        let audit = crate::audit::AuditWriter::start(store.clone());
        let limits = Arc::new(crate::ratelimit::RateLimiter::new(settings.rate_limits));
        let mailer = mail::Mailer::start(settings.mail.clone())
            .inspect_err(|e| tracing::error!(error = %e, "mail cannot be sent"))
            .ok();
        let passkeys = crate::passkeys::RelyingParty::for_issuer(&settings.issuer).map(Arc::new);
        let upstreams = Arc::new(crate::upstream::Upstreams::new(&settings.upstream));
        Self {
            upstreams,
            store,
            passkeys,
            metrics: Arc::new(Metrics::new()),
            keys: Arc::new(KeyCache::new(&settings)),
            settings: Arc::new(settings),
            clock,
            hasher: Arc::new(PasswordHasher::new()),
            api_keys,
            clients,
            limits,
            audit,
            gateway_resolver: Arc::new(gateway::SystemResolver),
            mailer,

            throttle: Arc::new(LoginThrottle::default()),
            api_answers: None,
            cimd_tls: None,
            key_rotation_check: std::time::Duration::from_secs(300),
        }
    }

    pub fn session_policy(&self) -> SessionPolicy {
        SessionPolicy {
            absolute: self.settings.session_ttl,
            idle: self.settings.session_idle_timeout,
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Hands a letter to the background sender (after the transaction that decided it).
    pub fn send_mail(&self, letter: mail::Letter) {
        match &self.mailer {
            Some(mailer) => mailer.send(letter),
            None => tracing::error!(kind = letter.kind(), "mail not sent: the sender is off"),
        }
    }
}

/// What clients may register, from the settings.
pub fn registration_policy(settings: &Settings) -> registration::Policy {
    registration::Policy {
        known_scopes: settings.scopes.clone(),
        // What Keycloak gives a client by default: the OpenID Connect basics it knows.
        default_code_scopes: ["openid", "profile", "email"]
            .into_iter()
            .filter(|s| settings.scopes.iter().any(|k| k == s))
            .map(str::to_owned)
            .collect(),
        id_token_algs: vec!["RS256".into(), "ES256".into(), "EdDSA".into()],
        allow_password_grant: settings.password_grant,
        backchannel_logout_loopback: settings.backchannel_logout_allow_loopback,
    }
}

/// [`registration_policy`] with the scopes of the registered protected resources: a client
/// may register them, and a code-flow client that names no scope gets them (MCP clients
/// register so, then ask for the scopes a resource's metadata advertises, with that
/// `resource`, which `grants::resources::check_resources` requires).
pub fn registration_policy_with_resources(
    settings: &Settings,
    conn: &mut store::Conn,
) -> Result<registration::Policy, store::StoreError> {
    let mut policy = registration_policy(settings);
    for scope in grants::resources::resource_scopes(conn)? {
        if !policy.known_scopes.contains(&scope) {
            policy.known_scopes.push(scope.clone());
            if !policy.default_code_scopes.is_empty() {
                policy.default_code_scopes.push(scope);
            }
        }
    }
    Ok(policy)
}

impl AppState {
    /// What the flows of `grants` need of the settings.
    pub fn policy(&self) -> grants::Policy<'_> {
        let s = &self.settings;
        grants::Policy {
            default_audience: &s.default_audience,
            refresh_ttl: s.refresh_token_ttl,
            refresh_grace: s.refresh_grace,
            password_grant: s.password_grant,
            require_verified_email: s.require_verified_email,
        }
    }

    /// Runs `f` with the operator's resource policy (RFC 8707, `grants::resources`).
    pub fn with_resource_policy<T>(
        &self,
        f: impl FnOnce(&grants::resources::ResourcePolicy<'_>) -> T,
    ) -> T {
        let own = self.settings.own_resources();
        f(&grants::resources::ResourcePolicy {
            strict: self.settings.resource_strict,
            own: &own,
        })
    }

    /// The signer of this server's tokens, with `keyring`.
    pub fn signer<'a>(&'a self, keyring: &'a tokens::Keyring) -> tokens::Signer<'a> {
        let s = &self.settings;
        tokens::Signer {
            keyring,
            issuance: tokens::Issuance {
                issuer: s.issuer_str(),
                ttl: s.access_token_ttl,
                alg: s.access_token_alg,
            },
            dpop_jkt: None,
        }
    }
}
