//! Mail: the letters of the account flows and their delivery.
//!
//! Owns: the letters ([`Letter`]: email verification, email change, password reset, and the
//! notices after a password or email change), rendered from askama templates in
//! `templates/mail/` (`KIND.txt` and `KIND.html`); `PORTCULLIS_SMTP_URL` ([`SmtpUrl`]); the
//! [`Mailer`], which sends them by SMTP (lettre, rustls with aws-lc-rs) or writes them to an
//! outbox folder ([`Transport`]), from one background thread with retries; and, behind the
//! `testing` feature, a real SMTP server for tests ([`testing`]).
//!
//! Architecture invariants:
//! - Knows nothing about HTTP, storage, accounts or tokens: the caller hands it a brand, an
//!   address, a name and a finished link. It decides what a letter says, never who gets one.
//! - [`Mailer::send`] never blocks on the network and never fails the caller: letters go to a
//!   channel; one sender thread delivers them, retrying with back-off (default 5 s, 30 s,
//!   2 min, 10 min, 30 min) unless the server refused for good (a 5xx); a letter given up is
//!   logged. Letters are not persisted: one still waiting when the process ends is lost, which
//!   the flows allow for ("send again").
//! - A letter's body holds a one-time link: bodies, links, recipients and the SMTP password are
//!   never logged. Log lines name the letter's kind and its id (the `Message-ID`'s local
//!   part). `Debug` of a [`Letter`] or an [`SmtpUrl`] shows neither body nor password.
//! - Every letter is `multipart/alternative` (text, then HTML), carries the brand in its
//!   subject and both bodies, a `Message-ID` and a `Date`, and the settings' `From`. The HTML
//!   escapes every value; the link is shown as text too.
//! - `smtp://` uses STARTTLS whenever the server offers it; `?tls=required` refuses to send
//!   anything in clear; `smtps://` is TLS from the first byte. Certificates are checked against
//!   the Mozilla roots (webpki-roots).
//! - Outbox files are written whole or not at all (temporary file, then rename), 0600, in a
//!   folder created 0700, named `YYYYMMDDTHHMMSSZ-SEQ-ID.eml` so they sort by time; each is
//!   the RFC 5322 message lettre formats (`Message::formatted()`), with the same headers as
//!   by SMTP, but with its text and HTML parts kept as they are (`7bit`/`8bit`) where SMTP
//!   gets quoted-printable, so a person can copy the link out of the file.

mod error;
mod letter;
mod mailer;
mod smtp_url;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::MailError;
pub use letter::{Invitation, Letter};
pub use mailer::{DEFAULT_FROM, MailSettings, MailStats, Mailer, Transport, default_retry_delays};
pub use smtp_url::{SUBMISSION_PORT, SUBMISSIONS_PORT, SmtpUrl, TlsMode};
