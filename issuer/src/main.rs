//! `ironroot-issuer`: parses the command line, sets up logging and runs the
//! subcommand. Exit codes: 0 success, 1 runtime failure, 2 usage or
//! configuration error.

#![forbid(unsafe_code)]

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use ironroot_issuer::cli::{AuditCommand, Cli, Command, LogFormat};
use ironroot_issuer::commands;
use ironroot_issuer::datadir::DataDir;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    let result = match cli.command {
        Command::Init(args) => commands::init::run(&DataDir::new(args.data_dir)),
        Command::Csr(args) => commands::csr::run(&args),
        Command::Import(args) => commands::import::run(
            &DataDir::new(args.data.data_dir),
            &args.bundle,
            &args.root_fingerprint,
        ),
        Command::AdminCredential(args) => commands::admin_credential::run(&args),
        Command::Serve(args) => commands::serve::run(&args),
        Command::Activate(args) => {
            commands::activate::run(&DataDir::new(args.data.data_dir), &args.sha256)
        }
        Command::Audit {
            command: AuditCommand::Verify(args),
        } => commands::backup::audit_verify(&args),
        Command::Backup(args) => commands::backup::backup(&args),
        Command::Restore(args) => commands::backup::restore(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            if let Some(hint) = error.hint() {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(error.exit_code() as u8)
        }
    }
}

/// Logs to stderr. The filter comes from `IRONROOT_LOG`, then `RUST_LOG`,
/// then defaults to `info`.
fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_env("IRONROOT_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
