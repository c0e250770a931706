//! HTTP front doors. `api`: Jasmin's HTTP API. (REST and the compatibility APIs join here.)
pub mod api;
pub mod rest;
pub mod retarus;
pub mod smstools;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Limits of an HTTP listener.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    pub max_connections: usize,
    pub max_head_bytes: usize,
    pub header_read_timeout: Duration,
}

/// Serve Jasmin's HTTP API on `listener` until `shutdown`.
pub async fn serve_api(
    listener: TcpListener,
    state: Arc<api::ApiState>,
    limits: ServerLimits,
    shutdown: CancellationToken,
) {
    serve(listener, state, api::handle, limits, shutdown, "HTTP API").await
}

/// Serve `handler` on `listener` until `shutdown` (HTTP/1.1, a connection cap, a header read
/// timeout); then stop accepting and let requests in progress finish (bounded).
pub async fn serve<S, H, F>(
    listener: TcpListener,
    state: Arc<S>,
    handler: H,
    limits: ServerLimits,
    shutdown: CancellationToken,
    name: &'static str,
) where
    S: Send + Sync + 'static,
    H: Fn(Arc<S>, hyper::Request<hyper::body::Incoming>, std::net::IpAddr) -> F
        + Copy
        + Send
        + Sync
        + 'static,
    F: std::future::Future<Output = api::Resp> + Send + 'static,
{
    let conns = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let tracker = tokio_util::task::TaskTracker::new();
    loop {
        let permit = tokio::select! {
            p = conns.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shutdown.cancelled() => break,
        };
        let (sock, peer): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, listener = name, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let _ = sock.set_nodelay(true);
        let state = state.clone();
        let limits = limits.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            let ip = peer.ip();
            let svc = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, std::convert::Infallible>(handler(state, req, ip).await) }
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .max_buf_size(limits.max_head_bytes.max(8192));
            let conn = builder.serve_connection(TokioIo::new(sock), svc);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
                }
            }
            drop(permit);
        });
    }
    tracker.close();
    let _ = tokio::time::timeout(Duration::from_secs(10), tracker.wait()).await;
}
