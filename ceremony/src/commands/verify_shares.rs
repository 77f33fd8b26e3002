//! `verify-shares`: a recovery drill. It proves that the custodians' shares still
//! recover the root key and that the key belongs to the root certificate. The
//! recovered key stays in memory, is wiped when dropped, and is written nowhere.

use std::io::IsTerminal;
use std::path::Path;

use age::x25519::Identity;
use dialoguer::Password;
use ironroot_core::agefile;
use ironroot_core::cert::CertificateInfo;
use ironroot_core::files;
use secrecy::SecretString;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::cli::VerifySharesArgs;
use crate::custody::{self, CustodyError, ShareInput, ShareSecret, ShareSummary};
use crate::error::CeremonyError;
use crate::passphrase;
use crate::report::{Transcript, with_spinner};

/// Runs `verify-shares`. Every share's checksum is verified before any identity or
/// passphrase is used, so a damaged share is named first.
pub(crate) fn run(args: &VerifySharesArgs) -> Result<(), CeremonyError> {
    let root = CertificateInfo::parse_pem(&files::read(&args.root_cert)?, "root certificate")?;
    let encrypted_key = files::read(&args.encrypted_key)?;

    let mut shares = Vec::with_capacity(args.shares.len());
    for path in &args.shares {
        let label = path.display().to_string();
        let text = String::from_utf8_lossy(&files::read(path)?).into_owned();
        let summary = custody::describe_share(&text, &label)?;
        shares.push((label, text, summary));
    }
    let needed = shares
        .iter()
        .filter(|(_, _, summary)| summary.recipient.is_none())
        .count();
    if args.passphrase_files.len() > needed {
        return Err(CustodyError::UnusedPassphraseFiles {
            given: args.passphrase_files.len(),
            needed,
        }
        .into());
    }

    let identities = read_identities(&args.identities)?;
    let mut passphrase_files = args.passphrase_files.iter();
    let mut transcript = Transcript::start("verify-shares", OffsetDateTime::now_utc());
    let mut inputs = Vec::with_capacity(shares.len());
    for (label, text, summary) in shares {
        let secret = share_secret(&label, &summary, &identities, &mut passphrase_files)?;
        transcript.step(format_args!(
            "share {} of {} ('{label}', custodian `{}`, ceremony `{}`, threshold {}): checksum verified",
            summary.index, summary.total, summary.custodian, summary.ceremony_id, summary.threshold
        ));
        inputs.push(ShareInput {
            label,
            text,
            secret,
        });
    }

    let drill = with_spinner("Combining the shares and decrypting the root key", || {
        custody::verify_shares(&encrypted_key, &inputs, &root)
    })?;
    drop(inputs);
    transcript.step(format_args!(
        "shares {} of the {}-of-{} split recovered the root key in memory",
        join(&drill.indices),
        drill.threshold,
        drill.total
    ));
    transcript.step(format_args!(
        "the recovered key belongs to '{}'",
        args.root_cert.display()
    ));
    transcript.step("wiped the recovered key; nothing was written");

    transcript.heading("Drill result");
    transcript.field("Ceremony", &drill.ceremony_id);
    transcript.field("Shares combined", join(&drill.indices));
    transcript.field("Key algorithm", drill.algorithm);
    transcript.field("Root subject", &root.subject);
    transcript.heading("Root public key (SubjectPublicKeyInfo)");
    transcript.fingerprint(&drill.public_key_fingerprint);
    transcript.finish()
}

/// Reads each identity file, which must not be readable by group or others.
fn read_identities(paths: &[std::path::PathBuf]) -> Result<Vec<Identity>, CeremonyError> {
    let mut identities = Vec::with_capacity(paths.len());
    for path in paths {
        identities.push(read_identity(path)?);
    }
    Ok(identities)
}

fn read_identity(path: &Path) -> Result<Identity, CeremonyError> {
    files::check_private(path)?;
    let bytes = Zeroizing::new(files::read(path)?);
    let text = Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned());
    let what = format!("'{}'", path.display());
    agefile::parse_identity(&text, &what).map_err(|source| {
        CustodyError::IdentityFile {
            path: path.display().to_string(),
            source,
        }
        .into()
    })
}

/// Picks the custodian's secret for one share: the identity of the recipient in
/// its Protection header, or the next passphrase file, or a passphrase typed on
/// the terminal.
fn share_secret<'a>(
    label: &str,
    summary: &ShareSummary,
    identities: &[Identity],
    passphrase_files: &mut impl Iterator<Item = &'a std::path::PathBuf>,
) -> Result<ShareSecret, CeremonyError> {
    let missing = |needed: String| CustodyError::NoSecretForShare {
        label: label.to_owned(),
        index: summary.index,
        needed,
    };
    if let Some(recipient) = &summary.recipient {
        let identity = identities
            .iter()
            .find(|identity| identity.to_public().to_string() == *recipient)
            .ok_or_else(|| {
                missing(format!(
                    "the identity of custodian `{}` (recipient {recipient})",
                    summary.custodian
                ))
            })?;
        return Ok(ShareSecret::Identity(identity.clone()));
    }
    if let Some(path) = passphrase_files.next() {
        let passphrase = passphrase::read_existing(Some(path))?;
        return Ok(ShareSecret::Passphrase(passphrase.secret));
    }
    if !std::io::stdin().is_terminal() {
        return Err(missing(format!(
            "the passphrase of custodian `{}`",
            summary.custodian
        ))
        .into());
    }
    let typed = Zeroizing::new(
        Password::new()
            .with_prompt(format!(
                "Passphrase of share {} of {} (custodian {})",
                summary.index, summary.total, summary.custodian
            ))
            .interact()
            .map_err(|error| CeremonyError::Prompt(error.to_string()))?,
    );
    Ok(ShareSecret::Passphrase(SecretString::from(typed.as_str())))
}

fn join(indices: &[u8]) -> String {
    indices
        .iter()
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
