//! Building and signing a transcript in memory; the caller stages the bytes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ironroot_core::keys::PrivateKey;
use rcgen::SigningKey;
use serde_json::Value;
use time::OffsetDateTime;

use super::{Entry, GENESIS, SIGNATURE_TYPE, SignatureData, sha256_hex};
use crate::error::CeremonyError;
use crate::report::timestamp;

/// Collects transcript lines and chains them.
pub(crate) struct TranscriptWriter {
    lines: Vec<String>,
    all: ring::digest::Context,
}

impl Default for TranscriptWriter {
    fn default() -> Self {
        Self {
            lines: Vec::new(),
            all: ring::digest::Context::new(&ring::digest::SHA256),
        }
    }
}

impl std::fmt::Debug for TranscriptWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TranscriptWriter({} entries)", self.lines.len())
    }
}

impl TranscriptWriter {
    /// Appends an entry of `kind` with `data`, stamped with the current time.
    pub(crate) fn record(&mut self, kind: &str, data: Value) {
        self.record_at(kind, data, OffsetDateTime::now_utc());
    }

    fn record_at(&mut self, kind: &str, data: Value, at: OffsetDateTime) {
        let prev = self
            .lines
            .last()
            .map_or_else(|| GENESIS.to_owned(), |line| sha256_hex(line.as_bytes()));
        let entry = Entry {
            seq: self.lines.len() as u64,
            at: timestamp(at),
            kind: kind.to_owned(),
            data,
            prev,
        };
        // An Entry holds only strings, numbers and JSON values, which always serialise.
        let line = serde_json::to_string(&entry).expect("a transcript entry serialises to JSON");
        self.all.update(line.as_bytes());
        self.all.update(b"\n");
        self.lines.push(line);
    }

    /// Appends the signature entry made with `key` and returns the whole file.
    pub(crate) fn sign(
        mut self,
        key: &PrivateKey,
        certificate_pem: Option<String>,
    ) -> Result<Vec<u8>, CeremonyError> {
        let digest = self.all.clone().finish();
        let signature = key.sign(digest.as_ref()).map_err(|error| {
            CeremonyError::Ceremony(format!("signing the transcript failed: {error}"))
        })?;
        let public_key = key.public_key_der();
        let data = SignatureData {
            digest: ironroot_core::fingerprint::hex(digest.as_ref()),
            algorithm: key.algorithm().name().to_owned(),
            public_key_sha256: sha256_hex(&public_key),
            public_key: STANDARD.encode(&public_key),
            certificate: certificate_pem,
            signature: STANDARD.encode(signature),
        };
        let data = serde_json::to_value(&data).map_err(|error| {
            CeremonyError::Ceremony(format!("transcript signature entry: {error}"))
        })?;
        self.record(SIGNATURE_TYPE, data);
        let mut out = String::new();
        for line in &self.lines {
            out.push_str(line);
            out.push('\n');
        }
        Ok(out.into_bytes())
    }
}
