//! The Portcullis server: the only crate that knows actix-web, HTTP and askama.
//!
//! Owns: the routes, the server-rendered pages, the middleware, the in-memory caches and the
//! HTTP mapping of every error. It is a library handed a validated [`Settings`]; the command
//! line, the reading of settings and the logging set-up are the binary's (`crates/portcullis`).
//! Handlers are thin: they parse the request, call a domain crate (`accounts`,
//! `registration`, `grants`, `tokens`, `apikeys`) and map its answer or error to HTTP. Every
//! error reaches HTTP through [`errors`]: RFC 6749 shapes on OAuth endpoints, the JSON API shape
//! (`{"error":{"code","message","type"}}`) under `/api/`, an HTML page elsewhere.
//!
//! Architecture invariants:
//! - No SQL and no diesel here: storage goes through `store` and the domain crates.
//! - Blocking database work runs in `web::block`, never on an async worker.
//! - Nothing logs a token, secret, password, cookie or query string.

pub mod access;
pub mod account;
pub mod app;
pub mod audit;
mod auth;
pub mod backchannel;
pub mod cimd;
mod clientcache;
mod clientkeys;
pub mod config;
mod console;
pub mod cors;
mod dpop;
pub mod errors;
mod flows;
pub mod forwarded;
pub mod i18n;
pub mod invalidate;
mod keycache;
pub mod metrics;
mod mfa;
mod middleware;
/// The OpenAPI document of `/api/v1`, built from the route table.
pub mod openapi;
mod pages;
/// Passkeys: public for the second-factor step's tests, which run a real ceremony.
pub mod passkeys;
mod principal;
pub mod ratelimit;
pub(crate) mod routes;
mod session;
pub mod theme;
mod vetted;
/// The JSON API's route table (`routes/api.rs`): every `/api/v1` route and who may call it.
pub use routes::admin::{ADMIN_ROUTES, AdminRoute};
pub use routes::api::{API_ROUTES, markdown as api_routes_markdown, openapi_document};
pub mod state;
pub mod traces;
mod ttlmap;
pub mod upstream;

pub use app::{RunError, Running, run, start, start_on, start_with};
/// What the command line's operator commands share with the routes.
pub use audit::event_json as audit_json;
pub use config::{CimdPolicy, RegistrationPolicy, Settings, UpstreamProvider, UpstreamSecret};
pub use state::AppState;
pub use state::{registration_policy, registration_policy_with_resources};
