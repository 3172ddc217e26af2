//! `application/x-www-form-urlencoded` request bodies with the RFC 6749 §3.1/§3.2 rules:
//! empty values count as absent, a parameter sent twice is an error (only `resource` may repeat,
//! RFC 8707 §2), unknown parameters are ignored.

use crate::OAuthError;

/// Parameters that may appear more than once.
const REPEATABLE: &[&str] = &["resource"];

/// The most parameters a body may carry.
const MAX_PARAMS: usize = 64;

/// A parsed form body. `Debug` shows parameter names only: values may be secrets.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct FormParams {
    pairs: Vec<(String, String)>,
}

impl std::fmt::Debug for FormParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.pairs.iter().map(|(k, _)| k))
            .finish()
    }
}

impl FormParams {
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            if value.is_empty() {
                continue;
            }
            if pairs.len() == MAX_PARAMS {
                return Err(OAuthError::invalid_request("too many parameters"));
            }
            if !REPEATABLE.contains(&name.as_ref()) && pairs.iter().any(|(n, _)| *n == name) {
                return Err(OAuthError::invalid_request(format!(
                    "the {name} parameter is given more than once"
                )));
            }
            pairs.push((name.into_owned(), value.into_owned()));
        }
        Ok(Self { pairs })
    }

    /// Whether a name or value holds a NUL character (no OAuth parameter may; PostgreSQL
    /// refuses to store one).
    pub fn has_nul(&self) -> bool {
        self.pairs
            .iter()
            .any(|(n, v)| n.contains('\0') || v.contains('\0'))
    }

    /// The value of a parameter that appears at most once.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every parameter, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// The parameters as a query string, leaving out `skip`.
    pub fn to_query(&self, skip: &[&str]) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self
            .pairs
            .iter()
            .filter(|(k, _)| !skip.contains(&k.as_str()))
        {
            out.append_pair(k, v);
        }
        out.finish()
    }

    /// Every value of a repeatable parameter.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_are_absent_and_duplicates_refused() {
        let f = FormParams::parse(b"grant_type=client_credentials&scope=&x=1").expect("parse");
        assert_eq!(f.get("grant_type"), Some("client_credentials"));
        assert_eq!(f.get("scope"), None);
        let dup = FormParams::parse(b"scope=a&scope=b").expect_err("duplicate");
        assert_eq!(dup.code, crate::ErrorCode::InvalidRequest);
        assert!(
            FormParams::parse(b"scope=&scope=b").is_ok(),
            "an empty one is absent"
        );
    }

    #[test]
    fn resource_may_repeat_and_values_are_decoded() {
        let f = FormParams::parse(
            b"resource=https%3A%2F%2Fa.example&resource=https://b.example&s=a+b%2Bc",
        )
        .expect("parse");
        assert_eq!(
            f.all("resource"),
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(f.get("s"), Some("a b+c"));
    }

    #[test]
    fn too_many_parameters_are_refused() {
        let body: String = (0..100).map(|i| format!("p{i}=v&")).collect();
        assert!(FormParams::parse(body.as_bytes()).is_err());
    }
}
