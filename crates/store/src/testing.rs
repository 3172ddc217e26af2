//! Throw-away databases for tests (feature `testing`).
//!
//! Every test owns its database: [`TestDb::sqlite`] makes a SQLite file in a fresh temporary
//! folder; [`TestDb::postgres`] creates a new database on the server named by
//! `PORTCULLIS_TEST_POSTGRES_URL` (a URL to any existing database there, used to create and
//! drop the test databases). Both are migrated, and removed when the value is dropped.
//!
//! A PostgreSQL test fails, never passes silently, when that variable is missing: run the
//! suite with `scripts/test`, which starts a throw-away PostgreSQL cluster for it.

pub mod schema;

use std::path::PathBuf;

use diesel::{Connection, PgConnection, RunQueryDsl};
use rand::Rng;

use crate::{Backend, DatabaseUrl, Store, StoreConfig};

/// The environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_ENV: &str = "PORTCULLIS_TEST_POSTGRES_URL";

/// A migrated database that exists for one test.
#[derive(Debug)]
pub struct TestDb {
    store: Option<Store>,
    url: String,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Sqlite {
        // Held for its Drop, which removes the folder.
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl TestDb {
    /// A database on the given backend.
    pub fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => Self::sqlite(),
            Backend::Postgres => Self::postgres(),
        }
    }

    /// A database with no schema yet, for tests of migration itself.
    pub fn empty(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => Self::sqlite_with(false),
            Backend::Postgres => Self::postgres_with(false),
        }
    }

    /// A migrated SQLite file in its own temporary folder.
    pub fn sqlite() -> Self {
        Self::sqlite_with(true)
    }

    fn sqlite_with(migrate: bool) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("portcullis-test-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary folder: {e}"));
        let path = dir.path().join("data").join("portcullis.db");
        let url = format!("sqlite://{}", path.display());
        let mut db = Self {
            store: None,
            url,
            kind: Kind::Sqlite { _dir: dir, path },
        };
        db.open(migrate);
        db
    }

    /// A migrated, freshly created PostgreSQL database.
    ///
    /// # Panics
    /// When `PORTCULLIS_TEST_POSTGRES_URL` is not set or the server cannot be reached.
    pub fn postgres() -> Self {
        Self::postgres_with(true)
    }

    fn postgres_with(migrate: bool) -> Self {
        let admin_url = std::env::var(POSTGRES_ENV).unwrap_or_else(|_| {
            panic!(
                "{POSTGRES_ENV} is not set: PostgreSQL tests need a server. \
                 Run the suite with scripts/test, which starts one."
            )
        });
        let name = format!("portcullis_test_{:016x}", rand::rng().random::<u64>());
        let mut admin = PgConnection::establish(&admin_url)
            .unwrap_or_else(|e| panic!("cannot connect to {POSTGRES_ENV}: {e}"));
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        let mut url = url::Url::parse(&admin_url)
            .unwrap_or_else(|e| panic!("{POSTGRES_ENV} is not a URL: {e}"));
        url.set_path(&format!("/{name}"));
        let mut db = Self {
            store: None,
            url: url.to_string(),
            kind: Kind::Postgres { admin_url, name },
        };
        db.open(migrate);
        db
    }

    fn open(&mut self, migrate: bool) {
        let url = DatabaseUrl::parse(&self.url).unwrap_or_else(|e| panic!("{e}"));
        let mut config = StoreConfig::new(url);
        config.pool_size = 4;
        let store = Store::open(&config).unwrap_or_else(|e| panic!("{e}"));
        if migrate {
            store.migrate().unwrap_or_else(|e| panic!("{e}"));
        }
        self.store = Some(store);
    }

    /// The store on this database.
    pub fn store(&self) -> &Store {
        // Set in every constructor and only taken in Drop.
        self.store.as_ref().unwrap_or_else(|| unreachable!())
    }

    /// The value to give `PORTCULLIS_DATABASE_URL` for this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        self.store().backend()
    }

    /// Runs raw SQL on this database (tests use it to break things on purpose).
    pub fn execute(&self, sql: &str) {
        let mut conn = self.store().conn().unwrap_or_else(|e| panic!("{e}"));
        diesel::sql_query(sql)
            .execute(&mut *conn)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Makes the database disappear under a running store: the SQLite file is deleted, the
    /// PostgreSQL database dropped (its connections terminated).
    pub fn destroy(&self) {
        match &self.kind {
            Kind::Sqlite { path, .. } => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            Kind::Postgres { admin_url, name } => drop_database(admin_url, name),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        drop(self.store.take());
        if let Kind::Postgres { admin_url, name } = &self.kind {
            drop_database(admin_url, name);
        }
    }
}

fn drop_database(admin_url: &str, name: &str) {
    if let Ok(mut admin) = PgConnection::establish(admin_url) {
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin);
    }
}

/// Declares each test once per backend: `name::sqlite` and `name::postgres`.
///
/// ```text
/// store::backend_tests! {
///     fn writes_and_reads(db) { let mut conn = db.store().conn().unwrap(); /* … */ }
/// }
/// ```
#[macro_export]
macro_rules! backend_tests {
    ($( $(#[$meta:meta])* fn $name:ident($db:ident) $body:block )*) => {
        $(
            $(#[$meta])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                fn run($db: $crate::testing::TestDb) $body

                #[test]
                fn sqlite() {
                    run($crate::testing::TestDb::sqlite())
                }

                #[test]
                fn postgres() {
                    run($crate::testing::TestDb::postgres())
                }
            }
        )*
    };
}
