//! The client-credentials grant (RFC 6749 §4.4).

use std::str::FromStr as _;

use oxide_auth::primitives::scope::Scope;
use registration::{GrantType, VerifiedClient};

use crate::{ErrorCode, OAuthError};

/// What a client-credentials request may be issued: the token's subject is the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentialsGrant {
    pub client_id: String,
    /// Granted scopes, space-separated, in the client's registered order; `None` when none.
    pub scope: Option<String>,
    /// The token's audiences: the requested resources, or the default audience.
    pub audience: Vec<String>,
}

/// Decides a client-credentials request for an authenticated client.
pub fn client_credentials(
    client: &VerifiedClient,
    scope: Option<&str>,
    resources: Vec<String>,
    default_audience: &str,
) -> Result<ClientCredentialsGrant, OAuthError> {
    if !client.is_authenticated() {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "client_credentials is for confidential clients only",
        ));
    }
    let metadata = &client.client().metadata;
    if !metadata.allows_grant(GrantType::ClientCredentials) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client is not registered for client_credentials",
        ));
    }
    let registered_list = metadata.scopes();
    let granted: Vec<&str> = match scope {
        None => registered_list,
        Some(requested) => {
            let requested_scope = Scope::from_str(requested).map_err(|_| {
                OAuthError::new(
                    ErrorCode::InvalidScope,
                    "the scope has characters RFC 6749 §3.3 does not allow",
                )
            })?;
            let registered = Scope::from_str(&registered_list.join(" ")).map_err(|_| {
                OAuthError::new(ErrorCode::ServerError, "stored scope is malformed")
            })?;
            if !registered.priviledged_to(&requested_scope) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    "a requested scope is not registered for this client",
                ));
            }
            let wanted: Vec<&str> = requested_scope.iter().collect();
            registered_list
                .into_iter()
                .filter(|s| wanted.contains(s))
                .collect()
        }
    };
    let audience = if resources.is_empty() {
        vec![default_audience.to_owned()]
    } else {
        resources
    };
    Ok(ClientCredentialsGrant {
        client_id: client.id().to_owned(),
        scope: (!granted.is_empty()).then(|| granted.join(" ")),
        audience,
    })
}
