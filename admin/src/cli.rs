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
    /// Revoke a certificate; it appears on the next CRL and in OCSP responses.
    Revoke(RevokeArgs),
    /// List, search and show issued certificates.
    #[command(alias = "certificate")]
    Cert {
        #[command(subcommand)]
        command: CertCommand,
    },
    /// Show the issuer's intermediates, certificate counts and open tokens.
    Status(JsonArgs),
    /// Show or verify the tamper-evident audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// List and activate intermediates.
    Intermediates {
        #[command(subcommand)]
        command: IntermediatesCommand,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum IntermediatesCommand {
    /// List the imported intermediates, their validity and which one is active.
    List(JsonArgs),
    /// Make an imported intermediate the one that signs new certificates,
    /// without restarting the daemon.
    Activate(ActivateArgs),
}

/// Arguments of `revoke`.
#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    /// Serial number in hex, as the sign response or `openssl x509 -serial` shows it.
    #[arg(value_name = "SERIAL")]
    pub(crate) serial: String,

    /// RFC 5280 reason: unspecified, keyCompromise, cACompromise,
    /// affiliationChanged, superseded, cessationOfOperation or privilegeWithdrawn.
    #[arg(long, value_name = "REASON")]
    pub(crate) reason: String,

    /// Print the response as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

/// A `--json` flag alone.
#[derive(Debug, Args)]
pub(crate) struct JsonArgs {
    /// Print the response as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Arguments of `intermediates activate`.
#[derive(Debug, Args)]
pub(crate) struct ActivateArgs {
    /// SHA-256 fingerprint of the intermediate (`intermediates list` shows it).
    #[arg(value_name = "SHA256")]
    pub(crate) sha256: String,

    /// Print the response as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a single-use bootstrap token for the given names.
    Create(CreateTokenArgs),
    /// List tokens (never the token text, which only its creator saw).
    List(ListTokensArgs),
    /// Revoke an unused token so it can no longer be used.
    Revoke(RevokeTokenArgs),
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("names").required(true).multiple(true).args(["dns", "ip", "uri", "email"])))]
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

    /// Policy profile the token is bound to; the issuer's `default` profile
    /// applies when absent.
    #[arg(long, value_name = "NAME")]
    pub(crate) profile: Option<String>,

    /// URI SAN that the token allows, such as `spiffe://prod/api`; repeat for several.
    #[arg(long = "uri", value_name = "URI", value_parser = parse_uri)]
    pub(crate) uri: Vec<SubjectName>,

    /// Email SAN that the token allows; repeat for several.
    #[arg(long = "email", value_name = "ADDR", value_parser = parse_email)]
    pub(crate) email: Vec<SubjectName>,

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

fn parse_uri(value: &str) -> Result<SubjectName, String> {
    SubjectName::parse_uri(value).map_err(|error| error.to_string())
}

fn parse_email(value: &str) -> Result<SubjectName, String> {
    SubjectName::parse_email(value).map_err(|error| error.to_string())
}

fn parse_ttl(value: &str) -> Result<u64, String> {
    let duration = ironroot_core::duration::parse(value)?;
    u64::try_from(duration.whole_seconds()).map_err(|_| format!("invalid duration `{value}`"))
}

/// Page of a list command.
#[derive(Debug, Args)]
pub(crate) struct PageArgs {
    /// Most rows to return (1 to 1000).
    #[arg(long, default_value_t = 100)]
    pub(crate) limit: u32,
    /// Rows to skip, for the next page.
    #[arg(long, default_value_t = 0)]
    pub(crate) offset: u32,
}

/// Arguments of `token list`.
#[derive(Debug, Args)]
pub(crate) struct ListTokensArgs {
    /// Only tokens in this state: active, used, expired or revoked.
    #[arg(long, value_name = "STATE")]
    pub(crate) state: Option<String>,
    #[command(flatten)]
    pub(crate) page: PageArgs,
    /// Print the response as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Arguments of `token revoke`.
#[derive(Debug, Args)]
pub(crate) struct RevokeTokenArgs {
    /// Token id (`tok_...`), as `token create` and `token list` show it.
    #[arg(value_name = "ID")]
    pub(crate) id: String,
    /// Print the response as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CertCommand {
    /// List certificates, newest first, matching every filter given.
    #[command(alias = "search")]
    List(ListCertsArgs),
    /// Show one certificate: its PEM and parsed fields.
    Show(ShowCertArgs),
}

/// Arguments of `cert list`.
#[derive(Debug, Args)]
pub(crate) struct ListCertsArgs {
    /// Serial number in hex (colons allowed).
    #[arg(long)]
    pub(crate) serial: Option<String>,
    /// A name the certificate lists exactly.
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Text contained in one of the certificate's names.
    #[arg(long, value_name = "TEXT")]
    pub(crate) name_contains: Option<String>,
    /// Policy profile the certificate was issued under.
    #[arg(long)]
    pub(crate) profile: Option<String>,
    /// Only certificates whose notAfter is before this date (2026-12-31),
    /// RFC 3339 time or unix time.
    #[arg(long, value_name = "WHEN")]
    pub(crate) expiring_before: Option<String>,
    /// valid, expired, revoked or superseded.
    #[arg(long)]
    pub(crate) status: Option<String>,
    /// leaf, server or admin.
    #[arg(long)]
    pub(crate) kind: Option<String>,
    #[command(flatten)]
    pub(crate) page: PageArgs,
    /// Print the response as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Arguments of `cert show`.
#[derive(Debug, Args)]
pub(crate) struct ShowCertArgs {
    /// Serial number in hex (colons allowed).
    #[arg(value_name = "SERIAL")]
    pub(crate) serial: String,
    /// Print only the PEM certificate.
    #[arg(long, conflicts_with = "json")]
    pub(crate) pem: bool,
    /// Print the response as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Show the newest audit rows, oldest first.
    Show(AuditShowArgs),
    /// Verify the whole hash chain; exits 1 when a row was changed, removed or reordered.
    Verify(JsonArgs),
}

/// Arguments of `audit show`.
#[derive(Debug, Args)]
pub(crate) struct AuditShowArgs {
    /// Most rows to show (1 to 1000).
    #[arg(long, default_value_t = 50)]
    pub(crate) limit: u32,
    /// Only rows with a seq below this one, for the previous page.
    #[arg(long, value_name = "SEQ")]
    pub(crate) before: Option<i64>,
    /// Print the response as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}
