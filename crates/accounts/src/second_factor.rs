//! Second factors: a TOTP authenticator (RFC 6238) with single-use recovery codes, and the
//! challenge a sign-in waits on between its first factor and its second.
//!
//! - A TOTP secret must be read back to check a code, so it is sealed under the server's
//!   [`KeyRing`], bound to its user. Codes are six digits, 30-second steps, one step of skew
//!   either way; a step's code is accepted once (RFC 6238 §5.2): the step is recorded with a
//!   conditional update, so a replay, or two uses racing, cannot both win.
//! - Enrolment has two steps: [`start_totp`] makes a secret (replacing one not yet
//!   confirmed), [`confirm_totp`] enables it on a right code and hands out ten recovery codes,
//!   shown once and stored as SHA-256 (each is about 49.5 random bits).
//! - A challenge is what a sign-in that proved its first factor holds while it asks for the
//!   second: 256 random bits, stored as SHA-256, valid five minutes, used once, dead after five
//!   wrong codes.

use primitives::seal::KeyRing;
use primitives::{PlainSecret, SecretHash};
use rand::Rng as _;
use store::Conn;
use store::second_factors::{self as rows, ChallengeRow, TotpRow};
use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::{AccountError, AuthMethod, AuthMethods, PasswordProof, User};

/// How many recovery codes an enrolment hands out.
pub const RECOVERY_CODES: usize = 10;
/// How long a sign-in may wait for its second factor.
pub const CHALLENGE_TTL: i64 = 300;
/// Wrong codes a challenge takes before it dies.
pub const CHALLENGE_FAILURES: i32 = 5;

const DIGITS: u8 = 6;
const STEP: u64 = 30;
const SECRET_BYTES: usize = 20;

/// A TOTP secret being enrolled: shown to the user once, as text and as an `otpauth://` URI
/// (for a QR code).
pub struct TotpEnrolment {
    /// The secret in base32, for typing into an app.
    pub secret: String,
    pub otpauth_uri: String,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpEnrolment(<redacted>)")
    }
}

/// Recovery codes, shown once.
pub struct RecoveryCodes(pub Vec<String>);

impl std::fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecoveryCodes({} codes)", self.0.len())
    }
}

/// The second factors a user has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SecondFactors {
    /// A confirmed TOTP authenticator.
    pub totp: bool,
    pub recovery_codes_left: i64,
}

impl SecondFactors {
    /// Whether a sign-in must give a second factor (recovery codes alone do not count: they
    /// come with an authenticator).
    pub fn any(&self) -> bool {
        self.totp
    }
}

/// A sign-in waiting for its second factor.
#[derive(Debug, Clone)]
pub struct MfaChallenge {
    pub user: User,
    /// What the sign-in proved so far.
    pub amr: AuthMethods,
    token_hash: String,
}

fn context(user_id: &str) -> String {
    format!("totp:{user_id}")
}

fn totp(secret: Vec<u8>, label: Option<(&str, &str)>) -> Result<Totp, AccountError> {
    let mut builder = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_skew(1)
        .with_step_duration(STEP)
        .with_secret(secret);
    if let Some((issuer, account)) = label {
        // A colon separates the two in an otpauth label; neither may hold one.
        builder = builder
            .with_issuer(Some(issuer.replace(':', " ")))
            .with_account_name(account.replace(':', " "));
    }
    builder
        .build()
        .map_err(|e| AccountError::Hashing(format!("totp: {e}")))
}

fn unix(now: i64) -> u64 {
    u64::try_from(now).unwrap_or(0)
}

/// Starts enrolling a TOTP authenticator: a new secret, sealed and stored unconfirmed (one
/// not yet confirmed is replaced). `MfaAlreadyEnabled` if one is confirmed already.
pub fn start_totp(
    conn: &mut Conn,
    ring: &KeyRing,
    user: &User,
    issuer: &str,
    now: i64,
) -> Result<TotpEnrolment, AccountError> {
    let mut bytes = vec![0u8; SECRET_BYTES];
    rand::fill(&mut bytes[..]);
    let row = TotpRow {
        user_id: user.id.clone(),
        secret_sealed: ring.seal(&bytes, &context(&user.id)),
        created_at: now,
        confirmed_at: None,
        last_step: 0,
    };
    let totp = totp(bytes, Some((issuer, &user.email)))?;
    if !rows::put_pending_totp(conn, &row)? {
        return Err(AccountError::MfaAlreadyEnabled);
    }
    Ok(TotpEnrolment {
        secret: totp.secret().to_base32(),
        otpauth_uri: totp
            .to_url()
            .map_err(|e| AccountError::Hashing(format!("totp: {e}")))?,
    })
}

/// The authenticator a user is setting up (made, not yet confirmed), to show again; `None`
/// if there is none pending.
pub fn pending_totp(
    conn: &mut Conn,
    ring: &KeyRing,
    user: &User,
    issuer: &str,
) -> Result<Option<TotpEnrolment>, AccountError> {
    let Some(row) = rows::find_totp(conn, &user.id)?.filter(|r| r.confirmed_at.is_none()) else {
        return Ok(None);
    };
    let secret = ring
        .open(&row.secret_sealed, &context(&user.id))
        .map_err(|_| AccountError::MfaUnavailable)?;
    let totp = totp(secret, Some((issuer, &user.email)))?;
    Ok(Some(TotpEnrolment {
        secret: totp.secret().to_base32(),
        otpauth_uri: totp
            .to_url()
            .map_err(|e| AccountError::Hashing(format!("totp: {e}")))?,
    }))
}

/// Opens a user's authenticator: the TOTP and the row.
fn authenticator(
    conn: &mut Conn,
    ring: &KeyRing,
    user_id: &str,
) -> Result<Option<(Totp, TotpRow)>, AccountError> {
    let Some(row) = rows::find_totp(conn, user_id)? else {
        return Ok(None);
    };
    let secret = ring
        .open(&row.secret_sealed, &context(user_id))
        .map_err(|_| AccountError::MfaUnavailable)?;
    Ok(Some((totp(secret, None)?, row)))
}

/// The step `code` is right for at `now`, if any.
fn matching_step(totp: &Totp, code: &str, now: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != usize::from(DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp.check(&code, unix(now))
        .and_then(|step| i64::try_from(step).ok())
}

/// Confirms the pending authenticator with a code from the app: enabled, and ten new recovery
/// codes. `MfaNotEnabled` if none is pending, `WrongCode` if the code is not right now.
pub fn confirm_totp(
    conn: &mut Conn,
    ring: &KeyRing,
    user_id: &str,
    code: &str,
    now: i64,
) -> Result<RecoveryCodes, AccountError> {
    let (totp, _) = authenticator(conn, ring, user_id)?
        .filter(|(_, row)| row.confirmed_at.is_none())
        .ok_or(AccountError::MfaNotEnabled)?;
    let step = matching_step(&totp, code, now).ok_or(AccountError::WrongCode)?;
    store::transaction(conn, |conn| {
        if !rows::confirm_totp(conn, user_id, step, now)? {
            return Err(AccountError::MfaNotEnabled);
        }
        new_recovery_codes(conn, user_id, now)
    })
}

fn new_recovery_codes(
    conn: &mut Conn,
    user_id: &str,
    now: i64,
) -> Result<RecoveryCodes, AccountError> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| {
            // Uniform over the 31 characters (no modulo bias): 10 of them, about 49.5 bits.
            let chars: String = (0..10)
                .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect();
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| recovery_hash(c).unwrap_or_default())
        .collect();
    rows::replace_recovery_codes(conn, user_id, &hashes, now)?;
    Ok(RecoveryCodes(codes))
}

/// The stored hash of a recovery code as typed (case, spaces and the dash do not matter);
/// `None` if it cannot be one.
fn recovery_hash(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (code.len() == 10).then(|| {
        SecretHash::of(&format!("recovery:{code}"))
            .as_str()
            .to_owned()
    })
}

/// New recovery codes for a user with an authenticator, the old ones void.
pub fn regenerate_recovery_codes(
    conn: &mut Conn,
    proof: &PasswordProof,
    now: i64,
) -> Result<RecoveryCodes, AccountError> {
    let user_id = &proof.user().id;
    if !second_factors(conn, user_id)?.totp {
        return Err(AccountError::MfaNotEnabled);
    }
    new_recovery_codes(conn, user_id, now)
}

/// Removes a user's authenticator and recovery codes, on their password.
pub fn remove_totp(conn: &mut Conn, proof: &PasswordProof) -> Result<(), AccountError> {
    if !rows::delete_totp(conn, &proof.user().id)? {
        return Err(AccountError::MfaNotEnabled);
    }
    Ok(())
}

/// Removes a user's authenticator and recovery codes, for an operator (a user who lost both);
/// whether there was one.
pub fn reset_second_factors_as_operator(
    conn: &mut Conn,
    user_id: &str,
) -> Result<bool, AccountError> {
    Ok(rows::delete_totp(conn, user_id)?)
}

/// The second factors a user has.
pub fn second_factors(conn: &mut Conn, user_id: &str) -> Result<SecondFactors, AccountError> {
    let totp = rows::find_totp(conn, user_id)?.is_some_and(|t| t.confirmed_at.is_some());
    Ok(SecondFactors {
        totp,
        recovery_codes_left: if totp {
            rows::recovery_codes_left(conn, user_id)?
        } else {
            0
        },
    })
}

/// Checks a second factor: a TOTP code not used before, or an unused recovery code (used up
/// by this). `WrongCode` otherwise.
pub fn verify_second_factor(
    conn: &mut Conn,
    ring: &KeyRing,
    user_id: &str,
    code: &str,
    now: i64,
) -> Result<AuthMethod, AccountError> {
    let Some((totp, row)) = authenticator(conn, ring, user_id)? else {
        return Err(AccountError::WrongCode);
    };
    if row.confirmed_at.is_none() {
        return Err(AccountError::WrongCode);
    }
    if let Some(step) = matching_step(&totp, code, now) {
        return if rows::use_totp_step(conn, user_id, step)? {
            Ok(AuthMethod::Otp)
        } else {
            Err(AccountError::WrongCode)
        };
    }
    match recovery_hash(code) {
        Some(hash) if rows::use_recovery_code(conn, user_id, &hash, now)? => Ok(AuthMethod::Otp),
        _ => Err(AccountError::WrongCode),
    }
}

/// Opens a challenge for a user who proved `amr` and must give a second factor; the token
/// the sign-in holds.
pub fn start_challenge(
    conn: &mut Conn,
    user_id: &str,
    amr: &AuthMethods,
    now: i64,
) -> Result<PlainSecret, AccountError> {
    let token = PlainSecret::generate();
    rows::insert_challenge(
        conn,
        &ChallengeRow {
            token_hash: SecretHash::of(token.expose()).as_str().to_owned(),
            user_id: user_id.to_owned(),
            amr: amr.as_stored(),
            created_at: now,
            expires_at: now + CHALLENGE_TTL,
            failures: 0,
        },
    )?;
    let _ = rows::delete_expired_challenges(conn, now - CHALLENGE_TTL);
    Ok(token)
}

/// The live challenge `token` names: `ChallengeInvalid` if unknown, used, dead or expired, or
/// its user is gone or disabled.
pub fn find_challenge(
    conn: &mut Conn,
    token: &str,
    now: i64,
) -> Result<MfaChallenge, AccountError> {
    let token_hash = SecretHash::of(token).as_str().to_owned();
    let row = rows::find_challenge(conn, &token_hash)?
        .filter(|c| c.expires_at > now && c.failures < CHALLENGE_FAILURES)
        .ok_or(AccountError::ChallengeInvalid)?;
    let user: User = store::accounts::find_user(conn, &row.user_id)?
        .filter(|u| !u.disabled)
        .ok_or(AccountError::ChallengeInvalid)?
        .into();
    Ok(MfaChallenge {
        user,
        amr: AuthMethods::from_stored(&row.amr),
        token_hash,
    })
}

/// Answers a challenge with a second factor: the user and what the sign-in now proved. A
/// wrong code counts against the challenge (`WrongCode`); the fifth kills it.
pub fn answer_challenge(
    conn: &mut Conn,
    ring: &KeyRing,
    challenge: &MfaChallenge,
    code: &str,
    now: i64,
) -> Result<AuthMethods, AccountError> {
    match verify_second_factor(conn, ring, &challenge.user.id, code, now) {
        Ok(method) => {
            if !rows::delete_challenge(conn, &challenge.token_hash)? {
                return Err(AccountError::ChallengeInvalid);
            }
            Ok(challenge.amr.with(method))
        }
        Err(AccountError::WrongCode) => {
            fail_challenge(conn, challenge)?;
            Err(AccountError::WrongCode)
        }
        Err(e) => Err(e),
    }
}

/// Passes a challenge on a second factor checked elsewhere (a passkey, by the server's
/// WebAuthn relying party): what the sign-in now proved. Used once.
pub fn pass_challenge(
    conn: &mut Conn,
    challenge: &MfaChallenge,
    methods: &[AuthMethod],
) -> Result<AuthMethods, AccountError> {
    if !rows::delete_challenge(conn, &challenge.token_hash)? {
        return Err(AccountError::ChallengeInvalid);
    }
    Ok(methods
        .iter()
        .fold(challenge.amr.clone(), |amr, m| amr.with(*m)))
}

/// Counts a failed second factor checked elsewhere against a challenge (the fifth kills it).
pub fn fail_challenge(conn: &mut Conn, challenge: &MfaChallenge) -> Result<(), AccountError> {
    if rows::fail_challenge(conn, &challenge.token_hash)? >= CHALLENGE_FAILURES {
        rows::delete_challenge(conn, &challenge.token_hash)?;
    }
    Ok(())
}

/// Answers a challenge by confirming the authenticator the user is setting up during the
/// sign-in (an organization requires one, or the relying party asked for it): what the sign-in
/// now proved, and the new recovery codes. A wrong code counts against the challenge.
pub fn enrol_through_challenge(
    conn: &mut Conn,
    ring: &KeyRing,
    challenge: &MfaChallenge,
    code: &str,
    now: i64,
) -> Result<(AuthMethods, RecoveryCodes), AccountError> {
    match confirm_totp(conn, ring, &challenge.user.id, code, now) {
        Ok(codes) => {
            if !rows::delete_challenge(conn, &challenge.token_hash)? {
                return Err(AccountError::ChallengeInvalid);
            }
            Ok((challenge.amr.with(AuthMethod::Otp), codes))
        }
        Err(AccountError::WrongCode) => {
            fail_challenge(conn, challenge)?;
            Err(AccountError::WrongCode)
        }
        Err(e) => Err(e),
    }
}

/// Whether any organization the user belongs to requires a second factor.
pub fn mfa_required_by_org(conn: &mut Conn, user_id: &str) -> Result<bool, AccountError> {
    Ok(store::accounts::member_of_org_requiring_mfa(conn, user_id)?)
}

/// The code an authenticator shows at `now` for a secret (base32): for tests and tools that
/// play the app.
pub fn totp_code_for(secret_base32: &str, now: i64) -> Option<String> {
    let secret = Secret::try_from_base32(secret_base32).ok()?;
    let totp = totp(secret.as_ref().to_vec(), None).ok()?;
    Some(totp.generate(unix(now)).to_string())
}
