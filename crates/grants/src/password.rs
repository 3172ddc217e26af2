//! The legacy password grant (RFC 6749 §4.3): off unless the operator turns it on, only for
//! clients that registered it. The adapter throttles it like the sign-in page and records the
//! outcome ([`GrantError::WrongPassword`] is a failure to count).

use registration::{GrantType, VerifiedClient};
use store::Conn;

use crate::code::user_audience;
use crate::grant::sign_user;
use crate::{ErrorCode, GrantError, Issued, Policy, Scope, Sign, UserGrant};

/// A password-grant request's credentials.
#[derive(Clone, Copy)]
pub struct PasswordAttempt<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub scope: Option<&'a str>,
}

impl std::fmt::Debug for PasswordAttempt<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordAttempt").finish_non_exhaustive()
    }
}

pub fn password_grant(
    conn: &mut Conn,
    signer: &dyn Sign,
    client: &VerifiedClient,
    attempt: &PasswordAttempt<'_>,
    hasher: &accounts::PasswordHasher,
    policy: &Policy<'_>,
    now: i64,
) -> Result<Issued, GrantError> {
    if !policy.password_grant {
        return Err(GrantError::refused(
            ErrorCode::UnsupportedGrantType,
            "the password grant is not enabled on this server",
        ));
    }
    let meta = &client.client().metadata;
    if !meta.allows_grant(GrantType::Password) {
        return Err(GrantError::refused(
            ErrorCode::UnauthorizedClient,
            "this client is not registered for the password grant",
        ));
    }
    let scope = match attempt.scope {
        None => Scope::from_tokens(meta.scopes()),
        Some(asked) => Scope::from_tokens(meta.requestable_scopes())
            .narrow_to(&Scope::from_stored(asked))
            .map_err(|extra| {
                GrantError::refused(
                    ErrorCode::InvalidScope,
                    format!("{extra} is not registered for this client"),
                )
            })?,
    };
    // The JSON API's scopes reach a third party only through the consent page, which the
    // password grant skips: they are for first-party clients here.
    if !client.client().first_party
        && let Some(api) = scope
            .iter()
            .find(|s| apikeys::describe_api_scope(s).is_some())
    {
        return Err(GrantError::refused(
            ErrorCode::InvalidScope,
            format!(
                "{api} needs the user's consent on the consent page; use the authorization code flow"
            ),
        ));
    }
    let user = match accounts::authenticate_password(
        conn,
        attempt.username,
        attempt.password,
        hasher,
        policy.require_verified_email,
    ) {
        Ok(user) => user,
        Err(accounts::AccountError::InvalidCredentials) => {
            return Err(GrantError::WrongPassword);
        }
        Err(accounts::AccountError::EmailNotVerified { .. }) => {
            return Err(GrantError::refused(
                ErrorCode::InvalidGrant,
                "the user's email address is not verified yet",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    // The password is one factor: an account that signs in with two (or must) cannot be
    // signed in by its password alone.
    if accounts::second_factors(conn, &user.id)?.any()
        || accounts::mfa_required_by_org(conn, &user.id)?
    {
        return Err(GrantError::refused(
            ErrorCode::InvalidGrant,
            "this account signs in with a second factor; use the authorization code flow",
        ));
    }
    let grant = UserGrant {
        user,
        client_id: client.id().to_owned(),
        id_token_alg: meta.id_token_signed_response_alg.clone(),
        scope,
        audience: user_audience(policy, client.client()),
        ttl: None,
        auth_time: now,
        amr: accounts::AuthMethods::password(),
        nonce: None,
        sid: None,
    };
    let scope_text = grant.scope.to_string();
    let (access, id_token, grant) = sign_user(signer, grant, now)?;
    let refresh = if meta.allows_grant(GrantType::RefreshToken) {
        let family = crate::family::Family {
            id: String::new(),
            user_id: grant.subject().to_owned(),
            client_id: client.id().to_owned(),
            scope: Some(scope_text),
            auth_time: now,
            amr: accounts::AuthMethods::password(),
            resources: Vec::new(),
            dpop_jkt: crate::family::refresh_binding(client, signer),
        };
        Some(
            crate::family::start_family(
                conn,
                &family,
                now,
                policy.refresh_ttl,
                (&access.jti, access.expires_at),
            )?
            .token,
        )
    } else {
        None
    };
    tracing::info!(user = %grant.subject(), client = client.id(), "signed in (password grant)");
    Ok(Issued {
        grant,
        access,
        refresh,
        id_token,
    })
}
