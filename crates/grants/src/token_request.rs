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
        /// RFC 8707 §2.2: selects among the resources the code was granted for.
        resources: Vec<String>,
    },
    /// RFC 6749 §6.
    RefreshToken {
        refresh_token: String,
        /// A narrower scope; `None` keeps the granted one.
        scope: Option<String>,
        /// RFC 8707 §2.2: selects among the resources of the original grant; none keeps them.
        resources: Vec<String>,
    },
    /// RFC 8628 §3.4, a device polling with its device code.
    DeviceCode { device_code: String },
    /// RFC 6749 §4.3, the legacy password grant (`username`, also accepted as `userName`).
    Password {
        username: String,
        password: String,
        scope: Option<String>,
    },
    /// RFC 8693 token exchange.
    TokenExchange(crate::ExchangeRequest),
}

impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ClientCredentials { scope, resources } => f
                .debug_struct("ClientCredentials")
                .field("scope", scope)
                .field("resources", resources)
                .finish(),
            Self::AuthorizationCode {
                redirect_uri,
                resources,
                ..
            } => f
                .debug_struct("AuthorizationCode")
                .field("redirect_uri", redirect_uri)
                .field("resources", resources)
                .finish_non_exhaustive(),
            Self::RefreshToken {
                scope, resources, ..
            } => f
                .debug_struct("RefreshToken")
                .field("scope", scope)
                .field("resources", resources)
                .finish_non_exhaustive(),
            Self::DeviceCode { .. } => f.debug_struct("DeviceCode").finish_non_exhaustive(),
            Self::Password {
                username, scope, ..
            } => f
                .debug_struct("Password")
                .field("username", username)
                .field("scope", scope)
                .finish_non_exhaustive(),
            Self::TokenExchange(r) => r.fmt(f),
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
            Self::TokenExchange(_) => registration::TOKEN_EXCHANGE,
            Self::DeviceCode { .. } => DEVICE_CODE_GRANT,
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
                resources: parse_resources(form)?,
            }),
            Some("refresh_token") => Ok(Self::RefreshToken {
                refresh_token: form
                    .get("refresh_token")
                    .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?
                    .to_owned(),
                scope: form.get("scope").map(str::to_owned),
                resources: parse_resources(form)?,
            }),
            Some(DEVICE_CODE_GRANT) => Ok(Self::DeviceCode {
                device_code: form
                    .get("device_code")
                    .ok_or_else(|| OAuthError::invalid_request("device_code is missing"))?
                    .to_owned(),
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
            Some(registration::TOKEN_EXCHANGE) => {
                Ok(Self::TokenExchange(crate::ExchangeRequest::parse(form)?))
            }
            Some(other) => Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                format!("grant_type {other} is not supported by this server"),
            )),
        }
    }
}

/// The `grant_type` of RFC 8628 §3.4.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

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

/// The audiences of a token issued from a user's grant (RFC 8707 §2.2): the resources asked for
/// at the token endpoint, each of which must have been granted, or all granted ones when none is
/// asked. `granted` empty means the grant named none and holds the default audiences only
/// (this server, and for a first-party client the first-party audience). Never widens: asking
/// for anything else is `invalid_target`.
pub fn select_resources(
    granted: &[String],
    asked: &[String],
    default_audience: &[String],
) -> Result<Vec<String>, OAuthError> {
    let granted = if granted.is_empty() {
        default_audience
    } else {
        granted
    };
    if let Some(extra) = asked.iter().find(|a| !granted.contains(a)) {
        return Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            format!(
                "{extra} was not granted; a token request can narrow the resources, never widen them"
            ),
        ));
    }
    Ok(if asked.is_empty() {
        granted.to_vec()
    } else {
        granted
            .iter()
            .filter(|g| asked.contains(g))
            .cloned()
            .collect()
    })
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
        let d =
            parse("grant_type=urn:ietf:params:oauth:grant-type:device_code&device_code=dc-secret")
                .expect("device");
        assert_eq!(d.grant_type(), DEVICE_CODE_GRANT);
        assert!(
            !format!("{d:?}").contains("dc-secret"),
            "Debug hides the device code"
        );
        assert_eq!(
            parse("grant_type=urn:ietf:params:oauth:grant-type:device_code")
                .expect_err("no code")
                .code,
            ErrorCode::InvalidRequest
        );
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

    fn issuer() -> Vec<String> {
        vec!["https://issuer.example".to_owned()]
    }

    #[test]
    fn rfc8707_2_2_resources_are_selected_among_the_granted_never_widened() {
        let granted = vec![
            "https://a.example/".to_owned(),
            "https://b.example/".to_owned(),
        ];
        let sel = |asked: &[&str]| {
            let asked: Vec<String> = asked.iter().map(|s| (*s).to_owned()).collect();
            select_resources(&granted, &asked, &issuer())
        };
        assert_eq!(sel(&[]).expect("all"), granted);
        assert_eq!(
            sel(&["https://b.example/"]).expect("one"),
            vec!["https://b.example/"]
        );
        for wider in [
            &["https://c.example/"][..],
            &["https://a.example/", "https://c.example/"],
            &["https://issuer.example"],
        ] {
            assert_eq!(
                sel(wider).expect_err("wider").code,
                ErrorCode::InvalidTarget,
                "{wider:?}"
            );
        }
        // A grant that named none holds the default audience, and only that.
        let none: Vec<String> = Vec::new();
        assert_eq!(
            select_resources(&none, &[], &issuer()).expect("default"),
            vec!["https://issuer.example"]
        );
        assert_eq!(
            select_resources(&none, &["https://issuer.example".into()], &issuer()).expect("same"),
            vec!["https://issuer.example"]
        );
        assert_eq!(
            select_resources(&none, &["https://a.example/".into()], &issuer())
                .expect_err("x")
                .code,
            ErrorCode::InvalidTarget
        );
    }

    #[test]
    fn code_and_refresh_requests_carry_their_resources() {
        let r =
            parse("grant_type=refresh_token&refresh_token=rt&resource=https://mcp.example.com/mcp")
                .expect("ok");
        assert!(
            matches!(r, TokenRequest::RefreshToken { ref resources, .. } if resources == &["https://mcp.example.com/mcp"])
        );
        let c = parse("grant_type=authorization_code&code=c&resource=https://a.example&resource=https://b.example").expect("ok");
        assert!(
            matches!(c, TokenRequest::AuthorizationCode { ref resources, .. } if resources.len() == 2)
        );
        for grant in [
            "grant_type=refresh_token&refresh_token=rt",
            "grant_type=authorization_code&code=c",
        ] {
            assert_eq!(
                parse(&format!("{grant}&resource=relative"))
                    .expect_err("x")
                    .code,
                ErrorCode::InvalidTarget
            );
        }
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
