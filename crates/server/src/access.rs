//! Who may call what: the access rules of the JSON API, the one access-token check, and the
//! verified caller types handlers receive.
//!
//! Every `/api/v1` route is declared once, in `routes/api.rs`, with a [`Rule`]; the same
//! declaration registers the route and wraps it in [`guard`], which verifies the credential,
//! applies the rule and leaves the verified caller in the request. Handlers take that caller as
//! an extractor ([`FirstPartyUser`], [`OrgCaller`], [`Caller`], [`MaybeFirstParty`]); its
//! constructor is private to this module, so a handler can only get one that the guard made,
//! and a handler whose route declared another rule fails closed (500, logged), which the route
//! test (`access_rules.rs`) catches.
//!
//! The boundary:
//! - **First-party tokens** (JSON sign-in, invite acceptance, operator-made first-party
//!   clients) carry [`grants::FIRST_PARTY_AUDIENCE`], which no `resource` parameter can name.
//!   Only they reach the account routes (`/me`, creating organizations).
//! - **Third-party tokens** (any other client's user token) reach an organization route only
//!   when their scope names the route's API scope (consented on the consent page in words
//!   that say what it allows) and the user's role allows it. They never reach first-party
//!   routes; identity is for `/oauth2/userinfo`.
//! - **API keys** reach the routes that say so, within their organization and scopes.
//!
//! [`verify_access_token`] is the only place an access token is checked for use (the JSON API,
//! userinfo, the gateway): signature and `alg`, issuer, expiry, audience, revocation, the
//! client still existing and the user still enabled.

use std::future::{Ready, ready};

use accounts::Role;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use store::Conn;
use tokens::{AccessClaims, VerifyError};

use tokens::dpop::DpopError;

use crate::auth::{Presentation, PresentedToken};
use crate::dpop::{DpopChallenge, DpopRefusal};
use crate::errors::{ApiError, ErrorType};
use crate::principal::{Principal, Subject, require_principal};
use crate::state::AppState;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Anyone: the body carries what authenticates (a password, a refresh token), or nothing
    /// is needed.
    Anonymous,
    /// Anyone holding the body's secret (an invite token); an `Authorization: Bearer` sent
    /// along must be a first-party token, and names the account that acts.
    OptionalFirstParty,
    /// A signed-in user's first-party token only: no API key, no third-party token.
    FirstParty,
    /// Any verified credential holding `scope`: a first-party token (a user holds every
    /// scope; roles decide further), a third-party token granted `scope`, an API key
    /// holding it. The handler decides which organization.
    Caller { scope: &'static str },
    /// The organization in the path (`{org}`).
    Org(OrgRule),
    /// An operator: a signed-in user with the `admin` flag, by first-party token only (no API
    /// key, no third-party token).
    Operator,
}

/// Access to the organization named by the route's `{org}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrgRule {
    /// The API scope the route needs: third-party tokens and API keys must hold it.
    pub scope: &'static str,
    /// The least role: a member's role, or an API key's (owner for `*`, admin for others).
    pub role: Role,
    /// Whether the organization's API keys may call it (else users only).
    pub keys: bool,
}

/// One route of the JSON API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiRoute {
    pub method: &'static str,
    pub path: &'static str,
    pub rule: Rule,
    /// Its request body and answers, for the OpenAPI document (`crate::openapi`).
    pub doc: crate::openapi::RouteDoc,
}

impl Rule {
    /// The rule in words, for the route table in docs/security.md.
    pub fn describe(&self) -> String {
        match self {
            Self::Anonymous => "anyone (the body authenticates)".into(),
            Self::OptionalFirstParty => {
                "anyone with the invite token; a bearer token, if sent, first-party".into()
            }
            Self::FirstParty => "first-party token only".into(),
            Self::Operator => {
                "operator (a user with the admin flag and TOTP set up, so the sign-in behind the token passed it): first-party token only".into()
            }
            Self::Caller { scope } => format!(
                "first-party token; third-party token granted `{scope}`; API key holding `{scope}`"
            ),
            Self::Org(r) => {
                let role = r.role.as_str();
                let keys = if r.keys {
                    format!("; the organization's API key holding `{}`", r.scope)
                } else {
                    "; no API key".into()
                };
                format!(
                    "member with role ≥ {role}: first-party token, or third-party token granted `{}`{keys}",
                    r.scope
                )
            }
        }
    }
}

/// An access token checked for use by [`verify_access_token`]; only that function makes one.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    claims: AccessClaims,
    user: Option<accounts::User>,
    first_party: bool,
    /// The agent of an agent's token (its subject), or the agent acting in an exchanged token.
    agent: Option<apikeys::Agent>,
    /// The organization API key an exchanged token acts for.
    key: Option<apikeys::ApiKey>,
}

impl VerifiedToken {
    pub fn claims(&self) -> &AccessClaims {
        &self.claims
    }

    /// The user the token was issued for; `None` for a client's own token (client
    /// credentials).
    pub fn user(&self) -> Option<&accounts::User> {
        self.user.as_ref()
    }

    /// Whether the token carries the first-party audience.
    pub fn is_first_party(&self) -> bool {
        self.first_party
    }

    /// The agent: the subject of an agent's own token, or the actor of an exchanged token.
    pub fn agent(&self) -> Option<&apikeys::Agent> {
        self.agent.as_ref()
    }

    /// The organization API key an exchanged token acts for.
    pub fn key(&self) -> Option<&apikeys::ApiKey> {
        self.key.as_ref()
    }

    /// The granted scopes.
    pub fn scopes(&self) -> Vec<&str> {
        self.claims
            .scope
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// Why a token was refused. The reason is logged at debug level, never sent.
#[derive(Debug)]
pub enum TokenRejected {
    Expired,
    Invalid(&'static str),
    /// RFC 9449 §7.1: a DPoP-bound token sent as `Bearer`, or a `DPoP` presentation whose
    /// proof is refused.
    Dpop(DpopRejected),
    Internal(String),
}

/// Why a token's DPoP presentation is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DpopRejected {
    /// A token bound to a key (`cnf.jkt`) sent without proving it (§7.2).
    BoundAsBearer,
    /// The proof is missing, not valid, of another key, replayed, or lacks the nonce.
    Refused(DpopRefusal),
}

impl DpopRejected {
    /// The `DPoP` challenge of the answer (§7.1): `invalid_token` for a bound token sent as
    /// `Bearer`, else the proof's refusal.
    pub fn challenge(&self) -> DpopChallenge {
        match self {
            Self::BoundAsBearer => DpopChallenge {
                error: grants::ErrorCode::InvalidToken,
                nonce: None,
            },
            Self::Refused(refusal) => refusal.challenge(),
        }
    }
}

/// Where a token is to be used.
#[derive(Debug, Clone, Copy)]
pub enum Expect<'a> {
    /// Our own APIs (the JSON API, userinfo, the gateway): the audience must be this server
    /// (`PORTCULLIS_DEFAULT_AUDIENCE`, the issuer, or one of the APIs' RFC 9728 resource
    /// identifiers, `Settings::own_resources`) or the first-party audience; and the token's
    /// presentation must satisfy its DPoP binding ([`check_presentation`]).
    OurApis(&'a Presentation),
    /// Introspection (RFC 7662): any audience, since a resource server asks about tokens
    /// meant for it.
    AnyAudience,
}

/// The one access-token check: signature with one of our keys and its one `alg`, `typ`,
/// issuer, expiry (the injected clock), audience, revocation, the client still registered
/// (and, for the first-party audience, first-party), and the user still existing and enabled.
/// Blocking: call it inside `web::block`.
pub fn verify_access_token(
    state: &AppState,
    conn: &mut Conn,
    token: &str,
    expect: Expect<'_>,
) -> Result<VerifiedToken, TokenRejected> {
    let now = state.now();
    let internal = |e: &dyn std::fmt::Display| TokenRejected::Internal(e.to_string());
    let claims = match state
        .keys
        .verify_access(conn, token, state.settings.issuer_str(), now)
        .map_err(|e| internal(&e))?
    {
        Ok(claims) => claims,
        Err(VerifyError::Expired) => return Err(TokenRejected::Expired),
        Err(_) => return Err(TokenRejected::Invalid("signature, issuer or form")),
    };
    let first_party = claims.aud.contains(grants::FIRST_PARTY_AUDIENCE);
    match expect {
        Expect::OurApis(presentation) => {
            let ours = state
                .settings
                .own_resources()
                .iter()
                .any(|r| claims.aud.contains(r));
            if !first_party && !ours {
                return Err(TokenRejected::Invalid("audience"));
            }
            check_presentation(state, conn, token, &claims, presentation)?;
        }
        Expect::AnyAudience => {}
    }
    if store::keys::is_access_token_revoked(conn, &claims.jti).map_err(|e| internal(&e))? {
        return Err(TokenRejected::Invalid("revoked"));
    }
    // A deleted client's tokens die with it; the JSON sign-in has no client row.
    let mut client_agent = None;
    if registration::is_url_client_id(&claims.client_id) {
        // A client described by its metadata document: never first-party, and its tokens
        // count while the operator still accepts documents from its host.
        if first_party || !crate::cimd::still_allowed(&state.settings, &claims.client_id) {
            return Err(TokenRejected::Invalid(
                "metadata-document client no longer allowed",
            ));
        }
    } else if claims.client_id != grants::family::FIRST_PARTY_CLIENT {
        let client = state
            .clients
            .find(conn, &claims.client_id, now)
            .map_err(|e| internal(&e))?
            .ok_or(TokenRejected::Invalid("client deleted"))?;
        if first_party && !client.first_party {
            return Err(TokenRejected::Invalid(
                "first-party audience, third-party client",
            ));
        }
        client_agent = client.metadata.agent_id.clone();
    }
    let find_user = |conn: &mut Conn, id: &str| {
        accounts::find_user(conn, id)
            .map_err(|e| internal(&e))?
            .filter(|u| !u.disabled)
            .ok_or(TokenRejected::Invalid("user gone or disabled"))
    };
    // An agent of the token's organization, still there.
    let find_agent = |conn: &mut Conn, id: &str| {
        apikeys::find_agent(conn, id)
            .map_err(|e| internal(&e))?
            .filter(|a| claims.org_id.as_deref() == Some(a.org_id.as_str()))
            .ok_or(TokenRejected::Invalid(
                "agent gone or of another organization",
            ))
    };
    let (user, agent, key) = match (&claims.act, &claims.org_id) {
        // A user's token, or a client's own.
        (None, None) if claims.sub == claims.client_id => (None, None, None),
        (None, None) => (Some(find_user(conn, &claims.sub)?), None, None),
        // An agent's own token: its client must still be bound to it.
        (None, Some(_)) => {
            if client_agent.as_deref() != Some(claims.sub.as_str()) {
                return Err(TokenRejected::Invalid("the client is not this agent's"));
            }
            (None, Some(find_agent(conn, &claims.sub)?), None)
        }
        // An exchanged token: its subject (a user, or an organization API key, by the id's
        // prefix, which this server assigns) and its actor must both still be valid.
        (Some(act), _) => {
            let agent = if act.sub.starts_with("agt_") {
                Some(find_agent(conn, &act.sub)?)
            } else {
                None
            };
            if claims.sub.starts_with("key_") {
                let key = apikeys::find_key_by_id(conn, &claims.sub)
                    .map_err(|e| internal(&e))?
                    .filter(|k| {
                        k.revoked_at.is_none()
                            && k.expires_at.is_none_or(|at| now < at)
                            && claims.org_id.as_deref() == Some(k.org_id.as_str())
                    })
                    .ok_or(TokenRejected::Invalid(
                        "the subject key is revoked or expired",
                    ))?;
                (None, agent, Some(key))
            } else {
                (Some(find_user(conn, &claims.sub)?), agent, None)
            }
        }
    };
    Ok(VerifiedToken {
        claims,
        user,
        first_party,
        agent,
        key,
    })
}

/// RFC 9449 §7.1: a token bound to a key (`cnf.jkt`) is used only with the `DPoP` scheme and
/// a proof of that key for this request (`htm`, `htu`, `ath` of this token, the nonce when the
/// server asks for them), recorded against replay. An unbound token sent with the `DPoP`
/// scheme needs a valid proof too; sent as `Bearer`, a `DPoP` header beside it is ignored.
fn check_presentation(
    state: &AppState,
    conn: &mut Conn,
    token: &str,
    claims: &AccessClaims,
    presentation: &Presentation,
) -> Result<(), TokenRejected> {
    let bound = claims.cnf.as_ref().map(|c| c.jkt.as_str());
    if !presentation.dpop_scheme {
        return match bound {
            Some(_) => Err(TokenRejected::Dpop(DpopRejected::BoundAsBearer)),
            None => Ok(()),
        };
    }
    let refused = |r: DpopRefusal| TokenRejected::Dpop(DpopRejected::Refused(r));
    let proof = presentation
        .dpop
        .check(state, Some(token))
        .map_err(refused)?
        .ok_or_else(|| refused(DpopRefusal::Proof(DpopError::MissingClaim("DPoP header"))))?;
    if let Some(jkt) = bound {
        tokens::dpop::check_bound(jkt, &proof).map_err(|e| refused(DpopRefusal::Proof(e)))?;
    }
    crate::dpop::record(state, conn, &proof)
        .map_err(|e| TokenRejected::Internal(e.to_string()))?
        .map_err(refused)
}

/// Keeps the verified caller's constructors in this module.
#[derive(Debug, Clone)]
struct Sealed;

/// A user signed in with a first-party token.
#[derive(Debug, Clone)]
pub struct FirstPartyUser {
    pub user: accounts::User,
    pub claims: AccessClaims,
    _sealed: Sealed,
}

/// On [`Rule::OptionalFirstParty`] routes: the first-party user, when a token was sent.
#[derive(Debug, Clone)]
pub struct MaybeFirstParty(pub Option<FirstPartyUser>);

/// On [`Rule::Caller`] routes: a credential holding the route's scope.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    _sealed: Sealed,
}

/// On [`Rule::Org`] routes: a caller allowed in the path's organization, with its role.
#[derive(Debug, Clone)]
pub struct OrgCaller {
    pub principal: Principal,
    pub role: Role,
    pub org_id: String,
    _sealed: Sealed,
}

fn take<T: Clone + 'static>(req: &HttpRequest) -> Ready<Result<T, ApiError>> {
    ready(req.extensions().get::<T>().cloned().ok_or_else(|| {
        ApiError::internal(&format!(
            "{} {:?}: the handler asks for a caller its declared rule does not give",
            req.method(),
            req.match_pattern()
        ))
    }))
}

macro_rules! from_guard {
    ($($t:ty),*) => {$(
        impl FromRequest for $t {
            type Error = ApiError;
            type Future = Ready<Result<Self, ApiError>>;
            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                take::<Self>(req)
            }
        }
    )*};
}
/// On [`Rule::Operator`] routes: a signed-in operator.
#[derive(Debug, Clone)]
pub struct Operator {
    pub user: accounts::User,
    _sealed: Sealed,
}

from_guard!(FirstPartyUser, MaybeFirstParty, Caller, OrgCaller, Operator);

fn first_party_only() -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::FORBIDDEN,
        "first_party_only",
        ErrorType::AuthorizationError,
        "This route takes the token of a signed-in user of this server; applications read identity from /oauth2/userinfo.",
    )
}

fn operators_only() -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::FORBIDDEN,
        "operators_only",
        ErrorType::AuthorizationError,
        "Only an operator (a user with the admin flag) may call this route.",
    )
}

fn operator_second_factor_required() -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::FORBIDDEN,
        "second_factor_required",
        ErrorType::AuthorizationError,
        "Operators call this API only with a second factor (TOTP) set up; the JSON sign-in then asks for it.",
    )
}

fn keys_not_allowed() -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::FORBIDDEN,
        "api_key_not_allowed",
        ErrorType::AuthorizationError,
        "API keys cannot call this route; a member must.",
    )
}

/// The first-party user of a bearer token, or why not.
async fn first_party_user(
    state: &AppState,
    presented: PresentedToken,
) -> Result<FirstPartyUser, ApiError> {
    let PresentedToken {
        token,
        presentation,
    } = presented;
    if token.starts_with("pcl_") {
        return Err(first_party_only());
    }
    let st = state.clone();
    let verified = crate::traces::block(
        "first_party_user",
        move || -> Result<VerifiedToken, ApiError> {
            let mut conn = st.store.conn()?;
            Ok(verify_access_token(
                &st,
                &mut conn,
                &token,
                Expect::OurApis(&presentation),
            )?)
        },
    )
    .await??;
    if !verified.is_first_party() {
        return Err(first_party_only());
    }
    let user = verified.user.ok_or_else(first_party_only)?;
    Ok(FirstPartyUser {
        user,
        claims: verified.claims,
        _sealed: Sealed,
    })
}

/// An agent's token, or a token someone acts in, on the JSON API.
fn gateway_only() -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::FORBIDDEN,
        "agent_token_not_allowed",
        ErrorType::AuthorizationError,
        "Agents' tokens and exchanged tokens are for the gateway; this route takes a member's token or an API key.",
    )
}

fn no_credentials() -> ApiError {
    ApiError::unauthenticated(
        "missing_credentials",
        "Send an access token as Authorization: Bearer.",
    )
}

/// The role a principal has in `org_id` under `rule`, or why it may not act there.
pub fn org_access(
    conn: &mut Conn,
    principal: &Principal,
    org_id: &str,
    rule: &OrgRule,
) -> Result<Role, ApiError> {
    if principal.is_agent_or_delegated() {
        return Err(gateway_only());
    }
    let role = match &principal.subject {
        Subject::Agent { .. } => return Err(gateway_only()),
        Subject::User { id } => accounts::membership(conn, org_id, id)?.1,
        Subject::Organization { .. } if !rule.keys => return Err(keys_not_allowed()),
        Subject::Organization { id } if id == org_id => {
            if principal
                .scopes
                .as_ref()
                .is_some_and(|s| s.iter().any(|x| x == "*"))
            {
                Role::Owner
            } else {
                Role::Admin
            }
        }
        Subject::Organization { .. } => return Err(ApiError::forbidden()),
    };
    if !principal.allows(rule.scope) {
        return Err(ApiError::insufficient_scope(rule.scope));
    }
    if role < rule.role {
        return Err(ApiError::forbidden());
    }
    Ok(role)
}

/// Applies a route's rule: verifies the credential once, checks it against the rule, and
/// leaves the verified caller in the request for the handler's extractor. A refusal is the
/// request's answer (so the middleware around sees it with its route, as any other answer).
pub async fn guard(
    rule: Rule,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    match admit(rule, &req).await {
        Ok(()) => Ok(next.call(req).await?.map_into_boxed_body()),
        Err(refused) => Ok(req.error_response(refused)),
    }
}

/// [`guard`]'s check: the verified caller put in the request, or why not.
async fn admit(rule: Rule, req: &ServiceRequest) -> Result<(), ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(&"no application state"))?;
    match rule {
        Rule::Anonymous => {}
        Rule::OptionalFirstParty => {
            let user = match crate::auth::presented_token(req.request(), &state) {
                Some(token) => Some(first_party_user(&state, token).await?),
                None => None,
            };
            req.extensions_mut().insert(MaybeFirstParty(user));
        }
        Rule::FirstParty => {
            if req.headers().contains_key("x-api-key") {
                return Err(first_party_only());
            }
            let token =
                crate::auth::presented_token(req.request(), &state).ok_or_else(no_credentials)?;
            let user = first_party_user(&state, token).await?;
            req.extensions_mut().insert(user);
        }
        Rule::Operator => {
            if req.headers().contains_key("x-api-key") {
                return Err(first_party_only());
            }
            let token =
                crate::auth::presented_token(req.request(), &state).ok_or_else(no_credentials)?;
            let FirstPartyUser { user, .. } = first_party_user(&state, token).await?;
            if !user.admin {
                return Err(operators_only());
            }
            // As the console asks a second factor of every operator's session: an operator
            // with TOTP set up, whose every JSON sign-in therefore passed it.
            let st = state.clone();
            let id = user.id.clone();
            let factors = crate::traces::block("second_factors", move || {
                let mut conn = st.store.conn()?;
                Ok::<_, ApiError>(accounts::second_factors(&mut conn, &id)?)
            })
            .await??;
            if !factors.totp {
                return Err(operator_second_factor_required());
            }
            req.extensions_mut().insert(Operator {
                user,
                _sealed: Sealed,
            });
        }
        Rule::Caller { scope } => {
            let principal = require_principal(req.request(), &state).await?;
            if principal.is_agent_or_delegated() {
                return Err(gateway_only());
            }
            if !principal.allows(scope) {
                return Err(ApiError::insufficient_scope(scope));
            }
            req.extensions_mut().insert(Caller {
                principal,
                _sealed: Sealed,
            });
        }
        Rule::Org(org_rule) => {
            let principal = require_principal(req.request(), &state).await?;
            let org_id = req
                .match_info()
                .get("org")
                .ok_or_else(|| {
                    ApiError::internal(&"an organization rule on a route without {org}")
                })?
                .to_owned();
            let st = state.clone();
            let (principal, role, org_id) =
                crate::traces::block("access_check", move || -> Result<_, ApiError> {
                    let mut conn = st.store.conn()?;
                    let role = org_access(&mut conn, &principal, &org_id, &org_rule)?;
                    Ok((principal, role, org_id))
                })
                .await??;
            req.extensions_mut().insert(OrgCaller {
                principal,
                role,
                org_id,
                _sealed: Sealed,
            });
        }
    }
    Ok(())
}

/// Runs `f` on a pooled connection on a blocking thread for an operator: the shape of every
/// operator route's handler.
pub async fn as_operator<T: Send + 'static>(
    state: &web::Data<AppState>,
    operator: Operator,
    f: impl FnOnce(&AppState, &mut Conn, &accounts::User) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let st = state.clone();
    crate::traces::block("operator", move || {
        let mut conn = st.store.conn()?;
        f(&st, &mut conn, &operator.user)
    })
    .await?
}

/// Runs `f` on a pooled connection on a blocking thread with the caller's principal and role:
/// the shape of every organization-scoped handler.
pub async fn with_org<T: Send + 'static>(
    state: &web::Data<AppState>,
    caller: OrgCaller,
    f: impl FnOnce(&AppState, &mut Conn, &Principal, Role) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let st = state.clone();
    crate::traces::block("org_access", move || {
        let mut conn = st.store.conn()?;
        f(&st, &mut conn, &caller.principal, caller.role)
    })
    .await?
}
