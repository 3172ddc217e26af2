//! The actix application: shared state, middleware, routes, and the listening server.

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};
use store::Store;

use crate::config::Settings;
use crate::errors;
use crate::metrics::Metrics;
use crate::middleware::observe;
use crate::routes;

/// Largest JSON body the API accepts.
const JSON_LIMIT: usize = 64 * 1024;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub settings: Arc<Settings>,
}

impl AppState {
    pub fn new(settings: Settings, store: Store) -> Self {
        Self {
            store,
            metrics: Arc::new(Metrics::new()),
            settings: Arc::new(settings),
        }
    }
}

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
    App::new()
        .app_data(web::Data::new(state))
        .app_data(
            web::JsonConfig::default()
                .limit(JSON_LIMIT)
                .error_handler(errors::json_error),
        )
        .app_data(web::QueryConfig::default().error_handler(errors::query_error))
        .wrap(DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
        .wrap(from_fn(observe))
        .configure(routes::configure)
        .default_service(web::to(errors::not_found))
}

/// A bound server, not yet running: await `server` (or spawn it) to serve.
#[allow(missing_debug_implementations)] // actix's `Server` has no `Debug`.
pub struct Running {
    /// The address actually bound (useful with port 0).
    pub addr: SocketAddr,
    pub server: actix_web::dev::Server,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {bind}: {source}")]
pub struct BindError {
    bind: String,
    source: std::io::Error,
}

/// Binds the listener and builds the server. Must be called inside an actix system.
pub fn start(settings: Settings, store: Store) -> Result<Running, BindError> {
    let bind = settings.bind.clone();
    let workers = settings.workers;
    let shutdown_timeout = settings.shutdown_timeout;
    let state = AppState::new(settings, store);
    let server = HttpServer::new(move || build_app(state.clone()))
        .workers(workers)
        .shutdown_timeout(shutdown_timeout)
        .bind(&bind)
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
    })
}
