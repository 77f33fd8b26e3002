//! `ironroot-client renew`: renew the current certificate over mTLS when
//! enough of its lifetime has passed, keeping the key or making a new one.
//! The shared steps are used by `ironroot-client run` as well.

use std::path::Path;

use ironroot_client::tls::{self, ClientIdentity};
use ironroot_client::{Client, Timeouts, keys, verify};
use ironroot_core::cert::CertificateInfo;
use ironroot_core::keys::PrivateKey;
use ironroot_core::{files, pemfile};
use rustls_pki_types::UnixTime;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroizing;

use crate::cli::{RenewArgs, RenewFiles};
use crate::error::CliError;

/// Runs the one-shot renewal: exits 0 without contacting the issuer when the
/// certificate is not due yet.
pub(crate) async fn run(args: RenewArgs) -> Result<(), CliError> {
    check_fraction(args.files.renew_at)?;
    let current = load_current(&args.files)?;
    let now = OffsetDateTime::now_utc();
    let due = due_time(&current, args.files.renew_at, 0.0);
    if !args.force && now < due {
        eprintln!(
            "certificate {} is not due for renewal until {} ({:.0}% of its lifetime); nothing to do",
            current.serial_hex(),
            format_time(due),
            args.files.renew_at * 100.0
        );
        return Ok(());
    }
    let renewed = renew_now(&args.files, &current).await?;
    eprintln!(
        "renewed certificate {} as {} (valid until {})",
        current.serial_hex(),
        renewed.serial_hex(),
        format_time(renewed.validity.not_after)
    );
    Ok(())
}

/// Rejects a `--renew-at` outside (0, 1).
pub(crate) fn check_fraction(fraction: f64) -> Result<(), CliError> {
    if fraction > 0.0 && fraction < 1.0 {
        return Ok(());
    }
    Err(CliError::usage(format!(
        "--renew-at is {fraction}; give a fraction of the lifetime between 0 and 1, such as 0.66"
    )))
}

/// Reads the current certificate (the first one in `--cert`).
pub(crate) fn load_current(files_args: &RenewFiles) -> Result<CertificateInfo, CliError> {
    let text = files::read(&files_args.cert)?;
    let what = format!("certificate {}", files_args.cert.display());
    let ders = pemfile::parse_all(&text, pemfile::CERTIFICATE, &what)?;
    let first = ders
        .first()
        .ok_or_else(|| CliError::usage(format!("{what} contains no certificate")))?;
    Ok(CertificateInfo::parse(first, &what)?)
}

/// Returns when `fraction` (shifted by `jitter`, a fraction of the lifetime)
/// of the certificate's lifetime has passed.
pub(crate) fn due_time(current: &CertificateInfo, fraction: f64, jitter: f64) -> OffsetDateTime {
    let start = current.validity.not_before;
    let lifetime = current.validity.not_after - start;
    let share = (fraction + jitter).clamp(0.05, 0.95);
    start + lifetime * share
}

/// Sends the renewal and, after local verification, replaces the files.
/// Returns the new certificate.
pub(crate) async fn renew_now(
    args: &RenewFiles,
    current: &CertificateInfo,
) -> Result<CertificateInfo, CliError> {
    let root_der = read_root(&args.root)?;
    let chain = read_chain(args.chain.as_deref())?;
    let current_key = read_key(&args.key)?;
    let new_key = if args.rekey {
        keys::generate_key()?
    } else {
        PrivateKey::from_pkcs8_der(&current_key.to_pkcs8_der(), "current key")?
    };
    let names = current.names.clone();
    let csr = keys::build_csr(&new_key, &names)?;

    let mut presented = vec![current.der.clone()];
    presented.extend(chain);
    let identity = ClientIdentity::from_der(presented, current_key.to_pkcs8_der().to_vec());
    let config = tls::verified_config(&root_der, Some(identity))?;
    let client = Client::new(args.server.clone(), Some(config), Timeouts::default())?;
    let response = client.renew(&csr, None).await?;
    if let Some(notice) = &response.notice {
        eprintln!("notice from the issuer: {notice}");
    }
    let issued = verify::verify_issued(
        &response,
        &root_der,
        &new_key.public_key_der(),
        &names,
        UnixTime::now(),
    )?;
    write_files(args, &issued, args.rekey.then_some(&new_key))?;
    Ok(issued.leaf)
}

fn write_files(
    args: &RenewFiles,
    issued: &verify::IssuedCertificate,
    new_key: Option<&PrivateKey>,
) -> Result<(), CliError> {
    // NOTE: with --rekey the key is replaced first and the certificate right
    // after, so a reader in between sees the new key with the old certificate.
    if let Some(key) = new_key {
        files::write_replace(
            &args.key,
            key.to_pkcs8_pem().as_bytes(),
            files::PRIVATE_FILE,
        )?;
        eprintln!("wrote {} (new private key, mode 0600)", args.key.display());
    }
    let leaf_pem = pemfile::encode(pemfile::CERTIFICATE, &issued.leaf.der);
    files::write_replace(&args.cert, leaf_pem.as_bytes(), files::PUBLIC_FILE)?;
    eprintln!(
        "wrote {} (serial {})",
        args.cert.display(),
        issued.leaf.serial_hex()
    );
    if let Some(path) = &args.chain {
        let chain_pem =
            pemfile::encode_certificates(issued.intermediates.iter().map(Vec::as_slice));
        files::write_replace(path, chain_pem.as_bytes(), files::PUBLIC_FILE)?;
    }
    Ok(())
}

fn read_root(path: &Path) -> Result<Vec<u8>, CliError> {
    let text = files::read(path)?;
    Ok(pemfile::parse_single(
        &text,
        pemfile::CERTIFICATE,
        &format!("root certificate {}", path.display()),
    )?)
}

fn read_chain(path: Option<&Path>) -> Result<Vec<Vec<u8>>, CliError> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    let text = files::read(path)?;
    Ok(pemfile::parse_all(
        &text,
        pemfile::CERTIFICATE,
        &format!("chain {}", path.display()),
    )?)
}

fn read_key(path: &Path) -> Result<PrivateKey, CliError> {
    files::check_private(path)?;
    let bytes = Zeroizing::new(files::read(path)?);
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| CliError::usage(format!("key {} is not PEM text", path.display())))?;
    Ok(PrivateKey::from_pkcs8_pem(
        text,
        &format!("in {}", path.display()),
    )?)
}

/// Formats a time as RFC 3339.
pub(crate) fn format_time(time: OffsetDateTime) -> String {
    time.format(&Rfc3339).unwrap_or_else(|_| time.to_string())
}
