//! Command-line flags of `ironroot-admin`.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand};
use ironroot_client::ServerUrl;
use ironroot_core::Fingerprint;
use ironroot_core::names::SubjectName;

/// Operator commands against an IronRoot issuer, authenticated with an admin
/// client certificate.
#[derive(Debug, Parser)]
#[command(name = "ironroot-admin", version)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) connection: ConnectionArgs,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// How to reach and authenticate to the issuer.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("trust").required(true).args(["root", "root_fingerprint"])))]
pub(crate) struct ConnectionArgs {
    /// Issuer URL, `https://HOST:PORT`.
    #[arg(long, env = "IRONROOT_SERVER", value_name = "URL", value_parser = parse_server)]
    pub(crate) server: ServerUrl,

    /// Root certificate (PEM) that the issuer's TLS certificate must chain to.
    #[arg(long, env = "IRONROOT_ROOT", value_name = "FILE")]
    pub(crate) root: Option<PathBuf>,

    /// SHA-256 fingerprint of the root: fetch the root from the server and
    /// trust it only if the fingerprint matches (instead of --root).
    #[arg(long, env = "IRONROOT_ROOT_FINGERPRINT", value_name = "SHA256", value_parser = parse_fingerprint)]
    pub(crate) root_fingerprint: Option<Fingerprint>,

    /// Admin credential certificate (admin.pem: leaf, then intermediate).
    #[arg(
        long,
        env = "IRONROOT_ADMIN_CERT",
        value_name = "FILE",
        requires = "key"
    )]
    pub(crate) cert: Option<PathBuf>,

    /// Private key of the admin credential (admin.key); must be mode 0600.
    #[arg(
        long,
        env = "IRONROOT_ADMIN_KEY",
        value_name = "FILE",
        requires = "cert"
    )]
    pub(crate) key: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Manage bootstrap tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a single-use bootstrap token for the given names.
    Create(CreateTokenArgs),
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("names").required(true).multiple(true).args(["dns", "ip"])))]
pub(crate) struct CreateTokenArgs {
    /// DNS name, or `*.suffix` for any name one label below suffix, that the
    /// token allows; repeat for several.
    #[arg(long = "dns", value_name = "NAME", value_parser = parse_dns)]
    pub(crate) dns: Vec<SubjectName>,

    /// IP address that the token allows; repeat for several.
    #[arg(long = "ip", value_name = "ADDR", value_parser = parse_ip)]
    pub(crate) ip: Vec<SubjectName>,

    /// Token lifetime, such as `10m` or `2h` (s, m, h or d). The server's
    /// default (10 minutes) applies when absent.
    #[arg(long, value_name = "DURATION", value_parser = parse_ttl)]
    pub(crate) ttl: Option<u64>,

    /// Write the token to this new file (mode 0600) instead of stdout.
    #[arg(long, value_name = "FILE", conflicts_with = "json")]
    pub(crate) out: Option<PathBuf>,

    /// Print the whole response (id, token, names, expiry) as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
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

fn parse_ttl(value: &str) -> Result<u64, String> {
    let duration = ironroot_core::duration::parse(value)?;
    u64::try_from(duration.whole_seconds()).map_err(|_| format!("invalid duration `{value}`"))
}
