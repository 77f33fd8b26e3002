//! The ceremony transcript: JSON lines, one entry per line. Each entry carries
//! `seq` (0, 1, 2, ...), `at` (RFC 3339, UTC), `type`, `data` and `prev`, the
//! SHA-256 (hex) of the previous line's bytes without its newline, so the lines
//! form a hash chain. The last entry has type `signature`: the signer's public
//! key (and certificate, when known) and a signature over the SHA-256 of all
//! previous lines, each with its newline.

mod render;
mod verify;
mod write;

use serde::{Deserialize, Serialize};

pub(crate) use render::render;
pub(crate) use verify::{Verified, verify};
pub(crate) use write::TranscriptWriter;

/// `prev` of the first entry.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Entry type of the final signature entry.
pub(crate) const SIGNATURE_TYPE: &str = "signature";

/// One transcript line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Entry {
    pub(crate) seq: u64,
    pub(crate) at: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) data: serde_json::Value,
    pub(crate) prev: String,
}

/// Data of the signature entry.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignatureData {
    /// SHA-256 (hex) of all previous lines, each with its newline.
    pub(crate) digest: String,
    /// Key algorithm name of the signer, such as `ecdsa-p384`.
    pub(crate) algorithm: String,
    /// The signer's SubjectPublicKeyInfo, base64 DER.
    pub(crate) public_key: String,
    /// SHA-256 fingerprint of `public_key`.
    pub(crate) public_key_sha256: String,
    /// The signer's certificate as PEM, when it has one.
    pub(crate) certificate: Option<String>,
    /// Signature over the 32 digest bytes, base64.
    pub(crate) signature: String,
}

/// SHA-256 of `bytes` as lower-case hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    ironroot_core::Fingerprint::of(bytes).to_hex()
}
