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

/// Marks a credential sealed under [`binding`]: the service id and its destination. Values
/// without it are the first format, bound to the service id only (see [`open_credential`]).
/// Base64 has no `:`, so the marker cannot be confused with a value of the first format.
const SEALED_V2: &str = "v2:";

/// `scheme://host:port` of a base URL, the port always written: what a credential is bound to.
/// Hosts come normalized from the URL parser (lower case, IDNA as punycode, IPv6 bracketed),
/// so two spellings of one destination give one origin.
fn origin(base_url: &str) -> Option<String> {
    let url = Url::parse(base_url).ok()?;
    let host = url.host_str().filter(|h| !h.is_empty())?;
    let port = url.port_or_known_default()?;
    Some(format!("{}://{host}:{port}", url.scheme()))
}

/// The associated data a credential is sealed with: authenticated, not encrypted, so a sealed
/// value opens only for this service id *and* this destination. A ciphertext copied to another
/// row, or left in place while the row's base URL is pointed at another host, does not open.
fn binding(service_id: &str, base_url: &str) -> Result<String, GatewayError> {
    let origin = origin(base_url).ok_or(GatewayError::Undecryptable)?;
    Ok(format!(
        "portcullis gateway credential v2\0{service_id}\0{origin}"
    ))
}

fn seal_credential(
    key: &MasterKey,
    service_id: &str,
    base_url: &str,
    value: &str,
) -> Result<String, GatewayError> {
    let sealed = key.seal(value, &binding(service_id, base_url)?)?;
    Ok(format!("{SEALED_V2}{sealed}"))
}

/// Opens a stored credential. Values of the first format (no version marker, sealed before
/// credentials were bound to their destination, with the service id alone as associated data)
/// still open, so existing services keep working; `portcullis master-key rotate` (with the new
/// key, or with the current key again) re-seals every one of them in the current format, and so
/// does storing a new credential.
fn open_credential(key: &MasterKey, row: &ServiceRow) -> Result<String, GatewayError> {
    match row.credential_box.strip_prefix(SEALED_V2) {
        Some(sealed) => key.open(sealed, &binding(&row.id, &row.base_url)?),
        None => key.open(&row.credential_box, &row.id),
    }
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
    let base_url = base.as_str().trim_end_matches('/').to_owned();
    let row = ServiceRow {
        credential_box: seal_credential(key, &id, &base_url, new.credential_value)?,
        id,
        org_id: org_id.to_owned(),
        name: new.name.to_owned(),
        base_url,
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
    let value = open_credential(key, &row)?;
    let service = Service::from(&row);
    let credential = Credential {
        kind: service.credential_kind,
        name: service.credential_name.clone(),
        value,
    };
    Ok((service, credential))
}

/// Changes a service; a new credential value replaces the sealed one. A credential is bound to
/// its destination: a base URL whose scheme, host or port differs from the stored one needs a
/// new credential in the same change (else `Invalid` naming `credential`), so pointing a
/// service elsewhere cannot carry its secret along.
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
        let base = check_base_url(base, allow_http)?
            .as_str()
            .trim_end_matches('/')
            .to_owned();
        if credential.is_none() && origin(&base) != origin(&row.base_url) {
            return Err(invalid(
                "credential",
                "is required when baseUrl changes its scheme, host or port: a stored \
                 credential is bound to its destination",
            ));
        }
        row.base_url = base;
    }
    if let Some(prefix) = path_prefix {
        row.path_prefix = check_prefix(prefix)?;
    }
    if let Some((kind, cname, value)) = credential {
        let kind = check_credential(kind, cname, value)?;
        row.credential_kind = kind.as_str().to_owned();
        row.credential_name = cname.to_owned();
        row.credential_box = seal_credential(key, &row.id, &row.base_url, value)?;
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
/// Every value comes out in the current format, bound to its service and destination; run
/// with the same key as `old` and `new`, it only upgrades values of the first format.
pub fn reseal_all(
    conn: &mut Conn,
    old: &MasterKey,
    new: &MasterKey,
) -> Result<usize, GatewayError> {
    store::transaction(conn, |conn| {
        let all = rows::all_services(conn)?;
        for row in &all {
            let value = open_credential(old, row)?;
            let mut updated = row.clone();
            updated.credential_box = seal_credential(new, &row.id, &row.base_url, &value)?;
            rows::update_service(conn, &updated)?;
        }
        Ok(all.len())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn key() -> MasterKey {
        MasterKey::parse(HEX).expect("key")
    }

    fn org(conn: &mut Conn) -> String {
        let id = format!("org_{}", random_id());
        store::accounts::insert_org(
            conn,
            &store::accounts::OrgRow {
                id: id.clone(),
                name: "Org".into(),
                created_at: 0,
                updated_at: 0,
                require_mfa: false,
            },
        )
        .expect("org");
        id
    }

    fn create(conn: &mut Conn, org: &str, name: &str, base: &str, value: &str) -> Service {
        let new = NewService {
            name,
            base_url: base,
            path_prefix: "",
            credential_kind: "header",
            credential_name: "Authorization",
            credential_value: value,
            allow_http: true,
        };
        create_service(conn, &key(), org, &new, 0).expect("create")
    }

    fn opened(conn: &mut Conn, org: &str, name: &str) -> Result<String, GatewayError> {
        service_credential(conn, &key(), org, name).map(|(_, c)| c.value)
    }

    fn row(conn: &mut Conn, org: &str, name: &str) -> ServiceRow {
        rows::find_service(conn, org, name)
            .expect("find")
            .expect("row")
    }

    fn update_base(
        conn: &mut Conn,
        org: &str,
        base: &str,
        credential: Option<(&str, &str, &str)>,
    ) -> Result<Service, GatewayError> {
        update_service(
            conn,
            &key(),
            org,
            "a",
            Some(base),
            None,
            credential,
            true,
            1,
        )
    }

    store::backend_tests! {
        fn attack_copied_credential_does_not_open_for_another_destination(db) {
            let mut conn = db.store().conn().expect("conn");
            let org = org(&mut conn);
            create(&mut conn, &org, "a", "https://a.example", "Bearer a-secret");
            create(&mut conn, &org, "b", "https://b.example", "Bearer b-secret");
            let a = row(&mut conn, &org, "a");
            assert!(a.credential_box.starts_with(SEALED_V2));
            // A's sealed value copied into B's row: B's id and host differ, it does not open.
            let mut b = row(&mut conn, &org, "b");
            b.credential_box = a.credential_box.clone();
            rows::update_service(&mut conn, &b).expect("copy");
            assert!(matches!(opened(&mut conn, &org, "b"), Err(GatewayError::Undecryptable)));
            // A's row pointed at another host (or port, or scheme) in the database, its sealed
            // value left in place: it does not open either.
            for elsewhere in ["https://evil.example", "https://a.example:8443", "http://a.example"] {
                let mut moved = a.clone();
                moved.base_url = elsewhere.into();
                rows::update_service(&mut conn, &moved).expect("move");
                assert!(
                    matches!(opened(&mut conn, &org, "a"), Err(GatewayError::Undecryptable)),
                    "{elsewhere}"
                );
            }
            // Back where it was sealed, it opens.
            rows::update_service(&mut conn, &a).expect("restore");
            assert_eq!(opened(&mut conn, &org, "a").expect("opens"), "Bearer a-secret");
        }

        fn attack_credential_exfiltration_by_moving_base_url_needs_a_new_credential(db) {
            let mut conn = db.store().conn().expect("conn");
            let org = org(&mut conn);
            create(&mut conn, &org, "a", "https://a.example", "Bearer a-secret");
            for elsewhere in ["https://evil.example", "https://a.example:8443", "http://a.example"] {
                match update_base(&mut conn, &org, elsewhere, None) {
                    Err(GatewayError::Invalid { field, .. }) => assert_eq!(field, "credential"),
                    other => panic!("{elsewhere}: {other:?}"),
                }
                assert_eq!(row(&mut conn, &org, "a").base_url, "https://a.example", "unchanged");
            }
            // The same destination written another way needs nothing new, and still opens.
            let same = update_base(&mut conn, &org, "https://A.Example:443/", None).expect("same origin");
            assert_eq!(same.base_url, "https://a.example");
            assert_eq!(opened(&mut conn, &org, "a").expect("opens"), "Bearer a-secret");
            // With a new credential in the same change, the service moves, bound to its new home.
            let moved = update_base(
                &mut conn,
                &org,
                "https://b.example",
                Some(("header", "Authorization", "Bearer b-secret")),
            )
            .expect("moved");
            assert_eq!(moved.base_url, "https://b.example");
            assert_eq!(opened(&mut conn, &org, "a").expect("opens"), "Bearer b-secret");
            // A path prefix alone changes nothing about the binding.
            update_service(&mut conn, &key(), &org, "a", None, Some("/v2"), None, true, 2).expect("prefix");
            assert_eq!(opened(&mut conn, &org, "a").expect("opens"), "Bearer b-secret");
        }

        fn credentials_of_the_first_format_still_open_and_a_reseal_binds_them(db) {
            let mut conn = db.store().conn().expect("conn");
            let org = org(&mut conn);
            create(&mut conn, &org, "a", "https://a.example", "Bearer a-secret");
            // A value sealed before the destination binding: the service id alone.
            let mut legacy = row(&mut conn, &org, "a");
            legacy.credential_box = key().seal("Bearer a-secret", &legacy.id).expect("seal");
            rows::update_service(&mut conn, &legacy).expect("legacy");
            assert_eq!(opened(&mut conn, &org, "a").expect("opens"), "Bearer a-secret");
            // `master-key rotate` with the same key upgrades it: now bound to its destination.
            assert_eq!(reseal_all(&mut conn, &key(), &key()).expect("reseal"), 1);
            let upgraded = row(&mut conn, &org, "a");
            assert!(upgraded.credential_box.starts_with(SEALED_V2));
            assert_eq!(opened(&mut conn, &org, "a").expect("opens"), "Bearer a-secret");
            let mut moved = upgraded.clone();
            moved.base_url = "https://evil.example".into();
            rows::update_service(&mut conn, &moved).expect("move");
            assert!(matches!(opened(&mut conn, &org, "a"), Err(GatewayError::Undecryptable)));
        }
    }
}
