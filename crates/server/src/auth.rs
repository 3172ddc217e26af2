//! Who is calling: bearer access tokens on the JSON API, and the access tokens we issue to
//! signed-in users.

use actix_web::HttpRequest;
use actix_web::http::header::AUTHORIZATION;
use store::Conn;
use tokens::{AccessClaims, AccessTokenSpec, IssuedAccessToken, VerifyError};

use crate::app::AppState;
use crate::errors::ApiError;

/// A user authenticated by an access token of ours.
#[derive(Debug, Clone)]
pub struct ApiUser {
    pub user: accounts::User,
    pub claims: AccessClaims,
}

/// The token of `Authorization: Bearer <token>`, if the request carries one.
pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// Verifies an access token for the JSON API: ours, unexpired, not revoked, meant for this
/// server (`aud` holds the default audience) and naming a user who exists and is enabled.
/// Blocking: call it inside `web::block`.
pub fn user_from_token(
    state: &AppState,
    conn: &mut Conn,
    token: &str,
) -> Result<ApiUser, ApiError> {
    let verified =
        state
            .keys
            .verify_access(conn, token, state.settings.issuer_str(), state.now())?;
    let claims = match verified {
        Ok(claims) => claims,
        Err(VerifyError::Expired) => {
            return Err(ApiError::unauthenticated(
                "token_expired",
                "The access token has expired.",
            ));
        }
        Err(_) => return Err(invalid_token()),
    };
    if !claims.aud.contains(&state.settings.default_audience)
        || store::keys::is_access_token_revoked(conn, &claims.jti)?
    {
        return Err(invalid_token());
    }
    match accounts::find_user(conn, &claims.sub)? {
        Some(user) if !user.disabled => Ok(ApiUser { user, claims }),
        _ => Err(invalid_token()),
    }
}

fn invalid_token() -> ApiError {
    ApiError::unauthenticated("invalid_token", "The access token is not valid.")
}

/// The authenticated user of an API request, or 401.
pub async fn require_user(req: &HttpRequest, state: &AppState) -> Result<ApiUser, ApiError> {
    let token = bearer_token(req).ok_or_else(|| {
        ApiError::unauthenticated(
            "missing_credentials",
            "Send an access token as Authorization: Bearer.",
        )
    })?;
    let state = state.clone();
    actix_web::web::block(move || {
        let mut conn = state.store.conn()?;
        user_from_token(&state, &mut conn, &token)
    })
    .await?
}

/// An access token for a signed-in user of the first-party API.
pub fn issue_user_token(
    state: &AppState,
    conn: &mut Conn,
    user_id: &str,
    now: i64,
) -> Result<IssuedAccessToken, ApiError> {
    let settings = &state.settings;
    let ring = state.keys.get(conn, now)?;
    let spec = AccessTokenSpec {
        issuer: settings.issuer_str(),
        subject: user_id,
        client_id: accounts::FIRST_PARTY_CLIENT,
        audience: vec![settings.default_audience.clone()],
        scope: None,
        ttl: settings.access_token_ttl,
        alg: settings.access_token_alg,
    };
    Ok(tokens::issue_access_token(&ring, &spec, now)?)
}

/// The client's IP for throttling and the audit log: the TCP peer, or, when the peer is one of
/// `PORTCULLIS_TRUSTED_PROXIES`, the rightmost `X-Forwarded-For` (else `Forwarded: for=`)
/// address that is not (the rule is in [`crate::forwarded`]).
pub fn client_ip(req: &HttpRequest, state: &AppState) -> Option<String> {
    let peer = req.peer_addr()?.ip();
    let trusted = &state.settings.trusted_proxies;
    if trusted.is_empty() {
        return Some(peer.to_canonical().to_string());
    }
    // Bytes outside visible ASCII become U+FFFD: that entry is garbage, the line still counts.
    let values = |name: &str| -> Vec<String> {
        req.headers()
            .get_all(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    };
    let (xff, fwd) = (values("x-forwarded-for"), values("forwarded"));
    let ip = crate::forwarded::client_ip(
        peer,
        trusted,
        &xff.iter().map(String::as_str).collect::<Vec<_>>(),
        &fwd.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    Some(ip.to_string())
}
