//! `ironroot-loadgen`: drives `POST /v1/sign` of a running issuer over HTTPS
//! and reports certificates per second, latency percentiles and the daemon's CPU
//! time per certificate. It is a benchmark, run by `scripts/bench.sh`, and never
//! part of the test suite.
//!
//! Every token and CSR is prepared before the clock starts, and each worker
//! opens its keep-alive connection before the clock starts, so a level measures
//! issuance only: the CSR check, the signature and the durable commit.

#![forbid(unsafe_code)]

mod cpu;
mod drive;
mod prepare;
mod report;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use ironroot_client::tls::{self, ClientIdentity};
use ironroot_client::{Client, ServerUrl, Timeouts};

/// Measure the issuer daemon's issuance rate.
#[derive(Debug, Parser)]
#[command(name = "ironroot-loadgen", version)]
struct Args {
    /// Issuer URL, such as https://127.0.0.1:8443 (loopback only).
    #[arg(long)]
    server: String,
    /// Root certificate PEM that the daemon's TLS certificate chains to.
    #[arg(long)]
    root: PathBuf,
    /// Admin certificate PEM (leaf then intermediate), used to create the tokens.
    #[arg(long)]
    admin_cert: PathBuf,
    /// Admin private key PEM (mode 0600).
    #[arg(long)]
    admin_key: PathBuf,
    /// Process id of the daemon, for its CPU time from /proc/PID/stat.
    #[arg(long)]
    daemon_pid: Option<u32>,
    /// Sign requests per concurrency level.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Comma-separated concurrency levels; each worker keeps one connection.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    concurrency: Vec<usize>,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the tokio runtime")?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let server = ServerUrl::parse(&args.server)?;
    if !server.is_loopback() {
        bail!(
            "{} is not a loopback address; the load generator only targets a daemon on this machine",
            args.server
        );
    }
    if args.requests == 0 || args.concurrency.contains(&0) {
        bail!("--requests and every --concurrency level must be at least 1");
    }
    let root_pem = ironroot_core::files::read(&args.root)?;
    let root = ironroot_core::pemfile::parse_single(&root_pem, "CERTIFICATE", "--root")?;
    let identity = ClientIdentity::load(&args.admin_cert, &args.admin_key)?;
    let timeouts = Timeouts {
        connect: Duration::from_secs(10),
        request: Duration::from_secs(60),
    };
    let admin = Client::new(
        server.clone(),
        Some(tls::verified_config(&root, Some(identity))?),
        timeouts,
    )?;
    let workload_tls = tls::verified_config(&root, None)?;

    let mut results = Vec::new();
    for (level_index, &concurrency) in args.concurrency.iter().enumerate() {
        eprintln!(
            "preparing {} tokens and CSRs for concurrency {concurrency}",
            args.requests
        );
        let jobs = prepare::jobs(&admin, level_index, args.requests).await?;
        let clients = drive::connect(&server, &workload_tls, timeouts, concurrency).await?;
        eprintln!(
            "signing {} CSRs at concurrency {concurrency}",
            args.requests
        );
        let before = args.daemon_pid.map(cpu::process_cpu).transpose()?;
        let outcome = drive::run(clients, jobs).await;
        let after = args.daemon_pid.map(cpu::process_cpu).transpose()?;
        let daemon_cpu = before
            .zip(after)
            .map(|(before, after)| after.saturating_sub(before));
        results.push(report::Level::new(concurrency, &outcome, daemon_cpu));
        if outcome.failures > 0 {
            eprintln!(
                "warning: {} of {} requests failed; first error: {}",
                outcome.failures,
                args.requests,
                outcome.first_error.as_deref().unwrap_or("unknown")
            );
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        report::print_table(&results);
    }
    Ok(())
}
