//! Users, sessions, organizations, memberships, invites and refresh-token families.

use diesel::prelude::*;

use crate::Conn;
use crate::schema::{
    invites, memberships, organizations, refresh_access_tokens, refresh_families, refresh_tokens,
    sessions, users,
};

// ---- users ----

#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub email_normalized: String,
    pub name: String,
    pub password_hash: String,
    pub email_verified: bool,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// An operator: reaches the console at `/admin`.
    pub admin: bool,
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("disabled", &self.disabled)
            .field("admin", &self.admin)
            .finish_non_exhaustive()
    }
}

pub fn insert_user(conn: &mut Conn, row: &UserRow) -> crate::Result<()> {
    diesel::insert_into(users::table)
        .values(row)
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

pub fn find_user(conn: &mut Conn, id: &str) -> crate::Result<Option<UserRow>> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()
        .map_err(Into::into)
}

pub fn find_user_by_email(
    conn: &mut Conn,
    email_normalized: &str,
) -> crate::Result<Option<UserRow>> {
    users::table
        .filter(users::email_normalized.eq(email_normalized))
        .select(UserRow::as_select())
        .first(conn)
        .optional()
        .map_err(Into::into)
}

pub fn list_users(conn: &mut Conn) -> crate::Result<Vec<UserRow>> {
    users::table
        .select(UserRow::as_select())
        .order((users::created_at.asc(), users::id.asc()))
        .load(conn)
        .map_err(Into::into)
}

/// A `LIKE` pattern that finds `text` anywhere, with `%`, `_` and `\\` taken literally
/// (escaped with `\\`).
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// One page of users ordered by normalized email: those whose email or name contains
/// `query` (or whose id is `query`), after the email `after`, at most `limit`.
pub fn search_users(
    conn: &mut Conn,
    query: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> crate::Result<Vec<UserRow>> {
    let mut q = users::table.select(UserRow::as_select()).into_boxed();
    if let Some(text) = query.filter(|t| !t.is_empty()) {
        let lower = contains_pattern(&text.to_lowercase());
        let typed = contains_pattern(text);
        q = q.filter(
            users::email_normalized
                .like(lower)
                .escape('\\')
                .or(users::name.like(typed).escape('\\'))
                .or(users::id.eq(text.to_owned())),
        );
    }
    if let Some(after) = after {
        q = q.filter(users::email_normalized.gt(after.to_owned()));
    }
    q.order(users::email_normalized.asc())
        .limit(limit)
        .load(conn)
        .map_err(Into::into)
}

/// Sets or clears a user's `admin` flag; returns whether the user exists.
pub fn set_user_admin(conn: &mut Conn, id: &str, admin: bool, now: i64) -> crate::Result<bool> {
    diesel::update(users::table.find(id))
        .set((users::admin.eq(admin), users::updated_at.eq(now)))
        .execute(conn)
        .map(|n| n > 0)
        .map_err(Into::into)
}

pub fn set_user_disabled(
    conn: &mut Conn,
    id: &str,
    disabled: bool,
    now: i64,
) -> crate::Result<bool> {
    diesel::update(users::table.find(id))
        .set((users::disabled.eq(disabled), users::updated_at.eq(now)))
        .execute(conn)
        .map(|n| n > 0)
        .map_err(Into::into)
}

pub fn set_user_email_verified(conn: &mut Conn, id: &str, now: i64) -> crate::Result<bool> {
    diesel::update(users::table.find(id))
        .set((users::email_verified.eq(true), users::updated_at.eq(now)))
        .execute(conn)
        .map(|n| n > 0)
        .map_err(Into::into)
}

/// Sets a user's email (as typed and normalized) and marks it verified: only a confirmed
/// address is ever written here.
pub fn set_user_email(
    conn: &mut Conn,
    id: &str,
    email: &str,
    email_normalized: &str,
    now: i64,
) -> crate::Result<bool> {
    diesel::update(users::table.find(id))
        .set((
            users::email.eq(email),
            users::email_normalized.eq(email_normalized),
            users::email_verified.eq(true),
            users::updated_at.eq(now),
        ))
        .execute(conn)
        .map(|n| n > 0)
        .map_err(Into::into)
}

pub fn set_user_name(conn: &mut Conn, id: &str, name: &str, now: i64) -> crate::Result<bool> {
    diesel::update(users::table.find(id))
        .set((users::name.eq(name), users::updated_at.eq(now)))
        .execute(conn)
        .map(|n| n > 0)
        .map_err(Into::into)
}

pub fn set_user_password_hash(
    conn: &mut Conn,
    id: &str,
    password_hash: &str,
    now: i64,
) -> crate::Result<bool> {
    diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(password_hash),
            users::updated_at.eq(now),
        ))
        .execute(conn)
        .map(|n| n > 0)
        .map_err(Into::into)
}

/// Deletes a user; sessions, memberships, refresh families, codes, consents and one-time
/// links go with it (foreign keys `ON DELETE CASCADE`).
pub fn delete_user(conn: &mut Conn, id: &str) -> crate::Result<bool> {
    diesel::delete(users::table.find(id))
        .execute(conn)
        .map(|n| n > 0)
        .map_err(Into::into)
}

// ---- sessions ----

#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: String,
    pub secret_hash: String,
    pub user_id: String,
    pub csrf_token: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// How the user authenticated (RFC 8176 values, space-separated).
    pub amr: String,
}

impl std::fmt::Debug for SessionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRow")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

pub fn insert_session(conn: &mut Conn, row: &SessionRow) -> crate::Result<()> {
    diesel::insert_into(sessions::table)
        .values(row)
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

pub fn find_session_by_secret(
    conn: &mut Conn,
    secret_hash: &str,
) -> crate::Result<Option<SessionRow>> {
    sessions::table
        .filter(sessions::secret_hash.eq(secret_hash))
        .select(SessionRow::as_select())
        .first(conn)
        .optional()
        .map_err(Into::into)
}

pub fn touch_session(conn: &mut Conn, id: &str, now: i64) -> crate::Result<()> {
    diesel::update(sessions::table.find(id))
        .set(sessions::last_seen_at.eq(now))
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

pub fn sessions_of_user(conn: &mut Conn, user_id: &str) -> crate::Result<Vec<SessionRow>> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .select(SessionRow::as_select())
        .order((sessions::created_at.desc(), sessions::id.asc()))
        .load(conn)
        .map_err(Into::into)
}

/// Deletes a session if it belongs to `user_id`; returns whether one was deleted. Its clients'
/// back-channel logouts are queued (`backchannel`), in the caller's transaction.
pub fn delete_session(conn: &mut Conn, id: &str, user_id: &str, now: i64) -> crate::Result<bool> {
    let ids: Vec<String> = sessions::table
        .filter(sessions::id.eq(id))
        .filter(sessions::user_id.eq(user_id))
        .select(sessions::id)
        .load(conn)?;
    end_sessions(conn, user_id, &ids, now).map(|n| n > 0)
}

/// Deletes every session of a user, queuing their back-channel logouts.
pub fn delete_sessions_of_user(conn: &mut Conn, user_id: &str, now: i64) -> crate::Result<usize> {
    let ids: Vec<String> = sessions::table
        .filter(sessions::user_id.eq(user_id))
        .select(sessions::id)
        .load(conn)?;
    end_sessions(conn, user_id, &ids, now)
}

/// Deletes a user's sessions except `keep` (the one making the change), queuing their
/// back-channel logouts.
pub fn delete_other_sessions_of_user(
    conn: &mut Conn,
    user_id: &str,
    keep: &str,
    now: i64,
) -> crate::Result<usize> {
    let ids: Vec<String> = sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::id.ne(keep))
        .select(sessions::id)
        .load(conn)?;
    end_sessions(conn, user_id, &ids, now)
}

/// The one way sessions end: their clients' logouts queued, then the rows deleted.
fn end_sessions(conn: &mut Conn, user_id: &str, ids: &[String], now: i64) -> crate::Result<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    crate::backchannel::queue_for_sessions(conn, user_id, ids, now)?;
    diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::id.eq_any(ids)),
    )
    .execute(conn)
    .map_err(Into::into)
}

// ---- organizations and memberships ----

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = organizations)]
pub struct OrgRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// Every member must sign in with a second factor.
    pub require_mfa: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = memberships)]
pub struct MembershipRow {
    pub org_id: String,
    pub user_id: String,
    pub role: String,
    pub created_at: i64,
}

pub fn insert_org(conn: &mut Conn, row: &OrgRow) -> crate::Result<()> {
    diesel::insert_into(organizations::table)
        .values(row)
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

pub fn find_org(conn: &mut Conn, id: &str) -> crate::Result<Option<OrgRow>> {
    organizations::table
        .find(id)
        .select(OrgRow::as_select())
        .first(conn)
        .optional()
        .map_err(Into::into)
}

/// One page of organizations ordered by id: those whose name contains `query` (or whose id
/// is `query`), after the id `after`, at most `limit`.
pub fn search_orgs(
    conn: &mut Conn,
    query: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> crate::Result<Vec<OrgRow>> {
    let mut q = organizations::table
        .select(OrgRow::as_select())
        .into_boxed();
    if let Some(text) = query.filter(|t| !t.is_empty()) {
        q = q.filter(
            organizations::name
                .like(contains_pattern(text))
                .escape('\\')
                .or(organizations::id.eq(text.to_owned())),
        );
    }
    if let Some(after) = after {
        q = q.filter(organizations::id.gt(after.to_owned()));
    }
    q.order(organizations::id.asc())
        .limit(limit)
        .load(conn)
        .map_err(Into::into)
}

pub fn insert_membership(conn: &mut Conn, row: &MembershipRow) -> crate::Result<()> {
    diesel::insert_into(memberships::table)
        .values(row)
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

pub fn find_membership(
    conn: &mut Conn,
    org_id: &str,
    user_id: &str,
) -> crate::Result<Option<MembershipRow>> {
    memberships::table
        .find((org_id, user_id))
        .select(MembershipRow::as_select())
        .first(conn)
        .optional()
        .map_err(Into::into)
}

/// Every organization with its number of members, oldest first (for operators).
pub fn list_orgs(conn: &mut Conn) -> crate::Result<Vec<(OrgRow, i64)>> {
    let orgs: Vec<OrgRow> = organizations::table
        .select(OrgRow::as_select())
        .order((organizations::created_at.asc(), organizations::id.asc()))
        .load(conn)?;
    let counts: std::collections::HashMap<String, i64> = memberships::table
        .group_by(memberships::org_id)
        .select((memberships::org_id, diesel::dsl::count_star()))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    Ok(orgs
        .into_iter()
        .map(|o| {
            let n = counts.get(&o.id).copied().unwrap_or(0);
            (o, n)
        })
        .collect())
}

/// Every membership, by user then organization (for operators listing users).
pub fn all_memberships(conn: &mut Conn) -> crate::Result<Vec<MembershipRow>> {
    memberships::table
        .select(MembershipRow::as_select())
        .order((
            memberships::user_id.asc(),
            memberships::created_at.asc(),
            memberships::org_id.asc(),
        ))
        .load(conn)
        .map_err(Into::into)
}

/// The organizations a user belongs to, with the user's role, oldest first.
pub fn orgs_of_user(conn: &mut Conn, user_id: &str) -> crate::Result<Vec<(OrgRow, String)>> {
    memberships::table
        .inner_join(organizations::table)
        .filter(memberships::user_id.eq(user_id))
        .select((OrgRow::as_select(), memberships::role))
        .order((organizations::created_at.asc(), organizations::id.asc()))
        .load(conn)
        .map_err(Into::into)
}

/// Members of an organization with their user rows, oldest membership first.
pub fn members_of_org(
    conn: &mut Conn,
    org_id: &str,
) -> crate::Result<Vec<(MembershipRow, UserRow)>> {
    memberships::table
        .inner_join(users::table)
        .filter(memberships::org_id.eq(org_id))
        .select((MembershipRow::as_select(), UserRow::as_select()))
        .order((memberships::created_at.asc(), memberships::user_id.asc()))
        .load(conn)
        .map_err(Into::into)
}

pub fn count_owners(conn: &mut Conn, org_id: &str) -> crate::Result<i64> {
    memberships::table
        .filter(memberships::org_id.eq(org_id))
        .filter(memberships::role.eq("owner"))
        .count()
        .get_result(conn)
        .map_err(Into::into)
}

pub fn count_members(conn: &mut Conn, org_id: &str) -> crate::Result<i64> {
    memberships::table
        .filter(memberships::org_id.eq(org_id))
        .count()
        .get_result(conn)
        .map_err(Into::into)
}

/// Deletes an organization; its memberships, invites, API keys, agents and gateway services go
/// with it (foreign keys `ON DELETE CASCADE`).
pub fn delete_org(conn: &mut Conn, id: &str) -> crate::Result<bool> {
    diesel::delete(organizations::table.find(id))
        .execute(conn)
        .map(|n| n > 0)
        .map_err(Into::into)
}

pub fn set_role(conn: &mut Conn, org_id: &str, user_id: &str, role: &str) -> crate::Result<bool> {
    diesel::update(memberships::table.find((org_id, user_id)))
        .set(memberships::role.eq(role))
        .execute(conn)
        .map(|n| n > 0)
        .map_err(Into::into)
}

pub fn delete_membership(conn: &mut Conn, org_id: &str, user_id: &str) -> crate::Result<bool> {
    diesel::delete(memberships::table.find((org_id, user_id)))
        .execute(conn)
        .map(|n| n > 0)
        .map_err(Into::into)
}

// ---- invites ----

#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = invites)]
pub struct InviteRow {
    pub id: String,
    pub org_id: String,
    pub email_normalized: String,
    pub role: String,
    pub token_hash: String,
    pub invited_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
}

impl std::fmt::Debug for InviteRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InviteRow")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

pub fn insert_invite(conn: &mut Conn, row: &InviteRow) -> crate::Result<()> {
    diesel::insert_into(invites::table)
        .values(row)
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

pub fn find_invite(conn: &mut Conn, id: &str) -> crate::Result<Option<InviteRow>> {
    invites::table
        .find(id)
        .select(InviteRow::as_select())
        .first(conn)
        .optional()
        .map_err(Into::into)
}

/// An organization's invites, newest first, at most `limit`.
pub fn invites_of_org(conn: &mut Conn, org_id: &str, limit: i64) -> crate::Result<Vec<InviteRow>> {
    invites::table
        .filter(invites::org_id.eq(org_id))
        .select(InviteRow::as_select())
        .order((invites::created_at.desc(), invites::id.desc()))
        .limit(limit)
        .load(conn)
        .map_err(Into::into)
}

/// Deletes an organization's invite that was not accepted; returns whether there was one.
pub fn delete_open_invite(conn: &mut Conn, org_id: &str, id: &str) -> crate::Result<bool> {
    diesel::delete(
        invites::table
            .filter(invites::id.eq(id))
            .filter(invites::org_id.eq(org_id))
            .filter(invites::accepted_at.is_null()),
    )
    .execute(conn)
    .map(|n| n > 0)
    .map_err(Into::into)
}

/// Marks an invite accepted; false if it was accepted already (so two accepts cannot both win).
pub fn mark_invite_accepted(conn: &mut Conn, id: &str, now: i64) -> crate::Result<bool> {
    diesel::update(
        invites::table
            .find(id)
            .filter(invites::accepted_at.is_null()),
    )
    .set(invites::accepted_at.eq(now))
    .execute(conn)
    .map(|n| n == 1)
    .map_err(Into::into)
}

// ---- refresh-token families ----

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_families)]
pub struct FamilyRow {
    pub id: String,
    pub user_id: String,
    pub client_id: String,
    pub scope: Option<String>,
    pub auth_time: i64,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub revoked_reason: Option<String>,
    /// JSON array of the RFC 8707 resources granted, or NULL.
    pub resources: Option<String>,
    /// How the user authenticated for the sign-in the family continues (RFC 8176).
    pub amr: String,
    /// The RFC 7638 thumbprint of the DPoP key a public client's family is bound to.
    pub dpop_jkt: Option<String>,
}

#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshTokenRow {
    pub token_hash: String,
    pub family_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub access_jti: String,
    pub access_exp: i64,
    /// Once used: the successor, sealed for the holder of this token (see `accounts`).
    pub successor: Option<String>,
}

impl std::fmt::Debug for RefreshTokenRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshTokenRow")
            .field("family_id", &self.family_id)
            .field("expires_at", &self.expires_at)
            .field("used_at", &self.used_at)
            .finish_non_exhaustive()
    }
}

pub fn insert_family(conn: &mut Conn, row: &FamilyRow) -> crate::Result<()> {
    diesel::insert_into(refresh_families::table)
        .values(row)
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

pub fn insert_refresh_token(conn: &mut Conn, row: &RefreshTokenRow) -> crate::Result<()> {
    diesel::insert_into(refresh_tokens::table)
        .values(row)
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

/// A refresh token and its family.
pub fn find_refresh_token(
    conn: &mut Conn,
    token_hash: &str,
) -> crate::Result<Option<(RefreshTokenRow, FamilyRow)>> {
    refresh_tokens::table
        .inner_join(refresh_families::table)
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select((RefreshTokenRow::as_select(), FamilyRow::as_select()))
        .first(conn)
        .optional()
        .map_err(Into::into)
}

/// Marks a refresh token used and records its sealed successor; true only for the one caller
/// that found it unused.
pub fn mark_refresh_token_used(
    conn: &mut Conn,
    token_hash: &str,
    now: i64,
    successor: Option<&str>,
) -> crate::Result<bool> {
    diesel::update(
        refresh_tokens::table
            .find(token_hash)
            .filter(refresh_tokens::used_at.is_null()),
    )
    .set((
        refresh_tokens::used_at.eq(now),
        refresh_tokens::successor.eq(successor),
    ))
    .execute(conn)
    .map(|n| n == 1)
    .map_err(Into::into)
}

/// Revokes a family (first reason wins); returns whether it was live.
pub fn revoke_family(
    conn: &mut Conn,
    family_id: &str,
    reason: &str,
    now: i64,
) -> crate::Result<bool> {
    diesel::update(
        refresh_families::table
            .find(family_id)
            .filter(refresh_families::revoked_at.is_null()),
    )
    .set((
        refresh_families::revoked_at.eq(now),
        refresh_families::revoked_reason.eq(reason),
    ))
    .execute(conn)
    .map(|n| n > 0)
    .map_err(Into::into)
}

pub fn find_family(conn: &mut Conn, family_id: &str) -> crate::Result<Option<FamilyRow>> {
    refresh_families::table
        .find(family_id)
        .select(FamilyRow::as_select())
        .first(conn)
        .optional()
        .map_err(Into::into)
}

/// Records an access token issued from a family that no refresh-token row records (a retry
/// within the grace period answered with the existing successor).
pub fn insert_family_access_token(
    conn: &mut Conn,
    family_id: &str,
    jti: &str,
    exp: i64,
) -> crate::Result<()> {
    diesel::insert_into(refresh_access_tokens::table)
        .values((
            refresh_access_tokens::jti.eq(jti),
            refresh_access_tokens::family_id.eq(family_id),
            refresh_access_tokens::exp.eq(exp),
        ))
        .execute(conn)
        .map(drop)
        .map_err(Into::into)
}

/// The access tokens issued with a family's refresh tokens (and its grace-period retries) that
/// have not expired at `now`: (jti, exp).
pub fn live_access_tokens_of_family(
    conn: &mut Conn,
    family_id: &str,
    now: i64,
) -> crate::Result<Vec<(String, i64)>> {
    let mut live: Vec<(String, i64)> = refresh_tokens::table
        .filter(refresh_tokens::family_id.eq(family_id))
        .filter(refresh_tokens::access_exp.gt(now))
        .select((refresh_tokens::access_jti, refresh_tokens::access_exp))
        .load(conn)?;
    live.extend(
        refresh_access_tokens::table
            .filter(refresh_access_tokens::family_id.eq(family_id))
            .filter(refresh_access_tokens::exp.gt(now))
            .select((refresh_access_tokens::jti, refresh_access_tokens::exp))
            .load::<(String, i64)>(conn)?,
    );
    Ok(live)
}

/// Sets whether an organization requires a second factor of its members.
pub fn set_org_require_mfa(
    conn: &mut Conn,
    org_id: &str,
    require: bool,
    now: i64,
) -> crate::Result<bool> {
    diesel::update(organizations::table.find(org_id))
        .set((
            organizations::require_mfa.eq(require),
            organizations::updated_at.eq(now),
        ))
        .execute(conn)
        .map(|n| n == 1)
        .map_err(Into::into)
}

/// Whether any organization the user belongs to requires a second factor.
pub fn member_of_org_requiring_mfa(conn: &mut Conn, user_id: &str) -> crate::Result<bool> {
    use diesel::dsl::exists;
    diesel::select(exists(
        memberships::table
            .inner_join(organizations::table)
            .filter(memberships::user_id.eq(user_id))
            .filter(organizations::require_mfa.eq(true)),
    ))
    .get_result(conn)
    .map_err(Into::into)
}
