//! Command-line definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ironroot_core::Fingerprint;

/// IronRoot online issuer: stores intermediate CAs and signs workload
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
    /// Make an imported intermediate the one that signs new certificates
    /// (offline; for a running daemon use `ironroot-admin intermediates activate`).
    Activate(ActivateArgs),
    /// Inspect the audit log in the database file (works while the daemon runs).
    Audit {
        /// The audit command.
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Write an age-encrypted archive of the database snapshot, keys, host
    /// identity and configuration; safe while the daemon serves.
    Backup(BackupArgs),
    /// Check a backup archive (`--verify`) or restore it into a new data directory.
    Restore(RestoreArgs),
}

/// Subcommands of `audit`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the hash chain and report the first changed, removed or
    /// reordered row; exits 1 when the chain is broken.
    Verify(AuditVerifyArgs),
}

/// Arguments of `audit verify`.
#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `backup`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("to").required(true).args(["recipient", "recipient_file"])))]
pub struct BackupArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// The archive to write; it must not exist yet.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// age recipient (`age1...`) that can decrypt the archive; repeat for several.
    #[arg(long, value_name = "AGE1")]
    pub recipient: Vec<String>,
    /// File with one age recipient per line (`#` comments allowed).
    #[arg(long, value_name = "FILE")]
    pub recipient_file: Option<PathBuf>,
    /// Configuration file to include when it is not DIR/issuer.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Arguments of `restore`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["verify", "data_dir"])))]
pub struct RestoreArgs {
    /// The archive written by `backup`.
    #[arg(value_name = "FILE")]
    pub archive: PathBuf,
    /// age identity file that decrypts the archive.
    #[arg(long, value_name = "FILE")]
    pub identity: PathBuf,
    /// Only check the archive (decryption, hashes, database integrity, audit
    /// chain, keys); write nothing.
    #[arg(long)]
    pub verify: bool,
    /// SHA-256 fingerprint of your root CA. The archive is rejected unless every
    /// intermediate in it chains to this root, because the backup recipient is
    /// public and anyone could otherwise substitute an archive.
    #[arg(long, env = "IRONROOT_ROOT_FINGERPRINT", value_name = "SHA256")]
    pub root_fingerprint: Fingerprint,
    /// New data directory to restore into; it must be missing or empty.
    #[arg(long, value_name = "DIR", conflicts_with = "verify")]
    pub data_dir: Option<PathBuf>,
}

/// Arguments of `activate`.
#[derive(Debug, Args)]
pub struct ActivateArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// SHA-256 fingerprint of the intermediate, as `import` printed it.
    #[arg(value_name = "SHA256")]
    pub sha256: String,
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
    /// SHA-256 fingerprint of the root CA that the ceremony printed. The bundle
    /// is rejected unless its root has this fingerprint, because anyone who
    /// has the host's public recipient can build a bundle.
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
