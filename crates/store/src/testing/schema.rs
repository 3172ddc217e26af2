//! The live schema of a migrated database against the `table!` definitions of `schema.rs`.
//!
//! `schema.rs` is written by hand, once for both backends, and the migrations are SQL: nothing
//! but a test keeps them in step. [`declared`] reads `schema.rs` (its source text, compiled in),
//! [`live`] asks the database (`pragma_table_info` on SQLite, `information_schema.columns` on
//! PostgreSQL), and [`differences`] names every table or column that one has and the other
//! lacks, and every column whose SQL type or nullability differs.

use std::collections::BTreeMap;

use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, RunQueryDsl};

use crate::{Conn, Store, StoreError};

/// The SQL types the schema uses, named the same for both backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlType {
    Text,
    BigInt,
    Integer,
    Bool,
}

/// A column: its type and whether it may hold NULL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub sql_type: SqlType,
    pub nullable: bool,
}

impl std::fmt::Display for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let null = if self.nullable { "NULL" } else { "NOT NULL" };
        write!(f, "{:?} {null}", self.sql_type)
    }
}

/// Tables by name, each its columns by name.
pub type Tables = BTreeMap<String, BTreeMap<String, Column>>;

/// The source of `schema.rs`, as compiled into this build.
pub const SCHEMA_RS: &str = include_str!("../schema.rs");

/// The tables `schema.rs` declares.
///
/// # Panics
/// When `schema.rs` holds something in a `table!` the parser does not know: a test must fail
/// rather than skip a column.
pub fn declared() -> Tables {
    parse_schema_rs(SCHEMA_RS).unwrap_or_else(|e| panic!("schema.rs: {e}"))
}

/// Parses the `diesel::table!` blocks of a `schema.rs` text: `name (keys) { column -> Type, … }`.
/// Every line inside a block must be a column; anything else is an error.
pub fn parse_schema_rs(source: &str) -> Result<Tables, String> {
    let mut tables = Tables::new();
    let mut lines = source.lines().enumerate();
    while let Some((_, line)) = lines.next() {
        if !line.trim_start().starts_with("diesel::table!") {
            continue;
        }
        let (n, head) = lines
            .by_ref()
            .find(|(_, l)| !l.trim().is_empty())
            .ok_or("a table! without a table")?;
        let name = head
            .trim()
            .split_once(' ')
            .map(|(name, _)| name)
            .filter(|_| head.trim_end().ends_with('{'))
            .ok_or_else(|| format!("line {}: expected `name (keys) {{`", n + 1))?;
        let mut columns = BTreeMap::new();
        loop {
            let (n, line) = lines
                .next()
                .ok_or_else(|| format!("table {name}: no closing brace"))?;
            let line = line.trim();
            if line == "}" {
                break;
            }
            let (column, ty) = line
                .trim_end_matches(',')
                .split_once("->")
                .ok_or_else(|| format!("line {}: expected `column -> Type,`: {line}", n + 1))?;
            let column_type = diesel_type(ty.trim())
                .ok_or_else(|| format!("line {}: unknown type {}", n + 1, ty.trim()))?;
            if columns
                .insert(column.trim().to_owned(), column_type)
                .is_some()
            {
                return Err(format!("line {}: column {} twice", n + 1, column.trim()));
            }
        }
        if tables.insert(name.to_owned(), columns).is_some() {
            return Err(format!("table {name} twice"));
        }
    }
    Ok(tables)
}

fn diesel_type(ty: &str) -> Option<Column> {
    let (inner, nullable) = match ty
        .strip_prefix("Nullable<")
        .and_then(|t| t.strip_suffix('>'))
    {
        Some(inner) => (inner, true),
        None => (ty, false),
    };
    let sql_type = match inner {
        "Text" => SqlType::Text,
        "BigInt" => SqlType::BigInt,
        "Integer" => SqlType::Integer,
        "Bool" => SqlType::Bool,
        _ => return None,
    };
    Some(Column { sql_type, nullable })
}

/// A column type as the database names it: SQLite's declared type, PostgreSQL's `data_type`.
fn database_type(ty: &str) -> Option<SqlType> {
    match ty.to_ascii_lowercase().as_str() {
        "text" => Some(SqlType::Text),
        "bigint" => Some(SqlType::BigInt),
        "integer" => Some(SqlType::Integer),
        "boolean" => Some(SqlType::Bool),
        _ => None,
    }
}

#[derive(QueryableByName)]
struct LiveColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    sql_type: String,
    #[diesel(sql_type = BigInt)]
    not_null: i64,
}

/// Every column of every table of the database (diesel's own bookkeeping table left out).
///
/// # Errors
/// A column of a type this module does not know is an error naming it.
pub fn live(store: &Store) -> Result<Tables, StoreError> {
    const SQLITE: &str = "SELECT m.name AS table_name, p.name AS column_name, \
        p.type AS sql_type, p.\"notnull\" AS not_null \
        FROM sqlite_master m JOIN pragma_table_info(m.name) p \
        WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
        AND m.name <> '__diesel_schema_migrations'";
    const POSTGRES: &str = "SELECT c.table_name::text AS table_name, \
        c.column_name::text AS column_name, c.data_type::text AS sql_type, \
        CASE WHEN c.is_nullable = 'NO' THEN 1 ELSE 0 END::bigint AS not_null \
        FROM information_schema.columns c JOIN information_schema.tables t \
        ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
        WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' \
        AND c.table_name <> '__diesel_schema_migrations'";
    let mut conn = store.conn()?;
    let rows: Vec<LiveColumn> = match &mut *conn {
        Conn::Sqlite(c) => diesel::sql_query(SQLITE).load(c)?,
        Conn::Postgresql(c) => diesel::sql_query(POSTGRES).load(c)?,
    };
    let mut tables = Tables::new();
    for row in rows {
        let sql_type = database_type(&row.sql_type).ok_or_else(|| {
            StoreError::Migration(format!(
                "{}.{}: a column type the schema check does not know: {}",
                row.table_name, row.column_name, row.sql_type
            ))
        })?;
        tables.entry(row.table_name).or_default().insert(
            row.column_name,
            Column {
                sql_type,
                nullable: row.not_null == 0,
            },
        );
    }
    Ok(tables)
}

/// What differs between the tables `schema.rs` declares and those the database has, one
/// sentence each; empty when they agree.
pub fn differences(declared: &Tables, live: &Tables) -> Vec<String> {
    let mut out = Vec::new();
    for (table, columns) in declared {
        let Some(live_columns) = live.get(table) else {
            out.push(format!(
                "table {table} is in schema.rs but not in the database"
            ));
            continue;
        };
        for (column, want) in columns {
            match live_columns.get(column) {
                None => out.push(format!(
                    "{table}.{column} is in schema.rs but not in the database"
                )),
                Some(got) if got != want => out.push(format!(
                    "{table}.{column} is {want} in schema.rs but {got} in the database"
                )),
                Some(_) => {}
            }
        }
        for column in live_columns.keys() {
            if !columns.contains_key(column) {
                out.push(format!(
                    "{table}.{column} is in the database but not in schema.rs"
                ));
            }
        }
    }
    for table in live.keys() {
        if !declared.contains_key(table) {
            out.push(format!(
                "table {table} is in the database but not in schema.rs"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(sql_type: SqlType, nullable: bool) -> Column {
        Column { sql_type, nullable }
    }

    #[test]
    fn schema_rs_parses_into_every_table_and_column() {
        let tables = declared();
        assert_eq!(
            tables.len(),
            SCHEMA_RS.matches("diesel::table!").count(),
            "one entry per table! block"
        );
        let services = &tables["services"];
        assert_eq!(services.len(), 11);
        assert_eq!(services["id"], col(SqlType::Text, false));
        assert_eq!(services["created_at"], col(SqlType::BigInt, false));
        assert_eq!(
            tables["audit_events"]["actor"],
            col(SqlType::Text, true),
            "Nullable<Text>"
        );
        assert_eq!(tables["users"]["disabled"], col(SqlType::Bool, false));
        assert_eq!(tables["memberships"].len(), 4, "composite keys parse");
    }

    #[test]
    fn what_the_parser_does_not_know_is_an_error_not_a_skipped_column() {
        let unknown_type = "diesel::table! {\n    t (id) {\n        id -> Uuid,\n    }\n}\n";
        assert!(parse_schema_rs(unknown_type).is_err());
        let attribute = "diesel::table! {\n    t (id) {\n        #[sql_name = \"x\"]\n        id -> Text,\n    }\n}\n";
        assert!(parse_schema_rs(attribute).is_err());
        let unclosed = "diesel::table! {\n    t (id) {\n        id -> Text,\n";
        assert!(parse_schema_rs(unclosed).is_err());
        let twice =
            "diesel::table! {\n    t (id) {\n        id -> Text,\n        id -> Text,\n    }\n}\n";
        assert!(parse_schema_rs(twice).is_err());
    }

    /// The comparison with doctored inputs: `schema.rs` against itself agrees, and each kind of
    /// drift is named.
    #[test]
    fn every_kind_of_drift_is_named() {
        let declared = declared();
        assert_eq!(differences(&declared, &declared), Vec::<String>::new());

        // A column a migration added that schema.rs lacks.
        let mut live = declared.clone();
        live.get_mut("services")
            .expect("services")
            .insert("extra".into(), col(SqlType::Text, true));
        assert_eq!(
            differences(&declared, &live),
            ["services.extra is in the database but not in schema.rs"]
        );

        // A column in schema.rs that no migration made: written as a doctored schema.rs line.
        let doctored = SCHEMA_RS.replacen(
            "        credential_hint -> Text,\n",
            "        credential_hint -> Text,\n        extra -> Nullable<Text>,\n",
            1,
        );
        assert_ne!(doctored, SCHEMA_RS, "the line to doctor exists");
        let doctored = parse_schema_rs(&doctored).expect("parses");
        assert_eq!(
            differences(&doctored, &declared),
            ["services.extra is in schema.rs but not in the database"]
        );

        // Nullability and type.
        let mut live = declared.clone();
        let users = live.get_mut("users").expect("users");
        users.insert("name".into(), col(SqlType::Text, true));
        users.insert("disabled".into(), col(SqlType::BigInt, false));
        assert_eq!(
            differences(&declared, &live),
            [
                "users.disabled is Bool NOT NULL in schema.rs but BigInt NOT NULL in the database",
                "users.name is Text NOT NULL in schema.rs but Text NULL in the database",
            ]
        );

        // Whole tables.
        let mut live = declared.clone();
        live.remove("consents");
        live.insert("extra".into(), BTreeMap::new());
        assert_eq!(
            differences(&declared, &live),
            [
                "table consents is in schema.rs but not in the database",
                "table extra is in the database but not in schema.rs",
            ]
        );
    }

    #[test]
    fn database_type_names_map_for_both_backends() {
        // SQLite keeps the declared type as written; PostgreSQL answers in lower case.
        assert_eq!(database_type("TEXT"), Some(SqlType::Text));
        assert_eq!(database_type("bigint"), Some(SqlType::BigInt));
        assert_eq!(database_type("BOOLEAN"), Some(SqlType::Bool));
        assert_eq!(database_type("boolean"), Some(SqlType::Bool));
        assert_eq!(database_type("character varying"), None);
    }
}
