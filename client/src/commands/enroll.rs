//! `ironroot-client enroll`: generate a key, prove the issuer's identity by
//! the root fingerprint, send a CSR with a bootstrap token, verify and save
//! the certificate.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use ironroot_client::{Client, ServerUrl, Timeouts, keys, tls, verify};
use ironroot_core::api::TOKEN_PREFIX;
use ironroot_core::keys::PrivateKey;
use ironroot_core::names::SubjectName;
use ironroot_core::{files, pemfile};
use rustls_pki_types::UnixTime;
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroizing;

use crate::cli::EnrollArgs;
use crate::error::CliError;

/// Maximum length of a token read from the token file, in bytes. Tokens are 47 bytes
/// today; the margin leaves room for a longer format.
const MAX_TOKEN_LEN: usize = 512;

/// Runs the enrollment and prints each step to stderr.
pub(crate) async fn run(args: EnrollArgs) -> Result<(), CliError> {
    if !args.server.is_tls() {
        return Err(CliError::usage(format!(
            "{} is plain HTTP, but enroll sends the bootstrap token only over TLS verified against the root",
            args.server
        ))
        .with_hint("use the issuer's https:// URL"));
    }
    let names = requested_names(&args);
    check_distinct_outputs(&args)?;
    let token = read_token(&args.token_file)?;

    let key = keys::generate_key()?;
    let csr = keys::build_csr(&key, &names)?;
    let pending_key = PendingKey::write(&args.key, &key)?;
    eprintln!(
        "generated an ECDSA P-256 key (public key SHA-256 {})",
        key.public_key_fingerprint()
    );

    let timeouts = Timeouts::default();
    let root_der =
        tls::fetch_root_unverified(&args.server, &args.root_fingerprint, timeouts).await?;
    eprintln!(
        "fetched root from {}, fingerprint matches ({})",
        args.server, args.root_fingerprint
    );
    if let Some(path) = &args.root_out {
        let pem = pemfile::encode(pemfile::CERTIFICATE, &root_der);
        files::write_replace(path, pem.as_bytes(), files::PUBLIC_FILE)?;
        eprintln!("wrote {} (root certificate)", path.display());
    }

    let response = send_csr(&args.server, &root_der, &csr, &token, &names, timeouts).await?;
    drop(token);
    let issued = verify::verify_issued(
        &response,
        &root_der,
        &key.public_key_der(),
        &names,
        UnixTime::now(),
    )?;
    eprintln!("received the certificate, which chains to the root and contains our public key");

    pending_key.commit(&key)?;
    eprintln!("wrote {} (private key, mode 0600)", args.key.display());
    write_outputs(&args, &issued)
}

async fn send_csr(
    server: &ServerUrl,
    root_der: &[u8],
    csr: &str,
    token: &str,
    names: &[SubjectName],
    timeouts: Timeouts,
) -> Result<ironroot_core::api::SignResponse, CliError> {
    let config = tls::verified_config(root_der, None)?;
    let client = Client::new(server.clone(), Some(config), timeouts)?;
    let listed: Vec<String> = names.iter().map(ToString::to_string).collect();
    eprintln!(
        "sending a CSR for {} over TLS verified against the root",
        listed.join(", ")
    );
    Ok(client.sign(csr, token).await?)
}

fn write_outputs(args: &EnrollArgs, issued: &verify::IssuedCertificate) -> Result<(), CliError> {
    let leaf_pem = pemfile::encode(pemfile::CERTIFICATE, &issued.leaf.der);
    files::write_replace(&args.cert, leaf_pem.as_bytes(), files::PUBLIC_FILE)?;
    let not_after = issued
        .leaf
        .validity
        .not_after
        .format(&Rfc3339)
        .unwrap_or_else(|_| issued.leaf.validity.not_after.to_string());
    eprintln!(
        "wrote {} (serial {}, valid until {not_after})",
        args.cert.display(),
        issued.leaf.serial_hex()
    );
    if let Some(path) = &args.chain {
        let chain_pem =
            pemfile::encode_certificates(issued.intermediates.iter().map(Vec::as_slice));
        files::write_replace(path, chain_pem.as_bytes(), files::PUBLIC_FILE)?;
        eprintln!(
            "wrote {} ({} intermediate certificate(s))",
            path.display(),
            issued.intermediates.len()
        );
    }
    Ok(())
}

/// Returns the requested names in command-line order (DNS names first),
/// without duplicates.
fn requested_names(args: &EnrollArgs) -> Vec<SubjectName> {
    let mut names: Vec<SubjectName> = Vec::new();
    for name in args.dns.iter().chain(&args.ip) {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

fn check_distinct_outputs(args: &EnrollArgs) -> Result<(), CliError> {
    let outputs: Vec<(&str, &PathBuf)> = [
        ("--cert", Some(&args.cert)),
        ("--key", Some(&args.key)),
        ("--chain", args.chain.as_ref()),
        ("--root-out", args.root_out.as_ref()),
    ]
    .into_iter()
    .filter_map(|(flag, path)| path.map(|path| (flag, path)))
    .collect();
    for (index, (flag, path)) in outputs.iter().enumerate() {
        if let Some((other, _)) = outputs[..index].iter().find(|(_, seen)| seen == path) {
            return Err(CliError::usage(format!(
                "{other} and {flag} both name {}",
                path.display()
            ))
            .with_hint("give each output its own file"));
        }
        // Checked before the token is sent, so a typo costs no token.
        let directory = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        if !directory.is_dir() {
            return Err(CliError::usage(format!(
                "the directory '{}' of {flag} does not exist",
                directory.display()
            ))
            .with_hint("create it first, or choose another path"));
        }
    }
    Ok(())
}

/// Reads the bootstrap token from `path` (or stdin for `-`), strips
/// whitespace and checks its form. The token never appears in a message.
fn read_token(path: &Path) -> Result<Zeroizing<String>, CliError> {
    let mut raw = Zeroizing::new(String::new());
    let (source, result) = if path == Path::new("-") {
        (
            "stdin".to_owned(),
            std::io::stdin().read_to_string(&mut raw),
        )
    } else {
        warn_if_shared(path);
        let result = std::fs::File::open(path).and_then(|mut file| file.read_to_string(&mut raw));
        (path.display().to_string(), result)
    };
    result.map_err(|error| {
        CliError::usage(format!("failed to read the token from {source}: {error}"))
    })?;
    let token = Zeroizing::new(raw.trim().to_owned());
    let body = token.strip_prefix(TOKEN_PREFIX).unwrap_or_default();
    let well_formed = !body.is_empty()
        && token.len() <= MAX_TOKEN_LEN
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(CliError::usage(format!(
            "the token in {source} is not an IronRoot bootstrap token (`{TOKEN_PREFIX}` followed by base64url)"
        ))
        .with_hint("pass the file that `ironroot-admin token create` wrote, or pipe the token into `--token-file -`"));
    }
    Ok(token)
}

fn warn_if_shared(path: &Path) {
    if let Ok(metadata) = std::fs::metadata(path) {
        let mode = metadata.mode() & 0o777;
        if mode & 0o077 != 0 {
            eprintln!(
                "warning: token file {} is readable or writable by group or others (mode {mode:o}); the token is a secret until it is used",
                path.display()
            );
        }
    }
}

/// A freshly generated key stored beside its final path until the
/// certificate arrives, so a failed enrollment leaves an existing key and
/// certificate pair untouched. Dropping it without [`PendingKey::commit`]
/// deletes the file.
struct PendingKey {
    pending: PathBuf,
    target: PathBuf,
}

impl PendingKey {
    /// Writes `key` (mode 0600) to `<target>.pending`, before any token is sent,
    /// so an unwritable key location fails the enrollment early.
    fn write(target: &Path, key: &PrivateKey) -> Result<Self, CliError> {
        let mut name = target
            .file_name()
            .ok_or_else(|| {
                CliError::usage(format!("--key {} is not a file path", target.display()))
            })?
            .to_owned();
        name.push(".pending");
        let pending = target.with_file_name(name);
        files::write_replace(&pending, key.to_pkcs8_pem().as_bytes(), files::PRIVATE_FILE)?;
        Ok(Self {
            pending,
            target: target.to_owned(),
        })
    }

    /// Writes the key to its final path and removes the pending file.
    /// NOTE: the certificate is written right after, so a reader in between
    /// sees the new key with the old certificate.
    fn commit(self, key: &PrivateKey) -> Result<(), CliError> {
        files::write_replace(
            &self.target,
            key.to_pkcs8_pem().as_bytes(),
            files::PRIVATE_FILE,
        )?;
        Ok(())
    }
}

impl Drop for PendingKey {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.pending);
    }
}
