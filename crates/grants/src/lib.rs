//! Grants: every OAuth flow, from a request to the grant that `tokens` signs.
//!
//! Owns: the parsing of token-endpoint requests (form bodies with RFC 6749 §3.2 rules, the
//! `Authorization: Basic` header of §2.3.1) into a [`TokenRequest`] enum by `grant_type`; the
//! authorization request ([`check_authorization`]); consent ([`remembered_consent`],
//! [`give_consent`]); authorization codes ([`issue_code`], [`exchange_code`]); refresh rotation
//! ([`refresh`]); client credentials; the password grant; the first-party JSON sign-in's
//! tokens; the decisions of revocation and introspection; the one [`Scope`] and
//! [`CodeChallenge`] types.
//!
//! Each check yields a proof that only it can make (private constructors): the client
//! authenticated ([`registration::VerifiedClient`]), the request checked and its redirect URI
//! matched ([`AuthorizationRequest`]), consent given ([`Consented`]), the token request's
//! redirect URI matched ([`RedirectMatched`]), PKCE verified ([`PkceVerified`]), the code
//! redeemed once ([`CodeRedeemed`]). A [`Grant`] is built only from them, and `tokens` signs
//! only a `Grant` (through the [`Sign`] trait the flows are handed). Skipping a check does not
//! compile: see the `compile_fail` examples in [`proofs`].
//!
//! Architecture invariants:
//! - Knows nothing about HTTP: it takes a body's bytes and a header's text, and returns typed
//!   outcomes; the server maps them to responses and audit events.
//! - Takes `&mut store::Conn` and the time (`now`, from the caller's injected clock); never
//!   reads the system clock.
//! - Does not sign: it hands a grant to a [`Sign`] (implemented by `tokens`).
//! - Uses oxide-auth only behind its own types (`Scope::parse` checks RFC 6749 §3.3 characters
//!   with oxide-auth's scope parser; `CodeChallenge` and `verify_pkce` use its `Pkce`), never
//!   its flows (see docs/ARCHITECTURE.md).

mod authorize;
mod client_auth;
mod client_credentials;
mod code;
mod consent;
mod device;
mod error;
mod exchange;
pub mod family;
mod form;
mod grant;
mod par;
mod password;
mod pkce;
pub mod proofs;
mod refresh;
pub mod resources;
mod scope;
mod token_request;

pub use authorize::{
    ACCOUNT_CHOSEN_PARAM, Arrival, AuthorizationRequest, AuthorizeError, Prompt, ResponseMode,
    SIGNED_IN_PARAM, check_authorization, check_authorization_as, client_id_of,
    redirect_uri_matches,
};
pub use client_auth::presented_credentials;
pub use client_credentials::client_credentials;
pub use code::{
    CODE_TTL, CodeExchange, CodeRedeemed, PresentedCode, RedirectMatched, exchange_code, issue_code,
};
pub use consent::{
    AllowedApp, Consented, allowed_apps, consented_scope, give_consent, remembered_consent,
    withdraw_consent,
};
pub use device::{
    DEVICE_CODE_TTL, DEVICE_POLL_INTERVAL, DeviceApproved, DeviceAuthorization, DeviceRedeemed,
    PendingDevice, SLOW_DOWN_STEP, USER_CODE_ALPHABET, UserCode, approve_device, deny_device,
    give_device_consent, pending_device, poll_device, start_device_authorization,
};
pub use error::{ErrorCode, GrantError, OAuthError};
pub use exchange::{
    Actor, AgentCredential, AgentKeys, AllowedActor, BoundAgent, ExchangeRequest, SubjectKind,
    SubjectTokenType, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_API_KEY, TOKEN_TYPE_ID_TOKEN,
    TOKEN_TYPE_REFRESH_TOKEN, VerifiedSubject, actor_label, agent_client_credentials,
    agent_clients, allow_actor, allowed_actors, bound_agent, create_agent_client,
    create_agent_client_with_keys, delete_agent_client, delete_clients_of_agent, disallow_actor,
    token_exchange,
};
pub use form::FormParams;
#[cfg(feature = "testing")]
pub use grant::testing;
pub use grant::{
    Act, AgentGrant, ClientGrant, ExchangedGrant, Grant, Issued, Sign, SignError, SignedAccess,
    UserGrant, scope_claims,
};
pub use par::{
    PUSHED_REQUEST_TTL, PushedRequest, REQUEST_URI_PREFIX, open_pushed, push_authorization_request,
    use_pushed,
};
pub use password::{PasswordAttempt, password_grant};
pub use pkce::{CodeChallenge, PkceVerified, is_pkce_value, verify_pkce};
pub use refresh::{
    RefreshIntrospection, RefreshRequest, VerifiedAccess, first_party_refresh, first_party_sign_in,
    first_party_sign_out, introspect_refresh, refresh, revoke_access, revoke_refresh,
};
pub use scope::Scope;
pub use token_request::{
    DEVICE_CODE_GRANT, FIRST_PARTY_AUDIENCE, TokenRequest, is_reserved_audience, parse_resources,
    select_resources,
};

/// The server's settings a flow needs.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    /// The audience of a token asked without `resource`.
    pub default_audience: &'a str,
    /// Refresh-token lifetime, seconds.
    pub refresh_ttl: i64,
    /// How long a rotated refresh token may be retried (`PORTCULLIS_REFRESH_GRACE`).
    pub refresh_grace: i64,
    /// Whether the password grant is on (`PORTCULLIS_PASSWORD_GRANT`).
    pub password_grant: bool,
    /// Whether a user must have verified their address to sign in
    /// (`PORTCULLIS_REQUIRE_VERIFIED_EMAIL`).
    pub require_verified_email: bool,
}
