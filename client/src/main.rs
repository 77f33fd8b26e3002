//! `ironroot-client`: enrolls a workload with an IronRoot issuer.

#![forbid(unsafe_code)]

mod cli;
mod error;
mod commands {
    pub(crate) mod enroll;
    pub(crate) mod renew;
    pub(crate) mod run;
}

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::CliError;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => error.report(),
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| {
            CliError::runtime(format!("failed to start the async runtime: {error}"))
        })?;
    match cli.command {
        Command::Enroll(args) => runtime.block_on(commands::enroll::run(args)),
        Command::Renew(args) => runtime.block_on(commands::renew::run(args)),
        Command::Run(args) => runtime.block_on(commands::run::run(args)),
    }
}

/// Logs go to stderr, filtered by `RUST_LOG` (default `warn`). Progress lines
/// for people are printed separately with `eprintln!`.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
