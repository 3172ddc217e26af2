//! The actix application: middleware, routes, and the listening server. The top of the crate:
//! the only module besides `lib.rs` that names `routes` (the shared state is `state.rs`).

use std::net::SocketAddr;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};
use store::Store;

use crate::config::Settings;
use crate::errors;
use crate::middleware::observe;
use crate::routes;
use crate::state::AppState;

/// Largest JSON body the API accepts.
const JSON_LIMIT: usize = 64 * 1024;

/// The application with all routes, for `HttpServer` and for in-process tests.
pub fn build_app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let gateway = web::Data::new(routes::GatewayClient(routes::gateway_client(&state)));
    App::new()
        .app_data(gateway)
        .app_data(web::Data::new(state))
        .app_data(
            web::JsonConfig::default()
                .limit(JSON_LIMIT)
                .error_handler(errors::json_error),
        )
        .app_data(web::QueryConfig::default().error_handler(errors::query_error))
        .app_data(
            web::FormConfig::default()
                .limit(16 * 1024)
                .error_handler(errors::form_error),
        )
        .wrap(DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
        .wrap(from_fn(crate::errors::api::resource_challenge))
        .wrap(from_fn(crate::cors::cors))
        .wrap(from_fn(crate::middleware::guard_request))
        .wrap(from_fn(observe))
        .wrap(from_fn(crate::middleware::show_api_answers))
        // Outermost, so every page is in the reader's language, refusals of the guard included.
        .wrap(from_fn(crate::i18n::page_context))
        .configure(routes::configure)
        .default_service(web::to(errors::not_found))
}

/// A bound server, not yet running: await `server` (or spawn it) to serve.
#[allow(missing_debug_implementations)] // actix's `Server` has no `Debug`.
pub struct Running {
    /// The address actually bound (useful with port 0).
    pub addr: SocketAddr,
    pub server: actix_web::dev::Server,
    /// Flush it once the server has stopped, so queued audit events are written.
    pub audit: crate::audit::AuditWriter,
    /// Flush it once the server has stopped, so queued mail is delivered (or given up).
    pub mailer: Option<mail::Mailer>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {bind}: {source}")]
pub struct BindError {
    bind: String,
    source: std::io::Error,
}

/// Makes the signing keys ready ([`crate::keycache::prepare`]), binds the listener and builds
/// the server. Must be called inside an actix system.
pub fn start(settings: Settings, store: Store) -> Result<Running, RunError> {
    start_with(AppState::new(settings, store))
}

/// [`start`] with a prepared state (tests pass a manual clock).
pub fn start_with(state: AppState) -> Result<Running, RunError> {
    start_inner(state, None)
}

/// [`start_with`] on a listener bound already (tests learn the port before building the
/// settings, so the issuer can name it).
pub fn start_on(state: AppState, listener: std::net::TcpListener) -> Result<Running, RunError> {
    start_inner(state, Some(listener))
}

fn start_inner(
    state: AppState,
    listener: Option<std::net::TcpListener>,
) -> Result<Running, RunError> {
    crate::keycache::prepare(&state)?;
    let bind = state.settings.bind.clone();
    let audit = state.audit.clone();
    let mailer = state.mailer.clone();
    if let Some(mailer) = &mailer {
        tracing::info!(to = %mailer.describe(), "outgoing mail");
    }
    crate::invalidate::spawn_listener(&state);
    crate::keycache::spawn_rotation(&state);
    crate::backchannel::spawn_sender(&state);
    let workers = state.settings.workers;
    let shutdown_timeout = state.settings.shutdown_timeout;
    let server = HttpServer::new(move || build_app(state.clone()))
        .workers(workers)
        .shutdown_timeout(shutdown_timeout);
    let server = match listener {
        Some(listener) => server.listen(listener),
        None => server.bind(&bind),
    }
    .map_err(|source| BindError {
        bind: bind.clone(),
        source,
    })?;
    let addr = server.addrs().first().copied().ok_or_else(|| BindError {
        bind: bind.clone(),
        source: std::io::Error::other("no address bound"),
    })?;
    Ok(Running {
        addr,
        server: server.run(),
        audit,
        mailer,
    })
}

/// Why [`run`] ended in failure.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error(transparent)]
    Serve(#[from] std::io::Error),
    #[error("cannot prepare signing keys: {0}")]
    Keys(#[from] tokens::TokenError),
}

/// Serves on the calling thread until the server stops (SIGTERM or SIGINT): [`start`] in an
/// actix system of its own, `listening` called with the bound address once it listens, and
/// the queued audit events written at the end. The binary's `serve`.
pub fn run(
    settings: Settings,
    store: Store,
    listening: impl FnOnce(SocketAddr),
) -> Result<(), RunError> {
    actix_web::rt::System::new().block_on(async move {
        let running = start(settings, store)?;
        listening(running.addr);
        let stopped = running.server.await;
        running.audit.flush();
        if let Some(mailer) = &running.mailer {
            mailer.flush(std::time::Duration::from_secs(10));
        }
        Ok(stopped?)
    })
}
