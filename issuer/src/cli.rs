//! Command-line definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// Generate an intermediate key in the data directory and write a CSR for
    /// it, to be signed at a ceremony; the bundle then carries no private key.
    Csr(CsrArgs),
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

/// Arguments of `csr`.
#[derive(Debug, Args)]
pub struct CsrArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// File to write the PEM CSR to; it must not exist yet.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Key algorithm of the intermediate: ecdsa-p256, ecdsa-p384, ed25519,
    /// rsa-3072 or rsa-4096.
    #[arg(long, default_value = "ecdsa-p256")]
    pub algorithm: ironroot_core::keys::KeyAlgorithm,
    /// Common name of the CSR's subject. The ceremony file decides the
    /// certificate's subject; this only labels the request.
    #[arg(long, default_value = "IronRoot Intermediate CA")]
    pub common_name: String,
}

/// Arguments of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// The age-encrypted bundle written by `ironroot-ceremony sign-intermediate`.
    #[arg(value_name = "BUNDLE")]
    pub bundle: PathBuf,
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
