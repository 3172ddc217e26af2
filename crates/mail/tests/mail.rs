//! The mail crate through its public API: letters, SMTP URLs, delivery through a real SMTP
//! server (aiosmtpd), the outbox, retries, TLS refusal and logging.

use std::io::Write;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use mail::testing::{ReceivedMessage, SmtpServer, free_port, read_outbox};
use mail::{Letter, MailError, MailSettings, Mailer, SmtpUrl, TlsMode, Transport};

const BRAND: &str = "Acme ID";
const FROM: &str = "Acme ID <noreply@acme.example>";
const LINK: &str = "https://id.acme.example/verify-email?token=tok_9fQ2xL";
const WAIT: Duration = Duration::from_secs(20);

// ---- log capture: one global subscriber for the binary; each test looks for its letter's id.

static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_writer(|| Capture)
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .try_init();
    });
}

fn logs() -> String {
    String::from_utf8_lossy(
        &LOG.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
    .into_owned()
}

/// The log lines that name this letter id.
fn log_lines(id: &str) -> Vec<String> {
    logs()
        .lines()
        .filter(|l| l.contains(id))
        .map(str::to_owned)
        .collect()
}

/// Polls the log until a line names `id` and contains `what`.
fn wait_for_log(id: &str, what: &str) {
    let deadline = Instant::now() + WAIT;
    while !log_lines(id).iter().any(|l| l.contains(what)) {
        assert!(
            Instant::now() < deadline,
            "no log line with {id} and {what:?}:\n{}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn smtp_settings(url: &str) -> MailSettings {
    MailSettings {
        from: FROM.to_owned(),
        timeout: Duration::from_secs(5),
        ..MailSettings::smtp(SmtpUrl::parse(url).expect("a good URL"))
    }
}

fn outbox_settings(dir: &Path) -> MailSettings {
    MailSettings {
        from: FROM.to_owned(),
        ..MailSettings::outbox(dir)
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

// ---- delivery through SMTP

#[test]
fn a_letter_reaches_the_smtp_server_with_both_bodies_and_the_link() {
    capture_logs();
    let server = SmtpServer::start();
    let mailer = Mailer::start(smtp_settings(&server.url())).expect("mailer");
    assert_eq!(
        mailer.describe(),
        format!(
            "SMTP server 127.0.0.1:{} (STARTTLS when offered)",
            server.port()
        )
    );
    let letter = Letter::verify_email(BRAND, "alice@example.com", "Alice", LINK, 24);
    let id = letter.id().to_owned();
    mailer.send(letter);
    assert!(mailer.flush(WAIT), "the letter is still pending");

    let messages = server.wait_for(1, WAIT);
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m.to(), "alice@example.com");
    assert_eq!(m.from(), "\"Acme ID\" <noreply@acme.example>");
    assert!(m.subject().contains(BRAND), "subject: {}", m.subject());
    assert!(
        m.text().contains(BRAND) && m.text().contains("Hello Alice,"),
        "text: {}",
        m.text()
    );
    let html = m.html.as_deref().expect("an HTML part");
    assert!(html.contains(BRAND) && html.contains(LINK), "html: {html}");
    assert_eq!(m.link().as_deref(), Some(LINK));
    assert!(
        m.header("Content-Type")
            .is_some_and(|c| c.starts_with("multipart/alternative"))
    );
    assert_eq!(
        m.header("Message-ID"),
        Some(format!("<{id}@acme.example>").as_str())
    );
    assert!(
        m.header("Date").is_some_and(|d| d.ends_with("+0000")),
        "{:?}",
        m.header("Date")
    );
    assert_eq!(
        server.mail_commands(),
        vec!["MAIL noreply@acme.example".to_owned()]
    );

    let stats = mailer.stats();
    assert_eq!((stats.pending, stats.delivered, stats.given_up), (0, 1, 0));
    wait_for_log(&id, "mail delivered");
    let lines = log_lines(&id).join("\n");
    assert!(lines.contains("verify_email"), "{lines}");
    assert!(!logs().contains("tok_9fQ2xL"), "a link was logged");
    assert!(
        !logs().contains("alice@example.com"),
        "a recipient was logged"
    );
}

#[test]
fn auth_with_a_percent_encoded_user_and_password_delivers_and_a_wrong_password_does_not() {
    capture_logs();
    let password = "p@ss word/é:1";
    let server = SmtpServer::start_with_auth("mailer@acme", password);
    let encoded = "p%40ss%20word%2F%C3%A9%3A1";
    let url = format!("smtp://mailer%40acme:{encoded}@127.0.0.1:{}", server.port());
    let mailer = Mailer::start(smtp_settings(&url)).expect("mailer");
    assert!(
        mailer
            .describe()
            .ends_with("(STARTTLS when offered, as mailer@acme)")
    );
    mailer.send(Letter::password_reset(
        BRAND,
        "bob@example.com",
        "Bob",
        LINK,
        30,
    ));
    assert!(mailer.flush(WAIT));
    assert_eq!(mailer.stats().delivered, 1);
    assert_eq!(server.wait_for(1, WAIT)[0].to(), "bob@example.com");

    // The same server, a wrong password: refused (535, permanent), given up at once, logged.
    let wrong = format!(
        "smtp://mailer%40acme:wrong-{encoded}@127.0.0.1:{}",
        server.port()
    );
    let mut settings = smtp_settings(&wrong);
    settings.retry_delays = vec![Duration::from_secs(60)];
    let refused = Mailer::start(settings).expect("mailer");
    let letter = Letter::password_reset(BRAND, "bob@example.com", "Bob", LINK, 30);
    let id = letter.id().to_owned();
    refused.send(letter);
    assert!(refused.flush(WAIT), "a permanent refusal is not retried");
    let stats = refused.stats();
    assert_eq!((stats.delivered, stats.given_up), (0, 1));
    assert_eq!(server.messages().len(), 1, "nothing more was delivered");
    wait_for_log(&id, "given up");
    let lines = log_lines(&id).join("\n");
    assert!(
        lines.contains("password_reset") && lines.contains("535"),
        "{lines}"
    );
    let all = logs();
    assert!(
        !all.contains(password) && !all.contains(encoded),
        "a password was logged"
    );
    assert!(!all.contains("tok_9fQ2xL"), "a link was logged");
}

#[test]
fn a_server_that_is_down_at_first_gets_the_letter_once_it_starts() {
    capture_logs();
    let port = free_port();
    let mut settings = smtp_settings(&format!("smtp://127.0.0.1:{port}"));
    settings.retry_delays = vec![Duration::from_millis(200); 100];
    let mailer = Mailer::start(settings).expect("mailer");
    let letter = Letter::change_email(BRAND, "new@example.com", "Carol", LINK, 24);
    let id = letter.id().to_owned();
    mailer.send(letter);
    // The first attempt fails (nothing listens), and the letter waits for its retry.
    wait_for_log(&id, "will retry");
    assert_eq!(mailer.stats().pending, 1);

    let server = SmtpServer::start_on(port);
    let messages = server.wait_for(1, WAIT);
    assert_eq!(messages[0].to(), "new@example.com");
    assert_eq!(messages[0].link().as_deref(), Some(LINK));
    assert!(mailer.flush(WAIT));
    let stats = mailer.stats();
    assert_eq!((stats.pending, stats.delivered, stats.given_up), (0, 1, 0));
}

#[test]
fn tls_required_never_talks_to_a_server_without_starttls_in_clear() {
    capture_logs();
    let server = SmtpServer::start();
    let mut settings = smtp_settings(&format!("{}?tls=required", server.url()));
    settings.retry_delays = vec![Duration::from_millis(50)];
    let mailer = Mailer::start(settings).expect("mailer");
    assert!(
        mailer.describe().ends_with("(STARTTLS required)"),
        "{}",
        mailer.describe()
    );
    let letter = Letter::verify_email(BRAND, "dave@example.com", "Dave", LINK, 24);
    let id = letter.id().to_owned();
    mailer.send(letter);
    assert!(mailer.flush(WAIT));
    assert_eq!(mailer.stats().given_up, 1);
    wait_for_log(&id, "given up");
    assert!(server.messages().is_empty(), "a letter went in clear");
    assert!(
        server.mail_commands().is_empty(),
        "MAIL FROM was sent in clear"
    );
}

// ---- the outbox

#[test]
fn the_outbox_gets_one_private_file_per_letter_that_parses() {
    capture_logs();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data/outbox");
    let mailer = Mailer::start(outbox_settings(&dir)).expect("mailer");
    let absolute = std::fs::canonicalize(&dir).expect("the folder exists");
    assert_eq!(
        mailer.describe(),
        format!("outbox folder {}", absolute.display())
    );
    assert_eq!(mode(&dir), 0o700);

    let first = Letter::password_reset(BRAND, "erin@example.com", "Erin", LINK, 30);
    let second = Letter::password_changed(BRAND, "erin@example.com", "Erin");
    let ids = [first.id().to_owned(), second.id().to_owned()];
    mailer.send(first);
    mailer.send(second);
    assert!(mailer.flush(WAIT));

    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("read the outbox")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "no temporary file is left: {names:?}");
    for (name, id) in names.iter().zip(&ids) {
        // 20261204T150102Z-000001-<id>.eml: sorts by time, then by order sent.
        let (stamp, rest) = name.split_at(16);
        assert!(
            stamp.len() == 16 && &stamp[8..9] == "T" && stamp.ends_with('Z'),
            "{name}"
        );
        assert!(rest.ends_with(&format!("-{id}.eml")), "{name}");
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }

    let letters = read_outbox(&dir);
    assert_eq!(letters.len(), 2);
    assert_eq!(letters[0].to(), "erin@example.com");
    assert!(letters[0].subject().contains(BRAND));
    assert_eq!(letters[0].link().as_deref(), Some(LINK));
    assert!(letters[0].html.as_deref().is_some_and(|h| h.contains(LINK)));
    assert!(
        letters[0].raw.contains(&format!("\r\n{LINK}\r\n")),
        "the link reads as it is"
    );
    assert_eq!(letters[1].link(), None, "a notice has no link");
    assert!(letters[1].text().contains("password"));
    wait_for_log(&ids[0], "mail delivered");
    assert!(!logs().contains("tok_9fQ2xL"), "a link was logged");
}

#[test]
fn every_kind_carries_the_brand_in_subject_text_and_html() {
    let cases: Vec<(Letter, &str, Option<&str>, &str)> = vec![
        (
            Letter::verify_email(BRAND, "a@x.example", "A", LINK, 24),
            "verify_email",
            Some(LINK),
            "24 hours",
        ),
        (
            Letter::change_email(BRAND, "new@x.example", "A", LINK, 1),
            "change_email",
            Some(LINK),
            "new@x.example",
        ),
        (
            Letter::password_reset(BRAND, "a@x.example", "A", LINK, 30),
            "password_reset",
            Some(LINK),
            "30 minutes",
        ),
        (
            Letter::password_changed(BRAND, "a@x.example", "A"),
            "password_changed",
            None,
            "changed",
        ),
        (
            Letter::email_changed(BRAND, "old@x.example", "A", "new@x.example"),
            "email_changed",
            None,
            "new@x.example",
        ),
        (
            Letter::invite(
                BRAND,
                "invitee@x.example",
                &mail::Invitation {
                    inviter: "Grace",
                    org: "Analytical Engines",
                    role: "admin",
                    valid_days: 7,
                },
                LINK,
            ),
            "invite",
            Some(LINK),
            "Analytical Engines",
        ),
    ];
    let tmp = tempfile::tempdir().expect("tempdir");
    let mailer = Mailer::start(outbox_settings(tmp.path())).expect("mailer");
    for (letter, kind, link, says) in &cases {
        assert_eq!(letter.kind(), *kind);
        let (text, html) = (letter.text().expect("text"), letter.html().expect("html"));
        assert!(
            letter.subject().contains(BRAND),
            "{kind}: {}",
            letter.subject()
        );
        assert!(text.contains(BRAND) && html.contains(BRAND), "{kind}");
        assert!(
            text.contains(says) && html.contains(says),
            "{kind} says {says:?}"
        );
        if let Some(link) = link {
            assert!(
                text.contains(link) && html.contains(&format!(">{link}</a>")),
                "{kind}: the link as text"
            );
        } else {
            assert!(
                !text.contains("http") && !html.contains("href"),
                "{kind} has no link"
            );
        }
        assert!(
            !format!("{letter:?}").contains("x.example"),
            "Debug shows no recipient"
        );
        mailer.send(letter.clone());
    }
    assert_eq!(cases[1].0.to(), "new@x.example");
    assert_eq!(cases[4].0.to(), "old@x.example");
    assert!(mailer.flush(WAIT));
    let received: Vec<ReceivedMessage> = read_outbox(tmp.path());
    let got: Vec<(&str, Option<String>)> = received.iter().map(|m| (m.to(), m.link())).collect();
    let want: Vec<(&str, Option<String>)> = cases
        .iter()
        .map(|(l, _, link, _)| (l.to(), link.map(str::to_owned)))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn html_escapes_every_value_and_a_subject_cannot_add_a_header() {
    let name = "<script>alert(1)</script>";
    let link = "https://id.acme.example/reset?token=a&next=<b>";
    let letter = Letter::password_reset(
        "Acme\r\nBcc: evil@attacker.example",
        "f@example.com",
        name,
        link,
        30,
    );
    let html = letter.html().expect("html");
    assert!(
        !html.contains("<script>") && !html.contains("<b>"),
        "{html}"
    );
    // askama escapes with numeric character references.
    assert!(
        html.contains("Hello &#60;script&#62;alert(1)&#60;/script&#62;,"),
        "{html}"
    );
    assert!(
        html.contains("href=\"https://id.acme.example/reset?token=a&#38;next=&#60;b&#62;\""),
        "{html}"
    );
    // Plain text is not HTML: values stay as they are.
    assert!(letter.text().expect("text").contains(name));
    assert!(
        !letter.subject().contains(['\r', '\n']),
        "{:?}",
        letter.subject()
    );

    let tmp = tempfile::tempdir().expect("tempdir");
    let mailer = Mailer::start(outbox_settings(tmp.path())).expect("mailer");
    mailer.send(letter);
    assert!(mailer.flush(WAIT));
    let received = read_outbox(tmp.path());
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].header("Bcc"), None);
    assert_eq!(received[0].to(), "f@example.com");
    assert!(received[0].text().contains(link));
}

#[test]
fn a_name_in_another_script_survives_encoding() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mailer = Mailer::start(outbox_settings(tmp.path())).expect("mailer");
    mailer.send(Letter::verify_email(
        "Zoë's Ünïcode ID",
        "z@example.com",
        "Zoë Łukasz 名前",
        LINK,
        24,
    ));
    assert!(mailer.flush(WAIT));
    let received = read_outbox(tmp.path());
    assert_eq!(
        received[0].subject(),
        "Confirm your email address for Zoë's Ünïcode ID"
    );
    assert!(
        received[0].text().contains("Hello Zoë Łukasz 名前,"),
        "{}",
        received[0].text()
    );
    assert_eq!(received[0].link().as_deref(), Some(LINK));
    // The outbox is read by people: 8-bit parts, so the name and the link read as they are.
    assert!(
        received[0].raw.contains("Hello Zoë Łukasz 名前,"),
        "{}",
        received[0].raw
    );
    assert!(
        received[0].raw.contains(&format!("\r\n{LINK}\r\n")),
        "{}",
        received[0].raw
    );
}

// ---- flush, refusals and settings

#[test]
fn flush_waits_for_the_queue_and_says_whether_it_emptied() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let idle = Mailer::start(outbox_settings(tmp.path())).expect("mailer");
    assert!(idle.flush(Duration::ZERO), "nothing queued: empty at once");

    let port = free_port();
    let mut settings = smtp_settings(&format!("smtp://127.0.0.1:{port}"));
    settings.retry_delays = vec![Duration::from_millis(800)];
    let mailer = Mailer::start(settings).expect("mailer");
    for n in 0..3 {
        mailer.send(Letter::password_changed(
            BRAND,
            &format!("u{n}@example.com"),
            "U",
        ));
    }
    assert!(
        !mailer.flush(Duration::from_millis(100)),
        "three letters wait for their retry"
    );
    assert_eq!(mailer.stats().pending, 3);
    // A clone is the same mailer.
    assert!(mailer.clone().flush(WAIT), "both attempts failed: given up");
    let stats = mailer.stats();
    assert_eq!((stats.pending, stats.delivered, stats.given_up), (0, 0, 3));
}

#[test]
fn a_bad_recipient_is_given_up_and_logged_without_retries() {
    capture_logs();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mailer = Mailer::start(outbox_settings(tmp.path())).expect("mailer");
    let letter = Letter::verify_email(BRAND, "not an address", "X", LINK, 24);
    let id = letter.id().to_owned();
    mailer.send(letter);
    assert!(mailer.flush(WAIT));
    assert_eq!(mailer.stats().given_up, 1);
    assert!(read_outbox(tmp.path()).is_empty());
    wait_for_log(&id, "given up");
    assert_eq!(
        log_lines(&id)
            .iter()
            .filter(|l| l.contains("attempts=1"))
            .count(),
        1
    );
}

#[test]
fn start_refuses_a_bad_from_and_an_unusable_outbox() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut settings = MailSettings::outbox(tmp.path());
    settings.from = "Acme <not-an-address>".to_owned();
    let err = Mailer::start(settings).expect_err("a bad from");
    assert!(matches!(err, MailError::BadFrom { .. }));
    assert!(
        err.to_string()
            .starts_with("PORTCULLIS_MAIL_FROM \"Acme <not-an-address>\" is not a mail address"),
        "{err}"
    );

    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").expect("write");
    let err = Mailer::start(MailSettings::outbox(file.join("outbox")))
        .expect_err("a folder under a file");
    assert!(matches!(err, MailError::Outbox { .. }));
    assert!(
        err.to_string().starts_with("the mail outbox folder "),
        "{err}"
    );

    let plain = Mailer::start(MailSettings::outbox(tmp.path().join("ok")))
        .expect("the default from is good");
    assert!(plain.describe().starts_with("outbox folder /"));
    assert_eq!(
        MailSettings::outbox("x").from,
        "Portcullis <noreply@localhost>"
    );
    let defaults = MailSettings::outbox("x");
    assert_eq!(
        defaults
            .retry_delays
            .iter()
            .map(Duration::as_secs)
            .collect::<Vec<_>>(),
        [5, 30, 120, 600, 1800]
    );
    assert_eq!(defaults.timeout, Duration::from_secs(20));
    assert!(matches!(defaults.transport, Transport::Outbox(_)));
}

// ---- SmtpUrl

#[test]
fn smtp_urls_parse_into_host_port_tls_and_user() {
    let cases: &[(&str, &str, u16, TlsMode, Option<&str>)] = &[
        (
            "smtp://mail.example.com",
            "mail.example.com",
            587,
            TlsMode::Opportunistic,
            None,
        ),
        (
            "smtp://mail.example.com/",
            "mail.example.com",
            587,
            TlsMode::Opportunistic,
            None,
        ),
        (
            "smtp://mail.example.com:2525",
            "mail.example.com",
            2525,
            TlsMode::Opportunistic,
            None,
        ),
        (
            "smtp://mail.example.com:25?tls=opportunistic",
            "mail.example.com",
            25,
            TlsMode::Opportunistic,
            None,
        ),
        (
            "smtp://mail.example.com?tls=required",
            "mail.example.com",
            587,
            TlsMode::Required,
            None,
        ),
        (
            "smtps://mail.example.com",
            "mail.example.com",
            465,
            TlsMode::Implicit,
            None,
        ),
        (
            "smtps://u:p@mail.example.com:4650",
            "mail.example.com",
            4650,
            TlsMode::Implicit,
            Some("u"),
        ),
        (
            "smtp://us%40er:x@10.0.0.5",
            "10.0.0.5",
            587,
            TlsMode::Opportunistic,
            Some("us@er"),
        ),
        (
            "  smtp://[::1]:25  ",
            "::1",
            25,
            TlsMode::Opportunistic,
            None,
        ),
        (
            "SMTP://Mail.Example.COM",
            "mail.example.com",
            587,
            TlsMode::Opportunistic,
            None,
        ),
    ];
    for (raw, host, port, tls, user) in cases {
        let url = SmtpUrl::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
        assert_eq!(
            (url.host(), url.port(), url.tls(), url.user()),
            (*host, *port, *tls, *user),
            "{raw}"
        );
    }
}

#[test]
fn bad_smtp_urls_are_refused_with_a_sentence_that_hides_the_password() {
    let cases: &[(&str, &str)] = &[
        ("not a url", "relative URL without a base"),
        (
            "http://mail.example.com",
            "the scheme must be smtp:// or smtps://, not http://",
        ),
        ("smtp://", "names no host"),
        ("smtp://mail.example.com:0", "port 0"),
        ("smtp://mail.example.com:70000", "invalid port number"),
        ("smtp://u:hunter2@mail.example.com/relay", "it has a path"),
        ("smtp://u:hunter2@mail.example.com#x", "#fragment"),
        (
            "smtp://mail.example.com?tls=maybe",
            "?tls= must be required or opportunistic, not \"maybe\"",
        ),
        (
            "smtps://mail.example.com?tls=required",
            "smtps:// is always TLS",
        ),
        (
            "smtp://mail.example.com?timeout=5",
            "unknown parameter \"timeout\"",
        ),
        ("smtp://alice@mail.example.com", "a user but no password"),
        ("smtp://:hunter2@mail.example.com", "a password but no user"),
        (
            "smtp://alice:%FF%FE@mail.example.com",
            "the password is not UTF-8",
        ),
    ];
    for (raw, says) in cases {
        let err = SmtpUrl::parse(raw).expect_err(raw);
        let text = err.to_string();
        assert!(matches!(err, MailError::BadSmtpUrl(_)), "{raw}");
        assert!(
            text.starts_with("PORTCULLIS_SMTP_URL is not a usable SMTP URL: "),
            "{raw}: {text}"
        );
        assert!(text.contains(says), "{raw}: {text}");
        assert!(
            !text.contains("hunter2") && !format!("{err:?}").contains("hunter2"),
            "{raw}: {text}"
        );
    }
}

#[test]
fn debug_display_and_describe_never_show_the_password() {
    let url =
        SmtpUrl::parse("smtp://alice:s3cr3t%21@mail.example.com:2525?tls=required").expect("url");
    assert_eq!(
        url.to_string(),
        "smtp://alice:********@mail.example.com:2525?tls=required"
    );
    assert_eq!(
        url.describe(),
        "SMTP server mail.example.com:2525 (STARTTLS required, as alice)"
    );
    let debug = format!("{url:?}");
    assert!(
        !debug.contains("s3cr3t") && debug.contains("<redacted>"),
        "{debug}"
    );
    let settings = MailSettings::smtp(url.clone());
    assert!(!format!("{settings:?}").contains("s3cr3t"));
    assert_eq!(
        SmtpUrl::parse("smtps://[::1]").expect("url").to_string(),
        "smtps://[::1]:465"
    );
    let mailer = Mailer::start(settings).expect("mailer");
    assert!(!format!("{mailer:?}").contains("s3cr3t"));
    assert_eq!(mailer.describe(), url.describe());
}
