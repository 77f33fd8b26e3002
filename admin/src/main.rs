//! `ironroot-admin`: the operator's command line for an IronRoot issuer.

#![forbid(unsafe_code)]

mod cli;
mod error;
mod commands {
    pub(crate) mod token;
}

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, TokenCommand};
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
    match &cli.command {
        Command::Token {
            command: TokenCommand::Create(args),
        } => runtime.block_on(commands::token::create(&cli.connection, args)),
    }
}

/// Logs go to stderr, filtered by `RUST_LOG` (default `warn`); stdout carries
/// only the command's result.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
