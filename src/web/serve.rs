//! The HTTP server loop: hyper's HTTP/1.1 connections with the limits a server that faces
//! the public needs, which `axum::serve` does not set.
//!
//! A client that opens connections and never finishes a request (or never sends a byte)
//! would otherwise hold a task and a file descriptor each for as long as it likes, and some
//! thousands of them stop the server from accepting anyone. So: a connection must send a
//! request's whole header within `header_timeout` of its start or of the end of its previous
//! request (hyper's header read timeout, which also closes idle keep-alive connections), and
//! at most `max_connections` are served at once, the next waiting in the listen queue until
//! one closes, rather than being refused. A request body that pauses for 30 seconds fails
//! its request.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;
use tower_http::timeout::RequestBodyTimeoutLayer;

/// How long a request body may pause between two of its parts.
const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a stopping server waits for requests in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// What one server allows its clients.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Connections served at once.
    pub(crate) max_connections: usize,
    /// From a connection's start (or the end of its previous request) to the end of the
    /// next request's header.
    pub(crate) header_timeout: Duration,
}

/// Serves `router` on `listener` until `shutdown` completes, then lets the requests in
/// flight finish (for up to 30 seconds).
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // wait a moment instead of spinning, and go on.
                    tracing::warn!(error = %crate::telemetry::chain(&err), "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            // A body that stops arriving fails its request rather than holding the slot.
            let service = tower::ServiceBuilder::new()
                .layer(RequestBodyTimeoutLayer::new(BODY_IDLE_TIMEOUT))
                .service(router)
                .map_request(move |mut request: hyper::Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    request
                });
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            let connection =
                http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            if let Err(err) = watcher.watch(connection).await {
                tracing::debug!(error = %crate::telemetry::chain(&err), %peer, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after the drain timeout were cut off");
    }
}
