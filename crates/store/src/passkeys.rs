//! Passkeys (WebAuthn credentials) of users, and the ceremonies under way between their two
//! requests. The credential itself is stored as the caller hands it (serialized JSON); this
//! module neither reads nor checks it.

use diesel::prelude::*;

use crate::Conn;
use crate::schema::{passkey_ceremonies, passkeys};

#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = passkeys)]
pub struct PasskeyRow {
    pub id: String,
    pub user_id: String,
    /// The authenticator's credential id, base64url.
    pub credential_id: String,
    /// The serialized credential (public key, counter, backup state).
    pub passkey: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl std::fmt::Debug for PasskeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeyRow")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

pub fn insert(conn: &mut Conn, row: &PasskeyRow) -> crate::Result<()> {
    diesel::insert_into(passkeys::table)
        .values(row)
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

/// A user's passkeys, oldest first.
pub fn list_for_user(conn: &mut Conn, user_id: &str) -> crate::Result<Vec<PasskeyRow>> {
    passkeys::table
        .filter(passkeys::user_id.eq(user_id))
        .order((passkeys::created_at.asc(), passkeys::id.asc()))
        .select(PasskeyRow::as_select())
        .load(conn)
        .map_err(Into::into)
}

pub fn find_by_credential_id(
    conn: &mut Conn,
    credential_id: &str,
) -> crate::Result<Option<PasskeyRow>> {
    passkeys::table
        .filter(passkeys::credential_id.eq(credential_id))
        .select(PasskeyRow::as_select())
        .first(conn)
        .optional()
        .map_err(Into::into)
}

/// Renames a passkey of `user_id`; false when that user has no passkey `id`.
pub fn rename(conn: &mut Conn, user_id: &str, id: &str, name: &str) -> crate::Result<bool> {
    diesel::update(
        passkeys::table
            .find(id)
            .filter(passkeys::user_id.eq(user_id)),
    )
    .set(passkeys::name.eq(name))
    .execute(conn)
    .map(|n| n == 1)
    .map_err(Into::into)
}

/// Deletes a passkey of `user_id`; false when that user has no passkey `id`.
pub fn delete(conn: &mut Conn, user_id: &str, id: &str) -> crate::Result<bool> {
    diesel::delete(
        passkeys::table
            .find(id)
            .filter(passkeys::user_id.eq(user_id)),
    )
    .execute(conn)
    .map(|n| n == 1)
    .map_err(Into::into)
}

/// Records a use: the credential as updated by the ceremony (counter, backup state) and when.
/// False when the passkey is gone (removed meanwhile).
pub fn record_use(conn: &mut Conn, id: &str, passkey: &str, now: i64) -> crate::Result<bool> {
    diesel::update(passkeys::table.find(id))
        .set((
            passkeys::passkey.eq(passkey),
            passkeys::last_used_at.eq(now),
        ))
        .execute(conn)
        .map(|n| n == 1)
        .map_err(Into::into)
}

#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = passkey_ceremonies)]
pub struct CeremonyRow {
    /// SHA-256 of the ceremony's random id (the browser holds the id).
    pub id_hash: String,
    pub kind: String,
    pub user_id: Option<String>,
    /// The serialized ceremony state (holds the challenge).
    pub state: String,
    pub expires_at: i64,
}

impl std::fmt::Debug for CeremonyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CeremonyRow")
            .field("kind", &self.kind)
            .field("user_id", &self.user_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

pub fn insert_ceremony(conn: &mut Conn, row: &CeremonyRow) -> crate::Result<()> {
    diesel::insert_into(passkey_ceremonies::table)
        .values(row)
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

/// Takes a ceremony of `kind` out of the table: the row, if it was there, of that kind and
/// live at `now`. A ceremony is taken once: of two takers, only the one whose delete removed
/// the row gets it. An expired row found is deleted too.
pub fn take_ceremony(
    conn: &mut Conn,
    id_hash: &str,
    kind: &str,
    now: i64,
) -> crate::Result<Option<CeremonyRow>> {
    let Some(row) = passkey_ceremonies::table
        .find(id_hash)
        .filter(passkey_ceremonies::kind.eq(kind))
        .select(CeremonyRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let deleted = diesel::delete(passkey_ceremonies::table.find(id_hash)).execute(conn)?;
    Ok((deleted == 1 && row.expires_at > now).then_some(row))
}

/// Deletes ceremonies that expired before `before` (clean-up of the ones never finished).
pub fn delete_expired_ceremonies(conn: &mut Conn, before: i64) -> crate::Result<usize> {
    diesel::delete(passkey_ceremonies::table.filter(passkey_ceremonies::expires_at.lt(before)))
        .execute(conn)
        .map_err(Into::into)
}
