//! The client side of signing in with another OpenID provider (`[upstream.NAME]`), with the
//! `openidconnect` crate: discovery (lazily, cached), the authorization request (code, PKCE
//! S256, nonce, state) and the answer (code exchanged, ID token verified: signature, issuer,
//! audience, nonce, expiry; the address from userinfo when the ID token has none).
//!
//! openidconnect's HTTP goes through awc, actix's own client, already in the build for the
//! gateway: openidconnect's `AsyncHttpClient` asks no `Send` of its futures, so awc's
//! single-threaded ones serve on the worker that handles the request, and the server binary
//! carries no second HTTP stack. Redirects are not followed (a provider's endpoints answer
//! where discovery says), bodies are bounded, every call has a timeout.
//!
//! Discovery happens on a provider's first use, not at start: a provider that is down does not
//! stop the server, and its button answers "unavailable" until it is back. The document (and
//! its keys) is kept for [`DISCOVERY_TTL`]; a failure is remembered for [`RETRY_AFTER`] so a
//! provider that is down is not asked on every click; an ID token that fails verification drops
//! the document, so rotated keys are fetched on the next try.
//!
//! Below `routes/`: it imports nothing from there. Nothing here logs a code, token or secret.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse as _, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    SubjectIdentifier, TokenResponse as _,
};

use crate::config::UpstreamProvider;
use crate::state::AppState;

/// How long a discovery document (and the keys it led to) is used before it is fetched again.
pub const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// After a failed discovery, how long clicks are answered "unavailable" without asking again.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);
/// Timeout of one call to a provider.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest body read from a provider.
const MAX_BODY: usize = 256 * 1024;

/// Why a sign-in with a provider could not be completed. Shown as a page (`errors/page.rs`);
/// the detail is logged, never shown.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Discovery failed (now, or a moment ago).
    #[error("the provider's discovery failed: {0}")]
    Unavailable(String),
    /// The token endpoint refused the code, or could not be reached.
    #[error("the code exchange failed: {0}")]
    Exchange(String),
    /// The ID token is missing, or failed verification.
    #[error("the ID token is not acceptable: {0}")]
    IdToken(String),
    /// Userinfo failed.
    #[error("userinfo failed: {0}")]
    UserInfo(String),
}

#[derive(Debug)]
enum Discovery {
    Unknown,
    Known {
        metadata: Box<CoreProviderMetadata>,
        at: Instant,
    },
    Failed {
        at: Instant,
    },
}

/// One configured provider and what discovery told of it.
#[derive(Debug)]
pub struct Provider {
    pub config: UpstreamProvider,
    discovery: Mutex<Discovery>,
}

/// The configured providers, in the settings' order.
#[derive(Debug, Default)]
pub struct Upstreams {
    providers: Vec<Provider>,
}

impl Upstreams {
    pub fn new(list: &[UpstreamProvider]) -> Self {
        Self {
            providers: list
                .iter()
                .map(|config| Provider {
                    config: config.clone(),
                    discovery: Mutex::new(Discovery::Unknown),
                })
                .collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.config.name == name)
    }

    /// `(name, display name)` of each provider, for the sign-in and account pages.
    pub fn buttons(&self) -> Vec<(String, String)> {
        self.providers
            .iter()
            .map(|p| (p.config.name.clone(), p.config.display_name.clone()))
            .collect()
    }
}

/// The HTTP client openidconnect is handed: awc, no redirects, a timeout.
fn awc_client() -> awc::Client {
    // Several workers race here; only the first install wins, and that is fine.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    awc::Client::builder()
        .disable_redirects()
        .timeout(CALL_TIMEOUT)
        .finish()
}

/// A failure of the HTTP client (connection, timeout, body too large, a header that does not
/// convert).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpFailure(String);

/// One request of openidconnect, sent with awc.
async fn send(
    client: &awc::Client,
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, HttpFailure> {
    let fail = |e: &dyn std::fmt::Display| HttpFailure(e.to_string());
    let method = awc::http::Method::from_bytes(request.method().as_str().as_bytes())
        .map_err(|e| fail(&e))?;
    let mut req = client.request(method, request.uri().to_string());
    for (name, value) in request.headers() {
        req = req.append_header((name.as_str(), value.as_bytes()));
    }
    let mut res = req
        .send_body(request.into_body())
        .await
        .map_err(|e| fail(&e))?;
    let body = res.body().limit(MAX_BODY).await.map_err(|e| fail(&e))?;
    let mut out = openidconnect::http::Response::builder().status(res.status().as_u16());
    for (name, value) in res.headers() {
        out = out.header(name.as_str(), value.as_bytes());
    }
    out.body(body.to_vec()).map_err(|e| fail(&e))
}

impl Provider {
    /// The provider's discovery document: the cached one, or fetched now.
    async fn metadata(&self) -> Result<CoreProviderMetadata, UpstreamError> {
        {
            let known = self.discovery.lock().unwrap_or_else(|p| p.into_inner());
            match &*known {
                Discovery::Known { metadata, at } if at.elapsed() < DISCOVERY_TTL => {
                    return Ok((**metadata).clone());
                }
                Discovery::Failed { at } if at.elapsed() < RETRY_AFTER => {
                    return Err(UpstreamError::Unavailable(
                        "failed a moment ago; not asked again yet".into(),
                    ));
                }
                _ => {}
            }
        }
        let issuer = IssuerUrl::new(self.config.issuer.as_str().trim_end_matches('/').to_owned())
            .map_err(|e| UpstreamError::Unavailable(e.to_string()))?;
        let client = awc_client();
        let http = |req| send(&client, req);
        // openidconnect checks that the document names this issuer, and fetches its keys.
        let found = CoreProviderMetadata::discover_async(issuer, &http).await;
        let mut known = self.discovery.lock().unwrap_or_else(|p| p.into_inner());
        match found {
            Ok(metadata) => {
                *known = Discovery::Known {
                    metadata: Box::new(metadata.clone()),
                    at: Instant::now(),
                };
                Ok(metadata)
            }
            Err(e) => {
                *known = Discovery::Failed { at: Instant::now() };
                Err(UpstreamError::Unavailable(error_chain(&e)))
            }
        }
    }

    /// Forgets the discovery document (an ID token failed verification: the keys may have
    /// rotated).
    fn forget(&self) {
        *self.discovery.lock().unwrap_or_else(|p| p.into_inner()) = Discovery::Unknown;
    }

    fn redirect_uri(&self, state: &AppState) -> Result<RedirectUrl, UpstreamError> {
        RedirectUrl::new(format!(
            "{}/login/upstream/{}/callback",
            state.settings.issuer_str(),
            self.config.name
        ))
        .map_err(|e| UpstreamError::Unavailable(e.to_string()))
    }

    fn client(
        &self,
        state: &AppState,
        metadata: CoreProviderMetadata,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        UpstreamError,
    > {
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            self.config
                .client_secret
                .as_ref()
                .map(|s| ClientSecret::new(s.expose().to_owned())),
        )
        .set_redirect_uri(self.redirect_uri(state)?))
    }

    /// An authorization request: where to send the browser, and what to keep for the answer.
    pub async fn authorization_request(
        &self,
        state: &AppState,
    ) -> Result<AuthorizationRequest, UpstreamError> {
        let metadata = self.metadata().await?;
        let client = self.client(state, metadata)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let oauth_state = primitives::random_token(32);
        let nonce = primitives::random_token(32);
        let (state_for_url, nonce_for_url) = (oauth_state.clone(), nonce.clone());
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state_for_url.clone()),
                move || Nonce::new(nonce_for_url.clone()),
            )
            .set_pkce_challenge(challenge);
        for scope in self.config.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, _, _) = request.url();
        Ok(AuthorizationRequest {
            url: url.to_string(),
            state: oauth_state,
            nonce,
            pkce_verifier: verifier.secret().to_owned(),
        })
    }

    /// The provider's answer: the code exchanged (with the PKCE verifier), the ID token
    /// verified (signature, issuer, audience, expiry by the injected clock, and `nonce`), and
    /// who it names.
    pub async fn finish(
        &self,
        state: &AppState,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<accounts::UpstreamClaims, UpstreamError> {
        let metadata = self.metadata().await?;
        let client = self.client(state, metadata)?;
        let http_client = awc_client();
        let http = |req| send(&http_client, req);
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| UpstreamError::Exchange(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&http)
            .await
            .map_err(|e| UpstreamError::Exchange(error_chain(&e)))?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| UpstreamError::IdToken("the token response has none".into()))?;
        let clock = state.clock.clone();
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs([
                CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                CoreJwsSigningAlgorithm::RsaSsaPssSha256,
                CoreJwsSigningAlgorithm::EcdsaP256Sha256,
                CoreJwsSigningAlgorithm::EdDsa,
            ])
            .set_time_fn(move || {
                chrono::DateTime::from_timestamp(clock.now(), 0).unwrap_or_default()
            });
        let claims = match id_token.claims(&verifier, &Nonce::new(nonce.to_owned())) {
            Ok(claims) => claims,
            Err(e) => {
                self.forget();
                return Err(UpstreamError::IdToken(error_chain(&e)));
            }
        };
        let mut found = accounts::UpstreamClaims {
            provider: self.config.name.clone(),
            issuer: claims.issuer().as_str().to_owned(),
            subject: claims.subject().as_str().to_owned(),
            email: claims.email().map(|e| e.as_str().to_owned()),
            email_verified: claims.email_verified() == Some(true),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_owned()),
        };
        // The address from userinfo, for a provider whose ID token has none; the answer must
        // be about the ID token's subject. No userinfo endpoint: the ID token is all there is.
        if found.email.is_none()
            && let Ok(request) = client.user_info(
                tokens.access_token().clone(),
                Some(SubjectIdentifier::new(found.subject.clone())),
            )
        {
            let info: openidconnect::core::CoreUserInfoClaims = request
                .request_async(&http)
                .await
                .map_err(|e| UpstreamError::UserInfo(error_chain(&e)))?;
            found.email = info.email().map(|e| e.as_str().to_owned());
            found.email_verified = info.email_verified() == Some(true);
            if found.name.is_none() {
                found.name = info
                    .name()
                    .and_then(|n| n.get(None))
                    .map(|n| n.as_str().to_owned());
            }
        }
        Ok(found)
    }
}

/// What starting a sign-in at a provider gives: the URL to send the browser to, and what the
/// answer is checked against (kept server-side, see `routes/upstream.rs`).
pub struct AuthorizationRequest {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

impl std::fmt::Debug for AuthorizationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthorizationRequest(..)")
    }
}

/// An error with its sources, on one line (openidconnect nests the useful part).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
