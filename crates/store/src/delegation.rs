//! Agents' OAuth clients and the may_act policy of token exchange.

use diesel::prelude::*;

use crate::Conn;
use crate::schema::{agent_clients, may_act};

/// A client bound to an agent: its tokens act as the agent.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = agent_clients)]
pub struct AgentClientRow {
    pub client_id: String,
    pub agent_id: String,
    pub org_id: String,
    pub created_at: i64,
}

pub fn insert_agent_client(conn: &mut Conn, row: &AgentClientRow) -> crate::Result<()> {
    diesel::insert_into(agent_clients::table)
        .values(row)
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

/// The binding of a client, if it is an agent's.
pub fn find_agent_client(
    conn: &mut Conn,
    client_id: &str,
) -> crate::Result<Option<AgentClientRow>> {
    agent_clients::table
        .find(client_id)
        .select(AgentClientRow::as_select())
        .first(conn)
        .optional()
        .map_err(Into::into)
}

/// The clients of an agent, oldest first.
pub fn clients_of_agent(conn: &mut Conn, agent_id: &str) -> crate::Result<Vec<AgentClientRow>> {
    agent_clients::table
        .filter(agent_clients::agent_id.eq(agent_id))
        .select(AgentClientRow::as_select())
        .order((
            agent_clients::created_at.asc(),
            agent_clients::client_id.asc(),
        ))
        .load(conn)
        .map_err(Into::into)
}

/// Removes one binding; false when there was none.
pub fn delete_agent_client(conn: &mut Conn, client_id: &str) -> crate::Result<bool> {
    diesel::delete(agent_clients::table.find(client_id))
        .execute(conn)
        .map(|n| n > 0)
        .map_err(Into::into)
}

/// One may_act rule: `subject_id` allows `actor_id` to act for it.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = may_act)]
pub struct MayActRow {
    pub subject_id: String,
    pub actor_id: String,
    pub created_at: i64,
}

/// Adds a rule; an existing one is kept as it was.
pub fn allow_actor(conn: &mut Conn, row: &MayActRow) -> crate::Result<()> {
    if may_act_allows(conn, &row.subject_id, &row.actor_id)? {
        return Ok(());
    }
    diesel::insert_into(may_act::table)
        .values(row)
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

pub fn may_act_allows(conn: &mut Conn, subject_id: &str, actor_id: &str) -> crate::Result<bool> {
    may_act::table
        .find((subject_id, actor_id))
        .select(may_act::created_at)
        .first::<i64>(conn)
        .optional()
        .map(|r| r.is_some())
        .map_err(Into::into)
}

/// The actors a subject allows, oldest first.
pub fn actors_of(conn: &mut Conn, subject_id: &str) -> crate::Result<Vec<MayActRow>> {
    may_act::table
        .filter(may_act::subject_id.eq(subject_id))
        .select(MayActRow::as_select())
        .order((may_act::created_at.asc(), may_act::actor_id.asc()))
        .load(conn)
        .map_err(Into::into)
}

/// Withdraws a rule; false when there was none.
pub fn disallow_actor(conn: &mut Conn, subject_id: &str, actor_id: &str) -> crate::Result<bool> {
    diesel::delete(may_act::table.find((subject_id, actor_id)))
        .execute(conn)
        .map(|n| n > 0)
        .map_err(Into::into)
}
