//! Accounts and upstream OpenID providers: the identities (`iss` + `sub`) linked to users, the
//! account a first upstream sign-in makes, linking and unlinking, and the authorization
//! requests waiting for a provider's answer.
//!
//! An identity is found by its issuer and subject, never by an email address: an address a
//! provider vouches for belongs to whoever that provider says, and a provider that does not
//! check addresses would otherwise hand out accounts here. So an unknown identity whose address
//! is an existing account's is refused ([`UpstreamRefusal::EmailBelongsToAccount`]); its holder
//! signs in to that account and links the identity from there, which proves both.
//!
//! What the provider said is checked before it gets here (the server verifies the ID token);
//! this module decides what it means for the accounts.

use primitives::{SecretHash, random_id};
use store::Conn;
use store::accounts as rows;
use store::upstream::{self as upstream_rows, UpstreamIdentityRow, UpstreamRequestRow};

use crate::orgs::{new_org_row, owner};
use crate::users::{insert_prepared, normalize_email};
use crate::{AccountError, Org, SignupPolicy, User};

/// How long a browser has to come back from the provider.
pub const UPSTREAM_REQUEST_TTL: i64 = 600;

/// An identity at an upstream provider, linked to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamIdentity {
    pub id: String,
    /// The configured name of the provider (`[upstream.NAME]`) it was linked through.
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    pub user_id: String,
    /// The address the provider gave when it was linked.
    pub email: Option<String>,
    pub created_at: i64,
}

impl From<UpstreamIdentityRow> for UpstreamIdentity {
    fn from(r: UpstreamIdentityRow) -> Self {
        Self {
            id: r.id,
            provider: r.provider,
            issuer: r.issuer,
            subject: r.subject,
            user_id: r.user_id,
            email: r.email,
            created_at: r.created_at,
        }
    }
}

/// Who the provider says the person is, from a verified ID token (and userinfo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamClaims {
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    /// The provider's `email_verified`: only `true` makes the address verified here.
    pub email_verified: bool,
    pub name: Option<String>,
}

/// What an upstream sign-in came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamSignIn {
    /// The identity is linked to this user.
    Existing(User),
    /// A first sign-in: a new user (no password), its organization, the identity linked.
    Created(User, Org),
}

/// Why an upstream sign-in, link or unlink was refused: each is a page, none a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamRefusal {
    /// An unknown identity whose address is an existing account's: sign in to that account
    /// and link the identity from `/account`.
    EmailBelongsToAccount,
    /// A new account needs an address, and the provider gave none.
    NoEmail,
    /// The sign-up policy does not let this person make an account (`PORTCULLIS_SIGNUP`).
    SignupClosed,
    /// The address is outside `PORTCULLIS_SIGNUP_DOMAINS`, or is not verified by the provider
    /// while a domain list is set.
    DomainNotAllowed,
    /// The account the identity is linked to is disabled.
    Disabled,
    /// The identity is linked to another account.
    LinkedToAnotherAccount,
    /// The identity is the account's last way in (no password, no other identity).
    LastWayIn,
    /// The same identity made an account at the same moment (a double submit): signing in
    /// again finds it.
    TryAgain,
    /// No such identity on this account.
    NotFound,
}

/// Signs in with a verified upstream identity: the linked user, or a new one if the identity
/// is unknown and the sign-up policy allows it. Never an existing account found by address.
///
/// The policy applies as to a sign-up: `invite` and `closed` refuse (an invited person joins
/// through the invite, then links), and a domain list admits only an address the provider
/// verified, in one of the domains.
pub fn sign_in_upstream(
    conn: &mut Conn,
    policy: &SignupPolicy,
    claims: &UpstreamClaims,
    now: i64,
) -> Result<Result<UpstreamSignIn, UpstreamRefusal>, AccountError> {
    if let Some(identity) = upstream_rows::find_identity(conn, &claims.issuer, &claims.subject)? {
        let user = rows::find_user(conn, &identity.user_id)?.ok_or(AccountError::NotFound)?;
        if user.disabled {
            return Ok(Err(UpstreamRefusal::Disabled));
        }
        return Ok(Ok(UpstreamSignIn::Existing(user.into())));
    }
    let Some(raw_email) = claims.email.as_deref() else {
        return Ok(Err(UpstreamRefusal::NoEmail));
    };
    let Ok((email, email_normalized)) = normalize_email(raw_email) else {
        return Ok(Err(UpstreamRefusal::NoEmail));
    };
    match policy.admits(&email) {
        Ok(()) => {}
        Err(AccountError::SignupClosed) => return Ok(Err(UpstreamRefusal::SignupClosed)),
        Err(AccountError::DomainNotAllowed) => {
            return Ok(Err(UpstreamRefusal::DomainNotAllowed));
        }
        Err(e) => return Err(e),
    }
    if !policy.domains.is_empty() && !claims.email_verified {
        return Ok(Err(UpstreamRefusal::DomainNotAllowed));
    }
    let name = claims
        .name
        .as_deref()
        .and_then(|n| crate::users::validate_name(n, "name").ok())
        .unwrap_or_else(|| {
            let local = email.split('@').next().unwrap_or("");
            crate::users::validate_name(local, "name").unwrap_or_else(|_| "New user".to_owned())
        });
    let user = rows::UserRow {
        id: format!("usr_{}", random_id()),
        email: email.clone(),
        email_normalized,
        name,
        // No password: nothing verifies against an empty hash (see `users.rs`).
        password_hash: String::new(),
        email_verified: claims.email_verified,
        disabled: false,
        created_at: now,
        updated_at: now,
        admin: false,
    };
    let org = new_org_row(&user.name, now)?;
    let identity = identity_row(&user.id, claims, now);
    match store::transaction(conn, |conn| {
        if rows::find_user_by_email(conn, &user.email_normalized)?.is_some() {
            return Ok(Err(UpstreamRefusal::EmailBelongsToAccount));
        }
        insert_prepared(conn, &user)?;
        // A conflict here (the same identity signing in twice at the same moment) rolls the
        // whole account back: `Store(Conflict)`, for the caller to ask for another try.
        upstream_rows::insert_identity(conn, &identity)?;
        rows::insert_org(conn, &org)?;
        rows::insert_membership(conn, &owner(&org.id, &user.id, now))?;
        Ok(Ok(()))
    }) {
        Ok(done) => Ok(done.map(|()| UpstreamSignIn::Created(user.into(), org.into()))),
        // The identity's row conflicted: the other sign-in made the account; this one rolled
        // back.
        Err(AccountError::Store(store::StoreError::Conflict)) => Ok(Err(UpstreamRefusal::TryAgain)),
        Err(e) => Err(e),
    }
}

fn identity_row(user_id: &str, claims: &UpstreamClaims, now: i64) -> UpstreamIdentityRow {
    UpstreamIdentityRow {
        id: format!("uid_{}", random_id()),
        provider: claims.provider.clone(),
        issuer: claims.issuer.clone(),
        subject: claims.subject.clone(),
        user_id: user_id.to_owned(),
        email: claims.email.clone(),
        created_at: now,
    }
}

/// Links a verified upstream identity to a signed-in user. Linking it again to the same user
/// changes nothing; an identity linked to another account is refused.
pub fn link_upstream(
    conn: &mut Conn,
    user_id: &str,
    claims: &UpstreamClaims,
    now: i64,
) -> Result<Result<UpstreamIdentity, UpstreamRefusal>, AccountError> {
    let row = identity_row(user_id, claims, now);
    store::transaction(conn, |conn| {
        if let Some(existing) = upstream_rows::find_identity(conn, &claims.issuer, &claims.subject)?
        {
            return Ok(if existing.user_id == user_id {
                Ok(existing.into())
            } else {
                Err(UpstreamRefusal::LinkedToAnotherAccount)
            });
        }
        match upstream_rows::insert_identity(conn, &row) {
            Ok(()) => Ok(Ok(row.clone().into())),
            Err(store::StoreError::Conflict) => Ok(Err(UpstreamRefusal::LinkedToAnotherAccount)),
            Err(e) => Err(e.into()),
        }
    })
}

/// Unlinks one of a user's identities, unless it is the account's last way in (the account
/// has no password and no other identity).
pub fn unlink_upstream(
    conn: &mut Conn,
    user_id: &str,
    identity_id: &str,
) -> Result<Result<UpstreamIdentity, UpstreamRefusal>, AccountError> {
    store::transaction(conn, |conn| {
        let identities = upstream_rows::identities_of_user(conn, user_id)?;
        let Some(identity) = identities.iter().find(|i| i.id == identity_id).cloned() else {
            return Ok(Err(UpstreamRefusal::NotFound));
        };
        let user = rows::find_user(conn, user_id)?.ok_or(AccountError::NotFound)?;
        if user.password_hash.is_empty() && identities.len() <= 1 {
            return Ok(Err(UpstreamRefusal::LastWayIn));
        }
        if !upstream_rows::delete_identity(conn, user_id, identity_id)? {
            return Ok(Err(UpstreamRefusal::NotFound));
        }
        Ok(Ok(identity.into()))
    })
}

/// A user's linked identities, oldest first.
pub fn upstream_identities(
    conn: &mut Conn,
    user_id: &str,
) -> Result<Vec<UpstreamIdentity>, AccountError> {
    Ok(upstream_rows::identities_of_user(conn, user_id)?
        .into_iter()
        .map(UpstreamIdentity::from)
        .collect())
}

/// Whether the user has a password (an account made by an upstream sign-in has none until
/// its holder sets one through a reset link).
pub fn has_password(conn: &mut Conn, user_id: &str) -> Result<bool, AccountError> {
    let user = rows::find_user(conn, user_id)?.ok_or(AccountError::NotFound)?;
    Ok(!user.password_hash.is_empty())
}

/// An authorization request to a provider, as the server made it; stored until the browser
/// comes back.
#[derive(Clone)]
pub struct NewUpstreamRequest<'a> {
    pub provider: &'a str,
    /// The `state` sent to the provider (stored as its SHA-256).
    pub state: &'a str,
    /// The secret of the browser's `pcl_upstream` cookie (stored as its SHA-256).
    pub browser_secret: &'a str,
    pub nonce: &'a str,
    /// The PKCE verifier, sealed with the browser's secret by the caller.
    pub pkce_sealed: &'a str,
    pub return_to: &'a str,
    /// Set when a signed-in user links an identity.
    pub link_user_id: Option<&'a str>,
}

impl std::fmt::Debug for NewUpstreamRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUpstreamRequest")
            .field("provider", &self.provider)
            .field("link_user_id", &self.link_user_id)
            .finish_non_exhaustive()
    }
}

/// A request taken back when the browser returned: checked to be this browser's, for this
/// provider, in time; it cannot be taken again.
#[derive(Clone)]
pub struct UpstreamRequest {
    pub provider: String,
    pub nonce: String,
    pub pkce_sealed: String,
    pub return_to: String,
    pub link_user_id: Option<String>,
}

impl std::fmt::Debug for UpstreamRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamRequest")
            .field("provider", &self.provider)
            .field("link_user_id", &self.link_user_id)
            .finish_non_exhaustive()
    }
}

/// Stores a request for [`UPSTREAM_REQUEST_TTL`] seconds.
pub fn begin_upstream(
    conn: &mut Conn,
    new: &NewUpstreamRequest<'_>,
    now: i64,
) -> Result<(), AccountError> {
    let row = UpstreamRequestRow {
        state_hash: SecretHash::of(new.state).as_str().to_owned(),
        browser_hash: SecretHash::of(new.browser_secret).as_str().to_owned(),
        provider: new.provider.to_owned(),
        nonce: new.nonce.to_owned(),
        pkce_sealed: new.pkce_sealed.to_owned(),
        return_to: new.return_to.to_owned(),
        link_user_id: new.link_user_id.map(str::to_owned),
        created_at: now,
        expires_at: now + UPSTREAM_REQUEST_TTL,
    };
    Ok(upstream_rows::insert_request(conn, &row, now)?)
}

/// Takes back the request of `state`: `None` when there is none (never made, used already),
/// it expired, it was made in another browser (`browser_secret` is not its cookie's), or for
/// another provider. Whatever the answer, the request cannot be used again.
pub fn take_upstream(
    conn: &mut Conn,
    provider: &str,
    state: &str,
    browser_secret: Option<&str>,
    now: i64,
) -> Result<Option<UpstreamRequest>, AccountError> {
    let Some(row) = upstream_rows::take_request(conn, SecretHash::of(state).as_str())? else {
        return Ok(None);
    };
    let this_browser = browser_secret
        .is_some_and(|secret| SecretHash::from_stored(row.browser_hash.clone()).matches(secret));
    if !this_browser || row.provider != provider || now >= row.expires_at {
        return Ok(None);
    }
    Ok(Some(UpstreamRequest {
        provider: row.provider,
        nonce: row.nonce,
        pkce_sealed: row.pkce_sealed,
        return_to: row.return_to,
        link_user_id: row.link_user_id,
    }))
}
