//! Client metadata (RFC 7591 §2) and its validation.
//!
//! The request body is read field by field from JSON, so a wrong type is reported as
//! `invalid_client_metadata` naming the field, and unknown fields are ignored (RFC 7591 §2).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::{Host, Url};

const MAX_URIS: usize = 20;
const MAX_URI_LEN: usize = 2000;
const MAX_CONTACTS: usize = 10;
const MAX_TEXT_LEN: usize = 200;

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// HTTP Basic with the form-urlencoded id and secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A public client: it has no secret, its `client_id` only identifies it.
    None,
    /// A JWT signed with one of the client's registered keys (`jwks` or `jwks_uri`), RFC 7523
    /// §2.2 and OpenID Connect Core §9.
    PrivateKeyJwt,
    /// A JWT with an HMAC keyed with the client secret (OpenID Connect Core §9).
    ClientSecretJwt,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::ClientSecretJwt => "client_secret_jwt",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::ClientSecretBasic,
            Self::ClientSecretPost,
            Self::None,
            Self::PrivateKeyJwt,
            Self::ClientSecretJwt,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }

    pub fn is_confidential(self) -> bool {
        self != Self::None
    }

    /// Whether the client has a secret of ours (every confidential method but
    /// `private_key_jwt`, whose client holds only its own private key).
    pub fn has_secret(self) -> bool {
        self.is_confidential() && self != Self::PrivateKeyJwt
    }
}

/// The `grant_type` of RFC 8693 token exchange.
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// The grants a client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
    /// The legacy resource-owner password grant: only when the server enables it.
    Password,
    /// RFC 8628, the device authorization grant (a device without a browser, or a CLI).
    #[serde(rename = "urn:ietf:params:oauth:grant-type:device_code")]
    DeviceCode,
    /// RFC 8693 token exchange (`urn:ietf:params:oauth:grant-type:token-exchange`).
    #[serde(rename = "urn:ietf:params:oauth:grant-type:token-exchange")]
    TokenExchange,
}

impl GrantType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::Password => "password",
            Self::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
            Self::TokenExchange => TOKEN_EXCHANGE,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::AuthorizationCode,
            Self::RefreshToken,
            Self::ClientCredentials,
            Self::Password,
            Self::DeviceCode,
            Self::TokenExchange,
        ]
        .into_iter()
        .find(|g| g.as_str() == s)
    }
}

/// `web` (the default) or `native` (OpenID Connect Registration §2, RFC 8252).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationType {
    Web,
    Native,
}

/// The registered metadata of a client, after validation and defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientMetadata {
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: AuthMethod,
    pub grant_types: Vec<GrantType>,
    pub response_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<String>,
    pub application_type: ApplicationType,
    pub id_token_signed_response_alg: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Where the server POSTs a logout token when a session the client received tokens in
    /// ends (Back-Channel Logout 1.0 §2.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// Whether the client needs `sid` in logout tokens (and ID tokens); ours always carry it.
    #[serde(default)]
    pub backchannel_logout_session_required: bool,
    /// The agent this client acts as (an organization's agent given OAuth credentials): set
    /// only by `agent_client_metadata`, never by registration. Its tokens name the agent and
    /// carry at most the agent's scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// RFC 9126 §6: the client sends its authorization requests only by pushing them
    /// (`/oauth2/par`); one sent through the browser is refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_pushed_authorization_requests: bool,
    /// RFC 9449 §5.2: every token request of this client must carry a DPoP proof, so its
    /// access tokens are always bound.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpop_bound_access_tokens: bool,
    /// The client's public keys (RFC 7591 §2), checked by [`crate::check_jwks`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// Where the client publishes its public keys (RFC 7591 §2): an https URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The one algorithm the client's assertions may use (RFC 7591 §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<String>,
}

impl ClientMetadata {
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// The registered scopes, split.
    pub fn scopes(&self) -> Vec<&str> {
        self.scope
            .as_deref()
            .map_or_else(Vec::new, |s| s.split(' ').collect())
    }

    /// The scopes this client may ask for: the registered ones, plus `offline_access` for a
    /// client that registered the `refresh_token` grant (it opted in to refresh tokens, so
    /// asking for one is no wider), whether or not its `scope` names it.
    pub fn requestable_scopes(&self) -> Vec<&str> {
        let mut scopes = self.scopes();
        if self.allows_grant(GrantType::RefreshToken) && !scopes.contains(&OFFLINE_ACCESS) {
            scopes.push(OFFLINE_ACCESS);
        }
        scopes
    }
}

/// The OpenID Connect scope that asks for a refresh token (OpenID Connect Core §11).
pub const OFFLINE_ACCESS: &str = "offline_access";

/// The RFC 7591 §3.2.2 error codes we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataErrorCode {
    InvalidRedirectUri,
    InvalidClientMetadata,
}

impl MetadataErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
        }
    }
}

/// Why metadata was refused, with a description safe to return.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {description}", code.as_str())]
pub struct MetadataError {
    pub code: MetadataErrorCode,
    pub description: String,
}

fn meta_err(description: impl Into<String>) -> MetadataError {
    MetadataError {
        code: MetadataErrorCode::InvalidClientMetadata,
        description: description.into(),
    }
}

fn redirect_err(description: impl Into<String>) -> MetadataError {
    MetadataError {
        code: MetadataErrorCode::InvalidRedirectUri,
        description: description.into(),
    }
}

/// What the server allows, from its settings.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Scopes a client may register.
    pub known_scopes: Vec<String>,
    /// Scopes given to a client that uses the authorization code grant and names none.
    pub default_code_scopes: Vec<String>,
    /// Signing algorithms an ID token may use.
    pub id_token_algs: Vec<String>,
    /// Whether clients may register the password grant (`PORTCULLIS_PASSWORD_GRANT`).
    pub allow_password_grant: bool,
    /// Whether a `backchannel_logout_uri` may be `http` on loopback
    /// (`PORTCULLIS_BACKCHANNEL_LOGOUT_ALLOW_LOOPBACK`: development and tests only).
    pub backchannel_logout_loopback: bool,
}

/// Parses and validates a registration (or RFC 7592 update) body.
pub fn parse_metadata(body: &Value, policy: &Policy) -> Result<ClientMetadata, MetadataError> {
    let Value::Object(fields) = body else {
        return Err(meta_err("the body must be a JSON object"));
    };
    let f = Fields(fields);

    // Without `application_type`, a client whose redirect URIs are all loopback or
    // private-use schemes is a native app (MCP and command-line clients register so); any
    // other is a web client, the OpenID Connect Registration default.
    let application_type = match f.string("application_type")?.as_deref() {
        None if looks_native(&f.string_list("redirect_uris")?.unwrap_or_default()) => {
            ApplicationType::Native
        }
        None | Some("web") => ApplicationType::Web,
        Some("native") => ApplicationType::Native,
        Some(other) => {
            return Err(meta_err(format!(
                "application_type {other:?} is not web or native"
            )));
        }
    };

    let auth_method = match f.string("token_endpoint_auth_method")? {
        None => AuthMethod::ClientSecretBasic,
        Some(m) => AuthMethod::parse(&m).ok_or_else(|| {
            meta_err(format!(
                "token_endpoint_auth_method {m:?} is not supported (client_secret_basic, client_secret_post, none, private_key_jwt, client_secret_jwt)"
            ))
        })?,
    };

    let grants_given = f.string_list("grant_types")?;
    let mut grant_types = Vec::new();
    for g in grants_given
        .as_deref()
        .unwrap_or(&["authorization_code".to_owned()])
    {
        let grant = GrantType::parse(g)
            .filter(|g| *g != GrantType::Password || policy.allow_password_grant)
            .ok_or_else(|| meta_err(format!("grant type {g:?} is not supported")))?;
        if !grant_types.contains(&grant) {
            grant_types.push(grant);
        }
    }
    grant_types.sort();
    if grant_types.is_empty() {
        return Err(meta_err("grant_types must not be empty"));
    }
    let code_flow = grant_types.contains(&GrantType::AuthorizationCode);

    let response_types = match f.string_list("response_types")? {
        None if code_flow => vec!["code".to_owned()],
        None => Vec::new(),
        Some(list) => {
            let mut out: Vec<String> = Vec::new();
            for r in list {
                if r != "code" {
                    return Err(meta_err(format!(
                        "response type {r:?} is not supported (only code)"
                    )));
                }
                if !out.contains(&r) {
                    out.push(r);
                }
            }
            out
        }
    };
    if code_flow != response_types.iter().any(|r| r == "code") {
        return Err(meta_err(
            "grant_types and response_types disagree: authorization_code goes with the code response type",
        ));
    }
    if grant_types.contains(&GrantType::RefreshToken)
        && !code_flow
        && !grant_types.contains(&GrantType::Password)
        && !grant_types.contains(&GrantType::DeviceCode)
    {
        return Err(meta_err(
            "refresh_token needs the authorization_code (or device_code, or password) grant",
        ));
    }
    if auth_method == AuthMethod::None && grant_types.contains(&GrantType::ClientCredentials) {
        return Err(meta_err(
            "a public client (token_endpoint_auth_method none) cannot use client_credentials",
        ));
    }
    if auth_method == AuthMethod::None && grant_types.contains(&GrantType::TokenExchange) {
        return Err(meta_err(
            "a public client (token_endpoint_auth_method none) cannot use token exchange",
        ));
    }

    let redirect_uris = f.uri_list("redirect_uris", application_type)?;
    if code_flow && redirect_uris.is_empty() {
        return Err(redirect_err(
            "redirect_uris is required for the authorization_code grant",
        ));
    }
    let post_logout_redirect_uris = f.uri_list("post_logout_redirect_uris", application_type)?;
    let backchannel_logout_uri =
        f.logout_uri("backchannel_logout_uri", policy.backchannel_logout_loopback)?;
    let backchannel_logout_session_required = f.flag("backchannel_logout_session_required")?;

    // A scope of spaces only is absent, as an empty one is.
    let scope = match f.string("scope")? {
        Some(s) => Some(parse_scope(&s, policy)?).filter(|s| !s.is_empty()),
        None => None,
    };
    let scope = match scope {
        Some(s) => Some(s),
        // As other servers do: the server's basic scopes, and `offline_access` when the client
        // registered the refresh_token grant (and the server offers it).
        // A device-flow client signs users in as a code-flow client does.
        None if (code_flow || grant_types.contains(&GrantType::DeviceCode))
            && !policy.default_code_scopes.is_empty() =>
        {
            let mut scopes = policy.default_code_scopes.clone();
            if grant_types.contains(&GrantType::RefreshToken)
                && policy.known_scopes.iter().any(|k| k == OFFLINE_ACCESS)
                && !scopes.iter().any(|s| s == OFFLINE_ACCESS)
            {
                scopes.push(OFFLINE_ACCESS.to_owned());
            }
            Some(scopes.join(" "))
        }
        None => None,
    };

    let client_name = f.text("client_name")?;
    let client_uri = f.web_uri("client_uri")?;
    let logo_uri = f.web_uri("logo_uri")?;
    let contacts = f.string_list("contacts")?.unwrap_or_default();
    if contacts.len() > MAX_CONTACTS {
        return Err(meta_err(format!("at most {MAX_CONTACTS} contacts")));
    }
    if contacts
        .iter()
        .any(|c| c.is_empty() || c.len() > 320 || c.chars().any(char::is_control))
    {
        return Err(meta_err("each contact must be a short, printable string"));
    }

    let id_token_signed_response_alg = match f.string("id_token_signed_response_alg")? {
        None => "RS256".to_owned(),
        Some(alg) if policy.id_token_algs.contains(&alg) => alg,
        Some(alg) => {
            return Err(meta_err(format!(
                "id_token_signed_response_alg {alg:?} is not supported ({})",
                policy.id_token_algs.join(", ")
            )));
        }
    };

    let (jwks, jwks_uri, token_endpoint_auth_signing_alg) = client_keys(&f, auth_method)?;

    Ok(ClientMetadata {
        jwks,
        jwks_uri,
        token_endpoint_auth_signing_alg,
        redirect_uris,
        token_endpoint_auth_method: auth_method,
        grant_types,
        response_types,
        scope,
        client_name,
        client_uri,
        logo_uri,
        contacts,
        application_type,
        id_token_signed_response_alg,
        post_logout_redirect_uris,
        backchannel_logout_uri,
        backchannel_logout_session_required,
        agent_id: None,
        require_pushed_authorization_requests: f
            .boolean("require_pushed_authorization_requests")?
            .unwrap_or(false),
        dpop_bound_access_tokens: f.boolean("dpop_bound_access_tokens")?.unwrap_or(false),
    })
}

/// The metadata of an agent's OAuth client: confidential (`client_secret_basic`, Basic or
/// post accepted; or `private_key_jwt`: [`agent_client_metadata_with_keys`]), the client-credentials and token-exchange grants, no redirect URIs, no
/// registered scope (the agent's scopes decide), bound to `agent_id`.
pub fn agent_client_metadata(agent_id: &str, agent_name: &str) -> ClientMetadata {
    ClientMetadata {
        redirect_uris: Vec::new(),
        token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
        grant_types: vec![GrantType::ClientCredentials, GrantType::TokenExchange],
        response_types: Vec::new(),
        scope: None,
        client_name: Some(format!("agent {agent_name}")),
        client_uri: None,
        logo_uri: None,
        contacts: Vec::new(),
        application_type: ApplicationType::Web,
        id_token_signed_response_alg: "RS256".to_owned(),
        post_logout_redirect_uris: Vec::new(),
        backchannel_logout_uri: None,
        backchannel_logout_session_required: false,
        agent_id: Some(agent_id.to_owned()),
        require_pushed_authorization_requests: false,
        dpop_bound_access_tokens: false,
        jwks: None,
        jwks_uri: None,
        token_endpoint_auth_signing_alg: None,
    }
}

/// An agent's client that authenticates with `private_key_jwt` (no secret): its public keys
/// inline (`jwks`) or published (`jwks_uri`, an https URL), exactly one of them, checked as at
/// registration.
pub fn agent_client_metadata_with_keys(
    agent_id: &str,
    agent_name: &str,
    jwks: Option<Value>,
    jwks_uri: Option<String>,
) -> Result<ClientMetadata, MetadataError> {
    let mut fields = Map::new();
    if let Some(jwks) = jwks {
        fields.insert("jwks".into(), jwks);
    }
    if let Some(uri) = jwks_uri {
        fields.insert("jwks_uri".into(), Value::String(uri));
    }
    let (jwks, jwks_uri, _) = client_keys(&Fields(&fields), AuthMethod::PrivateKeyJwt)?;
    Ok(ClientMetadata {
        token_endpoint_auth_method: AuthMethod::PrivateKeyJwt,
        jwks,
        jwks_uri,
        ..agent_client_metadata(agent_id, agent_name)
    })
}

/// The client's keys and assertion algorithm: `jwks` xor `jwks_uri` (RFC 7591 §2), required
/// by `private_key_jwt`; a `token_endpoint_auth_signing_alg` only for the JWT methods, and
/// one that fits the method (asymmetric for `private_key_jwt`, HMAC for `client_secret_jwt`).
type ClientKeys = (Option<Value>, Option<String>, Option<String>);

fn client_keys(f: &Fields<'_>, method: AuthMethod) -> Result<ClientKeys, MetadataError> {
    let jwks = f.get("jwks").cloned();
    if let Some(jwks) = &jwks {
        crate::assertion::check_jwks(jwks).map_err(|e| meta_err(format!("jwks: {e}")))?;
    }
    let jwks_uri = f.web_uri("jwks_uri")?;
    if jwks.is_some() && jwks_uri.is_some() {
        return Err(meta_err("jwks and jwks_uri must not both be present"));
    }
    if method == AuthMethod::PrivateKeyJwt && jwks.is_none() && jwks_uri.is_none() {
        return Err(meta_err(
            "private_key_jwt needs the client's keys: jwks or jwks_uri",
        ));
    }
    let alg = f.string("token_endpoint_auth_signing_alg")?;
    if let Some(alg) = &alg {
        let allowed: &[&str] = match method {
            AuthMethod::PrivateKeyJwt => &crate::assertion::KEY_ALGS,
            AuthMethod::ClientSecretJwt => &crate::assertion::HMAC_ALGS,
            _ => &[],
        };
        if !allowed.contains(&alg.as_str()) {
            return Err(meta_err(format!(
                "token_endpoint_auth_signing_alg {alg:?} does not fit {} (allowed: {})",
                method.as_str(),
                if allowed.is_empty() {
                    "none".to_owned()
                } else {
                    allowed.join(", ")
                }
            )));
        }
    }
    Ok((jwks, jwks_uri, alg))
}

/// A scope string: space-separated tokens of RFC 6749 §3.3 characters, each known to the
/// server. Duplicates are dropped; order is kept.
/// A scope-token of RFC 6749 §3.3: one or more of `%x21 / %x23-5B / %x5D-7E`.
pub fn is_scope_token(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

fn parse_scope(raw: &str, policy: &Policy) -> Result<String, MetadataError> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for token in raw.split(' ').filter(|t| !t.is_empty()) {
        if !is_scope_token(token) {
            return Err(meta_err(format!(
                "scope {token:?} has characters RFC 6749 §3.3 does not allow"
            )));
        }
        if !policy.known_scopes.iter().any(|k| k == token) {
            return Err(meta_err(format!(
                "scope {token:?} is not known to this server"
            )));
        }
        if seen.insert(token) {
            out.push(token);
        }
    }
    Ok(out.join(" "))
}

/// True for `http` redirect URIs on the loopback interface, whose port may vary (RFC 8252 §7.3).
pub fn is_loopback_redirect(url: &Url) -> bool {
    url.scheme() == "http" && is_loopback_host(url)
}

/// True for a redirect URI that any app on the device could claim: a loopback `http` URI
/// (RFC 8252 §7.3) or a private-use scheme (§7.1). A response sent there cannot prove which
/// app receives it, so the client's identity is not assured (§8.6): no silent approval.
pub fn is_native_redirect(uri: &str) -> bool {
    Url::parse(uri).is_ok_and(|url| match url.scheme() {
        "http" => is_loopback_host(&url),
        "https" => false,
        _ => true,
    })
}

/// Whether a registration without `application_type` is a native app: it has redirect URIs,
/// and each is loopback or a private-use scheme. Unparseable URIs count as web, so the web
/// rules name them in the error.
fn looks_native(redirect_uris: &[String]) -> bool {
    !redirect_uris.is_empty() && redirect_uris.iter().all(|u| is_native_redirect(u))
}

/// A first gate on an IPv4 literal at registration (the vetted connector decides at each
/// connection): not private, shared, loopback, link-local, documentation, broadcast or
/// unspecified.
fn is_public_v4(ip: std::net::Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || a >= 240)
}

/// As [`is_public_v4`] for IPv6: global unicast (2000::/3) only, and an embedded IPv4
/// address judged as such.
fn is_public_v6(ip: std::net::Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let [s0, s1, ..] = ip.segments();
    (s0 & 0xe000) == 0x2000 && !(s0 == 0x2001 && (s1 < 0x0200 || s1 == 0x0db8))
}

fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The redirect-URI rules (RFC 6749 §3.1.2, RFC 9700 §2.1, RFC 8252 §7).
fn check_redirect_uri(raw: &str, app: ApplicationType) -> Result<(), String> {
    if raw.len() > MAX_URI_LEN {
        return Err(format!(
            "redirect URIs are at most {MAX_URI_LEN} characters"
        ));
    }
    if raw.contains('*') {
        return Err(format!("{raw:?}: wildcards are not allowed"));
    }
    if raw.contains('#') {
        return Err(format!("{raw:?}: a redirect URI must not have a fragment"));
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{raw:?}: whitespace is not allowed"));
    }
    let url = Url::parse(raw).map_err(|_| format!("{raw:?} is not an absolute URI"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{raw:?}: user information is not allowed"));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "https" => Err(format!("{raw:?}: a host is required")),
        // RFC 8252 §7.3 loopback redirects are for native apps; a web client's response
        // would go to whatever listens on the user's machine (RFC 7591 §3.2.2).
        "http" if is_loopback_host(&url) => match app {
            ApplicationType::Native => Ok(()),
            ApplicationType::Web => Err(format!(
                "{raw:?}: loopback redirect URIs are for native apps (application_type native), not web clients"
            )),
        },
        "http" => Err(format!(
            "{raw:?}: http is only allowed on loopback for native apps (use https)"
        )),
        "javascript" | "data" | "file" | "vbscript" | "blob" | "about" | "ftp" | "ws" | "wss" => {
            Err(format!(
                "{raw:?}: the {} scheme is not allowed",
                url.scheme()
            ))
        }
        scheme => match app {
            ApplicationType::Native if scheme.contains('.') => Ok(()),
            ApplicationType::Native => Err(format!(
                "{raw:?}: a private-use scheme must be a reverse domain name, e.g. com.example.app"
            )),
            ApplicationType::Web => Err(format!(
                "{raw:?}: web clients use https redirect URIs (private-use schemes are for native apps)"
            )),
        },
    }
}

struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    /// A field's value; `null` counts as absent.
    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    fn string(&self, name: &str) -> Result<Option<String>, MetadataError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(meta_err(format!("{name} must be a string"))),
        }
    }

    fn boolean(&self, name: &str) -> Result<Option<bool>, MetadataError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(meta_err(format!("{name} must be true or false"))),
        }
    }

    fn string_list(&self, name: &str) -> Result<Option<Vec<String>>, MetadataError> {
        let wrong = || {
            let e = meta_err(format!("{name} must be an array of strings"));
            if name.ends_with("redirect_uris") {
                MetadataError {
                    code: MetadataErrorCode::InvalidRedirectUri,
                    ..e
                }
            } else {
                e
            }
        };
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) => {
                if items.len() > 100 {
                    return Err(meta_err(format!("{name} has too many entries")));
                }
                items
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned).ok_or_else(wrong))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some)
            }
            Some(_) => Err(wrong()),
        }
    }

    fn uri_list(&self, name: &str, app: ApplicationType) -> Result<Vec<String>, MetadataError> {
        let list = self.string_list(name)?.unwrap_or_default();
        if list.len() > MAX_URIS {
            return Err(redirect_err(format!("{name}: at most {MAX_URIS} URIs")));
        }
        let mut out: Vec<String> = Vec::with_capacity(list.len());
        for uri in list {
            check_redirect_uri(&uri, app).map_err(|e| redirect_err(format!("{name}: {e}")))?;
            if !out.contains(&uri) {
                out.push(uri);
            }
        }
        Ok(out)
    }

    fn text(&self, name: &str) -> Result<Option<String>, MetadataError> {
        let value = self.string(name)?;
        if value
            .as_ref()
            .is_some_and(|v| v.chars().count() > MAX_TEXT_LEN || v.chars().any(char::is_control))
        {
            return Err(meta_err(format!(
                "{name}: at most {MAX_TEXT_LEN} printable characters"
            )));
        }
        Ok(value)
    }

    /// A boolean; absent (or `null`) is false.
    fn flag(&self, name: &str) -> Result<bool, MetadataError> {
        match self.get(name) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(meta_err(format!("{name} must be true or false"))),
        }
    }

    /// The back-channel logout URI (Back-Channel Logout 1.0 §2.2): an absolute `https` URL
    /// without fragment or user information, whose host is not a loopback, private or other
    /// special-purpose address (the server would be made to call into its own network); `http`
    /// on loopback only with `allow_loopback` (development). A name is vetted again, address
    /// by address, when the token is sent.
    fn logout_uri(
        &self,
        name: &str,
        allow_loopback: bool,
    ) -> Result<Option<String>, MetadataError> {
        let Some(raw) = self.string(name)? else {
            return Ok(None);
        };
        let refuse = |why: &str| Err(meta_err(format!("{name}: {why}")));
        if raw.len() > MAX_URI_LEN || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return refuse("not a URL of at most 2000 printable characters");
        }
        let Ok(url) = Url::parse(&raw) else {
            return refuse("not an absolute URL");
        };
        if url.fragment().is_some() || raw.contains('#') {
            return refuse("a fragment is not allowed");
        }
        if !url.username().is_empty() || url.password().is_some() {
            return refuse("user information is not allowed");
        }
        let loopback = is_loopback_host(&url);
        match url.scheme() {
            _ if loopback && !allow_loopback => {
                return refuse("a loopback host is not allowed");
            }
            "https" if url.host().is_some() => {}
            "http" if loopback => {}
            _ => return refuse("must be an https URL"),
        }
        let special = match url.host() {
            Some(Host::Ipv4(ip)) => !loopback && !is_public_v4(ip),
            Some(Host::Ipv6(ip)) => !loopback && !is_public_v6(ip),
            Some(Host::Domain(d)) => {
                let d = d.to_ascii_lowercase();
                d.ends_with(".localhost") || d.ends_with(".internal") || d.ends_with(".local")
            }
            None => true,
        };
        if special {
            return refuse("the host is a private or special-purpose address");
        }
        Ok(Some(raw))
    }

    /// A URI shown to users (client or logo): https, or http on loopback.
    fn web_uri(&self, name: &str) -> Result<Option<String>, MetadataError> {
        let Some(raw) = self.string(name)? else {
            return Ok(None);
        };
        let ok = raw.len() <= MAX_URI_LEN
            && Url::parse(&raw).is_ok_and(|u| {
                u.fragment().is_none()
                    && u.username().is_empty()
                    && (u.scheme() == "https" && u.host().is_some()
                        || u.scheme() == "http" && is_loopback_host(&u))
            });
        if ok {
            Ok(Some(raw))
        } else {
            Err(meta_err(format!("{name} must be an https URL")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy() -> Policy {
        Policy {
            known_scopes: ["openid", "profile", "email", "orders:read", "orders:write"]
                .map(String::from)
                .to_vec(),
            default_code_scopes: vec!["openid".into()],
            id_token_algs: vec!["RS256".into(), "ES256".into(), "EdDSA".into()],
            allow_password_grant: false,
            backchannel_logout_loopback: false,
        }
    }

    fn parse(body: Value) -> Result<ClientMetadata, MetadataError> {
        parse_metadata(&body, &policy())
    }

    fn code_of(body: Value) -> MetadataErrorCode {
        parse(body).expect_err("should be refused").code
    }

    #[test]
    fn backchannel_logout_uri_rules() {
        let with = |uri: &str, loopback: bool| {
            let body = json!({ "redirect_uris": ["https://app.example/cb"], "backchannel_logout_uri": uri });
            parse_metadata(
                &body,
                &Policy {
                    backchannel_logout_loopback: loopback,
                    ..policy()
                },
            )
            .map(|m| m.backchannel_logout_uri)
        };
        assert_eq!(
            with("https://rp.example/bc", false),
            Ok(Some("https://rp.example/bc".into()))
        );
        assert_eq!(
            with("https://[2001:4860::1]/bc", false).map(|u| u.is_some()),
            Ok(true)
        );
        // Development: http on loopback only, and still no private network.
        assert!(with("http://127.0.0.1:8080/bc", true).is_ok());
        assert!(with("http://localhost:8080/bc", true).is_ok());
        assert!(with("https://10.1.2.3/bc", true).is_err());
        assert!(with("http://rp.example/bc", true).is_err());
        for refused in [
            "http://127.0.0.1:8080/bc",
            "https://localhost/bc",
            "https://a.localhost/bc",
            "https://10.1.2.3/bc",
            "https://172.16.0.1/bc",
            "https://100.64.0.1/bc",
            "https://0.0.0.0/bc",
            "https://[fe80::1]/bc",
            "https://[2001:db8::1]/bc",
            "https://[::ffff:192.168.0.1]/bc",
            "https://rp.example/bc#f",
            "https://u@rp.example/bc",
            "ftp://rp.example/bc",
            "/bc",
        ] {
            assert!(with(refused, false).is_err(), "{refused}");
        }
        let m = parse(json!({ "redirect_uris": ["https://app.example/cb"] })).expect("valid");
        assert_eq!(
            (
                m.backchannel_logout_uri,
                m.backchannel_logout_session_required
            ),
            (None, false)
        );
        let m = parse(json!({ "redirect_uris": ["https://app.example/cb"], "backchannel_logout_session_required": true })).expect("valid");
        assert!(m.backchannel_logout_session_required);
        assert_eq!(
            code_of(
                json!({ "redirect_uris": ["https://app.example/cb"], "backchannel_logout_session_required": 1 })
            ),
            MetadataErrorCode::InvalidClientMetadata
        );
    }

    #[test]
    fn rfc7591_defaults_apply() {
        let m = parse(json!({ "redirect_uris": ["https://app.example/cb"] })).expect("valid");
        assert_eq!(m.token_endpoint_auth_method, AuthMethod::ClientSecretBasic);
        assert_eq!(m.grant_types, [GrantType::AuthorizationCode]);
        assert_eq!(m.response_types, ["code"]);
        assert_eq!(m.application_type, ApplicationType::Web);
        assert_eq!(m.id_token_signed_response_alg, "RS256");
        assert_eq!(m.scope.as_deref(), Some("openid"));
    }

    #[test]
    fn a_service_needs_no_redirect_uri() {
        let m = parse(
            json!({ "grant_types": ["client_credentials"], "scope": "orders:read orders:read" }),
        )
        .expect("valid");
        assert!(m.response_types.is_empty());
        assert_eq!(m.scope.as_deref(), Some("orders:read"));
    }

    #[test]
    fn unknown_fields_are_ignored() {
        assert!(
            parse(json!({ "redirect_uris": ["https://a.example/cb"], "software_id": 4, "x": {} }))
                .is_ok()
        );
    }

    #[test]
    fn redirect_uri_rules() {
        let refused = [
            "/relative/cb",
            "https://a.example/cb#frag",
            "https://*.example/cb",
            "http://app.example/cb",
            "javascript:alert(1)",
            "data:text/html,hi",
            "https://user:pw@a.example/cb",
            "https://a.example/c b",
        ];
        for uri in refused {
            assert_eq!(
                code_of(json!({ "redirect_uris": [uri] })),
                MetadataErrorCode::InvalidRedirectUri,
                "{uri}"
            );
        }
        for uri in [
            "http://localhost:3000/cb",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
            "https://a.example/cb?x=1",
        ] {
            assert!(parse(json!({ "redirect_uris": [uri] })).is_ok(), "{uri}");
        }
        let native = |uri: &str| json!({ "redirect_uris": [uri], "application_type": "native", "token_endpoint_auth_method": "none" });
        assert!(parse(native("com.example.app:/oauth2redirect")).is_ok());
        assert!(parse(native("http://127.0.0.1/cb")).is_ok());
        assert_eq!(
            code_of(native("myapp:/cb")),
            MetadataErrorCode::InvalidRedirectUri
        );
        assert_eq!(
            code_of(json!({ "redirect_uris": ["com.example.app:/cb"], "application_type": "web" })),
            MetadataErrorCode::InvalidRedirectUri,
            "private-use schemes are for native apps"
        );
        assert_eq!(
            code_of(json!({ "redirect_uris": "https://a.example/cb" })),
            MetadataErrorCode::InvalidRedirectUri
        );
        assert_eq!(
            code_of(json!({ "grant_types": ["authorization_code"] })),
            MetadataErrorCode::InvalidRedirectUri
        );
    }

    #[test]
    fn rfc8252_a_client_without_application_type_and_only_loopback_or_private_use_uris_is_native() {
        for uris in [
            json!(["http://127.0.0.1/cb"]),
            json!(["http://[::1]:8080/cb", "http://localhost:3000/cb"]),
            json!(["com.example.app:/oauth2redirect"]),
            json!(["com.example.app:/cb", "http://127.0.0.1:33418/cb"]),
        ] {
            let m = parse(json!({ "redirect_uris": uris, "token_endpoint_auth_method": "none" }))
                .expect("valid");
            assert_eq!(m.application_type, ApplicationType::Native, "{uris}");
        }
        // One https URI makes it a web client, the default; and no redirect URI at all too.
        let m = parse(json!({ "redirect_uris": ["https://a.example/cb"] })).expect("valid");
        assert_eq!(m.application_type, ApplicationType::Web);
        let m = parse(json!({ "grant_types": ["client_credentials"] })).expect("valid");
        assert_eq!(m.application_type, ApplicationType::Web);
        // Inferred native still means the native rules: a private-use scheme is a reverse
        // domain name, and dangerous schemes stay refused.
        for uri in [
            "myapp:/cb",
            "javascript:alert(1)//127.0.0.1",
            "data:text/html,x",
        ] {
            assert_eq!(
                code_of(json!({ "redirect_uris": [uri] })),
                MetadataErrorCode::InvalidRedirectUri,
                "{uri}"
            );
        }
        // The stored form says native, and re-parses to the same metadata.
        let m = parse(json!({ "redirect_uris": ["http://127.0.0.1/cb"] })).expect("valid");
        let stored = serde_json::to_value(&m).expect("json");
        assert_eq!(stored["application_type"], "native");
        assert_eq!(parse(stored).expect("again"), m);
    }

    #[test]
    fn rfc7591_3_2_2_a_web_client_may_not_register_loopback_or_http_redirect_uris() {
        for uris in [
            json!(["http://127.0.0.1/cb"]),
            json!(["http://localhost:3000/cb"]),
            json!(["http://[::1]/cb"]),
            json!(["http://app.example/cb"]),
            json!(["https://a.example/cb", "http://127.0.0.1/cb"]),
        ] {
            let web = json!({ "application_type": "web", "redirect_uris": uris });
            assert_eq!(
                code_of(web),
                MetadataErrorCode::InvalidRedirectUri,
                "{uris}"
            );
        }
        // Without application_type, a mix of https and loopback is a web client: refused too.
        assert_eq!(
            code_of(json!({ "redirect_uris": ["https://a.example/cb", "http://127.0.0.1/cb"] })),
            MetadataErrorCode::InvalidRedirectUri
        );
        assert_eq!(
            code_of(json!({
                "redirect_uris": ["https://a.example/cb"],
                "post_logout_redirect_uris": ["http://127.0.0.1/bye"],
            })),
            MetadataErrorCode::InvalidRedirectUri
        );
        // A native app may mix https (claimed) and loopback URIs.
        let native = json!({
            "application_type": "native",
            "token_endpoint_auth_method": "none",
            "redirect_uris": ["https://a.example/cb", "http://127.0.0.1/cb"],
        });
        assert!(parse(native).is_ok());
    }

    #[test]
    fn native_redirect_uris_are_loopback_or_private_use() {
        for yes in [
            "http://127.0.0.1:5000/cb",
            "http://[::1]/cb",
            "http://localhost/cb",
            "com.example.app:/cb",
        ] {
            assert!(is_native_redirect(yes), "{yes}");
        }
        for no in [
            "https://app.example/cb",
            "https://127.0.0.1/cb",
            "http://app.example/cb",
            "http://127.0.0.1.evil.example/cb",
            "not a uri",
        ] {
            assert!(!is_native_redirect(no), "{no}");
        }
    }

    #[test]
    fn metadata_rules() {
        let cases = [
            json!({ "token_endpoint_auth_method": "private_key_jwt", "redirect_uris": ["https://a.example/cb"] }),
            json!({ "grant_types": ["implicit"], "redirect_uris": ["https://a.example/cb"] }),
            json!({ "grant_types": ["password"] }),
            json!({ "grant_types": [] }),
            json!({ "grant_types": ["client_credentials"], "token_endpoint_auth_method": "none" }),
            json!({ "grant_types": ["client_credentials"], "response_types": ["code"] }),
            json!({ "redirect_uris": ["https://a.example/cb"], "response_types": ["token"] }),
            json!({ "redirect_uris": ["https://a.example/cb"], "response_types": [] }),
            json!({ "grant_types": ["refresh_token"] }),
            json!({ "grant_types": ["client_credentials"], "scope": "admin" }),
            json!({ "grant_types": ["client_credentials"], "scope": "orders:\"read" }),
            json!({ "grant_types": ["client_credentials"], "scope": 5 }),
            json!({ "grant_types": ["client_credentials"], "application_type": "desktop" }),
            json!({ "grant_types": ["client_credentials"], "client_uri": "javascript:x" }),
            json!({ "grant_types": ["client_credentials"], "logo_uri": "http://evil.example/l.png" }),
            json!({ "grant_types": ["client_credentials"], "client_name": "x".repeat(201) }),
            json!({ "grant_types": ["client_credentials"], "contacts": "a@b" }),
            json!({ "grant_types": ["client_credentials"], "id_token_signed_response_alg": "none" }),
            json!({ "grant_types": "client_credentials" }),
            json!([1, 2]),
        ];
        for body in cases {
            assert_eq!(
                code_of(body.clone()),
                MetadataErrorCode::InvalidClientMetadata,
                "{body}"
            );
        }
    }

    #[test]
    fn nulls_and_empty_strings_count_as_absent() {
        let m = parse(
            json!({ "redirect_uris": ["https://a.example/cb"], "client_name": null, "scope": "" }),
        )
        .expect("valid");
        assert_eq!(m.client_name, None);
        assert_eq!(m.scope.as_deref(), Some("openid"));
        // Found by fuzzing: spaces only registered an empty scope, `scopes()` gave `[""]`.
        let m = parse(json!({ "redirect_uris": ["https://a.example/cb"], "scope": "  " }))
            .expect("valid");
        assert_eq!(m.scope.as_deref(), Some("openid"));
        let m =
            parse(json!({ "grant_types": ["client_credentials"], "scope": " " })).expect("valid");
        assert_eq!(m.scope, None);
        assert!(m.scopes().is_empty());
    }

    #[test]
    fn loopback_detection() {
        let yes = [
            "http://127.0.0.1:5000/cb",
            "http://[::1]/cb",
            "http://localhost/cb",
        ];
        for u in yes {
            assert!(is_loopback_redirect(&Url::parse(u).expect("url")), "{u}");
        }
        let no = [
            "https://127.0.0.1/cb",
            "http://127.0.0.1.evil.example/cb",
            "http://example.com/cb",
        ];
        for u in no {
            assert!(!is_loopback_redirect(&Url::parse(u).expect("url")), "{u}");
        }
    }
}
