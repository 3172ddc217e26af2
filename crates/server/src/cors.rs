//! Cross-origin access to the public OAuth endpoints, for clients that run in a browser (SPAs,
//! the MCP Inspector): which paths, and what a browser may send them, in one table
//! ([`PUBLIC`]). Everything else (pages, the JSON API, introspection, the console) answers no
//! cross-origin request: a browser on another origin cannot read it.
//!
//! What is allowed is what these endpoints take from anyone: `Access-Control-Allow-Origin: *`,
//! never `Access-Control-Allow-Credentials`, so a browser never sends the user's cookies along
//! and a page of another origin cannot act with the user's session. Clients authenticate with
//! what they hold (a client secret or a PKCE verifier in the body, a bearer token), as they
//! would from a server.

use actix_web::HttpResponse;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;

/// How a public path is matched.
#[derive(Debug, Clone, Copy)]
enum Match {
    Exact(&'static str),
    Prefix(&'static str),
    /// A path ending in this (the OpenID Connect form for issuers with a path).
    Suffix(&'static str),
}

/// A public endpoint a browser on another origin may call, and the methods it takes.
#[derive(Debug, Clone, Copy)]
struct Public {
    path: Match,
    methods: &'static str,
}

/// The endpoints open to other origins: discovery (every form), the protected-resource
/// metadata (RFC 9728, every form), the JWKS, registration (RFC 7591/7592), the token,
/// revocation and device authorization (RFC 8628) endpoints, and userinfo.
const PUBLIC: &[Public] = &[
    Public {
        path: Match::Exact("/.well-known/openid-configuration"),
        methods: "GET",
    },
    Public {
        path: Match::Prefix("/.well-known/openid-configuration/"),
        methods: "GET",
    },
    Public {
        path: Match::Suffix("/.well-known/openid-configuration"),
        methods: "GET",
    },
    Public {
        path: Match::Exact("/.well-known/oauth-authorization-server"),
        methods: "GET",
    },
    Public {
        path: Match::Prefix("/.well-known/oauth-authorization-server/"),
        methods: "GET",
    },
    Public {
        path: Match::Exact("/.well-known/oauth-protected-resource"),
        methods: "GET",
    },
    Public {
        path: Match::Prefix("/.well-known/oauth-protected-resource/"),
        methods: "GET",
    },
    Public {
        path: Match::Exact("/jwks.json"),
        methods: "GET",
    },
    Public {
        path: Match::Exact("/oauth2/register"),
        methods: "POST",
    },
    Public {
        path: Match::Prefix("/oauth2/register/"),
        methods: "GET, PUT, DELETE",
    },
    Public {
        path: Match::Exact("/oauth2/token"),
        methods: "POST",
    },
    Public {
        path: Match::Exact("/oauth2/revoke"),
        methods: "POST",
    },
    Public {
        path: Match::Exact("/oauth2/device_authorization"),
        methods: "POST",
    },
    Public {
        path: Match::Exact("/oauth2/par"),
        methods: "POST",
    },
    Public {
        path: Match::Exact("/oauth2/userinfo"),
        methods: "GET, POST",
    },
];

/// Request headers a browser client may send: the usual ones, the MCP protocol version and a
/// DPoP proof.
const ALLOW_HEADERS: &str = "Authorization, Content-Type, MCP-Protocol-Version, DPoP";
/// Answer headers a browser client may read besides the simple ones.
const EXPOSE_HEADERS: &str = "WWW-Authenticate, DPoP-Nonce, Retry-After";
/// How long a browser may keep a preflight's answer (seconds).
const MAX_AGE: &str = "600";

fn public(path: &str) -> Option<&'static Public> {
    PUBLIC.iter().find(|p| match p.path {
        Match::Exact(e) => path == e,
        Match::Prefix(pre) => path.len() > pre.len() && path.starts_with(pre),
        Match::Suffix(suf) => path.len() > suf.len() && path.ends_with(suf),
    })
}

/// Whether `path` is open to other origins (for the tests and the docs).
pub fn is_public(path: &str) -> bool {
    public(path).is_some()
}

/// Answers preflights of the public endpoints and marks their answers readable by any
/// origin (every answer, so a cache shared by browsers and servers holds the same one); leaves
/// every other request as it is. The one place `Access-Control-*` headers are set.
pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(entry) = public(req.path()) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let from_browser = req.headers().contains_key(header::ORIGIN);
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if from_browser && preflight {
        let res = HttpResponse::build(StatusCode::NO_CONTENT)
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, entry.methods))
            .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, MAX_AGE))
            .insert_header((header::VARY, "Origin"))
            .finish();
        return Ok(req.into_response(res));
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    let headers = res.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_endpoints_and_nothing_else_are_open_to_other_origins() {
        for open in [
            "/.well-known/openid-configuration",
            "/.well-known/openid-configuration/tenant",
            "/tenant/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server",
            "/.well-known/oauth-authorization-server/tenant",
            "/jwks.json",
            "/oauth2/register",
            "/oauth2/register/abc",
            "/oauth2/token",
            "/oauth2/revoke",
            "/oauth2/userinfo",
        ] {
            assert!(is_public(open), "{open}");
        }
        for closed in [
            "/oauth2/authorize",
            "/oauth2/introspect",
            "/oauth2/logout",
            "/login",
            "/consent",
            "/account",
            "/admin",
            "/api/v1/me",
            "/api/v1/auth/login",
            "/proxy/openai/v1/chat/completions",
            "/oauth2/register/",
            "/oauth2/tokens",
        ] {
            assert!(!is_public(closed), "{closed}");
        }
    }
}
