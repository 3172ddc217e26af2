//! The refresh-token grant (RFC 6749 §6) over the rotating families of [`crate::family`], the
//! first-party JSON sign-in, and the decisions of revocation (RFC 7009) and introspection
//! (RFC 7662) for refresh and access tokens.

use registration::{GrantType, VerifiedClient};
use store::Conn;

use crate::code::user_audience;
use crate::grant::sign_user;
use crate::{ErrorCode, GrantError, Issued, Policy, Scope, Sign, UserGrant, select_resources};

/// A refresh request (RFC 6749 §6): the token, and the narrower scope and resources asked.
#[derive(Debug, Clone, Copy)]
pub struct RefreshRequest<'a> {
    pub token: &'a str,
    pub scope: Option<&'a str>,
    pub resources: &'a [String],
}

/// Rotates a refresh token of `client` and issues the next access token (and ID token, for an
/// OpenID Connect grant). The scope may be narrowed, never widened (§6); the resources likewise
/// (RFC 8707 §2.2). Reuse of a rotated token revokes the family ([`crate::family`]).
pub fn refresh(
    conn: &mut Conn,
    signer: &dyn Sign,
    client: &VerifiedClient,
    request: &RefreshRequest<'_>,
    policy: &Policy<'_>,
    now: i64,
) -> Result<Issued, GrantError> {
    if !client
        .client()
        .metadata
        .allows_grant(GrantType::RefreshToken)
    {
        return Err(GrantError::refused(
            ErrorCode::UnauthorizedClient,
            "this client is not registered for the refresh_token grant",
        ));
    }
    let asked = request.scope.map(Scope::from_stored);
    let default_audience = user_audience(policy, client.client());
    let outcome = crate::family::rotate_refresh(
        conn,
        request.token,
        client.id(),
        (now, policy.refresh_ttl, policy.refresh_grace),
        |conn, family| -> Result<_, GrantError> {
            // RFC 9449 §5: a bound family is refreshed only with a proof of its key.
            if let Some(bound) = family.dpop_jkt.as_deref()
                && signer.dpop_jkt() != Some(bound)
            {
                return Err(GrantError::refused(
                    ErrorCode::InvalidGrant,
                    "the refresh token is bound to a DPoP key this request does not prove",
                ));
            }
            let granted = Scope::from_stored(family.scope.as_deref().unwrap_or(""));
            let scope = match &asked {
                None => granted,
                Some(asked) => granted.narrow_to(asked).map_err(|extra| {
                    GrantError::refused(
                        ErrorCode::InvalidScope,
                        format!("{extra} was not granted; a refresh can narrow the scope, never widen it"),
                    )
                })?,
            };
            // RFC 8707 §2.2: the resources of the original grant, or fewer; never others.
            let audience =
                select_resources(&family.resources, request.resources, &default_audience)?;
            // A registered resource's scopes only in a token for it; its lifetime, if it sets one.
            let (scope, ttl) = crate::resources::token_terms(conn, &scope, &audience)?;
            let user = accounts::find_user(conn, &family.user_id)?
                .filter(|u| !u.disabled)
                .ok_or(accounts::AccountError::TokenInvalid)?;
            let grant = UserGrant {
                user,
                client_id: client.id().to_owned(),
                id_token_alg: client
                    .client()
                    .metadata
                    .id_token_signed_response_alg
                    .clone(),
                scope,
                audience,
                ttl,
                auth_time: family.auth_time,
                amr: family.amr.clone(),
                nonce: None,
                sid: None,
            };
            let signed = sign_user(signer, grant, now)?;
            let (jti, exp) = (signed.0.jti.clone(), signed.0.expires_at);
            Ok((signed, jti, exp))
        },
    )?;
    let (access, id_token, grant) = outcome.access;
    Ok(Issued {
        grant,
        access,
        refresh: Some(outcome.refresh),
        id_token,
    })
}

/// What introspection may say of a refresh token (RFC 7662 §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshIntrospection {
    pub client_id: String,
    pub user_id: String,
    pub scope: Option<String>,
    pub issued_at: i64,
    pub expires_at: i64,
}

/// A refresh token the token endpoint would take right now from `caller`, or `None`. Only the
/// client a refresh token was issued to may learn about it: a refresh token is never meant for
/// a resource server, so anyone else holding one holds a leaked credential, and is told
/// `active: false` (RFC 7662 §2.2, §4). The client must still be registered for the refresh
/// grant, as the token endpoint requires.
pub fn introspect_refresh(
    conn: &mut Conn,
    caller: &VerifiedClient,
    token: &str,
    policy: &Policy<'_>,
    now: i64,
) -> Result<Option<RefreshIntrospection>, GrantError> {
    let Some(active) = crate::family::inspect_refresh(conn, token, now, policy.refresh_grace)?
    else {
        return Ok(None);
    };
    let family = active.family;
    if family.client_id != caller.id() {
        return Ok(None);
    }
    // The caller is the family's client (checked above), as the token endpoint resolved it
    // (a stored client, or one described by its metadata document).
    let client_may_refresh = caller
        .client()
        .metadata
        .allows_grant(GrantType::RefreshToken);
    if !client_may_refresh {
        return Ok(None);
    }
    Ok(Some(RefreshIntrospection {
        client_id: family.client_id,
        user_id: family.user_id,
        scope: family.scope.filter(|s| !s.is_empty()),
        issued_at: active.issued_at,
        expires_at: active.expires_at,
    }))
}

/// RFC 7009 §2.1: the server "verifies whether the token was issued to the client making the
/// revocation request. If this validation fails, the request is refused and the client is
/// informed of the error", in the RFC 6749 §5.2 shape (§2.2.1). The RFC names no code for it;
/// `unauthorized_client` (the client is authenticated but not allowed this) is what Keycloak
/// and Hydra answer, and the token is left as it was.
fn not_issued_to_caller() -> GrantError {
    GrantError::refused(
        ErrorCode::UnauthorizedClient,
        "the token was not issued to this client",
    )
}

/// Revokes a refresh token of `client`: its whole family and the access tokens issued from it
/// (RFC 7009 §2.1). False when `token` is not one of our refresh tokens. A revoked or used
/// token still names its family, so revoking it again is harmless.
pub fn revoke_refresh(
    conn: &mut Conn,
    client: &VerifiedClient,
    token: &str,
    now: i64,
) -> Result<bool, GrantError> {
    match crate::family::revoke_for_client(conn, token, client.id(), now) {
        Ok(Some(family)) => {
            tracing::info!(client_id = client.id(), family = %family.id, "refresh token revoked with its family");
            Ok(true)
        }
        Ok(None) => Ok(false),
        Err(accounts::AccountError::Forbidden) => Err(not_issued_to_caller()),
        Err(e) => Err(e.into()),
    }
}

/// An access token whose signature, issuer and lifetime were verified (by the caller, which
/// holds the keys): what revocation needs of it.
#[derive(Debug, Clone, Copy)]
pub struct VerifiedAccess<'a> {
    pub jti: &'a str,
    pub exp: i64,
    pub client_id: &'a str,
}

/// Revokes an access token of `client` (RFC 7009 §2.1): its `jti` goes on the revocation list
/// until it would have expired.
pub fn revoke_access(
    conn: &mut Conn,
    client: &VerifiedClient,
    token: VerifiedAccess<'_>,
    now: i64,
) -> Result<(), GrantError> {
    if token.client_id != client.id() {
        return Err(not_issued_to_caller());
    }
    store::keys::revoke_access_token(conn, token.jti, token.exp)?;
    store::keys::purge_expired_revocations(conn, now)?;
    tracing::info!(client_id = client.id(), jti = %token.jti, "access token revoked");
    Ok(())
}

/// Signs the first-party JSON sign-in of a user this server authenticated (the sign-in,
/// sign-up and invite routes of the JSON API): an access token for the first-party API and a
/// new refresh family, which remembers how the user signed in (`amr`).
pub fn first_party_sign_in(
    conn: &mut Conn,
    signer: &dyn Sign,
    user: &accounts::User,
    amr: &accounts::AuthMethods,
    policy: &Policy<'_>,
    now: i64,
) -> Result<Issued, GrantError> {
    let grant = UserGrant::first_party(user.clone(), now, amr.clone());
    let (access, _, grant) = sign_user(signer, grant, now)?;
    let family = crate::family::Family {
        id: String::new(),
        user_id: user.id.clone(),
        client_id: crate::family::FIRST_PARTY_CLIENT.to_owned(),
        scope: None,
        auth_time: now,
        amr: amr.clone(),
        resources: Vec::new(),
        dpop_jkt: None,
    };
    let refresh = crate::family::start_family(
        conn,
        &family,
        now,
        policy.refresh_ttl,
        (&access.jti, access.expires_at),
    )?;
    Ok(Issued {
        grant,
        access,
        refresh: Some(refresh.token),
        id_token: None,
    })
}

/// Rotates a first-party refresh token (`POST /api/v1/auth/refresh`). Account errors come back
/// as they are, for the JSON API to answer in its own shape.
pub fn first_party_refresh(
    conn: &mut Conn,
    signer: &dyn Sign,
    token: &str,
    policy: &Policy<'_>,
    now: i64,
) -> Result<Issued, GrantError> {
    let outcome = crate::family::rotate_refresh(
        conn,
        token,
        crate::family::FIRST_PARTY_CLIENT,
        (now, policy.refresh_ttl, policy.refresh_grace),
        |conn, family| -> Result<_, GrantError> {
            let user = accounts::find_user(conn, &family.user_id)?
                .filter(|u| !u.disabled)
                .ok_or(accounts::AccountError::TokenInvalid)?;
            let signed = sign_user(
                signer,
                UserGrant::first_party(user, family.auth_time, family.amr.clone()),
                now,
            )?;
            let (jti, exp) = (signed.0.jti.clone(), signed.0.expires_at);
            Ok((signed, jti, exp))
        },
    )?;
    let (access, _, grant) = outcome.access;
    Ok(Issued {
        grant,
        access,
        refresh: Some(outcome.refresh),
        id_token: None,
    })
}

impl UserGrant {
    /// The grant of the first-party JSON API: its own client and audience, no scope.
    fn first_party(user: accounts::User, auth_time: i64, amr: accounts::AuthMethods) -> Self {
        Self {
            user,
            client_id: crate::family::FIRST_PARTY_CLIENT.to_owned(),
            id_token_alg: String::new(),
            scope: Scope::default(),
            audience: vec![crate::FIRST_PARTY_AUDIENCE.to_owned()],
            ttl: None,
            auth_time,
            amr,
            nonce: None,
            sid: None,
        }
    }
}

/// Signs out of the first-party JSON API (`POST /api/v1/auth/logout`): the refresh token's
/// family is revoked, and the access token sent with the request, if it was verified as ours.
pub fn first_party_sign_out(
    conn: &mut Conn,
    refresh_token: &str,
    access: Option<VerifiedAccess<'_>>,
    now: i64,
) -> Result<(), GrantError> {
    crate::family::revoke_family(conn, refresh_token, "logout", now)?;
    if let Some(access) = access {
        store::keys::revoke_access_token(conn, access.jti, access.exp)?;
    }
    Ok(())
}
