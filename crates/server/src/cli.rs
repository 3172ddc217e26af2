//! The `portcullis` command line: `serve` (the default) and `migrate`.
//!
//! Every failure ends in one line on stderr, `portcullis: error: …`, and a non-zero exit code;
//! never a panic trace.

use std::fmt::Display;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use store::{Store, StoreConfig};

use crate::config::{Settings, SettingsArgs};
use crate::{app, telemetry};

/// Portcullis: an OAuth 2.0 / OpenID Connect authorization server with an API-key store.
///
/// Every setting can be given as a flag, as an environment variable, or as a key in
/// portcullis.toml; a flag wins over the environment, which wins over the file.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version)]
pub struct Cli {
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum Command {
    /// Apply pending migrations, then serve (the default)
    Serve,
    /// Apply pending migrations and exit
    Migrate,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    install_panic_hook();
    let cli = Cli::parse();
    let settings = match Settings::load(&cli.settings) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    telemetry::init(&settings);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        Command::Migrate => migrate(settings).map_or_else(|e| fail(&e), |_| ExitCode::SUCCESS),
    }
}

/// Prints the error as one line (libpq, for one, writes several) and gives the exit code.
fn fail(error: &dyn Display) -> ExitCode {
    let message = error.to_string();
    let one_line: Vec<&str> = message.split_whitespace().collect();
    eprintln!("portcullis: error: {}", one_line.join(" "));
    ExitCode::FAILURE
}

/// A panic is a bug: report it in one line (where, what) instead of a trace.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(%place, "internal error (panic): {info}");
        eprintln!("portcullis: internal error at {place}");
    }));
}

/// Opens the store and applies pending migrations.
fn migrate(settings: Settings) -> Result<Store, store::StoreError> {
    let mut config = StoreConfig::new(settings.database_url.clone());
    config.pool_size = settings.database_pool_size;
    let store = Store::open(&config)?;
    let applied = store.migrate()?;
    tracing::info!(
        database = %settings.database_url,
        applied = applied.len(),
        "database schema is current"
    );
    Ok(store)
}

fn serve(settings: Settings) -> ExitCode {
    let started = Instant::now();
    let store = match migrate(settings.clone()) {
        Ok(store) => store,
        Err(e) => return fail(&e),
    };
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        let issuer = settings.issuer_str().to_owned();
        let running = match app::start(settings, store) {
            Ok(r) => r,
            Err(e) => return fail(&e),
        };
        tracing::info!(
            addr = %running.addr,
            %issuer,
            ready_ms = started.elapsed().as_millis() as u64,
            "portcullis is listening"
        );
        match running.server.await {
            Ok(()) => {
                tracing::info!("portcullis stopped");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        }
    })
}
