//! Organizations, memberships and invites.

use primitives::{PlainSecret, SecretHash, random_id};
use store::Conn;
use store::accounts::{self as rows, InviteRow, MembershipRow, OrgRow};

use crate::users::{insert_prepared, normalize_email, prepare_user, validate_name};
use crate::{AccountError, NewUser, PasswordHasher, SignupPolicy, User};

/// A member's role. Owners and admins manage members, invites and keys; only owners make
/// owners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Owner, Self::Admin, Self::Member]
            .into_iter()
            .find(|r| r.as_str() == s)
    }

    pub fn can_manage(self) -> bool {
        self >= Self::Admin
    }

    fn from_stored(s: &str) -> Self {
        // Only `owner`, `admin` and `member` are ever written; anything else is least privilege.
        Self::parse(s).unwrap_or(Self::Member)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    /// Every member must sign in with a second factor.
    pub require_mfa: bool,
}

impl From<OrgRow> for Org {
    fn from(r: OrgRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            created_at: r.created_at,
            require_mfa: r.require_mfa,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub joined_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub id: String,
    pub org_id: String,
    pub email: String,
    pub role: Role,
    pub invited_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
}

impl From<InviteRow> for Invite {
    fn from(r: InviteRow) -> Self {
        Self {
            id: r.id,
            org_id: r.org_id,
            email: r.email_normalized,
            role: Role::from_stored(&r.role),
            invited_by: r.invited_by,
            created_at: r.created_at,
            expires_at: r.expires_at,
            accepted_at: r.accepted_at,
        }
    }
}

pub(crate) fn new_org_row(name: &str, now: i64) -> Result<OrgRow, AccountError> {
    Ok(OrgRow {
        id: format!("org_{}", random_id()),
        name: validate_name(name, "organization")?,
        created_at: now,
        updated_at: now,
        require_mfa: false,
    })
}

pub(crate) fn owner(org_id: &str, user_id: &str, now: i64) -> MembershipRow {
    MembershipRow {
        org_id: org_id.to_owned(),
        user_id: user_id.to_owned(),
        role: Role::Owner.as_str().to_owned(),
        created_at: now,
    }
}

/// Sign-up: the user, an organization (named `org_name`, or after the user) and the user's
/// owner membership, in one transaction: a failure half way leaves nothing.
pub fn signup(
    conn: &mut Conn,
    policy: &SignupPolicy,
    new: &NewUser<'_>,
    org_name: Option<&str>,
    hasher: &PasswordHasher,
    now: i64,
) -> Result<(User, Org), AccountError> {
    policy.admits(new.email)?;
    let user = prepare_user(new, hasher, now)?;
    let org = new_org_row(
        org_name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or(&user.name),
        now,
    )?;
    store::transaction(conn, |conn| {
        if rows::find_user_by_email(conn, &user.email_normalized)?.is_some() {
            return Err(AccountError::EmailTaken);
        }
        insert_prepared(conn, &user)?;
        rows::insert_org(conn, &org)?;
        rows::insert_membership(conn, &owner(&org.id, &user.id, now))?;
        Ok(())
    })?;
    Ok((user.into(), org.into()))
}

/// A new organization owned by `user_id`.
pub fn create_org(
    conn: &mut Conn,
    user_id: &str,
    name: &str,
    now: i64,
) -> Result<Org, AccountError> {
    let org = new_org_row(name, now)?;
    store::transaction(conn, |conn| {
        rows::insert_org(conn, &org)?;
        rows::insert_membership(conn, &owner(&org.id, user_id, now))?;
        Ok::<_, AccountError>(())
    })?;
    Ok(org.into())
}

pub fn find_org(conn: &mut Conn, org_id: &str) -> Result<Option<Org>, AccountError> {
    Ok(rows::find_org(conn, org_id)?.map(Org::from))
}

/// Every organization with its number of members, oldest first (for operators).
pub fn list_orgs(conn: &mut Conn) -> Result<Vec<(Org, i64)>, AccountError> {
    Ok(rows::list_orgs(conn)?
        .into_iter()
        .map(|(o, n)| (o.into(), n))
        .collect())
}

/// The ids of the organizations of every user that belongs to one, oldest membership first
/// (for operators listing users, in one query instead of one per user).
pub fn org_ids_by_user(
    conn: &mut Conn,
) -> Result<std::collections::HashMap<String, Vec<String>>, AccountError> {
    let mut out: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for m in rows::all_memberships(conn)? {
        out.entry(m.user_id).or_default().push(m.org_id);
    }
    Ok(out)
}

pub fn orgs_of(conn: &mut Conn, user_id: &str) -> Result<Vec<(Org, Role)>, AccountError> {
    Ok(rows::orgs_of_user(conn, user_id)?
        .into_iter()
        .map(|(o, r)| (o.into(), Role::from_stored(&r)))
        .collect())
}

/// The organization and the user's role in it. An organization the user does not belong to,
/// and one that does not exist, are both `Forbidden`: ids are not confirmed to outsiders.
pub fn membership(
    conn: &mut Conn,
    org_id: &str,
    user_id: &str,
) -> Result<(Org, Role), AccountError> {
    let m = rows::find_membership(conn, org_id, user_id)?.ok_or(AccountError::Forbidden)?;
    let org = rows::find_org(conn, org_id)?.ok_or(AccountError::Forbidden)?;
    Ok((org.into(), Role::from_stored(&m.role)))
}

/// Sets whether the organization requires its members to sign in with a second factor:
/// owners only.
pub fn set_require_mfa(
    conn: &mut Conn,
    org_id: &str,
    actor_id: &str,
    require: bool,
    now: i64,
) -> Result<Org, AccountError> {
    let (_, role) = membership(conn, org_id, actor_id)?;
    if role != Role::Owner {
        return Err(AccountError::Forbidden);
    }
    rows::set_org_require_mfa(conn, org_id, require, now)?;
    let org = rows::find_org(conn, org_id)?.ok_or(AccountError::NotFound)?;
    Ok(org.into())
}

pub fn members(conn: &mut Conn, org_id: &str) -> Result<Vec<Member>, AccountError> {
    Ok(rows::members_of_org(conn, org_id)?
        .into_iter()
        .map(|(m, u)| Member {
            user_id: u.id,
            email: u.email,
            name: u.name,
            role: Role::from_stored(&m.role),
            joined_at: m.created_at,
        })
        .collect())
}

/// Changes a member's role. Owners and admins may; only an owner touches an owner or makes
/// one; the last owner cannot be demoted.
pub fn change_role(
    conn: &mut Conn,
    org_id: &str,
    actor: &str,
    target: &str,
    role: Role,
) -> Result<(), AccountError> {
    store::transaction(conn, |conn| {
        let (_, actor_role) = membership(conn, org_id, actor)?;
        let current = rows::find_membership(conn, org_id, target)?.ok_or(AccountError::NotFound)?;
        let current = Role::from_stored(&current.role);
        if !actor_role.can_manage()
            || (actor_role != Role::Owner && (current == Role::Owner || role == Role::Owner))
        {
            return Err(AccountError::Forbidden);
        }
        if current == Role::Owner && role != Role::Owner && rows::count_owners(conn, org_id)? <= 1 {
            return Err(AccountError::LastOwner);
        }
        rows::set_role(conn, org_id, target, role.as_str())?;
        Ok(())
    })
}

/// Removes a member: anyone may leave; owners and admins may remove others (only owners
/// remove owners); the last owner cannot leave or be removed.
pub fn remove_member(
    conn: &mut Conn,
    org_id: &str,
    actor: &str,
    target: &str,
) -> Result<(), AccountError> {
    store::transaction(conn, |conn| {
        let (_, actor_role) = membership(conn, org_id, actor)?;
        let current = rows::find_membership(conn, org_id, target)?.ok_or(AccountError::NotFound)?;
        let current = Role::from_stored(&current.role);
        if actor != target
            && (!actor_role.can_manage() || (current == Role::Owner && actor_role != Role::Owner))
        {
            return Err(AccountError::Forbidden);
        }
        if current == Role::Owner && rows::count_owners(conn, org_id)? <= 1 {
            return Err(AccountError::LastOwner);
        }
        rows::delete_membership(conn, org_id, target)?;
        Ok(())
    })
}

/// Invites `email` to join with `role`. Returns the invite and its token (shown once).
pub fn create_invite(
    conn: &mut Conn,
    org_id: &str,
    actor: &str,
    email: &str,
    role: Role,
    now: i64,
    ttl: i64,
) -> Result<(Invite, PlainSecret), AccountError> {
    let (_, actor_role) = membership(conn, org_id, actor)?;
    if !actor_role.can_manage() || (role == Role::Owner && actor_role != Role::Owner) {
        return Err(AccountError::Forbidden);
    }
    let (_, email_normalized) = normalize_email(email)?;
    let token = PlainSecret::generate();
    let row = InviteRow {
        id: format!("inv_{}", random_id()),
        org_id: org_id.to_owned(),
        email_normalized,
        role: role.as_str().to_owned(),
        token_hash: token.hash().as_str().to_owned(),
        invited_by: actor.to_owned(),
        created_at: now,
        expires_at: now + ttl,
        accepted_at: None,
    };
    rows::insert_invite(conn, &row)?;
    Ok((row.into(), token))
}

pub fn find_invite(conn: &mut Conn, id: &str) -> Result<Option<Invite>, AccountError> {
    Ok(rows::find_invite(conn, id)?.map(Invite::from))
}

/// An invite, if `token` is its token and it can still be accepted, with its organization
/// (the invite page shows them before anything is accepted). A wrong token is `NotFound`, like
/// a missing invite.
pub fn check_invite(
    conn: &mut Conn,
    invite_id: &str,
    token: &str,
    now: i64,
) -> Result<(Invite, Org), AccountError> {
    let row = rows::find_invite(conn, invite_id)?.ok_or(AccountError::NotFound)?;
    if !SecretHash::from_stored(row.token_hash.clone()).matches(token) {
        return Err(AccountError::NotFound);
    }
    if row.accepted_at.is_some() {
        return Err(AccountError::InviteUsed);
    }
    if now >= row.expires_at {
        return Err(AccountError::InviteExpired);
    }
    let org = rows::find_org(conn, &row.org_id)?.ok_or(AccountError::NotFound)?;
    Ok((row.into(), org.into()))
}

/// Who accepts an invite: a signed-in user, or a new account made on the spot.
#[derive(Clone)]
pub enum Acceptor<'a> {
    Existing { user_id: &'a str },
    NewAccount { name: &'a str, password: &'a str },
}

impl std::fmt::Debug for Acceptor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Existing { user_id } => write!(f, "Existing({user_id})"),
            Self::NewAccount { name, .. } => write!(f, "NewAccount({name}, <password>)"),
        }
    }
}

/// Accepts an invite with its token. A wrong token is `NotFound`, like a missing invite.
pub fn accept_invite(
    conn: &mut Conn,
    invite_id: &str,
    token: &str,
    acceptor: Acceptor<'_>,
    hasher: &PasswordHasher,
    now: i64,
) -> Result<(User, Org, Role), AccountError> {
    let (invite, _) = check_invite(conn, invite_id, token, now)?;
    let row = rows::find_invite(conn, &invite.id)?.ok_or(AccountError::NotFound)?;
    let role = Role::from_stored(&row.role);
    let prepared = match acceptor {
        Acceptor::Existing { .. } => None,
        Acceptor::NewAccount { name, password } => Some(prepare_user(
            &NewUser {
                email: &row.email_normalized,
                name,
                password,
            },
            hasher,
            now,
        )?),
    };
    let user = store::transaction(conn, |conn| {
        let user = match (&acceptor, &prepared) {
            (Acceptor::Existing { user_id }, _) => {
                let user = rows::find_user(conn, user_id)?.ok_or(AccountError::Forbidden)?;
                if user.email_normalized != row.email_normalized {
                    return Err(AccountError::Forbidden);
                }
                user
            }
            (Acceptor::NewAccount { .. }, Some(user)) => {
                if rows::find_user_by_email(conn, &user.email_normalized)?.is_some() {
                    return Err(AccountError::EmailTaken);
                }
                insert_prepared(conn, user)?;
                user.clone()
            }
            (Acceptor::NewAccount { .. }, None) => return Err(AccountError::NotFound),
        };
        if !rows::mark_invite_accepted(conn, &row.id, now)? {
            return Err(AccountError::InviteUsed);
        }
        if rows::find_membership(conn, &row.org_id, &user.id)?.is_none() {
            rows::insert_membership(
                conn,
                &MembershipRow {
                    org_id: row.org_id.clone(),
                    user_id: user.id.clone(),
                    role: role.as_str().to_owned(),
                    created_at: now,
                },
            )?;
        }
        Ok(user)
    })?;
    let org = rows::find_org(conn, &row.org_id)?.ok_or(AccountError::NotFound)?;
    Ok((user.into(), org.into(), role))
}

/// One page of organizations ordered by id: those whose name contains `query` (or whose id it
/// is), after the id `after`, at most `limit` (1 to [`crate::users::MAX_PAGE`]).
pub fn search_orgs(
    conn: &mut Conn,
    query: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Org>, AccountError> {
    if query.is_some_and(|q| q.contains('\0')) || after.is_some_and(|a| a.contains('\0')) {
        return Ok(Vec::new());
    }
    let limit = limit.clamp(1, crate::users::MAX_PAGE);
    Ok(store::accounts::search_orgs(conn, query, after, limit)?
        .into_iter()
        .map(Org::from)
        .collect())
}

/// An organization's invites, newest first, at most `limit`.
pub fn invites_of(conn: &mut Conn, org_id: &str, limit: i64) -> Result<Vec<Invite>, AccountError> {
    Ok(store::accounts::invites_of_org(conn, org_id, limit.max(1))?
        .into_iter()
        .map(Invite::from)
        .collect())
}

/// Withdraws an invite of `org_id` not yet accepted: its link no longer works.
pub fn revoke_invite(conn: &mut Conn, org_id: &str, invite_id: &str) -> Result<(), AccountError> {
    if store::accounts::delete_open_invite(conn, org_id, invite_id)? {
        Ok(())
    } else {
        Err(AccountError::NotFound)
    }
}
