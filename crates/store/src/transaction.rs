//! Transactions for domain crates, without handing them diesel.

use diesel::Connection as _;

use crate::{Conn, StoreError};

/// Runs `f` in a transaction: committed when `f` returns `Ok`, rolled back when it returns
/// `Err` (or panics). `E` is the caller's error type.
pub fn transaction<T, E>(conn: &mut Conn, f: impl FnOnce(&mut Conn) -> Result<T, E>) -> Result<T, E>
where
    E: From<StoreError>,
{
    enum Failed<E> {
        Database(diesel::result::Error),
        Caller(E),
    }
    impl<E> From<diesel::result::Error> for Failed<E> {
        fn from(e: diesel::result::Error) -> Self {
            Self::Database(e)
        }
    }
    match conn.transaction::<T, Failed<E>, _>(|c| f(c).map_err(Failed::Caller)) {
        Ok(value) => Ok(value),
        Err(Failed::Caller(e)) => Err(e),
        Err(Failed::Database(e)) => Err(StoreError::from(e).into()),
    }
}
