//! The storage error type.

use std::path::PathBuf;

/// What can go wrong below the domain crates. Messages are for operators: they name the file
/// or the setting at fault and never contain a password.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `PORTCULLIS_DATABASE_URL` is not a URL we can use.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// The folder that should hold the SQLite file cannot be created or written.
    #[error("cannot use data folder {}: {source}", path.display())]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// No connection could be made (server down, wrong credentials, unopenable file).
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    /// The SQLite file the store was opened on is no longer there.
    #[error("the database file {} is gone", .0.display())]
    FileGone(PathBuf),
    /// A migration failed to apply.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// The pool had no connection to give within its timeout.
    #[error("no database connection available: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    /// A row with the same unique key exists already.
    #[error("a row with this key exists already")]
    Conflict,
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(diesel::result::Error),
}

impl From<diesel::result::Error> for StoreError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => Self::Conflict,
            other => Self::Query(other),
        }
    }
}

/// What store functions return: no diesel type crosses this crate's border.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
