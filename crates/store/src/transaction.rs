//! Transactions for domain crates, without handing them diesel.
//!
//! On SQLite an outermost transaction starts with `BEGIN IMMEDIATE`, holding the write lock
//! from its first statement. A deferred `BEGIN` would read first and ask for the lock at its
//! first write; when another connection committed in between, SQLite answers `SQLITE_BUSY`
//! at once (its busy timeout does not apply to a stale read snapshot), which would turn a
//! plain race into a failed request. Within one process, outermost SQLite transactions also
//! queue on a mutex, so waiting writers are woken in turn instead of polling SQLite's lock
//! with its sleeping busy handler (which put tens of milliseconds on the tail latency).

use std::sync::Mutex;

use diesel::Connection as _;
use diesel::connection::{AnsiTransactionManager, TransactionManager};

use crate::{Conn, StoreError};

/// One writer at a time per process on SQLite (SQLite allows one per database anyway).
static SQLITE_WRITER: Mutex<()> = Mutex::new(());

/// Runs `f` in a transaction: committed when `f` returns `Ok`, rolled back when it returns
/// `Err` (or panics). `E` is the caller's error type. Nested calls become savepoints.
pub fn transaction<T, E>(conn: &mut Conn, f: impl FnOnce(&mut Conn) -> Result<T, E>) -> Result<T, E>
where
    E: From<StoreError>,
{
    if let Conn::Sqlite(inner) = conn {
        let depth = AnsiTransactionManager::transaction_manager_status_mut(inner)
            .transaction_depth()
            .map_err(|e| E::from(StoreError::from(e)))?;
        if depth.is_none() {
            return sqlite_immediate(conn, f);
        }
    }
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

/// Whether a transaction is open on this connection.
pub(crate) fn in_transaction(conn: &mut Conn) -> bool {
    let depth = match conn {
        Conn::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c)
            .transaction_depth()
            .ok()
            .flatten(),
        Conn::Postgresql(c) => AnsiTransactionManager::transaction_manager_status_mut(c)
            .transaction_depth()
            .ok()
            .flatten(),
    };
    depth.is_some()
}

/// An outermost SQLite transaction: `BEGIN IMMEDIATE` under the process's writer mutex.
fn sqlite_immediate<T, E>(
    conn: &mut Conn,
    f: impl FnOnce(&mut Conn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<StoreError>,
{
    let db = |e: diesel::result::Error| E::from(StoreError::from(e));
    // A panic in another writer poisons the mutex but leaves nothing to repair: its
    // transaction was rolled back when its connection went back to the pool.
    let _writer = SQLITE_WRITER.lock().unwrap_or_else(|p| p.into_inner());
    AnsiTransactionManager::begin_transaction_sql(sqlite(conn), "BEGIN IMMEDIATE").map_err(db)?;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)));
    match outcome {
        Ok(Ok(value)) => match AnsiTransactionManager::commit_transaction(sqlite(conn)) {
            Ok(()) => Ok(value),
            Err(e) => {
                let _ = AnsiTransactionManager::rollback_transaction(sqlite(conn));
                Err(db(e))
            }
        },
        Ok(Err(e)) => {
            AnsiTransactionManager::rollback_transaction(sqlite(conn)).map_err(db)?;
            Err(e)
        }
        Err(panic) => {
            let _ = AnsiTransactionManager::rollback_transaction(sqlite(conn));
            std::panic::resume_unwind(panic)
        }
    }
}

fn sqlite(conn: &mut Conn) -> &mut diesel::SqliteConnection {
    match conn {
        Conn::Sqlite(inner) => inner,
        Conn::Postgresql(_) => unreachable!("sqlite_immediate is only called on SQLite"),
    }
}
