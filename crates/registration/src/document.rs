//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document): a `client_id`
//! that is an `https` URL names a JSON document, published by the client, holding its metadata.
//! Nobody registered such a client here; the document is its word about itself.
//!
//! This module decides what a URL client id may look like ([`document_url`]) and which
//! documents make a client ([`client_from_document`]); fetching the document (addresses, size,
//! time, caching) is the server's job. The rules, from the draft:
//! - The URL is `https`, has a path, no fragment, no user or password, no `.` or `..` segment,
//!   and is written as the URL parser writes it (so two spellings cannot name one client).
//! - The document's `client_id` equals the URL exactly.
//! - No shared secret: `client_secret`, `client_secret_expires_at` and the secret-based
//!   `token_endpoint_auth_method`s are refused. A document may say `private_key_jwt`, with its
//!   public keys in `jwks` or at `jwks_uri` (checked as at registration); a document without
//!   the field is a public client (`none`).
//! - `redirect_uris` is required; every other field goes through [`crate::parse_metadata`],
//!   the validation of dynamic registration.
//! - A `logo_uri` on another host than the document's is dropped: the consent page would
//!   otherwise show a picture of anyone's choosing beside the client's self-chosen name.

use serde_json::Value;
use url::Url;

use crate::client::Client;
use crate::metadata::{Policy, parse_metadata};

/// Whether `id` is a URL client id (to be resolved by its metadata document) rather than an
/// id this server gave out. Ours are base64url and never hold `:`.
pub fn is_url_client_id(id: &str) -> bool {
    id.starts_with("https://") || id.starts_with("http://")
}

/// Why a URL client id or its document names no client. The descriptions are safe to show
/// the client and the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("the client_id URL is not acceptable: {0}")]
    BadUrl(&'static str),
    #[error("the client's metadata document is not acceptable: {0}")]
    Invalid(String),
}

fn invalid(why: impl Into<String>) -> DocumentError {
    DocumentError::Invalid(why.into())
}

/// The URL of a URL client id, checked. `allow_loopback_http` admits `http://127.0.0.1`,
/// `http://[::1]` and `http://localhost` documents (a test setting, never the default).
pub fn document_url(id: &str, allow_loopback_http: bool) -> Result<Url, DocumentError> {
    let url = Url::parse(id).map_err(|_| DocumentError::BadUrl("it is not a URL"))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
    match url.scheme() {
        "https" => {}
        "http" if allow_loopback_http && loopback => {}
        _ => return Err(DocumentError::BadUrl("it must be an https URL")),
    }
    if url.fragment().is_some() || id.contains('#') {
        return Err(DocumentError::BadUrl("it must not have a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(DocumentError::BadUrl(
            "it must not hold a user name or password",
        ));
    }
    if url.path() == "/" || url.path().is_empty() {
        return Err(DocumentError::BadUrl("it must have a path"));
    }
    // The parser resolves `.` and `..` segments (plain or `%2e`) and normalizes the host and
    // port: an id it would rewrite is refused, so what was fetched is what the id says.
    if url.as_str() != id {
        return Err(DocumentError::BadUrl(
            "it must be written in normal form, without . or .. segments",
        ));
    }
    Ok(url)
}

/// The client a fetched metadata document describes, checked against its URL and `policy`.
pub fn client_from_document(
    url: &Url,
    document: &Value,
    policy: &Policy,
    now: i64,
) -> Result<Client, DocumentError> {
    let Value::Object(fields) = document else {
        return Err(invalid("it must be a JSON object"));
    };
    match fields.get("client_id") {
        Some(Value::String(id)) if id == url.as_str() => {}
        Some(Value::String(_)) => {
            return Err(invalid("its client_id is not the URL it was fetched from"));
        }
        _ => return Err(invalid("it must name its client_id")),
    }
    for secret in ["client_secret", "client_secret_expires_at"] {
        if fields.contains_key(secret) {
            return Err(invalid(format!(
                "it must not hold {secret}: a public document cannot keep a secret"
            )));
        }
    }
    let method = match fields.get("token_endpoint_auth_method") {
        None => "none",
        Some(Value::String(m)) if m == "none" || m == "private_key_jwt" => m.as_str(),
        Some(Value::String(m)) => {
            return Err(invalid(format!(
                "token_endpoint_auth_method {m:?} is not allowed: a document cannot hold a shared secret (none or private_key_jwt)"
            )));
        }
        Some(_) => return Err(invalid("token_endpoint_auth_method must be a string")),
    };
    match fields.get("redirect_uris") {
        Some(Value::Array(list)) if !list.is_empty() => {}
        _ => return Err(invalid("redirect_uris is required")),
    }
    let mut body = fields.clone();
    body.remove("client_id");
    body.insert("token_endpoint_auth_method".into(), method.into());
    let mut metadata = parse_metadata(&Value::Object(body), policy)
        .map_err(|e| invalid(format!("{}: {}", e.code.as_str(), e.description)))?;
    let same_host = |uri: &str| {
        Url::parse(uri)
            .ok()
            .is_some_and(|u| u.host_str() == url.host_str())
    };
    if metadata.logo_uri.as_deref().is_some_and(|l| !same_host(l)) {
        metadata.logo_uri = None;
    }
    Ok(Client::from_document(url.as_str(), metadata, now))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const URL: &str = "https://app.example.com/oauth/client.json";

    fn policy() -> Policy {
        Policy {
            known_scopes: vec!["openid".into(), "offline_access".into()],
            default_code_scopes: vec!["openid".into()],
            id_token_algs: vec!["RS256".into()],
            allow_password_grant: false,
            backchannel_logout_loopback: false,
        }
    }

    fn url() -> Url {
        document_url(URL, false).expect("url")
    }

    #[test]
    fn url_client_ids_follow_the_draft() {
        assert!(document_url(URL, false).is_ok());
        assert!(document_url("https://app.example.com:8443/c?v=1", false).is_ok());
        for bad in [
            "http://app.example.com/client.json",
            "https://app.example.com",
            "https://app.example.com/",
            "https://app.example.com/client.json#x",
            "https://user:pw@app.example.com/client.json",
            "https://app.example.com/a/../client.json",
            "https://app.example.com/a/./client.json",
            "https://app.example.com/a/%2e%2e/client.json",
            "https://APP.example.com/client.json",
            "https://app.example.com:443/client.json",
            "ftp://app.example.com/client.json",
            "http://127.0.0.1:8080/client.json",
        ] {
            assert!(document_url(bad, false).is_err(), "{bad}");
        }
        assert!(document_url("http://127.0.0.1:8080/client.json", true).is_ok());
        assert!(document_url("http://10.0.0.1:8080/client.json", true).is_err());
        assert!(is_url_client_id(URL) && !is_url_client_id("aB3_x-9"));
    }

    fn doc(extra: Value) -> Value {
        let mut d = json!({
            "client_id": URL,
            "client_name": "App",
            "redirect_uris": ["https://app.example.com/cb"],
        });
        if let (Value::Object(d), Value::Object(e)) = (&mut d, extra) {
            d.extend(e);
        }
        d
    }

    #[test]
    fn a_good_document_is_a_public_self_described_client() {
        let c = client_from_document(&url(), &doc(json!({})), &policy(), 5).expect("client");
        assert_eq!(c.id, URL);
        assert!(c.is_self_described() && !c.is_confidential());
        assert!(c.is_dynamically_registered(), "nobody vouches for it");
        assert_eq!(c.metadata.redirect_uris, ["https://app.example.com/cb"]);
    }

    #[test]
    fn attack_documents_that_break_the_rules_are_refused() {
        let cases = [
            (
                json!({"client_id": "https://other.example/c.json"}),
                "client_id",
            ),
            (json!({"client_secret": "s"}), "client_secret"),
            (
                json!({"client_secret_expires_at": 0}),
                "client_secret_expires_at",
            ),
            (
                json!({"token_endpoint_auth_method": "client_secret_basic"}),
                "shared secret",
            ),
            (
                json!({"token_endpoint_auth_method": "client_secret_post"}),
                "shared secret",
            ),
            (
                json!({"token_endpoint_auth_method": "client_secret_jwt"}),
                "shared secret",
            ),
            (
                json!({"token_endpoint_auth_method": "private_key_jwt"}),
                "jwks or jwks_uri",
            ),
            (
                json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "x", "y": "y", "d": "d"}]}}),
                "private member",
            ),
            (json!({"redirect_uris": []}), "redirect_uris"),
            (
                json!({"redirect_uris": ["https://app.example.com/cb#f"]}),
                "invalid_redirect_uri",
            ),
            (json!({"scope": "admin"}), "invalid_client_metadata"),
        ];
        for (extra, why) in cases {
            let err = client_from_document(&url(), &doc(extra.clone()), &policy(), 5)
                .expect_err("refused");
            assert!(err.to_string().contains(why), "{extra}: {err}");
        }
        assert!(client_from_document(&url(), &json!([1]), &policy(), 5).is_err());
    }

    #[test]
    fn a_document_may_authenticate_with_its_published_keys() {
        let keyed = doc(json!({
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks_uri": "https://app.example.com/jwks.json",
        }));
        let c = client_from_document(&url(), &keyed, &policy(), 5).expect("client");
        assert_eq!(
            c.metadata.token_endpoint_auth_method,
            crate::AuthMethod::PrivateKeyJwt
        );
        assert!(c.is_confidential() && c.is_self_described());
        assert_eq!(
            c.metadata.jwks_uri.as_deref(),
            Some("https://app.example.com/jwks.json")
        );
    }

    #[test]
    fn a_logo_from_another_host_is_dropped() {
        let other = doc(json!({"logo_uri": "https://evil.example/bank.png"}));
        let c = client_from_document(&url(), &other, &policy(), 5).expect("client");
        assert_eq!(c.metadata.logo_uri, None);
        let own = doc(json!({"logo_uri": "https://app.example.com/logo.png"}));
        let c = client_from_document(&url(), &own, &policy(), 5).expect("client");
        assert_eq!(
            c.metadata.logo_uri.as_deref(),
            Some("https://app.example.com/logo.png")
        );
    }
}
