//! API keys and agents.

use diesel::prelude::*;

use crate::Conn;
use crate::schema::{agents, api_keys};

#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = api_keys, treat_none_as_null = true)]
pub struct ApiKeyRow {
    pub id: String,
    pub org_id: String,
    pub created_by: String,
    pub name: String,
    pub scopes: String,
    pub lookup: String,
    pub secret_hash: String,
    pub previous_lookup: Option<String>,
    pub previous_hash: Option<String>,
    pub previous_expires_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl std::fmt::Debug for ApiKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyRow")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

pub fn insert_key(conn: &mut Conn, row: &ApiKeyRow) -> crate::Result<()> {
    diesel::insert_into(api_keys::table)
        .values(row)
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

pub fn update_key(conn: &mut Conn, row: &ApiKeyRow) -> crate::Result<bool> {
    diesel::update(api_keys::table.find(&row.id))
        .set(row)
        .execute(conn)
        .map(|n| n > 0)
        .map_err(Into::into)
}

pub fn find_key(conn: &mut Conn, id: &str) -> crate::Result<Option<ApiKeyRow>> {
    api_keys::table
        .find(id)
        .select(ApiKeyRow::as_select())
        .first(conn)
        .optional()
        .map_err(Into::into)
}

/// The key whose current or previous secret starts with `lookup`.
pub fn find_key_by_lookup(conn: &mut Conn, lookup: &str) -> crate::Result<Option<ApiKeyRow>> {
    api_keys::table
        .filter(
            api_keys::lookup
                .eq(lookup)
                .or(api_keys::previous_lookup.eq(lookup)),
        )
        .select(ApiKeyRow::as_select())
        .first(conn)
        .optional()
        .map_err(Into::into)
}

pub fn keys_of_org(conn: &mut Conn, org_id: &str) -> crate::Result<Vec<ApiKeyRow>> {
    api_keys::table
        .filter(api_keys::org_id.eq(org_id))
        .select(ApiKeyRow::as_select())
        .order((api_keys::created_at.asc(), api_keys::id.asc()))
        .load(conn)
        .map_err(Into::into)
}

pub fn touch_key(conn: &mut Conn, id: &str, now: i64) -> crate::Result<()> {
    diesel::update(api_keys::table.find(id))
        .set(api_keys::last_used_at.eq(now))
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = agents)]
pub struct AgentRow {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub scopes: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub fn insert_agent(conn: &mut Conn, row: &AgentRow) -> crate::Result<()> {
    diesel::insert_into(agents::table)
        .values(row)
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

pub fn update_agent(conn: &mut Conn, row: &AgentRow) -> crate::Result<bool> {
    diesel::update(agents::table.find(&row.id))
        .set(row)
        .execute(conn)
        .map(|n| n > 0)
        .map_err(Into::into)
}

pub fn find_agent(conn: &mut Conn, id: &str) -> crate::Result<Option<AgentRow>> {
    agents::table
        .find(id)
        .select(AgentRow::as_select())
        .first(conn)
        .optional()
        .map_err(Into::into)
}

pub fn agents_of_org(conn: &mut Conn, org_id: &str) -> crate::Result<Vec<AgentRow>> {
    agents::table
        .filter(agents::org_id.eq(org_id))
        .select(AgentRow::as_select())
        .order((agents::created_at.asc(), agents::id.asc()))
        .load(conn)
        .map_err(Into::into)
}

pub fn delete_agent(conn: &mut Conn, org_id: &str, id: &str) -> crate::Result<bool> {
    diesel::delete(
        agents::table
            .filter(agents::id.eq(id))
            .filter(agents::org_id.eq(org_id)),
    )
    .execute(conn)
    .map(|n| n > 0)
    .map_err(Into::into)
}
