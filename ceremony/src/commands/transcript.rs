//! `verify-transcript` and `render-transcript`.

use ironroot_core::cert::CertificateInfo;
use ironroot_core::files::{self, PUBLIC_FILE};

use crate::cli::{RenderTranscriptArgs, VerifyTranscriptArgs};
use crate::error::CeremonyError;
use crate::transcript;

/// Runs `verify-transcript`.
pub(crate) fn verify(args: &VerifyTranscriptArgs) -> Result<(), CeremonyError> {
    let text = files::read(&args.file)?;
    let pinned = match &args.signer_cert {
        Some(path) => {
            Some(CertificateInfo::parse_pem(&files::read(path)?, "--signer-cert")?.public_key_der)
        }
        None => None,
    };
    let verified = transcript::verify(&text, pinned.as_deref())?;
    println!(
        "transcript '{}': {} entries, hash chain intact, signature valid",
        args.file.display(),
        verified.entries
    );
    println!(
        "signer: {} public key SHA-256 {}{}",
        verified.signer_algorithm,
        verified.signer_public_key_sha256,
        if pinned.is_some() {
            " (matches --signer-cert)"
        } else {
            " (compare it with the ceremony record, or pass --signer-cert)"
        }
    );
    Ok(())
}

/// Runs `render-transcript`: verifies, then writes Markdown.
pub(crate) fn render(args: &RenderTranscriptArgs) -> Result<(), CeremonyError> {
    let bytes = files::read(&args.file)?;
    let verified = transcript::verify(&bytes, None)?;
    let text = String::from_utf8_lossy(&bytes);
    let markdown = transcript::render(&text, &verified)?;
    files::write_new(&args.out, markdown.as_bytes(), PUBLIC_FILE)?;
    println!("wrote '{}'", args.out.display());
    Ok(())
}
