//! `PORTCULLIS_SMTP_URL`, parsed once into what the SMTP transport needs.

use std::fmt;

use url::{Host, Url};

use crate::MailError;

/// The submission port (RFC 6409): plain `smtp://` without a port. lettre uses 587 as well
/// whenever STARTTLS is asked for (its own `smtp://` default without TLS is 25, which this
/// crate never uses: mail from an application is submission, and STARTTLS is always tried).
pub const SUBMISSION_PORT: u16 = 587;
/// The submissions port (RFC 8314): `smtps://` without a port.
pub const SUBMISSIONS_PORT: u16 = 465;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// `smtp://`: STARTTLS when the server offers it, otherwise plain text.
    Opportunistic,
    /// `smtp://…?tls=required`: STARTTLS or no letter at all (never plain text).
    Required,
    /// `smtps://`: TLS from the first byte.
    Implicit,
}

/// A parsed `PORTCULLIS_SMTP_URL`:
/// `smtp://[user:password@]host[:port][?tls=required|opportunistic]` or
/// `smtps://[user:password@]host[:port]`. User and password are percent-decoded.
///
/// `Debug` and `Display` never show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    host: String,
    port: u16,
    tls: TlsMode,
    credentials: Option<(String, String)>,
}

impl SmtpUrl {
    /// Parses and checks the URL. The error says what is wrong without repeating the URL.
    pub fn parse(raw: &str) -> Result<SmtpUrl, MailError> {
        let bad = |why: &str| MailError::BadSmtpUrl(why.to_owned());
        let url = Url::parse(raw.trim()).map_err(|e| MailError::BadSmtpUrl(e.to_string()))?;
        let implicit = match url.scheme() {
            "smtp" => false,
            "smtps" => true,
            other => {
                return Err(MailError::BadSmtpUrl(format!(
                    "the scheme must be smtp:// or smtps://, not {other}://"
                )));
            }
        };
        let host = match url.host() {
            // Host names are case-insensitive; non-special URL schemes keep the case given.
            Some(Host::Domain(d)) if !d.is_empty() => d.to_ascii_lowercase(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(bad("it names no host (smtp://host:port)")),
        };
        let port = match url.port() {
            Some(0) => return Err(bad("port 0 is not a port")),
            Some(p) => p,
            None if implicit => SUBMISSIONS_PORT,
            None => SUBMISSION_PORT,
        };
        if !(url.path().is_empty() || url.path() == "/") {
            return Err(bad(
                "it has a path; only smtp://[user:password@]host[:port] is read",
            ));
        }
        if url.fragment().is_some() {
            return Err(bad("it has a #fragment"));
        }
        let mut tls = if implicit {
            TlsMode::Implicit
        } else {
            TlsMode::Opportunistic
        };
        for (key, value) in url.query_pairs() {
            match (key.as_ref(), value.as_ref(), implicit) {
                ("tls", "required", false) => tls = TlsMode::Required,
                ("tls", "opportunistic", false) => tls = TlsMode::Opportunistic,
                ("tls", _, true) => {
                    return Err(bad("smtps:// is always TLS: ?tls= applies to smtp:// only"));
                }
                ("tls", other, false) => {
                    return Err(MailError::BadSmtpUrl(format!(
                        "?tls= must be required or opportunistic, not {other:?}"
                    )));
                }
                (other, _, _) => {
                    return Err(MailError::BadSmtpUrl(format!(
                        "unknown parameter {other:?} (only ?tls=required|opportunistic)"
                    )));
                }
            }
        }
        let decode = |s: &str, what: &str| {
            percent_decode(s).ok_or_else(|| {
                MailError::BadSmtpUrl(format!("the {what} is not UTF-8 once percent-decoded"))
            })
        };
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            ("", Some(_)) => return Err(bad("it has a password but no user (user:password@host)")),
            (_, None) => return Err(bad("it has a user but no password (user:password@host)")),
            (user, Some(password)) => Some((decode(user, "user")?, decode(password, "password")?)),
        };
        Ok(SmtpUrl {
            host,
            port,
            tls,
            credentials,
        })
    }

    /// The server's host name or address (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn tls(&self) -> TlsMode {
        self.tls
    }

    /// The user name, if the URL carries credentials.
    pub fn user(&self) -> Option<&str> {
        self.credentials.as_ref().map(|(user, _)| user.as_str())
    }

    /// The credentials, for the transport only.
    pub(crate) fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// `SMTP server mail.example.com:587 (STARTTLS when offered)`: for the log line at start.
    pub fn describe(&self) -> String {
        let tls = match self.tls {
            TlsMode::Opportunistic => "STARTTLS when offered",
            TlsMode::Required => "STARTTLS required",
            TlsMode::Implicit => "TLS",
        };
        let user = self.user().map(|u| format!(", as {u}")).unwrap_or_default();
        format!("SMTP server {} ({tls}{user})", self.host_port())
    }

    fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Percent-decodes `s`; `None` when the bytes are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                // Two hex digits make a byte: hi * 16 + lo <= 255.
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(u8::MAX));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// `smtps://alice:********@mail.example.com:465`: the password is never shown.
impl fmt::Display for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls == TlsMode::Implicit {
            "smtps"
        } else {
            "smtp"
        };
        write!(f, "{scheme}://")?;
        if let Some(user) = self.user() {
            write!(f, "{user}:********@")?;
        }
        write!(f, "{}", self.host_port())?;
        if self.tls == TlsMode::Required {
            write!(f, "?tls=required")?;
        }
        Ok(())
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.user())
            .field("password", &self.credentials.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}
