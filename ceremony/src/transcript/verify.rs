//! `verify-transcript`: checks the hash chain and the final signature, and names
//! the first entry that was altered, removed or reordered.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ironroot_core::Fingerprint;
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::{Entry, GENESIS, SIGNATURE_TYPE, SignatureData, sha256_hex};
use crate::error::CeremonyError;

/// A transcript whose chain and signature verified.
#[derive(Debug)]
pub(crate) struct Verified {
    pub(crate) entries: usize,
    pub(crate) signer_public_key_sha256: String,
    pub(crate) signer_algorithm: String,
}

/// Verifies `text`. `signer_public_key` (SPKI DER from `--signer-cert`) pins the
/// key that must have signed; without it the key in the signature entry is used
/// and its fingerprint reported for comparison with the ceremony record.
pub(crate) fn verify(
    text: &[u8],
    signer_public_key: Option<&[u8]>,
) -> Result<Verified, CeremonyError> {
    let text =
        std::str::from_utf8(text).map_err(|_| tampered(0, None, "the file is not UTF-8 text"))?;
    if !text.ends_with('\n') {
        return Err(tampered(
            0,
            None,
            "the last line has no newline: the file was truncated",
        ));
    }
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    let mut all = ring::digest::Context::new(&ring::digest::SHA256);
    let mut digest_before_last = None;
    let mut last: Option<Entry> = None;
    for (index, line) in lines.iter().enumerate() {
        let line_no = index + 1;
        let entry: Entry = serde_json::from_str(line).map_err(|error| {
            tampered(line_no, None, &format!("not a transcript entry ({error})"))
        })?;
        check_link(&lines, index, &entry)?;
        if index + 1 == lines.len() {
            digest_before_last = Some(all.clone().finish());
        }
        all.update(line.as_bytes());
        all.update(b"\n");
        last = Some(entry);
    }
    let (Some(last), Some(digest)) = (last, digest_before_last) else {
        return Err(tampered(0, None, "the transcript is empty"));
    };
    if last.kind != SIGNATURE_TYPE {
        return Err(tampered(
            lines.len(),
            Some(last.seq),
            "the last entry is not the signature: entries after it were removed",
        ));
    }
    let data: SignatureData = serde_json::from_value(last.data).map_err(|error| {
        tampered(
            lines.len(),
            Some(last.seq),
            &format!("invalid signature entry ({error})"),
        )
    })?;
    check_signature(
        &data,
        digest.as_ref(),
        signer_public_key,
        lines.len(),
        last.seq,
    )
}

/// Checks `seq` and `prev` of the entry at `index` against the line before it.
fn check_link(lines: &[&str], index: usize, entry: &Entry) -> Result<(), CeremonyError> {
    let line_no = index + 1;
    let expected_seq = index as u64;
    if entry.seq > expected_seq {
        return Err(tampered(
            line_no,
            Some(entry.seq),
            &format!(
                "entry seq {expected_seq} is missing before this line: it was removed, or the entries were reordered"
            ),
        ));
    }
    if entry.seq < expected_seq {
        return Err(tampered(
            line_no,
            Some(entry.seq),
            &format!("expected seq {expected_seq} here: the entries were reordered or duplicated"),
        ));
    }
    let expected_prev = match index {
        0 => GENESIS.to_owned(),
        _ => sha256_hex(lines[index - 1].as_bytes()),
    };
    if entry.prev != expected_prev {
        if index == 0 {
            return Err(tampered(
                line_no,
                Some(entry.seq),
                "the first entry does not start the chain: its `prev` is not 64 zeros",
            ));
        }
        // The line above this one changed after this entry was chained to it.
        return Err(CeremonyError::TranscriptEntryAltered {
            seq: expected_seq - 1,
            line: index,
            next_seq: entry.seq,
            next_line: line_no,
        });
    }
    Ok(())
}

/// Checks the final signature over the digest of every line above it.
///
/// NOTE: the signature covers the entries above the signature entry, not the
/// signature entry's own `at` and descriptive fields (algorithm, key
/// fingerprint, certificate PEM), so an edit to those alone goes undetected.
/// The key itself is checked: pin it with `--signer-cert`.
fn check_signature(
    data: &SignatureData,
    digest: &[u8],
    pinned: Option<&[u8]>,
    line: usize,
    seq: u64,
) -> Result<Verified, CeremonyError> {
    if data.digest != ironroot_core::fingerprint::hex(digest) {
        return Err(tampered(
            line,
            Some(seq),
            "the digest in the signature entry does not match the entries above it",
        ));
    }
    let public_key = STANDARD
        .decode(&data.public_key)
        .map_err(|_| tampered(line, Some(seq), "the signer's public key is not base64"))?;
    if let Some(pinned) = pinned
        && pinned != public_key.as_slice()
    {
        return Err(CeremonyError::TranscriptSigner {
            expected: Fingerprint::of(pinned).to_hex(),
            found: Fingerprint::of(&public_key).to_hex(),
        });
    }
    let signature = STANDARD
        .decode(&data.signature)
        .map_err(|_| tampered(line, Some(seq), "the signature is not base64"))?;
    let (algorithm, raw_key) = ring_algorithm(&public_key).ok_or_else(|| {
        tampered(
            line,
            Some(seq),
            "the signer's public key has an unsupported algorithm",
        )
    })?;
    UnparsedPublicKey::new(algorithm, raw_key)
        .verify(digest, &signature)
        .map_err(|_| {
            tampered(
                line,
                Some(seq),
                "the signature does not verify with the signer's public key",
            )
        })?;
    Ok(Verified {
        entries: line,
        signer_public_key_sha256: Fingerprint::of(&public_key).to_hex(),
        signer_algorithm: data.algorithm.clone(),
    })
}

/// Picks ring's verification algorithm for a SubjectPublicKeyInfo and returns
/// the raw subjectPublicKey bits.
fn ring_algorithm(spki_der: &[u8]) -> Option<(&'static dyn VerificationAlgorithm, Vec<u8>)> {
    let (_, spki) = SubjectPublicKeyInfo::from_der(spki_der).ok()?;
    let oid = spki.algorithm.algorithm.to_id_string();
    let parameter = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|any| any.as_oid().ok())
        .map(|oid| oid.to_id_string());
    let algorithm: &'static dyn VerificationAlgorithm = match (oid.as_str(), parameter.as_deref()) {
        ("1.2.840.10045.2.1", Some("1.2.840.10045.3.1.7")) => &signature::ECDSA_P256_SHA256_ASN1,
        ("1.2.840.10045.2.1", Some("1.3.132.0.34")) => &signature::ECDSA_P384_SHA384_ASN1,
        ("1.3.101.112", _) => &signature::ED25519,
        ("1.2.840.113549.1.1.1", _) => &signature::RSA_PKCS1_2048_8192_SHA256,
        _ => return None,
    };
    Some((algorithm, spki.subject_public_key.data.to_vec()))
}

fn tampered(line: usize, seq: Option<u64>, reason: &str) -> CeremonyError {
    CeremonyError::TranscriptTampered {
        line,
        seq,
        reason: reason.to_owned(),
    }
}
