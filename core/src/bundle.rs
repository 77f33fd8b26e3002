//! The intermediate bundle: what a ceremony hands to an issuing host.
//!
//! A bundle is an age file, ASCII-armored and addressed to the issuing host's
//! X25519 recipient. Its plaintext is a sequence of PEM blocks:
//!
//! 1. `IRONROOT BUNDLE MANIFEST`: JSON describing the contents (see [`Manifest`]),
//! 2. `CERTIFICATE`: the intermediate CA certificate,
//! 3. `CERTIFICATE`: the root CA certificate,
//! 4. `PRIVATE KEY`: the intermediate's PKCS#8 key, absent when the issuing host
//!    generated the key itself.
//!
//! `docs/bundle-format.md` describes the format for other implementations.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::Fingerprint;
use crate::agefile::{self, AgeError};
use crate::cert::{CertificateInfo, verify_issued_by};
use crate::keys::PrivateKey;

/// Value of [`Manifest::format`].
pub const FORMAT: &str = "ironroot-intermediate-bundle";
/// Current value of [`Manifest::version`].
pub const VERSION: u32 = 1;
/// PEM label of the manifest block.
pub const MANIFEST_LABEL: &str = "IRONROOT BUNDLE MANIFEST";
/// Largest bundle accepted, in bytes of ciphertext.
pub const MAX_BUNDLE_LEN: usize = 1024 * 1024;

/// Failures to build, open or check a bundle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    #[error(transparent)]
    Age(#[from] AgeError),
    #[error("invalid bundle: {0}")]
    Format(String),
    #[error(
        "the bundle manifest does not match its contents: {0}; the bundle was altered after the ceremony"
    )]
    ManifestMismatch(String),
    #[error("the bundle's intermediate certificate is unusable: {0}")]
    Intermediate(String),
    #[error("the bundle's intermediate key does not match its certificate: {0}")]
    KeyMismatch(String),
    #[error(transparent)]
    Core(Box<crate::Error>),
}

impl From<crate::Error> for BundleError {
    fn from(error: crate::Error) -> Self {
        Self::Core(Box::new(error))
    }
}

/// Description of a certificate in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateEntry {
    /// Subject as x509-parser displays it: attributes in certificate order,
    /// joined by `, ` (for example `C=DE, O=Example, CN=Example Root CA`).
    pub subject: String,
    /// SHA-256 of the certificate DER, colon-separated hex.
    pub sha256: String,
    /// notBefore, RFC 3339.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// notAfter, RFC 3339.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
}

impl CertificateEntry {
    fn of(info: &CertificateInfo) -> Self {
        Self {
            subject: info.subject.clone(),
            sha256: info.fingerprint.to_string(),
            not_before: info.validity.not_before,
            not_after: info.validity.not_after,
        }
    }
}

/// Description of the bundled private key in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// Key algorithm name, such as `ecdsa-p256`.
    pub algorithm: String,
    /// SHA-256 of the DER SubjectPublicKeyInfo, colon-separated hex.
    pub public_key_sha256: String,
}

/// The bundle manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Format version, currently [`VERSION`].
    pub version: u32,
    /// When the ceremony wrote the bundle, RFC 3339.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The intermediate CA certificate.
    pub intermediate: CertificateEntry,
    /// The root CA certificate.
    pub root: CertificateEntry,
    /// The intermediate's private key, if the bundle carries it.
    pub key: Option<KeyEntry>,
}

/// An opened (or about to be sealed) bundle.
pub struct Bundle {
    /// The manifest.
    pub manifest: Manifest,
    /// The intermediate CA certificate.
    pub intermediate: CertificateInfo,
    /// The root CA certificate.
    pub root: CertificateInfo,
    /// The intermediate's private key, if carried.
    pub key: Option<PrivateKey>,
}

impl Bundle {
    /// Assembles a bundle and its manifest.
    pub fn new(
        intermediate: CertificateInfo,
        root: CertificateInfo,
        key: Option<PrivateKey>,
        created_at: OffsetDateTime,
    ) -> Self {
        let manifest = Manifest {
            format: FORMAT.to_owned(),
            version: VERSION,
            created_at: created_at.replace_nanosecond(0).unwrap_or(created_at),
            intermediate: CertificateEntry::of(&intermediate),
            root: CertificateEntry::of(&root),
            key: key.as_ref().map(|key| KeyEntry {
                algorithm: key.algorithm().name().to_owned(),
                public_key_sha256: key.public_key_fingerprint().to_string(),
            }),
        };
        Self {
            manifest,
            intermediate,
            root,
            key,
        }
    }

    /// Encrypts the bundle to `recipient` and returns the armored age file.
    pub fn seal(&self, recipient: &age::x25519::Recipient) -> Result<Vec<u8>, BundleError> {
        let manifest = serde_json::to_vec_pretty(&self.manifest).map_err(|error| {
            BundleError::Format(format!("manifest does not serialise: {error}"))
        })?;
        let mut plaintext = Zeroizing::new(String::new());
        plaintext.push_str(&crate::pemfile::encode(MANIFEST_LABEL, &manifest));
        plaintext.push_str(&self.intermediate.to_pem());
        plaintext.push_str(&self.root.to_pem());
        if let Some(key) = &self.key {
            plaintext.push_str(&key.to_pkcs8_pem());
        }
        Ok(agefile::encrypt_to_recipients(
            plaintext.as_bytes(),
            &[recipient],
        )?)
    }

    /// Decrypts a bundle with the host identity and checks that the manifest
    /// matches the contents. Call [`Bundle::verify`] to check the certificates.
    pub fn open(ciphertext: &[u8], identity: &age::x25519::Identity) -> Result<Self, BundleError> {
        if ciphertext.len() > MAX_BUNDLE_LEN {
            return Err(BundleError::Format(format!(
                "the file is {} bytes; bundles are at most {MAX_BUNDLE_LEN}",
                ciphertext.len()
            )));
        }
        let plaintext = agefile::decrypt_with_identity(ciphertext, identity, "the bundle")?;
        Self::parse_plaintext(&plaintext)
    }

    fn parse_plaintext(plaintext: &[u8]) -> Result<Self, BundleError> {
        let blocks = pem::parse_many(plaintext)
            .map_err(|error| BundleError::Format(format!("the payload is not PEM ({error})")))?;
        let labels: Vec<&str> = blocks.iter().map(|block| block.tag()).collect();
        let has_key = match labels.as_slice() {
            [MANIFEST_LABEL, "CERTIFICATE", "CERTIFICATE"] => false,
            [MANIFEST_LABEL, "CERTIFICATE", "CERTIFICATE", "PRIVATE KEY"] => true,
            other => {
                return Err(BundleError::Format(format!(
                    "expected a manifest, two certificates and an optional private key, found the blocks {other:?}"
                )));
            }
        };
        let manifest: Manifest = serde_json::from_slice(blocks[0].contents()).map_err(|error| {
            BundleError::Format(format!("the manifest is invalid JSON ({error})"))
        })?;
        if manifest.format != FORMAT {
            return Err(BundleError::Format(format!(
                "the manifest format is `{}`, expected `{FORMAT}`",
                manifest.format
            )));
        }
        if manifest.version != VERSION {
            return Err(BundleError::Format(format!(
                "bundle format version {} is not supported; this build reads version {VERSION}",
                manifest.version
            )));
        }
        let intermediate =
            CertificateInfo::parse(blocks[1].contents(), "intermediate certificate")?;
        let root = CertificateInfo::parse(blocks[2].contents(), "root certificate")?;
        let key = if has_key {
            let der = Zeroizing::new(blocks[3].contents().to_vec());
            Some(PrivateKey::from_pkcs8_der(
                &der,
                "intermediate key in the bundle",
            )?)
        } else {
            None
        };
        let bundle = Self {
            manifest,
            intermediate,
            root,
            key,
        };
        bundle.check_manifest()?;
        Ok(bundle)
    }

    fn check_manifest(&self) -> Result<(), BundleError> {
        let expected_intermediate = CertificateEntry::of(&self.intermediate);
        if self.manifest.intermediate != expected_intermediate {
            return Err(BundleError::ManifestMismatch(format!(
                "the manifest lists intermediate {}, the bundle contains {}",
                self.manifest.intermediate.sha256, expected_intermediate.sha256
            )));
        }
        let expected_root = CertificateEntry::of(&self.root);
        if self.manifest.root != expected_root {
            return Err(BundleError::ManifestMismatch(format!(
                "the manifest lists root {}, the bundle contains {}",
                self.manifest.root.sha256, expected_root.sha256
            )));
        }
        let actual_key = self
            .key
            .as_ref()
            .map(|key| key.public_key_fingerprint().to_string());
        let listed_key = self
            .manifest
            .key
            .as_ref()
            .map(|key| key.public_key_sha256.clone());
        if actual_key != listed_key {
            return Err(BundleError::ManifestMismatch(format!(
                "the manifest lists key {listed_key:?}, the bundle contains {actual_key:?}"
            )));
        }
        Ok(())
    }

    /// Checks the certificates at time `now`: the root is a self-signed CA, the
    /// intermediate is a CA signed by the root, valid at `now` and within the
    /// root's validity, and the bundled key (if any) matches the intermediate.
    pub fn verify(&self, now: OffsetDateTime) -> Result<(), BundleError> {
        let root = &self.root;
        let intermediate = &self.intermediate;
        if !root.is_ca {
            return Err(BundleError::Intermediate(format!(
                "the bundled root `{}` is not a CA certificate",
                root.subject
            )));
        }
        verify_issued_by(root, root).map_err(|error| {
            BundleError::Intermediate(format!("the bundled root is not self-signed: {error}"))
        })?;
        if !intermediate.is_ca {
            return Err(BundleError::Intermediate(format!(
                "`{}` is not a CA certificate (basicConstraints CA:false or absent)",
                intermediate.subject
            )));
        }
        verify_issued_by(intermediate, root).map_err(|error| {
            BundleError::Intermediate(format!("not signed by the bundled root: {error}"))
        })?;
        if !intermediate.is_valid_at(now) {
            return Err(BundleError::Intermediate(format!(
                "`{}` is valid from {} to {}, which does not include now ({now})",
                intermediate.subject,
                intermediate.validity.not_before,
                intermediate.validity.not_after
            )));
        }
        if !intermediate.validity.is_within(&root.validity) {
            return Err(BundleError::Intermediate(format!(
                "`{}` is valid until {}, after its root expires at {}",
                intermediate.subject, intermediate.validity.not_after, root.validity.not_after
            )));
        }
        if intermediate.authority_key_id.is_none()
            || intermediate.authority_key_id != root.subject_key_id
        {
            return Err(BundleError::Intermediate(
                "its authority key identifier does not match the root's subject key identifier"
                    .to_owned(),
            ));
        }
        if let Some(key) = &self.key
            && key.public_key_der() != intermediate.public_key_der
        {
            return Err(BundleError::KeyMismatch(format!(
                "the key's public key SHA-256 is {}, the certificate's is {}",
                key.public_key_fingerprint(),
                Fingerprint::of(&intermediate.public_key_der)
            )));
        }
        Ok(())
    }
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle")
            .field("manifest", &self.manifest)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}
