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
