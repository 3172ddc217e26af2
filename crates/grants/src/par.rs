//! Pushed authorization requests (RFC 9126): the client posts its authorization request to
//! the server first, authenticated, and sends the browser with a `request_uri` that names it.
//! Nothing the browser carries can change what was pushed.
//!
//! A `request_uri` is `urn:ietf:params:oauth:request_uri:` and a random secret, kept only as
//! its SHA-256. It is short-lived ([`PUSHED_REQUEST_TTL`]) until the browser first brings it,
//! then lives for as long as a sign-in may take ([`PUSHED_SIGN_IN_TTL`]), and gives one
//! authorization response: a code, or the user's refusal.

use primitives::{PlainSecret, SecretHash};
use registration::VerifiedClient;
use store::Conn;
use store::pushed::{self as rows, PushedRequestRow};

use crate::authorize::{ACCOUNT_CHOSEN_PARAM, Arrival, check_authorization_as};
use crate::resources::{CheckError, ResourcePolicy, check_resources};
use crate::{AuthorizationRequest, AuthorizeError, FormParams, GrantError, SIGNED_IN_PARAM};

/// What every `request_uri` this server gives starts with (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// Seconds a pushed request waits for the browser (`expires_in`): RFC 9126 §2.2 suggests a
/// short time, and FAPI 2.0 less than 600.
pub const PUSHED_REQUEST_TTL: i64 = 60;

/// Seconds a pushed request lives once the browser brought it: time to sign in, with a second
/// factor, and to decide on the consent page (as Keycloak's default login timeout).
pub const PUSHED_SIGN_IN_TTL: i64 = 1800;

/// The parameters that authenticate the client at the endpoint: not part of the request.
const CLIENT_AUTH_PARAMS: [&str; 4] = [
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
];

/// A pushed request's reference, for the client to send the browser with.
#[derive(Debug)]
pub struct PushedRequest {
    pub request_uri: PlainSecret,
    pub expires_in: i64,
}

/// RFC 9126 §2: checks a pushed authorization request as the authorization endpoint would
/// (the client is the authenticated one; its resources against the registered ones) and keeps
/// it. Errors are the authorization endpoint's, answered to the client directly.
pub fn push_authorization_request(
    conn: &mut Conn,
    client: &VerifiedClient,
    form: &FormParams,
    resource_policy: &ResourcePolicy<'_>,
    now: i64,
) -> Result<PushedRequest, GrantError> {
    if form.get("request_uri").is_some() {
        return Err(crate::OAuthError::invalid_request(
            "request_uri cannot be pushed (RFC 9126 \u{a7}2.1)",
        )
        .into());
    }
    // The request as kept: the authenticated client's id, then what the client sent, without
    // its credentials and the server's own markers.
    let mut kept = url::form_urlencoded::Serializer::new(String::new());
    kept.append_pair("client_id", client.id());
    for (k, v) in form.pairs() {
        let own = [SIGNED_IN_PARAM, ACCOUNT_CHOSEN_PARAM].contains(&k.as_str());
        if !own && !CLIENT_AUTH_PARAMS.contains(&k.as_str()) {
            kept.append_pair(k, v);
        }
    }
    let kept = kept.finish();
    let params = FormParams::parse(kept.as_bytes())?;
    let request = check_authorization_as(&params, Some(client.client()), Arrival::Pushing)
        .map_err(|e| match e {
            AuthorizeError::Page(message) => crate::OAuthError::invalid_request(message),
            AuthorizeError::Redirect { error, .. } => error,
        })?;
    check_resources(conn, request, resource_policy).map_err(|e| match e {
        CheckError::Refused(refused) => GrantError::Refused(refused),
        CheckError::Store(e) => GrantError::from(e),
    })?;
    rows::purge(conn, now - 3600)?;
    let secret = PlainSecret::generate();
    rows::insert(
        conn,
        &PushedRequestRow {
            request_hash: secret.hash().as_str().to_owned(),
            client_id: client.id().to_owned(),
            params: kept,
            created_at: now,
            expires_at: now + PUSHED_REQUEST_TTL,
            opened_at: None,
            used_at: None,
        },
    )?;
    Ok(PushedRequest {
        request_uri: PlainSecret::from_presented(format!(
            "{REQUEST_URI_PREFIX}{}",
            secret.expose()
        )),
        expires_in: PUSHED_REQUEST_TTL,
    })
}

/// RFC 9126 §4: the pushed request `request_uri` names, for `client_id`, with what the server
/// itself added to the browser's URL on the way (the sign-in proof, the account chosen); and
/// how it arrived, for [`check_authorization_as`]. `Ok(Err(message))`: no such request for
/// this client (never pushed, pushed by another client, expired, or used), to be shown on a
/// page.
pub fn open_pushed(
    conn: &mut Conn,
    client_id: &str,
    outer: &FormParams,
    now: i64,
) -> Result<Result<(FormParams, Arrival), &'static str>, GrantError> {
    let Some(secret) = outer
        .get("request_uri")
        .and_then(|uri| uri.strip_prefix(REQUEST_URI_PREFIX))
    else {
        return Ok(Err(
            "The request_uri is not one this server gave: request objects by reference are not supported.",
        ));
    };
    let hash = SecretHash::of(secret);
    let Some(row) = rows::open(
        conn,
        hash.as_str(),
        client_id,
        now,
        now + PUSHED_SIGN_IN_TTL,
    )?
    else {
        return Ok(Err(
            "This sign-in request has expired or was already used. Start again from the application.",
        ));
    };
    let mut params = url::form_urlencoded::Serializer::for_suffix(row.params, 0);
    for marker in [SIGNED_IN_PARAM, ACCOUNT_CHOSEN_PARAM] {
        if let Some(value) = outer.get(marker) {
            params.append_pair(marker, value);
        }
    }
    let params = FormParams::parse(params.finish().as_bytes())?;
    Ok(Ok((
        params,
        Arrival::Pushed {
            request_hash: hash.as_str().to_owned(),
        },
    )))
}

/// Marks the pushed request `request` came from as used (nothing to do for one that was not
/// pushed); false when another response used it first.
pub fn use_pushed(
    conn: &mut Conn,
    request: &AuthorizationRequest,
    now: i64,
) -> Result<bool, GrantError> {
    match request.pushed() {
        Some(hash) => Ok(rows::use_once(conn, hash, now)?),
        None => Ok(true),
    }
}
