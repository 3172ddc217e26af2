//! Bearer tokens as requests carry them, the first-party access tokens we issue to signed-in
//! users, and the client's address. Checking a token for use is `access::verify_access_token`.

use actix_web::HttpRequest;
use actix_web::http::header::AUTHORIZATION;
use store::Conn;
use tokens::{AccessTokenSpec, IssuedAccessToken};

use crate::errors::ApiError;
use crate::state::AppState;

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
