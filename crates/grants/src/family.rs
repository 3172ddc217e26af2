//! Refresh-token families, underneath the refresh flow: rotation with reuse detection.
//!
//! Every sign-in starts a family. Each refresh marks the presented token used and issues a new
//! one in the same family. Presenting a used token again means it was stolen or replayed: the
//! whole family is revoked, with the access tokens issued with it. Within the grace period a
//! used token is a retry instead, answered with the successor it already has.

use primitives::{PlainSecret, SecretHash, random_id};
use store::Conn;
use store::accounts::{self as rows, FamilyRow, RefreshTokenRow};

use accounts::AccountError;

/// The `client_id` of tokens issued by the first-party JSON sign-in.
pub const FIRST_PARTY_CLIENT: &str = "portcullis";

/// A family, as the caller needs it to issue the next access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    pub id: String,
    pub user_id: String,
    pub client_id: String,
    pub scope: Option<String>,
    pub auth_time: i64,
    /// How the user signed in for the grant the family continues.
    pub amr: accounts::AuthMethods,
    /// The RFC 8707 resources granted (empty: none named). Every refresh keeps them; a
    /// `resource` at the token endpoint may narrow them, never widen them (§2.2).
    pub resources: Vec<String>,
    /// The DPoP key thumbprint a public client's family is bound to (RFC 9449 §5): each
    /// refresh needs a proof of that key.
    pub dpop_jkt: Option<String>,
}

/// RFC 9449 §5: a public client's refresh tokens are bound to the DPoP key of the request that
/// got them; a confidential client's are not, since its authentication already binds them.
pub(crate) fn refresh_binding(
    client: &registration::VerifiedClient,
    signer: &dyn crate::Sign,
) -> Option<String> {
    if client.is_authenticated() {
        None
    } else {
        signer.dpop_jkt().map(str::to_owned)
    }
}

impl From<FamilyRow> for Family {
    fn from(r: FamilyRow) -> Self {
        Self {
            id: r.id,
            user_id: r.user_id,
            client_id: r.client_id,
            scope: r.scope,
            auth_time: r.auth_time,
            amr: accounts::AuthMethods::from_stored(&r.amr),
            // Written by `start_family` only; a value that does not parse grants nothing more
            // than the default audience.
            resources: r
                .resources
                .as_deref()
                .and_then(|r| serde_json::from_str(r).ok())
                .unwrap_or_default(),
            dpop_jkt: r.dpop_jkt,
        }
    }
}

/// A new refresh token (shown once) and its family.
#[derive(Debug)]
pub struct IssuedRefresh {
    pub token: PlainSecret,
    pub family_id: String,
}

/// Starts a family and its first refresh token. `access` is the `(jti, exp)` of the access
/// token issued alongside, so revoking the family can revoke it.
pub fn start_family(
    conn: &mut Conn,
    family: &Family,
    now: i64,
    ttl: i64,
    access: (&str, i64),
) -> Result<IssuedRefresh, AccountError> {
    let id = if family.id.is_empty() {
        format!("fam_{}", random_id())
    } else {
        family.id.clone()
    };
    let token = PlainSecret::generate();
    store::transaction(conn, |conn| {
        rows::insert_family(
            conn,
            &FamilyRow {
                id: id.clone(),
                user_id: family.user_id.clone(),
                client_id: family.client_id.clone(),
                scope: family.scope.clone(),
                auth_time: family.auth_time,
                amr: family.amr.as_stored(),
                created_at: now,
                revoked_at: None,
                revoked_reason: None,
                resources: if family.resources.is_empty() {
                    None
                } else {
                    Some(serde_json::Value::from(family.resources.clone()).to_string())
                },
                dpop_jkt: family.dpop_jkt.clone(),
            },
        )?;
        rows::insert_refresh_token(conn, &token_row(&token, &id, now, ttl, access))?;
        Ok::<_, AccountError>(())
    })?;
    Ok(IssuedRefresh {
        token,
        family_id: id,
    })
}

fn token_row(
    token: &PlainSecret,
    family_id: &str,
    now: i64,
    ttl: i64,
    access: (&str, i64),
) -> RefreshTokenRow {
    RefreshTokenRow {
        token_hash: token.hash().as_str().to_owned(),
        family_id: family_id.to_owned(),
        created_at: now,
        expires_at: now + ttl,
        used_at: None,
        access_jti: access.0.to_owned(),
        access_exp: access.1,
        successor: None,
    }
}

/// What a successful rotation gives back.
#[derive(Debug)]
pub struct RefreshOutcome<T> {
    pub family: Family,
    pub refresh: PlainSecret,
    /// Whatever `issue_access` returned (the access token).
    pub access: T,
}

/// How the token endpoint may take a presented token that exists, in a live family of the
/// right client.
enum Presentable {
    /// Unused and unexpired: it rotates.
    Unused,
    /// Used within the grace period, its successor still unused: the retry gets that
    /// successor again.
    Retry(PlainSecret),
}

/// The successor of a used token, if the token was used at most `grace` seconds ago and the
/// successor is still unused and unexpired: only then may a retry have it.
fn grace_successor(
    conn: &mut Conn,
    token: &RefreshTokenRow,
    presented: &str,
    now: i64,
    grace: i64,
) -> Result<Option<PlainSecret>, AccountError> {
    let (Some(used), Some(sealed)) = (token.used_at, token.successor.as_deref()) else {
        return Ok(None);
    };
    if grace <= 0 || now - used > grace {
        return Ok(None);
    }
    let Some(successor) = primitives::open_for_holder(sealed, presented) else {
        return Ok(None);
    };
    let live =
        rows::find_refresh_token(conn, successor.hash().as_str())?.is_some_and(|(row, _)| {
            row.family_id == token.family_id && row.used_at.is_none() && now < row.expires_at
        });
    Ok(live.then_some(successor))
}

/// What the token endpoint makes of a found token: `TokenReused` for a used token that is no
/// retry within grace (the caller revokes the family), `TokenExpired` past its lifetime.
fn classify(
    conn: &mut Conn,
    token: &RefreshTokenRow,
    presented: &str,
    now: i64,
    grace: i64,
) -> Result<Presentable, AccountError> {
    let state = if token.used_at.is_some() {
        match grace_successor(conn, token, presented, now, grace)? {
            Some(successor) => Presentable::Retry(successor),
            None => return Err(AccountError::TokenReused),
        }
    } else {
        Presentable::Unused
    };
    if now >= token.expires_at {
        return Err(AccountError::TokenExpired);
    }
    Ok(state)
}

/// A presented token's row and family, if it is one of ours (length-checked, so any input is
/// safe to pass).
fn find(
    conn: &mut Conn,
    presented: &str,
) -> Result<Option<(RefreshTokenRow, FamilyRow)>, AccountError> {
    if presented.is_empty() || presented.len() > 128 {
        return Ok(None);
    }
    Ok(rows::find_refresh_token(
        conn,
        SecretHash::of(presented).as_str(),
    )?)
}

/// Rotates a refresh token. `issue_access` signs the new access token for the family and
/// returns it with its `(jti, exp)`; it runs before the write, so if it fails (with the
/// caller's own error type) the presented token stays usable.
///
/// The token must belong to `client_id` (else `TokenInvalid`, and it is not consumed). Within
/// `grace` seconds of its first use, a used token may be presented again (a response lost on
/// the way, or two requests racing): it gets a new access token and the *same* successor as
/// the first use, never a second one, so a family has one live refresh token at a time. A used
/// token whose successor has been used in turn is a replay, grace or not. 0 turns grace off.
pub fn rotate_refresh<T, E: From<AccountError>>(
    conn: &mut Conn,
    presented: &str,
    client_id: &str,
    (now, ttl, grace): (i64, i64, i64),
    issue_access: impl FnOnce(&mut Conn, &Family) -> Result<(T, String, i64), E>,
) -> Result<RefreshOutcome<T>, E> {
    let rotation = begin_rotation(conn, presented, client_id, now, grace)?;
    // The access token is signed before the write transaction, so the write lock is held for
    // a few row writes only, never for a signature. A token signed for a rotation that then
    // loses the race below is dropped unseen (or handed to the retry it turns out to be).
    let (access, jti, exp) = issue_access(conn, &rotation.family)?;
    let (family, refresh) =
        finish_rotation(conn, rotation, presented, (&jti, exp), (now, ttl, grace))?;
    Ok(RefreshOutcome {
        family,
        refresh,
        access,
    })
}

/// A presented token found, of a live family of the right client, and presentable.
struct Rotation {
    token: RefreshTokenRow,
    family: Family,
    state: Presentable,
}

/// The checks of a rotation, before anything is signed; a reused token revokes its family here.
fn begin_rotation(
    conn: &mut Conn,
    presented: &str,
    client_id: &str,
    now: i64,
    grace: i64,
) -> Result<Rotation, AccountError> {
    let (token, family) = find(conn, presented)?.ok_or(AccountError::TokenInvalid)?;
    if family.revoked_at.is_some() || family.client_id != client_id {
        return Err(AccountError::TokenInvalid);
    }
    let state = match classify(conn, &token, presented, now, grace) {
        Err(AccountError::TokenReused) => {
            revoke(conn, &family.id, "reuse", now)?;
            tracing::warn!(family = %family.id, user = %family.user_id, "refresh token reused; family revoked");
            return Err(AccountError::TokenReused);
        }
        other => other?,
    };
    Ok(Rotation {
        token,
        family: Family::from(family),
        state,
    })
}

/// The writes of a rotation, after the access token `(jti, exp)` was signed: the successor
/// (or, for a retry within grace, the one it already has).
fn finish_rotation(
    conn: &mut Conn,
    rotation: Rotation,
    presented: &str,
    (jti, exp): (&str, i64),
    (now, ttl, grace): (i64, i64, i64),
) -> Result<(Family, PlainSecret), AccountError> {
    let Rotation {
        token,
        family,
        state,
    } = rotation;
    if let Presentable::Retry(successor) = state {
        rows::insert_family_access_token(conn, &family.id, jti, exp)?;
        return Ok((family, successor));
    }
    let hash = token.token_hash;
    let refresh = PlainSecret::generate();
    let sealed = primitives::seal_for_holder(&refresh, presented);
    let result = store::transaction(conn, |conn| {
        if !rows::mark_refresh_token_used(conn, &hash, now, sealed.as_deref())? {
            // Another request rotated it between our read and this write.
            return Err(AccountError::TokenReused);
        }
        rows::insert_refresh_token(conn, &token_row(&refresh, &family.id, now, ttl, (jti, exp)))?;
        Ok(())
    });
    match result {
        Ok(()) => Ok((family, refresh)),
        Err(AccountError::TokenReused) => {
            // Within grace, losing that race is the retry grace is for: the winner's successor.
            if let Some((token, _)) = rows::find_refresh_token(conn, &hash)?
                && let Some(successor) = grace_successor(conn, &token, presented, now, grace)?
            {
                rows::insert_family_access_token(conn, &family.id, jti, exp)?;
                return Ok((family, successor));
            }
            revoke(conn, &family.id, "reuse", now)?;
            Err(AccountError::TokenReused)
        }
        Err(e) => Err(e),
    }
}

/// A refresh token as introspection (RFC 7662) describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveRefresh {
    pub family: Family,
    /// When this token was issued.
    pub issued_at: i64,
    /// When the token endpoint stops accepting it: its expiry, or for a used token within the
    /// grace period, the end of that period.
    pub expires_at: i64,
}

/// The refresh token as the token endpoint would take it right now, without using it: `Some`
/// exactly when a refresh with it would succeed for its client (family live, token unused or a
/// retry within grace, not expired, user present and not disabled). Whether the client still
/// exists and may refresh is the caller's to check; nothing is written.
pub fn inspect_refresh(
    conn: &mut Conn,
    presented: &str,
    now: i64,
    grace: i64,
) -> Result<Option<ActiveRefresh>, AccountError> {
    let Some((token, family)) = find(conn, presented)? else {
        return Ok(None);
    };
    if family.revoked_at.is_some() {
        return Ok(None);
    }
    let expires_at = match classify(conn, &token, presented, now, grace) {
        Ok(Presentable::Unused) => token.expires_at,
        Ok(Presentable::Retry(_)) => token.expires_at.min(token.used_at.unwrap_or(now) + grace),
        Err(AccountError::TokenReused | AccountError::TokenExpired) => return Ok(None),
        Err(e) => return Err(e),
    };
    if rows::find_user(conn, &family.user_id)?.is_none_or(|u| u.disabled) {
        return Ok(None);
    }
    Ok(Some(ActiveRefresh {
        family: family.into(),
        issued_at: token.created_at,
        expires_at,
    }))
}

/// Revokes the family of a refresh token for the client it was issued to (RFC 7009 §2.1), with
/// the access tokens issued from it. `Ok(None)`: not a refresh token of ours (nothing to do);
/// `Forbidden`: another client's token, left as it was.
pub fn revoke_for_client(
    conn: &mut Conn,
    presented: &str,
    client_id: &str,
    now: i64,
) -> Result<Option<Family>, AccountError> {
    let Some((_, family)) = find(conn, presented)? else {
        return Ok(None);
    };
    if family.client_id != client_id {
        return Err(AccountError::Forbidden);
    }
    revoke(conn, &family.id, "revoked", now)?;
    Ok(Some(family.into()))
}

/// Revokes the family of a refresh token (sign-out). Unknown tokens are not an error.
pub fn revoke_family(
    conn: &mut Conn,
    presented: &str,
    reason: &str,
    now: i64,
) -> Result<Option<Family>, AccountError> {
    let hash = SecretHash::of(presented);
    let Some((_, family)) = rows::find_refresh_token(conn, hash.as_str())? else {
        return Ok(None);
    };
    revoke(conn, &family.id, reason, now)?;
    Ok(Some(family.into()))
}

/// Revokes a family by id (a replayed authorization code revokes what it issued).
pub fn revoke_family_by_id(
    conn: &mut Conn,
    family_id: &str,
    reason: &str,
    now: i64,
) -> Result<(), AccountError> {
    revoke(conn, family_id, reason, now)
}

/// Revokes every live family a user holds for a client (the user withdrew the app's access).
pub fn revoke_client_families(
    conn: &mut Conn,
    user_id: &str,
    client_id: &str,
    now: i64,
) -> Result<usize, AccountError> {
    let families = store::codes::live_families(conn, user_id, client_id)?;
    for id in &families {
        revoke(conn, id, "consent_withdrawn", now)?;
    }
    Ok(families.len())
}

/// Revokes every live family of a user, for every client (a password reset or change signs the
/// user out everywhere).
pub fn revoke_user_families(
    conn: &mut Conn,
    user_id: &str,
    reason: &str,
    now: i64,
) -> Result<usize, AccountError> {
    let families = store::codes::live_families_of_user(conn, user_id)?;
    for id in &families {
        revoke(conn, id, reason, now)?;
    }
    Ok(families.len())
}

/// Revokes a family and the access tokens issued with it that are still alive, and records it
/// in the audit log.
fn revoke(conn: &mut Conn, family_id: &str, reason: &str, now: i64) -> Result<(), AccountError> {
    if rows::revoke_family(conn, family_id, reason, now)? {
        let user = rows::find_family(conn, family_id)?.map(|f| f.user_id);
        let detail = format!("{{\"family\":\"{family_id}\",\"reason\":\"{reason}\"}}");
        store::audit::insert(
            conn,
            &store::audit::NewAuditEvent {
                id: &random_id(),
                occurred_at: now,
                kind: "refresh_family.revoked",
                actor: user.as_deref(),
                ip: None,
                detail: &detail,
                org_id: None,
                // A sign-out is a success; a reused token is an attack caught.
                outcome: if reason == "reuse" {
                    "failure"
                } else {
                    "success"
                },
            },
        )?;
    }
    for (jti, exp) in rows::live_access_tokens_of_family(conn, family_id, now)? {
        store::keys::revoke_access_token(conn, &jti, exp)?;
    }
    Ok(())
}
