//! `sign-intermediate`: sign an intermediate CA with the root key and seal the
//! intermediate's certificate, key and the root certificate into a bundle that
//! only the issuing host can open.

use ironroot_core::agefile::{self, AgeError};
use ironroot_core::bundle::Bundle;
use ironroot_core::cert::{Authority, CertificateInfo};
use ironroot_core::files::{self, PRIVATE_FILE, PUBLIC_FILE};
use ironroot_core::keys::PrivateKey;
use ironroot_core::profile::{self, Validity};
use secrecy::SecretString;
use time::OffsetDateTime;

use crate::checks;
use crate::cli::SignIntermediateArgs;
use crate::error::CeremonyError;
use crate::outputs::{self, OutputFile};
use crate::passphrase;
use crate::recipient;
use crate::report::{Transcript, timestamp, with_spinner};
use crate::validity;

/// Runs `sign-intermediate`. Arguments, outputs and the intermediate's validity
/// are checked before the passphrase is asked for, and nothing is written until
/// the new certificate passes its self-check.
pub(crate) fn run(args: &SignIntermediateArgs) -> Result<(), CeremonyError> {
    let lifetime = validity::lifetime(
        args.validity_days,
        &validity::INTERMEDIATE,
        args.allow_long_validity,
    )?;
    let subject = args.subject.to_subject(&args.common_name);
    subject.validate()?;
    let recipient = recipient::resolve(&args.recipient)?;
    outputs::check_absent(&output_paths(args))?;

    let root = CertificateInfo::parse_pem(&files::read(&args.root_cert)?, "root certificate")?;
    let now = OffsetDateTime::now_utc();
    let validity = Validity::starting_at(now, lifetime)?;
    check_inside_root(&root, now, validity)?;
    let sealed_root_key = files::read(&args.root_key)?;
    let passphrase = passphrase::read_existing(args.passphrase.passphrase_file.as_deref())?;

    let mut transcript = Transcript::start("sign-intermediate", now);
    transcript.step(format_args!("passphrase {}", passphrase.origin));
    let authority = unlock_root(args, &root, &sealed_root_key, passphrase.secret)?;
    transcript.step(format_args!(
        "unlocked the root key; it matches '{}'",
        args.root_cert.display()
    ));

    let key = PrivateKey::generate(args.algorithm)?;
    transcript.step(format_args!(
        "generated the {} intermediate key",
        args.algorithm
    ));
    let params = profile::intermediate(&subject, validity, args.path_len)?;
    let der = authority.sign_for(&params, &key)?;
    drop(authority);
    transcript.step("signed the intermediate certificate with the root key");

    let intermediate = checks::intermediate(&der, &root, validity, args.path_len)?;
    transcript.step(
        "parsed the certificate back: the root's signature verifies, AKI equals the root's SKI, \
         profile as requested",
    );

    let bundle = Bundle::new(intermediate, root, Some(key), now);
    let sealed_bundle = bundle.seal(&recipient).map_err(CeremonyError::Seal)?;
    transcript.step("sealed the bundle to the issuing host's recipient");

    let intermediate_pem = bundle.intermediate.to_pem();
    let mut written = vec![OutputFile {
        path: &args.out,
        bytes: &sealed_bundle,
        mode: PRIVATE_FILE,
    }];
    if let Some(cert_out) = &args.cert_out {
        written.push(OutputFile {
            path: cert_out,
            bytes: intermediate_pem.as_bytes(),
            mode: PUBLIC_FILE,
        });
    }
    outputs::write_all(&written)?;
    transcript.step("wrote the outputs");

    print_summary(&mut transcript, args, &bundle, &recipient, &written)?;
    transcript.finish()
}

fn output_paths(args: &SignIntermediateArgs) -> Vec<&std::path::Path> {
    let mut paths = vec![args.out.as_path()];
    paths.extend(args.cert_out.as_deref());
    paths
}

/// Fails unless the root is valid now and `validity` ends no later than the root.
/// The validity is never shortened to fit: the person chooses the new length.
fn check_inside_root(
    root: &CertificateInfo,
    now: OffsetDateTime,
    validity: Validity,
) -> Result<(), CeremonyError> {
    if !root.is_valid_at(now) {
        return Err(CeremonyError::RootNotValidNow {
            root: root.subject.clone(),
            now: timestamp(now),
            not_before: timestamp(root.validity.not_before),
            not_after: timestamp(root.validity.not_after),
        });
    }
    if validity.not_after > root.validity.not_after {
        return Err(CeremonyError::BeyondRoot {
            root: root.subject.clone(),
            requested_not_after: timestamp(validity.not_after),
            root_not_after: timestamp(root.validity.not_after),
            days_left: (root.validity.not_after - validity.not_before).whole_days(),
        });
    }
    Ok(())
}

/// Decrypts the root key and pairs it with the root certificate, which fails if
/// the key does not belong to the certificate.
fn unlock_root(
    args: &SignIntermediateArgs,
    root: &CertificateInfo,
    sealed_root_key: &[u8],
    passphrase: SecretString,
) -> Result<Authority, CeremonyError> {
    let key_label = format!("root key '{}'", args.root_key.display());
    let key_pem = with_spinner("Decrypting the root key", || {
        agefile::decrypt_with_passphrase(sealed_root_key, passphrase, &key_label)
    })
    .map_err(|error| match error {
        AgeError::WrongPassphrase { .. } => CeremonyError::WrongPassphrase {
            path: args.root_key.clone(),
        },
        // Includes a key file whose scrypt work factor is far above what this machine
        // does in about a second; the message then says to decrypt on faster hardware.
        other => CeremonyError::RootKeyUnreadable {
            path: args.root_key.clone(),
            source: other,
        },
    })?;
    let key_text = std::str::from_utf8(&key_pem).map_err(|_| {
        CeremonyError::Core(ironroot_core::Error::InvalidKey {
            what: key_label.clone(),
            reason: "the decrypted key is not PEM text".to_owned(),
        })
    })?;
    let key = PrivateKey::from_pkcs8_pem(key_text, &key_label)?;
    Ok(Authority::new(&root.der, key, "root certificate")?)
}

fn print_summary(
    transcript: &mut Transcript,
    args: &SignIntermediateArgs,
    bundle: &Bundle,
    recipient: &age::x25519::Recipient,
    written: &[OutputFile<'_>],
) -> Result<(), CeremonyError> {
    transcript.heading("Intermediate CA certificate");
    transcript.field("Key algorithm", args.algorithm);
    transcript.field("Path length", args.path_len);
    transcript.certificate(&bundle.intermediate);

    transcript.heading("Signed by the root CA");
    transcript.field("Subject", &bundle.root.subject);
    transcript.field("SHA-256 fingerprint", bundle.root.fingerprint);

    transcript.heading("Bundle manifest (the bundle itself is encrypted)");
    let manifest = serde_json::to_string_pretty(&bundle.manifest).map_err(|error| {
        CeremonyError::SelfCheck(format!("the manifest does not serialise: {error}"))
    })?;
    transcript.block(&manifest);
    transcript.field("Sealed to recipient", recipient);

    transcript.heading("Files written");
    for output in written {
        transcript.written(output);
    }
    transcript.heading(
        "Carry the bundle to the issuing host and import it there. Only that host's identity can open it.",
    );
    Ok(())
}
