//! The second factor of a sign-in, shared by the JSON API and the pages: after a first factor,
//! whether the sign-in is done, must give a second factor (a challenge), or must first set one
//! up (an organization of the user requires one, or the relying party asked for
//! `urn:portcullis:mfa` and the user has none).

use accounts::{AccountError, AuthMethods};
use primitives::PlainSecret;
use primitives::seal::KeyRing;
use store::Conn;

use crate::state::AppState;

/// The second factors a JSON sign-in may answer with (`methods` of `mfa_required`).
pub(crate) const METHODS: [&str; 2] = ["totp", "recovery_code"];

/// What a sign-in needs after its first factor.
pub(crate) enum Next {
    /// Nothing: sign in with what was proved.
    Done,
    /// A second factor, for the challenge this token names.
    SecondFactor(PlainSecret),
    /// A second factor set up first (none yet, and one is required), for the challenge this
    /// token names.
    Enrol(PlainSecret),
}

/// What a sign-in of `user_id` that proved `amr` needs next; `want_mfa` when the relying party
/// asked for a multi-factor sign-in.
pub(crate) fn after_first_factor(
    conn: &mut Conn,
    user_id: &str,
    amr: &AuthMethods,
    want_mfa: bool,
    now: i64,
) -> Result<Next, AccountError> {
    if amr.is_multi_factor() {
        return Ok(Next::Done);
    }
    if accounts::second_factors(conn, user_id)?.any() {
        return Ok(Next::SecondFactor(accounts::start_challenge(
            conn, user_id, amr, now,
        )?));
    }
    if want_mfa || accounts::mfa_required_by_org(conn, user_id)? {
        return Ok(Next::Enrol(accounts::start_challenge(
            conn, user_id, amr, now,
        )?));
    }
    Ok(Next::Done)
}

/// Whether a signed-in session is short of what its user must have: a second factor the user
/// holds or an organization requires, when the session was made with one factor.
pub(crate) fn session_needs_mfa(
    conn: &mut Conn,
    session: &accounts::Session,
) -> Result<bool, AccountError> {
    if session.amr.is_multi_factor() {
        return Ok(false);
    }
    Ok(accounts::second_factors(conn, &session.user_id)?.any()
        || accounts::mfa_required_by_org(conn, &session.user_id)?)
}

/// The server's key ring, without which TOTP cannot be set up or checked.
pub(crate) fn key_ring(state: &AppState) -> Result<&KeyRing, AccountError> {
    state
        .settings
        .encryption_keys
        .as_deref()
        .ok_or(AccountError::MfaUnavailable)
}

/// The QR code of an `otpauth://` URI as an SVG element (for the page; no script, no image
/// request).
pub(crate) fn qr_svg(uri: &str) -> String {
    match qrcode::QrCode::new(uri.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
        // Only a URI beyond a QR code's capacity fails; ours are about 150 bytes.
        Err(_) => String::new(),
    }
}
