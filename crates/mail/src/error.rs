//! The crate's one error type.

use std::path::PathBuf;

/// What can go wrong with mail settings or a delivery. `Display` is a sentence naming what is
/// wrong; none of them holds a password, a letter's body or its link.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// `PORTCULLIS_SMTP_URL` is not a URL this crate understands; the text says why. The URL
    /// itself is never repeated (it may hold a password).
    #[error("PORTCULLIS_SMTP_URL is not a usable SMTP URL: {0}")]
    BadSmtpUrl(String),
    /// `PORTCULLIS_MAIL_FROM` is not `Name <addr@example.com>` or `addr@example.com`.
    #[error(
        "PORTCULLIS_MAIL_FROM {from:?} is not a mail address (\"Name <addr@example.com>\" or \"addr@example.com\"): {reason}"
    )]
    BadFrom { from: String, reason: String },
    /// The outbox folder cannot be created, secured or written.
    #[error("the mail outbox folder {} cannot be used: {source}", path.display())]
    Outbox {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A letter's recipient is not a mail address (the letter is not sent).
    #[error("the recipient {to:?} is not a mail address: {reason}")]
    BadRecipient { to: String, reason: String },
    /// A letter could not be put together (a template failed to render, or the message builder
    /// refused it).
    #[error("the letter could not be composed: {0}")]
    Compose(String),
    /// The SMTP server could not be reached or refused the letter; `permanent` when it answered
    /// with a 5xx (retrying the same letter would not help).
    #[error("the SMTP server did not take the letter: {message}")]
    Smtp { message: String, permanent: bool },
    /// The sender thread could not be started.
    #[error("the mail sender thread could not be started: {0}")]
    Thread(#[source] std::io::Error),
}

impl MailError {
    /// Whether trying the same letter again later cannot succeed.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Smtp { permanent, .. } => *permanent,
            Self::BadRecipient { .. }
            | Self::Compose(_)
            | Self::BadFrom { .. }
            | Self::BadSmtpUrl(_) => true,
            Self::Outbox { .. } | Self::Thread(_) => false,
        }
    }
}
