//! Passkeys (WebAuthn Level 2) through webauthn-rs: registering a user's passkeys, signing in
//! with one alone (a discoverable credential), and checking a known user's passkey (for a
//! second-factor step). The routes are `routes/passkey_pages.rs`; storage is
//! `store::passkeys`.
//!
//! A module of `server` rather than of `accounts`: webauthn-rs's types (the relying party, its
//! ceremony states, the browser's JSON) are about origins and browsers, which `accounts` knows
//! nothing about; keeping them here keeps webauthn-rs out of the domain crates. What is stored
//! is text: the credential as webauthn-rs serializes it, and the user's name for it.
//!
//! How it stays sound:
//! - The relying party is the issuer: RP ID = its host, the one allowed origin = its origin.
//!   An issuer that is an IP address has no passkeys (browsers refuse an IP as RP ID):
//!   [`RelyingParty::for_issuer`] says `None` and the pages offer none.
//! - A ceremony's state (which holds its challenge) is kept in the database between the two
//!   requests, so any instance can answer the second: found by the SHA-256 of a random id the
//!   browser holds, taken once (deleted as it is read), for [`CEREMONY_TTL`] seconds, and only
//!   for its kind and, when it names one, its user. The state never leaves the server: only
//!   its id and the public options go to the browser. That is why
//!   `danger-allow-state-serialisation` is safe here: the danger it names is handing the
//!   state to the client, where it could be replayed or altered.
//! - Every passkey requires user verification (PIN or biometric), so a sign-in with one is
//!   `hwk` + `user`: two kinds of factor.
//! - A discoverable sign-in finds the passkey by its credential id and checks that the
//!   authenticator's user handle is the one this server gave that user (a handle derived from
//!   the user id, so nothing about the person is in the authenticator).
//! - After each use the stored credential is updated (counter, backup state) as webauthn-rs
//!   asks; a counter that went backwards (a cloned authenticator) is refused by webauthn-rs.

use primitives::{SecretHash, random_token};
use serde_json::Value;
use store::Conn;
use store::passkeys::{self as rows, CeremonyRow, PasskeyRow};
use webauthn_rs::prelude::{
    DiscoverableKey, Passkey, PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid,
    Webauthn, WebauthnBuilder,
};

/// Seconds a ceremony may take between its start and its finish (webauthn-rs's browser
/// timeout is five minutes too).
pub const CEREMONY_TTL: i64 = 300;

/// The longest name a passkey may have, in characters.
pub const MAX_NAME_CHARS: usize = 64;

const REGISTER: &str = "register";
const AUTHENTICATE: &str = "authenticate";
const DISCOVERABLE: &str = "discoverable";

/// Why a passkey operation did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// No such ceremony: never started, used already, expired, or of another user.
    #[error("the passkey ceremony is unknown, used or expired")]
    CeremonyUnknown,
    /// The browser's answer is not a credential (unreadable JSON).
    #[error("the credential is malformed: {0}")]
    Malformed(String),
    /// The credential did not verify (signature, challenge, origin, user verification,
    /// counter). The reason is logged, not shown.
    #[error("the passkey was not accepted: {0}")]
    Rejected(String),
    /// No passkey with this credential id (removed, or never registered here).
    #[error("no passkey has this credential")]
    UnknownCredential,
    /// This credential is registered already.
    #[error("this passkey is registered already")]
    AlreadyRegistered,
    /// A name that is empty, too long or holds control characters.
    #[error("a passkey's name is 1 to 64 characters")]
    InvalidName,
    /// The user has no passkey with this id.
    #[error("no such passkey")]
    NotFound,
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// A serialization of ours failed (a bug, or a stored row damaged).
    #[error("passkey state: {0}")]
    Internal(String),
}

/// This server as a WebAuthn relying party.
#[derive(Debug)]
pub struct RelyingParty {
    webauthn: Webauthn,
}

impl RelyingParty {
    /// The relying party of `issuer`: its host is the RP ID, its origin the one origin
    /// allowed. `None` when the issuer's host is not a domain name (an IP address).
    pub fn for_issuer(issuer: &Url) -> Option<Self> {
        let host = issuer.domain()?;
        let origin = Url::parse(&issuer.origin().ascii_serialization()).ok()?;
        let webauthn = WebauthnBuilder::new(host, &origin)
            .and_then(|b| b.rp_name(host).build())
            .inspect_err(|e| tracing::warn!(error = %e, "passkeys are off"))
            .ok()?;
        Some(Self { webauthn })
    }
}

/// A ceremony started: its id (for the browser to send back) and the options for
/// `navigator.credentials.create` / `get` (webauthn-rs's JSON, binary values in base64url).
#[derive(Debug)]
pub struct Started {
    pub ceremony: String,
    pub options: Value,
}

/// A passkey as the account page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyInfo {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl From<PasskeyRow> for PasskeyInfo {
    fn from(r: PasskeyRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        }
    }
}

/// The user handle this server gives `user_id`'s passkeys: 16 bytes of a SHA-256 of the id,
/// so it names nothing about the person and needs no column.
fn user_handle(user_id: &str) -> Uuid {
    let hex = SecretHash::of(&format!("portcullis passkey user handle:{user_id}"));
    // 32 hex digits are a UUID's simple form; a SHA-256 in hex always has them.
    Uuid::parse_str(&hex.as_str()[..32]).unwrap_or_default()
}

fn b64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn internal(e: impl std::fmt::Display) -> PasskeyError {
    PasskeyError::Internal(e.to_string())
}

/// Stores a ceremony's state; returns the id the browser keeps.
fn keep_ceremony(
    conn: &mut Conn,
    kind: &str,
    user_id: Option<&str>,
    state: &impl serde::Serialize,
    now: i64,
) -> Result<String, PasskeyError> {
    let id = random_token(32);
    rows::insert_ceremony(
        conn,
        &CeremonyRow {
            id_hash: SecretHash::of(&id).as_str().to_owned(),
            kind: kind.to_owned(),
            user_id: user_id.map(str::to_owned),
            state: serde_json::to_string(state).map_err(internal)?,
            expires_at: now + CEREMONY_TTL,
        },
    )?;
    // Ceremonies never finished are cleared now and then, by whoever starts one.
    if rand::random::<u8>() == 0 {
        rows::delete_expired_ceremonies(conn, now)?;
    }
    Ok(id)
}

/// Takes a ceremony of `kind` (for `user_id` when given) and reads its state.
fn take_ceremony<S: serde::de::DeserializeOwned>(
    conn: &mut Conn,
    ceremony: &str,
    kind: &str,
    user_id: Option<&str>,
    now: i64,
) -> Result<S, PasskeyError> {
    let row = rows::take_ceremony(conn, SecretHash::of(ceremony).as_str(), kind, now)?
        .ok_or(PasskeyError::CeremonyUnknown)?;
    if row.user_id.as_deref() != user_id {
        return Err(PasskeyError::CeremonyUnknown);
    }
    serde_json::from_str(&row.state).map_err(internal)
}

fn options_json(options: &impl serde::Serialize) -> Result<Value, PasskeyError> {
    serde_json::to_value(options).map_err(internal)
}

fn read_passkey(row: &PasskeyRow) -> Result<Passkey, PasskeyError> {
    serde_json::from_str(&row.passkey).map_err(internal)
}

/// Whether `name` (trimmed) is a name a passkey may have.
pub fn check_name(name: &str) -> Result<String, PasskeyError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(PasskeyError::InvalidName);
    }
    Ok(name.to_owned())
}

/// A user's passkeys, oldest first.
pub fn list(conn: &mut Conn, user_id: &str) -> Result<Vec<PasskeyInfo>, PasskeyError> {
    Ok(rows::list_for_user(conn, user_id)?
        .into_iter()
        .map(PasskeyInfo::from)
        .collect())
}

/// The name a passkey gets when the person gives none: `browser` (the browser it was made
/// in, "Chrome on Linux"), unless one of the user's passkeys is called so already, else
/// "Passkey N".
pub fn default_name(
    conn: &mut Conn,
    user_id: &str,
    browser: Option<&str>,
) -> Result<String, PasskeyError> {
    let taken: Vec<String> = rows::list_for_user(conn, user_id)?
        .into_iter()
        .map(|p| p.name)
        .collect();
    if let Some(browser) = browser.filter(|b| !taken.iter().any(|t| t == b)) {
        return Ok(browser.to_owned());
    }
    let n = (taken.len() + 1..)
        .find(|n| !taken.contains(&format!("Passkey {n}")))
        .unwrap_or(taken.len() + 1);
    Ok(format!("Passkey {n}"))
}

/// Starts registering a new passkey for `user`. The authenticator is asked for a discoverable
/// credential (so it can sign in alone) with user verification; the user's passkeys are
/// excluded, so one authenticator is not registered twice.
pub fn start_registration(
    rp: &RelyingParty,
    conn: &mut Conn,
    user: &accounts::User,
    now: i64,
) -> Result<Started, PasskeyError> {
    let existing = rows::list_for_user(conn, &user.id)?
        .iter()
        .map(|r| read_passkey(r).map(|p| p.cred_id().clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let (ccr, state) = rp
        .webauthn
        .start_passkey_registration(user_handle(&user.id), &user.email, &user.name, {
            Some(existing)
        })
        .map_err(internal)?;
    let mut options = options_json(&ccr)?;
    // webauthn-rs asks for a server-side credential; a passkey that signs in without a
    // username must be discoverable (resident). The registration state does not depend on it.
    if let Some(selection) = options
        .pointer_mut("/publicKey/authenticatorSelection")
        .and_then(Value::as_object_mut)
    {
        selection.insert("residentKey".into(), "required".into());
        selection.insert("requireResidentKey".into(), true.into());
    }
    let ceremony = keep_ceremony(conn, REGISTER, Some(&user.id), &state, now)?;
    Ok(Started { ceremony, options })
}

/// Finishes a registration: the credential verified against the ceremony, stored under
/// `name`. Returns the new passkey.
pub fn finish_registration(
    rp: &RelyingParty,
    conn: &mut Conn,
    user_id: &str,
    ceremony: &str,
    credential: &str,
    name: &str,
    now: i64,
) -> Result<PasskeyInfo, PasskeyError> {
    let name = check_name(name)?;
    let credential: RegisterPublicKeyCredential =
        serde_json::from_str(credential).map_err(|e| PasskeyError::Malformed(e.to_string()))?;
    let state = take_ceremony(conn, ceremony, REGISTER, Some(user_id), now)?;
    let passkey = rp
        .webauthn
        .finish_passkey_registration(&credential, &state)
        .map_err(|e| PasskeyError::Rejected(e.to_string()))?;
    let credential_id = b64url(passkey.cred_id().as_ref());
    if rows::find_by_credential_id(conn, &credential_id)?.is_some() {
        return Err(PasskeyError::AlreadyRegistered);
    }
    let row = PasskeyRow {
        id: format!("pk_{}", random_token(16)),
        user_id: user_id.to_owned(),
        credential_id,
        passkey: serde_json::to_string(&passkey).map_err(internal)?,
        name,
        created_at: now,
        last_used_at: None,
    };
    match rows::insert(conn, &row) {
        Ok(()) => Ok(row.into()),
        // The same credential registered by a racing request between the check and here.
        Err(store::StoreError::Conflict) => Err(PasskeyError::AlreadyRegistered),
        Err(e) => Err(e.into()),
    }
}

/// Renames a passkey of `user_id`.
pub fn rename(conn: &mut Conn, user_id: &str, id: &str, name: &str) -> Result<(), PasskeyError> {
    let name = check_name(name)?;
    if rows::rename(conn, user_id, id, &name)? {
        Ok(())
    } else {
        Err(PasskeyError::NotFound)
    }
}

/// Removes a passkey of `user_id`; it signs in no more.
pub fn remove(conn: &mut Conn, user_id: &str, id: &str) -> Result<(), PasskeyError> {
    if rows::delete(conn, user_id, id)? {
        Ok(())
    } else {
        Err(PasskeyError::NotFound)
    }
}

/// Starts a sign-in with any passkey of this site (the browser lets the person pick one; no
/// username first).
pub fn start_sign_in(
    rp: &RelyingParty,
    conn: &mut Conn,
    now: i64,
) -> Result<Started, PasskeyError> {
    let (rcr, state) = rp
        .webauthn
        .start_discoverable_authentication()
        .map_err(internal)?;
    let mut options = options_json(&rcr)?;
    // webauthn-rs marks this ceremony for conditional mediation (autofill); the sign-in page
    // runs it from a button, as a modal request.
    if let Some(o) = options.as_object_mut() {
        o.remove("mediation");
    }
    let ceremony = keep_ceremony(conn, DISCOVERABLE, None, &state, now)?;
    Ok(Started { ceremony, options })
}

/// What a passkey sign-in came to: the user it proved, or why not (with the user when the
/// credential was found, for the audit log and the throttle).
#[derive(Debug)]
pub struct SignInFailure {
    pub user_id: Option<String>,
    pub error: PasskeyError,
}

impl From<PasskeyError> for SignInFailure {
    fn from(error: PasskeyError) -> Self {
        Self {
            user_id: None,
            error,
        }
    }
}

/// The credential id a browser's sign-in answer names (base64url), for the throttle before
/// anything is looked up; `None` when the answer is not a credential.
pub fn presented_credential_id(credential: &str) -> Option<String> {
    let credential: PublicKeyCredential = serde_json::from_str(credential).ok()?;
    Some(b64url(credential.get_credential_id()))
}

/// Finishes a sign-in with a discoverable passkey: the user whose passkey verified. The
/// passkey's counter and backup state are updated.
pub fn finish_sign_in(
    rp: &RelyingParty,
    conn: &mut Conn,
    ceremony: &str,
    credential: &str,
    now: i64,
) -> Result<String, SignInFailure> {
    let state = take_ceremony(conn, ceremony, DISCOVERABLE, None, now)?;
    let credential: PublicKeyCredential =
        serde_json::from_str(credential).map_err(|e| PasskeyError::Malformed(e.to_string()))?;
    let (handle, credential_id) = rp
        .webauthn
        .identify_discoverable_authentication(&credential)
        .map_err(|e| PasskeyError::Rejected(e.to_string()))?;
    let row = rows::find_by_credential_id(conn, &b64url(credential_id))
        .map_err(PasskeyError::from)?
        .ok_or(PasskeyError::UnknownCredential)?;
    let fail = |error| SignInFailure {
        user_id: Some(row.user_id.clone()),
        error,
    };
    if handle != user_handle(&row.user_id) {
        return Err(fail(PasskeyError::Rejected(
            "the user handle is not this passkey's user".into(),
        )));
    }
    let mut passkey = read_passkey(&row).map_err(fail)?;
    let result = rp
        .webauthn
        .finish_discoverable_authentication(&credential, state, &[DiscoverableKey::from(&passkey)])
        .map_err(|e| fail(PasskeyError::Rejected(e.to_string())))?;
    passkey.update_credential(&result);
    record_use(conn, &row, &passkey, now).map_err(fail)?;
    Ok(row.user_id)
}

/// Writes a failed passkey sign-in to the audit log, as a failed password sign-in is
/// (`login.failed`, `"via": "passkey"`, the user when the passkey was found, and a reason word,
/// never what the browser sent). Failures of ours (storage) are not the sign-in's.
pub fn audit_failure(conn: &mut Conn, now: i64, failure: &SignInFailure, ip: Option<&str>) {
    let reason = match &failure.error {
        PasskeyError::Store(_) | PasskeyError::Internal(_) => return,
        PasskeyError::CeremonyUnknown => "ceremony_unknown",
        PasskeyError::Malformed(_) => "malformed",
        PasskeyError::UnknownCredential => "unknown_passkey",
        PasskeyError::Rejected(_) => "not_verified",
        PasskeyError::AlreadyRegistered | PasskeyError::InvalidName | PasskeyError::NotFound => {
            "other"
        }
    };
    crate::metrics::business::sign_in(crate::metrics::business::SignInMethod::Passkey, false);
    crate::audit::record(
        conn,
        now,
        crate::audit::Event::new("login.failed")
            .actor(failure.user_id.as_deref())
            .ip(ip)
            .failed()
            .detail(serde_json::json!({ "via": "passkey", "reason": reason })),
    );
}

fn record_use(
    conn: &mut Conn,
    row: &PasskeyRow,
    passkey: &Passkey,
    now: i64,
) -> Result<(), PasskeyError> {
    let json = serde_json::to_string(passkey).map_err(internal)?;
    if rows::record_use(conn, &row.id, &json, now)? {
        Ok(())
    } else {
        // Removed between the lookup and now: it signs in no more.
        Err(PasskeyError::UnknownCredential)
    }
}

/// Starts checking a passkey of a known user (a second factor, or a sign-in again): the
/// browser is asked for one of that user's passkeys (`allowCredentials`). `None` when the
/// user has no passkey.
pub fn start_for_user(
    rp: &RelyingParty,
    conn: &mut Conn,
    user_id: &str,
    now: i64,
) -> Result<Option<Started>, PasskeyError> {
    let passkeys = rows::list_for_user(conn, user_id)?
        .iter()
        .map(read_passkey)
        .collect::<Result<Vec<_>, _>>()?;
    if passkeys.is_empty() {
        return Ok(None);
    }
    let (rcr, state) = rp
        .webauthn
        .start_passkey_authentication(&passkeys)
        .map_err(internal)?;
    let options = options_json(&rcr)?;
    let ceremony = keep_ceremony(conn, AUTHENTICATE, Some(user_id), &state, now)?;
    Ok(Some(Started { ceremony, options }))
}

/// Finishes [`start_for_user`]: `Ok(true)` when one of the user's passkeys verified (and was
/// updated), `Ok(false)` when the answer did not verify (wrong passkey, bad signature, no user
/// verification, another user's passkey). `Err` for a ceremony unknown, used or expired, an
/// answer that is no credential, or storage.
pub fn finish_for_user(
    rp: &RelyingParty,
    conn: &mut Conn,
    user_id: &str,
    ceremony: &str,
    credential: &str,
    now: i64,
) -> Result<bool, PasskeyError> {
    let state = take_ceremony(conn, ceremony, AUTHENTICATE, Some(user_id), now)?;
    let credential: PublicKeyCredential =
        serde_json::from_str(credential).map_err(|e| PasskeyError::Malformed(e.to_string()))?;
    let result = match rp
        .webauthn
        .finish_passkey_authentication(&credential, &state)
    {
        Ok(result) => result,
        Err(e) => {
            tracing::info!(user = user_id, reason = %e, "passkey not verified");
            return Ok(false);
        }
    };
    let Some(row) = rows::find_by_credential_id(conn, &b64url(result.cred_id().as_ref()))?
        .filter(|r| r.user_id == user_id)
    else {
        return Ok(false);
    };
    let mut passkey = read_passkey(&row)?;
    passkey.update_credential(&result);
    match record_use(conn, &row, &passkey, now) {
        Ok(()) => Ok(true),
        Err(PasskeyError::UnknownCredential) => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_is_the_issuers_host_and_never_an_ip_address() {
        let rp = |u: &str| RelyingParty::for_issuer(&Url::parse(u).expect("url"));
        assert!(rp("https://auth.example.com").is_some());
        assert!(rp("http://localhost:8080").is_some());
        assert!(rp("http://127.0.0.1:8080").is_none());
        assert!(rp("http://[::1]:8080").is_none());
    }

    #[test]
    fn user_handles_are_stable_per_user_and_apart_between_users() {
        assert_eq!(user_handle("usr_a"), user_handle("usr_a"));
        assert_ne!(user_handle("usr_a"), user_handle("usr_b"));
        assert_ne!(user_handle("usr_a"), Uuid::default());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(check_name("  Laptop ").expect("ok"), "Laptop");
        assert_eq!(
            check_name(&"é".repeat(64)).expect("64 chars"),
            "é".repeat(64)
        );
        for bad in ["", "   ", "a\nb", "tab\there"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name(&"x".repeat(65)).is_err());
    }

    #[test]
    fn default_names_follow_the_browser_then_count() {
        let db = store::testing::TestDb::sqlite();
        let mut conn = db.store().conn().expect("conn");
        let user = accounts::create_user(
            &mut conn,
            &accounts::NewUser {
                email: "ada@example.com",
                name: "Ada",
                password: "correct horse battery",
            },
            &accounts::PasswordHasher::new(),
            1,
        )
        .expect("user");
        let add = |conn: &mut Conn, name: &str| {
            let n = rows::list_for_user(conn, &user.id).expect("list").len();
            rows::insert(
                conn,
                &PasskeyRow {
                    id: format!("pk_{n}"),
                    user_id: user.id.clone(),
                    credential_id: format!("c{n}"),
                    passkey: "{}".into(),
                    name: name.into(),
                    created_at: 1,
                    last_used_at: None,
                },
            )
            .expect("insert");
        };
        let name = |conn: &mut Conn, browser| default_name(conn, &user.id, browser).expect("name");
        assert_eq!(name(&mut conn, Some("Chrome on Linux")), "Chrome on Linux");
        assert_eq!(name(&mut conn, None), "Passkey 1");
        add(&mut conn, "Chrome on Linux");
        assert_eq!(name(&mut conn, Some("Chrome on Linux")), "Passkey 2");
        add(&mut conn, "Passkey 2");
        assert_eq!(name(&mut conn, Some("Chrome on Linux")), "Passkey 3");
        assert_eq!(
            name(&mut conn, Some("Firefox on Linux")),
            "Firefox on Linux"
        );
    }

    #[test]
    fn registration_asks_for_a_discoverable_verified_credential() {
        let db = store::testing::TestDb::sqlite();
        let mut conn = db.store().conn().expect("conn");
        let hasher = accounts::PasswordHasher::new();
        let user = accounts::create_user(
            &mut conn,
            &accounts::NewUser {
                email: "ada@example.com",
                name: "Ada",
                password: "correct horse battery",
            },
            &hasher,
            1_000,
        )
        .expect("user");
        let rp = RelyingParty::for_issuer(&Url::parse("https://auth.example.com").expect("url"))
            .expect("rp");
        let started = start_registration(&rp, &mut conn, &user, 1_000).expect("start");
        let o = &started.options["publicKey"];
        assert_eq!(o["rp"]["id"], "auth.example.com");
        assert_eq!(o["authenticatorSelection"]["residentKey"], "required");
        assert_eq!(o["authenticatorSelection"]["userVerification"], "required");
        assert_eq!(o["user"]["name"], "ada@example.com");
        // The ceremony is this user's, taken once, and lives CEREMONY_TTL seconds.
        let take = |conn: &mut Conn, user: &str, now| {
            take_ceremony::<Value>(conn, &started.ceremony, REGISTER, Some(user), now)
        };
        assert!(matches!(
            take(&mut conn, "usr_other", 1_001),
            Err(PasskeyError::CeremonyUnknown)
        ));
        // Taken by the wrong user, it is gone for the right one too: used once.
        assert!(matches!(
            take(&mut conn, &user.id, 1_001),
            Err(PasskeyError::CeremonyUnknown)
        ));
        let again = start_registration(&rp, &mut conn, &user, 1_000).expect("start");
        assert!(
            take_ceremony::<Value>(
                &mut conn,
                &again.ceremony,
                REGISTER,
                Some(&user.id),
                1_000 + CEREMONY_TTL
            )
            .is_err(),
            "expired"
        );
        let third = start_registration(&rp, &mut conn, &user, 1_000).expect("start");
        assert!(
            take_ceremony::<Value>(&mut conn, &third.ceremony, REGISTER, Some(&user.id), 1_100)
                .is_ok()
        );
        // A sign-in ceremony is a modal request for any passkey, user verified.
        let sign_in = start_sign_in(&rp, &mut conn, 1_000).expect("sign-in");
        assert!(sign_in.options.get("mediation").is_none());
        assert_eq!(sign_in.options["publicKey"]["userVerification"], "required");
        assert_eq!(
            start_for_user(&rp, &mut conn, &user.id, 1_000)
                .expect("for user")
                .map(|s| s.ceremony),
            None,
            "no passkey, nothing to ask for"
        );
    }
}
