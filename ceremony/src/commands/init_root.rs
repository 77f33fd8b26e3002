//! `init-root`: create the root CA key and its self-signed certificate.

use std::fs;
use std::path::{Path, PathBuf};

use ironroot_core::agefile;
use ironroot_core::cert::{Authority, CertificateInfo};
use ironroot_core::files::{self, PRIVATE_FILE, PUBLIC_FILE};
use ironroot_core::keys::PrivateKey;
use ironroot_core::profile::{self, Validity};
use time::OffsetDateTime;

use crate::checks;
use crate::cli::InitRootArgs;
use crate::error::CeremonyError;
use crate::outputs::{self, OutputFile};
use crate::passphrase;
use crate::report::{Transcript, with_spinner};
use crate::validity;

/// File name of the root certificate inside `--out-dir`.
const ROOT_CERT_FILE: &str = "root.pem";
/// File name of the encrypted root key inside `--out-dir`.
const ROOT_KEY_FILE: &str = "root.key.age";

/// Runs `init-root`. Every argument is checked and the passphrase obtained before
/// the key is generated, and nothing is written until the certificate passes its
/// self-check.
pub(crate) fn run(args: &InitRootArgs) -> Result<(), CeremonyError> {
    let lifetime = validity::lifetime(
        args.validity_days,
        &validity::ROOT,
        args.allow_long_validity,
    )?;
    let subject = args.subject.to_subject(&args.common_name);
    subject.validate()?;

    let cert_path = args.out_dir.join(ROOT_CERT_FILE);
    let key_path = args.out_dir.join(ROOT_KEY_FILE);
    let create_dir = out_dir_is_missing(&args.out_dir)?;
    // A missing directory holds no outputs yet; it is created below.
    if !create_dir {
        outputs::check_absent(&[&cert_path, &key_path])?;
    }
    let passphrase = passphrase::read_new(args.passphrase.passphrase_file.as_deref())?;
    if create_dir {
        files::create_private_dir(&args.out_dir)?;
        tracing::debug!(dir = %args.out_dir.display(), "created the output directory");
    }

    let now = OffsetDateTime::now_utc();
    let mut transcript = Transcript::start("init-root", now);
    if create_dir {
        transcript.step(format_args!(
            "created '{}' (mode 0700)",
            args.out_dir.display()
        ));
    }
    transcript.step(format_args!("passphrase {}", passphrase.origin));

    let (authority, info) = create_root(args, &subject, now, lifetime, &mut transcript)?;

    let key_pem = authority.key().to_pkcs8_pem();
    let sealed_key = with_spinner("Encrypting the root key with the passphrase", || {
        agefile::encrypt_with_passphrase(key_pem.as_bytes(), passphrase.secret)
    })
    .map_err(CeremonyError::Encrypt)?;
    drop(key_pem);
    drop(authority);
    transcript.step("encrypted the root key with the passphrase (age, scrypt)");

    let cert_pem = info.to_pem();
    let written = [
        OutputFile {
            path: &cert_path,
            bytes: cert_pem.as_bytes(),
            mode: PUBLIC_FILE,
        },
        OutputFile {
            path: &key_path,
            bytes: &sealed_key,
            mode: PRIVATE_FILE,
        },
    ];
    outputs::write_all(&written)?;
    transcript.step("wrote the root certificate and the encrypted root key");

    print_summary(&mut transcript, args, &info, &written);
    transcript.finish()
}

/// Generates the key, self-signs the root certificate and checks it.
fn create_root(
    args: &InitRootArgs,
    subject: &profile::Subject,
    now: OffsetDateTime,
    lifetime: time::Duration,
    transcript: &mut Transcript,
) -> Result<(Authority, CertificateInfo), CeremonyError> {
    let key = PrivateKey::generate(args.algorithm)?;
    transcript.step(format_args!("generated the {} root key", args.algorithm));

    let validity = Validity::starting_at(now, lifetime)?;
    let params = profile::root(subject, validity)?;
    let authority = Authority::self_signed(&params, key)?;
    transcript.step("self-signed the root certificate");

    let info = checks::root(&authority.certificate().der, validity)?;
    transcript
        .step("parsed the certificate back: the self-signature verifies, profile as requested");
    Ok((authority, info))
}

/// Returns whether `dir` is missing, and fails if it exists but is not a directory.
fn out_dir_is_missing(dir: &Path) -> Result<bool, CeremonyError> {
    match fs::metadata(dir) {
        Ok(metadata) if metadata.is_dir() => Ok(false),
        Ok(_) => Err(CeremonyError::NotADirectory {
            path: PathBuf::from(dir),
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(source) => Err(CeremonyError::Core(ironroot_core::Error::Read {
            path: PathBuf::from(dir),
            source,
        })),
    }
}

fn print_summary(
    transcript: &mut Transcript,
    args: &InitRootArgs,
    info: &CertificateInfo,
    written: &[OutputFile<'_>],
) {
    transcript.heading("Root CA certificate");
    transcript.field("Key algorithm", args.algorithm);
    transcript.certificate(info);
    transcript.heading("Files written");
    for output in written {
        transcript.written(output);
    }
    transcript.heading(
        "Record the fingerprint in the ceremony log. Clients and issuing hosts check the root against it.",
    );
}
