//! Agents as OAuth clients, and token exchange (RFC 8693).
//!
//! An agent's client (a confidential client bound to one agent, `agent_clients`) gets, with
//! client credentials, a token whose subject is the agent, with at most the agent's scopes as
//! they are at that moment ([`agent_client_credentials`]).
//!
//! A token exchange ([`token_exchange`]) takes a subject and an actor that the server verified
//! (it alone can check a token's signature, revocation and owner) and decides:
//! - **who may act for whom** (the `may_act` policy): a user's subject token only for an actor
//!   the user allowed (`may_act` rows, set by the user); an organization API key only for an
//!   agent of the same organization (the organization made both); a subject token that carries
//!   `may_act` itself only for the actor it names (§4.4);
//! - **the scope**: what is asked (or, when nothing is, all that is left), each token held by
//!   the subject and covered by the actor; asking for more is `invalid_scope`, never a wider
//!   token;
//! - **the audience**: the `resource` and `audience` values asked for (none: this server), none
//!   of them reserved (`invalid_target`);
//! - **the lifetime**: never beyond the subject token's own expiry (the server also caps it);
//! - **`act`**: the actor, with the subject token's own `act` nested inside (§4.1), so a chain
//!   of delegations stays visible.
//!
//! RFC 8693 §2.2.2: a subject or actor token that is invalid, or unacceptable by policy, is
//! `invalid_request`.

use registration::VerifiedClient;
use store::Conn;

use crate::grant::{Act, AgentGrant, ExchangedGrant};
use crate::{ErrorCode, FormParams, Grant, GrantError, OAuthError, Scope};

/// `subject_token_type` / `actor_token_type` / `issued_token_type`: an access token.
pub const TOKEN_TYPE_ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
/// An ID token (RFC 8693 §3): a subject only for the client it was issued to.
pub const TOKEN_TYPE_ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
/// A refresh token (RFC 8693 §3): never accepted as a subject or actor.
pub const TOKEN_TYPE_REFRESH_TOKEN: &str = "urn:ietf:params:oauth:token-type:refresh_token";
/// Ours: an organization API key (`pcl_…`) as the subject.
pub const TOKEN_TYPE_API_KEY: &str = "urn:portcullis:token-type:api_key";

/// The subject token types accepted. An ID token says who signed in to a client (its audience
/// is that client), not what anyone may do: it is a subject only when that client exchanges
/// it, and then for no more than the user allowed that client. A refresh token never leaves
/// the client it was issued to, so it is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectTokenType {
    AccessToken,
    IdToken,
    ApiKey,
}

/// A token-exchange request (RFC 8693 §2.1). `Debug` leaves out the tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct ExchangeRequest {
    pub subject_token: String,
    pub subject_token_type: SubjectTokenType,
    /// The actor's access token, when one is sent (else the client acts).
    pub actor_token: Option<String>,
    /// `resource` values (absolute URIs) and `audience` values (any name), together the
    /// token's audience.
    pub audience: Vec<String>,
    pub scope: Option<String>,
}

impl std::fmt::Debug for ExchangeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExchangeRequest")
            .field("subject_token_type", &self.subject_token_type)
            .field("actor_token", &self.actor_token.as_ref().map(|_| "…"))
            .field("audience", &self.audience)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl ExchangeRequest {
    /// Parses the fields of a token-exchange form (`grant_type` already read).
    pub fn parse(form: &FormParams) -> Result<Self, OAuthError> {
        let subject_token = form
            .get("subject_token")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthError::invalid_request("subject_token is missing"))?;
        let subject_token_type = match form.get("subject_token_type") {
            None => {
                return Err(OAuthError::invalid_request("subject_token_type is missing"));
            }
            Some(TOKEN_TYPE_ACCESS_TOKEN) => SubjectTokenType::AccessToken,
            Some(TOKEN_TYPE_API_KEY) => SubjectTokenType::ApiKey,
            Some(TOKEN_TYPE_ID_TOKEN) => SubjectTokenType::IdToken,
            Some(TOKEN_TYPE_REFRESH_TOKEN) => {
                return Err(OAuthError::invalid_request(
                    "a refresh token cannot be exchanged",
                ));
            }
            Some(other) => {
                return Err(OAuthError::invalid_request(format!(
                    "subject_token_type {other} is not supported"
                )));
            }
        };
        let actor_token = match (form.get("actor_token"), form.get("actor_token_type")) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(OAuthError::invalid_request("actor_token_type is missing"));
            }
            (None, Some(_)) => {
                return Err(OAuthError::invalid_request(
                    "actor_token_type without actor_token",
                ));
            }
            (Some(token), Some(TOKEN_TYPE_ACCESS_TOKEN)) if !token.is_empty() => {
                Some(token.to_owned())
            }
            (Some(_), Some(TOKEN_TYPE_ACCESS_TOKEN)) => {
                return Err(OAuthError::invalid_request("actor_token is empty"));
            }
            (Some(_), Some(other)) => {
                return Err(OAuthError::invalid_request(format!(
                    "actor_token_type {other} is not supported (only {TOKEN_TYPE_ACCESS_TOKEN})"
                )));
            }
        };
        if let Some(requested) = form.get("requested_token_type")
            && requested != TOKEN_TYPE_ACCESS_TOKEN
        {
            return Err(OAuthError::invalid_request(format!(
                "requested_token_type {requested} is not issued here (only {TOKEN_TYPE_ACCESS_TOKEN})"
            )));
        }
        let mut audience = crate::parse_resources(form)?;
        for aud in form.all("audience") {
            let ok = !aud.is_empty()
                && aud.len() <= 2000
                && !aud.chars().any(|c| c.is_control() || c == ' ');
            if !ok {
                return Err(OAuthError::new(
                    ErrorCode::InvalidTarget,
                    "audience must be a name without spaces",
                ));
            }
            if crate::is_reserved_audience(aud) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidTarget,
                    "this audience is reserved for the server's own sign-in",
                ));
            }
            if !audience.iter().any(|a| a == aud) {
                audience.push(aud.to_owned());
            }
        }
        if audience.len() > 10 {
            return Err(OAuthError::new(
                ErrorCode::InvalidTarget,
                "at most 10 resources and audiences",
            ));
        }
        Ok(Self {
            subject_token: subject_token.to_owned(),
            subject_token_type,
            actor_token,
            audience,
            scope: form.get("scope").map(str::to_owned),
        })
    }
}

/// An organization's agent, as its client or token names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundAgent {
    pub agent_id: String,
    pub org_id: String,
    /// The agent's `service:resource:action` scopes as they are now.
    pub scopes: Vec<String>,
}

/// The agent `client` is bound to (its `agent_clients` row, the agent as it is now), or
/// `None` for an ordinary client. A binding whose agent is gone, or moved organization, is
/// `invalid_client`.
pub fn bound_agent(conn: &mut Conn, client_id: &str) -> Result<Option<BoundAgent>, GrantError> {
    let Some(row) = store::delegation::find_agent_client(conn, client_id)? else {
        return Ok(None);
    };
    let agent = apikeys::find_agent(conn, &row.agent_id)
        .map_err(|e| GrantError::Agent(e.to_string()))?
        .filter(|a| a.org_id == row.org_id)
        .ok_or_else(|| {
            GrantError::refused(
                ErrorCode::InvalidClient,
                "the client's agent no longer exists",
            )
        })?;
    Ok(Some(BoundAgent {
        agent_id: agent.id,
        org_id: agent.org_id,
        scopes: agent.scopes,
    }))
}

/// OAuth credentials of an agent: a confidential client bound to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentCredential {
    pub client_id: String,
    pub agent_id: String,
    pub created_at: i64,
}

/// Gives the agent `agent_id` of `org_id` OAuth credentials: a confidential client (its secret
/// in the answer, shown once; only its hash is stored) bound to the agent. An agent holding
/// `*` is the owners' alone (`by_owner`), as changing it is.
pub fn create_agent_client(
    conn: &mut Conn,
    org_id: &str,
    agent_id: &str,
    by_owner: bool,
    now: i64,
) -> Result<registration::Registered, GrantError> {
    create_agent_client_with_keys(conn, org_id, agent_id, by_owner, None, now)
}

/// The public keys of an agent's client that authenticates with `private_key_jwt`: a JWK Set
/// or the https URL where the agent publishes one.
#[derive(Debug, Clone)]
pub enum AgentKeys {
    Jwks(serde_json::Value),
    JwksUri(String),
}

/// [`create_agent_client`]; with `keys`, a `private_key_jwt` client without a secret.
pub fn create_agent_client_with_keys(
    conn: &mut Conn,
    org_id: &str,
    agent_id: &str,
    by_owner: bool,
    keys: Option<AgentKeys>,
    now: i64,
) -> Result<registration::Registered, GrantError> {
    let agent = apikeys::agent_to_manage(conn, org_id, agent_id, by_owner)
        .map_err(|e| GrantError::Agent(e.to_string()))?;
    let metadata = match keys {
        None => registration::agent_client_metadata(&agent.id, &agent.name),
        Some(keys) => {
            let (jwks, uri) = match keys {
                AgentKeys::Jwks(set) => (Some(set), None),
                AgentKeys::JwksUri(uri) => (None, Some(uri)),
            };
            registration::agent_client_metadata_with_keys(&agent.id, &agent.name, jwks, uri)
                .map_err(|e| GrantError::Agent(e.description))?
        }
    };
    let registered = registration::register_client_with(conn, metadata, false, false, now)?;
    store::delegation::insert_agent_client(
        conn,
        &store::delegation::AgentClientRow {
            client_id: registered.client.id.clone(),
            agent_id: agent.id,
            org_id: agent.org_id,
            created_at: now,
        },
    )?;
    Ok(registered)
}

/// The OAuth credentials of an agent of `org_id`, oldest first.
pub fn agent_clients(
    conn: &mut Conn,
    org_id: &str,
    agent_id: &str,
) -> Result<Vec<AgentCredential>, GrantError> {
    Ok(store::delegation::clients_of_agent(conn, agent_id)?
        .into_iter()
        .filter(|r| r.org_id == org_id)
        .map(|r| AgentCredential {
            client_id: r.client_id,
            agent_id: r.agent_id,
            created_at: r.created_at,
        })
        .collect())
}

/// Withdraws one OAuth credential of an agent of `org_id`: the client and its binding are
/// deleted (its tokens stop verifying, as a deleted client's do). False when the agent has no
/// such credential.
pub fn delete_agent_client(
    conn: &mut Conn,
    org_id: &str,
    agent_id: &str,
    client_id: &str,
) -> Result<bool, GrantError> {
    let Some(row) = store::delegation::find_agent_client(conn, client_id)? else {
        return Ok(false);
    };
    if row.org_id != org_id || row.agent_id != agent_id {
        return Ok(false);
    }
    registration::delete_client(conn, client_id)?;
    store::delegation::delete_agent_client(conn, client_id)?;
    Ok(true)
}

/// Deletes every OAuth credential of an agent (the agent is being deleted), returning the
/// client ids deleted.
pub fn delete_clients_of_agent(conn: &mut Conn, agent_id: &str) -> Result<Vec<String>, GrantError> {
    let mut gone = Vec::new();
    for row in store::delegation::clients_of_agent(conn, agent_id)? {
        registration::delete_client(conn, &row.client_id)?;
        store::delegation::delete_agent_client(conn, &row.client_id)?;
        gone.push(row.client_id);
    }
    Ok(gone)
}

/// One actor a user allows (the may_act policy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedActor {
    /// An agent id (`agt_…`) or a client id.
    pub actor_id: String,
    pub created_at: i64,
}

/// The actors `user_id` allows to act for them, oldest first.
pub fn allowed_actors(conn: &mut Conn, user_id: &str) -> Result<Vec<AllowedActor>, GrantError> {
    Ok(store::delegation::actors_of(conn, user_id)?
        .into_iter()
        .map(|r| AllowedActor {
            actor_id: r.actor_id,
            created_at: r.created_at,
        })
        .collect())
}

/// How an actor is named to a user who belongs to the organizations `member_of`: an agent of one
/// of them by its name, anything else by its id alone (an agent's name is its organization's).
pub fn actor_label(conn: &mut Conn, actor_id: &str, member_of: &[String]) -> String {
    match apikeys::find_agent(conn, actor_id) {
        Ok(Some(agent)) if member_of.contains(&agent.org_id) => {
            format!("{} ({})", agent.name, agent.id)
        }
        _ => actor_id.to_owned(),
    }
}

/// `user_id` allows `actor_id` (an agent or a client that exists: `Ok(false)` otherwise) to
/// act for them through token exchange. Allowing twice keeps the first time.
pub fn allow_actor(
    conn: &mut Conn,
    user_id: &str,
    actor_id: &str,
    now: i64,
) -> Result<bool, GrantError> {
    let exists = if actor_id.starts_with("agt_") {
        apikeys::find_agent(conn, actor_id)
            .map_err(|e| GrantError::Agent(e.to_string()))?
            .is_some()
    } else {
        registration::find_client(conn, actor_id)?.is_some()
    };
    if !exists {
        return Ok(false);
    }
    store::delegation::allow_actor(
        conn,
        &store::delegation::MayActRow {
            subject_id: user_id.to_owned(),
            actor_id: actor_id.to_owned(),
            created_at: now,
        },
    )?;
    Ok(true)
}

/// Withdraws the leave `user_id` gave `actor_id`; false when there was none.
pub fn disallow_actor(conn: &mut Conn, user_id: &str, actor_id: &str) -> Result<bool, GrantError> {
    Ok(store::delegation::disallow_actor(conn, user_id, actor_id)?)
}

/// Whether some scope of `held` covers `asked` (`service:*` covers `service:x:y`; `*` all).
fn covers(held: &[String], asked: &str) -> bool {
    held.iter().any(|h| apikeys::scope_covers(h, asked))
}

/// Client credentials for an agent's client: a token for the agent, with the scopes asked
/// (each covered by one of the agent's) or, when none is asked, all the agent's.
pub fn agent_client_credentials(
    conn: &mut Conn,
    client: &VerifiedClient,
    scope: Option<&str>,
    resources: Vec<String>,
    default_audience: &str,
) -> Result<Grant, GrantError> {
    if !client.is_authenticated() {
        return Err(GrantError::refused(
            ErrorCode::UnauthorizedClient,
            "client_credentials is for confidential clients only",
        ));
    }
    let agent = bound_agent(conn, client.id())?.ok_or_else(|| {
        GrantError::refused(ErrorCode::InvalidClient, "the client is not an agent's")
    })?;
    let scope = match scope {
        None => Scope::from_tokens(&agent.scopes),
        Some(asked) => {
            let asked = Scope::parse(asked)?;
            if let Some(extra) = asked.iter().find(|s| !covers(&agent.scopes, s)) {
                return Err(GrantError::refused(
                    ErrorCode::InvalidScope,
                    format!("the agent does not hold {extra}"),
                ));
            }
            asked
        }
    };
    let audience = if resources.is_empty() {
        vec![default_audience.to_owned()]
    } else {
        resources
    };
    let scope = crate::resources::scope_for_audience(conn, &scope, &audience)?;
    Ok(Grant::Agent(AgentGrant {
        client_id: client.id().to_owned(),
        agent_id: agent.agent_id,
        org_id: agent.org_id,
        scope,
        audience,
    }))
}

/// The subject of an exchange, as the server verified its token.
#[derive(Debug, Clone)]
pub struct VerifiedSubject {
    pub kind: SubjectKind,
    /// The subject token's scopes; `None` for an API key holding `authorize` (the actor's
    /// scopes then bound the token).
    pub scopes: Option<Vec<String>>,
    /// When the subject token stops being valid (`exp`, a key's expiry).
    pub expires_at: Option<i64>,
    /// The subject token's own `act`, when it was itself delegated.
    pub act: Option<Act>,
    /// The subject token's `may_act` claim (§4.4): who it allows to act, if it says.
    pub may_act: Option<String>,
}

/// Whose the subject token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectKind {
    User { id: String },
    ApiKey { key_id: String, org_id: String },
}

/// The actor of an exchange: an agent (its access token, or its client), or a client.
#[derive(Debug, Clone)]
pub enum Actor {
    Agent {
        agent: BoundAgent,
        /// The client the agent's token was issued to.
        client_id: String,
        /// The agent token's own scopes (its actor's reach is the narrower of these and the
        /// agent's).
        token_scopes: Vec<String>,
    },
    Client {
        client_id: String,
        scopes: Vec<String>,
    },
}

impl Actor {
    fn id(&self) -> &str {
        match self {
            Self::Agent { agent, .. } => &agent.agent_id,
            Self::Client { client_id, .. } => client_id,
        }
    }

    fn client_id(&self) -> &str {
        match self {
            Self::Agent { client_id, .. } | Self::Client { client_id, .. } => client_id,
        }
    }

    fn holds(&self, scope: &str) -> bool {
        match self {
            Self::Agent {
                agent,
                token_scopes,
                ..
            } => covers(&agent.scopes, scope) && covers(token_scopes, scope),
            Self::Client { scopes, .. } => scopes.iter().any(|s| s == scope),
        }
    }

    /// The scopes the actor holds, as a list (for a subject that does not bound them).
    fn scopes(&self) -> Vec<String> {
        match self {
            Self::Agent { token_scopes, .. } => token_scopes
                .iter()
                .filter(|s| self.holds(s))
                .cloned()
                .collect(),
            Self::Client { scopes, .. } => scopes.clone(),
        }
    }
}

/// Decides a token exchange for an authenticated client (RFC 8693 §2): the policy, the scope,
/// the audience and the lifetime cap, into a grant for the subject acted on by the actor.
pub fn token_exchange(
    conn: &mut Conn,
    client: &VerifiedClient,
    subject: VerifiedSubject,
    actor: Actor,
    request: &ExchangeRequest,
    default_audience: &str,
) -> Result<Grant, GrantError> {
    if !client.is_authenticated() {
        return Err(GrantError::refused(
            ErrorCode::UnauthorizedClient,
            "token exchange is for confidential clients only",
        ));
    }
    if !client
        .client()
        .metadata
        .allows_grant(registration::GrantType::TokenExchange)
    {
        return Err(GrantError::refused(
            ErrorCode::UnauthorizedClient,
            "this client is not registered for token exchange",
        ));
    }
    let refused = |why: &str| GrantError::refused(ErrorCode::InvalidRequest, why);
    // Who may act for whom.
    if let Some(allowed) = &subject.may_act
        && allowed != actor.id()
    {
        return Err(refused(
            "the subject token's may_act does not name this actor",
        ));
    }
    let org_id = match (&subject.kind, &actor) {
        (SubjectKind::User { id }, actor) => {
            if !store::delegation::may_act_allows(conn, id, actor.id())? {
                return Err(refused(
                    "the user has not allowed this actor to act for them",
                ));
            }
            match actor {
                Actor::Agent { agent, .. } => Some(agent.org_id.clone()),
                Actor::Client { .. } => None,
            }
        }
        (SubjectKind::ApiKey { org_id, .. }, Actor::Agent { agent, .. }) => {
            if agent.org_id != *org_id {
                return Err(refused(
                    "an organization's key may be acted on only by its own agents",
                ));
            }
            Some(org_id.clone())
        }
        (SubjectKind::ApiKey { .. }, Actor::Client { .. }) => {
            return Err(refused(
                "an organization's key may be acted on only by its own agents",
            ));
        }
    };
    // The scope: asked ∩ held by the subject ∩ held by the actor.
    let subject_holds = |s: &str| {
        subject
            .scopes
            .as_ref()
            .is_none_or(|held| held.iter().any(|h| h == s))
    };
    let scope = match &request.scope {
        Some(asked) => {
            let asked = Scope::parse(asked)?;
            if let Some(extra) = asked.iter().find(|s| !subject_holds(s) || !actor.holds(s)) {
                return Err(GrantError::refused(
                    ErrorCode::InvalidScope,
                    format!("{extra} is not held by both the subject and the actor"),
                ));
            }
            asked
        }
        None => match &subject.scopes {
            Some(held) => Scope::from_tokens(held.iter().filter(|s| actor.holds(s))),
            None => Scope::from_tokens(actor.scopes()),
        },
    };
    if scope.is_empty() {
        return Err(GrantError::refused(
            ErrorCode::InvalidScope,
            "the subject and the actor hold no scope in common",
        ));
    }
    let audience = if request.audience.is_empty() {
        vec![default_audience.to_owned()]
    } else {
        request.audience.clone()
    };
    // A registered resource's scopes only in a token for it (as for every other grant).
    let scope = crate::resources::scope_for_audience(conn, &scope, &audience)?;
    if scope.is_empty() {
        return Err(GrantError::refused(
            ErrorCode::InvalidScope,
            "none of the scopes belongs to the audience asked",
        ));
    }
    let (subject_id, subject_act, expires_at) = (
        match &subject.kind {
            SubjectKind::User { id } => id.clone(),
            SubjectKind::ApiKey { key_id, .. } => key_id.clone(),
        },
        subject.act.map(Box::new),
        subject.expires_at.unwrap_or(i64::MAX),
    );
    Ok(Grant::Exchanged(ExchangedGrant {
        subject: subject_id,
        org_id,
        client_id: client.id().to_owned(),
        scope,
        audience,
        act: Act {
            sub: actor.id().to_owned(),
            client_id: Some(actor.client_id().to_owned()),
            act: subject_act,
        },
        expires_at,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<ExchangeRequest, OAuthError> {
        ExchangeRequest::parse(&FormParams::parse(body.as_bytes()).expect("form"))
    }

    const AT: &str = "urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token";

    #[test]
    fn rfc8693_2_2_2_bad_requests_are_invalid_request_or_invalid_target() {
        let cases = [
            (String::new(), ErrorCode::InvalidRequest),
            (format!("subject_token_type={AT}"), ErrorCode::InvalidRequest),
            ("subject_token=t".to_owned(), ErrorCode::InvalidRequest),
            (
                "subject_token=t&subject_token_type=urn:x".to_owned(),
                ErrorCode::InvalidRequest,
            ),
            (
                "subject_token=t&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Arefresh_token".to_owned(),
                ErrorCode::InvalidRequest,
            ),
            (
                format!("subject_token=t&subject_token_type={AT}&actor_token=a"),
                ErrorCode::InvalidRequest,
            ),
            (
                format!("subject_token=t&subject_token_type={AT}&actor_token_type={AT}"),
                ErrorCode::InvalidRequest,
            ),
            (
                format!("subject_token=t&subject_token_type={AT}&actor_token=a&actor_token_type=urn:x"),
                ErrorCode::InvalidRequest,
            ),
            (
                format!("subject_token=t&subject_token_type={AT}&requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Arefresh_token"),
                ErrorCode::InvalidRequest,
            ),
            (
                format!("subject_token=t&subject_token_type={AT}&resource=relative"),
                ErrorCode::InvalidTarget,
            ),
            (
                format!("subject_token=t&subject_token_type={AT}&audience=urn%3Aportcullis%3Afirst-party"),
                ErrorCode::InvalidTarget,
            ),
        ];
        for (body, code) in cases {
            assert_eq!(parse(&body).expect_err(&body).code, code, "{body}");
        }
        let ok = parse(&format!(
            "subject_token=secret-subject&subject_token_type={AT}&actor_token=secret-actor&actor_token_type={AT}&audience=billing&resource=https://api.example/&requested_token_type={AT}"
        ))
        .expect("ok");
        assert_eq!(ok.audience, ["https://api.example/", "billing"]);
        let shown = format!("{ok:?}");
        assert!(
            !shown.contains("secret-"),
            "Debug hides the tokens: {shown}"
        );
    }
}
