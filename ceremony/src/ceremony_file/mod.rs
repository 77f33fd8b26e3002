//! Ceremony files: one TOML document per ceremony, parsed with
//! `deny_unknown_fields` and then validated completely (see [`validate`])
//! before any key is generated or unlocked.

mod field_error;
pub(crate) mod input_files;
pub(crate) mod rules;
pub(crate) mod validate;

use std::path::{Path, PathBuf};

use ironroot_core::Fingerprint;
use ironroot_core::profile::{IntermediateOptions, IpRange, NameConstraints, NameSubtrees};
use serde::Deserialize;

pub(crate) use field_error::FieldError;
pub(crate) use validate::validate;

use crate::error::CeremonyError;

/// Largest accepted ceremony file, in bytes.
const MAX_FILE_LEN: usize = 256 * 1024;

/// A parsed ceremony file, with its SHA-256 and the directory that relative
/// paths inside it are resolved against.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) spec: CeremonySpec,
    pub(crate) sha256: Fingerprint,
    pub(crate) path: PathBuf,
    pub(crate) base_dir: PathBuf,
}

/// Kind of ceremony, the `kind` field.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Kind {
    /// A new root CA: key, self-signed certificate, sealed key.
    Root,
    /// An intermediate CA whose key is generated in the ceremony and sealed
    /// into a bundle for the issuing host.
    Intermediate,
    /// An intermediate CA for a key generated on the issuing host, from its CSR.
    IntermediateFromCsr,
    /// A CRL signed by the root that revokes intermediates.
    Crl,
    /// A new root plus cross-signed certificates between the old and new root.
    RootRollover,
}

impl Kind {
    /// The `kind` value as written in the file.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Root => "root",
            Self::Intermediate => "intermediate",
            Self::IntermediateFromCsr => "intermediate-from-csr",
            Self::Crl => "crl",
            Self::RootRollover => "root-rollover",
        }
    }

    /// Whether the ceremony creates a root key (and so needs `custody`).
    pub(crate) fn creates_root(self) -> bool {
        matches!(self, Self::Root | Self::RootRollover)
    }

    /// Whether the ceremony unlocks an existing root key.
    pub(crate) fn unlocks_root(self) -> bool {
        !matches!(self, Self::Root)
    }
}

/// The whole ceremony file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CeremonySpec {
    /// Identifier of the ceremony, recorded in the transcript and in shares.
    pub(crate) id: String,
    pub(crate) kind: Kind,
    pub(crate) description: String,
    pub(crate) key: Option<KeySpec>,
    pub(crate) subject: Option<SubjectSpec>,
    pub(crate) validity: Option<ValiditySpec>,
    #[serde(default)]
    pub(crate) extensions: Option<ExtensionsSpec>,
    #[serde(default)]
    pub(crate) inputs: InputsSpec,
    pub(crate) outputs: OutputsSpec,
    pub(crate) custody: Option<CustodySpec>,
    #[serde(default)]
    pub(crate) unlock: Option<UnlockSpec>,
    #[serde(default)]
    pub(crate) crl: Option<CrlSpec>,
    #[serde(default)]
    pub(crate) rollover: Option<RolloverSpec>,
    #[serde(default)]
    pub(crate) witnesses: Vec<String>,
    pub(crate) transcript: PathBuf,
    #[serde(default)]
    pub(crate) signer: Option<SignerSpec>,
}

/// `[key]`: the key the ceremony generates.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeySpec {
    /// Key algorithm name, checked against the CA key policy in validation.
    pub(crate) algorithm: String,
}

/// `[subject]`: the subject distinguished name of the new certificate.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubjectSpec {
    pub(crate) common_name: String,
    pub(crate) organization: Option<String>,
    pub(crate) organizational_unit: Option<String>,
    pub(crate) country: Option<String>,
}

/// `[validity]`: lifetime of the new certificate from the ceremony's clock.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ValiditySpec {
    pub(crate) days: u32,
}

/// `[extensions]`: profile options of an intermediate CA.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExtensionsSpec {
    /// pathLenConstraint; 0 when absent.
    pub(crate) path_len: Option<u8>,
    #[serde(default)]
    pub(crate) policy_oids: Vec<String>,
    #[serde(default)]
    pub(crate) crl_distribution_points: Vec<String>,
    #[serde(default)]
    pub(crate) aia_ca_issuers: Vec<String>,
    #[serde(default)]
    pub(crate) aia_ocsp: Vec<String>,
    pub(crate) name_constraints: Option<NameConstraintsSpec>,
}

/// `[extensions.name_constraints]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NameConstraintsSpec {
    #[serde(default)]
    pub(crate) permitted_dns: Vec<String>,
    #[serde(default)]
    pub(crate) excluded_dns: Vec<String>,
    #[serde(default)]
    pub(crate) permitted_ip: Vec<String>,
    #[serde(default)]
    pub(crate) excluded_ip: Vec<String>,
    #[serde(default)]
    pub(crate) permitted_email: Vec<String>,
    #[serde(default)]
    pub(crate) excluded_email: Vec<String>,
    #[serde(default)]
    pub(crate) permitted_uri: Vec<String>,
    #[serde(default)]
    pub(crate) excluded_uri: Vec<String>,
}

/// `[inputs]`: files the ceremony reads.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InputsSpec {
    /// Root CA certificate (the old root in a rollover).
    pub(crate) root_cert: Option<PathBuf>,
    /// Encrypted root CA key (the old root in a rollover).
    pub(crate) root_key: Option<PathBuf>,
    /// CSR made by `ironroot-issuer csr` (kind `intermediate-from-csr`).
    pub(crate) csr: Option<PathBuf>,
    /// The issuing host's age recipient (`age1...`).
    pub(crate) recipient: Option<String>,
    /// A file holding the issuing host's age recipient.
    pub(crate) recipient_file: Option<PathBuf>,
}

/// `[outputs]`: files the ceremony creates; none may exist beforehand.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutputsSpec {
    /// The new certificate (root or intermediate), PEM.
    pub(crate) certificate: Option<PathBuf>,
    /// The new root key, encrypted according to `custody`.
    pub(crate) key: Option<PathBuf>,
    /// Existing directory that receives one share file per custodian
    /// (custody mode `shares`); the share files must not exist.
    pub(crate) shares_dir: Option<PathBuf>,
    /// The bundle for the issuing host.
    pub(crate) bundle: Option<PathBuf>,
    /// The CRL, PEM.
    pub(crate) crl: Option<PathBuf>,
    /// The new root's certificate signed by the old root (rollover).
    pub(crate) cross_new_by_old: Option<PathBuf>,
    /// The old root's certificate signed by the new root (rollover).
    pub(crate) cross_old_by_new: Option<PathBuf>,
}

/// `[custody]`: how a new root key is protected.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CustodySpec {
    /// `passphrase`, `recipients` or `shares`.
    pub(crate) mode: String,
    /// Passphrase file for `--yes` runs of mode `passphrase`.
    pub(crate) passphrase_file: Option<PathBuf>,
    /// age recipients of mode `recipients`; any one of them can decrypt.
    #[serde(default)]
    pub(crate) recipients: Vec<String>,
    /// Shares needed to recover the key (mode `shares`).
    pub(crate) threshold: Option<u8>,
    #[serde(default)]
    pub(crate) custodians: Vec<CustodianSpec>,
}

/// One custodian of a share.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CustodianSpec {
    pub(crate) name: String,
    /// The custodian's age recipient; the share is encrypted to it.
    pub(crate) recipient: Option<String>,
    /// Passphrase file protecting the share instead of a recipient.
    pub(crate) passphrase_file: Option<PathBuf>,
}

/// `[unlock]`: how the existing root key is unlocked.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UnlockSpec {
    /// Passphrase file (root keys sealed with a passphrase).
    pub(crate) passphrase_file: Option<PathBuf>,
    /// age identity files (root keys sealed to recipients).
    #[serde(default)]
    pub(crate) identity_files: Vec<PathBuf>,
    /// Share files (root keys split m-of-n).
    #[serde(default)]
    pub(crate) share_files: Vec<PathBuf>,
    /// Identity or passphrase files that open the shares, one per share.
    #[serde(default)]
    pub(crate) share_secret_files: Vec<PathBuf>,
}

/// `[crl]`: contents of a root-signed CRL.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CrlSpec {
    /// cRLNumber, increasing with every CRL of this root.
    pub(crate) number: u64,
    /// Days from thisUpdate to nextUpdate.
    pub(crate) next_update_days: u32,
    #[serde(default)]
    pub(crate) revoked: Vec<RevokedSpec>,
}

/// One revoked intermediate.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevokedSpec {
    /// Serial number in hex (colons allowed).
    pub(crate) serial: String,
    /// RFC 5280 reason code name, such as `key-compromise`.
    pub(crate) reason: String,
}

/// `[rollover]`: the cross-signed certificates of a root rollover.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RolloverSpec {
    /// Lifetime of both cross certificates, in days.
    pub(crate) cross_validity_days: u32,
}

/// `[signer]`: a dedicated transcript signing key instead of the ceremony's CA key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignerSpec {
    /// age-encrypted PKCS#8 key of the signer.
    pub(crate) key: PathBuf,
    /// The signer's certificate, recorded in the transcript.
    pub(crate) certificate: Option<PathBuf>,
    /// Passphrase file that decrypts `key`.
    pub(crate) passphrase_file: PathBuf,
}

/// Returns the file name of share `index` (1-based, in custodian order) of
/// ceremony `id`, such as `root-2026-share-1-carol.txt`. The custodian's name
/// is lower-cased and every character other than ASCII letters, digits and `-`
/// becomes `-`, so `Alice Example` gives `alice-example`.
pub(crate) fn share_file_name(id: &str, index: usize, custodian: &str) -> String {
    let name: String = custodian
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("{id}-share-{index}-{name}.txt")
}

impl ExtensionsSpec {
    /// Converts `[extensions]` into the core profile options.
    pub(crate) fn to_options(spec: Option<&Self>) -> Result<IntermediateOptions, CeremonyError> {
        let Some(spec) = spec else {
            return Ok(IntermediateOptions::default());
        };
        Ok(IntermediateOptions {
            name_constraints: spec
                .name_constraints
                .as_ref()
                .map(name_constraints)
                .transpose()?,
            path_len: Some(spec.path_len.unwrap_or(0)),
            policy_oids: spec.policy_oids.clone(),
            crl_distribution_points: spec.crl_distribution_points.clone(),
            aia_ca_issuers: spec.aia_ca_issuers.clone(),
            aia_ocsp: spec.aia_ocsp.clone(),
        })
    }
}

fn name_constraints(spec: &NameConstraintsSpec) -> Result<NameConstraints, CeremonyError> {
    let ranges = |list: &[String]| -> Result<Vec<IpRange>, CeremonyError> {
        Ok(list
            .iter()
            .map(|value| value.parse())
            .collect::<Result<Vec<IpRange>, _>>()?)
    };
    Ok(NameConstraints {
        permitted: NameSubtrees {
            dns: spec.permitted_dns.clone(),
            ip: ranges(&spec.permitted_ip)?,
            email: spec.permitted_email.clone(),
            uri: spec.permitted_uri.clone(),
        },
        excluded: NameSubtrees {
            dns: spec.excluded_dns.clone(),
            ip: ranges(&spec.excluded_ip)?,
            email: spec.excluded_email.clone(),
            uri: spec.excluded_uri.clone(),
        },
    })
}

impl Loaded {
    /// Parses the ceremony file `bytes` read from `path`. Unknown fields and
    /// type errors are reported with the field path that TOML gives.
    pub(crate) fn parse(path: &Path, bytes: &[u8]) -> Result<Self, CeremonyError> {
        if bytes.len() > MAX_FILE_LEN {
            return Err(CeremonyError::InvalidCeremonyFile {
                path: path.to_owned(),
                errors: vec![FieldError::new(
                    "(file)",
                    format!("is {} bytes; the maximum is {MAX_FILE_LEN}", bytes.len()),
                )],
            });
        }
        let sha256 = Fingerprint::of(bytes);
        let text = std::str::from_utf8(bytes).map_err(|_| CeremonyError::InvalidCeremonyFile {
            path: path.to_owned(),
            errors: vec![FieldError::new("(file)", "is not UTF-8 text".to_owned())],
        })?;
        let spec: CeremonySpec =
            toml::from_str(text).map_err(|error| CeremonyError::InvalidCeremonyFile {
                path: path.to_owned(),
                errors: vec![FieldError::from_toml(&error, text)],
            })?;
        let base_dir = path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Ok(Self {
            spec,
            sha256,
            path: path.to_owned(),
            base_dir,
        })
    }

    /// Resolves a path from the file against the file's directory.
    pub(crate) fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_owned()
        } else {
            self.base_dir.join(path)
        }
    }
}
