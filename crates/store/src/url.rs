//! Parsing of `PORTCULLIS_DATABASE_URL`.

use std::fmt;
use std::path::PathBuf;

use crate::StoreError;

/// Where the data lives: a SQLite file or a PostgreSQL server.
///
/// `Debug` and `Display` hide a PostgreSQL password, so the value can be logged.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://relative/path.db` or `sqlite:///absolute/path.db`.
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`, passed to libpq as given.
    Postgres(String),
}

impl DatabaseUrl {
    /// Parses a database URL, refusing anything that is not SQLite or PostgreSQL.
    pub fn parse(raw: &str) -> Result<Self, StoreError> {
        let raw = raw.trim();
        if let Some(rest) = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
        {
            if rest.is_empty() {
                return Err(StoreError::InvalidUrl(
                    "a sqlite URL needs a file path, e.g. sqlite://data/portcullis.db".into(),
                ));
            }
            if rest.contains('?') || rest.starts_with(':') {
                return Err(StoreError::InvalidUrl(
                    "a sqlite URL takes a plain file path: no query string, no in-memory database"
                        .into(),
                ));
            }
            return Ok(Self::Sqlite(PathBuf::from(rest)));
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            if raw.len() <= "postgresql://".len() && !raw.contains('@') && raw.ends_with("//") {
                return Err(StoreError::InvalidUrl("a postgres URL needs a host".into()));
            }
            return Ok(Self::Postgres(raw.to_owned()));
        }
        Err(StoreError::InvalidUrl(
            "expected sqlite://path/to/file.db or postgres://user:password@host/database".into(),
        ))
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Self::Postgres(url) => f.write_str(&redact_password(url)),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:***{}",
            &url[..scheme_end],
            &authority[..colon],
            &rest[at..]
        ),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sqlite_relative_and_absolute() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/portcullis.db").ok(),
            Some(DatabaseUrl::Sqlite("data/portcullis.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/p.db").ok(),
            Some(DatabaseUrl::Sqlite("/var/lib/p.db".into()))
        );
    }

    #[test]
    fn refuses_other_schemes_and_memory() {
        for bad in [
            "mysql://x/y",
            "",
            "data.db",
            "sqlite://",
            "sqlite::memory:",
            "sqlite://a.db?mode=ro",
        ] {
            assert!(DatabaseUrl::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn display_hides_the_password() {
        let url = DatabaseUrl::parse("postgres://app:s3cret@db:5432/portcullis")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(url.to_string(), "postgres://app:***@db:5432/portcullis");
        assert!(!format!("{url:?}").contains("s3cret"));
        let no_password =
            DatabaseUrl::parse("postgres://app@db/p").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(no_password.to_string(), "postgres://app@db/p");
    }
}
