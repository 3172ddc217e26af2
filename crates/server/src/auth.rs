//! Bearer tokens as requests carry them, and the client's address. Checking a token for use
//! is `access::verify_access_token`.

use actix_web::HttpRequest;
use actix_web::http::header::AUTHORIZATION;

use crate::state::AppState;

/// The token of `Authorization: Bearer <token>`, if the request carries one.
pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
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
