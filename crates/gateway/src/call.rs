//! One proxied call, decided before any connection: who may call ([`Caller::check`]), which
//! agent the call is for ([`agent_named`], [`take_agent_from_json`]), and [`prepare_call`],
//! which runs every check in its order and yields a [`PreparedCall`]: the upstream URL, the
//! headers to send (the stored credential injected) and the headers to pass back. The server
//! only reads the request, connects, streams and maps a [`CallRefused`] to its HTTP answer.
//!
//! The order of the checks is part of the contract (a caller learns which one failed first):
//! an organization API key; its `authorize` scope; a named agent; the registered service
//! (by name, or by its base URL for `/{https://host/path…}`) and its credential opened for
//! that service and origin; the path (its scope, then its URL); the agent, of this
//! organization, with a scope covering the call. Headers and values are plain strings and
//! bytes: this crate knows no HTTP library.

use store::Conn;
use url::Url;

use crate::{Credential, CredentialKind, GatewayError, MasterKey, Service};

/// The scope an organization API key needs to call through the gateway.
pub const CALL_SCOPE: &str = "authorize";

/// The response header naming the scope a call was checked against.
pub const SCOPE_HEADER: &str = "x-portcullis-scope";

/// The request header that may name the agent.
pub const AGENT_HEADER: &str = "x-agent-id";

/// Hop-by-hop headers (RFC 9110 §7.6.1), and the framing the client recomputes: never passed
/// on, either way.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
];

/// Headers never forwarded upstream besides [`HOP_BY_HOP`]: the caller's credentials, its
/// cookies, the agent it named, what names this hop.
const DROP_UP: &[&str] = &[
    "host",
    "authorization",
    "x-api-key",
    "cookie",
    "x-agent-id",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "forwarded",
];

/// Headers never passed back besides [`HOP_BY_HOP`]: upstream cookies.
const DROP_DOWN: &[&str] = &["set-cookie"];

/// Why a call is refused before any connection. Each variant is one answer of the proxy.
#[derive(Debug, thiserror::Error)]
pub enum CallRefused {
    /// The credential is not an organization API key nor an agent's access token (a user's
    /// own token, a client's).
    #[error("the gateway takes an organization API key or an agent's access token")]
    NotAnOrganizationKey,
    /// An agent's token, and another agent named with it.
    #[error("the token acts as another agent")]
    AgentMismatch,
    /// The key lacks [`CALL_SCOPE`], or the agent lacks the scope the call needs (named).
    #[error("the scope {0} is missing")]
    InsufficientScope(String),
    /// A JSON body that is not JSON, where the agent was looked for.
    #[error("the JSON body is invalid")]
    InvalidJson,
    /// No agent named: not in the credential, the header, nor the JSON body.
    #[error("no agent named")]
    NoAgent,
    /// The agent named does not exist, or belongs to another organization.
    #[error("the agent is unknown to this organization")]
    UnknownAgent,
    /// Looking the agent up failed.
    #[error(transparent)]
    Agent(#[from] apikeys::KeyError),
    /// The service, its credential, the path or the target.
    #[error(transparent)]
    Gateway(#[from] GatewayError),
}

/// How a call that passed every check failed upstream (no answer to pass back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamFailure {
    /// No response head within `PORTCULLIS_GATEWAY_TIMEOUT`.
    #[error("the upstream did not answer in time")]
    Timeout,
    /// Anything else: connection refused or reset, TLS, a malformed answer.
    #[error("the upstream could not be reached")]
    Unreachable,
}

impl UpstreamFailure {
    /// The status the usage row records for the call: 504 or 502, as the caller is answered.
    pub fn status(self) -> u16 {
        match self {
            Self::Timeout => 504,
            Self::Unreachable => 502,
        }
    }
}

/// The organization and key a call comes from: an organization API key holding
/// [`CALL_SCOPE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    org_id: String,
    key_id: String,
}

impl Caller {
    /// `org_key` is the organization and key id when the credential is an organization API
    /// key (`None` for anything else); `allows` says whether the credential holds a scope.
    pub fn check(
        org_key: Option<(String, String)>,
        allows: impl Fn(&str) -> bool,
    ) -> Result<Self, CallRefused> {
        let (org_id, key_id) = org_key.ok_or(CallRefused::NotAnOrganizationKey)?;
        if !allows(CALL_SCOPE) {
            return Err(CallRefused::InsufficientScope(CALL_SCOPE.to_owned()));
        }
        Ok(Self { org_id, key_id })
    }

    /// The caller with the agent its call is for: `NoAgent` when none was named (see
    /// [`agent_named`], [`take_agent_from_json`]).
    pub fn with_agent(self, agent_id: Option<String>) -> Result<AgentCaller, CallRefused> {
        let agent_id = agent_id.ok_or(CallRefused::NoAgent)?;
        Ok(AgentCaller {
            org_id: self.org_id,
            key_id: self.key_id,
            agent_id,
            token: None,
        })
    }
}

/// What an agent's access token carries to the gateway: the agent it acts as, the scopes the
/// token was issued with (at most the agent's, which are checked again at the call), and the
/// subject it acts for when it came from a token exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentToken {
    pub org_id: String,
    /// What the usage log records as the key: the API key of an exchanged key subject, else
    /// the client that holds the token.
    pub key_id: String,
    pub agent_id: String,
    pub scopes: Vec<String>,
    /// The user or API key the agent acts for (an exchanged token), else `None`.
    pub subject_id: Option<String>,
}

impl AgentToken {
    /// The caller of a call made with this token. The agent is the token's: another one named
    /// in the header or the body is refused, never obeyed.
    pub fn caller(self, named: Option<String>) -> Result<AgentCaller, CallRefused> {
        if named.is_some_and(|n| n != self.agent_id) {
            return Err(CallRefused::AgentMismatch);
        }
        Ok(AgentCaller {
            org_id: self.org_id,
            key_id: self.key_id,
            agent_id: self.agent_id,
            token: Some((self.scopes, self.subject_id)),
        })
    }
}

/// A [`Caller`] that named the agent its call is for (not yet checked: [`prepare_call`] does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentCaller {
    org_id: String,
    key_id: String,
    agent_id: String,
    /// For an agent's access token: its scopes and the subject it acts for.
    token: Option<(Vec<String>, Option<String>)>,
}

/// The agent a call names without reading its body: the combined credential's agent first,
/// then the `X-Agent-Id` header.
pub fn agent_named(from_credential: Option<String>, header: Option<&str>) -> Option<String> {
    from_credential.or_else(|| header.map(str::to_owned))
}

/// Whether the body must be read for the agent: none named yet and a JSON body
/// (`Content-Type` starting with `application/json`).
pub fn agent_in_body(named: Option<&str>, content_type: Option<&str>) -> bool {
    named.is_none() && content_type.is_some_and(|v| v.starts_with("application/json"))
}

/// The agent of a JSON body (a string at the top level named `agentId`, or `agent_id` as
/// first accepted) and the body to forward, with both fields removed (the body is written
/// again even when it had none). Both given and differing: refused, as no agent.
pub fn take_agent_from_json(body: &[u8]) -> Result<(Option<String>, Vec<u8>), CallRefused> {
    let mut value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| CallRefused::InvalidJson)?;
    let (camel, snake) = match value.as_object_mut() {
        Some(o) => (o.remove("agentId"), o.remove("agent_id")),
        None => (None, None),
    };
    let text = |v: Option<serde_json::Value>| v.and_then(|v| v.as_str().map(str::to_owned));
    let agent = match (text(camel), text(snake)) {
        (Some(a), Some(b)) if a != b => return Err(CallRefused::NoAgent),
        (Some(a), _) | (None, Some(a)) => Some(a),
        (None, None) => None,
    };
    // Writing a `Value` back cannot fail: its keys are strings.
    let body = serde_json::to_vec(&value).map_err(|_| CallRefused::InvalidJson)?;
    Ok((agent, body))
}

/// Where a call goes, as its route names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/proxy/{service}/…`: a service by name.
    Named(String),
    /// `/{https://host}/…`: the service whose base URL is this origin (ASCII case ignored).
    Origin(String),
}

/// What a call asks for, as read from the request.
#[derive(Debug, Clone)]
pub struct CallRequest<'a> {
    pub target: Target,
    /// The path after the service (`/v1/chat/completions`), starting with `/`.
    pub path: &'a str,
    /// The raw query string, without `?` (empty for none).
    pub query: &'a str,
}

/// A call that passed every check: the only way to its upstream URL and the credential.
pub struct PreparedCall {
    org_id: String,
    key_id: String,
    agent_id: String,
    subject_id: Option<String>,
    service: Service,
    credential: Credential,
    url: Url,
    required_scope: String,
}

impl std::fmt::Debug for PreparedCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedCall")
            .field("service", &self.service.name)
            .field("url", &self.url.as_str())
            .field("agent_id", &self.agent_id)
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}

/// Runs every check of a call, in the order of the module doc, and opens the service's
/// credential (with `key`, for that service and its origin). Nothing is connected to.
pub fn prepare_call(
    conn: &mut Conn,
    key: &MasterKey,
    caller: AgentCaller,
    request: CallRequest<'_>,
) -> Result<PreparedCall, CallRefused> {
    let AgentCaller {
        org_id,
        key_id,
        agent_id,
        token,
    } = caller;
    let name = match request.target {
        Target::Named(name) => name,
        Target::Origin(origin) => crate::list_services(conn, &org_id)?
            .into_iter()
            .find(|s| s.base_url.eq_ignore_ascii_case(&origin))
            .map(|s| s.name)
            .ok_or_else(|| {
                GatewayError::Refused(format!("{origin} is not a registered service"))
            })?,
    };
    let (service, credential) = match crate::service_credential(conn, key, &org_id, &name) {
        Err(GatewayError::NotFound) => {
            return Err(GatewayError::Refused(format!("no service {name}")).into());
        }
        other => other?,
    };
    let required_scope = crate::required_scope(&service, request.path)?;
    let agent = apikeys::find_agent(conn, &agent_id)?
        .filter(|a| a.org_id == org_id)
        .ok_or(CallRefused::UnknownAgent)?;
    if !agent
        .scopes
        .iter()
        .any(|s| apikeys::scope_covers(s, &required_scope))
    {
        return Err(CallRefused::InsufficientScope(required_scope));
    }
    // A token is bound by its own scopes too (narrowed at issuance, never wider than the
    // agent's at that time; the agent's are checked above as they are now).
    let subject_id = match token {
        Some((scopes, subject)) => {
            if !scopes
                .iter()
                .any(|s| apikeys::scope_covers(s, &required_scope))
            {
                return Err(CallRefused::InsufficientScope(required_scope));
            }
            subject
        }
        None => None,
    };
    // The upstream's addresses are vetted by the server's connector, on the lookup it
    // connects with (`vetted_addrs`).
    let url = crate::upstream_url(&service, request.path, request.query)?;
    Ok(PreparedCall {
        org_id,
        key_id,
        agent_id: agent.id,
        subject_id,
        service,
        credential,
        url,
        required_scope,
    })
}

impl PreparedCall {
    /// The URL to call: the upstream URL, with the credential appended to the query when it
    /// goes there.
    pub fn url(&self) -> Url {
        let mut url = self.url.clone();
        if self.credential.kind == CredentialKind::Query {
            url.query_pairs_mut()
                .append_pair(&self.credential.name, &self.credential.value);
        }
        url
    }

    /// The headers to send upstream, from the caller's (`name` in lower case, as HTTP
    /// libraries give it): hop-by-hop headers, the caller's credentials and cookies, and
    /// forwarding headers dropped; a header credential replaces any header of its name.
    pub fn upstream_headers<'a>(
        &'a self,
        incoming: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Vec<(&'a str, &'a [u8])> {
        let injected = (self.credential.kind == CredentialKind::Header).then_some(&self.credential);
        let mut out: Vec<(&str, &[u8])> = incoming
            .into_iter()
            .filter(|(name, _)| !HOP_BY_HOP.contains(name) && !DROP_UP.contains(name))
            .filter(|(name, _)| injected.is_none_or(|c| !c.name.eq_ignore_ascii_case(name)))
            .collect();
        if let Some(c) = injected {
            out.push((c.name.as_str(), c.value.as_bytes()));
        }
        out
    }

    /// The headers to pass back, from the upstream's (lower case names): hop-by-hop headers
    /// and cookies dropped, and [`SCOPE_HEADER`] naming the scope checked (in place of any
    /// the upstream sent).
    pub fn response_headers<'a>(
        &'a self,
        incoming: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Vec<(&'a str, &'a [u8])> {
        let mut out: Vec<(&str, &[u8])> = incoming
            .into_iter()
            .filter(|(name, _)| {
                !HOP_BY_HOP.contains(name) && !DROP_DOWN.contains(name) && *name != SCOPE_HEADER
            })
            .collect();
        out.push((SCOPE_HEADER, self.required_scope.as_bytes()));
        out
    }

    /// The scope the call was checked against (`service:` + path segments).
    pub fn required_scope(&self) -> &str {
        &self.required_scope
    }

    /// The service's name, for logs.
    pub fn service_name(&self) -> &str {
        &self.service.name
    }

    /// The usage row of this call, as the proxy measured it: the endpoint is the upstream
    /// path (never the query, which may hold the credential).
    pub fn usage(
        &self,
        method: &str,
        status: u16,
        latency_ms: u128,
        bytes_in: u64,
        bytes_out: u64,
    ) -> crate::Call {
        crate::Call {
            org_id: self.org_id.clone(),
            key_id: self.key_id.clone(),
            agent_id: self.agent_id.clone(),
            subject_id: self.subject_id.clone(),
            service: self.service.name.clone(),
            endpoint: self.url.path().to_owned(),
            method: method.to_owned(),
            status,
            latency_ms,
            bytes_in,
            bytes_out,
        }
    }
}
