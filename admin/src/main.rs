//! `ironroot-admin`: the operator's command line for an IronRoot issuer.

#![forbid(unsafe_code)]

mod cli;
mod error;
mod commands {
    pub(crate) mod inspect;
    pub(crate) mod intermediates;
    pub(crate) mod revoke;
    pub(crate) mod token;
}

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{AuditCommand, CertCommand, Cli, Command, IntermediatesCommand, TokenCommand};
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
        Command::Token {
            command: TokenCommand::List(args),
        } => runtime.block_on(commands::inspect::list_tokens(&cli.connection, args)),
        Command::Token {
            command: TokenCommand::Revoke(args),
        } => runtime.block_on(commands::inspect::revoke_token(&cli.connection, args)),
        Command::Cert {
            command: CertCommand::List(args),
        } => runtime.block_on(commands::inspect::list_certs(&cli.connection, args)),
        Command::Cert {
            command: CertCommand::Show(args),
        } => runtime.block_on(commands::inspect::show_cert(&cli.connection, args)),
        Command::Status(args) => runtime.block_on(commands::inspect::status(&cli.connection, args)),
        Command::Audit {
            command: AuditCommand::Show(args),
        } => runtime.block_on(commands::inspect::audit_show(&cli.connection, args)),
        Command::Audit {
            command: AuditCommand::Verify(args),
        } => runtime.block_on(commands::inspect::audit_verify(&cli.connection, args)),
        Command::Revoke(args) => runtime.block_on(commands::revoke::run(&cli.connection, args)),
        Command::Intermediates {
            command: IntermediatesCommand::List(args),
        } => runtime.block_on(commands::intermediates::list(&cli.connection, args)),
        Command::Intermediates {
            command: IntermediatesCommand::Activate(args),
        } => runtime.block_on(commands::intermediates::activate(&cli.connection, args)),
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
