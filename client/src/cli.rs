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
    SubjectName::parse_dns(value).map_err(|error| error.to_string())
}

fn parse_ip(value: &str) -> Result<SubjectName, String> {
    value
        .parse::<IpAddr>()
        .map(SubjectName::Ip)
        .map_err(|_| format!("`{value}` is not an IPv4 or IPv6 address"))
}
