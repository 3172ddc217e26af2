//! Keys: create, list, update, rotate, revoke, verify.

use primitives::{PlainSecret, SecretHash, random_id};
use store::Conn;
use store::apikeys::{self as rows, ApiKeyRow};

use crate::error::invalid;
use crate::{KEY_PREFIX, KeyError, LOOKUP_LEN, ParsedKey};

/// A key as the API shows it: never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub org_id: String,
    pub created_by: String,
    pub name: String,
    pub scopes: Vec<String>,
    /// The first characters of the current secret, to tell keys apart.
    pub prefix: String,
    pub expires_at: Option<i64>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(r: ApiKeyRow) -> Self {
        Self {
            prefix: format!("{KEY_PREFIX}{}", r.lookup),
            id: r.id,
            org_id: r.org_id,
            created_by: r.created_by,
            name: r.name,
            scopes: split(&r.scopes),
            expires_at: r.expires_at,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        }
    }
}

fn split(scopes: &str) -> Vec<String> {
    scopes
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What creating a key asks for; scopes are checked by the caller against the creator's role
/// ([`crate::check_key_scopes`]).
#[derive(Debug, Clone)]
pub struct NewKey<'a> {
    pub org_id: &'a str,
    pub created_by: &'a str,
    pub name: &'a str,
    pub scopes: &'a [String],
    pub expires_at: Option<i64>,
}

fn new_secret() -> (PlainSecret, String) {
    let secret = PlainSecret::generate_with_prefix(KEY_PREFIX);
    let lookup = secret.expose()[KEY_PREFIX.len()..KEY_PREFIX.len() + LOOKUP_LEN].to_owned();
    (secret, lookup)
}

fn check_name(name: &str) -> Result<String, KeyError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(invalid("name", "must be 1 to 100 printable characters"));
    }
    Ok(name.to_owned())
}

/// Mints a key. The secret is returned once and never stored.
pub fn create_key(
    conn: &mut Conn,
    new: &NewKey<'_>,
    now: i64,
) -> Result<(ApiKey, PlainSecret), KeyError> {
    if new.expires_at.is_some_and(|e| e <= now) {
        return Err(invalid("expiresAt", "must be in the future"));
    }
    let name = check_name(new.name)?;
    let (secret, lookup) = new_secret();
    let row = ApiKeyRow {
        id: format!("key_{}", random_id()),
        org_id: new.org_id.to_owned(),
        created_by: new.created_by.to_owned(),
        name,
        scopes: new.scopes.join(" "),
        lookup,
        secret_hash: secret.hash().as_str().to_owned(),
        previous_lookup: None,
        previous_hash: None,
        previous_expires_at: None,
        expires_at: new.expires_at,
        created_at: now,
        last_used_at: None,
        revoked_at: None,
    };
    rows::insert_key(conn, &row)?;
    Ok((row.into(), secret))
}

pub fn list_keys(conn: &mut Conn, org_id: &str) -> Result<Vec<ApiKey>, KeyError> {
    Ok(rows::keys_of_org(conn, org_id)?
        .into_iter()
        .map(ApiKey::from)
        .collect())
}

fn row_in_org(conn: &mut Conn, org_id: &str, id: &str) -> Result<ApiKeyRow, KeyError> {
    rows::find_key(conn, id)?
        .filter(|r| r.org_id == org_id)
        .ok_or(KeyError::NotFound)
}

/// The key `id` of `org_id`, for a caller about to change, rotate or revoke it: a key holding
/// `*` is the owners' alone (`OwnersOnly` for anyone else, `by_owner` false).
pub fn key_to_manage(
    conn: &mut Conn,
    org_id: &str,
    id: &str,
    by_owner: bool,
) -> Result<ApiKey, KeyError> {
    let key = find_key(conn, org_id, id)?;
    if !by_owner && key.scopes.iter().any(|s| s == "*") {
        return Err(KeyError::OwnersOnly);
    }
    Ok(key)
}

pub fn find_key(conn: &mut Conn, org_id: &str, id: &str) -> Result<ApiKey, KeyError> {
    Ok(row_in_org(conn, org_id, id)?.into())
}

/// The key of that id, whatever its organization (for operators, who name a key by its id
/// alone; callers that act for an organization use [`find_key`]).
pub fn find_key_by_id(conn: &mut Conn, id: &str) -> Result<Option<ApiKey>, KeyError> {
    Ok(rows::find_key(conn, id)?.map(ApiKey::from))
}

/// Renames, re-scopes or changes the expiry of a key (`None` leaves a field as it is).
pub fn update_key(
    conn: &mut Conn,
    org_id: &str,
    id: &str,
    name: Option<&str>,
    scopes: Option<&[String]>,
    expires_at: Option<Option<i64>>,
) -> Result<ApiKey, KeyError> {
    let mut row = row_in_org(conn, org_id, id)?;
    if let Some(name) = name {
        row.name = check_name(name)?;
    }
    if let Some(scopes) = scopes {
        row.scopes = scopes.join(" ");
    }
    if let Some(expires_at) = expires_at {
        row.expires_at = expires_at;
    }
    rows::update_key(conn, &row)?;
    Ok(row.into())
}

/// Revokes a key at once (every instance stops accepting it within the verification cache
/// time).
pub fn revoke_key(conn: &mut Conn, org_id: &str, id: &str, now: i64) -> Result<ApiKey, KeyError> {
    let mut row = row_in_org(conn, org_id, id)?;
    row.revoked_at.get_or_insert(now);
    row.previous_lookup = None;
    row.previous_hash = None;
    row.previous_expires_at = None;
    rows::update_key(conn, &row)?;
    Ok(row.into())
}

/// A new secret for the same key (same id and scopes). With `overlap` seconds, the old secret
/// keeps working until then; with 0 it stops at once.
pub fn rotate_key(
    conn: &mut Conn,
    org_id: &str,
    id: &str,
    overlap: i64,
    now: i64,
) -> Result<(ApiKey, PlainSecret), KeyError> {
    if !(0..=7 * 86_400).contains(&overlap) {
        return Err(invalid("overlapSeconds", "must be 0 to 604800"));
    }
    let mut row = row_in_org(conn, org_id, id)?;
    if row.revoked_at.is_some() {
        return Err(KeyError::Revoked);
    }
    let (secret, lookup) = new_secret();
    if overlap > 0 {
        row.previous_lookup = Some(std::mem::replace(&mut row.lookup, lookup));
        row.previous_hash = Some(std::mem::replace(
            &mut row.secret_hash,
            secret.hash().as_str().to_owned(),
        ));
        row.previous_expires_at = Some(now + overlap);
    } else {
        row.lookup = lookup;
        row.secret_hash = secret.hash().as_str().to_owned();
        row.previous_lookup = None;
        row.previous_hash = None;
        row.previous_expires_at = None;
    }
    rows::update_key(conn, &row)?;
    Ok((row.into(), secret))
}

/// A key that checked out: who it speaks for and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedKey {
    pub id: String,
    pub org_id: String,
    pub scopes: Vec<String>,
    pub created_by: String,
    /// When this verification stops being true by itself (expiry or end of overlap).
    pub valid_until: Option<i64>,
}

/// Verifies a presented key: found by its lookup id, hash compared in constant time, not
/// revoked, not expired. A previous secret works only inside its rotation overlap.
pub fn verify_key(conn: &mut Conn, key: &ParsedKey, now: i64) -> Result<VerifiedKey, KeyError> {
    let Some(row) = rows::find_key_by_lookup(conn, key.lookup())? else {
        let _ = SecretHash::of(key.as_str());
        return Err(KeyError::Unknown);
    };
    let current = row.lookup == key.lookup()
        && SecretHash::from_stored(row.secret_hash.clone()).matches(key.as_str());
    let previous = !current
        && row.previous_lookup.as_deref() == Some(key.lookup())
        && row
            .previous_hash
            .as_ref()
            .is_some_and(|h| SecretHash::from_stored(h.clone()).matches(key.as_str()));
    if !current && !previous {
        return Err(KeyError::Unknown);
    }
    if row.revoked_at.is_some() {
        return Err(KeyError::Revoked);
    }
    if row.expires_at.is_some_and(|e| now >= e) {
        return Err(KeyError::Expired);
    }
    let overlap_end = if previous {
        row.previous_expires_at
    } else {
        None
    };
    if overlap_end.is_some_and(|e| now >= e) {
        return Err(KeyError::Unknown);
    }
    let valid_until = match (row.expires_at, overlap_end) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(VerifiedKey {
        id: row.id,
        org_id: row.org_id,
        scopes: split(&row.scopes),
        created_by: row.created_by,
        valid_until,
    })
}

/// Records that a key was used (callers do it at most once a minute per key).
pub fn touch_key(conn: &mut Conn, id: &str, now: i64) -> Result<(), KeyError> {
    Ok(rows::touch_key(conn, id, now)?)
}
