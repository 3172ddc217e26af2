//! Gateway services and the usage log.

use diesel::prelude::*;

use crate::Conn;
use crate::schema::{gateway_usage, services};

#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = services)]
pub struct ServiceRow {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub base_url: String,
    pub path_prefix: String,
    pub credential_kind: String,
    pub credential_name: String,
    pub credential_box: String,
    pub credential_hint: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl std::fmt::Debug for ServiceRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceRow")
            .field("org_id", &self.org_id)
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

pub fn insert_service(conn: &mut Conn, row: &ServiceRow) -> crate::Result<()> {
    diesel::insert_into(services::table)
        .values(row)
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

pub fn update_service(conn: &mut Conn, row: &ServiceRow) -> crate::Result<bool> {
    diesel::update(services::table.find(&row.id))
        .set(row)
        .execute(conn)
        .map(|n| n > 0)
        .map_err(Into::into)
}

pub fn find_service(
    conn: &mut Conn,
    org_id: &str,
    name: &str,
) -> crate::Result<Option<ServiceRow>> {
    services::table
        .filter(services::org_id.eq(org_id))
        .filter(services::name.eq(name))
        .select(ServiceRow::as_select())
        .first(conn)
        .optional()
        .map_err(Into::into)
}

pub fn services_of_org(conn: &mut Conn, org_id: &str) -> crate::Result<Vec<ServiceRow>> {
    services::table
        .filter(services::org_id.eq(org_id))
        .select(ServiceRow::as_select())
        .order(services::name.asc())
        .load(conn)
        .map_err(Into::into)
}

pub fn all_services(conn: &mut Conn) -> crate::Result<Vec<ServiceRow>> {
    services::table
        .select(ServiceRow::as_select())
        .order(services::id.asc())
        .load(conn)
        .map_err(Into::into)
}

pub fn delete_service(conn: &mut Conn, org_id: &str, name: &str) -> crate::Result<bool> {
    diesel::delete(
        services::table
            .filter(services::org_id.eq(org_id))
            .filter(services::name.eq(name)),
    )
    .execute(conn)
    .map(|n| n > 0)
    .map_err(Into::into)
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = gateway_usage)]
pub struct UsageRow {
    pub id: String,
    pub org_id: String,
    pub key_id: String,
    pub agent_id: String,
    pub service: String,
    pub endpoint: String,
    pub method: String,
    pub status: i64,
    pub latency_ms: i64,
    pub bytes_in: i64,
    pub bytes_out: i64,
    pub occurred_at: i64,
    /// The subject an actor called for (an exchanged token's user or API key), if any.
    pub subject_id: Option<String>,
}

pub fn insert_usage(conn: &mut Conn, row: &UsageRow) -> crate::Result<()> {
    diesel::insert_into(gateway_usage::table)
        .values(row)
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

/// Usage of an organization, newest first, optionally of one service or agent, since a time.
pub fn usage_of_org(
    conn: &mut Conn,
    org_id: &str,
    service: Option<&str>,
    agent_id: Option<&str>,
    since: Option<i64>,
    limit: i64,
) -> crate::Result<Vec<UsageRow>> {
    let mut q = gateway_usage::table
        .filter(gateway_usage::org_id.eq(org_id))
        .select(UsageRow::as_select())
        .into_boxed();
    if let Some(s) = service {
        q = q.filter(gateway_usage::service.eq(s.to_owned()));
    }
    if let Some(a) = agent_id {
        q = q.filter(gateway_usage::agent_id.eq(a.to_owned()));
    }
    if let Some(t) = since {
        q = q.filter(gateway_usage::occurred_at.ge(t));
    }
    q.order((gateway_usage::occurred_at.desc(), gateway_usage::id.desc()))
        .limit(limit)
        .load(conn)
        .map_err(Into::into)
}
