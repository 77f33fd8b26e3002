//! Command-line flags of `ironroot-client`.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand};
use ironroot_client::ServerUrl;
use ironroot_core::Fingerprint;
use ironroot_core::names::SubjectName;

/// Enrolls this workload with an IronRoot issuer: the private key is generated
/// here and never leaves this machine.
#[derive(Debug, Parser)]
#[command(name = "ironroot-client", version)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Generate a key, send a CSR with a bootstrap token and save the certificate.
    Enroll(EnrollArgs),
    /// Renew the certificate over mTLS once enough of its lifetime has passed (one shot, for a systemd timer).
    Renew(RenewArgs),
    /// Keep the certificate renewed: renew at a fraction of the lifetime, retry with backoff, run a reload command.
    Run(RunArgs),
}

/// The files and issuer a renewal uses.
#[derive(Debug, Args)]
pub(crate) struct RenewFiles {
    /// Issuer URL, `https://HOST:PORT`.
    #[arg(long, env = "IRONROOT_SERVER", value_name = "URL", value_parser = parse_server)]
    pub(crate) server: ServerUrl,

    /// The current certificate (PEM); replaced atomically by the renewed one.
    #[arg(long, value_name = "FILE")]
    pub(crate) cert: PathBuf,

    /// The private key (PKCS#8 PEM, mode 0600); replaced only with --rekey.
    #[arg(long, value_name = "FILE")]
    pub(crate) key: PathBuf,

    /// Intermediate certificates (PEM), sent with the certificate and replaced after renewal.
    #[arg(long, value_name = "FILE")]
    pub(crate) chain: Option<PathBuf>,

    /// The root certificate (PEM) the issuer's TLS certificate and the new certificate must chain to.
    #[arg(long, value_name = "FILE")]
    pub(crate) root: PathBuf,

    /// Fraction of the lifetime after which the certificate is renewed.
    #[arg(long, value_name = "FRACTION", default_value_t = 2.0 / 3.0)]
    pub(crate) renew_at: f64,

    /// Generate a new key instead of keeping the current one.
    #[arg(long)]
    pub(crate) rekey: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RenewArgs {
    #[command(flatten)]
    pub(crate) files: RenewFiles,

    /// Renew now even when the certificate is not due yet.
    #[arg(long)]
    pub(crate) force: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) files: RenewFiles,

    /// Command run after each renewal, split into words with POSIX shell quoting (no shell is started).
    #[arg(long, value_name = "CMD")]
    pub(crate) reload_command: Option<String>,

    /// Longest wait between retries while the issuer is unreachable, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub(crate) max_backoff_seconds: u64,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("names").required(true).multiple(true).args(["dns", "ip"])))]
pub(crate) struct EnrollArgs {
    /// Issuer URL, `https://HOST:PORT`.
    #[arg(long, env = "IRONROOT_SERVER", value_name = "URL", value_parser = parse_server)]
    pub(crate) server: ServerUrl,

    /// SHA-256 fingerprint of the root certificate, as published by the operator
    /// (64 hex digits, colons optional).
    #[arg(long, env = "IRONROOT_ROOT_FINGERPRINT", value_name = "SHA256", value_parser = parse_fingerprint)]
    pub(crate) root_fingerprint: Fingerprint,

    /// File that contains the bootstrap token, or `-` to read it from stdin.
    #[arg(long, env = "IRONROOT_TOKEN_FILE", value_name = "FILE")]
    pub(crate) token_file: PathBuf,

    /// DNS name to put in the certificate; repeat for several.
    #[arg(long = "dns", value_name = "NAME", value_parser = parse_dns)]
    pub(crate) dns: Vec<SubjectName>,

    /// IP address to put in the certificate; repeat for several.
    #[arg(long = "ip", value_name = "ADDR", value_parser = parse_ip)]
    pub(crate) ip: Vec<SubjectName>,

    /// Output file for the certificate (PEM, mode 0644).
    #[arg(long, value_name = "FILE")]
    pub(crate) cert: PathBuf,

    /// Output file for the private key (PKCS#8 PEM, mode 0600).
    #[arg(long, value_name = "FILE")]
    pub(crate) key: PathBuf,

    /// Output file for the intermediate certificates (PEM, mode 0644).
    #[arg(long, value_name = "FILE")]
    pub(crate) chain: Option<PathBuf>,

    /// Output file for the root certificate, written after its fingerprint matched (PEM, mode 0644).
    #[arg(long, value_name = "FILE")]
    pub(crate) root_out: Option<PathBuf>,
}

fn parse_server(value: &str) -> Result<ServerUrl, String> {
    ServerUrl::parse(value).map_err(|error| error.to_string())
}

fn parse_fingerprint(value: &str) -> Result<Fingerprint, String> {
    value
        .parse()
        .map_err(|error: ironroot_core::Error| error.to_string())
}

fn parse_dns(value: &str) -> Result<SubjectName, String> {
    // Internationalised names are converted to A-labels (IDNA) before the DNS checks.
    SubjectName::parse_normalized(value)
        .and_then(|name| match name {
            SubjectName::Dns(_) => Ok(name),
            other => SubjectName::parse_dns(&other.to_string()),
        })
        .map_err(|error| error.to_string())
}

fn parse_ip(value: &str) -> Result<SubjectName, String> {
    value
        .parse::<IpAddr>()
        .map(SubjectName::Ip)
        .map_err(|_| format!("`{value}` is not an IPv4 or IPv6 address"))
}
