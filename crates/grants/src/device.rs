//! The device authorization grant (RFC 8628): a client without a browser asks for a device
//! code and a user code ([`start_device_authorization`]); the user types the user code on
//! `/device`, signed in, and allows or denies ([`pending_device`], [`approve_device`],
//! [`deny_device`]); the client polls the token endpoint with the device code
//! ([`poll_device`]) until it gets tokens, once.
//!
//! Proofs, as for codes: a user code is approved only with a [`Consented`] for that user,
//! client and scope; the tokens are signed only from an approved row that this poll found
//! for the client presenting the device code ([`DeviceApproved`]) and marked used in the
//! transaction that records them ([`DeviceRedeemed`]).
//!
//! Both codes are stored as SHA-256. The user code is short by design (8 letters of 20,
//! about 2^34.6); what keeps it from being guessed is its lifetime and the server's rate
//! limit on wrong codes (RFC 8628 §5.1), which the page enforces.

use primitives::{PlainSecret, SecretHash};
use registration::{GrantType, VerifiedClient};
use store::Conn;
use store::device::{self as rows, DeviceCodeRow};

use crate::code::user_audience;
use crate::grant::sign_user;
use crate::{
    Consented, ErrorCode, FormParams, GrantError, Issued, OAuthError, Policy, Scope, Sign,
    UserGrant, parse_resources, select_resources,
};

/// Device and user codes live 10 minutes (RFC 8628 §3.2 `expires_in`).
pub const DEVICE_CODE_TTL: i64 = 600;
/// The seconds a client waits between polls, at first (§3.2 `interval`, default 5).
pub const DEVICE_POLL_INTERVAL: i64 = 5;
/// What each `slow_down` adds to the interval (§3.5).
pub const SLOW_DOWN_STEP: i64 = 5;
/// The letters of a user code: RFC 8628 §6.1's base-20 alphabet, consonants without vowels
/// (no words) and without look-alikes.
pub const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Letters in a user code (shown as two groups of four).
pub const USER_CODE_LEN: usize = 8;

/// A user code in its canonical form: eight letters of [`USER_CODE_ALPHABET`]. `Display`
/// shows `XXXX-XXXX`; `Debug` prints nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct UserCode(String);

impl std::fmt::Debug for UserCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserCode(..)")
    }
}

impl std::fmt::Display for UserCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (a, b) = self.0.split_at(USER_CODE_LEN / 2);
        write!(f, "{a}-{b}")
    }
}

impl UserCode {
    fn generate() -> Self {
        Self(primitives::random_chars(USER_CODE_ALPHABET, USER_CODE_LEN))
    }

    /// What a user typed: any case, with or without the dash, spaces anywhere. `None` when it
    /// cannot be a user code (wrong letters or length).
    pub fn parse(typed: &str) -> Option<Self> {
        if typed.len() > 64 {
            return None;
        }
        let letters: String = typed
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let valid = letters.len() == USER_CODE_LEN
            && letters.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
        valid.then_some(Self(letters))
    }

    fn hash(&self) -> SecretHash {
        SecretHash::of(&self.0)
    }
}

/// The answer of the device authorization endpoint (RFC 8628 §3.2), before the server adds
/// its URIs. `Debug` leaves out both codes.
pub struct DeviceAuthorization {
    pub device_code: PlainSecret,
    pub user_code: UserCode,
    pub expires_in: i64,
    pub interval: i64,
}

impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// The scope of a device authorization request: as at the authorization endpoint, any the
/// client may ask for; none asked means the registered ones.
fn requested_scope(client: &VerifiedClient, raw: Option<&str>) -> Result<Scope, OAuthError> {
    let meta = &client.client().metadata;
    let scope = match raw {
        None => Scope::from_tokens(meta.scopes()),
        Some(raw) => Scope::from_tokens(meta.requestable_scopes())
            .narrow_to(&Scope::parse(raw)?)
            .map_err(|_| {
                OAuthError::new(
                    ErrorCode::InvalidScope,
                    "a requested scope is not registered for this client",
                )
            })?,
    };
    if scope.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "no scope requested and none registered",
        ));
    }
    Ok(scope)
}

/// RFC 8628 §3.1–3.2: a device code and a user code for `client`, for the `scope` and
/// `resource` values of `form`.
pub fn start_device_authorization(
    conn: &mut Conn,
    client: &VerifiedClient,
    form: &FormParams,
    resource_policy: &crate::resources::ResourcePolicy<'_>,
    now: i64,
) -> Result<DeviceAuthorization, GrantError> {
    if !client.client().metadata.allows_grant(GrantType::DeviceCode) {
        return Err(GrantError::refused(
            ErrorCode::UnauthorizedClient,
            "this client is not registered for the device_code grant",
        ));
    }
    let scope = requested_scope(client, form.get("scope"))?;
    let resources = parse_resources(form)?;
    // The resources and their scopes, as at the authorization endpoint (RFC 8707, the
    // operator's protected resources and strict policy).
    let (scope, _named) = crate::resources::check_asked(
        conn,
        &resources,
        &scope,
        form.get("scope").is_some(),
        resource_policy,
    )
    .map_err(|e| match e {
        crate::resources::CheckError::Refused(refused) => GrantError::Refused(refused),
        crate::resources::CheckError::Store(e) => GrantError::from(e),
    })?;
    rows::purge_device_codes(conn, now - 3600)?;
    let device_code = PlainSecret::generate();
    // Two live user codes can collide (1 in 2^34.6 per pair); the unique index says so, and a
    // new one is drawn.
    for _ in 0..5 {
        let user_code = UserCode::generate();
        let row = DeviceCodeRow {
            device_code_hash: device_code.hash().as_str().to_owned(),
            user_code_hash: user_code.hash().as_str().to_owned(),
            client_id: client.id().to_owned(),
            scope: scope.to_string(),
            resources: (!resources.is_empty())
                .then(|| serde_json::to_string(&resources).unwrap_or_default()),
            created_at: now,
            expires_at: now + DEVICE_CODE_TTL,
            poll_interval: DEVICE_POLL_INTERVAL,
            last_poll_at: None,
            status: rows::PENDING.to_owned(),
            user_id: None,
            auth_time: None,
            amr: None,
            session_id: None,
            decided_at: None,
            used_at: None,
        };
        match rows::insert_device_code(conn, &row) {
            Ok(()) => {
                return Ok(DeviceAuthorization {
                    device_code,
                    user_code,
                    expires_in: DEVICE_CODE_TTL,
                    interval: DEVICE_POLL_INTERVAL,
                });
            }
            Err(store::StoreError::Conflict) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(GrantError::refused(
        ErrorCode::ServerError,
        "no free user code could be drawn",
    ))
}

/// A device request waiting for its user: found by the user code they typed, unexpired and
/// undecided. What the page shows comes from here.
#[derive(Clone)]
pub struct PendingDevice {
    device_code_hash: String,
    client_id: String,
    scope: Scope,
    resources: Vec<String>,
    expires_at: i64,
}

impl std::fmt::Debug for PendingDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingDevice")
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl PendingDevice {
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
    pub fn scope(&self) -> &Scope {
        &self.scope
    }
    pub fn resources(&self) -> &[String] {
        &self.resources
    }
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }
}

fn granted_resources(row: &DeviceCodeRow) -> Vec<String> {
    row.resources
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or_default()
}

/// The pending request of the user code `code`, if there is one.
pub fn pending_device(
    conn: &mut Conn,
    code: &UserCode,
    now: i64,
) -> Result<Option<PendingDevice>, GrantError> {
    Ok(
        rows::find_pending_by_user_code(conn, code.hash().as_str(), now)?.map(|row| {
            PendingDevice {
                resources: granted_resources(&row),
                device_code_hash: row.device_code_hash,
                client_id: row.client_id,
                scope: Scope::from_stored(&row.scope),
                expires_at: row.expires_at,
            }
        }),
    )
}

/// The user allowed the device request on the page: remembered with their other consents
/// for the client (the union), and the proof the approval needs.
pub fn give_device_consent(
    conn: &mut Conn,
    user: &accounts::User,
    pending: &PendingDevice,
    now: i64,
) -> Result<Consented, GrantError> {
    crate::consent::remember(
        conn,
        &user.id,
        &pending.client_id,
        &pending.scope,
        &pending.resources,
        now,
    )?;
    Ok(Consented {
        user_id: user.id.clone(),
        client_id: pending.client_id.clone(),
        scope: pending.scope.clone(),
    })
}

/// Approves the device request for the session's user; `access_denied`-free: the client's
/// next poll gets the tokens. `false` when another tab decided first or it expired meanwhile.
pub fn approve_device(
    conn: &mut Conn,
    pending: &PendingDevice,
    consent: Consented,
    session: &accounts::Session,
    now: i64,
) -> Result<bool, GrantError> {
    let matches = consent.user_id == session.user_id
        && consent.client_id == pending.client_id
        && pending.scope.is_subset_of(&consent.scope);
    if !matches {
        return Err(GrantError::refused(
            ErrorCode::ServerError,
            "the consent does not match the device request",
        ));
    }
    let amr = session.amr.as_stored();
    let approval = rows::Approval {
        user_id: &session.user_id,
        auth_time: session.auth_time,
        amr: &amr,
        session_id: &session.id,
    };
    Ok(rows::approve(
        conn,
        &pending.device_code_hash,
        &approval,
        now,
    )?)
}

/// The user refused the device request: the client's polls answer `access_denied`.
pub fn deny_device(conn: &mut Conn, pending: &PendingDevice, now: i64) -> Result<bool, GrantError> {
    Ok(rows::deny(conn, &pending.device_code_hash, now)?)
}

/// Proof that the presented device code exists, belongs to the polling client, is unexpired,
/// unspent and approved by its user.
#[derive(Debug)]
pub struct DeviceApproved {
    row: DeviceCodeRow,
}

/// Proof that this poll marked the approved code used, in the transaction that records the
/// tokens: a device code gives tokens once.
#[derive(Debug)]
pub struct DeviceRedeemed(());

fn refused(code: ErrorCode, description: &str) -> GrantError {
    GrantError::refused(code, description)
}

/// Checks a poll (RFC 8628 §3.4–3.5) and answers the error the client must see, or the
/// approved code. Records the poll, and grows the interval on `slow_down`.
fn check_poll(
    conn: &mut Conn,
    client: &VerifiedClient,
    device_code: &str,
    now: i64,
) -> Result<DeviceApproved, GrantError> {
    let hash = SecretHash::of(device_code);
    let row = rows::find_by_device_code(conn, hash.as_str())?
        .ok_or_else(|| refused(ErrorCode::InvalidGrant, "the device code is not valid"))?;
    if row.client_id != client.id() {
        return Err(refused(
            ErrorCode::InvalidGrant,
            "the device code was issued to another client",
        ));
    }
    if row.used_at.is_some() {
        return Err(refused(
            ErrorCode::InvalidGrant,
            "the device code was used already",
        ));
    }
    if now >= row.expires_at {
        return Err(refused(
            ErrorCode::ExpiredToken,
            "the device code has expired; start again",
        ));
    }
    match row.status.as_str() {
        rows::DENIED => Err(refused(
            ErrorCode::AccessDenied,
            "the user denied the request",
        )),
        rows::APPROVED => Ok(DeviceApproved { row }),
        _ => {
            let too_soon = row
                .last_poll_at
                .is_some_and(|last| now - last < row.poll_interval);
            if too_soon {
                let interval = row.poll_interval + SLOW_DOWN_STEP;
                rows::record_poll(conn, &row.device_code_hash, now, interval)?;
                return Err(GrantError::refused(
                    ErrorCode::SlowDown,
                    format!("polling too fast; wait {interval} seconds between requests"),
                ));
            }
            rows::record_poll(conn, &row.device_code_hash, now, row.poll_interval)?;
            Err(refused(
                ErrorCode::AuthorizationPending,
                "the user has not answered yet",
            ))
        }
    }
}

impl UserGrant {
    /// The grant of an approved device code.
    fn from_device(
        client: &VerifiedClient,
        approved: &DeviceApproved,
        user: accounts::User,
        (audience, scope, ttl): (Vec<String>, Scope, Option<i64>),
    ) -> Self {
        let row = &approved.row;
        Self {
            user,
            client_id: client.id().to_owned(),
            id_token_alg: client
                .client()
                .metadata
                .id_token_signed_response_alg
                .clone(),
            scope,
            audience,
            ttl,
            auth_time: row.auth_time.unwrap_or(row.created_at),
            amr: accounts::AuthMethods::from_stored(row.amr.as_deref().unwrap_or_default()),
            nonce: None,
            sid: row.session_id.clone(),
        }
    }
}

/// A poll of the token endpoint with `grant_type=urn:ietf:params:oauth:grant-type:device_code`
/// (RFC 8628 §3.4): `authorization_pending`, `slow_down`, `access_denied`, `expired_token`,
/// or, once, the tokens the authorization code flow gives for the same scopes.
pub fn poll_device(
    conn: &mut Conn,
    signer: &dyn Sign,
    client: &VerifiedClient,
    device_code: &str,
    policy: &Policy<'_>,
    now: i64,
) -> Result<Issued, GrantError> {
    let meta = &client.client().metadata;
    if !meta.allows_grant(GrantType::DeviceCode) {
        return Err(refused(
            ErrorCode::UnauthorizedClient,
            "this client is not registered for the device_code grant",
        ));
    }
    let approved = check_poll(conn, client, device_code, now)?;
    let user_id = approved.row.user_id.clone().unwrap_or_default();
    let user = accounts::find_user(conn, &user_id)?
        .filter(|u| !u.disabled)
        .ok_or_else(|| refused(ErrorCode::InvalidGrant, "the user can no longer sign in"))?;
    let granted = granted_resources(&approved.row);
    let audience = select_resources(&granted, &[], &user_audience(policy, client.client()))?;
    // As for a code: a registered resource's scopes only in a token for it; its lifetime.
    let (scope, ttl) =
        crate::resources::token_terms(conn, &Scope::from_stored(&approved.row.scope), &audience)?;
    let grant = UserGrant::from_device(client, &approved, user, (audience, scope, ttl));
    let (access, id_token, grant) = sign_user(signer, grant, now)?;
    let with_refresh = meta.allows_grant(GrantType::RefreshToken);
    let hash = approved.row.device_code_hash.clone();
    store::transaction(conn, |conn| -> Result<Issued, GrantError> {
        let _redeemed: DeviceRedeemed = if rows::mark_used(conn, &hash, now)? {
            DeviceRedeemed(())
        } else {
            return Err(refused(
                ErrorCode::InvalidGrant,
                "the device code was used already",
            ));
        };
        // The approving session's logout reaches this client (Back-Channel Logout).
        if let Some(sid) = &approved.row.session_id {
            store::backchannel::record_session_client(conn, sid, client.id(), now)?;
        }
        let refresh = if with_refresh {
            let family = crate::family::Family {
                id: String::new(),
                user_id: grant.subject().to_owned(),
                client_id: client.id().to_owned(),
                scope: Some(approved.row.scope.clone()),
                auth_time: approved.row.auth_time.unwrap_or(now),
                amr: accounts::AuthMethods::from_stored(
                    approved.row.amr.as_deref().unwrap_or_default(),
                ),
                resources: granted.clone(),
                dpop_jkt: crate::family::refresh_binding(client, signer),
            };
            Some(crate::family::start_family(
                conn,
                &family,
                now,
                policy.refresh_ttl,
                (&access.jti, access.expires_at),
            )?)
        } else {
            None
        };
        Ok(Issued {
            grant,
            access,
            refresh: refresh.map(|r| r.token),
            id_token,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8628_6_1_user_codes_are_typed_in_any_case_with_or_without_dash() {
        let code = UserCode::parse("bcdf-ghjk").expect("lower with dash");
        assert_eq!(code.to_string(), "BCDF-GHJK");
        for same in ["BCDFGHJK", " bcdf ghjk ", "B-C-D-F-G-H-J-K", "bCdF-gHjK"] {
            assert_eq!(UserCode::parse(same).as_ref(), Some(&code), "{same}");
        }
        for bad in [
            "BCDF-GHJ",
            "BCDF-GHJKL",
            "ABCD-EFGH",
            "BCDF-GHJ1",
            "",
            "BCDF–GHJK",
        ] {
            assert!(UserCode::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(format!("{code:?}"), "UserCode(..)");
    }

    #[test]
    fn generated_user_codes_use_the_alphabet_only() {
        for _ in 0..200 {
            let code = UserCode::generate();
            assert_eq!(code.0.len(), USER_CODE_LEN);
            assert!(code.0.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)));
            assert_eq!(UserCode::parse(&code.to_string()), Some(code));
        }
        assert_eq!(USER_CODE_ALPHABET.len(), 20);
        assert!(!USER_CODE_ALPHABET.iter().any(|b| b"AEIOUY01".contains(b)));
    }
}
