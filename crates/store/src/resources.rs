//! Protected resources: the resource servers an operator registers (RFC 8707, RFC 9728).

use diesel::prelude::*;

use crate::Conn;
use crate::schema::protected_resources;

/// A registered resource server. `scopes` is JSON `[{"name","description"}]`.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = protected_resources)]
#[diesel(treat_none_as_null = true)]
pub struct ResourceRow {
    pub id: String,
    pub uri: String,
    pub name: String,
    pub scopes: String,
    pub access_token_ttl: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Inserts a resource; `Err(Conflict)` when its URI is registered already.
pub fn insert_resource(conn: &mut Conn, row: &ResourceRow) -> crate::Result<()> {
    diesel::insert_into(protected_resources::table)
        .values(row)
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

/// Replaces a resource's fields (found by id); false when it is gone.
pub fn update_resource(conn: &mut Conn, row: &ResourceRow) -> crate::Result<bool> {
    diesel::update(protected_resources::table.find(&row.id))
        .set(row)
        .execute(conn)
        .map(|n| n > 0)
        .map_err(Into::into)
}

pub fn find_resource_by_uri(conn: &mut Conn, uri: &str) -> crate::Result<Option<ResourceRow>> {
    protected_resources::table
        .filter(protected_resources::uri.eq(uri))
        .select(ResourceRow::as_select())
        .first(conn)
        .optional()
        .map_err(Into::into)
}

pub fn find_resource_by_id(conn: &mut Conn, id: &str) -> crate::Result<Option<ResourceRow>> {
    protected_resources::table
        .find(id)
        .select(ResourceRow::as_select())
        .first(conn)
        .optional()
        .map_err(Into::into)
}

/// Every resource, by URI.
pub fn list_resources(conn: &mut Conn) -> crate::Result<Vec<ResourceRow>> {
    protected_resources::table
        .order(protected_resources::uri.asc())
        .select(ResourceRow::as_select())
        .load(conn)
        .map_err(Into::into)
}

/// Removes a resource; false when there was none.
pub fn delete_resource(conn: &mut Conn, id: &str) -> crate::Result<bool> {
    diesel::delete(protected_resources::table.find(id))
        .execute(conn)
        .map(|n| n > 0)
        .map_err(Into::into)
}
