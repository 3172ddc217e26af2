//! Protected resources (RFC 8707, RFC 9728): the resource servers an operator registers, and
//! the decisions that involve them: which `resource` values an authorization request may name,
//! which scopes go with which resource, how long a token for them lives.
//!
//! A resource's URI is what clients send as `resource` and what becomes a token's `aud`; its
//! scopes are registered with it (a client may register and ask for them without the operator
//! listing them in `PORTCULLIS_SCOPES`), each with the sentence the consent page shows.
//!
//! The rules, each tested by an attack named after it in `tests/server/resources.rs`:
//! - A scope that belongs to a registered resource is granted only in a request (and a token)
//!   whose resources include that resource: asking it with another resource, or none, is
//!   `invalid_scope` (the resource asked is fine; the scope is not one of its scopes). So a
//!   token whose `aud` is B never carries A's scopes.
//! - With the strict policy (`PORTCULLIS_RESOURCE_POLICY=strict`) and at least one resource
//!   registered, a `resource` that is neither registered nor one of the server's own APIs is
//!   `invalid_target`; the open policy (the default) lets a client name any absolute URI, as
//!   before resources were records, so existing deployments keep working.

use primitives::random_token;
use serde::{Deserialize, Serialize};
use store::Conn;
use store::resources::{self as rows, ResourceRow};
use url::Url;

use crate::{AuthorizationRequest, ErrorCode, OAuthError, Scope, is_reserved_audience};

/// One scope of a resource, with the sentence the consent page shows for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceScope {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// A registered resource server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedResource {
    pub id: String,
    /// Absolute URI without fragment: the `resource` clients send and the tokens' `aud`.
    pub uri: String,
    /// The name the consent page shows.
    pub name: String,
    pub scopes: Vec<ResourceScope>,
    /// Lifetime of access tokens for it, seconds; `None`: the server's.
    pub access_token_ttl: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ProtectedResource {
    fn from_row(row: ResourceRow) -> Self {
        Self {
            scopes: serde_json::from_str(&row.scopes).unwrap_or_default(),
            id: row.id,
            uri: row.uri,
            name: row.name,
            access_token_ttl: row.access_token_ttl,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }

    /// Whether `scope` is one of this resource's scopes.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s.name == scope)
    }
}

/// What an operator gives to register or change a resource.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceSpec {
    pub uri: String,
    pub name: String,
    pub scopes: Vec<ResourceScope>,
    pub access_token_ttl: Option<i64>,
}

/// What can go wrong when managing resources.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// A field is not valid: the field and why.
    #[error("{0}: {1}")]
    Invalid(&'static str, String),
    /// Another resource has this URI.
    #[error("a resource with this URI is registered already")]
    Exists,
    #[error("no such resource")]
    NotFound,
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// The longest access-token lifetime a resource may set: one day.
pub const MAX_RESOURCE_TTL: i64 = 86_400;

/// Checks a spec: the URI absolute, without fragment, not ours; a name; scopes RFC 6749 §3.3
/// tokens, each once; a lifetime from 60 seconds to a day.
fn validate(spec: &ResourceSpec) -> Result<(), ResourceError> {
    let uri_ok = spec.uri.len() <= 2000 && !spec.uri.contains('#') && Url::parse(&spec.uri).is_ok();
    if !uri_ok {
        return Err(ResourceError::Invalid(
            "uri",
            "must be an absolute URI without a fragment".into(),
        ));
    }
    if is_reserved_audience(&spec.uri) {
        return Err(ResourceError::Invalid(
            "uri",
            "urn:portcullis: is reserved for the server itself".into(),
        ));
    }
    let name = spec.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ResourceError::Invalid(
            "name",
            "must be 1 to 200 characters, no control characters".into(),
        ));
    }
    if spec.scopes.len() > 100 {
        return Err(ResourceError::Invalid("scopes", "at most 100".into()));
    }
    for (i, s) in spec.scopes.iter().enumerate() {
        if !registration::is_scope_token(&s.name) || s.name.len() > 200 {
            return Err(ResourceError::Invalid(
                "scopes",
                format!("{:?} is not an RFC 6749 scope token", s.name),
            ));
        }
        if s.name == "openid" || s.name == "offline_access" {
            return Err(ResourceError::Invalid(
                "scopes",
                format!("{} belongs to OpenID Connect, not to a resource", s.name),
            ));
        }
        if spec.scopes[..i].iter().any(|o| o.name == s.name) {
            return Err(ResourceError::Invalid(
                "scopes",
                format!("{} is listed twice", s.name),
            ));
        }
        if s.description.chars().count() > 500 || s.description.chars().any(char::is_control) {
            return Err(ResourceError::Invalid(
                "scopes",
                format!(
                    "the consent text of {} is too long or has control characters",
                    s.name
                ),
            ));
        }
    }
    if let Some(ttl) = spec.access_token_ttl
        && !(60..=MAX_RESOURCE_TTL).contains(&ttl)
    {
        return Err(ResourceError::Invalid(
            "access_token_ttl",
            format!("must be from 60 to {MAX_RESOURCE_TTL} seconds"),
        ));
    }
    Ok(())
}

fn row_of(spec: &ResourceSpec, id: String, created_at: i64, now: i64) -> ResourceRow {
    ResourceRow {
        id,
        uri: spec.uri.clone(),
        name: spec.name.trim().to_owned(),
        scopes: serde_json::to_string(&spec.scopes).unwrap_or_else(|_| "[]".into()),
        access_token_ttl: spec.access_token_ttl,
        created_at,
        updated_at: now,
    }
}

/// Registers a resource.
pub fn add_resource(
    conn: &mut Conn,
    spec: &ResourceSpec,
    now: i64,
) -> Result<ProtectedResource, ResourceError> {
    validate(spec)?;
    let row = row_of(spec, random_token(12), now, now);
    match rows::insert_resource(conn, &row) {
        Err(store::StoreError::Conflict) => return Err(ResourceError::Exists),
        other => other?,
    }
    tracing::info!(resource = %row.uri, "protected resource registered");
    Ok(ProtectedResource::from_row(row))
}

/// Replaces a resource's URI, name, scopes and lifetime.
pub fn update_resource(
    conn: &mut Conn,
    id: &str,
    spec: &ResourceSpec,
    now: i64,
) -> Result<ProtectedResource, ResourceError> {
    validate(spec)?;
    let old = rows::find_resource_by_id(conn, id)?.ok_or(ResourceError::NotFound)?;
    let row = row_of(spec, old.id, old.created_at, now);
    match rows::update_resource(conn, &row) {
        Err(store::StoreError::Conflict) => return Err(ResourceError::Exists),
        Ok(false) => return Err(ResourceError::NotFound),
        other => other.map(drop)?,
    }
    Ok(ProtectedResource::from_row(row))
}

/// Removes a resource. Tokens already issued for it stay valid until they expire.
pub fn remove_resource(conn: &mut Conn, id: &str) -> Result<(), ResourceError> {
    if rows::delete_resource(conn, id)? {
        Ok(())
    } else {
        Err(ResourceError::NotFound)
    }
}

/// Every registered resource, by URI.
pub fn list_resources(conn: &mut Conn) -> Result<Vec<ProtectedResource>, store::StoreError> {
    Ok(rows::list_resources(conn)?
        .into_iter()
        .map(ProtectedResource::from_row)
        .collect())
}

/// A resource by its id or its URI.
pub fn find_resource(
    conn: &mut Conn,
    id_or_uri: &str,
) -> Result<Option<ProtectedResource>, store::StoreError> {
    let row = match rows::find_resource_by_id(conn, id_or_uri)? {
        Some(r) => Some(r),
        None => rows::find_resource_by_uri(conn, id_or_uri)?,
    };
    Ok(row.map(ProtectedResource::from_row))
}

/// Every scope of every registered resource (what a client may register besides the server's).
pub fn resource_scopes(conn: &mut Conn) -> Result<Vec<String>, store::StoreError> {
    let mut out: Vec<String> = Vec::new();
    for r in list_resources(conn)? {
        for s in r.scopes {
            if !out.contains(&s.name) {
                out.push(s.name);
            }
        }
    }
    Ok(out)
}

/// How `resource` values are judged.
#[derive(Debug, Clone, Copy)]
pub struct ResourcePolicy<'a> {
    /// Refuse unregistered resources once any is registered.
    pub strict: bool,
    /// The server's own APIs (the issuer, the JSON API, the gateway): always allowed.
    pub own: &'a [String],
}

/// The resources of an authorization request, checked: each registered, one of the server's
/// own APIs, or (open policy, or nothing registered) any; and every scope that belongs to a
/// registered resource asked together with that resource. A request that names no scope gets
/// the client's registered scopes without those of resources it does not name. Returns the
/// request (so checked) and the registered resources it names, in its order, for the consent
/// page.
pub fn check_resources(
    conn: &mut Conn,
    mut request: AuthorizationRequest,
    policy: &ResourcePolicy<'_>,
) -> Result<(AuthorizationRequest, Vec<ProtectedResource>), CheckError> {
    let (scope, named) = check_asked(
        conn,
        request.resources(),
        &request.scope,
        request.scope_given,
        policy,
    )?;
    request.scope = scope;
    Ok((request, named))
}

/// [`check_resources`] for any request that names resources and a scope (the authorization
/// request, the device authorization request): the scope to use and the registered resources
/// named. `scope_given` says whether the request named its scope (else `scope` is the
/// client's registered one, kept without the scopes of resources not asked).
pub fn check_asked(
    conn: &mut Conn,
    asked: &[String],
    scope: &Scope,
    scope_given: bool,
    policy: &ResourcePolicy<'_>,
) -> Result<(Scope, Vec<ProtectedResource>), CheckError> {
    let registered = list_resources(conn)?;
    let scope = if scope_given {
        scope.clone()
    } else {
        let kept = Scope::from_tokens(scope.iter().filter(|t| {
            let owners: Vec<&ProtectedResource> =
                registered.iter().filter(|r| r.has_scope(t)).collect();
            owners.is_empty() || owners.iter().any(|r| asked.contains(&r.uri))
        }));
        if kept.is_empty() {
            return Err(CheckError::Refused(OAuthError::new(
                ErrorCode::InvalidScope,
                "no scope requested, and none registered for the resources requested",
            )));
        }
        kept
    };
    let mut named = Vec::new();
    for uri in asked {
        if let Some(r) = registered.iter().find(|r| &r.uri == uri) {
            named.push(r.clone());
        } else if !policy.own.contains(uri) && policy.strict && !registered.is_empty() {
            return Err(CheckError::Refused(OAuthError::new(
                ErrorCode::InvalidTarget,
                format!("{uri} is not a resource registered with this server"),
            )));
        }
    }
    for token in scope.iter() {
        let owners: Vec<&ProtectedResource> =
            registered.iter().filter(|r| r.has_scope(token)).collect();
        if !owners.is_empty() && !owners.iter().any(|r| asked.contains(&r.uri)) {
            return Err(CheckError::Refused(OAuthError::new(
                ErrorCode::InvalidScope,
                format!(
                    "the scope {token} belongs to the resource {}: ask for it with resource={}",
                    owners[0].uri, owners[0].uri
                ),
            )));
        }
    }
    Ok((scope, named))
}

/// A refused check, or the store failing.
#[derive(Debug)]
pub enum CheckError {
    Refused(OAuthError),
    Store(store::StoreError),
}

impl From<store::StoreError> for CheckError {
    fn from(e: store::StoreError) -> Self {
        Self::Store(e)
    }
}

/// The scope a token for `audience` may carry: `scope` without the scopes of registered
/// resources that are not in the audience (a token narrowed to resource B at the token
/// endpoint loses resource A's scopes).
pub fn scope_for_audience(
    conn: &mut Conn,
    scope: &Scope,
    audience: &[String],
) -> Result<Scope, store::StoreError> {
    Ok(scope_among(&list_resources(conn)?, scope, audience))
}

/// What a user's token for `audience` gets from the registered resources, read once: its scope
/// ([`scope_for_audience`]) and its lifetime ([`lifetime_for`]).
pub fn token_terms(
    conn: &mut Conn,
    scope: &Scope,
    audience: &[String],
) -> Result<(Scope, Option<i64>), store::StoreError> {
    let registered = list_resources(conn)?;
    Ok((
        scope_among(&registered, scope, audience),
        lifetime_among(&registered, audience),
    ))
}

fn scope_among(registered: &[ProtectedResource], scope: &Scope, audience: &[String]) -> Scope {
    Scope::from_tokens(scope.iter().filter(|t| {
        let owners: Vec<&ProtectedResource> =
            registered.iter().filter(|r| r.has_scope(t)).collect();
        owners.is_empty() || owners.iter().any(|r| audience.contains(&r.uri))
    }))
}

/// The lifetime of a token for `audience`: the shortest lifetime any of its registered
/// resources sets, or `None` (the server's).
pub fn lifetime_for(
    conn: &mut Conn,
    audience: &[String],
) -> Result<Option<i64>, store::StoreError> {
    Ok(lifetime_among(&list_resources(conn)?, audience))
}

fn lifetime_among(registered: &[ProtectedResource], audience: &[String]) -> Option<i64> {
    registered
        .iter()
        .filter(|r| audience.contains(&r.uri))
        .filter_map(|r| r.access_token_ttl)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(uri: &str, scopes: &[&str], ttl: Option<i64>) -> ResourceSpec {
        ResourceSpec {
            uri: uri.into(),
            name: "R".into(),
            scopes: scopes
                .iter()
                .map(|s| ResourceScope {
                    name: (*s).into(),
                    description: format!("Use {s}"),
                })
                .collect(),
            access_token_ttl: ttl,
        }
    }

    #[test]
    fn a_spec_is_checked_field_by_field() {
        let field = |s: ResourceSpec| match validate(&s) {
            Err(ResourceError::Invalid(field, _)) => field,
            other => panic!("{other:?}"),
        };
        assert!(validate(&spec("https://a.example/mcp", &["mcp:tools"], Some(600))).is_ok());
        assert_eq!(field(spec("https://a.example/#f", &[], None)), "uri");
        assert_eq!(field(spec("/relative", &[], None)), "uri");
        assert_eq!(field(spec("urn:portcullis:first-party", &[], None)), "uri");
        assert_eq!(field(spec("https://a.example/", &["a b"], None)), "scopes");
        assert_eq!(
            field(spec("https://a.example/", &["x", "x"], None)),
            "scopes"
        );
        assert_eq!(
            field(spec("https://a.example/", &["openid"], None)),
            "scopes"
        );
        assert_eq!(
            field(spec("https://a.example/", &[], Some(59))),
            "access_token_ttl"
        );
        assert_eq!(
            field(spec("https://a.example/", &[], Some(MAX_RESOURCE_TTL + 1))),
            "access_token_ttl"
        );
        let mut nameless = spec("https://a.example/", &[], None);
        nameless.name = "  ".into();
        assert_eq!(field(nameless), "name");
    }

    store::backend_tests! {
        fn scopes_follow_their_resource_and_lifetimes_the_shortest(db) {
            let mut conn = db.store().conn().expect("conn");
            let a = "https://a.example/";
            let b = "https://b.example/";
            add_resource(&mut conn, &spec(a, &["a:read", "shared"], Some(600)), 1).expect("a");
            add_resource(&mut conn, &spec(b, &["b:read", "shared"], Some(300)), 1).expect("b");
            assert!(matches!(
                add_resource(&mut conn, &spec(a, &[], None), 1),
                Err(ResourceError::Exists)
            ));
            let scope = Scope::from_stored("openid a:read b:read shared");
            let only_a = scope_for_audience(&mut conn, &scope, &[a.to_owned()]).expect("a");
            assert_eq!(only_a.to_string(), "openid a:read shared");
            let neither = scope_for_audience(&mut conn, &scope, &[]).expect("none");
            assert_eq!(neither.to_string(), "openid");
            assert_eq!(lifetime_for(&mut conn, &[a.to_owned()]).expect("ttl"), Some(600));
            assert_eq!(lifetime_for(&mut conn, &[a.to_owned(), b.to_owned()]).expect("ttl"), Some(300));
            assert_eq!(lifetime_for(&mut conn, &["https://c.example/".to_owned()]).expect("ttl"), None);
            let mut all = resource_scopes(&mut conn).expect("scopes");
            all.sort();
            assert_eq!(all, ["a:read", "b:read", "shared"]);
            let found = find_resource(&mut conn, a).expect("find").expect("by uri");
            assert_eq!(find_resource(&mut conn, &found.id).expect("find").map(|r| r.uri), Some(a.to_owned()));
            // A URI changed to another's is refused; removing twice is NotFound.
            assert!(matches!(
                update_resource(&mut conn, &found.id, &spec(b, &[], None), 2),
                Err(ResourceError::Exists)
            ));
            remove_resource(&mut conn, &found.id).expect("remove");
            assert!(matches!(remove_resource(&mut conn, &found.id), Err(ResourceError::NotFound)));
        }
    }
}
