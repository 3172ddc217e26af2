//! The token request, parsed by `grant_type` into just the fields each grant has.

use url::Url;

use crate::{ErrorCode, FormParams, OAuthError};

/// A token-endpoint request (RFC 6749 §4, §6). `Debug` leaves out codes, tokens, verifiers and
/// passwords.
#[derive(Clone, PartialEq, Eq)]
pub enum TokenRequest {
    /// RFC 6749 §4.4.
    ClientCredentials {
        /// The scopes asked for; `None` means "what the client registered".
        scope: Option<String>,
        /// RFC 8707 resource indicators.
        resources: Vec<String>,
    },
    /// RFC 6749 §4.1.3.
    AuthorizationCode {
        code: String,
        redirect_uri: Option<String>,
        code_verifier: Option<String>,
    },
    /// RFC 6749 §6.
    RefreshToken {
        refresh_token: String,
        /// A narrower scope; `None` keeps the granted one.
        scope: Option<String>,
    },
    /// RFC 6749 §4.3, the legacy password grant (`username`, also accepted as `userName`).
    Password {
        username: String,
        password: String,
        scope: Option<String>,
    },
}

impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ClientCredentials { scope, resources } => f
                .debug_struct("ClientCredentials")
                .field("scope", scope)
                .field("resources", resources)
                .finish(),
            Self::AuthorizationCode { redirect_uri, .. } => f
                .debug_struct("AuthorizationCode")
                .field("redirect_uri", redirect_uri)
                .finish_non_exhaustive(),
            Self::RefreshToken { scope, .. } => f
                .debug_struct("RefreshToken")
                .field("scope", scope)
                .finish_non_exhaustive(),
            Self::Password {
                username, scope, ..
            } => f
                .debug_struct("Password")
                .field("username", username)
                .field("scope", scope)
                .finish_non_exhaustive(),
        }
    }
}

impl TokenRequest {
    /// The `grant_type` this request was made with.
    pub fn grant_type(&self) -> &'static str {
        match self {
            Self::ClientCredentials { .. } => "client_credentials",
            Self::AuthorizationCode { .. } => "authorization_code",
            Self::RefreshToken { .. } => "refresh_token",
            Self::Password { .. } => "password",
        }
    }

    pub fn parse(form: &FormParams) -> Result<Self, OAuthError> {
        match form.get("grant_type") {
            None => Err(OAuthError::invalid_request("grant_type is missing")),
            Some("client_credentials") => Ok(Self::ClientCredentials {
                scope: form.get("scope").map(str::to_owned),
                resources: parse_resources(form)?,
            }),
            Some("authorization_code") => Ok(Self::AuthorizationCode {
                code: form
                    .get("code")
                    .ok_or_else(|| OAuthError::invalid_request("code is missing"))?
                    .to_owned(),
                redirect_uri: form.get("redirect_uri").map(str::to_owned),
                code_verifier: form.get("code_verifier").map(str::to_owned),
            }),
            Some("refresh_token") => Ok(Self::RefreshToken {
                refresh_token: form
                    .get("refresh_token")
                    .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?
                    .to_owned(),
                scope: form.get("scope").map(str::to_owned),
            }),
            Some("password") => {
                let username = match (form.get("username"), form.get("userName")) {
                    (Some(_), Some(_)) => {
                        return Err(OAuthError::invalid_request(
                            "send username or userName, not both",
                        ));
                    }
                    (Some(u), None) | (None, Some(u)) => u.to_owned(),
                    (None, None) => return Err(OAuthError::invalid_request("username is missing")),
                };
                Ok(Self::Password {
                    username,
                    password: form
                        .get("password")
                        .ok_or_else(|| OAuthError::invalid_request("password is missing"))?
                        .to_owned(),
                    scope: form.get("scope").map(str::to_owned),
                })
            }
            Some(other) => Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                format!("grant_type {other} is not supported by this server"),
            )),
        }
    }
}

/// The audience of first-party tokens (JSON sign-in, invite acceptance and operator-made
/// first-party clients): the account and organization API accepts user tokens only with it.
/// It lives in a namespace of ours that no `resource` parameter may name
/// ([`parse_resources`] refuses it), so no third-party client can obtain it.
pub const FIRST_PARTY_AUDIENCE: &str = "urn:portcullis:first-party";

/// The namespace of audiences only Portcullis itself assigns.
const RESERVED_AUDIENCES: &str = "urn:portcullis:";

/// Whether an audience is one only Portcullis assigns (never a `resource` a client may ask for).
pub fn is_reserved_audience(aud: &str) -> bool {
    aud.get(..RESERVED_AUDIENCES.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(RESERVED_AUDIENCES))
}

/// The `resource` parameters: absolute URIs without a fragment (RFC 8707 §2), none in our
/// reserved namespace (`invalid_target`).
pub fn parse_resources(form: &FormParams) -> Result<Vec<String>, OAuthError> {
    let mut out: Vec<String> = Vec::new();
    for raw in form.all("resource") {
        let ok = raw.len() <= 2000 && !raw.contains('#') && Url::parse(raw).is_ok();
        if !ok {
            return Err(OAuthError::new(
                ErrorCode::InvalidTarget,
                "resource must be an absolute URI without a fragment",
            ));
        }
        if is_reserved_audience(raw) {
            return Err(OAuthError::new(
                ErrorCode::InvalidTarget,
                "this resource is reserved for the server's own sign-in",
            ));
        }
        if !out.iter().any(|r| r == raw) {
            out.push(raw.to_owned());
        }
    }
    if out.len() > 10 {
        return Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            "at most 10 resources",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<TokenRequest, OAuthError> {
        TokenRequest::parse(&FormParams::parse(body.as_bytes()).expect("form"))
    }

    #[test]
    fn grant_types() {
        assert_eq!(
            parse("").expect_err("missing").code,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            parse("grant_type=password").expect_err("x").code,
            ErrorCode::InvalidRequest,
            "password without username"
        );
        let p = parse("grant_type=password&userName=ada&password=secret-pw").expect("ok");
        assert!(
            !format!("{p:?}").contains("secret-pw"),
            "Debug hides the password"
        );
        assert!(parse("grant_type=password&userName=a&username=b&password=x").is_err());
        assert_eq!(
            parse("grant_type=implicit").expect_err("x").code,
            ErrorCode::UnsupportedGrantType
        );
        assert_eq!(
            parse("grant_type=client_credentials&scope=a+b&resource=https://api.example")
                .expect("ok"),
            TokenRequest::ClientCredentials {
                scope: Some("a b".into()),
                resources: vec!["https://api.example".into()]
            }
        );
    }

    #[test]
    fn resources_must_be_absolute_without_fragment() {
        for bad in [
            "resource=api",
            "resource=https://a.example/%23x#f",
            "resource=%2Frelative",
        ] {
            let err = parse(&format!("grant_type=client_credentials&{bad}")).expect_err(bad);
            assert_eq!(err.code, ErrorCode::InvalidTarget, "{bad}");
        }
    }
}
