//! The connection type, the pool and its set-up per backend.

use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};

use crate::{DatabaseUrl, StoreError};

/// One database connection, SQLite or PostgreSQL. Queries are written once against this type.
#[derive(diesel::MultiConnection)]
pub enum Conn {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Postgresql(_) => "Conn::Postgresql",
            Self::Sqlite(_) => "Conn::Sqlite",
        })
    }
}

/// A connection checked out of the pool; it goes back when dropped.
pub type PooledConn = PooledConnection<Manager>;

/// Which database the store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// How to open the store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub url: DatabaseUrl,
    /// Most connections the pool keeps open.
    pub pool_size: u32,
    /// How long a caller waits for a free connection before giving up.
    pub checkout_timeout: Duration,
}

impl StoreConfig {
    pub fn new(url: DatabaseUrl) -> Self {
        Self {
            url,
            pool_size: 16,
            checkout_timeout: Duration::from_secs(5),
        }
    }
}

/// Statements run on every new SQLite connection. `busy_timeout` comes first so that the
/// switch to WAL waits for a lock held by another connection instead of failing.
const SQLITE_SETUP: &str = "PRAGMA busy_timeout = 5000;\
     PRAGMA journal_mode = WAL;\
     PRAGMA synchronous = NORMAL;\
     PRAGMA foreign_keys = ON;";

/// Opens connections for the pool, choosing the backend from the URL (never by trial: a
/// PostgreSQL URL must not fall back to creating a SQLite file of that name).
#[derive(Debug)]
pub struct Manager {
    url: DatabaseUrl,
}

impl Manager {
    fn open(&self) -> Result<Conn, r2d2::Error> {
        match &self.url {
            DatabaseUrl::Postgres(url) => PgConnection::establish(url)
                .map(Conn::Postgresql)
                .map_err(r2d2::Error::ConnectionError),
            DatabaseUrl::Sqlite(path) => {
                let path = path.to_str().ok_or_else(|| {
                    r2d2::Error::ConnectionError(diesel::ConnectionError::InvalidConnectionUrl(
                        "the SQLite path is not valid UTF-8".into(),
                    ))
                })?;
                let mut conn =
                    SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                conn.batch_execute(SQLITE_SETUP)
                    .map_err(r2d2::Error::QueryError)?;
                Ok(Conn::Sqlite(conn))
            }
        }
    }
}

impl ManageConnection for Manager {
    type Connection = Conn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<Conn, r2d2::Error> {
        self.open()
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// The handle every other crate gets: a pool of connections to one database.
#[derive(Clone)]
pub struct Store {
    pool: Pool<Manager>,
    backend: Backend,
    sqlite_path: Option<PathBuf>,
    /// Callers inside [`Store::conn`] right now (waiting for a connection, or about to get one).
    waiting: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// The pool's state, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolState {
    /// Connections open.
    pub connections: u64,
    /// Open connections not in use.
    pub idle: u64,
    /// Open connections in use.
    pub in_use: u64,
    /// Callers waiting for a connection.
    pub waiting: u64,
    /// Most connections the pool opens.
    pub max: u32,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("sqlite_path", &self.sqlite_path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database: creates the SQLite folder if missing, makes one connection at once
    /// (so a bad URL, a refused password or an unopenable file is reported now, with its real
    /// cause) and builds the pool. Does not run migrations: see [`Store::migrate`].
    pub fn open(config: &StoreConfig) -> Result<Self, StoreError> {
        let (backend, sqlite_path) = match &config.url {
            DatabaseUrl::Sqlite(path) => {
                prepare_sqlite_folder(path)?;
                create_private_file(path)?;
                (Backend::Sqlite, Some(path.clone()))
            }
            DatabaseUrl::Postgres(_) => (Backend::Postgres, None),
        };
        let manager = Manager {
            url: config.url.clone(),
        };
        let first = manager.open().map_err(|e| match (&sqlite_path, e) {
            (Some(path), r2d2::Error::ConnectionError(e)) => {
                StoreError::Connect(format!("cannot open {}: {e}", path.display()))
            }
            (_, e) => StoreError::Connect(e.to_string()),
        })?;
        drop(first);
        let pool = Pool::builder()
            .max_size(config.pool_size.max(1))
            .min_idle(Some(1))
            .connection_timeout(config.checkout_timeout)
            .build(manager)?;
        Ok(Self {
            pool,
            backend,
            sqlite_path,
            waiting: std::sync::Arc::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A connection from the pool, waiting up to the configured checkout timeout.
    pub fn conn(&self) -> Result<PooledConn, StoreError> {
        use std::sync::atomic::Ordering;
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let got = self.pool.get();
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        Ok(got?)
    }

    /// Open, idle and in-use connections, and callers waiting for one.
    pub fn pool_state(&self) -> PoolState {
        let state = self.pool.state();
        PoolState {
            connections: u64::from(state.connections),
            idle: u64::from(state.idle_connections),
            in_use: u64::from(state.connections.saturating_sub(state.idle_connections)),
            waiting: self.waiting.load(std::sync::atomic::Ordering::Relaxed),
            max: self.pool.max_size(),
        }
    }

    /// Answers whether the database serves queries right now, waiting at most `within` for a
    /// connection. A SQLite file that was removed counts as gone even though open connections
    /// could still read the unlinked file.
    pub fn ping(&self, within: Duration) -> Result<(), StoreError> {
        if let Some(path) = self.sqlite_path.as_ref().filter(|p| !p.exists()) {
            return Err(StoreError::FileGone(path.clone()));
        }
        let mut conn = self.pool.get_timeout(within)?;
        diesel::sql_query("SELECT 1").execute(&mut *conn)?;
        Ok(())
    }
}

/// Creates the folder that holds the SQLite file (readable by its owner alone, 0700, like
/// every folder it has to make on the way) and checks that it is a writable folder. A folder
/// that exists keeps its mode: it is the operator's.
fn prepare_sqlite_folder(path: &Path) -> Result<(), StoreError> {
    let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    let fail = |source| StoreError::DataDir {
        path: folder.to_path_buf(),
        source,
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(folder).map_err(fail)?;
    let meta = std::fs::metadata(folder).map_err(fail)?;
    if meta.permissions().readonly() {
        return Err(fail(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "the folder is read-only",
        )));
    }
    Ok(())
}

/// Makes a missing SQLite file empty and readable by its owner alone (0600) before SQLite
/// opens it: SQLite would make it with the process umask (often 0644), and gives its `-wal`
/// and `-shm` files the mode of the database file. An existing file is left as it is.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Connect(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}
