//! `ironroot-ceremony`: the offline key-ceremony CLI of IronRoot. It creates the
//! root CA and signs intermediate CAs on an air-gapped machine, and links no
//! network code.

#![forbid(unsafe_code)]

mod ceremony_file;
mod checks;
mod cli;
mod commands;
mod custody;
mod engine;
mod error;
mod kinds;
mod outputs;
mod passphrase;
mod recipient;
mod report;
mod runbook;
mod staging;
mod transcript;
mod validity;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    init_tracing();
    let cli = cli::Cli::parse();
    match commands::run(&cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::debug!(?error, "command failed");
            report::error(&error);
            ExitCode::from(error.exit_code())
        }
    }
}

/// Sends `tracing` events to standard error, filtered by `RUST_LOG` (default
/// `warn`). The ceremony logs only at debug level, so people see no log lines
/// unless they ask for them with `RUST_LOG=ironroot_ceremony=debug`.
fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
