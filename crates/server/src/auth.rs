//! Bearer tokens as requests carry them, the first-party access tokens we issue to signed-in
//! users, and the client's address. Checking a token for use is `access::verify_access_token`.

use actix_web::HttpRequest;
use actix_web::http::header::AUTHORIZATION;
use store::Conn;
use tokens::{AccessTokenSpec, IssuedAccessToken};

use crate::app::AppState;
use crate::errors::ApiError;

/// The token of `Authorization: Bearer <token>`, if the request carries one.
pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
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
        audience: vec![grants::FIRST_PARTY_AUDIENCE.to_owned()],
        scope: None,
        ttl: settings.access_token_ttl,
        alg: settings.access_token_alg,
    };
    Ok(tokens::issue_access_token(&ring, &spec, now)?)
}

/// The client's IP for throttling: the TCP peer, or the proxy's `X-Forwarded-For` /
/// `Forwarded` value when `PORTCULLIS_TRUST_PROXY` says a proxy sets it.
pub fn client_ip(req: &HttpRequest, state: &AppState) -> Option<String> {
    if state.settings.trust_proxy {
        req.connection_info().realip_remote_addr().map(|ip| {
            ip.parse::<std::net::SocketAddr>()
                .map_or_else(|_| ip.to_owned(), |a| a.ip().to_string())
        })
    } else {
        req.peer_addr().map(|a| a.ip().to_string())
    }
}
