//! Bearer tokens as requests carry them, and the client's address. Checking a token for use
//! is `access::verify_access_token`.

use actix_web::HttpRequest;
use actix_web::http::header::AUTHORIZATION;

use crate::dpop::DpopRequest;
use crate::state::AppState;

/// The scheme and credential of the `Authorization` header, if it has both.
fn authorization(req: &HttpRequest) -> Option<(&str, &str)> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (!token.is_empty()).then_some((scheme, token))
}

/// The token of `Authorization: Bearer <token>`, if the request carries one.
pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    let (scheme, token) = authorization(req)?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.to_owned())
}

/// How an access token was presented to one of our resources: the scheme (`Bearer`, RFC
/// 6750, or `DPoP`, RFC 9449 §7.1) and the request's DPoP parts, which a DPoP-bound token
/// (and any token sent with the `DPoP` scheme) needs.
#[derive(Debug, Clone)]
pub struct Presentation {
    pub dpop_scheme: bool,
    pub dpop: DpopRequest,
}

impl Presentation {
    /// A token sent as `Bearer` (a header or a form field).
    pub fn bearer(req: &HttpRequest, state: &AppState) -> Self {
        Self {
            dpop_scheme: false,
            dpop: DpopRequest::of(req, state),
        }
    }
}

/// An access token and how it came. `Debug` hides the token.
#[derive(Clone)]
pub struct PresentedToken {
    pub token: String,
    pub presentation: Presentation,
}

impl std::fmt::Debug for PresentedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentedToken")
            .field("presentation", &self.presentation)
            .finish_non_exhaustive()
    }
}

/// The token of `Authorization: Bearer <token>` or `Authorization: DPoP <token>`, with the
/// request's DPoP parts.
pub fn presented_token(req: &HttpRequest, state: &AppState) -> Option<PresentedToken> {
    let (scheme, token) = authorization(req)?;
    let dpop_scheme = scheme.eq_ignore_ascii_case("dpop");
    (dpop_scheme || scheme.eq_ignore_ascii_case("bearer")).then(|| PresentedToken {
        token: token.to_owned(),
        presentation: Presentation {
            dpop_scheme,
            dpop: DpopRequest::of(req, state),
        },
    })
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
