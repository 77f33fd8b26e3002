//! The state one ceremony run carries through its steps: the validated file,
//! the runbook, the transcript and the staged outputs.

use std::path::{Path, PathBuf};

use ironroot_core::cert::CertificateInfo;
use ironroot_core::keys::PrivateKey;
use ironroot_core::{Fingerprint, files};
use serde_json::json;
use time::OffsetDateTime;

use crate::ceremony_file::Loaded;
use crate::error::CeremonyError;
use crate::report::timestamp;
use crate::runbook::Runbook;
use crate::staging::Staging;
use crate::transcript::TranscriptWriter;

/// Flags of `run`.
#[derive(Clone, Debug, Default)]
pub(crate) struct RunOptions {
    pub(crate) yes: bool,
    pub(crate) dry_run: bool,
    pub(crate) allow_long_validity: bool,
    pub(crate) passphrase_file: Option<PathBuf>,
}

/// One ceremony run.
pub(crate) struct Engine<'a> {
    pub(crate) loaded: &'a Loaded,
    pub(crate) options: RunOptions,
    pub(crate) runbook: Runbook,
    pub(crate) transcript: TranscriptWriter,
    pub(crate) staging: Staging,
    /// The ceremony's clock: every certificate starts at this instant.
    pub(crate) now: OffsetDateTime,
    /// Scratch directory of a dry run; every output goes there instead.
    pub(crate) scratch: Option<PathBuf>,
}

/// The key that signs the transcript: a CA the ceremony used (its certificate
/// goes into the signature entry) or a dedicated signer key.
pub(crate) enum Signer {
    Authority(ironroot_core::cert::Authority),
    Key {
        key: PrivateKey,
        certificate: Option<CertificateInfo>,
    },
}

impl Signer {
    /// The signing key.
    pub(crate) fn key(&self) -> &PrivateKey {
        match self {
            Self::Authority(authority) => authority.key(),
            Self::Key { key, .. } => key,
        }
    }

    /// The signer's certificate as PEM, when known.
    pub(crate) fn certificate_pem(&self) -> Option<String> {
        match self {
            Self::Authority(authority) => Some(authority.certificate().to_pem()),
            Self::Key { certificate, .. } => certificate.as_ref().map(CertificateInfo::to_pem),
        }
    }
}

impl Engine<'_> {
    /// Resolves the final path of an output field: the path from the file, or a
    /// path inside the scratch directory in a dry run.
    pub(crate) fn output_path(&self, field: &str, path: &Path) -> PathBuf {
        let resolved = self.loaded.resolve(path);
        match &self.scratch {
            Some(scratch) => {
                let name = resolved
                    .file_name()
                    .map_or_else(|| "output".to_owned(), |n| n.to_string_lossy().into_owned());
                let short = field
                    .trim_start_matches("outputs.")
                    .replace(['.', '[', ']'], "_");
                scratch.join(format!("{short}-{name}"))
            }
            None => resolved,
        }
    }

    /// Reads an input file and records its path and SHA-256.
    pub(crate) fn read_input(
        &mut self,
        field: &str,
        path: &Path,
    ) -> Result<Vec<u8>, CeremonyError> {
        let resolved = self.loaded.resolve(path);
        let bytes = files::read(&resolved)?;
        self.transcript.record(
            "input",
            json!({
                "field": field,
                "path": resolved.display().to_string(),
                "sha256": Fingerprint::of(&bytes).to_hex(),
                "bytes": bytes.len(),
            }),
        );
        Ok(bytes)
    }

    /// Stages an output and records its path, mode and SHA-256.
    pub(crate) fn write_output(
        &mut self,
        field: &str,
        path: &Path,
        bytes: &[u8],
        mode: u32,
    ) -> Result<(), CeremonyError> {
        let target = self.output_path(field, path);
        let staged = self.staging.add(field, &target, bytes, mode)?;
        let data = json!({
            "field": field,
            "path": staged.target.display().to_string(),
            "sha256": staged.sha256.to_hex(),
            "bytes": staged.len,
            "mode": format!("{:04o}", staged.mode),
        });
        self.transcript.record("output", data);
        self.runbook.say(&format!(
            "  staged {field}: {} (SHA-256 {})",
            target.display(),
            Fingerprint::of(bytes).to_hex()
        ));
        Ok(())
    }

    /// Records a certificate, shows its details and has the witnesses
    /// acknowledge its fingerprint.
    pub(crate) fn certificate(
        &mut self,
        role: &str,
        info: &CertificateInfo,
    ) -> Result<(), CeremonyError> {
        self.transcript.record(
            "certificate",
            json!({
                "role": role,
                "subject": info.subject,
                "issuer": info.issuer,
                "serial": info.serial_hex(),
                "not_before": timestamp(info.validity.not_before),
                "not_after": timestamp(info.validity.not_after),
                "sha256": info.fingerprint.to_hex(),
                "public_key_sha256": Fingerprint::of(&info.public_key_der).to_hex(),
            }),
        );
        self.runbook.say(&format!("  {role}: {}", info.subject));
        self.runbook
            .say(&format!("    issuer      {}", info.issuer));
        self.runbook
            .say(&format!("    serial      {}", info.serial_hex()));
        self.runbook.say(&format!(
            "    valid       {} to {}",
            timestamp(info.validity.not_before),
            timestamp(info.validity.not_after)
        ));
        let label = format!("{role} certificate");
        self.runbook
            .witness_fingerprint(&label, &info.fingerprint, &mut self.transcript)
    }

    /// Records a public key and has the witnesses acknowledge its fingerprint.
    pub(crate) fn public_key(&mut self, role: &str, key: &PrivateKey) -> Result<(), CeremonyError> {
        let fingerprint = key.public_key_fingerprint();
        self.transcript.record(
            "public-key",
            json!({
                "role": role,
                "algorithm": key.algorithm().name(),
                "sha256": fingerprint.to_hex(),
            }),
        );
        let label = format!("{role} public key");
        self.runbook
            .witness_fingerprint(&label, &fingerprint, &mut self.transcript)
    }

    /// Shows and records a step.
    pub(crate) fn step(&mut self, title: &str) -> Result<(), CeremonyError> {
        self.runbook.step(title, &mut self.transcript)
    }

    /// Records a free-form note in the transcript and prints it.
    pub(crate) fn note(&mut self, text: &str) {
        self.runbook.say(&format!("  {text}"));
        self.transcript.record("note", json!({ "text": text }));
    }
}
