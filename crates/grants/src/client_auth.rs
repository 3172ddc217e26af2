//! Client credentials as presented at the token, introspection and revocation endpoints.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use registration::Presented;

use crate::{FormParams, OAuthError};

/// Takes the client credentials out of the `Authorization` header and the form body.
///
/// - `Basic`: base64 of `id:secret`, where id and secret were each form-urlencoded first
///   (RFC 6749 §2.3.1): decoded, split at the first `:`, then form-urldecoded (`+` is a space).
/// - `client_id` + `client_secret` in the body.
/// - `client_id` alone: a public client naming itself.
/// - `client_assertion_type` jwt-bearer + `client_assertion` (RFC 7523 §2.2): the client is
///   the assertion's `sub` (equal to its `iss`); a body `client_id` must name it too, else
///   `invalid_client`. The assertion is verified later, with the client's keys.
///
/// Two methods at once is `invalid_request` (§2.3); a body `client_id` that contradicts the
/// Basic one too. `Ok(None)`: no credentials at all.
pub fn presented_credentials(
    authorization: Option<&str>,
    form: &FormParams,
) -> Result<Option<Presented>, OAuthError> {
    let body_id = form.get("client_id");
    let body_secret = form.get("client_secret");
    let assertion_type = form.get("client_assertion_type");
    let assertion = form.get("client_assertion");
    if assertion_type.is_some() || assertion.is_some() {
        if authorization.is_some() || body_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not a client assertion and a secret together",
            ));
        }
        let (Some(kind), Some(assertion)) = (assertion_type, assertion) else {
            return Err(OAuthError::invalid_request(
                "client_assertion and client_assertion_type go together",
            ));
        };
        if kind != registration::JWT_BEARER_ASSERTION {
            return Err(OAuthError::invalid_client(
                "the only client_assertion_type accepted is urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ));
        }
        let client_id = registration::assertion::assertion_subject(assertion)
            .map_err(|e| OAuthError::invalid_client(e.to_string()))?;
        if body_id.is_some_and(|id| id != client_id) {
            return Err(OAuthError::invalid_client(
                "client_id differs from the client assertion's sub",
            ));
        }
        return Ok(Some(Presented::Assertion {
            client_id,
            assertion: assertion.to_owned(),
        }));
    }
    if let Some(header) = authorization {
        let (client_id, secret) = parse_basic(header)?;
        if body_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not Basic and client_secret together",
            ));
        }
        if body_id.is_some_and(|id| id != client_id) {
            return Err(OAuthError::invalid_request(
                "client_id in the body differs from the one in the Authorization header",
            ));
        }
        return Ok(Some(Presented::Basic { client_id, secret }));
    }
    match (body_id, body_secret) {
        (Some(id), Some(secret)) => Ok(Some(Presented::Post {
            client_id: id.to_owned(),
            secret: secret.to_owned(),
        })),
        (Some(id), None) => Ok(Some(Presented::IdOnly {
            client_id: id.to_owned(),
        })),
        (None, Some(_)) => Err(OAuthError::invalid_request(
            "client_secret without client_id",
        )),
        (None, None) => Ok(None),
    }
}

fn parse_basic(header: &str) -> Result<(String, String), OAuthError> {
    let bad = || OAuthError::invalid_client("malformed Basic credentials");
    let (scheme, rest) = header.trim().split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "only the Basic scheme is accepted for client authentication",
        ));
    }
    let decoded = STANDARD.decode(rest.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let id = form_urldecode(id).ok_or_else(bad)?;
    let secret = form_urldecode(secret).ok_or_else(bad)?;
    if id.is_empty() {
        return Err(bad());
    }
    Ok((id, secret))
}

/// `application/x-www-form-urlencoded` decoding of one value: `+` is a space, `%XX` a byte.
fn form_urldecode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                // Two hex digits: `from_str_radix` alone would take `+4` as 4.
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(raw: &str) -> String {
        format!("Basic {}", STANDARD.encode(raw))
    }

    fn form(body: &str) -> FormParams {
        FormParams::parse(body.as_bytes()).expect("form")
    }

    #[test]
    fn basic_credentials_are_form_urldecoded() {
        let got = presented_credentials(Some(&basic("my%3Aid:s%2Bec+ret%25%3A")), &form(""))
            .expect("ok")
            .expect("some");
        assert_eq!(
            got,
            Presented::Basic {
                client_id: "my:id".into(),
                secret: "s+ec ret%:".into()
            }
        );
    }

    #[test]
    fn the_secret_may_hold_colons() {
        let got = presented_credentials(Some(&basic("id:a:b")), &form(""))
            .expect("ok")
            .expect("some");
        assert_eq!(
            got,
            Presented::Basic {
                client_id: "id".into(),
                secret: "a:b".into()
            }
        );
    }

    #[test]
    fn post_and_public_and_none() {
        assert_eq!(
            presented_credentials(None, &form("client_id=c&client_secret=s")).expect("ok"),
            Some(Presented::Post {
                client_id: "c".into(),
                secret: "s".into()
            })
        );
        assert_eq!(
            presented_credentials(None, &form("client_id=c")).expect("ok"),
            Some(Presented::IdOnly {
                client_id: "c".into()
            })
        );
        assert_eq!(presented_credentials(None, &form("")).expect("ok"), None);
    }

    /// An (unsigned) JWT with these claims: only its claims are read here.
    fn jwt(claims: &str) -> String {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256"}"#),
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    #[test]
    fn a_client_assertion_names_its_client_by_sub() {
        use crate::ErrorCode;
        let good = jwt(r#"{"iss":"c","sub":"c"}"#);
        let kind = format!(
            "client_assertion_type={}",
            registration::JWT_BEARER_ASSERTION
        );
        let body = format!("{kind}&client_assertion={good}");
        assert_eq!(
            presented_credentials(None, &form(&body)).expect("ok"),
            Some(Presented::Assertion {
                client_id: "c".into(),
                assertion: good.clone()
            })
        );
        assert!(presented_credentials(None, &form(&format!("{body}&client_id=c"))).is_ok());
        let cases = [
            (
                None,
                format!("{body}&client_id=other"),
                ErrorCode::InvalidClient,
            ),
            (
                None,
                format!("{body}&client_secret=s"),
                ErrorCode::InvalidRequest,
            ),
            (Some(basic("c:s")), body.clone(), ErrorCode::InvalidRequest),
            (
                None,
                format!("client_assertion={good}"),
                ErrorCode::InvalidRequest,
            ),
            (None, kind.clone(), ErrorCode::InvalidRequest),
            (
                None,
                format!("client_assertion_type=urn:x&client_assertion={good}"),
                ErrorCode::InvalidClient,
            ),
            (
                None,
                format!(
                    "{kind}&client_assertion={}",
                    jwt(r#"{"iss":"a","sub":"c"}"#)
                ),
                ErrorCode::InvalidClient,
            ),
            (
                None,
                format!("{kind}&client_assertion=nope"),
                ErrorCode::InvalidClient,
            ),
        ];
        for (header, body, code) in cases {
            let err =
                presented_credentials(header.as_deref(), &form(&body)).expect_err("should fail");
            assert_eq!(err.code, code, "{header:?} {body}");
        }
    }

    #[test]
    fn mixing_methods_or_malformed_headers_fail() {
        use crate::ErrorCode;
        let cases = [
            (
                Some(basic("id:s")),
                "client_secret=s",
                ErrorCode::InvalidRequest,
            ),
            (
                Some(basic("id:s")),
                "client_id=other",
                ErrorCode::InvalidRequest,
            ),
            (None, "client_secret=s", ErrorCode::InvalidRequest),
            (Some("Basic !!!".to_owned()), "", ErrorCode::InvalidClient),
            (Some(basic("no-colon")), "", ErrorCode::InvalidClient),
            (Some(basic(":secret")), "", ErrorCode::InvalidClient),
            (Some(basic("id:%zz")), "", ErrorCode::InvalidClient),
            (Some(basic("id:%+4")), "", ErrorCode::InvalidClient),
            (Some(basic("i%+d:s")), "", ErrorCode::InvalidClient),
            (Some(basic("id:%4")), "", ErrorCode::InvalidClient),
            (Some("Bearer abc".to_owned()), "", ErrorCode::InvalidClient),
            (Some("Basic".to_owned()), "", ErrorCode::InvalidClient),
        ];
        for (header, body, code) in cases {
            let err =
                presented_credentials(header.as_deref(), &form(body)).expect_err("should fail");
            assert_eq!(err.code, code, "{header:?} {body}");
        }
        assert!(presented_credentials(Some(&basic("id:s")), &form("client_id=id")).is_ok());
    }
}
