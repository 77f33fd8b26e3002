//! The accept loop: a cap on open connections, TLS handshakes, HTTP/1.1 with
//! keep-alive and HTTP/2 via hyper-util's auto builder, idle timeouts, and
//! graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_rustls::TlsAcceptor;

use crate::api::{self, AppState, ConnectionInfo, Listener};

/// How long a client may take for the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long in-flight connections may run after a shutdown signal.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Minimum time between two "connection limit reached" warnings.
const LIMIT_WARNING_INTERVAL: Duration = Duration::from_secs(60);

/// Serves connections from `listener` until `shutdown` completes, then stops
/// accepting and waits up to [`DRAIN_TIMEOUT`] for open connections. `kind`
/// decides which endpoints the listener serves.
///
/// At most `max_connections` connections are open at once. While all slots
/// are taken the loop stops accepting, so new clients wait in the kernel's
/// listen backlog until a connection closes. A connection with no request in
/// flight for `idle_timeout` is shut down gracefully.
pub async fn run(
    listener: TcpListener,
    kind: Listener,
    acceptor: Option<TlsAcceptor>,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) {
    let idle_timeout = state.config.idle_timeout;
    let max_connections = state.config.max_connections;
    let builder = http_builder(idle_timeout);
    let slots = Arc::new(Semaphore::new(max_connections));
    let mut limit_warning = LimitWarning::default();
    let (drain, draining) = watch::channel(false);
    tokio::pin!(shutdown);

    loop {
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                limit_warning.record(kind, max_connections);
                tokio::select! {
                    () = &mut shutdown => break,
                    permit = slots.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        // The semaphore is never closed while this loop runs.
                        Err(_) => break,
                    },
                }
            }
        };
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
        let connection = Connection {
            builder: builder.clone(),
            draining: draining.clone(),
            idle_timeout,
            state: state.clone(),
            _permit: permit,
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let Some(acceptor) = acceptor else {
                let info = ConnectionInfo {
                    remote,
                    peer_certificate: None,
                    listener: kind,
                };
                connection.serve(stream, info).await;
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
            connection.serve(tls, info).await;
        });
    }

    drop(listener);
    let open = max_connections - slots.available_permits();
    tracing::info!(connections = open, "stopped accepting connections; draining");
    let _ = drain.send(true);
    // Every connection task holds one permit until it ends, so all permits
    // are back once every connection has closed.
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN_TIMEOUT, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            grace_seconds = DRAIN_TIMEOUT.as_secs(),
            connections = max_connections - slots.available_permits(),
            "connections were still open when the grace period ended; closing them"
        );
    }
}

/// Configures HTTP/1.1 and HTTP/2 for every connection of one listener.
fn http_builder(idle_timeout: Duration) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .keep_alive(true)
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    // Pings find HTTP/2 peers that vanished while a request was in flight;
    // the idle watchdog in `Connection::serve` closes connections without one.
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(idle_timeout))
        .keep_alive_timeout(idle_timeout);
    builder
}

/// Rate-limits the warning logged when every connection slot is taken.
#[derive(Default)]
struct LimitWarning {
    last: Option<Instant>,
    suppressed: u64,
}

impl LimitWarning {
    fn record(&mut self, kind: Listener, max_connections: usize) {
        let due = self
            .last
            .is_none_or(|last| last.elapsed() >= LIMIT_WARNING_INTERVAL);
        if !due {
            self.suppressed += 1;
            return;
        }
        tracing::warn!(
            listener = ?kind,
            max_connections,
            suppressed_warnings = self.suppressed,
            "connection limit reached; not accepting new connections until one closes"
        );
        self.last = Some(Instant::now());
        self.suppressed = 0;
    }
}

/// One accepted connection and what it needs to serve HTTP.
struct Connection {
    builder: auto::Builder<TokioExecutor>,
    draining: watch::Receiver<bool>,
    idle_timeout: Duration,
    state: Arc<AppState>,
    /// Released when the connection ends, which frees its slot.
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    /// Serves HTTP on `stream` until the client closes it, it stays idle for
    /// `idle_timeout`, or the listener drains.
    ///
    /// After a graceful shutdown starts, a request in flight may finish, but
    /// a connection still open `idle_timeout` after an idle shutdown (such as
    /// a client that never reads its response) is dropped.
    async fn serve<S>(mut self, stream: S, info: ConnectionInfo)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let remote: SocketAddr = info.remote;
        let info = Arc::new(info);
        let activity = Arc::new(Activity::new());
        let state = self.state.clone();
        let service_activity = activity.clone();
        let service = service_fn(move |request| {
            let in_flight = service_activity.begin();
            let response = api::handle(state.clone(), info.clone(), request);
            async move {
                let response = response.await;
                drop(in_flight);
                response
            }
        });
        let connection = self
            .builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        tokio::pin!(connection);

        let mut shutdown_deadline: Option<tokio::time::Instant> = None;
        let result = loop {
            let idle_check = match shutdown_deadline {
                Some(deadline) => deadline,
                None => activity.idle_deadline(self.idle_timeout),
            };
            tokio::select! {
                result = connection.as_mut() => break result,
                _ = self.draining.wait_for(|drain| *drain), if shutdown_deadline.is_none() => {
                    connection.as_mut().graceful_shutdown();
                    // The drain in `run` ends the wait after DRAIN_TIMEOUT.
                    shutdown_deadline = Some(tokio::time::Instant::now() + DRAIN_TIMEOUT);
                }
                () = tokio::time::sleep_until(idle_check) => {
                    if shutdown_deadline.is_some() {
                        tracing::debug!(client.addr = %remote, "connection did not finish after shutdown; closing it");
                        return;
                    }
                    if activity.is_idle(self.idle_timeout) {
                        tracing::debug!(client.addr = %remote, idle_seconds = self.idle_timeout.as_secs(), "closing an idle connection");
                        connection.as_mut().graceful_shutdown();
                        shutdown_deadline = Some(tokio::time::Instant::now() + self.idle_timeout);
                    }
                }
            }
        };
        if let Err(error) = result {
            tracing::debug!(client.addr = %remote, %error, "connection ended with an error");
        }
    }
}

/// Requests in flight on one connection and when the count last changed.
struct Activity {
    in_flight: AtomicUsize,
    last_change: Mutex<Instant>,
}

impl Activity {
    fn new() -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            last_change: Mutex::new(Instant::now()),
        }
    }

    /// Counts a request as in flight until the returned guard is dropped.
    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.touch();
        InFlight {
            activity: self.clone(),
        }
    }

    fn touch(&self) {
        *self
            .last_change
            .lock()
            .unwrap_or_else(|poison| poison.into_inner()) = Instant::now();
    }

    fn last_change(&self) -> Instant {
        *self
            .last_change
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Returns when to check next whether the connection is idle: one
    /// `idle_timeout` after the last change, or from now while a request is
    /// in flight.
    fn idle_deadline(&self, idle_timeout: Duration) -> tokio::time::Instant {
        let from = if self.in_flight.load(Ordering::SeqCst) > 0 {
            Instant::now()
        } else {
            self.last_change()
        };
        tokio::time::Instant::from_std(from + idle_timeout)
    }

    fn is_idle(&self, idle_timeout: Duration) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0 && self.last_change().elapsed() >= idle_timeout
    }
}

/// Marks one request in flight; dropping it (also when the request is
/// cancelled) ends the request.
struct InFlight {
    activity: Arc<Activity>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.activity.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.activity.touch();
    }
}
