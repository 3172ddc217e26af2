//! A real SMTP server for tests, and a reader of the letters it (or an outbox) received.
//!
//! [`SmtpServer`] runs Debian's `python3-aiosmtpd` (`/usr/bin/python3`) with the script beside
//! this file, listening on `127.0.0.1`; each message it receives becomes a file in a
//! temporary folder, which [`SmtpServer::messages`] reads. The process stops when the value
//! is dropped. Only for tests (the `testing` feature, turned on by dev-dependencies).
//!
//! The parser here reads what this crate writes (headers, RFC 2047 encoded words,
//! `multipart/alternative`, quoted-printable and base64 parts): enough to check a letter, not
//! a general MIME parser.

use std::fs;
use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

const SCRIPT: &str = include_str!("smtp_server.py");
const PYTHON: &str = "/usr/bin/python3";

/// A running aiosmtpd server on `127.0.0.1`. Stops on drop.
#[derive(Debug)]
pub struct SmtpServer {
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
    /// Holds the script, the received messages (`NNNNNN.eml`) and `commands.log`.
    folder: tempfile::TempDir,
}

impl SmtpServer {
    /// A server on a free port, without authentication.
    pub fn start() -> SmtpServer {
        Self::launch(0, None)
    }

    /// A server on `port` (e.g. one a mailer already points at, to prove retries).
    pub fn start_on(port: u16) -> SmtpServer {
        Self::launch(port, None)
    }

    /// A server on a free port that accepts letters only after AUTH (PLAIN or LOGIN) with
    /// `user` and `password`, over plain text.
    pub fn start_with_auth(user: &str, password: &str) -> SmtpServer {
        Self::launch(0, Some((user, password)))
    }

    fn launch(port: u16, auth: Option<(&str, &str)>) -> SmtpServer {
        let folder = tempfile::Builder::new()
            .prefix("smtp-server-")
            .tempdir()
            .expect("a temporary folder");
        let script = folder.path().join("smtp_server.py");
        fs::write(&script, SCRIPT).expect("write the SMTP server script");
        let messages = folder.path().join("messages");
        fs::create_dir(&messages).expect("create the messages folder");
        let stderr = fs::File::create(folder.path().join("stderr.log")).expect("create stderr.log");
        let mut command = Command::new(PYTHON);
        command.arg(&script).arg(&messages).arg(port.to_string());
        if let Some((user, password)) = auth {
            command.arg(user).arg(password);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run {PYTHON} (is python3-aiosmtpd installed?): {e}")
            });
        let stdin = child.stdin.take();
        let mut line = String::new();
        let read = child
            .stdout
            .take()
            .map(|out| BufReader::new(out).read_line(&mut line));
        let port = match (read, line.trim().parse::<u16>()) {
            (Some(Ok(_)), Ok(port)) => port,
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                let log = fs::read_to_string(folder.path().join("stderr.log")).unwrap_or_default();
                panic!(
                    "the SMTP test server did not start (is python3-aiosmtpd installed?):\n{log}"
                );
            }
        };
        SmtpServer {
            child,
            stdin,
            port,
            folder,
        }
    }

    /// `smtp://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The messages received so far, in the order received.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        read_folder(&self.folder.path().join("messages"))
    }

    /// Waits until at least `n` messages were received (polling, at most `timeout`) and returns
    /// them all; panics, naming what arrived, when the time is up.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMessage> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            if Instant::now() >= deadline {
                panic!(
                    "expected {n} message(s) within {timeout:?}, got {}",
                    messages.len()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The `MAIL FROM` commands the server has seen (`MAIL <address>`), accepted or not: empty
    /// when no client got as far as starting a letter.
    pub fn mail_commands(&self) -> Vec<String> {
        fs::read_to_string(self.folder.path().join("messages/commands.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        // Closing stdin ends the script; kill in case it is stuck.
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago (bound to port 0, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// The letters in an outbox folder (`*.eml`, by name, so by time); temporary files are left
/// out.
pub fn read_outbox(dir: impl AsRef<Path>) -> Vec<ReceivedMessage> {
    read_folder(dir.as_ref())
}

fn read_folder(dir: &Path) -> Vec<ReceivedMessage> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| {
        p.extension().is_some_and(|e| e == "eml")
            && !p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
    });
    files.sort();
    files
        .iter()
        .map(|p| {
            let bytes = fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            ReceivedMessage::parse(&String::from_utf8_lossy(&bytes))
        })
        .collect()
}

/// A message as received, read enough to check a letter.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    /// The message as it arrived (line ends as sent).
    pub raw: String,
    /// Top-level headers, unfolded, encoded words decoded, in order.
    pub headers: Vec<(String, String)>,
    /// The decoded `text/plain` part (or the whole body of a single-part text message).
    pub text: Option<String>,
    /// The decoded `text/html` part.
    pub html: Option<String>,
}

impl ReceivedMessage {
    /// Parses a message (CRLF or LF line ends).
    pub fn parse(raw: &str) -> ReceivedMessage {
        let normal = raw.replace("\r\n", "\n");
        let part = Part::parse(&normal);
        let mut text = None;
        let mut html = None;
        part.collect(&mut text, &mut html);
        ReceivedMessage {
            raw: raw.to_owned(),
            headers: part.headers,
            text,
            html,
        }
    }

    /// The first header of that name (case-insensitive), decoded.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn to(&self) -> &str {
        self.header("To").unwrap_or_default()
    }

    pub fn from(&self) -> &str {
        self.header("From").unwrap_or_default()
    }

    pub fn subject(&self) -> &str {
        self.header("Subject").unwrap_or_default()
    }

    /// The text body, empty when there is none.
    pub fn text(&self) -> &str {
        self.text.as_deref().unwrap_or_default()
    }

    /// The first `http://` or `https://` link in the text body.
    pub fn link(&self) -> Option<String> {
        let text = self.text();
        let start = [text.find("https://"), text.find("http://")]
            .into_iter()
            .flatten()
            .min()?;
        let link: String = text[start..]
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, '<' | '>' | '"' | '\''))
            .collect();
        Some(link)
    }
}

struct Part {
    headers: Vec<(String, String)>,
    body: String,
}

impl Part {
    fn parse(text: &str) -> Part {
        let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.lines() {
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = headers.last_mut() {
                    value.push(' ');
                    value.push_str(line.trim());
                }
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
        for (_, value) in &mut headers {
            *value = decode_words(value);
        }
        Part {
            headers,
            body: body.to_owned(),
        }
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    }

    fn collect(&self, text: &mut Option<String>, html: &mut Option<String>) {
        let content_type = self.header("Content-Type").to_ascii_lowercase();
        if content_type.starts_with("multipart/") {
            let Some(boundary) = param(self.header("Content-Type"), "boundary") else {
                return;
            };
            let delimiter = format!("--{boundary}");
            for chunk in self.body.split(&delimiter).skip(1) {
                if chunk.starts_with("--") {
                    break;
                }
                Part::parse(chunk.trim_start_matches('\n')).collect(text, html);
            }
            return;
        }
        let body = decode_body(&self.body, self.header("Content-Transfer-Encoding"));
        if content_type.starts_with("text/html") {
            html.get_or_insert(body);
        } else if content_type.is_empty() || content_type.starts_with("text/plain") {
            text.get_or_insert(body);
        }
    }
}

/// A `name=value` parameter of a header (quotes removed).
fn param(header: &str, name: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (key, value) = p.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

fn decode_body(body: &str, encoding: &str) -> String {
    match encoding.trim().to_ascii_lowercase().as_str() {
        "base64" => {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            String::from_utf8_lossy(&STANDARD.decode(compact).unwrap_or_default()).into_owned()
        }
        "quoted-printable" => {
            String::from_utf8_lossy(&decode_quoted_printable(body, false)).into_owned()
        }
        _ => body.trim_end_matches('\n').to_owned(),
    }
}

/// Quoted-printable (RFC 2045 §6.7), or the `Q` encoding of RFC 2047 when `q` (`_` is a space).
fn decode_quoted_printable(text: &str, q: bool) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    let hex = |b: u8| (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok());
    while i < bytes.len() {
        match bytes[i] {
            b'=' if bytes.get(i + 1) == Some(&b'\n') => i += 2,
            b'=' => match (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi * 16 + lo);
                    i += 3;
                }
                _ => {
                    out.push(b'=');
                    i += 1;
                }
            },
            b'_' if q => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    if !q && out.last() == Some(&b'\n') {
        out.pop();
    }
    out
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`); whitespace between two
/// encoded words is dropped, as the RFC says.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut after_word = false;
    while let Some(start) = rest.find("=?") {
        let decoded = rest[start + 2..].split_once("?=").and_then(|(word, tail)| {
            let mut pieces = word.splitn(3, '?');
            let (_charset, encoding, text) = (pieces.next()?, pieces.next()?, pieces.next()?);
            let bytes = match encoding {
                "b" | "B" => STANDARD.decode(text).ok()?,
                "q" | "Q" => decode_quoted_printable(text, true),
                _ => return None,
            };
            Some((String::from_utf8_lossy(&bytes).into_owned(), tail))
        });
        match decoded {
            Some((word, tail)) => {
                let between = &rest[..start];
                if !(after_word && between.trim().is_empty()) {
                    out.push_str(between);
                }
                out.push_str(&word);
                rest = tail;
                after_word = true;
            }
            None => {
                out.push_str(&rest[..start + 2]);
                rest = &rest[start + 2..];
                after_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}
