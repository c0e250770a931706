//! The management API and the web console: JSON over HTTP on a listener of its own
//! (`[admin]`, loopback only unless served over TLS),
//! on the same live configuration as jCli ([`smsgate_gateway::manage::Manager`]): a change
//! made here shows in jCli at once and the other way round, goes through the same checks as
//! the configuration file, and is audited with the account or token that made it.
//!
//! [`auth`] says who calls (session tokens for accounts, configured tokens for automation)
//! and [`api`] what each endpoint does and which role it needs. Every request's `Host` must
//! be a loopback address, an IP literal, `localhost` or a name in `admin.hosts`: a web page
//! cannot reach the API through a DNS name rebound to 127.0.0.1.

pub mod api;
pub mod auth;
pub mod console;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use smsgate_core::config::AdminConfig;
use smsgate_gateway::manage::Manager;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Requests on one connection at most this long apart; a request head within this time.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Concurrent connections.
const MAX_CONNECTIONS: usize = 64;

/// Why the API could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The `[admin]` credentials are unusable.
    #[error("admin: {0}")]
    Config(String),
    /// The listener could not bind.
    #[error("admin: cannot listen on {0}: {1}")]
    Listen(String, std::io::Error),
}

/// Start the API on `[admin]` bind/port. Returns the bound address.
pub async fn start(
    cfg: &AdminConfig,
    manager: Arc<Manager>,
    shutdown: CancellationToken,
) -> Result<SocketAddr, StartError> {
    cfg.check().map_err(StartError::Config)?;
    let auth = auth::Authenticator::new(cfg).map_err(StartError::Config)?;
    let tls = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(cert), Some(key)) => Some(
            smsgate_smpp::tls::server_acceptor(cert, key)
                .map_err(|e| StartError::Config(format!("admin TLS: {e}")))?,
        ),
        _ => None,
    };
    let addr = format!("{}:{}", cfg.bind, cfg.port);
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|e| StartError::Listen(addr.clone(), e))?;
    let local = listener
        .local_addr()
        .map_err(|e| StartError::Listen(addr.clone(), e))?;
    if cfg.accounts.is_empty() && cfg.tokens.is_empty() {
        tracing::warn!("the management API has no [[admin.accounts]] nor [[admin.tokens]]: every request will be refused");
    }
    let state = Arc::new(api::State {
        manager,
        auth,
        hosts: cfg.hosts.clone(),
        tls: tls.is_some(),
    });
    let limit = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::spawn(async move {
        loop {
            let (sock, peer) = tokio::select! {
                _ = shutdown.cancelled() => return,
                a = listener.accept() => match a {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "admin: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let Ok(permit) = limit.clone().try_acquire_owned() else {
                drop(sock);
                continue;
            };
            let state = state.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let state = state.clone();
                    async move {
                        Ok::<_, std::convert::Infallible>(api::handle(&state, req, peer.ip()).await)
                    }
                });
                let http = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .max_buf_size(64 * 1024)
                    .clone();
                match tls {
                    Some(acceptor) => {
                        // The handshake within the header timeout too: a silent client
                        // holds no connection slot for long.
                        let Ok(Ok(stream)) =
                            tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(sock)).await
                        else {
                            drop(permit);
                            return;
                        };
                        let _ = http
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                            .await;
                    }
                    None => {
                        let _ = http
                            .serve_connection(hyper_util::rt::TokioIo::new(sock), svc)
                            .await;
                    }
                }
                drop(permit);
            });
        }
    });
    Ok(local)
}
