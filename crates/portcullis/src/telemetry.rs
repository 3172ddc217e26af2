//! Logging with `tracing`: human-readable lines by default, JSON lines with
//! `PORTCULLIS_LOG_FORMAT=json`. Requests are logged under the target `portcullis::access` at
//! debug level (method, route, status, latency, request id; never a query string).

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

use crate::settings::{Config, LogFormat};

/// Checks a log filter before anything is set up, so a typo is a settings error.
pub fn check_filter(filter: &str) -> Result<String, String> {
    EnvFilter::try_new(filter)
        .map(|_| filter.to_owned())
        .map_err(|e| format!("{filter:?}: {e}"))
}

/// Installs the global subscriber. Safe to call twice (the second call does nothing).
pub fn init(settings: &Config) {
    let filter = EnvFilter::try_new(&settings.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match settings.log_format {
        LogFormat::Human => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
