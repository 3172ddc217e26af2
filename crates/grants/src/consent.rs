//! Consent: what a user allowed a client, remembered per user and client as the union of the
//! scopes and of the resources (RFC 8707) allowed; the [`Consented`] proof a code is issued
//! with. Consent for resource A is not consent for resource B: a request naming a resource the
//! user has not allowed this client asks again.

use registration::Client;
use store::Conn;
use store::codes::{self as rows, ConsentRow};

use crate::{AuthorizationRequest, Scope};

/// Proof that the user allowed the client the request's scopes (on the consent page now, or
/// before), or that the client is first-party. Made only here; a code is issued only with one.
#[derive(Debug)]
pub struct Consented {
    pub(crate) user_id: String,
    pub(crate) client_id: String,
    pub(crate) scope: Scope,
}

/// Consent that lets `request` skip the consent page, if any: a first-party client always; any
/// other client when the user allowed every asked scope before, the request does not ask to be
/// asked again (`prompt=consent`), and its redirect URI proves which app gets the code (never
/// a loopback or private-use scheme, RFC 8252 §8.6).
pub fn remembered_consent(
    conn: &mut Conn,
    user: &accounts::User,
    client: &Client,
    request: &AuthorizationRequest,
) -> Result<Option<Consented>, store::StoreError> {
    let consented = || Consented {
        user_id: user.id.clone(),
        client_id: client.id.clone(),
        scope: request.scope().clone(),
    };
    if client.first_party {
        return Ok(Some(consented()));
    }
    if request.prompt().consent || request.redirects_to_native_app() {
        return Ok(None);
    }
    let remembered = rows::find_consent(conn, &user.id, &client.id)?.is_some_and(|c| {
        let allowed = stored_resources(c.resources.as_deref());
        request.scope().is_subset_of(&Scope::from_stored(&c.scope))
            && request.resources().iter().all(|r| allowed.contains(r))
    });
    Ok(remembered.then(consented))
}

/// The user allowed `request` on the consent page: remembered as the union of what was allowed
/// before and now.
pub fn give_consent(
    conn: &mut Conn,
    user: &accounts::User,
    request: &AuthorizationRequest,
    now: i64,
) -> Result<Consented, store::StoreError> {
    remember(
        conn,
        &user.id,
        request.client_id(),
        request.scope(),
        request.resources(),
        now,
    )?;
    Ok(Consented {
        user_id: user.id.clone(),
        client_id: request.client_id().to_owned(),
        scope: request.scope().clone(),
    })
}

/// Remembers that `user_id` allowed `client_id` the `scope` for `resources`: the union with
/// what was allowed before.
pub(crate) fn remember(
    conn: &mut Conn,
    user_id: &str,
    client_id: &str,
    scope: &Scope,
    asked_resources: &[String],
    now: i64,
) -> Result<(), store::StoreError> {
    let before = rows::find_consent(conn, user_id, client_id)?;
    let mut resources = stored_resources(before.as_ref().and_then(|c| c.resources.as_deref()));
    let granted = before
        .map(|c| Scope::from_stored(&c.scope))
        .unwrap_or_default()
        .union(scope);
    for r in asked_resources {
        if !resources.contains(r) {
            resources.push(r.clone());
        }
    }
    rows::save_consent(
        conn,
        &ConsentRow {
            user_id: user_id.to_owned(),
            client_id: client_id.to_owned(),
            scope: granted.to_string(),
            created_at: now,
            updated_at: now,
            resources: (!resources.is_empty())
                .then(|| serde_json::to_string(&resources).unwrap_or_default()),
        },
    )?;
    tracing::info!(user = %user_id, client = client_id, "consent given");
    Ok(())
}

/// The resources of a stored consent (a JSON array; absent or unreadable: none).
fn stored_resources(raw: Option<&str>) -> Vec<String> {
    raw.and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or_default()
}

/// What `user_id` allowed `client_id` (the union of every consent); empty when nothing.
pub fn consented_scope(
    conn: &mut Conn,
    user_id: &str,
    client_id: &str,
) -> Result<Scope, store::StoreError> {
    Ok(rows::find_consent(conn, user_id, client_id)?
        .map(|c| Scope::from_stored(&c.scope))
        .unwrap_or_default())
}

/// An app the user allowed, as the account page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedApp {
    pub client_id: String,
    /// The client's name, or its id when it has none (or is gone).
    pub name: String,
    pub scope: Scope,
}

/// The apps `user_id` allowed.
pub fn allowed_apps(conn: &mut Conn, user_id: &str) -> Result<Vec<AllowedApp>, crate::GrantError> {
    let mut apps = Vec::new();
    for consent in rows::consents_of_user(conn, user_id)? {
        let name = registration::find_client(conn, &consent.client_id)?
            .and_then(|c| c.metadata.client_name)
            .unwrap_or_else(|| consent.client_id.clone());
        apps.push(AllowedApp {
            client_id: consent.client_id,
            name,
            scope: Scope::from_stored(&consent.scope),
        });
    }
    Ok(apps)
}

/// Withdraws an app's access: its consent goes, and the refresh tokens it holds for this user.
pub fn withdraw_consent(
    conn: &mut Conn,
    user_id: &str,
    client_id: &str,
    now: i64,
) -> Result<(), crate::GrantError> {
    rows::delete_consent(conn, user_id, client_id)?;
    crate::family::revoke_client_families(conn, user_id, client_id, now)?;
    tracing::info!(user = %user_id, client = %client_id, "app access withdrawn");
    Ok(())
}
