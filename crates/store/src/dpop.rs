//! DPoP proofs seen (RFC 9449 §11.1): one row per accepted proof, until its `iat` leaves the
//! acceptance window. The primary key decides, so two instances cannot both accept one proof.

use diesel::prelude::*;

use crate::Conn;
use crate::schema::dpop_proofs;

/// Records a proof by the hash of its key and `jti`. `false` when it was recorded before (a
/// replay), whichever instance recorded it.
pub fn record_proof(conn: &mut Conn, proof_hash: &str, expires_at: i64) -> crate::Result<bool> {
    match diesel::insert_into(dpop_proofs::table)
        .values((
            dpop_proofs::proof_hash.eq(proof_hash),
            dpop_proofs::expires_at.eq(expires_at),
        ))
        .execute(conn)
    {
        Ok(_) => Ok(true),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Deletes the proofs whose window ended before `now`; returns how many.
pub fn delete_expired(conn: &mut Conn, now: i64) -> crate::Result<usize> {
    diesel::delete(dpop_proofs::table.filter(dpop_proofs::expires_at.lt(now)))
        .execute(conn)
        .map_err(Into::into)
}
