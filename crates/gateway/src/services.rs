//! Services: an upstream base URL and the credential to inject, per organization.

use primitives::random_id;
use store::Conn;
use store::gateway::{self as rows, ServiceRow};
use url::Url;

use crate::error::invalid;
use crate::{GatewayError, MasterKey};

/// Where the credential goes in the forwarded request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    Header,
    Query,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Query => "query",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "header" => Some(Self::Header),
            "query" => Some(Self::Query),
            _ => None,
        }
    }
}

/// A service as the API shows it: the credential only as a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub base_url: String,
    pub path_prefix: String,
    pub credential_kind: CredentialKind,
    pub credential_name: String,
    /// `…` and the last four characters of the credential value.
    pub credential_hint: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<&ServiceRow> for Service {
    fn from(r: &ServiceRow) -> Self {
        Self {
            id: r.id.clone(),
            org_id: r.org_id.clone(),
            name: r.name.clone(),
            base_url: r.base_url.clone(),
            path_prefix: r.path_prefix.clone(),
            credential_kind: CredentialKind::parse(&r.credential_kind)
                .unwrap_or(CredentialKind::Header),
            credential_name: r.credential_name.clone(),
            credential_hint: r.credential_hint.clone(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The credential to inject, in plaintext: only while a call is forwarded.
#[derive(Clone)]
pub struct Credential {
    pub kind: CredentialKind,
    pub name: String,
    pub value: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Credential({} {}: <redacted>)",
            self.kind.as_str(),
            self.name
        )
    }
}

/// What creating (or replacing) a service asks for.
#[derive(Clone)]
pub struct NewService<'a> {
    pub name: &'a str,
    pub base_url: &'a str,
    pub path_prefix: &'a str,
    pub credential_kind: &'a str,
    pub credential_name: &'a str,
    pub credential_value: &'a str,
    /// Allow `http` upstreams (tests on loopback).
    pub allow_http: bool,
}

impl std::fmt::Debug for NewService<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewService")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

fn check_name(name: &str) -> Result<(), GatewayError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        });
    if ok {
        Ok(())
    } else {
        Err(invalid("name", "must be 1 to 64 of a-z 0-9 - _ ."))
    }
}

/// `scheme://host[:port]` with no path beyond `/`, query, fragment or user information.
pub(crate) fn check_base_url(raw: &str, allow_http: bool) -> Result<Url, GatewayError> {
    let url = Url::parse(raw).map_err(|_| invalid("baseUrl", "must be an absolute URL"))?;
    let scheme_ok = url.scheme() == "https" || (allow_http && url.scheme() == "http");
    if !scheme_ok {
        return Err(invalid("baseUrl", "must be https"));
    }
    if url.host_str().is_none_or(str::is_empty)
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(invalid("baseUrl", "needs a host and no user information"));
    }
    if url.query().is_some() || url.fragment().is_some() || url.path() != "/" {
        return Err(invalid(
            "baseUrl",
            "must be scheme://host[:port] only; put paths in pathPrefix",
        ));
    }
    Ok(url)
}

fn check_prefix(prefix: &str) -> Result<String, GatewayError> {
    if prefix.is_empty() {
        return Ok(String::new());
    }
    let trimmed = prefix.trim_end_matches('/');
    let ok = trimmed.starts_with('/')
        && trimmed.len() <= 200
        && trimmed[1..].split('/').all(|s| {
            !s.is_empty()
                && s != ".."
                && s != "."
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
    if ok {
        Ok(trimmed.to_owned())
    } else {
        Err(invalid("pathPrefix", "must be a path such as /v1"))
    }
}

fn check_credential(kind: &str, name: &str, value: &str) -> Result<CredentialKind, GatewayError> {
    let kind = CredentialKind::parse(kind)
        .ok_or_else(|| invalid("credential.kind", "must be header or query"))?;
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    if !name_ok {
        return Err(invalid(
            "credential.name",
            "must be a header or parameter name",
        ));
    }
    let hop = [
        "connection",
        "host",
        "content-length",
        "transfer-encoding",
        "cookie",
        "x-api-key",
    ];
    if kind == CredentialKind::Header && hop.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(invalid(
            "credential.name",
            "this header cannot carry a credential",
        ));
    }
    if value.is_empty() || value.len() > 4096 || value.chars().any(|c| c.is_control()) {
        return Err(invalid(
            "credential.value",
            "must be 1 to 4096 printable characters",
        ));
    }
    Ok(kind)
}

fn hint(value: &str) -> String {
    let tail: String = value
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…{tail}")
}

pub fn create_service(
    conn: &mut Conn,
    key: &MasterKey,
    org_id: &str,
    new: &NewService<'_>,
    now: i64,
) -> Result<Service, GatewayError> {
    check_name(new.name)?;
    let base = check_base_url(new.base_url, new.allow_http)?;
    let prefix = check_prefix(new.path_prefix)?;
    let kind = check_credential(
        new.credential_kind,
        new.credential_name,
        new.credential_value,
    )?;
    if rows::find_service(conn, org_id, new.name)?.is_some() {
        return Err(GatewayError::Exists);
    }
    let id = format!("svc_{}", random_id());
    let row = ServiceRow {
        credential_box: key.seal(new.credential_value, &id)?,
        id,
        org_id: org_id.to_owned(),
        name: new.name.to_owned(),
        base_url: base.as_str().trim_end_matches('/').to_owned(),
        path_prefix: prefix,
        credential_kind: kind.as_str().to_owned(),
        credential_name: new.credential_name.to_owned(),
        credential_hint: hint(new.credential_value),
        created_at: now,
        updated_at: now,
    };
    match rows::insert_service(conn, &row) {
        Err(store::StoreError::Conflict) => Err(GatewayError::Exists),
        other => other.map_err(GatewayError::from),
    }?;
    Ok((&row).into())
}

pub fn list_services(conn: &mut Conn, org_id: &str) -> Result<Vec<Service>, GatewayError> {
    Ok(rows::services_of_org(conn, org_id)?
        .iter()
        .map(Service::from)
        .collect())
}

pub fn find_service(conn: &mut Conn, org_id: &str, name: &str) -> Result<Service, GatewayError> {
    rows::find_service(conn, org_id, name)?
        .as_ref()
        .map(Service::from)
        .ok_or(GatewayError::NotFound)
}

/// The service and its credential in plaintext, for forwarding one call.
pub fn service_credential(
    conn: &mut Conn,
    key: &MasterKey,
    org_id: &str,
    name: &str,
) -> Result<(Service, Credential), GatewayError> {
    let row = rows::find_service(conn, org_id, name)?.ok_or(GatewayError::NotFound)?;
    let value = key.open(&row.credential_box, &row.id)?;
    let service = Service::from(&row);
    let credential = Credential {
        kind: service.credential_kind,
        name: service.credential_name.clone(),
        value,
    };
    Ok((service, credential))
}

/// Changes a service; a new credential value replaces the sealed one.
#[allow(clippy::too_many_arguments)]
pub fn update_service(
    conn: &mut Conn,
    key: &MasterKey,
    org_id: &str,
    name: &str,
    base_url: Option<&str>,
    path_prefix: Option<&str>,
    credential: Option<(&str, &str, &str)>,
    allow_http: bool,
    now: i64,
) -> Result<Service, GatewayError> {
    let mut row = rows::find_service(conn, org_id, name)?.ok_or(GatewayError::NotFound)?;
    if let Some(base) = base_url {
        row.base_url = check_base_url(base, allow_http)?
            .as_str()
            .trim_end_matches('/')
            .to_owned();
    }
    if let Some(prefix) = path_prefix {
        row.path_prefix = check_prefix(prefix)?;
    }
    if let Some((kind, cname, value)) = credential {
        let kind = check_credential(kind, cname, value)?;
        row.credential_kind = kind.as_str().to_owned();
        row.credential_name = cname.to_owned();
        row.credential_box = key.seal(value, &row.id)?;
        row.credential_hint = hint(value);
    }
    row.updated_at = now;
    rows::update_service(conn, &row)?;
    Ok((&row).into())
}

pub fn delete_service(conn: &mut Conn, org_id: &str, name: &str) -> Result<(), GatewayError> {
    if rows::delete_service(conn, org_id, name)? {
        Ok(())
    } else {
        Err(GatewayError::NotFound)
    }
}

/// Re-seals every stored credential under a new master key, in one transaction: all or none.
pub fn reseal_all(
    conn: &mut Conn,
    old: &MasterKey,
    new: &MasterKey,
) -> Result<usize, GatewayError> {
    store::transaction(conn, |conn| {
        let all = rows::all_services(conn)?;
        for row in &all {
            let value = old.open(&row.credential_box, &row.id)?;
            let mut updated = row.clone();
            updated.credential_box = new.seal(&value, &row.id)?;
            rows::update_service(conn, &updated)?;
        }
        Ok(all.len())
    })
}
