//! Storage for Portcullis: the one crate that knows diesel.
//!
//! Owns the schema (hand-written `table!` definitions in [`schema`]), the row models, every
//! query, the connection pool and the embedded migrations for both backends. One enum,
//! [`Conn`], wraps a SQLite or a PostgreSQL connection (diesel's `MultiConnection`), so each
//! query is written once and runs on both.
//!
//! Architecture invariants:
//! - Nothing above this crate imports diesel; domain crates call functions of this crate with a
//!   `&mut Conn` and get plain structs back.
//! - This crate knows nothing about HTTP, OAuth or accounts: it stores rows, it does not decide.
//! - The schema is portable: text ids, `BIGINT` unix seconds, JSON kept as text. A query that
//!   needs backend-specific SQL says so next to it.
//! - It never sees a plaintext secret: callers hand it hashes.

mod conn;
mod error;
mod migrate;
mod transaction;
mod url;

pub mod account_tokens;
pub mod accounts;
pub mod apikeys;
pub mod audit;
pub mod backchannel;
pub mod client_assertions;
pub mod clients;
pub mod codes;
pub mod delegation;
pub mod device;
pub mod dpop;
pub mod gateway;
pub mod keys;
pub mod notify;
pub mod passkeys;
pub mod pushed;
pub mod resources;
pub mod schema;
pub mod second_factors;
pub mod upstream;

#[cfg(feature = "testing")]
pub mod testing;

pub use conn::{Backend, Conn, PoolState, PooledConn, Store, StoreConfig};
pub use error::{Result, StoreError};
pub use transaction::transaction;
pub use url::DatabaseUrl;
