//! Verification of certificates and chains with tools IronRoot did not write.

use std::path::Path;

use rustls_pki_types::{CertificateDer, UnixTime};

use crate::tools;

/// Extended key usage to require of a leaf in [`webpki_verify`].
#[derive(Clone, Copy, Debug)]
pub enum Usage {
    /// id-kp-serverAuth.
    Server,
    /// id-kp-clientAuth.
    Client,
}

/// Verifies `leaf` → `intermediates` → `root` with rustls-webpki at `at`, and
/// checks the leaf is valid for `name` (a DNS name or IP address) when given.
pub fn webpki_verify(
    root: &[u8],
    intermediates: &[&[u8]],
    leaf: &[u8],
    usage: Usage,
    name: Option<&str>,
    at: time::OffsetDateTime,
) -> Result<(), String> {
    let root = CertificateDer::from(root);
    let anchor =
        webpki::anchor_from_trusted_cert(&root).map_err(|error| format!("root: {error}"))?;
    let intermediates: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|der| CertificateDer::from(*der))
        .collect();
    let leaf_der = CertificateDer::from(leaf);
    let leaf =
        webpki::EndEntityCert::try_from(&leaf_der).map_err(|error| format!("leaf: {error}"))?;
    let seconds = u64::try_from(at.unix_timestamp()).map_err(|_| "time before 1970".to_owned())?;
    let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(seconds));
    let usage = match usage {
        Usage::Server => webpki::KeyUsage::server_auth(),
        Usage::Client => webpki::KeyUsage::client_auth(),
    };
    leaf.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &[anchor],
        &intermediates,
        time,
        usage,
        None,
        None,
    )
    .map_err(|error| format!("chain: {error}"))?;
    if let Some(name) = name {
        let server_name = rustls_pki_types::ServerName::try_from(name)
            .map_err(|error| format!("name {name}: {error}"))?;
        leaf.verify_is_valid_for_subject_name(&server_name)
            .map_err(|error| format!("name {name}: {error}"))?;
    }
    Ok(())
}

/// Runs `openssl verify -x509_strict` on PEM files and returns its output
/// (stdout then stderr) on failure.
pub fn openssl_verify(root: &Path, untrusted: Option<&Path>, leaf: &Path) -> Result<(), String> {
    let openssl = tools::require("openssl");
    let mut args = vec!["verify", "-x509_strict", "-CAfile"];
    let root = root.to_string_lossy().into_owned();
    args.push(&root);
    let untrusted_text;
    if let Some(untrusted) = untrusted {
        untrusted_text = untrusted.to_string_lossy().into_owned();
        args.push("-untrusted");
        args.push(&untrusted_text);
    }
    let leaf = leaf.to_string_lossy().into_owned();
    args.push(&leaf);
    let output = tools::run(&openssl, &args);
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Lints a PEM certificate with pkilint's RFC 5280 linter and returns the
/// findings of severity ERROR or FATAL (an empty list means it passed).
/// WARNING and NOTICE findings are printed for the test log.
pub fn pkilint_errors(certificate_pem: &Path) -> Vec<String> {
    let linter = tools::require("lint_pkix_cert");
    let path = certificate_pem.to_string_lossy().into_owned();
    let output = tools::run(
        &linter,
        &[
            "lint",
            "-s",
            "NOTICE",
            "-f",
            "TEXT",
            "--document-format",
            "PEM",
            &path,
        ],
    );
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !text.trim().is_empty() {
        eprintln!("pkilint findings for {path}:\n{text}");
    }
    let errors: Vec<String> = text
        .lines()
        .filter(|line| line.contains("(ERROR)") || line.contains("(FATAL)"))
        .map(str::to_owned)
        .collect();
    if errors.is_empty() && !output.status.success() && text.trim().is_empty() {
        return vec![format!(
            "pkilint failed without findings: {}",
            String::from_utf8_lossy(&output.stderr)
        )];
    }
    errors
}
