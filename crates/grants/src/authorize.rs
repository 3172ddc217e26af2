//! The authorization request (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2.1), parsed and
//! checked against the registered client.
//!
//! The order of checks decides where an error goes: until the client and the redirect URI are
//! known to be right, an error is shown on a page and never redirected (RFC 6749 §4.1.2.1,
//! RFC 9700 §4.11); after that, errors are redirected to the client with `state` and `iss`.

use registration::{
    ApplicationType, AuthMethod, Client, GrantType, is_loopback_redirect, is_native_redirect,
};
use url::Url;

use crate::pkce::{CodeChallenge, is_pkce_value};
use crate::{ErrorCode, FormParams, OAuthError, Scope, parse_resources};

/// How the authorization response travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    /// Parameters in the redirect URI's query (the default for `code`).
    Query,
    /// An auto-submitted HTML form POSTed to the redirect URI (OAuth 2.0 Form Post Response Mode).
    FormPost,
}

/// The `prompt` values (OpenID Connect Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
    pub select_account: bool,
}

/// A request that passed every check: everything the flow needs, nothing unchecked. Only
/// [`check_authorization`] makes one, and its fields are private: holding one proves the client
/// is known, the redirect URI matched a registered one (RFC 6749 §3.1.2.3, RFC 8252 §7.3), the
/// scope is one the client may ask for, and the PKCE challenge is S256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    client_id: String,
    /// The redirect URI the response goes to: the one sent, or the only one registered.
    redirect_uri: String,
    /// Whether the request named it (then the token request must repeat it).
    redirect_uri_given: bool,
    response_mode: ResponseMode,
    state: Option<String>,
    nonce: Option<String>,
    /// Granted scopes, in the client's registered order.
    pub(crate) scope: Scope,
    /// Whether the request named its scope (else it is the client's registered one).
    pub(crate) scope_given: bool,
    code_challenge: Option<CodeChallenge>,
    prompt: Prompt,
    max_age: Option<i64>,
    /// The authentication context classes asked for, in order of preference.
    acr_values: Vec<String>,
    login_hint: Option<String>,
    resources: Vec<String>,
    /// The [`SIGNED_IN_PARAM`] the request came back with after a sign-in: a proof the server
    /// checks against the session (the server made it; anyone can add it to a URL).
    signed_in_proof: Option<String>,
    /// The hash of the pushed request (RFC 9126) this request came from: used once, by the
    /// code or the error it ends in.
    pushed: Option<String>,
    /// RFC 9449 §10: the thumbprint of the DPoP key the code is bound to; only a token
    /// request with a proof of that key redeems it.
    dpop_jkt: Option<String>,
}

impl AuthorizationRequest {
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
    /// Where the response goes: matched against the client's registered redirect URIs.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }
    /// Whether the request named its redirect URI (then the token request must repeat it).
    pub fn redirect_uri_given(&self) -> bool {
        self.redirect_uri_given
    }
    pub fn response_mode(&self) -> ResponseMode {
        self.response_mode
    }
    pub fn state(&self) -> Option<&str> {
        self.state.as_deref()
    }
    pub fn nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }
    pub fn scope(&self) -> &Scope {
        &self.scope
    }
    pub fn prompt(&self) -> Prompt {
        self.prompt
    }
    pub fn max_age(&self) -> Option<i64> {
        self.max_age
    }
    pub fn login_hint(&self) -> Option<&str> {
        self.login_hint.as_deref()
    }
    /// The `acr_values` asked for, in order of preference (OpenID Connect Core §3.1.2.1).
    pub fn acr_values(&self) -> &[String] {
        &self.acr_values
    }
    /// Whether the request wants a multi-factor sign-in: the first class it names that this
    /// server knows is [`accounts::ACR_MFA`]. Classes the server does not know are passed over
    /// (`acr_values` is a voluntary claim).
    pub fn wants_mfa(&self) -> bool {
        self.acr_values
            .iter()
            .find(|v| accounts::ACR_VALUES.contains(&v.as_str()))
            .is_some_and(|v| v == accounts::ACR_MFA)
    }
    /// The hash of the pushed request (RFC 9126) this request was read from, if it was.
    pub fn pushed(&self) -> Option<&str> {
        self.pushed.as_deref()
    }
    pub fn resources(&self) -> &[String] {
        &self.resources
    }
    pub fn code_challenge(&self) -> Option<&CodeChallenge> {
        self.code_challenge.as_ref()
    }
    pub fn signed_in_proof(&self) -> Option<&str> {
        self.signed_in_proof.as_deref()
    }
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.dpop_jkt.as_deref()
    }

    /// Whether the response goes to a loopback or private-use-scheme redirect URI, which any
    /// app on the device could claim: the client's identity is not assured, so the request is
    /// never approved without the user (RFC 8252 §8.6).
    pub fn redirects_to_native_app(&self) -> bool {
        is_native_redirect(&self.redirect_uri)
    }
}

/// Where an authorization error goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// Shown to the user; the client is unknown or the redirect URI cannot be trusted.
    Page(String),
    /// Sent back to the client.
    Redirect {
        redirect_uri: String,
        response_mode: ResponseMode,
        state: Option<String>,
        error: OAuthError,
    },
}

/// The internal parameter a sign-in adds to the authorization request it returns to, so that
/// `prompt=login` is not asked again in a loop. Its value is a proof bound to the session that
/// signed in (made and checked by the server), never a value taken on trust: a URL carrying
/// one made for another session, or a made-up one, still sends the user to sign in.
pub const SIGNED_IN_PARAM: &str = "pcl_signed_in";

/// Added by the server to a request it sends back after the account chooser: the account is
/// chosen, so `prompt=select_account` is done. (Anyone can add it to a URL; all it skips is
/// the chooser, which the user could leave anyway.) Needed for pushed requests, whose
/// `prompt` the browser's URL cannot change.
pub const ACCOUNT_CHOSEN_PARAM: &str = "pcl_account_chosen";

fn page(msg: impl Into<String>) -> AuthorizeError {
    AuthorizeError::Page(msg.into())
}

/// The `client_id` of a request, if it has exactly one.
pub fn client_id_of(form: &FormParams) -> Option<&str> {
    form.get("client_id")
}

/// How an authorization request reached the server (RFC 9126).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arrival {
    /// Through the browser, its parameters in the URL or form; `pushed_required` when the
    /// server accepts only pushed requests (the client's own metadata may require it too).
    Browser { pushed_required: bool },
    /// Being pushed by the authenticated client (`/oauth2/par`).
    Pushing,
    /// Through the browser as a `request_uri`, its parameters read from the pushed request
    /// whose hash is given.
    Pushed { request_hash: String },
}

/// Checks an authorization request sent through the browser against its client (`None` when
/// `client_id` named no client).
pub fn check_authorization(
    form: &FormParams,
    client: Option<&Client>,
) -> Result<AuthorizationRequest, AuthorizeError> {
    check_authorization_as(
        form,
        client,
        Arrival::Browser {
            pushed_required: false,
        },
    )
}

/// Checks an authorization request against its client, as it arrived (`arrival`).
pub fn check_authorization_as(
    form: &FormParams,
    client: Option<&Client>,
    arrival: Arrival,
) -> Result<AuthorizationRequest, AuthorizeError> {
    let client = client
        .ok_or_else(|| page("The application that sent you here is not known to this server."))?;
    let meta = &client.metadata;

    // 1. The redirect URI, before anything may be redirected.
    let (redirect_uri, given) = match form.get("redirect_uri") {
        Some(uri) => {
            if !redirect_uri_matches(uri, &meta.redirect_uris, meta.application_type) {
                return Err(page(
                    "The redirect address does not match the ones this application registered.",
                ));
            }
            (uri.to_owned(), true)
        }
        // OpenID Connect requires redirect_uri (Core §3.1.2.1); without it nothing may be
        // redirected, not even this error.
        None if is_openid_request(form, &meta.scopes()) => {
            return Err(page(
                "An OpenID Connect request (scope openid) must name its redirect_uri.",
            ));
        }
        None => match meta.redirect_uris.as_slice() {
            [only] => (only.clone(), false),
            [] => return Err(page("This application has no redirect address registered.")),
            _ => {
                return Err(page(
                    "The request must say which registered redirect address to use.",
                ));
            }
        },
    };
    let response_mode = match form.get("response_mode") {
        None | Some("query") => ResponseMode::Query,
        Some("form_post") => ResponseMode::FormPost,
        Some(_) => return Err(page("The response mode of this request is not supported.")),
    };
    let state = form.get("state").map(str::to_owned);
    let redirect = |error: OAuthError| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        response_mode,
        state: state.clone(),
        error,
    };
    if state.as_ref().is_some_and(|s| s.len() > 2048) {
        return Err(redirect(OAuthError::invalid_request("state is too long")));
    }
    if form.has_nul() {
        return Err(redirect(OAuthError::invalid_request(
            "parameters may not contain NUL characters",
        )));
    }

    // 2. Everything else, answered at the redirect URI.
    if let Arrival::Browser { pushed_required } = arrival
        && (pushed_required || meta.require_pushed_authorization_requests)
    {
        return Err(redirect(OAuthError::invalid_request(
            "authorization requests must be pushed first (RFC 9126): POST them to the pushed authorization request endpoint and send its request_uri",
        )));
    }
    if form.get("request").is_some() {
        return Err(redirect(OAuthError::new(
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        )));
    }
    if form.get("request_uri").is_some() {
        return Err(redirect(OAuthError::new(
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        )));
    }
    match form.get("response_type") {
        None => {
            return Err(redirect(OAuthError::invalid_request(
                "response_type is missing",
            )));
        }
        Some("code") => {}
        Some(_) => {
            return Err(redirect(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                "only the code response type is supported",
            )));
        }
    }
    if !meta.allows_grant(GrantType::AuthorizationCode) {
        return Err(redirect(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client is not registered for the authorization code grant",
        )));
    }
    let scope = match form.get("scope") {
        None => Scope::from_tokens(meta.scopes()),
        Some(raw) => {
            let requested = Scope::parse(raw).map_err(&redirect)?;
            // Asked for: any registered scope, and offline_access with the refresh grant; the
            // grant keeps the registered order.
            Scope::from_tokens(meta.requestable_scopes())
                .narrow_to(&requested)
                .map_err(|_| {
                    redirect(OAuthError::new(
                        ErrorCode::InvalidScope,
                        "a requested scope is not registered for this client",
                    ))
                })?
        }
    };
    if scope.is_empty() {
        return Err(redirect(OAuthError::new(
            ErrorCode::InvalidScope,
            "no scope requested and none registered",
        )));
    }

    // PKCE (RFC 7636): S256 only; required for public clients.
    let challenge = form.get("code_challenge");
    let method = form.get("code_challenge_method");
    if let Some(c) = challenge
        && !is_pkce_value(c)
    {
        return Err(redirect(OAuthError::invalid_request(
            "code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~",
        )));
    }
    if challenge.is_none() && method.is_some() {
        return Err(redirect(OAuthError::invalid_request(
            "code_challenge_method without code_challenge",
        )));
    }
    if challenge.is_none() && meta.token_endpoint_auth_method == AuthMethod::None {
        return Err(redirect(OAuthError::invalid_request(
            "public clients must use PKCE (code_challenge with S256)",
        )));
    }
    let code_challenge = CodeChallenge::from_request(method, challenge).map_err(|()| {
        redirect(OAuthError::invalid_request(
            "code_challenge_method must be S256 (plain is not accepted, and it is the default when the method is left out)",
        ))
    })?;

    let mut prompt = Prompt::default();
    if let Some(raw) = form.get("prompt") {
        for value in raw.split(' ').filter(|v| !v.is_empty()) {
            match value {
                "none" => prompt.none = true,
                "login" => prompt.login = true,
                "consent" => prompt.consent = true,
                "select_account" => prompt.select_account = true,
                other => {
                    return Err(redirect(OAuthError::invalid_request(format!(
                        "prompt value {other} is not supported"
                    ))));
                }
            }
        }
        if prompt.none && (prompt.login || prompt.consent || prompt.select_account) {
            return Err(redirect(OAuthError::invalid_request(
                "prompt=none cannot be combined with other values",
            )));
        }
    }
    if form.get(ACCOUNT_CHOSEN_PARAM).is_some() {
        prompt.select_account = false;
    }
    let max_age = match form.get("max_age") {
        None => None,
        Some(raw) => Some(raw.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            redirect(OAuthError::invalid_request(
                "max_age must be a non-negative integer",
            ))
        })?),
    };
    let resources = parse_resources(form).map_err(&redirect)?;
    let nonce = form.get("nonce").map(str::to_owned);
    if nonce.as_ref().is_some_and(|n| n.len() > 512) {
        return Err(redirect(OAuthError::invalid_request("nonce is too long")));
    }
    let login_hint = form
        .get("login_hint")
        .map(|h| h.chars().take(254).collect());
    let acr_values: Vec<String> = form
        .get("acr_values")
        .unwrap_or("")
        .split(' ')
        .filter(|v| !v.is_empty())
        .take(16)
        .map(|v| v.chars().take(256).collect())
        .collect();
    let signed_in_proof = form.get(SIGNED_IN_PARAM).map(str::to_owned);
    // A SHA-256 thumbprint: 43 base64url characters (RFC 9449 §10, RFC 7638).
    let dpop_jkt = form.get("dpop_jkt").map(str::to_owned);
    if dpop_jkt.as_deref().is_some_and(|j| {
        j.len() != 43
            || !j
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }) {
        return Err(redirect(OAuthError::invalid_request(
            "dpop_jkt must be the base64url SHA-256 thumbprint of a key",
        )));
    }

    Ok(AuthorizationRequest {
        client_id: client.id.clone(),
        redirect_uri,
        redirect_uri_given: given,
        response_mode,
        state,
        nonce,
        scope,
        scope_given: form.get("scope").is_some(),
        code_challenge,
        prompt,
        max_age,
        acr_values,
        login_hint,
        resources,
        signed_in_proof,
        pushed: match arrival {
            Arrival::Pushed { request_hash } => Some(request_hash),
            Arrival::Browser { .. } | Arrival::Pushing => None,
        },
        dpop_jkt,
    })
}

/// Whether the request is an OpenID Connect one: its scope (or, when it names none, the
/// client's registered scope it would get) contains `openid`.
fn is_openid_request(form: &FormParams, registered: &[&str]) -> bool {
    match form.get("scope") {
        Some(raw) => raw.split(' ').any(|s| s == "openid"),
        None => registered.contains(&"openid"),
    }
}

/// Exact string match with a registered redirect URI; for native clients, a loopback `http`
/// URI may differ in its port only (RFC 8252 §7.3).
pub fn redirect_uri_matches(uri: &str, registered: &[String], app: ApplicationType) -> bool {
    if registered.iter().any(|r| r == uri) {
        return true;
    }
    if app != ApplicationType::Native {
        return false;
    }
    let Ok(given) = Url::parse(uri) else {
        return false;
    };
    if !is_loopback_redirect(&given) {
        return false;
    }
    registered
        .iter()
        .filter_map(|r| Url::parse(r).ok())
        .any(|r| {
            is_loopback_redirect(&r)
                && r.host() == given.host()
                && r.path() == given.path()
                && r.query() == given.query()
                && r.username() == given.username()
                && given.fragment().is_none()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(body: serde_json::Value) -> Client {
        let policy = registration::Policy {
            known_scopes: vec!["openid".into(), "profile".into(), "orders:read".into()],
            default_code_scopes: vec!["openid".into()],
            id_token_algs: vec!["RS256".into()],
            allow_password_grant: false,
            backchannel_logout_loopback: false,
        };
        Client::in_memory(
            "app",
            registration::parse_metadata(&body, &policy).expect("metadata"),
            0,
        )
    }

    fn check(client: &Client, query: &str) -> Result<AuthorizationRequest, AuthorizeError> {
        check_authorization(
            &FormParams::parse(query.as_bytes()).expect("form"),
            Some(client),
        )
    }

    #[test]
    fn rfc9126_a_request_that_must_be_pushed_is_refused_through_the_browser_only() {
        let pushing = client(serde_json::json!({
            "redirect_uris": ["https://app.example/cb"],
            "require_pushed_authorization_requests": true,
        }));
        let form = FormParams::parse(
            b"response_type=code&scope=openid&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&state=s",
        )
        .expect("form");
        let browser = Arrival::Browser {
            pushed_required: false,
        };
        match check_authorization_as(&form, Some(&pushing), browser) {
            Err(AuthorizeError::Redirect { error, state, .. }) => {
                assert_eq!(error.code, ErrorCode::InvalidRequest);
                assert_eq!(state.as_deref(), Some("s"));
            }
            other => panic!("refused at the redirect URI: {other:?}"),
        }
        let pushed = check_authorization_as(&form, Some(&pushing), Arrival::Pushing)
            .expect("accepted when pushed");
        assert_eq!(pushed.pushed(), None);
        let opened = Arrival::Pushed {
            request_hash: "h".into(),
        };
        let from_uri = check_authorization_as(&form, Some(&pushing), opened).expect("opened");
        assert_eq!(from_uri.pushed(), Some("h"));

        // The server's setting requires it of every client.
        let plain = client(serde_json::json!({ "redirect_uris": ["https://app.example/cb"] }));
        let required = Arrival::Browser {
            pushed_required: true,
        };
        assert!(check_authorization_as(&form, Some(&plain), required).is_err());
        assert!(check_authorization(&form, Some(&plain)).is_ok());
    }

    #[test]
    fn oidc_core_3_1_2_1_an_openid_request_without_redirect_uri_gets_a_page() {
        let web = client(serde_json::json!({
            "redirect_uris": ["https://app.example/cb"],
            "scope": "openid orders:read",
        }));
        // The one registered URI would do for OAuth, but OpenID Connect requires it named.
        for query in [
            "response_type=code&scope=openid",
            "response_type=code&scope=orders:read+openid",
            "response_type=code",
            "response_type=token&scope=openid&state=s",
        ] {
            assert!(
                matches!(check(&web, query), Err(AuthorizeError::Page(_))),
                "{query}"
            );
        }
        let plain = check(&web, "response_type=code&scope=orders:read").expect("OAuth request");
        assert_eq!(plain.redirect_uri, "https://app.example/cb");
        assert!(!plain.redirect_uri_given);
        let named = check(
            &web,
            "response_type=code&scope=openid&redirect_uri=https://app.example/cb",
        )
        .expect("OIDC request with its redirect_uri");
        assert!(named.redirect_uri_given);
        // Without openid registered, an absent scope is a plain OAuth request.
        let oauth_only = client(serde_json::json!({
            "redirect_uris": ["https://app.example/cb"],
            "scope": "orders:read",
        }));
        assert!(check(&oauth_only, "response_type=code").is_ok());
    }

    #[test]
    fn rfc8252_8_6_loopback_and_private_use_redirects_are_not_assured() {
        let native = client(serde_json::json!({
            "token_endpoint_auth_method": "none",
            "application_type": "native",
            "redirect_uris": ["https://app.example/cb", "http://127.0.0.1/cb", "com.example.app:/cb"],
        }));
        let ch = "bwWFMyPfdG9qreDhH2lmftFx_dFeLDalzcT1gb_j68g";
        let ask = |uri: &str| {
            let q = format!(
                "response_type=code&scope=openid&code_challenge={ch}&code_challenge_method=S256&redirect_uri={}",
                url::form_urlencoded::byte_serialize(uri.as_bytes()).collect::<String>()
            );
            check(&native, &q).expect("valid").redirects_to_native_app()
        };
        assert!(ask("http://127.0.0.1:50123/cb"));
        assert!(ask("com.example.app:/cb"));
        assert!(
            !ask("https://app.example/cb"),
            "a claimed https URI is the web's"
        );
    }

    #[test]
    fn the_signed_in_marker_is_carried_as_a_proof_not_a_time() {
        let web = client(serde_json::json!({ "redirect_uris": ["https://app.example/cb"] }));
        let req = check(
            &web,
            "response_type=code&scope=openid&redirect_uri=https://app.example/cb&prompt=login&pcl_signed_in=abc",
        )
        .expect("valid");
        assert!(req.prompt.login);
        assert_eq!(req.signed_in_proof.as_deref(), Some("abc"));
    }

    #[test]
    fn loopback_ports_may_vary_for_native_clients_only() {
        let registered = vec![
            "http://127.0.0.1/cb".to_owned(),
            "https://app.example/cb".to_owned(),
        ];
        assert!(redirect_uri_matches(
            "http://127.0.0.1:51000/cb",
            &registered,
            ApplicationType::Native
        ));
        assert!(!redirect_uri_matches(
            "http://127.0.0.1:51000/cb",
            &registered,
            ApplicationType::Web
        ));
        assert!(!redirect_uri_matches(
            "http://127.0.0.1:51000/other",
            &registered,
            ApplicationType::Native
        ));
        assert!(!redirect_uri_matches(
            "http://127.0.0.1:51000/cb?x=1",
            &registered,
            ApplicationType::Native
        ));
        for near_miss in [
            "https://app.example/cb/",
            "https://APP.example/cb",
            "https://app.example/cb?x",
            "https://app.example/cb/../cb",
            "https://app.example/%63b",
        ] {
            assert!(
                !redirect_uri_matches(near_miss, &registered, ApplicationType::Native),
                "{near_miss}"
            );
        }
        assert!(redirect_uri_matches(
            "https://app.example/cb",
            &registered,
            ApplicationType::Web
        ));
    }
}
