//! The server side of the account flows of `accounts`: mailed links (address verification and
//! change, password reset), the own-account changes, and account deletion. Each composes the
//! `accounts` decision with what else must happen in the same transaction (refresh families
//! revoked, sessions ended), then writes the audit row and hands mail to the background sender
//! after the transaction has committed. The routes (`routes/api_account.rs`,
//! `routes/account_pages.rs`) are thin over these.
//!
//! The flows are blocking: call them inside `web::block` ([`blocking`] does), or after the
//! answer ([`after_answer`]).

use accounts::{AccountError, LinkPurpose, MailLink, User};
use actix_web::web;
use serde_json::json;
use store::Conn;

use crate::audit::Event;
use crate::state::AppState;

/// Runs an account flow in the blocking pool: `Err` when the pool or the store could not be
/// reached, else the flow's own outcome.
pub(crate) async fn blocking<T: Send + 'static>(
    state: &web::Data<AppState>,
    work: impl FnOnce(&AppState, &mut Conn) -> Result<T, AccountError> + Send + 'static,
) -> Result<Result<T, AccountError>, crate::errors::PageError> {
    use crate::errors::PageError;
    let st = state.clone();
    crate::traces::block("account_flow", move || {
        let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
        Ok::<_, PageError>(work(&st, &mut conn))
    })
    .await
    .map_err(|e| PageError::internal(&e))?
}

/// Runs account mail work after the answer has gone, so that neither the answer nor its time
/// says whether there was an account (the enumeration-proof requests). Failures are logged.
pub(crate) fn after_answer(
    state: web::Data<AppState>,
    work: impl FnOnce(&AppState, &mut Conn) + Send + 'static,
) {
    actix_web::rt::spawn(async move {
        let done = crate::traces::block("account_mail", move || match state.store.conn() {
            Ok(mut conn) => work(&state, &mut conn),
            Err(e) => tracing::warn!(error = %e, "account mail work skipped: no connection"),
        })
        .await;
        if let Err(e) = done {
            tracing::warn!(error = %e, "account mail work failed");
        }
    });
}

/// Where a mailed link leads: the page that uses it, on this server.
fn link_url(state: &AppState, link: &MailLink) -> String {
    let page = match link.purpose {
        LinkPurpose::VerifyEmail | LinkPurpose::ChangeEmail => "/verify-email",
        LinkPurpose::ResetPassword => "/password/reset",
    };
    format!(
        "{}{page}?token={}",
        state.settings.issuer_str(),
        link.token.expose()
    )
}

/// Hands a link to the mail sender (after the transaction that made it committed).
pub(crate) fn mail_link(state: &AppState, link: &MailLink) {
    let brand = &state.settings.brand_name;
    let url = link_url(state, link);
    let lifetime = link.purpose.lifetime();
    let letter = match link.purpose {
        LinkPurpose::VerifyEmail => {
            mail::Letter::verify_email(brand, &link.to, &link.user.name, &url, lifetime / 3600)
        }
        LinkPurpose::ChangeEmail => {
            mail::Letter::change_email(brand, &link.to, &link.user.name, &url, lifetime / 3600)
        }
        LinkPurpose::ResetPassword => {
            mail::Letter::password_reset(brand, &link.to, &link.user.name, &url, lifetime / 60)
        }
    };
    state.send_mail(letter);
}

/// The page that accepts an invite, with its token.
pub(crate) fn invite_url(state: &AppState, invite_id: &str, token: &str) -> String {
    format!(
        "{}/invites/{invite_id}?token={token}",
        state.settings.issuer_str()
    )
}

/// Mails an invite to the address it is for (after the transaction that made it). The
/// inviter's name and the organization's are what the letter says; a failure to read them is
/// logged and the letter goes with the ids instead.
pub(crate) fn mail_invite(
    state: &AppState,
    conn: &mut Conn,
    invite: &accounts::Invite,
    token: &str,
) {
    let inviter = match accounts::find_user(conn, &invite.invited_by) {
        Ok(Some(user)) => user.name,
        _ => "A member".to_owned(),
    };
    let org = match accounts::find_org(conn, &invite.org_id) {
        Ok(Some(org)) => org.name,
        _ => invite.org_id.clone(),
    };
    let invitation = mail::Invitation {
        inviter: &inviter,
        org: &org,
        role: invite.role.as_str(),
        valid_days: ((invite.expires_at - invite.created_at) / 86_400).max(1),
    };
    state.send_mail(mail::Letter::invite(
        &state.settings.brand_name,
        &invite.email,
        &invitation,
        &invite_url(state, &invite.id, token),
    ));
}

/// Accepts an invite, by a signed-in user or by a new account made on the spot, and writes the
/// audit row; a new account gets the verification link, as at sign-up.
pub(crate) fn accept_invite(
    state: &AppState,
    conn: &mut Conn,
    invite_id: &str,
    token: &str,
    acceptor: accounts::Acceptor<'_>,
    ip: Option<&str>,
) -> Result<(User, accounts::Org, accounts::Role), AccountError> {
    let now = state.now();
    let new_account = matches!(acceptor, accounts::Acceptor::NewAccount { .. });
    let (user, org, role) =
        accounts::accept_invite(conn, invite_id, token, acceptor, &state.hasher, now)?;
    crate::audit::record(
        conn,
        now,
        Event::new("invite.accepted")
            .actor(Some(&user.id))
            .ip(ip)
            .org(&org.id)
            .detail(json!({ "invite_id": invite_id, "role": role.as_str(), "new_account": new_account })),
    );
    if new_account {
        signed_up(state, conn, &user);
    }
    Ok((user, org, role))
}

/// After sign-up: a verification link to the new address. A mail limit cannot be reached by
/// a new account; any other failure is logged and the sign-up stands ("send again" works).
pub(crate) fn signed_up(state: &AppState, conn: &mut Conn, user: &User) {
    match accounts::issue_email_verification(conn, &user.id, state.now()) {
        Ok(link) => mail_link(state, &link),
        Err(e) => {
            tracing::warn!(user = %user.id, error = %e, "no verification link made at sign-up")
        }
    }
}

/// "Send the link again" for a signed-in user: `TooSoon`, `AlreadyVerified` as they are.
pub(crate) fn resend_verification(
    state: &AppState,
    conn: &mut Conn,
    user_id: &str,
) -> Result<(), AccountError> {
    let link = accounts::issue_email_verification(conn, user_id, state.now())?;
    mail_link(state, &link);
    Ok(())
}

/// "Send the link again" for someone who cannot sign in yet (an unverified address when
/// verification is required): by email, answered the same whether or not there is such an
/// account, so nothing is learnt from it.
pub(crate) fn resend_verification_to(state: &AppState, conn: &mut Conn, email: &str) {
    let user = match accounts::find_user_by_email(conn, email) {
        Ok(Some(user)) if !user.email_verified && !user.disabled => user,
        Ok(_) | Err(AccountError::Invalid { .. }) => return,
        Err(e) => {
            tracing::warn!(error = %e, "verification resend failed");
            return;
        }
    };
    match accounts::issue_email_verification(conn, &user.id, state.now()) {
        Ok(link) => mail_link(state, &link),
        Err(AccountError::TooSoon { .. } | AccountError::AlreadyVerified) => {}
        Err(e) => tracing::warn!(error = %e, "verification resend failed"),
    }
}

/// "I forgot my password": a reset link if there is such an account. The caller answers the
/// same whatever happens here; failures are logged.
pub(crate) fn forgot_password(state: &AppState, conn: &mut Conn, email: &str, ip: Option<&str>) {
    let now = state.now();
    match accounts::request_password_reset(conn, email, now) {
        Ok(Some(link)) => {
            crate::audit::record(
                conn,
                now,
                Event::new("password_reset_requested")
                    .actor(Some(&link.user.id))
                    .ip(ip),
            );
            mail_link(state, &link);
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "password reset request failed"),
    }
}

/// Follows a reset link: the new password, and every session and refresh family of the user
/// ended, in one transaction; then the audit row and a notice to the address.
pub(crate) fn reset_password(
    state: &AppState,
    conn: &mut Conn,
    token: &str,
    password: &str,
    ip: Option<&str>,
) -> Result<User, AccountError> {
    let now = state.now();
    // Cheap checks first: a dead link or a short password costs no hashing.
    accounts::check_reset_link(conn, token, now)?;
    let password = accounts::NewPassword::hash(password, &state.hasher)?;
    let user = store::transaction(conn, |conn| {
        let user = accounts::reset_password(conn, token, &password, now)?;
        grants::family::revoke_user_families(conn, &user.id, "password_reset", now)?;
        Ok::<_, AccountError>(user)
    })?;
    crate::audit::record(
        conn,
        now,
        Event::new("password_reset").actor(Some(&user.id)).ip(ip),
    );
    state.throttle.record_success(&user.email);
    state.send_mail(mail::Letter::password_changed(
        &state.settings.brand_name,
        &user.email,
        &user.name,
    ));
    Ok(user)
}

/// Renames the account (audited: `profile_updated`).
pub(crate) fn rename(
    state: &AppState,
    conn: &mut Conn,
    user_id: &str,
    name: &str,
    ip: Option<&str>,
) -> Result<User, AccountError> {
    let now = state.now();
    let user = accounts::rename(conn, user_id, name, now)?;
    crate::audit::record(
        conn,
        now,
        Event::new("profile_updated").actor(Some(user_id)).ip(ip),
    );
    Ok(user)
}

/// Changes the password of a signed-in user who gave the current one. Every other session
/// ends (`keep`: the browser session making the change, if it is one), and every refresh
/// family of the user, in one transaction.
pub(crate) fn change_password(
    state: &AppState,
    conn: &mut Conn,
    user_id: &str,
    current: &str,
    new: &str,
    keep: Option<&str>,
    ip: Option<&str>,
) -> Result<User, AccountError> {
    let now = state.now();
    let proof = accounts::confirm_password(conn, user_id, current, &state.hasher)?;
    let password = accounts::NewPassword::hash(new, &state.hasher)?;
    store::transaction(conn, |conn| {
        accounts::change_password(conn, &proof, &password, now)?;
        accounts::end_sessions(conn, user_id, keep, now)?;
        grants::family::revoke_user_families(conn, user_id, "password_changed", now)?;
        Ok::<_, AccountError>(())
    })?;
    crate::audit::record(
        conn,
        now,
        Event::new("password_changed").actor(Some(user_id)).ip(ip),
    );
    let user = proof.user();
    state.send_mail(mail::Letter::password_changed(
        &state.settings.brand_name,
        &user.email,
        &user.name,
    ));
    Ok(user.clone())
}

/// Asks to move the account to a new address: a link to it; nothing changes until it is
/// followed.
pub(crate) fn request_email_change(
    state: &AppState,
    conn: &mut Conn,
    user_id: &str,
    email: &str,
    password: &str,
    ip: Option<&str>,
) -> Result<String, AccountError> {
    let now = state.now();
    let proof = accounts::confirm_password(conn, user_id, password, &state.hasher)?;
    let link = accounts::request_email_change(conn, &proof, email, now)?;
    crate::audit::record(
        conn,
        now,
        Event::new("email_change_requested")
            .actor(Some(user_id))
            .ip(ip),
    );
    mail_link(state, &link);
    Ok(link.to)
}

/// Follows a verification or address-change link. After a change, the old address is told.
pub(crate) fn confirm_email(
    state: &AppState,
    conn: &mut Conn,
    token: &str,
    ip: Option<&str>,
) -> Result<User, AccountError> {
    let now = state.now();
    let confirmed = accounts::confirm_email(conn, token, now)?;
    let user = confirmed.user;
    let kind = if confirmed.previous_email.is_some() {
        "email_changed"
    } else {
        "email_verified"
    };
    crate::audit::record(conn, now, Event::new(kind).actor(Some(&user.id)).ip(ip));
    if let Some(previous) = confirmed.previous_email {
        state.send_mail(mail::Letter::email_changed(
            &state.settings.brand_name,
            &previous,
            &user.name,
            &user.email,
        ));
    }
    Ok(user)
}

/// Deletes the account of a user who gave their password; the organizations only they belonged
/// to go with it, and their API keys are evicted from every instance's cache.
pub(crate) fn delete_account(
    state: &AppState,
    conn: &mut Conn,
    user_id: &str,
    password: &str,
    ip: Option<&str>,
) -> Result<accounts::DeletedAccount, AccountError> {
    let now = state.now();
    let proof = accounts::confirm_password(conn, user_id, password, &state.hasher)?;
    let (deleted, keys) =
        delete_with_keys(conn, user_id, |conn| accounts::delete_account(conn, &proof))?;
    for key in &keys {
        crate::invalidate::announce(state, conn, crate::invalidate::Change::ApiKey(key));
    }
    crate::audit::record(
        conn,
        now,
        Event::new("account_deleted")
            .actor(Some(user_id))
            .ip(ip)
            .detail(json!({ "organizationsDeleted": deleted.orgs_deleted })),
    );
    Ok(deleted)
}

/// Deletes an account with `delete` (its holder's or an operator's) and returns what went,
/// with the ids of the API keys of the organizations deleted with it: listed before they go,
/// for every instance to evict (`invalidate::announce` here, `invalidate::publish` from the
/// command line).
pub fn delete_with_keys(
    conn: &mut Conn,
    user_id: &str,
    delete: impl FnOnce(&mut Conn) -> Result<accounts::DeletedAccount, AccountError>,
) -> Result<(accounts::DeletedAccount, Vec<String>), AccountError> {
    let keys = org_keys(conn, user_id)?;
    let deleted = delete(conn)?;
    let gone = keys
        .into_iter()
        .filter(|(org, _)| deleted.orgs_deleted.contains(org))
        .map(|(_, key)| key)
        .collect();
    Ok((deleted, gone))
}

/// (organization, key id) of every API key in the user's organizations.
fn org_keys(conn: &mut Conn, user_id: &str) -> Result<Vec<(String, String)>, AccountError> {
    let mut keys = Vec::new();
    for (org, _) in accounts::orgs_of(conn, user_id)? {
        // Listing keys can fail only in the store.
        let listed = match apikeys::list_keys(conn, &org.id) {
            Ok(listed) => listed,
            Err(apikeys::KeyError::Store(e)) => return Err(e.into()),
            Err(e) => {
                tracing::warn!(error = %e, "listing keys failed");
                Vec::new()
            }
        };
        for key in listed {
            keys.push((org.id.clone(), key.id));
        }
    }
    Ok(keys)
}
