//! The settings, the [`Mailer`] handle and its background sender thread.

use std::collections::VecDeque;
use std::fmt;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, mpsc};
use std::thread;
use std::time::{Duration, Instant, UNIX_EPOCH};

use lettre::message::header::ContentTransferEncoding;
use lettre::message::{Body, Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport as _};
use primitives::{Clock as _, SystemClock};

use crate::smtp_url::TlsMode;
use crate::{Letter, MailError, SmtpUrl};

/// Where letters go.
#[derive(Debug, Clone)]
pub enum Transport {
    /// An SMTP server (`PORTCULLIS_SMTP_URL`).
    Smtp(SmtpUrl),
    /// One `.eml` file per letter in this folder (the default: `data/outbox/`).
    Outbox(PathBuf),
}

/// How mail is sent.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub transport: Transport,
    /// `PORTCULLIS_MAIL_FROM`: `Name <addr@example.com>` or `addr@example.com`; checked by
    /// [`Mailer::start`].
    pub from: String,
    /// The waits between attempts; after the last one fails the letter is given up (logged).
    /// Default 5 s, 30 s, 2 min, 10 min, 30 min: six attempts over about 43 minutes.
    pub retry_delays: Vec<Duration>,
    /// The SMTP connection and command timeout. Default 20 s.
    pub timeout: Duration,
}

/// The default `From`.
pub const DEFAULT_FROM: &str = "Portcullis <noreply@localhost>";

impl MailSettings {
    /// Mail to an outbox folder, with the default sender, retries and timeout.
    pub fn outbox(dir: impl Into<PathBuf>) -> Self {
        MailSettings {
            transport: Transport::Outbox(dir.into()),
            from: DEFAULT_FROM.to_owned(),
            retry_delays: default_retry_delays(),
            timeout: Duration::from_secs(20),
        }
    }

    /// What [`Mailer::start`] checks, without starting anything: the From address, the outbox
    /// folder (created 0700 if missing) or the SMTP set-up. The binary runs it before serving.
    pub fn check(&self) -> Result<(), MailError> {
        self.prepare().map(drop)
    }

    fn prepare(&self) -> Result<(Mailbox, Route, String), MailError> {
        let from: Mailbox =
            self.from
                .trim()
                .parse()
                .map_err(|e: lettre::address::AddressError| MailError::BadFrom {
                    from: self.from.clone(),
                    reason: e.to_string(),
                })?;
        let (route, describe) = match &self.transport {
            Transport::Smtp(url) => (
                Route::Smtp(smtp_transport(url, self.timeout)?),
                url.describe(),
            ),
            Transport::Outbox(dir) => {
                let dir = prepare_outbox(dir)?;
                let describe = format!("outbox folder {}", dir.display());
                (Route::Outbox { dir, seq: 0 }, describe)
            }
        };
        Ok((from, route, describe))
    }

    /// Mail through an SMTP server, with the default sender, retries and timeout.
    pub fn smtp(url: SmtpUrl) -> Self {
        MailSettings {
            transport: Transport::Smtp(url),
            ..MailSettings::outbox(PathBuf::new())
        }
    }
}

/// 5 s, 30 s, 2 min, 10 min, 30 min.
pub fn default_retry_delays() -> Vec<Duration> {
    [5, 30, 120, 600, 1800]
        .into_iter()
        .map(Duration::from_secs)
        .collect()
}

/// What a mailer has done so far (for metrics and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MailStats {
    /// Letters handed to [`Mailer::send`] and not yet delivered or given up.
    pub pending: u64,
    pub delivered: u64,
    /// Letters given up: a permanent refusal, or every attempt failed.
    pub given_up: u64,
}

/// The handle the server holds: cheap to clone, `Send + Sync`. Letters are handed to one
/// background thread, so no caller ever waits on the network.
#[derive(Clone)]
pub struct Mailer {
    inner: Arc<Inner>,
}

struct Inner {
    queue: Mutex<mpsc::Sender<Letter>>,
    describe: String,
    pending: Mutex<u64>,
    drained: Condvar,
    delivered: AtomicU64,
    given_up: AtomicU64,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("to", &self.inner.describe)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Checks the settings (the from address, the outbox folder created 0700 if missing, the
    /// TLS set-up) and starts the background sender: a thread fed by a channel.
    pub fn start(settings: MailSettings) -> Result<Mailer, MailError> {
        let (from, route, describe) = settings.prepare()?;
        if let Transport::Smtp(url) = &settings.transport
            && url.user().is_some()
            && url.tls() == TlsMode::Opportunistic
        {
            tracing::warn!(
                server = %url,
                "the SMTP password goes in plain text to a server that does not offer STARTTLS: \
                 use smtps:// or ?tls=required"
            );
        }
        let (tx, rx) = mpsc::channel();
        let inner = Arc::new(Inner {
            queue: Mutex::new(tx),
            describe,
            pending: Mutex::new(0),
            drained: Condvar::new(),
            delivered: AtomicU64::new(0),
            given_up: AtomicU64::new(0),
        });
        let sender = Sender {
            route,
            from,
            retry_delays: settings.retry_delays,
            inner: Arc::downgrade(&inner),
        };
        thread::Builder::new()
            .name("mail-sender".to_owned())
            .spawn(move || sender.run(rx))
            .map_err(MailError::Thread)?;
        Ok(Mailer { inner })
    }

    /// Queues a letter and returns at once. Delivery is retried with the back-off; a failure
    /// is logged (kind, id, error), never panics and never reaches the caller.
    pub fn send(&self, letter: Letter) {
        let (kind, id) = (letter.kind(), letter.id().to_owned());
        *lock(&self.inner.pending) += 1;
        let queued = lock(&self.inner.queue).send(letter);
        if queued.is_err() {
            self.inner.finish();
            self.inner.given_up.fetch_add(1, Ordering::Relaxed);
            tracing::error!(kind, id = %id, "mail not sent: the mail sender has stopped");
        } else {
            tracing::debug!(kind, id = %id, "mail queued");
        }
    }

    /// `SMTP server mail.example.com:587 (STARTTLS when offered)` or
    /// `outbox folder /abs/path`: for the log line at start.
    pub fn describe(&self) -> String {
        self.inner.describe.clone()
    }

    /// Waits until every queued letter is delivered or given up, at most `timeout`; true if
    /// none is left.
    pub fn flush(&self, timeout: Duration) -> bool {
        let pending = lock(&self.inner.pending);
        let (pending, _) = self
            .inner
            .drained
            .wait_timeout_while(pending, timeout, |n| *n > 0)
            .unwrap_or_else(PoisonError::into_inner);
        *pending == 0
    }

    /// Counts of letters pending, delivered and given up since start.
    pub fn stats(&self) -> MailStats {
        MailStats {
            pending: *lock(&self.inner.pending),
            delivered: self.inner.delivered.load(Ordering::Relaxed),
            given_up: self.inner.given_up.load(Ordering::Relaxed),
        }
    }
}

impl Inner {
    fn finish(&self) {
        let mut pending = lock(&self.pending);
        *pending = pending.saturating_sub(1);
        if *pending == 0 {
            self.drained.notify_all();
        }
    }
}

/// A poisoned lock still holds a usable count or sender (nothing here panics while holding
/// one); mail must keep going.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn smtp_transport(url: &SmtpUrl, timeout: Duration) -> Result<SmtpTransport, MailError> {
    let tls_parameters = || {
        TlsParameters::new(url.host().to_owned()).map_err(|e| {
            MailError::BadSmtpUrl(format!("TLS cannot be set up for {}: {e}", url.host()))
        })
    };
    let tls = match url.tls() {
        TlsMode::Opportunistic => Tls::Opportunistic(tls_parameters()?),
        TlsMode::Required => Tls::Required(tls_parameters()?),
        TlsMode::Implicit => Tls::Wrapper(tls_parameters()?),
    };
    let mut builder = SmtpTransport::builder_dangerous(url.host())
        .port(url.port())
        .tls(tls)
        .timeout(Some(timeout));
    if let Some((user, password)) = url.credentials() {
        builder = builder.credentials(Credentials::new(user.to_owned(), password.to_owned()));
    }
    Ok(builder.build())
}

/// Creates the folder (0700) if missing and returns its absolute path. An existing folder
/// that others may read is used as it is, with a warning.
fn prepare_outbox(dir: &Path) -> Result<PathBuf, MailError> {
    let err = |source| MailError::Outbox {
        path: dir.to_owned(),
        source,
    };
    if !dir.is_dir() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(err)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(err)?;
    }
    let dir = fs::canonicalize(dir).map_err(err)?;
    let mode = fs::metadata(&dir).map_err(err)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            folder = %dir.display(),
            mode = format_args!("{:o}", mode & 0o777),
            "the mail outbox folder can be read by others: letters hold one-time links (chmod 700)"
        );
    }
    Ok(dir)
}

enum Route {
    Smtp(SmtpTransport),
    Outbox { dir: PathBuf, seq: u64 },
}

struct Sender {
    route: Route,
    from: Mailbox,
    retry_delays: Vec<Duration>,
    inner: std::sync::Weak<Inner>,
}

struct Waiting {
    letter: Letter,
    /// Attempts made so far.
    attempts: usize,
    due: Instant,
}

impl Sender {
    fn run(mut self, rx: mpsc::Receiver<Letter>) {
        let mut waiting: VecDeque<Waiting> = VecDeque::new();
        let mut open = true;
        loop {
            let next_due = waiting.iter().map(|w| w.due).min();
            let received = match (open, next_due) {
                (true, None) => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                (true, Some(due)) => rx.recv_timeout(due.saturating_duration_since(Instant::now())),
                (false, None) => return,
                (false, Some(due)) => {
                    thread::sleep(due.saturating_duration_since(Instant::now()));
                    Err(mpsc::RecvTimeoutError::Timeout)
                }
            };
            match received {
                Ok(letter) => waiting.push_back(Waiting {
                    letter,
                    attempts: 0,
                    due: Instant::now(),
                }),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => open = false,
            }
            let now = Instant::now();
            let (due, later): (Vec<_>, Vec<_>) = waiting.drain(..).partition(|w| w.due <= now);
            waiting.extend(later);
            for w in due {
                if let Some(again) = self.attempt(w) {
                    waiting.push_back(again);
                }
            }
        }
    }

    /// One delivery attempt; the letter back when it is to be tried again.
    fn attempt(&mut self, mut w: Waiting) -> Option<Waiting> {
        let (kind, id) = (w.letter.kind(), w.letter.id().to_owned());
        w.attempts += 1;
        let result =
            catch_unwind(AssertUnwindSafe(|| self.deliver(&w.letter))).unwrap_or_else(|_| {
                Err(MailError::Smtp {
                    message: "the mail transport panicked".to_owned(),
                    permanent: false,
                })
            });
        let inner = self.inner.upgrade();
        match result {
            Ok(()) => {
                tracing::info!(kind, id = %id, attempts = w.attempts, via = self.describe_route(), "mail delivered");
                if let Some(inner) = inner {
                    inner.delivered.fetch_add(1, Ordering::Relaxed);
                    inner.finish();
                }
                None
            }
            Err(error) => match self.retry_delays.get(w.attempts - 1) {
                Some(delay) if !error.is_permanent() => {
                    tracing::warn!(kind, id = %id, attempts = w.attempts, %error, retry_in = ?delay, "mail delivery failed; will retry");
                    w.due = Instant::now() + *delay;
                    Some(w)
                }
                _ => {
                    tracing::error!(kind, id = %id, attempts = w.attempts, %error, "mail delivery failed; given up");
                    if let Some(inner) = inner {
                        inner.given_up.fetch_add(1, Ordering::Relaxed);
                        inner.finish();
                    }
                    None
                }
            },
        }
    }

    fn describe_route(&self) -> &'static str {
        match self.route {
            Route::Smtp(_) => "smtp",
            Route::Outbox { .. } => "outbox",
        }
    }

    fn deliver(&mut self, letter: &Letter) -> Result<(), MailError> {
        let now = SystemClock.now();
        let message = compose(
            &self.from,
            letter,
            now,
            matches!(self.route, Route::Outbox { .. }),
        )?;
        match &mut self.route {
            Route::Smtp(transport) => {
                transport
                    .send(&message)
                    .map(|_| ())
                    .map_err(|e| MailError::Smtp {
                        message: e.to_string(),
                        permanent: e.is_permanent(),
                    })
            }
            Route::Outbox { dir, seq } => {
                *seq += 1;
                let name = format!("{}-{:06}-{}.eml", utc_stamp(now), seq, letter.id());
                write_atomically(dir, &name, &message.formatted()).map_err(|source| {
                    MailError::Outbox {
                        path: dir.clone(),
                        source,
                    }
                })
            }
        }
    }
}

/// The RFC 5322 message: From, To, Subject, Date, Message-ID, and a multipart/alternative
/// body (text, then HTML). For SMTP, lettre picks each part's encoding (7-bit when it can,
/// else quoted-printable or base64: no server needs 8BITMIME). An outbox file is read by
/// people, so its parts are kept as they are whenever their lines allow ([`readable_body`]),
/// and a link reads as it is (never `=3D` or a soft line break in the middle).
fn compose(
    from: &Mailbox,
    letter: &Letter,
    now: i64,
    eight_bit: bool,
) -> Result<Message, MailError> {
    let to: Mailbox = letter
        .to()
        .parse()
        .map_err(|e: lettre::address::AddressError| MailError::BadRecipient {
            to: letter.to().to_owned(),
            reason: e.to_string(),
        })?;
    let text = letter
        .text()
        .map_err(|e| MailError::Compose(e.to_owned()))?;
    let html = letter
        .html()
        .map_err(|e| MailError::Compose(e.to_owned()))?;
    let body = |content: &str| {
        eight_bit
            .then(|| readable_body(content))
            .flatten()
            .unwrap_or_else(|| Body::new(content.to_owned()))
    };
    let date = UNIX_EPOCH + Duration::from_secs(u64::try_from(now).unwrap_or(0));
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(letter.subject())
        .date(date)
        .message_id(Some(format!("<{}@{}>", letter.id(), from.email.domain())))
        .multipart(MultiPart::alternative_plain_html(body(text), body(html)))
        .map_err(|e| MailError::Compose(e.to_string()))
}

/// A body as it is (CRLF line ends; `7bit` when ASCII, else `8bit`), when every line fits
/// RFC 5322's 998 octets and there is no NUL; `None` otherwise (lettre then encodes it).
/// lettre itself quoted-printables any line of 76 characters or more, which would break a
/// link in a file that people read.
fn readable_body(content: &str) -> Option<Body> {
    let crlf = content
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\n', "\r\n");
    if crlf.contains('\0') || crlf.split("\r\n").any(|line| line.len() > 998) {
        return None;
    }
    let encoding = if crlf.is_ascii() {
        ContentTransferEncoding::SevenBit
    } else {
        ContentTransferEncoding::EightBit
    };
    Some(Body::dangerous_pre_encoded(crlf.into_bytes(), encoding))
}

/// Writes `dir/name` (0600) so that a reader sees the whole file or none: a hidden temporary
/// file in the same folder, synced, then renamed.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, dir.join(name))?;
        fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// `20261204T150102Z`: unix seconds as a UTC timestamp that sorts as text.
pub(crate) fn utc_stamp(unix: i64) -> String {
    let t = primitives::UtcDateTime::from_unix(unix);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

#[cfg(test)]
mod tests {
    use super::utc_stamp;

    #[test]
    fn stamps_are_utc_and_sort_as_text() {
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        assert_eq!(utc_stamp(951_782_400), "20000229T000000Z");
        assert_eq!(utc_stamp(1_796_396_462), "20261204T150102Z");
        assert_eq!(utc_stamp(4_102_444_799), "20991231T235959Z");
        assert!(utc_stamp(1_796_396_462) < utc_stamp(1_796_396_463));
    }
}
