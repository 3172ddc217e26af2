//! The client-credentials grant (RFC 6749 §4.4).

use registration::{GrantType, VerifiedClient};

use crate::{ClientGrant, ErrorCode, Grant, OAuthError, Scope};

/// Decides a client-credentials request for an authenticated client: a [`Grant`] whose subject
/// is the client, its scope narrowed to what it asked (in its registered order), its audience
/// the requested resources or the default audience.
pub fn client_credentials(
    client: &VerifiedClient,
    scope: Option<&str>,
    resources: Vec<String>,
    default_audience: &str,
) -> Result<Grant, OAuthError> {
    if !client.is_authenticated() {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "client_credentials is for confidential clients only",
        ));
    }
    let metadata = &client.client().metadata;
    if metadata.agent_id.is_some() {
        // An agent's client is answered by `agent_client_credentials`, which reads the agent.
        return Err(OAuthError::new(
            ErrorCode::ServerError,
            "an agent's client reached the plain client-credentials grant",
        ));
    }
    if !metadata.allows_grant(GrantType::ClientCredentials) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client is not registered for client_credentials",
        ));
    }
    let registered = Scope::from_tokens(metadata.scopes());
    let scope = match scope {
        None => registered,
        Some(requested) => registered
            .narrow_to(&Scope::parse(requested)?)
            .map_err(|_| {
                OAuthError::new(
                    ErrorCode::InvalidScope,
                    "a requested scope is not registered for this client",
                )
            })?,
    };
    let audience = if resources.is_empty() {
        vec![default_audience.to_owned()]
    } else {
        resources
    };
    Ok(Grant::Client(ClientGrant {
        client_id: client.id().to_owned(),
        scope,
        audience,
        ttl: None,
    }))
}
