//! Key algorithms, key generation and private-key loading.
//!
//! Private keys live in [`PrivateKey`], which wipes its PKCS#8 bytes on drop and
//! prints a placeholder instead of key material when debugged.

use std::fmt;
use std::str::FromStr;

use rcgen::{KeyPair, PublicKeyData, SignatureAlgorithm};
use zeroize::Zeroizing;

use crate::{Error, Fingerprint};

/// Key algorithms that IronRoot generates and signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-256 with SHA-256.
    EcdsaP256,
    /// ECDSA on NIST P-384 with SHA-384.
    EcdsaP384,
    /// Ed25519 (RFC 8410).
    Ed25519,
}

impl KeyAlgorithm {
    /// All algorithms, in the order they are listed in help and error messages.
    pub const ALL: [KeyAlgorithm; 3] = [Self::EcdsaP256, Self::EcdsaP384, Self::Ed25519];

    /// Returns the name used on command lines, in manifests and in the database.
    pub fn name(self) -> &'static str {
        match self {
            Self::EcdsaP256 => "ecdsa-p256",
            Self::EcdsaP384 => "ecdsa-p384",
            Self::Ed25519 => "ed25519",
        }
    }

    /// Returns rcgen's signature algorithm for this key type.
    pub fn signature_algorithm(self) -> &'static SignatureAlgorithm {
        match self {
            Self::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            Self::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            Self::Ed25519 => &rcgen::PKCS_ED25519,
        }
    }

    fn from_signature_algorithm(algorithm: &'static SignatureAlgorithm) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|candidate| candidate.signature_algorithm() == algorithm)
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyAlgorithm {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|candidate| candidate.name() == value)
            .ok_or_else(|| {
                let allowed: Vec<&str> = Self::ALL.iter().map(|a| a.name()).collect();
                format!(
                    "unknown key algorithm `{value}`; expected one of: {}",
                    allowed.join(", ")
                )
            })
    }
}

/// A private key that can sign certificates. The PKCS#8 bytes are wiped on drop.
pub struct PrivateKey {
    key: Zeroizing<KeyPair>,
    algorithm: KeyAlgorithm,
}

impl PrivateKey {
    /// Generates a new key with the system random number generator.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, Error> {
        let key = KeyPair::generate_for(algorithm.signature_algorithm())?;
        Ok(Self {
            key: Zeroizing::new(key),
            algorithm,
        })
    }

    /// Loads a PKCS#8 private key from DER. `what` names the source in errors.
    pub fn from_pkcs8_der(der: &[u8], what: &str) -> Result<Self, Error> {
        let key = KeyPair::try_from(der).map_err(|_| Error::InvalidKey {
            what: what.to_owned(),
            reason: "not an unencrypted PKCS#8 ECDSA P-256, ECDSA P-384 or Ed25519 key".to_owned(),
        })?;
        let algorithm =
            KeyAlgorithm::from_signature_algorithm(key.algorithm()).ok_or_else(|| {
                Error::InvalidKey {
                    what: what.to_owned(),
                    reason: "unsupported key algorithm".to_owned(),
                }
            })?;
        Ok(Self {
            key: Zeroizing::new(key),
            algorithm,
        })
    }

    /// Loads a PKCS#8 private key from a `PRIVATE KEY` PEM block.
    pub fn from_pkcs8_pem(pem_text: &str, what: &str) -> Result<Self, Error> {
        let block = Zeroizing::new(crate::pemfile::parse_single(
            pem_text.as_bytes(),
            "PRIVATE KEY",
            what,
        )?);
        Self::from_pkcs8_der(&block, what)
    }

    /// Returns the algorithm of this key.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// Returns the DER SubjectPublicKeyInfo of this key.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.key.subject_public_key_info()
    }

    /// Returns the SHA-256 fingerprint of the SubjectPublicKeyInfo.
    pub fn public_key_fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.public_key_der())
    }

    /// Returns the PKCS#8 DER encoding. The caller must keep it in a wiping buffer.
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.key.serialize_der())
    }

    /// Returns the PKCS#8 `PRIVATE KEY` PEM encoding in a wiping buffer.
    pub fn to_pkcs8_pem(&self) -> Zeroizing<String> {
        Zeroizing::new(self.key.serialize_pem())
    }

    /// Returns the key as rcgen's signer.
    pub fn signer(&self) -> &KeyPair {
        &self.key
    }
}

impl PublicKeyData for PrivateKey {
    fn der_bytes(&self) -> &[u8] {
        self.key.der_bytes()
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.key.algorithm()
    }
}

impl rcgen::SigningKey for PrivateKey {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.key.sign(message)
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({}, [redacted])", self.algorithm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_round_trips_through_pkcs8_pem() {
        for algorithm in KeyAlgorithm::ALL {
            let key = PrivateKey::generate(algorithm).unwrap();
            let loaded = PrivateKey::from_pkcs8_pem(&key.to_pkcs8_pem(), "test key").unwrap();
            assert_eq!(loaded.algorithm(), algorithm);
            assert_eq!(loaded.public_key_der(), key.public_key_der());
        }
    }

    #[test]
    fn key_debug_hides_material() {
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        assert_eq!(format!("{key:?}"), "PrivateKey(ecdsa-p256, [redacted])");
    }

    #[test]
    fn key_algorithm_parse_lists_choices() {
        let error = "rsa-1024".parse::<KeyAlgorithm>().unwrap_err();
        assert!(error.contains("ecdsa-p256, ecdsa-p384, ed25519"), "{error}");
    }
}
