//! The accept loop: TLS handshakes, HTTP/1.1 with keep-alive and HTTP/2 via
//! hyper-util's auto builder, and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::api::{self, AppState, ConnectionInfo, Listener};

/// How long a client may take for the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long in-flight connections may run after a shutdown signal.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves connections from `listener` until `shutdown` completes, then stops
/// accepting and waits up to [`DRAIN_TIMEOUT`] for open connections. `kind`
/// decides which endpoints the listener serves.
pub async fn run(
    listener: TcpListener,
    kind: Listener,
    acceptor: Option<TlsAcceptor>,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .keep_alive(true)
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);

    loop {
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Usually too many open files; back off instead of spinning.
                    tracing::warn!(%error, "failed to accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let watcher = graceful.watcher();
        let builder = builder.clone();
        let state = state.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let Some(acceptor) = acceptor else {
                let info = ConnectionInfo {
                    remote,
                    peer_certificate: None,
                    listener: kind,
                };
                serve(builder, watcher, stream, info, state).await;
                return;
            };
            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
            let tls = match handshake {
                Ok(Ok(tls)) => tls,
                Ok(Err(error)) => {
                    tracing::info!(client.addr = %remote, %error, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::info!(client.addr = %remote, "TLS handshake timed out");
                    return;
                }
            };
            let peer_certificate = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|certificate| certificate.clone().into_owned());
            let info = ConnectionInfo {
                remote,
                peer_certificate,
                listener: kind,
            };
            serve(builder, watcher, tls, info, state).await;
        });
    }

    drop(listener);
    tracing::info!(
        connections = graceful.count(),
        "stopped accepting connections; draining"
    );
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_seconds = DRAIN_TIMEOUT.as_secs(),
            "connections were still open when the grace period ended; closing them"
        );
    }
}

async fn serve<S>(
    builder: auto::Builder<TokioExecutor>,
    watcher: hyper_util::server::graceful::Watcher,
    stream: S,
    info: ConnectionInfo,
    state: Arc<AppState>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let remote: SocketAddr = info.remote;
    let info = Arc::new(info);
    let service = service_fn(move |request| api::handle(state.clone(), info.clone(), request));
    let connection = builder
        .serve_connection(TokioIo::new(stream), service)
        .into_owned();
    if let Err(error) = watcher.watch(connection).await {
        tracing::debug!(client.addr = %remote, %error, "connection ended with an error");
    }
}
