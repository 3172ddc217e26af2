//! Embedded migrations, applied at start.
//!
//! One set, `migrations/`, serves both backends: the schema is written in the SQL that SQLite
//! and PostgreSQL share (text ids, `BIGINT` unix seconds, JSON as text), and diesel's
//! `EmbeddedMigrations` is a migration source for any backend. A migration that needs
//! backend-specific SQL would split the set again; none does. The version of a migration is
//! the date and number its folder starts with, so moving the folders changed nothing recorded
//! in `__diesel_schema_migrations` of an existing database.

use diesel::RunQueryDsl;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::{Conn, Store, StoreError};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// Advisory-lock key that serialises migrations when several instances start on one
/// PostgreSQL database at the same moment.
const MIGRATION_LOCK: i64 = 0x5043_4c4d_4947; // "PCLMIG"

impl Store {
    /// Applies every pending migration and returns the versions applied (empty when the
    /// schema was already current).
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn()?;
        let applied: Vec<String> = match &mut *conn {
            Conn::Sqlite(c) => c
                .run_pending_migrations(MIGRATIONS)
                .map(|v| v.iter().map(ToString::to_string).collect())
                .map_err(|e| StoreError::Migration(e.to_string())),
            Conn::Postgresql(c) => {
                diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
                    .execute(c)?;
                let result = c
                    .run_pending_migrations(MIGRATIONS)
                    .map(|v| v.iter().map(ToString::to_string).collect())
                    .map_err(|e| StoreError::Migration(e.to_string()));
                diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
                    .execute(c)?;
                result
            }
        }?;
        if !applied.is_empty() {
            tracing::info!(
                backend = self.backend().as_str(),
                ?applied,
                "applied migrations"
            );
        }
        Ok(applied)
    }

    /// Whether the database holds a Portcullis schema at all (any migration applied), asked
    /// without writing anything: diesel's own questions make its bookkeeping table first.
    pub fn is_initialized(&self) -> Result<bool, StoreError> {
        #[derive(diesel::QueryableByName)]
        struct Found {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.conn()?;
        let sql = match &*conn {
            Conn::Sqlite(_) => {
                "SELECT count(*) AS n FROM sqlite_master \
                 WHERE type = 'table' AND name = '__diesel_schema_migrations'"
            }
            Conn::Postgresql(_) => {
                "SELECT count(*) AS n FROM information_schema.tables \
                 WHERE table_schema = current_schema() \
                 AND table_name = '__diesel_schema_migrations'"
            }
        };
        let found: Found = diesel::sql_query(sql).get_result(&mut *conn)?;
        if found.n == 0 {
            return Ok(false);
        }
        let applied: Found =
            diesel::sql_query("SELECT count(*) AS n FROM __diesel_schema_migrations")
                .get_result(&mut *conn)?;
        Ok(applied.n > 0)
    }

    /// Versions of the migrations this build knows but the database has not applied.
    pub fn pending_migrations(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn()?;
        let pending = match &mut *conn {
            Conn::Sqlite(c) => c
                .pending_migrations(MIGRATIONS)
                .map(|v| v.iter().map(|m| m.name().version().to_string()).collect()),
            Conn::Postgresql(c) => c
                .pending_migrations(MIGRATIONS)
                .map(|v| v.iter().map(|m| m.name().version().to_string()).collect()),
        };
        pending.map_err(|e| StoreError::Migration(e.to_string()))
    }
}
