//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use ironroot_core::keys::KeyAlgorithm;
use ironroot_core::profile::Subject;

/// Offline key ceremony for IronRoot: create the root CA and sign intermediate CAs
/// on an air-gapped machine.
#[derive(Debug, Parser)]
#[command(name = "ironroot-ceremony", version, about, max_term_width = 100)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create a root CA key and its self-signed certificate.
    InitRoot(InitRootArgs),
    /// Sign an intermediate CA with the root key and seal it for an issuing host.
    SignIntermediate(SignIntermediateArgs),
    /// Run the ceremony described by a ceremony file (see docs/ceremony-files.md).
    Run(RunArgs),
    /// Check a transcript's hash chain and signature.
    VerifyTranscript(VerifyTranscriptArgs),
    /// Verify a transcript and write it as Markdown for the ceremony binder.
    RenderTranscript(RenderTranscriptArgs),
    /// Drill: prove that custodians' shares still recover the root key, in memory only.
    VerifyShares(VerifySharesArgs),
}

/// Arguments of `verify-shares`.
#[derive(Debug, Args)]
pub(crate) struct VerifySharesArgs {
    /// The root key encrypted to the split identity (root.key.age).
    #[arg(long, value_name = "FILE")]
    pub(crate) encrypted_key: PathBuf,

    /// Root certificate (PEM) that the recovered key must match.
    #[arg(long, value_name = "FILE")]
    pub(crate) root_cert: PathBuf,

    /// A custodian's share file; repeat for each share (at least the threshold).
    #[arg(long = "share", value_name = "FILE", required = true)]
    pub(crate) shares: Vec<PathBuf>,

    /// A custodian's age identity file (mode 0600); repeat for each share that is
    /// encrypted to a recipient. Each share is matched to the identity of the
    /// recipient named in its Protection header.
    #[arg(long = "identity", value_name = "FILE")]
    pub(crate) identities: Vec<PathBuf>,

    /// A custodian's passphrase file (mode 0600, first line); repeat for each share
    /// whose Protection header is `passphrase`, in the order of those shares among
    /// --share. Shares without a file are asked for on the terminal.
    #[arg(long = "passphrase-file", value_name = "FILE")]
    pub(crate) passphrase_files: Vec<PathBuf>,
}

/// Arguments of `run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The ceremony file (TOML).
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,

    /// Rehearse with throwaway keys; outputs go to a scratch directory only.
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// Run without prompts; passphrases come from files named in the ceremony
    /// file or from --passphrase-file.
    #[arg(long)]
    pub(crate) yes: bool,

    /// Accept a lifetime above 9131 days, 25 years (root and cross certificates),
    /// or 2922 days, 8 years (intermediate).
    #[arg(long)]
    pub(crate) allow_long_validity: bool,

    /// Passphrase file (mode 0600) for the root key when the ceremony file names none.
    #[arg(long, value_name = "FILE")]
    pub(crate) passphrase_file: Option<PathBuf>,
}

/// Arguments of `verify-transcript`.
#[derive(Debug, Args)]
pub(crate) struct VerifyTranscriptArgs {
    /// The transcript (JSON lines).
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,

    /// Certificate (PEM) whose key must have signed the transcript.
    #[arg(long, value_name = "PEM")]
    pub(crate) signer_cert: Option<PathBuf>,
}

/// Arguments of `render-transcript`.
#[derive(Debug, Args)]
pub(crate) struct RenderTranscriptArgs {
    /// The transcript (JSON lines).
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,

    /// Markdown file to create (never overwritten).
    #[arg(long, value_name = "FILE.md")]
    pub(crate) out: PathBuf,
}

/// Arguments of `init-root`.
#[derive(Debug, Args)]
pub(crate) struct InitRootArgs {
    /// Directory for root.pem and root.key.age (created with mode 0700 if missing).
    #[arg(long, value_name = "DIR")]
    pub(crate) out_dir: PathBuf,

    /// Key algorithm of the root CA: ecdsa-p256, ecdsa-p384 or ed25519.
    #[arg(long, value_name = "ALGORITHM", default_value = "ecdsa-p256")]
    pub(crate) algorithm: KeyAlgorithm,

    /// Subject commonName of the root CA.
    #[arg(long, value_name = "CN", default_value = "IronRoot Root CA")]
    pub(crate) common_name: String,

    #[command(flatten)]
    pub(crate) subject: SubjectArgs,

    /// Validity of the root certificate in days, starting now (maximum 9131 days,
    /// 25 years, unless --allow-long-validity is given).
    #[arg(long, value_name = "DAYS", default_value_t = 7300)]
    pub(crate) validity_days: u32,

    /// Accept a validity above the maximum.
    #[arg(long)]
    pub(crate) allow_long_validity: bool,

    #[command(flatten)]
    pub(crate) passphrase: PassphraseArgs,
}

/// Arguments of `sign-intermediate`.
#[derive(Debug, Args)]
pub(crate) struct SignIntermediateArgs {
    /// Root CA certificate written by init-root (root.pem).
    #[arg(long, value_name = "FILE")]
    pub(crate) root_cert: PathBuf,

    /// Passphrase-encrypted root CA key written by init-root (root.key.age).
    #[arg(long, value_name = "FILE")]
    pub(crate) root_key: PathBuf,

    #[command(flatten)]
    pub(crate) passphrase: PassphraseArgs,

    #[command(flatten)]
    pub(crate) recipient: RecipientArgs,

    /// Bundle to write for the issuing host (mode 0600, never overwritten).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,

    /// Also write the intermediate certificate PEM here (mode 0644, never overwritten).
    #[arg(long, value_name = "FILE")]
    pub(crate) cert_out: Option<PathBuf>,

    /// Key algorithm of the intermediate CA: ecdsa-p256, ecdsa-p384 or ed25519.
    #[arg(long, value_name = "ALGORITHM", default_value = "ecdsa-p256")]
    pub(crate) algorithm: KeyAlgorithm,

    /// Subject commonName of the intermediate CA.
    #[arg(long, value_name = "CN", default_value = "IronRoot Intermediate CA")]
    pub(crate) common_name: String,

    #[command(flatten)]
    pub(crate) subject: SubjectArgs,

    /// Validity of the intermediate certificate in days, starting now (maximum 2922
    /// days, 8 years, unless --allow-long-validity is given). It must not end after
    /// the root certificate.
    #[arg(long, value_name = "DAYS", default_value_t = 1825)]
    pub(crate) validity_days: u32,

    /// Accept a validity above the maximum.
    #[arg(long)]
    pub(crate) allow_long_validity: bool,

    /// pathLenConstraint of the intermediate: how many further CA certificates may
    /// follow it in a chain (0 lets it issue only end-entity certificates).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub(crate) path_len: u8,
}

/// Subject attributes besides the common name.
#[derive(Debug, Args)]
pub(crate) struct SubjectArgs {
    /// Subject organizationName.
    #[arg(long, value_name = "O")]
    pub(crate) organization: Option<String>,

    /// Subject organizationalUnitName.
    #[arg(long, value_name = "OU")]
    pub(crate) organizational_unit: Option<String>,

    /// Subject countryName: a two-letter upper-case ISO 3166 code such as DE.
    #[arg(long, value_name = "CC")]
    pub(crate) country: Option<String>,
}

impl SubjectArgs {
    /// Builds the certificate subject with `common_name`.
    pub(crate) fn to_subject(&self, common_name: &str) -> Subject {
        Subject {
            common_name: common_name.to_owned(),
            organization: self.organization.clone(),
            organizational_unit: self.organizational_unit.clone(),
            country: self.country.clone(),
        }
    }
}

/// Source of the root key passphrase.
#[derive(Debug, Args)]
pub(crate) struct PassphraseArgs {
    /// Read the root key passphrase from the first line of FILE (mode 0600) instead
    /// of asking on the terminal.
    #[arg(long, value_name = "FILE")]
    pub(crate) passphrase_file: Option<PathBuf>,
}

/// The issuing host's age recipient, given inline or in a file.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct RecipientArgs {
    /// age recipient of the issuing host (`age1...`, printed by `ironroot-issuer init`).
    #[arg(long, value_name = "AGE_RECIPIENT")]
    pub(crate) recipient: Option<String>,

    /// File holding the issuing host's age recipient, such as DATA_DIR/host.recipient.
    #[arg(long, value_name = "FILE")]
    pub(crate) recipient_file: Option<PathBuf>,
}
