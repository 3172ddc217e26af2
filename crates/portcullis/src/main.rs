//! `portcullis`, the binary: an OAuth 2.0 / OpenID Connect authorization server with an
//! API-key store.
//!
//! Owns: the command line (`serve`, `migrate` and the operator commands, [`cli`]), the reading
//! of settings from flags, `PORTCULLIS_*` environment variables and `portcullis.toml`
//! ([`settings`], checked once into the server's typed `server::Settings`), and the logging
//! set-up ([`telemetry`]). Everything a request does is the `server` library's.
//!
//! Architecture invariants:
//! - Nothing else in the workspace reads the environment or a settings file: the server is
//!   handed a validated value.
//! - Every failure ends in one line on stderr and a non-zero exit code, never a panic trace.

mod cli;
mod output;
mod settings;
mod telemetry;

fn main() -> std::process::ExitCode {
    cli::main()
}
