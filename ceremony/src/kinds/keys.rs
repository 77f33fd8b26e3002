//! Root key material: reading the root certificate, unlocking the root key
//! (or a throwaway stand-in in a dry run), generating keys and sealing a new
//! root key with its custody.

use std::path::Path;

use ironroot_core::agefile;
use ironroot_core::cert::{Authority, CertificateInfo};
use ironroot_core::files::PRIVATE_FILE;
use ironroot_core::keys::{KeyAlgorithm, PrivateKey};
use ironroot_core::profile::{self, Subject, Validity};
use ironroot_core::signing;
use secrecy::SecretString;
use serde_json::json;
use time::Duration;
use zeroize::Zeroizing;

use crate::ceremony_file::{CustodySpec, UnlockSpec, share_file_name};
use crate::custody::{
    self, Custodian, Custody, ShareInput, ShareProtection, ShareSecret, UnlockInput,
};
use crate::engine::Engine;
use crate::error::CeremonyError;
use crate::passphrase;
use crate::runbook::with_progress;

/// Generates a key of `algorithm`, with a spinner (RSA takes seconds).
pub(super) fn generate(
    engine: &mut Engine<'_>,
    algorithm: KeyAlgorithm,
    role: &str,
) -> Result<PrivateKey, CeremonyError> {
    let key = with_progress(&format!("Generating the {algorithm} {role} key"), || {
        PrivateKey::generate(algorithm)
    })?;
    engine.note(&format!("generated the {algorithm} {role} key"));
    engine.public_key(role, &key)?;
    Ok(key)
}

/// Returns the root (or old root) authority of the ceremony.
pub(super) fn root_authority(engine: &mut Engine<'_>) -> Result<Authority, CeremonyError> {
    let inputs = &engine.loaded.spec.inputs;
    let (Some(cert_path), Some(key_path)) = (inputs.root_cert.clone(), inputs.root_key.clone())
    else {
        return Err(CeremonyError::Ceremony(
            "inputs.root_cert and inputs.root_key are required".to_owned(),
        ));
    };
    if engine.options.dry_run {
        return throwaway_root(engine, &cert_path);
    }
    let cert_bytes = engine.read_input("inputs.root_cert", &cert_path)?;
    let root = CertificateInfo::parse_pem(&cert_bytes, "inputs.root_cert")?;
    KeyAlgorithm::ca_allowed(&root.public_key_der, "inputs.root_cert")?;
    engine.certificate("root", &root)?;
    let sealed = engine.read_input("inputs.root_key", &key_path)?;

    engine.step("Unlock the root key")?;
    let input = unlock_input(engine)?;
    let key = with_progress("Decrypting the root key", || {
        custody::unlock(&sealed, &input)
    })
    .map_err(CeremonyError::Custody)?;
    drop(input);
    let authority = Authority::new(&root.der, key, "inputs.root_key")?;
    engine.note("unlocked the root key; it matches inputs.root_cert");
    Ok(authority)
}

/// Makes a throwaway root for a dry run: the same algorithm, subject and
/// validity as the real root certificate when it is readable.
fn throwaway_root(engine: &mut Engine<'_>, cert_path: &Path) -> Result<Authority, CeremonyError> {
    let resolved = engine.loaded.resolve(cert_path);
    let real = ironroot_core::files::read(&resolved)
        .ok()
        .and_then(|bytes| CertificateInfo::parse_pem(&bytes, "inputs.root_cert").ok());
    let (algorithm, params) = match &real {
        Some(root) => {
            // The cross-signing profile copies the subject name and CA flags of
            // the real root; a self-signed root carries no AKI.
            let mut params = profile::cross_signed(root, root.validity)?;
            params.use_authority_key_identifier_extension = false;
            (
                KeyAlgorithm::ca_allowed(&root.public_key_der, "inputs.root_cert")?,
                params,
            )
        }
        None => {
            let validity =
                Validity::starting_at(engine.now - Duration::days(1), Duration::days(7300))?;
            let subject = Subject::common_name("IronRoot dry-run root");
            (KeyAlgorithm::EcdsaP256, profile::root(&subject, validity)?)
        }
    };
    let key = with_progress("Generating a throwaway root key", || {
        PrivateKey::generate(algorithm)
    })?;
    let authority = signing::self_signed_checked(&params, key, "throwaway root")?;
    let source = if real.is_some() {
        "a copy of inputs.root_cert"
    } else {
        "a stand-in (inputs.root_cert is missing)"
    };
    engine.note(&format!(
        "dry run: using a throwaway root key with {source}"
    ));
    engine.certificate("throwaway root", &authority.certificate().clone())?;
    Ok(authority)
}

/// Builds the unlock input from `[unlock]`, `--passphrase-file`, or the terminal.
fn unlock_input(engine: &mut Engine<'_>) -> Result<UnlockInput, CeremonyError> {
    let default = UnlockSpec::default();
    let unlock = engine.loaded.spec.unlock.as_ref().unwrap_or(&default);
    if !unlock.identity_files.is_empty() {
        let mut identities = Vec::new();
        for path in &unlock.identity_files {
            let resolved = engine.loaded.resolve(path);
            let text = Zeroizing::new(ironroot_core::files::read(&resolved)?);
            let text = String::from_utf8_lossy(&text).into_owned();
            let identity = agefile::parse_identity(&text, &resolved.display().to_string())
                .map_err(|error| {
                    CeremonyError::Ceremony(format!("unlock.identity_files: {error}"))
                })?;
            identities.push(identity);
        }
        engine.note(&format!(
            "unlocking with {} custodian identity file(s)",
            identities.len()
        ));
        return Ok(UnlockInput::Identities(identities));
    }
    if !unlock.share_files.is_empty() {
        let mut shares = Vec::new();
        for (share, secret) in unlock.share_files.iter().zip(&unlock.share_secret_files) {
            let share_path = engine.loaded.resolve(share);
            let text =
                String::from_utf8_lossy(&ironroot_core::files::read(&share_path)?).into_owned();
            let secret = share_secret(&engine.loaded.resolve(secret))?;
            shares.push(ShareInput {
                label: share_path.display().to_string(),
                text,
                secret,
            });
        }
        engine.note(&format!("unlocking with {} share file(s)", shares.len()));
        return Ok(UnlockInput::Shares(shares));
    }
    let file = unlock
        .passphrase_file
        .as_ref()
        .map(|path| engine.loaded.resolve(path))
        .or_else(|| engine.options.passphrase_file.clone());
    let passphrase = passphrase::read_existing(file.as_deref())?;
    engine.note(&format!("root key passphrase {}", passphrase.origin));
    Ok(UnlockInput::Passphrase(passphrase.secret))
}

/// Reads the secret that opens one share: an age identity file (`AGE-SECRET-KEY-1...`)
/// or a passphrase file.
fn share_secret(path: &Path) -> Result<ShareSecret, CeremonyError> {
    let text = Zeroizing::new(ironroot_core::files::read(path)?);
    let text = String::from_utf8_lossy(&text).into_owned();
    if text
        .lines()
        .any(|line| line.trim().starts_with("AGE-SECRET-KEY-"))
    {
        let identity =
            agefile::parse_identity(&text, &path.display().to_string()).map_err(|error| {
                CeremonyError::Ceremony(format!("unlock.share_secret_files: {error}"))
            })?;
        return Ok(ShareSecret::Identity(identity));
    }
    let passphrase = passphrase::read_existing(Some(path))?;
    Ok(ShareSecret::Passphrase(passphrase.secret))
}

/// Seals a new root key according to `[custody]` and stages `outputs.key`
/// and the shares.
pub(super) fn seal_root_key(
    engine: &mut Engine<'_>,
    key: &PrivateKey,
) -> Result<(), CeremonyError> {
    let spec = engine
        .loaded
        .spec
        .custody
        .as_ref()
        .ok_or_else(|| CeremonyError::Ceremony("custody is missing".to_owned()))?;
    let custody = build_custody(engine, spec)?;
    let id = engine.loaded.spec.id.clone();
    let sealed = with_progress("Encrypting the root key (age)", || {
        custody::seal(key, &custody, &id)
    })
    .map_err(CeremonyError::Custody)?;
    drop(custody);
    engine.note(&format!(
        "encrypted the root key for custody `{}`",
        spec.mode
    ));

    let key_path = engine
        .loaded
        .spec
        .outputs
        .key
        .clone()
        .ok_or_else(|| CeremonyError::Ceremony("outputs.key is missing".to_owned()))?;
    engine.write_output(
        "outputs.key",
        &key_path,
        &sealed.encrypted_key,
        PRIVATE_FILE,
    )?;
    if let Some(dir) = engine.loaded.spec.outputs.shares_dir.clone() {
        for share in &sealed.shares {
            // Validation checked these same names, so none of them exists yet.
            let name = share_file_name(&id, usize::from(share.index), &share.custodian);
            let field = format!("outputs.shares_dir[{}]", share.index);
            engine.write_output(&field, &dir.join(name), share.text.as_bytes(), PRIVATE_FILE)?;
            engine.transcript.record(
                "share",
                json!({ "index": share.index, "custodian": share.custodian }),
            );
        }
    }
    Ok(())
}

fn build_custody(engine: &mut Engine<'_>, spec: &CustodySpec) -> Result<Custody, CeremonyError> {
    match spec.mode.as_str() {
        "passphrase" => Ok(Custody::Passphrase(new_passphrase(
            engine,
            spec.passphrase_file.as_deref(),
            "root key",
        )?)),
        "recipients" => {
            let recipients = spec
                .recipients
                .iter()
                .map(|value| agefile::parse_recipient(value))
                .collect::<Result<Vec<_>, _>>()
                .map_err(CeremonyError::InvalidRecipient)?;
            Ok(Custody::Recipients(recipients))
        }
        _ => {
            let mut custodians = Vec::new();
            for custodian in &spec.custodians {
                let protection = match (&custodian.recipient, &custodian.passphrase_file) {
                    (Some(recipient), _) => ShareProtection::Recipient(
                        agefile::parse_recipient(recipient)
                            .map_err(CeremonyError::InvalidRecipient)?,
                    ),
                    (None, file) => ShareProtection::Passphrase(new_passphrase(
                        engine,
                        file.as_deref(),
                        &format!("share of {}", custodian.name),
                    )?),
                };
                custodians.push(Custodian {
                    name: custodian.name.clone(),
                    protection,
                });
            }
            Ok(Custody::Shares {
                threshold: spec.threshold.unwrap_or(2),
                custodians,
            })
        }
    }
}

/// Reads a new passphrase: from `file`, from `--passphrase-file`, typed twice,
/// or in a dry run without either, a random throwaway one.
fn new_passphrase(
    engine: &mut Engine<'_>,
    file: Option<&Path>,
    what: &str,
) -> Result<SecretString, CeremonyError> {
    let file = file
        .map(|path| engine.loaded.resolve(path))
        .or_else(|| engine.options.passphrase_file.clone());
    if file.is_none() && engine.options.dry_run && !engine.runbook.is_interactive() {
        engine.note(&format!(
            "dry run: a random throwaway passphrase protects the {what}"
        ));
        let mut bytes = Zeroizing::new([0u8; 24]);
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), bytes.as_mut())
            .map_err(|_| CeremonyError::Core(ironroot_core::Error::Random))?;
        let text: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        return Ok(SecretString::from(text));
    }
    let passphrase = passphrase::read_new(file.as_deref())?;
    engine.note(&format!("passphrase for the {what} {}", passphrase.origin));
    Ok(passphrase.secret)
}
