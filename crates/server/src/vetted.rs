//! Outgoing connections to hosts named by others (the gateway's upstreams, client metadata
//! documents, back-channel logout URIs): the connector that vets every address a name resolves
//! to and connects only to those. Below `routes/`, so both the gateway's routes and `crate::cimd` use it.

use std::sync::Arc;

use actix_tls::connect::{
    ConnectError as TcpConnectError, ConnectInfo, Connection as TcpConnection,
};
use actix_web::http::Uri;
use actix_web::rt::net::TcpStream;
use actix_web::web;
use futures_util::future::LocalBoxFuture;
use gateway::GatewayError;

/// The gateway's TCP connector, in place of awc's default one: it resolves the upstream host
/// once (through the injectable [`gateway::Resolve`]), vets every address it got
/// ([`gateway::vetted_addrs`]), and connects only to one of those. A name that answers a public
/// address to a check and a private one to the connection (DNS rebinding) therefore never
/// reaches the private one: there is no second lookup. The connection keeps the request's URI,
/// so awc's TLS layer still sends the upstream's name as SNI and verifies its certificate for
/// that name, and the `Host` header is the upstream's name, not the address.
///
/// The fetch of client metadata documents (`crate::cimd`) uses it too.
#[derive(Clone, Debug)]
pub(crate) struct VettedConnector {
    pub(crate) resolver: Arc<dyn gateway::Resolve>,
    pub(crate) policy: gateway::AddressPolicy,
    /// With `policy.allow_private`: of the special-purpose addresses, only loopback ones pass
    /// (a test setting that must not open the private network too).
    pub(crate) loopback_only: bool,
}

impl actix_web::dev::Service<ConnectInfo<Uri>> for VettedConnector {
    type Response = TcpConnection<Uri, TcpStream>;
    type Error = TcpConnectError;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    actix_web::dev::always_ready!();

    fn call(&self, req: ConnectInfo<Uri>) -> Self::Future {
        let resolver = Arc::clone(&self.resolver);
        let policy = self.policy;
        let loopback_only = self.loopback_only;
        let host = req.hostname().to_owned();
        let port = req.port();
        let uri = req.request().clone();
        Box::pin(async move {
            let addrs =
                web::block(move || gateway::vetted_addrs(resolver.as_ref(), &host, port, policy))
                    .await
                    .map_err(|e| TcpConnectError::Resolver(Box::new(e)))?
                    .map_err(|e| TcpConnectError::Resolver(Box::new(e)))?;
            if loopback_only
                && let Some(addr) = addrs
                    .iter()
                    .find(|a| !a.ip().is_loopback() && gateway::refused_because(a.ip()).is_some())
            {
                let refused =
                    GatewayError::Refused(format!("{} is neither public nor loopback", addr.ip()));
                return Err(TcpConnectError::Resolver(Box::new(refused)));
            }
            let mut last = None;
            for addr in addrs {
                match TcpStream::connect(addr).await {
                    Ok(stream) => return Ok(TcpConnection::new(uri, stream)),
                    Err(e) => last = Some(e),
                }
            }
            Err(TcpConnectError::Io(last.unwrap_or_else(|| {
                std::io::Error::other("no address to connect to")
            })))
        })
    }
}

/// The refusal inside a failed upstream call, when our connector refused the address.
pub(crate) fn connect_refusal(e: &awc::error::SendRequestError) -> Option<String> {
    match e {
        awc::error::SendRequestError::Connect(awc::error::ConnectError::Resolver(inner)) => {
            match inner.downcast_ref::<GatewayError>() {
                Some(GatewayError::Refused(why)) => Some(why.clone()),
                _ => None,
            }
        }
        _ => None,
    }
}

/// An awc client through [`VettedConnector`] that follows no redirects and gives up after
/// `timeout`. `allow_loopback` (a test and development setting) lets loopback addresses
/// through, and of the special-purpose ones only those. `tls`: the TLS client settings
/// (`None`: Mozilla's roots). Client metadata documents and back-channel logouts go out so.
pub(crate) fn http_client(
    state: &crate::state::AppState,
    tls: Option<&Arc<rustls::ClientConfig>>,
    allow_loopback: bool,
    timeout: std::time::Duration,
) -> awc::Client {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let connector = match tls {
        Some(tls) => awc::Connector::new().rustls_0_23(Arc::clone(tls)),
        None => awc::Connector::new(),
    };
    let connector = connector.connector(VettedConnector {
        resolver: Arc::clone(&state.gateway_resolver),
        policy: gateway::AddressPolicy {
            allow_private: allow_loopback,
        },
        loopback_only: allow_loopback,
    });
    awc::Client::builder()
        .connector(connector)
        .disable_redirects()
        .timeout(timeout)
        .finish()
}
