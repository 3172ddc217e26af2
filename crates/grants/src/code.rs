//! Authorization codes (RFC 6749 §4.1): issued for a checked request the user consented to,
//! exchanged once at the token endpoint for a [`UserGrant`].
//!
//! Each check of the exchange yields its proof, and the grant is built from all of them:
//! the client authenticated ([`VerifiedClient`]), the code found for that client and unexpired
//! ([`PresentedCode`]), the redirect URI the same as the authorization request's
//! ([`RedirectMatched`]), PKCE verified ([`PkceVerified`]); the tokens leave only after the code
//! was marked used in the same transaction that records them ([`CodeRedeemed`]).

use primitives::{PlainSecret, SecretHash};
use registration::{GrantType, VerifiedClient};
use store::Conn;
use store::codes::{self as rows, CodeRow};

use crate::grant::sign_user;
use crate::pkce::{CodeChallenge, PkceVerified, verify_pkce};
use crate::{
    AuthorizationRequest, Consented, ErrorCode, GrantError, Issued, Policy, Scope, Sign, UserGrant,
    select_resources,
};

/// Codes live 60 seconds.
pub const CODE_TTL: i64 = 60;

/// Makes and stores a code for a checked request the user consented to. The code is shown
/// once, in the redirect; the database keeps its SHA-256.
pub fn issue_code(
    conn: &mut Conn,
    request: &AuthorizationRequest,
    consent: Consented,
    session: &accounts::Session,
    now: i64,
) -> Result<PlainSecret, GrantError> {
    // The consent must be this user's, for this client, and cover what the request asks.
    let matches = consent.user_id == session.user_id
        && consent.client_id == request.client_id()
        && request.scope().is_subset_of(&consent.scope);
    if !matches {
        return Err(GrantError::refused(
            ErrorCode::ServerError,
            "the consent does not match the request",
        ));
    }
    let code = PlainSecret::generate();
    let row = CodeRow {
        code_hash: code.hash().as_str().to_owned(),
        client_id: request.client_id().to_owned(),
        user_id: session.user_id.clone(),
        redirect_uri: request.redirect_uri().to_owned(),
        redirect_uri_given: request.redirect_uri_given(),
        scope: request.scope().to_string(),
        nonce: request.nonce().map(str::to_owned),
        code_challenge: request.code_challenge().map(|c| c.as_stored().to_owned()),
        resources: (!request.resources().is_empty())
            .then(|| serde_json::to_string(request.resources()).unwrap_or_default()),
        auth_time: session.auth_time,
        amr: session.amr.as_stored(),
        session_id: Some(session.id.clone()),
        created_at: now,
        expires_at: now + CODE_TTL,
        used_at: None,
        family_id: None,
        access_jti: None,
        access_exp: None,
        dpop_jkt: request.dpop_jkt().map(str::to_owned),
    };
    if request.pushed().is_none() {
        rows::purge_codes(conn, now - 3600)?;
        rows::insert_code(conn, &row)?;
        return Ok(code);
    }
    // A pushed request (RFC 9126) gives one response: the code takes it, in one transaction.
    store::transaction(conn, |conn| {
        if !crate::use_pushed(conn, request, now)? {
            return Err(GrantError::refused(
                ErrorCode::InvalidRequest,
                "this pushed authorization request was already used",
            ));
        }
        rows::insert_code(conn, &row)?;
        Ok(code)
    })
}

/// The parameters of an authorization-code exchange (RFC 6749 §4.1.3, RFC 8707 §2.2).
#[derive(Debug, Clone, Copy)]
pub struct CodeExchange<'a> {
    pub code: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub verifier: Option<&'a str>,
    /// The `resource` values of the token request: they select among the granted ones.
    pub resources: &'a [String],
}

/// A code that exists, was issued to the client presenting it, was never used and has not
/// expired.
pub struct PresentedCode {
    hash: SecretHash,
    row: CodeRow,
}

impl std::fmt::Debug for PresentedCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentedCode")
            .field("client_id", &self.row.client_id)
            .finish_non_exhaustive()
    }
}

/// Proof that the token request's `redirect_uri` is the authorization request's (RFC 6749
/// §4.1.3): the same string when that request named one, absent when it did not.
#[derive(Debug)]
pub struct RedirectMatched(());

/// Proof that the code was marked used by this exchange, in the transaction that records what
/// it issued: a code is redeemed once.
#[derive(Debug)]
pub struct CodeRedeemed(());

fn invalid_grant(description: &str) -> GrantError {
    GrantError::refused(ErrorCode::InvalidGrant, description)
}

/// Finds the presented code for `client`; a used one revokes what it issued (RFC 6749 §4.1.2).
fn find_code(
    conn: &mut Conn,
    client: &VerifiedClient,
    code: &str,
    now: i64,
) -> Result<PresentedCode, GrantError> {
    let hash = SecretHash::of(code);
    let row = rows::find_code(conn, hash.as_str())?
        .ok_or_else(|| invalid_grant("the code is not valid"))?;
    if row.client_id != client.id() {
        return Err(invalid_grant("the code was issued to another client"));
    }
    if row.used_at.is_some() {
        return Err(replayed(
            conn,
            &row,
            "the code was used already; the tokens it gave are revoked",
            now,
        ));
    }
    if now >= row.expires_at {
        return Err(invalid_grant("the code has expired"));
    }
    Ok(PresentedCode { hash, row })
}

fn match_redirect(
    code: &PresentedCode,
    given: Option<&str>,
) -> Result<RedirectMatched, GrantError> {
    let matched = match given {
        Some(given) => given == code.row.redirect_uri,
        None => !code.row.redirect_uri_given,
    };
    if matched {
        Ok(RedirectMatched(()))
    } else {
        Err(invalid_grant(
            "redirect_uri does not match the authorization request",
        ))
    }
}

/// Revokes what a replayed code issued and says so (the adapter records the event).
fn replayed(conn: &mut Conn, row: &CodeRow, description: &'static str, now: i64) -> GrantError {
    let revoke = |conn: &mut Conn| -> Result<(), GrantError> {
        if let Some(family) = &row.family_id {
            crate::family::revoke_family_by_id(conn, family, "code_replay", now)?;
        }
        if let (Some(jti), Some(exp)) = (&row.access_jti, row.access_exp) {
            store::keys::revoke_access_token(conn, jti, exp)?;
        }
        Ok(())
    };
    if let Err(e) = revoke(conn) {
        return e;
    }
    tracing::warn!(client = %row.client_id, user = %row.user_id, "authorization code replayed; its tokens are revoked");
    GrantError::CodeReplayed {
        client_id: row.client_id.clone(),
        user_id: row.user_id.clone(),
        description,
    }
}

/// The audience of a user's token asked without `resource`: this server, and for an
/// operator's first-party client also the first-party API (no third-party client can get it).
pub(crate) fn user_audience(policy: &Policy<'_>, client: &registration::Client) -> Vec<String> {
    let mut audience = vec![policy.default_audience.to_owned()];
    if client.first_party {
        audience.push(crate::FIRST_PARTY_AUDIENCE.to_owned());
    }
    audience
}

impl UserGrant {
    /// The grant of a code: made only from the proofs of every check of the exchange.
    fn from_code(
        client: &VerifiedClient,
        code: &PresentedCode,
        _redirect: &RedirectMatched,
        _pkce: &PkceVerified,
        user: accounts::User,
        (audience, scope, ttl): (Vec<String>, Scope, Option<i64>),
    ) -> Self {
        Self {
            user,
            client_id: client.id().to_owned(),
            id_token_alg: client
                .client()
                .metadata
                .id_token_signed_response_alg
                .clone(),
            scope,
            audience,
            ttl,
            auth_time: code.row.auth_time,
            amr: accounts::AuthMethods::from_stored(&code.row.amr),
            nonce: code.row.nonce.clone(),
            sid: code.row.session_id.clone(),
        }
    }
}

/// Marks the code used, or finds that another exchange did first.
fn redeem(conn: &mut Conn, code: &PresentedCode, now: i64) -> Result<CodeRedeemed, GrantError> {
    if rows::mark_code_used(conn, code.hash.as_str(), now)? {
        Ok(CodeRedeemed(()))
    } else {
        Err(invalid_grant("the code was used already"))
    }
}

/// Exchanges an authorization code (RFC 6749 §4.1.3, RFC 7636 §4.6, RFC 8707 §2.2).
pub fn exchange_code(
    conn: &mut Conn,
    signer: &dyn Sign,
    client: &VerifiedClient,
    request: &CodeExchange<'_>,
    policy: &Policy<'_>,
    now: i64,
) -> Result<Issued, GrantError> {
    let meta = &client.client().metadata;
    if !meta.allows_grant(GrantType::AuthorizationCode) {
        return Err(GrantError::refused(
            ErrorCode::UnauthorizedClient,
            "this client is not registered for the authorization code grant",
        ));
    }
    let code = find_code(conn, client, request.code, now)?;
    // RFC 9449 §10: a code bound to a key is redeemed only with a proof of that key.
    if let Some(bound) = code.row.dpop_jkt.as_deref()
        && signer.dpop_jkt() != Some(bound)
    {
        return Err(invalid_grant(
            "the code is bound to a DPoP key this request does not prove",
        ));
    }
    let redirect = match_redirect(&code, request.redirect_uri)?;
    let challenge = code
        .row
        .code_challenge
        .as_deref()
        .map(CodeChallenge::from_stored);
    let pkce = verify_pkce(challenge.as_ref(), request.verifier)?;
    let user = accounts::find_user(conn, &code.row.user_id)?
        .filter(|u| !u.disabled)
        .ok_or_else(|| invalid_grant("the user can no longer sign in"))?;
    let granted: Vec<String> = code
        .row
        .resources
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or_default();
    // The token's audience: the granted resources, or those of them the request names; the
    // family keeps all granted ones for later refreshes.
    let audience = select_resources(
        &granted,
        request.resources,
        &user_audience(policy, client.client()),
    )?;
    // A registered resource's scopes only in a token for it; its lifetime, if it sets one.
    let (scope, ttl) =
        crate::resources::token_terms(conn, &Scope::from_stored(&code.row.scope), &audience)?;
    let grant = UserGrant::from_code(
        client,
        &code,
        &redirect,
        &pkce,
        user,
        (audience, scope, ttl),
    );
    // Signed before the write transaction, which then holds the write lock for row writes
    // only; tokens of an exchange that loses the race below are dropped unseen.
    let (access, id_token, grant) = sign_user(signer, grant, now)?;
    let with_refresh = meta.allows_grant(GrantType::RefreshToken);
    let result = store::transaction(conn, |conn| -> Result<Issued, GrantError> {
        let _redeemed: CodeRedeemed = redeem(conn, &code, now)?;
        // The session's logout reaches this client (Back-Channel Logout).
        if let Some(sid) = &code.row.session_id {
            store::backchannel::record_session_client(conn, sid, client.id(), now)?;
        }
        let refresh = if with_refresh {
            let family = crate::family::Family {
                id: String::new(),
                user_id: grant.subject().to_owned(),
                client_id: client.id().to_owned(),
                scope: Some(code.row.scope.clone()),
                auth_time: code.row.auth_time,
                amr: accounts::AuthMethods::from_stored(&code.row.amr),
                resources: granted.clone(),
                dpop_jkt: crate::family::refresh_binding(client, signer),
            };
            Some(crate::family::start_family(
                conn,
                &family,
                now,
                policy.refresh_ttl,
                (&access.jti, access.expires_at),
            )?)
        } else {
            None
        };
        rows::record_code_tokens(
            conn,
            code.hash.as_str(),
            refresh.as_ref().map(|r| r.family_id.as_str()),
            &access.jti,
            access.expires_at,
        )?;
        Ok(Issued {
            grant,
            access,
            refresh: refresh.map(|r| r.token),
            id_token,
        })
    });
    match result {
        Err(GrantError::Refused(e)) if e.code == ErrorCode::InvalidGrant => {
            // Lost the race to another exchange of the same code: a replay.
            match rows::find_code(conn, code.hash.as_str())? {
                Some(row) => Err(replayed(conn, &row, "the code was used already", now)),
                None => Err(GrantError::Refused(e)),
            }
        }
        other => other,
    }
}
