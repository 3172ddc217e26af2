//! The server's side of the flows of `grants`: what they are handed (the connection, the
//! cached clients and keys, the signer, the settings as a `grants::Policy`), and what their
//! outcomes make happen here (the throttle, the audit log, the answer's JSON). The routes parse
//! HTTP and call these; these call `grants` and never see a request.

use actix_web::http::StatusCode;
use grants::{
    CodeExchange, ErrorCode, GrantError, Issued, OAuthError, PasswordAttempt, RefreshRequest,
    Sign as _, TokenRequest, VerifiedAccess,
};
use registration::{Presented, VerifiedClient};
use serde_json::{Map, Value, json};
use store::Conn;
use tokens::dpop::VerifiedProof;
use tokens::{AccessClaims, Audience};

use crate::access::{Expect, TokenRejected};
use crate::audit::Event;
use crate::errors::{ApiError, OAuthHttpError};
use crate::state::AppState;

/// The client-credentials grant answered on the request's own thread, when the client and the
/// signing keys are both in memory: nothing to read, nothing to write, so no blocking thread.
/// `None` sends the request down the ordinary path (which reads what is missing).
pub(crate) fn fast_client_credentials(
    state: &AppState,
    presented: &Presented,
    request: &TokenRequest,
    proof: &Option<VerifiedProof>,
) -> Option<Result<Issued, OAuthHttpError>> {
    let TokenRequest::ClientCredentials { scope, resources } = request else {
        return None;
    };
    // A DPoP proof is recorded against replay, and a client assertion's `jti` as used, in the
    // database: the ordinary path does that.
    if proof.is_some() || matches!(presented, Presented::Assertion { .. }) {
        return None;
    }
    let now = state.now();
    // An agent's client needs its agent read, and a client that must send DPoP proofs is
    // refused: the ordinary path does both.
    let client = state
        .clients
        .get(presented.client_id(), now)
        .filter(|c| c.metadata.agent_id.is_none() && !c.metadata.dpop_bound_access_tokens)?;
    let keyring = state.keys.cached(now)?;
    Some(
        registration::check_credentials(Some(client), presented)
            .map_err(OAuthHttpError::from)
            .and_then(|client| {
                client_credentials(
                    state,
                    &client,
                    scope.as_deref(),
                    resources.clone(),
                    state.signer(&keyring),
                    now,
                )
            }),
    )
}

pub(crate) fn client_credentials(
    state: &AppState,
    client: &VerifiedClient,
    scope: Option<&str>,
    resources: Vec<String>,
    signer: tokens::Signer<'_>,
    now: i64,
) -> Result<Issued, OAuthHttpError> {
    let grant =
        grants::client_credentials(client, scope, resources, &state.settings.default_audience)?;
    let access = signer
        .access_token(&grant, now)
        .map_err(|e| OAuthHttpError::server_error(&e))?;
    Ok(Issued {
        grant,
        access,
        refresh: None,
        id_token: None,
    })
}

/// Every grant but the fast path: authenticates the client, runs the flow of `grants`, and
/// answers its outcome.
pub(crate) fn token(
    state: &AppState,
    presented: &Presented,
    request: TokenRequest,
    ip: Option<String>,
    proof: Option<VerifiedProof>,
) -> Result<Issued, OAuthHttpError> {
    let mut conn = state.store.conn()?;
    let now = state.now();
    let client = state.clients.authenticate(&mut conn, presented, now)?;
    let proof = dpop_for_client(state, &mut conn, &client, proof)?;
    let keyring = state.keys.get(&mut conn, now)?;
    let mut signer = state.signer(&keyring);
    signer.dpop_jkt = proof.as_ref().map(|p| p.jkt.as_str());
    let policy = state.policy();
    let outcome = match request {
        TokenRequest::ClientCredentials { scope, resources }
            if client.client().metadata.agent_id.is_some() =>
        {
            grants::agent_client_credentials(
                &mut conn,
                &client,
                scope.as_deref(),
                resources,
                &state.settings.default_audience,
            )
            .and_then(|grant| {
                let access = signer.access_token(&grant, now)?;
                Ok(Issued {
                    grant,
                    access,
                    refresh: None,
                    id_token: None,
                })
            })
        }
        TokenRequest::ClientCredentials { scope, resources } => {
            return client_credentials(state, &client, scope.as_deref(), resources, signer, now);
        }
        TokenRequest::TokenExchange(exchange) => {
            return token_exchange(state, &mut conn, &client, signer, &exchange);
        }
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
            resources,
        } => grants::exchange_code(
            &mut conn,
            &signer,
            &client,
            &CodeExchange {
                code: &code,
                redirect_uri: redirect_uri.as_deref(),
                verifier: code_verifier.as_deref(),
                resources: &resources,
            },
            &policy,
            now,
        ),
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
            resources,
        } => grants::refresh(
            &mut conn,
            &signer,
            &client,
            &RefreshRequest {
                token: &refresh_token,
                scope: scope.as_deref(),
                resources: &resources,
            },
            &policy,
            now,
        ),
        TokenRequest::DeviceCode { device_code } => {
            return grants::poll_device(&mut conn, &signer, &client, &device_code, &policy, now)
                .map_err(|e| match e {
                    // RFC 8628 §3.5 answers every polling error with 400 (§5.2 of RFC 6749),
                    // `slow_down` too; the 429 of `slow_down` is for the rate limits.
                    GrantError::Refused(e) if e.code == ErrorCode::SlowDown => {
                        OAuthHttpError::new(StatusCode::BAD_REQUEST, e.code, e.description)
                    }
                    other => grant_error(state, &mut conn, other),
                });
        }
        TokenRequest::Password {
            username,
            password,
            scope,
        } => {
            let attempt = PasswordAttempt {
                username: &username,
                password: &password,
                scope: scope.as_deref(),
            };
            return password_grant(
                state,
                &mut conn,
                (&signer, &policy),
                &client,
                &attempt,
                ip.as_deref(),
            );
        }
    };
    outcome.map_err(|e| grant_error(state, &mut conn, e))
}

/// The token endpoint's DPoP rules once the client is known (RFC 9449 §5, §5.2): a client
/// registered with `dpop_bound_access_tokens` must send a proof; a proof sent is recorded
/// against replay, on whichever instance it comes again.
fn dpop_for_client(
    state: &AppState,
    conn: &mut Conn,
    client: &VerifiedClient,
    proof: Option<VerifiedProof>,
) -> Result<Option<VerifiedProof>, OAuthHttpError> {
    let Some(proof) = proof else {
        if client.client().metadata.dpop_bound_access_tokens {
            return Err(OAuthHttpError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidDpopProof,
                "this client must send a DPoP proof",
            ));
        }
        return Ok(None);
    };
    crate::dpop::record(state, conn, &proof)?.map_err(|r| OAuthHttpError::dpop(&r))?;
    Ok(Some(proof))
}

/// Token exchange (RFC 8693): the subject and actor tokens verified here (the one access-token
/// check, the API-key check), the decision in `grants::token_exchange`, the token signed with
/// at most `PORTCULLIS_EXCHANGE_TOKEN_TTL` and the subject token's remaining life. A subject or
/// actor token that is not valid is `invalid_request` (§2.2.2), the reason logged at debug.
pub(crate) fn token_exchange(
    state: &AppState,
    conn: &mut Conn,
    client: &VerifiedClient,
    signer: tokens::Signer<'_>,
    request: &grants::ExchangeRequest,
) -> Result<Issued, OAuthHttpError> {
    let now = state.now();
    let subject = exchange_subject(state, conn, client, signer.keyring, request)?;
    let actor = match &request.actor_token {
        Some(token) => exchange_actor(state, conn, token)?,
        None => {
            match grants::bound_agent(conn, client.id()).map_err(|e| grant_error(state, conn, e))? {
                Some(agent) => grants::Actor::Agent {
                    token_scopes: agent.scopes.clone(),
                    agent,
                    client_id: client.id().to_owned(),
                },
                None => grants::Actor::Client {
                    client_id: client.id().to_owned(),
                    scopes: client
                        .client()
                        .metadata
                        .scopes()
                        .into_iter()
                        .map(str::to_owned)
                        .collect(),
                },
            }
        }
    };
    let grant = grants::token_exchange(
        conn,
        client,
        subject,
        actor,
        request,
        &state.settings.default_audience,
    )
    .map_err(|e| grant_error(state, conn, e))?;
    let mut signer = signer;
    signer.issuance.ttl = signer.issuance.ttl.min(state.settings.exchange_token_ttl);
    let access = signer
        .access_token(&grant, now)
        .map_err(|e| OAuthHttpError::server_error(&e))?;
    Ok(Issued {
        grant,
        access,
        refresh: None,
        id_token: None,
    })
}

fn not_valid(which: &str, reason: &dyn std::fmt::Debug) -> OAuthHttpError {
    tracing::debug!(?reason, "token exchange: the {which} token was refused");
    OAuthError::invalid_request(format!(
        "the {which} token is not valid (expired, revoked, or not one this server accepts)"
    ))
    .into()
}

/// The subject of an exchange, from its token.
fn exchange_subject(
    state: &AppState,
    conn: &mut Conn,
    client: &VerifiedClient,
    keyring: &tokens::Keyring,
    request: &grants::ExchangeRequest,
) -> Result<grants::VerifiedSubject, OAuthHttpError> {
    let raw = request.subject_token.as_str();
    match request.subject_token_type {
        // Only the client the ID token was issued to may exchange it, and for no more than the
        // user allowed that client (an ID token carries no scope of its own).
        grants::SubjectTokenType::IdToken => {
            let claims =
                tokens::verify_id_token(keyring, raw, state.settings.issuer_str(), state.now())
                    .map_err(|e| not_valid("subject", &e))?;
            if !claims.aud.contains(client.id()) {
                return Err(not_valid(
                    "subject",
                    &"an ID token issued to another client",
                ));
            }
            let user = accounts::find_user(conn, &claims.sub)
                .map_err(|e| OAuthHttpError::server_error(&e))?
                .filter(|u| !u.disabled)
                .ok_or_else(|| not_valid("subject", &"the user can no longer sign in"))?;
            let allowed = grants::consented_scope(conn, &user.id, client.id())?;
            Ok(grants::VerifiedSubject {
                kind: grants::SubjectKind::User { id: user.id },
                scopes: Some(allowed.iter().map(str::to_owned).collect()),
                expires_at: Some(claims.exp),
                act: None,
                may_act: None,
            })
        }
        grants::SubjectTokenType::ApiKey => {
            let parsed = match apikeys::parse_key(raw) {
                Ok(parsed) if apikeys::split_combined(raw).is_none() => parsed,
                Ok(_) => return Err(not_valid("subject", &"a key combined with an agent")),
                Err(e) => return Err(not_valid("subject", &e)),
            };
            let key = match apikeys::verify_key(conn, &parsed, state.now()) {
                Ok(key) => key,
                Err(apikeys::KeyError::Store(e)) => return Err(e.into()),
                Err(e) => return Err(not_valid("subject", &e)),
            };
            if !key
                .scopes
                .iter()
                .any(|s| s == "*" || s == gateway::CALL_SCOPE)
            {
                return Err(OAuthError::invalid_request(
                    "the subject key does not hold authorize: no agent may act for it",
                )
                .into());
            }
            Ok(grants::VerifiedSubject {
                kind: grants::SubjectKind::ApiKey {
                    key_id: key.id,
                    org_id: key.org_id,
                },
                scopes: None,
                expires_at: key.valid_until,
                act: None,
                may_act: None,
            })
        }
        grants::SubjectTokenType::AccessToken => {
            if raw.starts_with("pcl_") {
                return Err(OAuthError::invalid_request(format!(
                    "an API key is exchanged as subject_token_type {}",
                    grants::TOKEN_TYPE_API_KEY
                ))
                .into());
            }
            let verified =
                match crate::access::verify_access_token(state, conn, raw, Expect::AnyAudience) {
                    Ok(v) => v,
                    Err(TokenRejected::Internal(detail)) => {
                        return Err(OAuthHttpError::server_error(&detail));
                    }
                    Err(reason) => return Err(not_valid("subject", &reason)),
                };
            let claims = verified.claims();
            let kind = match (verified.key(), verified.user()) {
                (Some(key), _) => grants::SubjectKind::ApiKey {
                    key_id: key.id.clone(),
                    org_id: key.org_id.clone(),
                },
                (None, Some(user)) if claims.org_id.is_none() || claims.act.is_some() => {
                    grants::SubjectKind::User {
                        id: user.id.clone(),
                    }
                }
                _ => {
                    return Err(OAuthError::invalid_request(
                        "the subject token names no user or organization key (a client's or an agent's own token)",
                    )
                    .into());
                }
            };
            Ok(grants::VerifiedSubject {
                kind,
                scopes: Some(
                    verified
                        .scopes()
                        .into_iter()
                        .filter(|s| *s != "*")
                        .map(str::to_owned)
                        .collect(),
                ),
                expires_at: Some(claims.exp),
                act: claims.act.as_ref().map(grants::Act::from),
                may_act: claims.may_act.as_ref().map(|m| m.sub.clone()),
            })
        }
    }
}

/// The actor of an exchange, from its token: an agent's own access token.
fn exchange_actor(
    state: &AppState,
    conn: &mut Conn,
    token: &str,
) -> Result<grants::Actor, OAuthHttpError> {
    let verified = match crate::access::verify_access_token(state, conn, token, Expect::AnyAudience)
    {
        Ok(v) => v,
        Err(TokenRejected::Internal(detail)) => return Err(OAuthHttpError::server_error(&detail)),
        Err(reason) => return Err(not_valid("actor", &reason)),
    };
    let claims = verified.claims();
    match verified.agent() {
        Some(agent) if claims.act.is_none() => Ok(grants::Actor::Agent {
            agent: grants::BoundAgent {
                agent_id: agent.id.clone(),
                org_id: agent.org_id.clone(),
                scopes: agent.scopes.clone(),
            },
            client_id: claims.client_id.clone(),
            token_scopes: verified.scopes().into_iter().map(str::to_owned).collect(),
        }),
        _ => Err(OAuthError::invalid_request(
            "the actor token must be an agent's own access token (client credentials of its client)",
        )
        .into()),
    }
}

/// The password grant, throttled like the sign-in page, its outcome recorded.
pub(crate) fn password_grant(
    state: &AppState,
    conn: &mut store::Conn,
    (signer, policy): (&tokens::Signer<'_>, &grants::Policy<'_>),
    client: &VerifiedClient,
    attempt: &PasswordAttempt<'_>,
    ip: Option<&str>,
) -> Result<Issued, OAuthHttpError> {
    let now = state.now();
    let username = attempt.username;
    // Refusals that need no password (grant off, client not registered, scope) come first.
    if !policy.password_grant
        || !client
            .client()
            .metadata
            .allows_grant(registration::GrantType::Password)
    {
        return grants::password_grant(conn, signer, client, attempt, &state.hasher, policy, now)
            .map_err(|e| grant_error(state, conn, e));
    }
    state
        .throttle
        .check(username, ip, now)
        .map_err(|t| OAuthHttpError::slow_down(t.retry_after))?;
    let detail = || json!({ "via": "password_grant", "client_id": client.id() });
    match grants::password_grant(conn, signer, client, attempt, &state.hasher, policy, now) {
        Ok(issued) => {
            state.throttle.record_success(username);
            let event = Event::login_succeeded(issued.grant.subject(), ip, detail());
            crate::audit::record(conn, now, event);
            Ok(issued)
        }
        Err(GrantError::WrongPassword) => {
            state.throttle.record_failure(username, ip, now);
            let event = Event::login_failed(conn, username, ip, detail());
            crate::audit::record(conn, now, event);
            Err(
                OAuthError::new(ErrorCode::InvalidGrant, "the username or password is wrong")
                    .into(),
            )
        }
        Err(e) => Err(grant_error(state, conn, e)),
    }
}

/// A flow's refusal as the token endpoint answers it; a replayed code is recorded.
pub(crate) fn grant_error(
    state: &AppState,
    conn: &mut store::Conn,
    e: GrantError,
) -> OAuthHttpError {
    match e {
        GrantError::CodeReplayed {
            client_id,
            user_id,
            description,
        } => {
            crate::audit::record(
                conn,
                state.now(),
                Event::new("authorization_code.replayed")
                    .actor(Some(&user_id))
                    .failed()
                    .detail(json!({ "client_id": client_id })),
            );
            OAuthError::new(ErrorCode::InvalidGrant, description).into()
        }
        other => other.into(),
    }
}

/// A client that may call introspection: one that authenticated with a secret.
pub(crate) fn confidential(
    state: &AppState,
    conn: &mut Conn,
    presented: &Presented,
) -> Result<VerifiedClient, OAuthHttpError> {
    let client = state.clients.authenticate(conn, presented, state.now())?;
    if !client.is_authenticated() {
        return Err(OAuthHttpError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidClient,
            "only confidential clients may introspect tokens",
        ));
    }
    Ok(client)
}

/// The kinds of token introspection and revocation look for.
#[derive(Clone, Copy)]
pub(crate) enum TokenKind {
    Access,
    Refresh,
}

/// The order in which the kinds are tried: `token_type_hint` decides only that (RFC 7662 §2.1,
/// RFC 7009 §2.1); an unknown or wrong hint costs one lookup, never a miss.
pub(crate) fn lookup_order(hint: Option<&str>) -> [TokenKind; 2] {
    if hint == Some("refresh_token") {
        [TokenKind::Refresh, TokenKind::Access]
    } else {
        [TokenKind::Access, TokenKind::Refresh]
    }
}

/// Introspection (RFC 7662 §2): the caller must be a confidential client; each kind is looked
/// for in `order`; an inactive token is described by `active` alone (§2.2).
pub(crate) fn introspect(
    state: &AppState,
    presented: &Presented,
    token: &str,
    order: [TokenKind; 2],
) -> Result<Value, OAuthHttpError> {
    let mut conn = state.store.conn()?;
    let caller = confidential(state, &mut conn, presented)?;
    for kind in order {
        let found = match kind {
            TokenKind::Access => introspect_access(state, &mut conn, token)?,
            TokenKind::Refresh => introspect_refresh(state, &mut conn, &caller, token)?,
        };
        if let Some(active) = found {
            return Ok(active);
        }
    }
    Ok(json!({ "active": false }))
}

/// The answer for an access token that is active, or `None`.
fn introspect_access(
    state: &AppState,
    conn: &mut Conn,
    token: &str,
) -> Result<Option<Value>, OAuthHttpError> {
    // The one access-token check, for any audience: a resource server introspects tokens
    // meant for it, not for this server.
    match crate::access::verify_access_token(state, conn, token, Expect::AnyAudience) {
        Ok(verified) => Ok(Some(active_response(verified.claims()))),
        Err(TokenRejected::Internal(detail)) => Err(OAuthHttpError::server_error(&detail)),
        Err(reason) => {
            tracing::debug!(?reason, "introspected token is not an active access token");
            Ok(None)
        }
    }
}

/// The answer for a refresh token that the token endpoint would accept right now from its
/// client, or `None` (the decision is `grants::introspect_refresh`).
fn introspect_refresh(
    state: &AppState,
    conn: &mut Conn,
    caller: &VerifiedClient,
    token: &str,
) -> Result<Option<Value>, OAuthHttpError> {
    let Some(active) =
        grants::introspect_refresh(conn, caller, token, &state.policy(), state.now())
            .map_err(OAuthHttpError::from)?
    else {
        return Ok(None);
    };
    let mut out = Map::new();
    out.insert("active".into(), Value::Bool(true));
    if let Some(scope) = active.scope {
        out.insert("scope".into(), Value::String(scope));
    }
    out.insert("client_id".into(), Value::String(active.client_id));
    out.insert("token_type".into(), Value::String("refresh_token".into()));
    out.insert("exp".into(), Value::from(active.expires_at));
    out.insert("iat".into(), Value::from(active.issued_at));
    out.insert("sub".into(), Value::String(active.user_id));
    out.insert(
        "iss".into(),
        Value::String(state.settings.issuer_str().to_owned()),
    );
    Ok(Some(Value::Object(out)))
}

fn active_response(claims: &AccessClaims) -> Value {
    let mut out = Map::new();
    out.insert("active".into(), Value::Bool(true));
    if let Some(scope) = &claims.scope {
        out.insert("scope".into(), Value::String(scope.clone()));
    }
    out.insert("client_id".into(), Value::String(claims.client_id.clone()));
    // RFC 9449 §6.2: a bound token is of type DPoP and says its key.
    let token_type = if claims.cnf.is_some() {
        "DPoP"
    } else {
        "Bearer"
    };
    out.insert("token_type".into(), Value::String(token_type.into()));
    if let Some(cnf) = &claims.cnf {
        out.insert("cnf".into(), json!(cnf));
    }
    out.insert("exp".into(), Value::from(claims.exp));
    out.insert("iat".into(), Value::from(claims.iat));
    out.insert("sub".into(), Value::String(claims.sub.clone()));
    out.insert(
        "aud".into(),
        match &claims.aud {
            Audience::One(a) => Value::String(a.clone()),
            Audience::Many(list) => Value::from(list.clone()),
        },
    );
    out.insert("iss".into(), Value::String(claims.iss.clone()));
    out.insert("jti".into(), Value::String(claims.jti.clone()));
    if let Some(org_id) = &claims.org_id {
        out.insert("org_id".into(), Value::String(org_id.clone()));
    }
    if let Some(act) = &claims.act {
        out.insert("act".into(), json!(act));
    }
    Value::Object(out)
}

/// Revocation (RFC 7009 §2.1): every kind is tried in `order`; an unknown, malformed or expired
/// token is nothing to revoke, and not an error (§2.2).
pub(crate) fn revoke(
    state: &AppState,
    presented: &Presented,
    token: &str,
    order: [TokenKind; 2],
) -> Result<(), OAuthHttpError> {
    let mut conn = state.store.conn()?;
    let client = state
        .clients
        .authenticate(&mut conn, presented, state.now())?;
    for kind in order {
        let revoked = match kind {
            TokenKind::Access => revoke_access(state, &mut conn, &client, token)?,
            TokenKind::Refresh => revoke_refresh(state, &mut conn, &client, token)?,
        };
        if revoked {
            return Ok(());
        }
    }
    tracing::debug!(client_id = client.id(), "revocation of an unknown token");
    Ok(())
}

/// Revokes an access token of `client`; false when `token` is not a valid access token.
fn revoke_access(
    state: &AppState,
    conn: &mut Conn,
    client: &VerifiedClient,
    token: &str,
) -> Result<bool, OAuthHttpError> {
    // The one access-token check, for any audience (a resource server's token is revoked by
    // its client too). A token it refuses (expired, revoked, of a deleted client) is nothing to
    // revoke.
    let verified = match crate::access::verify_access_token(state, conn, token, Expect::AnyAudience)
    {
        Ok(verified) => verified,
        Err(TokenRejected::Internal(detail)) => return Err(OAuthHttpError::server_error(&detail)),
        Err(_) => return Ok(false),
    };
    let claims = verified.claims();
    let verified = VerifiedAccess {
        jti: &claims.jti,
        exp: claims.exp,
        client_id: &claims.client_id,
    };
    grants::revoke_access(conn, client, verified, state.now()).map_err(OAuthHttpError::from)?;
    Ok(true)
}

/// Revokes a refresh token of `client` with its family; false when `token` is not one of ours.
fn revoke_refresh(
    state: &AppState,
    conn: &mut Conn,
    client: &VerifiedClient,
    token: &str,
) -> Result<bool, OAuthHttpError> {
    grants::revoke_refresh(conn, client, token, state.now()).map_err(OAuthHttpError::from)
}

/// The token pair every JSON sign-in answers with: an access token and a rotating refresh
/// token. No `Debug`: it holds both.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TokenPair {
    /// A JWT access token, sent as `Authorization: Bearer`.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The refresh token for `POST /api/v1/auth/refresh`; rotated on every use.
    pub refresh_token: Option<String>,
}

/// The token pair of an issued sign-in.
pub(crate) fn token_pair(issued: &grants::Issued) -> TokenPair {
    TokenPair {
        token: issued.access.token.clone(),
        token_type: "Bearer".to_owned(),
        expires_in: issued.access.expires_in,
        refresh_token: issued.refresh.as_ref().map(|r| r.expose().to_owned()),
    }
}

/// How a new account starts.
pub(crate) enum NewSession {
    SignedIn(TokenPair),
    /// No tokens until the address is verified (`PORTCULLIS_REQUIRE_VERIFIED_EMAIL`).
    VerifyEmailFirst,
    /// No tokens until a second factor is set up (an organization requires one).
    EnrolMfaFirst,
}

/// The answer to a new account (JSON sign-up, an invite accepted with a new account): signed in,
/// or, when addresses must be verified first (`PORTCULLIS_REQUIRE_VERIFIED_EMAIL`), no tokens
/// yet, as the sign-in would refuse them.
pub(crate) fn sign_in_new_account(
    state: &AppState,
    conn: &mut Conn,
    user: &accounts::User,
    now: i64,
) -> Result<NewSession, ApiError> {
    if state.settings.require_verified_email && !user.email_verified {
        return Ok(NewSession::VerifyEmailFirst);
    }
    // An invite into an organization that requires a second factor: no tokens until one is
    // set up (on the sign-in page, as `mfa_enrollment_required` says at the JSON sign-in).
    if accounts::mfa_required_by_org(conn, &user.id)? {
        return Ok(NewSession::EnrolMfaFirst);
    }
    let pair = sign_in(state, conn, user, &accounts::AuthMethods::password(), now)?;
    Ok(NewSession::SignedIn(pair))
}

/// Issues an access token and starts a refresh family for a user who just signed in with
/// `amr` (the first-party grant of `grants`).
pub(crate) fn sign_in(
    state: &AppState,
    conn: &mut Conn,
    user: &accounts::User,
    amr: &accounts::AuthMethods,
    now: i64,
) -> Result<TokenPair, ApiError> {
    let keyring = state.keys.get(conn, now)?;
    let signer = state.signer(&keyring);
    let issued = grants::first_party_sign_in(conn, &signer, user, amr, &state.policy(), now)?;
    Ok(token_pair(&issued))
}
