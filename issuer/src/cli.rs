//! Command-line definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ironroot_core::Fingerprint;

/// IronRoot online issuer: holds an intermediate CA and signs workload
/// certificates over an HTTPS API.
#[derive(Debug, Parser)]
#[command(name = "ironroot-issuer", version)]
pub struct Cli {
    /// Format of the log lines written to stderr.
    #[arg(
        long,
        global = true,
        env = "IRONROOT_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text
    )]
    pub log_format: LogFormat,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Log line formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the data directory and this host's age identity, and print the
    /// recipient that the ceremony encrypts the intermediate bundle to.
    Init(DataDirArgs),
    /// Decrypt and check an intermediate bundle and store it in the data directory.
    Import(ImportArgs),
    /// Mint an operator's admin client certificate signed by the active intermediate.
    AdminCredential(AdminCredentialArgs),
    /// Serve the HTTPS API.
    Serve(ServeArgs),
}

/// The data directory option shared by every command.
#[derive(Debug, Args)]
pub struct DataDirArgs {
    /// Data directory holding the host identity, keys and database.
    #[arg(long, env = "IRONROOT_DATA_DIR", value_name = "DIR")]
    pub data_dir: PathBuf,
}

/// Arguments of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// The age-encrypted bundle written by `ironroot-ceremony sign-intermediate`.
    #[arg(value_name = "BUNDLE")]
    pub bundle: PathBuf,
    /// SHA-256 fingerprint of the root CA that the ceremony printed. The bundle
    /// is rejected unless its root has this fingerprint, because anyone who
    /// knows the host's public recipient can build a bundle.
    #[arg(long, env = "IRONROOT_ROOT_FINGERPRINT", value_name = "SHA256")]
    pub root_fingerprint: Fingerprint,
}

/// Arguments of `admin-credential`.
#[derive(Debug, Args)]
pub struct AdminCredentialArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// Operator name: 1 to 64 characters from a-z, 0-9, `.`, `_` and `-`.
    #[arg(long)]
    pub name: String,
    /// Directory for admin.pem, admin.key and root.pem; created if missing.
    /// Existing files are never overwritten.
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
    /// Validity of the credential, such as `30d` or `12h`; capped at the
    /// intermediate's notAfter.
    #[arg(long, default_value = "30d")]
    pub validity: String,
}

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// Configuration file (TOML). Default: DIR/issuer.toml when it exists.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Socket address to listen on, overriding `listen` in the configuration.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}
