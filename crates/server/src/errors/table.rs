//! The error table: for every variant of every domain crate's error enum, the surface it answers
//! on and the answer: status, code, and which `WWW-Authenticate` challenge (if any) goes with
//! it. Each row is rendered to the real HTTP response, so changing a mapping fails here.
//!
//! A new variant fails to compile in the `variants` guards at the bottom; give it its rows.

use actix_web::body::to_bytes;
use actix_web::{HttpResponse, ResponseError};
use grants::{GrantError, OAuthError};
use registration::{AuthError, ClientError, MetadataError, MetadataErrorCode, RegistrationError};

use super::api::{from_key_error, from_presented_key_error};
use super::oauth::from_rejected_token;
use super::{ApiError, ErrorCode, OAuthHttpError};
use crate::access::{DpopRejected, TokenRejected};
use crate::dpop::DpopRefusal;
use accounts::AccountError;
use apikeys::KeyError;
use gateway::{CallRefused, GatewayError, UpstreamFailure};
use grants::resources::ResourceError;
use store::StoreError;
use tokens::TokenError;

/// Where an answer goes, and so the shape of its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Surface {
    /// `{"error":{"code",…}}`.
    Api,
    /// `{"error","error_description"}` on an OAuth endpoint or at userinfo.
    OAuth,
    /// RFC 6750 §3.1: a bare challenge, no body.
    NoBody,
}

/// The `WWW-Authenticate` expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Challenge {
    None,
    /// `Basic realm="portcullis"` (client authentication).
    Basic,
    /// `Bearer realm="portcullis"` with nothing more.
    BearerBare,
    /// `Bearer realm="portcullis", error="<code>", error_description="…"`.
    BearerError,
    /// On the API, a credential sent and refused (RFC 6750 §3.1): `Bearer realm="portcullis",
    /// error="invalid_token", error_description="…"`, whatever the body's code.
    BearerInvalidToken,
    /// On the API, a 403 `insufficient_scope` (RFC 6750 §3.1, the MCP step-up):
    /// `Bearer realm="portcullis", error="insufficient_scope", error_description="…",
    /// scope="…"`.
    BearerInsufficientScope,
    /// RFC 9449 §7.1: `DPoP algs="…", error="<code>", error_description="…"`.
    DpopError,
}

struct Row {
    what: &'static str,
    surface: Surface,
    answer: HttpResponse,
    status: u16,
    code: &'static str,
    challenge: Challenge,
}

fn api(what: &'static str, e: ApiError, status: u16, code: &'static str) -> Row {
    // Every 401 on the API challenges for a bearer credential: bare here, and with
    // `error="invalid_token"` for a credential sent and refused ([`refused`]). A 403 for a
    // scope lacking names it ([`scope_lacking`]); nothing else challenges.
    // (`resource_metadata` is added by the middleware, tested in tests/server/resources.rs.)
    let challenge = if status == 401 {
        Challenge::BearerBare
    } else {
        Challenge::None
    };
    Row {
        what,
        surface: Surface::Api,
        answer: e.error_response(),
        status,
        code,
        challenge,
    }
}

/// An API row whose credential was sent and refused: `error="invalid_token"`.
fn refused(row: Row) -> Row {
    Row {
        challenge: Challenge::BearerInvalidToken,
        ..row
    }
}

/// An API row for a DPoP refusal (RFC 9449 §7.1): a `DPoP` challenge naming its code.
fn dpop(row: Row) -> Row {
    Row {
        challenge: Challenge::DpopError,
        ..row
    }
}

/// An API row for a scope lacking: `error="insufficient_scope"` and the scope.
fn scope_lacking(row: Row) -> Row {
    Row {
        challenge: Challenge::BearerInsufficientScope,
        ..row
    }
}

fn oauth(
    what: &'static str,
    e: OAuthHttpError,
    status: u16,
    code: &'static str,
    challenge: Challenge,
) -> Row {
    Row {
        what,
        surface: Surface::OAuth,
        answer: e.error_response(),
        status,
        code,
        challenge,
    }
}

fn store_gone() -> StoreError {
    StoreError::FileGone("/gone/portcullis.db".into())
}

fn store_conflict() -> StoreError {
    StoreError::Conflict
}

fn invalid(field: &'static str) -> (&'static str, String) {
    (field, "is not valid".to_owned())
}

/// A real `StoreError::Pool`: a pool of one whose connection is held.
fn pool_error(db: &store::testing::TestDb) -> StoreError {
    let url = store::DatabaseUrl::parse(db.url()).unwrap_or_else(|e| panic!("{e}"));
    let mut config = store::StoreConfig::new(url);
    config.pool_size = 1;
    config.checkout_timeout = std::time::Duration::from_millis(20);
    let store = store::Store::open(&config).unwrap_or_else(|e| panic!("{e}"));
    let _held = store.conn().unwrap_or_else(|e| panic!("{e}"));
    match store.conn() {
        Err(e @ StoreError::Pool(_)) => e,
        other => panic!("expected a pool timeout, got {:?}", other.err()),
    }
}

/// A real `StoreError::Query`: a query on a database without the schema.
fn query_error(db: &store::testing::TestDb) -> StoreError {
    let mut conn = db.store().conn().unwrap_or_else(|e| panic!("{e}"));
    match store::codes::find_code(&mut conn, "x") {
        Err(e @ StoreError::Query(_)) => e,
        other => panic!("expected a query error, got {other:?}"),
    }
}

fn store_errors(db: &store::testing::TestDb) -> Vec<(&'static str, StoreError)> {
    vec![
        ("StoreError::InvalidUrl", StoreError::InvalidUrl("x".into())),
        (
            "StoreError::DataDir",
            StoreError::DataDir {
                path: "/data".into(),
                source: std::io::Error::other("read-only"),
            },
        ),
        ("StoreError::Connect", StoreError::Connect("refused".into())),
        ("StoreError::FileGone", store_gone()),
        ("StoreError::Migration", StoreError::Migration("x".into())),
        ("StoreError::Pool", pool_error(db)),
        ("StoreError::Conflict", store_conflict()),
        ("StoreError::Query", query_error(db)),
    ]
}

fn rows() -> Vec<Row> {
    let db = store::testing::TestDb::empty(store::Backend::Sqlite);
    let mut rows = Vec::new();

    // store: on the API, out of reach is 503 and anything else 500; likewise on OAuth
    // (`temporarily_unavailable` / `server_error`).
    for (what, e) in store_errors(&db) {
        let unavailable = super::is_unavailable(&e);
        let (status, code) = if unavailable {
            (503, "service_unavailable")
        } else {
            (500, "internal_error")
        };
        rows.push(api(what, e.into(), status, code));
    }
    for (what, e) in store_errors(&db) {
        let (status, code) = if super::is_unavailable(&e) {
            (503, "temporarily_unavailable")
        } else {
            (500, "server_error")
        };
        rows.push(oauth(what, e.into(), status, code, Challenge::None));
    }
    // Which store errors are "out of reach", spelled out so the rule itself is pinned.
    let out_of_reach: Vec<&str> = store_errors(&db)
        .into_iter()
        .filter(|(_, e)| super::is_unavailable(e))
        .map(|(what, _)| what)
        .collect();
    assert_eq!(
        out_of_reach,
        [
            "StoreError::Connect",
            "StoreError::FileGone",
            "StoreError::Pool"
        ]
    );

    // accounts, on the API.
    let (field, message) = invalid("name");
    rows.extend([
        api(
            "AccountError::Store",
            AccountError::Store(store_gone()).into(),
            503,
            "service_unavailable",
        ),
        api(
            "AccountError::Invalid",
            AccountError::Invalid { field, message }.into(),
            400,
            "invalid_field",
        ),
        api(
            "AccountError::EmailTaken",
            AccountError::EmailTaken.into(),
            409,
            "email_taken",
        ),
        api(
            "AccountError::InvalidCredentials",
            AccountError::InvalidCredentials.into(),
            401,
            "invalid_credentials",
        ),
        api(
            "AccountError::NotFound",
            AccountError::NotFound.into(),
            404,
            "not_found",
        ),
        api(
            "AccountError::Forbidden",
            AccountError::Forbidden.into(),
            403,
            "forbidden",
        ),
        api(
            "AccountError::LastOwner",
            AccountError::LastOwner.into(),
            409,
            "last_owner",
        ),
        api(
            "AccountError::InviteExpired",
            AccountError::InviteExpired.into(),
            410,
            "invite_expired",
        ),
        api(
            "AccountError::InviteUsed",
            AccountError::InviteUsed.into(),
            409,
            "invite_used",
        ),
        api(
            "AccountError::TokenExpired",
            AccountError::TokenExpired.into(),
            401,
            "token_expired",
        ),
        api(
            "AccountError::TokenInvalid",
            AccountError::TokenInvalid.into(),
            401,
            "invalid_token",
        ),
        api(
            "AccountError::TokenReused",
            AccountError::TokenReused.into(),
            401,
            "invalid_token",
        ),
        api(
            "AccountError::Hashing",
            AccountError::Hashing("x".into()).into(),
            500,
            "internal_error",
        ),
        api(
            "AccountError::WrongPassword",
            AccountError::WrongPassword.into(),
            403,
            "wrong_password",
        ),
        api(
            "AccountError::LinkInvalid",
            AccountError::LinkInvalid.into(),
            400,
            "invalid_link",
        ),
        api(
            "AccountError::LinkExpired",
            AccountError::LinkExpired.into(),
            410,
            "link_expired",
        ),
        api(
            "AccountError::TooSoon",
            AccountError::TooSoon { retry_after: 30 }.into(),
            429,
            "rate_limited",
        ),
        api(
            "AccountError::AlreadyVerified",
            AccountError::AlreadyVerified.into(),
            409,
            "already_verified",
        ),
        api(
            "AccountError::EmailNotVerified",
            AccountError::EmailNotVerified {
                user_id: "usr_x".into(),
            }
            .into(),
            403,
            "email_not_verified",
        ),
        api(
            "AccountError::SignupClosed",
            AccountError::SignupClosed.into(),
            403,
            "signup_closed",
        ),
        api(
            "AccountError::DomainNotAllowed",
            AccountError::DomainNotAllowed.into(),
            403,
            "domain_not_allowed",
        ),
        api(
            "AccountError::WrongCode",
            AccountError::WrongCode.into(),
            401,
            "invalid_code",
        ),
        api(
            "AccountError::MfaAlreadyEnabled",
            AccountError::MfaAlreadyEnabled.into(),
            409,
            "mfa_already_enabled",
        ),
        api(
            "AccountError::MfaNotEnabled",
            AccountError::MfaNotEnabled.into(),
            409,
            "mfa_not_enabled",
        ),
        api(
            "AccountError::MfaUnavailable",
            AccountError::MfaUnavailable.into(),
            503,
            "mfa_unavailable",
        ),
        api(
            "AccountError::ChallengeInvalid",
            AccountError::ChallengeInvalid.into(),
            401,
            "invalid_mfa_token",
        ),
    ]);

    // accounts, at the token endpoint.
    let oauth_account = |e: AccountError| OAuthHttpError::from(e);
    let (other_field, other_message) = invalid("name");
    rows.extend([
        oauth(
            "AccountError::Store",
            oauth_account(AccountError::Store(store_conflict())),
            500,
            "server_error",
            Challenge::None,
        ),
        oauth(
            "AccountError::Invalid",
            oauth_account(AccountError::Invalid {
                field: other_field,
                message: other_message,
            }),
            500,
            "server_error",
            Challenge::None,
        ),
    ]);
    for (what, e) in [
        ("AccountError::TokenExpired", AccountError::TokenExpired),
        ("AccountError::TokenInvalid", AccountError::TokenInvalid),
        ("AccountError::TokenReused", AccountError::TokenReused),
    ] {
        rows.push(oauth(
            what,
            oauth_account(e),
            400,
            "invalid_grant",
            Challenge::None,
        ));
    }
    for (what, e) in [
        ("AccountError::EmailTaken", AccountError::EmailTaken),
        (
            "AccountError::InvalidCredentials",
            AccountError::InvalidCredentials,
        ),
        ("AccountError::NotFound", AccountError::NotFound),
        ("AccountError::Forbidden", AccountError::Forbidden),
        ("AccountError::LastOwner", AccountError::LastOwner),
        ("AccountError::InviteExpired", AccountError::InviteExpired),
        ("AccountError::InviteUsed", AccountError::InviteUsed),
        ("AccountError::Hashing", AccountError::Hashing("x".into())),
        ("AccountError::WrongPassword", AccountError::WrongPassword),
        ("AccountError::LinkInvalid", AccountError::LinkInvalid),
        ("AccountError::LinkExpired", AccountError::LinkExpired),
        (
            "AccountError::TooSoon",
            AccountError::TooSoon { retry_after: 30 },
        ),
        (
            "AccountError::AlreadyVerified",
            AccountError::AlreadyVerified,
        ),
        (
            "AccountError::EmailNotVerified",
            AccountError::EmailNotVerified {
                user_id: "usr_x".into(),
            },
        ),
        ("AccountError::SignupClosed", AccountError::SignupClosed),
        (
            "AccountError::DomainNotAllowed",
            AccountError::DomainNotAllowed,
        ),
        ("AccountError::WrongCode", AccountError::WrongCode),
        (
            "AccountError::MfaAlreadyEnabled",
            AccountError::MfaAlreadyEnabled,
        ),
        ("AccountError::MfaNotEnabled", AccountError::MfaNotEnabled),
        ("AccountError::MfaUnavailable", AccountError::MfaUnavailable),
        (
            "AccountError::ChallengeInvalid",
            AccountError::ChallengeInvalid,
        ),
    ] {
        rows.push(oauth(
            what,
            oauth_account(e),
            500,
            "server_error",
            Challenge::None,
        ));
    }

    // registration: metadata, client authentication, stored clients (all on OAuth).
    for (what, code, expected) in [
        (
            "MetadataErrorCode::InvalidRedirectUri",
            MetadataErrorCode::InvalidRedirectUri,
            "invalid_redirect_uri",
        ),
        (
            "MetadataErrorCode::InvalidClientMetadata",
            MetadataErrorCode::InvalidClientMetadata,
            "invalid_client_metadata",
        ),
    ] {
        let e = MetadataError {
            code,
            description: "why".into(),
        };
        rows.push(oauth(what, e.into(), 400, expected, Challenge::None));
    }
    for (what, e) in [
        ("AuthError::UnknownClient", AuthError::UnknownClient),
        ("AuthError::WrongSecret", AuthError::WrongSecret),
        (
            "AuthError::WrongMethod",
            AuthError::WrongMethod {
                registered: "client_secret_basic",
                used: "client_secret_post",
            },
        ),
        ("AuthError::SecretRequired", AuthError::SecretRequired),
        (
            "AuthError::Assertion",
            AuthError::Assertion(registration::AssertionError::Replayed),
        ),
    ] {
        rows.push(oauth(
            what,
            e.into(),
            401,
            "invalid_client",
            Challenge::Basic,
        ));
    }
    rows.extend([
        oauth(
            "AuthError::Client",
            AuthError::Client(ClientError::Store(store_gone())).into(),
            500,
            "server_error",
            Challenge::None,
        ),
        oauth(
            "ClientError::Store",
            ClientError::Store(store_gone()).into(),
            500,
            "server_error",
            Challenge::None,
        ),
        oauth(
            "ClientError::Corrupt",
            ClientError::Corrupt {
                id: "c".into(),
                reason: "x".into(),
            }
            .into(),
            500,
            "server_error",
            Challenge::None,
        ),
    ]);

    // registration endpoints (RFC 7591/7592): the mode, the tokens, the update rules.
    for (what, e, status, code, challenge) in [
        (
            "RegistrationError::Closed",
            RegistrationError::Closed,
            403,
            "access_denied",
            Challenge::None,
        ),
        (
            "RegistrationError::InitialTokenRequired",
            RegistrationError::InitialTokenRequired,
            401,
            "invalid_token",
            Challenge::BearerError,
        ),
        (
            "RegistrationError::InitialTokenInvalid",
            RegistrationError::InitialTokenInvalid,
            401,
            "invalid_token",
            Challenge::BearerError,
        ),
        (
            "RegistrationError::RegistrationTokenRequired",
            RegistrationError::RegistrationTokenRequired,
            401,
            "invalid_token",
            Challenge::BearerError,
        ),
        (
            "RegistrationError::NotManaged",
            RegistrationError::NotManaged,
            401,
            "invalid_token",
            Challenge::BearerError,
        ),
        (
            "RegistrationError::Metadata (redirect URI)",
            RegistrationError::Metadata(MetadataError {
                code: MetadataErrorCode::InvalidRedirectUri,
                description: "why".into(),
            }),
            400,
            "invalid_redirect_uri",
            Challenge::None,
        ),
        (
            "RegistrationError::Metadata (metadata)",
            RegistrationError::Metadata(MetadataError {
                code: MetadataErrorCode::InvalidClientMetadata,
                description: "why".into(),
            }),
            400,
            "invalid_client_metadata",
            Challenge::None,
        ),
        (
            "RegistrationError::ClientIdMismatch",
            RegistrationError::ClientIdMismatch,
            400,
            "invalid_request",
            Challenge::None,
        ),
        (
            "RegistrationError::ServerField",
            RegistrationError::ServerField("client_id_issued_at"),
            400,
            "invalid_request",
            Challenge::None,
        ),
        (
            "RegistrationError::SecretMismatch",
            RegistrationError::SecretMismatch,
            400,
            "invalid_client_metadata",
            Challenge::None,
        ),
        (
            "RegistrationError::Client",
            RegistrationError::Client(ClientError::Store(store_gone())),
            500,
            "server_error",
            Challenge::None,
        ),
    ] {
        rows.push(oauth(what, e.into(), status, code, challenge));
    }

    // grants: every code, at the token endpoint.
    for (code, status, challenge) in grants_codes() {
        let e = OAuthError::new(code, "why");
        rows.push(oauth(
            code.as_str(),
            e.into(),
            status,
            code.as_str(),
            challenge,
        ));
    }

    // tokens: signing and key failures are ours; the store's follow the store rows.
    for (what, e) in token_errors() {
        rows.push(api(what, e.into(), 500, "internal_error"));
    }
    for (what, e) in token_errors() {
        rows.push(oauth(what, e.into(), 500, "server_error", Challenge::None));
    }
    rows.extend([
        api(
            "TokenError::Store (out of reach)",
            TokenError::Store(store_gone()).into(),
            503,
            "service_unavailable",
        ),
        oauth(
            "TokenError::Store (out of reach)",
            TokenError::Store(store_gone()).into(),
            503,
            "temporarily_unavailable",
            Challenge::None,
        ),
    ]);

    // A refused access token (tokens::VerifyError and the server's checks) on the API, and at
    // userinfo.
    rows.extend([
        refused(api(
            "TokenRejected::Expired",
            TokenRejected::Expired.into(),
            401,
            "token_expired",
        )),
        refused(api(
            "TokenRejected::Invalid",
            TokenRejected::Invalid("revoked").into(),
            401,
            "invalid_token",
        )),
        api(
            "TokenRejected::Internal",
            TokenRejected::Internal("x".into()).into(),
            500,
            "internal_error",
        ),
        dpop(api(
            "TokenRejected::Dpop bound token as Bearer",
            TokenRejected::Dpop(DpopRejected::BoundAsBearer).into(),
            401,
            "invalid_token",
        )),
        dpop(api(
            "TokenRejected::Dpop proof refused",
            TokenRejected::Dpop(DpopRejected::Refused(DpopRefusal::Proof(
                tokens::dpop::DpopError::Replayed,
            )))
            .into(),
            401,
            "invalid_dpop_proof",
        )),
        dpop(api(
            "TokenRejected::Dpop nonce",
            TokenRejected::Dpop(DpopRejected::Refused(DpopRefusal::UseNonce("n".into()))).into(),
            401,
            "use_dpop_nonce",
        )),
        oauth(
            "TokenRejected::Dpop bound token as Bearer (userinfo)",
            from_rejected_token(TokenRejected::Dpop(DpopRejected::BoundAsBearer)),
            401,
            "invalid_token",
            Challenge::DpopError,
        ),
        oauth(
            "TokenRejected::Dpop proof refused (userinfo)",
            from_rejected_token(TokenRejected::Dpop(DpopRejected::Refused(
                DpopRefusal::Proof(tokens::dpop::DpopError::Replayed),
            ))),
            401,
            "invalid_dpop_proof",
            Challenge::DpopError,
        ),
        oauth(
            "TokenRejected::Dpop nonce (userinfo)",
            from_rejected_token(TokenRejected::Dpop(DpopRejected::Refused(
                DpopRefusal::UseNonce("n".into()),
            ))),
            401,
            "use_dpop_nonce",
            Challenge::DpopError,
        ),
        oauth(
            "token endpoint: DPoP proof refused",
            OAuthHttpError::dpop(&DpopRefusal::Proof(tokens::dpop::DpopError::Method)),
            400,
            "invalid_dpop_proof",
            Challenge::None,
        ),
        oauth(
            "token endpoint: DPoP nonce",
            OAuthHttpError::dpop(&DpopRefusal::UseNonce("n".into())),
            400,
            "use_dpop_nonce",
            Challenge::None,
        ),
        oauth(
            "TokenRejected::Expired (userinfo)",
            from_rejected_token(TokenRejected::Expired),
            401,
            "invalid_token",
            Challenge::BearerError,
        ),
        oauth(
            "TokenRejected::Invalid (userinfo)",
            from_rejected_token(TokenRejected::Invalid("revoked")),
            401,
            "invalid_token",
            Challenge::BearerError,
        ),
        oauth(
            "TokenRejected::Internal (userinfo)",
            from_rejected_token(TokenRejected::Internal("x".into())),
            500,
            "server_error",
            Challenge::BearerError,
        ),
        oauth(
            "userinfo: the token lacks openid",
            OAuthHttpError::bearer(ErrorCode::InsufficientScope, "why"),
            403,
            "insufficient_scope",
            Challenge::BearerError,
        ),
        oauth(
            "userinfo: the token sent twice",
            OAuthHttpError::bearer(ErrorCode::InvalidRequest, "why"),
            400,
            "invalid_request",
            Challenge::BearerError,
        ),
        Row {
            what: "userinfo: no token",
            surface: Surface::NoBody,
            answer: OAuthHttpError::bearer_required().error_response(),
            status: 401,
            code: "",
            challenge: Challenge::BearerBare,
        },
        oauth(
            "registration: a bad access token",
            OAuthHttpError::invalid_token("why"),
            401,
            "invalid_token",
            Challenge::BearerError,
        ),
        oauth(
            "sign-in throttle",
            OAuthHttpError::slow_down(30),
            429,
            "slow_down",
            Challenge::None,
        ),
    ]);

    // apikeys: managing keys and agents, and verifying a presented key.
    let (field, message) = invalid("name");
    rows.extend([
        api(
            "KeyError::Store",
            from_key_error(KeyError::Store(store_gone())),
            503,
            "service_unavailable",
        ),
        refused(api(
            "KeyError::Malformed",
            from_key_error(KeyError::Malformed),
            401,
            "invalid_api_key",
        )),
        refused(api(
            "KeyError::Unknown",
            from_key_error(KeyError::Unknown),
            401,
            "invalid_api_key",
        )),
        refused(api(
            "KeyError::Expired",
            from_key_error(KeyError::Expired),
            401,
            "invalid_api_key",
        )),
        api(
            "KeyError::Revoked",
            from_key_error(KeyError::Revoked),
            409,
            "api_key_revoked",
        ),
        api(
            "KeyError::Invalid",
            from_key_error(KeyError::Invalid { field, message }),
            400,
            "invalid_field",
        ),
        api(
            "KeyError::NotFound",
            from_key_error(KeyError::NotFound),
            404,
            "not_found",
        ),
        api(
            "KeyError::OwnersOnly",
            from_key_error(KeyError::OwnersOnly),
            403,
            "forbidden",
        ),
    ]);
    let (field, message) = invalid("name");
    rows.extend([
        api(
            "KeyError::Store (presented)",
            from_presented_key_error(KeyError::Store(store_conflict())),
            500,
            "internal_error",
        ),
        refused(api(
            "KeyError::Expired (presented)",
            from_presented_key_error(KeyError::Expired),
            401,
            "token_expired",
        )),
    ]);
    for (what, e) in [
        ("KeyError::Malformed (presented)", KeyError::Malformed),
        ("KeyError::Unknown (presented)", KeyError::Unknown),
        ("KeyError::Revoked (presented)", KeyError::Revoked),
        (
            "KeyError::Invalid (presented)",
            KeyError::Invalid { field, message },
        ),
        ("KeyError::NotFound (presented)", KeyError::NotFound),
        ("KeyError::OwnersOnly (presented)", KeyError::OwnersOnly),
    ] {
        rows.push(refused(api(
            what,
            from_presented_key_error(e),
            401,
            "invalid_api_key",
        )));
    }

    // gateway, on the API.
    let (field, message) = invalid("baseUrl");
    rows.extend([
        api(
            "GatewayError::Store",
            GatewayError::Store(store_conflict()).into(),
            500,
            "internal_error",
        ),
        api(
            "GatewayError::Disabled",
            GatewayError::Disabled.into(),
            503,
            "gateway_disabled",
        ),
        api(
            "GatewayError::Invalid",
            GatewayError::Invalid { field, message }.into(),
            400,
            "invalid_field",
        ),
        api(
            "GatewayError::NotFound",
            GatewayError::NotFound.into(),
            404,
            "not_found",
        ),
        api(
            "GatewayError::Exists",
            GatewayError::Exists.into(),
            409,
            "service_exists",
        ),
        api(
            "GatewayError::Undecryptable",
            GatewayError::Undecryptable.into(),
            503,
            "credential_unavailable",
        ),
        api(
            "GatewayError::Refused",
            GatewayError::Refused("10.0.0.1 is private".into()).into(),
            403,
            "upstream_refused",
        ),
    ]);

    // no credential at all: a bare challenge (RFC 6750 §3.1); protected resources.
    rows.extend([
        api(
            "no credential",
            ApiError::credential_missing(),
            401,
            "invalid_api_key",
        ),
        api(
            "ResourceError::Invalid",
            ResourceError::Invalid("uri", "x".into()).into(),
            400,
            "invalid_field",
        ),
        api(
            "ResourceError::Exists",
            ResourceError::Exists.into(),
            409,
            "resource_exists",
        ),
        api(
            "ResourceError::NotFound",
            ResourceError::NotFound.into(),
            404,
            "not_found",
        ),
        api(
            "ResourceError::Store",
            ResourceError::Store(store_conflict()).into(),
            500,
            "internal_error",
        ),
    ]);

    // a proxied call refused before any connection, on the API.
    rows.extend([
        refused(api(
            "CallRefused::NotAnOrganizationKey",
            CallRefused::NotAnOrganizationKey.into(),
            401,
            "invalid_api_key",
        )),
        scope_lacking(api(
            "CallRefused::InsufficientScope",
            CallRefused::InsufficientScope("openai:chat".into()).into(),
            403,
            "insufficient_scope",
        )),
        api(
            "CallRefused::InvalidJson",
            CallRefused::InvalidJson.into(),
            400,
            "invalid_json",
        ),
        api(
            "CallRefused::NoAgent",
            CallRefused::NoAgent.into(),
            400,
            "invalid_field",
        ),
        api(
            "CallRefused::UnknownAgent",
            CallRefused::UnknownAgent.into(),
            403,
            "forbidden",
        ),
        api(
            "CallRefused::AgentMismatch",
            CallRefused::AgentMismatch.into(),
            403,
            "forbidden",
        ),
        api(
            "CallRefused::Agent",
            CallRefused::Agent(KeyError::Store(store_conflict())).into(),
            500,
            "internal_error",
        ),
        api(
            "CallRefused::Gateway",
            CallRefused::Gateway(GatewayError::Undecryptable).into(),
            503,
            "credential_unavailable",
        ),
        api(
            "UpstreamFailure::Timeout",
            UpstreamFailure::Timeout.into(),
            504,
            "upstream_timeout",
        ),
        api(
            "UpstreamFailure::Unreachable",
            UpstreamFailure::Unreachable.into(),
            502,
            "upstream_unreachable",
        ),
    ]);

    // grants: a flow's outcome, at the token endpoint and on the first-party JSON API.
    let replayed = || GrantError::CodeReplayed {
        client_id: "c".into(),
        user_id: "u".into(),
        description: "the code was used already",
    };
    let sign = || GrantError::Sign(grants::SignError("no current key".into()));
    rows.extend([
        oauth(
            "GrantError::Refused",
            GrantError::Refused(OAuthError::new(ErrorCode::InvalidScope, "x")).into(),
            400,
            "invalid_scope",
            Challenge::None,
        ),
        oauth(
            "GrantError::CodeReplayed",
            replayed().into(),
            400,
            "invalid_grant",
            Challenge::None,
        ),
        oauth(
            "GrantError::WrongPassword",
            GrantError::WrongPassword.into(),
            400,
            "invalid_grant",
            Challenge::None,
        ),
        oauth(
            "GrantError::Account (a spent refresh token)",
            GrantError::Account(AccountError::TokenReused).into(),
            400,
            "invalid_grant",
            Challenge::None,
        ),
        oauth(
            "GrantError::Store",
            GrantError::Store(store_conflict()).into(),
            500,
            "server_error",
            Challenge::None,
        ),
        oauth(
            "GrantError::Client",
            GrantError::Client(ClientError::Corrupt {
                id: "c".into(),
                reason: "x".into(),
            })
            .into(),
            500,
            "server_error",
            Challenge::None,
        ),
        oauth(
            "GrantError::Sign",
            sign().into(),
            500,
            "server_error",
            Challenge::None,
        ),
        oauth(
            "GrantError::Agent",
            GrantError::Agent("agent lookup failed".into()).into(),
            500,
            "server_error",
            Challenge::None,
        ),
        api(
            "GrantError::Account (first-party refresh)",
            GrantError::Account(AccountError::TokenReused).into(),
            401,
            "invalid_token",
        ),
        api(
            "GrantError::Store (first-party)",
            GrantError::Store(store_conflict()).into(),
            500,
            "internal_error",
        ),
        api(
            "GrantError::Sign (first-party)",
            sign().into(),
            500,
            "internal_error",
        ),
        api(
            "GrantError::CodeReplayed (first-party)",
            replayed().into(),
            500,
            "internal_error",
        ),
    ]);
    rows
}

/// Every OAuth error code, with the status and challenge it answers with at the token
/// endpoint (RFC 6749 §5.2: 400, or 401 `invalid_client`; RFC 6750 §3.1 for the bearer codes).
fn grants_codes() -> Vec<(ErrorCode, u16, Challenge)> {
    use ErrorCode as C;
    let all = [
        C::InvalidRequest,
        C::InvalidClient,
        C::InvalidGrant,
        C::UnauthorizedClient,
        C::UnsupportedGrantType,
        C::InvalidScope,
        C::InvalidTarget,
        C::UnsupportedTokenType,
        C::ServerError,
        C::AccessDenied,
        C::UnsupportedResponseType,
        C::LoginRequired,
        C::ConsentRequired,
        C::InteractionRequired,
        C::RequestNotSupported,
        C::RequestUriNotSupported,
        C::AccountSelectionRequired,
        C::TemporarilyUnavailable,
        C::SlowDown,
        C::AuthorizationPending,
        C::ExpiredToken,
        C::InvalidToken,
        C::InsufficientScope,
        C::InvalidRedirectUri,
        C::InvalidClientMetadata,
        C::InvalidSoftwareStatement,
        C::UnapprovedSoftwareStatement,
        C::InvalidDpopProof,
        C::UseDpopNonce,
    ];
    all.into_iter()
        .map(|code| {
            // The guard: a new code fails to compile here until it has its answer.
            let (status, challenge) = match code {
                C::InvalidClient => (401, Challenge::Basic),
                C::InvalidToken => (401, Challenge::BearerError),
                C::InsufficientScope => (403, Challenge::None),
                C::ServerError => (500, Challenge::None),
                C::TemporarilyUnavailable => (503, Challenge::None),
                C::SlowDown => (429, Challenge::None),
                C::InvalidRequest
                | C::InvalidGrant
                | C::AuthorizationPending
                | C::ExpiredToken
                | C::UnauthorizedClient
                | C::UnsupportedGrantType
                | C::InvalidScope
                | C::InvalidTarget
                | C::UnsupportedTokenType
                | C::AccessDenied
                | C::UnsupportedResponseType
                | C::LoginRequired
                | C::ConsentRequired
                | C::InteractionRequired
                | C::AccountSelectionRequired
                | C::RequestNotSupported
                | C::RequestUriNotSupported
                | C::InvalidRedirectUri
                | C::InvalidClientMetadata
                | C::InvalidSoftwareStatement
                | C::UnapprovedSoftwareStatement
                | C::InvalidDpopProof
                | C::UseDpopNonce => (400, Challenge::None),
            };
            (code, status, challenge)
        })
        .collect()
}

fn token_errors() -> Vec<(&'static str, TokenError)> {
    vec![
        (
            "TokenError::Store",
            TokenError::Store(StoreError::Migration("x".into())),
        ),
        ("TokenError::KeyGeneration", TokenError::KeyGeneration("x")),
        (
            "TokenError::BadStoredKey",
            TokenError::BadStoredKey {
                kid: "k".into(),
                reason: "x".into(),
            },
        ),
        (
            "TokenError::NoCurrentKey",
            TokenError::NoCurrentKey("ES256"),
        ),
        ("TokenError::Signing", TokenError::Signing("x".into())),
    ]
}

/// Compares one row's real response with its expectation; `Err` says what differs.
async fn check(row: Row) -> Result<(), String> {
    let Row {
        what,
        surface,
        answer,
        status,
        code,
        challenge,
    } = row;
    let fail = |why: String| Err(format!("{what}: {why}"));
    if answer.status().as_u16() != status {
        return fail(format!("status {} instead of {status}", answer.status()));
    }
    if answer.headers().get("cache-control").map(|v| v.as_bytes()) != Some(&b"no-store"[..]) {
        return fail("cacheable".into());
    }
    let sent = answer
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap_or("<not ascii>").to_owned());
    let challenge_ok = match challenge {
        Challenge::None => sent.is_none(),
        Challenge::Basic => sent.as_deref() == Some("Basic realm=\"portcullis\""),
        Challenge::BearerBare => sent.as_deref() == Some("Bearer realm=\"portcullis\""),
        Challenge::BearerError => sent.as_deref().is_some_and(|s| {
            s.starts_with(&format!(
                "Bearer realm=\"portcullis\", error=\"{code}\", error_description=\""
            ))
        }),
        Challenge::BearerInvalidToken => sent.as_deref().is_some_and(|s| {
            s.starts_with(
                "Bearer realm=\"portcullis\", error=\"invalid_token\", error_description=\"",
            )
        }),
        Challenge::BearerInsufficientScope => sent.as_deref().is_some_and(|s| {
            s.starts_with(
                "Bearer realm=\"portcullis\", error=\"insufficient_scope\", error_description=\"",
            ) && s.contains(", scope=\"")
        }),
        Challenge::DpopError => sent.as_deref().is_some_and(|s| {
            s.starts_with("DPoP algs=\"")
                && s.contains(&format!(", error=\"{code}\", error_description=\""))
        }),
    };
    if !challenge_ok {
        return fail(format!("WWW-Authenticate {sent:?}, expected {challenge:?}"));
    }
    let bytes = to_bytes(answer.into_body()).await.unwrap_or_default();
    let body: serde_json::Value = match surface {
        Surface::NoBody if bytes.is_empty() => return Ok(()),
        Surface::NoBody => return fail("a body".into()),
        Surface::Api | Surface::OAuth => match serde_json::from_slice(&bytes) {
            Ok(body) => body,
            Err(e) => return fail(format!("not JSON: {e}")),
        },
    };
    let (sent_code, shaped) = match surface {
        Surface::Api => (&body["error"]["code"], body["error"]["type"].is_string()),
        _ => (&body["error"], body["error_description"].is_string()),
    };
    if sent_code != code {
        return fail(format!("code {sent_code} instead of {code}"));
    }
    if !shaped {
        return fail(format!("not the {surface:?} shape: {body}"));
    }
    Ok(())
}

#[actix_web::test]
async fn every_domain_error_has_its_answer() {
    let mut failures = Vec::new();
    for row in rows() {
        if let Err(why) = check(row).await {
            failures.push(why);
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The table notices a change of status, code, challenge or shape.
#[actix_web::test]
async fn a_changed_mapping_is_caught() {
    let exists = || ApiError::from(GatewayError::Exists);
    assert_eq!(
        check(api("right", exists(), 409, "service_exists")).await,
        Ok(())
    );
    assert!(
        check(api("status", exists(), 400, "service_exists"))
            .await
            .is_err()
    );
    assert!(check(api("code", exists(), 409, "exists")).await.is_err());
    let client = || OAuthHttpError::from(AuthError::WrongSecret);
    assert_eq!(
        check(oauth(
            "right",
            client(),
            401,
            "invalid_client",
            Challenge::Basic
        ))
        .await,
        Ok(())
    );
    assert!(
        check(oauth(
            "challenge",
            client(),
            401,
            "invalid_client",
            Challenge::None
        ))
        .await
        .is_err()
    );
    let shape = Row {
        surface: Surface::Api,
        ..oauth("shape", client(), 401, "invalid_client", Challenge::Basic)
    };
    assert!(check(shape).await.is_err());
}

/// The guards: one arm per variant, so a new variant does not compile until the table above
/// has rows for it.
#[allow(dead_code)]
mod variants {
    use super::*;

    fn resource(e: &ResourceError) {
        match e {
            ResourceError::Invalid(..)
            | ResourceError::Exists
            | ResourceError::NotFound
            | ResourceError::Store(_) => {}
        }
    }

    fn store(e: &StoreError) {
        match e {
            StoreError::InvalidUrl(_)
            | StoreError::DataDir { .. }
            | StoreError::Connect(_)
            | StoreError::FileGone(_)
            | StoreError::Migration(_)
            | StoreError::Pool(_)
            | StoreError::Conflict
            | StoreError::Query(_) => {}
        }
    }

    fn accounts(e: &AccountError) {
        match e {
            AccountError::Store(_)
            | AccountError::Invalid { .. }
            | AccountError::EmailTaken
            | AccountError::InvalidCredentials
            | AccountError::NotFound
            | AccountError::Forbidden
            | AccountError::LastOwner
            | AccountError::InviteExpired
            | AccountError::InviteUsed
            | AccountError::TokenExpired
            | AccountError::TokenInvalid
            | AccountError::TokenReused
            | AccountError::WrongPassword
            | AccountError::LinkInvalid
            | AccountError::LinkExpired
            | AccountError::TooSoon { .. }
            | AccountError::AlreadyVerified
            | AccountError::EmailNotVerified { .. }
            | AccountError::SignupClosed
            | AccountError::DomainNotAllowed
            | AccountError::WrongCode
            | AccountError::MfaAlreadyEnabled
            | AccountError::MfaNotEnabled
            | AccountError::MfaUnavailable
            | AccountError::ChallengeInvalid
            | AccountError::Hashing(_) => {}
        }
    }

    fn registration(m: MetadataErrorCode, a: &AuthError, c: &ClientError, r: &RegistrationError) {
        match m {
            MetadataErrorCode::InvalidRedirectUri | MetadataErrorCode::InvalidClientMetadata => {}
        }
        match a {
            AuthError::UnknownClient
            | AuthError::WrongSecret
            | AuthError::WrongMethod { .. }
            | AuthError::SecretRequired
            | AuthError::Assertion(_)
            | AuthError::Client(_) => {}
        }
        match c {
            ClientError::Store(_) | ClientError::Corrupt { .. } => {}
        }
        match r {
            RegistrationError::Closed
            | RegistrationError::InitialTokenRequired
            | RegistrationError::InitialTokenInvalid
            | RegistrationError::RegistrationTokenRequired
            | RegistrationError::NotManaged
            | RegistrationError::Metadata(_)
            | RegistrationError::ClientIdMismatch
            | RegistrationError::ServerField(_)
            | RegistrationError::SecretMismatch
            | RegistrationError::Client(_) => {}
        }
    }

    fn tokens(e: &TokenError, r: &TokenRejected) {
        match e {
            TokenError::Store(_)
            | TokenError::KeyGeneration(_)
            | TokenError::BadStoredKey { .. }
            | TokenError::NoCurrentKey(_)
            | TokenError::Signing(_) => {}
        }
        match r {
            TokenRejected::Expired
            | TokenRejected::Invalid(_)
            | TokenRejected::Dpop(_)
            | TokenRejected::Internal(_) => {}
        }
    }

    fn apikeys(e: &KeyError) {
        match e {
            KeyError::Store(_)
            | KeyError::Malformed
            | KeyError::Unknown
            | KeyError::Expired
            | KeyError::Revoked
            | KeyError::Invalid { .. }
            | KeyError::NotFound
            | KeyError::OwnersOnly => {}
        }
    }

    fn gateway(e: &GatewayError) {
        match e {
            GatewayError::Store(_)
            | GatewayError::Disabled
            | GatewayError::Invalid { .. }
            | GatewayError::NotFound
            | GatewayError::Exists
            | GatewayError::Undecryptable
            | GatewayError::Refused(_) => {}
        }
    }

    fn gateway_call(e: &CallRefused) {
        match e {
            CallRefused::NotAnOrganizationKey
            | CallRefused::InsufficientScope(_)
            | CallRefused::InvalidJson
            | CallRefused::NoAgent
            | CallRefused::UnknownAgent
            | CallRefused::AgentMismatch
            | CallRefused::Agent(_)
            | CallRefused::Gateway(_) => {}
        }
    }

    fn grants(e: &GrantError) {
        match e {
            GrantError::Refused(_)
            | GrantError::CodeReplayed { .. }
            | GrantError::WrongPassword
            | GrantError::Account(_)
            | GrantError::Client(_)
            | GrantError::Store(_)
            | GrantError::Sign(_)
            | GrantError::Agent(_) => {}
        }
    }

    fn gateway_upstream(e: UpstreamFailure) {
        match e {
            UpstreamFailure::Timeout | UpstreamFailure::Unreachable => {}
        }
    }
}
