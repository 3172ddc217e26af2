//! Client assertions already used (RFC 7523 §3 `jti`), and the sealed secrets of
//! `client_secret_jwt` clients.

use diesel::prelude::*;

use crate::schema::{client_assertions, client_secrets_sealed};
use crate::{Conn, StoreError};

/// Records that `client_id` used the assertion `jti`, valid until `expires_at`. False when it
/// was recorded already (and has not been purged): the primary key decides, so of two
/// instances on one database only one records it. Assertions that expired before `now` are
/// forgotten first.
pub fn record(
    conn: &mut Conn,
    client_id: &str,
    jti: &str,
    expires_at: i64,
    now: i64,
) -> crate::Result<bool> {
    diesel::delete(client_assertions::table.filter(client_assertions::expires_at.lt(now)))
        .execute(conn)?;
    let inserted = diesel::insert_into(client_assertions::table)
        .values((
            client_assertions::client_id.eq(client_id),
            client_assertions::jti.eq(jti),
            client_assertions::expires_at.eq(expires_at),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(true),
        Err(e) => match StoreError::from(e) {
            StoreError::Conflict => Ok(false),
            other => Err(other),
        },
    }
}

/// The sealed secret of a client, if one is kept.
pub fn find_sealed_secret(conn: &mut Conn, client_id: &str) -> crate::Result<Option<String>> {
    client_secrets_sealed::table
        .find(client_id)
        .select(client_secrets_sealed::sealed)
        .first(conn)
        .optional()
        .map_err(Into::into)
}

/// Keeps (or replaces) the sealed secret of a client; `None` drops it.
pub fn put_sealed_secret(
    conn: &mut Conn,
    client_id: &str,
    sealed: Option<&str>,
) -> crate::Result<()> {
    diesel::delete(client_secrets_sealed::table.find(client_id)).execute(conn)?;
    if let Some(sealed) = sealed {
        diesel::insert_into(client_secrets_sealed::table)
            .values((
                client_secrets_sealed::client_id.eq(client_id),
                client_secrets_sealed::sealed.eq(sealed),
            ))
            .execute(conn)?;
    }
    Ok(())
}
