//! Refresh-token families for first-party sign-in: rotation with reuse detection.
//!
//! Every sign-in starts a family. Each refresh marks the presented token used and issues a new
//! one in the same family. Presenting a used token again means it was stolen or replayed: the
//! whole family is revoked, with the access tokens issued with it.

use primitives::{PlainSecret, SecretHash, random_id};
use store::Conn;
use store::accounts::{self as rows, FamilyRow, RefreshTokenRow};

use crate::AccountError;

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
}

impl From<FamilyRow> for Family {
    fn from(r: FamilyRow) -> Self {
        Self {
            id: r.id,
            user_id: r.user_id,
            client_id: r.client_id,
            scope: r.scope,
            auth_time: r.auth_time,
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
                created_at: now,
                revoked_at: None,
                revoked_reason: None,
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

/// Rotates a refresh token. `issue_access` signs the new access token for the family and
/// returns it with its `(jti, exp)`; it runs inside the transaction, so if it fails the
/// presented token stays usable.
///
/// The token must belong to `client_id` (else `TokenInvalid`, and it is not consumed). Within
/// `grace` seconds of its first use, a used token may be presented again and gets another new
/// token instead of revoking the family (for a response lost on the way; 0 turns this off).
pub fn rotate_refresh<T>(
    conn: &mut Conn,
    presented: &str,
    client_id: &str,
    now: i64,
    ttl: i64,
    grace: i64,
    issue_access: impl FnOnce(&mut Conn, &Family) -> Result<(T, String, i64), AccountError>,
) -> Result<RefreshOutcome<T>, AccountError> {
    if presented.is_empty() || presented.len() > 128 {
        return Err(AccountError::TokenInvalid);
    }
    let hash = SecretHash::of(presented);
    let (token, family) =
        rows::find_refresh_token(conn, hash.as_str())?.ok_or(AccountError::TokenInvalid)?;
    if family.revoked_at.is_some() || family.client_id != client_id {
        return Err(AccountError::TokenInvalid);
    }
    let in_grace = token
        .used_at
        .is_some_and(|used| grace > 0 && now - used <= grace);
    if token.used_at.is_some() && !in_grace {
        revoke(conn, &family.id, "reuse", now)?;
        tracing::warn!(family = %family.id, user = %family.user_id, "refresh token reused; family revoked");
        return Err(AccountError::TokenReused);
    }
    if now >= token.expires_at {
        return Err(AccountError::TokenExpired);
    }
    let family = Family::from(family);
    // The access token is signed before the write transaction, so the write lock is held for
    // two row writes only, never for a signature. A token signed for a rotation that then loses
    // the race below is dropped unseen.
    let (access, jti, exp) = issue_access(conn, &family)?;
    let result = store::transaction(conn, |conn| {
        if !in_grace && !rows::mark_refresh_token_used(conn, hash.as_str(), now)? {
            // Another request rotated it between our read and this write: a replay.
            return Err(AccountError::TokenReused);
        }
        let refresh = PlainSecret::generate();
        rows::insert_refresh_token(
            conn,
            &token_row(&refresh, &family.id, now, ttl, (&jti, exp)),
        )?;
        Ok((access, refresh))
    });
    match result {
        Ok((access, refresh)) => Ok(RefreshOutcome {
            family,
            refresh,
            access,
        }),
        Err(AccountError::TokenReused) => {
            revoke(conn, &family.id, "reuse", now)?;
            Err(AccountError::TokenReused)
        }
        Err(e) => Err(e),
    }
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
