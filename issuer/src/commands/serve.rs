//! `ironroot-issuer serve`: checks the configuration and the data directory,
//! loads the active intermediate once, issues the daemon's TLS certificate
//! (and renews it while running), and serves the API until SIGINT or SIGTERM.

use ironroot_core::duration::format_time;
use std::sync::Arc;

use ironroot_core::files;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::api::{AppState, Listener};
use crate::authority::ActiveCa;
use crate::authority::registry::Intermediates;
use crate::cli::ServeArgs;
use crate::config::{Config, FileConfig, TlsSource};
use crate::datadir::DataDir;
use crate::error::Error;
use crate::server;
use crate::storage::writer::{self, Writer};
use crate::storage::{self, ReadPool};
use crate::tls::{self, ServerCertificate, ServerIdentity};

/// Runs the daemon until a shutdown signal.
pub fn run(args: &ServeArgs) -> Result<(), Error> {
    let data_dir = DataDir::new(&args.data.data_dir);
    let mut file = FileConfig::load(args.config.as_deref(), data_dir.root())?;
    if let Some(listen) = &args.listen {
        file.listen = Some(listen.clone());
    }
    let config = file.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ironroot-worker")
        .build()
        .map_err(|error| Error::Io {
            what: "starting the runtime",
            path: data_dir.root().to_owned(),
            reason: error.to_string(),
        })?;
    runtime.block_on(serve(data_dir, config))
}

async fn serve(data_dir: DataDir, config: Config) -> Result<(), Error> {
    data_dir.require_initialised()?;
    // Held until this function returns; the OS releases it if the process dies.
    let _lock = data_dir.lock()?;
    let database = data_dir.database_path();
    if !database.exists() {
        return Err(Error::NoIntermediate {
            path: data_dir.root().to_owned(),
        });
    }
    files::check_private(&data_dir.identity_path())?;
    files::check_private(&database)?;
    let connection = storage::open_read_write(&database)?;
    let now = OffsetDateTime::now_utc();
    let intermediates = Intermediates::load(&data_dir, &connection, &config, now)?;
    log_ca(&intermediates.active());
    let (writer, writer_thread) = writer::start(connection, config.commit_batch_max)?;
    let result = serve_with_writer(&data_dir, config, intermediates, writer).await;
    // Every job queued before this point is committed before the thread ends.
    let stopped = tokio::task::spawn_blocking(move || writer_thread.stop()).await;
    if let Err(error) = stopped {
        tracing::error!(%error, "failed to stop the database writer");
    }
    if result.is_ok() {
        tracing::info!("stopped");
    }
    result
}

async fn serve_with_writer(
    data_dir: &DataDir,
    config: Config,
    intermediates: Intermediates,
    writer: Writer,
) -> Result<(), Error> {
    let ca = intermediates.active();
    // Client certificates are verified against the root loaded here; import
    // refuses intermediates of any other root, so activation never changes it.
    // Bind first, so a port already in use costs no server certificate.
    let (listener, address) = bind(config.listen).await?;
    let public = match config.crl_listen {
        Some(crl_listen) => Some(bind(crl_listen).await?),
        None => None,
    };
    let (acceptor, renewal) = match &config.tls {
        TlsSource::SelfIssued => {
            let issued =
                server_certificate::issue_and_record(&ca, &config, &writer, "start-up").await?;
            let certificate = Arc::new(ServerCertificate::new(issued.identity)?);
            let acceptor =
                TlsAcceptor::from(tls::server_config(certificate.clone(), &ca.root.der)?);
            (Some(acceptor), Some((certificate, issued.schedule)))
        }
        TlsSource::External { certificate, key } => {
            let identity = ServerIdentity::load(certificate, key)?;
            let certificate = Arc::new(ServerCertificate::new(identity)?);
            let acceptor = TlsAcceptor::from(tls::server_config(certificate, &ca.root.der)?);
            (Some(acceptor), None)
        }
        TlsSource::PlainHttp => (None, None),
    };
    let readers = ReadPool::new(&data_dir.database_path(), read_pool_size());
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    let state = Arc::new(AppState::new(
        intermediates,
        config,
        writer,
        readers,
        data_dir.clone(),
    ));
    let now = OffsetDateTime::now_utc();
    state
        .crls
        .refresh_due(
            &state.intermediates.all(),
            &state.readers,
            &state.writer,
            now,
        )
        .await;

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut background = vec![
        tokio::spawn(revocation_tasks::refresh_crls(
            state.clone(),
            stopped.clone(),
        )),
        tokio::spawn(revocation_tasks::warn_expiry(
            state.clone(),
            stopped.clone(),
        )),
    ];
    if let Some((certificate, schedule)) = renewal {
        background.push(tokio::spawn(server_certificate::renew(
            state.clone(),
            certificate,
            schedule,
            stopped.clone(),
        )));
    }
    let public_server = public.map(|(public_listener, public_address)| {
        tracing::info!(address = %public_address, scheme = "http", "listening for CRL and OCSP requests");
        tokio::spawn(server::run(
            public_listener,
            Listener::Public,
            None,
            state.clone(),
            wait_for(stopped.clone()),
        ))
    });
    tracing::info!(%address, scheme, "listening");
    server::run(listener, Listener::Api, acceptor, state, async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    })
    .await;
    if let Some(public_server) = public_server {
        let _ = public_server.await;
    }
    for task in background {
        let _ = task.await;
    }
    Ok(())
}

async fn bind(address: std::net::SocketAddr) -> Result<(TcpListener, std::net::SocketAddr), Error> {
    let bind_error = |error: std::io::Error| Error::Bind {
        address: address.to_string(),
        reason: error.to_string(),
    };
    let listener = TcpListener::bind(address).await.map_err(bind_error)?;
    let local = listener.local_addr().map_err(bind_error)?;
    Ok((listener, local))
}

/// Completes once `stopped` turns true (or its sender is gone).
async fn wait_for(mut stopped: tokio::sync::watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// Background work of the revocation service.
mod revocation_tasks {
    use std::sync::Arc;
    use std::time::Duration;

    use time::OffsetDateTime;
    use tokio::sync::watch;

    use crate::api::{AppState, log_expiry_warnings};

    /// How often expiry warnings repeat.
    const WARNING_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

    /// Regenerates every CRL whose validity is two thirds over.
    pub(super) async fn refresh_crls(state: Arc<AppState>, mut stopped: watch::Receiver<bool>) {
        let interval = state.crls.check_interval();
        loop {
            tokio::select! {
                _ = stopped.wait_for(|stop| *stop) => return,
                () = tokio::time::sleep(interval) => {}
            }
            let cas = state.intermediates.all();
            state
                .crls
                .refresh_due(
                    &cas,
                    &state.readers,
                    &state.writer,
                    OffsetDateTime::now_utc(),
                )
                .await;
        }
    }

    /// Logs a warning at start-up and then daily for each intermediate that
    /// is within `expiry_warning` of its notAfter.
    pub(super) async fn warn_expiry(state: Arc<AppState>, mut stopped: watch::Receiver<bool>) {
        loop {
            log_expiry_warnings(&state);
            tokio::select! {
                _ = stopped.wait_for(|stop| *stop) => return,
                () = tokio::time::sleep(WARNING_INTERVAL) => {}
            }
        }
    }
}

fn log_ca(ca: &ActiveCa) {
    let intermediate = ca.certificate();
    tracing::info!(
        intermediate.subject = %intermediate.subject,
        intermediate.sha256 = %intermediate.fingerprint,
        intermediate.not_after = %format_time(intermediate.validity.not_after),
        root.subject = %ca.root.subject,
        root.sha256 = %ca.root.fingerprint,
        "loaded the active intermediate"
    );
}

/// The daemon's self-issued TLS certificate: issuing, recording and
/// renewing it while the daemon runs.
mod server_certificate {
    use std::sync::Arc;
    use std::time::Duration;

    use ironroot_core::duration::format_time;
    use ironroot_core::keys::{KeyAlgorithm, PrivateKey};
    use time::OffsetDateTime;
    use tokio::sync::watch;

    use crate::api::AppState;
    use crate::authority::{ActiveCa, issue};
    use crate::config::Config;
    use crate::error::Error;
    use crate::storage::writer::{Job, Writer};
    use crate::tls::{ServerCertificate, ServerIdentity};

    /// How often the renewal task checks whether another intermediate was
    /// activated, so the presented chain follows an activation within this time.
    const ACTIVATION_CHECK_INTERVAL: Duration = Duration::from_millis(500);
    /// How long the renewal task waits after a failed renewal before it tries again.
    const RETRY_INTERVAL: time::Duration = time::Duration::seconds(30);
    /// Shortest time between two renewals, so a certificate cut short by an
    /// expiring intermediate is not re-issued in a tight loop.
    const MIN_RENEWAL_INTERVAL: time::Duration = time::Duration::SECOND;

    /// Renewal plan of the presented certificate.
    pub(super) struct Schedule {
        /// `cas.id` of the intermediate that signed it.
        ca_id: i64,
        /// Two thirds into its lifetime, counted from the signing time.
        renew_at: OffsetDateTime,
    }

    /// A freshly issued and recorded server certificate.
    pub(super) struct Issued {
        pub(super) identity: ServerIdentity,
        pub(super) schedule: Schedule,
    }

    /// Issues a certificate for `server_names` from `ca`, records it in the
    /// `certificates` table, and returns it with the intermediate as the
    /// chain. `reason` goes into the audit log line.
    pub(super) async fn issue_and_record(
        ca: &ActiveCa,
        config: &Config,
        writer: &Writer,
        reason: &'static str,
    ) -> Result<Issued, Error> {
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256)?;
        let now = OffsetDateTime::now_utc();
        let validity = issue::clamp_validity(ca.certificate(), now, config.leaf_validity)?;
        let issued = issue::sign_server(ca, &config.server_names, &key, validity, now)?;
        let leaf_der = issued.record.cert_der.clone();
        let serial = issued.record.serial.clone();
        writer
            .submit(Job::StoreCertificate {
                certificate: issued.record,
                token_hash: None,
            })
            .await
            .map_err(|error| {
                Error::Issue(format!("failed to record the server certificate: {error}"))
            })?;
        let names: Vec<String> = config
            .server_names
            .iter()
            .map(ToString::to_string)
            .collect();
        tracing::info!(
            target: "ironroot::audit",
            %serial,
            names = %names.join(","),
            not_after = %format_time(validity.not_after),
            intermediate.sha256 = %ca.sha256,
            reason,
            "server certificate issued"
        );
        let renew_at = now + (validity.not_after - now) * 2_i32 / 3_i32;
        Ok(Issued {
            identity: ServerIdentity::new(
                leaf_der,
                ca.certificate().der.clone(),
                &key.to_pkcs8_der(),
            ),
            schedule: Schedule {
                ca_id: ca.id,
                renew_at: renew_at.max(now + MIN_RENEWAL_INTERVAL),
            },
        })
    }

    /// Re-issues the server certificate when two thirds of its lifetime have
    /// passed or another intermediate becomes active, and presents the new
    /// one from the next TLS handshake on. Runs until `stopped` turns true.
    pub(super) async fn renew(
        state: Arc<AppState>,
        certificate: Arc<ServerCertificate>,
        mut schedule: Schedule,
        mut stopped: watch::Receiver<bool>,
    ) {
        loop {
            let until_due = (schedule.renew_at - OffsetDateTime::now_utc())
                .try_into()
                .unwrap_or(Duration::ZERO);
            tokio::select! {
                _ = stopped.wait_for(|stop| *stop) => return,
                () = tokio::time::sleep(until_due.min(ACTIVATION_CHECK_INTERVAL)) => {}
            }
            let ca = state.intermediates.active();
            let now = OffsetDateTime::now_utc();
            let reason = if ca.id != schedule.ca_id {
                "intermediate activated"
            } else if now >= schedule.renew_at {
                "renewal"
            } else {
                continue;
            };
            let renewed = match issue_and_record(&ca, &state.config, &state.writer, reason).await {
                Ok(issued) => certificate
                    .replace(issued.identity)
                    .map(|()| issued.schedule),
                Err(error) => Err(error),
            };
            schedule = match renewed {
                Ok(next) => next,
                Err(error) => {
                    tracing::error!(
                        %error,
                        intermediate.sha256 = %ca.sha256,
                        retry_seconds = RETRY_INTERVAL.whole_seconds(),
                        "failed to renew the server certificate; still presenting the previous one"
                    );
                    Schedule {
                        ca_id: ca.id,
                        renew_at: now + RETRY_INTERVAL,
                    }
                }
            };
        }
    }
}

/// Keeps one idle read connection per worker thread, plus a spare.
fn read_pool_size() -> usize {
    std::thread::available_parallelism().map_or(4, |threads| threads.get() + 1)
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(terminate) => terminate,
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGTERM; only SIGINT stops the daemon");
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!(signal = "SIGINT", "shutting down");
            return;
        }
    };
    let name = tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    };
    tracing::info!(signal = name, "shutting down");
}
