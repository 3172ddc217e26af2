//! Agents: named actors of an organization with `service:resource:action` scopes.

use primitives::random_id;
use store::Conn;
use store::apikeys::{self as rows, AgentRow};

use crate::error::invalid;
use crate::{KeyError, check_agent_scopes};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<AgentRow> for Agent {
    fn from(r: AgentRow) -> Self {
        Self {
            id: r.id,
            org_id: r.org_id,
            name: r.name,
            scopes: r
                .scopes
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

fn check_name(name: &str) -> Result<String, KeyError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(invalid("name", "must be 1 to 100 printable characters"));
    }
    Ok(name.to_owned())
}

pub fn create_agent(
    conn: &mut Conn,
    org_id: &str,
    name: &str,
    scopes: &[String],
    now: i64,
) -> Result<Agent, KeyError> {
    check_agent_scopes(scopes)?;
    let row = AgentRow {
        id: format!("agt_{}", random_id()),
        org_id: org_id.to_owned(),
        name: check_name(name)?,
        scopes: scopes.join(" "),
        created_at: now,
        updated_at: now,
    };
    rows::insert_agent(conn, &row)?;
    Ok(row.into())
}

pub fn list_agents(conn: &mut Conn, org_id: &str) -> Result<Vec<Agent>, KeyError> {
    Ok(rows::agents_of_org(conn, org_id)?
        .into_iter()
        .map(Agent::from)
        .collect())
}

/// The agent, whatever its organization (callers compare `org_id`).
pub fn find_agent(conn: &mut Conn, id: &str) -> Result<Option<Agent>, KeyError> {
    Ok(rows::find_agent(conn, id)?.map(Agent::from))
}

/// The agent `id` of `org_id`, for a caller about to change or delete it: an agent holding
/// `*` is the owners' alone (`OwnersOnly` for anyone else, `by_owner` false).
pub fn agent_to_manage(
    conn: &mut Conn,
    org_id: &str,
    id: &str,
    by_owner: bool,
) -> Result<Agent, KeyError> {
    let agent = find_agent(conn, id)?
        .filter(|a| a.org_id == org_id)
        .ok_or(KeyError::NotFound)?;
    if !by_owner && agent.scopes.iter().any(|s| s == "*") {
        return Err(KeyError::OwnersOnly);
    }
    Ok(agent)
}

pub fn update_agent(
    conn: &mut Conn,
    org_id: &str,
    id: &str,
    name: Option<&str>,
    scopes: Option<&[String]>,
    now: i64,
) -> Result<Agent, KeyError> {
    let mut row = rows::find_agent(conn, id)?
        .filter(|a| a.org_id == org_id)
        .ok_or(KeyError::NotFound)?;
    if let Some(name) = name {
        row.name = check_name(name)?;
    }
    if let Some(scopes) = scopes {
        check_agent_scopes(scopes)?;
        row.scopes = scopes.join(" ");
    }
    row.updated_at = now;
    rows::update_agent(conn, &row)?;
    Ok(row.into())
}

pub fn delete_agent(conn: &mut Conn, org_id: &str, id: &str) -> Result<(), KeyError> {
    if rows::delete_agent(conn, org_id, id)? {
        Ok(())
    } else {
        Err(KeyError::NotFound)
    }
}
