//! The letters of the account flows: subject, plain text and HTML, rendered from
//! `templates/mail/KIND.txt` and `KIND.html`.

use std::fmt;

use askama::Template;

/// One letter to one person. Built only by the constructors below (one per kind), so every
/// letter has a kind, the brand in its subject and body, and both a text and an HTML body.
///
/// `Debug` shows the kind and the id, never the recipient or the bodies (they hold one-time
/// links).
#[derive(Clone)]
pub struct Letter {
    kind: &'static str,
    id: String,
    to: String,
    subject: String,
    /// The text and HTML bodies, or why a template failed (reported when the letter is sent,
    /// so a constructor never panics and never fails the caller's request).
    bodies: Result<(String, String), String>,
}

macro_rules! templates {
    ($text:ident, $html:ident, $text_path:literal, $html_path:literal, { $($field:ident: $ty:ty),* }) => {
        #[derive(Template)]
        #[template(path = $text_path, escape = "none")]
        struct $text<'a> { brand: &'a str, name: &'a str, $($field: $ty),* }

        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> { brand: &'a str, name: &'a str, $($field: $ty),* }
    };
}

templates!(VerifyEmailText, VerifyEmailHtml, "mail/verify_email.txt", "mail/verify_email.html", { link: &'a str, valid_hours: i64 });
templates!(ChangeEmailText, ChangeEmailHtml, "mail/change_email.txt", "mail/change_email.html", { to_new: &'a str, link: &'a str, valid_hours: i64 });
templates!(PasswordResetText, PasswordResetHtml, "mail/password_reset.txt", "mail/password_reset.html", { link: &'a str, valid_minutes: i64 });
templates!(
    PasswordChangedText,
    PasswordChangedHtml,
    "mail/password_changed.txt",
    "mail/password_changed.html",
    {}
);
templates!(EmailChangedText, EmailChangedHtml, "mail/email_changed.txt", "mail/email_changed.html", { new_email: &'a str });
templates!(InviteText, InviteHtml, "mail/invite.txt", "mail/invite.html", { inviter: &'a str, org: &'a str, role: &'a str, link: &'a str, valid_days: i64 });

fn render(text: &dyn DynTemplate, html: &dyn DynTemplate) -> Result<(String, String), String> {
    let text = text
        .render_dyn()
        .map_err(|e| format!("text template: {e}"))?;
    let html = html
        .render_dyn()
        .map_err(|e| format!("HTML template: {e}"))?;
    Ok((text, html))
}

/// Object-safe rendering, so `render` takes any pair of templates.
trait DynTemplate {
    fn render_dyn(&self) -> askama::Result<String>;
}

impl<T: Template> DynTemplate for T {
    fn render_dyn(&self) -> askama::Result<String> {
        self.render()
    }
}

/// A subject line: the brand and fixed words; control characters (a brand with a line break)
/// become spaces, so nothing a setting holds can add a header.
fn subject(text: String) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

impl Letter {
    fn new(
        kind: &'static str,
        to: &str,
        subject_line: String,
        bodies: Result<(String, String), String>,
    ) -> Letter {
        Letter {
            kind,
            id: primitives::random_id(),
            to: to.trim().to_owned(),
            subject: subject(subject_line),
            bodies,
        }
    }

    /// The link that confirms the address of a new account (kind `verify_email`).
    pub fn verify_email(brand: &str, to: &str, name: &str, link: &str, valid_hours: i64) -> Letter {
        let bodies = render(
            &VerifyEmailText {
                brand,
                name,
                link,
                valid_hours,
            },
            &VerifyEmailHtml {
                brand,
                name,
                link,
                valid_hours,
            },
        );
        Letter::new(
            "verify_email",
            to,
            format!("Confirm your email address for {brand}"),
            bodies,
        )
    }

    /// The link, sent to the NEW address, that confirms an email change (kind `change_email`).
    pub fn change_email(
        brand: &str,
        to_new: &str,
        name: &str,
        link: &str,
        valid_hours: i64,
    ) -> Letter {
        let bodies = render(
            &ChangeEmailText {
                brand,
                name,
                to_new,
                link,
                valid_hours,
            },
            &ChangeEmailHtml {
                brand,
                name,
                to_new,
                link,
                valid_hours,
            },
        );
        Letter::new(
            "change_email",
            to_new,
            format!("Confirm your new email address for {brand}"),
            bodies,
        )
    }

    /// The single-use link that sets a new password (kind `password_reset`).
    pub fn password_reset(
        brand: &str,
        to: &str,
        name: &str,
        link: &str,
        valid_minutes: i64,
    ) -> Letter {
        let bodies = render(
            &PasswordResetText {
                brand,
                name,
                link,
                valid_minutes,
            },
            &PasswordResetHtml {
                brand,
                name,
                link,
                valid_minutes,
            },
        );
        Letter::new(
            "password_reset",
            to,
            format!("Reset your {brand} password"),
            bodies,
        )
    }

    /// Notice to the account's address after its password changed (no link; kind
    /// `password_changed`).
    pub fn password_changed(brand: &str, to: &str, name: &str) -> Letter {
        let bodies = render(
            &PasswordChangedText { brand, name },
            &PasswordChangedHtml { brand, name },
        );
        Letter::new(
            "password_changed",
            to,
            format!("Your {brand} password was changed"),
            bodies,
        )
    }

    /// Notice to the OLD address after the email changed to `new_email` (kind
    /// `email_changed`).
    pub fn email_changed(brand: &str, to_old: &str, name: &str, new_email: &str) -> Letter {
        let bodies = render(
            &EmailChangedText {
                brand,
                name,
                new_email,
            },
            &EmailChangedHtml {
                brand,
                name,
                new_email,
            },
        );
        Letter::new(
            "email_changed",
            to_old,
            format!("Your {brand} email address was changed"),
            bodies,
        )
    }

    /// An invitation to join an organization, with the link to accept it (kind `invite`).
    /// The invitee has no name here yet: the greeting is plain.
    pub fn invite(brand: &str, to: &str, invitation: &Invitation<'_>, link: &str) -> Letter {
        let Invitation {
            inviter,
            org,
            role,
            valid_days,
        } = *invitation;
        let bodies = render(
            &InviteText {
                brand,
                name: "",
                inviter,
                org,
                role,
                link,
                valid_days,
            },
            &InviteHtml {
                brand,
                name: "",
                inviter,
                org,
                role,
                link,
                valid_days,
            },
        );
        Letter::new(
            "invite",
            to,
            format!("{inviter} invites you to join {org} on {brand}"),
            bodies,
        )
    }

    /// What the letter is for: `verify_email`, `change_email`, `password_reset`,
    /// `password_changed`, `email_changed` or `invite`. Logged with the id; never the body.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The recipient's address.
    pub fn to(&self) -> &str {
        &self.to
    }

    /// A random id (22 URL-safe characters), made when the letter is: the local part of its
    /// `Message-ID` and the name in every log line about it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The subject line (holds no link).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The plain-text body, or why it could not be rendered.
    pub fn text(&self) -> Result<&str, &str> {
        self.bodies
            .as_ref()
            .map(|(text, _)| text.as_str())
            .map_err(String::as_str)
    }

    /// The HTML body (every value escaped), or why it could not be rendered.
    pub fn html(&self) -> Result<&str, &str> {
        self.bodies
            .as_ref()
            .map(|(_, html)| html.as_str())
            .map_err(String::as_str)
    }
}

/// What an invitation letter says: who invites, to which organization, with which role, for
/// how long.
#[derive(Debug, Clone, Copy)]
pub struct Invitation<'a> {
    pub inviter: &'a str,
    pub org: &'a str,
    pub role: &'a str,
    pub valid_days: i64,
}

impl fmt::Debug for Letter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Letter")
            .field("kind", &self.kind)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}
