//! Workers that send the prepared sign requests, one keep-alive connection each.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use ironroot_client::{Client, ServerUrl, Timeouts};
use rustls::ClientConfig;

use crate::prepare::Job;

/// What one level produced.
pub(crate) struct Outcome {
    /// Wall time from the first request sent to the last response received.
    pub(crate) elapsed: Duration,
    /// Latency of every successful request.
    pub(crate) latencies: Vec<Duration>,
    /// Requests that failed.
    pub(crate) failures: usize,
    /// The first failure, for the report.
    pub(crate) first_error: Option<String>,
}

/// Opens `count` clients and completes one request on each, so TLS handshakes
/// happen before the measurement.
pub(crate) async fn connect(
    server: &ServerUrl,
    tls: &Arc<ClientConfig>,
    timeouts: Timeouts,
    count: usize,
) -> anyhow::Result<Vec<Client>> {
    let mut clients = Vec::with_capacity(count);
    for _ in 0..count {
        let client = Client::new(server.clone(), Some(Arc::clone(tls)), timeouts)?;
        client
            .health()
            .await
            .context("the daemon's health check failed")?;
        clients.push(client);
    }
    Ok(clients)
}

/// Sends every job, each worker taking the next unsent job until none are left.
pub(crate) async fn run(clients: Vec<Client>, jobs: Vec<Job>) -> Outcome {
    let jobs = Arc::new(jobs);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::with_capacity(clients.len());
    for client in clients {
        let jobs = Arc::clone(&jobs);
        let next = Arc::clone(&next);
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0;
            let mut first_error = None;
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(index) else { break };
                let sent = Instant::now();
                match client.sign(&job.csr_pem, &job.token).await {
                    Ok(_) => latencies.push(sent.elapsed()),
                    Err(error) => {
                        failures += 1;
                        first_error.get_or_insert_with(|| error.to_string());
                    }
                }
            }
            (latencies, failures, first_error)
        }));
    }
    let mut outcome = Outcome {
        elapsed: Duration::ZERO,
        latencies: Vec::with_capacity(jobs.len()),
        failures: 0,
        first_error: None,
    };
    for worker in workers {
        match worker.await {
            Ok((latencies, failures, first_error)) => {
                outcome.latencies.extend(latencies);
                outcome.failures += failures;
                if outcome.first_error.is_none() {
                    outcome.first_error = first_error;
                }
            }
            Err(error) => {
                outcome.failures += 1;
                outcome
                    .first_error
                    .get_or_insert_with(|| format!("a worker panicked: {error}"));
            }
        }
    }
    outcome.elapsed = started.elapsed();
    outcome
}
